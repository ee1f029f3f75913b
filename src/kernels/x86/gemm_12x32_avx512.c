/* gemm_12x32_avx512.c - AVX-512F micro-kernel: a 12x32 tile in 24 zmm accumulators,
 * 2 zmm of B per step and A broadcast from memory (27 of the 32 registers). On Zen 4
 * this runs at the same FLOP rate as AVX2 but needs half the instructions. Tiles of at
 * most 4 rows take a 4x32 version of the same code, a third of the full tile's time, and
 * of 1 or 2 rows (the last of 49 at batch 1: layer4) a 1x32 or 2x32: a 4-row tile for one
 * row cost layer4 about 6%. */
#include <immintrin.h>
#include <stdint.h>
#include "kernels/kernels.h"

#define MR 12

/* The rows are spelled out: arrays of __m512 indexed in loops are kept in registers by
 * gcc -O2 only sometimes, and a spill here costs half the speed. Each step below is applied
 * to every row of a row list. */
#define ROWS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define ROWS4(X) X(0) X(1) X(2) X(3)
#define ROWS2(X) X(0) X(1)
#define ROWS1(X) X(0)

#define DECL(i) __m512 x##i##0, x##i##1;
#define INIT(i) x##i##0 = b0; x##i##1 = b1;
#define LOADC(i) x##i##0 = _mm512_loadu_ps(cp[i]); x##i##1 = _mm512_loadu_ps(cp[i] + 16);
#define APTR(i) const float *a##i = a[i];
#define STEP(i) { const __m512 av = _mm512_set1_ps(a##i[k]); \
                  x##i##0 = _mm512_fmadd_ps(av, b0, x##i##0); x##i##1 = _mm512_fmadd_ps(av, b1, x##i##1); }
#define ADDR(i) x##i##0 = _mm512_add_ps(x##i##0, _mm512_loadu_ps(rp[i])); \
                x##i##1 = _mm512_add_ps(x##i##1, _mm512_loadu_ps(rp[i] + 16));
#define RELU(i) x##i##0 = _mm512_max_ps(x##i##0, z); x##i##1 = _mm512_max_ps(x##i##1, z);
#define STORE(i) if (i < mr) { _mm512_storeu_ps(cp[i], x##i##0); _mm512_storeu_ps(cp[i] + 16, x##i##1); }
#include "tile_fetch.inc"

/* Steps k0..k1-1 of the depth: a row of B against every row's A value (FETCH: tile_fetch.inc;
 * the next panel's weights, fetched while the panel's first tile runs, took the pass about 8%
 * faster at 1 thread and 6% at 2 on a Zen 5, where each panel's first tile had waited for
 * them: docs/performance.md). */
#define K_STEPS(ROWS, k0, k1, FETCH)                                                           \
    for (int k = (k0); k < (k1); k++) {                                                        \
        FETCH(k)                                                                               \
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);                    \
        b += 32;                                                                               \
        ROWS(STEP)                                                                             \
    }

/* One tile over the rows of ROWS (rows = how many it has). */
#define TILE_BODY(ROWS, rows)                                                                  \
    float *cp[rows];                                                                           \
    const float *rp[rows];                                                                     \
    for (int i = 0; i < rows; i++) {                                                           \
        /* rows past mr read C and the residual of the last real row (nothing outside the      \
         * matrix is touched); their A pointer repeats a real row, they are never stored */    \
        int r = i < mr ? i : mr - 1;                                                           \
        cp[i] = c + (size_t)r * ldc;                                                           \
        rp[i] = res ? res + (size_t)r * ldr : NULL;                                            \
    }                                                                                          \
    ROWS(DECL)                                                                                 \
    /* A tile's residual, and a new tile's C, are touched only after the k loop: fetched       \
     * during it, they arrive while it runs instead of stalling its end (layer1's 64-deep 1x1s \
     * write 3.2 MB a layer, no longer in L2: 12% of their time). Half the rows' lines are     \
     * asked for at the start and half midway: all 48 of a full tile at once left those 1x1s   \
     * 5-15% slower (Zen 4), likely more misses than the L1 keeps in flight. */                \
    FETCH_AFTER(0, rows / 2)                                                                   \
    if (flags & RN_UK_INIT_BIAS) {                                                             \
        const __m512 b0 = _mm512_loadu_ps(bias), b1 = _mm512_loadu_ps(bias + 16);              \
        ROWS(INIT)                                                                             \
    } else {                                                                                   \
        ROWS(LOADC)                                                                            \
    }                                                                                          \
    ROWS(APTR)                                                                                 \
    K_HALVES(ROWS, rows, K_STEPS, kc)                                                          \
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

static void tile_4x32(int mr, int kc, const float *const *a, const float *b, float *c, size_t ldc,
                      const float *bias, const float *res, size_t ldr, int flags) {
    TILE_BODY(ROWS4, 4)
}

static void tile_2x32(int mr, int kc, const float *const *a, const float *b, float *c, size_t ldc,
                      const float *bias, const float *res, size_t ldr, int flags) {
    flags &= ~RN_UK_PREFETCH_NEXT_B; /* a row or two (the fc at batch 1): no faster with the hint */
    TILE_BODY(ROWS2, 2)
}

static void tile_1x32(int mr, int kc, const float *const *a, const float *b, float *c, size_t ldc,
                      const float *bias, const float *res, size_t ldr, int flags) {
    flags &= ~RN_UK_PREFETCH_NEXT_B; /* a row or two (the fc at batch 1): no faster with the hint */
    TILE_BODY(ROWS1, 1)
}

void rn_f32_gemm_12x32__avx512(int mr, int kc, const float *const *a, const float *b, float *c, size_t ldc,
                               const float *bias, const float *res, size_t ldr, int flags) {
    if (mr <= 2) {
        (mr == 1 ? tile_1x32 : tile_2x32)(mr, kc, a, b, c, ldc, bias, res, ldr, flags);
        return;
    }
    if (mr <= 4) {
        tile_4x32(mr, kc, a, b, c, ldc, bias, res, ldr, flags);
        return;
    }
    TILE_BODY(ROWS12, MR)
}
