/* train_head.c - `resnet train-head DIR -o HEAD`: a new final layer for the classes of a
 * folder-per-class tree (DIR/<class name>/...photos..., any depth below the class folder: the
 * rule of io/walk.h, which eval follows too).
 * The features of every photo are computed once and cached (see featcache.c), so training
 * again with other settings takes seconds. */
#include <stdlib.h>
#include <string.h>

#include "cli/featcache.h"
#include "io/json.h"
#include "walk.h"


typedef struct klass {
    char *name;
    int first, count; /* its photos in the combined list */
} klass;

static void on_progress(void *ctx, int iter, float tl, float ta, float vl, float va) {
    cli_progress *p = ctx;
    if (!p->enabled) return;
    fprintf(stderr, "\r\033[Kiteration %d: train loss %.4f, accuracy %.1f%%; validation loss %.4f, accuracy %.1f%%",
            iter, tl, 100.0 * ta, vl, 100.0 * va);
    fflush(stderr);
    p->shown = 1;
}

static int parse_float(const char *flag, const char *v, double lo, double hi, float *out) {
    double d;
    if (cli_parse_double(flag, v, lo, hi, &d) != 0) return -1;
    *out = (float)d;
    return 0;
}

enum { OPT_L2 = CLI_OPT_FIRST_OWN, OPT_VAL, OPT_MAX_ITERS, OPT_PATIENCE, OPT_SEED, OPT_NO_L2NORM };

static const cli_option options[] = {
    CLI_OPTION_OUTPUT("FILE", "the head to write, safetensors (required)"),
    CLI_OPTION("l2", 0, "X", OPT_L2, "L2 penalty (default 0.001)"),
    CLI_OPTION("val", 0, "F", OPT_VAL, "share of each class held out for validation (default 0.2)"),
    CLI_OPTION_INT("max-iters", "N", OPT_MAX_ITERS, 1, 100000, "L-BFGS iterations at most (default 500)"),
    CLI_OPTION_INT("patience", "N", OPT_PATIENCE, 1, 100000,
                   "stop after N without a better validation loss (default 20)"),
    CLI_OPTION_INT("seed", "N", OPT_SEED, 0, 2147483647, "of the split (default 1)"),
    CLI_OPTION("no-l2norm", 0, NULL, OPT_NO_L2NORM, "raw features (default: L2-normalised)"),
    CLI_OPTION_NO_CACHE,
    CLI_OPTION_FORCE,
    {0},
};

const cli_command cli_train_head = {
    .name = "train-head", .run = cmd_train_head, .synopsis = "-o HEAD.safetensors DIR",
    .brief = "a new final layer for your own classes (DIR/<class>/<photos>)",
    .about = "Trains a new final layer for the classes of DIR/<class name>/<photos>: logistic\n"
             "regression on the (cached) features, early-stopped on a held-out share.",
    .options = options, .network = 1,
};

