/* resnet.h - ResNet image classification in plain C: ResNet-50 by default, any torchvision
 * ResNet-family network (ResNet-18..152, ResNeXt, wide ResNets, your own classes) by its weights.
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
 *   resnet_error, fills it with a one-line message naming the file and problem (a control
 *   character in a name, such as a newline, is written \xNN, as the tool prints it).
 * - A call that fails leaves what it would have made NULL or zeroed (the model, session or
 *   head of *out, the resnet_image or resnet_file_list it fills), whatever the reason, even a
 *   NULL argument: the matching free function may always be called on it.
 * - There is no global state. Tensors passed in and out are float32. An input image
 *   tensor is 3xSxS (S = resnet_model_input_size(), 224 by default), channel-major (CHW),
 *   already normalised as resnet_model_norm() says. Where a comment below says 1000 classes or
 *   2048 features it means the default network's: a loaded network has resnet_model_classes()
 *   and resnet_model_feature_dim().
 *
 * Lifetimes
 * - A model must outlive every session created from it (free the sessions first), and a
 *   session every call that uses it. Results handed to a callback (resnet_file_result)
 *   are valid only during the callback. A head (resnet_head) is independent of any model.
 *
 * Threads
 * - A loaded model is read-only: any number of threads may use it at once, each through
 *   its own session (resnet_session_create, resnet_model_* getters). The recommended
 *   pattern for throughput is one session per thread.
 * - A session (activations, scratch) is used by one thread at a time: calls on the same
 *   session from two threads at once must be serialised by the caller. Sessions of one
 *   model are independent of each other.
 * - How many threads a forward pass uses: a session created with threads = 0 (the
 *   default) runs on its model's pool, one thread per core (the calling thread included;
 *   the online cores the process may run on, as taskset or a cpuset allows, at most 64),
 *   made by the first such session and shared by
 *   all of them. A pass uses the pool's threads less the other passes running on it at the
 *   same time, so N sessions on N threads never keep more threads busy than there are cores
 *   (or N, if that is more), and one session alone gets every core. threads = T > 0 gives
 *   the session a pool of T threads of its own (T - 1 workers and the caller), used whatever
 *   else runs. Results are bit-identical whatever the threads.
 * - After fork(), the child's copies of models and sessions work, but their pools' threads
 *   stayed in the parent: the child's forward passes run on the calling thread alone (the same
 *   results), and freeing them there releases their memory only.
 * - resnet_run (and resnet_run_files, built on it) adds one decoding thread for the duration
 *   of the call: the source is called on that thread, the result callback on the caller's.
 * - Functions without a model, session or head (preprocessing, softmax, class names,
 *   resnet_kernels_*) are safe from any thread.
 *
 * Versions and the ABI
 * - RESNET_VERSION_MAJOR/MINOR/PATCH describe this header; resnet_version() the library
 *   actually loaded, so a program can check that it runs with what it was built against
 *   (same MAJOR, and a MINOR at least its own).
 * - The shared library's soname is libresnet.so.MAJOR. MAJOR changes (and the soname
 *   with it) when a program built against the previous header could break: a function
 *   removed or its parameters changed, an enum value renumbered, or a struct's layout
 *   changed other than as the next point allows. MINOR adds functions, enum values and
 *   fields at the end of the size-versioned structs; a program built against an older
 *   MINOR of the same MAJOR runs unchanged. PATCH changes no declaration (fixes only).
 * - Size-versioned structs (resnet_load_options, resnet_outputs, resnet_train_options,
 *   resnet_train_report, resnet_run_options) start with `size_t size`, set by their init function from the
 *   caller's own sizeof. Always init before setting fields. The library reads (or writes)
 *   only the bytes that size covers: fields a program does not know keep their defaults,
 *   and a field added later means "as before" when zero. A program built against a newer
 *   header that sets a field this library lacks gets RESNET_E_UNSUPPORTED, not a silently
 *   ignored request.
 * - The other structs are fixed: resnet_error, resnet_prediction, resnet_view,
 *   resnet_layer_profile, resnet_image and resnet_file_list change only with MAJOR.
 *   resnet_file_result and resnet_item_result are made by the library and only read by the
 *   caller, resnet_item is made (zeroed) by the library and filled by the caller's source:
 *   each may gain fields at its end in a MINOR.
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

/* The version of this header (see "Versions and the ABI" above). The Makefile reads these
 * three lines for the soname and the pkg-config version. */
#define RESNET_VERSION_MAJOR 1
#define RESNET_VERSION_MINOR 7
#define RESNET_VERSION_PATCH 0
#define RESNET_STR_(x) #x
#define RESNET_STR(x) RESNET_STR_(x)
#define RESNET_VERSION \
    RESNET_STR(RESNET_VERSION_MAJOR) "." RESNET_STR(RESNET_VERSION_MINOR) "." RESNET_STR(RESNET_VERSION_PATCH)
/* One number, ordered as the versions are: 10000 * MAJOR + 100 * MINOR + PATCH. */
#define RESNET_VERSION_NUMBER (RESNET_VERSION_MAJOR * 10000 + RESNET_VERSION_MINOR * 100 + RESNET_VERSION_PATCH)
/* ImageNet ResNet-50's shapes, the default weights'. A loaded network says its own:
 * resnet_model_classes(), resnet_model_feature_dim(), resnet_model_input_size(). */
#define RESNET_INPUT_SIZE 224      /* the default crop: 224x224 pixels */
#define RESNET_NUM_CLASSES 1000    /* ImageNet-1k */
#define RESNET_FEATURE_DIM 2048    /* ResNet-50's pooled features before the fc layer */

typedef enum resnet_status {
    RESNET_OK = 0,
    RESNET_E_ARG = 1,         /* a bad argument (NULL pointer, batch too large, ...) */
    RESNET_E_IO = 2,          /* a file could not be opened or read */
    RESNET_E_WEIGHTS = 3,     /* the weight file is malformed or not a network this library runs */
    RESNET_E_IMAGE = 4,       /* the image is not one we can decode, or is corrupt */
    RESNET_E_NOMEM = 5,       /* out of memory */
    RESNET_E_UNSUPPORTED = 6  /* valid, but not supported (e.g. a kernel path this CPU lacks) */
} resnet_status;

typedef struct resnet_error {
    resnet_status status;
    char message[512]; /* longer messages lose the middle of their longest path to "...",
                          so the cause at the end is kept */
} resnet_error;

RESNET_API const char *resnet_status_str(resnet_status s);

/* The version of the library running this call, as RESNET_VERSION_NUMBER was when it was
 * built; `str` (may be NULL) gets its RESNET_VERSION string. Compare with the header's:
 *     if (resnet_version(NULL) / 10000 != RESNET_VERSION_MAJOR ||
 *         resnet_version(NULL) < RESNET_VERSION_NUMBER)
 *         ... this program was built against a newer (or another MAJOR's) header */
