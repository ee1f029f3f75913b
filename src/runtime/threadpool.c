/* threadpool.c - persistent workers for the per-layer parallel loops.
 *
 * A forward pass hands the pool ~55 jobs (one per layer) in quick succession, some lasting
 * well under a millisecond, so waking a sleeping thread through the kernel for each would
 * cost a visible share. Workers therefore spin for a short while after a job, watching the
 * job counter, and only then sleep on the condition variable; the caller spins (yielding)
 * for the stragglers. Tasks are claimed with an atomic counter so a thread that finishes
 * early takes the next one and all threads end together. */
#include "runtime/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

enum { SPIN_ROUNDS = 20000 }; /* ~100 us of pause instructions before a worker sleeps */

struct rn_pool {
    int nthreads;
    pthread_t *workers;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_ulong generation; /* bumped per job; a worker runs each job once */
    atomic_int quit;
    atomic_int busy;         /* workers still inside the current job */
    int sleeping;            /* workers waiting on `wake` (under mu) */
    /* the current job: written before generation is bumped (release), read after (acquire) */
    rn_task_fn fn;
    void *ctx;
    int ntasks;
    atomic_int next;
};

static void run_tasks(rn_pool *p, int thread) {
    for (;;) {
        int t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->ntasks) break;
        p->fn(p->ctx, t, thread);
    }
}

typedef struct { rn_pool *pool; int index; } worker_arg;

/* Waits until the generation moves past `seen` (or quit); returns the new generation. */
static unsigned long wait_for_job(rn_pool *p, unsigned long seen) {
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        unsigned long g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen || atomic_load(&p->quit)) return g;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    p->sleeping++;
    unsigned long g;
    while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen && !atomic_load(&p->quit))
        pthread_cond_wait(&p->wake, &p->mu);
    p->sleeping--;
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker_main(void *arg) {
    worker_arg wa = *(worker_arg *)arg;
    free(arg);
    rn_pool *p = wa.pool;
    unsigned long seen = 0;
    for (;;) {
        seen = wait_for_job(p, seen);
        if (atomic_load(&p->quit)) break;
        run_tasks(p, wa.index);
        atomic_fetch_sub_explicit(&p->busy, 1, memory_order_release);
    }
    return NULL;
}

rn_pool *rn_pool_create(int nthreads) {
    if (nthreads < 1) nthreads = 1;
    rn_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->nthreads = nthreads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->quit, 0);
    atomic_init(&p->busy, 0);
    atomic_init(&p->next, 0);
    if (nthreads > 1) {
        p->workers = calloc((size_t)nthreads - 1, sizeof *p->workers);
        if (!p->workers) { rn_pool_free(p); return NULL; }
        for (int i = 1; i < nthreads; i++) {
            worker_arg *wa = malloc(sizeof *wa);
            if (wa) { wa->pool = p; wa->index = i; }
            if (!wa || pthread_create(&p->workers[i - 1], NULL, worker_main, wa) != 0) {
                free(wa);
                p->nthreads = i; /* only join the ones that started */
                rn_pool_free(p);
                return NULL;
            }
        }
    }
    return p;
}

void rn_pool_free(rn_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->nthreads; i++) pthread_join(p->workers[i - 1], NULL);
    free(p->workers);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    free(p);
}

int rn_pool_size(const rn_pool *p) { return p->nthreads; }

void rn_pool_run(rn_pool *p, int ntasks, rn_task_fn fn, void *ctx) {
    if (ntasks <= 0) return;
    if (p->nthreads == 1 || ntasks == 1) {
        for (int t = 0; t < ntasks; t++) fn(ctx, t, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = ntasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->busy, p->nthreads - 1, memory_order_relaxed);
    /* Publish the job; the mutex orders this against a worker about to sleep. */
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    if (p->sleeping) pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    run_tasks(p, 0);

    for (int i = 0; atomic_load_explicit(&p->busy, memory_order_acquire) > 0; i++) {
        if (i < SPIN_ROUNDS) cpu_relax();
        else sched_yield(); /* a worker was descheduled: let it run */
    }
}
