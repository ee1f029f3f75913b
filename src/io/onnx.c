/* onnx.c - ONNX ModelProto -> rn_onnx_model (see onnx.h).
 *
 * Each repeated field is counted before it is read (one cheap pass over the message's keys),
 * so every array is allocated once at its exact size from an arena freed with the model:
 * no realloc chains, and no count larger than the bytes that carry it. */
#define _DEFAULT_SOURCE /* madvise(MADV_DONTNEED): glibc's posix_madvise ignores DONTNEED */
#include "io/onnx.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"
#include "io/fileio.h"
#include "io/protobuf.h"
#include "io/safetensors.h"

// ---------------------------------------------------------------------------------------
// arena

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[];
} arena_block;

typedef struct ext_file { /* an external data file, mapped on first use */
    struct ext_file *next;
    char *location;
    void *map;
    size_t size;
} ext_file;

typedef struct parser {
    rn_onnx_model *m;
    arena_block *arena;
    const uint8_t *base; /* the file's first byte, for offsets in messages */
    resnet_error *err;
    char where[160];     /* "node 12 ('Conv_3')" or "" : what is being read */
} parser;

/* The arena hangs off the model's ext pointer's neighbour: kept in a header struct. */
typedef struct model_priv {
    rn_onnx_model m;
    arena_block *arena;
    ext_file *ext;
} model_priv;

