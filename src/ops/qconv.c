/* qconv.c - the int8 convolution driver: conv.c's work split (plan.c: row blocks x panel
 * ranges, one task each), but each micro-kernel call covers a tile's whole reduction (every tap, every
 * channel): a u8 output cannot be accumulated into across calls. A is read through row
 * pointers, tap-major per tile: a pixel of the input, or a row of zeros (the activation zero
 * point) where the window hangs over the padding. A convolution on too few channels for that
 * (the stem's 3) takes a window row as a tap instead: the kw pixels under it are contiguous in
 * NHWC, so a 7x7 on RGB is 7 taps of 21 bytes (read 24 deep, zero weights past 21). Only the
 * rows whose 24 bytes would not lie inside the image's row (at its left and right edges) are
 * copied. On a Zen 5 at 1 thread the stem took 0.47 ms so against 0.52 gathering its 147-byte
 * patches first (im2col): the 14% more depth (168) costs less than the copies did. */
#include "ops/qconv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ops/exec.h"
#include "ops/plan.h"
#include "ops/qwinograd.h"

/* QMB: the most rows of a block, a multiple of every MR but AMX's (4, 6, 12; AMX's 32-row
 * tiles make blocks of 96). QMAX_TAPS: a tile's taps (kh*kw, or a window convolution's kh:
 * 16 takes every square window that im2col's 256-byte patches took).
 * QMAX_PATCH: a window convolution's kh x kp bytes a row, QMB rows of which fit a worker's
 * scratch (rn_conv_scratch_floats: 368 KB) */
