/* resnet50.c - loading the model, sessions, and the forward pass, top to bottom. */
#include "model/resnet50.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "io/safetensors.h"
#include "model/features.h"
#include "ops/layout.h"
#include "ops/pool.h"
#include "ops/qconv.h"

/* The paper's Table 1 (resnet50.h), read by the loader (weights.c) and the forward pass below. */
const int rn_stage_blocks[RN_STAGES] = {3, 4, 6, 3};
const int rn_stage_width[RN_STAGES] = {64, 128, 256, 512};

static void model_free_convs(resnet_model *m) {
    rn_conv_free(&m->conv1);
    for (int i = 0; i < RN_BLOCKS; i++) {
        rn_conv_free(&m->blocks[i].conv1);
        rn_conv_free(&m->blocks[i].conv2);
        rn_conv_free(&m->blocks[i].conv3);
        rn_conv_free(&m->blocks[i].down);
    }
    rn_conv_free(&m->fc);
}

/* The size-versioned structs read here (resnet.h): their defaults, the end of their last field
 * in this library, and the end of their last field in the first published layout (1.0.0),
 * which never changes. */
static const resnet_load_options load_defaults = {sizeof(resnet_load_options), RESNET_KERNELS_AUTO, 0,
                                                  RESNET_PRECISION_FP32};
static const rn_sized load_options_type = {"resnet_load_options", sizeof(resnet_load_options),
                                           RN_FIELD_END(resnet_load_options, precision),
                                           RN_FIELD_END(resnet_load_options, direct), &load_defaults};
static const resnet_outputs no_outputs = {sizeof(resnet_outputs), NULL, NULL, NULL, NULL};
static const rn_sized outputs_type = {"resnet_outputs", sizeof(resnet_outputs),
                                      RN_FIELD_END(resnet_outputs, class_maps),
                                      RN_FIELD_END(resnet_outputs, class_maps), &no_outputs};

void resnet_load_options_init_size(resnet_load_options *o, size_t size) { rn_sized_init(&load_options_type, o, size); }
void resnet_outputs_init_size(resnet_outputs *o, size_t size) { rn_sized_init(&outputs_type, o, size); }

resnet_status resnet_model_load(const char *path, const resnet_load_options *opts, resnet_model **out,
                                resnet_error *err) {
    if (!path || !out) return rn_fail(err, RESNET_E_ARG, "resnet_model_load: NULL argument");
    *out = NULL;
    resnet_load_options o = load_defaults;
    if (opts) {
        resnet_status st = rn_sized_read(&load_options_type, opts, &o, err);
        if (st != RESNET_OK) return st;
    }
    const rn_kernel_config *kc = rn_kernels_select(o.kernels);
    if (!kc)
        return rn_fail(err, RESNET_E_UNSUPPORTED, "kernel path '%s' is not supported by this CPU",
                       resnet_kernels_name(o.kernels));
    if (o.precision == RESNET_PRECISION_INT8)
        return rn_fail(err, RESNET_E_ARG, "%s: int8 is a file's precision (made by `resnet quantize`), not one to "
                       "convert to when loading", path);
    if (o.precision != RESNET_PRECISION_FP32 && o.precision != RESNET_PRECISION_BF16)
        return rn_fail(err, RESNET_E_ARG, "resnet_model_load: unknown precision %d", o.precision);
    const int flags = (o.direct ? RN_LOAD_DIRECT : 0) | (o.precision == RESNET_PRECISION_BF16 ? RN_LOAD_BF16 : 0);
    return rn_model_load_kc(path, kc, flags, out, err);
}

resnet_status rn_model_load_kc(const char *path, const rn_kernel_config *kc, int direct, resnet_model **out,
                               resnet_error *err) {
    return rn_model_load_kcq(path, kc, NULL, direct, out, err);
}

/* The int8 family that goes with an fp32 one: AVX-512 -> AVX-512 VNNI, AVX2 -> AVX-VNNI (the
 * VEX form) or plain AVX2, C -> C; the best the CPU has where that one is missing. */
