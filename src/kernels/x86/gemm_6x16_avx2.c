/* gemm_6x16_avx2.c - AVX2+FMA micro-kernel: a 6x16 tile in 12 ymm accumulators,
 * 2 ymm of B and one broadcast of A per step (15 of the 16 registers). Tiles of one or two
 * rows (the last of 49 rows at batch 1, say) take a 2x16 version of the same code: 4
 * accumulators, a third of the full tile's time instead of all of it. */
#include <immintrin.h>
#include <stdint.h>
#include "kernels/kernels.h"

#define MR 6

/* The rows are spelled out (explicit registers, no arrays of __m256 that gcc may spill);
 * each step below is applied to every row of a row list. */
#define ROWS6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define ROWS2(X) X(0) X(1)

#define DECL(i) __m256 x##i##0, x##i##1;
#define INIT(i) x##i##0 = b0; x##i##1 = b1;
#define LOADC(i) x##i##0 = _mm256_loadu_ps(ROW_AT(c, ldc, i)); x##i##1 = _mm256_loadu_ps(ROW_AT(c, ldc, i) + 8);
/* A is broadcast straight from its rows (one stream each): k indexes all of them, so the
 * unrolled loop addresses them as base + k + constant. */
#define APTR(i) const float *a##i = a[i];
#define FMA(i) { const __m256 av = _mm256_broadcast_ss(a##i + k); \
                 x##i##0 = _mm256_fmadd_ps(av, b0, x##i##0); x##i##1 = _mm256_fmadd_ps(av, b1, x##i##1); }
#define ADDR(i) x##i##0 = _mm256_add_ps(x##i##0, _mm256_loadu_ps(ROW_AT(res, ldr, i))); \
                x##i##1 = _mm256_add_ps(x##i##1, _mm256_loadu_ps(ROW_AT(res, ldr, i) + 8));
#define RELU(i) x##i##0 = _mm256_max_ps(x##i##0, z); x##i##1 = _mm256_max_ps(x##i##1, z);
#define STORE(i) if (i < mr) { _mm256_storeu_ps(c + (size_t)i * ldc, x##i##0); _mm256_storeu_ps(c + (size_t)i * ldc + 8, x##i##1); }

/* One k step: a row of B (16 floats) against every row's A value. */
#define STEP(ROWS)                                                                   \
    {                                                                                \
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);           \
        b += 16;                                                                     \
        ROWS(FMA)                                                                    \
    }

/* Row i of C (and of the residual) for a tile of mr real rows: rows past mr use the last
 * real row (nothing outside the matrix is touched; their A pointer repeats a real row and
 * they are never stored). Recomputed after the k loop rather than kept in registers
 * through it, which the loop needs for A and B. */
#define ROW_AT(p, ld, i) ((p) + (size_t)((i) < mr ? (i) : mr - 1) * (ld))

/* One tile over the rows of ROWS (rows = how many it has). */
#define TILE_BODY(ROWS, rows)                                                                   \
    /* C and the residual are touched only after the k loop: ask for their lines now, so      \
     * they arrive while it runs (rows far apart, often out in L3) */                           \
    for (int i = 0; i < mr; i++) {                                                              \
        _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);                         \
        if (res && (flags & RN_UK_FINAL)) _mm_prefetch((const char *)(res + (size_t)i * ldr), _MM_HINT_T0); \
    }                                                                                           \
    ROWS(DECL)                                                                                  \
    if (flags & RN_UK_INIT_BIAS) {                                                              \
        const __m256 b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);                \
        ROWS(INIT)                                                                              \
    } else {                                                                                    \
        ROWS(LOADC)                                                                             \
    }                                                                                           \
    ROWS(APTR)                                                                                  \
    if (flags & RN_UK_PREFETCH_NEXT_B) {                                                        \
        /* one 64-byte row of B per step: fetch the same row of the next panel */               \
        const char *next = (const char *)((uintptr_t)b + (size_t)kc * 64);                      \
        _Pragma("GCC unroll 8") for (int k = 0; k < kc; k++) {                                  \
            _mm_prefetch(next + (size_t)k * 64, _MM_HINT_T0);                                   \
            STEP(ROWS)                                                                          \
        }                                                                                       \
    } else {                                                                                    \
        _Pragma("GCC unroll 16") for (int k = 0; k < kc; k++) STEP(ROWS)                        \
    }                                                                                           \
    if (flags & RN_UK_FINAL) {                                                                  \
        if (res) {                                                                              \
            ROWS(ADDR)                                                                          \
        }                                                                                       \
        if (flags & RN_UK_RELU) {                                                               \
            const __m256 z = _mm256_setzero_ps();                                               \
            ROWS(RELU)                                                                          \
        }                                                                                       \
    }                                                                                           \
    ROWS(STORE)

static void tile_2x16(int mr, int kc, const float *const *a, const float *b, float *c, size_t ldc,
                      const float *bias, const float *res, size_t ldr, int flags) {
    TILE_BODY(ROWS2, 2)
}

void rn_f32_gemm_6x16__avx2(int mr, int kc, const float *const *a, const float *b, float *c, size_t ldc,
                            const float *bias, const float *res, size_t ldr, int flags) {
    if (mr <= 2) {
        tile_2x16(mr, kc, a, b, c, ldc, bias, res, ldr, flags);
        return;
    }
    TILE_BODY(ROWS6, MR)
}
