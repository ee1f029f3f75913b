/* tta-study.c - how the views of `resnet --tta multiscale` were chosen (docs/performance.md, "Test-time augmentation").
 *
 * Step 1 (slow: 16 forward passes per photo) runs every candidate view of every photo of a
 * labelled folder once and stores the softmax of each view; step 2 tries every candidate mode
 * (a set of those views, averaged with equal weights) on the images of the even lines of
 * labels.tsv, picks the best, and reports it on the odd lines (never looked at while choosing)
 * and on the whole set.
 *
 *   cc -O2 -Iinclude tools/tta-study.c build/libresnet.a -lpng -ljpeg -lm -pthread -o build/tta-study
 *   build/tta-study dump ../shared/images/val1300 build/tta-views.f32 [weights]   # resumable
 *   build/tta-study select ../shared/images/val1300 build/tta-views.f32
 *
 * Candidates: the union of centre crops at a set of scales (any non-empty subset of 224, 256,
 * 288, 320), with or without the four corners at 256, with or without mirrors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resnet.h"

#define NVIEWS 16
#define IN_FLOATS (3 * RESNET_INPUT_SIZE * RESNET_INPUT_SIZE)
#define MAX_IMAGES 100000

static const resnet_view candidates[NVIEWS] = {
    {256, RESNET_CROP_CENTER, 0},       {256, RESNET_CROP_CENTER, 1},
    {224, RESNET_CROP_CENTER, 0},       {224, RESNET_CROP_CENTER, 1},
    {288, RESNET_CROP_CENTER, 0},       {288, RESNET_CROP_CENTER, 1},
    {320, RESNET_CROP_CENTER, 0},       {320, RESNET_CROP_CENTER, 1},
    {256, RESNET_CROP_TOP_LEFT, 0},     {256, RESNET_CROP_TOP_LEFT, 1},
    {256, RESNET_CROP_TOP_RIGHT, 0},    {256, RESNET_CROP_TOP_RIGHT, 1},
    {256, RESNET_CROP_BOTTOM_LEFT, 0},  {256, RESNET_CROP_BOTTOM_LEFT, 1},
    {256, RESNET_CROP_BOTTOM_RIGHT, 0}, {256, RESNET_CROP_BOTTOM_RIGHT, 1},
};
static const int scales[4] = {224, 256, 288, 320};

static char *files[MAX_IMAGES];
static int labels[MAX_IMAGES];

/* labels.tsv: header, then file TAB class index; rows with a label outside 0..999 are skipped. */
static int read_labels(const char *dir) {
    char path[4096], line[4096];
    snprintf(path, sizeof path, "%s/labels.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    int n = 0;
    while (fgets(line, sizeof line, f) && n < MAX_IMAGES) {
        char file[2048];
        int label;
        if (sscanf(line, "%2047[^\t]\t%d", file, &label) != 2 || label < 0 || label >= RESNET_NUM_CLASSES) continue;
        files[n] = strdup(file);
        labels[n++] = label;
    }
    fclose(f);
    return n;
}

static int dump(const char *dir, const char *out, const char *weights) {
    int n = read_labels(dir);
    FILE *f = fopen(out, "ab");
    if (!f) {
        perror(out);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    const long per_image = (long)NVIEWS * RESNET_NUM_CLASSES * sizeof(float);
    int done = (int)(ftell(f) / per_image);
    if (ftell(f) % per_image) {
        fprintf(stderr, "%s: size is not a whole number of images; remove it\n", out);
        return 1;
    }
    resnet_error err;
    resnet_model *m;
    resnet_session *s;
    if (resnet_model_load(weights, NULL, &m, &err) || resnet_session_create(m, 2, NVIEWS, &s, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    float *input = malloc((size_t)NVIEWS * IN_FLOATS * sizeof(float));
    float *logits = malloc((size_t)NVIEWS * RESNET_NUM_CLASSES * sizeof(float));
    for (int i = done; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (resnet_preprocess_views_file(path, resnet_model_norm(m), candidates, NVIEWS, input, &err) ||
            resnet_forward(s, input, NVIEWS, logits, NULL, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        for (int v = 0; v < NVIEWS; v++) {
            float *l = logits + (size_t)v * RESNET_NUM_CLASSES;
            resnet_softmax(l, RESNET_NUM_CLASSES, l);
        }
        fwrite(logits, sizeof(float), (size_t)NVIEWS * RESNET_NUM_CLASSES, f);
        fflush(f);
        if (i % 50 == 0) fprintf(stderr, "%d/%d\n", i, n);
    }
    fclose(f);
    return 0;
}

/* top-1 and top-5 hits of the mean of the selected views (bit v of mask) over images i with
 * i % 2 == parity (parity -1: all). */
static void score(const float *p, int n, unsigned mask, int parity, int *t1, int *t5, int *count) {
    *t1 = *t5 = *count = 0;
    float avg[RESNET_NUM_CLASSES];
    for (int i = 0; i < n; i++) {
        if (parity >= 0 && i % 2 != parity) continue;
        memset(avg, 0, sizeof avg);
        for (int v = 0; v < NVIEWS; v++) {
            if (!(mask >> v & 1)) continue;
            const float *q = p + ((size_t)i * NVIEWS + v) * RESNET_NUM_CLASSES;
            for (int c = 0; c < RESNET_NUM_CLASSES; c++) avg[c] += q[c];
        }
        resnet_prediction top[5];
        resnet_top_k(avg, RESNET_NUM_CLASSES, 5, top);
        *t1 += top[0].index == labels[i];
        for (int k = 0; k < 5; k++) *t5 += top[k].index == labels[i];
        (*count)++;
    }
}

static void describe(unsigned mask, char *buf, size_t size) {
    int len = 0;
    buf[0] = '\0';
    for (int v = 0; v < NVIEWS && (size_t)len < size; v += 2) {
        if (!(mask >> v & 3)) continue; /* the view or its mirror */
        const char *pos[] = {"c", "tl", "tr", "bl", "br"};
        len += snprintf(buf + len, size - (size_t)len, "%s%d%s", len ? "," : "", candidates[v].resize,
                        pos[candidates[v].crop]);
    }
    if (mask & 0xAAAAu) snprintf(buf + len, size - (size_t)len, " +mirrors"); /* the odd views are mirrors */
}

static int select_mode(const char *dir, const char *in) {
    int n = read_labels(dir);
    size_t floats = (size_t)n * NVIEWS * RESNET_NUM_CLASSES;
    float *p = malloc(floats * sizeof(float));
    FILE *f = fopen(in, "rb");
    if (!p || !f || fread(p, sizeof(float), floats, f) != floats) {
        fprintf(stderr, "%s: cannot read %d images' views (run dump first)\n", in, n);
        return 1;
    }
    fclose(f);
    /* best[0]: chosen on the even lines (the protocol); best[1]: on the odd ones, only to see
     * whether the gain holds when the halves swap roles */
    unsigned best[2] = {0, 0};
    int best_t1[2] = {-1, -1}, best_views[2] = {0, 0};
    printf("%-40s %5s  %-15s %-15s %-15s\n", "views", "n", "even top1/top5", "odd top1/top5", "all top1/top5");
    for (unsigned subset = 1; subset < 16; subset++)
        for (int corners = 0; corners < 2; corners++)
            for (int mirrors = 0; mirrors < 2; mirrors++) {
                unsigned mask = 0;
                for (int s = 0; s < 4; s++)
                    if (subset >> s & 1)
                        for (int v = 0; v < NVIEWS; v += 2)
                            if (candidates[v].resize == scales[s] && candidates[v].crop == RESNET_CROP_CENTER) mask |= 1u << v;
                if (corners) mask |= 0x5500; /* the unmirrored corners */
                if (mirrors) mask |= mask << 1;
                int views = __builtin_popcount(mask), t1[3], t5[3], c[3];
                for (int part = 0; part < 3; part++) score(p, n, mask, part == 2 ? -1 : part, &t1[part], &t5[part], &c[part]);
                char name[128];
                describe(mask, name, sizeof name);
                printf("%-40s %5d  %.4f / %.4f  %.4f / %.4f  %.4f / %.4f\n", name, views, (double)t1[0] / c[0],
                       (double)t5[0] / c[0], (double)t1[1] / c[1], (double)t5[1] / c[1], (double)t1[2] / c[2],
                       (double)t5[2] / c[2]);
                /* chosen on one half only; a tie goes to the mode with fewer views */
                for (int h = 0; h < 2; h++)
                    if (t1[h] > best_t1[h] || (t1[h] == best_t1[h] && views < best_views[h])) {
                        best[h] = mask;
                        best_t1[h] = t1[h];
                        best_views[h] = views;
                    }
            }
    for (int h = 0; h < 2; h++) {
        char name[128];
        describe(best[h], name, sizeof name);
        printf("\n%s on the %s lines: %s (%d views)\n", h ? "check, the halves swapped: chosen" : "chosen",
               h ? "odd" : "even", name, best_views[h]);
        const char *part_name[2][3] = {{"even (chosen on)", "odd (held out)", "all"},
                                       {"even (held out)", "odd (chosen on)", "all"}};
        for (int part = 0; part < 3; part++) {
            int a1, a5, ac, b1, b5, bc;
            score(p, n, 1, part == 2 ? -1 : part, &a1, &a5, &ac);
            score(p, n, best[h], part == 2 ? -1 : part, &b1, &b5, &bc);
            printf("  %-17s %4d images: plain %.4f / %.4f, chosen %.4f / %.4f (%+.2f points top-1)\n",
                   part_name[h][part], ac, (double)a1 / ac, (double)a5 / ac, (double)b1 / bc, (double)b5 / bc,
                   100.0 * (b1 - a1) / ac);
        }
    }
    free(p);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "dump") == 0) {
        const char *w = argc > 4 ? argv[4] : getenv("RESNET_WEIGHTS");
        if (!w) {
            fprintf(stderr, "tta-study dump: give the weight file (or set RESNET_WEIGHTS)\n");
            return 2;
        }
        return dump(argv[2], argv[3], w);
    }
    if (argc == 4 && strcmp(argv[1], "select") == 0) return select_mode(argv[2], argv[3]);
    fprintf(stderr, "usage: tta-study dump DIR OUT [WEIGHTS] | tta-study select DIR OUT\n");
    return 2;
}
