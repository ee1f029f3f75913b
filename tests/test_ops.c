/* test_ops.c - every operator against a naive loop version, on random shapes (odd
 * sizes, padding edges, M/N/K tails), for every kernel path this CPU can run. */
#include <math.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdatomic.h>

#include "testutil.h"
#include "common.h"
#include "ops/conv.h"
#include "ops/plan.h"
#include "ops/exec.h"
#include "ops/pool.h"
#include "emulated_kernels.h"

static unsigned rng_state = 1;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffffff) / 8388608.0f - 1.0f;
}
static int irand(int lo, int hi) { rng_state = rng_state * 1664525u + 1013904223u; return lo + (int)((rng_state >> 8) % (unsigned)(hi - lo + 1)); }

static float *rand_buf(size_t n) {
    float *p = rn_aligned_alloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = frand();
    return p;
}

/* The definition of a convolution, in double: NHWC input, OIHW weights. */
static void naive_conv(const float *in, int n, int h, int w, int cin, const float *wt, const float *bias,
                       int cout, int ks, int stride, int pad, const float *res, int relu, double *out,
                       int oh, int ow) {
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                for (int o = 0; o < cout; o++) {
                    double acc = bias ? bias[o] : 0.0;
                    for (int ky = 0; ky < ks; ky++)
                        for (int kx = 0; kx < ks; kx++) {
                            int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            for (int ci = 0; ci < cin; ci++)
                                acc += (double)in[(((size_t)b * h + iy) * w + ix) * cin + ci] *
                                       wt[(((size_t)o * cin + ci) * ks + ky) * ks + kx];
                        }
                    size_t idx = (((size_t)b * oh + oy) * ow + ox) * cout + o;
                    if (res) acc += res[idx];
                    if (relu && acc < 0) acc = 0;
                    out[idx] = acc;
                }
}

typedef struct { int n, h, w, cin, cout, ks, stride, pad, residual, relu; } conv_case;

/* work_n: the work buffer is sized for a batch of that many (a session's largest), the
 * convolution runs t->n. */
static void check_conv_work(const rn_kernel_config *kc, rn_pool *pool, const conv_case *t, unsigned flags, int work_n) {
    rn_conv conv;
    size_t wn = (size_t)t->cout * t->cin * t->ks * t->ks;
    float *wt = rand_buf(wn), *bias = rand_buf((size_t)t->cout);
    CHECK(rn_conv_init(&conv, kc, t->cin, t->cout, t->ks, t->ks, t->stride, t->pad, wt, bias, flags) == 0, "init");
    int oh, ow;
    rn_conv_out_size(&conv, t->h, t->w, &oh, &ow);
    size_t in_n = (size_t)t->n * t->h * t->w * t->cin, out_px = (size_t)t->n * oh * ow;
    float *in = rand_buf(in_n);
    /* The kernel writes n_padded columns per row; the reference has cout. */
    float *out = rn_aligned_alloc(out_px * conv.n_padded * sizeof(float));
    float *res = t->residual ? rand_buf(out_px * conv.n_padded) : NULL;
    float *res_dense = NULL;
    if (res) {
        res_dense = malloc(out_px * t->cout * sizeof(float));
        for (size_t p = 0; p < out_px; p++)
            for (int o = 0; o < t->cout; o++) res_dense[p * t->cout + o] = res[p * conv.n_padded + o];
    }
    double *ref = malloc(out_px * t->cout * sizeof(double));
    naive_conv(in, t->n, t->h, t->w, t->cin, wt, bias, t->cout, t->ks, t->stride, t->pad, res_dense, t->relu,
               ref, oh, ow);
    float *scratch[64];
    for (int i = 0; i < rn_pool_size(pool); i++) scratch[i] = rn_aligned_alloc(rn_conv_scratch_floats(kc, &conv) * 4);
    const size_t work_floats = rn_conv_work_floats(&conv, work_n, t->h, t->w);
    float *work = work_floats ? rn_aligned_alloc(work_floats * sizeof(float)) : NULL;
    rn_exec ex = {kc, pool, scratch, work};
    rn_conv_forward(&ex, &conv, in, t->n, t->h, t->w, out, res, t->relu);
    /* a 1x1 done in one depth chunk may write its sum over its residual (a block's last conv
     * does, arch.h): the same bits as into a buffer of its own */
    if (res && t->ks == 1 && t->cin <= RN_CONV_DEPTH_CHUNK) {
        float *over = rn_aligned_alloc(out_px * conv.n_padded * sizeof(float));
        memcpy(over, res, out_px * conv.n_padded * sizeof(float));
        rn_conv_forward(&ex, &conv, in, t->n, t->h, t->w, over, over, t->relu);
        size_t differ = 0;
        for (size_t p = 0; p < out_px; p++)
            for (int o = 0; o < t->cout; o++) differ += over[p * conv.n_padded + o] != out[p * conv.n_padded + o];
        CHECK(differ == 0, "%s n=%d %dx%d cin=%d cout=%d: %zu values differ written over the residual",
              resnet_kernels_name(kc->id), t->n, t->h, t->w, t->cin, t->cout, differ);
        rn_aligned_free(over);
    }
    rn_aligned_free(work);
    double worst = 0;
    for (size_t p = 0; p < out_px; p++)
        for (int o = 0; o < t->cout; o++) {
            double ref_v = ref[p * t->cout + o];
            double e = fabs(out[p * conv.n_padded + o] - ref_v) / (1.0 + fabs(ref_v));
            if (e > worst) worst = e;
        }
    /* Winograd's transforms add and subtract values up to ~8x larger: a looser bound */
    double tol = (conv.winograd ? 1e-5 : 1e-6) * (t->cin * t->ks * t->ks + 16);
    CHECK(worst <= tol, "%s%s%s n=%d %dx%d cin=%d cout=%d k=%d s=%d p=%d res=%d relu=%d: rel err %.3g > %.3g",
          resnet_kernels_name(kc->id), conv.winograd ? " winograd F" : "", conv.winograd == 4 ? "4" : conv.winograd ? "2" : "", t->n, t->h, t->w, t->cin, t->cout, t->ks, t->stride, t->pad,
          t->residual, t->relu, worst, tol);
    for (int i = 0; i < rn_pool_size(pool); i++) rn_aligned_free(scratch[i]);
    rn_conv_free(&conv);
    rn_aligned_free(wt); rn_aligned_free(bias); rn_aligned_free(in); rn_aligned_free(out); rn_aligned_free(res);
    free(res_dense); free(ref);
}

