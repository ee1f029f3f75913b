/* test_features.c - beyond one label: the feature map and class activation maps, where the
 * maps lie on the photo, PNG writing, folder listing, the pipelined runner, similarity of
 * embeddings, and the linear head (training, saving, loading, bad files).
 *
 * Needs RESNET_TEST_V1_CAFFE (tests/run.sh sets it). The tests on the ImageNet sample photos
 * need ../shared (RESNET_SHARED) and are skipped without it; the others use the repository's. */
#define _XOPEN_SOURCE 700 /* mkdtemp, symlink */
#include <float.h>
#include <glob.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "io/safetensors.h"
#include "walk.h"
#include "model/resnet50.h"
#include "resnet.h"
#include "testutil.h"

#define IN_FLOATS (3 * RESNET_INPUT_SIZE * RESNET_INPUT_SIZE)
#define DIM RESNET_FEATURE_DIM

static resnet_model *model;
static resnet_session *sess; /* batch 2 */
static char tmpdir[64];

/* A photo of ../shared/images/samples, or, for a name with a '/', the repository's own. */
static void sample_path(char *buf, size_t n, const char *name) {
    if (strchr(name, '/')) snprintf(buf, n, "%s", name);
    else snprintf(buf, n, "%s/images/samples/%s", tu_shared(), name);
}

/* ---- the forward pass's new outputs ---------------------------------------------------- */

static void test_forward_ex_outputs_agree(void) {
    char p1[512], p2[512];
    sample_path(p1, sizeof p1, "tests/data/golden/chelsea.jpg");
    sample_path(p2, sizeof p2, "demo/coffee.png");
    float *in = malloc(2 * IN_FLOATS * sizeof(float));
    float *lg = malloc(2 * RESNET_NUM_CLASSES * sizeof(float)), *lg1 = malloc(RESNET_NUM_CLASSES * sizeof(float));
    float *ft = malloc(2 * DIM * sizeof(float)), *fm = malloc((size_t)2 * RESNET_MAP_CELLS * DIM * sizeof(float));
    float *cm = malloc((size_t)2 * RESNET_NUM_CLASSES * RESNET_MAP_CELLS * sizeof(float));
    resnet_error err;
    CHECK(resnet_preprocess_file(p1, resnet_model_norm(model), in, &err) == RESNET_OK, "%s", err.message);
    CHECK(resnet_preprocess_file(p2, resnet_model_norm(model), in + IN_FLOATS, &err) == RESNET_OK, "%s", err.message);
    resnet_outputs o;
    resnet_outputs_init(&o);
    o.logits = lg;
    o.features = ft;
    o.feature_map = fm;
    o.class_maps = cm;
    CHECK(resnet_forward_ex(sess, in, 2, &o, &err) == RESNET_OK, "%s", err.message);
    /* the plain pass gives the same logits, image by image */
    double dl = 0, dfeat = 0, dcam = 0;
    for (int i = 0; i < 2; i++) {
        CHECK(resnet_forward(sess, in + (size_t)i * IN_FLOATS, 1, lg1, NULL, &err) == RESNET_OK, "%s", err.message);
        for (int c = 0; c < RESNET_NUM_CLASSES; c++) dl = fmax(dl, fabs(lg1[c] - lg[i * RESNET_NUM_CLASSES + c]));
        /* pooled features = mean of the feature map over its 49 cells */
        for (int k = 0; k < DIM; k++) {
            double m = 0;
            for (int p = 0; p < RESNET_MAP_CELLS; p++) m += fm[((size_t)i * RESNET_MAP_CELLS + p) * DIM + k];
            dfeat = fmax(dfeat, fabs(m / RESNET_MAP_CELLS - ft[(size_t)i * DIM + k]));
        }
        /* a class map's mean + the fc bias = the class's logit (the CAM identity) */
        for (int c = 0; c < RESNET_NUM_CLASSES; c++) {
            double m = 0;
            for (int p = 0; p < RESNET_MAP_CELLS; p++) m += cm[((size_t)i * RESNET_NUM_CLASSES + c) * RESNET_MAP_CELLS + p];
            dcam = fmax(dcam, fabs(m / RESNET_MAP_CELLS + rn_model_fc(model)->bias[c] - lg[i * RESNET_NUM_CLASSES + c]));
        }
    }
    CHECK(dl < 1e-3, "batch-2 logits differ from single passes by %g", dl);
    CHECK(dfeat < 1e-4, "features differ from the mean of the feature map by %g", dfeat);
    CHECK(dcam < 1e-3, "mean class map + bias differs from the logit by %g", dcam);
    /* only the feature map, no logits: allowed */
    resnet_outputs only;
    resnet_outputs_init(&only);
    only.feature_map = fm;
    CHECK(resnet_forward_ex(sess, in, 1, &only, &err) == RESNET_OK, "%s", err.message);
    CHECK(resnet_forward_ex(sess, in, 1, NULL, &err) == RESNET_E_ARG, "NULL outputs accepted");
    CHECK(resnet_forward_ex(sess, in, 3, &o, &err) == RESNET_E_ARG, "batch 3 > max 2 accepted");
    /* an inf or NaN in the input is refused, naming it: a NaN pixel came out as finite logits */
    in[IN_FLOATS + 5] = NAN;
    CHECK(resnet_forward(sess, in, 2, lg, NULL, &err) == RESNET_E_ARG && strstr(err.message, "value 5 of image 1") &&
              strstr(err.message, "NaN"),
          "a NaN input value: %s", err.message);
    in[IN_FLOATS + 5] = 0;
    in[7] = -INFINITY;
    CHECK(resnet_forward_ex(sess, in, 1, &only, &err) == RESNET_E_ARG && strstr(err.message, "infinite"),
          "an infinite input value: %s", err.message);
    CHECK(resnet_session_max_batch(sess) == 2, "max batch");
    free(in);
    free(lg);
    free(lg1);
    free(ft);
    free(fm);
    free(cm);
}

/* resnet_outputs_check: real outputs pass; an inf or NaN in any output, or an image's 1000
 * equal logits, is no answer. */
static void test_outputs_check(void) {
    resnet_error err;
    float *in = malloc(IN_FLOATS * sizeof(float)), *lg = malloc(2 * RESNET_NUM_CLASSES * sizeof(float));
    float *cm = malloc((size_t)2 * RESNET_NUM_CLASSES * RESNET_MAP_CELLS * sizeof(float));
    CHECK(in && lg && cm, "out of memory");
    if (!in || !lg || !cm) goto done;
    CHECK(resnet_preprocess_file("demo/coffee.png", resnet_model_norm(model), in, &err) == RESNET_OK, "%s", err.message);
    resnet_outputs o;
    resnet_outputs_init(&o);
    o.logits = lg;
    o.class_maps = cm;
    CHECK(resnet_forward_ex(sess, in, 1, &o, &err) == RESNET_OK, "%s", err.message);
    CHECK(resnet_outputs_check(&o, 1, &err) == RESNET_OK, "a real answer refused: %s", err.message);
    cm[RESNET_MAP_CELLS * 967 + 3] = INFINITY;
    CHECK(resnet_outputs_check(&o, 1, &err) == RESNET_E_WEIGHTS && strstr(err.message, "not finite"),
          "an inf class map cell passed (%s)", err.message);
    o.class_maps = NULL; /* outputs not asked for are not read */
    CHECK(resnet_outputs_check(&o, 1, &err) == RESNET_OK, "a skipped output was checked: %s", err.message);
    for (int i = 0; i < RESNET_NUM_CLASSES; i++) lg[RESNET_NUM_CLASSES + i] = 2.5f; /* image 2: all equal */
    CHECK(resnet_outputs_check(&o, 2, &err) == RESNET_E_WEIGHTS && strstr(err.message, "all equal"),
          "1000 equal logits passed (%s)", err.message);
    lg[7] = NAN;
    CHECK(resnet_outputs_check(&o, 1, &err) == RESNET_E_WEIGHTS, "a NaN logit passed");
    CHECK(resnet_outputs_check(NULL, 1, &err) == RESNET_E_ARG, "NULL outputs accepted");
done:
    free(in);
    free(lg);
    free(cm);
}

