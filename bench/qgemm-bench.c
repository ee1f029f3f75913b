/* qgemm-bench.c - the int8 micro-kernels on ResNet-50's 1x1 layer shapes (batch 1), one
 * thread: GOP/s of each path this CPU has, as a share of that path's measured int8 peak,
 * beside the fp32 convolution (rn_conv_forward, the model's own driver and kernel family)
 * on the same shape in the same run. Not a test: numbers, not pass/fail.
 *
 *   make qgemm-bench && build/bench/qgemm-bench [seconds per measurement, default 0.25]
 *
 * Every figure is the best of repeated runs (the peaks too), so a busy machine lowers
 * them less; run it on a quiet one. The int8 driver here is the simplest that blocks like conv.c: row blocks of 120 (A of a
 * block stays in L2), every panel, every row tile; requantized u8 out with ReLU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "kernels/qkernels.h"
#include "ops/conv.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static unsigned rng = 1;
static unsigned rnd(void) { rng = rng * 1664525u + 1013904223u; return rng >> 8; }

typedef struct shape { const char *name; int m, k, n; } shape;

/* ResNet-50 v1.5's 1x1 convolutions at batch 1 (M = output pixels, K = cin, N = cout). */
static const shape shapes[] = {
    {"layer1 reduce 64->64", 3136, 64, 64},      {"layer1 expand 64->256", 3136, 64, 256},
    {"layer1 reduce 256->64", 3136, 256, 64},    {"layer2 reduce 256->128", 3136, 256, 128},
    {"layer2 expand 128->512", 784, 128, 512},   {"layer2 reduce 512->128", 784, 512, 128},
    {"layer3 expand 256->1024", 196, 256, 1024}, {"layer3 reduce 1024->256", 196, 1024, 256},
    {"layer4 expand 512->2048", 49, 512, 2048},  {"layer4 reduce 2048->512", 49, 2048, 512},
};

enum { MB = 120 };

typedef struct qrun {
    const rn_qkernel_config *kc;
    const uint8_t **rows; /* m rounded up to MR, the extra ones repeating the last row */
    void *w;
    uint8_t *out;
    const shape *s;
} qrun;

static void qgemm_once(const qrun *q) {
    const rn_qkernel_config *kc = q->kc;
    const int mr = kc->mr, nr = kc->nr, panels = (q->s->n + nr - 1) / nr;
    const size_t pbytes = rn_qpack_panel_bytes(kc, 1, q->s->k), ldc = (size_t)panels * nr;
    const rn_qgemm_params p = {1.0f, 0.0f, 255.0f};
    for (int m0 = 0; m0 < q->s->m; m0 += MB) {
        int mb = q->s->m - m0 < MB ? q->s->m - m0 : MB;
        for (int pn = 0; pn < panels; pn++)
            for (int i = 0; i < mb; i += mr)
                kc->gemm(mb - i < mr ? mb - i : mr, 1, q->s->k, q->rows + m0 + i, (const char *)q->w + pn * pbytes,
                         q->out + (size_t)(m0 + i) * ldc + (size_t)pn * nr, ldc, NULL, 0, &p, 0);
    }
}

/* Seconds per call: the best of repeated timings over about `budget` seconds. */
#define TIME_BEST(budget, call)                                           \
    ({                                                                    \
        double best_ = 1e30, t0_ = now();                                 \
        do {                                                              \
            double a_ = now();                                            \
            call;                                                         \
            double d_ = now() - a_;                                       \
            if (d_ < best_) best_ = d_;                                   \
        } while (now() - t0_ < (budget));                                 \
        best_;                                                            \
    })

/* A peak probe's best of many short runs (5 ms, within one scheduler slice): on a shared
 * machine one long run measures the neighbours too. */
static double best_peak(double (*probe)(double), double budget) {
    double best = 0;
    for (int i = 0; i < (int)(budget / 0.005) + 1; i++) {
        double g = probe(0.005);
        if (g > best) best = g;
    }
    return best;
}

