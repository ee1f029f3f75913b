/* winograd.c - 3x3 stride-1 convolutions by Winograd's minimal filtering, F(T x T, 3x3) with
 * T = 4 or 2 (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
 *
 * Each T x T block of output pixels ("tile") comes from an S x S window of input, S = T + 2.
 * With
 *   V = B^T d B  (input window, per channel),  U = G g G^T  (3x3 filter, per channel pair),
 *   Y = A^T [ sum_c U .* V ] A,
 * the E = S^2 positions e of the transformed domain are E independent GEMMs
 *   M[e] (tiles x cout) = V[e] (tiles x cin) * U[e] (cin x cout),
 * which run on the same micro-kernel as every other convolution. Per channel pair a tile
 * costs E multiply-adds instead of 9 T^2: F(4x4) 36 for 144 (4x fewer), F(2x2) 16 for 36
 * (2.25x), paid for with the transforms and with U being E/9 times the filter's size (4x,
 * 1.8x). conv.c picks which (memory decides: see rn_conv_init). The transformed values are
 * sums of differences, so fp32 rounding grows a little: tests/test_golden.c measures the
 * logits on every path.
 *
 * Layout: U is packed like conv.c's B, NR-wide panels, for each panel the E sets of e, so
 * a task reads its panels' U front to back. First every tile is input-transformed into
 * V[e][tile][cin] in the shared work buffer (row-major: the micro-kernel reads a tile's row by
 * pointer), split across the pool (but fused, below). Then the GEMMs, cut one of two ways:
 *  - by tiles (the default): each task takes a block of tiles and a range of panels (plan.c),
 *    multiplies one NR panel at a time into M[e][tile][NR] (its own scratch) and
 *    output-transforms it with bias, residual and ReLU. Where a block's V is small
 *    (FUSED_V_FLOATS: ResNet-50's layer1) the task transforms its block itself, into its
 *    scratch, just before the GEMMs, and takes all the panels: V (1.8 MB for all of layer1)
 *    then never leaves the core's L2. Larger, the block's V would not stay there, and
 *    smaller blocks would stream U once more each.
 *  - by positions, when every tile fits one block, there are threads to share it and U is
 *    more than POSITIONS_MIN_U_BYTES (in fp32 the 14x14 layers at batch 1: F(2x2) at 256
 *    channels, 4.2 MB; with the wide option F(4x4) there, 9.4 MB): cut by tiles, each
 *    thread would stream all of U for its half of the rows. Each task takes one row of the
 *    window's positions and a range of panels instead, every tile, into M[e][tile][n_padded]
 *    in the work buffer, so each thread reads only its positions' U; a third phase
 *    output-transforms the tiles. The threads then trade V and M, each half written by the
 *    other core: on a Zen 5 at 2 threads that pays for fp32's layer3 and no longer for
 *    layer2 (2.4 MB in fp32) or for bf16 at ResNet-50's widths (half the bytes; the wide
 *    option's 512-channel F(2x2) still takes it), which the tiles' split takes 1-10% faster
 *    (docs/performance.md). With 196 tiles (layer1) it was slower: there the tiles' split
 *    already gives each thread whole blocks.
 * The transforms themselves are per instruction set (kernels/winograd_c.c and its
 * siblings): the network's code says what, the kernels how. */
#include "ops/conv.h"

#include <string.h>
#include "common.h"
#include "ops/plan.h"

enum {
    MAX_E = 36,
    TB_MAX = 60,              /* tiles per GEMM task at most: a multiple of every MR (4, 6, 12) */
    TILES_PER_INPUT_TASK = 8, /* small tasks: the threads finish the input transforms together */
    MAX_S = 6,                /* the window's side at most */
    TILES_PER_OUTPUT_TASK = 4, /* split by positions: the third phase's tasks */
    /* split by positions only where U is more than this: smaller, a thread streams all of it
     * faster than the threads trade V and M (see the top) */
    POSITIONS_MIN_U_BYTES = 3 << 20,
    /* A block's V at most, in floats, for it to be transformed in the worker's own scratch
     * (fused): F(4x4)'s 36 positions x TB_MAX tiles x 64 channels, 540 KB (layer1's), or
     * F(2x2)'s 16 x TB_MAX x 144. */
    FUSED_V_FLOATS = MAX_E * TB_MAX * 64,
};

static int window(const rn_conv *c) { return c->winograd + 2; }