/* resnet_image_load_memory decodes a file's bytes to the pixels resnet_image_load_ex gives. */
static void test_image_load_memory(void) {
    resnet_error err;
    size_t size = 0;
    unsigned char *bytes = tu_read_file("demo/chelsea.png", &size);
    resnet_image a = {0}, b = {0};
    CHECK(bytes != NULL, "cannot read demo/chelsea.png");
    if (!bytes) return;
    CHECK(resnet_image_load_ex("demo/chelsea.png", 0, &a, &err) == RESNET_OK, "%s", err.message);
    CHECK(resnet_image_load_memory(bytes, size, "chelsea", 0, &b, &err) == RESNET_OK, "%s", err.message);
    CHECK(a.width == b.width && a.height == b.height && a.rgb && b.rgb &&
              memcmp(a.rgb, b.rgb, (size_t)a.width * a.height * 3) == 0,
          "memory %dx%d differs from file %dx%d", b.width, b.height, a.width, a.height);
    resnet_image_free(&b);
    CHECK(resnet_image_load_memory(bytes, 40, "cut", 0, &b, &err) != RESNET_OK && strstr(err.message, "cut") &&
              b.rgb == NULL,
          "40 bytes of a PNG decoded (%s)", err.message);
    CHECK(resnet_image_load_memory("hello", 5, "text", 0, &b, &err) == RESNET_E_IMAGE, "text decoded");
    CHECK(resnet_image_load_memory(bytes, size, "x", 0, NULL, &err) == RESNET_E_ARG, "NULL output accepted");
    resnet_image_free(&a);
    free(bytes);
}

/* resnet_model_preprocess_image_views on a decoded photo: the views resnet_model_preprocess_memory
 * makes of its file, bit for bit (the HTTP server decodes first to count pixels). */
static void test_image_views_match_memory(void) {
    resnet_error err;
    size_t size = 0;
    unsigned char *bytes = tu_read_file("demo/chelsea.png", &size);
    resnet_image img = {0};
    resnet_view views[RESNET_TTA_MAX_VIEWS];
    const int n = resnet_tta_views(RESNET_TTA_10CROP, views);
    const size_t view = (size_t)3 * resnet_model_input_size(model) * resnet_model_input_size(model);
    float *a = malloc((size_t)n * view * sizeof(float)), *b = malloc((size_t)n * view * sizeof(float));
    CHECK(bytes && a && b, "out of memory, or no demo/chelsea.png");
    if (!bytes || !a || !b) goto done;
    CHECK(resnet_image_load_memory(bytes, size, "chelsea", 0, &img, &err) == RESNET_OK, "%s", err.message);
    CHECK(resnet_model_preprocess_memory(model, bytes, size, "chelsea", 0, views, n, a, &err) == RESNET_OK, "%s",
          err.message);
    memset(b, 0xff, (size_t)n * view * sizeof(float));
    CHECK(resnet_model_preprocess_image_views(model, &img, views, n, b, &err) == RESNET_OK, "%s", err.message);
    CHECK(memcmp(a, b, (size_t)n * view * sizeof(float)) == 0, "10 views of the decoded photo differ from the file's");
    memset(b, 0xff, view * sizeof(float));
    CHECK(resnet_model_preprocess_image_views(model, &img, NULL, 0, b, &err) == RESNET_OK &&
              memcmp(a, b, view * sizeof(float)) == 0,
          "NULL views: not the plain view (%s)", err.message);
    CHECK(resnet_model_preprocess_image_views(model, NULL, views, n, b, &err) == RESNET_E_ARG, "NULL image accepted");
    resnet_image none = {0};
    CHECK(resnet_model_preprocess_image_views(model, &none, views, n, b, &err) == RESNET_E_ARG,
          "an image without pixels accepted");
done:
    resnet_image_free(&img);
    free(a);
    free(b);
    free(bytes);
}

/* ---- where the crop lies on the photo --------------------------------------------------- */

static void test_crop_box_matches_preprocess(void) {
    double b[4];
    resnet_crop_box(256, 256, b);
    CHECK(fabs(b[0] - 16) < 1e-9 && fabs(b[1] - 16) < 1e-9 && fabs(b[2] - 240) < 1e-9 && fabs(b[3] - 240) < 1e-9,
          "256x256 box %g %g %g %g", b[0], b[1], b[2], b[3]);
    /* a photo the preprocessing refuses as too elongated has no crop */
    resnet_crop_box(1, 1 << 20, b);
    CHECK(b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0, "1x2^20 box %g %g %g %g", b[0], b[1], b[2], b[3]);
    /* A photo whose red channel is its x coordinate and green its y (linear ramps survive a
     * bilinear resize), so each crop pixel says where on the photo it came from: that must
     * be where resnet_crop_box puts it. Sizes: landscape, portrait, odd offsets. */
    const int sizes[][2] = {{400, 300}, {300, 512}, {889, 500}, {257, 999}};
    float *in = malloc(IN_FLOATS * sizeof(float));
    for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
        const int w = sizes[t][0], h = sizes[t][1];
        resnet_image img = {w, h, malloc((size_t)w * h * 3)};
        /* ramps scaled so one step of 255 spans the image; values stay in 0..255 */
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                unsigned char *p = img.rgb + ((size_t)y * w + x) * 3;
                p[0] = (unsigned char)lrint(255.0 * x / (w - 1));
                p[1] = (unsigned char)lrint(255.0 * y / (h - 1));
                p[2] = 0;
            }
        resnet_error err;
        CHECK(resnet_preprocess_image(&img, RESNET_NORM_CAFFE, in, &err) == RESNET_OK, "%s", err.message);
        resnet_crop_box(w, h, b);
        const int plane = RESNET_INPUT_SIZE * RESNET_INPUT_SIZE;
        double worst = 0;
        const int probes[] = {8, 60, 112, 170, 215};
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++) {
                const int u = probes[i], v = probes[j];
                const double r = in[2 * plane + v * RESNET_INPUT_SIZE + u] + 123.68; /* caffe: BGR - mean */
                const double g = in[1 * plane + v * RESNET_INPUT_SIZE + u] + 116.779;
                const double x = b[0] + (u + 0.5) * (b[2] - b[0]) / RESNET_INPUT_SIZE - 0.5;
                const double y = b[1] + (v + 0.5) * (b[3] - b[1]) / RESNET_INPUT_SIZE - 0.5;
                worst = fmax(worst, fabs(r - 255.0 * x / (w - 1)));
                worst = fmax(worst, fabs(g - 255.0 * y / (h - 1)));
            }
        CHECK(worst < 1.5, "%dx%d: the crop box is off by %.2f levels (~%.1f pixels)", w, h, worst,
              worst * (w > h ? w : h) / 255.0);
        resnet_image_free(&img);
    }
    free(in);
}

