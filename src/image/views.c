/* views.c - the test-time augmentation views of a photo: other scales, other crops and mirror
 * images, each made exactly as the reference pipeline makes its one view (preprocess.c), only
 * with another shorter side and window. Decoding happens once per photo, however many views.
 */
#include "image/image_internal.h"

#include <stdlib.h>
#include <string.h>

#define CROP RESNET_INPUT_SIZE

/* torchvision's Resize(side) of a w x h photo: the shorter side becomes `side`, the longer
 * int(side * long / short), truncated (as preprocess.c does for 256; see there why the double
 * arithmetic matches Python's). */
static resnet_status resized_size(int w, int h, int side, int *ow, int *oh, resnet_error *err) {
    const int shorter = w <= h ? w : h, longer = w <= h ? h : w;
    const double scaled = (double)side * (double)longer / (double)shorter;
    if (scaled * side > (double)RN_IMAGE_MAX_PIXELS)
        return rn_fail(err, RESNET_E_IMAGE, "image %dx%d is too elongated: resized to %d it would exceed %u pixels",
                       w, h, side, (unsigned)RN_IMAGE_MAX_PIXELS);
    const int other = (int)scaled;
    *ow = w <= h ? side : other;
    *oh = w <= h ? other : side;
    return RESNET_OK;
}

/* torchvision's CenterCrop offset, int(round(d / 2.0)): halves go to the even neighbour. */
static int centre_offset(int d) {
    int q = d / 2;
    if (d % 2 != 0 && q % 2 != 0) q++;
    return q;
}

/* The window's top-left corner in a resized photo of ow x oh (FiveCrop's corners). */
static void window_origin(resnet_crop crop, int ow, int oh, int *x0, int *y0) {
    switch (crop) {
    case RESNET_CROP_TOP_LEFT: *x0 = 0; *y0 = 0; break;
    case RESNET_CROP_TOP_RIGHT: *x0 = ow - CROP; *y0 = 0; break;
    case RESNET_CROP_BOTTOM_LEFT: *x0 = 0; *y0 = oh - CROP; break;
    case RESNET_CROP_BOTTOM_RIGHT: *x0 = ow - CROP; *y0 = oh - CROP; break;
    default: *x0 = centre_offset(ow - CROP); *y0 = centre_offset(oh - CROP); break;
    }
}

/* Mirrors each row of each of the 3 planes of in into out (may be the same buffer). Flipping
 * after normalising equals normalising the flipped crop: normalisation is per pixel. */
static void mirror(const float *in, float *out) {
    for (int r = 0; r < 3 * CROP; r++) {
        const float *src = in + (size_t)r * CROP;
        float *dst = out + (size_t)r * CROP;
        for (int x = 0; x < CROP / 2; x++) {
            const float a = src[x], b = src[CROP - 1 - x];
            dst[x] = b;
            dst[CROP - 1 - x] = a;
        }
    }
}

static resnet_status check_view(const resnet_view *v, int i, resnet_error *err) {
    if (v->resize < CROP || v->resize > RESNET_VIEW_MAX_RESIZE)
        return rn_fail(err, RESNET_E_ARG, "view %d: resize must be %d..%d, got %d", i, CROP,
                       RESNET_VIEW_MAX_RESIZE, v->resize);
    if ((int)v->crop < RESNET_CROP_CENTER || (int)v->crop > RESNET_CROP_BOTTOM_RIGHT)
        return rn_fail(err, RESNET_E_ARG, "view %d: unknown crop %d", i, (int)v->crop);
    return RESNET_OK;
}

/* One view of a decoded photo -> out (3x224x224). */
static resnet_status make_view(const rn_image *img, const resnet_view *v, resnet_norm norm, float *out,
                               resnet_error *err) {
    int ow = 0, oh = 0, x0, y0;
    resnet_status st = resized_size(img->width, img->height, v->resize, &ow, &oh, err);
    if (st != RESNET_OK) return st;
    window_origin(v->crop, ow, oh, &x0, &y0);
    rn_image crop;
    st = rn_image_resize_window(img, ow, oh, x0, y0, CROP, CROP, &crop, err);
    if (st != RESNET_OK) return st;
    rn_image_normalise(crop.rgb, norm, out);
    rn_image_free(&crop);
    if (v->flip) mirror(out, out);
    return RESNET_OK;
}

