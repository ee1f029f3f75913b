/* resnet.h - ResNet-50 image classification in plain C.
 *
 * A small library: load a weight file once, then classify photos from as many
 * threads as you like, each with its own session.
 *
 *     resnet_error err;
 *     resnet_model *model;
 *     if (resnet_model_load("resnet50.safetensors", NULL, &model, &err) != RESNET_OK) {
 *         fprintf(stderr, "%s\n", err.message);
 *         return 1;
 *     }
 *     resnet_session *s;
 *     resnet_session_create(model, 2, 1, &s, &err);      // 2 threads, batch up to 1
 *     resnet_prediction top[5];
 *     if (resnet_classify_file(s, "cat.jpg", 5, top, &err) == RESNET_OK)
 *         printf("%s %.3f\n", resnet_class_name(top[0].index), top[0].prob);
 *     resnet_session_free(s);
 *     resnet_model_free(model);
 *
 * Conventions
 * - Every fallible call returns a resnet_status and, when given a non-NULL
 *   resnet_error, fills it with a one-line message naming the file and problem.
 * - There is no global mutable state. A loaded model is read-only and may be
 *   shared by any number of threads; a session (activations, scratch, worker
 *   threads) belongs to one thread at a time.
 * - Tensors passed in and out are float32. An input image tensor is 3x224x224,
 *   channel-major (CHW), already normalised as resnet_model_norm() says.
 */
#ifndef RESNET_H
#define RESNET_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RESNET_API __attribute__((visibility("default")))
#else
#define RESNET_API
#endif

#define RESNET_VERSION "0.1.0"
#define RESNET_INPUT_SIZE 224      /* the network sees 224x224 pixels */
#define RESNET_NUM_CLASSES 1000    /* ImageNet-1k */
#define RESNET_FEATURE_DIM 2048    /* pooled features before the fc layer */

typedef enum resnet_status {
    RESNET_OK = 0,
    RESNET_E_ARG = 1,         /* a bad argument (NULL pointer, batch too large, ...) */
    RESNET_E_IO = 2,          /* a file could not be opened or read */
    RESNET_E_WEIGHTS = 3,     /* the weight file is malformed or does not fit ResNet-50 */
    RESNET_E_IMAGE = 4,       /* the image is not one we can decode, or is corrupt */
    RESNET_E_NOMEM = 5,       /* out of memory */
    RESNET_E_UNSUPPORTED = 6  /* valid, but not supported (e.g. a kernel path this CPU lacks) */
} resnet_status;

typedef struct resnet_error {
    resnet_status status;
    char message[512];
} resnet_error;

RESNET_API const char *resnet_status_str(resnet_status s);

/* Architecture variant: where the stride 2 of the first block of stages 2-4 sits. */
typedef enum resnet_variant {
    RESNET_V1 = 0,   /* in the first 1x1 conv (the paper, Caffe, Keras) */
    RESNET_V1_5 = 1  /* in the 3x3 conv (torchvision) */
} resnet_variant;

/* Input normalisation the weights were trained with. */
typedef enum resnet_norm {
    RESNET_NORM_CAFFE = 0, /* BGR, 0..255 minus the per-channel mean */
    RESNET_NORM_TORCH = 1  /* RGB, (x/255 - mean) / std */
} resnet_norm;

/* Which family of micro-kernels runs the convolutions. AUTO picks the best the CPU has. */
typedef enum resnet_kernels {
    RESNET_KERNELS_AUTO = 0,
    RESNET_KERNELS_C = 1,      /* portable C, any CPU */
    RESNET_KERNELS_AVX2 = 2,   /* x86-64 AVX2 + FMA */
    RESNET_KERNELS_AVX512 = 3  /* x86-64 AVX-512F */
} resnet_kernels;

RESNET_API const char *resnet_kernels_name(resnet_kernels k);
/* Parses "auto", "c", "avx2", "avx512"; returns -1 for anything else. */
RESNET_API int resnet_kernels_parse(const char *name);
/* 1 if this CPU (and OS) can run the path; AUTO and C always can. */
RESNET_API int resnet_kernels_available(resnet_kernels k);
/* One core's fused multiply-add peak on the path's instruction set, measured over about
 * `seconds` (register-only FMA chains), in GFLOP/s; 0 where unknown (the C path). */
