/* views.c - the test-time augmentation views of a photo: other scales, other crops and mirror
 * images, each made exactly as the reference pipeline makes its one view (preprocess.c), only
 * with another shorter side and window. Decoding happens once per photo, however many views.
 */
#include "image/image_internal.h"

#include <stdlib.h>
#include <string.h>


/* Mirrors each row of each of the 3 planes of in into out (may be the same buffer). Flipping
 * after normalising equals normalising the flipped crop: normalisation is per pixel. */
static void mirror(const float *in, int CROP, float *out) {
    for (int r = 0; r < 3 * CROP; r++) {
        const float *src = in + (size_t)r * CROP;
        float *dst = out + (size_t)r * CROP;
        for (int x = 0; x < CROP / 2; x++) {
            const float a = src[x], b = src[CROP - 1 - x];
            dst[x] = b;
            dst[CROP - 1 - x] = a;
        }
        /* an odd crop (--size 33) has a middle column that stays in place: into another
         * buffer it must still be copied, or that column is whatever the buffer held */
        if (CROP % 2) dst[CROP / 2] = src[CROP / 2];
    }
}

static resnet_status check_view(const resnet_view *v, int i, resnet_error *err) {
    if (v->resize < RESNET_INPUT_SIZE || v->resize > RESNET_VIEW_MAX_RESIZE)
        return rn_fail(err, RESNET_E_ARG, "view %d: resize must be %d..%d, got %d", i, RESNET_INPUT_SIZE,
                       RESNET_VIEW_MAX_RESIZE, v->resize);
    if ((int)v->crop < RESNET_CROP_CENTER || (int)v->crop > RESNET_CROP_BOTTOM_RIGHT)
        return rn_fail(err, RESNET_E_ARG, "view %d: unknown crop %d", i, (int)v->crop);
    return RESNET_OK;
}

/* One view of a decoded photo -> out (3 x crop x crop). A view's resize is given for a 224
 * crop: at another crop size the photo is resized in proportion (resize * crop / 224, as
 * torchvision's eval transform at that size: 256 -> int(crop * 256 / 224)). */
static resnet_status make_view(const rn_image *img, const resnet_view *v, resnet_norm norm, int crop, float *out,
                               resnet_error *err) {
    const int side = (int)((long)v->resize * crop / RESNET_INPUT_SIZE);
    resnet_status st = rn_image_view(img, side, v->crop, norm, crop, out, err);
    if (st == RESNET_OK && v->flip) mirror(out, crop, out);
    return st;
}

static resnet_status image_views(const rn_image *img, resnet_norm norm, int CROP, const resnet_view *views, int n,
                                 float *out, resnet_error *err) {
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
            else mirror(src, CROP, dst);
            continue;
        }
        resnet_status st = make_view(img, &views[i], norm, CROP, dst, err);
        if (st != RESNET_OK) return st;
    }
    return RESNET_OK;
}

resnet_status resnet_preprocess_views_memory(const void *data, size_t size, const char *name, resnet_norm norm,
                                             const resnet_view *views, int n, float *out, resnet_error *err) {
    return rn_preprocess_views_memory_ex(data, size, name, norm, 0, RESNET_INPUT_SIZE, views, n, out, err);
}

resnet_status rn_preprocess_views_memory_ex(const void *data, size_t size, const char *name, resnet_norm norm,
                                            unsigned flags, int crop, const resnet_view *views, int n, float *out,
                                            resnet_error *err) {
    if (!name) name = "<memory>";
    if (!data || !views || !out || n < 1)
        return rn_fail(err, RESNET_E_ARG, "%s: no data, no views or no output buffer", name);
    rn_image img;
    resnet_status st = rn_image_decode_ex(data, size, name, flags, &img, err);
    if (st != RESNET_OK) return st;
    st = rn_with_name(image_views(&img, norm, crop, views, n, out, err), name, err);
    rn_image_free(&img);
    return st;
}

resnet_status rn_preprocess_image_views(const resnet_image *img, resnet_norm norm, int crop, const resnet_view *views,
                                        int n, float *out, resnet_error *err) {
    if (!img) return rn_fail(err, RESNET_E_ARG, "views: no image");
    const rn_image im = {img->width, img->height, img->rgb};
    return image_views(&im, norm, crop, views, n, out, err);
}

resnet_status resnet_preprocess_views_file(const char *path, resnet_norm norm, const resnet_view *views, int n,
                                           float *out, resnet_error *err) {
    return rn_preprocess_views_file_ex(path, norm, 0, RESNET_INPUT_SIZE, views, n, out, err);
}

resnet_status rn_preprocess_views_file_ex(const char *path, resnet_norm norm, unsigned flags, int crop,
                                          const resnet_view *views, int n, float *out, resnet_error *err) {
    if (!path) return rn_fail(err, RESNET_E_ARG, "views: no path given");
    if (!views || !out || n < 1) return rn_fail(err, RESNET_E_ARG, "%s: no views or no output buffer", path);
    rn_image img;
    resnet_status st = rn_image_load_ex(path, flags, &img, err);
    if (st != RESNET_OK) return st;
    st = rn_with_name(image_views(&img, norm, crop, views, n, out, err), path, err);
    rn_image_free(&img);
    return st;
}
