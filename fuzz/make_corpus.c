/* make_corpus.c - writes the seed corpora of the fuzz harnesses: small valid files of every
 * kind each parser accepts, and deliberately broken ones (truncated, corrupt, lying headers).
 *
 *     make_corpus OUTDIR      -> OUTDIR/image/, OUTDIR/safetensors/, OUTDIR/tfjs/
 *
 * Everything is made here (PNG with libpng, JPEG with libjpeg, safetensors and TF.js by
 * hand), deterministically, so the project needs no binary fixtures. `make fuzz` runs it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h> /* before jpeglib.h */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>

static const char *outdir;
static int n_written;

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 256;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void printf_to(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_to(buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    put(b, s, (size_t)n);
    free(s);
}

static void emit(const char *sub, const char *name, const void *d, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", outdir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(d, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    n_written++;
}

/* A file and some broken copies of it: cut in half, cut before the end, a byte flipped. */
static void emit_variants(const char *sub, const char *name, const unsigned char *d, size_t n) {
    char nm[256];
    emit(sub, name, d, n);
    if (n < 16) return;
    snprintf(nm, sizeof nm, "broken-half-%s", name);
    emit(sub, nm, d, n / 2);
    snprintf(nm, sizeof nm, "broken-cut2-%s", name);
    emit(sub, nm, d, n - 2);
    unsigned char *c = malloc(n);
    memcpy(c, d, n);
    c[n * 2 / 3] ^= 0x5a;
    snprintf(nm, sizeof nm, "broken-flip-%s", name);
    emit(sub, nm, c, n);
    free(c);
}

// ---------------------------------------------------------------------------------------
// WebP, TIFF, GIF, BMP, PNM: the small files of tests/data/formats/ (every variant the
// decoders claim, made with PIL by make_formats.py there), each with its broken copies, and
// headers that lie about their size or layout, written here.

static void le16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8); }
static void le32(unsigned char *p, uint32_t v) { le16(p, v & 0xffff), le16(p + 2, v >> 16); }

static void format_files(void) {
    const char *dir = "tests/data/formats";
    char path[1024], line[512];
    snprintf(path, sizeof path, "%s/manifest.tsv", dir);
    FILE *m = fopen(path, "r");
    if (!m) {
        perror(path); /* run from the repository root (the Makefile does) */
        exit(1);
    }
    int n = 0;
    while (fgets(line, sizeof line, m)) {
        char name[256];
        if (n++ == 0 || sscanf(line, "%255[^\t]", name) != 1) continue; /* the header */
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "rb");
        if (!f) {
            perror(path);
            exit(1);
        }
        buf b = {0};
        unsigned char chunk[4096];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) put(&b, chunk, got);
        fclose(f);
        emit_variants("image", name, b.p, b.n);
        free(b.p);
    }
    fclose(m);
}

/* A 40-byte-header BMP of w x h at `bits`, with `data_n` bytes of pixels after it. */
static void bmp_header(const char *name, int32_t w, int32_t h, int bits, uint32_t compression, uint32_t colors,
                       size_t data_n) {
    unsigned char d[54 + 64] = {0};
    d[0] = 'B', d[1] = 'M';
    le32(d + 10, 54);
    le32(d + 14, 40);
    le32(d + 18, (uint32_t)w);
    le32(d + 22, (uint32_t)h);
    le16(d + 26, 1);
    le16(d + 28, (unsigned)bits);
    le32(d + 30, compression);
    le32(d + 46, colors);
    for (size_t i = 54; i < sizeof d; i++) d[i] = (unsigned char)(i * 37);
    emit("image", name, d, 54 + (data_n < 64 ? data_n : 64));
}

