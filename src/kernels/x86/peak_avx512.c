/* peak_avx512.c - one core's FMA peak with AVX-512 (16 lanes): see peak.inc. */
#include <immintrin.h>

#define PEAK_FN rn_peak_gflops__avx512
#define PEAK_VEC __m512
#define PEAK_LANES 16
#define PEAK_SET1 _mm512_set1_ps
#define PEAK_FMADD _mm512_fmadd_ps
#define PEAK_ADD _mm512_add_ps
#define PEAK_FIRST _mm512_cvtss_f32
#include "kernels/x86/peak.inc"
