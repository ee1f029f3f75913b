/* qgemm_6x16_avxvnni.c - the int8 micro-kernel on AVX-VNNI (VEX vpdpbusd, for CPUs with it
 * and without AVX-512: Alder Lake and later client cores, or where the OS hides AVX-512):
 * one instruction per 32 multiply-adds, into s32 directly, no saturation. 6 rows: 12
 * accumulators + 2 B + 1 A of the 16 ymm registers. Tiles of 1 or 2 rows take a 2-row copy. */
#define QG_FN rn_qs8_gemm_6x16__avxvnni
#define QG_MR 6
#define QG_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define QG_SMALL 2
#define QG_SMALL_ROWS(X) X(0) X(1)
#define QG_DOT(acc, a, b) acc = _mm256_dpbusd_avx_epi32(acc, a, b)
#include "kernels/x86/qgemm_ymm.inc"
