/* qconv.c - the int8 convolution driver: conv.c's work split (plan.c: row blocks x panel
 * ranges, one task each), but each micro-kernel call covers a tile's whole reduction (every tap, every
 * channel): a u8 output cannot be accumulated into across calls. A is read through row
 * pointers, tap-major per tile: a pixel of the input, or a row of zeros (the activation zero
 * point) where the window hangs over the padding. A convolution on too few channels for that
 * (the stem's 3) gathers its patches into a block of rows first (im2col), as conv.c does. */
#include "ops/qconv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ops/exec.h"
#include "ops/plan.h"
#include "ops/qwinograd.h"

enum { QMB = 120, QMAX_TAPS = 9, QMAX_CIN = 2048, QMAX_PATCH = 256 }; /* QMB: a multiple of every MR (4, 6, 12) */

static const uint8_t zero_row[QMAX_CIN];

int rn_qconv_init(rn_conv *c, const rn_qkernel_config *qk, int cin, int cout, int kh, int kw, int stride, int pad,
                  int in_zero, const int8_t *w_q, const float *scale, const float *bias, const float *bias_f32,
                  const rn_qgemm_params *p, int out_f32, int in7) {
    return rn_qconv_init_ex(c, qk, cin, cout, kh, kw, stride, pad, 1, 1, in_zero, w_q, scale, bias, bias_f32, p,
                            out_f32, in7);
}

/* The first input channel panel p reads (grouped convolutions; 0 otherwise), as conv.c's. */
static int panel_channel(const rn_conv *c, int p, int nr) {
    if (c->groups <= 1) return 0;
    return p * nr / (c->cout / c->groups) * (c->cin / c->groups);
}

int rn_qconv_init_ex(rn_conv *c, const rn_qkernel_config *qk, int cin, int cout, int kh, int kw, int stride, int pad,
                     int dilation, int groups, int in_zero, const int8_t *w_q, const float *scale, const float *bias,
                     const float *bias_f32, const rn_qgemm_params *p, int out_f32, int in7) {
    memset(c, 0, sizeof *c);
    if (groups < 1 || cin % groups || cout % groups) return -1;
    const int cin_g = cin / groups, cout_g = cout / groups, nr = qk->nr;
    if (groups > 1 && cout_g % nr != 0 && nr % cout_g != 0) return -2;
    c->cin = cin; c->cout = cout; c->kh = kh; c->kw = kw; c->stride = stride; c->pad = pad;
    c->dilation = dilation;
    c->groups = groups;
    /* A grouped convolution's panel reads its own groups' channels of each pixel, with zeros
     * where a column's group does not reach: the fp32 driver's block-diagonal panels (conv.h). */
    c->span = groups == 1 ? cin : cout_g >= nr ? cin_g : nr / cout_g * cin_g;
    c->k = kh * kw * cin;
    c->n_padded = cout; /* the caller keeps cout a multiple of NR: no padded columns in memory */
    c->im2col = cin % 4 != 0;
    const int kp = (c->k + 3) / 4 * 4; /* an im2col patch, padded to whole groups of 4 */
    if (cout % qk->nr || cin > QMAX_CIN || (c->im2col ? kp > QMAX_PATCH : kh * kw > QMAX_TAPS || in_zero != 0))
        return -2;
    if ((groups > 1 || dilation > 1) && (c->im2col || c->span % 4 != 0)) return -2;
    rn_qconv *q = calloc(1, sizeof *q);
    c->q = q;
    c->bias = rn_aligned_alloc((size_t)cout * sizeof(float));
    if (!q || !c->bias) { rn_conv_free(c); return -1; }
    memcpy(c->bias, bias_f32, (size_t)cout * sizeof(float));
    q->qk = qk;
    q->gemm = in7 && qk->gemm7 ? qk->gemm7 : qk->gemm;
    q->p = *p;
    q->out_f32 = out_f32;
    q->a_zero = in_zero;
    q->kp = kp;
    if (groups == 1 && dilation == 1 &&
        rn_qwino_applies(qk, cin, cout, kh, stride, pad, in_zero, out_f32, p)) { /* 2.25x fewer multiplies */
        c->winograd = 2;
        int r = rn_qwino_init(q, cin, cout, w_q, scale, bias);
        if (r != 0) rn_conv_free(c);
        return r;
    }
    /* an im2col patch is one tap of kp depth (w_q's [tap][cin] is the patch's order), zeros past k */
    const int ks = c->im2col ? 1 : kh * kw, kcl = c->im2col ? kp : c->span;
    int8_t *wpad = NULL;
    if (c->im2col) {
        if (!(wpad = calloc((size_t)cout * kp, 1))) { rn_conv_free(c); return -1; }
        for (int o = 0; o < cout; o++) memcpy(wpad + (size_t)o * kp, w_q + (size_t)o * c->k, (size_t)c->k);
    } else if (groups > 1) { /* [cout][tap][cin_g] -> [cout][tap][span], block-diagonal */
        const size_t taps = (size_t)kh * kw;
        if (!(wpad = calloc((size_t)cout * taps * c->span, 1))) { rn_conv_free(c); return -1; }
        for (int o = 0; o < cout; o++) {
            const int first = panel_channel(c, o / nr, nr), g = o / cout_g;
            for (size_t t = 0; t < taps; t++)
                memcpy(wpad + ((size_t)o * taps + t) * c->span + (g * cin_g - first),
                       w_q + ((size_t)o * taps + t) * cin_g, (size_t)cin_g);
        }
    }
    q->panel_bytes = rn_qpack_panel_bytes(qk, ks, kcl);
    int r = (q->w = rn_aligned_alloc(rn_qpack_bytes(qk, cout, ks, kcl))) ? 0 : -1;
    if (r == 0 && rn_qpack(qk, q->w, wpad ? wpad : w_q, cout, ks, kcl, scale, bias, in_zero) != 0) r = -2;
    free(wpad);
    if (r != 0) rn_conv_free(c);
    return r;
}

