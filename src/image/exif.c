/* exif.c - the EXIF orientation tag of a photo, and the transposition it asks for.
 *
 * PIL's ImageOps.exif_transpose reads tag 0x0112 of the image's EXIF data (Image.getexif):
 * for a JPEG the first APP1 segment starting "Exif\0\0", for a PNG its eXIf chunk, for a
 * WebP its EXIF chunk, for a TIFF its own first directory. We look in the same places.
 * The data is a TIFF header and directory: only directory 0 is read, the tag's first value
 * (of any number type, as PIL) taken, and anything out of bounds means "no orientation" (never an
 * error: a photo with broken metadata is still a photo). Orientations other than 2..8 leave
 * the image as it is, as in PIL. Not read: an orientation in XMP metadata only (PIL 9.4
 * falls back to it), and PNG's "Raw profile type exif" text chunks.
 */
#include "image/image_internal.h"

#include <stdlib.h>
#include <string.h>

static uint32_t rd32(const uint8_t *p, int le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}
static unsigned rd16(const uint8_t *p, int le) { return le ? p[0] | (unsigned)p[1] << 8 : p[1] | (unsigned)p[0] << 8; }
static uint64_t rd64(const uint8_t *p, int le) {
    uint64_t a = rd32(p, le), b = rd32(p + 4, le);
    return le ? a | b << 32 : b | a << 32;
}

/* Tag 0x0112 of directory 0 of TIFF-structured data (classic or BigTIFF); 0 if none. */
static int tiff_orientation(const uint8_t *d, size_t n) {
    if (n >= 6 && memcmp(d, "Exif\0\0", 6) == 0) d += 6, n -= 6; /* as PIL's Exif.load */
    if (n < 8) return 0;
    int le;
    if (d[0] == 'I' && d[1] == 'I') le = 1;
    else if (d[0] == 'M' && d[1] == 'M') le = 0;
    else return 0;
    unsigned magic = rd16(d + 2, le);
    int big = magic == 43;
    if (magic != 42 && !big) return 0;
    uint64_t ifd;
    if (big) {
        if (n < 16 || rd16(d + 4, le) != 8) return 0;
        ifd = rd64(d + 8, le);
    } else {
        ifd = rd32(d + 4, le);
    }
    size_t head = big ? 8 : 2, entry = big ? 20 : 12;
    if (ifd > n || n - ifd < head) return 0;
    uint64_t count = big ? rd64(d + ifd, le) : rd16(d + ifd, le);
    const uint8_t *e = d + ifd + head;
    size_t room = (size_t)(n - ifd - head) / entry;
    if (count > room) count = room;
    for (uint64_t i = 0; i < count; i++, e += entry) {
        if (rd16(e, le) != 0x0112) continue;
        unsigned type = rd16(e + 2, le);
        uint64_t num = big ? rd64(e + 4, le) : rd32(e + 4, le);
        const uint8_t *v = e + (big ? 12 : 8); /* a value of up to 4 bytes (8 in BigTIFF) is in the entry */
        if (num < 1) return 0;
        /* The standard's type is SHORT, but PIL takes any number that equals 1..8: signed,
         * float, or a (signed) rational or double, whose 8 bytes lie at an offset in classic TIFF. */
        if (!big && (type == 5 || type == 10 || type == 12)) {
            uint32_t at = rd32(v, le);
            if (at > n || n - at < 8) return 0;
            v = d + at;
        }
        double o;
        switch (type) {
        case 3: o = rd16(v, le); break;
        case 4: o = rd32(v, le); break;
        case 6: o = (int8_t)v[0]; break;
        case 8: o = (int16_t)rd16(v, le); break;
        case 9: o = (int32_t)rd32(v, le); break;
        case 5: o = rd32(v + 4, le) ? (double)rd32(v, le) / rd32(v + 4, le) : 0; break;
        case 10: o = (int32_t)rd32(v + 4, le) ? (double)(int32_t)rd32(v, le) / (int32_t)rd32(v + 4, le) : 0; break;
        case 11: {
            uint32_t bits = rd32(v, le);
            float f;
            memcpy(&f, &bits, sizeof f);
            o = f;
            break;
        }
        case 12: {
            uint64_t bits = rd64(v, le);
            memcpy(&o, &bits, sizeof o);
            break;
        }
        default: return 0; /* BYTE, UNDEFINED and ASCII are bytes or text to PIL, no number */
        }
        return o >= 1 && o <= 8 && o == (int)o ? (int)o : 0;
    }
    return 0;
}