static void *arena_alloc(parser *ps, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    arena_block *b = ps->arena;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ((size_t)1 << 16) ? n : ((size_t)1 << 16);
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = ps->arena;
        b->used = 0;
        b->cap = cap;
        ps->arena = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

/* n elements of size sz, overflow-checked */
static void *arena_array(parser *ps, size_t n, size_t sz) {
    size_t bytes;
    if (!rn_mul_size(n, sz, &bytes)) return NULL;
    return arena_alloc(ps, bytes);
}

// ---------------------------------------------------------------------------------------
// errors

static resnet_status bad(parser *ps, const rn_pb *r, const char *why) {
    return rn_fail(ps->err, RESNET_E_WEIGHTS, "%s: not a valid ONNX model: %s%s%s (near byte %zu)", ps->m->path, why,
                   ps->where[0] ? " in " : "", ps->where, r ? (size_t)(r->p - ps->base) : (size_t)0);
}

static resnet_status nomem(parser *ps) {
    return rn_fail(ps->err, RESNET_E_NOMEM, "%s: out of memory reading the model", ps->m->path);
}

static resnet_status str_dup(parser *ps, const rn_pb *r, const rn_pb_field *f, char **out) {
    if (f->wire != 2) return bad(ps, r, "a number where a string was expected");
    if (memchr(f->data, 0, f->len)) return bad(ps, r, "a string holding a NUL byte");
    char *s = arena_alloc(ps, f->len + 1);
    if (!s) return nomem(ps);
    memcpy(s, f->data, f->len);
    s[f->len] = '\0';
    *out = s;
    return RESNET_OK;
}

/* A StringStringEntryProto {1 key, 2 value} (external_data, metadata_props): either may be
 * left NULL when the entry lacks it. */
static resnet_status string_entry(parser *ps, const rn_pb *r, const rn_pb_field *f, char **key, char **value) {
    rn_pb e;
    rn_pb_field g;
    const char *why;
    resnet_status s;
    int rc;
    *key = *value = NULL;
    if (rn_pb_sub(r, f, &e, &why) != 0) return bad(ps, r, why);
    while ((rc = rn_pb_next(&e, &g, &why)) == 1) {
        if (g.number == 1 && (s = str_dup(ps, &e, &g, key)) != RESNET_OK) return s;
        if (g.number == 2 && (s = str_dup(ps, &e, &g, value)) != RESNET_OK) return s;
    }
    return rc < 0 ? bad(ps, &e, why) : RESNET_OK;
}

/* Counts the fields numbered `number` in a message (and validates its framing). */
static resnet_status count_fields(parser *ps, const rn_pb *msg, uint32_t number, size_t *n) {
    rn_pb r = *msg;
    rn_pb_field f;
    const char *why;
    int rc;
    *n = 0;
    while ((rc = rn_pb_next(&r, &f, &why)) == 1)
        if (f.number == number) (*n)++;
    return rc < 0 ? bad(ps, &r, why) : RESNET_OK;
}

/* Elements of a repeated scalar field, packed or not: wire 2 holds varints (fixed = 0) or
 * fixed-size values (fixed = 4 or 8); otherwise one each. */
static resnet_status count_repeated(parser *ps, const rn_pb *msg, uint32_t number, int fixed, size_t *n) {
    rn_pb r = *msg;
    rn_pb_field f;
    const char *why;
    int rc;
    *n = 0;
    while ((rc = rn_pb_next(&r, &f, &why)) == 1) {
        if (f.number != number) continue;
        if (f.wire != 2) {
            (*n)++;
            continue;
        }
        if (fixed) {
            if (f.len % (size_t)fixed) return bad(ps, &r, "a packed field whose length is not a whole number of values");
            *n += f.len / (size_t)fixed;
        } else {
            const uint8_t *p = f.data, *e = f.data + f.len;
            uint64_t v;
            int k;
            while ((k = rn_pb_packed_varint(&p, e, &v)) == 1) (*n)++;
            if (k < 0) return bad(ps, &r, "a packed varint that is cut short or longer than 10 bytes");
        }
    }
    return rc < 0 ? bad(ps, &r, why) : RESNET_OK;
}

/* Reads a repeated int64 (varint) field into a fresh array. */
static resnet_status read_ints(parser *ps, const rn_pb *msg, uint32_t number, int64_t **out, size_t *n) {
    resnet_status s = count_repeated(ps, msg, number, 0, n);
    if (s != RESNET_OK) return s;
    *out = NULL;
    if (*n == 0) return RESNET_OK;
    int64_t *a = arena_array(ps, *n, sizeof *a);
    if (!a) return nomem(ps);
    rn_pb r = *msg;
    rn_pb_field f;
    const char *why;
    size_t k = 0;
    while (rn_pb_next(&r, &f, &why) == 1) {
        if (f.number != number) continue;
        if (f.wire == 0) {
            a[k++] = (int64_t)f.v;
        } else if (f.wire == 2) {
            const uint8_t *p = f.data, *e = f.data + f.len;
            uint64_t v;
            while (rn_pb_packed_varint(&p, e, &v) == 1) a[k++] = (int64_t)v;
        } else {
            return bad(ps, &r, "a fixed-size value where a varint was expected");
        }
    }
    *out = a;
    return RESNET_OK;
}

static float bits_f32(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* Reads a repeated float (fixed32) field. */
static resnet_status read_floats(parser *ps, const rn_pb *msg, uint32_t number, float **out, size_t *n) {
    resnet_status s = count_repeated(ps, msg, number, 4, n);
    if (s != RESNET_OK) return s;
    *out = NULL;
    if (*n == 0) return RESNET_OK;
    float *a = arena_array(ps, *n, sizeof *a);
    if (!a) return nomem(ps);
    rn_pb r = *msg;
    rn_pb_field f;
    const char *why;
    size_t k = 0;
    while (rn_pb_next(&r, &f, &why) == 1) {
        if (f.number != number) continue;
        if (f.wire == 5) {
            a[k++] = bits_f32((uint32_t)f.v);
        } else if (f.wire == 2) {
            for (size_t i = 0; i < f.len; i += 4)
                a[k++] = bits_f32((uint32_t)f.data[i] | (uint32_t)f.data[i + 1] << 8 | (uint32_t)f.data[i + 2] << 16 |
                                  (uint32_t)f.data[i + 3] << 24);
        } else {
            return bad(ps, &r, "a float field of the wrong wire type");
        }
    }
    *out = a;
    return RESNET_OK;
}

// ---------------------------------------------------------------------------------------
// TensorProto

static resnet_status parse_tensor(parser *ps, const rn_pb *msg, rn_onnx_tensor *t) {
    rn_pb r = *msg;
    rn_pb_field f;
    const char *why;
    int rc;
    resnet_status s;
    int64_t *dims = NULL;
    size_t ndims = 0;
    if ((s = read_ints(ps, msg, 1, &dims, &ndims)) != RESNET_OK) return s;
    if (ndims > RN_ONNX_MAX_DIMS) return bad(ps, msg, "a tensor of more than 8 dimensions");
    t->ndim = (int)ndims;
    for (size_t i = 0; i < ndims; i++) t->dims[i] = dims[i];
    t->ext_length = -1;
    int has_data = 0;
    while ((rc = rn_pb_next(&r, &f, &why)) == 1) {
        switch (f.number) {
        case 2:
            if (f.wire != 0) return bad(ps, &r, "a tensor data_type that is not a varint");
            t->data_type = (int)(int32_t)f.v;
            break;
        case 8:
            if ((s = str_dup(ps, &r, &f, &t->name)) != RESNET_OK) return s;
            break;
        case 9:
            if (f.wire != 2) return bad(ps, &r, "raw_data that is not bytes");
            t->raw = f.data;
            t->raw_len = f.len;
            has_data |= 1;
            break;
        case 13: { /* external_data */
            char *key, *val;
            if ((s = string_entry(ps, &r, &f, &key, &val)) != RESNET_OK) return s;
            if (!key || !val) break;
            if (strcmp(key, "location") == 0) {
                t->location = val;
            } else if (strcmp(key, "offset") == 0 || strcmp(key, "length") == 0) {
                char *end;
                errno = 0;
                long long v = strtoll(val, &end, 10);
                if (errno || end == val || *end || v < 0) return bad(ps, &r, "an external data offset or length that is not a whole number");
                if (key[0] == 'o') t->ext_offset = v;
                else t->ext_length = v;
            }
            break;
        }
        case 14:
            if (f.wire != 0) return bad(ps, &r, "a data_location that is not a varint");
            t->external = f.v == 1;
            break;
        default:
            break;
        }
    }
    if (rc < 0) return bad(ps, &r, why);
    size_t n;
    if ((s = count_repeated(ps, msg, 4, 4, &n)) != RESNET_OK) return s;
    if (n) {
        if ((s = read_floats(ps, msg, 4, &t->floats, &t->n_vals)) != RESNET_OK) return s;
        has_data |= 2;
    }
    int64_t *iv = NULL;
    size_t ni = 0;
    if ((s = read_ints(ps, msg, 7, &iv, &ni)) != RESNET_OK) return s; /* int64_data */
    if (ni == 0 && (s = read_ints(ps, msg, 5, &iv, &ni)) != RESNET_OK) return s; /* int32_data */
    if (ni) {
        t->ints = iv;
        t->n_vals = ni;
        has_data |= 4;
    }
    if (has_data & (has_data - 1)) return bad(ps, msg, "a tensor with its data in more than one field");
    if (t->external && (has_data || !t->location))
        return bad(ps, msg, "an external tensor without a location, or with data inline too");
    return RESNET_OK;
}

// ---------------------------------------------------------------------------------------
// NodeProto, AttributeProto

static resnet_status parse_attr(parser *ps, const rn_pb *msg, rn_onnx_attr *a) {
    rn_pb r = *msg;
    rn_pb_field f;
    const char *why;
    int rc;
    resnet_status s;
    while ((rc = rn_pb_next(&r, &f, &why)) == 1) {
        switch (f.number) {
        case 1:
            if ((s = str_dup(ps, &r, &f, &a->name)) != RESNET_OK) return s;
            break;
        case 2:
            if (f.wire != 5) return bad(ps, &r, "an attribute float that is not 4 bytes");
            a->f = bits_f32((uint32_t)f.v);
            break;
        case 3:
            if (f.wire != 0) return bad(ps, &r, "an attribute int that is not a varint");
            a->i = (int64_t)f.v;
            break;
        case 4:
            if ((s = str_dup(ps, &r, &f, &a->s)) != RESNET_OK) return s;
            break;
        case 5: {
            rn_pb t;
            if (rn_pb_sub(&r, &f, &t, &why) != 0) return bad(ps, &r, why);
            if (!(a->t = arena_alloc(ps, sizeof *a->t))) return nomem(ps);
            if ((s = parse_tensor(ps, &t, a->t)) != RESNET_OK) return s;
            break;
        }
        case 20:
            if (f.wire != 0) return bad(ps, &r, "an attribute type that is not a varint");
            a->type = (int)(int32_t)f.v;
            break;
        default:
            break; /* subgraphs and the rest: the recogniser refuses the nodes that have them */
        }
    }
    if (rc < 0) return bad(ps, &r, why);
    if ((s = read_floats(ps, msg, 7, &a->floats, &a->n_floats)) != RESNET_OK) return s;
    if ((s = read_ints(ps, msg, 8, &a->ints, &a->n_ints)) != RESNET_OK) return s;
    if (!a->name) return bad(ps, msg, "an attribute without a name");
    return RESNET_OK;
}

static resnet_status parse_node(parser *ps, const rn_pb *msg, rn_onnx_node *n, size_t index) {
    resnet_status s;
    size_t ni, no, na;
    if ((s = count_fields(ps, msg, 1, &ni)) != RESNET_OK || (s = count_fields(ps, msg, 2, &no)) != RESNET_OK ||
        (s = count_fields(ps, msg, 5, &na)) != RESNET_OK)
        return s;
    n->in = ni ? arena_array(ps, ni, sizeof *n->in) : NULL;
    n->out = no ? arena_array(ps, no, sizeof *n->out) : NULL;
    n->attrs = na ? arena_array(ps, na, sizeof *n->attrs) : NULL;
    if ((ni && !n->in) || (no && !n->out) || (na && !n->attrs)) return nomem(ps);
    /* names first, so that errors inside the attributes can name the node */
    rn_pb r = *msg;
    rn_pb_field f;
    const char *why;
    int rc;
    while ((rc = rn_pb_next(&r, &f, &why)) == 1) {
        if (f.number == 1) s = str_dup(ps, &r, &f, &n->in[n->n_in++]);
        else if (f.number == 2) s = str_dup(ps, &r, &f, &n->out[n->n_out++]);
        else if (f.number == 3) s = str_dup(ps, &r, &f, &n->name);
        else if (f.number == 4) s = str_dup(ps, &r, &f, &n->op);
        else if (f.number == 7) s = str_dup(ps, &r, &f, &n->domain);
        if (s != RESNET_OK) return s;
    }
    if (rc < 0) return bad(ps, &r, why);
    if (!n->name) n->name = "";
    if (!n->op) n->op = "";
    if (!n->domain) n->domain = "";
    char shown[64];
    snprintf(ps->where, sizeof ps->where, "node %zu ('%s')", index, rn_printable(n->name, shown, sizeof shown));
    r = *msg;
    while ((rc = rn_pb_next(&r, &f, &why)) == 1) {
        if (f.number != 5) continue;
        rn_pb sub;
        if (rn_pb_sub(&r, &f, &sub, &why) != 0) return bad(ps, &r, why);
        if ((s = parse_attr(ps, &sub, &n->attrs[n->n_attrs++])) != RESNET_OK) return s;
    }
    ps->where[0] = '\0';
    return RESNET_OK;
}

// ---------------------------------------------------------------------------------------
// GraphProto, ModelProto

/* A TypeProto's tensor shape {1 tensor_type {2 shape {1 dim {1 dim_value, 2 dim_param}}}} into
 * dims (-1 for a dim without a value); *rank stays -1 when the type gives no shape. */
static resnet_status tensor_shape(parser *ps, rn_pb type, int *rank, int64_t *dims) {
    static const uint32_t path[2] = {1, 2}; /* tensor_type, then its shape */
    rn_pb_field f;
    const char *why;
    int rc;
    for (int level = 0; level < 2; level++) {
        rn_pb inner = {0};
        int found = 0;
        while ((rc = rn_pb_next(&type, &f, &why)) == 1)
            if (f.number == path[level] && f.wire == 2) {
                if (rn_pb_sub(&type, &f, &inner, &why) != 0) return bad(ps, &type, why);
                found = 1;
            }
        if (rc < 0) return bad(ps, &type, why);
        if (!found) return RESNET_OK;
        type = inner;
    }
    *rank = 0;
    while ((rc = rn_pb_next(&type, &f, &why)) == 1) {
        if (f.number != 1 || f.wire != 2) continue;
        if (*rank == RN_ONNX_MAX_DIMS) return bad(ps, &type, "an input of more than 8 dimensions");
        rn_pb dim;
        rn_pb_field g;
        int64_t v = -1;
        if (rn_pb_sub(&type, &f, &dim, &why) != 0) return bad(ps, &type, why);
        while ((rc = rn_pb_next(&dim, &g, &why)) == 1)
            if (g.number == 1 && g.wire == 0) v = (int64_t)g.v >= 0 ? (int64_t)g.v : -1;
        if (rc < 0) return bad(ps, &dim, why);
        dims[(*rank)++] = v;
    }
    return rc < 0 ? bad(ps, &type, why) : RESNET_OK;
}

/* The names of the graph's inputs or outputs (ValueInfoProto {1 name, 2 type}), and with
 * rank/dims not NULL each one's shape. */
static resnet_status value_names(parser *ps, const rn_pb *msg, uint32_t number, char ***out, size_t *n, int **rank,
                                 int64_t (**dims)[RN_ONNX_MAX_DIMS]) {
    resnet_status s;
    size_t cnt;
    if ((s = count_fields(ps, msg, number, &cnt)) != RESNET_OK) return s;
    *n = 0;
    *out = cnt ? arena_array(ps, cnt, sizeof **out) : NULL;
    if (cnt && !*out) return nomem(ps);
    if (rank) {
        *rank = cnt ? arena_array(ps, cnt, sizeof **rank) : NULL;
        *dims = cnt ? arena_array(ps, cnt, sizeof **dims) : NULL;
        if (cnt && (!*rank || !*dims)) return nomem(ps);
    }
    rn_pb r = *msg;
    rn_pb_field f;
    const char *why;
    while (rn_pb_next(&r, &f, &why) == 1) {
        if (f.number != number) continue;
        rn_pb v;
        rn_pb_field g;
        int rc;
        char *name = NULL;
        if (rn_pb_sub(&r, &f, &v, &why) != 0) return bad(ps, &r, why);
        if (rank) (*rank)[*n] = -1;
        while ((rc = rn_pb_next(&v, &g, &why)) == 1) {
            if (g.number == 1 && (s = str_dup(ps, &v, &g, &name)) != RESNET_OK) return s;
            if (g.number == 2 && g.wire == 2 && rank) {
                rn_pb type;
                if (rn_pb_sub(&v, &g, &type, &why) != 0) return bad(ps, &v, why);
                if ((s = tensor_shape(ps, type, &(*rank)[*n], (*dims)[*n])) != RESNET_OK) return s;
            }
        }
        if (rc < 0) return bad(ps, &v, why);
        (*out)[(*n)++] = name ? name : "";
    }
    return RESNET_OK;
}

static resnet_status parse_graph(parser *ps, const rn_pb *msg) {
    rn_onnx_model *m = ps->m;
    resnet_status s;
    size_t nn, ni;
    if ((s = count_fields(ps, msg, 1, &nn)) != RESNET_OK || (s = count_fields(ps, msg, 5, &ni)) != RESNET_OK) return s;
    m->nodes = nn ? arena_array(ps, nn, sizeof *m->nodes) : NULL;
    m->inits = ni ? arena_array(ps, ni, sizeof *m->inits) : NULL;
    if ((nn && !m->nodes) || (ni && !m->inits)) return nomem(ps);
    rn_pb r = *msg;
    rn_pb_field f;
    const char *why;
    int rc;
    while ((rc = rn_pb_next(&r, &f, &why)) == 1) {
        rn_pb sub;
        if (f.number != 1 && f.number != 5) continue;
        if (rn_pb_sub(&r, &f, &sub, &why) != 0) return bad(ps, &r, why);
        if (f.number == 1) {
            s = parse_node(ps, &sub, &m->nodes[m->n_nodes], m->n_nodes);
            m->n_nodes++;
        } else {
            snprintf(ps->where, sizeof ps->where, "initializer %zu", m->n_inits);
            rn_onnx_tensor *t = &m->inits[m->n_inits++];
            s = parse_tensor(ps, &sub, t);
            if (s == RESNET_OK && !t->name) s = bad(ps, &sub, "an initializer without a name");
            ps->where[0] = '\0';
        }
        if (s != RESNET_OK) return s;
    }
    if (rc < 0) return bad(ps, &r, why);
    if ((s = value_names(ps, msg, 11, &m->inputs, &m->n_inputs, &m->input_rank, &m->input_dims)) != RESNET_OK)
        return s;
    return value_names(ps, msg, 12, &m->outputs, &m->n_outputs, NULL, NULL);
}

static resnet_status parse_model(parser *ps, const void *data, size_t size) {
    rn_onnx_model *m = ps->m;
    rn_pb r, graph = {0};
    rn_pb_field f;
    const char *why;
    int rc, have_graph = 0;
    resnet_status s;
    rn_pb_init(&r, data, size);
    ps->base = r.p;
    while ((rc = rn_pb_next(&r, &f, &why)) == 1) {
        switch (f.number) {
        case 1:
            if (f.wire != 0) return bad(ps, &r, "an ir_version that is not a varint");
            m->ir_version = (int64_t)f.v;
            break;
        case 2:
            if ((s = str_dup(ps, &r, &f, &m->producer)) != RESNET_OK) return s;
            break;
        case 7:
            if (have_graph) return bad(ps, &r, "two graphs");
            if (rn_pb_sub(&r, &f, &graph, &why) != 0) return bad(ps, &r, why);
            have_graph = 1;
            break;
        case 8: { /* OperatorSetIdProto {1 domain, 2 version} */
            rn_pb o;
            rn_pb_field g;
            char *domain = NULL;
            int64_t version = 0;
            if (rn_pb_sub(&r, &f, &o, &why) != 0) return bad(ps, &r, why);
            while ((rc = rn_pb_next(&o, &g, &why)) == 1) {
                if (g.number == 1 && (s = str_dup(ps, &o, &g, &domain)) != RESNET_OK) return s;
                if (g.number == 2) {
                    if (g.wire != 0) return bad(ps, &o, "an opset version that is not a varint");
                    version = (int64_t)g.v;
                }
            }
            if (rc < 0) return bad(ps, &o, why);
            if (!domain || !domain[0] || strcmp(domain, "ai.onnx") == 0) m->opset = version;
            break;
        }
        case 14: { /* metadata_props: only ours is kept */
            char *key, *value;
            if ((s = string_entry(ps, &r, &f, &key, &value)) != RESNET_OK) return s;
            const char **ours = !key                                   ? NULL
                                : strcmp(key, RN_ONNX_NORM_KEY) == 0   ? &m->norm
                                : strcmp(key, RN_ONNX_LABELS_KEY) == 0 ? &m->labels
                                                                       : NULL;
            if (!ours) break;
            if (*ours) {
                char why2[64];
                snprintf(why2, sizeof why2, "two %s metadata entries", key);
                return bad(ps, &r, why2);
            }
            *ours = value ? value : "";
            break;
        }
        default:
            break;
        }
    }
    if (rc < 0) return bad(ps, &r, why);
    if (!have_graph) return bad(ps, &r, "no graph (field 7 of ModelProto)");
    return parse_graph(ps, &graph);
}

// ---------------------------------------------------------------------------------------
// open / close

/* 1 for a safetensors file that says it is a head (--weights would refuse it) */
static int is_head(const void *data, size_t size, const char *path) {
    rn_safetensors *st = NULL;
    resnet_error err;
    const char *format = rn_st_open_memory(data, size, path, &st, &err) == RESNET_OK ? rn_st_metadata(st, "format") : NULL;
    const int head = format && strcmp(format, RN_HEAD_FORMAT) == 0;
    rn_st_close(st);
    return head;
}

static resnet_status open_common(const void *data, size_t size, const char *path, void *map, rn_onnx_model **out,
                                 resnet_error *err) {
    model_priv *mp = calloc(1, sizeof *mp);
    if (!mp) {
        if (map) munmap(map, size);
        return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", path);
    }
    mp->m.path = path;
    mp->m.map = map;
    mp->m.map_size = size;
    parser ps = {.m = &mp->m, .err = err};
    /* the files a user gives `import` by mistake, named (neither is a ModelProto: the parser
     * would say only that a field number is out of range) */
    const rn_weights_format fmt = rn_weights_format_of(data, size < 9 ? size : 9, size);
    resnet_status s;
    if (fmt == RN_WEIGHTS_PYTORCH)
        s = rn_fail(err, RESNET_E_WEIGHTS, "%s: not an ONNX model but a PyTorch checkpoint? tools/pth-to-safetensors.py "
                    "converts it", path);
    else if (fmt == RN_WEIGHTS_SAFETENSORS && is_head(data, size, path))
        s = rn_fail(err, RESNET_E_WEIGHTS, "%s: not an ONNX model but a head made by train-head: --head takes it as it is",
                    path);
    else if (fmt == RN_WEIGHTS_SAFETENSORS)
        s = rn_fail(err, RESNET_E_WEIGHTS, "%s: not an ONNX model but a safetensors file: --weights takes it as it is", path);
    else
        s = parse_model(&ps, data, size);
    mp->arena = ps.arena;
    if (s != RESNET_OK) {
        rn_onnx_close(&mp->m);
        return s;
    }
    *out = &mp->m;
    return RESNET_OK;
}

resnet_status rn_onnx_open_memory(const void *data, size_t size, const char *path, rn_onnx_model **out,
                                  resnet_error *err) {
    *out = NULL;
    if (size == 0) return rn_fail(err, RESNET_E_WEIGHTS, "%s: empty file, not an ONNX model", path);
    return open_common(data, size, path, NULL, out, err);
}

resnet_status rn_onnx_open(const char *path, rn_onnx_model **out, resnet_error *err) {
    *out = NULL;
    size_t size = 0;
    int fd = rn_open_regular(path, &size, err);
    if (fd < 0) return err ? err->status : RESNET_E_IO;
    if (size == 0) {
        close(fd);
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: empty file, not an ONNX model", path);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) {
        char eb[128];
        return rn_fail(err, RESNET_E_IO, "%s: cannot map: %s", path, rn_errno_str(e, eb, sizeof eb));
    }
    return open_common(map, size, path, map, out, err);
}

void rn_onnx_close(rn_onnx_model *m) {
    if (!m) return;
    model_priv *mp = (model_priv *)m;
    for (ext_file *e = mp->ext; e;) {
        ext_file *next = e->next;
        if (e->map) munmap(e->map, e->size);
        free(e->location);
        free(e);
        e = next;
    }
    for (arena_block *b = mp->arena; b;) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    if (m->map) munmap(m->map, m->map_size);
    free(mp);
}

// ---------------------------------------------------------------------------------------
// tensors

const rn_onnx_attr *rn_onnx_attr_get(const rn_onnx_node *n, const char *name) {
    for (size_t i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t rn_onnx_numel(const rn_onnx_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->dims[i] < 0) return -1;
        if (t->dims[i] && n > INT64_MAX / t->dims[i]) return -1;
        n *= t->dims[i];
    }
    return n;
}

/* A location is a plain relative path inside the model's folder. */
static int location_ok(const char *loc) {
    if (!loc[0] || loc[0] == '/') return 0;
    for (const char *p = loc; *p;) {
        const char *q = strchr(p, '/');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if ((n == 2 && p[0] == '.' && p[1] == '.') || n == 0) return 0;
        p += n + (q ? 1 : 0);
    }
    return 1;
}

/* The bytes of t's data: *bytes points to need bytes of raw little-endian values. */
static resnet_status tensor_bytes(rn_onnx_model *m, const rn_onnx_tensor *t, size_t need, const uint8_t **bytes,
                                  resnet_error *err) {
    char shown[96], lb[96];
    const char *tn = rn_printable(t->name ? t->name : "", shown, sizeof shown);
    if (!t->external) {
        if (t->raw_len != need)
            return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s' has %zu bytes of raw_data, its shape needs %zu",
                           m->path, tn, t->raw_len, need);
        *bytes = t->raw;
        return RESNET_OK;
    }
    model_priv *mp = (model_priv *)m;
    const char *loc = rn_printable(t->location, lb, sizeof lb);
    if (!location_ok(t->location))
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s': external data location '%s' is not a file beside the model",
                       m->path, tn, loc);
    if (t->ext_length >= 0 && (uint64_t)t->ext_length != need)
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s': external data length %" PRId64 ", its shape needs %zu",
                       m->path, tn, t->ext_length, need);
    ext_file *e = mp->ext;
    while (e && strcmp(e->location, t->location) != 0) e = e->next;
    if (!e) {
        const char *slash = strrchr(m->path, '/');
        size_t dl = slash ? (size_t)(slash - m->path) + 1 : 0;
        char *full = malloc(dl + strlen(t->location) + 1);
        e = calloc(1, sizeof *e);
        char *lc = strdup(t->location);
        if (!full || !e || !lc) {
            free(full);
            free(e);
            free(lc);
            return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", m->path);
        }
        memcpy(full, m->path, dl);
        strcpy(full + dl, t->location);
        e->location = lc;
        size_t size = 0;
        int fd = rn_open_regular(full, &size, err);
        free(full);
        if (fd < 0) {
            char why[sizeof err->message];
            snprintf(why, sizeof why, "%s", err->message);
            free(e->location);
            free(e);
            return rn_fail(err, err->status, "%s: tensor '%s': external data: %s", m->path, tn, why);
        }
        if (size) {
            e->map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (e->map == MAP_FAILED) {
                char eb[128];
                int er = errno;
                close(fd);
                free(e->location);
                free(e);
                return rn_fail(err, RESNET_E_IO, "%s: tensor '%s': cannot map '%s': %s", m->path, tn, loc,
                               rn_errno_str(er, eb, sizeof eb));
            }
        }
        close(fd);
        e->size = size;
        e->next = mp->ext;
        mp->ext = e;
    }
    if ((uint64_t)t->ext_offset > e->size || need > e->size - (size_t)t->ext_offset)
        return rn_fail(err, RESNET_E_WEIGHTS,
                       "%s: tensor '%s': external data file '%s' is %zu bytes, too short for %zu bytes at offset %" PRId64,
                       m->path, tn, loc, e->size, need, t->ext_offset);
    /* Without a length the data is the rest of the file (the ONNX spec; onnx and ONNX Runtime
     * read it so, and refuse a size that is not the shape's): more bytes than the shape needs is
     * not this tensor's data, whatever its first bytes are. */
    if (t->ext_length < 0 && need != e->size - (size_t)t->ext_offset)
        return rn_fail(err, RESNET_E_WEIGHTS,
                       "%s: tensor '%s': external data file '%s' holds %zu bytes from offset %" PRId64
                       " and no length is given; its shape needs %zu",
                       m->path, tn, loc, e->size - (size_t)t->ext_offset, t->ext_offset, need);
    *bytes = (const uint8_t *)e->map + t->ext_offset;
    return RESNET_OK;
}

