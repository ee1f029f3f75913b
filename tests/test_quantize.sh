#!/usr/bin/env bash
# test_quantize.sh - `resnet quantize` and int8 files as a user meets them. Tier 1 (the
# project's demo photos only): two runs give byte-identical files, the int8 file classifies
# the demo photos as fp32 does, bad calibration input writes nothing. Tier 2, where
# ../shared is beside us: on ../shared/images/samples the int8 top-1 equals fp32's wherever
# fp32's top-1 probability is above 0.5. Run by tests/run.sh (RESNET_BIN, RESNET_TEST_V1_CAFFE).
set -u
. "$(dirname "$0")/common.sh" # BIN, SHARED, tmp, check, have_shared, run, summary
export RESNET_WEIGHTS=${RESNET_TEST_V1_CAFFE:?run through tests/run.sh} W=$RESNET_TEST_V1_CAFFE
top1() { # classify output -> "file index" per photo
  awk '/^[^ ]/ {f=$0; next} f != "" {print f, $2; f=""}'
}

run "$BIN" quantize demo -o "$tmp/q1.safetensors"
[ "$rc" -eq 0 ] && [ -s "$tmp/q1.safetensors" ]
check "quantize demo -o q1 writes a file" $? "rc=$rc $err"
run "$BIN" quantize demo/coffee.png demo/chelsea.png -o "$tmp/q2.safetensors" --threads 1
cmp -s "$tmp/q1.safetensors" "$tmp/q2.safetensors"
check "a second run (files named, other order, 1 thread) is byte-identical" $? "$err"

run "$BIN" classify demo/chelsea.png demo/coffee.png
fp32=$(echo "$out" | top1)
run "$BIN" classify --weights "$tmp/q1.safetensors" demo/chelsea.png demo/coffee.png
int8=$(echo "$out" | top1)
[ "$rc" -eq 0 ] && [ -n "$fp32" ] && [ "$fp32" = "$int8" ]
check "int8 top-1 equals fp32's on the demo photos" $? "fp32: $fp32 / int8: $int8 $err"

# cam on an int8 file: its fc is int8 too (each of the 49 cells quantized as a row, as the pooled
# features are): the same class and hottest cell as fp32's on the cat
camsum() { grep -o 'class [0-9]*\|hottest at x=[0-9]* y=[0-9]*' | tr '\n' ' '; }
c32=$("$BIN" cam demo/chelsea.png -o "$tmp/cam32.png" 2>&1 | camsum)
c8=$("$BIN" cam --weights "$tmp/q1.safetensors" demo/chelsea.png -o "$tmp/cam8.png" 2>&1 | camsum)
[ -n "$c32" ] && [ "$c32" = "$c8" ] && [ -s "$tmp/cam8.png" ]
check "cam on the int8 file: fp32's class and hottest cell" $? "fp32: $c32 / int8: $c8"

run "$BIN" bench --weights "$tmp/q1.safetensors" --iters 1 --warmup 0 --profile
[ "$rc" -eq 0 ] && echo "$out" | grep -q "^precision int8, kernels" && echo "$out" | grep -q "int8 1x1 direct" &&
  echo "$out" | grep -q "int8 7x7 window rows"
check "bench names the precision, kernels and each layer's precision" $? "$out $err"
# eval says what bench says: every convolution and the fc in int8 (no fp32 kernels named)
mkdir -p "$tmp/set"
cp demo/chelsea.png "$tmp/set/a.png"
printf 'file\tlabel\na.png\t285\n' >"$tmp/set/labels.tsv"
run "$BIN" eval --weights "$tmp/q1.safetensors" "$tmp/set"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "kernels int8 [a-z0-9]* (every convolution and the fc)" && ! echo "$out" | grep -q fp32
check "eval on the int8 file names its int8 kernels for every convolution and the fc" $? "$out $err"

run "$BIN" quantize demo -o "$tmp/q3.safetensors" --limit 1
[ "$rc" -eq 0 ] && printf '%s' "$err" | grep -q "calibrated on 1 photo "
check "--limit 1 calibrates on one photo" $? "$err"

# calibrated at --size 160 --output-stride 16, the file says so and runs so unless told
# otherwise: its activation ranges are the dilated network's
run "$BIN" quantize demo -o "$tmp/q16.safetensors" --limit 1 --size 160 --output-stride 16
run "$BIN" bench --weights "$tmp/q16.safetensors" --iters 1 --warmup 0
[ "$rc" -eq 0 ] && echo "$out" | grep -q "input 160x160, output stride 16"
check "quantize --size 160 --output-stride 16: the int8 file runs at both" $? "$out $err"
run "$BIN" bench --weights "$tmp/q16.safetensors" --iters 1 --warmup 0 --size 224 --output-stride 32
[ "$rc" -eq 0 ] && echo "$out" | grep -q "input 224x224, output stride 32"
check "the int8 file's size and stride give way to --size and --output-stride" $? "$out $err"

