/* pipeline.c - many photos through one session with decoding overlapped (resnet_run_files).
 *
 * One decoding thread fills a ring of preprocessed inputs, in order, while the calling
 * thread takes them a batch at a time, runs the network (on the session's own workers) and
 * reports each photo. The ring holds two batches: one being run, one being decoded, so
 * decoding (the only serial part: libjpeg, the PIL-exact resize) hides behind the forward
 * pass instead of adding to it. One decoder is enough: a 224-ish crop decodes many times
 * faster than the network runs it, and more threads would only take cores from the GEMMs. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "image/image.h"

typedef struct slot {
    resnet_status status;
    char message[sizeof(((resnet_error *)0)->message)];
    float *input; /* 3x224x224 */
} slot;

typedef struct pipe_state {
    const char *const *paths;
    int n, ring;
    resnet_norm norm;
    unsigned image_flags; /* the session's RESNET_IMAGE_* flags */
    slot *slots;
    pthread_mutex_t mu;
    pthread_cond_t changed;
    int produced, consumed; /* counts of photos: decoded, and taken by the consumer */
    int stop;
} pipe_state;

enum { IN_FLOATS = 3 * RESNET_INPUT_SIZE * RESNET_INPUT_SIZE };

static void *decoder(void *arg) {
    pipe_state *p = arg;
    for (int i = 0; i < p->n; i++) {
        pthread_mutex_lock(&p->mu);
        while (!p->stop && i - p->consumed >= p->ring) pthread_cond_wait(&p->changed, &p->mu);
        int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop) break;
        slot *s = &p->slots[i % p->ring]; /* free: the consumer is done with it */
        resnet_error e;
        s->status = rn_preprocess_file_ex(p->paths[i], p->norm, p->image_flags, s->input, &e);
        if (s->status != RESNET_OK) snprintf(s->message, sizeof s->message, "%s", e.message);
        else s->message[0] = '\0';
        pthread_mutex_lock(&p->mu);
        p->produced = i + 1;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

resnet_status resnet_run_files(resnet_session *s, const char *const *paths, int n, int want, resnet_file_fn fn,
                               void *ctx, resnet_error *err) {
    if (!s || (n > 0 && !paths) || !fn) return rn_fail(err, RESNET_E_ARG, "resnet_run_files: NULL argument");
    if (n <= 0) return RESNET_OK;
    for (int i = 0; i < n; i++)
        if (!paths[i]) return rn_fail(err, RESNET_E_ARG, "resnet_run_files: path %d is NULL", i);
    const int batch = resnet_session_max_batch(s);
    pipe_state p;
    memset(&p, 0, sizeof p);
    p.paths = paths;
    p.n = n;
    p.ring = 2 * batch;
    p.norm = resnet_model_norm(resnet_session_model(s));
    p.image_flags = rn_session_image_flags(s);
    p.slots = calloc((size_t)p.ring, sizeof *p.slots);
    float *input = malloc((size_t)batch * IN_FLOATS * sizeof(float));
    float *logits = (want & RESNET_WANT_LOGITS) ? malloc((size_t)batch * RESNET_NUM_CLASSES * sizeof(float)) : NULL;
    float *features = (want & RESNET_WANT_FEATURES) ? malloc((size_t)batch * RESNET_FEATURE_DIM * sizeof(float)) : NULL;
    slot *taken = calloc((size_t)batch, sizeof *taken); /* status + message of the batch being run */
    int *row = calloc((size_t)batch, sizeof *row);     /* each photo's row in the forward batch */
    int ok = p.slots && input && taken && row && (!(want & RESNET_WANT_LOGITS) || logits) &&
             (!(want & RESNET_WANT_FEATURES) || features);
    for (int i = 0; ok && i < p.ring; i++) ok = (p.slots[i].input = malloc(IN_FLOATS * sizeof(float))) != NULL;
    resnet_status st = RESNET_OK;
    int started = 0, mu_ok = 0, cond_ok = 0;
    if (ok) mu_ok = pthread_mutex_init(&p.mu, NULL) == 0;
    if (mu_ok) cond_ok = pthread_cond_init(&p.changed, NULL) == 0;
    pthread_t th;
    if (ok && mu_ok && cond_ok) started = pthread_create(&th, NULL, decoder, &p) == 0;
    if (!ok || !started) {
        st = rn_fail(err, RESNET_E_NOMEM, "resnet_run_files: %s",
                     ok ? "cannot start the decoding thread" : "out of memory");
        goto done;
    }

    resnet_outputs outs;
    resnet_outputs_init(&outs);
    outs.logits = logits;
    outs.features = features;
    /* When only failures are wanted (want == 0) no forward pass runs at all. */
    const int run_net = (want & (RESNET_WANT_LOGITS | RESNET_WANT_FEATURES)) != 0;
    int stopped = 0;
    for (int base = 0; base < n && !stopped && st == RESNET_OK; base += batch) {
        const int k = n - base < batch ? n - base : batch;
        pthread_mutex_lock(&p.mu);
        while (p.produced < base + k) pthread_cond_wait(&p.changed, &p.mu);
        pthread_mutex_unlock(&p.mu);
        int good = 0;
        for (int j = 0; j < k; j++) {
            slot *sl = &p.slots[(base + j) % p.ring];
            taken[j].status = sl->status;
            memcpy(taken[j].message, sl->message, sizeof sl->message);
            row[j] = -1;
            if (sl->status == RESNET_OK) {
                memcpy(input + (size_t)good * IN_FLOATS, sl->input, IN_FLOATS * sizeof(float));
                row[j] = good++;
            }
        }
        /* the slots are copied out: let the decoder refill them while the network runs */
        pthread_mutex_lock(&p.mu);
        p.consumed = base + k;
        pthread_cond_broadcast(&p.changed);
        pthread_mutex_unlock(&p.mu);
        if (good > 0 && run_net) st = resnet_forward_ex(s, input, good, &outs, err);
        if (st != RESNET_OK) break;
        for (int j = 0; j < k && !stopped; j++) {
            resnet_file_result r;
            r.index = base + j;
            r.path = paths[base + j];
            r.status = taken[j].status;
            r.message = taken[j].message;
            r.logits = row[j] >= 0 && logits ? logits + (size_t)row[j] * RESNET_NUM_CLASSES : NULL;
            r.features = row[j] >= 0 && features ? features + (size_t)row[j] * RESNET_FEATURE_DIM : NULL;
            /* an infinity or NaN is that photo's error, never handed out as a result */
            const char *bad = r.logits ? rn_logits_problem(r.logits, 1) : NULL;
            if (!bad && r.features && !rn_all_finite(r.features, RESNET_FEATURE_DIM)) bad = RN_NONFINITE_MSG;
            if (bad) {
                snprintf(taken[j].message, sizeof taken[j].message, "%s: %s", paths[base + j], bad);
                r.status = RESNET_E_WEIGHTS;
                r.logits = r.features = NULL;
            }
            stopped = fn(ctx, &r) != 0;
        }
    }
    pthread_mutex_lock(&p.mu);
    p.stop = 1;
    pthread_cond_broadcast(&p.changed);
    pthread_mutex_unlock(&p.mu);
    pthread_join(th, NULL);

done:
    if (cond_ok) pthread_cond_destroy(&p.changed);
    if (mu_ok) pthread_mutex_destroy(&p.mu);
    for (int i = 0; p.slots && i < p.ring; i++) free(p.slots[i].input);
    free(p.slots);
    free(input);
    free(logits);
    free(features);
    free(taken);
    free(row);
    return st;
}
