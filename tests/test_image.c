/* test_image.c - the image module: decoding, PIL-exact resize, the reference preprocessing,
 * and clean errors on bad input.
 *
 * Test images are made here at run time (PNG with libpng, JPEG with libjpeg) so that no
 * fixture or Python is needed; the expected pixels are what Pillow 9.4 gives for the same
 * files (checked when this test was written). Run from the repository root. The golden
 * inputs are PyTorch's: tests/data/golden/ for the project's own photos (always), and
 * ../shared/reference/golden/ for two ImageNet photos when ../shared is there (tu_shared()).
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "image/image.h"
#include "resnet.h"
#include "testutil.h"

#define INPUT_FLOATS (3 * RESNET_INPUT_SIZE * RESNET_INPUT_SIZE)

static float g_input[INPUT_FLOATS], g_input2[INPUT_FLOATS];

/* ------------------------------------------------------------------ writing test images */

/* A growable byte buffer, the destination of the in-memory PNG writer. */
typedef struct buf {
    unsigned char *data;
    size_t size, cap;
} buf;

static void buf_put(buf *b, const void *p, size_t n) {
    if (b->size + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->size + n) cap *= 2;
        unsigned char *d = realloc(b->data, cap);
        if (!d) abort();
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->size, p, n);
    b->size += n;
}

static void png_write_cb(png_structp png, png_bytep p, size_t n) { buf_put(png_get_io_ptr(png), p, n); }
static void png_flush_cb(png_structp png) { (void)png; }

/* What a test PNG holds. Samples are one per byte (packed by libpng below 8 bits), or
 * big-endian pairs at 16 bits. */
typedef struct png_spec {
    int w, h, bit_depth, color_type, interlace;
    const unsigned char *pixels; /* rows of w * channels samples, no padding */
    const png_color *plte;
    int plte_n;
    const unsigned char *trns;
    int trns_n;
} png_spec;

static int spec_channels(const png_spec *s) {
    switch (s->color_type) {
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 1;
    }
}

static void png_set_header(png_structp png, png_infop info, const png_spec *s) {
    png_set_IHDR(png, info, (png_uint_32)s->w, (png_uint_32)s->h, s->bit_depth, s->color_type,
                 s->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (s->plte) png_set_PLTE(png, info, s->plte, s->plte_n);
    if (s->trns) png_set_tRNS(png, info, s->trns, s->trns_n, NULL);
}

/* Encodes s into *out (malloc'd). Returns 0 on a libpng error. */
static int make_png(const png_spec *s, buf *out) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    size_t row_bytes = (size_t)s->w * spec_channels(s) * (s->bit_depth == 16 ? 2 : 1);
    png_bytep *rows = malloc(sizeof *rows * (size_t)s->h);
    memset(out, 0, sizeof *out);
    if (!info || !rows || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        return 0;
    }
    png_set_write_fn(png, out, png_write_cb, png_flush_cb);
    png_set_header(png, info, s);
    png_write_info(png, info);
    if (s->bit_depth < 8) png_set_packing(png);
    for (int y = 0; y < s->h; y++) rows[y] = (png_bytep)s->pixels + (size_t)y * row_bytes;
    png_write_image(png, rows); /* handles the Adam7 passes itself */
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return 1;
}

/* Encodes w x h pixels of `comps` components in colour space `in` (stored as `jpeg_cs`)
 * at quality 100 with no chroma subsampling. Returns malloc'd bytes. */
static unsigned char *make_jpeg(const unsigned char *pixels, int w, int h, int comps, J_COLOR_SPACE in,
                                J_COLOR_SPACE jpeg_cs, size_t *size) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *mem = NULL;
    unsigned long mem_size = 0;
    c.err = jpeg_std_error(&jerr); /* our own well-formed input: libjpeg errors are bugs here */
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &mem_size);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = in;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, jpeg_cs); /* CMYK and YCCK also get an Adobe marker */
    jpeg_set_quality(&c, 100, TRUE);
    for (int i = 0; i < c.num_components; i++)
        c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)pixels + (size_t)c.next_scanline * w * comps;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *size = mem_size;
    return mem;
}

/* Decodes bytes made above; fails the test (and returns 0) on any error. */
static int decode_ok(const buf *b, const char *what, rn_image *img) {
    resnet_error err = {0};
    resnet_status st = rn_image_decode(b->data, b->size, what, img, &err);
    CHECK(st == RESNET_OK, "%s: %s", what, err.message);
    return st == RESNET_OK;
}

