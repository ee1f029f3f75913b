/* tta.c - test-time augmentation: the views of each mode, averaging their softmax, and the
 * one-call classify. The views themselves are made in image/views.c. */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "image/image.h"

#define C RESNET_CROP_CENTER

typedef struct tta_mode {
    const char *name;
    int n;
    resnet_view views[RESNET_TTA_MAX_VIEWS];
} tta_mode;

/* Indexed by resnet_tta. The first view of each is the plain pass, so a mode's views always
 * include what `none` sees. The scales of multiscale were chosen on half of val1300 and checked
 * on the other half (docs/performance.md, "Test-time augmentation"); 10crop is the classic AlexNet/torchvision TenCrop. */
static const tta_mode modes[] = {
    {"none", 1, {{256, C, 0}}},
    {"flip", 2, {{256, C, 0}, {256, C, 1}}},
    {"10crop", 10, {{256, C, 0}, {256, RESNET_CROP_TOP_LEFT, 0}, {256, RESNET_CROP_TOP_RIGHT, 0},
                    {256, RESNET_CROP_BOTTOM_LEFT, 0}, {256, RESNET_CROP_BOTTOM_RIGHT, 0},
                    {256, C, 1}, {256, RESNET_CROP_TOP_LEFT, 1}, {256, RESNET_CROP_TOP_RIGHT, 1},
                    {256, RESNET_CROP_BOTTOM_LEFT, 1}, {256, RESNET_CROP_BOTTOM_RIGHT, 1}}},
    {"multiscale", 6, {{256, C, 0}, {224, C, 0}, {320, C, 0}, {256, C, 1}, {224, C, 1}, {320, C, 1}}},
};
#define NMODES ((int)(sizeof modes / sizeof modes[0]))

const char *resnet_tta_name(resnet_tta mode) {
    return (int)mode >= 0 && (int)mode < NMODES ? modes[mode].name : NULL;
}

int resnet_tta_parse(const char *name) {
    for (int i = 0; name && i < NMODES; i++)
        if (strcmp(name, modes[i].name) == 0) return i;
    return -1;
}

int resnet_tta_views(resnet_tta mode, resnet_view *views) {
    if ((int)mode < 0 || (int)mode >= NMODES) return 0;
    if (views) memcpy(views, modes[mode].views, (size_t)modes[mode].n * sizeof *views);
    return modes[mode].n;
}

void resnet_tta_average(const float *logits, int n, float *probs) {
    rn_tta_average(logits, n, RESNET_NUM_CLASSES, probs);
}

void resnet_tta_average_n(const float *logits, int n, int classes, float *probs) {
    rn_tta_average(logits, n, classes, probs);
}

void rn_tta_average(const float *logits, int n, int classes, float *probs) {
    if (n < 1 || classes < 1 || !logits || !probs) return;
    if (n == 1) { /* the softmax itself, bit for bit (may be in place) */
        resnet_softmax(logits, classes, probs);
        return;
    }
    /* Accumulated apart from probs, which may alias the first row. */
    double *sum = calloc((size_t)classes, sizeof *sum);
    float *p = malloc((size_t)classes * sizeof *p);
    if (sum && p) {
        for (int v = 0; v < n; v++) {
            resnet_softmax(logits + (size_t)v * classes, classes, p);
            for (int i = 0; i < classes; i++) sum[i] += p[i];
        }
        for (int i = 0; i < classes; i++) probs[i] = (float)(sum[i] / n);
    } else { /* no memory for the sums: the first view alone, rather than nothing */
        resnet_softmax(logits, classes, probs);
    }
    free(sum);
    free(p);
}

resnet_status resnet_classify_file_tta(resnet_session *s, const char *path, resnet_tta mode, int k,
                                       resnet_prediction *top, resnet_error *err) {
    if (!s || !path || !top) return rn_fail(err, RESNET_E_ARG, "resnet_classify_file_tta: NULL argument");
    const resnet_model *m = resnet_session_model(s);
    const int classes = resnet_model_classes(m), crop = resnet_model_input_size(m);
    if (classes == 0) return rn_fail(err, RESNET_E_UNSUPPORTED, RN_BACKBONE_MSG "classes");
    if (k < 1 || k > classes) return rn_fail(err, RESNET_E_ARG, "top-k must be between 1 and %d, got %d", classes, k);
    resnet_view views[RESNET_TTA_MAX_VIEWS];
    const int n = resnet_tta_views(mode, views);
    if (n == 0) return rn_fail(err, RESNET_E_ARG, "unknown test-time augmentation mode %d", (int)mode);
    /* checked before the photo is decoded, and said in the caller's terms: resnet_forward's own
     * refusal named neither the photo nor the mode ("resnet_forward: batch of 10, session allows 1..2") */
    if (n > resnet_session_max_batch(s))
        return rn_fail(err, RESNET_E_ARG, "%s: test-time augmentation %s has %d views, but the session's batches hold %d",
                       path, resnet_tta_name(mode), n, resnet_session_max_batch(s));
    const size_t in_floats = (size_t)3 * crop * crop;
    float *input = malloc((size_t)n * in_floats * sizeof(float));
    float *logits = malloc((size_t)n * classes * sizeof(float));
    float *probs = malloc((size_t)classes * sizeof(float));
    resnet_status st = RESNET_E_NOMEM;
    if (!input || !logits || !probs) {
        rn_fail(err, st, "%s: out of memory", path);
        goto done;
    }
    st = rn_preprocess_views_file_ex(path, resnet_model_norm(m), rn_session_image_flags(s), crop, views, n, input, err);
    /* One batch: the views share every weight load (resnet_forward checks max_batch). */
    if (st == RESNET_OK) st = resnet_forward(s, input, n, logits, NULL, err);
    const char *bad = st == RESNET_OK ? rn_logits_problem(logits, n, classes) : NULL;
    if (bad) st = rn_fail(err, RESNET_E_WEIGHTS, "%s: %s", path, bad);
    if (st == RESNET_OK) {
        rn_tta_average(logits, n, classes, probs);
        resnet_top_k_logits(probs, logits, n, classes, k, top);
    }
done:
    free(input);
    free(logits);
    free(probs);
    return st;
}

/* The plain pass is mode `none` (one view: resize 256, centre crop), whose average over one
 * view is that view's softmax, bit for bit. */
resnet_status resnet_classify_file(resnet_session *s, const char *path, int k, resnet_prediction *top,
                                   resnet_error *err) {
    if (!s || !path || !top) return rn_fail(err, RESNET_E_ARG, "resnet_classify_file: NULL argument");
    return resnet_classify_file_tta(s, path, RESNET_TTA_NONE, k, top, err);
}
