/* train_head.c - `resnet train-head DIR -o HEAD`: a new final layer for the classes of a
 * folder-per-class tree (DIR/<class name>/...photos..., any depth below the class folder).
 * The features of every photo are computed once and cached (see featcache.c), so training
 * again with other settings takes seconds. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/features.h"

#define BATCH 4
#define DIM RESNET_FEATURE_DIM

typedef struct klass {
    char *name;
    int first, count; /* its photos in the combined list */
} klass;

static int cmp_klass(const void *a, const void *b) { return strcmp(((const klass *)a)->name, ((const klass *)b)->name); }

/* The class folders of dir (not hidden), sorted by name; -1 if dir cannot be read. */
static int class_folders(const char *dir, klass **out, int *n) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return cli_error("%s: cannot read folder: %s", dir, strerror(errno)), -1;
    int cap = 0, loose = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(len);
        if (!path) break;
        snprintf(path, len, "%s/%s", dir, e->d_name);
        int is_dir = cli_is_dir(path);
        free(path);
        if (!is_dir) {
            loose++;
            continue;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            klass *v = realloc(*out, (size_t)cap * sizeof *v);
            if (!v) break;
            *out = v;
        }
        size_t nl = strlen(e->d_name) + 1;
        if (!((*out)[*n].name = malloc(nl))) break;
        memcpy((*out)[*n].name, e->d_name, nl);
        (*out)[*n].first = (*out)[*n].count = 0;
        (*n)++;
    }
    closedir(d);
    if (loose) cli_error("warning: %d file%s directly in %s ignored (photos go in one folder per class)", loose,
                         loose == 1 ? "" : "s", dir);
    if (*n > 1) qsort(*out, (size_t)*n, sizeof **out, cmp_klass);
    return 0;
}

static void on_progress(void *ctx, int iter, float tl, float ta, float vl, float va) {
    cli_progress *p = ctx;
    if (!p->enabled) return;
    fprintf(stderr, "\r\033[Kiteration %d: train loss %.4f, accuracy %.1f%%; validation loss %.4f, accuracy %.1f%%",
            iter, tl, 100.0 * ta, vl, 100.0 * va);
    fflush(stderr);
    p->shown = 1;
}

static int parse_float(const char *flag, const char *v, double lo, double hi, float *out) {
    char *end;
    double d = v ? strtod(v, &end) : 0;
    if (!v || end == v || *end != '\0' || !(d >= lo && d <= hi))
        return cli_usage_error("%s needs a number from %g to %g, got '%s'", flag, lo, hi, v ? v : ""), -1;
    *out = (float)d;
    return 0;
}

int cmd_train_head(int argc, char **argv) {
    cli_common common = {0};
    const char *dir = NULL, *out = NULL;
    int use_cache = 1;
    resnet_train_options opts;
    resnet_train_options_init(&opts);
    for (int i = 1; i < argc; i++) {
        int r = cli_common_flag(&common, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0, takes = 1;
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (!v) return cli_usage_error("train-head: %s needs a file name", a);
            out = v;
        } else if (strcmp(a, "--l2") == 0) {
            bad = parse_float(a, v, 0, 1e3, &opts.l2);
        } else if (strcmp(a, "--val") == 0) {
            bad = parse_float(a, v, 0, 0.9, &opts.val_fraction);
        } else if (strcmp(a, "--max-iters") == 0) {
            bad = cli_parse_int(a, v, 1, 100000, &opts.max_iters);
        } else if (strcmp(a, "--patience") == 0) {
            bad = cli_parse_int(a, v, 1, 100000, &opts.patience);
        } else if (strcmp(a, "--seed") == 0) {
            int seed;
            bad = cli_parse_int(a, v, 0, 2147483647, &seed);
            opts.seed = (unsigned)seed;
        } else if (strcmp(a, "--no-l2norm") == 0) {
            opts.l2_normalize = 0;
            takes = 0;
        } else if (strcmp(a, "--no-cache") == 0) {
            use_cache = 0;
            takes = 0;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage_error("train-head: unknown option '%s'", a);
        } else if (!dir) {
            dir = a;
            takes = 0;
        } else {
            return cli_usage_error("train-head: one folder expected, '%s' is a second", a);
        }
        if (bad) return 2;
        i += takes;
    }
    if (!dir) return cli_usage_error("train-head: no folder given (one subfolder of photos per class)");
    if (!out) return cli_usage_error("train-head: -o HEAD.safetensors is required");
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
    if (class_folders(dir, &cls, &ncls) != 0) goto done;
    int kept = 0;
    for (int c = 0; c < ncls; c++) {
        size_t len = strlen(dir) + strlen(cls[c].name) + 2;
        char *sub = malloc(len);
        if (!sub) {
            cli_error("out of memory");
            goto done;
        }
        snprintf(sub, len, "%s/%s", dir, cls[c].name);
        int before = photos.count;
        int r = cli_photos_add(&photos, &sub, 1);
        free(sub);
        if (r != 0) goto done;
        if (photos.count == before) {
            cli_error("warning: class folder '%s' has no photos; skipped", cls[c].name);
            free(cls[c].name);
            cls[c].name = NULL;
            continue;
        }
        cls[kept] = cls[c];
        if (kept != c) cls[c].name = NULL; /* one owner per name */
        cls[kept].first = before;
        cls[kept].count = photos.count - before;
        kept++;
    }
    ncls = kept;
    if (ncls < 2) {
        cli_error("%s: needs at least 2 class folders with photos, found %d", dir, ncls);
        goto done;
    }
    if (cli_check_output(out, RN_KIND_HEAD, &common, photos.paths, photos.count, NULL, 0) != 0) goto done;
    feats = malloc((size_t)photos.count * DIM * sizeof(float));
    ok = malloc((size_t)photos.count);
    labels = malloc((size_t)photos.count * sizeof *labels);
    names = malloc((size_t)ncls * sizeof *names);
    if (!feats || !ok || !labels || !names) {
        cli_error("out of memory");
        goto done;
    }
    if (!(model = cli_load_model(&common))) goto done;
    resnet_error err;
    if (resnet_session_create(model, common.threads, photos.count < BATCH ? photos.count : BATCH, &s, &err) !=
        RESNET_OK) {
        cli_error("%s", err.message);
        goto done;
    }
    const unsigned long long fp = resnet_model_fingerprint(model);
    if (use_cache) cache = featcache_open(dir, fp);
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
    snprintf(backbone, sizeof backbone, "resnet50 weights %016llx", fp);
    opts.backbone = backbone;
    cli_progress bar;
    cli_progress_start(&bar, 2, "");
    opts.progress = on_progress;
    opts.progress_ctx = &bar;
    resnet_train_report rep;
    t0 = cli_now();
    resnet_status st = resnet_head_train(feats, labels, n, DIM, ncls, names, &opts, &head, &rep, &err);
    cli_progress_clear(&bar);
    if (st != RESNET_OK) {
        cli_error("%s", err.message);
        goto done;
    }
    printf("trained in %.2f s: %d iterations, kept iteration %d (lowest validation loss)\n", cli_now() - t0, rep.iters,
           rep.best_iter);
    printf("train accuracy %.1f%% (%d photos), validation accuracy %.1f%% (%d photos)\n", 100.0 * rep.train_acc,
           rep.n_train, 100.0 * rep.val_acc, rep.n_val);
    if (resnet_head_save(head, out, &err) != RESNET_OK) {
        cli_error("%s", err.message);
        goto done;
    }
    printf("wrote %s: %d classes:", out, ncls);
    for (int c = 0; c < ncls; c++) printf("%s %s", c ? "," : "", names[c]);
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
