/* overlay.c - photos in the public API, PNG writing, and class activation maps laid over a
 * photo: where the map (7x7 for a 224 crop) sits on the photo, its bilinear upsampling, a
 * colour scale and the blend. */
#include "image/image_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic.h"
#include "io/fileio.h"


/* ---- photos ---------------------------------------------------------------------------- */

/* The decoded img as the public struct (both are malloc'd width*height*3 bytes: ownership
 * moves), or st. */
static resnet_status to_public(resnet_status st, const rn_image *img, resnet_image *out) {
    if (st == RESNET_OK) *out = (resnet_image){img->width, img->height, img->rgb};
    return st;
}

resnet_status resnet_image_load_ex(const char *path, unsigned flags, resnet_image *out, resnet_error *err) {
    if (out) memset(out, 0, sizeof *out); /* whatever else is wrong: resnet_image_free may follow */
    if (!path || !out) return rn_fail(err, RESNET_E_ARG, "resnet_image_load: NULL argument");
    rn_image img;
    return to_public(rn_image_load_ex(path, flags, &img, err), &img, out);
}

resnet_status resnet_image_load_memory(const void *data, size_t size, const char *name, unsigned flags,
                                       resnet_image *out, resnet_error *err) {
    if (!out) return rn_fail(err, RESNET_E_ARG, "resnet_image_load_memory: NULL argument");
    memset(out, 0, sizeof *out);
    rn_image img;
    return to_public(rn_image_decode_ex(data, size, name, flags, &img, err), &img, out);
}

resnet_status resnet_image_load(const char *path, resnet_image *out, resnet_error *err) {
    return resnet_image_load_ex(path, 0, out, err);
}

void resnet_image_free(resnet_image *img) {
    if (!img) return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

static resnet_status check_image(const resnet_image *img, const char *what, resnet_error *err) {
    if (!img || !img->rgb) return rn_fail(err, RESNET_E_ARG, "%s: no image (no pixels)", what);
    if (img->width <= 0 || img->height <= 0)
        return rn_fail(err, RESNET_E_ARG, "%s: an image of %dx%d pixels: both sides must be positive", what,
                       img->width, img->height);
    if ((size_t)img->width * (size_t)img->height > RN_IMAGE_MAX_PIXELS)
        return rn_fail(err, RESNET_E_ARG, "%s: an image of %dx%d pixels is over the limit of %zu pixels", what,
                       img->width, img->height, (size_t)RN_IMAGE_MAX_PIXELS);
    return RESNET_OK;
}

resnet_status resnet_preprocess_image(const resnet_image *img, resnet_norm norm, float *out, resnet_error *err) {
    return rn_preprocess_image_at(img, norm, RESNET_INPUT_SIZE, out, err);
}

resnet_status rn_preprocess_image_at(const resnet_image *img, resnet_norm norm, int crop, float *out,
                                     resnet_error *err) {
    resnet_status st = check_image(img, "preprocess", err);
    if (st != RESNET_OK) return st;
    /* resnet_preprocess_image has no other check: without this a NULL out was written to */
    if (!out) return rn_fail(err, RESNET_E_ARG, "preprocess: no output buffer");
    if (norm != RESNET_NORM_CAFFE && norm != RESNET_NORM_TORCH)
        return rn_fail(err, RESNET_E_ARG, "preprocess: unknown normalisation %d", (int)norm);
    rn_image view = {img->width, img->height, img->rgb};
    return rn_image_view(&view, crop * RN_SHORT_SIDE / RESNET_INPUT_SIZE, RESNET_CROP_CENTER, norm, crop, out, err);
}

/* ---- PNG ------------------------------------------------------------------------------- */

typedef struct png_failure {
    jmp_buf jmp;
    char message[200];
} png_failure;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_failure *f = png_get_error_ptr(png);
    snprintf(f->message, sizeof f->message, "%s", msg);
    longjmp(f->jmp, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* warnings while writing are about ancillary chunks we do not write */
}

/* Encodes img into the open FILE; 0 on success, -1 with f->message set. Everything that
 * must survive the longjmp is set up by the caller, so no local needs to be volatile. */
static int png_encode(FILE *fp, const resnet_image *img, png_bytep *rows, png_failure *f) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, f, png_on_error, png_on_warning);
    if (!png) {
        snprintf(f->message, sizeof f->message, "out of memory");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(f->message, sizeof f->message, "out of memory");
        return -1;
    }
    if (setjmp(f->jmp)) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    /* Marks the file as ours, before the pixels: a later `cam -o` may replace a picture it
     * made, never a photo that merely is a PNG too (io/atomic.h, RN_KIND_PNG). */
    png_text text;
    memset(&text, 0, sizeof text);
    text.compression = PNG_TEXT_COMPRESSION_NONE;
    text.key = (png_charp)"Software";
    text.text = (png_charp)RN_PNG_SOFTWARE;
    png_set_text(png, info, &text, 1);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

