/* pbwrite.c - the protocol buffer wire format, written (pbwrite.h). */
#include "io/pbwrite.h"

#include <stdlib.h>
#include <string.h>

void rn_pb_free(rn_pb *pb) {
    free(pb->data);
    memset(pb, 0, sizeof *pb);
}

static void put(rn_pb *pb, const void *p, size_t n) {
    if (pb->failed) return;
    if (n > SIZE_MAX / 2 - pb->len) {
        pb->failed = 1;
        return;
    }
    if (pb->len + n > pb->cap) {
        size_t cap = pb->cap ? pb->cap : 256;
        while (cap < pb->len + n) cap *= 2;
        unsigned char *d = realloc(pb->data, cap);
        if (!d) {
            pb->failed = 1;
            return;
        }
        pb->data = d;
        pb->cap = cap;
    }
    if (n) memcpy(pb->data + pb->len, p, n);
    pb->len += n;
}

static void varint(rn_pb *pb, uint64_t v) {
    unsigned char b[10];
    int n = 0;
    do {
        b[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) b[n] |= 0x80;
        n++;
    } while (v);
    put(pb, b, (size_t)n);
}

static void tag(rn_pb *pb, int field, int wire) { varint(pb, ((uint64_t)field << 3) | (uint64_t)wire); }

void rn_pb_varint_field(rn_pb *pb, int field, uint64_t v) {
    tag(pb, field, 0);
    varint(pb, v);
}

void rn_pb_float_field(rn_pb *pb, int field, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
    tag(pb, field, 5);
    put(pb, b, 4);
}

void rn_pb_bytes_field(rn_pb *pb, int field, const void *p, size_t n) {
    tag(pb, field, 2);
    varint(pb, n);
    put(pb, p, n);
}

void rn_pb_string_field(rn_pb *pb, int field, const char *s) { rn_pb_bytes_field(pb, field, s, strlen(s)); }

void rn_pb_message_field(rn_pb *pb, int field, rn_pb *msg) {
    if (msg->failed) pb->failed = 1;
    else rn_pb_bytes_field(pb, field, msg->data, msg->len);
    rn_pb_free(msg);
}
