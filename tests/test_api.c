/* test_api.c - the library as a dependency: its version at run time, and the size-versioned
 * option structs (include/resnet.h, "Versions and the ABI"), and what a failed call leaves in its
 * outputs (NULL or zeroed, so that a caller's cleanup may free them).
 *
 * A program built against an older or a newer resnet.h is simulated with structs of its own
 * layout: the library must read only the bytes the caller's size covers, write no more than
 * that, keep the defaults for the fields a caller does not know, and refuse (not ignore) a
 * field it does not know itself when it is set. Needs no weights and no photos (the metadata
 * getter copies tests/data/family's small network under metadata of its own).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "io/safetensors.h"
#include "resnet.h"
#include "testutil.h"

static void test_version(void) {
    const char *str = NULL;
    int v = resnet_version(&str);
    CHECK(v == RESNET_VERSION_NUMBER, "resnet_version() = %d, the header says %d", v, RESNET_VERSION_NUMBER);
    CHECK(str && strcmp(str, RESNET_VERSION) == 0, "resnet_version string '%s', header '%s'", str ? str : "(null)",
          RESNET_VERSION);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", RESNET_VERSION_MAJOR, RESNET_VERSION_MINOR, RESNET_VERSION_PATCH);
    CHECK(strcmp(RESNET_VERSION, want) == 0, "RESNET_VERSION '%s' is not MAJOR.MINOR.PATCH '%s'", RESNET_VERSION, want);
    CHECK(resnet_version(NULL) == v, "resnet_version(NULL)");
    CHECK(RESNET_VERSION_NUMBER == RESNET_VERSION_MAJOR * 10000 + RESNET_VERSION_MINOR * 100 + RESNET_VERSION_PATCH,
          "RESNET_VERSION_NUMBER");
}

/* The init functions write the caller's size, the defaults, and not one byte more. */
static void test_init_writes_only_the_callers_size(void) {
    unsigned char buf[sizeof(resnet_train_options) + 32];
    memset(buf, 0xAA, sizeof buf);
    resnet_train_options *o = (resnet_train_options *)(void *)buf;
    resnet_train_options_init(o);
    CHECK(o->size == sizeof(resnet_train_options), "size %zu", o->size);
    CHECK(o->l2 == 1e-3f && o->val_fraction == 0.2f && o->max_iters == 500 && o->patience == 20 &&
              o->l2_normalize == 1 && o->seed == 1 && !o->backbone && !o->progress,
          "train defaults");
    for (size_t i = sizeof *o; i < sizeof buf; i++) CHECK(buf[i] == 0xAA, "byte %zu past the struct written", i);

    /* a program whose resnet_train_options ended after l2 (an older, shorter layout) */
    size_t old_size = offsetof(resnet_train_options, l2) + sizeof(float);
    memset(buf, 0xAA, sizeof buf);
    resnet_train_options_init_size(o, old_size);
    CHECK(o->size == old_size && o->l2 == 1e-3f, "short init: size %zu, l2 %g", o->size, o->l2);
    for (size_t i = old_size; i < sizeof buf; i++) CHECK(buf[i] == 0xAA, "short init wrote byte %zu", i);

    memset(buf, 0xAA, sizeof buf);
    resnet_load_options *lo = (resnet_load_options *)(void *)buf;
    resnet_load_options_init(lo);
    CHECK(lo->size == sizeof *lo && lo->kernels == RESNET_KERNELS_AUTO && lo->direct == 0, "load defaults");
    for (size_t i = sizeof *lo; i < sizeof buf; i++) CHECK(buf[i] == 0xAA, "byte %zu past the struct written", i);

    memset(buf, 0xAA, sizeof buf);
    resnet_outputs *out = (resnet_outputs *)(void *)buf;
    resnet_outputs_init(out);
    CHECK(out->size == sizeof *out && !out->logits && !out->features && !out->feature_map && !out->class_maps,
          "outputs defaults");
    for (size_t i = sizeof *out; i < sizeof buf; i++) CHECK(buf[i] == 0xAA, "byte %zu past the struct written", i);
}

/* A failed call leaves its output NULL or zeroed whatever the reason: a NULL argument too
 * (those returned at once, leaving the caller's uninitialised variable for its cleanup to free). */
