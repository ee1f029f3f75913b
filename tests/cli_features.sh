# cli_features.sh - sourced by test_cli.sh (uses its run, check, expect_error, have_shared,
# $BIN, $SHARED, $W, $CAT, $CUP, $CAT_JPG and $tmp): cam, embed, similar, train-head, info,
# classify DIR / --head, the example program. The repository's photos always; the checks on
# ../shared's photos (ImageNet samples, val1300) only when it is there.
# Feature caches go to $tmp/cache, never to the user's.
S=$SHARED/images/samples
export RESNET_CACHE=$tmp/cache

# PNG width and height from the IHDR chunk ("W H"), or nothing if not a PNG.
png_size() {
  node -e '
    const b = require("fs").readFileSync(process.argv[1]);
    if (b.slice(0, 8).toString("hex") !== "89504e470d0a1a0a" || b.slice(12, 16).toString() !== "IHDR") process.exit(1);
    console.log(b.readUInt32BE(16) + " " + b.readUInt32BE(20));' "$1" 2>/dev/null
}

# ---- cam ---------------------------------------------------------------------------------
# Boxes read off the photos (see tests/test_features.c): the tiger cat's head x 330..630,
# y 55..350; the Samoyed's head and chest x 169..800, y 38..800; chelsea's eyes and nose
# x 130..350, y 80..270.
in_box() { # "x=.. y=.." line, x0 y0 x1 y1
  local x y
  x=$(echo "$1" | sed -n 's/.*hottest at x=\([0-9]*\) y=.*/\1/p')
  y=$(echo "$1" | sed -n 's/.*hottest at x=[0-9]* y=\([0-9]*\) .*/\1/p')
  [ -n "$x" ] && [ "$x" -ge "$2" ] && [ "$y" -ge "$3" ] && [ "$x" -lt "$4" ] && [ "$y" -lt "$5" ]
}
run "$BIN" cam "$CAT" -o "$tmp/chelsea-cam.png"
echo "     $out"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "class 285 Egyptian cat" && in_box "$out" 130 80 350 270 &&
  [ "$(png_size "$tmp/chelsea-cam.png")" = "451 300" ] && [ -z "$(ls "$tmp" | grep 'chelsea-cam.png.tmp')" ]
check "cam: Egyptian cat, hottest on its eyes and nose, a 451x300 PNG" $? "rc=$rc $out $err"

if have_shared images/samples "cam on the tiger cat and the Samoyed"; then
  run "$BIN" cam "$S/282_tiger_cat_1.jpg" -o "$tmp/cat-cam.png"
  echo "     $out"
  [ "$rc" -eq 0 ] && echo "$out" | grep -q "class 282 tiger cat" && in_box "$out" 330 55 630 350 &&
    [ "$(png_size "$tmp/cat-cam.png")" = "889 500" ] && [ -z "$(ls "$tmp" | grep 'cat-cam.png.tmp')" ]
  check "cam: tiger cat, hottest on the cat's head, an 889x500 PNG" $? "rc=$rc $out $err"

  run "$BIN" cam -c samoyed "$S/258_samoyed_1.jpg" -o "$tmp/dog-cam.png" --opacity 0.6
  echo "     $out"
  [ "$rc" -eq 0 ] && echo "$out" | grep -q "class 258 Samoyed" && in_box "$out" 169 38 800 800 &&
    [ "$(png_size "$tmp/dog-cam.png")" = "1546 1213" ]
  check "cam -c samoyed: hottest on the dog's head and chest, a 1546x1213 PNG" $? "rc=$rc $out $err"
fi

run "$BIN" cam -c 967 "$CUP" -o "$tmp/cup.png" --opacity 0.6
[ "$rc" -eq 0 ] && echo "$out" | grep -q "class 967 espresso" && [ "$(png_size "$tmp/cup.png")" = "600 400" ]
check "cam -c 967 (an index), --opacity" $? "rc=$rc $out $err"

