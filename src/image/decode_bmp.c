/* decode_bmp.c - Windows BMP to 8-bit RGB, as PIL's BmpImagePlugin + convert("RGB").
 *
 * Our own parser rather than a library: Debian has no BMP library whose behaviour follows
 * PIL's (which is itself a small Python parser), the format is a header and raw rows, and a
 * parser of our own lets every size be checked before anything is allocated. What PIL reads,
 * we read, the same way:
 *   headers       OS/2 core (12 bytes) and Windows 40, 64, 108 and 124-byte headers; a
 *                 height with its top byte 0xFF means top-down rows (PIL's test)
 *   1, 4, 8 bits  palette (BGR0 entries, BGR for the 12-byte header) looked up; indices past
 *                 the palette give (i, i, i), PIL's palette default
 *   16 bits       5-5-5 (BI_RGB), or the 5-6-5 and 5-5-5 bit fields; v * 255 / max per channel
 *   24 bits       BGR
 *   32 bits       BGRX (BI_RGB) or the bit-field layouts PIL accepts; alpha dropped
 * Pixel data starts at the file header's offset; when that offset points right after the
 * header of a palette image, the palette (4 bytes an entry) is skipped, as PIL does; an offset
 * of 0 means right after the header, the bit masks and the palette (PIL's file position).
 *   RLE8, RLE4    4 or 8-bit palette images, run-length encoded (below)
 * A file shorter than its rows is truncated (PIL refuses those too).
 *
 * RLE (BI_RLE8, BI_RLE4) is decoded as PIL 9.4's BmpRleDecoder (Debian 12's, the reference's)
 * does, which is not always what the format's specification says: the records fill a stream
 * of palette indices, the first row of the stream being the bottom one; an encoded record
 * (count, value) adds count copies (RLE4: the value's two nibbles by turns), cut at the end of
 * the row; an absolute record (0, n >= 3) adds n indices (RLE4: n / 2 bytes read, so an odd
 * n loses its last pixel), then the file position is rounded up to even; an end of line
 * (0, 0) fills the row with index 0; an end of bitmap (0, 1) or the end of the file stops.
 * The stream must then hold every pixel, or the file is refused ("not enough image data",
 * as PIL). Delta records (0, 2, dx, dy) are refused: PIL 9.4 reads them wrongly (the two
 * bytes after dx and dy as the offsets), so no answer of ours would be both right and PIL's.
 */
#include "image/image_internal.h"

#include <stdlib.h>
#include <string.h>

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static unsigned le16(const uint8_t *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }

/* One channel of a bit-field pixel: its bits shifted down and scaled to 0..255 (integer
 * division, as PIL's BGR;15 and BGR;16 unpackers). */
typedef struct field {
    uint32_t mask;
    int shift;
    uint32_t max;
} field;

static field make_field(uint32_t mask) {
    field f = {mask, 0, 0};
    if (mask) {
        while (!((mask >> f.shift) & 1)) f.shift++;
        f.max = mask >> f.shift;
    }
    return f;
}

static uint8_t field_value(const field *f, uint32_t px) {
    if (!f->max) return 0;
    uint32_t v = (px & f->mask) >> f->shift;
    return (uint8_t)(f->max == 255 ? v : (uint32_t)((uint64_t)v * 255 / f->max));
}

/* The bit-field layouts PIL accepts (BmpImagePlugin's SUPPORTED), r g b a. */
static int supported_fields(int bits, const uint32_t m[4]) {
    static const uint32_t l32[][4] = {{0xFF0000, 0xFF00, 0xFF, 0x0},       {0xFF000000, 0xFF0000, 0xFF00, 0x0},
                                      {0xFF000000, 0xFF0000, 0xFF00, 0xFF}, {0xFF, 0xFF00, 0xFF0000, 0xFF000000},
                                      {0xFF0000, 0xFF00, 0xFF, 0xFF000000}, {0x0, 0x0, 0x0, 0x0}};
    if (bits == 32) {
        for (size_t i = 0; i < sizeof l32 / sizeof l32[0]; i++)
            if (memcmp(l32[i], m, sizeof l32[i]) == 0) return 1;
        return 0;
    }
    if (bits == 24) return m[0] == 0xFF0000 && m[1] == 0xFF00 && m[2] == 0xFF;
    if (bits == 16) return (m[0] == 0xF800 && m[1] == 0x7E0 && m[2] == 0x1F) || (m[0] == 0x7C00 && m[1] == 0x3E0 && m[2] == 0x1F);
    return 0;
}

