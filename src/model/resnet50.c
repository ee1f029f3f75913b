/* resnet50.c - loading the model, sessions, and the forward pass: the layer list (arch.h) run
 * top to bottom. */
#include "model/resnet50.h"

#include <math.h>
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

static void model_free_convs(resnet_model *m) {
    if (m->convs)
        for (int i = 0; i < m->net.n; i++) rn_conv_free(&m->convs[i]);
    free(m->convs);
    free(m->act_scale);
    free(m->labels);
    free(m->label_store);
    rn_net_free(&m->net);
    m->convs = NULL;
}

/* The size-versioned structs read here (resnet.h): their defaults, the end of their last field
 * in this library, and the end of their last field in the first published layout (1.0.0),
 * which never changes. */
static const resnet_load_options load_defaults = {sizeof(resnet_load_options), RESNET_KERNELS_AUTO, 0, 0, 0, NULL,
                                                  RESNET_PRECISION_FP32, 0};
static const rn_sized load_options_type = {"resnet_load_options", sizeof(resnet_load_options),
                                           RN_FIELD_END(resnet_load_options, wide_winograd),
                                           RN_FIELD_END(resnet_load_options, direct), &load_defaults};
static const resnet_outputs no_outputs = {sizeof(resnet_outputs), NULL, NULL, NULL, NULL, {NULL, NULL, NULL, NULL}};
static const rn_sized outputs_type = {"resnet_outputs", sizeof(resnet_outputs),
                                      RN_FIELD_END(resnet_outputs, stages),
                                      RN_FIELD_END(resnet_outputs, class_maps), &no_outputs};

void resnet_load_options_init_size(resnet_load_options *o, size_t size) { rn_sized_init(&load_options_type, o, size); }
void resnet_outputs_init_size(resnet_outputs *o, size_t size) { rn_sized_init(&outputs_type, o, size); }

resnet_status resnet_model_load(const char *path, const resnet_load_options *opts, resnet_model **out,
                                resnet_error *err) {
    if (out) *out = NULL; /* whatever else is wrong: a caller's cleanup may free it */
    if (!path || !out) return rn_fail(err, RESNET_E_ARG, "resnet_model_load: NULL argument");
    resnet_load_options o = load_defaults;
    if (opts) {
        resnet_status st = rn_sized_read(&load_options_type, opts, &o, err);
        if (st != RESNET_OK) return st;
    }
    /* a value that names no path is the caller's mistake, not a path this CPU lacks (and the
     * tests' internal ones, RN_KERNELS_AVX512_NO_AMX, are no option of the public API) */
    if (o.kernels != RESNET_KERNELS_AUTO && o.kernels != RESNET_KERNELS_C && o.kernels != RESNET_KERNELS_AVX2 &&
        o.kernels != RESNET_KERNELS_AVX512)
        return rn_fail(err, RESNET_E_ARG, "resnet_load_options: unknown kernels %d (RESNET_KERNELS_AUTO, _C, _AVX2 or "
                       "_AVX512)", (int)o.kernels);
    const rn_kernel_config *kc = rn_kernels_select(o.kernels);
    if (!kc)
        return rn_fail(err, RESNET_E_UNSUPPORTED, "kernel path '%s' is not supported by this CPU",
                       resnet_kernels_name(o.kernels));
    if (o.precision == RESNET_PRECISION_INT8)
        return rn_fail(err, RESNET_E_ARG, "%s: int8 is a file's precision (made by `resnet quantize`), not one to "
                       "convert to when loading", path);
    if (o.precision != RESNET_PRECISION_FP32 && o.precision != RESNET_PRECISION_BF16)
        return rn_fail(err, RESNET_E_ARG, "resnet_model_load: unknown precision %d", o.precision);
    rn_load_config cfg = {o.direct, o.input_size, o.output_stride, o.labels, o.precision == RESNET_PRECISION_BF16,
                          o.wide_winograd};
    return rn_model_load_cfg(path, kc, NULL, &cfg, out, err);
}

resnet_status rn_model_load_kc(const char *path, const rn_kernel_config *kc, int direct, resnet_model **out,
                               resnet_error *err) {
    return rn_model_load_kcq(path, kc, NULL, direct, out, err);
}

/* The int8 family that goes with an fp32 one: AVX-512 -> AMX-INT8 or AVX-512 VNNI, AVX2 -> AVX-VNNI (the
 * VEX form) or plain AVX2, C -> C; the best the CPU has where that one is missing. */
static const rn_qkernel_config *qkernels_for(const rn_kernel_config *kc) {
    const rn_qkernel_config *q = NULL;
    switch (kc->id) {
    case RESNET_KERNELS_C: q = rn_qkernels_select(RN_QPATH_C); break;
    case RESNET_KERNELS_AVX2:
        if (!(q = rn_qkernels_select(RN_QPATH_AVXVNNI))) q = rn_qkernels_select(RN_QPATH_AVX2);
        break;
    case RESNET_KERNELS_AVX512:
        if (!(q = rn_qkernels_select(RN_QPATH_AMX))) q = rn_qkernels_select(RN_QPATH_AVX512VNNI);
        break;
    default: break;
    }
    return q ? q : rn_qkernels_select(RN_QPATH_AUTO);
}

