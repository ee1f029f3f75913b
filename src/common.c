/* common.c - error reporting, checked size arithmetic, aligned memory. */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

resnet_status rn_fail(resnet_error *err, resnet_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->status = status;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return status;
}

int rn_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

int rn_mul3_size(size_t a, size_t b, size_t c, size_t *out) {
    size_t ab;
    return rn_mul_size(a, b, &ab) && rn_mul_size(ab, c, out);
}

void *rn_aligned_alloc(size_t size) {
    if (size == 0) size = 64;
    if (size > SIZE_MAX - 63) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, 64, (size + 63) & ~(size_t)63) != 0) return NULL;
    return p;
}

void rn_aligned_free(void *p) { free(p); }
