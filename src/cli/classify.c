/* classify.c - `resnet classify PHOTO...`: the top-k classes of each photo. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void print_text(const char *file, const resnet_prediction *top, int k) {
    printf("%s\n", file);
    for (int i = 0; i < k; i++)
        printf("  %6.2f%%  %3d  %s\n", 100.0 * top[i].prob, top[i].index, resnet_class_name(top[i].index));
}

static void print_json(const char *file, const resnet_prediction *top, int k) {
    fputs("{\"file\": ", stdout);
    cli_json_string(stdout, file);
    fputs(", \"top\": [", stdout);
    for (int i = 0; i < k; i++) {
        printf("%s{\"index\": %d, \"name\": ", i ? ", " : "", top[i].index);
        cli_json_string(stdout, resnet_class_name(top[i].index));
        printf(", \"prob\": %.6g}", top[i].prob);
    }
    fputs("]}\n", stdout);
}

int cmd_classify(int argc, char **argv) {
    cli_common common = {.kernels = RESNET_KERNELS_AUTO};
    int k = 5, json = 0, nfiles = 0;
    resnet_tta tta = RESNET_TTA_NONE;
    const char *head = NULL; /* --head FILE: a trained head's classes instead of ImageNet's */
    char **files = calloc((size_t)argc, sizeof *files);
    if (!files) return cli_error("out of memory");
    for (int i = 1; i < argc; i++) {
        int r = cli_common_flag(&common, argc, argv, &i);
        if (r < 0) { free(files); return 2; }
        if (r > 0) continue;
        if (strcmp(argv[i], "-k") == 0 || strcmp(argv[i], "--top") == 0) {
            if (cli_parse_int(argv[i], i + 1 < argc ? argv[i + 1] : NULL, 1, RESNET_NUM_CLASSES, &k)) {
                free(files);
                return 2;
            }
            i++;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--tta") == 0) {
            if (cli_parse_tta(i + 1 < argc ? argv[i + 1] : NULL, &tta)) {
                free(files);
                return 2;
            }
            i++;
        } else if (strcmp(argv[i], "--head") == 0) {
            if (i + 1 >= argc) {
                free(files);
                return cli_usage_error("classify: --head needs a file (made by resnet train-head)");
            }
            head = argv[++i];
        } else if (strcmp(argv[i], "--") == 0) {
            while (++i < argc) files[nfiles++] = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            free(files);
            return cli_usage_error("classify: unknown option '%s'", argv[i]);
        } else {
            files[nfiles++] = argv[i];
        }
    }
    if (nfiles == 0) {
        free(files);
        return cli_usage_error("classify: no photo given");
    }
    int folders = 0;
    for (int i = 0; i < nfiles && !head; i++) folders += cli_is_dir(files[i]);
    if (head || folders) { /* folders and heads: classify_many.c (pipelined, with a summary) */
        int rc = cli_classify_many(&common, files, nfiles, k, json, head, tta);
        free(files);
        return rc;
    }
    resnet_model *model = cli_load_model(&common);
    if (!model) { free(files); return 1; }
    resnet_session *session = NULL;
    resnet_error err;
    /* the views of a photo run as one batch */
    if (resnet_session_create(model, common.threads, resnet_tta_views(tta, NULL), &session, &err) != RESNET_OK) {
        resnet_model_free(model);
        free(files);
        return cli_error("%s", err.message);
    }
    resnet_session_set_image_flags(session, common.image_flags);
    int failed = 0;
    resnet_prediction top[RESNET_NUM_CLASSES];
    for (int i = 0; i < nfiles; i++) {
        /* One bad photo is reported and skipped; the others are still classified. */
        if (resnet_classify_file_tta(session, files[i], tta, k, top, &err) != RESNET_OK) {
            cli_error("%s", err.message);
            failed++;
            continue;
        }
        if (json) print_json(files[i], top, k);
        else print_text(files[i], top, k);
        fflush(stdout);
    }
    resnet_session_free(session);
    resnet_model_free(model);
    free(files);
    return failed ? 1 : 0;
}
