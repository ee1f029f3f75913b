/* weights.c - binds a safetensors file (torchvision tensor names) to the model:
 * checks every tensor's presence, dtype and shape, folds batch norm into the
 * convolution before it, and packs the result for the chosen micro-kernel. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "io/fileio.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "image/image.h"
#include "model/quantize.h"
#include "model/resnet50.h"
#include "ops/qconv.h"
#include "ops/qwinograd.h"

typedef struct loader {
    const rn_safetensors *st;
    const char *path;
    resnet_error *err;
    double eps;
    const rn_kernel_config *kc;
    unsigned conv_flags; /* RN_CONV_DIRECT when Winograd is turned off */
    const rn_qkernel_config *qk; /* an int8 file's convolutions */
} loader;

static int is_float_dtype(rn_dtype t) {
    return t == RN_DT_F32 || t == RN_DT_F16 || t == RN_DT_BF16 || t == RN_DT_F64;
}

/* Reads tensor `name` of the given shape as float32 into a new buffer; NULL + error if it
 * is absent (unless optional), not a float type, or shaped otherwise. */
static float *read_tensor(loader *ld, const char *name, int ndim, const int64_t *shape, int optional,
                          resnet_status *st) {
    *st = RESNET_OK;
    const rn_tensor *t = rn_st_find(ld->st, name);
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
    float *buf = rn_aligned_alloc(count * sizeof(float)); /* large: given back on free */
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

/* conv `cname` (+ optional conv bias) followed by batch norm `bname`, folded:
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
        if (!(var > 0.0)) {
            st = rn_fail(ld->err, RESNET_E_WEIGHTS, "%s: tensor '%s.running_var' is negative at %d", ld->path,
                         bname, o);
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

static resnet_status load_conv_bn(loader *ld, rn_conv *conv, const char *cname, const char *bname,
                                  int cin, int cout, int ksize, int stride, int pad) {
    float *w, *bias;
    resnet_status st = fold_conv_bn(ld, cname, bname, cin, cout, ksize, &w, &bias);
    if (st != RESNET_OK) return st;
    if (rn_conv_init(conv, ld->kc, cin, cout, ksize, ksize, stride, pad, w, bias, ld->conv_flags) != 0)
        st = rn_fail(ld->err, RESNET_E_NOMEM, "%s: out of memory packing '%s'", ld->path, cname);
    rn_aligned_free(w);
    free(bias);
    return st;
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
static resnet_status load_fc(loader *ld, rn_conv *fc, int int8) {
    resnet_status st;
    const int64_t wshape[2] = {RESNET_NUM_CLASSES, RESNET_FEATURE_DIM}, bshape[1] = {RESNET_NUM_CLASSES};
    float *w = read_tensor(ld, "fc.weight", 2, wshape, 0, &st);
    if (!w) return st;
    float *b = read_tensor(ld, "fc.bias", 1, bshape, 0, &st);
    if (b && (st = check_rows(ld, "fc", w, b, RESNET_NUM_CLASSES, RESNET_FEATURE_DIM)) != RESNET_OK) {
        rn_aligned_free(w);
        rn_aligned_free(b);
        return st;
    }
    if (b && int8) {
        int8_t *q = malloc((size_t)RESNET_NUM_CLASSES * RESNET_FEATURE_DIM);
        float *ws = malloc(RESNET_NUM_CLASSES * sizeof(float));
        int r = -1;
        if (q && ws) {
            rn_quantize_weights(w, RESNET_NUM_CLASSES, RESNET_FEATURE_DIM, RN_QW8, q, ws);
            r = rn_qdense_init(fc, ld->qk, RESNET_FEATURE_DIM, RESNET_NUM_CLASSES, q, ws, b);
        }
        free(q);
        free(ws);
        if (r != 0) st = rn_fail(ld->err, RESNET_E_NOMEM, "%s: out of memory packing 'fc'", ld->path);
    } else if (b && rn_conv_init(fc, ld->kc, RESNET_FEATURE_DIM, RESNET_NUM_CLASSES, 1, 1, 1, 0, w, b, 0) != 0)
        st = rn_fail(ld->err, RESNET_E_NOMEM, "%s: out of memory packing 'fc'", ld->path);
    rn_aligned_free(w);
    rn_aligned_free(b);
    return st;
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
    if (arch && strcmp(arch, "resnet50") != 0)
        return rn_fail(err, RESNET_E_WEIGHTS, "%s: metadata arch is '%s', expected 'resnet50'", path,
                       rn_printable(arch, shown, sizeof shown));
    if (precision) {
        if (strcmp(precision, "int8") == 0) m->int8 = 1;
        else if (strcmp(precision, "bf16") == 0) m->bf16 = 1;
        else if (strcmp(precision, "fp32") != 0)
            return rn_fail(err, RESNET_E_WEIGHTS, "%s: metadata precision is '%s', expected 'fp32', 'int8' or 'bf16'",
                           path, rn_printable(precision, shown, sizeof shown));
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

/* Packs an int8 convolution from OIHW int8 weights wq_oihw with per-channel scales ws and the
 * folded bias b (real units), with the requantization from input scale s_in (zero point
 * z_in) to output scale s_out and zero point z_out (s_out 0: a float output), the residual
 * (s_res 0: none) with its zero point, and the ReLU. */
static resnet_status make_qconv(loader *ld, rn_conv *c, const char *cname, int cin, int cout, int k, int stride,
                                int pad, const int8_t *wq_oihw, const float *ws, const float *b, float s_in, int z_in,
                                float s_out, float z_out, int relu, float s_res, float z_res, int in7, int out7) {
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
            p.lo = relu ? z_out : 0.0f;
            p.hi = out7 ? 127.0f : 255.0f;
        } else {
            p.lo = relu ? 0.0f : -INFINITY;
            p.hi = INFINITY;
        }
        r = rn_qconv_init(c, ld->qk, cin, cout, k, k, stride, pad, z_in, wq, scale, qbias, b, &p, s_out <= 0, in7);
        if (r == -2) /* a weight outside the path's range (8-bit weights on the AVX2 path): exact in C */
            r = rn_qconv_init(c, rn_qkernels_select(RN_QPATH_C), cin, cout, k, k, stride, pad, z_in, wq, scale,
                              qbias, b, &p, s_out <= 0, in7);
    }
    free(wq);
    free(scale);
    free(qbias);
    return r == 0 ? RESNET_OK : rn_fail(ld->err, RESNET_E_NOMEM, "%s: out of memory packing '%s'", ld->path, cname);
}