typedef struct qconv_job {
    const rn_exec *ex;
    const rn_conv *c;
    const uint8_t *in;
    int h, w, oh, ow;
    rn_plan plan;
    unsigned char *out;
    size_t out_size; /* bytes per output element */
    const uint8_t *res;
} qconv_job;

/* A window row of ResNet's 7x7 RGB stem (7 taps x 3 channels): copied with a constant length,
 * which the compiler turns into a few moves instead of a call per row (the stem's gather was
 * a third of its time). */
enum { STEM_RUN = 7 * 3 };

/* The patches of output rows m0..m0+mb, row r at dst + r * kp: the window's taps in (ky, kx,
 * ci) order, the activation zero point where it hangs over the padding and past k. The output
 * pixel of row m0 is found once, then stepped: no division per row. */
static void gather_patches(const qconv_job *j, int m0, int mb, uint8_t *dst) {
    const rn_conv *c = j->c;
    const int per_image = j->oh * j->ow, kp = c->q->kp, z = c->q->a_zero, run = c->kw * c->cin;
    const size_t row_bytes = (size_t)j->w * c->cin;
    int b = m0 / per_image, oy = m0 % per_image / j->ow, ox = m0 % j->ow;
    for (int r = 0; r < mb; r++, dst += kp) {
        const int iy0 = oy * c->stride - c->pad, ix0 = ox * c->stride - c->pad;
        const uint8_t *img = j->in + (size_t)b * j->h * row_bytes;
        const int inside = ix0 >= 0 && ix0 + c->kw <= j->w;
        uint8_t *d = dst;
        for (int ky = 0; ky < c->kh; ky++, d += run) {
            const int iy = iy0 + ky;
            if (iy < 0 || iy >= j->h) memset(d, z, (size_t)run);
            else if (inside) { /* a window row inside the image: one run in NHWC */
                const uint8_t *src = img + (size_t)iy * row_bytes + (size_t)ix0 * c->cin;
                if (run == STEM_RUN) memcpy(d, src, STEM_RUN); /* inlined: most of the stem's rows */
                else memcpy(d, src, (size_t)run);
            } else
                for (int kx = 0; kx < c->kw; kx++) {
                    const int ix = ix0 + kx;
                    if (ix < 0 || ix >= j->w) memset(d + kx * c->cin, z, (size_t)c->cin);
                    else memcpy(d + kx * c->cin, img + (size_t)iy * row_bytes + (size_t)ix * c->cin, (size_t)c->cin);
                }
        }
        memset(d, z, (size_t)(kp - c->k));
        if (++ox == j->ow) {
            ox = 0;
            if (++oy == j->oh) oy = 0, b++;
        }
    }
}

/* What the kernels' store writes: floats for fp32 layers after, raw sums for the fc (its scale
 * comes per row: rn_qdense_forward), u8 otherwise. */
