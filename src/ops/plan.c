/* plan.c - the one place that cuts a convolution's work into tasks (plan.h). */
#include "ops/plan.h"

rn_plan rn_plan_make(int rows, int most_rows, int mr, int panels, int threads, int flags) {
    rn_plan p = {.rows = rows, .mr = mr, .panels = panels, .n_split = 1};
    p.tiles = (rows + mr - 1) / mr;
    const int per_block = most_rows / mr;
    p.blocks = (p.tiles + per_block - 1) / per_block;
    /* A Winograd block's transformed input V is written by the threads that transform it and
     * read by every thread that multiplies it. Split by panels (one block: 49 tiles, ResNet-50's
     * layer2 and layer3 at batch 1; winograd.c splits fp32's layer3 by positions), each thread
     * reads the half the other wrote, and writes lines the other holds: when the two cores
     * share no L3 (a VM's vCPUs, now and then) that cost those layers 1.5x their time (Zen 4,
     * 2 threads). Split by rows, each thread transforms and multiplies its own tiles; each
     * streams all the weights instead of half. */
    if ((flags & RN_PLAN_ROWS_FIRST) && p.blocks < threads && p.tiles >= threads) p.blocks = threads;
    if (flags & RN_PLAN_SMALL_BLOCKS) { /* about 4 blocks a thread, at most half as many as tiles */
        const int most = p.tiles / 2 < 4 * threads ? p.tiles / 2 : 4 * threads;
        if (p.blocks < most) p.blocks = most;
    }
    /* Each thread owns an equal share of the tasks (threadpool.c), so a count of blocks that
     * the threads do not divide leaves one thread a block more than the other at the end: 14
     * blocks at 2 threads is 7 each, 13 is 7 against 6 and the layer waits for the 7th. */
    if (threads > 1 && p.blocks >= threads && p.blocks % threads) {
        const int up = (p.blocks + threads - 1) / threads * threads;
        if (up <= p.tiles) p.blocks = up;
    }
    p.block = (p.tiles + p.blocks - 1) / p.blocks * mr;
    const int want = 4 * threads;
    while (!(flags & RN_PLAN_WHOLE_ROWS) && p.blocks * p.n_split < want && p.n_split * 2 <= panels) p.n_split *= 2;
    p.tasks = p.blocks * p.n_split;
    return p;
}

void rn_plan_block(const rn_plan *p, int b, int *r0, int *count) {
    /* block b holds tiles [b * tiles / blocks, (b + 1) * tiles / blocks): sizes differ by one
     * tile at most */
    const int t0 = (int)((long)p->tiles * b / p->blocks), t1 = (int)((long)p->tiles * (b + 1) / p->blocks);
    const int end = t1 * p->mr < p->rows ? t1 * p->mr : p->rows;
    *r0 = t0 * p->mr;
    *count = end - *r0;
}

void rn_plan_task(const rn_plan *p, int task, int *r0, int *count, int *p0, int *p1) {
    const int mt = task / p->n_split, nt = task % p->n_split;
    rn_plan_block(p, mt, r0, count);
    *p0 = (int)((long)p->panels * nt / p->n_split);
    *p1 = (int)((long)p->panels * (nt + 1) / p->n_split);
}