/* ---- class activation maps on the photos -------------------------------------------------- */

/* Boxes of the animals, read off the photos by eye (pixel coordinates of the photo itself):
 *   282_tiger_cat_1.jpg (889x500): the cat, whiskers left out: x 280..705, y 0..500 (its tail
 *     reaches the top edge); its head: x 330..630, y 55..350.
 *   258_samoyed_1.jpg (1546x1213): the dog, tail included: x 169..1431, y 38..1136; its head
 *     and chest: x 169..800, y 38..800.
 *   demo/chelsea.png (451x300): the cat fills the photo; its face, eyes to chin: x 130..370,
 *     y 60..300; eyes and nose: x 130..350, y 80..270.
 * The CAM's hottest pixel must fall in the smaller box, and the map must be hotter on the
 * animal than on the rest of the crop. */
typedef struct cam_case {
    const char *file;
    int cls, w, h;
    int animal[4], part[4];
} cam_case;

static void check_cam(const cam_case *cc) {
    char path[512], out[600];
    sample_path(path, sizeof path, cc->file);
    resnet_image img = {0}, shown = {0}, back = {0};
    resnet_error err;
    if (resnet_image_load(path, &img, &err) != RESNET_OK) {
        CHECK(0, "%s", err.message);
        return;
    }
    CHECK(img.width == cc->w && img.height == cc->h, "%s is %dx%d", cc->file, img.width, img.height);
    float *in = malloc(IN_FLOATS * sizeof(float)), *lg = malloc(RESNET_NUM_CLASSES * sizeof(float));
    float *cm = malloc((size_t)RESNET_NUM_CLASSES * RESNET_MAP_CELLS * sizeof(float));
    float *heat = malloc((size_t)img.width * img.height * sizeof(float));
    CHECK(resnet_preprocess_image(&img, resnet_model_norm(model), in, &err) == RESNET_OK, "%s", err.message);
    resnet_outputs o;
    resnet_outputs_init(&o);
    o.logits = lg;
    o.class_maps = cm;
    CHECK(resnet_forward_ex(sess, in, 1, &o, &err) == RESNET_OK, "%s", err.message);
    resnet_prediction top;
    resnet_softmax(lg, RESNET_NUM_CLASSES, lg);
    resnet_top_k(lg, RESNET_NUM_CLASSES, 1, &top);
    CHECK(top.index == cc->cls, "%s: top-1 is %d, want %d", cc->file, top.index, cc->cls);
    CHECK(resnet_cam_heatmap(cm + (size_t)cc->cls * RESNET_MAP_CELLS, img.width, img.height, heat, &err) == RESNET_OK,
          "%s", err.message);
    size_t hot = 0;
    double in_sum = 0, out_sum = 0;
    long in_n = 0, out_n = 0;
    float hmin = 2, hmax = -2;
    for (int y = 0; y < img.height; y++)
        for (int x = 0; x < img.width; x++) {
            const size_t i = (size_t)y * img.width + x;
            const float hv = heat[i];
            if (hv > heat[hot]) hot = i;
            if (hv < 0) continue; /* outside the crop */
            hmin = hv < hmin ? hv : hmin;
            hmax = hv > hmax ? hv : hmax;
            const int inside = x >= cc->animal[0] && x < cc->animal[2] && y >= cc->animal[1] && y < cc->animal[3];
            if (inside) in_sum += hv, in_n++;
            else out_sum += hv, out_n++;
        }
    const int hx = (int)(hot % (size_t)img.width), hy = (int)(hot / (size_t)img.width);
    printf("     %s: hottest at (%d, %d); mean heat on the animal %.2f, elsewhere in the crop %.2f\n", cc->file, hx, hy,
           in_n ? in_sum / in_n : 0, out_n ? out_sum / out_n : 0);
    CHECK(hmin >= 0 && hmin < 0.01 && hmax > 0.99, "heat spans %g..%g, want 0..1", hmin, hmax);
    CHECK(hx >= cc->part[0] && hx < cc->part[2] && hy >= cc->part[1] && hy < cc->part[3],
          "%s: hottest point (%d, %d) is outside the box %d,%d..%d,%d", cc->file, hx, hy, cc->part[0], cc->part[1],
          cc->part[2], cc->part[3]);
    CHECK(in_n && out_n && in_sum / in_n > out_sum / out_n + 0.05, "%s: not hotter on the animal (%.2f vs %.2f)",
          cc->file, in_n ? in_sum / in_n : 0, out_n ? out_sum / out_n : 0);
    /* pixels outside the crop box are -1, inside 0..1 */
    double b[4];
    resnet_crop_box(img.width, img.height, b);
    CHECK(heat[0] < 0 || (b[0] < 0.5 && b[1] < 0.5), "the corner outside the crop should be -1");

    /* the overlay as a PNG the size of the photo, read back */
    CHECK(resnet_cam_overlay(&img, heat, 0.5f, &shown, &err) == RESNET_OK, "%s", err.message);
    snprintf(out, sizeof out, "%s/%s.cam.png", tmpdir, strrchr(cc->file, '/') ? strrchr(cc->file, '/') + 1 : cc->file);
    CHECK(resnet_image_write_png(&shown, out, &err) == RESNET_OK, "%s", err.message);
    size_t size = 0;
    unsigned char *bytes = tu_read_file(out, &size);
    CHECK(bytes && size > 8 && memcmp(bytes, "\x89PNG\r\n\x1a\n", 8) == 0, "%s is not a PNG", out);
    free(bytes);
    CHECK(resnet_image_load(out, &back, &err) == RESNET_OK, "%s", err.message);
    CHECK(back.width == img.width && back.height == img.height, "PNG is %dx%d, photo %dx%d", back.width, back.height,
          img.width, img.height);
    CHECK(back.rgb && memcmp(back.rgb, shown.rgb, (size_t)img.width * img.height * 3) == 0, "PNG pixels differ");
    /* no temporary file left beside it */
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp.*", out);
    glob_t g;
    CHECK(glob(tmp, 0, NULL, &g) == GLOB_NOMATCH, "a temporary %s left behind", tmp);
    globfree(&g);
    resnet_image_free(&img);
    resnet_image_free(&shown);
    resnet_image_free(&back);
    free(in);
    free(lg);
    free(cm);
    free(heat);
}

static void test_cam_tiger_cat(void) {
    if (!tu_need_shared("images/samples")) return;
    const cam_case c = {"282_tiger_cat_1.jpg", 282, 889, 500, {280, 0, 705, 500}, {330, 55, 630, 350}};
    check_cam(&c);
}

static void test_cam_samoyed(void) {
    if (!tu_need_shared("images/samples")) return;
    const cam_case c = {"258_samoyed_1.jpg", 258, 1546, 1213, {169, 38, 1431, 1136}, {169, 38, 800, 800}};
    check_cam(&c);
}

