/* test_run.c - the runner (resnet_run) hunted for breakage: good photos mixed with files that
 * fail to decode and items that carry an error, photos from memory, items with 1, 2, 6 and 10
 * views packed across batch boundaries, every batch size from 1 to 7, a source that trickles
 * (nothing ready until the previous answer came back: partial batches must run or the test
 * hangs), early stop from the callback, bad arguments. Every result is compared bit for bit
 * with resnet_forward on the same preprocessed views, one view at a time.
 *
 * Tier 1: the repository's photos only. Needs the weights (RESNET_TEST_V1_CAFFE). */
#include <math.h>
#include <time.h>

#include "resnet.h"
#include "testutil.h"

#define IN_FLOATS ((size_t)3 * RESNET_INPUT_SIZE * RESNET_INPUT_SIZE)
#define NC RESNET_NUM_CLASSES
#define DIM RESNET_FEATURE_DIM

static resnet_model *model;
static char tmpdir[64];
static unsigned char *coffee_bytes;
static size_t coffee_size;

/* ---- the items and what each should give -------------------------------------------- */

typedef struct spec {
    const char *path;  /* NULL: memory (coffee_bytes) */
    resnet_tta tta;
    const char *error; /* an item that carries its error */
    int bad;           /* expected to fail (missing, not an image) */
    /* the reference, from resnet_forward one view at a time (filled once) */
    int views;
    float *logits, *features; /* views x NC, views x DIM */
} spec;

static char notimage[128];
static spec specs[] = {
    {"demo/chelsea.png", RESNET_TTA_NONE, NULL, 0, 0, NULL, NULL},
    {"demo/coffee.png", RESNET_TTA_FLIP, NULL, 0, 0, NULL, NULL},
    {"demo/MISSING.png", RESNET_TTA_NONE, NULL, 1, 0, NULL, NULL},
    {"tests/data/golden/chelsea.jpg", RESNET_TTA_FLIP, NULL, 0, 0, NULL, NULL},
    {NULL, RESNET_TTA_NONE, NULL, 0, 0, NULL, NULL}, /* coffee from memory */
    {"demo/chelsea.png", RESNET_TTA_NONE, "listed.jpg: cannot read folder: Permission denied", 1, 0, NULL, NULL},
    {notimage, RESNET_TTA_FLIP, NULL, 1, 0, NULL, NULL},
    {"tests/data/golden/chelsea.jpg", RESNET_TTA_MULTISCALE, NULL, 0, 0, NULL, NULL},
    {NULL, RESNET_TTA_FLIP, NULL, 0, 0, NULL, NULL}, /* coffee from memory, mirrored too */
    {"demo/coffee.png", RESNET_TTA_10CROP, NULL, 0, 0, NULL, NULL},
    {"demo/chelsea.png", RESNET_TTA_FLIP, NULL, 0, 0, NULL, NULL},
    {"demo/coffee.png", RESNET_TTA_NONE, NULL, 0, 0, NULL, NULL},
};
enum { NSPEC = sizeof specs / sizeof specs[0] };

static void make_reference(void) {
    resnet_session *s;
    resnet_error err;
    CHECK(resnet_session_create(model, 2, 1, &s, &err) == RESNET_OK, "%s", err.message);
    for (int i = 0; i < NSPEC; i++) {
        spec *p = &specs[i];
        if (p->bad) continue;
        resnet_view views[RESNET_TTA_MAX_VIEWS];
        p->views = resnet_tta_views(p->tta, views);
        float *in = malloc((size_t)p->views * IN_FLOATS * sizeof(float));
        p->logits = malloc((size_t)p->views * NC * sizeof(float));
        p->features = malloc((size_t)p->views * DIM * sizeof(float));
        resnet_status st = p->path ? resnet_preprocess_views_file(p->path, RESNET_NORM_CAFFE, views, p->views, in, &err)
                                   : resnet_preprocess_views_memory(coffee_bytes, coffee_size, "coffee", RESNET_NORM_CAFFE,
                                                                    views, p->views, in, &err);
        CHECK(st == RESNET_OK, "%s", err.message);
        for (int v = 0; v < p->views; v++)
            CHECK(resnet_forward(s, in + v * IN_FLOATS, 1, p->logits + (size_t)v * NC, p->features + (size_t)v * DIM,
                                 &err) == RESNET_OK,
                  "%s", err.message);
        free(in);
    }
    resnet_session_free(s);
}

/* ---- a source over the specs, and a callback that checks each result ----------------- */

