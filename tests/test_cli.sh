#!/usr/bin/env bash
# test_cli.sh - the `resnet` command as a user meets it: the demo photos, JSON output,
# and every kind of bad input (a clear one-line error, a non-zero exit, no crash).
# Run by tests/run.sh, which sets RESNET_BIN, RESNET_SHARED and RESNET_TEST_V1_CAFFE.
# Tier 1 uses the repository's photos (demo/, tests/data/golden/chelsea.jpg); the checks on
# ../shared's photos are skipped, one line each, when it is not there.
set -u
. "$(dirname "$0")/common.sh" # BIN, SHARED, tmp, check, have_shared, run, summary
export RESNET_WEIGHTS=${RESNET_TEST_V1_CAFFE:?run through tests/run.sh} W=$RESNET_TEST_V1_CAFFE
CAT=demo/chelsea.png CUP=demo/coffee.png CAT_JPG=tests/data/golden/chelsea.jpg

# one line on stderr, naming $1, exit code $2 (crash = 128+)
expect_error() {
  local name=$1 word=$2 code=$3
  local lines; lines=$(printf '%s\n' "$err" | grep -c .)
  [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && printf '%s' "$err" | grep -qF -- "$word"
  check "$name" $? "rc=$rc (want $code), stderr: $err"
}

# the command line itself (options, --help, stdin, JSON records, odd names, man page, install):
# demo photos and files made here only
. "$(dirname "$0")/cli_args.sh"

run "$BIN" classify "$CAT" "$CUP"
echo "$out" | sed 's/^/     /'
[ "$rc" -eq 0 ] && [ "$(echo "$out" | sed -n 2p | sed 's/.*  [0-9]*  //')" = "Egyptian cat" ] &&
  [ "$(echo "$out" | sed -n 8p | sed 's/.*  [0-9]*  //')" = "espresso" ]
check "demo chelsea.png is an Egyptian cat, coffee.png an espresso" $? "rc=$rc"

if have_shared images/seed "seed cat.jpg is a tiger cat, dog.jpg a Samoyed"; then
  run "$BIN" classify "$SHARED/images/seed/cat.jpg" "$SHARED/images/seed/dog.jpg"
  echo "$out" | sed 's/^/     /'
  [ "$rc" -eq 0 ] && [ "$(echo "$out" | sed -n 2p | sed 's/.*  [0-9]*  //')" = "tiger cat" ] &&
    [ "$(echo "$out" | sed -n 8p | sed 's/.*  [0-9]*  //')" = "Samoyed" ]
  check "seed cat.jpg is a tiger cat, dog.jpg a Samoyed" $? "rc=$rc"
fi

run "$BIN" classify --json -k 3 "$CUP" "$CAT_JPG"
node -e '
  const lines = require("fs").readFileSync(0, "utf8").trim().split("\n");
  if (lines.length !== 2) throw new Error("want 2 lines");
  for (const l of lines) {
    const o = JSON.parse(l);
    if (typeof o.file !== "string" || o.top.length !== 3) throw new Error("shape: " + l);
    for (let i = 0; i < 3; i++) {
      const t = o.top[i];
      if (!(t.index >= 0 && t.index < 1000 && typeof t.name === "string" && t.prob > 0 && t.prob <= 1)) throw new Error(l);
      if (i && t.prob > o.top[i - 1].prob) throw new Error("not best first: " + l);
    }
  }
  if (JSON.parse(lines[0]).top[0].index !== 967) throw new Error("espresso");
' <<<"$out" 2>"$tmp/node"
check "--json: one valid object per photo, -k 3, best first" $? "$(cat "$tmp/node") $out"

run "$BIN" classify -k 1 "$CUP"
[ "$rc" -eq 0 ] && [ "$(echo "$out" | wc -l)" -eq 2 ] && echo "$out" | grep -q espresso
check "-k 1 prints one class (espresso)" $? "$out"

# bad photos: reported with the file name, the rest still classified, exit 1
printf 'hello, not an image\n' >"$tmp/notes.jpg"
head -c 3000 "$CAT_JPG" >"$tmp/truncated.jpg"
mkdir "$tmp/dir.png"
: >"$tmp/empty.png"
for bad in "$tmp/missing.jpg" "$tmp/notes.jpg" "$tmp/truncated.jpg" "$tmp/dir.png" "$tmp/empty.png"; do
  run "$BIN" classify "$bad" "$CUP"
  lines=$(printf '%s\n' "$err" | grep -c .)
  [ "$rc" -eq 1 ] && [ "$lines" -eq 1 ] && printf '%s' "$err" | grep -qF "$bad" && echo "$out" | grep -q espresso
  check "bad photo $(basename "$bad"): one error line, the other photo classified" $? "rc=$rc err=$err"
  echo "     $err"
done

# bad flags and commands: usage error, exit 2
run "$BIN" classify --frobnicate "$CAT";  expect_error "unknown flag" "--frobnicate" 2
run "$BIN" classify -k 0 "$CAT";         expect_error "-k 0" "-k" 2
run "$BIN" classify -k 12x "$CAT";       expect_error "-k 12x" "12x" 2
run "$BIN" classify;                                            expect_error "no photo" "no photo" 2
run "$BIN" frobnicate;                                          expect_error "unknown command" "frobnicate" 2
run "$BIN" bench --threads -1;                                  expect_error "bench --threads -1" "--threads" 2
run "$BIN" classify --kernels sse9 "$CAT"; expect_error "unknown kernel path" "sse9" 2

# bad weight files: exit 1, the file named, nothing classified
head -c 1000000 "$W" >"$tmp/short.safetensors"
run "$BIN" classify --weights "$tmp/short.safetensors" "$CAT"
expect_error "truncated weights" "$tmp/short.safetensors" 1
printf 'not a safetensors file at all' >"$tmp/junk.safetensors"
run "$BIN" classify --weights "$tmp/junk.safetensors" "$CAT"
expect_error "junk weights" "$tmp/junk.safetensors" 1
RESNET_WEIGHTS=$tmp/nope.safetensors run "$BIN" classify "$CAT"
expect_error "RESNET_WEIGHTS pointing nowhere" "$tmp/nope.safetensors" 1
env -u RESNET_WEIGHTS RESNET_CACHE="$tmp/emptycache" "$BIN" classify "$CAT" >"$tmp/out" 2>"$tmp/err"
rc=$?; err=$(cat "$tmp/err")
expect_error "no default weights: says how to get them" "make weights" 1

# --labels files as editors save them: a UTF-8 byte-order mark (Notepad) is not part of name 0
{ printf '\357\273\277'; for i in $(seq 0 999); do echo "c$i"; done; } >"$tmp/bom.txt"
run "$BIN" classify --json -k 1000 --labels "$tmp/bom.txt" "$CUP"
[ "$rc" -eq 0 ] && printf '%s' "$out" | grep -q '"index": 0, "name": "c0",'
check "--labels: a byte-order mark is not part of name 0" $? "rc=$rc $err $(printf '%s' "$out" | grep -o '"index": 0, "name": "[^"]*"' | od -c | head -2)"

# and a UTF-16 one (Notepad's "Unicode") is not a names file: said so, not "has 1 names"
for i in $(seq 0 999); do echo "c$i"; done | iconv -f UTF-8 -t UTF-16 >"$tmp/utf16.txt"
run "$BIN" classify --labels "$tmp/utf16.txt" "$CUP"; expect_error "--labels in UTF-16: said so" "NUL byte" 1

# export writes fp32 graphs: --precision bf16 is refused, not dropped for an fp32 graph
run "$BIN" export --precision bf16 -o "$tmp/bf16.onnx"
[ "$rc" -eq 2 ] && [ ! -e "$tmp/bf16.onnx" ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && echo "$err" | grep -q -- "--precision"
check "export --precision bf16: refused in one line, nothing written" $? "rc=$rc $err"

# import: bad input is refused and no output file appears
run "$BIN" import "$tmp/missing/model.json" -o "$tmp/out.safetensors"
[ "$rc" -eq 1 ] && [ ! -e "$tmp/out.safetensors" ]
check "import of a missing model.json fails and writes nothing" $? "rc=$rc $err"

# bench runs and reports its numbers
run "$BIN" bench --iters 1 --warmup 0 --threads 1
[ "$rc" -eq 0 ] && echo "$out" | grep -q "ms per image" && echo "$out" | grep -q "GFLOP/s"
check "bench prints ms per image and GFLOP/s" $? "$out $err"

# bf16 on kernels without the dot product: the message blames the kernels when the CPU's own
# (auto) kernels have it, the CPU otherwise
run "$BIN" bench --iters 1 --warmup 0 --threads 1 --precision bf16
auto=$out
run "$BIN" bench --iters 1 --warmup 0 --threads 1 --precision bf16 --kernels c
if echo "$auto" | grep -q "kernels [a-z0-9]*+"; then want="no bf16 dot product in these kernels"
else want="no bf16 dot product on this CPU"; fi
[ "$rc" -eq 0 ] && echo "$out" | grep -q "precision bf16, kernels c ($want"
check "bench --precision bf16 --kernels c: '$want'" $? "$auto / $out $err"

# --wide-winograd reaches the planner: ResNet-50's 3x3s all Winograd, layer4's three as F(2x2)
run "$BIN" bench --iters 1 --warmup 0 --threads 1 --wide-winograd --profile
[ "$rc" -eq 0 ] && echo "$out" | grep -q "kernels [a-z0-9+]*, wide Winograd," &&
  echo "$out" | grep -Eq "Winograd F\(4x4,3x3\) +13 " && echo "$out" | grep -Eq "Winograd F\(2x2,3x3\) +3 " &&
  ! echo "$out" | grep -q "3x3 direct"
check "bench --wide-winograd: says so, 13 layers F(4x4), 3 F(2x2), none direct" $? "$out $err"

# A confident network (fc x 20): every softmax but espresso's underflows to 0, and the rest
# still come in the logits' order, not 0, 1, 2... by index (plain, with views, and eval's top 5)
use_python
"$py" -c 'import json, struct, array, sys
s = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", s[:8])[0]; h = json.loads(s[8:8 + n]); b = bytearray(s[8 + n:])
for k in ("fc.weight", "fc.bias"):
    a, e = h[k]["data_offsets"]; b[a:e] = array.array("f", [x * 20 for x in array.array("f", bytes(b[a:e]))]).tobytes()
open(sys.argv[2], "wb").write(s[:8 + n] + bytes(b))' "$W" "$tmp/sharp.safetensors"
run "$BIN" classify -k 5 --weights "$tmp/sharp.safetensors" "$CUP"
names=$(echo "$out" | sed -n '2,6p' | sed 's/.*  [0-9]*  //' | paste -sd, -)
[ "$rc" -eq 0 ] && [ "$names" = "espresso,cup,consomme,tray,coffee mug" ]
check "classify: classes whose softmax underflowed ranked by logit" $? "rc=$rc: $names"
run "$BIN" classify -k 3 --tta flip --json --weights "$tmp/sharp.safetensors" "$CUP"
[ "$rc" -eq 0 ] && echo "$out" | grep -q '"index": 967.*"index": 968.*"index": 925'
check "classify --tta flip: underflowed classes ranked by the views' mean logit" $? "rc=$rc: $out"

run "$BIN" --help
[ "$rc" -eq 0 ] && echo "$out" | grep -q "classify"
check "--help" $? "$out"

# cam, embed, similar, train-head, classify DIR and --head (issue 6)
. "$(dirname "$0")/cli_features.sh"

summary