static void check_conv_flags(const rn_kernel_config *kc, rn_pool *pool, const conv_case *t, unsigned flags) {
    check_conv_work(kc, pool, t, flags, t->n);
}

/* Every case four ways: direct, by the algorithm conv.c picks (Winograd F(4x4) or F(2x2)
 * where it may), with F(2x2) wherever Winograd applies, and as the wide option picks. */
static void check_conv(const rn_kernel_config *kc, rn_pool *pool, const conv_case *t) {
    check_conv_flags(kc, pool, t, RN_CONV_DIRECT);
    check_conv_flags(kc, pool, t, RN_CONV_F2);
    check_conv_flags(kc, pool, t, 0);
    check_conv_flags(kc, pool, t, RN_CONV_WIDE);
}

static const resnet_kernels paths[] = {RESNET_KERNELS_C, RESNET_KERNELS_AVX2, RESNET_KERNELS_AVX512};

/* The portable kernel's plain-loop version (-DRN_PLAIN_LOOPS, see Makefile). */
void rn_f32_gemm_6x8__c_plain(int mr, int kc, const float *const *a, const float *b, float *c, size_t ldc,
                              const float *bias, const float *res, size_t ldr, int flags);
RN_TEST_FAMILY(c_plain, RESNET_KERNELS_C, 6, 8, rn_f32_gemm_6x8__c_plain, rn_gconv_16__c, 16, 4);

static void run_threads(void (*fn)(const rn_kernel_config *, rn_pool *), const rn_kernel_config *kc,
                        const int *threads) {
    for (int i = 0; threads[i]; i++) {
        rn_pool *pool = rn_pool_create(threads[i]);
        fn(kc, pool);
        rn_pool_free(pool);
    }
}

/* fn on every kernel path, on pools of each size in `threads` (0-terminated). */
static void for_each_path_on(void (*fn)(const rn_kernel_config *, rn_pool *), const int *threads) {
    printf("     (and the portable kernel's plain-loop version)\n");
    run_threads(fn, &c_plain, threads);
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        const rn_kernel_config *kc = rn_kernels_select(paths[i]);
#if defined(RN_HAVE_X86)
        if (!kc && paths[i] == RESNET_KERNELS_AVX512) {
            printf("     (no AVX-512 on this CPU: its kernel runs on emulated intrinsics)\n");
            kc = &avx512_emulated;
        }
#endif
        if (!kc) {
            printf("     (kernel path %s not available on this CPU: skipped)\n", resnet_kernels_name(paths[i]));
            continue;
        }
        run_threads(fn, kc, threads);
    }
}

static void for_each_path(void (*fn)(const rn_kernel_config *, rn_pool *)) {
    static const int threads[] = {1, 3, 0};
    for_each_path_on(fn, threads);
}

static void conv_shapes(const rn_kernel_config *kc, rn_pool *pool) {
    /* the layer shapes of ResNet-50, shrunk, plus the edges */
    static const conv_case fixed[] = {
        {1, 23, 17, 3, 16, 7, 2, 3, 0, 1},   /* the stem: cin 3, 7x7/2, pad 3 */
        {2, 5, 4, 3, 8, 7, 1, 3, 1, 1},      /* a window wider than the image: clipped on both sides */
        {1, 9, 11, 12, 20, 7, 2, 3, 1, 1},   /* im2col deeper than a chunk (7x7x12 = 588 > KC) */
        {2, 9, 9, 64, 64, 3, 1, 1, 0, 1},    /* 3x3 with padding, batch 2 */
        {1, 7, 7, 32, 64, 3, 2, 1, 0, 1},    /* v1.5 strided 3x3 */
        {1, 8, 8, 64, 128, 1, 2, 0, 0, 0},   /* strided 1x1 (v1, downsample) */
        {1, 7, 7, 48, 64, 1, 1, 0, 1, 1},    /* 1x1 + residual + relu */
        {2, 9, 7, 512, 96, 1, 1, 0, 1, 1},   /* the same a whole chunk deep (also over its residual) */
        {3, 1, 1, 600, 37, 1, 1, 0, 0, 0},   /* the fc: odd N (tail panel), K past one chunk */
        {1, 1, 1, 5, 3, 3, 1, 1, 0, 0},      /* 1x1 image with 3x3 window: all padding but the centre */
        {1, 1, 2, 32, 16, 3, 1, 1, 1, 1},    /* the same on the tap path: tiles skip the padding taps */
        {2, 7, 7, 48, 40, 3, 1, 1, 1, 1},    /* layer4's 7x7: row tiles wholly under the top/bottom padding */
        {1, 13, 11, 1100, 32, 1, 1, 0, 1, 0}, /* K spans three chunks, M tail */
        /* rows 4 KB apart, copied before the kernel reads them (conv.c, copy_rows) */
        {1, 5, 27, 1024, 40, 1, 1, 0, 1, 1},
        {2, 9, 7, 512, 48, 1, 2, 0, 0, 1},
        {1, 4, 3, 1024, 16, 3, 1, 1, 1, 0},  /* and with padding rows among them */
        /* Winograd F(4x4,3x3): partial tiles at the right and bottom, many tile blocks, residual */
        {2, 13, 7, 16, 40, 3, 1, 1, 1, 1},
        {1, 1, 1, 8, 8, 3, 1, 1, 0, 1},
        {1, 30, 29, 128, 128, 3, 1, 1, 0, 1},
        {3, 8, 8, 24, 72, 3, 1, 1, 0, 0},
        /* picked as F(2x2): 129..256 channels (layer3's 14x14, odd sizes, batch 3) */
        {1, 14, 14, 256, 256, 3, 1, 1, 1, 1},
        {3, 5, 9, 136, 200, 3, 1, 1, 0, 1},
        /* 257..512 channels: direct, or F(2x2) when wide (layer4's 7x7, a partial tile) */
        {1, 7, 7, 512, 512, 3, 1, 1, 1, 1},
        {2, 5, 6, 264, 512, 3, 1, 1, 0, 1},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) check_conv(kc, pool, &fixed[i]);
    for (int r = 0; r < 12; r++) {
        conv_case t;
        t.n = irand(1, 3); t.h = irand(1, 15); t.w = irand(1, 15); t.cin = irand(1, 70); t.cout = irand(1, 70);
        t.ks = irand(0, 2) * 2 + 1; t.stride = irand(1, 2); t.pad = irand(0, t.ks / 2);
        if (r % 3 == 0) { t.ks = 3; t.stride = 1; t.pad = 1; t.cin = 8 * irand(1, 8); } /* Winograd-eligible */
        t.residual = irand(0, 1); t.relu = irand(0, 1);
        if (t.h + 2 * t.pad < t.ks || t.w + 2 * t.pad < t.ks) t.pad = t.ks / 2;
        check_conv(kc, pool, &t);
    }
}

