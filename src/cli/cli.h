/* cli.h - what the `resnet` commands share, by concern: the command line (args.c), what the
 * user sees (term.c), the model and session the options name (session.c), output files
 * (output.c), photos (photos.c). A command is main.c's table entry and one file. */
#ifndef RN_CLI_H
#define RN_CLI_H

#include <getopt.h>
#include <stdio.h>
#include "resnet.h"
#include "io/atomic.h" /* the one writer and the output check: internal, see docs/ARCHITECTURE.md */

/* ---- the command line (args.c) ------------------------------------------------------------ */

/* The options commands share, as cli_getopt parses them. A command sets the defaults it
 * differs in (top, top_max) before parsing and reads what it takes. */
typedef struct cli_common {
    /* the network group (cli_command.network) */
    const char *weights; /* --weights, else $RESNET_WEIGHTS, else the cache default */
    int threads;         /* --threads, 0 = one per core */
    resnet_kernels kernels;
    int direct;          /* --direct: no Winograd */
    int wide_winograd;   /* --wide-winograd: Winograd on the wider 3x3 layers too */
    int precision;       /* --precision: a resnet_precision (fp32, the default: as the file says) */
    int precision_set;   /* --precision given: fp32 then refuses an int8 or bf16 file */
    unsigned image_flags; /* RESNET_IMAGE_*: --exif-orientation */
    const char *labels;  /* --labels FILE: class names, one a line */
    int size;            /* --size N: the crop the network sees (0: the file's, else 224) */
    int output_stride;   /* --output-stride 8|16|32 (0: the file's, else 32) */
    /* the options a command lists with CLI_OPTION_* */
    const char *output;  /* -o/--output */
    int force;           /* --force: replace an existing output of another kind */
    int json;            /* --json */
    int top, top_max;    /* -k/--top N, N in 1..top_max (0: RESNET_NUM_CLASSES) */
    resnet_tta tta;      /* --tta */
    int no_cache;        /* --no-cache */
} cli_common;

/* Every command parses the GNU way: --opt=value, --opt value, -k5, -k 5, unique prefixes of
 * long options, options before or after operands, "--" ends the options. A command's table
 * (its own options, with the shared ones it takes from CLI_OPTION_*; the network group and
 * -h/--help are added) is the single source of what it accepts: parsing, --help,
 * `resnet --list-options` (the bash completion) and the man-page test all read it. */
typedef struct cli_option {
    const char *name; /* the long name, without "--" */
    int letter;       /* the one-letter form ('k' for -k), or 0 */
    const char *arg;  /* the value's name in --help ("N", "FILE"), or NULL: takes no value */
    int id;           /* what cli_getopt returns: the letter, or an id >= CLI_OPT_FIRST_OWN */
    const char *help; /* its --help text; each '\n' starts a line under the first */
    int lo, hi;       /* its value is a whole number in lo..hi, which cli_getopt checks and
                         puts in cli_optint; both 0: any text (in optarg) */
} cli_option;
extern int cli_optint; /* the number of the numeric option cli_getopt returned last */

/* One of a command's own options: a flag (ARG NULL) or one whose value --help calls ARG. */
#define CLI_OPTION(NAME, LETTER, ARG, ID, HELP) {.name = NAME, .letter = LETTER, .arg = ARG, .id = ID, .help = HELP}
/* One whose value is a whole number in LO..HI. */
#define CLI_OPTION_INT(NAME, ARG, ID, LO, HI, HELP) \
    {.name = NAME, .arg = ARG, .id = ID, .help = HELP, .lo = LO, .hi = HI}