/* The pixel at (x, y) equals r, g, b. */
static int pixel_is(const rn_image *img, int x, int y, int r, int g, int b) {
    const uint8_t *p = img->rgb + ((size_t)y * img->width + x) * 3;
    return p[0] == r && p[1] == g && p[2] == b;
}

static int write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* ------------------------------------------------------------------ 1. golden inputs */

static float read_f32le(const unsigned char *p) {
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Our preprocessing of `path` against the reference's input tensor dir/<file>.caffe.input.f32. */
static void check_golden(const char *dir, const char *file, const char *path) {
    char gold[1024];
    snprintf(gold, sizeof gold, "%s/%s.caffe.input.f32", dir, file);
    resnet_error err = {0};
    size_t n = 0;
    unsigned char *ref = tu_read_file(gold, &n);
    CHECK(ref && n == INPUT_FLOATS * 4, "%s: missing or wrong size (%zu bytes)", gold, n);
    resnet_status st = resnet_preprocess_file(path, RESNET_NORM_CAFFE, g_input, &err);
    CHECK(st == RESNET_OK, "%s", err.message);
    if (!ref || n != INPUT_FLOATS * 4 || st != RESNET_OK) {
        free(ref);
        return;
    }
    size_t exact = 0;
    double max_diff = 0;
    for (size_t i = 0; i < INPUT_FLOATS; i++) {
        double d = fabs((double)g_input[i] - read_f32le(ref + 4 * i));
        exact += d == 0;
        if (d > max_diff) max_diff = d;
    }
    printf("  %s: %zu of %d values exact (%.3f%%), max |diff| %g\n", file, exact, INPUT_FLOATS,
           100.0 * exact / INPUT_FLOATS, max_diff);
    CHECK(max_diff <= 1.0, "%s: max diff %g", file, max_diff);
    CHECK(exact >= (size_t)(0.99 * INPUT_FLOATS), "%s: only %zu exact", file, exact);
    free(ref);
}

/* The project's own photos: two PNGs and a JPEG (tools/make-golden.py). */
static void test_golden_inputs(void) {
    check_golden("tests/data/golden", "chelsea.png", "demo/chelsea.png");
    check_golden("tests/data/golden", "coffee.png", "demo/coffee.png");
    check_golden("tests/data/golden", "chelsea.jpg", "tests/data/golden/chelsea.jpg");
}

/* Two ImageNet photos (JPEG), from ../shared. */
static void test_golden_inputs_shared(void) {
    if (!tu_need_shared("reference/golden") || !tu_need_shared("images/samples")) return;
    static const char *const files[] = {"282_tiger_cat_1.jpg", "258_samoyed_1.jpg"};
    char dir[1024], path[1024];
    snprintf(dir, sizeof dir, "%s/reference/golden", tu_shared());
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/images/samples/%s", tu_shared(), files[i]);
        check_golden(dir, files[i], path);
    }
}

/* The torch normalisation is the caffe one's pixels in RGB order, (x/255 - mean) / std. */
static void test_torch_norm_matches_caffe(void) {
    const char *path = "tests/data/golden/chelsea.jpg";
    resnet_error err = {0};
    CHECK(resnet_preprocess_file(path, RESNET_NORM_CAFFE, g_input, &err) == RESNET_OK, "%s", err.message);
    CHECK(resnet_preprocess_file(path, RESNET_NORM_TORCH, g_input2, &err) == RESNET_OK, "%s", err.message);
    static const double caffe_mean_bgr[3] = {103.939, 116.779, 123.68};
    static const double mean[3] = {0.485, 0.456, 0.406}, std[3] = {0.229, 0.224, 0.225};
    const size_t plane = INPUT_FLOATS / 3;
    int bad = 0;
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++) { /* c: RGB channel; caffe plane 2 - c holds it */
            double pixel = round(g_input[(2 - c) * plane + i] + caffe_mean_bgr[2 - c]);
            double want = (pixel / 255.0 - mean[c]) / std[c];
            bad += fabs(g_input2[c * plane + i] - want) > 1e-5;
        }
    CHECK(bad == 0, "%d torch values disagree with the caffe ones", bad);
    CHECK(resnet_preprocess_file(path, (resnet_norm)7, g_input2, &err) == RESNET_E_ARG, "bad norm accepted");
}

/* ------------------------------------------------------------------ 2. every shared photo */

