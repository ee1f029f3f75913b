/* serve_http.c - `resnet serve --http HOST:PORT`: the Open Inference Protocol v2 (KServe's v2
 * REST API) and a plain /v1/classify, on libmicrohttpd (HTTP parsing and idle timeouts are its
 * job). In front of it, serve_guard.c owns the listening socket: it checks each request head's
 * framing, the per-address connection limit and the head's deadline, then hands the connection
 * over; the body's deadline (--request-timeout) and the bytes in flight (--max-inflight-mb) are
 * kept here.
 *
 * Each connection has a thread (libmicrohttpd's thread-per-connection mode): it reads the body,
 * queues one job and decodes the job's photos itself, each straight into the network's input
 * rows (its views), handing each to the network thread as soon as it is ready, then waits for
 * the answers. Decoding is not one queue: --decoders photos decode at once over all requests,
 * taking turns photo by photo in the order they asked, so a request of ten huge photos holds
 * one turn at a time and a small request decodes beside it, while the network runs (no more
 * turns than that: decoding on every handler thread at once took the cores from the network's
 * threads). Each photo's decoded pixels count against --max-request-mpx (413) and, until its
 * request is answered, --max-inflight-mpx (503); a photo's size is known once it is decoded,
 * so one photo past a budget is decoded before the refusal. Dynamic batching is the network
 * thread's (network() says how). A full queue (--max-queue requests not yet handed to the
 * network whole) answers 503 at once rather than letting latency grow without bound.
 *
 * SIGTERM/SIGINT: stop accepting (the listening socket is closed), answer every request already
 * received, give those still arriving --drain-timeout, then exit 0; a second signal during the
 * drain exits 1 at once. libmicrohttpd's messages are timed and rate-limited (mhd_log). */
#include "cli/serve_http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h" /* rn_tta_average: the views averaged as resnet_run does */
#include "cli/cli.h"
#include "cli/serve_guard.h"
#include "cli/serve_metrics.h"
#include "cli/serve_oip.h"

#define MODEL_NAME SERVE_OIP_MODEL

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- jobs: a request's photos, decoded on its connection's thread, run by the network's ---- */
typedef struct job {
    int n;                  /* photos */
    int views;              /* each photo's rows in the network (its test-time views) */
    resnet_tta tta;
    const char *name;       /* the photos' name in messages: "body" or "image" */
    const void **data;      /* n photo files in memory (the request's body or its base64 decoded) */
    size_t *size;
    float *input;           /* n x views rows of the network's input, filled as each photo is decoded */
    float *probs;           /* n x classes, written by the network thread */
    float *logits;          /* n x views x classes, its logits: they order what the softmax underflowed to 0 */
    int decoded, handed, answered; /* photos decoded, handed to the network, answered by it */
    int stopped;            /* no more photos go to the network: the request failed */
    int refused;            /* an HTTP status (413, 503): a pixel budget said no, message says which */
    resnet_status status;   /* the first error: a photo's (failed is its index) or the network's */
    int failed;             /* -1: the forward pass failed, not a photo */
    char message[sizeof(((resnet_error *)0)->message)];
    int owns;               /* data[i] are the job's own (freed with it) */
    double arrived;
    unsigned long long pixels; /* decoded so far: --max-request-mpx, counted in sv->pixels */
    struct job *next;
} job;

typedef struct server {
    const serve_http_options *o;
    const resnet_model *model;
    int classes;       /* the model's: each photo's probabilities */
    size_t view_floats; /* one row of the network's input: 3 x N x N */
    int rows_max;      /* the session's batch: --max-batch, or one photo's views if more */
    resnet_session *session;
    pthread_mutex_t mu;
    pthread_cond_t queued, finished, turn;
    job *head, *tail;  /* every job admitted and not yet answered, in order */
    int queue_len;     /* jobs with photos not yet handed to the network: --max-queue, /metrics */
    unsigned long tickets, decodes_done; /* decoding turns: a photo decodes when its ticket < done + --decoders */
    unsigned long long pixels; /* decoded pixels of the requests in progress: --max-inflight-mpx */
    int stop, draining;
    int in_flight;     /* requests begun (head in) and not yet completed */
    int arriving;      /* of those, the ones whose body is not in yet */
    struct request *late; /* those, listed for cut_overdue (a request with no fd is not) */
    size_t held;       /* bytes held by requests in flight (bodies, decoded photos): --max-inflight-mb */
    double log_window; /* mhd_log's rate limit: this window's start, its lines, drops already said */
    int log_in_window;
    unsigned long long log_said_dropped;
    serve_guard *guard;
    serve_metrics m;   /* /metrics */
    float *in, *logits; /* the network thread's: one batch's input and logits (rows_max rows) */
    struct slot *slots; /* which job's photo each of its photos is */
} server;

/* ---- requests ----------------------------------------------------------------------------- */
typedef struct request {
    char *body;
    size_t len, cap;
    int too_big;      /* 1 past --max-body, 2 past --max-inflight-mb on its own: 413 */
    int too_busy;     /* past --max-inflight-mb while its body came: 503 once it is in */
    size_t held;      /* its bytes counted in sv->held */
    int arriving;     /* counted in sv->arriving */
    double t0;
    double deadline;  /* the whole request (head and body) in by then: --request-timeout */
    int fd;           /* its connection's socket, while listed in sv->late (-1: not listed) */
    int cut;          /* cut_overdue shut it: counted 408 there */
    struct request *prev, *next;
} request;

/* The body has stopped arriving (it is in, or the connection ended): off sv->late (mu held). */
static void unlist(server *sv, request *r) {
    if (r->fd < 0) return;
    if (r->prev) r->prev->next = r->next;
    else sv->late = r->next;
    if (r->next) r->next->prev = r->prev;
    r->prev = r->next = NULL;
    r->fd = -1;
}

/* Cuts the connections whose body is still arriving past its deadline. on_request checks the
 * deadline as bytes come, but libmicrohttpd calls it only with body bytes: a chunked body
 * trickling chunk extensions, size digits or trailers one byte at a time would never be cut
 * (and --timeout is reset by every byte). shutdown() wakes the connection's thread, which
 * ends the request; the socket stays open until then, and on_completed unlists it first. */
static void cut_overdue(server *sv) {
    const double t = now_s();
    pthread_mutex_lock(&sv->mu);
    for (request *r = sv->late; r; r = r->next)
        if (!r->cut && t > r->deadline) {
            r->cut = 1;
            shutdown(r->fd, SHUT_RDWR);
            serve_metrics_request(&sv->m, 408, t - r->t0);
        }
    pthread_mutex_unlock(&sv->mu);
}

