/* eval_html.c - `resnet eval DIR --report OUT.html`: one self-contained page (styles, the
 * sorting script and every picture inside it, as data: URIs; nothing fetched) that shows
 * where a model fails: top-1/top-5 with 95% confidence intervals, a reliability diagram with
 * the expected calibration error, per-class accuracy (sortable, worst first), the most
 * frequent confusions with an example photo each, and the most confident mistakes with the
 * class activation map of the class they got and their top 3; with test-time augmentation,
 * its gain over the plain view (every mode's first view); then the run's settings.
 *
 * Numbers come from the tally's records (one per photo, the probabilities of the views
 * averaged as eval scored them). The pictures take a second look at a few photos: decoded
 * again, shrunk to thumbnails, and for the mistakes one plain forward pass each for the map. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/eval.h"
#include "cli/html.h"
#include "io/atomic.h"

#define CONFUSIONS 10    /* confused pairs shown */
#define MISTAKES 12      /* confident mistakes shown */
#define BINS 10          /* reliability diagram */

/* The bar of the pictures' pass (drawn only when stderr is a terminal), and how far it is. */
typedef struct picture_pass {
    cli_progress bar;
    int done;
} picture_pass;

/* The photo of a record, decoded as eval read it, as a thumbnail; and, with cam >= 0, the
 * class activation map of class cam over the thumbnail (a plain forward pass). Returns the
 * photo's thumbnail in *thumb and the overlay in *over (either empty on failure). */
static void pictures(const char *path, unsigned flags, int cam, const resnet_model *m, resnet_session *s,
                     resnet_image *thumb, resnet_image *over) {
    resnet_image img = {0};
    resnet_error err;
    memset(thumb, 0, sizeof *thumb);
    memset(over, 0, sizeof *over);
    if (resnet_image_load_ex(path, flags, &img, &err) != RESNET_OK) return;
    if (cli_html_thumbnail(&img, thumb) != 0) {
        resnet_image_free(&img);
        return;
    }
    if (cam >= 0) {
        int mh, mw;
        resnet_model_map_size(m, &mh, &mw);
        const int nc = resnet_model_classes(m), side = resnet_model_input_size(m);
        const size_t cells = (size_t)mh * mw;
        float *input = malloc((size_t)3 * side * side * sizeof(float));
        float *maps = malloc((size_t)nc * cells * sizeof(float));
        float *heat = malloc((size_t)thumb->width * thumb->height * sizeof(float));
        resnet_outputs o;
        resnet_outputs_init(&o);
        o.class_maps = maps;
        if (input && maps && heat && resnet_model_preprocess_image(m, &img, input, &err) == RESNET_OK &&
            resnet_forward_ex(s, input, 1, &o, &err) == RESNET_OK &&
            resnet_model_cam_heatmap(m, maps + (size_t)cam * cells, thumb->width, thumb->height, heat, &err) ==
                RESNET_OK)
            resnet_cam_overlay(thumb, heat, 0.5f, over, &err);
        free(input);
        free(maps);
        free(heat);
    }
    resnet_image_free(&img);
}

/* ---- numbers --------------------------------------------------------------------------- */

/* Wilson score interval, 95%, of k successes in n. */
static void wilson(int k, int n, double *lo, double *hi) {
    if (n <= 0) {
        *lo = *hi = 0;
        return;
    }
    const double z = 1.959964, p = (double)k / n, z2n = z * z / n;
    double centre = (p + z2n / 2) / (1 + z2n), half = z * sqrt(p * (1 - p) / n + z2n / (4.0 * n)) / (1 + z2n);
    *lo = centre - half < 0 ? 0 : centre - half;
    *hi = centre + half > 1 ? 1 : centre + half;
}

static double ratio(int a, int b) { return b > 0 ? (double)a / b : 0.0; }

static int is_done(const eval_tally *t, int i) { return i < t->nrecords && t->records[i].done == 1; }

typedef struct mistake {
    int item;
    float prob;
} mistake;

static int by_prob_desc(const void *a, const void *b) {
    const mistake *x = a, *y = b;
    return x->prob < y->prob ? 1 : x->prob > y->prob ? -1 : x->item - y->item;
}

typedef struct class_row {
    int cls, n, top1, top5;
} class_row;

static int by_accuracy(const void *a, const void *b) { /* worst first; more photos first; index */
    const class_row *x = a, *y = b;
    double ax = ratio(x->top1, x->n), ay = ratio(y->top1, y->n);
    if (ax != ay) return ax < ay ? -1 : 1;
    if (x->n != y->n) return y->n - x->n;
    return x->cls - y->cls;
}

