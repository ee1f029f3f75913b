/* avxvnni_emulation.h - VEX vpdpbusd (AVX-VNNI) written with AVX2, so the int8 6x16
 * micro-kernel is tested on AVX2 CPUs without AVX-VNNI (Zen 3, Zen 4, Skylake). Force-
 * included (-include) when compiling src/kernels/x86/qgemm_6x16_avxvnni.c with -mavx2 only,
 * for the tests; the rest of the kernel is real AVX2. Wraps in int32, like the instruction. */
#ifndef RN_AVXVNNI_EMULATION_H
#define RN_AVXVNNI_EMULATION_H

#include <immintrin.h>
#include <stdint.h>

static inline __m256i rn_emu_dpbusd256(__m256i acc, __m256i a, __m256i b) {
    uint8_t x[32];
    int8_t y[32];
    uint32_t s[8];
    _mm256_storeu_si256((__m256i *)(void *)x, a);
    _mm256_storeu_si256((__m256i *)(void *)y, b);
    _mm256_storeu_si256((__m256i *)(void *)s, acc);
    for (int i = 0; i < 32; i++) s[i / 4] += (uint32_t)(x[i] * y[i]);
    return _mm256_loadu_si256((const __m256i *)(const void *)s);
}

#define _mm256_dpbusd_avx_epi32 rn_emu_dpbusd256
#define rn_qs8_gemm_6x16__avxvnni rn_qs8_gemm_6x16__avxvnni_emulated

#endif
