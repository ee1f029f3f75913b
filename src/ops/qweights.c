/* qweights.c - symmetric per-output-channel weight quantization (qweights.h). */
#include "ops/qweights.h"

#include <math.h>

/* Symmetric per output channel, in [-top, top] (qweights.h). */
void rn_quantize_weights(const float *wf, int cout, size_t per, int top, int8_t *q, float *scale) {
    for (int o = 0; o < cout; o++) {
        double most = 0;
        for (size_t i = 0; i < per; i++) most = fmax(most, fabs((double)wf[o * per + i]));
        double sc = most > 0 ? most / top : 1.0; /* an all-zero channel: any positive scale */
        scale[o] = (float)sc;
        for (size_t i = 0; i < per; i++) {
            double v = nearbyint(wf[o * per + i] / sc);
            q[o * per + i] = (int8_t)(v < -top ? -top : v > top ? top : v);
        }
    }
}

