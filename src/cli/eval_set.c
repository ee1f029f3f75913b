/* eval_set.c - the labelled photos of `resnet eval DIR`: DIR/labels.tsv (a header line, then
 * file TAB class index [TAB anything]), or else one folder per class named by its WordNet id
 * (n01440764, as ImageNet's own tree) or its index (0..999): io/walk.h's rule, which
 * train-head follows too. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli/eval.h"
#include "io/fileio.h"
#include "walk.h"

static void warnf(eval_warn_fn warn, void *ctx, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void warnf(eval_warn_fn warn, void *ctx, const char *file, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    warn(ctx, file, msg);
}

/* Adds DIR/name; 0 on success, -1 out of memory. */
static int add_item(eval_set *set, const char *dir, const char *name, int label) {
    if (set->n == set->cap) {
        int cap = set->cap ? set->cap * 2 : 256;
        eval_item *p = realloc(set->items, (size_t)cap * sizeof *p);
        if (!p) return -1;
        set->items = p;
        set->cap = cap;
    }
    eval_item *it = &set->items[set->n];
    /* an absolute path in labels.tsv is taken as it is */
    it->path = name[0] == '/' ? strdup(name) : rn_path_join(dir, name);
    it->name = strdup(name);
    it->label = label;
    if (!it->path || !it->name) {
        free(it->path);
        free(it->name);
        return -1;
    }
    set->n++;
    return 0;
}

/* A whole decimal integer (leading/trailing blanks allowed), as labels.tsv's class column. */
static int parse_label(const char *s, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    while (*end == ' ') end++;
    if (end == s || *end != '\0' || errno == ERANGE) return -1;
    *out = v;
    return 0;
}

static int load_tsv(FILE *f, const char *dir, const char *tsv, eval_set *set, eval_warn_fn warn, void *ctx) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0) continue;
        char *tab = strchr(line, '\t');
        char *col2 = tab ? tab + 1 : NULL;
        if (tab) {
            *tab = '\0';
            char *tab2 = strchr(col2, '\t');
            if (tab2) *tab2 = '\0'; /* later columns (wnid, name, ...) are not needed */
        }
        long label;
        int ok = tab && line[0] != '\0' && parse_label(col2, &label) == 0;
        if (lineno == 1 && !ok) continue; /* the header: "file<TAB>class_index..." */
        if (!ok) {
            if (tab && line[0] != '\0')
                warnf(warn, ctx, tsv, "line %d: %s: class '%.40s' is not a whole number", lineno, line, col2);
            else
                warnf(warn, ctx, tsv, "line %d: expected 'file<TAB>class index', got '%.80s'", lineno, line);
            set->skipped++;
        } else if (label == -1) {
            set->unlabelled++; /* listed, but nobody knows its class: nothing to score */
        } else if (label < 0 || label >= RESNET_NUM_CLASSES) {
            char *path = line[0] == '/' ? strdup(line) : rn_path_join(dir, line);
            warnf(warn, ctx, path ? path : line, "class %ld is outside 0..%d (%s line %d)", label,
                  RESNET_NUM_CLASSES - 1, tsv, lineno);
            free(path);
            set->skipped++;
        } else if (add_item(set, dir, line, (int)label) != 0) {
            rc = -1;
        }
    }
    free(line);
    if (rc != 0) warnf(warn, ctx, tsv, "out of memory");
    return rc;
}

static int load_folders(const char *dir, eval_set *set, eval_warn_fn warn, void *ctx) {
    rn_class_tree tree;
    resnet_error err;
    if (rn_list_classes(dir, RN_CLASSES_IMAGENET, &tree, &err) != RESNET_OK) {
        warnf(warn, ctx, dir, "%s", err.message);
        return -1;
    }
    int classes = 0, rc = 0;
    for (int i = 0; rc == 0 && i < tree.n; i++) {
        const rn_class_folder *f = &tree.folders[i];
        for (int j = 0; j < f->photos.n_problems; j++) warnf(warn, ctx, f->path, "%s", f->photos.problems[j]);
        set->skipped += f->photos.n_problems; /* an unreadable (sub)folder: named and counted */
        set->ignored += f->ignored;
        if (f->label < 0) {
            if (f->photos.count > 0)
                warnf(warn, ctx, f->path, "not a class folder (a wnid such as n01440764, or 0..999): %d photo%s skipped",
                      f->photos.count, f->photos.count == 1 ? "" : "s");
            set->skipped += f->photos.count;
            continue;
        }
        classes++;
        /* the photo's name in the set: relative to DIR, from the class folder's name on */
        const size_t skip = strlen(f->path) - strlen(f->name);
        for (int j = 0; rc == 0 && j < f->photos.count; j++)
            rc = add_item(set, dir, f->photos.paths[j] + skip, f->label);
    }
    rn_class_tree_free(&tree);
    if (rc != 0) {
        warnf(warn, ctx, dir, "out of memory");
        return -1;
    }
    if (classes == 0) {
        warnf(warn, ctx, dir,
              "no labels.tsv and no class folders (named by wnid, e.g. n01440764, or by class index 0..999)");
        return -1;
    }
    set->source = "folders";
    return 0;
}

int eval_set_load(const char *dir, eval_set *set, eval_warn_fn warn, void *ctx) {
    memset(set, 0, sizeof *set);
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        warnf(warn, ctx, dir, "%s", strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        warnf(warn, ctx, dir, "not a folder (eval reads a folder of labelled photos)");
        return -1;
    }
    char *tsv = rn_path_join(dir, "labels.tsv");
    if (!tsv) return -1;
    FILE *f = fopen(tsv, "r");
    int rc;
    if (f) {
        set->source = "labels.tsv";
        rc = load_tsv(f, dir, tsv, set, warn, ctx);
        fclose(f);
    } else if (errno == ENOENT) {
        rc = load_folders(dir, set, warn, ctx);
    } else {
        warnf(warn, ctx, tsv, "%s", strerror(errno));
        rc = -1;
    }
    free(tsv);
    return rc;
}

void eval_set_free(eval_set *set) {
    for (int i = 0; i < set->n; i++) {
        free(set->items[i].path);
        free(set->items[i].name);
    }
    free(set->items);
    memset(set, 0, sizeof *set);
}
