#!/usr/bin/env bash
# test_export.sh - `resnet export`: the ONNX graph of a network, run by ONNX Runtime (npm
# onnxruntime-node, the package bench/ uses), gives our logits (within 1e-4 of the largest);
# exported and imported again (`resnet import`), the network gives bit-identical logits. On the
# narrow networks of tests/data/family/ (basic, bottleneck, grouped; at another size; dilated)
# and the default ResNet-50. ONNX Runtime comes from $RESNET_ORT_DIR, bench/.ort, or the cache
# (~/.cache/resnet/ort); CI installs it there with npm; elsewhere its checks are skipped,
# saying so. Run by tests/run.sh (RESNET_BIN, RESNET_TEST_V1_CAFFE).
set -u
. "$(dirname "$0")/common.sh" # BIN, tmp, check, run, summary
use_python numpy
export PYTHONPATH=$PWD/python RESNET_LIBRARY=$PWD/$BUILD/libresnet.so
FAM=tests/data/family
cache=${RESNET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/resnet}
W=${RESNET_TEST_V1_CAFFE:?run through tests/run.sh}

ort=""
for d in "${RESNET_ORT_DIR:-}" bench/.ort "$cache/ort"; do
  [ -n "$d" ] && [ -d "$d/node_modules/onnxruntime-node" ] && command -v node >/dev/null && { ort=$(cd "$d" && pwd); break; }
done
if [ -z "$ort" ] && [ "${RESNET_REQUIRE_SHARED:-0}" = 1 ] && command -v npm >/dev/null; then
  echo "installing onnxruntime-node into $cache/ort (once)"
  mkdir -p "$cache/ort" && ONNXRUNTIME_NODE_INSTALL=skip npm install --silent --prefix "$cache/ort" onnxruntime-node@1.30.0 \
    >/dev/null 2>&1 && ort=$cache/ort
fi

# logits of WEIGHTS on PHOTO by us (and our preprocessed input, for ONNX Runtime)
ours() { # WEIGHTS PHOTO SIZE STRIDE PREFIX
  "$py" -c "
import sys, resnet
m = resnet.Model(sys.argv[1], size=int(sys.argv[3]) or None, output_stride=int(sys.argv[4]) or None)
x = m.preprocess(sys.argv[2])
x.tofile(sys.argv[5] + '.in.f32')
m.logits(x[0])[0].tofile(sys.argv[5] + '.ours.f32')
print(x.shape[2])" "$@"
}
rel_diff() { "$py" -c "
import numpy as n, sys
a, b = n.fromfile(sys.argv[1], '<f4'), n.fromfile(sys.argv[2], '<f4')
print('%.3g' % (abs(a - b).max() / abs(a).max()) if a.shape == b.shape else 'shapes differ')" "$1" "$2"; }

cases=("$FAM/small_basic.safetensors 0 0" "$FAM/small_bottleneck.safetensors 160 0"
  "$FAM/small_bottleneck.safetensors 128 8" "$FAM/small_grouped.safetensors 0 0" "$W 0 0")
i=0
for c in "${cases[@]}"; do
  set -- $c
  w=$1 size=$2 stride=$3 name=$(basename "$1" .safetensors)
  i=$((i + 1))
  opts=()
  [ "$size" != 0 ] && opts+=(--size "$size")
  [ "$stride" != 0 ] && opts+=(--output-stride "$stride")
  what="$name${opts[*]:+ ${opts[*]}}"
  run "$BIN" export --weights "$w" "${opts[@]}" -o "$tmp/$i.onnx"
  [ "$rc" -eq 0 ] && [ -s "$tmp/$i.onnx" ]
  check "export $what" $? "rc=$rc $err"
  s=$(ours "$w" demo/chelsea.png "$size" "$stride" "$tmp/$i")
  if [ -n "$ort" ]; then
    ORT_DIR=$ort node tests/ort_run.js "$tmp/$i.onnx" "$tmp/$i.in.f32" 1 3 "$s" "$s" "$tmp/$i.ort.f32" 2>"$tmp/err"
    d=$(rel_diff "$tmp/$i.ours.f32" "$tmp/$i.ort.f32")
    "$py" -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 1e-4 else 1)" "$d" 2>/dev/null
    check "ONNX Runtime runs the export of $what with our logits (differs by $d of the largest)" $? "$(cat "$tmp/err")"
  else
    skipped=$((skipped + 1))
    echo "skip ONNX Runtime on the export of $what: onnxruntime-node not installed (bench/vs-onnxruntime.sh installs it)"
  fi
  # the graph read back by our own importer: the same network, bit for bit, normalised as the
  # export recorded (resnet.norm in metadata_props; the default file's is caffe, the others torch)
  if "$BIN" import --help 2>/dev/null | grep -q -i onnx; then
    run "$BIN" import "$tmp/$i.onnx" -o "$tmp/$i.back.safetensors"
    imported=$err
    ours "$tmp/$i.back.safetensors" demo/chelsea.png "$size" "$stride" "$tmp/$i.back" >/dev/null
    cmp -s "$tmp/$i.ours.f32" "$tmp/$i.back.ours.f32"
    check "export -> import of $what: bit-identical logits" $? "rc=$rc $err"
    if [ "$size" != 0 ]; then # the size comes back with the graph, not only when asked for again
      run "$BIN" info --json "$tmp/$i.back.safetensors"
      echo "$out" | grep -q "\"input_size\": $size," && echo "$imported" | grep -q "(input ${size}x$size, as the graph"
      check "export --size $size -> import: the file asks for $size again, and import says so" $? "rc=$rc $out $imported"
    fi
  fi
