#!/usr/bin/env bash
# vs-onnxruntime.sh - our forward pass against ONNX Runtime's on this CPU, 224x224, in fp32 or
# in int8.
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
# --int8: both engines in int8. Theirs: torchvision's ResNet-50 through PyTorch's FX
# post-training static quantization (prepare_fx/convert_fx, the x86 qconfig: per-channel s8
# weights, u8 activations; calibrated on random inputs, which changes the scales, not the
# speed) exported to ONNX as QuantizeLinear/DequantizeLinear around fp32 Conv/Add/Gemm (QDQ);
# ONNX Runtime fuses those into QLinearConv/QLinearAdd/QGemm when it loads the model, and the
# script checks that it did (ort-bench.js --optimized writes the optimized graph; it must hold
# QLinearConv and no fp32 Conv). Ours: `resnet quantize` on the demo photos (two: calibration
# does not change the speed either), or INT8FILE when given.
#
# --steady: ten separate processes of each engine at batch 1 on 2 threads (`resnet bench
# --threads 2`), alternately, each one's median printed beside the other's from the same
# seconds, then each engine's spread (slowest median / fastest - 1). When both engines slow
# down in the same rounds the machine was slow then, not one engine. Beside them, how far apart
# CPUs 0 and 1 were just before (bench/core-latency.c: a cache line's round trip between them;
# on a VM tens of ns when the host gives the two vCPUs cores that share an L3, hundreds when it
# does not, and the host changes that from minute to minute).
#
# --bf16: ours in bf16 (`--precision bf16`: the fp32 weights converted as they load) against
# ONNX Runtime's fp32 (its CPU provider runs no bf16 convolutions).
#
# --model NAME: another torchvision constructor (resnet18, resnet101, resnext50_32x4d, ...),
# random weights, the same network on both sides: exported to ONNX for theirs, saved as a
# safetensors state_dict for ours (tools/make-family.py writes it). Without it, theirs is
# torchvision's ResNet-50 and ours the default weights (Keras' ResNet-50 v1: the same work).
#
# --wide: ours with --wide-winograd (Winograd on layer3 and layer4 too: faster, about 1.4x the
# memory), in fp32 or with --bf16.
#
# --model ours: our default weights (Keras' ResNet-50 v1) on both sides, theirs through `resnet
# export`: the same network, the same work.
#
# --layers: where the time goes, layer kind by layer kind, in each of the three settings: ours
# from `resnet bench --profile`, theirs from ONNX Runtime's own profiler (ort-bench.js
# --profile), each the best time of every layer over ITERS runs, summed over the layers of a
# kind ("1x1/1 1024->256 14x14": window/stride, channels, output size). fp32 or --bf16 (ours)
# against their fp32; not --int8 (their int8 profile does not name the windows). By default
# theirs is torchvision's v1.5, which strides the 3x3 of a stage's first block where v1
# strides the 1x1: those kinds appear on one side only. --model ours compares the same layers.
#
#   bench/vs-onnxruntime.sh [--model NAME] [--wide] [ROUNDS]   (default 9 rounds of ITERS=6 timed runs each)
#   bench/vs-onnxruntime.sh [--model NAME] --int8 [ROUNDS [INT8FILE]]
#   bench/vs-onnxruntime.sh [--model NAME] [--wide] --bf16 [ROUNDS]
#   bench/vs-onnxruntime.sh [--model NAME] [--wide] --steady [PROCESSES]  (default 10, ITERS=20 timed runs each)
#   bench/vs-onnxruntime.sh [--model NAME] [--wide] [--bf16] --layers      (ITERS=6 timed runs each)
set -euo pipefail
cd "$(dirname "$0")/.."
INT8=0 STEADY=0 NET=resnet50
if [ "${1:-}" = --model ]; then
  NET=${2:?--model needs a torchvision constructor name}
  shift 2
  case "$NET" in
    ours) ;;
    resnet18 | resnet34 | resnet50 | resnet101 | resnet152 | resnext50_32x4d | resnext101_32x8d | resnext101_64x4d | \
      wide_resnet50_2 | wide_resnet101_2) ;;
    *) echo "--model: not a torchvision ResNet-family constructor: $NET" >&2; exit 2 ;;
  esac
  CUSTOM=1
fi
WIDE=0
if [ "${1:-}" = --wide ]; then WIDE=1; shift; fi
if [ "${1:-}" = --int8 ]; then INT8=1; shift; fi
if ((INT8 && WIDE)); then echo "--wide is for fp32 and bf16: int8 files pick their own algorithms" >&2; exit 2; fi
BF16=0
if ((!INT8)) && [ "${1:-}" = --bf16 ]; then BF16=1; shift; fi
if ((INT8)) && [ "$NET" = ours ]; then echo "--model ours is fp32: resnet export writes fp32 graphs" >&2; exit 2; fi
if [ "${1:-}" = --steady ]; then STEADY=1; shift; fi
LAYERS=0
if ((!STEADY)) && [ "${1:-}" = --layers ]; then LAYERS=1; shift; fi
if ((LAYERS && INT8)); then echo "--layers is for fp32 and bf16: ONNX Runtime's int8 profile does not name the windows" >&2; exit 2; fi
ROUNDS=${1:-9}
ITERS=${ITERS:-$( ((STEADY)) && echo 20 || echo 6)}
ORT_VERSION=1.30.0
export ORT_DIR=$PWD/bench/.ort
BIN=build/resnet

