/* features.h - what the forward pass needs beyond logits: class activation maps (internal). */
#ifndef RN_FEATURES_H
#define RN_FEATURES_H

#include "ops/conv.h"

/* Class activation maps of n feature maps fmap (n x hw x fc->cin, NHWC) into
 * out (n x fc->cout x hw, class-major): out[i][c][p] = sum_k W[c][k] * fmap[i][p][k].
 * scratch holds n * hw * fc->n_padded floats; qrows, an int8 fc's quantized rows
 * (rn_qdense_scratch_bytes for n * hw rows). */
void rn_class_maps(const rn_exec *ex, const rn_conv *fc, const float *fmap, int n, int hw, float *scratch,
                   void *qrows, float *out);

#endif