static void test_conv(void) { for_each_path(conv_shapes); }

/* Whether the Winograd driver splits t by positions on `threads` threads (winograd.c), so
 * that a case meant for one cut cannot drift to another unnoticed. */
static int by_positions(const rn_kernel_config *kc, const conv_case *t, unsigned flags, int threads) {
    rn_conv conv;
    float *wt = rand_buf((size_t)t->cout * t->cin * 9), *bias = rand_buf((size_t)t->cout);
    int got = -1;
    if (rn_conv_init(&conv, kc, t->cin, t->cout, 3, 3, 1, 1, wt, bias, flags) == 0) {
        got = conv.winograd ? rn_winograd_by_positions(&conv, t->n, t->h, t->w, threads) : -1;
        rn_conv_free(&conv);
    }
    rn_aligned_free(wt), rn_aligned_free(bias);
    return got;
}

/* The Winograd driver's ways of cutting the work (winograd.c), each on a shape that takes it:
 * blocks that transform their own tiles (fused: layer1's 56x56 at 64 channels; 63 tiles, so
 * a second block from tile 60 on; F(2x2) at 144 channels), blocks transformed first (28x28
 * at 128 channels: all 49 tiles in one block, U 2.4 MB), and the split by positions (2
 * threads or more, U past 3 MB: F(2x2) at 256 channels, and F(4x4) as the wide option picks
 * it); at 8 threads fused blocks too few for the threads, transformed first instead. */
static void winograd_shapes(const rn_kernel_config *kc, rn_pool *pool) {
    static const conv_case shapes[] = {
        {1, 56, 56, 64, 64, 3, 1, 1, 1, 1},
        {7, 9, 9, 16, 24, 3, 1, 1, 0, 1},
        {3, 13, 13, 144, 40, 3, 1, 1, 1, 0},
        {1, 28, 28, 128, 128, 3, 1, 1, 0, 1},
    };
    static const conv_case positions_f2 = {1, 7, 7, 256, 256, 3, 1, 1, 1, 1}, positions_f4 = {1, 9, 9, 96, 256, 3, 1, 1, 0, 1};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) check_conv_flags(kc, pool, &shapes[i], 0);
    CHECK(by_positions(kc, &shapes[3], 0, 2) == 0, "28x28 at 128 channels: split by positions");
    CHECK(by_positions(kc, &positions_f2, 0, 2) == 1 && by_positions(kc, &positions_f4, RN_CONV_WIDE, 2) == 1 &&
              by_positions(kc, &positions_f2, 0, 1) == 0,
          "the cases for the split by positions do not take it");
    check_conv_flags(kc, pool, &positions_f2, 0);
    check_conv_flags(kc, pool, &positions_f4, RN_CONV_WIDE);
    /* fewer images than the work buffer was planned for (a session's last, short batch): split
     * by positions, which the full batch would not be (98 tiles), so M needs room all the same */
    static const conv_case short_batch = {1, 13, 13, 200, 256, 3, 1, 1, 0, 1};
    const conv_case planned = {2, 13, 13, 200, 256, 3, 1, 1, 0, 1};
    CHECK(by_positions(kc, &short_batch, 0, 2) == 1 && by_positions(kc, &planned, 0, 2) == 0,
          "the short batch's case does not take the split by positions where the full one does not");
    check_conv_work(kc, pool, &short_batch, 0, 2);
}

static void test_winograd_paths(void) {
    static const int threads[] = {1, 2, 8, 0};
    for_each_path_on(winograd_shapes, threads);
}

/* The Winograd transforms of every path against the portable ones, bit for bit (each
 * instruction set's repeats the portable arithmetic operation for operation, kernels.h):
 * channel counts of one to many vectors, windows reaching into the zero padding, output
 * pixels past the image's edge (NULL, not written), with and without residual and ReLU,
 * window rows that cancel to exact zeros, and NaN in the bias (which ReLU must turn to 0,
 * as the portable code does). */
static void transforms_exact(const rn_kernel_config *kc, rn_pool *pool) {
    (void)pool;
    static const int counts[] = {8, 16, 24, 136, 256};
    enum { MAX_N = 256, E = 36, SLACK = 8 };
    static const float zero[MAX_N];
    float *img = rand_buf((size_t)E * MAX_N), *m = rand_buf((size_t)E * (MAX_N + SLACK)), *bias = rand_buf(MAX_N);
    float *res = rand_buf((size_t)16 * MAX_N);
    float *got = malloc((size_t)E * (MAX_N + SLACK) * sizeof(float)), *want = malloc((size_t)E * (MAX_N + SLACK) * sizeof(float));
    for (int i = 0; i < MAX_N; i += 5) m[i] = -0.0f, bias[i] = NAN;
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
        for (int f4 = 0; f4 < 2; f4++) {
            const int n = counts[c], s = f4 ? 6 : 4, t = s - 2, e_count = s * s;
            const rn_wino_transforms *tf = f4 ? &kc->wino_f4 : &kc->wino_f2;
            const rn_wino_transforms ref = f4 ? (rn_wino_transforms){rn_wino_f4_input__c, rn_wino_f4_output__c}
                                              : (rn_wino_transforms){rn_wino_f2_input__c, rn_wino_f2_output__c};
            const size_t stride = (size_t)n + SLACK, bytes = (size_t)E * stride * sizeof(float);
            const float *d[E];
            for (int e = 0; e < e_count; e++) /* every 7th pixel padding, the others pixels in any order */
                d[e] = e % 7 == 3 ? zero : img + (size_t)((e * 5) % E) * n;
            d[2 * s + 1] = d[1], d[s + 2] = d[s + 1]; /* rows and columns that cancel: d0 - d2, d1 - d2 */
            memset(got, 0x55, bytes), memset(want, 0x55, bytes);
            tf->input(d, n, got, stride);
            ref.input(d, n, want, stride);
            CHECK(memcmp(got, want, bytes) == 0, "%s F(%dx%d) input transform, %d channels: not the portable one's bits",
                  resnet_kernels_name(kc->id), t, t, n);
            for (int variant = 0; variant < 4; variant++) {
                const int relu = variant & 1, with_res = variant >> 1;
                float *out_got[16], *out_want[16];
                const float *rs[16];
                for (int i = 0; i < t * t; i++) {
                    const int inside = i % 3 != 2; /* some pixels past the image's edge */
                    out_got[i] = inside ? got + (size_t)i * stride : NULL;
                    out_want[i] = inside ? want + (size_t)i * stride : NULL;
                    rs[i] = with_res && i % 2 ? res + (size_t)i * n : NULL;
                }
                memset(got, 0x55, bytes), memset(want, 0x55, bytes);
                tf->output(m, stride, n, bias, out_got, rs, relu);
                ref.output(m, stride, n, bias, out_want, rs, relu);
                CHECK(memcmp(got, want, bytes) == 0,
                      "%s F(%dx%d) output transform, %d channels, relu %d, residual %d: not the portable one's bits",
                      resnet_kernels_name(kc->id), t, t, n, relu, with_res);
            }
        }
    rn_aligned_free(img), rn_aligned_free(m), rn_aligned_free(bias), rn_aligned_free(res);
    free(got), free(want);
}

