/* winograd_avx2.c - the Winograd transforms for AVX2 (8 channels per ymm), the portable
 * ones' arithmetic (winograd_c.c: the matrices; kernels.h: what each function reads and
 * writes) in the same order, operation for operation, so that both round exactly alike; no
 * FMA, which would round once where the portable code rounds twice.
 *
 * Written with intrinsics, not compiled from the portable loops over 8 floats: GCC turned
 * those into vector arithmetic but moved the intermediate rows through the stack 16 bytes at
 * a time, and the transforms ran at half the speed their arithmetic allows. The Makefile
 * compiles this file at -O3: at -O2 GCC leaves the short loops over the window's rows and
 * columns rolled, with the rows in arrays on the stack, 1.5-2.5x slower (docs/performance.md,
 * "The Winograd transforms in intrinsics"). */
#include <immintrin.h>

#include "kernels/kernels.h"

#define MUL(k, a) _mm256_mul_ps(_mm256_set1_ps(k), a)
#define ADD _mm256_add_ps
#define SUB _mm256_sub_ps

/* r = B^T d for six values (a column, then a row, of the window) */
static inline void bt6(const __m256 d[6], __m256 r[6]) {
    r[0] = ADD(SUB(MUL(4.0f, d[0]), MUL(5.0f, d[2])), d[4]);
    r[1] = ADD(ADD(SUB(MUL(-4.0f, d[1]), MUL(4.0f, d[2])), d[3]), d[4]);
    r[2] = ADD(SUB(SUB(MUL(4.0f, d[1]), MUL(4.0f, d[2])), d[3]), d[4]);
    r[3] = ADD(ADD(SUB(MUL(-2.0f, d[1]), d[2]), MUL(2.0f, d[3])), d[4]);
    r[4] = ADD(SUB(SUB(MUL(2.0f, d[1]), d[2]), MUL(2.0f, d[3])), d[4]);
    r[5] = ADD(SUB(MUL(4.0f, d[1]), MUL(5.0f, d[3])), d[5]);
}

/* r = A^T m for six values */
static inline void at6(const __m256 m[6], __m256 r[4]) {
    r[0] = ADD(ADD(ADD(ADD(m[0], m[1]), m[2]), m[3]), m[4]);
    r[1] = ADD(SUB(m[1], m[2]), MUL(2.0f, SUB(m[3], m[4])));
    r[2] = ADD(ADD(m[1], m[2]), MUL(4.0f, ADD(m[3], m[4])));
    r[3] = ADD(ADD(SUB(m[1], m[2]), MUL(8.0f, SUB(m[3], m[4]))), m[5]);
}

/* F(2x2): B^T d and A^T m for four values */
static inline void bt4(const __m256 d[4], __m256 r[4]) {
    r[0] = SUB(d[0], d[2]);
    r[1] = ADD(d[1], d[2]);
    r[2] = SUB(d[2], d[1]);
    r[3] = SUB(d[1], d[3]);
}

static inline void at4(const __m256 m[4], __m256 r[2]) {
    r[0] = ADD(ADD(m[0], m[1]), m[2]);
    r[1] = SUB(SUB(m[1], m[2]), m[3]);
}

/* One output pixel's 8 channels: + bias, + residual (rs NULL: none), then ReLU (y > 0 ? y :
 * +0, NaN to 0, as the portable code). */
static inline void put8(float *o, const float *rs, __m256 y, __m256 bias, int relu) {
    y = ADD(y, bias);
    if (rs) y = ADD(y, _mm256_loadu_ps(rs));
    if (relu) y = _mm256_max_ps(y, _mm256_setzero_ps()); /* the second operand for NaN and for -0 */
    _mm256_storeu_ps(o, y);
}

/* The two passes of a transform, generic in the window's side s (6 or 4) and its matrix
 * (bt, at: constants where the four entry points below call them, so each inlines into its
 * own code). V = B^T d B: a column pass into t, then a row pass into V. */
static inline void input_tiles(const float *const *d, int n, float *v, size_t v_stride, int s,
                               void (*bt)(const __m256 *, __m256 *)) {
    for (int c0 = 0; c0 < n; c0 += 8) {
        __m256 t[6][6]; /* t[i][x] = (B^T d)[i][x] */
        for (int x = 0; x < s; x++) {
            __m256 col[6], r[6];
            for (int y = 0; y < s; y++) col[y] = _mm256_loadu_ps(d[y * s + x] + c0);
            bt(col, r);
            for (int i = 0; i < s; i++) t[i][x] = r[i];
        }
        for (int i = 0; i < s; i++) {
            __m256 r[6];
            bt(t[i], r);
            for (int j = 0; j < s; j++) _mm256_storeu_ps(v + (size_t)(i * s + j) * v_stride + c0, r[j]);
        }
    }
}

/* Y = A^T M A (+ bias, residual, ReLU) into the tile's T x T pixels, T = s - 2. */
static inline void output_tiles(const float *m, size_t m_stride, int n, const float *bias, float *const *out,
                                const float *const *res, int relu, int s, void (*at)(const __m256 *, __m256 *)) {
    const int tt = s - 2;
    for (int c0 = 0; c0 < n; c0 += 8) {
        __m256 t[4][6]; /* t[i][x] = (A^T M)[i][x] */
        for (int x = 0; x < s; x++) {
            __m256 col[6], r[4];
            for (int y = 0; y < s; y++) col[y] = _mm256_loadu_ps(m + (size_t)(y * s + x) * m_stride + c0);
            at(col, r);
            for (int i = 0; i < tt; i++) t[i][x] = r[i];
        }
        const __m256 b = _mm256_loadu_ps(bias + c0);
        for (int i = 0; i < tt; i++) {
            __m256 r[4];
            at(t[i], r);
            for (int j = 0; j < tt; j++)
                if (out[i * tt + j]) /* NULL past the image's edge */
                    put8(out[i * tt + j] + c0, res[i * tt + j] ? res[i * tt + j] + c0 : NULL, r[j], b, relu);
        }
    }
}

void rn_wino_f4_input__avx2(const float *const *d, int n, float *v, size_t v_stride) {
    input_tiles(d, n, v, v_stride, 6, bt6);
}

void rn_wino_f4_output__avx2(const float *m, size_t m_stride, int n, const float *bias, float *const *out,
                             const float *const *res, int relu) {
    output_tiles(m, m_stride, n, bias, out, res, relu, 6, at6);
}

void rn_wino_f2_input__avx2(const float *const *d, int n, float *v, size_t v_stride) {
    input_tiles(d, n, v, v_stride, 4, bt4);
}

void rn_wino_f2_output__avx2(const float *m, size_t m_stride, int n, const float *bias, float *const *out,
                             const float *const *res, int relu) {
    output_tiles(m, m_stride, n, bias, out, res, relu, 4, at4);
}
