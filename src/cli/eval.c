/* eval.c - `resnet eval DIR`: classify every labelled photo of a folder and report accuracy.
 *
 * The pipeline has two stages. A producer thread decodes and preprocesses the photos of the
 * next batch (every view of each) while the network runs the current one, so the network
 * never waits for JPEG decoding or resizing: two batch buffers pass between the threads. The
 * main thread runs the network, counts the results, and does all printing, in the order of
 * the set, so messages, predictions and the progress bar never interleave.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common.h"
#include "image/image.h"
#include "cli/eval.h"

#define IN_FLOATS ((size_t)3 * RESNET_INPUT_SIZE * RESNET_INPUT_SIZE)
#define NSLOTS 2 /* one batch being filled while one runs */

/* ---- one batch buffer --------------------------------------------------------------- */

typedef struct failure {
    int item;
    char message[sizeof(((resnet_error *)0)->message)];
} failure;

typedef struct slot {
    float *input;    /* photos x views x 3x224x224 */
    int *item;       /* the set's index of each photo in the batch */
    int n;           /* photos preprocessed into it */
    failure *failed; /* photos of this stretch of the set that could not be read */
    int nfailed, capfailed;
    int covered;     /* photos of the set this batch accounts for: n + nfailed */
    int ready;       /* filled, waiting for the network */
} slot;

typedef struct pipeline {
    const eval_set *set;
    const resnet_view *views;
    int nviews, photos_per_batch;
    resnet_norm norm;
    unsigned image_flags; /* RESNET_IMAGE_*: --exif-orientation */
    slot slots[NSLOTS];
    int done;     /* the producer has handed over every photo */
    int stop;     /* the consumer gave up: the producer must end */
    pthread_mutex_t mu;
    pthread_cond_t cv;
} pipeline;

static void add_failure(slot *s, int item, const char *message) {
    if (s->nfailed == s->capfailed) {
        int cap = s->capfailed ? s->capfailed * 2 : 8;
        failure *p = realloc(s->failed, (size_t)cap * sizeof *p);
        if (!p) return; /* out of memory: the photo is still counted in `covered` */
        s->failed = p;
        s->capfailed = cap;
    }
    failure *f = &s->failed[s->nfailed++];
    f->item = item;
    snprintf(f->message, sizeof f->message, "%s", message);
}

