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

/* one task: one row of one image */
static void layout_row(void *ctx, int task, int thread) {
    (void)thread;
    const layout_job *j = ctx;
    const int img = task / j->h, y = task % j->h;
    const size_t plane = (size_t)j->h * j->w;
    const float *src = j->in + (size_t)img * j->c * plane + (size_t)y * j->w;
    const size_t first = ((size_t)img * plane + (size_t)y * j->w) * j->c;
    if (j->u8) {
        uint8_t *dst = (uint8_t *)j->out + first;
        for (int x = 0; x < j->w; x++)
            for (int ch = 0; ch < j->c; ch++)
                dst[(size_t)x * j->c + ch] = rn_quantize_u8(src[(size_t)ch * plane + x] / j->scale + (float)j->zero);
    } else {
        float *dst = (float *)j->out + first;
        for (int x = 0; x < j->w; x++)
            for (int ch = 0; ch < j->c; ch++) dst[(size_t)x * j->c + ch] = src[(size_t)ch * plane + x];
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
