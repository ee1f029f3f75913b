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
    uint8_t *qout; /* not NULL: the output quantized to u8 with scale qscale instead */
    float qscale;
    const uint8_t *in8; /* not NULL: u8 input (then qout, unscaled) */
} maxpool_job;

/* A window is 3 rows x 3 columns of pixels whatever its size (at most 3): where it hangs over
 * the padding, or is smaller, a missing row or column repeats the first one inside, and a
 * repeated pixel cannot change a max. Each channel's maximum is then one pass over 9 loads
 * with no running maximum kept in memory between taps, and the channel loop vectorises.
 *
 * Channels 0..n of the window at columns x0, x1, x2 (element offsets, the channel chunk's
 * included) of rows r, folded as v = x > v ? x : v in window order (a NaN never wins). The
 * nine taps are locals: loaded through an array inside the loop, they keep gcc from
 * vectorising it. The callers pass CH (CH8 bytes) channels at a time, then the rest: a
 * constant count, which gcc -O2 vectorises. */
enum { CH = 16, CH8 = 64 }; /* floats, bytes */
#define TAPS(T)                                                                              \
    const T *t0 = r[0] + x0, *t1 = r[0] + x1, *t2 = r[0] + x2, *t3 = r[1] + x0, *t4 = r[1] + x1, \
            *t5 = r[1] + x2, *t6 = r[2] + x0, *t7 = r[2] + x1, *t8 = r[2] + x2;
#define FOLD(v, k)                                                                           \
    v = t0[k] > v ? t0[k] : v; v = t1[k] > v ? t1[k] : v; v = t2[k] > v ? t2[k] : v;             \
    v = t3[k] > v ? t3[k] : v; v = t4[k] > v ? t4[k] : v; v = t5[k] > v ? t5[k] : v;             \
    v = t6[k] > v ? t6[k] : v; v = t7[k] > v ? t7[k] : v; v = t8[k] > v ? t8[k] : v;

static inline void max_f32(const float *const r[3], size_t x0, size_t x1, size_t x2, int n, float *restrict out) {
    TAPS(float)
    for (int k = 0; k < n; k++) {
        float v = -FLT_MAX;
        FOLD(v, k)
        out[k] = v;
    }
}

static inline void max_f32_quantized(const float *const r[3], size_t x0, size_t x1, size_t x2, int n, float scale,
                                     uint8_t *restrict out) {
    TAPS(float)
    for (int k = 0; k < n; k++) {
        float v = -FLT_MAX;
        FOLD(v, k)
        out[k] = (uint8_t)rn_quantize_u8_int(v / scale);
    }
}

static inline void max_u8(const uint8_t *const r[3], size_t x0, size_t x1, size_t x2, int n,
                          uint8_t *restrict out) {
    TAPS(uint8_t)
    for (int k = 0; k < n; k++) {
        uint8_t v = 0;
        FOLD(v, k)
        out[k] = v;
    }
}

/* The window's 3 rows (or columns) from its first one at `first` in a map of `len`: the
 * ones outside, or past `size`, repeat the first one inside. */
static void window_lines(int first, int size, int len, int line[3]) {
    const int lo = first < 0 ? 0 : first;
    for (int i = 0; i < 3; i++) {
        const int at = first + i;
        line[i] = i < size && at >= 0 && at < len ? at : lo;
    }
}

static void maxpool_row(void *ctx, int task, int thread) {
    (void)thread;
    const maxpool_job *j = ctx;
    const int b = task / j->oh, oy = task % j->oh, c = j->c;
    const size_t row_len = (size_t)j->w * c, image = (size_t)b * j->h * row_len;
    int ys[3];
    window_lines(oy * j->stride - j->pad, j->size, j->h, ys);
    const float *rf[3] = {NULL, NULL, NULL};
    const uint8_t *r8[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        if (j->in8) r8[i] = j->in8 + image + (size_t)ys[i] * row_len;
        else rf[i] = j->in + image + (size_t)ys[i] * row_len;
    }
    const int chunk = j->in8 ? CH8 : CH, whole = c / chunk * chunk; /* then the rest */
    for (int ox = 0; ox < j->ow; ox++) {
        const size_t at = (((size_t)b * j->oh + oy) * j->ow + ox) * c;
        int xs[3];
        window_lines(ox * j->stride - j->pad, j->size, j->w, xs);
        const size_t x0 = (size_t)xs[0] * c, x1 = (size_t)xs[1] * c, x2 = (size_t)xs[2] * c;
        if (j->in8) {
            for (int c0 = 0; c0 < whole; c0 += CH8) max_u8(r8, x0 + c0, x1 + c0, x2 + c0, CH8, j->qout + at + c0);
            max_u8(r8, x0 + whole, x1 + whole, x2 + whole, c - whole, j->qout + at + whole);
        } else if (j->qout) {
            for (int c0 = 0; c0 < whole; c0 += CH)
                max_f32_quantized(rf, x0 + c0, x1 + c0, x2 + c0, CH, j->qscale, j->qout + at + c0);
            max_f32_quantized(rf, x0 + whole, x1 + whole, x2 + whole, c - whole, j->qscale, j->qout + at + whole);
        } else {
            for (int c0 = 0; c0 < whole; c0 += CH) max_f32(rf, x0 + c0, x1 + c0, x2 + c0, CH, j->out + at + c0);
            max_f32(rf, x0 + whole, x1 + whole, x2 + whole, c - whole, j->out + at + whole);
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
                             int stride, int pad, uint8_t *out) {
    maxpool_job j = {NULL, NULL, h, w, c, size, stride, pad, 0, 0, out, 0, in};
    rn_maxpool_out_size(h, w, size, stride, pad, &j.oh, &j.ow);
    rn_pool_run(ex->pool, n * j.oh, maxpool_row, &j);
}

/* Each channel's sum runs over the pixels in order, as a plain loop would. The channels go
 * CH at a time in a loop of constant length, which gcc -O2 vectorises, as in the max pool
 * (it left the loop over all c channels scalar: 0.24 ms at batch 8 on Zen 4 against 0.05 for
 * ONNX Runtime's). */
void rn_avgpool_forward(const float *restrict in, int n, int h, int w, int c, float *restrict out) {
    const int hw = h * w, whole = c / CH * CH; /* then the rest */
    for (int b = 0; b < n; b++) {
        float *o = out + (size_t)b * c;
        for (int ch = 0; ch < c; ch++) o[ch] = 0.0f;
        for (int p = 0; p < hw; p++) {
            const float *x = in + ((size_t)b * hw + p) * c;
            for (int c0 = 0; c0 < whole; c0 += CH)
                for (int i = 0; i < CH; i++) o[c0 + i] += x[c0 + i];
            for (int ch = whole; ch < c; ch++) o[ch] += x[ch];
        }
        for (int ch = 0; ch < c; ch++) o[ch] /= (float)hw;
    }
}
