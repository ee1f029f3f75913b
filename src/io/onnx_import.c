/* onnx_import.c - torchvision's ResNet family as torch.onnx.export writes it -> our
 * safetensors file with torchvision's state_dict names (resnet_import_onnx).
 *
 * The graph is recognised by walking it from its input, the way torchvision's forward runs:
 *
 *   stem    Conv 7x7/2 [BatchNormalization] Relu MaxPool 3x3/2
 *   block   basic:      Conv 3x3 [BN] Relu Conv 3x3 [BN]            \
 *           bottleneck: Conv 1x1 [BN] Relu Conv 3x3 [BN] Relu Conv 1x1 [BN]  Add Relu
 *           shortcut:   the block's input, or Conv 1x1 [BN] (downsample) /
 *   head    GlobalAveragePool | ReduceMean(axes 2,3), Flatten | Reshape, Gemm | MatMul + Add,
 *           or no fc: a backbone, whose features are the graph's one output; a Sigmoid after
 *           an fc of one output is left out (the engine reads one output through a sigmoid)
 *
 * A block with a downsample starts a stage (the first block always does); there must be four.
 * Every node must be on that path (a Constant or an Identity of an initializer feeding a node on
 * it counts), every value
 * must feed exactly the nodes the path expects, and every attribute must be one torchvision
 * writes: anything else is refused with one line naming the first node that does not fit.
 *
 * Batch norm folding. torch.onnx.export in eval mode (its default) folds each BN into the Conv
 * before it: the Conv gains a bias and the BN node disappears. Such a conv is written with
 * its folded weight and an identity batch norm: weight 1, bias = the conv's bias, running
 * mean 0, running var 1 - eps, with metadata bn_eps = eps, so that (x - 0) / sqrt(var + eps)
 * is x (to float rounding) and the network computes what the ONNX graph does. A Conv that has
 * a bias and a BN after it has the bias moved into the BN's running mean. */
#include "resnet.h"

#include <inttypes.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "io/atomic.h"
#include "io/fileio.h"
#include "io/json.h"
#include "io/onnx.h"
#include "io/safetensors.h"

#define ONNX_MIN_OPSET 11
#define ONNX_MAX_OPSET 17
#define ONNX_DEFAULT_EPS 1e-5f

typedef struct name_ref { /* a value name and a node (or initializer) index, sorted by name */
    const char *name;
    size_t idx;
} name_ref;

typedef struct convbn { /* one convolution of the network, in state_dict order */
    char conv[48], bn[48];   /* "layer1.0.conv1", "layer1.0.bn1" */
    size_t node, bn_node;    /* bn_node SIZE_MAX when folded */
    int cin, cout, k, stride, pad, dil, groups;
    const char *out;         /* the value after the conv (and BN) */
} convbn;

typedef struct imp {
    rn_onnx_model *m;
    const char *path;
    resnet_error *err;
    name_ref *prod, *uses, *inits, *ins; /* node outputs, node inputs, initializers, graph inputs:
                                          * sorted by name */
    size_t n_prod, n_uses, n_inits, n_ins;
    unsigned char *visited;
    convbn *convs;
    size_t n_convs, cap_convs;
    size_t fc_node, fc_add;      /* Gemm (fc_add SIZE_MAX) or MatMul + Add */
    const rn_onnx_tensor *fc_w, *fc_b;
    int fc_trans;                /* fc_w is [out, in] */
    int classes, features;
    int sigmoid;                 /* a Sigmoid after a one-output fc, left out */
    int variant_v1, variant_v15; /* where bottlenecks stride */
    int output_stride;
    int input_size; /* the graph input's fixed side (N x C x S x S), 0 when it has none */
    float eps;
    int have_eps;
} imp;

static int cmp_ref(const void *a, const void *b) {
    const name_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* The first entry named name, and how many there are. */
static const name_ref *find_refs(const name_ref *refs, size_t n, const char *name, size_t *count) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(refs[mid].name, name) < 0) lo = mid + 1;
        else hi = mid;
    }
    size_t k = lo;
    while (k < n && strcmp(refs[k].name, name) == 0) k++;
    *count = k - lo;
    return k > lo ? &refs[lo] : NULL;
}

static const char *shown(const char *s, char *buf, size_t n) { return rn_printable(s ? s : "", buf, n); }

/* "node 'Conv_12' (Conv)" into buf */
static const char *node_str(const imp *im, size_t i, char *buf, size_t n) {
    char a[64], b[40];
    const rn_onnx_node *nd = &im->m->nodes[i];
    if (nd->name[0]) snprintf(buf, n, "node '%s' (%s)", shown(nd->name, a, sizeof a), shown(nd->op, b, sizeof b));
    else snprintf(buf, n, "node %zu (%s)", i, shown(nd->op, b, sizeof b));
    return buf;
}

