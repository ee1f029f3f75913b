/* decode_tiff.c - the first image of a TIFF to 8-bit RGB with libtiff, as PIL's
 * TiffImagePlugin + convert("RGB").
 *
 * libtiff only decompresses here (strips or tiles, any compression it was built with, fill
 * order and byte order undone); the conversion to RGB is ours, to follow PIL's table of
 * modes rather than libtiff's TIFFRGBAImage (which premultiplies alpha and differs from PIL
 * in other places):
 *   grey 1/2/4/8 bit    scaled to 0..255 (v * 255 / (2^bits - 1)); min-is-white inverted
 *   grey + alpha        alpha dropped
 *   RGB, RGB + extra    extra samples dropped (unassociated or unspecified alpha, as
 *                       PIL's RGBA/RGBX); associated alpha is first undone as PIL's "RGBa"
 *                       unpacker does it: v * 255 / a (truncated, clipped), 0 where a = 0
 *   palette 1/2/4/8 bit the colour map's high bytes (PIL: value // 256)
 *   CMYK 8 bit          PIL's CMYK -> RGB (R = (255 - K) - C * (255 - K) / 255, rounded)
 *   YCbCr with JPEG     decoded to RGB by libtiff's JPEG codec (JPEGCOLORMODE_RGB, as PIL)
 *   16-bit samples      the high byte (PIL's ;16 rawmodes); 16-bit grey too, where PIL
 *                       clips its mode "I;16" to white above 255: as decode_png.c explains
 * Anything else (floating point or signed samples, other photometric interpretations,
 * YCbCr without JPEG, other bit depths) is refused with a one-line error.
 *
 * Hostile input: the size is checked against the pixel limit before anything is allocated;
 * tiles are refused when one tile alone would exceed the pixel limit; libtiff reads from
 * memory with its own allocations capped, and its errors and warnings go to this call's
 * context (libtiff 4.5's per-handle handlers), never to stderr or to global state.
 */
#include "image/image_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

typedef struct tiff_ctx {
    const uint8_t *data;
    toff_t size, pos;
    char detail[200]; /* libtiff's first error message */
} tiff_ctx;

static tmsize_t on_read(thandle_t h, void *buf, tmsize_t len) {
    tiff_ctx *c = h;
    if (len < 0) return -1;
    toff_t left = c->pos < c->size ? c->size - c->pos : 0, want = (toff_t)len < left ? (toff_t)len : left;
    memcpy(buf, c->data + c->pos, (size_t)want);
    c->pos += want;
    return (tmsize_t)want;
}
static tmsize_t on_write(thandle_t h, void *buf, tmsize_t len) { (void)h, (void)buf, (void)len; return -1; }
static toff_t on_seek(thandle_t h, toff_t off, int whence) {
    tiff_ctx *c = h;
    toff_t base = whence == SEEK_CUR ? c->pos : whence == SEEK_END ? c->size : 0;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return (toff_t)-1;
    if (off > (toff_t)-1 - base) return (toff_t)-1;
    c->pos = base + off;
    return c->pos;
}
static int on_close(thandle_t h) { (void)h; return 0; }
static toff_t on_size(thandle_t h) { return ((tiff_ctx *)h)->size; }
static int on_map(thandle_t h, void **base, toff_t *size) { (void)h, (void)base, (void)size; return 0; }
static void on_unmap(thandle_t h, void *base, toff_t size) { (void)h, (void)base, (void)size; }

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)module;
    tiff_ctx *c = user;
    if (!c->detail[0]) {
        /* Some of libtiff's messages start with the file's name, which ours already give. */
        char msg[4096 + sizeof c->detail];
        vsnprintf(msg, sizeof msg, fmt, ap);
        const char *own = tif ? TIFFFileName(tif) : NULL, *text = msg;
        size_t k = own ? strlen(own) : 0;
        if (k && strncmp(msg, own, k) == 0 && msg[k] == ':' && msg[k + 1] == ' ') text = msg + k + 2;
        size_t len = strlen(text) < sizeof c->detail ? strlen(text) : sizeof c->detail - 1;
        memcpy(c->detail, text, len);
        c->detail[len] = '\0';
        for (char *p = c->detail; *p; p++)
            if (*p == '\n' || *p == '\r') *p = ' '; /* one line */
    }
    return 1; /* handled: libtiff prints nothing */
}
static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
    return 1;
}

enum kind { K_GRAY, K_RGB, K_PALETTE, K_CMYK };

