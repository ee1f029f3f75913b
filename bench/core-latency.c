/* core-latency.c - how far apart two CPUs are: the round trip of one cache line between a
 * thread pinned to each, in ns (the median of 5 runs of 100000 round trips).
 *
 *   core-latency [CPU_A CPU_B]     (default 0 1)
 *
 * Why: on a rented VM the host may put the two vCPUs on cores that share an L3 at one moment
 * and on cores that do not (another CCD or socket) the next. A line that one core wrote and
 * the other reads then costs several times more, and so does a forward pass split between the
 * two (docs/performance.md, "Two vCPUs near and far"). bench/vs-onnxruntime.sh --steady prints
 * this beside each process's time. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

enum { TRIPS = 100000, RUNS = 5 };

static _Alignas(64) atomic_int ball; /* odd: the far thread's turn; even: ours */
static _Alignas(64) atomic_int ready;
static int far_cpu;

static int pin(int cpu) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    return pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

static void *far_side(void *arg) {
    (void)arg;
    if (pin(far_cpu) != 0) {
        fprintf(stderr, "core-latency: cannot run on CPU %d\n", far_cpu);
        exit(1);
    }
    atomic_store(&ready, 1);
    for (int n = 0; n < RUNS * TRIPS; n++) {
        while (atomic_load_explicit(&ball, memory_order_acquire) != 2 * n + 1) {
        }
        atomic_store_explicit(&ball, 2 * n + 2, memory_order_release);
    }
    return NULL;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int near_cpu = 0;
    far_cpu = 1;
    if (argc == 3) {
        char *e1, *e2;
        long a = strtol(argv[1], &e1, 10), b = strtol(argv[2], &e2, 10);
        if (*argv[1] == '\0' || *e1 || *argv[2] == '\0' || *e2 || a < 0 || b < 0 || a > 4095 || b > 4095 ||
            a == b) {
            fprintf(stderr, "core-latency: CPU_A and CPU_B must be two different CPU numbers\n");
            return 2;
        }
        near_cpu = (int)a;
        far_cpu = (int)b;
    } else if (argc != 1) {
        fprintf(stderr, "usage: core-latency [CPU_A CPU_B]\n");
        return 2;
    }
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        fprintf(stderr, "core-latency: needs 2 CPUs, this machine has 1\n");
        return 1;
    }
    alarm(30); /* a CPU taken away mid-run must not leave this spinning */
    pthread_t t;
    if (pthread_create(&t, NULL, far_side, NULL) != 0) {
        fprintf(stderr, "core-latency: cannot start a thread\n");
        return 1;
    }
    if (pin(near_cpu) != 0) {
        fprintf(stderr, "core-latency: cannot run on CPU %d\n", near_cpu);
        return 1;
    }
    /* Yield until the other thread has moved to its CPU: under a real-time policy (chrt) a
     * spinning thread would otherwise keep it from ever running on this one. */
    while (!atomic_load(&ready)) sched_yield();
    double ns[RUNS];
    for (int r = 0, n = 0; r < RUNS; r++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int i = 0; i < TRIPS; i++, n++) {
            atomic_store_explicit(&ball, 2 * n + 1, memory_order_release);
            while (atomic_load_explicit(&ball, memory_order_acquire) != 2 * n + 2) {
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        ns[r] = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / TRIPS;
    }
    pthread_join(t, NULL);
    qsort(ns, RUNS, sizeof *ns, by_value);
    printf("CPU %d <-> CPU %d: %.0f ns a round trip\n", near_cpu, far_cpu, ns[RUNS / 2]);
    return 0;
}
