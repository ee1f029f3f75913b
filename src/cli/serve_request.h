/* serve_request.h - one request line of `resnet serve` (JSON lines on standard input).
 *
 *     {"id": ANY, "file": "path"}   or   {"id": ANY, "image": "<base64 of the file's bytes>"}
 *     optional: "k": 1..the model's classes (default 5, or all when fewer), "tta": "none"|"flip"|"10crop"|"multiscale",
 *               "features": true|false
 *
 * Kept apart from serve.c (no model, no I/O) so that a fuzz harness can feed it any bytes
 * (fuzz/fuzz_serve.c). */
#ifndef RN_SERVE_REQUEST_H
#define RN_SERVE_REQUEST_H

#include <stddef.h>

#include "resnet.h"

#define SERVE_ID_MAX 4096 /* bytes of the id as JSON text: it is echoed in every answer */
/* JSON values of a request line or an infer body at most: a request holds a few (an infer body
 * a few per image), and each value is a node of the parsed tree, 20 times the bytes of a "0,"
 * in the text, so a line or a body of tiny values would otherwise take gigabytes */
#define SERVE_JSON_VALUES_MAX 65536

typedef struct serve_request {
    char *id;             /* the id re-written as compact JSON ("null" when absent or unreadable) */
    char *file;           /* "file", or NULL */
    unsigned char *image; /* "image" decoded from base64, or NULL */
    size_t image_size;
    int k;                /* classes to give, 1..classes */
    resnet_tta tta;
    int features;         /* 1: the pooled features too */
    char error[256];      /* why the request is refused ("" when it is not) */
} serve_request;

/* Parses one line (len bytes, no newline; need not be NUL-terminated) for a model of `classes`
 * classes ("k" at most that; the default 5 is cut to it). Returns 0 when the
 * request is good, -1 when it is refused (req->error says why; req->id is still the id
 * when one could be read, so the answer can carry it), -2 when out of memory. Either way
 * req->id is set (unless -2) and serve_request_free must be called. */
int serve_request_parse(const char *line, size_t len, int classes, serve_request *req);
void serve_request_free(serve_request *req);

/* Decodes standard base64 (RFC 4648 alphabet, '=' padding optional) into out, which must hold
 * len / 4 * 3 + 3 bytes; returns the number of bytes, or -1 (bad character or padding), with
 * *bad the offset of the first bad character. */
long serve_base64_decode(const char *s, size_t len, unsigned char *out, size_t *bad);

#endif
