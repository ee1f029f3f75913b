/* eval_report.c - what `resnet eval` counts and prints: top-1/top-5 accuracy, the speed of the
 * whole pipeline against the network's share of it, the worst-confused class pairs, every
 * skipped entry; as text, as JSON, and the per-photo predictions file. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/eval.h"

#define WORST_PAIRS 10 /* confused pairs the report lists */

int eval_tally_init(eval_tally *t, const eval_classes *cls) {
    memset(t, 0, sizeof *t);
    t->cls = cls;
    return 0;
}

void eval_top(const eval_classes *c, const float *probs, const float *logits, int views, resnet_prediction top[5]) {
    resnet_top_k_logits(probs, logits, views, c->n, c->top, top);
    for (int k = c->top; k < 5; k++) top[k] = (resnet_prediction){-1, 0.0f};
}

int eval_tally_records(eval_tally *t, int n) {
    t->records = calloc((size_t)(n > 0 ? n : 1), sizeof *t->records);
    t->nrecords = t->records ? n : 0;
    return t->records ? 0 : -1;
}

void eval_tally_record(eval_tally *t, int item, const resnet_prediction *top5) {
    if (item < 0 || item >= t->nrecords) return;
    t->records[item].done = 1;
    memcpy(t->records[item].top5, top5, sizeof t->records[item].top5);
}

void eval_tally_record_plain(eval_tally *t, int item, const resnet_prediction *top5) {
    if (item < 0 || item >= t->nrecords) return;
    t->records[item].has_plain = 1;
    memcpy(t->records[item].plain5, top5, sizeof t->records[item].plain5);
}

void eval_tally_record_error(eval_tally *t, int item, const char *message) {
    if (item < 0 || item >= t->nrecords) return;
    t->records[item].done = 2;
    t->records[item].error = strdup(message); /* NULL (out of memory): a generic message */
}

void eval_tally_free(eval_tally *t) {
    for (int i = 0; i < t->nrecords; i++) free(t->records[i].error);
    free(t->records);
    for (int i = 0; i < t->nerrors; i++) {
        free(t->errors[i].file);
        free(t->errors[i].message);
    }
    free(t->errors);
    free(t->wrong);
    memset(t, 0, sizeof *t);
}

void eval_tally_add(eval_tally *t, int label, const resnet_prediction *top5) {
    t->images++;
    t->top1 += top5[0].index == label;
    for (int k = 0; k < 5; k++) t->top5 += top5[k].index == label;
    if (top5[0].index == label) return;
    if (t->nwrong == t->capwrong) {
        int cap = t->capwrong ? 2 * t->capwrong : 64;
        int *p = realloc(t->wrong, (size_t)cap * 2 * sizeof *p);
        if (!p) return; /* the confusions then miss this photo; the accuracy does not */
        t->wrong = p;
        t->capwrong = cap;
    }
    t->wrong[2 * t->nwrong] = label;
    t->wrong[2 * t->nwrong + 1] = top5[0].index;
    t->nwrong++;
}

void eval_tally_error(eval_tally *t, const char *file, const char *message) {
    if (t->nerrors == t->caperrors) {
        int cap = t->caperrors ? t->caperrors * 2 : 16;
        eval_error *p = realloc(t->errors, (size_t)cap * sizeof *p);
        if (!p) return; /* the error was printed already; only the JSON list loses it */
        t->errors = p;
        t->caperrors = cap;
    }
    eval_error *e = &t->errors[t->nerrors];
    e->file = strdup(file);
    e->message = strdup(message);
    if (e->file && e->message) t->nerrors++;
    else free(e->file), free(e->message);
}

typedef eval_pair pair;

static int by_pair(const void *a, const void *b) {
    const int *x = a, *y = b;
    return x[0] != y[0] ? (x[0] > y[0]) - (x[0] < y[0]) : (x[1] > y[1]) - (x[1] < y[1]);
}

int eval_worst_pairs(const eval_tally *t, eval_pair *out, int max) {
    int n = 0;
    int *w = t->nwrong ? malloc((size_t)t->nwrong * 2 * sizeof *w) : NULL;
    if (!w) return 0;
    memcpy(w, t->wrong, (size_t)t->nwrong * 2 * sizeof *w);
    qsort(w, (size_t)t->nwrong, 2 * sizeof *w, by_pair); /* runs of one (label, top-1), in order */
    for (int i = 0, j; i < t->nwrong; i = j) {
        for (j = i + 1; j < t->nwrong && w[2 * j] == w[2 * i] && w[2 * j + 1] == w[2 * i + 1];) j++;
        const int c = j - i;
        int pos = n < max ? n : max; /* insertion into the sorted list */
        while (pos > 0 && out[pos - 1].count < c) pos--;
        if (pos >= max) continue;
        for (int k = (n < max ? n : max - 1); k > pos; k--) out[k] = out[k - 1];
        out[pos] = (pair){w[2 * i], w[2 * i + 1], c};
        if (n < max) n++;
    }
    free(w);
    return n;
}

static double ratio(int a, int b) { return b > 0 ? (double)a / b : 0.0; }

