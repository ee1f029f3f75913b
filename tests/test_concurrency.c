/* test_concurrency.c - one loaded model shared by several threads at once.
 *
 * The header promises that a loaded model is read-only and may be shared by any number of
 * threads, each with its own session. Here 4 threads classify different photos at the same
 * time (each its own session; started together behind a barrier so the passes overlap), and
 * every result must equal, bit for bit, what one thread alone computes for the same photo:
 * the 1000 logits, and the top-5 of resnet_classify_file. A second round gives each
 * session 2 worker threads of its own (8 threads in all): the split of a layer between
 * workers must not change a bit either. A third gives each the default (threads = 0): the
 * four sessions share their model's pool, so the process must have no more threads than
 * the four callers plus one pool (one thread per core, less the caller), where a pool per
 * session used to start cores - 1 workers for each (4 x (cores - 1)); the results must be
 * identical there too, whichever of the passes the pool's workers happen to help. A last
 * round runs whole batches on the shared pool: a pass that gets every thread runs its
 * images side by side, one a thread (model/resnet50.c), one that gets fewer runs them
 * layer by layer, and which one a pass gets depends on the others: bit-identical either way.
 * Weights: RESNET_TEST_V1_CAFFE (tests/run.sh sets it); photos: the repository's own (demo/,
 * and the JPEG in tests/data/golden/), then ../shared/images/seed's when it is there, the list
 * repeated up to N_PHOTOS (two threads on one photo at once must agree too).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "resnet.h"
#include "testutil.h"

#define N_PHOTOS 8
#define N_THREADS 4
#define TOP 5
#define INPUT_FLOATS (3 * RESNET_INPUT_SIZE * RESNET_INPUT_SIZE)

static resnet_model *model;
static char *photos[N_PHOTOS];
static int n_photos;
static float ref_logits[N_PHOTOS][RESNET_NUM_CLASSES];
static resnet_prediction ref_top[N_PHOTOS][TOP];

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *dup_str(const char *s) {
    char *p = malloc(strlen(s) + 1);
    return p ? strcpy(p, s) : NULL;
}

/* The repository's photos, then the .jpg files of the seed folder in name order, to
 * N_PHOTOS; the list repeated if shorter. */
static int find_photos(void) {
    static const char *const own[] = {"demo/chelsea.png", "demo/coffee.png", "tests/data/golden/chelsea.jpg"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) photos[n_photos++] = dup_str(own[i]);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/images/seed", tu_shared());
    DIR *d = opendir(dir);
    struct dirent *e;
    char *all[256];
    int n = 0;
    while (d && (e = readdir(d)) && n < 256) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".jpg") != 0) continue;
        all[n] = malloc(strlen(dir) + len + 2);
        sprintf(all[n], "%s/%s", dir, e->d_name);
        n++;
    }
    int have_seed = d != NULL;
    if (d) closedir(d);
    qsort(all, (size_t)n, sizeof all[0], cmp_str);
    for (int i = 0; i < n; i++) {
        if (n_photos < N_PHOTOS) photos[n_photos++] = all[i];
        else free(all[i]);
    }
    printf("     photos: 3 of the repository's, %d from %s%s\n", n_photos - 3, dir, have_seed ? "" : " (not found)");
    for (int i = 0; n_photos < N_PHOTOS; i++) photos[n_photos++] = dup_str(photos[i]);
    return n_photos;
}

/* The threads of this process now (Linux: one entry per thread in /proc/self/task). */
static int process_threads(void) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

/* One photo through preprocess + forward; 0 on success. */
static int logits_of(resnet_session *s, const char *path, float *input, float *logits, resnet_error *err) {
    if (resnet_preprocess_file(path, resnet_model_norm(model), input, err) != RESNET_OK) return -1;
    return resnet_forward(s, input, 1, logits, NULL, err) == RESNET_OK ? 0 : -1;
}

typedef struct worker {
    int id, session_threads, batch; /* batch > 1: every photo in one pass, rotated by id */
    pthread_barrier_t *start;
    int mismatched_logits, mismatched_top, errors;
    char first_error[600];
} worker;

