/* cli.h - pieces shared by the `resnet` subcommands. */
#ifndef RN_CLI_H
#define RN_CLI_H

#include <stdio.h>
#include "resnet.h"
#include "io/atomic.h"

/* Flags every subcommand that runs the network accepts. */
typedef struct cli_common {
    const char *weights; /* --weights, else $RESNET_WEIGHTS, else the cache default */
    int threads;         /* --threads, 0 = one per core */
    resnet_kernels kernels;
    int direct;          /* --direct: no Winograd */
    int force;           /* --force: replace an existing output of another kind */
} cli_common;

/* Prints "resnet: <message>" on stderr; returns 1 (or 2 for usage errors). */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a whole decimal integer in [lo, hi] for flag `flag`; 0 on success. */
int cli_parse_int(const char *flag, const char *s, int lo, int hi, int *out);

/* Parses the value of --tta (none, flip, 10crop, multiscale); 0 on success, else reported. */
int cli_parse_tta(const char *s, resnet_tta *out);

/* Tries to consume one common flag at argv[*i]; returns 1 if it did, 0 if argv[*i] is
 * not a common flag, -1 on a bad value (already reported). */
int cli_common_flag(cli_common *c, int argc, char **argv, int *i);

/* The weight file c names (--weights, $RESNET_WEIGHTS or the cache default, in buf). */
const char *cli_weights_path(const cli_common *c, char *buf, size_t n);

/* The one check every writing command makes before computing anything: out must not be
 * any file the run reads (the photos, the weight file c names, the n_extra other files),
 * by whatever path, and an existing out must be of the kind written (or c->force).
 * 0, or 1 after printing why. c may be NULL (no weight file read). */
int cli_check_output(const char *out, rn_file_kind kind, const cli_common *c, char *const *photos, int n,
                     const char *const *extra, int n_extra);

/* Installs the cleanup of temporaries on SIGINT/SIGTERM/SIGHUP (main calls it once). */
void cli_catch_signals(void);

/* Loads the model named by c (resolving the default path); reports errors itself. */
resnet_model *cli_load_model(const cli_common *c);

/* Writes s as a JSON string literal. */
void cli_json_string(FILE *f, const char *s);

int cmd_classify(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_cam(int argc, char **argv);        /* cam.c */
int cmd_embed(int argc, char **argv);      /* embed.c */
int cmd_similar(int argc, char **argv);    /* embed.c */
int cmd_train_head(int argc, char **argv); /* train_head.c */
/* classify_many.c: `classify` when a folder or --head is given (files/folders in args). */
int cli_is_dir(const char *path); /* 1 if path is a folder (featcache.c) */
int cli_classify_many(const cli_common *c, char **args, int nargs, int k, int json, const char *head_path,
                      resnet_tta tta);

#endif
