/* qconv.h - int8 convolution on NHWC u8 activations (zero point 0: every input is a ReLU
 * output), s8 weights, one micro-kernel call per tile over the whole window (internal).
 * The requantization, bias, residual and ReLU happen in the kernel's store (qkernels.h). */
#ifndef RN_QCONV_H
#define RN_QCONV_H

#include <stdint.h>
#include "kernels/qkernels.h"
#include "ops/conv.h"

typedef struct rn_qconv {
    const rn_qkernel_config *qk;
    rn_qgemm_ukernel gemm; /* qk's gemm, or its gemm7 when the input is 7-bit */
    void *w;            /* rn_qpack panels: scale and bias already in output units */
    size_t panel_bytes;
    int out_f32;        /* the store writes floats (what the fp32 layers after it read) */
    rn_qgemm_params p;  /* residual multiplier, clamp */
    int a_zero;         /* the input's zero point (a window convolution's; 0 otherwise) */
    /* cin % 4 != 0 (the stem's 3 channels): one tap per window row, its kw pixels being
     * contiguous in NHWC, read kp = kw*cin rounded up to 4 bytes deep (zero weights past
     * kw*cin); zrow: kp bytes of a_zero, the row above or below the image */
    int window, kp;
    uint8_t *zrow;
    /* a 3x3 as an integer Winograd F(m x m,3x3) (qwinograd.c; then c->winograd = m, w unused) */
    int16_t *wino_u;    /* U' per RN_QW_NR-column panel and position, pairs of depths */
    float *wino_scale, *wino_bias;
    /* an fc (rn_qdense_*): each column's weight scale (zeros past cout); NULL for a convolution */
    float *dense_scale;
} rn_qconv;

/* Makes c an int8 convolution: w_q[cout][kh*kw][cin] (tap-major, taps (ky, kx) in rows),
 * on u8 input with zero point in_zero (only for cin % 4 != 0: a window's rows as its taps;
 * the pixel-tap path's padding rows are zeros),
 * kernel scale[cout] and bias[cout] (in output units), params p. c->bias keeps bias_f32
 * (the folded fp32 bias: the model's fingerprint reads it); in7: every input byte is below
 * 128 (then qk's gemm7 runs, where it has one). Returns 0, -1 out of memory,
 * -2 when a weight is outside the kernel path's range (the caller picks another path) or the
 * shape is beyond the driver (cout not a multiple of NR, cin above 2048, more than 16 taps
 * (kh*kw, or kh for a window convolution), a window convolution's kh*kp above 512 bytes, an
 * input zero point without cin % 4 != 0). */
int rn_qconv_init(rn_conv *c, const rn_qkernel_config *qk, int cin, int cout, int kh, int kw, int stride, int pad,
                  int in_zero, const int8_t *w_q, const float *scale, const float *bias, const float *bias_f32,
                  const rn_qgemm_params *p, int out_f32, int in7);

/* Frees q and what it holds (rn_conv_free calls it for an int8 convolution; NULL: nothing). */
void rn_qconv_free(rn_qconv *q);

/* rn_qconv_init with a dilation and groups: w_q[cout][kh*kw][cin / groups]. Grouped and
 * dilated windows run direct (no integer Winograd) on the same kernels: a panel reads its own
 * groups' channels (conv.h says how). -2 also when cout/groups and NR do not divide one another. */
int rn_qconv_init_ex(rn_conv *c, const rn_qkernel_config *qk, int cin, int cout, int kh, int kw, int stride, int pad,
                     int dilation, int groups, int in_zero, const int8_t *w_q, const float *scale, const float *bias,
                     const float *bias_f32, const rn_qgemm_params *p, int out_f32, int in7);

/* out[n][oh][ow][cout] (u8, or float when out_f32) = the store of conv(in[n][h][w][cin]),
 * with the u8 residual res (NULL = none) of the output's shape. */
void rn_qconv_forward(const rn_exec *ex, const rn_conv *c, const uint8_t *in, int n, int h, int w, void *out,
                      const uint8_t *res);

/* The fc in int8 on float rows. Its input, the pooled features, has no calibrated scale (the
 * file keeps the fc in fp32, quantized at load): each row is quantized as it comes, in 7 bits
 * over [0, the row's largest value] (ReLU outputs averaged: never negative), and the s32 sums
 * go back to float with the row's scale times each column's weight scale, plus the bias.
 * 7-bit rows let the weights have 8 bits on every path: the AVX2 kernel's s16 pairs are then
 * at most 2 x 127 x 128 = 32512, exact (with 8-bit rows it takes 7-bit weights only).
 * rn_qdense_init: w_q[cout][cin] (any s8), w_scale[cout], bias[cout];
 * c->cout stays cout, c->n_padded is cout rounded up to the path's NR. Returns 0, -1 out of
 * memory, -2 as rn_qconv_init. */
int rn_qdense_init(rn_conv *c, const rn_qkernel_config *qk, int cin, int cout, const int8_t *w_q,
                   const float *w_scale, const float *bias);
/* out[r][j] (row stride c->n_padded, columns past cout 0 + 0) for r < rows of in[r][cin];
 * qrows holds rn_qdense_scratch_bytes(cin, rows). */
void rn_qdense_forward(const rn_exec *ex, const rn_conv *c, const float *in, int rows, float *out, void *qrows);
size_t rn_qdense_scratch_bytes(int cin, int rows);

#endif
