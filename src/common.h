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

/* 1 if the n floats are all finite. A result with an infinity or a NaN is not an answer
 * (weights too large for float on that input): the callers turn it into that photo's error. */
int rn_all_finite(const float *v, size_t n);
/* The one message for it, so every path says the same. */
#define RN_NONFINITE_MSG "the network's output is not finite (inf or NaN): the weights overflow float on this photo"

/* 64-byte aligned allocation (for vector loads); NULL on failure or size 0 overflow. */
void *rn_aligned_alloc(size_t size);
void rn_aligned_free(void *p);
/* Bytes of large blocks currently mapped by rn_aligned_alloc (outside malloc's counts). */
size_t rn_aligned_mapped_bytes(void);

#endif
