/* fuzz_image.c - libFuzzer harness for the image loader: rn_image_decode_ex (JPEG via
 * libjpeg-turbo, PNG via libpng, WebP via libwebp, TIFF via libtiff, GIF via giflib, our BMP
 * and PNM parsers, the EXIF orientation: everything resnet_preprocess_* accepts) and the reference
 * preprocessing of the decoded image to the network's 3x224x224 input.
 *
 * Checks: a failure leaves no image and says why in one line; a success is a non-empty
 * image within RN_IMAGE_MAX_PIXELS, and the preprocessed input is finite and within the
 * range the normalisation can produce. The last byte of the input picks the normalisation.
 * A decoded image of up to 64K pixels (1024 a side) is also resized to a size taken from the
 * input's last bytes (1..512 a side), and a window of that resize computed alone (what the
 * preprocessing and the test-time views do) must equal the same window of the whole resize,
 * pixel for pixel.
 */
#include <math.h>

#include "fuzz_common.h"
#include "image/image.h"
#include "image/image_internal.h"
#include "resnet.h"

/* rn_image_resize_window against a window of rn_image_resize. */
static void image_fuzz_resize(const rn_image *img, const uint8_t *t /* 8 bytes */) {
    const int ow = 1 + (t[0] | t[1] << 8) % 512, oh = 1 + (t[2] | t[3] << 8) % 512;
    const int w = 1 + t[4] % ow, h = 1 + t[5] % oh;
    const int x0 = t[6] % (ow - w + 1), y0 = t[7] % (oh - h + 1);
    rn_image full, win;
    resnet_error err;
    FUZZ_CHECK(rn_image_resize(img, ow, oh, &full, &err) == RESNET_OK);
    FUZZ_CHECK(full.width == ow && full.height == oh);
    FUZZ_CHECK(rn_image_resize_window(img, ow, oh, x0, y0, w, h, &win, &err) == RESNET_OK);
    FUZZ_CHECK(win.width == w && win.height == h);
    for (int y = 0; y < h; y++)
        FUZZ_CHECK(memcmp(win.rgb + (size_t)y * w * 3, full.rgb + ((size_t)(y0 + y) * ow + x0) * 3, (size_t)w * 3) == 0);
    rn_image_free(&full);
    rn_image_free(&win);
}

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size) {
    static float input[3 * RESNET_INPUT_SIZE * RESNET_INPUT_SIZE];
    rn_image img;
    resnet_error err;
    memset(&err, 0, sizeof err);
    /* Bit 1 of the last byte: apply the EXIF orientation (exif.c's parser and turns). */
    const unsigned flags = size && (data[size - 1] & 2) ? RESNET_IMAGE_EXIF_ORIENTATION : 0;
    resnet_status st = rn_image_decode_ex(data, size, "fuzz.img", flags, &img, &err);
    if (st != RESNET_OK) {
        FUZZ_CHECK(img.rgb == NULL && img.width == 0 && img.height == 0);
        FUZZ_CHECK(err.status == st && fuzz_message_ok(err.message, sizeof err.message));
        FUZZ_CHECK(strstr(err.message, "fuzz.img") != NULL);
        return 0;
    }
    FUZZ_CHECK(img.rgb != NULL && img.width > 0 && img.height > 0);
    FUZZ_CHECK((unsigned long long)img.width * (unsigned long long)img.height <= RN_IMAGE_MAX_PIXELS);

    const resnet_norm norm = size && (data[size - 1] & 1) ? RESNET_NORM_TORCH : RESNET_NORM_CAFFE;
    memset(&err, 0, sizeof err);
    st = rn_image_to_input(&img, norm, input, &err);
    if (st == RESNET_OK) {
        /* caffe: 0..255 minus a mean in 103..124; torch: (0..1 - mean) / std, within +-2.7 */
        const float lo = norm == RESNET_NORM_CAFFE ? -124.0f : -2.2f, hi = norm == RESNET_NORM_CAFFE ? 152.1f : 2.7f;
        for (size_t i = 0; i < sizeof input / sizeof input[0]; i++)
            FUZZ_CHECK(isfinite(input[i]) && input[i] >= lo && input[i] <= hi);
    } else {
        /* only a too-elongated image (the resized copy would pass the pixel limit) or no memory */
        FUZZ_CHECK(st == RESNET_E_IMAGE || st == RESNET_E_NOMEM);
        FUZZ_CHECK(fuzz_message_ok(err.message, sizeof err.message));
    }
    /* both sides at most 1024 as well: resizing 1x65000 to 512x512 is 300M multiply-adds (as
     * in PIL: the whole 512x65000 intermediate), seconds under the sanitizers */
    if ((long)img.width * img.height <= 65536 && img.width <= 1024 && img.height <= 1024 && size >= 8)
        image_fuzz_resize(&img, data + size - 8);
    rn_image_free(&img);
    FUZZ_CHECK(img.rgb == NULL);
    return 0;
}
