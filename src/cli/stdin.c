/* stdin.c - the photos of a command line through the library's runner (resnet_run), with "-"
 * as a photo: `cat x.jpg | resnet classify -`. "-" reads standard input once into memory and
 * is a memory item in its place in the list, so results stay in the order of the arguments
 * and the photos around it are still decoded ahead. Entries that carry an error already (a
 * folder that could not be listed) are items with that error, reported in their place. */
#include <string.h>

#include "cli/cli.h"

int cli_is_stdin(const char *path) { return strcmp(path, CLI_STDIN_NAME) == 0; }

typedef struct photo_source {
    char *const *paths, *const *errors;
    int n, next;
    resnet_error stdin_err; /* why standard input could not be read */
} photo_source;

/* Runs on the runner's decoding thread. */
static int next_photo(void *vctx, int may_block, resnet_item *item) {
    photo_source *p = vctx;
    (void)may_block;
    if (p->next == p->n) return RESNET_SOURCE_END;
    const int i = p->next++;
    if (p->errors && p->errors[i]) {
        item->name = p->paths[i];
        item->error = p->errors[i];
    } else if (cli_is_stdin(p->paths[i])) {
        item->name = CLI_STDIN_NAME;
        item->data = cli_stdin_bytes(&item->size, &p->stdin_err);
        if (!item->data) item->error = p->stdin_err.message;
    } else {
        item->path = p->paths[i];
    }
    return RESNET_SOURCE_ITEM;
}

resnet_status cli_run_photos(resnet_session *s, char *const *paths, char *const *errors, int n, resnet_tta tta,
                             int want, resnet_item_fn fn, void *ctx, resnet_error *err) {
    if (n <= 0) return RESNET_OK;
    photo_source p = {paths, errors, n, 0, {0}};
    resnet_run_options o;
    resnet_run_options_init(&o);
    o.want = want;
    o.tta = tta;
    return resnet_run(s, next_photo, &p, fn, ctx, &o, err);
}
