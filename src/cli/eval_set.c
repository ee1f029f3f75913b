/* eval_set.c - the labelled photos of `resnet eval DIR`, and the classes they are scored
 * against (the network's): DIR/labels.tsv (a header line, then file TAB class [TAB anything]),
 * or else one folder per class (walk.h's rule, which train-head follows too). A class is
 * written as its index, as one of the network's names, or, for ImageNet's classes, as a
 * WordNet id (n01440764, as ImageNet's own tree). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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

int eval_classes_init(eval_classes *c, const resnet_model *m) {
    memset(c, 0, sizeof *c);
    resnet_info info;
    resnet_model_info(m, &info);
    c->n = resnet_model_classes(m);
    c->imagenet = c->n == RESNET_NUM_CLASSES && info.labels == 2;
    c->top = c->n < 5 ? c->n : 5;
    if (!(c->names = calloc((size_t)c->n, sizeof *c->names))) return -1;
    for (int i = 0; i < c->n; i++) {
        char buf[64];
        if (!(c->names[i] = strdup(resnet_model_class_label(m, i, buf, sizeof buf)))) {
            eval_classes_free(c);
            return -1;
        }
    }
    return 0;
}

void eval_classes_free(eval_classes *c) {
    for (int i = 0; c->names && i < c->n; i++) free(c->names[i]);
    free(c->names);
    memset(c, 0, sizeof *c);
}

/* Names alike: at loose 0 byte for byte; at 1 with '_' standing for ' ' (a folder cannot hold
 * every character); at 2 that and without case. */
static int same_name(const char *a, const char *b, int loose) {
    for (;; a++, b++) {
        int x = (unsigned char)*a, y = (unsigned char)*b;
        if (loose) x = x == '_' ? ' ' : x, y = y == '_' ? ' ' : y;
        if (loose > 1) x = tolower(x), y = tolower(y);
        if (x != y) return 0;
        if (!x) return 1;
    }
}

/* The class whose name is `name` (loose as same_name); -1 none, -2 more than one. */
static int class_named(const eval_classes *c, const char *name) {
    /* the name as written first: ImageNet has a Cardigan (264, the dog) and a cardigan (474),
     * a network may have a "hot_dog" and a "hot dog" */
    for (int loose = 0; loose < 3; loose++) {
        int found = -1;
        for (int i = 0; i < c->n; i++)
            if (same_name(c->names[i], name, loose)) {
                if (found >= 0) return EVAL_CLASS_SHARED; /* an index says which */
                found = i;
            }
        if (found >= 0) return found;
    }
    return EVAL_CLASS_NONE;
}

/* Digits alike as numbers ("01" and "1"): leading zeros aside, the same digits. */
static int same_number(const char *a, const char *b) {
    if (!*a || !*b || a[strspn(a, "0123456789")] || b[strspn(b, "0123456789")]) return 0;
    while (a[0] == '0' && a[1]) a++;
    while (b[0] == '0' && b[1]) b++;
    return strcmp(a, b) == 0;
}

/* A class other than `index` whose name is the number `digits` (the one so written first),
 * -1 if none, -2 if two are so named and no index says which. */
static int number_named(const eval_classes *c, const char *digits, int index) {
    int exact = EVAL_CLASS_NONE, same = EVAL_CLASS_NONE;
    for (int i = 0; i < c->n; i++) {
        if (i == index || !same_number(c->names[i], digits)) continue;
        if (index >= 0) return i;
        if (strcmp(c->names[i], digits) == 0) exact = exact == EVAL_CLASS_NONE ? i : EVAL_CLASS_SHARED;
        same = same == EVAL_CLASS_NONE ? i : EVAL_CLASS_SHARED;
    }
    return exact != EVAL_CLASS_NONE ? exact : same;
}

int eval_class_of(const eval_classes *c, const char *name) {
    const char *p = name;
    while (isdigit((unsigned char)*p)) p++;
    if (p != name && *p == '\0') {
        /* Digits are an index, unless the network names its classes with numbers: then "1"
         * (or "01") may be class 1 or the class named "1", and guessing either would score the
         * photos against the wrong class without a word. */
        errno = 0;
        long v = strtol(name, NULL, 10);
        const int index = errno == 0 && v < c->n ? (int)v : -1;
        const int named = number_named(c, name, index);
        if (named >= 0 && index >= 0) return EVAL_CLASS_INDEX_OR_NAME;
        return index >= 0 ? index : named;
    }
    if (c->imagenet) {
        int k = rn_imagenet_folder_class(name);
        if (k >= 0) return k;
    }
    return class_named(c, name);
}

