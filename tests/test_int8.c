/* test_int8.c - the int8 model end to end, on the project's own demo photos (no ../shared):
 * quantization is deterministic, the int8 network agrees with fp32, every int8 kernel path
 * (AMX-INT8 on emulated tiles too) gives the same logits bit for bit, and a damaged int8 file is refused with one line that
 * names the file and the tensor. Weights: $RESNET_TEST_V1_CAFFE (tests/run.sh). */
#include <math.h>

#include "common.h"
#include "io/safetensors.h"
#include "io/sha256.h"
#include "model/quantize.h"
#include "model/resnet50.h"
#include "ops/exec.h"
#include "ops/layout.h"
#include "ops/qconv.h"
#include "ops/qwinograd.h"
#include "testutil.h"

static const char *photos[] = {"demo/chelsea.png", "demo/coffee.png"};
enum { N_PHOTOS = 2 };
/* The bound on |int8 logit - fp32 logit| on the demo photos: 0.34 (chelsea) and 0.62 (coffee)
 * measured on AVX2 (conv3's and layer4's conv2's inputs in 7 bits, the fc in int8; 0.33 and
 * 0.53 with 8-bit activations and the fc in fp32), MSE calibration on the two photos
 * themselves; the logits span about 40. */
#define LOGIT_BOUND 1.0f

static char dir[] = "/tmp/rn_int8_XXXXXX";
static float input[N_PHOTOS][3 * RESNET_INPUT_SIZE * RESNET_INPUT_SIZE];

static const char *fp32_path(void) {
    const char *w = getenv("RESNET_TEST_V1_CAFFE");
    return w ? w : "";
}

