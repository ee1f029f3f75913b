/* test_formats.c - every photo format we decode, against PIL, on the small files of
 * tests/data/formats/ (made by make_formats.py there, which also wrote PIL's answers):
 *   - the decoded RGB equals PIL's Image.open(f).convert("RGB"), byte for byte;
 *   - the preprocessed input tensor equals the reference pipeline's (PIL's resize and crop
 *     of PIL's decoding, caffe normalisation), value for value;
 *   - EXIF orientation: off by default (the photo as stored), and with
 *     RESNET_IMAGE_EXIF_ORIENTATION equal to PIL's ImageOps.exif_transpose, for 1..8;
 *   - the format is told by the bytes, not the name; the folder walk lists the new
 *     extensions.
 * Needs only the repository (tier 1). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "resnet.h"
#include "testutil.h"

#define DIR "tests/data/formats"
#define PLANE (RESNET_INPUT_SIZE * RESNET_INPUT_SIZE)

typedef struct row {
    char file[128], ref[128];
    int orientation, crop;
} row;

static row g_rows[128];
static int g_n;
static float g_in[3 * PLANE];

static int read_manifest(void) {
    FILE *f = fopen(DIR "/manifest.tsv", "r");
    if (!f) return 0;
    char line[512];
    if (!fgets(line, sizeof line, f)) line[0] = '\0'; /* the header */
    while (g_n < 128 && fgets(line, sizeof line, f)) {
        row *r = &g_rows[g_n];
        if (sscanf(line, "%127[^\t]\t%127[^\t]\t%d\t%d", r->file, r->ref, &r->orientation, &r->crop) == 4) g_n++;
    }
    fclose(f);
    return g_n;
}

static int same_image(const rn_image *a, const rn_image *b, const char *what) {
    if (a->width != b->width || a->height != b->height) {
        CHECK(0, "%s: %dx%d, PIL %dx%d", what, a->width, a->height, b->width, b->height);
        return 0;
    }
    size_t n = (size_t)a->width * a->height * 3, diff = 0, first = n;
    for (size_t i = 0; i < n; i++)
        if (a->rgb[i] != b->rgb[i]) {
            diff++;
            if (first == n) first = i;
        }
    CHECK(diff == 0, "%s: %zu of %zu bytes differ from PIL's, first at pixel %zu channel %zu (%u, PIL %u)", what, diff,
          n, first / 3, first % 3, first < n ? a->rgb[first] : 0, first < n ? b->rgb[first] : 0);
    return diff == 0;
}

/* Our decoding of DIR/file (with flags) against PIL's, DIR/ref.rgb.png. */
static void check_decode(const char *file, const char *ref, unsigned flags) {
    char path[512], refpath[512], what[600];
    snprintf(path, sizeof path, DIR "/%s", file);
    snprintf(refpath, sizeof refpath, DIR "/%s.rgb.png", ref);
    snprintf(what, sizeof what, "%s%s", file, flags ? " (EXIF orientation applied)" : "");
    rn_image ours, pil;
    resnet_error err = {0};
    resnet_status st = rn_image_load_ex(path, flags, &ours, &err);
    CHECK(st == RESNET_OK, "%s: %s", what, err.message);
    resnet_status st2 = rn_image_load(refpath, &pil, &err);
    CHECK(st2 == RESNET_OK, "%s: %s", refpath, err.message);
    if (st == RESNET_OK && st2 == RESNET_OK) same_image(&ours, &pil, what);
    if (st == RESNET_OK) rn_image_free(&ours);
    if (st2 == RESNET_OK) rn_image_free(&pil);
}

/* Our decoding of the bytes data[0..n) (with flags) against PIL's of the file they were made
 * from, DIR/ref.rgb.png: for files altered here, byte by byte. */
static void check_bytes(const unsigned char *data, size_t n, unsigned flags, const char *ref, const char *what) {
    char refpath[512];
    snprintf(refpath, sizeof refpath, DIR "/%s.rgb.png", ref);
    rn_image ours, pil;
    resnet_error err = {0};
    resnet_status st = rn_image_decode_ex(data, n, what, flags, &ours, &err);
    CHECK(st == RESNET_OK, "%s: %s", what, err.message);
    resnet_status st2 = rn_image_load(refpath, &pil, &err);
    CHECK(st2 == RESNET_OK, "%s: %s", refpath, err.message);
    if (st == RESNET_OK && st2 == RESNET_OK) same_image(&ours, &pil, what);
    if (st == RESNET_OK) rn_image_free(&ours);
    if (st2 == RESNET_OK) rn_image_free(&pil);
}