static const rn_qkernel_config *qkernels_for(const rn_kernel_config *kc) {
    const rn_qkernel_config *q = NULL;
    switch (kc->id) {
    case RESNET_KERNELS_C: q = rn_qkernels_select(RN_QPATH_C); break;
    case RESNET_KERNELS_AVX2:
        if (!(q = rn_qkernels_select(RN_QPATH_AVXVNNI))) q = rn_qkernels_select(RN_QPATH_AVX2);
        break;
    case RESNET_KERNELS_AVX512: q = rn_qkernels_select(RN_QPATH_AVX512VNNI); break;
    default: break;
    }
    return q ? q : rn_qkernels_select(RN_QPATH_AUTO);
}

resnet_status rn_model_load_kcq(const char *path, const rn_kernel_config *kc, const rn_qkernel_config *qk,
                                int direct, resnet_model **out, resnet_error *err) {
    *out = NULL;
    rn_safetensors *st;
    resnet_status s = rn_st_open(path, &st, err);
    if (s != RESNET_OK) return s;
    resnet_model *m = calloc(1, sizeof *m);
    if (!m) {
        rn_st_close(st);
        return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", path);
    }
    pthread_mutex_init(&m->pool_mu, NULL);
    m->kc = kc;
    m->qk = qk ? qk : qkernels_for(kc);
    m->bf16 = (direct & RN_LOAD_BF16) != 0;
    s = rn_model_bind(m, st, path, direct & RN_LOAD_DIRECT, err);
    if (s == RESNET_OK && m->int8 && (direct & RN_LOAD_BF16))
        s = rn_fail(err, RESNET_E_ARG, "%s: an int8 file cannot be loaded as bf16", path);
    rn_st_close(st); /* everything is copied, folded and packed: the mapping can go */
    if (s != RESNET_OK) {
        resnet_model_free(m);
        return s;
    }
    *out = m;
    return RESNET_OK;
}

void resnet_model_free(resnet_model *m) {
    if (!m) return;
    model_free_convs(m);
    if (m->pool) rn_pool_free(m->pool);
    pthread_mutex_destroy(&m->pool_mu);
    free(m);
}

resnet_variant resnet_model_variant(const resnet_model *m) { return m->variant; }
resnet_norm resnet_model_norm(const resnet_model *m) { return m->norm; }
resnet_kernels resnet_model_kernels(const resnet_model *m) { return m->kc->id; }
resnet_precision resnet_model_precision(const resnet_model *m) {
    return m->int8 ? RESNET_PRECISION_INT8 : m->bf16 ? RESNET_PRECISION_BF16 : RESNET_PRECISION_FP32;
}
const char *resnet_precision_name(resnet_precision p) {
    return p == RESNET_PRECISION_INT8 ? "int8" : p == RESNET_PRECISION_FP32 ? "fp32"
         : p == RESNET_PRECISION_BF16 ? "bf16" : "unknown";
}
int resnet_precision_parse(const char *name) {
    for (int p = RESNET_PRECISION_FP32; name && p <= RESNET_PRECISION_BF16; p++)
        if (strcmp(name, resnet_precision_name((resnet_precision)p)) == 0) return p;
    return -1;
}
const char *resnet_model_int8_kernels(const resnet_model *m) { return m->int8 ? m->qk->name : NULL; }
double resnet_model_int8_peak_gops(const resnet_model *m, double seconds) {
    return m->int8 && m->qk->peak_gops ? m->qk->peak_gops(seconds) : 0.0;
}

/* Calls fn for every convolution of the forward pass with its input's height and width
 * (one image of 224x224), in order, the fc last. */