static int store_flags(const rn_qconv *q) {
    return q->out_f32 ? RN_QUK_OUT_F32 : q->dense_scale ? RN_QUK_OUT_S32 : 0;
}

static void qconv_task(void *ctx, int task, int thread) {
    const qconv_job *j = ctx;
    const rn_conv *c = j->c;
    const rn_qconv *q = c->q;
    const int mr = q->qk->mr, nr = q->qk->nr, ld = c->n_padded;
    const int taps = c->im2col ? 1 : c->kh * c->kw, kc = c->im2col ? q->kp : c->span;
    const int dil = c->dilation > 1 ? c->dilation : 1;
    int m0, mb, p0, p1;
    rn_plan_task(&j->plan, task, &m0, &mb, &p0, &p1);
    const int tiles = (mb + mr - 1) / mr;
    const uint8_t *rows[QMB * QMAX_TAPS]; /* tile s: rows[s * taps * mr + t * mr + i] */
    if (c->im2col) { /* the worker's scratch (rn_conv_scratch_floats) holds QMB x QMAX_PATCH bytes */
        uint8_t *patches = (uint8_t *)j->ex->scratch[thread];
        gather_patches(j, m0, mb, patches);
        for (int r = 0; r < tiles * mr; r++) rows[r] = patches + (size_t)(r < mb ? r : mb - 1) * kc;
    } else if (taps == 1 && c->stride == 1 && c->pad == 0) { /* a 1x1 on every pixel: row m is pixel m */
        for (int r = 0; r < tiles * mr; r++) rows[r] = j->in + (size_t)(m0 + (r < mb ? r : mb - 1)) * c->cin;
    } else {
        /* the output pixel (b, oy, ox) of row m0 once, then stepped: no division per row or tap */
        const int per_image = j->oh * j->ow;
        int b = m0 / per_image, oy = m0 % per_image / j->ow, ox = m0 % j->ow;
        for (int r = 0; r < mb; r++) {
            const uint8_t **row = rows + (size_t)(r / mr) * taps * mr + r % mr;
            const int iy0 = oy * c->stride - c->pad, ix0 = ox * c->stride - c->pad;
            const uint8_t *img = j->in + (size_t)b * j->h * j->w * c->cin;
            for (int ky = 0, t = 0; ky < c->kh; ky++)
                for (int kx = 0; kx < c->kw; kx++, t++) {
                    int iy = iy0 + ky * dil, ix = ix0 + kx * dil;
                    row[t * mr] = iy < 0 || iy >= j->h || ix < 0 || ix >= j->w
                                      ? zero_row
                                      : img + ((size_t)iy * j->w + ix) * c->cin;
                }
            if (++ox == j->ow) {
                ox = 0;
                if (++oy == j->oh) oy = 0, b++;
            }
        }
        for (int r = mb; r < tiles * mr; r++) /* rows past mb repeat the last real one, never stored */
            for (int t = 0; t < taps; t++)
                rows[((size_t)(r / mr) * taps + t) * mr + r % mr] = rows[((size_t)((mb - 1) / mr) * taps + t) * mr + (mb - 1) % mr];
    }
    const uint8_t *shifted[QMB * QMAX_TAPS];
    const size_t nrows = (size_t)tiles * taps * mr;
    for (int p = p0; p < p1; p++) {
        const unsigned char *wp = (const unsigned char *)q->w + (size_t)p * q->panel_bytes;
        const uint8_t *const *a = rows;
        if (c->groups > 1) { /* the panel's own groups' channels of the same pixels */
            const int off = panel_channel(c, p, nr);
            for (size_t r = 0; r < nrows; r++) shifted[r] = rows[r] == zero_row ? zero_row : rows[r] + off;
            a = shifted;
        }
        for (int s = 0; s < tiles; s++) { /* the first row tile also fetches the next panel's weights */
            size_t at = (size_t)(m0 + s * mr) * ld + (size_t)p * nr;
            q->gemm(mb - s * mr < mr ? mb - s * mr : mr, taps, kc, a + (size_t)s * taps * mr, wp,
                    j->out + at * j->out_size, ld, j->res ? j->res + at : NULL, ld, &q->p,
                    store_flags(q) | (s == 0 ? RN_QUK_PREFETCH_NEXT : 0));
        }
    }
}