/* Our input tensor of DIR/file against the reference pipeline's: PIL's crop DIR/ref.crop.png,
 * BGR, minus the caffe means, in float (as make_reference.py's torch code computes it). */
static void check_tensor(const char *file, const char *ref, unsigned flags) {
    char path[512], refpath[512];
    snprintf(path, sizeof path, DIR "/%s", file);
    snprintf(refpath, sizeof refpath, DIR "/%s.crop.png", ref);
    rn_image crop;
    resnet_error err = {0};
    resnet_status st = rn_preprocess_file_ex(path, RESNET_NORM_CAFFE, flags, g_in, &err);
    CHECK(st == RESNET_OK, "%s: %s", file, err.message);
    resnet_status st2 = rn_image_load(refpath, &crop, &err);
    CHECK(st2 == RESNET_OK, "%s: %s", refpath, err.message);
    if (st == RESNET_OK && st2 == RESNET_OK) {
        CHECK(crop.width == RESNET_INPUT_SIZE && crop.height == RESNET_INPUT_SIZE, "%s: crop %dx%d", refpath,
              crop.width, crop.height);
        static const float mean_bgr[3] = {103.939f, 116.779f, 123.68f};
        size_t diff = 0;
        double max_diff = 0;
        for (int c = 0; c < 3; c++)
            for (size_t i = 0; i < PLANE; i++) {
                float want = (float)crop.rgb[3 * i + (2 - c)] - mean_bgr[c];
                double d = fabs((double)g_in[(size_t)c * PLANE + i] - want);
                diff += d != 0;
                if (d > max_diff) max_diff = d;
            }
        CHECK(diff == 0, "%s: %zu of %d input values differ from the reference pipeline's (max %g)", file, diff,
              3 * PLANE, max_diff);
    }
    if (st2 == RESNET_OK) rn_image_free(&crop);
}

static void test_manifest(void) {
    CHECK(read_manifest() >= 40, "%s/manifest.tsv: %d rows (run make_formats.py)", DIR, g_n);
    int exts[8] = {0}; /* the formats covered: webp tif bmp gif ppm pgm pbm jpg */
    static const char *const names[8] = {".webp", ".tif", ".bmp", ".gif", ".ppm", ".pgm", ".pbm", ".jpg"};
    for (int i = 0; i < g_n; i++)
        for (int k = 0; k < 8; k++) exts[k] += strstr(g_rows[i].file, names[k]) != NULL;
    for (int k = 0; k < 8; k++) CHECK(exts[k] > 0, "no %s file in the manifest", names[k]);
}

/* Every file decodes as PIL decodes it, and its input tensor is the reference's. */
static void run_format(const char *ext) {
    int seen = 0;
    for (int i = 0; i < g_n; i++) {
        const row *r = &g_rows[i];
        const char *dot = strrchr(r->file, '.');
        if (!dot || strcmp(dot, ext) != 0 || r->orientation) continue;
        seen++;
        check_decode(r->file, r->ref, 0);
        if (r->crop) check_tensor(r->file, r->ref, 0);
    }
    CHECK(seen > 0, "no %s files", ext);
}
static void test_webp(void) { run_format(".webp"); }
static void test_tiff(void) { run_format(".tif"); }
static void test_bmp(void) { run_format(".bmp"); }
static void test_gif(void) { run_format(".gif"); }
static void test_pnm(void) {
    run_format(".ppm");
    run_format(".pgm");
    run_format(".pbm");
}

/* A one-strip 8-bit grey TIFF of w x h pixels (little-endian), `comp` its compression and
 * data its strip; returns its size in out (room for 256 bytes). */
