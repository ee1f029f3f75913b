/* api.c - the small public helpers around the network: status strings, softmax,
 * top-k. The one-call classify is in tta.c: a plain pass is its mode `none`. */
#include <math.h>
#include <stdlib.h>

#include "common.h"
#include "image/image.h"

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

/* The plain pass's view at the model's input size (resize int(size * 256 / 224), centre crop). */
static const resnet_view plain_view = {256, RESNET_CROP_CENTER, 0};

resnet_status resnet_model_preprocess_file(const resnet_model *m, const char *path, unsigned flags, float *out,
                                           resnet_error *err) {
    if (!m || !path || !out) return rn_fail(err, RESNET_E_ARG, "resnet_model_preprocess_file: NULL argument");
    return rn_preprocess_views_file_ex(path, resnet_model_norm(m), flags, resnet_model_input_size(m), &plain_view, 1,
                                       out, err);
}

resnet_status resnet_model_preprocess_memory(const resnet_model *m, const void *data, size_t size, const char *name,
                                             unsigned flags, float *out, resnet_error *err) {
    if (!m || !data || !out) return rn_fail(err, RESNET_E_ARG, "resnet_model_preprocess_memory: NULL argument");
    return rn_preprocess_views_memory_ex(data, size, name, resnet_model_norm(m), flags, resnet_model_input_size(m),
                                         &plain_view, 1, out, err);
}
