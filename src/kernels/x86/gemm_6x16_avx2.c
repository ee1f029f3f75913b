/* gemm_6x16_avx2.c - AVX2+FMA micro-kernel: a 6x16 tile in 12 ymm accumulators,
 * 2 ymm of B and one broadcast of A per step (15 of the 16 registers). */
#include <immintrin.h>
#include "kernels/kernels.h"

#define MR 6

/* A tile of one or two rows (the last of 49 rows at batch 1, say): 4 accumulators, so it
 * costs a third of a full tile's time instead of all of it. */
static void gemm_2x16(int mr, int kc, const float *const *a, const float *b, float *c, size_t ldc,
                      const float *bias, const float *res, size_t ldr, int flags) {
    const float *a0 = a[0], *a1 = mr > 1 ? a[1] : a[0];
    float *c1 = mr > 1 ? c + ldc : c;
    __m256 x00, x01, x10, x11;
    if (flags & RN_UK_INIT_BIAS) {
        x00 = x10 = _mm256_loadu_ps(bias);
        x01 = x11 = _mm256_loadu_ps(bias + 8);
    } else {
        x00 = _mm256_loadu_ps(c); x01 = _mm256_loadu_ps(c + 8);
        x10 = _mm256_loadu_ps(c1); x11 = _mm256_loadu_ps(c1 + 8);
    }
#pragma GCC unroll 8
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), av;
        b += 16;
        av = _mm256_broadcast_ss(a0 + k); x00 = _mm256_fmadd_ps(av, b0, x00); x01 = _mm256_fmadd_ps(av, b1, x01);
        av = _mm256_broadcast_ss(a1 + k); x10 = _mm256_fmadd_ps(av, b0, x10); x11 = _mm256_fmadd_ps(av, b1, x11);
    }
    if (flags & RN_UK_FINAL) {
        if (res) {
            const float *r1 = mr > 1 ? res + ldr : res;
            x00 = _mm256_add_ps(x00, _mm256_loadu_ps(res)); x01 = _mm256_add_ps(x01, _mm256_loadu_ps(res + 8));
            x10 = _mm256_add_ps(x10, _mm256_loadu_ps(r1)); x11 = _mm256_add_ps(x11, _mm256_loadu_ps(r1 + 8));
        }
        if (flags & RN_UK_RELU) {
            const __m256 z = _mm256_setzero_ps();
            x00 = _mm256_max_ps(x00, z); x01 = _mm256_max_ps(x01, z);
            x10 = _mm256_max_ps(x10, z); x11 = _mm256_max_ps(x11, z);
        }
    }
    _mm256_storeu_ps(c, x00); _mm256_storeu_ps(c + 8, x01);
    if (mr > 1) { _mm256_storeu_ps(c1, x10); _mm256_storeu_ps(c1 + 8, x11); }
}

void rn_f32_gemm_6x16__avx2(int mr, int kc, const float *const *a, const float *b, float *c, size_t ldc,
                            const float *bias, const float *res, size_t ldr, int flags) {
    if (mr <= 2) {
        gemm_2x16(mr, kc, a, b, c, ldc, bias, res, ldr, flags);
        return;
    }
    float *c0 = c, *c1 = c0 + ldc, *c2 = c1 + ldc, *c3 = c2 + ldc, *c4 = c3 + ldc, *c5 = c4 + ldc;
    /* Rows past mr read (C, residual) from the row above so nothing outside the matrix is
     * touched; their A pointer repeats a real row and they are never stored. */
    if (mr < 2) c1 = c0;
    if (mr < 3) c2 = c1;
    if (mr < 4) c3 = c2;
    if (mr < 5) c4 = c3;
    if (mr < 6) c5 = c4;

    /* The tile's C and residual rows are touched only after the k loop: ask for them now,
     * so they arrive while it runs instead of stalling the epilogue (they are 6 rows far
     * apart, often out in L3, one 64-byte line each). */
    if (flags & RN_UK_FINAL && res) {
        const float *r = res;
        for (int i = 0; i < mr; i++, r += ldr) _mm_prefetch((const char *)r, _MM_HINT_T0);
    }
    {
        float *cr = c;
        for (int i = 0; i < mr; i++, cr += ldc) _mm_prefetch((const char *)cr, _MM_HINT_T0);
    }

    __m256 x00, x01, x10, x11, x20, x21, x30, x31, x40, x41, x50, x51;
    if (flags & RN_UK_INIT_BIAS) {
        x00 = _mm256_loadu_ps(bias); x01 = _mm256_loadu_ps(bias + 8);
        x10 = x00; x11 = x01; x20 = x00; x21 = x01; x30 = x00; x31 = x01;
        x40 = x00; x41 = x01; x50 = x00; x51 = x01;
    } else {
        x00 = _mm256_loadu_ps(c0); x01 = _mm256_loadu_ps(c0 + 8);
        x10 = _mm256_loadu_ps(c1); x11 = _mm256_loadu_ps(c1 + 8);
        x20 = _mm256_loadu_ps(c2); x21 = _mm256_loadu_ps(c2 + 8);
        x30 = _mm256_loadu_ps(c3); x31 = _mm256_loadu_ps(c3 + 8);
        x40 = _mm256_loadu_ps(c4); x41 = _mm256_loadu_ps(c4 + 8);
        x50 = _mm256_loadu_ps(c5); x51 = _mm256_loadu_ps(c5 + 8);
    }
    /* A is broadcast straight from its six rows (one stream each): k indexes all six, so
     * the unrolled loop addresses them as base + k + constant. */
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
#define STEP(k)                                                                                            \
    {                                                                                                      \
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), av;                                   \
        b += 16;                                                                                           \
        av = _mm256_broadcast_ss(a0 + k); x00 = _mm256_fmadd_ps(av, b0, x00); x01 = _mm256_fmadd_ps(av, b1, x01); \
        av = _mm256_broadcast_ss(a1 + k); x10 = _mm256_fmadd_ps(av, b0, x10); x11 = _mm256_fmadd_ps(av, b1, x11); \
        av = _mm256_broadcast_ss(a2 + k); x20 = _mm256_fmadd_ps(av, b0, x20); x21 = _mm256_fmadd_ps(av, b1, x21); \
        av = _mm256_broadcast_ss(a3 + k); x30 = _mm256_fmadd_ps(av, b0, x30); x31 = _mm256_fmadd_ps(av, b1, x31); \
        av = _mm256_broadcast_ss(a4 + k); x40 = _mm256_fmadd_ps(av, b0, x40); x41 = _mm256_fmadd_ps(av, b1, x41); \
        av = _mm256_broadcast_ss(a5 + k); x50 = _mm256_fmadd_ps(av, b0, x50); x51 = _mm256_fmadd_ps(av, b1, x51); \
    }
    if (flags & RN_UK_PREFETCH_NEXT_B) {
        /* one 64-byte row of B per step: fetch the same row of the next panel */
        const char *next = (const char *)(b + (size_t)kc * 16);
#pragma GCC unroll 8
        for (int k = 0; k < kc; k++) {
            _mm_prefetch(next + (size_t)k * 64, _MM_HINT_T0);
            STEP(k)
        }
    } else {
#pragma GCC unroll 16
        for (int k = 0; k < kc; k++) STEP(k)
    }