RESNET_API int resnet_version(const char **str);

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

/* Size-versioned (see "Versions and the ABI"):
 *     resnet_load_options o;
 *     resnet_load_options_init(&o);
 *     o.kernels = RESNET_KERNELS_C; */
typedef struct resnet_load_options {
    size_t size;            /* sizeof(resnet_load_options), set by resnet_load_options_init */
    resnet_kernels kernels; /* default AUTO */
    int direct;             /* non-zero: every convolution direct, none by Winograd F(4x4,3x3)
                             * (a little slower; the closest to the reference's arithmetic) */
    /* Since 1.3: */
    int input_size;         /* the crop the network sees, 32..4096; 0: the file's metadata
                             * "input_size", else 224. Photos are resized so that their shorter
                             * side is input_size * 256 / 224, then centre-cropped, as
                             * torchvision's eval transform at that size. */
    int output_stride;      /* 32, 16 or 8; 0: the file's metadata "output_stride", else 32. 16 or 8:
                             * stage 4 (16) or stages 3 and 4 (8)
                             * dilated instead of strided, torchvision's replace_stride_with_dilation
                             * (bottleneck networks only): larger stage maps for a backbone */
    const char *labels;     /* a text file of class names, one a line, as many as the network has
                             * classes; NULL: the file's "labels" metadata, else ImageNet's names
                             * for 1000 classes, else "class N" */
    int precision;          /* a resnet_precision: RESNET_PRECISION_BF16 converts an fp32 file to
                             * bf16 as it loads; FP32 (default): as the file says */
    /* Since 1.5: */
    int wide_winograd;      /* non-zero: Winograd on the wider 3x3 convolutions too (F(4x4,3x3) up
                             * to 256 channels, F(2x2,3x3) up to 512: ResNet-50's layer3 and
                             * layer4), trading memory for speed: ResNet-50 about 7% faster in
                             * fp32 (9% in bf16) for 1.4x the memory (fp32: 195 MB against 143).
                             * Default 0: within 1.5x the weight file. No effect on int8
                             * files, nor with `direct`. */
} resnet_load_options;

/* Zeroes the first `size` bytes of opts and sets the defaults of the fields they hold. Call it
 * through resnet_load_options_init, which passes the caller's sizeof. */
RESNET_API void resnet_load_options_init_size(resnet_load_options *opts, size_t size);
static inline void resnet_load_options_init(resnet_load_options *opts) {
    resnet_load_options_init_size(opts, sizeof *opts);
}

typedef struct resnet_model resnet_model;
typedef struct resnet_session resnet_session;

/* Loads a safetensors weight file holding a torchvision ResNet-family state_dict, as
 * safetensors.torch.save_file(model.state_dict(), path) writes it: the architecture is read from
 * the tensor names and shapes (basic or bottleneck blocks, blocks per stage, widths, groups,
 * classes): resnet18/34/50/101/152, resnext50_32x4d, resnext101_32x8d/64x4d, wide_resnet50_2/
 * 101_2, and any other widths and depths of that shape (each width a multiple of the kernels'
 * panel: 32 floats on AVX-512). A tensor the network does not use is an error, naming it. The
 * file's metadata says the variant, normalisation and BN eps; a file without our metadata is
 * read as torchvision's own (v1.5, torch normalisation, eps 1e-5). opts may be NULL (the
 * defaults); otherwise it must have been through resnet_load_options_init. */
RESNET_API resnet_status resnet_model_load(const char *path, const resnet_load_options *opts,
                                           resnet_model **out, resnet_error *err);
RESNET_API void resnet_model_free(resnet_model *m);

/* The weight file the resnet tool uses without --weights (API 1.3), written into buf (n
 * bytes): $RESNET_WEIGHTS, else resnet50-v1-caffe.safetensors in $RESNET_CACHE, else in
 * $XDG_CACHE_HOME/resnet, else in ~/.cache/resnet (what `resnet fetch` makes). The file
 * need not exist: resnet_model_load then says so. RESNET_E_ARG when the path does not fit. */
RESNET_API resnet_status resnet_default_weights(char *buf, size_t n, resnet_error *err);
RESNET_API resnet_variant resnet_model_variant(const resnet_model *m);
RESNET_API resnet_norm resnet_model_norm(const resnet_model *m);
RESNET_API resnet_kernels resnet_model_kernels(const resnet_model *m); /* the path in use */
RESNET_API double resnet_model_flops(const resnet_model *m); /* multiply-adds x 2, one image */


/* Writes a copy of the weight file `in` to `out` (atomically) with the class names of the text
 * file `labels` (one a line, as many as the network has classes) in its "labels" metadata, which
 * resnet_model_load then reads; every tensor and other metadata unchanged. `out` may be `in`,
 * never `labels` (RESNET_E_ARG). `resnet label`. Since 1.3. */
RESNET_API resnet_status resnet_label_file(const char *in, const char *labels, const char *out, resnet_error *err);

/* Writes the network of the weight file `weights` as an ONNX graph (fp32: Conv with batch norm
 * folded, Relu, Add, MaxPool, GlobalAveragePool, Flatten, Gemm; opset 11..17) that ONNX
 * Runtime and other runtimes run with this library's logits. Input "input", N x 3 x S x S,
 * normalised as resnet_model_norm() says; output "logits", N x classes (a backbone's:
 * "features", N x feature_dim). opts (may be NULL) gives
 * the input size and output stride, and its labels, if any, replace the file's. metadata_props
 * records the normalisation ("resnet.norm") and the network's own class names, if it has any
 * (the file's or opts' labels; "resnet.labels", a JSON array of strings), for
 * resnet_import_onnx; a name that is not UTF-8 is refused (RESNET_E_ARG).
 * An int8 file is refused. Written atomically, never over `weights` or the labels file
 * (RESNET_E_ARG). `resnet export`. Since 1.3. */
RESNET_API resnet_status resnet_export_onnx(const char *weights, const resnet_load_options *opts, const char *out,
                                            int opset, resnet_error *err);

/* Converts Keras' ResNet-50 as a TensorFlow.js layers model (model_json and the shards its
 * weightsManifest lists, relative to its folder) to a safetensors weight file for
 * resnet_model_load: Keras names mapped to torchvision's (conv1.weight, bn1.*,
 * layer1.0.conv1.weight, ..., fc.weight, fc.bias), conv kernels HWIO -> OIHW, the fc kernel
 * (in,out) -> (out,in), Keras conv biases kept as "<conv>.bias". out_path is written
 * atomically (a temporary renamed into place) with metadata arch=resnet50, variant (v1 or
 * v1.5), normalization (caffe or torch), bn_eps (from model_json) and source. `resnet import`. */