/* The project's own photo: an Egyptian cat (285), the map hottest on its eyes and nose. */
static void test_cam_chelsea(void) {
    const cam_case c = {"demo/chelsea.png", 285, 451, 300, {130, 60, 370, 300}, {130, 80, 350, 270}};
    check_cam(&c);
}

/* resnet_model_cam_heatmap for a network of another size or stride: a map with one hot cell
 * must peak at that cell's centre on the photo, and the pixels outside the crop the network
 * sees must be grey (-1). The family's small bottleneck network (tests/data/family) at a 160
 * crop (5x5 map, cells of 32 crop pixels) and at output stride 16 (14x14 over 224, cells of
 * 16). */
static void check_peak(int size, int stride, int width, int height, int row, int col, double want_x, double want_y,
                       int grey_x, int grey_y) {
    resnet_load_options o;
    resnet_load_options_init(&o);
    o.input_size = size;
    o.output_stride = stride;
    resnet_model *m = NULL;
    resnet_error err;
    CHECK(resnet_model_load("tests/data/family/small_bottleneck.safetensors", &o, &m, &err) == RESNET_OK, "%s",
          err.message);
    if (!m) return;
    int mh, mw;
    resnet_model_map_size(m, &mh, &mw);
    float *map = calloc((size_t)mh * mw, sizeof *map), *heat = malloc((size_t)width * height * sizeof *heat);
    map[row * mw + col] = 1.0f;
    CHECK(resnet_model_cam_heatmap(m, map, width, height, heat, &err) == RESNET_OK, "%s", err.message);
    size_t hot = 0;
    for (size_t i = 1; i < (size_t)width * height; i++)
        if (heat[i] > heat[hot]) hot = i;
    const double x = (double)(hot % (size_t)width), y = (double)(hot / (size_t)width);
    CHECK(fabs(x - want_x) <= 1 && fabs(y - want_y) <= 1 && heat[hot] > 0.9f,
          "size %d stride %d (%dx%d map): hottest at %.0f,%.0f, want %.1f,%.1f", size, stride, mh, mw, x, y, want_x,
          want_y);
    CHECK(heat[(size_t)grey_y * width + grey_x] == -1.0f, "pixel %d,%d is outside the crop: %g", grey_x, grey_y,
          heat[(size_t)grey_y * width + grey_x]);
    /* at 224 and stride 32 it is resnet_cam_heatmap's, value for value */
    if (mh == RESNET_MAP_SIZE && mw == RESNET_MAP_SIZE && size == RESNET_INPUT_SIZE) {
        float *plain = malloc((size_t)width * height * sizeof *plain);
        CHECK(resnet_cam_heatmap(map, width, height, plain, &err) == RESNET_OK &&
                  memcmp(plain, heat, (size_t)width * height * sizeof *heat) == 0,
              "the 224 map differs from resnet_cam_heatmap's");
        free(plain);
    }
    free(map);
    free(heat);
    resnet_model_free(m);
}

static void test_cam_other_sizes(void) {
    /* 364x182 at 160: no resize (shorter side 182 = 160 * 256 / 224), crop at x 102, y 11; cell
     * (1, 3)'s centre at x 102 + 3.5 * 32, y 11 + 1.5 * 32 (pixel centres at +0.5) */
    check_peak(160, 32, 364, 182, 1, 3, 102 + 112 - 0.5, 11 + 48 - 0.5, 101, 90);
    /* 224x224 at stride 16: resized to 256, crop at 16; cell (10, 2)'s centre at 16 + 2.5 * 16,
     * 16 + 10.5 * 16 in the resized photo, times 224 / 256 on the photo */
    check_peak(224, 16, 224, 224, 10, 2, 56 * 0.875 - 0.5, 184 * 0.875 - 0.5, 5, 100);
    /* the default geometry, through both functions */
    check_peak(224, 32, 300, 200, 3, 3, 149.5, 99.5, 2, 100);
}

static void test_cam_bad_arguments(void) {
    resnet_error err;
    float map[RESNET_MAP_CELLS] = {0}, heat[4];
    CHECK(resnet_cam_heatmap(map, 2, 2, heat, &err) == RESNET_OK, "a flat map is fine: %s", err.message);
    CHECK(resnet_cam_heatmap(NULL, 2, 2, heat, &err) == RESNET_E_ARG, "NULL map");
    CHECK(resnet_cam_heatmap(map, 0, 2, heat, &err) == RESNET_E_ARG, "width 0");
    map[3] = NAN;
    CHECK(resnet_cam_heatmap(map, 2, 2, heat, &err) == RESNET_E_ARG, "NaN map");
    resnet_image img = {2, 2, (unsigned char[12]){0}}, out;
    float h4[4] = {0, 0.5f, 1, -1};
    CHECK(resnet_cam_overlay(&img, h4, 1.5f, &out, &err) == RESNET_E_ARG, "opacity 1.5");
    h4[2] = NAN; /* no colour: refused, naming the value, not painted some colour */
    out.rgb = NULL;
    CHECK(resnet_cam_overlay(&img, h4, 0.5f, &out, &err) == RESNET_E_ARG && strstr(err.message, "heat value 2") &&
              !out.rgb,
          "a NaN heat value: %s", err.message);
    resnet_image_free(&out);
    CHECK(resnet_image_write_png(&img, "/nonexistent-dir/x.png", &err) == RESNET_E_IO, "write into a missing folder");
    CHECK(strstr(err.message, "/nonexistent-dir/x.png") != NULL, "error names the file: %s", err.message);
}

/* ---- folders and the pipelined runner ------------------------------------------------------ */

static void put_file(const char *dir, const char *name, const void *data, size_t n) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static void test_list_images(void) {
    char root[256], sub[300], p[600], cat[4096];
    snprintf(root, sizeof root, "%s/walk", tmpdir);
    snprintf(sub, sizeof sub, "%s/sub", root);
    mkdir(root, 0755);
    mkdir(sub, 0755);
    sample_path(p, sizeof p, "tests/data/golden/chelsea.jpg");
    CHECK(realpath(p, cat) != NULL, "realpath %s", p); /* the link must not depend on our cwd */
    snprintf(p, sizeof p, "%s/b.JPG", root);
    CHECK(symlink(cat, p) == 0, "symlink");
    put_file(root, "notes.txt", "hello", 5);
    put_file(root, ".hidden.jpg", "\xff\xd8\xff", 3);
    put_file(sub, "noextension", "\xff\xd8\xff\xe0", 4);        /* a JPEG by content */
    put_file(sub, "a.png", "not really", 10);                    /* a PNG by name: listed, fails later */
    snprintf(p, sizeof p, "%s/loop", sub);
    CHECK(symlink("..", p) == 0, "symlink loop");                 /* must not be walked forever */
    resnet_file_list l;
    resnet_error err;
    CHECK(resnet_list_images(root, &l, &err) == RESNET_OK, "%s", err.message);
    const char *want[] = {"/b.JPG", "/sub/a.png", "/sub/noextension"};
    CHECK(l.count == 3, "found %d photos, want 3", l.count);
    for (int i = 0; i < l.count && i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", root, want[i]);
        CHECK(strcmp(l.paths[i], p) == 0, "photo %d is %s, want %s", i, l.paths[i], p);
    }
    CHECK(l.n_problems == 0, "%d problems", l.n_problems);
    resnet_file_list_free(&l);
    CHECK(l.count == 0 && l.paths == NULL, "freed list is zeroed");
    CHECK(resnet_list_images(cat, &l, &err) == RESNET_E_IO && strstr(err.message, "not a folder"), "a file: %s",
          err.message);
    snprintf(p, sizeof p, "%s/missing", tmpdir);
    CHECK(resnet_list_images(p, &l, &err) == RESNET_E_IO, "a missing folder");
    snprintf(p, sizeof p, "%s/empty", tmpdir);
    mkdir(p, 0755);
    CHECK(resnet_list_images(p, &l, &err) == RESNET_OK && l.count == 0, "an empty folder is an empty list");
    resnet_file_list_free(&l);
}

