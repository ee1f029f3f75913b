/* winograd.c - 3x3 stride-1 convolutions by Winograd's minimal filtering, F(4x4, 3x3)
 * (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
 *
 * Each 4x4 block of output pixels ("tile") comes from a 6x6 window of input. With
 *   V = B^T d B  (input window, per channel),  U = G g G^T  (3x3 filter, per channel pair),
 *   Y = A^T [ sum_c U .* V ] A,
 * the 36 positions e of the 6x6 transformed domain are 36 independent GEMMs
 *   M[e] (tiles x cout) = V[e] (tiles x cin) * U[e] (cin x cout),
 * which run on the same micro-kernel as every other convolution. A tile costs 36 multiply-
 * adds per channel pair instead of 16 x 9 = 144: 4x fewer, paid for with the transforms and
 * with U being 36/9 = 4x larger than the filter, which is why the model uses this only for
 * the narrow early layers (conv.c decides). The transformed values are sums of differences,
 * so fp32 rounding grows a little: tests/test_golden.c measures the logits on every path.
 *
 * Layout: U is packed like conv.c's B, one set of NR-wide panels per e. A block of TB tiles
 * is input-transformed into V[e] in the micro-kernel's packed-A order, multiplied one NR
 * panel at a time into M (36 x TB x NR), and output-transformed with bias and ReLU. */
#include "ops/conv.h"

#include <string.h>
#include "common.h"

enum { T6 = 6, T4 = 4, E = 36, CB = 8 /* channels transformed together */ };

int rn_winograd_tile_block(const rn_kernel_config *kc) { return 4 * kc->mr; }

size_t rn_winograd_scratch_floats(const rn_kernel_config *kc, int max_cin) {
    size_t tb = (size_t)rn_winograd_tile_block(kc);
    return (size_t)E * tb * max_cin + (size_t)E * tb * kc->nr;
}

/* U = G g G^T for one 3x3 filter, in double; G's rows are (1/4, 0, 0), (-1/6, -1/6, -1/6),
 * (-1/6, 1/6, -1/6), (1/24, 1/12, 1/6), (1/24, -1/12, 1/6), (0, 0, 1). */