/* One int8 convolution of the file: reads X.weight, X.weight_scale, X.bias (make_qconv). */
static resnet_status load_qconv(loader *ld, rn_conv *c, const char *cname, int cin, int cout, int k, int stride,
                                int pad, float s_in, float s_out, float z_out, int relu, float s_res, float z_res,
                                int in7, int out7) {
    char name[128];
    resnet_status st = RESNET_OK;
    const int64_t wshape[4] = {cout, cin, k, k}, vshape[1] = {cout};
    float *ws = NULL, *b = NULL;

    snprintf(name, sizeof name, "%s.weight", cname);
    const rn_tensor *t = rn_st_find(ld->st, name);
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
    st = make_qconv(ld, c, cname, cin, cout, k, stride, pad, t->data, ws, b, s_in, 0, s_out, z_out, relu, s_res,
                    z_res, in7, out7);
done:
    rn_st_release(ld->st, t);
    rn_aligned_free(ws);
    rn_aligned_free(b);
    return st;
}

/* The stem in int8 too, quantized here from the file's fp32 conv1 and bn1 (rn_quantize_weights,
 * as `quantize` does the others), onto the blocks' input scale (the max pool between them
 * commutes with the quantization); its input, the normalised photo, quantized over the range
 * normalisation gives any pixel (rn_image_input_range: no calibration, no clipping). Measured
 * on AVX2 (docs/int8.md): faster than the fp32 stem and its max pool on floats. */
