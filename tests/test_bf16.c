/* test_bf16.c - bf16: the conversion, the bf16 micro-kernels (AVX512-BF16 and AMX-BF16 natively
 * where the CPU has them, always on emulated intrinsics and tiles) against a double reference
 * on random shapes,
 * the convolution driver's bf16 row on every family (native, emulated, and the fp32 kernels
 * on bf16-rounded weights elsewhere), and the whole network in bf16 against fp32 on photos. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>

#include "testutil.h"
#include "common.h"
#include "kernels/kernels.h"
#include "ops/conv.h"
#include "runtime/threadpool.h"

static unsigned rng_state = 11;
static unsigned rnd(void) { rng_state = rng_state * 1664525u + 1013904223u; return rng_state >> 8; }
static int irand(int lo, int hi) { return lo + (int)(rnd() % (unsigned)(hi - lo + 1)); }
static float frand(void) { return (float)((rnd() & 0xffffff) / 8388608.0 - 1.0); } /* [-1, 1) */

#if defined(RN_HAVE_X86)
/* Built only for the tests (Makefile): the bf16 kernel and the AVX-512 fp32 one on stand-ins. */
void rn_bf16_gemm_12x32__avx512bf16_emulated(int mr, int kc, const uint16_t *const *a, const uint16_t *b, float *c,
                                             size_t ldc, const float *bias, const float *res, size_t ldr, int flags);
void rn_f32_gemm_12x32__avx512_emulated(int mr, int kc, const float *const *a, const float *b, float *c, size_t ldc,
                                        const float *bias, const float *res, size_t ldr, int flags);
void rn_gconv_16__avx512_emulated(int g, int np, int ntaps, const int *tap, const float *const *x, size_t xoff,
                                  const float *w, const float *bias, float *out, size_t ldo, const float *res,
                                  size_t ldr, int relu);
static const rn_kernel_config avx512bf16_emulated = {
    RESNET_KERNELS_AVX512, 12, 32, rn_f32_gemm_12x32__avx512_emulated,
    {rn_wino_f4_input__c, rn_wino_f4_output__c}, {rn_wino_f2_input__c, rn_wino_f2_output__c}, NULL,
    rn_bf16_gemm_12x32__avx512bf16_emulated, rn_bf16_convert__c, NULL, rn_gconv_16__avx512_emulated, 16, 12};
/* The AMX-BF16 kernel on tests/amx_emulation.h's tiles. */
void rn_bf16_gemm_12x32__amx_emulated(int mr, int kc, const uint16_t *const *a, const uint16_t *b, float *c,
                                      size_t ldc, const float *bias, const float *res, size_t ldr, int flags);
static const rn_kernel_config amx_bf16_emulated = {
    RESNET_KERNELS_AVX512, 12, 32, rn_f32_gemm_12x32__avx512_emulated,
    {rn_wino_f4_input__c, rn_wino_f4_output__c}, {rn_wino_f2_input__c, rn_wino_f2_output__c}, NULL,
    rn_bf16_gemm_12x32__amx_emulated, rn_bf16_convert__c, NULL, rn_gconv_16__avx512_emulated, 16, 12};
#endif

/* Every family: the real ones this CPU has (with or without a bf16 kernel) and the emulated. */
static int families(const rn_kernel_config **out) {
    int n = 0;
    /* the AVX-512 family without its AMX row: AVX512-BF16's kernel where the CPU has AMX too */
    static const resnet_kernels real[] = {RESNET_KERNELS_C, RESNET_KERNELS_AVX2, RESNET_KERNELS_AVX512,
                                          RN_KERNELS_AVX512_NO_AMX};
    for (size_t i = 0; i < sizeof real / sizeof real[0]; i++) {
        const rn_kernel_config *kc = rn_kernels_select(real[i]);
        int seen = 0;
        for (int j = 0; j < n; j++) seen |= out[j] == kc;
        if (kc && !seen) out[n++] = kc;
    }
    int avx512bf16 = 0, amx = 0;
    for (int j = 0; j < n; j++) {
        const char *name = rn_kernels_bf16_name(out[j]);
        avx512bf16 |= name && !strcmp(name, "avx512bf16");
        amx |= name && !strcmp(name, "amx-bf16");
    }
    static int said;
    if (!avx512bf16 && !said)
        printf("     (no AVX512-BF16 on this CPU: the native avx512bf16 kernel skipped, its emulation tested)\n");
    if (!amx && !said)
        printf("     (no AMX-BF16 on this CPU, or the OS did not grant the tile state: the native amx-bf16 kernel "
               "skipped, its emulation tested)\n");
    said = 1;
#if defined(RN_HAVE_X86)
    out[n++] = &avx512bf16_emulated;
    out[n++] = &amx_bf16_emulated;
#endif
    return n;
}

static const char *family_name(const rn_kernel_config *kc) {
#if defined(RN_HAVE_X86)
    if (kc == &avx512bf16_emulated) return "avx512bf16 (emulated)";
    if (kc == &amx_bf16_emulated) return "amx-bf16 (emulated)";
#endif
    return kc->gemm_bf16 ? rn_kernels_bf16_name(kc) : resnet_kernels_name(kc->id);
}