typedef struct run_state {
    int max_batch, want;
    int trickle;        /* the next item only once the previous one's result came back */
    int stop_after;     /* the callback asks to stop after this many results (0: never) */
    int next;
    _Atomic int delivered; /* results handed back (written by the calling thread) */
    int results, batches, partial, rows, failed_stream;
    int order_ok;
} run_state;

static int source(void *ctx, int may_block, resnet_item *item) {
    run_state *x = ctx;
    if (x->next == NSPEC) return RESNET_SOURCE_END;
    if (x->trickle && x->delivered < x->next) {
        /* a client that sends its next request only after the answer to the last: the runner
         * must run what it holds instead of waiting for a full batch */
        static time_t since;
        if (!since) since = time(NULL);
        if (time(NULL) - since > 20) {
            x->failed_stream = 1;
            return RESNET_SOURCE_END;
        }
        if (may_block) {
            struct timespec ms = {0, 200000};
            nanosleep(&ms, NULL);
        }
        return RESNET_SOURCE_LATER;
    }
    const spec *p = &specs[x->next];
    item->user = (void *)p;
    if (p->error) {
        item->name = p->path;
        item->error = p->error;
    } else if (p->path) {
        item->path = p->path;
    } else {
        item->data = coffee_bytes;
        item->size = coffee_size;
        item->name = "coffee";
    }
    if (p->tta != RESNET_TTA_NONE) item->tta = p->tta;
    x->next++;
    return RESNET_SOURCE_ITEM;
}

