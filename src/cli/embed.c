/* embed.c - `resnet embed PHOTO... -o FILE` (the 2048-d pooled features as a matrix) and
 * `resnet similar QUERY DIR` (a folder ranked by cosine similarity to one photo). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/features.h"

#define BATCH 4
#define DIM RESNET_FEATURE_DIM

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The rows as little-endian float32, after an NPY v1.0 header when npy (numpy.load reads
 * it: shape (n, 2048), '<f4', C order). Written to PATH.tmp.<pid> and renamed, so an
 * interrupted run never leaves a truncated file under the name asked for. */
static int write_matrix(const char *path, const float *rows, int n, int npy) {
    rn_atomic_file af;
    resnet_error err;
    if (rn_atomic_open(&af, path, &err) != RESNET_OK) return cli_error("%s", err.message);
    const int fd = af.fd;
    int ok = 1;
    if (npy) {
        char dict[128];
        int dl = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", n, DIM);
        /* magic (6) + version (2) + length (2) + dict, padded with spaces and ended by '\n'
         * to a multiple of 64 bytes, as numpy writes it */
        size_t total = (10 + (size_t)dl + 1 + 63) / 64 * 64;
        unsigned char hdr[256];
        memcpy(hdr, "\x93NUMPY\x01\x00", 8);
        size_t hl = total - 10;
        hdr[8] = (unsigned char)(hl & 0xff);
        hdr[9] = (unsigned char)(hl >> 8);
        memcpy(hdr + 10, dict, (size_t)dl);
        memset(hdr + 10 + dl, ' ', total - 10 - (size_t)dl - 1);
        hdr[total - 1] = '\n';
        ok = write_all(fd, hdr, total) == 0;
    }
    const uint32_t one = 1;
    const int le = *(const unsigned char *)&one == 1;
    for (int i = 0; ok && i < n; i++) {
        float row[DIM];
        memcpy(row, rows + (size_t)i * DIM, sizeof row);
        if (!le)
            for (int j = 0; j < DIM; j++) {
                uint32_t b;
                memcpy(&b, &row[j], 4);
                b = (b >> 24) | ((b >> 8) & 0xff00u) | ((b << 8) & 0xff0000u) | (b << 24);
                memcpy(&row[j], &b, 4);
            }
        ok = write_all(fd, row, sizeof row) == 0;
    }
    if (!ok) {
        int e = errno;
        rn_atomic_abort(&af);
        return cli_error("%s: cannot write: %s", path, strerror(e));
    }
    if (rn_atomic_commit(&af, &err) != RESNET_OK) return cli_error("%s", err.message);
    return 0;
}

static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int cmd_embed(int argc, char **argv) {
    cli_common common = {0};
    const char *out = NULL;
    int l2 = 0, nargs = 0;
    char **args = calloc((size_t)argc, sizeof *args);
    if (!args) return cli_error("out of memory");
    for (int i = 1; i < argc; i++) {
        int r = cli_common_flag(&common, argc, argv, &i);
        if (r < 0) { free(args); return 2; }
        if (r > 0) continue;
        const char *a = argv[i];
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (i + 1 >= argc) { free(args); return cli_usage_error("embed: %s needs a file name", a); }
            out = argv[++i];
        } else if (strcmp(a, "--l2") == 0) {
            l2 = 1;
        } else if (strcmp(a, "--") == 0) {
            while (++i < argc) args[nargs++] = argv[i];
        } else if (a[0] == '-' && a[1] != '\0') {
            free(args);
            return cli_usage_error("embed: unknown option '%s'", a);
        } else {
            args[nargs++] = argv[i];
        }
    }
    if (nargs == 0) { free(args); return cli_usage_error("embed: no photo given"); }
    if (!out) { free(args); return cli_usage_error("embed: -o FILE is required (.npy for NumPy, else raw float32)"); }
    cli_photos photos = {0};
    int rc = 1;
    resnet_model *model = NULL;
    resnet_session *s = NULL;
    float *feats = NULL;
    char *ok = NULL;
    if (cli_photos_add(&photos, args, nargs) != 0) goto done;
    if (photos.count == 0) {
        cli_error("no photos (JPEG or PNG) found in %s", nargs == 1 ? args[0] : "the folders given");
        goto done;
    }
    /* every photo found, and the arguments themselves (a file that is not a photo, too) */
    if (cli_check_output(out, ends_with(out, ".npy") ? RN_KIND_NPY : RN_KIND_F32, &common, photos.paths, photos.count,
                         (const char *const *)args, nargs) != 0)
        goto done;
    feats = calloc((size_t)photos.count * DIM, sizeof(float)); /* zeros: the rows of failed photos */
    ok = malloc((size_t)photos.count);
    if (!feats || !ok) {
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
    int good = cli_features(s, NULL, photos.paths, photos.count, feats, ok, NULL);
    if (good < 0) goto done;
    if (good == 0) {
        cli_error("no photo could be read; %s not written", out);
        goto done;
    }
    if (l2)
        for (int i = 0; i < photos.count; i++) resnet_l2_normalize(feats + (size_t)i * DIM, DIM);
    if (write_matrix(out, feats, photos.count, ends_with(out, ".npy")) != 0) goto done;
    /* the row of each photo, so that folders expanded in place can be mapped back */
    for (int i = 0; i < photos.count; i++) printf("%d\t%s\n", i, photos.paths[i]);
    fprintf(stderr, "resnet: wrote %d x %d features%s to %s", photos.count, DIM, l2 ? " (L2-normalised)" : "", out);
    if (good < photos.count) {
        fputs("; rows of unreadable photos are zeros:", stderr);
        for (int i = 0; i < photos.count; i++)
            if (!ok[i]) fprintf(stderr, " %d", i);
    }
    fputc('\n', stderr);
    rc = good < photos.count || photos.problems ? 1 : 0;
done:
    resnet_session_free(s);
    resnet_model_free(model);
    cli_photos_free(&photos);
    free(feats);
    free(ok);
    free(args);
    return rc;
}

