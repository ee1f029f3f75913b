/* test_family.c - ResNet-family networks against PyTorch (tools/make-family.py):
 *   tier 1: tests/data/family/, narrow networks of each kind (basic blocks, bottlenecks,
 *     grouped 3x3s, dilation), committed with torchvision's answers on the demo photos at two
 *     input sizes, stage outputs and dilated backbones; on every kernel path (the AVX-512 one
 *     emulated where the CPU lacks it) and with Winograd off;
 *   tier 2: RESNET_TEST_FAMILY_DIR, every torchvision constructor with 1000 and 10 classes,
 *     made by tests/run.sh when Debian's python3-torch is there (the machine's own path).
 * Bound: 1e-4 of the largest magnitude of each output (logits or a stage's map).
 * Also: what resnet_model_info says, and the bad files: a tensor missing, one of the wrong
 * shape, an unknown layout, a tensor the network does not use. */
#include <math.h>
#include <string.h>

#include "resnet.h"
#include "testutil.h"
#include "emulated_kernels.h"
#include "image/image.h"
#include "io/safetensors.h"
#include "model/resnet50.h"

#define TIER1 "tests/data/family"
#define BOUND 1e-4

typedef struct check {
    char weights[256], photo[256], what[16], values[256], model[64];
    int size, stride;
} check;

static int read_manifest(const char *dir, check **out) {
    char path[1024];
    snprintf(path, sizeof path, "%s/MANIFEST.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0, cap = 0;
    check *c = NULL;
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            c = realloc(c, (size_t)cap * sizeof *c);
        }
        check *k = &c[n];
        if (sscanf(line, "%255[^\t]\t%255[^\t]\t%d\t%d\t%15[^\t]\t%255[^\t]\t%63[^\t\n]", k->weights, k->photo,
                   &k->size, &k->stride, k->what, k->values, k->model) == 7)
            n++;
    }
    fclose(f);
    *out = c;
    return n;
}

typedef struct path_case {
    const char *name;
    resnet_kernels k;
    int direct; /* RN_LOAD_DIRECT, RN_LOAD_WIDE */
    const rn_kernel_config *emulated;
} path_case;

/* Runs every check of dir on one kernel path; returns the largest relative difference. */
static double run_checks(const char *dir, const check *c, int n, const path_case *pc) {
    double worst = 0;
    resnet_model *m = NULL;
    resnet_session *s = NULL;
    char loaded[1024] = "";
    int loaded_size = 0, loaded_stride = 0;
    for (int i = 0; i < n; i++) {
        const check *k = &c[i];
        char wpath[1024], vpath[1024];
        snprintf(wpath, sizeof wpath, "%s/%s", dir, k->weights);
        snprintf(vpath, sizeof vpath, "%s/%s", dir, k->values);
        if (!m || strcmp(loaded, wpath) != 0 || loaded_size != k->size || loaded_stride != k->stride) {
            resnet_session_free(s);
            resnet_model_free(m);
            s = NULL;
            m = NULL;
            rn_load_config cfg = {.direct = pc->direct & RN_LOAD_DIRECT, .input_size = k->size,
                                  .output_stride = k->stride, .wide_winograd = (pc->direct & RN_LOAD_WIDE) != 0};
            const rn_kernel_config *kc = pc->emulated ? pc->emulated : rn_kernels_select(pc->k);
            resnet_error err;
            if (rn_model_load_cfg(wpath, kc, NULL, &cfg, &m, &err) != RESNET_OK) {
                CHECK(0, "%s: load %s: %s", pc->name, wpath, err.message);
                continue;
            }
            if (resnet_session_create(m, 2, 1, &s, &err) != RESNET_OK) {
                CHECK(0, "session: %s", err.message);
                continue;
            }
            snprintf(loaded, sizeof loaded, "%s", wpath);
            loaded_size = k->size;
            loaded_stride = k->stride;
        }
        if (!s) continue;
        size_t vsize = 0;
        float *ref = (float *)tu_read_file(vpath, &vsize);
        const size_t count = vsize / sizeof(float);
        float *input = malloc((size_t)3 * k->size * k->size * sizeof(float));
        float *got = malloc((count ? count : 1) * sizeof(float));
        resnet_error err;
        const resnet_view view = {256, RESNET_CROP_CENTER, 0};
        if (!ref || !input || !got ||
            rn_preprocess_views_file_ex(k->photo, resnet_model_norm(m), 0, k->size, &view, 1, input, &err) != RESNET_OK) {
            CHECK(0, "%s: %s: cannot read the photo or %s", pc->name, k->photo, vpath);
            goto next;
        }
        resnet_outputs o;
        resnet_outputs_init(&o);
        size_t expect;
        if (strcmp(k->what, "logits") == 0) {
            o.logits = got;
            expect = (size_t)resnet_model_classes(m);
        } else {
            int st = k->what[5] - '0', ch, h, w;
            resnet_model_stage_shape(m, st, &ch, &h, &w, NULL);
            o.stages[st - 1] = got;
            expect = (size_t)ch * h * w;
        }
        if (expect != count) {
            CHECK(0, "%s: %s %s: %zu values, PyTorch gave %zu", pc->name, k->model, k->what, expect, count);
            goto next;
        }
        if (resnet_forward_ex(s, input, 1, &o, &err) != RESNET_OK) {
            CHECK(0, "%s: forward: %s", pc->name, err.message);
            goto next;
        }
        double most = 0, diff = 0;
        for (size_t j = 0; j < count; j++) {
            most = fmax(most, fabs(ref[j]));
            diff = fmax(diff, fabs((double)got[j] - ref[j]));
        }
        const double rel = most > 0 ? diff / most : diff;
        worst = fmax(worst, rel);
        CHECK(rel <= BOUND, "%s: %s (%s, size %d, output stride %d) %s on %s: differs by %.3g of its largest %.3g",
              pc->name, k->model, k->weights, k->size, k->stride, k->what, k->photo, rel, most);
    next:
        free(ref);
        free(input);
        free(got);
    }
    resnet_session_free(s);
    resnet_model_free(m);
    return worst;
}

