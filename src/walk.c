/* walk.c - the photos under a folder, recursively (resnet_list_images), and a folder of class
 * folders (rn_list_classes; walk.h says the rule). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "image/image.h"
#include "io/atomic.h" /* rn_file_id: a folder met again */
#include "io/fileio.h"
#include "walk.h"

#define MAX_DEPTH 64 /* deeper trees are almost surely link loops we failed to see */

typedef struct strvec {
    char **v;
    int n, cap;
} strvec;

static int strvec_push(strvec *s, char *str) {
    if (!str) return -1;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        char **v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) {
            free(str);
            return -1;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    return 0;
}

/* "<path>: <what>: <cause>", the path shortened in its middle if need be (rn_fail), so the
 * cause is never cut off. */
static char *format_msg(const char *what, const char *path, int e) {
    char eb[128];
    resnet_error err;
    rn_fail(&err, RESNET_E_IO, "%s: %s: %s", path, what, rn_errno_str(e, eb, sizeof eb));
    return strdup(err.message);
}

static int has_image_extension(const char *name) { return rn_image_has_photo_extension(name); }

/* The first bytes of a format we decode (the decoder's own sniffing). */
static int has_image_signature(int dirfd, const char *name) {
    int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return 0;
    unsigned char b[18];
    ssize_t n = read(fd, b, sizeof b);
    close(fd);
    return n > 0 && rn_image_sniff(b, (size_t)n) != RN_FORMAT_UNKNOWN;
}

/* The folders being walked, root to here, to refuse to walk into one of them again. */
typedef struct ancestor {
    rn_file_id id;
    const struct ancestor *up;
} ancestor;

typedef struct walker {
    strvec files, problems;
    int oom;
    int ignored; /* regular files that are not photos */
} walker;

/* Walks the folder open at fd (taken over and closed), named dir in the list and messages.
 * Everything goes through fd (fstatat, openat), so a tree deeper than PATH_MAX is still
 * walked: its photos are listed by their full names, and opening them later fails with
 * "File name too long", which names and counts them instead of skipping them unseen. */
