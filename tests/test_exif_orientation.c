/* test_exif_orientation.c - EXIF orientation through the network: the session flag
 * (resnet_session_set_image_flags) for resnet_classify_file, resnet_classify_file_tta and
 * resnet_run_files, and --exif-orientation of classify (files and "-"), eval, cam and embed.
 *
 * tests/data/formats/exif-N.jpg hold one picture tagged with orientation N; exif-N-jpg.rgb.png
 * is PIL's exif_transpose of it (make_formats.py). With the flag, a tagged JPEG must give
 * exactly what its PIL-turned PNG gives (same pixels, so the same logits, bit for bit);
 * without it, exactly what the untagged picture gives. Weights: RESNET_TEST_V1_CAFFE
 * (tests/run.sh sets it); the tool: RESNET_BIN (default build/resnet). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resnet.h"
#include "testutil.h"

#define DIR "tests/data/formats"

static resnet_model *g_model;
static resnet_session *g_s;
static char g_tmp[] = "/tmp/rn_test_exif.XXXXXX";

/* All 1000 classes, sorted: equal lists mean equal probabilities for every class. */
static void probs_of(const char *file, resnet_prediction *top) {
    resnet_error err = {0};
    CHECK(resnet_classify_file(g_s, file, RESNET_NUM_CLASSES, top, &err) == RESNET_OK, "%s: %s", file, err.message);
}

static int same_top(const resnet_prediction *a, const resnet_prediction *b) {
    return memcmp(a, b, RESNET_NUM_CLASSES * sizeof *a) == 0;
}

static int same(const float *a, const float *b, int n) { return memcmp(a, b, (size_t)n * sizeof *a) == 0; }

static void test_session_flag(void) {
    static resnet_prediction plain[RESNET_NUM_CLASSES], tagged[RESNET_NUM_CLASSES], turned[RESNET_NUM_CLASSES];
    probs_of(DIR "/exif-1-jpg.rgb.png", plain);
    for (int o = 2; o <= 8; o++) {
        char jpg[256], png[256];
        snprintf(jpg, sizeof jpg, DIR "/exif-%d.jpg", o);
        snprintf(png, sizeof png, DIR "/exif-%d-jpg.rgb.png", o);
        resnet_session_set_image_flags(g_s, 0);
        probs_of(jpg, tagged);
        CHECK(same_top(tagged, plain), "orientation %d applied without the flag", o);
        resnet_session_set_image_flags(g_s, RESNET_IMAGE_EXIF_ORIENTATION);
        probs_of(jpg, tagged);
        probs_of(png, turned);
        CHECK(same_top(tagged, turned), "orientation %d: not PIL's exif_transpose", o);
        CHECK(!same_top(tagged, plain), "orientation %d: the flag changed nothing", o);
    }
    /* test-time augmentation reads through the same flag */
    resnet_prediction a[5], b[5];
    resnet_error err = {0};
    CHECK(resnet_classify_file_tta(g_s, DIR "/exif-6.jpg", RESNET_TTA_FLIP, 5, a, &err) == RESNET_OK, "%s", err.message);
    CHECK(resnet_classify_file_tta(g_s, DIR "/exif-6-jpg.rgb.png", RESNET_TTA_FLIP, 5, b, &err) == RESNET_OK, "%s",
          err.message);
    CHECK(memcmp(a, b, sizeof a) == 0, "tta: the flag not applied");
    resnet_session_set_image_flags(g_s, 0);
}

typedef struct got {
    float logits[4][RESNET_NUM_CLASSES];
    int n;
} got;

static int on_file(void *ctx, const resnet_file_result *r) {
    got *g = ctx;
    CHECK(r->status == RESNET_OK, "%s: %s", r->path, r->message);
    if (r->status == RESNET_OK && r->index < 4) memcpy(g->logits[r->index], r->logits, sizeof g->logits[0]);
    g->n++;
    return 0;
}

static void test_run_files(void) {
    const char *paths[4] = {DIR "/exif-5.jpg", DIR "/exif-5-jpg.rgb.png", DIR "/exif-8.jpg", DIR "/exif-8-jpg.rgb.png"};
    static got g;
    resnet_error err = {0};
    resnet_session_set_image_flags(g_s, RESNET_IMAGE_EXIF_ORIENTATION);
    CHECK(resnet_run_files(g_s, paths, 4, RESNET_WANT_LOGITS, on_file, &g, &err) == RESNET_OK, "%s", err.message);
    CHECK(g.n == 4, "%d results", g.n);
    CHECK(same(g.logits[0], g.logits[1], RESNET_NUM_CLASSES), "run_files: orientation 5 not applied");
    CHECK(same(g.logits[2], g.logits[3], RESNET_NUM_CLASSES), "run_files: orientation 8 not applied");
    resnet_session_set_image_flags(g_s, 0);
    g.n = 0;
    CHECK(resnet_run_files(g_s, paths, 4, RESNET_WANT_LOGITS, on_file, &g, &err) == RESNET_OK, "%s", err.message);
    CHECK(!same(g.logits[0], g.logits[1], RESNET_NUM_CLASSES), "run_files: orientation applied without the flag");
}

