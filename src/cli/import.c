/* import.c - `resnet import MODEL_JSON -o OUT`: TensorFlow.js Keras ResNet-50 -> safetensors. */
#include <string.h>

#include "cli/cli.h"
#include "io/tfjs_import.h"

int cmd_import(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    int force = 0;
    resnet_variant variant = RESNET_V1;
    resnet_norm norm = RESNET_NORM_CAFFE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (!v) return cli_usage_error("import: %s needs a file", a);
            out = v;
            i++;
        } else if (strcmp(a, "--variant") == 0) {
            if (v && strcmp(v, "v1") == 0) variant = RESNET_V1;
            else if (v && strcmp(v, "v1.5") == 0) variant = RESNET_V1_5;
            else return cli_usage_error("import: --variant must be v1 or v1.5, got '%s'", v ? v : "");
            i++;
        } else if (strcmp(a, "--norm") == 0) {
            if (v && strcmp(v, "caffe") == 0) norm = RESNET_NORM_CAFFE;
            else if (v && strcmp(v, "torch") == 0) norm = RESNET_NORM_TORCH;
            else return cli_usage_error("import: --norm must be caffe or torch, got '%s'", v ? v : "");
            i++;
        } else if (strcmp(a, "--force") == 0) {
            force = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage_error("import: unknown option '%s'", a);
        } else if (!in) {
            in = a;
        } else {
            return cli_usage_error("import: more than one model.json given");
        }
    }
    if (!in) return cli_usage_error("import: no model.json given");
    if (!out) return cli_usage_error("import: no output file given (-o FILE)");
    /* model.json itself and an existing file of another kind; the shards are checked by the
     * importer as it finds them */
    cli_common c = {.force = force, .weights = in};
    if (cli_check_output(out, RN_KIND_SAFETENSORS, &c, NULL, 0, NULL, 0) != 0) return 1;
    resnet_error err;
    if (rn_import_tfjs(in, out, variant, norm, &err) != RESNET_OK) return cli_error("%s", err.message);
    fprintf(stderr, "resnet: wrote %s\n", out);
    return 0;
}
