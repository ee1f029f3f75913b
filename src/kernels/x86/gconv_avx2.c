/* gconv_avx2.c - AVX2 grouped-convolution kernel (kernels.h, rn_gconv_ukernel): blocks of 8
 * output channels (8/G groups), 6 output pixels a call in 6 ymm accumulators.
 *
 * Per tap the 6 input vectors are loaded once; then for each j < G one weight vector is loaded
 * and, per pixel, lane j of each group is spread over the group's lanes and multiply-added:
 * G = 4 and G = 2 stay within 128-bit lanes (vpermilps with an immediate), G = 8 (one group)
 * broadcasts the value straight from memory, G = 1 (depthwise) needs no shuffle. 6 + 6 + 2 of
 * the 16 registers. Wider groups (a block is part of one group) broadcast all G inputs of the
 * group, 8 at a time. */
#include <immintrin.h>
#include "kernels/kernels.h"

#define L 8
#define NP 6

#define PIX(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define PIXJ(X, j) X(0, j) X(1, j) X(2, j) X(3, j) X(4, j) X(5, j)
#define J2(X) X(0) X(1)
#define J4(X) X(0) X(1) X(2) X(3)
#define J8(X) J4(X) X(4) X(5) X(6) X(7)

#define DECL(p) __m256 acc##p = b0;
#define XPTR(p) const float *x##p = xt[p] + xoff;
#define LOADX(p) const __m256 v##p = _mm256_loadu_ps(x##p);
#define WLOAD(j) const __m256 wv = _mm256_loadu_ps(wt + (j0 + (j)) * L);
#define FMA_G1(p, j) acc##p = _mm256_fmadd_ps(v##p, wv, acc##p);
#define FMA_G2(p, j) acc##p = _mm256_fmadd_ps(_mm256_permute_ps(v##p, (j) ? 0xf5 : 0xa0), wv, acc##p);
#define FMA_G4(p, j) acc##p = _mm256_fmadd_ps(_mm256_permute_ps(v##p, (j) * 0x55), wv, acc##p);
#define FMA_G8(p, j) acc##p = _mm256_fmadd_ps(_mm256_broadcast_ss(x##p + j0 + (j)), wv, acc##p);
#define STEP_G2(j) { WLOAD(j) PIXJ(FMA_G2, j) }
#define STEP_G4(j) { WLOAD(j) PIXJ(FMA_G4, j) }
#define STEP_G8(j) { WLOAD(j) PIXJ(FMA_G8, j) }
#define FINISH(p)                                                                   \
    if (p < np) {                                                                   \
        __m256 r = acc##p;                                                          \
        if (res) r = _mm256_add_ps(r, _mm256_loadu_ps(res + (size_t)(p) * ldr));    \
        if (relu) r = _mm256_max_ps(r, _mm256_setzero_ps());                        \
        _mm256_storeu_ps(out + (size_t)(p) * ldo, r);                               \
    }

#define BODY(G, TAP)                                                         \
    {                                                                        \
        const __m256 b0 = _mm256_loadu_ps(bias);                             \
        PIX(DECL)                                                            \
        for (int t = 0; t < ntaps; t++) {                                    \
            const float *wt = w + (size_t)tap[t] * (G) * L;                  \
            const float *const *xt = x + (size_t)t * NP;                     \
            PIX(XPTR)                                                        \
            TAP                                                              \
        }                                                                    \
        PIX(FINISH)                                                          \
        return;                                                              \
    }

void rn_gconv_8__avx2(int g, int np, int ntaps, const int *tap, const float *const *x, size_t xoff, const float *w,
                      const float *bias, float *out, size_t ldo, const float *res, size_t ldr, int relu) {
    const int j0 = 0; /* the first of 8 input channels a step reads (G = 8, 16, ...) */
    switch (g) {
    case 1: BODY(1, PIX(LOADX) { WLOAD(0) PIXJ(FMA_G1, 0) })
    case 2: BODY(2, PIX(LOADX) J2(STEP_G2))
    case 4: BODY(4, PIX(LOADX) J4(STEP_G4))
    case 8: BODY(8, J8(STEP_G8))
    default: /* G a multiple of 8 (the driver sends no other): 8 of its inputs at a time */
        BODY(g, for (int j0 = 0; j0 < g; j0 += 8) { J8(STEP_G8) })
    }
}