int main(int argc, char **argv) {
    double budget = argc > 1 ? atof(argv[1]) : 0.25;
    if (!(budget > 0 && budget < 100)) {
        fprintf(stderr, "qgemm-bench: the argument is seconds per measurement (0 < s < 100), not '%s'\n", argv[1]);
        return 2;
    }
    static const rn_qpath paths[] = {RN_QPATH_C, RN_QPATH_AVX2, RN_QPATH_AVXVNNI, RN_QPATH_AVX512VNNI};
    const rn_qkernel_config *kcs[4];
    double peak[4];
    int np = 0;
    for (int i = 0; i < 4; i++)
        if ((kcs[np] = rn_qkernels_select(paths[i]))) {
            peak[np] = kcs[np]->peak_gops ? best_peak(kcs[np]->peak_gops, budget) : 0;
            np++;
        }
    const rn_kernel_config *fk = rn_kernels_select(RESNET_KERNELS_AUTO);
    double fpeak = fk->peak_gflops ? best_peak(fk->peak_gflops, budget) : 0;
    printf("one core; peaks measured on registers: fp32 %s %.0f GFLOP/s", resnet_kernels_name(fk->id), fpeak);
    for (int i = 0; i < np; i++)
        if (peak[i] > 0) printf(", int8 %s %.0f GOP/s", kcs[i]->name, peak[i]);
    printf("\n%-26s %6s %5s %5s  %-20s", "shape", "M", "K", "N", "fp32 GFLOP/s (%pk)");
    for (int i = 0; i < np; i++) printf("  %-18s", kcs[i]->name);
    printf("  best int8/fp32\n");

    rn_pool *pool = rn_pool_create(1);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const shape *s = &shapes[si];
        const double ops = 2.0 * s->m * s->k * s->n;
        /* fp32: the model's 1x1 convolution, as an h x w image with h*w = M */
        int h = s->m == 49 ? 7 : s->m == 196 ? 14 : s->m == 784 ? 28 : 56;
        float *wt = malloc((size_t)s->n * s->k * sizeof(float)), *bias = malloc((size_t)s->n * sizeof(float));
        for (size_t i = 0; i < (size_t)s->n * s->k; i++) wt[i] = (float)(rnd() % 200) / 1000.0f - 0.1f;
        for (int i = 0; i < s->n; i++) bias[i] = 0.01f * (float)i;
        rn_conv conv;
        double f_s = 0;
        if (rn_conv_init(&conv, fk, s->k, s->n, 1, 1, 1, 0, wt, bias, RN_CONV_DIRECT) == 0) {
            float *in = rn_aligned_alloc((size_t)s->m * s->k * sizeof(float));
            float *out = rn_aligned_alloc((size_t)s->m * conv.n_padded * sizeof(float));
            float *scratch = rn_aligned_alloc(rn_conv_scratch_floats(fk, &conv) * sizeof(float));
            for (size_t i = 0; i < (size_t)s->m * s->k; i++) in[i] = (float)(rnd() % 100) / 100.0f;
            rn_exec ex = {fk, pool, &scratch, NULL};
            f_s = TIME_BEST(budget, rn_conv_forward(&ex, &conv, in, 1, h, h, out, NULL, 1));
            rn_aligned_free(in); rn_aligned_free(out); rn_aligned_free(scratch);
            rn_conv_free(&conv);
        }
        printf("%-26s %6d %5d %5d  %7.1f (%3.0f%%)      ", s->name, s->m, s->k, s->n, ops / f_s * 1e-9,
               fpeak > 0 ? 100.0 * ops / f_s * 1e-9 / fpeak : 0.0);
        double best = 0;
        uint8_t *a = rn_aligned_alloc((size_t)s->m * s->k);
        for (size_t i = 0; i < (size_t)s->m * s->k; i++) a[i] = (uint8_t)rnd();
        int8_t *w8 = malloc((size_t)s->n * s->k);
        float *scale = malloc((size_t)s->n * sizeof(float));
        for (int i = 0; i < s->n; i++) scale[i] = 1e-4f;
        for (int pi = 0; pi < np; pi++) {
            const rn_qkernel_config *kc = kcs[pi];
            for (size_t i = 0; i < (size_t)s->n * s->k; i++) w8[i] = (int8_t)((int)(rnd() % (unsigned)(kc->wmax - kc->wmin + 1)) + kc->wmin);
            int mr = kc->mr, mup = (s->m + mr - 1) / mr * mr + mr;
            const uint8_t **rows = malloc((size_t)mup * sizeof *rows);
            for (int i = 0; i < mup; i++) rows[i] = a + (size_t)(i < s->m ? i : s->m - 1) * s->k;
            void *w = rn_aligned_alloc(rn_qpack_bytes(kc, s->n, 1, s->k));
            uint8_t *out = rn_aligned_alloc((size_t)s->m * ((s->n + kc->nr - 1) / kc->nr * kc->nr));
            rn_qpack(kc, w, w8, s->n, 1, s->k, scale, bias, 0);
            qrun q = {kc, rows, w, out, s};
            double t = TIME_BEST(kc->id == RN_QPATH_C ? budget / 4 : budget, qgemm_once(&q));
            double gops = ops / t * 1e-9;
            if (gops > best) best = gops;
            if (peak[pi] > 0) printf("  %6.1f (%3.0f%%)     ", gops, 100.0 * gops / peak[pi]);
            else printf("  %6.1f            ", gops);
            free(rows); rn_aligned_free(w); rn_aligned_free(out);
        }
        printf("  %5.2fx\n", best / (ops / f_s * 1e-9));
        fflush(stdout);
        rn_aligned_free(a); free(w8); free(scale); free(wt); free(bias);
    }
    rn_pool_free(pool);
    return 0;
}
