/* test_eval.c - test-time augmentation (library) and `resnet eval` (command line).
 *
 * The views: the plain view is bit-identical with the reference preprocessing, mirrors are
 * mirrors, and every mode gives normalised probabilities and the plain pass's top-1 on the
 * easy photos. The command: accuracy on val1300 within 0.002 of the reference (it fails if
 * the network or the preprocessing regressed), predictions that agree with the reference's,
 * and bad input inside a set (missing labels, labels out of range, unreadable photos,
 * stray folders) reported with the file name and counted, with exit status 1.
 *
 * Needs RESNET_TEST_V1_CAFFE and RESNET_BIN (tests/run.sh sets them). The repository's own
 * photos are always used; the ImageNet ones of ../shared (RESNET_SHARED) when it is there, and
 * the tests that need only those are skipped without it. RESNET_TEST_VAL=0 skips the
 * 1300-photo pass (about 3 minutes on 2 cores). */
#include <math.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resnet.h"
#include "testutil.h"
#include "image/image.h"

#define IN_FLOATS (3 * RESNET_INPUT_SIZE * RESNET_INPUT_SIZE)

static char samples[512], samples_abs[4096], repo_abs[4096], tmpdir[256];
static const char *bin, *weights;

static resnet_model *model;
static resnet_session *session; /* batch RESNET_TTA_MAX_VIEWS, so every mode fits */

/* A photo of ../shared/images/samples, or, for a name with a '/', the repository's own. */
static void sample(char *buf, size_t n, const char *name) {
    if (strchr(name, '/')) snprintf(buf, n, "%s", name);
    else snprintf(buf, n, "%s/%s", samples, name);
}

/* A symlink at `link` to a photo as sample() names it (an absolute target: links resolve
 * from their folder). */
static int link_sample(const char *name, const char *link) {
    char target[8192];
    snprintf(target, sizeof target, "%s/%s", strchr(name, '/') ? repo_abs : samples_abs, name);
    return symlink(target, link);
}

/* ---- views ------------------------------------------------------------------------------- */

/* {256, centre, no flip} is the reference pipeline, for both normalisations and for JPEG,
 * PNG and photos that are not square; with ../shared also PNG with alpha. */
static void test_plain_view_is_the_reference(void) {
    const char *names[] = {"demo/chelsea.png", "demo/coffee.png", "tests/data/golden/chelsea.jpg",
                           "258_samoyed_1.jpg", "281_tabby_3.png", "282_tiger_cat_3.png"};
    const size_t n = tu_have_shared("images/samples") ? 6 : 3;
    const resnet_view plain = {256, RESNET_CROP_CENTER, 0};
    float *a = malloc(IN_FLOATS * sizeof(float)), *b = malloc(IN_FLOATS * sizeof(float));
    resnet_error err;
    for (int norm = 0; norm < 2; norm++)
        for (size_t i = 0; i < n; i++) {
            char path[1024];
            sample(path, sizeof path, names[i]);
            CHECK(resnet_preprocess_file(path, (resnet_norm)norm, a, &err) == RESNET_OK, "%s", err.message);
            CHECK(resnet_preprocess_views_file(path, (resnet_norm)norm, &plain, 1, b, &err) == RESNET_OK, "%s",
                  err.message);
            CHECK(memcmp(a, b, IN_FLOATS * sizeof(float)) == 0, "%s norm %d: plain view differs from the reference",
                  names[i], norm);
        }
    free(a);
    free(b);
}

/* Mirrors are exact mirrors; a 224x224 photo at resize 224 is the photo itself, so all five
 * crops of it are equal; corners of a larger resize differ from the centre. */