static void walk_convs(const resnet_model *m, void (*fn)(void *ctx, const rn_conv *c, int h, int w), void *ctx) {
    int h = RESNET_INPUT_SIZE, w = RESNET_INPUT_SIZE, oh, ow;
    fn(ctx, &m->conv1, h, w);
    rn_conv_out_size(&m->conv1, h, w, &h, &w);
    rn_maxpool_out_size(h, w, 3, 2, 1, &h, &w);
    for (int i = 0; i < RN_BLOCKS; i++) {
        const rn_block *b = &m->blocks[i];
        if (b->has_down) fn(ctx, &b->down, h, w);
        fn(ctx, &b->conv1, h, w);
        rn_conv_out_size(&b->conv1, h, w, &oh, &ow);
        fn(ctx, &b->conv2, oh, ow);
        rn_conv_out_size(&b->conv2, oh, ow, &h, &w);
        fn(ctx, &b->conv3, h, w);
    }
    fn(ctx, &m->fc, 1, 1);
}

static void add_flops(void *ctx, const rn_conv *c, int h, int w) {
    int oh, ow;
    rn_conv_out_size(c, h, w, &oh, &ow);
    *(double *)ctx += 2.0 * oh * ow * (double)c->cout * c->k;
}

/* Multiply-adds x 2 of one image's forward pass, walked from the loaded shapes. */
double resnet_model_flops(const resnet_model *m) {
    double f = 0;
    walk_convs(m, add_flops, &f);
    return f;
}

typedef struct { int n; size_t most; } work_need;

static void max_work(void *ctx, const rn_conv *c, int h, int w) {
    work_need *need = ctx;
    size_t f = rn_conv_work_floats(c, need->n, h, w);
    if (f > need->most) need->most = f;
}

/* The shared work buffer a batch of n needs: the largest any convolution asks for. */
static size_t model_work_floats(const resnet_model *m, int n) {
    work_need need = {n, 0};
    walk_convs(m, max_work, &need);
    return need.most;
}

/* ---- sessions ---------------------------------------------------------------- */

enum { RN_PROF_PASSES = 256 }; /* profiled passes whose time between layers is kept */

struct resnet_session {
    const resnet_model *m;
    int max_batch;
    rn_pool *pool;     /* its own, or the model's (shared_pool) */
    int shared_pool;
    float **scratch;   /* per pool thread: an im2col block, or Winograd's M */
    float *work;       /* shared by the threads within one layer (Winograd's V) */
    rn_exec ex;
    rn_observer observer; /* calibration (model/quantize.c): sees every fp32 convolution */
    void *observer_ctx;
    float *buf[4];     /* activations: max_batch x RN_MAX_ACTIVATION each */
    float *logits;     /* max_batch x fc.n_padded */
    void *fc_rows;     /* an int8 fc's quantized rows: max_batch x RESNET_MAP_CELLS (the maps') */
    /* per-layer timing, only when profiling is on (bench --profile) */
    int profiling, prof_n, prof_slot;
    resnet_layer_profile prof[RN_MAX_LAYERS];
    /* the time of each profiled pass spent outside its layers (the input's layout change,
     * copying the outputs out, the call itself): the last RN_PROF_PASSES passes, ms */
    double prof_layers_ms; /* this pass's layers so far */
    double prof_between[RN_PROF_PASSES];
    int prof_passes;
    unsigned image_flags; /* RESNET_IMAGE_* for the photos this session reads */
};

void resnet_session_free(resnet_session *s) {
    if (!s) return;
    if (s->scratch)
        for (int i = 0; s->pool && i < rn_pool_size(s->pool); i++) rn_aligned_free(s->scratch[i]);
    free(s->scratch);
    rn_aligned_free(s->work);
    if (!s->shared_pool) rn_pool_free(s->pool);
    for (int i = 0; i < 4; i++) rn_aligned_free(s->buf[i]);
    rn_aligned_free(s->logits);
    rn_aligned_free(s->fc_rows);
    free(s);
}

/* The model's shared pool, made on first use. */
static rn_pool *model_pool(const resnet_model *cm) {
    resnet_model *m = (resnet_model *)cm; /* the pool is the model's one mutable part (resnet50.h) */
    pthread_mutex_lock(&m->pool_mu);
    if (!m->pool) m->pool = rn_pool_create(rn_default_threads());
    rn_pool *p = m->pool;
    pthread_mutex_unlock(&m->pool_mu);
    return p;
}

