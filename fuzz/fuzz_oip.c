/* fuzz_oip.c - libFuzzer harness for the Open Inference Protocol v2 infer body of
 * `resnet serve --http` (src/cli/serve_oip.c): the input is one request body.
 *
 * Checks: a good body gives 1..256 photos, each non-empty, a classification K within the
 * model's classes (0: none) and an id that is a string or absent; a refused one has a
 * one-line message. The same body is also parsed for a model of 10 classes: it may only be
 * refused more often (a K over 10), never accepted with a K above 10.
 */
#include "fuzz_common.h"
#include "cli/serve_oip.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int FUZZ_ENTRY(const uint8_t *data, size_t size);

static void fuzz_oip_check(const uint8_t *data, size_t size, int classes) {
    serve_oip_request req;
    const int rc = serve_oip_parse((const char *)data, size, classes, &req);
    FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2);
    if (rc == 0) {
        FUZZ_CHECK(req.error[0] == '\0');
        FUZZ_CHECK(req.n >= 1 && req.n <= SERVE_OIP_MAX_IMAGES);
        FUZZ_CHECK(req.k >= 0 && req.k <= classes);
        for (int i = 0; i < req.n; i++) FUZZ_CHECK(req.data[i] != NULL && req.size[i] > 0 && req.size[i] <= size);
    } else if (rc == -1) {
        FUZZ_CHECK(fuzz_message_ok(req.error, sizeof req.error));
    }
    serve_oip_free(&req);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size) {
    fuzz_oip_check(data, size, 1000);
    fuzz_oip_check(data, size, 10);
    return 0;
}
