/* decode_webp.c - WebP (lossy, lossless, alpha, the first frame of an animation) to 8-bit
 * RGB with libwebp, as PIL's WebPImagePlugin + convert("RGB").
 *
 * PIL (built with libwebp's demux library, as Debian's is) reads every WebP through
 * WebPAnimDecoder with its default options: non-premultiplied RGBA, the first frame drawn
 * on a transparent black canvas the size of the file's canvas. convert("RGB") then drops
 * alpha without compositing. We call the same decoder and drop alpha the same way, so even
 * an animation's first frame, smaller than its canvas, matches. No ICC profile is applied
 * (PIL applies none on open).
 *
 * The canvas size comes from WebPGetFeatures, which parses the headers only, and is checked
 * against the pixel limit before the decoder allocates its RGBA canvas.
 */
#include "image/image_internal.h"

#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/demux.h>

resnet_status rn_decode_webp(const uint8_t *data, size_t size, const char *name, rn_image *out, resnet_error *err) {
    WebPBitstreamFeatures feat;
    VP8StatusCode vs = WebPGetFeatures(data, size, &feat);
    if (vs == VP8_STATUS_NOT_ENOUGH_DATA) return rn_fail(err, RESNET_E_IMAGE, "%s: truncated WebP header", name);
    if (vs != VP8_STATUS_OK) /* the header parse allocates nothing: the file is the problem */
        return rn_fail(err, RESNET_E_IMAGE, "%s: %s", name,
                       vs == VP8_STATUS_UNSUPPORTED_FEATURE ? "unsupported WebP feature" : "corrupt WebP headers");
    resnet_status st = rn_image_alloc(out, feat.width, feat.height, name, err);
    if (st != RESNET_OK) return st;

    WebPAnimDecoderOptions opts;
    if (!WebPAnimDecoderOptionsInit(&opts)) {
        rn_image_free(out);
        return rn_fail(err, RESNET_E_IMAGE, "%s: libwebp version mismatch", name);
    }
    opts.color_mode = MODE_RGBA; /* PIL's (the default, said so that it cannot drift) */
    opts.use_threads = 0;
    WebPData wd = {data, size};
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&wd, &opts);
    WebPAnimInfo info;
    uint8_t *rgba = NULL;
    int ts = 0;
    if (!dec) {
        st = rn_fail(err, RESNET_E_IMAGE, "%s: corrupt or truncated WebP", name);
    } else if (!WebPAnimDecoderGetInfo(dec, &info) || (long)info.canvas_width != out->width ||
               (long)info.canvas_height != out->height) {
        st = rn_fail(err, RESNET_E_IMAGE, "%s: corrupt WebP (canvas size disagrees with the header)", name);
    } else if (!WebPAnimDecoderGetNext(dec, &rgba, &ts) || !rgba) {
        st = rn_fail(err, RESNET_E_IMAGE, "%s: corrupt or truncated WebP image data", name);
    } else {
        size_t npx = (size_t)out->width * (size_t)out->height;
        for (size_t i = 0; i < npx; i++) memcpy(out->rgb + 3 * i, rgba + 4 * i, 3);
    }
    WebPAnimDecoderDelete(dec); /* accepts NULL */
    if (st != RESNET_OK) rn_image_free(out);
    return st;
}
