/* test_threadpool.c - the pool runs every task of a job exactly once, on a thread index inside
 * the pool, whatever the pool's size and the job's length; a thread that stalls does not hold a
 * job up (the others take its share); callers sharing one pool each get all their tasks; a
 * forked child runs its jobs without the workers that stayed in the parent. */
#define _GNU_SOURCE 1 /* usleep, sched_setaffinity */
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "runtime/threadpool.h"

enum { MAX_TASKS = 5000 };

typedef struct job {
    atomic_int runs[MAX_TASKS];
    atomic_int by_thread[64];
    atomic_int bad_thread;
    int size;
    int stall; /* thread 1 sleeps in the first task it runs */
    atomic_int stalled;
} job;

static void task(void *ctx, int t, int thread) {
    job *j = ctx;
    atomic_fetch_add(&j->runs[t], 1);
    if (thread < 0 || thread >= j->size) {
        atomic_store(&j->bad_thread, 1);
        return;
    }
    atomic_fetch_add(&j->by_thread[thread], 1);
    if (j->stall && thread == 1 && atomic_exchange(&j->stalled, 1) == 0) usleep(200 * 1000);
}

static int each_once(job *j, int ntasks) {
    for (int t = 0; t < ntasks; t++)
        if (atomic_load(&j->runs[t]) != 1) return t;
    return -1;
}

static void test_every_task_once(void) {
    static const int sizes[] = {1, 2, 3, 4, 7};
    static const int lengths[] = {1, 2, 3, 5, 8, 13, 64, 999, MAX_TASKS};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        rn_pool *p = rn_pool_create(sizes[si]);
        CHECK(p && rn_pool_size(p) == sizes[si], "pool of %d", sizes[si]);
        if (!p) continue;
        for (size_t li = 0; li < sizeof lengths / sizeof *lengths; li++)
            for (int rep = 0; rep < 20; rep++) { /* back to back, as a forward pass's layers */
                job *j = calloc(1, sizeof *j);
                j->size = sizes[si];
                rn_pool_run(p, lengths[li], task, j);
                const int t = each_once(j, lengths[li]);
                CHECK(t < 0, "pool of %d, %d tasks: task %d ran %d times", sizes[si], lengths[li], t,
                      t < 0 ? 1 : atomic_load(&j->runs[t]));
                CHECK(!atomic_load(&j->bad_thread), "pool of %d: a thread index outside it", sizes[si]);
                free(j);
            }
        rn_pool_run(p, 0, task, NULL); /* nothing to do: returns */
        rn_pool_free(p);
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Thread 1 sleeps 200 ms in its first task: the caller must run the rest of the job, its
 * own share and thread 1's, so that only the stalled task is left to thread 1. */
static void test_stalled_thread(void) {
    rn_pool *p = rn_pool_create(2);
    CHECK(p != NULL, "pool of 2");
    if (!p) return;
    for (int rep = 0; rep < 3; rep++) {
        job *j = calloc(1, sizeof *j);
        j->size = 2;
        j->stall = 1;
        enum { TASKS = 64 };
        const double t0 = now_s();
        rn_pool_run(p, TASKS, task, j);
        const double took = now_s() - t0;
        CHECK(each_once(j, TASKS) < 0, "every task once with a stalled thread");
        const int mine = atomic_load(&j->by_thread[0]), theirs = atomic_load(&j->by_thread[1]);
        /* thread 1 stalls in the first task it takes (or never wakes in time: the caller ran
         * everything); the caller runs its own share in microseconds, then steals the rest of
         * thread 1's: without stealing thread 1 would run its whole share after the stall */
        CHECK(mine + theirs == TASKS && theirs <= 2, "caller ran %d, the stalled thread %d", mine, theirs);
        CHECK(took < 5.0, "the job took %.2f s", took);
        free(j);
    }
    rn_pool_free(p);
}

typedef struct caller_arg {
    rn_pool *p;
    int ok;
} caller_arg;

static void *caller(void *arg) {
    caller_arg *a = arg;
    a->ok = 1;
    rn_pool_enter(a->p);
    for (int rep = 0; rep < 200; rep++) {
        job *j = calloc(1, sizeof *j);
        j->size = rn_pool_size(a->p);
        const int n = 1 + rep % 97;
        rn_pool_run(a->p, n, task, j);
        if (each_once(j, n) >= 0 || atomic_load(&j->bad_thread)) a->ok = 0;
        free(j);
    }
    rn_pool_leave(a->p);
    return NULL;
}

/* Four callers on a pool of 3 at once (sessions sharing their model's pool). */
static void test_shared_callers(void) {
    rn_pool *p = rn_pool_create(3);
    CHECK(p != NULL, "pool of 3");
    if (!p) return;
    pthread_t th[4];
    caller_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i].p = p;
        a[i].ok = 0;
        CHECK(pthread_create(&th[i], NULL, caller, &a[i]) == 0, "thread %d", i);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(a[i].ok, "caller %d: a task missed, repeated or on a bad thread index", i);
    }
    rn_pool_free(p);
}