static char *tmp_path(const char *name) {
    static char buf[8][256];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

/* Calibrates on the demo photos with `threads` workers and writes out. */
static int make_int8(const char *out, int threads, rn_calib_method method) {
    resnet_model *m = NULL;
    resnet_session *s = NULL;
    rn_calib *c = NULL;
    resnet_error err;
    float logits[RESNET_NUM_CLASSES];
    int ok = resnet_model_load(fp32_path(), NULL, &m, &err) == RESNET_OK &&
             rn_calib_create(m, &c, &err) == RESNET_OK &&
             resnet_session_create(m, threads, 1, &s, &err) == RESNET_OK;
    if (ok) rn_calib_attach(c, s);
    for (int i = 0; ok && i < N_PHOTOS; i++) ok = resnet_forward(s, input[i], 1, logits, NULL, &err) == RESNET_OK;
    ok = ok && rn_quantize_write(c, fp32_path(), out, method, N_PHOTOS, &err) == RESNET_OK;
    if (!ok) fprintf(stderr, "  make_int8: %s\n", err.message);
    rn_calib_free(c);
    resnet_session_free(s);
    resnet_model_free(m);
    return ok;
}

static int same_bytes(const char *a, const char *b) {
    size_t na, nb;
    unsigned char *x = tu_read_file(a, &na), *y = tu_read_file(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static void test_sha256(void) {
    static const struct { const char *msg, *hex; } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        const char *p = tmp_path("sha.txt");
        FILE *f = fopen(p, "wb");
        fputs(v[i].msg, f);
        fclose(f);
        char hex[65];
        resnet_error err;
        CHECK(rn_sha256_file(p, hex, &err) == RESNET_OK && strcmp(hex, v[i].hex) == 0, "sha256('%s') = %s",
              v[i].msg, hex);
    }
}

static void test_quantize_deterministic(void) {
    const char *a = tmp_path("a.safetensors"), *b = tmp_path("b.safetensors");
    CHECK(make_int8(a, 1, RN_CALIB_MSE), "first quantization");
    CHECK(make_int8(b, 2, RN_CALIB_MSE), "second quantization (2 threads)");
    CHECK(same_bytes(a, b), "two quantizations of the same photos differ");
    /* another calibration of the same source has the source's biases but other activation
     * scales: its fingerprint (the feature cache's and train-head's key) must differ too */
    const char *mm = tmp_path("minmax.safetensors");
    CHECK(make_int8(mm, 1, RN_CALIB_MINMAX), "minmax quantization");
    resnet_model *qa = NULL, *qb = NULL, *qm = NULL;
    resnet_error lerr;
    if (resnet_model_load(a, NULL, &qa, &lerr) == RESNET_OK && resnet_model_load(b, NULL, &qb, &lerr) == RESNET_OK &&
        resnet_model_load(mm, NULL, &qm, &lerr) == RESNET_OK) {
        CHECK(resnet_model_fingerprint(qa) == resnet_model_fingerprint(qb), "one calibration, two fingerprints");
        CHECK(resnet_model_fingerprint(qa) != resnet_model_fingerprint(qm),
              "int8 files of one source calibrated by mse and by minmax share a fingerprint %016llx",
              resnet_model_fingerprint(qa));
    } else {
        CHECK(0, "load: %s", lerr.message);
    }
    resnet_model_free(qa);
    resnet_model_free(qb);
    resnet_model_free(qm);
    rn_safetensors *st;
    resnet_error err;
    char sha[65];
    CHECK(rn_sha256_file(fp32_path(), sha, &err) == RESNET_OK, "%s", err.message);
    if (rn_st_open(a, &st, &err) != RESNET_OK) {
        CHECK(0, "%s", err.message);
        return;
    }
    const char *v;
    CHECK((v = rn_st_metadata(st, "precision")) && strcmp(v, "int8") == 0, "precision");
    CHECK((v = rn_st_metadata(st, "calibration")) && strcmp(v, "mse") == 0, "calibration");
    CHECK((v = rn_st_metadata(st, "calibration_photos")) && strcmp(v, "2") == 0, "calibration_photos");
    CHECK((v = rn_st_metadata(st, "source_sha256")) && strcmp(v, sha) == 0, "source_sha256");
    CHECK((v = rn_st_metadata(st, "variant")) && strcmp(v, "v1") == 0, "the source's variant kept");
    CHECK((v = rn_st_metadata(st, "normalization")) && strcmp(v, "caffe") == 0, "the source's normalization");
    const rn_tensor *t = rn_st_find(st, "layer3.2.conv2.weight");
    CHECK(t && t->dtype == RN_DT_I8 && t->ndim == 4 && t->shape[0] == 256 && t->shape[1] == 256, "I8 weights");
    t = rn_st_find(st, "fc.weight");
    CHECK(t && t->dtype == RN_DT_F32, "fc kept in F32");
    rn_st_close(st);
}

#if defined(RN_HAVE_X86)
/* Built only for the tests (Makefile): AMX-INT8 on tests/amx_emulation.h's tiles. */
void rn_qs8_gemm_32x32__amx_emulated(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c,
                                     size_t ldc, const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags);
void rn_quantize_planes__avx512_emulated(const float *src, size_t plane, int c, int n, float scale, float zero,
                                         uint8_t *dst);
static const rn_qkernel_config amx_emulated = {RN_QPATH_AMX, "amx-int8 (emulated)", 32, 32, -128, 127,
                                               rn_qs8_gemm_32x32__amx_emulated, NULL, NULL, NULL, NULL, NULL,
                                               rn_quantize_planes__c, NULL, NULL, 0};
/* The AVX-512 VNNI path's integer Winograd (8-row GEMM) on stand-ins, beside the portable
 * direct kernel: the driver with its rows on any CPU. */
void rn_qs16_gemm_8x32__avx512vnni_emulated(int mr, int kc, const int16_t *a, size_t lda, const int16_t *b, int32_t *m);
void rn_qwino_in_5x5__avx512vnni_emulated(const uint8_t *const *d, int cin, int16_t *v, size_t step);
void rn_qwino_out_3x3__avx512vnni_emulated(const int32_t *m, size_t ldm, const float *scale, const float *bias,
                                           const rn_qgemm_params *p, uint8_t *const *out);
static const rn_qkernel_config vnni_wino_emulated = {RN_QPATH_C, "c, avx512vnni Winograd (emulated)", 4, 8, -128, 127,
                                                     rn_qs8_gemm_4x8__c, NULL, rn_qs16_gemm_8x32__avx512vnni_emulated,
                                                     NULL, NULL, NULL, rn_quantize_planes__c,
                                                     rn_qwino_in_5x5__avx512vnni_emulated,
                                                     rn_qwino_out_3x3__avx512vnni_emulated, 8};
#endif

static int run_model(const char *path, const rn_qkernel_config *qk, float logits[N_PHOTOS][RESNET_NUM_CLASSES],
                     resnet_precision *prec) {
    resnet_model *m = NULL;
    resnet_session *s = NULL;
    resnet_error err;
    int ok = rn_model_load_kcq(path, rn_kernels_select(RESNET_KERNELS_AUTO), qk, 0, &m, &err) == RESNET_OK &&
             resnet_session_create(m, 2, 1, &s, &err) == RESNET_OK;
    for (int i = 0; ok && i < N_PHOTOS; i++) ok = resnet_forward(s, input[i], 1, logits[i], NULL, &err) == RESNET_OK;
    if (!ok) fprintf(stderr, "  %s: %s\n", path, err.message);
    if (ok && prec) *prec = resnet_model_precision(m);
    resnet_session_free(s);
    resnet_model_free(m);
    return ok;
}

static int argmax(const float *v) {
    int best = 0;
    for (int i = 1; i < RESNET_NUM_CLASSES; i++) best = v[i] > v[best] ? i : best;
    return best;
}

static void test_int8_agrees_with_fp32(void) {
    static float f[N_PHOTOS][RESNET_NUM_CLASSES], q[N_PHOTOS][RESNET_NUM_CLASSES];
    resnet_precision pf = -1, pq = -1;
    const char *a = tmp_path("a.safetensors");
    if (!run_model(fp32_path(), NULL, f, &pf) || !run_model(a, NULL, q, &pq)) {
        CHECK(0, "could not run the models");
        return;
    }
    CHECK(pf == RESNET_PRECISION_FP32 && pq == RESNET_PRECISION_INT8, "resnet_model_precision: %d %d", pf, pq);
    for (int i = 0; i < N_PHOTOS; i++) {
        float most = 0;
        for (int c = 0; c < RESNET_NUM_CLASSES; c++) most = fmaxf(most, fabsf(f[i][c] - q[i][c]));
        printf("     %s: top-1 fp32 %d int8 %d, max |logit difference| %.3f\n", photos[i], argmax(f[i]),
               argmax(q[i]), most);
        CHECK(argmax(f[i]) == argmax(q[i]), "%s: top-1 %d (fp32) vs %d (int8)", photos[i], argmax(f[i]),
              argmax(q[i]));
        CHECK(most <= LOGIT_BOUND, "%s: logits differ by %g", photos[i], most);
    }
}

/* Every int8 path this CPU has computes the same float operations in its store: the same
 * logits to the bit. The reference is the C path with the same activations: a path with a
 * gemm7 kernel (AVX2) keeps some in 7 bits (weights.c), which the C kernel computes exactly
 * as well. */
static void test_int8_paths_identical(void) {
    static float ref8[N_PHOTOS][RESNET_NUM_CLASSES], ref7[N_PHOTOS][RESNET_NUM_CLASSES],
        got[N_PHOTOS][RESNET_NUM_CLASSES];
    const char *a = tmp_path("a.safetensors");
    rn_qkernel_config c7 = *rn_qkernels_select(RN_QPATH_C);
    c7.gemm7 = c7.gemm;
    if (!run_model(a, rn_qkernels_select(RN_QPATH_C), ref8, NULL) || !run_model(a, &c7, ref7, NULL)) {
        CHECK(0, "C path");
        return;
    }
    CHECK(memcmp(ref8, ref7, sizeof ref8) != 0, "7-bit activations changed no logit");
    const rn_qpath paths[] = {RN_QPATH_AVX2, RN_QPATH_AVXVNNI, RN_QPATH_AVX512VNNI, RN_QPATH_AMX};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        const rn_qkernel_config *qk = rn_qkernels_select(paths[i]);
        if (!qk) {
            printf("     %s: not on this CPU (its kernel is tested emulated in test_qgemm)\n", rn_qpath_name(paths[i]));
            continue;
        }
        CHECK(run_model(a, qk, got, NULL) && memcmp(qk->gemm7 ? ref7 : ref8, got, sizeof got) == 0,
              "%s logits differ from C's (with %s-bit activations)", qk->name, qk->gemm7 ? "7" : "8");
    }
#if defined(RN_HAVE_X86)
    /* and AMX-INT8 on the emulated tiles, the whole network (a few seconds of plain C) */
    CHECK(run_model(a, &amx_emulated, got, NULL) && memcmp(ref8, got, sizeof got) == 0,
          "%s logits differ from C's", amx_emulated.name);
#endif
}

/* ---- the int8 convolution driver against a naive integer convolution ----------------------
 * Odd sizes, stride 2, padding at every edge, a residual, u8 and f32 outputs, batch 2, on every
 * int8 path: the integer sums must be exact and the store the one-value requantization. */
static unsigned rnd_state = 12345;
static unsigned rnd(void) { return rnd_state = rnd_state * 1103515245u + 12345u, rnd_state >> 8; }

/* Set: the input bytes are 7-bit and the convolution says so (its gemm7 runs where the path has one). */
static int in7_case;
/* Set: the weights and inputs at their extremes (1: all the path's smallest weight against 255s;
 * 2: each its smallest or largest against 0 or 255), where a sum that passed int32 would show. */
static int extreme_case;
/* Set above 1: a grouped (ResNeXt) or dilated (a backbone's) convolution, rn_qconv_init_ex. */
static int groups_case = 1, dilation_case = 1;

static void check_qconv(const rn_qkernel_config *qk, rn_pool *pool, int n, int h, int w, int cin, int cout, int k,
                        int stride, int pad, int with_res, int out_f32, int zin) {
    const int taps = k * k, g = groups_case, d = dilation_case, cin_g = cin / g, cout_g = cout / g;
    int oh = (h + 2 * pad - d * (k - 1) - 1) / stride + 1, ow = (w + 2 * pad - d * (k - 1) - 1) / stride + 1;
    size_t nin = (size_t)n * h * w * cin, nout = (size_t)n * oh * ow * cout;
    uint8_t *in = malloc(nin), *res = malloc(nout);
    int8_t *wq = malloc((size_t)cout * taps * cin_g);
    float *scale = malloc(cout * sizeof(float)), *bias = malloc(cout * sizeof(float));
    unsigned char *got = malloc(nout * sizeof(float)), *want = malloc(nout * sizeof(float));
    for (size_t i = 0; i < nin; i++) in[i] = (uint8_t)rnd();
    for (size_t i = 0; i < nout; i++) res[i] = (uint8_t)rnd();
    for (size_t i = 0; i < (size_t)cout * taps * cin_g; i++) wq[i] = (int8_t)((int)(rnd() % 127) - 63);
    for (int o = 0; o < cout; o++) {
        scale[o] = (float)(rnd() % 1000 + 1) * 1e-6f;
        bias[o] = (float)((int)(rnd() % 200) - 100) * 0.37f;
    }
    if (extreme_case) { /* the path's extreme weights against 255s, or a mix of extremes */
        for (size_t i = 0; i < nin; i++) in[i] = extreme_case == 1 || rnd() % 2 ? 255 : 0;
        for (size_t i = 0; i < (size_t)cout * taps * cin_g; i++)
            wq[i] = (int8_t)(extreme_case == 1 || rnd() % 2 ? qk->wmin : qk->wmax);
        /* sums of up to 7.5e7 (C at 256 channels): at the smallest scale inside 0..255, where a
         * wrap of 36 times the sum (1.2e8 back in the sum) shows */
        for (int o = 0; o < cout; o++) {
            scale[o] = 1e-6f * (float)(o % 3 + 1);
            bias[o] = 150.0f;
        }
    }
    rn_qgemm_params p = {with_res ? 0.43f : 0.0f, out_f32 ? 0.0f : 3.0f, out_f32 ? INFINITY : 255.0f};
    rn_conv c;
    float *scratch[3] = {0}; /* a window convolution copies its edge rows there, Winograd its V and M */
    rn_exec ex = {.pool = pool, .scratch = scratch};
    if (in7_case)
        for (size_t i = 0; i < nin; i++) in[i] &= 127;
    int ok = rn_qconv_init_ex(&c, qk, cin, cout, k, k, stride, pad, d, g, zin, wq, scale, bias, bias, &p, out_f32,
                              in7_case) == 0;
    CHECK(ok, "%s: rn_qconv_init", qk->name);
    CHECK(!ok || c.winograd || c.q->gemm == (in7_case && qk->gemm7 ? qk->gemm7 : qk->gemm), "%s: the kernel for %s input",
          qk->name, in7_case ? "7-bit" : "8-bit");
    /* the integer Winograd takes every 3x3 it can on the paths that have it: it must be the
     * one tested here, not a silent fall back to direct */
    const int wino = g == 1 && d == 1 ? rn_qwino_applies(qk, cin, cout, k, stride, pad, zin, out_f32, &p) : 0;
    CHECK(!ok || c.winograd == wino, "%s: %dx%dx%d -> %d 3x3: Winograd %d, expected %d", qk->name, h, w, cin, cout,
          c.winograd, wino);
    if (ok) {
        /* exactly what the convolution asks for: ASan sees a task that writes past it */
        const size_t bytes = rn_conv_scratch_floats(rn_kernels_select(RESNET_KERNELS_C), &c) * sizeof(float);
        for (int i = 0; i < 3; i++) scratch[i] = rn_aligned_alloc(bytes);
        rn_qconv_forward(&ex, &c, in, n, h, w, got, with_res ? res : NULL);
        for (int b = 0; b < n; b++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    for (int o = 0; o < cout; o++) {
                        int32_t acc = 0;
                        for (int t = 0; t < taps; t++) {
                            int iy = oy * stride - pad + t / k * d, ix = ox * stride - pad + t % k * d;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue; /* padding: the zero point */
                            /* output o reads only its group's input channels */
                            const uint8_t *px = in + (((size_t)b * h + iy) * w + ix) * cin + (size_t)(o / cout_g) * cin_g;
                            const int8_t *wt = wq + ((size_t)o * taps + t) * cin_g;
                            for (int ci = 0; ci < cin_g; ci++) acc += (px[ci] - zin) * wt[ci];
                        }
                        size_t at = (((size_t)b * oh + oy) * ow + ox) * cout + o;
                        const uint8_t *r = with_res ? res + at : NULL;
                        if (out_f32) {
                            float v = rn_qrequant_f32(acc, scale[o], bias[o], r, &p);
                            memcpy(want + at * 4, &v, 4);
                        } else {
                            want[at] = rn_qrequant_u8(acc, scale[o], bias[o], r, &p);
                        }
                    }
        CHECK(memcmp(got, want, nout * (out_f32 ? 4 : 1)) == 0,
              "%s: %dx%d/%d pad %d dilation %d, %dx%dx%d -> %d in %d groups, batch %d%s%s, zero point %d differs from "
              "the naive loop", qk->name, k, k, stride, pad, d, h, w, cin, cout, g, n, with_res ? ", residual" : "",
              out_f32 ? ", f32 out" : "", zin);
        rn_conv_free(&c);
    }
    for (int i = 0; i < 3; i++) rn_aligned_free(scratch[i]);
    free(in); free(res); free(wq); free(scale); free(bias); free(got); free(want);
}

/* ---- the int8 fc: float rows quantized as they come ---------------------------------------
 * Against the same arithmetic written out (each row over [0, its largest] in 127 steps, exact
 * integer sums in 64 bits, back with the row's scale times the column's: bit-identical), and
 * against the float product it stands for (within the quantization's error). 8-bit weights
 * with -128 and 127 against rows at their largest (the AVX2 kernel's s16 pairs at their
 * extremes), odd column counts (padding to NR), one row and many (row blocks), an all-zero
 * row, on every path. */
static void check_qdense(const rn_qkernel_config *qk, rn_pool *pool, int rows, int cin, int cout) {
    float *in = malloc((size_t)rows * cin * sizeof(float)), *ws = malloc(cout * sizeof(float));
    float *bias = malloc(cout * sizeof(float));
    int8_t *wq = malloc((size_t)cout * cin);
    rn_conv c;
    int ok = in && ws && bias && wq;
    for (int r = 0; ok && r < rows; r++)
        for (int k = 0; k < cin; k++) /* mostly small, a few large: like pooled ReLU outputs */
            in[(size_t)r * cin + k] = r == 1 ? 0.0f : r == 2 ? 3.5f /* every value the largest */
                                      : (rnd() % 8 == 0 ? (float)(rnd() % 1000) * 0.01f : (float)(rnd() % 100) * 0.003f);
    for (int o = 0; ok && o < cout; o++) {
        ws[o] = (float)(rnd() % 1000 + 1) * 1e-5f;
        bias[o] = (float)((int)(rnd() % 200) - 100) * 0.01f;
        for (int k = 0; k < cin; k++)
            wq[(size_t)o * cin + k] = (int8_t)(o % 5 == 0 ? -128 : o % 5 == 1 ? 127 : (int)(rnd() % 256) - 128);
    }
    ok = ok && rn_qdense_init(&c, qk, cin, cout, wq, ws, bias) == 0;
    CHECK(ok, "%s: rn_qdense_init", qk->name);
    if (!ok) goto done;
    CHECK(c.cout == cout && c.n_padded % qk->nr == 0 && c.n_padded >= cout, "%s: fc shape %d/%d", qk->name, c.cout,
          c.n_padded);
    float *out = malloc((size_t)rows * c.n_padded * sizeof(float));
    void *qrows = malloc(rn_qdense_scratch_bytes(cin, rows));
    float *scratch[3];
    const size_t bytes = rn_conv_scratch_floats(rn_kernels_select(RESNET_KERNELS_C), &c) * sizeof(float);
    for (int i = 0; i < 3; i++) scratch[i] = rn_aligned_alloc(bytes);
    rn_exec ex = {.pool = pool, .scratch = scratch};
    rn_qdense_forward(&ex, &c, in, rows, out, qrows);
    int bad = 0, far = 0;
    for (int r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * cin;
        float most = 0.0f;
        for (int k = 0; k < cin; k++) most = fmaxf(most, x[k]);
        const float inv = most > 0.0f ? 127.0f / most : 0.0f, sa = most / 127.0f;
        for (int o = 0; o < c.n_padded; o++) {
            int64_t acc = 0;
            double exact = 0, mag = 0;
            for (int k = 0; o < cout && k < cin; k++) {
                const int w = wq[(size_t)o * cin + k];
                acc += (int64_t)rn_quantize_u8(x[k] * inv) * w;
                exact += (double)x[k] * w * ws[o];
                mag += fabs((double)w * ws[o]);
            }
            const float want = o < cout ? fmaf((float)acc, sa * ws[o], bias[o]) : 0.0f;
            const float got = out[(size_t)r * c.n_padded + o];
            bad += memcmp(&got, &want, sizeof got) != 0;
            /* each input off by at most half a step */
            if (o < cout) far += fabs(got - (exact + bias[o])) > mag * sa * 0.5 * 1.001 + 1e-4;
        }
    }
    CHECK(bad == 0 && far == 0, "%s: fc %d rows %d -> %d: %d outputs differ from the arithmetic, %d from the float product",
          qk->name, rows, cin, cout, bad, far);
    for (int i = 0; i < 3; i++) rn_aligned_free(scratch[i]);
    free(out);
    free(qrows);
    rn_conv_free(&c);
done:
    free(in); free(ws); free(bias); free(wq);
}

/* Every int8 path this CPU has, the emulated AMX one and VNNI Winograd, and copies of those with F(3x3)
 * Winograd kernels that lack them, so that F(2x2) runs on the shapes F(3x3) takes. */
static int driver_paths(const rn_qkernel_config **out) {
    const rn_qpath paths[] = {RN_QPATH_C, RN_QPATH_AVX2, RN_QPATH_AVXVNNI, RN_QPATH_AVX512VNNI, RN_QPATH_AMX};
    static rn_qkernel_config f2[2];
    static char names[2][48];
    int n = 0, n2 = 0;
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        const rn_qkernel_config *qk = rn_qkernels_select(paths[i]);
        if (!qk) continue;
        out[n++] = qk;
        if (qk->win3 && qk->win && n2 < 2) {
            f2[n2] = *qk;
            f2[n2].win3 = NULL;
            f2[n2].wout3 = NULL;
            snprintf(names[n2], sizeof names[n2], "%s (F(2x2) only)", qk->name);
            f2[n2].name = names[n2];
            out[n++] = &f2[n2++];
        }
    }
#if defined(RN_HAVE_X86)
    out[n++] = &amx_emulated;
    out[n++] = &vnni_wino_emulated;
#endif
    return n;
}

static void test_qdense(void) {
    rn_pool *pool = rn_pool_create(3);
    const rn_qkernel_config *qks[10];
    const int nq = driver_paths(qks);
    for (int i = 0; i < nq; i++) {
        const rn_qkernel_config *qk = qks[i];
        check_qdense(qk, pool, 1, 2048, 1000); /* the model's fc at batch 1 */
        check_qdense(qk, pool, 3, 64, 17);
        check_qdense(qk, pool, 150, 128, 40);  /* more rows than a block: several */
    }
    rn_pool_free(pool);
}

/* The one rounding of the quantizing ops against its definition: clamp to 0..255, then the
 * nearest integer, halves to even (nearbyintf in the default rounding mode), around every
 * half and integer, at both ends, for -0, infinities and huge values; a NaN gives 0 or 255. */
static void test_quantize_u8(void) {
    int bad = 0, checked = 0;
    for (int k = -3; k <= 258; k++)
        for (int half = 0; half < 2; half++) {
            float v = (float)k + (half ? 0.5f : 0.0f);
            float around[5] = {v, nextafterf(v, -INFINITY), nextafterf(v, INFINITY), -v, v / 3.0f};
            for (int i = 0; i < 5; i++) {
                const float x = around[i];
                const int want = x <= 0.0f ? 0 : x >= 255.0f ? 255 : (int)nearbyintf(x);
                bad += rn_quantize_u8(x) != want;
                checked++;
            }
        }
    const float ends[] = {-0.0f, 0.0f, -INFINITY, INFINITY, -1e30f, 1e30f, 4194304.5f, -4194304.5f, 255.49f};
    const int want_ends[] = {0, 0, 0, 255, 0, 255, 255, 0, 255};
    for (size_t i = 0; i < sizeof ends / sizeof *ends; i++, checked++) bad += rn_quantize_u8(ends[i]) != want_ends[i];
    const int nan = rn_quantize_u8(NAN);
    CHECK(bad == 0, "%d of %d values rounded otherwise than clamp-then-nearbyintf", bad, checked);
    CHECK(nan == 0 || nan == 255, "NaN quantized to %d", nan);
}

/* The int8 input: CHW floats -> NHWC bytes, byte for byte rn_quantize_u8(x / scale + zero)
 * with the pool splitting the rows, on values below 0, above 255 and on the halves, where
 * rounding to even decides, on NaN, infinities and -0, with every path's quantization (the
 * vector ones take 3 channels 16 pixels a step: widths around 16 and 32 leave them a
 * remainder or none; other channel counts go to the portable loop). */
static void check_input_u8(rn_quantize_planes_fn quantize, const char *name, rn_pool *pool, int n, int c, int h,
                           int w) {
    rn_exec ex = {.pool = pool};
    const size_t count = (size_t)n * c * h * w;
    float *in = malloc(count * sizeof *in);
    uint8_t *out = malloc(count);
    const float scale = 1.0823529f, specials[] = {NAN, -NAN, INFINITY, -INFINITY, -0.0f, 0.0f, 1e30f, -1e30f};
    const int zero = 114;
    uint32_t seed = 7 + (uint32_t)w;
    for (size_t i = 0; i < count; i++) {
        seed = seed * 1664525u + 1013904223u;
        const float r = (float)(seed >> 8) / (float)(1u << 24); /* 0..1 */
        switch (i % 5) {
        case 0: in[i] = (r - 0.5f) * 400.0f; break;                             /* clamped at both ends */
        case 1: in[i] = ((float)(int)(r * 200.0f) - 100.0f + 0.5f) * scale; break; /* halves, about */
        case 2: in[i] = (float)(int)(r * 255.0f - 114.0f) * scale; break;          /* on the grid */
        case 3: in[i] = i % 7 == 3 ? specials[i / 7 % 8] : r; break;
        default: in[i] = r * 20.0f - 10.0f; break;
        }
    }
    rn_chw_to_nhwc_u8(&ex, quantize, in, n, c, h, w, scale, zero, out);
    int bad = 0;
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    const float v = in[(((size_t)b * c + ch) * h + y) * w + x];
                    bad += out[(((size_t)b * h + y) * w + x) * c + ch] != rn_quantize_u8(v / scale + (float)zero);
                }
    CHECK(bad == 0, "%s: %d of %zu bytes differ from rn_quantize_u8 (%d x %d x %d x %d)", name, bad, count, n, c, h, w);
    free(in);
    free(out);
}

