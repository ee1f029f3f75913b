#!/usr/bin/env bash
# test_overflow_serve.sh - weights that make a photo's logits overflow, through `resnet serve`,
# `resnet serve --http` and the Python binding: each must answer with an error, never with
# inf/NaN numbers (tests/overflow_check.py). Tier 1: the demo photo and the default weights.
set -u
cd "$(dirname "$0")/.."
. tests/common.sh
use_python numpy
weights=${RESNET_TEST_V1_CAFFE:-$(tools/fetch-weights.sh | tail -n 1)}
RESNET_LIBRARY=$PWD/$BUILD/libresnet.so timeout 900 "$py" tests/overflow_check.py "${RESNET_BIN:-$BUILD/resnet}" "$weights" "$tmp"
