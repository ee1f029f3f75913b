/* pool.c - max pooling (split by output row across the pool) and global average pooling. */
#include "ops/pool.h"

#include <float.h>

void rn_maxpool_out_size(int h, int w, int size, int stride, int pad, int *oh, int *ow) {
    *oh = (h + 2 * pad - size) / stride + 1;
    *ow = (w + 2 * pad - size) / stride + 1;
}

typedef struct {
    const float *in;
    float *out;
    int h, w, c, size, stride, pad, oh, ow;
} maxpool_job;

static void maxpool_row(void *ctx, int task, int thread) {
    (void)thread;
    const maxpool_job *j = ctx;
    const int b = task / j->oh, oy = task % j->oh;
    const float *img = j->in + (size_t)b * j->h * j->w * j->c;
    for (int ox = 0; ox < j->ow; ox++) {
        float *o = j->out + (((size_t)b * j->oh + oy) * j->ow + ox) * j->c;
        for (int ch = 0; ch < j->c; ch++) o[ch] = -FLT_MAX;
        for (int ky = 0; ky < j->size; ky++) {
            int iy = oy * j->stride - j->pad + ky;
            if (iy < 0 || iy >= j->h) continue;
            for (int kx = 0; kx < j->size; kx++) {
                int ix = ox * j->stride - j->pad + kx;
                if (ix < 0 || ix >= j->w) continue;
                const float *p = img + ((size_t)iy * j->w + ix) * j->c;
                for (int ch = 0; ch < j->c; ch++) o[ch] = p[ch] > o[ch] ? p[ch] : o[ch];
            }
        }
    }
}

void rn_maxpool_forward(const rn_exec *ex, const float *in, int n, int h, int w, int c, int size,
                        int stride, int pad, float *out) {
    maxpool_job j = {in, out, h, w, c, size, stride, pad, 0, 0};
    rn_maxpool_out_size(h, w, size, stride, pad, &j.oh, &j.ow);
    rn_pool_run(ex->pool, n * j.oh, maxpool_row, &j);
}

void rn_avgpool_forward(const float *in, int n, int h, int w, int c, float *out) {
    const int hw = h * w;
    for (int b = 0; b < n; b++) {
        float *o = out + (size_t)b * c;
        for (int ch = 0; ch < c; ch++) o[ch] = 0.0f;
        for (int p = 0; p < hw; p++) {
            const float *x = in + ((size_t)b * hw + p) * c;
            for (int ch = 0; ch < c; ch++) o[ch] += x[ch];
        }
        for (int ch = 0; ch < c; ch++) o[ch] /= (float)hw;
    }
}
