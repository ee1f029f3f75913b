/* test_reliability.c - nothing lost, nothing silently wrong (issue 11), at the library level:
 * the atomic writer (stale temporaries, errors), the output-is-an-input check and the kind
 * rule, long error messages keeping their cause, folder walks past PATH_MAX and through link
 * loops, weight files cut while being read (no SIGBUS), and non-finite answers refused (at
 * load when the weights make it certain, per photo otherwise, in the library and the tool).
 *
 * Needs only the default weights (RESNET_TEST_V1_CAFFE, else the cache default) and demo/;
 * RESNET_BIN (default build/resnet) for the checks through the tool. The signal and
 * output-over-input checks of every command are in tests/test_reliability.sh. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "io/atomic.h"
#include "io/fileio.h"
#include "io/safetensors.h"
#include "testutil.h"

static const char *weights;
static const char *bin;

static int write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int exists(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* A pid that no process has now: a child that has exited and been reaped. */
static pid_t dead_pid(void) {
    pid_t p = fork();
    if (p == 0) _exit(0);
    waitpid(p, NULL, 0);
    return p;
}

/* ---- the atomic writer ----------------------------------------------------------------- */

static void test_atomic_writer(void) {
    resnet_error err;
    rn_atomic_file f;
    const char *out = tu_path("out.bin");
    /* temporaries left by writers killed outright, one of a live process, and files of the
     * user's that look like temporaries but are not of our making */
    const long dead = (long)dead_pid();
    char stale[600], stale2[600], live[600], user[4][600];
    snprintf(stale, sizeof stale, "%s.tmp.%ld.0.resnet", out, dead);
    snprintf(stale2, sizeof stale2, "%s.tmp.%ld.17.resnet", out, dead);
    snprintf(live, sizeof live, "%s.tmp.%ld.0.resnet", out, (long)getppid());
    snprintf(user[0], sizeof user[0], "%s.tmp.%ld", out, dead);
    snprintf(user[1], sizeof user[1], "%s.tmp.%ld.0", out, dead);
    snprintf(user[2], sizeof user[2], "%s.tmp.%ld.0.resnet.bak", out, dead);
    snprintf(user[3], sizeof user[3], "%s.tmp.0%ld.0.resnet", out, dead);
    write_file(stale, "x", 1);
    write_file(stale2, "x", 1);
    write_file(live, "y", 1);
    for (int i = 0; i < 4; i++) write_file(user[i], "u", 1);
    CHECK(rn_atomic_open(&f, out, &err) == RESNET_OK, "open: %s", err.message);
    CHECK(!exists(stale) && !exists(stale2), "the dead writer's temporaries %s, %s were not removed", stale, stale2);
    CHECK(exists(live), "a live process's temporary was removed");
    for (int i = 0; i < 4; i++) {
        CHECK(exists(user[i]), "%s, not a name the writer makes, was removed", user[i]);
        unlink(user[i]);
    }
    CHECK(!exists(out), "the output exists before commit");
    CHECK(f.tmp && exists(f.tmp), "no temporary while writing");
    CHECK(rn_write_all(f.fd, "hello", 5) == 0, "write");
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s", f.tmp ? f.tmp : "");
    CHECK(rn_atomic_commit(&f, &err) == RESNET_OK, "commit: %s", err.message);
    CHECK(!exists(tmp), "temporary left after commit");
    size_t n = 0;
    unsigned char *b = tu_read_file(out, &n);
    CHECK(b && n == 5 && memcmp(b, "hello", 5) == 0, "content");
    free(b);
    unlink(live);

    /* abort: the old file stays, no temporary */
    CHECK(rn_atomic_open(&f, out, &err) == RESNET_OK, "open: %s", err.message);
    snprintf(tmp, sizeof tmp, "%s", f.tmp ? f.tmp : "");
    rn_write_all(f.fd, "bye", 3);
    rn_atomic_abort(&f);
    CHECK(!exists(tmp), "temporary left after abort");
    b = tu_read_file(out, &n);
    CHECK(b && n == 5, "abort changed the output");
    free(b);

    /* a commit that cannot rename (the name is a folder): error with the cause, no temporary */
    const char *dir = tu_path("adir");
    mkdir(dir, 0755);
    CHECK(rn_atomic_open(&f, dir, &err) == RESNET_OK, "open: %s", err.message);
    snprintf(tmp, sizeof tmp, "%s", f.tmp ? f.tmp : "");
    CHECK(rn_atomic_commit(&f, &err) != RESNET_OK, "rename over a folder succeeded");
    CHECK(strstr(err.message, "directory") != NULL, "no cause in '%s'", err.message);
    CHECK(!exists(tmp), "temporary left after a failed commit");
    rmdir(dir);

    /* a file name near NAME_MAX: the temporary's name must still fit */
    char longname[300];
    memset(longname, 'n', 250);
    longname[250] = '\0';
    const char *lp = tu_path(longname);
    CHECK(rn_atomic_open(&f, lp, &err) == RESNET_OK, "open of a 250-byte name: %s", err.message);
    if (f.tmp) CHECK(rn_atomic_commit(&f, &err) == RESNET_OK && exists(lp), "commit of a 250-byte name: %s", err.message);
    unlink(lp);
    unlink(out);
}