resnet_status resnet_image_write_png(const resnet_image *img, const char *path, resnet_error *err) {
    if (!path) return rn_fail(err, RESNET_E_ARG, "resnet_image_write_png: NULL path");
    resnet_status st = check_image(img, path, err);
    if (st != RESNET_OK) return st;
    png_bytep *rows = malloc((size_t)img->height * sizeof *rows);
    if (!rows) return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", path);
    for (int y = 0; y < img->height; y++) rows[y] = img->rgb + (size_t)y * img->width * 3;
    rn_atomic_file af;
    if ((st = rn_atomic_open(&af, path, err)) != RESNET_OK) {
        free(rows);
        return st;
    }
    FILE *fp = rn_atomic_stdio(&af, err);
    png_failure f;
    f.message[0] = '\0';
    if (!fp) st = RESNET_E_IO;
    else if (png_encode(fp, img, rows, &f) != 0)
        st = rn_fail(err, RESNET_E_IO, "%s: PNG encoding failed: %s", path, f.message);
    if (st == RESNET_OK) st = rn_atomic_commit(&af, err);
    else rn_atomic_abort(&af);
    free(rows);
    return st;
}

resnet_status resnet_image_encode_png(const resnet_image *img, unsigned char **data, size_t *size,
                                      resnet_error *err) {
    if (!data || !size) return rn_fail(err, RESNET_E_ARG, "resnet_image_encode_png: NULL output");
    *data = NULL;
    *size = 0;
    resnet_status st = check_image(img, "image", err);
    if (st != RESNET_OK) return st;
    png_bytep *rows = malloc((size_t)img->height * sizeof *rows);
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = rows ? open_memstream(&buf, &len) : NULL;
    if (!fp) {
        free(rows);
        return rn_fail(err, RESNET_E_NOMEM, "PNG encoding: out of memory");
    }
    for (int y = 0; y < img->height; y++) rows[y] = img->rgb + (size_t)y * img->width * 3;
    png_failure f;
    f.message[0] = '\0';
    int bad = png_encode(fp, img, rows, &f) != 0;
    if (fclose(fp) != 0 && !bad) snprintf(f.message, sizeof f.message, "out of memory"), bad = 1;
    free(rows);
    if (bad) {
        free(buf);
        return rn_fail(err, RESNET_E_NOMEM, "PNG encoding failed: %s", f.message);
    }
    *data = (unsigned char *)buf;
    *size = len;
    return RESNET_OK;
}

/* ---- where the network looks ------------------------------------------------------------ */

/* The CAM needs the crop geometry of rn_image_to_input (rn_crop_geometry) in continuous
 * coordinates: PIL maps an output pixel edge x' to input x' * (in / out). */
void resnet_crop_box(int width, int height, double box[4]) {
    if (!box) return;
    if (width <= 0 || height <= 0) {
        box[0] = box[1] = box[2] = box[3] = 0;
        return;
    }
    rn_crop_geom g;
    /* a photo too elongated to preprocess has no crop: the empty box, as for a bad size */
    if (rn_crop_geometry(width, height, RN_SHORT_SIDE, RESNET_CROP_CENTER, RESNET_INPUT_SIZE, &g, NULL) != RESNET_OK) {
        box[0] = box[1] = box[2] = box[3] = 0;
        return;
    }
    const double sx = (double)width / g.ow, sy = (double)height / g.oh;
    box[0] = g.x0 * sx;
    box[1] = g.y0 * sy;
    box[2] = (g.x0 + RESNET_INPUT_SIZE) * sx;
    box[3] = (g.y0 + RESNET_INPUT_SIZE) * sy;
}

resnet_status resnet_cam_heatmap(const float *map, int width, int height, float *heat, resnet_error *err) {
    return rn_cam_heatmap_at(map, RESNET_MAP_SIZE, RESNET_MAP_SIZE, RESNET_INPUT_SIZE, width, height, heat, err);
}