static void walk(walker *w, int fd, const char *dir, const ancestor *up, int depth) {
    DIR *d = fdopendir(fd);
    if (!d) {
        if (strvec_push(&w->problems, format_msg("cannot read folder", dir, errno)) != 0) w->oom = 1;
        close(fd);
        return;
    }
    struct dirent *e;
    while (!w->oom && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue; /* ".", "..", hidden files, macOS "._x.jpg" */
        char *path = rn_path_join(dir, e->d_name);
        if (!path) {
            w->oom = 1;
            break;
        }
        struct stat sb;
        if (fstatat(dirfd(d), e->d_name, &sb, 0) != 0) {
            /* A dangling link or a file gone since readdir: reported if it looked like a photo.
             * Anything else (a link loop, no permission, ...) is something we cannot see
             * into, photo or not: always reported, never skipped silently. */
            int er = errno;
            if ((er != ENOENT || has_image_extension(e->d_name)) &&
                strvec_push(&w->problems, format_msg("cannot read", path, er)) != 0)
                w->oom = 1;
            free(path);
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            const ancestor here = {{sb.st_dev, sb.st_ino}, up};
            int loop = depth >= MAX_DEPTH;
            for (const ancestor *a = up; a && !loop; a = a->up) loop = rn_file_id_equal(&a->id, &here.id);
            if (!loop) {
                int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (sub < 0) {
                    if (strvec_push(&w->problems, format_msg("cannot read folder", path, errno)) != 0) w->oom = 1;
                } else {
                    walk(w, sub, path, &here, depth + 1);
                }
            }
            free(path);
        } else if (S_ISREG(sb.st_mode) && (has_image_extension(e->d_name) || has_image_signature(dirfd(d), e->d_name))) {
            if (strvec_push(&w->files, path) != 0) w->oom = 1;
        } else {
            w->ignored += S_ISREG(sb.st_mode);
            free(path);
        }
    }
    closedir(d);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void free_vec(strvec *s) {
    for (int i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
}

/* Opens the folder a walk starts from (*sb gets its stat): missing, not a folder or unreadable
 * is an error, not a problem entry. */
static resnet_status open_root(const char *dir, struct stat *sb, int *fd, resnet_error *err) {
    char eb[128], pb[400];
    if (stat(dir, sb) != 0)
        return rn_fail(err, RESNET_E_IO, "%s: cannot open: %s", rn_printable(dir, pb, sizeof pb),
                       rn_errno_str(errno, eb, sizeof eb));
    if (!S_ISDIR(sb->st_mode)) return rn_fail(err, RESNET_E_IO, "%s: not a folder", rn_printable(dir, pb, sizeof pb));
    if ((*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return rn_fail(err, RESNET_E_IO, "%s: cannot read folder: %s", rn_printable(dir, pb, sizeof pb),
                       rn_errno_str(errno, eb, sizeof eb));
    return RESNET_OK;
}

/* resnet_list_images, and *ignored (if not NULL) the files below dir that are not photos. */
static resnet_status list_images(const char *dir, resnet_file_list *out, int *ignored, resnet_error *err) {
    memset(out, 0, sizeof *out);
    char pb[400];
    struct stat sb;
    int fd;
    resnet_status st = open_root(dir, &sb, &fd, err);
    if (st != RESNET_OK) return st;
    walker w = {{NULL, 0, 0}, {NULL, 0, 0}, 0, 0};
    ancestor root = {{sb.st_dev, sb.st_ino}, NULL};
    walk(&w, fd, dir, &root, 0);
    if (w.oom) {
        free_vec(&w.files);
        free_vec(&w.problems);
        return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory listing the folder", rn_printable(dir, pb, sizeof pb));
    }
    if (w.files.n > 1) qsort(w.files.v, (size_t)w.files.n, sizeof *w.files.v, cmp_str);
    out->count = w.files.n;
    out->paths = w.files.v;
    out->n_problems = w.problems.n;
    out->problems = w.problems.v;
    if (ignored) *ignored = w.ignored;
    return RESNET_OK;
}

resnet_status resnet_list_images(const char *dir, resnet_file_list *out, resnet_error *err) {
    if (out) memset(out, 0, sizeof *out); /* whatever else is wrong: resnet_file_list_free may follow */
    if (!dir || !out) return rn_fail(err, RESNET_E_ARG, "resnet_list_images: NULL argument");
    return list_images(dir, out, NULL, err);
}

void resnet_file_list_free(resnet_file_list *list) {
    if (!list) return;
    for (int i = 0; i < list->count; i++) free(list->paths[i]);
    for (int i = 0; i < list->n_problems; i++) free(list->problems[i]);
    free(list->paths);
    free(list->problems);
    memset(list, 0, sizeof *list);
}

/* ---- a folder per class ------------------------------------------------------------------ */

int rn_imagenet_folder_class(const char *name) {
    if (!name || !name[0]) return -1;
    if (name[0] == 'n') {
        for (int i = 0; i < RESNET_NUM_CLASSES; i++)
            if (strcmp(name, resnet_class_wnid(i)) == 0) return i;
        return -1;
    }
    for (const char *p = name; *p; p++)
        if (!isdigit((unsigned char)*p)) return -1;
    errno = 0;
    const long v = strtol(name, NULL, 10);
    return errno == 0 && v < RESNET_NUM_CLASSES ? (int)v : -1;
}

static int cmp_folder(const void *a, const void *b) {
    return strcmp(((const rn_class_folder *)a)->name, ((const rn_class_folder *)b)->name);
}

void rn_class_tree_free(rn_class_tree *t) {
    if (!t) return;
    for (int i = 0; i < t->n; i++) {
        free(t->folders[i].name);
        free(t->folders[i].path);
        resnet_file_list_free(&t->folders[i].photos);
    }
    free(t->folders);
    memset(t, 0, sizeof *t);
}

resnet_status rn_list_classes(const char *dir, rn_class_names names, rn_class_tree *out, resnet_error *err) {
    if (!dir || !out) return rn_fail(err, RESNET_E_ARG, "rn_list_classes: NULL argument");
    memset(out, 0, sizeof *out);
    struct stat sb;
    int fd;
    resnet_status st = open_root(dir, &sb, &fd, err);
    if (st != RESNET_OK) return st;
    DIR *d = fdopendir(fd);
    if (!d) {
        char eb[128], pb[400];
        const int e0 = errno;
        close(fd);
        return rn_fail(err, RESNET_E_IO, "%s: cannot read folder: %s", rn_printable(dir, pb, sizeof pb),
                       rn_errno_str(e0, eb, sizeof eb));
    }
    int cap = 0, oom = 0;
    struct dirent *e;
    while (!oom && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue; /* ".", "..", hidden folders */
        char *path = rn_path_join(dir, e->d_name);
        if (!path) {
            oom = 1;
            break;
        }
        if (fstatat(dirfd(d), e->d_name, &sb, 0) != 0 || !S_ISDIR(sb.st_mode)) { /* a file at the top: no class */
            out->loose++;
            free(path);
            continue;
        }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 16;
            rn_class_folder *v = realloc(out->folders, (size_t)cap * sizeof *v);
            if (!v) {
                free(path);
                oom = 1;
                break;
            }
            out->folders = v;
        }
        rn_class_folder *f = &out->folders[out->n];
        memset(f, 0, sizeof *f);
        f->path = path;
        if (!(f->name = strdup(e->d_name))) {
            free(path);
            oom = 1;
            break;
        }
        out->n++;
    }
    closedir(d);
    if (out->n > 1) qsort(out->folders, (size_t)out->n, sizeof *out->folders, cmp_folder);
    for (int i = 0; !oom && i < out->n; i++) {
        rn_class_folder *f = &out->folders[i];
        f->label = names == RN_CLASSES_IMAGENET ? rn_imagenet_folder_class(f->name) : i;
        resnet_error e2;
        st = list_images(f->path, &f->photos, &f->ignored, &e2);
        if (st == RESNET_E_NOMEM) {
            oom = 1;
        } else if (st != RESNET_OK) { /* unreadable (or gone): a problem of this class, not the end */
            char *m = strdup(e2.message);
            char **v = m ? malloc(sizeof *v) : NULL;
            if (!v) {
                free(m);
                oom = 1;
            } else {
                v[0] = m;
                f->photos.problems = v;
                f->photos.n_problems = 1;
            }
        }
    }
    if (oom) {
        char pb[400];
        rn_class_tree_free(out);
        return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory listing the folder", rn_printable(dir, pb, sizeof pb));
    }
    return RESNET_OK;
}