resnet_status resnet_session_create(const resnet_model *m, int threads, int max_batch,
                                    resnet_session **out, resnet_error *err) {
    if (!m || !out) return rn_fail(err, RESNET_E_ARG, "resnet_session_create: NULL argument");
    *out = NULL;
    if (threads < 0 || threads > 1024)
        return rn_fail(err, RESNET_E_ARG, "threads must be between 0 and 1024, got %d", threads);
    if (max_batch < 1 || max_batch > 4096)
        return rn_fail(err, RESNET_E_ARG, "batch must be between 1 and 4096, got %d", max_batch);
    resnet_session *s = calloc(1, sizeof *s);
    if (!s) return rn_fail(err, RESNET_E_NOMEM, "out of memory creating a session");
    s->m = m;
    s->max_batch = max_batch;
    /* threads = 0: the model's pool, shared with its other such sessions, so that one session
     * per thread does not start a pool per core per session (resnet.h, "Threads"). */
    s->shared_pool = threads == 0;
    s->pool = s->shared_pool ? model_pool(m) : rn_pool_create(threads);
    if (s->pool) threads = rn_pool_size(s->pool);
    s->scratch = s->pool ? calloc((size_t)threads, sizeof *s->scratch) : NULL;
    int ok = s->pool && s->scratch;
    for (int i = 0; ok && i < threads; i++)
        ok = (s->scratch[i] = rn_aligned_alloc(rn_conv_scratch_floats(m->kc) * sizeof(float))) != NULL;
    for (int i = 0; ok && i < 4; i++)
        ok = (s->buf[i] = rn_aligned_alloc((size_t)max_batch * RN_MAX_ACTIVATION * sizeof(float))) != NULL;
    ok = ok && (s->logits = rn_aligned_alloc((size_t)max_batch * m->fc.n_padded * sizeof(float))) != NULL;
    if (m->fc.q)
        ok = ok && (s->fc_rows = rn_aligned_alloc(rn_qdense_scratch_bytes(m->fc.cin, max_batch * RESNET_MAP_CELLS))) != NULL;
    ok = ok && (s->work = rn_aligned_alloc(model_work_floats(m, max_batch) * sizeof(float))) != NULL;
    if (!ok) {
        resnet_session_free(s);
        return rn_fail(err, RESNET_E_NOMEM, "out of memory creating a session for batch %d", max_batch);
    }
    s->ex.kc = m->kc;
    s->ex.pool = s->pool;
    s->ex.scratch = s->scratch;
    s->ex.work = s->work;
    *out = s;
    return RESNET_OK;
}

int resnet_session_threads(const resnet_session *s) { return rn_pool_size(s->pool); }
int resnet_session_max_batch(const resnet_session *s) { return s->max_batch; }
const resnet_model *resnet_session_model(const resnet_session *s) { return s->m; }

void rn_session_set_observer(resnet_session *s, rn_observer fn, void *ctx) {
    s->observer = fn;
    s->observer_ctx = ctx;
}

/* ---- profiling ------------------------------------------------------------------- */

void resnet_session_set_image_flags(resnet_session *s, unsigned flags) {
    if (s) s->image_flags = flags;
}

unsigned rn_session_image_flags(const resnet_session *s) { return s ? s->image_flags : 0; }

