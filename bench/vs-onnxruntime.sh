#!/usr/bin/env bash
# vs-onnxruntime.sh - our forward pass against ONNX Runtime's on this CPU, fp32, 224x224.
#
# Installs onnxruntime-node from npm into bench/.ort (its install step is skipped with
# ONNXRUNTIME_NODE_INSTALL=skip: the package ships the CPU library; after that everything runs
# offline), exports torchvision's ResNet-50 to ONNX with Debian's python3-torch (weights do not
# change the speed), then times both engines alternately (A B A B ...) in three settings and
# prints each one's median and the ratio. The machine is noisy: compare the ratios of one run.
#
#   bench/vs-onnxruntime.sh [ROUNDS]      (default 5 rounds of 10 timed runs each)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
ITERS=${ITERS:-10}
ORT_VERSION=1.30.0
export ORT_DIR=$PWD/bench/.ort
BIN=build/resnet

[ -x "$BIN" ] || make -s
if [ ! -d "$ORT_DIR/node_modules/onnxruntime-node" ]; then
  echo "installing onnxruntime-node@$ORT_VERSION into $ORT_DIR" >&2
  mkdir -p "$ORT_DIR"
  ONNXRUNTIME_NODE_INSTALL=skip npm install --silent --prefix "$ORT_DIR" "onnxruntime-node@$ORT_VERSION" >&2
fi
if [ ! -f "$ORT_DIR/resnet50.onnx" ]; then
  /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null || {
    echo "needs Debian's python3-torch and python3-torchvision (apt-get install python3-torchvision)" >&2
    exit 1
  }
  /usr/bin/python3 - "$ORT_DIR/resnet50.onnx" <<'PY'
import sys, torch, torchvision
torch.set_grad_enabled(False)
m = torchvision.models.resnet50().eval()
torch.onnx.export(m, torch.randn(1, 3, 224, 224), sys.argv[1] + '.tmp', input_names=['input'],
                  output_names=['logits'], dynamic_axes={'input': {0: 'n'}, 'logits': {0: 'n'}},
                  opset_version=13)
PY
  mv "$ORT_DIR/resnet50.onnx.tmp" "$ORT_DIR/resnet50.onnx"
fi

median_of() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
field() { sed -n "s/.*median \([0-9.]*\) ms per batch.*/\1/p"; }

printf '%-22s %14s %14s %8s\n' "setting" "resnet (ms)" "onnxrt (ms)" "ratio"
for setting in "1 1" "1 2" "8 2"; do
  set -- $setting
  batch=$1 threads=$2
  ours=() theirs=()
  for ((r = 0; r < ROUNDS; r++)); do
    ours+=("$("$BIN" bench --batch "$batch" --threads "$threads" --iters "$ITERS" | field)")
    theirs+=("$(node bench/ort-bench.js "$ORT_DIR/resnet50.onnx" "$threads" "$batch" "$ITERS" | field)")
  done
  a=$(printf '%s\n' "${ours[@]}" | median_of)
  b=$(printf '%s\n' "${theirs[@]}" | median_of)
  label="batch $batch, $threads thread(s)"
  if [ "$batch" -gt 1 ]; then
    printf '%-22s %14s %14s %8s   (images/s: %.2f vs %.2f; >1 means we are faster)\n' "$label" "$a" "$b" \
      "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", b / a}')" \
      "$(awk -v a="$a" -v n="$batch" 'BEGIN {print 1000 * n / a}')" "$(awk -v b="$b" -v n="$batch" 'BEGIN {print 1000 * n / b}')"
  else
    printf '%-22s %14s %14s %8s   (latency ratio resnet/onnxrt; <1 means we are faster)\n' "$label" "$a" "$b" \
      "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", a / b}')"
  fi
done
echo "($(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); kernels: $("$BIN" bench --iters 1 --warmup 0 | head -1 | cut -d, -f1))"