static void test_small_every_path(void) {
    check *c = NULL;
    int n = read_manifest(TIER1, &c);
    CHECK(n > 20, "tests/data/family/MANIFEST.tsv: %d checks", n);
    path_case paths[8];
    int np = 0;
    paths[np++] = (path_case){"c", RESNET_KERNELS_C, 0, NULL};
    if (resnet_kernels_available(RESNET_KERNELS_AVX2)) paths[np++] = (path_case){"avx2", RESNET_KERNELS_AVX2, 0, NULL};
    if (resnet_kernels_available(RESNET_KERNELS_AVX512))
        paths[np++] = (path_case){"avx512", RESNET_KERNELS_AVX512, 0, NULL};
#if defined(RN_HAVE_X86)
    else paths[np++] = (path_case){"avx512 (emulated)", RESNET_KERNELS_AVX512, 0, &avx512_emulated};
#endif
    paths[np++] = (path_case){"auto, direct", RESNET_KERNELS_AUTO, 1, NULL};
    for (int i = 0; i < np && n > 0; i++) {
        double worst = run_checks(TIER1, c, n, &paths[i]);
        printf("     %-18s %d checks, largest difference %.2g of the output's largest value\n", paths[i].name, n,
               worst);
    }
    free(c);
}

static void test_full_family(void) {
    const char *dir = getenv("RESNET_TEST_FAMILY_DIR");
    if (!dir || !*dir) {
        TU_SKIP("every torchvision constructor: needs RESNET_TEST_FAMILY_DIR (tests/run.sh makes it with "
                "python3-torch and python3-torchvision)");
        return;
    }
    check *c = NULL;
    int n = read_manifest(dir, &c);
    CHECK(n > 0, "%s/MANIFEST.tsv: %d checks", dir, n);
    /* wide: Winograd on the 256- and 512-channel 3x3 layers too (resnet_load_options.wide_winograd) */
    const path_case cases[] = {{"auto", RESNET_KERNELS_AUTO, 0, NULL}, {"auto, wide", RESNET_KERNELS_AUTO, RN_LOAD_WIDE, NULL}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double worst = run_checks(dir, c, n, &cases[i]);
        printf("     %-10s %d checks over every constructor, largest difference %.2g\n", cases[i].name, n, worst);
    }
    free(c);
}

