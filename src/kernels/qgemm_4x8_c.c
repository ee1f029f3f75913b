/* qgemm_4x8_c.c - the portable int8 micro-kernel (any CPU) and the requantization every
 * path computes, one value at a time (the contract is in qkernels.h). Plain loops: it is
 * the fallback and the tests' sibling of the naive oracle, not a fast path. */
#include <math.h>
#include <string.h>
#include "kernels/qkernels.h"

#define MR 4
#define NR 8

float rn_qrequant_f32(int32_t acc, float scale, float bias, const uint8_t *res, const rn_qgemm_params *p) {
    /* fmaf: one rounding, as vfmadd does; (float)acc rounds to nearest even as cvtdq2ps */
    float v = fmaf((float)acc, scale, bias);
    if (res) v = fmaf((float)*res, p->res_scale, v);
    v = v > p->lo ? v : p->lo; /* max then min, the order of the vector code */
    v = v < p->hi ? v : p->hi;
    return v;
}

uint8_t rn_qrequant_u8(int32_t acc, float scale, float bias, const uint8_t *res, const rn_qgemm_params *p) {
    /* nearbyintf: the current rounding mode, round half to even by default, as cvtps2dq */
    return (uint8_t)(int)nearbyintf(rn_qrequant_f32(acc, scale, bias, res, p));
}

void rn_qs8_gemm_4x8__c(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c, size_t ldc,
                        const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags) {
    const unsigned char *wp = w;
    int32_t csum[NR], acc[MR][NR];
    float scale[NR], bias[NR];
    memcpy(csum, wp, sizeof csum);
    memcpy(scale, wp + sizeof csum, sizeof scale);
    memcpy(bias, wp + sizeof csum + sizeof scale, sizeof bias);
    const int8_t *b = (const int8_t *)(wp + sizeof csum + sizeof scale + sizeof bias);
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = csum[j];
    for (int t = 0; t < ks; t++)
        for (int g = 0; g < kc; g += 4, b += NR * 4)
            for (int i = 0; i < MR; i++) {
                const uint8_t *ai = a[t * MR + i] + g;
                for (int j = 0; j < NR; j++)
                    acc[i][j] += ai[0] * b[j * 4] + ai[1] * b[j * 4 + 1] + ai[2] * b[j * 4 + 2] + ai[3] * b[j * 4 + 3];
            }
    for (int i = 0; i < mr; i++) {
        const uint8_t *ri = res ? res + (size_t)i * ldr : NULL;
        for (int j = 0; j < NR; j++) {
            if (flags & RN_QUK_OUT_S32) ((int32_t *)c)[(size_t)i * ldc + j] = acc[i][j];
            else if (flags & RN_QUK_OUT_F32)
                ((float *)c)[(size_t)i * ldc + j] = rn_qrequant_f32(acc[i][j], scale[j], bias[j], ri ? ri + j : NULL, p);
            else ((uint8_t *)c)[(size_t)i * ldc + j] = rn_qrequant_u8(acc[i][j], scale[j], bias[j], ri ? ri + j : NULL, p);
        }
    }
}
