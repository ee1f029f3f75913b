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

typedef struct classify_run {
    int k, json, failed;
} classify_run;

/* One bad photo is reported and skipped; the others are still classified. */
static int on_photo(void *ctx, const resnet_item_result *r) {
    classify_run *x = ctx;
    if (r->status != RESNET_OK) {
        cli_error("%s", r->message);
        if (x->json) cli_json_error_record(stdout, r->name, r->message);
        x->failed++;
        fflush(stdout);
        return 0;
    }
    resnet_prediction top[RESNET_NUM_CLASSES];
    resnet_top_k(r->probs, RESNET_NUM_CLASSES, x->k, top);
    cli_print_top(r->name, top, x->k, x->json, NULL);
    return 0;
}

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
    /* the runner decodes the next photos while the network runs this one */
    classify_run x = {k, json, 0};
    resnet_error err;
    if (cli_run_photos(session, files, NULL, nfiles, tta, RESNET_WANT_PROBS, on_photo, &x, &err) != RESNET_OK)
        x.failed = cli_error("%s", err.message);
    resnet_session_free(session);
    resnet_model_free(model);
    return x.failed ? 1 : 0;
}
