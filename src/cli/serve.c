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
#include "common.h"
#include "image/image.h"

#define SERVE_BATCH RESNET_TTA_MAX_VIEWS /* rows per forward pass; any request's views fit */
#define SERVE_QUEUE (4 * SERVE_BATCH) /* requests read ahead of the runner at most */
#define SERVE_LINE_MAX ((size_t)256 << 20) /* a request line (base64 photos) of 256 MiB at most */

enum { OPT_HTTP = CLI_OPT_FIRST_OWN, OPT_MAX_BATCH, OPT_MAX_DELAY, OPT_MAX_QUEUE, OPT_MAX_BODY, OPT_TIMEOUT };

static const struct option options[] = {
    {"http", required_argument, NULL, OPT_HTTP},
    {"max-batch", required_argument, NULL, OPT_MAX_BATCH},
    {"max-delay-ms", required_argument, NULL, OPT_MAX_DELAY},
    {"max-queue", required_argument, NULL, OPT_MAX_QUEUE},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    CLI_NETWORK_OPTIONS,
    CLI_HELP_OPTION,
    {0},
};

const cli_command cli_serve = {
    .name = "serve", .run = cmd_serve, .synopsis = "",
    .brief = "a JSON-lines worker: requests on stdin, one answer line per request on stdout",
    .about = "Reads one JSON request per line on standard input, {\"id\": ANY, \"file\": PATH} or\n"
             "{\"id\": ANY, \"image\": BASE64 of a photo file}, with optional \"k\" (1..1000, default 5),\n"
             "\"tta\" (none, flip, 10crop, multiscale) and \"features\": true. Writes one line per\n"
             "request, in order, flushed: {\"id\", \"file\" (for files), \"top\": [{\"index\", \"name\",\n"
             "\"prob\"}...], \"features\" (when asked)} or {\"id\", \"error\"}. A malformed line gets an\n"
             "error record (id null when it cannot be read) and the worker goes on; blank lines are\n"
             "skipped. The model loads once; requests waiting are run together and photos decoded ahead.\n"
             "With --http HOST:PORT it is an HTTP server instead: the Open Inference Protocol v2\n"
             "(GET /v2/health/live, /v2/health/ready, /v2/models/resnet50; POST\n"
             "/v2/models/resnet50/infer with a BYTES input of base64 photo files), POST /v1/classify\n"
             "(the body is a photo; ?k=, ?tta=) and GET /metrics (Prometheus). SIGTERM or SIGINT: stop\n"
             "accepting, answer the requests received, exit 0.",
    .help = "      --http HOST:PORT  serve HTTP on that address (127.0.0.1:8000, [::1]:8000; port 0: any\n"
            "                        free one, printed on stderr)\n"
            "      --max-batch N     images per forward pass at most (default 16)\n"
            "      --max-delay-ms MS how long a request waits for others to batch with (default 5)\n"
            "      --max-queue N     requests waiting for the network at most, beyond: 503 (default 64)\n"
            "      --max-body BYTES  request body size at most, beyond: 413 (default 64 MiB)\n"
            "      --timeout S       a connection idle or this slow for S seconds is closed (default 30)\n",
    .notes = "exit status: 0 at the end of the input (whatever the requests' errors), 1 when the\n"
             "model cannot be loaded or the input cannot be read, 2 usage error\n",
    .shortopts = "h", .options = options,
};

typedef struct job {
    serve_request req;
    char error[sizeof(((resnet_error *)0)->message)]; /* "" unless refused */
    struct job *next;
} job;

