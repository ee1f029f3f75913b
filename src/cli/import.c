/* import.c - `resnet import MODEL -o OUT`: an ONNX ResNet (torch.onnx.export) or TensorFlow.js
 * Keras ResNet-50 -> safetensors. Which one is told by the file's first bytes, not its name:
 * model.json is JSON (an object: '{' after any blanks or byte-order mark); anything else is
 * read as an ONNX protobuf, whose reader says clearly when it is not one. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "io/onnx.h"
#include "io/safetensors.h"

enum { OPT_VARIANT = CLI_OPT_FIRST_OWN, OPT_NORM, OPT_LABELS };

static const cli_option options[] = {
    CLI_OPTION_OUTPUT("OUT", "the safetensors file to write (required)"),
    CLI_OPTION("variant", 0, "V", OPT_VARIANT, "TF.js: v1 or v1.5, architecture recorded in the file (default\nv1); ONNX: read from the graph"),
    CLI_OPTION("norm", 0, "N", OPT_NORM, "caffe or torch: input normalisation recorded in the file\n(default caffe for TF.js; for ONNX what `resnet export` recorded,\nelse torch)"),
    CLI_OPTION("labels", 0, "FILE", OPT_LABELS, "ONNX: class names, one a line, stored in the file"),
    CLI_OPTION_FORCE,
    {0},
};

const cli_command cli_import = {
    .name = "import", .run = cmd_import, .synopsis = "-o OUT MODEL.onnx|MODEL_JSON",
    .brief = "convert an ONNX ResNet or Keras' TensorFlow.js ResNet-50 to safetensors",
    .about = "Converts a torchvision ResNet-family network exported by torch.onnx.export (opset 11\n"
             "to 17, batch norms folded or not, external data beside it), or Keras' TensorFlow.js\n"
             "ResNet-50 (model.json and the shards beside it), to a safetensors weight file.",
    .options = options,
};

/* 1 if the file starts like JSON text (its first non-blank byte, after a UTF-8 byte-order
 * mark, is '{'); 0 otherwise or if it cannot be read (the importer then says why). */
static int looks_like_json(const char *path) {
    unsigned char b[256];
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, b, sizeof b);
    close(fd);
    ssize_t i = n >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf ? 3 : 0;
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r')) i++;
    return i < n && b[i] == '{';
}

int cmd_import(int argc, char **argv) {
    const char *in = NULL, *labels = NULL;
    cli_common common = {0};
    resnet_variant variant = RESNET_V1;
    resnet_norm norm = RESNET_NORM_CAFFE;
    int c, variant_given = 0, norm_given = 0;
    optind = 0;
    while ((c = cli_getopt(&cli_import, argc, argv, &common)) != CLI_END) {
        const char *v = optarg;
        switch (c) {
        case OPT_VARIANT:
            if (strcmp(v, "v1") == 0) variant = RESNET_V1;
            else if (strcmp(v, "v1.5") == 0) variant = RESNET_V1_5;
            else return cli_usage_error("import: --variant must be v1 or v1.5, got '%s'", v);
            variant_given = 1;
            break;
        case OPT_NORM:
            if (strcmp(v, "caffe") == 0) norm = RESNET_NORM_CAFFE;
            else if (strcmp(v, "torch") == 0) norm = RESNET_NORM_TORCH;
            else return cli_usage_error("import: --norm must be caffe or torch, got '%s'", v);
            norm_given = 1;
            break;
        case OPT_LABELS: labels = v; break;
        default: return CLI_EXIT_STATUS(c);
        }
    }
    const char *out = common.output;
    if (argc - optind > 1) return cli_usage_error("import: more than one model given");
    if (optind < argc) in = argv[optind];
    if (!in) return cli_usage_error("import: no model given (MODEL.onnx or model.json)");
    if (!out || !*out) return cli_usage_error("import: no output file given (-o FILE)");
    /* model.json itself and an existing file of another kind; the shards are checked by the
     * importer as it finds them */
    cli_common inputs = {.force = common.force, .weights = in};
    const char *extra[1] = {labels};
    if (cli_check_output(out, RN_KIND_SAFETENSORS, &inputs, NULL, 0, extra, labels ? 1 : 0) != 0) return 1;
    const int json = looks_like_json(in);
    if (json && labels) return cli_usage_error("import: --labels is for ONNX models");
    if (!json && variant_given)
        return cli_usage_error("import: --variant is for TF.js models; an ONNX graph's is read from where it strides");
    resnet_error err;
    resnet_status s = json ? resnet_import_tfjs(in, out, variant, norm, &err)
                           : resnet_import_onnx(in, out, norm_given ? norm : RESNET_NORM_FILE, labels, &err);
    if (s != RESNET_OK) return cli_error("%s", err.message);
    fputs("resnet: wrote ", stderr);
    cli_text(stderr, out);
    /* a size other than 224 came from the graph's input shape: said, since every command will
     * take it (a graph traced on a small dummy input asks for that small size) */
    rn_safetensors *st = NULL;
    const char *size = !json && rn_st_open(out, &st, &err) == RESNET_OK ? rn_st_metadata(st, "input_size") : NULL;
    if (size && strspn(size, "0123456789") == strlen(size) && strlen(size) <= 4)
        fprintf(stderr, " (input %sx%s, as the graph's input shape says; --size N to run at another)", size, size);
    /* a Sigmoid after a one-output fc was left out: said, for the file now holds the logit and
     * every command reads one output through its sigmoid, the probability the graph gave */
    const char *src = !json && st ? rn_st_metadata(st, "source") : NULL;
    if (src && strstr(src, RN_ONNX_SIGMOID_NOTE))
        fputs(" (one output: its Sigmoid after the fc left out, for the sigmoid of its one logit is how every command reads "
              "it)", stderr);
    rn_st_close(st);
    fputc('\n', stderr);
    return 0;
}
