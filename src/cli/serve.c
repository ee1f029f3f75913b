/* serve.c - `resnet serve`: a JSON-lines worker for engines that drive a command through its
 * standard input (Spark's RDD.pipe, Hadoop Streaming, a Kubernetes Job's shell).
 *
 * The model loads once. A reading thread takes lines off standard input and parses them
 * (serve_request.c) into a queue of requests; that queue is the source of the library's
 * runner (resnet_run), which decodes the requests' photos ahead on its own thread, runs
 * whatever is there as one forward pass (up to SERVE_BATCH rows: a busy input gets full
 * batches, a lone request is answered at once, without waiting for others) and hands the
 * answers back in the order the requests came; each is written as one line and flushed. A
 * malformed line is an item that carries its error, so its record keeps its place too. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/serve_http.h"
#include "cli/serve_request.h"
#include "io/fileio.h"

#define SERVE_BATCH RESNET_TTA_MAX_VIEWS /* rows per forward pass; any request's views fit */
#define SERVE_QUEUE (4 * SERVE_BATCH) /* requests read ahead of the runner at most */
#define SERVE_LINE_MAX ((size_t)256 << 20) /* a request line (base64 photos) of 256 MiB at most */

enum { OPT_HTTP = CLI_OPT_FIRST_OWN, OPT_MAX_BATCH, OPT_MAX_DELAY, OPT_MAX_QUEUE, OPT_MAX_BODY, OPT_TIMEOUT,
       OPT_REQUEST_TIMEOUT, OPT_MAX_PER_CLIENT, OPT_DRAIN_TIMEOUT, OPT_MAX_INFLIGHT,
       OPT_DECODERS, OPT_MAX_REQUEST_MPX, OPT_MAX_INFLIGHT_MPX, OPT_MAX_CONNECTIONS };

static const cli_option options[] = {
    CLI_OPTION("http", 0, "HOST:PORT", OPT_HTTP,
               "serve HTTP on that address (127.0.0.1:8000, [::1]:8000; port 0: any\nfree one, printed on stderr); the options below need it"),
    CLI_OPTION_INT("max-batch", "N", OPT_MAX_BATCH, 1, 256, "images per forward pass at most (default 16)"),
    CLI_OPTION_INT("max-delay-ms", "MS", OPT_MAX_DELAY, 0, 10000,
                   "how long a request waits for others to batch with (default 5)"),
    CLI_OPTION_INT("max-queue", "N", OPT_MAX_QUEUE, 1, 100000,
                   "requests waiting for the network at most, beyond: 503 (default 64)"),
    CLI_OPTION_INT("max-body", "BYTES", OPT_MAX_BODY, 1, 1 << 30,
                   "request body size at most, beyond: 413 (default 64 MiB)"),
    CLI_OPTION_INT("max-inflight-mb", "MB", OPT_MAX_INFLIGHT, 1, 1 << 20,
                   "bytes held by requests in flight (bodies, photo files decoded from\nbase64) at most, beyond: 503 (default 1024)"),
    CLI_OPTION_INT("decoders", "N", OPT_DECODERS, 1, 256,
                   "photos decoded at once, over all requests, each on its request's\nthread while the network runs (default 2)"),
    CLI_OPTION_INT("max-request-mpx", "MPX", OPT_MAX_REQUEST_MPX, 1, 1 << 20,
                   "decoded pixels of one request's photos at most, in millions,\nbeyond: 413 (default 1000)"),
    CLI_OPTION_INT("max-inflight-mpx", "MPX", OPT_MAX_INFLIGHT_MPX, 1, 1 << 20,
                   "decoded pixels of the requests in progress at most, in millions,\nbeyond: 503 (default 2000)"),
    CLI_OPTION_INT("timeout", "S", OPT_TIMEOUT, 1, 3600,
                   "a connection idle for S seconds is closed (default 30)"),
    CLI_OPTION_INT("request-timeout", "S", OPT_REQUEST_TIMEOUT, 1, 3600,
                   "a request (head and body) not in S seconds after connecting is cut:\n408 (default 60)"),
    CLI_OPTION_INT("max-connections", "N", OPT_MAX_CONNECTIONS, 1, 100000,
                   "connections whose request head is in at most (each a thread),\nbeyond: 503 (default 512)"),
    CLI_OPTION_INT("max-per-client", "N", OPT_MAX_PER_CLIENT, 1, 100000,
                   "connections from one client address at most, beyond: 503 (default 32)"),
    CLI_OPTION_INT("drain-timeout", "S", OPT_DRAIN_TIMEOUT, 0, 3600,
                   "on SIGTERM/SIGINT, requests still arriving S seconds later are cut\n(default 5)"),
    {0},
};

