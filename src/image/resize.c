/* resize.c - antialiased bilinear resize, bit-exact with PIL's Image.resize(size, BILINEAR)
 * on 8-bit RGB images (Pillow 9.4, Resample.c; written from a description of the algorithm).
 *
 * Each output sample is a weighted sum of the input samples under a triangle filter that
 * is stretched by the downscale factor (so a downscale averages every input pixel it
 * covers, instead of skipping some). The weights of one output sample are computed in
 * double, normalised to sum to 1, then rounded to fixed point with 22 fractional bits.
 * The horizontal pass runs first and rounds its result to 8 bits; the vertical pass reads
 * that intermediate. A pass whose size does not change is skipped. Integer sums are exact,
 * so only the double arithmetic of the weights has to follow PIL's operation order, which
 * taps_one() does.
 */
#include "image/image_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PRECISION_BITS 22 /* 32 - 8 - 2: room for 8-bit samples, sums above 1, and sign */
#define HALF (1 << (PRECISION_BITS - 1)) /* added before the final shift: round to nearest */

/* The weights of one pass, for the output samples of a window. */
typedef struct rn_taps {
    int n;           /* output samples described */
    int ksize;       /* weights stored per output sample (the widest filter footprint) */
    int *first;      /* per output sample: the first input sample it reads */
    int *count;      /* per output sample: how many inputs it reads (<= ksize) */
    int32_t *weight; /* per output sample: ksize fixed-point weights, unused ones zero */
} rn_taps;

static void taps_free(rn_taps *t) {
    free(t->first);
    free(t->count);
    free(t->weight);
    memset(t, 0, sizeof *t);
}