static void test_views_geometry(void) {
    const resnet_view v[] = {{256, RESNET_CROP_CENTER, 0}, {256, RESNET_CROP_CENTER, 1},
                             {224, RESNET_CROP_CENTER, 0}, {224, RESNET_CROP_TOP_LEFT, 0},
                             {224, RESNET_CROP_BOTTOM_RIGHT, 1}, {288, RESNET_CROP_TOP_LEFT, 0}};
    enum { N = sizeof v / sizeof v[0] };
    float *out = malloc((size_t)N * IN_FLOATS * sizeof(float));
    /* a 224x224 photo: the centre of the cat's */
    char path[1024];
    resnet_error err;
    resnet_image cat = {0}, square = {224, 224, malloc(224 * 224 * 3)};
    CHECK(resnet_image_load("demo/chelsea.png", &cat, &err) == RESNET_OK, "%s", err.message);
    for (int y = 0; cat.rgb && y < 224; y++)
        memcpy(square.rgb + (size_t)y * 224 * 3, cat.rgb + ((size_t)(y + 38) * cat.width + 113) * 3, 224 * 3);
    snprintf(path, sizeof path, "%s/square.png", tmpdir);
    CHECK(cat.rgb && resnet_image_write_png(&square, path, &err) == RESNET_OK, "%s", err.message);
    resnet_image_free(&cat);
    resnet_image_free(&square);
    CHECK(resnet_preprocess_views_file(path, RESNET_NORM_CAFFE, v, N, out, &err) == RESNET_OK, "%s", err.message);
    const float *plain = out, *flip = out + IN_FLOATS, *full = out + 2 * IN_FLOATS, *tl = out + 3 * IN_FLOATS,
                *br_flip = out + 4 * IN_FLOATS, *tl288 = out + 5 * IN_FLOATS;
    int mirrored = 1, same = 1;
    for (int r = 0; r < 3 * RESNET_INPUT_SIZE; r++)
        for (int x = 0; x < RESNET_INPUT_SIZE; x++) {
            const size_t i = (size_t)r * RESNET_INPUT_SIZE + x, j = (size_t)r * RESNET_INPUT_SIZE + RESNET_INPUT_SIZE - 1 - x;
            mirrored &= plain[i] == flip[j] && full[i] == br_flip[j];
            same &= full[i] == tl[i];
        }
    CHECK(mirrored, "flipped views are not mirror images");
    CHECK(same, "crops of a photo already 224x224 differ");
    CHECK(memcmp(tl288, full, IN_FLOATS * sizeof(float)) != 0, "a corner at 288 equals the whole photo");
    free(out);
}

/* At an odd crop size (--size 33) a flipped view made as the mirror of its unflipped twin is
 * an exact mirror too, the middle column included (it was left as the buffer held it). */
static void test_views_odd_size_mirror(void) {
    enum { S = 33, F = 3 * S * S };
    resnet_view v[RESNET_TTA_MAX_VIEWS];
    const int n = resnet_tta_views(RESNET_TTA_MULTISCALE, v); /* {256,224,320} plain, then flipped */
    float *out = malloc((size_t)n * F * sizeof(float));
    for (size_t i = 0; i < (size_t)n * F; i++) out[i] = NAN; /* what a stale batch buffer may hold */
    resnet_error err;
    CHECK(rn_preprocess_views_file_ex("demo/chelsea.png", RESNET_NORM_CAFFE, 0, S, v, n, out, &err) == RESNET_OK,
          "%s", err.message);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        if (!v[i].flip) continue;
        const float *plain = NULL, *flip = out + (size_t)i * F;
        for (int j = 0; j < n; j++)
            if (!v[j].flip && v[j].resize == v[i].resize && v[j].crop == v[i].crop) plain = out + (size_t)j * F;
        for (int r = 0; plain && r < 3 * S; r++)
            for (int x = 0; x < S; x++) bad += !(flip[(size_t)r * S + x] == plain[(size_t)r * S + S - 1 - x]);
    }
    CHECK(bad == 0, "%d values of the flipped views at crop %d are not the mirror of the plain ones", bad, S);
    free(out);
}