static resnet_status load_qstem(resnet_model *m, loader *ld, float s_out) {
    float *wf = NULL, *b = NULL, lo, hi;
    resnet_status st = fold_conv_bn(ld, "conv1", "bn1", 3, 64, 7, &wf, &b);
    if (st != RESNET_OK) return st;
    const size_t per = 3 * 7 * 7;
    int8_t *q = malloc(64 * per);
    float *ws = malloc(64 * sizeof(float));
    if (!q || !ws) st = rn_fail(ld->err, RESNET_E_NOMEM, "%s: out of memory quantizing 'conv1'", ld->path);
    else {
        rn_quantize_weights(wf, 64, per, RN_QW7, q, ws);
        rn_image_input_range(m->norm, &lo, &hi);
        m->q_stem_scale = (hi - lo) / 255.0f;
        m->q_stem_zero = (int)lrintf(-lo / m->q_stem_scale);
        st = make_qconv(ld, &m->conv1, "conv1", 3, 64, 7, 2, 3, q, ws, b, m->q_stem_scale, m->q_stem_zero, s_out,
                        0, 1, 0, 0, 0, 0);
    }
    free(q);
    free(ws);
    rn_aligned_free(wf);
    free(b);
    return st;
}

/* 7-bit activations. On a path with a gemm7 kernel (AVX2: two k groups summed in s16 before
 * widening, 3 multiplies per 8 depths instead of 4; qgemm_a7_4x16_avx2.c) the activations
 * inside a block that a direct convolution reads are kept in 7 bits: conv2's output (conv3's
 * input) always, conv1's output where conv2 runs direct (not as the integer Winograd, which
 * gains nothing from it). The same range as the file's scale says, over 127 steps instead of
 * 255. The blocks' outputs keep 8 bits: they are also the shortcut added at full precision.
 * Measured on val1300 (docs/int8.md has each variant tried): top-1 agreement with fp32 on
 * held-out photos 97.54% with the int8 fc (97.77% with 8 bits everywhere and the fc in fp32);
 * every activation in 7 bits fell to 96.7%, 7-bit inputs to layer3's 3x3s too to 97.2%. */
static float to7(float s) { return (float)(s * 255.0 / 127.0); }

static resnet_status bind_int8(resnet_model *m, loader *ld) {
    char name[128], cname[64];
    resnet_status s;
    /* the activation scales first: a convolution's output scale is the next one's input scale */
    float in_scale[RN_BLOCKS], mid1[RN_BLOCKS], mid2[RN_BLOCKS], down_s[RN_BLOCKS], down_z[RN_BLOCKS];
    for (int stage = 0, bi = 0; stage < RN_STAGES; stage++)
        for (int i = 0; i < rn_stage_blocks[stage]; i++, bi++) {
#define SCALAR(part, zp, out)                                                              \
    snprintf(name, sizeof name, "layer%d.%d.%s", stage + 1, i, part);                      \
    if ((s = read_scalar(ld, name, zp, out)) != RESNET_OK) return s
            SCALAR("conv1.input_scale", 0, &in_scale[bi]);
            SCALAR("conv2.input_scale", 0, &mid1[bi]);
            SCALAR("conv3.input_scale", 0, &mid2[bi]);
            if (i == 0) {
                SCALAR("downsample.0.output_scale", 0, &down_s[bi]);
                SCALAR("downsample.0.output_zero_point", 1, &down_z[bi]);
            }
#undef SCALAR
        }
    m->q_in_scale = in_scale[0];
    if ((s = load_qstem(m, ld, in_scale[0])) != RESNET_OK) return s;
    int cin = 64;
    for (int stage = 0, bi = 0; stage < RN_STAGES; stage++) {
        const int width = rn_stage_width[stage], cout = 4 * width;
        for (int i = 0; i < rn_stage_blocks[stage]; i++, bi++) {
            rn_block *b = &m->blocks[bi];
            const int stride = (stage > 0 && i == 0) ? 2 : 1;
            const int s1 = m->variant == RESNET_V1 ? stride : 1, s2 = m->variant == RESNET_V1 ? 1 : stride;
            const float s_out = bi + 1 < RN_BLOCKS ? in_scale[bi + 1] : 0.0f; /* the last block: floats */
            b->has_down = i == 0;
            /* conv1's and conv2's outputs in 7 bits where a gemm7 kernel reads them (above) */
            const rn_qgemm_params plain = {0.0f, 0.0f, 255.0f};
            const int a7 = ld->qk->gemm7 != NULL;
            const int m1_7 = a7 && !rn_qwino_applies(ld->qk, width, width, 3, s2, 1, 0, 0, &plain), m2_7 = a7;
            const float m1 = m1_7 ? to7(mid1[bi]) : mid1[bi], m2 = m2_7 ? to7(mid2[bi]) : mid2[bi];
#define CONV(part) snprintf(cname, sizeof cname, "layer%d.%d.%s", stage + 1, i, part)
            CONV("conv1");
            if ((s = load_qconv(ld, &b->conv1, cname, cin, width, 1, s1, 0, in_scale[bi], m1, 0, 1, 0, 0, 0, m1_7)))
                return s;
            CONV("conv2");
            if ((s = load_qconv(ld, &b->conv2, cname, width, width, 3, s2, 1, m1, m2, 0, 1, 0, 0, m1_7, m2_7)))
                return s;
            if (b->has_down) {
                CONV("downsample.0");
                if ((s = load_qconv(ld, &b->down, cname, cin, cout, 1, stride, 0, in_scale[bi], down_s[bi],
                                    down_z[bi], 0, 0, 0, 0, 0)))
                    return s;
            }
            CONV("conv3");
            if ((s = load_qconv(ld, &b->conv3, cname, width, cout, 1, 1, 0, m2, s_out, 0, 1,
                                b->has_down ? down_s[bi] : in_scale[bi], b->has_down ? down_z[bi] : 0, m2_7, 0)))
                return s;
#undef CONV
            cin = cout;
        }
    }
    return load_fc(ld, &m->fc, 1);
}

