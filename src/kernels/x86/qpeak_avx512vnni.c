/* qpeak_avx512vnni.c - one core's int8 peak with EVEX vpdpbusd on zmm (64 multiply-adds):
 * see qpeak.inc. 24 chains: with 32 registers there is room to cover even 2 per cycle x 
 * a long latency. */
#include <immintrin.h>
#define QPEAK_FN rn_qpeak_gops__avx512vnni
#define QPEAK_VEC __m512i
#define QPEAK_SET1 _mm512_set1_epi32
#define QPEAK_DOT(acc, a, b) acc = _mm512_dpbusd_epi32(acc, a, b)
#define QPEAK_ADD _mm512_add_epi32
#define QPEAK_FIRST(v) _mm_cvtsi128_si32(_mm512_castsi512_si128(v))
#define QPEAK_MACS 64
#define QPEAK_CHAINS 24
#include "kernels/x86/qpeak.inc"