/* ---- outputs never replace inputs ------------------------------------------------------- */

static void test_output_check(void) {
    resnet_error err;
    const char *photo = tu_path("photo.png"), *hard = tu_path("hard.png"), *soft = tu_path("soft.png");
    size_t n;
    unsigned char *png = tu_read_file("demo/coffee.png", &n);
    CHECK(png != NULL, "demo/coffee.png");
    if (!png) return;
    write_file(photo, png, n);
    free(png);
    link(photo, hard);
    symlink("photo.png", soft);
    rn_file_id in;
    CHECK(rn_file_id_of(photo, &in), "id");
    CHECK(rn_output_check(photo, RN_KIND_PNG, 1, &in, 1, &err) != RESNET_OK, "the input itself accepted");
    CHECK(rn_output_check(hard, RN_KIND_PNG, 1, &in, 1, &err) != RESNET_OK, "a hard link to the input accepted");
    CHECK(rn_output_check(soft, RN_KIND_PNG, 1, &in, 1, &err) != RESNET_OK, "a symbolic link to the input accepted");
    CHECK(strstr(err.message, "input") != NULL, "message: %s", err.message);
    /* not an input, but a photo, not a PNG we wrote: refused without force, accepted with it */
    CHECK(rn_output_check(photo, RN_KIND_PNG, 0, NULL, 0, &err) != RESNET_OK, "a photo taken for a cam output");
    CHECK(strstr(err.message, "--force") != NULL, "message does not say how: %s", err.message);
    CHECK(rn_output_check(photo, RN_KIND_PNG, 1, NULL, 0, &err) == RESNET_OK, "--force refused: %s", err.message);
    CHECK(rn_output_check(photo, RN_KIND_F32, 0, NULL, 0, &err) != RESNET_OK, "a photo taken for a feature matrix");
    CHECK(rn_output_check(photo, RN_KIND_SAFETENSORS, 0, NULL, 0, &err) != RESNET_OK, "a photo taken for weights");
    /* new names, empty files: fine; folders: never */
    CHECK(rn_output_check(tu_path("new.npy"), RN_KIND_NPY, 0, &in, 1, &err) == RESNET_OK, "a new name refused");
    write_file(tu_path("empty"), "", 0);
    CHECK(rn_output_check(tu_path("empty"), RN_KIND_NPY, 0, NULL, 0, &err) == RESNET_OK, "an empty file refused");
    CHECK(rn_output_check(tu_tmpdir(), RN_KIND_NPY, 1, NULL, 0, &err) != RESNET_OK, "a folder accepted");
    /* the weights are safetensors but not a head, and the other way round (the file itself: a
     * link to it, which a test setup may make, is refused as any linked output is) */
    char *wreal = realpath(weights, NULL);
    const char *wfile = wreal ? wreal : weights;
    CHECK(rn_output_check(wfile, RN_KIND_SAFETENSORS, 0, NULL, 0, &err) == RESNET_OK, "weights not recognised: %s",
          err.message);
    CHECK(rn_output_check(wfile, RN_KIND_HEAD, 0, NULL, 0, &err) != RESNET_OK, "weights taken for a head");
    free(wreal);
    write_file(tu_path("p.tsv"), RN_PREDICTIONS_HEADER "\na\t1\n", strlen(RN_PREDICTIONS_HEADER) + 5);
    CHECK(rn_output_check(tu_path("p.tsv"), RN_KIND_PREDICTIONS, 0, NULL, 0, &err) == RESNET_OK, "predictions: %s",
          err.message);
    write_file(tu_path("labels.tsv"), "file\tlabel\na.png\t1\n", 19);
    CHECK(rn_output_check(tu_path("labels.tsv"), RN_KIND_PREDICTIONS, 0, NULL, 0, &err) != RESNET_OK,
          "labels.tsv taken for predictions");
    unlink(photo);
    unlink(hard);
    unlink(soft);
    unlink(tu_path("empty"));
    unlink(tu_path("p.tsv"));
    unlink(tu_path("labels.tsv"));
}

