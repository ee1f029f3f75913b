/* qweights.h - int8 weights from float ones: the one rounding every int8 weight goes through
 * (the quantizer's file, and the stem and fc quantized at load) (internal; a leaf). */
#ifndef RN_QWEIGHTS_H
#define RN_QWEIGHTS_H

#include <stddef.h>
#include <stdint.h>

/* Symmetric per-output-channel quantization of wf[cout][per] (BN folded): q[cout][per] in
 * [-top, top], scale[cout]. RN_QW7 (63): the 7-bit weights every int8 path computes exactly
 * on 8-bit activations; RN_QW8 (127): 8-bit ones, exact everywhere on 7-bit activations. */
enum { RN_QW7 = 63, RN_QW8 = 127 };
void rn_quantize_weights(const float *wf, int cout, size_t per, int top, int8_t *q, float *scale);

#endif
