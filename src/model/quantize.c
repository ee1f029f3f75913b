/* quantize.c - calibration statistics and the int8 weight file.
 *
 * Activations: one scale per tensor (u8), from a histogram of the values the fp32 network
 * produced on the calibration photos. The histogram has BINS bins of |x| on [0, R), R a power
 * of two that doubles (adjacent bins merged pairwise, exactly) when a larger value arrives, so
 * the result does not depend on the order of the photos; zeros (half of a ReLU output) are
 * counted apart, since u8 represents them exactly. Weights: symmetric, one scale per output
 * channel, 7 bits ([-63, 63]) so the AVX2 path (vpmaddubsw, which saturates pairs of 8-bit
 * products) computes the file exactly and every path gives the same answers (docs/int8.md). */
#include "model/quantize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "io/safetensors.h"
#include "io/sha256.h"
#include "model/resnet50.h"
#include "ops/qweights.h"

enum { BINS = 4096 };
#define PERCENTILE 0.9999

typedef struct hist {
    double range;            /* R: bins cover |x| in [0, R); 0 until the first value */
    float lo, hi;            /* the extremes seen */
    uint64_t zeros, count;
    uint64_t pos[BINS], neg[BINS];
} hist;

/* The statistics gathered, by layer index of the model's list (arch.h): each block
 * convolution's input but a shortcut's (it reads its block's input, as the block's first
 * convolution does), and a shortcut's output (signed: before the add). */
struct rn_calib {
    const resnet_model *m;
    hist *h; /* net.n, allocated */
};

const char *rn_calib_method_name(rn_calib_method m) {
    return m == RN_CALIB_MINMAX ? "minmax" : m == RN_CALIB_PERCENTILE ? "percentile" : "mse";
}

int rn_calib_method_parse(const char *s) {
    if (!s) return -1;
    if (strcmp(s, "minmax") == 0) return RN_CALIB_MINMAX;
    if (strcmp(s, "percentile") == 0) return RN_CALIB_PERCENTILE;
    if (strcmp(s, "mse") == 0) return RN_CALIB_MSE;
    return -1;
}

resnet_status rn_calib_create(const resnet_model *m, rn_calib **out, resnet_error *err) {
    *out = NULL;
    if (m->int8) return rn_fail(err, RESNET_E_ARG, "calibration needs fp32 weights, not an int8 file");
    rn_calib *c = calloc(1, sizeof *c);
    if (c) c->h = calloc((size_t)m->net.n, sizeof *c->h);
    if (!c || !c->h) {
        free(c);
        return rn_fail(err, RESNET_E_NOMEM, "out of memory for the calibration statistics");
    }
    c->m = m;
    *out = c;
    return RESNET_OK;
}

void rn_calib_free(rn_calib *c) {
    if (c) free(c->h);
    free(c);
}

