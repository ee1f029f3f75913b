/* preprocess.c - the reference pipeline of ../shared/reference/make_reference.py:
 * decode to RGB, shorter side to 256 (PIL bilinear), centre crop 224, normalise to CHW.
 */
#include "image/image_internal.h"

#include <stdlib.h>


/* int(round(d / 2.0)) in Python 3: halves round to the even neighbour (d >= 0 here). */
static int half_round_even(int d) {
    int q = d / 2;
    if (d % 2 != 0 && q % 2 != 0) q++; /* q + 0.5 goes up only when q is odd */
    return q;
}

/* The resized size: (side, int(side * long / short)), long side truncated. side * long is
 * exact in a double and IEEE division rounds correctly, exactly as Python's int / int does,
 * so the truncation matches too. */
resnet_status rn_crop_geometry(int w, int h, int side, resnet_crop crop, int crop_size, rn_crop_geom *g,
                               resnet_error *err) {
    const int RN_CROP = crop_size;
    const int shorter = w <= h ? w : h, longer = w <= h ? h : w;
    const double scaled = (double)side * (double)longer / (double)shorter;
    if (scaled * side > (double)RN_IMAGE_MAX_PIXELS)
        return rn_fail(err, RESNET_E_IMAGE, "image %dx%d is too elongated: resized to %d it would exceed %u pixels",
                       w, h, side, (unsigned)RN_IMAGE_MAX_PIXELS);
    const int other = (int)scaled;
    g->ow = w <= h ? side : other;
    g->oh = w <= h ? other : side;
    /* The shorter side is at least 224 and the other at least that, so the window fits. */
    switch (crop) {
    case RESNET_CROP_TOP_LEFT: g->x0 = 0; g->y0 = 0; break;
    case RESNET_CROP_TOP_RIGHT: g->x0 = g->ow - RN_CROP; g->y0 = 0; break;
    case RESNET_CROP_BOTTOM_LEFT: g->x0 = 0; g->y0 = g->oh - RN_CROP; break;
    case RESNET_CROP_BOTTOM_RIGHT: g->x0 = g->ow - RN_CROP; g->y0 = g->oh - RN_CROP; break;
    default: g->x0 = half_round_even(g->ow - RN_CROP); g->y0 = half_round_even(g->oh - RN_CROP); break;
    }
    return RESNET_OK;
}

/* One byte v of colour channel `plane` (in the output's plane order: BGR for caffe, RGB for
 * torch) normalised. Written as torch evaluates it in float32 (each operation rounded to
 * float; x / 255 is a true division in torch's CPU kernel), so the results are bit-identical
 * with make_reference.py. */
static inline float norm_value(resnet_norm norm, int plane, uint8_t v) {
    static const float caffe_mean[3] = {103.939f, 116.779f, 123.68f}; /* B, G, R */
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    return norm == RESNET_NORM_CAFFE ? (float)v - caffe_mean[plane] : ((float)v / 255.0f - mean[plane]) / std[plane];
}

/* HWC bytes -> CHW floats. */
void rn_image_normalise(const uint8_t *rgb, resnet_norm norm, int crop_size, float *out) {
    const size_t plane = (size_t)crop_size * crop_size;
    float *p0 = out, *p1 = out + plane, *p2 = out + 2 * plane;
    if (norm == RESNET_NORM_CAFFE) /* BGR planes */
        for (size_t i = 0; i < plane; i++, rgb += 3) {
            p0[i] = norm_value(norm, 0, rgb[2]);
            p1[i] = norm_value(norm, 1, rgb[1]);
            p2[i] = norm_value(norm, 2, rgb[0]);
        }
    else
        for (size_t i = 0; i < plane; i++, rgb += 3) {
            p0[i] = norm_value(norm, 0, rgb[0]);
            p1[i] = norm_value(norm, 1, rgb[1]);
            p2[i] = norm_value(norm, 2, rgb[2]);
        }
}

void rn_image_input_range(resnet_norm norm, float *lo, float *hi) {
    *lo = *hi = norm_value(norm, 0, 0);
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v += 255) {
            float x = norm_value(norm, c, (uint8_t)v);
            *lo = x < *lo ? x : *lo;
            *hi = x > *hi ? x : *hi;
        }
}

resnet_status rn_image_to_input(const rn_image *img, resnet_norm norm, float *out, resnet_error *err) {
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0 || !out)
        return rn_fail(err, RESNET_E_ARG, "preprocess: no image or no output buffer");
    if (norm != RESNET_NORM_CAFFE && norm != RESNET_NORM_TORCH)
        return rn_fail(err, RESNET_E_ARG, "preprocess: unknown normalisation %d", (int)norm);
    return rn_image_view(img, RN_SHORT_SIDE, RESNET_CROP_CENTER, norm, RESNET_INPUT_SIZE, out, err);
}

resnet_status rn_image_view(const rn_image *img, int side, resnet_crop where, resnet_norm norm, int crop_size,
                            float *out, resnet_error *err) {
    rn_crop_geom g;
    resnet_status st = rn_crop_geometry(img->width, img->height, side, where, crop_size, &g, err);
    if (st != RESNET_OK) return st;
    rn_image crop;
    st = rn_image_resize_window(img, g.ow, g.oh, g.x0, g.y0, crop_size, crop_size, &crop, err);
    if (st != RESNET_OK) return st;
    rn_image_normalise(crop.rgb, norm, crop_size, out);
    rn_image_free(&crop);
    return RESNET_OK;
}

resnet_status rn_with_name(resnet_status st, const char *name, resnet_error *err) {
    if (st != RESNET_OK && err) {
        resnet_error copy = *err;
        rn_fail(err, st, "%s: %s", name, copy.message);
    }
    return st;
}

resnet_status resnet_preprocess_memory(const void *data, size_t size, const char *name, resnet_norm norm,
                                       float *out, resnet_error *err) {
    if (!name) name = "<memory>";
    if (!out) return rn_fail(err, RESNET_E_ARG, "%s: no output buffer", name);
    rn_image img;
    resnet_status st = rn_image_decode(data, size, name, &img, err);
    if (st != RESNET_OK) return st;
    st = rn_with_name(rn_image_to_input(&img, norm, out, err), name, err);
    rn_image_free(&img);
    return st;
}

resnet_status resnet_preprocess_file(const char *path, resnet_norm norm, float *out, resnet_error *err) {
    return rn_preprocess_file_ex(path, norm, 0, out, err);
}

resnet_status rn_preprocess_file_ex(const char *path, resnet_norm norm, unsigned flags, float *out,
                                    resnet_error *err) {
    if (!path) return rn_fail(err, RESNET_E_ARG, "preprocess: no path given");
    if (!out) return rn_fail(err, RESNET_E_ARG, "%s: no output buffer", path);
    rn_image img;
    resnet_status st = rn_image_load_ex(path, flags, &img, err);
    if (st != RESNET_OK) return st;
    st = rn_with_name(rn_image_to_input(&img, norm, out, err), path, err);
    rn_image_free(&img);
    return st;
}
