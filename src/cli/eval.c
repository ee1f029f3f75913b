/* eval.c - `resnet eval DIR`: classify every labelled photo of a folder and report accuracy.
 *
 * The photos go through the library's runner (resnet_run): it decodes and preprocesses the
 * next photos (every view of each) on its own thread while the network runs the current
 * batch, and hands back each photo's averaged probabilities in the order of the set, on this
 * thread, which counts them and does all printing, so messages, predictions and the progress
 * bar never interleave.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/eval.h"

/* ---- the command ------------------------------------------------------------------------ */

typedef struct eval_opts {
    cli_common common;
    const char *dir, *predictions, *report;
    resnet_tta tta;
    int batch, json;
} eval_opts;

/* Context of the warnings: printed at once (clearing the bar) and kept for the JSON report. */
typedef struct reporter {
    cli_progress *bar;
    eval_tally *tally;
} reporter;

static void report_problem(void *ctx, const char *file, const char *message) {
    reporter *r = ctx;
    if (r->bar) cli_progress_clear(r->bar);
    /* decoder messages already start with the file name */
    size_t len = strlen(file);
    if (strncmp(message, file, len) == 0 && message[len] == ':') cli_error("%s", message);
    else cli_error("%s: %s", file, message);
    if (r->tally) eval_tally_error(r->tally, file, message);
}

enum { OPT_BATCH = CLI_OPT_FIRST_OWN, OPT_PREDICTIONS, OPT_REPORT };

static const cli_option options[] = {
    CLI_OPTION_TTA,
    CLI_OPTION_INT("batch", "N", OPT_BATCH, 1, 256,
                   "network images per forward pass, views included (default 8)"),
    CLI_OPTION_JSON("the report as one JSON object, with one record per listed photo\n"
                    "in order (\"records\": {\"file\", \"label\", \"top\"} or\n"
                    "{\"file\", \"label\", \"error\"})"),
    CLI_OPTION("predictions", 0, "FILE", OPT_PREDICTIONS, "one line per photo: file, label, top1, top1_prob, top5"),
    CLI_OPTION("report", 0, "OUT.html", OPT_REPORT,
               "a self-contained HTML page: accuracy with intervals, calibration,\n"
               "per-class accuracy, confusions and confident mistakes with pictures"),
    CLI_OPTION_FORCE,
    {0},
};

const cli_command cli_eval = {
    .name = "eval", .run = cmd_eval, .synopsis = "DIR",
    .brief = "top-1/top-5 accuracy on a folder of labelled photos",
    .about = "Classifies every labelled photo of DIR and reports top-1 and top-5 accuracy against the\n"
             "network's classes. Labels come from DIR/labels.tsv (file, class; -1 = unlabelled) or from\n"
             "one folder per class. A class is its index (digits only), one of the network's class\n"
             "names (any case, '_' for a space) or, for ImageNet's classes, a WordNet id.",
    .notes = "exit status: 0 all scored, 1 some skipped (each named on stderr) or nothing to score,\n"
             "2 usage error\n",
    .options = options, .network = 1,
};

static int parse_args(int argc, char **argv, eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->batch = 8;
    int c;
    optind = 0;
    while ((c = cli_getopt(&cli_eval, argc, argv, &o->common)) != CLI_END) {
        switch (c) {
        case OPT_BATCH: o->batch = cli_optint; break;
        case OPT_PREDICTIONS:
            if (cli_output_arg("--predictions", optarg) != 0) return 2;
            o->predictions = optarg;
            break;
        case OPT_REPORT:
            if (cli_output_arg("--report", optarg) != 0) return 2;
            o->report = optarg;
            break;
        default: return c == CLI_EXIT_HELP ? -1 : 2;
        }
    }
    o->json = o->common.json;
    o->tta = o->common.tta;
    if (argc - optind > 1) return cli_usage_error("eval: one folder at a time ('%s' and '%s')", argv[optind], argv[optind + 1]);
    if (optind == argc) return cli_usage_error("eval: no folder given");
    o->dir = argv[optind];
    if (o->report && o->predictions && rn_same_output(o->report, o->predictions))
        return cli_usage_error("--report and --predictions name the same file");
    return 0;
}

/* An output of eval (--predictions, --report) is never one of the photos, labels.tsv or the
 * weights; the photos the set does not score (unlabelled rows, files in no class folder) are
 * the user's too. 0, or 1 after saying why. */
static int check_out(const eval_opts *o, const eval_set *set, const char *out, rn_file_kind kind) {
    resnet_file_list all = {0};
    resnet_error lerr;
    if (resnet_list_images(o->dir, &all, &lerr) != RESNET_OK) memset(&all, 0, sizeof all);
    char **paths = malloc(((size_t)set->n + (size_t)all.count + 1) * sizeof *paths);
    char *tsv = malloc(strlen(o->dir) + sizeof "/labels.tsv");
    int bad = !paths || !tsv;
    if (!bad) {
        for (int i = 0; i < set->n; i++) paths[i] = set->items[i].path;
        for (int i = 0; i < all.count; i++) paths[set->n + i] = all.paths[i];
        sprintf(tsv, "%s/labels.tsv", o->dir);
        const char *extra[1] = {tsv};
        bad = cli_check_output(out, kind, &o->common, paths, set->n + all.count, extra, 1) != 0;
    } else {
        cli_error("out of memory");
    }
    resnet_file_list_free(&all);
    free(paths);
    free(tsv);
    return bad;
}