/* Checks that t is a FLOAT tensor of n elements whose data is all there; *bytes is set to its
 * raw little-endian data, or NULL when it came as float_data. */
static resnet_status f32_source(rn_onnx_model *m, const rn_onnx_tensor *t, size_t n, const uint8_t **bytes,
                                resnet_error *err) {
    char shown[96];
    const char *tn = rn_printable(t->name ? t->name : "", shown, sizeof shown);
    *bytes = NULL;
    if (t->data_type != RN_ONNX_FLOAT) { /* a half-precision export (model.half()) is the usual case: say so */
        const char *dt = t->data_type == 10 ? "FLOAT16 (10)" : t->data_type == 16 ? "BFLOAT16 (16)"
                       : t->data_type == 11 ? "DOUBLE (11)" : NULL;
        if (dt)
            return rn_fail(err, RESNET_E_UNSUPPORTED, "%s: tensor '%s' is %s; only FLOAT (1) is read: export the model in "
                           "float32 (model.float())", m->path, tn, dt);
        return rn_fail(err, RESNET_E_UNSUPPORTED, "%s: tensor '%s' has data type %d, only FLOAT (1) is read", m->path, tn,
                       t->data_type);
    }
    int64_t numel = rn_onnx_numel(t);
    if (numel < 0 || (uint64_t)numel != n)
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s' does not have the %zu elements expected", m->path, tn, n);
    if (t->floats || (!t->raw && !t->external && n)) {
        if (t->n_vals != n)
            return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s' has %zu float_data values, its shape needs %zu", m->path,
                           tn, t->n_vals, n);
        return RESNET_OK;
    }
    size_t need;
    if (!rn_mul_size(n, 4, &need)) return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s' is too large", m->path, tn);
    return tensor_bytes(m, t, need, bytes, err);
}