/* ---- the page -------------------------------------------------------------------------- */

static const char style[] =
    "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#222}"
    "h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}"
    "table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}"
    "th{cursor:pointer;background:#f6f6f6}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".big{font-size:20px;font-weight:600}.cards{display:flex;flex-wrap:wrap;gap:14px}"
    ".card{border:1px solid #ddd;border-radius:6px;padding:8px;width:340px}.card img{margin-right:4px}"
    ".missing{color:#999;font-style:italic}.bar{background:#4a7;height:10px;display:inline-block}"
    ".small{color:#666;font-size:12px}";

/* Clicking a header sorts its table by that column (numbers by data-v), again to reverse. */
static const char script[] =
    "document.querySelectorAll('table.sortable th').forEach(function(th,col){th.onclick=function(){"
    "var tb=th.closest('table').tBodies[0],rows=Array.from(tb.rows),dir=th.dataset.dir==='a'?-1:1;"
    "th.dataset.dir=dir===1?'a':'d';rows.sort(function(a,b){var x=a.cells[col],y=b.cells[col];"
    "var u=x.dataset.v,v=y.dataset.v;if(u!==undefined&&v!==undefined)return dir*(u-v);"
    "return dir*x.textContent.localeCompare(y.textContent)});rows.forEach(function(r){tb.appendChild(r)})}})";

static void settings(FILE *f, const eval_run *r, const eval_html_info *info) {
    const char *version = "?";
    resnet_version(&version);
    char model_name[256] = "unknown";
    FILE *cpu = fopen("/proc/cpuinfo", "r");
    if (cpu) {
        char line[512];
        while (fgets(line, sizeof line, cpu))
            if (strncmp(line, "model name", 10) == 0) {
                char *v = strchr(line, ':');
                if (v) {
                    v += v[1] == ' ' ? 2 : 1;
                    v[strcspn(v, "\n")] = '\0';
                    snprintf(model_name, sizeof model_name, "%s", v);
                }
                break;
            }
        fclose(cpu);
    }
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime_r(&now, &tm));
    fputs("<h2 id=\"settings\">Settings</h2><table>", f);
    fputs("<tr><td>photos</td><td>", f);
    cli_html_text(f, r->dir);
    fprintf(f, " (%s)</td></tr><tr><td>weights</td><td>", r->source);
    cli_html_text(f, info->weights);
    fprintf(f, "</td></tr><tr><td>precision</td><td>%s</td></tr>", info->precision);
    fputs("<tr><td>kernels</td><td>", f);
    cli_html_text(f, r->kernels);
    fprintf(f, "</td></tr><tr><td>test-time augmentation</td><td>%s (%d view%s a photo)</td></tr>", resnet_tta_name(r->tta),
            r->views, r->views == 1 ? "" : "s");
    fprintf(f, "<tr><td>threads, batch</td><td>%d, %d</td></tr>", r->threads, r->batch);
    fputs("<tr><td>machine</td><td>", f);
    cli_html_text(f, model_name);
    fprintf(f, ", %ld logical CPUs</td></tr>", sysconf(_SC_NPROCESSORS_ONLN));
    fprintf(f, "<tr><td>time</td><td>%.1f s (the network %.1f s); written %s by resnet %s</td></tr></table>\n",
            r->seconds, r->network_seconds, when, version);
}

