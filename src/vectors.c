/* vectors.c - small helpers for using the pooled features as embeddings. */
#include <math.h>

#include "common.h"

void resnet_l2_normalize(float *v, int n) { rn_l2_normalize(v, n); }

float resnet_cosine(const float *a, const float *b, int n) {
    if (!a || !b || n <= 0) return 0.0f;
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? (float)(ab / sqrt(aa * bb)) : 0.0f;
}
