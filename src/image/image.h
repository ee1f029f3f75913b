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

/* Decodes JPEG (libjpeg-turbo; gray, YCbCr, CMYK/YCCK) or PNG (libpng; gray, palette,
 * 16-bit, alpha dropped, interlaced) to 8-bit RGB exactly as PIL's Image.open().convert("RGB").
 * `name` is only used in error messages. */
resnet_status rn_image_decode(const uint8_t *data, size_t size, const char *name, rn_image *out,
                              resnet_error *err);
resnet_status rn_image_load(const char *path, rn_image *out, resnet_error *err);
void rn_image_free(rn_image *img);

/* Antialiased bilinear resize, bit-exact with PIL's Image.resize(size, BILINEAR). */
resnet_status rn_image_resize(const rn_image *src, int out_w, int out_h, rn_image *dst, resnet_error *err);

/* The reference pipeline on a decoded image: shorter side to 256, centre crop 224,
 * normalise -> out (3x224x224 CHW floats). */
resnet_status rn_image_to_input(const rn_image *img, resnet_norm norm, float *out, resnet_error *err);

#endif
