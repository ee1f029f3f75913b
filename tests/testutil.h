/* testutil.h - a minimal test harness: CHECK() records failures and goes on,
 * TEST_MAIN() prints "N passed, N failed" and exits non-zero on any failure.
 *
 *   static void test_foo(void) { CHECK(1 + 1 == 2, "arithmetic"); }
 *   int main(void) { RUN(test_foo); return TEST_DONE(); }
 */
#ifndef RN_TESTUTIL_H
#define RN_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tu_checks_failed, tu_tests_passed, tu_tests_failed;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            tu_checks_failed++;                                                 \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

#define RUN(fn)                                                                 \
    do {                                                                        \
        int before_ = tu_checks_failed;                                         \
        fn();                                                                   \
        if (tu_checks_failed == before_) {                                      \
            tu_tests_passed++;                                                  \
            printf("ok   %s\n", #fn);                                           \
        } else {                                                                \
            tu_tests_failed++;                                                  \
            printf("FAIL %s\n", #fn);                                           \
        }                                                                       \
        fflush(stdout);                                                         \
    } while (0)

#define TEST_DONE()                                                             \
    (printf("%d passed, %d failed\n", tu_tests_passed, tu_tests_failed),        \
     tu_tests_failed ? 1 : 0)

/* Where ../shared sits (tests run from the repository root); override with RESNET_SHARED. */
static inline const char *tu_shared(void) {
    const char *s = getenv("RESNET_SHARED");
    return s ? s : "../shared";
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

#endif
