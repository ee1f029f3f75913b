/* kernels.h - the micro-kernels and how one is chosen (internal).
 *
 * A GEMM micro-kernel computes one MR x NR tile of C = A * B + epilogue:
 *   A: MR row pointers, each to kc consecutive floats (a row of an NHWC activation, a
 *      padding row of zeros, a row of an im2col block, a Winograd-domain tile: the
 *      driver decides, so nothing is ever packed for A). Pointers past mr must still be
 *      readable (the driver repeats the last real row): computed, never stored.
 *   B: kc x NR floats, packed: row k of the panel is NR consecutive floats.
 *   C: mr rows of NR floats, row stride ldc. All NR columns are written: the
 *      caller guarantees the columns past the real N exist (padding).
 * acc = (flags & RN_UK_INIT_BIAS ? bias[j] : C[i][j]) + sum_k A[i][k] * B[k][j]
 * then, when flags & RN_UK_FINAL: acc += res[i][j] (if res), acc = max(acc, 0) (if RN_UK_RELU).
 * The kernels know nothing about convolutions or the model. */
#ifndef RN_KERNELS_H
#define RN_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "resnet.h"

/* RN_UK_PREFETCH_NEXT_B: B is followed in memory by the next B the driver will use (the
 * next panel): fetch it toward the cache while this one runs. A hint only. */
enum { RN_UK_INIT_BIAS = 1, RN_UK_FINAL = 2, RN_UK_RELU = 4, RN_UK_PREFETCH_NEXT_B = 8 };

typedef void (*rn_gemm_ukernel)(int mr, int kc, const float *const *a, const float *b,
                                float *c, size_t ldc, const float *bias, const float *res,
                                size_t ldr, int flags);

/* The bf16 row of a family: the same MR x NR tile and contract as rn_gemm_ukernel, with A and B
 * as bf16 values (the top half of an fp32) taken two depths at a time:
 *   A: each row is kc bf16 values, then a zero when kc is odd (read as (kc+1)/2 pairs);
 *   B: (kc+1)/2 pair rows of NR columns; pair row p holds for column j the values of depths
 *      2p and 2p+1 side by side (b[(p*NR + j)*2 + t] = B[2p+t][j], zero past kc): the
 *      operand order of vdpbf16ps.
 * Products are summed in fp32; bias, C, the residual and the output stay fp32. */
typedef void (*rn_bf16_gemm_ukernel)(int mr, int kc, const uint16_t *const *a, const uint16_t *b, float *c,
                                     size_t ldc, const float *bias, const float *res, size_t ldr, int flags);
/* n floats to bf16 (round to nearest even), plus a zero when n is odd. */
typedef void (*rn_bf16_convert_fn)(const float *src, int n, uint16_t *dst);

