/* kernels.h - the micro-kernels and how one is chosen (internal).
 *
 * A GEMM micro-kernel computes one MR x NR tile of C = A * B + epilogue:
 *   A: packed, kc x MR floats: for each k the MR row values side by side; rows past mr
 *      are zeros (the driver packs them so).
 *   B: kc x NR floats, packed: row k of the panel is NR consecutive floats.
 *   C: mr rows of NR floats, row stride ldc. All NR columns are written: the
 *      caller guarantees the columns past the real N exist (padding).
 * acc = (flags & RN_UK_INIT_BIAS ? bias[j] : C[i][j]) + sum_k A[i][k] * B[k][j]
 * then, when flags & RN_UK_FINAL: acc += res[i][j] (if res), acc = max(acc, 0) (if RN_UK_RELU).
 * The kernels know nothing about convolutions or the model. */
#ifndef RN_KERNELS_H
#define RN_KERNELS_H

#include <stddef.h>
#include "resnet.h"

enum { RN_UK_INIT_BIAS = 1, RN_UK_FINAL = 2, RN_UK_RELU = 4 };

typedef void (*rn_gemm_ukernel)(int mr, int kc, const float *a, const float *b,
                                float *c, size_t ldc, const float *bias, const float *res,
                                size_t ldr, int flags);

typedef struct rn_kernel_config {
    resnet_kernels id;
    int mr, nr;            /* tile shape of the micro-kernel */
    rn_gemm_ukernel gemm;
    double (*peak_gflops)(double seconds); /* one core's measured FMA peak; NULL if unknown */
} rn_kernel_config;

/* The config for a path (AUTO = best available), or NULL if this CPU lacks it. */
const rn_kernel_config *rn_kernels_select(resnet_kernels which);

/* Per-ISA micro-kernels and FMA peak probes (defined only where built). */
double rn_peak_gflops__avx2(double seconds);
double rn_peak_gflops__avx512(double seconds);
void rn_f32_gemm_4x16__c(int mr, int kc, const float *a, const float *b, float *c,
                         size_t ldc, const float *bias, const float *res, size_t ldr, int flags);
void rn_f32_gemm_6x16__avx2(int mr, int kc, const float *a, const float *b, float *c,
                            size_t ldc, const float *bias, const float *res, size_t ldr, int flags);
void rn_f32_gemm_12x32__avx512(int mr, int kc, const float *a, const float *b, float *c,
                               size_t ldc, const float *bias, const float *res, size_t ldr, int flags);

#endif
