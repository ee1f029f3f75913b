/* test_golden.c - the network against PyTorch's outputs, in two tiers:
 *   tier 1, on any clone: tests/data/golden/, made by tools/make-golden.py for the project's
 *     own photos (demo/chelsea.png, demo/coffee.png and a JPEG of the first);
 *   tier 2, when ../shared is beside the project: ../shared/reference/golden/ for the ImageNet
 *     sample photos and the 1,300 validation photos (skipped, saying so, without it).
 *
 * Weight files come from the environment (tests/run.sh makes them):
 *   RESNET_TEST_V1_CAFFE, RESNET_TEST_V15_CAFFE, RESNET_TEST_V15_TORCH
 * RESNET_TEST_VAL=0 skips the 1300-image run (slow on the portable path). */
#include <math.h>

#include "resnet.h"
#include "testutil.h"
#include "emulated_kernels.h"
#include "model/resnet50.h"

#define IN_FLOATS (3 * RESNET_INPUT_SIZE * RESNET_INPUT_SIZE)
#define REPO_GOLDEN "tests/data/golden"

/* A set of golden files: dir holds <name>.caffe.input.f32, <name>.<tag>.logits.f32 and
 * <name>.v1-caffe.pooled.f32 for each photo; photo[i] is the photo file itself. */
typedef struct golden_set {
    char dir[512];
    int n;
    const char *name[4];
    char photo[4][1024];
} golden_set;

static golden_set repo_set, shared_set;

static void init_sets(void) {
    static const char *const repo[][2] = {{"chelsea.png", "demo/chelsea.png"},
                                          {"coffee.png", "demo/coffee.png"},
                                          {"chelsea.jpg", REPO_GOLDEN "/chelsea.jpg"}};
    snprintf(repo_set.dir, sizeof repo_set.dir, "%s", REPO_GOLDEN);
    repo_set.n = 3;
    for (int i = 0; i < 3; i++) {
        repo_set.name[i] = repo[i][0];
        snprintf(repo_set.photo[i], sizeof repo_set.photo[i], "%s", repo[i][1]);
    }
    /* the two photos the reference dumped in every configuration */
    static const char *const dumped[] = {"282_tiger_cat_1.jpg", "258_samoyed_1.jpg"};
    snprintf(shared_set.dir, sizeof shared_set.dir, "%s/reference/golden", tu_shared());
    shared_set.n = 2;
    for (int i = 0; i < 2; i++) {
        shared_set.name[i] = dumped[i];
        snprintf(shared_set.photo[i], sizeof shared_set.photo[i], "%s/images/samples/%s", tu_shared(), dumped[i]);
    }
}

static float *read_f32(const char *dir, const char *name, const char *suffix, size_t expect) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix);
    size_t size = 0;
    float *p = (float *)tu_read_file(path, &size);
    if (!p || size != expect * sizeof(float)) {
        fprintf(stderr, "  cannot read %s (%zu bytes)\n", path, size);
        free(p);
        return NULL;
    }
    return p; /* little-endian float32 on the machines we run on */
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* The algorithms a configuration is checked with: rn_model_load_kc's RN_LOAD_* flags. */
static const int algorithms[] = {0, RN_LOAD_DIRECT, RN_LOAD_WIDE};
static const char *algorithm_name(int a) { return a & RN_LOAD_DIRECT ? "direct" : a & RN_LOAD_WIDE ? "wide" : "winograd"; }

/* emulated: a kernel family to load with instead of k's (NULL: k's own). direct: RN_LOAD_DIRECT
 * and/or RN_LOAD_WIDE. */
static resnet_session *open_session_opts(const char *env, resnet_kernels k, int direct, int batch,
                                         const rn_kernel_config *emulated, resnet_model **model) {
    const char *path = getenv(env);
    resnet_error err;
    *model = NULL;
    if (!path) {
        CHECK(0, "%s is not set (run the tests through tests/run.sh)", env);
        return NULL;
    }
    resnet_load_options opts;
    resnet_load_options_init(&opts);
    opts.kernels = k;
    opts.direct = direct & RN_LOAD_DIRECT;
    opts.wide_winograd = (direct & RN_LOAD_WIDE) != 0;
    if ((emulated ? rn_model_load_kc(path, emulated, direct, model, &err) : resnet_model_load(path, &opts, model, &err)) !=
        RESNET_OK) {
        CHECK(0, "load %s: %s", path, err.message);
        return NULL;
    }
    resnet_session *s = NULL;
    if (resnet_session_create(*model, 2, batch, &s, &err) != RESNET_OK) CHECK(0, "session: %s", err.message);
    return s;
}