resnet_status rn_model_load_kcq(const char *path, const rn_kernel_config *kc, const rn_qkernel_config *qk,
                                int direct, resnet_model **out, resnet_error *err) {
    rn_load_config cfg = {.direct = direct & RN_LOAD_DIRECT, .bf16 = (direct & RN_LOAD_BF16) != 0,
                          .wide_winograd = (direct & RN_LOAD_WIDE) != 0};
    return rn_model_load_cfg(path, kc, qk, &cfg, out, err);
}

/* A 64-bit digest of the tensors of st, in file order (the integer counters, num_batches_tracked,
 * change no output and are left out): of each, its size and its first and last 512 bytes.
 * Enough to tell a network from one trained further (every weight moves), where the biases
 * alone are not (frozen batch norms); reading all of a ResNet-50's 100 MB, or words spread
 * over it (a page fault each), would add a tenth of a second to its load. Read from the file,
 * not the mapping, as every tensor is: a file cut short meanwhile is an error, not SIGBUS. */
static resnet_status tensors_digest(const rn_safetensors *st, unsigned long long *digest, resnet_error *err) {
    const unsigned long long prime = 1099511628211ull;
    unsigned long long h = 14695981039346656037ull;
    enum { ENDS = 512 };
    unsigned char buf[2 * ENDS];
    for (size_t i = 0; i < rn_st_count(st); i++) {
        const rn_tensor *t = rn_st_tensor(st, i);
        if (t->dtype == RN_DT_I64) continue;
        const size_t n = t->nbytes, head = n > 2 * ENDS ? ENDS : n, tail = n > 2 * ENDS ? ENDS : 0;
        resnet_status s = rn_st_read_range(st, t, 0, head, buf, err);
        if (s == RESNET_OK) s = rn_st_read_range(st, t, n - tail, tail, buf + head, err);
        if (s != RESNET_OK) return s;
        for (size_t j = 0; j < head + tail; j++) h = (h ^ buf[j]) * prime;
        h = (h ^ n) * prime; /* where one tensor ends and the next begins */
    }
    *digest = h;
    return RESNET_OK;
}

/* Keeps the file's metadata for resnet_model_metadata, once the mapping is gone: the entries
 * within the header's bounds, in file order, packed "key\0value\0". */
static resnet_status keep_metadata(resnet_model *m, const rn_safetensors *st, const char *path, resnet_error *err) {
    const char *k, *v;
    size_t chars = 0, bytes = 0; /* of the entries kept: their text (the bound), with the NULs */
    for (size_t i = 0; rn_st_metadata_at(st, i, &k, &v); i++) {
        const size_t kn = strlen(k), vn = strlen(v);
        if (vn > RESNET_METADATA_MAX_VALUE || kn + vn > RESNET_METADATA_MAX_TOTAL - chars) continue;
        chars += kn + vn;
        bytes += kn + vn + 2;
    }
    if (bytes == 0) return RESNET_OK;
    char *p = m->meta = malloc(bytes);
    if (!p) return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", path);
    chars = 0;
    for (size_t i = 0; rn_st_metadata_at(st, i, &k, &v); i++) {
        const size_t kn = strlen(k), vn = strlen(v);
        if (vn > RESNET_METADATA_MAX_VALUE || kn + vn > RESNET_METADATA_MAX_TOTAL - chars) continue;
        chars += kn + vn;
        memcpy(p, k, kn + 1);
        memcpy(p + kn + 1, v, vn + 1);
        p += kn + vn + 2;
        m->meta_n++;
    }
    return RESNET_OK;
}