static int same(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

static int check_result(void *ctx, const resnet_item_result *r) {
    run_state *x = ctx;
    const spec *p = &specs[r->index];
    x->order_ok &= r->index == x->results && r->user == p;
    x->results++;
    resnet_view views[RESNET_TTA_MAX_VIEWS];
    const int n = resnet_tta_views(p->tta, views);
    if (p->bad || n > x->max_batch) {
        CHECK(r->status != RESNET_OK && r->message && r->message[0], "item %d (batch %d): status %d", r->index,
              x->max_batch, r->status);
        CHECK(!r->logits && !r->probs && !r->features && !r->view_features, "item %d: a failure with outputs", r->index);
        if (p->error) CHECK(r->status == RESNET_E_IO && strcmp(r->message, p->error) == 0, "error item: %s", r->message);
        else if (n > x->max_batch) CHECK(r->status == RESNET_E_ARG, "too many views: status %d, %s", r->status, r->message);
        else if (p->path == notimage) CHECK(r->status == RESNET_E_IMAGE, "not an image: %d %s", r->status, r->message);
        else CHECK(r->status == RESNET_E_IO, "missing file: %d %s", r->status, r->message);
    } else {
        CHECK(r->status == RESNET_OK && r->views == n, "item %d (batch %d): %s", r->index, x->max_batch, r->message);
        if (r->status == RESNET_OK) {
            CHECK(!(x->want & RESNET_WANT_LOGITS) || (r->logits && same(r->logits, p->logits, (size_t)n * NC)),
                  "item %d (batch %d): logits differ from resnet_forward", r->index, x->max_batch);
            CHECK(!(x->want & RESNET_WANT_VIEW_FEATURES) ||
                      (r->view_features && same(r->view_features, p->features, (size_t)n * DIM)),
                  "item %d (batch %d): view features differ", r->index, x->max_batch);
            float probs[NC], mean[DIM];
            resnet_tta_average(p->logits, n, probs);
            for (int d = 0; d < DIM; d++) {
                float sum = 0;
                for (int v = 0; v < n; v++) sum += p->features[(size_t)v * DIM + d];
                mean[d] = sum / (float)n;
            }
            CHECK(!(x->want & RESNET_WANT_PROBS) || (r->probs && same(r->probs, probs, NC)),
                  "item %d (batch %d): probabilities differ from resnet_tta_average", r->index, x->max_batch);
            CHECK(!(x->want & RESNET_WANT_FEATURES) || (r->features && same(r->features, mean, DIM)),
                  "item %d (batch %d): features differ from the views' mean", r->index, x->max_batch);
            CHECK((x->want & RESNET_WANT_LOGITS) || !r->logits, "logits not asked for");
            CHECK((x->want & RESNET_WANT_FEATURES) || !r->features, "features not asked for");
        }
    }
    x->delivered = x->results;
    return x->stop_after && x->results >= x->stop_after;
}

static void on_batch(void *ctx, int items, int rows, double seconds) {
    run_state *x = ctx;
    CHECK(items >= 1 && rows >= 1 && rows <= x->max_batch && seconds >= 0, "batch: %d items, %d rows of %d", items,
          rows, x->max_batch);
    x->batches++;
    x->rows += rows;
    if (rows < x->max_batch) x->partial++;
}

static int expected_rows(int max_batch) {
    int rows = 0;
    for (int i = 0; i < NSPEC; i++)
        if (!specs[i].bad && specs[i].views <= max_batch) rows += specs[i].views;
    return rows;
}

static resnet_status run(resnet_session *s, run_state *x, resnet_error *err) {
    resnet_run_options o;
    resnet_run_options_init(&o);
    o.want = x->want;
    o.on_batch = on_batch;
    o.batch_ctx = x;
    x->order_ok = 1;
    return resnet_run(s, source, x, check_result, x, &o, err);
}

/* ---- the tests ------------------------------------------------------------------------- */

/* Every batch size 1..7 (10crop never fits: E_ARG; multiscale from 6) with every output. */
static void test_batch_sizes_bit_exact(void) {
    for (int bs = 1; bs <= 7; bs++) {
        resnet_session *s;
        resnet_error err;
        CHECK(resnet_session_create(model, 2, bs, &s, &err) == RESNET_OK, "%s", err.message);
        run_state x = {.max_batch = bs,
                       .want = RESNET_WANT_LOGITS | RESNET_WANT_PROBS | RESNET_WANT_FEATURES | RESNET_WANT_VIEW_FEATURES};
        CHECK(run(s, &x, &err) == RESNET_OK, "batch %d: %s", bs, err.message);
        CHECK(x.results == NSPEC && x.order_ok, "batch %d: %d results of %d, in order: %d", bs, x.results, NSPEC,
              x.order_ok);
        CHECK(x.rows == expected_rows(bs), "batch %d: %d rows run, %d expected", bs, x.rows, expected_rows(bs));
        /* packed: fewer passes than items whenever several fit */
        if (bs >= 3) CHECK(x.batches < NSPEC - 3, "batch %d: %d passes for %d items", bs, x.batches, NSPEC);
        resnet_session_free(s);
    }
}

/* A client that waits for each answer before sending the next: partial batches must run. */
static void test_trickle_runs_partial_batches(void) {
    resnet_session *s;
    resnet_error err;
    CHECK(resnet_session_create(model, 2, 16, &s, &err) == RESNET_OK, "%s", err.message);
    run_state x = {.max_batch = 16, .want = RESNET_WANT_PROBS, .trickle = 1};
    CHECK(run(s, &x, &err) == RESNET_OK, "%s", err.message);
    CHECK(!x.failed_stream, "the runner waited for a full batch instead of running what it had");
    CHECK(x.results == NSPEC && x.order_ok, "%d results, in order: %d", x.results, x.order_ok);
    CHECK(x.partial == x.batches && x.batches >= NSPEC - 3, "%d passes, %d partial", x.batches, x.partial);
    resnet_session_free(s);
}

static void test_stop_early(void) {
    resnet_session *s;
    resnet_error err;
    CHECK(resnet_session_create(model, 2, 2, &s, &err) == RESNET_OK, "%s", err.message);
    run_state x = {.max_batch = 2, .want = RESNET_WANT_PROBS, .stop_after = 2};
    CHECK(run(s, &x, &err) == RESNET_OK, "%s", err.message);
    CHECK(x.results == 2, "the callback ran %d times after asking to stop at 2", x.results);
    CHECK(x.next < NSPEC, "the source was drained (%d items) after the stop", x.next);
    /* want 0: no forward pass, failures still found */
    run_state y = {.max_batch = 2, .want = 0};
    CHECK(run(s, &y, &err) == RESNET_OK && y.results == NSPEC && y.batches == 0, "want 0: %d results, %d passes",
          y.results, y.batches);
    resnet_session_free(s);
}

/* A pass that fails (the RESNET_TEST_FAIL_PASS seam): resnet_run returns the error, after
 * answering only the items of the passes before it, in order, and calls the source no more. */
static void test_failed_pass(void) {
    resnet_session *s;
    resnet_error err;
    CHECK(resnet_session_create(model, 2, 2, &s, &err) == RESNET_OK, "%s", err.message);
    run_state x = {.max_batch = 2, .want = RESNET_WANT_PROBS};
    setenv("RESNET_TEST_FAIL_PASS", "2", 1);
    const resnet_status st = run(s, &x, &err);
    unsetenv("RESNET_TEST_FAIL_PASS");
    CHECK(st == RESNET_E_NOMEM && strstr(err.message, "RESNET_TEST_FAIL_PASS"), "status %d: %s", st, err.message);
    CHECK(x.batches == 1 && x.order_ok, "%d passes reported before the failure, in order: %d", x.batches, x.order_ok);
    /* the first pass's items (and failures before the second's) were answered, the rest not */
    CHECK(x.results >= 1 && x.results < x.next && x.next < NSPEC, "%d answered, %d taken from the source of %d",
          x.results, x.next, NSPEC);
    run_state y = {.max_batch = 2, .want = RESNET_WANT_PROBS};
    CHECK(run(s, &y, &err) == RESNET_OK && y.results == NSPEC, "the next run: %d results, %s", y.results, err.message);
    resnet_session_free(s);
}

/* A source that gives one photo, then an answer no source may give (-1: its own failure, say). */
typedef struct bad_source_state {
    int calls;   /* written by the decoding thread */
    int results; /* by the calling thread */
} bad_source_state;

static int bad_source(void *ctx, int may_block, resnet_item *item) {
    bad_source_state *b = ctx;
    (void)may_block;
    if (b->calls++ == 0) {
        item->path = "demo/coffee.png";
        return RESNET_SOURCE_ITEM;
    }
    return b->calls < 100 ? -1 : RESNET_SOURCE_END; /* an end, so a runner that asks again does not hang the test */
}

static int count_ok(void *ctx, const resnet_item_result *r) {
    ((bad_source_state *)ctx)->results += r->status == RESNET_OK;
    return 0;
}

static void test_bad_arguments(void) {
    resnet_session *s;
    resnet_error err;
    CHECK(resnet_session_create(model, 1, 1, &s, &err) == RESNET_OK, "%s", err.message);
    run_state x = {.max_batch = 1};
    CHECK(resnet_run(NULL, source, &x, check_result, &x, NULL, &err) == RESNET_E_ARG, "NULL session");
    CHECK(resnet_run(s, NULL, &x, check_result, &x, NULL, &err) == RESNET_E_ARG, "NULL source");
    CHECK(resnet_run(s, source, &x, NULL, &x, NULL, &err) == RESNET_E_ARG, "NULL callback");
    resnet_run_options o;
    memset(&o, 0, sizeof o);
    CHECK(resnet_run(s, source, &x, check_result, &x, &o, &err) == RESNET_E_ARG && strstr(err.message, "_init"),
          "options not initialised: %s", err.message);
    resnet_run_options_init(&o);
    o.want = 64;
    CHECK(resnet_run(s, source, &x, check_result, &x, &o, &err) == RESNET_E_UNSUPPORTED, "unknown want flag");
    resnet_run_options_init(&o);
    o.tta = (resnet_tta)99;
    CHECK(resnet_run(s, source, &x, check_result, &x, &o, &err) == RESNET_E_ARG, "unknown tta");
    CHECK(x.results == 0 && x.next == 0, "a refused run called back");
    /* a source's answer that is no RESNET_SOURCE_*: the run ends with an error after the item
     * it gave, and the source is not asked again (it was, a thousand times a second, for ever) */
    bad_source_state b = {0, 0};
    CHECK(resnet_run(s, bad_source, &b, count_ok, &b, NULL, &err) == RESNET_E_ARG && strstr(err.message, "answered -1"),
          "a source answering -1: %s", err.message);
    CHECK(b.calls == 2 && b.results == 1, "a source answering -1: asked %d times, %d results", b.calls, b.results);
    resnet_session_free(s);
}

int main(void) {
    const char *w = getenv("RESNET_TEST_V1_CAFFE");
    resnet_error err;
    if (!w || resnet_model_load(w, NULL, &model, &err) != RESNET_OK) {
        fprintf(stderr, "RESNET_TEST_V1_CAFFE: %s\n", w ? err.message : "not set (run through tests/run.sh)");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/resnet-test-run.XXXXXX");
    if (!mkdtemp(tmpdir)) return perror("mkdtemp"), 1;
    snprintf(notimage, sizeof notimage, "%s/notimage.jpg", tmpdir);
    tu_write_file(notimage, "plain text", 10);
    coffee_bytes = tu_read_file("demo/coffee.png", &coffee_size);
    make_reference();
    RUN(test_batch_sizes_bit_exact);
    RUN(test_trickle_runs_partial_batches);
    RUN(test_stop_early);
    RUN(test_failed_pass);
    RUN(test_bad_arguments);
    for (int i = 0; i < NSPEC; i++) free(specs[i].logits), free(specs[i].features);
    free(coffee_bytes);
    unlink(notimage);
    rmdir(tmpdir);
    resnet_model_free(model);
    return TEST_DONE();
}