static resnet_session *open_session(const char *env, resnet_kernels k, int batch, resnet_model **model) {
    return open_session_opts(env, k, 0, batch, NULL, model);
}

static void close_session(resnet_session *s, resnet_model *m) {
    resnet_session_free(s);
    resnet_model_free(m);
}

static char golden_dir[512], samples_dir[512];

/* Reference input -> logits and pooled features, for one configuration and kernel path, on
 * the first n photos of a set. */
static void check_config(const golden_set *set, int n, const char *env, const char *tag, resnet_kernels k,
                         int direct, const rn_kernel_config *emulated) {
    resnet_model *m;
    resnet_session *s = open_session_opts(env, k, direct, 1, emulated, &m);
    if (!s) return;
    float logits[RESNET_NUM_CLASSES], feat[RESNET_FEATURE_DIM];
    float *input = malloc(IN_FLOATS * sizeof(float));
    resnet_error err;
    for (int i = 0; i < n && i < set->n; i++) {
        char suffix[64];
        const char *name = set->name[i];
        float *ref_in = NULL;
        if (resnet_model_norm(m) == RESNET_NORM_CAFFE) {
            ref_in = read_f32(set->dir, name, ".caffe.input.f32", IN_FLOATS);
            CHECK(ref_in != NULL, "reference input of %s", name);
            if (!ref_in) continue;
            memcpy(input, ref_in, IN_FLOATS * sizeof(float));
        } else { /* no torch-normalised input was dumped: use our own (exact) pipeline */
            CHECK(resnet_preprocess_file(set->photo[i], RESNET_NORM_TORCH, input, &err) == RESNET_OK, "%s",
                  err.message);
        }
        CHECK(resnet_forward(s, input, 1, logits, feat, &err) == RESNET_OK, "forward: %s", err.message);
        snprintf(suffix, sizeof suffix, ".%s.logits.f32", tag);
        float *ref = read_f32(set->dir, name, suffix, RESNET_NUM_CLASSES);
        CHECK(ref != NULL, "golden logits %s%s", name, suffix);
        if (ref) {
            double d = max_abs_diff(logits, ref, RESNET_NUM_CLASSES);
            printf("     %-7s %-9s %-10s %-20s logits max |diff| %.2e%s\n", resnet_kernels_name(resnet_model_kernels(m)),
                   algorithm_name(direct), tag, name, d, emulated ? " (emulated)" : "");
            CHECK(d <= 1e-3, "%s %s logits differ by %.3g", tag, name, d);
        }
        /* the pooled features of the default configuration: every set has them */
        float *ref_pooled = NULL;
        if (strcmp(tag, "v1-caffe") == 0) {
            snprintf(suffix, sizeof suffix, ".%s.pooled.f32", tag);
            ref_pooled = read_f32(set->dir, name, suffix, RESNET_FEATURE_DIM);
            CHECK(ref_pooled != NULL, "golden pooled features %s%s", name, suffix);
        }
        if (ref_pooled) {
            double d = max_abs_diff(feat, ref_pooled, RESNET_FEATURE_DIM);
            CHECK(d <= 1e-3, "%s %s pooled features differ by %.3g", tag, name, d);
        }
        free(ref);
        free(ref_pooled);
        free(ref_in);
    }
    free(input);
    close_session(s, m);
}

static const resnet_kernels paths[] = {RESNET_KERNELS_C, RESNET_KERNELS_AVX2, RESNET_KERNELS_AVX512};

/* Every configuration on every kernel path and algorithm (Winograd, direct, wide Winograd), on
 * the set's photos. */
