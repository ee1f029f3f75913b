/* qgemm_4x16_avx2.c - the int8 micro-kernel on AVX2: vpmaddubsw multiplies u8 by s8 and adds
 * pairs into s16, which SATURATES when both products of a pair are large (255*127*2 >
 * 32767); vpmaddwd by ones then adds the pairs of pairs into s32. With weights in
 * [-64, 63] a pair is at most 255*64*2 = 32640: exact. So this path takes 7-bit weights
 * only (rn_qpack refuses others; docs/int8.md says what that costs). Needs a ones register
 * and a temporary beside 2 B and 1 A: 4 rows (8 accumulators) fit the 16 ymm registers
 * (6 rows measured no faster: gcc spills two values in the loop). */
#define QG_FN rn_qs8_gemm_4x16__avx2
#define QG_MR 4
#define QG_ROWS(X) X(0) X(1) X(2) X(3)
#define QG_SMALL 1 /* the last row of 49 (layer4 at batch 1) alone, not in a 4-row tile */
#define QG_SMALL_ROWS(X) X(0)
#define QG_DOT(acc, a, b) \
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1)))
#include "kernels/x86/qgemm_ymm.inc"