static void test_views_bad_arguments(void) {
    char path[1024];
    sample(path, sizeof path, "tests/data/golden/chelsea.jpg");
    float *out = malloc(IN_FLOATS * sizeof(float));
    resnet_error err;
    const resnet_view small = {200, RESNET_CROP_CENTER, 0}, huge = {5000, RESNET_CROP_CENTER, 0},
                      odd = {256, (resnet_crop)9, 0};
    CHECK(resnet_preprocess_views_file(path, RESNET_NORM_CAFFE, &small, 1, out, &err) == RESNET_E_ARG, "resize 200");
    CHECK(resnet_preprocess_views_file(path, RESNET_NORM_CAFFE, &huge, 1, out, &err) == RESNET_E_ARG, "resize 5000");
    CHECK(resnet_preprocess_views_file(path, RESNET_NORM_CAFFE, &odd, 1, out, &err) == RESNET_E_ARG, "crop 9");
    CHECK(resnet_preprocess_views_file(path, RESNET_NORM_CAFFE, NULL, 1, out, &err) == RESNET_E_ARG, "no views");
    CHECK(resnet_preprocess_views_file("/nonexistent.jpg", RESNET_NORM_CAFFE, &small, 1, out, &err) != RESNET_OK,
          "missing file");
    free(out);
}

static void test_modes_table(void) {
    resnet_view v[RESNET_TTA_MAX_VIEWS];
    const char *names[] = {"none", "flip", "10crop", "multiscale"};
    const int counts[] = {1, 2, 10, 6};
    for (int t = 0; t < 4; t++) {
        CHECK(resnet_tta_parse(names[t]) == t, "parse %s", names[t]);
        CHECK(resnet_tta_name((resnet_tta)t) && strcmp(resnet_tta_name((resnet_tta)t), names[t]) == 0, "name %d", t);
        int n = resnet_tta_views((resnet_tta)t, v);
        CHECK(n == counts[t] && n <= RESNET_TTA_MAX_VIEWS, "%s has %d views", names[t], n);
        CHECK(v[0].resize == 256 && v[0].crop == RESNET_CROP_CENTER && !v[0].flip, "%s: first view is not plain",
              names[t]);
    }
    CHECK(resnet_tta_parse("bogus") == -1 && resnet_tta_parse(NULL) == -1, "bad names");
    CHECK(resnet_tta_views((resnet_tta)17, v) == 0 && resnet_tta_name((resnet_tta)-1) == NULL, "bad modes");
}

/* Every mode: probabilities summing to 1, and the plain pass's top-1 on the easy photos (the
 * coffee, 0.99 espresso; with ../shared also a Samoyed and a zebra). */
static void test_modes_on_easy_samples(void) {
    CHECK(session != NULL, "no model (RESNET_TEST_V1_CAFFE)");
    if (!session) return;
    const char *names[] = {"demo/coffee.png", "258_samoyed_1.jpg", "340_zebra_1.png"};
    const int want[] = {967, 258, 340};
    const int n = tu_have_shared("images/samples") ? 3 : 1;
    resnet_prediction *top = malloc(RESNET_NUM_CLASSES * sizeof *top), plain[1];
    resnet_error err;
    for (int i = 0; i < n; i++) {
        char path[1024];
        sample(path, sizeof path, names[i]);
        CHECK(resnet_classify_file(session, path, 1, plain, &err) == RESNET_OK, "%s", err.message);
        CHECK(plain[0].index == want[i], "%s: plain top-1 %d", names[i], plain[0].index);
        for (int t = 0; t < 4; t++) {
            if (resnet_classify_file_tta(session, path, (resnet_tta)t, RESNET_NUM_CLASSES, top, &err) != RESNET_OK) {
                CHECK(0, "%s %s: %s", names[i], resnet_tta_name((resnet_tta)t), err.message);
                continue;
            }
            double sum = 0;
            for (int c = 0; c < RESNET_NUM_CLASSES; c++) sum += top[c].prob;
            printf("     %-18s %-10s top-1 %3d %.4f, sum of probabilities %.6f\n", names[i],
                   resnet_tta_name((resnet_tta)t), top[0].index, top[0].prob, sum);
            CHECK(fabs(sum - 1.0) <= 1e-4, "%s %s: probabilities sum to %.6f", names[i], resnet_tta_name((resnet_tta)t), sum);
            CHECK(top[0].index == plain[0].index, "%s %s: top-1 %d, plain %d", names[i], resnet_tta_name((resnet_tta)t),
                  top[0].index, plain[0].index);
            if (t == RESNET_TTA_NONE) {
                /* resnet_classify_file is mode none; both must be the reference pipeline's pass
                 * (preprocess, forward, softmax), bit for bit */
                float *in = malloc(IN_FLOATS * sizeof(float)), probs[RESNET_NUM_CLASSES];
                CHECK(resnet_preprocess_file(path, resnet_model_norm(model), in, &err) == RESNET_OK &&
                          resnet_forward(session, in, 1, probs, NULL, &err) == RESNET_OK,
                      "%s", err.message);
                resnet_softmax(probs, RESNET_NUM_CLASSES, probs);
                int same = 1;
                for (int c = 0; c < RESNET_NUM_CLASSES; c++) same &= top[c].prob == probs[top[c].index];
                CHECK(same && top[0].prob == plain[0].prob, "%s: mode none differs from the plain pass", names[i]);
                free(in);
            }
        }
    }
    free(top);
}