/* What a class may be written as, for messages. */
static const char *class_forms(const eval_classes *c, char *buf, size_t size) {
    snprintf(buf, size, "%san index 0..%d or one of its class names",
             c->imagenet ? "a WordNet id such as n01440764, " : "", c->n - 1);
    return buf;
}

const char *eval_class_why(const eval_classes *c, const char *name, int code, char *buf, size_t size) {
    if (code == EVAL_CLASS_SHARED) {
        snprintf(buf, size, "'%.40s' names more than one class of this network: give its index", name);
    } else if (code == EVAL_CLASS_INDEX_OR_NAME) {
        const char *digits = name + (name[0] == '+');
        const long index = strtol(digits, NULL, 10);
        const int other = number_named(c, digits, (int)index);
        snprintf(buf, size, "'%.40s' is class %ld by index but the name of another class (class %d, '%.40s'): give "
                 "this network class names that are not numbers (resnet label)", name, index, other,
                 other >= 0 ? c->names[other] : "");
    } else {
        char forms[160];
        snprintf(buf, size, "'%.40s' is not a class of this network (%s)", name, class_forms(c, forms, sizeof forms));
    }
    return buf;
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

/* labels.tsv's class column (blanks around it gone): -1 for unlabelled, another negative
 * number (told as outside the classes), or a class as eval_class_of reads it, digits too (they
 * may be a class's name; "+1" is read as "1"). 0, or an EVAL_CLASS_ code. */
static int parse_class(const eval_classes *c, const char *s, long *out) {
    const char *digits = s + (s[0] == '+');
    const int is_digits = digits[0] != '\0' && digits[strspn(digits, "0123456789")] == '\0';
    if (!is_digits && parse_label(s, out) == 0) return 0; /* -1 (unlabelled), or out of range */
    int k = s[0] ? eval_class_of(c, is_digits ? digits : s) : EVAL_CLASS_NONE;
    if (k == EVAL_CLASS_NONE && is_digits && parse_label(s, out) == 0) return 0; /* past the classes: told with the range */
    if (k < 0) return k;
    *out = k;
    return 0;
}

/* Line 1 whose class column names a class may still be the header: "path<TAB>class" on a
 * network with a class named "class". It is when its file column looks like no photo (no
 * extension) and no such file exists; a photo's name has an extension. */
static int header_like(const char *dir, const char *file, const char *cls) {
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    if (strchr(base, '.') || isdigit((unsigned char)cls[0])) return 0;
    char *path = file[0] == '/' ? strdup(file) : rn_path_join(dir, file);
    struct stat st;
    const int missing = path && stat(path, &st) != 0;
    free(path);
    return missing;
}

/* A photo's path as a name, whatever its spelling: "." components and doubled '/' gone, so
 * "./a.jpg" and "a.jpg" are one photo. ".." is kept (through a link it leads elsewhere). */
static void path_key(char *p) {
    char *w = p;
    for (const char *r = p; *r;) {
        if (r[0] == '/' && w > p && w[-1] == '/') {
            r++;
        } else if (r[0] == '.' && (r[1] == '/' || r[1] == '\0') && (r == p || r[-1] == '/')) {
            r += r[1] ? 2 : 1;
        } else {
            *w++ = *r++;
        }
    }
    if (w > p + 1 && w[-1] == '/') w--;
    *w = '\0';
}

typedef struct listed {
    char *key;   /* path_key of the item's path */
    int line;    /* its line of labels.tsv */
    int item;    /* its index in the set */
} listed;

static int listed_order(const void *a, const void *b) {
    const listed *x = a, *y = b;
    const int c = strcmp(x->key, y->key);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* A photo listed twice would be scored twice (and once wrong, if the classes differ), so the
 * count would not be the set's: refused, the photo and both lines named (of several, the one
 * listed again earliest). 0, 1 a photo listed twice (said), -1 out of memory. */
static int listed_twice(const eval_set *set, const int *lines, const char *tsv, eval_warn_fn warn, void *ctx) {
    listed *l = calloc((size_t)set->n + 1, sizeof *l);
    int rc = l ? 0 : -1;
    for (int i = 0; rc == 0 && i < set->n; i++) {
        if (!(l[i].key = strdup(set->items[i].path))) rc = -1;
        else path_key(l[i].key);
        l[i].line = lines[i];
        l[i].item = i;
    }
    if (rc == 0) {
        qsort(l, (size_t)set->n, sizeof *l, listed_order);
        int first = -1, again = -1;
        for (int i = 1; i < set->n; i++)
            if (strcmp(l[i].key, l[i - 1].key) == 0 && (i < 2 || strcmp(l[i - 1].key, l[i - 2].key) != 0) &&
                (again < 0 || l[i].line < l[again].line))
                first = i - 1, again = i;
        if (again >= 0) {
            const char *name = set->items[l[again].item].name, *was = set->items[l[first].item].name;
            const int spelled = strcmp(name, was) != 0;
            warnf(warn, ctx, tsv, "line %d: %s is the photo of line %d%s%s%s again: list each photo once",
                  l[again].line, name, l[first].line, spelled ? " (" : "", spelled ? was : "", spelled ? ")" : "");
            rc = 1;
        }
    }
    for (int i = 0; l && i < set->n; i++) free(l[i].key);
    free(l);
    return rc;
}

static int load_tsv(FILE *f, const char *dir, const char *tsv, const eval_classes *cls, eval_set *set,
                    eval_warn_fn warn, void *ctx) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    int *lines = NULL, lines_cap = 0; /* each item's line, for a photo listed twice */
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        /* a NUL is no text: UTF-16 (Excel's "Unicode Text" export) made every line a bare
         * "expected 'file<TAB>class'", none saying why; one line for the file instead */
        if (memchr(line, '\0', (size_t)len)) {
            warnf(warn, ctx, tsv, "line %d holds a NUL byte: not a text file (UTF-16? save it as UTF-8)", lineno);
            free(line);
            free(lines);
            return -1;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        /* a UTF-8 byte-order mark (Notepad, Excel's "UTF-8" CSV) is no part of the first name */
        const size_t bom = lineno == 1 ? rn_utf8_bom(line, (size_t)len) : 0;
        if (bom) {
            memmove(line, line + bom, (size_t)len - bom + 1);
            len -= (ssize_t)bom;
        }
        if (len == 0) continue;
        char *tab = strchr(line, '\t');
        char *col2 = tab ? tab + 1 : NULL;
        if (tab) {
            *tab = '\0';
            char *tab2 = strchr(col2, '\t');
            if (tab2) *tab2 = '\0'; /* later columns (wnid, name, ...) are not needed */
            while (*col2 == ' ') col2++;
            for (size_t n = strlen(col2); n > 0 && col2[n - 1] == ' ';) col2[--n] = '\0';
        }
        long label;
        const int got = tab && line[0] != '\0' ? parse_class(cls, col2, &label) : -1, ok = got == 0;
        /* the header: "file<TAB>class..."; not a line whose class was refused for being two
         * classes' (digits that are an index and a name): that one is a photo's, and said;
         * nor a line with no tab, which is no header of this format (a list separated by
         * spaces lost its first photo without a word while the next lines were named) */
        if (lineno == 1 && tab && (got == EVAL_CLASS_NONE || header_like(dir, line, col2))) continue;
        if (!ok) {
            char why[256];
            if (tab && line[0] != '\0')
                warnf(warn, ctx, tsv, "line %d: %s: %s", lineno, line, eval_class_why(cls, col2, got, why, sizeof why));
            else
                warnf(warn, ctx, tsv, "line %d: expected 'file<TAB>class', got '%.80s'", lineno, line);
            set->skipped++;
        } else if (label == -1) {
            set->unlabelled++; /* listed, but nobody knows its class: nothing to score */
        } else if (label < 0 || label >= cls->n) {
            char *path = line[0] == '/' ? strdup(line) : rn_path_join(dir, line);
            warnf(warn, ctx, path ? path : line, "class %ld is outside 0..%d, the network's classes (%s line %d)",
                  label, cls->n - 1, tsv, lineno);
            free(path);
            set->skipped++;
        } else if (add_item(set, dir, line, (int)label) != 0) {
            rc = -1;
        } else {
            if (set->n > lines_cap) {
                int *p = realloc(lines, (size_t)set->cap * sizeof *p);
                if (!p) {
                    rc = -1;
                    break;
                }
                lines = p;
                lines_cap = set->cap;
            }
            lines[set->n - 1] = lineno;
        }
    }
    /* getline's -1 is also a read error: the rest of the list is unread, not absent */
    const int read_failed = rc == 0 && ferror(f), e = errno;
    free(line);
    if (rc != 0) warnf(warn, ctx, tsv, "out of memory");
    if (read_failed) {
        warnf(warn, ctx, tsv, "read failed after line %d: %s", lineno, strerror(e));
        rc = -1;
    }
    if (rc == 0 && (rc = listed_twice(set, lines, tsv, warn, ctx)) != 0) {
        if (rc < 0) warnf(warn, ctx, tsv, "out of memory");
        rc = -1;
    }
    free(lines);
    return rc;
}