static void test_input_u8(void) {
    rn_pool *pool = rn_pool_create(2);
    const rn_qkernel_config *qks[10];
    const int nq = driver_paths(qks);
    const int widths[] = {1, 15, 16, 17, 31, 32, 33, 131, 224};
    for (int i = 0; i < nq; i++)
        for (size_t k = 0; k < sizeof widths / sizeof *widths; k++)
            for (int c = 1; c <= 4; c++) /* 3: the vector loops; the others: theirs to refuse */
                check_input_u8(qks[i]->quantize, qks[i]->name, pool, 2, c, 5, widths[k]);
    check_input_u8(NULL, "NULL (portable)", pool, 2, 4, 3, 37);
#if defined(RN_HAVE_X86)
    if (rn_qkernels_select(RN_QPATH_AVX2)) /* the stand-ins' shuffles are SSSE3's, which every AVX2 CPU has */
        for (size_t k = 0; k < sizeof widths / sizeof *widths; k++)
            for (int c = 1; c <= 4; c++)
                check_input_u8(rn_quantize_planes__avx512_emulated, "avx512 quantization (emulated)", pool, 2, c, 5,
                               widths[k]);
#endif
    rn_pool_free(pool);
}

static void test_qconv_driver(void) {
    rn_pool *pool = rn_pool_create(3);
    const rn_qkernel_config *qks[10];
    const int nq = driver_paths(qks);
    for (int i = 0; i < nq; i++) {
        const rn_qkernel_config *qk = qks[i];
        check_qconv(qk, pool, 2, 7, 9, 8, 32, 3, 2, 1, 0, 0, 0);   /* v1.5's strided 3x3, odd map */
        check_qconv(qk, pool, 1, 5, 5, 12, 64, 3, 1, 1, 1, 0, 0);  /* padding on every side, residual */
        check_qconv(qk, pool, 2, 9, 7, 16, 32, 1, 2, 0, 0, 1, 0);  /* strided 1x1 (downsample), f32 out */
        check_qconv(qk, pool, 3, 14, 13, 64, 96, 1, 1, 0, 1, 1, 0); /* many row blocks, residual, f32 */
        check_qconv(qk, pool, 1, 3, 3, 4, 32, 3, 1, 1, 0, 0, 0);    /* every row sees padding */
        /* window rows as taps (cin % 4 != 0) with an input zero point: the int8 stem's 7x7/2 on
         * 3 channels; a wider map, where most windows read in place, 3 bytes of the next pixel
         * under the zero weights past 21, and (an even width: the windows start at odd x) the
         * last window's 21 bytes end the row, so its 24 must be copied (a read past the
         * input: ASan); a 3x3 on 5 channels with a residual and floats out; a grey 5x5 (8
         * bytes deep, wider than the 5-byte row: every window copied); 6 channels, /2; a grey
         * 16x16, the most taps */
        check_qconv(qk, pool, 2, 23, 21, 3, 64, 7, 2, 3, 0, 0, 115);
        check_qconv(qk, pool, 1, 40, 44, 3, 32, 7, 2, 3, 0, 0, 200);
        check_qconv(qk, pool, 1, 9, 11, 5, 32, 3, 1, 1, 1, 1, 7);
        check_qconv(qk, pool, 2, 6, 5, 1, 32, 5, 1, 2, 1, 0, 9);
        check_qconv(qk, pool, 1, 17, 16, 6, 64, 3, 2, 1, 0, 1, 250);
        check_qconv(qk, pool, 1, 20, 19, 1, 32, 16, 2, 7, 0, 0, 30);
        /* 3x3 stride 1 without a residual: the integer Winograd on C and AVX2, F(3x3) up to 128
         * channels, F(2x2) beyond and on the copies without F(3x3); on AVX-512 VNNI F(3x3) up
         * to 128, direct beyond (odd sizes and sizes
         * that are not multiples of 3: a last row and column of tiles partly outside; 1x1 and
         * 2x1 images; a block of tiles per task and several; a split of the panels; the
         * deepest F(3x3) and F(2x2) take with extreme weights and inputs) */
        check_qconv(qk, pool, 2, 9, 11, 16, 32, 3, 1, 1, 0, 0, 0);
        check_qconv(qk, pool, 3, 1, 1, 32, 64, 3, 1, 1, 0, 0, 0);
        check_qconv(qk, pool, 1, 2, 1, 48, 32, 3, 1, 1, 0, 0, 0);
        check_qconv(qk, pool, 1, 14, 14, 64, 64, 3, 1, 1, 0, 0, 0);
        check_qconv(qk, pool, 1, 28, 27, 128, 96, 3, 1, 1, 0, 0, 0);
        check_qconv(qk, pool, 2, 56, 56, 64, 32, 3, 1, 1, 0, 0, 0);
        check_qconv(qk, pool, 1, 10, 8, 144, 32, 3, 1, 1, 0, 0, 0);
        check_qconv(qk, pool, 2, 4, 5, 80, 64, 3, 1, 1, 0, 0, 0);
        /* blocks whose V fills the scratch, on one thread (more would cut smaller blocks):
         * F(3x3) at 128 channels 50 tiles (48 on AVX-512 VNNI's 8-row GEMM), F(2x2) at 256 38:
         * ASan sees a task that uses more than rn_qwino_scratch_bytes */
        check_qconv(qk, NULL, 1, 22, 91, 128, 32, 3, 1, 1, 0, 0, 0);
        check_qconv(qk, NULL, 1, 7, 73, 256, 32, 3, 1, 1, 0, 0, 0);
        for (extreme_case = 1; extreme_case <= 2; extreme_case++) {
            check_qconv(qk, pool, 1, 7, 8, 128, 32, 3, 1, 1, 0, 0, 0);
            check_qconv(qk, pool, 1, 5, 4, 256, 32, 3, 1, 1, 0, 0, 0);
        }
        extreme_case = 0;
        /* 7-bit inputs (gemm7 on AVX2): conv3's 1x1 with a residual, a 3x3 too deep for the
         * Winograd (layer4's), an odd depth (a last k group alone) */
        in7_case = 1;
        check_qconv(qk, pool, 2, 9, 7, 64, 96, 1, 1, 0, 1, 0, 0);
        check_qconv(qk, pool, 1, 7, 7, 256, 32, 3, 1, 1, 0, 0, 0);
        check_qconv(qk, pool, 1, 5, 6, 20, 32, 1, 1, 0, 1, 1, 0);
        in7_case = 0;
        /* grouped 3x3s (ResNeXt): groups smaller than a panel (4 and 8 outputs a group), as wide
         * as one, and wider (several panels a group), strided too; dilated 3x3s (a backbone at
         * output stride 8 or 16), grouped and not, 7-bit inputs on one */
        groups_case = 8;
        check_qconv(qk, pool, 2, 9, 7, 32, 32, 3, 1, 1, 0, 0, 0);  /* 4 a group */
        check_qconv(qk, pool, 1, 8, 8, 64, 64, 3, 2, 1, 0, 0, 0);  /* 8 a group, strided */
        groups_case = 2;
        check_qconv(qk, pool, 1, 7, 9, 64, 128, 3, 1, 1, 0, 0, 0); /* 64 a group */
        groups_case = 1;
        dilation_case = 2;
        check_qconv(qk, pool, 2, 9, 11, 32, 32, 3, 1, 2, 0, 0, 0);
        dilation_case = 4;
        in7_case = 1;
        check_qconv(qk, pool, 1, 12, 10, 64, 32, 3, 1, 4, 0, 0, 0);
        in7_case = 0;
        groups_case = 4;
        check_qconv(qk, pool, 1, 11, 11, 64, 64, 3, 1, 4, 0, 0, 0);
        groups_case = 1;
        dilation_case = 1;
    }
    rn_pool_free(pool);
}