static void lying_headers(void) {
    bmp_header("bmp-huge.bmp", 100000, 100000, 24, 0, 0, 64);
    bmp_header("bmp-negative-width.bmp", -5, 4, 24, 0, 0, 64);
    bmp_header("bmp-topdown.bmp", 4, -4, 24, 0, 0, 64);
    bmp_header("bmp-rle8.bmp", 4, 4, 8, 1, 0, 64);
    bmp_header("bmp-palette-65537.bmp", 4, 4, 8, 0, 65537, 64);
    bmp_header("bmp-4bit-short.bmp", 9, 3, 4, 0, 3, 20);
    bmp_header("bmp-bitfields-odd.bmp", 4, 4, 16, 3, 0, 64);
    static const char *const pnm[] = {"P6\n100000 100000\n255\n\x01\x02\x03", "P5 3 2 65535\n\xff\xff\x00\x01",
                                      "P1\n3 2\n1 0 1\n0 2 1\n", "P2 2 2 7 1 2 3 8\n",
                                      "P4\n# comment\n9 2\n\xff\x80\x01\x00", "P3 1 1 99999999999 1 1 1",
                                      "P6\n2 2\n3\n\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b"};
    for (size_t i = 0; i < sizeof pnm / sizeof pnm[0]; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "pnm-%zu.pnm", i);
        emit("image", nm, pnm[i], strlen(pnm[i]));
    }
    /* GIF: a 65535 x 65535 screen; a frame reaching past a small screen; no image at all */
    static const unsigned char gif_huge[] = "GIF89a\xff\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    emit("image", "gif-huge-screen.gif", gif_huge, sizeof gif_huge - 1);
    static const unsigned char gif_past[] = "GIF89a\x02\x00\x02\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
                                            "!\xf9\x04\x01\x00\x00\x01\x00,\x01\x00\x01\x00\x03\x00\x03\x00\x40\x02\x04\x84\x8f\xa9\x0b\x00;";
    emit("image", "gif-frame-past-screen.gif", gif_past, sizeof gif_past - 1);
    emit("image", "gif-no-image.gif", "GIF89a\x01\x00\x01\x00\x00\x00\x00;", 14);
    /* TIFF: 1000000 x 1000000, one strip; a tile of 65536 x 65536 on a 16 x 16 image */
    unsigned char t[8 + 2 + 9 * 12 + 4] = {'I', 'I', 42, 0, 8, 0, 0, 0};
    static const uint16_t tags[9] = {256, 257, 258, 259, 262, 273, 277, 278, 279};
    static const uint32_t vals[9] = {1000000, 1000000, 8, 1, 1, 8, 1, 1000000, 16};
    le16(t + 8, 9);
    for (int i = 0; i < 9; i++) {
        unsigned char *e = t + 10 + 12 * i;
        le16(e, tags[i]);
        le16(e + 2, 4); /* LONG */
        le32(e + 4, 1);
        le32(e + 8, vals[i]);
    }
    emit("image", "tiff-huge.tif", t, sizeof t);
    static const uint16_t ttags[9] = {256, 257, 258, 259, 262, 277, 322, 323, 324};
    static const uint32_t tvals[9] = {16, 16, 8, 1, 1, 1, 65536, 65536, 8};
    for (int i = 0; i < 9; i++) {
        unsigned char *e = t + 10 + 12 * i;
        le16(e, ttags[i]);
        le32(e + 8, tvals[i]);
    }
    emit("image", "tiff-huge-tile.tif", t, sizeof t);
    /* WebP: a VP8X header claiming a 16777216 x 16777216 canvas and no image */
    unsigned char w[30] = {'R', 'I', 'F', 'F', 22, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X', 10, 0, 0, 0,
                           0,   0,   0,   0,   0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    emit("image", "webp-huge-canvas.webp", w, sizeof w);
    /* EXIF: a JPEG whose Exif segment points its directory and entries out of bounds */
    static const unsigned char ex[] = "\xff\xd8\xff\xe1\x00\x16" "Exif\x00\x00MM\x00*\xff\xff\xff\x00\x00\x01\x01\x12\xff\xd9";
    emit("image", "exif-bad-offset.jpg", ex, sizeof ex - 1);
}

// ---------------------------------------------------------------------------------------
// PNG

static void png_write_cb(png_structp png, png_bytep p, size_t n) { put(png_get_io_ptr(png), p, n); }
static void png_flush_cb(png_structp png) { (void)png; }