static void test_winograd_transforms(void) {
    static const int one[] = {1, 0};
    for_each_path_on(transforms_exact, one);
}

/* Which algorithm each width gets, by default and with RN_CONV_WIDE (the load option
 * wide_winograd): one stage more of Winograd, never past 512 channels, never on other shapes. */
static void test_winograd_choice(void) {
    static const struct { int cin, cout, ks, stride; int normal, wide; } cases[] = {
        {64, 64, 3, 1, 4, 4},    {128, 128, 3, 1, 4, 4}, {128, 256, 3, 1, 2, 4}, {256, 256, 3, 1, 2, 4},
        {264, 264, 3, 1, 0, 2},  {512, 512, 3, 1, 0, 2}, {520, 512, 3, 1, 0, 0}, {1024, 1024, 3, 1, 0, 0},
        {256, 256, 3, 2, 0, 0},  {256, 256, 1, 1, 0, 0},
    };
    const rn_kernel_config *kc = rn_kernels_select(RESNET_KERNELS_C);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int cin = cases[i].cin, cout = cases[i].cout, ks = cases[i].ks;
        float *wt = rand_buf((size_t)cout * cin * ks * ks);
        for (int wide = 0; wide < 2; wide++) {
            rn_conv conv;
            CHECK(rn_conv_init(&conv, kc, cin, cout, ks, ks, cases[i].stride, ks / 2, wt, NULL,
                               wide ? RN_CONV_WIDE : 0) == 0, "init");
            const int want = wide ? cases[i].wide : cases[i].normal;
            CHECK(conv.winograd == want, "%d->%d %dx%d/%d%s: Winograd F(%d) picked, F(%d) expected", cin, cout, ks,
                  ks, cases[i].stride, wide ? " wide" : "", conv.winograd, want);
            rn_conv_free(&conv);
            CHECK(rn_conv_init(&conv, kc, cin, cout, ks, ks, cases[i].stride, ks / 2, wt, NULL,
                               RN_CONV_DIRECT | (wide ? RN_CONV_WIDE : 0)) == 0 && conv.winograd == 0,
                  "%d->%d: direct wins over wide", cin, cout);
            rn_conv_free(&conv);
        }
        rn_aligned_free(wt);
    }
}

/* ---- grouped convolutions (ResNeXt): the grouped kernel (gconv.c) and the GEMM path ---- */

/* The definition, in double: NHWC input, weights [cout][cin/groups][ks][ks], dilated taps. */
static void naive_gconv(const float *in, int n, int h, int w, int cin, int groups, const float *wt,
                        const float *bias, int cout, int ks, int stride, int pad, int dil, const float *res,
                        size_t ldr, int relu, double *out, int oh, int ow) {
    const int cin_g = cin / groups, cout_g = cout / groups;
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                for (int o = 0; o < cout; o++) {
                    double acc = bias[o];
                    for (int ky = 0; ky < ks; ky++)
                        for (int kx = 0; kx < ks; kx++) {
                            int iy = oy * stride - pad + ky * dil, ix = ox * stride - pad + kx * dil;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            for (int j = 0; j < cin_g; j++)
                                acc += (double)in[(((size_t)b * h + iy) * w + ix) * cin + o / cout_g * cin_g + j] *
                                       wt[(((size_t)o * cin_g + j) * ks + ky) * ks + kx];
                        }
                    size_t px = ((size_t)b * oh + oy) * ow + ox;
                    if (res) acc += res[px * ldr + o];
                    if (relu && acc < 0) acc = 0;
                    out[px * cout + o] = acc;
                }
}

typedef struct { int n, h, w, g, groups, ks, stride, dil, residual, relu; } gconv_case;

/* Whether the grouped kernel takes the case: G and its vector dividing one another, whole vectors. */
static int on_gconv(const rn_kernel_config *kc, const gconv_case *t) {
    const int lanes = kc->gconv_lanes, cout = t->g * t->groups;
    return t->groups > 1 && (lanes % t->g == 0 || t->g % lanes == 0) && cout % lanes == 0;
}

