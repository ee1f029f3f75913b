/* qgemm_4x8_c.c - the portable int8 micro-kernel (any CPU) and the requantization every
 * path computes, one value at a time (the contract is in qkernels.h).
 *
 * With GCC or Clang the products run in float, on their generic 4-wide vectors (SSE2 on any
 * x86-64, NEON on ARM), as the fp32 portable kernel does: neither has a u8 x s8 dot product,
 * and 32-bit integer vector multiplies are slow or missing on SSE2 (no pmulld), so plain
 * integer loops ran at a quarter of the fp32 kernel's rate (6 against 26 GOP/s on a Zen 3)
 * and made an int8 file four times slower than fp32 where no int8 instructions are chosen.
 * It is exact: every product u8 x s8 is an integer below 2^15 in magnitude, a float holds
 * every integer below 2^24, so the float sums of up to FLUSH = 512 products (at most
 * 512 x 255 x 128 < 2^24) are exact whatever the order or contraction, and are moved into
 * int32 every FLUSH depths. The tests build the plain loops too (RN_PLAIN_LOOPS) and
 * check both against the naive integer loop. */
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

/* A packed panel's header (qkernels.h): acc starts from csum; returns the groups of weights. */
static const unsigned char *open_panel(const void *w, int32_t acc[MR][NR], float scale[NR], float bias[NR]) {
    const unsigned char *wp = w;
    int32_t csum[NR];
    memcpy(csum, wp, sizeof csum);
    memcpy(scale, wp + sizeof csum, NR * sizeof(float));
    memcpy(bias, wp + sizeof csum + NR * sizeof(float), NR * sizeof(float));
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = csum[j];
    return wp + sizeof csum + 2 * NR * sizeof(float);
}

/* The store of one row: acc -> int32, float or requantized u8 (qkernels.h), as every path. */
static void store_row(const int32_t acc[NR], const float scale[NR], const float bias[NR], void *c, size_t ci,
                      const uint8_t *ri, const rn_qgemm_params *p, int flags) {
    for (int j = 0; j < NR; j++) {
        if (flags & RN_QUK_OUT_S32) ((int32_t *)c)[ci + j] = acc[j];
        else if (flags & RN_QUK_OUT_F32)
            ((float *)c)[ci + j] = rn_qrequant_f32(acc[j], scale[j], bias[j], ri ? ri + j : NULL, p);
        else ((uint8_t *)c)[ci + j] = rn_qrequant_u8(acc[j], scale[j], bias[j], ri ? ri + j : NULL, p);
    }
}

#if defined(__GNUC__) && defined(__has_builtin) && !defined(RN_PLAIN_LOOPS) /* tests build the other one too */
#if __has_builtin(__builtin_convertvector)
#define RN_QC_VECTORS 1
#endif
#endif

#ifdef RN_QC_VECTORS
typedef float v4 __attribute__((vector_size(16)));
typedef int32_t i4 __attribute__((vector_size(16)));
typedef uint32_t u4 __attribute__((vector_size(16)));

enum { FLUSH = 512 / 4 }; /* k groups of 4 depths summed in float before int32 takes them */

static inline u4 load_u4(const void *p) { u4 v; memcpy(&v, p, sizeof v); return v; }

/* The four rows spelled out: a vector array indexed in a loop stays in memory at -O2. */
#define ROWS(X) X(0) X(1) X(2) X(3)

void rn_qs8_gemm_4x8__c(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c, size_t ldc,
                        const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags) {
    int32_t acc[MR][NR];
    float scale[NR], bias[NR];
    const unsigned char *b = open_panel(w, acc, scale, bias);
    const v4 zero = {0, 0, 0, 0};
#define DECL(i) v4 f##i##0 = zero, f##i##1 = zero; const uint8_t *a##i;
    ROWS(DECL)
#undef DECL
    /* float sums -> int32 (exact: integers below 2^24) */
#define FLUSH_ROW(i)                                                                        \
    {                                                                                       \
        const i4 lo = __builtin_convertvector(f##i##0, i4), hi = __builtin_convertvector(f##i##1, i4); \
        for (int j = 0; j < 4; j++) { acc[i][j] += lo[j]; acc[i][4 + j] += hi[j]; }        \
        f##i##0 = f##i##1 = zero;                                                           \
    }
    int groups = 0;
    for (int t = 0; t < ks; t++) {
#define APTR(i) a##i = a[t * MR + i];
        ROWS(APTR)
#undef APTR
        for (int g = 0; g < kc; g += 4, b += NR * 4) {
            /* a lane of B is one column's 4 depths (bytes d = 0..3): depth d's weights are
             * the lanes' byte d, sign-extended by the shifts (the left one unsigned: no
             * overflow); one depth at a time, so that the 8 accumulators, 2 of B and 1 of A
             * stay in SSE2's 16 registers */
            const u4 w0 = load_u4(b), w1 = load_u4(b + 16);
#define STEP(i)                                                       \
    {                                                                 \
        const float s = a##i[g + depth];                              \
        const v4 av = {s, s, s, s};                                   \
        f##i##0 += av * b0;                                           \
        f##i##1 += av * b1;                                           \
    }
#define DEPTH(d)                                                                    \
    {                                                                               \
        const int depth = d;                                                        \
        const v4 b0 = __builtin_convertvector((i4)(w0 << (24 - 8 * d)) >> 24, v4);  \
        const v4 b1 = __builtin_convertvector((i4)(w1 << (24 - 8 * d)) >> 24, v4);  \
        ROWS(STEP)                                                                  \
    }
            DEPTH(0) DEPTH(1) DEPTH(2) DEPTH(3)
#undef DEPTH
#undef STEP
            if (++groups == FLUSH) {
                ROWS(FLUSH_ROW)
                groups = 0;
            }
        }
    }
    ROWS(FLUSH_ROW)
#undef FLUSH_ROW
    for (int i = 0; i < mr; i++)
        store_row(acc[i], scale, bias, c, (size_t)i * ldc, res ? res + (size_t)i * ldr : NULL, p, flags);
}
#undef ROWS
#else
void rn_qs8_gemm_4x8__c(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c, size_t ldc,
                        const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags) {
    int32_t acc[MR][NR];
    float scale[NR], bias[NR];
    const int8_t *b = (const int8_t *)open_panel(w, acc, scale, bias);
    for (int t = 0; t < ks; t++)
        for (int g = 0; g < kc; g += 4, b += NR * 4)
            for (int i = 0; i < MR; i++) {
                const uint8_t *ai = a[t * MR + i] + g;
                for (int j = 0; j < NR; j++)
                    acc[i][j] += ai[0] * b[j * 4] + ai[1] * b[j * 4 + 1] + ai[2] * b[j * 4 + 2] + ai[3] * b[j * 4 + 3];
            }
    for (int i = 0; i < mr; i++)
        store_row(acc[i], scale, bias, c, (size_t)i * ldc, res ? res + (size_t)i * ldr : NULL, p, flags);
}
#endif