const cli_command cli_serve = {
    .name = "serve", .run = cmd_serve, .synopsis = "",
    .brief = "a JSON-lines worker: requests on stdin, one answer line per request on stdout",
    .about = "Reads one JSON request per line on standard input, {\"id\": ANY, \"file\": PATH} or\n"
             "{\"id\": ANY, \"image\": BASE64 of a photo file}, with optional \"k\" (1..classes, default 5),\n"
             "\"tta\" (none, flip, 10crop, multiscale) and \"features\": true. Writes one line per\n"
             "request, in order, flushed: {\"id\", \"file\" (for files), \"top\": [{\"index\", \"name\",\n"
             "\"prob\"}...], \"features\" (when asked)} or {\"id\", \"error\"}. A malformed line gets an\n"
             "error record (id null when it cannot be read) and the worker goes on; blank lines are\n"
             "skipped. The model loads once; requests waiting are run together and photos decoded ahead.\n"
             "With --http HOST:PORT it is an HTTP server instead: the Open Inference Protocol v2\n"
             "(GET /v2/health/live, /v2/health/ready, /v2/models/resnet50; POST\n"
             "/v2/models/resnet50/infer with a BYTES input of base64 photo files), POST /v1/classify\n"
             "(the body is a photo; ?k=, ?tta=) and GET /metrics (Prometheus). SIGTERM or SIGINT: stop\n"
             "accepting, answer the requests received, cut those still arriving after --drain-timeout,\n"
             "exit 0; a second SIGTERM or SIGINT exits at once with status 1.",
    .notes = "exit status: 0 at the end of the input (whatever the requests' errors), 1 when the\n"
             "model cannot be loaded, the input cannot be read, a forward pass fails or --http\n"
             "cannot listen on its address, 2 usage error\n",
    .options = options, .network = 1,
};

typedef struct job {
    serve_request req;
    char error[sizeof(((resnet_error *)0)->message)]; /* "" unless refused */
    struct job *next;
} job;

typedef struct serve_state {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    job *head, *tail;     /* read, not yet handed to the runner */
    job *taken, *last;    /* handed to the runner, not yet answered, in order */
    int queued, eof, read_failed, nomem;
    const resnet_model *model;
    int classes; /* the model's */
} serve_state;

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

