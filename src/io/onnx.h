/* onnx.h - reads an ONNX model (ModelProto) into plain structs (internal).
 *
 * What the ResNet recogniser needs and no more: the default domain's opset, the graph's nodes
 * (op_type, name, inputs, outputs; attributes of type INT, FLOAT, INTS, FLOATS, STRING and
 * TENSOR), its initializers (TensorProto: dims, data_type, and where the data is: raw_data,
 * float_data / int64_data, or an external data file beside the model) and the names of its
 * inputs and outputs. Built on io/protobuf.h; the file is mapped, not read, so a model of any
 * size costs only the pages of the tensors that are copied out.
 *
 * Every error is one line naming the file and, where there is one, the node or tensor. */
#ifndef RN_ONNX_H
#define RN_ONNX_H

#include <stddef.h>
#include <stdint.h>
#include "resnet.h"

enum { RN_ONNX_MAX_DIMS = 8 };
enum { RN_ONNX_FLOAT = 1, RN_ONNX_INT32 = 6, RN_ONNX_INT64 = 7 }; /* TensorProto.DataType */
enum { RN_ONNX_ATTR_FLOAT = 1, RN_ONNX_ATTR_INT = 2, RN_ONNX_ATTR_STRING = 3, RN_ONNX_ATTR_TENSOR = 4,
       RN_ONNX_ATTR_FLOATS = 6, RN_ONNX_ATTR_INTS = 7 }; /* AttributeProto.AttributeType */

typedef struct rn_onnx_tensor {
    char *name;
    int data_type;
    int ndim;
    int64_t dims[RN_ONNX_MAX_DIMS];
    /* exactly one of these holds the data (or none: an empty tensor) */
    const uint8_t *raw;  /* raw_data, little-endian, inside the mapping */
    size_t raw_len;
    float *floats;       /* float_data, copied */
    int64_t *ints;       /* int64_data / int32_data, copied */
    size_t n_vals;       /* elements in floats or ints */
    char *location;      /* external data: file name relative to the model, offset, length */
    int64_t ext_offset, ext_length; /* length -1 when not given */
    int external;
} rn_onnx_tensor;

typedef struct rn_onnx_attr {
    char *name;
    int type;
    int64_t i;
    float f;
    char *s;
    int64_t *ints;
    size_t n_ints;
    float *floats;
    size_t n_floats;
    rn_onnx_tensor *t;
} rn_onnx_attr;

typedef struct rn_onnx_node {
    char *name, *op, *domain;
    char **in, **out; /* "" for an optional input left out */
    size_t n_in, n_out;
    rn_onnx_attr *attrs;
    size_t n_attrs;
} rn_onnx_node;

/* The metadata_props key under which `resnet export` records the input normalisation (the
 * names --norm takes), and which `resnet import` reads. */
#define RN_ONNX_NORM_KEY "resnet.norm"
/* ... and the class names, when the network has its own: a JSON array of strings, as the
 * safetensors "labels" metadata holds them. */
#define RN_ONNX_LABELS_KEY "resnet.labels"
/* What resnet_import_onnx appends to the "source" metadata when it left out a Sigmoid after a
 * one-output fc (the engine reads one output through a sigmoid), for `resnet import` to say so. */
#define RN_ONNX_SIGMOID_NOTE ", its Sigmoid after the fc left out"

typedef struct rn_onnx_model {
    const char *path;
    int64_t ir_version, opset; /* opset: the default domain's ("" or "ai.onnx"); 0 if none */
    char *producer;
    const char *norm; /* metadata_props' RN_ONNX_NORM_KEY ("caffe", "torch" or whatever it says); NULL if none */
    const char *labels; /* metadata_props' RN_ONNX_LABELS_KEY as written (unchecked); NULL if none */
    rn_onnx_node *nodes;
    size_t n_nodes;
    rn_onnx_tensor *inits;
    size_t n_inits;
    char **inputs, **outputs;
    size_t n_inputs, n_outputs;
    /* each input's shape as its ValueInfoProto gives it: input_rank[i] dims (-1: no shape
     * given), input_dims[i][d] the size of dim d, -1 for a named (dim_param) or missing one */
    int *input_rank;
    int64_t (*input_dims)[RN_ONNX_MAX_DIMS];
    void *map;   /* the mapped file (NULL for a model read from memory) */
    size_t map_size;
    void *ext;   /* external data files mapped so far (onnx.c) */
} rn_onnx_model;

/* Maps and parses path. */
resnet_status rn_onnx_open(const char *path, rn_onnx_model **out, resnet_error *err);
/* The same on bytes in memory (kept until rn_onnx_close); external data is looked for beside
 * `path`, which also names the model in messages. The fuzz harness's way in. */
resnet_status rn_onnx_open_memory(const void *data, size_t size, const char *path, rn_onnx_model **out,
                                  resnet_error *err);
void rn_onnx_close(rn_onnx_model *m);

/* The attribute called name, or NULL. */
const rn_onnx_attr *rn_onnx_attr_get(const rn_onnx_node *n, const char *name);

/* Elements of t (product of dims; 0 for a scalar's empty dims is 1); -1 if a dim is negative
 * or the product overflows. */
int64_t rn_onnx_numel(const rn_onnx_tensor *t);

/* Copies a FLOAT tensor's n values into dst as float32 (n must equal its element count),
 * checking that its data is all there: raw_data of exactly n * 4 bytes, n float_data, or an
 * external file beside the model holding offset + n * 4 bytes (a file name without "..",
 * not absolute). */
resnet_status rn_onnx_read_f32(rn_onnx_model *m, const rn_onnx_tensor *t, float *dst, size_t n, resnet_error *err);
/* rn_onnx_read_f32's checks alone (nothing copied): before allocating for a tensor whose
 * shape the file claims. */
resnet_status rn_onnx_check_f32(rn_onnx_model *m, const rn_onnx_tensor *t, size_t n, resnet_error *err);
/* The same for an INT64 (or INT32) tensor, as int64 (shape operands of Reshape). */
resnet_status rn_onnx_read_i64(rn_onnx_model *m, const rn_onnx_tensor *t, int64_t *dst, size_t n, resnet_error *err);

#endif