static void test_outputs_reset_on_bad_arguments(void) {
    resnet_error err;
    void *junk = &err;
    resnet_model *m = junk;
    CHECK(resnet_model_load(NULL, NULL, &m, &err) == RESNET_E_ARG && m == NULL, "resnet_model_load(NULL path)");
    resnet_session *s = junk;
    CHECK(resnet_session_create(NULL, 0, 1, &s, &err) == RESNET_E_ARG && s == NULL, "resnet_session_create(NULL model)");
    resnet_head *h = junk;
    CHECK(resnet_head_load(NULL, &h, &err) == RESNET_E_ARG && h == NULL, "resnet_head_load(NULL path)");
    h = junk;
    CHECK(resnet_head_train(NULL, NULL, 2, 4, 2, NULL, NULL, &h, NULL, &err) == RESNET_E_ARG && h == NULL,
          "resnet_head_train(NULL features)");
    resnet_image img;
    memset(&img, 0xAA, sizeof img);
    CHECK(resnet_image_load(NULL, &img, &err) == RESNET_E_ARG && !img.rgb && !img.width && !img.height,
          "resnet_image_load(NULL path): image not zeroed");
    if (!img.rgb) resnet_image_free(&img); /* the cleanup that freed garbage */
    resnet_file_list list;
    memset(&list, 0xAA, sizeof list);
    CHECK(resnet_list_images(NULL, &list, &err) == RESNET_E_ARG && !list.paths && !list.count && !list.problems &&
              !list.n_problems,
          "resnet_list_images(NULL folder): list not zeroed");
    if (!list.count) resnet_file_list_free(&list);
}

/* resnet_load_options as a newer header might have it: one more field. */
typedef struct newer_load_options {
    resnet_load_options v1;
    int future;
} newer_load_options;

static void test_load_options(void) {
    resnet_error err;
    resnet_model *m = (resnet_model *)(void *)&err; /* must be reset to NULL on failure */
    const char *missing = "/nonexistent/resnet-test-api.safetensors";

    /* options are read before the file is opened: good ones get as far as the missing file */
    resnet_load_options o;
    resnet_load_options_init(&o);
    CHECK(resnet_model_load(missing, &o, &m, &err) == RESNET_E_IO, "initialised options: %s", err.message);
    CHECK(m == NULL, "*out not reset");
    CHECK(resnet_model_load(missing, NULL, &m, &err) == RESNET_E_IO, "NULL options: %s", err.message);

    /* not initialised: size 0 (or garbage) is refused, naming the init function */
    memset(&o, 0, sizeof o);
    o.kernels = RESNET_KERNELS_C;
    CHECK(resnet_model_load(missing, &o, &m, &err) == RESNET_E_ARG, "size 0 accepted");
    CHECK(strstr(err.message, "resnet_load_options_init"), "message: %s", err.message);
    o.size = (size_t)1 << 40;
    CHECK(resnet_model_load(missing, &o, &m, &err) == RESNET_E_ARG, "size 2^40 accepted");

    /* a newer program: its extra field at zero (the default) is fine, set is refused */
    newer_load_options n;
    resnet_load_options_init_size(&n.v1, sizeof n);
    CHECK(n.v1.size == sizeof n && n.future == 0, "init of a newer layout: size %zu", n.v1.size);
    CHECK(resnet_model_load(missing, &n.v1, &m, &err) == RESNET_E_IO, "newer layout, extra field 0: %s", err.message);
    n.future = 1;
    CHECK(resnet_model_load(missing, &n.v1, &m, &err) == RESNET_E_UNSUPPORTED, "an unknown field set was ignored");
    CHECK(strstr(err.message, "newer resnet.h"), "message: %s", err.message);

    /* the fields it does know are still read: an unknown kernel path is refused as a bad
     * argument naming the value, not as a path this CPU lacks */
    resnet_load_options_init(&o);
    o.kernels = (resnet_kernels)99;
    CHECK(resnet_model_load(missing, &o, &m, &err) == RESNET_E_ARG && strstr(err.message, "unknown kernels 99"),
          "kernels field not read: %s", err.message);
    o.kernels = (resnet_kernels)0x100; /* the tests' internal AVX-512-without-AMX path */
    CHECK(resnet_model_load(missing, &o, &m, &err) == RESNET_E_ARG && m == NULL, "an internal kernel path taken: %s",
          err.message);
}

typedef struct newer_outputs {
    resnet_outputs v1;
    float *future;
} newer_outputs;

