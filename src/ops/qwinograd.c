/* qwinograd.c - the int8 3x3 stride-1 convolution as an exact integer Winograd F(2x2,3x3), on
 * the paths whose kernel config has the s16 kernels (qkernels.h: AVX2, where s16 pairs
 * multiply at the u8 x s8 rate, and C).
 *
 * Y = A^T [(G g G^T) (.) (B^T d B)] A over 4x4 input tiles d giving 2x2 outputs. Here:
 * - B^T d B of u8 activations (zero point 0, so the padding is 0) sums four +-1 terms: each
 *   value is within [-1020, 1020], an s16;
 * - G scaled by 2 (rows {2,0,0}, {1,1,1}, {1,-1,1}, {0,0,2}) makes U' = 4 G g G^T integer,
 *   |U'| <= 9 x 128, an s16;
 * - so Y' = A^T [U' (.) V] A is exactly 4 times the direct convolution's int32 sum, and the
 *   store shifts it back and requantizes it as the direct kernels do: the u8 outputs are
 *   bit-identical to qconv.c's (tests/test_int8.c checks the driver against the naive
 *   convolution, tests/test_qgemm.c the kernels). Nothing is rounded before.
 * The sums are taken modulo 2^32 (vpaddd wraps; the C kernels add in uint32): a sum along the
 * way may pass 2^31, but the result, 4 times a direct sum, is at most 4 x 9 x 512 x 255 x 128
 * = 6e8, so it comes out exact whatever the weights.
 * 16 products per output tile of 4 against direct's 36: 2.25x fewer multiplies.
 *
 * Work (qw_task): a block of tiles against a range of RN_QW_NR-column panels, each task doing its
 * own input transforms (a layer-wide V written by both threads and read back from L3 cost
 * more than the products saved: layer1's V is 1.6 MB). */
#include "ops/qwinograd.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ops/plan.h"

enum {
    QW_V_BYTES = 320 * 1024, /* a task's V at most: held in L2 (512 KB on Zen 3) beside a panel of U' */
    QW_CHUNK = 8,            /* tiles whose 16 products are in M at once: a multiple of RN_QW_MR */
    QW_CH = 16,              /* channels transformed at once (the kernels' step) */
};

int rn_qwino_applies(const rn_qkernel_config *qk, int cin, int cout, int k, int stride, int pad, int in_zero,
                     int out_f32, const rn_qgemm_params *p) {
    return qk->wgemm && qk->win && qk->wout && k == 3 && stride == 1 && pad == 1 && in_zero == 0 && !out_f32 &&
           p->res_scale == 0.0f && cin % QW_CH == 0 && cout % RN_QW_NR == 0 && cin <= RN_QW_MAX_CIN;
}

/* U' = G' g G'^T for one 3x3 filter g (taps ky*3+kx), integers. */
static void filter_transform(const int g[9], int u[16]) {
    int t[4][3];
    for (int x = 0; x < 3; x++) {
        t[0][x] = 2 * g[x];
        t[1][x] = g[x] + g[3 + x] + g[6 + x];
        t[2][x] = g[x] - g[3 + x] + g[6 + x];
        t[3][x] = 2 * g[6 + x];
    }
    for (int i = 0; i < 4; i++) {
        u[i * 4 + 0] = 2 * t[i][0];
        u[i * 4 + 1] = t[i][0] + t[i][1] + t[i][2];
        u[i * 4 + 2] = t[i][0] - t[i][1] + t[i][2];
        u[i * 4 + 3] = 2 * t[i][2];
    }
}

int rn_qwino_init(rn_qconv *q, int cin, int cout, const int8_t *w_q, const float *scale, const float *bias) {
    const size_t u_count = (size_t)16 * cout * cin;
    q->wino_u = rn_aligned_alloc(u_count * sizeof(int16_t));
    q->wino_scale = rn_aligned_alloc((size_t)cout * sizeof(float));
    q->wino_bias = rn_aligned_alloc((size_t)cout * sizeof(float));
    if (!q->wino_u || !q->wino_scale || !q->wino_bias) return -1;
    memcpy(q->wino_scale, scale, (size_t)cout * sizeof(float));
    if (bias) memcpy(q->wino_bias, bias, (size_t)cout * sizeof(float));
    else memset(q->wino_bias, 0, (size_t)cout * sizeof(float));
    /* panel p, position e: cin/2 pairs x RN_QW_NR columns x 2 depths */
    for (int o = 0; o < cout; o++)
        for (int ci = 0; ci < cin; ci++) {
            int g[9], u[16];
            for (int tap = 0; tap < 9; tap++) g[tap] = w_q[((size_t)o * 9 + tap) * cin + ci];
            filter_transform(g, u);
            const int p = o / RN_QW_NR, j = o % RN_QW_NR;
            for (int e = 0; e < 16; e++)
                q->wino_u[(((size_t)p * 16 + e) * (cin / 2) + ci / 2) * (2 * RN_QW_NR) + j * 2 + ci % 2] = (int16_t)u[e];
        }
    return 0;
}