/* w x h pixels of a gradient, any colour type and depth; interlace 0 or 1 (Adam7). */
static void make_png(const char *name, int w, int h, int depth, int ctype, int interlace, int plte_n, int trns) {
    buf b = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        fprintf(stderr, "libpng failed on %s\n", name);
        exit(1);
    }
    png_set_write_fn(png, &b, png_write_cb, png_flush_cb);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, ctype, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (ctype == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[256];
        for (int i = 0; i < 256; i++) pal[i].red = (png_byte)(i * 7), pal[i].green = (png_byte)(255 - i), pal[i].blue = (png_byte)(i * 3);
        png_set_PLTE(png, info, pal, plte_n);
        png_set_check_for_invalid_index(png, 0); /* pixels may index past the palette */
        if (trns) {
            png_byte t[4] = {0, 128, 255, 7};
            png_set_tRNS(png, info, t, plte_n < 4 ? plte_n : 4, NULL);
        }
    } else if (trns && !(ctype & PNG_COLOR_MASK_ALPHA)) {
        png_color_16 tc = {0, 1, 1, 1, 1};
        png_set_tRNS(png, info, NULL, 0, &tc);
    }
    png_set_gAMA(png, info, 0.45455);
    png_text text = {PNG_TEXT_COMPRESSION_zTXt, "Comment", "fuzz seed", 9, 0, NULL, NULL};
    png_set_text(png, info, &text, 1);
    png_write_info(png, info);
    int channels = ctype == PNG_COLOR_TYPE_PALETTE ? 1 : ctype == PNG_COLOR_TYPE_GRAY ? 1
                 : ctype == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : ctype == PNG_COLOR_TYPE_RGB ? 3 : 4;
    size_t rowbytes = ((size_t)w * channels * depth + 7) / 8;
    unsigned char *rows = calloc((size_t)h, rowbytes);
    for (int y = 0; y < h; y++)
        for (size_t x = 0; x < rowbytes; x++) rows[y * rowbytes + x] = (unsigned char)(x * 37 + y * 11 + (x * y) % 5);
    int passes = png_set_interlace_handling(png);
    for (int p = 0; p < passes; p++)
        for (int y = 0; y < h; y++) png_write_row(png, rows + y * rowbytes);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(rows);
    emit_variants("image", name, b.p, b.n);
    free(b.p);
}

