/* qwino_avx2.c - the integer Winograd kernels on AVX2, F(2x2,3x3) and F(3x3,3x3), the s16
 * GEMM serving both (contract: qkernels.h; matrices: ops/qwinograd.c).
 * vpmaddwd multiplies s16 pairs and adds them into s32: 16 multiply-adds on one multiply
 * pipe, the rate of the u8 x s8 kernel's vpmaddubsw + vpmaddwd (32 on two), so Winograd's
 * 2.25x (F(3x3): 3.24x) fewer multiplies are not paid back in a slower instruction.
 * F(3x3)'s loops over the 5x5 tile are unrolled by pragma: at -O2 gcc kept those arrays of
 * vectors in memory (measured on Zen 5: the input transform 122 -> 70 ns a tile at 64
 * channels, the output transform 96 -> 64-80 ns a tile and panel). */
#include <immintrin.h>
#include <string.h>
#include "kernels/qkernels.h"

/* 2 rows x 32 columns: per pair of depths 2 broadcasts, 4 loads of B and 8 vpmaddwd + 8
 * vpaddd. Every one of those but the loads takes one of Zen 3's four FP pipes, vpmaddwd only
 * two of them: 4 rows x 16 columns (4 broadcasts per 8 multiplies) came to ~6 cycles per 8
 * multiplies (llvm-mca -mcpu=znver3), 2 x 32 to ~4.5 against the multiplies' 4. */
void rn_qs16_gemm_2x32__avx2(int mr, int kc, const int16_t *a, size_t lda, const int16_t *b, int32_t *m) {
    const int16_t *a0 = a, *a1 = mr > 1 ? a + lda : a;
    __m256i x00 = _mm256_setzero_si256(), x01 = x00, x02 = x00, x03 = x00;
    __m256i x10 = x00, x11 = x00, x12 = x00, x13 = x00;
    for (int k = 0; k < kc; k += 2, b += 2 * RN_QW_NR) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)(const void *)b);
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(b + 16));
        const __m256i b2 = _mm256_loadu_si256((const __m256i *)(const void *)(b + 32));
        const __m256i b3 = _mm256_loadu_si256((const __m256i *)(const void *)(b + 48));
        int32_t q0, q1;
        memcpy(&q0, a0 + k, 4);
        memcpy(&q1, a1 + k, 4);
        const __m256i v0 = _mm256_set1_epi32(q0), v1 = _mm256_set1_epi32(q1);
        x00 = _mm256_add_epi32(x00, _mm256_madd_epi16(v0, b0));
        x01 = _mm256_add_epi32(x01, _mm256_madd_epi16(v0, b1));
        x02 = _mm256_add_epi32(x02, _mm256_madd_epi16(v0, b2));
        x03 = _mm256_add_epi32(x03, _mm256_madd_epi16(v0, b3));
        x10 = _mm256_add_epi32(x10, _mm256_madd_epi16(v1, b0));
        x11 = _mm256_add_epi32(x11, _mm256_madd_epi16(v1, b1));
        x12 = _mm256_add_epi32(x12, _mm256_madd_epi16(v1, b2));
        x13 = _mm256_add_epi32(x13, _mm256_madd_epi16(v1, b3));
    }
    __m256i *o = (__m256i *)(void *)m;
    _mm256_storeu_si256(o, x00);
    _mm256_storeu_si256(o + 1, x01);
    _mm256_storeu_si256(o + 2, x02);
    _mm256_storeu_si256(o + 3, x03);
    if (mr > 1) {
        _mm256_storeu_si256(o + 4, x10);
        _mm256_storeu_si256(o + 5, x11);
        _mm256_storeu_si256(o + 6, x12);
        _mm256_storeu_si256(o + 7, x13);
    }
}

/* 8 channels' exact sums acc requantized as qkernels.h defines (the u8 kernels' steps) and
 * stored as 8 bytes: in [lo, hi] within [0, 255], the packs never saturate */
static inline void store_u8x8(uint8_t *o, __m256i acc, __m256 sc, __m256 bi, __m256 lo, __m256 hi) {
    const __m256 v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), sc, bi);
    const __m256i q = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64((__m128i *)(void *)o, _mm_packus_epi16(w, w));
}

