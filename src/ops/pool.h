/* pool.h - max and global average pooling on NHWC tensors (internal). */
#ifndef RN_POOL_H
#define RN_POOL_H

#include "ops/exec.h"

/* size x size window, stride, padding (padded cells never win): out[n][oh][ow][c]. */
void rn_maxpool_forward(const rn_exec *ex, const float *in, int n, int h, int w, int c, int size,
                        int stride, int pad, float *out);
void rn_maxpool_out_size(int h, int w, int size, int stride, int pad, int *oh, int *ow);

/* out[n][c] = mean over h*w of in[n][h][w][c]. */
void rn_avgpool_forward(const float *in, int n, int h, int w, int c, float *out);

#endif