static void filter_transform(const float g[9], double u[36]) {
    static const double G[6][3] = {{1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                   {-1.0 / 6, 1.0 / 6, -1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                   {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
    double t[6][3];
    for (int i = 0; i < 6; i++)
        for (int x = 0; x < 3; x++)
            t[i][x] = G[i][0] * g[0 * 3 + x] + G[i][1] * g[1 * 3 + x] + G[i][2] * g[2 * 3 + x];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) u[i * 6 + j] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
}

int rn_winograd_pack(rn_conv *c, const rn_kernel_config *kc, const float *w_oihw) {
    const int nr = kc->nr, panels = c->n_padded / nr;
    c->w = rn_aligned_alloc((size_t)E * c->cin * c->n_padded * sizeof(float));
    if (!c->w) return -1;
    memset(c->w, 0, (size_t)E * c->cin * c->n_padded * sizeof(float));
    for (int o = 0; o < c->cout; o++)
        for (int ci = 0; ci < c->cin; ci++) {
            double u[36];
            filter_transform(w_oihw + ((size_t)o * c->cin + ci) * 9, u);
            for (int e = 0; e < E; e++)
                c->w[(((size_t)e * panels + o / nr) * c->cin + ci) * nr + o % nr] = (float)u[e];
        }
    return 0;
}

/* B^T applied to six values (a column or row of the window). */
#define BT(d0, d1, d2, d3, d4, d5, r)                                   \
    do {                                                                \
        r[0] = 4.0f * d0 - 5.0f * d2 + d4;                              \
        r[1] = -4.0f * d1 - 4.0f * d2 + d3 + d4;                        \
        r[2] = 4.0f * d1 - 4.0f * d2 - d3 + d4;                         \
        r[3] = -2.0f * d1 - d2 + 2.0f * d3 + d4;                        \
        r[4] = 2.0f * d1 - d2 - 2.0f * d3 + d4;                         \
        r[5] = 4.0f * d1 - 5.0f * d3 + d5;                              \
    } while (0)

typedef struct wino_job {
    const rn_exec *ex;
    const rn_conv *c;
    const float *in;
    float *out;
    const float *res;
    int n, h, w, th, tw, tiles, tb, n_split, panels, relu;
} wino_job;

/* V[e][group][c][r] for tiles t0..t0+count of the block (rows past count are zeros). */
static void input_transform(const wino_job *j, int t0, int count, int groups, float *v) {
    const rn_conv *c = j->c;
    const int mr = j->ex->kc->mr, cin = c->cin, per_image = j->th * j->tw;
    const size_t e_stride = (size_t)groups * cin * mr;
    for (int t = 0; t < groups * mr; t++) {
        const int g = t / mr, r = t % mr;
        if (t >= count) {
            for (int e = 0; e < E; e++)
                for (int ch = 0; ch < cin; ch++) v[e * e_stride + ((size_t)g * cin + ch) * mr + r] = 0.0f;
            continue;
        }
        const int tile = t0 + t, b = tile / per_image, rem = tile % per_image;
        const int iy0 = (rem / j->tw) * T4 - 1, ix0 = (rem % j->tw) * T4 - 1;
        const float *img = j->in + (size_t)b * j->h * j->w * cin;
        for (int c0 = 0; c0 < cin; c0 += CB) {
            float d[T6][T6][CB], tmp[T6][T6][CB];
            for (int y = 0; y < T6; y++)
                for (int x = 0; x < T6; x++) {
                    int iy = iy0 + y, ix = ix0 + x;
                    if (iy >= 0 && iy < j->h && ix >= 0 && ix < j->w)
                        memcpy(d[y][x], img + ((size_t)iy * j->w + ix) * cin + c0, sizeof d[y][x]);
                    else
                        memset(d[y][x], 0, sizeof d[y][x]);
                }
            for (int x = 0; x < T6; x++) /* columns: tmp = B^T d */
                for (int k = 0; k < CB; k++) {
                    float r6[6];
                    BT(d[0][x][k], d[1][x][k], d[2][x][k], d[3][x][k], d[4][x][k], d[5][x][k], r6);
                    for (int i = 0; i < T6; i++) tmp[i][x][k] = r6[i];
                }
            for (int i = 0; i < T6; i++) /* rows: V = tmp B */
                for (int k = 0; k < CB; k++) {
                    float r6[6];
                    BT(tmp[i][0][k], tmp[i][1][k], tmp[i][2][k], tmp[i][3][k], tmp[i][4][k], tmp[i][5][k], r6);
                    for (int jj = 0; jj < T6; jj++)
                        v[(i * T6 + jj) * e_stride + ((size_t)g * cin + c0 + k) * mr + r] = r6[jj];
                }
        }
    }
}

/* Y = A^T M A (+ bias, ReLU) for the block's tiles, channels of panel p; A^T's rows are
 * (1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1). */
static void output_transform(const wino_job *j, int t0, int count, int tb_pad, int p, const float *m) {
    const rn_conv *c = j->c;
    const int nr = j->ex->kc->nr, per_image = j->th * j->tw, oh = j->h, ow = j->w, ldc = c->n_padded;
    const float *bias = c->bias + (size_t)p * nr;
    for (int t = 0; t < count; t++) {
        const int tile = t0 + t, b = tile / per_image, rem = tile % per_image;
        const int oy0 = (rem / j->tw) * T4, ox0 = (rem % j->tw) * T4;
        for (int k0 = 0; k0 < nr; k0 += CB) {
            float tmp[T4][T6][CB], y[T4][T4][CB];
            for (int x = 0; x < T6; x++) /* columns: tmp = A^T M */
                for (int k = 0; k < CB; k++) {
#define M(row) m[((size_t)((row) * T6 + x) * tb_pad + t) * nr + k0 + k]
                    float m0 = M(0), m1 = M(1), m2 = M(2), m3 = M(3), m4 = M(4), m5 = M(5);
#undef M
                    tmp[0][x][k] = m0 + m1 + m2 + m3 + m4;
                    tmp[1][x][k] = m1 - m2 + 2.0f * (m3 - m4);
                    tmp[2][x][k] = m1 + m2 + 4.0f * (m3 + m4);
                    tmp[3][x][k] = m1 - m2 + 8.0f * (m3 - m4) + m5;
                }
            for (int i = 0; i < T4; i++) /* rows: Y = tmp A */
                for (int k = 0; k < CB; k++) {
                    float m0 = tmp[i][0][k], m1 = tmp[i][1][k], m2 = tmp[i][2][k], m3 = tmp[i][3][k],
                          m4 = tmp[i][4][k], m5 = tmp[i][5][k], bk = bias[k0 + k];
                    y[i][0][k] = m0 + m1 + m2 + m3 + m4 + bk;
                    y[i][1][k] = m1 - m2 + 2.0f * (m3 - m4) + bk;
                    y[i][2][k] = m1 + m2 + 4.0f * (m3 + m4) + bk;
                    y[i][3][k] = m1 - m2 + 8.0f * (m3 - m4) + m5 + bk;
                }
            for (int i = 0; i < T4 && oy0 + i < oh; i++)
                for (int jj = 0; jj < T4 && ox0 + jj < ow; jj++) {
                    float *o = j->out + (((size_t)b * oh + oy0 + i) * ow + ox0 + jj) * ldc + (size_t)p * nr + k0;
                    const float *rs = j->res ? j->res + (o - j->out) : NULL;
                    for (int k = 0; k < CB; k++) {
                        float val = y[i][jj][k] + (rs ? rs[k] : 0.0f);
                        o[k] = j->relu && val < 0.0f ? 0.0f : val;
                    }
                }
        }
    }
}

static void wino_task(void *ctx, int task, int thread) {
    const wino_job *j = ctx;
    const rn_conv *c = j->c;
    const rn_kernel_config *kc = j->ex->kc;
    const int mr = kc->mr, nr = kc->nr, cin = c->cin;
    const int bt = task / j->n_split, nt = task % j->n_split;
    const int t0 = bt * j->tb, count = j->tiles - t0 < j->tb ? j->tiles - t0 : j->tb;
    const int groups = (count + mr - 1) / mr, tb_pad = groups * mr;
    const int p0 = (int)((long)j->panels * nt / j->n_split), p1 = (int)((long)j->panels * (nt + 1) / j->n_split);
    float *v = j->ex->scratch[thread];
    float *m = v + (size_t)E * tb_pad * cin;
    static const float zeros[64]; /* the GEMM adds no bias: it comes after the output transform */

    input_transform(j, t0, count, groups, v);
    for (int p = p0; p < p1; p++) {
        for (int e = 0; e < E; e++) {
            const float *u = c->w + ((size_t)e * j->panels + p) * cin * nr;
            for (int g = 0; g < groups; g++) {
                int rows = count - g * mr < mr ? count - g * mr : mr;
                kc->gemm(rows, cin, v + ((size_t)e * groups + g) * cin * mr, u,
                         m + ((size_t)e * tb_pad + (size_t)g * mr) * nr, (size_t)nr, zeros, NULL, 0,
                         RN_UK_INIT_BIAS | RN_UK_FINAL);
            }
        }
        output_transform(j, t0, count, tb_pad, p, m);
    }
}

void rn_winograd_forward(const rn_exec *ex, const rn_conv *c, const float *in, int n, int h, int w, float *out,
                         const float *residual, int relu) {
    wino_job j = {ex, c, in, out, residual, n, h, w, (h + 3) / 4, (w + 3) / 4, 0, rn_winograd_tile_block(ex->kc), 1,
                  c->n_padded / ex->kc->nr, relu};
    j.tiles = n * j.th * j.tw;
    const int blocks = (j.tiles + j.tb - 1) / j.tb;
    const int want = 4 * rn_pool_size(ex->pool);
    while (blocks * j.n_split < want && j.n_split * 2 <= j.panels) j.n_split *= 2;
    rn_pool_run(ex->pool, blocks * j.n_split, wino_task, &j);
}
