/* conv.h - 2-D convolution (and the fc layer, as a 1x1 convolution) on NHWC tensors,
 * as a GEMM: C[M = n*oh*ow, N = cout] = A[M, K = kh*kw*cin] * B[K, N] + bias.
 * The only place that does packing, cache blocking and the thread split (internal). */
#ifndef RN_CONV_H
#define RN_CONV_H

#include <stddef.h>
#include "ops/exec.h"

typedef struct rn_conv {
    int cin, cout, kh, kw, stride, pad;
    int k;        /* GEMM depth: kh*kw*cin, ordered (ky, kx, ci) like an NHWC patch */
    int n_padded; /* cout rounded up to the kernel's NR: the row stride of the output */
    int winograd; /* 3x3 stride 1 by F(4x4, 3x3): w holds 36 transformed sets of panels */
    int im2col;   /* so few input channels that patches are gathered into a block first */
    float *w;     /* n_padded/NR panels, each k x NR floats */
    float *bias;  /* n_padded floats (zeros past cout) */
} rn_conv;

/* Packs weights w_oihw[cout][cin][kh][kw] and bias[cout] (NULL = zeros) for kc, choosing
 * the algorithm: a 3x3 stride-1 convolution of at most RN_WINOGRAD_MAX_CHANNELS channels
 * in and out runs as Winograd F(4x4, 3x3) unless flags has RN_CONV_DIRECT. (Its weights
 * take 4x the memory, and the wide layers at batch 1 are bound by reading weights, so
 * there it would be slower and larger.) Returns 0 on success, -1 when out of memory. */
enum { RN_CONV_DIRECT = 1, RN_CONV_IM2COL_BELOW = 16 };
#define RN_WINOGRAD_MAX_CHANNELS 128
int rn_conv_init(rn_conv *c, const rn_kernel_config *kc, int cin, int cout, int kh, int kw,
                 int stride, int pad, const float *w_oihw, const float *bias, unsigned flags);

/* Winograd internals (winograd.c), used by conv.c. */
int rn_winograd_pack(rn_conv *c, const rn_kernel_config *kc, const float *w_oihw);
size_t rn_winograd_scratch_floats(const rn_kernel_config *kc, int max_cin);
void rn_winograd_forward(const rn_exec *ex, const rn_conv *c, const float *in, int n, int h, int w, float *out,
                         const float *residual, int relu);
void rn_conv_free(rn_conv *c);
void rn_conv_out_size(const rn_conv *c, int h, int w, int *oh, int *ow);
/* Floats of scratch each worker needs for any convolution. */
size_t rn_conv_scratch_floats(const rn_kernel_config *kc);

/* out[n][oh][ow][n_padded] = act(conv(in[n][h][w][cin]) + bias + residual), where
 * residual (NULL = none) has the output's shape and act is ReLU when relu != 0. */
void rn_conv_forward(const rn_exec *ex, const rn_conv *c, const float *in, int n, int h, int w,
                     float *out, const float *residual, int relu);

#endif
