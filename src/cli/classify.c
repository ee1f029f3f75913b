/* classify.c - `resnet classify PHOTO|DIR...`: the top-k classes of each photo, folders walked
 * recursively, photos decoded on a second thread while the network runs batches (the
 * library's runner, resnet_run), a progress bar on a terminal and a summary at the end for
 * folders. The output lines are the same for photos and folders (text or --json); with
 * --head the classes and names are the head's. */
#include <stdlib.h>
#include <string.h>

#include "cli/classify.h"
#include "cli/cli.h"
#include "common.h"

enum { OPT_HEAD = CLI_OPT_FIRST_OWN, OPT_REPORT };

static const cli_option options[] = {
    CLI_OPTION_TOP("how many classes to print (default 5; more than the network has: all)"),
    CLI_OPTION_JSON("one JSON object per line and photo, in order: {\"file\", \"top\"} or\n{\"file\", \"error\"}"),
    CLI_OPTION_TTA,
    CLI_OPTION("head", 0, "FILE", OPT_HEAD, "a head made by train-head: its classes instead of ImageNet's"),
    CLI_OPTION("report", 0, "OUT.html", OPT_REPORT, "a contact sheet: one HTML page of the photos grouped by top-1"),
    /* --report writes a file: its refusal of a file of another kind says "pass --force" */
    CLI_OPTION_FORCE,
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

typedef struct run_ctx {
    int k, json;
    const resnet_head *head;
    const resnet_model *model;
    float *probs;  /* the head's classes, or 1000 */
    float *logits; /* the head's, which order what its softmax underflowed to 0 */
    resnet_prediction *top;
    int done, failed, folder_mode;
    int *top1_count; /* photos whose top-1 is each class */
    int *sheet_top1;   /* --report: each photo's top-1 (-1: not classified) and its probability */
    float *sheet_prob;
    cli_progress bar;
} run_ctx;

static const char *class_name(const run_ctx *x, int i, char *buf, size_t n) {
    return cli_class_name(x->model, x->head, i, buf, n);
}

/* The contact sheet writes each name as soon as it asks for it: one buffer serves ("class N") */
static const char *sheet_name(const void *ctx, int i) {
    static char buf[32];
    return class_name(ctx, i, buf, sizeof buf);
}

static int k_of(const run_ctx *x, int nc) { return x->k < nc ? x->k : nc; }

/* Reports one photo (its error, or its classes from probabilities or features). */
static int on_result(void *vctx, const resnet_item_result *r) {
    run_ctx *x = vctx;
    cli_progress_clear(&x->bar);
    x->done++;
    if (r->status != RESNET_OK) {
        cli_error("%s", r->message);
        if (x->json) cli_json_error_record(stdout, r->name, r->message), fflush(stdout);
        x->failed++;
        cli_progress_update(&x->bar, x->done);
        return 0;
    }
    int nc = resnet_model_classes(x->model);
    if (x->head) {
        resnet_error err;
        nc = resnet_head_classes(x->head);
        if (rn_head_logits(x->head, r->features, 1, x->logits, &err) != RESNET_OK) {
            cli_error("%s: %s", r->name, err.message);
            if (x->json) cli_json_error_record(stdout, r->name, err.message), fflush(stdout);
            x->failed++;
            cli_progress_update(&x->bar, x->done);
            return 0;
        }
        resnet_softmax(x->logits, nc, x->probs);
        resnet_top_k_logits(x->probs, x->logits, 1, nc, k_of(x, nc), x->top);
    } else { /* averaged over the views; their logits order what the softmax underflowed to 0 */
        resnet_top_k_logits(r->probs, r->logits, r->views, nc, k_of(x, nc), x->top);
    }
    const int k = k_of(x, nc);
    /* one output (a binary classifier) is every photo's top-1: what the summary counts for it
     * is the photos it says are its class, p >= 0.5 */
    if (nc > 1 || x->top[0].prob >= 0.5f) x->top1_count[x->top[0].index]++;
    if (x->sheet_top1) {
        x->sheet_top1[r->index] = x->top[0].index;
        x->sheet_prob[r->index] = x->top[0].prob;
    }
    cli_print_top(r->name, x->top, k, x->json, x->head, x->model);
    cli_progress_update(&x->bar, x->done);
    return 0;
}

/* The end of a folder run: counts, speed, and the most frequent top-1 classes, on stderr so
 * that stdout stays one record per photo. */
static void summary(const run_ctx *x, int n, int problems, int nc, double seconds) {
    /* what the walk could not read counts as unreadable too: the counts match the errors */
    fprintf(stderr, "resnet: %d photo%s in %.1f s (%.1f/s): %d classified, %d unreadable\n", n + problems,
            n + problems == 1 ? "" : "s", seconds, seconds > 0 ? n / seconds : 0.0, n - x->failed, x->failed + problems);
    if (nc == 1) {
        char buf[32];
        fprintf(stderr, "resnet: %d of %d classified as ", x->top1_count[0], n - x->failed);
        cli_text(stderr, class_name(x, 0, buf, sizeof buf));
        fputs(" (p >= 0.5)\n", stderr);
        return;
    }
    int shown = 0;
    char line[400];
    size_t len = 0;
    line[0] = '\0';
    while (shown < 5) {
        int best = -1;
        for (int c = 0; c < nc; c++)
            if (x->top1_count[c] > 0 && (best < 0 || x->top1_count[c] > x->top1_count[best])) best = c;
        if (best < 0) break;
        char buf[32];
        int w = snprintf(line + len, sizeof line - len, "%s%d %s", shown ? ", " : "", x->top1_count[best],
                         class_name(x, best, buf, sizeof buf));
        if (w < 0 || (size_t)w >= sizeof line - len) break;
        len += (size_t)w;
        x->top1_count[best] = -x->top1_count[best]; /* taken (restored below) */
        shown++;
    }
    for (int c = 0; c < nc; c++)
        if (x->top1_count[c] < 0) x->top1_count[c] = -x->top1_count[c];
    if (shown) { /* a head's class names are folder names: shown safely */
        fputs("resnet: most frequent top-1: ", stderr);
        cli_text(stderr, line);
        fputc('\n', stderr);
    }
}

/* Photos and folders (walked recursively, sorted), decoded on the runner's thread while the
 * network runs batches (with --tta each batch holds one photo's views); with folders a
 * progress bar on a terminal and a summary at the end; with --head the head's classes. */
static int classify(const cli_common *c, char **args, int nargs, const char *head_path, const char *report) {
    const int k = c->top, json = c->json;
    const resnet_tta tta = c->tta;
    if (head_path && tta != RESNET_TTA_NONE) return cli_usage_error("classify: --head and --tta cannot be combined");
    resnet_error err;
    resnet_head *head = NULL;
    /* The head and the list first: both fail fast, before a model load. */
    if (head_path && resnet_head_load(head_path, &head, &err) != RESNET_OK) return cli_error("%s", err.message);
    cli_photos photos = {0};
    photos.keep_going = 1; /* an unreadable folder argument is a record in its place */
    int added = cli_photos_add(&photos, args, nargs);
    if (added != 0) {
        cli_photos_free(&photos);
        resnet_head_free(head);
        return added;
    }
    if (photos.count == 0) {
        cli_photos_free(&photos);
        resnet_head_free(head);
        return cli_error("no photos found in %s", nargs == 1 ? args[0] : "the folders given");
    }
    /* the head is read as the weights are: --force never covers it either */
    const char *const inputs[1] = {head_path};
    if (report && cli_check_output(report, RN_KIND_REPORT, c, photos.paths, photos.count, inputs, head_path ? 1 : 0) != 0) {
        cli_photos_free(&photos);
        resnet_head_free(head);
        return 1;
    }
    run_ctx x = {0};
    resnet_session *s = NULL;
    int rc = 1, nc = 0;
    /* with --head the features go to the head: a backbone does */
    resnet_model *model = head ? cli_load_model(c) : cli_load_classifier(c, "classify");
    if (!model) goto done;
    if (head && resnet_head_dim(head) != resnet_model_feature_dim(model)) {
        cli_error("%s: the head takes %d features, the network gives %d", head_path, resnet_head_dim(head),
                  resnet_model_feature_dim(model));
        goto done;
    }
    nc = head ? resnet_head_classes(head) : resnet_model_classes(model);
    x.model = model;
    x.k = k;
    x.json = json;
    x.head = head;
    x.folder_mode = photos.folders > 0;
    x.probs = malloc((size_t)nc * sizeof(float));
    x.logits = malloc((size_t)nc * sizeof(float));
    x.top = malloc((size_t)nc * sizeof *x.top);
    x.top1_count = calloc((size_t)nc, sizeof *x.top1_count);
    if (report) {
        x.sheet_top1 = malloc((size_t)photos.count * sizeof *x.sheet_top1);
        x.sheet_prob = calloc((size_t)photos.count, sizeof *x.sheet_prob);
        for (int i = 0; x.sheet_top1 && i < photos.count; i++) x.sheet_top1[i] = -1;
    }
    if (!x.probs || !x.logits || !x.top || !x.top1_count || (report && (!x.sheet_top1 || !x.sheet_prob))) {
        cli_error("out of memory");
        goto done;
    }
    if (head && strcmp(resnet_head_backbone(head), "") != 0) {
        /* train-head records the key its feature cache uses (the weights, and the photo
         * settings such as --exif-orientation that change the features); compared with the
         * weights' fingerprint alone, a head trained with --exif-orientation was called one of
         * other weights when used with it, and one trained without it passed without */
        char fp[32];
        snprintf(fp, sizeof fp, "%016llx", cli_cache_key(model, c));
        if (!strstr(resnet_head_backbone(head), fp))
            cli_error("warning: %s was trained on other features (%s: other weights, --size, --output-stride or "
                      "--exif-orientation); its answers may be wrong",
                      head_path, resnet_head_backbone(head));
    }
    /* with views: one photo's views per pass, as a single photo runs them */
    int batch = tta == RESNET_TTA_NONE ? CLI_BATCH : resnet_tta_views(tta, NULL);
    if (photos.count < batch && tta == RESNET_TTA_NONE) batch = photos.count;
    if (!(s = cli_session(model, c, batch))) goto done;
    double t0 = cli_now();
    cli_progress_start(&x.bar, x.folder_mode ? photos.count : 0, "photos");
    if (cli_run_photos(s, photos.paths, photos.errors, photos.count, tta,
                       head ? RESNET_WANT_FEATURES : RESNET_WANT_PROBS | RESNET_WANT_LOGITS, on_result, &x, &err) != RESNET_OK) {
        cli_progress_clear(&x.bar);
        cli_error("%s", err.message);
        goto done;
    }
    cli_progress_clear(&x.bar);
    if (x.folder_mode) summary(&x, photos.count, photos.problems, nc, cli_now() - t0);
    rc = x.failed || photos.problems || photos.empty ? 1 : 0;
    if (report) {
        classify_sheet sheet = {photos.count, nc, photos.paths, x.sheet_top1, x.sheet_prob, sheet_name, &x};
        if (classify_report_html(report, &sheet, c->image_flags) != 0) rc = 1;
    }
done:
    resnet_session_free(s);
    resnet_model_free(model);
    resnet_head_free(head);
    cli_photos_free(&photos);
    free(x.probs);
    free(x.logits);
    free(x.top);
    free(x.top1_count);
    free(x.sheet_top1);
    free(x.sheet_prob);
    return rc;
}

int cmd_classify(int argc, char **argv) {
    /* -k is not bound by ImageNet's 1000: a network may have more classes; more than it has
     * prints them all */
    cli_common common = {.top = 5, .top_max = 1000000};
    const char *head = NULL; /* --head FILE: a trained head's classes instead of ImageNet's */
    const char *report = NULL;
    int c;
    optind = 0;
    while ((c = cli_getopt(&cli_classify, argc, argv, &common)) != CLI_END) {
        if (c == OPT_HEAD) {
            if (!*optarg) return cli_usage_error("--head needs a file");
            head = optarg;
        }
        else if (c == OPT_REPORT) {
            if (cli_output_arg("--report", optarg) != 0) return 2;
            report = optarg;
        } else {
            return CLI_EXIT_STATUS(c);
        }
    }
    if (optind == argc) return cli_usage_error("classify: no photo given");
    return classify(&common, argv + optind, argc - optind, head, report);
}
