/* serve_oip.c - the Open Inference Protocol v2 infer body, read (serve_oip_parse); the answer is
 * serve_http.c's, which has the model. No model and no I/O here, so that a fuzz harness can
 * feed it any bytes (fuzz/fuzz_oip.c); serve_oip.h says the shapes. */
#include "cli/serve_oip.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/serve_request.h" /* serve_base64_decode */
#include "io/fileio.h"
#include "io/json.h"

/* Image i of an input's "data": a base64 string, flat ([N]) or nested as the spec allows for
 * shape [N, 1] ([["..."], ...]); NULL if it is neither. */
static const char *data_item(const rn_json *data, size_t i, size_t *len) {
    const rn_json *v = rn_json_at(data, i);
    if (rn_json_is(v, RN_JSON_ARRAY) && rn_json_count(v) == 1) v = rn_json_at(v, 0);
    return rn_json_string(v, len);
}

/* Why the parsed request is refused, or NULL; *k the classification asked for (0: none),
 * from 1 to classes. Every size read from the request is bounded before it is multiplied. */
static const char *check(const rn_json *root, int classes, int *k, char *buf, size_t bufsize) {
    const rn_json *inputs = rn_json_get(root, "inputs"), *outputs = rn_json_get(root, "outputs");
    const rn_json *id = rn_json_get(root, "id"), *in = rn_json_at(inputs, 0), *data = rn_json_get(in, "data");
    const char *dt = rn_json_string(rn_json_get(in, "datatype"), NULL);
    const char *iname = rn_json_string(rn_json_get(in, "name"), NULL);
    const size_t n = rn_json_count(data);
    if (!rn_json_is(root, RN_JSON_OBJECT)) return "the request must be a JSON object";
    if (id && !rn_json_is(id, RN_JSON_STRING)) return "\"id\" must be a string";
    if (!rn_json_is(inputs, RN_JSON_ARRAY) || rn_json_count(inputs) != 1)
        return "\"inputs\" must be an array of one input (BYTES: base64 photo files)";
    if (!rn_json_is(in, RN_JSON_OBJECT)) return "the input must be a JSON object";
    /* the spec: an input names one of the model's inputs (its metadata has one, "image") */
    if (!iname || strcmp(iname, SERVE_OIP_INPUT) != 0) return "the input's \"name\" must be \"" SERVE_OIP_INPUT "\"";
    if (!dt || strcmp(dt, "BYTES") != 0) return "the input's \"datatype\" must be \"BYTES\" (base64 photo files)";
    if (!rn_json_is(data, RN_JSON_ARRAY) || n == 0) return "the input's \"data\" must be a non-empty array of base64 strings";
    if (n > SERVE_OIP_MAX_IMAGES) return "at most 256 images per request";
    int nested = 0;
    for (size_t i = 0; i < n; i++) nested |= rn_json_is(rn_json_at(data, i), RN_JSON_ARRAY);
    const rn_json *shape = rn_json_get(in, "shape");
    const size_t dims = rn_json_count(shape);
    /* each dimension is 0..256 and the running product stops as soon as it passes n (<= 256),
     * so it never exceeds 256 * 256 */
    int64_t prod = 1, d;
    for (size_t i = 0; i < dims && prod >= 0; i++) {
        if (!rn_json_int64(rn_json_at(shape, i), &d) || d < 0 || d > SERVE_OIP_MAX_IMAGES) prod = -1;
        else if ((prod *= d) > (int64_t)n) prod = -1;
    }
    /* [1, N] has the product N too, but it says one row of N elements: not N photos */
    const int one_column = dims != 2 || (rn_json_int64(rn_json_at(shape, 1), &d) && d == 1);
    if (!rn_json_is(shape, RN_JSON_ARRAY) || dims == 0 || dims > 2 || prod != (int64_t)n || !one_column)
        return "the input's \"shape\" must say how many images \"data\" holds ([N] or [N, 1])";
    if (nested && dims != 2) return "nested \"data\" ([[\"...\"], ...]) goes with the shape [N, 1]";
    *k = 0;
    if (!outputs) return NULL;
    if (!rn_json_is(outputs, RN_JSON_ARRAY) || rn_json_count(outputs) > 1) return "\"outputs\": at most one, \"probabilities\"";
    const rn_json *o0 = rn_json_at(outputs, 0);
    const char *name = rn_json_string(rn_json_get(o0, "name"), NULL);
    if (o0 && (!name || strcmp(name, "probabilities") != 0)) return "the only output is \"probabilities\"";
    const rn_json *cls = rn_json_get(rn_json_get(o0, "parameters"), "classification");
    int64_t kk;
    if (!cls) return NULL;
    if (!rn_json_int64(cls, &kk) || kk < 1 || kk > classes) {
        snprintf(buf, bufsize, "\"classification\" must be a whole number from 1 to %d", classes);
        return buf;
    }
    *k = (int)kk;
    return NULL;
}

