/* qkernels.h - the int8 micro-kernels (u8 activations x s8 weights -> s32) and how one is
 * chosen (internal). docs/int8.md has the layout drawn out and the plan for the model.
 *
 * A QGEMM micro-kernel computes one MR x NR tile over ks taps of kc depth each:
 *   acc[i][j] = csum[j] + sum_t sum_k A_t[i][k] * W_t[k][j]          (int32, exact)
 *   A: ks * MR row pointers, tap-major: a[t * MR + i] is row i's kc bytes (u8) for tap t:
 *      a pixel of an NHWC activation (one tap of a KxK window, as the fp32 kernels read
 *      rows: nothing packed for A), a window row of kw pixels (the stem's few channels), a
 *      copy of one at the image's edge, or a padding row holding the activation zero point.
 *      Pointers past mr repeat a real row: computed, never stored. kc % 4 == 0 (the
 *      driver pads the depth to a multiple of 4 with zero weights; under them lie padding
 *      bytes or, past a window row, the next pixel's).
 *   W: one packed panel (rn_qpack): NR int32 csum, NR float scale, NR float bias, then
 *      ks * kc/4 groups of NR x 4 s8 weights (column j's 4 consecutive k of a group are
 *      4 consecutive bytes: what one 32-bit lane of vpdpbusd multiplies and sums).
 *      csum = -(activation zero point) * (sum of column j's weights), precomputed at packing,
 *      so a u8 activation with a zero point costs nothing in the loop.
 *   No overflow: |acc| <= ks*kc*255*128 + |csum| < 2^31 needs ks*kc <= 32768 (ResNet-50's
 *      largest is 9*512 = 4608).
 *
 * The store (flags select the output type; ldc and ldr count elements of their type):
 *   RN_QUK_OUT_S32: C[i][j] = acc (int32), nothing else (tests; a split of K).
 *   otherwise, in float, each step rounded to nearest even as the instructions do:
 *     v = fmaf((float)acc, scale[j], bias[j])        (int->float rounds when |acc| > 2^24)
 *     v = fmaf((float)res[i][j], p->res_scale, v)    (only if res != NULL; res is u8)
 *     v = min(max(v, p->lo), p->hi)                  (ReLU: lo = the output zero point)
 *   RN_QUK_OUT_F32: C[i][j] = v (float).
 *   default (u8):   C[i][j] = (uint8_t)rint(v), rint = round half to even (the default
 *                   MXCSR mode of cvtps2dq; lrintf/nearbyintf in C). Needs 0 <= lo, hi <= 255.
 *   So scale and bias carry the whole requantization: scale[j] = s_a * s_w[j] / s_out,
 *   bias[j] = b[j] / s_out + z_out (and - res_scale * z_res when the residual has a zero
 *   point), res_scale = s_res / s_out. Every path computes these same float operations, so
 *   every path gives bit-identical outputs, not merely close ones.
 * All NR columns of the mr rows are written (the caller pads N to NR). */