enum { /* ids of the shared options, which cli_getopt parses into cli_common (above any char) */
    CLI_OPT_WEIGHTS = 256, CLI_OPT_THREADS, CLI_OPT_KERNELS, CLI_OPT_DIRECT, CLI_OPT_EXIF_ORIENTATION,
    CLI_OPT_OUTPUT, CLI_OPT_FORCE, CLI_OPT_JSON, CLI_OPT_TOP, CLI_OPT_TTA, CLI_OPT_NO_CACHE,
    CLI_OPT_LABELS, CLI_OPT_SIZE, CLI_OPT_OUTPUT_STRIDE, CLI_OPT_PRECISION, CLI_OPT_WIDE_WINOGRAD,
    CLI_OPT_FIRST_OWN = 300 /* a command's own ids start here */
};
/* The shared options a command lists among its own: parsed once (into cli_common), the help
 * text the command's where its meaning is the command's. */
#define CLI_OPTION_OUTPUT(ARG, HELP) CLI_OPTION("output", 'o', ARG, CLI_OPT_OUTPUT, HELP)
#define CLI_OPTION_JSON(HELP) CLI_OPTION("json", 0, NULL, CLI_OPT_JSON, HELP)
#define CLI_OPTION_TOP(HELP) CLI_OPTION("top", 'k', "N", CLI_OPT_TOP, HELP)
#define CLI_OPTION_TTA \
    CLI_OPTION("tta", 0, "MODE", CLI_OPT_TTA, "average over views: none, flip, 10crop, multiscale (default none)")
#define CLI_OPTION_NO_CACHE \
    CLI_OPTION("no-cache", 0, NULL, CLI_OPT_NO_CACHE, "neither read nor write the feature cache")
/* in the table of every command that writes a file */
#define CLI_OPTION_FORCE                                                                          \
    CLI_OPTION("force", 0, NULL, CLI_OPT_FORCE,                                                   \
               "replace an existing output file that is not of the kind written\n(never one of the run's inputs)")

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis;   /* operands, after "resnet NAME [options] " */
    const char *brief;      /* one line for `resnet --help` */
    const char *about;      /* what it does, for `resnet NAME --help` */
    const char *notes;      /* after the options (exit statuses...), or NULL */
    const cli_option *options; /* its own, in --help order, ending with {0}; NULL: none */
    int network;            /* 1: it runs the network and takes the network group */
} cli_command;

extern const cli_command *const cli_commands[]; /* main.c; NULL-terminated */
extern const cli_command cli_classify, cli_eval, cli_bench, cli_import, cli_convert, cli_cam, cli_embed, cli_similar,
    cli_train_head, cli_quantize, cli_fetch, cli_serve, cli_label, cli_export, cli_info;
extern const char *cli_current_command; /* the command running, for usage messages */

/* ImageNet-1k's WordNet synonyms, comma-separated, one string per class (class_synonyms.c,
 * made by tools/gen-classes.sh): what `cam -c` accepts besides the short names. */
#define CLI_IMAGENET_CLASSES 1000
extern const char *const cli_class_synonyms[CLI_IMAGENET_CLASSES];

enum { CLI_END = -1, CLI_EXIT_HELP = -2, CLI_EXIT_USAGE = -3 };
/* The id of the next of cmd's own options in argv (the value is in optarg, and a numeric
 * option's number in cli_optint). The shared options (the network group, CLI_OPTION_*) go
 * into *common and are not returned. Returns CLI_END when the options are over (operands are
 * then argv[optind..argc-1]), CLI_EXIT_HELP after printing the usage for -h/--help (exit 0),
 * and CLI_EXIT_USAGE after reporting an unknown option (with the closest known one), a
 * missing value or a bad value (exit 2). Call with optind = 0 first. */
int cli_getopt(const cli_command *cmd, int argc, char **argv, cli_common *common);
/* The exit status of one of cli_getopt's CLI_EXIT_ values. */
#define CLI_EXIT_STATUS(r) ((r) == CLI_EXIT_HELP ? 0 : 2)
/* `resnet NAME --help` text on f. */
void cli_command_usage(const cli_command *cmd, FILE *f);
/* Every option cmd accepts, one a line ("-k VALUE", "--top VALUE", "--json"), on f: for
 * completion scripts and the man-page test. */
void cli_list_options(const cli_command *cmd, FILE *f);
/* The closest of the n names to s (edit distance), or NULL if none is close enough to be a
 * plausible typo. */
