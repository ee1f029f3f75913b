/* conv.h - 2-D convolution (and the fc layer, as a 1x1 convolution) on NHWC tensors,
 * as a GEMM: C[M = n*oh*ow, N = cout] = A[M, K = kh*kw*cin] * B[K, N] + bias.
 * The only place that packs weights and blocks for the caches; the drivers (conv.c,
 * winograd.c, qconv.c) split work across threads by one plan (plan.h) (internal). */
#ifndef RN_CONV_H
#define RN_CONV_H

#include <stddef.h>
#include <stdint.h>
#include "ops/exec.h"

typedef struct rn_conv {
    int cin, cout, kh, kw, stride, pad;
    int dilation; /* the taps' spacing (torchvision's dilation; 1 for a plain window) */
    int groups;   /* cin and cout split into this many groups, each convolved alone (ResNeXt) */
    int span;     /* input channels one panel of NR output channels reads: cin for one group; for
                     groups, those of the groups its columns belong to (rn_conv_init_ex below) */
    int k;        /* GEMM depth of one panel: kh*kw*span, ordered (ky, kx, ci) like an NHWC patch */
    int n_padded; /* cout rounded up to the kernel's NR: the row stride of the output */
    int winograd; /* 0, or T: 3x3 stride 1 by F(T x T, 3x3), T = 4 or 2; w holds U (winograd.c) */
    int im2col;   /* so few input channels that patches are gathered into a block first */
    int gconv;    /* G: a grouped convolution on the grouped kernel (gconv.c), G channels a group */
    float *w;     /* B: by chunk of depth, then NR-column panels (conv.c); for Winograd, U; for
                     gconv, by block of the kernel's lanes, tap and channel of the group (gconv.c) */
    float *bias;  /* n_padded floats (zeros past cout) */
    uint16_t *w16; /* not NULL: B as bf16 pairs for kc->gemm_bf16 (RN_CONV_BF16; w is unused) */
    struct rn_qconv *q; /* not NULL: an int8 convolution (qconv.h); w is unused */
} rn_conv;

/* Packs weights w_oihw[cout][cin][kh][kw] and bias[cout] (NULL = zeros) for kc, choosing
 * the algorithm for a 3x3 stride-1 convolution with cin a multiple of 8:
 *  - at most RN_WINOGRAD_F4_MAX_CHANNELS channels in and out (layer1, layer2): Winograd
 *    F(4x4, 3x3), 4x fewer multiplies, weights 4x larger;
 *  - at most RN_WINOGRAD_MAX_CHANNELS (layer3): F(2x2, 3x3), 2.25x fewer, weights 1.8x;
 *  - wider (layer4): direct.
 * That keeps max RSS of one classification within 1.5x the weight file. RN_CONV_WIDE moves
 * both limits up a stage (F(4x4) to RN_WINOGRAD_WIDE_F4_MAX_CHANNELS, F(2x2) to
 * RN_WINOGRAD_WIDE_MAX_CHANNELS): for ResNet-50 in fp32, 52 MB more weights (1.9x the file)
 * for a pass about 7% faster (docs/performance.md, "Wide Winograd").
 * flags: RN_CONV_DIRECT turns Winograd off; RN_CONV_F2 takes F(2x2) wherever Winograd
 * applies (tests); RN_CONV_BF16 computes a direct convolution in bf16 (products of bf16
 * weights and activations, sums in fp32) on kc's bf16 kernel, or, for a family without
 * one, on its fp32 kernel with the weights rounded to bf16. With a bf16 kernel the Winograd
 * GEMMs run in bf16 too (U and V rounded); without, Winograd stays fp32. An im2col
 * convolution (the stem) stays fp32 (docs/performance-bf16.md). Returns 0 on success, -1
 * when out of memory. */
enum { RN_CONV_DIRECT = 1, RN_CONV_F2 = 2, RN_CONV_BF16 = 4, RN_CONV_WIDE = 8, RN_CONV_IM2COL_BELOW = 16 };
/* A direct convolution walks its depth (cin values a tap) in chunks of at most this many,
 * writing partial sums after each and adding the residual after the last: one whose whole
 * depth is a single chunk (a 1x1 over at most this many channels) reads each residual value
 * just before writing the output value at the same place, so may write over its residual. */