void rn_qwino_out_2x2__avx2(const int32_t *m, size_t ldm, const float *scale, const float *bias,
                            const rn_qgemm_params *p, uint8_t *const *out) {
    const __m256 lo = _mm256_set1_ps(p->lo), hi = _mm256_set1_ps(p->hi);
    for (int h = 0; h < RN_QW_NR / 8; h++) { /* 8 channels at a time */
        __m256i e[16];
        for (int i = 0; i < 16; i++) e[i] = _mm256_loadu_si256((const __m256i *)(const void *)(m + (size_t)i * ldm + 8 * h));
        __m256i r0[4], r1[4];
        for (int x = 0; x < 4; x++) {
            r0[x] = _mm256_add_epi32(_mm256_add_epi32(e[x], e[4 + x]), e[8 + x]);
            r1[x] = _mm256_sub_epi32(_mm256_sub_epi32(e[4 + x], e[8 + x]), e[12 + x]);
        }
        const __m256i y[4] = {
            _mm256_add_epi32(_mm256_add_epi32(r0[0], r0[1]), r0[2]), _mm256_sub_epi32(_mm256_sub_epi32(r0[1], r0[2]), r0[3]),
            _mm256_add_epi32(_mm256_add_epi32(r1[0], r1[1]), r1[2]), _mm256_sub_epi32(_mm256_sub_epi32(r1[1], r1[2]), r1[3])};
        const __m256 sc = _mm256_loadu_ps(scale + 8 * h), bi = _mm256_loadu_ps(bias + 8 * h);
        for (int q = 0; q < 4; q++) /* 4Y exactly: the shift gives the direct convolution's sum */
            if (out[q]) store_u8x8(out[q] + 8 * h, _mm256_srai_epi32(y[q], 2), sc, bi, lo, hi);
    }
}

void rn_qwino_in_4x4__avx2(const uint8_t *const *d, int cin, int16_t *v, size_t step) {
    static const uint8_t zeros[16];
    for (int c0 = 0; c0 < cin; c0 += 16) {
        __m256i s[4][4];
        for (int x = 0; x < 4; x++) { /* B^T d: 16 channels of a column at once, widened to s16 */
            __m256i r[4];
            for (int y = 0; y < 4; y++)
                r[y] = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(d[y * 4 + x] ? d[y * 4 + x] + c0 : zeros)));
            s[0][x] = _mm256_sub_epi16(r[0], r[2]);
            s[1][x] = _mm256_add_epi16(r[1], r[2]);
            s[2][x] = _mm256_sub_epi16(r[2], r[1]);
            s[3][x] = _mm256_sub_epi16(r[1], r[3]);
        }
        for (int y = 0; y < 4; y++) {
            int16_t *o = v + (size_t)(y * 4) * step + c0;
            _mm256_storeu_si256((__m256i *)(void *)o, _mm256_sub_epi16(s[y][0], s[y][2]));
            _mm256_storeu_si256((__m256i *)(void *)(o + step), _mm256_add_epi16(s[y][1], s[y][2]));
            _mm256_storeu_si256((__m256i *)(void *)(o + 2 * step), _mm256_sub_epi16(s[y][2], s[y][1]));
            _mm256_storeu_si256((__m256i *)(void *)(o + 3 * step), _mm256_sub_epi16(s[y][1], s[y][3]));
        }
    }
}

/* 1-D B^T of F(3x3,3x3) on 16 channels of 5 values (qwinograd.c's rows): within s16, since
 * |B^T B| sums at most 36 u8 (9180) */
static inline void bt5(const __m256i d[5], __m256i v[5]) {
    const __m256i d1x2 = _mm256_add_epi16(d[1], d[1]), d31 = _mm256_sub_epi16(d[3], d[1]);
    v[0] = _mm256_add_epi16(_mm256_sub_epi16(_mm256_add_epi16(d[0], d[0]), _mm256_add_epi16(d[2], d[2])), d31);
    v[1] = _mm256_sub_epi16(_mm256_sub_epi16(d[3], d1x2), d[2]);
    v[2] = _mm256_sub_epi16(_mm256_add_epi16(d1x2, d[3]), _mm256_add_epi16(_mm256_add_epi16(d[2], d[2]), d[2]));
    v[3] = d31;
    v[4] = _mm256_add_epi16(_mm256_sub_epi16(_mm256_sub_epi16(d1x2, d[2]), _mm256_add_epi16(d[3], d[3])), d[4]);
}

