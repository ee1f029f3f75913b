/* embed.c - `resnet embed PHOTO... -o FILE`: the pooled features as a matrix, or with --stage a
 * stage's feature maps (N x C x H x W), a backbone's output. */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/featcache.h"


/* In any case: x.NPY is NumPy too, not raw floats under a NumPy name. */
static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
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
 * it: shape (n, dims...), '<f4', C order). Through the atomic writer (io/atomic.h), so an
 * interrupted run never leaves a truncated file under the name asked for. */
static int write_matrix(const char *path, const float *rows, int n, const int *dims, int ndims, int npy) {
    size_t DIM = 1;
    char shape[96];
    int sl = snprintf(shape, sizeof shape, "%d, ", n);
    for (int d = 0; d < ndims; d++) {
        DIM *= (size_t)dims[d];
        sl += snprintf(shape + sl, sizeof shape - (size_t)sl, d ? ", %d" : "%d", dims[d]);
    }
    rn_atomic_file af;
    resnet_error err;
    if (rn_atomic_open(&af, path, &err) != RESNET_OK) return cli_error("%s", err.message);
    const int fd = af.fd;
    int ok = 1;
    if (npy) {
        char dict[128];
        int dl = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape);
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
    float *row = malloc(DIM * sizeof(float));
    ok = ok && row;
    for (int i = 0; ok && i < n; i++) {
        memcpy(row, rows + (size_t)i * DIM, DIM * sizeof(float));
        if (!le)
            for (size_t j = 0; j < DIM; j++) {
                uint32_t b;
                memcpy(&b, &row[j], 4);
                b = (b >> 24) | ((b >> 8) & 0xff00u) | ((b << 8) & 0xff0000u) | (b << 24);
                memcpy(&row[j], &b, 4);
            }
        ok = write_all(fd, row, DIM * sizeof(float)) == 0;
    }
    free(row);
    if (!ok) {
        int e = errno;
        rn_atomic_abort(&af);
        return cli_error("%s: cannot write: %s", path, strerror(e));
    }
    if (rn_atomic_commit(&af, &err) != RESNET_OK) return cli_error("%s", err.message);
    return 0;
}

enum { OPT_L2 = CLI_OPT_FIRST_OWN, OPT_STAGE };

static const cli_option embed_options[] = {
    CLI_OPTION_OUTPUT("FILE", "where to write them (required): FILE.npy is NumPy (n, 2048) <f4,\n"
                              "any other name raw little-endian float32"),
    CLI_OPTION("l2", 0, NULL, OPT_L2, "L2-normalise each row"),
    CLI_OPTION("stage", 0, "NAME", OPT_STAGE,
               "layer1..layer4: that stage's feature maps instead, (n, C, H, W)\n"
               "as torchvision's (a backbone for detection or segmentation;\n"
               "see --size and --output-stride)"),
    CLI_OPTION_JSON("the report as one JSON object per line and photo, in order:\n"
                    "{\"file\", \"row\"} or {\"file\", \"row\", \"error\"}"),
    CLI_OPTION_FORCE,
    {0},
};

const cli_command cli_embed = {
    .name = "embed", .run = cmd_embed, .synopsis = "-o FILE PHOTO|DIR...",
    .brief = "the pooled features of photos, as a matrix (or a stage's feature maps)",
    .about = "Writes the pooled features (2048 for ResNet-50), one row per photo, in order (folders\n"
             "walked recursively; - reads a photo from standard input); unreadable photos get rows of\n"
             "zeros. With --stage, each photo's row is that stage's maps, C x H x W. Prints ROW<TAB>FILE\n"
             "for each photo.",
    .notes = "exit status: 0 every photo read, 1 some could not be (their rows are zeros), 2 usage error\n",
    .options = embed_options, .network = 1,
};

