/* safetensors.c - map, validate and write safetensors files (see safetensors.h).
 *
 * Reading maps the whole file read-only, parses the JSON header and checks every entry
 * before anything is handed out: after rn_st_open succeeds, every rn_tensor's data lies
 * inside the file, the tensors' bytes cover the data block exactly (no byte shared, none left
 * over) and names are unique. Tensors are listed
 * (rn_st_tensor) in the order of their data in the file; rn_st_find is a binary search.
 */
#define _DEFAULT_SOURCE /* madvise(MADV_DONTNEED): glibc's posix_madvise ignores DONTNEED */
#include "io/safetensors.h"
#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "io/fileio.h"
#include "io/json.h"

#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000) /* no sane header comes near this */
#define ST_JSON_DEPTH 8                              /* root > tensor > shape is depth 3 */

struct rn_safetensors {
    char *path;
    void *map; /* the whole file, read-only: only for callers that read t->data themselves */
    size_t map_size;
    /* The file itself, which the library reads with pread() instead of through the mapping:
     * a file truncated by another process while it is mapped turns a read of the lost pages
     * into SIGBUS, whereas pread() just comes back short, which is a clear error. Replaced
     * by rename, the open descriptor still reads the old, whole file. -1 for memory. */
    int fd;
    size_t data_off;     /* file offset of the data block */
    unsigned char *head; /* the first 8 + header-length bytes, read with pread */
    const unsigned char *data; /* the data block, after the header */
    size_t data_size;
    rn_json_doc *doc; /* tensor names and metadata strings point into it */
    rn_tensor *tensors; /* in data-offset order */
    size_t n;
    const rn_tensor **by_name; /* sorted by name, for rn_st_find */
    const rn_json *meta;       /* the __metadata__ object, or NULL */
};

// ---------------------------------------------------------------------------------------
// dtypes

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [RN_DT_F32] = {"F32", 4}, [RN_DT_F16] = {"F16", 2}, [RN_DT_BF16] = {"BF16", 2},
    [RN_DT_F64] = {"F64", 8}, [RN_DT_I64] = {"I64", 8}, [RN_DT_I32] = {"I32", 4},
    [RN_DT_I16] = {"I16", 2}, [RN_DT_I8] = {"I8", 1},   [RN_DT_U8] = {"U8", 1},
    [RN_DT_BOOL] = {"BOOL", 1},
};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

size_t rn_dtype_size(rn_dtype t) { return (size_t)t < N_DTYPES ? dtypes[t].size : 0; }

const char *rn_dtype_name(rn_dtype t) { return (size_t)t < N_DTYPES ? dtypes[t].name : "?"; }

static int dtype_parse(const char *s, rn_dtype *out) {
    for (size_t i = 0; i < N_DTYPES; i++) {
        if (strcmp(s, dtypes[i].name) == 0) {
            *out = (rn_dtype)i;
            return 1;
        }
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// Reading

static int cmp_tensor_name(const void *a, const void *b) {
    const rn_tensor *x = *(const rn_tensor *const *)a, *y = *(const rn_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_tensor_offset(const void *a, const void *b) {
    const rn_tensor *x = a, *y = b;
    const unsigned char *px = x->data, *py = y->data;
    if (px != py) return px < py ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_str_ptr(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Validates one tensor entry (everything but overlaps and duplicates). */
static resnet_status parse_entry(rn_safetensors *st, const rn_json_member *m, rn_tensor *t, resnet_error *err) {
    const char *path = st->path;
    char nb[96], sb[160];
    const char *name = rn_printable(m->key, nb, sizeof nb);
    const rn_json *v = &m->value;
    if (v->type != RN_JSON_OBJECT)
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s': entry is a JSON %s, not an object", path, name,
                       rn_json_type_name(v->type));
    t->name = m->key;
    /* a key said twice ("dtype": "F32", "dtype": "I8") would be read as its first: refused, as
     * everywhere else in the header. Sorted, not compared pair by pair: an entry has three keys,
     * but a hostile one may have millions, and the pairs would take hours. */
    const size_t keys = rn_json_count(v);
    if (keys > 1) {
        const char **k = malloc(keys * sizeof *k);
        if (!k) return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory (tensor '%s')", path, name);
        for (size_t i = 0; i < keys; i++) k[i] = rn_json_member_at(v, i)->key;
        qsort(k, keys, sizeof *k, cmp_str_ptr);
        for (size_t i = 1; i < keys; i++)
            if (strcmp(k[i - 1], k[i]) == 0) {
                resnet_status s = rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s': the key '%s' twice", path, name,
                                          rn_printable(k[i], sb, sizeof sb));
                free(k);
                return s;
            }
        free(k);
    }

    const rn_json *jd = rn_json_get(v, "dtype");
    const char *ds = rn_json_string(jd, NULL);
    if (!jd) return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s': no dtype", path, name);
    if (!ds) return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s': dtype is not a string", path, name);
    if (!dtype_parse(ds, &t->dtype)) {
        char db[40];
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s': unknown dtype '%s'", path, name,
                       rn_printable(ds, db, sizeof db));
    }

    const rn_json *js = rn_json_get(v, "shape");
    if (!js) return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s': no shape", path, name);
    if (js->type != RN_JSON_ARRAY)
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s': shape is a JSON %s, not an array", path, name,
                       rn_json_type_name(js->type));
    size_t nd = rn_json_count(js);
    if (nd > RN_ST_MAX_DIMS)
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s': shape has %zu dimensions (at most %d supported)",
                       path, name, nd, RN_ST_MAX_DIMS);
    t->ndim = (int)nd;
    size_t numel = 1;
    int overflow = 0;
    for (size_t i = 0; i < nd; i++) {
        int64_t d;
        if (!rn_json_int64(rn_json_at(js, i), &d) || d < 0)
            return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s': shape[%zu] is not a non-negative integer", path,
                           name, i);
        t->shape[i] = d;
        if ((uint64_t)d > SIZE_MAX || !rn_mul_size(numel, (size_t)d, &numel)) overflow = 1;
    }
    for (size_t i = nd; i < RN_ST_MAX_DIMS; i++) t->shape[i] = 0;
    size_t need;
    /* a zero dimension makes the product 0 whatever the others say */
    for (size_t i = 0; i < nd; i++)
        if (t->shape[i] == 0) overflow = 0, numel = 0;
    if (overflow || !rn_mul_size(numel, dtypes[t->dtype].size, &need))
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s': shape %s is too large", path, name,
                       rn_shape_str(t->shape, t->ndim, ",", sb, sizeof sb));

    const rn_json *jo = rn_json_get(v, "data_offsets");
    int64_t b, e;
    if (!jo) return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s': no data_offsets", path, name);
    if (rn_json_count(jo) != 2 || jo->type != RN_JSON_ARRAY || !rn_json_int64(rn_json_at(jo, 0), &b) ||
        !rn_json_int64(rn_json_at(jo, 1), &e) || b < 0 || e < 0)
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s': data_offsets is not [begin, end] (two non-negative integers)",
                       path, name);
    if (b > e)
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s': data_offsets [%" PRId64 ",%" PRId64 "] end before begin",
                       path, name, b, e);
    if ((uint64_t)e > st->data_size)
        return rn_fail(err, RESNET_E_WEIGHTS,
                       "%s: tensor '%s': data_offsets [%" PRId64 ",%" PRId64 "] out of range (data is %zu bytes)", path,
                       name, b, e, st->data_size);
    if ((uint64_t)(e - b) != (uint64_t)need)
        return rn_fail(err, RESNET_E_WEIGHTS,
                       "%s: tensor '%s': data_offsets [%" PRId64 ",%" PRId64 "] hold %" PRId64
                       " bytes, but %s %s needs %zu",
                       path, name, b, e, e - b, dtypes[t->dtype].name, rn_shape_str(t->shape, t->ndim, ",", sb, sizeof sb),
                       need);
    t->data = st->data + b;
    t->nbytes = need;
    return RESNET_OK;
}

