/* test_leaks.c - a load-classify-free cycle leaks nothing, error paths included.
 *
 * One cycle: load the weights, create a session (2 workers), classify a good photo, then
 * photos that fail in each way (missing, a directory, not an image, truncated JPEG and PNG,
 * a lying header over the pixel limit), a weight file that fails to load, then free all.
 *
 * Two checks, one per build:
 * - ASan build (make SANITIZE=1): LeakSanitizer looks for unreachable blocks right after the
 *   cycles (and again at exit, as in every test of that build).
 * - plain build: glibc's count of heap bytes in use (mallinfo2: the main arena and mmapped
 *   blocks; its thread cache turned off) plus the large blocks the library maps itself
 *   (rn_aligned_mapped_bytes: packed weights, temporaries of the load) must be
 *   the same after the third cycle as after the second, to the byte; the first cycle warms
 *   up what is allocated once (stdio buffers).
 * Weights: RESNET_TEST_V1_CAFFE (tests/run.sh sets it); photos: the repository's own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "resnet.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define RN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RN_ASAN 1
#endif
#endif

#ifdef RN_ASAN
int __lsan_do_recoverable_leak_check(void); /* <sanitizer/lsan_interface.h> */
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define RN_MALLINFO 1
static size_t heap_in_use(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd + rn_aligned_mapped_bytes();
}
#endif

static const char *weights;
static char tmpdir[] = "/tmp/rn_test_leaks.XXXXXX";

static void write_file(const char *name, const void *data, size_t n) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        if (n) fwrite(data, 1, n, f);
        fclose(f);
    }
}

/* The bad files, made once from a real photo. */
static void make_bad_files(void) {
    size_t n = 0;
    unsigned char *jpg = tu_read_file("tests/data/golden/chelsea.jpg", &n);
    if (jpg) write_file("half.jpg", jpg, n / 2);
    if (jpg) {
        for (size_t i = 2; i + 9 < n; i++) /* 65000 x 65000 in the frame header */
            if (jpg[i] == 0xff && (jpg[i + 1] == 0xc0 || jpg[i + 1] == 0xc2)) {
                jpg[i + 5] = jpg[i + 7] = 0xfd, jpg[i + 6] = jpg[i + 8] = 0xe8;
                break;
            }
        write_file("bomb.jpg", jpg, n);
    }
    free(jpg);
    unsigned char *png = tu_read_file("demo/chelsea.png", &n);
    if (png) write_file("half.png", png, n / 2);
    free(png);
    write_file("notes.jpg", "hello", 5);
    write_file("cut.safetensors", "\x40\0\0\0\0\0\0\0{\"fc.bias\":", 19);
    char dir[256];
    snprintf(dir, sizeof dir, "%s/folder.jpg", tmpdir);
    mkdir(dir, 0700);
}

/* One cycle; returns the number of calls that did not do what they should. */
static int cycle(void) {
    int bad = 0;
    resnet_error err;
    resnet_model *m = NULL, *broken = NULL;
    resnet_session *s = NULL;
    char path[1024];
    if (resnet_model_load(weights, NULL, &m, &err) != RESNET_OK) return 1;
    if (resnet_session_create(m, 2, 1, &s, &err) != RESNET_OK) {
        resnet_model_free(m);
        return 1;
    }
    resnet_prediction top[5];
    bad += resnet_classify_file(s, "tests/data/golden/chelsea.jpg", 5, top, &err) != RESNET_OK;
    static const char *const fails[] = {"missing.jpg", "folder.jpg", "notes.jpg", "half.jpg", "half.png", "bomb.jpg"};
    for (size_t i = 0; i < sizeof fails / sizeof fails[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, fails[i]);
        bad += resnet_classify_file(s, path, 5, top, &err) == RESNET_OK;
    }
    snprintf(path, sizeof path, "%s/cut.safetensors", tmpdir);
    bad += resnet_model_load(path, NULL, &broken, &err) == RESNET_OK;
    resnet_model_free(broken);
    resnet_session_free(s);
    resnet_model_free(m);
    return bad;
}

static void test_cycles_leak_nothing(void) {
    CHECK(cycle() == 0, "first cycle: a call did not succeed or fail as it should");
#ifdef RN_ASAN
    CHECK(cycle() == 0, "second cycle");
    CHECK(__lsan_do_recoverable_leak_check() == 0, "LeakSanitizer found leaks (see above)");
    printf("     LeakSanitizer: no leaks after two cycles\n");
#elif defined(RN_MALLINFO)
    CHECK(cycle() == 0, "second cycle");
    size_t after2 = heap_in_use();
    CHECK(cycle() == 0, "third cycle");
    size_t after3 = heap_in_use();
    CHECK(after3 == after2, "heap in use grew by %zd bytes in one cycle", (ssize_t)(after3 - after2));
    printf("     heap in use after cycles 2 and 3: %zu and %zu bytes\n", after2, after3);
#else
    printf("     (no leak check in this build: use make SANITIZE=1)\n");
#endif
}

int main(int argc, char **argv) {
    (void)argc;
#ifdef RN_MALLINFO
    /* glibc counts the blocks in its per-thread cache (tcache) as in use, so the count would
     * wobble by a few KB: turn the cache off (a tunable read at start-up, hence the re-exec). */
    const char *tun = getenv("GLIBC_TUNABLES");
    if (!tun || !strstr(tun, "glibc.malloc.tcache_count=0")) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s%sglibc.malloc.tcache_count=0", tun ? tun : "", tun ? ":" : "");
        setenv("GLIBC_TUNABLES", buf, 1);
        execv("/proc/self/exe", argv); /* returns only on failure: go on, the check may then be noisy */
    }
#else
    (void)argv;
#endif
    weights = getenv("RESNET_TEST_V1_CAFFE");
    if (!weights) {
        fprintf(stderr, "test_leaks: RESNET_TEST_V1_CAFFE not set (run through tests/run.sh)\n");
        return 1;
    }
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    make_bad_files();
    RUN(test_cycles_leak_nothing);
    static const char *const files[] = {"half.jpg", "bomb.jpg", "half.png", "notes.jpg", "cut.safetensors"};
    char path[256];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/folder.jpg", tmpdir);
    rmdir(path);
    rmdir(tmpdir);
    return TEST_DONE();
}
