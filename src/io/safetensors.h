/* safetensors.h - read (mmap) and write safetensors files (internal).
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"k": "v", ...}, "name": {"dtype": "F32", "shape": [..],
 *    "data_offsets": [begin, end]}, ...}
 * then the data block; offsets are relative to the data block. */
#ifndef RN_SAFETENSORS_H
#define RN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include "resnet.h"

typedef enum rn_dtype {
    RN_DT_F32, RN_DT_F16, RN_DT_BF16, RN_DT_F64,
    RN_DT_I64, RN_DT_I32, RN_DT_I16, RN_DT_I8, RN_DT_U8, RN_DT_BOOL
} rn_dtype;

#define RN_ST_MAX_DIMS 8

typedef struct rn_tensor {
    const char *name;
    rn_dtype dtype;
    int ndim;
    int64_t shape[RN_ST_MAX_DIMS];
    const void *data; /* points into the mapping; NOT necessarily aligned */
    size_t nbytes;    /* == element count * dtype size (checked at open) */
} rn_tensor;

typedef struct rn_safetensors rn_safetensors;

/* Maps and validates a whole file: header length within the file, JSON well formed,
 * every dtype known, shape x dtype size == data_offsets span, offsets inside the data
 * block, the tensors covering the data block exactly (no overlap, no gap, no bytes after
 * the last), no duplicate names. Errors name the file and the problem. */
resnet_status rn_st_open(const char *path, rn_safetensors **out, resnet_error *err);
/* The same checks on a file already in memory (size bytes at data, not copied: keep them
 * until rn_st_close). `name` stands for the path in messages. Used by the fuzz harness, where
 * the sanitizer then sees any read past the exact end of the input. */
resnet_status rn_st_open_memory(const void *data, size_t size, const char *name, rn_safetensors **out,
                                resnet_error *err);
void rn_st_close(rn_safetensors *st);
size_t rn_st_count(const rn_safetensors *st);
const rn_tensor *rn_st_tensor(const rn_safetensors *st, size_t i); /* in file data order */
const rn_tensor *rn_st_find(const rn_safetensors *st, const char *name); /* NULL if absent */
const char *rn_st_metadata(const rn_safetensors *st, const char *key);  /* NULL if absent */
const char *rn_st_path(const rn_safetensors *st);
/* The metadata's i-th key and string value in file order (0 when i is past the end or the
 * value is not a string): what a derived file copies. */
int rn_st_metadata_at(const rn_safetensors *st, size_t i, const char **key, const char **value);
/* What a file derived from st writes as its metadata: every entry of st's whose key is not one
 * of our n_ours keys, in file order, then ours; however many there are. New arrays in *keys and
 * *vals (free both; NULL on failure), *n entries. 0 when out of memory. */
int rn_st_metadata_merge(const rn_safetensors *st, const char *const *our_keys, const char *const *our_vals,
                         size_t n_ours, const char ***keys, const char ***vals, size_t *n);
size_t rn_dtype_size(rn_dtype t);
const char *rn_dtype_name(rn_dtype t); /* "F32", ... */

/* Drops the tensor's pages from memory (they are read again if touched): a loader that has
 * copied a tensor calls this so the whole file is never resident at once. */
void rn_st_release(const rn_safetensors *st, const rn_tensor *t);

/* Copies a tensor's values into dst as float32 (F32, F16, BF16, F64 accepted). */
resnet_status rn_st_read_f32(const rn_safetensors *st, const rn_tensor *t, float *dst, resnet_error *err);
/* Copies a tensor's t->nbytes bytes, as stored, into dst (an I8 tensor's values): read from
 * the file, as rn_st_read_f32 reads, so a file cut short meanwhile is an error, not a SIGBUS. */
resnet_status rn_st_read_bytes(const rn_safetensors *st, const rn_tensor *t, void *dst, resnet_error *err);
/* The same for len bytes from byte off of the tensor. */
resnet_status rn_st_read_range(const rn_safetensors *st, const rn_tensor *t, size_t off, size_t len, void *dst,
                               resnet_error *err);

typedef struct rn_st_entry {
    const char *name;
    int ndim;
    int64_t shape[RN_ST_MAX_DIMS];
    const float *data; /* float32 values, written as F32 */
} rn_st_entry;

/* RESNET_OK, or an error naming source, the tensor and the element if a value of entries is
 * NaN or infinite. The writers below write any value (the tests make broken files with them);
 * the importers check first, as no loader takes such weights. */
resnet_status rn_st_check_finite(const rn_st_entry *entries, size_t n, const char *source, resnet_error *err);
/* Writes a safetensors file of F32 tensors with string metadata (keys[i] = values[i]).
 * Atomic: writes PATH.tmp.<pid>.<n>.resnet beside it, fsyncs, then renames over PATH. */
resnet_status rn_st_write(const char *path, const rn_st_entry *entries, size_t n,
                          const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                          resnet_error *err);
/* The same, where i8[i] != NULL writes tensor i as I8 from those bytes (its data unused):
 * the int8 weight file. i8 may be NULL (all F32). */
resnet_status rn_st_write_i8(const char *path, const rn_st_entry *entries, const int8_t *const *i8, size_t n,
                             const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                             resnet_error *err);
/* The same with bf16[i] != NULL writing tensor i as BF16 from those values (the bf16 file). */
resnet_status rn_st_write_bf16(const char *path, const rn_st_entry *entries, const uint16_t *const *bf16, size_t n,
                               const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                               resnet_error *err);

/* A copy of st's tensors, bytes and dtypes as they are, under new metadata (keys[i] = values[i]),
 * written atomically to path. */
resnet_status rn_st_copy(const rn_safetensors *st, const char *path, const char *const *meta_keys,
                         const char *const *meta_values, size_t n_meta, resnet_error *err);

#endif