enum { BI_RGB = 0, BI_RLE8 = 1, BI_RLE4 = 2, BI_BITFIELDS = 3 };

/* The RLE stream at d[offset..n) into out (allocated, width x height), as the comment at the
 * top says; out->rgb is first filled with palette index 0, the index of what no record sets. */
static resnet_status decode_rle(const uint8_t *d, size_t n, size_t offset, int rle4, int topdown,
                                const uint8_t *palette, const char *name, rn_image *out, resnet_error *err) {
    const size_t w = (size_t)out->width, total = w * (size_t)out->height;
    for (size_t i = 0; i < total; i++) memcpy(out->rgb + 3 * i, palette, 3);
    size_t len = 0, x = 0, pos = offset; /* indices so far, the stream's column, the file position */
#define PUT(v)                                                                                   \
    do {                                                                                         \
        if (len < total) {                                                                       \
            size_t row_ = len / w, y_ = topdown ? row_ : (size_t)out->height - 1 - row_;          \
            memcpy(out->rgb + 3 * (y_ * w + len % w), palette + 3 * (size_t)(v), 3);             \
        }                                                                                        \
        len++;                                                                                   \
    } while (0)
    while (len < total && n - pos >= 2) {
        unsigned count = d[pos], value = d[pos + 1];
        pos += 2;
        if (count) { /* encoded: cut at the end of the row */
            size_t k = x + count > w ? (x < w ? w - x : 0) : count;
            for (size_t i = 0; i < k; i++) PUT(rle4 ? (i % 2 ? value & 15u : value >> 4) : value);
            x += k;
        } else if (value == 0) { /* end of line */
            len = (len + w - 1) / w * w;
            x = 0;
        } else if (value == 1) { /* end of bitmap */
            break;
        } else if (value == 2) {
            return rn_fail(err, RESNET_E_IMAGE, "%s: RLE-compressed BMP with a delta record is not supported", name);
        } else { /* absolute: value indices, then the position rounded up to even */
            size_t bytes = rle4 ? value / 2 : value, got = n - pos < bytes ? n - pos : bytes;
            for (size_t i = 0; i < got; i++) {
                if (rle4) {
                    PUT(d[pos + i] >> 4);
                    PUT(d[pos + i] & 15u);
                } else {
                    PUT(d[pos + i]);
                }
            }
            pos += got;
            if (got < bytes) break;
            x += value;
            if (pos % 2 && pos < n) pos++;
        }
    }
#undef PUT
    if (len < total)
        return rn_fail(err, RESNET_E_IMAGE, "%s: truncated BMP data (the RLE stream ends before the last pixel)", name);
    return RESNET_OK;
}

