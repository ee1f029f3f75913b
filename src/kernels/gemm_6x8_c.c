/* gemm_6x8_c.c - the portable micro-kernel: C, any CPU. A 6x8 tile, the AVX2 kernel's shape
 * at half the width: with GCC or Clang it is written with their generic 4-wide vectors,
 * which become SSE2 on any x86-64, NEON on ARM, or scalar code where there are none, and the
 * 12 accumulators + 2 of B + 1 of A fit the 16 registers of SSE2 (compilers vectorise the
 * plain loops below far worse: scalar at -O2, spilling at -O3). Elsewhere, plain loops. */
#include <string.h>
#include "kernels/kernels.h"

#define MR 6
#define NR 8

#if defined(__GNUC__) && !defined(RN_PLAIN_LOOPS) /* tests build the other one too */
typedef float v4 __attribute__((vector_size(16)));
typedef int i4 __attribute__((vector_size(16)));

static inline v4 load4(const float *p) { v4 v; memcpy(&v, p, sizeof v); return v; }
static inline void store4(float *p, v4 v) { memcpy(p, &v, sizeof v); }

/* The six rows spelled out: a v4 array indexed in a loop stays in memory at -O2. */
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)

void rn_f32_gemm_6x8__c(int mr, int kc, const float *const *a, const float *b, float *c, size_t ldc,
                        const float *bias, const float *res, size_t ldr, int flags) {
    /* rows past mr start from row 0 and repeat a real A row: computed, never stored */
#define INIT(i)                                                                                  \
    const float *init##i = (flags & RN_UK_INIT_BIAS) ? bias : c + (size_t)(i < mr ? i : 0) * ldc; \
    v4 x##i##0 = load4(init##i), x##i##1 = load4(init##i + 4);                                    \
    const float *a##i = a[i];
    ROWS(INIT)
#undef INIT
    for (int k = 0; k < kc; k++, b += NR) {
        const v4 b0 = load4(b), b1 = load4(b + 4);
#define STEP(i)                                         \
    {                                                   \
        const float s = a##i[k];                        \
        const v4 av = {s, s, s, s};                     \
        x##i##0 += av * b0;                             \
        x##i##1 += av * b1;                             \
    }
        ROWS(STEP)
#undef STEP
    }
    const v4 z = {0, 0, 0, 0};
#define STORE(i)                                                                    \
    if (i < mr) {                                                                   \
        float *ci = c + (size_t)i * ldc;                                            \
        if (flags & RN_UK_FINAL) {                                                  \
            if (res) {                                                              \
                x##i##0 += load4(res + (size_t)i * ldr);                            \
                x##i##1 += load4(res + (size_t)i * ldr + 4);                        \
            }                                                                       \
            if (flags & RN_UK_RELU) { /* all-ones lanes where positive */           \
                x##i##0 = (v4)((i4)x##i##0 & (x##i##0 > z));                        \
                x##i##1 = (v4)((i4)x##i##1 & (x##i##1 > z));                        \
            }                                                                       \
        }                                                                           \
        store4(ci, x##i##0);                                                        \
        store4(ci + 4, x##i##1);                                                    \
    }
    ROWS(STORE)
#undef STORE
}
#undef ROWS
#else
void rn_f32_gemm_6x8__c(int mr, int kc, const float *const *a, const float *b, float *c, size_t ldc,
                        const float *bias, const float *res, size_t ldr, int flags) {
    float acc[MR][NR];
    for (int i = 0; i < MR; i++) {
        const float *init = (flags & RN_UK_INIT_BIAS) ? bias : c + (size_t)(i < mr ? i : 0) * ldc;
        for (int j = 0; j < NR; j++) acc[i][j] = init[j];
    }
    for (int k = 0; k < kc; k++) {
        const float *bk = b + (size_t)k * NR;
        for (int i = 0; i < MR; i++) {
            const float av = a[i][k];
            for (int j = 0; j < NR; j++) acc[i][j] += av * bk[j];
        }
    }
    for (int i = 0; i < mr; i++) {
        float *ci = c + (size_t)i * ldc;
        if (flags & RN_UK_FINAL) {
            if (res)
                for (int j = 0; j < NR; j++) acc[i][j] += res[(size_t)i * ldr + j];
            if (flags & RN_UK_RELU)
                for (int j = 0; j < NR; j++) acc[i][j] = acc[i][j] > 0.0f ? acc[i][j] : 0.0f;
        }
        for (int j = 0; j < NR; j++) ci[j] = acc[i][j];
    }
}
#endif
