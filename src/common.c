/* common.c - error reporting, checked size arithmetic, aligned memory. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Shortens the message s (len bytes) in place until it fits in cap bytes with its NUL: the
 * middle of its longest word (a path, nearly always) becomes "...", again for the next
 * longest if need be, so the end of the message, where the cause is, survives. Cut at the
 * end only if no word is long enough to take the cut. */
static void fit_message(char *s, size_t len, size_t cap) {
    while (len >= cap) {
        size_t best = 0, best_len = 0;
        for (size_t i = 0; i < len;) {
            size_t j = i;
            while (j < len && s[j] != ' ') j++;
            if (j - i > best_len) best = i, best_len = j - i;
            i = j + 1;
        }
        if (best_len < 16) break;
        size_t rest = len - best_len; /* what stays outside the word */
        size_t keep = cap - 1 > rest + 12 ? cap - 1 - rest : 12; /* the new word, "..." included */
        if (keep >= best_len) break;
        size_t head = (keep - 3) / 2, tail = keep - 3 - head;
        memcpy(s + best + head, "...", 3);
        memmove(s + best + head + 3, s + best + best_len - tail, len - (best + best_len - tail) + 1);
        len -= best_len - keep;
    }
    if (len >= cap) s[cap - 1] = '\0';
}

/* A size no version of any of our structs will reach: beyond it, the field is garbage (the
 * struct was not initialised), and reading that far could fault. */
#define RN_SIZED_MAX 4096

void rn_sized_init(const rn_sized *t, void *user, size_t size) {
    if (!user || size < sizeof(size_t)) return;
    memset(user, 0, size);
    memcpy(user, t->defaults, size < t->known ? size : t->known);
    memcpy(user, &size, sizeof size);
}

static resnet_status sized_check(const rn_sized *t, const void *user, size_t *size, resnet_error *err) {
    memcpy(size, user, sizeof *size);
    if (*size < t->min || *size > RN_SIZED_MAX)
        return rn_fail(err, RESNET_E_ARG, "%s: size is %zu, not set by %s_init() (call it before setting fields)",
                       t->name, *size, t->name);
    return RESNET_OK;
}

resnet_status rn_sized_read(const rn_sized *t, const void *user, void *mine, resnet_error *err) {
    size_t size;
    resnet_status st = sized_check(t, user, &size, err);
    if (st != RESNET_OK) return st;
    for (size_t i = t->known; i < size; i++)
        if (((const unsigned char *)user)[i])
            return rn_fail(err, RESNET_E_UNSUPPORTED,
                           "%s: sets a field that this library (resnet %s) does not have; the program was "
                           "built against a newer resnet.h", t->name, RESNET_VERSION);
    memcpy(mine, t->defaults, t->size);
    memcpy(mine, user, size < t->known ? size : t->known);
    memcpy(mine, &t->size, sizeof t->size);
    return RESNET_OK;
}

resnet_status rn_sized_write(const rn_sized *t, const void *mine, void *user, resnet_error *err) {
    size_t size;
    resnet_status st = sized_check(t, user, &size, err);
    if (st != RESNET_OK || !mine) return st;
    /* past the size field only: the caller's size stays its own */
    if (size > t->known) size = t->known;
    memcpy((unsigned char *)user + sizeof size, (const unsigned char *)mine + sizeof size, size - sizeof size);
    return RESNET_OK;
}

const char *rn_shape_str(const int64_t *shape, int ndim, const char *sep, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? sep : "", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

static int is_control(unsigned char c) { return c < 0x20 || c == 0x7F; }

/* The message s (len bytes, NUL-terminated) with each control character written \xNN, as the
 * tool prints names: a newline in a file name must not split the one-line message. A new
 * string and its length in *len, or NULL when s has none (or no memory: see rn_fail). */
static char *escape_controls(const char *s, size_t *len) {
    size_t controls = 0;
    for (size_t i = 0; i < *len; i++) controls += is_control((unsigned char)s[i]);
    char *e = controls ? malloc(*len + 3 * controls + 1) : NULL;
    if (!e) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < *len; i++) {
        const unsigned char c = (unsigned char)s[i];
        if (is_control(c)) k += (size_t)sprintf(e + k, "\\x%02x", c);
        else e[k++] = (char)c;
    }
    e[k] = '\0';
    *len = k;
    return e;
}