/* An answer; allow: the Allow field's methods, or NULL for none. */
static enum MHD_Result reply_allow(server *sv, struct MHD_Connection *c, request *r, int code, const char *type,
                                   const char *body, size_t len, const char *allow) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    /* one request per connection: every head passes the guard (serve_guard.h), and when
     * shutting down no further request comes, so the drain ends */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)code, resp);
    MHD_destroy_response(resp);
    const double dt = now_s() - r->t0;
    pthread_mutex_lock(&sv->mu);
    serve_metrics_request(&sv->m, code, dt);
    pthread_mutex_unlock(&sv->mu);
    return ret;
}

static enum MHD_Result reply(server *sv, struct MHD_Connection *c, request *r, int code, const char *type,
                             const char *body, size_t len) {
    return reply_allow(sv, c, r, code, type, body, len, NULL);
}

/* 405: the path exists, not for this method. RFC 9110 15.5.6: the answer says in Allow which
 * methods it takes (POST for /v1/classify and infer, GET and HEAD for the rest). */
static enum MHD_Result not_allowed(server *sv, struct MHD_Connection *c, request *r, int post) {
    static const char use_get[] = "{\"error\": \"use GET\"}", use_post[] = "{\"error\": \"use POST\"}";
    return post ? reply_allow(sv, c, r, 405, "application/json", use_post, sizeof use_post - 1, "POST")
                : reply_allow(sv, c, r, 405, "application/json", use_get, sizeof use_get - 1, "GET, HEAD");
}

/* Counts `more` bytes against --max-inflight-mb for r; -1 (nothing counted) past it. */
static int hold(server *sv, request *r, size_t more) {
    pthread_mutex_lock(&sv->mu);
    const int ok = more <= sv->o->max_inflight && sv->held <= sv->o->max_inflight - more;
    if (ok) {
        sv->held += more;
        r->held += more;
    }
    pthread_mutex_unlock(&sv->mu);
    return ok ? 0 : -1;
}

static const char busy_msg[] = "the server holds --max-inflight-mb of requests already: try again later";
static const char too_big_inflight[] = "the body alone is larger than --max-inflight-mb, the bytes all requests in "
                                       "flight may hold together";

/* ---- stderr ------------------------------------------------------------------------------- */
/* The peer (IP:port) of the connection this thread serves, named in its lines: each connection
 * has its own thread (thread-per-connection), and on_request sets it when the head is in. */
static __thread char log_peer[72];

/* Lines about requests (libmicrohttpd's: a client gone mid-request, ...; a forward pass that
 * failed): any client can cause one, so at most LOG_BURST lines per LOG_WINDOW_S seconds reach
 * stderr, each with the time (UTC) and the peer when there is one; the rest are counted
 * (/metrics: resnet_log_lines_total) and their number said with the next line. */
#define LOG_BURST 10
#define LOG_WINDOW_S 10.0

static void log_v(server *sv, const char *fmt, va_list ap) {
    const double t = now_s();
    pthread_mutex_lock(&sv->mu);
    if (t - sv->log_window >= LOG_WINDOW_S) {
        sv->log_window = t;
        sv->log_in_window = 0;
    }
    const int write_it = sv->log_in_window < LOG_BURST;
    unsigned long long dropped = 0;
    if (write_it) {
        sv->log_in_window++;
        sv->m.log_lines++;
        dropped = sv->m.log_dropped - sv->log_said_dropped;
        sv->log_said_dropped = sv->m.log_dropped;
    } else {
        sv->m.log_dropped++;
    }
    pthread_mutex_unlock(&sv->mu);
    if (!write_it) return;
    char msg[300], when[32];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    const time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (dropped) fprintf(stderr, "resnet: serve: %s: (%llu lines held back by the rate limit)\n", when, dropped);
    if (log_peer[0]) fprintf(stderr, "resnet: serve: %s: %s: %s\n", when, log_peer, msg);
    else fprintf(stderr, "resnet: serve: %s: %s\n", when, msg);
}

static void serve_log(server *sv, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_v(sv, fmt, ap);
    va_end(ap);
}

/* addr as IP:port ([IPv6]:port). */
static void peer_name(const struct sockaddr *addr, char *buf, size_t size) {
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (addr && addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
        snprintf(buf, size, "%s:%u", host, port);
    } else if (addr && addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(buf, size, "[%s]:%u", host, port);
    } else {
        snprintf(buf, size, "?");
    }
}

/* x failed (sv->mu held): the first error is kept, no more of its photos go to the network. */
static void job_fail(job *x, resnet_status st, int photo, const char *message) {
    if (x->status == RESNET_OK && !x->refused) {
        x->status = st;
        x->failed = photo;
        snprintf(x->message, sizeof x->message, "%s", message);
    }
    x->stopped = 1;
}

/* Photos decoded and not yet handed to the network, in rows, up to `enough` (sv->mu held). */
static int ready_rows(const server *sv, int enough) {
    int rows = 0;
    for (const job *x = sv->head; x && rows < enough; x = x->next)
        if (!x->stopped) rows += (x->decoded - x->handed) * x->views;
    return rows;
}

typedef struct slot {
    struct job *x;
    int photo, row; /* the job's photo, and its first row in the batch */
} slot;

/* The network thread: batches of the photos decoded, until the server stops. Dynamic batching:
 * a batch's first request waits at most --max-delay-ms (from its arrival) for others while
 * the batch has room; a batch holds at most --max-batch rows (a lone photo with more views
 * still runs: the session holds any request's views) and takes the requests' photos in turn,
 * one each, so that a request of many photos does not hold back the others. A forward pass
 * that fails answers its requests 500 with the reason, and the next batch runs as usual. */
