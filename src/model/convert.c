/* convert.c - resnet_convert_weights: an fp32 weight file rewritten in bf16 (half the size).
 * Every tensor of two or more dimensions (the convolutions' and the fc's weights) is stored as
 * BF16, rounded to nearest even; the one-dimensional ones (batch norm, biases) stay F32: they
 * are folded into the convolutions at load, where bf16 would round the folding itself. Tensors
 * the loader ignores (torchvision's integer num_batches_tracked) are left out. The metadata is
 * copied, with precision=bf16: the file loads as a bf16 model. */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "io/atomic.h"
#include "io/safetensors.h"
#include "kernels/kernels.h"
#include "model/arch.h"
#include "model/resnet50.h"

resnet_status resnet_convert_weights(const char *in_path, const char *out_path, resnet_precision p,
                                     resnet_error *err) {
    if (!in_path || !out_path || !*out_path)
        return rn_fail(err, RESNET_E_ARG, "resnet_convert_weights: no input or output path");
    if (p != RESNET_PRECISION_BF16)
        return rn_fail(err, RESNET_E_ARG, "resnet_convert_weights: can convert to bf16 only, not %s",
                       resnet_precision_name(p));
    if (rn_same_file(in_path, out_path))
        return rn_fail(err, RESNET_E_ARG, "%s: is the file being converted; refusing to overwrite it", out_path);
    /* the input must be an fp32 model that loads: a bad file is named now, not when the
     * converted one is first used */
    resnet_model *m = NULL;
    resnet_status s = resnet_model_load(in_path, NULL, &m, err);
    if (s != RESNET_OK) return s;
    const resnet_precision was = resnet_model_precision(m);
    resnet_model_free(m);
    if (was != RESNET_PRECISION_FP32)
        return rn_fail(err, RESNET_E_ARG, "%s: is %s file; only an fp32 file converts to bf16", in_path,
                       was == RESNET_PRECISION_INT8 ? "an int8" : "a bf16");

    rn_safetensors *st;
    if ((s = rn_st_open(in_path, &st, err)) != RESNET_OK) return s;
    const size_t n = rn_st_count(st);
    rn_st_entry *e = calloc(n ? n : 1, sizeof *e);
    uint16_t **h = calloc(n ? n : 1, sizeof *h);
    float **f = calloc(n ? n : 1, sizeof *f);
    if (!e || !h || !f) s = rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", in_path);
    size_t kept = 0; /* e, h and f hold the tensors written, in the file's order */
    for (size_t i = 0; s == RESNET_OK && i < n; i++) {
        const rn_tensor *t = rn_st_tensor(st, i);
        if (rn_net_tensor_ignored(t->name)) continue;
        const size_t count = t->nbytes / rn_dtype_size(t->dtype), j = kept++;
        e[j].name = t->name;
        e[j].ndim = t->ndim;
        memcpy(e[j].shape, t->shape, sizeof e[j].shape);
        if (!(f[j] = malloc((count ? count : 1) * sizeof(float)))) {
            s = rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", in_path);
            break;
        }
        if ((s = rn_st_read_f32(st, t, f[j], err)) != RESNET_OK) break;
        e[j].data = f[j];
        if (t->ndim >= 2) {
            if (!(h[j] = malloc((count ? count : 1) * sizeof(uint16_t)))) {
                s = rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", in_path);
                break;
            }
            for (size_t k = 0; k < count; k++) h[j][k] = rn_bf16_from_f32(f[j][k]);
            free(f[j]);
            f[j] = NULL;
            e[j].data = NULL;
        }
    }
    const char *our_key = "precision", *our_val = "bf16", **keys, **vals;
    size_t nm;
    if (!rn_st_metadata_merge(st, &our_key, &our_val, 1, &keys, &vals, &nm) && s == RESNET_OK)
        s = rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", in_path);
    if (s == RESNET_OK) s = rn_st_write_bf16(out_path, e, (const uint16_t *const *)h, kept, keys, vals, nm, err);
    free(keys), free(vals);
    for (size_t i = 0; i < n && h && f; i++) free(h[i]), free(f[i]);
    free(e), free(h), free(f);
    rn_st_close(st);
    return s;
}
