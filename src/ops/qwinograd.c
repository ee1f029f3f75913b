/* qwinograd.c - the int8 3x3 stride-1 convolution as an exact integer Winograd, on the paths
 * whose kernel config has the s16 kernels (qkernels.h): AVX2 and C, F(2x2) and F(3x3), where
 * s16 pairs multiply at the u8 x s8 rate; AVX-512 VNNI, F(3x3) only, where s16 multiplies at
 * half u8's rate and only F(3x3)'s 3.24x fewer products pay (docs/performance.md). AVX-VNNI
 * and AMX stay direct.
 *
 * Y = A^T [(G g G^T) (.) (B^T d B)] A over t x t input tiles d giving m x m outputs, t = m + 2.
 * Nothing is rounded before the store, which requantizes the direct convolution's int32 sum
 * as the direct kernels do: the u8 outputs are bit-identical to qconv.c's (tests/test_int8.c
 * checks the driver against the naive convolution, tests/test_qgemm.c the kernels). The sums
 * are taken modulo 2^32 (vpaddd wraps; the C kernels add in uint32): a sum along the way may
 * pass 2^31, but the result is a fixed multiple s of the direct sum and comes out exact
 * wherever that multiple fits in int32.
 *
 * F(2x2,3x3), s = 4, up to RN_QW_MAX_CIN channels:
 * - B^T d B of u8 activations (zero point 0, so the padding is 0) sums four +-1 terms: each
 *   value is within [-1020, 1020], an s16;
 * - G scaled by 2 (rows {2,0,0}, {1,1,1}, {1,-1,1}, {0,0,2}) makes U' = 4 G g G^T integer,
 *   |U'| <= 9 x 128, an s16;
 * - so Y' = A^T [U' (.) V] A is exactly 4 times the direct sum, at most 4 x 9 x 512 x 255 x
 *   128 = 6e8 whatever the weights; the store shifts it back. 16 products per 4 outputs
 *   against direct's 36: 2.25x fewer multiplies.
 * F(3x3,3x3), points 0, 1, -1, 2 and infinity, s = 36, up to RN_QW3_MAX_CIN channels:
 * - B^T rows {2,-1,-2,1,0}, {0,-2,-1,1,0}, {0,2,-3,1,0}, {0,-1,0,1,0}, {0,2,-1,-2,1}: |V| <=
 *   6 x 6 x 255 = 9180, an s16;
 * - G = diag(1/6, -1/6, -1/6, 1/6, 1/6) G', G' rows {3,0,0}, {3,3,3}, {1,-1,1}, {1,2,4},
 *   {0,0,6}: U' = G' g G'^T is integer, |U'| <= 9 x 9 x 128 = 10368, an s16;
 * - the diagonal goes to the output side: 6 A^T diag(1/6, -1/6, -1/6, 1/6, 1/6) = A'^T,
 *   rows {1,-1,-1,1,0}, {0,-1,1,2,0}, {0,-1,-1,4,1}, so Y' = A'^T [U' (.) V] A' is exactly
 *   36 times the direct sum (G' takes the factors that make both integer with the fewest
 *   operations in A'^T, where they would be paid per output); at most 36 x 9 x 128 x 255 x
 *   128 = 1.35e9 < 2^31 whatever the weights, which is what bounds cin at 128. The store
 *   divides exactly: a shift by 2, then 9's inverse modulo 2^32. 25 products per 9 outputs
 *   against 81: 3.24x fewer multiplies, 1.44x fewer than F(2x2); the sizes that are not
 *   multiples of 3 (56, 28) compute a little past the edge.
 *
 * Work (qw_task): a block of tiles against a range of RN_QW_NR-column panels, each task doing its
 * own input transforms (a layer-wide V written by both threads and read back from L3 cost
 * more than the products saved: layer1's V is 1.6 MB). Small blocks, about 4 a thread, before
 * the panels are split (RN_PLAN_SMALL_BLOCKS): a block split by panels is transformed once per
 * task. On the AVX-512 VNNI path (Zen 5, 2 threads) that took ResNet-50's pass at batch 8 from
 * 41.6 to 41.0 ms (3 rounds) and at batch 1 from 6.04 to 5.91 ms (4 rounds). */
#include "ops/qwinograd.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ops/plan.h"

