/* exec.h - what every operator needs to run: the kernel family, the worker pool,
 * and one scratch buffer per worker (internal). */
#ifndef RN_EXEC_H
#define RN_EXEC_H

#include "kernels/kernels.h"
#include "runtime/threadpool.h"

typedef struct rn_exec {
    const rn_kernel_config *kc;
    rn_pool *pool;
    float **scratch; /* one per pool thread, rn_conv_scratch_floats() each */
} rn_exec;

#endif