static void check_every_path(const golden_set *set) {
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        if (!resnet_kernels_available(paths[p])) {
#if defined(RN_HAVE_X86)
            if (paths[p] == RESNET_KERNELS_AVX512) {
                /* The whole network on the AVX-512 micro-kernel's logic, its intrinsics
                 * emulated in C (~10 s a pass): one configuration and one photo, both
                 * algorithms. */
                printf("     (no AVX-512 on this CPU: its kernel runs on emulated intrinsics)\n");
                for (int direct = 0; direct < 2; direct++)
                    check_config(set, 1, "RESNET_TEST_V1_CAFFE", "v1-caffe", paths[p], direct, &avx512_emulated);
                continue;
            }
#endif
            printf("     (kernel path %s not available on this CPU: skipped)\n", resnet_kernels_name(paths[p]));
            continue;
        }
        for (size_t a = 0; a < sizeof algorithms / sizeof algorithms[0]; a++) {
            check_config(set, set->n, "RESNET_TEST_V1_CAFFE", "v1-caffe", paths[p], algorithms[a], NULL);
            check_config(set, set->n, "RESNET_TEST_V15_CAFFE", "v1.5-caffe", paths[p], algorithms[a], NULL);
            check_config(set, set->n, "RESNET_TEST_V15_TORCH", "v1.5-torch", paths[p], algorithms[a], NULL);
        }
    }
}

/* Tier 1: the committed golden files of the project's own photos. */
static void test_demo_photos_every_path(void) { check_every_path(&repo_set); }

/* Tier 2: the reference's dumps of two ImageNet photos. */
static void test_reference_input_every_path(void) {
    if (!tu_need_shared("reference/golden")) return;
    check_every_path(&shared_set);
}

/* One photo end to end on a caffe-norm session: its logits within 0.01 of the golden ones
 * (dir/name+suffix) and the same top-5 in order (top5: "i,i,i,i,i"); shown as label. Returns
 * 1 when it could be compared. */
static int check_photo(resnet_session *s, const char *path, const char *dir, const char *name, const char *suffix,
                       const char *top5, const char *label, int verbose) {
    static float input[IN_FLOATS];
    float logits[RESNET_NUM_CLASSES], probs[RESNET_NUM_CLASSES];
    resnet_error err;
    if (resnet_preprocess_file(path, RESNET_NORM_CAFFE, input, &err) != RESNET_OK ||
        resnet_forward(s, input, 1, logits, NULL, &err) != RESNET_OK) {
        CHECK(0, "%s", err.message);
        return 0;
    }
    float *ref = read_f32(dir, name, suffix, RESNET_NUM_CLASSES);
    CHECK(ref != NULL, "golden logits of %s", name);
    if (!ref) return 0;
    double d = max_abs_diff(logits, ref, RESNET_NUM_CLASSES);
    resnet_prediction top[5];
    resnet_softmax(logits, RESNET_NUM_CLASSES, probs);
    resnet_top_k(probs, RESNET_NUM_CLASSES, 5, top);
    char got[256];
    snprintf(got, sizeof got, "%d,%d,%d,%d,%d", top[0].index, top[1].index, top[2].index, top[3].index,
             top[4].index);
    if (verbose) printf("     %-30s top-5 %s, logits max |diff| %.2e\n", label, got, d);
    CHECK(strcmp(got, top5) == 0, "%s: top-5 %s, golden %s", label, got, top5);
    CHECK(d <= 0.01, "%s: logits differ by %.3g", label, d);
    free(ref);
    return 1;
}

/* The project's own photos end to end, from the file (our decoding and preprocessing, then
 * the default kernels): the golden top-5 in order (MANIFEST.tsv), logits within 0.01. */
static void test_demo_photos_end_to_end(void) {
    resnet_model *m;
    resnet_session *s = open_session("RESNET_TEST_V1_CAFFE", RESNET_KERNELS_AUTO, 1, &m);
    if (!s) return;
    char path[1024], line[4096];
    snprintf(path, sizeof path, "%s/MANIFEST.tsv", REPO_GOLDEN);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "open %s", path);
    if (!f) { close_session(s, m); return; }
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char photo[512], top5[256];
        if (line[0] == '#' || strncmp(line, "photo\t", 6) == 0) continue;
        if (sscanf(line, "%511[^\t]\t%*[^\t]\t%*d\t%*[^\t]\t%*f\t%255s", photo, top5) != 2) {
            CHECK(0, "bad line in MANIFEST.tsv: %s", line);
            continue;
        }
        const char *name = strrchr(photo, '/') ? strrchr(photo, '/') + 1 : photo;
        n += check_photo(s, photo, REPO_GOLDEN, name, ".v1-caffe.logits.f32", top5, photo, 1);
    }
    fclose(f);
    CHECK(n == 3, "%d photos in MANIFEST.tsv, want 3", n);
    close_session(s, m);
}