static resnet_status node_fail(imp *im, size_t i, const char *fmt, ...) RN_PRINTF(3, 4);
static resnet_status node_fail(imp *im, size_t i, const char *fmt, ...) {
    char ns[160], why[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return rn_fail(im->err, RESNET_E_UNSUPPORTED, "%s: %s does not fit a torchvision ResNet: %s", im->path,
                   node_str(im, i, ns, sizeof ns), why);
}

static const rn_onnx_tensor *init_of(const imp *im, const char *name) {
    size_t c;
    const name_ref *r = find_refs(im->inits, im->n_inits, name, &c);
    return r ? &im->m->inits[r->idx] : NULL;
}

/* A constant operand: an initializer, the value of a Constant node, or either through Identity
 * nodes (the exporter writes one initializer for equal tensors, e.g. the zero biases of folded
 * batch norms at their initial values, and an Identity for each other use). The nodes on the
 * way are marked visited. */
static const rn_onnx_tensor *const_of(imp *im, const char *name) {
    for (int hops = 0; hops < 8; hops++) {
        const rn_onnx_tensor *t = init_of(im, name);
        if (t) return t;
        size_t c;
        const name_ref *p = find_refs(im->prod, im->n_prod, name, &c);
        if (!p || c != 1) return NULL;
        const rn_onnx_node *nd = &im->m->nodes[p->idx];
        if (strcmp(nd->op, "Identity") == 0 && nd->n_in == 1 && nd->n_attrs == 0) {
            im->visited[p->idx] = 1;
            name = nd->in[0];
            continue;
        }
        const rn_onnx_attr *v = strcmp(nd->op, "Constant") == 0 && nd->n_attrs == 1 ? rn_onnx_attr_get(nd, "value") : NULL;
        if (!v || !v->t) return NULL;
        im->visited[p->idx] = 1;
        return v->t;
    }
    return NULL;
}

// ---------------------------------------------------------------------------------------
// graph indexes and the cycle check

static resnet_status index_graph(imp *im) {
    rn_onnx_model *m = im->m;
    size_t np = 0, nu = 0;
    for (size_t i = 0; i < m->n_nodes; i++) {
        np += m->nodes[i].n_out;
        nu += m->nodes[i].n_in;
    }
    im->prod = calloc(np + 1, sizeof *im->prod);
    im->uses = calloc(nu + 1, sizeof *im->uses);
    im->inits = calloc(m->n_inits + 1, sizeof *im->inits);
    im->visited = calloc(m->n_nodes + 1, 1);
    im->ins = calloc(m->n_inputs + 1, sizeof *im->ins);
    if (!im->prod || !im->uses || !im->inits || !im->visited || !im->ins)
        return rn_fail(im->err, RESNET_E_NOMEM, "%s: out of memory", im->path);
    for (size_t i = 0; i < m->n_nodes; i++) {
        const rn_onnx_node *nd = &m->nodes[i];
        for (size_t k = 0; k < nd->n_out; k++)
            if (nd->out[k][0]) im->prod[im->n_prod++] = (name_ref){nd->out[k], i};
        for (size_t k = 0; k < nd->n_in; k++)
            if (nd->in[k][0]) im->uses[im->n_uses++] = (name_ref){nd->in[k], i};
    }
    for (size_t i = 0; i < m->n_inits; i++) im->inits[im->n_inits++] = (name_ref){m->inits[i].name, i};
    for (size_t i = 0; i < m->n_inputs; i++) im->ins[im->n_ins++] = (name_ref){m->inputs[i], i};
    qsort(im->ins, im->n_ins, sizeof *im->ins, cmp_ref);
    qsort(im->prod, im->n_prod, sizeof *im->prod, cmp_ref);
    qsort(im->uses, im->n_uses, sizeof *im->uses, cmp_ref);
    qsort(im->inits, im->n_inits, sizeof *im->inits, cmp_ref);
    char a[96];
    for (size_t i = 1; i < im->n_prod; i++)
        if (strcmp(im->prod[i].name, im->prod[i - 1].name) == 0)
            return node_fail(im, im->prod[i].idx, "its output '%s' is also the output of another node",
                             shown(im->prod[i].name, a, sizeof a));
    for (size_t i = 1; i < im->n_inits; i++)
        if (strcmp(im->inits[i].name, im->inits[i - 1].name) == 0)
            return rn_fail(im->err, RESNET_E_WEIGHTS, "%s: two initializers are named '%s'", im->path,
                           shown(im->inits[i].name, a, sizeof a));
    /* every input defined: by a node, an initializer or the graph's inputs */
    for (size_t i = 0; i < m->n_nodes; i++) {
        const rn_onnx_node *nd = &m->nodes[i];
        for (size_t k = 0; k < nd->n_in; k++) {
            const char *v = nd->in[k];
            size_t c;
            if (!v[0] || find_refs(im->prod, im->n_prod, v, &c) || init_of(im, v)) continue;
            if (!find_refs(im->ins, im->n_ins, v, &c)) return node_fail(im, i, "its input '%s' is not defined in the graph", shown(v, a, sizeof a));
        }
    }
    /* Kahn's algorithm: a node that never becomes ready sits on a cycle */
    size_t *pending = calloc(m->n_nodes + 1, sizeof *pending), *queue = calloc(m->n_nodes + 1, sizeof *queue);
    if (!pending || !queue) {
        free(pending);
        free(queue);
        return rn_fail(im->err, RESNET_E_NOMEM, "%s: out of memory", im->path);
    }
    size_t qh = 0, qt = 0;
    for (size_t i = 0; i < m->n_nodes; i++) {
        const rn_onnx_node *nd = &m->nodes[i];
        for (size_t k = 0; k < nd->n_in; k++) {
            size_t c;
            if (nd->in[k][0] && find_refs(im->prod, im->n_prod, nd->in[k], &c)) pending[i]++;
        }
        if (!pending[i]) queue[qt++] = i;
    }
    while (qh < qt) {
        const rn_onnx_node *nd = &m->nodes[queue[qh++]];
        for (size_t k = 0; k < nd->n_out; k++) {
            size_t c;
            if (!nd->out[k][0]) continue;
            const name_ref *u = find_refs(im->uses, im->n_uses, nd->out[k], &c);
            for (size_t j = 0; j < c; j++)
                if (--pending[u[j].idx] == 0) queue[qt++] = u[j].idx;
        }
    }
    resnet_status s = RESNET_OK;
    if (qt < m->n_nodes)
        for (size_t i = 0; i < m->n_nodes; i++)
            if (pending[i]) {
                s = node_fail(im, i, "it is on a cycle (the graph is not acyclic)");
                break;
            }
    free(pending);
    free(queue);
    return s;
}

// ---------------------------------------------------------------------------------------
// the walk

/* The one node that reads value v; fails naming the second reader when several do, or the
 * node `from` (v's producer) when none does. */
static resnet_status sole_consumer(imp *im, const char *v, size_t from, size_t *out) {
    size_t c;
    char a[96];
    const name_ref *u = find_refs(im->uses, im->n_uses, v, &c);
    if (c == 0) return node_fail(im, from, "nothing reads its output '%s'", shown(v, a, sizeof a));
    if (c > 1)
        return node_fail(im, u[1].idx, "it reads '%s', which the ResNet uses only once here", shown(v, a, sizeof a));
    *out = u[0].idx;
    return RESNET_OK;
}

static int is_op(const imp *im, size_t i, const char *op) {
    const rn_onnx_node *nd = &im->m->nodes[i];
    return strcmp(nd->op, op) == 0 && (!nd->domain[0] || strcmp(nd->domain, "ai.onnx") == 0);
}

static resnet_status expect_op(imp *im, size_t i, const char *op, const char *where) {
    if (is_op(im, i, op)) return RESNET_OK;
    char dom[64];
    return node_fail(im, i, "expected %s %s%s%s", op, where, im->m->nodes[i].domain[0] ? " (domain " : "",
                     im->m->nodes[i].domain[0] ? shown(im->m->nodes[i].domain, dom, sizeof dom) : "");
}

/* Only the attributes listed may appear, each once: the lookup reads the first of a name said
 * twice (strides [1, 1] then [2, 2]), ONNX Runtime refuses such a node, so which one the graph
 * means is anyone's guess. */
static resnet_status known_attrs(imp *im, size_t i, const char *const *names) {
    const rn_onnx_node *nd = &im->m->nodes[i];
    unsigned seen = 0; /* bit k: names[k] met (the lists are short) */
    for (size_t a = 0; a < nd->n_attrs; a++) {
        int k = 0;
        while (names[k] && strcmp(names[k], nd->attrs[a].name) != 0) k++;
        char b[64];
        if (!names[k]) return node_fail(im, i, "attribute '%s' is not one a torchvision ResNet has", shown(nd->attrs[a].name, b, sizeof b));
        if (seen & 1u << k) return node_fail(im, i, "attribute '%s' appears twice", shown(nd->attrs[a].name, b, sizeof b));
        seen |= 1u << k;
    }
    return RESNET_OK;
}

/* An INTS attribute of n equal values (all = *v); absent: *v = dflt. */
static resnet_status square_attr(imp *im, size_t i, const char *name, size_t n, int dflt, int *v) {
    const rn_onnx_attr *a = rn_onnx_attr_get(&im->m->nodes[i], name);
    *v = dflt;
    if (!a) return RESNET_OK;
    if (a->n_ints != n) return node_fail(im, i, "%s has %zu values, expected %zu", name, a->n_ints, n);
    for (size_t k = 0; k < n; k++)
        if (a->ints[k] != a->ints[0] || a->ints[k] < 0 || a->ints[k] > 64)
            return node_fail(im, i, "%s is not the same small value in every position", name);
    *v = (int)a->ints[0];
    return RESNET_OK;
}

static resnet_status int_attr(imp *im, size_t i, const char *name, int64_t dflt, int64_t *v) {
    const rn_onnx_attr *a = rn_onnx_attr_get(&im->m->nodes[i], name);
    *v = a ? a->i : dflt;
    return RESNET_OK;
}

/* The node's first output, which must be its only one read. */
static resnet_status main_output(imp *im, size_t i, const char **out) {
    const rn_onnx_node *nd = &im->m->nodes[i];
    if (nd->n_out < 1 || !nd->out[0][0]) return node_fail(im, i, "it has no output");
    for (size_t k = 1; k < nd->n_out; k++) {
        size_t c;
        if (nd->out[k][0] && find_refs(im->uses, im->n_uses, nd->out[k], &c))
            return node_fail(im, i, "its output %zu is read (an export with training=TrainingMode.TRAINING? export with EVAL "
                             "or PRESERVE)", k);
    }
    *out = nd->out[0];
    return RESNET_OK;
}

/* A float initializer of n elements. */
static resnet_status vector_operand(imp *im, size_t i, size_t k, int64_t n, const rn_onnx_tensor **t) {
    const rn_onnx_node *nd = &im->m->nodes[i];
    char a[96];
    if (k >= nd->n_in || !nd->in[k][0]) return node_fail(im, i, "input %zu is missing", k);
    *t = const_of(im, nd->in[k]);
    if (!*t) return node_fail(im, i, "input %zu ('%s') is not an initializer", k, shown(nd->in[k], a, sizeof a));
    if (rn_onnx_numel(*t) != n || (*t)->ndim < 1)
        return node_fail(im, i, "input %zu ('%s') does not have %" PRId64 " elements", k, shown(nd->in[k], a, sizeof a), n);
    return rn_onnx_check_f32(im->m, *t, (size_t)n, im->err);
}

static resnet_status push_conv(imp *im, convbn **c) {
    if (im->n_convs == im->cap_convs) {
        size_t cap = im->cap_convs ? im->cap_convs * 2 : 64;
        convbn *p = realloc(im->convs, cap * sizeof *p);
        if (!p) return rn_fail(im->err, RESNET_E_NOMEM, "%s: out of memory", im->path);
        im->convs = p;
        im->cap_convs = cap;
    }
    *c = &im->convs[im->n_convs++];
    memset(*c, 0, sizeof **c);
    return RESNET_OK;
}

/* Conv node i reading `in` (cin channels), and the BatchNormalization after it if there is one. */
static resnet_status conv_bn(imp *im, size_t i, const char *in, int cin, const char *conv_name, const char *bn_name,
                             convbn **outc) {
    static const char *const conv_attrs[] = {"kernel_shape", "strides", "pads", "dilations", "group", "auto_pad", NULL};
    static const char *const bn_attrs[] = {"epsilon", "momentum", "spatial", "training_mode", NULL};
    resnet_status s;
    char a[96];
    if ((s = expect_op(im, i, "Conv", conv_name)) != RESNET_OK) return s;
    const rn_onnx_node *nd = &im->m->nodes[i];
    if (nd->n_in < 2 || nd->n_in > 3 || strcmp(nd->in[0], in) != 0)
        return node_fail(im, i, "expected Conv(%s, weight[, bias])", shown(in, a, sizeof a));
    im->visited[i] = 1;
    if ((s = known_attrs(im, i, conv_attrs)) != RESNET_OK) return s;
    const rn_onnx_attr *ap = rn_onnx_attr_get(nd, "auto_pad");
    if (ap && ap->s && strcmp(ap->s, "NOTSET") != 0) return node_fail(im, i, "auto_pad is not NOTSET");
    const rn_onnx_tensor *w = const_of(im, nd->in[1]);
    if (!w) return node_fail(im, i, "its weight '%s' is not an initializer", shown(nd->in[1], a, sizeof a));
    if (w->ndim != 4 || w->dims[2] != w->dims[3] || w->dims[0] < 1 || w->dims[0] > 65536 || w->dims[1] < 1 ||
        w->dims[1] > 65536 || !(w->dims[2] == 1 || w->dims[2] == 3 || w->dims[2] == 7))
        return node_fail(im, i, "its weight is not [out, in, k, k] with k 1, 3 or 7");
    /* the data must be there before anything is sized by the shape the file claims */
    if ((s = rn_onnx_check_f32(im->m, w, (size_t)(w->dims[0] * w->dims[1] * w->dims[2] * w->dims[3]), im->err)) != RESNET_OK)
        return s;
    convbn *c;
    if ((s = push_conv(im, &c)) != RESNET_OK) return s;
    snprintf(c->conv, sizeof c->conv, "%s", conv_name);
    snprintf(c->bn, sizeof c->bn, "%s", bn_name);
    c->node = i;
    c->bn_node = SIZE_MAX;
    c->cout = (int)w->dims[0];
    c->k = (int)w->dims[2];
    int64_t g;
    int ks;
    if ((s = square_attr(im, i, "kernel_shape", 2, c->k, &ks)) != RESNET_OK ||
        (s = square_attr(im, i, "strides", 2, 1, &c->stride)) != RESNET_OK ||
        (s = square_attr(im, i, "pads", 4, 0, &c->pad)) != RESNET_OK ||
        (s = square_attr(im, i, "dilations", 2, 1, &c->dil)) != RESNET_OK || (s = int_attr(im, i, "group", 1, &g)) != RESNET_OK)
        return s;
    if (ks != c->k) return node_fail(im, i, "kernel_shape %d does not match its weight's %d", ks, c->k);
    if (g < 1 || g > cin || cin % g || c->cout % g) return node_fail(im, i, "group %" PRId64 " does not divide its channels", g);
    c->groups = (int)g;
    c->cin = cin;
    if (w->dims[1] * g != cin)
        return node_fail(im, i, "its weight takes %" PRId64 " channels, its input has %d", w->dims[1] * g, cin);
    if (c->stride < 1 || c->stride > 2) return node_fail(im, i, "stride %d (torchvision's are 1 or 2)", c->stride);
    if (c->dil < 1) return node_fail(im, i, "dilation %d", c->dil);
    const int want_pad = c->k == 7 ? 3 : c->k == 3 ? c->dil : 0;
    if (c->pad != want_pad) return node_fail(im, i, "pads %d where torchvision's ResNet pads by %d", c->pad, want_pad);
    if (c->k != 3 && c->dil != 1) return node_fail(im, i, "a dilated %dx%d convolution", c->k, c->k);
    if (nd->n_in == 3 && nd->in[2][0]) {
        const rn_onnx_tensor *b;
        if ((s = vector_operand(im, i, 2, c->cout, &b)) != RESNET_OK) return s;
    }
    const char *out;
    if ((s = main_output(im, i, &out)) != RESNET_OK) return s;
    size_t next;
    if ((s = sole_consumer(im, out, i, &next)) != RESNET_OK) return s;
    if (is_op(im, next, "BatchNormalization")) {
        const rn_onnx_node *bn = &im->m->nodes[next];
        im->visited[next] = 1;
        if ((s = known_attrs(im, next, bn_attrs)) != RESNET_OK) return s;
        int64_t tm;
        int_attr(im, next, "training_mode", 0, &tm);
        if (tm)
            return node_fail(im, next, "training_mode is set (an export with training=TrainingMode.TRAINING normalises by "
                             "each batch's statistics: export with EVAL or PRESERVE)");
        if (bn->n_in != 5 || strcmp(bn->in[0], out) != 0) return node_fail(im, next, "expected BatchNormalization(conv, scale, B, mean, var)");
        for (size_t k = 1; k < 5; k++) {
            const rn_onnx_tensor *t;
            if ((s = vector_operand(im, next, k, c->cout, &t)) != RESNET_OK) return s;
        }
        const rn_onnx_attr *e = rn_onnx_attr_get(bn, "epsilon");
        float eps = e ? e->f : ONNX_DEFAULT_EPS;
        if (!(eps > 0.0f && eps < 0.5f)) return node_fail(im, next, "epsilon %g is not in (0, 0.5)", (double)eps);
        if (im->have_eps && eps != im->eps)
            return node_fail(im, next, "epsilon %g differs from the other batch norms' %g (the file holds one)", (double)eps,
                             (double)im->eps);
        im->eps = eps;
        im->have_eps = 1;
        c->bn_node = next;
        if ((s = main_output(im, next, &out)) != RESNET_OK) return s;
    }
    c->out = out;
    *outc = c;
    return RESNET_OK;
}

/* The Relu reading v (its only reader); *out its output. */
static resnet_status relu_after(imp *im, const char *v, size_t from, const char *where, const char **out) {
    size_t r;
    resnet_status s;
    if ((s = sole_consumer(im, v, from, &r)) != RESNET_OK || (s = expect_op(im, r, "Relu", where)) != RESNET_OK) return s;
    if (im->m->nodes[r].n_in != 1 || im->m->nodes[r].n_attrs) return node_fail(im, r, "a Relu with extra inputs or attributes");
    im->visited[r] = 1;
    return main_output(im, r, out);
}

static size_t producer(const imp *im, const char *v) {
    size_t c;
    const name_ref *p = find_refs(im->prod, im->n_prod, v, &c);
    return p ? p->idx : SIZE_MAX;
}

/* One residual block reading x (c channels); *x and *c become its output. */
static resnet_status block(imp *im, int stage, int index, size_t conv_a, size_t conv_b, const char **x, int *c,
                           int *is_bottleneck, int *stride_out) {
    char p[32], n1[48], n2[48];
    resnet_status s;
    snprintf(p, sizeof p, "layer%d.%d", stage + 1, index);
    /* which Conv is the main path's: its output (after BN) goes to a Relu, the downsample's to the Add */
    size_t main_c = conv_a, down_c = conv_b;
    convbn *c1, *c2, *c3 = NULL, *dn = NULL;
    size_t n_before = im->n_convs;
    if (down_c != SIZE_MAX) {
        /* try conv_a as the downsample first: its value must go straight to an Add */
        snprintf(n1, sizeof n1, "%s.downsample.0", p);
        snprintf(n2, sizeof n2, "%s.downsample.1", p);
        if ((s = conv_bn(im, conv_a, *x, *c, n1, n2, &dn)) != RESNET_OK) return s;
        size_t nx;
        if ((s = sole_consumer(im, dn->out, conv_a, &nx)) != RESNET_OK) return s;
        if (!is_op(im, nx, "Add")) { /* the other one is */
            im->n_convs = n_before;
            im->visited[conv_a] = 0;
            if (im->convs[n_before].bn_node != SIZE_MAX) im->visited[im->convs[n_before].bn_node] = 0;
            if ((s = conv_bn(im, conv_b, *x, *c, n1, n2, &dn)) != RESNET_OK) return s;
            main_c = conv_a;
        } else {
            main_c = conv_b;
        }
    }
    convbn down_copy;
    if (dn) { /* kept aside: the state_dict lists the downsample after the main path */
        down_copy = *dn;
        im->n_convs--;
    }
    const char *v;
    snprintf(n1, sizeof n1, "%s.conv1", p);
    snprintf(n2, sizeof n2, "%s.bn1", p);
    if ((s = conv_bn(im, main_c, *x, *c, n1, n2, &c1)) != RESNET_OK) return s;
    size_t c1_node = c1->node;
    int c1_out = c1->cout;
    if ((s = relu_after(im, c1->out, c1->node, "after the block's first convolution", &v)) != RESNET_OK) return s;
    size_t nx;
    if ((s = sole_consumer(im, v, c1_node, &nx)) != RESNET_OK) return s;
    snprintf(n1, sizeof n1, "%s.conv2", p);
    snprintf(n2, sizeof n2, "%s.bn2", p);
    if ((s = conv_bn(im, nx, v, c1_out, n1, n2, &c2)) != RESNET_OK) return s;
    c1 = &im->convs[im->n_convs - 2];
    size_t c2_node = c2->node;
    const char *c2_out = c2->out;
    if ((s = sole_consumer(im, c2_out, c2_node, &nx)) != RESNET_OK) return s;
    const char *main_out = c2_out;
    int out_ch = c2->cout;
    if (is_op(im, nx, "Relu")) {
        if ((s = relu_after(im, c2_out, c2_node, "", &v)) != RESNET_OK) return s;
        if ((s = sole_consumer(im, v, nx, &nx)) != RESNET_OK) return s;
        snprintf(n1, sizeof n1, "%s.conv3", p);
        snprintf(n2, sizeof n2, "%s.bn3", p);
        if ((s = conv_bn(im, nx, v, c2->cout, n1, n2, &c3)) != RESNET_OK) return s;
        c1 = &im->convs[im->n_convs - 3];
        c2 = &im->convs[im->n_convs - 2];
        main_out = c3->out;
        out_ch = c3->cout;
        if ((s = sole_consumer(im, main_out, c3->node, &nx)) != RESNET_OK) return s;
    }
    int stride;
    if (c3) {
        if (c1->k != 1 || c2->k != 3 || c3->k != 1)
            return node_fail(im, c1->node, "a bottleneck's convolutions are 1x1, 3x3, 1x1; these are %dx%d, %dx%d, %dx%d", c1->k,
                             c1->k, c2->k, c2->k, c3->k, c3->k);
        if (c1->groups != 1 || c3->groups != 1) return node_fail(im, c1->groups != 1 ? c1->node : c3->node, "a grouped 1x1 convolution");
        if (c3->stride != 1 || (c1->stride > 1 && c2->stride > 1))
            return node_fail(im, c3->stride != 1 ? c3->node : c2->node, "a bottleneck strides in one convolution only");
        stride = c1->stride > c2->stride ? c1->stride : c2->stride;
        if (c1->stride > 1) im->variant_v1 = 1;
        if (c2->stride > 1) im->variant_v15 = 1;
        if (im->variant_v1 && im->variant_v15)
            return node_fail(im, c1->stride > 1 ? c1->node : c2->node,
                             "some bottlenecks stride in the first 1x1 (v1), others in the 3x3 (v1.5)");
        if (c2->cin != c2->cout) return node_fail(im, c2->node, "a bottleneck's 3x3 keeps its width");
    } else {
        if (c1->k != 3 || c2->k != 3) return node_fail(im, c1->node, "a basic block's convolutions are 3x3");
        if (c1->groups != 1 || c2->groups != 1 || c1->dil != 1 || c2->dil != 1)
            return node_fail(im, c1->node, "a basic block is neither grouped nor dilated");
        if (c2->stride != 1) return node_fail(im, c2->node, "a basic block strides in its first convolution");
        stride = c1->stride;
    }
    if (!is_op(im, nx, "Add")) return node_fail(im, nx, "expected the residual Add of block %s", p);
    const rn_onnx_node *add = &im->m->nodes[nx];
    const char *shortcut = dn ? down_copy.out : *x;
    if (add->n_in != 2 || add->n_attrs ||
        !((strcmp(add->in[0], main_out) == 0 && strcmp(add->in[1], shortcut) == 0) ||
          (strcmp(add->in[1], main_out) == 0 && strcmp(add->in[0], shortcut) == 0)))
        return node_fail(im, nx, "the residual Add of block %s adds other values than the block's and its shortcut", p);
    im->visited[nx] = 1;
    if (dn) {
        if (down_copy.k != 1 || down_copy.stride != stride || down_copy.groups != 1 || down_copy.cout != out_ch)
            return node_fail(im, down_copy.node, "the downsample of block %s is not a 1x1 convolution to %d channels with stride %d",
                             p, out_ch, stride);
        convbn *d;
        if ((s = push_conv(im, &d)) != RESNET_OK) return s;
        *d = down_copy;
    } else if (stride != 1 || out_ch != *c) {
        return node_fail(im, c1_node, "block %s changes the shape (stride %d, %d -> %d channels) without a downsample", p,
                         stride, *c, out_ch);
    }
    const char *add_out;
    if ((s = main_output(im, nx, &add_out)) != RESNET_OK) return s;
    if ((s = relu_after(im, add_out, nx, "after the residual Add", x)) != RESNET_OK) return s;
    *c = out_ch;
    *is_bottleneck = c3 != NULL;
    *stride_out = stride;
    return RESNET_OK;
}

/* The consumers of block input x: one Conv and the Add, two Convs, or the head's pool. */
static resnet_status head(imp *im, size_t pool, const char *x, int c);

static resnet_status walk(imp *im) {
    rn_onnx_model *m = im->m;
    resnet_status s;
    char a[96];
    /* the input: the one graph input that is not an initializer */
    const char *in = NULL;
    for (size_t i = 0; i < m->n_inputs; i++) {
        if (init_of(im, m->inputs[i])) continue;
        char b[96];
        if (in) return rn_fail(im->err, RESNET_E_UNSUPPORTED, "%s: the graph has more than one input ('%s' and '%s')",
                               im->path, shown(in, a, sizeof a), shown(m->inputs[i], b, sizeof b));
        in = m->inputs[i];
        /* a graph exported at another size than 224 (resnet export --size, or torch.onnx.export
         * traced on such an input) says so in its input's shape: the size its network was made
         * for, and what the file will ask for unless told otherwise */
        const int64_t *d = m->input_dims ? m->input_dims[i] : NULL;
        im->input_size = d && m->input_rank[i] == 4 && d[2] >= 32 && d[2] <= 4096 && d[2] == d[3] ? (int)d[2] : 0;
    }
    if (!in) return rn_fail(im->err, RESNET_E_UNSUPPORTED, "%s: the graph has no input", im->path);
    size_t n;
    const name_ref *u = find_refs(im->uses, im->n_uses, in, &n);
    if (n != 1) return rn_fail(im->err, RESNET_E_UNSUPPORTED, "%s: the graph's input '%s' feeds %zu nodes, expected one Conv",
                               im->path, shown(in, a, sizeof a), n);
    convbn *stem;
    if (!is_op(im, u[0].idx, "Conv")) /* a Normalize module wrapped around the model, the usual case */
        return node_fail(im, u[0].idx, "the graph's input '%s' goes to it, not to the stem's Conv (preprocessing inside "
                         "the graph is not read: export the network alone; --norm says what input it takes)",
                         shown(in, a, sizeof a));
    if ((s = conv_bn(im, u[0].idx, in, 3, "conv1", "bn1", &stem)) != RESNET_OK) return s;
    if (stem->k != 7 || stem->stride != 2 || stem->groups != 1 || stem->dil != 1)
        return node_fail(im, stem->node, "the stem is a 7x7 convolution with stride 2");
    const char *x;
    int c = stem->cout;
    size_t stem_node = stem->node;
    if ((s = relu_after(im, stem->out, stem->node, "after the stem", &x)) != RESNET_OK) return s;
    size_t mp;
    if ((s = sole_consumer(im, x, stem_node, &mp)) != RESNET_OK || (s = expect_op(im, mp, "MaxPool", "after the stem")) != RESNET_OK)
        return s;
    static const char *const mp_attrs[] = {"kernel_shape", "strides", "pads", "ceil_mode", "dilations", "storage_order", NULL};
    int k, st, pd, dl;
    int64_t ceil;
    if ((s = known_attrs(im, mp, mp_attrs)) != RESNET_OK || (s = square_attr(im, mp, "kernel_shape", 2, 0, &k)) != RESNET_OK ||
        (s = square_attr(im, mp, "strides", 2, 1, &st)) != RESNET_OK || (s = square_attr(im, mp, "pads", 4, 0, &pd)) != RESNET_OK ||
        (s = square_attr(im, mp, "dilations", 2, 1, &dl)) != RESNET_OK)
        return s;
    int_attr(im, mp, "ceil_mode", 0, &ceil);
    if (k != 3 || st != 2 || pd != 1 || dl != 1 || ceil) return node_fail(im, mp, "the max pool is 3x3, stride 2, padding 1");
    im->visited[mp] = 1;
    if ((s = main_output(im, mp, &x)) != RESNET_OK) return s;
    size_t prev = mp;
    /* dil: torchvision's self.dilation (replace_stride_with_dilation), prev_dil its
     * previous_dilation, which a stage's first block's 3x3 keeps */
    int stage = -1, index = 0, kind = -1, os = 4, dil = 1, prev_dil = 1;
    for (;;) {
        u = find_refs(im->uses, im->n_uses, x, &n);
        if (n == 1 && (is_op(im, u[0].idx, "GlobalAveragePool") || is_op(im, u[0].idx, "ReduceMean"))) {
            if (stage != 3)
                return node_fail(im, u[0].idx, "the graph has %d stages, a torchvision ResNet four", stage + 1);
            if (os < 8) /* every stage dilated: the engine runs output strides 8, 16 and 32 */
                return node_fail(im, u[0].idx, "the network's output stride is %d (8, 16 or 32 are run)", os);
            im->output_stride = os;
            return head(im, u[0].idx, x, c);
        }
        if (n != 2) {
            if (n == 0) return node_fail(im, prev, "nothing reads its output");
            if (n == 1)
                return node_fail(im, u[0].idx, "expected the head's average pool (GlobalAveragePool, or ReduceMean "
                                 "over axes 2 and 3) or the next block (a Conv and an Add, or two Convs)");
            return node_fail(im, u[n > 2 ? 2 : 0].idx, "a block's input feeds %zu nodes (expected 2: a Conv and an Add, or two Convs)", n);
        }
        size_t ca = SIZE_MAX, cb = SIZE_MAX;
        const int conv0 = is_op(im, u[0].idx, "Conv"), conv1 = is_op(im, u[1].idx, "Conv");
        if (conv0 && conv1) {
            ca = u[0].idx;
            cb = u[1].idx;
        } else if (conv0 && is_op(im, u[1].idx, "Add")) {
            ca = u[0].idx;
        } else if (conv1 && is_op(im, u[0].idx, "Add")) {
            ca = u[1].idx;
        } else {
            return node_fail(im, conv0 ? u[1].idx : u[0].idx, "expected a residual block's Conv or Add");
        }
        const int has_down = cb != SIZE_MAX;
        if (stage < 0 || has_down) {
            if (++stage >= 4) return node_fail(im, ca, "a fifth stage (a torchvision ResNet has four)");
            index = 0;
        }
        int bottleneck = 0, stride = 1;
        size_t first_conv = im->n_convs;
        if ((s = block(im, stage, index, ca, cb, &x, &c, &bottleneck, &stride)) != RESNET_OK) return s;
        if (kind >= 0 && kind != bottleneck)
            return node_fail(im, im->convs[first_conv].node, "basic and bottleneck blocks mixed in one network");
        kind = bottleneck;
        if (index == 0) {
            os *= stride;
            /* Only the strides and dilations torchvision builds: the engine rebuilds them from the
             * output stride alone (rn_net_build), so another placement (layer1 striding, a stage
             * not striding with no dilation after it, a dilation elsewhere) would load and
             * answer for another network. layer1 never strides; a later stage strides 2, or 1
             * with its dilation doubled. */
            if (stride != (stage == 0 ? 1 : 2) && !(stage > 0 && stride == 1))
                return node_fail(im, im->convs[first_conv].node, "stage %d strides by %d (torchvision's: 1, then 2, 2, 2 or "
                                 "dilated)", stage + 1, stride);
            prev_dil = dil;
            if (stage > 0 && stride == 1) dil *= 2;
        } else if (stride != 1) {
            return node_fail(im, im->convs[first_conv].node, "a block strides but does not start a stage");
        }
        if (!bottleneck && dil != 1)
            return node_fail(im, im->convs[first_conv].node, "stage %d does not stride (a basic block does not dilate)",
                             stage + 1);
        const convbn *mid = &im->convs[first_conv + (bottleneck ? 1 : 0)]; /* the 3x3 that dilates */
        const int want_dil = index == 0 ? prev_dil : dil;
        if (mid->dil != want_dil)
            return node_fail(im, mid->node, "dilation %d where torchvision's ResNet has %d (a stage that does not "
                             "stride doubles the dilation from there on)", mid->dil, want_dil);
        prev = producer(im, x);
        index++;
    }
}

static resnet_status head(imp *im, size_t pool, const char *x, int c) {
    resnet_status s;
    const char *v;
    int flat = 0;
    im->visited[pool] = 1;
    const rn_onnx_node *nd = &im->m->nodes[pool];
    if (nd->n_in < 1 || strcmp(nd->in[0], x) != 0) return node_fail(im, pool, "expected the pool to read the last block");
    if (is_op(im, pool, "ReduceMean")) {
        static const char *const rm_attrs[] = {"axes", "keepdims", NULL};
        if ((s = known_attrs(im, pool, rm_attrs)) != RESNET_OK) return s;
        const rn_onnx_attr *ax = rn_onnx_attr_get(nd, "axes");
        int64_t axes[2] = {0, 0};
        size_t nax = 0;
        if (ax) {
            nax = ax->n_ints;
            for (size_t k = 0; k < nax && k < 2; k++) axes[k] = ax->ints[k];
        } else if (nd->n_in == 2) {
            const rn_onnx_tensor *t = const_of(im, nd->in[1]);
            if (t && rn_onnx_numel(t) == 2 && rn_onnx_read_i64(im->m, t, axes, 2, im->err) == RESNET_OK) nax = 2;
        }
        for (size_t k = 0; k < 2; k++)
            if (axes[k] < 0) axes[k] += 4;
        if (nax != 2 || !((axes[0] == 2 && axes[1] == 3) || (axes[0] == 3 && axes[1] == 2)))
            return node_fail(im, pool, "a ReduceMean not over the spatial axes (2, 3)");
        int64_t keep;
        int_attr(im, pool, "keepdims", 1, &keep);
        flat = keep == 0;
    } else if (nd->n_in != 1 || nd->n_attrs) {
        return node_fail(im, pool, "a GlobalAveragePool with extra inputs or attributes");
    }
    if ((s = main_output(im, pool, &v)) != RESNET_OK) return s;
    size_t nx;
    if ((s = sole_consumer(im, v, pool, &nx)) != RESNET_OK) return s;
    if (is_op(im, nx, "Flatten")) {
        static const char *const fl_attrs[] = {"axis", NULL};
        int64_t axis;
        if ((s = known_attrs(im, nx, fl_attrs)) != RESNET_OK) return s;
        int_attr(im, nx, "axis", 1, &axis);
        if (axis != 1 || im->m->nodes[nx].n_in != 1) return node_fail(im, nx, "a Flatten not at axis 1");
        im->visited[nx] = 1;
        flat = 1;
    } else if (is_op(im, nx, "Reshape")) {
        const rn_onnx_node *r = &im->m->nodes[nx];
        const rn_onnx_tensor *t = r->n_in == 2 ? const_of(im, r->in[1]) : NULL;
        int64_t shape[2];
        if (!t || rn_onnx_numel(t) != 2 || rn_onnx_read_i64(im->m, t, shape, 2, im->err) != RESNET_OK ||
            !(shape[1] == -1 || shape[1] == c) || shape[0] < -1 || shape[0] > 1)
            return node_fail(im, nx, "a Reshape whose shape is not a constant [N, %d]", c);
        im->visited[nx] = 1;
        flat = 1;
    }
    if (flat && im->visited[nx]) {
        if ((s = main_output(im, nx, &v)) != RESNET_OK) return s;
        /* a backbone (fc cut off, or an Identity in its place): the features are the graph's
         * one output and nothing reads them */
        size_t readers;
        find_refs(im->uses, im->n_uses, v, &readers);
        if (readers == 0 && im->m->n_outputs == 1 && strcmp(im->m->outputs[0], v) == 0) {
            im->classes = 0;
            im->features = c;
            return RESNET_OK;
        }
        size_t f = nx;
        if ((s = sole_consumer(im, v, f, &nx)) != RESNET_OK) return s;
    }
    if (!flat) return node_fail(im, nx, "expected Flatten or Reshape after the pool");
    const rn_onnx_node *fc = &im->m->nodes[nx];
    const char *out;
    if (is_op(im, nx, "Gemm")) {
        static const char *const g_attrs[] = {"alpha", "beta", "transA", "transB", NULL};
        if ((s = known_attrs(im, nx, g_attrs)) != RESNET_OK) return s;
        const rn_onnx_attr *al = rn_onnx_attr_get(fc, "alpha"), *be = rn_onnx_attr_get(fc, "beta");
        int64_t ta, tb;
        int_attr(im, nx, "transA", 0, &ta);
        int_attr(im, nx, "transB", 0, &tb);
        if ((al && al->f != 1.0f) || (be && be->f != 1.0f) || ta) return node_fail(im, nx, "a Gemm with alpha, beta or transA");
        if (fc->n_in != 3 || strcmp(fc->in[0], v) != 0) return node_fail(im, nx, "expected Gemm(features, weight, bias)");
        im->fc_w = const_of(im, fc->in[1]);
        im->fc_b = const_of(im, fc->in[2]);
        im->fc_trans = tb != 0;
        im->fc_node = nx;
        im->fc_add = SIZE_MAX;
        im->visited[nx] = 1;
        if ((s = main_output(im, nx, &out)) != RESNET_OK) return s;
    } else if (is_op(im, nx, "MatMul")) {
        if (fc->n_in != 2 || strcmp(fc->in[0], v) != 0) return node_fail(im, nx, "expected MatMul(features, weight)");
        im->fc_w = const_of(im, fc->in[1]);
        im->fc_trans = 0;
        im->fc_node = nx;
        im->visited[nx] = 1;
        const char *mo;
        if ((s = main_output(im, nx, &mo)) != RESNET_OK) return s;
        size_t ad;
        if ((s = sole_consumer(im, mo, nx, &ad)) != RESNET_OK || (s = expect_op(im, ad, "Add", "after the fc's MatMul")) != RESNET_OK)
            return s;
        const rn_onnx_node *an = &im->m->nodes[ad];
        if (an->n_in != 2 || (strcmp(an->in[0], mo) != 0 && strcmp(an->in[1], mo) != 0))
            return node_fail(im, ad, "expected Add(MatMul, bias)");
        im->fc_b = const_of(im, strcmp(an->in[0], mo) == 0 ? an->in[1] : an->in[0]);
        im->fc_add = ad;
        im->visited[ad] = 1;
        nx = ad;
        if ((s = main_output(im, ad, &out)) != RESNET_OK) return s;
    } else {
        return node_fail(im, nx, "expected the fc layer (Gemm, or MatMul and Add)");
    }
    const rn_onnx_tensor *w = im->fc_w, *b = im->fc_b;
    if (!w || w->ndim != 2) return node_fail(im, im->fc_node, "the fc weight is not a 2-D initializer");
    const int64_t in_f = im->fc_trans ? w->dims[1] : w->dims[0], out_f = im->fc_trans ? w->dims[0] : w->dims[1];
    if (in_f != c) return node_fail(im, im->fc_node, "the fc takes %" PRId64 " features, the network has %d", in_f, c);
    if (out_f < 1 || out_f > 1000000) return node_fail(im, im->fc_node, "the fc has %" PRId64 " classes", out_f);
    if (!b || rn_onnx_numel(b) != out_f)
        return node_fail(im, im->fc_add != SIZE_MAX ? im->fc_add : im->fc_node, "the fc bias is not an initializer of %" PRId64 " values",
                         out_f);
    if ((s = rn_onnx_check_f32(im->m, w, (size_t)(in_f * out_f), im->err)) != RESNET_OK ||
        (s = rn_onnx_check_f32(im->m, b, (size_t)out_f, im->err)) != RESNET_OK)
        return s;
    im->classes = (int)out_f;
    im->features = c;
    size_t cnt;
    const name_ref *reader = find_refs(im->uses, im->n_uses, out, &cnt);
    /* One output is read as a binary classifier: its probability is the sigmoid of its logit,
     * so a Sigmoid appended to such a model is what the engine computes anyway and is left out.
     * With more outputs it would be multi-label, where the engine takes a softmax: refused. */
    if (reader && cnt == 1 && is_op(im, reader->idx, "Sigmoid")) {
        const size_t sg = reader->idx;
        const rn_onnx_node *sn = &im->m->nodes[sg];
        if (out_f != 1)
            return node_fail(im, sg, "a Sigmoid after an fc of %" PRId64 " outputs (multi-label): the engine takes the softmax "
                             "of several outputs (export the network without it)", out_f);
        if (sn->n_in != 1 || sn->n_attrs) return node_fail(im, sg, "a Sigmoid with extra inputs or attributes");
        im->visited[sg] = 1;
        im->sigmoid = 1;
        nx = sg;
        if ((s = main_output(im, sg, &out)) != RESNET_OK) return s;
        reader = find_refs(im->uses, im->n_uses, out, &cnt);
    }
    if (reader) { /* a Softmax or Sigmoid appended to the model: named, for "other nodes" does not say which to leave out */
        char rs[160];
        return node_fail(im, nx, "its output, the logits, is read by %s (export the network without what follows its fc)",
                         node_str(im, reader->idx, rs, sizeof rs));
    }
    int is_out = 0;
    for (size_t i = 0; i < im->m->n_outputs && !is_out; i++) is_out = strcmp(im->m->outputs[i], out) == 0;
    if (!is_out || im->m->n_outputs != 1) return node_fail(im, nx, "the logits are not the graph's one output");
    return RESNET_OK;
}

// ---------------------------------------------------------------------------------------
// writing the state_dict

typedef struct out_list {
    rn_st_entry *e;
    char **names;
    float **data;
    size_t n, cap;
} out_list;

static float *emit(out_list *o, const char *name, int ndim, const int64_t *shape) {
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 128;
        rn_st_entry *e = realloc(o->e, cap * sizeof *e);
        if (e) o->e = e;
        char **nm = realloc(o->names, cap * sizeof *nm);
        if (nm) o->names = nm;
        float **d = realloc(o->data, cap * sizeof *d);
        if (d) o->data = d;
        if (!e || !nm || !d) return NULL;
        o->cap = cap;
    }
    size_t numel = 1;
    for (int i = 0; i < ndim; i++)
        if (!rn_mul_size(numel, (size_t)shape[i], &numel)) return NULL;
    char *n = strdup(name);
    float *data = malloc((numel ? numel : 1) * sizeof *data);
    if (!n || !data) {
        free(n);
        free(data);
        return NULL;
    }
    rn_st_entry *e = &o->e[o->n];
    memset(e, 0, sizeof *e);
    e->name = n;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->data = data;
    o->names[o->n] = n;
    o->data[o->n] = data;
    o->n++;
    return data;
}