static void *network(void *arg) {
    server *sv = arg;
    /* Test seam (tests/http_check.py), as the library's runner has: with RESNET_TEST_FAIL_PASS=N
     * in the environment when the server starts, its Nth forward pass fails as an out-of-memory
     * would, so that a failed pass's requests and the ones after it can be checked. */
    const char *fail_env = getenv("RESNET_TEST_FAIL_PASS");
    const long fail_at = fail_env ? atol(fail_env) : 0;
    long passes = 0;
    const int max_rows = sv->o->max_batch, nc = sv->classes;
    float *in = sv->in, *logits = sv->logits;
    slot *slots = sv->slots;
    for (;;) {
        pthread_mutex_lock(&sv->mu);
        job *first = NULL;
        for (;;) {
            for (first = sv->head; first && (first->stopped || first->handed == first->decoded); first = first->next) {
            }
            if (first || sv->stop) break;
            pthread_cond_wait(&sv->queued, &sv->mu);
        }
        if (!first) { /* stopping: every request was answered */
            pthread_mutex_unlock(&sv->mu);
            break;
        }
        const double until = first->arrived + 1e-3 * sv->o->max_delay_ms;
        while (!sv->stop && ready_rows(sv, max_rows) < max_rows && now_s() < until) {
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            const long ns = t.tv_nsec + (long)((until - now_s()) * 1e9);
            t.tv_sec += ns / 1000000000L;
            t.tv_nsec = ns % 1000000000L;
            if (pthread_cond_timedwait(&sv->queued, &sv->mu, &t) == ETIMEDOUT) break;
        }
        int rows = 0, k = 0;
        for (int took = 1; took && rows < max_rows;) { /* one photo of each request in turn */
            took = 0;
            for (job *x = sv->head; x; x = x->next) {
                if (x->stopped || x->handed == x->decoded || (rows > 0 && rows + x->views > max_rows)) continue;
                slots[k++] = (slot){x, x->handed++, rows};
                rows += x->views;
                if (x->handed == x->n) sv->queue_len--;
                took = 1;
                if (rows >= max_rows) break;
            }
        }
        pthread_mutex_unlock(&sv->mu);
        if (k == 0) continue; /* what was ready failed meanwhile */
        /* the jobs stay put while they have photos handed and not answered */
        for (int i = 0; i < k; i++)
            memcpy(in + (size_t)slots[i].row * sv->view_floats,
                   slots[i].x->input + (size_t)slots[i].photo * (size_t)slots[i].x->views * sv->view_floats,
                   (size_t)slots[i].x->views * sv->view_floats * sizeof(float));
        resnet_error e;
        resnet_outputs outs;
        resnet_outputs_init(&outs);
        outs.logits = logits;
        resnet_status st = RESNET_E_NOMEM;
        if (++passes == fail_at) snprintf(e.message, sizeof e.message, "forward pass failed (RESNET_TEST_FAIL_PASS)");
        else st = resnet_forward_ex(sv->session, in, rows, &outs, &e);
        if (st != RESNET_OK) serve_log(sv, "%s", e.message);
        for (int i = 0; i < k && st == RESNET_OK; i++) { /* each photo's answer, or why there is none */
            job *x = slots[i].x;
            resnet_outputs one;
            resnet_outputs_init(&one);
            one.logits = logits + (size_t)slots[i].row * (size_t)nc;
            if (resnet_model_outputs_check(sv->model, &one, x->views, &e) != RESNET_OK) {
                pthread_mutex_lock(&sv->mu);
                job_fail(x, RESNET_E_WEIGHTS, slots[i].photo, e.message);
                pthread_mutex_unlock(&sv->mu);
                continue;
            }
            rn_tta_average(one.logits, x->views, nc, x->probs + (size_t)slots[i].photo * (size_t)nc);
            memcpy(x->logits + (size_t)slots[i].photo * (size_t)x->views * (size_t)nc, one.logits,
                   (size_t)x->views * (size_t)nc * sizeof(float));
        }
        pthread_mutex_lock(&sv->mu);
        if (st == RESNET_OK) serve_metrics_batch(&sv->m, rows);
        for (int i = 0; i < k; i++) {
            if (st != RESNET_OK) job_fail(slots[i].x, st, -1, e.message);
            slots[i].x->answered++;
        }
        pthread_cond_broadcast(&sv->finished);
        pthread_mutex_unlock(&sv->mu);
    }
    return NULL;
}

/* Runs x: admitted (or 503 past --max-queue), its photos decoded here, each as soon as a
 * decoding turn is free (--decoders photos at once over all requests, taken in order of
 * asking, so a request of big photos holds one turn at a time and the others pass), counted
 * against the pixel budgets, and handed to the network thread as each is ready. Returns once
 * every photo handed was answered: 0 (x->status says how it went), or the HTTP status of a
 * refusal (413, 503) with x->message. */
static int run_job(server *sv, request *r, job *x) {
    resnet_view views[RESNET_TTA_MAX_VIEWS];
    x->views = resnet_tta_views(x->tta, views);
    size_t floats;
    /* n <= SERVE_OIP_MAX_IMAGES, views <= RESNET_TTA_MAX_VIEWS: the product is checked all the same */
    const size_t rows = (size_t)x->n * (size_t)(x->views > 0 ? x->views : 1), row = sv->view_floats * sizeof(float);
    floats = rows * row;
    if (x->views < 1 || row == 0 || rows > SIZE_MAX / row || hold(sv, r, floats) != 0) {
        snprintf(x->message, sizeof x->message, "%s", busy_msg);
        return 503;
    }
    if (!(x->input = malloc(floats))) {
        snprintf(x->message, sizeof x->message, "out of memory");
        return 500;
    }
    pthread_mutex_lock(&sv->mu);
    if (sv->queue_len >= sv->o->max_queue) {
        pthread_mutex_unlock(&sv->mu);
        snprintf(x->message, sizeof x->message, "the queue is full: try again later");
        return 503;
    }
    x->arrived = now_s();
    if (sv->tail) sv->tail->next = x;
    else sv->head = x;
    sv->tail = x;
    sv->queue_len++;
    pthread_mutex_unlock(&sv->mu);
    const unsigned long long per_request = sv->o->max_request_mpx * 1000000ULL;
    const unsigned long long inflight = sv->o->max_inflight_mpx * 1000000ULL;
    for (int i = 0; i < x->n; i++) {
        pthread_mutex_lock(&sv->mu);
        const unsigned long ticket = sv->tickets++;
        while (ticket >= sv->decodes_done + (unsigned long)sv->o->decoders) pthread_cond_wait(&sv->turn, &sv->mu);
        const int go = !x->stopped;
        pthread_mutex_unlock(&sv->mu);
        resnet_image img = {0};
        resnet_error e;
        resnet_status st = RESNET_OK;
        int refused = 0;
        if (go) st = resnet_image_load_memory(x->data[i], x->size[i], x->name, sv->o->image_flags, &img, &e);
        if (go && st == RESNET_OK) {
            const unsigned long long px = (unsigned long long)img.width * (unsigned long long)img.height;
            pthread_mutex_lock(&sv->mu);
            /* over a budget alone: 413 (it never fits); over it with the others in progress: 503 */
            const int alone = x->pixels + px > per_request || x->pixels + px > inflight;
            if (alone) refused = 413;
            else if (sv->pixels + px > inflight) refused = 503;
            if (refused) {
                x->refused = refused;
                if (alone)
                    snprintf(x->message, sizeof x->message, "the photos of one request hold %llu million pixels at most "
                             "(%s): with image %d (%dx%d) they hold %.1f million",
                             per_request <= inflight ? sv->o->max_request_mpx : sv->o->max_inflight_mpx,
                             per_request <= inflight ? "--max-request-mpx" : "--max-inflight-mpx", i, img.width,
                             img.height, (double)(x->pixels + px) / 1e6);
                else
                    snprintf(x->message, sizeof x->message, "the requests in progress hold --max-inflight-mpx (%llu "
                             "million) decoded pixels already: try again later", sv->o->max_inflight_mpx);
                x->stopped = 1;
            } else {
                x->pixels += px;
                sv->pixels += px;
            }
            pthread_mutex_unlock(&sv->mu);
            if (!refused)
                st = resnet_model_preprocess_image_views(sv->model, &img, views, x->views,
                                                         x->input + (size_t)i * (size_t)x->views * sv->view_floats, &e);
        }
        resnet_image_free(&img);
        pthread_mutex_lock(&sv->mu);
        sv->decodes_done++;
        pthread_cond_broadcast(&sv->turn);
        if (go && !refused && st != RESNET_OK) job_fail(x, st, i, cli_strip_file(e.message, x->name));
        else if (go && !refused) x->decoded++;
        pthread_cond_broadcast(&sv->queued);
        const int stopped = x->stopped;
        pthread_mutex_unlock(&sv->mu);
        if (stopped) break;
    }
    pthread_mutex_lock(&sv->mu);
    while (x->answered < (x->stopped ? x->handed : x->n)) pthread_cond_wait(&sv->finished, &sv->mu);
    if (x->handed < x->n) sv->queue_len--; /* stopped: the rest never goes */
    job **p = &sv->head, *prev = NULL;
    while (*p != x) prev = *p, p = &(*p)->next;
    *p = x->next;
    if (sv->tail == x) sv->tail = prev;
    sv->pixels -= x->pixels;
    pthread_mutex_unlock(&sv->mu);
    return x->refused;
}