resnet_status rn_fail(resnet_error *err, resnet_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->status = status;
        char small[sizeof err->message];
        va_list ap2;
        va_copy(ap2, ap);
        int n = vsnprintf(small, sizeof small, fmt, ap);
        if (n < 0) small[0] = '\0';
        char *full = n >= (int)sizeof small ? malloc((size_t)n + 1) : NULL;
        char *text = small;
        size_t len = n < 0 ? 0 : n < (int)sizeof small ? (size_t)n : sizeof small - 1; /* cut if no memory */
        if (full) {
            vsnprintf(full, (size_t)n + 1, fmt, ap2);
            text = full;
            len = (size_t)n;
        }
        char *escaped = escape_controls(text, &len);
        if (escaped) text = escaped;
        else
            for (size_t i = 0; i < len; i++) /* none, or no memory to escape them: still one line */
                if (is_control((unsigned char)text[i])) text[i] = '?';
        fit_message(text, len, sizeof err->message);
        snprintf(err->message, sizeof err->message, "%s", text);
        free(escaped);
        free(full);
        va_end(ap2);
        va_end(ap);
    }
    return status;
}

const char *rn_logits_problem(const float *logits, int views, int classes) {
    for (int v = 0; v < views; v++) {
        const float *l = logits + (size_t)v * classes;
        if (!rn_all_finite(l, (size_t)classes)) return RN_NONFINITE_MSG;
        int flat = classes > 1;
        for (int i = 1; i < classes && flat; i++) flat = l[i] == l[0];
        if (flat) return RN_FLAT_MSG;
    }
    return NULL;
}

size_t rn_first_nonfinite(const float *v, size_t n) {
    size_t i = 0;
#if defined(__SSE2__)
    /* x * 0 is 0 for a finite x and NaN otherwise: 16 floats a step without a branch each
     * (the plain loop ran at about a float a cycle: 47 us for a 224x224 photo against 8) */
    const __m128 zero = _mm_setzero_ps();
    for (; i + 16 <= n; i += 16) {
        const __m128 a = _mm_mul_ps(_mm_loadu_ps(v + i), zero), b = _mm_mul_ps(_mm_loadu_ps(v + i + 4), zero);
        const __m128 c = _mm_mul_ps(_mm_loadu_ps(v + i + 8), zero), d = _mm_mul_ps(_mm_loadu_ps(v + i + 12), zero);
        if (_mm_movemask_ps(_mm_or_ps(_mm_cmpunord_ps(a, b), _mm_cmpunord_ps(c, d)))) break;
    }
#endif
    for (; i < n; i++)
        if (!isfinite(v[i])) return i;
    return n;
}

int rn_all_finite(const float *v, size_t n) { return rn_first_nonfinite(v, n) == n; }

int rn_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

int rn_mul3_size(size_t a, size_t b, size_t c, size_t *out) {
    size_t ab;
    return rn_mul_size(a, b, &ab) && rn_mul_size(ab, c, out);
}

/* Large blocks (the packed weights, the load's temporary tensors) are mapped from the OS
 * directly, so that freeing one gives its memory back at once: through malloc, glibc would
 * serve them from the heap after its first large free (its mmap threshold adapts) and keep
 * the freed temporaries resident, 30 MB of a model's 140. Each block carries a 64-byte
 * header saying how it was made, so blocks stay 64-byte aligned. */
enum { HEADER = 64 };
#define RN_MAP_FROM ((size_t)1 << 20)
#define RN_HUGE ((size_t)2 << 20)

static _Atomic size_t mapped_bytes; /* what malloc's own counts cannot see (test_leaks) */

size_t rn_aligned_mapped_bytes(void) { return mapped_bytes; }

/* A mapping of len bytes (a whole number of pages). From 2 MB up it starts on a 2 MB
 * boundary and asks for transparent huge pages: a forward pass at batch 1 streams ~125 MB of
 * weights once, and with 4 KB pages that is 30,000 TLB misses on the way (where THP is
 * "madvise", as on Debian; elsewhere the hint is ignored or absent). */
