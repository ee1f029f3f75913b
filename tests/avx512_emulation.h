/* avx512_emulation.h - the few AVX-512 intrinsics the 12x32 micro-kernel and the grouped
 * kernel use, written in plain C, so those kernels' logic (tile walk, row aliasing, flags,
 * epilogue, lane shuffles) is tested on machines without AVX-512.
 *
 * Force-included (-include) when compiling src/kernels/x86/gemm_12x32_avx512.c (or
 * gconv_avx512.c) for the tests
 * only: it includes <immintrin.h> first, so the kernel's own include is a no-op, then renames
 * the type and intrinsics to these stand-ins. fmadd is computed with fmaf, a single rounding,
 * like the instruction. */
#ifndef RN_AVX512_EMULATION_H
#define RN_AVX512_EMULATION_H

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef struct { float v[16]; } rn_emu_m512;

static inline rn_emu_m512 rn_emu_loadu(const float *p) { rn_emu_m512 r; memcpy(r.v, p, sizeof r.v); return r; }
static inline void rn_emu_storeu(float *p, rn_emu_m512 a) { memcpy(p, a.v, sizeof a.v); }
static inline rn_emu_m512 rn_emu_set1(float x) { rn_emu_m512 r; for (int i = 0; i < 16; i++) r.v[i] = x; return r; }
static inline rn_emu_m512 rn_emu_setzero(void) { return rn_emu_set1(0.0f); }
static inline rn_emu_m512 rn_emu_fmadd(rn_emu_m512 a, rn_emu_m512 b, rn_emu_m512 c) {
    for (int i = 0; i < 16; i++) c.v[i] = fmaf(a.v[i], b.v[i], c.v[i]);
    return c;
}
static inline rn_emu_m512 rn_emu_add(rn_emu_m512 a, rn_emu_m512 b) {
    for (int i = 0; i < 16; i++) a.v[i] += b.v[i];
    return a;
}
static inline rn_emu_m512 rn_emu_max(rn_emu_m512 a, rn_emu_m512 b) {
    for (int i = 0; i < 16; i++) a.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
    return a;
}

typedef struct { int32_t v[16]; } rn_emu_m512i;
static inline rn_emu_m512i rn_emu_loadu_si512(const void *p) { rn_emu_m512i r; memcpy(r.v, p, sizeof r.v); return r; }
/* vpermilps with an immediate: within each 128-bit lane, result i takes lane bits 2i..2i+1. */
static inline rn_emu_m512 rn_emu_permute(rn_emu_m512 a, int imm) {
    rn_emu_m512 r;
    for (int i = 0; i < 16; i++) r.v[i] = a.v[(i & ~3) + ((imm >> 2 * (i & 3)) & 3)];
    return r;
}
/* vpermps: result i takes lane idx[i] (its low 4 bits). */
static inline rn_emu_m512 rn_emu_permutexvar(rn_emu_m512i idx, rn_emu_m512 a) {
    rn_emu_m512 r;
    for (int i = 0; i < 16; i++) r.v[i] = a.v[idx.v[i] & 15];
    return r;
}

#define __m512 rn_emu_m512
#define __m512i rn_emu_m512i
#define _mm512_loadu_si512 rn_emu_loadu_si512
#define _mm512_permute_ps rn_emu_permute
#define _mm512_permutexvar_ps rn_emu_permutexvar
#define _mm512_loadu_ps rn_emu_loadu
#define _mm512_storeu_ps rn_emu_storeu
#define _mm512_set1_ps rn_emu_set1
#define _mm512_setzero_ps rn_emu_setzero
#define _mm512_fmadd_ps rn_emu_fmadd
#define _mm512_add_ps rn_emu_add
#define _mm512_max_ps rn_emu_max
/* the emulated kernel gets its own name, beside the real one */
#define rn_f32_gemm_12x32__avx512 rn_f32_gemm_12x32__avx512_emulated
#define rn_gconv_16__avx512 rn_gconv_16__avx512_emulated

#endif
