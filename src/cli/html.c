/* html.c - what the HTML reports (eval --report, classify --report) share: text made safe for
 * HTML, and photos shrunk to thumbnails embedded in the page as PNG data: URIs. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/html.h"

#define THUMB 128 /* a thumbnail's longer side, pixels */

/* ---- text ------------------------------------------------------------------------------ */

/* Length of the UTF-8 sequence at p (1..4), 0 if it is not one. */
static int utf8_len(const unsigned char *p) {
    int n = p[0] < 0x80 ? 1 : (p[0] & 0xE0) == 0xC0 && p[0] >= 0xC2 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3
                                                                         : (p[0] & 0xF8) == 0xF0 && p[0] <= 0xF4 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    return n;
}

/* s as HTML text (also safe inside a quoted attribute): markup characters as entities,
 * control characters and bytes that are not UTF-8 as \xHH, as the tool prints names. */
void cli_html_text(FILE *f, const char *s) {
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;) {
        int n = utf8_len(p);
        if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
            fprintf(f, "\\x%02x", *p++);
            continue;
        }
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fwrite(p, 1, (size_t)n, f);
        }
        p += n;
    }
}

static void base64(FILE *f, const unsigned char *d, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=', i + 2 < n ? tab[v & 63] : '='};
        fwrite(q, 1, 4, f);
    }
}

/* ---- pictures -------------------------------------------------------------------------- */

/* img shrunk (box average) so that its longer side is at most THUMB; a new image. */
int cli_html_thumbnail(const resnet_image *img, resnet_image *out) {
    int w = img->width, h = img->height, big = w > h ? w : h;
    int ow = big > THUMB ? (int)((long)w * THUMB / big) : w, oh = big > THUMB ? (int)((long)h * THUMB / big) : h;
    if (ow < 1) ow = 1;
    if (oh < 1) oh = 1;
    out->width = ow, out->height = oh;
    out->rgb = malloc((size_t)ow * oh * 3);
    if (!out->rgb) return -1;
    for (int y = 0; y < oh; y++) {
        long y0 = (long)y * h / oh, y1 = (long)(y + 1) * h / oh;
        if (y1 <= y0) y1 = y0 + 1;
        for (int x = 0; x < ow; x++) {
            long x0 = (long)x * w / ow, x1 = (long)(x + 1) * w / ow;
            if (x1 <= x0) x1 = x0 + 1;
            unsigned long sum[3] = {0, 0, 0}, cnt = (unsigned long)((y1 - y0) * (x1 - x0));
            for (long yy = y0; yy < y1; yy++)
                for (long xx = x0; xx < x1; xx++)
                    for (int c = 0; c < 3; c++) sum[c] += img->rgb[((size_t)yy * w + (size_t)xx) * 3 + c];
            for (int c = 0; c < 3; c++) out->rgb[((size_t)y * ow + x) * 3 + c] = (unsigned char)((sum[c] + cnt / 2) / cnt);
        }
    }
    return 0;
}

/* <img> of img as an embedded PNG; a placeholder when it cannot be encoded. */
void cli_html_img(FILE *f, const resnet_image *img, const char *alt) {
    unsigned char *png = NULL;
    size_t size = 0;
    resnet_error err;
    if (!img->rgb || resnet_image_encode_png(img, &png, &size, &err) != RESNET_OK) {
        fputs("<div class=\"missing\">(no picture)</div>", f);
        return;
    }
    fprintf(f, "<img width=\"%d\" height=\"%d\" alt=\"", img->width, img->height);
    cli_html_text(f, alt);
    fputs("\" src=\"data:image/png;base64,", f);
    base64(f, png, size);
    fputs("\">", f);
    free(png);
}