/* One case on one family; returns whether it ran on the grouped kernel. */
static int check_gconv(const rn_kernel_config *kc, rn_pool *pool, const gconv_case *t) {
    const int cin = t->g * t->groups, cout = cin, pad = t->dil * (t->ks / 2);
    rn_conv conv;
    float *wt = rand_buf((size_t)cout * t->g * t->ks * t->ks), *bias = rand_buf((size_t)cout);
    CHECK(rn_conv_init_ex(&conv, kc, cin, cout, t->ks, t->ks, t->stride, pad, t->dil, t->groups, wt, bias,
                          RN_CONV_DIRECT) == 0, /* groups 1: no Winograd (its work buffer) */
          "init G=%d groups=%d", t->g, t->groups);
    const int expect = on_gconv(kc, t);
    CHECK(conv.gconv == (expect ? t->g : 0), "%s G=%d groups=%d: gconv %d, expected %d", resnet_kernels_name(kc->id),
          t->g, t->groups, conv.gconv, expect ? t->g : 0);
    int oh, ow;
    rn_conv_out_size(&conv, t->h, t->w, &oh, &ow);
    const size_t px = (size_t)t->n * oh * ow, ld = (size_t)conv.n_padded;
    float *in = rand_buf((size_t)t->n * t->h * t->w * cin), *out = rand_buf(px * ld);
    float *res = t->residual ? rand_buf(px * ld) : NULL;
    double *ref = malloc(px * cout * sizeof(double));
    naive_gconv(in, t->n, t->h, t->w, cin, t->groups, wt, bias, cout, t->ks, t->stride, pad, t->dil, res, ld, t->relu,
                ref, oh, ow);
    float *scratch[64];
    for (int i = 0; i < rn_pool_size(pool); i++) scratch[i] = rn_aligned_alloc(rn_conv_scratch_floats(kc, &conv) * 4);
    rn_exec ex = {kc, pool, scratch, NULL};
    rn_conv_forward(&ex, &conv, in, t->n, t->h, t->w, out, res, t->relu);
    double worst = 0;
    int pad_bad = 0;
    for (size_t p = 0; p < px; p++) {
        for (int o = 0; o < cout; o++) {
            double e = fabs(out[p * ld + o] - ref[p * cout + o]) / (1.0 + fabs(ref[p * cout + o]));
            if (!(e <= worst)) worst = e; /* a NaN counts */
        }
        for (size_t o = cout; o < ld; o++) { /* past cout: the residual through the activation, as GEMM writes */
            float v = res ? res[p * ld + o] : 0.0f;
            pad_bad += out[p * ld + o] != (t->relu && v < 0 ? 0.0f : v);
        }
    }
    double tol = 1e-6 * (t->g * t->ks * t->ks + 16);
    CHECK(worst <= tol && pad_bad == 0,
          "%s%s threads=%d n=%d %dx%d G=%d groups=%d k=%d s=%d d=%d res=%d relu=%d: rel err %.3g > %.3g, %d padding "
          "columns wrong",
          resnet_kernels_name(kc->id), conv.gconv ? " gconv" : " GEMM", rn_pool_size(pool), t->n, t->h, t->w, t->g,
          t->groups, t->ks, t->stride, t->dil, t->residual, t->relu, worst, tol, pad_bad);
    for (int i = 0; i < rn_pool_size(pool); i++) rn_aligned_free(scratch[i]);
    rn_conv_free(&conv);
    rn_aligned_free(wt); rn_aligned_free(bias); rn_aligned_free(in); rn_aligned_free(out); rn_aligned_free(res);
    free(ref);
    return conv.gconv != 0;
}

/* G in {1, 2, 4, 8, 16, 32, 64} and groups 1..64 (those leaving part of a vector: the GEMM path), on odd and even maps (7x7, 14x14, 13x9),
 * strides 1 and 2, dilations 1, 2, 4, ReLU and residual on and off, batch 1 and 3. */
static void gconv_sweep(const rn_kernel_config *kc, rn_pool *pool) {
    static const int gs[] = {1, 2, 4, 8, 16, 32, 64};
    static const int groups_list[] = {1, 2, 3, 4, 5, 8, 12, 16, 32, 64};
    static const int sizes[][2] = {{7, 7}, {14, 14}, {13, 9}};
    int on_kernel = 0, cases = 0;
    for (size_t gi = 0; gi < sizeof gs / sizeof gs[0]; gi++)
        for (size_t k = 0; k < sizeof groups_list / sizeof groups_list[0]; k++) {
            gconv_case t = {.g = gs[gi], .groups = groups_list[k], .ks = 3};
            if (t.g * t.groups > 512) continue; /* bounded time */
            /* the GEMM path takes whole panels only (docs/networks.md, Limits) */
            if (!on_gconv(kc, &t) && t.g * t.groups % kc->nr != 0) continue;
            const int pick = irand(0, 2);
            t.h = sizes[pick][0]; t.w = sizes[pick][1];
            t.stride = irand(1, 2);
            t.dil = 1 << irand(0, 2);
            t.relu = irand(0, 1); t.residual = irand(0, 1);
            t.n = t.g * t.groups <= 64 ? 1 + 2 * irand(0, 1) : 1;
            on_kernel += check_gconv(kc, pool, &t);
            cases++;
        }
    /* a 1x1 window, and a 3x3 wholly over the padding but its centre (1x1 image) */
    gconv_case one = {3, 5, 3, 4, 8, 1, 1, 1, 1, 1}, corner = {2, 1, 1, 8, 4, 3, 1, 2, 0, 1};
    on_kernel += check_gconv(kc, pool, &one) + check_gconv(kc, pool, &corner);
    CHECK(on_kernel >= cases / 2, "%s: only %d of %d grouped cases on the grouped kernel", resnet_kernels_name(kc->id),
          on_kernel, cases);
}

static void gconv_threads(const rn_kernel_config *kc) {
    for (int threads = 1; threads <= 2; threads++) {
        rn_pool *pool = rn_pool_create(threads);
        gconv_sweep(kc, pool);
        rn_pool_free(pool);
    }
}

static void test_grouped(void) {
    gconv_threads(&c_plain); /* the portable kernels */
    for (size_t i = 1; i < sizeof paths / sizeof paths[0]; i++) {
        const rn_kernel_config *kc = rn_kernels_select(paths[i]);
        if (kc) gconv_threads(kc);
        else printf("     (kernel path %s not available on this CPU: skipped)\n", resnet_kernels_name(paths[i]));
    }
#if defined(RN_HAVE_X86)
    gconv_threads(&avx512_emulated); /* always: what CPUs without AVX-512 test of that kernel */
#endif
}

/* The micro-kernel alone: every mr from 1 to MR, accumulate-into-C and bias paths, A rows
 * scattered in memory (read by pointer) with the pointers past mr repeating the last row. */
