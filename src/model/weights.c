/* weights.c - binds a safetensors file (torchvision tensor names) to the model:
 * checks every tensor's presence, dtype and shape, folds batch norm into the
 * convolution before it, and packs the result for the chosen micro-kernel. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "io/fileio.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "image/image.h"
#include "ops/qweights.h"
#include "model/resnet50.h"
#include "ops/qconv.h"
#include "ops/qwinograd.h"

typedef struct loader {
    const rn_safetensors *st;
    const char *path;
    resnet_error *err;
    double eps;
    const rn_kernel_config *kc;
    unsigned conv_flags; /* RN_CONV_*: DIRECT, WIDE, BF16, as the load options say */
    const rn_qkernel_config *qk; /* an int8 file's convolutions */
    unsigned char *used;         /* per tensor of the file: read by the binder */
    float *spare;                /* the largest tensor buffer given back so far (ld_recycle) */
} loader;

/* A buffer for a tensor: the loader's spare when it is large enough. Blocks from a megabyte
 * up are fresh pages (rn_aligned_alloc), and the kernel zeroing ~100 MB of them, one tensor
 * after another, took a quarter of a one-photo fp32 classify (0.37 -> 0.28 s on Zen 5);
 * reusing one buffer zeroes the largest tensor's pages once. */
static float *ld_alloc(loader *ld, size_t bytes) {
    if (ld->spare && rn_aligned_size(ld->spare) >= bytes) {
        float *b = ld->spare;
        ld->spare = NULL;
        return b;
    }
    return rn_aligned_alloc(bytes);
}

/* Gives a tensor's buffer back, keeping the larger of it and the spare for the next read; the
 * loader's owner frees the spare when the load ends. */
static void ld_recycle(loader *ld, float *buf) {
    if (!buf) return;
    if (rn_aligned_size(buf) > rn_aligned_size(ld->spare)) {
        rn_aligned_free(ld->spare);
        ld->spare = buf;
    } else {
        rn_aligned_free(buf);
    }
}

/* rn_st_find, marking the tensor as one the network reads: a tensor left unmarked is refused
 * (a ResNet-101 read as a ResNet-50 would otherwise load and answer nonsense). */
static const rn_tensor *find(loader *ld, const char *name) {
    const rn_tensor *t = rn_st_find(ld->st, name);
    if (t && ld->used) ld->used[t - rn_st_tensor(ld->st, 0)] = 1; /* tensors are one array */
    return t;
}

static int is_float_dtype(rn_dtype t) {
    return t == RN_DT_F32 || t == RN_DT_F16 || t == RN_DT_BF16 || t == RN_DT_F64;
}

/* Reads tensor `name` of the given shape as float32 into a new buffer; NULL + error if it
 * is absent (unless optional), not a float type, or shaped otherwise. */
static float *read_tensor(loader *ld, const char *name, int ndim, const int64_t *shape, int optional,
                          resnet_status *st) {
    *st = RESNET_OK;
    const rn_tensor *t = find(ld, name);
    if (!t) {
        if (!optional) *st = rn_fail(ld->err, RESNET_E_WEIGHTS, "%s: tensor '%s' is missing", ld->path, name);
        return NULL;
    }
    if (!is_float_dtype(t->dtype)) {
        *st = rn_fail(ld->err, RESNET_E_WEIGHTS, "%s: tensor '%s' has dtype %s, expected a float type",
                      ld->path, name, rn_dtype_name(t->dtype));
        return NULL;
    }
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char got[128], want[128];
        rn_shape_str(t->shape, t->ndim, ", ", got, sizeof got);
        rn_shape_str(shape, ndim, ", ", want, sizeof want);
        *st = rn_fail(ld->err, RESNET_E_WEIGHTS, "%s: tensor '%s' has shape %s, expected %s", ld->path, name,
                      got, want);
        return NULL;
    }
    size_t count = 1;
    for (int i = 0; i < ndim; i++) count *= (size_t)shape[i];
    float *buf = ld_alloc(ld, count * sizeof(float));
    if (!buf) {
        *st = rn_fail(ld->err, RESNET_E_NOMEM, "%s: out of memory reading '%s'", ld->path, name);
        return NULL;
    }
    *st = rn_st_read_f32(ld->st, t, buf, ld->err);
    rn_st_release(ld->st, t);
    if (*st != RESNET_OK) { rn_aligned_free(buf); return NULL; }
    for (size_t i = 0; i < count; i++)
        if (!isfinite(buf[i])) {
            rn_aligned_free(buf);
            *st = rn_fail(ld->err, RESNET_E_WEIGHTS, "%s: tensor '%s' has a non-finite value at index %zu",
                          ld->path, name, i);
            return NULL;
        }
    return buf;
}

/* Refuses weights that cannot give a finite answer: rows (one output channel's weights,
 * after folding) whose magnitudes sum beyond float range, or a fold that overflowed. Each
 * such output is already beyond FLT_MAX for an input of all ones; real weights sum to a few
 * hundred at most. Whatever passes is still checked per photo (rn_all_finite). */
static resnet_status check_rows(loader *ld, const char *what, const float *w, const float *b, int rows,
                                size_t per_row) {
    for (int o = 0; o < rows; o++) {
        double sum = b ? fabs((double)b[o]) : 0.0;
        int finite = !b || isfinite(b[o]);
        for (size_t i = 0; i < per_row; i++) {
            finite &= isfinite(w[(size_t)o * per_row + i]) != 0;
            sum += fabs((double)w[(size_t)o * per_row + i]);
        }
        if (!finite)
            return rn_fail(ld->err, RESNET_E_WEIGHTS,
                           "%s: '%s' overflows float once batch norm is folded in (output channel %d)", ld->path,
                           what, o);
        if (sum > FLT_MAX)
            return rn_fail(ld->err, RESNET_E_WEIGHTS,
                           "%s: '%s' output %d has weights summing to %.3g in magnitude, beyond float range: every "
                           "answer would overflow", ld->path, what, o, sum);
    }
    return RESNET_OK;
}

