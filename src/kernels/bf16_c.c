/* bf16_c.c - the portable fp32 -> bf16 conversion (any CPU). */
#include "kernels/kernels.h"

void rn_bf16_convert__c(const float *src, int n, uint16_t *dst) {
    for (int i = 0; i < n; i++) dst[i] = rn_bf16_from_f32(src[i]);
    if (n & 1) dst[n] = 0;
}
