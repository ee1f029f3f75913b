/* arch.c - the architecture record read from tensor names and shapes, and the layer list. */
#include "model/arch.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "io/fileio.h"

/* A 4-D conv weight [cout, cin_per_group, kh, kw] that must be there. Only what the record
 * reads is checked here; the binder checks every shape against the record and says what it
 * expected. */
static const rn_tensor *conv_weight(const rn_safetensors *st, const char *path, const char *name, int k,
                                    resnet_error *err) {
    const rn_tensor *t = rn_st_find(st, name);
    if (!t) {
        rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s' is missing", path, name);
        return NULL;
    }
    (void)k;
    if (t->ndim != 4 || t->shape[0] < 1 || t->shape[1] < 1 || t->shape[0] > 65536 || t->shape[1] > 65536) {
        char got[128];
        rn_shape_str(t->shape, t->ndim, ", ", got, sizeof got);
        rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s' has shape %s, expected [out, in, %d, %d]", path, name, got,
                k, k); /* k: what a torchvision ResNet has there */
        return NULL;
    }
    return t;
}

/* The prefix P a training wrapper puts before every name (DataParallel's 'module.', a Lightning
 * module's 'model.'): a tensor P + "conv1.weight" with P + "layer1.0.conv1.weight" beside it.
 * Such a file is torchvision's state_dict one step removed, and the user needs to hear that,
 * not only that conv1.weight is missing. */
static int wrapper_prefix(const rn_safetensors *st, char *buf, size_t n) {
    static const char tail[] = "conv1.weight";
    const size_t tl = sizeof tail - 1;
    for (size_t i = 0; i < rn_st_count(st); i++) {
        const char *name = rn_st_tensor(st, i)->name;
        const size_t len = strlen(name);
        if (len <= tl + 1 || len - tl >= n || strcmp(name + len - tl, tail) != 0 || name[len - tl - 1] != '.') continue;
        char probe[256];
        if (snprintf(probe, sizeof probe, "%.*slayer1.0.conv1.weight", (int)(len - tl), name) >= (int)sizeof probe) continue;
        if (!rn_st_find(st, probe)) continue;
        snprintf(buf, n, "%.*s", (int)(len - tl), name);
        return 1;
    }
    return 0;
}