int cmd_train_head(int argc, char **argv) {
    cli_common common = {0};
    const char *dir = NULL;
    int c;
    resnet_train_options opts;
    resnet_train_options_init(&opts);
    optind = 0;
    while ((c = cli_getopt(&cli_train_head, argc, argv, &common)) != CLI_END) {
        int bad = 0;
        switch (c) {
        case OPT_L2: bad = parse_float("--l2", optarg, 0, 1e3, &opts.l2); break;
        case OPT_VAL: bad = parse_float("--val", optarg, 0, 0.9, &opts.val_fraction); break;
        case OPT_MAX_ITERS: opts.max_iters = cli_optint; break;
        case OPT_PATIENCE: opts.patience = cli_optint; break;
        case OPT_SEED: opts.seed = (unsigned)cli_optint; break;
        case OPT_NO_L2NORM: opts.l2_normalize = 0; break;
        default: return CLI_EXIT_STATUS(c);
        }
        if (bad) return 2;
    }
    const char *out = common.output;
    const int use_cache = !common.no_cache;
    if (argc - optind > 1) return cli_usage_error("train-head: one folder expected, '%s' is a second", argv[optind + 1]);
    if (optind < argc) dir = argv[optind];
    if (!dir) return cli_usage_error("train-head: no folder given (one subfolder of photos per class)");
    if (!out || !*out) return cli_usage_error("train-head: -o HEAD.safetensors is required");
    if (!cli_is_dir(dir)) return cli_error("%s: not a folder", dir);

    klass *cls = NULL;
    int ncls = 0, rc = 1;
    cli_photos photos = {0};
    resnet_model *model = NULL;
    resnet_session *s = NULL;
    featcache *cache = NULL;
    float *feats = NULL;
    char *ok = NULL;
    int *labels = NULL;
    const char **names = NULL;
    resnet_head *head = NULL;
    rn_class_tree tree = {0};
    resnet_error werr;
    if (rn_list_classes(dir, RN_CLASSES_ANY, &tree, &werr) != RESNET_OK) {
        cli_error("%s", werr.message);
        goto done;
    }
    if (tree.loose)
        cli_error("warning: %d file%s directly in %s ignored (photos go in one folder per class)", tree.loose,
                  tree.loose == 1 ? "" : "s", dir);
    cls = calloc(tree.n ? (size_t)tree.n : 1, sizeof *cls);
    int kept = 0, oom = !cls, bad_name = 0;
    for (int c = 0; !oom && c < tree.n; c++) {
        const rn_class_folder *f = &tree.folders[c];
        for (int j = 0; j < f->photos.n_problems; j++) cli_error("%s", f->photos.problems[j]);
        photos.problems += f->photos.n_problems;
        if (f->photos.count == 0) {
            cli_error("warning: class folder '%s' has no photos; skipped", f->name);
            continue;
        }
        /* the head stores its class names as UTF-8 text: said now, naming the folder, not as
         * "class N" once every feature has been computed */
        if (!rn_utf8_valid(f->name, strlen(f->name))) {
            cli_error("%s: a class folder's name must be UTF-8 text (it is the class's name): rename it", f->path);
            bad_name = 1;
            break;
        }
        const int before = photos.count;
        if (cli_photos_add(&photos, f->photos.paths, f->photos.count) != 0 || !(cls[kept].name = strdup(f->name))) {
            oom = 1;
            break;
        }
        cls[kept].first = before;
        cls[kept].count = photos.count - before;
        kept++;
    }
    rn_class_tree_free(&tree);
    ncls = kept;
    if (oom) {
        cli_error("out of memory");
        goto done;
    }
    if (bad_name) goto done;
    if (ncls < 2) {
        cli_error("%s: needs at least 2 class folders with photos, found %d", dir, ncls);
        goto done;
    }
    if (cli_check_output(out, RN_KIND_HEAD, &common, photos.paths, photos.count, NULL, 0) != 0) goto done;
    if (!(model = cli_load_model(&common))) goto done;
    const int DIM = resnet_model_feature_dim(model);
    feats = malloc((size_t)photos.count * DIM * sizeof(float));
    ok = malloc((size_t)photos.count);
    labels = malloc((size_t)photos.count * sizeof *labels);
    names = malloc((size_t)ncls * sizeof *names);
    if (!feats || !ok || !labels || !names) {
        cli_error("out of memory");
        goto done;
    }
    if (!(s = cli_session(model, &common, photos.count < CLI_BATCH ? photos.count : CLI_BATCH))) goto done;
    resnet_error err;
    const unsigned long long fp = cli_cache_key(model, &common);
    if (use_cache) cache = featcache_open(dir, fp, resnet_model_feature_dim(model));
    double t0 = cli_now();
    int hits = 0, good = cli_features(s, cache, photos.paths, photos.count, feats, ok, &hits);
    featcache_close(cache);
    cache = NULL;
    if (good < 0) goto done;
    printf("features: %d photos in %d classes, %d from the cache, %d computed in %.1f s\n", good, ncls, hits,
           good - hits, cli_now() - t0);
    /* the photos that worked, compacted, with their class */
    int n = 0;
    for (int c = 0; c < ncls; c++) {
        names[c] = cls[c].name;
        int have = 0;
        for (int i = cls[c].first; i < cls[c].first + cls[c].count; i++) {
            if (!ok[i]) continue;
            if (n != i) memcpy(feats + (size_t)n * DIM, feats + (size_t)i * DIM, DIM * sizeof(float));
            labels[n++] = c;
            have++;
        }
        if (!have) {
            cli_error("class '%s': none of its photos could be read", cls[c].name);
            goto done;
        }
    }
    char backbone[64];
    resnet_info info;
    resnet_model_info(model, &info);
    snprintf(backbone, sizeof backbone, "%.32s weights %016llx", info.arch, fp);
    opts.backbone = backbone;
    cli_progress bar;
    cli_progress_start(&bar, 2, "");
    opts.progress = on_progress;
    opts.progress_ctx = &bar;
    resnet_train_report rep;
    resnet_train_report_init(&rep);
    t0 = cli_now();
    resnet_status st = resnet_head_train(feats, labels, n, DIM, ncls, names, &opts, &head, &rep, &err);
    cli_progress_clear(&bar);
    if (st != RESNET_OK) {
        cli_error("%s", err.message);
        goto done;
    }
    /* With nothing held out (--val 0, or one photo a class) the last iteration is kept and there
     * is no validation accuracy: "0.0% (0 photos)" would read as a head that never works. */
    if (rep.n_val) {
        printf("trained in %.2f s: %d iterations, kept iteration %d (lowest validation loss)\n", cli_now() - t0,
               rep.iters, rep.best_iter);
        printf("train accuracy %.1f%% (%d photos), validation accuracy %.1f%% (%d photos)\n", 100.0 * rep.train_acc,
               rep.n_train, 100.0 * rep.val_acc, rep.n_val);
    } else {
        printf("trained in %.2f s: %d iterations, kept iteration %d (no photos held out for validation)\n",
               cli_now() - t0, rep.iters, rep.best_iter);
        printf("train accuracy %.1f%% (%d photos), no validation accuracy (no photos held out)\n",
               100.0 * rep.train_acc, rep.n_train);
    }
    if (resnet_head_save(head, out, &err) != RESNET_OK) {
        cli_error("%s", err.message);
        goto done;
    }
    fputs("wrote ", stdout);
    cli_text(stdout, out);
    printf(": %d classes:", ncls);
    for (int c = 0; c < ncls; c++) { /* folder names: shown safely */
        printf("%s ", c ? "," : "");
        cli_text(stdout, names[c]);
    }
    printf("\n");
    rc = good < photos.count || photos.problems ? 1 : 0;
done:
    featcache_close(cache);
    resnet_head_free(head);
    resnet_session_free(s);
    resnet_model_free(model);
    cli_photos_free(&photos);
    for (int c = 0; c < ncls; c++) free(cls[c].name);
    free(cls);
    free(feats);
    free(ok);
    free(labels);
    free(names);
    return rc;
}