/* conv `cname` (+ optional conv bias) followed by batch norm `bname`, folded (cin: the input
 * channels each output reads, cin / groups for a grouped convolution):
 *   w' = w * gamma / sqrt(var + eps),   b' = (bias - mean) * gamma / sqrt(var + eps) + beta
 * into *w_out (OIHW, rn_aligned_alloc) and *b_out (malloc). */
static resnet_status fold_conv_bn(loader *ld, const char *cname, const char *bname, int cin, int cout, int ksize,
                                  float **w_out, float **b_out) {
    char name[128];
    resnet_status st = RESNET_OK;
    const int64_t wshape[4] = {cout, cin, ksize, ksize}, vshape[1] = {cout};
    float *w = NULL, *cb = NULL, *bn[4] = {NULL, NULL, NULL, NULL}, *bias = NULL;
    static const char *const bn_parts[4] = {"weight", "bias", "running_mean", "running_var"};

    snprintf(name, sizeof name, "%s.weight", cname);
    if (!(w = read_tensor(ld, name, 4, wshape, 0, &st))) goto done;
    snprintf(name, sizeof name, "%s.bias", cname);
    cb = read_tensor(ld, name, 1, vshape, 1, &st);
    if (st != RESNET_OK) goto done;
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.%s", bname, bn_parts[i]);
        if (!(bn[i] = read_tensor(ld, name, 1, vshape, 0, &st))) goto done;
    }
    if (!(bias = malloc((size_t)cout * sizeof(float)))) {
        st = rn_fail(ld->err, RESNET_E_NOMEM, "%s: out of memory", ld->path);
        goto done;
    }
    const size_t per_out = (size_t)cin * ksize * ksize;
    for (int o = 0; o < cout; o++) {
        double var = (double)bn[3][o] + ld->eps;
        /* PyTorch adds the epsilon in float: a variance of exactly -eps there is a division by
         * zero (its outputs NaN), though the sum in double is a tiny positive number */
        if (!(var > 0.0) || !(bn[3][o] + (float)ld->eps > 0.0f)) {
            st = rn_fail(ld->err, RESNET_E_WEIGHTS, "%s: tensor '%s.running_var' is negative at %d (%g, the "
                         "batch-norm epsilon %g)", ld->path, bname, o, (double)bn[3][o], ld->eps);
            goto done;
        }
        double scale = bn[0][o] / sqrt(var);
        for (size_t i = 0; i < per_out; i++) w[o * per_out + i] = (float)(w[o * per_out + i] * scale);
        bias[o] = (float)(((cb ? cb[o] : 0.0) - bn[2][o]) * scale + bn[1][o]);
    }
    st = check_rows(ld, cname, w, bias, cout, per_out);
done:
    rn_aligned_free(cb);
    for (int i = 0; i < 4; i++) rn_aligned_free(bn[i]);
    if (st != RESNET_OK) {
        rn_aligned_free(w);
        free(bias);
        w = NULL;
        bias = NULL;
    }
    *w_out = w;
    *b_out = bias;
    return st;
}

/* Layer l's convolution and batch norm, folded and packed. */
static resnet_status load_conv_bn(loader *ld, rn_conv *conv, const rn_layer *l) {
    float *w, *bias;
    resnet_status st = fold_conv_bn(ld, l->conv, l->bn, l->cin / l->groups, l->cout, l->k, &w, &bias);
    if (st != RESNET_OK) return st;
    int r = rn_conv_init_ex(conv, ld->kc, l->cin, l->cout, l->k, l->k, l->stride, l->pad, l->dilation, l->groups, w,
                            bias, ld->conv_flags);
    if (r == -3)
        st = rn_fail(ld->err, RESNET_E_WEIGHTS, "%s: '%s' has %d groups of %d output channels: not supported",
                     ld->path, l->conv, l->groups, l->cout / l->groups);
    else if (r != 0)
        st = rn_fail(ld->err, RESNET_E_NOMEM, "%s: out of memory packing '%s'", ld->path, l->conv);
    ld_recycle(ld, w);
    free(bias);
    return st;
}

resnet_status rn_weights_open(const char *path, rn_safetensors **st, resnet_error *err) {
    const resnet_status s = rn_st_open(path, st, err);
    if (s != RESNET_E_WEIGHTS) return s;
    uint8_t head[18];
    FILE *f = fopen(path, "rb");
    const size_t n = f ? fread(head, 1, sizeof head, f) : 0;
    if (f) fclose(f);
    const rn_format fmt = rn_image_sniff(head, n);
    if (fmt == RN_FORMAT_UNKNOWN) return s;
    return rn_fail(err, RESNET_E_WEIGHTS, "%s: a %s photo, not a weight file (safetensors)", path,
                   rn_image_format_name(fmt));
}

resnet_status rn_weights_fold(const rn_safetensors *st, const char *path, double eps, const char *cname,
                              const char *bname, int cin, int cout, int ksize, float **w, float **bias,
                              resnet_error *err) {
    loader ld = {.st = st, .path = path, .err = err, .eps = eps};
    return fold_conv_bn(&ld, cname, bname, cin, cout, ksize, w, bias);
}