resnet_status rn_cam_heatmap_at(const float *map, int mh, int mw, int crop, int width, int height, float *heat,
                                resnet_error *err) {
    if (!map || !heat) return rn_fail(err, RESNET_E_ARG, "resnet_cam_heatmap: NULL argument");
    if (width <= 0 || height <= 0 || (size_t)width * (size_t)height > RN_IMAGE_MAX_PIXELS)
        return rn_fail(err, RESNET_E_ARG, "resnet_cam_heatmap: bad size %dx%d", width, height);
    if (mh <= 0 || mw <= 0 || mh > crop || mw > crop || crop > 4096)
        return rn_fail(err, RESNET_E_ARG, "resnet_cam_heatmap: a %dx%d map over a %d crop", mh, mw, crop);
    float lo = map[0], hi = map[0];
    for (int i = 0; i < mh * mw; i++) {
        if (!isfinite(map[i])) return rn_fail(err, RESNET_E_ARG, "resnet_cam_heatmap: map value %d is not finite", i);
        lo = map[i] < lo ? map[i] : lo;
        hi = map[i] > hi ? map[i] : hi;
    }
    const float scale = hi > lo ? 1.0f / (hi - lo) : 0.0f;
    rn_crop_geom g;
    /* the crop as the preprocessing takes it (rn_preprocess_image_at): Resize(crop * 256 / 224) */
    resnet_status st =
        rn_crop_geometry(width, height, crop * RN_SHORT_SIDE / RESNET_INPUT_SIZE, RESNET_CROP_CENTER, crop, &g, err);
    if (st != RESNET_OK) return st;
    const double fx = (double)g.ow / width, fy = (double)g.oh / height;
    const double cell_y = (double)crop / mh, cell_x = (double)crop / mw; /* crop pixels per cell */
    const int last_y = mh - 1, last_x = mw - 1;
    for (int py = 0; py < height; py++) {
        /* the pixel centre in crop pixels, then in cells (cell centres at integers) */
        const double v = (py + 0.5) * fy - g.y0;
        const double gy = v / cell_y - 0.5;
        const double cy = gy < 0 ? 0 : gy > last_y ? last_y : gy;
        const int y0 = (int)cy, y1 = y0 < last_y ? y0 + 1 : y0;
        const double ty = cy - y0;
        float *row = heat + (size_t)py * width;
        for (int px = 0; px < width; px++) {
            const double u = (px + 0.5) * fx - g.x0;
            if (v < 0 || v >= crop || u < 0 || u >= crop) {
                row[px] = -1.0f;
                continue;
            }
            const double gx = u / cell_x - 0.5;
            const double cx = gx < 0 ? 0 : gx > last_x ? last_x : gx;
            const int x0 = (int)cx, x1 = x0 < last_x ? x0 + 1 : x0;
            const double tx = cx - x0;
            const float *m0 = map + (size_t)y0 * mw, *m1 = map + (size_t)y1 * mw;
            const double top = m0[x0] + (m0[x1] - m0[x0]) * tx, bot = m1[x0] + (m1[x1] - m1[x0]) * tx;
            const double val = top + (bot - top) * ty;
            float t = (float)((val - lo) * scale);
            row[px] = t < 0 ? 0 : t > 1 ? 1 : t;
        }
    }
    return RESNET_OK;
}

/* The colour scale: "jet", piecewise linear through dark blue, blue, cyan, yellow, red,
 * dark red. Chosen because it is what CAM figures usually show, so the picture reads at a
 * glance (hot = red). */
static void colour(float t, unsigned char rgb[3]) {
    static const float stops[6] = {0.0f, 0.125f, 0.375f, 0.625f, 0.875f, 1.0f};
    static const unsigned char cols[6][3] = {{0, 0, 143}, {0, 0, 255}, {0, 255, 255},
                                             {255, 255, 0}, {255, 0, 0}, {128, 0, 0}};
    int i = 0;
    while (i < 4 && t > stops[i + 1]) i++;
    float f = (t - stops[i]) / (stops[i + 1] - stops[i]);
    f = f < 0 ? 0 : f > 1 ? 1 : f;
    for (int c = 0; c < 3; c++) rgb[c] = (unsigned char)lrintf(cols[i][c] + (cols[i + 1][c] - cols[i][c]) * f);
}

resnet_status resnet_cam_overlay(const resnet_image *photo, const float *heat, float opacity, resnet_image *out,
                                 resnet_error *err) {
    if (!out) return rn_fail(err, RESNET_E_ARG, "resnet_cam_overlay: NULL argument");
    memset(out, 0, sizeof *out);
    resnet_status st = check_image(photo, "resnet_cam_overlay", err);
    if (st != RESNET_OK) return st;
    if (!heat) return rn_fail(err, RESNET_E_ARG, "resnet_cam_overlay: NULL heat map");
    if (!(opacity >= 0.0f && opacity <= 1.0f))
        return rn_fail(err, RESNET_E_ARG, "resnet_cam_overlay: opacity must be between 0 and 1");
    const size_t npix = (size_t)photo->width * photo->height;
    /* a NaN has no colour: it came out as an arbitrary one (lrintf(NaN)) and the call succeeded */
    for (size_t i = 0; i < npix; i++)
        if (!isfinite(heat[i]))
            return rn_fail(err, RESNET_E_ARG, "resnet_cam_overlay: heat value %zu is not finite", i);
    unsigned char *dst = malloc(npix * 3);
    if (!dst) return rn_fail(err, RESNET_E_NOMEM, "resnet_cam_overlay: out of memory (%dx%d)", photo->width, photo->height);
    for (size_t i = 0; i < npix; i++) {
        const unsigned char *p = photo->rgb + 3 * i;
        unsigned char *q = dst + 3 * i;
        if (heat[i] < 0) {
            /* not seen by the network: grey and dimmed, so the eye goes to the crop */
            const float lum = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
            q[0] = q[1] = q[2] = (unsigned char)lrintf(lum * 0.5f + 32.0f);
            continue;
        }
        unsigned char c[3];
        colour(heat[i], c);
        for (int k = 0; k < 3; k++) q[k] = (unsigned char)lrintf(p[k] * (1.0f - opacity) + c[k] * opacity);
    }
    out->width = photo->width;
    out->height = photo->height;
    out->rgb = dst;
    return RESNET_OK;
}