RESNET_API double resnet_kernels_peak_gflops(resnet_kernels k, double seconds);

typedef struct resnet_load_options {
    resnet_kernels kernels; /* default AUTO */
    int direct;             /* non-zero: every convolution direct, none by Winograd F(4x4,3x3)
                             * (a little slower; the closest to the reference's arithmetic) */
} resnet_load_options;

typedef struct resnet_model resnet_model;
typedef struct resnet_session resnet_session;

/* Loads a safetensors weight file (torchvision tensor names). The file's metadata
 * says the variant, normalisation and BN eps; a file without our metadata is read
 * as torchvision's own (v1.5, torch normalisation, eps 1e-5). opts may be NULL. */
RESNET_API resnet_status resnet_model_load(const char *path, const resnet_load_options *opts,
                                           resnet_model **out, resnet_error *err);
RESNET_API void resnet_model_free(resnet_model *m);
RESNET_API resnet_variant resnet_model_variant(const resnet_model *m);
RESNET_API resnet_norm resnet_model_norm(const resnet_model *m);
RESNET_API resnet_kernels resnet_model_kernels(const resnet_model *m); /* the path in use */
RESNET_API double resnet_model_flops(const resnet_model *m); /* multiply-adds x 2, one image */

/* A session owns the activations and scratch for batches of up to max_batch images,
 * and a pool of `threads` workers (0 = one per core). Created once, reused; the
 * forward pass allocates nothing. */
RESNET_API resnet_status resnet_session_create(const resnet_model *m, int threads, int max_batch,
                                               resnet_session **out, resnet_error *err);
RESNET_API void resnet_session_free(resnet_session *s);
RESNET_API int resnet_session_threads(const resnet_session *s);
RESNET_API const resnet_model *resnet_session_model(const resnet_session *s);

/* Runs the network on n normalised images (n x 3x224x224, CHW). Writes n x 1000
 * logits, and n x 2048 pooled features when `features` is not NULL. */
RESNET_API resnet_status resnet_forward(resnet_session *s, const float *input, int n,
                                        float *logits, float *features, resnet_error *err);

/* Per-layer timing, for finding where the time goes. While profiling is on, every forward
 * pass times each layer; resnet_session_profile() gives each layer's best time (ms per
 * batch) over the passes since profiling was turned on, in network order, and returns the
 * number of layers (at most max are written). */
typedef struct resnet_layer_profile {
    char name[48];  /* "conv1", "layer2.0.conv2", "maxpool", "fc", ... */
    char shape[48]; /* "3x3/1 64->64 56x56": kernel/stride, channels, output size */
    double ms;      /* best time over the profiled passes */
    double gflop;   /* work of the layer for the whole batch */
} resnet_layer_profile;
RESNET_API void resnet_session_set_profiling(resnet_session *s, int on);
RESNET_API int resnet_session_profile(const resnet_session *s, resnet_layer_profile *out, int max);

/* Decodes a JPEG or PNG, resizes the shorter side to 256 (antialiased bilinear, as
 * PIL does), crops the centre 224x224 and normalises: out is 3x224x224 floats. */
RESNET_API resnet_status resnet_preprocess_file(const char *path, resnet_norm norm, float *out,
                                                resnet_error *err);
RESNET_API resnet_status resnet_preprocess_memory(const void *data, size_t size, const char *name,
                                                  resnet_norm norm, float *out, resnet_error *err);

typedef struct resnet_prediction {
    int index;  /* class index, 0..999 */
    float prob; /* softmax probability */
} resnet_prediction;

/* Softmax of `logits` (n values) into probs (may alias logits). */
RESNET_API void resnet_softmax(const float *logits, int n, float *probs);
/* The k largest of probs (n values), best first; ties go to the lower index. */
RESNET_API void resnet_top_k(const float *probs, int n, int k, resnet_prediction *top);

/* Preprocess + forward + softmax + top-k for one photo. k <= 1000. */
RESNET_API resnet_status resnet_classify_file(resnet_session *s, const char *path, int k,
                                              resnet_prediction *top, resnet_error *err);

/* ImageNet class names (torchvision's short names), index 0..999; NULL if out of range. */
RESNET_API const char *resnet_class_name(int index);

#ifdef __cplusplus
}
#endif
#endif /* RESNET_H */