static int is_photo_name(const char *name) {
    size_t n = strlen(name);
    return name[0] != '.' && !(n > 4 && strcmp(name + n - 4, ".tsv") == 0);
}

static int decode_folder(const char *folder) {
    char dir[1024], path[2048];
    snprintf(dir, sizeof dir, "%s/images/%s", tu_shared(), folder);
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open %s", dir);
    if (!d) return 0;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_photo_name(e->d_name)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        resnet_error err = {0};
        rn_image img = {0};
        CHECK(rn_image_load(path, &img, &err) == RESNET_OK, "%s", err.message);
        rn_image_free(&img);
        CHECK(resnet_preprocess_file(path, RESNET_NORM_CAFFE, g_input, &err) == RESNET_OK, "%s", err.message);
        int finite = 1;
        for (size_t i = 0; i < INPUT_FLOATS; i++) finite &= isfinite(g_input[i]) && fabsf(g_input[i]) <= 256;
        CHECK(finite, "%s: values out of range", path);
        count++;
    }
    closedir(d);
    return count;
}

static void test_all_photos_decode(void) {
    if (!tu_need_shared("images/samples") || !tu_need_shared("images/seed")) return;
    int samples = decode_folder("samples"), seed = decode_folder("seed");
    printf("  decoded %d sample and %d seed photos\n", samples, seed);
    CHECK(samples >= 15 && seed >= 13, "expected at least 15 + 13 photos, found %d + %d", samples, seed);
}

/* ------------------------------------------------------------------ 3. generated images */

static void test_png_gray(void) {
    /* 8 bit; then 1, 2 and 4 bit, which PIL scales to 0..255 (x255, x85, x17) */
    static const unsigned char g8[6] = {0, 1, 127, 128, 254, 255};
    png_spec s = {6, 1, 8, PNG_COLOR_TYPE_GRAY, 0, g8, NULL, 0, NULL, 0};
    buf b;
    rn_image img = {0};
    CHECK(make_png(&s, &b), "make_png");
    if (decode_ok(&b, "gray8.png", &img))
        for (int x = 0; x < 6; x++) CHECK(pixel_is(&img, x, 0, g8[x], g8[x], g8[x]), "gray8 pixel %d", x);
    rn_image_free(&img);
    free(b.data);
    static const unsigned char low[4] = {0, 1, 2, 3};
    for (int bits = 1; bits <= 4; bits *= 2) {
        int levels = 1 << bits, n = levels < 4 ? levels : 4, step = 255 / (levels - 1);
        png_spec t = {n, 1, bits, PNG_COLOR_TYPE_GRAY, 0, low, NULL, 0, NULL, 0};
        CHECK(make_png(&t, &b), "make_png %d bit", bits);
        if (decode_ok(&b, "gray-low.png", &img))
            for (int x = 0; x < n; x++)
                CHECK(pixel_is(&img, x, 0, x * step, x * step, x * step), "%d-bit gray pixel %d", bits, x);
        rn_image_free(&img);
        free(b.data);
    }
}

static void test_png_palette(void) {
    /* Three PLTE entries; index 5 lies past them and comes out as PIL's gray ramp (5,5,5).
     * The tRNS chunk is ignored: convert("RGB") drops transparency. */
    static const png_color plte[3] = {{10, 20, 30}, {200, 100, 50}, {1, 2, 3}};
    static const unsigned char trns[2] = {0, 128};
    static const unsigned char idx[4] = {0, 1, 2, 5};
    static const int want[4][3] = {{10, 20, 30}, {200, 100, 50}, {1, 2, 3}, {5, 5, 5}};
    for (int bits = 4; bits <= 8; bits += 4) {
        png_spec s = {4, 1, bits, PNG_COLOR_TYPE_PALETTE, 0, idx, plte, 3, trns, 2};
        buf b;
        rn_image img = {0};
        CHECK(make_png(&s, &b), "make_png palette %d", bits);
        if (decode_ok(&b, "palette.png", &img))
            for (int x = 0; x < 4; x++)
                CHECK(pixel_is(&img, x, 0, want[x][0], want[x][1], want[x][2]), "%d-bit palette pixel %d",
                      bits, x);
        rn_image_free(&img);
        free(b.data);
    }
}

/* 16-bit samples: the high byte is kept, whatever the low byte. For RGB and gray+alpha
 * this is PIL's behaviour; for plain gray it is our documented choice (PIL 9.4 clips). */