RESNET_API resnet_status resnet_import_tfjs(const char *model_json, const char *out_path, resnet_variant variant,
                                            resnet_norm norm, resnet_error *err);

/* resnet_import_onnx's norm for the normalisation the file records (metadata_props
 * "resnet.norm": "caffe" or "torch", written by resnet_export_onnx), torch when it records
 * none; any other value there is refused. Since 1.6. */
#define RESNET_NORM_FILE ((resnet_norm)-1)

/* Converts what torch.onnx.export writes for a torchvision ResNet-family network (resnet18 to
 * 152, ResNeXt, wide ResNets; opsets 11 to 17; batch norms folded into the convolutions or
 * not; initializers inline or in external data files beside the model) to a safetensors file
 * with torchvision's state_dict names, for resnet_model_load. The graph is recognised node by
 * node: one that is not such a ResNet is refused with one line naming the first node that does
 * not fit. Metadata: variant (v1 or v1.5, read from where the bottlenecks stride),
 * normalization (norm, or the file's with RESNET_NORM_FILE), bn_eps, and labels (a JSON array) from labels_path (one name a line)
 * when not NULL, else the names resnet_export_onnx recorded (metadata_props "resnet.labels"),
 * refused (RESNET_E_WEIGHTS) when they are not a JSON array of as many names as the network has
 * classes; a graph without them has none, as before. out_path is written atomically, never over the model or labels_path
 * (RESNET_E_ARG). `resnet import MODEL.onnx`. */
RESNET_API resnet_status resnet_import_onnx(const char *model_onnx, const char *out_path, resnet_norm norm,
                                            const char *labels_path, resnet_error *err);

/* What a weight file holds: fp32, or int8 (made by `resnet quantize`: u8 activations x s8
 * weights in the bottleneck convolutions, the stem and the fc stored in fp32; the stem is
 * quantized when the file is loaded and runs in int8 too), or bf16 (`resnet convert
 * --precision bf16`; or an fp32 file loaded with resnet_load_options.precision = BF16). The
 * file says which. A bf16 model multiplies bf16 weights by bf16 activations and sums in fp32
 * in its convolutions, Winograd's included (vdpbf16ps where the CPU has AVX512-BF16; elsewhere
 * the fp32 kernels on weights rounded to bf16, Winograd fp32); the stem and fc stay fp32. */
typedef enum resnet_precision {
    RESNET_PRECISION_FP32 = 0,
    RESNET_PRECISION_INT8 = 1,
    RESNET_PRECISION_BF16 = 2
} resnet_precision;
RESNET_API resnet_precision resnet_model_precision(const resnet_model *m);
RESNET_API const char *resnet_precision_name(resnet_precision p); /* "fp32", "int8", "bf16" */
/* Writes the fp32 weight file in_path as a file of precision p (BF16 only: the weight tensors
 * as BF16, half the size; batch norm and biases F32; metadata precision=bf16), atomically.
 * Refuses to write over in_path. `resnet convert --precision bf16`. */
RESNET_API resnet_status resnet_convert_weights(const char *in_path, const char *out_path, resnet_precision p,
                                                resnet_error *err);
/* Parses "fp32", "int8", "bf16"; returns -1 for anything else. */
RESNET_API int resnet_precision_parse(const char *name);
/* 1 if a bf16 model's convolutions run on a native bf16 dot product (AVX512-BF16, AMX) with
 * the kernel path k on this CPU; 0 where its weights are widened to fp32: no such instruction,
 * or one that does fewer FLOP/s than the CPU's FMA (vdpbf16ps on Intel Xeons without AMX;
 * measured once per process). */
RESNET_API int resnet_kernels_bf16_native(resnet_kernels k);
/* The native bf16 kernel path k runs on this CPU: "amx-bf16" (AMX tiles, Sapphire Rapids and
 * later), "avx512bf16" (vdpbf16ps); NULL where its weights are widened to fp32. Since 1.4. */
RESNET_API const char *resnet_kernels_bf16_name(resnet_kernels k);
/* One core's bf16 dot-product peak (vdpbf16ps, GFLOP/s) on path k, measured over about
 * `seconds`; 0 where the path has no native bf16. */
RESNET_API double resnet_kernels_bf16_peak_gflops(resnet_kernels k, double seconds);
/* An int8 model's micro-kernel path ("amx-int8", "avx512vnni", "avxvnni", "avx2", "c"); NULL
 * for fp32. */
RESNET_API const char *resnet_model_int8_kernels(const resnet_model *m);
/* One core's int8 peak on that path (GOP/s, a multiply-add = 2 ops), measured over about
 * `seconds` as resnet_kernels_peak_gflops does; 0 for fp32 models and the C path. */
RESNET_API double resnet_model_int8_peak_gops(const resnet_model *m, double seconds);

/* What was loaded (since 1.3). These getters, and those above, answer a NULL model with 0,
 * NULL or a zeroed record. */
RESNET_API int resnet_model_classes(const resnet_model *m);     /* the fc's outputs; 0: a backbone */
RESNET_API int resnet_model_feature_dim(const resnet_model *m); /* the pooled features */
RESNET_API int resnet_model_input_size(const resnet_model *m);  /* the crop's side, pixels */
/* The last stage's map (7x7 for a 224 crop at output stride 32). */
RESNET_API void resnet_model_map_size(const resnet_model *m, int *height, int *width);
/* Stage 1..4's (layer1..layer4) output for one image: channels, height, width. */
RESNET_API resnet_status resnet_model_stage_shape(const resnet_model *m, int stage, int *channels, int *height,
                                                  int *width, resnet_error *err);
/* Class index's name: the labels given at load or in the file, ImageNet's for 1000 classes
 * without labels; NULL otherwise or out of range. resnet_model_class_label never returns NULL
 * for a valid index: "class N" (written into buf) where there is no name. */
RESNET_API const char *resnet_model_class_name(const resnet_model *m, int index);
RESNET_API const char *resnet_model_class_label(const resnet_model *m, int index, char *buf, size_t size);
/* The weight file's metadata (its safetensors "__metadata__") under key, as the file wrote it
 * (e.g. "source", "calibration", "input_size"); NULL where the file has no such key. Valid
 * while the model lives. The model keeps values of at most RESNET_METADATA_MAX_VALUE bytes,
 * in file order while their keys and values come to at most RESNET_METADATA_MAX_TOTAL bytes
 * in all; one it does not keep (a long "labels" list, say: resnet_model_class_name has those)
 * answers NULL too. Since 1.7. */
#define RESNET_METADATA_MAX_VALUE 4096
#define RESNET_METADATA_MAX_TOTAL 16384
RESNET_API const char *resnet_model_metadata(const resnet_model *m, const char *key);