enum { RN_CONV_DEPTH_CHUNK = 512 };
#define RN_WINOGRAD_F4_MAX_CHANNELS 128
#define RN_WINOGRAD_MAX_CHANNELS 256
#define RN_WINOGRAD_WIDE_F4_MAX_CHANNELS 256
#define RN_WINOGRAD_WIDE_MAX_CHANNELS 512
int rn_conv_init(rn_conv *c, const rn_kernel_config *kc, int cin, int cout, int kh, int kw,
                 int stride, int pad, const float *w_oihw, const float *bias, unsigned flags);

/* The same with a dilation and groups: w_oihw is [cout][cin / groups][kh][kw] as torchvision
 * stores it. Groups of as many inputs as outputs (G = cin/groups = cout/groups) where G and
 * the kernel family's vector width divide one another and cout is a multiple of the width (all
 * of ResNeXt's 3x3s) run on the family's grouped kernel (gconv.c): per tap each group's G
 * inputs are spread over its G outputs within one vector (or, for wide groups, broadcast one
 * by one), G multiply-adds a vector, none of them on zeros, the sums kept in registers over all
 * taps. Other grouped convolutions (cin != cout, odd widths) run on the GEMM micro-kernel: a panel of NR output channels reads only the input channels of its own groups
 * (a contiguous run in NHWC), with zeros where a column's group does not reach (block-diagonal
 * panels), so the kernel stays dense; with at least NR outputs a group nothing is wasted, with
 * fewer the panel multiplies NR / (cout/groups) times more than it must. That needs
 * cout/groups and NR to divide one another (every power-of-two width). Returns -3 when a
 * grouped convolution fits neither. Winograd and im2col apply only to ungrouped, undilated
 * windows. */
int rn_conv_init_ex(rn_conv *c, const rn_kernel_config *kc, int cin, int cout, int kh, int kw, int stride,
                    int pad, int dilation, int groups, const float *w_oihw, const float *bias, unsigned flags);

/* The grouped kernel's internals (gconv.c), used by conv.c: whether it takes the convolution,
 * packing (sets c->gconv and c->w; -1 when out of memory) and the forward pass. */
int rn_gconv_fits(const rn_kernel_config *kc, int cin, int cout, int kh, int kw, int groups);
int rn_gconv_pack(rn_conv *c, const rn_kernel_config *kc, const float *w_oihw);
void rn_gconv_forward(const rn_exec *ex, const rn_conv *c, const float *in, int n, int h, int w, float *out,
                      const float *residual, int relu);

/* Winograd internals (winograd.c), used by conv.c. */
int rn_winograd_pack(rn_conv *c, const rn_kernel_config *kc, const float *w_oihw, int bf16);
size_t rn_winograd_scratch_floats(const rn_kernel_config *kc, const rn_conv *c);
size_t rn_winograd_work_floats(const rn_conv *c, int n, int h, int w);
/* Whether rn_winograd_forward splits a batch of n h x w images on `threads` threads by
 * positions (winograd.c says when). */
int rn_winograd_by_positions(const rn_conv *c, int n, int h, int w, int threads);
void rn_winograd_forward(const rn_exec *ex, const rn_conv *c, const float *in, int n, int h, int w, float *out,
                         const float *residual, int relu);
void rn_conv_free(rn_conv *c);
void rn_conv_out_size(const rn_conv *c, int h, int w, int *oh, int *ow);
/* Floats of scratch each worker needs to run c (a model's workers: the most of its
 * convolutions'). */
size_t rn_conv_scratch_floats(const rn_kernel_config *kc, const rn_conv *c);
/* Floats of shared work buffer (rn_exec.work) that c needs on an n x h x w input (0: none). */
size_t rn_conv_work_floats(const rn_conv *c, int n, int h, int w);

/* out[n][oh][ow][n_padded] = act(conv(in[n][h][w][cin]) + bias + residual), where
 * residual (NULL = none) has the output's shape and act is ReLU when relu != 0. */
void rn_conv_forward(const rn_exec *ex, const rn_conv *c, const float *in, int n, int h, int w,
                     float *out, const float *residual, int relu);
/* A fully connected layer on float rows: out[r][c->n_padded] = in[r][c->cin] x W + b, the fp32
 * driver's 1x1 or, for an int8 model's fc, rn_qdense_forward with qrows as it needs. */
void rn_fc_forward(const rn_exec *ex, const rn_conv *c, const float *in, int rows, float *out, void *qrows);

#endif
