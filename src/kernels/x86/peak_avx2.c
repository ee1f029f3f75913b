/* peak_avx2.c - one core's FMA peak with AVX2 (8 lanes): see peak.inc. */
#include <immintrin.h>

#define PEAK_FN rn_peak_gflops__avx2
#define PEAK_VEC __m256
#define PEAK_LANES 8
#define PEAK_SET1 _mm256_set1_ps
#define PEAK_FMADD _mm256_fmadd_ps
#define PEAK_ADD _mm256_add_ps
#define PEAK_FIRST _mm256_cvtss_f32
#include "kernels/x86/peak.inc"