/* The fc, in fp32; or in int8 for an int8 model (int8 set): the file's fp32 weights quantized
 * here to 8 bits per output channel, its input per row in 7 bits as it runs
 * (rn_qdense_forward). Measured on val1300 (README, Int8): 7-bit weights cost the fc 0.5
 * points of top-1 agreement with fp32 on held-out photos; 8-bit weights with 7-bit rows cost
 * 0.1; 8-bit rows would not let the AVX2 kernel multiply 8-bit weights exactly. A quarter of
 * fp32's bytes to stream at batch 1, and 6 MB less memory. */
static resnet_status load_fc(loader *ld, rn_conv *fc, int classes, int features, int int8) {
    resnet_status st;
    const int64_t wshape[2] = {classes, features}, bshape[1] = {classes};
    float *w = read_tensor(ld, "fc.weight", 2, wshape, 0, &st);
    if (!w) return st;
    float *b = read_tensor(ld, "fc.bias", 1, bshape, 0, &st);
    if (b && (st = check_rows(ld, "fc", w, b, classes, features)) != RESNET_OK) {
        rn_aligned_free(w);
        rn_aligned_free(b);
        return st;
    }
    if (b && int8) {
        int8_t *q = malloc((size_t)classes * features);
        float *ws = malloc((size_t)classes * sizeof(float));
        int r = -1;
        if (q && ws) {
            rn_quantize_weights(w, classes, (size_t)features, RN_QW8, q, ws);
            r = rn_qdense_init(fc, ld->qk, features, classes, q, ws, b);
        }
        free(q);
        free(ws);
        if (r != 0) st = rn_fail(ld->err, RESNET_E_NOMEM, "%s: out of memory packing 'fc'", ld->path);
    } else if (b && rn_conv_init(fc, ld->kc, features, classes, 1, 1, 1, 0, w, b, 0) != 0)
        st = rn_fail(ld->err, RESNET_E_NOMEM, "%s: out of memory packing 'fc'", ld->path);
    ld_recycle(ld, w);
    rn_aligned_free(b);
    return st;
}

/* The metadata's precision chooses how the file is read and run (fp32 kernels, bf16 ones, the
 * int8 driver), so tensors of another precision's dtype mean a file that contradicts itself:
 * edited metadata, or tensors copied in from another file. Refused rather than guessed from
 * the dtypes: the name the file gives is what `resnet info` reports and what convert and
 * quantize take it for. What each precision holds is what its writer writes: fp32, every
 * tensor F32 (the ones the network ignores aside: torchvision's I64 counters); bf16 (resnet
 * convert), every tensor of two or more dimensions BF16; int8 (resnet quantize), the
 * convolutions' weights I8, every other tensor of two or more dimensions F32 (the stem and
 * the fc; which convolution must be I8 bind_int8 checks per tensor). */
static resnet_status check_precision_dtypes(const rn_safetensors *st, const char *path, const char *precision,
                                            resnet_error *err) {
    const int bf16 = strcmp(precision, "bf16") == 0, int8 = strcmp(precision, "int8") == 0;
    int any_i8 = 0;
    const rn_tensor *f32_weight = NULL;
    for (size_t i = 0; i < rn_st_count(st); i++) {
        const rn_tensor *t = rn_st_tensor(st, i);
        if (rn_net_tensor_ignored(t->name)) continue;
        int fits;
        if (bf16) fits = t->ndim < 2 || t->dtype == RN_DT_BF16;
        else if (int8) fits = t->ndim < 2 || t->dtype == RN_DT_I8 || t->dtype == RN_DT_F32;
        else fits = t->dtype == RN_DT_F32;
        if (!fits) {
            char shown[96];
            return rn_fail(err, RESNET_E_WEIGHTS, "%s: metadata precision is '%s', but tensor '%s' is %s%s", path,
                           precision, rn_printable(t->name, shown, sizeof shown), rn_dtype_name(t->dtype),
                           bf16 ? " (a bf16 file stores every weight of two or more dimensions as BF16)" : "");
        }
        any_i8 |= t->dtype == RN_DT_I8;
        if (!f32_weight && t->ndim >= 2 && t->dtype == RN_DT_F32) f32_weight = t;
    }
    if (int8 && !any_i8 && f32_weight) {
        char shown[96];
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: metadata precision is 'int8', but no tensor is I8 ('%s' is F32)",
                       path, rn_printable(f32_weight->name, shown, sizeof shown));
    }
    return RESNET_OK;
}

/* Reads variant, normalisation and BN eps from the metadata. A file without our
 * "variant" key is taken as torchvision's: v1.5, torch normalisation, eps 1e-5. */
static resnet_status read_metadata(const rn_safetensors *st, const char *path, resnet_model *m,
                                   resnet_error *err) {
    const char *variant = rn_st_metadata(st, "variant");
    const char *norm = rn_st_metadata(st, "normalization");
    const char *eps = rn_st_metadata(st, "bn_eps");
    const char *arch = rn_st_metadata(st, "arch");
    const char *precision = rn_st_metadata(st, "precision");
    char shown[64]; /* metadata values are the file's: printed without control characters */
    m->variant = RESNET_V1_5;
    m->norm = RESNET_NORM_TORCH;
    m->bn_eps = 1e-5;
    (void)arch; /* checked against the tensors once the architecture is read (bind) */
    if (precision) {
        if (strcmp(precision, "int8") == 0) m->int8 = 1;
        else if (strcmp(precision, "bf16") == 0) m->bf16 = m->bf16_file = 1;
        else if (strcmp(precision, "fp32") != 0)
            return rn_fail(err, RESNET_E_WEIGHTS, "%s: metadata precision is '%s', expected 'fp32', 'int8' or 'bf16'",
                           path, rn_printable(precision, shown, sizeof shown));
        resnet_status s = check_precision_dtypes(st, path, precision, err);
        if (s != RESNET_OK) return s;
    }
    if (variant) {
        if (strcmp(variant, "v1") == 0) m->variant = RESNET_V1;
        else if (strcmp(variant, "v1.5") != 0)
            return rn_fail(err, RESNET_E_WEIGHTS, "%s: metadata variant is '%s', expected 'v1' or 'v1.5'",
                           path, rn_printable(variant, shown, sizeof shown));
    }
    if (norm) {
        if (strcmp(norm, "caffe") == 0) m->norm = RESNET_NORM_CAFFE;
        else if (strcmp(norm, "torch") != 0)
            return rn_fail(err, RESNET_E_WEIGHTS,
                           "%s: metadata normalization is '%s', expected 'caffe' or 'torch'", path,
                           rn_printable(norm, shown, sizeof shown));
    }
    if (eps) {
        /* parsed as a JSON number: strtod would follow the host program's locale */
        double v = 0.0;
        rn_json_doc *doc = NULL;
        int ok = rn_json_parse(eps, strlen(eps), NULL, &doc, NULL, 0) == 0 &&
                 rn_json_number(rn_json_root(doc), &v);
        rn_json_free(doc);
        if (!ok || !(v > 0.0 && v < 1.0))
            return rn_fail(err, RESNET_E_WEIGHTS, "%s: metadata bn_eps is '%s', expected a number in (0, 1)",
                           path, rn_printable(eps, shown, sizeof shown));
        m->bn_eps = v;
    }
    return RESNET_OK;
}

