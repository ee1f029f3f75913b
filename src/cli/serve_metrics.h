/* serve_metrics.h - what `resnet serve --http` counts and its /metrics page (the Prometheus
 * text format): requests by status code, their latency, images per forward pass. The caller
 * holds its own lock around every call. */
#ifndef RN_SERVE_METRICS_H
#define RN_SERVE_METRICS_H

#include <stdio.h>

#define SERVE_METRICS_CODES 11  /* 200 400 404 405 408 413 431 500 501 503 505 */
#define SERVE_METRICS_LATENCY 11 /* 5 ms .. 10 s */
#define SERVE_METRICS_BATCH 8   /* 1 .. 128 images */

typedef struct serve_metrics {
    unsigned long long by_code[SERVE_METRICS_CODES];
    unsigned long long lat_bucket[SERVE_METRICS_LATENCY], lat_count;
    double lat_sum;
    unsigned long long batch_bucket[SERVE_METRICS_BATCH], batch_count, batch_sum;
    unsigned long long log_lines, log_dropped; /* stderr lines written, and held back by the rate limit */
} serve_metrics;

/* One request answered with code after seconds. */
void serve_metrics_request(serve_metrics *m, int code, double seconds);
/* One forward pass of rows images. */
void serve_metrics_batch(serve_metrics *m, int rows);
/* The /metrics page: the counters, queue_depth (requests waiting for the network) and pixels
 * (decoded pixels of the requests in progress). */
void serve_metrics_write(FILE *f, const serve_metrics *m, int queue_depth, unsigned long long pixels);

#endif
