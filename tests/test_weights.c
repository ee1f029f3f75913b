/* test_weights.c - weight files that are wrong in every way a user could meet: each must
 * fail to load with a message naming the file and the problem, never crash. And the
 * torchvision layout users download from hubs (no metadata, no conv biases, BN eps 1e-5,
 * int64 num_batches_tracked) must load and give the reference's v1.5-torch logits.
 * Source weights: RESNET_TEST_V1_CAFFE (tests/run.sh sets it). */
#include <math.h>
#include <unistd.h>

#include "resnet.h"
#include "testutil.h"
#include "io/safetensors.h"

static char tmpdir[256];
static rn_safetensors *src;

typedef struct out_tensor {
    char name[128];
    const char *dtype;
    int ndim;
    long long shape[4];
    const void *data;
    size_t nbytes;
} out_tensor;

/* A plain safetensors writer, independent of the library's, so a bug there cannot hide here. */
static int write_st(const char *path, const out_tensor *t, int n, const char *metadata_json) {
    size_t cap = 1 << 20, len = 0, off = 0;
    char *h = malloc(cap);
    len += (size_t)snprintf(h + len, cap - len, "{");
    if (metadata_json) len += (size_t)snprintf(h + len, cap - len, "\"__metadata__\":%s", metadata_json);
    for (int i = 0; i < n; i++) {
        len += (size_t)snprintf(h + len, cap - len, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", (i || metadata_json) ? "," : "",
                                t[i].name, t[i].dtype);
        for (int d = 0; d < t[i].ndim; d++) len += (size_t)snprintf(h + len, cap - len, d ? ",%lld" : "%lld", t[i].shape[d]);
        len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%zu,%zu]}", off, off + t[i].nbytes);
        off += t[i].nbytes;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8) h[len++] = ' ';
    FILE *f = fopen(path, "wb");
    if (!f) { free(h); return -1; }
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)((unsigned long long)len >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(h, 1, len, f);
    for (int i = 0; i < n; i++) fwrite(t[i].data, 1, t[i].nbytes, f);
    free(h);
    return fclose(f);
}

/* All tensors of the source file, as F32 copies we can edit. */
static out_tensor *copy_all(int *n) {
    *n = (int)rn_st_count(src);
    out_tensor *t = calloc((size_t)*n, sizeof *t);
    for (int i = 0; i < *n; i++) {
        const rn_tensor *s = rn_st_tensor(src, (size_t)i);
        snprintf(t[i].name, sizeof t[i].name, "%s", s->name);
        t[i].dtype = "F32";
        t[i].ndim = s->ndim;
        for (int d = 0; d < s->ndim; d++) t[i].shape[d] = s->shape[d];
        t[i].data = s->data;
        t[i].nbytes = s->nbytes;
    }
    return t;
}

static int find(out_tensor *t, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0) return i;
    return -1;
}

static const char *meta = "{\"arch\":\"resnet50\",\"variant\":\"v1\",\"normalization\":\"caffe\",\"bn_eps\":\"0.001\"}";

/* Loads path; expects failure whose message contains every one of the words. */
static void expect_fail(const char *what, const char *path, const char *w1, const char *w2) {
    resnet_model *m = NULL;
    resnet_error err = {0, ""};
    resnet_status st = resnet_model_load(path, NULL, &m, &err);
    CHECK(st != RESNET_OK, "%s: loaded", what);
    CHECK(strstr(err.message, path) != NULL, "%s: message '%s' does not name the file", what, err.message);
    CHECK(!w1 || strstr(err.message, w1), "%s: message '%s' lacks '%s'", what, err.message, w1);
    CHECK(!w2 || strstr(err.message, w2), "%s: message '%s' lacks '%s'", what, err.message, w2);
    CHECK(strchr(err.message, '\n') == NULL, "%s: message is one line", what);
    printf("     %-22s -> %s\n", what, err.message);
    resnet_model_free(m);
    unlink(path);
}

