/* protobuf.h - a small, bounds-checked protobuf wire-format reader (internal).
 *
 * Why our own and not protobuf-c: ONNX import reads a handful of fields of five messages
 * (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto). A reader of the wire
 * format is ~150 lines with no generated code, no build-time protoc-c, no allocation of its
 * own, and every byte it touches checked against the end of its buffer; protobuf-c would
 * unpack whole messages (copying every weight it holds) with a generated schema we would
 * have to keep in step with onnx.proto. Nothing here allocates, so a hostile file can only
 * make a call return an error.
 *
 * Wire format: a message is a sequence of fields, each a varint key (field number << 3 |
 * wire type) then a value: 0 varint, 1 fixed 8 bytes, 2 varint length + that many bytes
 * (strings, bytes, sub-messages, packed repeated scalars), 5 fixed 4 bytes. Wire types 3 and
 * 4 (groups) are deprecated and refused. */
#ifndef RN_PROTOBUF_H
#define RN_PROTOBUF_H

#include <stddef.h>
#include <stdint.h>

/* How deep rn_pb_sub may nest: ONNX needs 4 (model, graph, node, attribute, tensor). */
#define RN_PB_MAX_DEPTH 16

typedef struct rn_pb {
    const uint8_t *p, *end; /* what is left of the message */
    int depth;
} rn_pb;

typedef struct rn_pb_field {
    uint32_t number;
    int wire;              /* 0, 1, 2 or 5 */
    uint64_t v;            /* wire 0: the varint; 1 / 5: the little-endian bits */
    const uint8_t *data;   /* wire 2: the bytes (len of them, inside the buffer) */
    size_t len;
} rn_pb_field;

/* A reader over n bytes at p. */
void rn_pb_init(rn_pb *r, const void *p, size_t n);

/* Reads one varint at *p (at most 10 bytes, the 10th holding only bit 63) before end and
 * advances *p; 0 on success, -1 if cut short or too long. */
int rn_pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* The next field: 1 (f filled), 0 at the end of the message, -1 on malformed input with
 * *why set to a static phrase ("cut short", "a length past the end", ...). */
int rn_pb_next(rn_pb *r, rn_pb_field *f, const char **why);

/* A reader over a wire-2 field's bytes, one level deeper; -1 (why set) past RN_PB_MAX_DEPTH. */
int rn_pb_sub(const rn_pb *parent, const rn_pb_field *f, rn_pb *child, const char **why);

/* Repeated scalars arrive packed (one wire-2 field) or one field each: these count and read
 * both. rn_pb_packed_varint walks a packed field's varints: 1 (one read), 0 at its end, -1
 * if malformed. */
int rn_pb_packed_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);

#endif
