/* layout.c - the input's change of layout, CHW -> NHWC. Single-threaded it cost ~0.25 ms of a
 * 50 ms forward pass at batch 1 (bench --profile's "between layers" before it became a
 * layer): small, but the one piece of a pass that did not use the second core. */
#include "ops/layout.h"

typedef struct {
    const float *in;
    void *out;
    int c, h, w;
    int u8;      /* quantize to u8 (scale, zero) instead of copying floats */
    float scale;
    int zero;
} layout_job;

/* A row is converted a chunk of pixels at a time, one channel at a time: the arithmetic runs
 * on contiguous floats of one plane with a constant count (vectorised even at -O2), and only
 * the interleaving store steps by c. */
enum { LAYOUT_CHUNK = 64 };

static void quantize_run(const float *src, int n, float scale, float zero, int32_t *t) {
    if (n == LAYOUT_CHUNK)
        for (int i = 0; i < LAYOUT_CHUNK; i++) t[i] = rn_quantize_u8_int(src[i] / scale + zero);
    else
        for (int i = 0; i < n; i++) t[i] = rn_quantize_u8_int(src[i] / scale + zero);
}

/* one task: one row of one image */
static void layout_row(void *ctx, int task, int thread) {
    (void)thread;
    const layout_job *j = ctx;
    const int img = task / j->h, y = task % j->h, c = j->c;
    const size_t plane = (size_t)j->h * j->w;
    const float *src = j->in + (size_t)img * c * plane + (size_t)y * j->w;
    const size_t first = ((size_t)img * plane + (size_t)y * j->w) * c;
    for (int x0 = 0; x0 < j->w; x0 += LAYOUT_CHUNK) {
        const int n = j->w - x0 < LAYOUT_CHUNK ? j->w - x0 : LAYOUT_CHUNK;
        for (int ch = 0; ch < c; ch++) {
            const float *s = src + (size_t)ch * plane + x0;
            if (j->u8) {
                int32_t t[LAYOUT_CHUNK];
                uint8_t *d = (uint8_t *)j->out + first + (size_t)x0 * c + ch;
                quantize_run(s, n, j->scale, (float)j->zero, t);
                for (int i = 0; i < n; i++) d[(size_t)i * c] = (uint8_t)t[i];
            } else {
                float *d = (float *)j->out + first + (size_t)x0 * c + ch;
                for (int i = 0; i < n; i++) d[(size_t)i * c] = s[i];
            }
        }
    }
}

void rn_chw_to_nhwc(const rn_exec *ex, const float *in, int n, int c, int h, int w, float *out) {
    layout_job j = {in, out, c, h, w, 0, 0.0f, 0};
    rn_pool_run(ex->pool, n * h, layout_row, &j);
}

void rn_chw_to_nhwc_u8(const rn_exec *ex, const float *in, int n, int c, int h, int w, float scale, int zero,
                       uint8_t *out) {
    layout_job j = {in, out, c, h, w, 1, scale, zero};
    rn_pool_run(ex->pool, n * h, layout_row, &j);
}