# bad input: one line, non-zero exit, no file
mkdir "$tmp/empty" "$tmp/junk"
printf 'not a photo\n' >"$tmp/junk/a.jpg"
run "$BIN" quantize "$tmp/empty" -o "$tmp/none.safetensors"
[ "$rc" -ne 0 ] && [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] && [ ! -e "$tmp/none.safetensors" ]
check "a folder with no photo: one error line, no file" $? "rc=$rc $err"
run "$BIN" quantize demo/chelsea.png "$tmp/empty" -o "$tmp/some.safetensors"
[ "$rc" -eq 1 ] && printf '%s' "$err" | grep -qF "$tmp/empty: no photos in this folder" && [ -s "$tmp/some.safetensors" ]
check "a photo and an empty folder: the file written from the photo, the folder named, exit 1" $? "rc=$rc $err"
run "$BIN" quantize "$tmp/junk" -o "$tmp/none.safetensors"
[ "$rc" -ne 0 ] && printf '%s' "$err" | grep -q "could be read; nothing written" && [ ! -e "$tmp/none.safetensors" ] &&
  [ -z "$(ls "$tmp" | grep tmp)" ]
check "no readable photo: a clear error, no file (nor a temporary)" $? "rc=$rc $err"
run "$BIN" quantize demo -o "$W"
[ "$rc" -ne 0 ] && printf '%s' "$err" | grep -q "is the weights file (--weights) being quantized"
check "the fp32 file as the output is refused" $? "rc=$rc $err"
run "$BIN" quantize demo --weights "$tmp/q1.safetensors" -o "$tmp/q1.safetensors"
[ "$rc" -ne 0 ] && printf '%s' "$err" | grep -q "is the weights file" && ! printf '%s' "$err" | grep -q fp32
check "an int8 file as both source and output: called the weights file, not fp32" $? "rc=$rc $err"
run "$BIN" quantize demo -o "$tmp/q4.safetensors" --weights "$tmp/q1.safetensors"
[ "$rc" -ne 0 ] && printf '%s' "$err" | grep -q "already an int8 file" && [ ! -e "$tmp/q4.safetensors" ]
check "an int8 file as the source is refused" $? "rc=$rc $err"
run "$BIN" quantize demo -o "$tmp/q4.safetensors" --method kl
[ "$rc" -eq 2 ] && [ ! -e "$tmp/q4.safetensors" ]
check "an unknown --method is a usage error" $? "rc=$rc $err"
run "$BIN" quantize demo -o "$tmp/q4.safetensors" --precision bf16
[ "$rc" -eq 2 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] && printf '%s' "$err" | grep -q -- "--precision bf16" &&
  ! printf '%s' "$err" | grep -q int8\ file && [ ! -e "$tmp/q4.safetensors" ]
check "quantize --precision bf16 is a usage error, not 'already an int8 file'" $? "rc=$rc $err"
"$BIN" convert --precision bf16 "$W" -o "$tmp/b.safetensors" 2>/dev/null
run "$BIN" quantize demo -o "$tmp/q4.safetensors" --weights "$tmp/b.safetensors"
[ "$rc" -eq 1 ] && printf '%s' "$err" | grep -q "is a bf16 file; quantize takes fp32" && [ ! -e "$tmp/q4.safetensors" ]
check "a bf16 file as the source: called bf16" $? "rc=$rc $err"
# --precision fp32 asked of a file that is not fp32: one line, exit 1, not a quiet run in its precision
for fp in q1:an\ int8 b:a\ bf16; do
  f=${fp%%:*} p=${fp##*:}
  run "$BIN" classify --weights "$tmp/$f.safetensors" --precision fp32 demo/chelsea.png
  [ "$rc" -eq 1 ] && [ -z "$out" ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] &&
    printf '%s' "$err" | grep -q "$tmp/$f.safetensors: is $p file: --precision fp32"
  check "classify --precision fp32 on $p file is refused" $? "rc=$rc $out $err"
done
run "$BIN" classify --weights "$tmp/q1.safetensors" demo/chelsea.png
[ "$rc" -eq 0 ] && printf '%s' "$out" | grep -q "Egyptian cat\|tabby\|tiger cat"
check "without --precision the int8 file runs as int8" $? "rc=$rc $out $err"

# tier 2: the shared samples, int8 calibrated on the demo photos and the samples themselves
S=$SHARED/images/samples
if have_shared images/samples "samples: int8 top-1 = fp32 top-1 wherever fp32 prob > 0.5"; then
  run "$BIN" quantize demo "$S" -o "$tmp/qs.safetensors"
  [ "$rc" -eq 0 ]
  check "quantize on the samples" $? "$err"
  "$BIN" classify --json -k 1 "$S" >"$tmp/fp32.json" 2>/dev/null
  "$BIN" classify --json -k 1 --weights "$tmp/qs.safetensors" "$S" >"$tmp/int8.json" 2>/dev/null
  node -e '
    const fs = require("fs");
    const rd = f => Object.fromEntries(fs.readFileSync(f, "utf8").trim().split("\n").map(JSON.parse).filter(o => o.top).map(o => [o.file, o.top[0]]));
    const a = rd(process.argv[1]), b = rd(process.argv[2]);
    let n = 0, bad = [];
    for (const f in a) if (a[f].prob > 0.5) { n++; if (!b[f] || b[f].index !== a[f].index) bad.push(f); }
    console.log(`     ${n} samples with fp32 top-1 prob > 0.5; int8 differs on ${bad.length}`);
    if (n === 0 || bad.length) { console.error(bad.join(" ")); process.exit(1); }
  ' "$tmp/fp32.json" "$tmp/int8.json"
  check "samples: int8 top-1 = fp32 top-1 wherever fp32 prob > 0.5" $? ""
fi

summary
