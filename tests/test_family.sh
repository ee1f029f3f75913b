#!/usr/bin/env bash
# test_family.sh - other ResNets from the command line, as a user with their own network meets
# them: the narrow networks of tests/data/family/ (torchvision's layouts, PyTorch's answers
# beside them: tools/make-family.py) classified with their own classes, named by --labels or by
# `resnet label`, at another --size, as backbones (embed --stage, --output-stride), quantized
# (basic blocks too); and the refusals, each one line naming the problem, nothing written.
# Run by tests/run.sh (RESNET_BIN).
set -u
. "$(dirname "$0")/common.sh" # BIN, tmp, check, run, summary
use_python numpy
FAM=tests/data/family
G=$FAM/small_grouped.safetensors B=$FAM/small_basic.safetensors N=$FAM/small_bottleneck.safetensors
for i in 0 1 2 3 4 5 6 7 8 9; do echo "kind $i"; done >"$tmp/names.txt"

# with_classes SRC DST N: SRC's network with an fc of N classes, its metadata's labels dropped:
# SRC's first N classes when it has that many, else random weights for every class; N 0: no
# fc at all (a backbone).
with_classes() {
  "$py" - "$@" <<'PY'
import json, struct, sys
import numpy as np
src, dst, classes = sys.argv[1], sys.argv[2], int(sys.argv[3])
raw = open(src, 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
head, data = json.loads(raw[8:8 + n]), raw[8 + n:]
out, blobs, off = {}, [], 0
for name, t in head.items():
    if name == '__metadata__':
        out[name] = {k: v for k, v in t.items() if k != 'labels'}
        continue
    b = data[t['data_offsets'][0]:t['data_offsets'][1]]
    shape = t['shape']
    if name in ('fc.weight', 'fc.bias') and classes == 0:
        continue
    if name in ('fc.weight', 'fc.bias'):
        if classes <= shape[0]:
            b = b[:len(b) // shape[0] * classes]
        else:
            b = np.random.default_rng(1).standard_normal(classes * (len(b) // shape[0] // 4)).astype('<f4').tobytes()
        shape = [classes] + shape[1:]
    out[name] = {'dtype': t['dtype'], 'shape': shape, 'data_offsets': [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
h = json.dumps(out).encode()
h += b' ' * (-len(h) % 8)
open(dst, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
PY
}

# the top class by PyTorch's logits (the committed reference) and by ours
ref_top() { "$py" -c "import numpy as n, sys; print(int(n.fromfile(sys.argv[1], '<f4').argmax()))" "$1"; }
run "$BIN" classify --json -k 10 --weights "$G" demo/chelsea.png
want=$(ref_top $FAM/small_grouped.chelsea.224.os32.logits.f32)
got=$(echo "$out" | "$py" -c "import json, sys; r = json.loads(sys.stdin.readline()); print(r['top'][0]['index'], len(r['top']), r['top'][0]['name'])")
[ "$rc" -eq 0 ] && [ "$got" = "$want 10 class $want" ]
check "a 10-class grouped network: PyTorch's top class, 10 classes, named 'class N'" $? "rc=$rc got '$got' want $want $err"

run "$BIN" classify --json -k 20 --weights "$G" demo/chelsea.png
got=$(echo "$out" | "$py" -c "import json, sys; print(len(json.loads(sys.stdin.readline())['top']))")
[ "$rc" -eq 0 ] && [ "$got" = 10 ]
check "-k 20 on 10 classes gives the 10" $? "rc=$rc got $got $err"

# more classes than ImageNet's 1000: -k is bound by the network's, not by 1000
with_classes "$G" "$tmp/wide.safetensors" 1200
run "$BIN" classify --json -k 1100 --weights "$tmp/wide.safetensors" demo/chelsea.png
got=$(echo "$out" | "$py" -c "import json, sys; print(len(json.loads(sys.stdin.readline())['top']))" 2>/dev/null)
[ "$rc" -eq 0 ] && [ "$got" = 1100 ]
check "-k 1100 on a 1200-class network gives 1100 classes" $? "rc=$rc got $got $err"

run "$BIN" classify --json -k 1 --weights "$G" --labels "$tmp/names.txt" demo/chelsea.png
echo "$out" | grep -q "\"name\": \"kind $want\""
check "--labels names the classes in the JSON records" $? "$out $err"

run "$BIN" classify --json -k 1 --weights "$G" --size 160 demo/chelsea.png
want160=$(ref_top $FAM/small_grouped.chelsea.160.os32.logits.f32)
echo "$out" | grep -q "\"index\": $want160,"
check "--size 160: PyTorch's top class at that size" $? "want $want160: $out $err"

run "$BIN" label --weights "$G" --labels "$tmp/names.txt" "$G" -o "$tmp/g.safetensors"
[ "$rc" -ne 0 ]
check "label takes no --weights (one line, usage)" $? "rc=$rc $err"
run "$BIN" label --labels "$tmp/names.txt" "$G" -o "$tmp/g.safetensors"
[ "$rc" -eq 0 ] && [ -s "$tmp/g.safetensors" ]
check "label writes a file" $? "rc=$rc $err"
run "$BIN" classify --json -k 1 --weights "$tmp/g.safetensors" demo/chelsea.png
echo "$out" | grep -q "\"name\": \"kind $want\""
check "the labelled file names its classes without --labels" $? "$out $err"
head -3 "$tmp/names.txt" >"$tmp/three.txt"
cp "$G" "$tmp/keep.safetensors"
run "$BIN" label --labels "$tmp/three.txt" "$G" -o "$tmp/keep.safetensors"
[ "$rc" -eq 1 ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && echo "$err" | grep -q "3 names, the network has 10 classes" &&
  cmp -s "$G" "$tmp/keep.safetensors"
check "3 names for 10 classes: refused in one line, the output untouched" $? "rc=$rc $err"
run "$BIN" label --labels "$tmp/names.txt" "$G" -o "$G"
[ "$rc" -ne 0 ]
check "label -o onto its own input refused" $? "rc=$rc $err"

# eval scores a network's own classes: class folders named by index or by class name ('_' for
# a space), labels.tsv by either; what names no class is skipped, saying so
other=$(((want + 1) % 10))
ev=$tmp/ev
mkdir -p "$ev/kind_$want" "$ev/$other" "$ev/nope"
cp demo/chelsea.png "$ev/kind_$want/a.png"
cp demo/chelsea.png "$ev/$other/b.png"
cp demo/coffee.png "$ev/nope/c.png"
run "$BIN" eval --json --weights "$tmp/g.safetensors" "$ev"
got=$(echo "$out" | "$py" -c "
import json, sys
r = json.loads(sys.stdin.read())
c = r['confused'][0] if r['confused'] else {}
print(r['images'], r['top1_correct'], r['skipped'], c.get('label'), c.get('label_name'), c.get('top1'), c.get('top1_name'),
      sorted(x['label'] for x in r['records']), len(r['records'][0]['top']))" 2>&1)
[ "$rc" -eq 1 ] && [ "$got" = "2 1 1 $other kind $other $want kind $want [$want, $other] 5" ] &&
  [ "$(echo "$err" | wc -l)" -eq 1 ] && echo "$err" | grep -q "nope: 'nope' is not a class of this network (an index 0..9 or one"
check "eval of a labelled 10-class network: folders by name and index, a stray folder skipped" $? \
  "rc=$rc got '$got' $err"
cp "$tmp/out" "$tmp/ev.json"
run "$BIN" eval --weights "$tmp/g.safetensors" --report "$tmp/ev.html" "$ev"
"$py" tests/report_check.py "$tmp/ev.html" "$tmp/ev.json" >"$tmp/check" 2>&1
[ $? -eq 0 ] && grep -q "^ok   pictures: one per confusion, two per mistake" "$tmp/check" && grep -q "kind $other" "$tmp/ev.html"
check "eval --report of the 10-class network: its numbers, names and maps (report_check.py)" $? \
  "rc=$rc $err $(grep FAIL "$tmp/check")"
rm -r "$ev/nope" "$ev/$other"
for f in b c d; do cp demo/chelsea.png "$ev/kind_$want/$f.png"; done
printf 'file\tclass\nkind_%s/a.png\tKind %s\nkind_%s/b.png\t%s\nkind_%s/c.png\tno such\nkind_%s/d.png\t12\n' \
  "$want" "$want" "$want" "$other" "$want" "$want" >"$ev/labels.tsv"
run "$BIN" eval --weights "$tmp/g.safetensors" "$ev"
[ "$rc" -eq 1 ] && echo "$out" | grep -q "top-1 0.5000 (1/2)" && [ "$(echo "$err" | wc -l)" -eq 2 ] &&
  echo "$err" | grep -q "c.png: 'no such' is not a class of this network" && echo "$err" | grep -q "outside 0..9"
check "labels.tsv names a class or gives its index; an unknown name and index 12 refused" $? "rc=$rc $out $err"

# a header whose class column happens to be a class name is still the header (its file column
# is no photo); a missing DIR is told before the network is loaded
printf 'photo\tkind %s\nkind_%s/a.png\tkind %s\n' "$want" "$want" "$want" >"$ev/labels.tsv"
run "$BIN" eval --weights "$tmp/g.safetensors" "$ev"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "top-1 1.0000 (1/1)" && [ -z "$err" ]
check "labels.tsv: a header naming a class ('photo<TAB>kind N') is not a photo" $? "rc=$rc $out $err"
run "$BIN" eval --weights "$tmp/no-such.safetensors" "$tmp/no-such-dir"
[ "$rc" -eq 1 ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && echo "$err" | grep -q "no-such-dir: No such file"
check "eval: a missing folder said before the network is loaded" $? "rc=$rc $err"

# classes named with numbers ("1".."10"): digits are an index unless another class bears them
# as its name; then neither is guessed. "10" (no class 10) is the class named "10", "0" (no
# class so named) is class 0
seq 1 10 >"$tmp/digits.txt"
run "$BIN" label --labels "$tmp/digits.txt" "$G" -o "$tmp/digits.safetensors"
evd=$tmp/evd
mkdir -p "$evd/0" "$evd/1" "$evd/10"
for d in 0 1 10; do cp demo/chelsea.png "$evd/$d/a.png"; done
for f in b c d; do cp demo/chelsea.png "$evd/0/$f.png"; done
run "$BIN" eval --weights "$tmp/digits.safetensors" --predictions "$tmp/pd.tsv" "$evd"
[ "$rc" -eq 1 ] && [ "$(echo "$err" | wc -l)" -eq 1 ] &&
  echo "$err" | grep -q "evd/1: '1' is class 1 by index but the name of another class" &&
  grep -q "^0/a.png	0	" "$tmp/pd.tsv" && grep -q "^10/a.png	9	" "$tmp/pd.tsv" && ! grep -q "^1/" "$tmp/pd.tsv"
check "eval: classes named '1'..'10': folder 1 refused (index or name?), 10 the name, 0 the index" $? \
  "rc=$rc $err $(<"$tmp/pd.tsv")"
printf 'file\tclass\n0/a.png\t0\n0/b.png\t1\n0/c.png\t10\n0/d.png\t 11\n' >"$evd/labels.tsv"
run "$BIN" eval --weights "$tmp/digits.safetensors" --predictions "$tmp/pd.tsv" "$evd"
[ "$rc" -eq 1 ] && [ "$(echo "$err" | wc -l)" -eq 2 ] && echo "$err" | grep -q "line 3: 0/b.png: '1' is class 1 by index" &&
  echo "$err" | grep -q "class 11 is outside 0..9" && [ "$(cut -f2 "$tmp/pd.tsv" | tail -n +2 | tr '\n' ' ')" = "0 9 " ]
check "eval: the same in labels.tsv (1 refused, 10 the name, 0 the index, 11 outside)" $? "rc=$rc $err $(<"$tmp/pd.tsv")"
rm "$evd/labels.tsv"
run "$BIN" cam --weights "$tmp/digits.safetensors" -c 1 demo/chelsea.png -o "$tmp/cam_d.png"
[ "$rc" -eq 2 ] && echo "$err" | grep -q "'1' is class 1 by index but the name of another class" && [ ! -e "$tmp/cam_d.png" ]
check "cam -c 1 on classes named '1'..'10': refused as eval refuses it" $? "rc=$rc $err"
run "$BIN" cam --weights "$tmp/digits.safetensors" -c 10 demo/chelsea.png -o "$tmp/cam_d.png"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "class 9 10 ("
check "cam -c 10 on classes named '1'..'10': the class named 10" $? "rc=$rc $out $err"
# the same number written otherwise is the same question: "01" (zero-padded folders, sorted)
# is class 1 by index and the number class 0 is named by; "+1" in labels.tsv too. "010", no
# class's index, is the class named "10". A refused first line of labels.tsv is a photo's
# line, said, not taken for the header
evz=$tmp/evz
mkdir -p "$evz/01" "$evz/09" "$evz/010"
for d in 01 09 010; do cp demo/chelsea.png "$evz/$d/a.png"; done
for f in b c d; do cp demo/chelsea.png "$evz/01/$f.png"; done
run "$BIN" eval --weights "$tmp/digits.safetensors" --predictions "$tmp/pz.tsv" "$evz"
[ "$rc" -eq 1 ] && [ "$(echo "$err" | wc -l)" -eq 2 ] &&
  echo "$err" | grep -q "evz/01: '01' is class 1 by index but the name of another class (class 0, '1')" &&
  echo "$err" | grep -q "evz/09: '09' is class 9 by index but the name of another class (class 8, '9')" &&
  [ "$(cut -f1,2 "$tmp/pz.tsv" | tail -n +2 | tr '\n\t' '  ')" = "010/a.png 9 " ]
check "eval: classes named '1'..'10': folders 01 and 09 refused (same numbers), 010 the class named 10" $? \
  "rc=$rc $err $(<"$tmp/pz.tsv")"
printf '01/a.png\t1\n01/b.png\t+1\n01/c.png\t01\n01/d.png\t 010 \n' >"$evz/labels.tsv"
run "$BIN" eval --weights "$tmp/digits.safetensors" --predictions "$tmp/pz.tsv" "$evz"
[ "$rc" -eq 1 ] && [ "$(echo "$err" | wc -l)" -eq 3 ] && echo "$err" | grep -q "line 1: 01/a.png: '1' is class 1 by index" &&
  echo "$err" | grep -q "line 2: 01/b.png: '+1' is class 1 by index" &&
  echo "$err" | grep -q "line 3: 01/c.png: '01' is class 1 by index" &&
  [ "$(cut -f2 "$tmp/pz.tsv" | tail -n +2 | tr '\n' ' ')" = "9 " ]
check "eval: labels.tsv: 1, +1, 01 refused (line 1 too, no header), ' 010 ' the class named 10" $? \
  "rc=$rc $err $(<"$tmp/pz.tsv")"
run "$BIN" cam --weights "$tmp/digits.safetensors" -c 01 demo/chelsea.png -o "$tmp/cam_z.png"
[ "$rc" -eq 2 ] && echo "$err" | grep -q "'01' is class 1 by index but the name of another class" && [ ! -e "$tmp/cam_z.png" ]
check "cam -c 01 on classes named '1'..'10': refused as 1 is" $? "rc=$rc $err"
# classes named by their own indices ("0".."9"): each number is one class however written
seq 0 9 >"$tmp/own.txt"
run "$BIN" label --labels "$tmp/own.txt" "$G" -o "$tmp/own.safetensors"
run "$BIN" eval --weights "$tmp/own.safetensors" --predictions "$tmp/pw.tsv" "$evz"
[ "$rc" -eq 1 ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && echo "$err" | grep -q "evz/01/d.png: class 10 is outside 0..9.*line 4)" &&
  [ "$(cut -f2 "$tmp/pw.tsv" | tail -n +2 | tr '\n' ' ')" = "1 1 1 " ]
check "eval: classes named '0'..'9': 1, +1 and 01 are class 1, nothing refused" $? "rc=$rc $err $(<"$tmp/pw.tsv")"
# two classes named "10" and no class 10: neither is picked
{ seq 1 8; echo 10; echo 10; } >"$tmp/twice.txt"
run "$BIN" label --labels "$tmp/twice.txt" "$G" -o "$tmp/twice.safetensors"
run "$BIN" cam --weights "$tmp/twice.safetensors" -c 10 demo/chelsea.png -o "$tmp/cam_t.png"
[ "$rc" -eq 2 ] && echo "$err" | grep -q "'10' names more than one class of this network" && [ ! -e "$tmp/cam_t.png" ]
check "cam -c 10 on two classes named '10': refused, neither picked" $? "rc=$rc $out $err"

# a name as written wins: "hot_dog" and "hot dog" are two classes of one network ('_' for ' '
# only when no name is written so), "HOT_DOG" is both (refused, asking for the index); a
# network's names are its owner's text: their control characters never reach the terminal
# (eval's confusions, cam's line)
h1=$(((want + 2) % 10)) h2=$(((want + 3) % 10))
for i in 0 1 2 3 4 5 6 7 8 9; do
  if [ "$i" -eq "$other" ]; then printf 'esc\033[31mred\n'
  elif [ "$i" -eq "$h1" ]; then echo "hot_dog"
  elif [ "$i" -eq "$h2" ]; then echo "hot dog"
  else echo "kind $i"; fi
done >"$tmp/odd.txt"
run "$BIN" label --labels "$tmp/odd.txt" "$G" -o "$tmp/odd.safetensors"
evo=$tmp/evo
mkdir -p "$evo/hot_dog" "$evo/hot dog" "$evo/HOT_DOG" "$evo/$other"
for d in "hot_dog" "hot dog" "HOT_DOG" "$other"; do cp demo/chelsea.png "$evo/$d/a.png"; done
run "$BIN" eval --weights "$tmp/odd.safetensors" --predictions "$tmp/po.tsv" "$evo"
esc=$(printf '\033')
[ "$rc" -eq 1 ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && echo "$err" | grep -q "HOT_DOG: 'HOT_DOG' names more than one class" &&
  grep -q "^hot_dog/a.png	$h1	" "$tmp/po.tsv" && grep -q "^hot dog/a.png	$h2	" "$tmp/po.tsv"
check "eval: 'hot_dog' and 'hot dog' each their own class, 'HOT_DOG' refused asking for the index" $? \
  "rc=$rc $err $(<"$tmp/po.tsv")"
! grep -q "$esc" "$tmp/out" && grep -qF "esc\x1b[31mred ($other) -> " "$tmp/out"
check "eval: a class name's control characters not shown raw in the confusions" $? "${out//$esc/^[}"
run "$BIN" cam --weights "$tmp/odd.safetensors" -c "$other" demo/chelsea.png -o "$tmp/cam_odd.png"
[ "$rc" -eq 0 ] && ! grep -q "$esc" "$tmp/out" && grep -qF 'esc\x1b[31mred' "$tmp/out"
check "cam: a class name's control characters not shown raw" $? "rc=$rc ${out//$esc/^[} $err"

# fewer than 5 classes: top-5 is top-3, and the predictions name 3
with_classes "$N" "$tmp/three.safetensors" 3
run "$BIN" classify --json -k 3 --weights "$tmp/three.safetensors" demo/chelsea.png
third=$(echo "$out" | "$py" -c "import json, sys; print(json.loads(sys.stdin.readline())['top'][2]['index'])")
mkdir -p "$tmp/ev3/$third" && cp demo/chelsea.png "$tmp/ev3/$third/"
run "$BIN" eval --weights "$tmp/three.safetensors" --predictions "$tmp/p3.tsv" "$tmp/ev3"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "top-1 0.0000 (0/1)" && echo "$out" | grep -q "top-3 1.0000 (1/1)" &&
  [ "$(tail -1 "$tmp/p3.tsv" | cut -f5 | tr ',' '\n' | wc -l)" -eq 3 ]
check "a 3-class network: its third class counts in top-3, the predictions list 3" $? "rc=$rc third=$third $out $err"

# one output (fc to 1: a binary classifier trained with BCEWithLogitsLoss): its probability is
# the sigmoid of its logit, the probability that the photo is its class, where a softmax of one
# value said 100% for every photo. PyTorch's logits of N's class 0 give the expected values.
with_classes "$N" "$tmp/one.safetensors" 1
sigmoid_of() { "$py" -c "import numpy as n, sys; x = float(n.fromfile(sys.argv[1], '<f4')[0]); print('%.9f' % (1 / (1 + n.exp(-x))))" "$1"; }
p_cat=$(sigmoid_of $FAM/small_bottleneck.chelsea.224.os32.logits.f32)
p_cup=$(sigmoid_of $FAM/small_bottleneck.coffee.224.os32.logits.f32)
near() { "$py" -c "import sys; a = [float(x) for x in sys.argv[1].split()]; b = [float(x) for x in sys.argv[2].split()]; sys.exit(not (len(a) == len(b) > 0 and all(abs(x - y) <= 1e-5 for x, y in zip(a, b))))" "$1" "$2"; }
run "$BIN" classify --json -k 5 --weights "$tmp/one.safetensors" demo/chelsea.png demo/coffee.png
got=$(echo "$out" | "$py" -c "
import json, sys
for l in sys.stdin:
    t = json.loads(l)['top']
    print(len(t), t[0]['index'], t[0]['prob'])" 2>&1 | tr '\n' ' ')
set -- $got
[ "$rc" -eq 0 ] && [ "$1 $2 $4 $5" = "1 0 1 0" ] && near "$3 $6" "$p_cat $p_cup"
check "one output: classify gives sigmoid(logit) of PyTorch's logit, -k 5 the one class" $? \
  "rc=$rc got '$got' want $p_cat $p_cup $err"
run "$BIN" classify -k 3 --weights "$tmp/one.safetensors" demo/chelsea.png
want=$("$py" -c "import sys; print('%6.2f%%    0  class 0' % (100 * float(sys.argv[1])))" "$p_cat")
[ "$rc" -eq 0 ] && [ "$(echo "$out" | sed -n 2p)" = "  $want" ] && [ "$(echo "$out" | wc -l)" -eq 2 ]
check "one output: the text output's percentage is the sigmoid" $? "rc=$rc want '$want' $out $err"
mkdir -p "$tmp/onef" && cp demo/chelsea.png demo/coffee.png "$tmp/onef/"
run "$BIN" classify --weights "$tmp/one.safetensors" "$tmp/onef"
[ "$rc" -eq 0 ] && echo "$err" | grep -q "^resnet: 0 of 2 classified as class 0 (p >= 0.5)$" && ! echo "$err" | grep -q "top-1"
check "one output: a folder's summary counts the photos at p >= 0.5" $? "rc=$rc $err"
run "$BIN" classify --weights "$tmp/one.safetensors" --report "$tmp/one.html" "$tmp/onef"
[ "$rc" -eq 0 ] && grep -q '<h2 class="group">2 &times; not class 0 <span class="small">(p &lt; 0.5)</span>' "$tmp/one.html" &&
  [ "$(grep -c '<h2 class="group">' "$tmp/one.html")" -eq 1 ]
check "one output: classify --report groups the photos by p >= 0.5, not all under the one class" $? "rc=$rc $err"
# --tta flip: the mean of the two views' sigmoids, each view's logit taken from the CLI's own
# --tta none on the mirror image
"$py" -c "
from PIL import Image; import sys
Image.open('demo/chelsea.png').convert('RGB').transpose(Image.FLIP_LEFT_RIGHT).save(sys.argv[1])" "$tmp/mirror.png" 2>/dev/null
if [ -s "$tmp/mirror.png" ]; then
  run "$BIN" classify --json --weights "$tmp/one.safetensors" "$tmp/mirror.png"
  p_mirror=$(echo "$out" | "$py" -c "import json, sys; print(json.loads(sys.stdin.readline())['top'][0]['prob'])")
  run "$BIN" classify --json --tta flip --weights "$tmp/one.safetensors" demo/chelsea.png
  got=$(echo "$out" | "$py" -c "import json, sys; print(json.loads(sys.stdin.readline())['top'][0]['prob'])")
  mean=$("$py" -c "import sys; print((float(sys.argv[1]) + float(sys.argv[2])) / 2)" "$p_cat" "$p_mirror")
  [ "$rc" -eq 0 ] && near "$got" "$mean"
  check "one output: --tta flip is the mean of the views' sigmoids" $? "rc=$rc got $got want $mean $err"
else
  skipped=$((skipped + 1)); echo "skip one output: --tta flip: needs python3's PIL to mirror the photo"
fi
# the JSON-lines worker: the same probability; a k over the one class is an error line, and
# the worker answers the next request
run "$BIN" serve --weights "$tmp/one.safetensors" <<'REQ'
{"id": 1, "file": "demo/chelsea.png"}
{"id": 2, "file": "demo/chelsea.png", "k": 3}
{"id": 3, "file": "demo/coffee.png"}
REQ
got=$(echo "$out" | "$py" -c "
import json, sys
r = [json.loads(l) for l in sys.stdin]
print(r[0]['top'][0]['prob'], 'error' in r[1], r[2]['top'][0]['prob'], len(r[0]['top']))" 2>&1)
set -- $got
[ "$rc" -eq 0 ] && [ "$2 $4" = "True 1" ] && near "$1 $3" "$p_cat $p_cup"
check "one output: serve's JSON lines give the sigmoid, k 3 an error line" $? "rc=$rc got '$got' $err"
# the HTTP server: /v1/classify without ?k (5, which read past a network's 1 to 4 classes and
# crashed the server) and the Open Inference Protocol's FP32 rows
got=$("$py" - "$BIN" "$tmp/one.safetensors" <<'PY' 2>&1
import base64, http.client, json, re, signal, subprocess, sys
p = subprocess.Popen([sys.argv[1], 'serve', '--http', '127.0.0.1:0', '--weights', sys.argv[2]],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
port = int(re.search(r'serving http://127\.0\.0\.1:(\d+) ', p.stderr.readline()).group(1))
photo = open('demo/chelsea.png', 'rb').read()
def ask(method, path, body):
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
    c.request(method, path, body)
    r = c.getresponse()
    return r.status, json.loads(r.read())
s1, v1 = ask('POST', '/v1/classify', photo)
s2, _ = ask('POST', '/v1/classify?k=2', photo)
req = {'inputs': [{'name': 'image', 'datatype': 'BYTES', 'shape': [1], 'data': [base64.b64encode(photo).decode()]}]}
s3, oip = ask('POST', '/v2/models/resnet50/infer', json.dumps(req))
p.send_signal(signal.SIGTERM)
rc = p.wait(timeout=60)
print(s1, len(v1['top']), v1['top'][0]['prob'], s2, s3, oip['outputs'][0]['shape'], oip['outputs'][0]['data'][0], rc)
PY
)
set -- $got
[ "$1 $2 $4 $5 $6$7 $9" = "200 1 400 200 [1,1] 0" ] && near "$3 $8" "$p_cat $p_cat"
check "one output: the HTTP server's /v1/classify (no ?k) and OIP infer give the sigmoid" $? "got '$got' want $p_cat"
# eval's top-1 over one class would count the photos labelled with it, whatever the network
# said: refused in one line
mkdir -p "$tmp/evone/class_0" "$tmp/evone/other"
cp demo/chelsea.png "$tmp/evone/class_0/" && cp demo/coffee.png "$tmp/evone/other/"
run "$BIN" eval --weights "$tmp/one.safetensors" "$tmp/evone"
[ "$rc" -eq 1 ] && [ -z "$out" ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && echo "$err" | grep -q "one.safetensors: has one output"
check "one output: eval refused in one line, no accuracy printed" $? "rc=$rc $out $err"
# info says how the outputs are read: a binary classifier's sigmoid, else a softmax
run "$BIN" info --weights "$tmp/one.safetensors"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "^  output     a binary classifier: its probability is the sigmoid of its one logit"
r1=$?
run "$BIN" info --json "$tmp/one.safetensors" "$tmp/three.safetensors"
got=$(echo "$out" | "$py" -c "import json, sys; print(' '.join(json.loads(l)['output'] for l in sys.stdin))" 2>&1)
[ "$r1" -eq 0 ] && [ "$rc" -eq 0 ] && [ "$got" = "sigmoid softmax" ]
check "one output: info says a binary classifier (--json output sigmoid; softmax for 3 classes)" $? "rc=$rc got '$got' $out $err"

# cam names the network's own classes; refuses a map it cannot place
run "$BIN" cam --weights "$G" --labels "$tmp/names.txt" -c "kind 3" demo/chelsea.png -o "$tmp/cam.png"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "class 3 kind 3 (" && [ -s "$tmp/cam.png" ]
check "cam -c 'kind 3' on a labelled 10-class network" $? "rc=$rc $out $err"
# the same network with its names in the file (resnet label): no ImageNet name asked for
run "$BIN" cam --weights "$tmp/g.safetensors" -c "kind 3" demo/chelsea.png -o "$tmp/cam_l.png"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "class 3 kind 3 (" && [ -s "$tmp/cam_l.png" ]
check "cam -c 'kind 3' on a network whose file names its classes (resnet label)" $? "rc=$rc $out $err"
run "$BIN" cam --weights "$G" -c 10 demo/chelsea.png -o "$tmp/cam2.png"
[ "$rc" -eq 2 ] && echo "$err" | grep -q "'10' is not a class of this network (an index 0..9" && [ ! -e "$tmp/cam2.png" ]
check "cam -c 10 on 10 classes: unknown class, nothing written" $? "rc=$rc $err"
# cam at another crop or stride: the map laid over that crop (tests/test_features.c checks
# where), a picture of the photo's own size; the hottest point inside the crop the network saw
png_size() { "$py" -c "import struct, sys; d = open(sys.argv[1], 'rb').read(24); print(*struct.unpack('>II', d[16:24]))" "$1"; }
for opt in "--size 160" "--output-stride 16"; do
  # shellcheck disable=SC2086
  run "$BIN" cam --weights "$N" $opt demo/chelsea.png -o "$tmp/cam3.png"
  hx=-1 hy=-1
  read -r hx hy < <(echo "$out" | sed -n 's/.*hottest at x=\([0-9]*\) y=\([0-9]*\) of 451x300$/\1 \2/p')
  # chelsea.png is 451x300: either way the crop covers about x 94-357, y 18-282
  [ "$rc" -eq 0 ] && [ "$(png_size "$tmp/cam3.png")" = "451 300" ] &&
    [ "$hx" -ge 94 ] && [ "$hx" -le 357 ] && [ "$hy" -ge 18 ] && [ "$hy" -le 282 ]
  check "cam $opt: a picture of the photo's size, hottest inside the crop" $? "rc=$rc $out $err"
  rm -f "$tmp/cam3.png"
done

# backbones: the stage maps against PyTorch's
same_maps() { # NPY REFERENCE -> "(C, H, W) True" when the first row is within 1e-4 of the reference
  "$py" -c "
import numpy as n, sys
a = n.load(sys.argv[1])[0]
r = n.fromfile(sys.argv[2], '<f4').reshape(a.shape)
print(a.shape, float(abs(a - r).max() / abs(r).max()) < 1e-4)" "$1" "$2"
}
run "$BIN" embed --weights "$B" --stage layer2 demo/chelsea.png -o "$tmp/l2.npy"
d=$(same_maps "$tmp/l2.npy" $FAM/small_basic.chelsea.224.os32.layer2.f32)
[ "$rc" -eq 0 ] && [ "$d" = "(32, 28, 28) True" ]
check "embed --stage layer2: (N, C, H, W) .npy, PyTorch's maps" $? "rc=$rc $d $err"
run "$BIN" embed --weights "$N" --stage layer4 --size 128 --output-stride 8 demo/coffee.png -o "$tmp/l4.npy"
d=$(same_maps "$tmp/l4.npy" $FAM/small_bottleneck.coffee.128.os8.layer4.f32)
[ "$rc" -eq 0 ] && [ "$d" = "(512, 16, 16) True" ]
check "embed --stage layer4 --output-stride 8 --size 128: the dilated backbone's maps" $? "rc=$rc $d $err"
run "$BIN" embed --weights "$B" --output-stride 8 --stage layer4 demo/coffee.png -o "$tmp/x.npy"
[ "$rc" -eq 1 ] && echo "$err" | grep -q "^resnet: $B: output stride 8 needs bottleneck blocks" && [ ! -e "$tmp/x.npy" ]
check "--output-stride 8 on basic blocks refused, naming the file, nothing written" $? "rc=$rc $err"
# a backbone file (no fc tensors: a detection model's body, a classifier with its fc cut off)
# gives what the classifier gives before its fc; what needs the fc is refused in one line
with_classes "$N" "$tmp/body.safetensors" 0
run "$BIN" embed --weights "$N" demo/chelsea.png demo/coffee.png -o "$tmp/full.npy"
run "$BIN" embed --weights "$tmp/body.safetensors" demo/chelsea.png demo/coffee.png -o "$tmp/body.npy"
[ "$rc" -eq 0 ] && cmp -s "$tmp/full.npy" "$tmp/body.npy"
check "a backbone's features are its classifier's, byte for byte" $? "rc=$rc $err"
run "$BIN" embed --weights "$tmp/body.safetensors" --stage layer4 --size 128 --output-stride 8 demo/coffee.png -o "$tmp/b4.npy"
d=$(same_maps "$tmp/b4.npy" $FAM/small_bottleneck.coffee.128.os8.layer4.f32)
[ "$rc" -eq 0 ] && [ "$d" = "(512, 16, 16) True" ]
check "a backbone's dilated layer4 maps: PyTorch's" $? "rc=$rc $d $err"
mkdir -p "$tmp/two/cat" "$tmp/two/cup"
cp demo/chelsea.png "$tmp/two/cat/"
cp demo/coffee.png "$tmp/two/cup/"
for cmd in "classify demo/chelsea.png" "eval $tmp/two" "cam -o $tmp/x.png demo/chelsea.png" "serve"; do
  run "$BIN" ${cmd%% *} --weights "$tmp/body.safetensors" $(echo "$cmd" | cut -s -d' ' -f2-) </dev/null
  [ "$rc" -eq 1 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] && [ -z "$out" ] && [ ! -e "$tmp/x.png" ] &&
    echo "$err" | grep -q "is a backbone (no fc): ${cmd%% *} needs a classifier"
  check "${cmd%% *} on a backbone: one line naming the file, nothing written" $? "rc=$rc $out $err"
done
run "$BIN" embed --weights "$tmp/body.safetensors" --labels "$tmp/names.txt" demo/chelsea.png -o "$tmp/x.npy"
[ "$rc" -eq 1 ] && echo "$err" | grep -q "names classes, but the network is a backbone" && [ ! -e "$tmp/x.npy" ]
check "--labels on a backbone: one line, it has no classes" $? "rc=$rc $err"
run "$BIN" bench --weights "$tmp/body.safetensors" --iters 1 --warmup 0
[ "$rc" -eq 0 ] && echo "$out" | grep -q "a backbone (no fc: to 512 pooled features)"
check "bench times a backbone to its pooled features" $? "rc=$rc $out $err"
run "$BIN" train-head --weights "$tmp/body.safetensors" "$tmp/two" -o "$tmp/two.head"
run "$BIN" classify -k 1 --weights "$tmp/body.safetensors" --head "$tmp/two.head" demo/chelsea.png demo/coffee.png
[ "$rc" -eq 0 ] && [ "$(echo "$out" | grep -c '  cat$\|  cup$')" -eq 2 ]
check "train-head on a backbone, then classify --head: the head's classes" $? "rc=$rc $out $err"
# the same backbone trained further with its batch norms frozen (as detection training does):
# only convolution weights differ, so every folded bias is the same; its features are not,
# and neither train-head's feature cache nor a head of the first may pass for its own
"$py" - "$tmp/body.safetensors" "$tmp/tuned.safetensors" <<'PY'
import sys
import numpy as np
raw = bytearray(open(sys.argv[1], 'rb').read())
n = int.from_bytes(raw[:8], 'little')
import json
h = json.loads(raw[8:8 + n])
b, e = h['layer3.0.conv2.weight']['data_offsets']
w = np.frombuffer(bytes(raw[8 + n + b:8 + n + e]), '<f4')
raw[8 + n + b:8 + n + e] = (w * np.float32(0.5) + np.float32(0.01)).astype('<f4').tobytes()
open(sys.argv[2], 'wb').write(raw)
PY
run "$BIN" classify -k 1 --weights "$tmp/tuned.safetensors" --head "$tmp/two.head" demo/chelsea.png
[ "$rc" -eq 0 ] && echo "$err" | grep -q "two.head was trained on other features"
check "a head of one backbone used on it trained further (frozen batch norms): said to be of other features" $? \
  "rc=$rc $out $err"
RESNET_CACHE=$tmp/cache run "$BIN" train-head --weights "$tmp/body.safetensors" "$tmp/two" -o "$tmp/a.head"
RESNET_CACHE=$tmp/cache run "$BIN" train-head --weights "$tmp/tuned.safetensors" "$tmp/two" -o "$tmp/b.head"
cached=$(find "$tmp/cache" -type f | wc -l)
rm -rf "$tmp/cache"
RESNET_CACHE=$tmp/cache run "$BIN" train-head --weights "$tmp/tuned.safetensors" "$tmp/two" -o "$tmp/b2.head"
[ "$cached" -gt 0 ] && cmp -s "$tmp/b.head" "$tmp/b2.head"
check "train-head on the backbone trained further: its own features, not the first's from the cache" $? "$err"
run "$BIN" quantize --weights "$tmp/body.safetensors" demo -o "$tmp/body8.safetensors"
run "$BIN" embed --weights "$tmp/body8.safetensors" demo/chelsea.png -o "$tmp/body8.npy"
d=$("$py" -c "import numpy as n, sys; a, b = n.load(sys.argv[1]), n.load(sys.argv[2])[:1]; print(a.shape, n.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99)" "$tmp/body8.npy" "$tmp/body.npy")
[ "$rc" -eq 0 ] && [ "$d" = "(1, 512) True" ]
check "quantize a backbone: the int8 file's features follow fp32's" $? "rc=$rc $d $err"
run "$BIN" export --weights "$tmp/body.safetensors" -o "$tmp/body.onnx"
[ "$rc" -eq 0 ] && grep -q features "$tmp/body.onnx" && ! grep -q logits "$tmp/body.onnx"
check "export of a backbone: a graph whose output is the features" $? "rc=$rc $err"
run "$BIN" embed --stage layer5 demo/coffee.png -o "$tmp/x.npy"
[ "$rc" -eq 2 ] && [ ! -e "$tmp/x.npy" ]
check "--stage layer5 is a usage error" $? "rc=$rc $err"
run "$BIN" classify --size 16 demo/coffee.png
[ "$rc" -eq 2 ]
check "--size 16 is a usage error" $? "rc=$rc $err"

# int8 for other networks: basic blocks (a 3x3 adds the shortcut), bottlenecks (dilated too),
# grouped 3x3s; the probabilities of every class against fp32's (random weights: a flat softmax,
# so the top class alone says little)
for c in "$B" "$N --size 128 --output-stride 8" "$G"; do
  set -- $c
  w=$1
  shift
  name=$(basename "$w" .safetensors)
  run "$BIN" quantize --weights "$w" demo -o "$tmp/$name.int8.safetensors"
  q=$rc
  run "$BIN" classify --json -k 1000 --weights "$w" "$@" demo/chelsea.png demo/coffee.png
  echo "$out" >"$tmp/fp32.json"
  run "$BIN" classify --json -k 1000 --weights "$tmp/$name.int8.safetensors" "$@" demo/chelsea.png demo/coffee.png
  echo "$out" >"$tmp/int8.json"
  d=$("$py" -c "
import json, sys
def probs(f):
    return [dict((t['index'], t['prob']) for t in json.loads(l)['top']) for l in open(f)]
a, b = probs(sys.argv[1]), probs(sys.argv[2])
print(len(a) == 2 and max(abs(x[k] - y[k]) / max(x.values()) for x, y in zip(a, b) for k in x) < 0.1)" "$tmp/fp32.json" "$tmp/int8.json")
  [ "$q" -eq 0 ] && [ "$rc" -eq 0 ] && [ "$d" = True ]
  check "quantize $name${*:+ ($*)}: int8 probabilities within 10% of fp32's largest" $? "quantize rc=$q classify rc=$rc $d $err"
done

# files that are not what they claim
"$py" - "$N" "$tmp" <<'PY'
import json, struct, sys
src, tmp = sys.argv[1], sys.argv[2]
b = open(src, 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n]); data = b[8 + n:]
def write(name, header, payload=data):
    # the tensors repacked end to end: one dropped must not leave a gap (refused by itself)
    out, blobs, off = {}, [], 0
    for k, v in sorted(header.items(), key=lambda kv: kv[1]['data_offsets'][0] if kv[0] != '__metadata__' else -1):
        if k != '__metadata__':
            a, e = v['data_offsets']
            blobs.append(payload[a:e])
            v = dict(v, data_offsets=[off, off + e - a])
            off += e - a
        out[k] = v
    t = json.dumps(out).encode(); t += b' ' * (-len(t) % 8)
    open(tmp + '/' + name, 'wb').write(struct.pack('<Q', len(t)) + t + b''.join(blobs))
end = max(v['data_offsets'][1] for k, v in h.items() if k != '__metadata__')
h2 = dict(h); h2['layer5.0.conv1.weight'] = {'dtype': 'F32', 'shape': [1], 'data_offsets': [end, end + 4]}
write('extra.safetensors', h2, data + b'\0\0\0\0')
h3 = {k: v for k, v in h.items() if k != 'layer1.1.bn1.running_mean'}; write('missing.safetensors', h3)
# a MobileNet's names (features.N...), and a ResNet behind DataParallel's prefix
h4 = {('features.%d.weight' % i if k != '__metadata__' else k): v for i, (k, v) in enumerate(h.items())}
write('mobilenet.safetensors', h4)
h5 = {('module.' + k if k != '__metadata__' else k): v for k, v in h.items()}; write('wrapped.safetensors', h5)
PY
for case in "extra:'layer5.0.conv1.weight' is not used" "missing:'layer1.1.bn1.running_mean' is missing" \
  "mobilenet:not a torchvision ResNet" "wrapped:names start with 'module.'"; do
  f=${case%%:*} msg=${case#*:}
  run "$BIN" classify --weights "$tmp/$f.safetensors" demo/coffee.png
  [ "$rc" -eq 1 ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && echo "$err" | grep -qF "$msg" && echo "$err" | grep -qF "$f.safetensors"
  check "a file $f: one line naming the file and the tensor" $? "rc=$rc $err"
done
summary
