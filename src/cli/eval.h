/* eval.h - the pieces of `resnet eval`: the labelled set (eval_set.c), the tally and report
 * (eval_report.c), and the command with its decode/network pipeline (eval.c). */
#ifndef RN_CLI_EVAL_H
#define RN_CLI_EVAL_H

#include <stdio.h>
#include "resnet.h"

/* The classes photos are scored against: the network's, by index, with its names. */
typedef struct eval_classes {
    int n;          /* the network's classes */
    int imagenet;   /* ImageNet's 1000 with their names: class folders may be WordNet ids too */
    char **names;   /* n names: the file's labels, --labels, ImageNet's, or "class N" */
    int top;        /* the top-k counted as "top-5": 5, or n when fewer */
} eval_classes;

/* The network's classes (names copied); 0, or -1 out of memory. */
int eval_classes_init(eval_classes *c, const resnet_model *m);
void eval_classes_free(eval_classes *c);
/* The class a name stands for (a class folder's name; labels.tsv's class column; cam -c): a
 * whole index 0..n-1 written with digits only (or, past n-1, a class's name made of digits);
 * for ImageNet's classes a WordNet id; else one of the network's class names: as written, else
 * with '_' as ' ', else that without case (the first of these that some class matches
 * decides). Else one of the EVAL_CLASS_ codes, which eval_class_why puts in words. */
enum {
    EVAL_CLASS_NONE = -1,          /* no class of the network */
    EVAL_CLASS_SHARED = -2,        /* the name of more than one class */
    EVAL_CLASS_INDEX_OR_NAME = -3, /* digits that are one class's index and another's name */
};
int eval_class_of(const eval_classes *c, const char *name);
/* Why `name` is no class (code from eval_class_of), one line into buf. */
const char *eval_class_why(const eval_classes *c, const char *name, int code, char *buf, size_t size);
/* The probabilities' top c->top into top[0..4], ties broken by the mean of the views' logits
 * (views x classes; resnet_top_k_logits); places past c->top get index -1 (never a label) and
 * probability 0. */
void eval_top(const eval_classes *c, const float *probs, const float *logits, int views, resnet_prediction top[5]);

/* One photo to classify. */
typedef struct eval_item {
    char *path;  /* as opened: DIR/file */
    char *name;  /* as the set lists it (relative to DIR): what reports print */
    int label;   /* 0..classes-1 */
} eval_item;

/* The photos of a folder with their labels, from DIR/labels.tsv or a folder per class. */
typedef struct eval_set {
    eval_item *items;
    int n, cap;
    const char *source;  /* "labels.tsv" or "folders" */
    int skipped;         /* entries refused while reading (bad line, label out of range, ...) */
    int unlabelled;      /* labels.tsv rows with class -1: skipped on purpose, not an error */
    int ignored;         /* files below class folders that are not photos (io/walk.h) */
    int loose;           /* files directly in DIR, in no class folder (folders only) */
} eval_set;

/* Reads DIR's labels. Each refused entry is reported on stderr (through `warn`) with the file
 * name and counted in set->skipped. Returns 0, or -1 when there is nothing to evaluate (no
 * labels.tsv and no class folders, or an unreadable folder) or labels.tsv lists a photo twice:
 * then it has said why. */
typedef void (*eval_warn_fn)(void *ctx, const char *file, const char *message);
int eval_set_load(const char *dir, const eval_classes *cls, eval_set *set, eval_warn_fn warn, void *ctx);
/* DIR is a folder (eval_set_load checks it too): 0, or -1 after saying why. Lets a typo be
 * told before the network is loaded. */
int eval_set_check_dir(const char *dir, eval_warn_fn warn, void *ctx);
void eval_set_free(eval_set *set);

/* ---- the tally ---------------------------------------------------------------------- */

typedef struct eval_error {
    char *file;
    char *message;
} eval_error;

typedef struct eval_tally {
    int images;       /* classified */
    int top1, top5;   /* correct */
    int failed;       /* listed but could not be classified (unreadable, not an image, ...) */
    const eval_classes *cls;
    int *wrong;       /* (label, top-1) of each wrong top-1, two ints each */
    int nwrong, capwrong;
    eval_error *errors; /* every refused entry and failed photo, in order */
    int nerrors, caperrors;
    struct eval_record *records; /* with --json: one per photo of the set, by its index */
    int nrecords;
} eval_tally;

/* What became of one photo of the set, for eval --json's "records". */
typedef struct eval_record {
    int done;               /* 0 not reached (the run stopped), 1 classified, 2 failed */
    resnet_prediction top5[5];
    int has_plain;          /* with test-time augmentation and --report: plain5 is set */
    resnet_prediction plain5[5]; /* the top 5 of the plain view alone (every mode's first) */
    char *error;
} eval_record;

int eval_tally_init(eval_tally *t, const eval_classes *cls);
void eval_tally_free(eval_tally *t);
/* Counts one classified photo from its top 5 (eval_top). */
void eval_tally_add(eval_tally *t, int label, const resnet_prediction *top5);
/* Remembers a refused entry or failed photo for the JSON report. */
void eval_tally_error(eval_tally *t, const char *file, const char *message);
/* One record per photo of the set (n), kept for the JSON report; 0, or -1 out of memory.
 * Without it the two calls below do nothing. */
int eval_tally_records(eval_tally *t, int n);
void eval_tally_record(eval_tally *t, int item, const resnet_prediction *top5);
void eval_tally_record_error(eval_tally *t, int item, const char *message);
/* The top 5 of the photo's plain view, for the report's test-time augmentation gain. */
void eval_tally_record_plain(eval_tally *t, int item, const resnet_prediction *top5);

/* The most frequent wrong (label, top-1) pairs into out (at most max), most first, ties by
 * label then prediction; returns how many. */
typedef struct eval_pair {
    int label, predicted, count;
} eval_pair;
int eval_worst_pairs(const eval_tally *t, eval_pair *out, int max);

/* What the report says besides the tally. */
typedef struct eval_run {
    const char *dir, *source;
    resnet_tta tta;
    int views, batch, threads;
    const char *kernels;
    int skipped;          /* refused while reading the set + photos that failed */
    int unlabelled, ignored;
    double seconds;       /* the whole pipeline, first photo read to last result */
    double network_seconds; /* inside resnet_forward */
} eval_run;

void eval_report_text(FILE *f, const eval_run *r, const eval_tally *t);
void eval_report_json(FILE *f, const eval_run *r, const eval_tally *t, const eval_set *set);

/* --report: one self-contained HTML page (eval_html.c) at path, through the atomic writer:
 * accuracy with confidence intervals, calibration, per-class accuracy, the most frequent
 * confusions and the most confident mistakes with thumbnails and class activation maps
 * (a forward pass each, on s). Needs the tally's records. 0, or 1 after printing why. */
typedef struct eval_html_info {
    const char *weights;       /* the weight file's path */
    const char *precision;     /* "fp32", "int8" */
    unsigned image_flags;      /* RESNET_IMAGE_*: as the photos were read */
} eval_html_info;
int eval_report_html(const char *path, const eval_run *r, const eval_tally *t, const eval_set *set,
                     const eval_html_info *info, const resnet_model *m, resnet_session *s);

/* --predictions: one line per photo, the format of the reference's val1300.predictions.tsv;
 * the file name as cli_text writes it (\xHH for a tab, a newline...). */
void eval_predictions_header(FILE *f);
void eval_predictions_line(FILE *f, const char *name, int label, const resnet_prediction *top5);

#endif
