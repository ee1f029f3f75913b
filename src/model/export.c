/* export.c - the loaded network as a plain ONNX graph (resnet_export_onnx, `resnet export`):
 * the layer list (arch.h) node by node, each convolution with its batch norm folded in as the
 * loader folds it: Conv (+ Add of the shortcut) + Relu, MaxPool, GlobalAveragePool, Flatten and
 * Gemm, fp32 initializers in raw_data. The input is named and shaped as torchvision's export
 * ("input", N x 3 x S x S) and normalised as the file says (resnet_model_norm); the output is
 * "logits", N x classes. metadata_props records the normalisation and the network's own class
 * names, which `resnet import` reads back. Written from the ONNX specification's onnx.proto field numbers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "io/atomic.h"
#include "io/fileio.h"
#include "io/json.h"
#include "io/onnx.h"
#include "io/pbwrite.h"
#include "io/safetensors.h"
#include "model/resnet50.h"

/* onnx.proto: field numbers and enums used here */
enum {
    MODEL_IR_VERSION = 1, MODEL_PRODUCER_NAME = 2, MODEL_PRODUCER_VERSION = 3, MODEL_GRAPH = 7,
    MODEL_OPSET_IMPORT = 8, MODEL_METADATA_PROPS = 14, ENTRY_KEY = 1, ENTRY_VALUE = 2,
    OPSET_DOMAIN = 1, OPSET_VERSION = 2,
    GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INITIALIZER = 5, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12,
    NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5,
    ATTR_NAME = 1, ATTR_I = 3, ATTR_INTS = 8, ATTR_TYPE = 20, ATTR_TYPE_INT = 2, ATTR_TYPE_INTS = 7,
    TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9, TENSOR_FLOAT = 1,
    VALUE_NAME = 1, VALUE_TYPE = 2, TYPE_TENSOR = 1, TYPE_ELEM = 1, TYPE_SHAPE = 2, SHAPE_DIM = 1,
    DIM_VALUE = 1, DIM_PARAM = 2
};

/* The IR version that goes with an opset (the ONNX versioning table). */
static int ir_version(int opset) { return opset <= 11 ? 6 : opset <= 14 ? 7 : 8; }

static void attr_int(rn_pb *node, const char *name, int64_t v) {
    rn_pb a = {0};
    rn_pb_string_field(&a, ATTR_NAME, name);
    rn_pb_varint_field(&a, ATTR_I, (uint64_t)v);
    rn_pb_varint_field(&a, ATTR_TYPE, ATTR_TYPE_INT);
    rn_pb_message_field(node, NODE_ATTRIBUTE, &a);
}

static void attr_ints(rn_pb *node, const char *name, const int64_t *v, int n) {
    rn_pb a = {0};
    rn_pb_string_field(&a, ATTR_NAME, name);
    for (int i = 0; i < n; i++) rn_pb_varint_field(&a, ATTR_INTS, (uint64_t)v[i]);
    rn_pb_varint_field(&a, ATTR_TYPE, ATTR_TYPE_INTS);
    rn_pb_message_field(node, NODE_ATTRIBUTE, &a);
}

/* A node of op with up to 3 inputs (NULL: fewer) and one output; *attrs added by the caller. */
static rn_pb node_begin(const char *op, const char *name, const char *in0, const char *in1, const char *in2,
                        const char *out) {
    rn_pb n = {0};
    const char *in[3] = {in0, in1, in2};
    for (int i = 0; i < 3 && in[i]; i++) rn_pb_string_field(&n, NODE_INPUT, in[i]);
    rn_pb_string_field(&n, NODE_OUTPUT, out);
    rn_pb_string_field(&n, NODE_NAME, name);
    rn_pb_string_field(&n, NODE_OP_TYPE, op);
    return n;
}