static void be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static uint32_t crc32(const unsigned char *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

/* Signature + IHDR claiming w x h (valid CRC) + an empty IDAT: a decompression bomb's header. */
static void png_header_only(const char *name, uint32_t w, uint32_t h, int depth, int ctype) {
    unsigned char d[45] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    be32(d + 8, 13);
    memcpy(d + 12, "IHDR", 4);
    be32(d + 16, w);
    be32(d + 20, h);
    d[24] = (unsigned char)depth, d[25] = (unsigned char)ctype;
    be32(d + 29, crc32(d + 12, 17));
    be32(d + 33, 0);
    memcpy(d + 37, "IDAT", 4);
    be32(d + 41, crc32(d + 37, 4));
    emit("image", name, d, sizeof d);
}

static void pngs(void) {
    make_png("gray1.png", 9, 5, 1, PNG_COLOR_TYPE_GRAY, 0, 0, 0);
    make_png("gray2.png", 9, 5, 2, PNG_COLOR_TYPE_GRAY, 0, 0, 0);
    make_png("gray4.png", 9, 5, 4, PNG_COLOR_TYPE_GRAY, 0, 0, 1);
    make_png("gray8.png", 9, 5, 8, PNG_COLOR_TYPE_GRAY, 0, 0, 0);
    make_png("gray16.png", 9, 5, 16, PNG_COLOR_TYPE_GRAY, 0, 0, 0);
    make_png("gray16-adam7.png", 11, 9, 16, PNG_COLOR_TYPE_GRAY, 1, 0, 0);
    make_png("graya8.png", 6, 4, 8, PNG_COLOR_TYPE_GRAY_ALPHA, 0, 0, 0);
    make_png("graya16.png", 6, 4, 16, PNG_COLOR_TYPE_GRAY_ALPHA, 0, 0, 0);
    make_png("rgb8.png", 13, 7, 8, PNG_COLOR_TYPE_RGB, 0, 0, 1);
    make_png("rgb16.png", 5, 6, 16, PNG_COLOR_TYPE_RGB, 0, 0, 0);
    make_png("rgb8-adam7.png", 17, 13, 8, PNG_COLOR_TYPE_RGB, 1, 0, 0);
    make_png("rgba8.png", 7, 3, 8, PNG_COLOR_TYPE_RGBA, 0, 0, 0);
    make_png("rgba16-adam7.png", 9, 9, 16, PNG_COLOR_TYPE_RGBA, 1, 0, 0);
    make_png("pal1.png", 10, 3, 1, PNG_COLOR_TYPE_PALETTE, 0, 2, 0);
    make_png("pal2-adam7.png", 10, 10, 2, PNG_COLOR_TYPE_PALETTE, 1, 3, 1);
    make_png("pal4.png", 10, 3, 4, PNG_COLOR_TYPE_PALETTE, 0, 16, 0);
    make_png("pal8-short.png", 8, 8, 8, PNG_COLOR_TYPE_PALETTE, 0, 5, 1); /* indices past PLTE */
    make_png("1x1.png", 1, 1, 8, PNG_COLOR_TYPE_RGB, 0, 0, 0);
    make_png("1x1-adam7.png", 1, 1, 8, PNG_COLOR_TYPE_GRAY, 1, 0, 0);
    make_png("1x40.png", 1, 40, 8, PNG_COLOR_TYPE_RGB, 0, 0, 0);
    make_png("40x1.png", 40, 1, 8, PNG_COLOR_TYPE_RGB, 0, 0, 0);
    make_png("300x2.png", 300, 2, 8, PNG_COLOR_TYPE_GRAY, 0, 0, 0);
    png_header_only("bomb-100000x100000.png", 100000, 100000, 8, 2);
    png_header_only("bomb-11586x11586.png", 11586, 11586, 8, 2); /* just over 2^27 pixels */
    png_header_only("limit-8192x16384-truncated.png", 8192, 16384, 8, 0); /* exactly 2^27: no data */
    png_header_only("zero-width.png", 0, 10, 8, 2);
    png_header_only("bad-depth.png", 10, 10, 3, 2);
    png_header_only("1x1000000.png", 1, 1000000, 8, 0); /* too elongated */
}

// ---------------------------------------------------------------------------------------
// JPEG

typedef struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
} jerr;

static void jerr_exit(j_common_ptr c) { longjmp(((jerr *)c->err)->jump, 1); }

enum { J_444 = 1, J_422 = 2, J_PROGRESSIVE = 4, J_RESTART = 8, J_ARITH = 16, J_OPTIMIZE = 32 };

/* A gradient JPEG; in/cs: input and stored colour spaces. Skipped if libjpeg refuses (e.g. no
 * arithmetic coding). */
static void make_jpeg(const char *name, int w, int h, int comps, J_COLOR_SPACE in, J_COLOR_SPACE cs, int flags,
                      int quality) {
    struct jpeg_compress_struct c;
    jerr e;
    unsigned char *mem = NULL;
    unsigned long size = 0;
    unsigned char *px = malloc((size_t)w * h * comps);
    for (int i = 0; i < w * h * comps; i++) px[i] = (unsigned char)((i * 29 + i / (w * comps) * 7) & 0xff);
    c.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = jerr_exit;
    jpeg_create_compress(&c);
    if (setjmp(e.jump)) {
        fprintf(stderr, "make_corpus: skipped %s (libjpeg refused it)\n", name);
        jpeg_destroy_compress(&c);
        free(mem);
        free(px);
        return;
    }
    jpeg_mem_dest(&c, &mem, &size);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = in;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, cs);
    jpeg_set_quality(&c, quality, TRUE);
    if (flags & (J_444 | J_422))
        for (int i = 0; i < c.num_components; i++) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    if ((flags & J_422) && c.num_components >= 3) c.comp_info[0].h_samp_factor = 2;
    if (flags & J_PROGRESSIVE) jpeg_simple_progression(&c);
    if (flags & J_RESTART) c.restart_in_rows = 1;
    if (flags & J_ARITH) c.arith_code = TRUE;
    if (flags & J_OPTIMIZE) c.optimize_coding = TRUE;
    jpeg_start_compress(&c, TRUE);
    jpeg_write_marker(&c, JPEG_COM, (const JOCTET *)"fuzz seed", 9);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = px + (size_t)c.next_scanline * w * comps;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    emit_variants("image", name, mem, size);
    free(mem);
    free(px);
}

