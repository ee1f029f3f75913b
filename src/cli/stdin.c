/* stdin.c - "-" as a photo: `cat x.jpg | resnet classify -`. The library reads photos from
 * files or from memory (resnet_preprocess_views_memory); "-" reads standard input once into
 * memory and takes the memory path, in the place of the list where "-" stands, so results
 * stay in the order of the arguments. (Also here: entries that carry an error already.) */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common.h"
#include "image/image.h"

#define IN_FLOATS ((size_t)3 * RESNET_INPUT_SIZE * RESNET_INPUT_SIZE)

int cli_is_stdin(const char *path) { return strcmp(path, CLI_STDIN_NAME) == 0; }

/* Preprocesses the views of standard input's photo into input (n x 3x224x224). */
static resnet_status stdin_views(const resnet_session *s, const resnet_view *views, int n, float *input,
                                 resnet_error *err) {
    size_t size;
    const unsigned char *data = cli_stdin_bytes(&size, err);
    if (!data) return RESNET_E_IO;
    /* with the session's image flags (--exif-orientation), as the files get them */
    return rn_preprocess_views_memory_ex(data, size, CLI_STDIN_NAME, resnet_model_norm(resnet_session_model(s)),
                                         rn_session_image_flags(s), views, n, input, err);
}

resnet_status cli_classify_photo(resnet_session *s, const char *path, resnet_tta mode, int k, resnet_prediction *top,
                                 resnet_error *err) {
    if (!cli_is_stdin(path)) return resnet_classify_file_tta(s, path, mode, k, top, err);
    resnet_view views[RESNET_TTA_MAX_VIEWS];
    const int n = resnet_tta_views(mode, views);
    float *input = malloc((size_t)n * IN_FLOATS * sizeof(float));
    float *logits = malloc((size_t)n * RESNET_NUM_CLASSES * sizeof(float));
    resnet_status st = RESNET_E_NOMEM;
    snprintf(err->message, sizeof err->message, "-: out of memory");
    if (input && logits) st = stdin_views(s, views, n, input, err);
    if (st == RESNET_OK) st = resnet_forward(s, input, n, logits, NULL, err);
    if (st == RESNET_OK) {
        resnet_tta_average(logits, n, logits);
        resnet_top_k(logits, RESNET_NUM_CLASSES, k, top);
    }
    free(input);
    free(logits);
    return st;
}

/* Standard input's photo through the network, handed to fn as resnet_run_files would. */
static int run_stdin(resnet_session *s, int index, int want, resnet_file_fn fn, void *ctx) {
    resnet_view plain = {256, RESNET_CROP_CENTER, 0};
    float *input = malloc(IN_FLOATS * sizeof(float));
    float *logits = malloc(RESNET_NUM_CLASSES * sizeof(float));
    float *feats = malloc(RESNET_FEATURE_DIM * sizeof(float));
    resnet_error err;
    resnet_status st = RESNET_E_NOMEM;
    snprintf(err.message, sizeof err.message, "-: out of memory");
    if (input && logits && feats) st = stdin_views(s, &plain, 1, input, &err);
    if (st == RESNET_OK) st = resnet_forward(s, input, 1, logits, feats, &err);
    resnet_file_result r = {index, CLI_STDIN_NAME, st, st == RESNET_OK ? "" : err.message,
                            st == RESNET_OK && (want & RESNET_WANT_LOGITS) ? logits : NULL,
                            st == RESNET_OK && (want & RESNET_WANT_FEATURES) ? feats : NULL};
    int stop = fn(ctx, &r);
    free(input);
    free(logits);
    free(feats);
    return stop;
}

/* Passes the caller's callback the index in the whole list, not in the stretch run. */
typedef struct shifted {
    resnet_file_fn fn;
    void *ctx;
    int offset, stopped;
} shifted;

static int on_shifted(void *vctx, const resnet_file_result *r) {
    shifted *x = vctx;
    resnet_file_result copy = *r;
    copy.index += x->offset;
    return x->stopped = x->fn(x->ctx, &copy);
}

resnet_status cli_run_files(resnet_session *s, char *const *paths, char *const *errors, int n, int want,
                            resnet_file_fn fn, void *ctx, resnet_error *err) {
    int i = 0;
    while (i < n) {
        if (errors && errors[i]) {
            resnet_file_result r = {i, paths[i], RESNET_E_IO, errors[i], NULL, NULL};
            if (fn(ctx, &r)) return RESNET_OK;
            i++;
            continue;
        }
        if (cli_is_stdin(paths[i])) {
            if (run_stdin(s, i, want, fn, ctx)) return RESNET_OK;
            i++;
            continue;
        }
        int j = i;
        while (j < n && !cli_is_stdin(paths[j]) && !(errors && errors[j])) j++;
        shifted x = {fn, ctx, i, 0};
        resnet_status st = resnet_run_files(s, (const char *const *)paths + i, j - i, want, on_shifted, &x, err);
        if (st != RESNET_OK || x.stopped) return st;
        i = j;
    }
    return RESNET_OK;
}