/* A session too small for a mode's batch is an error, not a crash. */
static void test_session_too_small(void) {
    CHECK(model != NULL, "no model (RESNET_TEST_V1_CAFFE)");
    if (!model) return;
    resnet_session *s1 = NULL;
    resnet_error err;
    resnet_prediction top[1];
    const char *path = "demo/coffee.png";
    CHECK(resnet_session_create(model, 1, 1, &s1, &err) == RESNET_OK, "%s", err.message);
    if (!s1) return;
    CHECK(resnet_classify_file_tta(s1, path, RESNET_TTA_FLIP, 1, top, &err) == RESNET_E_ARG, "batch 1 for flip");
    /* said in the caller's terms: the photo, the mode and its views, not resnet_forward's batch */
    CHECK(strstr(err.message, path) && strstr(err.message, "flip has 2 views") && !strstr(err.message, "resnet_forward"),
          "batch 1 for flip: %s", err.message);
    CHECK(resnet_classify_file_tta(s1, path, (resnet_tta)42, 1, top, &err) == RESNET_E_ARG, "unknown mode");
    resnet_session_free(s1);
}

/* The compiled-in wnids are those of ../shared/imagenet/classes.tsv. */
static void test_wnids(void) {
    if (!tu_need_shared("imagenet/classes.tsv")) return;
    char path[1024], line[4096];
    snprintf(path, sizeof path, "%s/imagenet/classes.tsv", tu_shared());
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "open %s", path);
    if (!f) return;
    int n = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        int index;
        char wnid[64];
        if (sscanf(line, "%d\t%63s", &index, wnid) != 2) continue;
        const char *w = resnet_class_wnid(index);
        bad += !w || strcmp(w, wnid) != 0;
        n++;
    }
    fclose(f);
    CHECK(n == 1000 && bad == 0, "%d classes read, %d wnids differ", n, bad);
    CHECK(resnet_class_wnid(-1) == NULL && resnet_class_wnid(1000) == NULL, "out of range");
}

/* ---- the command line -------------------------------------------------------------------- */

typedef struct result {
    int rc;
    char *out, *err;
} result;

static char *slurp(const char *path) {
    size_t n = 0;
    char *p = (char *)tu_read_file(path, &n);
    if (!p) return strdup("");
    char *s = realloc(p, n + 1);
    if (!s) { free(p); return strdup(""); }
    s[n] = '\0';
    return s;
}

