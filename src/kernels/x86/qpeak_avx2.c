/* qpeak_avx2.c - one core's int8 peak on AVX2: the 4x16 kernel's step, vpmaddubsw +
 * vpmaddwd (by ones) + vpaddd per 32 multiply-adds: see qpeak.inc. The products do not
 * depend on the chain (as in the kernel), so only vpaddd is on it; the temporary is one
 * register, renamed. */
#include <immintrin.h>
#define QPEAK_FN rn_qpeak_gops__avx2
#define QPEAK_VEC __m256i
#define QPEAK_SET1 _mm256_set1_epi32
#define QPEAK_ADD _mm256_add_epi32
#define QPEAK_FIRST(v) _mm256_cvtsi256_si32(v)
#define QPEAK_R(x) "x"(x)
#define QPEAK_MACS 32
#define QPEAK_GROUPS 1
#define QPEAK_NEEDS_TEMP 1
#define QPEAK_STEP(c) "vpmaddubsw %[b], %[a], %[t]\n\tvpmaddwd %[o], %[t], %[t]\n\tvpaddd %[t], " c ", " c "\n\t"
#define QPEAK_TEMP , [t] "=&x"(t)
#define QPEAK_ONES , [o] "x"(ones)
#include "kernels/x86/qpeak.inc"
