/* classify_html.c - `resnet classify PHOTO|DIR... --report OUT.html`: a contact sheet of
 * unlabelled photos, one self-contained page (the thumbnails inside it, as data: URIs):
 * the photos grouped by their top-1 class, the classes with most photos first, each photo a
 * thumbnail with its name and the probability of that class (a one-output network's photos
 * are grouped by its probability, 0.5 or more or less); the photos that could not be read
 * listed at the end. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/classify.h"
#include "cli/html.h"
#include "io/atomic.h"

#define PER_CLASS 60 /* thumbnails shown per class; the rest are counted */

static const char style[] =
    "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#222}"
    "h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}"
    ".sheet{display:flex;flex-wrap:wrap;gap:10px}.photo{width:132px;font-size:11px;color:#555;overflow-wrap:anywhere}"
    ".missing{color:#999;font-style:italic}.small{color:#666;font-size:12px}";

typedef struct group {
    int cls, n;
} group;

static int by_count(const void *a, const void *b) {
    const group *x = a, *y = b;
    return x->n != y->n ? y->n - x->n : x->cls - y->cls;
}

/* Photo i's group: its top-1 class, -1 when it could not be read. A one-output network (a
 * binary classifier) is every photo's top-1, so its photos go by their probability instead:
 * group 0 its class (p >= 0.5), group 1 the rest. */
static int group_of(const classify_sheet *sh, int i) {
    if (sh->top1[i] < 0) return -1;
    return sh->classes == 1 && !(sh->prob[i] >= 0.5f) ? 1 : sh->top1[i];
}

static void page(FILE *f, const classify_sheet *sh, unsigned flags, cli_progress *bar) {
    const int binary = sh->classes == 1;
    int nc = binary ? 2 : sh->classes, shown_total = 0, pictures = 0, failed = 0;
    group *g = calloc((size_t)nc, sizeof *g);
    if (!g) return;
    for (int c = 0; c < nc; c++) g[c].cls = c;
    for (int i = 0; i < sh->n; i++) {
        if (group_of(sh, i) >= 0) g[group_of(sh, i)].n++;
        else failed++;
    }
    qsort(g, (size_t)nc, sizeof *g, by_count);
    for (int c = 0; c < nc && g[c].n; c++) pictures += g[c].n < PER_CLASS ? g[c].n : PER_CLASS;
    cli_progress_start(bar, pictures, "pictures");
    fputs(RN_REPORT_HEADER "\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>resnet classify</title><style>",
          f);
    fputs(style, f);
    int groups = 0;
    for (int c = 0; c < nc && g[c].n; c++) groups++;
    fprintf(f, "</style></head><body>\n<h1>resnet classify: a contact sheet</h1>\n<p><span id=\"photos\">%d</span> "
               "photos, grouped by their %s (<span id=\"groups\">%d</span> %s, most photos first)%s.</p>\n",
            sh->n - failed, binary ? "one class's probability, 0.5 or more or less" : "top-1 class", groups,
            binary ? "groups" : "classes", failed ? ", then those that could not be read" : "");
    for (int c = 0; c < nc && g[c].n; c++) {
        fprintf(f, "<h2 class=\"group\">%d &times; %s", g[c].n, binary && g[c].cls == 1 ? "not " : "");
        cli_html_text(f, sh->name(sh->ctx, binary ? 0 : g[c].cls));
        if (binary) fprintf(f, " <span class=\"small\">(p %s 0.5)</span>", g[c].cls ? "&lt;" : "&ge;");
        else fprintf(f, " <span class=\"small\">(%d)</span>", g[c].cls);
        fputs("</h2><div class=\"sheet\">\n", f);
        int shown = 0;
        for (int i = 0; i < sh->n && shown < PER_CLASS; i++) {
            if (group_of(sh, i) != g[c].cls) continue;
            resnet_image img = {0}, thumb = {0};
            resnet_error err;
            if (!cli_is_stdin(sh->paths[i]) && resnet_image_load_ex(sh->paths[i], flags, &img, &err) == RESNET_OK)
                cli_html_thumbnail(&img, &thumb);
            fputs("<div class=\"photo\">", f);
            cli_html_img(f, &thumb, sh->paths[i]);
            fputs("<br>", f);
            cli_html_text(f, sh->paths[i]);
            fprintf(f, " %.1f%%</div>\n", 100.0 * sh->prob[i]);
            resnet_image_free(&img);
            resnet_image_free(&thumb);
            shown++;
            shown_total++;
            cli_progress_update(bar, shown_total);
        }
        if (g[c].n > shown) fprintf(f, "<p class=\"more\">and %d more</p>", g[c].n - shown);
        fputs("</div>\n", f);
    }
    if (failed) {
        fputs("<h2 id=\"unreadable\">Could not be read</h2><ul>\n", f);
        for (int i = 0; i < sh->n; i++)
            if (sh->top1[i] < 0) {
                fputs("<li>", f);
                cli_html_text(f, sh->paths[i]);
                fputs("</li>\n", f);
            }
        fputs("</ul>\n", f);
    }
    fputs("</body></html>\n", f);
    cli_progress_clear(bar);
    free(g);
}

int classify_report_html(const char *path, const classify_sheet *sh, unsigned image_flags) {
    rn_atomic_file af;
    resnet_error err;
    cli_progress bar = {0};
    if (rn_atomic_open(&af, path, &err) != RESNET_OK) return cli_error("--report %s", err.message);
    FILE *f = rn_atomic_stdio(&af, &err);
    if (!f) {
        rn_atomic_abort(&af);
        return cli_error("--report %s", err.message);
    }
    page(f, sh, image_flags, &bar);
    if (ferror(f)) {
        rn_atomic_abort(&af);
        return cli_error("--report %s: write error", path);
    }
    if (rn_atomic_commit(&af, &err) != RESNET_OK) return cli_error("--report %s", err.message);
    return 0;
}
