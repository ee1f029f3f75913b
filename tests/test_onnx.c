/* test_onnx.c - ONNX import (resnet_import_onnx, resnet import MODEL.onnx), and export
 * (resnet_export_onnx) refusing to write over its inputs.
 *
 * Tier 1: the tiny exports in tests/data/onnx/ (tools/make-onnx.py --small: one with its batch
 * norms folded by the exporter, opset 17, grouped bottlenecks; one with them kept, opset 11,
 * basic blocks) must import to exactly the tensors of the .expected.safetensors beside them,
 * which were made with torch and onnx, not with our code (the folded one has layer4's batch
 * norms untrained, so its equal zero biases are one initializer read through Identity nodes).
 * Then every way of breaking a model
 * that the issue lists, made by re-encoding the folded export with one field changed: each
 * must fail with one line naming the file and the node or tensor, and write nothing. (Export
 * then import, bit-identical logits: tests/test_export.sh.)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "io/onnx.h"
#include "io/protobuf.h"
#include "io/safetensors.h"
#include "resnet.h"
#include "testutil.h"

#define DATA "tests/data/onnx/"

// ---------------------------------------------------------------------------------------
// a protobuf writer, and a re-encoder that changes one message of a model

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) exit(2);
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put_varint(buf *b, uint64_t v) {
    uint8_t t[10];
    int n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) t[n] |= 0x80;
        n++;
    } while (v);
    put(b, t, (size_t)n);
}

static void put_bytes_field(buf *b, uint32_t num, const void *d, size_t n) {
    put_varint(b, (uint64_t)num << 3 | 2);
    put_varint(b, n);
    put(b, d, n);
}

static void put_str(buf *b, uint32_t num, const char *s) { put_bytes_field(b, num, s, strlen(s)); }

static void put_int(buf *b, uint32_t num, uint64_t v) {
    put_varint(b, (uint64_t)num << 3);
    put_varint(b, v);
}

/* What to change: the model itself ('M'), the graph's index-th node ('N') or initializer ('I'):
 * drop its fields numbered drop (0: none), then append extra; or the graph ('G'): append extra
 * to it. */
typedef struct edit {
    char target;
    size_t index;
    uint32_t drop;
    buf extra;
} edit;

static void copy_field(buf *out, const rn_pb_field *f) {
    put_varint(out, (uint64_t)f->number << 3 | (uint64_t)f->wire);
    if (f->wire == 0) put_varint(out, f->v);
    else if (f->wire == 2) {
        put_varint(out, f->len);
        put(out, f->data, f->len);
    } else {
        uint8_t t[8];
        for (int i = 0; i < (f->wire == 1 ? 8 : 4); i++) t[i] = (uint8_t)(f->v >> (8 * i));
        put(out, t, f->wire == 1 ? 8 : 4);
    }
}

static void edit_leaf(const uint8_t *p, size_t n, const edit *e, buf *out) {
    rn_pb r;
    rn_pb_field f;
    const char *why;
    rn_pb_init(&r, p, n);
    while (rn_pb_next(&r, &f, &why) == 1)
        if (f.number != e->drop) copy_field(out, &f);
    put(out, e->extra.p, e->extra.n);
}

static buf rewrite(const uint8_t *model, size_t size, const edit *e) {
    buf out = {0};
    rn_pb r, g;
    rn_pb_field f, h;
    const char *why;
    rn_pb_init(&r, model, size);
    while (rn_pb_next(&r, &f, &why) == 1) {
        if (e->target == 'M' && f.number == e->drop) continue;
        if (f.number != 7) {
            copy_field(&out, &f);
            continue;
        }
        buf graph = {0};
        size_t nodes = 0, inits = 0;
        rn_pb_init(&g, f.data, f.len);
        while (rn_pb_next(&g, &h, &why) == 1) {
            int hit = (h.number == 1 && e->target == 'N' && nodes++ == e->index) ||
                      (h.number == 5 && e->target == 'I' && inits++ == e->index);
            if (!hit) {
                copy_field(&graph, &h);
                continue;
            }
            buf leaf = {0};
            edit_leaf(h.data, h.len, e, &leaf);
            put_bytes_field(&graph, h.number, leaf.p, leaf.n);
            free(leaf.p);
        }
        if (e->target == 'G') put(&graph, e->extra.p, e->extra.n);
        put_bytes_field(&out, 7, graph.p, graph.n);
        free(graph.p);
    }
    if (e->target == 'M') put(&out, e->extra.p, e->extra.n);
    return out;
}

