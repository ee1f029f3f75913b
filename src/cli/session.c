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

/* The converted default: $RESNET_CACHE or $XDG_CACHE_HOME/resnet or ~/.cache/resnet. */
static const char *default_weights(char *buf, size_t n) {
    const char *dir = getenv("RESNET_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (dir && *dir) snprintf(buf, n, "%s/resnet50-v1-caffe.safetensors", dir);
    else if (xdg && *xdg) snprintf(buf, n, "%s/resnet/resnet50-v1-caffe.safetensors", xdg);
    else snprintf(buf, n, "%s/.cache/resnet/resnet50-v1-caffe.safetensors", home && *home ? home : ".");
    return buf;
}

const char *cli_weights_path(const cli_common *c, char *buf, size_t n) {
    const char *path = c->weights;
    if (!path) path = getenv("RESNET_WEIGHTS");
    return path && *path ? path : default_weights(buf, n);
}

resnet_model *cli_load_model(const cli_common *c) {
    char buf[PATH_MAX];
    const char *path = c->weights;
    if (!path) path = getenv("RESNET_WEIGHTS");
    if (!path || !*path) {
        path = default_weights(buf, sizeof buf);
        struct stat sb;
        if (stat(path, &sb) != 0) {
            cli_error("no weight file at %s: run 'resnet fetch' (or 'make weights' in the source tree), "
                      "or pass --weights FILE", path);
            return NULL;
        }
    }
    resnet_load_options opts;
    resnet_load_options_init(&opts);
    opts.kernels = c->kernels;
    opts.direct = c->direct;
    opts.labels = c->labels;
    opts.input_size = c->size;
    opts.output_stride = c->output_stride;
    resnet_model *m = NULL;
    resnet_error err;
    if (resnet_model_load(path, &opts, &m, &err) != RESNET_OK) {
        cli_error("%s", err.message);
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