static resnet_status parse_metadata(rn_safetensors *st, const rn_json *meta, resnet_error *err) {
    char kb[96];
    if (meta->type != RN_JSON_OBJECT)
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: __metadata__ is a JSON %s, not an object", st->path,
                       rn_json_type_name(meta->type));
    size_t n = rn_json_count(meta);
    for (size_t i = 0; i < n; i++) {
        const rn_json_member *m = rn_json_member_at(meta, i);
        if (m->value.type != RN_JSON_STRING)
            return rn_fail(err, RESNET_E_WEIGHTS, "%s: __metadata__ value of '%s' is a JSON %s, not a string",
                           st->path, rn_printable(m->key, kb, sizeof kb), rn_json_type_name(m->value.type));
    }
    /* duplicate keys: quadratic, but a metadata block with many keys is not ours anyway */
    if (n > 4096) return rn_fail(err, RESNET_E_WEIGHTS, "%s: __metadata__ has %zu entries (too many)", st->path, n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(rn_json_member_at(meta, i)->key, rn_json_member_at(meta, j)->key) == 0)
                return rn_fail(err, RESNET_E_WEIGHTS, "%s: __metadata__ has the key '%s' twice", st->path,
                               rn_printable(rn_json_member_at(meta, i)->key, kb, sizeof kb));
    st->meta = meta;
    return RESNET_OK;
}

