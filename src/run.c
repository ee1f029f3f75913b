/* run.c - the runner: many photos through one session, decoded ahead, batched, results in
 * order (resnet_run, and resnet_run_files over a list of paths). Every command that runs
 * more than one photo goes through here: classify, eval, embed, similar, train-head,
 * quantize's calibration and serve.
 *
 * Two threads and a ring of two batches. The decoding thread pulls items from the caller's
 * source and preprocesses each item's views straight into the input of the batch it is
 * filling (no copy later); the calling thread runs the other batch through the network and
 * hands each item's result to the caller's callback, in the source's order. So decoding (the
 * only serial part: libjpeg, the PIL-exact resize) hides behind the forward pass. One decoder
 * is enough: a 224-ish crop decodes many times faster than the network runs it, and more
 * threads would only take cores from the GEMMs.
 *
 * A batch is handed over when its rows are full, when the next item's views would not fit
 * (an item's views never span two passes: they are averaged together), or when the source
 * has nothing ready and the network is idle: a lone request of a stream runs at once, while
 * under load the batch keeps filling as long as the network is busy.
 *
 * Above the model (it calls resnet_forward_ex) and the image module (preprocessing): part of
 * the public API layer, beside tta.c, whose views and averaging it uses. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "image/image.h"

#define NBATCH 2 /* one being filled while one runs */

static const resnet_run_options run_defaults = {sizeof(resnet_run_options), RESNET_WANT_PROBS, RESNET_TTA_NONE,
                                                NULL, NULL};
static const rn_sized run_options_type = {"resnet_run_options", sizeof(resnet_run_options),
                                          RN_FIELD_END(resnet_run_options, batch_ctx),
                                          RN_FIELD_END(resnet_run_options, batch_ctx), &run_defaults};

void resnet_run_options_init_size(resnet_run_options *o, size_t size) { rn_sized_init(&run_options_type, o, size); }

typedef struct run_item {
    resnet_item it;      /* as the source gave it */
    int row, views;      /* its first row in the batch and its views (0 when it failed) */
    resnet_status status;
    char message[sizeof(((resnet_error *)0)->message)];
} run_item;

typedef struct batch {
    float *input;    /* max_batch x 3x224x224: filled by the decoder, read by the network */
    run_item *items; /* in the source's order */
    int nitems, rows;
    int ready;       /* handed to the calling thread */
} batch;

typedef struct runner {
    resnet_source_fn next;
    void *source_ctx;
    resnet_tta tta;
    int max_batch, cap; /* rows and items per batch */
    resnet_norm norm;
    int crop;             /* the model's input size */
    size_t in_floats;     /* one view: 3 x crop x crop */
    int classes, dim;     /* the model's outputs */
    unsigned image_flags; /* the session's RESNET_IMAGE_* flags */
    batch b[NBATCH];
    pthread_mutex_t mu;
    pthread_cond_t changed;
    int done;  /* the decoder has handed over everything */
    int stop;  /* the caller stopped (callback, error): the decoder must end */
    int idle;  /* the calling thread waits for a batch */
    int bad_answer, answer; /* the source answered something other than ITEM, END or LATER */
} runner;

/* Test seam (tests/test_run.c, tests/test_serve_fail.sh): with RESNET_TEST_FAIL_PASS=N in the
 * environment when a run starts, the Nth forward pass the runners of this process run (counted
 * while it is set) fails as an out-of-memory would, so that callers' handling of a run that
 * stops mid-way, with items inside its batches, can be tested; a real pass fails only on such
 * rare errors. The variable is read once per run, not per pass. */
static int test_fail_at(void) {
    const char *n = getenv("RESNET_TEST_FAIL_PASS");
    return n && *n ? atoi(n) : 0;
}

static int test_pass_fails(int fail_at) {
    static atomic_int passes;
    return fail_at > 0 && atomic_fetch_add(&passes, 1) + 1 == fail_at;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Waits on r->changed for at most ms milliseconds (r->mu held). */
static void wait_ms(runner *r, long ms) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += ms * 1000000L;
    if (t.tv_nsec >= 1000000000L) t.tv_sec++, t.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&r->changed, &r->mu, &t);
}