static void *map_pages(size_t len) {
    if (len < RN_HUGE) {
        void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return m == MAP_FAILED ? NULL : m;
    }
    if (len > SIZE_MAX - RN_HUGE) return NULL;
    unsigned char *raw = mmap(NULL, len + RN_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    unsigned char *p = (unsigned char *)(((uintptr_t)raw + RN_HUGE - 1) & ~(uintptr_t)(RN_HUGE - 1));
    if (p > raw) munmap(raw, (size_t)(p - raw));
    if (raw + RN_HUGE > p) munmap(p + len, (size_t)(raw + RN_HUGE - p));
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE);
#endif
    return p;
}

void *rn_aligned_alloc(size_t size) {
    if (size == 0) size = 64;
    if (size > SIZE_MAX - 2 * HEADER - 4096) return NULL;
    size_t total = ((size + 63) & ~(size_t)63) + HEADER;
    unsigned char *p = NULL;
    if (total >= RN_MAP_FROM) {
        total = (total + 4095) & ~(size_t)4095; /* whole pages, for munmap */
        if (!(p = map_pages(total))) return NULL;
        mapped_bytes += total;
    } else if (posix_memalign((void **)&p, 64, total) != 0) {
        return NULL;
    }
    memcpy(p, &total, sizeof total);
    return p + HEADER;
}

size_t rn_aligned_size(const void *ptr) {
    if (!ptr) return 0;
    size_t total;
    memcpy(&total, (const unsigned char *)ptr - HEADER, sizeof total);
    return total - HEADER;
}

void rn_aligned_free(void *ptr) {
    if (!ptr) return;
    unsigned char *p = (unsigned char *)ptr - HEADER;
    size_t total;
    memcpy(&total, p, sizeof total);
    if (total >= RN_MAP_FROM) {
        mapped_bytes -= total;
        munmap(p, total);
    } else {
        free(p);
    }
}

void rn_strbuf_append(rn_strbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (n > SIZE_MAX - b->len - 1) {
        b->failed = 1;
        return;
    }
    if (b->limit && b->len + n + 1 > b->limit) {
        b->failed = 2;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2) {
                cap = b->len + n + 1;
                break;
            }
            cap *= 2;
        }
        char *p = realloc(b->s, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

/* The small maths both the public API (resnet_softmax, resnet_l2_normalize) and the model
 * (a trained head: model/head.c) use; here so the model does not call up into the API. */
void rn_softmax(const float *logits, int n, float *probs) {
    if (n <= 0) return;
    if (n == 1) {
        /* One output is a binary classifier's logit (fc to 1, trained with BCEWithLogitsLoss):
         * its probability is the sigmoid, where a softmax over one value is always 1. Written
         * with exp of -|x| so that neither side overflows: 1 / (1 + e^-x) for x >= 0, and
         * e^x / (1 + e^x) below. */
        const double x = logits[0];
        const double e = exp(-fabs(x));
        probs[0] = (float)(x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e));
        return;
    }
    float mx = logits[0];
    for (int i = 1; i < n; i++) mx = logits[i] > mx ? logits[i] : mx;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        probs[i] = expf(logits[i] - mx); /* shifted so the largest is exp(0): no overflow */
        sum += probs[i];
    }
    for (int i = 0; i < n; i++) probs[i] = (float)(probs[i] / sum);
}

void rn_l2_normalize(float *v, int n) {
    if (!v || n <= 0) return;
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)v[i] * v[i];
    if (ss <= 0) return;
    const float inv = (float)(1.0 / sqrt(ss));
    for (int i = 0; i < n; i++) v[i] *= inv;
}

resnet_status rn_image_flags_check(unsigned flags, const char *who, resnet_error *err) {
    if ((flags & ~RN_IMAGE_FLAGS_KNOWN) == 0) return RESNET_OK;
    return rn_fail(err, RESNET_E_ARG, "%s: unknown RESNET_IMAGE_* flags 0x%x (this library knows 0x%x)", who,
                   flags & ~RN_IMAGE_FLAGS_KNOWN, RN_IMAGE_FLAGS_KNOWN);
}
