/* photos.c - where photos come from: the arguments, files as given and folders expanded
 * (recursively, sorted), and "-", standard input, read once; and the photos of a command
 * line through the library's runner (resnet_run), "-" a memory item in its place in the
 * list, so results stay in the order of the arguments and the photos around it are still
 * decoded ahead. Entries that carry an error already (a folder that could not be listed)
 * are items with that error, reported in their place. */
#define _XOPEN_SOURCE 700 /* strdup */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

/* Photos are at most 2 GiB, as the library reads files (src/image/decode.c). */
#define STDIN_MAX ((size_t)2 << 30)

const unsigned char *cli_stdin_bytes(size_t *size, resnet_error *err) {
    static unsigned char *data;
    static size_t len;
    static int done, failed;
    if (!done) {
        done = 1;
        size_t cap = 0;
        if (isatty(STDIN_FILENO)) {
            failed = 1;
            snprintf(err->message, sizeof err->message, "-: standard input is a terminal; pipe a photo into it");
            return NULL;
        }
        for (;;) {
            if (len == cap) {
                size_t ncap = cap ? cap * 2 : (size_t)1 << 16;
                unsigned char *p = ncap <= 2 * STDIN_MAX ? realloc(data, ncap) : NULL;
                if (!p) {
                    failed = 1;
                    snprintf(err->message, sizeof err->message, "-: %s",
                             ncap > 2 * STDIN_MAX ? "standard input is over 2 GiB" : "out of memory");
                    return NULL;
                }
                data = p;
                cap = ncap;
            }
            ssize_t r = read(STDIN_FILENO, data + len, cap - len);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                failed = 1;
                snprintf(err->message, sizeof err->message, "-: cannot read standard input: %s", strerror(errno));
                return NULL;
            }
            if (r == 0) break;
            len += (size_t)r;
            if (len > STDIN_MAX) {
                failed = 1;
                snprintf(err->message, sizeof err->message, "-: standard input is over 2 GiB");
                return NULL;
            }
        }
    }
    if (failed) {
        snprintf(err->message, sizeof err->message, "-: standard input could not be read");
        return NULL;
    }
    *size = len;
    return data ? data : (const unsigned char *)"";
}

/* ---- photo lists ----------------------------------------------------------------------- */

int cli_is_dir(const char *path) {
    struct stat sb;
    return !cli_is_stdin(path) && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int photos_push(cli_photos *p, const char *path) {
    if (p->count == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        char **v = realloc(p->paths, (size_t)cap * sizeof *v);
        if (!v) return -1;
        p->paths = v;
        if (p->errors) { /* kept as long as paths */
            char **e = realloc(p->errors, (size_t)cap * sizeof *e);
            if (!e) return -1;
            memset(e + p->cap, 0, (size_t)(cap - p->cap) * sizeof *e);
            p->errors = e;
        }
        p->cap = cap;
    }
    size_t n = strlen(path) + 1;
    if (!(p->paths[p->count] = malloc(n))) return -1;
    memcpy(p->paths[p->count++], path, n);
    return 0;
}

int cli_photos_add(cli_photos *out, char **args, int nargs) {
    /* standard input can be read once: a second "-" would be the first one's bytes again */
    for (int i = 0, seen = 0; i < nargs; i++)
        if (cli_is_stdin(args[i]) && seen++)
            return cli_usage_error("'-' (standard input) is given more than once");
    char *empty = NULL; /* per argument: a folder with no photo */
    int rc = 0;
    for (int i = 0; i < nargs && rc == 0; i++) {
        if (!cli_is_dir(args[i])) {
            /* a file, or something missing: kept, so that it is reported in its place */
            if (photos_push(out, args[i]) != 0) rc = cli_error("out of memory");
            continue;
        }
        resnet_file_list list;
        resnet_error err;
        if (resnet_list_images(args[i], &list, &err) != RESNET_OK) {
            if (!out->keep_going) rc = cli_error("%s", err.message);
            /* reported when its turn comes, as any photo that cannot be read */
            else if (photos_push(out, args[i]) != 0 ||
                     (!out->errors && !(out->errors = calloc((size_t)out->cap, sizeof *out->errors))) ||
                     !(out->errors[out->count - 1] = strdup(err.message)))
                rc = cli_error("out of memory");
            continue;
        }
        out->folders++;
        for (int j = 0; j < list.n_problems; j++) cli_error("%s", list.problems[j]);
        out->problems += list.n_problems;
        if (list.count == 0 && nargs > 1) {
            out->empty++;
            if (!empty && !(empty = calloc((size_t)nargs, 1))) rc = cli_error("out of memory");
            else empty[i] = 1;
        }
        for (int j = 0; j < list.count && rc == 0; j++)
            if (photos_push(out, list.paths[j]) != 0) rc = cli_error("out of memory");
        resnet_file_list_free(&list);
    }
    /* Among other arguments an empty folder would vanish from the results unremarked. When
     * nothing was found at all, the caller's one "no photos found" line says it instead. */
    for (int i = 0; rc == 0 && out->count > 0 && empty && i < nargs; i++)
        if (empty[i]) cli_error("%s: no photos in this folder", args[i]);
    free(empty);
    if (out->count == 0) out->empty = 0;
    return rc;
}

void cli_photos_free(cli_photos *p) {
    for (int i = 0; i < p->count; i++) free(p->paths[i]);
    for (int i = 0; p->errors && i < p->count; i++) free(p->errors[i]);
    free(p->errors);
    free(p->paths);
    memset(p, 0, sizeof *p);
}

/* ---- through the runner ---------------------------------------------------------------- */

int cli_is_stdin(const char *path) { return strcmp(path, CLI_STDIN_NAME) == 0; }

typedef struct photo_source {
    char *const *paths, *const *errors;
    int n, next;
    resnet_error stdin_err; /* why standard input could not be read */
} photo_source;

/* Runs on the runner's decoding thread. */
static int next_photo(void *vctx, int may_block, resnet_item *item) {
    photo_source *p = vctx;
    (void)may_block;
    if (p->next == p->n) return RESNET_SOURCE_END;
    const int i = p->next++;
    if (p->errors && p->errors[i]) {
        item->name = p->paths[i];
        item->error = p->errors[i];
    } else if (cli_is_stdin(p->paths[i])) {
        item->name = CLI_STDIN_NAME;
        item->data = cli_stdin_bytes(&item->size, &p->stdin_err);
        if (!item->data) item->error = p->stdin_err.message;
    } else {
        item->path = p->paths[i];
    }
    return RESNET_SOURCE_ITEM;
}

resnet_status cli_run_photos(resnet_session *s, char *const *paths, char *const *errors, int n, resnet_tta tta,
                             int want, resnet_item_fn fn, void *ctx, resnet_error *err) {
    if (n <= 0) return RESNET_OK;
    photo_source p = {paths, errors, n, 0, {0}};
    resnet_run_options o;
    resnet_run_options_init(&o);
    o.want = want;
    o.tta = tta;
    return resnet_run(s, next_photo, &p, fn, ctx, &o, err);
}