/* Hands batch *k to the calling thread and returns the next one, empty, once the calling
 * thread is done with it; NULL when the run is stopping. */
static batch *hand_over(runner *r, int *k) {
    pthread_mutex_lock(&r->mu);
    r->b[*k].ready = 1;
    pthread_cond_broadcast(&r->changed);
    *k = (*k + 1) % NBATCH;
    while (r->b[*k].ready && !r->stop) pthread_cond_wait(&r->changed, &r->mu);
    const int stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    if (stop) return NULL;
    batch *b = &r->b[*k];
    b->nitems = b->rows = 0;
    return b;
}

/* Preprocesses the views of item i of b into the batch's next rows, or records why not. */
static void decode_item(runner *r, batch *b, run_item *ri) {
    const resnet_item *it = &ri->it;
    const char *name = it->name ? it->name : it->path ? it->path : "<memory>";
    resnet_view views[RESNET_TTA_MAX_VIEWS];
    const int n = it->error ? 0 : resnet_tta_views(it->tta, views);
    resnet_error e;
    ri->row = b->rows;
    ri->views = 0;
    ri->status = RESNET_OK;
    ri->message[0] = '\0';
    if (it->error) {
        ri->status = rn_fail(&e, RESNET_E_IO, "%s", it->error);
    } else if (n == 0) {
        ri->status = rn_fail(&e, RESNET_E_ARG, "%s: unknown test-time augmentation mode %d", name, (int)it->tta);
    } else if (n > r->max_batch) {
        ri->status = rn_fail(&e, RESNET_E_ARG, "%s: %d views, but the session's batches hold %d", name, n,
                             r->max_batch);
    } else {
        float *dst = b->input + (size_t)b->rows * r->in_floats;
        if (it->path)
            ri->status = rn_preprocess_views_file_ex(it->path, r->norm, r->image_flags, r->crop, views, n, dst, &e);
        else if (it->data)
            ri->status = rn_preprocess_views_memory_ex(it->data, it->size, name, r->norm, r->image_flags, r->crop,
                                                       views, n, dst, &e);
        else
            ri->status = rn_fail(&e, RESNET_E_ARG, "%s: the item has neither a path nor data", name);
    }
    if (ri->status != RESNET_OK) {
        snprintf(ri->message, sizeof ri->message, "%s", e.message);
        return;
    }
    ri->views = n;
    b->rows += n;
}