/* ---- long messages ----------------------------------------------------------------------- */

static void test_long_messages(void) {
    char path[3000];
    memset(path, 'p', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    memcpy(path + sizeof path - 12, "/photo.jpg", 10);
    resnet_error err;
    rn_fail(&err, RESNET_E_IO, "%s: cannot open: %s", path, "File name too long");
    size_t n = strlen(err.message);
    CHECK(n < sizeof err.message, "length %zu", n);
    CHECK(n > 400, "shortened too much: %zu bytes", n);
    CHECK(strstr(err.message, ": cannot open: File name too long") != NULL, "the cause is lost: ...%s",
          err.message + (n > 60 ? n - 60 : 0));
    CHECK(strstr(err.message, "...") != NULL && strncmp(err.message, "pppp", 4) == 0, "not cut in the middle");
    /* two long paths: both shortened, the end kept */
    rn_fail(&err, RESNET_E_IO, "%s: cannot rename %s: %s", path, path, "No space left on device");
    n = strlen(err.message);
    CHECK(n < sizeof err.message && strstr(err.message, "No space left on device"), "two paths: %s",
          err.message + (n > 60 ? n - 60 : 0));
    /* short messages are untouched */
    rn_fail(&err, RESNET_E_IO, "%s: %d", "short", 5);
    CHECK(strcmp(err.message, "short: 5") == 0, "short message changed: %s", err.message);
    char pb[64];
    rn_printable(path, pb, sizeof pb);
    CHECK(strlen(pb) < sizeof pb && strstr(pb, "photo.jpg") && strstr(pb, "..."), "rn_printable keeps the end: %s",
          pb);
}

/* One line whatever a name holds: a newline (or another control character) in a path is
 * written \xNN, where it used to split the message a caller prints or logs. */
static void test_one_line_messages(void) {
    resnet_error err;
    float *out = malloc((size_t)3 * 224 * 224 * sizeof(float));
    if (!out) return;
    CHECK(resnet_preprocess_file("no such\nphoto\r.png", RESNET_NORM_CAFFE, out, &err) == RESNET_E_IO, "status %d",
          err.status);
    CHECK(strcmp(err.message, "no such\\x0aphoto\\x0d.png: cannot open: No such file or directory") == 0,
          "message: %s", err.message);
    free(out);
    /* escaped, then shortened: still within the message, the cause kept */
    char path[2000];
    memset(path, '\n', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    rn_fail(&err, RESNET_E_IO, "%s: cannot open: %s", path, "File name too long");
    CHECK(strlen(err.message) < sizeof err.message && !strpbrk(err.message, "\n\r") &&
              strstr(err.message, "\\x0a") && strstr(err.message, ": cannot open: File name too long"),
          "long: %s", err.message);
}

/* ---- folders ---------------------------------------------------------------------------- */

static void test_walk(void) {
    char root[600];
    snprintf(root, sizeof root, "%s", tu_path("walk"));
    mkdir(root, 0755);
    size_t n;
    unsigned char *png = tu_read_file("demo/coffee.png", &n);
    if (!png) return;
    write_file(tu_path("walk/a.png"), png, n);
    /* a tree deeper than PATH_MAX, built through descriptors, with a photo at the bottom */
    char name[201];
    memset(name, 'd', 200);
    name[200] = '\0';
    int fd = open(root, O_RDONLY | O_DIRECTORY);
    for (int i = 0; i < 22 && fd >= 0; i++) {
        mkdirat(fd, name, 0755);
        int sub = openat(fd, name, O_RDONLY | O_DIRECTORY);
        close(fd);
        fd = sub;
    }
    CHECK(fd >= 0, "deep tree");
    if (fd >= 0) {
        int pf = openat(fd, "deep.png", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        CHECK(pf >= 0 && rn_write_all(pf, png, n) == 0, "deep photo");
        if (pf >= 0) close(pf);
        close(fd);
    }
    free(png);
    /* a link loop between two folders, and a link to itself */
    symlink("l2", tu_path("walk/l1"));
    symlink("l1", tu_path("walk/l2"));
    symlink("self.jpg", tu_path("walk/self.jpg"));
    resnet_file_list list;
    resnet_error err;
    CHECK(resnet_list_images(root, &list, &err) == RESNET_OK, "%s", err.message);
    int deep = 0, loops = 0;
    for (int i = 0; i < list.count; i++) deep += strstr(list.paths[i], "deep.png") != NULL;
    for (int i = 0; i < list.n_problems; i++) {
        deep += strstr(list.problems[i], "deep.png") != NULL || strstr(list.problems[i], "too long") != NULL;
        loops += strstr(list.problems[i], "symbolic links") != NULL;
        CHECK(strlen(list.problems[i]) < 512, "problem too long");
    }
    CHECK(deep == 1, "the photo past PATH_MAX is neither listed nor reported (%d)", deep);
    CHECK(loops == 3, "link loops reported %d times, expected 3 (l1, l2, self.jpg)", loops);
    /* it is listed, so reading it must fail with the cause in the message */
    for (int i = 0; i < list.count; i++) {
        if (!strstr(list.paths[i], "deep.png")) continue;
        float *in = malloc(3 * 224 * 224 * sizeof(float));
        CHECK(resnet_preprocess_file(list.paths[i], RESNET_NORM_CAFFE, in, &err) != RESNET_OK, "read past PATH_MAX");
        CHECK(strstr(err.message, "too long") && strstr(err.message, "deep.png"), "message: %.80s ... %s",
              err.message, err.message + (strlen(err.message) > 80 ? strlen(err.message) - 80 : 0));
        free(in);
    }
    resnet_file_list_free(&list);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "cleanup");
}

/* ---- weight files ------------------------------------------------------------------------ */

/* Offset in the file of tensor `name`'s data (from the header). */
static size_t tensor_offset(const unsigned char *file, size_t size, const char *name) {
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | file[i];
    if (hl + 8 > size) return 0;
    char key[128];
    snprintf(key, sizeof key, "\"%s\"", name);
    char *hdr = malloc(hl + 1);
    memcpy(hdr, file + 8, hl);
    hdr[hl] = '\0';
    size_t off = 0;
    char *p = strstr(hdr, key);
    if (p && (p = strstr(p, "\"data_offsets\":["))) off = 8 + hl + strtoull(p + 16, NULL, 10);
    free(hdr);
    return off;
}

/* The default weights with fc.weight[c][col] = v for every class c (col < 0: every column). */
static int make_weights(const char *out, int col, float v) {
    size_t n;
    unsigned char *w = tu_read_file(weights, &n);
    if (!w) return -1;
    size_t off = tensor_offset(w, n, "fc.weight");
    if (!off || off + 1000 * 2048 * 4 > n) {
        free(w);
        return -1;
    }
    for (int c = 0; c < 1000; c++)
        for (int k = 0; k < 2048; k++)
            if (col < 0 || k == col) memcpy(w + off + ((size_t)c * 2048 + k) * 4, &v, 4);
    int rc = write_file(out, w, n);
    free(w);
    return rc;
}

/* resnet_run over one photo in memory under a name of two lines; its result's status and
 * message kept (test_nonfinite). */
typedef struct one_item {
    const void *data;
    size_t size;
    int given, status;
    char message[600];
} one_item;

static int one_item_source(void *ctx, int may_block, resnet_item *item) {
    one_item *o = ctx;
    (void)may_block;
    if (o->given++) return RESNET_SOURCE_END;
    item->data = o->data;
    item->size = o->size;
    item->name = "up\nload.png";
    return RESNET_SOURCE_ITEM;
}

static int one_item_result(void *ctx, const resnet_item_result *r) {
    one_item *o = ctx;
    o->status = r->status;
    snprintf(o->message, sizeof o->message, "%s", r->message);
    return 0;
}

static void test_nonfinite(void) {
    resnet_error err;
    resnet_model *m = NULL;
    char cmd[2048], out[8192];

    /* fc weights of 3e38: every logit overflows, whatever the photo: refused at load */
    char huge[600];
    snprintf(huge, sizeof huge, "%s", tu_path("huge.safetensors"));
    CHECK(make_weights(huge, -1, 3e38f) == 0, "make %s", huge);
    CHECK(resnet_model_load(huge, NULL, &m, &err) != RESNET_OK, "weights of 3e38 loaded");
    CHECK(strstr(err.message, "float range") != NULL, "message: %s", err.message);
    resnet_model_free(m);
    m = NULL;
    snprintf(cmd, sizeof cmd, "%s classify --json --weights %s demo/chelsea.png 2>&1", bin, huge);
    int rc = tu_run(cmd, out, sizeof out);
    CHECK(rc != 0 && !strstr(out, "nan") && !strstr(out, "inf\""), "classify: exit %d, %s", rc, out);
    unlink(huge);

    /* One column of 1e38: loads (a row sums to 1e38), but the photos whose pooled feature
     * there is above 3.4 overflow: those photos' errors, not answers. */
    CHECK(resnet_model_load(weights, NULL, &m, &err) == RESNET_OK, "%s", err.message);
    if (!m) return;
    resnet_session *s = NULL;
    resnet_session_create(m, 1, 1, &s, &err);
    float *in = malloc(3 * 224 * 224 * sizeof(float)), logits[1000], feat[2048];
    CHECK(resnet_preprocess_file("demo/chelsea.png", resnet_model_norm(m), in, &err) == RESNET_OK, "%s", err.message);
    CHECK(resnet_forward(s, in, 1, logits, feat, &err) == RESNET_OK, "%s", err.message);
    int col = 0, small = -1;
    for (int k = 1; k < 2048; k++)
        if (feat[k] > feat[col]) col = k;
    for (int k = 0; k < 2048; k++)
        if (feat[k] > 0.05f && feat[k] < 1.0f && (small < 0 || feat[k] > feat[small])) small = k;
    CHECK(feat[col] > 4.0f, "largest pooled feature %g: the test needs one above 3.4", feat[col]);
    resnet_session_free(s);
    resnet_model_free(m);
    free(in);
    char big[600];
    snprintf(big, sizeof big, "%s", tu_path("big.safetensors"));
    CHECK(make_weights(big, col, 1e38f) == 0, "make %s", big);
    m = NULL;
    CHECK(resnet_model_load(big, NULL, &m, &err) == RESNET_OK, "one column of 1e38 refused: %s", err.message);
    if (m) {
        resnet_session_create(m, 1, 1, &s, &err);
        resnet_prediction top[5];
        CHECK(resnet_classify_file(s, "demo/chelsea.png", 5, top, &err) != RESNET_OK,
              "resnet_classify_file answered from an infinite logit (top-1 %d, %g)", top[0].index, top[0].prob);
        CHECK(strstr(err.message, "not finite") != NULL, "message: %s", err.message);
        CHECK(resnet_classify_file_tta(s, "demo/chelsea.png", RESNET_TTA_NONE, 5, top, &err) != RESNET_OK,
              "resnet_classify_file_tta answered");
        /* the runner's error for it is one line too, whatever the item's name */
        one_item o = {0};
        o.data = tu_read_file("demo/chelsea.png", &o.size);
        resnet_run_options ro;
        resnet_run_options_init(&ro);
        ro.want = RESNET_WANT_LOGITS;
        CHECK(o.data && resnet_run(s, one_item_source, &o, one_item_result, &o, &ro, &err) == RESNET_OK, "%s",
              err.message);
        CHECK(o.status == RESNET_E_WEIGHTS && strstr(o.message, "up\\x0aload.png: ") && !strchr(o.message, '\n') &&
                  strstr(o.message, "not finite"),
              "resnet_run: %d '%s'", o.status, o.message);
        free((void *)o.data);
        resnet_session_free(s);
        resnet_model_free(m);
    }
    /* One column of 1e38 where the feature is below 1: every logit is finite, about
     * 1e38 x that feature, and float rounding swallows all the rest: 1000 equal logits, which
     * top-k would list as classes 0, 1, 2... An error too, not an answer. */
    char flat[600];
    snprintf(flat, sizeof flat, "%s", tu_path("flat.safetensors"));
    CHECK(small >= 0, "no pooled feature between 0.05 and 1");
    if (small >= 0 && make_weights(flat, small, 1e38f) == 0) {
        m = NULL;
        CHECK(resnet_model_load(flat, NULL, &m, &err) == RESNET_OK, "%s", err.message);
        if (m) {
            resnet_session_create(m, 1, 1, &s, &err);
            resnet_prediction top[5];
            CHECK(resnet_classify_file(s, "demo/chelsea.png", 5, top, &err) != RESNET_OK,
                  "answered from 1000 equal logits (top-1 %d, %g)", top[0].index, top[0].prob);
            CHECK(strstr(err.message, "all equal") != NULL, "message: %s", err.message);
            resnet_session_free(s);
            resnet_model_free(m);
        }
        unlink(flat);
    }

    snprintf(cmd, sizeof cmd, "%s classify --json --weights %s demo/chelsea.png 2>&1", bin, big);
    rc = tu_run(cmd, out, sizeof out);
    CHECK(rc != 0 && !strstr(out, "nan") && !strstr(out, "\"top\""), "classify: exit %d, %s", rc, out);
    snprintf(cmd, sizeof cmd, "%s classify --weights %s demo/ 2>&1", bin, big);
    rc = tu_run(cmd, out, sizeof out);
    CHECK(rc != 0 && !strstr(out, "nan") && strstr(out, "not finite"), "classify DIR: exit %d, %s", rc, out);
    /* eval: an error, not a wrong answer */
    mkdir(tu_path("set"), 0755);
    size_t n;
    unsigned char *png = tu_read_file("demo/chelsea.png", &n);
    if (png) write_file(tu_path("set/c.png"), png, n);
    free(png);
    write_file(tu_path("set/labels.tsv"), "file\tlabel\nc.png\t285\n", 21);
    snprintf(cmd, sizeof cmd, "%s eval --json --weights %s %s 2>&1", bin, big, tu_path("set"));
    rc = tu_run(cmd, out, sizeof out);
    CHECK(rc != 0 && strstr(out, "not finite") && !strstr(out, "nan"), "eval: exit %d, %s", rc, out);
    CHECK(strstr(out, "\"images\": 0") || strstr(out, "\"classified\": 0") || strstr(out, "\"skipped\": 1"),
          "eval counted the photo as classified: %s", out);
    unlink(tu_path("set/c.png"));
    unlink(tu_path("set/labels.tsv"));
    rmdir(tu_path("set"));
    unlink(big);
}

/* A weight file cut short by another program while it is open: an error, never SIGBUS. */
static void test_truncated_while_open(void) {
    char w[600];
    snprintf(w, sizeof w, "%s", tu_path("cut.safetensors"));
    size_t n;
    unsigned char *b = tu_read_file(weights, &n);
    CHECK(b && write_file(w, b, n) == 0, "copy");
    free(b);
    pid_t p = fork();
    if (p == 0) { /* a child, so a SIGBUS is a failed check, not a dead test */
        rn_safetensors *st;
        resnet_error err;
        if (rn_st_open(w, &st, &err) != RESNET_OK) _exit(3);
        if (truncate(w, 4096) != 0) _exit(4);
        const rn_tensor *t = rn_st_find(st, "fc.weight");
        float *dst = t ? malloc(t->nbytes) : NULL;
        if (!dst) _exit(5);
        resnet_status s = rn_st_read_f32(st, t, dst, &err);
        _exit(s != RESNET_OK && strstr(err.message, "shorter") ? 0 : 6);
    }
    int status = 0;
    waitpid(p, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %s %d", WIFSIGNALED(status) ? "killed by signal" : "exit",
          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    /* and the whole load, file cut at its start */
    b = tu_read_file(weights, &n);
    write_file(w, b, n);
    free(b);
    p = fork();
    if (p == 0) {
        resnet_model *m = NULL;
        resnet_error err;
        pid_t cutter = fork();
        if (cutter == 0) {
            truncate(w, 1 << 20);
            _exit(0);
        }
        resnet_status s = resnet_model_load(w, NULL, &m, &err);
        waitpid(cutter, NULL, 0);
        resnet_model_free(m);
        (void)s; /* either loaded whole (cut too late) or a clear error: both fine */
        _exit(0);
    }
    waitpid(p, &status, 0);
    CHECK(WIFEXITED(status), "load while the file is cut: killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    unlink(w);
}

/* The feature cache's folder is a file: the warning says so (not "damaged"). */
static void test_featcache_warning(void) {
    char cmd[2048], out[8192];
    mkdir(tu_path("cache"), 0755);
    write_file(tu_path("cache/features"), "not a folder", 12);
    snprintf(cmd, sizeof cmd, "RESNET_CACHE=%s %s similar --weights %s demo/chelsea.png demo 2>&1", tu_path("cache"), bin,
             weights);
    tu_run(cmd, out, sizeof out);
    CHECK(!strstr(out, "damaged") && strstr(out, "Not a directory"), "%s", out);
    unlink(tu_path("cache/features"));
    /* the cache file itself a folder */
    mkdir(tu_path("cache/features"), 0755);
    tu_run(cmd, out, sizeof out); /* makes the file */
    DIR *d = opendir(tu_path("cache/features"));
    struct dirent *e;
    char file[700] = "";
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') snprintf(file, sizeof file, "%s/%s", tu_path("cache/features"), e->d_name);
    if (d) closedir(d);
    CHECK(file[0], "no cache file written");
    unlink(file);
    mkdir(file, 0755);
    tu_run(cmd, out, sizeof out);
    CHECK(!strstr(out, "damaged") && strstr(out, "directory"), "%s", out);
    rmdir(file);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tu_path("cache"));
    CHECK(system(cmd) == 0, "cleanup");
}

/* A feature cache whose stored features are damaged (a NaN) is rebuilt, not used: used, it made
 * every similarity 0 and stopped train-head without naming the cache. */
static void test_featcache_damaged_values(void) {
    char cmd[2048], out[8192], want[8192];
    mkdir(tu_path("cache3"), 0755);
    snprintf(cmd, sizeof cmd, "RESNET_CACHE=%s %s similar --weights %s demo/coffee.png demo 2>&1", tu_path("cache3"), bin,
             weights);
    int rc = tu_run(cmd, want, sizeof want); /* computes, and writes the cache */
    CHECK(rc == 0 && strstr(want, "chelsea.png"), "exit %d, %s", rc, want);
    DIR *d = opendir(tu_path("cache3/features"));
    struct dirent *e;
    char file[700] = "";
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') snprintf(file, sizeof file, "%s/%s", tu_path("cache3/features"), e->d_name);
    if (d) closedir(d);
    size_t n = 0;
    unsigned char *b = file[0] ? tu_read_file(file, &n) : NULL;
    CHECK(b && n > 40, "no cache file written");
    if (b && n > 40) {
        /* magic 8, byte order 4, fingerprint 8, dim 4, count 4; then the first entry: key length 4,
         * key, size, seconds, nanoseconds (8 each), features */
        uint32_t klen;
        memcpy(&klen, b + 28, 4);
        const float nan = NAN;
        if (32 + (size_t)klen + 24 + 4 <= n) memcpy(b + 32 + klen + 24, &nan, 4);
        write_file(file, b, n);
        rc = tu_run(cmd, out, sizeof out);
        CHECK(rc == 0 && strstr(out, "damaged") && strstr(out, want + strspn(want, " ")),
              "exit %d, with a NaN in the cache: %s (without: %s)", rc, out, want);
    }
    free(b);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tu_path("cache3"));
    CHECK(system(cmd) == 0, "cleanup");
}

/* eval --predictions that cannot be written says why (before the run, not after it). */
static void test_predictions_unwritable(void) {
    char cmd[2048], out[8192];
    mkdir(tu_path("set2"), 0755);
    size_t n;
    unsigned char *png = tu_read_file("demo/coffee.png", &n);
    if (png) write_file(tu_path("set2/c.png"), png, n);
    free(png);
    write_file(tu_path("set2/labels.tsv"), "file\tlabel\nc.png\t967\n", 21);
    mkdir(tu_path("adir"), 0755);
    snprintf(cmd, sizeof cmd, "%s eval --weights %s %s --predictions %s 2>&1", bin, weights, tu_path("set2"),
             tu_path("adir"));
    int rc = tu_run(cmd, out, sizeof out);
    CHECK(rc != 0 && strstr(out, "not a regular file"), "a folder: exit %d, %s", rc, out);
    snprintf(cmd, sizeof cmd, "%s eval --weights %s %s --predictions %s 2>&1", bin, weights, tu_path("set2"),
             tu_path("nowhere/p.tsv"));
    rc = tu_run(cmd, out, sizeof out);
    CHECK(rc != 0 && strstr(out, "No such file or directory"), "a missing folder: exit %d, %s", rc, out);
    rmdir(tu_path("adir"));
    unlink(tu_path("set2/c.png"));
    unlink(tu_path("set2/labels.tsv"));
    rmdir(tu_path("set2"));
}

static const char *default_weights(void) {
    static char buf[PATH_MAX];
    const char *w = getenv("RESNET_TEST_V1_CAFFE");
    if (w && *w) return w;
    const char *dir = getenv("RESNET_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (dir && *dir) snprintf(buf, sizeof buf, "%s/resnet50-v1-caffe.safetensors", dir);
    else if (xdg && *xdg) snprintf(buf, sizeof buf, "%s/resnet/resnet50-v1-caffe.safetensors", xdg);
    else snprintf(buf, sizeof buf, "%s/.cache/resnet/resnet50-v1-caffe.safetensors", home ? home : ".");
    return buf;
}

int main(void) {
    tu_make_tmpdir("rn_test_reliability.");
    weights = default_weights();
    bin = getenv("RESNET_BIN");
    if (!bin || !*bin) bin = "build/resnet";
    RUN(test_atomic_writer);
    RUN(test_output_check);
    RUN(test_long_messages);
    RUN(test_one_line_messages);
    RUN(test_walk);
    RUN(test_truncated_while_open);
    RUN(test_nonfinite);
    RUN(test_featcache_warning);
    RUN(test_featcache_damaged_values);
    RUN(test_predictions_unwritable);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tu_tmpdir());
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tu_tmpdir());
    return TEST_DONE();
}
