/* import.c - `resnet import MODEL_JSON -o OUT`: TensorFlow.js Keras ResNet-50 -> safetensors. */
#include <string.h>

#include "cli/cli.h"

enum { OPT_VARIANT = CLI_OPT_FIRST_OWN, OPT_NORM };

static const cli_option options[] = {
    CLI_OPTION_OUTPUT("OUT", "the safetensors file to write (required)"),
    CLI_OPTION("variant", 0, "V", OPT_VARIANT, "v1 or v1.5: architecture recorded in the file (default v1)"),
    CLI_OPTION("norm", 0, "N", OPT_NORM, "caffe or torch: input normalisation recorded in the file\n(default caffe)"),
    CLI_OPTION_FORCE,
    {0},
};

const cli_command cli_import = {
    .name = "import", .run = cmd_import, .synopsis = "-o OUT MODEL_JSON",
    .brief = "convert Keras' TensorFlow.js ResNet-50 to safetensors",
    .about = "Converts Keras' TensorFlow.js ResNet-50 (model.json and the shards beside it) to a\n"
             "safetensors weight file.",
    .options = options,
};

int cmd_import(int argc, char **argv) {
    const char *in = NULL;
    cli_common common = {0};
    resnet_variant variant = RESNET_V1;
    resnet_norm norm = RESNET_NORM_CAFFE;
    int c;
    optind = 0;
    while ((c = cli_getopt(&cli_import, argc, argv, &common)) != CLI_END) {
        const char *v = optarg;
        switch (c) {
        case OPT_VARIANT:
            if (strcmp(v, "v1") == 0) variant = RESNET_V1;
            else if (strcmp(v, "v1.5") == 0) variant = RESNET_V1_5;
            else return cli_usage_error("import: --variant must be v1 or v1.5, got '%s'", v);
            break;
        case OPT_NORM:
            if (strcmp(v, "caffe") == 0) norm = RESNET_NORM_CAFFE;
            else if (strcmp(v, "torch") == 0) norm = RESNET_NORM_TORCH;
            else return cli_usage_error("import: --norm must be caffe or torch, got '%s'", v);
            break;
        default: return CLI_EXIT_STATUS(c);
        }
    }
    const char *out = common.output;
    if (argc - optind > 1) return cli_usage_error("import: more than one model.json given");
    if (optind < argc) in = argv[optind];
    if (!in) return cli_usage_error("import: no model.json given");
    if (!out || !*out) return cli_usage_error("import: no output file given (-o FILE)");
    /* model.json itself and an existing file of another kind; the shards are checked by the
     * importer as it finds them */
    cli_common inputs = {.force = common.force, .weights = in};
    if (cli_check_output(out, RN_KIND_SAFETENSORS, &inputs, NULL, 0, NULL, 0) != 0) return 1;
    resnet_error err;
    if (resnet_import_tfjs(in, out, variant, norm, &err) != RESNET_OK) return cli_error("%s", err.message);
    fputs("resnet: wrote ", stderr);
    cli_text(stderr, out);
    fputc('\n', stderr);
    return 0;
}
