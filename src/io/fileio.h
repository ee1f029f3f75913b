/* fileio.h - small POSIX file helpers shared by the readers and writers in src/io (internal).
 * Every failing call fills *err with a one-line message that names the file. */
#ifndef RN_FILEIO_H
#define RN_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include "resnet.h"

/* strerror(errnum) into buf, thread-safe; returns buf. */
const char *rn_errno_str(int errnum, char *buf, size_t n);

/* Opens path read-only (never blocking on a FIFO) and checks that it is a regular file;
 * returns the descriptor (>= 0) and its size, or -1 with *err set (RESNET_E_IO). */
int rn_open_regular(const char *path, size_t *size, resnet_error *err);

/* Reads exactly n bytes from fd at its current position; the file being shorter is an
 * error (it changed under us). what names the file in messages. */
resnet_status rn_read_exact(int fd, void *buf, size_t n, const char *what, resnet_error *err);

/* Reads a whole regular file of at most max_size bytes into a malloc'd buffer with one
 * extra NUL byte after the data (not counted in *size). */
resnet_status rn_read_file(const char *path, size_t max_size, char **data, size_t *size, resnet_error *err);

/* What a whole-file reader expects, for its messages (rn_read_file_as): a directory "is a
 * directory, not <noun>"; an empty file ("empty file, not <noun>") and one over max_size
 * ("file too large (N bytes) for <noun>") fail with `status`. */
typedef struct rn_read_kind {
    const char *noun;     /* "an image" */
    resnet_status status; /* RESNET_E_IMAGE */
} rn_read_kind;

/* rn_read_file for a kind of file: kind NULL is rn_read_file (an empty file is read; too
 * large is RESNET_E_IO). Both refuse a file that shrinks or grows while being read. */
resnet_status rn_read_file_as(const char *path, size_t max_size, const rn_read_kind *kind, char **data, size_t *size,
                              resnet_error *err);

/* dir + "/" + name, malloc'd (NULL out of memory); no slash is added after an empty dir or
 * one that ends in '/'. */
char *rn_path_join(const char *dir, const char *name);

/* write() until all n bytes are out (retrying on EINTR); 0 or -1 with errno set. */
int rn_write_all(int fd, const void *buf, size_t n);

/* 1 on a little-endian host. */
int rn_host_is_le(void);

/* Copies a string for an error message: control characters become '?', and a string longer
 * than n - 1 bytes loses its middle to "..." (start and end kept: a path's file name stays),
 * so a hostile name cannot break the one-line rule. */
const char *rn_printable(const char *s, char *buf, size_t n);

/* 3 when text starts with a UTF-8 byte-order mark (Notepad, Excel's "UTF-8"), else 0: the bytes
 * to skip, so that the mark is not read as part of the first name, line or JSON value. */
size_t rn_utf8_bom(const void *text, size_t len);

/* What a weight file is, told from its first n bytes (9 are enough) and its size: the formats a
 * user hands --weights or `import` by mistake, so that the refusal can name them. */
typedef enum rn_weights_format {
    RN_WEIGHTS_UNKNOWN = 0,
    RN_WEIGHTS_SAFETENSORS, /* 8-byte little-endian header length within the file, then '{' */
    RN_WEIGHTS_PYTORCH,     /* torch.save's zip archive, or its legacy pickle (protocol 2, magic) */
    RN_WEIGHTS_ONNX         /* a ModelProto: ir_version, then producer, graph or opset */
} rn_weights_format;
rn_weights_format rn_weights_format_of(const unsigned char *b, size_t n, uint64_t size);

#endif
