/* classify_folder.c - an example of the public API alone: classify every photo under a
 * folder, with ImageNet's classes or with a head made by `resnet train-head`.
 *
 *     cc classify_folder.c $(pkg-config --cflags --libs resnet) -o classify_folder
 *     ./classify_folder WEIGHTS.safetensors DIR [HEAD.safetensors]
 *
 * Prints "file<TAB>class<TAB>probability" per photo, and the unreadable ones on stderr. */
#include <stdio.h>
#include <stdlib.h>

#include <resnet.h>

typedef struct ctx {
    const resnet_head *head;   /* NULL: the network's own classes */
    const resnet_model *model;
    float *probs;
    int ok, failed;
} ctx;

/* Called once per photo, in the listing's order, while the next photos are being decoded. */
static int on_photo(void *vctx, const resnet_file_result *r) {
    ctx *c = vctx;
    if (r->status != RESNET_OK) {
        fprintf(stderr, "skipped: %s\n", r->message);
        c->failed++;
        return 0; /* go on */
    }
    resnet_prediction top;
    resnet_error err;
    if (c->head) {
        if (resnet_head_predict(c->head, r->features, 1, c->probs, &err) != RESNET_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1; /* stop */
        }
        resnet_top_k(c->probs, resnet_head_classes(c->head), 1, &top);
        printf("%s\t%s\t%.4f\n", r->path, resnet_head_class_name(c->head, top.index), top.prob);
    } else {
        char name[32];
        resnet_softmax(r->logits, resnet_model_classes(c->model), c->probs);
        resnet_top_k(c->probs, resnet_model_classes(c->model), 1, &top);
        printf("%s\t%s\t%.4f\n", r->path, resnet_model_class_label(c->model, top.index, name, sizeof name), top.prob);
    }
    c->ok++;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s WEIGHTS.safetensors DIR [HEAD.safetensors]\n", argv[0]);
        return 2;
    }
    resnet_error err;
    resnet_model *model = NULL;
    resnet_session *session = NULL;
    resnet_head *head = NULL;
    resnet_file_list photos = {0};
    ctx c = {0};
    int rc = 1;
    if (argc == 4 && resnet_head_load(argv[3], &head, &err) != RESNET_OK) goto fail;
    if (resnet_list_images(argv[2], &photos, &err) != RESNET_OK) goto fail;
    for (int i = 0; i < photos.n_problems; i++) fprintf(stderr, "skipped: %s\n", photos.problems[i]);
    if (resnet_model_load(argv[1], NULL, &model, &err) != RESNET_OK) goto fail;
    /* resnet_head_predict reads as many features as the head was trained on: a head made on
     * another network's features would be fed a shorter (or longer) vector than it takes */
    if (head && resnet_head_dim(head) != resnet_model_feature_dim(model)) {
        fprintf(stderr, "%s: the head takes %d features, the network gives %d\n", argv[3], resnet_head_dim(head),
                resnet_model_feature_dim(model));
        goto done;
    }
    /* all cores for the convolutions, 4 photos per forward pass */
    if (resnet_session_create(model, 0, 4, &session, &err) != RESNET_OK) goto fail;
    c.head = head;
    c.model = model;
    c.probs = malloc((size_t)(head ? resnet_head_classes(head) : resnet_model_classes(model)) * sizeof(float));
    if (!c.probs) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }
    if (resnet_run_files(session, (const char *const *)photos.paths, photos.count,
                         head ? RESNET_WANT_FEATURES : RESNET_WANT_LOGITS, on_photo, &c, &err) != RESNET_OK)
        goto fail;
    fprintf(stderr, "%d classified, %d skipped\n", c.ok, c.failed + photos.n_problems);
    rc = c.failed || photos.n_problems ? 1 : 0;
    goto done;
fail:
    fprintf(stderr, "%s\n", err.message);
done:
    free(c.probs);
    resnet_file_list_free(&photos);
    resnet_session_free(session);
    resnet_model_free(model);
    resnet_head_free(head);
    return rc;
}