static void test_broken_files(void) {
    char path[512];
    int n;
    out_tensor *t = copy_all(&n);

    snprintf(path, sizeof path, "%s/missing.safetensors", tmpdir);
    int i = find(t, n, "layer3.2.bn2.running_var");
    out_tensor saved = t[i];
    t[i] = t[n - 1];
    write_st(path, t, n - 1, meta);
    t[i] = saved;
    expect_fail("missing tensor", path, "layer3.2.bn2.running_var", "missing");

    snprintf(path, sizeof path, "%s/shape.safetensors", tmpdir);
    i = find(t, n, "layer1.0.conv2.weight"); /* 64x64x3x3 -> claim 64x576x1x1: same bytes, wrong shape */
    t[i].shape[1] = 576; t[i].shape[2] = 1; t[i].shape[3] = 1;
    write_st(path, t, n, meta);
    t[i].shape[1] = 64; t[i].shape[2] = 3; t[i].shape[3] = 3;
    expect_fail("wrong shape", path, "layer1.0.conv2.weight", "shape");

    snprintf(path, sizeof path, "%s/dtype.safetensors", tmpdir);
    i = find(t, n, "fc.bias");
    t[i].dtype = "I32";
    write_st(path, t, n, meta);
    t[i].dtype = "F32";
    expect_fail("wrong dtype", path, "fc.bias", "I32");

    snprintf(path, sizeof path, "%s/nan.safetensors", tmpdir);
    i = find(t, n, "fc.bias");
    float *nan_bias = malloc(t[i].nbytes);
    memcpy(nan_bias, t[i].data, t[i].nbytes);
    nan_bias[7] = NAN;
    const void *keep = t[i].data;
    t[i].data = nan_bias;
    write_st(path, t, n, meta);
    t[i].data = keep;
    free(nan_bias);
    expect_fail("non-finite value", path, "fc.bias", "finite");

    /* a variance of -eps: PyTorch adds them in float, divides by zero and answers NaN; in double
     * the sum is 2.5e-13 (float's 1e-5 is below 1e-5), a scale of 2e6, logits of 1e5 */
    snprintf(path, sizeof path, "%s/minus-eps.safetensors", tmpdir);
    i = find(t, n, "layer2.0.bn1.running_var");
    float *var = malloc(t[i].nbytes);
    memcpy(var, t[i].data, t[i].nbytes);
    var[3] = -1e-5f;
    keep = t[i].data;
    t[i].data = var;
    write_st(path, t, n, "{\"variant\":\"v1\",\"normalization\":\"caffe\",\"bn_eps\":\"1e-05\"}");
    t[i].data = keep;
    free(var);
    expect_fail("a variance of minus the epsilon", path, "layer2.0.bn1.running_var", "negative at 3");

    snprintf(path, sizeof path, "%s/variant.safetensors", tmpdir);
    write_st(path, t, n, "{\"variant\":\"v2\"}");
    expect_fail("unknown variant", path, "variant", "v2");

    /* size and stride metadata: plain whole numbers in range, strides 8, 16 or 32 only */
    static const struct {
        const char *meta, *word;
    } bad_meta[] = {
        {"{\"output_stride\":\"7\"}", "output_stride"},  {"{\"output_stride\":\"12\"}", "output_stride"},
        {"{\"output_stride\":\"16 \"}", "output_stride"}, {"{\"output_stride\":\"\"}", "output_stride"},
        {"{\"input_size\":\" 64\"}", "input_size"},       {"{\"input_size\":\"+64\"}", "input_size"},
        {"{\"input_size\":\"99999999999999999999\"}", "input_size"}, {"{\"input_size\":\"31\"}", "input_size"},
    };
    for (size_t k = 0; k < sizeof bad_meta / sizeof *bad_meta; k++) {
        snprintf(path, sizeof path, "%s/meta%zu.safetensors", tmpdir, k);
        write_st(path, t, n, bad_meta[k].meta);
        expect_fail(bad_meta[k].meta, path, "metadata", bad_meta[k].word);
    }
    /* a dilated network's file says so; the loader takes it, a caller's choice wins over it */
    snprintf(path, sizeof path, "%s/os16.safetensors", tmpdir);
    write_st(path, t, n, "{\"output_stride\":\"16\"}");
    for (int given = 0; given <= 8; given += 8) {
        resnet_model *m = NULL;
        resnet_error err = {0, ""};
        resnet_load_options o;
        resnet_load_options_init(&o);
        o.output_stride = given;
        resnet_info info = {0};
        if (resnet_model_load(path, &o, &m, &err) == RESNET_OK) resnet_model_info(m, &info);
        CHECK(info.output_stride == (given ? given : 16),
              "metadata output_stride 16, option %d: loaded at %d (%s)", given, info.output_stride, err.message);
        resnet_model_free(m);
    }
    /* only 0 means "the file's": a negative size or stride is refused, not taken for 0 */
    for (int field = 0; field < 2; field++) {
        resnet_model *m = NULL;
        resnet_error err = {0, ""};
        resnet_load_options o;
        resnet_load_options_init(&o);
        if (field) o.output_stride = -16;
        else o.input_size = -224;
        CHECK(resnet_model_load(path, &o, &m, &err) == RESNET_E_ARG && !m &&
                  strstr(err.message, field ? "output stride" : "input size") &&
                  strstr(err.message, field ? "-16" : "-224"),
              "a negative %s: %s", field ? "output_stride" : "input_size", err.message);
        resnet_model_free(m);
    }
    unlink(path);

    /* a whole file cut short: the data block ends early */
    snprintf(path, sizeof path, "%s/truncated.safetensors", tmpdir);
    write_st(path, t, n, meta);
    CHECK(truncate(path, 50000000) == 0, "truncate");
    expect_fail("truncated file", path, NULL, NULL);

    snprintf(path, sizeof path, "%s/header.safetensors", tmpdir);
    FILE *f = fopen(path, "wb");
    fwrite("\x10\0\0\0\0\0\0\0{\"fc.bias\": nope}", 1, 24, f);
    fclose(f);
    expect_fail("malformed header", path, NULL, NULL);

    snprintf(path, sizeof path, "%s/empty.safetensors", tmpdir);
    fclose(fopen(path, "wb"));
    expect_fail("empty file", path, NULL, NULL);

    snprintf(path, sizeof path, "%s/none.safetensors", tmpdir);
    expect_fail("missing file", path, NULL, NULL);
    free(t);
}