typedef struct collected {
    int n, order_ok;
    resnet_status status[16];
    float feat[16][DIM];
} collected;

/* "One folder per class" (io/walk.h), the rule eval and train-head share: every visible folder
 * in DIR is a class folder, its photos are all the folder walk finds below it (nested folders,
 * photos known by content), non-photos are counted, files at the top have no class; the
 * ImageNet mode labels wnid and index folders and no others. */
static void test_class_folders(void) {
    char root[256], d[400], p[600];
    snprintf(root, sizeof root, "%s/classes", tmpdir);
    mkdir(root, 0755);
    const char *dirs[] = {"n07920052", "n07920052/more", "967", "cats", "empty", ".hidden"};
    for (int i = 0; i < 6; i++) {
        snprintf(d, sizeof d, "%s/%s", root, dirs[i]);
        mkdir(d, 0755);
    }
    snprintf(d, sizeof d, "%s/n07920052", root);
    put_file(d, "a.png", "x", 1);
    put_file(d, "notes.txt", "hello", 5);
    put_file(d, "noextension", "\xff\xd8\xff\xe0", 4);
    snprintf(d, sizeof d, "%s/n07920052/more", root);
    put_file(d, "b.jpg", "x", 1);
    snprintf(d, sizeof d, "%s/967", root);
    put_file(d, "c.PNG", "x", 1);
    snprintf(d, sizeof d, "%s/cats", root);
    put_file(d, "d.png", "x", 1);
    snprintf(d, sizeof d, "%s/.hidden", root);
    put_file(d, "e.png", "x", 1);
    put_file(root, "loose.png", "x", 1);
    rn_class_tree t;
    resnet_error err;
    for (int mode = 0; mode < 2; mode++) {
        const rn_class_names names = mode ? RN_CLASSES_IMAGENET : RN_CLASSES_ANY;
        CHECK(rn_list_classes(root, names, &t, &err) == RESNET_OK, "%s", err.message);
        const char *want[] = {"967", "cats", "empty", "n07920052"};
        const int count[] = {1, 1, 0, 3}, ignored[] = {0, 0, 0, 1};
        const int label[2][4] = {{0, 1, 2, 3}, {967, -1, -1, 967}};
        CHECK(t.n == 4 && t.loose == 1, "mode %d: %d class folders (want 4), %d loose (want 1)", mode, t.n, t.loose);
        for (int i = 0; i < t.n && i < 4; i++) {
            const rn_class_folder *f = &t.folders[i];
            snprintf(p, sizeof p, "%s/%s", root, want[i]);
            CHECK(strcmp(f->name, want[i]) == 0 && strcmp(f->path, p) == 0, "folder %d is %s (%s)", i, f->name, f->path);
            CHECK(f->photos.count == count[i] && f->ignored == ignored[i] && f->label == label[mode][i],
                  "mode %d, %s: %d photos, %d ignored, label %d", mode, want[i], f->photos.count, f->ignored, f->label);
        }
        if (t.n == 4 && t.folders[3].photos.count == 3) {
            snprintf(p, sizeof p, "%s/n07920052/more/b.jpg", root);
            CHECK(strcmp(t.folders[3].photos.paths[1], p) == 0, "nested photo: %s", t.folders[3].photos.paths[1]);
        }
        rn_class_tree_free(&t);
    }
    CHECK(rn_list_classes(tmpdir, RN_CLASSES_ANY, &t, &err) == RESNET_OK, "%s", err.message);
    rn_class_tree_free(&t);
    snprintf(p, sizeof p, "%s/classes/loose.png", tmpdir);
    CHECK(rn_list_classes(p, RN_CLASSES_ANY, &t, &err) == RESNET_E_IO && strstr(err.message, "not a folder"), "%s",
          err.message);
    const char *names[] = {"0", "999", "00967", "n01440764", "1000", "9a", "n0", "", "-1", "+5", " 5"};
    const int want_class[] = {0, 999, 967, 0, -1, -1, -1, -1, -1, -1, -1};
    for (int i = 0; i < 11; i++)
        CHECK(rn_imagenet_folder_class(names[i]) == want_class[i], "folder '%s' is class %d, want %d", names[i],
              rn_imagenet_folder_class(names[i]), want_class[i]);
}

static int collect(void *ctx, const resnet_file_result *r) {
    collected *c = ctx;
    if (r->index != c->n) c->order_ok = 0;
    if (c->n < 16) {
        c->status[c->n] = r->status;
        if (r->status == RESNET_OK && r->features) memcpy(c->feat[c->n], r->features, sizeof c->feat[0]);
        if (r->status != RESNET_OK && (!r->message || !strstr(r->message, r->path))) c->order_ok = 0;
        if (r->logits) c->order_ok = 0; /* not asked for */
    }
    c->n++;
    return 0;
}

/* Samoyeds rank each other above the cats; run through resnet_run_files with broken files
 * among them, which are reported in their place and do not stop the run. */
static void test_similar_samoyeds_and_runner(void) {
    if (!tu_need_shared("images/samples")) return;
    const char *names[] = {"258_samoyed_1.jpg", "258_samoyed_3.jpg", "MISSING.jpg", "258_samoyed_4.jpg",
                           "258_samoyed_5.jpg", "281_tabby_2.jpg", "281_tabby_3.png", "282_tiger_cat_1.jpg",
                           "282_tiger_cat_2.png", "282_tiger_cat_3.png", "282_tiger_cat_5.jpg", "NOTIMAGE"};
    enum { N = 12 };
    char bufs[N][512];
    const char *paths[N];
    for (int i = 0; i < N; i++) {
        if (strcmp(names[i], "NOTIMAGE") == 0) {
            put_file(tmpdir, "notimage.jpg", "plain text", 10);
            snprintf(bufs[i], sizeof bufs[i], "%s/notimage.jpg", tmpdir);
        } else {
            sample_path(bufs[i], sizeof bufs[i], names[i]);
        }
        paths[i] = bufs[i];
    }
    collected *c = calloc(1, sizeof *c);
    c->order_ok = 1;
    resnet_error err;
    CHECK(resnet_run_files(sess, paths, N, RESNET_WANT_FEATURES, collect, c, &err) == RESNET_OK, "%s", err.message);
    CHECK(c->n == N && c->order_ok, "%d results, in order and well formed: %d", c->n, c->order_ok);
    CHECK(c->status[2] == RESNET_E_IO, "missing file: status %d", c->status[2]);
    CHECK(c->status[11] == RESNET_E_IMAGE, "text file: status %d", c->status[11]);
    /* the runner's features are the plain pass's */
    float *in = malloc(IN_FLOATS * sizeof(float)), lg[RESNET_NUM_CLASSES], ft[DIM];
    CHECK(resnet_preprocess_file(paths[7], resnet_model_norm(model), in, &err) == RESNET_OK, "%s", err.message);
    CHECK(resnet_forward(sess, in, 1, lg, ft, &err) == RESNET_OK, "%s", err.message);
    double d = 0;
    for (int k = 0; k < DIM; k++) d = fmax(d, fabs(ft[k] - c->feat[7][k]));
    CHECK(d < 1e-3, "runner features differ from a plain pass by %g", d);
    free(in);
    const int dogs[] = {0, 1, 3, 4}, cats[] = {5, 6, 7, 8, 9, 10};
    for (int a = 0; a < 4; a++) {
        float worst_dog = 2, best_cat = -2;
        for (int b = 0; b < 4; b++)
            if (b != a) worst_dog = fminf(worst_dog, resnet_cosine(c->feat[dogs[a]], c->feat[dogs[b]], DIM));
        for (int b = 0; b < 6; b++) best_cat = fmaxf(best_cat, resnet_cosine(c->feat[dogs[a]], c->feat[cats[b]], DIM));
        printf("     %s: least similar Samoyed %.3f, most similar cat %.3f\n", names[dogs[a]], worst_dog, best_cat);
        CHECK(worst_dog > best_cat, "%s: a cat (%.3f) outranks a Samoyed (%.3f)", names[dogs[a]], best_cat, worst_dog);
    }
    /* stopping early: the callback says stop after the first */
    free(c);
}

