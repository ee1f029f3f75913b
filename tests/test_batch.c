/* test_batch.c - a batch gives each image exactly the bits it gets alone, whatever the schedule.
 *
 * The forward pass may run a batch's early stages image by image (each image in its own slot of
 * the activation buffers, packed together before the batched stages: resnet50.c,
 * image_by_image_until). Every schedule is forced here (no stage, the stem and stage 1, ... all
 * four) beside the automatic one, on networks whose stage outputs fill an image's slot
 * (ResNet-50) and whose do not (basic blocks: the packing moves them), grouped and dilated ones,
 * in fp32, bf16 and int8 (quantized here), with every output asked for at once and with only an
 * early stage asked for (the pass stops inside the image-by-image part), at 2 threads (and 3
 * for one network): a batch of at least as many images as threads runs its images side by
 * side, one a thread. Logits, features, the last map, the class maps and the stage maps must
 * equal, bit for bit, one image's pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "resnet.h"
#include "testutil.h"
#include "model/quantize.h"
#include "model/resnet50.h"

enum { N = 5, THREADS = 2 };

static char dir[] = "/tmp/rn_batch_XXXXXX";

/* Every output of one pass, for n images. */
typedef struct outs {
    float *logits, *features, *map, *cmaps, *stages[RN_STAGES];
    size_t n_logits, n_features, n_map, n_cmaps, n_stages[RN_STAGES]; /* per image */
} outs;

static void outs_alloc(outs *o, const resnet_model *m, int n) {
    memset(o, 0, sizeof *o);
    int h, w;
    resnet_model_map_size(m, &h, &w);
    o->n_logits = (size_t)resnet_model_classes(m);
    o->n_features = (size_t)resnet_model_feature_dim(m);
    o->n_map = (size_t)h * w * o->n_features;
    o->n_cmaps = (size_t)h * w * o->n_logits;
    o->logits = calloc((size_t)n * o->n_logits, sizeof(float));
    o->features = calloc((size_t)n * o->n_features, sizeof(float));
    o->map = calloc((size_t)n * o->n_map, sizeof(float));
    o->cmaps = calloc((size_t)n * o->n_cmaps, sizeof(float));
    for (int st = 0; st < RN_STAGES; st++) {
        int c, sh, sw;
        resnet_model_stage_shape(m, st + 1, &c, &sh, &sw, NULL);
        o->n_stages[st] = (size_t)c * sh * sw;
        o->stages[st] = calloc((size_t)n * o->n_stages[st], sizeof(float));
    }
}

static void outs_free(outs *o) {
    free(o->logits);
    free(o->features);
    free(o->map);
    free(o->cmaps);
    for (int st = 0; st < RN_STAGES; st++) free(o->stages[st]);
}

/* The library's outputs pointing at o's arrays, image `at` on; only_stage > 0: that stage alone. */
static resnet_outputs as_outputs(const outs *o, int at, int only_stage) {
    resnet_outputs r;
    resnet_outputs_init(&r);
    for (int st = 0; st < RN_STAGES; st++)
        if (!only_stage || only_stage == st + 1) r.stages[st] = o->stages[st] + (size_t)at * o->n_stages[st];
    if (only_stage) return r;
    r.logits = o->logits + (size_t)at * o->n_logits;
    r.features = o->features + (size_t)at * o->n_features;
    r.feature_map = o->map + (size_t)at * o->n_map;
    r.class_maps = o->cmaps + (size_t)at * o->n_cmaps;
    return r;
}

/* The first image whose values of one output differ, or -1. */
static int differs(const float *a, const float *b, size_t per_image, int n) {
    for (int i = 0; i < n; i++)
        if (memcmp(a + (size_t)i * per_image, b + (size_t)i * per_image, per_image * sizeof(float)) != 0) return i;
    return -1;
}

