/* api.c - the small public helpers around the network: status strings, softmax,
 * top-k. The one-call classify is in tta.c: a plain pass is its mode `none`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "io/safetensors.h"
#include "io/atomic.h"
#include "io/fileio.h"
#include "io/json.h"
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

/* Class i's logit averaged over the views (rows of n): what orders classes whose averaged
 * probabilities are equal, as they are wherever the softmax underflowed to 0. */
static double mean_logit(const float *logits, int views, int n, int i) {
    double s = 0;
    for (int v = 0; v < views; v++) s += logits[(size_t)v * (size_t)n + (size_t)i];
    return s / views;
}

/* -1, 0 or 1 as a ranks below, with or above b; NaN ranks below every number (a NaN compares
 * false both ways, so `>` alone let one that came first keep the top), equal to NaN. */
static int rank(double a, double b) {
    if (a != a || b != b) return (b != b) - (a != a);
    return (a > b) - (a < b);
}

void resnet_top_k_logits(const float *probs, const float *logits, int views, int n, int k, resnet_prediction *top) {
    if (k > n) k = n;
    if (views < 1) logits = NULL;
    int filled = 0;
    for (int i = 0; i < n; i++) {
        /* insertion into the sorted list of the best so far; strictly above keeps the lower
         * index first */
        int pos = filled;
        while (pos > 0) {
            const resnet_prediction *t = &top[pos - 1];
            const int r = rank(probs[i], t->prob);
            const int above = r != 0 ? r > 0
                                     : logits && rank(mean_logit(logits, views, n, i),
                                                      mean_logit(logits, views, n, t->index)) > 0;
            if (!above) break;
            pos--;
        }
        if (pos >= k) continue;
        int last = filled < k ? filled : k - 1;
        for (int j = last; j > pos; j--) top[j] = top[j - 1];
        top[pos].index = i;
        top[pos].prob = probs[i];
        if (filled < k) filled++;
    }
}

void resnet_top_k(const float *probs, int n, int k, resnet_prediction *top) {
    resnet_top_k_logits(probs, NULL, 0, n, k, top);
}

/* The plain pass's view (resize 256 at 224: int(size * 256 / 224) at the model's size). */
static const resnet_view plain_view = {256, RESNET_CROP_CENTER, 0};

resnet_status resnet_model_preprocess_file(const resnet_model *m, const char *path, unsigned flags,
                                           const resnet_view *views, int n, float *out, resnet_error *err) {
    if (!m || !path || !out) return rn_fail(err, RESNET_E_ARG, "resnet_model_preprocess_file: NULL argument");
    if (!views) views = &plain_view, n = 1;
    return rn_preprocess_views_file_ex(path, resnet_model_norm(m), flags, resnet_model_input_size(m), views, n, out,
                                       err);
}

resnet_status resnet_model_preprocess_memory(const resnet_model *m, const void *data, size_t size, const char *name,
                                             unsigned flags, const resnet_view *views, int n, float *out,
                                             resnet_error *err) {
    if (!m || !data || !out) return rn_fail(err, RESNET_E_ARG, "resnet_model_preprocess_memory: NULL argument");
    if (!views) views = &plain_view, n = 1;
    return rn_preprocess_views_memory_ex(data, size, name, resnet_model_norm(m), flags, resnet_model_input_size(m),
                                         views, n, out, err);
}

resnet_status resnet_model_preprocess_image(const resnet_model *m, const resnet_image *img, float *out,
                                            resnet_error *err) {
    if (!m || !out) return rn_fail(err, RESNET_E_ARG, "resnet_model_preprocess_image: NULL argument");
    return rn_preprocess_image_at(img, resnet_model_norm(m), resnet_model_input_size(m), out, err);
}

resnet_status resnet_model_cam_heatmap(const resnet_model *m, const float *map, int width, int height, float *heat,
                                       resnet_error *err) {
    if (!m) return rn_fail(err, RESNET_E_ARG, "resnet_model_cam_heatmap: NULL model");
    int mh, mw;
    resnet_model_map_size(m, &mh, &mw);
    return rn_cam_heatmap_at(map, mh, mw, resnet_model_input_size(m), width, height, heat, err);
}

resnet_status resnet_model_preprocess_image_views(const resnet_model *m, const resnet_image *img,
                                                  const resnet_view *views, int n, float *out, resnet_error *err) {
    if (!m || !img || !out) return rn_fail(err, RESNET_E_ARG, "resnet_model_preprocess_image_views: NULL argument");
    if (!views) views = &plain_view, n = 1;
    return rn_preprocess_image_views(img, resnet_model_norm(m), resnet_model_input_size(m), views, n, out, err);
}

/* The names as a JSON array of strings (what the "labels" metadata holds). */
static char *labels_json(const resnet_model *m) {
    const int n = resnet_model_classes(m);
    const char **names = malloc((size_t)(n > 0 ? n : 1) * sizeof *names);
    if (!names) return NULL;
    for (int i = 0; i < n; i++) names[i] = resnet_model_class_name(m, i);
    char *j = rn_json_string_array(names, (size_t)n);
    free(names);
    return j;
}

resnet_status resnet_label_file(const char *in, const char *labels, const char *out, resnet_error *err) {
    if (!in || !labels || !out) return rn_fail(err, RESNET_E_ARG, "resnet_label_file: NULL argument");
    /* out may be in itself (its labels replaced in place), never the names it is made from */
    if (rn_same_file(labels, out))
        return rn_fail(err, RESNET_E_ARG, "%s is the labels file being read; refusing to overwrite it", out);
    /* loaded with the names: checks the file is a network and the names fit its classes */
    resnet_load_options o;
    resnet_load_options_init(&o);
    o.labels = labels;
    o.kernels = RESNET_KERNELS_C;
    o.direct = 1;
    resnet_model *m = NULL;
    resnet_status s = resnet_model_load(in, &o, &m, err);
    if (s != RESNET_OK) return s;
    /* metadata is UTF-8: a name that is not was refused by the writer as the output's bad
     * metadata, naming the wrong file; the names file is the one to fix */
    for (int i = 0; i < resnet_model_classes(m); i++) {
        const char *name = resnet_model_class_name(m, i);
        if (!rn_utf8_valid(name, strlen(name))) {
            resnet_model_free(m);
            return rn_fail(err, RESNET_E_ARG, "%s: name %d (line %d) is not UTF-8 text", labels, i, i + 1);
        }
    }
    char *json = labels_json(m);
    resnet_model_free(m);
    if (!json) return rn_fail(err, RESNET_E_NOMEM, "out of memory");
    rn_safetensors *st = NULL;
    if ((s = rn_st_open(in, &st, err)) != RESNET_OK) {
        free(json);
        return s;
    }
    const char *our_key = "labels", **keys, **vals;
    const char *our_val = json;
    size_t nm;
    s = rn_st_metadata_merge(st, &our_key, &our_val, 1, &keys, &vals, &nm) ? rn_st_copy(st, out, keys, vals, nm, err)
                                                                            : rn_fail(err, RESNET_E_NOMEM, "out of memory");
    free(keys);
    free(vals);
    rn_st_close(st);
    free(json);
    return s;
}