resnet_status rn_arch_read(const rn_safetensors *st, const char *path, rn_arch *a, resnet_error *err) {
    char name[64];
    memset(a, 0, sizeof *a);
    if (!rn_st_find(st, "conv1.weight")) {
        const rn_tensor *first = rn_st_count(st) ? rn_st_tensor(st, 0) : NULL;
        char shown[64], prefix[64];
        if (!first) return rn_fail(err, RESNET_E_WEIGHTS, "%s: holds no tensors", path);
        const char *format = rn_st_metadata(st, "format");
        if (format && strcmp(format, RN_HEAD_FORMAT) == 0)
            return rn_fail(err, RESNET_E_WEIGHTS,
                           "%s: a head made by train-head (a last layer for your classes), not a network: give it "
                           "with --head, the network with --weights", path);
        if (wrapper_prefix(st, prefix, sizeof prefix))
            return rn_fail(err, RESNET_E_WEIGHTS,
                           "%s: the network's names start with '%s' (a wrapper's, as DataParallel's 'module.' or Lightning's "
                           "'model.'), so there is no tensor 'conv1.weight'; tools/pth-to-safetensors.py takes such a prefix off", path,
                           rn_printable(prefix, shown, sizeof shown));
        if (rn_st_find(st, "conv1.0.weight"))
            return rn_fail(err, RESNET_E_WEIGHTS,
                           "%s: a deep stem ('conv1.0.weight', ...: 3x3 convolutions, as in timm's resnet50d) where "
                           "torchvision's ResNet has one 7x7 'conv1.weight'; such a network is not supported", path);
        return rn_fail(err, RESNET_E_WEIGHTS,
                       "%s: not a torchvision ResNet state_dict: no tensor 'conv1.weight' (the file has '%s', ...)",
                       path, rn_printable(first->name, shown, sizeof shown));
    }
    const rn_tensor *t = conv_weight(st, path, "conv1.weight", 7, err);
    if (!t) return err ? err->status : RESNET_E_WEIGHTS;
    if (t->shape[1] != 3)
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor 'conv1.weight' reads %lld channels, expected 3 (RGB)", path,
                       (long long)t->shape[1]);
    a->stem = (int)t->shape[0];
    a->kind = rn_st_find(st, "layer1.0.conv3.weight") ? RN_BOTTLENECK : RN_BASIC;
    for (int s = 0; s < RN_STAGES; s++) {
        int b = 0;
        for (;; b++) {
            snprintf(name, sizeof name, "layer%d.%d.conv1.weight", s + 1, b);
            if (!rn_st_find(st, name)) break;
        }
        if (b == 0) {
            snprintf(name, sizeof name, "layer%d.0.conv1.weight", s + 1);
            return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s' is missing", path, name);
        }
        a->blocks[s] = b;
        const int k1 = a->kind == RN_BOTTLENECK ? 1 : 3;
        snprintf(name, sizeof name, "layer%d.0.conv1.weight", s + 1);
        if (!(t = conv_weight(st, path, name, k1, err))) return err ? err->status : RESNET_E_WEIGHTS;
        a->width[s] = (int)t->shape[0];
        snprintf(name, sizeof name, "layer%d.0.conv2.weight", s + 1);
        if (!(t = conv_weight(st, path, name, 3, err))) return err ? err->status : RESNET_E_WEIGHTS;
        if (a->kind == RN_BOTTLENECK) {
            if (a->width[s] % t->shape[1] != 0)
                return rn_fail(err, RESNET_E_WEIGHTS,
                               "%s: tensor '%s' reads %lld channels per group, which does not divide the %d it gets",
                               path, name, (long long)t->shape[1], a->width[s]);
            a->groups[s] = a->width[s] / (int)t->shape[1];
            snprintf(name, sizeof name, "layer%d.0.conv3.weight", s + 1);
            if (!(t = conv_weight(st, path, name, 1, err))) return err ? err->status : RESNET_E_WEIGHTS;
        } else {
            a->groups[s] = 1;
        }
        a->out[s] = (int)t->shape[0];
        /* A stage that strides, or changes the width, needs the projection (torchvision makes one
         * exactly then); a file may have one where it is not needed. */
        snprintf(name, sizeof name, "layer%d.0.downsample.0.weight", s + 1);
        a->down[s] = rn_st_find(st, name) != NULL;
        if (!a->down[s] && (s > 0 || a->out[s] != a->stem))
            return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s' is missing", path, name);
    }
    t = rn_st_find(st, "fc.weight");
    /* A backbone (a detection or segmentation model's body, or a classifier with its fc cut
     * off) has neither fc tensor: its network ends at the pooled features. */
    if (!t && !rn_st_find(st, "fc.bias")) {
        a->classes = 0;
        a->features = a->out[RN_STAGES - 1];
        a->input_size = RESNET_INPUT_SIZE;
        a->output_stride = 32;
        return RESNET_OK;
    }
    if (!t) return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor 'fc.weight' is missing", path);
    if (t->ndim != 2 || t->shape[0] < 1 || t->shape[0] > 1000000 || t->shape[1] != a->out[RN_STAGES - 1]) {
        char got[128];
        rn_shape_str(t->shape, t->ndim, ", ", got, sizeof got);
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor 'fc.weight' has shape %s, expected [classes, %d]", path, got,
                       a->out[RN_STAGES - 1]);
    }
    a->classes = (int)t->shape[0];
    a->features = (int)t->shape[1];
    a->input_size = RESNET_INPUT_SIZE;
    a->output_stride = 32;
    return RESNET_OK;
}

int rn_arch_depth(const rn_arch *a) {
    int blocks = 0;
    for (int s = 0; s < RN_STAGES; s++) blocks += a->blocks[s];
    return 2 + blocks * (a->kind == RN_BOTTLENECK ? 3 : 2);
}

void rn_arch_name(const rn_arch *a, char *dst, size_t size) {
    const int depth = rn_arch_depth(a), base = a->width[0], g = a->groups[0];
    const int expansion = a->kind == RN_BOTTLENECK ? 4 : 1;
    int standard = a->stem == 64;
    for (int s = 0; s < RN_STAGES; s++)
        standard = standard && a->width[s] == base << s && a->out[s] == (64 * expansion) << s && a->groups[s] == g;
    if (standard && a->kind == RN_BASIC && base == 64) snprintf(dst, size, "resnet%d", depth);
    else if (standard && g == 1 && base == 64) snprintf(dst, size, "resnet%d", depth);
    else if (standard && g == 1 && base % 64 == 0) snprintf(dst, size, "wide_resnet%d_%d", depth, base / 64);
    else if (standard && g > 1) snprintf(dst, size, "resnext%d_%dx%dd", depth, g, base / g);
    else snprintf(dst, size, "resnet%d-%s-custom", depth, a->kind == RN_BOTTLENECK ? "bottleneck" : "basic");
}

int rn_net_tensor_ignored(const char *name) {
    const char *tail = ".num_batches_tracked";
    size_t n = strlen(name), t = strlen(tail);
    return n >= t && strcmp(name + n - t, tail) == 0;
}

/* ---- the layer list ----------------------------------------------------------------------- */

