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
    size_t max_inflight; /* bytes held by requests in flight at most; beyond: 503 */
    int timeout_s;       /* a connection idle for this long is closed */
    int request_timeout_s; /* a request (head and body) not in this long after connecting: cut */
    int max_per_client;  /* connections from one client address at most; beyond: 503 */
    int drain_timeout_s; /* on SIGTERM, requests still arriving this long after it are cut */
    int max_connections; /* connections handed to libmicrohttpd (their head in) at most; beyond: 503 */
    int decoders;        /* photos decoded at once, over all requests */
    unsigned long long max_request_mpx;  /* decoded pixels of one request's photos at most (millions); beyond: 413 */
    unsigned long long max_inflight_mpx; /* decoded pixels of the requests in progress at most (millions); beyond: 503 */
    unsigned image_flags; /* RESNET_IMAGE_*: --exif-orientation */
} serve_http_options;

/* Serves until SIGTERM or SIGINT, then stops accepting, answers every request already
 * received (those still arriving get drain_timeout_s to arrive) and returns 0; 1 (reported)
 * when it cannot start. A second SIGTERM or SIGINT during the drain exits at once, status 1. */
int serve_http(const resnet_model *model, int threads, const serve_http_options *opts);

#endif
