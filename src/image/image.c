/* image.c - the decoded image itself: made within the pixel limit, freed. Every decoder makes
 * its image here, apart from the registry that chooses the decoder (decode.c). */
#include "image/image_internal.h"

#include <stdlib.h>

resnet_status rn_image_alloc(rn_image *out, long w, long h, const char *name, resnet_error *err) {
    out->width = out->height = 0;
    out->rgb = NULL;
    if (w <= 0 || h <= 0)
        return rn_fail(err, RESNET_E_IMAGE, "%s: image has zero size (%ldx%ld)", name, w, h);
    /* Both are below 2^31 here, so the product fits in 64 bits. */
    if ((unsigned long long)w * (unsigned long long)h > RN_IMAGE_MAX_PIXELS)
        return rn_fail(err, RESNET_E_IMAGE, "%s: image is %ldx%ld pixels, more than the limit of %u",
                       name, w, h, (unsigned)RN_IMAGE_MAX_PIXELS);
    size_t bytes;
    if (!rn_mul3_size((size_t)w, (size_t)h, 3, &bytes))
        return rn_fail(err, RESNET_E_NOMEM, "%s: image too large for this machine", name);
    out->rgb = malloc(bytes);
    if (!out->rgb)
        return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory for a %ldx%ld image", name, w, h);
    out->width = (int)w;
    out->height = (int)h;
    return RESNET_OK;
}

void rn_image_free(rn_image *img) {
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->width = img->height = 0;
}
