/* cam.c - `resnet cam PHOTO [-c CLASS] -o OUT.png`: where in the photo the network saw the
 * class. The 7x7 class activation map of the class is upsampled bilinearly over the part of
 * the photo the network sees (the centre crop), coloured and blended over the photo at its
 * own size; what lies outside the crop is shown grey (the network never saw it). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/features.h"
#include "common.h"

/* A class given as an index (0..999) or a name: torchvision's short name or a WordNet id,
 * any case, '_' for ' ' ("tiger_cat"). -1 if none matches. */
static int parse_class(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end != s && *end == '\0') return v >= 0 && v < RESNET_NUM_CLASSES ? (int)v : -1;
    char want[128];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof want) return -1;
    for (size_t i = 0; i <= n; i++) want[i] = s[i] == '_' ? ' ' : s[i];
    for (int c = 0; c < RESNET_NUM_CLASSES; c++) {
        const char *name = resnet_class_name(c), *wnid = resnet_class_wnid(c);
        if ((name && strcasecmp(name, want) == 0) || (wnid && strcasecmp(wnid, s) == 0)) return c;
    }
    return -1;
}

int cmd_cam(int argc, char **argv) {
    cli_common common = {0};
    const char *photo = NULL, *out = NULL, *class_arg = NULL;
    double opacity = 0.5;
    for (int i = 1; i < argc; i++) {
        int r = cli_common_flag(&common, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (!v) return cli_usage_error("cam: %s needs a file name", a);
            out = v;
            i++;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--class") == 0) {
            if (!v) return cli_usage_error("cam: %s needs a class (index or name)", a);
            class_arg = v;
            i++;
        } else if (strcmp(a, "--opacity") == 0) {
            char *end;
            opacity = v ? strtod(v, &end) : -1;
            if (!v || *end != '\0' || end == v || !(opacity >= 0 && opacity <= 1))
                return cli_usage_error("cam: --opacity needs a number from 0 to 1, got '%s'", v ? v : "");
            i++;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage_error("cam: unknown option '%s'", a);
        } else if (!photo) {
            photo = a;
        } else {
            return cli_usage_error("cam: one photo at a time ('%s' is a second)", a);
        }
    }
    if (!photo) return cli_usage_error("cam: no photo given");
    if (!out) return cli_usage_error("cam: -o OUT.png is required (where to write the picture)");
    int cls = -1;
    if (class_arg && (cls = parse_class(class_arg)) < 0)
        return cli_usage_error("cam: unknown class '%s' (an index 0-999 or a name such as 'tiger cat')", class_arg);
    char *photos[1] = {(char *)photo};
    if (cli_check_output(out, RN_KIND_PNG, &common, photos, 1, NULL, 0) != 0) return 1;

    /* The photo first: a bad photo should not cost a model load. */
    resnet_error err;
    resnet_image img = {0}, shown = {0};
    if (resnet_image_load(photo, &img, &err) != RESNET_OK) return cli_error("%s", err.message);
    int rc = 1;
    resnet_model *model = NULL;
    resnet_session *s = NULL;
    float *input = malloc((size_t)3 * RESNET_INPUT_SIZE * RESNET_INPUT_SIZE * sizeof(float));
    float *logits = malloc(RESNET_NUM_CLASSES * sizeof(float));
    float *maps = malloc((size_t)RESNET_NUM_CLASSES * RESNET_MAP_CELLS * sizeof(float));
    float *heat = malloc((size_t)img.width * img.height * sizeof(float));
    if (!input || !logits || !maps || !heat) {
        cli_error("out of memory");
        goto done;
    }
    if (!(model = cli_load_model(&common))) goto done;
    if (resnet_session_create(model, common.threads, 1, &s, &err) != RESNET_OK ||
        resnet_preprocess_image(&img, resnet_model_norm(model), input, &err) != RESNET_OK) {
        cli_error("%s: %s", photo, err.message);
        goto done;
    }
    resnet_outputs o = {logits, NULL, NULL, maps};
    if (resnet_forward_ex(s, input, 1, &o, &err) != RESNET_OK) {
        cli_error("%s", err.message);
        goto done;
    }
    if (!rn_all_finite(logits, RESNET_NUM_CLASSES) || !rn_all_finite(maps, (size_t)RESNET_NUM_CLASSES * RESNET_MAP_CELLS)) {
        cli_error("%s: " RN_NONFINITE_MSG, photo);
        goto done;
    }
    resnet_softmax(logits, RESNET_NUM_CLASSES, logits);
    if (cls < 0) {
        resnet_prediction top;
        resnet_top_k(logits, RESNET_NUM_CLASSES, 1, &top);
        cls = top.index;
    }
    if (resnet_cam_heatmap(maps + (size_t)cls * RESNET_MAP_CELLS, img.width, img.height, heat, &err) != RESNET_OK ||
        resnet_cam_overlay(&img, heat, (float)opacity, &shown, &err) != RESNET_OK ||
        resnet_image_write_png(&shown, out, &err) != RESNET_OK) {
        cli_error("%s", err.message);
        goto done;
    }
    size_t hot = 0;
    for (size_t i = 1; i < (size_t)img.width * img.height; i++)
        if (heat[i] > heat[hot]) hot = i;
    printf("%s: class %d %s (%.2f%%), hottest at x=%d y=%d of %dx%d\n", out, cls, resnet_class_name(cls),
           100.0 * logits[cls], (int)(hot % (size_t)img.width), (int)(hot / (size_t)img.width), img.width,
           img.height);
    rc = 0;
done:
    resnet_image_free(&img);
    resnet_image_free(&shown);
    resnet_session_free(s);
    resnet_model_free(model);
    free(input);
    free(logits);
    free(maps);
    free(heat);
    return rc;
}