/* Every photo in one pass, starting at photo `id` (so that the sessions' batches differ). */
static void batch_work(worker *w, resnet_session *s) {
    resnet_error err;
    float *input = malloc((size_t)n_photos * INPUT_FLOATS * sizeof(float));
    float *logits = malloc((size_t)n_photos * RESNET_NUM_CLASSES * sizeof(float));
    int ok = input && logits;
    for (int b = 0; ok && b < n_photos; b++) {
        const char *path = photos[(w->id + b) % n_photos];
        ok = resnet_preprocess_file(path, resnet_model_norm(model), input + (size_t)b * INPUT_FLOATS, &err) == RESNET_OK;
    }
    for (int pass = 0; ok && pass < 2; pass++) {
        ok = resnet_forward(s, input, n_photos, logits, NULL, &err) == RESNET_OK;
        for (int b = 0; ok && b < n_photos; b++)
            w->mismatched_logits += memcmp(logits + (size_t)b * RESNET_NUM_CLASSES, ref_logits[(w->id + b) % n_photos],
                                           sizeof ref_logits[0]) != 0;
    }
    if (!ok && !w->errors++) snprintf(w->first_error, sizeof w->first_error, "%s", input && logits ? err.message : "out of memory");
    free(input);
    free(logits);
}

static void *work(void *arg) {
    worker *w = arg;
    resnet_session *s = NULL;
    resnet_error err;
    float *input = malloc(INPUT_FLOATS * sizeof(float)), logits[RESNET_NUM_CLASSES];
    if (resnet_session_create(model, w->session_threads, w->batch > 1 ? n_photos : 1, &s, &err) != RESNET_OK || !input) {
        snprintf(w->first_error, sizeof w->first_error, "session: %s", err.message);
        w->errors++;
    }
    pthread_barrier_wait(w->start); /* every session exists: the main thread counts threads */
    pthread_barrier_wait(w->start); /* everyone runs at once */
    if (s && w->batch > 1) {
        batch_work(w, s);
        resnet_session_free(s);
        free(input);
        return NULL;
    }
    /* thread t takes photos t, t + N_THREADS, ...; then one resnet_classify_file of its own */
    for (int i = w->id; s && i < n_photos; i += N_THREADS) {
        if (logits_of(s, photos[i], input, logits, &err) != 0) {
            if (!w->errors++) snprintf(w->first_error, sizeof w->first_error, "%s", err.message);
            continue;
        }
        w->mismatched_logits += memcmp(logits, ref_logits[i], sizeof logits) != 0;
    }
    for (int i = w->id; s && i < n_photos; i += N_THREADS) {
        resnet_prediction top[TOP];
        if (resnet_classify_file(s, photos[i], TOP, top, &err) != RESNET_OK) {
            if (!w->errors++) snprintf(w->first_error, sizeof w->first_error, "%s", err.message);
            continue;
        }
        w->mismatched_top += memcmp(top, ref_top[i], sizeof top) != 0;
        break; /* one each: the logits above already cover every photo */
    }
    resnet_session_free(s);
    free(input);
    return NULL;
}

/* Runs the round; returns the threads the process had once every session existed. */
static int concurrent_round(int session_threads, int batch) {
    pthread_t tid[N_THREADS];
    worker w[N_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N_THREADS + 1);
    for (int t = 0; t < N_THREADS; t++) {
        memset(&w[t], 0, sizeof w[t]);
        w[t].id = t;
        w[t].session_threads = session_threads;
        w[t].batch = batch;
        w[t].start = &start;
        CHECK(pthread_create(&tid[t], NULL, work, &w[t]) == 0, "pthread_create");
    }
    pthread_barrier_wait(&start);
    int threads = process_threads();
    pthread_barrier_wait(&start);
    int logits_bad = 0, top_bad = 0;
    for (int t = 0; t < N_THREADS; t++) {
        pthread_join(tid[t], NULL);
        CHECK(w[t].errors == 0, "thread %d: %d errors, first: %s", t, w[t].errors, w[t].first_error);
        logits_bad += w[t].mismatched_logits;
        top_bad += w[t].mismatched_top;
    }
    pthread_barrier_destroy(&start);
    CHECK(logits_bad == 0, "%d results (of photos passed one by one, or in batches of %d): logits differ from the "
          "single-threaded run", logits_bad, n_photos);
    CHECK(top_bad == 0, "%d threads: top-%d differs from the single-threaded run", top_bad, TOP);
    if (batch > 1)
        printf("     %d threads x threads=%d sessions (%d threads in the process), 2 passes of a batch of %d: logits "
               "identical\n", N_THREADS, session_threads, threads, n_photos);
    else
        printf("     %d threads x threads=%d sessions (%d threads in the process), %d photos: logits and top-%d "
               "identical\n", N_THREADS, session_threads, threads, n_photos, TOP);
    return threads;
}

