/* gemm_12x32_avx512.c - AVX-512F micro-kernel: a 12x32 tile in 24 zmm accumulators,
 * 2 zmm of B per step and A broadcast from memory (27 of the 32 registers). On Zen 4
 * this runs at the same FLOP rate as AVX2 but needs half the instructions. */
#include <immintrin.h>
#include "kernels/kernels.h"

#define MR 12

/* The 12 rows are spelled out: arrays of __m512 indexed in loops are kept in registers
 * by gcc -O2 only sometimes, and a spill here costs half the speed. */
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

void rn_f32_gemm_12x32__avx512(int mr, int kc, const float *const *a, const float *b, float *c, size_t ldc,
                               const float *bias, const float *res, size_t ldr, int flags) {
    float *cp[MR];
    const float *rp[MR];
    for (int i = 0; i < MR; i++) {
        /* rows past mr read C and the residual of the last real row (nothing outside the
         * matrix is touched); their A pointer repeats a real row, they are never stored */
        int r = i < mr ? i : mr - 1;
        cp[i] = c + (size_t)r * ldc;
        rp[i] = res ? res + (size_t)r * ldr : NULL;
    }
#define DECL(i) __m512 x##i##0, x##i##1;
    ROWS(DECL)
#undef DECL
    if (flags & RN_UK_INIT_BIAS) {
        const __m512 b0 = _mm512_loadu_ps(bias), b1 = _mm512_loadu_ps(bias + 16);
#define INIT(i) x##i##0 = b0; x##i##1 = b1;
        ROWS(INIT)
#undef INIT
    } else {
#define LOADC(i) x##i##0 = _mm512_loadu_ps(cp[i]); x##i##1 = _mm512_loadu_ps(cp[i] + 16);
        ROWS(LOADC)
#undef LOADC
    }
#define APTR(i) const float *a##i = a[i];
    ROWS(APTR)
#undef APTR
    for (int k = 0; k < kc; k++) {
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        b += 32;
#define STEP(i) { const __m512 av = _mm512_set1_ps(a##i[k]); \
                  x##i##0 = _mm512_fmadd_ps(av, b0, x##i##0); x##i##1 = _mm512_fmadd_ps(av, b1, x##i##1); }
        ROWS(STEP)
#undef STEP
    }
    if (flags & RN_UK_FINAL) {
        if (res) {
#define ADDR(i) x##i##0 = _mm512_add_ps(x##i##0, _mm512_loadu_ps(rp[i])); \
                x##i##1 = _mm512_add_ps(x##i##1, _mm512_loadu_ps(rp[i] + 16));
            ROWS(ADDR)
#undef ADDR
        }
        if (flags & RN_UK_RELU) {
            const __m512 z = _mm512_setzero_ps();
#define RELU(i) x##i##0 = _mm512_max_ps(x##i##0, z); x##i##1 = _mm512_max_ps(x##i##1, z);
            ROWS(RELU)
#undef RELU
        }
    }
#define STORE(i) if (i < mr) { _mm512_storeu_ps(cp[i], x##i##0); _mm512_storeu_ps(cp[i] + 16, x##i##1); }
    ROWS(STORE)
#undef STORE
}