/* A JSON body built with stdio (open_memstream) and sent. */
typedef struct out {
    char *buf;
    size_t len;
    FILE *f;
} out;

static int out_open(out *o) {
    o->buf = NULL;
    o->len = 0;
    o->f = open_memstream(&o->buf, &o->len);
    return o->f ? 0 : -1;
}

static enum MHD_Result out_send(server *sv, struct MHD_Connection *c, request *r, int code, out *o,
                                const char *type) {
    enum MHD_Result ret;
    if (fclose(o->f) != 0 || !o->buf) ret = reply(sv, c, r, 500, "application/json", "{\"error\": \"out of memory\"}", 26);
    else ret = reply(sv, c, r, code, type, o->buf, o->len);
    free(o->buf);
    return ret;
}

static enum MHD_Result error_reply(server *sv, struct MHD_Connection *c, request *r, int code, const char *msg) {
    out o;
    if (out_open(&o) != 0) return reply(sv, c, r, 500, "application/json", "{\"error\": \"out of memory\"}", 26);
    fputs("{\"error\": ", o.f);
    cli_json_string(o.f, msg);
    fputs("}", o.f);
    return out_send(sv, c, r, code, &o, "application/json");
}

static job *job_new(int n, int classes, const char *name, resnet_tta tta, int owns) {
    job *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->n = n;
    x->name = name;
    x->tta = tta;
    x->owns = owns;
    x->data = calloc((size_t)n, sizeof *x->data);
    x->size = calloc((size_t)n, sizeof *x->size);
    /* n and classes come from the request and the model: checked, not wrapped */
    const int fits = n > 0 && classes > 0 && (size_t)classes <= SIZE_MAX / sizeof(float) / (size_t)n;
    x->probs = fits ? malloc((size_t)n * (size_t)classes * sizeof(float)) : NULL;
    const int views = resnet_tta_views(tta, NULL) > 0 ? resnet_tta_views(tta, NULL) : 1; /* as run_job sets */
    x->logits = fits && (size_t)views <= SIZE_MAX / sizeof(float) / (size_t)n / (size_t)classes
                    ? malloc((size_t)n * (size_t)views * (size_t)classes * sizeof(float))
                    : NULL;
    if (!x->data || !x->size || !x->probs || !x->logits) {
        free(x->data);
        free(x->size);
        free(x->probs);
        free(x->logits);
        free(x);
        return NULL;
    }
    return x;
}

static void job_free(job *x) {
    if (!x) return;
    for (int i = 0; x->owns && i < x->n; i++) free((void *)x->data[i]);
    free(x->data);
    free(x->size);
    free(x->probs);
    free(x->logits);
    free(x->input);
    free(x);
}

/* A job answered with an error: 400 for a photo that could not be read, 500 when the network
 * gave no answer (inf/NaN, or the forward pass failed). */
static enum MHD_Result job_error_reply(server *sv, struct MHD_Connection *c, request *r, job *x) {
    const int code = x->failed < 0 || x->status == RESNET_E_WEIGHTS || x->status == RESNET_E_NOMEM ? 500 : 400;
    char msg[sizeof x->message + 32];
    if (x->failed >= 0 && x->owns) snprintf(msg, sizeof msg, "image %d: %s", x->failed, x->message);
    else snprintf(msg, sizeof msg, "%s", x->message);
    enum MHD_Result ret = error_reply(sv, c, r, code, msg);
    job_free(x);
    return ret;
}

/* The top k of one photo's probabilities (its views' logits break their ties), named by the model. */
static int write_top(const server *sv, FILE *f, const float *probs, const float *logits, int views, int k) {
    resnet_prediction *top = malloc((size_t)sv->classes * sizeof *top);
    if (!top) return -1;
    resnet_top_k_logits(probs, logits, views, sv->classes, k, top);
    fputs("[", f);
    for (int i = 0; i < k; i++) {
        char buf[64];
        fprintf(f, "%s{\"index\": %d, \"name\": ", i ? ", " : "", top[i].index);
        cli_json_string(f, resnet_model_class_label(sv->model, top[i].index, buf, sizeof buf));
        fprintf(f, ", \"prob\": %.6g}", top[i].prob);
    }
    fputs("]", f);
    free(top);
    return 0;
}

/* The infer answer: req->n rows of the model's probabilities, or Triton's classification
 * extension ("prob:index:label", the top K of each photo) when K was asked for. */
