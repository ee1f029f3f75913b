/* gconv_c.c - the portable grouped-convolution kernel (kernels.h, rn_gconv_ukernel): blocks
 * of 16 output channels, 4 output pixels a call, plain loops. A block is 16/G whole groups
 * (output channel l of the block reads input channels (l/G)*G .. (l/G)*G + G-1 of the block),
 * or, for G a multiple of 16, part of one group (x + xoff: the group's first input channel). */
#include "kernels/kernels.h"

#define L 16
#define NP 4

void rn_gconv_16__c(int g, int np, int ntaps, const int *tap, const float *const *x, size_t xoff, const float *w,
                    const float *bias, float *out, size_t ldo, const float *res, size_t ldr, int relu) {
    float acc[NP][L];
    for (int p = 0; p < NP; p++)
        for (int l = 0; l < L; l++) acc[p][l] = bias[l];
    for (int t = 0; t < ntaps; t++) {
        const float *wt = w + (size_t)tap[t] * g * L;
        for (int p = 0; p < NP; p++) {
            const float *xp = x[t * NP + p] + xoff;
            for (int j = 0; j < g; j++)
                for (int l = 0; l < L; l++) acc[p][l] += xp[l / g * g + j] * wt[j * L + l];
        }
    }
    for (int p = 0; p < np; p++)
        for (int l = 0; l < L; l++) {
            float v = acc[p][l] + (res ? res[(size_t)p * ldr + l] : 0.0f);
            out[(size_t)p * ldo + l] = relu && v < 0.0f ? 0.0f : v;
        }
}
