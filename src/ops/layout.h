/* layout.h - the network's input from the public layout (CHW planes per image) to the
 * one the layers use (NHWC), in fp32 or quantized to u8 for an int8 stem (internal). */
#ifndef RN_LAYOUT_H
#define RN_LAYOUT_H

#include <stdint.h>

#include "ops/exec.h"

/* n images of c x h x w floats -> n x h x w x c floats, split by rows across the pool. */
void rn_chw_to_nhwc(const rn_exec *ex, const float *in, int n, int c, int h, int w, float *out);
/* The same, quantized as it goes by the int8 kernel family's quantize (NULL: the portable
 * one): rn_quantize_u8(x / scale + zero), clamped to 0..255 and rounded half to even as the
 * max pool's quantization does. */
void rn_chw_to_nhwc_u8(const rn_exec *ex, rn_quantize_planes_fn quantize, const float *in, int n, int c, int h,
                       int w, float scale, int zero, uint8_t *out);

#endif