/* The metadata's precision and the tensors' dtypes disagree: refused with one line naming
 * both, where the file used to load as the metadata said (bf16 weights run as an fp32 file,
 * fp32 ones as a bf16 file). The same tensors without a precision key still load. */
static void test_precision_contradicted(void) {
    char path[512];
    int n;
    out_tensor *t = copy_all(&n);
    const int i = find(t, n, "layer1.0.conv2.weight");
    const size_t count = t[i].nbytes / 4;
    const float *f = t[i].data;
    uint16_t *bf = malloc(count * 2);
    int8_t *q = malloc(count);
    for (size_t k = 0; k < count; k++) {
        uint32_t b;
        memcpy(&b, &f[k], 4);
        bf[k] = (uint16_t)(b >> 16); /* host order: the tests run on little-endian hosts */
        q[k] = (int8_t)(k % 7);
    }
    const out_tensor saved = t[i];
    static const char *const m_fp32 = "{\"variant\":\"v1\",\"normalization\":\"caffe\",\"bn_eps\":\"0.001\","
                                      "\"precision\":\"fp32\"}";
    static const char *const m_bf16 = "{\"variant\":\"v1\",\"normalization\":\"caffe\",\"bn_eps\":\"0.001\","
                                      "\"precision\":\"bf16\"}";
    static const char *const m_int8 = "{\"variant\":\"v1\",\"normalization\":\"caffe\",\"bn_eps\":\"0.001\","
                                      "\"precision\":\"int8\"}";

    t[i].dtype = "BF16", t[i].data = bf, t[i].nbytes = count * 2;
    snprintf(path, sizeof path, "%s/fp32-says-bf16.safetensors", tmpdir);
    write_st(path, t, n, m_fp32);
    expect_fail("fp32 metadata, a BF16 weight", path, "metadata precision is 'fp32', but tensor 'layer1.0.conv2.weight'",
                "is BF16");
    snprintf(path, sizeof path, "%s/int8-says-bf16.safetensors", tmpdir);
    write_st(path, t, n, m_int8);
    expect_fail("int8 metadata, a BF16 weight", path, "metadata precision is 'int8', but tensor 'layer1.0.conv2.weight'",
                "is BF16");
    /* no precision key: nothing contradicted, the BF16 weight is read as the floats it holds */
    snprintf(path, sizeof path, "%s/no-precision.safetensors", tmpdir);
    write_st(path, t, n, meta);
    resnet_model *m = NULL;
    resnet_error err = {0, ""};
    CHECK(resnet_model_load(path, NULL, &m, &err) == RESNET_OK, "a BF16 weight, no precision key: %s", err.message);
    resnet_model_free(m);
    unlink(path);

    t[i].dtype = "I8", t[i].data = q, t[i].nbytes = count;
    snprintf(path, sizeof path, "%s/fp32-says-i8.safetensors", tmpdir);
    write_st(path, t, n, m_fp32);
    expect_fail("fp32 metadata, an I8 weight", path, "metadata precision is 'fp32', but tensor 'layer1.0.conv2.weight'",
                "is I8");
    snprintf(path, sizeof path, "%s/bf16-says-i8.safetensors", tmpdir);
    write_st(path, t, n, m_bf16);
    expect_fail("bf16 metadata, F32 and I8 weights", path, "metadata precision is 'bf16', but tensor '", "is F32");

    t[i] = saved; /* every tensor F32 */
    snprintf(path, sizeof path, "%s/bf16-says-f32.safetensors", tmpdir);
    write_st(path, t, n, m_bf16);
    expect_fail("bf16 metadata, F32 weights", path, "metadata precision is 'bf16', but tensor '", "is F32");
    snprintf(path, sizeof path, "%s/int8-says-f32.safetensors", tmpdir);
    write_st(path, t, n, m_int8);
    expect_fail("int8 metadata, F32 weights", path, "metadata precision is 'int8', but no tensor is I8", "is F32");
    snprintf(path, sizeof path, "%s/fp32.safetensors", tmpdir); /* the control: what the metadata says */
    write_st(path, t, n, m_fp32);
    CHECK(resnet_model_load(path, NULL, &m, &err) == RESNET_OK, "fp32 metadata, F32 tensors: %s", err.message);
    resnet_model_free(m);
    unlink(path);
    free(bf);
    free(q);
    free(t);
}