static void tensor(rn_pb *graph, const char *name, const int64_t *dims, int nd, const float *v) {
    rn_pb t = {0};
    size_t count = 1;
    for (int i = 0; i < nd; i++) {
        rn_pb_varint_field(&t, TENSOR_DIMS, (uint64_t)dims[i]);
        count *= (size_t)dims[i];
    }
    rn_pb_varint_field(&t, TENSOR_DATA_TYPE, TENSOR_FLOAT);
    rn_pb_string_field(&t, TENSOR_NAME, name);
    if (rn_host_is_le()) {
        rn_pb_bytes_field(&t, TENSOR_RAW_DATA, v, count * sizeof(float));
    } else { /* raw_data is little-endian */
        unsigned char *le = malloc(count * 4 + 1);
        if (!le) t.failed = 1;
        for (size_t i = 0; le && i < count; i++) {
            uint32_t u;
            memcpy(&u, &v[i], 4);
            for (int b = 0; b < 4; b++) le[4 * i + b] = (unsigned char)(u >> (8 * b));
        }
        if (le) rn_pb_bytes_field(&t, TENSOR_RAW_DATA, le, count * 4);
        free(le);
    }
    rn_pb_message_field(graph, GRAPH_INITIALIZER, &t);
}

/* A graph input or output: float, [N (a symbolic batch), dims...]. */
static void value_info(rn_pb *graph, int field, const char *name, const int64_t *dims, int nd) {
    rn_pb shape = {0}, tt = {0}, type = {0}, v = {0}, d = {0};
    rn_pb_string_field(&d, DIM_PARAM, "N");
    rn_pb_message_field(&shape, SHAPE_DIM, &d);
    for (int i = 0; i < nd; i++) {
        rn_pb_varint_field(&d, DIM_VALUE, (uint64_t)dims[i]);
        rn_pb_message_field(&shape, SHAPE_DIM, &d);
    }
    rn_pb_varint_field(&tt, TYPE_ELEM, TENSOR_FLOAT);
    rn_pb_message_field(&tt, TYPE_SHAPE, &shape);
    rn_pb_message_field(&type, TYPE_TENSOR, &tt);
    rn_pb_string_field(&v, VALUE_NAME, name);
    rn_pb_message_field(&v, VALUE_TYPE, &type);
    rn_pb_message_field(graph, field, &v);
}

/* Layer l's nodes and initializers: Conv, then Add (the shortcut) and Relu as it has them.
 * cur[] names the value each activation buffer holds; the layer's output replaces its own. */
static resnet_status conv_nodes(rn_pb *graph, const resnet_model *m, const rn_safetensors *st, const char *path,
                                const rn_layer *l, char (*cur)[96], resnet_error *err) {
    float *w = NULL, *b = NULL;
    resnet_status s = rn_weights_fold(st, path, m->bn_eps, l->conv, l->bn, l->cin / l->groups, l->cout, l->k, &w,
                                      &b, err);
    if (s != RESNET_OK) return s;
    char wname[96], bname[96], out[96];
    snprintf(wname, sizeof wname, "%s.weight", l->conv);
    snprintf(bname, sizeof bname, "%s.bias", l->conv);
    const int64_t wd[4] = {l->cout, l->cin / l->groups, l->k, l->k}, bd[1] = {l->cout};
    tensor(graph, wname, wd, 4, w);
    tensor(graph, bname, bd, 1, b);
    rn_aligned_free(w);
    free(b);
    snprintf(out, sizeof out, "%s", l->name);
    rn_pb n = node_begin("Conv", l->name, cur[l->in], wname, bname, out);
    const int64_t k[2] = {l->k, l->k}, st2[2] = {l->stride, l->stride}, d[2] = {l->dilation, l->dilation};
    const int64_t pads[4] = {l->pad, l->pad, l->pad, l->pad};
    attr_ints(&n, "kernel_shape", k, 2);
    attr_ints(&n, "strides", st2, 2);
    attr_ints(&n, "pads", pads, 4);
    attr_ints(&n, "dilations", d, 2);
    attr_int(&n, "group", l->groups);
    rn_pb_message_field(graph, GRAPH_NODE, &n);
    if (l->res >= 0) {
        char sum[96], name[96];
        snprintf(sum, sizeof sum, "%s.add", l->name);
        snprintf(name, sizeof name, "%s.add", l->name);
        n = node_begin("Add", name, out, cur[l->res], NULL, sum);
        rn_pb_message_field(graph, GRAPH_NODE, &n);
        snprintf(out, sizeof out, "%s", sum);
    }
    if (l->relu) {
        char r[96];
        snprintf(r, sizeof r, "%s.relu", l->name);
        n = node_begin("Relu", r, out, NULL, NULL, r);
        rn_pb_message_field(graph, GRAPH_NODE, &n);
        snprintf(out, sizeof out, "%s", r);
    }
    snprintf(cur[l->out], sizeof cur[l->out], "%s", out);
    return RESNET_OK;
}

