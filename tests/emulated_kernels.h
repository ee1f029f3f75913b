/* emulated_kernels.h - kernel families the tests can run where the CPU lacks them: the
 * AVX-512 micro-kernel built on plain-C stand-ins for its intrinsics (tests/avx512_emulation.h,
 * linked in as build/tests/avx512_emulated.o, see the Makefile). Its Winograd transforms are
 * the portable ones, as the real family's are compiled C too. */
#ifndef RN_TEST_EMULATED_KERNELS_H
#define RN_TEST_EMULATED_KERNELS_H

#include "kernels/kernels.h"

#if defined(RN_HAVE_X86)
void rn_f32_gemm_12x32__avx512_emulated(int mr, int kc, const float *const *a, const float *b, float *c, size_t ldc,
                                        const float *bias, const float *res, size_t ldr, int flags);
static const rn_kernel_config avx512_emulated = {RESNET_KERNELS_AVX512, 12, 32, rn_f32_gemm_12x32__avx512_emulated,
                                                 {rn_wino_f4_input__c, rn_wino_f4_output__c},
                                                 {rn_wino_f2_input__c, rn_wino_f2_output__c},
                                                 NULL};
#endif

#endif
