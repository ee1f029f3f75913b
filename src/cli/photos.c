/* photos.c - where photos come from: "-" is standard input, read once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

/* Photos are at most 2 GiB, as the library reads files (src/image/decode.c). */
#define STDIN_MAX ((size_t)2 << 30)

const unsigned char *cli_stdin_bytes(size_t *size, resnet_error *err) {
    static unsigned char *data;
    static size_t len;
    static int done, failed;
    if (!done) {
        done = 1;
        size_t cap = 0;
        if (isatty(STDIN_FILENO)) {
            failed = 1;
            snprintf(err->message, sizeof err->message, "-: standard input is a terminal; pipe a photo into it");
            return NULL;
        }
        for (;;) {
            if (len == cap) {
                size_t ncap = cap ? cap * 2 : (size_t)1 << 16;
                unsigned char *p = ncap <= 2 * STDIN_MAX ? realloc(data, ncap) : NULL;
                if (!p) {
                    failed = 1;
                    snprintf(err->message, sizeof err->message, "-: %s",
                             ncap > 2 * STDIN_MAX ? "standard input is over 2 GiB" : "out of memory");
                    return NULL;
                }
                data = p;
                cap = ncap;
            }
            ssize_t r = read(STDIN_FILENO, data + len, cap - len);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                failed = 1;
                snprintf(err->message, sizeof err->message, "-: cannot read standard input: %s", strerror(errno));
                return NULL;
            }
            if (r == 0) break;
            len += (size_t)r;
            if (len > STDIN_MAX) {
                failed = 1;
                snprintf(err->message, sizeof err->message, "-: standard input is over 2 GiB");
                return NULL;
            }
        }
    }
    if (failed) {
        snprintf(err->message, sizeof err->message, "-: standard input could not be read");
        return NULL;
    }
    *size = len;
    return data ? data : (const unsigned char *)"";
}