/* ---- int8 files (precision: int8; written by `resnet quantize`, model/quantize.c) ----
 * Every bottleneck convolution X (conv1-3, downsample.0) is stored as
 *   X.weight        I8  [cout, cin, k, k]   BN folded, symmetric, one scale per output channel
 *   X.weight_scale  F32 [cout]              real weight = scale * int8
 *   X.bias          F32 [cout]              the folded bias, in real units
 * and the u8 activations (zero point 0: all are ReLU outputs) by the convolution reading them:
 *   X.input_scale   F32 [1]                 for conv1, conv2, conv3 (a block's downsample reads
 *                                           its conv1's input: the same tensor, the same scale)
 *   layerS.0.downsample.0.output_scale, .output_zero_point  F32 [1]: the shortcut, signed, u8
 *                                           with a zero point (an integer in 0..255)
 * The stem (conv1, bn1) and the fc stay fp32 tensors as in an fp32 file (both are quantized at
 * load: load_qstem, load_fc); the last block's conv3
 * writes floats (the average pool reads them), so it needs no output scale. */

static resnet_status read_scalar(loader *ld, const char *name, int zero_point, float *out) {
    resnet_status st;
    const int64_t one[1] = {1};
    float *v = read_tensor(ld, name, 1, one, 0, &st);
    if (!v) return st;
    float x = v[0];
    rn_aligned_free(v);
    if (zero_point && (x != floorf(x) || x < 0.0f || x > 255.0f))
        return rn_fail(ld->err, RESNET_E_WEIGHTS, "%s: tensor '%s' is %g, expected a whole number in 0..255",
                       ld->path, name, x);
    if (!zero_point && !(x > 0.0f))
        return rn_fail(ld->err, RESNET_E_WEIGHTS, "%s: tensor '%s' is %g, expected a positive scale", ld->path,
                       name, x);
    *out = x;
    return RESNET_OK;
}

/* An int8 convolution: its shape, and the u8 scales and zero points around it. */
typedef struct qconv_spec {
    const char *name;          /* the tensors' prefix, "layer1.0.conv2" */
    int cin, cout, k, stride, pad;
    int dilation, groups;      /* 0: 1 */
    float s_in;                /* the input's scale ... */
    int z_in;                  /* ... and zero point (the stem's photo; 0 for ReLU outputs) */
    float s_out, z_out;        /* the output's; s_out 0: floats */
    int relu;
    float s_res, z_res;        /* the shortcut added before the ReLU; s_res 0: none */
    int in7, out7;             /* the input, the output in 7 bits (to7 below) */
} qconv_spec;

/* Packs an int8 convolution from OIHW int8 weights wq_oihw with per-channel scales ws and the
 * folded bias b (real units), with the requantization q says. */
static resnet_status make_qconv(loader *ld, rn_conv *c, const qconv_spec *q, const int8_t *wq_oihw, const float *ws,
                                const float *b) {
    const int groups = q->groups > 1 ? q->groups : 1, dilation = q->dilation > 1 ? q->dilation : 1;
    const int cin = q->cin / groups, cout = q->cout, k = q->k; /* cin: what each output reads */
    const float s_in = q->s_in, s_out = q->s_out, z_out = q->z_out, s_res = q->s_res, z_res = q->z_res;
    const size_t taps = (size_t)k * k;
    int8_t *wq = malloc((size_t)cout * cin * taps);
    float *scale = malloc((size_t)cout * sizeof(float)), *qbias = malloc((size_t)cout * sizeof(float));
    int r = -1;
    if (wq && scale && qbias) {
        /* OIHW -> [cout][tap][cin]: the kernel walks a tap's channels, then the next tap */
        for (int o = 0; o < cout; o++)
            for (int ci = 0; ci < cin; ci++)
                for (size_t tap = 0; tap < taps; tap++)
                    wq[((size_t)o * taps + tap) * cin + ci] = wq_oihw[((size_t)o * cin + ci) * taps + tap];
        /* the store computes v = acc * scale + bias (+ res * res_scale) in output units */
        rn_qgemm_params p;
        const double out_unit = s_out > 0 ? s_out : 1.0;
        p.res_scale = (float)(s_res / out_unit);
        for (int o = 0; o < cout; o++) {
            scale[o] = (float)((double)s_in * ws[o] / out_unit);
            qbias[o] = (float)(b[o] / out_unit + (s_out > 0 ? z_out : 0.0) - (double)p.res_scale * z_res);
        }
        if (s_out > 0) {
            p.lo = q->relu ? z_out : 0.0f;
            p.hi = q->out7 ? 127.0f : 255.0f;
        } else {
            p.lo = q->relu ? 0.0f : -INFINITY;
            p.hi = INFINITY;
        }
        r = rn_qconv_init_ex(c, ld->qk, q->cin, cout, k, k, q->stride, q->pad, dilation, groups, q->z_in, wq, scale,
                             qbias, b, &p, s_out <= 0, q->in7);
        if (r == -2) /* a weight outside the path's range (8-bit weights on the AVX2 path): exact in C */
            r = rn_qconv_init_ex(c, rn_qkernels_select(RN_QPATH_C), q->cin, cout, k, k, q->stride, q->pad, dilation,
                                 groups, q->z_in, wq, scale, qbias, b, &p, s_out <= 0, q->in7);
    }
    free(wq);
    free(scale);
    free(qbias);
    if (r == -2) /* on the C path too: the shape (rn_qconv_init_ex) */
        return rn_fail(ld->err, RESNET_E_UNSUPPORTED, "%s: '%s' (%dx%d on %d channels) is a shape the int8 driver does not run",
                       ld->path, q->name, k, k, q->cin);
    return r == 0 ? RESNET_OK : rn_fail(ld->err, RESNET_E_NOMEM, "%s: out of memory packing '%s'", ld->path, q->name);
}