/* A flag bit this library does not know (a newer header's, or garbage) is refused by every
 * call that takes the flags, naming the bits, never read as "no flag". */
static void unknown_refused(resnet_status st, const resnet_error *err, const char *call) {
    CHECK(st == RESNET_E_ARG && strstr(err->message, "unknown RESNET_IMAGE_* flags 0x80000002"), "%s: status %d, '%s'",
          call, (int)st, err->message);
}

static void test_unknown_flags(void) {
    const unsigned bad = RESNET_IMAGE_EXIF_ORIENTATION | 2u | 0x80000000u;
    const char *photo = DIR "/exif-6.jpg";
    resnet_error err = {0};
    resnet_image img = {0};
    unknown_refused(resnet_image_load_ex(photo, bad, &img, &err), &err, "resnet_image_load_ex");
    CHECK(img.rgb == NULL && img.width == 0, "resnet_image_load_ex: an image made");
    size_t n = 0;
    unsigned char *data = tu_read_file(photo, &n);
    CHECK(data != NULL, "%s unreadable", photo);
    unknown_refused(resnet_image_load_memory(data, n, "mem.jpg", bad, &img, &err), &err, "resnet_image_load_memory");
    const int crop = resnet_model_input_size(g_model);
    float *in = malloc((size_t)3 * crop * crop * sizeof *in);
    unknown_refused(resnet_model_preprocess_file(g_model, photo, bad, NULL, 1, in, &err), &err,
                    "resnet_model_preprocess_file");
    unknown_refused(resnet_model_preprocess_memory(g_model, data, n, "mem.jpg", bad, NULL, 1, in, &err), &err,
                    "resnet_model_preprocess_memory");
    free(in);
    free(data);

    resnet_session_set_image_flags(g_s, bad);
    resnet_prediction top[5];
    unknown_refused(resnet_classify_file(g_s, photo, 5, top, &err), &err, "resnet_classify_file");
    unknown_refused(resnet_classify_file_tta(g_s, photo, RESNET_TTA_FLIP, 5, top, &err), &err,
                    "resnet_classify_file_tta");
    static got g;
    g.n = 0;
    unknown_refused(resnet_run_files(g_s, &photo, 1, RESNET_WANT_LOGITS, on_file, &g, &err), &err, "resnet_run_files");
    CHECK(g.n == 0, "resnet_run_files: %d results for a refused run", g.n);
    resnet_session_set_image_flags(g_s, 0);
    CHECK(resnet_classify_file(g_s, photo, 5, top, &err) == RESNET_OK, "flags 0 again: %s", err.message);
}

/* ---- the command line ---------------------------------------------------------------- */

static const char *bin(void) {
    const char *b = getenv("RESNET_BIN");
    return b && *b ? b : "build/resnet";
}

static void copy(const char *from, const char *to) {
    size_t n = 0;
    unsigned char *d = tu_read_file(from, &n);
    FILE *f = d ? fopen(to, "wb") : NULL;
    if (f) {
        fwrite(d, 1, n, f);
        fclose(f);
    }
    free(d);
    CHECK(f != NULL, "copy %s to %s", from, to);
}

/* The tail of each line after the first occurrence of `key` (what does not name the file). */
static void tails(const char *out, const char *key, char lines[2][600]) {
    lines[0][0] = lines[1][0] = '\0';
    const char *p = out;
    for (int i = 0; i < 2 && p && *p; i++) {
        const char *end = strchr(p, '\n'), *k = strstr(p, key);
        if (!end) end = p + strlen(p);
        if (k && k < end) snprintf(lines[i], 600, "%.*s", (int)(end - k), k);
        p = *end ? end + 1 : NULL;
    }
}