/* Every sample photo end to end: the golden top-5 in order, logits within 0.01. */
static void test_samples_end_to_end(void) {
    if (!tu_need_shared("reference/golden/samples.tsv") || !tu_need_shared("images/samples")) return;
    resnet_model *m;
    resnet_session *s = open_session("RESNET_TEST_V1_CAFFE", RESNET_KERNELS_AUTO, 1, &m);
    if (!s) return;
    char path[1024], line[4096];
    snprintf(path, sizeof path, "%s/samples.tsv", golden_dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "open %s", path);
    if (!f) { close_session(s, m); return; }
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char file[256], top5[256];
        int label, top1;
        if (strncmp(line, "file\t", 5) == 0) continue;
        if (sscanf(line, "%255[^\t]\t%d\t%d\t%*[^\t]\t%*f\t%255s", file, &label, &top1, top5) != 4) {
            /* the name column may hold spaces; sscanf's %[^\t] handles it, so this is a bad line */
            CHECK(0, "bad line in samples.tsv: %s", line);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", samples_dir, file);
        n += check_photo(s, path, golden_dir, file, ".logits.f32", top5, file, 0);
    }
    fclose(f);
    printf("     %d sample photos match the golden top-5\n", n);
    CHECK(n >= 15, "only %d samples checked", n);
    close_session(s, m);
}

/* 1300 ImageNet validation photos: our top-1 against the reference's, and accuracy. */
static void test_val1300(void) {
    const char *skip = getenv("RESNET_TEST_VAL");
    if (skip && strcmp(skip, "0") == 0) {
        TU_SKIP("RESNET_TEST_VAL=0");
        return;
    }
    if (!tu_need_shared("images/val1300") || !tu_need_shared("reference/golden/val1300.predictions.tsv")) return;
    enum { BATCH = 8 };
    resnet_model *m;
    resnet_session *s = open_session("RESNET_TEST_V1_CAFFE", RESNET_KERNELS_AUTO, BATCH, &m);
    if (!s) return;
    char path[1024], line[4096], dir[512];
    snprintf(dir, sizeof dir, "%s/images/val1300", tu_shared());
    snprintf(path, sizeof path, "%s/val1300.predictions.tsv", golden_dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "open %s", path);
    if (!f) { close_session(s, m); return; }
    float *input = malloc((size_t)BATCH * IN_FLOATS * sizeof(float));
    float *logits = malloc((size_t)BATCH * RESNET_NUM_CLASSES * sizeof(float));
    int labels[BATCH], ref_top1[BATCH], fill = 0, total = 0, agree = 0, top1 = 0, top5 = 0, eof = 0;
    resnet_error err;
    while (!eof) {
        eof = !fgets(line, sizeof line, f);
        if (!eof) {
            char file[256];
            if (strncmp(line, "file\t", 5) == 0) continue;
            if (sscanf(line, "%255[^\t]\t%d\t%d", file, &labels[fill], &ref_top1[fill]) != 3) continue;
            snprintf(path, sizeof path, "%s/%s", dir, file);
            if (resnet_preprocess_file(path, RESNET_NORM_CAFFE, input + (size_t)fill * IN_FLOATS, &err) != RESNET_OK) {
                CHECK(0, "%s", err.message);
                continue;
            }
            fill++;
        }
        if (fill == BATCH || (eof && fill > 0)) {
            CHECK(resnet_forward(s, input, fill, logits, NULL, &err) == RESNET_OK, "%s", err.message);
            for (int i = 0; i < fill; i++) {
                resnet_prediction top[5];
                float *l = logits + (size_t)i * RESNET_NUM_CLASSES;
                resnet_softmax(l, RESNET_NUM_CLASSES, l);
                resnet_top_k(l, RESNET_NUM_CLASSES, 5, top);
                agree += top[0].index == ref_top1[i];
                top1 += top[0].index == labels[i];
                for (int j = 0; j < 5; j++) top5 += top[j].index == labels[i];
                total++;
            }
            fill = 0;
        }
    }
    fclose(f);
    printf("     val1300: %d images, top-1 agrees with the reference on %d; accuracy top-1 %.4f top-5 %.4f "
           "(reference 0.8054 / 0.9562)\n", total, agree, (double)top1 / total, (double)top5 / total);
    CHECK(total == 1300, "%d of 1300 images classified", total);
    CHECK(agree >= 1295, "top-1 agrees on only %d of 1300", agree);
    CHECK(fabs((double)top1 / total - 0.8054) <= 0.002, "top-1 accuracy %.4f", (double)top1 / total);
    free(input);
    free(logits);
    close_session(s, m);
}

