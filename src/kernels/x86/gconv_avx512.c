/* gconv_avx512.c - AVX-512F grouped-convolution kernel (kernels.h, rn_gconv_ukernel): blocks of
 * 16 output channels (16/G groups), 12 output pixels a call in 12 zmm accumulators.
 *
 * Per tap the 12 input vectors are loaded once (12 registers); then for each j < G one weight
 * vector is loaded and, per pixel, lane j of each group is spread over the group's lanes and
 * multiply-added: G = 4 and G = 2 stay within 128-bit lanes (vpermilps with an immediate),
 * G = 8 crosses them (vpermps with an index vector), G = 16 (one group) broadcasts the value
 * straight from memory, G = 1 (depthwise) needs no shuffle. 12 + 12 + 3 of the 32 registers.
 * Wider groups (G = 32, 64: a block is part of one group) broadcast all G inputs of the group,
 * 16 at a time: a GEMM of depth taps x G whose accumulators stay in registers over the taps. */
#include <immintrin.h>
#include "kernels/kernels.h"

#define L 16
#define NP 12

/* The pixels are spelled out, as in gemm_12x32_avx512.c: arrays of __m512 indexed in loops stay
 * in registers at -O2 only sometimes. */
#define PIX(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define PIXJ(X, j) X(0, j) X(1, j) X(2, j) X(3, j) X(4, j) X(5, j) X(6, j) X(7, j) X(8, j) X(9, j) X(10, j) X(11, j)
#define J2(X) X(0) X(1)
#define J4(X) X(0) X(1) X(2) X(3)
#define J8(X) J4(X) X(4) X(5) X(6) X(7)
#define J16(X) J8(X) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

#define DECL(p) __m512 acc##p = b0;
#define XPTR(p) const float *x##p = xt[p] + xoff;
#define LOADX(p) const __m512 v##p = _mm512_loadu_ps(x##p);
#define WLOAD(j) const __m512 wv = _mm512_loadu_ps(wt + (j0 + (j)) * L);
#define FMA_G1(p, j) acc##p = _mm512_fmadd_ps(v##p, wv, acc##p);
#define FMA_G2(p, j) acc##p = _mm512_fmadd_ps(_mm512_permute_ps(v##p, (j) ? 0xf5 : 0xa0), wv, acc##p);
#define FMA_G4(p, j) acc##p = _mm512_fmadd_ps(_mm512_permute_ps(v##p, (j) * 0x55), wv, acc##p);
#define FMA_G8(p, j) acc##p = _mm512_fmadd_ps(_mm512_permutexvar_ps(ix, v##p), wv, acc##p);
#define FMA_G16(p, j) acc##p = _mm512_fmadd_ps(_mm512_set1_ps(x##p[j0 + (j)]), wv, acc##p);
#define STEP_G2(j) { WLOAD(j) PIXJ(FMA_G2, j) }
#define STEP_G4(j) { WLOAD(j) PIXJ(FMA_G4, j) }
#define STEP_G8(j) { WLOAD(j) const __m512i ix = _mm512_loadu_si512(spread8[j]); PIXJ(FMA_G8, j) }
#define STEP_G16(j) { WLOAD(j) PIXJ(FMA_G16, j) }
#define FINISH(p)                                                                   \
    if (p < np) {                                                                   \
        __m512 r = acc##p;                                                          \
        if (res) r = _mm512_add_ps(r, _mm512_loadu_ps(res + (size_t)(p) * ldr));    \
        if (relu) r = _mm512_max_ps(r, _mm512_setzero_ps());                        \
        _mm512_storeu_ps(out + (size_t)(p) * ldo, r);                               \
    }

/* For G = 8, the lanes to read for j: (lane / 8) * 8 + j. */
static const int spread8[8][16] = {
#define ROW8(j) {j, j, j, j, j, j, j, j, 8 + j, 8 + j, 8 + j, 8 + j, 8 + j, 8 + j, 8 + j, 8 + j},
    J8(ROW8)
#undef ROW8
};

/* One body per G: the taps' loop around TAP, which sums one tap into the accumulators. */
#define BODY(G, TAP)                                                         \
    {                                                                        \
        const __m512 b0 = _mm512_loadu_ps(bias);                             \
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

void rn_gconv_16__avx512(int g, int np, int ntaps, const int *tap, const float *const *x, size_t xoff,
                         const float *w, const float *bias, float *out, size_t ldo, const float *res, size_t ldr,
                         int relu) {
    const int j0 = 0; /* the first of 16 input channels a step reads (G = 16, 32, ...) */
    switch (g) {
    case 1: BODY(1, PIX(LOADX) { WLOAD(0) PIXJ(FMA_G1, 0) })
    case 2: BODY(2, PIX(LOADX) J2(STEP_G2))
    case 4: BODY(4, PIX(LOADX) J4(STEP_G4))
    case 8: BODY(8, PIX(LOADX) J8(STEP_G8))
    case 16: BODY(16, J16(STEP_G16))
    default: /* G a multiple of 16 (the driver sends no other): 16 of its inputs at a time */
        BODY(g, for (int j0 = 0; j0 < g; j0 += 16) { J16(STEP_G16) })
    }
}
