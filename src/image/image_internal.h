/* image_internal.h - what the files of src/image/ share with each other (private to them). */
#ifndef RN_IMAGE_INTERNAL_H
#define RN_IMAGE_INTERNAL_H

#include "common.h"
#include "image/image.h"

/* Allocates out->rgb for a w x h image after refusing zero or over-limit sizes, so a
 * hostile header can never make us allocate much. `name` goes into the message. */
resnet_status rn_image_alloc(rn_image *out, long w, long h, const char *name, resnet_error *err);

/* The decoders (decode_<format>.c); data has already been sniffed as their format. On
 * failure *out is left empty (nothing to free). */
resnet_status rn_decode_jpeg(const uint8_t *data, size_t size, const char *name, rn_image *out,
                             resnet_error *err);
resnet_status rn_decode_png(const uint8_t *data, size_t size, const char *name, rn_image *out,
                            resnet_error *err);
resnet_status rn_decode_webp(const uint8_t *data, size_t size, const char *name, rn_image *out,
                             resnet_error *err);
resnet_status rn_decode_tiff(const uint8_t *data, size_t size, const char *name, rn_image *out,
                             resnet_error *err);
resnet_status rn_decode_gif(const uint8_t *data, size_t size, const char *name, rn_image *out,
                            resnet_error *err);
resnet_status rn_decode_bmp(const uint8_t *data, size_t size, const char *name, rn_image *out,
                            resnet_error *err);
resnet_status rn_decode_pnm(const uint8_t *data, size_t size, const char *name, rn_image *out,
                            resnet_error *err);

/* The EXIF orientation (1..8) the file of format fmt carries, 0 if none or unreadable
 * (exif.c: where PIL's getexif() looks for each format). */
int rn_exif_orientation(const uint8_t *data, size_t size, rn_format fmt);
/* Turns img as EXIF orientation 2..8 asks (PIL's ImageOps.exif_transpose); other values
 * leave it as it is. */
resnet_status rn_image_orient(rn_image *img, int orientation, const char *name, resnet_error *err);

/* The resize of rn_image_resize(src, out_w, out_h), but only the window of the result with
 * top-left corner (x0, y0) and size w x h is computed and stored in *dst (w x h). Every
 * pixel is identical to the one the full resize gives: the crop of the reference pipeline
 * then costs only the rows and columns it keeps. */
resnet_status rn_image_resize_window(const rn_image *src, int out_w, int out_h, int x0, int y0,
                                     int w, int h, rn_image *dst, resnet_error *err);

/* The reference pipeline's shorter side (torchvision.transforms.Resize(256)). */
#define RN_SHORT_SIDE 256

/* Where a 224x224 window lies on a photo: torchvision's Resize(side) of a w x h photo (the
 * shorter side becomes `side`, the longer int(side * long / short), truncated) into ow x oh,
 * and the window's top-left corner (x0, y0) there: CenterCrop's offsets, rounded half to even,
 * or one of FiveCrop's corners. The one crop geometry of preprocessing (side 256, centre),
 * the test-time views and the CAM overlay. Refuses sizes whose resize would exceed
 * RN_IMAGE_MAX_PIXELS (only very elongated photos); side must be at least 224. */
typedef struct rn_crop_geom {
    int ow, oh, x0, y0;
} rn_crop_geom;
resnet_status rn_crop_geometry(int w, int h, int side, resnet_crop crop, int crop_size, rn_crop_geom *g,
                               resnet_error *err);

/* The window `where` of img resized by Resize(side) (rn_crop_geometry), normalised into out
 * (3x224x224): the reference pipeline's one view is side 256, the centre. */
resnet_status rn_image_view(const rn_image *img, int side, resnet_crop where, resnet_norm norm, int crop_size, float *out,
                            resnet_error *err);

/* Puts the photo's name in front of a failing st's message, from code that does not know the
 * name (the geometry, the resize); returns st. */
resnet_status rn_with_name(resnet_status st, const char *name, resnet_error *err);

/* A 224x224 RGB crop (HWC bytes) -> the network's input (3x224x224 CHW floats), normalised as
 * `norm` says, bit-identical with the reference (preprocess.c). Shared so that the test-time
 * augmentation views (views.c) are normalised by the very same code as the plain pass. */
void rn_image_normalise(const uint8_t *rgb, resnet_norm norm, int crop_size, float *out);

#endif
