/* serve_http.h - `resnet serve --http HOST:PORT` (serve_http.c). */
#ifndef RN_SERVE_HTTP_H
#define RN_SERVE_HTTP_H

#include <stddef.h>

#include "resnet.h"

typedef struct serve_http_options {
    const char *listen;  /* HOST:PORT, [V6]:PORT; port 0 picks a free one (printed on stderr) */
    int max_batch;       /* images per forward pass at most */
    int max_delay_ms;    /* how long the first request of a batch waits for others */
    int max_queue;       /* requests waiting for the network at most; beyond: 503 */
    size_t max_body;     /* request body bytes at most; beyond: 413 */
    int timeout_s;       /* a connection idle (or a client this slow) for this long is closed */
    unsigned image_flags; /* RESNET_IMAGE_*: --exif-orientation */
} serve_http_options;

/* Serves until SIGTERM or SIGINT, then stops accepting, answers every request already
 * received and returns 0; 1 (reported) when it cannot start. */
int serve_http(const resnet_model *model, int threads, const serve_http_options *opts);

#endif
