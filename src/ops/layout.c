/* layout.c - the input's change of layout, CHW -> NHWC. Single-threaded it cost ~0.25 ms of a
 * 50 ms forward pass at batch 1 (bench --profile's "between layers" before it became a
 * layer): small, but the one piece of a pass that did not use the second core. */
#include "ops/layout.h"

typedef struct {
    const float *in;
    void *out;
    int c, h, w;
    rn_quantize_planes_fn quantize; /* to u8 (scale, zero); NULL: copy the floats */
    float scale;
    int zero;
} layout_job;

enum { LAYOUT_CHUNK = 64 };

/* one task: one row of one image */
static void layout_row(void *ctx, int task, int thread) {
    (void)thread;
    const layout_job *j = ctx;
    const int img = task / j->h, y = task % j->h, c = j->c;
    const size_t plane = (size_t)j->h * j->w;
    const float *src = j->in + (size_t)img * c * plane + (size_t)y * j->w;
    const size_t first = ((size_t)img * plane + (size_t)y * j->w) * c;
    if (j->quantize) {
        j->quantize(src, plane, c, j->w, j->scale, (float)j->zero, (uint8_t *)j->out + first);
        return;
    }
    /* a chunk of pixels at a time, one plane at a time: contiguous reads (a pixel at a time,
     * reading the planes in turn, took 1.7x as long on a Zen 5) */
    for (int x0 = 0; x0 < j->w; x0 += LAYOUT_CHUNK) {
        const int m = j->w - x0 < LAYOUT_CHUNK ? j->w - x0 : LAYOUT_CHUNK;
        for (int ch = 0; ch < c; ch++) {
            const float *s = src + (size_t)ch * plane + x0;
            float *d = (float *)j->out + first + (size_t)x0 * c + ch;
            for (int i = 0; i < m; i++) d[(size_t)i * c] = s[i];
        }
    }
}

void rn_chw_to_nhwc(const rn_exec *ex, const float *in, int n, int c, int h, int w, float *out) {
    layout_job j = {in, out, c, h, w, NULL, 0.0f, 0};
    rn_pool_run(ex->pool, n * h, layout_row, &j);
}

void rn_chw_to_nhwc_u8(const rn_exec *ex, rn_quantize_planes_fn quantize, const float *in, int n, int c, int h,
                       int w, float scale, int zero, uint8_t *out) {
    layout_job j = {in, out, c, h, w, quantize ? quantize : rn_quantize_planes__c, scale, zero};
    rn_pool_run(ex->pool, n * h, layout_row, &j);
}
