/* eval_set.c - the labelled photos of `resnet eval DIR`: DIR/labels.tsv (a header line, then
 * file TAB class index [TAB anything]), or else one folder per class named by its WordNet id
 * (n01440764, as ImageNet's own tree) or its index (0..999). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli/eval.h"
#include "image/image.h"

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

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
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
    it->path = name[0] == '/' ? strdup(name) : join(dir, name);
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
            char *path = line[0] == '/' ? strdup(line) : join(dir, line);
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

/* The class a folder name stands for: a wnid or a whole index; -1 if neither. */
static int folder_class(const char *name) {
    if (name[0] == 'n') {
        for (int i = 0; i < RESNET_NUM_CLASSES; i++)
            if (strcmp(name, resnet_class_wnid(i)) == 0) return i;
        return -1;
    }
    long v;
    for (const char *p = name; *p; p++)
        if (!isdigit((unsigned char)*p)) return -1;
    return parse_label(name, &v) == 0 && v >= 0 && v < RESNET_NUM_CLASSES ? (int)v : -1;
}

/* The extensions the folder walk lists too (src/image/decode.c). */
static int is_photo(const char *name) { return rn_image_has_photo_extension(name); }

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The names in a folder (no hidden ones), sorted so a run is repeatable; NULL on error. */
static char **list_dir(const char *path, int *n) {
    DIR *d = opendir(path);
    if (!d) return NULL;
    char **names = NULL;
    int cap = 0;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(names, (size_t)cap * sizeof *p);
            if (!p) break;
            names = p;
        }
        if (!(names[*n] = strdup(e->d_name))) break;
        (*n)++;
    }
    closedir(d);
    if (!names) names = malloc(sizeof *names); /* an empty folder is a list of none */
    if (names) qsort(names, (size_t)*n, sizeof *names, cmp_str);
    return names;
}

static void free_list(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static int is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* One class folder: its photos join the set (label >= 0) or are counted as skipped (-1). */
static int load_class_folder(const char *dir, const char *sub, int label, eval_set *set) {
    char *path = join(dir, sub);
    int n = 0, rc = 0;
    char **names = path ? list_dir(path, &n) : NULL;
    for (int i = 0; names && rc == 0 && i < n; i++) {
        char *rel = join(sub, names[i]);
        char *full = rel ? join(dir, rel) : NULL;
        if (!full) rc = -1;
        else if (!is_photo(names[i]) || is_dir(full)) set->ignored++;
        else if (label < 0) set->skipped++;
        else rc = add_item(set, dir, rel, label);
        free(rel);
        free(full);
    }
    if (names) free_list(names, n);
    free(path);
    return rc;
}

static int load_folders(const char *dir, eval_set *set, eval_warn_fn warn, void *ctx) {
    int n = 0, classes = 0, rc = 0;
    char **names = list_dir(dir, &n);
    if (!names) {
        warnf(warn, ctx, dir, "cannot read the folder: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        char *sub = join(dir, names[i]);
        int folder = sub && is_dir(sub);
        free(sub);
        if (!folder) continue; /* loose files at the top have no class */
        int label = folder_class(names[i]);
        int before = set->skipped;
        rc = load_class_folder(dir, names[i], label, set);
        if (label < 0 && set->skipped > before) {
            char *path = join(dir, names[i]);
            warnf(warn, ctx, path ? path : names[i],
                  "not a class folder (a wnid such as n01440764, or 0..999): %d photo%s skipped",
                  set->skipped - before, set->skipped - before == 1 ? "" : "s");
            free(path);
        }
        classes += label >= 0;
    }
    free_list(names, n);
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
    char *tsv = join(dir, "labels.tsv");
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