resnet_status rn_onnx_check_f32(rn_onnx_model *m, const rn_onnx_tensor *t, size_t n, resnet_error *err) {
    const uint8_t *b;
    return f32_source(m, t, n, &b, err);
}

/* Drops the whole pages of [p, p + n) from memory when they lie in a mapping of ours (the
 * model or an external data file): a tensor is copied once, so a large model is never resident
 * whole beside its copy. */
static void release(rn_onnx_model *m, const uint8_t *p, size_t n) {
    const model_priv *mp = (const model_priv *)m;
    int ours = m->map && p >= (const uint8_t *)m->map && n <= m->map_size - (size_t)(p - (const uint8_t *)m->map);
    for (const ext_file *e = mp->ext; e && !ours; e = e->next)
        ours = e->map && p >= (const uint8_t *)e->map && n <= e->size - (size_t)(p - (const uint8_t *)e->map);
    if (!ours) return;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), b = ((uintptr_t)p + n) & ~(page - 1);
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

resnet_status rn_onnx_read_f32(rn_onnx_model *m, const rn_onnx_tensor *t, float *dst, size_t n, resnet_error *err) {
    const uint8_t *b;
    resnet_status s = f32_source(m, t, n, &b, err);
    if (s != RESNET_OK) return s;
    if (!b) {
        if (n) memcpy(dst, t->floats, n * sizeof *dst);
        return RESNET_OK;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 | (uint32_t)b[4 * i + 2] << 16 |
                     (uint32_t)b[4 * i + 3] << 24;
        dst[i] = bits_f32(u);
    }
    release(m, b, n * 4);
    return RESNET_OK;
}