// ---------------------------------------------------------------------------------------
// checks

static int message_one_line(const char *m) { return m[0] && !strchr(m, '\n'); }

/* Imports in (a tmp file) and expects failure naming `want` (and the file), nothing written. */
static void expect_refusal(const char *what, const char *in, const char *want, const char *want2) {
    char out[1024];
    snprintf(out, sizeof out, "%s", tu_path("out.safetensors"));
    resnet_error err;
    memset(&err, 0, sizeof err);
    resnet_status s = resnet_import_onnx(in, out, RESNET_NORM_TORCH, NULL, &err);
    CHECK(s != RESNET_OK, "%s: imported", what);
    if (s == RESNET_OK) return;
    CHECK(message_one_line(err.message), "%s: message '%s'", what, err.message);
    CHECK(strstr(err.message, in) != NULL, "%s: message does not name the file: %s", what, err.message);
    CHECK(strstr(err.message, want) != NULL, "%s: message lacks '%s': %s", what, want, err.message);
    CHECK(!want2 || strstr(err.message, want2) != NULL, "%s: message lacks '%s': %s", what, want2, err.message);
    CHECK(tu_count_files_like("out.safetensors") == 0, "%s: something was written", what);
}

static void compare_files(const char *got_path, const char *want_path) {
    rn_safetensors *got = NULL, *want = NULL;
    resnet_error err;
    CHECK(rn_st_open(got_path, &got, &err) == RESNET_OK, "%s", err.message);
    CHECK(rn_st_open(want_path, &want, &err) == RESNET_OK, "%s", err.message);
    if (!got || !want) goto done;
    CHECK(rn_st_count(got) == rn_st_count(want), "%zu tensors, expected %zu", rn_st_count(got), rn_st_count(want));
    for (size_t i = 0; i < rn_st_count(want) && i < rn_st_count(got); i++) {
        const rn_tensor *w = rn_st_tensor(want, i), *g = rn_st_tensor(got, i);
        CHECK(strcmp(w->name, g->name) == 0, "tensor %zu is '%s', expected '%s'", i, g->name, w->name);
        CHECK(w->ndim == g->ndim && memcmp(w->shape, g->shape, sizeof(int64_t) * (size_t)w->ndim) == 0,
              "'%s': shape differs", w->name);
        CHECK(w->nbytes == g->nbytes && memcmp(w->data, g->data, w->nbytes) == 0, "'%s': values differ", w->name);
    }
    const char *v = rn_st_metadata(got, "variant"), *n = rn_st_metadata(got, "normalization"),
               *e = rn_st_metadata(got, "bn_eps");
    CHECK(v && strcmp(v, "v1.5") == 0, "variant %s", v ? v : "(none)");
    CHECK(n && strcmp(n, "torch") == 0, "normalization %s", n ? n : "(none)");
    CHECK(e && strcmp(e, "1e-05") == 0, "bn_eps %s", e ? e : "(none)");
done:
    rn_st_close(got);
    rn_st_close(want);
}

static void test_tiny_exports(void) {
    const char *names[] = {"tiny_bottleneck", "tiny_basic"};
    for (int i = 0; i < 2; i++) {
        char in[256], want[256];
        snprintf(in, sizeof in, DATA "%s.onnx", names[i]);
        snprintf(want, sizeof want, DATA "%s.expected.safetensors", names[i]);
        const char *out = tu_path("tiny.safetensors");
        resnet_error err;
        resnet_status s = resnet_import_onnx(in, out, RESNET_NORM_TORCH, NULL, &err);
        CHECK(s == RESNET_OK, "%s: %s", in, err.message);
        if (s == RESNET_OK) compare_files(out, want);
        unlink(out);
    }
}