void resnet_session_set_profiling(resnet_session *s, int on) {
    s->profiling = on;
    s->prof_n = 0;
    s->prof_passes = 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double resnet_session_profile_between(const resnet_session *s) {
    int n = s->prof_passes < RN_PROF_PASSES ? s->prof_passes : RN_PROF_PASSES;
    if (n == 0) return -1.0;
    double v[RN_PROF_PASSES];
    memcpy(v, s->prof_between, (size_t)n * sizeof *v);
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int resnet_session_profile(const resnet_session *s, resnet_layer_profile *out, int max) {
    int n = s->prof_n < max ? s->prof_n : max;
    for (int i = 0; i < n; i++) out[i] = s->prof[i];
    return s->prof_n;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* A layer's name in the profile: "conv1", "maxpool", or a block's part, "layer2.3.conv2". */
static void layer_name(char *dst, size_t size, int block, const char *part) {
    if (block < 0) {
        snprintf(dst, size, "%s", part);
        return;
    }
    int stage = 0, i = block;
    while (i >= rn_stage_blocks[stage]) i -= rn_stage_blocks[stage++];
    snprintf(dst, size, "layer%d.%d.%s", stage + 1, i, part);
}

/* Keeps each layer's best time over the runs: the least disturbed by the rest of the machine. */
static void prof_record(resnet_session *s, int block, const char *part, const rn_conv *c, int n, int oh, int ow,
                        double ms) {
    s->prof_layers_ms += ms;
    if (s->prof_slot >= RN_MAX_LAYERS) return;
    resnet_layer_profile *p = &s->prof[s->prof_slot++];
    if (s->prof_slot > s->prof_n) {
        s->prof_n = s->prof_slot;
        layer_name(p->name, sizeof p->name, block, part);
        if (c)
            snprintf(p->shape, sizeof p->shape, "%dx%d/%d %d->%d %dx%d", c->kh, c->kw, c->stride, c->cin, c->cout,
                     oh, ow);
        else
            snprintf(p->shape, sizeof p->shape, "%dx%d", oh, ow);
        if (c)
            snprintf(p->method, sizeof p->method, "%s %dx%d %s", c->q ? "int8" : c->w16 ? "bf16" : "fp32", c->kh, c->kw,
                     c->q && c->q->dense_scale ? "fc, per-row scale" :
                     c->winograd == 4   ? "Winograd F(4x4,3x3)"
                     : c->winograd == 2 ? "Winograd F(2x2,3x3)"
                     : c->im2col        ? "im2col"
                                        : "direct");
        else
            snprintf(p->method, sizeof p->method, "%s", part); /* a pool: its name */
        p->gflop = c ? 2e-9 * n * oh * ow * c->cout * (double)c->k : 0.0;
        p->ms = ms;
    } else if (ms < p->ms) {
        p->ms = ms;
    }
}

/* ---- the forward pass ------------------------------------------------------------- */

/* One layer of the network: a row of the paper's table. */
typedef enum { INPUT, CONV, MAXPOOL, AVGPOOL, FC } layer_kind;
typedef struct layer {
    layer_kind kind;
    int block;          /* the bottleneck it belongs to (0..RN_BLOCKS-1), -1 for the stem and head */
    const char *part;   /* its name (within the block) */
    const rn_conv *c;   /* CONV, FC: the convolution or the fc (fp32 or int8) */
    const void *in;
    void *out;
    const void *res;    /* CONV: the residual added before the ReLU, or NULL */
    int relu;           /* CONV (fp32): ReLU after; an int8 layer's was set at load (weights.c) */
} layer;

/* Runs one layer of any kind on n images of h x w; *oh, *ow get its output's size. The only
 * place that knows a layer's precision, times layers (when profiling) and shows convolutions
 * to the observer. An int8 layer reads u8 activations (and a u8 residual) and writes u8, or
 * floats where fp32 layers follow; the max pool of an int8 model quantizes as it writes (the
 * boundary: the blocks read u8). */
static void run(resnet_session *s, const layer *l, int n, int h, int w, int *oh, int *ow) {
    const resnet_model *m = s->m;
    const rn_conv *c = l->c;
    double t0 = s->profiling ? now_ms() : 0.0;
    switch (l->kind) {
    case INPUT: /* the public CHW planes -> NHWC; u8 for an int8 stem (weights.c: load_qstem) */
        if (m->conv1.q)
            rn_chw_to_nhwc_u8(&s->ex, l->in, n, 3, h, w, m->q_stem_scale, m->q_stem_zero, l->out);
        else rn_chw_to_nhwc(&s->ex, l->in, n, 3, h, w, l->out);
        *oh = h;
        *ow = w;
        break;
    case CONV:
        if (c->q) rn_qconv_forward(&s->ex, c, l->in, n, h, w, l->out, l->res);
        else rn_conv_forward(&s->ex, c, l->in, n, h, w, l->out, l->res, l->relu);
        rn_conv_out_size(c, h, w, oh, ow);
        break;
    case MAXPOOL:
        if (m->conv1.q) /* an int8 stem: u8 in the blocks' scale already */
            rn_maxpool_forward_u8u8(&s->ex, l->in, n, h, w, 64, 3, 2, 1, l->out);
        else if (m->int8) /* an fp32 stem: the blocks read u8, quantized as the pool writes */
            rn_maxpool_forward_u8(&s->ex, l->in, n, h, w, 64, 3, 2, 1, m->q_in_scale, l->out);
        else rn_maxpool_forward(&s->ex, l->in, n, h, w, 64, 3, 2, 1, l->out);
        rn_maxpool_out_size(h, w, 3, 2, 1, oh, ow);
        break;
    case FC: /* n rows of pooled features */
        rn_fc_forward(&s->ex, c, l->in, n, l->out, s->fc_rows);
        *oh = *ow = 1;
        break;
    case AVGPOOL:
        rn_avgpool_forward(l->in, n, h, w, RESNET_FEATURE_DIM, l->out);
        *oh = *ow = 1;
        break;
    }
    if (s->profiling) prof_record(s, l->block, l->part, c, n, *oh, *ow, now_ms() - t0);
    if ((l->kind == CONV || l->kind == FC) && s->observer && !c->q) s->observer(s->observer_ctx, c, l->in, n, h, w, l->out, *oh, *ow);
}

/* Bottleneck i: out = relu(conv3(relu(conv2(relu(conv1(x))))) + shortcut(x)).
 * x is in buf[*cur]; the result replaces it as buf[*cur]. h, w are updated. */
static void bottleneck(resnet_session *s, int i, int n, int *cur, int *h, int *w) {
    const rn_block *b = &s->m->blocks[i];
    int t1 = (*cur + 1) % 4, t2 = (*cur + 2) % 4, sc = (*cur + 3) % 4;
    int h1, w1, h2, w2, h3, w3;
    void *x = s->buf[*cur], *shortcut = x;
    run(s, &(layer){CONV, i, "conv1", &b->conv1, x, s->buf[t1], NULL, 1}, n, *h, *w, &h1, &w1);
    run(s, &(layer){CONV, i, "conv2", &b->conv2, s->buf[t1], s->buf[t2], NULL, 1}, n, h1, w1, &h2, &w2);
    if (b->has_down) {
        shortcut = s->buf[sc];
        run(s, &(layer){CONV, i, "downsample", &b->down, x, shortcut, NULL, 0}, n, *h, *w, &h3, &w3);
    }
    /* conv1's output is no longer needed: the block's result goes there. */
    run(s, &(layer){CONV, i, "conv3", &b->conv3, s->buf[t2], s->buf[t1], shortcut, 1}, n, h2, w2, &h3, &w3);
    *cur = t1;
    *h = h2;
    *w = w2;
}

/* resnet_forward_ex on the library's own resnet_outputs. */
static resnet_status forward(resnet_session *s, const float *input, int n, const resnet_outputs *out,
                             resnet_error *err) {
    if (!s || !input) return rn_fail(err, RESNET_E_ARG, "resnet_forward: NULL argument");
    float *logits = out->logits, *features = out->features;
    if (n < 1 || n > s->max_batch)
        return rn_fail(err, RESNET_E_ARG, "resnet_forward: batch of %d, session allows 1..%d", n, s->max_batch);
    const resnet_model *m = s->m;
    int cur = 0, h = RESNET_INPUT_SIZE, w = RESNET_INPUT_SIZE;
    float *pooled;

    const double t_start = s->profiling ? now_ms() : 0.0;
    s->prof_slot = 0;
    s->prof_layers_ms = 0.0;
    rn_pool_enter(s->pool); /* sessions sharing the pool share its cores (threadpool.c) */
    run(s, &(layer){INPUT, -1, "input", NULL, input, s->buf[0], NULL, 0}, n, h, w, &h, &w);        /* 224x224x3 */
    run(s, &(layer){CONV, -1, "conv1", &m->conv1, s->buf[0], s->buf[1], NULL, 1}, n, h, w, &h, &w); /* 112x112x64 */
    run(s, &(layer){MAXPOOL, -1, m->int8 && !m->conv1.q ? "maxpool+quantize" : "maxpool", NULL, s->buf[1], s->buf[0], NULL, 0},
        n, h, w, &h, &w);                                                                        /* 56x56x64 */
    for (int b = 0; b < RN_BLOCKS; b++) bottleneck(s, b, n, &cur, &h, &w); /* layer1-4: 3, 4, 6, 3 blocks; 7x7x2048 */
    if (out->feature_map) /* NHWC with 2048 channels: already the public layout */
        memcpy(out->feature_map, s->buf[cur], (size_t)n * h * w * RESNET_FEATURE_DIM * sizeof(float));
    if (out->class_maps) /* scratch: the one buffer neither the features nor pooling use */
        rn_class_maps(&s->ex, &m->fc, s->buf[cur], n, h * w, s->buf[(cur + 2) % 4], s->fc_rows, out->class_maps);
    pooled = s->buf[(cur + 1) % 4];
    run(s, &(layer){AVGPOOL, -1, "avgpool", NULL, s->buf[cur], pooled, NULL, 0}, n, h, w, &h, &w);        /* 2048 */
    if (logits) run(s, &(layer){FC, -1, "fc", &m->fc, pooled, s->logits, NULL, 0}, n, 1, 1, &h, &w); /* 1000 */

    for (int i = 0; i < n; i++) {
        if (logits)
            memcpy(logits + (size_t)i * RESNET_NUM_CLASSES, s->logits + (size_t)i * m->fc.n_padded,
                   RESNET_NUM_CLASSES * sizeof(float));
        if (features)
            memcpy(features + (size_t)i * RESNET_FEATURE_DIM, pooled + (size_t)i * RESNET_FEATURE_DIM,
                   RESNET_FEATURE_DIM * sizeof(float));
    }
    rn_pool_leave(s->pool);
    if (s->profiling) s->prof_between[s->prof_passes++ % RN_PROF_PASSES] = now_ms() - t_start - s->prof_layers_ms;
    return RESNET_OK;
}

resnet_status resnet_forward_ex(resnet_session *s, const float *input, int n, const resnet_outputs *out,
                                resnet_error *err) {
    if (!out) return rn_fail(err, RESNET_E_ARG, "resnet_forward: NULL argument");
    resnet_outputs o;
    resnet_status st = rn_sized_read(&outputs_type, out, &o, err);
    return st != RESNET_OK ? st : forward(s, input, n, &o, err);
}

resnet_status resnet_forward(resnet_session *s, const float *input, int n, float *logits, float *features,
                             resnet_error *err) {
    if (!logits) return rn_fail(err, RESNET_E_ARG, "resnet_forward: NULL argument");
    resnet_outputs out;
    resnet_outputs_init(&out);
    out.logits = logits;
    out.features = features;
    return forward(s, input, n, &out, err);
}

resnet_status resnet_outputs_check(const resnet_outputs *out, int n, resnet_error *err) {
    if (!out || n < 0) return rn_fail(err, RESNET_E_ARG, "resnet_outputs_check: bad argument");
    resnet_outputs o;
    resnet_status st = rn_sized_read(&outputs_type, out, &o, err);
    if (st != RESNET_OK) return st;
    const char *bad = o.logits ? rn_logits_problem(o.logits, n) : NULL;
    const size_t images = (size_t)n;
    if (!bad && ((o.features && !rn_all_finite(o.features, images * RESNET_FEATURE_DIM)) ||
                 (o.feature_map && !rn_all_finite(o.feature_map, images * RESNET_MAP_CELLS * RESNET_FEATURE_DIM)) ||
                 (o.class_maps && !rn_all_finite(o.class_maps, images * RESNET_NUM_CLASSES * RESNET_MAP_CELLS))))
        bad = RN_NONFINITE_MSG;
    return bad ? rn_fail(err, RESNET_E_WEIGHTS, "%s", bad) : RESNET_OK;
}
