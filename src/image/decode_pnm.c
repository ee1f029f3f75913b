/* decode_pnm.c - Netpbm PBM/PGM/PPM (P1-P6) to 8-bit RGB, as PIL's PpmImagePlugin +
 * convert("RGB").
 *
 * Our own parser: the format is a text header and raw or decimal samples, there is no Debian
 * library for it that follows PIL, and owning it lets the header be checked before any
 * allocation. PIL's rules, which we follow:
 *   header        magic, width, height and (but for bitmaps) maxval, as whitespace-separated
 *                 tokens of at most 10 characters; '#' starts a comment up to CR or LF; one
 *                 whitespace character ends the header
 *   P4, P1        bit (or '1') set = black, clear (or '0') = white
 *   P5, P6        maxval 255: the bytes as they are; other maxvals (1..65535; two big-endian
 *                 bytes per sample above 255): min(255, round(v / maxval * 255)), rounding
 *                 half to even as Python's round() does
 *   P2, P3        decimal samples, each at most maxval, scaled the same way
 * One deliberate difference, as for 16-bit grey PNG (decode_png.c): PIL opens a grey map with
 * a maxval above 255 as 32-bit mode "I" and convert("RGB") then clips every value above 255
 * to white, which blanks the photo; we scale it as PIL scales 16-bit colour maps. A file
 * shorter than its samples is truncated (PIL: "not enough image data").
 */
#include "image/image_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct pnm_reader {
    const uint8_t *d;
    size_t n, pos;
} pnm_reader;

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* PIL's _read_token: skips whitespace and comments, reads up to a whitespace character
 * (consumed). Returns the value, -1 at EOF or for anything but a whole number, -2 for a
 * token over 10 characters. */
static long read_token(pnm_reader *r) {
    char tok[12];
    int len = 0;
    while (len <= 10) {
        if (r->pos >= r->n) break;
        int c = r->d[r->pos++];
        if (is_space(c)) {
            if (!len) continue;
            break;
        }
        if (c == '#') {
            while (r->pos < r->n && r->d[r->pos] != '\r' && r->d[r->pos] != '\n') r->pos++;
            if (r->pos < r->n) r->pos++;
            continue;
        }
        tok[len++] = (char)c;
    }
    if (len == 0) return -1;
    if (len > 10) return -2;
    long v = 0;
    for (int i = 0; i < len; i++) {
        if (tok[i] < '0' || tok[i] > '9') return -1;
        v = v * 10 + (tok[i] - '0');
    }
    return v;
}

/* Python's round(v / maxval * 255) for 0 <= v <= 65535 (the same double operations; the
 * default rounding mode rounds halves to even). */
static uint8_t scale_sample(unsigned v, unsigned maxval) {
    double x = nearbyint((double)v / (double)maxval * 255.0);
    return x >= 255.0 ? 255 : (uint8_t)x;
}

/* The next decimal sample of a plain (P2, P3) file, comments skipped; -1 at EOF, -2 for a
 * bad character or a token over 10 digits. */
static long plain_sample(pnm_reader *r) {
    for (;;) {
        while (r->pos < r->n && is_space(r->d[r->pos])) r->pos++;
        if (r->pos >= r->n) return -1;
        if (r->d[r->pos] != '#') break;
        while (r->pos < r->n && r->d[r->pos] != '\r' && r->d[r->pos] != '\n') r->pos++;
    }
    long v = 0;
    int len = 0;
    while (r->pos < r->n && !is_space(r->d[r->pos]) && r->d[r->pos] != '#') {
        int c = r->d[r->pos++];
        if (c < '0' || c > '9' || ++len > 10) return -2;
        v = v * 10 + (c - '0');
    }
    return v;
}