/* The bilinear ("triangle") filter; its support is 1. */
static double triangle(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* PIL rounds weights half away from zero (bilinear weights are never negative, but the
 * rule is kept whole). */
static int32_t to_fixed(double w) {
    return (int32_t)(w < 0.0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
}

/* Weights of output sample `xx` of a pass from in_size to out_size samples. `scratch`
 * holds ksize doubles. The expressions mirror PIL's so that the doubles round alike. */
static void taps_one(rn_taps *t, int j, int xx, int in_size, double scale, double *scratch) {
    const double filterscale = scale < 1.0 ? 1.0 : scale; /* stretch only when shrinking */
    const double support = 1.0 * filterscale;
    const double center = (xx + 0.5) * scale; /* the output sample's centre, in input units */
    const double ss = 1.0 / filterscale;
    int xmin = (int)(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = (int)(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    int cnt = xmax - xmin;
    if (cnt > t->ksize) cnt = t->ksize; /* cannot happen; keeps the writes in bounds */
    if (cnt < 0) cnt = 0;
    double sum = 0.0;
    for (int x = 0; x < cnt; x++) {
        scratch[x] = triangle(((double)(x + xmin) - center + 0.5) * ss);
        sum += scratch[x];
    }
    int32_t *k = t->weight + (size_t)j * (size_t)t->ksize;
    for (int x = 0; x < cnt; x++) k[x] = to_fixed(sum != 0.0 ? scratch[x] / sum : scratch[x]);
    for (int x = cnt; x < t->ksize; x++) k[x] = 0;
    t->first[j] = xmin;
    t->count[j] = cnt;
}

/* Weights for output samples first .. first+n-1 of a pass from in_size to out_size. */
static resnet_status taps_build(rn_taps *t, int in_size, int out_size, int first, int n, resnet_error *err) {
    memset(t, 0, sizeof *t);
    const double scale = (double)in_size / (double)out_size;
    const double support = scale < 1.0 ? 1.0 : scale;
    /* in_size is at most RN_IMAGE_MAX_PIXELS (2^27), so this fits in an int. */
    t->ksize = (int)ceil(support) * 2 + 1;
    t->n = n;
    size_t wbytes;
    double *scratch = NULL;
    if (rn_mul3_size((size_t)n, (size_t)t->ksize, sizeof *t->weight, &wbytes)) {
        t->first = malloc((size_t)n * sizeof *t->first);
        t->count = malloc((size_t)n * sizeof *t->count);
        t->weight = malloc(wbytes);
        scratch = malloc((size_t)t->ksize * sizeof *scratch);
    }
    if (!t->first || !t->count || !t->weight || !scratch) {
        free(scratch);
        taps_free(t);
        return rn_fail(err, RESNET_E_NOMEM, "resize %d -> %d: out of memory for the filter weights",
                       in_size, out_size);
    }
    for (int j = 0; j < n; j++) taps_one(t, j, first + j, in_size, scale, scratch);
    free(scratch);
    return RESNET_OK;
}

/* PIL's clip8: the fixed-point sum back to a byte, clamping over- and undershoot. */
static inline uint8_t clip8(int32_t v) {
    if (v >= (int32_t)(1u << (PRECISION_BITS + 8))) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

/* One row of RGB: in (the full input row) -> out (t->n pixels). */
static void horizontal_row(const uint8_t *in, uint8_t *out, const rn_taps *t) {
    for (int j = 0; j < t->n; j++, out += 3) {
        const int32_t *k = t->weight + (size_t)j * (size_t)t->ksize;
        const uint8_t *p = in + (size_t)t->first[j] * 3;
        int32_t r = HALF, g = HALF, b = HALF;
        for (int i = 0; i < t->count[j]; i++, p += 3) {
            r += p[0] * k[i];
            g += p[1] * k[i];
            b += p[2] * k[i];
        }
        out[0] = clip8(r);
        out[1] = clip8(g);
        out[2] = clip8(b);
    }
}

/* Input rows to the vertical pass: row r is at base + (r - origin) * stride. */
typedef struct rn_rows {
    const uint8_t *base;
    size_t stride;
    int origin;
} rn_rows;

/* All output rows of the vertical pass, `bytes` bytes wide; acc holds `bytes` sums. Going
 * row by row of input keeps the inner loop a straight, vectorisable multiply-add. */
static void vertical_pass(const rn_rows *in, const rn_taps *t, uint8_t *out, size_t bytes, int32_t *acc) {
    for (int j = 0; j < t->n; j++, out += bytes) {
        const int32_t *k = t->weight + (size_t)j * (size_t)t->ksize;
        for (size_t x = 0; x < bytes; x++) acc[x] = HALF;
        for (int i = 0; i < t->count[j]; i++) {
            const uint8_t *row = in->base + (size_t)(t->first[j] + i - in->origin) * in->stride;
            const int32_t kv = k[i];
            for (size_t x = 0; x < bytes; x++) acc[x] += row[x] * kv;
        }
        for (size_t x = 0; x < bytes; x++) out[x] = clip8(acc[x]);
    }
}

/* The input rows [*r0, *r1) that the vertical taps read. */
static void rows_needed(const rn_taps *t, int *r0, int *r1) {
    *r0 = t->first[0];
    *r1 = t->first[0] + t->count[0];
    for (int j = 0; j < t->n; j++) {
        if (t->first[j] < *r0) *r0 = t->first[j];
        if (t->first[j] + t->count[j] > *r1) *r1 = t->first[j] + t->count[j];
    }
}

static resnet_status check_args(const rn_image *src, int out_w, int out_h, int x0, int y0, int w, int h,
                                const rn_image *dst, resnet_error *err) {
    if (!src || !src->rgb || !dst || src->width <= 0 || src->height <= 0)
        return rn_fail(err, RESNET_E_ARG, "resize: no source image");
    if ((unsigned long long)src->width * (unsigned long long)src->height > RN_IMAGE_MAX_PIXELS)
        return rn_fail(err, RESNET_E_ARG, "resize: source %dx%d is over the pixel limit", src->width,
                       src->height);
    if (out_w <= 0 || out_h <= 0)
        return rn_fail(err, RESNET_E_ARG, "resize: bad output size %dx%d", out_w, out_h);
    if ((unsigned long long)out_w * (unsigned long long)out_h > RN_IMAGE_MAX_PIXELS)
        return rn_fail(err, RESNET_E_IMAGE, "resize: output %dx%d is more than the limit of %u pixels",
                       out_w, out_h, (unsigned)RN_IMAGE_MAX_PIXELS);
    if (w <= 0 || h <= 0 || x0 < 0 || y0 < 0 || x0 > out_w - w || y0 > out_h - h)
        return rn_fail(err, RESNET_E_ARG, "resize: window %dx%d at (%d, %d) is outside %dx%d", w, h, x0, y0,
                       out_w, out_h);
    return RESNET_OK;
}

/* Both passes: horizontal into an 8-bit intermediate of the rows the vertical pass
 * reads, then vertical into dst. */
static resnet_status resize_both(const rn_image *src, const rn_taps *th, const rn_taps *tv, rn_image *dst,
                                 resnet_error *err) {
    int r0, r1;
    rows_needed(tv, &r0, &r1);
    const size_t bytes = (size_t)th->n * 3, src_stride = (size_t)src->width * 3;
    size_t tmp_bytes;
    uint8_t *tmp = NULL;
    int32_t *acc = malloc(bytes * sizeof *acc);
    if (rn_mul_size(bytes, (size_t)(r1 - r0), &tmp_bytes)) tmp = malloc(tmp_bytes ? tmp_bytes : 1);
    if (!tmp || !acc) {
        free(tmp);
        free(acc);
        return rn_fail(err, RESNET_E_NOMEM, "resize: out of memory for the intermediate image");
    }
    for (int r = r0; r < r1; r++)
        horizontal_row(src->rgb + (size_t)r * src_stride, tmp + (size_t)(r - r0) * bytes, th);
    rn_rows in = {tmp, bytes, r0};
    vertical_pass(&in, tv, dst->rgb, bytes, acc);
    free(tmp);
    free(acc);
    return RESNET_OK;
}

/* Only the vertical pass (the width does not change): read the source in place. */
static resnet_status resize_vertical(const rn_image *src, int x0, const rn_taps *tv, rn_image *dst,
                                     resnet_error *err) {
    const size_t bytes = (size_t)dst->width * 3;
    int32_t *acc = malloc(bytes * sizeof *acc);
    if (!acc) return rn_fail(err, RESNET_E_NOMEM, "resize: out of memory");
    rn_rows in = {src->rgb + (size_t)x0 * 3, (size_t)src->width * 3, 0};
    vertical_pass(&in, tv, dst->rgb, bytes, acc);
    free(acc);
    return RESNET_OK;
}

resnet_status rn_image_resize_window(const rn_image *src, int out_w, int out_h, int x0, int y0, int w, int h,
                                     rn_image *dst, resnet_error *err) {
    if (dst) dst->rgb = NULL, dst->width = dst->height = 0; /* safe to free on any failure */
    resnet_status st = check_args(src, out_w, out_h, x0, y0, w, h, dst, err);
    if (st != RESNET_OK) return st;
    const int need_h = out_w != src->width, need_v = out_h != src->height;
    const size_t src_stride = (size_t)src->width * 3;
    rn_taps th = {0}, tv = {0};
    if (need_h) st = taps_build(&th, src->width, out_w, x0, w, err);
    if (st == RESNET_OK && need_v) st = taps_build(&tv, src->height, out_h, y0, h, err);
    if (st == RESNET_OK) st = rn_image_alloc(dst, w, h, "resize", err);
    if (st == RESNET_OK) {
        if (need_h && need_v) {
            st = resize_both(src, &th, &tv, dst, err);
        } else if (need_v) {
            st = resize_vertical(src, x0, &tv, dst, err);
        } else {
            /* Height unchanged: the horizontal pass (or a plain copy) of rows y0.. */
            for (int y = 0; y < h; y++) {
                const uint8_t *in = src->rgb + (size_t)(y0 + y) * src_stride;
                uint8_t *out = dst->rgb + (size_t)y * w * 3;
                if (need_h) horizontal_row(in, out, &th);
                else memcpy(out, in + (size_t)x0 * 3, (size_t)w * 3);
            }
        }
        if (st != RESNET_OK) rn_image_free(dst);
    }
    taps_free(&th);
    taps_free(&tv);
    return st;
}

resnet_status rn_image_resize(const rn_image *src, int out_w, int out_h, rn_image *dst, resnet_error *err) {
    return rn_image_resize_window(src, out_w, out_h, 0, 0, out_w, out_h, dst, err);
}