static void test_convert(void) {
    /* round to nearest, ties to even; infinities kept; a NaN stays a NaN */
    static const struct { uint32_t in; uint16_t out; } cases[] = {
        {0x3f800000u, 0x3f80}, {0x3f808000u, 0x3f80}, {0x3f818000u, 0x3f82}, {0x3f808001u, 0x3f81},
        {0xbf80ffffu, 0xbf81}, {0x7f800000u, 0x7f80}, {0xff800000u, 0xff80}, {0x00000000u, 0x0000},
        {0x7f7fffffu, 0x7f80}, /* the largest float rounds up to infinity, as the instruction does */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float f;
        memcpy(&f, &cases[i].in, sizeof f);
        CHECK(rn_bf16_from_f32(f) == cases[i].out, "bf16(0x%08x) = 0x%04x, want 0x%04x", cases[i].in,
              rn_bf16_from_f32(f), cases[i].out);
    }
    uint32_t nan_bits = 0x7fc00001u;
    float nan;
    memcpy(&nan, &nan_bits, sizeof nan);
    CHECK(isnan(rn_f32_from_bf16(rn_bf16_from_f32(nan))), "a NaN stays a NaN");
    /* every family's converter: the same values as the scalar one, odd lengths padded with 0 */
    const rn_kernel_config *fam[8];
    int nf = families(fam);
    for (int f = 0; f < nf; f++)
        for (int rep = 0; rep < 40; rep++) {
            int n = irand(1, 300);
            float src[300];
            uint16_t got[302], want[302];
            for (int i = 0; i < n; i++) src[i] = frand() * ldexpf(1.0f, irand(-20, 20));
            memset(got, 0xab, sizeof got);
            fam[f]->to_bf16(src, n, got);
            rn_bf16_convert__c(src, n, want);
            int bad = -1;
            for (int i = 0; i < (n + 1) / 2 * 2; i++)
                if (got[i] != want[i]) { bad = i; break; }
            CHECK(bad < 0, "%s converter, n=%d: element %d differs", family_name(fam[f]), n, bad);
            CHECK(got[(n + 1) / 2 * 2] == 0xabab, "%s converter, n=%d: wrote past its end", family_name(fam[f]), n);
            if (n & 1) CHECK(want[n] == 0, "odd length padded with a zero");
        }
}

/* One call of a bf16 micro-kernel on random A, B against the double sum of the same bf16
 * values. Products of bf16 values are exact in fp32 (8 x 8 significant bits), so the only
 * error is fp32 summation: at most (kc + 3) rounding steps of 2^-24 of the sum of |terms|.
 * Every A row and the B panel are followed by NaNs: a kernel that reads past them (a depth
 * tail read whole) gets a NaN in its sums, even multiplied by a zero. spaced: the rows
 * equally spaced, as the driver's converted blocks are (the AMX kernel loads them in place);
 * otherwise in reverse order at uneven gaps (gathered). */