/* The same on the repository's photos: the cat's PNG and its JPEG are nearer each other than
 * either is to the coffee; broken files in between are reported in their place. */
static void test_similar_own_photos_and_runner(void) {
    char notimage[512];
    put_file(tmpdir, "notimage2.jpg", "plain text", 10);
    snprintf(notimage, sizeof notimage, "%s/notimage2.jpg", tmpdir);
    const char *paths[] = {"demo/chelsea.png", "demo/MISSING.jpg", "demo/coffee.png", notimage,
                           "tests/data/golden/chelsea.jpg"};
    enum { N = 5 };
    collected *c = calloc(1, sizeof *c);
    c->order_ok = 1;
    resnet_error err;
    CHECK(resnet_run_files(sess, paths, N, RESNET_WANT_FEATURES, collect, c, &err) == RESNET_OK, "%s", err.message);
    CHECK(c->n == N && c->order_ok, "%d results, in order and well formed: %d", c->n, c->order_ok);
    CHECK(c->status[0] == RESNET_OK && c->status[2] == RESNET_OK && c->status[4] == RESNET_OK, "photos: %d %d %d",
          c->status[0], c->status[2], c->status[4]);
    CHECK(c->status[1] == RESNET_E_IO, "missing file: status %d", c->status[1]);
    CHECK(c->status[3] == RESNET_E_IMAGE, "text file: status %d", c->status[3]);
    const float cats = resnet_cosine(c->feat[0], c->feat[4], DIM), png_cup = resnet_cosine(c->feat[0], c->feat[2], DIM),
                jpg_cup = resnet_cosine(c->feat[4], c->feat[2], DIM);
    printf("     cosine: chelsea.png/chelsea.jpg %.3f, chelsea.png/coffee.png %.3f, chelsea.jpg/coffee.png %.3f\n", cats,
           png_cup, jpg_cup);
    CHECK(cats > 0.9f && cats > png_cup + 0.3f && cats > jpg_cup + 0.3f, "the two cats are not the nearest pair");
    free(c);
}

static int stop_at_once(void *ctx, const resnet_file_result *r) {
    (void)r;
    ++*(int *)ctx;
    return 1;
}

static void test_runner_stops_and_rejects(void) {
    char p[512];
    sample_path(p, sizeof p, "demo/chelsea.png");
    const char *paths[] = {p, p, p, p, p};
    int calls = 0;
    resnet_error err;
    CHECK(resnet_run_files(sess, paths, 5, 0, stop_at_once, &calls, &err) == RESNET_OK, "%s", err.message);
    CHECK(calls == 1, "callback ran %d times after asking to stop", calls);
    CHECK(resnet_run_files(sess, paths, 0, 0, stop_at_once, &calls, &err) == RESNET_OK && calls == 1, "n = 0");
    CHECK(resnet_run_files(sess, paths, 5, 0, NULL, NULL, &err) == RESNET_E_ARG, "NULL callback");
    /* what a resnet_file_result cannot hold is refused, not dropped (PROBS ran nothing), as is n < 0 */
    calls = 0;
    CHECK(resnet_run_files(sess, paths, 1, RESNET_WANT_PROBS, stop_at_once, &calls, &err) == RESNET_E_ARG &&
              calls == 0 && strstr(err.message, "want 0x4"),
          "want PROBS: %s (%d results)", err.message, calls);
    CHECK(resnet_run_files(sess, paths, -1, 0, stop_at_once, &calls, &err) == RESNET_E_ARG && calls == 0,
          "n = -1: %s", err.message);
}

static void test_vectors(void) {
    float v[3] = {3, 0, 4}, z[3] = {0, 0, 0}, w[3] = {-3, 0, -4};
    resnet_l2_normalize(v, 3);
    CHECK(fabsf(v[0] - 0.6f) < 1e-6f && fabsf(v[2] - 0.8f) < 1e-6f, "normalised %g %g", v[0], v[2]);
    resnet_l2_normalize(z, 3);
    CHECK(z[0] == 0 && z[1] == 0 && z[2] == 0, "zero stays zero");
    CHECK(fabsf(resnet_cosine(v, w, 3) + 1) < 1e-6f, "opposite: %g", resnet_cosine(v, w, 3));
    CHECK(resnet_cosine(v, z, 3) == 0, "with zero");
    CHECK(resnet_model_fingerprint(model) != 0 && resnet_model_fingerprint(model) == resnet_model_fingerprint(model),
          "fingerprint");
}

/* rn_first_nonfinite (resnet_forward's input check): every length up to a few vector steps,
 * every position, each kind of non-finite value, and the finite extremes that must pass. */
static void test_first_nonfinite(void) {
    float v[70];
    const float bad[3] = {NAN, INFINITY, -INFINITY}, good[4] = {FLT_MAX, -FLT_MAX, 1e-45f, -0.0f};
    int wrong = 0;
    for (size_t n = 0; n <= 70; n++) {
        for (size_t i = 0; i < n; i++) v[i] = good[i % 4];
        wrong += rn_first_nonfinite(v, n) != n;
        for (size_t p = 0; p < n; p++)
            for (int k = 0; k < 3; k++) {
                v[p] = bad[k];
                if (p + 3 < n) v[p + 3] = bad[(k + 1) % 3]; /* a later one is not the first */
                wrong += rn_first_nonfinite(v, n) != p;
                v[p] = good[p % 4];
                if (p + 3 < n) v[p + 3] = good[(p + 3) % 4];
            }
    }
    CHECK(wrong == 0, "%d lengths and positions answered wrongly", wrong);
}

/* ---- the linear head ---------------------------------------------------------------------- */

static unsigned rng = 12345;
static double uniform(void) {
    rng = rng * 1664525u + 1013904223u;
    return ((rng >> 8) + 0.5) / 16777216.0;
}
static double gauss(void) { return sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform()); }