static resnet_status parse_header(rn_safetensors *st, const char *hdr, size_t hlen, resnet_error *err) {
    const char *path = st->path;
    char msg[256], nb[96], nb2[96];
    rn_json_options jo = {ST_JSON_DEPTH, 0, 0};
    int rc = rn_json_parse(hdr, hlen, &jo, &st->doc, msg, sizeof msg);
    if (rc == -2) return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory parsing the header", path);
    if (rc != 0) return rn_fail(err, RESNET_E_WEIGHTS, "%s: header is not valid JSON: %s", path, msg);
    const rn_json *root = rn_json_root(st->doc);
    if (root->type != RN_JSON_OBJECT)
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: header is a JSON %s, not an object", path,
                       rn_json_type_name(root->type));

    size_t members = rn_json_count(root), n = 0;
    const rn_json *meta = NULL;
    for (size_t i = 0; i < members; i++) {
        const rn_json_member *m = rn_json_member_at(root, i);
        if (strcmp(m->key, "__metadata__") == 0) {
            if (meta) return rn_fail(err, RESNET_E_WEIGHTS, "%s: header has __metadata__ twice", path);
            meta = &m->value;
        } else {
            n++;
        }
    }
    if (meta) {
        resnet_status s = parse_metadata(st, meta, err);
        if (s != RESNET_OK) return s;
    }

    st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
    st->by_name = calloc(n ? n : 1, sizeof *st->by_name);
    if (!st->tensors || !st->by_name) return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory (%zu tensors)", path, n);
    size_t k = 0;
    for (size_t i = 0; i < members; i++) {
        const rn_json_member *m = rn_json_member_at(root, i);
        if (&m->value == meta) continue;
        resnet_status s = parse_entry(st, m, &st->tensors[k], err);
        if (s != RESNET_OK) return s;
        k++;
    }
    st->n = n;

    /* duplicate names */
    for (size_t i = 0; i < n; i++) st->by_name[i] = &st->tensors[i];
    qsort(st->by_name, n, sizeof *st->by_name, cmp_tensor_name);
    for (size_t i = 1; i < n; i++)
        if (strcmp(st->by_name[i - 1]->name, st->by_name[i]->name) == 0)
            return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor name '%s' appears twice", path,
                           rn_printable(st->by_name[i]->name, nb, sizeof nb));

    /* The tensors' bytes must be the data block, end to end, as the format's reference reader
     * requires: in offset order each non-empty tensor begins where the one before it ended,
     * and the last ends where the file does. Every writer here and Hugging Face's packs them
     * so (no alignment padding; only the header is padded): a gap or bytes after the last
     * tensor mean a damaged, truncated-and-patched or concatenated file. Empty tensors hold
     * no bytes and are only checked to lie inside the data (parse_entry). */
    qsort(st->tensors, n, sizeof *st->tensors, cmp_tensor_offset);
    const rn_tensor *last = NULL;
    size_t end = 0; /* where the last non-empty tensor ended */
    for (size_t i = 0; i < n; i++) {
        const rn_tensor *t = &st->tensors[i];
        if (t->nbytes == 0) continue;
        const size_t tb = (size_t)((const unsigned char *)t->data - st->data);
        if (tb < end) {
            const size_t lb = end - last->nbytes;
            return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensors '%s' [%zu,%zu] and '%s' [%zu,%zu] overlap", path,
                           rn_printable(last->name, nb, sizeof nb), lb, end, rn_printable(t->name, nb2, sizeof nb2),
                           tb, tb + t->nbytes);
        }
        if (tb > end)
            return rn_fail(err, RESNET_E_WEIGHTS,
                           "%s: a gap of %zu bytes before tensor '%s' (data bytes %zu to %zu belong to no tensor): a "
                           "damaged file?",
                           path, tb - end, rn_printable(t->name, nb, sizeof nb), end, tb);
        end = tb + t->nbytes;
        last = t;
    }
    if (end < st->data_size) {
        if (last)
            return rn_fail(err, RESNET_E_WEIGHTS,
                           "%s: %zu bytes after the last tensor ('%s' ends at %zu of %zu data bytes): a damaged or "
                           "concatenated file?",
                           path, st->data_size - end, rn_printable(last->name, nb, sizeof nb), end, st->data_size);
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: %zu data bytes after the header, but no tensor holds any: a "
                       "damaged file?", path, st->data_size);
    }
    /* the sort moved the tensors: rebuild the name index */
    for (size_t i = 0; i < n; i++) st->by_name[i] = &st->tensors[i];
    qsort(st->by_name, n, sizeof *st->by_name, cmp_tensor_name);
    return RESNET_OK;
}

static resnet_status parse_file(rn_safetensors *st, const unsigned char *p, size_t size, const unsigned char *base,
                                resnet_error *err);

/* pread() all n bytes at off; the file being shorter than that is an error (it was cut while
 * we read it). */
static resnet_status pread_all(int fd, void *buf, size_t n, uint64_t off, const char *path, resnet_error *err) {
    char eb[128];
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (unsigned char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return rn_fail(err, RESNET_E_IO, "%s: read failed: %s", path, rn_errno_str(errno, eb, sizeof eb));
        if (r == 0)
            return rn_fail(err, RESNET_E_IO, "%s: the file became shorter while being read (changed by another program?)",
                           path);
        got += (size_t)r;
    }
    return RESNET_OK;
}

resnet_status rn_st_open(const char *path, rn_safetensors **out, resnet_error *err) {
    if (!out) return rn_fail(err, RESNET_E_ARG, "rn_st_open: no output pointer");
    *out = NULL;
    if (!path) return rn_fail(err, RESNET_E_ARG, "rn_st_open: no file name");
    char eb[128];
    size_t size;
    int fd = rn_open_regular(path, &size, err);
    if (fd < 0) return err ? err->status : RESNET_E_IO;
    if (size == 0) {
        close(fd);
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: file is empty, not a safetensors file", path);
    }
    if (size < 8) {
        close(fd);
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: file is only %zu bytes, too small for a safetensors header", path,
                       size);
    }
    rn_safetensors *st = calloc(1, sizeof *st);
    if (st) st->path = strdup(path);
    if (!st || !st->path) {
        close(fd);
        free(st);
        return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", path);
    }
    st->fd = fd;
    unsigned char len8[8];
    resnet_status s = pread_all(fd, len8, 8, 0, path, err);
    uint64_t hlen = 0;
    for (int i = 7; s == RESNET_OK && i >= 0; i--) hlen = (hlen << 8) | len8[i];
    /* parse_file says what is wrong with a length out of bounds; read only a sane one */
    size_t keep = s == RESNET_OK && hlen <= (uint64_t)(size - 8) && hlen <= ST_MAX_HEADER ? 8 + (size_t)hlen : 8;
    if (s == RESNET_OK && !(st->head = malloc(keep))) s = rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", path);
    if (s == RESNET_OK) s = pread_all(fd, st->head, keep, 0, path, err);
    if (s != RESNET_OK) {
        rn_st_close(st);
        return s;
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    if (map == MAP_FAILED) {
        rn_st_close(st);
        return rn_fail(err, RESNET_E_IO, "%s: cannot map %zu bytes: %s", path, size, rn_errno_str(e, eb, sizeof eb));
    }
    st->map = map;
    st->map_size = size;
    s = parse_file(st, st->head, size, map, err);
    if (s != RESNET_OK) {
        rn_st_close(st);
        return s;
    }
    *out = st;
    return RESNET_OK;
}

