/* featcache.c - the per-folder cache of pooled features, and the features of many photos
 * through it: what makes a second `train-head` or `similar` on the same folder take seconds.
 *
 * Why a cache file per folder (and per weight file) rather than one big one: it is read and
 * rewritten whole, so its size stays that of the folder's features (8 KB a photo), entries
 * of photos that left the folder disappear at the next write, and two folders never contend
 * for one file. It lives under the user's cache folder, not next to the photos, because
 * photo folders are often read-only or shared. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "cli/featcache.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the cache ------------------------------------------------------------------------------- */

/* The last digit is the pixels' version: raised when a decoder fix changes what some photos
 * decode to, so that features computed before are computed again rather than reused (a cache
 * of an older version reads as absent, not as damaged). 02: BMPs whose pixel offset is 0,
 * EXIF orientations of other number types or behind junk bytes, TIFF PackBits runs that cross
 * rows (2026-12-07). */
#define MAGIC "RNFEAT02"
#define ENDIAN_MARK 0x01020304u /* the file is in this machine's byte order; another reads as damaged */

typedef struct entry {
    char *key;                 /* the photo's real path */
    int64_t size, sec, nsec;   /* its size and modification time when computed */
    float *feat;               /* the cache's dim floats */
    int used;                  /* looked up (and still valid) in this run */
} entry;

struct featcache {
    char *file;                /* the cache file */
    unsigned long long fp;
    int dim;                   /* floats a photo (the network's pooled features) */
    entry *old;                /* from the file, sorted by key */
    int n_old;
    entry *add;                /* computed in this run */
    int n_add, cap_add;
};

static uint64_t fnv64(const char *s) {
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static int mkdir_p(char *path) { /* path is modified and restored */
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int r = mkdir(path, 0755);
        int e = errno;
        struct stat sb;
        /* EEXIST for a file too: then that file is in the way (said as ENOTDIR) */
        if (r != 0 && e == EEXIST && (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))) r = -1, e = ENOTDIR;
        else if (r != 0 && e == EEXIST) r = 0;
        *p = '/';
        if (r != 0) {
            errno = e;
            return -1;
        }
    }
    struct stat sb;
    if (mkdir(path, 0755) == 0) return 0;
    if (errno != EEXIST) return -1;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return 0;
    errno = ENOTDIR;
    return -1;
}

static int cmp_entry(const void *a, const void *b) { return strcmp(((const entry *)a)->key, ((const entry *)b)->key); }

static void free_entries(entry *e, int n) {
    for (int i = 0; i < n; i++) {
        free(e[i].key);
        free(e[i].feat);
    }
    free(e);
}

/* Reads the whole cache file; 0 if it is absent, 1 if read, -1 if damaged, -2 if it cannot
 * be read (errno says why). */