static int load_folders(const char *dir, const eval_classes *cls, eval_set *set, eval_warn_fn warn, void *ctx) {
    rn_class_tree tree;
    resnet_error err;
    if (rn_list_classes(dir, RN_CLASSES_ANY, &tree, &err) != RESNET_OK) {
        warnf(warn, ctx, dir, "%s", err.message);
        return -1;
    }
    int classes = 0, rc = 0;
    set->loose = tree.loose;
    for (int i = 0; rc == 0 && i < tree.n; i++) {
        const rn_class_folder *f = &tree.folders[i];
        for (int j = 0; j < f->photos.n_problems; j++) warnf(warn, ctx, f->path, "%s", f->photos.problems[j]);
        set->skipped += f->photos.n_problems; /* an unreadable (sub)folder: named and counted */
        set->ignored += f->ignored;
        const int label = eval_class_of(cls, f->name);
        if (label < 0) {
            char why[256];
            if (f->photos.count > 0)
                warnf(warn, ctx, f->path, "%s: %d photo%s skipped", eval_class_why(cls, f->name, label, why, sizeof why),
                      f->photos.count, f->photos.count == 1 ? "" : "s");
            set->skipped += f->photos.count;
            continue;
        }
        classes++;
        /* the photo's name in the set: relative to DIR, from the class folder's name on */
        const size_t skip = strlen(f->path) - strlen(f->name);
        for (int j = 0; rc == 0 && j < f->photos.count; j++)
            rc = add_item(set, dir, f->photos.paths[j] + skip, label);
    }
    rn_class_tree_free(&tree);
    if (rc != 0) {
        warnf(warn, ctx, dir, "out of memory");
        return -1;
    }
    if (classes == 0) {
        char forms[160];
        warnf(warn, ctx, dir, "no labels.tsv and no class folders (each named by %s)", class_forms(cls, forms, sizeof forms));
        return -1;
    }
    set->source = "folders";
    return 0;
}