/* Where a batch whose tiles all fit one block may be split by positions: U is large. */
static int u_is_large(const rn_conv *c) {
    const size_t u_bytes = (size_t)window(c) * window(c) * c->cin * c->n_padded * (c->w16 ? 2 : 4);
    return u_bytes > POSITIONS_MIN_U_BYTES;
}

static int tiles_of(const rn_conv *c, int n, int h, int w) {
    const int t = c->winograd;
    return n * ((h + t - 1) / t) * ((w + t - 1) / t);
}

int rn_winograd_by_positions(const rn_conv *c, int n, int h, int w, int threads) {
    return threads > 1 && tiles_of(c, n, h, w) <= TB_MAX && u_is_large(c);
}

/* M for one block of tiles and one panel, in floats. */
static size_t m_floats(const rn_kernel_config *kc, int t) { return (size_t)(t + 2) * (t + 2) * TB_MAX * kc->nr; }

/* V's room for `tiles` tiles, in floats (bf16: half as many), rounded up to a cache line. */
static size_t v_floats(const rn_conv *c, int tiles) {
    const size_t v = (size_t)(c->winograd + 2) * (c->winograd + 2) * tiles * c->cin;
    return ((c->w16 ? (v + 1) / 2 : v) + 15) / 16 * 16;
}

/* Whether a GEMM task may transform its own block, into its scratch: a block's V is at most
 * FUSED_V_FLOATS (rn_winograd_forward also wants a block per thread). */
static int fusable(const rn_conv *c) {
    return (size_t)window(c) * window(c) * TB_MAX * c->cin <= FUSED_V_FLOATS;
}

/* Per worker: M for one block of tiles and one panel; if fusable, a block's V after it; then
 * (bf16) one tile's V in fp32, for the input transform. */
size_t rn_winograd_scratch_floats(const rn_kernel_config *kc, const rn_conv *c) {
    const size_t one = c->w16 ? (size_t)window(c) * window(c) * c->cin : 0;
    return m_floats(kc, c->winograd) + (fusable(c) ? v_floats(c, TB_MAX) : 0) + one;
}

/* Shared: V for every tile of the batch, then M where the batch is split by positions (every
 * tile in one block). The work buffer serves every batch up to n, so M's room is for the most
 * tiles at most TB_MAX that a batch of n or fewer images has. */
size_t rn_winograd_work_floats(const rn_conv *c, int n, int h, int w) {
    const int t = c->winograd, s = t + 2, per_image = ((h + t - 1) / t) * ((w + t - 1) / t);
    const int images = per_image > TB_MAX || !u_is_large(c) ? 0 : n < TB_MAX / per_image ? n : TB_MAX / per_image;
    return v_floats(c, n * per_image) + (size_t)s * s * images * per_image * c->n_padded;
}

