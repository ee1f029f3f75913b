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

/* A tensor shape for a message, "[64,3,7,7]" (sep ",") or "[64, 3, 7, 7]" (sep ", "), into
 * buf (cut short, never overflowed); returns buf. */
const char *rn_shape_str(const int64_t *shape, int ndim, const char *sep, char *buf, size_t n);

/* 1 if the n floats are all finite. A result with an infinity or a NaN is not an answer
 * (weights too large for float on that input): the callers turn it into that photo's error. */
int rn_all_finite(const float *v, size_t n);
/* The index of the first infinity or NaN of the n floats, n if there is none. */
size_t rn_first_nonfinite(const float *v, size_t n);

/* resnet_softmax and resnet_l2_normalize (resnet.h), for the layers below the API. */
void rn_softmax(const float *logits, int n, float *probs);
void rn_l2_normalize(float *v, int n);
/* The one message for it, so every path says the same. */
/* A backbone (no fc) asked for what its fc would give: "logits", "class maps", "top-k". */
/* The metadata "format" of a head file (train-head's, model/head.c): the network's loader
 * names such a file for what it is. */
#define RN_HEAD_FORMAT "resnet-linear-head"
#define RN_BACKBONE_MSG "this network is a backbone (its file has no fc): it gives features and stage maps, not "
#define RN_NONFINITE_MSG "the network's output is not finite (inf or NaN): the weights overflow float on this photo"
/* Why the 1000 ImageNet logits of each of `views` images (one after the other) are no answer,
 * or NULL: not finite (RN_NONFINITE_MSG), or all equal (RN_FLAT_MSG: weights so large that
 * float rounding swallowed every difference between the classes; top-k would then list
 * classes 0, 1, 2... by index). */
const char *rn_logits_problem(const float *logits, int views, int classes);
/* resnet_tta_average for `classes` outputs a view. */
void rn_tta_average(const float *logits, int n, int classes, float *probs);
/* resnet_head_predict before its softmax: n x classes logits (what ranks the classes whose
 * probabilities underflowed to 0). */
resnet_status rn_head_logits(const resnet_head *h, const float *features, int n, float *logits, resnet_error *err);
#define RN_FLAT_MSG "the network's 1000 outputs are all equal: no answer (weights too large for float precision on this photo?)"

/* Size-versioned structs (resnet.h, "Versions and the ABI"): structs whose first field is
 * `size_t size`, the caller's sizeof. One descriptor per struct: */
typedef struct rn_sized {
    const char *name;     /* "resnet_load_options": for messages, which also name name_init() */
    size_t size;          /* sizeof the library's struct */
    size_t known;         /* where its last field ends: bytes a caller's size covers beyond this
                           * are fields this library lacks (a later field may sit in today's
                           * tail padding, so not sizeof) */
    size_t min;           /* where the last field of the first published layout ends: a smaller
                           * size means the caller never initialised the struct */
    const void *defaults; /* the library's struct holding every default */
} rn_sized;
#define RN_FIELD_END(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* The init functions: zeroes the caller's `size` bytes, copies the defaults into the part they
 * cover, and sets the size field. */
void rn_sized_init(const rn_sized *t, void *user, size_t size);
/* Reads a caller's struct into `mine` (the library's own): the defaults, overwritten by the
 * fields the caller's size covers. Set fields this library lacks are refused. */
resnet_status rn_sized_read(const rn_sized *t, const void *user, void *mine, resnet_error *err);
/* Writes the library's struct `mine` into a caller's, only the fields its size covers (its
 * size field kept). Only checks the caller's size when mine is NULL. */
resnet_status rn_sized_write(const rn_sized *t, const void *mine, void *user, resnet_error *err);

/* The RESNET_IMAGE_* flags set on a session (resnet_session_set_image_flags); 0 for NULL. */
unsigned rn_session_image_flags(const resnet_session *s);
/* Every RESNET_IMAGE_* flag this library knows. */
#define RN_IMAGE_FLAGS_KNOWN ((unsigned)RESNET_IMAGE_EXIF_ORIENTATION)
/* RESNET_OK, or RESNET_E_ARG naming the bits of flags this library does not know (`who`: the
 * photo or the call, for the message). A flag of a newer header, or garbage, would otherwise
 * read the photo another way than the caller asked, without a word. */
resnet_status rn_image_flags_check(unsigned flags, const char *who, resnet_error *err);

/* A growing NUL-terminated string. failed: 1 out of memory (or past SIZE_MAX), 2 longer than
 * limit bytes (0: no limit); once failed, appends do nothing. The caller frees s. */
typedef struct rn_strbuf {
    char *s;
    size_t len, cap, limit;
    int failed;
} rn_strbuf;
void rn_strbuf_append(rn_strbuf *b, const char *s, size_t n);

/* 64-byte aligned allocation (for vector loads); NULL on failure or size 0 overflow. */
void *rn_aligned_alloc(size_t size);
void rn_aligned_free(void *p);
/* The bytes a block from rn_aligned_alloc can hold (at least what was asked; 0 for NULL). */
size_t rn_aligned_size(const void *p);
/* Bytes of large blocks currently mapped by rn_aligned_alloc (outside malloc's counts). */
size_t rn_aligned_mapped_bytes(void);

#endif
