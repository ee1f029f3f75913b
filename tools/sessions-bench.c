/* sessions-bench.c - throughput of several sessions run at once, one per thread (the pattern
 * the header recommends), for choosing how many worker threads a session gets by default
 * (include/resnet.h, "Threads"; the numbers are in docs/library.md, "Threads").
 *
 *   cc -O2 -Iinclude tools/sessions-bench.c build/libresnet.a -lpng -ljpeg -lm -pthread -o build/sessions-bench
 *   build/sessions-bench WEIGHTS STREAMS THREADS PASSES
 *
 * STREAMS threads each create a session with THREADS workers (0: the library's default) and,
 * started together, run PASSES forward passes of one image each. Prints the wall time, the
 * images per second of all streams together, the CPU time the process used per image (what
 * threads spinning against each other waste shows here, whatever else the machine runs) and
 * the threads the process had once every session existed.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "resnet.h"

#define IN_FLOATS (3 * RESNET_INPUT_SIZE * RESNET_INPUT_SIZE)

static resnet_model *model;
static int session_threads, passes;
static pthread_barrier_t ready, go;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_seconds(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec + (double)u.ru_stime.tv_sec +
           1e-6 * (double)u.ru_stime.tv_usec;
}

static int process_threads(void) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

static void *stream(void *arg) {
    (void)arg;
    resnet_error err;
    resnet_session *s = NULL;
    float *in = calloc(IN_FLOATS, sizeof(float)), logits[RESNET_NUM_CLASSES];
    if (resnet_session_create(model, session_threads, 1, &s, &err) != RESNET_OK || !in) {
        fprintf(stderr, "sessions-bench: %s\n", in ? err.message : "out of memory");
        exit(1);
    }
    for (int i = 0; i < IN_FLOATS; i++) in[i] = (float)(i % 251) - 125.0f;
    resnet_forward(s, in, 1, logits, NULL, &err); /* warm-up: page in the activations */
    pthread_barrier_wait(&ready);
    pthread_barrier_wait(&go);
    for (int p = 0; p < passes; p++) resnet_forward(s, in, 1, logits, NULL, &err);
    resnet_session_free(s);
    free(in);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: sessions-bench WEIGHTS STREAMS THREADS PASSES\n");
        return 2;
    }
    int streams = atoi(argv[2]);
    session_threads = atoi(argv[3]);
    passes = atoi(argv[4]);
    if (streams < 1 || streams > 64 || session_threads < 0 || passes < 1) {
        fprintf(stderr, "sessions-bench: STREAMS 1..64, THREADS >= 0, PASSES >= 1\n");
        return 2;
    }
    resnet_error err;
    if (resnet_model_load(argv[1], NULL, &model, &err) != RESNET_OK) {
        fprintf(stderr, "sessions-bench: %s\n", err.message);
        return 1;
    }
    pthread_t tid[64];
    pthread_barrier_init(&ready, NULL, (unsigned)streams + 1);
    pthread_barrier_init(&go, NULL, (unsigned)streams + 1);
    for (int i = 0; i < streams; i++) pthread_create(&tid[i], NULL, stream, NULL);
    pthread_barrier_wait(&ready);
    int threads = process_threads(); /* every session exists and has run once */
    double t0 = now(), c0 = cpu_seconds();
    pthread_barrier_wait(&go);
    for (int i = 0; i < streams; i++) pthread_join(tid[i], NULL);
    double t = now() - t0, c = cpu_seconds() - c0;
    int images = streams * passes;
    printf("%d streams x threads=%d: %.2f s for %d images, %.2f images/s, %.1f ms CPU per image, %d threads\n",
           streams, session_threads, t, images, images / t, 1e3 * c / images, threads);
    resnet_model_free(model);
    return 0;
}