enum { GUARD = 16 };
static void check_ukernel(rn_bf16_gemm_ukernel gemm, const char *name, int mr_max, int nr, int mr, int kc, int flags,
                          int with_res, int spaced) {
    const int pairs = (kc + 1) / 2, ldc = nr + 5, slot = pairs * 2 + GUARD;
    const uint16_t nan16 = 0x7fc0;
    uint16_t *a_mem = malloc((size_t)mr_max * slot * sizeof(uint16_t));
    uint16_t *b = malloc(((size_t)pairs * nr * 2 + 64 * GUARD) * sizeof(uint16_t));
    float *c = malloc((size_t)(mr_max + 1) * ldc * sizeof(float)), *c0 = malloc((size_t)(mr_max + 1) * ldc * sizeof(float));
    float *res = malloc((size_t)mr_max * ldc * sizeof(float)), bias[64];
    const uint16_t *a[16];
    for (size_t i = 0; i < (size_t)mr_max * slot; i++) a_mem[i] = nan16;
    for (size_t i = 0; i < (size_t)pairs * nr * 2 + 64 * GUARD; i++) b[i] = nan16;
    for (int i = 0; i < mr_max; i++) {
        uint16_t *row = spaced ? a_mem + (size_t)i * slot : a_mem + (size_t)(mr_max - 1 - i) * slot + (i % 3 ? 0 : GUARD / 2);
        for (int k = 0; k < pairs * 2; k++) row[k] = k < kc ? rn_bf16_from_f32(frand()) : 0;
        a[i] = i < mr ? row : a[mr - 1]; /* the driver repeats the last real row */
    }
    for (int k = 0; k < pairs * 2; k++)
        for (int j = 0; j < nr; j++)
            b[((size_t)(k / 2) * nr + j) * 2 + k % 2] = k < kc ? rn_bf16_from_f32(frand()) : 0;
    for (int j = 0; j < nr; j++) bias[j] = frand();
    for (int i = 0; i < (mr_max + 1) * ldc; i++) c[i] = c0[i] = frand();
    for (int i = 0; i < mr_max * ldc; i++) res[i] = frand();
    gemm(mr, kc, a, b, c, (size_t)ldc, bias, with_res ? res : NULL, (size_t)ldc, flags);
    int outside = 0;
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            double acc = flags & RN_UK_INIT_BIAS ? bias[j] : c0[(size_t)i * ldc + j], mag = fabs(acc);
            for (int k = 0; k < kc; k++) {
                double t = (double)rn_f32_from_bf16(a[i][k]) * rn_f32_from_bf16(b[((size_t)(k / 2) * nr + j) * 2 + k % 2]);
                acc += t;
                mag += fabs(t);
            }
            if (flags & RN_UK_FINAL) {
                if (with_res) acc += res[(size_t)i * ldc + j], mag += fabs(res[(size_t)i * ldc + j]);
                if ((flags & RN_UK_RELU) && acc < 0) acc = 0;
            }
            double e = fabs(c[(size_t)i * ldc + j] - acc), tol = (kc + 3) * ldexp(mag, -24) + 1e-30;
            CHECK(e <= tol, "%s mr=%d kc=%d flags=%d res=%d spaced=%d: C[%d][%d] = %.9g, want %.9g (tol %.3g)", name, mr,
                  kc, flags, with_res, spaced, i, j, c[(size_t)i * ldc + j], acc, tol);
            if (!(e <= tol)) goto done;
        }
    /* rows past mr and the columns past nr are not written */
    for (int i = 0; i < mr_max + 1; i++)
        for (int j = 0; j < ldc; j++)
            if ((i >= mr || j >= nr) && c[(size_t)i * ldc + j] != c0[(size_t)i * ldc + j]) outside++;
    CHECK(outside == 0, "%s mr=%d kc=%d: %d values written outside the tile", name, mr, kc, outside);
    { /* the prefetch hint changes no bit: the same call with it toggled */
        const size_t bytes = (size_t)(mr_max + 1) * ldc * sizeof(float);
        float *first = malloc(bytes);
        memcpy(first, c, bytes);
        memcpy(c, c0, bytes);
        gemm(mr, kc, a, b, c, (size_t)ldc, bias, with_res ? res : NULL, (size_t)ldc, flags ^ RN_UK_PREFETCH_NEXT_B);
        CHECK(memcmp(first, c, bytes) == 0, "%s mr=%d kc=%d flags=%d: the prefetch hint changed the results", name, mr,
              kc, flags);
        free(first);
    }
done:
    free(a_mem); free(b); free(c); free(c0); free(res);
}

/* Every mr, with depths around the AMX kernel's 32-depth steps (a tail alone, none, one more
 * pair, an odd depth) and random ones, every flag set, the rows spaced and not. */
static void test_ukernel(void) {
    const rn_kernel_config *fam[8];
    int nf = families(fam), tested = 0;
    static const int flag_sets[] = {RN_UK_INIT_BIAS, 0, RN_UK_INIT_BIAS | RN_UK_FINAL,
                                    RN_UK_FINAL | RN_UK_RELU, RN_UK_INIT_BIAS | RN_UK_FINAL | RN_UK_RELU};
    static const int depths[] = {1, 2, 31, 32, 33, 64, 65, 96, 0, 0};
    for (int f = 0; f < nf; f++) {
        if (!fam[f]->gemm_bf16) continue;
        tested++;
        int calls = 0;
        for (int mr = 1; mr <= fam[f]->mr; mr++)
            for (size_t rep = 0; rep < sizeof depths / sizeof depths[0]; rep++, calls++) {
                int kc = depths[rep] ? depths[rep] : irand(3, 300);
                int flags = flag_sets[(mr + rep) % 5] | (rep % 3 == 1 ? RN_UK_PREFETCH_NEXT_B : 0); /* and toggled */
                check_ukernel(fam[f]->gemm_bf16, family_name(fam[f]), fam[f]->mr, fam[f]->nr, mr, kc, flags,
                              (int)((mr + rep / 5) & 1), (int)(rep & 1));
            }
        printf("     %s: %d calls\n", family_name(fam[f]), calls);
    }
#if defined(RN_HAVE_X86)
    CHECK(tested >= 2, "the emulated bf16 kernels were tested");
#endif
}

/* A convolution with RN_CONV_BF16 against the double definition on the values bf16 makes:
 * weights rounded to bf16 always; the input too where a bf16 kernel runs (a family without one
 * multiplies fp32 activations). Then the error is fp32 summation only. */
typedef struct { int n, h, w, cin, cout, ks, stride, pad, residual, relu; } conv_case;

static float bf16_round(float x) { return rn_f32_from_bf16(rn_bf16_from_f32(x)); }

/* Winograd in bf16 rounds the transformed input and filter (V, U), not x and w: there the
 * reference is the exact convolution of the fp32 values and the bound a fraction of the sum
 * of |x w| (WINO_BOUND, 16x the 2^-8 of one bf16 rounding: the transforms' sums and
 * differences). The output transform mixes the whole tile, so an output's rounding error
 * follows the tile's magnitudes, not its own: the sum is the largest over the outputs of its
 * tile (one output channel). Measured worst: 2.3e-2 to 3.4e-2 of the output's own sum over
 * different random draws, so a bound of 2^-5 failed on some; a wrong transform or a lost
 * term is off by order 1. */
