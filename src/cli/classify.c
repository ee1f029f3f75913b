/* classify.c - `resnet classify PHOTO...`: the top-k classes of each photo. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum { OPT_JSON = CLI_OPT_FIRST_OWN, OPT_TTA, OPT_HEAD };

static const struct option options[] = {
    {"top", required_argument, NULL, 'k'},
    {"json", no_argument, NULL, OPT_JSON},
    {"tta", required_argument, NULL, OPT_TTA},
    {"head", required_argument, NULL, OPT_HEAD},
    CLI_NETWORK_OPTIONS,
    CLI_HELP_OPTION,
    {0},
};

const cli_command cli_classify = {
    .name = "classify", .run = cmd_classify, .synopsis = "PHOTO|DIR...",
    .brief = "the top classes of each photo, or of every photo under folders",
    .about = "Prints the top classes of each photo (JPEG, PNG, WebP, TIFF, GIF, BMP or PNM; - reads one\n"
             "from standard input).\n"
             "Folders are walked recursively (sorted), several photos in flight, with a progress bar\n"
             "on a terminal and a summary on stderr.",
    .help = "  -k, --top N           how many classes to print (default 5)\n"
            "      --json            one JSON object per line and photo, in order: {\"file\", \"top\"} or\n"
            "                        {\"file\", \"error\"}\n"
            "      --tta MODE        average over views: none, flip, 10crop, multiscale (default none)\n"
            "      --head FILE       a head made by train-head: its classes instead of ImageNet's\n",
    .notes = "exit status: 0 every photo classified, 1 some could not be read (each named on stderr),\n"
             "2 usage error\n",
    .shortopts = "hk:", .options = options,
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
    cli_common common = {.kernels = RESNET_KERNELS_AUTO};
    int k = 5, json = 0;
    resnet_tta tta = RESNET_TTA_NONE;
    const char *head = NULL; /* --head FILE: a trained head's classes instead of ImageNet's */
    int c;
    optind = 0;
    while ((c = cli_getopt(&cli_classify, argc, argv, &common)) != CLI_END) {
        switch (c) {
        case 'k':
            if (cli_parse_int("-k", optarg, 1, RESNET_NUM_CLASSES, &k)) return 2;
            break;
        case OPT_JSON: json = 1; break;
        case OPT_TTA:
            if (cli_parse_tta(optarg, &tta)) return 2;
            break;
        case OPT_HEAD: head = optarg; break;
        default: return CLI_EXIT_STATUS(c);
        }
    }
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