/* The checks of rn_st_open on a file of size bytes (>= 8): p holds its first 8 bytes and,
 * if the length they give is in bounds, the header after them; base is the whole file
 * (mapped or in memory), where the tensors' data pointers go. */
/* What a file that is not safetensors is, from its first 8 bytes, when it is one a user is
 * likely to give --weights by mistake; "" when it is none of these. */
static const char *other_format(const unsigned char *p) {
    switch (rn_weights_format_of(p, 8, 0)) {
    case RN_WEIGHTS_PYTORCH: return ": a PyTorch checkpoint? tools/pth-to-safetensors.py converts it";
    case RN_WEIGHTS_ONNX: return ": an ONNX model? 'resnet import' converts it";
    default: return "";
    }
}

static resnet_status parse_file(rn_safetensors *st, const unsigned char *p, size_t size, const unsigned char *base,
                                resnet_error *err) {
    const char *path = st->path;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i];
    resnet_status s = RESNET_OK;
    if (hlen > (uint64_t)(size - 8))
        s = rn_fail(err, RESNET_E_WEIGHTS, "%s: header length %" PRIu64 " is larger than the rest of the file (%zu bytes)%s",
                    path, hlen, size - 8, other_format(p));
    else if (hlen > ST_MAX_HEADER)
        s = rn_fail(err, RESNET_E_WEIGHTS, "%s: header length %" PRIu64 " is implausibly large (limit %" PRIu64 ")%s",
                    path, hlen, ST_MAX_HEADER, other_format(p));
    if (s == RESNET_OK) {
        st->data = base + 8 + hlen;
        st->data_off = 8 + (size_t)hlen;
        st->data_size = size - 8 - (size_t)hlen;
        s = parse_header(st, (const char *)p + 8, (size_t)hlen, err);
    }
    return s;
}

resnet_status rn_st_open_memory(const void *data, size_t size, const char *name, rn_safetensors **out,
                                resnet_error *err) {
    if (!out) return rn_fail(err, RESNET_E_ARG, "rn_st_open_memory: no output pointer");
    *out = NULL;
    if (!name) name = "<memory>";
    if (!data && size) return rn_fail(err, RESNET_E_ARG, "%s: no data given", name);
    if (size < 8)
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: only %zu bytes, too small for a safetensors header", name, size);
    rn_safetensors *st = calloc(1, sizeof *st);
    if (st) st->path = strdup(name);
    if (!st || !st->path) {
        free(st);
        return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", name);
    }
    st->fd = -1;
    resnet_status s = parse_file(st, data, size, data, err); /* st->map stays NULL: not ours to unmap */
    if (s != RESNET_OK) {
        rn_st_close(st);
        return s;
    }
    *out = st;
    return RESNET_OK;
}

void rn_st_close(rn_safetensors *st) {
    if (!st) return;
    if (st->map) munmap(st->map, st->map_size);
    if (st->fd >= 0) close(st->fd);
    free(st->head);
    rn_json_free(st->doc);
    free(st->tensors);
    free(st->by_name);
    free(st->path);
    free(st);
}

size_t rn_st_count(const rn_safetensors *st) { return st ? st->n : 0; }

const rn_tensor *rn_st_tensor(const rn_safetensors *st, size_t i) {
    return st && i < st->n ? &st->tensors[i] : NULL;
}

const rn_tensor *rn_st_find(const rn_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->by_name[mid]->name, name);
        if (c == 0) return st->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *rn_st_metadata(const rn_safetensors *st, const char *key) {
    return st ? rn_json_string(rn_json_get(st->meta, key), NULL) : NULL;
}

const char *rn_st_path(const rn_safetensors *st) { return st ? st->path : NULL; }

int rn_st_metadata_at(const rn_safetensors *st, size_t i, const char **key, const char **value) {
    if (!st || !st->meta || i >= rn_json_count(st->meta)) return 0;
    const rn_json_member *mb = rn_json_member_at(st->meta, i);
    const char *v = mb ? rn_json_string(&mb->value, NULL) : NULL;
    if (!v) return 0;
    *key = mb->key;
    *value = v;
    return 1;
}

int rn_st_metadata_merge(const rn_safetensors *st, const char *const *our_keys, const char *const *our_vals,
                         size_t n_ours, const char ***keys, const char ***vals, size_t *n) {
    const size_t total = st && st->meta ? rn_json_count(st->meta) : 0;
    *keys = malloc((total + n_ours + 1) * sizeof **keys);
    *vals = malloc((total + n_ours + 1) * sizeof **vals);
    *n = 0;
    if (!*keys || !*vals) {
        free(*keys), free(*vals);
        *keys = *vals = NULL;
        return 0;
    }
    const char *k, *v;
    for (size_t i = 0; rn_st_metadata_at(st, i, &k, &v); i++) {
        int ours = 0;
        for (size_t j = 0; j < n_ours && !ours; j++) ours = strcmp(k, our_keys[j]) == 0;
        if (!ours) (*keys)[*n] = k, (*vals)[(*n)++] = v;
    }
    for (size_t j = 0; j < n_ours; j++) (*keys)[*n] = our_keys[j], (*vals)[(*n)++] = our_vals[j];
    return 1;
}

