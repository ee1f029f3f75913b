/* avx512vnni_emulation.h - the AVX-512 intrinsics the int8 12x32 micro-kernel uses, in plain
 * C, so its logic (tile walk, taps, row aliasing, the store's requantization) is tested on
 * CPUs without AVX-512 VNNI (a Zen 3, or a machine whose OS hides the AVX-512 state).
 * Force-included (-include) when compiling src/kernels/x86/qgemm_12x32_avx512vnni.c for the
 * tests only, after the float stand-ins of avx512_emulation.h. Each stand-in computes what
 * the instruction does: dpbusd wraps in int32, cvtps_epi32 rounds in the current mode
 * (nearest even), cvtepi32_epi8 keeps the low byte. The 128-bit loads and stores are SSE2's. */
#ifndef RN_AVX512VNNI_EMULATION_H
#define RN_AVX512VNNI_EMULATION_H

#include "avx512_emulation.h"
#include <stdint.h>

/* rn_emu_m512i and its load: avx512_emulation.h */
static inline void rn_emu_storeu_si512(void *p, rn_emu_m512i a) { memcpy(p, a.v, sizeof a.v); }
static inline rn_emu_m512i rn_emu_set1_epi32(int32_t x) { rn_emu_m512i r; for (int i = 0; i < 16; i++) r.v[i] = x; return r; }
static inline rn_emu_m512i rn_emu_add_epi32(rn_emu_m512i a, rn_emu_m512i b) {
    for (int i = 0; i < 16; i++) a.v[i] = (int32_t)((uint32_t)a.v[i] + (uint32_t)b.v[i]);
    return a;
}
static inline rn_emu_m512i rn_emu_dpbusd(rn_emu_m512i acc, rn_emu_m512i a, rn_emu_m512i b) {
    for (int i = 0; i < 16; i++) {
        uint32_t s = (uint32_t)acc.v[i];
        for (int q = 0; q < 4; q++) {
            uint8_t x = (uint8_t)((uint32_t)a.v[i] >> (8 * q));
            int8_t y = (int8_t)(uint8_t)((uint32_t)b.v[i] >> (8 * q));
            s += (uint32_t)(x * y);
        }
        acc.v[i] = (int32_t)s;
    }
    return acc;
}
static inline rn_emu_m512 rn_emu_cvtepi32_ps(rn_emu_m512i a) {
    rn_emu_m512 r;
    for (int i = 0; i < 16; i++) r.v[i] = (float)a.v[i];
    return r;
}
static inline rn_emu_m512i rn_emu_cvtps_epi32(rn_emu_m512 a) {
    rn_emu_m512i r;
    for (int i = 0; i < 16; i++) r.v[i] = (int32_t)nearbyintf(a.v[i]);
    return r;
}
static inline rn_emu_m512 rn_emu_min(rn_emu_m512 a, rn_emu_m512 b) {
    for (int i = 0; i < 16; i++) a.v[i] = a.v[i] < b.v[i] ? a.v[i] : b.v[i];
    return a;
}
static inline __m128i rn_emu_cvtepi32_epi8(rn_emu_m512i a) {
    uint8_t b[16];
    for (int i = 0; i < 16; i++) b[i] = (uint8_t)a.v[i];
    return _mm_loadu_si128((const __m128i *)(const void *)b);
}
static inline rn_emu_m512i rn_emu_cvtepu8_epi32(__m128i a) {
    uint8_t b[16];
    rn_emu_m512i r;
    _mm_storeu_si128((__m128i *)(void *)b, a);
    for (int i = 0; i < 16; i++) r.v[i] = b[i];
    return r;
}
/* and what the input's quantization adds (quantize_planes_avx512.c, whose byte shuffles are
 * SSSE3's): division, the bit casts, integer max and min, and the conversion rounding to
 * nearest even, the instruction's named mode (here the current one: the default) */
