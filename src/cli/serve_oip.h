/* serve_oip.h - the Open Inference Protocol v2 (KServe's v2 REST API) body of
 * POST /v2/models/resnet50/infer, read and answered:
 *
 *     {"id": "...", "inputs": [{"name": ..., "datatype": "BYTES", "shape": [N] or [N, 1],
 *                               "data": ["<base64 of a photo file>", ...]}],
 *      "outputs": [{"name": "probabilities", "parameters": {"classification": K}}]}
 *
 * answered (by serve_http.c, which has the model) with N x classes FP32 probabilities, or with
 * Triton's classification extension (BYTES "prob:index:label", the top K of each photo) when K
 * is asked for. No server and no model here: fuzz/fuzz_oip.c feeds the parser any bytes. */
#ifndef RN_SERVE_OIP_H
#define RN_SERVE_OIP_H

#include <stddef.h>

#define SERVE_OIP_MODEL "resnet50"   /* the one model this server has */
#define SERVE_OIP_INPUT "image"      /* the one input's name (the model's metadata) */
#define SERVE_OIP_MAX_IMAGES 256     /* images in one infer request at most */

typedef struct serve_oip_request {
    int n;                /* photos, 1..SERVE_OIP_MAX_IMAGES */
    unsigned char **data; /* n photo files decoded from base64: owned, unless set to NULL by a taker */
    size_t *size;
    int k;                /* 0: the probabilities as FP32; K: the classification extension's top K */
    char *id;             /* the request's "id", or NULL */
    char error[400];      /* why the request is refused ("" when it is not) */
} serve_oip_request;

/* Parses an infer body (len bytes; need not be NUL-terminated) for a model of `classes`
 * classes (the classification's K is 1..classes) and decodes its photos. Returns 0, -1 when
 * the request is refused (req->error says why: a 400), or -2 when out of memory. Either way
 * serve_oip_free must be called. */
int serve_oip_parse(const char *body, size_t len, int classes, serve_oip_request *req);
void serve_oip_free(serve_oip_request *req);

#endif