static void hist_add(hist *h, const float *x, size_t count, size_t stride, size_t width) {
    float lo = x[0], hi = x[0];
    for (size_t r = 0; r < count; r++)
        for (size_t i = 0; i < width; i++) {
            float v = x[r * stride + i];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    if (h->count == 0) h->lo = lo, h->hi = hi;
    h->lo = lo < h->lo ? lo : h->lo;
    h->hi = hi > h->hi ? hi : h->hi;
    double most = fmax(-(double)lo, (double)hi);
    if (h->range == 0) {
        h->range = 1.0 / 1024;
        while (h->range <= most) h->range *= 2;
    }
    while (h->range <= most) { /* double R: bin i of the new R holds bins 2i, 2i+1 of the old */
        for (int i = 0; i < BINS / 2; i++) {
            h->pos[i] = h->pos[2 * i] + h->pos[2 * i + 1];
            h->neg[i] = h->neg[2 * i] + h->neg[2 * i + 1];
        }
        memset(h->pos + BINS / 2, 0, BINS / 2 * sizeof *h->pos);
        memset(h->neg + BINS / 2, 0, BINS / 2 * sizeof *h->neg);
        h->range *= 2;
    }
    const float per = (float)(BINS / h->range);
    for (size_t r = 0; r < count; r++)
        for (size_t i = 0; i < width; i++) {
            float v = x[r * stride + i];
            if (v == 0.0f) {
                h->zeros++;
                continue;
            }
            int b = (int)(fabsf(v) * per);
            b = b < BINS ? b : BINS - 1;
            if (v > 0) h->pos[b]++;
            else h->neg[b]++;
        }
    h->count += count * width;
}

static void observe(void *ctx, int layer, const rn_conv *cv, const float *in, int n, int h, int w, const float *out,
                    int oh, int ow) {
    rn_calib *c = ctx;
    const rn_layer *l = &c->m->net.layers[layer];
    const size_t pin = (size_t)n * h * w, pout = (size_t)n * oh * ow;
    if (l->kind != RN_L_CONV || l->role == RN_ROLE_STEM) return;
    if (l->role == RN_ROLE_DOWN) hist_add(&c->h[layer], out, pout, (size_t)cv->n_padded, (size_t)cv->cout);
    else hist_add(&c->h[layer], in, pin, (size_t)cv->cin, (size_t)cv->cin);
}

void rn_calib_attach(rn_calib *c, resnet_session *s) { rn_session_set_observer(s, observe, c); }

/* ---- choosing a tensor's range -------------------------------------------------------
 * A range [-a*R/BINS, b*R/BINS] (a, b whole bins) quantized to u8: 255 steps of
 * (lo - hi)/255. Expected squared error: step^2/12 for each value inside, (x - edge)^2 for
 * each value clipped, with x at its bin's centre. Prefix sums make each range O(1). */
typedef struct side_sums {
    double n[BINS + 1], s1[BINS + 1], s2[BINS + 1]; /* counts, sum x, sum x^2 of bins >= i */
} side_sums;

static void sums_of(const uint64_t *bins, double width, side_sums *s) {
    s->n[BINS] = s->s1[BINS] = s->s2[BINS] = 0;
    for (int i = BINS - 1; i >= 0; i--) {
        double x = (i + 0.5) * width, c = (double)bins[i];
        s->n[i] = s->n[i + 1] + c;
        s->s1[i] = s->s1[i + 1] + c * x;
        s->s2[i] = s->s2[i + 1] + c * x * x;
    }
}

/* squared error of clipping at edge t = i * width: sum over bins >= i of c (x - t)^2 */
static double clip_error(const side_sums *s, int i, double t) {
    return s->s2[i] - 2 * t * s->s1[i] + t * t * s->n[i];
}

static int last_bin(const uint64_t *bins) {
    int i = BINS - 1;
    while (i >= 0 && bins[i] == 0) i--;
    return i + 1; /* edge index just past the last value: nothing clipped */
}

/* The edge index below which a share q of all values lie on this side (0 if the side is empty). */
static int quantile_edge(const uint64_t *bins, uint64_t total, double q) {
    uint64_t side = 0;
    for (int i = 0; i < BINS; i++) side += bins[i];
    if (side == 0) return 0;
    double tail = (1.0 - q) * (double)total, above = 0;
    int i = BINS;
    while (i > 1 && above + (double)bins[i - 1] <= tail) above += (double)bins[--i];
    return i;
}

/* The chosen range: scale and zero point (lo <= 0 <= hi). sums: room for two sides (MSE). */
static void choose_range(const hist *h, rn_calib_method method, side_sums *sums, float *scale, float *zero_point) {
    double width = h->range > 0 ? h->range / BINS : 1.0;
    double lo = fmin(0.0, h->lo), hi = fmax(0.0, h->hi);
    if (method == RN_CALIB_PERCENTILE && h->count) {
        lo = -fmin(-lo, quantile_edge(h->neg, h->count, PERCENTILE) * width);
        hi = fmin(hi, quantile_edge(h->pos, h->count, PERCENTILE) * width);
    } else if (method == RN_CALIB_MSE && h->count) {
        side_sums *sp = &sums[0], *sn = &sums[1];
        sums_of(h->pos, width, sp);
        sums_of(h->neg, width, sn);
        const int pmax = last_bin(h->pos), nmax = last_bin(h->neg);
        double best = INFINITY;
        int best_a = nmax, best_b = pmax;
        for (int a = nmax > 0 ? 1 : 0; a <= nmax; a++)
            for (int b = pmax > 0 ? 1 : 0; b <= pmax; b++) {
                double tn = a * width, tp = b * width, step = (tn + tp) / 255;
                double inside = (double)h->count - sn->n[a] - sp->n[b];
                double e = inside * step * step / 12 + clip_error(sp, b, tp) + clip_error(sn, a, tn);
                if (e < best) best = e, best_a = a, best_b = b;
            }
        lo = -fmin(-lo, best_a * width);
        hi = fmin(hi, best_b * width);
    }
    double s = (hi - lo) / 255;
    if (!(s > 1e-12)) s = 1e-12; /* a tensor that was all zeros: any positive scale */
    double z = nearbyint(-lo / s);
    *scale = (float)s;
    *zero_point = (float)(z < 0 ? 0 : z > 255 ? 255 : z);
}

/* ---- the file ------------------------------------------------------------------------ */

typedef struct writer {
    rn_st_entry *e;
    const int8_t **i8;
    void **owned;
    size_t n, cap, n_owned, cap_owned;
    int failed;
} writer;

static void *own(writer *w, void *p) {
    if (!p) { w->failed = 1; return NULL; }
    if (w->n_owned == w->cap_owned) {
        size_t cap = w->cap_owned ? 2 * w->cap_owned : 64;
        void **o = realloc(w->owned, cap * sizeof *o);
        if (!o) { free(p); w->failed = 1; return NULL; }
        w->owned = o;
        w->cap_owned = cap;
    }
    return w->owned[w->n_owned++] = p;
}

static char *own_name(writer *w, const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = own(w, malloc(n));
    if (s) snprintf(s, n, "%s.%s", a, b);
    return s;
}

static void add(writer *w, const char *name, int ndim, const int64_t *shape, const float *f, const int8_t *q) {
    if (w->failed || !name || (!f && !q)) { w->failed = 1; return; }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 256;
        rn_st_entry *e = realloc(w->e, cap * sizeof *e);
        const int8_t **i8 = e ? realloc(w->i8, cap * sizeof *i8) : NULL;
        if (e) w->e = e;
        if (!i8) { w->failed = 1; return; }
        w->i8 = i8;
        w->cap = cap;
    }
    rn_st_entry *x = &w->e[w->n];
    memset(x, 0, sizeof *x);
    x->name = name;
    x->ndim = ndim;
    for (int d = 0; d < ndim; d++) x->shape[d] = shape[d];
    x->data = f;
    w->i8[w->n++] = q;
}

