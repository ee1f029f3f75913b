/* qpeak_avx512vnni.c - one core's int8 peak with EVEX vpdpbusd on zmm (64 multiply-adds):
 * see qpeak.inc. Two groups of 12 chains: the 32 registers have room. */
#include <immintrin.h>
#define QPEAK_FN rn_qpeak_gops__avx512vnni
#define QPEAK_VEC __m512i
#define QPEAK_SET1 _mm512_set1_epi32
#define QPEAK_ADD _mm512_add_epi32
#define QPEAK_FIRST(v) _mm_cvtsi128_si32(_mm512_castsi512_si128(v))
#define QPEAK_R(x) "v"(x)
#define QPEAK_MACS 64
#define QPEAK_GROUPS 2
#define QPEAK_NEEDS_TEMP 0
#define QPEAK_STEP(c) "vpdpbusd %[b], %[a], " c "\n\t"
#define QPEAK_TEMP
#define QPEAK_ONES
#include "kernels/x86/qpeak.inc"