/* One int8 convolution of the file: reads X.weight, X.weight_scale, X.bias (make_qconv). */
static resnet_status load_qconv(loader *ld, rn_conv *c, const qconv_spec *q) {
    const char *cname = q->name;
    const int cin = q->cin / (q->groups > 1 ? q->groups : 1), cout = q->cout, k = q->k;
    char name[128];
    resnet_status st = RESNET_OK;
    const int64_t wshape[4] = {cout, cin, k, k}, vshape[1] = {cout};
    float *ws = NULL, *b = NULL;
    int8_t *wq = NULL;

    snprintf(name, sizeof name, "%s.weight", cname);
    const rn_tensor *t = find(ld, name);
    if (!t) return rn_fail(ld->err, RESNET_E_WEIGHTS, "%s: tensor '%s' is missing", ld->path, name);
    if (t->dtype != RN_DT_I8)
        return rn_fail(ld->err, RESNET_E_WEIGHTS, "%s: tensor '%s' has dtype %s, expected I8 (an int8 file)",
                       ld->path, name, rn_dtype_name(t->dtype));
    int same = t->ndim == 4;
    for (int i = 0; same && i < 4; i++) same = t->shape[i] == wshape[i];
    if (!same) {
        char got[128], want[128];
        rn_shape_str(t->shape, t->ndim, ", ", got, sizeof got);
        rn_shape_str(wshape, 4, ", ", want, sizeof want);
        return rn_fail(ld->err, RESNET_E_WEIGHTS, "%s: tensor '%s' has shape %s, expected %s", ld->path, name, got,
                       want);
    }
    snprintf(name, sizeof name, "%s.weight_scale", cname);
    if (!(ws = read_tensor(ld, name, 1, vshape, 0, &st))) goto done;
    for (int o = 0; o < cout; o++)
        if (!(ws[o] > 0.0f)) {
            st = rn_fail(ld->err, RESNET_E_WEIGHTS, "%s: tensor '%s' is %g at %d, expected a positive scale",
                         ld->path, name, ws[o], o);
            goto done;
        }
    snprintf(name, sizeof name, "%s.bias", cname);
    if (!(b = read_tensor(ld, name, 1, vshape, 0, &st))) goto done;
    /* read, not taken from the mapping: a file cut short by another program while it loads
     * would turn a read of the lost pages into SIGBUS (rn_st_read_bytes reports it instead) */
    if (!(wq = malloc(t->nbytes ? t->nbytes : 1))) {
        st = rn_fail(ld->err, RESNET_E_NOMEM, "%s: out of memory reading '%s'", ld->path, t->name);
        goto done;
    }
    if ((st = rn_st_read_bytes(ld->st, t, wq, ld->err)) != RESNET_OK) goto done;
    st = make_qconv(ld, c, q, wq, ws, b);
done:
    free(wq);
    rn_aligned_free(ws);
    rn_aligned_free(b);
    return st;
}

/* The stem in int8 too, quantized here from the file's fp32 conv1 and bn1 (rn_quantize_weights,
 * as `quantize` does the others), onto the blocks' input scale (the max pool between them
 * commutes with the quantization); its input, the normalised photo, quantized over the range
 * normalisation gives any pixel (rn_image_input_range: no calibration, no clipping). Measured
 * on AVX2 (docs/int8.md): faster than the fp32 stem and its max pool on floats. */
static resnet_status load_qstem(resnet_model *m, loader *ld, const rn_layer *l, rn_conv *c, float s_out) {
    float *wf = NULL, *b = NULL, lo, hi;
    resnet_status st = fold_conv_bn(ld, l->conv, l->bn, l->cin, l->cout, l->k, &wf, &b);
    if (st != RESNET_OK) return st;
    const size_t per = (size_t)l->cin * l->k * l->k;
    int8_t *q = malloc((size_t)l->cout * per);
    float *ws = malloc((size_t)l->cout * sizeof(float));
    if (!q || !ws) st = rn_fail(ld->err, RESNET_E_NOMEM, "%s: out of memory quantizing 'conv1'", ld->path);
    else {
        rn_quantize_weights(wf, l->cout, per, RN_QW7, q, ws);
        rn_image_input_range(m->norm, &lo, &hi);
        m->q_stem_scale = (hi - lo) / 255.0f;
        m->q_stem_zero = (int)lrintf(-lo / m->q_stem_scale);
        const qconv_spec spec = {.name = l->conv, .cin = l->cin, .cout = l->cout, .k = l->k, .stride = l->stride,
                                 .pad = l->pad, .s_in = m->q_stem_scale, .z_in = m->q_stem_zero, .s_out = s_out,
                                 .relu = 1};
        st = make_qconv(ld, c, &spec, q, ws, b);
    }
    free(q);
    free(ws);
    rn_aligned_free(wf);
    free(b);
    return st;
}