#define WINO_BOUND (1.0 / 16)
static double wino_worst;
static int wino16_by_positions; /* bf16 Winograd cases split by positions (winograd.c) */

static void check_conv(const rn_kernel_config *kc, rn_pool *pool, const conv_case *t, unsigned flags) {
    rn_conv conv;
    const size_t wn = (size_t)t->cout * t->cin * t->ks * t->ks;
    float *wt = malloc(wn * sizeof(float)), *bias = malloc((size_t)t->cout * sizeof(float));
    for (size_t i = 0; i < wn; i++) wt[i] = frand();
    for (int i = 0; i < t->cout; i++) bias[i] = frand();
    CHECK(rn_conv_init(&conv, kc, t->cin, t->cout, t->ks, t->ks, t->stride, t->pad, wt, bias, RN_CONV_BF16 | flags) == 0,
          "init");
    CHECK((conv.w16 != NULL) == (kc->gemm_bf16 != NULL && !conv.im2col),
          "bf16 panels exactly where a bf16 kernel runs, the stem (im2col) excepted");
    if (conv.winograd && conv.w16 && rn_winograd_by_positions(&conv, t->n, t->h, t->w, rn_pool_threads(pool)))
        wino16_by_positions++;
    int oh, ow;
    rn_conv_out_size(&conv, t->h, t->w, &oh, &ow);
    const size_t in_n = (size_t)t->n * t->h * t->w * t->cin, out_px = (size_t)t->n * oh * ow;
    float *in = malloc(in_n * sizeof(float)), *out = malloc(out_px * conv.n_padded * sizeof(float));
    float *res = t->residual ? malloc(out_px * conv.n_padded * sizeof(float)) : NULL;
    for (size_t i = 0; i < in_n; i++) in[i] = frand();
    for (size_t i = 0; res && i < out_px * conv.n_padded; i++) res[i] = frand();
    float *scratch[8];
    for (int i = 0; i < rn_pool_size(pool); i++) scratch[i] = rn_aligned_alloc(rn_conv_scratch_floats(kc, &conv) * sizeof(float));
    const size_t work_n = rn_conv_work_floats(&conv, t->n, t->h, t->w);
    float *work = work_n ? rn_aligned_alloc(work_n * sizeof(float)) : NULL;
    rn_exec ex = {kc, pool, scratch, work};
    rn_conv_forward(&ex, &conv, in, t->n, t->h, t->w, out, res, t->relu);
    if (conv.w16 && !conv.winograd) {
        /* Without a work buffer each task converts its own rows (conv.c): a wider window's
         * input converted once for the call must give the same bits. */
        float *again = malloc(out_px * conv.n_padded * sizeof(float));
        rn_exec alone = {kc, pool, scratch, NULL};
        rn_conv_forward(&alone, &conv, in, t->n, t->h, t->w, again, res, t->relu);
        CHECK(memcmp(again, out, out_px * conv.n_padded * sizeof(float)) == 0,
              "%s n=%d %dx%d cin=%d k=%d: the input converted once for the call (work %zu floats) and in the tasks differ",
              family_name(kc), t->n, t->h, t->w, t->cin, t->ks, work_n);
        free(again);
    }
    if (res && t->ks == 1 && t->cin <= RN_CONV_DEPTH_CHUNK) { /* over its residual, as a block's last conv (arch.h) */
        float *over = malloc(out_px * conv.n_padded * sizeof(float));
        memcpy(over, res, out_px * conv.n_padded * sizeof(float));
        rn_conv_forward(&ex, &conv, in, t->n, t->h, t->w, over, over, t->relu);
        CHECK(memcmp(over, out, out_px * conv.n_padded * sizeof(float)) == 0,
              "%s n=%d %dx%d cin=%d: written over its residual, the sum differs", family_name(kc), t->n, t->h, t->w, t->cin);
        free(over);
    }
    rn_aligned_free(work);
    /* bf16 products where a bf16 kernel runs a direct convolution; Winograd in bf16: see above;
     * elsewhere (no bf16 kernel, or Winograd without one) fp32 activations */
    const int native = kc->gemm_bf16 != NULL && !conv.winograd && !conv.im2col, wino16 = kc->gemm_bf16 && conv.winograd;
    double *accs = malloc((size_t)t->n * oh * ow * t->cout * sizeof(double));
    double *mags = malloc((size_t)t->n * oh * ow * t->cout * sizeof(double));
    double worst = 0;
    for (int b = 0; b < t->n; b++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                for (int o = 0; o < t->cout; o++) {
                    double acc = bias[o], mag = fabs(bias[o]);
                    for (int ky = 0; ky < t->ks; ky++)
                        for (int kx = 0; kx < t->ks; kx++) {
                            int iy = oy * t->stride - t->pad + ky, ix = ox * t->stride - t->pad + kx;
                            if (iy < 0 || iy >= t->h || ix < 0 || ix >= t->w) continue;
                            for (int ci = 0; ci < t->cin; ci++) {
                                float x = in[(((size_t)b * t->h + iy) * t->w + ix) * t->cin + ci];
                                float wv = wt[(((size_t)o * t->cin + ci) * t->ks + ky) * t->ks + kx];
                                double v = (double)(native ? bf16_round(x) : x) *
                                           (conv.winograd || conv.im2col ? wv : bf16_round(wv));
                                acc += v;
                                mag += fabs(v);
                            }
                        }
                    size_t px = ((size_t)b * oh + oy) * ow + ox;
                    if (res) acc += res[px * conv.n_padded + o], mag += fabs(res[px * conv.n_padded + o]);
                    if (t->relu && acc < 0) acc = 0;
                    accs[px * t->cout + o] = acc;
                    mags[px * t->cout + o] = mag;
                }
    const int tile = conv.winograd ? conv.winograd : 1;
    for (int b = 0; b < t->n; b++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                for (int o = 0; o < t->cout; o++) {
                    size_t px = ((size_t)b * oh + oy) * ow + ox;
                    const double acc = accs[px * t->cout + o];
                    double mag = mags[px * t->cout + o], tile_mag = 0;
                    for (int y = oy / tile * tile; y < oy / tile * tile + tile && y < oh; y++)
                        for (int x = ox / tile * tile; x < ox / tile * tile + tile && x < ow; x++)
                            tile_mag = fmax(tile_mag, mags[(((size_t)b * oh + y) * ow + x) * t->cout + o]);
                    double e = fabs(out[px * conv.n_padded + o] - acc);
                    if (wino16) wino_worst = fmax(wino_worst, e / tile_mag);
                    /* fp32 Winograd: test_ops.c's bound for it */
                    e /= wino16 ? WINO_BOUND * tile_mag
                         : conv.winograd ? 1e-5 * (t->cin * 9 + 16) * (1.0 + fabs(acc))
                                         : (t->cin * t->ks * t->ks + 4) * ldexp(mag, -24) + 1e-30;
                    if (e > worst) worst = e;
                }
    free(accs);
    free(mags);
    CHECK(worst <= 1.0, "%s%s n=%d %dx%d cin=%d cout=%d k=%d s=%d p=%d res=%d relu=%d threads=%d: error %.3g of the bound",
          family_name(kc), conv.winograd == 4 ? " F(4x4)" : conv.winograd ? " F(2x2)" : "", t->n, t->h, t->w, t->cin,
          t->cout, t->ks, t->stride, t->pad, t->residual, t->relu,
          rn_pool_size(pool), worst);
    for (int i = 0; i < rn_pool_size(pool); i++) rn_aligned_free(scratch[i]);
    rn_conv_free(&conv);
    free(wt); free(bias); free(in); free(out); free(res);
}

static void test_conv(void) {
    const rn_kernel_config *fam[8];
    int nf = families(fam);
    static const conv_case fixed[] = {
        {1, 7, 7, 64, 64, 1, 1, 0, 1, 1},   /* 1x1 with the residual: 49 rows, a 1-row tail */
        {2, 9, 11, 3, 64, 7, 2, 3, 0, 1},   /* the stem's im2col: stays fp32 */
        {1, 6, 5, 17, 40, 3, 1, 1, 0, 0},   /* odd cin under every tap, cout past a panel */
        {1, 8, 8, 600, 33, 1, 2, 0, 1, 0},  /* depth past one chunk (KC), stride 2 */
        {1, 5, 5, 1040, 64, 3, 1, 1, 0, 1}, /* 3x3 with a chunked, even depth per tap */
    };
    /* 3x3 stride 1 with cin a multiple of 8: Winograd F(4x4) (<= 128 channels), F(2x2);
     * with RN_CONV_WIDE F(4x4) to 256 and F(2x2) to 512 (layer4's width, its 7x7 map) */
    static const conv_case wino[] = {
        {1, 9, 7, 64, 40, 3, 1, 1, 1, 1},
        {2, 6, 6, 16, 64, 3, 1, 1, 0, 0},
        {1, 7, 7, 200, 72, 3, 1, 1, 1, 1},
        {1, 7, 7, 512, 512, 3, 1, 1, 1, 1},
    };
    /* the Winograd driver's cuts (winograd.c): blocks that transform their own tiles (layer1's
     * 56x56 at 64 channels; 63 tiles, a second block from tile 60 on), blocks transformed
     * first (28x28 at 128 channels), at 8 threads fused blocks too few for the threads,
     * transformed first instead; the split by positions, in bf16 only past 3 MB of U, is the
     * 512-channel case above with RN_CONV_WIDE at 2 threads (checked below) */
    static const conv_case cuts[] = {
        {1, 56, 56, 64, 64, 3, 1, 1, 1, 1},
        {7, 9, 9, 16, 24, 3, 1, 1, 0, 1},
        {1, 28, 28, 128, 128, 3, 1, 1, 0, 1},
    };
    wino_worst = 0;
    for (int threads = 1; threads <= 2; threads++) {
        rn_pool *pool = rn_pool_create(threads);
        for (int f = 0; f < nf; f++) {
            for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) check_conv(fam[f], pool, &fixed[i], RN_CONV_DIRECT);
            for (size_t i = 0; i < sizeof wino / sizeof wino[0]; i++) {
                check_conv(fam[f], pool, &wino[i], 0);
                check_conv(fam[f], pool, &wino[i], RN_CONV_F2);
                check_conv(fam[f], pool, &wino[i], RN_CONV_WIDE);
            }
            for (int rep = 0; rep < 6; rep++) {
                int ks = irand(0, 1) ? 1 : 3;
                conv_case t = {irand(1, 2), irand(1, 13), irand(1, 13), irand(1, 70), irand(1, 80), ks, irand(1, 2),
                               ks == 3 ? irand(0, 1) : 0, irand(0, 1), irand(0, 1)};
                if (t.h + 2 * t.pad < ks) t.h = ks;
                if (t.w + 2 * t.pad < ks) t.w = ks;
                check_conv(fam[f], pool, &t, RN_CONV_DIRECT);
            }
        }
        rn_pool_free(pool);
    }
    static const int cut_threads[] = {1, 2, 8};
    for (int ti = 0; ti < 3; ti++) {
        rn_pool *pool = rn_pool_create(cut_threads[ti]);
        for (int f = 0; f < nf; f++)
            for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) check_conv(fam[f], pool, &cuts[i], 0);
        rn_pool_free(pool);
    }
    printf("     Winograd in bf16: worst |error| %.2e of the sum of |x w| (bound %.2e)\n", wino_worst, WINO_BOUND);
    int bf16_families = 0; /* none where only the portable family is built (no x86) */
    for (int f = 0; f < nf; f++) bf16_families += fam[f]->gemm_bf16 != NULL;
    CHECK(bf16_families == 0 || wino16_by_positions > 0, "no bf16 Winograd case took the split by positions");
}