typedef enum resnet_block { RESNET_BLOCK_BASIC = 0, RESNET_BLOCK_BOTTLENECK = 1 } resnet_block;

/* A fixed struct (filled whole by resnet_model_info). */
typedef struct resnet_info {
    char arch[48];          /* "resnet50", "resnext50_32x4d", "wide_resnet50_2", or
                               "resnetN-basic-custom" for widths no constructor makes */
    int depth;              /* 18, 34, 50, 101, 152, ... (weighted layers) */
    resnet_block block;
    int blocks[4];          /* blocks per stage */
    int widths[4];          /* a block's inner width per stage (the 3x3s' channels) */
    int groups;             /* of the 3x3s (ResNeXt: 32 or 64) */
    int classes, feature_dim, input_size, output_stride;
    resnet_precision precision;
    resnet_variant variant;
    resnet_norm norm;
    int labels;             /* 1: class names given; 2: ImageNet's; 0: "class N" */
    int layers;             /* rows of the forward pass (resnet_session_profile's count) */
    int reserved[8];
} resnet_info;
RESNET_API void resnet_model_info(const resnet_model *m, resnet_info *info);

/* A session owns the activations and scratch for batches of up to max_batch images.
 * threads = 0 (the default): the model's shared pool, one thread per core, shared with the
 * model's other sessions so that one session per thread does not oversubscribe the cores;
 * threads > 0: a pool of that many threads of its own (see "Threads" above). Created once,
 * reused; the forward pass allocates nothing. The model must outlive the session. */
RESNET_API resnet_status resnet_session_create(const resnet_model *m, int threads, int max_batch,
                                               resnet_session **out, resnet_error *err);
RESNET_API void resnet_session_free(resnet_session *s);
/* The threads a forward pass of this session may use (its pool's size, the caller included). */
/* These getters, and the session's other getters and setters below, answer a NULL session with
 * 0, NULL or nothing done. */
RESNET_API int resnet_session_threads(const resnet_session *s);
RESNET_API const resnet_model *resnet_session_model(const resnet_session *s);

/* Runs the network on n normalised images (n x 3xSxS, CHW; S its input size). Writes n x
 * classes logits, and n x feature_dim pooled features when `features` is not NULL. */
RESNET_API resnet_status resnet_forward(resnet_session *s, const float *input, int n,
                                        float *logits, float *features, resnet_error *err);

/* Per-layer timing, for finding where the time goes. While profiling is on, every forward
 * pass times each layer; resnet_session_profile() gives each layer's best time (ms per
 * batch) over the passes since profiling was turned on, in network order, and returns the
 * number of layers (at most max are written; out NULL: none, the count alone). */
typedef struct resnet_layer_profile {
    char name[48];  /* "conv1", "layer2.0.conv2", "maxpool", "fc", ... */
    char shape[48]; /* "3x3/1 64->64 56x56": kernel/stride, channels, output size */
    char method[32]; /* how it ran: "1x1 direct", "3x3 Winograd F(4x4,3x3)", "7x7 im2col", "maxpool" */
    double ms;      /* best time over the profiled passes */
    double gflop;   /* work of the layer for the whole batch */
} resnet_layer_profile;
RESNET_API void resnet_session_set_profiling(resnet_session *s, int on);
RESNET_API int resnet_session_profile(const resnet_session *s, resnet_layer_profile *out, int max);
/* The time a profiled pass spends outside its layers (the input's change of layout, the
 * outputs copied out, the calls between layers), median over the last 256 profiled passes,
 * ms; -1 when no pass was profiled. Since 1.2. */
RESNET_API double resnet_session_profile_between(const resnet_session *s);

/* Decodes a photo (JPEG, PNG, WebP, TIFF, GIF's first frame, BMP or PNM, told by its first
 * bytes, each to RGB as PIL's Image.open(f).convert("RGB") does), resizes the shorter side
 * to 256 (antialiased bilinear, as PIL does), crops the centre 224x224 and normalises: out is
 * 3x224x224 floats. The EXIF orientation is not applied, as in PIL and torchvision (see
 * RESNET_IMAGE_EXIF_ORIENTATION). */
RESNET_API resnet_status resnet_preprocess_file(const char *path, resnet_norm norm, float *out,
                                                resnet_error *err);
RESNET_API resnet_status resnet_preprocess_memory(const void *data, size_t size, const char *name,
                                                  resnet_norm norm, float *out, resnet_error *err);


typedef struct resnet_prediction {
    int index;  /* class index, 0..999 */
    float prob; /* softmax probability (a one-output network's: its sigmoid) */
} resnet_prediction;

/* Softmax of `logits` (n values) into probs (may alias logits). One logit (n == 1: a binary
 * classifier, fc to 1 output) gets the logistic sigmoid instead, the probability that the
 * photo is that class; every probability of the library and the CLI is made here. */
RESNET_API void resnet_softmax(const float *logits, int n, float *probs);
/* The k largest of probs (n values), best first; ties go to the lower index. Probabilities
 * tie wherever the softmax underflowed to 0 (a confident network: logits 104 or more below
 * the best), so the classes after the first may come out in index order: rank with
 * resnet_top_k_logits when the logits are at hand. A NaN ranks below every number. */
RESNET_API void resnet_top_k(const float *probs, int n, int k, resnet_prediction *top);
/* As resnet_top_k, but where probabilities are equal the class whose logit, averaged over
 * the `views` rows of `logits` (views x n: the rows whose softmaxes were averaged into probs),
 * is larger ranks first, then the lower index: the order follows the logits where the softmax
 * underflowed. logits NULL or views < 1: as resnet_top_k. Since 1.6. */
RESNET_API void resnet_top_k_logits(const float *probs, const float *logits, int views, int n, int k,
                                    resnet_prediction *top);

/* Preprocess + forward + softmax + top-k for one photo (at the model's input size). k <= classes. */
RESNET_API resnet_status resnet_classify_file(resnet_session *s, const char *path, int k,
                                              resnet_prediction *top, resnet_error *err);

/* ImageNet class names (torchvision's short names), index 0..999; NULL if out of range. */
RESNET_API const char *resnet_class_name(int index);
/* The class's WordNet id ("n01440764" for 0, the names of ImageNet's folders); NULL if out of
 * range. */
RESNET_API const char *resnet_class_wnid(int index);

/* ---- test-time augmentation ---------------------------------------------------------
 * Classify several views of one photo (other crops, scales, mirror images) and average their
 * softmax probabilities: a little more accurate than the single centre crop, at the cost of
 * one forward pass per view. A view is a 224x224 crop of the photo resized (PIL-exact
 * bilinear, as the plain pass) so that its shorter side is `resize` pixels. */
