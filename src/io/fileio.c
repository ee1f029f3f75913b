/* fileio.c - POSIX file helpers for src/io (see fileio.h). */
#include "io/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

const char *rn_errno_str(int errnum, char *buf, size_t n) {
    if (!buf || n == 0) return "";
    buf[0] = '\0';
    if (strerror_r(errnum, buf, n) != 0 || !buf[0]) snprintf(buf, n, "error %d", errnum);
    return buf;
}

/* rn_open_regular, with the directory message naming what was expected ("a file"). */
static int open_regular(const char *path, const char *noun, size_t *size, resnet_error *err) {
    char eb[128];
    if (!path) {
        rn_fail(err, RESNET_E_ARG, "no file name given");
        return -1;
    }
    /* O_NONBLOCK: opening a FIFO must not hang; it is rejected below as not a regular file */
    int fd;
    do fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        rn_fail(err, RESNET_E_IO, "%s: cannot open: %s", path, rn_errno_str(errno, eb, sizeof eb));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        rn_fail(err, RESNET_E_IO, "%s: cannot stat: %s", path, rn_errno_str(e, eb, sizeof eb));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        rn_fail(err, RESNET_E_IO, "%s: is a directory, not %s", path, noun);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        rn_fail(err, RESNET_E_IO, "%s: not a regular file", path);
        return -1;
    }
    if (st.st_size < 0 || (uintmax_t)st.st_size > (uintmax_t)SIZE_MAX) {
        close(fd);
        rn_fail(err, RESNET_E_IO, "%s: file too large for this platform", path);
        return -1;
    }
    /* back to blocking reads (a no-op for regular files, but keeps semantics plain) */
    int fl = fcntl(fd, F_GETFL);
    if (fl != -1) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if (size) *size = (size_t)st.st_size;
    return fd;
}

int rn_open_regular(const char *path, size_t *size, resnet_error *err) {
    return open_regular(path, "a file", size, err);
}

resnet_status rn_read_exact(int fd, void *buf, size_t n, const char *what, resnet_error *err) {
    char eb[128];
    unsigned char *p = buf;
    size_t done = 0;
    while (done < n) {
        size_t chunk = n - done;
        if (chunk > ((size_t)1 << 30)) chunk = (size_t)1 << 30;
        ssize_t r = read(fd, p + done, chunk);
        if (r < 0) {
            if (errno == EINTR) continue;
            return rn_fail(err, RESNET_E_IO, "%s: read failed: %s", what, rn_errno_str(errno, eb, sizeof eb));
        }
        if (r == 0)
            return rn_fail(err, RESNET_E_IO, "%s: file shrank while being read (%zu of %zu bytes)", what, done, n);
        done += (size_t)r;
    }
    return RESNET_OK;
}

resnet_status rn_read_file(const char *path, size_t max_size, char **data, size_t *size, resnet_error *err) {
    return rn_read_file_as(path, max_size, NULL, data, size, err);
}

resnet_status rn_read_file_as(const char *path, size_t max_size, const rn_read_kind *kind, char **data, size_t *size,
                              resnet_error *err) {
    *data = NULL;
    *size = 0;
    size_t n;
    int fd = open_regular(path, kind ? kind->noun : "a file", &n, err);
    if (fd < 0) return err ? err->status : RESNET_E_IO;
    if (kind && n == 0) {
        close(fd);
        return rn_fail(err, kind->status, "%s: empty file, not %s", path, kind->noun);
    }
    if (n > max_size) {
        close(fd);
        if (kind) return rn_fail(err, kind->status, "%s: file too large (%zu bytes) for %s", path, n, kind->noun);
        return rn_fail(err, RESNET_E_IO, "%s: file is %zu bytes, more than the %zu allowed", path, n, max_size);
    }
    char *buf = malloc(n + 1); /* n <= max_size < SIZE_MAX */
    if (!buf) {
        close(fd);
        return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    resnet_status s = rn_read_exact(fd, buf, n, path, err);
    if (s == RESNET_OK) {
        /* a file that grows meanwhile is an error too, not a silently cut one */
        unsigned char extra;
        ssize_t r;
        while ((r = read(fd, &extra, 1)) < 0 && errno == EINTR) {}
        if (r > 0) s = rn_fail(err, RESNET_E_IO, "%s: file grew while being read", path);
    }
    close(fd);
    if (s != RESNET_OK) {
        free(buf);
        return s;
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return RESNET_OK;
}

char *rn_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    int slash = a > 0 && dir[a - 1] != '/';
    char *p = malloc(a + slash + b + 1);
    if (!p) return NULL;
    memcpy(p, dir, a);
    if (slash) p[a] = '/';
    memcpy(p + a + slash, name, b + 1);
    return p;
}

int rn_write_all(int fd, const void *buf, size_t n) {
    const unsigned char *p = buf;
    while (n > 0) {
        size_t chunk = n > ((size_t)1 << 30) ? (size_t)1 << 30 : n;
        ssize_t w = write(fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int rn_host_is_le(void) {
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

const char *rn_printable(const char *s, char *buf, size_t n) {
    if (!buf || n == 0) return "";
    if (!s) s = "(null)";
    size_t len = strlen(s), i;
    int cut = n < 8 ? 0 : len > n - 1;
    /* cut in the middle: a path's start and its file name both stay readable */
    size_t keep = cut ? (n - 4) / 2 : (len < n - 1 ? len : n - 1);
    for (i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    if (cut) {
        /* don't split a UTF-8 sequence, on either side of the "..." */
        while (i > 0 && ((unsigned char)buf[i - 1] & 0xC0) == 0x80) i--;
        if (i > 0 && ((unsigned char)buf[i - 1] & 0xC0) == 0xC0) i--;
        memcpy(buf + i, "...", 3);
        i += 3;
        size_t from = len - (n - 4 - (n - 4) / 2);
        while (from < len && ((unsigned char)s[from] & 0xC0) == 0x80) from++;
        for (; from < len; from++) {
            unsigned char c = (unsigned char)s[from];
            buf[i++] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
        }
    }
    buf[i] = '\0';
    return buf;
}

size_t rn_utf8_bom(const void *text, size_t len) {
    return len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

rn_weights_format rn_weights_format_of(const unsigned char *b, size_t n, uint64_t size) {
    if (n >= 4 && (memcmp(b, "PK\3\4", 4) == 0 || memcmp(b, "\x80\x02\x8a\x0a", 4) == 0)) return RN_WEIGHTS_PYTORCH;
    if (n >= 9 && size >= n && b[8] == '{') {
        uint64_t hlen = 0;
        for (int i = 7; i >= 0; i--) hlen = hlen << 8 | b[i];
        if (hlen <= size - 8) return RN_WEIGHTS_SAFETENSORS;
    }
    if (n >= 3 && b[0] == 0x08 && b[1] >= 1 && b[1] < 0x20 && (b[2] == 0x12 || b[2] == 0x1a || b[2] == 0x3a || b[2] == 0x42))
        return RN_WEIGHTS_ONNX;
    return RN_WEIGHTS_UNKNOWN;
}