static size_t tiny_tiff(unsigned w, unsigned h, unsigned comp, const uint8_t *data, size_t n, uint8_t *out) {
    const unsigned tags[][2] = {{256, w}, {257, h}, {258, 8}, {259, comp}, {262, 1}, {273, 0}, {277, 1}, {278, h},
                                {279, (unsigned)n}};
    const size_t count = sizeof tags / sizeof tags[0], at = 8 + 2 + 12 * count + 4;
    memcpy(out, "II*\0\x08\0\0\0", 8);
    out[8] = (uint8_t)count, out[9] = 0;
    for (size_t i = 0; i < count; i++) {
        uint8_t *e = out + 10 + 12 * i;
        unsigned v = tags[i][0] == 273 ? (unsigned)at : tags[i][1];
        e[0] = (uint8_t)tags[i][0], e[1] = (uint8_t)(tags[i][0] >> 8);
        e[2] = 4, e[3] = 0, e[4] = 1, e[5] = e[6] = e[7] = 0; /* one LONG */
        e[8] = (uint8_t)v, e[9] = (uint8_t)(v >> 8), e[10] = (uint8_t)(v >> 16), e[11] = (uint8_t)(v >> 24);
    }
    memset(out + at - 4, 0, 4);
    memcpy(out + at, data, n);
    return at + n;
}

/* PackBits runs that cross from one row into the next (against the specification, but
 * written): PIL decodes the strip whole and gets the pixels meant; so must we, rather than
 * cut the runs at each row (the rows after shifted, or "not enough data"). */
static void test_tiff_packbits_across_rows(void) {
    static const uint8_t pixels[12] = {1, 2, 3, 4, 5, 6, 8, 8, 8, 8, 8, 8};
    static const uint8_t packed[] = {5, 1, 2, 3, 4, 5, 6, 0xFB, 8}; /* 6 literal, then 6 copies of 8 */
    uint8_t raw_file[256], pb_file[256];
    size_t raw_n = tiny_tiff(4, 3, 1, pixels, sizeof pixels, raw_file);
    size_t pb_n = tiny_tiff(4, 3, 32773, packed, sizeof packed, pb_file);
    rn_image plain, pb;
    resnet_error err = {0};
    resnet_status st = rn_image_decode(raw_file, raw_n, "plain.tif", &plain, &err);
    CHECK(st == RESNET_OK, "%s", err.message);
    resnet_status st2 = rn_image_decode(pb_file, pb_n, "packbits.tif", &pb, &err);
    CHECK(st2 == RESNET_OK, "%s", err.message);
    if (st == RESNET_OK && st2 == RESNET_OK) same_image(&pb, &plain, "PackBits runs across rows");
    if (st == RESNET_OK) rn_image_free(&plain);
    if (st2 == RESNET_OK) rn_image_free(&pb);
}

/* A byte that starts no GIF block, between the header and the first frame: PIL skips it
 * (giflib calls it a wrong record type), so the file decodes as without it. */
static void test_gif_stray_byte(void) {
    const char *ref = NULL;
    for (int i = 0; i < g_n; i++)
        if (strcmp(g_rows[i].file, "frame-transparent.gif") == 0) ref = g_rows[i].ref;
    size_t n = 0;
    unsigned char *gif = tu_read_file(DIR "/frame-transparent.gif", &n);
    CHECK(gif != NULL && n > 13 && ref != NULL, "frame-transparent.gif or its row missing");
    if (!gif || n <= 13 || !ref) { free(gif); return; }
    size_t at = 13 + ((gif[10] & 0x80) ? 3 * ((size_t)2 << (gif[10] & 7)) : 0); /* after the global colours */
    CHECK(at < n, "frame-transparent.gif: no blocks");
    if (at >= n) { free(gif); return; }
    unsigned char *stray = malloc(n + 1);
    memcpy(stray, gif, at);
    stray[at] = 0;
    memcpy(stray + at + 1, gif + at, n - at);
    check_bytes(stray, n + 1, 0, ref, "frame-transparent.gif with a stray byte");
    free(stray);
    free(gif);
}

/* EXIF orientation: ignored by default (every exif-N.jpg is the stored picture, exif-1's),
 * applied on request as PIL's exif_transpose, through the internal and the public calls. */