done

# the default network's round trip classifies as it does: the same top-1, the same probability
n=${#cases[@]}
run "$BIN" classify -k 1 --json demo/coffee.png
want=$out
run "$BIN" classify -k 1 --json --weights "$tmp/$n.back.safetensors" demo/coffee.png
[ "$rc" -eq 0 ] && [ "$out" = "$want" ] && echo "$out" | grep -q '"index": 967'
check "export -> import -> classify: the same espresso, the same probability" $? "rc=$rc: $out, want $want"
run "$BIN" import --norm torch "$tmp/$n.onnx" -o "$tmp/torch.safetensors"
run "$BIN" classify -k 1 --json --weights "$tmp/torch.safetensors" demo/coffee.png
[ "$rc" -eq 0 ] && [ "$out" != "$want" ]
check "import --norm wins over the normalisation the export recorded" $? "rc=$rc: $out"
"$py" -c 'import sys; d = open(sys.argv[1], "rb").read(); k = b"resnet.norm\x12\x05caffe"
assert d.count(k) == 1; open(sys.argv[2], "wb").write(d.replace(k, b"resnet.norm\x12\x05bogus"))' "$tmp/$n.onnx" "$tmp/bogus.onnx"
run "$BIN" import "$tmp/bogus.onnx" -o "$tmp/bogus.safetensors"
[ "$rc" -eq 1 ] && [ ! -e "$tmp/bogus.safetensors" ] && [ "$(echo "$err" | grep -c .)" -eq 1 ] &&
  echo "$err" | grep -q "resnet.norm metadata is neither caffe nor torch"
check "import refuses a resnet.norm it does not know, in one line" $? "rc=$rc $err"

run "$BIN" quantize --weights "$FAM/small_basic.safetensors" demo -o "$tmp/q.safetensors"
run "$BIN" export --weights "$tmp/q.safetensors" -o "$tmp/q.onnx"
[ "$rc" -eq 1 ] && [ ! -e "$tmp/q.onnx" ] && echo "$err" | grep -q "int8"
check "export of an int8 file refused, nothing written" $? "rc=$rc $err"
run "$BIN" export --opset 10 -o "$tmp/x.onnx"
[ "$rc" -eq 2 ] && [ ! -e "$tmp/x.onnx" ]
check "export --opset 10 is a usage error" $? "rc=$rc $err"
# --labels: the graph holds no names, but a file that is not there or does not fit the network
# is refused as every command refuses it (it was dropped unread, exit 0)
printf 'a\nb\n' >"$tmp/two.txt"
for l in "$tmp/none.txt" "$tmp/two.txt"; do
  run "$BIN" export --weights "$FAM/small_basic.safetensors" --labels "$l" -o "$tmp/l.onnx"
  [ "$rc" -eq 1 ] && [ ! -e "$tmp/l.onnx" ] && echo "$err" | grep -q "$(basename "$l")"
  ok=$? # before the name's $(...), which would reset $?
  check "export --labels $(basename "$l"): refused in one line, nothing written" $ok "rc=$rc $err"
done
echo "not a model" >"$tmp/mine.onnx"
run "$BIN" export --weights "$FAM/small_basic.safetensors" -o "$tmp/mine.onnx"
[ "$rc" -eq 1 ] && [ "$(cat "$tmp/mine.onnx")" = "not a model" ]
check "an existing file of another kind is not replaced without --force" $? "rc=$rc $err"
summary