void rn_qwino_in_5x5__avx2(const uint8_t *const *d, int cin, int16_t *v, size_t step) {
    static const uint8_t zeros[16];
    for (int c0 = 0; c0 < cin; c0 += 16) {
        __m256i s[5][5];
#pragma GCC unroll 5
        for (int x = 0; x < 5; x++) { /* B^T d: 16 channels of a column at once, widened to s16 */
            __m256i r[5], t[5];
#pragma GCC unroll 5
            for (int y = 0; y < 5; y++)
                r[y] = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(d[y * 5 + x] ? d[y * 5 + x] + c0 : zeros)));
            bt5(r, t);
#pragma GCC unroll 5
            for (int y = 0; y < 5; y++) s[y][x] = t[y];
        }
#pragma GCC unroll 5
        for (int y = 0; y < 5; y++) {
            __m256i t[5];
            bt5(s[y], t);
#pragma GCC unroll 5
            for (int x = 0; x < 5; x++) _mm256_storeu_si256((__m256i *)(void *)(v + (size_t)(y * 5 + x) * step + c0), t[x]);
        }
    }
}

/* 1-D A'^T of F(3x3,3x3) on 8 channels of 5 values (qwinograd.c's rows), wrapping in int32:
 * with p = e3 - e1, y0 = p + (e0 - e2), y1 = p + (e2 + e3), y2 = y1 + 2 (e3 - e2) + e4 */
static inline void at5(const __m256i e[5], __m256i y[3]) {
    const __m256i p = _mm256_sub_epi32(e[3], e[1]);
    y[0] = _mm256_add_epi32(p, _mm256_sub_epi32(e[0], e[2]));
    y[1] = _mm256_add_epi32(p, _mm256_add_epi32(e[2], e[3]));
    y[2] = _mm256_add_epi32(_mm256_add_epi32(y[1], e[4]), _mm256_slli_epi32(_mm256_sub_epi32(e[3], e[2]), 1));
}

void rn_qwino_out_3x3__avx2(const int32_t *m, size_t ldm, const float *scale, const float *bias,
                            const rn_qgemm_params *p, uint8_t *const *out) {
    const __m256 lo = _mm256_set1_ps(p->lo), hi = _mm256_set1_ps(p->hi);
    const __m256i inv9 = _mm256_set1_epi32((int32_t)RN_QW_INV9);
    for (int h = 0; h < RN_QW_NR / 8; h++) { /* 8 channels at a time */
        __m256i r[3][5];
#pragma GCC unroll 5
        for (int x = 0; x < 5; x++) {
            __m256i col[5], t[3];
#pragma GCC unroll 5
            for (int y = 0; y < 5; y++) col[y] = _mm256_loadu_si256((const __m256i *)(const void *)(m + (size_t)(y * 5 + x) * ldm + 8 * h));
            at5(col, t);
#pragma GCC unroll 3
            for (int y = 0; y < 3; y++) r[y][x] = t[y];
        }
        const __m256 sc = _mm256_loadu_ps(scale + 8 * h), bi = _mm256_loadu_ps(bias + 8 * h);
#pragma GCC unroll 3
        for (int y = 0; y < 3; y++) {
            __m256i t[3];
            at5(r[y], t);
#pragma GCC unroll 3
            for (int x = 0; x < 3; x++) {
                uint8_t *o = out[y * 3 + x];
                if (!o) continue;
                /* 36Y exactly: a quarter of it times 9's inverse mod 2^32 is Y */
                store_u8x8(o + 8 * h, _mm256_mullo_epi32(_mm256_srai_epi32(t[x], 2), inv9), sc, bi, lo, hi);
            }
        }
    }
}
