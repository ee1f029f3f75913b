/* label.c - `resnet label WEIGHTS --labels names.txt -o OUT`: class names into a weight file. */
#include "cli/cli.h"

static const cli_option options[] = {
    CLI_OPTION("labels", 0, "FILE", CLI_OPT_LABELS, "the class names, one a line, as many as the network has\nclasses (required)"),
    CLI_OPTION_OUTPUT("OUT", "the weight file to write (required; may not be WEIGHTS itself)"),
    CLI_OPTION_FORCE,
    {0},
};

const cli_command cli_label = {
    .name = "label", .run = cmd_label, .synopsis = "--labels FILE -o OUT WEIGHTS",
    .brief = "store class names in a weight file",
    .about = "Writes a copy of a weight file with class names in its metadata, so that every\n"
             "command, the library and the server name the classes without --labels. The tensors\n"
             "are copied unchanged.",
    .options = options,
};

int cmd_label(int argc, char **argv) {
    cli_common common = {0};
    int c;
    optind = 0;
    while ((c = cli_getopt(&cli_label, argc, argv, &common)) != CLI_END) return CLI_EXIT_STATUS(c);
    if (optind == argc) return cli_usage_error("label: no weight file given");
    if (argc - optind > 1) return cli_usage_error("label: more than one weight file given");
    const char *in = argv[optind], *out = common.output;
    if (!common.labels) return cli_usage_error("label: --labels FILE is required");
    if (!out || !*out) return cli_usage_error("label: no output file given (-o OUT)");
    cli_common inputs = {.force = common.force, .weights = in};
    const char *extra[1] = {common.labels};
    if (cli_check_output(out, RN_KIND_SAFETENSORS, &inputs, NULL, 0, extra, 1) != 0) return 1;
    resnet_error err;
    if (resnet_label_file(in, common.labels, out, &err) != RESNET_OK) return cli_error("%s", err.message);
    fputs("resnet: wrote ", stderr);
    cli_text(stderr, out);
    fputc('\n', stderr);
    return 0;
}