enum {
    QW_V_BYTES = 320 * 1024, /* a task's V at most: held in L2 (512 KB on Zen 3) beside a panel of U' */
    QW_CHUNK = 8,            /* tiles whose products are in M at once: at least every wmr */
    QW_CH = 16,              /* channels transformed at once (the kernels' step) */
    QW_MAX_T2 = 25,          /* positions of the largest tile (5 x 5) */
    QW_PAD = 64,             /* s16 between V's positions: unpadded, a task's rows of one tile
                                fell 12 KB apart in every layer, all in one set of L1 */
};

int rn_qwino_applies(const rn_qkernel_config *qk, int cin, int cout, int k, int stride, int pad, int in_zero,
                     int out_f32, const rn_qgemm_params *p) {
    if (!qk->wgemm || k != 3 || stride != 1 || pad != 1 || in_zero != 0 || out_f32 || p->res_scale != 0.0f ||
        cin % QW_CH != 0 || cout % RN_QW_NR != 0)
        return 0;
    if (qk->win3 && qk->wout3 && cin <= RN_QW3_MAX_CIN) return 3;
    return qk->win && qk->wout && cin <= RN_QW_MAX_CIN ? 2 : 0;
}

/* U' = G' g G'^T for one 3x3 filter g (taps ky*3+kx), integers: F(2x2,3x3)'s 4x4. */
static void filter_transform4(const int g[9], int u[16]) {
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

/* F(3x3,3x3)'s 5x5 U' = G' g G'^T (G' rows above) */
static void filter_transform5(const int g[9], int u[25]) {
    static const int gp[5][3] = {{3, 0, 0}, {3, 3, 3}, {1, -1, 1}, {1, 2, 4}, {0, 0, 6}};
    int t[5][3];
    for (int i = 0; i < 5; i++)
        for (int x = 0; x < 3; x++) t[i][x] = gp[i][0] * g[x] + gp[i][1] * g[3 + x] + gp[i][2] * g[6 + x];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) u[i * 5 + j] = gp[j][0] * t[i][0] + gp[j][1] * t[i][1] + gp[j][2] * t[i][2];
}