// ---------------------------------------------------------------------------------------
// Conversion to float32 (unaligned, little-endian sources)

static uint16_t ld16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint64_t ld64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static float bits_to_float(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
    if (exp == 0) { /* zero or subnormal: mant * 2^-24, exact in float */
        float f = (float)mant * (1.0f / 16777216.0f);
        return sign ? -f : f;
    }
    if (exp == 31) return bits_to_float(sign | 0x7F800000u | (mant << 13)); /* inf, nan */
    return bits_to_float(sign | ((exp + 112) << 23) | (mant << 13));
}

static resnet_status convert_f32(const rn_safetensors *st, const rn_tensor *t, const unsigned char *src, size_t n,
                                 float *dst, resnet_error *err);

resnet_status rn_st_read_f32(const rn_safetensors *st, const rn_tensor *t, float *dst, resnet_error *err) {
    const char *path = st ? st->path : "(safetensors)";
    char nb[96];
    if (!t || (!dst && t->nbytes)) return rn_fail(err, RESNET_E_ARG, "%s: rn_st_read_f32: NULL argument", path);
    size_t es = rn_dtype_size(t->dtype);
    if (!es) return rn_fail(err, RESNET_E_ARG, "%s: rn_st_read_f32: bad tensor", path);
    const unsigned char *src = t->data;
    size_t n = t->nbytes / es;
    unsigned char *owned = NULL; /* the bytes read from the file, when they are not dst itself */
    if (st && st->fd >= 0 && t->nbytes) {
        const uint64_t off = st->data_off + (uint64_t)((const unsigned char *)t->data - st->data);
        const int direct = t->dtype == RN_DT_F32 && rn_host_is_le();
        if (!direct && !(owned = malloc(t->nbytes)))
            return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory reading '%s'", path, rn_printable(t->name, nb, sizeof nb));
        resnet_status s = pread_all(st->fd, direct ? (void *)dst : owned, t->nbytes, off, path, err);
        if (s != RESNET_OK || direct) {
            free(owned);
            return s;
        }
        src = owned;
    }
    resnet_status s = convert_f32(st, t, src, n, dst, err);
    free(owned);
    return s;
}

resnet_status rn_st_read_range(const rn_safetensors *st, const rn_tensor *t, size_t off, size_t len, void *dst,
                               resnet_error *err) {
    const char *path = st ? st->path : "(safetensors)";
    if (!t || (!dst && len)) return rn_fail(err, RESNET_E_ARG, "%s: rn_st_read_range: NULL argument", path);
    if (off > t->nbytes || len > t->nbytes - off)
        return rn_fail(err, RESNET_E_ARG, "%s: rn_st_read_range: bytes %zu..%zu of a tensor of %zu", path, off, off + len,
                       t->nbytes);
    if (!len) return RESNET_OK;
    if (st && st->fd >= 0)
        return pread_all(st->fd, dst, len, st->data_off + (uint64_t)((const unsigned char *)t->data - st->data) + off,
                         path, err);
    memcpy(dst, (const unsigned char *)t->data + off, len); /* a buffer in memory (rn_st_open_memory) */
    return RESNET_OK;
}

resnet_status rn_st_read_bytes(const rn_safetensors *st, const rn_tensor *t, void *dst, resnet_error *err) {
    return rn_st_read_range(st, t, 0, t ? t->nbytes : 0, dst, err);
}

/* rn_st_read_f32's conversion of n elements at src. */
static resnet_status convert_f32(const rn_safetensors *st, const rn_tensor *t, const unsigned char *src, size_t n,
                                 float *dst, resnet_error *err) {
    const char *path = st ? st->path : "(safetensors)";
    char nb[96];
    switch (t->dtype) {
    case RN_DT_F32:
        if (rn_host_is_le()) {
            if (n) memcpy(dst, src, n * sizeof(float));
        } else {
            for (size_t i = 0; i < n; i++) {
                const unsigned char *q = src + 4 * i;
                dst[i] = bits_to_float((uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                                       (uint32_t)q[3] << 24);
            }
        }
        return RESNET_OK;
    case RN_DT_F16:
        for (size_t i = 0; i < n; i++) dst[i] = half_to_float(ld16(src + 2 * i));
        return RESNET_OK;
    case RN_DT_BF16:
        for (size_t i = 0; i < n; i++) dst[i] = bits_to_float((uint32_t)ld16(src + 2 * i) << 16);
        return RESNET_OK;
    case RN_DT_F64:
        for (size_t i = 0; i < n; i++) {
            uint64_t b = ld64(src + 8 * i);
            double d;
            memcpy(&d, &b, sizeof d);
            if (isnan(d)) dst[i] = NAN;
            else if (isinf(d)) dst[i] = d > 0 ? INFINITY : -INFINITY;
            else if (fabs(d) > FLT_MAX)
                return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s': F64 value %g (element %zu) is out of float range",
                               path, rn_printable(t->name, nb, sizeof nb), d, i);
            else dst[i] = (float)d;
        }
        return RESNET_OK;
    default:
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s' has dtype %s, not a floating-point type", path,
                       rn_printable(t->name, nb, sizeof nb), rn_dtype_name(t->dtype));
    }
}

