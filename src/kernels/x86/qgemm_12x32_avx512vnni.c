/* qgemm_12x32_avx512vnni.c - the int8 micro-kernel on AVX-512 VNNI (the contract is in
 * qkernels.h): a 12x32 tile in 24 zmm int32 accumulators, 2 zmm of packed weights and one
 * broadcast of 4 A bytes per row and k group: one vpdpbusd per 64 multiply-adds, 27 of
 * the 32 registers. The A operand of vpdpbusd is the unsigned one, so it must be the
 * register operand: A is broadcast by vpbroadcastd (a load-port op), not embedded. Tiles
 * of at most 4 rows take a 4x32 copy of the same code. */
#include <immintrin.h>
#include <string.h>
#include "kernels/qkernels.h"

#define MR 12
#define NR 32
#define ROWS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define ROWS4(X) X(0) X(1) X(2) X(3)

#define DECL(i) __m512i x##i##0 = c0, x##i##1 = c1; const uint8_t *a##i;
#define APTR(i) a##i = at[i];
#define STEP(i) { int32_t q_; memcpy(&q_, a##i + g, 4); const __m512i av = _mm512_set1_epi32(q_); \
                  x##i##0 = _mm512_dpbusd_epi32(x##i##0, av, b0); x##i##1 = _mm512_dpbusd_epi32(x##i##1, av, b1); }
#define STORE(i) if (i < mr) store_row(x##i##0, x##i##1, (char *)c + (size_t)i * ldc * esize, \
                                       res ? res + (size_t)i * ldr : NULL, sc0, sc1, bi0, bi1, p, flags);

static inline __m512 res_f32(const uint8_t *r) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)r)));
}

/* Requantizes one row's 32 accumulators and stores them (the exact steps of qkernels.h). */
static inline void store_row(__m512i x0, __m512i x1, char *out, const uint8_t *r, __m512 sc0, __m512 sc1, __m512 bi0,
                             __m512 bi1, const rn_qgemm_params *p, int flags) {
    if (flags & RN_QUK_OUT_S32) {
        _mm512_storeu_si512((void *)out, x0);
        _mm512_storeu_si512((void *)(out + 64), x1);
        return;
    }
    __m512 v0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(x0), sc0, bi0);
    __m512 v1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(x1), sc1, bi1);
    if (r) {
        const __m512 rs = _mm512_set1_ps(p->res_scale);
        v0 = _mm512_fmadd_ps(res_f32(r), rs, v0);
        v1 = _mm512_fmadd_ps(res_f32(r + 16), rs, v1);
    }
    const __m512 lo = _mm512_set1_ps(p->lo), hi = _mm512_set1_ps(p->hi);
    v0 = _mm512_min_ps(_mm512_max_ps(v0, lo), hi);
    v1 = _mm512_min_ps(_mm512_max_ps(v1, lo), hi);
    if (flags & RN_QUK_OUT_F32) {
        _mm512_storeu_ps((float *)(void *)out, v0);
        _mm512_storeu_ps((float *)(void *)(out + 64), v1);
        return;
    }
    /* in [0, 255] now: vpmovdb's truncation to the low byte is exact */
    _mm_storeu_si128((__m128i *)(void *)out, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v0)));
    _mm_storeu_si128((__m128i *)(void *)(out + 16), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v1)));
}

#define TILE_BODY(ROWS)                                                                            \
    const unsigned char *wp = w;                                                                   \
    const __m512i c0 = _mm512_loadu_si512((const void *)wp);                                       \
    const __m512i c1 = _mm512_loadu_si512((const void *)(wp + 64));                                \
    const int8_t *b = (const int8_t *)(wp + NR * 12);                                              \
    const size_t esize = (flags & (RN_QUK_OUT_S32 | RN_QUK_OUT_F32)) ? 4 : 1;                      \
    ROWS(DECL)                                                                                     \
    for (int t = 0; t < ks; t++) {                                                                 \
        const uint8_t *const *at = a + (size_t)t * MR;                                             \
        ROWS(APTR)                                                                                 \
        for (int g = 0; g < kc; g += 4, b += NR * 4) {                                             \
            const __m512i b0 = _mm512_loadu_si512((const void *)b);                                \
            const __m512i b1 = _mm512_loadu_si512((const void *)(b + 64));                         \
            ROWS(STEP)                                                                             \
        }                                                                                          \
    }                                                                                              \
    const float *sc = (const float *)(const void *)(wp + NR * 4), *bi = sc + NR;                  \
    const __m512 sc0 = _mm512_loadu_ps(sc), sc1 = _mm512_loadu_ps(sc + 16);                       \
    const __m512 bi0 = _mm512_loadu_ps(bi), bi1 = _mm512_loadu_ps(bi + 16);                       \
    ROWS(STORE)

static void tile_4x32(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c, size_t ldc,
                      const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags) {
    TILE_BODY(ROWS4)
}

void rn_qs8_gemm_12x32__avx512vnni(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c,
                                   size_t ldc, const uint8_t *res, size_t ldr, const rn_qgemm_params *p,
                                   int flags) {
    if (mr <= 4) {
        tile_4x32(mr, ks, kc, a, w, c, ldc, res, ldr, p, flags);
        return;
    }
    TILE_BODY(ROWS12)
}
