/* threadpool.c - persistent workers for the per-layer parallel loops.
 *
 * A forward pass hands the pool ~55 jobs (one per layer) in quick succession, some lasting
 * well under a millisecond, so waking a sleeping thread through the kernel for each would
 * cost a visible share. Workers therefore spin for a short while after a job, watching the
 * job counter, and only then sleep on the condition variable; the caller spins (yielding)
 * for the stragglers.
 *
 * Which thread runs which task: each thread owns a contiguous share of the job's tasks
 * (thread i of P the i-th P-th) and takes them front to back; a thread whose share is done
 * steals from the back of the others' shares, so a late or descheduled thread never holds
 * the job up. The shares matter because successive layers cut their rows the same way: the
 * thread that wrote rows 0..k of one layer's output is the thread that reads them in the
 * next, from its own cache, instead of both threads pulling half of every activation across
 * cores (a shared counter hands out tasks alternately). Stealing from the back keeps the
 * owner's front, the rows it is about to read, its own.
 *
 * A pool may be shared by sessions running on different threads (the model's pool). Each
 * caller is already a thread doing the work, so a job gets only as many workers as the pool
 * has beyond the callers inside a forward pass (rn_pool_enter): with as many sessions
 * running as cores, every caller runs its tasks alone and the workers sleep, instead of N
 * pools' worth of threads spinning against each other on the same cores (docs/library.md,
 * "Threads"). One job runs on the pool at a time; a caller that finds it taken runs its
 * tasks alone rather than wait. Which thread runs a task never changes its result. */
#define _GNU_SOURCE /* sched_getaffinity */
#include "runtime/threadpool.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

enum { SPIN_ROUNDS = 20000 }; /* ~100 us of pause instructions before a worker sleeps */
enum { HELPER_BITS = 16 };     /* a pool has at most 65535 workers */

/* One thread's share of the current job: tasks front..back-1, (back << 32 | front) in one
 * word so that the owner (taking the front) and a thief (taking the back) agree by one
 * compare-and-swap. A cache line each: the owners' updates must not contend. */
typedef struct share {
    _Alignas(64) atomic_ullong range;
} share;

struct rn_pool {
    int nthreads;
    pthread_t *workers;
    unsigned forks;          /* `forks` when the pool was made (see orphaned) */
    pthread_mutex_t mu;
    pthread_cond_t wake;
    /* (job number << HELPER_BITS) | helpers: bumped per job; a worker runs each job once,
     * and only if its index is at most that job's helpers. One word, so that a worker reads
     * both from the same job. */
    atomic_ullong generation;
    atomic_int quit;
    atomic_int busy;         /* helpers still inside the current job */
    atomic_int taken;        /* a caller owns the pool for its job (the others run alone) */
    atomic_int callers;      /* threads between rn_pool_enter and rn_pool_leave */
    int sleeping;            /* workers waiting on `wake` (under mu) */
    /* the current job: written before generation is bumped (release), read after (acquire) */
    rn_task_fn fn;
    void *ctx;
    int ntasks;
    int sharers;    /* threads with a share of the current job: the caller and its helpers */
    share *shares;  /* nthreads of them */
};

static unsigned long long pack(unsigned front, unsigned back) { return (unsigned long long)back << 32 | front; }

/* The next task of share s, from the front (its owner) or the back (a thief); -1 when empty. */
static int take(share *s, int from_back) {
    unsigned long long r = atomic_load_explicit(&s->range, memory_order_relaxed);
    for (;;) {
        const unsigned front = (unsigned)r, back = (unsigned)(r >> 32);
        if (front >= back) return -1;
        const unsigned long long want = from_back ? pack(front, back - 1) : pack(front + 1, back);
        if (atomic_compare_exchange_weak_explicit(&s->range, &r, want, memory_order_relaxed, memory_order_relaxed))
            return (int)(from_back ? back - 1 : front);
    }
}

static void run_tasks(rn_pool *p, int thread) {
    const int n = p->sharers;
    for (int t; (t = take(&p->shares[thread], 0)) >= 0;) p->fn(p->ctx, t, thread);
    for (int k = 1; k < n; k++) /* then the others' shares, the next thread's first */
        for (int t; (t = take(&p->shares[(thread + k) % n], 1)) >= 0;) p->fn(p->ctx, t, thread);
}

typedef struct { rn_pool *pool; int index; } worker_arg;