static void test_png_16bit(void) {
    static const unsigned char rgb16[6] = {0x12, 0xff, 0xab, 0x01, 0x00, 0x80};
    static const unsigned char gray16[4] = {0x7f, 0xff, 0x03, 0x00};
    static const unsigned char ga16[4] = {0xc8, 0x99, 0x00, 0x00};
    png_spec specs[3] = {{1, 1, 16, PNG_COLOR_TYPE_RGB, 0, rgb16, NULL, 0, NULL, 0},
                         {2, 1, 16, PNG_COLOR_TYPE_GRAY, 0, gray16, NULL, 0, NULL, 0},
                         {1, 1, 16, PNG_COLOR_TYPE_GRAY_ALPHA, 0, ga16, NULL, 0, NULL, 0}};
    rn_image img[3] = {{0}};
    for (int i = 0; i < 3; i++) {
        buf b;
        CHECK(make_png(&specs[i], &b), "make_png 16-bit %d", i);
        decode_ok(&b, "16bit.png", &img[i]);
        free(b.data);
    }
    CHECK(img[0].rgb && pixel_is(&img[0], 0, 0, 0x12, 0xab, 0x00), "16-bit RGB: high bytes");
    CHECK(img[1].rgb && pixel_is(&img[1], 0, 0, 0x7f, 0x7f, 0x7f), "16-bit gray: high byte");
    CHECK(img[1].rgb && pixel_is(&img[1], 1, 0, 0x03, 0x03, 0x03), "16-bit gray: high byte");
    CHECK(img[2].rgb && pixel_is(&img[2], 0, 0, 0xc8, 0xc8, 0xc8), "16-bit gray+alpha: high byte");
    for (int i = 0; i < 3; i++) rn_image_free(&img[i]);
}

/* Alpha is dropped, not composited: a fully transparent pixel keeps its colour. */
static void test_png_alpha(void) {
    static const unsigned char rgba[8] = {10, 20, 30, 0, 250, 128, 3, 255};
    static const unsigned char ga[4] = {77, 0, 200, 40};
    png_spec s = {2, 1, 8, PNG_COLOR_TYPE_RGB_ALPHA, 0, rgba, NULL, 0, NULL, 0};
    png_spec t = {2, 1, 8, PNG_COLOR_TYPE_GRAY_ALPHA, 0, ga, NULL, 0, NULL, 0};
    buf b;
    rn_image img = {0};
    CHECK(make_png(&s, &b), "make_png rgba");
    if (decode_ok(&b, "rgba.png", &img))
        CHECK(pixel_is(&img, 0, 0, 10, 20, 30) && pixel_is(&img, 1, 0, 250, 128, 3), "RGBA colour kept");
    rn_image_free(&img);
    free(b.data);
    CHECK(make_png(&t, &b), "make_png gray+alpha");
    if (decode_ok(&b, "ga.png", &img))
        CHECK(pixel_is(&img, 0, 0, 77, 77, 77) && pixel_is(&img, 1, 0, 200, 200, 200), "gray+alpha kept");
    rn_image_free(&img);
    free(b.data);
}

/* Pseudo-random bytes (a fixed LCG), so that every pass of Adam7 sees different data. */
static void fill_noise(unsigned char *p, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (unsigned char)(seed >> 24);
    }
}

static void test_png_interlaced(void) {
    static const int sizes[4][2] = {{37, 23}, {1, 1}, {1, 9}, {9, 2}};
    for (int k = 0; k < 4; k++) {
        int w = sizes[k][0], h = sizes[k][1];
        unsigned char *px = malloc((size_t)w * h * 3);
        fill_noise(px, (size_t)w * h * 3, (uint32_t)k + 1);
        png_spec s = {w, h, 8, PNG_COLOR_TYPE_RGB, 0, px, NULL, 0, NULL, 0};
        buf plain, inter;
        rn_image a = {0}, b = {0};
        CHECK(make_png(&s, &plain), "make_png");
        s.interlace = 1;
        CHECK(make_png(&s, &inter), "make_png interlaced");
        if (decode_ok(&plain, "plain.png", &a) && decode_ok(&inter, "interlaced.png", &b))
            CHECK(a.width == w && b.width == w && memcmp(a.rgb, px, (size_t)w * h * 3) == 0 &&
                      memcmp(b.rgb, px, (size_t)w * h * 3) == 0,
                  "%dx%d: interlaced pixels differ", w, h);
        rn_image_free(&a);
        rn_image_free(&b);
        free(plain.data);
        free(inter.data);
        free(px);
    }
}

