/* image.h - decode photos and turn them into the network's input (internal). */
#ifndef RN_IMAGE_H
#define RN_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include "resnet.h"

/* Refuse images above this many pixels before allocating (decompression bombs). The fuzz
 * build (fuzz/fuzz.mk) sets a lower one, so that it spends its time on parsing, not on
 * decoding images of 134 million pixels. */
#ifndef RN_IMAGE_MAX_PIXELS
#define RN_IMAGE_MAX_PIXELS (1u << 27) /* 134 million */
#endif

typedef struct rn_image {
    int width, height;
    uint8_t *rgb; /* width*height*3 bytes, RGB interleaved, row-major */
} rn_image;

/* The formats we decode, told by their first bytes (never by the file's name). */
typedef enum rn_format {
    RN_FORMAT_UNKNOWN = 0,
    RN_FORMAT_JPEG,
    RN_FORMAT_PNG,
    RN_FORMAT_WEBP,
    RN_FORMAT_TIFF,
    RN_FORMAT_GIF,
    RN_FORMAT_BMP,
    RN_FORMAT_PNM
} rn_format;

/* The format of a file starting with these n bytes (18 are enough for every format). */
rn_format rn_image_sniff(const uint8_t *data, size_t n);
/* "JPEG", "PNG", ...: the format's name for messages ("" for RN_FORMAT_UNKNOWN). */
const char *rn_image_format_name(rn_format f);
/* 1 if the name ends in an extension of a format we decode (any case): .jpg .jpeg .png
 * .webp .tif .tiff .gif .bmp .pbm .pgm .ppm .pnm. Folder walks use it; decoding does not. */
int rn_image_has_photo_extension(const char *name);

/* Decodes JPEG (libjpeg-turbo; gray, YCbCr, CMYK/YCCK), PNG (libpng; gray, palette, 16-bit,
 * alpha dropped, interlaced), WebP (libwebp), TIFF (libtiff), GIF (giflib, first frame), BMP
 * and PNM (our own parsers) to 8-bit RGB exactly as PIL's Image.open().convert("RGB"); the
 * decode_<format>.c files say how, and where we differ. `name` is only used in error
 * messages. flags: RESNET_IMAGE_EXIF_ORIENTATION turns the image as its EXIF orientation
 * says (PIL's ImageOps.exif_transpose); 0 decodes as PIL's open() does. */
resnet_status rn_image_decode_ex(const uint8_t *data, size_t size, const char *name, unsigned flags,
                                 rn_image *out, resnet_error *err);
resnet_status rn_image_load_ex(const char *path, unsigned flags, rn_image *out, resnet_error *err);
/* The same with flags 0. */
resnet_status rn_image_decode(const uint8_t *data, size_t size, const char *name, rn_image *out,
                              resnet_error *err);
resnet_status rn_image_load(const char *path, rn_image *out, resnet_error *err);
void rn_image_free(rn_image *img);

/* resnet_preprocess_file and resnet_preprocess_views_file with RESNET_IMAGE_* flags (the
 * sessions' flags reach them through these; the CLI's eval calls the second). */
resnet_status rn_preprocess_file_ex(const char *path, resnet_norm norm, unsigned flags, float *out,
                                    resnet_error *err);
/* A mh x mw class map laid over a width x height photo whose centre crop x crop the network
 * saw (resnet_cam_heatmap's rules; it is this with 7x7 over 224). */
resnet_status rn_cam_heatmap_at(const float *map, int mh, int mw, int crop, int width, int height, float *heat,
                                resnet_error *err);
/* crop: the side of the square the network sees (224, or the model's input size). */
resnet_status rn_preprocess_image_at(const resnet_image *img, resnet_norm norm, int crop, float *out,
                                     resnet_error *err);
resnet_status rn_preprocess_views_file_ex(const char *path, resnet_norm norm, unsigned flags, int crop,
                                          const resnet_view *views, int n, float *out, resnet_error *err);
/* The views of a photo already decoded (the part of the two above after decoding). */
resnet_status rn_preprocess_image_views(const resnet_image *img, resnet_norm norm, int crop, const resnet_view *views,
                                        int n, float *out, resnet_error *err);
resnet_status rn_preprocess_views_memory_ex(const void *data, size_t size, const char *name, resnet_norm norm,
                                            unsigned flags, int crop, const resnet_view *views, int n, float *out,
                                            resnet_error *err);

/* Antialiased bilinear resize, bit-exact with PIL's Image.resize(size, BILINEAR). */
resnet_status rn_image_resize(const rn_image *src, int out_w, int out_h, rn_image *dst, resnet_error *err);

/* The reference pipeline on a decoded image: shorter side to 256, centre crop 224,
 * normalise -> out (3x224x224 CHW floats). */
resnet_status rn_image_to_input(const rn_image *img, resnet_norm norm, float *out, resnet_error *err);

/* The least and greatest value normalisation gives any pixel (over the three channels): the
 * range an int8 stem quantizes its input to, covering every photo without calibration. */
void rn_image_input_range(resnet_norm norm, float *lo, float *hi);

#endif
