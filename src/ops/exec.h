/* exec.h - what every operator needs to run: the kernel family, the worker pool,
 * one scratch buffer per worker and one work buffer they share (internal). */
#ifndef RN_EXEC_H
#define RN_EXEC_H

#include <stdint.h>
#include <string.h>

#include "kernels/kernels.h"
#include "runtime/threadpool.h"

typedef struct rn_exec {
    const rn_kernel_config *kc;
    rn_pool *pool;   /* NULL: the calling thread alone */
    float **scratch; /* one per pool thread, rn_conv_scratch_floats() each */
    float *work;     /* shared by the threads of one call: rn_conv_work_floats() for its shape */
} rn_exec;

/* v (already in u8 units: real / scale + zero) clamped to 0..255, then rounded half to even
 * by adding and taking away 1.5 * 2^23 (nearbyintf is a libm call per value without SSE4.1):
 * the one rounding of the ops that quantize floats (the max pool, the int8 stem's input).
 * The clamp compares the float's bits as an integer (positive floats order as their bits, a
 * negative one's are negative; 0x437f0000 is 255.0f): integer selects, which a loop of these
 * vectorises at -O2 where float comparisons would not (they may trap). A NaN becomes 0 or
 * 255. Returned as an int so that such a loop needs one vector width. */
static inline int32_t rn_quantize_u8_int(float v) {
    int32_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits = bits > 0 ? bits : 0;
    bits = bits < 0x437f0000 ? bits : 0x437f0000;
    memcpy(&v, &bits, sizeof v);
    return (int32_t)((v + 12582912.0f) - 12582912.0f);
}

static inline uint8_t rn_quantize_u8(float v) { return (uint8_t)rn_quantize_u8_int(v); }

#endif