static void test_labels(void) {
    const char *out = tu_path("labels.safetensors"), *lab = tu_path("names.txt");
    const char names[] = "tabby \"cat\"\nback\\slash\r\nthird\nfourth\nfifth\n";
    tu_write_file(lab, names, sizeof names - 1);
    resnet_error err;
    resnet_status s = resnet_import_onnx(DATA "tiny_basic.onnx", out, RESNET_NORM_CAFFE, lab, &err);
    CHECK(s == RESNET_OK, "%s", err.message);
    rn_safetensors *st = NULL;
    if (s == RESNET_OK && rn_st_open(out, &st, &err) == RESNET_OK) {
        const char *j = rn_st_metadata(st, "labels"), *n = rn_st_metadata(st, "normalization");
        CHECK(n && strcmp(n, "caffe") == 0, "normalization %s", n ? n : "(none)");
        rn_json_doc *doc = NULL;
        CHECK(j && rn_json_parse(j, strlen(j), NULL, &doc, NULL, 0) == 0, "labels not JSON: %s", j ? j : "(none)");
        const rn_json *root = doc ? rn_json_root(doc) : NULL;
        CHECK(root && rn_json_count(root) == 5, "labels count");
        const char *a = root ? rn_json_string(rn_json_at(root, 0), NULL) : NULL,
                   *b = root ? rn_json_string(rn_json_at(root, 1), NULL) : NULL;
        CHECK(a && strcmp(a, "tabby \"cat\"") == 0, "label 0 '%s'", a ? a : "");
        CHECK(b && strcmp(b, "back\\slash") == 0, "label 1 '%s'", b ? b : "");
        rn_json_free(doc);
        rn_st_close(st);
    }
    unlink(out);
    /* onto the labels file it reads: refused, the names kept */
    s = resnet_import_onnx(DATA "tiny_basic.onnx", lab, RESNET_NORM_CAFFE, lab, &err);
    CHECK(s == RESNET_E_ARG && strstr(err.message, "the labels file being read"), "onto its labels: %d %s", s,
          s ? err.message : "");
    size_t n = 0;
    uint8_t *kept = tu_read_file(lab, &n);
    CHECK(kept && n == sizeof names - 1 && memcmp(kept, names, n) == 0, "the labels file changed");
    free(kept);
    /* a byte-order mark is skipped, as the loader's --labels skips it: not part of name 0 */
    const char bom[] = "\xef\xbb\xbf" "one\ntwo\nthree\nfour\nfive\n";
    tu_write_file(lab, bom, sizeof bom - 1);
    s = resnet_import_onnx(DATA "tiny_basic.onnx", out, RESNET_NORM_TORCH, lab, &err);
    CHECK(s == RESNET_OK, "%s", err.message);
    if (s == RESNET_OK && rn_st_open(out, &st, &err) == RESNET_OK) {
        const char *j = rn_st_metadata(st, "labels");
        CHECK(j && strncmp(j, "[\"one\"", 6) == 0, "labels of a file with a byte-order mark: %s", j ? j : "(none)");
        rn_st_close(st);
    }
    unlink(out);
    /* a NUL byte: refused, naming its line (written, the file would load nowhere) */
    tu_write_file(lab, "one\ntw\0o\nthree\nfour\nfive\n", 25);
    s = resnet_import_onnx(DATA "tiny_basic.onnx", out, RESNET_NORM_TORCH, lab, &err);
    CHECK(s != RESNET_OK && strstr(err.message, "line 2") && strstr(err.message, "NUL"), "%s", s ? err.message : "accepted");
    CHECK(tu_count_files_like("labels.safetensors") == 0, "written despite a NUL in the names");
    tu_write_file(lab, "one\ntwo\n", 8);
    s = resnet_import_onnx(DATA "tiny_basic.onnx", out, RESNET_NORM_TORCH, lab, &err);
    CHECK(s != RESNET_OK && strstr(err.message, "2 names") && strstr(err.message, "5 classes"), "%s", err.message);
    CHECK(tu_count_files_like("labels.safetensors") == 0, "written despite wrong labels");
}

/* The model with node `index`'s operator renamed `op`: refused, the message holding want and want2. */
static void refuse_op(const uint8_t *model, size_t size, const char *in, size_t index, const char *op, const char *what,
                      const char *want, const char *want2) {
    edit e = {'N', index, 4, {0}};
    put_str(&e.extra, 4, op);
    buf r = rewrite(model, size, &e);
    tu_write_file(in, r.p, r.n);
    expect_refusal(what, in, want, want2);
    free(r.p);
    free(e.extra.p);
}

