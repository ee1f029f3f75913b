/* quantize_planes_avx2.c - the int8 input's quantization on AVX2 (the contract is
 * rn_quantize_planes_fn in qkernels.h): quantize_planes_avx512.c's steps, 8 floats a
 * register: rounded to nearest even by vroundps (exact whatever MXCSR says), packed to 16
 * bytes a plane, interleaved by shuffles. Other channel counts, and the last pixels of a row,
 * go to the portable loop. */
#include <immintrin.h>
#include "kernels/qkernels.h"
#include "quantize_planes.inc"

static inline __m256i quantize8(const float *s, __m256 scale, __m256 zero) {
    const __m256 v = _mm256_add_ps(_mm256_div_ps(_mm256_loadu_ps(s), scale), zero);
    __m256i bits = _mm256_max_epi32(_mm256_castps_si256(v), _mm256_setzero_si256());
    bits = _mm256_min_epi32(bits, _mm256_set1_epi32(0x437f0000)); /* 255.0f */
    return _mm256_cvtps_epi32(_mm256_round_ps(_mm256_castsi256_ps(bits), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

static inline __m128i quantize16(const float *s, __m256 scale, __m256 zero) {
    /* u16 per lane: a0-3 b0-3 | a4-7 b4-7; bytes: a0-3 b0-3 a4-7 b4-7, then dwords 0 2 1 3 */
    const __m256i w = _mm256_packus_epi32(quantize8(s, scale, zero), quantize8(s + 8, scale, zero));
    const __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    return _mm_shuffle_epi32(b, _MM_SHUFFLE(3, 1, 2, 0));
}

void rn_quantize_planes__avx2(const float *src, size_t plane, int c, int n, float scale, float zero, uint8_t *dst) {
    int i = 0;
    if (c == 3) {
        const __m256 s = _mm256_set1_ps(scale), z = _mm256_set1_ps(zero);
        for (; i + 16 <= n; i += 16)
            store_rgb16(quantize16(src + i, s, z), quantize16(src + plane + i, s, z),
                        quantize16(src + 2 * plane + i, s, z), dst + (size_t)3 * i);
    }
    if (i < n) rn_quantize_planes__c(src + i, plane, c, n - i, scale, zero, dst + (size_t)c * i);
}
