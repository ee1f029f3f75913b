/* test_hostile_image.c - photos at the edges of what the loader accepts, and files that are
 * not photos at all; test_image.c covers the ordinary cases and the common broken files.
 *
 * - things that are not regular files: a FIFO (with no writer: must not hang), a symbolic
 *   link to one, a character device; each a one-line error naming the path
 * - the pixel limit (RN_IMAGE_MAX_PIXELS): exactly at it is decoded (here: the data is
 *   missing, so "truncated", not "limit"), one pixel row over it is refused before any
 *   allocation; the elongation limit of the preprocessing at its exact boundary
 * - 1x1, 1xN and Nx1 JPEGs and PNGs through the whole pipeline
 * - progressive, arithmetic-coded and restart-marker JPEGs: re-encodings of the same
 *   coefficients, so they must decode to the very pixels of the baseline file
 * - a progressive JPEG repeating its scans (a CPU bomb: each scan is a pass over the whole
 *   image) is refused past 100 scans
 * - WebP, TIFF, GIF, BMP and PNM: headers over the pixel limit refused before allocation
 *   (at the limit, only the missing data is reported), the elongation limit through PNM,
 *   and every file of tests/data/formats/ cut short or with bytes flipped: a one-line error
 *   naming the file, or (flips) a decoded image, never a crash
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h> /* before jpeglib.h */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "image/image.h"
#include "resnet.h"
#include "testutil.h"

#define INPUT_FLOATS (3 * RESNET_INPUT_SIZE * RESNET_INPUT_SIZE)
static float g_input[INPUT_FLOATS];
static char tmpdir[] = "/tmp/rn_test_hostile.XXXXXX";

/* ------------------------------------------------------------------ making images */

typedef struct mem {
    unsigned char *p;
    size_t n, cap;
} mem;

static void png_put(png_structp png, png_bytep p, size_t n) {
    mem *m = png_get_io_ptr(png);
    if (m->n + n > m->cap) {
        m->cap = (m->n + n) * 2;
        m->p = realloc(m->p, m->cap);
        if (!m->p) abort();
    }
    memcpy(m->p + m->n, p, n);
    m->n += n;
}
static void png_flush_nop(png_structp png) { (void)png; }

/* w x h RGB 8-bit, every pixel (r, g, b). */
static mem make_png_rgb(int w, int h, int r, int g, int b) {
    mem m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    unsigned char *row = malloc((size_t)w * 3);
    for (int x = 0; x < w; x++) row[3 * x] = (unsigned char)r, row[3 * x + 1] = (unsigned char)g, row[3 * x + 2] = (unsigned char)b;
    if (setjmp(png_jmpbuf(png))) abort();
    png_set_write_fn(png, &m, png_put, png_flush_nop);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, row);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    return m;
}

enum { J_PROGRESSIVE = 1, J_ARITH = 2, J_RESTART = 4 };

typedef struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
} jerr;
static void jerr_exit(j_common_ptr c) { longjmp(((jerr *)c->err)->jump, 1); }

/* A w x h RGB JPEG of px (quality 90, 4:2:0); NULL if libjpeg cannot write that kind. */
static unsigned char *make_jpeg(const unsigned char *px, int w, int h, int flags, size_t *size) {
    struct jpeg_compress_struct c;
    jerr e;
    unsigned char *out = NULL;
    unsigned long n = 0;
    c.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = jerr_exit;
    jpeg_create_compress(&c);
    if (setjmp(e.jump)) {
        jpeg_destroy_compress(&c);
        free(out);
        return NULL;
    }
    jpeg_mem_dest(&c, &out, &n);
    c.image_width = (JDIMENSION)w, c.image_height = (JDIMENSION)h;
    c.input_components = 3, c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    if (flags & J_PROGRESSIVE) jpeg_simple_progression(&c);
    if (flags & J_ARITH) c.arith_code = TRUE;
    if (flags & J_RESTART) c.restart_interval = 1;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)px + (size_t)c.next_scanline * w * 3;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *size = n;
    return out;
}

