/* bench.c - `resnet bench`: times the forward pass on random input (weights and data
 * do not change the time: every layer is dense). Warm-up runs first, then the median. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One whole pass: to the logits, or a backbone's (no fc) to its pooled features. */
static resnet_status pass(resnet_session *s, const resnet_model *m, const float *input, int batch, float *out,
                          resnet_error *err) {
    resnet_outputs o;
    resnet_outputs_init(&o);
    if (resnet_model_classes(m) > 0) o.logits = out;
    else o.features = out;
    return resnet_forward_ex(s, input, batch, &o, err);
}

/* Runs `iters` more passes with per-layer timing and prints where the time goes. */
static void print_profile(resnet_session *s, const resnet_model *m, const float *input, int batch, int iters,
                          float *out) {
    resnet_layer_profile layers[128];
    resnet_session_set_profiling(s, 1);
    for (int i = 0; i < iters; i++) pass(s, m, input, batch, out, NULL);
    int n = resnet_session_profile(s, layers, 128);
    const double between = resnet_session_profile_between(s);
    resnet_session_set_profiling(s, 0);
    double total = 0;
    for (int i = 0; i < n; i++) total += layers[i].ms;
    printf("\nper layer, best of %d runs (ms per batch of %d):\n", iters, batch);
    printf("  %-22s %-24s %9s %8s %7s\n", "layer", "shape", "ms", "GFLOP/s", "share");
    for (int i = 0; i < n; i++)
        printf("  %-22s %-24s %9.3f %8.1f %6.1f%%\n", layers[i].name, layers[i].shape, layers[i].ms,
               layers[i].gflop > 0 ? layers[i].gflop / layers[i].ms * 1e3 : 0.0, 100.0 * layers[i].ms / total);
    printf("  %-22s %-24s %9.3f\n", "sum of layers", "", total);
    /* per pass: its wall time less its own layers' times (not the best-of sums above) */
    printf("  %-22s %-24s %9.3f   (median per pass: the pass's time outside its layers)\n", "between layers", "",
           between);

    /* The same time by how the layers ran (the fc apart from the 1x1 convolutions). */
    char keys[16][32];
    double ms[16] = {0}, gflop[16] = {0};
    int count[16] = {0}, groups = 0;
    for (int i = 0; i < n; i++) {
        const char *key = strcmp(layers[i].name, "fc") == 0 ? "fc" : layers[i].method;
        int g = 0;
        while (g < groups && strcmp(keys[g], key) != 0) g++;
        if (g == groups) {
            if (groups == 16) continue;
            snprintf(keys[groups++], sizeof keys[0], "%s", key);
        }
        ms[g] += layers[i].ms;
        gflop[g] += layers[i].gflop;
        count[g]++;
    }
    printf("\nby method (GFLOP/s counts a direct convolution's work: Winograd can pass the peak):\n");
    printf("  %-28s %6s %9s %8s %7s\n", "method", "layers", "ms", "GFLOP/s", "share");
    for (int g = 0; g < groups; g++)
        printf("  %-28s %6d %9.3f %8.1f %6.1f%%\n", keys[g], count[g], ms[g],
               gflop[g] > 0 ? gflop[g] / ms[g] * 1e3 : 0.0, 100.0 * ms[g] / total);
}

enum { OPT_BATCH = CLI_OPT_FIRST_OWN, OPT_ITERS, OPT_WARMUP, OPT_PROFILE };

static const cli_option options[] = {
    CLI_OPTION_INT("batch", "N", OPT_BATCH, 1, 256, "images per forward pass (default 1)"),
    CLI_OPTION_INT("iters", "N", OPT_ITERS, 1, 100000, "timed runs, after the warm-up (default 10)"),
    CLI_OPTION_INT("warmup", "N", OPT_WARMUP, 0, 1000, "untimed runs first (default 2)"),
    CLI_OPTION("profile", 0, NULL, OPT_PROFILE, "then time every layer and print where the time goes"),
    {0},
};

const cli_command cli_bench = {
    .name = "bench", .run = cmd_bench, .synopsis = "",
    .brief = "time the forward pass",
    .about = "Times the forward pass on random input (weights and data do not change the time of a dense\n"
             "network): warm-up runs, then the median of the timed runs.",
    .options = options, .network = 1,
};