/* 7-bit activations. On a path with a gemm7 kernel (AVX2: two k groups summed in s16 before
 * widening, 3 multiplies per 8 depths instead of 4; qgemm_a7_4x16_avx2.c) the activations
 * inside a block that a direct convolution reads are kept in 7 bits: a bottleneck's conv2
 * output (conv3's input) always, conv1's output where conv2 runs direct (not as the integer
 * Winograd, which gains nothing from it). The same range as the file's scale says, over 127
 * steps instead of 255. The blocks' outputs keep 8 bits: they are also the shortcut added at
 * full precision. Measured on val1300 (docs/int8.md has each variant tried): top-1 agreement
 * with fp32 on held-out photos 97.54% with the int8 fc (97.77% with 8 bits everywhere and the
 * fc in fp32); every activation in 7 bits fell to 96.7%, 7-bit inputs to layer3's 3x3s too to
 * 97.2%. */
static float to7(float s) { return (float)(s * 255.0 / 127.0); }

/* The int8 tensors of layer l's block: the block input's scale is its first conv's input_scale. */
static int block_first(const rn_net *net, int i) {
    while (i > 0 && net->layers[i].role != RN_ROLE_FIRST) i--;
    return i;
}

/* The next layer on the main path after i (the shortcut skipped), or -1 past the last block. */
static int main_next(const rn_net *net, int i) {
    for (int j = i + 1; j < net->n; j++) {
        const rn_layer *l = &net->layers[j];
        if (l->kind != RN_L_CONV) return -1;
        if (l->role != RN_ROLE_DOWN) return j;
    }
    return -1;
}

static resnet_status bind_int8(resnet_model *m, loader *ld) {
    const rn_net *net = &m->net;
    char name[96];
    resnet_status s;
    /* The activation scales first: a convolution's output scale is the next one's input scale.
     * in_scale[i]: the u8 scale of layer i's input; down_z[i]: a shortcut's zero point. */
    float *in_scale = calloc((size_t)net->n, sizeof(float)), *down_z = calloc((size_t)net->n, sizeof(float));
    int *in7 = calloc((size_t)net->n, sizeof(int));
    if (!in_scale || !down_z || !in7) {
        s = rn_fail(ld->err, RESNET_E_NOMEM, "%s: out of memory", ld->path);
        goto done;
    }
    for (int i = 0; i < net->n; i++) {
        const rn_layer *l = &net->layers[i];
        if (l->kind != RN_L_CONV || l->role == RN_ROLE_STEM) continue;
        if (l->role == RN_ROLE_DOWN) {
            snprintf(name, sizeof name, "%s.output_scale", l->conv);
            if ((s = read_scalar(ld, name, 0, &m->act_scale[i])) != RESNET_OK) goto done;
            snprintf(name, sizeof name, "%s.output_zero_point", l->conv);
            if ((s = read_scalar(ld, name, 1, &down_z[i])) != RESNET_OK) goto done;
            continue;
        }
        snprintf(name, sizeof name, "%s.input_scale", l->conv);
        if ((s = read_scalar(ld, name, 0, &in_scale[i])) != RESNET_OK) goto done;
    }
    /* 7-bit inputs: the convolutions inside a block that run direct on a path with gemm7 */
    const rn_qgemm_params plain = {0.0f, 0.0f, 255.0f};
    for (int i = 0; i < net->n; i++) {
        const rn_layer *l = &net->layers[i];
        if (l->kind != RN_L_CONV || (l->role != RN_ROLE_MID && l->role != RN_ROLE_LAST)) continue;
        const int wino = l->res < 0 && rn_qwino_applies(ld->qk, l->cin, l->cout, l->k, l->stride, l->pad, 0, 0, &plain);
        in7[i] = ld->qk->gemm7 != NULL && !wino;
    }
    int first = -1;
    for (int i = 0; i < net->n && first < 0; i++)
        if (net->layers[i].role == RN_ROLE_FIRST) first = i;
    m->q_in_scale = in_scale[first];
    for (int i = 0; i < net->n; i++) {
        const rn_layer *l = &net->layers[i];
        if (l->kind == RN_L_FC) {
            s = load_fc(ld, &m->convs[i], l->cout, l->cin, 1);
            goto done;
        }
        if (l->kind != RN_L_CONV) continue;
        if (l->role == RN_ROLE_STEM) {
            m->act_scale[i] = m->q_in_scale;
            if ((s = load_qstem(m, ld, l, &m->convs[i], m->q_in_scale)) != RESNET_OK) goto done;
            continue;
        }
        const int bf = block_first(net, i);
        qconv_spec q = {.name = l->conv, .cin = l->cin, .cout = l->cout, .k = l->k, .stride = l->stride, .pad = l->pad,
                        .dilation = l->dilation, .groups = l->groups};
        /* a block's first convolution and its shortcut read the block's input */
        q.s_in = l->role == RN_ROLE_FIRST || l->role == RN_ROLE_DOWN ? in_scale[bf] : in_scale[i];
        if (l->role == RN_ROLE_DOWN) { /* signed: a zero point, no ReLU */
            q.s_out = m->act_scale[i];
            q.z_out = down_z[i];
        } else {
            const int next = main_next(net, i); /* -1: the last block writes floats */
            q.relu = 1;
            q.in7 = in7[i];
            q.out7 = next >= 0 && l->role != RN_ROLE_LAST && in7[next];
            q.s_out = next >= 0 ? in_scale[next] : 0.0f;
            if (l->role == RN_ROLE_LAST) {
                const int d = l->res == net->layers[bf].in ? -1 : i - 1; /* the projection sits just before */
                q.s_res = d >= 0 ? m->act_scale[d] : in_scale[bf];
                q.z_res = d >= 0 ? down_z[d] : 0.0f;
            }
            m->act_scale[i] = q.s_out;
            if (q.in7) q.s_in = to7(q.s_in);
            if (q.out7) q.s_out = to7(q.s_out);
        }
        if ((s = load_qconv(ld, &m->convs[i], &q)) != RESNET_OK) goto done;
    }
    s = RESNET_OK;
done:
    free(in_scale);
    free(down_z);
    free(in7);
    return s;
}