static void be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static uint32_t crc32_png(const unsigned char *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

/* PNG signature, IHDR (w x h, 8-bit gray, valid CRC), an empty IDAT: a header and no data. */
static void png_header_only(unsigned char d[45], uint32_t w, uint32_t h) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memset(d, 0, 45);
    memcpy(d, sig, 8);
    be32(d + 8, 13);
    memcpy(d + 12, "IHDR", 4);
    be32(d + 16, w);
    be32(d + 20, h);
    d[24] = 8; /* depth 8, colour type 0 (gray) */
    be32(d + 29, crc32_png(d + 12, 17));
    memcpy(d + 37, "IDAT", 4);
    be32(d + 41, crc32_png(d + 37, 4));
}

/* ------------------------------------------------------------------ tests */

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "test_hostile_image: hung on a FIFO\n";
    if (write(2, msg, sizeof msg - 1)) {}
    _exit(3);
}

/* Expects resnet_preprocess_file and resnet_image_load to fail on path, quickly, with a
 * one-line message naming it and containing `why`. */
static void expect_refused(const char *path, const char *label, const char *why) {
    resnet_error err;
    memset(&err, 0, sizeof err);
    alarm(10); /* a FIFO opened for reading without O_NONBLOCK waits for a writer forever */
    resnet_status st = resnet_preprocess_file(path, RESNET_NORM_CAFFE, g_input, &err);
    alarm(0);
    CHECK(st != RESNET_OK && strstr(err.message, path) && strstr(err.message, why) && !strchr(err.message, '\n'),
          "%s: status %d, message \"%s\" should name it and say \"%s\"", label, st, err.message, why);
    resnet_image img = {0, 0, NULL};
    alarm(10);
    st = resnet_image_load(path, &img, &err);
    alarm(0);
    CHECK(st != RESNET_OK && img.rgb == NULL && strstr(err.message, why), "%s (resnet_image_load): %s", label,
          err.message);
    printf("     %-22s -> %s\n", label, err.message);
}

static void test_not_regular_files(void) {
    char fifo[256], link[256];
    snprintf(fifo, sizeof fifo, "%s/photo.jpg", tmpdir);
    snprintf(link, sizeof link, "%s/link-to-fifo.png", tmpdir);
    signal(SIGALRM, on_alarm);
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
    expect_refused(fifo, "FIFO, no writer", "not a regular file");
    CHECK(symlink("photo.jpg", link) == 0, "symlink: %s", strerror(errno));
    expect_refused(link, "symlink to a FIFO", "not a regular file");
    /* a FIFO with a writer holding it open and sending nothing: still refused at once */
    int wfd = open(fifo, O_RDWR | O_NONBLOCK); /* O_RDWR: opening never blocks on Linux */
    if (wfd >= 0) {
        expect_refused(fifo, "FIFO with a writer", "not a regular file");
        close(wfd);
    }
    expect_refused("/dev/zero", "character device", "not a regular file");
    unlink(link);
    unlink(fifo);
}

static void test_pixel_limit(void) {
    resnet_error err;
    unsigned char d[45];
    /* exactly the limit: accepted by the size check, so it fails only for the missing data */
    const uint32_t w = 8192, h = RN_IMAGE_MAX_PIXELS / 8192;
    CHECK((uint64_t)w * h == RN_IMAGE_MAX_PIXELS, "limit is a multiple of 8192");
    png_header_only(d, w, h);
    resnet_status st = resnet_preprocess_memory(d, sizeof d, "edge.png", RESNET_NORM_CAFFE, g_input, &err);
    CHECK(st == RESNET_E_IMAGE && strstr(err.message, "truncated") && !strstr(err.message, "limit"),
          "at the limit: %s", err.message);
    /* one row more: refused by the check, before the decoder allocates anything */
    png_header_only(d, w, h + 1);
    st = resnet_preprocess_memory(d, sizeof d, "beyond.png", RESNET_NORM_CAFFE, g_input, &err);
    CHECK(st == RESNET_E_IMAGE && strstr(err.message, "limit") && strstr(err.message, "beyond.png"),
          "over the limit: %s", err.message);
    /* the largest of all headers */
    png_header_only(d, 0x7fffffffu, 0x7fffffffu);
    st = resnet_preprocess_memory(d, sizeof d, "huge.png", RESNET_NORM_CAFFE, g_input, &err);
    CHECK(st == RESNET_E_IMAGE && strstr(err.message, "limit"), "2^31 x 2^31: %s", err.message);
}

/* The elongation limit: the shorter side goes to 256, and the resized image must stay within
 * the pixel limit: 1 x (limit / 256 / 256) is the most elongated photo accepted. */