typedef enum resnet_crop {
    RESNET_CROP_CENTER = 0,
    RESNET_CROP_TOP_LEFT = 1,
    RESNET_CROP_TOP_RIGHT = 2,
    RESNET_CROP_BOTTOM_LEFT = 3,
    RESNET_CROP_BOTTOM_RIGHT = 4
} resnet_crop;

typedef struct resnet_view {
    int resize;       /* the shorter side after resizing, 224..RESNET_VIEW_MAX_RESIZE (256: the plain pass) */
    resnet_crop crop; /* where the 224x224 window sits in the resized photo */
    int flip;         /* non-zero: the window mirrored left-right */
} resnet_view;

#define RESNET_VIEW_MAX_RESIZE 1024

typedef enum resnet_tta {
    RESNET_TTA_NONE = 0,       /* 1 view: the reference pipeline (resize 256, centre crop) */
    RESNET_TTA_FLIP = 1,       /* 2 views: that crop and its mirror image */
    RESNET_TTA_10CROP = 2,     /* 10 views: centre and four corners at resize 256, and mirrors */
    RESNET_TTA_MULTISCALE = 3  /* 6 views: centre crops at resize 256, 224 and 320, and mirrors
                                * (chosen on half of val1300, checked on the other: docs/performance.md) */
} resnet_tta;

#define RESNET_TTA_MAX_VIEWS 16 /* no mode has more views than this */

/* "none", "flip", "10crop", "multiscale"; NULL for an unknown mode. */
RESNET_API const char *resnet_tta_name(resnet_tta mode);
/* The inverse of resnet_tta_name; -1 for anything else. */
RESNET_API int resnet_tta_parse(const char *name);
/* Writes the views of `mode` into views[RESNET_TTA_MAX_VIEWS] (may be NULL) and returns how
 * many there are; 0 for an unknown mode. The first view is always the plain pass. */
RESNET_API int resnet_tta_views(resnet_tta mode, resnet_view *views);

/* Decodes a photo once and makes n views of it: out is n x 3x224x224 floats, normalised as
 * `norm` says. The view {256, CENTER, 0} is bit-identical with resnet_preprocess_file. */
RESNET_API resnet_status resnet_preprocess_views_file(const char *path, resnet_norm norm,
                                                      const resnet_view *views, int n, float *out,
                                                      resnet_error *err);
RESNET_API resnet_status resnet_preprocess_views_memory(const void *data, size_t size, const char *name,
                                                        resnet_norm norm, const resnet_view *views, int n,
                                                        float *out, resnet_error *err);
/* resnet_preprocess_views_file and _memory for a loaded network (since 1.3): its normalisation and input size N (the shorter
 * side resized to int(N * 256 / 224), the centre N x N), RESNET_IMAGE_* flags; views (n of
 * them, resnet_tta_views; NULL: the plain view alone) are given for a 224 crop and scaled by
 * N / 224. out is n x 3 x N x N floats (resnet_model_input_size). */
RESNET_API resnet_status resnet_model_preprocess_file(const resnet_model *m, const char *path, unsigned flags,
                                                      const resnet_view *views, int n, float *out,
                                                      resnet_error *err);
RESNET_API resnet_status resnet_model_preprocess_memory(const resnet_model *m, const void *data, size_t size,
                                                        const char *name, unsigned flags, const resnet_view *views,
                                                        int n, float *out, resnet_error *err);

/* The mean of the softmax of n rows of 1000 logits, into probs (1000; may alias the first row).
 * ImageNet's 1000 classes only: for a loaded network use resnet_tta_average_n. */
RESNET_API void resnet_tta_average(const float *logits, int n, float *probs);
/* The same for any number of classes (since 1.7): n rows of `classes` logits (a network's
 * resnet_model_classes()), their softmaxes' mean into probs (classes values; may alias the
 * first row). n or classes below 1: probs is left as it is. */
RESNET_API void resnet_tta_average_n(const float *logits, int n, int classes, float *probs);

/* resnet_classify_file with the views of `mode`, run through the network as one batch: the
 * session's max_batch must be at least resnet_tta_views(mode, NULL). */
RESNET_API resnet_status resnet_classify_file_tta(resnet_session *s, const char *path, resnet_tta mode,
                                                  int k, resnet_prediction *top, resnet_error *err);

/* ---- beyond one label: feature maps, class activation maps, embeddings, folders ------
 *
 * ResNet-50 ends in a global average pool and one linear layer, so the network can also be
 * used as a feature extractor (the 2048-d pooled features), explained (class activation
 * maps: where in the photo the evidence for a class lies) and extended (a new final layer
 * trained on your own classes, see resnet_head below). */

#define RESNET_MAP_SIZE 7 /* the last feature map is 7x7 (x 2048) for a 224x224 input */
#define RESNET_MAP_CELLS (RESNET_MAP_SIZE * RESNET_MAP_SIZE)

/* What resnet_forward_ex writes: each pointer may be NULL (that output is skipped), and
 * holds n images one after the other. Size-versioned: resnet_outputs_init, then set the
 * pointers wanted. */
typedef struct resnet_outputs {
    size_t size;        /* sizeof(resnet_outputs), set by resnet_outputs_init */
    float *logits;      /* n x 1000 */
    float *features;    /* n x 2048: the average of feature_map over its 49 cells */
    float *feature_map; /* n x 7 x 7 x 2048: the last stage's output (after its ReLU), rows
                           top to bottom, channel fastest; cell (y, x) is computed from the
                           whole crop but centred on crop pixels 32y+16, 32x+16 */
    float *class_maps;  /* n x 1000 x 7 x 7, class-major: the class activation maps
                           map[c][y][x] = sum_k fc.weight[c][k] * feature_map[y][x][k];
                           the mean of a class's 49 values plus fc.bias[c] is its logit */
    /* Since 1.3: stage s's output (layer1..layer4, after its ReLU), n x C x H x W (NCHW, as
     * torchvision's), resnet_model_stage_shape; a backbone's features for detection or
     * segmentation. Asking only for stages stops the pass after the last one asked. */
    float *stages[4];
} resnet_outputs;
/* The shapes above are ImageNet ResNet-50's at 224: a loaded network's are its own, classes
 * (resnet_model_classes), feature_dim and the map's cells (resnet_model_map_size). */

/* Zeroes the first `size` bytes of out (every output skipped); use resnet_outputs_init. */
RESNET_API void resnet_outputs_init_size(resnet_outputs *out, size_t size);
static inline void resnet_outputs_init(resnet_outputs *out) { resnet_outputs_init_size(out, sizeof *out); }

