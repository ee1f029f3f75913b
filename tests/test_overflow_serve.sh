#!/usr/bin/env bash
# test_overflow_serve.sh - weights that make a photo's logits overflow, through `resnet serve`,
# `resnet serve --http` and the Python binding: each must answer with an error, never with
# inf/NaN numbers (tests/overflow_check.py). Tier 1: the demo photo and the default weights.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=""
for c in ${PYTHON:-} python3 /usr/bin/python3; do
  if "$c" -c 'import numpy' 2>/dev/null; then py=$c; break; fi
done
if [ -z "$py" ]; then
  echo "FAIL python3 with numpy not found (apt-get install python3-numpy)"
  echo "0 passed, 1 failed"
  exit 1
fi
if readelf -d "$BUILD/libresnet.so" 2>/dev/null | grep -q 'libasan'; then
  export LD_PRELOAD="$(${CC:-cc} -print-file-name=libasan.so) $(${CC:-cc} -print-file-name=libubsan.so)"
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
fi
weights=${RESNET_TEST_V1_CAFFE:-$(tools/fetch-weights.sh | tail -n 1)}
RESNET_LIBRARY=$PWD/$BUILD/libresnet.so timeout 900 "$py" tests/overflow_check.py "${RESNET_BIN:-$BUILD/resnet}" "$weights" "$tmp"