static void test_outputs(void) {
    resnet_error err;
    float x[4] = {0};
    /* no session: a valid struct gets as far as the NULL session check */
    resnet_outputs o;
    resnet_outputs_init(&o);
    o.logits = x;
    CHECK(resnet_forward_ex(NULL, x, 1, &o, &err) == RESNET_E_ARG && strstr(err.message, "NULL argument"),
          "valid outputs: %s", err.message);
    o.size = 0;
    CHECK(resnet_forward_ex(NULL, x, 1, &o, &err) == RESNET_E_ARG && strstr(err.message, "resnet_outputs_init"),
          "size 0: %s", err.message);
    newer_outputs n;
    resnet_outputs_init_size(&n.v1, sizeof n);
    n.future = x;
    CHECK(resnet_forward_ex(NULL, x, 1, &n.v1, &err) == RESNET_E_UNSUPPORTED, "an unknown output was ignored: %s",
          err.message);
    /* a stage's shape without a model: the message says so, not that stage 1 is out of range */
    int c, h, w;
    CHECK(resnet_model_stage_shape(NULL, 1, &c, &h, &w, &err) == RESNET_E_ARG && strstr(err.message, "NULL model"),
          "stage shape of no model: %s", err.message);
    /* every getter answers a NULL model (a failed load's) with 0, NULL or a zeroed record */
    resnet_info info;
    memset(&info, 0x5a, sizeof info);
    resnet_model_info(NULL, &info);
    resnet_model_info(NULL, NULL);
    h = w = -1;
    resnet_model_map_size(NULL, &h, &w);
    CHECK(resnet_model_classes(NULL) == 0 && resnet_model_feature_dim(NULL) == 0 && resnet_model_input_size(NULL) == 0 &&
              resnet_model_flops(NULL) == 0.0 && resnet_model_int8_kernels(NULL) == NULL &&
              resnet_model_int8_peak_gops(NULL, 0.01) == 0.0 && resnet_model_kernels(NULL) == RESNET_KERNELS_AUTO &&
              resnet_model_fingerprint(NULL) == 0 && resnet_model_precision(NULL) == RESNET_PRECISION_FP32 &&
              (int)resnet_model_variant(NULL) == 0 && (int)resnet_model_norm(NULL) == 0 && resnet_model_class_name(NULL, 0) == NULL && h == 0 && w == 0 &&
              info.classes == 0 && info.arch[0] == '\0' && info.layers == 0,
          "getters of no model: 0, NULL or zeroed");
    /* and those of a session answer a NULL session (a failed create's) too */
    resnet_session_set_profiling(NULL, 1);
    resnet_session_set_image_flags(NULL, RESNET_IMAGE_EXIF_ORIENTATION);
    CHECK(resnet_session_threads(NULL) == 0 && resnet_session_max_batch(NULL) == 0 && resnet_session_model(NULL) == NULL &&
              resnet_session_profile(NULL, NULL, 4) == 0 && resnet_session_profile_between(NULL) == -1.0,
          "getters of no session: 0, NULL or -1");
}

typedef struct newer_report {
    resnet_train_report v1;
    int future;
} newer_report;

/* Training on a tiny separable set: the report is written within the caller's size only. */
static void test_train_structs(void) {
    enum { N = 20, D = 2 };
    float x[N * D];
    int y[N];
    for (int i = 0; i < N; i++) {
        y[i] = i % 2;
        x[i * D] = y[i] ? 1.0f + 0.01f * (float)i : -1.0f - 0.01f * (float)i;
        x[i * D + 1] = 0.05f * (float)(i % 5);
    }
    const char *names[2] = {"neg", "pos"};
    resnet_error err;
    resnet_head *h = NULL;

    resnet_train_options o;
    resnet_train_options_init(&o);
    newer_report r;
    memset(&r, 0x55, sizeof r);
    resnet_train_report_init_size(&r.v1, sizeof r);
    r.future = 12345; /* a newer program's own field: the library does not know it and leaves it */
    CHECK(resnet_head_train(x, y, N, D, 2, names, &o, &h, &r.v1, &err) == RESNET_OK, "%s", err.message);
    CHECK(r.v1.size == sizeof r, "the report's size was changed to %zu", r.v1.size);
    CHECK(r.v1.n_train + r.v1.n_val == N && r.v1.iters >= 1, "report not written: %d + %d, %d iterations",
          r.v1.n_train, r.v1.n_val, r.v1.iters);
    CHECK(r.future == 12345, "a field beyond the library's report was written");
    resnet_head_free(h);
    h = NULL;

    resnet_train_report bad;
    memset(&bad, 0, sizeof bad);
    CHECK(resnet_head_train(x, y, N, D, 2, names, &o, &h, &bad, &err) == RESNET_E_ARG && !h,
          "an uninitialised report accepted");
    CHECK(strstr(err.message, "resnet_train_report_init"), "message: %s", err.message);
    memset(&o, 0, sizeof o);
    CHECK(resnet_head_train(x, y, N, D, 2, names, &o, &h, NULL, &err) == RESNET_E_ARG && !h,
          "uninitialised options accepted");
    CHECK(strstr(err.message, "resnet_train_options_init"), "message: %s", err.message);
    /* NULL: the defaults */
    CHECK(resnet_head_train(x, y, N, D, 2, names, NULL, &h, NULL, &err) == RESNET_OK, "%s", err.message);
    resnet_head_free(h);
}

