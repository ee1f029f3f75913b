/* pbwrite.h - writing protocol buffers (the wire format alone: varints, fixed 32-bit values,
 * length-delimited fields), for the ONNX export (internal). A message is built in a buffer;
 * a nested one is built in its own and appended as a length-delimited field. Allocation
 * failures are remembered (pb->failed) and checked once at the end. */
#ifndef RN_PBWRITE_H
#define RN_PBWRITE_H

#include <stddef.h>
#include <stdint.h>

typedef struct rn_pb {
    unsigned char *data;
    size_t len, cap;
    int failed;
} rn_pb;

void rn_pb_free(rn_pb *pb);
void rn_pb_varint_field(rn_pb *pb, int field, uint64_t v);     /* wire type 0 */
void rn_pb_float_field(rn_pb *pb, int field, float v);         /* wire type 5 */
void rn_pb_bytes_field(rn_pb *pb, int field, const void *p, size_t n); /* wire type 2 */
void rn_pb_string_field(rn_pb *pb, int field, const char *s);
/* Appends msg as field `field` (length-delimited) and frees it. */
void rn_pb_message_field(rn_pb *pb, int field, rn_pb *msg);

#endif