/* fp32 -> bf16, rounded to nearest even (a NaN stays a NaN), and back. */
static inline uint16_t rn_bf16_from_f32(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}
static inline float rn_f32_from_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Winograd transforms of n channels (a multiple of 8), one tile at a time, for F(T x T, 3x3)
 * with T = 4 (a 6x6 window, 36 positions e) or T = 2 (4x4 window, 16 positions).
 * input:  d = the window's pixels, row-major (a row of zeros for padding);
 *         writes V[e] = (B^T d B)[e] to v + e * v_stride for every position e.
 * output: M[e] at m + e * m_stride; writes act(A^T M A + bias + res) to the T x T output
 *         pixels out[] (NULL: past the image's edge, skipped), res[i] NULL for none. */
typedef void (*rn_wino_input_fn)(const float *const *d, int n, float *v, size_t v_stride);
typedef void (*rn_wino_output_fn)(const float *m, size_t m_stride, int n, const float *bias,
                                  float *const *out, const float *const *res, int relu);
typedef struct rn_wino_transforms {
    rn_wino_input_fn input;
    rn_wino_output_fn output;
} rn_wino_transforms;

/* A grouped convolution whose groups have G input and G output channels (cin = cout), G
 * dividing the family's gconv_lanes L (one vector): a block of L output channels is L/G whole
 * groups, and those groups read exactly the same L input channels, the vector at the same place
 * of the input pixel. Per tap and output pixel the kernel loads that vector once, and for each
 * j < G spreads lane j of every group over its group's lanes and multiplies it into the
 * accumulators with weight vector j of the tap: G multiply-adds of L lanes, no zeros. G a
 * multiple of L: the block is part of one group and reads all G of its inputs (x + xoff is the
 * group's first), one broadcast each; the accumulators stay in registers over every tap.
 *   g: G; np: output pixels to store (at most gconv_np);
 *   ntaps, tap[t]: the taps to sum (those that see the image for some of the pixels);
 *   x[t * gconv_np + p] + xoff: tap t's input vector for pixel p (L floats; a row of zeros
 *      where the window hangs over the padding); pointers past np repeat a real pixel:
 *      computed, never stored;
 *   w: this block's weights, [tap][j][L]: lane l holds the weight from input channel j of
 *      output channel l's group to output channel l;
 *   out + p * ldo: pixel p's L outputs = act(bias + sum + res), res (+ p * ldr) NULL for none,
 *      act = ReLU when relu. */
typedef void (*rn_gconv_ukernel)(int g, int np, int ntaps, const int *tap, const float *const *x, size_t xoff,
                                 const float *w, const float *bias, float *out, size_t ldo, const float *res,
                                 size_t ldr, int relu);
enum { RN_GCONV_MAX_NP = 12 }; /* the most output pixels a gconv kernel takes */

typedef struct rn_kernel_config {
    resnet_kernels id;
    int mr, nr;            /* tile shape of the micro-kernel */
    rn_gemm_ukernel gemm;
    rn_wino_transforms wino_f4, wino_f2;
    double (*peak_gflops)(double seconds); /* one core's measured FMA peak; NULL if unknown */
    /* bf16 (RN_CONV_BF16 convolutions): NULL where the CPU has no bf16 dot product; such a
     * family runs a bf16 model's convolutions on its fp32 kernel, weights rounded to bf16. */
    rn_bf16_gemm_ukernel gemm_bf16;
    rn_bf16_convert_fn to_bf16;
    double (*peak_bf16_gflops)(double seconds); /* one core's measured bf16 dot-product peak */
    rn_gconv_ukernel gconv; /* grouped convolutions with small groups (above) */
    int gconv_lanes, gconv_np; /* its vector width L and most pixels a call */
} rn_kernel_config;

/* The config for a path (AUTO = best available), or NULL if this CPU lacks it.
 * RN_KERNELS_AVX512_NO_AMX, for tests and comparisons only (no user option names it): the
 * AVX-512 family with its AVX512-BF16 row where the CPU also has AMX-BF16 (AVX512 and AUTO
 * take the AMX row there). */
#define RN_KERNELS_AVX512_NO_AMX ((resnet_kernels)0x100)
const rn_kernel_config *rn_kernels_select(resnet_kernels which);
/* The family a bf16 model runs on: kc, or kc's fp32 row (weights rounded to bf16, widened as
 * they are packed) where kc's bf16 row is vdpbf16ps and this CPU runs it at fewer FLOP/s than
 * its FMA (measured once per process). Emulated and other families come back unchanged. */
const rn_kernel_config *rn_kernels_for_bf16(const rn_kernel_config *kc);
/* The bf16 kernel's name ("amx-bf16", "avx512bf16"), or NULL where kc has none. */
const char *rn_kernels_bf16_name(const rn_kernel_config *kc);

/* Per-ISA micro-kernels and FMA peak probes (defined only where built). */
double rn_peak_gflops__avx2(double seconds);
double rn_peak_gflops__avx512(double seconds);
void rn_wino_f4_input__c(const float *const *d, int n, float *v, size_t v_stride);
void rn_wino_f4_output__c(const float *m, size_t m_stride, int n, const float *bias, float *const *out,
                          const float *const *res, int relu);
void rn_wino_f2_input__c(const float *const *d, int n, float *v, size_t v_stride);
void rn_wino_f2_output__c(const float *m, size_t m_stride, int n, const float *bias, float *const *out,
                          const float *const *res, int relu);
void rn_wino_f4_input__avx2(const float *const *d, int n, float *v, size_t v_stride);
void rn_wino_f4_output__avx2(const float *m, size_t m_stride, int n, const float *bias, float *const *out,
                          const float *const *res, int relu);
void rn_wino_f2_input__avx2(const float *const *d, int n, float *v, size_t v_stride);
void rn_wino_f2_output__avx2(const float *m, size_t m_stride, int n, const float *bias, float *const *out,
                          const float *const *res, int relu);
double rn_peak_gflops__avx512bf16(double seconds);
void rn_bf16_convert__c(const float *src, int n, uint16_t *dst);
void rn_bf16_convert__avx512bf16(const float *src, int n, uint16_t *dst);
void rn_bf16_gemm_12x32__avx512bf16(int mr, int kc, const uint16_t *const *a, const uint16_t *b, float *c,
                                    size_t ldc, const float *bias, const float *res, size_t ldr, int flags);
void rn_bf16_gemm_12x32__amx(int mr, int kc, const uint16_t *const *a, const uint16_t *b, float *c, size_t ldc,
                             const float *bias, const float *res, size_t ldr, int flags);
void rn_gconv_16__c(int g, int np, int ntaps, const int *tap, const float *const *x, size_t xoff, const float *w,
                    const float *bias, float *out, size_t ldo, const float *res, size_t ldr, int relu);
void rn_gconv_8__avx2(int g, int np, int ntaps, const int *tap, const float *const *x, size_t xoff, const float *w,
                      const float *bias, float *out, size_t ldo, const float *res, size_t ldr, int relu);
void rn_gconv_16__avx512(int g, int np, int ntaps, const int *tap, const float *const *x, size_t xoff,
                         const float *w, const float *bias, float *out, size_t ldo, const float *res, size_t ldr,
                         int relu);
void rn_f32_gemm_6x8__c(int mr, int kc, const float *const *a, const float *b, float *c,
                         size_t ldc, const float *bias, const float *res, size_t ldr, int flags);
void rn_f32_gemm_6x16__avx2(int mr, int kc, const float *const *a, const float *b, float *c,
                            size_t ldc, const float *bias, const float *res, size_t ldr, int flags);
void rn_f32_gemm_12x32__avx512(int mr, int kc, const float *const *a, const float *b, float *c,
                               size_t ldc, const float *bias, const float *res, size_t ldr, int flags);

#endif
