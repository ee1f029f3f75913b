/* exec.h - what every operator needs to run: the kernel family, the worker pool,
 * one scratch buffer per worker and one work buffer they share (internal). */
#ifndef RN_EXEC_H
#define RN_EXEC_H

#include <stdint.h>

#include "kernels/kernels.h"
#include "runtime/threadpool.h"

typedef struct rn_exec {
    const rn_kernel_config *kc;
    rn_pool *pool;
    float **scratch; /* one per pool thread, rn_conv_scratch_floats() each */
    float *work;     /* shared by the threads of one call: rn_conv_work_floats() for its shape */
} rn_exec;

/* v (already in u8 units: real / scale + zero) clamped to 0..255, then rounded half to even
 * by adding and taking away 1.5 * 2^23 (nearbyintf is a libm call per value without SSE4.1):
 * the one rounding of the ops that quantize floats (the max pool, the int8 stem's input). */
static inline uint8_t rn_quantize_u8(float v) {
    v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
    return (uint8_t)((v + 12582912.0f) - 12582912.0f);
}

#endif