resnet_status rn_decode_bmp(const uint8_t *d, size_t n, const char *name, rn_image *out, resnet_error *err) {
    if (n < 18) return rn_fail(err, RESNET_E_IMAGE, "%s: truncated BMP header", name);
    uint32_t offset = le32(d + 10), hsize = le32(d + 14);
    if (hsize != 12 && hsize != 40 && hsize != 64 && hsize != 108 && hsize != 124)
        return rn_fail(err, RESNET_E_IMAGE, "%s: unsupported BMP header type (%u bytes)", name, (unsigned)hsize);
    if (n < 14 + (size_t)hsize) return rn_fail(err, RESNET_E_IMAGE, "%s: truncated BMP header", name);
    const uint8_t *h = d + 18; /* the header after its size field */
    long width, height;
    int bits, topdown = 0;
    uint32_t compression = BI_RGB, colors = 0, masks[4] = {0, 0, 0, 0};
    size_t pos = 14 + (size_t)hsize; /* the palette, or the masks of a 40-byte header */
    size_t after = pos; /* past the masks and palette: where PIL reads pixels from if offset is 0 */
    if (hsize == 12) {
        width = (long)le16(h);
        height = (long)le16(h + 2);
        bits = (int)le16(h + 6);
    } else {
        width = (long)le32(h); /* unsigned, as PIL reads it: a negative width is too wide */
        topdown = h[7] == 0xFF;
        height = topdown ? (long)(0x100000000ull - le32(h + 4)) : (long)le32(h + 4);
        bits = (int)le16(h + 10);
        compression = le32(h + 12);
        colors = le32(h + 28);
        if (compression == BI_BITFIELDS) {
            if (hsize >= 56) {
                for (int i = 0; i < 4; i++) masks[i] = le32(h + 36 + 4 * i);
            } else {
                if (n < pos + 12) return rn_fail(err, RESNET_E_IMAGE, "%s: truncated BMP bit fields", name);
                for (int i = 0; i < 3; i++) masks[i] = le32(d + pos + 4 * i);
                after = pos + 12;
            }
        }
    }
    if (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32)
        return rn_fail(err, RESNET_E_IMAGE, "%s: unsupported BMP pixel depth (%d)", name, bits);
    const int rle = compression == BI_RLE8 || compression == BI_RLE4;
    if (rle && bits != 4 && bits != 8)
        return rn_fail(err, RESNET_E_IMAGE, "%s: unsupported RLE-compressed BMP of %d bits a pixel", name, bits);
    if (!rle && compression != BI_RGB && compression != BI_BITFIELDS)
        return rn_fail(err, RESNET_E_IMAGE, "%s: unsupported BMP compression (%u)", name, (unsigned)compression);
    if (compression == BI_BITFIELDS && !supported_fields(bits, masks))
        return rn_fail(err, RESNET_E_IMAGE, "%s: unsupported BMP bit-field layout", name);
    if (compression == BI_RGB) {
        if (bits == 16) masks[0] = 0x7C00, masks[1] = 0x3E0, masks[2] = 0x1F;
        if (bits == 32) masks[0] = 0xFF0000, masks[1] = 0xFF00, masks[2] = 0xFF;
    }
    if (bits == 32 && !masks[0] && !masks[1] && !masks[2]) /* PIL reads all-zero masks as BGRA */
        masks[0] = 0xFF0000, masks[1] = 0xFF00, masks[2] = 0xFF;

    uint8_t palette[256 * 3];
    if (bits <= 8) {
        if (colors == 0) colors = 1u << bits;
        if (colors > 65536) return rn_fail(err, RESNET_E_IMAGE, "%s: unsupported BMP palette size (%u)", name, (unsigned)colors);
        size_t entry = hsize == 12 ? 3 : 4;
        if (n - pos < entry * colors) return rn_fail(err, RESNET_E_IMAGE, "%s: truncated BMP palette", name);
        for (unsigned i = 0; i < 256; i++) {
            uint8_t *p = palette + 3 * i;
            if (i < colors) {
                const uint8_t *e = d + pos + entry * i;
                p[0] = e[2], p[1] = e[1], p[2] = e[0];
            } else {
                p[0] = p[1] = p[2] = (uint8_t)i;
            }
        }
        if (offset == 14 + hsize) offset += 4 * colors; /* PIL's rule, 4 bytes an entry even for OS/2 */
        after = pos + entry * colors;
    }
    if (offset == 0) offset = (uint32_t)after; /* PIL: "offset or fp.tell()", after what it read */

    /* Sizes first, rows after: nothing is allocated for a header that lies. */
    resnet_status st = rn_image_alloc(out, width, height, name, err);
    if (st != RESNET_OK) return st;
    if (rle) {
        st = offset > n ? rn_fail(err, RESNET_E_IMAGE, "%s: truncated BMP data", name)
                        : decode_rle(d, n, offset, compression == BI_RLE4, topdown, palette, name, out, err);
        if (st != RESNET_OK) rn_image_free(out);
        return st;
    }
    size_t stride = (((size_t)width * (size_t)bits + 31) >> 3) & ~(size_t)3, need;
    if (offset > n || !rn_mul_size(stride, (size_t)height, &need) || n - offset < need) {
        rn_image_free(out);
        return rn_fail(err, RESNET_E_IMAGE, "%s: truncated BMP data (%dx%d, %d bits)", name, (int)width, (int)height, bits);
    }
    field f[3] = {make_field(masks[0]), make_field(masks[1]), make_field(masks[2])};
    for (long y = 0; y < height; y++) {
        const uint8_t *src = d + offset + stride * (size_t)(topdown ? y : height - 1 - y);
        uint8_t *dst = out->rgb + (size_t)y * (size_t)width * 3;
        for (long x = 0; x < width; x++, dst += 3) {
            if (bits <= 8) {
                unsigned idx = bits == 8 ? src[x]
                             : bits == 4 ? (src[x >> 1] >> (x & 1 ? 0 : 4)) & 15u
                                         : (src[x >> 3] >> (7 - (x & 7))) & 1u;
                memcpy(dst, palette + 3 * idx, 3);
            } else if (bits == 24) {
                const uint8_t *p = src + 3 * x;
                dst[0] = p[2], dst[1] = p[1], dst[2] = p[0];
            } else {
                uint32_t px = bits == 16 ? le16(src + 2 * x) : le32(src + 4 * x);
                for (int c = 0; c < 3; c++) dst[c] = field_value(&f[c], px);
            }
        }
    }
    return RESNET_OK;
}