/* ---- damaged int8 files: a copy of the good one with one change --------------------- */

typedef struct edit {
    const char *tensor;
    enum { DROP, SET, RESHAPE, AS_F32, LAST } op; /* LAST: its data moved to the end of the file */
    int index;
    float value;
    int ndim;
    int64_t shape[4];
    const char *want; /* in the message besides the file name */
} edit;

static int write_edited(const char *src, const char *dst, const edit *e) {
    rn_safetensors *st;
    resnet_error err;
    if (rn_st_open(src, &st, &err) != RESNET_OK) return 0;
    size_t n = rn_st_count(st), k = 0;
    rn_st_entry *en = calloc(n, sizeof *en);
    const int8_t **i8 = calloc(n, sizeof *i8);
    float **bufs = calloc(n, sizeof *bufs);
    int ok = en && i8 && bufs;
    for (size_t i = 0; ok && i < n; i++) {
        const rn_tensor *t = rn_st_tensor(st, i);
        int hit = strcmp(t->name, e->tensor) == 0;
        if (hit && e->op == DROP) continue;
        /* LAST: this one in the last slot, the others before it in their order */
        rn_st_entry *x = hit && e->op == LAST ? &en[n - 1] : &en[k];
        const int8_t **x8 = hit && e->op == LAST ? &i8[n - 1] : &i8[k];
        float **xb = hit && e->op == LAST ? &bufs[n - 1] : &bufs[k];
        x->name = t->name;
        x->ndim = t->ndim;
        memcpy(x->shape, t->shape, sizeof x->shape);
        size_t count = t->dtype == RN_DT_I8 ? t->nbytes : t->nbytes / 4;
        if (t->dtype == RN_DT_I8 && !(hit && e->op == AS_F32)) {
            *x8 = t->data;
        } else {
            ok = (*xb = malloc((count + 1) * sizeof(float))) != NULL;
            if (ok && t->dtype == RN_DT_I8)
                for (size_t j = 0; j < count; j++) (*xb)[j] = ((const int8_t *)t->data)[j];
            else if (ok) ok = rn_st_read_f32(st, t, *xb, &err) == RESNET_OK;
            x->data = *xb;
        }
        if (ok && hit && e->op == SET) (*xb)[e->index] = e->value;
        if (hit && e->op == RESHAPE) {
            x->ndim = e->ndim;
            memcpy(x->shape, e->shape, sizeof e->shape);
        }
        if (!(hit && e->op == LAST)) k++;
    }
    if (e->op == LAST && k + 1 == n) k = n; /* and the moved one */
    const char *keys[64], *vals[64];
    size_t nm = 0;
    while (nm < 64 && rn_st_metadata_at(st, nm, &keys[nm], &vals[nm])) nm++;
    ok = ok && rn_st_write_i8(dst, en, i8, k, keys, vals, nm, &err) == RESNET_OK;
    for (size_t i = 0; bufs && i < n; i++) free(bufs[i]);
    free(bufs);
    free(en);
    free(i8);
    rn_st_close(st);
    return ok;
}