static void ukernel_tails(const rn_kernel_config *kc, rn_pool *pool) {
    (void)pool;
    const int nr = kc->nr, mrx = kc->mr, kcn = 37, ldc = nr + 5, lda = kcn + 11;
    float *a = rand_buf((size_t)mrx * lda), *b = rand_buf((size_t)kcn * nr), *bias = rand_buf((size_t)nr);
    float *c = rand_buf((size_t)kc->mr * ldc + 8), *c0 = malloc(((size_t)kc->mr * ldc + 8) * sizeof(float));
    float *hinted = malloc(((size_t)kc->mr * ldc + 8) * sizeof(float));
    const float *rows[32];
    for (int mr = 1; mr <= kc->mr; mr++)
        for (int init = 0; init < 2; init++) {
            memcpy(c0, c, ((size_t)kc->mr * ldc + 8) * sizeof(float));
            /* rows in reverse order, so a kernel that assumed a stride would fail */
            for (int i = 0; i < mrx; i++) rows[i] = a + (size_t)(mrx - 1 - (i < mr ? i : mr - 1)) * lda;
            const int flags = (init ? RN_UK_INIT_BIAS : 0) | RN_UK_FINAL | RN_UK_RELU;
            kc->gemm(mr, kcn, rows, b, c, (size_t)ldc, bias, NULL, 0, flags | RN_UK_PREFETCH_NEXT_B);
            /* the hint (fetch the next panel) changes no bit: the same call without it */
            memcpy(hinted, c, ((size_t)kc->mr * ldc + 8) * sizeof(float));
            memcpy(c, c0, ((size_t)kc->mr * ldc + 8) * sizeof(float));
            kc->gemm(mr, kcn, rows, b, c, (size_t)ldc, bias, NULL, 0, flags);
            CHECK(memcmp(hinted, c, ((size_t)kc->mr * ldc + 8) * sizeof(float)) == 0,
                  "%s mr=%d init=%d: the prefetch hint changed the results", resnet_kernels_name(kc->id), mr, init);
            int bad = 0;
            for (int i = 0; i < kc->mr; i++)
                for (int j = 0; j < ldc; j++) {
                    float got = c[i * ldc + j];
                    if (i >= mr || j >= nr) { bad += got != c0[i * ldc + j]; continue; } /* untouched */
                    double acc = init ? bias[j] : c0[i * ldc + j];
                    for (int k = 0; k < kcn; k++) acc += (double)rows[i][k] * b[k * nr + j];
                    if (acc < 0) acc = 0;
                    bad += fabs(got - acc) > 1e-4;
                }
            CHECK(bad == 0, "%s mr=%d init=%d: %d wrong values", resnet_kernels_name(kc->id), mr, init, bad);
        }
    rn_aligned_free(a); rn_aligned_free(b); rn_aligned_free(bias); rn_aligned_free(c); free(c0); free(hinted);
}

static void test_ukernel(void) { for_each_path(ukernel_tails); }

/* The three max pools (floats, floats quantized on the way out, bytes) against the window's
 * maximum by definition, on odd maps and channel counts on both sides of the chunks the
 * pool vectorises (16 floats, 64 bytes). */
static void test_maxpool(void) {
    rn_pool *pool = rn_pool_create(2);
    rn_exec ex = {rn_kernels_select(RESNET_KERNELS_C), pool, NULL, NULL};
    for (int r = 0; r < 16; r++) {
        int n = irand(1, 2), h = irand(1, 12), w = irand(1, 12), c = r < 8 ? irand(1, 9) : irand(10, 150);
        int oh, ow;
        rn_maxpool_out_size(h, w, 3, 2, 1, &oh, &ow);
        const size_t count = (size_t)n * h * w * c, out_count = (size_t)n * oh * ow * c;
        float *in = rand_buf(count), *out = rand_buf(out_count);
        uint8_t *in8 = malloc(count), *q = malloc(out_count), *q8 = malloc(out_count);
        for (size_t i = 0; i < count; i++) in8[i] = (uint8_t)irand(0, 255);
        const float scale = 0.0037f;
        int bad = 0, bad_q = 0, bad8 = 0;
        rn_maxpool_forward(&ex, in, n, h, w, c, 3, 2, 1, out);
        rn_maxpool_forward_u8(&ex, in, n, h, w, c, 3, 2, 1, scale, q);
        rn_maxpool_forward_u8u8(&ex, in8, n, h, w, c, 3, 2, 1, q8);
        for (int b = 0; b < n; b++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    for (int ch = 0; ch < c; ch++) {
                        float m = -INFINITY;
                        int m8 = 0;
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
                                if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                                    const size_t at = (((size_t)b * h + iy) * w + ix) * c + ch;
                                    m = fmaxf(m, in[at]);
                                    if (in8[at] > m8) m8 = in8[at];
                                }
                            }
                        const size_t o = (((size_t)b * oh + oy) * ow + ox) * c + ch;
                        bad += out[o] != m;
                        bad_q += q[o] != rn_quantize_u8(m / scale);
                        bad8 += q8[o] != m8;
                    }
        CHECK(bad == 0, "maxpool %dx%dx%d: %d wrong", h, w, c, bad);
        CHECK(bad_q == 0, "maxpool to u8 %dx%dx%d: %d wrong", h, w, c, bad_q);
        CHECK(bad8 == 0, "maxpool of bytes %dx%dx%d: %d wrong", h, w, c, bad8);
        rn_aligned_free(in); rn_aligned_free(out);
        free(in8); free(q); free(q8);
    }
    rn_pool_free(pool);
}

/* ---- the worker pool shared by several callers (threadpool.c) ---- */

enum { PROBE_TASKS = 64 };
typedef struct pool_probe {
    atomic_int runs[PROBE_TASKS]; /* how often each task ran */
    atomic_int top_thread;        /* the highest thread index that ran one */
} pool_probe;

static void probe_task(void *ctx, int task, int thread) {
    pool_probe *p = ctx;
    atomic_fetch_add(&p->runs[task], 1);
    int top = atomic_load(&p->top_thread);
    while (thread > top && !atomic_compare_exchange_weak(&p->top_thread, &top, thread)) {}
    for (volatile int i = 0; i < 2000; i++) {} /* long enough for the workers to join in */
}

/* Runs one job; 0 if every task ran exactly once. */
static int probe_job(rn_pool *pool, pool_probe *p) {
    for (int t = 0; t < PROBE_TASKS; t++) atomic_init(&p->runs[t], 0);
    atomic_init(&p->top_thread, 0);
    rn_pool_run(pool, PROBE_TASKS, probe_task, p);
    int bad = 0;
    for (int t = 0; t < PROBE_TASKS; t++) bad += atomic_load(&p->runs[t]) != 1;
    return bad;
}

/* Callers inside rn_pool_enter/leave take threads from the pool: callers plus helpers never
 * exceed its size, so a pass never runs on more threads than the pool has. */
static void test_pool_callers_share_its_threads(void) {
    rn_pool *pool = rn_pool_create(3);
    pool_probe p;
    for (int callers = 1; callers <= 4; callers++) {
        for (int i = 0; i < callers; i++) rn_pool_enter(pool);
        int most = 3 - callers, top = 0, bad = 0; /* the highest helper index allowed */
        for (int r = 0; r < 20; r++) {
            bad += probe_job(pool, &p);
            top = atomic_load(&p.top_thread) > top ? atomic_load(&p.top_thread) : top;
        }
        CHECK(bad == 0, "%d callers: %d tasks not run exactly once", callers, bad);
        CHECK(top <= (most > 0 ? most : 0), "%d callers on a pool of 3: thread %d ran a task (at most %d)", callers,
              top, most > 0 ? most : 0);
        for (int i = 0; i < callers; i++) rn_pool_leave(pool);
    }
    rn_pool_free(pool);
}