resnet_status rn_decode_pnm(const uint8_t *d, size_t n, const char *name, rn_image *out, resnet_error *err) {
    pnm_reader r = {d, n, 0};
    /* PIL's _read_magic: up to 6 characters until whitespace, which must be P1..P6. */
    while (r.pos < n && r.pos < 6 && !is_space(d[r.pos])) r.pos++;
    if (r.pos != 2 || d[0] != 'P' || d[1] < '1' || d[1] > '6')
        return rn_fail(err, RESNET_E_IMAGE, "%s: not a PBM, PGM or PPM file", name);
    if (r.pos < n) r.pos++; /* the whitespace after the magic */
    const int kind = d[1] - '0', plain = kind <= 3, bitmap = kind == 1 || kind == 4;
    const int channels = (kind == 3 || kind == 6) ? 3 : 1;
    long w = read_token(&r), h = w >= 0 ? read_token(&r) : -1, maxval = 1;
    if (!bitmap && h >= 0) maxval = read_token(&r);
    if (w < 0 || h < 0 || maxval < 0)
        return rn_fail(err, RESNET_E_IMAGE, "%s: bad PNM header (%s)", name,
                       (w == -2 || h == -2 || maxval == -2) ? "token too long" : "a size or maxval that is not a number");
    if (!bitmap && (maxval < 1 || maxval > 65535))
        return rn_fail(err, RESNET_E_IMAGE, "%s: PNM maxval must be 1..65535, got %ld", name, maxval);
    resnet_status st = rn_image_alloc(out, w, h, name, err);
    if (st != RESNET_OK) return st;
    const size_t npx = (size_t)w * (size_t)h; /* within the pixel limit */
    uint8_t *o = out->rgb;
    int bad = 0; /* 1: truncated, 2: bad sample */
    if (kind == 4) {
        size_t rowbytes = ((size_t)w + 7) / 8;
        if (n - r.pos < rowbytes * (size_t)h) bad = 1;
        for (long y = 0; !bad && y < h; y++) {
            const uint8_t *row = d + r.pos + rowbytes * (size_t)y;
            for (long x = 0; x < w; x++, o += 3) o[0] = o[1] = o[2] = (row[x >> 3] >> (7 - (x & 7))) & 1 ? 0 : 255;
        }
    } else if (kind == 1) {
        for (size_t i = 0; !bad && i < npx; o += 3) {
            if (r.pos >= n) {
                bad = 1;
                break;
            }
            int c = d[r.pos++];
            if (c == '#') {
                while (r.pos < n && d[r.pos] != '\r' && d[r.pos] != '\n') r.pos++;
                o -= 3;
                continue;
            }
            if (is_space(c)) {
                o -= 3;
                continue;
            }
            if (c != '0' && c != '1') bad = 2;
            o[0] = o[1] = o[2] = c == '1' ? 0 : 255;
            i++;
        }
    } else if (plain) {
        for (size_t i = 0; !bad && i < npx; i++, o += 3) {
            for (int c = 0; c < channels; c++) {
                long v = plain_sample(&r);
                if (v == -1) bad = 1;
                else if (v < 0 || v > maxval) bad = 2;
                if (bad) break;
                o[c] = scale_sample((unsigned)v, (unsigned)maxval);
            }
            if (channels == 1) o[1] = o[2] = o[0];
        }
    } else {
        const size_t bytes = maxval > 255 ? 2 : 1;
        if ((n - r.pos) / bytes / (size_t)channels < npx) bad = 1;
        const uint8_t *s = d + r.pos;
        for (size_t i = 0; !bad && i < npx; i++, o += 3) {
            for (int c = 0; c < channels; c++, s += bytes) {
                unsigned v = bytes == 2 ? (unsigned)s[0] << 8 | s[1] : s[0];
                o[c] = maxval == 255 ? (uint8_t)v : scale_sample(v > (unsigned)maxval ? (unsigned)maxval : v, (unsigned)maxval);
            }
            if (channels == 1) o[1] = o[2] = o[0];
        }
    }
    if (bad) {
        rn_image_free(out);
        return bad == 1 ? rn_fail(err, RESNET_E_IMAGE, "%s: truncated PNM data", name)
                        : rn_fail(err, RESNET_E_IMAGE, "%s: bad sample in plain PNM data", name);
    }
    return RESNET_OK;
}
