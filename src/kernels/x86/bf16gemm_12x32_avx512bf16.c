/* bf16gemm_12x32_avx512bf16.c - AVX512-BF16 micro-kernel: the 12x32 tile of the AVX-512 fp32
 * kernel (same registers: 24 zmm accumulators, 2 of B, A broadcast), but each step takes two
 * depths at once with vdpbf16ps: acc += a[2k] * b[2k] + a[2k+1] * b[2k+1], products of bf16
 * values summed in fp32. Twice the multiply-adds per instruction of the fp32 kernel.
 *
 * The contract is rn_bf16_gemm_ukernel's (kernels.h): A rows and B panels as bf16 pairs.
 * Also here: the fp32 -> bf16 conversion of the A rows with vcvtneps2bf16. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include "kernels/kernels.h"

#define MR 12

#ifndef RN_BF16_EMULATED /* tests/avx512bf16_emulation.h supplies its own */
static inline __m512bh bf16_load32(const uint16_t *p) { return (__m512bh)_mm512_loadu_si512(p); }
/* One bf16 pair (a 32-bit word) in every lane. */
static inline __m512bh bf16_pair_bcast(const uint16_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return (__m512bh)_mm512_set1_epi32(v);
}
#endif

#define ROWS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define ROWS4(X) X(0) X(1) X(2) X(3)

#define DECL(i) __m512 x##i##0, x##i##1;
#define INIT(i) x##i##0 = b0; x##i##1 = b1;
#define LOADC(i) x##i##0 = _mm512_loadu_ps(cp[i]); x##i##1 = _mm512_loadu_ps(cp[i] + 16);
#define APTR(i) const uint16_t *a##i = a[i];
#define STEP(i) { const __m512bh av = bf16_pair_bcast(a##i + 2 * (size_t)kp); \
                  x##i##0 = _mm512_dpbf16_ps(x##i##0, av, b0); x##i##1 = _mm512_dpbf16_ps(x##i##1, av, b1); }
#define ADDR(i) x##i##0 = _mm512_add_ps(x##i##0, _mm512_loadu_ps(rp[i])); \
                x##i##1 = _mm512_add_ps(x##i##1, _mm512_loadu_ps(rp[i] + 16));
#define RELU(i) x##i##0 = _mm512_max_ps(x##i##0, z); x##i##1 = _mm512_max_ps(x##i##1, z);
#define STORE(i) if (i < mr) { _mm512_storeu_ps(cp[i], x##i##0); _mm512_storeu_ps(cp[i] + 16, x##i##1); }
#include "tile_fetch.inc"

/* Depth pairs kp0..kp1-1: a pair row of B against every row's A pair (FETCH: tile_fetch.inc,
 * as in the fp32 kernel; here every tile takes the hint: a bf16 model's fc, the one-row case,
 * is fp32). */
#define PAIR_STEPS(ROWS, kp0, kp1, FETCH)                                                      \
    for (int kp = (kp0); kp < (kp1); kp++) {                                                   \
        FETCH(kp)                                                                              \
        const __m512bh b0 = bf16_load32(b), b1 = bf16_load32(b + 32);                          \
        b += 64;                                                                               \
        ROWS(STEP)                                                                             \
    }

#define TILE_BODY(ROWS, rows)                                                                  \
    float *cp[rows];                                                                           \
    const float *rp[rows];                                                                     \
    for (int i = 0; i < rows; i++) {                                                           \
        int r = i < mr ? i : mr - 1; /* rows past mr: computed from a real row, not stored */  \
        cp[i] = c + (size_t)r * ldc;                                                           \
        rp[i] = res ? res + (size_t)r * ldr : NULL;                                            \
    }                                                                                          \
    ROWS(DECL)                                                                                 \
    /* the residual and a new tile's C are touched after the k loop: fetched during it, they   \
     * arrive while it runs, half the rows at the start and half midway (as the fp32 kernel    \
     * does, and for the same reason) */                                                       \
    FETCH_AFTER(0, rows / 2)                                                                   \
    if (flags & RN_UK_INIT_BIAS) {                                                             \
        const __m512 b0 = _mm512_loadu_ps(bias), b1 = _mm512_loadu_ps(bias + 16);              \
        ROWS(INIT)                                                                             \
    } else {                                                                                   \
        ROWS(LOADC)                                                                            \
    }                                                                                          \
    ROWS(APTR)                                                                                 \
    const int pairs = (kc + 1) / 2;                                                            \
    K_HALVES(ROWS, rows, PAIR_STEPS, pairs)                                                    \
    if (flags & RN_UK_FINAL) {                                                                 \
        if (res) {                                                                             \
            ROWS(ADDR)                                                                         \
        }                                                                                      \
        if (flags & RN_UK_RELU) {                                                              \
            const __m512 z = _mm512_setzero_ps();                                              \
            ROWS(RELU)                                                                         \
        }                                                                                      \
    }                                                                                          \
    ROWS(STORE)

static void tile_4x32(int mr, int kc, const uint16_t *const *a, const uint16_t *b, float *c, size_t ldc,
                      const float *bias, const float *res, size_t ldr, int flags) {
    TILE_BODY(ROWS4, 4)
}

void rn_bf16_gemm_12x32__avx512bf16(int mr, int kc, const uint16_t *const *a, const uint16_t *b, float *c,
                                    size_t ldc, const float *bias, const float *res, size_t ldr, int flags) {
    if (mr <= 4) {
        tile_4x32(mr, kc, a, b, c, ldc, bias, res, ldr, flags);
        return;
    }
    TILE_BODY(ROWS12, MR)
}

#ifndef RN_BF16_EMULATED
/* n floats to bf16, rounded to nearest even, and a zero after them when n is odd. */
void rn_bf16_convert__avx512bf16(const float *src, int n, uint16_t *dst) {
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
        _mm512_storeu_si512(dst + i, (__m512i)v);
    }
    for (; i < n; i += 16) {
        const int left = n - i < 16 ? n - i : 16;
        const __mmask16 m = (__mmask16)((1u << left) - 1);
        __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + i));
        _mm256_mask_storeu_epi16(dst + i, m, (__m256i)v);
    }
    if (n & 1) dst[n] = 0;
}
#endif
