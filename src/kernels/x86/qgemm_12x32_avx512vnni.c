/* qgemm_12x32_avx512vnni.c - the int8 micro-kernel on AVX-512 VNNI (the contract is in
 * qkernels.h): a 12x32 tile in 24 zmm int32 accumulators, 2 zmm of packed weights and one
 * broadcast of 4 A bytes per row and k group: one vpdpbusd per 64 multiply-adds, 27 of
 * the 32 registers. The A operand of vpdpbusd is the unsigned one, so it must be the
 * register operand: A is broadcast by vpbroadcastd (a load-port op), not embedded. Tiles
 * of at most 4 rows take a 4x32 copy of the same code, of 1 or 2 rows a 1x32 or 2x32. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include "kernels/qkernels.h"

#define MR 12
#define NR 32
#define ROWS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define ROWS4(X) X(0) X(1) X(2) X(3)
#define ROWS2(X) X(0) X(1)
#define ROWS1(X) X(0)

#define DECL(i) __m512i x##i##0 = c0, x##i##1 = c1; const uint8_t *a##i;
#define APTR(i) a##i = at[i];
#define STEP(i) { int32_t q_; memcpy(&q_, a##i + g, 4); const __m512i av = _mm512_set1_epi32(q_); \
                  x##i##0 = _mm512_dpbusd_epi32(x##i##0, av, b0); x##i##1 = _mm512_dpbusd_epi32(x##i##1, av, b1); }
#define STORE(i) if (i < mr) store_row(x##i##0, x##i##1, (char *)c + (size_t)i * ldc * esize, \
                                       res ? res + (size_t)i * ldr : NULL, sc0, sc1, bi0, bi1, kq, flags);

#include "qstore_avx512.inc"

/* Every tap's depth, 4 at a time: FETCH runs first in each group. */
#define K_LOOP(ROWS, FETCH)                                                                        \
    for (int t = 0; t < ks; t++) {                                                                 \
        const uint8_t *const *at = a + (size_t)t * MR;                                             \
        ROWS(APTR)                                                                                 \
        for (int g = 0; g < kc; g += 4, b += NR * 4) {                                             \
            FETCH                                                                                  \
            const __m512i b0 = _mm512_loadu_si512((const void *)b);                                \
            const __m512i b1 = _mm512_loadu_si512((const void *)(b + 64));                         \
            ROWS(STEP)                                                                             \
        }                                                                                          \
    }

#define TILE_BODY(ROWS)                                                                            \
    const unsigned char *wp = w;                                                                   \
    const __m512i c0 = _mm512_loadu_si512((const void *)wp);                                       \
    const __m512i c1 = _mm512_loadu_si512((const void *)(wp + 64));                                \
    const int8_t *b = (const int8_t *)(wp + NR * 12);                                              \
    const size_t esize = (flags & (RN_QUK_OUT_S32 | RN_QUK_OUT_F32)) ? 4 : 1;                      \
    ROWS(DECL)                                                                                     \
    if (flags & RN_QUK_PREFETCH_NEXT) {                                                            \
        /* the next panel starts a panel's bytes on: its header now, each group's two lines   \
         * with this panel's (on a Zen 5 the int8 pass went 3-5% faster at 1 thread) */      \
        const size_t next = (size_t)NR * 12 + (size_t)ks * kc * NR;                                \
        for (int l = 0; l < NR * 12; l += 64) _mm_prefetch((const char *)((uintptr_t)wp + next + l), _MM_HINT_T0); \
        K_LOOP(ROWS, _mm_prefetch((const char *)((uintptr_t)b + next), _MM_HINT_T0);               \
               _mm_prefetch((const char *)((uintptr_t)b + next + 64), _MM_HINT_T0);)               \
    } else {                                                                                       \
        K_LOOP(ROWS, )                                                                             \
    }                                                                                              \
    const float *sc = (const float *)(const void *)(wp + NR * 4), *bi = sc + NR;                  \
    const __m512 sc0 = _mm512_loadu_ps(sc), sc1 = _mm512_loadu_ps(sc + 16);                       \
    const __m512 bi0 = _mm512_loadu_ps(bi), bi1 = _mm512_loadu_ps(bi + 16);                       \
    const qstore_consts kq = qstore_load(p);                                                       \
    ROWS(STORE)

static void tile_4x32(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c, size_t ldc,
                      const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags) {
    TILE_BODY(ROWS4)
}

static void tile_2x32(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c, size_t ldc,
                      const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags) {
    flags &= ~RN_QUK_PREFETCH_NEXT; /* a row or two (the fc at batch 1): no faster with the hint */
    TILE_BODY(ROWS2)
}

static void tile_1x32(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c, size_t ldc,
                      const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags) {
    flags &= ~RN_QUK_PREFETCH_NEXT; /* a row or two (the fc at batch 1): no faster with the hint */
    TILE_BODY(ROWS1)
}

void rn_qs8_gemm_12x32__avx512vnni(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c,
                                   size_t ldc, const uint8_t *res, size_t ldr, const rn_qgemm_params *p,
                                   int flags) {
    if (mr <= 2) { /* the last row or two of 49 (layer4 at batch 1): a 4-row tile would take 2-4x their time */
        (mr == 1 ? tile_1x32 : tile_2x32)(mr, ks, kc, a, w, c, ldc, res, ldr, p, flags);
        return;
    }
    if (mr <= 4) {
        tile_4x32(mr, ks, kc, a, w, c, ldc, res, ldr, p, flags);
        return;
    }
    TILE_BODY(ROWS12)
}