run "$BIN" cam "$tmp/missing.jpg" -o "$tmp/m.png"; expect_error "cam: missing photo" "$tmp/missing.jpg" 1
[ ! -e "$tmp/m.png" ]; check "cam: missing photo writes nothing" $? "$(ls "$tmp")"
run "$BIN" cam "$CAT";                                   expect_error "cam: -o is required" "-o" 2
run "$BIN" cam -c nosuchbeast "$CAT" -o "$tmp/n.png";    expect_error "cam: unknown class" "nosuchbeast" 2
# WordNet synonyms (src/cli/class_synonyms.c): "man-eater" is 2 (great white shark); a short
# name wins over another class's synonym; a near miss names the closest name
run "$BIN" cam -c Man-Eater "$CAT" -o "$tmp/syn.png"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "class 2 great white shark"
check "cam -c Man-Eater: a WordNet synonym, any case (class 2)" $? "rc=$rc $out $err"
run "$BIN" cam -c crane "$CAT" -o "$tmp/syn.png"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "class 517 crane"
check "cam -c crane: the short name (517) before 134's synonym" $? "rc=$rc $out $err"
# ImageNet has a Cardigan (264, the dog) and a cardigan (474, the sweater): the name as
# written says which; without case it names both
run "$BIN" cam -c cardigan "$CAT" -o "$tmp/syn.png"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "class 474 cardigan"
check "cam -c cardigan: 474, the sweater, not 264 Cardigan" $? "rc=$rc $out $err"
run "$BIN" cam -c Cardigan "$CAT" -o "$tmp/syn.png"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "class 264 Cardigan"
check "cam -c Cardigan: 264, the dog" $? "rc=$rc $out $err"
run "$BIN" cam -c CARDIGAN "$CAT" -o "$tmp/syn.png";     expect_error "cam -c CARDIGAN: two classes" "474" 2
# a photo 1 pixel wide: the 224 crop spans less than one of its pixels, no pixel's centre lies
# inside it and the whole picture is grey; no "hottest" pixel is named from outside the crop
{ printf 'P5 1 300 255\n'; head -c 300 /dev/zero | tr '\0' '\200'; } > "$tmp/thin.pgm"
run "$BIN" cam "$tmp/thin.pgm" -o "$tmp/thin-cam.png"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "no hottest point" && ! echo "$out" | grep -q "hottest at"
check "cam on a 1x300 photo: no hottest point named outside the crop" $? "rc=$rc $out $err"
run "$BIN" cam -c 'tiger cta' "$CAT" -o "$tmp/n.png"
expect_error "cam -c 'tiger cta': unknown, the closest name suggested" "the closest name is 'tiger cat', class 282" 2
run "$BIN" cam -c panther "$CAT" -o "$tmp/n.png" # a synonym of 286 (cougar) and of 290 (jaguar)
expect_error "cam -c panther: a synonym of two classes, refused naming both" "names both 286 (cougar) and 290 (jaguar)" 2
run "$BIN" cam -c 1000 "$CAT" -o "$tmp/n.png";           expect_error "cam: class 1000" "1000" 2
[ ! -e "$tmp/n.png" ]; check "cam: unknown class writes nothing" $? ""
run "$BIN" cam "$CAT" -o "$tmp/no/such/dir/x.png";       expect_error "cam: output folder missing" "$tmp/no/such/dir/x.png" 1
# cam writes PNG: a name of another image format (any case) is refused before anything is
# read; a name without one is taken as given
for ext in jpg JPEG webp gif bmp tif Tiff ppm; do
  run "$BIN" cam "$CAT" -o "$tmp/heat.$ext";             expect_error "cam -o heat.$ext: refused (cam writes PNG)" "not the format .$ext names" 2
  [ ! -e "$tmp/heat.$ext" ]; check "cam -o heat.$ext: nothing written" $? "$(ls "$tmp")"
done
run "$BIN" cam "$CAT" -o "$tmp/heat.jpg.d/heat"
[ "$rc" -eq 1 ] && echo "$err" | grep -q "heat.jpg.d/heat: cannot create"
check "cam -o DIR.jpg.d/NAME: only the file's own extension counts" $? "rc=$rc $err"
run "$BIN" cam "$CAT" -o "$tmp/heat"
[ "$rc" -eq 0 ] && [ "$(png_size "$tmp/heat")" = "451 300" ]
check "cam -o a name without an extension: a PNG" $? "rc=$rc $err"
rm -f "$tmp/heat"
cp "$CAT" "$tmp/self.png"
run "$BIN" cam "$tmp/self.png" -o "$tmp/self.png";       expect_error "cam: refuses to overwrite its photo" "self.png" 1
cmp -s "$CAT" "$tmp/self.png"; check "cam: the photo is untouched" $? ""

