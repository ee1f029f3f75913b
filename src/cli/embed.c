/* embed.c - `resnet embed PHOTO... -o FILE`: the 2048-d pooled features as a matrix. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/featcache.h"

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
 * it: shape (n, 2048), '<f4', C order). Through the atomic writer (io/atomic.h), so an
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

enum { OPT_L2 = CLI_OPT_FIRST_OWN };

static const cli_option embed_options[] = {
    CLI_OPTION_OUTPUT("FILE", "where to write them (required): FILE.npy is NumPy (n, 2048) <f4,\n"
                              "any other name raw little-endian float32"),
    CLI_OPTION("l2", 0, NULL, OPT_L2, "L2-normalise each row"),
    CLI_OPTION_JSON("the report as one JSON object per line and photo, in order:\n"
                    "{\"file\", \"row\"} or {\"file\", \"row\", \"error\"}"),
    CLI_OPTION_FORCE,
    {0},
};

const cli_command cli_embed = {
    .name = "embed", .run = cmd_embed, .synopsis = "-o FILE PHOTO|DIR...",
    .brief = "the 2048-d pooled features of photos, as a matrix",
    .about = "Writes the 2048-d pooled features, one row per photo, in order (folders walked\n"
             "recursively; - reads a photo from standard input); unreadable photos get rows of zeros.\n"
             "Prints ROW<TAB>FILE for each photo.",
    .notes = "exit status: 0 every photo read, 1 some could not be (their rows are zeros), 2 usage error\n",
    .options = embed_options, .network = 1,
};

int cmd_embed(int argc, char **argv) {
    cli_common common = {0};
    int l2 = 0, c;
    optind = 0;
    while ((c = cli_getopt(&cli_embed, argc, argv, &common)) != CLI_END) {
        if (c != OPT_L2) return CLI_EXIT_STATUS(c);
        l2 = 1;
    }
    const char *out = common.output;
    const int json = common.json;
    char **args = argv + optind;
    const int nargs = argc - optind;
    if (nargs == 0) return cli_usage_error("embed: no photo given");
    if (!out) return cli_usage_error("embed: -o FILE is required (.npy for NumPy, else raw float32)");
    if (!*out) return cli_usage_error("embed: -o needs a file name");
    cli_photos photos = {0};
    int rc = 1;
    resnet_model *model = NULL;
    resnet_session *s = NULL;
    float *feats = NULL;
    char *ok = NULL, **errors = NULL;
    if (cli_photos_add(&photos, args, nargs) != 0) goto done;
    if (photos.count == 0) {
        cli_error("no photos found in %s", nargs == 1 ? args[0] : "the folders given");
        goto done;
    }
    /* every photo found, and the arguments themselves (a file that is not a photo, too) */
    if (cli_check_output(out, ends_with(out, ".npy") ? RN_KIND_NPY : RN_KIND_F32, &common, photos.paths, photos.count,
                         (const char *const *)args, nargs) != 0)
        goto done;
    feats = calloc((size_t)photos.count * DIM, sizeof(float)); /* zeros: the rows of failed photos */
    ok = malloc((size_t)photos.count);
    errors = calloc((size_t)photos.count, sizeof *errors);
    if (!feats || !ok || !errors) {
        cli_error("out of memory");
        goto done;
    }
    if (!(model = cli_load_model(&common))) goto done;
    if (!(s = cli_session(model, &common, photos.count < CLI_BATCH ? photos.count : CLI_BATCH))) goto done;
    int good = cli_features_report(s, NULL, photos.paths, photos.count, feats, ok, NULL, errors);
    if (good < 0) goto done;
    if (good == 0) {
        cli_error("no photo could be read; %s not written", out);
        goto done;
    }
    if (l2)
        for (int i = 0; i < photos.count; i++) resnet_l2_normalize(feats + (size_t)i * DIM, DIM);
    if (write_matrix(out, feats, photos.count, ends_with(out, ".npy")) != 0) goto done;
    /* the row of each photo, so that folders expanded in place can be mapped back */
    for (int i = 0; i < photos.count; i++) {
        if (json) {
            fputs("{\"file\": ", stdout);
            cli_json_string(stdout, photos.paths[i]);
            printf(", \"row\": %d", i);
            if (!ok[i]) {
                fputs(", \"error\": ", stdout);
                cli_json_string(stdout, errors[i] ? cli_strip_file(errors[i], photos.paths[i]) : "could not be read");
            }
            fputs("}\n", stdout);
        } else {
            printf("%d\t", i);
            cli_text(stdout, photos.paths[i]);
            putchar('\n');
        }
    }
    fprintf(stderr, "resnet: wrote %d x %d features%s to ", photos.count, DIM, l2 ? " (L2-normalised)" : "");
    cli_text(stderr, out);
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
    for (int i = 0; errors && i < photos.count; i++) free(errors[i]);
    free(errors);
    cli_photos_free(&photos);
    free(feats);
    free(ok);
    return rc;
}