#undef STEP
    if (flags & RN_UK_FINAL) {
        if (res) {
            const float *r0 = res, *r1 = r0 + ldr, *r2 = r1 + ldr, *r3 = r2 + ldr, *r4 = r3 + ldr, *r5 = r4 + ldr;
            if (mr < 2) r1 = r0;
            if (mr < 3) r2 = r1;
            if (mr < 4) r3 = r2;
            if (mr < 5) r4 = r3;
            if (mr < 6) r5 = r4;
            x00 = _mm256_add_ps(x00, _mm256_loadu_ps(r0)); x01 = _mm256_add_ps(x01, _mm256_loadu_ps(r0 + 8));
            x10 = _mm256_add_ps(x10, _mm256_loadu_ps(r1)); x11 = _mm256_add_ps(x11, _mm256_loadu_ps(r1 + 8));
            x20 = _mm256_add_ps(x20, _mm256_loadu_ps(r2)); x21 = _mm256_add_ps(x21, _mm256_loadu_ps(r2 + 8));
            x30 = _mm256_add_ps(x30, _mm256_loadu_ps(r3)); x31 = _mm256_add_ps(x31, _mm256_loadu_ps(r3 + 8));
            x40 = _mm256_add_ps(x40, _mm256_loadu_ps(r4)); x41 = _mm256_add_ps(x41, _mm256_loadu_ps(r4 + 8));
            x50 = _mm256_add_ps(x50, _mm256_loadu_ps(r5)); x51 = _mm256_add_ps(x51, _mm256_loadu_ps(r5 + 8));
        }
        if (flags & RN_UK_RELU) {
            const __m256 z = _mm256_setzero_ps();
            x00 = _mm256_max_ps(x00, z); x01 = _mm256_max_ps(x01, z);
            x10 = _mm256_max_ps(x10, z); x11 = _mm256_max_ps(x11, z);
            x20 = _mm256_max_ps(x20, z); x21 = _mm256_max_ps(x21, z);
            x30 = _mm256_max_ps(x30, z); x31 = _mm256_max_ps(x31, z);
            x40 = _mm256_max_ps(x40, z); x41 = _mm256_max_ps(x41, z);
            x50 = _mm256_max_ps(x50, z); x51 = _mm256_max_ps(x51, z);
        }
    }
    _mm256_storeu_ps(c0, x00); _mm256_storeu_ps(c0 + 8, x01);
    if (mr > 1) { _mm256_storeu_ps(c1, x10); _mm256_storeu_ps(c1 + 8, x11); }
    if (mr > 2) { _mm256_storeu_ps(c2, x20); _mm256_storeu_ps(c2 + 8, x21); }
    if (mr > 3) { _mm256_storeu_ps(c3, x30); _mm256_storeu_ps(c3 + 8, x31); }
    if (mr > 4) { _mm256_storeu_ps(c4, x40); _mm256_storeu_ps(c4 + 8, x41); }
    if (mr > 5) { _mm256_storeu_ps(c5, x50); _mm256_storeu_ps(c5 + 8, x51); }
}
