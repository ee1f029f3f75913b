/* winograd_c.c - the input and output transforms of Winograd F(4x4, 3x3) and F(2x2, 3x3) for
 * the portable path, and the arithmetic every other instruction set's transforms repeat
 * operation for operation (x86/winograd_avx2.c), so that every path rounds exactly alike:
 * the loops run over 8 consecutive channels of NHWC data, and -ffp-contract=off (Makefile)
 * keeps the compiler from fusing a multiply and an add into one rounding.
 *
 * B^T (input) and A^T (output), from Lavin & Gray (2016):
 *   F(4x4, 3x3): B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0;
 *                       0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *                A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 *   F(2x2, 3x3): B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  A^T = [1 1 1 0; 0 1 -1 -1] */
#include "kernels/kernels.h"

enum { W8 = 8 };

/* r = B^T applied to six values d0..d5 (a column, then a row, of the window) */
#define RN_BT(r, d0, d1, d2, d3, d4, d5, k)                              \
    do {                                                                 \
        r[0][k] = 4.0f * d0[k] - 5.0f * d2[k] + d4[k];                   \
        r[1][k] = -4.0f * d1[k] - 4.0f * d2[k] + d3[k] + d4[k];          \
        r[2][k] = 4.0f * d1[k] - 4.0f * d2[k] - d3[k] + d4[k];           \
        r[3][k] = -2.0f * d1[k] - d2[k] + 2.0f * d3[k] + d4[k];          \
        r[4][k] = 2.0f * d1[k] - d2[k] - 2.0f * d3[k] + d4[k];           \
        r[5][k] = 4.0f * d1[k] - 5.0f * d3[k] + d5[k];                   \
    } while (0)

void rn_wino_f4_input__c(const float *const *d, int n, float *v, size_t v_stride) {
    for (int c0 = 0; c0 < n; c0 += W8) {
        float t[6][6][W8]; /* t[i][x] = (B^T d)[i][x] */
        for (int x = 0; x < 6; x++) {
            const float *d0 = d[x] + c0, *d1 = d[6 + x] + c0, *d2 = d[12 + x] + c0, *d3 = d[18 + x] + c0,
                        *d4 = d[24 + x] + c0, *d5 = d[30 + x] + c0;
            float r[6][W8];
            for (int k = 0; k < W8; k++) RN_BT(r, d0, d1, d2, d3, d4, d5, k);
            for (int i = 0; i < 6; i++)
                for (int k = 0; k < W8; k++) t[i][x][k] = r[i][k];
        }
        for (int i = 0; i < 6; i++) {
            float r[6][W8];
            for (int k = 0; k < W8; k++) RN_BT(r, t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], k);
            for (int jj = 0; jj < 6; jj++) {
                float *dst = v + (size_t)(i * 6 + jj) * v_stride + c0;
                for (int k = 0; k < W8; k++) dst[k] = r[jj][k];
            }
        }
    }
}

/* r = A^T applied to six values m0..m5 */
#define RN_AT(r, m0, m1, m2, m3, m4, m5, k)                              \
    do {                                                                 \
        r[0][k] = m0[k] + m1[k] + m2[k] + m3[k] + m4[k];                 \
        r[1][k] = m1[k] - m2[k] + 2.0f * (m3[k] - m4[k]);                \
        r[2][k] = m1[k] + m2[k] + 4.0f * (m3[k] + m4[k]);                \
        r[3][k] = m1[k] - m2[k] + 8.0f * (m3[k] - m4[k]) + m5[k];        \
    } while (0)

