/* qpeak_avx2.c - one core's int8 peak on AVX2 (vpmaddubsw + vpmaddwd + vpaddd per 32
 * multiply-adds, the 4x16 kernel's step): see qpeak.inc. */
#include <immintrin.h>
#define QPEAK_FN rn_qpeak_gops__avx2
#define QPEAK_VEC __m256i
#define QPEAK_SET1 _mm256_set1_epi32
#define QPEAK_DOT(acc, a, b) acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1)))
#define QPEAK_ADD _mm256_add_epi32
#define QPEAK_FIRST(v) _mm256_cvtsi256_si32(v)
#define QPEAK_MACS 32
#define QPEAK_CHAINS 10
#include "kernels/x86/qpeak.inc"