/* What a driver plans for: the size less the other callers in a forward pass, never below 1;
 * and a job started then still runs every task once. No pool at all: one thread. */
static void test_threads_now(void) {
    rn_pool *p = rn_pool_create(4);
    CHECK(p != NULL, "pool of 4");
    if (!p) return;
    static const int expect[] = {4, 4, 3, 2, 1, 1, 1}; /* after 0, 1, 2, ... callers entered */
    for (int k = 0; k < 7; k++) {
        CHECK(rn_pool_threads(p) == expect[k], "%d callers: %d threads, expected %d", k, rn_pool_threads(p), expect[k]);
        job *j = calloc(1, sizeof *j);
        j->size = 4;
        rn_pool_run(p, 37, task, j);
        const int t = each_once(j, 37);
        CHECK(t < 0, "%d callers: task %d missed or repeated", k, t);
        free(j);
        rn_pool_enter(p);
    }
    for (int k = 0; k < 7; k++) rn_pool_leave(p);
    CHECK(rn_pool_threads(p) == 4, "all callers left: %d threads", rn_pool_threads(p));
    rn_pool_free(p);
    /* no pool: the caller alone, as thread 0 (an image a worker runs by itself) */
    CHECK(rn_pool_threads(NULL) == 1, "no pool: %d threads", rn_pool_threads(NULL));
    job *j = calloc(1, sizeof *j);
    j->size = 1;
    rn_pool_run(NULL, 37, task, j);
    const int t = each_once(j, 37);
    CHECK(t < 0 && !atomic_load(&j->bad_thread), "no pool: task %d missed or repeated, or a thread other than 0", t);
    free(j);
}

/* A child forked from a process with a pool: the workers stayed in the parent. The child's jobs
 * must run every task on the caller (they used to wait forever for the missing workers) and
 * freeing the pool there must return (it used to join threads that are not in the child). The
 * child is killed after 20 s, so a hang fails the test instead of stopping it. */
static void test_forked_child(void) {
    rn_pool *p = rn_pool_create(3);
    CHECK(p != NULL, "pool of 3");
    if (!p) return;
    job *j = calloc(1, sizeof *j);
    j->size = 3;
    rn_pool_run(p, 50, task, j); /* the workers have run: they exist, in this process only */
    CHECK(each_once(j, 50) < 0, "parent: a task missed or repeated");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20);
        memset(j, 0, sizeof *j);
        j->size = 3;
        int bad = rn_pool_threads(p) != 1;
        rn_pool_run(p, 50, task, j);
        bad |= each_once(j, 50) >= 0 || atomic_load(&j->by_thread[0]) != 50;
        rn_pool_free(p);
        _exit(bad ? 1 : 0);
    }
    CHECK(pid > 0, "fork");
    int status = 0;
    if (pid > 0) waitpid(pid, &status, 0);
    CHECK(pid <= 0 || (WIFEXITED(status) && WEXITSTATUS(status) == 0),
          "child: %s %d (1: a task missed, or not on the caller alone; 14: hung, killed)",
          WIFSIGNALED(status) ? "killed by signal" : "exit", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    /* the parent's pool still has its workers */
    memset(j, 0, sizeof *j);
    j->size = 3;
    rn_pool_run(p, 50, task, j);
    CHECK(each_once(j, 50) < 0 && rn_pool_threads(p) == 3, "parent after the fork: tasks or threads wrong");
    free(j);
    rn_pool_free(p);
}