resnet_status rn_model_bind(resnet_model *m, const rn_safetensors *st, const char *path, int direct,
                            resnet_error *err) {
    resnet_status s = read_metadata(st, path, m, err);
    if (s != RESNET_OK) return s;
    loader ld = {st, path, err, m->bn_eps, m->kc, (direct ? RN_CONV_DIRECT : 0) | (m->bf16 ? RN_CONV_BF16 : 0), m->qk};
    char cname[64], bname[64];
    if (m->int8) return bind_int8(m, &ld);

    if ((s = load_conv_bn(&ld, &m->conv1, "conv1", "bn1", 3, 64, 7, 2, 3)) != RESNET_OK) return s;
    int cin = 64, bi = 0;
    for (int stage = 0; stage < RN_STAGES; stage++) {
        const int width = rn_stage_width[stage], cout = 4 * width;
        for (int i = 0; i < rn_stage_blocks[stage]; i++, bi++) {
            rn_block *b = &m->blocks[bi];
            const int stride = (stage > 0 && i == 0) ? 2 : 1;
            const int s1 = m->variant == RESNET_V1 ? stride : 1, s2 = m->variant == RESNET_V1 ? 1 : stride;
            const char *pre = "layer";
#define NAMES(c, n) snprintf(cname, sizeof cname, "%s%d.%d.%s", pre, stage + 1, i, c), \
                    snprintf(bname, sizeof bname, "%s%d.%d.%s", pre, stage + 1, i, n)
            NAMES("conv1", "bn1");
            if ((s = load_conv_bn(&ld, &b->conv1, cname, bname, cin, width, 1, s1, 0)) != RESNET_OK) return s;
            NAMES("conv2", "bn2");
            if ((s = load_conv_bn(&ld, &b->conv2, cname, bname, width, width, 3, s2, 1)) != RESNET_OK) return s;
            NAMES("conv3", "bn3");
            if ((s = load_conv_bn(&ld, &b->conv3, cname, bname, width, cout, 1, 1, 0)) != RESNET_OK) return s;
            if (i == 0) {
                NAMES("downsample.0", "downsample.1");
                if ((s = load_conv_bn(&ld, &b->down, cname, bname, cin, cout, 1, stride, 0)) != RESNET_OK)
                    return s;
                b->has_down = 1;
            }
#undef NAMES
            cin = cout;
        }
    }
    return load_fc(&ld, &m->fc, 0);
}
