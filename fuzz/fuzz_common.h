/* fuzz_common.h - what the fuzz harnesses share.
 *
 * Each harness (fuzz_image.c, fuzz_safetensors.c, fuzz_tfjs.c) defines one entry point,
 * LLVMFuzzerTestOneInput unless FUZZ_ENTRY renames it: libFuzzer calls it (make fuzz), and
 * tests/test_fuzz_regressions.c includes all three under other names and feeds them the
 * saved inputs of fuzz/regressions/ with gcc, so every input that once crashed stays a test.
 *
 * Beyond "no crash, no sanitizer report", each harness checks what a caller relies on
 * (FUZZ_CHECK): a failure has a one-line message, a success gives sane results. A failed
 * check aborts under libFuzzer (so it is reported and saved like a crash); the regression
 * test defines FUZZ_FAIL to count it instead.
 */
#ifndef RN_FUZZ_COMMON_H
#define RN_FUZZ_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FUZZ_FAIL
#define FUZZ_FAIL(what)                                                      \
    do {                                                                     \
        fprintf(stderr, "fuzz check failed at %s:%d: %s\n", __FILE__, __LINE__, what); \
        abort();                                                             \
    } while (0)
#endif

#define FUZZ_CHECK(cond)                  \
    do {                                  \
        if (!(cond)) FUZZ_FAIL(#cond);    \
    } while (0)

/* An error message is non-empty, one line, and NUL-terminated within its buffer. */
static inline int fuzz_message_ok(const char *msg, size_t cap) {
    size_t n = strnlen(msg, cap);
    return n > 0 && n < cap && !memchr(msg, '\n', n);
}

static char fuzz_dir[256];

/* Removes the private folder and what is in it (at exit). */
static void fuzz_tmpdir_remove(void) {
    DIR *d = opendir(fuzz_dir);
    struct dirent *e;
    char path[600];
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", fuzz_dir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
    rmdir(fuzz_dir);
}

/* A private folder for the harness's files, made once per process and removed at exit (on
 * tmpfs when there is one: the importer fsyncs what it writes). */
static inline const char *fuzz_tmpdir(void) {
    char *dir = fuzz_dir;
    if (dir[0]) return dir;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (!base || !base[0]) base = "/tmp";
    snprintf(dir, sizeof fuzz_dir, "%s/rn-fuzz.XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    atexit(fuzz_tmpdir_remove);
    return dir;
}

static inline void fuzz_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", fuzz_tmpdir(), name);
}

/* Writes a whole file (or aborts: the harness cannot go on without it). */
static inline void fuzz_write_file(const char *path, const void *data, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const unsigned char *p = data;
    if (fd < 0) {
        perror(path);
        abort();
    }
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            perror(path);
            abort();
        }
        p += w;
        n -= (size_t)w;
    }
    close(fd);
}

#endif