typedef struct qw_job {
    const rn_exec *ex;
    const rn_conv *c;
    const uint8_t *in;
    int h, w, th, tw, tiles;
    rn_plan plan;
    uint8_t *out;
} qw_job;

/* One task: a block of tiles against a range of panels. The block's input transforms go
 * first, into the worker's scratch (V: 16 x block x cin s16, at most QW_V_BYTES, so that it
 * stays in L2 while every panel of the range reads it; a task sharing its block with another
 * when the panels are split transforms it again: cheap next to the products). The blocks are
 * as large as that allows because each one streams all of U' (3.6x direct's weight bytes).
 * Then per panel, QW_CHUNK tiles at a time: the 16 GEMMs into M (16 x QW_CHUNK x 32 int32,
 * 16 KB, in L1) and each tile's output transform and store. */
static void qw_task(void *ctx, int task, int thread) {
    const qw_job *j = ctx;
    const rn_conv *c = j->c;
    const rn_qconv *q = c->q;
    const int cin = c->cin, cout = c->cout, per_image = j->th * j->tw, block = j->plan.block;
    int t0, count, p0, p1;
    rn_plan_task(&j->plan, task, &t0, &count, &p0, &p1);
    int32_t *m = (int32_t *)(void *)j->ex->scratch[thread];        /* [16][QW_CHUNK][NR] */
    int16_t *v = (int16_t *)(m + (size_t)16 * QW_CHUNK * RN_QW_NR); /* [16][block][cin] */
    for (int i = 0; i < count; i++) {
        const int t = t0 + i, b = t / per_image, ty = t % per_image / j->tw, tx = t % j->tw;
        const uint8_t *img = j->in + (size_t)b * j->h * j->w * cin;
        const uint8_t *d[16];
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++) {
                const int iy = 2 * ty - 1 + y, ix = 2 * tx - 1 + x;
                d[y * 4 + x] = iy < 0 || iy >= j->h || ix < 0 || ix >= j->w ? NULL : img + ((size_t)iy * j->w + ix) * cin;
            }
        q->qk->win(d, cin, v + (size_t)i * cin, (size_t)block * cin);
    }
    for (int p = p0; p < p1; p++)
        for (int c0 = 0; c0 < count; c0 += QW_CHUNK) {
            const int chunk = count - c0 < QW_CHUNK ? count - c0 : QW_CHUNK;
            for (int e = 0; e < 16; e++) {
                const int16_t *u = q->wino_u + ((size_t)p * 16 + e) * (cin / 2) * (2 * RN_QW_NR);
                const int16_t *ve = v + ((size_t)e * block + c0) * cin;
                for (int s = 0; s < chunk; s += RN_QW_MR) {
                    const int16_t *a[RN_QW_MR];
                    for (int i = 0; i < RN_QW_MR; i++) a[i] = ve + (size_t)(s + i < chunk ? s + i : chunk - 1) * cin;
                    q->qk->wgemm(chunk - s < RN_QW_MR ? chunk - s : RN_QW_MR, cin, a, u,
                                 m + ((size_t)e * QW_CHUNK + s) * RN_QW_NR);
                }
            }
            for (int i = 0; i < chunk; i++) {
                const int t = t0 + c0 + i, b = t / per_image, ty = t % per_image / j->tw, tx = t % j->tw;
                uint8_t *outs[4];
                for (int q4 = 0; q4 < 4; q4++) {
                    const int oy = 2 * ty + q4 / 2, ox = 2 * tx + q4 % 2;
                    outs[q4] = oy < j->h && ox < j->w
                                   ? j->out + (((size_t)b * j->h + oy) * j->w + ox) * cout + p * RN_QW_NR
                                   : NULL;
                }
                q->qk->wout(m + (size_t)i * RN_QW_NR, (size_t)QW_CHUNK * RN_QW_NR, q->wino_scale + p * RN_QW_NR,
                            q->wino_bias + p * RN_QW_NR, &q->p, outs);
            }
        }
}

void rn_qwino_forward(const rn_exec *ex, const rn_conv *c, const uint8_t *in, int n, int h, int w, uint8_t *out) {
    qw_job j = {.ex = ex, .c = c, .in = in, .h = h, .w = w, .th = (h + 1) / 2, .tw = (w + 1) / 2, .out = out};
    j.tiles = n * j.th * j.tw;
    const int most = QW_V_BYTES / (16 * c->cin * (int)sizeof(int16_t)) / RN_QW_MR * RN_QW_MR;
    j.plan = rn_plan_make(j.tiles, most, RN_QW_MR, c->cout / RN_QW_NR, rn_pool_threads(ex->pool), 0);
    rn_pool_run(ex->pool, j.plan.tasks, qw_task, &j);
}

size_t rn_qwino_scratch_bytes(void) { return QW_V_BYTES + (size_t)16 * QW_CHUNK * RN_QW_NR * sizeof(int32_t); }