static void test_bad_int8_files(void) {
    const edit edits[] = {
        {"layer2.1.conv2.weight_scale", DROP, 0, 0, 0, {0}, "is missing"},
        {"layer2.1.conv2.weight_scale", SET, 5, 0.0f, 0, {0}, "positive scale"},
        {"layer2.1.conv2.weight_scale", SET, 7, -0.01f, 0, {0}, "positive scale"},
        {"layer2.1.conv2.weight_scale", SET, 0, NAN, 0, {0}, "non-finite"},
        {"layer2.1.conv2.weight_scale", SET, 127, INFINITY, 0, {0}, "non-finite"},
        {"layer2.1.conv2.weight_scale", RESHAPE, 0, 0, 1, {127}, "has shape [127], expected [128]"},
        {"layer1.0.conv1.weight", RESHAPE, 0, 0, 4, {64, 32, 2, 1}, "has shape [64, 32, 2, 1], expected [64, 64, 1, 1]"},
        {"layer1.0.conv1.weight", AS_F32, 0, 0, 0, {0}, "expected I8"},
        {"layer4.2.conv3.weight", DROP, 0, 0, 0, {0}, "is missing"},
        {"layer3.0.conv2.input_scale", DROP, 0, 0, 0, {0}, "is missing"},
        {"layer3.0.conv2.input_scale", SET, 0, 0.0f, 0, {0}, "positive scale"},
        {"(no such tensor)", SET, 0, 0, 0, {0}, ""}, /* the control: the unchanged copy loads */
        {"layer1.1.conv1.input_scale", SET, 0, -2.0f, 0, {0}, "positive scale"},
        {"layer1.1.conv1.input_scale", SET, 0, INFINITY, 0, {0}, "non-finite"},
        {"layer1.1.conv1.input_scale", RESHAPE, 0, 0, 1, {0}, "has shape [0], expected [1]"},
        {"layer2.0.downsample.0.output_scale", SET, 0, NAN, 0, {0}, "non-finite"},
        {"layer2.0.downsample.0.output_zero_point", SET, 0, 3.5f, 0, {0}, "whole number in 0..255"},
        {"layer2.0.downsample.0.output_zero_point", SET, 0, 256.0f, 0, {0}, "whole number in 0..255"},
        {"layer2.0.downsample.0.output_zero_point", DROP, 0, 0, 0, {0}, "is missing"},
        {"layer1.2.conv3.bias", SET, 3, NAN, 0, {0}, "non-finite"},
    };
    const char *good = tmp_path("a.safetensors"), *bad = tmp_path("bad.safetensors");
    for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
        const edit *e = &edits[i];
        if (!write_edited(good, bad, e)) {
            CHECK(0, "could not write the damaged copy for %s", e->tensor);
            continue;
        }
        resnet_model *m = NULL;
        resnet_error err = {0};
        resnet_status s = resnet_model_load(bad, NULL, &m, &err);
        if (!*e->want) {
            CHECK(s == RESNET_OK, "%s: an unused tensor stops the load: %s", e->tensor, err.message);
            resnet_model_free(m);
            continue;
        }
        /* the tensor named: the scales of weights named by their own name */
        CHECK(s == RESNET_E_WEIGHTS && !m && strstr(err.message, bad) && strstr(err.message, e->tensor) &&
                  strstr(err.message, e->want) && !strchr(err.message, '\n'),
              "%s (%d): status %d, message '%s'", e->tensor, e->op, s, err.message);
        resnet_model_free(m);
    }
}