static int oip_write(const server *sv, FILE *f, const serve_oip_request *req, const float *probs,
                     const float *logits, int views) {
    const int k = req->k, nc = sv->classes;
    resnet_prediction *top = k ? malloc((size_t)nc * sizeof *top) : NULL;
    if (k && !top) return -1;
    fputs("{\"model_name\": \"" SERVE_OIP_MODEL "\", \"model_version\": \"1\"", f);
    if (req->id) {
        fputs(", \"id\": ", f);
        cli_json_string(f, req->id);
    }
    fputs(", \"outputs\": [{\"name\": \"probabilities\", ", f);
    fprintf(f, "\"datatype\": \"%s\", \"shape\": [%d, %d], \"data\": [", k ? "BYTES" : "FP32", req->n, k ? k : nc);
    for (int i = 0; i < req->n; i++) {
        const float *p = probs + (size_t)i * (size_t)nc;
        if (k) {
            resnet_top_k_logits(p, logits + (size_t)i * (size_t)views * (size_t)nc, views, nc, k, top);
            for (int t = 0; t < k; t++) {
                char entry[160], buf[64];
                snprintf(entry, sizeof entry, "%.6g:%d:%s", top[t].prob, top[t].index,
                         resnet_model_class_label(sv->model, top[t].index, buf, sizeof buf));
                fputs(i || t ? ", " : "", f);
                cli_json_string(f, entry);
            }
        } else {
            for (int j = 0; j < nc; j++) fprintf(f, (i || j) ? ", %.9g" : "%.9g", p[j]);
        }
    }
    fputs("]}]}\n", f);
    free(top);
    return 0;
}

/* What is wrong with /v1/classify's query, said into why[128]: an argument it does not know,
 * refused as the JSON-lines worker refuses an unknown member ("?topk=3" taken as no k would
 * answer the default 5 as if it had been asked for); "?k" with no value, or k given twice,
 * for the same reason (the lookup takes the first, or nothing, and answers the default). */
typedef struct query_check {
    char why[128];
    const char *value[2]; /* k's and tta's, NULL where not given */
} query_check;

static enum MHD_Result check_argument(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    query_check *q = cls;
    if (!*key && !value) return MHD_YES; /* a stray '&' ("?&k=3") names nothing */
    const int which = strcmp(key, "k") == 0 ? 0 : strcmp(key, "tta") == 0 ? 1 : -1;
    if (which >= 0 && !value) snprintf(q->why, sizeof q->why, "query argument '%s' has no value", key);
    else if (which >= 0 && q->value[which]) snprintf(q->why, sizeof q->why, "query argument '%s' given twice", key);
    else if (which >= 0) {
        q->value[which] = value;
        return MHD_YES;
    }
    else {
        snprintf(q->why, sizeof q->why, "unknown query argument '%.40s%s' (known: k, tta)", key,
                 strlen(key) > 40 ? "..." : "");
        for (char *p = q->why; *p; p++) /* the name without controls in the message and the log */
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    }
    return MHD_NO;
}

/* A request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112 6.3), whatever
 * bytes follow its head: a hand-made request (printf | nc, an HTTP/1.0 client sending until it
 * closes) told only "the body is empty" would look for the fault in its photo */
static int unframed(struct MHD_Connection *c) {
    return !MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH) &&
           !MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

static const char no_length_msg[] = "the request has no Content-Length (nor Transfer-Encoding: chunked), so no body: "
                                    "send the body with its length (as curl --data-binary @FILE does)";

/* POST /v1/classify: the body is a photo; ?k=, ?tta=. */
static enum MHD_Result classify_v1(server *sv, struct MHD_Connection *c, request *r) {
    /* the default is classify's: 5, or every class of a network with fewer (a binary classifier's
     * one); 5 of a network's 1 to 4 read past the ranked classes and crashed the server */
    int k = sv->classes < 5 ? sv->classes : 5;
    resnet_tta tta = RESNET_TTA_NONE;
    query_check q = {{0}, {NULL, NULL}};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, check_argument, &q);
    if (q.why[0]) return error_reply(sv, c, r, 400, q.why);
    const char *ks = q.value[0], *ts = q.value[1];
    if (ks) {
        char *end;
        errno = 0;
        long v = strtol(ks, &end, 10);
        if (end == ks || *end || errno || v < 1 || v > sv->classes || *ks == ' ' || *ks == '+') {
            char m[80];
            snprintf(m, sizeof m, "k must be a whole number from 1 to %d", sv->classes);
            return error_reply(sv, c, r, 400, m);
        }
        k = (int)v;
    }
    if (ts) {
        int m = resnet_tta_parse(ts);
        if (m < 0) return error_reply(sv, c, r, 400, "tta must be one of none, flip, 10crop, multiscale");
        tta = (resnet_tta)m;
    }
    if (r->len == 0) return error_reply(sv, c, r, 400, unframed(c) ? no_length_msg : "the body is empty: send the photo's bytes");
    job *x = job_new(1, sv->classes, "body", tta, 0);
    if (!x) return error_reply(sv, c, r, 500, "out of memory");
    x->data[0] = r->body;
    x->size[0] = r->len;
    const int refused = run_job(sv, r, x);
    if (refused) {
        enum MHD_Result ret = error_reply(sv, c, r, refused, x->message);
        job_free(x);
        return ret;
    }
    if (x->status != RESNET_OK) {
        /* a form upload (curl -F, a browser's <form>) wraps the photo in parts, which no decoder
         * knows: "not an image we can read" would send the user looking at the photo instead */
        const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (x->status == RESNET_E_IMAGE && type && strncasecmp(type, "multipart/form-data", 19) == 0)
            snprintf(x->message, sizeof x->message, "the body is a form upload (multipart/form-data, as curl -F "
                     "sends): send the photo's own bytes as the body (curl --data-binary @photo.jpg)");
        return job_error_reply(sv, c, r, x);
    }
    out o;
    if (out_open(&o) != 0) {
        job_free(x);
        return error_reply(sv, c, r, 500, "out of memory");
    }
    fputs("{\"top\": ", o.f);
    const int wr = write_top(sv, o.f, x->probs, x->logits, x->views, k);
    fputs("}\n", o.f);
    job_free(x);
    if (wr != 0) {
        fclose(o.f);
        free(o.buf);
        return error_reply(sv, c, r, 500, "out of memory");
    }
    return out_send(sv, c, r, 200, &o, "application/json");
}

/* POST /v2/models/resnet50/infer (KServe v2): one BYTES input of base64 photo files
 * (serve_oip.c reads the body and writes the answer). */