// ---------------------------------------------------------------------------------------
// Writing

static void sb_puts(rn_strbuf *b, const char *s) { rn_strbuf_append(b, s, strlen(s)); }

static void sb_json_string(rn_strbuf *b, const char *s) {
    rn_strbuf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': rn_strbuf_append(b, "\\\"", 2); break;
        case '\\': rn_strbuf_append(b, "\\\\", 2); break;
        case '\n': rn_strbuf_append(b, "\\n", 2); break;
        case '\r': rn_strbuf_append(b, "\\r", 2); break;
        case '\t': rn_strbuf_append(b, "\\t", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                rn_strbuf_append(b, esc, 6);
            } else {
                rn_strbuf_append(b, (const char *)p, 1);
            }
        }
    }
    rn_strbuf_append(b, "\"", 1);
}

static int cmp_entry_name(const void *a, const void *b) {
    const rn_st_entry *x = *(const rn_st_entry *const *)a, *y = *(const rn_st_entry *const *)b;
    return strcmp(x->name, y->name);
}

/* Checks the entries and builds the header (padded to a multiple of 8). */
/* raw[i] != NULL (raw may be NULL): tensor i is written as raw_type from those bytes (host
 * order), not as F32 from its data: I8 (the int8 file) or BF16 (a bf16 file). */
static resnet_status build_header(const char *path, const rn_st_entry *entries, const void *const *raw,
                                  rn_dtype raw_type, size_t n,
                                  const char *const *keys, const char *const *values, size_t n_meta,
                                  rn_strbuf *b, resnet_error *err) {
    char nb[96], num[64];
    size_t off = 0;
    sb_puts(b, "{");
    if (n_meta) {
        sb_puts(b, "\"__metadata__\":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (!keys[i] || !values[i])
                return rn_fail(err, RESNET_E_ARG, "%s: metadata entry %zu is NULL", path, i);
            if (!rn_utf8_valid(keys[i], strlen(keys[i])) || !rn_utf8_valid(values[i], strlen(values[i])))
                return rn_fail(err, RESNET_E_ARG, "%s: metadata '%s' is not valid UTF-8", path,
                               rn_printable(keys[i], nb, sizeof nb));
            for (size_t j = 0; j < i; j++)
                if (strcmp(keys[i], keys[j]) == 0)
                    return rn_fail(err, RESNET_E_ARG, "%s: metadata key '%s' given twice", path,
                                   rn_printable(keys[i], nb, sizeof nb));
            if (i) sb_puts(b, ",");
            sb_json_string(b, keys[i]);
            sb_puts(b, ":");
            sb_json_string(b, values[i]);
        }
        sb_puts(b, "}");
    }
    for (size_t i = 0; i < n; i++) {
        const rn_st_entry *e = &entries[i];
        if (!e->name) return rn_fail(err, RESNET_E_ARG, "%s: tensor %zu has no name", path, i);
        const char *name = rn_printable(e->name, nb, sizeof nb);
        if (strcmp(e->name, "__metadata__") == 0 || !rn_utf8_valid(e->name, strlen(e->name)))
            return rn_fail(err, RESNET_E_ARG, "%s: invalid tensor name '%s'", path, name);
        if (e->ndim < 0 || e->ndim > RN_ST_MAX_DIMS)
            return rn_fail(err, RESNET_E_ARG, "%s: tensor '%s': %d dimensions", path, name, e->ndim);
        size_t numel = 1, bytes;
        int empty = 0; /* a zero dimension: no elements whatever the others say, as the reader has it */
        for (int d = 0; d < e->ndim; d++) {
            if (e->shape[d] < 0 || (uint64_t)e->shape[d] > SIZE_MAX)
                return rn_fail(err, RESNET_E_ARG, "%s: tensor '%s': bad shape", path, name);
            if (e->shape[d] == 0) empty = 1;
        }
        for (int d = 0; d < e->ndim && !empty; d++)
            if (!rn_mul_size(numel, (size_t)e->shape[d], &numel))
                return rn_fail(err, RESNET_E_ARG, "%s: tensor '%s': shape too large", path, name);
        if (empty) numel = 0;
        if (!rn_mul_size(numel, raw && raw[i] ? rn_dtype_size(raw_type) : sizeof(float), &bytes) || bytes > SIZE_MAX - off)
            return rn_fail(err, RESNET_E_ARG, "%s: tensor '%s': shape too large", path, name);
        if (bytes && !e->data && !(raw && raw[i])) return rn_fail(err, RESNET_E_ARG, "%s: tensor '%s': no data", path, name);
        if (i || n_meta) sb_puts(b, ",");
        sb_json_string(b, e->name);
        sb_puts(b, ":{\"dtype\":\"");
        sb_puts(b, raw && raw[i] ? rn_dtype_name(raw_type) : "F32");
        sb_puts(b, "\",\"shape\":[");
        for (int d = 0; d < e->ndim; d++) {
            snprintf(num, sizeof num, "%s%" PRId64, d ? "," : "", e->shape[d]);
            sb_puts(b, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%zu,%zu]}", off, off + bytes);
        sb_puts(b, num);
        off += bytes;
    }
    sb_puts(b, "}");
    while (!b->failed && b->len % 8) sb_puts(b, " ");
    /* duplicate names */
    if (n > 1) {
        const rn_st_entry **idx = malloc(n * sizeof *idx);
        if (!idx) return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", path);
        for (size_t i = 0; i < n; i++) idx[i] = &entries[i];
        qsort(idx, n, sizeof *idx, cmp_entry_name);
        for (size_t i = 1; i < n; i++) {
            if (strcmp(idx[i - 1]->name, idx[i]->name) == 0) {
                resnet_status s = rn_fail(err, RESNET_E_ARG, "%s: tensor name '%s' given twice", path,
                                          rn_printable(idx[i]->name, nb, sizeof nb));
                free(idx);
                return s;
            }
        }
        free(idx);
    }
    if (b->failed) return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory building the header", path);
    return RESNET_OK;
}

