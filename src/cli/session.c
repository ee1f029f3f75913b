/* session.c - the model and session the network options name: the weight file (--weights,
 * $RESNET_WEIGHTS or the cache default), the kernels, threads and image flags. */
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cli/cli.h"

unsigned long long cli_cache_key(const resnet_model *m, const cli_common *c) {
    unsigned long long fp = resnet_model_fingerprint(m);
    /* Flags 0 keep the plain fingerprint, so existing caches stay valid. */
    return c->image_flags ? fp ^ (0x9e3779b97f4a7c15ull * c->image_flags) : fp;
}

/* --weights, else the library's default ($RESNET_WEIGHTS, else the cache's file); an
 * over-long default comes back empty, and the load then names the problem. */
const char *cli_weights_path(const cli_common *c, char *buf, size_t n) {
    if (c->weights && *c->weights) return c->weights;
    resnet_error err;
    if (resnet_default_weights(buf, n, &err) != RESNET_OK) snprintf(buf, n, "%s", "");
    return buf;
}

resnet_model *cli_try_load_model(const cli_common *c, resnet_error *err) {
    char buf[PATH_MAX];
    const char *path = c->weights;
    if (!path || !*path) {
        if (resnet_default_weights(buf, sizeof buf, err) != RESNET_OK) return NULL;
        path = buf;
        const char *env = getenv("RESNET_WEIGHTS");
        struct stat sb;
        if (!(env && *env) && stat(path, &sb) != 0) { /* the cache's file, never fetched */
            err->status = RESNET_E_IO;
            snprintf(err->message, sizeof err->message,
                     "no weight file at %.400s: run 'resnet fetch' (or 'make weights' in the source tree), "
                     "or pass --weights FILE", path);
            return NULL;
        }
    }
    resnet_load_options opts;
    resnet_load_options_init(&opts);
    opts.kernels = c->kernels;
    opts.direct = c->direct;
    opts.wide_winograd = c->wide_winograd;
    opts.labels = c->labels;
    opts.input_size = c->size;
    opts.output_stride = c->output_stride;
    opts.precision = c->precision;
    resnet_model *m = NULL;
    if (resnet_model_load(path, &opts, &m, err) != RESNET_OK) return NULL;
    /* int8 and bf16 files hold their precision's weights: fp32 asked of one would be a quiet
     * no (the library's fp32 means "as the file says") */
    if (c->precision_set && c->precision == RESNET_PRECISION_FP32 && resnet_model_precision(m) != RESNET_PRECISION_FP32) {
        const char *was = resnet_model_precision(m) == RESNET_PRECISION_INT8 ? "an int8" : "a bf16";
        err->status = RESNET_E_ARG;
        snprintf(err->message, sizeof err->message, "%.400s: is %s file: --precision fp32 runs fp32 files only", path, was);
        resnet_model_free(m);
        return NULL;
    }
    return m;
}

resnet_model *cli_load_model(const cli_common *c) {
    resnet_error err;
    resnet_model *m = cli_try_load_model(c, &err);
    if (!m) cli_error("%s", err.message);
    return m;
}

resnet_model *cli_load_classifier(const cli_common *c, const char *command) {
    resnet_model *m = cli_load_model(c);
    if (m && resnet_model_classes(m) == 0) {
        char buf[PATH_MAX];
        cli_error("%s: is a backbone (no fc): %s needs a classifier; embed, similar and train-head take a backbone",
                  cli_weights_path(c, buf, sizeof buf), command);
        resnet_model_free(m);
        return NULL;
    }
    return m;
}

resnet_session *cli_session(const resnet_model *m, const cli_common *c, int max_batch) {
    resnet_session *s = NULL;
    resnet_error err;
    if (resnet_session_create(m, c->threads, max_batch, &s, &err) != RESNET_OK) {
        cli_error("%s", err.message);
        return NULL;
    }
    resnet_session_set_image_flags(s, c->image_flags);
    return s;
}