void rn_wino_f4_output__c(const float *m, size_t m_stride, int n, const float *bias, float *const *out,
                                const float *const *res, int relu) {
    for (int c0 = 0; c0 < n; c0 += W8) {
        float t[4][6][W8]; /* t[i][x] = (A^T M)[i][x] */
        for (int x = 0; x < 6; x++) {
            const float *m0 = m + (size_t)x * m_stride + c0, *m1 = m0 + 6 * m_stride, *m2 = m1 + 6 * m_stride,
                        *m3 = m2 + 6 * m_stride, *m4 = m3 + 6 * m_stride, *m5 = m4 + 6 * m_stride;
            float r[4][W8];
            for (int k = 0; k < W8; k++) RN_AT(r, m0, m1, m2, m3, m4, m5, k);
            for (int i = 0; i < 4; i++)
                for (int k = 0; k < W8; k++) t[i][x][k] = r[i][k];
        }
        for (int i = 0; i < 4; i++) {
            float r[4][W8];
            for (int k = 0; k < W8; k++) RN_AT(r, t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], k);
            for (int jj = 0; jj < 4; jj++) {
                float *o = out[i * 4 + jj];
                if (!o) continue; /* past the image's edge */
                const float *rs = res[i * 4 + jj];
                float y[W8];
                for (int k = 0; k < W8; k++) y[k] = r[jj][k] + bias[c0 + k];
                if (rs)
                    for (int k = 0; k < W8; k++) y[k] += rs[c0 + k];
                if (relu)
                    for (int k = 0; k < W8; k++) y[k] = y[k] > 0.0f ? y[k] : 0.0f;
                for (int k = 0; k < W8; k++) o[c0 + k] = y[k];
            }
        }
    }
}

/* F(2x2, 3x3): a 4x4 window per tile, 16 positions e, 2x2 outputs. */
#define RN_BT2(r, d0, d1, d2, d3, k)        \
    do {                                    \
        r[0][k] = d0[k] - d2[k];            \
        r[1][k] = d1[k] + d2[k];            \
        r[2][k] = d2[k] - d1[k];            \
        r[3][k] = d1[k] - d3[k];            \
    } while (0)

void rn_wino_f2_input__c(const float *const *d, int n, float *v, size_t v_stride) {
    for (int c0 = 0; c0 < n; c0 += W8) {
        float t[4][4][W8];
        for (int x = 0; x < 4; x++) {
            const float *d0 = d[x] + c0, *d1 = d[4 + x] + c0, *d2 = d[8 + x] + c0, *d3 = d[12 + x] + c0;
            float r[4][W8];
            for (int k = 0; k < W8; k++) RN_BT2(r, d0, d1, d2, d3, k);
            for (int i = 0; i < 4; i++)
                for (int k = 0; k < W8; k++) t[i][x][k] = r[i][k];
        }
        for (int i = 0; i < 4; i++) {
            float r[4][W8];
            for (int k = 0; k < W8; k++) RN_BT2(r, t[i][0], t[i][1], t[i][2], t[i][3], k);
            for (int jj = 0; jj < 4; jj++) {
                float *dst = v + (size_t)(i * 4 + jj) * v_stride + c0;
                for (int k = 0; k < W8; k++) dst[k] = r[jj][k];
            }
        }
    }
}

#define RN_AT2(r, m0, m1, m2, m3, k)                \
    do {                                            \
        r[0][k] = m0[k] + m1[k] + m2[k];            \
        r[1][k] = m1[k] - m2[k] - m3[k];            \
    } while (0)

void rn_wino_f2_output__c(const float *m, size_t m_stride, int n, const float *bias, float *const *out,
                                const float *const *res, int relu) {
    for (int c0 = 0; c0 < n; c0 += W8) {
        float t[2][4][W8];
        for (int x = 0; x < 4; x++) {
            const float *m0 = m + (size_t)x * m_stride + c0, *m1 = m0 + 4 * m_stride, *m2 = m1 + 4 * m_stride,
                        *m3 = m2 + 4 * m_stride;
            float r[2][W8];
            for (int k = 0; k < W8; k++) RN_AT2(r, m0, m1, m2, m3, k);
            for (int i = 0; i < 2; i++)
                for (int k = 0; k < W8; k++) t[i][x][k] = r[i][k];
        }
        for (int i = 0; i < 2; i++) {
            float r[2][W8];
            for (int k = 0; k < W8; k++) RN_AT2(r, t[i][0], t[i][1], t[i][2], t[i][3], k);
            for (int jj = 0; jj < 2; jj++) {
                float *o = out[i * 2 + jj];
                if (!o) continue;
                const float *rs = res[i * 2 + jj];
                float y[W8];
                for (int k = 0; k < W8; k++) y[k] = r[jj][k] + bias[c0 + k];
                if (rs)
                    for (int k = 0; k < W8; k++) y[k] += rs[c0 + k];
                if (relu)
                    for (int k = 0; k < W8; k++) y[k] = y[k] > 0.0f ? y[k] : 0.0f;
                for (int k = 0; k < W8; k++) o[c0 + k] = y[k];
            }
        }
    }
}