/* Checks got (n images) against ref; only_stage as in as_outputs. */
static void compare(const char *what, const outs *got, const outs *ref, int n, int only_stage) {
    int i;
    if (!only_stage) {
        CHECK((i = differs(got->logits, ref->logits, got->n_logits, n)) < 0, "%s: image %d's logits differ", what, i);
        CHECK((i = differs(got->features, ref->features, got->n_features, n)) < 0, "%s: image %d's features differ",
              what, i);
        CHECK((i = differs(got->map, ref->map, got->n_map, n)) < 0, "%s: image %d's feature map differs", what, i);
        CHECK((i = differs(got->cmaps, ref->cmaps, got->n_cmaps, n)) < 0, "%s: image %d's class maps differ", what, i);
    }
    for (int st = 0; st < RN_STAGES; st++) {
        if (only_stage && only_stage != st + 1) continue;
        CHECK((i = differs(got->stages[st], ref->stages[st], got->n_stages[st], n)) < 0,
              "%s: image %d's stage %d differs", what, i, st + 1);
    }
}

/* Random inputs in [-2, 2): the schedule, not the photo, is under test. */
static float *random_inputs(const resnet_model *m, int n, unsigned seed) {
    const int size = resnet_model_input_size(m);
    const size_t count = (size_t)n * 3 * size * size;
    float *x = malloc(count * sizeof(float));
    for (size_t i = 0; x && i < count; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
    }
    return x;
}

/* Every schedule of one model against its one-image passes. */
static void check_model(const char *name, const resnet_model *m, int threads) {
    resnet_error err;
    const int size = resnet_model_input_size(m);
    const size_t image = (size_t)3 * size * size;
    float *x = random_inputs(m, N, 12345u);
    outs ref, got;
    outs_alloc(&ref, m, N);
    outs_alloc(&got, m, N);
    resnet_session *one = NULL, *many = NULL;
    if (!x || resnet_session_create(m, threads, 1, &one, &err) != RESNET_OK ||
        resnet_session_create(m, threads, N, &many, &err) != RESNET_OK) {
        CHECK(0, "%s: sessions: %s", name, x ? err.message : "out of memory");
        goto done;
    }
    for (int i = 0; i < N; i++) {
        resnet_outputs o = as_outputs(&ref, i, 0);
        CHECK(resnet_forward_ex(one, x + (size_t)i * image, 1, &o, &err) == RESNET_OK, "%s: %s", name, err.message);
    }
    for (int stages = -1; stages <= RN_STAGES; stages++) {
        char what[160];
        rn_session_set_image_stages(many, stages);
        for (int n = N; n >= 2; n -= N - 2) { /* the full batch, and a batch smaller than the session's */
            memset(got.logits, 0, (size_t)N * got.n_logits * sizeof(float));
            resnet_outputs o = as_outputs(&got, 0, 0);
            snprintf(what, sizeof what, "%s, %d images, %d stages image by image", name, n, stages);
            CHECK(resnet_forward_ex(many, x, n, &o, &err) == RESNET_OK, "%s: %s", what, err.message);
            compare(what, &got, &ref, n, 0);
        }
        /* only stage 1 (and only stage 3) asked for: the pass stops early */
        for (int only = 1; only <= 3; only += 2) {
            resnet_outputs o = as_outputs(&got, 0, only);
            snprintf(what, sizeof what, "%s, stage %d alone, %d stages image by image", name, only, stages);
            CHECK(resnet_forward_ex(many, x, N, &o, &err) == RESNET_OK, "%s: %s", what, err.message);
            compare(what, &got, &ref, N, only);
        }
    }
done:
    resnet_session_free(one);
    resnet_session_free(many);
    outs_free(&ref);
    outs_free(&got);
    free(x);
}

static void check_file_on(const char *name, const char *path, int output_stride, int bf16, int threads) {
    resnet_model *m = NULL;
    resnet_error err;
    rn_load_config cfg = {.output_stride = output_stride, .bf16 = bf16};
    if (rn_model_load_cfg(path, rn_kernels_select(RESNET_KERNELS_AUTO), NULL, &cfg, &m, &err) != RESNET_OK) {
        CHECK(0, "%s: load %s: %s", name, path, err.message);
        return;
    }
    check_model(name, m, threads);
    resnet_model_free(m);
}