/* Class names, one per line (a trailing empty line ignored), as many as the fc has outputs. */
static resnet_status read_labels(resnet_model *m, const char *text, size_t len, const char *what, resnet_error *err) {
    const int classes = m->net.a.classes;
    if (classes == 0)
        return rn_fail(err, RESNET_E_ARG, "%s names classes, but the network is a backbone (no fc): it has none", what);
    /* Windows' Notepad starts a UTF-8 file with a byte-order mark: not part of name 0, where
     * it would print unseen and match no class folder or labels.tsv name */
    if (rn_utf8_bom(text, len)) text += 3, len -= 3;
    /* a NUL would end the line scan below early ("has 1 names" of a UTF-16 file): say what it is */
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int line = 1;
        for (const char *p = text; p < nul; p++) line += *p == '\n';
        return rn_fail(err, RESNET_E_ARG, "%s: line %d holds a NUL byte: not a text file (UTF-16? save it as UTF-8)",
                       what, line);
    }
    char *store = malloc(len + 1);
    char **names = calloc((size_t)classes, sizeof *names);
    if (!store || !names) {
        free(store);
        free(names);
        return rn_fail(err, RESNET_E_NOMEM, "out of memory reading %s", what);
    }
    memcpy(store, text, len);
    store[len] = '\0';
    if (len && store[len - 1] == '\n') store[--len] = '\0';
    if (len && store[len - 1] == '\r') store[--len] = '\0';
    int n = 0;
    for (char *p = store; len > 0;) { /* every line counted, so that the message says how many */
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        size_t l = strlen(p);
        if (l && p[l - 1] == '\r') p[l - 1] = '\0';
        if (n < classes) names[n] = p;
        if (n < INT_MAX) n++;
        if (!nl) break;
        p = nl + 1;
    }
    if (n != classes) {
        free(store);
        free(names);
        return rn_fail(err, RESNET_E_ARG, "%s has %d names, the network has %d classes", what, n, classes);
    }
    for (int i = 0; i < classes; i++)
        if (!names[i][0]) {
            free(store);
            free(names);
            return rn_fail(err, RESNET_E_ARG, "%s: name %d (line %d) is empty", what, i, i + 1);
        }
    m->labels = names;
    m->label_store = store;
    return RESNET_OK;
}

/* The file's "labels" metadata: a JSON array of strings. */
static resnet_status labels_from_metadata(resnet_model *m, const char *json, const char *path, resnet_error *err) {
    rn_json_doc *doc = NULL;
    resnet_status s = RESNET_OK;
    if (rn_json_parse(json, strlen(json), NULL, &doc, NULL, 0) != 0)
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: metadata labels is not valid JSON", path);
    const rn_json *root = rn_json_root(doc);
    const int classes = m->net.a.classes;
    const int is_array = rn_json_is(root, RN_JSON_ARRAY);
    size_t n = is_array ? rn_json_count(root) : 0, total = 0;
    if (!is_array || n != (size_t)classes)
        s = rn_fail(err, RESNET_E_WEIGHTS, "%s: metadata labels has %zu names, the network has %d classes", path,
                    n, classes);
    for (size_t i = 0; s == RESNET_OK && i < n; i++) {
        const char *v = rn_json_string(rn_json_at(root, i), NULL);
        if (!v || !v[0]) s = rn_fail(err, RESNET_E_WEIGHTS, "%s: metadata labels: entry %zu is not a name", path, i);
        else total += strlen(v) + 1;
    }
    if (s == RESNET_OK) {
        char *text = malloc(total + 1), *p = text;
        if (!text) s = rn_fail(err, RESNET_E_NOMEM, "out of memory");
        for (size_t i = 0; text && i < n; i++) {
            const char *v = rn_json_string(rn_json_at(root, i), NULL);
            if (strchr(v, '\n')) {
                s = rn_fail(err, RESNET_E_WEIGHTS, "%s: metadata labels: entry %zu holds a line break", path, i);
                break;
            }
            p += sprintf(p, "%s\n", v);
        }
        if (s == RESNET_OK) s = read_labels(m, text, (size_t)(p - text), path, err);
        free(text);
    }
    rn_json_free(doc);
    return s;
}

/* Metadata key as a whole number, plain decimal digits only, at most 9 of them; *v is left alone
 * when the file lacks the key. */
static resnet_status meta_whole(const rn_safetensors *st, const char *path, const char *key, long *v,
                                resnet_error *err) {
    const char *text = rn_st_metadata(st, key);
    if (!text) return RESNET_OK;
    long n = 0;
    const char *p = text;
    for (; *p >= '0' && *p <= '9' && p - text < 9; p++) n = n * 10 + (*p - '0');
    if (p == text || *p) {
        char shown[32];
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: metadata %s is '%s', not a whole number", path, key,
                       rn_printable(text, shown, sizeof shown));
    }
    *v = n;
    return RESNET_OK;
}

