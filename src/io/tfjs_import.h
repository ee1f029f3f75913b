/* tfjs_import.h - convert Keras' ResNet-50 (TensorFlow.js layers model) to our safetensors. */
#ifndef RN_TFJS_IMPORT_H
#define RN_TFJS_IMPORT_H

#include "resnet.h"

/* Reads model_json (and the shards listed in its weightsManifest, relative to its folder),
 * maps Keras names to torchvision's (conv1.weight, bn1.*, layer1.0.conv1.weight,
 * layer1.0.downsample.0.weight, ..., fc.weight, fc.bias), converts conv kernels HWIO -> OIHW
 * and the fc kernel (in,out) -> (out,in), keeps Keras conv biases as "<conv>.bias", and writes
 * out_path atomically with metadata: arch=resnet50, variant=v1|v1.5, normalization=caffe|torch,
 * bn_eps=<eps from model.json>, source=<description>. */
resnet_status rn_import_tfjs(const char *model_json, const char *out_path, resnet_variant variant,
                             resnet_norm norm, resnet_error *err);

#endif
