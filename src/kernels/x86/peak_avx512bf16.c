/* peak_avx512bf16.c - one core's vdpbf16ps peak: twelve independent chains on registers, as
 * peak.inc does for FMA. Each instruction is 16 lanes x 2 multiply-adds = 64 FLOP. */
#include <immintrin.h>
#include <time.h>
#include "kernels/kernels.h"

double rn_peak_gflops__avx512bf16(double duration) {
    const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f7f3f7f), b = (__m512bh)_mm512_set1_epi32(0x38d138d1);
#define X(i) __m512 x##i = _mm512_set1_ps(1.0f + 0.01f * i);
    X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#undef X
    const long chunk = 100000;
    long rounds = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const double t0 = ts.tv_sec + ts.tv_nsec * 1e-9;
    double t;
    do {
        for (long i = 0; i < chunk; i++) {
            x0 = _mm512_dpbf16_ps(x0, a, b); x1 = _mm512_dpbf16_ps(x1, a, b); x2 = _mm512_dpbf16_ps(x2, a, b);
            x3 = _mm512_dpbf16_ps(x3, a, b); x4 = _mm512_dpbf16_ps(x4, a, b); x5 = _mm512_dpbf16_ps(x5, a, b);
            x6 = _mm512_dpbf16_ps(x6, a, b); x7 = _mm512_dpbf16_ps(x7, a, b); x8 = _mm512_dpbf16_ps(x8, a, b);
            x9 = _mm512_dpbf16_ps(x9, a, b); x10 = _mm512_dpbf16_ps(x10, a, b); x11 = _mm512_dpbf16_ps(x11, a, b);
        }
        rounds++;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t = ts.tv_sec + ts.tv_nsec * 1e-9 - t0;
    } while (t < duration);
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(x0, x1), _mm512_add_ps(x2, x3)),
                             _mm512_add_ps(_mm512_add_ps(x4, x5), _mm512_add_ps(x6, x7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(x8, x9), _mm512_add_ps(x10, x11)));
    volatile float sink = _mm512_cvtss_f32(s);
    (void)sink;
    return rounds * chunk * 12.0 * 16 * 4.0 / t * 1e-9; /* 12 instructions x 16 lanes x 2 pairs x 2 FLOP */
}