/* The default weight file, found as the tool finds it: $RESNET_WEIGHTS, then the cache's. */
static void test_default_weights(void) {
    static const char *vars[] = {"RESNET_WEIGHTS", "RESNET_CACHE", "XDG_CACHE_HOME", "HOME"};
    char saved[4][1024];
    int had[4];
    for (int i = 0; i < 4; i++) {
        const char *v = getenv(vars[i]);
        had[i] = v != NULL;
        snprintf(saved[i], sizeof saved[i], "%s", v ? v : "");
        unsetenv(vars[i]);
    }
    char buf[256];
    resnet_error err;
    setenv("HOME", "/home/u", 1);
    CHECK(resnet_default_weights(buf, sizeof buf, &err) == RESNET_OK &&
              strcmp(buf, "/home/u/.cache/resnet/resnet50-v1-caffe.safetensors") == 0, "HOME: '%s'", buf);
    setenv("XDG_CACHE_HOME", "/x", 1);
    CHECK(resnet_default_weights(buf, sizeof buf, &err) == RESNET_OK &&
              strcmp(buf, "/x/resnet/resnet50-v1-caffe.safetensors") == 0, "XDG_CACHE_HOME: '%s'", buf);
    setenv("RESNET_CACHE", "/c", 1);
    CHECK(resnet_default_weights(buf, sizeof buf, &err) == RESNET_OK &&
              strcmp(buf, "/c/resnet50-v1-caffe.safetensors") == 0, "RESNET_CACHE: '%s'", buf);
    setenv("RESNET_WEIGHTS", "/w/my.safetensors", 1);
    CHECK(resnet_default_weights(buf, sizeof buf, &err) == RESNET_OK && strcmp(buf, "/w/my.safetensors") == 0,
          "RESNET_WEIGHTS: '%s'", buf);
    char small[8];
    CHECK(resnet_default_weights(small, sizeof small, &err) == RESNET_E_ARG && small[0] == '\0' &&
              strstr(err.message, "longer than 7 bytes"),
          "a buffer too small: '%s'", err.message);
    CHECK(resnet_default_weights(NULL, 0, &err) == RESNET_E_ARG, "no buffer");
    for (int i = 0; i < 4; i++) {
        if (had[i]) setenv(vars[i], saved[i], 1);
        else unsetenv(vars[i]);
    }
}

/* The mean of the views' softmaxes for a network of any number of classes (since 1.7); the
 * 1000-class resnet_tta_average is the same function at 1000. */
static void test_tta_average_n(void) {
    /* 2 views of 3 classes: softmax(0, ln 2, ln 3) = (1, 2, 3) / 6, softmax(0, 0, 0) = 1/3 each */
    const float logits[6] = {0.0f, 0.69314718f, 1.09861229f, 0.0f, 0.0f, 0.0f};
    const double want[3] = {(1.0 / 6 + 1.0 / 3) / 2, (2.0 / 6 + 1.0 / 3) / 2, (3.0 / 6 + 1.0 / 3) / 2};
    float probs[4] = {-1, -1, -1, -1};
    resnet_tta_average_n(logits, 2, 3, probs);
    for (int i = 0; i < 3; i++)
        CHECK(probs[i] > want[i] - 1e-6 && probs[i] < want[i] + 1e-6, "class %d: %g, want %g", i, probs[i], want[i]);
    CHECK(probs[3] == -1, "wrote past its 3 classes");
    float in_place[6];
    memcpy(in_place, logits, sizeof logits);
    resnet_tta_average_n(in_place, 2, 3, in_place);
    CHECK(memcmp(in_place, probs, 3 * sizeof *probs) == 0, "in place (probs the first row) differs");
    float one[3];
    resnet_tta_average_n(logits, 1, 3, one);
    float soft[3];
    resnet_softmax(logits, 3, soft);
    CHECK(memcmp(one, soft, sizeof one) == 0, "one view is not its softmax, bit for bit");
    float untouched[3] = {7, 7, 7};
    resnet_tta_average_n(logits, 0, 3, untouched);
    resnet_tta_average_n(logits, 2, 0, untouched);
    CHECK(untouched[0] == 7 && untouched[2] == 7, "n or classes 0 wrote probs");

    static float many[3 * RESNET_NUM_CLASSES], a[RESNET_NUM_CLASSES], b[RESNET_NUM_CLASSES];
    for (int i = 0; i < 3 * RESNET_NUM_CLASSES; i++) many[i] = (float)((i * 37) % 101) / 10.0f;
    resnet_tta_average(many, 3, a);
    resnet_tta_average_n(many, 3, RESNET_NUM_CLASSES, b);
    CHECK(memcmp(a, b, sizeof a) == 0, "resnet_tta_average_n at 1000 classes differs from resnet_tta_average");
}

