/* main.c - the `resnet` command: subcommand dispatch and usage. */
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: resnet COMMAND [options]\n"
        "\n"
        "commands:\n"
        "  classify PHOTO...     top classes of each photo (JPEG or PNG)\n"
        "      -k N              how many classes to print (default 5)\n"
        "      --json            one JSON object per line and photo\n"
        "  bench                 time the forward pass\n"
        "      --batch N         images per forward pass (default 1)\n"
        "      --iters N         timed runs, after the warm-up (default 10)\n"
        "      --warmup N        untimed runs first (default 2)\n"
        "      --profile         then time every layer and print where the time goes\n"
        "  import MODEL_JSON -o OUT   convert Keras' TensorFlow.js ResNet-50 to safetensors\n"
        "      --variant v1|v1.5 architecture recorded in the file (default v1)\n"
        "      --norm caffe|torch input normalisation recorded in the file (default caffe)\n"
        "\n"
        "options of classify and bench:\n"
        "  --weights FILE        safetensors weights (default: $RESNET_WEIGHTS, else\n"
        "                        ~/.cache/resnet/resnet50-v1-caffe.safetensors, made by 'make weights')\n"
        "  --threads N           worker threads, 0 = one per core (default 0)\n"
        "  --kernels K           auto, c, avx2 or avx512 (default auto: the best this CPU has)\n"
        "  --direct              no Winograd for the early 3x3 convolutions (slower, closest to\n"
        "                        the reference's arithmetic)\n"
        "\n"
        "  resnet --help | --version\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("resnet %s\n", RESNET_VERSION);
        return 0;
    }
    if (strcmp(cmd, "classify") == 0) return cmd_classify(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0) return cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "import") == 0) return cmd_import(argc - 1, argv + 1);
    return cli_usage_error("unknown command '%s'", cmd);
}
