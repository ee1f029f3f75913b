/* api.c - the small public helpers around the network: status strings, softmax,
 * top-k. The one-call classify is in tta.c: a plain pass is its mode `none`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

const char *resnet_status_str(resnet_status s) {
    switch (s) {
    case RESNET_OK: return "ok";
    case RESNET_E_ARG: return "bad argument";
    case RESNET_E_IO: return "i/o error";
    case RESNET_E_WEIGHTS: return "bad weight file";
    case RESNET_E_IMAGE: return "bad image";
    case RESNET_E_NOMEM: return "out of memory";
    case RESNET_E_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

int resnet_version(const char **str) {
    if (str) *str = RESNET_VERSION;
    return RESNET_VERSION_NUMBER;
}

resnet_status resnet_default_weights(char *buf, size_t n, resnet_error *err) {
    static const char name[] = "resnet50-v1-caffe.safetensors";
    const char *env = getenv("RESNET_WEIGHTS"), *dir = getenv("RESNET_CACHE");
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int len;
    if (!buf || n == 0) return rn_fail(err, RESNET_E_ARG, "resnet_default_weights: no buffer");
    if (env && *env) len = snprintf(buf, n, "%s", env);
    else if (dir && *dir) len = snprintf(buf, n, "%s/%s", dir, name);
    else if (xdg && *xdg) len = snprintf(buf, n, "%s/resnet/%s", xdg, name);
    else len = snprintf(buf, n, "%s/.cache/resnet/%s", home && *home ? home : ".", name);
    if (len < 0 || (size_t)len >= n) {
        buf[0] = '\0';
        return rn_fail(err, RESNET_E_ARG, "the default weight path is longer than %zu bytes", n - 1);
    }
    return RESNET_OK;
}

void resnet_softmax(const float *logits, int n, float *probs) { rn_softmax(logits, n, probs); }

void resnet_top_k(const float *probs, int n, int k, resnet_prediction *top) {
    if (k > n) k = n;
    int filled = 0;
    for (int i = 0; i < n; i++) {
        /* insertion into the sorted list of the best so far; strict > keeps the lower index first */
        int pos = filled;
        while (pos > 0 && probs[i] > top[pos - 1].prob) pos--;
        if (pos >= k) continue;
        int last = filled < k ? filled : k - 1;
        for (int j = last; j > pos; j--) top[j] = top[j - 1];
        top[pos].index = i;
        top[pos].prob = probs[i];
        if (filled < k) filled++;
    }
}