/* 1x1 and 1x5 go through the whole pipeline; a constant image stays constant. */
static void test_tiny_images(void) {
    static const unsigned char one[3] = {200, 100, 50};
    static const unsigned char five[15] = {200, 100, 50, 200, 100, 50, 200, 100,
                                           50,  200, 100, 50, 200, 100, 50};
    png_spec specs[2] = {{1, 1, 8, PNG_COLOR_TYPE_RGB, 0, one, NULL, 0, NULL, 0},
                         {1, 5, 8, PNG_COLOR_TYPE_RGB, 0, five, NULL, 0, NULL, 0}};
    for (int i = 0; i < 2; i++) {
        buf b;
        resnet_error err = {0};
        CHECK(make_png(&specs[i], &b), "make_png");
        resnet_status st =
            resnet_preprocess_memory(b.data, b.size, "tiny.png", RESNET_NORM_CAFFE, g_input, &err);
        CHECK(st == RESNET_OK, "%s", err.message);
        const size_t plane = INPUT_FLOATS / 3;
        int bad = 0;
        for (size_t j = 0; j < plane && st == RESNET_OK; j++)
            bad += g_input[j] != 50.0f - 103.939f || g_input[plane + j] != 100.0f - 116.779f ||
                   g_input[2 * plane + j] != 200.0f - 123.68f;
        CHECK(bad == 0, "%dx%d: %d pixels not constant", specs[i].w, specs[i].h, bad);
        free(b.data);
    }
}

static void test_jpeg_gray(void) {
    unsigned char px[16 * 8];
    for (int i = 0; i < 16 * 8; i++) px[i] = (unsigned char)(i < 64 ? 40 : 220);
    size_t n;
    unsigned char *jpg = make_jpeg(px, 16, 8, 1, JCS_GRAYSCALE, JCS_GRAYSCALE, &n);
    buf b = {jpg, n, n};
    rn_image img = {0};
    if (decode_ok(&b, "gray.jpg", &img)) {
        int bad = 0;
        for (int i = 0; i < 16 * 8; i++) {
            const uint8_t *p = img.rgb + 3 * i;
            bad += p[0] != p[1] || p[1] != p[2] || abs(p[0] - px[i]) > 2;
        }
        CHECK(bad == 0, "%d gray JPEG pixels wrong", bad);
    }
    rn_image_free(&img);
    free(jpg);
}

/* PIL's CMYK -> RGB for ink values (0 = no ink): R = 255 - k - c * (255 - k) / 255, i.e.
 * (255 - c)(255 - k) / 255. */
static int cmyk_expect(int c, int k) { return (int)lround((255.0 - c) * (255.0 - k) / 255.0); }

/* Adobe CMYK and YCCK JPEGs store inverted ink (255 = none), as Photoshop and PIL write
 * them. Four 8x8 blocks of flat colour, so quality 100 keeps them within a few levels. */
static void test_jpeg_cmyk(void) {
    static const int ink[4][4] = {{0, 0, 0, 0}, {255, 0, 0, 0}, {30, 90, 200, 60}, {0, 0, 0, 255}};
    unsigned char px[8 * 32 * 4];
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 32; x++)
            for (int c = 0; c < 4; c++) px[(y * 32 + x) * 4 + c] = (unsigned char)(255 - ink[x / 8][c]);
    static const J_COLOR_SPACE stored[2] = {JCS_CMYK, JCS_YCCK};
    for (int s = 0; s < 2; s++) {
        size_t n;
        unsigned char *jpg = make_jpeg(px, 32, 8, 4, JCS_CMYK, stored[s], &n);
        buf b = {jpg, n, n};
        rn_image img = {0};
        if (decode_ok(&b, s ? "ycck.jpg" : "cmyk.jpg", &img)) {
            for (int blk = 0; blk < 4; blk++) {
                const uint8_t *p = img.rgb + (4 * 32 + blk * 8 + 4) * 3; /* a block's centre */
                for (int c = 0; c < 3; c++) {
                    int want = cmyk_expect(ink[blk][c], ink[blk][3]);
                    CHECK(abs(p[c] - want) <= 4, "%s block %d channel %d: %d, want %d",
                          s ? "YCCK" : "CMYK", blk, c, p[c], want);
                }
            }
        }
        rn_image_free(&img);
        free(jpg);
    }
}