/* Waits until the generation moves past `seen` (or quit); returns the new generation. A
 * worker left out of the last job sleeps at once: spinning would take a core from a caller. */
static unsigned long long wait_for_job(rn_pool *p, unsigned long long seen, int spin) {
    for (int i = 0; spin && i < SPIN_ROUNDS; i++) {
        unsigned long long g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen || atomic_load(&p->quit)) return g;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    p->sleeping++;
    unsigned long long g;
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
    unsigned long long seen = 0;
    int helped = 1;
    for (;;) {
        seen = wait_for_job(p, seen, helped);
        if (atomic_load(&p->quit)) break;
        helped = wa.index <= (int)(seen & ((1ull << HELPER_BITS) - 1));
        if (!helped) continue;
        run_tasks(p, wa.index);
        atomic_fetch_sub_explicit(&p->busy, 1, memory_order_release);
    }
    return NULL;
}

/* fork() copies a pool into the child without its workers: a job handed to them there would
 * wait forever, and freeing the pool would join threads that do not exist. A child's jobs run
 * on the caller alone (any thread gives the same result), and it frees only the memory. A
 * fork handler tells the child, rather than getpid(): a system call on every job. */
static atomic_uint forks; /* how many fork()s made this process from the first pool's */
static void count_fork(void) { atomic_fetch_add_explicit(&forks, 1, memory_order_relaxed); }
static void watch_forks(void) { pthread_atfork(NULL, NULL, count_fork); }

static int orphaned(const rn_pool *p) {
    return p->nthreads > 1 && atomic_load_explicit(&forks, memory_order_relaxed) != p->forks;
}

int rn_cpu_max_parse(const char *text) {
    if (!text) return 0;
    const char *p = text;
    while (*p == ' ' || *p == '\t') p++;
    if (!isdigit((unsigned char)*p)) return 0; /* "max": no quota; a sign or garbage: none read */
    errno = 0;
    char *end;
    const unsigned long long quota = strtoull(p, &end, 10);
    if (errno || end == p || (*end != ' ' && *end != '\t')) return 0;
    p = end;
    while (*p == ' ' || *p == '\t') p++;
    if (!isdigit((unsigned char)*p)) return 0;
    const unsigned long long period = strtoull(p, &end, 10);
    if (errno || end == p) return 0;
    while (*end == ' ' || *end == '\t' || *end == '\n') end++;
    if (*end || quota == 0 || period == 0) return 0;
    const unsigned long long cpus = quota / period + (quota % period != 0);
    return cpus > 1024 ? 1024 : (int)cpus; /* more than any pool takes: only the min matters */
}

const char *rn_cgroup_v2_path(const char *text, char *out, size_t n) {
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        const size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > 3 && strncmp(line, "0::", 3) == 0 && line[3] == '/' && len - 3 < n) {
            memcpy(out, line + 3, len - 3);
            out[len - 3] = '\0';
            return out;
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

/* A small text file whole into buf (NUL-terminated); 0 if it cannot be read or does not fit. */
static int read_small(const char *path, char *buf, size_t n) {
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    const size_t got = fread(buf, 1, n - 1, f);
    const int whole = !ferror(f) && fgetc(f) == EOF;
    fclose(f);
    buf[got] = '\0';
    return whole;
}

/* The CPUs a cgroup v2 quota allows this process (cpu.max "150000 100000": 1.5 CPUs, 2 threads;
 * docker --cpus, systemd's CPUQuota), 0 for none: the smallest over its own cgroup and the
 * ones above it, up to the root of the mount (a container's own cgroup is that root). */
static int cgroup_cpu_quota(void) {
    char text[4096], dir[PATH_MAX], file[PATH_MAX + 32];
    if (!read_small("/proc/self/cgroup", text, sizeof text) || !rn_cgroup_v2_path(text, dir, sizeof dir))
        snprintf(dir, sizeof dir, "/");
    int best = 0;
    for (;;) {
        char cpu_max[128];
        snprintf(file, sizeof file, "/sys/fs/cgroup%s%scpu.max", dir, dir[strlen(dir) - 1] == '/' ? "" : "/");
        const int q = read_small(file, cpu_max, sizeof cpu_max) ? rn_cpu_max_parse(cpu_max) : 0;
        if (q > 0 && (best == 0 || q < best)) best = q;
        char *slash = strrchr(dir, '/');
        if (!slash || strcmp(dir, "/") == 0) break;
        slash[slash == dir] = '\0'; /* "/a/b" -> "/a" -> "/" */
    }
    return best;
}

int rn_default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    /* the CPUs this process may run on (taskset, a container's cpuset), as nproc counts them:
     * more threads than those would take turns on the same cores, each pass waiting for the
     * slowest. */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        const int allowed = CPU_COUNT(&set);
        if (allowed >= 1 && allowed < n) n = allowed;
    }
    /* A CPU quota without a cpuset (docker --cpus=1.5) leaves every core in the affinity but
     * lets the process run only so long a period: threads beyond the quota's CPUs are
     * throttled, and a pass waits for the last of them. Once per pool: not a hot path. */
    const int quota = cgroup_cpu_quota();
    if (quota >= 1 && quota < n) n = quota;
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