/* G for F(4x4, 3x3) and F(2x2, 3x3): U = G g G^T, S x 3. */
static const double G4[6][3] = {{1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                {-1.0 / 6, 1.0 / 6, -1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};

/* U = G g G^T for one 3x3 filter, in double. */
static void filter_transform(const double (*G)[3], int s, const float g[9], double *u) {
    double t[6][3];
    for (int i = 0; i < s; i++)
        for (int x = 0; x < 3; x++)
            t[i][x] = G[i][0] * g[0 * 3 + x] + G[i][1] * g[1 * 3 + x] + G[i][2] * g[2 * 3 + x];
    for (int i = 0; i < s; i++)
        for (int j = 0; j < s; j++) u[i * s + j] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
}

/* bf16: U in bf16 pairs of input channels (cin is a multiple of 8), in the same panel order,
 * for kc->gemm_bf16; the input transform stays fp32 and its V is rounded to bf16 as it is
 * stored. */
int rn_winograd_pack(rn_conv *c, const rn_kernel_config *kc, const float *w_oihw, int bf16) {
    const int nr = kc->nr, s = window(c), e_count = s * s;
    const size_t count = (size_t)e_count * c->cin * c->n_padded;
    if (bf16) {
        if (!(c->w16 = rn_aligned_alloc(count * sizeof(uint16_t)))) return -1;
        memset(c->w16, 0, count * sizeof(uint16_t));
    } else {
        if (!(c->w = rn_aligned_alloc(count * sizeof(float)))) return -1;
        memset(c->w, 0, count * sizeof(float));
    }
    for (int o = 0; o < c->cout; o++)
        for (int ci = 0; ci < c->cin; ci++) {
            double u[MAX_E];
            filter_transform(c->winograd == 4 ? G4 : G2, s, w_oihw + ((size_t)o * c->cin + ci) * 9, u);
            for (int e = 0; e < e_count; e++) {
                const size_t panel = ((size_t)(o / nr) * e_count + e) * c->cin * nr;
                if (bf16) c->w16[panel + ((size_t)(ci / 2) * nr + o % nr) * 2 + ci % 2] = rn_bf16_from_f32((float)u[e]);
                else c->w[panel + (size_t)ci * nr + o % nr] = (float)u[e];
            }
        }
    return 0;
}

typedef struct wino_job {
    const rn_exec *ex;
    const rn_conv *c;
    const rn_wino_transforms *tf;
    const float *in;
    float *out;
    const float *res;
    int n, h, w, t, s, e_count, th, tw, tiles, tb, relu;
    int fused; /* each GEMM task transforms its own block (FUSED_V_FLOATS) */
    rn_plan plan; /* blocks of at most TB_MAX tiles x panel ranges */
} wino_job;

/* The GEMMs' bias: none, it comes after the output transform (NR floats at most). */
static const float zeros[64];

/* Padding pixels of the input windows. */
static const float zero_px[RN_WINOGRAD_WIDE_MAX_CHANNELS];

/* Where tile `tile` starts: its image and top-left output pixel. */
static void tile_origin(const wino_job *j, int tile, int *b, int *y0, int *x0) {
    const int per_image = j->th * j->tw, rem = tile % per_image;
    *b = tile / per_image;
    *y0 = (rem / j->tw) * j->t;
    *x0 = (rem % j->tw) * j->t;
}

/* The first phase's tasks: each GEMM block of tiles in parts of TILES_PER_INPUT_TASK (the last
 * block's last parts may be empty), block by block, so that split by tiles both phases cut
 * the tiles in the same order: the thread whose share of the tasks holds a block's transforms is the one that
 * multiplies the block (threadpool.c), and V stays in its cache. */
static int input_parts(const wino_job *j) { return (j->tb + TILES_PER_INPUT_TASK - 1) / TILES_PER_INPUT_TASK; }

/* V[e][tile][cin] for tiles t0..t0+count into `to` (fp32, or bf16 for a bf16 convolution),
 * tile t at row t - first of each position's `ld` rows: row `tile` of GEMM e is one tile's
 * transformed window. `one`: room for one tile's V in fp32 (E x cin), for bf16. */
static void transform_tiles(const wino_job *j, int t0, int count, void *to, int first, int ld, float *one) {
    const int cin = j->c->cin, s = j->s;
    float *v = to;
    uint16_t *v16 = to;
    for (int t = t0; t < t0 + count; t++) {
        int b, y0, x0;
        tile_origin(j, t, &b, &y0, &x0);
        const float *img = j->in + (size_t)b * j->h * j->w * cin;
        const float *d[MAX_E];
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++) {
                int iy = y0 - 1 + y, ix = x0 - 1 + x;
                d[y * s + x] = iy >= 0 && iy < j->h && ix >= 0 && ix < j->w ? img + ((size_t)iy * j->w + ix) * cin
                                                                            : zero_px;
            }
        if (!j->c->w16) {
            j->tf->input(d, cin, v + (size_t)(t - first) * cin, (size_t)ld * cin);
            continue;
        }
        j->tf->input(d, cin, one, (size_t)cin);
        for (int e = 0; e < j->e_count; e++)
            j->ex->kc->to_bf16(one + (size_t)e * cin, cin, v16 + ((size_t)e * ld + t - first) * cin);
    }
}

/* One task of the first phase: a part of a block's tiles. */
static void input_task(void *ctx, int task, int thread) {
    const wino_job *j = ctx;
    const int parts = input_parts(j);
    int b0, in_block;
    rn_plan_block(&j->plan, task / parts, &b0, &in_block);
    const int b1 = b0 + in_block;
    const int t0 = b0 + task % parts * TILES_PER_INPUT_TASK;
    const int count = b1 - t0 < TILES_PER_INPUT_TASK ? b1 - t0 : TILES_PER_INPUT_TASK;
    transform_tiles(j, t0, count, j->ex->work, 0, j->tiles, j->ex->scratch[thread]);
}

/* Where tile `tile`'s T x T output pixels go, from channel `col` on: out[] and res[] (NULL
 * past the image's edge, and res for no residual). */
static void tile_outputs(const wino_job *j, int tile, size_t col, float *out[16], const float *res[16]) {
    const int tt = j->t;
    int b, y0, x0;
    tile_origin(j, tile, &b, &y0, &x0);
    for (int i = 0; i < tt; i++)
        for (int jj = 0; jj < tt; jj++) {
            const int y = y0 + i, x = x0 + jj, inside = y < j->h && x < j->w;
            const size_t at = (((size_t)b * j->h + y) * j->w + x) * j->c->n_padded + col;
            out[i * tt + jj] = inside ? j->out + at : NULL;
            res[i * tt + jj] = inside && j->res ? j->res + at : NULL;
        }
}

/* Y = A^T M A (+ bias, residual, ReLU) for the block's tiles, the NR channels of panel p. */
static void output_transform(const wino_job *j, int t0, int count, int p, const float *m) {
    const int nr = j->ex->kc->nr;
    for (int t = 0; t < count; t++) {
        float *out[16];
        const float *res[16];
        tile_outputs(j, t0 + t, (size_t)p * nr, out, res);
        j->tf->output(m + (size_t)t * nr, (size_t)j->tb * nr, nr, j->c->bias + (size_t)p * nr, out, res, j->relu);
    }
}

/* The second phase: the E GEMMs and the output transform for one block of tiles and a
 * range of panels. Fused: the block's input transform first, into the worker's scratch. */
static void gemm_task(void *ctx, int task, int thread) {
    const wino_job *j = ctx;
    const rn_conv *c = j->c;
    const rn_kernel_config *kc = j->ex->kc;
    const int mr = kc->mr, nr = kc->nr, cin = c->cin, tb = j->tb, e_count = j->e_count;
    int t0, count, p0, p1;
    rn_plan_task(&j->plan, task, &t0, &count, &p0, &p1);
    float *m = j->ex->scratch[thread];
    /* V's rows: tile t of position e at (e * ld + t - first) * cin */
    const float *v = j->ex->work;
    int first = 0, ld = j->tiles;
    if (j->fused) {
        float *local = m + m_floats(kc, j->t);
        transform_tiles(j, t0, count, local, t0, tb, local + v_floats(c, TB_MAX));
        v = local, first = t0, ld = tb;
    }
    const uint16_t *v16 = (const uint16_t *)v;
    const float *rows[TB_MAX];
    const uint16_t *rows16[TB_MAX];

    for (int p = p0; p < p1; p++) {
        for (int e = 0; e < e_count; e++) {
            const size_t panel = ((size_t)p * e_count + e) * cin * nr;
            for (int t = 0; t < tb; t++) {
                const size_t at = ((size_t)e * ld + t0 - first + (t < count ? t : count - 1)) * cin;
                rows[t] = v + at;
                rows16[t] = v16 + at;
            }
            for (int i = 0; i < count; i += mr) {
                const int flags = RN_UK_INIT_BIAS | RN_UK_FINAL | (i == 0 ? RN_UK_PREFETCH_NEXT_B : 0);
                float *mt = m + ((size_t)e * tb + i) * nr;
                if (c->w16)
                    kc->gemm_bf16(count - i < mr ? count - i : mr, cin, rows16 + i, c->w16 + panel, mt, (size_t)nr,
                                  zeros, NULL, 0, flags);
                else
                    kc->gemm(count - i < mr ? count - i : mr, cin, rows + i, c->w + panel, mt, (size_t)nr, zeros,
                             NULL, 0, flags);
            }
        }
        output_transform(j, t0, count, p, m);
    }
}

/* Split by positions, the second phase: the S positions e of one row of the window (e = i * S
 * + column), every tile, a range of panels, into the shared M[e][tile][n_padded]. Panel by
 * panel, so that U is read in the order it is stored (a panel's positions one after another). */
static void position_task(void *ctx, int task, int thread) {
    (void)thread;
    const wino_job *j = ctx;
    const rn_conv *c = j->c;
    const rn_kernel_config *kc = j->ex->kc;
    const int mr = kc->mr, nr = kc->nr, cin = c->cin, ldm = c->n_padded, split = j->plan.n_split;
    const int e0 = task / split * j->s, e1 = e0 + j->s;
    const int p0 = (int)((long)j->plan.panels * (task % split) / split);
    const int p1 = (int)((long)j->plan.panels * (task % split + 1) / split);
    const float *v = j->ex->work;
    const uint16_t *v16 = (const uint16_t *)j->ex->work;
    float *m = j->ex->work + v_floats(c, j->tiles);
    const float *rows[MAX_S][TB_MAX];
    const uint16_t *rows16[MAX_S][TB_MAX];
    for (int e = e0; e < e1; e++)
        for (int t = 0; t < j->tb; t++) {
            const size_t at = ((size_t)e * j->tiles + (t < j->tiles ? t : j->tiles - 1)) * cin;
            rows[e - e0][t] = v + at;
            rows16[e - e0][t] = v16 + at;
        }
    for (int p = p0; p < p1; p++)
        for (int e = e0; e < e1; e++) {
            const size_t panel = ((size_t)p * j->e_count + e) * cin * nr;
            for (int i = 0; i < j->tiles; i += mr) { /* after (p, e1 - 1) in memory: another task's positions */
                const int flags = RN_UK_INIT_BIAS | RN_UK_FINAL | (i == 0 && e + 1 < e1 ? RN_UK_PREFETCH_NEXT_B : 0);
                const int here = j->tiles - i < mr ? j->tiles - i : mr;
                float *mt = m + ((size_t)e * j->tiles + i) * ldm + (size_t)p * nr;
                if (c->w16)
                    kc->gemm_bf16(here, cin, rows16[e - e0] + i, c->w16 + panel, mt, (size_t)ldm, zeros, NULL, 0, flags);
                else
                    kc->gemm(here, cin, rows[e - e0] + i, c->w + panel, mt, (size_t)ldm, zeros, NULL, 0, flags);
            }
        }
}

/* Split by positions, the third phase: Y = A^T M A (+ bias, residual, ReLU) for
 * TILES_PER_OUTPUT_TASK tiles, every channel. */
static void output_task(void *ctx, int task, int thread) {
    (void)thread;
    const wino_job *j = ctx;
    const int ldm = j->c->n_padded;
    const float *m = j->ex->work + v_floats(j->c, j->tiles);
    for (int t = task * TILES_PER_OUTPUT_TASK; t < j->tiles && t < (task + 1) * TILES_PER_OUTPUT_TASK; t++) {
        float *out[16];
        const float *res[16];
        tile_outputs(j, t, 0, out, res);
        j->tf->output(m + (size_t)t * ldm, (size_t)j->tiles * ldm, ldm, j->c->bias, out, res, j->relu);
    }
}

void rn_winograd_forward(const rn_exec *ex, const rn_conv *c, const float *in, int n, int h, int w, float *out,
                         const float *residual, int relu) {
    const int t = c->winograd, s = t + 2, mr = ex->kc->mr;
    wino_job j = {ex, c, t == 4 ? &ex->kc->wino_f4 : &ex->kc->wino_f2, in, out, residual, n, h, w, t, s, s * s,
                  (h + t - 1) / t, (w + t - 1) / t, 0, 0, relu, 0, {0}};
    j.tiles = tiles_of(c, n, h, w);
    const int threads = rn_pool_threads(ex->pool), panels = c->n_padded / ex->kc->nr;
    if (rn_winograd_by_positions(c, n, h, w, threads)) {
        j.plan = rn_plan_make(j.tiles, TB_MAX, mr, panels, 1, 0);
        j.tb = j.plan.block;
        /* a row of positions in panel ranges: enough tasks that a late thread's can be taken */
        for (j.plan.n_split = 1; s * j.plan.n_split < 8 * threads && j.plan.n_split * 2 <= panels;) j.plan.n_split *= 2;
        rn_pool_run(ex->pool, input_parts(&j), input_task, &j);
        rn_pool_run(ex->pool, s * j.plan.n_split, position_task, &j);
        rn_pool_run(ex->pool, (j.tiles + TILES_PER_OUTPUT_TASK - 1) / TILES_PER_OUTPUT_TASK, output_task, &j);
        return;
    }
    /* The GEMMs' rows are the tiles, in blocks within an MR tile of one another. Fused, a task
     * is a whole block: too few blocks for the threads (many threads, few tiles), and the
     * blocks are cut by panels instead, transformed once beforehand. */
    j.fused = fusable(c);
    if (j.fused) j.plan = rn_plan_make(j.tiles, TB_MAX, mr, panels, threads, RN_PLAN_ROWS_FIRST | RN_PLAN_WHOLE_ROWS);
    if (!j.fused || j.plan.blocks < threads) {
        j.fused = 0;
        j.plan = rn_plan_make(j.tiles, TB_MAX, mr, panels, threads, RN_PLAN_ROWS_FIRST);
    }
    j.tb = j.plan.block;
    if (!j.fused) rn_pool_run(ex->pool, j.plan.blocks * input_parts(&j), input_task, &j);
    rn_pool_run(ex->pool, j.plan.tasks, gemm_task, &j);
}