static resnet_status write_data(int fd, const rn_st_entry *entries, const void *const *raw, rn_dtype raw_type,
                                size_t n, const char *tmp, resnet_error *err) {
    char eb[128];
    int le = rn_host_is_le();
    unsigned char *conv = NULL;
    const size_t chunk = 1 << 16; /* floats per conversion chunk on big-endian hosts */
    if (!le && !(conv = malloc(chunk * 4))) return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", tmp);
    for (size_t i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < entries[i].ndim; d++) numel *= (size_t)entries[i].shape[d]; /* checked */
        for (int d = 0; d < entries[i].ndim; d++)
            if (entries[i].shape[d] == 0) numel = 0; /* the product above may have wrapped first */
        const float *src = entries[i].data;
        int rc = 0;
        const size_t raw_size = rn_dtype_size(raw_type);
        if (raw && raw[i] && (le || raw_size == 1)) {
            rc = numel ? rn_write_all(fd, raw[i], numel * raw_size) : 0;
        } else if (raw && raw[i]) { /* 16-bit values on a big-endian host */
            const uint16_t *h = raw[i];
            for (size_t k = 0; k < numel && rc == 0; k += chunk) {
                size_t m = numel - k < chunk ? numel - k : chunk;
                for (size_t j = 0; j < m; j++) {
                    conv[2 * j] = (unsigned char)h[k + j];
                    conv[2 * j + 1] = (unsigned char)(h[k + j] >> 8);
                }
                rc = rn_write_all(fd, conv, m * 2);
            }
        } else if (le) {
            rc = numel ? rn_write_all(fd, src, numel * sizeof(float)) : 0;
        } else {
            for (size_t k = 0; k < numel && rc == 0; k += chunk) {
                size_t m = numel - k < chunk ? numel - k : chunk;
                for (size_t j = 0; j < m; j++) {
                    uint32_t v;
                    memcpy(&v, &src[k + j], 4);
                    conv[4 * j] = (unsigned char)v;
                    conv[4 * j + 1] = (unsigned char)(v >> 8);
                    conv[4 * j + 2] = (unsigned char)(v >> 16);
                    conv[4 * j + 3] = (unsigned char)(v >> 24);
                }
                rc = rn_write_all(fd, conv, m * 4);
            }
        }
        if (rc) {
            int e = errno;
            free(conv);
            return rn_fail(err, RESNET_E_IO, "%s: write failed: %s", tmp, rn_errno_str(e, eb, sizeof eb));
        }
    }
    free(conv);
    return RESNET_OK;
}

resnet_status rn_st_write(const char *path, const rn_st_entry *entries, size_t n,
                          const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                          resnet_error *err) {
    return rn_st_write_i8(path, entries, NULL, n, meta_keys, meta_values, n_meta, err);
}

resnet_status rn_st_check_finite(const rn_st_entry *entries, size_t n, const char *source, resnet_error *err) {
    for (size_t i = 0; i < n; i++) {
        size_t count = 1;
        for (int d = 0; d < entries[i].ndim; d++) count *= (size_t)entries[i].shape[d];
        for (size_t k = 0; k < count; k++)
            if (!isfinite(entries[i].data[k])) {
                char name[96];
                return rn_fail(err, RESNET_E_WEIGHTS, "%s: the network's '%s' holds %s at element %zu; nothing written",
                               source, rn_printable(entries[i].name, name, sizeof name),
                               isnan(entries[i].data[k]) ? "NaN" : "infinity", k);
            }
    }
    return RESNET_OK;
}

static resnet_status write_file(const char *path, const rn_st_entry *entries, const void *const *raw,
                                rn_dtype raw_type, size_t n, const char *const *meta_keys,
                                const char *const *meta_values, size_t n_meta, resnet_error *err) {
    char eb[128];
    if (!path || !*path) return rn_fail(err, RESNET_E_ARG, "rn_st_write: no file name");
    if ((n && !entries) || (n_meta && (!meta_keys || !meta_values)))
        return rn_fail(err, RESNET_E_ARG, "%s: rn_st_write: NULL arrays", path);

    rn_strbuf hdr = {0};
    resnet_status s = build_header(path, entries, raw, raw_type, n, meta_keys, meta_values, n_meta, &hdr, err);
    if (s != RESNET_OK) {
        free(hdr.s);
        return s;
    }

    rn_atomic_file af;
    s = rn_atomic_open(&af, path, err);
    if (s != RESNET_OK) {
        free(hdr.s);
        return s;
    }
    unsigned char len8[8];
    uint64_t hl = hdr.len;
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(hl >> (8 * i));
    if (rn_write_all(af.fd, len8, 8) || rn_write_all(af.fd, hdr.s, hdr.len))
        s = rn_fail(err, RESNET_E_IO, "%s: write failed: %s", path, rn_errno_str(errno, eb, sizeof eb));
    if (s == RESNET_OK) s = write_data(af.fd, entries, raw, raw_type, n, path, err);
    if (s == RESNET_OK) s = rn_atomic_commit(&af, err);
    else rn_atomic_abort(&af);
    free(hdr.s);
    return s;
}

