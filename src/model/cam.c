/* cam.c - class activation maps and the model's fingerprint.
 *
 * ResNet-50 ends in a global average pool and the fc layer, both linear, so
 *   logit[c] = b[c] + sum_k W[c][k] * mean_p F[p][k] = b[c] + mean_p cam_c[p],
 *   cam_c[p] = sum_k W[c][k] * F[p][k],
 * the class's evidence at each of the 7x7 cells (Zhou et al., "Learning Deep Features for
 * Discriminative Localization", 2016).
 *
 * Why no unpacked copy of fc.weight: the fc layer already is a 1x1 convolution, so we run it
 * through the same driver over all 49 cells at once and subtract the bias. That reads the
 * packed weights whatever layout the micro-kernels use (and however that changes), costs no
 * 8 MB copy per model, and gives every class's map for 49x the fc's work (~2% of a pass). */
#include "model/features.h"

#include "model/resnet50.h"

void rn_class_maps(const rn_exec *ex, const rn_conv *fc, const float *fmap, int n, int hw, float *scratch,
                   void *qrows, float *out) {
    /* each cell a row (an int8 model's fc quantizes each cell as it does the pooled features) */
    rn_fc_forward(ex, fc, fmap, n * hw, scratch, qrows);
    const int cout = fc->cout;
    for (int i = 0; i < n; i++)
        for (int p = 0; p < hw; p++) {
            const float *row = scratch + ((size_t)i * hw + p) * fc->n_padded;
            float *dst = out + (size_t)i * cout * hw + p;
            for (int c = 0; c < cout; c++) dst[(size_t)c * hw] = row[c] - fc->bias[c];
        }
}

/* FNV-1a, 64-bit: tiny, and good enough to tell weight files apart (not a security hash). */
static unsigned long long fnv(unsigned long long h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

unsigned long long resnet_model_fingerprint(const resnet_model *m) {
    if (!m) return 0;
    unsigned long long h = 14695981039346656037ull;
    int tag[2] = {(int)m->variant, (int)m->norm};
    h = fnv(h, tag, sizeof tag);
    /* an int8 file keeps its source's biases: its features differ, so must its fingerprint */
    if (m->int8) h = fnv(h, "int8", 4);
    /* and two int8 files of one source (other photos, --limit or --method) differ only in
     * their activation scales: hash them, or one's cached features pass for the other's */
    if (m->int8) h = fnv(h, m->act_scale, (size_t)m->net.n * sizeof(float));
    /* so does a bf16 model's (its biases are fp32's): cached fp32 features are not its own */
    if (m->bf16) h = fnv(h, "bf16", 4);
    /* a BF16 file's weights were rounded before batch norm was folded into them, an fp32
     * file's loaded as bf16 after: the same biases, other features (docs/performance-bf16.md) */
    if (m->bf16_file) h = fnv(h, "bf16 file", 9);
    /* The file's tensors as written (the packed weights' layout depends on the kernel path,
     * which must not change the fingerprint): the folded biases below depend on the batch
     * norms alone, and two backbones of one pretrained network fine-tuned with their batch
     * norms frozen (as detection training does) differ only in their convolutions' weights. */
    h = fnv(h, &m->digest, sizeof m->digest);
    const rn_conv *stem = rn_model_stem(m), *fc = rn_model_fc(m);
    h = fnv(h, stem->bias, (size_t)stem->cout * sizeof(float));
    const rn_conv *last = &m->convs[m->net.stage_out[RN_STAGES - 1]];
    h = fnv(h, last->bias, (size_t)last->cout * sizeof(float));
    if (fc) h = fnv(h, fc->bias, (size_t)fc->cout * sizeof(float)); /* a backbone has none */
    /* the input size and output stride change the features too */
    int shape[2] = {m->net.a.input_size, m->net.a.output_stride};
    if (shape[0] != RESNET_INPUT_SIZE || shape[1] != 32) h = fnv(h, shape, sizeof shape);
    return h;
}