#ifndef RN_QKERNELS_H
#define RN_QKERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* RN_QUK_PREFETCH_NEXT: fetch the panel that follows W in memory toward the cache while this
 * one runs (the driver's next, or the next task's: a thread's tasks are consecutive). A hint
 * only: a kernel may ignore it, and past the last panel it points past the weights. */
enum { RN_QUK_OUT_F32 = 1, RN_QUK_OUT_S32 = 2, RN_QUK_PREFETCH_NEXT = 4 };

typedef struct rn_qgemm_params {
    float res_scale; /* multiplier of the residual's u8 values */
    float lo, hi;    /* clamp of v, in output units */
} rn_qgemm_params;

typedef void (*rn_qgemm_ukernel)(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c,
                                 size_t ldc, const uint8_t *res, size_t ldr, const rn_qgemm_params *p,
                                 int flags);

typedef enum rn_qpath {
    RN_QPATH_AUTO = 0,
    RN_QPATH_C,
    RN_QPATH_AVX2,       /* vpmaddubsw + vpmaddwd: weights must be 7-bit (see docs/int8.md) */
    RN_QPATH_AVXVNNI,    /* VEX vpdpbusd on ymm */
    RN_QPATH_AVX512VNNI, /* EVEX vpdpbusd on zmm */
    RN_QPATH_AMX,        /* AMX-INT8 tdpbusd on tiles, the AVX-512 store */
} rn_qpath;

/* The integer Winograd F(m x m, 3x3) (ops/qwinograd.c), on paths where it pays: a tile of
 * t x t inputs, t = m + 2, gives m x m outputs through T = t * t transformed positions:
 * F(2x2,3x3) (win, wout: 16 positions) and F(3x3,3x3) (win3, wout3: 25), one GEMM for both.
 * RN_QW gemm: m[i][j] (int32, i < mr <= RN_QW_MR, j < RN_QW_NR, row stride RN_QW_NR) = sum
 *   over k < kc (even) of a[i * lda + k] * b[k][j], modulo 2^32 (rows past mr are neither
 *   read nor written); b, kc/2 pairs of depths x RN_QW_NR columns x 2 s16 (a column's two
 *   depths adjacent: what one 32-bit lane of vpmaddwd multiplies and adds).
 * RN_QW in: one tile's B^T d B: d[y * t + x] points to the pixel's cin u8 (NULL: the padding,
 *   zeros), v[e * step + ci] (s16) gets position e = y * t + x; cin % 16 == 0.
 * RN_QW out: one tile's T transformed products m[e * ldm + j] (j < RN_QW_NR) -> Y' = A'^T M A'
 *   (m x m, int32, modulo 2^32), then each output q = y * m + x with out[q] != NULL:
 *   out[q][j] = rn_qrequant_u8(Y'[q] / s, scale[j], bias[j], NULL, p), s = 4 (m = 2: an
 *   arithmetic shift by 2) or 36 (m = 3: the shift, then times RN_QW_INV9 modulo 2^32). From
 *   the driver's M, Y' is exactly s times the direct convolution's sum and both are exact
 *   divisions; the kernels compute those steps whatever M holds. */
enum { RN_QW_MR = 8, RN_QW_NR = 32 }; /* RN_QW_MR: the most rows of any path's gemm */
/* 9 * RN_QW_INV9 = 1 modulo 2^32: a multiple of 9 times it is its ninth, exactly */
#define RN_QW_INV9 0x38E38E39u
typedef void (*rn_qwino_gemm_fn)(int mr, int kc, const int16_t *a, size_t lda, const int16_t *b, int32_t *m);
typedef void (*rn_qwino_in_fn)(const uint8_t *const *d, int cin, int16_t *v, size_t step);
typedef void (*rn_qwino_out_fn)(const int32_t *m, size_t ldm, const float *scale, const float *bias,
                                const rn_qgemm_params *p, uint8_t *const *out);

/* v (already in u8 units: real / scale + zero) clamped to 0..255, then rounded half to even
 * by adding and taking away 1.5 * 2^23 (nearbyintf is a libm call per value without SSE4.1):
 * the one rounding of the ops that quantize floats (the max pool, the int8 stem's input).
 * The clamp compares the float's bits as an integer (positive floats order as their bits, a
 * negative one's are negative; 0x437f0000 is 255.0f): integer selects, which a loop of these
 * vectorises at -O2 where float comparisons would not (they may trap). A NaN becomes 0 or
 * 255. Returned as an int so that such a loop needs one vector width. */
static inline int32_t rn_quantize_u8_int(float v) {
    int32_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits = bits > 0 ? bits : 0;
    bits = bits < 0x437f0000 ? bits : 0x437f0000;
    memcpy(&v, &bits, sizeof v);
    return (int32_t)((v + 12582912.0f) - 12582912.0f);
}

static inline uint8_t rn_quantize_u8(float v) { return (uint8_t)rn_quantize_u8_int(v); }

/* Quantizes n pixels of c float planes, plane floats apart, to interleaved u8 (NHWC):
 * dst[i * c + ch] = rn_quantize_u8(src[ch * plane + i] / scale + zero), bit for bit: the
 * division, then the addition, each rounded to nearest even, then rn_quantize_u8's clamp
 * and rounding (the int8 stem's input: its one rounding of the photo). Bit for bit in the
 * default rounding mode, which the library never changes: the vector kernels name nearest
 * even in their conversion, where the portable one follows the mode. */
typedef void (*rn_quantize_planes_fn)(const float *src, size_t plane, int c, int n, float scale, float zero,
                                      uint8_t *dst);

typedef struct rn_qkernel_config {
    rn_qpath id;
    const char *name;
    int mr, nr;                /* tile shape */
    int wmin, wmax;            /* the weights this path computes exactly */
    rn_qgemm_ukernel gemm;
    double (*peak_gops)(double seconds); /* one core's measured int8 peak; NULL if unknown */
    rn_qwino_gemm_fn wgemm;    /* the integer Winograd's kernels (RN_QW above): NULL where direct is faster */
    rn_qwino_in_fn win;        /* F(2x2,3x3) */
    rn_qwino_out_fn wout;
    /* gemm's contract for activations below 128 (7 bits), where that makes it faster; NULL
     * elsewhere. A model on a path that has it keeps the activations inside its blocks that
     * direct convolutions read in 7 bits (weights.c says which and what it costs). */
    rn_qgemm_ukernel gemm7;
    rn_quantize_planes_fn quantize; /* NULL: rn_quantize_planes__c */
    rn_qwino_in_fn win3;            /* F(3x3,3x3), where its 1.44x fewer products than F(2x2)'s */
    rn_qwino_out_fn wout3;          /* pay for its transforms; NULL elsewhere */
    int wmr;                        /* wgemm's rows (at most RN_QW_MR) */
} rn_qkernel_config;

/* The config for a path (AUTO = the best this CPU has), or NULL if this CPU lacks it.
 * Chosen from cpuid + XGETBV like the fp32 family (dispatch.c). */
const rn_qkernel_config *rn_qkernels_select(rn_qpath which);
const char *rn_qpath_name(rn_qpath p);

/* Bytes of one packed panel, and of all n columns' panels (n rounded up to NR). */
size_t rn_qpack_panel_bytes(const rn_qkernel_config *kc, int ks, int kcl);
size_t rn_qpack_bytes(const rn_qkernel_config *kc, int n, int ks, int kcl);
/* Packs w[n][ks][kcl] (output channel, tap, depth; kcl % 4 == 0) with per-channel scale[n]
 * and bias[n] (NULL = zeros) for activations with zero point a_zero, into dst
 * (rn_qpack_bytes; panel p at p * rn_qpack_panel_bytes). Columns past n get zero weights,
 * scale and bias. Returns 0, or -1 when a weight is outside [kc->wmin, kc->wmax] (the
 * AVX2 path would saturate: nothing silently wrong) or kcl is not a multiple of 4. */
int rn_qpack(const rn_qkernel_config *kc, void *dst, const int8_t *w, int n, int ks, int kcl, const float *scale,
             const float *bias, int a_zero);

/* The kernels and peak probes (defined only where built). */
void rn_qs8_gemm_4x8__c(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c, size_t ldc,
                        const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags);
void rn_qs8_gemm_4x16__avx2(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c, size_t ldc,
                            const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags);
void rn_qs8_gemm_a7_4x16__avx2(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c, size_t ldc,
                               const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags);
void rn_qs8_gemm_6x16__avxvnni(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c,
                               size_t ldc, const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags);
void rn_qs8_gemm_12x32__avx512vnni(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c,
                                   size_t ldc, const uint8_t *res, size_t ldr, const rn_qgemm_params *p,
                                   int flags);
void rn_qs8_gemm_32x32__amx(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c, size_t ldc,
                            const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags);
void rn_qs16_gemm_2x32__c(int mr, int kc, const int16_t *a, size_t lda, const int16_t *b, int32_t *m);
void rn_qs16_gemm_2x32__avx2(int mr, int kc, const int16_t *a, size_t lda, const int16_t *b, int32_t *m);
void rn_qs16_gemm_8x32__avx512vnni(int mr, int kc, const int16_t *a, size_t lda, const int16_t *b, int32_t *m);
void rn_qwino_in_5x5__avx512vnni(const uint8_t *const *d, int cin, int16_t *v, size_t step);
void rn_qwino_out_3x3__avx512vnni(const int32_t *m, size_t ldm, const float *scale, const float *bias,
                                  const rn_qgemm_params *p, uint8_t *const *out);
void rn_qwino_in_4x4__c(const uint8_t *const *d, int cin, int16_t *v, size_t step);
void rn_qwino_in_4x4__avx2(const uint8_t *const *d, int cin, int16_t *v, size_t step);
void rn_qwino_in_5x5__c(const uint8_t *const *d, int cin, int16_t *v, size_t step);
void rn_qwino_in_5x5__avx2(const uint8_t *const *d, int cin, int16_t *v, size_t step);
void rn_qwino_out_2x2__c(const int32_t *m, size_t ldm, const float *scale, const float *bias,
                         const rn_qgemm_params *p, uint8_t *const *out);
void rn_qwino_out_2x2__avx2(const int32_t *m, size_t ldm, const float *scale, const float *bias,
                            const rn_qgemm_params *p, uint8_t *const *out);
void rn_qwino_out_3x3__avx2(const int32_t *m, size_t ldm, const float *scale, const float *bias,
                            const rn_qgemm_params *p, uint8_t *const *out);
void rn_qwino_out_3x3__c(const int32_t *m, size_t ldm, const float *scale, const float *bias,
                         const rn_qgemm_params *p, uint8_t *const *out);
void rn_quantize_planes__c(const float *src, size_t plane, int c, int n, float scale, float zero, uint8_t *dst);
void rn_quantize_planes__avx2(const float *src, size_t plane, int c, int n, float scale, float zero, uint8_t *dst);
void rn_quantize_planes__avx512(const float *src, size_t plane, int c, int n, float scale, float zero,
                                uint8_t *dst);
double rn_qpeak_gops__avx2(double seconds);
double rn_qpeak_gops__avxvnni(double seconds);
double rn_qpeak_gops__avx512vnni(double seconds);

/* The requantization of one value, as every kernel computes it (the definition above;
 * the portable kernel's store and the tests' oracle). */
float rn_qrequant_f32(int32_t acc, float scale, float bias, const uint8_t *res, const rn_qgemm_params *p);
uint8_t rn_qrequant_u8(int32_t acc, float scale, float bias, const uint8_t *res, const rn_qgemm_params *p);

#endif