/* The conv that a batch norm follows: bn1 -> conv1, layerX.Y.bnK -> layerX.Y.convK,
 * layerX.0.downsample.1 -> layerX.0.downsample.0. */
static void conv_of_bn(const char *bn, char *conv, size_t n) {
    size_t len = strlen(bn);
    if (strcmp(bn, "bn1") == 0) snprintf(conv, n, "conv1");
    else if (len > 2 && strcmp(bn + len - 2, ".1") == 0) snprintf(conv, n, "%.*s.0", (int)(len - 2), bn);
    else snprintf(conv, n, "%.*sconv%s", (int)(len - 3), bn, bn + len - 1);
}

static int is_conv_bias(const char *name) {
    size_t len = strlen(name);
    return len > 5 && strcmp(name + len - 5, ".bias") == 0 && strncmp(name, "fc.", 3) != 0 &&
           (strstr(name, "conv") || strstr(name, "downsample.0"));
}

/* torchvision's layout: conv bias folded into the BN mean (mean - bias), BN eps 1e-3 folded
 * into the variance (var + 1e-3 - 1e-5), no metadata, num_batches_tracked as I64 scalars. */
static void test_torchvision_layout(void) {
    char path[512];
    int n;
    out_tensor *t = copy_all(&n);
    out_tensor *o = calloc((size_t)n * 2, sizeof *o);
    float *owned[400];
    int no = 0, nowned = 0;
    static const long long tracked = 0;
    for (int i = 0; i < n; i++) {
        const char *name = t[i].name;
        if (is_conv_bias(name)) continue;
        o[no] = t[i];
        const char *suffix = strrchr(name, '.');
        int is_mean = strcmp(suffix, ".running_mean") == 0, is_var = strcmp(suffix, ".running_var") == 0;
        if (is_mean || is_var) {
            char bn[128], conv[128], bias_name[160];
            snprintf(bn, sizeof bn, "%.*s", (int)(suffix - name), name);
            conv_of_bn(bn, conv, sizeof conv);
            snprintf(bias_name, sizeof bias_name, "%s.bias", conv);
            int bi = find(t, n, bias_name);
            CHECK(bi >= 0, "no conv bias %s for %s", bias_name, name);
            if (bi < 0) break;
            float *v = malloc(t[i].nbytes);
            const float *x = t[i].data, *b = t[bi].data;
            for (size_t k = 0; k < t[i].nbytes / 4; k++)
                v[k] = is_mean ? x[k] - b[k] : (float)((double)x[k] + 1e-3 - 1e-5);
            o[no].data = v;
            owned[nowned++] = v;
            if (is_var) {
                no++;
                snprintf(o[no].name, sizeof o[no].name, "%s.num_batches_tracked", bn);
                o[no].dtype = "I64";
                o[no].data = &tracked;
                o[no].nbytes = 8;
            }
        }
        no++;
    }
    snprintf(path, sizeof path, "%s/torchvision.safetensors", tmpdir);
    write_st(path, o, no, "{\"format\":\"pt\"}");
    resnet_model *m = NULL;
    resnet_error err;
    CHECK(resnet_model_load(path, NULL, &m, &err) == RESNET_OK, "torchvision layout: %s", err.message);
    if (m) {
        CHECK(resnet_model_variant(m) == RESNET_V1_5 && resnet_model_norm(m) == RESNET_NORM_TORCH,
              "torchvision layout read as v1.5 + torch");
        resnet_session *s;
        float input[3 * 224 * 224], logits[1000];
        /* PyTorch's logits for the demo photo (tools/make-golden.py) */
        const char *img = "demo/chelsea.png", *ref_path = "tests/data/golden/chelsea.png.v1.5-torch.logits.f32";
        size_t size;
        float *ref = (float *)tu_read_file(ref_path, &size);
        CHECK(ref && size == 4000, "read %s", ref_path);
        if (ref && resnet_session_create(m, 2, 1, &s, &err) == RESNET_OK) {
            CHECK(resnet_preprocess_file(img, RESNET_NORM_TORCH, input, &err) == RESNET_OK, "%s", err.message);
            CHECK(resnet_forward(s, input, 1, logits, NULL, &err) == RESNET_OK, "%s", err.message);
            double d = 0;
            for (int i = 0; i < 1000; i++) d = fmax(d, fabs(logits[i] - ref[i]));
            printf("     torchvision layout, v1.5-torch logits max |diff| %.2e\n", d);
            CHECK(d <= 1e-3, "torchvision layout logits differ by %.3g", d);
            resnet_session_free(s);
        }
        free(ref);
        resnet_model_free(m);
        /* converted to bf16 (the I64 counters are not weights: left out), it loads as bf16 */
        char bf[600];
        snprintf(bf, sizeof bf, "%s/torchvision-bf16.safetensors", tmpdir);
        CHECK(resnet_convert_weights(path, bf, RESNET_PRECISION_BF16, &err) == RESNET_OK,
              "convert the torchvision layout to bf16: %s", err.message);
        m = NULL;
        CHECK(resnet_model_load(bf, NULL, &m, &err) == RESNET_OK && resnet_model_precision(m) == RESNET_PRECISION_BF16,
              "the converted torchvision layout does not load as bf16: %s", err.message);
        resnet_model_free(m);
        unlink(bf);
    }
    unlink(path);
    for (int i = 0; i < nowned; i++) free(owned[i]);
    free(o);
    free(t);
}