static void test_elongation_boundary(void) {
    const int longest = (int)(RN_IMAGE_MAX_PIXELS / 256 / 256);
    for (int extra = 0; extra <= 1; extra++) {
        resnet_error err;
        mem m = make_png_rgb(1, longest + extra, 10, 20, 30);
        resnet_status st = resnet_preprocess_memory(m.p, m.n, "tall.png", RESNET_NORM_CAFFE, g_input, &err);
        if (!extra) CHECK(st == RESNET_OK && g_input[0] == 30.0f - 103.939f, "1x%d: %s", longest, err.message);
        else CHECK(st == RESNET_E_IMAGE && strstr(err.message, "elongated"), "1x%d: %s", longest + 1, err.message);
        free(m.p);
    }
}

/* 1x1, 1xN and Nx1, PNG and JPEG: a constant photo gives a constant input. */
static void test_degenerate_sizes(void) {
    static const int sizes[][2] = {{1, 1}, {1, 2}, {2, 1}, {1, 300}, {300, 1}, {3, 1000}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const int w = sizes[i][0], h = sizes[i][1];
        mem png = make_png_rgb(w, h, 200, 100, 50);
        unsigned char *px = malloc((size_t)w * h * 3);
        for (int k = 0; k < w * h; k++) px[3 * k] = 200, px[3 * k + 1] = 100, px[3 * k + 2] = 50;
        size_t jn = 0;
        unsigned char *jpg = make_jpeg(px, w, h, 0, &jn);
        const unsigned char *data[2] = {png.p, jpg};
        const size_t n[2] = {png.n, jn};
        for (int f = 0; f < 2; f++) {
            resnet_error err;
            resnet_status st = resnet_preprocess_memory(data[f], n[f], f ? "tiny.jpg" : "tiny.png", RESNET_NORM_CAFFE,
                                                        g_input, &err);
            CHECK(st == RESNET_OK, "%dx%d %s: %s", w, h, f ? "JPEG" : "PNG", err.message);
            int bad = 0;
            const float want0 = g_input[0]; /* JPEG: near 50 - 103.939, the same everywhere */
            for (size_t k = 0; st == RESNET_OK && k < INPUT_FLOATS / 3; k++) bad += g_input[k] != want0;
            CHECK(bad == 0 && (f || want0 == 50.0f - 103.939f) && want0 > 40.0f - 103.939f && want0 < 60.0f - 103.939f,
                  "%dx%d %s: not constant (%d values differ, first %g)", w, h, f ? "JPEG" : "PNG", bad, want0);
        }
        free(png.p);
        free(jpg);
        free(px);
    }
}

/* Progressive, arithmetic and restart-marker files carry the same DCT coefficients as the
 * baseline one (same quality and sampling), so the decoded pixels must be identical. */
static void test_jpeg_codings_agree(void) {
    const int w = 45, h = 29;
    unsigned char px[45 * 29 * 3];
    for (int i = 0; i < w * h * 3; i++) px[i] = (unsigned char)((i * 7 + (i / (w * 3)) * 13) & 0xff);
    size_t n0;
    unsigned char *base = make_jpeg(px, w, h, 0, &n0);
    rn_image ref;
    resnet_error err;
    CHECK(base && rn_image_decode(base, n0, "base.jpg", &ref, &err) == RESNET_OK, "baseline: %s", err.message);
    static const struct {
        int flags;
        const char *name;
    } kinds[] = {{J_PROGRESSIVE, "progressive"}, {J_ARITH, "arithmetic"}, {J_ARITH | J_PROGRESSIVE, "arithmetic progressive"},
                 {J_RESTART, "restart markers"}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t n;
        unsigned char *jpg = make_jpeg(px, w, h, kinds[k].flags, &n);
        if (!jpg) {
            printf("     %s: this libjpeg cannot write it, skipped\n", kinds[k].name);
            continue;
        }
        rn_image img;
        resnet_status st = rn_image_decode(jpg, n, kinds[k].name, &img, &err);
        CHECK(st == RESNET_OK, "%s: %s", kinds[k].name, err.message);
        if (st == RESNET_OK && ref.rgb)
            CHECK(img.width == w && img.height == h && memcmp(img.rgb, ref.rgb, (size_t)w * h * 3) == 0,
                  "%s: pixels differ from the baseline file", kinds[k].name);
        rn_image_free(&img);
        /* and cut in half: an error, not gray padding */
        st = rn_image_decode(jpg, n / 2, kinds[k].name, &img, &err);
        CHECK(st == RESNET_E_IMAGE && img.rgb == NULL, "%s cut in half: status %d", kinds[k].name, st);
        free(jpg);
    }
    rn_image_free(&ref);
    free(base);
}

