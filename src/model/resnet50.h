/* resnet50.h - the loaded network: its layer list (arch.h), each convolution packed for the
 * chosen kernels, and what the forward pass and the binders share (internal). The name is the
 * project's first network's; every ResNet-family network is loaded through it. Batch norm is
 * folded into each convolution's weights and bias at load. */
#ifndef RN_RESNET50_H
#define RN_RESNET50_H

#include <pthread.h>

#include "io/safetensors.h"
#include "kernels/qkernels.h"
#include "ops/conv.h"

#include "model/arch.h"


struct resnet_model {
    resnet_variant variant;
    resnet_norm norm;
    double bn_eps;
    const rn_kernel_config *kc;
    int int8;                      /* an int8 file: the bottleneck convolutions run in int8 */
    int bf16;                      /* bf16 convolutions (RN_CONV_BF16): a bf16 file or option */
    int bf16_file;                 /* a BF16 file (resnet convert): weights rounded before folding */
    const rn_qkernel_config *qk;   /* their micro-kernels */
    float q_in_scale;              /* u8 scale of the first block's input (the stem's output) */
    float q_stem_scale;            /* u8 scale and zero point of the int8 stem's input (the photo) */
    int q_stem_zero;
    rn_net net;                    /* the architecture and its layers, in forward order */
    rn_conv *convs;                /* convs[i]: layer i's convolution (conv and fc rows only) */
    float *act_scale;              /* an int8 model's u8 scale of layer i's output (0: floats) */
    unsigned long long digest;     /* of the file's tensors, counters aside (the fingerprint's) */
    char arch_name[48];            /* "resnet50", "resnext50_32x4d", ... (rn_arch_name) */
    char **labels;                 /* net.a.classes names, or NULL: ImageNet's, or "class N" */
    char *label_store;
    /* The file's metadata (resnet_model_metadata), bounded: meta_n pairs "key\0value\0" */
    char *meta;
    size_t meta_n;
    /* The worker pool of the sessions created with threads = 0, one per core, made by the
     * first of them and freed with the model (which outlives its sessions). The only part of
     * a loaded model that changes, hence its own lock. */
    pthread_mutex_t pool_mu;
    rn_pool *pool;
};

/* The stem's and the fc's convolutions; a backbone has no fc (NULL). */
static inline const rn_conv *rn_model_stem(const resnet_model *m) { return &m->convs[1]; }
static inline const rn_conv *rn_model_fc(const resnet_model *m) {
    return m->net.a.classes > 0 ? &m->convs[m->net.n - 1] : NULL;
}

/* The load options the binder reads beyond the kernels (resnet_load_options). */
typedef struct rn_load_config {
    int direct;                    /* every convolution direct (no Winograd) */
    int input_size;                /* 0: the file's metadata, else 224 */
    int output_stride;             /* 0: the file's metadata, else 32 */
    const char *labels_path;       /* class names, one a line; NULL: the file's, or the default */
    int bf16;                      /* an fp32 file converted to bf16 as it loads */
    int wide_winograd;             /* Winograd on the wider 3x3 layers too (RN_CONV_WIDE) */
} rn_load_config;

/* resnet_model_load with a given kernel family (the tests pass emulated ones). direct holds
 * RN_LOAD_* flags: RN_LOAD_DIRECT (no Winograd; 1, so a plain 0/1 is accepted), RN_LOAD_BF16,
 * RN_LOAD_WIDE (resnet_load_options.wide_winograd). */
enum { RN_LOAD_DIRECT = 1, RN_LOAD_BF16 = 2, RN_LOAD_WIDE = 4 };
resnet_status rn_model_load_kc(const char *path, const rn_kernel_config *kc, int direct, resnet_model **out,
                               resnet_error *err);

/* As above with the int8 micro-kernels given too (NULL: the best matching kc). */
resnet_status rn_model_load_kcq(const char *path, const rn_kernel_config *kc, const rn_qkernel_config *qk,
                                int direct, resnet_model **out, resnet_error *err);

/* With every load option (resnet_model_load's; qk NULL: the best matching kc). */
resnet_status rn_model_load_cfg(const char *path, const rn_kernel_config *kc, const rn_qkernel_config *qk,
                                const rn_load_config *cfg, resnet_model **out, resnet_error *err);

/* The convolution cname + batch norm bname of an fp32 file, folded (weights.c): *w OIHW
 * (free with rn_aligned_free), *bias cout floats (free). For the quantizer. */
resnet_status rn_weights_fold(const rn_safetensors *st, const char *path, double eps, const char *cname,
                              const char *bname, int cin, int cout, int ksize, float **w, float **bias,
                              resnet_error *err);

/* Calibration's hook in the forward pass: called after every fp32 convolution (layer index
 * `layer` of m->net) with its input (n x h x w x cin) and output (n x oh x ow x n_padded). */
typedef void (*rn_observer)(void *ctx, int layer, const rn_conv *c, const float *in, int n, int h, int w,
                            const float *out, int oh, int ow);
void rn_session_set_observer(resnet_session *s, rn_observer fn, void *ctx);
/* How many leading stages (with the stem) a batch runs image by image: -1 (the default) lets
 * the forward pass decide from the batch's activation bytes; 0..4 forces it (the tests: every
 * schedule gives each image the same bits). */
void rn_session_set_image_stages(resnet_session *s, int stages);

/* rn_st_open for a file given as weights (weights.c): a photo given instead (operands in the
 * wrong order, --weights and --head mixed up) is named as one, not as a header that lies. */
resnet_status rn_weights_open(const char *path, rn_safetensors **st, resnet_error *err);

/* Binds an open weight file to m (weights.c) with the load options given: reads the architecture
 * from the tensors, checks every tensor's presence, dtype and shape (and that none is left
 * unused), folds batch norm and packs for m->kc. path names the file in messages. */
resnet_status rn_model_bind_config(resnet_model *m, const rn_safetensors *st, const char *path,
                                   const rn_load_config *cfg, resnet_error *err);

#endif
