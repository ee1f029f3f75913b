/* common.h - small helpers shared by every part of the library (internal). */
#ifndef RN_COMMON_H
#define RN_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include "resnet.h"

#if defined(__GNUC__)
#define RN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RN_PRINTF(a, b)
#endif

/* Fills *err (if not NULL) with status and a printf-style one-line message, and
 * returns status, so a failing path reads: return rn_fail(err, RESNET_E_IO, "%s: ...", path); */
resnet_status rn_fail(resnet_error *err, resnet_status status, const char *fmt, ...) RN_PRINTF(3, 4);

/* a*b (and a*b*c) without overflow: 0 and *out untouched on overflow. */
int rn_mul_size(size_t a, size_t b, size_t *out);
int rn_mul3_size(size_t a, size_t b, size_t c, size_t *out);

/* Size-versioned structs (resnet.h, "Versions and the ABI"): structs whose first field is
 * `size_t size`, the caller's sizeof. */
/* The init functions: zeroes the caller's `size` bytes, copies the defaults `def` (the
 * library's struct, def_size bytes) into the part they cover, and sets the size field. */
void rn_sized_init(void *dst, size_t size, const void *def, size_t def_size);
/* Reads a caller's struct `src` into `dst` (the library's own, dst_size bytes, holding the
 * defaults): only the bytes its size covers; those beyond the library's struct (a newer
 * header's fields) must be zero. min_size is the struct's first published size: a smaller
 * one means the caller did not initialise it. `what` names the struct in the message. */
resnet_status rn_sized_read(void *dst, size_t dst_size, size_t min_size, const void *src, const char *what,
                            resnet_error *err);
/* Writes the library's struct `src` (src_size bytes) into a caller's `dst`, only the bytes
 * dst's size covers (its size field kept). */
resnet_status rn_sized_write(void *dst, const void *src, size_t src_size, size_t min_size, const char *what,
                             resnet_error *err);

/* 64-byte aligned allocation (for vector loads); NULL on failure or size 0 overflow. */
void *rn_aligned_alloc(size_t size);
void rn_aligned_free(void *p);
/* Bytes of large blocks currently mapped by rn_aligned_alloc (outside malloc's counts). */
size_t rn_aligned_mapped_bytes(void);

#endif
