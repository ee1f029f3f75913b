/* plan.h - how a convolution's work is cut into tasks for the pool: rows (output pixels, or
 * Winograd tiles) into blocks of whole micro-kernel tiles, and the NR-column panels into
 * ranges when there are too few row blocks to keep every thread busy. One plan for the
 * direct, Winograd and int8 drivers (internal). */
#ifndef RN_PLAN_H
#define RN_PLAN_H

typedef struct rn_plan {
    int rows;    /* rows to compute */
    int mr;      /* rows per micro-kernel tile */
    int tiles;   /* tiles of mr rows (the last may be short) */
    int block;   /* the most rows a block holds: a multiple of mr, at most the driver's largest */
    int blocks;  /* row blocks */
    int panels;  /* NR-column panels */
    int n_split; /* panel ranges per row block */
    int tasks;   /* blocks x n_split */
} rn_plan;

/* Plans rows in blocks of at most most_rows (a multiple of mr), whole tiles of mr rows each,
 * the blocks' sizes within a tile of one another: every block streams all of B, so 196 rows
 * in 12-row tiles go as 96 + 100, not 120 + 76. With more blocks than threads, their count is
 * a multiple of the threads where the tiles allow. The panels are split in halves until there
 * are about 4 tasks per thread (the 7x7 layers at batch 1 have one or two row blocks).
 * RN_PLAN_ROWS_FIRST: with fewer blocks than threads, as many blocks as threads where the
 * tiles allow, so that each thread's share is rows of its own, not panels of every row (for
 * a driver whose rows carry data the thread made itself: plan.c says when it pays).
 * RN_PLAN_WHOLE_ROWS: no panel ranges, a task is a whole block (for a driver whose task
 * prepares its rows first: a split would prepare them again).
 * RN_PLAN_SMALL_BLOCKS: before the panels are split, the rows are cut into up to 4 blocks a
 * thread, at most half as many blocks as tiles (before the count is rounded to the threads):
 * every block streams all of B again, but fewer tasks prepare rows that another task prepares
 * too (conv.c says where that pays). */
enum { RN_PLAN_ROWS_FIRST = 1, RN_PLAN_WHOLE_ROWS = 2, RN_PLAN_SMALL_BLOCKS = 4 };
rn_plan rn_plan_make(int rows, int most_rows, int mr, int panels, int threads, int flags);

/* Row block b's rows r0..r0+*count. */
void rn_plan_block(const rn_plan *p, int b, int *r0, int *count);

/* Task `task`'s rows r0..r0+*count and panels p0..p1. */
void rn_plan_task(const rn_plan *p, int task, int *r0, int *count, int *p0, int *p1);

#endif