int eval_set_check_dir(const char *dir, eval_warn_fn warn, void *ctx) {
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        warnf(warn, ctx, dir, "%s", strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        warnf(warn, ctx, dir, "not a folder (eval reads a folder of labelled photos)");
        return -1;
    }
    return 0;
}

int eval_set_load(const char *dir, const eval_classes *cls, eval_set *set, eval_warn_fn warn, void *ctx) {
    memset(set, 0, sizeof *set);
    if (eval_set_check_dir(dir, warn, ctx) != 0) return -1;
    char *tsv = rn_path_join(dir, "labels.tsv");
    if (!tsv) return -1;
    /* Opened as --weights and --labels are (rn_open_regular): a FIFO, a folder or a device
     * named labels.tsv is refused, not waited on, read as empty or read without end. */
    struct stat sb;
    int rc;
    /* lstat: a labels.tsv that is a link to nothing is the user's list gone missing, told as
     * such when opened, not a folder without one (its photos scored by their folders' names) */
    if (lstat(tsv, &sb) != 0 && errno == ENOENT) {
        rc = load_folders(dir, cls, set, warn, ctx);
    } else {
        resnet_error err;
        const int fd = rn_open_regular(tsv, NULL, &err);
        FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
        if (f) {
            set->source = "labels.tsv";
            rc = load_tsv(f, dir, tsv, cls, set, warn, ctx);
            fclose(f);
        } else {
            if (fd >= 0) {
                snprintf(err.message, sizeof err.message, "%s", strerror(errno));
                close(fd);
            }
            warnf(warn, ctx, tsv, "%s", err.message);
            rc = -1;
        }
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