resnet_status rn_onnx_read_i64(rn_onnx_model *m, const rn_onnx_tensor *t, int64_t *dst, size_t n, resnet_error *err) {
    char shown[96];
    const char *tn = rn_printable(t->name ? t->name : "", shown, sizeof shown);
    if (t->data_type != RN_ONNX_INT64 && t->data_type != RN_ONNX_INT32)
        return rn_fail(err, RESNET_E_UNSUPPORTED, "%s: tensor '%s' has data type %d, expected INT64", m->path, tn,
                       t->data_type);
    int64_t numel = rn_onnx_numel(t);
    if (numel < 0 || (uint64_t)numel != n)
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s' does not have the %zu elements expected", m->path, tn, n);
    if (t->ints || (!t->raw && !t->external && n)) {
        if (t->n_vals != n)
            return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s' has %zu values, its shape needs %zu", m->path, tn,
                           t->n_vals, n);
        for (size_t i = 0; i < n; i++) dst[i] = t->data_type == RN_ONNX_INT32 ? (int32_t)t->ints[i] : t->ints[i];
        return RESNET_OK;
    }
    const size_t w = t->data_type == RN_ONNX_INT64 ? 8 : 4;
    const uint8_t *b;
    size_t need;
    if (!rn_mul_size(n, w, &need)) return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s' is too large", m->path, tn);
    resnet_status s = tensor_bytes(m, t, need, &b, err);
    if (s != RESNET_OK) return s;
    for (size_t i = 0; i < n; i++) {
        uint64_t u = 0;
        for (size_t k = 0; k < w; k++) u |= (uint64_t)b[w * i + k] << (8 * k);
        dst[i] = w == 8 ? (int64_t)u : (int64_t)(int32_t)(uint32_t)u;
    }
    return RESNET_OK;
}