int serve_oip_parse(const char *body, size_t len, int classes, serve_oip_request *req) {
    memset(req, 0, sizeof *req);
    char msg[300];
    rn_json_doc *doc = NULL;
    /* a UTF-8 byte order mark (a request file saved by Notepad, sent with curl -d @file): RFC
     * 8259 lets a parser ignore it, as serve's JSON lines do; "found byte 0xEF" says nothing */
    if (body && rn_utf8_bom(body, len)) body += 3, len -= 3;
    rn_json_options jo = {.max_depth = 16, .reject_duplicate_keys = 1, .max_values = SERVE_JSON_VALUES_MAX};
    const int pr = rn_json_parse(body ? body : "", len, &jo, &doc, msg, sizeof msg);
    if (pr == -2) return -2;
    if (pr != 0) {
        snprintf(req->error, sizeof req->error, "the request is not JSON: %s", msg);
        return -1;
    }
    const rn_json *root = rn_json_root(doc);
    char why[128];
    const char *bad = classes < 1 ? "the model has no classes" : check(root, classes, &req->k, why, sizeof why);
    if (bad) {
        snprintf(req->error, sizeof req->error, "%s", bad);
        rn_json_free(doc);
        return -1;
    }
    const rn_json *id = rn_json_get(root, "id"), *data = rn_json_get(rn_json_at(rn_json_get(root, "inputs"), 0), "data");
    req->n = (int)rn_json_count(data);
    req->data = calloc((size_t)req->n, sizeof *req->data);
    req->size = calloc((size_t)req->n, sizeof *req->size);
    req->id = id ? strdup(id->u.str.s) : NULL;
    int rc = !req->data || !req->size || (id && !req->id) ? -2 : 0;
    /* base64 -> the photo files' bytes; decoding them is the runner's, ahead of the network */
    for (int i = 0; rc == 0 && i < req->n; i++) {
        size_t sl;
        const char *s = data_item(data, (size_t)i, &sl);
        /* sl < len: the body holds the string, so sl / 4 * 3 + 3 cannot wrap */
        unsigned char *bytes = s ? malloc(sl / 4 * 3 + 3) : NULL;
        size_t where = 0;
        long got = bytes ? serve_base64_decode(s, sl, bytes, &where) : -1;
        req->data[i] = bytes;
        if (s && !bytes) rc = -2;
        else if (!s || got <= 0) {
            /* where it stops being base64: a line break every 76 characters (base64 without -w0) is
             * the usual one */
            if (!s) snprintf(req->error, sizeof req->error, "image %d: not a string", i);
            else if (sl == 0) snprintf(req->error, sizeof req->error, "image %d: an empty string, not a photo", i);
            else snprintf(req->error, sizeof req->error, "image %d: not base64 (at character %zu)", i, where);
            rc = -1;
        } else {
            req->size[i] = (size_t)got;
        }
    }
    rn_json_free(doc);
    return rc;
}

void serve_oip_free(serve_oip_request *req) {
    for (int i = 0; req->data && i < req->n; i++) free(req->data[i]);
    free(req->data);
    free(req->size);
    free(req->id);
    memset(req, 0, sizeof *req);
}
