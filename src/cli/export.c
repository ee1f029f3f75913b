/* export.c - `resnet export --weights FILE -o MODEL.onnx`: the network as an ONNX graph. */
#include <string.h>

#include "cli/cli.h"

enum { OPT_OPSET = CLI_OPT_FIRST_OWN };

static const cli_option options[] = {
    CLI_OPTION_OUTPUT("MODEL.onnx", "the ONNX file to write (required)"),
    CLI_OPTION_INT("opset", "N", OPT_OPSET, 11, 17, "the ONNX opset, 11 to 17 (default 13)"),
    CLI_OPTION_FORCE,
    {0},
};

const cli_command cli_export = {
    .name = "export", .run = cmd_export, .synopsis = "-o MODEL.onnx",
    .brief = "write the network as an ONNX graph",
    .about = "Writes the network of the weight file (--weights) as a plain fp32 ONNX graph: each\n"
             "convolution with its batch norm folded in, ReLU, the shortcuts' Add, the pools and the fc\n"
             "(Gemm). Input \"input\" (N x 3 x S x S, normalised as the weights say), output \"logits\"\n"
             "(a backbone's, a file with no fc: \"features\", N x its feature size). --size and\n"
             "--output-stride shape it as they shape the network. The file's own class names (or\n"
             "--labels') go with it, for `resnet import`.",
    .options = options, .network = 1,
};

int cmd_export(int argc, char **argv) {
    cli_common common = {0};
    int c, opset = 13;
    optind = 0;
    while ((c = cli_getopt(&cli_export, argc, argv, &common)) != CLI_END) {
        if (c != OPT_OPSET) return CLI_EXIT_STATUS(c);
        opset = cli_optint;
    }
    if (optind < argc) return cli_usage_error("export: takes no operands ('%s')", argv[optind]);
    /* the graph is fp32 whatever the weights run at here: a bf16 one asked for is not written */
    if (common.precision_set && common.precision != RESNET_PRECISION_FP32)
        return cli_usage_error("export: --precision %s: export writes fp32 graphs only",
                               resnet_precision_name(common.precision));
    const char *out = common.output;
    if (!out || !*out) return cli_usage_error("export: no output file given (-o MODEL.onnx)");
    char buf[4096];
    const char *weights = cli_weights_path(&common, buf, sizeof buf);
    if (cli_check_output(out, RN_KIND_ONNX, &common, NULL, 0, NULL, 0) != 0) return 1;
    resnet_load_options o;
    resnet_load_options_init(&o);
    o.input_size = common.size;
    o.output_stride = common.output_stride;
    o.labels = common.labels;
    resnet_error err;
    if (resnet_export_onnx(weights, &o, out, opset, &err) != RESNET_OK) return cli_error("%s", err.message);
    fputs("resnet: wrote ", stderr);
    cli_text(stderr, out);
    fputc('\n', stderr);
    return 0;
}