/* The default pool counts the CPUs the process may run on: held to one CPU (as `taskset -c 0`
 * holds it), one thread, where sysconf's count of online cores gave every core a thread to
 * take turns on that one. Run in a child, whose affinity does not outlive it. */
static void test_default_threads_affinity(void) {
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        TU_SKIP("this machine has one core");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
        if (sched_setaffinity(0, sizeof one, &one) != 0) _exit(3);
        _exit(rn_default_threads() == 1 ? 0 : 1);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork/wait");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "rn_default_threads under an affinity of one CPU: exit %d",
          WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* The default pool also heeds a cgroup v2 CPU quota (docker --cpus=1.5 sets cpu.max, not a
 * cpuset): the parsers of cpu.max and of /proc/self/cgroup, given the files' text. */
static void test_cpu_quota_parse(void) {
    static const struct {
        const char *text;
        int cpus;
    } cases[] = {
        {"max 100000\n", 0},        {"max 100000", 0},          {"150000 100000\n", 2},
        {"50000 100000\n", 1},      {"100000 100000\n", 1},    {"400000 100000\n", 4},
        {"100001 100000", 2},       {"1 1000000", 1},           {"", 0},
        {"garbage", 0},             {"max", 0},                 {"150000", 0},
        {"150000 100000 7\n", 0},   {"0 100000\n", 0},          {"150000 0\n", 0},
        {"-150000 100000\n", 0},    {"150000 -100000\n", 0},    {"15e4 100000\n", 0},
        {"99999999999999999999999 100000\n", 0}, {"18446744073709551615 1\n", 1024},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int got = rn_cpu_max_parse(cases[i].text);
        CHECK(got == cases[i].cpus, "cpu.max '%s': %d, want %d", cases[i].text, got, cases[i].cpus);
    }
    CHECK(rn_cpu_max_parse(NULL) == 0, "NULL");

    char path[64];
    const char *p = rn_cgroup_v2_path("12:cpu,cpuacct:/docker/abc\n0::/system.slice/x.service\n", path, sizeof path);
    CHECK(p && strcmp(p, "/system.slice/x.service") == 0, "v2 line after v1 lines: %s", p ? p : "(null)");
    p = rn_cgroup_v2_path("0::/\n", path, sizeof path);
    CHECK(p && strcmp(p, "/") == 0, "the root: %s", p ? p : "(null)");
    p = rn_cgroup_v2_path("0::/a/b", path, sizeof path); /* no final newline */
    CHECK(p && strcmp(p, "/a/b") == 0, "last line: %s", p ? p : "(null)");
    CHECK(rn_cgroup_v2_path("4:memory:/x\n1:cpu:/\n", path, sizeof path) == NULL, "v1 only: no path");
    CHECK(rn_cgroup_v2_path("10::/x\n", path, sizeof path) == NULL, "hierarchy 10 taken for v2");
    CHECK(rn_cgroup_v2_path("0::/0123456789\n", path, 8) == NULL, "a path longer than the buffer cut short");
    CHECK(rn_cgroup_v2_path("", path, sizeof path) == NULL && rn_cgroup_v2_path(NULL, path, sizeof path) == NULL,
          "empty text");
    const int n = rn_default_threads();
    CHECK(n >= 1 && n <= 64, "rn_default_threads %d", n);
}

int main(void) {
    RUN(test_threads_now);
    RUN(test_every_task_once);
    RUN(test_stalled_thread);
    RUN(test_shared_callers);
    RUN(test_forked_child);
    RUN(test_default_threads_affinity);
    RUN(test_cpu_quota_parse);
    return TEST_DONE();
}