static resnet_status image_views(const rn_image *img, resnet_norm norm, const resnet_view *views, int n, float *out,
                                  resnet_error *err) {
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0 || !views || !out || n < 1)
        return rn_fail(err, RESNET_E_ARG, "views: no image, no views or no output buffer");
    if (norm != RESNET_NORM_CAFFE && norm != RESNET_NORM_TORCH)
        return rn_fail(err, RESNET_E_ARG, "views: unknown normalisation %d", (int)norm);
    const size_t in_floats = (size_t)3 * CROP * CROP;
    for (int i = 0; i < n; i++) {
        resnet_status st = check_view(&views[i], i, err);
        if (st != RESNET_OK) return st;
    }
    for (int i = 0; i < n; i++) {
        float *dst = out + (size_t)i * in_floats;
        /* A mirror of a window already made is a copy, not another resize. */
        int twin = -1;
        for (int j = 0; j < i && twin < 0; j++)
            if (views[j].resize == views[i].resize && views[j].crop == views[i].crop) twin = j;
        if (twin >= 0) {
            const float *src = out + (size_t)twin * in_floats;
            if (!views[twin].flip == !views[i].flip) memcpy(dst, src, in_floats * sizeof *dst);
            else mirror(src, dst);
            continue;
        }
        resnet_status st = make_view(img, &views[i], norm, dst, err);
        if (st != RESNET_OK) return st;
    }
    return RESNET_OK;
}

/* Puts the photo's name in front of a message from code that does not know it. */
static resnet_status named(resnet_status st, const char *name, resnet_error *err) {
    if (st != RESNET_OK && err) {
        resnet_error copy = *err;
        rn_fail(err, st, "%s: %s", name, copy.message);
    }
    return st;
}

resnet_status resnet_preprocess_views_memory(const void *data, size_t size, const char *name, resnet_norm norm,
                                             const resnet_view *views, int n, float *out, resnet_error *err) {
    return rn_preprocess_views_memory_ex(data, size, name, norm, 0, views, n, out, err);
}

resnet_status rn_preprocess_views_memory_ex(const void *data, size_t size, const char *name, resnet_norm norm,
                                            unsigned flags, const resnet_view *views, int n, float *out,
                                            resnet_error *err) {
    if (!name) name = "<memory>";
    if (!data || !views || !out || n < 1)
        return rn_fail(err, RESNET_E_ARG, "%s: no data, no views or no output buffer", name);
    rn_image img;
    resnet_status st = rn_image_decode_ex(data, size, name, flags, &img, err);
    if (st != RESNET_OK) return st;
    st = named(image_views(&img, norm, views, n, out, err), name, err);
    rn_image_free(&img);
    return st;
}

resnet_status resnet_preprocess_views_file(const char *path, resnet_norm norm, const resnet_view *views, int n,
                                           float *out, resnet_error *err) {
    return rn_preprocess_views_file_ex(path, norm, 0, views, n, out, err);
}

resnet_status rn_preprocess_views_file_ex(const char *path, resnet_norm norm, unsigned flags, const resnet_view *views,
                                          int n, float *out, resnet_error *err) {
    if (!path) return rn_fail(err, RESNET_E_ARG, "views: no path given");
    if (!views || !out || n < 1) return rn_fail(err, RESNET_E_ARG, "%s: no views or no output buffer", path);
    rn_image img;
    resnet_status st = rn_image_load_ex(path, flags, &img, err);
    if (st != RESNET_OK) return st;
    st = named(image_views(&img, norm, views, n, out, err), path, err);
    rn_image_free(&img);
    return st;
}