static inline rn_emu_m512 rn_emu_div(rn_emu_m512 a, rn_emu_m512 b) {
    for (int i = 0; i < 16; i++) a.v[i] /= b.v[i];
    return a;
}
static inline rn_emu_m512i rn_emu_castps_si512(rn_emu_m512 a) { rn_emu_m512i r; memcpy(r.v, a.v, sizeof r.v); return r; }
static inline rn_emu_m512 rn_emu_castsi512_ps(rn_emu_m512i a) { rn_emu_m512 r; memcpy(r.v, a.v, sizeof r.v); return r; }
static inline rn_emu_m512i rn_emu_setzero_si512(void) { return rn_emu_set1_epi32(0); }
static inline rn_emu_m512i rn_emu_max_epi32(rn_emu_m512i a, rn_emu_m512i b) {
    for (int i = 0; i < 16; i++) a.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
    return a;
}
static inline rn_emu_m512i rn_emu_min_epi32(rn_emu_m512i a, rn_emu_m512i b) {
    for (int i = 0; i < 16; i++) a.v[i] = a.v[i] < b.v[i] ? a.v[i] : b.v[i];
    return a;
}
static inline rn_emu_m512i rn_emu_cvt_roundps_epi32(rn_emu_m512 a, int mode) {
    (void)mode;
    return rn_emu_cvtps_epi32(a);
}

/* and what the integer Winograd's kernels add (qwino_avx512vnni.c): 32 s16 lanes in the same
 * 64 bytes, wrapping as the instructions do; vpdpwssd sums each lane's two s16 products into
 * int32, wrapping; the 256-bit load is a struct (no AVX here); the 16-channel tail that the
 * kernel hands to the AVX2 transform goes to the portable one. */
typedef struct { uint8_t b[32]; } rn_emu_m256i;
static inline rn_emu_m256i rn_emu_loadu_si256(const rn_emu_m256i *p) { rn_emu_m256i r; memcpy(r.b, p, 32); return r; }
static inline void rn_emu_get16(rn_emu_m512i a, int16_t h[32]) { memcpy(h, a.v, 64); }
static inline rn_emu_m512i rn_emu_put16(const int16_t h[32]) { rn_emu_m512i r; memcpy(r.v, h, 64); return r; }
static inline rn_emu_m512i rn_emu_add_epi16(rn_emu_m512i a, rn_emu_m512i b) {
    int16_t x[32], y[32];
    rn_emu_get16(a, x);
    rn_emu_get16(b, y);
    for (int i = 0; i < 32; i++) x[i] = (int16_t)(uint16_t)((uint16_t)x[i] + (uint16_t)y[i]);
    return rn_emu_put16(x);
}
static inline rn_emu_m512i rn_emu_sub_epi16(rn_emu_m512i a, rn_emu_m512i b) {
    int16_t x[32], y[32];
    rn_emu_get16(a, x);
    rn_emu_get16(b, y);
    for (int i = 0; i < 32; i++) x[i] = (int16_t)(uint16_t)((uint16_t)x[i] - (uint16_t)y[i]);
    return rn_emu_put16(x);
}
static inline rn_emu_m512i rn_emu_cvtepu8_epi16(rn_emu_m256i a) {
    int16_t x[32];
    for (int i = 0; i < 32; i++) x[i] = a.b[i];
    return rn_emu_put16(x);
}
static inline rn_emu_m512i rn_emu_dpwssd(rn_emu_m512i acc, rn_emu_m512i a, rn_emu_m512i b) {
    int16_t x[32], y[32];
    rn_emu_get16(a, x);
    rn_emu_get16(b, y);
    for (int i = 0; i < 16; i++)
        acc.v[i] = (int32_t)((uint32_t)acc.v[i] + (uint32_t)((int32_t)x[2 * i] * y[2 * i]) +
                             (uint32_t)((int32_t)x[2 * i + 1] * y[2 * i + 1]));
    return acc;
}
static inline rn_emu_m512i rn_emu_sub_epi32(rn_emu_m512i a, rn_emu_m512i b) {
    for (int i = 0; i < 16; i++) a.v[i] = (int32_t)((uint32_t)a.v[i] - (uint32_t)b.v[i]);
    return a;
}
static inline rn_emu_m512i rn_emu_mullo_epi32(rn_emu_m512i a, rn_emu_m512i b) {
    for (int i = 0; i < 16; i++) a.v[i] = (int32_t)((uint32_t)a.v[i] * (uint32_t)b.v[i]);
    return a;
}
/* counts past 31: 0 (slli), the sign everywhere (srai), as the instructions give */
static inline rn_emu_m512i rn_emu_slli_epi32(rn_emu_m512i a, unsigned n) {
    for (int i = 0; i < 16; i++) a.v[i] = n > 31 ? 0 : (int32_t)((uint32_t)a.v[i] << n);
    return a;
}
static inline rn_emu_m512i rn_emu_srai_epi32(rn_emu_m512i a, unsigned n) { /* arithmetic: the sign fills */
    if (n > 31) n = 31;
    for (int i = 0; i < 16; i++) a.v[i] = a.v[i] < 0 ? ~(int32_t)(~(uint32_t)a.v[i] >> n) : (int32_t)((uint32_t)a.v[i] >> n);
    return a;
}

