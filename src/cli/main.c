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
        "      --tta MODE        average over views: none, flip, 10crop, multiscale (default none)\n"
        "      --head FILE       a head made by train-head: its classes instead of ImageNet's\n"
        "  classify DIR...       every photo under the folders (recursive, sorted), several in\n"
        "                        flight; a progress bar on a terminal, a summary on stderr\n"
        "  eval DIR              top-1/top-5 accuracy on labelled photos: DIR/labels.tsv (file, class\n"
        "                        index; -1 = unlabelled) or one folder per class (wnid or index)\n"
        "      --tta MODE        as for classify\n"
        "      --batch N         network images per forward pass, views included (default 8)\n"
        "      --json            the report as one JSON object\n"
        "      --predictions FILE  one line per photo: file, label, top1, top1_prob, top5\n"
        "                        exit status: 0 all scored, 1 some skipped (each named on stderr)\n"
        "  bench                 time the forward pass\n"
        "      --batch N         images per forward pass (default 1)\n"
        "      --iters N         timed runs, after the warm-up (default 10)\n"
        "      --warmup N        untimed runs first (default 2)\n"
        "      --profile         then time every layer and print where the time goes\n"
        "  import MODEL_JSON -o OUT   convert Keras' TensorFlow.js ResNet-50 to safetensors\n"
        "      --variant v1|v1.5 architecture recorded in the file (default v1)\n"
        "      --norm caffe|torch input normalisation recorded in the file (default caffe)\n"
        "  cam PHOTO -o OUT.png  the photo with the class activation map of a class laid over it\n"
        "                        (the centre crop the network sees; outside it, grey)\n"
        "      -c CLASS          index or name, e.g. 282 or 'tiger cat' (default: the top-1)\n"
        "      --opacity A       of the colour scale, 0..1 (default 0.5)\n"
        "  embed PHOTO|DIR... -o FILE  the 2048-d pooled features, one row per photo, in order\n"
        "                        (FILE.npy: NumPy; else raw float32); unreadable photos: zero rows\n"
        "      --l2              L2-normalise each row\n"
        "  similar QUERY DIR     the photos under DIR ranked by cosine similarity to QUERY\n"
        "      -k N              how many to print (default 10)\n"
        "  train-head DIR -o HEAD.safetensors  a new final layer for DIR/<class name>/<photos>:\n"
        "                        logistic regression on the (cached) features, early-stopped\n"
        "      --l2 X            L2 penalty (default 0.001)\n"
        "      --val F           share of each class held out for validation (default 0.2)\n"
        "      --max-iters N     L-BFGS iterations at most (default 500)\n"
        "      --patience N      stop after N without a better validation loss (default 20)\n"
        "      --seed N          of the split (default 1)   --no-l2norm  raw features\n"
        "      --no-cache        (similar, train-head) neither read nor write the feature cache\n"
        "\n"
        "options of every command that runs the network:\n"
        "  --weights FILE        safetensors weights (default: $RESNET_WEIGHTS, else\n"
        "                        ~/.cache/resnet/resnet50-v1-caffe.safetensors, made by 'make weights')\n"
        "  --threads N           worker threads, 0 = one per core (default 0)\n"
        "  --kernels K           auto, c, avx2 or avx512 (default auto: the best this CPU has)\n"
        "  --direct              no Winograd for the early 3x3 convolutions (slower, closest to\n"
        "                        the reference's arithmetic)\n"
        "  --force               (import, cam, embed, eval, train-head) replace an existing output\n"
        "                        that is not of the kind written; never one of the run's inputs\n"
        "\n"
        "  resnet --help | --version\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    /* Outputs are written under temporary names: Ctrl-C or kill removes them. */
    cli_catch_signals();
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
    if (strcmp(cmd, "eval") == 0) return cmd_eval(argc - 1, argv + 1);
    if (strcmp(cmd, "import") == 0) return cmd_import(argc - 1, argv + 1);
    if (strcmp(cmd, "cam") == 0) return cmd_cam(argc - 1, argv + 1);
    if (strcmp(cmd, "embed") == 0) return cmd_embed(argc - 1, argv + 1);
    if (strcmp(cmd, "similar") == 0) return cmd_similar(argc - 1, argv + 1);
    if (strcmp(cmd, "train-head") == 0) return cmd_train_head(argc - 1, argv + 1);
    return cli_usage_error("unknown command '%s'", cmd);
}