static enum MHD_Result infer_v2(server *sv, struct MHD_Connection *c, request *r) {
    /* Triton's binary tensor extension (its Python client's default, binary_data=True): a JSON
     * head of that many bytes, then the tensors raw. Read as JSON it is "unexpected ... after
     * the document", which names nothing the client can change */
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Inference-Header-Content-Length"))
        return error_reply(sv, c, r, 400, "binary tensor data (Inference-Header-Content-Length, Triton's binary "
                           "extension) is not supported: send the photos as base64 strings in the JSON "
                           "(tritonclient: set_data_from_numpy(..., binary_data=False))");
    /* the JSON tree's strings (at most the body's size) and the photo files decoded from them
     * (3/4 of that), held at once: counted as twice the body */
    if (r->len == 0 && unframed(c)) return error_reply(sv, c, r, 400, no_length_msg);
    if (r->len > SIZE_MAX / 2 || hold(sv, r, 2 * r->len) != 0) return error_reply(sv, c, r, 503, busy_msg);
    serve_oip_request q;
    const int pr = serve_oip_parse(r->body, r->len, sv->classes, &q);
    enum MHD_Result ret;
    job *x = NULL;
    out o;
    if (pr != 0) {
        ret = error_reply(sv, c, r, pr == -2 ? 500 : 400, pr == -2 ? "out of memory" : q.error);
    } else if (!(x = job_new(q.n, sv->classes, "image", RESNET_TTA_NONE, 1))) {
        ret = error_reply(sv, c, r, 500, "out of memory");
    } else {
        for (int i = 0; i < q.n; i++) { /* the job owns the photos now */
            x->data[i] = q.data[i];
            x->size[i] = q.size[i];
            q.data[i] = NULL;
        }
        const int refused = run_job(sv, r, x);
        if (refused) {
            ret = error_reply(sv, c, r, refused, x->message);
        } else if (x->status != RESNET_OK) {
            ret = job_error_reply(sv, c, r, x);
            x = NULL; /* freed there */
        } else if (out_open(&o) != 0) {
            ret = error_reply(sv, c, r, 500, "out of memory");
        } else if (oip_write(sv, o.f, &q, x->probs, x->logits, x->views) != 0) {
            fclose(o.f);
            free(o.buf);
            ret = error_reply(sv, c, r, 500, "out of memory");
        } else {
            ret = out_send(sv, c, r, 200, &o, "application/json");
        }
    }
    job_free(x);
    serve_oip_free(&q);
    return ret;
}

static enum MHD_Result metrics_reply(server *sv, struct MHD_Connection *c, request *r) {
    out o;
    if (out_open(&o) != 0) return error_reply(sv, c, r, 500, "out of memory");
    pthread_mutex_lock(&sv->mu);
    const serve_metrics m = sv->m;
    const int depth = sv->queue_len;
    const unsigned long long pixels = sv->pixels;
    pthread_mutex_unlock(&sv->mu);
    serve_metrics_write(o.f, &m, depth, pixels);
    return out_send(sv, c, r, 200, &o, "text/plain; version=0.0.4");
}

static enum MHD_Result metadata_reply(server *sv, struct MHD_Connection *c, request *r) {
    char m[400];
    const int n = snprintf(m, sizeof m,
                           "{\"name\": \"" MODEL_NAME "\", \"versions\": [\"1\"], \"platform\": \"resnet-c\", "
                           "\"inputs\": [{\"name\": \"" SERVE_OIP_INPUT "\", \"datatype\": \"BYTES\", \"shape\": [-1]}], "
                           "\"outputs\": [{\"name\": \"probabilities\", \"datatype\": \"FP32\", \"shape\": [-1, %d]}]}\n",
                           sv->classes);
    return reply(sv, c, r, 200, "application/json", m, (size_t)n);
}

/* RFC 9110 9.1: a method the server does not recognise is 501; one it knows but a path does
 * not take is 405 with Allow. */
static int known_method(const char *m) {
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(m, known[i]) == 0) return 1;
    return 0;
}