int rn_qwino_init(rn_qconv *q, int tile, int cin, int cout, const int8_t *w_q, const float *scale, const float *bias) {
    const int t2 = (tile + 2) * (tile + 2);
    const size_t u_count = (size_t)t2 * cout * cin;
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
            int g[9], u[QW_MAX_T2];
            for (int tap = 0; tap < 9; tap++) g[tap] = w_q[((size_t)o * 9 + tap) * cin + ci];
            if (t2 == 16) filter_transform4(g, u);
            else filter_transform5(g, u);
            const int p = o / RN_QW_NR, j = o % RN_QW_NR;
            for (int e = 0; e < t2; e++)
                q->wino_u[(((size_t)p * t2 + e) * (cin / 2) + ci / 2) * (2 * RN_QW_NR) + j * 2 + ci % 2] = (int16_t)u[e];
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
 * first, into the worker's scratch (V: T positions of block x cin s16, QW_PAD apart, at most
 * QW_V_BYTES, so that it stays in L2 while every panel of the range reads it; a task sharing
 * its block with another when the panels are split transforms it again). Each block streams
 * all of its panels' U' (3.6x direct's weight bytes for F(2x2), 5.6x for F(3x3)), so blocks
 * are as large as that allows on one thread; on more, about 4 a thread (rn_qwino_forward).
 * Then per panel, QW_CHUNK tiles at a time: the T GEMMs into M (T x QW_CHUNK x 32 int32, at
 * most 25 KB, in L1) and each tile's output transform and store. */
static void qw_task(void *ctx, int task, int thread) {
    const qw_job *j = ctx;
    const rn_conv *c = j->c;
    const rn_qconv *q = c->q;
    const rn_qkernel_config *qk = q->qk;
    const int cin = c->cin, cout = c->cout, per_image = j->th * j->tw, block = j->plan.block;
    const int mt = c->winograd, t = mt + 2, t2 = t * t, mr = qk->wmr;
    const rn_qwino_in_fn win = mt == 3 ? qk->win3 : qk->win;
    const rn_qwino_out_fn wout = mt == 3 ? qk->wout3 : qk->wout;
    int t0, count, p0, p1;
    rn_plan_task(&j->plan, task, &t0, &count, &p0, &p1);
    int32_t *m = (int32_t *)(void *)j->ex->scratch[thread];        /* [T][QW_CHUNK][NR] */
    int16_t *v = (int16_t *)(m + (size_t)t2 * QW_CHUNK * RN_QW_NR); /* [T][block][cin], padded */
    const size_t vstep = (size_t)block * cin + QW_PAD;
    size_t off[QW_MAX_T2]; /* a tile inside the image: its pixels' offsets from its first */
    for (int y = 0; y < t; y++)
        for (int x = 0; x < t; x++) off[y * t + x] = ((size_t)y * j->w + x) * cin;
    for (int i = 0; i < count; i++) {
        const int tile = t0 + i, b = tile / per_image, ty = tile % per_image / j->tw, tx = tile % j->tw;
        const int iy0 = mt * ty - 1, ix0 = mt * tx - 1;
        const uint8_t *img = j->in + (size_t)b * j->h * j->w * cin;
        const uint8_t *d[QW_MAX_T2];
        if (iy0 >= 0 && iy0 + t <= j->h && ix0 >= 0 && ix0 + t <= j->w) {
            const uint8_t *first = img + ((size_t)iy0 * j->w + ix0) * cin;
            for (int k = 0; k < t * t; k++) d[k] = first + off[k];
        } else {
            for (int y = 0; y < t; y++)
                for (int x = 0; x < t; x++) {
                    const int iy = iy0 + y, ix = ix0 + x;
                    d[y * t + x] = iy < 0 || iy >= j->h || ix < 0 || ix >= j->w ? NULL : img + ((size_t)iy * j->w + ix) * cin;
                }
        }
        win(d, cin, v + (size_t)i * cin, vstep);
    }
    for (int p = p0; p < p1; p++)
        for (int c0 = 0; c0 < count; c0 += QW_CHUNK) {
            const int chunk = count - c0 < QW_CHUNK ? count - c0 : QW_CHUNK;
            for (int e = 0; e < t2; e++) {
                const int16_t *u = q->wino_u + ((size_t)p * t2 + e) * (cin / 2) * (2 * RN_QW_NR);
                const int16_t *ve = v + (size_t)e * vstep + (size_t)c0 * cin;
                for (int s = 0; s < chunk; s += mr)
                    qk->wgemm(chunk - s < mr ? chunk - s : mr, cin, ve + (size_t)s * cin, (size_t)cin, u,
                              m + ((size_t)e * QW_CHUNK + s) * RN_QW_NR);
            }
            for (int i = 0; i < chunk; i++) {
                const int tile = t0 + c0 + i, b = tile / per_image, ty = tile % per_image / j->tw, tx = tile % j->tw;
                uint8_t *outs[9], **o = outs;
                for (int oy = mt * ty; oy < mt * ty + mt; oy++)
                    for (int ox = mt * tx; ox < mt * tx + mt; ox++)
                        *o++ = oy < j->h && ox < j->w
                                   ? j->out + (((size_t)b * j->h + oy) * j->w + ox) * cout + p * RN_QW_NR
                                   : NULL;
                wout(m + (size_t)i * RN_QW_NR, (size_t)QW_CHUNK * RN_QW_NR, q->wino_scale + p * RN_QW_NR,
                     q->wino_bias + p * RN_QW_NR, &q->p, outs);
            }
        }
}

void rn_qwino_forward(const rn_exec *ex, const rn_conv *c, const uint8_t *in, int n, int h, int w, uint8_t *out) {
    const int mt = c->winograd, t2 = (mt + 2) * (mt + 2);
    qw_job j = {.ex = ex, .c = c, .in = in, .h = h, .w = w, .th = (h + mt - 1) / mt, .tw = (w + mt - 1) / mt, .out = out};
    j.tiles = n * j.th * j.tw;
    const int mr = c->q->qk->wmr, most = (QW_V_BYTES / t2 / (int)sizeof(int16_t) - QW_PAD) / c->cin / mr * mr;
    j.plan = rn_plan_make(j.tiles, most, mr, c->cout / RN_QW_NR, rn_pool_threads(ex->pool), RN_PLAN_SMALL_BLOCKS);
    rn_pool_run(ex->pool, j.plan.tasks, qw_task, &j);
}

size_t rn_qwino_scratch_bytes(void) { return QW_V_BYTES + (size_t)QW_MAX_T2 * QW_CHUNK * RN_QW_NR * sizeof(int32_t); }