const char *resnet_model_metadata(const resnet_model *m, const char *key) {
    if (!m || !key) return NULL;
    const char *p = m->meta;
    for (size_t i = 0; i < m->meta_n; i++) {
        const char *v = p + strlen(p) + 1;
        if (strcmp(p, key) == 0) return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}

resnet_status rn_model_load_cfg(const char *path, const rn_kernel_config *kc, const rn_qkernel_config *qk,
                                const rn_load_config *cfg, resnet_model **out, resnet_error *err) {
    *out = NULL;
    rn_safetensors *st;
    resnet_status s = rn_weights_open(path, &st, err);
    if (s != RESNET_OK) return s;
    resnet_model *m = calloc(1, sizeof *m);
    if (!m) {
        rn_st_close(st);
        return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", path);
    }
    pthread_mutex_init(&m->pool_mu, NULL);
    m->kc = kc;
    m->qk = qk ? qk : qkernels_for(kc);
    m->bf16 = cfg->bf16;
    s = tensors_digest(st, &m->digest, err);
    if (s == RESNET_OK) s = rn_model_bind_config(m, st, path, cfg, err);
    if (s == RESNET_OK) s = keep_metadata(m, st, path, err);
    if (s == RESNET_OK && m->int8 && cfg->bf16)
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
    free(m->meta);
    if (m->pool) rn_pool_free(m->pool);
    pthread_mutex_destroy(&m->pool_mu);
    free(m);
}

/* The getters take a NULL model (a failed load's) and answer 0, NULL or a zeroed record. */
resnet_variant resnet_model_variant(const resnet_model *m) { return m ? m->variant : (resnet_variant)0; }
resnet_norm resnet_model_norm(const resnet_model *m) { return m ? m->norm : (resnet_norm)0; }
resnet_kernels resnet_model_kernels(const resnet_model *m) { return m ? m->kc->id : RESNET_KERNELS_AUTO; }
resnet_precision resnet_model_precision(const resnet_model *m) {
    return !m ? RESNET_PRECISION_FP32 : m->int8 ? RESNET_PRECISION_INT8 : m->bf16 ? RESNET_PRECISION_BF16 : RESNET_PRECISION_FP32;
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
const char *resnet_model_int8_kernels(const resnet_model *m) { return m && m->int8 ? m->qk->name : NULL; }
double resnet_model_int8_peak_gops(const resnet_model *m, double seconds) {
    return m && m->int8 && m->qk->peak_gops ? m->qk->peak_gops(seconds) : 0.0;
}

/* Multiply-adds x 2 of one image's forward pass, from the layer list. */
double resnet_model_flops(const resnet_model *m) {
    double f = 0;
    for (int i = 0; m && i < m->net.n; i++) {
        const rn_layer *l = &m->net.layers[i];
        if (l->kind == RN_L_CONV || l->kind == RN_L_FC)
            f += 2.0 * l->oh * l->ow * (double)l->cout * l->k * l->k * (l->cin / l->groups);
    }
    return f;
}

/* The shared work buffer a batch of n needs: the largest any convolution asks for. */
static size_t model_work_floats(const resnet_model *m, int n) {
    size_t most = 0;
    for (int i = 0; i < m->net.n; i++) {
        const rn_layer *l = &m->net.layers[i];
        if (l->kind != RN_L_CONV) continue;
        size_t f = rn_conv_work_floats(&m->convs[i], n, l->h, l->w);
        if (f > most) most = f;
    }
    return most;
}

/* Each worker's scratch: the most any convolution or the fc asks for. */
static size_t model_scratch_floats(const resnet_model *m) {
    size_t most = 0;
    for (int i = 0; i < m->net.n; i++) {
        const rn_layer *l = &m->net.layers[i];
        if (l->kind != RN_L_CONV && l->kind != RN_L_FC) continue;
        size_t f = rn_conv_scratch_floats(m->kc, &m->convs[i]);
        if (f > most) most = f;
    }
    return most;
}

/* ---- sessions ---------------------------------------------------------------- */

enum { RN_PROF_PASSES = 256 }; /* profiled passes whose time between layers is kept */

struct resnet_session {
    const resnet_model *m;
    int max_batch;
    rn_pool *pool;     /* its own, or the model's (shared_pool) */
    int shared_pool;
    float **scratch;   /* per pool thread: an im2col block, int8 edge rows, or Winograd's M */
    float *work;       /* shared by the threads within one layer (Winograd's V, a bf16 3x3's input) */
    int parallel_images; /* a batch may run its images side by side, one a thread (forward) */
    size_t image_work;   /* floats of `work` each thread's image has then */
    rn_exec ex;
    rn_observer observer; /* calibration (model/quantize.c): sees every fp32 convolution */
    void *observer_ctx;
    float *buf[RN_BUFFERS]; /* activations: max_batch slots of `slot` floats each */
    size_t slot;            /* floats of one image's slot: net.max_act at least */
    int image_stages;       /* -1: image_by_image_until decides; else the stages it runs so */
    float *logits;     /* max_batch x fc.n_padded */
    void *fc_rows;     /* an int8 fc's quantized rows: max_batch x the last map's cells (the maps') */
    /* per-layer timing, only when profiling is on (bench --profile) */
    int profiling, prof_n, prof_slot;
    resnet_layer_profile *prof; /* net.n entries */
    double *pass_ms;            /* net.n: each layer's time in this pass, summed over its calls */
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
    for (int i = 0; i < RN_BUFFERS; i++) rn_aligned_free(s->buf[i]);
    rn_aligned_free(s->logits);
    rn_aligned_free(s->fc_rows);
    free(s->prof);
    free(s->pass_ms);
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

/* The last stage's map: cells of one image (7x7 = 49 for a 224 crop at output stride 32). */
static int map_cells(const resnet_model *m) {
    const rn_layer *l = &m->net.layers[m->net.stage_out[RN_STAGES - 1]];
    return l->oh * l->ow;
}

resnet_status resnet_session_create(const resnet_model *m, int threads, int max_batch,
                                    resnet_session **out, resnet_error *err) {
    if (out) *out = NULL;
    if (!m || !out) return rn_fail(err, RESNET_E_ARG, "resnet_session_create: NULL argument");
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
    const size_t scratch_floats = model_scratch_floats(m);
    for (int i = 0; ok && i < threads; i++)
        ok = (s->scratch[i] = rn_aligned_alloc(scratch_floats * sizeof(float))) != NULL;
    const rn_conv *fc = rn_model_fc(m);
    const size_t fc_cols = fc ? (size_t)fc->n_padded : 0; /* a backbone has no logits */
    size_t per_image = m->net.max_act; /* also the class maps' scratch: a row per cell */
    if ((size_t)map_cells(m) * fc_cols > per_image) per_image = (size_t)map_cells(m) * fc_cols;
    for (int i = 0; ok && i < RN_BUFFERS; i++)
        ok = (s->buf[i] = rn_aligned_alloc((size_t)max_batch * per_image * sizeof(float))) != NULL;
    if (fc) ok = ok && (s->logits = rn_aligned_alloc((size_t)max_batch * fc_cols * sizeof(float))) != NULL;
    if (fc && fc->q)
        ok = ok && (s->fc_rows = rn_aligned_alloc(rn_qdense_scratch_bytes(fc->cin, max_batch * map_cells(m)))) != NULL;
    /* images in parallel (forward) need a work buffer each, where a batch can fill the threads */
    s->parallel_images = threads > 1 && max_batch >= threads;
    s->image_work = s->parallel_images ? (model_work_floats(m, 1) + 15) / 16 * 16 : 0;
    size_t work = model_work_floats(m, max_batch);
    if ((size_t)threads * s->image_work > work) work = (size_t)threads * s->image_work;
    ok = ok && (s->work = rn_aligned_alloc(work * sizeof(float))) != NULL;
    ok = ok && (s->prof = calloc((size_t)m->net.n, sizeof *s->prof)) != NULL;
    ok = ok && (s->pass_ms = calloc((size_t)m->net.n, sizeof *s->pass_ms)) != NULL;
    s->slot = per_image;
    s->image_stages = -1;
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

/* A NULL session (a failed create's) answers 0, NULL or nothing, as the model's getters do. */
int resnet_session_threads(const resnet_session *s) { return s ? rn_pool_size(s->pool) : 0; }
int resnet_session_max_batch(const resnet_session *s) { return s ? s->max_batch : 0; }
const resnet_model *resnet_session_model(const resnet_session *s) { return s ? s->m : NULL; }

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
    if (!s) return;
    s->profiling = on;
    s->prof_n = 0;
    s->prof_passes = 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double resnet_session_profile_between(const resnet_session *s) {
    if (!s) return -1.0;
    int n = s->prof_passes < RN_PROF_PASSES ? s->prof_passes : RN_PROF_PASSES;
    if (n == 0) return -1.0;
    double v[RN_PROF_PASSES];
    memcpy(v, s->prof_between, (size_t)n * sizeof *v);
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int resnet_session_profile(const resnet_session *s, resnet_layer_profile *out, int max) {
    if (!s) return 0;
    if (!out) max = 0; /* only the count */
    int n = s->prof_n < max ? s->prof_n : max;
    for (int i = 0; i < n; i++) out[i] = s->prof[i];
    return s->prof_n;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* Keeps each layer's best time over the runs: the least disturbed by the rest of the machine. */
static void prof_record(resnet_session *s, const rn_layer *l, const rn_conv *c, int n, double ms) {
    s->prof_layers_ms += ms;
    if (s->prof_slot >= s->m->net.n) return;
    resnet_layer_profile *p = &s->prof[s->prof_slot++];
    if (s->prof_slot > s->prof_n) {
        s->prof_n = s->prof_slot;
        char text[128]; /* each field written whole here, then cut to its size */
        snprintf(text, sizeof text, "%s%s", l->name,
                 l->kind == RN_L_MAXPOOL && s->m->int8 && !rn_model_stem(s->m)->q ? "+quantize" : "");
        snprintf(p->name, sizeof p->name, "%.47s", text);
        if (c)
            snprintf(text, sizeof text, "%dx%d/%d %d->%d %dx%d", l->k, l->k, l->stride, l->cin, l->cout, l->oh, l->ow);
        else
            snprintf(text, sizeof text, "%dx%d", l->oh, l->ow);
        snprintf(p->shape, sizeof p->shape, "%.47s", text);
        if (c)
            snprintf(text, sizeof text, "%s %dx%d %s%s", c->q ? "int8" : c->w16 ? "bf16" : "fp32", l->k, l->k,
                     c->q && c->q->dense_scale ? "fc, per-row scale" :
                     c->winograd == 4   ? "Winograd F(4x4,3x3)"
                     : c->winograd == 3 ? "Winograd F(3x3,3x3)"
                     : c->winograd == 2 ? "Winograd F(2x2,3x3)"
                     : c->im2col        ? "im2col"
                     : c->q && c->q->window ? "window rows"
                     : c->gconv         ? "grouped"
                     : l->groups > 1    ? "grouped GEMM"
                                        : "direct",
                     l->dilation > 1 ? " dilated" : "");
        else
            snprintf(text, sizeof text, "%s", p->name); /* a pool: its name */
        snprintf(p->method, sizeof p->method, "%.31s", text);
        p->gflop = c ? 2e-9 * n * l->oh * l->ow * l->cout * (double)l->k * l->k * (l->cin / l->groups) : 0.0;
        p->ms = ms;
    } else if (ms < p->ms) {
        p->ms = ms;
    }
}

/* ---- the forward pass ------------------------------------------------------------- */

/* Where a tensor of one image, `floats` floats, starts in its slot of a buffer: centred in the
 * slot when the call runs one image (a batch of one, or a batch image by image), else at the
 * start. Each thread takes the same share of every layer's rows (threadpool.c: thread 0 the
 * first half at 2 threads), but a buffer holds tensors of many sizes in turn: from the start
 * of the slot, a line 40% into the largest is thread 0's there and thread 1's in a tensor half
 * its size, so one thread writes lines the other's cache holds and must take them from it.
 * Centred, the threads' rows meet at the same address for every tensor, and each writes the
 * lines it wrote before. Where the two cores share no L3 (a VM's two vCPUs, now and then) that
 * took a ResNet-50 pass at 2 threads from 36.7 to 35.0 ms (Zen 4). A u8 tensor is placed by its
 * count of values too: the same place for its writer and its readers. */
static size_t placed(const resnet_session *s, size_t floats, int n) {
    return n == 1 && floats <= s->slot ? (s->slot - floats) / 2 & ~(size_t)15 : 0;
}

/* Runs layer li of the list on n images whose activations start `at` floats into the buffers
 * (0, or an image's slot when the batch runs image by image): the only place that knows a layer's precision, times
 * layers (when profiling) and shows convolutions to the observer. An int8 layer reads u8
 * activations (and a u8 residual) and writes u8, or floats where fp32 layers follow; the max
 * pool of an int8 model quantizes as it writes (the boundary: the blocks read u8). */
static void run(resnet_session *s, const rn_exec *ex, int li, const float *input, int n, size_t at) {
    const resnet_model *m = s->m;
    const rn_layer *l = &m->net.layers[li];
    const rn_conv *c = l->kind == RN_L_CONV || l->kind == RN_L_FC ? &m->convs[li] : NULL;
    const size_t in_at = at + placed(s, (size_t)l->h * l->w * l->cin, n),
                 out_at = at + placed(s, (size_t)l->oh * l->ow * l->cout, n);
    const void *in = l->in >= 0 ? (const void *)(s->buf[l->in] + in_at) : (const void *)input;
    void *out = l->out >= 0 ? (void *)(s->buf[l->out] + out_at) : (void *)s->logits;
    const void *res = l->res >= 0 ? s->buf[l->res] + out_at : NULL; /* the output's shape */
    const rn_conv *stem = rn_model_stem(m);
    double t0 = s->profiling ? now_ms() : 0.0;
    switch (l->kind) {
    case RN_L_INPUT: /* the public CHW planes -> NHWC; u8 for an int8 stem (weights.c: load_qstem) */
        if (stem->q)
            rn_chw_to_nhwc_u8(ex, stem->q->qk->quantize, in, n, 3, l->h, l->w, m->q_stem_scale, m->q_stem_zero, out);
        else rn_chw_to_nhwc(ex, in, n, 3, l->h, l->w, out);
        break;
    case RN_L_CONV:
        if (c->q) rn_qconv_forward(ex, c, in, n, l->h, l->w, out, res);
        else rn_conv_forward(ex, c, in, n, l->h, l->w, out, res, l->relu);
        break;
    case RN_L_MAXPOOL:
        if (stem->q) /* an int8 stem: u8 in the blocks' scale already */
            rn_maxpool_forward_u8u8(ex, in, n, l->h, l->w, l->cin, l->k, l->stride, l->pad, out);
        else if (m->int8) /* an fp32 stem: the blocks read u8, quantized as the pool writes */
            rn_maxpool_forward_u8(ex, in, n, l->h, l->w, l->cin, l->k, l->stride, l->pad, m->q_in_scale, out);
        else rn_maxpool_forward(ex, in, n, l->h, l->w, l->cin, l->k, l->stride, l->pad, out);
        break;
    case RN_L_AVGPOOL:
        rn_avgpool_forward(in, n, l->h, l->w, l->cin, out);
        break;
    case RN_L_FC: /* n rows of pooled features */
        rn_fc_forward(ex, c, in, n, out, s->fc_rows);
        break;
    }
    if (s->profiling) s->pass_ms[li] += now_ms() - t0;
    if (c && s->observer && !c->q)
        s->observer(s->observer_ctx, li, c, in, n, l->h, l->w, out, l->oh, l->ow);
}

/* Stage st's output of n images (NHWC in the session's buffer, u8 in an int8 model but for the
 * last stage) as NCHW floats: torchvision's layout, for a backbone's users. */
static void copy_stage(const resnet_session *s, int st, int n, size_t at, float *dst) {
    const resnet_model *m = s->m;
    const int li = m->net.stage_out[st];
    const rn_layer *l = &m->net.layers[li];
    const size_t hw = (size_t)l->oh * l->ow, c = (size_t)l->cout;
    const float scale = m->act_scale[li];
    at += placed(s, hw * c, n);
    for (int i = 0; i < n; i++) {
        float *d = dst + (size_t)i * c * hw;
        if (m->int8 && scale > 0) {
            const uint8_t *src = (const uint8_t *)(s->buf[l->out] + at) + (size_t)i * hw * c;
            for (size_t p = 0; p < hw; p++)
                for (size_t ch = 0; ch < c; ch++) d[ch * hw + p] = scale * src[p * c + ch];
        } else {
            const float *src = s->buf[l->out] + at + (size_t)i * hw * c;
            for (size_t p = 0; p < hw; p++)
                for (size_t ch = 0; ch < c; ch++) d[ch * hw + p] = src[p * c + ch];
        }
    }
}

/* Bytes of one image of conv layer li's output as the buffers hold it (u8 after an int8
 * layer, unless it writes the floats of the fp32 layers after it). */
static size_t conv_out_bytes(const resnet_model *m, int li) {
    const rn_layer *l = &m->net.layers[li];
    const rn_qconv *q = m->convs[li].q;
    return (size_t)l->oh * l->ow * l->cout * (q && !q->out_f32 ? 1 : sizeof(float));
}

/* The last layer of the batch's image-by-image part, or -1 for none.
 * A batch runs each layer on all its images at once, which suits the later stages: their
 * weights are large and their maps small, and a layer's weights stream from memory once
 * for the batch. The early stages are the other way round: ResNet-50's first stage holds
 * 3.2 MB of activations an image and 0.9 MB of weights in all, so at batch 8 a layer's output
 * (26 MB) leaves the caches before the next layer reads it, and the stage ran 1.5x slower
 * an image than at batch 1. So the stages whose activations for the whole batch would not
 * stay in cache run image by image (each image in its own slot of the buffers), while one
 * image's rows still give every thread several tasks; the rest run as one batch.
 * Where the images run side by side, one a thread (forward), a float model's run so
 * through every stage but the last, whatever the cache holds: at 2 threads that took batch 2
 * from 43.4-44.6 to 40.7-41.6 ms and batch 4 from 84.8-85.7 to 78.2-81.3 (fp32; bf16 at batch 2
 * 27.0-29.6 -> 25.1-27.9), where a batch of two shared each layer of stages 2-3 between the
 * threads. The last stage's weights are the network's largest, streamed once an image then.
 * An int8 model keeps the rule above: its stages 2-3 side by side were no faster (batch 8,
 * 47.4-49.1 ms against 48.1-51.5). */
static int image_by_image_until(const resnet_session *s, int n, int side_by_side) {
    const resnet_model *m = s->m;
    const rn_net *net = &m->net;
    if (n == 1 || s->observer) return -1; /* calibration sees each convolution's whole batch */
    if (s->image_stages >= 0) return s->image_stages ? net->stage_out[s->image_stages - 1] : -1;
    /* 2 MiB a thread, about a core's L2; 8 MiB for an int8 model on more than one thread. Its
     * maps are a quarter of the size, and image by image each layer's threads meet eight
     * times at batch 8 instead of once, and the images' outputs move into the batch's layout
     * after (0.35 ms a pass). On a Zen 5 (32 MB of L3) at 2 threads, stage 1 as one batch
     * took batch 8 from 44.71 to 44.34 ms (10 alternating rounds, faster in 9) and batch 16
     * from 86.7 to 85.6 ms; batch 32 (26 MB of stage-1 maps) ran 173.1 ms image by image
     * against 175.2. On one thread, with no meetings to save, batch 8 image by image took
     * 83.7 ms against 85.5 as one batch. */
    const int threads = rn_pool_size(s->pool);
    const size_t budget = (size_t)threads << (m->int8 && threads > 1 ? 23 : 21);
    int until = -1;
    for (int st = 0, li = 0; st < RN_STAGES; st++) {
        size_t most = 0; /* the stage's largest output, one image */
        for (; li <= net->stage_out[st]; li++) {
            const rn_layer *l = &net->layers[li];
            const size_t bytes = l->kind == RN_L_CONV ? conv_out_bytes(m, li) : (size_t)l->oh * l->ow * l->cout * sizeof(float);
            if (bytes > most) most = bytes;
        }
        if ((size_t)n * most <= budget) break;
        until = net->stage_out[st];
    }
    const int but_last = net->stage_out[RN_STAGES - 2];
    if (!m->int8 && side_by_side && until < but_last) until = but_last;
    return until;
}

void rn_session_set_image_stages(resnet_session *s, int stages) {
    s->image_stages = stages < -1 ? -1 : stages > RN_STAGES ? RN_STAGES : stages;
}

/* After the image-by-image layers: each image's output from its place in its slot to where a
 * batch keeps it (one after the other from the start; no image's move overwrites a later one's). */
static void pack_slots(resnet_session *s, int li, int n) {
    const rn_layer *l = &s->m->net.layers[li];
    const size_t bytes = conv_out_bytes(s->m, li), slot = s->slot * sizeof(float);
    const size_t from = placed(s, (size_t)l->oh * l->ow * l->cout, 1) * sizeof(float);
    char *base = (char *)s->buf[l->out];
    for (int b = 0; b < n; b++) memmove(base + b * bytes, base + b * slot + from, bytes);
}

/* Stage outputs asked for, after layer li of images first..first+count (their activations `at`
 * floats into the buffers). */
static void copy_stages(const resnet_session *s, const resnet_outputs *out, int li, int first, int count,
                        size_t at) {
    for (int st = 0; st < RN_STAGES; st++) {
        if (!out->stages[st] || s->m->net.stage_out[st] != li) continue;
        const rn_layer *l = &s->m->net.layers[li];
        copy_stage(s, st, count, at, out->stages[st] + (size_t)first * l->oh * l->ow * l->cout);
    }
}

/* The image-by-image layers (image_by_image_until) of one image. */
typedef struct image_job {
    resnet_session *s;
    const float *input;
    const resnet_outputs *out;
    int until;
} image_job;

static void run_image(const image_job *j, const rn_exec *ex, int b) {
    resnet_session *s = j->s;
    const size_t image_floats = (size_t)3 * s->m->net.layers[0].h * s->m->net.layers[0].w;
    for (int li = 0; li <= j->until; li++) {
        run(s, ex, li, j->input + (size_t)b * image_floats, 1, (size_t)b * s->slot);
        copy_stages(s, j->out, li, b, 1, (size_t)b * s->slot);
    }
}

/* Image b on the pool's thread `thread` alone: that thread's scratch and its own part of the
 * work buffer, no pool. At 2 threads two images side by side take no turns and share no
 * data, where one image at a time waits for the slower thread at every layer and reads the
 * other core's rows (at batch 8 the Winograd layers scaled 1.1-1.6x from 1 to 2 threads,
 * the whole pass 1.8x). */
static void image_task(void *ctx, int b, int thread) {
    const image_job *j = ctx;
    resnet_session *s = j->s;
    const rn_exec ex = {s->m->kc, NULL, s->scratch + thread, s->work + (size_t)thread * s->image_work};
    run_image(j, &ex, b);
}

/* resnet_forward_ex on the library's own resnet_outputs. The layer list top to bottom: the
 * input's layout, the stem, the max pool, every block's convolutions, the pool, the fc; the
 * early stages of a batch image by image (image_by_image_until). */
static resnet_status forward(resnet_session *s, const float *input, int n, const resnet_outputs *out,
                             resnet_error *err) {
    if (!s || !input) return rn_fail(err, RESNET_E_ARG, "resnet_forward: NULL argument");
    float *logits = out->logits, *features = out->features;
    if (n < 1 || n > s->max_batch)
        return rn_fail(err, RESNET_E_ARG, "resnet_forward: batch of %d, session allows 1..%d", n, s->max_batch);
    const resnet_model *m = s->m;
    const rn_net *net = &m->net;
    const int classes = net->a.classes, dim = net->a.features;
    /* An inf or NaN in the input is no photo: the ReLUs and the max pool can swallow it (a NaN
     * pixel gave finite logits, RESNET_OK), and an int8 model quantizes it to a number, so the
     * answer would look like any other. Refused here, naming the first; the check reads the
     * input once (about 8 us a 224x224 image). */
    const size_t image_floats = (size_t)3 * net->layers[0].h * net->layers[0].w;
    const size_t at = rn_first_nonfinite(input, (size_t)n * image_floats);
    if (at < (size_t)n * image_floats)
        return rn_fail(err, RESNET_E_ARG, "resnet_forward: input value %zu of image %zu is %s, not a normalised pixel",
                       at % image_floats, at / image_floats, isnan(input[at]) ? "NaN" : "infinite");
    if ((logits || out->class_maps) && !rn_model_fc(m))
        return rn_fail(err, RESNET_E_UNSUPPORTED, RN_BACKBONE_MSG "%s", logits ? "logits" : "class maps");
    /* where the pass may stop: past the last stage asked for when nothing after it is */
    int last = net->n - 1;
    if (!logits && !features && !out->feature_map && !out->class_maps) {
        last = -1;
        for (int st = 0; st < RN_STAGES; st++)
            if (out->stages[st]) last = net->stage_out[st];
        if (last < 0) return RESNET_OK; /* nothing asked */
    }

    const double t_start = s->profiling ? now_ms() : 0.0;
    s->prof_slot = 0;
    s->prof_layers_ms = 0.0;
    if (s->profiling) memset(s->pass_ms, 0, (size_t)net->n * sizeof *s->pass_ms);
    rn_pool_enter(s->pool); /* sessions sharing the pool share its cores (threadpool.c) */
    /* images side by side, each on one thread, as many as fill the threads; the rest (and, when
     * profiling, all: a layer's time is one call's) with the threads sharing each layer. The
     * threads are counted once: another session's pass on a shared pool may change them. */
    const int threads = rn_pool_threads(s->pool);
    const int side_by_side = s->parallel_images && !s->profiling && threads > 1 && n >= threads;
    const int split = image_by_image_until(s, n, side_by_side), split_end = split < last ? split : last;
    image_job ij = {s, input, out, split_end};
    const int together = split >= 0 && side_by_side ? n - n % threads : 0;
    if (together) rn_pool_run(s->pool, together, image_task, &ij);
    for (int b = together; split >= 0 && b < n; b++) run_image(&ij, &s->ex, b);
    if (split >= 0 && split < last) pack_slots(s, split, n);
    for (int li = split + 1; li <= last; li++) {
        const rn_layer *l = &net->layers[li];
        if (l->kind == RN_L_AVGPOOL) { /* the last stage's map, before it is pooled */
            const int cells = l->h * l->w;
            const float *map = s->buf[l->in] + placed(s, (size_t)cells * dim, n);
            if (out->feature_map) /* NHWC: already the public layout */
                memcpy(out->feature_map, map, (size_t)n * cells * dim * sizeof(float));
            if (out->class_maps) /* scratch: a buffer neither the map nor pooling use */
                rn_class_maps(&s->ex, rn_model_fc(m), map, n, cells, s->buf[(l->in + 2) % RN_BUFFERS], s->fc_rows,
                              out->class_maps);
        }
        if (l->kind == RN_L_FC && !logits) break;
        run(s, &s->ex, li, input, n, 0);
        copy_stages(s, out, li, 0, n, 0);
    }
    const rn_layer *pool = &net->layers[net->pool];
    for (int i = 0; i < n; i++) {
        if (logits)
            memcpy(logits + (size_t)i * classes, s->logits + (size_t)i * rn_model_fc(m)->n_padded,
                   (size_t)classes * sizeof(float));
        if (features)
            memcpy(features + (size_t)i * dim, s->buf[pool->out] + placed(s, (size_t)dim, n) + (size_t)i * dim,
                   (size_t)dim * sizeof(float));
    }
    rn_pool_leave(s->pool);
    for (int li = 0; s->profiling && li <= last; li++)
        if (net->layers[li].kind != RN_L_FC || logits)
            prof_record(s, &net->layers[li], net->layers[li].kind == RN_L_CONV || net->layers[li].kind == RN_L_FC
                                                 ? &m->convs[li] : NULL, n, s->pass_ms[li]);
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

/* Whether out holds answers for n images of a network of these shapes. */
static resnet_status outputs_check(const resnet_outputs *out, int n, int classes, int dim, int cells,
                                   resnet_error *err) {
    if (!out || n < 0) return rn_fail(err, RESNET_E_ARG, "resnet_outputs_check: bad argument");
    resnet_outputs o;
    resnet_status st = rn_sized_read(&outputs_type, out, &o, err);
    if (st != RESNET_OK) return st;
    const char *bad = o.logits ? rn_logits_problem(o.logits, n, classes) : NULL;
    const size_t images = (size_t)n;
    if (!bad && ((o.features && !rn_all_finite(o.features, images * dim)) ||
                 (o.feature_map && !rn_all_finite(o.feature_map, images * cells * dim)) ||
                 (o.class_maps && !rn_all_finite(o.class_maps, images * classes * cells))))
        bad = RN_NONFINITE_MSG;
    return bad ? rn_fail(err, RESNET_E_WEIGHTS, "%s", bad) : RESNET_OK;
}

resnet_status resnet_outputs_check(const resnet_outputs *out, int n, resnet_error *err) {
    return outputs_check(out, n, RESNET_NUM_CLASSES, RESNET_FEATURE_DIM, RESNET_MAP_CELLS, err);
}

resnet_status resnet_model_outputs_check(const resnet_model *m, const resnet_outputs *out, int n,
                                         resnet_error *err) {
    if (!m) return rn_fail(err, RESNET_E_ARG, "resnet_model_outputs_check: NULL model");
    return outputs_check(out, n, m->net.a.classes, m->net.a.features, map_cells(m), err);
}

/* ---- what was loaded -------------------------------------------------------------- */

int resnet_model_classes(const resnet_model *m) { return m ? m->net.a.classes : 0; }
int resnet_model_feature_dim(const resnet_model *m) { return m ? m->net.a.features : 0; }
int resnet_model_input_size(const resnet_model *m) { return m ? m->net.a.input_size : 0; }

void resnet_model_map_size(const resnet_model *m, int *height, int *width) {
    if (!m) {
        if (height) *height = 0;
        if (width) *width = 0;
        return;
    }
    const rn_layer *l = &m->net.layers[m->net.stage_out[RN_STAGES - 1]];
    if (height) *height = l->oh;
    if (width) *width = l->ow;
}

resnet_status resnet_model_stage_shape(const resnet_model *m, int stage, int *channels, int *height, int *width,
                                       resnet_error *err) {
    /* apart: a NULL model was reported as a bad stage ("stage must be 1 to 4, got 1") */
    if (!m) return rn_fail(err, RESNET_E_ARG, "resnet_model_stage_shape: NULL model");
    if (stage < 1 || stage > RN_STAGES)
        return rn_fail(err, RESNET_E_ARG, "stage must be 1 to %d (layer1..layer4), got %d", RN_STAGES, stage);
    const rn_layer *l = &m->net.layers[m->net.stage_out[stage - 1]];
    if (channels) *channels = l->cout;
    if (height) *height = l->oh;
    if (width) *width = l->ow;
    return RESNET_OK;
}

const char *resnet_model_class_name(const resnet_model *m, int index) {
    if (!m || index < 0 || index >= m->net.a.classes) return NULL;
    if (m->labels) return m->labels[index];
    if (m->net.a.classes == RESNET_NUM_CLASSES) return resnet_class_name(index);
    return NULL; /* the caller says "class N" (resnet_model_class_label) */
}

const char *resnet_model_class_label(const resnet_model *m, int index, char *buf, size_t size) {
    const char *name = resnet_model_class_name(m, index);
    if (name) return name;
    if (!m || index < 0 || index >= m->net.a.classes || !buf || size == 0) return NULL;
    snprintf(buf, size, "class %d", index);
    return buf;
}

void resnet_model_info(const resnet_model *m, resnet_info *info) {
    if (!info) return;
    memset(info, 0, sizeof *info);
    if (!m) return;
    const rn_arch *a = &m->net.a;
    snprintf(info->arch, sizeof info->arch, "%s", m->arch_name);
    info->depth = rn_arch_depth(a);
    info->block = a->kind == RN_BOTTLENECK ? RESNET_BLOCK_BOTTLENECK : RESNET_BLOCK_BASIC;
    for (int st = 0; st < RN_STAGES; st++) {
        info->blocks[st] = a->blocks[st];
        info->widths[st] = a->width[st];
    }
    info->groups = a->groups[0];
    info->classes = a->classes;
    info->feature_dim = a->features;
    info->input_size = a->input_size;
    info->output_stride = a->output_stride;
    info->precision = resnet_model_precision(m);
    info->variant = m->variant;
    info->norm = m->norm;
    info->labels = m->labels ? 1 : a->classes == RESNET_NUM_CLASSES ? 2 : 0;
    info->layers = m->net.n;
}
