/* protobuf.c - the wire-format reader (see protobuf.h). */
#include "io/protobuf.h"

void rn_pb_init(rn_pb *r, const void *p, size_t n) {
    r->p = p;
    r->end = r->p + n;
    r->depth = 0;
}

int rn_pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    const uint8_t *q = *p;
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (q >= end) return -1;
        uint8_t b = *q++;
        /* the 10th byte holds bit 63 only: more is an 11-byte (or overflowing) varint */
        if (i == 9 && b > 1) return -1;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            *p = q;
            return 0;
        }
    }
    return -1;
}

int rn_pb_next(rn_pb *r, rn_pb_field *f, const char **why) {
    if (r->p >= r->end) return 0;
    uint64_t key;
    if (rn_pb_varint(&r->p, r->end, &key) != 0) {
        *why = "a field key that is cut short or longer than 10 bytes";
        return -1;
    }
    if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff) {
        *why = "a field number out of range";
        return -1;
    }
    f->number = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    f->data = NULL;
    f->len = 0;
    f->v = 0;
    size_t left = (size_t)(r->end - r->p);
    switch (f->wire) {
    case 0:
        if (rn_pb_varint(&r->p, r->end, &f->v) != 0) {
            *why = "a varint that is cut short or longer than 10 bytes";
            return -1;
        }
        return 1;
    case 1:
    case 5: {
        size_t n = f->wire == 1 ? 8 : 4;
        if (left < n) {
            *why = "cut short (a fixed-size field past the end)";
            return -1;
        }
        for (size_t i = 0; i < n; i++) f->v |= (uint64_t)r->p[i] << (8 * i);
        r->p += n;
        return 1;
    }
    case 2: {
        uint64_t n;
        if (rn_pb_varint(&r->p, r->end, &n) != 0) {
            *why = "a length that is cut short or longer than 10 bytes";
            return -1;
        }
        if (n > (uint64_t)(r->end - r->p)) {
            *why = "a field length past the end";
            return -1;
        }
        f->data = r->p;
        f->len = (size_t)n;
        r->p += n;
        return 1;
    }
    default:
        *why = "a group or unknown wire type";
        return -1;
    }
}

int rn_pb_sub(const rn_pb *parent, const rn_pb_field *f, rn_pb *child, const char **why) {
    if (f->wire != 2) {
        *why = "a scalar where a message was expected";
        return -1;
    }
    if (parent->depth + 1 > RN_PB_MAX_DEPTH) {
        *why = "messages nested too deep";
        return -1;
    }
    rn_pb_init(child, f->data, f->len);
    child->depth = parent->depth + 1;
    return 0;
}

int rn_pb_packed_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    if (*p >= end) return 0;
    return rn_pb_varint(p, end, v) == 0 ? 1 : -1;
}
