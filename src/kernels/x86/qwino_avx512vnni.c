/* qwino_avx512vnni.c - the integer Winograd F(3x3,3x3) on AVX-512 VNNI (contract:
 * qkernels.h; driver, matrices and exactness: ops/qwinograd.c): the s16 GEMM on vpdpwssd and
 * the transforms.
 * vpdpwssd multiplies and adds 32 s16 pairs an instruction at vpdpbusd's rate (measured on
 * Zen 5: both 2 a cycle), half the multiply-adds of u8 x s8: F(2x2)'s 2.25x fewer products
 * would net 1.1x, F(3x3)'s 3.24x nets 1.6x before the transforms. Tested against plain loops
 * on stand-ins too (tests/avx512vnni_emulation.h), for CPUs without VNNI. */
#include <immintrin.h>
#include <string.h>
#include "kernels/qkernels.h"

/* 8 rows x 32 columns: 16 accumulators; per pair of depths 2 loads of B, 8 broadcasts and
 * 16 vpdpwssd. */
void rn_qs16_gemm_8x32__avx512vnni(int mr, int kc, const int16_t *a, size_t lda, const int16_t *b, int32_t *m) {
    const int16_t *row[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) row[i] = a + (i < mr ? i : mr - 1) * lda; /* rows past mr: the last again */
    __m512i x[8][2];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) x[i][0] = x[i][1] = _mm512_setzero_si512();
    for (int k = 0; k < kc; k += 2, b += 2 * RN_QW_NR) {
        const __m512i b0 = _mm512_loadu_si512((const void *)b), b1 = _mm512_loadu_si512((const void *)(b + 32));
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            int32_t q;
            memcpy(&q, row[i] + k, 4);
            const __m512i v = _mm512_set1_epi32(q);
            x[i][0] = _mm512_dpwssd_epi32(x[i][0], v, b0);
            x[i][1] = _mm512_dpwssd_epi32(x[i][1], v, b1);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        if (i < mr) {
            _mm512_storeu_si512((void *)(m + i * RN_QW_NR), x[i][0]);
            _mm512_storeu_si512((void *)(m + i * RN_QW_NR + 16), x[i][1]);
        }
}

/* 1-D B^T on 32 channels of 5 values (qwinograd.c's rows): within s16, since |B^T B| sums at
 * most 36 u8 (9180) */
static inline void bt5(const __m512i d[5], __m512i v[5]) {
    const __m512i d1x2 = _mm512_add_epi16(d[1], d[1]), d2x2 = _mm512_add_epi16(d[2], d[2]);
    const __m512i d31 = _mm512_sub_epi16(d[3], d[1]);
    v[0] = _mm512_add_epi16(_mm512_sub_epi16(_mm512_add_epi16(d[0], d[0]), d2x2), d31);
    v[1] = _mm512_sub_epi16(_mm512_sub_epi16(d[3], d1x2), d[2]);
    v[2] = _mm512_sub_epi16(_mm512_add_epi16(d1x2, d[3]), _mm512_add_epi16(d2x2, d[2]));
    v[3] = d31;
    v[4] = _mm512_add_epi16(_mm512_sub_epi16(d1x2, d[2]), _mm512_sub_epi16(d[4], _mm512_add_epi16(d[3], d[3])));
}

/* 32 channels a step; a last 16 (cin % 32 == 16) on the AVX2 kernel */
void rn_qwino_in_5x5__avx512vnni(const uint8_t *const *d, int cin, int16_t *v, size_t step) {
    static const uint8_t zeros[32];
    int c0 = 0;
    for (; c0 + 32 <= cin; c0 += 32) {
        __m512i s[5][5];
#pragma GCC unroll 5
        for (int x = 0; x < 5; x++) { /* B^T d: 32 channels of a column at once, widened to s16 */
            __m512i r[5], t[5];
#pragma GCC unroll 5
            for (int y = 0; y < 5; y++)
                r[y] = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(d[y * 5 + x] ? d[y * 5 + x] + c0 : zeros)));
            bt5(r, t);
#pragma GCC unroll 5
            for (int y = 0; y < 5; y++) s[y][x] = t[y];
        }
#pragma GCC unroll 5
        for (int y = 0; y < 5; y++) {
            __m512i t[5];
            bt5(s[y], t);
#pragma GCC unroll 5
            for (int x = 0; x < 5; x++) _mm512_storeu_si512((void *)(v + (size_t)(y * 5 + x) * step + c0), t[x]);
        }
    }
    if (c0 < cin) {
        const uint8_t *tail[25];
        for (int i = 0; i < 25; i++) tail[i] = d[i] ? d[i] + c0 : NULL;
        rn_qwino_in_5x5__avx2(tail, cin - c0, v + c0, step);
    }
}

/* 1-D A'^T on 16 channels of 5 values, wrapping in int32 (the result fits, steps may not) */
static inline void at5(const __m512i e[5], __m512i y[3]) {
    /* rows {1,-1,-1,1,0}, {0,-1,1,2,0}, {0,-1,-1,4,1}: with p = e3 - e1, y0 = p + (e0 - e2),
     * y1 = p + (e2 + e3), y2 = y1 + 2 (e3 - e2) + e4 */
    const __m512i p = _mm512_sub_epi32(e[3], e[1]);
    y[0] = _mm512_add_epi32(p, _mm512_sub_epi32(e[0], e[2]));
    y[1] = _mm512_add_epi32(p, _mm512_add_epi32(e[2], e[3]));
    y[2] = _mm512_add_epi32(_mm512_add_epi32(y[1], e[4]), _mm512_slli_epi32(_mm512_sub_epi32(e[3], e[2]), 1));
}

void rn_qwino_out_3x3__avx512vnni(const int32_t *m, size_t ldm, const float *scale, const float *bias,
                                  const rn_qgemm_params *p, uint8_t *const *out) {
    const __m512 lo = _mm512_set1_ps(p->lo), hi = _mm512_set1_ps(p->hi);
    const __m512i inv9 = _mm512_set1_epi32((int32_t)RN_QW_INV9);
    for (int h = 0; h < RN_QW_NR / 16; h++) { /* 16 channels at a time */
        __m512i r[3][5];
#pragma GCC unroll 5
        for (int x = 0; x < 5; x++) {
            __m512i col[5], t[3];
#pragma GCC unroll 5
            for (int y = 0; y < 5; y++) col[y] = _mm512_loadu_si512((const void *)(m + (size_t)(y * 5 + x) * ldm + 16 * h));
            at5(col, t);
#pragma GCC unroll 3
            for (int y = 0; y < 3; y++) r[y][x] = t[y];
        }
        const __m512 sc = _mm512_loadu_ps(scale + 16 * h), bi = _mm512_loadu_ps(bias + 16 * h);
#pragma GCC unroll 3
        for (int y = 0; y < 3; y++) {
            __m512i t[3];
            at5(r[y], t);
#pragma GCC unroll 3
            for (int x = 0; x < 3; x++) {
                uint8_t *o = out[y * 3 + x];
                if (!o) continue;
                /* 36Y exactly: a quarter of it times 9's inverse mod 2^32 is Y; then the
                 * requantization's float steps (qkernels.h), in [0, 255]: vpmovdb is exact */
                const __m512i acc = _mm512_mullo_epi32(_mm512_srai_epi32(t[x], 2), inv9);
                __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), sc, bi);
                v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
                _mm_storeu_si128((__m128i *)(void *)(o + 16 * h), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
            }
        }
    }
}