/* Three classes in 64 dimensions: positive (like ReLU features) clusters with noise; the
 * nearest true centre is right for ~99% of points, so a working head reaches 0.9. */
static void make_blobs(float *x, int *y, int n, int d, const float *centres) {
    for (int i = 0; i < n; i++) {
        y[i] = i % 3;
        for (int j = 0; j < d; j++) x[(size_t)i * d + j] = (float)fabs(centres[y[i] * d + j] + 1.0 * gauss());
    }
}

static void test_head_trains_saves_loads(void) {
    enum { D = 64, NTR = 240, NTE = 150, K = 3 };
    float *centres = malloc(K * D * sizeof(float)), *x = malloc(NTR * D * sizeof(float));
    float *xt = malloc(NTE * D * sizeof(float)), *p1 = malloc(NTE * K * sizeof(float)), *p2 = malloc(NTE * K * sizeof(float));
    int y[NTR], yt[NTE];
    for (int i = 0; i < K * D; i++) centres[i] = (float)(uniform() * 2.0);
    make_blobs(x, y, NTR, D, centres);
    make_blobs(xt, yt, NTE, D, centres);
    const char *names[K] = {"alpha", "b\xc3\xa9ta \"quoted\"", "gamma\\x"};
    resnet_train_options o;
    resnet_train_options_init(&o);
    o.backbone = "synthetic";
    resnet_head *h = NULL, *h2 = NULL;
    resnet_train_report rep;
    resnet_train_report_init(&rep);
    resnet_error err;
    CHECK(resnet_head_train(x, y, NTR, D, K, names, &o, &h, &rep, &err) == RESNET_OK, "%s", err.message);
    if (!h) return;
    CHECK(rep.n_val == 48 && rep.n_train == 192, "split %d/%d", rep.n_train, rep.n_val);
    CHECK(rep.best_iter >= 1 && rep.best_iter <= rep.iters, "best %d of %d", rep.best_iter, rep.iters);
    CHECK(resnet_head_predict(h, xt, NTE, p1, &err) == RESNET_OK, "%s", err.message);
    int right = 0;
    for (int i = 0; i < NTE; i++) {
        resnet_prediction t;
        resnet_top_k(p1 + i * K, K, 1, &t);
        right += t.index == yt[i];
    }
    printf("     synthetic: train %.3f, validation %.3f, held-out %.3f after %d iterations (best %d)\n", rep.train_acc,
           rep.val_acc, (double)right / NTE, rep.iters, rep.best_iter);
    CHECK(right >= 0.9 * NTE, "held-out accuracy %d/%d", right, NTE);
    char path[300];
    snprintf(path, sizeof path, "%s/head.safetensors", tmpdir);
    CHECK(resnet_head_save(h, path, &err) == RESNET_OK, "%s", err.message);
    CHECK(resnet_head_load(path, &h2, &err) == RESNET_OK, "%s", err.message);
    if (h2) {
        CHECK(resnet_head_classes(h2) == K && resnet_head_dim(h2) == D, "shape");
        for (int c = 0; c < K; c++)
            CHECK(strcmp(resnet_head_class_name(h2, c), names[c]) == 0, "name %d: %s", c, resnet_head_class_name(h2, c));
        CHECK(resnet_head_class_name(h2, K) == NULL, "name out of range");
        CHECK(strcmp(resnet_head_backbone(h2), "synthetic") == 0, "backbone %s", resnet_head_backbone(h2));
        CHECK(resnet_head_predict(h2, xt, NTE, p2, &err) == RESNET_OK, "%s", err.message);
        double d = 0;
        for (int i = 0; i < NTE * K; i++) d = fmax(d, fabs(p1[i] - p2[i]));
        CHECK(d < 1e-6, "loaded head predicts differently (%g)", d);
    }
    /* a broken trainer would not reach this: labels shuffled -> chance on held-out data */
    int ys[NTR];
    for (int i = 0; i < NTR; i++) ys[i] = (int)(uniform() * K) % K;
    resnet_head *hs = NULL;
    CHECK(resnet_head_train(x, ys, NTR, D, K, names, &o, &hs, &rep, &err) == RESNET_OK, "%s", err.message);
    if (hs) {
        resnet_head_predict(hs, xt, NTE, p2, &err);
        int r2 = 0;
        for (int i = 0; i < NTE; i++) {
            resnet_prediction t;
            resnet_top_k(p2 + i * K, K, 1, &t);
            r2 += t.index == yt[i];
        }
        CHECK(r2 < 0.6 * NTE, "random labels still gave %d/%d", r2, NTE);
    }
    /* bad training input */
    int bad[NTR];
    memcpy(bad, y, sizeof bad);
    bad[5] = 7;
    resnet_head *hb = NULL;
    CHECK(resnet_head_train(x, bad, NTR, D, K, names, &o, &hb, NULL, &err) == RESNET_E_ARG && !hb, "label 7 accepted");
    for (int i = 0; i < NTR; i++) bad[i] = y[i] == 2 ? 0 : y[i];
    CHECK(resnet_head_train(x, bad, NTR, D, K, names, &o, &hb, NULL, &err) == RESNET_E_ARG && strstr(err.message, "no examples"),
          "a class without examples: %s", err.message);
    x[3] = NAN;
    CHECK(resnet_head_train(x, y, NTR, D, K, names, &o, &hb, NULL, &err) == RESNET_E_ARG, "NaN feature accepted");
    /* and in prediction: the caller's feature is named, not the head's weights blamed */
    xt[D + 3] = NAN;
    CHECK(resnet_head_predict(h, xt, NTE, p1, &err) == RESNET_E_ARG && strstr(err.message, "feature 3 of vector 1"),
          "a NaN feature to predict: %s", err.message);
    resnet_head_free(h);
    resnet_head_free(h2);
    resnet_head_free(hs);
    free(centres);
    free(x);
    free(xt);
    free(p1);
    free(p2);
}

/* A locale with a decimal comma: the system's, else one compiled into tmpdir (glibc reads
 * $LOCPATH); 0 when there is none to be had. */
static int comma_locale(void) {
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) return 1;
    char cmd[256], dir[128];
    snprintf(dir, sizeof dir, "%s/locales", tmpdir);
    snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 '%s/de_DE.UTF-8' >/dev/null 2>&1", dir);
    if (mkdir(dir, 0755) != 0 || system(cmd) != 0) return 0;
    setenv("LOCPATH", dir, 1);
    const int ok = setlocale(LC_NUMERIC, "de_DE.UTF-8") != NULL;
    unsetenv("LOCPATH");
    return ok;
}

/* A head's accuracies are written with a '.' whatever the program's locale (they were "0,9500"
 * in the file of a program running under a decimal comma). */