/* One kernel path: the photos through fp32 and bf16 models. */
static void compare_network(const char *path, resnet_kernels k, char (*photos)[1024], int n) {
    resnet_model *m32 = NULL, *m16 = NULL;
    resnet_session *s32 = NULL, *s16 = NULL;
    resnet_error err;
    resnet_load_options o;
    resnet_load_options_init(&o);
    o.kernels = k;
    CHECK(resnet_model_load(path, &o, &m32, &err) == RESNET_OK, "load fp32: %s", err.message);
    o.precision = RESNET_PRECISION_BF16;
    CHECK(resnet_model_load(path, &o, &m16, &err) == RESNET_OK, "load bf16: %s", err.message);
    if (!m32 || !m16) goto done;
    CHECK(resnet_model_precision(m16) == RESNET_PRECISION_BF16, "the model says bf16");
    CHECK(resnet_model_precision(m32) == RESNET_PRECISION_FP32, "the other says fp32");
    CHECK(resnet_model_fingerprint(m16) != resnet_model_fingerprint(m32),
          "bf16 and fp32 models have different fingerprints (the feature cache keeps them apart)");
    CHECK(resnet_session_create(m32, 2, 1, &s32, &err) == RESNET_OK, "session");
    CHECK(resnet_session_create(m16, 2, 1, &s16, &err) == RESNET_OK, "session");
    if (!s32 || !s16) goto done;
    double worst = 0;
    for (int i = 0; i < n; i++) {
        static float input[3 * 224 * 224], l32[RESNET_NUM_CLASSES], l16[RESNET_NUM_CLASSES];
        if (resnet_preprocess_file(photos[i], resnet_model_norm(m32), input, &err) != RESNET_OK) {
            CHECK(0, "%s: %s", photos[i], err.message);
            continue;
        }
        CHECK(resnet_forward(s32, input, 1, l32, NULL, &err) == RESNET_OK, "forward fp32");
        CHECK(resnet_forward(s16, input, 1, l16, NULL, &err) == RESNET_OK, "forward bf16");
        int t32 = 0, t16 = 0;
        double d = 0, range = 0;
        for (int c = 0; c < RESNET_NUM_CLASSES; c++) {
            if (l32[c] > l32[t32]) t32 = c;
            if (l16[c] > l16[t16]) t16 = c;
            d = fmax(d, fabs((double)l16[c] - l32[c]));
            range = fmax(range, fabs(l32[c]));
        }
        CHECK(t16 == t32, "%s: top-1 %d in bf16, %d in fp32", photos[i], t16, t32);
        /* measured on these 17 photos: at most 0.8% (avx512bf16) of the largest |logit| */
        CHECK(d <= 0.02 * range, "%s: logits differ by %.3g (largest |logit| %.3g)", photos[i], d, range);
        worst = fmax(worst, d / range);
    }
    const char *k16 = resnet_kernels_bf16_name(resnet_model_kernels(m16));
    printf("     %s: %d photos, bf16 top-1 = fp32 top-1, logits max |diff| %.4f of the largest |logit| (%s)\n",
           resnet_kernels_name(resnet_model_kernels(m16)), n, worst, k16 ? k16 : "bf16 weights on fp32 kernels");
done:
    resnet_session_free(s32);
    resnet_session_free(s16);
    resnet_model_free(m32);
    resnet_model_free(m16);
}