static void calibration(FILE *f, const eval_tally *t, const eval_set *set) {
    int n[BINS] = {0}, right[BINS] = {0};
    double conf[BINS] = {0};
    int total = 0;
    for (int i = 0; i < set->n; i++) {
        if (!is_done(t, i)) continue;
        const eval_record *rec = &t->records[i];
        double p = rec->top5[0].prob;
        int b = (int)(p * BINS);
        if (b >= BINS) b = BINS - 1;
        if (b < 0) b = 0;
        n[b]++;
        conf[b] += p;
        right[b] += rec->top5[0].index == set->items[i].label;
        total++;
    }
    double ece = 0;
    for (int b = 0; b < BINS; b++)
        if (n[b]) ece += (double)n[b] / total * fabs((double)right[b] / n[b] - conf[b] / n[b]);
    fprintf(f, "<h2 id=\"calibration\">Calibration</h2><p>Confidence (the top-1 probability) against accuracy, "
               "in %d bins: a calibrated model's bars reach the diagonal. Expected calibration error "
               "<span class=\"big\" id=\"ece\">%.4f</span> (the bins' |accuracy - confidence|, weighted by "
               "their photos).</p>\n",
            BINS, ece);
    /* the diagram: 300 x 300 plot, origin bottom left */
    fputs("<svg width=\"360\" height=\"340\" viewBox=\"0 0 360 340\" role=\"img\" aria-label=\"reliability diagram\">"
          "<rect x=\"40\" y=\"10\" width=\"300\" height=\"300\" fill=\"#fafafa\" stroke=\"#999\"/>",
          f);
    for (int b = 0; b < BINS; b++) {
        if (!n[b]) continue;
        double acc = (double)right[b] / n[b], c = conf[b] / n[b];
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#4a7\"><title>%d photos, "
                   "accuracy %.3f, confidence %.3f</title></rect>",
                40 + 30.0 * b + 1, 310 - 300 * acc, 28.0, 300 * acc, n[b], acc, c);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#c33\"/>", 40 + 300 * c, 310 - 300 * c);
    }
    fputs("<line x1=\"40\" y1=\"310\" x2=\"340\" y2=\"10\" stroke=\"#c33\" stroke-dasharray=\"4 3\"/>"
          "<text x=\"190\" y=\"332\" text-anchor=\"middle\" font-size=\"12\">confidence</text>"
          "<text x=\"14\" y=\"160\" font-size=\"12\" transform=\"rotate(-90 14 160)\" text-anchor=\"middle\">accuracy"
          "</text><text x=\"40\" y=\"324\" font-size=\"10\">0</text><text x=\"334\" y=\"324\" font-size=\"10\">1</text>"
          "</svg>\n<table><thead><tr><th>confidence</th><th>photos</th><th>accuracy</th><th>mean confidence</th></tr>"
          "</thead><tbody>",
          f);
    for (int b = 0; b < BINS; b++)
        fprintf(f, "<tr><td>%.1f-%.1f</td><td class=\"n\">%d</td><td class=\"n\">%s%.3f</td><td class=\"n\">%.3f</td></tr>",
                (double)b / BINS, (double)(b + 1) / BINS, n[b], "", n[b] ? (double)right[b] / n[b] : 0.0,
                n[b] ? conf[b] / n[b] : 0.0);
    fputs("</tbody></table>\n", f);
}

static void per_class(FILE *f, const eval_tally *t, const eval_set *set) {
    const int nc = t->cls->n;
    class_row *rows = calloc((size_t)nc, sizeof *rows);
    if (!rows) return;
    for (int c = 0; c < nc; c++) rows[c].cls = c;
    for (int i = 0; i < set->n; i++) {
        if (!is_done(t, i)) continue;
        class_row *r = &rows[set->items[i].label];
        const eval_record *rec = &t->records[i];
        r->n++;
        r->top1 += rec->top5[0].index == set->items[i].label;
        for (int k = 0; k < 5; k++) r->top5 += rec->top5[k].index == set->items[i].label;
    }
    qsort(rows, (size_t)nc, sizeof *rows, by_accuracy);
    int classes = 0;
    for (int c = 0; c < nc; c++) classes += rows[c].n > 0;
    fprintf(f, "<h2 id=\"classes\">Per class</h2><p><span id=\"classes-count\">%d</span> classes, worst first; "
               "click a heading to sort.</p><table class=\"sortable\" id=\"per-class\"><thead><tr><th>class</th>"
               "<th>name</th><th>photos</th><th>top-1</th><th>accuracy</th><th>top-%d</th></tr></thead><tbody>\n",
            classes, t->cls->top);
    for (int c = 0; c < nc; c++) {
        const class_row *r = &rows[c];
        if (!r->n) continue;
        double a1 = ratio(r->top1, r->n), a5 = ratio(r->top5, r->n);
        fprintf(f, "<tr><td class=\"n\" data-v=\"%d\">%d</td><td>", r->cls, r->cls);
        cli_html_text(f, t->cls->names[r->cls]);
        fprintf(f, "</td><td class=\"n\" data-v=\"%d\">%d</td><td class=\"n\" data-v=\"%d\">%d</td>"
                   "<td data-v=\"%.6f\"><span class=\"bar\" style=\"width:%dpx\"></span> %.3f</td>"
                   "<td class=\"n\" data-v=\"%.6f\">%.3f</td></tr>\n",
                r->n, r->n, r->top1, r->top1, a1, (int)(a1 * 80 + 0.5), a1, a5, a5);
    }
    fputs("</tbody></table>\n", f);
    free(rows);
}