static void test_exif_orientation(void) {
    const char *plain_ref = NULL;
    int seen = 0;
    for (int i = 0; i < g_n; i++)
        if (g_rows[i].orientation == 1) plain_ref = g_rows[i].ref;
    CHECK(plain_ref != NULL, "no exif-1.jpg in the manifest");
    if (!plain_ref) return;
    for (int i = 0; i < g_n; i++) {
        const row *r = &g_rows[i];
        if (!r->orientation) continue;
        seen++;
        check_decode(r->file, plain_ref, 0);
        check_decode(r->file, r->ref, RESNET_IMAGE_EXIF_ORIENTATION);
        if (r->crop) check_tensor(r->file, r->ref, RESNET_IMAGE_EXIF_ORIENTATION);
        /* the public call, with and without the flag */
        char path[512];
        snprintf(path, sizeof path, DIR "/%.127s", r->file);
        resnet_image img;
        resnet_error err = {0};
        int w1 = 0, h1 = 0;
        if (resnet_image_load(path, &img, &err) == RESNET_OK) {
            w1 = img.width, h1 = img.height;
            resnet_image_free(&img);
        }
        CHECK(resnet_image_load_ex(path, RESNET_IMAGE_EXIF_ORIENTATION, &img, &err) == RESNET_OK, "%s", err.message);
        int turned = r->orientation >= 5;
        CHECK(w1 == 61 && h1 == 45 && img.width == (turned ? h1 : w1) && img.height == (turned ? w1 : h1),
              "%s: %dx%d, then %dx%d", r->file, w1, h1, img.width, img.height);
        resnet_image_free(&img);
    }
    CHECK(seen == 8, "%d EXIF files, want 8", seen);
}

/* exif-6.jpg's bytes (n of them) and its row's reference, for the tests that alter it; NULL
 * (failed) when either is missing. */
static unsigned char *read_exif6(const char **ref, size_t *n) {
    *ref = NULL;
    for (int i = 0; i < g_n; i++)
        if (g_rows[i].orientation == 6) *ref = g_rows[i].ref;
    unsigned char *jpg = tu_read_file(DIR "/exif-6.jpg", n);
    CHECK(jpg != NULL && *ref != NULL, "exif-6.jpg or its row missing");
    if (!*ref) {
        free(jpg);
        return NULL;
    }
    return jpg;
}

/* Bytes that are no marker between a JPEG's segments (libjpeg warns of "extraneous bytes
 * before marker" and reads on) are skipped by PIL, which still finds the Exif segment after
 * them: the orientation applies as in the file without them. */
static void test_exif_after_junk(void) {
    const char *ref;
    size_t n;
    unsigned char *jpg = read_exif6(&ref, &n);
    if (!jpg) return;
    size_t app1 = 2;
    while (app1 + 1 < n && !(jpg[app1] == 0xFF && jpg[app1 + 1] == 0xE1)) app1++;
    CHECK(app1 + 1 < n, "exif-6.jpg has no APP1 segment");
    unsigned char *junk = malloc(n + 2);
    memcpy(junk, jpg, app1);
    junk[app1] = 0x12, junk[app1 + 1] = 0x34;
    memcpy(junk + app1 + 2, jpg + app1, n - app1);
    check_bytes(junk, n + 2, RESNET_IMAGE_EXIF_ORIENTATION, ref, "exif-6.jpg with junk before its Exif segment");
    free(junk);
    free(jpg);
}

/* The orientation written as a signed SHORT instead of a SHORT: PIL's exif_transpose takes
 * any number type whose value is 1..8, so the photo turns as with the standard type. */
static void test_exif_signed_type(void) {
    const char *ref;
    size_t n;
    unsigned char *jpg = read_exif6(&ref, &n);
    if (!jpg) return;
    /* the directory entry: tag 0x0112, type 3, in either byte order */
    size_t at = 0;
    for (size_t i = 0; i + 4 <= n && !at; i++)
        if (memcmp(jpg + i, "\x01\x12\x00\x03", 4) == 0) at = i + 3;
        else if (memcmp(jpg + i, "\x12\x01\x03\x00", 4) == 0) at = i + 2;
    CHECK(at != 0, "exif-6.jpg: no orientation entry found");
    if (!at) { free(jpg); return; }
    jpg[at] = 8; /* SSHORT */
    check_bytes(jpg, n, RESNET_IMAGE_EXIF_ORIENTATION, ref, "exif-6.jpg with its orientation a signed SHORT");
    free(jpg);
}