/* The network in bf16 against fp32 on photos (the demo's, and ../shared's samples where
 * present): the same top-1, logits within the bound measured (docs/performance-bf16.md). */
enum { MAX_PHOTOS = 40 };
static void test_network(void) {
    const char *path = getenv("RESNET_TEST_V1_CAFFE");
    if (!path) {
        CHECK(0, "RESNET_TEST_V1_CAFFE is not set (run the tests through tests/run.sh)");
        return;
    }
    char photos[MAX_PHOTOS][1024];
    int n = 0;
    const char *dirs[2] = {"demo", NULL};
    char samples[1024];
    if (tu_have_shared("images/samples")) {
        snprintf(samples, sizeof samples, "%s/images/samples", tu_shared());
        dirs[1] = samples;
    }
    for (int d = 0; d < 2 && dirs[d]; d++) {
        DIR *dir = opendir(dirs[d]);
        struct dirent *e;
        while (dir && (e = readdir(dir)) && n < MAX_PHOTOS) {
            const char *dot = strrchr(e->d_name, '.');
            if (dot && (!strcmp(dot, ".png") || !strcmp(dot, ".jpg")))
                snprintf(photos[n++], sizeof photos[0], "%s/%s", dirs[d], e->d_name);
        }
        if (dir) closedir(dir);
    }
    CHECK(n >= 2, "photos found: %d", n);
    /* the best path (AVX512-BF16 where the CPU has it) and AVX2's fallback (fp32 kernels on
     * bf16 weights) */
    static const resnet_kernels paths[] = {RESNET_KERNELS_AUTO, RESNET_KERNELS_AVX2};
    for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++)
        if (resnet_kernels_available(paths[k]) && (k == 0 || rn_kernels_select(RESNET_KERNELS_AUTO)->id != paths[k]))
            compare_network(path, paths[k], photos, n);
}