static int jpeg_orientation(const uint8_t *d, size_t n) {
    size_t p = 2;
    while (p + 4 <= n) {
        if (d[p] != 0xFF) { /* junk between segments: skipped, as PIL (and libjpeg) do */
            p++;
            continue;
        }
        unsigned m = d[p + 1];
        if (m == 0xFF) { /* fill byte */
            p++;
            continue;
        }
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { /* no length */
            p += 2;
            continue;
        }
        if (m == 0xDA || m == 0xD9) return 0; /* image data: the metadata is before it */
        size_t len = (size_t)d[p + 2] << 8 | d[p + 3];
        if (len < 2 || len > n - p - 2) return 0;
        if (m == 0xE1 && len >= 8 && memcmp(d + p + 4, "Exif\0\0", 6) == 0)
            return tiff_orientation(d + p + 4, len - 2); /* the first Exif segment, as PIL */
        p += 2 + len;
    }
    return 0;
}

static int png_orientation(const uint8_t *d, size_t n) {
    size_t p = 8;
    while (p + 12 <= n) {
        size_t len = (size_t)rd32(d + p, 0);
        if (len > n - p - 12) return 0;
        if (memcmp(d + p + 4, "eXIf", 4) == 0) return tiff_orientation(d + p + 8, len);
        if (memcmp(d + p + 4, "IEND", 4) == 0) return 0;
        p += 12 + len;
    }
    return 0;
}

static int webp_orientation(const uint8_t *d, size_t n) {
    size_t p = 12; /* after "RIFF" size "WEBP" */
    while (p + 8 <= n) {
        size_t len = (size_t)rd32(d + p + 4, 1);
        if (len > n - p - 8) return 0;
        if (memcmp(d + p, "EXIF", 4) == 0) return tiff_orientation(d + p + 8, len);
        p += 8 + len + (len & 1);
    }
    return 0;
}

int rn_exif_orientation(const uint8_t *d, size_t n, rn_format fmt) {
    if (!d) return 0;
    switch (fmt) {
    case RN_FORMAT_JPEG: return jpeg_orientation(d, n);
    case RN_FORMAT_PNG: return png_orientation(d, n);
    case RN_FORMAT_WEBP: return webp_orientation(d, n);
    case RN_FORMAT_TIFF: return tiff_orientation(d, n);
    default: return 0;
    }
}

resnet_status rn_image_orient(rn_image *img, int orientation, const char *name, resnet_error *err) {
    if (orientation < 2 || orientation > 8) return RESNET_OK;
    const long w = img->width, h = img->height;
    const int swap = orientation >= 5; /* transpose, rotations by 90: width and height swap */
    const long ow = swap ? h : w, oh = swap ? w : h;
    uint8_t *dst = malloc((size_t)w * (size_t)h * 3);
    if (!dst) return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory turning a %ldx%ld image", name, w, h);
    /* For each output pixel (x, y), the source pixel (sx, sy): PIL's exif_transpose methods. */
    for (long y = 0; y < oh; y++) {
        uint8_t *o = dst + (size_t)y * (size_t)ow * 3;
        for (long x = 0; x < ow; x++, o += 3) {
            long sx, sy;
            switch (orientation) {
            case 2: sx = w - 1 - x, sy = y; break;         /* FLIP_LEFT_RIGHT */
            case 3: sx = w - 1 - x, sy = h - 1 - y; break; /* ROTATE_180 */
            case 4: sx = x, sy = h - 1 - y; break;         /* FLIP_TOP_BOTTOM */
            case 5: sx = y, sy = x; break;                 /* TRANSPOSE */
            case 6: sx = y, sy = h - 1 - x; break;         /* ROTATE_270: 90 degrees clockwise */
            case 7: sx = w - 1 - y, sy = h - 1 - x; break; /* TRANSVERSE */
            default: sx = w - 1 - y, sy = x; break;        /* 8, ROTATE_90: counter-clockwise */
            }
            memcpy(o, img->rgb + ((size_t)sy * (size_t)w + (size_t)sx) * 3, 3);
        }
    }
    free(img->rgb);
    img->rgb = dst;
    img->width = (int)ow;
    img->height = (int)oh;
    return RESNET_OK;
}