typedef struct layout {
    enum kind kind;
    int bps, spp, planar_separate, invert, assoc_alpha;
    int used;            /* samples kept per pixel: 1 grey/palette, 3 RGB, 4 RGBa or CMYK */
    uint8_t palette[256 * 3];
} layout;

/* Sample s of pixel x of a packed row (spp samples a pixel, bps bits each; 16-bit samples
 * are in host order after libtiff): 8 bits or fewer as they are, 16 bits their high byte. */
static unsigned sample_at(const uint8_t *row, long x, int spp, int s, int bps) {
    size_t i = (size_t)x * (size_t)spp + (size_t)s;
    if (bps == 8) return row[i];
    if (bps == 16) {
        uint16_t v;
        memcpy(&v, row + 2 * i, 2);
        return v >> 8;
    }
    size_t bit = i * (size_t)bps;
    return (row[bit >> 3] >> (8 - bps - (int)(bit & 7))) & ((1u << bps) - 1u);
}

/* PIL's CMYK -> RGB (Convert.c cmyk2rgb): nk = 255 - k, nk - round(c * nk / 255). */
static uint8_t cmyk_channel(unsigned c, unsigned k) {
    unsigned nk = 255u - k, t = c * nk + 128u;
    return (uint8_t)(nk - (((t >> 8) + t) >> 8));
}

/* One pixel's kept samples (8-bit reduced, or raw values below 8 bits) to RGB. */
static void to_rgb(const layout *L, const uint8_t *s, uint8_t *dst) {
    switch (L->kind) {
    case K_GRAY: {
        unsigned v = L->bps < 8 ? s[0] * (255u / ((1u << L->bps) - 1u)) : s[0];
        if (L->invert) v = 255u - v;
        dst[0] = dst[1] = dst[2] = (uint8_t)v;
        break;
    }
    case K_PALETTE: memcpy(dst, L->palette + 3 * s[0], 3); break;
    case K_CMYK:
        for (int c = 0; c < 3; c++) dst[c] = cmyk_channel(s[c], s[3]);
        break;
    case K_RGB:
        if (L->assoc_alpha && s[3] == 0) {
            dst[0] = dst[1] = dst[2] = 0;
        } else if (L->assoc_alpha && s[3] != 255) {
            for (int c = 0; c < 3; c++) {
                unsigned v = s[c] * 255u / s[3];
                dst[c] = (uint8_t)(v > 255 ? 255 : v);
            }
        } else {
            memcpy(dst, s, 3);
        }
        break;
    }
}

/* Reads the tags and decides how to convert, PIL's way; 0 with *why set if unsupported. */
static int read_layout(TIFF *tif, layout *L, const char **why) {
    uint16_t bps = 1, spp = 1, photo = 0, planar = PLANARCONFIG_CONTIG, fmt = SAMPLEFORMAT_UINT, comp = 1;
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo)) return *why = "no photometric interpretation", 0;
    if (fmt != SAMPLEFORMAT_UINT && fmt != SAMPLEFORMAT_VOID) return *why = "floating-point or signed samples", 0;
    if (bps != 1 && bps != 2 && bps != 4 && bps != 8 && bps != 16) return *why = "unsupported bits per sample", 0;
    memset(L, 0, sizeof *L);
    L->bps = bps;
    L->spp = spp;
    L->planar_separate = planar == PLANARCONFIG_SEPARATE;
    switch (photo) {
    case PHOTOMETRIC_MINISWHITE:
    case PHOTOMETRIC_MINISBLACK:
        L->kind = K_GRAY, L->used = 1, L->invert = photo == PHOTOMETRIC_MINISWHITE;
        break;
    case PHOTOMETRIC_YCBCR:
        if (comp != COMPRESSION_JPEG) return *why = "YCbCr without JPEG compression", 0;
        /* libtiff's JPEG codec converts to RGB itself, as PIL asks it to. */
        if (!TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB)) return *why = "cannot decode YCbCr", 0;
        /* fall through */
    case PHOTOMETRIC_RGB:
        L->kind = K_RGB, L->used = 3;
        if (spp >= 4) {
            uint16_t n = 0, *extra = NULL;
            if (TIFFGetField(tif, TIFFTAG_EXTRASAMPLES, &n, &extra) && n > 0 && extra &&
                extra[0] == EXTRASAMPLE_ASSOCALPHA)
                L->assoc_alpha = 1, L->used = 4;
        }
        break;
    case PHOTOMETRIC_PALETTE: {
        uint16_t *r, *g, *b;
        if (bps > 8) return *why = "palette of more than 8 bits", 0;
        if (!TIFFGetField(tif, TIFFTAG_COLORMAP, &r, &g, &b)) return *why = "palette image without a colour map", 0;
        unsigned n = 1u << bps;
        for (unsigned i = 0; i < 256; i++) {
            uint8_t *p = L->palette + 3 * i;
            if (i < n) p[0] = (uint8_t)(r[i] >> 8), p[1] = (uint8_t)(g[i] >> 8), p[2] = (uint8_t)(b[i] >> 8);
            else p[0] = p[1] = p[2] = (uint8_t)i;
        }
        L->kind = K_PALETTE, L->used = 1;
        break;
    }
    case PHOTOMETRIC_SEPARATED: {
        uint16_t inkset = INKSET_CMYK;
        TIFFGetFieldDefaulted(tif, TIFFTAG_INKSET, &inkset);
        if (inkset != INKSET_CMYK || bps != 8) return *why = "separated image that is not 8-bit CMYK", 0;
        L->kind = K_CMYK, L->used = 4;
        break;
    }
    default:
        return *why = "unsupported photometric interpretation", 0;
    }
    if (spp < L->used) return *why = "too few samples per pixel", 0;
    if (bps < 8 && (spp != 1 || L->kind == K_RGB)) return *why = "packed samples of several channels", 0;
    if (L->kind == K_RGB && bps < 8) return *why = "RGB of fewer than 8 bits", 0;
    return 1;
}