/* An int8 file cut short by another program after it was opened, before its int8 weights were
 * read: an error naming the file, as for its float tensors, not a SIGBUS from the mapping. */
static void test_int8_file_cut_while_loading(void) {
    const char *good = tmp_path("a.safetensors"), *moved = tmp_path("cut.safetensors");
    const char *tensor = "layer4.0.conv2.weight"; /* 2.25 MiB: whole pages past the new end */
    const edit last = {tensor, LAST, 0, 0, 0, {0}, ""};
    CHECK(write_edited(good, moved, &last), "could not write the copy with %s last", tensor);
    rn_safetensors *st = NULL;
    resnet_error err = {0};
    CHECK(rn_st_open(moved, &st, &err) == RESNET_OK, "%s", err.message);
    if (!st) return;
    const rn_tensor *t = rn_st_tensor(st, rn_st_count(st) - 1);
    CHECK(strcmp(t->name, tensor) == 0, "the last tensor is %s", t->name);
    struct stat sb;
    CHECK(stat(moved, &sb) == 0 && truncate(moved, sb.st_size - (off_t)t->nbytes) == 0, "truncate");
    resnet_model *m = calloc(1, sizeof *m);
    pthread_mutex_init(&m->pool_mu, NULL);
    m->kc = rn_kernels_select(RESNET_KERNELS_AUTO);
    m->qk = rn_qkernels_select(RN_QPATH_AUTO);
    rn_load_config cfg = {0};
    resnet_status s = rn_model_bind_config(m, st, moved, &cfg, &err);
    CHECK(s == RESNET_E_IO && strstr(err.message, moved) && strstr(err.message, "shorter") && !strchr(err.message, '\n'),
          "status %d, message '%s'", s, err.message);
    rn_st_close(st);
    resnet_model_free(m);
}

int main(void) {
    if (!*fp32_path()) {
        fprintf(stderr, "test_int8: RESNET_TEST_V1_CAFFE is not set (run through tests/run.sh)\n");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    if (!mkdtemp(dir)) return 1;
    resnet_model *m = NULL;
    resnet_error err;
    if (resnet_model_load(fp32_path(), NULL, &m, &err) != RESNET_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    for (int i = 0; i < N_PHOTOS; i++)
        if (resnet_preprocess_file(photos[i], resnet_model_norm(m), input[i], &err) != RESNET_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
    resnet_model_free(m);
    RUN(test_sha256);
    RUN(test_quantize_u8);
    RUN(test_input_u8);
    RUN(test_qconv_driver);
    RUN(test_qdense);
    RUN(test_quantize_deterministic);
    RUN(test_int8_agrees_with_fp32);
    RUN(test_int8_paths_identical);
    RUN(test_bad_int8_files);
    RUN(test_int8_file_cut_while_loading);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return TEST_DONE();
}
