#!/usr/bin/env bash
# test_onnx.sh - ONNX import, tier 2: torchvision ResNets (resnet18, resnet50 with 10 classes,
# dilated, ResNeXt, v1, a ReduceMean/MatMul head) exported by torch.onnx.export in opsets 11 to
# 17, batch norms folded and kept, inline and external data; each imported with `resnet import`
# and loaded back into torchvision, whose logits must match the original's within 1e-4, and run
# by our engine (the Python binding over build/libresnet.so) on the demo photos, within 1e-4 of
# PyTorch's on the same input (tools/make-onnx.py --check). Skipped, with one line, without Debian's python3-torch,
# python3-torchvision and python3-onnx. RESNET_TEST_ONNX_FULL=1 adds every other depth.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
if ! /usr/bin/python3 -c 'import torch, torchvision, onnx' 2>/dev/null; then
  echo "skip onnx round trips: /usr/bin/python3 lacks torch, torchvision or onnx (apt-get install python3-torch python3-torchvision python3-onnx)"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
full=()
[ "${RESNET_TEST_ONNX_FULL:-0}" = 1 ] && full=(--full)
/usr/bin/python3 -W ignore tools/make-onnx.py --check "$BUILD/resnet" "$tmp" "${full[@]}" >"$tmp/log" 2>&1
rc=$?
grep -E '^(ok|FAIL)' "$tmp/log"
p=$(grep -c '^ok' "$tmp/log")
f=$(grep -c '^FAIL' "$tmp/log")
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
  tail -n 5 "$tmp/log"
  f=1
fi
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