static resnet_status fc_nodes(rn_pb *graph, const resnet_model *m, const rn_safetensors *st, const char *path,
                              const rn_layer *l, const char *in, resnet_error *err) {
    const rn_tensor *tw = rn_st_find(st, "fc.weight"), *tb = rn_st_find(st, "fc.bias");
    const size_t n = (size_t)l->cout * l->cin;
    float *w = malloc(n * sizeof(float)), *b = malloc((size_t)l->cout * sizeof(float));
    resnet_status s = !w || !b ? rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", path) : RESNET_OK;
    if (s == RESNET_OK) s = rn_st_read_f32(st, tw, w, err); /* the loader checked both shapes */
    if (s == RESNET_OK) s = rn_st_read_f32(st, tb, b, err);
    if (s == RESNET_OK) {
        const int64_t wd[2] = {l->cout, l->cin}, bd[1] = {l->cout};
        tensor(graph, "fc.weight", wd, 2, w);
        tensor(graph, "fc.bias", bd, 1, b);
        rn_pb g = node_begin("Gemm", "fc", in, "fc.weight", "fc.bias", "logits");
        attr_int(&g, "transB", 1);
        rn_pb_message_field(graph, GRAPH_NODE, &g);
    }
    (void)m;
    free(w);
    free(b);
    return s;
}

