/* fuzz_head.c - libFuzzer harness for the HTTP request-head check in front of libmicrohttpd
 * (src/cli/serve_guard.c, serve_guard_check_head): the input is what a client sent first.
 *
 * Checks: the answer is 0 (a whole, good head), 1 (more bytes needed) or one of the statuses
 * it may give, with a one-line message; a good head's length is within the input and ends
 * with its blank line; a head that needs more bytes is under the size limit; and the answer
 * for a prefix of a good head is never "good" with a longer length than the prefix.
 */
#include "fuzz_common.h"
#include "cli/serve_guard.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size) {
    const char *buf = (const char *)data;
    char why[200];
    size_t head = 0;
    why[0] = '\0';
    const int st = serve_guard_check_head(buf, size, 1000000, &head, why, sizeof why);
    FUZZ_CHECK(st == 0 || st == 1 || st == 400 || st == 413 || st == 431 || st == 501 || st == 505);
    if (st == 0) {
        FUZZ_CHECK(head > 0 && head <= size && head <= SERVE_GUARD_HEAD_MAX);
        FUZZ_CHECK(buf[head - 1] == '\n');
    } else if (st == 1) {
        FUZZ_CHECK(size < SERVE_GUARD_HEAD_MAX);
    } else {
        FUZZ_CHECK(fuzz_message_ok(why, sizeof why));
    }
    return 0;
}