typedef struct scored {
    float score;
    int index;
} scored;

static int by_score(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return (x->index > y->index) - (x->index < y->index); /* ties: listing order */
}

int cmd_similar(int argc, char **argv) {
    cli_common common = {0};
    const char *query = NULL, *dir = NULL;
    int k = 10, use_cache = 1;
    for (int i = 1; i < argc; i++) {
        int r = cli_common_flag(&common, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *a = argv[i];
        if (strcmp(a, "-k") == 0 || strcmp(a, "--top") == 0) {
            if (cli_parse_int(a, i + 1 < argc ? argv[i + 1] : NULL, 1, 1000000, &k)) return 2;
            i++;
        } else if (strcmp(a, "--no-cache") == 0) {
            use_cache = 0;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage_error("similar: unknown option '%s'", a);
        } else if (!query) {
            query = a;
        } else if (!dir) {
            dir = a;
        } else {
            return cli_usage_error("similar: QUERY DIR expected, '%s' is one too many", a);
        }
    }
    if (!query || !dir) return cli_usage_error("similar: QUERY photo and DIR folder expected");
    resnet_file_list list = {0};
    resnet_error err;
    if (resnet_list_images(dir, &list, &err) != RESNET_OK) return cli_error("%s", err.message);
    for (int j = 0; j < list.n_problems; j++) cli_error("%s", list.problems[j]);
    /* the query itself is not an answer */
    int n = 0;
    for (int i = 0; i < list.count; i++) {
        if (same_file(list.paths[i], query)) {
            free(list.paths[i]);
            continue;
        }
        list.paths[n++] = list.paths[i];
    }
    list.count = n;
    int rc = 1;
    resnet_model *model = NULL;
    resnet_session *s = NULL;
    featcache *cache = NULL;
    float *feats = NULL, q[DIM];
    char *ok = NULL, qok = 0;
    scored *rank = NULL;
    if (n == 0) {
        cli_error("no photos (JPEG or PNG) found in %s besides the query", dir);
        goto done;
    }
    feats = malloc((size_t)n * DIM * sizeof(float));
    ok = malloc((size_t)n);
    rank = malloc((size_t)n * sizeof *rank);
    if (!feats || !ok || !rank) {
        cli_error("out of memory");
        goto done;
    }
    if (!(model = cli_load_model(&common))) goto done;
    if (resnet_session_create(model, common.threads, n < BATCH ? n : BATCH, &s, &err) != RESNET_OK) {
        cli_error("%s", err.message);
        goto done;
    }
    char *qp = (char *)query;
    if (cli_features(s, NULL, &qp, 1, q, &qok, NULL) != 1) goto done; /* already reported */
    if (use_cache) cache = featcache_open(dir, resnet_model_fingerprint(model));
    int hits = 0, good = cli_features(s, cache, list.paths, n, feats, ok, &hits);
    featcache_close(cache);
    cache = NULL;
    if (good < 0) goto done;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (ok[i]) rank[m++] = (scored){resnet_cosine(q, feats + (size_t)i * DIM, DIM), i};
    qsort(rank, (size_t)m, sizeof *rank, by_score);
    for (int i = 0; i < m && i < k; i++) printf("%8.4f  %s\n", rank[i].score, list.paths[rank[i].index]);
    rc = good < n || list.n_problems ? 1 : 0;
done:
    featcache_close(cache);
    resnet_session_free(s);
    resnet_model_free(model);
    resnet_file_list_free(&list);
    free(feats);
    free(ok);
    free(rank);
    return rc;
}