static void test_resize_constant(void) {
    rn_image src = {0}, dst = {0};
    resnet_error err = {0};
    src.width = 37, src.height = 23;
    src.rgb = malloc(37 * 23 * 3);
    for (int i = 0; i < 37 * 23; i++) src.rgb[3 * i] = 10, src.rgb[3 * i + 1] = 200, src.rgb[3 * i + 2] = 255;
    static const int sizes[6][2] = {{300, 5}, {5, 300}, {1, 1}, {256, 256}, {37, 11}, {18, 23}};
    for (int k = 0; k < 6; k++) {
        CHECK(rn_image_resize(&src, sizes[k][0], sizes[k][1], &dst, &err) == RESNET_OK, "%s", err.message);
        int bad = 0;
        for (int i = 0; dst.rgb && i < dst.width * dst.height; i++)
            bad += !pixel_is(&dst, i % dst.width, i / dst.width, 10, 200, 255);
        CHECK(dst.rgb && bad == 0, "%dx%d: %d pixels changed", sizes[k][0], sizes[k][1], bad);
        rn_image_free(&dst);
    }
    free(src.rgb);
}

/* Small cases worked out by hand from the filter (and confirmed with PIL):
 *  4 -> 2: support 2 around centres 1 and 3, weights 3/7 3/7 1/7 and 1/7 3/7 3/7;
 *  2 -> 4: support 1 around centres .25 .75 1.25 1.75: 1 | .75 .25 | .25 .75 | 1,
 *          where 0.75 * 10 + 0.25 * 100 = 32.5 rounds up. */
static void test_resize_hand_computed(void) {
    static uint8_t row4[12] = {0, 0, 0, 70, 70, 70, 140, 140, 140, 210, 210, 210};
    static uint8_t col2[6] = {0, 10, 20, 200, 100, 50};
    rn_image a = {4, 1, row4}, b = {1, 2, col2}, out = {0};
    resnet_error err = {0};
    CHECK(rn_image_resize(&a, 2, 1, &out, &err) == RESNET_OK, "%s", err.message);
    CHECK(out.rgb && pixel_is(&out, 0, 0, 50, 50, 50) && pixel_is(&out, 1, 0, 160, 160, 160), "4 -> 2");
    rn_image_free(&out);
    CHECK(rn_image_resize(&b, 1, 4, &out, &err) == RESNET_OK, "%s", err.message);
    CHECK(out.rgb && pixel_is(&out, 0, 0, 0, 10, 20) && pixel_is(&out, 0, 1, 50, 33, 28) &&
              pixel_is(&out, 0, 2, 150, 78, 43) && pixel_is(&out, 0, 3, 200, 100, 50),
          "2 -> 4");
    rn_image_free(&out);
    CHECK(rn_image_resize(&a, 0, 1, &out, &err) == RESNET_E_ARG && err.message[0], "zero size accepted");
    CHECK(rn_image_resize(&a, 1 << 20, 1 << 20, &out, &err) != RESNET_OK && out.rgb == NULL,
          "huge size accepted");
}

/* An image so elongated that its 256-pixel-high version would exceed the pixel limit is
 * refused (1 x 600000 -> 256 x 153,600,000), with the name in the message. */
static void test_too_elongated(void) {
    const int h = 600000;
    unsigned char *px = calloc((size_t)h, 1);
    png_spec s = {1, h, 8, PNG_COLOR_TYPE_GRAY, 0, px, NULL, 0, NULL, 0};
    buf b;
    resnet_error err = {0};
    CHECK(px && make_png(&s, &b), "make_png");
    resnet_status st = resnet_preprocess_memory(b.data, b.size, "long.png", RESNET_NORM_CAFFE, g_input, &err);
    CHECK(st == RESNET_E_IMAGE && strstr(err.message, "long.png"), "status %d: %s", st, err.message);
    free(b.data);
    free(px);
}

/* ------------------------------------------------------------------ 4. bad input */

/* CRC-32 of PNG chunks (ISO 3309), for hand-made chunks. */
static uint32_t crc32_png(const unsigned char *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8),
    p[3] = (unsigned char)v;
}

/* A PNG signature, an IHDR (valid CRC) claiming w x h RGB pixels and an empty IDAT:
 * enough for a decoder to reach its size check. Returns the length (45 bytes). */
static size_t png_header_only(unsigned char out[45], uint32_t w, uint32_t h) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(out, sig, 8);
    put_be32(out + 8, 13);
    memcpy(out + 12, "IHDR", 4);
    put_be32(out + 16, w);
    put_be32(out + 20, h);
    out[24] = 8, out[25] = 2, out[26] = 0, out[27] = 0, out[28] = 0;
    put_be32(out + 29, crc32_png(out + 12, 17));
    put_be32(out + 33, 0);
    memcpy(out + 37, "IDAT", 4);
    put_be32(out + 41, crc32_png(out + 37, 4));
    return 45;
}