/* The format comes from the bytes: a WebP named .png and a TIFF named .jpg decode as
 * themselves; a text file named .bmp is refused with one line. */
static void test_sniffed_not_named(void) {
    size_t n = 0;
    unsigned char *webp = tu_read_file(DIR "/lossy.webp", &n);
    CHECK(webp != NULL, "lossy.webp missing");
    if (!webp) return;
    rn_image a, b;
    resnet_error err = {0};
    CHECK(rn_image_decode(webp, n, "photo.png", &a, &err) == RESNET_OK, "%s", err.message);
    CHECK(rn_image_load(DIR "/lossy-webp.rgb.png", &b, &err) == RESNET_OK, "%s", err.message);
    same_image(&a, &b, "WebP named photo.png");
    rn_image_free(&a);
    rn_image_free(&b);
    free(webp);
    static const char text[] = "BM is how this note starts, but it is text\n";
    resnet_status st = rn_image_decode((const uint8_t *)text, sizeof text - 1, "note.bmp", &a, &err);
    CHECK(st == RESNET_E_IMAGE && strstr(err.message, "note.bmp") && !strchr(err.message, '\n'), "text as BMP: %s",
          err.message);
    CHECK(rn_image_sniff((const uint8_t *)"P6\n1 1\n255\n", 11) == RN_FORMAT_PNM, "P6 not sniffed");
    CHECK(rn_image_sniff((const uint8_t *)"II*\0", 4) == RN_FORMAT_TIFF, "TIFF not sniffed");
    CHECK(rn_image_sniff((const uint8_t *)"MM\0*", 4) == RN_FORMAT_TIFF, "big-endian TIFF not sniffed");
    CHECK(rn_image_sniff((const uint8_t *)"GIF89a", 6) == RN_FORMAT_GIF, "GIF not sniffed");
    CHECK(rn_image_sniff((const uint8_t *)"Photo", 5) == RN_FORMAT_UNKNOWN, "text sniffed as an image");
}

/* A BMP whose file header gives the pixels' offset as 0: PIL reads them where its reading of
 * the header stopped, after the bit masks of a 40-byte header and after the palette. Each
 * file here has its pixels just there, so with the offset zeroed it decodes as before. */
static void test_bmp_offset_zero(void) {
    static const char *const files[] = {"rgb565.bmp", "palette8.bmp", "pal8rle.bmp", "bilevel1.bmp", "rgb24.bmp"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        const char *ref = NULL;
        for (int i = 0; i < g_n; i++)
            if (strcmp(g_rows[i].file, files[k]) == 0) ref = g_rows[i].ref;
        char path[512];
        snprintf(path, sizeof path, DIR "/%s", files[k]);
        size_t n = 0;
        unsigned char *bmp = tu_read_file(path, &n);
        CHECK(bmp != NULL && n > 54 && ref != NULL, "%s or its row missing", files[k]);
        if (!bmp || n <= 54 || !ref) { free(bmp); continue; }
        memset(bmp + 10, 0, 4);
        char what[600];
        snprintf(what, sizeof what, "%s with its pixel offset 0", files[k]);
        check_bytes(bmp, n, 0, ref, what);
        free(bmp);
    }
}

/* RLE BMP that PIL cannot decode or that we refuse: each one line, never a crash. The files
 * PIL does decode are compared with it by test_bmp (pal8rle.bmp, pal4rle.bmp, ...). */