/* resnet_forward with more outputs. resnet_forward(s, in, n, l, f, e) is this with
 * logits = l and features = f. Class maps cost ~2% of a forward pass. Outputs are as computed:
 * with weights too large for float on some input they can be inf or NaN (weights for which
 * that is certain are refused at load); resnet_classify_file(_tta), resnet_run_files and
 * resnet_head_predict turn that into the photo's error (RESNET_E_WEIGHTS), never a result; as
 * they do with 1000 logits all equal (rounding swallowed every difference between classes). */
RESNET_API resnet_status resnet_forward_ex(resnet_session *s, const float *input, int n,
                                           const resnet_outputs *out, resnet_error *err);
/* Whether what resnet_forward_ex wrote into out for n images is an answer: RESNET_OK, or
 * RESNET_E_WEIGHTS with the reason when an output is inf or NaN or an image's 1000 logits
 * are all equal (the check resnet_classify_file and the others make). */
RESNET_API resnet_status resnet_outputs_check(const resnet_outputs *out, int n, resnet_error *err);
/* The same for any network: its own numbers of classes, features and map cells (since 1.3).
 * resnet_outputs_check assumes ResNet-50's 1000, 2048 and 49. */
RESNET_API resnet_status resnet_model_outputs_check(const resnet_model *m, const resnet_outputs *out, int n,
                                                    resnet_error *err);
/* The batch size the session was created for. */
RESNET_API int resnet_session_max_batch(const resnet_session *s);
/* A 64-bit hash of the loaded weights (normalisation, precision, the folded biases of the
 * first and last layers and the fc's, a sample of every tensor's data, input size, output
 * stride): equal for the same weight file, different for others.
 * For keying caches of features; not a checksum of the file. */
RESNET_API unsigned long long resnet_model_fingerprint(const resnet_model *m);

/* A decoded photo: 8-bit RGB, rows top to bottom, no padding. */
typedef struct resnet_image {
    int width, height;
    unsigned char *rgb; /* width x height x 3 bytes */
} resnet_image;

/* Decodes a photo as resnet_preprocess_file does (to RGB, at its own size). */
RESNET_API resnet_status resnet_image_load(const char *path, resnet_image *out, resnet_error *err);

/* How photos are read. RESNET_IMAGE_EXIF_ORIENTATION: turn the photo upright as its EXIF
 * orientation tag (1..8) says, as PIL's ImageOps.exif_transpose does (the tag of a JPEG's
 * Exif segment, a PNG's eXIf chunk, a WebP's EXIF chunk, a TIFF's first directory). Off by
 * default: PIL's open() and torchvision ignore the tag, and so the reference pipeline does
 * (but for TIFF: PIL 9.4 turns a TIFF upright as it loads it, as this flag does). */
enum { RESNET_IMAGE_EXIF_ORIENTATION = 1 };
/* resnet_image_load with RESNET_IMAGE_* flags (0: the same as resnet_image_load). Every call
 * taking RESNET_IMAGE_* flags refuses bits this library does not know (a newer header's flag,
 * or garbage) with RESNET_E_ARG, naming them, rather than reading the photo another way. */
RESNET_API resnet_status resnet_image_load_ex(const char *path, unsigned flags, resnet_image *out,
                                              resnet_error *err);
/* resnet_image_load_ex on a photo file's bytes already in memory; name is for messages. */
RESNET_API resnet_status resnet_image_load_memory(const void *data, size_t size, const char *name, unsigned flags,
                                                  resnet_image *out, resnet_error *err);
/* The RESNET_IMAGE_* flags for every photo the session reads from a file:
 * resnet_classify_file, resnet_classify_file_tta, resnet_run and resnet_run_files. 0 when created.
 * Unknown bits are kept, and those calls then fail with RESNET_E_ARG (this one returns nothing). */
RESNET_API void resnet_session_set_image_flags(resnet_session *s, unsigned flags);
RESNET_API void resnet_image_free(resnet_image *img); /* and zeroes *img */
/* Writes an 8-bit RGB PNG (with a "Software" text chunk naming this library). Atomic: the
 * data goes to a temporary file beside path (path.tmp.<pid>.<n>.resnet), fsynced and renamed over path
 * only when complete, so on failure path is untouched and the temporary removed; one left
 * by a process killed outright is removed by the next write of path. */
RESNET_API resnet_status resnet_image_write_png(const resnet_image *img, const char *path,
                                                resnet_error *err);
/* The same PNG in memory (API 1.3): *data (free it with free()) and *size. */
RESNET_API resnet_status resnet_image_encode_png(const resnet_image *img, unsigned char **data, size_t *size,
                                                 resnet_error *err);
/* resnet_preprocess_file on an image already decoded. */
RESNET_API resnet_status resnet_preprocess_image(const resnet_image *img, resnet_norm norm, float *out,
                                                 resnet_error *err);
/* The same at a loaded network's normalisation and input size (3 x N x N; since 1.3). */
RESNET_API resnet_status resnet_model_preprocess_image(const resnet_model *m, const resnet_image *img, float *out,
                                                       resnet_error *err);
/* resnet_model_preprocess_memory's views (n of them; NULL: the plain view alone) of a photo
 * already decoded (since 1.4), bit-identical with it: a caller that decodes first can look at
 * the photo's size (a pixel budget, say) before it pays for the views. */
RESNET_API resnet_status resnet_model_preprocess_image_views(const resnet_model *m, const resnet_image *img,
                                                             const resnet_view *views, int n, float *out,
                                                             resnet_error *err);
/* The part of a width x height photo the network sees: the centre 224x224 of the photo
 * resized so that its shorter side is 256. box = {left, top, right, bottom} in photo pixel
 * units (edges, not centres: a 256x256 photo gives {16, 16, 240, 240}); all zeros for a size
 * that is not positive or too elongated to preprocess. */
RESNET_API void resnet_crop_box(int width, int height, double box[4]);

/* Lays one 7x7 class map (class_maps + class * 49) over a width x height photo: upsampled
 * bilinearly (values at cell centres, clamped at the edges) over the crop box, scaled so
 * that the map's minimum is 0 and its maximum 1 (all 0 if the map is flat). heat gets
 * width x height values, row-major; pixels outside the crop box get -1 (the network did
 * not see them). */
RESNET_API resnet_status resnet_cam_heatmap(const float *map, int width, int height, float *heat,
                                            resnet_error *err);
/* The same for a loaded network (since 1.6): its own map (resnet_model_map_size: 5x5 for a 160
 * crop, 14x14 at output stride 16) over its own crop (resnet_model_input_size), the part of the
 * photo resnet_model_preprocess_image takes. */
RESNET_API resnet_status resnet_model_cam_heatmap(const resnet_model *m, const float *map, int width, int height,
                                                  float *heat, resnet_error *err);