static void add_scalar(writer *w, const char *conv, const char *part, float v) {
    float *p = own(w, malloc(sizeof(float)));
    const int64_t one[1] = {1};
    if (p) *p = v;
    add(w, own_name(w, conv, part), 1, one, p, NULL);
}

/* An fp32 tensor copied as F32 (absent and optional: nothing). */
static resnet_status copy_f32(writer *w, const rn_safetensors *st, const char *path, const char *name,
                              int optional, resnet_error *err) {
    const rn_tensor *t = rn_st_find(st, name);
    if (!t) return optional ? RESNET_OK : rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s' is missing", path, name);
    size_t count = 1;
    for (int d = 0; d < t->ndim; d++) count *= (size_t)t->shape[d];
    float *buf = own(w, malloc(count ? count * sizeof(float) : 1));
    if (!buf) return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", path);
    resnet_status s = rn_st_read_f32(st, t, buf, err);
    if (s != RESNET_OK) return s;
    add(w, name, t->ndim, t->shape, buf, NULL); /* names here are string literals */
    return RESNET_OK;
}

static resnet_status add_qconv(writer *w, const rn_safetensors *st, const char *path, double eps, const char *cname,
                               const char *bname, int cin, int cout, int k, resnet_error *err) {
    float *wf, *bias;
    resnet_status s = rn_weights_fold(st, path, eps, cname, bname, cin, cout, k, &wf, &bias, err);
    if (s != RESNET_OK) return s;
    const size_t per = (size_t)cin * k * k;
    int8_t *q = own(w, malloc((size_t)cout * per));
    float *scale = own(w, malloc((size_t)cout * sizeof(float)));
    if (q && scale) rn_quantize_weights(wf, cout, per, RN_QW7, q, scale);
    rn_aligned_free(wf);
    own(w, bias);
    const int64_t wshape[4] = {cout, cin, k, k}, vshape[1] = {cout};
    char *cn = own(w, strdup(cname));
    add(w, own_name(w, cn ? cn : "", "weight"), 4, wshape, NULL, q);
    add(w, own_name(w, cn ? cn : "", "weight_scale"), 1, vshape, scale, NULL);
    add(w, own_name(w, cn ? cn : "", "bias"), 1, vshape, bias, NULL);
    return w->failed ? rn_fail(err, RESNET_E_NOMEM, "%s: out of memory quantizing '%s'", path, cname) : RESNET_OK;
}