static void test_model_info(void) {
    resnet_model *m;
    resnet_error err;
    resnet_load_options o;
    resnet_load_options_init(&o);
    o.input_size = 160;
    if (resnet_model_load(TIER1 "/small_grouped.safetensors", &o, &m, &err) != RESNET_OK) {
        CHECK(0, "load: %s", err.message);
        return;
    }
    resnet_info info;
    resnet_model_info(m, &info);
    CHECK(info.block == RESNET_BLOCK_BOTTLENECK && info.groups == 4 && info.classes == 10 && info.input_size == 160 &&
              info.blocks[2] == 2 && info.widths[1] == 64 && info.feature_dim == 256 && info.depth == 17 &&
              info.labels == 0 && info.output_stride == 32,
          "info: %s depth %d groups %d classes %d size %d", info.arch, info.depth, info.groups, info.classes,
          info.input_size);
    char buf[32];
    CHECK(resnet_model_class_name(m, 3) == NULL && strcmp(resnet_model_class_label(m, 3, buf, sizeof buf), "class 3") == 0,
          "a 10-class network without labels names its classes 'class N'");
    int h, w;
    resnet_model_map_size(m, &h, &w);
    CHECK(h == 5 && w == 5, "a 160 crop ends in a 5x5 map, got %dx%d", h, w);
    resnet_model_free(m);
    if (resnet_model_load(TIER1 "/small_basic.safetensors", NULL, &m, &err) != RESNET_OK) {
        CHECK(0, "load: %s", err.message);
        return;
    }
    resnet_model_info(m, &info);
    CHECK(info.block == RESNET_BLOCK_BASIC && info.classes == 1000 && info.labels == 2 &&
              strcmp(resnet_model_class_name(m, 285), "Egyptian cat") == 0,
          "a 1000-class network takes ImageNet's names");
    resnet_model_free(m);
}

/* A copy of src's float tensors with those whose names start with `drop` left out, `reshape`
 * flattened to [n], and a tensor `add` of one value added (each NULL: not done). */
static int rewrite(const char *src, const char *dst, const char *drop, const char *reshape, const char *add) {
    rn_safetensors *st;
    resnet_error err;
    if (rn_st_open(src, &st, &err) != RESNET_OK) return -1;
    size_t n = rn_st_count(st);
    rn_st_entry *e = calloc(n + 1, sizeof *e);
    float **bufs = calloc(n + 1, sizeof *bufs);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const rn_tensor *t = rn_st_tensor(st, i);
        if (t->dtype != RN_DT_F32) continue; /* num_batches_tracked: ignored anyway */
        if (drop && strncmp(t->name, drop, strlen(drop)) == 0) continue;
        size_t count = t->nbytes / 4;
        bufs[k] = malloc(t->nbytes ? t->nbytes : 4);
        rn_st_read_f32(st, t, bufs[k], &err);
        e[k].name = t->name;
        e[k].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) e[k].shape[d] = t->shape[d];
        if (reshape && strcmp(t->name, reshape) == 0) {
            e[k].ndim = 1;
            e[k].shape[0] = (int64_t)count;
        }
        e[k].data = bufs[k];
        k++;
    }
    static const float one = 1.0f;
    if (add) {
        e[k].name = add;
        e[k].ndim = 1;
        e[k].shape[0] = 1;
        e[k].data = &one;
        k++;
    }
    int r = rn_st_write(dst, e, k, NULL, NULL, 0, &err) == RESNET_OK ? 0 : -1;
    for (size_t i = 0; i < k; i++)
        if (bufs[i]) free(bufs[i]);
    free(bufs);
    free(e);
    rn_st_close(st);
    return r;
}

/* A copy of src's float tensors renamed: names starting with `from` start with `to` instead,
 * then `prefix` before every name (each NULL: not done). */
