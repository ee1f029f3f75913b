/* gemm_4x16_c.c - the portable micro-kernel: plain C, any CPU. Also the oracle the
 * vector kernels are tested against. Loops are fixed-size so the compiler can
 * keep the 4x16 accumulator tile in vector registers where it has them. */
#include "kernels/kernels.h"

#define MR 4
#define NR 16

void rn_f32_gemm_4x16__c(int mr, int kc, const float *const *a, const float *b, float *c, size_t ldc,
                         const float *bias, const float *res, size_t ldr, int flags) {
    float acc[MR][NR];
    for (int i = 0; i < MR; i++) {
        const float *init = (flags & RN_UK_INIT_BIAS) ? bias : c + (size_t)(i < mr ? i : 0) * ldc;
        for (int j = 0; j < NR; j++) acc[i][j] = init[j];
    }
    /* Rows past mr repeat a real row: computed, never stored. */
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
    for (int k = 0; k < kc; k++) {
        const float *bk = b + (size_t)k * NR;
        const float ak[MR] = {a0[k], a1[k], a2[k], a3[k]};
        for (int i = 0; i < MR; i++) {
            float av = ak[i];
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