# ---- embed -------------------------------------------------------------------------------
run "$BIN" embed --l2 "$CUP" "$CAT" "$CAT_JPG" -o "$tmp/f.npy"
node -e '
  const b = require("fs").readFileSync(process.argv[1]);
  if (b.slice(0, 8).toString("latin1") !== "\x93NUMPY\x01\x00") throw new Error("magic");
  const hl = b.readUInt16LE(8), h = b.slice(10, 10 + hl).toString("latin1");
  if ((10 + hl) % 64 !== 0 || !h.endsWith("\n")) throw new Error("header padding: " + (10 + hl));
  if (!h.includes("\x27descr\x27: \x27<f4\x27") || !h.includes("\x27fortran_order\x27: False") || !h.includes("(3, 2048)"))
    throw new Error("header: " + h);
  if (b.length !== 10 + hl + 3 * 2048 * 4) throw new Error("size " + b.length);
  for (let r = 0; r < 3; r++) {
    let s = 0;
    for (let j = 0; j < 2048; j++) { const v = b.readFloatLE(10 + hl + (r * 2048 + j) * 4); s += v * v; }
    if (Math.abs(s - 1) > 1e-4) throw new Error("row " + r + " norm^2 " + s);
  }' "$tmp/f.npy" 2>"$tmp/node"
[ "$rc" -eq 0 ] && [ "$(echo "$out" | cut -f1 | tr '\n' ' ')" = "0 1 2 " ]
check "embed --l2 -o x.npy: NPY v1.0, (3, 2048) <f4, unit rows, rows in order" $? "rc=$rc $err $(cat "$tmp/node")"

run "$BIN" embed "$CUP" -o "$tmp/F.NPY"
[ "$rc" -eq 0 ] && [ "$(head -c 6 "$tmp/F.NPY" | tail -c 5)" = "NUMPY" ]
check "embed -o F.NPY: NumPy whatever the suffix's case" $? "rc=$rc $err"

run "$BIN" embed "$CUP" "$tmp/missing.jpg" -o "$tmp/f.f32"
[ "$rc" -eq 1 ] && [ "$(stat -c %s "$tmp/f.f32")" -eq 16384 ] && echo "$err" | grep -q "missing.jpg" &&
  echo "$err" | grep -q "zeros: 1$"
check "embed: raw f32, the unreadable row named and zero, exit 1" $? "rc=$rc $err"

# a raw output is told by its contents, at any row width: embed replaces its own 64-float rows,
# never another program's file whose size happens to be whole rows
small=tests/data/family/small_basic.safetensors
use_python
run "$BIN" embed --weights "$small" -o "$tmp/narrow.f32" "$CAT"
run "$BIN" embed --weights "$small" -o "$tmp/narrow.f32" "$CAT" "$CUP"
[ "$rc" -eq 0 ] && [ "$(stat -c %s "$tmp/narrow.f32")" -eq 512 ]
check "embed replaces its own raw output of 64-float rows" $? "rc=$rc $err"
"$py" -c 'import sys; open(sys.argv[1], "wb").write(b"SQLite format 3\0" + bytes(16384 - 16))' "$tmp/my.db"
"$py" -c 'import sys; open(sys.argv[1], "wb").write(b"ID,NAME,SCORE\n" + b"0042,SMITH J,117\n" * 481 + b"\n")' "$tmp/table.csv"
for f in my.db table.csv; do
  cp "$tmp/$f" "$tmp/$f.orig"
  run "$BIN" embed -o "$tmp/$f" "$CAT"
  [ "$rc" -eq 1 ] && cmp -s "$tmp/$f" "$tmp/$f.orig" && [ "$(echo "$err" | grep -c .)" -eq 1 ] &&
    echo "$err" | grep -q "is not a float32 feature matrix"
  check "embed -o $f (whole 2048-float rows of bytes, not floats) refused, left as it was" $? "rc=$rc $err"