void eval_report_text(FILE *f, const eval_run *r, const eval_tally *t) {
    cli_text(f, r->dir);
    fprintf(f, ": %d photo%s (%s), test-time augmentation %s (%d view%s)\n", t->images,
            t->images == 1 ? "" : "s", r->source, resnet_tta_name(r->tta), r->views, r->views == 1 ? "" : "s");
    if (r->skipped || r->unlabelled || r->ignored) {
        fprintf(f, "  not scored:");
        if (r->skipped) fprintf(f, " %d skipped (errors above)", r->skipped);
        if (r->unlabelled) fprintf(f, "%s %d unlabelled (class -1)", r->skipped ? "," : "", r->unlabelled);
        if (r->ignored)
            fprintf(f, "%s %d %s", r->skipped || r->unlabelled ? "," : "", r->ignored,
                    r->ignored == 1 ? "file that is not a photo" : "files that are not photos");
        fputc('\n', f);
    }
    fprintf(f, "  top-1 %.4f (%d/%d)\n  top-%d %.4f (%d/%d)\n", ratio(t->top1, t->images), t->top1, t->images,
            t->cls->top, ratio(t->top5, t->images), t->top5, t->images);
    const double net = r->network_seconds;
    fprintf(f, "  %.2f photos/s for the whole pipeline (%.1f s); the network alone %.2f photos/s (%.1f s, %.0f%%)\n",
            r->seconds > 0 ? t->images / r->seconds : 0.0, r->seconds, net > 0 ? t->images / net : 0.0, net,
            r->seconds > 0 ? 100.0 * net / r->seconds : 0.0);
    fprintf(f, "  kernels %s, %d threads, batch %d\n", r->kernels, r->threads, r->batch);
    pair worst[WORST_PAIRS];
    int n = eval_worst_pairs(t, worst, WORST_PAIRS);
    if (n > 0) fprintf(f, "  most confused (label -> top-1):\n");
    for (int i = 0; i < n; i++) { /* a network's own names may hold control characters */
        fprintf(f, "  %5d  ", worst[i].count);
        cli_text(f, t->cls->names[worst[i].label]);
        fprintf(f, " (%d) -> ", worst[i].label);
        cli_text(f, t->cls->names[worst[i].predicted]);
        fprintf(f, " (%d)\n", worst[i].predicted);
    }
}

void eval_report_json(FILE *f, const eval_run *r, const eval_tally *t, const eval_set *set) {
    fputs("{\"dir\": ", f);
    cli_json_string(f, r->dir);
    fprintf(f, ", \"source\": \"%s\", \"tta\": \"%s\", \"views\": %d", r->source, resnet_tta_name(r->tta), r->views);
    fprintf(f, ", \"images\": %d, \"skipped\": %d, \"unlabelled\": %d, \"ignored\": %d", t->images, r->skipped,
            r->unlabelled, r->ignored);
    fprintf(f, ", \"top1\": %.6f, \"top5\": %.6f, \"top1_correct\": %d, \"top5_correct\": %d",
            ratio(t->top1, t->images), ratio(t->top5, t->images), t->top1, t->top5);
    fprintf(f, ", \"seconds\": %.3f, \"images_per_s\": %.4f, \"network_seconds\": %.3f, \"network_images_per_s\": %.4f",
            r->seconds, r->seconds > 0 ? t->images / r->seconds : 0.0, r->network_seconds,
            r->network_seconds > 0 ? t->images / r->network_seconds : 0.0);
    fprintf(f, ", \"kernels\": \"%s\", \"threads\": %d, \"batch\": %d, \"confused\": [", r->kernels, r->threads,
            r->batch);
    pair worst[WORST_PAIRS];
    int n = eval_worst_pairs(t, worst, WORST_PAIRS);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s{\"label\": %d, \"label_name\": ", i ? ", " : "", worst[i].label);
        cli_json_string(f, t->cls->names[worst[i].label]);
        fprintf(f, ", \"top1\": %d, \"top1_name\": ", worst[i].predicted);
        cli_json_string(f, t->cls->names[worst[i].predicted]);
        fprintf(f, ", \"count\": %d}", worst[i].count);
    }
    fputs("], \"errors\": [", f);
    for (int i = 0; i < t->nerrors; i++) {
        fputs(i ? ", {\"file\": " : "{\"file\": ", f);
        cli_json_string(f, t->errors[i].file);
        fputs(", \"message\": ", f);
        cli_json_string(f, t->errors[i].message);
        fputc('}', f);
    }
    /* one record per listed photo, in the set's order, so a pipeline can match them up */
    fputs("], \"records\": [", f);
    for (int i = 0; i < t->nrecords && i < set->n; i++) {
        const eval_record *rec = &t->records[i];
        fputs(i ? ", {\"file\": " : "{\"file\": ", f);
        cli_json_string(f, set->items[i].name);
        fprintf(f, ", \"label\": %d", set->items[i].label);
        if (rec->done == 1) {
            fputs(", \"top\": [", f);
            for (int k = 0; k < t->cls->top; k++) {
                fprintf(f, "%s{\"index\": %d, \"name\": ", k ? ", " : "", rec->top5[k].index);
                cli_json_string(f, t->cls->names[rec->top5[k].index]);
                fprintf(f, ", \"prob\": %.6g}", rec->top5[k].prob);
            }
            fputs("]}", f);
        } else {
            fputs(", \"error\": ", f);
            cli_json_string(f, rec->error ? cli_strip_file(rec->error, set->items[i].path)
                                          : rec->done ? "could not be read" : "not classified");
            fputc('}', f);
        }
    }
    fputs("]}\n", f);
}

void eval_predictions_header(FILE *f) { fputs(RN_PREDICTIONS_HEADER "\n", f); }

void eval_predictions_line(FILE *f, const char *name, int label, const resnet_prediction *top5) {
    /* as the text output writes names (\x09, \x0a...): a tab or newline in one would split
     * the line or its columns */
    cli_text(f, name);
    fprintf(f, "\t%d\t%d\t%.6f\t%d", label, top5[0].index, top5[0].prob, top5[0].index);
    for (int k = 1; k < 5 && top5[k].index >= 0; k++) fprintf(f, ",%d", top5[k].index);
    fputc('\n', f);
}
