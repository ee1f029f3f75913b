/* decode.c - read a photo file into memory (io/fileio.c's reader), sniff its format by its first bytes and hand it to
 * a decoder; then, if asked, turn it as its EXIF orientation says. */
#include "image/image_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/fileio.h"

/* Larger files are refused rather than read: even an uncompressed PNG of
 * RN_IMAGE_MAX_PIXELS 16-bit RGBA pixels is about 1 GiB. */
#define RN_IMAGE_MAX_FILE_BYTES ((size_t)1 << 31)

rn_format rn_image_sniff(const uint8_t *d, size_t n) {
    if (!d) return RN_FORMAT_UNKNOWN;
    /* SOI followed by the start of the next marker; every JPEG variant begins so. */
    if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff) return RN_FORMAT_JPEG;
    if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return RN_FORMAT_PNG;
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0) return RN_FORMAT_WEBP;
    /* Classic TIFF (42) and BigTIFF (43), either byte order. */
    if (n >= 4 && ((memcmp(d, "II", 2) == 0 && (d[2] == 42 || d[2] == 43) && d[3] == 0) ||
                   (memcmp(d, "MM", 2) == 0 && d[2] == 0 && (d[3] == 42 || d[3] == 43))))
        return RN_FORMAT_TIFF;
    if (n >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0)) return RN_FORMAT_GIF;
    /* "BM" alone is too weak (folder walks sniff every file): also a header size PIL reads. */
    if (n >= 18 && d[0] == 'B' && d[1] == 'M') {
        uint32_t h = (uint32_t)d[14] | (uint32_t)d[15] << 8 | (uint32_t)d[16] << 16 | (uint32_t)d[17] << 24;
        if (h == 12 || h == 40 || h == 64 || h == 108 || h == 124) return RN_FORMAT_BMP;
    }
    /* P1..P6 and whitespace, as PIL's PPM plugin reads the magic. */
    if (n >= 3 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6' &&
        (d[2] == ' ' || d[2] == '\t' || d[2] == '\n' || d[2] == '\r' || d[2] == '\v' || d[2] == '\f'))
        return RN_FORMAT_PNM;
    return RN_FORMAT_UNKNOWN;
}

const char *rn_image_format_name(rn_format f) {
    static const char *const names[] = {"", "JPEG", "PNG", "WebP", "TIFF", "GIF", "BMP", "PNM"};
    return (unsigned)f < sizeof names / sizeof *names ? names[f] : "";
}

int rn_image_has_photo_extension(const char *name) {
    static const char *const ext[] = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff",
                                      ".gif", ".bmp",  ".pbm", ".pgm",  ".ppm", ".pnm"};
    const char *dot = name ? strrchr(name, '.') : NULL;
    if (!dot) return 0;
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (strcasecmp(dot, ext[i]) == 0) return 1;
    return 0;
}

resnet_status rn_image_decode_ex(const uint8_t *data, size_t size, const char *name, unsigned flags,
                                 rn_image *out, resnet_error *err) {
    if (!name) name = "<memory>";
    if (!out) return rn_fail(err, RESNET_E_ARG, "%s: no output image given", name);
    out->width = out->height = 0;
    out->rgb = NULL;
    resnet_status st = rn_image_flags_check(flags, name, err);
    if (st != RESNET_OK) return st;
    if (!data && size > 0) return rn_fail(err, RESNET_E_ARG, "%s: no data given", name);
    if (size == 0) return rn_fail(err, RESNET_E_IMAGE, "%s: no data (0 bytes), not an image", name);
    rn_format fmt = rn_image_sniff(data, size);
    switch (fmt) {
    case RN_FORMAT_JPEG: st = rn_decode_jpeg(data, size, name, out, err); break;
    case RN_FORMAT_PNG: st = rn_decode_png(data, size, name, out, err); break;
    case RN_FORMAT_WEBP: st = rn_decode_webp(data, size, name, out, err); break;
    case RN_FORMAT_TIFF: st = rn_decode_tiff(data, size, name, out, err); break;
    case RN_FORMAT_GIF: st = rn_decode_gif(data, size, name, out, err); break;
    case RN_FORMAT_BMP: st = rn_decode_bmp(data, size, name, out, err); break;
    case RN_FORMAT_PNM: st = rn_decode_pnm(data, size, name, out, err); break;
    default:
        return rn_fail(err, RESNET_E_IMAGE,
                       "%s: not an image we can read (JPEG, PNG, WebP, TIFF, GIF, BMP or PNM)", name);
    }
    if (st == RESNET_OK && (flags & RESNET_IMAGE_EXIF_ORIENTATION)) {
        st = rn_image_orient(out, rn_exif_orientation(data, size, fmt), name, err);
        if (st != RESNET_OK) rn_image_free(out);
    }
    return st;
}

resnet_status rn_image_decode(const uint8_t *data, size_t size, const char *name, rn_image *out,
                              resnet_error *err) {
    return rn_image_decode_ex(data, size, name, 0, out, err);
}

resnet_status rn_image_load_ex(const char *path, unsigned flags, rn_image *out, resnet_error *err) {
    if (!path) return rn_fail(err, RESNET_E_ARG, "rn_image_load: no path given");
    if (!out) return rn_fail(err, RESNET_E_ARG, "%s: no output image given", path);
    out->width = out->height = 0;
    out->rgb = NULL;
    resnet_status st = rn_image_flags_check(flags, path, err); /* before the file is read */
    if (st != RESNET_OK) return st;
    static const rn_read_kind photo = {"an image", RESNET_E_IMAGE};
    char *data;
    size_t size = 0;
    st = rn_read_file_as(path, RN_IMAGE_MAX_FILE_BYTES, &photo, &data, &size, err);
    if (st != RESNET_OK) return st;
    st = rn_image_decode_ex((const uint8_t *)data, size, path, flags, out, err);
    free(data);
    return st;
}

resnet_status rn_image_load(const char *path, rn_image *out, resnet_error *err) {
    return rn_image_load_ex(path, 0, out, err);
}
