/* qpeak_avxvnni.c - one core's int8 peak with VEX vpdpbusd on ymm (32 multiply-adds):
 * see qpeak.inc. {vex} (%{vex%} in asm text): the assembler would otherwise be free to pick the EVEX form, which
 * a CPU with AVX-VNNI but no AVX-512 does not run. */
#include <immintrin.h>
#define QPEAK_FN rn_qpeak_gops__avxvnni
#define QPEAK_VEC __m256i
#define QPEAK_SET1 _mm256_set1_epi32
#define QPEAK_ADD _mm256_add_epi32
#define QPEAK_FIRST(v) _mm256_cvtsi256_si32(v)
#define QPEAK_R(x) "x"(x)
#define QPEAK_MACS 32
#define QPEAK_GROUPS 1
#define QPEAK_NEEDS_TEMP 0
#define QPEAK_STEP(c) "%{vex%} vpdpbusd %[b], %[a], " c "\n\t"
#define QPEAK_TEMP
#define QPEAK_ONES
#include "kernels/x86/qpeak.inc"
