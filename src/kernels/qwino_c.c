/* qwino_c.c - the portable kernels of the integer Winograd F(2x2,3x3) and F(3x3,3x3)
 * (qkernels.h has the contract; ops/qwinograd.c the driver, the matrices and why they are
 * exact). Plain loops over 16 channels; the 2-row GEMM serves both tiles. */
#include <string.h>

#include "kernels/qkernels.h"

void rn_qs16_gemm_2x32__c(int mr, int kc, const int16_t *a, size_t lda, const int16_t *b, int32_t *m) {
    /* modulo 2^32, as vpaddd: a sum along the way may pass 2^31 (ops/qwinograd.c) */
    uint32_t acc[2][RN_QW_NR] = {{0}};
    const int16_t *row[2] = {a, mr > 1 ? a + lda : a};
    for (int k = 0; k < kc; k += 2, b += 2 * RN_QW_NR)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < RN_QW_NR; j++)
                acc[i][j] += (uint32_t)(row[i][k] * b[2 * j]) + (uint32_t)(row[i][k + 1] * b[2 * j + 1]);
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < RN_QW_NR; j++) m[i * RN_QW_NR + j] = (int32_t)acc[i][j];
}

void rn_qwino_out_2x2__c(const int32_t *m, size_t ldm, const float *scale, const float *bias,
                         const rn_qgemm_params *p, uint8_t *const *out) {
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

void rn_qwino_in_4x4__c(const uint8_t *const *d, int cin, int16_t *v, size_t step) {
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

/* 1-D B^T of F(3x3,3x3) on 5 values of 16 channels (the rows of qwinograd.c's B^T) */
static void bt5(const int *const d[5], int v[5][16]) {
    for (int l = 0; l < 16; l++) {
        const int d0 = d[0][l], d1 = d[1][l], d2 = d[2][l], d3 = d[3][l], d4 = d[4][l];
        v[0][l] = 2 * d0 - d1 - 2 * d2 + d3;
        v[1][l] = d3 - 2 * d1 - d2;
        v[2][l] = 2 * d1 - 3 * d2 + d3;
        v[3][l] = d3 - d1;
        v[4][l] = 2 * d1 - d2 - 2 * d3 + d4;
    }
}

void rn_qwino_in_5x5__c(const uint8_t *const *d, int cin, int16_t *v, size_t step) {
    for (int c0 = 0; c0 < cin; c0 += 16) {
        int px[25][16], s[5][5][16]; /* the tile widened; B^T d by columns, then each row by B */
        for (int k = 0; k < 25; k++)
            for (int l = 0; l < 16; l++) px[k][l] = d[k] ? d[k][c0 + l] : 0;
        for (int x = 0; x < 5; x++) {
            const int *col[5] = {px[x], px[5 + x], px[10 + x], px[15 + x], px[20 + x]};
            int t[5][16];
            bt5(col, t);
            for (int y = 0; y < 5; y++) memcpy(s[y][x], t[y], sizeof t[y]);
        }
        for (int y = 0; y < 5; y++) {
            const int *row[5] = {s[y][0], s[y][1], s[y][2], s[y][3], s[y][4]};
            int t[5][16];
            bt5(row, t);
            for (int x = 0; x < 5; x++)
                for (int l = 0; l < 16; l++) v[(size_t)(y * 5 + x) * step + c0 + l] = (int16_t)t[x][l];
        }
    }
}

/* 1-D A'^T of F(3x3,3x3) on 5 values, modulo 2^32 (the result fits, the steps may not) */
static void at5(const uint32_t e[5], uint32_t y[3]) {
    y[0] = e[0] - e[1] - e[2] + e[3];
    y[1] = e[2] - e[1] + 2u * e[3];
    y[2] = 4u * e[3] - e[1] - e[2] + e[4];
}

void rn_qwino_out_3x3__c(const int32_t *m, size_t ldm, const float *scale, const float *bias,
                         const rn_qgemm_params *p, uint8_t *const *out) {
    for (int j = 0; j < RN_QW_NR; j++) {
        uint32_t r[3][5];
        for (int x = 0; x < 5; x++) {
            uint32_t col[5], t[3];
            for (int y = 0; y < 5; y++) col[y] = (uint32_t)m[(size_t)(y * 5 + x) * ldm + j];
            at5(col, t);
            for (int y = 0; y < 3; y++) r[y][x] = t[y];
        }
        for (int y = 0; y < 3; y++) {
            uint32_t t[3];
            at5(r[y], t);
            for (int x = 0; x < 3; x++) /* 36Y exactly: a quarter of it times 9's inverse mod 2^32 */
                if (out[y * 3 + x])
                    out[y * 3 + x][j] = rn_qrequant_u8((int32_t)((uint32_t)((int32_t)t[x] >> 2) * RN_QW_INV9),
                                                       scale[j], bias[j], NULL, p);
        }
    }
}