static void top3(FILE *f, const eval_classes *cls, const eval_record *rec, int label) {
    fputs("<ol class=\"small\">", f);
    for (int k = 0; k < 3 && rec->top5[k].index >= 0; k++) {
        fprintf(f, "<li>%s%.1f%% %d ", rec->top5[k].index == label ? "<b>" : "", 100.0 * rec->top5[k].prob,
                rec->top5[k].index);
        cli_html_text(f, cls->names[rec->top5[k].index]);
        fputs(rec->top5[k].index == label ? "</b></li>" : "</li>", f);
    }
    fputs("</ol>", f);
}

static void confusions(FILE *f, const eval_tally *t, const eval_set *set, const eval_html_info *info,
                       picture_pass *pp) {
    eval_pair worst[CONFUSIONS];
    int n = eval_worst_pairs(t, worst, CONFUSIONS);
    fputs("<h2 id=\"confusions\">Most frequent confusions</h2>", f);
    if (n == 0) {
        fputs("<p>None: every top-1 was right.</p>\n", f);
        return;
    }
    fputs("<p>A true class and the class it was taken for, most frequent first, with one such photo.</p>"
          "<div class=\"cards\">\n",
          f);
    for (int p = 0; p < n; p++) {
        int ex = -1;
        for (int i = 0; i < set->n && ex < 0; i++)
            if (is_done(t, i) && set->items[i].label == worst[p].label && t->records[i].top5[0].index == worst[p].predicted)
                ex = i;
        fprintf(f, "<div class=\"card confusion\"><div><b>%d&times;</b> %d ", worst[p].count, worst[p].label);
        cli_html_text(f, t->cls->names[worst[p].label]);
        fprintf(f, " &rarr; %d ", worst[p].predicted);
        cli_html_text(f, t->cls->names[worst[p].predicted]);
        fputs("</div>", f);
        if (ex >= 0) {
            resnet_image thumb, over;
            pictures(set->items[ex].path, info->image_flags, -1, NULL, NULL, &thumb, &over);
            cli_progress_update(&pp->bar, ++pp->done);
            cli_html_img(f, &thumb, set->items[ex].name);
            fputs("<div class=\"small\">", f);
            cli_html_text(f, set->items[ex].name);
            fputs("</div>", f);
            resnet_image_free(&thumb);
        }
        fputs("</div>\n", f);
    }
    fputs("</div>\n", f);
}

static void mistakes(FILE *f, const eval_tally *t, const eval_set *set, const eval_html_info *info,
                     const resnet_model *m, resnet_session *s, picture_pass *pp) {
    mistake *list = malloc(((size_t)set->n + 1) * sizeof *list);
    if (!list) return;
    int n = 0;
    for (int i = 0; i < set->n; i++)
        if (is_done(t, i) && t->records[i].top5[0].index != set->items[i].label)
            list[n++] = (mistake){i, t->records[i].top5[0].prob};
    qsort(list, (size_t)n, sizeof *list, by_prob_desc);
    fputs("<h2 id=\"mistakes\">Confident mistakes</h2>", f);
    if (n == 0) {
        fputs("<p>None.</p>\n", f);
        free(list);
        return;
    }
    fprintf(f, "<p>The %d wrong top-1s with the highest confidence: the photo, where the network saw the class it "
               "gave (class activation map of one plain view) and its top 3, the true class in bold when it is "
               "there.</p><div class=\"cards\">\n",
            n < MISTAKES ? n : MISTAKES);
    for (int k = 0; k < n && k < MISTAKES; k++) {
        const eval_item *it = &set->items[list[k].item];
        const eval_record *rec = &t->records[list[k].item];
        resnet_image thumb, over;
        pictures(it->path, info->image_flags, rec->top5[0].index, m, s, &thumb, &over);
        cli_progress_update(&pp->bar, ++pp->done);
        fputs("<div class=\"card mistake\"><div class=\"small\">", f);
        cli_html_text(f, it->name);
        fprintf(f, "</div><div>true: %d ", it->label);
        cli_html_text(f, t->cls->names[it->label]);
        fputs("</div>", f);
        cli_html_img(f, &thumb, it->name);
        cli_html_img(f, &over, "class activation map");
        top3(f, t->cls, rec, it->label);
        fputs("</div>\n", f);
        resnet_image_free(&thumb);
        resnet_image_free(&over);
    }
    fputs("</div>\n", f);
    free(list);
}