static void test_head_metadata_locale(void) {
    if (!comma_locale()) {
        TU_SKIP("no locale with a decimal comma (de_DE.UTF-8) and no localedef to make one");
        return;
    }
    char probe[16];
    snprintf(probe, sizeof probe, "%.1f", 0.5);
    CHECK(strcmp(probe, "0,5") == 0, "the locale in use writes %s", probe);
    enum { D = 4, N = 12 };
    float x[N * D];
    int y[N];
    for (int i = 0; i < N; i++) {
        y[i] = i % 2;
        for (int j = 0; j < D; j++) x[i * D + j] = (float)(1 + (i * 7 + j * 3) % 5 + 4 * y[i] * (j % 2));
    }
    const char *names[2] = {"a", "b"};
    resnet_head *h = NULL;
    resnet_train_report rep;
    resnet_train_report_init(&rep);
    resnet_error err;
    char path[300];
    snprintf(path, sizeof path, "%s/locale-head.safetensors", tmpdir);
    CHECK(resnet_head_train(x, y, N, D, 2, names, NULL, &h, &rep, &err) == RESNET_OK, "%s", err.message);
    CHECK(h && resnet_head_save(h, path, &err) == RESNET_OK, "%s", err.message);
    setlocale(LC_NUMERIC, "C");
    rn_safetensors *st = NULL;
    CHECK(rn_st_open(path, &st, &err) == RESNET_OK, "%s", err.message);
    const char *keys[2] = {"train_accuracy", "val_accuracy"};
    const float want[2] = {rep.train_acc, rep.val_acc};
    for (int k = 0; st && k < 2; k++) {
        const char *v = rn_st_metadata(st, keys[k]);
        char *end = NULL;
        const double d = v ? strtod(v, &end) : -1;
        CHECK(v && !strchr(v, ',') && end && *end == '\0' && fabs(d - want[k]) < 1e-4, "%s: \"%s\" for %g", keys[k],
              v ? v : "(none)", want[k]);
    }
    rn_st_close(st);
    resnet_head_free(h);
}

static void expect_load_fails(const char *path, const char *word) {
    resnet_head *h = NULL;
    resnet_error err;
    resnet_status st = resnet_head_load(path, &h, &err);
    CHECK(st != RESNET_OK && h == NULL, "%s loaded", path);
    CHECK(st == RESNET_OK || strstr(err.message, word), "%s: message '%s' lacks '%s'", path, err.message, word);
    CHECK(st == RESNET_OK || strchr(err.message, '\n') == NULL, "multi-line message");
}

static void test_head_bad_files(void) {
    char good[300], p[300];
    snprintf(good, sizeof good, "%s/head.safetensors", tmpdir);
    size_t size = 0;
    unsigned char *bytes = tu_read_file(good, &size);
    CHECK(bytes != NULL, "no head file from the previous test");
    if (!bytes) return;
    snprintf(p, sizeof p, "%s/short.safetensors", tmpdir);
    put_file(tmpdir, "short.safetensors", bytes, size / 2);
    expect_load_fails(p, "short.safetensors");
    snprintf(p, sizeof p, "%s/missing.safetensors", tmpdir);
    expect_load_fails(p, "missing.safetensors");
    /* well-formed safetensors, but not a head: the network's weights, or made up */
    float w[6] = {1, 2, 3, 4, 5, 6}, nanw[6] = {1, 2, NAN, 4, 5, 6}, b[2] = {0, 0};
    rn_st_entry e[2] = {{"weight", 2, {2, 3}, w}, {"bias", 1, {2}, b}};
    const char *k1[] = {"format", "classes", "feature_normalization"};
    const char *v_ok[] = {"resnet-linear-head", "[\"a\", \"b\"]", "l2"};
    const char *v_fmt[] = {"something-else", "[\"a\", \"b\"]", "l2"};
    const char *v_cls[] = {"resnet-linear-head", "[\"a\"]", "l2"};
    const char *v_json[] = {"resnet-linear-head", "[\"a\", ", "l2"};
    const char *v_norm[] = {"resnet-linear-head", "[\"a\", \"b\"]", "cube"};
    resnet_error err;
    /* a version other than the one written: refused, not read as version 1 */
    {
        const char *kv[] = {"format", "classes", "feature_normalization", "version"};
        const char *vv[] = {"resnet-linear-head", "[\"a\", \"b\"]", "l2", "2"};
        snprintf(p, sizeof p, "%s/version2.safetensors", tmpdir);
        CHECK(rn_st_write(p, e, 2, kv, vv, 4, &err) == RESNET_OK, "%s", err.message);
        expect_load_fails(p, "version '2'");
        vv[3] = "1";
        resnet_head *h1 = NULL;
        CHECK(rn_st_write(p, e, 2, kv, vv, 4, &err) == RESNET_OK, "%s", err.message);
        CHECK(resnet_head_load(p, &h1, &err) == RESNET_OK, "a version 1 head: %s", err.message);
        resnet_head_free(h1);
    }
    /* a tensor besides weight and bias: refused, naming it, not ignored */
    {
        float sc[3] = {1, 1, 1};
        rn_st_entry e3[3] = {{"weight", 2, {2, 3}, w}, {"bias", 1, {2}, b}, {"scale", 1, {3}, sc}};
        snprintf(p, sizeof p, "%s/extra.safetensors", tmpdir);
        CHECK(rn_st_write(p, e3, 3, k1, v_ok, 3, &err) == RESNET_OK, "%s", err.message);
        expect_load_fails(p, "'scale' is not used");
    }
    struct { const char *name; const char *const *vals; const float *w; const char *word; } cases[] = {
        {"fmt", v_fmt, w, "not a classifier head"}, {"cls", v_cls, w, "classes"},  {"json", v_json, w, "classes"},
        {"norm", v_norm, w, "feature_normalization"}, {"nan", v_ok, nanw, "not finite"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(p, sizeof p, "%s/%s.safetensors", tmpdir, cases[i].name);
        e[0].data = cases[i].w;
        CHECK(rn_st_write(p, e, 2, k1, cases[i].vals, 3, &err) == RESNET_OK, "%s", err.message);
        expect_load_fails(p, cases[i].word);
    }
    e[0].data = w;
    snprintf(p, sizeof p, "%s/ok.safetensors", tmpdir);
    CHECK(rn_st_write(p, e, 2, k1, v_ok, 3, &err) == RESNET_OK, "%s", err.message);
    resnet_head *h = NULL;
    CHECK(resnet_head_load(p, &h, &err) == RESNET_OK, "a minimal head: %s", err.message);
    resnet_head_free(h);
    free(bytes);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/resnet-test-features.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    const char *w = getenv("RESNET_TEST_V1_CAFFE");
    resnet_error err;
    if (!w || resnet_model_load(w, NULL, &model, &err) != RESNET_OK ||
        resnet_session_create(model, 2, 2, &sess, &err) != RESNET_OK) {
        fprintf(stderr, "RESNET_TEST_V1_CAFFE: %s\n", w ? err.message : "not set (run through tests/run.sh)");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_forward_ex_outputs_agree);
    RUN(test_outputs_check);
    RUN(test_image_load_memory);
    RUN(test_image_views_match_memory);
    RUN(test_crop_box_matches_preprocess);
    RUN(test_cam_tiger_cat);
    RUN(test_cam_samoyed);
    RUN(test_cam_chelsea);
    RUN(test_cam_other_sizes);
    RUN(test_cam_bad_arguments);
    RUN(test_list_images);
    RUN(test_class_folders);
    RUN(test_similar_samoyeds_and_runner);
    RUN(test_similar_own_photos_and_runner);
    RUN(test_runner_stops_and_rejects);
    RUN(test_vectors);
    RUN(test_first_nonfinite);
    RUN(test_head_trains_saves_loads);
    RUN(test_head_bad_files);
    RUN(test_head_metadata_locale);
    resnet_session_free(sess);
    resnet_model_free(model);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return TEST_DONE();
}
