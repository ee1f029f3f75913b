#!/usr/bin/env bash
# vs-onnxruntime.sh - our forward pass against ONNX Runtime's on this CPU, fp32, 224x224.
#
# Installs onnxruntime-node from npm into bench/.ort (its install step is skipped with
# ONNXRUNTIME_NODE_INSTALL=skip: the package ships the CPU library; after that everything runs
# offline), exports torchvision's ResNet-50 to ONNX with Debian's python3-torch (weights do not
# change the speed), then times both engines alternately (A B A B ...) in three settings and
# prints each one's median and the ratio. The machine is noisy, and its speed drifts for
# seconds at a time (by 30% and more): each round times our engine and then theirs, a few
# seconds apart, and the ratio shown is the median of the rounds' ratios, so that a slow
# stretch weighs on both sides of a pair rather than on one engine's column.
#
#   bench/vs-onnxruntime.sh [ROUNDS]      (default 9 rounds of ITERS=6 timed runs each)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-9}
ITERS=${ITERS:-6}
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
ours_ms() { "$BIN" bench --batch "$batch" --threads "$threads" --iters "$ITERS" | field; }
theirs_ms() { node bench/ort-bench.js "$ORT_DIR/resnet50.onnx" "$threads" "$batch" "$ITERS" | field; }

printf '%-22s %14s %14s %8s\n' "setting" "resnet (ms)" "onnxrt (ms)" "ratio"
echo "(ms: medians over the rounds of each round's median; ratio: median of the rounds' ratios)"
for setting in "1 1" "1 2" "8 2"; do
  set -- $setting
  batch=$1 threads=$2
  ours=() theirs=() ratios=()
  for ((r = 0; r < ROUNDS; r++)); do
    # A B, then B A: whichever runs first in a round does not always get the same conditions
    if ((r % 2 == 0)); then x=$(ours_ms); y=$(theirs_ms)
    else y=$(theirs_ms); x=$(ours_ms); fi
    ours+=("$x") theirs+=("$y")
    # latency ratio at batch 1 (<1: we are faster), throughput ratio at batch 8 (>1: we are)
    if [ "$batch" -gt 1 ]; then ratios+=("$(awk -v a="$x" -v b="$y" 'BEGIN {print b / a}')")
    else ratios+=("$(awk -v a="$x" -v b="$y" 'BEGIN {print a / b}')"); fi
  done
  a=$(printf '%s\n' "${ours[@]}" | median_of)
  b=$(printf '%s\n' "${theirs[@]}" | median_of)
  q=$(printf '%s\n' "${ratios[@]}" | median_of)
  spread=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {printf "%.2f-%.2f", a[1], a[NR]}')
  label="batch $batch, $threads thread(s)"
  if [ "$batch" -gt 1 ]; then
    printf '%-22s %14s %14s %8.3f   (images/s: %.2f vs %.2f; >1 means we are faster; rounds %s)\n' "$label" "$a" "$b" \
      "$q" "$(awk -v a="$a" -v n="$batch" 'BEGIN {print 1000 * n / a}')" \
      "$(awk -v b="$b" -v n="$batch" 'BEGIN {print 1000 * n / b}')" "$spread"
  else
    printf '%-22s %14s %14s %8.3f   (latency ratio resnet/onnxrt; <1 means we are faster; rounds %s)\n' "$label" \
      "$a" "$b" "$q" "$spread"
  fi
done
echo "($(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); kernels: $("$BIN" bench --iters 1 --warmup 0 | head -1 | cut -d, -f1))"