static void out_free(out_list *o) {
    for (size_t i = 0; i < o->n; i++) {
        free(o->names[i]);
        free(o->data[i]);
    }
    free(o->e);
    free(o->names);
    free(o->data);
}

static resnet_status write_convs(imp *im, out_list *o) {
    char name[64];
    resnet_status s;
    const float eps = im->have_eps ? im->eps : ONNX_DEFAULT_EPS;
    for (size_t i = 0; i < im->n_convs; i++) {
        const convbn *c = &im->convs[i];
        const rn_onnx_node *nd = &im->m->nodes[c->node];
        const rn_onnx_tensor *w = const_of(im, nd->in[1]);
        const size_t n = (size_t)w->dims[0] * (size_t)w->dims[1] * (size_t)w->dims[2] * (size_t)w->dims[3];
        snprintf(name, sizeof name, "%s.weight", c->conv);
        float *d = emit(o, name, 4, w->dims);
        if (!d) return rn_fail(im->err, RESNET_E_NOMEM, "%s: out of memory", im->path);
        if ((s = rn_onnx_read_f32(im->m, w, d, n, im->err)) != RESNET_OK) return s;
        const size_t co = (size_t)c->cout;
        const int64_t shape[1] = {c->cout};
        float *bias = NULL;
        if (nd->n_in == 3 && nd->in[2][0]) {
            if (!(bias = malloc(co * sizeof *bias))) return rn_fail(im->err, RESNET_E_NOMEM, "%s: out of memory", im->path);
            if ((s = rn_onnx_read_f32(im->m, const_of(im, nd->in[2]), bias, co, im->err)) != RESNET_OK) {
                free(bias);
                return s;
            }
        }
        static const char *const fields[4] = {"weight", "bias", "running_mean", "running_var"};
        float *v[4];
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "%s.%s", c->bn, fields[k]);
            if (!(v[k] = emit(o, name, 1, shape))) {
                free(bias);
                return rn_fail(im->err, RESNET_E_NOMEM, "%s: out of memory", im->path);
            }
        }
        if (c->bn_node != SIZE_MAX) {
            const rn_onnx_node *bn = &im->m->nodes[c->bn_node];
            for (int k = 0; k < 4 && s == RESNET_OK; k++) s = rn_onnx_read_f32(im->m, const_of(im, bn->in[k + 1]), v[k], co, im->err);
            for (size_t j = 0; bias && j < co; j++) v[2][j] -= bias[j]; /* BN(conv + b) = BN with mean - b */
        } else {
            for (size_t j = 0; j < co; j++) {
                v[0][j] = 1.0f;
                v[1][j] = bias ? bias[j] : 0.0f;
                v[2][j] = 0.0f;
                v[3][j] = 1.0f - eps;
            }
        }
        free(bias);
        if (s != RESNET_OK) return s;
    }
    if (im->classes == 0) return RESNET_OK; /* a backbone: no fc */
    /* fc: weight [classes, features] */
    const int64_t ws[2] = {im->classes, im->features}, bs[1] = {im->classes};
    const size_t n = (size_t)im->classes * (size_t)im->features;
    float *w = emit(o, "fc.weight", 2, ws), *b = emit(o, "fc.bias", 1, bs);
    if (!w || !b) return rn_fail(im->err, RESNET_E_NOMEM, "%s: out of memory", im->path);
    if ((s = rn_onnx_read_f32(im->m, im->fc_w, w, n, im->err)) != RESNET_OK) return s;
    if ((s = rn_onnx_read_f32(im->m, im->fc_b, b, (size_t)im->classes, im->err)) != RESNET_OK) return s;
    if (!im->fc_trans) { /* [features, classes] -> [classes, features] */
        float *t = malloc(n * sizeof *t);
        if (!t) return rn_fail(im->err, RESNET_E_NOMEM, "%s: out of memory", im->path);
        for (size_t i = 0; i < (size_t)im->features; i++)
            for (size_t j = 0; j < (size_t)im->classes; j++) t[j * (size_t)im->features + i] = w[i * (size_t)im->classes + j];
        memcpy(w, t, n * sizeof *t);
        free(t);
    }
    return RESNET_OK;
}