static void test_single_threaded_reference(void) {
    resnet_session *s = NULL;
    resnet_error err;
    float *input = malloc(INPUT_FLOATS * sizeof(float));
    CHECK(resnet_session_create(model, 1, 1, &s, &err) == RESNET_OK, "%s", err.message);
    for (int i = 0; s && i < n_photos; i++) {
        CHECK(logits_of(s, photos[i], input, ref_logits[i], &err) == 0, "%s", err.message);
        float probs[RESNET_NUM_CLASSES];
        resnet_softmax(ref_logits[i], RESNET_NUM_CLASSES, probs);
        resnet_top_k(probs, RESNET_NUM_CLASSES, TOP, ref_top[i]);
        /* resnet_classify_file is exactly this */
        if (i == 0) {
            resnet_prediction top[TOP];
            CHECK(resnet_classify_file(s, photos[i], TOP, top, &err) == RESNET_OK, "%s", err.message);
            CHECK(memcmp(top, ref_top[i], sizeof top) == 0, "classify_file differs from forward + top-k");
        }
    }
    resnet_session_free(s);
    free(input);
}

static void test_threads_one_worker_each(void) { concurrent_round(1, 1); }
static void test_threads_two_workers_each(void) { concurrent_round(2, 1); }
static void test_batches_on_the_shared_pool(void) { concurrent_round(0, N_PHOTOS); }

/* The default: one pool for the four sessions, not one each. */
static void test_default_sessions_share_one_pool(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    if (cores > 64) cores = 64; /* the library's cap on the default */
    int base = process_threads(); /* this thread, and any the process had before */
    int threads = concurrent_round(0, 1);
    /* the 4 callers, plus one pool of `cores` threads of which the caller is one */
    int most = base + N_THREADS + (int)cores - 1;
    CHECK(threads <= most, "4 sessions with threads=0 on %ld cores: %d threads in the process, expected at most %d "
          "(a pool per session oversubscribes the cores)", cores, threads, most);
    /* one session alone still gets every core */
    resnet_session *s = NULL;
    resnet_error err;
    CHECK(resnet_session_create(model, 0, 1, &s, &err) == RESNET_OK, "%s", err.message);
    if (s) CHECK(resnet_session_threads(s) == cores, "a default session has %d threads, not %ld", resnet_session_threads(s), cores);
    resnet_session_free(s);
}

int main(void) {
    const char *w = getenv("RESNET_TEST_V1_CAFFE");
    resnet_error err;
    if (!w) {
        fprintf(stderr, "test_concurrency: RESNET_TEST_V1_CAFFE not set (run through tests/run.sh)\n");
        return 1;
    }
    if (resnet_model_load(w, NULL, &model, &err) != RESNET_OK) {
        fprintf(stderr, "test_concurrency: %s\n", err.message);
        return 1;
    }
    if (find_photos() < N_THREADS) {
        fprintf(stderr, "test_concurrency: fewer than %d photos\n", N_THREADS);
        return 1;
    }
    RUN(test_single_threaded_reference);
    RUN(test_threads_one_worker_each);
    RUN(test_threads_two_workers_each);
    RUN(test_default_sessions_share_one_pool);
    RUN(test_batches_on_the_shared_pool);
    resnet_model_free(model);
    for (int i = 0; i < n_photos; i++) free(photos[i]);
    return TEST_DONE();
}
