/* plan.c - the one place that cuts a convolution's work into tasks (plan.h). */
#include "ops/plan.h"

rn_plan rn_plan_make(int rows, int most_rows, int mr, int panels, int threads) {
    rn_plan p = {.rows = rows, .panels = panels, .n_split = 1};
    const int want_blocks = (rows + most_rows - 1) / most_rows;
    p.block = ((rows + want_blocks - 1) / want_blocks + mr - 1) / mr * mr;
    if (p.block > most_rows) p.block = most_rows;
    p.blocks = (rows + p.block - 1) / p.block;
    const int want = 4 * threads;
    while (p.blocks * p.n_split < want && p.n_split * 2 <= panels) p.n_split *= 2;
    p.tasks = p.blocks * p.n_split;
    return p;
}

void rn_plan_task(const rn_plan *p, int task, int *r0, int *count, int *p0, int *p1) {
    const int mt = task / p->n_split, nt = task % p->n_split;
    *r0 = mt * p->block;
    *count = p->rows - *r0 < p->block ? p->rows - *r0 : p->block;
    *p0 = (int)((long)p->panels * nt / p->n_split);
    *p1 = (int)((long)p->panels * (nt + 1) / p->n_split);
}
