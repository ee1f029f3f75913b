/* classify.c - `resnet classify PHOTO...`: the top-k classes of each photo. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum { OPT_HEAD = CLI_OPT_FIRST_OWN };

static const cli_option options[] = {
    CLI_OPTION_TOP("how many classes to print (default 5)"),
    CLI_OPTION_JSON("one JSON object per line and photo, in order: {\"file\", \"top\"} or\n{\"file\", \"error\"}"),
    CLI_OPTION_TTA,
    CLI_OPTION("head", 0, "FILE", OPT_HEAD, "a head made by train-head: its classes instead of ImageNet's"),
    {0},
};

const cli_command cli_classify = {
    .name = "classify", .run = cmd_classify, .synopsis = "PHOTO|DIR...",
    .brief = "the top classes of each photo, or of every photo under folders",
    .about = "Prints the top classes of each photo (JPEG, PNG, WebP, TIFF, GIF, BMP or PNM; - reads one\n"
             "from standard input).\n"
             "Folders are walked recursively (sorted), several photos in flight, with a progress bar\n"
             "on a terminal and a summary on stderr.",
    .notes = "exit status: 0 every photo classified, 1 some could not be read (each named on stderr),\n"
             "2 usage error\n",
    .options = options, .network = 1,
};

int cmd_classify(int argc, char **argv) {
    cli_common common = {.top = 5};
    const char *head = NULL; /* --head FILE: a trained head's classes instead of ImageNet's */
    int c;
    optind = 0;
    while ((c = cli_getopt(&cli_classify, argc, argv, &common)) != CLI_END) {
        if (c != OPT_HEAD) return CLI_EXIT_STATUS(c);
        head = optarg;
    }
    const int k = common.top, json = common.json;
    const resnet_tta tta = common.tta;
    char **files = argv + optind;
    const int nfiles = argc - optind;
    if (nfiles == 0) return cli_usage_error("classify: no photo given");
    int folders = 0;
    for (int i = 0; i < nfiles && !head; i++) folders += cli_is_dir(files[i]);
    if (head || folders) /* folders and heads: classify_many.c (pipelined, with a summary) */
        return cli_classify_many(&common, files, nfiles, k, json, head, tta);
    resnet_model *model = cli_load_model(&common);
    if (!model) return 1;
    /* the views of a photo run as one batch */
    resnet_session *session = cli_session(model, &common, resnet_tta_views(tta, NULL));
    if (!session) {
        resnet_model_free(model);
        return 1;
    }
    resnet_error err;
    int failed = 0;
    resnet_prediction top[RESNET_NUM_CLASSES];
    for (int i = 0; i < nfiles; i++) {
        /* One bad photo is reported and skipped; the others are still classified. */
        if (cli_classify_photo(session, files[i], tta, k, top, &err) != RESNET_OK) {
            cli_error("%s", err.message);
            if (json) cli_json_error_record(stdout, files[i], err.message);
            failed++;
            fflush(stdout);
        } else {
            cli_print_top(files[i], top, k, json, NULL);
        }
    }
    resnet_session_free(session);
    resnet_model_free(model);
    return failed ? 1 : 0;
}