resnet_status rn_st_copy(const rn_safetensors *st, const char *path, const char *const *meta_keys,
                         const char *const *meta_values, size_t n_meta, resnet_error *err) {
    char eb[128], num[64];
    if (!st || !path || !*path) return rn_fail(err, RESNET_E_ARG, "rn_st_copy: no file");
    rn_strbuf hdr = {0};
    /* The metadata and no tensor: the header's first part, written by the one builder. */
    resnet_status s = build_header(path, NULL, NULL, RN_DT_F32, 0, meta_keys, meta_values, n_meta, &hdr, err);
    if (s != RESNET_OK) {
        free(hdr.s);
        return s;
    }
    while (hdr.len && hdr.s[hdr.len - 1] == ' ') hdr.len--; /* its padding */
    hdr.len--;                                              /* and its closing brace */
    size_t off = 0;
    for (size_t i = 0; i < st->n; i++) {
        const rn_tensor *t = &st->tensors[i]; /* in data order: written back in that order */
        if (i || n_meta) sb_puts(&hdr, ",");
        sb_json_string(&hdr, t->name);
        sb_puts(&hdr, ":{\"dtype\":\"");
        sb_puts(&hdr, rn_dtype_name(t->dtype));
        sb_puts(&hdr, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, "%s%" PRId64, d ? "," : "", t->shape[d]);
            sb_puts(&hdr, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%zu,%zu]}", off, off + t->nbytes);
        sb_puts(&hdr, num);
        off += t->nbytes;
    }
    sb_puts(&hdr, "}");
    while (!hdr.failed && hdr.len % 8) sb_puts(&hdr, " ");
    if (hdr.failed) {
        free(hdr.s);
        return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", path);
    }
    rn_atomic_file af;
    if ((s = rn_atomic_open(&af, path, err)) != RESNET_OK) {
        free(hdr.s);
        return s;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hdr.len >> (8 * i));
    int bad = rn_write_all(af.fd, len8, 8) || rn_write_all(af.fd, hdr.s, hdr.len);
    for (size_t i = 0; !bad && s == RESNET_OK && i < st->n; i++) {
        const rn_tensor *t = &st->tensors[i];
        if (!t->nbytes) continue;
        if (st->fd < 0) { /* a buffer in memory */
            bad = rn_write_all(af.fd, t->data, t->nbytes);
            continue;
        }
        /* read with pread, as rn_st_read_f32 does (a file cut short meanwhile is an error, not
         * a SIGBUS), a slice at a time */
        enum { SLICE = 1 << 20 };
        unsigned char *buf = malloc(t->nbytes < SLICE ? t->nbytes : SLICE);
        if (!buf) s = rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", path);
        const uint64_t off = st->data_off + (uint64_t)((const unsigned char *)t->data - st->data);
        for (size_t done = 0; buf && !bad && s == RESNET_OK && done < t->nbytes;) {
            size_t m = t->nbytes - done < SLICE ? t->nbytes - done : SLICE;
            s = pread_all(st->fd, buf, m, off + done, st->path, err);
            if (s == RESNET_OK) bad = rn_write_all(af.fd, buf, m);
            done += m;
        }
        free(buf);
    }
    if (bad && s == RESNET_OK)
        s = rn_fail(err, RESNET_E_IO, "%s: write failed: %s", path, rn_errno_str(errno, eb, sizeof eb));
    if (s != RESNET_OK) rn_atomic_abort(&af);
    else s = rn_atomic_commit(&af, err);
    free(hdr.s);
    return s;
}

resnet_status rn_st_write_i8(const char *path, const rn_st_entry *entries, const int8_t *const *i8, size_t n,
                             const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                             resnet_error *err) {
    return write_file(path, entries, (const void *const *)i8, RN_DT_I8, n, meta_keys, meta_values, n_meta, err);
}

resnet_status rn_st_write_bf16(const char *path, const rn_st_entry *entries, const uint16_t *const *bf16, size_t n,
                               const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                               resnet_error *err) {
    return write_file(path, entries, (const void *const *)bf16, RN_DT_BF16, n, meta_keys, meta_values, n_meta, err);
}

void rn_st_release(const rn_safetensors *st, const rn_tensor *t) {
    /* The mapping is read-only and file-backed: dropped pages are simply read again if
     * touched later, so this only lowers the resident size while a model is converted. */
    long page = sysconf(_SC_PAGESIZE);
    /* only our own mapping: a buffer from rn_st_open_memory belongs to the caller */
    if (!st || !st->map || !t || t->nbytes == 0 || page <= 0) return;
    uintptr_t begin = (uintptr_t)t->data & ~((uintptr_t)page - 1);
    uintptr_t end = (uintptr_t)t->data + t->nbytes;
    madvise((void *)begin, end - begin, MADV_DONTNEED);
}