/* `resnet convert --precision bf16`'s library half: a file about half the size that loads as
 * bf16 and classifies the demo photo as the fp32 file loaded with precision = BF16 does; the
 * input is never overwritten; an int8/bf16 input or another precision is refused. */
static void test_convert_file(void) {
    const char *path = getenv("RESNET_TEST_V1_CAFFE");
    if (!path) {
        CHECK(0, "RESNET_TEST_V1_CAFFE is not set (run the tests through tests/run.sh)");
        return;
    }
    char out[256], again[256];
    snprintf(out, sizeof out, "/tmp/resnet-test-bf16-%d.safetensors", (int)getpid());
    snprintf(again, sizeof again, "/tmp/resnet-test-bf16-%d-again.safetensors", (int)getpid());
    resnet_error err;
    CHECK(resnet_convert_weights(path, out, RESNET_PRECISION_BF16, &err) == RESNET_OK, "convert: %s", err.message);
    struct stat a, b;
    CHECK(stat(path, &a) == 0 && stat(out, &b) == 0, "both files there");
    CHECK(b.st_size < a.st_size * 0.51 && b.st_size > a.st_size * 0.49, "bf16 file %lld bytes, fp32 %lld",
          (long long)b.st_size, (long long)a.st_size);
    CHECK(resnet_convert_weights(path, path, RESNET_PRECISION_BF16, &err) != RESNET_OK &&
              strstr(err.message, "refusing"), "the input itself refused: %s", err.message);
    struct stat a2;
    CHECK(stat(path, &a2) == 0 && a2.st_size == a.st_size && a2.st_mtime == a.st_mtime, "the input untouched");
    CHECK(resnet_convert_weights(out, again, RESNET_PRECISION_BF16, &err) != RESNET_OK && strstr(err.message, "bf16 file"),
          "a bf16 input refused: %s", err.message);
    CHECK(resnet_convert_weights(path, again, RESNET_PRECISION_INT8, &err) != RESNET_OK, "int8 is not a conversion");
    CHECK(access(again, F_OK) != 0, "nothing written when refused");

    resnet_model *from_file = NULL, *at_load = NULL;
    resnet_session *s1 = NULL, *s2 = NULL;
    resnet_load_options o;
    resnet_load_options_init(&o);
    CHECK(resnet_model_load(out, &o, &from_file, &err) == RESNET_OK, "load the bf16 file: %s", err.message);
    o.precision = RESNET_PRECISION_BF16;
    CHECK(resnet_model_load(path, &o, &at_load, &err) == RESNET_OK, "load as bf16: %s", err.message);
    if (from_file && at_load && resnet_session_create(from_file, 1, 1, &s1, &err) == RESNET_OK &&
        resnet_session_create(at_load, 1, 1, &s2, &err) == RESNET_OK) {
        CHECK(resnet_model_precision(from_file) == RESNET_PRECISION_BF16, "the file's metadata says bf16");
        static float input[3 * 224 * 224], l1[RESNET_NUM_CLASSES], l2[RESNET_NUM_CLASSES];
        CHECK(resnet_preprocess_file("demo/chelsea.png", resnet_model_norm(from_file), input, &err) == RESNET_OK,
              "photo: %s", err.message);
        CHECK(resnet_forward(s1, input, 1, l1, NULL, &err) == RESNET_OK, "forward");
        CHECK(resnet_forward(s2, input, 1, l2, NULL, &err) == RESNET_OK, "forward");
        int t1 = 0, t2 = 0;
        double d = 0;
        for (int c = 0; c < RESNET_NUM_CLASSES; c++) {
            if (l1[c] > l1[t1]) t1 = c;
            if (l2[c] > l2[t2]) t2 = c;
            d = fmax(d, fabs((double)l1[c] - l2[c]));
        }
        /* they differ only by the rounding of the folded weights (rounded once at load
         * from fp32, or from the file's bf16 weights after folding) */
        CHECK(t1 == 285 && t2 == 285, "Egyptian cat both ways: %d, %d", t1, t2);
        printf("     bf16 file vs fp32 file loaded as bf16: logits max |diff| %.3g\n", d);
        CHECK(d < 0.5, "logits of the two bf16 models differ by %.3g", d);
        /* their features differ, so the feature cache and train-head must tell them apart */
        CHECK(resnet_model_fingerprint(from_file) != resnet_model_fingerprint(at_load),
              "the bf16 file and the fp32 file loaded as bf16 share the fingerprint %016llx",
              resnet_model_fingerprint(at_load));
    }
    resnet_session_free(s1);
    resnet_session_free(s2);
    resnet_model_free(from_file);
    resnet_model_free(at_load);
    unlink(out);
}

