/* api.c - the small public helpers around the network: status strings, softmax,
 * top-k, and the one-call classify. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

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

int rn_default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

void resnet_softmax(const float *logits, int n, float *probs) {
    if (n <= 0) return;
    float mx = logits[0];
    for (int i = 1; i < n; i++) mx = logits[i] > mx ? logits[i] : mx;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        probs[i] = expf(logits[i] - mx); /* shifted so the largest is exp(0): no overflow */
        sum += probs[i];
    }
    for (int i = 0; i < n; i++) probs[i] = (float)(probs[i] / sum);
}

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

resnet_status resnet_classify_file(resnet_session *s, const char *path, int k, resnet_prediction *top,
                                   resnet_error *err) {
    if (!s || !path || !top) return rn_fail(err, RESNET_E_ARG, "resnet_classify_file: NULL argument");
    if (k < 1 || k > RESNET_NUM_CLASSES)
        return rn_fail(err, RESNET_E_ARG, "top-k must be between 1 and %d, got %d", RESNET_NUM_CLASSES, k);
    const size_t in_floats = (size_t)3 * RESNET_INPUT_SIZE * RESNET_INPUT_SIZE;
    float *input = malloc(in_floats * sizeof(float));
    float *probs = malloc(RESNET_NUM_CLASSES * sizeof(float));
    resnet_status st = RESNET_E_NOMEM;
    if (!input || !probs) {
        rn_fail(err, st, "%s: out of memory", path);
        goto done;
    }
    st = rn_preprocess_file_ex(path, resnet_model_norm(resnet_session_model(s)), rn_session_image_flags(s), input, err);
    if (st == RESNET_OK) st = resnet_forward(s, input, 1, probs, NULL, err);
    const char *bad = st == RESNET_OK ? rn_logits_problem(probs, 1) : NULL;
    if (bad) st = rn_fail(err, RESNET_E_WEIGHTS, "%s: %s", path, bad);
    if (st == RESNET_OK) {
        resnet_softmax(probs, RESNET_NUM_CLASSES, probs);
        resnet_top_k(probs, RESNET_NUM_CLASSES, k, top);
    }
done:
    free(input);
    free(probs);
    return st;
}