// ---------------------------------------------------------------------------------------
// labels

/* One name a line (a last newline and CRs dropped), as the model loader reads --labels,
 * into a JSON array of strings. */
static resnet_status labels_json(const char *path, int classes, char **json, resnet_error *err) {
    char *text = NULL;
    size_t len = 0;
    resnet_status s = rn_read_file(path, (size_t)1 << 24, &text, &len, err);
    if (s != RESNET_OK) return s;
    /* a byte-order mark (Windows' Notepad) is no part of name 0: skipped, as --labels and
     * `resnet label` skip it, or the name would print unseen and match no class folder */
    const size_t bom = rn_utf8_bom(text, len);
    /* a NUL is valid UTF-8, but the loader reads no name holding one (JSON's \u0000): the
     * file written would load nowhere. Refused here as the loader refuses it in --labels. */
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int line = 1;
        for (const char *c = text; c < nul; c++) line += *c == '\n';
        free(text);
        return rn_fail(err, RESNET_E_ARG, "%s: line %d holds a NUL byte: not a text file (UTF-16? save it as UTF-8)",
                       path, line);
    }
    if (!rn_utf8_valid(text, len)) {
        free(text);
        return rn_fail(err, RESNET_E_ARG, "%s: not UTF-8 text", path);
    }
    if (len && text[len - 1] == '\n') text[--len] = '\0';
    if (len && text[len - 1] == '\r') text[--len] = '\0';
    /* the names, cut out of the text in place (each line's newline and CR become its end) */
    const char **names = malloc(((len - (len > bom ? bom : len)) / 2 + 1) * sizeof *names);
    if (!names) {
        free(text);
        return rn_fail(err, RESNET_E_NOMEM, "out of memory reading %s", path);
    }
    int n = 0;
    for (char *p = text + bom; len > bom;) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        char *e = nl ? nl : text + len;
        if (e > p && e[-1] == '\r') e--;
        if (e == p) {
            s = rn_fail(err, RESNET_E_ARG, "%s: name %d (line %d) is empty", path, n, n + 1);
            break;
        }
        *e = '\0';
        names[n++] = p;
        if (!nl) break;
        p = nl + 1;
    }
    if (s == RESNET_OK && n != classes)
        s = rn_fail(err, RESNET_E_ARG, "%s has %d names, the network has %d classes", path, n, classes);
    char *j = NULL;
    if (s == RESNET_OK && !(j = rn_json_string_array(names, (size_t)n)))
        s = rn_fail(err, RESNET_E_NOMEM, "out of memory reading %s", path);
    free(names);
    free(text);
    if (s != RESNET_OK) return s;
    *json = j;
    return RESNET_OK;
}