static void jpegs(void) {
    make_jpeg("rgb420.jpg", 33, 17, 3, JCS_RGB, JCS_YCbCr, 0, 75);
    make_jpeg("rgb444.jpg", 16, 16, 3, JCS_RGB, JCS_YCbCr, J_444, 90);
    make_jpeg("rgb422.jpg", 24, 8, 3, JCS_RGB, JCS_YCbCr, J_422, 50);
    make_jpeg("rgb-stored.jpg", 8, 8, 3, JCS_RGB, JCS_RGB, J_444, 80); /* Adobe RGB, no YCbCr */
    make_jpeg("gray.jpg", 19, 11, 1, JCS_GRAYSCALE, JCS_GRAYSCALE, 0, 75);
    make_jpeg("cmyk.jpg", 16, 8, 4, JCS_CMYK, JCS_CMYK, J_444, 90);
    make_jpeg("ycck.jpg", 16, 8, 4, JCS_CMYK, JCS_YCCK, 0, 90);
    make_jpeg("progressive.jpg", 40, 24, 3, JCS_RGB, JCS_YCbCr, J_PROGRESSIVE, 75);
    make_jpeg("progressive-gray.jpg", 17, 9, 1, JCS_GRAYSCALE, JCS_GRAYSCALE, J_PROGRESSIVE, 75);
    make_jpeg("restart.jpg", 32, 32, 3, JCS_RGB, JCS_YCbCr, J_RESTART, 75);
    make_jpeg("arith.jpg", 16, 16, 3, JCS_RGB, JCS_YCbCr, J_ARITH, 75);
    make_jpeg("arith-progressive.jpg", 16, 16, 3, JCS_RGB, JCS_YCbCr, J_ARITH | J_PROGRESSIVE, 75);
    make_jpeg("optimized.jpg", 20, 20, 3, JCS_RGB, JCS_YCbCr, J_OPTIMIZE, 95);
    make_jpeg("1x1.jpg", 1, 1, 3, JCS_RGB, JCS_YCbCr, 0, 75);
    make_jpeg("1x30.jpg", 1, 30, 3, JCS_RGB, JCS_YCbCr, 0, 75);
    make_jpeg("30x1.jpg", 30, 1, 1, JCS_GRAYSCALE, JCS_GRAYSCALE, 0, 75);

    /* lying headers: the size in SOF0 of a tiny baseline JPEG */
    struct { const char *name; unsigned w, h; } lies[] = {
        {"bomb-65000x65000.jpg", 65000, 65000}, {"limit-16384x8192-truncated.jpg", 16384, 8192},
        {"zero-height.jpg", 8, 0}, {"1x65000.jpg", 1, 65000}};
    char path[1024];
    snprintf(path, sizeof path, "%s/image/rgb420.jpg", outdir);
    FILE *f = fopen(path, "rb");
    unsigned char d[8192];
    size_t n = f ? fread(d, 1, sizeof d, f) : 0;
    if (f) fclose(f);
    for (size_t k = 0; k < sizeof lies / sizeof lies[0]; k++) {
        for (size_t i = 2; i + 9 < n; i++) {
            if (d[i] == 0xff && d[i + 1] == 0xc0) {
                unsigned char *c = malloc(n);
                memcpy(c, d, n);
                c[i + 5] = (unsigned char)(lies[k].h >> 8), c[i + 6] = (unsigned char)lies[k].h;
                c[i + 7] = (unsigned char)(lies[k].w >> 8), c[i + 8] = (unsigned char)lies[k].w;
                emit("image", lies[k].name, c, n);
                free(c);
                break;
            }
        }
    }
    emit("image", "empty", "", 0);
    emit("image", "soi-only.jpg", "\xff\xd8\xff", 3);
    emit("image", "signature-only.png", "\x89PNG\r\n\x1a\n", 8);
    emit("image", "not-an-image.txt", "hello, world\n", 13);
}