resnet_status rn_quantize_write(const rn_calib *c, const char *fp32_path, const char *out_path,
                                rn_calib_method method, int photos, resnet_error *err) {
    const resnet_model *m = c->m;
    char sha[65];
    resnet_status s = rn_sha256_file(fp32_path, sha, err);
    if (s != RESNET_OK) return s;
    rn_safetensors *st;
    if ((s = rn_st_open(fp32_path, &st, err)) != RESNET_OK) return s;
    writer w = {0};
    side_sums *sums = own(&w, malloc(2 * sizeof *sums));
    if (!sums) s = rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", out_path);
    static const char *const stem[] = {"conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                                       "bn1.running_var"};
    for (size_t i = 0; s == RESNET_OK && i < sizeof stem / sizeof *stem; i++)
        s = copy_f32(&w, st, fp32_path, stem[i], 0, err);
    if (s == RESNET_OK) s = copy_f32(&w, st, fp32_path, "conv1.bias", 1, err);
    const rn_net *net = &m->net;
    for (int i = 0; s == RESNET_OK && i < net->n; i++) {
        const rn_layer *l = &net->layers[i];
        if (l->kind != RN_L_CONV || l->role == RN_ROLE_STEM) continue;
        float sc, zp;
        if ((s = add_qconv(&w, st, fp32_path, m->bn_eps, l->conv, l->bn, l->cin / l->groups, l->cout, l->k, err))) break;
        choose_range(&c->h[i], method, sums, &sc, &zp);
        char *cn = own(&w, strdup(l->conv));
        if (l->role == RN_ROLE_DOWN) {
            add_scalar(&w, cn, "output_scale", sc);
            add_scalar(&w, cn, "output_zero_point", zp);
        } else {
            add_scalar(&w, cn, "input_scale", sc);
        }
    }
    if (s == RESNET_OK && rn_model_fc(m)) { /* a backbone has none */
        s = copy_f32(&w, st, fp32_path, "fc.weight", 0, err);
        if (s == RESNET_OK) s = copy_f32(&w, st, fp32_path, "fc.bias", 0, err);
    }
    if (s == RESNET_OK && w.failed) s = rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", out_path);

    /* metadata: the source's (variant, normalization, bn_eps, ...), then what this file is,
     * with the input size and output stride it was calibrated at: a network loaded from it
     * runs as calibrated (a dilated network's activation ranges are not the plain one's) */
    enum { OURS = 8 };
    char nphotos[32], size[16], stride[16];
    snprintf(nphotos, sizeof nphotos, "%d", photos);
    snprintf(size, sizeof size, "%d", m->net.a.input_size);
    snprintf(stride, sizeof stride, "%d", m->net.a.output_stride);
    const char *our_keys[OURS] = {"precision",   "calibration", "calibration_photos", "source_sha256", "weight_bits",
                                  "activations", "input_size",  "output_stride"};
    const char *our_vals[OURS] = {"int8", rn_calib_method_name(method), nphotos, sha, "7",
                                  "u8 per tensor; zero point 0 after ReLU, asymmetric for the downsample outputs",
                                  size, stride};
    const char **keys, **vals;
    size_t nm;
    if (!rn_st_metadata_merge(st, our_keys, our_vals, OURS, &keys, &vals, &nm) && s == RESNET_OK)
        s = rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", out_path);
    if (s == RESNET_OK) s = rn_st_write_i8(out_path, w.e, w.i8, w.n, keys, vals, nm, err);
    free(keys);
    free(vals);
    rn_st_close(st);
    for (size_t i = 0; i < w.n_owned; i++) free(w.owned[i]);
    free(w.owned);
    free(w.e);
    free(w.i8);
    return s;
}
