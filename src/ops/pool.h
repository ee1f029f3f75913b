/* pool.h - max and global average pooling on NHWC tensors (internal). */
#ifndef RN_POOL_H
#define RN_POOL_H

#include <stdint.h>
#include "ops/exec.h"

/* size x size window (size <= 3: ResNet's is 3x3), stride, padding (padded cells never win),
 * every window overlapping the image: out[n][oh][ow][c]. */
void rn_maxpool_forward(const rn_exec *ex, const float *in, int n, int h, int w, int c, int size,
                        int stride, int pad, float *out);
/* The same, the result quantized to u8 on the way out: rint(max / scale) clamped to 0..255
 * (the same as quantizing first: both are monotonic). The fp32 stem -> int8 blocks boundary. */
void rn_maxpool_forward_u8(const rn_exec *ex, const float *in, int n, int h, int w, int c, int size, int stride,
                           int pad, float scale, uint8_t *out);
/* u8 in and out (the int8 stem's output, already in the blocks' scale). */
void rn_maxpool_forward_u8u8(const rn_exec *ex, const uint8_t *in, int n, int h, int w, int c, int size,
                             int stride, int pad, uint8_t *out);
void rn_maxpool_out_size(int h, int w, int size, int stride, int pad, int *oh, int *ow);

/* out[n][c] = mean over h*w of in[n][h][w][c]. */
void rn_avgpool_forward(const float *in, int n, int h, int w, int c, float *out);

#endif
