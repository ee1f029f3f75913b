/* info.c - `resnet info [WEIGHTS...]`: what a weight file holds, as the other commands would
 * load it (the network options apply), without running it; a head file too. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common.h" /* RN_HEAD_FORMAT */
#include "io/safetensors.h"

static const cli_option options[] = {
    CLI_OPTION_JSON("one JSON object per line and file: {\"file\", \"arch\", \"classes\", \"output\", ...} or\n"
                    "{\"file\", \"error\"}"),
    {0},
};

const cli_command cli_info = {
    .name = "info", .run = cmd_info, .synopsis = "[WEIGHTS...]",
    .brief = "what a weight file holds: network, classes, input, precision",
    .about = "Loads each weight file as the other commands would (the network options below\n"
             "apply: --labels, --size, --precision, ...) without running it, and prints the\n"
             "network's layout, its classes and their names, the input it expects, its\n"
             "precision and the kernels it would run on here. Without operands: --weights,\n"
             "else the default weights. A head made by train-head is described too.",
    .notes = "exit status: 0 every file described, 1 one could not be loaded (named on stderr)",
    .options = options,
    .network = 1,
};

/* "64-128-256-512" */
static void dashed(char *buf, size_t n, const int v[4]) {
    snprintf(buf, n, "%d-%d-%d-%d", v[0], v[1], v[2], v[3]);
}

/* The kernels the convolutions would run on here, as bench names them. */
static void kernels_of(const resnet_model *m, char *buf, size_t n) {
    const resnet_precision p = resnet_model_precision(m);
    const char *k = resnet_kernels_name(resnet_model_kernels(m));
    const char *k16 = p == RESNET_PRECISION_BF16 ? resnet_kernels_bf16_name(resnet_model_kernels(m)) : NULL;
    if (p == RESNET_PRECISION_INT8)
        snprintf(buf, n, "%s", resnet_model_int8_kernels(m));
    else
        snprintf(buf, n, "%s%s%s", k, k16 ? "+" : "", k16 ? k16 : "");
}

/* How the network's outputs become probabilities: one output is a binary classifier (the
 * sigmoid of its logit, the chance the photo is its class), more are a softmax over the
 * classes; a backbone has none. */
static const char *output_kind(int classes) {
    return classes == 1 ? "sigmoid" : classes > 1 ? "softmax" : "none";
}

static const char *labels_kind(int labels) {
    return labels == 1 ? "given" : labels == 2 ? "imagenet" : "none";
}

/* The first five class names (the head's when h is not NULL), comma-separated, then ", ..."
 * when there are more; a line. */
static void print_names(const resnet_model *m, const resnet_head *h, int classes) {
    char buf[64];
    for (int i = 0; i < classes && i < 5; i++) {
        if (i) fputs(", ", stdout);
        cli_text(stdout, cli_class_name(m, h, i, buf, sizeof buf));
    }
    fputs(classes > 5 ? ", ...\n" : "\n", stdout);
}

/* What the file says of itself beyond the layout: where it came from, and an int8 file's
 * calibration (its metadata, as the model keeps it). */
typedef struct provenance {
    const char *source, *calibration, *photos;
} provenance;

/* 1 for a count as quantize writes it: plain digits, at most 9 */
static int counted(const char *s) {
    const size_t n = strspn(s, "0123456789");
    return n > 0 && n <= 9 && s[n] == '\0';
}

static void provenance_read(provenance *p, const resnet_model *m) {
    p->source = resnet_model_metadata(m, "source");
    p->calibration = resnet_model_metadata(m, "calibration");
    p->photos = resnet_model_metadata(m, "calibration_photos");
}