static void out_size(const rn_layer *l, int *oh, int *ow) {
    const int span = l->dilation * (l->k - 1) + 1;
    *oh = (l->h + 2 * l->pad - span) / l->stride + 1;
    *ow = (l->w + 2 * l->pad - span) / l->stride + 1;
}

typedef struct builder {
    rn_net *net;
    int cap, h, w;
    int block_h, block_w; /* the current block's input size */
} builder;

static rn_layer *push(builder *b, rn_layer_kind kind, rn_role role, int stage, int block) {
    rn_net *net = b->net;
    if (net->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        rn_layer *l = realloc(net->layers, (size_t)cap * sizeof *l);
        if (!l) return NULL;
        net->layers = l;
        b->cap = cap;
    }
    rn_layer *l = &net->layers[net->n++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->role = role;
    l->stage = stage;
    l->block = block;
    l->res = -1;
    l->stride = l->dilation = l->groups = l->k = 1;
    l->h = b->h;
    l->w = b->w;
    return l;
}

/* Sets the layer's output size, and the next layer's input size, unless it is a shortcut (which
 * reads the block's input beside the main path: the sizes go on from the layer before it). */
static void finish(builder *b, rn_layer *l) {
    if (l->kind == RN_L_INPUT || l->kind == RN_L_AVGPOOL || l->kind == RN_L_FC) {
        l->oh = l->kind == RN_L_INPUT ? l->h : 1;
        l->ow = l->kind == RN_L_INPUT ? l->w : 1;
    } else {
        out_size(l, &l->oh, &l->ow);
    }
    if (l->role != RN_ROLE_DOWN) {
        b->h = l->oh;
        b->w = l->ow;
    }
    size_t in = (size_t)l->h * l->w * l->cin, out = (size_t)l->oh * l->ow * l->cout;
    if (l->kind != RN_L_FC) {
        if (in > b->net->max_act) b->net->max_act = in;
        if (out > b->net->max_act) b->net->max_act = out;
    }
}

static rn_layer *conv(builder *b, rn_role role, int stage, int block, int index, const char *conv_name,
                      const char *bn_name, int cin, int cout, int k, int stride, int dilation, int groups, int in,
                      int out, int res, int relu) {
    rn_layer *l = push(b, RN_L_CONV, role, stage, block);
    if (!l) return NULL;
    if (stage < 0) {
        snprintf(l->conv, sizeof l->conv, "%s", conv_name);
        snprintf(l->bn, sizeof l->bn, "%s", bn_name);
        snprintf(l->name, sizeof l->name, "%s", conv_name);
    } else {
        snprintf(l->conv, sizeof l->conv, "layer%d.%d.%s", stage + 1, index, conv_name);
        snprintf(l->bn, sizeof l->bn, "layer%d.%d.%s", stage + 1, index, bn_name);
        snprintf(l->name, sizeof l->name, "layer%d.%d.%s", stage + 1, index,
                 role == RN_ROLE_DOWN ? "downsample" : conv_name);
    }
    l->cin = cin;
    l->cout = cout;
    l->k = k;
    l->stride = stride;
    l->dilation = dilation;
    l->groups = groups;
    l->pad = k == 1 ? 0 : k == 7 ? 3 : dilation; /* torchvision: 3x3 padding = dilation */
    l->in = in;
    l->out = out;
    l->res = res;
    l->relu = relu;
    if (role == RN_ROLE_DOWN) { /* reads the block's input, beside the main path */
        l->h = b->block_h;
        l->w = b->block_w;
    }
    finish(b, l);
    return l;
}

resnet_status rn_net_build(const rn_arch *a, rn_net *net, resnet_error *err) {
    memset(net, 0, sizeof *net);
    net->a = *a;
    if (a->output_stride != 32 && a->output_stride != 16 && a->output_stride != 8)
        return rn_fail(err, RESNET_E_ARG, "output stride must be 8, 16 or 32, got %d", a->output_stride);
    if (a->output_stride != 32 && a->kind != RN_BOTTLENECK)
        return rn_fail(err, RESNET_E_ARG,
                       "output stride %d needs bottleneck blocks (torchvision's basic block does not dilate)",
                       a->output_stride);
    if (a->input_size < 32 || a->input_size > 4096)
        return rn_fail(err, RESNET_E_ARG, "input size must be between 32 and 4096, got %d", a->input_size);
    builder b = {net, 0, a->input_size, a->input_size, 0, 0};
    rn_layer *l;
#define PUSHED(x) \
    if (!(x)) goto nomem
    PUSHED(l = push(&b, RN_L_INPUT, RN_ROLE_STEM, -1, -1));
    snprintf(l->name, sizeof l->name, "input");
    l->cin = l->cout = 3;
    l->in = -1;
    l->out = 0;
    finish(&b, l);
    PUSHED(conv(&b, RN_ROLE_STEM, -1, -1, 0, "conv1", "bn1", 3, a->stem, 7, 2, 1, 1, 0, 1, -1, 1));
    PUSHED(l = push(&b, RN_L_MAXPOOL, RN_ROLE_STEM, -1, -1));
    snprintf(l->name, sizeof l->name, "maxpool");
    l->cin = l->cout = a->stem;
    l->k = 3;
    l->stride = 2;
    l->pad = 1;
    l->in = 1;
    l->out = 0;
    finish(&b, l);

    int cur = 0, cin = a->stem, dilation = 1, block = 0;
    for (int s = 0; s < RN_STAGES; s++) {
        int stride = s == 0 ? 1 : 2;
        const int prev_dilation = dilation;
        if ((a->output_stride == 16 && s == 3) || (a->output_stride == 8 && s >= 2)) {
            dilation *= stride;
            stride = 1;
        }
        for (int i = 0; i < a->blocks[s]; i++, block++) {
            const int bs = i == 0 ? stride : 1, d = i == 0 ? prev_dilation : dilation;
            const int x = cur, t1 = (cur + 1) % RN_BUFFERS, t2 = (cur + 2) % RN_BUFFERS, sc = (cur + 3) % RN_BUFFERS;
            const int down = i == 0 && a->down[s];
            const int width = a->width[s], out = a->out[s];
            const int short_buf = down ? sc : x, last_block = s == RN_STAGES - 1 && i == a->blocks[s] - 1;
            const int in_place =
                a->in_place_depth == INT_MAX || (a->kind == RN_BOTTLENECK && width <= a->in_place_depth);
            const int sum = in_place && !last_block ? short_buf : -1;
            b.block_h = b.h;
            b.block_w = b.w;
            if (a->kind == RN_BOTTLENECK) {
                const int s1 = a->variant == RESNET_V1 ? bs : 1, s2 = a->variant == RESNET_V1 ? 1 : bs;
                PUSHED(conv(&b, RN_ROLE_FIRST, s, block, i, "conv1", "bn1", cin, width, 1, s1, 1, 1, x, t1, -1, 1));
                PUSHED(conv(&b, RN_ROLE_MID, s, block, i, "conv2", "bn2", width, width, 3, s2, d, a->groups[s], t1, t2,
                            -1, 1));
                if (down)
                    PUSHED(conv(&b, RN_ROLE_DOWN, s, block, i, "downsample.0", "downsample.1", cin, out, 1, bs, 1, 1,
                                x, sc, -1, 0));
                cur = sum >= 0 ? sum : t1;
                PUSHED(conv(&b, RN_ROLE_LAST, s, block, i, "conv3", "bn3", width, out, 1, 1, 1, 1, t2, cur,
                            short_buf, 1));
            } else {
                PUSHED(conv(&b, RN_ROLE_FIRST, s, block, i, "conv1", "bn1", cin, width, 3, bs, 1, 1, x, t1, -1, 1));
                if (down)
                    PUSHED(conv(&b, RN_ROLE_DOWN, s, block, i, "downsample.0", "downsample.1", cin, out, 1, bs, 1, 1,
                                x, sc, -1, 0));
                cur = sum >= 0 ? sum : t2;
                PUSHED(conv(&b, RN_ROLE_LAST, s, block, i, "conv2", "bn2", width, out, 3, 1, 1, 1, t1, cur,
                            short_buf, 1));
            }
            cin = out;
        }
        net->stage_out[s] = net->n - 1;
    }
    PUSHED(l = push(&b, RN_L_AVGPOOL, RN_ROLE_HEAD, -1, -1));
    snprintf(l->name, sizeof l->name, "avgpool");
    l->cin = l->cout = a->features;
    l->in = cur;
    l->out = (cur + 1) % RN_BUFFERS;
    finish(&b, l);
    net->pool = net->n - 1;
    if (a->classes > 0) { /* a backbone has no fc */
        PUSHED(l = push(&b, RN_L_FC, RN_ROLE_HEAD, -1, -1));
        snprintf(l->name, sizeof l->name, "fc");
        snprintf(l->conv, sizeof l->conv, "fc");
        l->cin = a->features;
        l->cout = a->classes;
        l->in = (cur + 1) % RN_BUFFERS;
        l->out = -1; /* the session's logits */
        finish(&b, l);
    }
#undef PUSHED
    for (int i = 0; i < net->n; i++)
        if (net->layers[i].oh < 1 || net->layers[i].ow < 1) {
            rn_net_free(net);
            return rn_fail(err, RESNET_E_ARG, "input size %d is too small for this network", a->input_size);
        }
    return RESNET_OK;
nomem:
    rn_net_free(net);
    return rn_fail(err, RESNET_E_NOMEM, "out of memory building the layer list");
}

void rn_net_free(rn_net *net) {
    free(net->layers);
    net->layers = NULL;
    net->n = 0;
}
