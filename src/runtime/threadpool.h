/* threadpool.h - a persistent pool of worker threads (internal).
 * rn_pool_run() runs tasks 0..ntasks-1 on the workers and the calling thread, thread i
 * taking the i-th contiguous share first and then stealing what is left of the others' (so
 * that jobs cut alike keep their data on one core), and returns when all are done. Several threads may
 * call rn_pool_run() on one pool at once (sessions sharing their model's pool): one job
 * runs on the pool at a time, and a caller that finds it busy runs its tasks alone. In a
 * process forked from the pool's, where its workers do not exist, every job runs on the caller. */
#ifndef RN_THREADPOOL_H
#define RN_THREADPOOL_H

#include <stddef.h>

typedef struct rn_pool rn_pool;
typedef void (*rn_task_fn)(void *ctx, int task, int thread);

/* nthreads counts the caller: 1 means no extra threads. NULL on failure. */
rn_pool *rn_pool_create(int nthreads);
void rn_pool_free(rn_pool *p);
/* The pool size when the caller gives none: the online cores, 1 to 64, no more than the
 * process's affinity allows nor its cgroup v2 CPU quota (cpu.max), rounded up. */
int rn_default_threads(void);
/* The CPUs a cgroup v2 cpu.max file's text allows, quota / period rounded up ("150000 100000":
 * 2); 0 for no limit: "max ...", or text that is not two positive whole numbers. */
int rn_cpu_max_parse(const char *text);
/* The cgroup v2 path ("/system.slice/x.service") in /proc/self/cgroup's text (its "0::/path"
 * line), copied into out (n bytes); NULL if there is none or it does not fit. */
const char *rn_cgroup_v2_path(const char *text, char *out, size_t n);
int rn_pool_size(const rn_pool *p);
/* The threads a job started now would run on: the size less the other callers inside a
 * forward pass (rn_pool_enter), at least 1. What a driver plans its tasks for; a pool found
 * taken by another caller's job still runs the tasks on the caller alone. */
int rn_pool_threads(const rn_pool *p);
/* p NULL: no pool, the caller runs every task itself (thread 0), and rn_pool_threads is 1: the
 * layers of an image that a worker runs alone (model/resnet50.c, images side by side). */
/* Runs fn(ctx, t, thread) for t in [0, ntasks); thread is in [0, size) (always 0 when the
 * pool was busy with another caller's job, or is NULL). */
void rn_pool_run(rn_pool *p, int ntasks, rn_task_fn fn, void *ctx);
/* Brackets a caller's series of jobs (a forward pass). A job gets the pool's threads less
 * the callers inside such brackets, so callers plus helpers never exceed the pool's size.
 * Calls outside a bracket count as one caller. */
void rn_pool_enter(rn_pool *p);
void rn_pool_leave(rn_pool *p);

#endif