static int all_finite(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

/* The stage maps of every photo, one at a time (a backbone's maps are large: no batching). */
static int stage_maps(resnet_session *s, const cli_common *c, char *const *paths, int n, int stage, float *out,
                      size_t per, char *ok, char **errors) {
    const resnet_model *m = resnet_session_model(s);
    const int size = resnet_model_input_size(m);
    float *input = malloc((size_t)3 * size * size * sizeof(float));
    if (!input) return cli_error("out of memory"), -1;
    int good = 0;
    for (int i = 0; i < n; i++) {
        resnet_error err;
        resnet_status st;
        ok[i] = 0;
        if (cli_is_stdin(paths[i])) {
            size_t len;
            const unsigned char *data = cli_stdin_bytes(&len, &err);
            st = data ? resnet_model_preprocess_memory(m, data, len, CLI_STDIN_NAME, c->image_flags, NULL, 1, input, &err)
                      : RESNET_E_IO;
        } else {
            st = resnet_model_preprocess_file(m, paths[i], c->image_flags, NULL, 1, input, &err);
        }
        resnet_outputs o;
        resnet_outputs_init(&o);
        o.stages[stage - 1] = out + (size_t)i * per;
        if (st == RESNET_OK) st = resnet_forward_ex(s, input, 1, &o, &err);
        if (st == RESNET_OK && !all_finite(o.stages[stage - 1], per)) {
            st = RESNET_E_WEIGHTS;
            snprintf(err.message, sizeof err.message, "%s: the network's output is not finite", paths[i]);
        }
        if (st == RESNET_OK) {
            ok[i] = 1;
            good++;
        } else {
            memset(out + (size_t)i * per, 0, per * sizeof(float));
            cli_error("%s", err.message);
            if (errors) errors[i] = strdup(err.message);
        }
    }
    free(input);
    return good;
}

int cmd_embed(int argc, char **argv) {
    cli_common common = {0};
    int l2 = 0, c, stage = 0;
    optind = 0;
    while ((c = cli_getopt(&cli_embed, argc, argv, &common)) != CLI_END) {
        if (c == OPT_L2) l2 = 1;
        else if (c == OPT_STAGE) {
            if (strlen(optarg) != 6 || strncmp(optarg, "layer", 5) != 0 || optarg[5] < '1' || optarg[5] > '4')
                return cli_usage_error("embed: --stage must be layer1, layer2, layer3 or layer4, got '%s'", optarg);
            stage = optarg[5] - '0';
        } else return CLI_EXIT_STATUS(c);
    }
    if (stage && l2) return cli_usage_error("embed: --l2 is for the pooled features, not --stage maps");
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
    if ((rc = cli_photos_add(&photos, args, nargs)) != 0) goto done;
    rc = 1;
    if (photos.count == 0) {
        cli_error("no photos found in %s", nargs == 1 ? args[0] : "the folders given");
        goto done;
    }
    /* every photo found, and the arguments themselves (a file that is not a photo, too) */
    if (cli_check_output(out, ends_with(out, ".npy") ? RN_KIND_NPY : RN_KIND_F32, &common, photos.paths, photos.count,
                         (const char *const *)args, nargs) != 0)
        goto done;
    if (!(model = cli_load_model(&common))) goto done;
    int dims[3] = {resnet_model_feature_dim(model), 0, 0}, ndims = 1;
    if (stage) {
        resnet_model_stage_shape(model, stage, &dims[0], &dims[1], &dims[2], NULL);
        ndims = 3;
    }
    const size_t DIM = (size_t)dims[0] * (stage ? (size_t)dims[1] * dims[2] : 1);
    if (stage && (double)DIM * photos.count > 4e9) {
        cli_error("embed: %d photos of %zu floats each is more than 16 GB", photos.count, DIM);
        goto done;
    }
    feats = calloc((size_t)photos.count * DIM, sizeof(float)); /* zeros: the rows of failed photos */
    ok = malloc((size_t)photos.count);
    errors = calloc((size_t)photos.count, sizeof *errors);
    if (!feats || !ok || !errors) {
        cli_error("out of memory");
        goto done;
    }
    if (!(s = cli_session(model, &common, stage || photos.count < CLI_BATCH ? (stage ? 1 : photos.count) : CLI_BATCH)))
        goto done;
    int good = stage ? stage_maps(s, &common, photos.paths, photos.count, stage, feats, DIM, ok, errors)
                     : cli_features_report(s, NULL, photos.paths, photos.count, feats, ok, NULL, errors);
    if (good < 0) goto done;
    if (good == 0) {
        cli_error("no photo could be read; %s not written", out);
        goto done;
    }
    if (l2)
        for (int i = 0; i < photos.count; i++) resnet_l2_normalize(feats + (size_t)i * DIM, (int)DIM);
    if (write_matrix(out, feats, photos.count, dims, ndims, ends_with(out, ".npy")) != 0) goto done;
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
    if (stage)
        fprintf(stderr, "resnet: wrote %d x %d x %d x %d layer%d maps to ", photos.count, dims[0], dims[1], dims[2],
                stage);
    else
        fprintf(stderr, "resnet: wrote %d x %d features%s to ", photos.count, dims[0], l2 ? " (L2-normalised)" : "");
    cli_text(stderr, out);
    if (good < photos.count) {
        fputs("; rows of unreadable photos are zeros:", stderr);
        for (int i = 0; i < photos.count; i++)
            if (!ok[i]) fprintf(stderr, " %d", i);
    }
    fputc('\n', stderr);
    rc = good < photos.count || photos.problems || photos.empty ? 1 : 0;
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