const char *cli_closest(const char *s, size_t len, const char *const *names, int n);

/* Parses a whole decimal integer in [lo, hi] for flag `flag`; 0 on success. */
int cli_parse_int(const char *flag, const char *s, int lo, int hi, int *out);

/* Parses the value of --tta (none, flip, 10crop, multiscale); 0 on success, else reported. */
int cli_parse_tta(const char *s, resnet_tta *out);

/* Parses a number in [lo, hi] for flag `flag`; 0 on success. Like cli_parse_int, no
 * blanks or other junk before or after it (strtod alone would take " 5" and "5 "). */
int cli_parse_double(const char *flag, const char *s, double lo, double hi, double *out);

/* Checks the value of an option that names a file to write (-o, --predictions, --report):
 * 0, or a usage error (2) for no name or "-", which would make a file called "-" where a user
 * expects standard output (no output option writes there). */
int cli_output_arg(const char *flag, const char *value);

/* ---- what the user sees (term.c) ---------------------------------------------------------- */

/* Prints "resnet: <message>" on stderr; returns 1 (or 2 for usage errors). */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes s as a JSON string literal. Bytes that are not UTF-8 are written as the lone
 * surrogates U+DC80..U+DCFF (byte 0x80 + n as \udc80 + n), Python's "surrogateescape": any
 * byte string round-trips (os.fsencode(json.loads(line)["file"]) gives the bytes back), and
 * no valid UTF-8 text can produce those code points. */
void cli_json_string(FILE *f, const char *s);
/* Writes s (a file name, a class name from a user's folder) for a person to read: control
 * characters (C0, DEL, C1) and bytes that are not UTF-8 become \xHH, so a name can never
 * move the cursor, change colours or split a line. --json gives the exact bytes. */
void cli_text(FILE *f, const char *s);

/* Returns message without its leading "file: " (library messages start with the file
 * name, which a JSON record already has in "file"). */
const char *cli_strip_file(const char *message, const char *file);

/* One record per input, with --json:
 * {"file": F, "top": [...]} for a result, {"file": F, "error": E} for a failure. */
void cli_json_error_record(FILE *f, const char *file, const char *message);
/* One photo's top k on stdout, with the head's class names (NULL: the model's): the file then a
 * line per class ("  12.34%  281  tabby"), or with json one record {"file", "top": [{"index",
 * "name", "prob"}...]}; flushed, so records of a long run appear as they come. */
void cli_print_top(const char *file, const resnet_prediction *top, int k, int json, const resnet_head *head,
                   const resnet_model *m);
/* Class i's name: the head's, else the model's (its labels, ImageNet's, or "class N" in buf),
 * else ImageNet's (m NULL). */
const char *cli_class_name(const resnet_model *m, const resnet_head *head, int i, char *buf, size_t n);

/* Seconds on the monotonic clock, for rates and timings. */
double cli_now(void);

/* A progress bar on stderr, drawn only when stderr is a terminal and there is more than one
 * thing to do: "[#####.....] 120/1300 photos, 9.8 photos/s, 2m00s left". */
typedef struct cli_progress {
    int enabled, total, shown;
    double start, last_draw;
    const char *what; /* "photos" */
} cli_progress;

void cli_progress_start(cli_progress *p, int total, const char *what);
void cli_progress_update(cli_progress *p, int done);
/* Wipes the bar so that a line can be printed (the next update draws it again). */
void cli_progress_clear(cli_progress *p);

/* ---- the model and session the network options name (session.c) --------------------------- */

/* The weight file c names (--weights, $RESNET_WEIGHTS or the cache default, in buf). */
const char *cli_weights_path(const cli_common *c, char *buf, size_t n);
/* Loads the model named by c (resolving the default path); reports errors itself. */
resnet_model *cli_load_model(const cli_common *c);
/* The same, leaving the message in *err for the caller to report (NULL then). */
resnet_model *cli_try_load_model(const cli_common *c, resnet_error *err);
/* As cli_load_model, for a command that needs the fc: a backbone (no fc) is refused, naming
 * the commands that take one. */