static int renamed(const char *src, const char *dst, const char *prefix, const char *from, const char *to) {
    rn_safetensors *st;
    resnet_error err;
    if (rn_st_open(src, &st, &err) != RESNET_OK) return -1;
    size_t n = rn_st_count(st), k = 0;
    rn_st_entry *e = calloc(n + 1, sizeof *e);
    float **bufs = calloc(n + 1, sizeof *bufs);
    char **names = calloc(n + 1, sizeof *names);
    int r = e && bufs && names ? 0 : -1;
    for (size_t i = 0; r == 0 && i < n; i++) {
        const rn_tensor *t = rn_st_tensor(st, i);
        if (t->dtype != RN_DT_F32) continue;
        const int moved = from && strncmp(t->name, from, strlen(from)) == 0;
        names[k] = malloc(strlen(t->name) + 64);
        bufs[k] = malloc(t->nbytes ? t->nbytes : 4);
        if (!names[k] || !bufs[k]) r = -1;
        else {
            sprintf(names[k], "%s%s%s", prefix ? prefix : "", moved ? to : "", t->name + (moved ? strlen(from) : 0));
            if (rn_st_read_f32(st, t, bufs[k], &err) != RESNET_OK) r = -1;
        }
        e[k].name = names[k];
        e[k].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) e[k].shape[d] = t->shape[d];
        e[k].data = bufs[k];
        k++;
    }
    if (r == 0 && rn_st_write(dst, e, k, NULL, NULL, 0, &err) != RESNET_OK) r = -1;
    for (size_t i = 0; i < k; i++) {
        free(bufs[i]);
        free(names[i]);
    }
    free(bufs);
    free(names);
    free(e);
    rn_st_close(st);
    return r;
}

static void expect_refused(const char *path, const char *what, const char *needle) {
    resnet_model *m = NULL;
    resnet_error err;
    resnet_status s = resnet_model_load(path, NULL, &m, &err);
    CHECK(s != RESNET_OK && strstr(err.message, needle) && strstr(err.message, path),
          "%s: expected a refusal naming the file and '%s', got %d '%s'", what, needle, (int)s,
          s == RESNET_OK ? "" : err.message);
    resnet_model_free(m);
}