/* Runs a shell command with stdout and stderr to files (so stderr is not a terminal). */
static result run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static result run(const char *fmt, ...) {
    char cmd[8192], full[9000], o[300], e[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(o, sizeof o, "%s/stdout", tmpdir);
    snprintf(e, sizeof e, "%s/stderr", tmpdir);
    snprintf(full, sizeof full, "%s >'%s' 2>'%s'", cmd, o, e);
    int st = system(full);
    result r = {WIFEXITED(st) ? WEXITSTATUS(st) : 128, slurp(o), slurp(e)};
    return r;
}

static void result_free(result *r) {
    free(r->out);
    free(r->err);
}

/* The number after "key": in a JSON report; -1 when absent. */
static double json_num(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(json, pat);
    return p ? atof(p + strlen(pat)) : -1;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* The sample photos: 13 labelled, 2 unlabelled (class -1): skipped, said so, not an error. */
static void test_eval_samples(void) {
    if (!tu_need_shared("images/samples")) return;
    result r = run("'%s' eval '%s' --json --threads 2", bin, samples);
    printf("     %s", r.out);
    CHECK(r.rc == 0, "exit %d: %s", r.rc, r.err);
    CHECK(count_lines(r.out) == 1 && r.out[0] == '{', "not one JSON line: %s", r.out);
    CHECK(json_num(r.out, "images") == 13 && json_num(r.out, "unlabelled") == 2 && json_num(r.out, "skipped") == 0,
          "counts: %s", r.out);
    CHECK(json_num(r.out, "top1_correct") == 10 && json_num(r.out, "top5_correct") == 13, "accuracy: %s", r.out);
    CHECK(strchr(r.err, '\r') == NULL, "a progress bar in a pipe: %s", r.err);
    result_free(&r);

    r = run("'%s' eval '%s' --threads 2", bin, samples);
    CHECK(r.rc == 0 && strstr(r.out, "top-1 0.7692 (10/13)") && strstr(r.out, "2 unlabelled") &&
              strstr(r.out, "photos/s") && strstr(r.out, "most confused"),
          "text report: %s", r.out);
    result_free(&r);

    /* On a terminal (script(1) gives it one), a bar with the rate on stderr. */
    if (system("command -v script >/dev/null 2>&1") == 0) {
        r = run("script -qec \"'%s' eval '%s' --threads 2 >/dev/null\" /dev/null", bin, samples);
        CHECK(r.rc == 0 && strstr(r.out, "\r[") && strstr(r.out, "photos/s"), "no progress bar on a terminal: %s",
              r.out);
        result_free(&r);
    }
}

/* Bad entries in labels.tsv and unreadable photos: each named on stderr, counted, exit 1. */
static void test_eval_bad_input(void) {
    char dir[512], path[1024], text[2048];
    snprintf(dir, sizeof dir, "%s/set", tmpdir);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/coffee.png", dir);
    CHECK(link_sample("demo/coffee.png", path) == 0, "symlink %s", path);
    snprintf(path, sizeof path, "%s/espresso.png", dir);
    CHECK(link_sample("demo/coffee.png", path) == 0, "symlink %s", path);
    snprintf(path, sizeof path, "%s/notes.jpg", dir);
    write_file(path, "not a photo\n");
    snprintf(text, sizeof text,
             "file\tclass_index\n"
             "coffee.png\t967\n"         /* good */
             "missing.jpg\t3\n"          /* no such file */
             "notes.jpg\t5\n"            /* not an image */
             "coffee.png\t1000\n"        /* class out of range */
             "coffee.png\t-7\n"          /* class out of range */
             "coffee.png\tcoffee\n"      /* neither a number nor a class name */
             "coffee.png\tCARDIGAN\n"    /* without case, two classes (264 Cardigan, 474 cardigan) */
             "espresso.png\tEspresso \n" /* a class name: good */
             "coffee.png\t-1\n");        /* unlabelled: not an error */
    snprintf(path, sizeof path, "%s/labels.tsv", dir);
    write_file(path, text);
    result r = run("'%s' eval '%s' --json --threads 2 --predictions '%s/pred.tsv'", bin, dir, tmpdir);
    printf("%s", r.err);
    CHECK(r.rc == 1, "exit %d, want 1", r.rc);
    CHECK(json_num(r.out, "images") == 2 && json_num(r.out, "skipped") == 6 && json_num(r.out, "unlabelled") == 1 &&
              json_num(r.out, "top1_correct") == 2,
          "counts: %s", r.out);
    CHECK(count_lines(r.err) == 6, "want 6 error lines: %s", r.err);
    CHECK(strstr(r.err, "missing.jpg") && strstr(r.err, "notes.jpg") && strstr(r.err, "1000") &&
              strstr(r.err, "-7") && strstr(r.err, "line 7") &&
              strstr(r.err, "line 8: coffee.png: 'CARDIGAN' names more"),
          "errors do not name the files: %s", r.err);
    result_free(&r);
    snprintf(path, sizeof path, "%s/pred.tsv", tmpdir);
    char *pred = slurp(path);
    CHECK(count_lines(pred) == 3 && strstr(pred, "coffee.png\t967\t967\t"), "predictions: %s", pred);
    free(pred);

    /* separated by spaces, not tabs: every line is named, the first one too (it is no header) */
    snprintf(path, sizeof path, "%s/labels.tsv", dir);
    write_file(path, "coffee.png 967\nespresso.png 967\n");
    r = run("'%s' eval '%s'", bin, dir);
    CHECK(r.rc == 1 && strstr(r.err, "line 1: expected 'file<TAB>class'") &&
              strstr(r.err, "line 2: expected 'file<TAB>class'"),
          "a list separated by spaces: exit %d: %s", r.rc, r.err);
    result_free(&r);

    /* UTF-16 (Excel's "Unicode Text"): one line saying what the file is, not one a line */
    {
        static const char u16[] = "\xFF\xFE" "c\0o\0f\0f\0e\0e\0.\0p\0n\0g\0\t\0" "9\0" "6\0" "7\0\n\0";
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(u16, 1, sizeof u16 - 1, f) == sizeof u16 - 1 && fclose(f) == 0, "write %s", path);
        r = run("'%s' eval '%s'", bin, dir);
        CHECK(r.rc == 1 && count_lines(r.err) == 1 && strstr(r.err, "labels.tsv: line 1 holds a NUL byte") &&
                  strstr(r.err, "UTF-16"),
              "a UTF-16 labels.tsv: exit %d: %s", r.rc, r.err);
        result_free(&r);
    }

    /* a byte-order mark before the first photo's name (a list saved as "UTF-8" by Notepad or
     * Excel) is not part of that name */
    write_file(path, "\xEF\xBB\xBF" "coffee.png\t967\r\nespresso.png\t967\r\n");
    r = run("'%s' eval '%s' --json", bin, dir);
    CHECK(r.rc == 0 && json_num(r.out, "images") == 2 && json_num(r.out, "skipped") == 0,
          "a labels.tsv with a byte-order mark: exit %d: %s %s", r.rc, r.err, r.out);
    result_free(&r);

    /* No labels.tsv and no class folders: nothing to do, the missing file named, exit 1. */
    snprintf(dir, sizeof dir, "%s/empty", tmpdir);
    mkdir(dir, 0755);
    r = run("'%s' eval '%s'", bin, dir);
    CHECK(r.rc == 1 && count_lines(r.err) == 1 && strstr(r.err, "labels.tsv") && r.out[0] == '\0', "exit %d: %s",
          r.rc, r.err);
    result_free(&r);
    r = run("'%s' eval '%s/nowhere'", bin, tmpdir);
    CHECK(r.rc == 1 && count_lines(r.err) == 1 && strstr(r.err, "nowhere"), "exit %d: %s", r.rc, r.err);
    result_free(&r);

    /* usage errors: exit 2 */
    r = run("'%s' eval demo --tta sideways", bin);
    CHECK(r.rc == 2 && strstr(r.err, "sideways"), "exit %d: %s", r.rc, r.err);
    result_free(&r);
    r = run("'%s' eval", bin);
    CHECK(r.rc == 2, "no folder: exit %d", r.rc);
    result_free(&r);
    r = run("'%s' eval demo --batch 0", bin);
    CHECK(r.rc == 2, "--batch 0: exit %d", r.rc);
    result_free(&r);
    /* one file named by both outputs, neither there yet, under two spellings: refused before the
     * run, not after it when the second rename would lose the first */
    r = run("'%s' eval demo --predictions '%s/both' --report '%s/./both'", bin, tmpdir, tmpdir);
    snprintf(path, sizeof path, "%s/both", tmpdir);
    CHECK(r.rc == 2 && count_lines(r.err) == 1 && strstr(r.err, "same file") && access(path, F_OK) != 0,
          "--predictions and --report naming one new file: exit %d: %s", r.rc, r.err);
    result_free(&r);
}

/* A folder per class, named by wnid (espresso), index (967, espresso too) or class name (any
 * case: "Espresso"); a folder that is none of them, and non-photos. A photo in a folder inside
 * a class folder is of that class, as for train-head (io/walk.h). */
static void test_eval_folders(void) {
    char dir[512], path[1024];
    snprintf(dir, sizeof dir, "%s/tree", tmpdir);
    const char *subs[] = {"", "/n07920052", "/967", "/junk", "/n07920052/more", "/Espresso"};
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "%s%s", dir, subs[i]);
        mkdir(path, 0755);
    }
    snprintf(path, sizeof path, "%s/n07920052/c.png", dir);
    CHECK(link_sample("demo/coffee.png", path) == 0, "symlink");
    snprintf(path, sizeof path, "%s/967/c.PNG", dir);
    CHECK(link_sample("demo/coffee.png", path) == 0, "symlink");
    snprintf(path, sizeof path, "%s/n07920052/more/c2.png", dir);
    CHECK(link_sample("demo/coffee.png", path) == 0, "symlink");
    snprintf(path, sizeof path, "%s/Espresso/c.png", dir);
    CHECK(link_sample("demo/coffee.png", path) == 0, "symlink");
    snprintf(path, sizeof path, "%s/junk/s.jpg", dir);
    CHECK(link_sample("tests/data/golden/chelsea.jpg", path) == 0, "symlink");
    snprintf(path, sizeof path, "%s/967/README.txt", dir);
    write_file(path, "notes\n");
    snprintf(path, sizeof path, "%s/loose.png", dir); /* in no class folder: not scored, and said */
    CHECK(link_sample("demo/coffee.png", path) == 0, "symlink");
    result r = run("'%s' eval '%s' --json --tta flip --threads 2", bin, dir);
    printf("     %s", r.out);
    CHECK(r.rc == 1 && strstr(r.err, "junk"), "exit %d: %s", r.rc, r.err);
    CHECK(strstr(r.err, "1 file directly in") && strstr(r.err, "ignored"), "a photo beside the class folders: %s",
          r.err);
    CHECK(json_num(r.out, "images") == 4 && json_num(r.out, "top1_correct") == 4 && json_num(r.out, "skipped") == 1 &&
              json_num(r.out, "ignored") == 1 && json_num(r.out, "views") == 2 && strstr(r.out, "\"folders\""),
          "counts: %s", r.out);
    result_free(&r);

    /* a labels.tsv that is a link to nothing (a moved file, a share not mounted) is the user's
     * list, not there: said, not passed over for the folders' labels without a word */
    char tsv[1024], gone[1024];
    snprintf(tsv, sizeof tsv, "%s/labels.tsv", dir);
    snprintf(gone, sizeof gone, "%s/moved-away.tsv", tmpdir);
    CHECK(symlink(gone, tsv) == 0, "symlink %s", tsv);
    r = run("'%s' eval '%s' --json --threads 2", bin, dir);
    CHECK(r.rc == 1 && count_lines(r.err) == 1 && strstr(r.err, "labels.tsv") && !strstr(r.out, "\"folders\""),
          "a dangling labels.tsv: exit %d: %s %s", r.rc, r.err, r.out);
    result_free(&r);
    unlink(tsv);
}

