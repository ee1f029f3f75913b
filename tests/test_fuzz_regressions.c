/* test_fuzz_regressions.c - every input a fuzz harness ever crashed on (fuzz/regressions/
 * <harness>/, one file each) runs again here, through the harness code itself, so a fixed
 * crash stays fixed in every build: plain gcc, and ASan + UBSan (make SANITIZE=1).
 *
 * The three harnesses (fuzz/fuzz_*.c) are included under other names; their checks, which
 * abort under libFuzzer, are counted as failures here (FUZZ_FAIL). A crash is still a crash:
 * the suite then ends without its summary line and tests/run.sh counts that as a failure.
 * Run from the repository root (tests/run.sh does).
 */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static jmp_buf fuzz_jump;
static char fuzz_what[512];

#define FUZZ_FAIL(what)                                                                   \
    do {                                                                                  \
        snprintf(fuzz_what, sizeof fuzz_what, "%s:%d: %s", __FILE__, __LINE__, what);     \
        longjmp(fuzz_jump, 1);                                                            \
    } while (0)

#define FUZZ_ENTRY fuzz_image_one
#include "../fuzz/fuzz_image.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_safetensors_one
#include "../fuzz/fuzz_safetensors.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_tfjs_one
#include "../fuzz/fuzz_tfjs.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_serve_one
#include "../fuzz/fuzz_serve.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_onnx_one
#include "../fuzz/fuzz_onnx.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_oip_one
#include "../fuzz/fuzz_oip.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_head_one
#include "../fuzz/fuzz_head.c"
#undef FUZZ_ENTRY

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Some saved inputs once made a harness loop for hours: a watchdog turns a hang back into a
 * failure that names the input. */
static const char *current_input;

static void on_alarm(int sig) {
    (void)sig;
    char msg[600];
    int n = snprintf(msg, sizeof msg, "test_fuzz_regressions: %s still running after 120 s: a hang\n",
                     current_input ? current_input : "?");
    if (write(2, msg, (size_t)n)) {}
    _exit(1);
}

/* Runs one input; 1 if the harness's checks held. */
static int run_one(fuzz_fn fn, const char *path) {
    size_t n = 0;
    unsigned char *data = tu_read_file(path, &n);
    CHECK(data != NULL, "cannot read %s", path);
    if (!data) return 0;
    /* the harness sees a buffer of exactly n bytes, as under libFuzzer */
    unsigned char *exact = malloc(n ? n : 1);
    if (n) memcpy(exact, data, n);
    free(data);
    volatile int ok = 1;
    current_input = path;
    signal(SIGALRM, on_alarm);
    alarm(120);
    if (setjmp(fuzz_jump) == 0) fn(exact, n);
    else ok = 0;
    alarm(0);
    CHECK(ok, "%s: %s", path, fuzz_what);
    free(exact);
    return ok;
}

/* Every file of fuzz/regressions/<name>/, in name order. */
static void run_dir(const char *name, fuzz_fn fn) {
    char dir[256];
    snprintf(dir, sizeof dir, "fuzz/regressions/%s", name);
    DIR *d = opendir(dir);
    char *files[4096];
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < sizeof files / sizeof files[0]) {
        if (e->d_name[0] == '.') continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        files[n] = malloc(len);
        snprintf(files[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    if (d) closedir(d);
    qsort(files, n, sizeof files[0], cmp_str);
    size_t good = 0;
    for (size_t i = 0; i < n; i++) {
        good += (size_t)run_one(fn, files[i]);
        free(files[i]);
    }
    printf("     %s: %zu of %zu regression inputs pass\n", name, good, n);
}

static void test_image_regressions(void) { run_dir("image", fuzz_image_one); }
static void test_safetensors_regressions(void) { run_dir("safetensors", fuzz_safetensors_one); }
static void test_tfjs_regressions(void) { run_dir("tfjs", fuzz_tfjs_one); }
static void test_serve_regressions(void) { run_dir("serve", fuzz_serve_one); }
static void test_onnx_regressions(void) { run_dir("onnx", fuzz_onnx_one); }
static void test_oip_regressions(void) { run_dir("oip", fuzz_oip_one); }
static void test_head_regressions(void) { run_dir("head", fuzz_head_one); }

/* The harnesses themselves on inputs made here: a JPEG signature and nothing more (refused), the
 * smallest valid safetensors file, a model.json that is not JSON, an ONNX model cut short. */
static void test_harnesses_run(void) {
    static const unsigned char st[] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    int ok = 1;
    if (setjmp(fuzz_jump) == 0) {
        fuzz_image_one((const uint8_t *)"\xff\xd8\xff\xe0", 4);
        fuzz_safetensors_one(st, sizeof st);
        fuzz_tfjs_one((const uint8_t *)"{\"format\":", 10);
        fuzz_onnx_one((const uint8_t *)"\x08\x07\x3a\x40", 4);
    } else {
        ok = 0;
    }
    CHECK(ok, "%s", fuzz_what);
    /* and the ONNX harness on its seeds, the tiny real exports (a success: the file it writes
     * is checked) */
    const char *seeds[] = {"tests/data/onnx/tiny_basic.onnx", "tests/data/onnx/tiny_bottleneck.onnx"};
    for (int i = 0; i < 2; i++) run_one(fuzz_onnx_one, seeds[i]);
}

int main(void) {
    RUN(test_harnesses_run);
    RUN(test_image_regressions);
    RUN(test_safetensors_regressions);
    RUN(test_tfjs_regressions);
    RUN(test_serve_regressions);
    RUN(test_onnx_regressions);
    RUN(test_oip_regressions);
    RUN(test_head_regressions);
    return TEST_DONE();
}