/* Colours a heat map (dark blue 0 -> cyan -> yellow -> red 1, like "jet") and blends it over
 * the photo with the given opacity (0..1; 0.5 is a good start). Pixels with heat < 0 are
 * shown in grey, dimmed; an inf or NaN is refused (RESNET_E_ARG). out is a new image the size
 * of photo (free it with resnet_image_free). */
RESNET_API resnet_status resnet_cam_overlay(const resnet_image *photo, const float *heat, float opacity,
                                            resnet_image *out, resnet_error *err);

/* Scales v (n values) to unit Euclidean length; a zero vector stays zero. */
RESNET_API void resnet_l2_normalize(float *v, int n);
/* The cosine of the angle between a and b (n values); 0 if either is zero. */
RESNET_API float resnet_cosine(const float *a, const float *b, int n);

/* The photos under a folder, recursively: regular files (symbolic links followed) whose
 * name ends in .jpg, .jpeg, .png, .webp, .tif, .tiff, .gif, .bmp, .pbm, .pgm, .ppm or .pnm
 * (any case) or whose first bytes are the signature of one of those formats. Names starting with '.' are skipped (hidden files, macOS "._" files), as are
 * folders already being walked (link loops). Paths are dir + "/" + relative path, sorted
 * byte-wise. A subfolder that cannot be read does not stop the walk: it is listed in
 * `problems` (one message each), as is any entry that cannot be looked at (a link loop, no
 * permission) and a dangling link named like a photo. Trees deeper than PATH_MAX are walked
 * too: their photos are listed, and reading them then fails with "File name too long". */
typedef struct resnet_file_list {
    int count;
    char **paths;
    int n_problems;
    char **problems;
} resnet_file_list;

RESNET_API resnet_status resnet_list_images(const char *dir, resnet_file_list *out, resnet_error *err);
RESNET_API void resnet_file_list_free(resnet_file_list *list); /* and zeroes *list */

/* One photo's result in resnet_run_files; the pointers are valid only during the callback. */
typedef struct resnet_file_result {
    int index;              /* its position in paths */
    const char *path;
    resnet_status status;   /* RESNET_OK, or why the photo could not be read or gave no
                               finite answer (RESNET_E_WEIGHTS) */
    const char *message;    /* the one-line error when status != RESNET_OK, else "" */
    const float *logits;    /* classes values if asked for and status is OK, else NULL */
    const float *features;  /* feature_dim pooled features if asked for and status is OK, else NULL */
} resnet_file_result;

/* Called once per photo, in the order of paths, on the thread that called resnet_run_files.
 * Return 0 to go on, anything else to stop early. */
typedef int (*resnet_file_fn)(void *ctx, const resnet_file_result *result);

enum { RESNET_WANT_LOGITS = 1, RESNET_WANT_FEATURES = 2 };

/* Runs the network over many photos with several in flight: a decoding thread reads and
 * preprocesses the next photos while the session runs batches of up to its max_batch, so
 * decoding hides behind the forward passes. A photo that cannot be read is passed to fn with
 * its error and does not stop the run. want: RESNET_WANT_LOGITS and/or _FEATURES. Returns
 * RESNET_OK when every photo was handed to fn (or fn stopped the run), else the error that
 * stopped it (out of memory, no thread). */
RESNET_API resnet_status resnet_run_files(resnet_session *s, const char *const *paths, int n, int want,
                                          resnet_file_fn fn, void *ctx, resnet_error *err);

/* ---- the runner: many photos, decoded ahead, batched, results in order --------------
 * resnet_run pulls items (photos) from a source, decodes and preprocesses each one's views
 * on a decoding thread straight into the next batch's input while the session runs the
 * current batch, packs the views of several items into one forward pass of up to the
 * session's max_batch rows, and hands back each item's result in the order the source gave
 * them, on the calling thread. resnet_run_files is resnet_run over a list of paths.
 *
 * The source is called on the decoding thread. It fills *item and returns RESNET_SOURCE_ITEM,
 * or RESNET_SOURCE_END (no more items, ever), or RESNET_SOURCE_LATER (none ready now: the
 * runner runs the items it holds instead of waiting for more, so a lone request of a stream
 * is answered at once). may_block is non-zero when the runner holds no item: the source may
 * then wait for its next item (reading stdin, a queue); when zero it should answer at once
 * (LATER if it would have to wait). A source that returns LATER with may_block set is called
 * again after about a millisecond. Any other answer ends the run: the items already given are
 * handed to the callback, then resnet_run returns RESNET_E_ARG. After the callback asks to
 * stop, or the run fails, the source is not called again (a call already in progress is
 * waited for).
 *
 * Lifetimes: what an item points to (path, data, name, error) must stay valid until that
 * item's result has been handed to the callback (or resnet_run has returned); `user` is the
 * caller's, handed back untouched. */
typedef struct resnet_item {
    const char *path;  /* a photo file, or NULL for a photo in memory (data, size) */
    const void *data;  /* the bytes of a photo file (any format resnet_preprocess_memory reads) */
    size_t size;
    const char *name;  /* for messages and results; default: path, or "<memory>" */
    resnet_tta tta;    /* this item's views; preset to resnet_run_options.tta */
    const char *error; /* non-NULL: not read at all; handed back in its place with this
                          message and RESNET_E_IO (a folder that could not be listed, a bad
                          request line) */
    void *user;        /* the caller's, handed back in the result */
} resnet_item;

enum { RESNET_SOURCE_ITEM = 0, RESNET_SOURCE_END = 1, RESNET_SOURCE_LATER = 2 };
typedef int (*resnet_source_fn)(void *ctx, int may_block, resnet_item *item);

/* What resnet_run computes for each item (resnet_run_options.want). */
enum {
    /* RESNET_WANT_LOGITS = 1, RESNET_WANT_FEATURES = 2: declared with resnet_run_files */
    RESNET_WANT_PROBS = 4,        /* the mean of the views' softmax (resnet_tta_average) */
    RESNET_WANT_VIEW_FEATURES = 8 /* the pooled features of each view */
};

/* One item's result; the pointers are valid only during the callback. */
typedef struct resnet_item_result {
    int index;                  /* its position in the source's order, from 0 */
    const char *path;           /* the item's path, NULL for memory */
    const char *name;           /* its name in messages: item.name, else path or "<memory>" */
    void *user;                 /* item.user */
    resnet_status status;       /* RESNET_OK, or why it could not be read (RESNET_E_IO,
                                   RESNET_E_IMAGE, ...), needs more views than a batch holds
                                   (RESNET_E_ARG), or gave no finite answer (RESNET_E_WEIGHTS) */
    const char *message;        /* the one-line error when status != RESNET_OK, else "" */
    int views;                  /* its views (network rows) */
    const float *logits;        /* WANT_LOGITS: views x classes, one row per view */
    const float *probs;         /* WANT_PROBS: classes, the views' softmax averaged */
    const float *features;      /* WANT_FEATURES: feature_dim, the mean of the views' features */
    const float *view_features; /* WANT_VIEW_FEATURES: views x feature_dim */
} resnet_item_result;