typedef struct serve_state {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    job *head, *tail;
    int queued, eof, read_failed, nomem;
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
            const int pr = serve_request_parse(line, len, &j->req);
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

/* One answer line. */
static void answer(const job *j, const float *probs, const float *features) {
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
    resnet_prediction top[RESNET_NUM_CLASSES];
    resnet_top_k(probs, RESNET_NUM_CLASSES, j->req.k, top);
    fputs(", \"top\": [", stdout);
    for (int i = 0; i < j->req.k; i++) {
        printf("%s{\"index\": %d, \"name\": ", i ? ", " : "", top[i].index);
        cli_json_string(stdout, resnet_class_name(top[i].index));
        printf(", \"prob\": %.6g}", top[i].prob);
    }
    putchar(']');
    if (features) write_floats("features", features, RESNET_FEATURE_DIM);
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
    (void)ctx;
    job *j = r->user;
    if (r->status != RESNET_OK) {
        /* the library's message starts with the name, which the answer has in "file" */
        if (!j->error[0]) snprintf(j->error, sizeof j->error, "%s", cli_strip_file(r->message, r->name));
        answer(j, NULL, NULL);
    } else {
        answer(j, r->probs, j->req.features ? r->features : NULL); /* with views: their means */
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
    cli_common common = {.kernels = RESNET_KERNELS_AUTO};
    serve_http_options ho = {.listen = NULL, .max_batch = 16, .max_delay_ms = 5, .max_queue = 64,
                             .max_body = (size_t)64 << 20, .timeout_s = 30};
    int c, http_only = 0, body = 0;
    optind = 0;
    while ((c = cli_getopt(&cli_serve, argc, argv, &common)) != CLI_END) {
        switch (c) {
        case OPT_HTTP: ho.listen = optarg; break;
        case OPT_MAX_BATCH:
            if (cli_parse_int("--max-batch", optarg, 1, 256, &ho.max_batch)) return 2;
            http_only = 1;
            break;
        case OPT_MAX_DELAY:
            if (cli_parse_int("--max-delay-ms", optarg, 0, 10000, &ho.max_delay_ms)) return 2;
            http_only = 1;
            break;
        case OPT_MAX_QUEUE:
            if (cli_parse_int("--max-queue", optarg, 1, 100000, &ho.max_queue)) return 2;
            http_only = 1;
            break;
        case OPT_MAX_BODY:
            if (cli_parse_int("--max-body", optarg, 1, 1 << 30, &body)) return 2;
            ho.max_body = (size_t)body;
            http_only = 1;
            break;
        case OPT_TIMEOUT:
            if (cli_parse_int("--timeout", optarg, 1, 3600, &ho.timeout_s)) return 2;
            http_only = 1;
            break;
        default: return CLI_EXIT_STATUS(c);
        }
    }
    if (optind < argc) return cli_usage_error("serve: takes no operands (requests come on standard input)");
    if (http_only && !ho.listen) return cli_usage_error("serve: --max-* and --timeout go with --http");
    resnet_model *model = cli_load_model(&common);
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
    ro.want = RESNET_WANT_PROBS | RESNET_WANT_FEATURES;
    resnet_status run = resnet_run(s, next_request, &st, on_answer, NULL, &ro, &err);
    if (run != RESNET_OK) { /* the network failed: every request still gets its answer */
        resnet_item item;
        while (memset(&item, 0, sizeof item), next_request(&st, 1, &item) == RESNET_SOURCE_ITEM) {
            job *j = item.user;
            if (!j->error[0]) snprintf(j->error, sizeof j->error, "%s", err.message);
            answer(j, NULL, NULL);
            fflush(stdout);
            job_free(j);
        }
    }
    pthread_join(th, NULL); /* the input was read to its end */
    rc = 0;
    if (run != RESNET_OK) rc = cli_error("serve: %s", err.message);
    if (st.read_failed) rc = cli_error("serve: cannot read standard input");
    if (st.nomem) rc = cli_error("serve: out of memory");
    if (ferror(stdout)) rc = cli_error("serve: cannot write standard output");
done:
    if (cond) pthread_cond_destroy(&st.changed);
    if (mu) pthread_mutex_destroy(&st.mu);
    resnet_session_free(s);
    resnet_model_free(model);
    return rc;
}
