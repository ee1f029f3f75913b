/* qwino_c.c - the portable kernels of the integer Winograd F(2x2,3x3) (qkernels.h has the
 * contract; ops/qwinograd.c the driver and why it is exact). Plain loops over 16 channels. */
#include "kernels/qkernels.h"

void rn_qs16_gemm_2x32__c(int mr, int kc, const int16_t *const *a, const int16_t *b, int32_t *m) {
    /* modulo 2^32, as vpaddd: a sum along the way may pass 2^31 (ops/qwinograd.c) */
    uint32_t acc[RN_QW_MR][RN_QW_NR] = {{0}};
    for (int k = 0; k < kc; k += 2, b += 2 * RN_QW_NR)
        for (int i = 0; i < RN_QW_MR; i++)
            for (int j = 0; j < RN_QW_NR; j++)
                acc[i][j] += (uint32_t)(a[i][k] * b[2 * j] + a[i][k + 1] * b[2 * j + 1]);
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < RN_QW_NR; j++) m[i * RN_QW_NR + j] = (int32_t)acc[i][j];
}

void rn_qwino_out_2x2__c(const int32_t *m, size_t ldm, const float *scale, const float *bias,
                         const rn_qgemm_params *p, uint8_t *const out[4]) {
    for (int j = 0; j < RN_QW_NR; j++) {
        uint32_t e[16], r0[4], r1[4]; /* modulo 2^32: the result fits, the steps may not */
        for (int i = 0; i < 16; i++) e[i] = (uint32_t)m[(size_t)i * ldm + j];
        for (int x = 0; x < 4; x++) { /* A^T M: rows 0+1+2 and 1-2-3 */
            r0[x] = e[x] + e[4 + x] + e[8 + x];
            r1[x] = e[4 + x] - e[8 + x] - e[12 + x];
        }
        const int32_t y[4] = {(int32_t)(r0[0] + r0[1] + r0[2]), (int32_t)(r0[1] - r0[2] - r0[3]),
                              (int32_t)(r1[0] + r1[1] + r1[2]), (int32_t)(r1[1] - r1[2] - r1[3])};
        for (int q = 0; q < 4; q++) /* 4Y exactly: the shift gives the direct convolution's sum */
            if (out[q]) out[q][j] = rn_qrequant_u8(y[q] >> 2, scale[j], bias[j], NULL, p);
    }
}

void rn_qwino_in_4x4__c(const uint8_t *const d[16], int cin, int16_t *v, size_t step) {
    static const uint8_t zeros[16];
    for (int c0 = 0; c0 < cin; c0 += 16) {
        int s[4][4][16]; /* B^T d, then (B^T d) B */
        for (int x = 0; x < 4; x++)
            for (int l = 0; l < 16; l++) {
                const int d0 = (d[x] ? d[x] + c0 : zeros)[l], d1 = (d[4 + x] ? d[4 + x] + c0 : zeros)[l],
                          d2 = (d[8 + x] ? d[8 + x] + c0 : zeros)[l], d3 = (d[12 + x] ? d[12 + x] + c0 : zeros)[l];
                s[0][x][l] = d0 - d2;
                s[1][x][l] = d1 + d2;
                s[2][x][l] = d2 - d1;
                s[3][x][l] = d1 - d3;
            }
        for (int y = 0; y < 4; y++)
            for (int l = 0; l < 16; l++) {
                int16_t *o = v + (size_t)(y * 4) * step + c0 + l;
                o[0] = (int16_t)(s[y][0][l] - s[y][2][l]);
                o[step] = (int16_t)(s[y][1][l] + s[y][2][l]);
                o[2 * step] = (int16_t)(s[y][2][l] - s[y][1][l]);
                o[3 * step] = (int16_t)(s[y][1][l] - s[y][3][l]);
            }
    }
}