/* Sets the size in a JPEG's baseline SOF0 header; 0 if there is none. */
static int jpeg_set_size(unsigned char *jpg, size_t n, unsigned w, unsigned h) {
    for (size_t i = 2; i + 9 < n; i++)
        if (jpg[i] == 0xff && jpg[i + 1] == 0xc0) {
            jpg[i + 5] = (unsigned char)(h >> 8), jpg[i + 6] = (unsigned char)h;
            jpg[i + 7] = (unsigned char)(w >> 8), jpg[i + 8] = (unsigned char)w;
            return 1;
        }
    return 0;
}

/* Expect an error whose message is non-empty, names the file and says `why`. */
static void expect_error(const char *path, const char *label, const char *why) {
    resnet_error err;
    memset(&err, 0, sizeof err);
    resnet_status st = resnet_preprocess_file(path, RESNET_NORM_CAFFE, g_input, &err);
    CHECK(st != RESNET_OK, "%s: accepted", label);
    CHECK(err.status == st && err.message[0] && strstr(err.message, path) && strstr(err.message, why),
          "%s: message \"%s\" should say \"%s\"", label, err.message, why);
    printf("  %-20s -> %s\n", label, err.message);
}

typedef struct bad_file {
    const char *file, *label, *why; /* why: a phrase the message must contain */
    const unsigned char *data;
    size_t size;
} bad_file;

/* Writes the bad files (made from the repository's own photos) into dir and checks each is
 * refused; 0 if the photos are missing. */
static int check_bad_files(const char *dir) {
    char path[1100];
    size_t js = 0, ps = 0;
    const char *jpg_src = "tests/data/golden/chelsea.jpg", *png_src = "demo/chelsea.png";
    unsigned char *jpg = tu_read_file(jpg_src, &js), *big_jpg = tu_read_file(jpg_src, NULL);
    unsigned char *png = tu_read_file(png_src, &ps), *bad_crc = tu_read_file(png_src, NULL);
    int ok = jpg && big_jpg && png && bad_crc && js > 100 && ps > 100;
    if (ok) ok = jpeg_set_size(big_jpg, js, 65000, 65000);
    if (ok) {
        unsigned char huge[45], zero[45];
        bad_crc[29] ^= 0x01; /* a byte of IHDR's CRC */
        const bad_file f[] = {
            {"empty.jpg", "empty file", "empty", (const unsigned char *)"", 0},
            {"notes.txt", "not an image", "not an image we can read", (const unsigned char *)"hello, world\n", 13},
            {"half.jpg", "truncated JPEG", "truncated", jpg, js / 2},
            {"no-eoi.jpg", "JPEG without EOI", "truncated", jpg, js - 2},
            {"big.jpg", "65000x65000 JPEG", "limit", big_jpg, js},
            {"half.png", "truncated PNG", "truncated", png, ps / 2},
            {"bad-crc.png", "corrupt PNG CRC", "CRC", bad_crc, ps},
            {"huge.png", "100000x100000 PNG", "limit", huge, png_header_only(huge, 100000, 100000)},
            {"zero.png", "0x10 PNG", "PNG", zero, png_header_only(zero, 0, 10)},
        };
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, f[i].file);
            CHECK(write_file(path, f[i].data, f[i].size), "cannot write %s", path);
            expect_error(path, f[i].label, f[i].why);
            unlink(path);
        }
    }
    free(jpg), free(big_jpg), free(png), free(bad_crc);
    return ok;
}

/* A file we may not read (skipped as root, who may read anything). */
static void check_unreadable(const char *dir) {
    char path[1100];
    snprintf(path, sizeof path, "%s/secret.jpg", dir);
    CHECK(write_file(path, "\xff\xd8\xff", 3) && chmod(path, 0) == 0, "cannot make %s", path);
    if (access(path, R_OK) != 0) expect_error(path, "unreadable file", "Permission denied");
    else printf("  %-20s -> skipped (running as root)\n", "unreadable file");
    unlink(path);
}