/* --predictions goes through the atomic writer (io/atomic.h): a temporary beside FILE,
 * renamed over it when complete, removed on errors and on Ctrl-C or kill, so an interrupted
 * run never leaves half a file under the name the user gave. */
static int out_open(rn_atomic_file *o, const char *path) {
    resnet_error err;
    if (rn_atomic_open(o, path, &err) != RESNET_OK) return cli_error("--predictions %s", err.message);
    if (!rn_atomic_stdio(o, &err)) {
        rn_atomic_abort(o);
        return cli_error("--predictions %s", err.message);
    }
    return 0;
}

/* keep: rename into place (0 on success); otherwise remove the temporary. */
static int out_close(rn_atomic_file *o, int keep) {
    if (!o->tmp) return 0;
    resnet_error err;
    if (!keep) {
        rn_atomic_abort(o);
        return 0;
    }
    if (rn_atomic_commit(o, &err) != RESNET_OK) return cli_error("--predictions %s", err.message);
    return 0;
}

/* The set as the runner's source (called on its decoding thread). */
typedef struct set_source {
    const eval_set *set;
    int next;
} set_source;

static int next_item(void *ctx, int may_block, resnet_item *item) {
    set_source *src = ctx;
    (void)may_block;
    if (src->next == src->set->n) return RESNET_SOURCE_END;
    item->path = src->set->items[src->next++].path;
    return RESNET_SOURCE_ITEM;
}

/* Counts and prints the photos as the runner hands them back, in the order of the set. */
typedef struct eval_sink {
    const eval_classes *cls;
    const eval_set *set;
    eval_tally *tally;
    reporter *rep;
    FILE *pred;
    float *plain; /* the plain view's probabilities (one per class) */
    double net;   /* seconds inside resnet_forward */
} eval_sink;

static void on_batch(void *ctx, int items, int rows, double seconds) {
    (void)items, (void)rows;
    ((eval_sink *)ctx)->net += seconds;
}

static int on_photo(void *ctx, const resnet_item_result *r) {
    eval_sink *x = ctx;
    const eval_item *it = &x->set->items[r->index];
    if (r->status != RESNET_OK) { /* unreadable, or no finite answer: an error, not a wrong answer */
        report_problem(x->rep, it->path, r->message);
        eval_tally_record_error(x->tally, r->index, r->message);
        x->tally->failed++;
    } else {
        resnet_prediction top[5], plain_top[5];
        eval_top(x->cls, r->probs, r->logits, r->views, top);
        eval_tally_add(x->tally, it->label, top);
        eval_tally_record(x->tally, r->index, top);
        if (r->logits && r->views > 1) { /* the plain view is every mode's first */
            resnet_softmax(r->logits, x->cls->n, x->plain);
            eval_top(x->cls, x->plain, r->logits, 1, plain_top);
            eval_tally_record_plain(x->tally, r->index, plain_top);
        }
        if (x->pred) eval_predictions_line(x->pred, it->name, it->label, top);
    }
    cli_progress_update(x->rep->bar, r->index + 1);
    return 0;
}

