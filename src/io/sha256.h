/* sha256.h - SHA-256 (FIPS 180-4) of a file, for recording which fp32 weights an int8 file
 * was quantized from (internal). */
#ifndef RN_SHA256_H
#define RN_SHA256_H

#include <stddef.h>
#include <stdint.h>
#include "resnet.h"

typedef struct rn_sha256 {
    uint32_t h[8];
    uint64_t bytes;
    unsigned char block[64];
    size_t used;
} rn_sha256;

void rn_sha256_init(rn_sha256 *c);
void rn_sha256_update(rn_sha256 *c, const void *data, size_t n);
void rn_sha256_final(rn_sha256 *c, unsigned char digest[32]);

/* The digest of the file at path as 64 lowercase hex digits (+ NUL) in hex. */
resnet_status rn_sha256_file(const char *path, char hex[65], resnet_error *err);

#endif
