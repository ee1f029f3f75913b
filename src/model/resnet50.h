/* resnet50.h - the network's structure: the paper's Table 1, 50-layer column (internal).
 *
 *   layer     output    blocks  bottleneck (1x1, 3x3, 1x1)
 *   conv1     112x112   7x7, 64, stride 2  (+BN+ReLU)
 *   pool      56x56     3x3 max pool, stride 2
 *   conv2_x   56x56     3 x [64, 64, 256]
 *   conv3_x   28x28     4 x [128, 128, 512]    first block strides by 2
 *   conv4_x   14x14     6 x [256, 256, 1024]   first block strides by 2
 *   conv5_x   7x7       3 x [512, 512, 2048]   first block strides by 2
 *             1x1       global average pool, 1000-way fc, softmax
 * Batch norm is folded into each convolution's weights and bias at load. */
#ifndef RN_RESNET50_H
#define RN_RESNET50_H

#include <pthread.h>

#include "io/safetensors.h"
#include "kernels/qkernels.h"
#include "ops/conv.h"

enum { RN_STAGES = 4, RN_BLOCKS = 16 };
extern const int rn_stage_blocks[RN_STAGES]; /* 3, 4, 6, 3 */
extern const int rn_stage_width[RN_STAGES];  /* 64, 128, 256, 512 (bottleneck width; out is 4x) */

struct rn_safetensors;
/* Binds an open weight file to m (weights.c): checks every tensor's presence, dtype and shape,
 * folds batch norm and packs for m->kc (direct: no Winograd). path names the file in messages. */
resnet_status rn_model_bind(resnet_model *m, const struct rn_safetensors *st, const char *path, int direct,
                            resnet_error *err);

typedef struct rn_block {
    rn_conv conv1;    /* 1x1, width      (+ReLU); v1: stride here */
    rn_conv conv2;    /* 3x3, width      (+ReLU); v1.5: stride here */
    rn_conv conv3;    /* 1x1, 4 x width  (+shortcut, +ReLU) */
    rn_conv down;     /* 1x1 projection shortcut, first block of a stage only */
    int has_down;
} rn_block;

struct resnet_model {
    resnet_variant variant;
    resnet_norm norm;
    double bn_eps;
    const rn_kernel_config *kc;
    int int8;                      /* an int8 file: the bottleneck convolutions run in int8 */
    int bf16;                      /* bf16 convolutions (RN_CONV_BF16): a bf16 file or option */
    const rn_qkernel_config *qk;   /* their micro-kernels */
    float q_in_scale;              /* u8 scale of the first block's input (the stem's output) */
    float q_stem_scale;            /* u8 scale and zero point of the int8 stem's input (the photo) */
    int q_stem_zero;
    rn_conv conv1;            /* 7x7/2, 3 -> 64 (+ReLU) */
    rn_block blocks[RN_BLOCKS];
    rn_conv fc;               /* 2048 -> 1000, as a 1x1 convolution */
    /* The worker pool of the sessions created with threads = 0, one per core, made by the
     * first of them and freed with the model (which outlives its sessions). The only part of
     * a loaded model that changes, hence its own lock. */
    pthread_mutex_t pool_mu;
    rn_pool *pool;
};

/* resnet_model_load with a given kernel family (the tests pass emulated ones). direct holds
 * RN_LOAD_* flags: RN_LOAD_DIRECT (no Winograd; 1, so a plain 0/1 is accepted), RN_LOAD_BF16. */
enum { RN_LOAD_DIRECT = 1, RN_LOAD_BF16 = 2 };
resnet_status rn_model_load_kc(const char *path, const rn_kernel_config *kc, int direct, resnet_model **out,
                               resnet_error *err);

/* As above with the int8 micro-kernels given too (NULL: the best matching kc). */
resnet_status rn_model_load_kcq(const char *path, const rn_kernel_config *kc, const rn_qkernel_config *qk,
                                int direct, resnet_model **out, resnet_error *err);

/* The convolution cname + batch norm bname of an fp32 file, folded (weights.c): *w OIHW
 * (free with rn_aligned_free), *bias cout floats (free). For the quantizer. */
resnet_status rn_weights_fold(const rn_safetensors *st, const char *path, double eps, const char *cname,
                              const char *bname, int cin, int cout, int ksize, float **w, float **bias,
                              resnet_error *err);

/* Calibration's hook in the forward pass: called after every fp32 convolution with its
 * input (n x h x w x cin) and output (n x oh x ow x n_padded), both floats. */
typedef void (*rn_observer)(void *ctx, const rn_conv *c, const float *in, int n, int h, int w, const float *out,
                            int oh, int ow);
void rn_session_set_observer(resnet_session *s, rn_observer fn, void *ctx);

/* Layers the profiler can tell apart: conv1, maxpool, 16 blocks x (3 convs + downsample), avgpool, fc. */
#define RN_MAX_LAYERS 72

/* Floats of the largest activation of one image (conv1's output, 112x112x64). */
#define RN_MAX_ACTIVATION ((size_t)112 * 112 * 64)

#endif