/* Profiling changes no result; it names every layer in network order (the input's change
 * of layout, the stem, 52 convolutions of the blocks, the pooling, the fc) with a time, and
 * measures the time a pass spends outside its layers. */
static void test_profile(void) {
    resnet_model *m;
    resnet_session *s = open_session("RESNET_TEST_V1_CAFFE", RESNET_KERNELS_AUTO, 2, &m);
    if (!s) return;
    float *input = malloc(2 * IN_FLOATS * sizeof(float)), plain[2 * RESNET_NUM_CLASSES],
          profiled[2 * RESNET_NUM_CLASSES];
    resnet_error err;
    for (size_t i = 0; i < 2 * IN_FLOATS; i++) input[i] = (float)((i * 2654435761u) % 2000) / 10.0f - 100.0f;
    CHECK(resnet_session_profile_between(s) == -1.0, "between layers before any profiled pass: %g",
          resnet_session_profile_between(s));
    CHECK(resnet_forward(s, input, 2, plain, NULL, &err) == RESNET_OK, "%s", err.message);
    resnet_session_set_profiling(s, 1);
    for (int i = 0; i < 3; i++)
        CHECK(resnet_forward(s, input, 2, profiled, NULL, &err) == RESNET_OK, "%s", err.message);
    CHECK(memcmp(plain, profiled, sizeof plain) == 0, "profiling changed the logits");
    resnet_layer_profile layers[80];
    int n = resnet_session_profile(s, layers, 80);
    CHECK(n == 57, "%d layers profiled, expected 57", n);
    CHECK(resnet_session_profile(s, NULL, 80) == n, "no array to fill: the count alone");
    static const char *first[] = {"input", "conv1", "maxpool", "layer1.0.conv1", "layer1.0.conv2"};
    for (int i = 0; i < 5 && i < n; i++)
        CHECK(strcmp(layers[i].name, first[i]) == 0, "layer %d is '%s', expected '%s'", i, layers[i].name, first[i]);
    if (n == 57) {
        CHECK(strcmp(layers[55].name, "avgpool") == 0 && strcmp(layers[56].name, "fc") == 0, "last layers '%s', '%s'",
              layers[55].name, layers[56].name);
        CHECK(strcmp(layers[54].name, "layer4.2.conv3") == 0, "layer 54 is '%s'", layers[54].name);
    }
    double sum = 0;
    for (int i = 0; i < n && i < 80; i++) {
        CHECK(layers[i].ms > 0, "%s: %g ms", layers[i].name, layers[i].ms);
        sum += layers[i].ms;
    }
    double between = resnet_session_profile_between(s);
    CHECK(between >= 0 && between < sum, "between layers %g ms (layers %g ms)", between, sum);
    printf("     57 layers, %.2f ms in all (best of 3, batch 2), %.3f ms between layers\n", sum, between);
    resnet_session_set_profiling(s, 0);
    CHECK(resnet_session_profile_between(s) == -1.0, "profiling off: between layers %g", resnet_session_profile_between(s));
    free(input);
    close_session(s, m);
}

int main(void) {
    init_sets();
    snprintf(golden_dir, sizeof golden_dir, "%s/reference/golden", tu_shared());
    snprintf(samples_dir, sizeof samples_dir, "%s/images/samples", tu_shared());
    RUN(test_demo_photos_every_path);
    RUN(test_demo_photos_end_to_end);
    RUN(test_reference_input_every_path);
    RUN(test_samples_end_to_end);
    RUN(test_val1300);
    RUN(test_profile);
    return TEST_DONE();
}