static void test_classify_tta_cli(void) {
    const char *path = "demo/coffee.png";
    result r = run("'%s' classify --tta 10crop -k 1 '%s'", bin, path);
    CHECK(r.rc == 0 && strstr(r.out, "espresso"), "exit %d: %s %s", r.rc, r.out, r.err);
    result_free(&r);
    r = run("'%s' classify --tta 3crop '%s'", bin, path);
    CHECK(r.rc == 2 && strstr(r.err, "3crop"), "exit %d: %s", r.rc, r.err);
    result_free(&r);
}

/* The plain pass on val1300 through `resnet eval`: the reference's accuracy within 0.002, and
 * its top-1 on at least 1295 of 1300 photos. */
static void test_eval_val1300(void) {
    const char *skip = getenv("RESNET_TEST_VAL");
    if (skip && strcmp(skip, "0") == 0) {
        TU_SKIP("RESNET_TEST_VAL=0");
        return;
    }
    if (!tu_need_shared("images/val1300") || !tu_need_shared("reference/golden/val1300.predictions.tsv")) return;
    char pred[512], ref[1024];
    snprintf(pred, sizeof pred, "%s/val1300.tsv", tmpdir);
    result r = run("'%s' eval '%s/images/val1300' --json --threads 2 --predictions '%s'", bin, tu_shared(), pred);
    printf("     %s", r.out);
    const double top1 = json_num(r.out, "top1"), top5 = json_num(r.out, "top5");
    CHECK(r.rc == 0, "exit %d: %s", r.rc, r.err);
    CHECK(json_num(r.out, "images") == 1300 && json_num(r.out, "skipped") == 0, "counts: %s", r.out);
    CHECK(fabs(top1 - 0.8054) <= 0.002, "top-1 %.4f, reference 0.8054", top1);
    CHECK(fabs(top5 - 0.9562) <= 0.002, "top-5 %.4f, reference 0.9562", top5);
    printf("     pipeline %.2f photos/s, network alone %.2f photos/s\n", json_num(r.out, "images_per_s"),
           json_num(r.out, "network_images_per_s"));
    result_free(&r);

    /* the predictions file against the reference's, line by line (same order, same format) */
    snprintf(ref, sizeof ref, "%s/reference/golden/val1300.predictions.tsv", tu_shared());
    FILE *a = fopen(pred, "r"), *b = fopen(ref, "r");
    CHECK(a && b, "open %s and %s", pred, ref);
    int lines = 0, agree = 0;
    char la[4096], lb[4096];
    while (a && b && fgets(la, sizeof la, a) && fgets(lb, sizeof lb, b)) {
        char fa[256], fb[256];
        int labela, labelb, t1a, t1b;
        lines++;
        if (lines == 1) continue;
        if (sscanf(la, "%255[^\t]\t%d\t%d", fa, &labela, &t1a) != 3 || sscanf(lb, "%255[^\t]\t%d\t%d", fb, &labelb, &t1b) != 3 ||
            strcmp(fa, fb) != 0 || labela != labelb) {
            CHECK(0, "line %d: %s vs %s", lines, la, lb);
            break;
        }
        agree += t1a == t1b;
    }
    if (a) fclose(a);
    if (b) fclose(b);
    printf("     top-1 agrees with the reference on %d of %d\n", agree, lines - 1);
    CHECK(lines == 1301 && agree >= 1295, "%d lines, top-1 agrees on %d", lines, agree);
    snprintf(ref, sizeof ref, "ls '%s' | grep -q '\\.tmp\\.'", tmpdir);
    CHECK(system(ref) != 0, "a temporary predictions file was left behind");
}