/* The names `resnet export` recorded (metadata_props RN_ONNX_LABELS_KEY: a JSON array of
 * strings), checked as the loader checks a file's labels metadata, into *json written afresh.
 * Damaged, they are refused rather than dropped: the network would come back naming its
 * classes by number or by ImageNet's names, and nothing would say why. */
static resnet_status labels_from_graph(const char *path, const char *text, int classes, char **json,
                                       resnet_error *err) {
    char msg[160];
    rn_json_doc *doc = NULL;
    const int rc = rn_json_parse(text, strlen(text), NULL, &doc, msg, sizeof msg);
    if (rc == -2) return rn_fail(err, RESNET_E_NOMEM, "out of memory reading %s", path);
    if (rc != 0)
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: its " RN_ONNX_LABELS_KEY " metadata is not valid JSON: %s (--labels FILE "
                       "names the classes instead)", path, msg);
    const rn_json *root = rn_json_root(doc);
    const size_t n = rn_json_count(root);
    const char **names = malloc((n ? n : 1) * sizeof *names);
    resnet_status s = RESNET_OK;
    if (!names) s = rn_fail(err, RESNET_E_NOMEM, "out of memory reading %s", path);
    else if (!rn_json_is(root, RN_JSON_ARRAY))
        s = rn_fail(err, RESNET_E_WEIGHTS, "%s: its " RN_ONNX_LABELS_KEY " metadata is a JSON %s, not an array of names", path,
                    rn_json_type_name(root->type));
    else if (classes == 0)
        s = rn_fail(err, RESNET_E_WEIGHTS, "%s: its " RN_ONNX_LABELS_KEY " metadata names classes, but the network is a "
                    "backbone (no fc): it has none", path);
    else if (n != (size_t)classes)
        s = rn_fail(err, RESNET_E_WEIGHTS, "%s: its " RN_ONNX_LABELS_KEY " metadata has %zu names, the network has %d classes "
                    "(--labels FILE names them instead)", path, n, classes);
    for (size_t i = 0; s == RESNET_OK && i < n; i++) {
        names[i] = rn_json_string(rn_json_at(root, i), NULL);
        if (!names[i] || !names[i][0])
            s = rn_fail(err, RESNET_E_WEIGHTS, "%s: its " RN_ONNX_LABELS_KEY " metadata: entry %zu is not a name%s", path, i,
                        names[i] ? " (empty)" : "");
        /* the loader keeps names one a line: a line feed would split one name in two, and a
         * CR that ends one would be dropped as a CRLF file's is */
        else if (strchr(names[i], '\n') || names[i][strlen(names[i]) - 1] == '\r')
            s = rn_fail(err, RESNET_E_WEIGHTS, "%s: its " RN_ONNX_LABELS_KEY " metadata: name %zu holds a line break", path, i);
    }
    if (s == RESNET_OK && !(*json = rn_json_string_array(names, n)))
        s = rn_fail(err, RESNET_E_NOMEM, "out of memory reading %s", path);
    free(names);
    rn_json_free(doc);
    return s;
}