static void check_file(const char *name, const char *path, int output_stride, int bf16) {
    check_file_on(name, path, output_stride, bf16, THREADS);
}

/* An int8 file of the fp32 one at path, calibrated on two random images. */
static int quantize(const char *path, const char *out) {
    resnet_model *m = NULL;
    resnet_session *s = NULL;
    rn_calib *c = NULL;
    resnet_error err;
    int ok = resnet_model_load(path, NULL, &m, &err) == RESNET_OK && rn_calib_create(m, &c, &err) == RESNET_OK &&
             resnet_session_create(m, THREADS, 2, &s, &err) == RESNET_OK;
    float *x = ok ? random_inputs(m, 2, 777u) : NULL;
    float *logits = ok ? malloc((size_t)2 * resnet_model_classes(m) * sizeof(float)) : NULL;
    if (ok) rn_calib_attach(c, s);
    ok = ok && x && logits && resnet_forward(s, x, 2, logits, NULL, &err) == RESNET_OK;
    ok = ok && rn_quantize_write(c, path, out, RN_CALIB_MINMAX, 2, &err) == RESNET_OK;
    if (!ok) fprintf(stderr, "  quantize %s: %s\n", path, err.message);
    free(x);
    free(logits);
    rn_calib_free(c);
    resnet_session_free(s);
    resnet_model_free(m);
    return ok;
}

static const char *const small[] = {"small_basic", "small_bottleneck", "small_grouped"};

/* The narrow networks, loaded in fp32 or converted to bf16. */
static void check_small(int bf16) {
    for (size_t i = 0; i < sizeof small / sizeof *small; i++) {
        char path[256], name[96];
        snprintf(path, sizeof path, "tests/data/family/%s.safetensors", small[i]);
        snprintf(name, sizeof name, "%s %s", small[i], bf16 ? "bf16" : "fp32");
        check_file(name, path, 0, bf16);
    }
}

static void test_small_fp32(void) {
    check_small(0);
    check_file("small_bottleneck fp32, output stride 8", "tests/data/family/small_bottleneck.safetensors", 8, 0);
    /* 3 threads: 3 images side by side (one stolen where a thread lags), then 2 sharing each layer */
    check_file_on("small_bottleneck fp32, 3 threads", "tests/data/family/small_bottleneck.safetensors", 0, 0, 3);
}

static void test_small_bf16(void) { check_small(1); }

static void test_small_int8(void) {
    for (size_t i = 0; i < sizeof small / sizeof *small; i++) {
        char path[256], out[256], name[96];
        snprintf(path, sizeof path, "tests/data/family/%s.safetensors", small[i]);
        snprintf(out, sizeof out, "%s/%s.int8.safetensors", dir, small[i]);
        snprintf(name, sizeof name, "%s int8", small[i]);
        if (!quantize(path, out)) {
            CHECK(0, "%s: could not quantize", name);
            continue;
        }
        check_file(name, out, 0, 0);
    }
}

static void test_resnet50(void) {
    const char *w = getenv("RESNET_TEST_V1_CAFFE");
    if (!w) {
        TU_SKIP("RESNET_TEST_V1_CAFFE not set (tests/run.sh sets it)");
        return;
    }
    check_file("resnet50 fp32", w, 0, 0);
    char out[256];
    snprintf(out, sizeof out, "%s/resnet50.int8.safetensors", dir);
    CHECK(quantize(w, out), "resnet50: could not quantize");
    check_file("resnet50 int8", out, 0, 0);
}

int main(void) {
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_small_fp32);
    RUN(test_small_bf16);
    RUN(test_small_int8);
    RUN(test_resnet50);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return TEST_DONE();
}
