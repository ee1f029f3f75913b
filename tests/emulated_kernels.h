/* emulated_kernels.h - kernel families only the tests build (see the Makefile):
 * - the AVX-512 micro-kernel and grouped kernel on plain-C stand-ins for their intrinsics
 *   (tests/avx512_emulation.h, build/tests/avx512_emulated.o, gconv_avx512_emulated.o), run where
 *   the CPU lacks AVX-512;
 * - the portable kernel's plain-loop version (-DRN_PLAIN_LOOPS, build/tests/c_plain_loops.o),
 *   what compilers other than GCC and Clang build (declared where used: test_ops.c).
 * Their Winograd transforms are the portable ones. */
#ifndef RN_TEST_EMULATED_KERNELS_H
#define RN_TEST_EMULATED_KERNELS_H

#include "kernels/kernels.h"

#define RN_TEST_FAMILY(name, id, mr, nr, gemm, gconv, lanes, np)                                   \
    static const rn_kernel_config name = {id, mr, nr, gemm, {rn_wino_f4_input__c, rn_wino_f4_output__c}, \
                                          {rn_wino_f2_input__c, rn_wino_f2_output__c}, NULL, NULL, rn_bf16_convert__c, NULL, \
                                          gconv, lanes, np}

#if defined(RN_HAVE_X86)
void rn_f32_gemm_12x32__avx512_emulated(int mr, int kc, const float *const *a, const float *b, float *c, size_t ldc,
                                        const float *bias, const float *res, size_t ldr, int flags);
void rn_gconv_16__avx512_emulated(int g, int np, int ntaps, const int *tap, const float *const *x, size_t xoff,
                                  const float *w, const float *bias, float *out, size_t ldo, const float *res,
                                  size_t ldr, int relu);
RN_TEST_FAMILY(avx512_emulated, RESNET_KERNELS_AVX512, 12, 32, rn_f32_gemm_12x32__avx512_emulated,
               rn_gconv_16__avx512_emulated, 16, 12);
#endif

#endif