done

run "$BIN" embed "$tmp/missing.jpg" -o "$tmp/none.npy"
[ "$rc" -eq 1 ] && [ ! -e "$tmp/none.npy" ]; check "embed: nothing readable, nothing written" $? "rc=$rc $err"
run "$BIN" embed "$CAT";                                 expect_error "embed: -o is required" "-o" 2

# ---- similar -----------------------------------------------------------------------------
# the repository's photos: the cat's JPEG is nearer its PNG than the coffee is
mkdir -p "$tmp/own"
ln -s "$(pwd)/$CAT_JPG" "$tmp/own/cat.jpg" && ln -s "$(pwd)/$CUP" "$tmp/own/cup.png"
run "$BIN" similar "$CAT" "$tmp/own" -k 2
echo "$out" | sed 's/^/     /'
[ "$rc" -eq 0 ] && [ "$(echo "$out" | wc -l)" -eq 2 ] && echo "$out" | sed -n 1p | grep -q 'cat.jpg'
check "similar: the cat's JPEG comes before the coffee" $? "rc=$rc $out $err"
t0=$(date +%s%N)
run "$BIN" similar "$CAT" "$tmp/own" -k 1
t1=$(date +%s%N)
[ "$rc" -eq 0 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q 'cat.jpg' && [ $(((t1 - t0) / 1000000)) -lt 3000 ]
check "similar again: from the feature cache ($(((t1 - t0) / 1000000)) ms), -k 1" $? "rc=$rc $out $err"
# the query is never an answer, by whatever path the folder reaches it (here a link)
cache_size() { cat "$RESNET_CACHE"/features/*.bin 2>/dev/null | wc -c; }
size0=$(cache_size)
run "$BIN" similar "$CAT_JPG" "$tmp/own" -k 5
[ "$rc" -eq 0 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q 'cup.png'
check "similar: the query, linked into the folder, is left out" $? "rc=$rc $out $err"
# ... but it stays in the folder's feature cache (dropped, the next run computed it again)
[ "$size0" -gt 0 ] && [ "$(cache_size)" -eq "$size0" ]
check "similar: a query under the folder keeps its feature cache entry" $? "cache $size0 -> $(cache_size) bytes"
# a query under the folder that cannot be read leaves the folder's cache as it was
mkdir -p "$tmp/own2" && ln -s "$(pwd)/$CUP" "$tmp/own2/cup.png" && echo "not a photo" >"$tmp/own2/bad.jpg"
run "$BIN" similar "$CAT" "$tmp/own2"
size0=$(cache_size)
run "$BIN" similar "$tmp/own2/bad.jpg" "$tmp/own2"
[ "$rc" -eq 1 ] && echo "$err" | grep -q "bad.jpg" && [ "$(cache_size)" -eq "$size0" ]
check "similar: an unreadable query under the folder: exit 1, the folder's cache kept" $? \
  "rc=$rc $err; cache $size0 -> $(cache_size) bytes"
if have_shared images/samples "similar on the sample photos (Samoyeds)"; then
  run "$BIN" similar "$S/258_samoyed_1.jpg" "$S" -k 3
  echo "$out" | sed 's/^/     /'
  [ "$rc" -eq 0 ] && [ "$(echo "$out" | grep -c '258_samoyed_[345].jpg')" -eq 3 ]
  check "similar: the other three Samoyeds come first" $? "rc=$rc $out $err"
  run "$BIN" similar "$S/258_samoyed_3.jpg" "$S" -k 3
  [ "$rc" -eq 0 ] && [ "$(echo "$out" | grep -c '258_samoyed_[145].jpg')" -eq 3 ]
  check "similar again on the samples: Samoyeds first" $? "rc=$rc $out $err"
fi
mkdir -p "$tmp/emptydir"
run "$BIN" similar "$CAT" "$tmp/emptydir"; expect_error "similar: empty folder" "no photos" 1
run "$BIN" similar "$CAT" "$tmp/nodir";    expect_error "similar: missing folder" "$tmp/nodir" 1

# ---- train-head and classify --head ------------------------------------------------------
# A task from val1300, split by image: dogs (151-268), birds (7-24, 80-100, 127-146), reptiles
# and amphibians (25-68), insects (300-326); the first 36 of each in labels.tsv, every third
# held out for testing. Folder-per-class trees of symbolic links; chance is ~0.25.
if have_shared images/val1300/labels.tsv "train-head and classify --head on a task from val1300"; then
  task=$tmp/task
  val=$(cd "$SHARED/images/val1300" && pwd)
  awk -F'\t' -v root="$task" -v src="$val" 'NR > 1 { c = $2 + 0; g = "";
      if (c >= 151 && c <= 268) g = "dog";
      else if ((c >= 7 && c <= 24) || (c >= 80 && c <= 100) || (c >= 127 && c <= 146)) g = "bird";
      else if (c >= 25 && c <= 68) g = "reptile";
      else if (c >= 300 && c <= 326) g = "insect";
      if (g == "" || n[g] >= 36) next;
      n[g]++;
      print src "/" $1 "\t" root "/" (n[g] % 3 == 0 ? "test" : "train") "/" g "/" $1 }' "$val/labels.tsv" |
    while IFS=$'\t' read -r src dst; do mkdir -p "$(dirname "$dst")" && ln -s "$src" "$dst"; done
  t0=$(date +%s)
  run "$BIN" train-head "$task/train" -o "$task/head.safetensors"
  t1=$(date +%s)
  echo "$out" | sed 's/^/     /'
  [ "$rc" -eq 0 ] && echo "$out" | grep -q "96 photos in 4 classes, 0 from the cache" &&
    echo "$out" | grep -q "validation accuracy" && [ -s "$task/head.safetensors" ]
  check "train-head: 96 photos, 4 classes, head written ($((t1 - t0)) s)" $? "rc=$rc $out $err"
  t0=$(date +%s%N)
  run "$BIN" train-head "$task/train" -o "$task/head2.safetensors" --l2 0.01
  t1=$(date +%s%N)
  [ "$rc" -eq 0 ] && echo "$out" | grep -q "96 from the cache, 0 computed" && [ $(((t1 - t0) / 1000000)) -lt 5000 ]
  check "train-head again: every feature from the cache ($(((t1 - t0) / 1000000)) ms)" $? "rc=$rc $out $err"

  run "$BIN" classify --json -k 2 --head "$task/head.safetensors" "$task/test"
  acc=$(node -e '
    const lines = require("fs").readFileSync(0, "utf8").trim().split("\n");
    let right = 0;
    for (const l of lines) {
      const o = JSON.parse(l);
      if (o.top.length !== 2 || !(o.top[0].prob >= o.top[1].prob)) throw new Error(l);
      if (o.file.split("/").slice(-2)[0] === o.top[0].name) right++;
    }
    console.log(lines.length + " " + (right / lines.length).toFixed(3));' <<<"$out" 2>"$tmp/node")
  echo "     held-out: $acc (photos, accuracy); $(echo "$err" | head -n 1)"
  [ "$rc" -eq 0 ] && [ "${acc%% *}" = 48 ] && awk -v a="${acc##* }" 'BEGIN { exit !(a >= 0.85) }'
  check "classify --head on 48 held-out photos: accuracy >= 0.85 (chance 0.25)" $? "rc=$rc acc=$acc $(cat "$tmp/node") $err"
fi
head -c 300 "$W" >"$tmp/corrupt.safetensors"
run "$BIN" classify --head "$tmp/corrupt.safetensors" "$CAT"; expect_error "classify: corrupt head" "$tmp/corrupt.safetensors" 1
run "$BIN" classify --head "$W" "$CAT";                 expect_error "classify: weights are not a head" "not a classifier head" 1
run "$BIN" classify --head "$tmp/nohead.safetensors" "$CAT"; expect_error "classify: missing head" "nohead" 1
run "$BIN" classify --head "" "$CAT";                   expect_error "classify: --head '' is a usage error naming it" "--head" 2
run "$BIN" train-head "$tmp/emptydir" -o "$tmp/h.safetensors"; expect_error "train-head: empty folder" "at least 2 class" 1
mkdir -p "$tmp/oneclass/cats" && ln -s "$(pwd)/$CAT" "$tmp/oneclass/cats/c.png"
run "$BIN" train-head "$tmp/oneclass" -o "$tmp/h.safetensors"; expect_error "train-head: one class" "at least 2 class" 1
[ ! -e "$tmp/h.safetensors" ]; check "train-head: failures write no head" $? ""
run "$BIN" train-head "$tmp/oneclass";                   expect_error "train-head: -o is required" "-o" 2
# one photo a class: none can be held out, and the report does not say "validation accuracy 0.0%"
mkdir -p "$tmp/noval/cats" "$tmp/noval/cups" && ln -s "$(pwd)/$CAT" "$tmp/noval/cats/c.png" &&
  ln -s "$(pwd)/$CUP" "$tmp/noval/cups/c.png"
caches_before=$(ls "$RESNET_CACHE"/features)
run "$BIN" train-head "$tmp/noval" -o "$tmp/noval.safetensors"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "no photos held out" && ! echo "$out" | grep -q "(0 photos)"
check "train-head with nothing held out: says so, no 0% validation accuracy" $? "rc=$rc $out $err"
# a cache written by an older version (whose decoders gave some photos other pixels) is not
# reused, nor called damaged: its features are computed again and the file rewritten
nv_cache=$RESNET_CACHE/features/$(comm -13 <(echo "$caches_before") <(ls "$RESNET_CACHE"/features))
# (dd without the sanitizer's preload of an ASan run, under which it aborts; magic read by the
# shell itself)
[ -f "$nv_cache" ] && printf '1' | env -u LD_PRELOAD dd of="$nv_cache" bs=1 seek=7 conv=notrunc 2>/dev/null
read -r -N 8 patched <"$nv_cache"
run "$BIN" train-head "$tmp/noval" -o "$tmp/noval2.safetensors"
read -r -N 8 rewritten <"$nv_cache"
[ "$patched" = RNFEAT01 ] && [ "$rc" -eq 0 ] && echo "$out" | grep -q "0 from the cache, 2 computed" &&
  ! echo "$err" | grep -q "damaged" && [ "$rewritten" = RNFEAT02 ]
check "feature cache of an older version: computed again without a warning, rewritten" $? \
  "rc=$rc $out $err; the folder's cache: '$nv_cache'; all: $(ls -l --time-style=full-iso "$RESNET_CACHE"/features)"
# a head given where the network goes: named for what it is, with where it goes instead
run "$BIN" classify --weights "$tmp/noval.safetensors" "$CAT"
expect_error "classify --weights HEAD: says it is a head, to give with --head" "not a network: give it with --head" 1
# a photo given where a weight file goes (operands swapped): named as a photo, not as a
# safetensors header whose length lies
run "$BIN" classify --weights "$CAT" "$CUP";             expect_error "classify --weights PHOTO: says it is a photo" "a PNG photo, not a weight file" 1
run "$BIN" classify --head "$CAT" "$CUP";                expect_error "classify --head PHOTO: says it is a photo" "a PNG photo, not a weight file" 1
# the head is one of classify's inputs: --report onto it is refused, --force or not
cp "$tmp/noval.safetensors" "$tmp/noval.keep"
run "$BIN" classify --head "$tmp/noval.safetensors" --report "$tmp/noval.safetensors" --force "$CAT"
[ "$rc" -eq 1 ] && echo "$err" | grep -q "one of this run's inputs" && cmp -s "$tmp/noval.safetensors" "$tmp/noval.keep"
check "classify --report onto its --head: refused even with --force, the head untouched" $? "rc=$rc $err"
# a head remembers the features it was trained on, --exif-orientation included (the photos
# turned or not): classify --head with the same settings does not warn, with others it does
run "$BIN" train-head --no-cache --exif-orientation "$tmp/noval" -o "$tmp/exif.safetensors"
run "$BIN" classify --head "$tmp/exif.safetensors" --exif-orientation "$CAT"
[ "$rc" -eq 0 ] && ! echo "$err" | grep -q "warning"
check "classify --head --exif-orientation on a head so trained: no warning" $? "rc=$rc $err"
run "$BIN" classify --head "$tmp/exif.safetensors" "$CAT"
[ "$rc" -eq 0 ] && echo "$err" | grep -q "warning: .*exif.safetensors was trained on other features"
check "classify --head without the --exif-orientation it was trained with: warned" $? "rc=$rc $err"
run "$BIN" classify --head "$tmp/noval.safetensors" --exif-orientation "$CAT"
[ "$rc" -eq 0 ] && echo "$err" | grep -q "warning: .*noval.safetensors was trained on other features"
check "classify --head --exif-orientation on a head trained without it: warned" $? "rc=$rc $err"
# a class folder whose name is not UTF-8 cannot name a class: said with the folder, before any
# feature is computed (it was "the name of class 0 is missing or not UTF-8" at the very end)
mkdir -p "$tmp/badname/$(printf 'ca\377t')" "$tmp/badname/cups" &&
  ln -s "$(pwd)/$CAT" "$tmp/badname/$(printf 'ca\377t')/c.png" && ln -s "$(pwd)/$CUP" "$tmp/badname/cups/c.png"
run "$BIN" train-head --no-cache "$tmp/badname" -o "$tmp/badname.safetensors"
expect_error "train-head: a class folder named in bytes that are not UTF-8: the folder named" 'ca\xfft' 1
[ ! -e "$tmp/badname.safetensors" ] && ! echo "$out" | grep -q "computed"
check "train-head: ... refused before computing features, nothing written" $? "rc=$rc $out"

# ---- info --------------------------------------------------------------------------------
run "$BIN" info "$W"
[ "$rc" -eq 0 ] && [ -z "$err" ] && echo "$out" | sed -n 1p | grep -qxF "$W" &&
  echo "$out" | grep -q "^  network    resnet50: bottleneck blocks 3-4-6-3, widths 64-128-256-512" &&
  echo "$out" | grep -q "^  classes    1000, ImageNet's names: tench, goldfish" &&
  echo "$out" | grep -q "^  input      224x224, output stride 32" && echo "$out" | grep -q "^  precision  fp32, kernels " &&
  echo "$out" | grep -q "^  source     keras resnet50"
check "info WEIGHTS: the network, its classes, its input and precision" $? "rc=$rc $out $err"
printf "a\nb\n" >"$tmp/names2.txt"
run "$BIN" info --labels "$tmp/names2.txt" "$W"
[ "$rc" -eq 1 ] && echo "$err" | grep -q "names2.txt"
check "info --labels with the wrong count: the labels file named, exit 1" $? "rc=$rc $out $err"
run "$BIN" info --size 288 --precision bf16 "$W"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "^  input      288x288" && echo "$out" | grep -q "^  precision  bf16"
check "info --size 288 --precision bf16: described as the other commands would load it" $? "rc=$rc $out $err"
run "$BIN" info --json "$W" "$tmp/noval.safetensors" "$tmp/nosuch.safetensors"
parsed=$(node -e '
  const l = require("fs").readFileSync(0, "utf8").trim().split("\n").map((x) => JSON.parse(x));
  console.log(l.length, l[0].arch, l[0].classes, l[0].feature_dim, l[0].input_size, l[0].precision, l[0].labels,
              l[0].output, l[1].head, l[1].classes, l[1].output, l[1].names.join("+"), typeof l[2].error);' <<<"$out" 2>&1)
[ "$rc" -eq 1 ] && [ "$parsed" = "3 resnet50 1000 2048 224 fp32 imagenet softmax true 2 softmax cats+cups string" ] &&
  [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] && echo "$err" | grep -q "nosuch.safetensors"
check "info --json: one object a file, a head described as one, a missing file an error record (exit 1)" $? "rc=$rc $parsed $err"
run "$BIN" info --weights "$W" "$W";                     expect_error "info: --weights and operands both" "one or the other" 2
# a head of a later format version: what is wrong with it, not "give it with --head" (where it
# fails the same)
sed 's/"version":"1"/"version":"2"/' "$tmp/noval.safetensors" >"$tmp/headv2.safetensors"
run "$BIN" info "$tmp/headv2.safetensors"
expect_error "info on a head it cannot read: the head loader's reason" "head format version '2'" 1
# an empty operand (a shell variable left unset) is no file: it described the default weights
run "$BIN" info ""
[ "$rc" -eq 1 ] && [ -z "$out" ] && echo "$err" | grep -q "an empty operand"
check "info '': refused, not the default weights described" $? "rc=$rc $out $err"

# ---- classify DIR ------------------------------------------------------------------------
mkdir -p "$tmp/folder/sub"
ln -s "$(pwd)/$CAT_JPG" "$tmp/folder/a.jpg"
ln -s "$(pwd)/$CUP" "$tmp/folder/sub/b.png"
printf 'not a photo' >"$tmp/folder/sub/c.jpg"
printf 'notes' >"$tmp/folder/readme.txt"
run "$BIN" classify --json -k 1 "$tmp/folder"
[ "$rc" -eq 1 ] && [ "$(echo "$out" | wc -l)" -eq 3 ] && echo "$out" | sed -n 1p | grep -q '"Egyptian cat"' &&
  echo "$out" | sed -n 2p | grep -q '"espresso"' && echo "$out" | sed -n 3p | grep -q '"error"' &&
  echo "$err" | grep -q "sub/c.jpg" && echo "$err" | grep -q "3 photos in .*2 classified, 1 unreadable"
check "classify DIR: recursive, one JSON line per photo (the bad one an error record), a summary" $? "rc=$rc $out $err"
run "$BIN" classify "$tmp/emptydir";                     expect_error "classify: empty folder" "no photos" 1
run "$BIN" classify --json -k 1 "$tmp/emptydir" "$CAT"
[ "$rc" -eq 1 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q '"Egyptian cat"' &&
  [ "$(printf '%s\n' "$err" | grep -c "no photos")" -eq 1 ] && echo "$err" | grep -qF "$tmp/emptydir: no photos in this folder" &&
  echo "$err" | grep -q "1 photo in .*1 classified"
check "classify EMPTYDIR PHOTO: the photo classified, the empty folder named once, exit 1" $? "rc=$rc $out $err"
run "$BIN" classify "$tmp/emptydir" "$tmp/emptydir";     expect_error "classify: two empty folders, one line" "no photos found" 1
run "$BIN" embed "$tmp/emptydir" "$CAT" -o "$tmp/e.npy"
[ "$rc" -eq 1 ] && [ -s "$tmp/e.npy" ] && echo "$err" | grep -qF "$tmp/emptydir: no photos in this folder"
check "embed EMPTYDIR PHOTO: the photo's row written, the empty folder named, exit 1" $? "rc=$rc $err"

# ---- the example program (public header only) ----------------------------------------------
if [ -x "${BUILD:-build}/examples/classify_folder" ]; then
  run "${BUILD:-build}/examples/classify_folder" "$W" "$tmp/folder"
  [ "$rc" -eq 1 ] && echo "$out" | grep -q "Egyptian cat" && echo "$err" | grep -q "2 classified, 1 skipped"
  check "examples/classify_folder on a folder" $? "rc=$rc $out $err"
  # a head trained on another network's features (4 of them, where this one gives 2048): the
  # example refuses it, where it used to feed the head the wrong number of features
  hj='{"__metadata__":{"format":"resnet-linear-head","classes":"[\"a\",\"b\"]","feature_normalization":"none"},"weight":{"dtype":"F32","shape":[2,4],"data_offsets":[0,32]},"bias":{"dtype":"F32","shape":[2],"data_offsets":[32,40]}}'
  while [ $((${#hj} % 8)) -ne 0 ]; do hj="$hj "; done
  { printf "\\$(printf %03o $((${#hj} % 256)))\\$(printf %03o $((${#hj} / 256)))\\0\\0\\0\\0\\0\\0%s" "$hj"; head -c 40 /dev/zero; } \
    >"$tmp/head4.safetensors"
  run "${BUILD:-build}/examples/classify_folder" "$W" "$tmp/folder" "$tmp/head4.safetensors"
  [ "$rc" -eq 1 ] && [ -z "$out" ] && echo "$err" | grep -q "head4.safetensors: the head takes 4 features, the network gives [0-9]"
  check "examples/classify_folder with a head made for another network's features: refused" $? "rc=$rc $out $err"
fi
unset RESNET_CACHE
