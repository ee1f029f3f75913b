/* qpeak_avxvnni.c - one core's int8 peak with VEX vpdpbusd on ymm (32 multiply-adds): see qpeak.inc. */
#include <immintrin.h>
#define QPEAK_FN rn_qpeak_gops__avxvnni
#define QPEAK_VEC __m256i
#define QPEAK_SET1 _mm256_set1_epi32
#define QPEAK_DOT(acc, a, b) acc = _mm256_dpbusd_avx_epi32(acc, a, b)
#define QPEAK_ADD _mm256_add_epi32
#define QPEAK_FIRST(v) _mm256_cvtsi256_si32(v)
#define QPEAK_MACS 32
#define QPEAK_CHAINS 12
#include "kernels/x86/qpeak.inc"