/* The load option: a precision that is not a conversion is one clear error, never a model. */
static void test_options(void) {
    const char *path = getenv("RESNET_TEST_V1_CAFFE");
    if (!path) {
        CHECK(0, "RESNET_TEST_V1_CAFFE is not set (run the tests through tests/run.sh)");
        return;
    }
    static const int bad[] = {RESNET_PRECISION_INT8, 3, -1, 1000};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        resnet_load_options o;
        resnet_load_options_init(&o);
        o.precision = bad[i];
        resnet_model *m = (resnet_model *)1;
        resnet_error err;
        resnet_status s = resnet_model_load(path, &o, &m, &err);
        CHECK(s == RESNET_E_ARG && m == NULL && strlen(err.message) > 0, "precision %d: status %d, %s", bad[i], (int)s,
              err.message);
    }
    CHECK(resnet_precision_parse("bf16") == RESNET_PRECISION_BF16 && resnet_precision_parse("fp32") == 0 &&
              resnet_precision_parse("int8") == RESNET_PRECISION_INT8 && resnet_precision_parse("fp16") == -1 &&
              resnet_precision_parse(NULL) == -1,
          "resnet_precision_parse");
    CHECK(strcmp(resnet_precision_name(RESNET_PRECISION_BF16), "bf16") == 0, "resnet_precision_name");
}

/* Which family a bf16 model runs on (rn_kernels_for_bf16): only a real vdpbf16ps row may give
 * way, to the same family's fp32 row, and only where vdpbf16ps is the slower; here measured
 * again, longer, and the choice must agree wherever that measurement is clear of the line. */
static void test_bf16_choice(void) {
    const rn_kernel_config *fam[8];
    const int nf = families(fam);
    for (int f = 0; f < nf; f++) {
        const rn_kernel_config *kc = fam[f], *r = rn_kernels_for_bf16(kc);
        const char *name = family_name(kc);
        CHECK(rn_kernels_for_bf16(r) == r, "%s: asking again changes nothing", name);
        if (r == kc) continue;
        CHECK(kc->gemm_bf16 && !r->gemm_bf16 && r->id == kc->id && r->mr == kc->mr && r->nr == kc->nr &&
                  r->gemm == kc->gemm && r->gconv == kc->gconv,
              "%s: gives way only to its own family's fp32 row", name);
        CHECK(!strstr(name, "emulated") && strcmp(name, "amx-bf16") != 0, "%s: never gives way", name);
    }
    /* the choice against a clear measurement, on the real vdpbf16ps row where there is one */
    const rn_kernel_config *row = NULL;
    for (int f = 0; f < nf; f++)
        if (fam[f]->peak_bf16_gflops && !strstr(family_name(fam[f]), "emulated")) row = fam[f];
    if (!row) {
        printf("     (no vdpbf16ps on this CPU: the choice between it and FMA not measured)\n");
        return;
    }
    double dot = 0, fma = 0;
    for (int i = 0; i < 5; i++) {
        dot = fmax(dot, row->peak_bf16_gflops(0.02));
        fma = fmax(fma, row->peak_gflops(0.02));
    }
    const int kept = rn_kernels_for_bf16(row) == row;
    printf("     vdpbf16ps %.1f GFLOP/s, FMA %.1f (%.2fx): a bf16 model runs on %s\n", dot, fma, dot / fma,
           kept ? "vdpbf16ps" : "the fp32 kernels");
    if (dot >= 1.6 * fma) CHECK(kept, "vdpbf16ps at %.2fx FMA's rate, yet left", dot / fma);
    if (dot <= 0.9 * fma) CHECK(!kept, "vdpbf16ps at %.2fx FMA's rate, yet used", dot / fma);
}

int main(void) {
    RUN(test_bf16_choice);
    RUN(test_convert);
    RUN(test_ukernel);
    RUN(test_conv);
    RUN(test_network);
    RUN(test_convert_file);
    RUN(test_options);
    return TEST_DONE();
}
