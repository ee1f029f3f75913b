/* qgemm_a7_4x16_avx2.c - the AVX2 int8 micro-kernel for 7-bit activations (every A byte below
 * 128) and 7-bit weights: a vpmaddubsw pair is then within [-2*127*64, 2*127*63] = [-16256,
 * 16002], so the pairs of two k groups (8 depths) add in s16 without saturating (|sum| <=
 * 32512) before one vpmaddwd by ones widens them to s32. Three multiplies per 8 depths instead
 * of four: vpmaddubsw and vpmaddwd share Zen 3's two multiply pipes, which bound the 4x16
 * kernel (docs/int8.md). The model keeps the activations this kernel reads in 7 bits
 * (weights.c); the results are exact, as the 4x16 kernel's. */
#define QG_FN rn_qs8_gemm_a7_4x16__avx2
#define QG_MR 4
#define QG_ROWS(X) X(0) X(1) X(2) X(3)
#define QG_SMALL 1 /* the last row of 49 (layer4 at batch 1) alone, not in a 4-row tile */
#define QG_SMALL_ROWS(X) X(0)
#define QG_DOT(acc, a, b) \
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1)))
#define QG_DOT2(acc, a, b, a2, b2)                                                                         \
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(a, b),            \
                                                                    _mm256_maddubs_epi16(a2, b2)),        \
                                                  _mm256_set1_epi16(1)))
#include "kernels/x86/qgemm_ymm.inc"