typedef struct { rn_pool *pool; int bad; } pool_caller;

static void *pool_caller_main(void *arg) {
    pool_caller *c = arg;
    pool_probe p;
    rn_pool_enter(c->pool);
    for (int r = 0; r < 300; r++) c->bad += probe_job(c->pool, &p);
    rn_pool_leave(c->pool);
    return NULL;
}

/* Two threads running jobs on one pool at once (as sessions sharing their model's pool):
 * one holds the pool while the other runs alone, and every task of both runs exactly once. */
static void test_pool_two_callers_at_once(void) {
    rn_pool *pool = rn_pool_create(4); /* 2 helpers left for whichever caller holds it */
    pool_caller c[2] = {{pool, 0}, {pool, 0}};
    pthread_t tid[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&tid[i], NULL, pool_caller_main, &c[i]) == 0, "pthread_create");
    for (int i = 0; i < 2; i++) pthread_join(tid[i], NULL);
    CHECK(c[0].bad == 0 && c[1].bad == 0, "tasks lost or run twice: %d and %d", c[0].bad, c[1].bad);
    rn_pool_free(pool);
}

/* Channel counts below, at and past the pool's 16-channel chunks, with a tail. */
static void test_avgpool(void) {
    static const int cs[] = {1, 11, 16, 37, 100};
    for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
        const int n = 2, h = 7, w = 5, c = cs[k];
        float *in = rand_buf((size_t)n * h * w * c), *out = malloc((size_t)n * c * sizeof(float));
        rn_avgpool_forward(in, n, h, w, c, out);
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++) {
                double s = 0;
                for (int p = 0; p < h * w; p++) s += in[((size_t)b * h * w + p) * c + ch];
                CHECK(fabs(out[b * c + ch] - s / (h * w)) < 1e-6, "avgpool c=%d b=%d ch=%d", c, b, ch);
            }
        rn_aligned_free(in);
        free(out);
    }
}

static void test_softmax_topk(void) {
    float logits[6] = {1.0f, 3.0f, -2.0f, 3.0f, 1000.0f, 0.5f}, p[6];
    resnet_softmax(logits, 6, p);
    double sum = 0;
    for (int i = 0; i < 6; i++) sum += p[i];
    CHECK(fabs(sum - 1.0) < 1e-6 && p[4] > 0.999f, "softmax sums to %g, no overflow", sum);
    float probs[6] = {0.1f, 0.3f, 0.05f, 0.3f, 0.2f, 0.05f};
    resnet_prediction top[4];
    resnet_top_k(probs, 6, 4, top);
    CHECK(top[0].index == 1 && top[1].index == 3 && top[2].index == 4 && top[3].index == 0,
          "top-k order %d %d %d %d (ties to the lower index)", top[0].index, top[1].index, top[2].index,
          top[3].index);

    /* A confident network: every softmax but the best underflows to 0, and the logits alone
     * still order the rest. */
    const float sharp[8] = {0.0f, 400.0f, 5.0f, 200.0f, 4.0f, 250.0f, -1.0f, 150.0f};
    float sp[8];
    resnet_softmax(sharp, 8, sp);
    CHECK(sp[1] == 1.0f && sp[5] == 0.0f && sp[7] == 0.0f, "the softmax underflows: %g %g %g", sp[1], sp[5], sp[7]);
    resnet_prediction st[5];
    resnet_top_k_logits(sp, sharp, 1, 8, 5, st);
    CHECK(st[0].index == 1 && st[1].index == 5 && st[2].index == 3 && st[3].index == 7 && st[4].index == 2,
          "underflowed top-k follows the logits: %d %d %d %d %d (want 1 5 3 7 2)", st[0].index, st[1].index,
          st[2].index, st[3].index, st[4].index);
    CHECK(st[1].prob == 0.0f && st[0].prob == 1.0f, "the probabilities as computed: %g %g", st[0].prob, st[1].prob);
    /* Two views: equal averaged probabilities go by the views' mean logit, then by index. */
    const float two[2 * 4] = {0.0f, 1.0f, 3.0f, 2.0f, /* view 0 */ 0.0f, 5.0f, 2.0f, 2.0f /* view 1 */};
    const float avg[4] = {0.5f, 0.25f, 0.25f, 0.25f}; /* mean logits 0, 3, 2.5, 2 */
    resnet_top_k_logits(avg, two, 2, 4, 4, st);
    CHECK(st[0].index == 0 && st[1].index == 1 && st[2].index == 2 && st[3].index == 3,
          "ties by the mean logit: %d %d %d %d", st[0].index, st[1].index, st[2].index, st[3].index);
    const float even[2 * 4] = {0.0f, 1.0f, 3.0f, 2.0f, 0.0f, 3.0f, 1.0f, 2.0f}; /* means 0, 2, 2, 2 */
    resnet_top_k_logits(avg, even, 2, 4, 4, st);
    CHECK(st[1].index == 1 && st[2].index == 2 && st[3].index == 3, "equal means to the lower index: %d %d %d",
          st[1].index, st[2].index, st[3].index);
    resnet_top_k_logits(probs, NULL, 0, 6, 4, top);
    CHECK(top[0].index == 1 && top[1].index == 3 && top[2].index == 4 && top[3].index == 0,
          "no logits: as resnet_top_k");
    /* NaN ranks below every number wherever it stands (first, it used to keep the top) */
    for (int at = 0; at < 6; at++) {
        float odd[6] = {0.1f, 0.3f, 0.05f, 0.25f, 0.2f, 0.05f};
        odd[at] = NAN;
        resnet_prediction all[6];
        resnet_top_k(odd, 6, 6, all);
        int sorted = isnan(all[5].prob) && all[5].index == at;
        for (int i = 0; i < 4; i++) sorted = sorted && all[i].prob >= all[i + 1].prob;
        CHECK(sorted, "NaN at %d: last in the top-k (got %d %d %d %d %d %d)", at, all[0].index, all[1].index,
              all[2].index, all[3].index, all[4].index, all[5].index);
    }
    const float nan_logits[4] = {NAN, 1.0f, 2.0f, NAN}, zeros[4] = {0, 0, 0, 0};
    resnet_top_k_logits(zeros, nan_logits, 1, 4, 4, st);
    CHECK(st[0].index == 2 && st[1].index == 1 && st[2].index == 0 && st[3].index == 3,
          "equal probabilities, NaN logits last: %d %d %d %d", st[0].index, st[1].index, st[2].index, st[3].index);
}