int cmd_eval(int argc, char **argv) {
    eval_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc; /* -1: --help */

    /* The network first: its classes say what the set's labels mean. */
    const int nviews = resnet_tta_views(o.tta, NULL);
    /* --batch counts network images; a photo's views never split across batches. */
    const int photos_per_batch = o.batch / nviews > 0 ? o.batch / nviews : 1;
    eval_classes cls = {0};
    eval_tally tally = {0};
    eval_set set = {0};
    cli_progress bar = {0};
    reporter rep = {&bar, &tally};
    resnet_session *session = NULL;
    rn_atomic_file pred = {.fd = -1, .slot = -1};
    float *plain = NULL;
    int completed = 0; /* every photo went through: the report and predictions are whole */
    reporter early = {NULL, NULL};
    if (eval_set_check_dir(o.dir, report_problem, &early) != 0) return 1;
    resnet_model *model = cli_load_classifier(&o.common, "eval");
    if (!model || !(session = cli_session(model, &o.common, photos_per_batch * nviews))) {
        rc = 1;
        goto done;
    }
    /* One output is a binary classifier's logit: its top-1 is that class for every photo, so
     * top-1 accuracy would count the share of photos labelled with it, whatever the network
     * answered. Scoring it as a yes/no at p >= 0.5 would need labels for "not that class",
     * which no folder of this layout names: refused rather than a number that means nothing. */
    if (resnet_model_classes(model) == 1) {
        char buf[PATH_MAX];
        rc = cli_error("%s: has one output (a binary classifier: its sigmoid is the probability of its class): "
                       "eval scores top-1 among 2 or more classes; classify --json gives each photo's probability",
                       cli_weights_path(&o.common, buf, sizeof buf));
        goto done;
    }
    if (eval_classes_init(&cls, model) != 0 || eval_tally_init(&tally, &cls) != 0 ||
        !(plain = malloc((size_t)cls.n * sizeof *plain))) {
        rc = cli_error("out of memory");
        goto done;
    }
    if (eval_set_load(o.dir, &cls, &set, report_problem, &rep) != 0) {
        rc = 1;
        goto done;
    }
    /* as train-head says of the same tree: photos left beside the class folders have no class
     * and are not scored, which the count alone would not tell */
    if (set.loose)
        cli_error("warning: %d file%s directly in %s ignored (photos go in one folder per class)", set.loose,
                  set.loose == 1 ? "" : "s", o.dir);
    if ((o.json || o.report) && eval_tally_records(&tally, set.n) != 0) {
        rc = cli_error("out of memory");
        goto done;
    }
    if ((o.predictions && check_out(&o, &set, o.predictions, RN_KIND_PREDICTIONS)) ||
        (o.report && check_out(&o, &set, o.report, RN_KIND_REPORT))) {
        rc = 1;
        goto done;
    }
    if (o.predictions && (rc = out_open(&pred, o.predictions)) != 0) goto done;
    if (pred.fp) eval_predictions_header(pred.fp);

    cli_progress_start(&bar, set.n, "photos");
    set_source src = {&set, 0};
    eval_sink sink = {&cls, &set, &tally, &rep, pred.fp, plain, 0};
    resnet_run_options ro;
    resnet_run_options_init(&ro);
    /* the logits rank what the softmax underflowed to 0, and give the report each photo's plain view */
    ro.want = RESNET_WANT_PROBS | RESNET_WANT_LOGITS;
    ro.tta = o.tta;
    ro.on_batch = on_batch;
    ro.batch_ctx = &sink;
    resnet_error err;
    double t0 = cli_now();
    if (resnet_run(session, next_item, &src, on_photo, &sink, &ro, &err) != RESNET_OK) {
        cli_progress_clear(&bar);
        rc = cli_error("%s", err.message);
    }
    double seconds = cli_now() - t0;
    cli_progress_clear(&bar);
    completed = rc == 0;
    if (completed) {
        char kernels[64]; /* an int8 model runs every convolution and the fc in int8, as bench says */
        if (resnet_model_precision(model) == RESNET_PRECISION_INT8)
            snprintf(kernels, sizeof kernels, "int8 %s (every convolution and the fc)",
                     resnet_model_int8_kernels(model));
        else if (resnet_model_precision(model) == RESNET_PRECISION_BF16) {
            const char *k16 = resnet_kernels_bf16_name(resnet_model_kernels(model));
            snprintf(kernels, sizeof kernels, "bf16 %s%s%s", resnet_kernels_name(resnet_model_kernels(model)),
                     k16 ? " + " : " (bf16 weights)", k16 ? k16 : "");
        }
        else
            snprintf(kernels, sizeof kernels, "%s", resnet_kernels_name(resnet_model_kernels(model)));
        eval_run run = {.dir = o.dir, .source = set.source, .tta = o.tta, .views = nviews,
                        .batch = photos_per_batch * nviews, .threads = resnet_session_threads(session),
                        .kernels = kernels,
                        .skipped = set.skipped + tally.failed, .unlabelled = set.unlabelled,
                        .ignored = set.ignored, .seconds = seconds, .network_seconds = sink.net};
        if (o.json) eval_report_json(stdout, &run, &tally, &set);
        else eval_report_text(stdout, &run, &tally);
        fflush(stdout);
        if (o.report) {
            char wbuf[PATH_MAX];
            eval_html_info info = {cli_weights_path(&o.common, wbuf, sizeof wbuf),
                                   resnet_precision_name(resnet_model_precision(model)), o.common.image_flags};
            if (eval_report_html(o.report, &run, &tally, &set, &info, model, session) != 0) rc = 1;
        }
        /* Exit 1 when anything listed could not be scored; unlabelled rows are not errors. */
        if (run.skipped > 0) rc = 1;
        else if (tally.images == 0 && set.unlabelled) /* nothing was named on stderr: say why it failed */
            rc = cli_error("%s: nothing to score: every listed photo (%d) is unlabelled (class -1)", o.dir,
                           set.unlabelled);
        else if (tally.images == 0)
            rc = cli_error("%s: nothing to score: no labelled photo (labels from %s)", o.dir, set.source);
    }
done:
    /* written out even when some photos were skipped, but not after a network failure */
    if (out_close(&pred, completed) != 0) rc = 1;
    resnet_session_free(session);
    resnet_model_free(model);
    eval_set_free(&set);
    eval_tally_free(&tally);
    eval_classes_free(&cls);
    free(plain);
    return rc;
}