[ -x "$BIN" ] || make -s
if [ ! -d "$ORT_DIR/node_modules/onnxruntime-node" ]; then
  echo "installing onnxruntime-node@$ORT_VERSION into $ORT_DIR" >&2
  mkdir -p "$ORT_DIR"
  ONNXRUNTIME_NODE_INSTALL=skip npm install --silent --prefix "$ORT_DIR" "onnxruntime-node@$ORT_VERSION" >&2
fi
if [ "$NET" = ours ] && [ ! -f "$ORT_DIR/ours.onnx" ]; then
  "$BIN" export -o "$ORT_DIR/ours.onnx" >&2 || exit 1
elif [ ! -f "$ORT_DIR/$NET.onnx" ]; then
  /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null || {
    echo "needs Debian's python3-torch and python3-torchvision (apt-get install python3-torchvision)" >&2
    exit 1
  }
  /usr/bin/python3 - "$ORT_DIR/$NET" "$NET" <<'PY'
import importlib.util, os, sys, torch, torchvision
torch.set_grad_enabled(False)
torch.manual_seed(0)
m = getattr(torchvision.models, sys.argv[2])().eval()
spec = importlib.util.spec_from_file_location('family', os.path.join('tools', 'make-family.py'))
family = importlib.util.module_from_spec(spec)
spec.loader.exec_module(family)
family.randomise(m, 0)
family.save_safetensors(m.state_dict(), sys.argv[1] + '.safetensors')
torch.onnx.export(m, torch.randn(1, 3, 224, 224), sys.argv[1] + '.onnx.tmp', input_names=['input'],
                  output_names=['logits'], dynamic_axes={'input': {0: 'n'}, 'logits': {0: 'n'}},
                  opset_version=13)
PY
  mv "$ORT_DIR/$NET.onnx.tmp" "$ORT_DIR/$NET.onnx"
fi
MODEL=$ORT_DIR/$NET.onnx
OURS=()
if [ -n "${CUSTOM:-}" ] && [ "$NET" != ours ]; then OURS=(--weights "$ORT_DIR/$NET.safetensors"); fi

if ((BF16)); then OURS+=(--precision bf16); fi
if ((WIDE)); then OURS+=(--wide-winograd); fi
if ((INT8)); then
  MODEL=$ORT_DIR/$NET-qdq.onnx
  if [ ! -f "$MODEL" ]; then
    echo "quantizing torchvision's ResNet-50 with PyTorch FX, exporting it to $MODEL" >&2
    /usr/bin/python3 -W ignore - "$MODEL" "$NET" <<'PY' >&2
import sys, torch, torchvision
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
torch.set_grad_enabled(False)
torch.manual_seed(0)
# Debian's torch is built without fbgemm: the x86 qconfig's observers do not need it, but
# running the converted model (the export traces it) needs a quantized engine
engines = torch.backends.quantized.supported_engines
torch.backends.quantized.engine = 'onednn' if 'onednn' in engines else 'qnnpack'
m = getattr(torchvision.models, sys.argv[2])().eval()
x = torch.randn(1, 3, 224, 224)
p = prepare_fx(m, get_default_qconfig_mapping('x86'), example_inputs=(x,))
for _ in range(4):
    p(torch.randn(2, 3, 224, 224))
q = convert_fx(p)
torch.onnx.export(q, x, sys.argv[1] + '.tmp', input_names=['input'], output_names=['logits'],
                  dynamic_axes={'input': {0: 'n'}, 'logits': {0: 'n'}}, opset_version=13)
PY
    mv "$MODEL.tmp" "$MODEL"
  fi
  # what ONNX Runtime runs: count the op types in the graph it optimized (op_type is field 4
  # of a NodeProto: tag 0x22, the length, the name)
  node bench/ort-bench.js --optimized "$MODEL" "$ORT_DIR/$NET-qdq.opt.onnx" 2>/dev/null
  ops=$(/usr/bin/python3 - "$ORT_DIR/$NET-qdq.opt.onnx" <<'PY'
import sys
b = open(sys.argv[1], 'rb').read()
print(' '.join('%s=%d' % (op, b.count(bytes([0x22, len(op)]) + op.encode())) for op in
               ('QLinearConv', 'Conv', 'ConvInteger', 'QLinearAdd', 'Add', 'QGemm', 'Gemm')))
PY
)
  echo "onnxruntime's optimized int8 graph: $ops"
  case " $ops " in
    *" QLinearConv=0 "* | *" Conv="[1-9]*) echo "onnxruntime did not fuse the convolutions into QLinearConv" >&2; exit 1 ;;
  esac
  Q=${2:-}
  if [ -z "$Q" ]; then
    Q=$ORT_DIR/$NET-int8.safetensors
    [ -f "$Q" ] || "$BIN" quantize "${OURS[@]}" demo -o "$Q" >&2
  fi
  "$BIN" bench --weights "$Q" --iters 1 --warmup 0 >/dev/null || exit 1 # a bad INT8FILE: its own message
  OURS=(--weights "$Q")
