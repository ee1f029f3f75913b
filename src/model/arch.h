/* arch.h - the network as data: an architecture record read from a weight file's tensor names
 * and shapes, and the one flat list of layers every loop of the engine walks (internal).
 *
 * torchvision's ResNet family, the paper's Table 1 generalised:
 *
 *   stem      conv1 7x7/2 (3 -> stem) + BN + ReLU, max pool 3x3/2
 *   layer1-4  blocks[s] blocks each; the first block of stages 2-4 strides by 2 (or dilates,
 *             torchvision's replace_stride_with_dilation) and has a 1x1 projection shortcut
 *             (downsample.0 conv + downsample.1 BN) where the shape changes
 *               basic:      3x3 (cin -> width), 3x3 (width -> out) + shortcut
 *               bottleneck: 1x1 (cin -> width), 3x3 (width -> width, groups), 1x1 (width -> out)
 *                           + shortcut; v1 strides in the first 1x1, v1.5 in the 3x3
 *   head      global average pool, fc (features -> classes); a backbone (no fc tensors:
 *             a detection or segmentation model's body) ends at the pool
 *
 * resnet18/34: basic [2,2,2,2] / [3,4,6,3]; resnet50/101/152: bottleneck [3,4,6,3] / [3,4,23,3] /
 * [3,8,36,3]; ResNeXt: bottleneck with groups > 1; wide_resnet: bottleneck twice as wide. The
 * record holds whatever the file has: any widths, depths, groups and classes of that shape. */
#ifndef RN_ARCH_H
#define RN_ARCH_H

#include "io/safetensors.h"
#include "resnet.h"

enum { RN_STAGES = 4 };

typedef enum rn_block_kind { RN_BASIC = 0, RN_BOTTLENECK = 1 } rn_block_kind;

typedef struct rn_arch {
    rn_block_kind kind;
    int stem;                     /* conv1's output channels */
    int blocks[RN_STAGES];        /* blocks per stage */
    int width[RN_STAGES];         /* a block's inner width (bottleneck: its 3x3's channels) */
    int out[RN_STAGES];           /* a block's output channels */
    int groups[RN_STAGES];        /* of the 3x3 in a bottleneck (ResNeXt > 1) */
    int down[RN_STAGES];          /* the stage's first block has a projection shortcut */
    int classes, features;        /* fc: features -> classes; classes 0: a backbone, no fc */
    resnet_variant variant;
    /* chosen at load, not read from the file */
    int input_size;               /* the square crop the network sees */
    int output_stride;            /* 32, or 16 / 8 by dilating stage 4 / stages 3 and 4 */
    /* A block's last convolution writes its sum over the shortcut's buffer (every block but the
     * network's last, which in int8 writes floats): always where this is INT_MAX (int8), where
     * it is a 1x1 of at most this many input channels otherwise (0: never). Its kernels read
     * each shortcut value just before writing the output value at the same place, so the sum's
     * lines are in the cache already (read for the shortcut), where a fourth buffer's must be
     * fetched first. The int8 kernels do so at any depth; the fp32 and bf16 ones write partial
     * sums after each depth chunk (a tap, or RN_CONV_DEPTH_CHUNK channels of one) and add the
     * shortcut after the last, so only a 1x1 done in one chunk may: every bottleneck of
     * ResNet-50, -101 and -152, not ResNeXt-50's or wide ResNet-50's layer4, nor a basic
     * block's 3x3 however narrow. */
    int in_place_depth;
} rn_arch;

/* What one row of the layer list does. */
typedef enum rn_layer_kind { RN_L_INPUT, RN_L_CONV, RN_L_MAXPOOL, RN_L_AVGPOOL, RN_L_FC } rn_layer_kind;

/* Where a convolution sits in its block: which activations an int8 model keeps in what. */
typedef enum rn_role {
    RN_ROLE_STEM,   /* conv1 */
    RN_ROLE_FIRST,  /* a block's first conv: reads the block's input */
    RN_ROLE_MID,    /* a bottleneck's 3x3 */
    RN_ROLE_LAST,   /* a block's last conv: adds the shortcut */
    RN_ROLE_DOWN,   /* the projection shortcut */
    RN_ROLE_HEAD    /* the pools and the fc */
} rn_role;

typedef struct rn_layer {
    rn_layer_kind kind;
    rn_role role;
    char name[40];        /* "conv1", "layer2.0.conv2", "layer3.0.downsample", "fc": the profile's */
    char conv[40], bn[40];/* tensor prefixes: "layer2.0.conv2" / "layer2.0.bn2"; "" for pools */
    int stage, block;     /* 0..3 and the block's index over all stages; -1 for stem and head */
    int cin, cout, k, stride, pad, dilation, groups;
    int in, out, res;     /* activation buffers (0..RN_BUFFERS-1); res -1: no shortcut */
    int relu;
    int h, w, oh, ow;     /* one image's input and output size at the model's input size */
} rn_layer;

enum { RN_BUFFERS = 4 };

typedef struct rn_net {
    rn_arch a;
    int n;                /* layers, in forward order */
    rn_layer *layers;
    int stage_out[RN_STAGES]; /* the index of each stage's last layer (its output is the stage's) */
    int pool;             /* the global average pool's index: the pooled features are its output */
    size_t max_act;       /* floats of the largest activation of one image */
} rn_net;

/* Reads the architecture from a safetensors file holding a torchvision ResNet state_dict (fp32,
 * or our int8 file: the same names and shapes). Every problem is one line naming the file and
 * the tensor. Does not check that every tensor is used: the binder does (rn_net_check_unused). */
resnet_status rn_arch_read(const rn_safetensors *st, const char *path, rn_arch *a, resnet_error *err);

/* Builds the layer list of a (input_size and output_stride set; see rn_arch). */
resnet_status rn_net_build(const rn_arch *a, rn_net *net, resnet_error *err);
void rn_net_free(rn_net *net);

/* The torchvision constructor a record matches ("resnet50", "resnext50_32x4d", ...), or a
 * description of it ("resnet-bottleneck[2,2,2,2]") when it matches none; depth = 2 + layers. */
void rn_arch_name(const rn_arch *a, char *dst, size_t size);
int rn_arch_depth(const rn_arch *a);

/* A tensor name the network reads, or one every state_dict carries that it ignores
 * (num_batches_tracked); the int8 file's scale tensors are the binder's to mark. */
int rn_net_tensor_ignored(const char *name);

#endif