static int load(featcache *c) {
    struct stat sb;
    if (stat(c->file, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        errno = EISDIR;
        return -2;
    }
    FILE *f = fopen(c->file, "rb");
    if (!f) return errno == ENOENT ? 0 : -2;
    char magic[8];
    uint32_t mark, dim, count;
    unsigned long long fp;
    const int whole = fread(magic, 1, 8, f) == 8;
    if (whole && memcmp(magic, MAGIC, 7) == 0 && magic[7] >= '0' && magic[7] < MAGIC[7]) {
        fclose(f); /* an older version's: rewritten whole at the next write */
        return 0;
    }
    int ok = whole && memcmp(magic, MAGIC, 8) == 0 && fread(&mark, 4, 1, f) == 1 &&
             mark == ENDIAN_MARK && fread(&fp, 8, 1, f) == 1 && fp == c->fp && fread(&dim, 4, 1, f) == 1 &&
             dim == (uint32_t)c->dim && fread(&count, 4, 1, f) == 1 && count <= 10000000;
    if (ok && count) ok = (c->old = calloc(count, sizeof *c->old)) != NULL;
    for (uint32_t i = 0; ok && i < count; i++) {
        entry *e = &c->old[i];
        uint32_t klen;
        ok = fread(&klen, 4, 1, f) == 1 && klen > 0 && klen < PATH_MAX && (e->key = malloc(klen + 1)) != NULL &&
             fread(e->key, 1, klen, f) == klen && fread(&e->size, 8, 1, f) == 1 && fread(&e->sec, 8, 1, f) == 1 &&
             fread(&e->nsec, 8, 1, f) == 1 && (e->feat = malloc((size_t)c->dim * sizeof(float))) != NULL &&
             fread(e->feat, sizeof(float), (size_t)c->dim, f) == (size_t)c->dim;
        if (e->key) e->key[ok ? klen : 0] = '\0';
        /* a damaged value would pass for a photo's features: a NaN makes every similarity 0
         * and stops train-head on "feature 0 is not finite", naming neither photo nor cache */
        for (int k = 0; ok && k < c->dim; k++) ok = isfinite(e->feat[k]);
        c->n_old = (int)i + 1;
    }
    ok = ok && fgetc(f) == EOF; /* and nothing after the last entry */
    fclose(f);
    if (!ok) {
        free_entries(c->old, c->n_old);
        c->old = NULL;
        c->n_old = 0;
        return -1;
    }
    qsort(c->old, (size_t)c->n_old, sizeof *c->old, cmp_entry);
    return 1;
}

featcache *featcache_open(const char *dir, unsigned long long fingerprint, int dim) {
    char real[PATH_MAX], folder[PATH_MAX];
    if (!realpath(dir, real)) return NULL; /* the walk will report the folder itself */
    const char *env = getenv("RESNET_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (env && *env) n = snprintf(folder, sizeof folder, "%s/features", env);
    else if (xdg && *xdg) n = snprintf(folder, sizeof folder, "%s/resnet/features", xdg);
    else if (home && *home) n = snprintf(folder, sizeof folder, "%s/.cache/resnet/features", home);
    else return NULL;
    if (n < 0 || (size_t)n >= sizeof folder - 64) return NULL;
    featcache *c = calloc(1, sizeof *c);
    if (c) c->dim = dim;
    size_t flen = strlen(folder) + 64;
    if (!c || !(c->file = malloc(flen))) {
        free(c);
        return NULL;
    }
    c->fp = fingerprint;
    snprintf(c->file, flen, "%s/%016llx-%016llx.bin", folder, fingerprint, (unsigned long long)fnv64(real));
    if (mkdir_p(folder) != 0) {
        cli_error("warning: cannot create the feature cache folder %s: %s (features will not be cached)", folder,
                  strerror(errno));
        free(c->file);
        free(c);
        return NULL;
    }
    int r = load(c);
    if (r == -2) {
        cli_error("warning: cannot read the feature cache %s: %s (features will not be cached)", c->file,
                  strerror(errno));
        free(c->file);
        free(c);
        return NULL;
    }
    if (r < 0) cli_error("warning: feature cache %s is damaged; it will be rebuilt", c->file);
    return c;
}

/* The key of a photo: its real path and what stat says now. */
static int photo_key(const char *path, char *real, int64_t *size, int64_t *sec, int64_t *nsec) {
    struct stat sb;
    if (cli_is_stdin(path)) return -1; /* standard input has no key: never cached */
    if (!realpath(path, real) || stat(real, &sb) != 0 || !S_ISREG(sb.st_mode)) return -1;
    *size = (int64_t)sb.st_size;
    *sec = (int64_t)sb.st_mtim.tv_sec;
    *nsec = (int64_t)sb.st_mtim.tv_nsec;
    return 0;
}

static int featcache_get(featcache *c, const char *path, float *out) {
    char real[PATH_MAX];
    int64_t size, sec, nsec;
    if (!c || !c->n_old || photo_key(path, real, &size, &sec, &nsec) != 0) return 0;
    entry probe = {real, 0, 0, 0, NULL, 0};
    entry *e = bsearch(&probe, c->old, (size_t)c->n_old, sizeof *c->old, cmp_entry);
    if (!e || e->size != size || e->sec != sec || e->nsec != nsec) return 0;
    e->used = 1;
    memcpy(out, e->feat, (size_t)c->dim * sizeof(float));
    return 1;
}

static void featcache_put(featcache *c, const char *path, const float *feat) {
    char real[PATH_MAX];
    int64_t size, sec, nsec;
    if (!c || photo_key(path, real, &size, &sec, &nsec) != 0) return;
    if (c->n_add == c->cap_add) {
        int cap = c->cap_add ? 2 * c->cap_add : 64;
        entry *v = realloc(c->add, (size_t)cap * sizeof *v);
        if (!v) return; /* not cached: only slower next time */
        c->add = v;
        c->cap_add = cap;
    }
    entry *e = &c->add[c->n_add];
    size_t kl = strlen(real) + 1;
    e->key = malloc(kl);
    e->feat = malloc((size_t)c->dim * sizeof(float));
    if (!e->key || !e->feat) {
        free(e->key);
        free(e->feat);
        return;
    }
    memcpy(e->key, real, kl);
    memcpy(e->feat, feat, (size_t)c->dim * sizeof(float));
    e->size = size;
    e->sec = sec;
    e->nsec = nsec;
    e->used = 1;
    c->n_add++;
}

static int write_entry(FILE *f, const entry *e, int dim) {
    uint32_t kl = (uint32_t)strlen(e->key);
    return fwrite(&kl, 4, 1, f) == 1 && fwrite(e->key, 1, kl, f) == kl && fwrite(&e->size, 8, 1, f) == 1 &&
           fwrite(&e->sec, 8, 1, f) == 1 && fwrite(&e->nsec, 8, 1, f) == 1 &&
           fwrite(e->feat, sizeof(float), (size_t)dim, f) == (size_t)dim;
}

void featcache_close(featcache *c) {
    if (!c) return;
    int unused = 0;
    for (int i = 0; i < c->n_old; i++) unused += !c->old[i].used;
    if (c->n_add > 0 || unused > 0) {
        /* Rewrite whole: the entries still valid plus the new ones, through the atomic
         * writer, so a reader never sees half a file. */
        rn_atomic_file af;
        resnet_error err;
        FILE *f = NULL;
        if (rn_atomic_open(&af, c->file, &err) == RESNET_OK) f = rn_atomic_stdio(&af, &err);
        uint32_t mark = ENDIAN_MARK, dim = (uint32_t)c->dim, count = (uint32_t)(c->n_old - unused + c->n_add);
        int ok = f && fwrite(MAGIC, 1, 8, f) == 8 && fwrite(&mark, 4, 1, f) == 1 && fwrite(&c->fp, 8, 1, f) == 1 &&
                 fwrite(&dim, 4, 1, f) == 1 && fwrite(&count, 4, 1, f) == 1;
        for (int i = 0; ok && i < c->n_old; i++)
            if (c->old[i].used) ok = write_entry(f, &c->old[i], c->dim);
        for (int i = 0; ok && i < c->n_add; i++) ok = write_entry(f, &c->add[i], c->dim);
        if (f && !ok) {
            snprintf(err.message, sizeof err.message, "%s", strerror(errno));
            rn_atomic_abort(&af);
        } else if (f) {
            ok = rn_atomic_commit(&af, &err) == RESNET_OK;
        }
        if (!ok) cli_error("warning: could not write the feature cache: %s", err.message);
    }
    featcache_discard(c);
}

void featcache_discard(featcache *c) {
    if (!c) return;
    free_entries(c->old, c->n_old);
    free_entries(c->add, c->n_add);
    free(c->file);
    free(c);
}

/* ---- features of many photos ------------------------------------------------------------- */

typedef struct feat_ctx {
    featcache *cache;
    const int *index; /* position in the caller's arrays of each photo run */
    float *feats;
    char *ok;
    int done, good, base_done;
    cli_progress bar;
    char **errors; /* NULL, or each failed photo's message (the caller frees them) */
    int dim;
} feat_ctx;

static int on_features(void *vctx, const resnet_item_result *r) {
    feat_ctx *x = vctx;
    const int i = x->index[r->index];
    if (r->status == RESNET_OK) {
        memcpy(x->feats + (size_t)i * x->dim, r->features, (size_t)x->dim * sizeof(float));
        x->ok[i] = 1;
        x->good++;
        featcache_put(x->cache, r->name, r->features); /* "-" for standard input: not cached */
    } else {
        cli_progress_clear(&x->bar);
        cli_error("%s", r->message);
        if (x->errors) x->errors[i] = strdup(r->message);
    }
    cli_progress_update(&x->bar, x->base_done + ++x->done);
    return 0;
}

int cli_features(resnet_session *s, featcache *c, char *const *paths, int n, float *feats, char *ok, int *from_cache) {
    return cli_features_report(s, c, paths, n, feats, ok, from_cache, NULL);
}

int cli_features_report(resnet_session *s, featcache *c, char *const *paths, int n, float *feats, char *ok,
                        int *from_cache, char **errors) {
    memset(ok, 0, (size_t)n);
    const int dim = resnet_model_feature_dim(resnet_session_model(s));
    int hits = 0;
    int *miss = malloc((size_t)(n ? n : 1) * sizeof *miss);
    const char **mpaths = malloc((size_t)(n ? n : 1) * sizeof *mpaths);
    if (!miss || !mpaths) {
        free(miss);
        free(mpaths);
        cli_error("out of memory");
        return -1;
    }
    int nm = 0;
    for (int i = 0; i < n; i++) {
        if (featcache_get(c, paths[i], feats + (size_t)i * dim)) {
            ok[i] = 1;
            hits++;
        } else {
            miss[nm] = i;
            mpaths[nm++] = paths[i];
        }
    }
    feat_ctx x = {c, miss, feats, ok, 0, 0, hits, {0}, errors, dim};
    cli_progress_start(&x.bar, n, "photos");
    resnet_error err;
    resnet_status st = cli_run_photos(s, (char *const *)mpaths, NULL, nm, RESNET_TTA_NONE, RESNET_WANT_FEATURES, on_features, &x,
                                      &err);
    cli_progress_clear(&x.bar);
    free(miss);
    free(mpaths);
    if (st != RESNET_OK) {
        cli_error("%s", err.message);
        return -1;
    }
    if (from_cache) *from_cache = hits;
    return hits + x.good;
}
