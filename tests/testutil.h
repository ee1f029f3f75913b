/* testutil.h - a minimal test harness: CHECK() records failures and goes on,
 * TEST_DONE() prints "N passed, N failed" (", N skipped" when some were) and exits non-zero
 * on any failure.
 *
 *   static void test_foo(void) { CHECK(1 + 1 == 2, "arithmetic"); }
 *   int main(void) { RUN(test_foo); return TEST_DONE(); }
 *
 * Two tiers: everything a clone of the repository holds is always tested (tier 1); tests
 * that need ../shared (the ImageNet photos, the reference's outputs) start with
 *   if (!tu_need_shared("images/samples")) return;
 * and are skipped, with one line saying why, on a machine without it (tier 2).
 */
#ifndef RN_TESTUTIL_H
#define RN_TESTUTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int tu_checks_failed, tu_tests_passed, tu_tests_failed, tu_tests_skipped;
static char tu_skip_reason[1200]; /* set by TU_SKIP inside a test: RUN counts it as skipped */

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            tu_checks_failed++;                                                 \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

/* Ends nothing by itself: the test returns after it. A test that also failed a check
 * before skipping counts as failed. */
#define TU_SKIP(...) snprintf(tu_skip_reason, sizeof tu_skip_reason, __VA_ARGS__)

/* Runs a shell command (popen); its stdout, at most cap - 1 bytes, into out (the command adds
 * 2>&1 to have its errors too). Returns its exit status, or 128 + the signal that killed it,
 * or -1 when it could not be started. */
static inline int tu_run(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define RUN(fn)                                                                 \
    do {                                                                        \
        int before_ = tu_checks_failed;                                         \
        tu_skip_reason[0] = 0;                                                  \
        fn();                                                                   \
        if (tu_checks_failed == before_ && tu_skip_reason[0]) {                 \
            tu_tests_skipped++;                                                 \
            printf("skip %s: %s\n", #fn, tu_skip_reason);                       \
        } else if (tu_checks_failed == before_) {                               \
            tu_tests_passed++;                                                  \
            printf("ok   %s\n", #fn);                                           \
        } else {                                                                \
            tu_tests_failed++;                                                  \
            printf("FAIL %s\n", #fn);                                           \
        }                                                                       \
        fflush(stdout);                                                         \
    } while (0)

#define TEST_DONE()                                                             \
    (tu_tests_skipped ? printf("%d passed, %d failed, %d skipped\n", tu_tests_passed,  \
                               tu_tests_failed, tu_tests_skipped)                \
                      : printf("%d passed, %d failed\n", tu_tests_passed, tu_tests_failed), \
     tu_tests_failed ? 1 : 0)

/* Where ../shared sits (tests run from the repository root); override with RESNET_SHARED. */
static inline const char *tu_shared(void) {
    const char *s = getenv("RESNET_SHARED");
    return s ? s : "../shared";
}

/* Whether ../shared/<what> exists. A person who clones the project has no ../shared. */
static inline int tu_have_shared(const char *what) {
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", tu_shared(), what);
    return stat(path, &st) == 0;
}

/* tu_have_shared, and if not, marks the running test skipped (tier 2), saying what it needed;
 * a failure instead under RESNET_REQUIRE_SHARED=1 (CI, where ../shared must be whole). */
static inline int tu_need_shared(const char *what) {
    if (tu_have_shared(what)) return 1;
    const char *require = getenv("RESNET_REQUIRE_SHARED");
    CHECK(!require || strcmp(require, "1") != 0, "RESNET_REQUIRE_SHARED=1 but %s/%s is not there", tu_shared(), what);
    TU_SKIP("needs %s/%s, which is not there (set RESNET_SHARED if shared/ is elsewhere)", tu_shared(), what);
    return 0;
}

/* Reads a whole file; returns malloc'd bytes (caller frees) or NULL. */
static inline unsigned char *tu_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    if (buf && size) *size = (size_t)n;
    return buf;
}

/* Writes n bytes to path (replacing it); exits 2 if it cannot. */
static inline void tu_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

/* ---- a temporary folder for the test program's files -------------------------------------- */

/* Its path ("" until tu_make_tmpdir). */
static inline char *tu_tmpdir(void) {
    static char dir[512];
    return dir;
}

/* Makes a fresh folder $TMPDIR/<prefix>XXXXXX (or under /tmp); exits 2 if it cannot. */
static inline void tu_make_tmpdir(const char *prefix) {
    const char *base = getenv("TMPDIR");
    snprintf(tu_tmpdir(), 512, "%s/%sXXXXXX", base && *base ? base : "/tmp", prefix);
    if (!mkdtemp(tu_tmpdir())) {
        perror("mkdtemp");
        exit(2);
    }
}

/* tmpdir/name; four results may be in use at once. */
static inline const char *tu_path(const char *name) {
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tu_tmpdir(), name);
    return buf[k];
}

/* Removes the files and empty subfolders in the folder, then the folder. */
static inline void tu_remove_tmpdir(void) {
    DIR *d = opendir(tu_tmpdir());
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        const char *p = tu_path(e->d_name);
        if (unlink(p) != 0) rmdir(p);
    }
    if (d) closedir(d);
    rmdir(tu_tmpdir());
}

/* How many files in the folder have `part` in their name (leftover temporary files). */
static inline int tu_count_files_like(const char *part) {
    DIR *d = opendir(tu_tmpdir());
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, part)) n++;
    if (d) closedir(d);
    return n;
}

#endif