/* One output (a binary classifier's logit): its probability is the sigmoid, finite and in
 * [0, 1] at any logit, where a softmax over one value gave 1 for every photo; in place too. */
static void test_softmax_one(void) {
    const float x[] = {-100.0f, -1.0f, 0.0f, 3.0f, 100.0f, -1e30f, 1e30f};
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) {
        float p = -1.0f, q = x[i];
        resnet_softmax(&x[i], 1, &p);
        rn_softmax(&q, 1, &q);
        const double want = 1.0 / (1.0 + exp(-(double)x[i]));
        CHECK(isfinite(p) && p >= 0.0f && p <= 1.0f && fabs(p - want) <= 1e-7 * want + 1.5e-45 /* a denormal's step */,
              "sigmoid(%g): got %.9g, want %.9g", x[i], p, want);
        CHECK(q == p, "in place sigmoid(%g): %.9g, not %.9g", x[i], q, p);
    }
    const float m100 = -100.0f;
    float p;
    resnet_softmax(&m100, 1, &p);
    CHECK(p > 0.0f && fabs(p / 3.7200759760208e-44 - 1.0) < 0.05, "sigmoid(-100) is e^-100 (a denormal), not 0: %g", p);
    /* --tta over one output: the mean of the views' sigmoids */
    const float views[3] = {-1.0f, 0.0f, 3.0f};
    float avg = -1.0f;
    rn_tta_average(views, 3, 1, &avg);
    const double mean = (1.0 / (1.0 + exp(1.0)) + 0.5 + 1.0 / (1.0 + exp(-3.0))) / 3;
    CHECK(fabs(avg - mean) < 1e-6, "the mean of 3 views' sigmoids: %.9g, want %.9g", avg, mean);
}

/* The plan's blocks cover the rows once, in order, in whole tiles, at most the driver's
 * largest and within a tile of one another; with more blocks than threads the threads
 * divide their count wherever there are tiles enough; with fewer, rows first makes one a
 * thread where there are tiles enough; small blocks makes at least 4 a thread or half the
 * tiles, whichever is fewer; the tasks cover every panel of every block once, and
 * with RN_PLAN_WHOLE_ROWS a task is a whole block. */
static void check_plan(int rows, int mr, int most, int panels, int threads, int flags) {
    rn_plan p = rn_plan_make(rows, most, mr, panels, threads, flags);
    const int rows_first = (flags & RN_PLAN_ROWS_FIRST) != 0;
    const int tiles = (rows + mr - 1) / mr;
    int next = 0, small = rows, big = 0, bad = 0;
    for (int k = 0; k < p.blocks; k++) {
        int r0, count;
        rn_plan_block(&p, k, &r0, &count);
        bad |= r0 != next || count < 1 || count > p.block || r0 % mr;
        const int t = (count + mr - 1) / mr;
        if (t < small) small = t;
        if (t > big) big = t;
        next = r0 + count;
    }
    CHECK(!bad && next == rows && p.block <= most && p.block % mr == 0 && big - small <= 1,
          "rows %d mr %d most %d threads %d: blocks %d of at most %d rows cover %d rows, "
          "tiles %d..%d a block", rows, mr, most, threads, p.blocks, p.block, next, small, big);
    const int most_tiles = most / mr, fewest = (tiles + most_tiles - 1) / most_tiles;
    const int up = (fewest + threads - 1) / threads * threads;
    const int want = threads > 1 && fewest >= threads && up <= tiles ? up
                     : rows_first && fewest < threads && tiles >= threads ? threads
                                                                          : fewest;
    if (flags & RN_PLAN_SMALL_BLOCKS) {
        /* at least as many blocks as without the flag, and as 4 a thread or half the tiles
         * (whichever is fewer); no more than either count rounded up to the threads */
        const rn_plan plain = rn_plan_make(rows, most, mr, panels, threads, 0);
        const int small = tiles / 2 < 4 * threads ? tiles / 2 : 4 * threads;
        const int ceiling = (plain.blocks > small ? plain.blocks : small) + threads - 1;
        CHECK(p.blocks >= plain.blocks && p.blocks >= small && p.blocks <= ceiling,
              "rows %d tiles %d threads %d small blocks: %d blocks (without the flag %d)", rows, tiles, threads,
              p.blocks, plain.blocks);
    } else
        CHECK(p.blocks == want, "rows %d threads %d rows first %d: %d blocks, not %d", rows, threads, rows_first,
              p.blocks, want);
    int seen[9] = {0};
    for (int task = 0; task < p.tasks; task++) {
        int r0, count, p0, p1;
        rn_plan_task(&p, task, &r0, &count, &p0, &p1);
        for (int q = p0; q < p1; q++) seen[q]++;
    }
    for (int q = 0; q < panels; q++)
        CHECK(seen[q] == p.blocks, "rows %d: panel %d in %d tasks, not %d", rows, q, seen[q], p.blocks);
    if (flags & RN_PLAN_WHOLE_ROWS)
        CHECK(p.n_split == 1 && p.tasks == p.blocks, "rows %d threads %d whole rows: %d panel ranges, %d tasks", rows,
              threads, p.n_split, p.tasks);
}

static void test_plan(void) {
    static const int mrs[] = {4, 6, 12}, mosts[] = {120, 48};
    for (int rows = 1; rows <= 2600; rows += rows < 300 ? 1 : 37)
        for (size_t a = 0; a < 3; a++)
            for (size_t b = 0; b < 2; b++)
                for (int threads = 1; threads <= 4; threads++) {
                    const int mr = mrs[a], most = mosts[b] / mr * mr, panels = 1 + rows % 9;
                    check_plan(rows, mr, most, panels, threads, 0);
                    check_plan(rows, mr, most, panels, threads, RN_PLAN_ROWS_FIRST);
                    check_plan(rows, mr, most, panels, threads, RN_PLAN_ROWS_FIRST | RN_PLAN_WHOLE_ROWS);
                    check_plan(rows, mr, most, panels, threads, RN_PLAN_SMALL_BLOCKS);
                }
}

int main(void) {
    RUN(test_plan);
    RUN(test_ukernel);
    RUN(test_conv);
    RUN(test_winograd_paths);
    RUN(test_winograd_transforms);
    RUN(test_winograd_choice);
    RUN(test_grouped);
    RUN(test_maxpool);
    RUN(test_pool_callers_share_its_threads);
    RUN(test_pool_two_callers_at_once);
    RUN(test_avgpool);
    RUN(test_softmax_topk);
    RUN(test_softmax_one);
    return TEST_DONE();
}
