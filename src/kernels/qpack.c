/* qpack.c - packs int8 weights into the panels the QGEMM micro-kernels read (qkernels.h):
 * per NR columns, the zero-point compensation, the requantization scale and bias, then the
 * weights in groups of 4 depths (one vpdpbusd lane each). */
#include <string.h>
#include "kernels/qkernels.h"

size_t rn_qpack_panel_bytes(const rn_qkernel_config *kc, int ks, int kcl) {
    return (size_t)kc->nr * (sizeof(int32_t) + 2 * sizeof(float)) + (size_t)ks * kcl * kc->nr;
}

size_t rn_qpack_bytes(const rn_qkernel_config *kc, int n, int ks, int kcl) {
    return (size_t)((n + kc->nr - 1) / kc->nr) * rn_qpack_panel_bytes(kc, ks, kcl);
}

int rn_qpack(const rn_qkernel_config *kc, void *dst, const int8_t *w, int n, int ks, int kcl, const float *scale,
             const float *bias, int a_zero) {
    const int nr = kc->nr;
    if (kcl <= 0 || kcl % 4 || ks <= 0) return -1;
    for (size_t i = 0; i < (size_t)n * ks * kcl; i++)
        if (w[i] < kc->wmin || w[i] > kc->wmax) return -1;
    unsigned char *out = dst;
    const size_t depth = (size_t)ks * kcl;
    for (int p = 0; p < (n + nr - 1) / nr; p++, out += rn_qpack_panel_bytes(kc, ks, kcl)) {
        int32_t *csum = (int32_t *)(void *)out; /* panels start 32-byte aligned for NR >= 8 */
        float *sc = (float *)(void *)(out + nr * sizeof(int32_t)), *bi = sc + nr;
        int8_t *b = (int8_t *)(bi + nr);
        for (int j = 0; j < nr; j++) {
            int o = p * nr + j;
            int32_t sum = 0;
            if (o < n)
                for (size_t k = 0; k < depth; k++) sum += w[(size_t)o * depth + k];
            csum[j] = -a_zero * sum;
            sc[j] = o < n ? scale[o] : 0.0f;
            bi[j] = o < n && bias ? bias[o] : 0.0f;
        }
        /* group g of depth: NR columns x 4 consecutive depths */
        for (size_t g = 0; g < depth / 4; g++)
            for (int j = 0; j < nr; j++) {
                int o = p * nr + j;
                for (int q = 0; q < 4; q++) b[(g * nr + j) * 4 + q] = o < n ? w[(size_t)o * depth + g * 4 + q] : 0;
            }
    }
    return 0;
}
