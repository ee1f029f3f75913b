/* atomic.h - the one way the project writes a file (internal).
 *
 * Every output (weights, heads, PNG overlays, feature matrices, predictions, the feature
 * cache) is written to a temporary name in the same folder (PATH.tmp.<pid>.<n>.resnet), fsynced, renamed
 * over PATH and the folder fsynced, so a reader sees the old file or the whole new one, never
 * half of one. The temporary is removed on every error path; while it exists its name sits in
 * a fixed table that the handler of rn_atomic_catch_signals() unlinks on SIGINT, SIGTERM,
 * SIGHUP (and the other fatal signals a user meets) before dying of the signal as usual. Temporaries of processes killed outright
 * (kill -9, power loss) are removed by the next writer of the same PATH. */
#ifndef RN_ATOMIC_H
#define RN_ATOMIC_H

#include <stdio.h>
#include <sys/types.h>
#include "resnet.h"

typedef struct rn_atomic_file {
    int fd;      /* the temporary, open for writing; -1 once closed */
    FILE *fp;    /* set by rn_atomic_stdio */
    int slot;    /* its entry in the signal handler's table, -1 if none */
    char *path;  /* the final name */
    char *tmp;   /* the temporary name */
} rn_atomic_file;

/* Creates the temporary for path (after removing stale ones of dead processes). A path that
 * is itself a symbolic link is refused (RESNET_E_ARG), here and again at commit: the rename
 * would replace the link, not write the file it points to. */
resnet_status rn_atomic_open(rn_atomic_file *f, const char *path, resnet_error *err);
/* A stdio stream on the temporary (owned by f: closed by commit or abort). */
FILE *rn_atomic_stdio(rn_atomic_file *f, resnet_error *err);
/* Flushes, fsyncs, closes and renames into place, then fsyncs the folder. On any failure
 * the temporary is removed and *err says why; PATH is then untouched. */
resnet_status rn_atomic_commit(rn_atomic_file *f, resnet_error *err);
/* Closes and removes the temporary; PATH is untouched. Safe on a zeroed or closed f. */
void rn_atomic_abort(rn_atomic_file *f);

/* Installs the handler that removes live temporaries on SIGINT, SIGTERM, SIGHUP, SIGQUIT,
 * SIGPIPE, SIGXCPU and SIGALRM, then re-raises the signal with its default action; ignores
 * SIGXFSZ (a write past ulimit -f then fails with EFBIG, reported and cleaned up). A signal
 * the process ignores (nohup) stays ignored. For programs (the resnet tool); a library must
 * not take its host's signals. */
void rn_atomic_catch_signals(void);

/* ---- outputs never replace inputs ------------------------------------------------------------ */

/* Identity of a file: device and inode, the same by whatever path it is reached. */
typedef struct rn_file_id {
    dev_t dev;
    ino_t ino;
} rn_file_id;

/* 1 and *id filled if path exists (following symbolic links). */
int rn_file_id_of(const char *path, rn_file_id *id);
/* 1 and *id filled if fd is an open file. */
int rn_file_id_of_fd(int fd, rn_file_id *id);
/* 1 if a and b are the same file. */
int rn_file_id_equal(const rn_file_id *a, const rn_file_id *b);
/* 1 if paths a and b both exist and are the same file, however each is reached (links,
 * "./", another spelling); 0 if either is NULL or missing. */
int rn_same_file(const char *a, const char *b);
/* 1 if writing a and writing b would write one file: rn_same_file, or, where they do not
 * exist yet, the same name in the same folder however the folder is reached. */
int rn_same_output(const char *a, const char *b);

/* What a command writes, recognised by its first bytes: an existing output is replaced only
 * if it is empty or already of this kind (or force is set); anything else is refused, so a
 * typo in -o cannot destroy a photo, a document or a weight file of another kind. */
typedef enum rn_file_kind {
    RN_KIND_SAFETENSORS, /* 8-byte little-endian header length, then '{'; not a head */
    RN_KIND_HEAD,        /* safetensors with "format": "resnet-linear-head" (train-head) */
    RN_KIND_PNG,         /* a PNG that this library wrote (its Software text chunk) */
    RN_KIND_NPY,         /* "\x93NUMPY" */
    RN_KIND_F32,         /* raw float32 rows of any width, as embed writes them: none of the
                          * formats a photo or another output starts with, and every word
                          * sampled +-0 or a positive normal float below 2^64, not text */
    RN_KIND_PREDICTIONS, /* eval --predictions: starts with its header line */
    RN_KIND_ONNX,        /* an ONNX model that resnet export wrote (producer "resnet") */
    RN_KIND_REPORT       /* eval/classify --report: an HTML page starting with RN_REPORT_HEADER */
} rn_file_kind;

/* Refuses (RESNET_E_ARG, one line) when out is one of the n input identities, is a symbolic
 * link (dangling or not; a folder on the way may be one), is not a regular file, or is an
 * existing file of another kind (unless force). Nothing is written.
 * what names the output's role in the message ("output", "--predictions file"). */
resnet_status rn_output_check(const char *out, rn_file_kind kind, int force, const rn_file_id *inputs, size_t n,
                              resnet_error *err);

/* The Software text of the PNGs resnet_image_write_png writes (what RN_KIND_PNG looks for). */
#define RN_PNG_SOFTWARE "resnet (ResNet-50 in C)"

/* The header line eval --predictions starts with (what RN_KIND_PREDICTIONS looks for). */
#define RN_PREDICTIONS_HEADER "file\tlabel\ttop1\ttop1_prob\ttop5"

/* The first line of the HTML pages eval and classify --report write (what RN_KIND_REPORT
 * looks for). */
#define RN_REPORT_HEADER "<!DOCTYPE html><!-- a report written by resnet -->"

#endif
