/* qconv.c - the int8 convolution driver: conv.c's work split (plan.c: row blocks x panel
 * ranges, one task each), but each micro-kernel call covers a tile's whole reduction (every tap, every
 * channel): a u8 output cannot be accumulated into across calls. A is read through row
 * pointers, tap-major per tile: a pixel of the input, or a row of zeros (the activation zero
 * point) where the window hangs over the padding. */
#include "ops/qconv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ops/plan.h"

enum { QMB = 120, QMAX_TAPS = 9, QMAX_CIN = 2048 }; /* QMB: a multiple of every MR (4, 6, 12) */

static const uint8_t zero_row[QMAX_CIN];

int rn_qconv_init(rn_conv *c, const rn_qkernel_config *qk, int cin, int cout, int kh, int kw, int stride, int pad,
                  const int8_t *w_q, const float *scale, const float *bias, const float *bias_f32,
                  const rn_qgemm_params *p, int out_f32) {
    memset(c, 0, sizeof *c);
    c->cin = cin; c->cout = cout; c->kh = kh; c->kw = kw; c->stride = stride; c->pad = pad;
    c->k = kh * kw * cin;
    c->n_padded = cout; /* the caller keeps cout a multiple of NR: no padded columns in memory */
    if (cout % qk->nr || cin % 4 || cin > QMAX_CIN || kh * kw > QMAX_TAPS) return -2;
    rn_qconv *q = calloc(1, sizeof *q);
    c->q = q;
    c->bias = rn_aligned_alloc((size_t)cout * sizeof(float));
    if (!q || !c->bias) { rn_conv_free(c); return -1; }
    memcpy(c->bias, bias_f32, (size_t)cout * sizeof(float));
    q->qk = qk;
    q->p = *p;
    q->out_f32 = out_f32;
    q->panel_bytes = rn_qpack_panel_bytes(qk, kh * kw, cin);
    if (!(q->w = rn_aligned_alloc(rn_qpack_bytes(qk, cout, kh * kw, cin)))) { rn_conv_free(c); return -1; }
    if (rn_qpack(qk, q->w, w_q, cout, kh * kw, cin, scale, bias, 0) != 0) { rn_conv_free(c); return -2; }
    return 0;
}

typedef struct qconv_job {
    const rn_conv *c;
    const uint8_t *in;
    int h, w, oh, ow;
    rn_plan plan;
    unsigned char *out;
    size_t out_size; /* bytes per output element */
    const uint8_t *res;
} qconv_job;

static void qconv_task(void *ctx, int task, int thread) {
    (void)thread;
    const qconv_job *j = ctx;
    const rn_conv *c = j->c;
    const rn_qconv *q = c->q;
    const int mr = q->qk->mr, nr = q->qk->nr, taps = c->kh * c->kw, ld = c->cout;
    int m0, mb, p0, p1;
    rn_plan_task(&j->plan, task, &m0, &mb, &p0, &p1);
    const int tiles = (mb + mr - 1) / mr;
    const uint8_t *rows[QMB * QMAX_TAPS]; /* tile s: rows[s * taps * mr + t * mr + i] */
    const int per_image = j->oh * j->ow;
    for (int s = 0; s < tiles; s++)
        for (int i = 0; i < mr; i++) {
            int r = s * mr + i < mb ? s * mr + i : mb - 1; /* rows past mb repeat a real one, never stored */
            int m = m0 + r, b = m / per_image, rem = m % per_image;
            int iy0 = (rem / j->ow) * c->stride - c->pad, ix0 = (rem % j->ow) * c->stride - c->pad;
            for (int t = 0; t < taps; t++) {
                int iy = iy0 + t / c->kw, ix = ix0 + t % c->kw;
                rows[(s * taps + t) * mr + i] = iy < 0 || iy >= j->h || ix < 0 || ix >= j->w
                                                    ? zero_row
                                                    : j->in + (((size_t)b * j->h + iy) * j->w + ix) * c->cin;
            }
        }
    for (int p = p0; p < p1; p++) {
        const unsigned char *wp = (const unsigned char *)q->w + (size_t)p * q->panel_bytes;
        for (int s = 0; s < tiles; s++) {
            size_t at = (size_t)(m0 + s * mr) * ld + (size_t)p * nr;
            q->qk->gemm(mb - s * mr < mr ? mb - s * mr : mr, taps, c->cin, rows + (size_t)s * taps * mr, wp,
                        j->out + at * j->out_size, ld, j->res ? j->res + at : NULL, ld, &q->p,
                        q->out_f32 ? RN_QUK_OUT_F32 : 0);
        }
    }
}

void rn_qconv_forward(const rn_exec *ex, const rn_conv *c, const uint8_t *in, int n, int h, int w, void *out,
                      const uint8_t *res) {
    const rn_qconv *q = c->q;
    qconv_job j = {.c = c, .in = in, .h = h, .w = w, .out = out, .out_size = q->out_f32 ? sizeof(float) : 1,
                   .res = res};
    rn_conv_out_size(c, h, w, &j.oh, &j.ow);
    j.plan = rn_plan_make(n * j.oh * j.ow, QMB, q->qk->mr, c->cout / q->qk->nr, rn_pool_size(ex->pool));
    rn_pool_run(ex->pool, j.plan.tasks, qconv_task, &j);
}