/* The model with one more attribute on node `index` (its other attributes kept): `name`, n
 * integers (INT for a scalar, n = 0; INTS otherwise), then refused with a line holding both words. */
static void refuse_attr(const uint8_t *model, size_t size, const char *in, size_t index, const char *name, const int *v,
                        int n, const char *what, const char *want, const char *want2) {
    edit e = {'N', index, 0, {0}};
    buf a = {0};
    put_str(&a, 1, name);
    if (n == 0) put_int(&a, 3, (uint64_t)v[0]);
    for (int j = 0; j < n; j++) put_int(&a, 8, (uint64_t)v[j]);
    put_int(&a, 20, n == 0 ? 2 : 7); /* INT, INTS */
    put_bytes_field(&e.extra, 5, a.p, a.n);
    free(a.p);
    buf r = rewrite(model, size, &e);
    tu_write_file(in, r.p, r.n);
    expect_refusal(what, in, want, want2);
    free(r.p);
    free(e.extra.p);
}

static void test_hostile(void) {
    size_t size = 0;
    uint8_t *model = tu_read_file(DATA "tiny_bottleneck.onnx", &size);
    CHECK(model != NULL, "cannot read the tiny model");
    if (!model) return;
    char in[1024]; /* tu_path's buffers are reused */
    snprintf(in, sizeof in, "%s", tu_path("bad.onnx"));
    resnet_error err;
    rn_onnx_model *m = NULL;
    CHECK(rn_onnx_open(DATA "tiny_bottleneck.onnx", &m, &err) == RESNET_OK, "%s", err.message);
    if (!m) return;
    /* the folded export: the stem's Conv, Relu and MaxPool are the first of their kinds (the
     * Identity nodes of shared initializers come before them) */
    size_t conv = SIZE_MAX, relu = SIZE_MAX, pool = SIZE_MAX;
    for (size_t i = m->n_nodes; i-- > 0;) {
        if (strcmp(m->nodes[i].op, "Conv") == 0) conv = i;
        if (strcmp(m->nodes[i].op, "Relu") == 0) relu = i;
        if (strcmp(m->nodes[i].op, "MaxPool") == 0) pool = i;
    }
    CHECK(conv < relu && relu < pool && pool < m->n_nodes, "unexpected layout of the tiny model");
    if (pool >= m->n_nodes) return;

    tu_write_file(in, model, size / 2);
    expect_refusal("cut short", in, "not a valid ONNX model", NULL);
    /* what a user gives `import` by mistake: a PyTorch checkpoint (torch.save's zip), a
     * safetensors file; each named, with what to do instead */
    tu_write_file(in, "PK\3\4\x14\0\0\0\x08\0archive/data.pkl", 26);
    expect_refusal("a .pth", in, "a PyTorch checkpoint", "pth-to-safetensors");
    {
        size_t st_size = 0;
        uint8_t *st = tu_read_file(DATA "tiny_basic.expected.safetensors", &st_size);
        CHECK(st != NULL, "cannot read tiny_basic.expected.safetensors");
        if (st) tu_write_file(in, st, st_size);
        free(st);
        expect_refusal("a safetensors file", in, "a safetensors file", "--weights");
    }
    {
        /* a head: --weights refuses it, so the safetensors advice would send the user astray */
        static const char hdr[] = "{\"__metadata__\":{\"format\":\"resnet-linear-head\"},"
                                  "\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        buf h = {0};
        const uint64_t hl = sizeof hdr - 1;
        uint8_t len[8];
        for (int i = 0; i < 8; i++) len[i] = (uint8_t)(hl >> (8 * i));
        put(&h, len, 8);
        put(&h, hdr, sizeof hdr - 1);
        put(&h, "\0\0\0\0", 4);
        tu_write_file(in, h.p, h.n);
        expect_refusal("a head", in, "a head made by train-head", "--head");
        free(h.p);
    }

    tu_write_file(in, "", 0);
    expect_refusal("empty", in, "empty file", NULL);

    buf b = {0};
    put(&b, model, size);
    put(&b, "\x12\x7f", 2); /* producer_name of 127 bytes, none there */
    tu_write_file(in, b.p, b.n);
    expect_refusal("length past the end", in, "a field length past the end", NULL);
    b.n = size;
    put(&b, "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12); /* an 11-byte varint */
    tu_write_file(in, b.p, b.n);
    expect_refusal("11-byte varint", in, "longer than 10 bytes", NULL);
    free(b.p);

    buf nograph = {0};
    put_int(&nograph, 1, 8);
    tu_write_file(in, nograph.p, nograph.n);
    expect_refusal("no graph", in, "no graph", NULL);
    free(nograph.p);

    /* initializer 0 with 4 bytes of raw_data */
    edit e = {'I', 0, 9, {0}};
    put_bytes_field(&e.extra, 9, "\0\0\0\0", 4);
    buf r = rewrite(model, size, &e);
    tu_write_file(in, r.p, r.n);
    expect_refusal("raw_data short", in, m->inits[0].name, "raw_data");
    free(r.p);
    free(e.extra.p);

    /* initializer 0 made FLOAT16, as in a model.half() export: named as such, with what to do */
    memset(&e, 0, sizeof e);
    e.target = 'I';
    e.drop = 2; /* data_type */
    put_int(&e.extra, 2, 10);
    r = rewrite(model, size, &e);
    tu_write_file(in, r.p, r.n);
    expect_refusal("a FLOAT16 tensor", in, "is FLOAT16 (10)", "float32");
    free(r.p);
    free(e.extra.p);

    /* the first float initializer all NaN, then all infinity: the model is broken, and no
     * command would load what an import wrote, so nothing is written */
    size_t fi = 0;
    while (fi < m->n_inits && !(m->inits[fi].data_type == 1 && m->inits[fi].raw_len >= 4)) fi++;
    CHECK(fi < m->n_inits, "no float initializer with raw_data in the tiny model");
    for (int inf = 0; fi < m->n_inits && inf < 2; inf++) {
        memset(&e, 0, sizeof e);
        e.target = 'I';
        e.index = fi;
        e.drop = 9;
        const uint32_t bits = inf ? 0x7f800000u : 0x7fc00000u;
        uint8_t *vals = malloc(m->inits[fi].raw_len);
        for (size_t k = 0; k + 4 <= m->inits[fi].raw_len; k += 4)
            for (int j = 0; j < 4; j++) vals[k + (size_t)j] = (uint8_t)(bits >> (8 * j));
        put_bytes_field(&e.extra, 9, vals, m->inits[fi].raw_len);
        free(vals);
        r = rewrite(model, size, &e);
        tu_write_file(in, r.p, r.n);
        expect_refusal(inf ? "an initializer of infinities" : "an initializer of NaNs", in, inf ? "infinity" : "NaN",
                       "nothing written");
        free(r.p);
        free(e.extra.p);
    }

    /* initializer 0 in an external file: missing, then too short, then outside the folder,
     * then longer than its shape with no length given (the rest of the file is the data) */
    const char *locs[] = {"w.bin", "w.bin", "../w.bin", "w.bin"};
    const char *wants[] = {"w.bin", "too short", "not a file beside the model", "no length is given"};
    for (int k = 0; k < 4; k++) {
        memset(&e, 0, sizeof e);
        e.target = 'I';
        e.drop = 9;
        buf kv = {0};
        put_str(&kv, 1, "location");
        put_str(&kv, 2, locs[k]);
        put_bytes_field(&e.extra, 13, kv.p, kv.n);
        put_int(&e.extra, 14, 1);
        free(kv.p);
        if (k == 1) tu_write_file(tu_path("w.bin"), "abcd", 4);
        if (k == 3) { /* the tensor's float bytes, and two more */
            size_t nb = (size_t)rn_onnx_numel(&m->inits[0]) * 4 + 2;
            uint8_t *z = calloc(nb, 1);
            tu_write_file(tu_path("w.bin"), z, nb);
            free(z);
        }
        r = rewrite(model, size, &e);
        tu_write_file(in, r.p, r.n);
        expect_refusal("external data", in, m->inits[0].name, wants[k]);
        free(r.p);
        free(e.extra.p);
    }
    unlink(tu_path("w.bin"));

    /* opset 10 */
    memset(&e, 0, sizeof e);
    e.target = 'M';
    e.drop = 8;
    buf os = {0};
    put_int(&os, 2, 10);
    put_bytes_field(&e.extra, 8, os.p, os.n);
    free(os.p);
    r = rewrite(model, size, &e);
    tu_write_file(in, r.p, r.n);
    expect_refusal("opset 10", in, "opset 10", NULL);
    free(r.p);
    free(e.extra.p);

    /* a cycle: the stem Conv reads the MaxPool's output */
    memset(&e, 0, sizeof e);
    e.target = 'N';
    e.index = conv;
    e.drop = 1;
    put_str(&e.extra, 1, m->nodes[pool].out[0]);
    for (size_t k = 1; k < m->nodes[conv].n_in; k++) put_str(&e.extra, 1, m->nodes[conv].in[k]);
    r = rewrite(model, size, &e);
    tu_write_file(in, r.p, r.n);
    expect_refusal("cycle", in, "cycle", m->nodes[conv].name);
    free(r.p);
    free(e.extra.p);

    /* the input normalised inside the graph (a Normalize module before the network): the line says so */
    refuse_op(model, size, in, conv, "Sub", "preprocessing in the graph", m->nodes[conv].name, "not to the stem's Conv");

    /* an unsupported node where the stem's Relu is */
    refuse_op(model, size, in, relu, "Sigmoid", "unsupported node", m->nodes[relu].name, "Sigmoid");

    /* a Softmax appended after the fc (torch.nn.Sequential(model, Softmax(1))): the line names it */
    size_t gemm = SIZE_MAX;
    for (size_t i = 0; i < m->n_nodes; i++)
        if (strcmp(m->nodes[i].op, "Gemm") == 0) gemm = i;
    CHECK(gemm < m->n_nodes, "no Gemm in the tiny model");
    if (gemm < m->n_nodes) {
        memset(&e, 0, sizeof e);
        e.target = 'G';
        buf nd = {0};
        put_str(&nd, 1, m->nodes[gemm].out[0]);
        put_str(&nd, 2, "probs");
        put_str(&nd, 3, "/1/Softmax");
        put_str(&nd, 4, "Softmax");
        put_bytes_field(&e.extra, 1, nd.p, nd.n);
        free(nd.p);
        r = rewrite(model, size, &e);
        tu_write_file(in, r.p, r.n);
        expect_refusal("a Softmax after the fc", in, "read by node '/1/Softmax' (Softmax)", m->nodes[gemm].name);
        free(r.p);
        free(e.extra.p);
    }

    /* a max pool where the head's average pool is: named as the head it is not */
    size_t gap = SIZE_MAX;
    for (size_t i = 0; i < m->n_nodes; i++)
        if (strcmp(m->nodes[i].op, "GlobalAveragePool") == 0) gap = i;
    CHECK(gap < m->n_nodes, "no GlobalAveragePool in the tiny model");
    if (gap < m->n_nodes)
        refuse_op(model, size, in, gap, "GlobalMaxPool", "a GlobalMaxPool head", "GlobalMaxPool",
                  "the head's average pool");

    /* layer4's 3x3 dilated by 2 in a network that still strides there (output stride 32): the
     * engine rebuilds the network from its output stride and would run it undilated, another
     * network; torchvision dilates only a stage that no longer strides, and those after it */
    size_t l4 = SIZE_MAX;
    for (size_t i = 0; i < m->n_nodes; i++)
        if (strcmp(m->nodes[i].op, "Conv") == 0 && strstr(m->nodes[i].name, "layer4.0/conv2")) l4 = i;
    const rn_onnx_attr *l4g = l4 < m->n_nodes ? rn_onnx_attr_get(&m->nodes[l4], "group") : NULL;
    CHECK(l4g != NULL, "no grouped layer4.0 conv2 in the tiny model");
    if (l4g) {
        static const struct { const char *name; int n, v; } at[] = {
            {"dilations", 2, 2}, {"kernel_shape", 2, 3}, {"pads", 4, 2}, {"strides", 2, 2}};
        memset(&e, 0, sizeof e);
        e.target = 'N';
        e.index = l4;
        e.drop = 5; /* every attribute, then the same ones but the dilation (and its padding) */
        for (size_t k = 0; k < sizeof at / sizeof at[0] + 1; k++) {
            buf a = {0};
            put_str(&a, 1, k < 4 ? at[k].name : "group");
            if (k < 4)
                for (int j = 0; j < at[k].n; j++) put_int(&a, 8, (uint64_t)at[k].v);
            else
                put_int(&a, 3, (uint64_t)l4g->i);
            put_int(&a, 20, k < 4 ? 7 : 2); /* INTS, INT */
            put_bytes_field(&e.extra, 5, a.p, a.n);
            free(a.p);
        }
        r = rewrite(model, size, &e);
        tu_write_file(in, r.p, r.n);
        expect_refusal("a dilated 3x3 in a stage that strides", in, "layer4.0/conv2", "dilation 2");
        free(r.p);
        free(e.extra.p);
    }

    /* an attribute said twice (strides [1, 1], then [2, 2]): the lookup would read the first,
     * ONNX Runtime refuses the node; refused here too */
    size_t l1 = SIZE_MAX;
    for (size_t i = 0; i < m->n_nodes; i++)
        if (strcmp(m->nodes[i].op, "Conv") == 0 && strstr(m->nodes[i].name, "layer1.0/conv1")) l1 = i;
    CHECK(l1 < m->n_nodes, "no layer1.0 conv1 in the tiny model");
    if (l1 < m->n_nodes) {
        static const int twos[] = {2, 2};
        refuse_attr(model, size, in, l1, "strides", twos, 2, "an attribute twice", "layer1.0/conv1", "'strides' appears twice");
    }

    /* a batch norm in training mode (torch.onnx.export(..., training=TrainingMode.TRAINING), the
     * tiny_basic export keeps its batch norms): the line says which export to make instead */
    size_t tb_size = 0;
    uint8_t *tb = tu_read_file(DATA "tiny_basic.onnx", &tb_size);
    rn_onnx_model *tbm = NULL;
    CHECK(tb && rn_onnx_open(DATA "tiny_basic.onnx", &tbm, &err) == RESNET_OK, "cannot read tiny_basic.onnx");
    size_t bn = SIZE_MAX;
    for (size_t i = 0; tbm && i < tbm->n_nodes && bn == SIZE_MAX; i++)
        if (strcmp(tbm->nodes[i].op, "BatchNormalization") == 0) bn = i;
    CHECK(bn != SIZE_MAX, "no BatchNormalization in tiny_basic.onnx");
    if (bn != SIZE_MAX) {
        static const int one = 1;
        refuse_attr(tb, tb_size, in, bn, "training_mode", &one, 0, "a training-mode batch norm", "training_mode is set",
                    "EVAL or PRESERVE");
    }
    rn_onnx_close(tbm);
    free(tb);

    /* the re-encoder itself changes nothing when asked to change nothing */
    memset(&e, 0, sizeof e);
    e.target = 'N';
    e.index = 1;
    r = rewrite(model, size, &e);
    CHECK(r.n == size && memcmp(r.p, model, size) == 0, "the re-encoder is not the identity");
    tu_write_file(in, r.p, r.n);
    CHECK(resnet_import_onnx(in, tu_path("ok.safetensors"), RESNET_NORM_TORCH, NULL, &err) == RESNET_OK, "%s",
          err.message);
    unlink(tu_path("ok.safetensors"));
    free(r.p);
    unlink(in);
    rn_onnx_close(m);
    free(model);
}

/* resnet_export_onnx onto its own weight file, or onto the labels file it reads: refused, both
 * left as they were (the weight file used to be replaced by the graph, as convert refuses to). */
static void test_export_over_inputs(void) {
    size_t size = 0, after = 0;
    uint8_t *w = tu_read_file(DATA "tiny_basic.expected.safetensors", &size);
    if (!w) return;
    const char *weights = tu_path("export-w.safetensors"), *labels = tu_path("export-labels.txt");
    tu_write_file(weights, w, size);
    resnet_error err;
    resnet_model *m = NULL;
    resnet_load_options c;
    resnet_load_options_init(&c);
    c.kernels = RESNET_KERNELS_C; /* its widths (8) are narrower than the x86 kernels' panels */
    CHECK(resnet_model_load(weights, &c, &m, &err) == RESNET_OK, "%s", err.message);
    FILE *f = fopen(labels, "w");
    for (int c = 0; f && c < resnet_model_classes(m); c++) fprintf(f, "class %d\n", c);
    if (f) fclose(f);
    resnet_model_free(m);
    size_t lsize = 0;
    uint8_t *lab = tu_read_file(labels, &lsize);
    resnet_load_options o;
    resnet_load_options_init(&o);
    o.labels = labels;
    /* the file exports: a refusal below is about where it goes */
    CHECK(resnet_export_onnx(weights, &o, tu_path("export.onnx"), 13, &err) == RESNET_OK, "%s", err.message);
    resnet_status s = resnet_export_onnx(weights, &o, weights, 13, &err);
    CHECK(s == RESNET_E_ARG && strstr(err.message, "the weight file being exported"), "onto the weights: %d %s", s,
          s ? err.message : "");
    uint8_t *now = tu_read_file(weights, &after);
    CHECK(now && after == size && memcmp(now, w, size) == 0, "the weight file changed");
    free(now);
    s = resnet_export_onnx(weights, &o, labels, 13, &err);
    CHECK(s == RESNET_E_ARG && strstr(err.message, "the labels file being exported"), "onto the labels: %d %s", s,
          s ? err.message : "");
    now = tu_read_file(labels, &after);
    CHECK(now && lab && after == lsize && memcmp(now, lab, lsize) == 0, "the labels file changed");
    free(now);
    free(lab);
    free(w);
}

/* The tool: ONNX told from TF.js by its bytes, whatever the name; one line and exit 1. */
static void test_cli(void) {
    const char *bin = getenv("RESNET_BIN") ? getenv("RESNET_BIN") : "build/resnet";
    char cmd[2048], out[4096];
    size_t size = 0;
    uint8_t *model = tu_read_file(DATA "tiny_basic.onnx", &size);
    if (!model) return;
    tu_write_file(tu_path("model.json"), model, size); /* an ONNX file under a TF.js name */
    free(model);
    snprintf(cmd, sizeof cmd, "%s import %s -o %s 2>&1", bin, tu_path("model.json"), tu_path("cli.safetensors"));
    CHECK(tu_run(cmd, out, sizeof out) == 0, "%s: %s", cmd, out);
    unlink(tu_path("cli.safetensors"));
    tu_write_file(tu_path("half.onnx"), "\x08\x07\x3a\x40", 4);
    snprintf(cmd, sizeof cmd, "%s import %s -o %s 2>&1", bin, tu_path("half.onnx"), tu_path("cli.safetensors"));
    int rc = tu_run(cmd, out, sizeof out);
    CHECK(rc == 1 && strstr(out, "half.onnx") && strstr(out, "past the end") && strchr(out, '\n') == out + strlen(out) - 1,
          "exit %d: %s", rc, out);
    CHECK(tu_count_files_like("cli.safetensors") == 0, "written");
    tu_write_file(tu_path("m.json"), "{\"format\": \"graph-model\"}", 25);
    snprintf(cmd, sizeof cmd, "%s import %s -o %s 2>&1", bin, tu_path("m.json"), tu_path("cli.safetensors"));
    rc = tu_run(cmd, out, sizeof out);
    CHECK(rc == 1 && strstr(out, "layers-model") && !strstr(out, "ONNX"), "JSON taken for ONNX? exit %d: %s", rc, out);
    snprintf(cmd, sizeof cmd, "%s import %s --variant v1 -o %s 2>&1", bin, DATA "tiny_basic.onnx", tu_path("cli.safetensors"));
    rc = tu_run(cmd, out, sizeof out);
    CHECK(rc != 0 && strstr(out, "--variant"), "exit %d: %s", rc, out);
}

int main(void) {
    tu_make_tmpdir("rn-onnx-");
    RUN(test_tiny_exports);
    RUN(test_labels);
    RUN(test_hostile);
    RUN(test_export_over_inputs);
    RUN(test_cli);
    tu_remove_tmpdir();
    return TEST_DONE();
}