resnet_status resnet_export_onnx(const char *weights, const resnet_load_options *opts, const char *out_path,
                                 int opset, resnet_error *err) {
    if (!weights || !out_path) return rn_fail(err, RESNET_E_ARG, "resnet_export_onnx: NULL argument");
    if (opset < 11 || opset > 17)
        return rn_fail(err, RESNET_E_ARG, "opset must be between 11 and 17, got %d", opset);
    resnet_load_options o;
    resnet_load_options_init(&o);
    if (opts) { /* the shape options, and the labels: the kernels do not matter here */
        o.input_size = opts->size >= RN_FIELD_END(resnet_load_options, input_size) ? opts->input_size : 0;
        o.output_stride = opts->size >= RN_FIELD_END(resnet_load_options, output_stride) ? opts->output_stride : 0;
        /* the names go into the graph (for `resnet import`) as the file's own would: checked
         * against the network as every command checks them */
        o.labels = opts->size >= RN_FIELD_END(resnet_load_options, labels) ? opts->labels : NULL;
    }
    /* as resnet_convert_weights and the imports do: the graph must not replace what it is made
     * from (it did, atomically: the weight file became the ONNX model) */
    const char *input = rn_same_file(weights, out_path)                  ? weights
                        : o.labels && rn_same_file(o.labels, out_path) ? o.labels
                                                                       : NULL;
    if (input)
        return rn_fail(err, RESNET_E_ARG, "%s is %s being exported; refusing to overwrite it", out_path,
                       input == weights ? "the weight file" : "the labels file");
    o.kernels = RESNET_KERNELS_C;
    o.direct = 1;
    resnet_model *m = NULL;
    resnet_status s = resnet_model_load(weights, &o, &m, err);
    if (s != RESNET_OK) return s;
    rn_safetensors *st = NULL;
    if (m->int8) {
        resnet_model_free(m);
        return rn_fail(err, RESNET_E_UNSUPPORTED, "%s: an int8 file: export writes fp32 graphs (export the fp32 file)",
                       weights);
    }
    if ((s = rn_st_open(weights, &st, err)) != RESNET_OK) {
        resnet_model_free(m);
        return s;
    }
    const rn_net *net = &m->net;
    rn_pb graph = {0}, model = {0}, opsetp = {0}, meta = {0};
    char cur[RN_BUFFERS][96] = {"", "", "", ""};
    for (int i = 0; s == RESNET_OK && i < net->n; i++) {
        const rn_layer *l = &net->layers[i];
        rn_pb n;
        switch (l->kind) {
        case RN_L_INPUT: snprintf(cur[l->out], sizeof cur[l->out], "input"); break;
        case RN_L_CONV: s = conv_nodes(&graph, m, st, weights, l, cur, err); break;
        case RN_L_MAXPOOL: {
            n = node_begin("MaxPool", "maxpool", cur[l->in], NULL, NULL, "maxpool");
            const int64_t k[2] = {l->k, l->k}, st2[2] = {l->stride, l->stride}, p[4] = {l->pad, l->pad, l->pad, l->pad};
            attr_ints(&n, "kernel_shape", k, 2);
            attr_ints(&n, "strides", st2, 2);
            attr_ints(&n, "pads", p, 4);
            rn_pb_message_field(&graph, GRAPH_NODE, &n);
            snprintf(cur[l->out], sizeof cur[l->out], "maxpool");
            break;
        }
        case RN_L_AVGPOOL: { /* a backbone's graph ends here: its output is the features */
            const char *flat = net->a.classes ? "flatten" : "features";
            n = node_begin("GlobalAveragePool", "avgpool", cur[l->in], NULL, NULL, "avgpool");
            rn_pb_message_field(&graph, GRAPH_NODE, &n);
            n = node_begin("Flatten", "flatten", "avgpool", NULL, NULL, flat);
            attr_int(&n, "axis", 1);
            rn_pb_message_field(&graph, GRAPH_NODE, &n);
            snprintf(cur[l->out], sizeof cur[l->out], "%s", flat);
            break;
        }
        case RN_L_FC: s = fc_nodes(&graph, m, st, weights, l, cur[l->in], err); break;
        }
    }
    const int64_t in_dims[3] = {3, net->a.input_size, net->a.input_size},
                  out_dims[1] = {net->a.classes ? net->a.classes : net->a.features};
    rn_pb_string_field(&graph, GRAPH_NAME, m->arch_name);
    value_info(&graph, GRAPH_INPUT, "input", in_dims, 3);
    value_info(&graph, GRAPH_OUTPUT, net->a.classes ? "logits" : "features", out_dims, 1);
    rn_pb_varint_field(&model, MODEL_IR_VERSION, (uint64_t)ir_version(opset));
    rn_pb_string_field(&model, MODEL_PRODUCER_NAME, "resnet");
    rn_pb_string_field(&model, MODEL_PRODUCER_VERSION, RESNET_VERSION);
    rn_pb_message_field(&model, MODEL_GRAPH, &graph);
    rn_pb_string_field(&opsetp, OPSET_DOMAIN, "");
    rn_pb_varint_field(&opsetp, OPSET_VERSION, (uint64_t)opset);
    rn_pb_message_field(&model, MODEL_OPSET_IMPORT, &opsetp);
    /* the graph takes normalised input: the normalisation goes with it, for `resnet import` */
    rn_pb_string_field(&meta, ENTRY_KEY, RN_ONNX_NORM_KEY);
    rn_pb_string_field(&meta, ENTRY_VALUE, resnet_model_norm(m) == RESNET_NORM_TORCH ? "torch" : "caffe");
    rn_pb_message_field(&model, MODEL_METADATA_PROPS, &meta);
    /* the network's own class names (the file's, or --labels'), so that a fine-tuned network
     * comes back from `resnet import` with them; none for ImageNet's (import gives them back to
     * any 1000-class network) or a backbone */
    if (s == RESNET_OK && m->labels) {
        char *names = NULL;
        for (int i = 0; s == RESNET_OK && i < net->a.classes; i++)
            if (!rn_utf8_valid(m->labels[i], strlen(m->labels[i])))
                s = rn_fail(err, RESNET_E_ARG, "%s: name %d (line %d) is not UTF-8 text", o.labels ? o.labels : weights, i,
                            i + 1);
        if (s == RESNET_OK && !(names = rn_json_string_array((const char *const *)m->labels, (size_t)net->a.classes)))
            s = rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", out_path);
        if (s == RESNET_OK) {
            rn_pb_string_field(&meta, ENTRY_KEY, RN_ONNX_LABELS_KEY);
            rn_pb_string_field(&meta, ENTRY_VALUE, names);
            rn_pb_message_field(&model, MODEL_METADATA_PROPS, &meta);
        }
        free(names);
    }
    if (s == RESNET_OK && model.failed) s = rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", out_path);
    if (s == RESNET_OK) {
        rn_atomic_file af;
        char eb[128];
        if ((s = rn_atomic_open(&af, out_path, err)) == RESNET_OK) {
            if (rn_write_all(af.fd, model.data, model.len)) {
                s = rn_fail(err, RESNET_E_IO, "%s: write failed: %s", out_path, rn_errno_str(errno, eb, sizeof eb));
                rn_atomic_abort(&af);
            } else {
                s = rn_atomic_commit(&af, err);
            }
        }
    }
    rn_pb_free(&graph);
    rn_pb_free(&model);
    rn_st_close(st);
    resnet_model_free(m);
    return s;
}
