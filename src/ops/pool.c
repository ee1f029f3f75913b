/* pool.c - max pooling (split by output row across the pool) and global average pooling. */
#include "ops/pool.h"

#include <float.h>
#include <string.h>

void rn_maxpool_out_size(int h, int w, int size, int stride, int pad, int *oh, int *ow) {
    *oh = (h + 2 * pad - size) / stride + 1;
    *ow = (w + 2 * pad - size) / stride + 1;
}

typedef struct {
    const float *in;
    float *out;
    int h, w, c, size, stride, pad, oh, ow;
    uint8_t *qout; /* not NULL: the output quantized to u8 with scale qscale instead */
    float qscale;
    const uint8_t *in8; /* not NULL: u8 input, c a multiple of CH (then qout, unscaled) */
} maxpool_job;

enum { CH = 16 }; /* channels kept in registers at once */

/* The max of n <= CH channels over rows x cols pixels from p (the window's part inside the
 * image), in a local array the compiler keeps in vector registers (with the output and the
 * input possibly aliasing, it would otherwise store every step). */
static void maxpool_window_f32(const float *p, size_t row, int pixel, int rows, int cols, int n, float m[CH]) {
    for (int k = 0; k < CH; k++) m[k] = -FLT_MAX;
    for (int ky = 0; ky < rows; ky++)
        for (int kx = 0; kx < cols; kx++) {
            const float *q = p + (size_t)ky * row + (size_t)kx * pixel;
            if (n == CH)
                for (int k = 0; k < CH; k++) m[k] = q[k] > m[k] ? q[k] : m[k];
            else
                for (int k = 0; k < n; k++) m[k] = q[k] > m[k] ? q[k] : m[k];
        }
}

static void maxpool_row(void *ctx, int task, int thread) {
    (void)thread;
    const maxpool_job *j = ctx;
    const int b = task / j->oh, oy = task % j->oh;
    const size_t image = (size_t)b * j->h * j->w * j->c;
    const int y0 = oy * j->stride - j->pad, ky0 = y0 < 0 ? -y0 : 0;
    const int ky1 = y0 + j->size > j->h ? j->h - y0 : j->size;
    for (int ox = 0; ox < j->ow; ox++) {
        const size_t at = (((size_t)b * j->oh + oy) * j->ow + ox) * j->c;
        const int x0 = ox * j->stride - j->pad, kx0 = x0 < 0 ? -x0 : 0;
        const int kx1 = x0 + j->size > j->w ? j->w - x0 : j->size;
        /* CH channels at a time */
        for (int c0 = 0; c0 < j->c; c0 += CH) {
            const int n = j->c - c0 < CH ? j->c - c0 : CH;
            if (j->in8) { /* bytes: their max in bytes, nothing to round */
                uint8_t m8[CH] = {0};
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = kx0; kx < kx1; kx++) {
                        const uint8_t *p = j->in8 + image + ((size_t)(y0 + ky) * j->w + x0 + kx) * j->c + c0;
                        for (int k = 0; k < CH; k++) m8[k] = p[k] > m8[k] ? p[k] : m8[k]; /* c % CH == 0 */
                    }
                memcpy(j->qout + at + c0, m8, CH);
                continue;
            }
            float m[CH];
            maxpool_window_f32(j->in + image + ((size_t)(y0 + ky0) * j->w + x0 + kx0) * j->c + c0,
                               (size_t)j->w * j->c, j->c, ky1 - ky0, kx1 - kx0, n, m);
            if (j->qout)
                for (int k = 0; k < n; k++) j->qout[at + c0 + k] = rn_quantize_u8(m[k] / j->qscale);
            else
                memcpy(j->out + at + c0, m, (size_t)n * sizeof(float));
        }
    }
}

void rn_maxpool_forward(const rn_exec *ex, const float *in, int n, int h, int w, int c, int size,
                        int stride, int pad, float *out) {
    maxpool_job j = {in, out, h, w, c, size, stride, pad, 0, 0, NULL, 0, NULL};
    rn_maxpool_out_size(h, w, size, stride, pad, &j.oh, &j.ow);
    rn_pool_run(ex->pool, n * j.oh, maxpool_row, &j);
}

void rn_maxpool_forward_u8(const rn_exec *ex, const float *in, int n, int h, int w, int c, int size, int stride,
                           int pad, float scale, uint8_t *out) {
    maxpool_job j = {in, NULL, h, w, c, size, stride, pad, 0, 0, out, scale, NULL};
    rn_maxpool_out_size(h, w, size, stride, pad, &j.oh, &j.ow);
    rn_pool_run(ex->pool, n * j.oh, maxpool_row, &j);
}

void rn_maxpool_forward_u8u8(const rn_exec *ex, const uint8_t *in, int n, int h, int w, int c, int size,
                             int stride, int pad, uint8_t *out) { /* c % CH == 0 (the stem's 64) */
    maxpool_job j = {NULL, NULL, h, w, c, size, stride, pad, 0, 0, out, 0, in};
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