int cmd_bench(int argc, char **argv) {
    cli_common common = {0};
    int batch = 1, iters = 10, warmup = 2, profile = 0, c;
    optind = 0;
    while ((c = cli_getopt(&cli_bench, argc, argv, &common)) != CLI_END) {
        switch (c) {
        case OPT_BATCH: batch = cli_optint; break;
        case OPT_ITERS: iters = cli_optint; break;
        case OPT_WARMUP: warmup = cli_optint; break;
        case OPT_PROFILE: profile = 1; break;
        default: return CLI_EXIT_STATUS(c);
        }
    }
    if (optind < argc) return cli_usage_error("bench: takes no operands ('%s')", argv[optind]);
    resnet_model *model = cli_load_model(&common);
    if (!model) return 1;
    resnet_session *s = cli_session(model, &common, batch);
    if (!s) {
        resnet_model_free(model);
        return 1;
    }
    resnet_error err;
    const int size = resnet_model_input_size(model);
    const size_t in_floats = (size_t)batch * 3 * size * size;
    float *input = malloc(in_floats * sizeof(float));
    const int per_image = resnet_model_classes(model) > 0 ? resnet_model_classes(model) : resnet_model_feature_dim(model);
    float *logits = malloc((size_t)batch * per_image * sizeof(float));
    double *times = malloc((size_t)iters * sizeof(double));
    int rc = 0;
    if (!input || !logits || !times) {
        rc = cli_error("out of memory");
        goto done;
    }
    unsigned seed = 12345;
    for (size_t i = 0; i < in_floats; i++) {
        seed = seed * 1103515245u + 12345u;
        input[i] = (float)((seed >> 9) % 2000) / 10.0f - 100.0f;
    }
    for (int i = 0; i < warmup + iters; i++) {
        double t0 = cli_now();
        if (pass(s, model, input, batch, logits, &err) != RESNET_OK) {
            rc = cli_error("%s", err.message);
            goto done;
        }
        if (i >= warmup) times[i - warmup] = cli_now() - t0;
    }
    qsort(times, (size_t)iters, sizeof *times, cmp_double);
    double med = iters % 2 ? times[iters / 2] : 0.5 * (times[iters / 2 - 1] + times[iters / 2]);
    double flops = resnet_model_flops(model) * batch;
    const int int8 = resnet_model_precision(model) == RESNET_PRECISION_INT8;
    resnet_info info;
    resnet_model_info(model, &info);
    if (info.classes > 0)
        printf("network %s, %d classes, input %dx%d, output stride %d\n", info.arch, info.classes, size, size,
               info.output_stride);
    else
        printf("network %s, a backbone (no fc: to %d pooled features), input %dx%d, output stride %d\n", info.arch,
               info.feature_dim, size, size, info.output_stride);
    const int bf16 = resnet_model_precision(model) == RESNET_PRECISION_BF16;
    /* the 3x3 algorithms asked for (int8 files pick their own) */
    const char *algo = common.direct ? ", direct convolutions" : common.wide_winograd ? ", wide Winograd" : "";
    if (int8)
        printf("precision int8, kernels %s (every convolution%s), threads %d, batch %d, %d runs after %d "
               "warm-up\n",
               resnet_model_int8_kernels(model), info.classes > 0 ? " and the fc" : "", resnet_session_threads(s),
               batch, iters, warmup);
    else if (bf16) {
        const char *k16 = resnet_kernels_bf16_name(resnet_model_kernels(model));
        /* --kernels c or avx2 on a CPU whose AVX-512 kernels have the dot product */
        const int cpu16 = resnet_kernels_bf16_name(RESNET_KERNELS_AUTO) != NULL;
        printf("precision bf16, kernels %s%s%s (%s)%s, threads %d, batch %d, %d runs after %d warm-up\n",
               resnet_kernels_name(resnet_model_kernels(model)), k16 ? "+" : "", k16 ? k16 : "",
               !k16 && cpu16 ? "no bf16 dot product in these kernels: fp32 kernels on weights rounded to bf16"
               : !k16        ? "no bf16 dot product on this CPU that beats its FMA: fp32 kernels on weights "
                                   "rounded to bf16"
               : strcmp(k16, "amx-bf16") == 0
                   ? "AMX-BF16 tiles in every convolution but the stem, Winograd's included; stem and fc fp32"
                   : "vdpbf16ps in every convolution but the stem, Winograd's included; stem and fc fp32",
               algo, resnet_session_threads(s), batch, iters, warmup);
    } else
        printf("precision fp32, kernels %s%s, threads %d, batch %d, %d runs after %d warm-up\n",
               resnet_kernels_name(resnet_model_kernels(model)), algo, resnet_session_threads(s), batch, iters,
               warmup);
    printf("median %.2f ms per batch, %.2f ms per image, %.2f images/s, %.1f %s (min %.2f ms per batch)\n",
           med * 1e3, med * 1e3 / batch, batch / med, flops / med * 1e-9, int8 ? "GOP/s" : "GFLOP/s", times[0] * 1e3);
    /* GFLOP/s counts a direct convolution's work (Winograd does less), so can pass 100%. */
    /* an int8 model's operations (all layers') against the int8 peak */
    double peak = (int8 ? resnet_model_int8_peak_gops(model, 0.2)
                        : resnet_kernels_peak_gflops(resnet_model_kernels(model), 0.2)) *
                  resnet_session_threads(s);
    if (peak > 0 && int8)
        printf("%.0f%% of this machine's int8 peak: %d x %.1f GOP/s, measured %s peak per core\n",
               100.0 * flops / med * 1e-9 / peak, resnet_session_threads(s), peak / resnet_session_threads(s),
               resnet_model_int8_kernels(model));
    else if (peak > 0 && !(bf16 && resnet_kernels_bf16_native(resnet_model_kernels(model))))
        printf("%.0f%% of this machine's peak: %d x %.1f GFLOP/s, measured FMA peak per core\n",
               100.0 * flops / med * 1e-9 / peak, resnet_session_threads(s), peak / resnet_session_threads(s));
    /* bf16: the same FLOPs (a direct convolution's count, so Winograd can pass 100%) against the
     * vdpbf16ps peak, twice the FMA one where it runs at full width. */
    double peak16 = bf16 ? resnet_kernels_bf16_peak_gflops(resnet_model_kernels(model), 0.2) : 0.0;
    if (peak16 > 0)
        printf("%.0f%% of this machine's bf16 peak: %d x %.1f GFLOP/s, measured vdpbf16ps peak per core\n",
               100.0 * flops / med * 1e-9 / (peak16 * resnet_session_threads(s)), resnet_session_threads(s), peak16);
    if (profile) print_profile(s, model, input, batch, iters, logits);
done:
    free(input);
    free(logits);
    free(times);
    resnet_session_free(s);
    resnet_model_free(model);
    return rc;
}