#undef _mm512_slli_epi32 /* macros in some compilers' headers */
#undef _mm512_srai_epi32
#define __m256i rn_emu_m256i
#define _mm256_loadu_si256 rn_emu_loadu_si256
#define _mm512_add_epi16 rn_emu_add_epi16
#define _mm512_sub_epi16 rn_emu_sub_epi16
#define _mm512_cvtepu8_epi16 rn_emu_cvtepu8_epi16
#define _mm512_dpwssd_epi32 rn_emu_dpwssd
#define _mm512_sub_epi32 rn_emu_sub_epi32
#define _mm512_mullo_epi32 rn_emu_mullo_epi32
#define _mm512_slli_epi32 rn_emu_slli_epi32
#define _mm512_srai_epi32 rn_emu_srai_epi32
#define rn_qwino_in_5x5__avx2 rn_qwino_in_5x5__c
#define rn_qs16_gemm_8x32__avx512vnni rn_qs16_gemm_8x32__avx512vnni_emulated
#define rn_qwino_in_5x5__avx512vnni rn_qwino_in_5x5__avx512vnni_emulated
#define rn_qwino_out_3x3__avx512vnni rn_qwino_out_3x3__avx512vnni_emulated

#undef _mm512_cvt_roundps_epi32 /* a macro in some compilers' headers */
#define _mm512_div_ps rn_emu_div
#define _mm512_castps_si512 rn_emu_castps_si512
#define _mm512_castsi512_ps rn_emu_castsi512_ps
#define _mm512_setzero_si512 rn_emu_setzero_si512
#define _mm512_max_epi32 rn_emu_max_epi32
#define _mm512_min_epi32 rn_emu_min_epi32
#define _mm512_cvt_roundps_epi32 rn_emu_cvt_roundps_epi32
#define rn_quantize_planes__avx512 rn_quantize_planes__avx512_emulated
#define _mm512_storeu_si512 rn_emu_storeu_si512
#define _mm512_set1_epi32 rn_emu_set1_epi32
#define _mm512_add_epi32 rn_emu_add_epi32
#define _mm512_dpbusd_epi32 rn_emu_dpbusd
#define _mm512_cvtepi32_ps rn_emu_cvtepi32_ps
#define _mm512_cvtps_epi32 rn_emu_cvtps_epi32
#define _mm512_min_ps rn_emu_min
#define _mm512_cvtepi32_epi8 rn_emu_cvtepi32_epi8
#define _mm512_cvtepu8_epi32 rn_emu_cvtepu8_epi32
#define rn_qs8_gemm_12x32__avx512vnni rn_qs8_gemm_12x32__avx512vnni_emulated

#endif