/* Called once per item, in order, on the thread that called resnet_run. Return 0 to go on,
 * anything else to stop (resnet_run then returns RESNET_OK). */
typedef int (*resnet_item_fn)(void *ctx, const resnet_item_result *result);

/* Size-versioned: resnet_run_options_init, then set the fields wanted. */
typedef struct resnet_run_options {
    size_t size;    /* sizeof(resnet_run_options), set by resnet_run_options_init */
    int want;       /* RESNET_WANT_* (LOGITS, FEATURES, PROBS, VIEW_FEATURES); default
                       RESNET_WANT_PROBS. 0: no forward pass at all, only failures are found */
    resnet_tta tta; /* the views of each item unless its source says otherwise; default NONE */
    /* Called after each forward pass, on the calling thread, when not NULL: the items and
     * rows (views) it ran and the seconds it took (batch sizes, time in the network). */
    void (*on_batch)(void *ctx, int items, int rows, double seconds);
    void *batch_ctx;
} resnet_run_options;

RESNET_API void resnet_run_options_init_size(resnet_run_options *opts, size_t size);
static inline void resnet_run_options_init(resnet_run_options *opts) {
    resnet_run_options_init_size(opts, sizeof *opts);
}

/* Runs every item of `next` through the session as described above. An item's views never
 * span two forward passes: an item with more views than the session's max_batch gets
 * RESNET_E_ARG. An item that cannot be read is handed to fn with its error and does not stop
 * the run. opts may be NULL (the defaults). The session's image flags apply to every item.
 * Results are bit-identical with resnet_forward on the same preprocessed input. Returns
 * RESNET_OK when the source ended and every item was handed to fn (or fn stopped the run),
 * else the error that stopped it (out of memory, no thread, the forward pass). */
RESNET_API resnet_status resnet_run(resnet_session *s, resnet_source_fn next, void *source_ctx, resnet_item_fn fn,
                                    void *ctx, const resnet_run_options *opts, resnet_error *err);

/* ---- a new final layer for your own classes ------------------------------------------
 * Multinomial logistic regression on the frozen 2048-d pooled features: softmax
 * cross-entropy with an L2 penalty, fitted by L-BFGS on a training share of the examples,
 * stopped early when the loss on a held-out validation share stops improving (the weights of
 * the best validation loss are kept). Features are optionally L2-normalised, then
 * standardised with the training share's mean and deviation (and scaled by 1/sqrt(dim), so
 * that the penalty means the same for any dimension); that scaling is folded into
 * the saved weights, so a head is just logits = weight * x + bias on the (L2-normalised)
 * features. Saved as safetensors: tensors "weight" [classes, dim] and "bias" [classes]
 * (PyTorch's nn.Linear names), metadata "format" = "resnet-linear-head", "classes" (a JSON
 * array of names), "feature_normalization" ("l2" or "none") and how it was trained.
 * A head is read-only once made: share it between threads freely. */
typedef struct resnet_head resnet_head;

/* How to train (resnet_train_options) and what training found (resnet_train_report).
 * Both structs are size-versioned: resnet_train_options_init / resnet_train_report_init. */
typedef struct resnet_train_options {
    size_t size;           /* sizeof(resnet_train_options), set by resnet_train_options_init */
    float l2;              /* L2 penalty on the weights, for features standardised and scaled
                              to a length of about 1; default 1e-3 */
    float val_fraction;    /* share of each class held out for validation, 0..0.9; default 0.2
                              (0: no validation, no early stopping) */
    int max_iters;         /* L-BFGS iterations at most; default 500 */
    int patience;          /* stop after this many iterations without a lower validation
                              loss; default 20 */
    int l2_normalize;      /* L2-normalise each feature vector first; default 1 */
    unsigned seed;         /* for the random split; default 1 */
    const char *backbone;  /* free text saved in the file (e.g. which weights made the
                              features); may be NULL */
    /* Called after every iteration when not NULL; losses without the penalty. */
    void (*progress)(void *ctx, int iter, float train_loss, float train_acc, float val_loss,
                     float val_acc);
    void *progress_ctx;
} resnet_train_options;

typedef struct resnet_train_report {
    size_t size;                     /* sizeof(resnet_train_report), set by resnet_train_report_init */
    int n_train, n_val;
    int iters, best_iter;            /* iterations run; the one whose weights were kept */
    float train_loss, train_acc;     /* at best_iter, on the training share */
    float val_loss, val_acc;         /* at best_iter, on the validation share (0 if none) */
} resnet_train_report;

/* Zero the first `size` bytes and set the defaults of the fields they hold; use the
 * functions below, which pass the caller's sizeof. */
RESNET_API void resnet_train_options_init_size(resnet_train_options *opts, size_t size);
RESNET_API void resnet_train_report_init_size(resnet_train_report *report, size_t size);
static inline void resnet_train_options_init(resnet_train_options *opts) {
    resnet_train_options_init_size(opts, sizeof *opts);
}
static inline void resnet_train_report_init(resnet_train_report *report) {
    resnet_train_report_init_size(report, sizeof *report);
}

/* Trains a head on n examples: features n x dim, labels[i] in 0..n_classes-1, names[c] the
 * name of class c (UTF-8, saved in the file). Every class needs an example. opts and report
 * may be NULL; otherwise they must have been through their init functions. */
RESNET_API resnet_status resnet_head_train(const float *features, const int *labels, int n, int dim,
                                           int n_classes, const char *const *names,
                                           const resnet_train_options *opts, resnet_head **out,
                                           resnet_train_report *report, resnet_error *err);
RESNET_API resnet_status resnet_head_save(const resnet_head *h, const char *path, resnet_error *err);
RESNET_API resnet_status resnet_head_load(const char *path, resnet_head **out, resnet_error *err);
RESNET_API void resnet_head_free(resnet_head *h);
RESNET_API int resnet_head_classes(const resnet_head *h);
RESNET_API int resnet_head_dim(const resnet_head *h);
RESNET_API const char *resnet_head_class_name(const resnet_head *h, int index); /* NULL if out of range */
RESNET_API const char *resnet_head_backbone(const resnet_head *h); /* "" if none was saved */
/* Softmax probabilities of the head's classes for n feature vectors (n x dim, the raw pooled
 * features: the head applies its own normalisation): probs is n x classes. */
RESNET_API resnet_status resnet_head_predict(const resnet_head *h, const float *features, int n,
                                             float *probs, resnet_error *err);

#ifdef __cplusplus
}
#endif
#endif /* RESNET_H */