/* The reading thread: lines -> parsed jobs on the queue, in order. */
static void *reader(void *arg) {
    serve_state *st = arg;
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int done = 0;
    while (!done) {
        size_t len = 0;
        int c, too_long = 0;
        /* one line, kept only up to SERVE_LINE_MAX bytes: a runaway line is refused, not
         * held in memory whole */
        while ((c = getc_unlocked(stdin)) != EOF && c != '\n') {
            if (len == SERVE_LINE_MAX) {
                too_long = 1;
                continue;
            }
            if (len + 1 >= cap) {
                size_t ncap = cap ? cap * 2 : 4096;
                char *p = realloc(line, ncap);
                if (!p) {
                    too_long = 2;
                    continue;
                }
                line = p;
                cap = ncap;
            }
            line[len++] = (char)c;
        }
        if (c == EOF) {
            done = 1;
            if (ferror(stdin)) st->read_failed = 1;
            if (len == 0 && !too_long) break;
        }
        lineno++;
        /* a UTF-8 byte order mark opening the input (Notepad, PowerShell's -Encoding UTF8) is
         * not the first request's: RFC 8259 lets a parser ignore it, and the parser's "found
         * byte 0xEF" would not say what it is */
        const size_t bom = lineno == 1 ? rn_utf8_bom(line, len) : 0;
        if (bom) {
            len -= bom;
            memmove(line, line + bom, len);
        }
        if (!too_long && blank(line, len)) continue;
        job *j = calloc(1, sizeof *j);
        if (!j) {
            st->nomem = 1;
            break;
        }
        if (too_long) {
            j->req.id = strdup("null");
            snprintf(j->error, sizeof j->error, "line %ld is %s", lineno,
                     too_long == 1 ? "longer than 256 MiB" : "too long for the memory left");
        } else {
            const int pr = serve_request_parse(line, len, st->classes, &j->req);
            if (pr == -2) snprintf(j->error, sizeof j->error, "out of memory");
            else if (pr != 0) snprintf(j->error, sizeof j->error, "line %ld: %s", lineno, j->req.error);
        }
        pthread_mutex_lock(&st->mu);
        /* bounded: wait while the runner has enough to do */
        while (st->queued >= SERVE_QUEUE) pthread_cond_wait(&st->changed, &st->mu);
        if (st->tail) st->tail->next = j;
        else st->head = j;
        st->tail = j;
        st->queued++;
        pthread_cond_broadcast(&st->changed);
        pthread_mutex_unlock(&st->mu);
    }
    free(line);
    pthread_mutex_lock(&st->mu);
    st->eof = 1;
    pthread_cond_broadcast(&st->changed);
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

static void write_floats(const char *key, const float *v, int n) {
    printf(", \"%s\": [", key);
    for (int i = 0; i < n; i++) printf(i ? ", %.9g" : "%.9g", v[i]); /* %.9g: a float32 exactly */
    putchar(']');
}

/* One answer line: probs ranked, their ties broken by the views' logits (views x classes). */
static void answer(const serve_state *st, const job *j, const float *probs, const float *logits, int views,
                   const float *features) {
    printf("{\"id\": %s", j->req.id ? j->req.id : "null");
    if (j->req.file) {
        fputs(", \"file\": ", stdout);
        cli_json_string(stdout, j->req.file);
    }
    if (!probs) {
        fputs(", \"error\": ", stdout);
        cli_json_string(stdout, j->error);
        fputs("}\n", stdout);
        return;
    }
    resnet_prediction *top = malloc((size_t)st->classes * sizeof *top);
    if (!top) {
        fputs(", \"error\": \"out of memory\"}\n", stdout);
        return;
    }
    resnet_top_k_logits(probs, logits, views, st->classes, j->req.k, top);
    fputs(", \"top\": [", stdout);
    for (int i = 0; i < j->req.k; i++) {
        char buf[64];
        printf("%s{\"index\": %d, \"name\": ", i ? ", " : "", top[i].index);
        cli_json_string(stdout, resnet_model_class_label(st->model, top[i].index, buf, sizeof buf));
        printf(", \"prob\": %.6g}", top[i].prob);
    }
    putchar(']');
    free(top);
    if (features) write_floats("features", features, resnet_model_feature_dim(st->model));
    fputs("}\n", stdout);
}

/* The runner's source (called on its decoding thread): the next request read, as an item. */
static int next_request(void *ctx, int may_block, resnet_item *item) {
    serve_state *st = ctx;
    pthread_mutex_lock(&st->mu);
    while (may_block && !st->head && !st->eof) pthread_cond_wait(&st->changed, &st->mu);
    job *j = st->head;
    if (j) {
        st->head = j->next;
        if (!st->head) st->tail = NULL;
        st->queued--;
        j->next = NULL; /* now inside the runner, until answered */
        if (st->last) st->last->next = j;
        else st->taken = j;
        st->last = j;
        pthread_cond_broadcast(&st->changed);
    }
    const int eof = st->eof;
    pthread_mutex_unlock(&st->mu);
    if (!j) return eof ? RESNET_SOURCE_END : RESNET_SOURCE_LATER;
    item->user = j;
    item->tta = j->req.tta;
    if (j->error[0]) { /* a malformed line: its error record, in its place */
        item->error = j->error;
    } else if (j->req.file) {
        item->path = j->req.file;
    } else {
        item->data = j->req.image;
        item->size = j->req.image_size;
        item->name = "image";
    }
    return RESNET_SOURCE_ITEM;
}

static void job_free(job *j);

/* Answers one request, in order, and flushes. */
static int on_answer(void *ctx, const resnet_item_result *r) {
    serve_state *st = ctx;
    job *j = r->user;
    pthread_mutex_lock(&st->mu);
    if (st->taken == j) { /* always: answers come in the order the requests were taken */
        st->taken = j->next;
        if (!st->taken) st->last = NULL;
    }
    pthread_mutex_unlock(&st->mu);
    if (r->status != RESNET_OK) {
        /* the library's message starts with the name, which the answer has in "file" */
        if (!j->error[0]) snprintf(j->error, sizeof j->error, "%s", cli_strip_file(r->message, r->name));
        answer(st, j, NULL, NULL, 0, NULL);
    } else {
        answer(st, j, r->probs, r->logits, r->views, j->req.features ? r->features : NULL); /* with views: their means */
    }
    fflush(stdout);
    job_free(j);
    return 0;
}

static void job_free(job *j) {
    serve_request_free(&j->req);
    free(j);
}

int cmd_serve(int argc, char **argv) {
    cli_common common = {0};
    serve_http_options ho = {.listen = NULL, .max_batch = 16, .max_delay_ms = 5, .max_queue = 64,
                             .max_body = (size_t)64 << 20, .timeout_s = 30, .request_timeout_s = 60,
                             .max_per_client = 32, .drain_timeout_s = 5, .max_inflight = (size_t)1024 << 20,
                             .decoders = 2, .max_request_mpx = 1000, .max_inflight_mpx = 2000,
                             .max_connections = 512};
    int c, http_only = 0;
    optind = 0;
    while ((c = cli_getopt(&cli_serve, argc, argv, &common)) != CLI_END) {
        switch (c) {
        case OPT_HTTP: ho.listen = optarg; continue;
        case OPT_MAX_BATCH: ho.max_batch = cli_optint; break;
        case OPT_MAX_DELAY: ho.max_delay_ms = cli_optint; break;
        case OPT_MAX_QUEUE: ho.max_queue = cli_optint; break;
        case OPT_MAX_BODY: ho.max_body = (size_t)cli_optint; break;
        case OPT_TIMEOUT: ho.timeout_s = cli_optint; break;
        case OPT_REQUEST_TIMEOUT: ho.request_timeout_s = cli_optint; break;
        case OPT_MAX_PER_CLIENT: ho.max_per_client = cli_optint; break;
        case OPT_DRAIN_TIMEOUT: ho.drain_timeout_s = cli_optint; break;
        case OPT_MAX_INFLIGHT: ho.max_inflight = (size_t)cli_optint << 20; break;
        case OPT_DECODERS: ho.decoders = cli_optint; break;
        case OPT_MAX_CONNECTIONS: ho.max_connections = cli_optint; break;
        case OPT_MAX_REQUEST_MPX: ho.max_request_mpx = (unsigned long long)cli_optint; break;
        case OPT_MAX_INFLIGHT_MPX: ho.max_inflight_mpx = (unsigned long long)cli_optint; break;
        default: return CLI_EXIT_STATUS(c);
        }
        http_only = 1; /* the --max-* and --timeout */
    }
    if (optind < argc) return cli_usage_error("serve: takes no operands (requests come on standard input)");
    if (http_only && !ho.listen)
        return cli_usage_error("serve: --max-*, --timeout, --request-timeout, --drain-timeout and --decoders go with --http");
    resnet_model *model = cli_load_classifier(&common, "serve");
    if (!model) return 1;
    if (ho.listen) {
        ho.image_flags = common.image_flags;
        const int hrc = serve_http(model, common.threads, &ho);
        resnet_model_free(model);
        return hrc;
    }
    resnet_session *s = NULL;
    resnet_error err;
    if (resnet_session_create(model, common.threads, SERVE_BATCH, &s, &err) != RESNET_OK) {
        resnet_model_free(model);
        return cli_error("%s", err.message);
    }
    resnet_session_set_image_flags(s, common.image_flags); /* --exif-orientation */
    serve_state st;
    memset(&st, 0, sizeof st);
    st.model = model;
    st.classes = resnet_model_classes(model);
    int rc = 1;
    pthread_t th;
    int mu = 0, cond = 0;
    mu = pthread_mutex_init(&st.mu, NULL) == 0;
    cond = mu && pthread_cond_init(&st.changed, NULL) == 0;
    if (!cond || pthread_create(&th, NULL, reader, &st) != 0) {
        cli_error("serve: cannot start the reading thread");
        goto done;
    }
    resnet_run_options ro;
    resnet_run_options_init(&ro);
    ro.want = RESNET_WANT_PROBS | RESNET_WANT_LOGITS | RESNET_WANT_FEATURES;
    resnet_status run = resnet_run(s, next_request, &st, on_answer, &st, &ro, &err);
    if (run != RESNET_OK) {
        /* the network failed: every request still gets its answer, in order: first those
         * inside the runner's batches, then those read after them, to the end of the input */
        for (;;) {
            job *j = st.taken; /* the runner has returned: only the reader runs beside us */
            if (!j) {
                resnet_item item;
                memset(&item, 0, sizeof item);
                if (next_request(&st, 1, &item) != RESNET_SOURCE_ITEM) break;
                continue; /* it is on the taken list now */
            }
            st.taken = j->next;
            if (!st.taken) st.last = NULL;
            if (!j->error[0]) snprintf(j->error, sizeof j->error, "%s", err.message);
            answer(&st, j, NULL, NULL, 0, NULL);
            fflush(stdout);
            job_free(j);
        }
    }
    pthread_join(th, NULL); /* the input was read to its end */
    rc = 0;
    if (run != RESNET_OK) rc = cli_error("serve: %s", err.message);
    if (st.read_failed) rc = cli_error("serve: cannot read standard input");
    if (st.nomem) rc = cli_error("serve: out of memory");
    if (ferror(stdout)) { /* said here; cleared so that main's check of stdout does not say it again */
        rc = cli_error("serve: cannot write standard output");
        clearerr(stdout);
    }
done:
    if (cond) pthread_cond_destroy(&st.changed);
    if (mu) pthread_mutex_destroy(&st.mu);
    resnet_session_free(s);
    resnet_model_free(model);
    return rc;
}
