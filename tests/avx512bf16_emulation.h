/* avx512bf16_emulation.h - the AVX512-BF16 intrinsics the bf16 micro-kernel uses, in plain C
 * (on tests/avx512_emulation.h's __m512), so its tile walk, pair layout, row aliasing and
 * epilogue are tested on CPUs without AVX512-BF16.
 *
 * Force-included when compiling src/kernels/x86/bf16gemm_12x32_avx512bf16.c for the tests only
 * (the Makefile); the kernel then takes its pair loads from here (RN_BF16_EMULATED) and is
 * renamed *_emulated. vdpbf16ps as Intel defines it: per lane, the odd pair's product added
 * first, then the even one's, each rounded to fp32 (a product of two bf16 values is exact in
 * fp32, so fmaf is that), denormal inputs and outputs as they come (the tests use none). */
#ifndef RN_AVX512BF16_EMULATION_H
#define RN_AVX512BF16_EMULATION_H

#include "avx512_emulation.h"
#include <stdint.h>

#define RN_BF16_EMULATED 1

typedef struct { uint16_t v[32]; } rn_emu_m512bh;

static inline float rn_emu_bf16_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static inline rn_emu_m512bh bf16_load32(const uint16_t *p) { rn_emu_m512bh r; memcpy(r.v, p, sizeof r.v); return r; }
static inline rn_emu_m512bh bf16_pair_bcast(const uint16_t *p) {
    rn_emu_m512bh r;
    for (int i = 0; i < 16; i++) r.v[2 * i] = p[0], r.v[2 * i + 1] = p[1];
    return r;
}
static inline rn_emu_m512 rn_emu_dpbf16(rn_emu_m512 acc, rn_emu_m512bh a, rn_emu_m512bh b) {
    for (int i = 0; i < 16; i++) {
        acc.v[i] = fmaf(rn_emu_bf16_f32(a.v[2 * i + 1]), rn_emu_bf16_f32(b.v[2 * i + 1]), acc.v[i]);
        acc.v[i] = fmaf(rn_emu_bf16_f32(a.v[2 * i]), rn_emu_bf16_f32(b.v[2 * i]), acc.v[i]);
    }
    return acc;
}

#define __m512bh rn_emu_m512bh
#define _mm512_dpbf16_ps rn_emu_dpbf16
#define rn_bf16_gemm_12x32__avx512bf16 rn_bf16_gemm_12x32__avx512bf16_emulated

#endif