static void test_bad_input(void) {
    char dir[] = "/tmp/rn_test_image.XXXXXX", subdir[1100], missing[1100];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(missing, sizeof missing, "%s/no-such-file.jpg", dir);
    snprintf(subdir, sizeof subdir, "%s/folder.jpg", dir);
    CHECK(mkdir(subdir, 0700) == 0, "mkdir");
    expect_error(missing, "missing file", "No such file");
    expect_error(subdir, "directory", "directory");
    CHECK(check_bad_files(dir), "the repository's photos are missing (run from its root)");
    check_unreadable(dir);
    rmdir(subdir);
    rmdir(dir);
    /* from memory, the message names the caller's label */
    resnet_error err = {0};
    resnet_status st = resnet_preprocess_memory("GIF89a", 6, "anim.gif", RESNET_NORM_CAFFE, g_input, &err);
    CHECK(st == RESNET_E_IMAGE && strstr(err.message, "anim.gif"),
          "memory: %s", err.message);
    st = resnet_preprocess_memory(NULL, 0, NULL, RESNET_NORM_CAFFE, g_input, &err);
    CHECK(st != RESNET_OK && err.message[0], "empty memory accepted");
}

/* An image over the pixel limit is refused with its size and the limit named. */
static void test_preprocess_over_limit_message(void) {
    unsigned char px[3] = {0, 0, 0};
    resnet_image img = {.width = 20000, .height = 20000, .rgb = px};
    static float out[3 * 224 * 224];
    resnet_error err;
    CHECK(resnet_preprocess_image(&img, RESNET_NORM_CAFFE, out, &err) == RESNET_E_ARG, "over the limit is refused");
    CHECK(strstr(err.message, "20000x20000") && strstr(err.message, "limit"), "names the size and the limit: %s",
          err.message);
    img.width = 0;
    CHECK(resnet_preprocess_image(&img, RESNET_NORM_CAFFE, out, &err) == RESNET_E_ARG && strstr(err.message, "0x20000"),
          "a zero side named: %s", err.message);
    /* a good image with no output buffer: an error, not a write through NULL */
    img.width = img.height = 1;
    CHECK(resnet_preprocess_image(&img, RESNET_NORM_CAFFE, NULL, &err) == RESNET_E_ARG &&
              strstr(err.message, "output buffer"),
          "NULL out: %s", err.message);
}

/* resnet_image_encode_png: the PNG in memory decodes to the same pixels, and says it is ours. */
static void test_encode_png_memory(void) {
    unsigned char px[5 * 3 * 3];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (unsigned char)(i * 37 + 11);
    resnet_image img = {5, 3, px}, back = {0};
    unsigned char *png = NULL;
    size_t size = 0;
    resnet_error err;
    CHECK(resnet_image_encode_png(&img, &png, &size, &err) == RESNET_OK && png && size > 8, "encode: %s",
          err.message);
    if (!png) return;
    CHECK(memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0, "not a PNG signature");
    int ours = 0;
    for (size_t i = 0; i + 8 <= size && !ours; i++) ours = memcmp(png + i, "Software", 8) == 0;
    CHECK(ours, "no Software text chunk");
    CHECK(resnet_image_load_memory(png, size, "mem.png", 0, &back, &err) == RESNET_OK, "decode: %s", err.message);
    CHECK(back.width == 5 && back.height == 3 && back.rgb && memcmp(back.rgb, px, sizeof px) == 0,
          "the pixels came back different (%dx%d)", back.width, back.height);
    resnet_image_free(&back);
    free(png);
    resnet_image bad = {0, 3, px};
    CHECK(resnet_image_encode_png(&bad, &png, &size, &err) == RESNET_E_ARG && png == NULL, "a 0-wide image: %s",
          err.message);
    CHECK(resnet_image_encode_png(&img, NULL, &size, &err) == RESNET_E_ARG, "NULL output");
}

int main(void) {
    RUN(test_preprocess_over_limit_message);
    RUN(test_golden_inputs);
    RUN(test_golden_inputs_shared);
    RUN(test_torch_norm_matches_caffe);
    RUN(test_all_photos_decode);
    RUN(test_png_gray);
    RUN(test_png_palette);
    RUN(test_png_16bit);
    RUN(test_png_alpha);
    RUN(test_png_interlaced);
    RUN(test_tiny_images);
    RUN(test_jpeg_gray);
    RUN(test_jpeg_cmyk);
    RUN(test_resize_constant);
    RUN(test_resize_hand_computed);
    RUN(test_too_elongated);
    RUN(test_bad_input);
    RUN(test_encode_png_memory);
    return TEST_DONE();
}
