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
# --labels (its names go into the graph): a file that is not there or does not fit the network
# is refused as every command refuses it (it was once dropped unread, exit 0)
printf 'a\nb\n' >"$tmp/two.txt"
for l in "$tmp/none.txt" "$tmp/two.txt"; do
  run "$BIN" export --weights "$FAM/small_basic.safetensors" --labels "$l" -o "$tmp/l.onnx"
  [ "$rc" -eq 1 ] && [ ! -e "$tmp/l.onnx" ] && echo "$err" | grep -q "$(basename "$l")"
  ok=$? # before the name's $(...), which would reset $?
  check "export --labels $(basename "$l"): refused in one line, nothing written" $ok "rc=$rc $err"
done

# ---- class names: a network with its own carries them through export -> import ----------
# five: small_basic's first 5 classes, named by `resnet label` as a user names a fine-tuned
# network; the names hold quotes, a backslash before "u0041", a tab, control characters, UTF-8
# of 2 to 4 bytes and a CR inside a name. Before, they came back as "class 0".."class 4".
"$py" - "$FAM/small_basic.safetensors" "$tmp/five.safetensors" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
head, data = json.loads(raw[8:8 + n]), raw[8 + n:]
out, blobs, off = {}, [], 0
for name, t in head.items():
    if name == '__metadata__':
        out[name] = t
        continue
    b, shape = data[t['data_offsets'][0]:t['data_offsets'][1]], t['shape']
    if name in ('fc.weight', 'fc.bias'):
        b, shape = b[:len(b) // shape[0] * 5], [5] + shape[1:]
    out[name] = {'dtype': t['dtype'], 'shape': shape, 'data_offsets': [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
h = json.dumps(out).encode()
h += b' ' * (-len(h) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
PY
printf 'say "hi"\nback\\slash \\u0041\ntab\there\001ctl\037\177\ncaf\303\251 \347\214\253 \360\237\220\210\na\rb\n' >"$tmp/odd.txt"
printf 'ant\nbee\ncat\ndog\nelk\n' >"$tmp/plain.txt"
# labels_of FILE.safetensors NAMES.txt: whether the file's labels metadata is exactly the names
labels_of() { "$py" -c '
import json, struct, sys
raw = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", raw[:8])[0]
got = json.loads(json.loads(raw[8:8 + n])["__metadata__"]["labels"])
want = open(sys.argv[2], "rb").read().decode().split("\n")[:-1]
sys.exit(0 if got == want else print(got, "!=", want) or 1)' "$1" "$2"; }
run "$BIN" label --labels "$tmp/odd.txt" -o "$tmp/odd.safetensors" "$tmp/five.safetensors"
run "$BIN" export --weights "$tmp/odd.safetensors" -o "$tmp/odd.onnx"
run "$BIN" import "$tmp/odd.onnx" -o "$tmp/odd.back.safetensors"
labels_of "$tmp/odd.back.safetensors" "$tmp/odd.txt" >"$tmp/diff" 2>&1
ok=$?
run "$BIN" info --json "$tmp/odd.back.safetensors"
[ $ok -eq 0 ] && echo "$out" | grep -q '"classes": 5, "labels": "given"'
check "export -> import of a 5-class network: its own names come back byte for byte" $? "$(cat "$tmp/diff") $out $err"
run "$BIN" classify -k 5 --json --weights "$tmp/odd.safetensors" demo/chelsea.png
want=$out
run "$BIN" classify -k 5 --json --weights "$tmp/odd.back.safetensors" demo/chelsea.png
[ "$rc" -eq 0 ] && [ "$out" = "$want" ] && echo "$out" | grep -q '"name": "say \\"hi\\""'
check "export -> import -> classify: the same classes by the same names" $? "rc=$rc: $out, want $want"
grep -q resnet.labels "$tmp/1.onnx"
[ $? -eq 1 ]
check "a network named by ImageNet's default names exports none" $? ""
# --labels of export replaces the file's in the graph; --labels of import wins over the graph's
run "$BIN" export --weights "$tmp/odd.safetensors" --labels "$tmp/plain.txt" -o "$tmp/plain.onnx"
run "$BIN" import "$tmp/plain.onnx" -o "$tmp/plain.back.safetensors"
labels_of "$tmp/plain.back.safetensors" "$tmp/plain.txt"
check "export --labels: its names go into the graph" $? "rc=$rc $err"
run "$BIN" import --labels "$tmp/plain.txt" "$tmp/odd.onnx" -o "$tmp/wins.safetensors"
labels_of "$tmp/wins.safetensors" "$tmp/plain.txt"
check "import --labels wins over the graph's names" $? "rc=$rc $err"
printf 'ant\nbee\ncat\ndog\nel\377\n' >"$tmp/latin1.txt"
run "$BIN" export --weights "$tmp/odd.safetensors" --labels "$tmp/latin1.txt" -o "$tmp/latin1.onnx"
[ "$rc" -eq 1 ] && [ ! -e "$tmp/latin1.onnx" ] && echo "$err" | grep -q "latin1.txt: name 4 (line 5) is not UTF-8"
check "export --labels with a name that is not UTF-8: refused in one line, nothing written" $? "rc=$rc $err"
if /usr/bin/python3 -c 'import onnx' 2>/dev/null; then
  /usr/bin/python3 -c '
import json, onnx, sys
m = onnx.load(sys.argv[1]); onnx.checker.check_model(m)
props = {p.key: p.value for p in m.metadata_props}
assert props["resnet.norm"] == "torch", props
assert json.loads(props["resnet.labels"]) == open(sys.argv[2], "rb").read().decode().split("\n")[:-1], props' \
    "$tmp/odd.onnx" "$tmp/odd.txt" 2>"$tmp/err"
  check "python onnx: the export passes onnx.checker, its metadata_props hold the names" $? "$(cat "$tmp/err")"
else
  skipped=$((skipped + 1))
  echo "skip python onnx on the export's names: /usr/bin/python3 lacks onnx (apt-get install python3-onnx)"
fi
# hand-damaged entries, each the same length as the one written: refused in one line, nothing
# written, the fix named; two entries refused as two resnet.norm are
damage() { # FROM TO OUT: the plain graph with its names' bytes FROM replaced by TO
  "$py" -c 'import os, sys; d = open(sys.argv[1], "rb").read(); a, b = (os.fsencode(s) for s in sys.argv[2:4])
assert len(a) == len(b) and d.count(a) == 1; open(sys.argv[4], "wb").write(d.replace(a, b))' "$tmp/plain.onnx" "$@"
}
damage '","elk"]' '"]      ' "$tmp/d1.onnx"
damage '"elk"]' '"elk",' "$tmp/d2.onnx"
damage '"elk"' $'"e\xffk"' "$tmp/d3.onnx"
damage '"ant"' '["a"]' "$tmp/d4.onnx"
"$py" -c 'import sys; d = open(sys.argv[1], "rb").read(); v = b"[\"a\",\"b\",\"c\",\"d\",\"e\"]"
e = b"\x0a\x0dresnet.labels\x12" + bytes([len(v)]) + v
open(sys.argv[2], "wb").write(d + b"\x72" + bytes([len(e)]) + e)' "$tmp/plain.onnx" "$tmp/d5.onnx"
whys=("has 4 names, the network has 5 classes" "not valid JSON" "invalid UTF-8" "entry 0 is not a name"
  "two resnet.labels metadata entries")
for k in 1 2 3 4 5; do
  run "$BIN" import "$tmp/d$k.onnx" -o "$tmp/d$k.safetensors"
  [ "$rc" -eq 1 ] && [ ! -e "$tmp/d$k.safetensors" ] && [ "$(echo "$err" | grep -c .)" -eq 1 ] &&
    echo "$err" | grep -q "resnet.labels" && echo "$err" | grep -q "${whys[k - 1]}"
  check "import refuses damaged names ($k: ${whys[k - 1]}) in one line, nothing written" $? "rc=$rc $err"
done
run "$BIN" import --labels "$tmp/odd.txt" "$tmp/d3.onnx" -o "$tmp/d3.safetensors"
labels_of "$tmp/d3.safetensors" "$tmp/odd.txt"
check "import --labels: the way past a damaged entry (not read)" $? "rc=$rc $err"

echo "not a model" >"$tmp/mine.onnx"
run "$BIN" export --weights "$FAM/small_basic.safetensors" -o "$tmp/mine.onnx"
[ "$rc" -eq 1 ] && [ "$(cat "$tmp/mine.onnx")" = "not a model" ]
check "an existing file of another kind is not replaced without --force" $? "rc=$rc $err"
summary
