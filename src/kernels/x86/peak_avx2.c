/* peak_avx2.c - measures one core's FMA peak with AVX2: twelve independent chains of
 * fused multiply-adds on registers (enough to cover the FMA latency on any x86 core),
 * no memory traffic. What `resnet bench` reports its GFLOP/s as a share of. */
#include <immintrin.h>
#include <time.h>
#include "kernels/kernels.h"

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double rn_peak_gflops__avx2(double duration) {
    __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-4f);
    /* different starting values, or the compiler merges identical chains into one */
#define X(i) __m256 x##i = _mm256_set1_ps(1.0f + 0.01f * i);
    X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#undef X
    const long chunk = 100000;
    long rounds = 0;
    double t0 = seconds_now(), t;
    do {
        for (long i = 0; i < chunk; i++) {
            x0 = _mm256_fmadd_ps(x0, a, b); x1 = _mm256_fmadd_ps(x1, a, b); x2 = _mm256_fmadd_ps(x2, a, b);
            x3 = _mm256_fmadd_ps(x3, a, b); x4 = _mm256_fmadd_ps(x4, a, b); x5 = _mm256_fmadd_ps(x5, a, b);
            x6 = _mm256_fmadd_ps(x6, a, b); x7 = _mm256_fmadd_ps(x7, a, b); x8 = _mm256_fmadd_ps(x8, a, b);
            x9 = _mm256_fmadd_ps(x9, a, b); x10 = _mm256_fmadd_ps(x10, a, b); x11 = _mm256_fmadd_ps(x11, a, b);
        }
        rounds++;
        t = seconds_now() - t0;
    } while (t < duration);
    /* keep the chains alive so the compiler cannot drop them */
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(x0, x1), _mm256_add_ps(x2, x3)),
                             _mm256_add_ps(_mm256_add_ps(x4, x5), _mm256_add_ps(x6, x7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(x8, x9), _mm256_add_ps(x10, x11)));
    volatile float sink = _mm256_cvtss_f32(s);
    (void)sink;
    return rounds * chunk * 12.0 * 16.0 / t * 1e-9; /* 12 FMAs x 8 lanes x 2 FLOPs */
}