// ---------------------------------------------------------------------------------------
// safetensors

/* Header JSON (padded with spaces to a multiple of 8 unless raw) + data bytes; the length
 * field says hdr_len_override when non-zero. */
static void st_file(const char *name, const char *header, const void *data, size_t data_n, uint64_t len_override) {
    buf b = {0};
    size_t hl = strlen(header), pad = (8 - hl % 8) % 8;
    uint64_t L = len_override ? len_override : hl + pad;
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(L >> (8 * i));
    put(&b, le, 8);
    put(&b, header, hl);
    put(&b, "        ", pad);
    put(&b, data, data_n);
    emit("safetensors", name, b.p, b.n);
    free(b.p);
}

static void safetensors(void) {
    unsigned char d[256];
    for (int i = 0; i < 256; i++) d[i] = (unsigned char)(i * 73 + 1);
    float f[16] = {0.5f, -1.25f, 3.0f, 1e-3f, 7.0f, -0.0f, 2.5f, 100.0f, 1, 2, 3, 4, 5, 6, 7, 8};
    st_file("empty-object.safetensors", "{}", NULL, 0, 0);
    st_file("metadata.safetensors",
            "{\"__metadata__\":{\"arch\":\"resnet50\",\"variant\":\"v1\",\"normalization\":\"caffe\",\"bn_eps\":\"0.001\","
            "\"source\":\"fuzz \\u00e9\\ud83d\\ude00\"},"
            "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
            "\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,32]}}",
            f, 32, 0);
    st_file("dtypes.safetensors",
            "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
            "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]},"
            "\"c\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[8,16]},"
            "\"d\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[16,24]},"
            "\"e\":{\"dtype\":\"I32\",\"shape\":[1,1],\"data_offsets\":[24,28]},"
            "\"f\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[28,30]},"
            "\"g\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[30,31]},"
            "\"h\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[31,32]},"
            "\"i\":{\"dtype\":\"BOOL\",\"shape\":[0,5],\"data_offsets\":[32,32]}}",
            d, 32, 0);
    st_file("unsorted.safetensors",
            "{\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
            "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
            "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
            f, 8, 0);
    unsigned char special[16] = {0, 0, 0xc0, 0x7f, 0, 0, 0x80, 0x7f, 0, 0, 0x80, 0xff, 1, 0, 0, 0}; /* nan inf -inf denormal */
    st_file("non-finite.safetensors", "{\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", special,
            16, 0);
    unsigned char f64big[8] = {0, 0, 0, 0, 0, 0, 0xf0, 0x47}; /* 2^128: beyond float */
    st_file("f64-out-of-range.safetensors", "{\"x\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", f64big, 8, 0);
    st_file("8dims.safetensors", "{\"x\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,2],\"data_offsets\":[0,2]}}", d, 2, 0);
    /* broken */
    st_file("header-too-long.safetensors", "{}", NULL, 0, 1000);
    st_file("header-huge.safetensors", "{}", NULL, 0, UINT64_MAX);
    st_file("offsets-out-of-range.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", d, 4, 0);
    st_file("overlap.safetensors",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", d, 12, 0);
    st_file("gap.safetensors",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", d, 12, 0);
    st_file("trailing-bytes.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", d, 9, 0);
    st_file("duplicate.safetensors",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", d, 8, 0);
    st_file("shape-bytes-disagree.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", d, 8, 0);
    st_file("shape-overflow.safetensors",
            "{\"x\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,0,9223372036854775807],\"data_offsets\":[0,0]}}",
            NULL, 0, 0);
    st_file("not-json.safetensors", "this is not json", NULL, 0, 0);
    st_file("deep.safetensors", "{\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", NULL, 0, 0);
    st_file("bad-utf8.safetensors", "{\"\xc3\x28\":{}}", NULL, 0, 0);
    st_file("metadata-not-string.safetensors", "{\"__metadata__\":{\"bn_eps\":0.001}}", NULL, 0, 0);
    emit("safetensors", "short", "\x10\0\0", 3);
}

// ---------------------------------------------------------------------------------------
// TF.js: a tiny but complete Keras ResNet-50 (every weight name, small shapes)

typedef struct kw {
    char name[64];
    int ndim;
    int shape[4];
} kw;

static kw K[400];
static int nK;

static void add(const char *name, int ndim, int a, int b, int c, int d) {
    kw *w = &K[nK++];
    snprintf(w->name, sizeof w->name, "%s", name);
    w->ndim = ndim;
    w->shape[0] = a, w->shape[1] = b, w->shape[2] = c, w->shape[3] = d;
}

static void add_conv_bn(const char *conv, const char *bn, int kh, int kwid, int in, int out) {
    char n[64];
    snprintf(n, sizeof n, "%s/kernel", conv), add(n, 4, kh, kwid, in, out);
    snprintf(n, sizeof n, "%s/bias", conv), add(n, 1, out, 0, 0, 0);
    static const char *const p[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
    for (int j = 0; j < 4; j++) snprintf(n, sizeof n, "%s/%s", bn, p[j]), add(n, 1, out, 0, 0, 0);
}

static void build_keras(void) {
    static const int blocks[4] = {3, 4, 6, 3};
    nK = 0;
    add_conv_bn("conv1", "bn_conv1", 2, 1, 1, 2);
    for (int li = 0; li < 4; li++)
        for (int bi = 0; bi < blocks[li]; bi++) {
            char kc[48], kb[48];
            for (int j = 0; j < 3; j++) {
                snprintf(kc, sizeof kc, "res%d%c_branch2%c", li + 2, 'a' + bi, 'a' + j);
                snprintf(kb, sizeof kb, "bn%d%c_branch2%c", li + 2, 'a' + bi, 'a' + j);
                add_conv_bn(kc, kb, 1, 1, 1, 1);
            }
            if (bi == 0) {
                snprintf(kc, sizeof kc, "res%da_branch1", li + 2);
                snprintf(kb, sizeof kb, "bn%da_branch1", li + 2);
                add_conv_bn(kc, kb, 1, 1, 1, 1);
            }
        }
    add("fc1000/kernel", 2, 1, 2, 0, 0);
    add("fc1000/bias", 1, 2, 0, 0, 0);
}

static int numel(const kw *w) {
    int n = 1;
    for (int i = 0; i < w->ndim; i++) n *= w->shape[i];
    return n;
}

typedef struct tfjs_break {
    int skip;             /* leave weight #skip out (1-based) */
    int dtype_int;        /* list weight #n as int32 */
    int quantized;        /* give weight #n a quantization entry */
    int short_by;         /* bytes cut from the shard (negative: extra bytes) */
    const char *path;     /* the shard path as listed */
    const char *eps;      /* one BN layer's epsilon (JSON text) */
    int no_topology;
    int two_groups;       /* split the manifest into two groups, both reading shard.bin */
} tfjs_break;

/* model.json, a NUL, shard.bin (fuzz_tfjs.c's input format). */
static void tfjs(const char *name, const tfjs_break *br) {
    static const tfjs_break none;
    if (!br) br = &none;
    buf j = {0};
    printf_to(&j, "{\"format\":\"layers-model\",\"generatedBy\":\"make_corpus\",\"modelTopology\":");
    if (br->no_topology) {
        printf_to(&j, "{}");
    } else {
        printf_to(&j, "{\"model_config\":{\"class_name\":\"Model\",\"config\":{\"layers\":[");
        int nbn = 0;
        for (int i = 0; i < nK; i++) {
            const char *slash = strchr(K[i].name, '/');
            if (strcmp(slash, "/gamma") != 0) continue;
            printf_to(&j, "%s{\"class_name\":\"BatchNormalization\",\"config\":{\"name\":\"%.*s\",\"epsilon\":%s}}",
                      nbn ? "," : "", (int)(slash - K[i].name), K[i].name, nbn == 3 && br->eps ? br->eps : "0.001");
            nbn++;
        }
        printf_to(&j, "]}}}");
    }
    const char *path = br->path ? br->path : "shard.bin";
    int cut = br->two_groups ? nK / 2 : nK;
    printf_to(&j, ",\"weightsManifest\":[{\"paths\":[\"%s\"],\"weights\":[", path);
    size_t floats = 0;
    int first = 1; /* of its group */
    for (int i = 0; i < nK; i++) {
        if (i == cut) printf_to(&j, "]},{\"paths\":[\"%s\"],\"weights\":[", path), first = 1;
        if (i + 1 == br->skip) continue;
        printf_to(&j, "%s{\"name\":\"%s\",\"shape\":[", first ? "" : ",", K[i].name);
        first = 0;
        for (int d = 0; d < K[i].ndim; d++) printf_to(&j, "%s%d", d ? "," : "", K[i].shape[d]);
        printf_to(&j, "],\"dtype\":\"%s\"%s}", i + 1 == br->dtype_int ? "int32" : "float32",
                  i + 1 == br->quantized ? ",\"quantization\":{\"dtype\":\"uint8\",\"min\":0,\"scale\":1}" : "");
        if (i < cut) floats += (size_t)numel(&K[i]);
    }
    printf_to(&j, "]}]}");
    put(&j, "", 1); /* the NUL between model.json and the shard */
    long nbytes = (long)floats * 4 - br->short_by;
    for (long i = 0; i < nbytes; i++) {
        float v = (float)(i % 7) * 0.25f + 0.5f; /* positive: a valid variance too */
        if (i % 4 == 0) put(&j, &v, 4);
    }
    j.n -= (size_t)((4 - nbytes % 4) % 4); /* a cut inside a float */
    emit("tfjs", name, j.p, j.n);
    free(j.p);
}

static void tfjs_corpus(void) {
    build_keras();
    tfjs("valid.tfjs", NULL);
    tfjs("missing-weight.tfjs", &(tfjs_break){.skip = 40});
    tfjs("int32.tfjs", &(tfjs_break){.dtype_int = 3});
    tfjs("quantized.tfjs", &(tfjs_break){.quantized = 5});
    tfjs("shard-short.tfjs", &(tfjs_break){.short_by = 6});
    tfjs("shard-long.tfjs", &(tfjs_break){.short_by = -8});
    tfjs("path-dotdot.tfjs", &(tfjs_break){.path = "../shard.bin"});
    tfjs("path-absolute.tfjs", &(tfjs_break){.path = "/etc/passwd"});
    tfjs("path-missing.tfjs", &(tfjs_break){.path = "nope.bin"});
    tfjs("path-self.tfjs", &(tfjs_break){.path = "model.json"});
    tfjs("eps-disagree.tfjs", &(tfjs_break){.eps = "0.002"});
    tfjs("eps-negative.tfjs", &(tfjs_break){.eps = "-1"});
    tfjs("no-topology.tfjs", &(tfjs_break){.no_topology = 1});
    tfjs("two-groups.tfjs", &(tfjs_break){.two_groups = 1});
    emit("tfjs", "not-json.tfjs", "{\"format\":", 10);
    emit("tfjs", "empty.tfjs", "", 0);
    const char small[] = "{\"format\":\"layers-model\",\"modelTopology\":{\"model_config\":{\"config\":{\"layers\":["
                         "{\"class_name\":\"BatchNormalization\",\"config\":{\"name\":\"bn\",\"epsilon\":1e-3}}]}}},"
                         "\"weightsManifest\":[{\"paths\":[\"shard.bin\"],\"weights\":[{\"name\":\"conv1/kernel\","
                         "\"shape\":[1,1,1,1],\"dtype\":\"float32\"}]}]}\0\0\0\x80?";
    emit("tfjs", "small.tfjs", small, sizeof small - 1);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus OUTDIR\n");
        return 2;
    }
    outdir = argv[1];
    const char *subs[] = {"", "/image", "/safetensors", "/tfjs"};
    for (int i = 0; i < 4; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s%s", outdir, subs[i]);
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            perror(p);
            return 1;
        }
    }
    pngs();
    jpegs();
    format_files();
    lying_headers();
    safetensors();
    tfjs_corpus();
    printf("make_corpus: %d files under %s\n", n_written, outdir);
    return 0;
}