static void test_cli(void) {
    char tagged[300], turned[300], cmd[2000], out[8192], t[2][600];
    snprintf(tagged, sizeof tagged, "%s/a-tagged.jpg", g_tmp); /* sorted first in eval */
    snprintf(turned, sizeof turned, "%s/b-turned.png", g_tmp);
    copy(DIR "/exif-6.jpg", tagged);
    copy(DIR "/exif-6-jpg.rgb.png", turned);
    const char *w = getenv("RESNET_TEST_V1_CAFFE");
    char wopt[600] = "";
    if (w) snprintf(wopt, sizeof wopt, "--weights '%s'", w);

    /* classify: the same answer for the tagged JPEG as for PIL's turned PNG, only with the flag */
    snprintf(cmd, sizeof cmd, "%s classify --json -k 3 --threads 2 %s --exif-orientation '%s' '%s'", bin(), wopt,
             tagged, turned);
    CHECK(tu_run(cmd, out, sizeof out) == 0, "%s", cmd);
    tails(out, "\"top\"", t);
    CHECK(t[0][0] && strcmp(t[0], t[1]) == 0, "classify --exif-orientation: '%s' vs '%s'", t[0], t[1]);
    snprintf(cmd, sizeof cmd, "%s classify --json -k 3 --threads 2 %s '%s' '%s'", bin(), wopt, tagged, turned);
    CHECK(tu_run(cmd, out, sizeof out) == 0, "%s", cmd);
    tails(out, "\"top\"", t);
    CHECK(t[0][0] && strcmp(t[0], t[1]) != 0, "classify without the flag turned the photo: '%s'", t[0]);

    /* "-": the photo from standard input gets the flag too */
    snprintf(cmd, sizeof cmd, "%s classify --json -k 3 --threads 2 %s --exif-orientation - '%s' < '%s'", bin(), wopt,
             turned, tagged);
    CHECK(tu_run(cmd, out, sizeof out) == 0, "%s", cmd);
    tails(out, "\"top\"", t);
    CHECK(t[0][0] && strcmp(t[0], t[1]) == 0, "classify --exif-orientation -: '%s' vs '%s'", t[0], t[1]);

    /* eval: the predictions of both photos agree (labels.tsv: both class 0) */
    char labels[400], preds[400];
    snprintf(labels, sizeof labels, "%s/labels.tsv", g_tmp);
    snprintf(preds, sizeof preds, "%s/preds.tsv", g_tmp);
    FILE *f = fopen(labels, "w");
    if (f) {
        fputs("file\tlabel\na-tagged.jpg\t0\nb-turned.png\t0\n", f);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd, "%s eval --threads 2 %s --exif-orientation --predictions '%s' '%s' >/dev/null 2>&1", bin(),
             wopt, preds, g_tmp);
    CHECK(tu_run(cmd, out, sizeof out) == 0, "%s", cmd);
    size_t n = 0;
    char *p = (char *)tu_read_file(preds, &n);
    CHECK(p != NULL, "no %s", preds);
    if (p) {
        char *q = realloc(p, n + 1);
        if (q) {
            p = q;
            p[n] = '\0';
            /* skip the header line; the rest of each line after the file name */
            char *body = strchr(p, '\n');
            tails(body ? body + 1 : p, "\t", t);
            CHECK(t[0][0] && strcmp(t[0], t[1]) == 0, "eval --exif-orientation: '%s' vs '%s'", t[0], t[1]);
        }
        free(p);
    }

    /* cam: the map is laid over the upright photo (45x61, not 61x45) */
    char heat1[400], heat2[400];
    snprintf(heat1, sizeof heat1, "%s/h1.png", g_tmp);
    snprintf(heat2, sizeof heat2, "%s/h2.png", g_tmp);
    snprintf(cmd, sizeof cmd, "%s cam --threads 2 %s --exif-orientation '%s' -o '%s'", bin(), wopt, tagged, heat1);
    CHECK(tu_run(cmd, out, sizeof out) == 0, "%s", cmd);
    CHECK(strstr(out, "of 45x61") != NULL, "cam --exif-orientation: %s", out);
    char line1[600];
    snprintf(line1, sizeof line1, "%s", strstr(out, "class") ? strstr(out, "class") : "");
    snprintf(cmd, sizeof cmd, "%s cam --threads 2 %s '%s' -o '%s'", bin(), wopt, turned, heat2);
    CHECK(tu_run(cmd, out, sizeof out) == 0, "%s", cmd);
    CHECK(strcmp(line1, strstr(out, "class") ? strstr(out, "class") : "-") == 0, "cam: '%s' vs '%s'", line1, out);

    /* embed: both rows of the .npy are the same features */
    char npy[400];
    snprintf(npy, sizeof npy, "%s/f.npy", g_tmp);
    snprintf(cmd, sizeof cmd, "%s embed --threads 2 %s --exif-orientation '%s' '%s' -o '%s' >/dev/null 2>&1", bin(),
             wopt, tagged, turned, npy);
    CHECK(tu_run(cmd, out, sizeof out) == 0, "%s", cmd);
    unsigned char *e = tu_read_file(npy, &n);
    const size_t row = RESNET_FEATURE_DIM * sizeof(float);
    CHECK(e && n > 2 * row, "%s: %zu bytes", npy, n);
    if (e && n > 2 * row) CHECK(memcmp(e + n - 2 * row, e + n - row, row) == 0, "embed --exif-orientation: rows differ");
    free(e);

    const char *made[] = {tagged, turned, labels, preds, heat1, heat2, npy};
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) unlink(made[i]);
}

int main(void) {
    const char *w = getenv("RESNET_TEST_V1_CAFFE");
    resnet_error err = {0};
    if (!w || resnet_model_load(w, NULL, &g_model, &err) != RESNET_OK ||
        resnet_session_create(g_model, 2, 4, &g_s, &err) != RESNET_OK) {
        fprintf(stderr, "test_exif_orientation: no weights (RESNET_TEST_V1_CAFFE: %s) %s\n", w ? w : "unset",
                err.message);
        return 1;
    }
    if (!mkdtemp(g_tmp)) return 1;
    RUN(test_session_flag);
    RUN(test_run_files);
    RUN(test_unknown_flags);
    RUN(test_cli);
    rmdir(g_tmp);
    resnet_session_free(g_s);
    resnet_model_free(g_model);
    return TEST_DONE();
}