static void *decoder(void *arg) {
    runner *r = arg;
    int k = 0;
    batch *b = &r->b[0];
    int stopped = 0;
    while (b) {
        resnet_item it;
        memset(&it, 0, sizeof it);
        it.tta = r->tta;
        const int got = r->next(r->source_ctx, b->nitems == 0, &it);
        pthread_mutex_lock(&r->mu);
        stopped = r->stop;
        const int idle = r->idle;
        pthread_mutex_unlock(&r->mu);
        if (stopped || got == RESNET_SOURCE_END) break;
        if (got != RESNET_SOURCE_ITEM && got != RESNET_SOURCE_LATER) {
            /* no source may answer this: the run ends (the items held are still run) and
             * resnet_run says so. Taken for LATER, as it was, a source answering -1 for its own
             * failure was called a thousand times a second, forever. Read after the join. */
            r->bad_answer = 1;
            r->answer = got;
            break;
        }
        if (got != RESNET_SOURCE_ITEM) { /* nothing ready now */
            if (b->nitems > 0 && idle) {
                b = hand_over(r, &k); /* the network waits: run what we have */
            } else {
                /* the network is busy (keep filling), or there is nothing to run */
                pthread_mutex_lock(&r->mu);
                if (!r->stop && (b->nitems == 0 || !r->idle)) wait_ms(r, 1);
                pthread_mutex_unlock(&r->mu);
            }
            continue;
        }
        const int n = it.error ? 0 : resnet_tta_views(it.tta, NULL);
        if (b->nitems > 0 && n <= r->max_batch && b->rows + n > r->max_batch && !(b = hand_over(r, &k))) break;
        run_item *ri = &b->items[b->nitems++];
        ri->it = it;
        decode_item(r, b, ri);
        if (b->rows == r->max_batch || b->nitems == r->cap) b = hand_over(r, &k);
    }
    pthread_mutex_lock(&r->mu);
    if (b && !r->stop && b->nitems > 0) b->ready = 1;
    r->done = 1;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* The calling thread's buffers: the network's outputs for one batch, one item's averages. */
typedef struct outputs {
    float *logits, *features; /* max_batch rows */
    float *probs;             /* classes */
    float *mean;              /* dim */
    int classes, dim;
} outputs;

/* Hands each item of b to fn; returns non-zero when fn asked to stop. */
static int report(const batch *b, int want, outputs *o, int *index, resnet_item_fn fn, void *ctx) {
    const int want_logits = (want & (RESNET_WANT_LOGITS | RESNET_WANT_PROBS)) != 0;
    const int want_features = (want & (RESNET_WANT_FEATURES | RESNET_WANT_VIEW_FEATURES)) != 0;
    for (int i = 0; i < b->nitems; i++) {
        const run_item *ri = &b->items[i];
        resnet_item_result r;
        memset(&r, 0, sizeof r);
        r.index = (*index)++;
        r.path = ri->it.path;
        r.name = ri->it.name ? ri->it.name : ri->it.path ? ri->it.path : "<memory>";
        r.user = ri->it.user;
        r.status = ri->status;
        r.message = ri->message;
        r.views = ri->views;
        resnet_error bad_err;
        if (ri->status == RESNET_OK && (want_logits || want_features)) {
            const float *logits = want_logits ? o->logits + (size_t)ri->row * o->classes : NULL;
            const float *feats = want_features ? o->features + (size_t)ri->row * o->dim : NULL;
            /* an infinity, a NaN or equal logits is that item's error, never a result */
            const char *bad = logits ? rn_logits_problem(logits, ri->views, o->classes) : NULL;
            if (!bad && feats && !rn_all_finite(feats, (size_t)ri->views * o->dim)) bad = RN_NONFINITE_MSG;
            if (bad) {
                r.status = rn_fail(&bad_err, RESNET_E_WEIGHTS, "%s: %s", r.name, bad); /* one line, as the others */
                r.message = bad_err.message;
            } else {
                if (want & RESNET_WANT_LOGITS) r.logits = logits;
                if (want & RESNET_WANT_PROBS) {
                    rn_tta_average(logits, ri->views, o->classes, o->probs);
                    r.probs = o->probs;
                }
                if (want & RESNET_WANT_VIEW_FEATURES) r.view_features = feats;
                if (want & RESNET_WANT_FEATURES) { /* the views' mean, as the probabilities are */
                    for (int d = 0; d < o->dim; d++) {
                        float sum = 0;
                        for (int v = 0; v < ri->views; v++) sum += feats[(size_t)v * o->dim + d];
                        o->mean[d] = sum / (float)ri->views;
                    }
                    r.features = o->mean;
                }
            }
        }
        if (fn(ctx, &r)) return 1;
    }
    return 0;
}

resnet_status resnet_run(resnet_session *s, resnet_source_fn next, void *source_ctx, resnet_item_fn fn, void *ctx,
                         const resnet_run_options *opts, resnet_error *err) {
    if (!s || !next || !fn) return rn_fail(err, RESNET_E_ARG, "resnet_run: NULL argument");
    resnet_run_options o = run_defaults;
    if (opts) {
        resnet_status st = rn_sized_read(&run_options_type, opts, &o, err);
        if (st != RESNET_OK) return st;
    }
    const int known = RESNET_WANT_LOGITS | RESNET_WANT_FEATURES | RESNET_WANT_PROBS | RESNET_WANT_VIEW_FEATURES;
    if (o.want & ~known) return rn_fail(err, RESNET_E_UNSUPPORTED, "resnet_run: unknown want flags 0x%x", o.want & ~known);
    if (resnet_tta_views(o.tta, NULL) == 0)
        return rn_fail(err, RESNET_E_ARG, "resnet_run: unknown test-time augmentation mode %d", (int)o.tta);
    /* refused once for the whole run, not as every item's error */
    resnet_status fst = rn_image_flags_check(rn_session_image_flags(s), "resnet_run: the session's image flags", err);
    if (fst != RESNET_OK) return fst;

    if ((o.want & (RESNET_WANT_LOGITS | RESNET_WANT_PROBS)) && resnet_model_classes(resnet_session_model(s)) == 0)
        return rn_fail(err, RESNET_E_UNSUPPORTED, "resnet_run: " RN_BACKBONE_MSG "logits");
    runner r;
    memset(&r, 0, sizeof r);
    r.next = next;
    r.source_ctx = source_ctx;
    r.tta = o.tta;
    r.max_batch = resnet_session_max_batch(s);
    r.cap = 2 * r.max_batch; /* items that fail take no rows: a batch may hold more items than rows */
    const resnet_model *model = resnet_session_model(s);
    r.norm = resnet_model_norm(model);
    r.crop = resnet_model_input_size(model);
    r.in_floats = (size_t)3 * r.crop * r.crop;
    r.image_flags = rn_session_image_flags(s);
    const int want_logits = (o.want & (RESNET_WANT_LOGITS | RESNET_WANT_PROBS)) != 0;
    const int want_features = (o.want & (RESNET_WANT_FEATURES | RESNET_WANT_VIEW_FEATURES)) != 0;
    const int fail_at = test_fail_at();
    outputs *out = calloc(1, sizeof *out);
    int ok = out != NULL;
    if (ok) {
        out->classes = resnet_model_classes(model);
        out->dim = resnet_model_feature_dim(model);
        ok = (out->probs = malloc((size_t)(out->classes ? out->classes : 1) * sizeof(float))) != NULL && /* a backbone's 0 */
             (out->mean = malloc((size_t)out->dim * sizeof(float))) != NULL;
    }
    if (ok && want_logits) ok = (out->logits = malloc((size_t)r.max_batch * out->classes * sizeof(float))) != NULL;
    if (ok && want_features) ok = (out->features = malloc((size_t)r.max_batch * out->dim * sizeof(float))) != NULL;
    for (int k = 0; ok && k < NBATCH; k++) {
        r.b[k].input = malloc((size_t)r.max_batch * r.in_floats * sizeof(float));
        r.b[k].items = malloc((size_t)r.cap * sizeof *r.b[k].items);
        ok = r.b[k].input && r.b[k].items;
    }
    resnet_status st = RESNET_OK;
    int mu_ok = 0, cond_ok = 0, started = 0;
    if (ok) mu_ok = pthread_mutex_init(&r.mu, NULL) == 0;
    if (mu_ok) cond_ok = pthread_cond_init(&r.changed, NULL) == 0;
    pthread_t th;
    if (ok && mu_ok && cond_ok) started = pthread_create(&th, NULL, decoder, &r) == 0;
    if (!ok || !started) {
        st = rn_fail(err, RESNET_E_NOMEM, "resnet_run: %s", ok ? "cannot start the decoding thread" : "out of memory");
        goto done;
    }

    resnet_outputs outs;
    resnet_outputs_init(&outs);
    outs.logits = want_logits ? out->logits : NULL;
    outs.features = want_features ? out->features : NULL;
    int index = 0;
    for (int k = 0;; k = (k + 1) % NBATCH) {
        batch *b = &r.b[k];
        pthread_mutex_lock(&r.mu);
        while (!b->ready && !r.done) {
            r.idle = 1;
            pthread_cond_broadcast(&r.changed);
            pthread_cond_wait(&r.changed, &r.mu);
        }
        r.idle = 0;
        const int have = b->ready;
        pthread_mutex_unlock(&r.mu);
        if (!have) break; /* done: batches are handed over in turn */
        if (b->rows > 0 && (want_logits || want_features)) {
            const double t0 = o.on_batch ? now_s() : 0;
            st = test_pass_fails(fail_at) ? rn_fail(err, RESNET_E_NOMEM, "resnet_run: forward pass failed (RESNET_TEST_FAIL_PASS)")
                                   : resnet_forward_ex(s, b->input, b->rows, &outs, err);
            if (st != RESNET_OK) break;
            if (o.on_batch) o.on_batch(o.batch_ctx, b->nitems, b->rows, now_s() - t0);
        }
        const int stop = report(b, o.want, out, &index, fn, ctx);
        pthread_mutex_lock(&r.mu);
        b->ready = 0; /* the decoder may fill it again */
        pthread_cond_broadcast(&r.changed);
        pthread_mutex_unlock(&r.mu);
        if (stop) break;
    }
    pthread_mutex_lock(&r.mu);
    r.stop = 1;
    pthread_cond_broadcast(&r.changed);
    pthread_mutex_unlock(&r.mu);
    pthread_join(th, NULL);
    if (st == RESNET_OK && r.bad_answer)
        st = rn_fail(err, RESNET_E_ARG, "resnet_run: the source answered %d, not RESNET_SOURCE_ITEM, _END or _LATER",
                     r.answer);

done:
    if (cond_ok) pthread_cond_destroy(&r.changed);
    if (mu_ok) pthread_mutex_destroy(&r.mu);
    for (int k = 0; k < NBATCH; k++) {
        free(r.b[k].input);
        free(r.b[k].items);
    }
    if (out) {
        free(out->logits);
        free(out->features);
        free(out->probs);
        free(out->mean);
    }
    free(out);
    return st;
}

/* ---- resnet_run_files: the runner over a list of paths, one centre crop each ---------- */

typedef struct files_run {
    const char *const *paths;
    int n, next;
    resnet_file_fn fn;
    void *ctx;
} files_run;

static int next_path(void *vctx, int may_block, resnet_item *item) {
    files_run *f = vctx;
    (void)may_block;
    if (f->next == f->n) return RESNET_SOURCE_END;
    item->path = f->paths[f->next++];
    return RESNET_SOURCE_ITEM;
}

static int on_item(void *vctx, const resnet_item_result *r) {
    const files_run *f = vctx;
    resnet_file_result fr = {r->index, r->path, r->status, r->message, r->logits, r->features};
    return f->fn(f->ctx, &fr);
}

resnet_status resnet_run_files(resnet_session *s, const char *const *paths, int n, int want, resnet_file_fn fn,
                               void *ctx, resnet_error *err) {
    if (!s || (n > 0 && !paths) || !fn) return rn_fail(err, RESNET_E_ARG, "resnet_run_files: NULL argument");
    /* Refused, not dropped: a resnet_file_result has no probabilities, so want = PROBS used to run
     * nothing at all and hand back every photo as read (status OK, no logits); a negative n
     * was a successful run of nothing. */
    if (want & ~(RESNET_WANT_LOGITS | RESNET_WANT_FEATURES))
        return rn_fail(err, RESNET_E_ARG, "resnet_run_files: want 0x%x: only RESNET_WANT_LOGITS and "
                       "RESNET_WANT_FEATURES (resnet_run gives the others)", (unsigned)want);
    if (n < 0) return rn_fail(err, RESNET_E_ARG, "resnet_run_files: %d paths", n);
    if (n == 0) return RESNET_OK;
    for (int i = 0; i < n; i++)
        if (!paths[i]) return rn_fail(err, RESNET_E_ARG, "resnet_run_files: path %d is NULL", i);
    files_run f = {paths, n, 0, fn, ctx};
    resnet_run_options o;
    resnet_run_options_init(&o);
    o.want = want;
    return resnet_run(s, next_path, &f, on_item, &f, &o, err);
}