static enum MHD_Result route(server *sv, struct MHD_Connection *c, request *r, const char *url, const char *method) {
    const int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0, post = strcmp(method, "POST") == 0;
    if (!known_method(method)) return error_reply(sv, c, r, 501, "no such method (this server takes GET, HEAD and POST)");
    const char *models = "/v2/models/";
    /* RFC 9112 3.2.2: a server MUST accept the absolute form (http://HOST/PATH, which clients
     * send to a proxy); its path is the endpoint (it was 404 "no such endpoint") */
    if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0) {
        const char *path = strchr(url + (url[4] == ':' ? 7 : 8), '/');
        url = path ? path : "/";
    }
    if (strcmp(url, "/v2/health/live") == 0)
        return get ? reply(sv, c, r, 200, "application/json", "{\"live\": true}\n", 15)
                   : not_allowed(sv, c, r, 0);
    if (strcmp(url, "/v2/health/ready") == 0) {
        if (!get) return not_allowed(sv, c, r, 0);
        pthread_mutex_lock(&sv->mu);
        const int draining = sv->draining;
        pthread_mutex_unlock(&sv->mu);
        return draining ? reply(sv, c, r, 503, "application/json", "{\"ready\": false}\n", 17)
                        : reply(sv, c, r, 200, "application/json", "{\"ready\": true}\n", 16);
    }
    if (strcmp(url, "/v2") == 0)
        return get ? reply(sv, c, r, 200, "application/json",
                           "{\"name\": \"resnet\", \"version\": \"" RESNET_VERSION "\", \"extensions\": [\"classification\"]}\n",
                           strlen("{\"name\": \"resnet\", \"version\": \"" RESNET_VERSION
                                  "\", \"extensions\": [\"classification\"]}\n"))
                   : not_allowed(sv, c, r, 0);
    if (strcmp(url, "/metrics") == 0) return get ? metrics_reply(sv, c, r) : not_allowed(sv, c, r, 0);
    if (strcmp(url, "/v1/classify") == 0) return post ? classify_v1(sv, c, r) : not_allowed(sv, c, r, 1);
    if (strncmp(url, models, strlen(models)) == 0) {
        const char *name = url + strlen(models);
        size_t nl = strcspn(name, "/");
        const char *rest = name + nl;
        /* /v2/models/NAME[/versions/V][/ready|/infer] */
        if (strncmp(rest, "/versions/1", 11) == 0 && (rest[11] == '\0' || rest[11] == '/')) {
            rest += 11;
        } else if (strncmp(rest, "/versions/", 10) == 0) {
            char m[160];
            const char *v = rest + 10;
            snprintf(m, sizeof m, "no such model version '%.*s' (this server has version 1)",
                     (int)(strcspn(v, "/") > 32 ? 32 : strcspn(v, "/")), v);
            return error_reply(sv, c, r, 404, m);
        }
        if (nl != strlen(MODEL_NAME) || strncmp(name, MODEL_NAME, nl) != 0) {
            char m[160];
            snprintf(m, sizeof m, "unknown model '%.*s' (this server has %s)", (int)(nl > 64 ? 64 : nl), name, MODEL_NAME);
            return error_reply(sv, c, r, 404, m);
        }
        if (*rest == '\0')
            return get ? metadata_reply(sv, c, r)
                       : not_allowed(sv, c, r, 0);
        if (strcmp(rest, "/ready") == 0) { /* the spec's model-ready answer names the model */
            static const char ready[] = "{\"name\": \"" MODEL_NAME "\", \"ready\": true}\n";
            return get ? reply(sv, c, r, 200, "application/json", ready, sizeof ready - 1)
                       : not_allowed(sv, c, r, 0);
        }
        if (strcmp(rest, "/infer") == 0) return post ? infer_v2(sv, c, r) : not_allowed(sv, c, r, 1);
    }
    return error_reply(sv, c, r, 404, "no such endpoint");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    server *sv = cls;
    request *r = *con_cls;
    if (!r) { /* the headers are in: the request's first call */
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->t0 = now_s();
        r->fd = -1;
        const union MHD_ConnectionInfo *pi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        peer_name(pi ? pi->client_addr : NULL, log_peer, sizeof log_peer);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const double at = ci ? serve_guard_accepted_at(sv->guard, ci->connect_fd) : 0;
        r->deadline = (at > 0 ? at : r->t0) + sv->o->request_timeout_s;
        r->arriving = 1;
        *con_cls = r;
        pthread_mutex_lock(&sv->mu);
        sv->in_flight++;
        sv->arriving++;
        if (ci && ci->connect_fd >= 0) {
            r->fd = ci->connect_fd;
            r->next = sv->late;
            if (sv->late) sv->late->prev = r;
            sv->late = r;
        }
        pthread_mutex_unlock(&sv->mu);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        const unsigned long long want = cl ? strtoull(cl, NULL, 10) : 0;
        if (want > sv->o->max_body) {
            r->too_big = 1;
            return error_reply(sv, c, r, 413, "the body is larger than --max-body");
        }
        if (want > sv->o->max_inflight) { /* never fits, however idle the server: not "later" */
            r->too_big = 2;
            return error_reply(sv, c, r, 413, too_big_inflight);
        }
        pthread_mutex_lock(&sv->mu);
        const int busy = want > sv->o->max_inflight - (sv->held < sv->o->max_inflight ? sv->held : sv->o->max_inflight);
        pthread_mutex_unlock(&sv->mu);
        if (busy) { /* said at once, from the Content-Length (the body is not read) */
            r->too_busy = 1;
            return error_reply(sv, c, r, 503, busy_msg);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        /* a client trickling its body: cut (serve_guard.c keeps the head's deadline).
         * libmicrohttpd sends no answer queued before the body is in, so it is closed. */
        if (now_s() > r->deadline) {
            pthread_mutex_lock(&sv->mu);
            if (!r->cut) serve_metrics_request(&sv->m, 408, now_s() - r->t0);
            r->cut = 1;
            pthread_mutex_unlock(&sv->mu);
            return MHD_NO;
        }
        if (!r->too_big && r->len + *upload_size > sv->o->max_body) r->too_big = 1;
        if (!r->too_big && r->len + *upload_size > sv->o->max_inflight) r->too_big = 2;
        if (!r->too_big && !r->too_busy) {
            if (r->len + *upload_size + 1 > r->cap) {
                size_t cap = r->cap ? r->cap : 65536;
                while (cap < r->len + *upload_size + 1) cap *= 2;
                if (hold(sv, r, cap - r->cap) != 0) { /* dropped, and answered 503 once it is in */
                    r->too_busy = 1;
                    *upload_size = 0;
                    return MHD_YES;
                }
                char *p = realloc(r->body, cap);
                if (!p) return MHD_NO;
                r->body = p;
                r->cap = cap;
            }
            memcpy(r->body + r->len, upload, *upload_size);
            r->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->arriving) { /* the body is in: the drain answers it */
        r->arriving = 0;
        pthread_mutex_lock(&sv->mu);
        sv->arriving--;
        unlist(sv, r);
        pthread_mutex_unlock(&sv->mu);
    }
    if (r->too_big) return error_reply(sv, c, r, 413, r->too_big == 2 ? too_big_inflight : "the body is larger than --max-body");
    if (r->too_busy) return error_reply(sv, c, r, 503, busy_msg);
    return route(sv, c, r, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode why) {
    (void)c;
    (void)why;
    server *sv = cls;
    request *r = *con_cls;
    if (!r) return;
    const int arriving = r->arriving;
    const size_t held = r->held;
    pthread_mutex_lock(&sv->mu);
    unlist(sv, r);
    pthread_mutex_unlock(&sv->mu);
    free(r->body);
    free(r);
    *con_cls = NULL;
    pthread_mutex_lock(&sv->mu);
    sv->in_flight--;
    if (arriving) sv->arriving--;
    sv->held -= held;
    pthread_cond_broadcast(&sv->finished);
    pthread_mutex_unlock(&sv->mu);
}

/* libmicrohttpd's messages go through serve_log (it calls them from the connection's thread). */
static void mhd_log(void *cls, const char *fmt, va_list ap) { log_v(cls, fmt, ap); }

/* The guard's hand-off: a connection whose head passed, to libmicrohttpd (which closes fd if it
 * cannot take it). */
static struct MHD_Daemon *hand_daemon;

static int hand_over(void *ctx, int fd, const struct sockaddr *addr, socklen_t addrlen) {
    (void)ctx;
    return MHD_add_connection(hand_daemon, fd, addr, addrlen) == MHD_YES ? 0 : -1;
}

static void guard_refused(void *ctx, int code) {
    server *sv = ctx;
    if (!code) return;
    pthread_mutex_lock(&sv->mu);
    serve_metrics_request(&sv->m, code, 0);
    pthread_mutex_unlock(&sv->mu);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    server *sv = cls;
    (void)socket_context;
    if (code != MHD_CONNECTION_NOTIFY_CLOSED) return;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) serve_guard_closed(sv->guard, ci->client_addr);
}

/* HOST:PORT or [V6]:PORT -> an address to bind. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sslen) {
    char host[256];
    const char *port;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof host) return -1;
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host || colon == s) return -1;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port = colon + 1;
    }
    int p;
    if (cli_parse_int("--http port", port, 0, 65535, &p)) return -2; /* reported */
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res) return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int serve_http(const resnet_model *model, int threads, const serve_http_options *o) {
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    int pl = parse_listen(o->listen, &ss, &sslen);
    if (pl == -2) return 2;
    if (pl != 0) return cli_usage_error("--http needs HOST:PORT (or [IPV6]:PORT), got '%s'", o->listen);
    server sv;
    memset(&sv, 0, sizeof sv);
    sv.o = o;
    sv.model = model;
    sv.classes = resnet_model_classes(model);
    /* rows per forward pass: --max-batch (next_photo keeps to it), and any request's views */
    const int session_batch = o->max_batch > RESNET_TTA_MAX_VIEWS ? o->max_batch : RESNET_TTA_MAX_VIEWS;
    resnet_error err;
    if (resnet_session_create(model, threads, session_batch, &sv.session, &err) != RESNET_OK)
        return cli_error("%s", err.message);
    sv.rows_max = session_batch;
    const size_t side = (size_t)resnet_model_input_size(model);
    sv.view_floats = 3 * side * side;
    int rc = 1;
    pthread_t bt;
    int started = 0, lfd = -1;
    struct MHD_Daemon *d = NULL;
    serve_guard_options gd;
    if (pthread_mutex_init(&sv.mu, NULL) != 0) {
        cli_error("serve: out of memory");
        goto done;
    }
    pthread_cond_init(&sv.queued, NULL);
    pthread_cond_init(&sv.finished, NULL);
    pthread_cond_init(&sv.turn, NULL);
    /* SIGTERM and SIGINT are taken by sigwait() below: block them in every thread made from here */
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    signal(SIGPIPE, SIG_IGN); /* a client gone mid-answer is an error on its socket, not our end */
    sv.in = malloc((size_t)sv.rows_max * sv.view_floats * sizeof(float));
    sv.logits = malloc((size_t)sv.rows_max * (size_t)sv.classes * sizeof(float));
    sv.slots = malloc((size_t)sv.rows_max * sizeof *sv.slots);
    if (!sv.in || !sv.logits || !sv.slots) {
        cli_error("serve: out of memory");
        goto unblock;
    }
    if (pthread_create(&bt, NULL, network, &sv) != 0) {
        cli_error("serve: cannot start the network thread");
        goto unblock;
    }
    started = 1;
    /* the listening socket is ours (the guard's), not libmicrohttpd's */
    lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(lfd, (struct sockaddr *)&ss, sslen) != 0 || listen(lfd, 511) != 0) {
        cli_error("serve: cannot listen on %s: %s", o->listen, strerror(errno));
        goto unblock;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    unsigned port = 0;
    if (getsockname(lfd, (struct sockaddr *)&bound, &blen) == 0)
        port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_POLL | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    /* connections handed over (a head in): each a thread, most of them mostly waiting for their
     * body (whose bytes --max-inflight-mb bounds). Not tied to the queue: clients trickling their
     * bodies from a few addresses must not hold every slot (the guard answers the rest 503). */
    const unsigned conn_limit = (unsigned)o->max_connections;
    struct rlimit nofile; /* those, the guard's 1024 waiting for their head, and a few more */
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    /* the logger first: libmicrohttpd says so itself (on its own logger) otherwise */
    d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, &sv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &sv,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout_s,
                         MHD_OPTION_CONNECTION_LIMIT, conn_limit + 8, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &sv,
                         MHD_OPTION_NOTIFY_CONNECTION, on_connection, &sv, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                         (size_t)131072, MHD_OPTION_END);
    if (!d) {
        cli_error("serve: cannot start the HTTP server on %s", o->listen);
        goto unblock;
    }
    gd = (serve_guard_options){.listen_fd = lfd, .max_body = o->max_body, .per_client = o->max_per_client,
                               .max_active = (int)conn_limit, .head_timeout_s = o->request_timeout_s,
                               .idle_timeout_s = o->timeout_s,
                               .hand = hand_over, .refused = guard_refused, .ctx = &sv};
    hand_daemon = d;
    if (serve_guard_start(&gd, &sv.guard) != 0) {
        cli_error("serve: cannot start the connection guard");
        goto unblock;
    }
    lfd = -1; /* the guard's */
    char host[300];
    snprintf(host, sizeof host, "%s", o->listen);
    char *colon = strrchr(host, ':');
    if (colon) *colon = '\0';
    fprintf(stderr, "resnet: serving http://%s:%u (Open Inference Protocol v2 at /v2/models/" MODEL_NAME
                    ", /v1/classify, /metrics)\n", host, port);
    fflush(stderr);
    int sig = 0;
    while (sig != SIGTERM && sig != SIGINT) { /* a look at the bodies' deadlines 4 times a second */
        const struct timespec tick = {0, 250000000L};
        sig = sigtimedwait(&sigs, NULL, &tick);
        cut_overdue(&sv);
    }
    /* stop accepting; cut the heads still arriving; answer what was received */
    pthread_mutex_lock(&sv.mu);
    sv.draining = 1;
    pthread_mutex_unlock(&sv.mu);
    serve_guard_stop(sv.guard);
    fprintf(stderr, "resnet: %s: answering the requests received (those still arriving get %d s), then exiting\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", o->drain_timeout_s);
    const double cut_at = now_s() + o->drain_timeout_s;
    for (;;) {
        pthread_mutex_lock(&sv.mu);
        const int received = sv.in_flight - sv.arriving, arriving = sv.arriving;
        pthread_mutex_unlock(&sv.mu);
        if (received == 0 && (arriving == 0 || now_s() >= cut_at)) break;
        cut_overdue(&sv);
        const struct timespec tick = {0, 20000000L};
        const int again = sigtimedwait(&sigs, NULL, &tick);
        if (again == SIGTERM || again == SIGINT) {
            /* a second signal: the operator wants out now, not the drain */
            char m[160];
            const int n = snprintf(m, sizeof m, "resnet: second %s: exiting now, %d request(s) unanswered\n",
                                   again == SIGINT ? "SIGINT" : "SIGTERM", received + arriving);
            if (write(2, m, (size_t)n) < 0) {
            }
            _exit(1);
        }
    }
    rc = 0;
unblock:
    if (d) MHD_stop_daemon(d); /* cuts the bodies still arriving */
    if (lfd >= 0) close(lfd);
    serve_guard_free(sv.guard);
    if (started) {
        pthread_mutex_lock(&sv.mu);
        sv.stop = 1;
        pthread_cond_broadcast(&sv.queued);
        pthread_mutex_unlock(&sv.mu);
        pthread_join(bt, NULL);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_cond_destroy(&sv.queued);
    pthread_cond_destroy(&sv.finished);
    pthread_cond_destroy(&sv.turn);
    pthread_mutex_destroy(&sv.mu);
done:
    free(sv.in);
    free(sv.logits);
    free(sv.slots);
    resnet_session_free(sv.session);
    return rc;
}
