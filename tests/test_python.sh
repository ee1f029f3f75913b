#!/usr/bin/env bash
# test_python.sh - the Python binding (python/resnet/) against the library and the CLI, on the
# demo photos only (tier 1: no ../shared). Needs python3 with numpy (Debian's python3-numpy,
# installed by .ci/run). The ctypes mirrors of the C structs are checked field by field
# against a C program's sizeof/offsetof of include/resnet.h, so a struct that changes in the
# header cannot be read wrongly from Python. Run by tests/run.sh (or alone from the root).
set -u
cd "$(dirname "$0")/.."
. tests/common.sh
use_python numpy

cat >"$tmp/layout.c" <<'C'
#include <stddef.h>
#include <stdio.h>
#include "resnet.h"
#define S(t) printf("%s%s: [%zu, {", first ? "" : ", ", #t, sizeof(t)); first = 0; sep = "";
#define F(t, f) printf("%s\"%s\": %zu", sep, #f, offsetof(t, f)); sep = ", ";
#define E printf("}]");
int main(void) {
    int first = 1; const char *sep = "";
    printf("{");
    S(resnet_error) F(resnet_error, status) F(resnet_error, message) E
    S(resnet_load_options) F(resnet_load_options, size) F(resnet_load_options, kernels) F(resnet_load_options, direct)
        F(resnet_load_options, input_size) F(resnet_load_options, output_stride) F(resnet_load_options, labels)
        F(resnet_load_options, precision) F(resnet_load_options, wide_winograd) E
    S(resnet_outputs) F(resnet_outputs, size) F(resnet_outputs, logits) F(resnet_outputs, features)
        F(resnet_outputs, feature_map) F(resnet_outputs, class_maps) F(resnet_outputs, stages) E
    S(resnet_info) F(resnet_info, arch) F(resnet_info, depth) F(resnet_info, block) F(resnet_info, blocks)
        F(resnet_info, widths) F(resnet_info, groups) F(resnet_info, classes) F(resnet_info, feature_dim)
        F(resnet_info, input_size) F(resnet_info, output_stride) F(resnet_info, precision) F(resnet_info, variant)
        F(resnet_info, norm) F(resnet_info, labels) F(resnet_info, layers) F(resnet_info, reserved) E
    S(resnet_prediction) F(resnet_prediction, index) F(resnet_prediction, prob) E
    S(resnet_view) F(resnet_view, resize) F(resnet_view, crop) F(resnet_view, flip) E
    S(resnet_image) F(resnet_image, width) F(resnet_image, height) F(resnet_image, rgb) E
    S(resnet_file_list) F(resnet_file_list, count) F(resnet_file_list, paths) F(resnet_file_list, n_problems)
        F(resnet_file_list, problems) E
    printf("}\n");
    return 0;
}
C
# the names go in quoted by hand: the macro prints them bare
sed -i 's/printf("%s%s: \[/printf("%s\\"%s\\": [/' "$tmp/layout.c"
${CC:-cc} -std=c11 -Wall -Wextra -Iinclude -o "$tmp/layout" "$tmp/layout.c" && "$tmp/layout" >"$tmp/layout.json" || {
  echo "FAIL could not build the C layout program"; echo "0 passed, 1 failed"; exit 1; }

RESNET_LIBRARY=$BUILD/libresnet.so RESNET_BIN=${RESNET_BIN:-$BUILD/resnet} LAYOUT_JSON=$tmp/layout.json TMPDIR=$tmp \
  PYTHONPATH=python${PYTHONPATH:+:$PYTHONPATH} "$py" tests/python_binding.py