int main(void) {
    bin = getenv("RESNET_BIN");
    weights = getenv("RESNET_TEST_V1_CAFFE");
    snprintf(samples, sizeof samples, "%s/images/samples", tu_shared());
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_eval.XXXXXX");
    char cwd[2048];
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
    snprintf(repo_abs, sizeof repo_abs, "%s", cwd);
    if (samples[0] == '/') snprintf(samples_abs, sizeof samples_abs, "%s", samples);
    else if (cwd[0]) snprintf(samples_abs, sizeof samples_abs, "%s/%s", cwd, samples);
    if (!bin || !weights || !samples_abs[0] || !mkdtemp(tmpdir)) {
        fprintf(stderr, "test_eval: RESNET_BIN and RESNET_TEST_V1_CAFFE must be set (run through tests/run.sh)\n");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    setenv("RESNET_WEIGHTS", weights, 1);
    resnet_error err;
    if (resnet_model_load(weights, NULL, &model, &err) != RESNET_OK ||
        resnet_session_create(model, 2, RESNET_TTA_MAX_VIEWS, &session, &err) != RESNET_OK)
        fprintf(stderr, "  %s\n", err.message);

    RUN(test_plain_view_is_the_reference);
    RUN(test_views_geometry);
    RUN(test_views_odd_size_mirror);
    RUN(test_views_bad_arguments);
    RUN(test_modes_table);
    RUN(test_modes_on_easy_samples);
    RUN(test_session_too_small);
    RUN(test_wnids);
    RUN(test_eval_samples);
    RUN(test_eval_bad_input);
    RUN(test_eval_folders);
    RUN(test_classify_tta_cli);
    RUN(test_eval_val1300);

    resnet_session_free(session);
    resnet_model_free(model);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "  could not remove %s\n", tmpdir);
    return TEST_DONE();
}