static void page(FILE *f, const eval_run *r, const eval_tally *t, const eval_set *set, const eval_html_info *info,
                 const resnet_model *m, resnet_session *s) {
    fputs(RN_REPORT_HEADER "\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>resnet eval: ", f);
    cli_html_text(f, r->dir);
    fprintf(f, "</title><style>%s</style></head><body>\n<h1>resnet eval: ", style);
    cli_html_text(f, r->dir);
    fputs("</h1>\n", f);
    double l1, h1, l5, h5;
    wilson(t->top1, t->images, &l1, &h1);
    wilson(t->top5, t->images, &l5, &h5);
    fprintf(f, "<p><span id=\"images\">%d</span> photos scored", t->images);
    if (r->skipped) fprintf(f, ", <span id=\"skipped\">%d</span> skipped (named on stderr)", r->skipped);
    fprintf(f, ".</p><table><thead><tr><th></th><th>accuracy</th><th>correct</th><th>95%% interval (Wilson)</th>"
               "</tr></thead><tbody><tr><td>top-1</td><td class=\"big\" id=\"top1\">%.4f</td><td class=\"n\">"
               "<span id=\"top1-correct\">%d</span>/%d</td><td>%.4f-%.4f</td></tr><tr><td>top-%d</td><td class=\"big\" "
               "id=\"top5\">%.4f</td><td class=\"n\"><span id=\"top5-correct\">%d</span>/%d</td><td>%.4f-%.4f</td>"
               "</tr></tbody></table>\n",
            ratio(t->top1, t->images), t->top1, t->images, l1, h1, t->cls->top, ratio(t->top5, t->images), t->top5,
            t->images, l5, h5);
    int plain1 = 0, plain5 = 0, plain_n = 0;
    for (int i = 0; i < set->n; i++) {
        if (!is_done(t, i) || !t->records[i].has_plain) continue;
        plain_n++;
        plain1 += t->records[i].plain5[0].index == set->items[i].label;
        for (int k = 0; k < 5; k++) plain5 += t->records[i].plain5[k].index == set->items[i].label;
    }
    if (plain_n == t->images && plain_n > 0)
        fprintf(f, "<p id=\"tta-gain\">Test-time augmentation (%s, %d views) against the plain view alone: top-1 "
                   "<span id=\"plain-top1\">%.4f</span> &rarr; %.4f (%+.2f points), top-%d "
                   "<span id=\"plain-top5\">%.4f</span> &rarr; %.4f (%+.2f points).</p>\n",
                resnet_tta_name(r->tta), r->views, ratio(plain1, plain_n), ratio(t->top1, t->images),
                100 * (ratio(t->top1, t->images) - ratio(plain1, plain_n)), t->cls->top, ratio(plain5, plain_n),
                ratio(t->top5, t->images), 100 * (ratio(t->top5, t->images) - ratio(plain5, plain_n)));
    fputs("<p class=\"small\">Sections: <a href=\"#calibration\">calibration</a>, <a href=\"#classes\">per class</a>, "
          "<a href=\"#confusions\">confusions</a>, <a href=\"#mistakes\">confident mistakes</a>, "
          "<a href=\"#settings\">settings</a>.</p>\n",
          f);
    calibration(f, t, set);
    per_class(f, t, set);
    eval_pair worst[CONFUSIONS];
    int wrong = 0, npics = eval_worst_pairs(t, worst, CONFUSIONS);
    for (int i = 0; i < set->n; i++) wrong += is_done(t, i) && t->records[i].top5[0].index != set->items[i].label;
    npics += wrong < MISTAKES ? wrong : MISTAKES;
    picture_pass pp = {{0}, 0};
    cli_progress_start(&pp.bar, npics, "pictures");
    confusions(f, t, set, info, &pp);
    mistakes(f, t, set, info, m, s, &pp);
    cli_progress_clear(&pp.bar);
    settings(f, r, info);
    fprintf(f, "<script>%s</script>\n</body></html>\n", script);
}

int eval_report_html(const char *path, const eval_run *r, const eval_tally *t, const eval_set *set,
                     const eval_html_info *info, const resnet_model *m, resnet_session *s) {
    rn_atomic_file af;
    resnet_error err;
    if (rn_atomic_open(&af, path, &err) != RESNET_OK) return cli_error("--report %s", err.message);
    FILE *f = rn_atomic_stdio(&af, &err);
    if (!f) {
        rn_atomic_abort(&af);
        return cli_error("--report %s", err.message);
    }
    page(f, r, t, set, info, m, s);
    if (ferror(f)) {
        rn_atomic_abort(&af);
        return cli_error("--report %s: write error", path);
    }
    if (rn_atomic_commit(&af, &err) != RESNET_OK) return cli_error("--report %s", err.message);
    return 0;
}
