/* classify.h - classify --report's contact sheet (classify_html.c). */
#ifndef RN_CLI_CLASSIFY_H
#define RN_CLI_CLASSIFY_H

/* What the sheet shows: each photo of the run, in order, with its top-1 class (-1: it could
 * not be classified) and that class's probability; class names from name(ctx, class). */
typedef struct classify_sheet {
    int n, classes;
    char *const *paths;
    const int *top1;
    const float *prob;
    const char *(*name)(const void *ctx, int cls);
    const void *ctx;
} classify_sheet;

/* Writes the page at path through the atomic writer; 0, or 1 after printing why. */
int classify_report_html(const char *path, const classify_sheet *sheet, unsigned image_flags);

#endif
