/* common.c - flag parsing, weight-path resolution and error printing for the CLI. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

/* One line on stderr: "resnet: <message><tail>\n". */
static void print_error(const char *tail, const char *fmt, va_list ap) {
    fputs("resnet: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(tail, stderr);
}

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    print_error("\n", fmt, ap);
    va_end(ap);
    return 1;
}

int cli_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    print_error(" (see resnet --help)\n", fmt, ap);
    va_end(ap);
    return 2;
}

int cli_parse_int(const char *flag, const char *s, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || end == s || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
        cli_usage_error("%s needs a whole number from %d to %d, got '%s'", flag, lo, hi, s ? s : "");
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_parse_tta(const char *s, resnet_tta *out) {
    int t = resnet_tta_parse(s);
    if (t < 0) {
        cli_usage_error("--tta must be none, flip, 10crop or multiscale, got '%s'", s ? s : "");
        return -1;
    }
    *out = (resnet_tta)t;
    return 0;
}

int cli_common_flag(cli_common *c, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (strcmp(a, "--weights") == 0) {
        if (!v) return cli_usage_error("--weights needs a file"), -1;
        c->weights = v;
    } else if (strcmp(a, "--threads") == 0) {
        if (cli_parse_int("--threads", v, 0, 256, &c->threads) != 0) return -1;
    } else if (strcmp(a, "--kernels") == 0) {
        int k = resnet_kernels_parse(v);
        if (k < 0) return cli_usage_error("--kernels must be auto, c, avx2 or avx512, got '%s'", v ? v : ""), -1;
        c->kernels = (resnet_kernels)k;
    } else if (strcmp(a, "--direct") == 0) {
        c->direct = 1;
        return 1;
    } else if (strcmp(a, "--force") == 0) {
        c->force = 1;
        return 1;
    } else {
        return 0;
    }
    (*i)++;
    return 1;
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

int cli_check_output(const char *out, rn_file_kind kind, const cli_common *c, char *const *photos, int n,
                     const char *const *extra, int n_extra) {
    char buf[PATH_MAX];
    rn_file_id *ids = malloc(((size_t)n + (size_t)n_extra + 1) * sizeof *ids);
    if (!ids) return cli_error("out of memory");
    size_t k = 0;
    for (int i = 0; i < n; i++) k += (size_t)rn_file_id_of(photos[i], &ids[k]);
    for (int i = 0; i < n_extra; i++) k += (size_t)rn_file_id_of(extra[i], &ids[k]);
    if (c) k += (size_t)rn_file_id_of(cli_weights_path(c, buf, sizeof buf), &ids[k]);
    resnet_error err;
    resnet_status s = rn_output_check(out, kind, c && c->force, ids, k, &err);
    free(ids);
    return s == RESNET_OK ? 0 : cli_error("%s", err.message);
}

void cli_catch_signals(void) { rn_atomic_catch_signals(); }

resnet_model *cli_load_model(const cli_common *c) {
    char buf[PATH_MAX];
    const char *path = c->weights;
    if (!path) path = getenv("RESNET_WEIGHTS");
    if (!path || !*path) {
        path = default_weights(buf, sizeof buf);
        struct stat sb;
        if (stat(path, &sb) != 0) {
            cli_error("no weight file at %s: run 'make weights' (tools/fetch-weights.sh) or pass --weights FILE",
                      path);
            return NULL;
        }
    }
    resnet_load_options opts = {c->kernels, c->direct};
    resnet_model *m = NULL;
    resnet_error err;
    if (resnet_model_load(path, &opts, &m, &err) != RESNET_OK) {
        cli_error("%s", err.message);
        return NULL;
    }
    return m;
}

void cli_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}
