/* quantize.c - `resnet quantize PHOTO|DIR... -o OUT`: post-training static quantization.
 * Runs the fp32 network over the calibration photos (walked as `classify DIR` does, "-" from
 * standard input, decoded beside the network by the library's runner through cli_run_photos)
 * with the calibration's observer on the session, then writes the int8 file
 * (model/quantize.c; its layout is in model/weights.c). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "model/quantize.h"


typedef struct calib_run {
    int done, ok;
    cli_progress bar;
} calib_run;

static int on_photo(void *vctx, const resnet_item_result *r) {
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
enum { OPT_LIMIT = CLI_OPT_FIRST_OWN, OPT_METHOD };

static const cli_option options[] = {
    CLI_OPTION_OUTPUT("OUT", "the int8 file to write (required; never the fp32 file)"),
    CLI_OPTION_INT("limit", "N", OPT_LIMIT, 1, INT_MAX, "the first N photos in sorted order"),
    CLI_OPTION("method", 0, "M", OPT_METHOD,
               "activation ranges: mse (least squared error, the default),\nminmax or percentile (99.99%)"),
    CLI_OPTION_FORCE,
    {0},
};

const cli_command cli_quantize = {
    .name = "quantize", .run = cmd_quantize, .synopsis = "-o OUT.safetensors PHOTO|DIR...",
    .brief = "an int8 weight file, calibrated on photos (every command takes it)",
    .about = "Post-training static quantization: runs the fp32 network (--weights) over the\n"
             "calibration photos (folders walked recursively, sorted; - reads a photo from standard\n"
             "input), chooses every activation's range, and writes an int8 safetensors file that\n"
             "every command takes with --weights.\n"
             "The same photos give a byte-identical file.",
    .notes = "exit status: 0 written from every photo, 1 some photos or folders unreadable, or a\n"
             "folder with no photo (named on stderr; the file is written from the others) or\n"
             "nothing written, 2 usage error\n",
    .options = options, .network = 1,
};

int cmd_quantize(int argc, char **argv) {
    cli_common common = {0};
    int limit = 0, method = RN_CALIB_MSE, c;
    optind = 0;
    while ((c = cli_getopt(&cli_quantize, argc, argv, &common)) != CLI_END) {
        switch (c) {
        case OPT_LIMIT: limit = cli_optint; break;
        case OPT_METHOD:
            if ((method = rn_calib_method_parse(optarg)) < 0)
                return cli_usage_error("quantize: --method must be mse, minmax or percentile, got '%s'", optarg);
            break;
        default: return CLI_EXIT_STATUS(c);
        }
    }
    const char *out = common.output;
    char **args = argv + optind;
    const int nargs = argc - optind;
    if (!out || !*out) return cli_usage_error("quantize: no output file given (-o OUT.safetensors)");
    if (nargs == 0) return cli_usage_error("quantize: no calibration photos or folders given");
    if (common.precision != RESNET_PRECISION_FP32)
        return cli_usage_error("quantize: --precision %s: quantize calibrates the fp32 network and writes int8",
                               resnet_precision_name(common.precision));

    char wbuf[PATH_MAX];
    const char *weights = cli_weights_path(&common, wbuf, sizeof wbuf);
    /* the weight file, said as such before the photos are walked (cli_check_output below
     * checks it again, with every photo) */
    if (rn_same_file(weights, out))
        return cli_error("%s: is the weights file (--weights) being quantized; refusing to overwrite it (choose another output)",
                         out);
    cli_photos photos = {0};
    resnet_model *model = NULL;
    resnet_session *s = NULL;
    rn_calib *calib = NULL;
    resnet_error err;
    int rc = 1;
    if ((rc = cli_photos_add(&photos, args, nargs)) != 0) goto done;
    rc = 1;
    /* never a calibration photo (found or named) or the weights; an existing file only if it
     * is a weight file already (io/atomic.h), or with --force */
    if (cli_check_output(out, RN_KIND_SAFETENSORS, &common, photos.paths, photos.count, (const char *const *)args,
                         nargs) != 0)
        goto done;
    /* sorted, so --limit takes the same photos however they were named */
    qsort(photos.paths, (size_t)photos.count, sizeof *photos.paths, cmp_path);
    int n = limit && limit < photos.count ? limit : photos.count;
    if (n == 0) {
        cli_error("quantize: no photos found in %s; nothing written",
                  nargs == 1 ? args[0] : "the arguments");
        goto done;
    }
    if (!(model = cli_load_model(&common))) goto done;
    if (resnet_model_precision(model) != RESNET_PRECISION_FP32) {
        cli_error("%s: is %s file; quantize takes fp32 weights", weights,
                  resnet_model_precision(model) == RESNET_PRECISION_INT8 ? "already an int8" : "a bf16");
        goto done;
    }
    if (rn_calib_create(model, &calib, &err) != RESNET_OK ||
        resnet_session_create(model, common.threads, n < CLI_BATCH ? n : CLI_BATCH, &s, &err) != RESNET_OK) {
        cli_error("%s", err.message);
        goto done;
    }
    resnet_session_set_image_flags(s, common.image_flags); /* --exif-orientation: as classify sees them */
    rn_calib_attach(calib, s);
    calib_run x = {0};
    cli_progress_start(&x.bar, n, "photos");
    /* through the commands' shared runner, so "-" is the photo on standard input */
    /* the whole network: to the logits, or a backbone's to its pooled features */
    const unsigned want = resnet_model_classes(model) > 0 ? RESNET_WANT_LOGITS : RESNET_WANT_FEATURES;
    resnet_status st = cli_run_photos(s, photos.paths, NULL, n, RESNET_TTA_NONE, want, on_photo, &x, &err);
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
    /* as classify: a subfolder that could not be read, or a folder argument with no photo
     * (both named on stderr already), is an input that was not used */
    rc = x.ok < n || photos.problems || photos.empty ? 1 : 0;
done:
    rn_calib_free(calib);
    resnet_session_free(s);
    resnet_model_free(model);
    cli_photos_free(&photos);
    return rc;
}