/* Repeats the last scan (SOS segment and its entropy-coded data) of a JPEG `times` more
 * times before EOI; returns the new file (malloc'd) or NULL if the layout is unexpected. */
static unsigned char *repeat_last_scan(const unsigned char *j, size_t n, int times, size_t *out_n) {
    size_t i = 2, sos = 0, sos_end = 0;
    while (i + 4 <= n && j[i] == 0xff) {
        const int m = j[i + 1];
        if (m == 0xd9) break; /* EOI */
        const size_t len = (size_t)j[i + 2] << 8 | j[i + 3];
        if (m != 0xda) {
            i += 2 + len;
            continue;
        }
        size_t k = i + 2 + len; /* the scan's data runs to the next marker but RSTn and FF00 */
        while (k + 1 < n && !(j[k] == 0xff && j[k + 1] != 0 && (j[k + 1] < 0xd0 || j[k + 1] > 0xd7))) k++;
        sos = i, sos_end = i = k;
    }
    if (!sos || i + 2 != n) return NULL;
    const size_t scan = sos_end - sos;
    unsigned char *o = malloc(n + scan * (size_t)times);
    memcpy(o, j, i);
    for (int t = 0; t < times; t++) memcpy(o + i + scan * (size_t)t, j + sos, scan);
    memcpy(o + i + scan * (size_t)times, j + i, 2);
    *out_n = n + scan * (size_t)times;
    return o;
}

/* A progressive JPEG whose scans repeat (libjpeg only warns): each scan is another pass
 * over the whole image, so the count is limited (decode_jpeg.c, RN_JPEG_MAX_SCANS = 100). */
static void test_jpeg_scan_limit(void) {
    const int w = 64, h = 48;
    unsigned char px[64 * 48 * 3];
    for (int i = 0; i < w * h * 3; i++) px[i] = (unsigned char)(i * 5);
    size_t n, bn;
    unsigned char *jpg = make_jpeg(px, w, h, J_PROGRESSIVE, &n);
    CHECK(jpg != NULL, "progressive JPEG");
    for (int times = 50; jpg && times <= 200; times += 150) {
        unsigned char *bomb = repeat_last_scan(jpg, n, times, &bn);
        CHECK(bomb != NULL, "could not find the scans of the progressive JPEG");
        if (!bomb) break;
        rn_image img;
        resnet_error err;
        resnet_status st = rn_image_decode(bomb, bn, "scans.jpg", &img, &err);
        if (times < 90) CHECK(st == RESNET_OK, "%d extra scans: %s", times, err.message);
        else CHECK(st == RESNET_E_IMAGE && strstr(err.message, "more than 100 scans"), "%d extra scans: %s", times,
                   st == RESNET_OK ? "accepted" : err.message);
        if (st == RESNET_OK) rn_image_free(&img);
        else printf("     %d extra scans -> %s\n", times, err.message);
        free(bomb);
    }
    free(jpg);
}

/* ------------------------------------------------------------------ the other formats */

static void expect_mem_error(const void *d, size_t n, const char *name, const char *why) {
    resnet_error err;
    memset(&err, 0, sizeof err);
    resnet_status st = resnet_preprocess_memory(d, n, name, RESNET_NORM_CAFFE, g_input, &err);
    CHECK(st == RESNET_E_IMAGE && strstr(err.message, name) && strstr(err.message, why) && !strchr(err.message, '\n'),
          "%s: status %d, \"%s\" should say \"%s\"", name, st, err.message, why);
}

