/* quantize.c - `resnet quantize PHOTO|DIR... -o OUT`: post-training static quantization.
 * Runs the fp32 network over the calibration photos (walked as `classify DIR` does, decoded
 * beside the network by resnet_run_files) with the calibration's observer on the session,
 * then writes the int8 file (model/quantize.c; its layout is in model/weights.c). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/features.h"
#include "model/quantize.h"

#define BATCH 4

typedef struct calib_run {
    int done, ok;
    cli_progress bar;
} calib_run;

static int on_photo(void *vctx, const resnet_file_result *r) {
    calib_run *x = vctx;
    x->done++;
    if (r->status != RESNET_OK) {
        cli_progress_clear(&x->bar);
        cli_error("%s", r->message);
    } else {
        x->ok++;
    }
    cli_progress_update(&x->bar, x->done);
    return 0;
}

static int cmp_path(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* 1 if a and b name the same existing file. */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int cmd_quantize(int argc, char **argv) {
    cli_common common = {.kernels = RESNET_KERNELS_AUTO};
    const char *out = NULL;
    int limit = 0, method = RN_CALIB_MSE, nargs = 0;
    char **args = calloc((size_t)argc, sizeof *args);
    if (!args) return cli_error("out of memory");
    for (int i = 1; i < argc; i++) {
        int r = cli_common_flag(&common, argc, argv, &i);
        if (r < 0) { free(args); return 2; }
        if (r > 0) continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
            if (!v) { free(args); return cli_usage_error("quantize: %s needs a file", argv[i]); }
            out = v;
        } else if (strcmp(argv[i], "--limit") == 0) {
            if (cli_parse_int("--limit", v, 1, INT_MAX, &limit)) { free(args); return 2; }
        } else if (strcmp(argv[i], "--method") == 0) {
            if ((method = rn_calib_method_parse(v)) < 0) {
                free(args);
                return cli_usage_error("--method must be mse, minmax or percentile, got '%s'", v ? v : "");
            }
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            free(args);
            return cli_usage_error("quantize: unknown option '%s'", argv[i]);
        } else {
            args[nargs++] = argv[i];
            continue;
        }
        i++;
    }
    if (!out) { free(args); return cli_usage_error("quantize: no output file (-o OUT.safetensors)"); }
    if (nargs == 0) { free(args); return cli_usage_error("quantize: no calibration photos or folders given"); }

    char wbuf[PATH_MAX];
    const char *weights = cli_weights_path(&common, wbuf, sizeof wbuf);
    if (same_file(out, weights)) {
        free(args);
        return cli_error("%s: is the fp32 weight file being quantized; choose another output", out);
    }
    cli_photos photos = {0};
    resnet_model *model = NULL;
    resnet_session *s = NULL;
    rn_calib *calib = NULL;
    resnet_error err;
    int rc = 1;
    if (cli_photos_add(&photos, args, nargs) != 0) goto done;
    for (int i = 0; i < photos.count; i++)
        if (same_file(out, photos.paths[i])) {
            cli_error("%s: is one of the calibration photos; choose another output", out);
            goto done;
        }
    /* sorted, so --limit takes the same photos however they were named */
    qsort(photos.paths, (size_t)photos.count, sizeof *photos.paths, cmp_path);
    int n = limit && limit < photos.count ? limit : photos.count;
    if (n == 0) {
        cli_error("quantize: no photos (JPEG or PNG) found in %s; nothing written",
                  nargs == 1 ? args[0] : "the arguments");
        goto done;
    }
    if (!(model = cli_load_model(&common))) goto done;
    if (resnet_model_precision(model) != RESNET_PRECISION_FP32) {
        cli_error("%s: is already an int8 file; quantize takes fp32 weights", weights);
        goto done;
    }
    if (rn_calib_create(model, &calib, &err) != RESNET_OK ||
        resnet_session_create(model, common.threads, n < BATCH ? n : BATCH, &s, &err) != RESNET_OK) {
        cli_error("%s", err.message);
        goto done;
    }
    rn_calib_attach(calib, s);
    calib_run x = {0};
    cli_progress_start(&x.bar, n, "photos");
    resnet_status st = resnet_run_files(s, (const char *const *)photos.paths, n, RESNET_WANT_LOGITS, on_photo, &x, &err);
    cli_progress_clear(&x.bar);
    if (st != RESNET_OK) {
        cli_error("%s", err.message);
        goto done;
    }
    if (x.ok == 0) {
        cli_error("quantize: none of the %d photo%s could be read; nothing written", n, n == 1 ? "" : "s");
        goto done;
    }
    if (rn_quantize_write(calib, weights, out, (rn_calib_method)method, x.ok, &err) != RESNET_OK) {
        cli_error("%s", err.message);
        goto done;
    }
    fprintf(stderr, "resnet: %s: int8, calibrated on %d photo%s (%s)%s\n", out, x.ok, x.ok == 1 ? "" : "s",
            rn_calib_method_name((rn_calib_method)method), x.ok < n ? "; some photos could not be read" : "");
    rc = x.ok < n ? 1 : 0;
done:
    rn_calib_free(calib);
    resnet_session_free(s);
    resnet_model_free(model);
    cli_photos_free(&photos);
    free(args);
    return rc;
}