resnet_model *cli_load_classifier(const cli_common *c, const char *command);
/* A session of m for batches of up to max_batch images, with c's threads and image flags;
 * NULL after reporting the error. */
resnet_session *cli_session(const resnet_model *m, const cli_common *c, int max_batch);
/* The key of the feature cache for photos read with c's image flags: the model's fingerprint,
 * changed when the flags change what the network sees (features of turned photos differ). */
unsigned long long cli_cache_key(const resnet_model *m, const cli_common *c);

/* ---- output files (output.c) -------------------------------------------------------------- */

/* The one check every writing command makes before computing anything: out must not be
 * any file the run reads (the photos, the weight file c names, the n_extra other files),
 * by whatever path, and an existing out must be of the kind written (or c->force).
 * 0, or 1 after printing why. c may be NULL (no weight file read). */
int cli_check_output(const char *out, rn_file_kind kind, const cli_common *c, char *const *photos, int n,
                     const char *const *extra, int n_extra);

/* Installs the cleanup of temporaries on SIGINT, SIGTERM, SIGHUP... (main calls it once). */
void cli_catch_signals(void);

/* ---- photos (photos.c) ------------------------------------------------------------------ */

/* Photos per forward pass when many photos are run one view each: a little faster per photo
 * than 1, little memory. */
#define CLI_BATCH 4

/* Photo lists: files as given, folders expanded (recursively, sorted). */
typedef struct cli_photos {
    int count, cap;
    char **paths;   /* owned copies */
    int folders;    /* how many of the arguments were folders */
    int problems;   /* unreadable subfolders, already reported */
    int empty;      /* folder arguments with no photo in them, already reported (when they are
                       not the only argument: alone, the caller's "no photos found" says it) */
    int keep_going; /* set by the caller: a folder argument that cannot be listed stays in the
                       list in its place, with its error (one record per input), not fatal */
    char **errors;  /* with keep_going: NULL, or per path its listing error (owned) */
} cli_photos;

/* Appends args (files or folders) to *out; 0, or reports and returns the exit status: 2 for
 * "-" given twice, 1 when a folder itself cannot be read (unless keep_going) or memory is short. */
int cli_photos_add(cli_photos *out, char **args, int nargs);
void cli_photos_free(cli_photos *p);
/* 1 if path is a folder ("-" is not). */
int cli_is_dir(const char *path);

/* `resnet classify -`, `embed -`...: the photo read from standard input. */
#define CLI_STDIN_NAME "-"
/* Reads all of standard input once (later calls return the same bytes); NULL with *err set
 * when it cannot. The bytes live until the process ends. */
const unsigned char *cli_stdin_bytes(size_t *size, resnet_error *err);
/* 1 if path is "-" (standard input). A file named "-" is reached as "./-". */
int cli_is_stdin(const char *path);
/* The photos of a command line through the library's runner (resnet_run): each path with the
 * views of `tta`, "-" from standard input in its place; errors may be NULL, or give per path
 * a message: that entry is not read, fn gets it as its error (a folder argument that could
 * not be listed). Results in order, indices those of paths. */
resnet_status cli_run_photos(resnet_session *s, char *const *paths, char *const *errors, int n, resnet_tta tta,
                             int want, resnet_item_fn fn, void *ctx, resnet_error *err);

/* ---- the commands (main.c lists them) ----------------------------------------------------- */

int cmd_fetch(int argc, char **argv);      /* fetch.c */
int cmd_classify(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_cam(int argc, char **argv);        /* cam.c */
int cmd_embed(int argc, char **argv);      /* embed.c */
int cmd_similar(int argc, char **argv);    /* similar.c */
int cmd_train_head(int argc, char **argv); /* train_head.c */
int cmd_quantize(int argc, char **argv);   /* quantize.c */
int cmd_serve(int argc, char **argv);      /* serve.c */
int cmd_label(int argc, char **argv);      /* label.c */
int cmd_info(int argc, char **argv);       /* info.c */
int cmd_export(int argc, char **argv);     /* export.c */

#endif