static void put_le(unsigned char *p, uint32_t v, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Each format's header at the pixel limit (only the data is missing) and one row past it
 * (refused by the size check, before any allocation: the message says "limit"). */
static void test_formats_pixel_limit(void) {
    const uint32_t w = 8192, h = RN_IMAGE_MAX_PIXELS / 8192;
    for (int over = 0; over <= 1; over++) {
        const char *why = over ? "limit" : "truncated";
        char pnm[64];
        int n = snprintf(pnm, sizeof pnm, "P6\n%u %u\n255\n", (unsigned)w, (unsigned)(h + over));
        expect_mem_error(pnm, (size_t)n, over ? "over.ppm" : "edge.ppm", why);
        unsigned char bmp[54] = {'B', 'M'};
        put_le(bmp + 10, 54, 4);
        put_le(bmp + 14, 40, 4);
        put_le(bmp + 18, w, 4);
        put_le(bmp + 22, h + over, 4);
        put_le(bmp + 26, 1, 2);
        put_le(bmp + 28, 24, 2);
        expect_mem_error(bmp, sizeof bmp, over ? "over.bmp" : "edge.bmp", why);
    }
    /* the largest headers each format can state */
    static const unsigned char gif[] = "GIF89a\xff\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    expect_mem_error(gif, sizeof gif - 1, "huge.gif", "limit");
    /* a 2 x 2 GIF screen whose 1 x 1 frame sits at (65535, 65535): the canvas grows to hold it */
    unsigned char gif2[sizeof gif];
    memcpy(gif2, gif, sizeof gif);
    gif2[6] = gif2[8] = 2, gif2[7] = gif2[9] = 0;
    gif2[14] = gif2[15] = gif2[16] = gif2[17] = 0xff;
    expect_mem_error(gif2, sizeof gif2 - 1, "far-frame.gif", "limit");
    unsigned char tif[8 + 2 + 7 * 12 + 4] = {'I', 'I', 42, 0, 8, 0, 0, 0, 7, 0};
    static const uint16_t tags[7] = {256, 257, 258, 262, 273, 277, 279};
    static const uint32_t vals[7] = {1000000, 1000000, 8, 1, 8, 1, 16};
    for (int i = 0; i < 7; i++) {
        unsigned char *e = tif + 10 + 12 * i;
        put_le(e, tags[i], 2);
        put_le(e + 2, 4, 2); /* LONG */
        put_le(e + 4, 1, 4);
        put_le(e + 8, vals[i], 4);
    }
    expect_mem_error(tif, sizeof tif, "huge.tif", "limit");
    /* a VP8X canvas of 20000 x 20000 (libwebp itself refuses 2^32 pixels and more) */
    unsigned char webp[30] = {'R', 'I', 'F', 'F', 22, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X', 10, 0, 0, 0,
                              0,   0,   0,   0,   0x1f, 0x4e, 0, 0x1f, 0x4e, 0};
    expect_mem_error(webp, sizeof webp, "huge.webp", "limit");
}

/* libtiff starts some of its messages with the file's name: the one line names it once. */
static void test_tiff_message_names_once(void) {
    unsigned char tif[8 + 2 + 8 * 12 + 4] = {'I', 'I', 42, 0, 8, 0, 0, 0, 8, 0};
    static const uint16_t tags[8] = {256, 257, 258, 262, 273, 277, 279, 284};
    static const uint32_t vals[8] = {4, 4, 8, 1, 8, 1, 16, 178}; /* PlanarConfiguration 178: no such value */
    for (int i = 0; i < 8; i++) {
        unsigned char *e = tif + 10 + 12 * i;
        put_le(e, tags[i], 2);
        put_le(e + 2, tags[i] == 284 ? 3 : 4, 2); /* SHORT or LONG */
        put_le(e + 4, 1, 4);
        put_le(e + 8, vals[i], 4);
    }
    resnet_error err;
    memset(&err, 0, sizeof err);
    resnet_status st = resnet_preprocess_memory(tif, sizeof tif, "planar178.tif", RESNET_NORM_CAFFE, g_input, &err);
    const char *first = strstr(err.message, "planar178.tif");
    CHECK(st == RESNET_E_IMAGE && first && !strstr(first + 1, "planar178.tif") && !strchr(err.message, '\n'),
          "status %d, \"%s\" should name the file once", st, err.message);
}

/* A WebP whose headers libwebp cannot parse: the line says what is wrong in words, not
 * libwebp's status number. */
static void test_webp_header_message(void) {
    /* RIFF, WEBP, then a chunk no WebP starts with */
    static const unsigned char webp[] = {'R', 'I', 'F', 'F', 18, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'Q',
                                         6,   0,   0,   0,   1, 2, 3, 4, 5, 6};
    resnet_error err;
    memset(&err, 0, sizeof err);
    resnet_status st = resnet_preprocess_memory(webp, sizeof webp, "odd.webp", RESNET_NORM_CAFFE, g_input, &err);
    CHECK(st == RESNET_E_IMAGE && strstr(err.message, "odd.webp: corrupt WebP headers") && !strstr(err.message, "status"),
          "status %d, \"%s\"", st, err.message);
}

/* The elongation limit holds for every format: a 1 x N PGM at the boundary and past it. */
static void test_formats_elongation(void) {
    const int longest = (int)(RN_IMAGE_MAX_PIXELS / 256 / 256);
    for (int extra = 0; extra <= 1; extra++) {
        char head[64];
        int hn = snprintf(head, sizeof head, "P5 1 %d 255\n", longest + extra);
        size_t n = (size_t)hn + (size_t)(longest + extra);
        unsigned char *d = malloc(n);
        memcpy(d, head, (size_t)hn);
        memset(d + hn, 77, n - (size_t)hn);
        resnet_error err;
        resnet_status st = resnet_preprocess_memory(d, n, "tall.pgm", RESNET_NORM_CAFFE, g_input, &err);
        if (!extra) CHECK(st == RESNET_OK && g_input[0] == 77.0f - 103.939f, "1x%d: %s", longest, err.message);
        else CHECK(st == RESNET_E_IMAGE && strstr(err.message, "elongated"), "1x%d: %s", longest + 1, err.message);
        free(d);
    }
}

/* Every committed sample cut short (a quarter, half, three quarters: the pixel data is
 * missing) fails with one line naming it; with bytes flipped it fails so or decodes. */
static void test_formats_broken_files(void) {
    FILE *m = fopen("tests/data/formats/manifest.tsv", "r");
    CHECK(m != NULL, "tests/data/formats/manifest.tsv missing");
    if (!m) return;
    char line[512], name[256], path[400];
    int files = 0;
    while (fgets(line, sizeof line, m)) {
        if (sscanf(line, "%255[^\t]", name) != 1 || strcmp(name, "file") == 0) continue;
        snprintf(path, sizeof path, "tests/data/formats/%s", name);
        size_t n = 0;
        unsigned char *d = tu_read_file(path, &n);
        CHECK(d != NULL && n > 64, "%s unreadable", path);
        if (!d) continue;
        files++;
        /* an animation's first frame may be whole in the first half (PIL decodes that too) */
        for (int q = 1; q <= 3; q++) {
            resnet_error err;
            memset(&err, 0, sizeof err);
            resnet_status st = resnet_preprocess_memory(d, n * (size_t)q / 4, name, RESNET_NORM_CAFFE, g_input, &err);
            CHECK((st == RESNET_OK && q > 1 && strncmp(name, "anim", 4) == 0) ||
                      (st == RESNET_E_IMAGE && strstr(err.message, name) && !strchr(err.message, '\n')),
                  "%s cut to %d/4: status %d, %s", name, q, st, err.message);
        }
        for (int k = 0; k < 16; k++) {
            unsigned char *c = malloc(n);
            memcpy(c, d, n);
            size_t at = 8 + (size_t)k * (n - 8) / 16;
            c[at] ^= (unsigned char)(0x41 + 13 * k);
            resnet_error err;
            memset(&err, 0, sizeof err);
            resnet_status st = resnet_preprocess_memory(c, n, name, RESNET_NORM_CAFFE, g_input, &err);
            CHECK(st == RESNET_OK || (st == RESNET_E_IMAGE && strstr(err.message, name) && !strchr(err.message, '\n')),
                  "%s, byte %zu flipped: status %d, %s", name, at, st, err.message);
            free(c);
        }
        free(d);
    }
    fclose(m);
    CHECK(files >= 40, "only %d sample files", files);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_not_regular_files);
    RUN(test_pixel_limit);
    RUN(test_elongation_boundary);
    RUN(test_degenerate_sizes);
    RUN(test_jpeg_codings_agree);
    RUN(test_jpeg_scan_limit);
    RUN(test_formats_pixel_limit);
    RUN(test_formats_elongation);
    RUN(test_tiff_message_names_once);
    RUN(test_webp_header_message);
    RUN(test_formats_broken_files);
    rmdir(tmpdir);
    return TEST_DONE();
}