static void test_bad_files(void) {
    char dir[] = "/tmp/resnet-family-XXXXXX", path[256];
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    const char *src = TIER1 "/small_bottleneck.safetensors";
    snprintf(path, sizeof path, "%s/missing.safetensors", dir);
    CHECK(rewrite(src, path, "layer2.0.bn2.running_var", NULL, NULL) == 0, "write");
    expect_refused(path, "a tensor missing", "'layer2.0.bn2.running_var' is missing");
    snprintf(path, sizeof path, "%s/shape.safetensors", dir);
    CHECK(rewrite(src, path, NULL, "layer3.0.conv3.weight", NULL) == 0, "write");
    expect_refused(path, "a tensor of the wrong shape", "'layer3.0.conv3.weight' has shape");
    snprintf(path, sizeof path, "%s/extra.safetensors", dir);
    CHECK(rewrite(src, path, NULL, NULL, "layer5.0.conv1.weight") == 0, "write");
    expect_refused(path, "a tensor the network does not use", "'layer5.0.conv1.weight' is not used");
    snprintf(path, sizeof path, "%s/extra2.safetensors", dir);
    CHECK(rewrite(src, path, NULL, NULL, "layer2.1.conv1.weight_extra") == 0, "write");
    expect_refused(path, "a tensor the network does not use", "is not used");
    snprintf(path, sizeof path, "%s/mobilenet.safetensors", dir);
    CHECK(rewrite(src, path, "conv1.weight", NULL, "features.0.0.weight") == 0, "write");
    expect_refused(path, "an unknown layout", "not a torchvision ResNet");
    /* a training wrapper's prefix, a deep stem: the line says which, not only what is missing */
    snprintf(path, sizeof path, "%s/lightning.safetensors", dir);
    CHECK(renamed(src, path, "model.", NULL, NULL) == 0, "write");
    expect_refused(path, "a Lightning module's names", "start with 'model.'");
    snprintf(path, sizeof path, "%s/deepstem.safetensors", dir);
    CHECK(renamed(src, path, NULL, "conv1.weight", "conv1.0.weight") == 0, "write");
    expect_refused(path, "a deep stem", "a deep stem");
    snprintf(path, sizeof path, "%s/seqfc.safetensors", dir);
    CHECK(renamed(src, path, NULL, "fc.", "fc.1.") == 0, "write");
    expect_refused(path, "an fc in a Sequential", "the fc is a Sequential");
    snprintf(path, sizeof path, "%s/nodown.safetensors", dir);
    CHECK(rewrite(src, path, "layer3.0.downsample.0.weight", NULL, NULL) == 0, "write");
    expect_refused(path, "a stage without its projection", "'layer3.0.downsample.0.weight' is missing");
    snprintf(path, sizeof path, "%s/halffc.safetensors", dir);
    CHECK(rewrite(src, path, "fc.weight", NULL, NULL) == 0, "write");
    expect_refused(path, "an fc bias without its weight", "'fc.weight' is missing");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

/* A file without the fc (a detection model's body) is a backbone: its classifier's features
 * and stage maps, no logits and no class maps. */
static void test_backbone(void) {
    char dir[] = "/tmp/resnet-backbone-XXXXXX", path[256];
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    const char *src = TIER1 "/small_bottleneck.safetensors";
    snprintf(path, sizeof path, "%s/body.safetensors", dir);
    CHECK(rewrite(src, path, "fc.", NULL, NULL) == 0, "write");
    resnet_model *full = NULL, *body = NULL;
    resnet_session *sf = NULL, *sb = NULL;
    resnet_error err;
    if (resnet_model_load(src, NULL, &full, &err) != RESNET_OK || resnet_model_load(path, NULL, &body, &err) != RESNET_OK ||
        resnet_session_create(full, 1, 2, &sf, &err) != RESNET_OK ||
        resnet_session_create(body, 1, 2, &sb, &err) != RESNET_OK) {
        CHECK(0, "load: %s", err.message);
        goto done;
    }
    resnet_info info;
    resnet_model_info(body, &info);
    const int dim = resnet_model_feature_dim(full), size = resnet_model_input_size(full);
    CHECK(info.classes == 0 && resnet_model_classes(body) == 0 && info.feature_dim == dim && info.labels == 0 &&
              resnet_model_class_name(body, 0) == NULL,
          "a backbone: 0 classes, %d features (got %d), no names", dim, info.feature_dim);
    const size_t in_floats = (size_t)2 * 3 * size * size;
    float *x = malloc(in_floats * sizeof(float)), *ff = malloc((size_t)2 * dim * sizeof(float)),
          *fb = malloc((size_t)2 * dim * sizeof(float)), *lg = malloc((size_t)2 * 1000 * sizeof(float));
    for (size_t i = 0; i < in_floats; i++) x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    resnet_outputs o;
    resnet_outputs_init(&o);
    o.features = ff;
    CHECK(resnet_forward_ex(sf, x, 2, &o, &err) == RESNET_OK, "the classifier's features: %s", err.message);
    o.features = fb;
    CHECK(resnet_forward_ex(sb, x, 2, &o, &err) == RESNET_OK, "the backbone's features: %s", err.message);
    CHECK(memcmp(ff, fb, (size_t)2 * dim * sizeof(float)) == 0, "the backbone's features are its classifier's");
    CHECK(resnet_forward(sb, x, 1, lg, NULL, &err) == RESNET_E_UNSUPPORTED && strstr(err.message, "backbone"),
          "logits of a backbone: RESNET_E_UNSUPPORTED naming it, got '%s'", err.message);
    resnet_outputs_init(&o);
    o.class_maps = lg;
    CHECK(resnet_forward_ex(sb, x, 1, &o, &err) == RESNET_E_UNSUPPORTED && strstr(err.message, "class maps"),
          "class maps of a backbone: RESNET_E_UNSUPPORTED, got '%s'", err.message);
    resnet_prediction top[1];
    CHECK(resnet_classify_file_tta(sb, "demo/chelsea.png", RESNET_TTA_NONE, 1, top, &err) == RESNET_E_UNSUPPORTED &&
              strstr(err.message, "backbone"),
          "classify on a backbone: RESNET_E_UNSUPPORTED naming it, got '%s'", err.message);
    free(x);
    free(ff);
    free(fb);
    free(lg);
done:
    resnet_session_free(sf);
    resnet_session_free(sb);
    resnet_model_free(full);
    resnet_model_free(body);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(void) {
    RUN(test_small_every_path);
    RUN(test_model_info);
    RUN(test_bad_files);
    RUN(test_backbone);
    RUN(test_full_family);
    return TEST_DONE();
}