// ---------------------------------------------------------------------------------------

static void imp_free(imp *im) {
    free(im->prod);
    free(im->uses);
    free(im->inits);
    free(im->visited);
    free(im->ins);
    free(im->convs);
}

/* The shortest "%g" that reads back as the float v (1e-05, not 9.99999975e-06), with a '.'
 * whatever the locale says. */
static void format_float(float v, char *buf, size_t n) {
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, n, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    const char *dp = localeconv()->decimal_point;
    if (!dp || !dp[0] || strcmp(dp, ".") == 0) return;
    char *hit = strstr(buf, dp);
    if (hit) {
        size_t dl = strlen(dp);
        *hit = '.';
        memmove(hit + 1, hit + dl, strlen(hit + dl) + 1);
    }
}

resnet_status resnet_import_onnx(const char *model_path, const char *out_path, resnet_norm norm, const char *labels_path,
                                 resnet_error *err) {
    resnet_error local;
    if (!err) err = &local;
    if (!model_path || !out_path) return rn_fail(err, RESNET_E_ARG, "resnet_import_onnx: no model or output path");
    if (norm != RESNET_NORM_CAFFE && norm != RESNET_NORM_TORCH && norm != RESNET_NORM_FILE)
        return rn_fail(err, RESNET_E_ARG, "resnet_import_onnx: unknown normalization %d", (int)norm);
    rn_file_id out_id, in_id;
    if (rn_file_id_of(out_path, &out_id)) {
        resnet_status cs = rn_output_check(out_path, RN_KIND_SAFETENSORS, 1, NULL, 0, err);
        if (cs == RESNET_OK && rn_file_id_of(model_path, &in_id) && rn_file_id_equal(&in_id, &out_id))
            cs = rn_fail(err, RESNET_E_ARG, "%s is the model being imported; refusing to overwrite it", out_path);
        if (cs == RESNET_OK && labels_path && rn_file_id_of(labels_path, &in_id) && rn_file_id_equal(&in_id, &out_id))
            cs = rn_fail(err, RESNET_E_ARG, "%s is the labels file being read; refusing to overwrite it", out_path);
        if (cs != RESNET_OK) return cs;
    }
    rn_onnx_model *m = NULL;
    resnet_status s = rn_onnx_open(model_path, &m, err);
    if (s != RESNET_OK) return s;
    imp im;
    memset(&im, 0, sizeof im);
    im.m = m;
    im.path = model_path;
    im.err = err;
    out_list o = {0};
    char *labels = NULL;
    if (norm == RESNET_NORM_FILE) { /* the file's word, torch (torchvision's) when it has none */
        if (!m->norm || strcmp(m->norm, "torch") == 0) norm = RESNET_NORM_TORCH;
        else if (strcmp(m->norm, "caffe") == 0) norm = RESNET_NORM_CAFFE;
        else s = rn_fail(err, RESNET_E_UNSUPPORTED, "%s: its " RN_ONNX_NORM_KEY " metadata is neither caffe nor torch (give --norm)",
                         model_path);
    }
    if (s == RESNET_OK && (m->opset < ONNX_MIN_OPSET || m->opset > ONNX_MAX_OPSET))
        s = rn_fail(err, RESNET_E_UNSUPPORTED, "%s: opset %" PRId64 " of the default domain; opsets %d to %d are read",
                    model_path, m->opset, ONNX_MIN_OPSET, ONNX_MAX_OPSET);
    if (s == RESNET_OK) s = index_graph(&im);
    if (s == RESNET_OK) s = walk(&im);
    for (size_t i = 0; s == RESNET_OK && i < m->n_nodes; i++)
        if (!im.visited[i]) s = node_fail(&im, i, "it is not on the network's path");
    if (s == RESNET_OK) s = write_convs(&im, &o);
    if (s == RESNET_OK) s = rn_st_check_finite(o.e, o.n, model_path, err);
    /* an external data file named as the output would be replaced while read: refuse it */
    if (s == RESNET_OK && rn_file_id_of(out_path, &out_id)) {
        for (size_t i = 0; i < m->n_inits && s == RESNET_OK; i++) {
            const rn_onnx_tensor *t = &m->inits[i];
            if (!t->external) continue;
            const char *slash = strrchr(model_path, '/');
            char *dir = slash ? strndup(model_path, (size_t)(slash - model_path + 1)) : strdup("");
            char *full = dir ? rn_path_join(dir, t->location) : NULL;
            if (full && rn_file_id_of(full, &in_id) && rn_file_id_equal(&in_id, &out_id))
                s = rn_fail(err, RESNET_E_ARG, "%s is the external data of the model being imported; refusing to overwrite it",
                            out_path);
            free(dir);
            free(full);
        }
    }
    /* --labels wins over the graph's names, which are then not read: the way past a damaged entry */
    if (s == RESNET_OK && labels_path) s = labels_json(labels_path, im.classes, &labels, err);
    else if (s == RESNET_OK && m->labels) s = labels_from_graph(model_path, m->labels, im.classes, &labels, err);
    if (s == RESNET_OK) {
        char eps_s[40], os_s[16], size_s[16], src[160], prod[64];
        snprintf(src, sizeof src, "onnx from %s%s", m->producer && m->producer[0] ? rn_printable(m->producer, prod, sizeof prod)
                                                                               : "an unnamed producer",
                 im.sigmoid ? RN_ONNX_SIGMOID_NOTE : "");
        format_float(im.have_eps ? im.eps : ONNX_DEFAULT_EPS, eps_s, sizeof eps_s);
        snprintf(os_s, sizeof os_s, "%d", im.output_stride);
        const char *keys[7] = {"variant", "normalization", "bn_eps", "source"};
        const char *vals[7] = {im.variant_v1 ? "v1" : "v1.5", norm == RESNET_NORM_CAFFE ? "caffe" : "torch", eps_s,
                               src};
        size_t nm = 4;
        if (im.output_stride != 32) {
            keys[nm] = "output_stride";
            vals[nm++] = os_s;
        }
        if (im.input_size && im.input_size != 224) {
            snprintf(size_s, sizeof size_s, "%d", im.input_size);
            keys[nm] = "input_size";
            vals[nm++] = size_s;
        }
        if (labels) {
            keys[nm] = "labels";
            vals[nm++] = labels;
        }
        s = rn_st_write(out_path, o.e, o.n, keys, vals, nm, err);
    }
    free(labels);
    out_free(&o);
    imp_free(&im);
    rn_onnx_close(m);
    return s;
}