static void print_model(const char *path, const resnet_model *m, int json) {
    resnet_info in;
    resnet_model_info(m, &in);
    char blocks[48], widths[48], kernels[64];
    dashed(blocks, sizeof blocks, in.blocks);
    dashed(widths, sizeof widths, in.widths);
    kernels_of(m, kernels, sizeof kernels);
    const char *block = in.block == RESNET_BLOCK_BOTTLENECK ? "bottleneck" : "basic";
    const char *precision = resnet_precision_name(resnet_model_precision(m));
    const char *variant = in.variant == RESNET_V1 ? "v1" : "v1.5";
    const char *norm = in.norm == RESNET_NORM_CAFFE ? "caffe" : "torch";
    const double gflops = resnet_model_flops(m) * 1e-9;
    provenance pv;
    provenance_read(&pv, m);
    if (json) {
        fputs("{\"file\": ", stdout);
        cli_json_string(stdout, path);
        fputs(", \"arch\": ", stdout);
        cli_json_string(stdout, in.arch);
        printf(", \"depth\": %d, \"block\": \"%s\", \"blocks\": [%d, %d, %d, %d], \"widths\": [%d, %d, %d, %d], "
               "\"groups\": %d, \"classes\": %d, \"labels\": \"%s\", \"feature_dim\": %d, \"input_size\": %d, "
               "\"output_stride\": %d, \"precision\": \"%s\", \"variant\": \"%s\", \"norm\": \"%s\", "
               "\"kernels\": \"%s\", \"gflops\": %.3f, \"output\": \"%s\"",
               in.depth, block, in.blocks[0], in.blocks[1], in.blocks[2], in.blocks[3], in.widths[0], in.widths[1],
               in.widths[2], in.widths[3], in.groups, in.classes, labels_kind(in.labels), in.feature_dim,
               in.input_size, in.output_stride, precision, variant, norm, kernels, gflops,
               output_kind(in.classes));
        if (pv.source) {
            fputs(", \"source\": ", stdout);
            cli_json_string(stdout, pv.source);
        }
        if (pv.calibration) {
            fputs(", \"calibration\": ", stdout);
            cli_json_string(stdout, pv.calibration);
        }
        if (pv.photos && counted(pv.photos)) printf(", \"calibration_photos\": %s", pv.photos);
        fputs("}\n", stdout);
        return;
    }
    cli_text(stdout, path);
    printf("\n  network    %s: %s blocks %s, widths %s", in.arch, block, blocks, widths);
    if (in.groups > 1) printf(", %d groups", in.groups);
    printf(", %d layers deep\n", in.depth);
    if (in.classes > 0) {
        printf("  classes    %d, %s: ", in.classes,
               in.labels == 1 ? "named by the file or --labels" : in.labels == 2 ? "ImageNet's names" : "no names");
        print_names(m, NULL, in.classes);
        if (in.classes == 1)
            printf("  output     a binary classifier: its probability is the sigmoid of its one logit\n");
    } else {
        printf("  classes    none: a backbone (no fc), for embed, similar and train-head\n");
    }
    printf("  features   %d pooled\n", in.feature_dim);
    printf("  input      %dx%d, output stride %d, %s\n", in.input_size, in.input_size, in.output_stride,
           in.norm == RESNET_NORM_CAFFE ? "caffe normalisation (BGR, ImageNet's mean subtracted)"
                                        : "torch normalisation (RGB, ImageNet's mean and deviation)");
    printf("  variant    %s (%s)\n", variant,
           in.variant == RESNET_V1 ? "a stage strides in its first 1x1" : "a stage strides in its first 3x3");
    printf("  precision  %s", precision);
    if (pv.calibration && pv.photos && counted(pv.photos)) {
        printf(" (calibrated on %s photo%s, ", pv.photos, strcmp(pv.photos, "1") == 0 ? "" : "s");
        cli_text(stdout, pv.calibration);
        putchar(')');
    }
    printf(", kernels %s on this CPU\n", kernels);
    printf("  work       %.2f %s an image (multiply-adds x 2)\n", gflops,
           resnet_model_precision(m) == RESNET_PRECISION_INT8 ? "G operations" : "GFLOP");
    if (pv.source) {
        fputs("  source     ", stdout);
        cli_text(stdout, pv.source);
        putchar('\n');
    }
}

static void print_head(const char *path, const resnet_head *h, int json) {
    const int classes = resnet_head_classes(h);
    if (json) {
        fputs("{\"file\": ", stdout);
        cli_json_string(stdout, path);
        printf(", \"head\": true, \"classes\": %d, \"feature_dim\": %d, \"output\": \"%s\", \"names\": [", classes,
               resnet_head_dim(h), output_kind(classes));
        for (int i = 0; i < classes; i++) {
            if (i) fputs(", ", stdout);
            cli_json_string(stdout, resnet_head_class_name(h, i));
        }
        fputs("], \"backbone\": ", stdout);
        cli_json_string(stdout, resnet_head_backbone(h));
        fputs("}\n", stdout);
        return;
    }
    cli_text(stdout, path);
    printf("\n  head       made by train-head, for %d pooled features (give it with --head)\n"
           "  classes    %d: ",
           resnet_head_dim(h), classes);
    print_names(NULL, h, classes);
    if (*resnet_head_backbone(h)) {
        fputs("  backbone   ", stdout);
        cli_text(stdout, resnet_head_backbone(h));
        putchar('\n');
    }
}

/* 1 if the file's metadata says it is a head (its "format"), whatever else is wrong with it */
static int says_head(const char *path) {
    rn_safetensors *st;
    resnet_error err;
    if (rn_st_open(path, &st, &err) != RESNET_OK) return 0;
    const char *format = rn_st_metadata(st, "format");
    const int head = format && strcmp(format, RN_HEAD_FORMAT) == 0;
    rn_st_close(st);
    return head;
}

/* One file (NULL: the default weights): a network, else a head, else why not: the head
 * loader's message for a file that says it is a head (the network loader's would only say to
 * give it with --head, where it fails the same), else the network loader's. 0 or 1. */
static int describe(const cli_common *common, const char *path, int json) {
    cli_common c = *common;
    if (path && !*path) { /* "$FILE" unset: not the default weights, which "" means to the loader */
        static const char why[] = "an empty operand names no weight file";
        if (json) cli_json_error_record(stdout, path, why);
        cli_error("%s", why);
        return 1;
    }
    if (path) c.weights = path;
    char buf[PATH_MAX];
    path = cli_weights_path(&c, buf, sizeof buf);
    resnet_error err;
    resnet_model *m = cli_try_load_model(&c, &err);
    if (m) {
        print_model(path, m, json);
        resnet_model_free(m);
        return 0;
    }
    resnet_head *h = NULL;
    resnet_error herr;
    if (*path && resnet_head_load(path, &h, &herr) == RESNET_OK) {
        print_head(path, h, json);
        resnet_head_free(h);
        return 0;
    }
    if (*path && says_head(path)) err = herr;
    if (json) cli_json_error_record(stdout, path, err.message);
    cli_error("%s", err.message);
    return 1;
}

int cmd_info(int argc, char **argv) {
    cli_common common = {0};
    int c;
    optind = 0;
    while ((c = cli_getopt(&cli_info, argc, argv, &common)) != CLI_END) return CLI_EXIT_STATUS(c);
    if (optind == argc) return describe(&common, NULL, common.json);
    if (common.weights && *common.weights)
        return cli_usage_error("info: --weights and weight files as operands: give one or the other");
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        if (describe(&common, argv[i], common.json)) rc = 1;
        fflush(stdout); /* each file's lines before the next one's messages */
    }
    return rc;
}
