/* exec.h - what every operator needs to run: the kernel family, the worker pool,
 * one scratch buffer per worker and one work buffer they share (internal). */
#ifndef RN_EXEC_H
#define RN_EXEC_H

#include <stdint.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/qkernels.h" /* rn_quantize_u8 */
#include "runtime/threadpool.h"

typedef struct rn_exec {
    const rn_kernel_config *kc;
    rn_pool *pool;   /* NULL: the calling thread alone */
    float **scratch; /* one per pool thread, rn_conv_scratch_floats() each */
    float *work;     /* shared by the threads of one call: rn_conv_work_floats() for its shape */
} rn_exec;

#endif