/* A file whose metadata has more keys than a fixed array once held (convert kept 31,
 * label 64): every key reaches the copy, output_stride and input_size, written last, too;
 * dropped, the copy would load as another network without a word. */
static void test_many_metadata(void) {
    int n;
    out_tensor *t = copy_all(&n);
    char json[4096];
    size_t len = (size_t)snprintf(json, sizeof json, "{\"variant\":\"v1\",\"normalization\":\"caffe\"");
    for (int i = 0; i < 80; i++) len += (size_t)snprintf(json + len, sizeof json - len, ",\"note%02d\":\"x\"", i);
    snprintf(json + len, sizeof json - len, ",\"input_size\":\"160\",\"output_stride\":\"16\"}");
    char path[600], bf[600], named[600], labels[600];
    snprintf(path, sizeof path, "%s/many-metadata.safetensors", tmpdir);
    snprintf(bf, sizeof bf, "%s/many-metadata-bf16.safetensors", tmpdir);
    snprintf(named, sizeof named, "%s/many-metadata-named.safetensors", tmpdir);
    snprintf(labels, sizeof labels, "%s/names.txt", tmpdir);
    CHECK(write_st(path, t, n, json) == 0, "write %s", path);
    FILE *f = fopen(labels, "w");
    for (int i = 0; f && i < 1000; i++) fprintf(f, "name %d\n", i);
    if (f) fclose(f);
    resnet_error err;
    CHECK(resnet_convert_weights(path, bf, RESNET_PRECISION_BF16, &err) == RESNET_OK, "convert: %s", err.message);
    CHECK(resnet_label_file(path, labels, named, &err) == RESNET_OK, "label: %s", err.message);
    /* onto the names it reads: refused, the names file left as it was (it became the weights) */
    size_t lsize = 0, lsize2 = 0;
    unsigned char *lb = tu_read_file(labels, &lsize);
    resnet_status ls = resnet_label_file(path, labels, labels, &err);
    CHECK(ls == RESNET_E_ARG && strstr(err.message, "the labels file being read"), "label onto its names: %d %s", ls,
          ls ? err.message : "");
    unsigned char *lb2 = tu_read_file(labels, &lsize2);
    CHECK(lb && lb2 && lsize == lsize2 && memcmp(lb, lb2, lsize) == 0, "label onto its names: the names file changed");
    free(lb);
    free(lb2);
    const char *outs[2] = {bf, named};
    for (int k = 0; k < 2; k++) {
        resnet_model *m = NULL;
        resnet_info info;
        CHECK(resnet_model_load(outs[k], NULL, &m, &err) == RESNET_OK, "load %s: %s", outs[k], err.message);
        if (m) resnet_model_info(m, &info);
        if (m)
            CHECK(info.output_stride == 16 && info.input_size == 160,
                  "%s: output stride %d, input size %d: the metadata past the first keys was dropped", outs[k],
                  info.output_stride, info.input_size);
        resnet_model_free(m);
        rn_safetensors *st = NULL;
        CHECK(rn_st_open(outs[k], &st, &err) == RESNET_OK, "%s", err.message);
        CHECK(st && rn_st_metadata(st, "note79") != NULL, "%s: the last note is gone", outs[k]);
        rn_st_close(st);
        unlink(outs[k]);
    }
    /* a name that is not UTF-8: refused naming the names file (the output's metadata was
     * blamed), nothing written */
    f = fopen(labels, "w");
    for (int i = 0; f && i < 1000; i++) fprintf(f, i == 7 ? "caf\xe9\n" : "name %d\n", i);
    if (f) fclose(f);
    CHECK(resnet_label_file(path, labels, named, &err) != RESNET_OK && strstr(err.message, labels) &&
              strstr(err.message, "line 8") && strstr(err.message, "UTF-8"),
          "label with a latin-1 name: %s", err.message);
    CHECK(access(named, F_OK) != 0, "label with a latin-1 name: something written");
    unlink(labels);
    unlink(path);
    free(t);
}

int main(void) {
    const char *path = getenv("RESNET_TEST_V1_CAFFE");
    resnet_error err;
    if (!path || rn_st_open(path, &src, &err) != RESNET_OK) {
        printf("cannot open RESNET_TEST_V1_CAFFE (%s): run through tests/run.sh\n0 passed, 1 failed\n",
               path ? err.message : "unset");
        return 1;
    }
    snprintf(tmpdir, sizeof tmpdir, "%s/resnet-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    RUN(test_broken_files);
    RUN(test_precision_contradicted);
    RUN(test_torchvision_layout);
    RUN(test_many_metadata);
    rmdir(tmpdir);
    rn_st_close(src);
    return TEST_DONE();
}
