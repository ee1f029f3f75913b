/* serve_metrics.c - the counters of `resnet serve --http` and its /metrics page
 * (serve_metrics.h). */
#include "cli/serve_metrics.h"

static const int codes[SERVE_METRICS_CODES] = {200, 400, 404, 405, 408, 413, 431, 500, 501, 503, 505};
static const double latency_le[SERVE_METRICS_LATENCY] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
static const int batch_le[SERVE_METRICS_BATCH] = {1, 2, 4, 8, 16, 32, 64, 128};

void serve_metrics_request(serve_metrics *m, int code, double seconds) {
    for (int i = 0; i < SERVE_METRICS_CODES; i++)
        if (codes[i] == code) m->by_code[i]++;
    for (int b = 0; b < SERVE_METRICS_LATENCY; b++)
        if (seconds <= latency_le[b]) m->lat_bucket[b]++;
    m->lat_count++;
    m->lat_sum += seconds;
}

void serve_metrics_batch(serve_metrics *m, int rows) {
    for (int b = 0; b < SERVE_METRICS_BATCH; b++)
        if (rows <= batch_le[b]) m->batch_bucket[b]++;
    m->batch_count++;
    m->batch_sum += (unsigned long long)rows;
}

void serve_metrics_write(FILE *f, const serve_metrics *m, int queue_depth, unsigned long long pixels) {
    fputs("# HELP resnet_http_requests_total HTTP requests answered, by status code.\n"
          "# TYPE resnet_http_requests_total counter\n", f);
    for (int i = 0; i < SERVE_METRICS_CODES; i++)
        fprintf(f, "resnet_http_requests_total{code=\"%d\"} %llu\n", codes[i], m->by_code[i]);
    fputs("# HELP resnet_http_request_duration_seconds Time from a request's arrival to its answer.\n"
          "# TYPE resnet_http_request_duration_seconds histogram\n", f);
    for (int b = 0; b < SERVE_METRICS_LATENCY; b++)
        fprintf(f, "resnet_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", latency_le[b], m->lat_bucket[b]);
    fprintf(f, "resnet_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", m->lat_count);
    fprintf(f, "resnet_http_request_duration_seconds_sum %.6f\n", m->lat_sum);
    fprintf(f, "resnet_http_request_duration_seconds_count %llu\n", m->lat_count);
    fputs("# HELP resnet_batch_size Images per forward pass.\n# TYPE resnet_batch_size histogram\n", f);
    for (int b = 0; b < SERVE_METRICS_BATCH; b++)
        fprintf(f, "resnet_batch_size_bucket{le=\"%d\"} %llu\n", batch_le[b], m->batch_bucket[b]);
    fprintf(f, "resnet_batch_size_bucket{le=\"+Inf\"} %llu\n", m->batch_count);
    fprintf(f, "resnet_batch_size_sum %llu\nresnet_batch_size_count %llu\n", m->batch_sum, m->batch_count);
    fprintf(f, "# HELP resnet_queue_depth Requests waiting for the network.\n# TYPE resnet_queue_depth gauge\n"
               "resnet_queue_depth %d\n", queue_depth);
    fprintf(f, "# HELP resnet_decoded_pixels Decoded pixels of the photos of the requests in progress.\n"
               "# TYPE resnet_decoded_pixels gauge\nresnet_decoded_pixels %llu\n", pixels);
    fputs("# HELP resnet_log_lines_total Lines the server wrote to stderr about connections, and those the\n"
          "# rate limit held back.\n# TYPE resnet_log_lines_total counter\n", f);
    fprintf(f, "resnet_log_lines_total{written=\"yes\"} %llu\n", m->log_lines);
    fprintf(f, "resnet_log_lines_total{written=\"no\"} %llu\n", m->log_dropped);
}
