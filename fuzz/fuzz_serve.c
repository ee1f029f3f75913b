/* fuzz_serve.c - libFuzzer harness for the request parser of `resnet serve`
 * (src/cli/serve_request.c): the input is one request line.
 *
 * Checks: the parser never fails silently: a good request names exactly one of a file and an
 * image (non-empty), a k in 1..1000 and a known test-time mode; a refused one has a one-line
 * message; either way the id it echoes is itself valid JSON (it is pasted into the answer
 * line as it is). Base64 is also checked the other way: the input encoded here decodes back
 * to itself.
 */
#include "fuzz_common.h"
#include "cli/serve_request.h"
#include "io/json.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size) {
    serve_request req;
    const int rc = serve_request_parse((const char *)data, size, RESNET_NUM_CLASSES, &req);
    FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2);
    if (rc != -2) {
        FUZZ_CHECK(req.id != NULL);
        rn_json_doc *doc = NULL;
        char msg[160];
        FUZZ_CHECK(rn_json_parse(req.id, strlen(req.id), NULL, &doc, msg, sizeof msg) == 0);
        rn_json_free(doc);
        FUZZ_CHECK(!memchr(req.id, '\n', strlen(req.id)));
    }
    if (rc == 0) {
        FUZZ_CHECK(req.error[0] == '\0');
        FUZZ_CHECK((req.file != NULL) != (req.image != NULL));
        FUZZ_CHECK(!req.file || req.file[0]);
        FUZZ_CHECK(!req.image || req.image_size > 0);
        FUZZ_CHECK(req.k >= 1 && req.k <= RESNET_NUM_CLASSES);
        FUZZ_CHECK(req.tta >= RESNET_TTA_NONE && req.tta <= RESNET_TTA_MULTISCALE);
    } else if (rc == -1) {
        FUZZ_CHECK(fuzz_message_ok(req.error, sizeof req.error));
    }
    serve_request_free(&req);

    /* base64 round trip of the raw input (the first 3 KiB) */
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char enc[4200];
    unsigned char dec[3200];
    size_t n = size < 3072 ? size : 3072, e = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)data[i] << 16 | (i + 1 < n ? (unsigned)data[i + 1] << 8 : 0) |
                     (i + 2 < n ? data[i + 2] : 0);
        enc[e++] = abc[v >> 18 & 63];
        enc[e++] = abc[v >> 12 & 63];
        enc[e++] = i + 1 < n ? abc[v >> 6 & 63] : '=';
        enc[e++] = i + 2 < n ? abc[v & 63] : '=';
    }
    size_t bad = 0;
    const long got = serve_base64_decode(enc, e, dec, &bad);
    FUZZ_CHECK(got == (long)n && memcmp(dec, data, n) == 0);
    /* and without its padding */
    while (e > 0 && enc[e - 1] == '=') e--;
    FUZZ_CHECK(serve_base64_decode(enc, e, dec, &bad) == (long)n && memcmp(dec, data, n) == 0);
    return 0;
}