enum { QMB = 120, QMAX_TAPS = 16, QMAX_CIN = 2048, QMAX_PATCH = 512 };

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
    const int window = cin % 4 != 0, kp = (kw * cin + 3) / 4 * 4;
    if (cout % qk->nr || cin > QMAX_CIN || (window ? kh > QMAX_TAPS || kh * kp > QMAX_PATCH
                                                   : kh * kw > QMAX_TAPS || in_zero != 0))
        return -2;
    if ((groups > 1 || dilation > 1) && (window || c->span % 4 != 0)) return -2;
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
    q->window = window;
    q->kp = kp;
    const int tile = groups == 1 && dilation == 1 ? rn_qwino_applies(qk, cin, cout, kh, stride, pad, in_zero, out_f32, p) : 0;
    if (tile) { /* 2.25x (F(2x2)) or 3.24x (F(3x3)) fewer multiplies */
        c->winograd = tile;
        int r = rn_qwino_init(q, tile, cin, cout, w_q, scale, bias);
        if (r != 0) rn_conv_free(c);
        return r;
    }
    /* a window row is one tap of kp depth (w_q's [ky][kx][cin] is its order), zeros past kw*cin */
    const int ks = window ? kh : kh * kw, kcl = window ? kp : c->span;
    int8_t *wpad = NULL;
    if (window) {
        if (!(q->zrow = malloc((size_t)kp)) || !(wpad = calloc((size_t)cout * kh * kp, 1))) {
            rn_conv_free(c);
            return -1;
        }
        memset(q->zrow, in_zero, (size_t)kp);
        for (size_t r = 0; r < (size_t)cout * kh; r++)
            memcpy(wpad + r * kp, w_q + r * kw * cin, (size_t)kw * cin);
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

/* Points row[ky * mr] (ky < kh) at the window rows of the output pixel whose window starts
 * at (iy0, ix0): in the image where kp bytes from its left end stay inside the image's row;
 * the zero point's row above or below the image; else a copy in edge, its pixels past the
 * left or right edge the zero point. Returns where the next copy goes. */
static uint8_t *window_rows(const qconv_job *j, const uint8_t *img, int iy0, int ix0, const uint8_t **row, int mr,
                            uint8_t *edge) {
    const rn_conv *c = j->c;
    const rn_qconv *q = c->q;
    const size_t row_bytes = (size_t)j->w * c->cin;
    const int inside = ix0 >= 0 && (size_t)ix0 * c->cin + (size_t)q->kp <= row_bytes;
    for (int ky = 0; ky < c->kh; ky++) {
        const int iy = iy0 + ky;
        if (iy < 0 || iy >= j->h) {
            row[ky * mr] = q->zrow;
            continue;
        }
        const uint8_t *src = img + (size_t)iy * row_bytes;
        if (inside) row[ky * mr] = src + (size_t)ix0 * c->cin;
        else { /* the window's pixels inside the image are one run of bytes: one copy */
            const int x0 = ix0 < 0 ? 0 : ix0, x1 = ix0 + c->kw < j->w ? ix0 + c->kw : j->w;
            memcpy(edge, q->zrow, (size_t)q->kp);
            if (x1 > x0)
                memcpy(edge + (size_t)(x0 - ix0) * c->cin, src + (size_t)x0 * c->cin, (size_t)(x1 - x0) * c->cin);
            row[ky * mr] = edge;
            edge += q->kp;
        }
    }
    return edge;
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
    const int taps = q->window ? c->kh : c->kh * c->kw, kc = q->window ? q->kp : c->span;
    const int dil = c->dilation > 1 ? c->dilation : 1;
    int m0, mb, p0, p1;
    rn_plan_task(&j->plan, task, &m0, &mb, &p0, &p1);
    const int tiles = (mb + mr - 1) / mr;
    const uint8_t *rows[QMB * QMAX_TAPS]; /* tile s: rows[s * taps * mr + t * mr + i] */
    if (taps == 1 && !q->window && c->stride == 1 && c->pad == 0) { /* a 1x1 on every pixel: row m is pixel m */
        for (int r = 0; r < tiles * mr; r++) rows[r] = j->in + (size_t)(m0 + (r < mb ? r : mb - 1)) * c->cin;
    } else {
        /* the output pixel (b, oy, ox) of row m0 once, then stepped: no division per row or tap */
        const int per_image = j->oh * j->ow;
        int b = m0 / per_image, oy = m0 % per_image / j->ow, ox = m0 % j->ow;
        /* the worker's scratch (rn_conv_scratch_floats) holds QMB x QMAX_PATCH bytes: a window
         * convolution's edge rows */
        uint8_t *edge = (uint8_t *)j->ex->scratch[thread];
        /* a window wholly inside the image (most of them) takes each tap at a fixed distance
         * from its first pixel: no bounds to test per tap */
        const size_t row_bytes = (size_t)j->w * c->cin;
        const int below = q->window ? c->kh - 1 : (c->kh - 1) * dil,
                  reach = q->window ? q->kp : ((c->kw - 1) * dil + 1) * c->cin; /* bytes right of ix0 */
        size_t off[QMAX_TAPS];
        for (int t = 0; t < taps; t++)
            off[t] = q->window ? t * row_bytes : ((size_t)t / c->kw * j->w + (size_t)(t % c->kw)) * dil * c->cin;
        const uint8_t **tile = rows; /* row r's tile; r % mr stepped as i: no division per row */
        for (int r = 0, i = 0; r < mb; r++) {
            const uint8_t **row = tile + i;
            if (++i == mr) i = 0, tile += (size_t)taps * mr;
            const int iy0 = oy * c->stride - c->pad, ix0 = ox * c->stride - c->pad;
            const uint8_t *img = j->in + (size_t)b * j->h * row_bytes;
            if (iy0 >= 0 && iy0 + below < j->h && ix0 >= 0 && (size_t)ix0 * c->cin + reach <= row_bytes) {
                const uint8_t *first = img + (size_t)iy0 * row_bytes + (size_t)ix0 * c->cin;
                for (int t = 0; t < taps; t++) row[t * mr] = first + off[t];
            } else if (q->window) {
                edge = window_rows(j, img, iy0, ix0, row, mr, edge);
            } else {
                for (int ky = 0, t = 0; ky < c->kh; ky++)
                    for (int kx = 0; kx < c->kw; kx++, t++) {
                        int iy = iy0 + ky * dil, ix = ix0 + kx * dil;
                        row[t * mr] = iy < 0 || iy >= j->h || ix < 0 || ix >= j->w
                                          ? zero_row
                                          : img + ((size_t)iy * j->w + ix) * c->cin;
                    }
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
    free(q->zrow);
    free(q);
}