resnet_status rn_model_bind_config(resnet_model *m, const rn_safetensors *st, const char *path,
                                   const rn_load_config *cfg, resnet_error *err) {
    resnet_status s = read_metadata(st, path, m, err);
    if (s != RESNET_OK) return s;
    rn_arch a;
    if ((s = rn_arch_read(st, path, &a, err)) != RESNET_OK) return s;
    a.variant = m->variant;
    /* The caller's size and stride win; else the file's (a dilated network imported from ONNX
     * says so in its metadata: run at stride 32 it would answer, wrongly). */
    long v = RESNET_INPUT_SIZE;
    /* Only 0 means "the file's": a negative size or stride is the caller's mistake, refused by
     * rn_net_build below with the value, never taken for 0. */
    if (cfg->input_size != 0) v = cfg->input_size;
    else if ((s = meta_whole(st, path, "input_size", &v, err)) != RESNET_OK) return s;
    else if (v < 32 || v > 4096)
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: metadata input_size is %ld: it must be from 32 to 4096", path, v);
    a.input_size = (int)v;
    v = 32;
    if (cfg->output_stride != 0) v = cfg->output_stride;
    else if ((s = meta_whole(st, path, "output_stride", &v, err)) != RESNET_OK) return s;
    else if (v != 8 && v != 16 && v != 32)
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: metadata output_stride is %ld: it must be 8, 16 or 32", path, v);
    a.output_stride = (int)v;
    a.in_place_depth = m->int8 ? INT_MAX : RN_CONV_DEPTH_CHUNK;
    if ((s = rn_net_build(&a, &m->net, err)) != RESNET_OK) { /* the network the file and options ask for */
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err ? err->message : "");
        return rn_fail(err, s, "%s: %s", path, why);
    }
    rn_arch_name(&a, m->arch_name, sizeof m->arch_name);
    const char *arch_meta = rn_st_metadata(st, "arch");
    if (arch_meta && strcmp(arch_meta, m->arch_name) != 0) {
        char shown[64];
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: metadata arch is '%s', but the tensors are a %s", path,
                       rn_printable(arch_meta, shown, sizeof shown), m->arch_name);
    }
    m->convs = calloc((size_t)m->net.n, sizeof *m->convs);
    m->act_scale = calloc((size_t)m->net.n, sizeof *m->act_scale);
    unsigned char *used = calloc(rn_st_count(st) + 1, 1);
    if (!m->convs || !m->act_scale || !used) {
        free(used);
        return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", path);
    }
    if (m->bf16) m->kc = rn_kernels_for_bf16(m->kc);
    /* Activations are stored with cout channels a pixel and read with cin: every width a whole
     * number of the kernel's panels (every torchvision constructor's is). */
    for (int i = 0; i < m->net.n; i++) {
        const rn_layer *l = &m->net.layers[i];
        if (l->kind == RN_L_CONV && l->cout % m->kc->nr != 0)
            s = rn_fail(err, RESNET_E_UNSUPPORTED,
                        "%s: '%s' has %d output channels: the %s kernels need a multiple of %d", path, l->conv,
                        l->cout, resnet_kernels_name(m->kc->id), m->kc->nr);
        if (s != RESNET_OK) {
            free(used);
            return s;
        }
    }
    const unsigned flags = (cfg->direct ? RN_CONV_DIRECT : 0) | (cfg->wide_winograd ? RN_CONV_WIDE : 0) |
                           (m->bf16 ? RN_CONV_BF16 : 0);
    loader ld = {st, path, err, m->bn_eps, m->kc, flags, m->qk, used, NULL};
    if (m->int8) {
        s = bind_int8(m, &ld);
    } else {
        for (int i = 0; s == RESNET_OK && i < m->net.n; i++) {
            const rn_layer *l = &m->net.layers[i];
            if (l->kind == RN_L_CONV) s = load_conv_bn(&ld, &m->convs[i], l);
            else if (l->kind == RN_L_FC) s = load_fc(&ld, &m->convs[i], l->cout, l->cin, 0);
        }
    }
    for (size_t i = 0; s == RESNET_OK && i < rn_st_count(st); i++) {
        const rn_tensor *t = rn_st_tensor(st, i);
        if (!used[i] && !rn_net_tensor_ignored(t->name)) {
            char shown[96];
            /* 'fc.1.weight': a fine-tuned head written as a Sequential, the usual reason, and
             * the one with a fix to give */
            const int seq_fc = strncmp(t->name, "fc.", 3) == 0 && t->name[3] >= '0' && t->name[3] <= '9';
            s = rn_fail(err, RESNET_E_WEIGHTS, "%s: tensor '%s' is not used by the network the file describes (%s): %s",
                        path, rn_printable(t->name, shown, sizeof shown), m->arch_name,
                        seq_fc ? "the fc is a Sequential; the engine runs one Linear, named 'fc.weight' and 'fc.bias' "
                                 "(tools/pth-to-safetensors.py renames a Sequential(Dropout, Linear)'s)"
                               : "a file for another network?");
        }
    }
    free(used);
    rn_aligned_free(ld.spare);
    if (s != RESNET_OK) return s;
    const char *labels = rn_st_metadata(st, "labels");
    if (cfg->labels_path) {
        char *text = NULL;
        size_t len = 0;
        if ((s = rn_read_file(cfg->labels_path, 1 << 24, &text, &len, err)) != RESNET_OK) return s;
        s = read_labels(m, text, len, cfg->labels_path, err);
        free(text);
    } else if (labels) {
        s = labels_from_metadata(m, labels, path, err);
    }
    return s;
}