/* The producer: fills the slots in turn with the next photos of the set. */
static void *producer(void *arg) {
    pipeline *pl = arg;
    int next = 0;
    for (int k = 0; next < pl->set->n; k = (k + 1) % NSLOTS) {
        slot *s = &pl->slots[k];
        pthread_mutex_lock(&pl->mu);
        while (s->ready && !pl->stop) pthread_cond_wait(&pl->cv, &pl->mu);
        int stop = pl->stop;
        pthread_mutex_unlock(&pl->mu);
        if (stop) return NULL;
        s->n = s->nfailed = s->covered = 0;
        /* A batch closes when it holds photos_per_batch photos; unreadable photos ride along
         * as failures, so a folder of broken files still moves on (and is reported in order). */
        while (s->n < pl->photos_per_batch && next < pl->set->n) {
            const eval_item *it = &pl->set->items[next];
            resnet_error err;
            float *dst = s->input + (size_t)s->n * pl->nviews * IN_FLOATS;
            if (rn_preprocess_views_file_ex(it->path, pl->norm, pl->image_flags, pl->views, pl->nviews, dst, &err) ==
                RESNET_OK)
                s->item[s->n++] = next;
            else
                add_failure(s, next, err.message);
            s->covered++;
            next++;
        }
        pthread_mutex_lock(&pl->mu);
        s->ready = 1;
        pthread_cond_broadcast(&pl->cv);
        pthread_mutex_unlock(&pl->mu);
    }
    pthread_mutex_lock(&pl->mu);
    pl->done = 1;
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

/* ---- the command ------------------------------------------------------------------------ */

typedef struct eval_opts {
    cli_common common;
    const char *dir, *predictions;
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

enum { OPT_BATCH = CLI_OPT_FIRST_OWN, OPT_PREDICTIONS };

static const cli_option options[] = {
    CLI_OPTION_TTA,
    CLI_OPTION_INT("batch", "N", OPT_BATCH, 1, 256,
                   "network images per forward pass, views included (default 8)"),
    CLI_OPTION_JSON("the report as one JSON object, with one record per listed photo\n"
                    "in order (\"records\": {\"file\", \"label\", \"top\"} or\n"
                    "{\"file\", \"label\", \"error\"})"),
    CLI_OPTION("predictions", 0, "FILE", OPT_PREDICTIONS, "one line per photo: file, label, top1, top1_prob, top5"),
    CLI_OPTION_FORCE,
    {0},
};

const cli_command cli_eval = {
    .name = "eval", .run = cmd_eval, .synopsis = "DIR",
    .brief = "top-1/top-5 accuracy on a folder of labelled photos",
    .about = "Classifies every labelled photo of DIR and reports top-1 and top-5 accuracy. Labels come\n"
             "from DIR/labels.tsv (file, class index; -1 = unlabelled) or from one folder per class\n"
             "(WordNet id or index).",
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
            if (!*optarg) return cli_usage_error("--predictions needs a file name");
            o->predictions = optarg;
            break;
        default: return c == CLI_EXIT_HELP ? -1 : 2;
        }
    }
    o->json = o->common.json;
    o->tta = o->common.tta;
    if (argc - optind > 1) return cli_usage_error("eval: one folder at a time ('%s' and '%s')", argv[optind], argv[optind + 1]);
    if (optind == argc) return cli_usage_error("eval: no folder given");
    o->dir = argv[optind];
    return 0;
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

static void slots_free(pipeline *pl) {
    for (int k = 0; k < NSLOTS; k++) {
        free(pl->slots[k].input);
        free(pl->slots[k].item);
        free(pl->slots[k].failed);
    }
}

static int slots_alloc(pipeline *pl) {
    const size_t floats = (size_t)pl->photos_per_batch * pl->nviews * IN_FLOATS;
    for (int k = 0; k < NSLOTS; k++) {
        pl->slots[k].input = malloc(floats * sizeof(float));
        pl->slots[k].item = malloc((size_t)pl->photos_per_batch * sizeof(int));
        if (!pl->slots[k].input || !pl->slots[k].item) return -1;
    }
    return 0;
}

/* Runs the network on every batch the producer hands over; 0, or 1 if the network failed. */
static int consume(pipeline *pl, resnet_session *s, eval_tally *tally, reporter *rep, FILE *pred, double *net) {
    const int nv = pl->nviews;
    float *logits = malloc((size_t)pl->photos_per_batch * nv * RESNET_NUM_CLASSES * sizeof(float));
    if (!logits) return cli_error("out of memory");
    int covered = 0, rc = 0;
    for (int k = 0;; k = (k + 1) % NSLOTS) {
        slot *sl = &pl->slots[k];
        pthread_mutex_lock(&pl->mu);
        while (!sl->ready && !pl->done) pthread_cond_wait(&pl->cv, &pl->mu);
        int have = sl->ready;
        pthread_mutex_unlock(&pl->mu);
        if (!have) break; /* done, and nothing left in this slot: slots are filled in turn */
        for (int i = 0; i < sl->nfailed; i++) {
            report_problem(rep, pl->set->items[sl->failed[i].item].path, sl->failed[i].message);
            eval_tally_record_error(tally, sl->failed[i].item, sl->failed[i].message);
        }
        if (sl->n > 0) {
            resnet_error err;
            double t0 = cli_now();
            /* All views of the batch's photos go through the network together. */
            if (resnet_forward(s, sl->input, sl->n * nv, logits, NULL, &err) != RESNET_OK) {
                cli_progress_clear(rep->bar);
                rc = cli_error("%s", err.message);
                break;
            }
            *net += cli_now() - t0;
            for (int i = 0; i < sl->n; i++) {
                const eval_item *it = &pl->set->items[sl->item[i]];
                float *probs = logits + (size_t)i * nv * RESNET_NUM_CLASSES;
                const char *bad = rn_logits_problem(probs, nv);
                if (bad) { /* an error, not a wrong answer */
                    report_problem(rep, it->path, bad);
                    tally->failed++;
                    continue;
                }
                resnet_tta_average(probs, nv, probs);
                resnet_prediction top[5];
                resnet_top_k(probs, RESNET_NUM_CLASSES, 5, top);
                eval_tally_add(tally, it->label, top);
                eval_tally_record(tally, sl->item[i], top);
                if (pred) eval_predictions_line(pred, it->name, it->label, top);
            }
        }
        tally->failed += sl->covered - sl->n;
        covered += sl->covered;
        cli_progress_update(rep->bar, covered);
        pthread_mutex_lock(&pl->mu);
        sl->ready = 0;
        pthread_cond_broadcast(&pl->cv);
        pthread_mutex_unlock(&pl->mu);
    }
    free(logits);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    eval_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc; /* -1: --help */

    eval_tally tally;
    if (eval_tally_init(&tally) != 0) return cli_error("out of memory");
    cli_progress bar = {0};
    reporter rep = {&bar, &tally};
    eval_set set;
    if (eval_set_load(o.dir, &set, report_problem, &rep) != 0) {
        eval_set_free(&set);
        eval_tally_free(&tally);
        return 1;
    }
    if (o.json && eval_tally_records(&tally, set.n) != 0) {
        eval_set_free(&set);
        eval_tally_free(&tally);
        return cli_error("out of memory");
    }

    if (o.predictions) {
        /* never one of the photos, labels.tsv or the weights; the photos the set does not
         * score (unlabelled rows, files in no class folder) are the user's too */
        resnet_file_list all = {0};
        resnet_error lerr;
        if (resnet_list_images(o.dir, &all, &lerr) != RESNET_OK) memset(&all, 0, sizeof all);
        char **paths = malloc(((size_t)set.n + (size_t)all.count + 1) * sizeof *paths);
        char *tsv = malloc(strlen(o.dir) + sizeof "/labels.tsv");
        int bad = !paths || !tsv;
        if (!bad) {
            for (int i = 0; i < set.n; i++) paths[i] = set.items[i].path;
            for (int i = 0; i < all.count; i++) paths[set.n + i] = all.paths[i];
            sprintf(tsv, "%s/labels.tsv", o.dir);
            const char *extra[1] = {tsv};
            bad = cli_check_output(o.predictions, RN_KIND_PREDICTIONS, &o.common, paths, set.n + all.count, extra, 1) != 0;
        } else {
            cli_error("out of memory");
        }
        resnet_file_list_free(&all);
        free(paths);
        free(tsv);
        if (bad) {
            eval_set_free(&set);
            eval_tally_free(&tally);
            return 1;
        }
    }
    resnet_view views[RESNET_TTA_MAX_VIEWS];
    pipeline pl = {.set = &set, .views = views, .nviews = resnet_tta_views(o.tta, views)};
    /* --batch counts network images; a photo's views never split across batches. */
    pl.photos_per_batch = o.batch / pl.nviews > 0 ? o.batch / pl.nviews : 1;
    resnet_model *model = cli_load_model(&o.common);
    resnet_session *session = NULL;
    rn_atomic_file pred = {.fd = -1, .slot = -1};
    int completed = 0; /* every photo went through: the report and predictions are whole */
    if (!model) {
        rc = 1;
        goto done;
    }
    pl.norm = resnet_model_norm(model);
    pl.image_flags = o.common.image_flags;
    resnet_error err;
    if (resnet_session_create(model, o.common.threads, pl.photos_per_batch * pl.nviews, &session, &err) != RESNET_OK) {
        rc = cli_error("%s", err.message);
        goto done;
    }
    if (slots_alloc(&pl) != 0) {
        rc = cli_error("out of memory for batches of %d photos x %d views", pl.photos_per_batch, pl.nviews);
        goto done;
    }
    if (o.predictions && (rc = out_open(&pred, o.predictions)) != 0) goto done;
    if (pred.fp) eval_predictions_header(pred.fp);

    cli_progress_start(&bar, set.n, "photos");
    pthread_mutex_init(&pl.mu, NULL);
    pthread_cond_init(&pl.cv, NULL);
    pthread_t thread;
    double t0 = cli_now(), net = 0;
    if (pthread_create(&thread, NULL, producer, &pl) != 0) {
        rc = cli_error("cannot start the decoding thread");
    } else {
        rc = consume(&pl, session, &tally, &rep, pred.fp, &net);
        pthread_mutex_lock(&pl.mu);
        pl.stop = 1; /* if the network failed, the producer may be waiting for a free slot */
        pthread_cond_broadcast(&pl.cv);
        pthread_mutex_unlock(&pl.mu);
        pthread_join(thread, NULL);
    }
    double seconds = cli_now() - t0;
    pthread_cond_destroy(&pl.cv);
    pthread_mutex_destroy(&pl.mu);
    cli_progress_clear(&bar);
    completed = rc == 0;
    if (completed) {
        char kernels[64]; /* an int8 model: both families, the int8 one first */
        if (resnet_model_precision(model) == RESNET_PRECISION_INT8)
            snprintf(kernels, sizeof kernels, "int8 %s + fp32 %s", resnet_model_int8_kernels(model),
                     resnet_kernels_name(resnet_model_kernels(model)));
        else
            snprintf(kernels, sizeof kernels, "%s", resnet_kernels_name(resnet_model_kernels(model)));
        eval_run run = {.dir = o.dir, .source = set.source, .tta = o.tta, .views = pl.nviews,
                        .batch = pl.photos_per_batch * pl.nviews, .threads = resnet_session_threads(session),
                        .kernels = kernels,
                        .skipped = set.skipped + tally.failed, .unlabelled = set.unlabelled,
                        .ignored = set.ignored, .seconds = seconds, .network_seconds = net};
        if (o.json) eval_report_json(stdout, &run, &tally, &set);
        else eval_report_text(stdout, &run, &tally);
        fflush(stdout);
        /* Exit 1 when anything listed could not be scored; unlabelled rows are not errors. */
        if (run.skipped > 0 || tally.images == 0) rc = 1;
    }
done:
    /* written out even when some photos were skipped, but not after a network failure */
    if (out_close(&pred, completed) != 0) rc = 1;
    slots_free(&pl);
    resnet_session_free(session);
    resnet_model_free(model);
    eval_set_free(&set);
    eval_tally_free(&tally);
    return rc;
}