/* The file's metadata, kept by the model (since 1.7): after the file is gone, within the
 * bounds the header states, in file order. */
static void test_model_metadata(void) {
    const char *src = "tests/data/family/small_basic.safetensors"; /* no metadata of its own */
    char path[] = "/tmp/rn_test_api_meta.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0) return;
    close(fd);
    static char big[RESNET_METADATA_MAX_VALUE + 2], full[4][RESNET_METADATA_MAX_VALUE + 1];
    memset(big, 'x', sizeof big - 1); /* one byte over the bound */
    for (int i = 0; i < 4; i++) {
        memset(full[i], 'a' + i, RESNET_METADATA_MAX_VALUE);
        full[i][RESNET_METADATA_MAX_VALUE] = '\0';
    }
    /* big: too long, skipped; source and f0..f2: 25 + 3 x (2 + 4096) bytes, within the 16384
     * in all; f3 would pass it: skipped; the short ones after it still fit */
    const char *keys[] = {"source", "big", "f0", "f1", "f2", "f3", "calibration", "empty"};
    const char *vals[] = {"a camera, \"quoted\"", big, full[0], full[1], full[2], full[3], "mse", ""};
    rn_safetensors *st = NULL;
    resnet_error err;
    CHECK(rn_st_open(src, &st, &err) == RESNET_OK, "%s", err.message);
    if (!st) return;
    CHECK(rn_st_copy(st, path, keys, vals, sizeof keys / sizeof *keys, &err) == RESNET_OK, "%s", err.message);
    rn_st_close(st);
    resnet_model *m = NULL;
    CHECK(resnet_model_load(path, NULL, &m, &err) == RESNET_OK, "load: %s", err.message);
    unlink(path);
    if (!m) return;
    const char *v = resnet_model_metadata(m, "source");
    CHECK(v && strcmp(v, "a camera, \"quoted\"") == 0, "source: %s", v ? v : "(null)");
    v = resnet_model_metadata(m, "calibration");
    CHECK(v && strcmp(v, "mse") == 0, "calibration: %s", v ? v : "(null)");
    v = resnet_model_metadata(m, "empty");
    CHECK(v && v[0] == '\0', "an empty value: %s", v ? v : "(null)");
    CHECK(resnet_model_metadata(m, "big") == NULL, "a value over RESNET_METADATA_MAX_VALUE kept");
    for (int i = 0; i < 3; i++) {
        char k[4] = {'f', (char)('0' + i), 0};
        v = resnet_model_metadata(m, k);
        CHECK(v && strcmp(v, full[i]) == 0, "%s: not kept whole", k);
    }
    CHECK(resnet_model_metadata(m, "f3") == NULL, "kept past RESNET_METADATA_MAX_TOTAL");
    CHECK(resnet_model_metadata(m, "labels") == NULL && resnet_model_metadata(m, "Source") == NULL,
          "a key the file lacks");
    CHECK(resnet_model_metadata(m, NULL) == NULL && resnet_model_metadata(NULL, "source") == NULL, "NULL arguments");
    resnet_model_free(m);
    CHECK(resnet_model_load(src, NULL, &m, &err) == RESNET_OK, "load %s: %s", src, err.message);
    CHECK(resnet_model_metadata(m, "source") == NULL, "a file without metadata");
    resnet_model_free(m);
}

int main(void) {
    RUN(test_version);
    RUN(test_init_writes_only_the_callers_size);
    RUN(test_load_options);
    RUN(test_outputs_reset_on_bad_arguments);
    RUN(test_outputs);
    RUN(test_train_structs);
    RUN(test_default_weights);
    RUN(test_tta_average_n);
    RUN(test_model_metadata);
    return TEST_DONE();
}
