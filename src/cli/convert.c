/* convert.c - `resnet convert --precision bf16 IN -o OUT`: an fp32 weight file in bf16. */
#include "cli/cli.h"

static const cli_option options[] = {
    CLI_OPTION_OUTPUT("OUT", "the safetensors file to write (required; never IN)"),
    CLI_OPTION("precision", 0, "P", CLI_OPT_PRECISION, "bf16: the precision to write (required)"),
    CLI_OPTION_FORCE,
    {0},
};

const cli_command cli_convert = {
    .name = "convert", .run = cmd_convert, .synopsis = "--precision bf16 -o OUT IN",
    .brief = "an fp32 weight file in bf16 (half the size; every command takes it)",
    .about = "Writes the fp32 weight file IN with its weights in bf16 (rounded to nearest even;\n"
             "batch norm and biases stay fp32): a file half the size that every command loads\n"
             "as a bf16 model, as --precision bf16 does with the fp32 file.",
    .options = options,
};

int cmd_convert(int argc, char **argv) {
    cli_common common = {0};
    int c;
    optind = 0;
    while ((c = cli_getopt(&cli_convert, argc, argv, &common)) != CLI_END) return CLI_EXIT_STATUS(c);
    const char *out = common.output;
    if (argc - optind > 1) return cli_usage_error("convert: more than one input file given");
    if (optind == argc) return cli_usage_error("convert: no input weight file given");
    if (!out || !*out) return cli_usage_error("convert: no output file given (-o FILE)");
    if (common.precision != RESNET_PRECISION_BF16) return cli_usage_error("convert: --precision bf16 is required");
    const char *in = argv[optind];
    cli_common inputs = {.force = common.force, .weights = in};
    if (cli_check_output(out, RN_KIND_SAFETENSORS, &inputs, NULL, 0, NULL, 0) != 0) return 1;
    resnet_error err;
    if (resnet_convert_weights(in, out, RESNET_PRECISION_BF16, &err) != RESNET_OK) return cli_error("%s", err.message);
    fputs("resnet: wrote ", stderr);
    cli_text(stderr, out);
    fputc('\n', stderr);
    return 0;
}