void rn_qconv_forward(const rn_exec *ex, const rn_conv *c, const uint8_t *in, int n, int h, int w, void *out,
                      const uint8_t *res) {
    const rn_qconv *q = c->q;
    if (c->winograd) { /* never with a residual (rn_qwino_applies) */
        rn_qwino_forward(ex, c, in, n, h, w, out);
        return;
    }
    qconv_job j = {.ex = ex, .c = c, .in = in, .h = h, .w = w, .out = out, .out_size = store_flags(q) ? 4 : 1,
                   .res = res};
    rn_conv_out_size(c, h, w, &j.oh, &j.ow);
    j.plan = rn_plan_make(n * j.oh * j.ow, QMB, q->qk->mr, c->n_padded / q->qk->nr, rn_pool_threads(ex->pool), 0);
    rn_pool_run(ex->pool, j.plan.tasks, qconv_task, &j);
}

/* ---- the fc: float rows quantized as they come (qconv.h) -------------------------------- */

int rn_qdense_init(rn_conv *c, const rn_qkernel_config *qk, int cin, int cout, const int8_t *w_q,
                   const float *w_scale, const float *bias) {
    const int np = (cout + qk->nr - 1) / qk->nr * qk->nr;
    int8_t *wp = calloc((size_t)np * cin, 1);
    float *ones = malloc((size_t)np * sizeof(float)), *b = calloc((size_t)np, sizeof(float));
    int r = -1;
    if (wp && ones && b) {
        memcpy(wp, w_q, (size_t)cout * cin);
        memcpy(b, bias, (size_t)cout * sizeof(float));
        for (int j = 0; j < np; j++) ones[j] = 1.0f; /* packed, unused: the sums come out raw */
        const rn_qgemm_params p = {0.0f, 0.0f, 255.0f};
        rn_qkernel_config wide = *qk; /* 8-bit weights on 7-bit rows: exact on every path (qconv.h) */
        wide.wmin = -128;
        wide.wmax = 127;
        wide.gemm7 = NULL; /* its s16 sums of two pairs hold 7-bit weights only */
        r = rn_qconv_init(c, &wide, cin, np, 1, 1, 1, 0, 0, wp, ones, NULL, b, &p, 0, 0);
        if (r == 0) c->q->qk = qk; /* not the copy on this stack */
    }
    if (r == 0 && !(c->q->dense_scale = rn_aligned_alloc((size_t)np * sizeof(float)))) {
        rn_conv_free(c);
        r = -1;
    }
    if (r == 0) {
        memset(c->q->dense_scale, 0, (size_t)np * sizeof(float));
        memcpy(c->q->dense_scale, w_scale, (size_t)cout * sizeof(float));
        c->cout = cout;
        c->n_padded = np;
    }
    free(wp);
    free(ones);
    free(b);
    return r;
}

size_t rn_qdense_scratch_bytes(int cin, int rows) { return (size_t)rows * ((size_t)cin + sizeof(float)); }

void rn_qdense_forward(const rn_exec *ex, const rn_conv *c, const float *in, int rows, float *out, void *qrows) {
    const rn_qconv *q = c->q;
    const int cin = c->cin, ld = c->n_padded;
    uint8_t *a = qrows;
    float *row_scale = (float *)(void *)(a + (size_t)rows * cin); /* cin is a multiple of 4 */
    for (int r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * cin;
        float most = 0.0f;
        for (int k = 0; k < cin; k++) most = x[k] > most ? x[k] : most;
        const float inv = most > 0.0f ? 127.0f / most : 0.0f; /* 7 bits (qconv.h) */
        row_scale[r] = most / 127.0f;
        for (int k = 0; k < cin; k++) a[(size_t)r * cin + k] = rn_quantize_u8(x[k] * inv);
    }
    rn_qconv_forward(ex, c, a, rows, 1, 1, out, NULL); /* the rows as images of one pixel: raw sums */
    for (int r = 0; r < rows; r++) /* in place: each int32 read once, then its float written there */
        for (int o = 0; o < ld; o++) {
            float *v = out + (size_t)r * ld + o;
            int32_t acc;
            memcpy(&acc, v, sizeof acc);
            *v = fmaf((float)acc, row_scale[r] * q->dense_scale[o], c->bias[o]);
        }
}

void rn_qconv_free(rn_qconv *q) {
    if (!q) return;
    rn_aligned_free(q->w);
    rn_aligned_free(q->wino_u);
    rn_aligned_free(q->wino_scale);
    rn_aligned_free(q->wino_bias);
    rn_aligned_free(q->dense_scale);
    free(q);
}