static void test_bmp_rle_refused(void) {
    size_t n = 0;
    unsigned char *bmp = tu_read_file(DIR "/pal8rle.bmp", &n);
    CHECK(bmp != NULL && n > 300, "pal8rle.bmp missing");
    if (!bmp || n <= 300) { free(bmp); return; }
    const size_t off = (size_t)bmp[10] | (size_t)bmp[11] << 8;
    rn_image img;
    resnet_error err = {0};
    /* the stream cut short: fewer indices than pixels */
    resnet_status st = rn_image_decode(bmp, off + (n - off) / 2, "cut.bmp", &img, &err);
    CHECK(st == RESNET_E_IMAGE && strstr(err.message, "cut.bmp: truncated BMP data") && !strchr(err.message, '\n'),
          "a cut RLE stream: %s", err.message);
    if (st == RESNET_OK) rn_image_free(&img);
    /* an end of bitmap at once */
    unsigned char *eob = malloc(n);
    memcpy(eob, bmp, n);
    eob[off] = 0, eob[off + 1] = 1;
    st = rn_image_decode(eob, n, "eob.bmp", &img, &err);
    CHECK(st == RESNET_E_IMAGE && strstr(err.message, "truncated BMP data"), "an early end of bitmap: %s",
          err.message);
    if (st == RESNET_OK) rn_image_free(&img);
    /* a delta record first */
    eob[off] = 0, eob[off + 1] = 2, eob[off + 2] = 1, eob[off + 3] = 0;
    st = rn_image_decode(eob, n, "delta.bmp", &img, &err);
    CHECK(st == RESNET_E_IMAGE && strstr(err.message, "delta record"), "a delta record: %s", err.message);
    if (st == RESNET_OK) rn_image_free(&img);
    /* RLE8 with 24 bits a pixel */
    memcpy(eob, bmp, n);
    eob[28] = 24;
    st = rn_image_decode(eob, n, "rle24.bmp", &img, &err);
    CHECK(st == RESNET_E_IMAGE && strstr(err.message, "unsupported RLE-compressed BMP of 24 bits"), "RLE, 24 bits: %s",
          err.message);
    if (st == RESNET_OK) rn_image_free(&img);
    /* a huge image from a small stream: refused once the stream ends, not after minutes */
    memcpy(eob, bmp, n);
    eob[18] = 0, eob[19] = 0x20, eob[20] = 0, eob[21] = 0; /* width 8192 */
    eob[22] = 0, eob[23] = 0x20, eob[24] = 0, eob[25] = 0; /* height 8192 */
    st = rn_image_decode(eob, n, "huge.bmp", &img, &err);
    CHECK(st == RESNET_E_IMAGE && strstr(err.message, "truncated BMP data"), "a huge RLE header: %s", err.message);
    if (st == RESNET_OK) rn_image_free(&img);
    free(eob);
    free(bmp);
}

/* resnet_list_images lists every extension we decode (any case), and files without one by
 * their bytes; other files are left out. */
static void test_walk_extensions(void) {
    char dir[] = "/tmp/rn_test_formats.XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    static const char *const names[] = {"a.webp", "b.TIF", "c.tiff", "d.gif", "e.bmp", "f.pbm", "g.pgm",
                                        "h.ppm",  "i.pnm", "j.jpg", "k.png", "noext", "notes.txt"};
    const int n = (int)(sizeof names / sizeof names[0]);
    for (int i = 0; i < n; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        FILE *f = fopen(p, "wb");
        if (!f) continue;
        /* "noext" holds a GIF signature; the others' contents do not matter to the walk */
        fputs(strcmp(names[i], "noext") == 0 ? "GIF89a......" : "text", f);
        fclose(f);
    }
    resnet_file_list list;
    resnet_error err = {0};
    CHECK(resnet_list_images(dir, &list, &err) == RESNET_OK, "%s", err.message);
    CHECK(list.count == n - 1, "listed %d files, want %d", list.count, n - 1);
    for (int i = 0; i < list.count; i++) CHECK(!strstr(list.paths[i], "notes.txt"), "listed %s", list.paths[i]);
    resnet_file_list_free(&list);
    for (int i = 0; i < n; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
    CHECK(rn_image_has_photo_extension("x.WebP") && rn_image_has_photo_extension("x.pnm") &&
              !rn_image_has_photo_extension("x.txt") && !rn_image_has_photo_extension("webp"),
          "extension list");
}

int main(void) {
    RUN(test_manifest);
    RUN(test_webp);
    RUN(test_tiff);
    RUN(test_tiff_packbits_across_rows);
    RUN(test_bmp);
    RUN(test_bmp_rle_refused);
    RUN(test_bmp_offset_zero);
    RUN(test_gif);
    RUN(test_gif_stray_byte);
    RUN(test_pnm);
    RUN(test_exif_orientation);
    RUN(test_exif_after_junk);
    RUN(test_exif_signed_type);
    RUN(test_sniffed_not_named);
    RUN(test_walk_extensions);
    return TEST_DONE();
}