fi

median_of() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
field() { sed -n "s/.*median \([0-9.]*\) ms per batch.*/\1/p"; }
ours_ms() { "$BIN" bench "${OURS[@]}" --batch "$batch" --threads "$threads" --iters "$ITERS" | field; }
theirs_ms() { node bench/ort-bench.js "$MODEL" "$threads" "$batch" "$ITERS" | field; }

machine() {
  echo "($NET; $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); kernels: $("$BIN" bench "${OURS[@]}" --iters 1 --warmup 0 | sed -n 2p | sed 's/, threads .*//'))"
}

if ((LAYERS)); then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  for setting in "1 1" "1 2" "8 2"; do
    set -- $setting
    batch=$1 threads=$2
    "$BIN" bench "${OURS[@]}" --batch "$batch" --threads "$threads" --iters "$ITERS" --profile | awk '
      /^per layer, best of/ { on = 1; next }
      /^  sum of layers/ { on = 0 }
      on && /%$/ && $1 != "layer" {
        kind = ($1 == "input" || $1 == "maxpool" || $1 == "avgpool" || $1 == "fc") ? $1 : $2 " " $3 " " $4
        printf "%s\t%s\n", kind, $(NF - 2)
      }' >"$tmp/ours"
    node bench/ort-bench.js --profile "$MODEL" "$threads" "$batch" "$ITERS" >"$tmp/theirs"
    [ -s "$tmp/ours" ] && [ -s "$tmp/theirs" ] || { echo "--layers: a profile came back empty" >&2; exit 1; }
    echo
    echo "batch $batch, $threads thread(s): ms per batch, each layer's best of $ITERS runs, summed by kind"
    awk -F'\t' '
      FNR == 1 { side++ }
      { if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
        sum[side, $1] += $2; count[side, $1]++; total[side] += $2 }
      function cell(s, k) { return count[s, k] ? sprintf("%9.3f", sum[s, k]) : sprintf("%9s", "-") }
      END {
        printf "%-26s %7s %9s %9s %7s\n", "layer kind", "layers", "resnet", "onnxrt", "ratio"
        print "(ratio: resnet/onnxrt, time per layer of the kind; <1 means we are faster)"
        for (i = 1; i <= n; i++) {
          k = order[i]
          # per layer: the two networks may hold a kind a different number of times
          r = count[1, k] && count[2, k] ? sprintf("%7.2f", (sum[1, k] / count[1, k]) / (sum[2, k] / count[2, k])) : sprintf("%7s", "")
          printf "%-26s %3d/%-3d %s %s %s\n", k, count[1, k], count[2, k], cell(1, k), cell(2, k), r
        }
        printf "%-26s %7s %9.3f %9.3f %7.2f\n", "all layers", "", total[1], total[2], total[1] / total[2]
      }' "$tmp/ours" "$tmp/theirs"
  done
  machine
  exit 0
fi

if ((STEADY)); then
  batch=1 threads=2
  spread() { sort -g | awk '{a[NR]=$1} END {printf "%.2f-%.2f ms, slowest/fastest - 1 = %.0f%%", a[1], a[NR], 100 * (a[NR] / a[1] - 1)}'; }
  make -s build/bench/core-latency
  apart() { build/bench/core-latency 2>/dev/null | sed -n 's/.*: \([0-9]*\) ns.*/\1/p'; }
  printf '%-9s %14s %14s %16s\n' "process" "resnet (ms)" "onnxrt (ms)" "CPUs 0-1 (ns)"
  echo "(each: the median of $ITERS timed runs at batch 1 on 2 threads, in a process of its own;"
  echo " CPUs 0-1: a cache line's round trip between them just before, bench/core-latency.c)"
  ours=() theirs=()
  for ((r = 1; r <= ${1:-10}; r++)); do
    ns=$(apart)
    if ((r % 2)); then x=$(ours_ms); y=$(theirs_ms); else y=$(theirs_ms); x=$(ours_ms); fi
    ours+=("$x") theirs+=("$y")
    printf '%-9s %14s %14s %16s\n' "$r" "$x" "$y" "${ns:--}"
  done
  echo "resnet:  $(printf '%s\n' "${ours[@]}" | spread)"
  echo "onnxrt:  $(printf '%s\n' "${theirs[@]}" | spread)"
  machine
  exit 0
fi

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
machine