/* Copies `count` pixels of a decoded row (starting at pixel x0 of the row) into the kept
 * samples: all of them for contiguous data (plane < 0), else the one sample of `plane`. */
static void take(const layout *L, const uint8_t *row, long x0, long count, int plane, uint8_t *dst) {
    if (plane < 0) {
        for (long x = 0; x < count; x++)
            for (int s = 0; s < L->used; s++) dst[(size_t)x * L->used + s] = (uint8_t)sample_at(row, x0 + x, L->spp, s, L->bps);
    } else {
        for (long x = 0; x < count; x++) dst[(size_t)x * L->used + plane] = (uint8_t)sample_at(row, x0 + x, 1, 0, L->bps);
    }
}

static resnet_status decode_image(TIFF *tif, tiff_ctx *c, const char *name, rn_image *out, resnet_error *err) {
    uint32_t w = 0, h = 0;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h))
        return rn_fail(err, RESNET_E_IMAGE, "%s: TIFF without an image size", name);
    layout L;
    const char *why = NULL;
    if (!read_layout(tif, &L, &why)) return rn_fail(err, RESNET_E_IMAGE, "%s: unsupported TIFF: %s", name, why);
    resnet_status st = rn_image_alloc(out, (long)w, (long)h, name, err);
    if (st != RESNET_OK) return st;
    const int planes = L.planar_separate ? L.used : 1;
    const size_t kept_row = (size_t)w * (size_t)L.used;
    /* The kept samples of every pixel (contiguous strips need only one row of them). */
    const int whole = L.planar_separate || TIFFIsTiled(tif);
    size_t kept_bytes = whole ? kept_row * h : kept_row;
    uint8_t *kept = malloc(kept_bytes ? kept_bytes : 1), *buf = NULL;
    int ok = kept != NULL;
    if (!ok) st = rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", name);
    if (ok && TIFFIsTiled(tif)) {
        uint32_t tw = 0, th = 0;
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
        tmsize_t tsize = TIFFTileSize(tif), trow = TIFFTileRowSize(tif);
        if (!tw || !th || (unsigned long long)tw * th > RN_IMAGE_MAX_PIXELS || tsize <= 0 || trow <= 0) {
            ok = 0;
            st = rn_fail(err, RESNET_E_IMAGE, "%s: unsupported TIFF tile size %ux%u", name, (unsigned)tw, (unsigned)th);
        } else if (!(buf = malloc((size_t)tsize))) {
            ok = 0;
            st = rn_fail(err, RESNET_E_NOMEM, "%s: out of memory for a TIFF tile", name);
        }
        for (int p = 0; ok && p < planes; p++)
            for (uint32_t ty = 0; ok && ty < h; ty += th)
                for (uint32_t tx = 0; ok && tx < w; tx += tw) {
                    if (TIFFReadTile(tif, buf, tx, ty, 0, (uint16_t)p) < 0) {
                        ok = 0;
                        break;
                    }
                    long cols = (long)(w - tx < tw ? w - tx : tw), rows = (long)(h - ty < th ? h - ty : th);
                    for (long r = 0; r < rows; r++)
                        take(&L, buf + (size_t)r * (size_t)trow, 0, cols, L.planar_separate ? p : -1,
                             kept + ((size_t)(ty + r) * w + tx) * L.used);
                }
    } else if (ok) {
        /* PackBits strips are read whole, as PIL reads every strip: a run may cross from one
         * row into the next (writers do that, against the specification), and libtiff's
         * row-by-row reading then cuts it, shifting every row after. Other codecs decode a
         * strip row by row as they do whole. */
        uint16_t comp = COMPRESSION_NONE;
        uint32_t rps = h;
        TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
        TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
        if (comp != COMPRESSION_PACKBITS || rps == 0 || rps > h) rps = comp == COMPRESSION_PACKBITS ? h : 1;
        tmsize_t ssize = TIFFScanlineSize(tif);
        size_t bufsize;
        /* a strip of an image within the pixel limit holds at most 8 bytes a pixel (16-bit RGBA)
         * but for extra samples; more is a header that lies */
        if (ssize <= 0 || !rn_mul_size((size_t)ssize, rps, &bufsize) ||
            (rps > 1 && bufsize > (size_t)RN_IMAGE_MAX_PIXELS * 8) || !(buf = malloc(bufsize))) {
            ok = 0;
            st = rn_fail(err, RESNET_E_IMAGE, "%s: unusable TIFF scanline size", name);
        }
        for (int p = 0; ok && p < planes; p++)
            for (uint32_t y = 0; ok && y < h; y++) {
                const uint8_t *row = buf + (size_t)(y % rps) * (size_t)ssize;
                if (comp != COMPRESSION_PACKBITS ? TIFFReadScanline(tif, buf, y, (uint16_t)p) < 0
                    : y % rps == 0 && TIFFReadEncodedStrip(tif, TIFFComputeStrip(tif, y, (uint16_t)p), buf,
                                                           (tmsize_t)(h - y < rps ? h - y : rps) * ssize) < 0) {
                    ok = 0;
                    break;
                }
                uint8_t *dst = whole ? kept + (size_t)y * kept_row : kept;
                take(&L, row, 0, (long)w, L.planar_separate ? p : -1, dst);
                if (!whole)
                    for (uint32_t x = 0; x < w; x++) to_rgb(&L, kept + (size_t)x * L.used, out->rgb + ((size_t)y * w + x) * 3);
            }
    }
    if (ok && whole)
        for (size_t i = 0; i < (size_t)w * h; i++) to_rgb(&L, kept + i * L.used, out->rgb + 3 * i);
    if (!ok && st == RESNET_OK)
        st = rn_fail(err, RESNET_E_IMAGE, "%s: corrupt or truncated TIFF: %s", name, c->detail[0] ? c->detail : "read failed");
    free(buf);
    free(kept);
    if (st != RESNET_OK) rn_image_free(out);
    return st;
}

resnet_status rn_decode_tiff(const uint8_t *data, size_t size, const char *name, rn_image *out, resnet_error *err) {
    tiff_ctx c = {data, (toff_t)size, 0, ""};
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts) return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory (libtiff)", name);
    TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, &c);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, &c);
    /* No single allocation of libtiff's larger than the largest strip of an image within the
     * pixel limit (16-bit RGBA: 8 bytes a pixel; 1 GiB in the library), so a directory that
     * claims huge tag arrays or strips fails in libtiff instead of allocating. */
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, (tmsize_t)RN_IMAGE_MAX_PIXELS * 8 + ((tmsize_t)1 << 20));
    /* "m": no memory mapping (we hand it memory through on_read anyway). */
    TIFF *tif = TIFFClientOpenExt(name, "rm", &c, on_read, on_write, on_seek, on_close, on_size, on_map, on_unmap, opts);
    TIFFOpenOptionsFree(opts);
    if (!tif)
        return rn_fail(err, RESNET_E_IMAGE, "%s: corrupt or unsupported TIFF: %s", name, c.detail[0] ? c.detail : "cannot open");
    resnet_status st = decode_image(tif, &c, name, out, err);
    TIFFClose(tif);
    return st;
}