rn_pool *rn_pool_create(int nthreads) {
    if (nthreads < 1) nthreads = 1;
    if (nthreads >= 1 << HELPER_BITS) nthreads = (1 << HELPER_BITS) - 1;
    rn_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->nthreads = nthreads;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, watch_forks);
    p->forks = atomic_load_explicit(&forks, memory_order_relaxed);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->quit, 0);
    atomic_init(&p->busy, 0);
    atomic_init(&p->taken, 0);
    atomic_init(&p->callers, 0);
    p->shares = aligned_alloc(64, (size_t)nthreads * sizeof *p->shares); /* sizeof is 64 */
    if (!p->shares) { free(p); return NULL; }
    for (int i = 0; i < nthreads; i++) atomic_init(&p->shares[i].range, 0);
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
    if (orphaned(p)) { /* the mutex may have been held by a worker at the fork: left alone */
        free(p->workers);
        free(p->shares);
        free(p);
        return;
    }
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->nthreads; i++) pthread_join(p->workers[i - 1], NULL);
    free(p->workers);
    free(p->shares);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    free(p);
}

int rn_pool_size(const rn_pool *p) { return p->nthreads; }

static int helpers_now(const rn_pool *p) {
    if (orphaned(p)) return 0;
    const int callers = atomic_load_explicit(&p->callers, memory_order_relaxed);
    return p->nthreads - (callers > 1 ? callers : 1);
}

int rn_pool_threads(const rn_pool *p) {
    if (!p) return 1;
    const int helpers = helpers_now(p);
    return helpers > 0 ? helpers + 1 : 1;
}

void rn_pool_enter(rn_pool *p) { atomic_fetch_add_explicit(&p->callers, 1, memory_order_relaxed); }
void rn_pool_leave(rn_pool *p) { atomic_fetch_sub_explicit(&p->callers, 1, memory_order_relaxed); }

void rn_pool_run(rn_pool *p, int ntasks, rn_task_fn fn, void *ctx) {
    if (ntasks <= 0) return;
    int helpers = p ? helpers_now(p) : 0;
    if (helpers > ntasks - 1) helpers = ntasks - 1;
    /* acquire: the previous owner's job (fn, ctx, next, busy) is finished before we rewrite it */
    if (helpers <= 0 || atomic_exchange_explicit(&p->taken, 1, memory_order_acquire)) { /* p NULL: helpers 0 */
        for (int t = 0; t < ntasks; t++) fn(ctx, t, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = ntasks;
    p->sharers = helpers + 1;
    for (int i = 0; i < p->sharers; i++) /* thread i's share: the i-th of sharers equal runs */
        atomic_store_explicit(&p->shares[i].range,
                              pack((unsigned)((long long)ntasks * i / p->sharers),
                                   (unsigned)((long long)ntasks * (i + 1) / p->sharers)),
                              memory_order_relaxed);
    atomic_store_explicit(&p->busy, helpers, memory_order_relaxed);
    /* Publish the job; the mutex orders this against a worker about to sleep. */
    pthread_mutex_lock(&p->mu);
    unsigned long long job = (atomic_load_explicit(&p->generation, memory_order_relaxed) >> HELPER_BITS) + 1;
    atomic_store_explicit(&p->generation, job << HELPER_BITS | (unsigned long long)helpers, memory_order_release);
    if (p->sleeping) pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    run_tasks(p, 0);

    for (int i = 0; atomic_load_explicit(&p->busy, memory_order_acquire) > 0; i++) {
        if (i < SPIN_ROUNDS) cpu_relax();
        else sched_yield(); /* a worker was descheduled: let it run */
    }
    atomic_store_explicit(&p->taken, 0, memory_order_release);
}
