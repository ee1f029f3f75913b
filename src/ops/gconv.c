/* gconv.c - grouped convolutions on the direct grouped kernel (kernels.h, rn_gconv_ukernel),
 * where every group has G input and G output channels and G and the kernel's vector width L
 * divide one another (ResNeXt's 3x3s: G = 4, 8, 16, 32 in ResNeXt-50 32x4d's four stages). For
 * G < NR the GEMM path (conv.c) would multiply NR/G times more, mostly by zeros; for wider
 * groups it would walk the depth one tap at a time through memory (32 or 64 channels a tap).
 *
 * Work split (plan.c): rows are output pixels, cut into blocks of whole kernel calls; panels
 * are the L-channel blocks. A task first finds its calls' input pointers (per call of
 * gconv_np pixels, per tap), then runs panel by panel over all its calls. */
#include "ops/conv.h"

#include <string.h>
#include "common.h"
#include "ops/plan.h"

enum { MAX_TAPS = 9, ROWS_MOST = 96, ZERO_FLOATS = 4096 };

/* What a padding tap reads: a whole pixel of zeros (any channel offset). */
static const float zero_pixel[ZERO_FLOATS];

int rn_gconv_fits(const rn_kernel_config *kc, int cin, int cout, int kh, int kw, int groups) {
    if (!kc->gconv || groups < 2 || cin != cout || cout % groups) return 0;
    const int g = cout / groups, lanes = kc->gconv_lanes;
    return (lanes % g == 0 || g % lanes == 0) && cout % lanes == 0 && cin <= ZERO_FLOATS && kh * kw <= MAX_TAPS;
}

/* Block b of L output channels, tap t, j < G: w[((b * taps + t) * G + j) * L + l] is the weight
 * of output channel b*L + l from input channel j of its group. */
int rn_gconv_pack(rn_conv *c, const rn_kernel_config *kc, const float *w_oihw) {
    const int lanes = kc->gconv_lanes, g = c->cout / c->groups, taps = c->kh * c->kw;
    c->gconv = g;
    c->w = rn_aligned_alloc((size_t)taps * g * c->cout * sizeof(float));
    if (!c->w) return -1;
    float *dst = c->w;
    for (int b = 0; b < c->cout / lanes; b++)
        for (int t = 0; t < taps; t++)
            for (int j = 0; j < g; j++)
                for (int l = 0; l < lanes; l++) {
                    const int o = b * lanes + l;
                    *dst++ = w_oihw[((size_t)o * g + j) * taps + t];
                }
    return 0;
}

typedef struct gconv_job {
    const rn_exec *ex;
    const rn_conv *c;
    const float *in;
    int h, w, oh, ow;
    rn_plan plan;
    float *out;
    const float *res;
    int relu;
} gconv_job;

static void gconv_task(void *ctx, int task, int thread) {
    (void)thread;
    const gconv_job *j = ctx;
    const rn_conv *c = j->c;
    const rn_kernel_config *kc = j->ex->kc;
    const int np_most = kc->gconv_np, lanes = kc->gconv_lanes, taps = c->kh * c->kw, g = c->gconv;
    const int per_image = j->oh * j->ow;
    const size_t ldo = (size_t)c->n_padded, block_w = (size_t)taps * g * lanes;
    /* Every call's input pointers, found once: call k's tap t, pixel p at
     * x[(k * MAX_TAPS + t) * np_most + p], its live taps in live[k], n_live[k] of them. */
    const float *x[MAX_TAPS * ROWS_MOST];
    int live[ROWS_MOST][MAX_TAPS], n_live[ROWS_MOST];
    int m0, mb, p0, p1;
    rn_plan_task(&j->plan, task, &m0, &mb, &p0, &p1);
    const int calls = (mb + np_most - 1) / np_most;
    for (int k = 0; k < calls; k++) {
        const int m = m0 + k * np_most, np = m0 + mb - m < np_most ? m0 + mb - m : np_most;
        int iy0[RN_GCONV_MAX_NP], ix0[RN_GCONV_MAX_NP];
        const float *img[RN_GCONV_MAX_NP];
        for (int p = 0; p < np_most; p++) { /* pixels past np repeat the last one */
            const int mm = m + (p < np ? p : np - 1), b = mm / per_image, rem = mm % per_image;
            iy0[p] = rem / j->ow * c->stride - c->pad;
            ix0[p] = rem % j->ow * c->stride - c->pad;
            img[p] = j->in + (size_t)b * j->h * j->w * c->cin;
        }
        /* The taps that see the image for some pixel; the others add nothing. */
        n_live[k] = 0;
        for (int t = 0; t < taps; t++) {
            const int dy = t / c->kw * c->dilation, dx = t % c->kw * c->dilation;
            const float **xt = x + ((size_t)k * MAX_TAPS + n_live[k]) * np_most;
            int any = 0;
            for (int p = 0; p < np_most; p++) {
                const int iy = iy0[p] + dy, ix = ix0[p] + dx;
                const int inside = iy >= 0 && iy < j->h && ix >= 0 && ix < j->w;
                xt[p] = inside ? img[p] + ((size_t)iy * j->w + ix) * c->cin : zero_pixel;
                any |= inside;
            }
            if (any) live[k][n_live[k]++] = t;
        }
    }
    /* Panel by panel, so a panel's weights (up to 9 taps x 64 x 16 floats) stay in L1 while its
     * calls sweep the block's pixels: the last stages' weights (1-2 MB a layer) pass once. */
    for (int p = p0; p < p1; p++) {
        const size_t at = (size_t)p * lanes, group_at = g > lanes ? at / g * g : at; /* where its inputs start */
        for (int k = 0; k < calls; k++) {
            const size_t m = (size_t)m0 + (size_t)k * np_most;
            const int np = m0 + mb - (int)m < np_most ? m0 + mb - (int)m : np_most;
            kc->gconv(g, np, n_live[k], live[k], x + (size_t)k * MAX_TAPS * np_most, group_at, c->w + p * block_w,
                      c->bias + at, j->out + m * ldo + at, ldo, j->res ? j->res + m * ldo + at : NULL, ldo, j->relu);
        }
    }
    /* Columns past cout (to the family's NR): what the GEMM path writes there. */
    if (p1 == j->plan.panels)
        for (int r = m0; r < m0 + mb; r++)
            for (int o = c->cout; o < c->n_padded; o++) {
                float v = j->res ? j->res[(size_t)r * ldo + o] : 0.0f;
                j->out[(size_t)r * ldo + o] = j->relu && v < 0.0f ? 0.0f : v;
            }
}

void rn_gconv_forward(const rn_exec *ex, const rn_conv *c, const float *in, int n, int h, int w, float *out,
                      const float *residual, int relu) {
    gconv_job j = {.ex = ex, .c = c, .in = in, .h = h, .w = w, .out = out, .res = residual, .relu = relu};
    rn_conv_out_size(c, h, w, &j.oh, &j.ow);
    const int np = ex->kc->gconv_np, most = ROWS_MOST / np * np;
    j.plan = rn_plan_make(n * j.oh * j.ow, most, np, c->cout / ex->kc->gconv_lanes, rn_pool_threads(ex->pool), 0);
    rn_pool_run(ex->pool, j.plan.tasks, gconv_task, &j);
}
