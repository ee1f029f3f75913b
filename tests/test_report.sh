#!/usr/bin/env bash
# test_report.sh - `resnet eval DIR --report OUT.html` (src/cli/eval_html.c) and `resnet
# classify DIR --report OUT.html` (src/cli/classify_html.c, a contact sheet): on a small set
# made of the demo photos, some labelled wrongly on purpose (so that there are confusions and
# confident mistakes), the page is checked against `eval --json` of the same set
# (tests/report_check.py: parses as HTML, the numbers, the pictures, nothing outside the
# page); the output is refused where it would overwrite an input or another kind of file;
# with --tta, the gain over the plain view matches eval without it; and headless Chromium
# (Debian's chromium) renders it to a PNG that is not blank (skipped,
# saying so, where chromium is not installed). Run by tests/run.sh, or alone from the root.
set -u
cd "$(dirname "$0")/.."
. tests/common.sh
use_python numpy
export RESNET_WEIGHTS=${RESNET_TEST_V1_CAFFE:?run through tests/run.sh}
export RESNET_CACHE=$tmp/cache

set_dir=$tmp/set
mkdir -p "$set_dir"
cp demo/chelsea.png "$set_dir/cat.png"         # 285 Egyptian cat: right
cp demo/coffee.png "$set_dir/cup.png"          # 967 espresso: right
cp demo/chelsea.png "$set_dir/cat-as-tabby.png" # labelled 281: wrong, 281 -> 285
cp demo/coffee.png "$set_dir/cup-as-cup.png"   # labelled 968: wrong, 968 -> 967
cp tests/data/golden/chelsea.jpg "$set_dir/cat.jpg" # labelled 281 too: the pair counts 2
printf 'file\tlabel\ncat.png\t285\ncup.png\t967\ncat-as-tabby.png\t281\ncup-as-cup.png\t968\ncat.jpg\t281\n' \
  >"$set_dir/labels.tsv"

run "$BIN" eval "$set_dir" --json
cp "$tmp/out" "$tmp/eval.json"
run "$BIN" eval "$set_dir" --report "$tmp/r.html"
[ "$rc" -eq 0 ] && [ -s "$tmp/r.html" ] && [ -z "$(ls "$tmp" | grep 'r.html.tmp')" ]
check "eval --report writes the page (exit 0, no temporary left)" $? "rc=$rc $err"
"$py" tests/report_check.py "$tmp/r.html" "$tmp/eval.json" >"$tmp/check" 2>&1
rc=$?
sed 's/^/     /' "$tmp/check"
[ "$rc" -eq 0 ] && grep -q '^ok   3 confident mistakes shown' "$tmp/check" && grep -q '^ok   2 confusions shown' "$tmp/check"
check "the page holds eval --json's numbers, 2 confusions and 3 mistakes with pictures (report_check.py)" $? \
  "$(grep FAIL "$tmp/check")"

# with --tta: the gain over the plain view, whose figures are those of eval without --tta
run "$BIN" eval "$set_dir" --tta flip --json
cp "$tmp/out" "$tmp/flip.json"
run "$BIN" eval "$set_dir" --tta flip --report "$tmp/flip.html"
"$py" - "$tmp/flip.html" "$tmp/eval.json" "$tmp/flip.json" >"$tmp/gain" 2>&1 <<'PY'
import json, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
plain, flip = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
m = re.search(r'<p id="tta-gain">.*?<span id="plain-top1">([0-9.]+)</span> &rarr; ([0-9.]+).*?'
              r'<span id="plain-top5">([0-9.]+)</span> &rarr; ([0-9.]+)', page)
want = ("%.4f" % plain["top1"], "%.4f" % flip["top1"], "%.4f" % plain["top5"], "%.4f" % flip["top5"])
print(m.groups() if m else None, want)
sys.exit(0 if m and m.groups() == want else 1)
PY
check "eval --tta flip --report: the gain over the plain view, whose figures are eval's without --tta" $? \
  "rc=$rc $(cat "$tmp/gain")"

# again over its own page: replaced; over a photo of the set, labels.tsv or another file: refused
run "$BIN" eval "$set_dir" --report "$tmp/r.html"
check "eval --report over a page it wrote: replaced" "$rc" "rc=$rc $err"
cp "$set_dir/cat.png" "$tmp/keep.png"
run "$BIN" eval "$set_dir" --report "$set_dir/cat.png"
[ "$rc" -eq 1 ] && cmp -s "$set_dir/cat.png" "$tmp/keep.png" && [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ]
check "eval --report pointed at a photo of the set: refused, one line, the photo untouched" $? "rc=$rc $err"
run "$BIN" eval "$set_dir" --report "$set_dir/labels.tsv"
[ "$rc" -eq 1 ] && grep -q 'cup-as-cup' "$set_dir/labels.tsv"
check "eval --report pointed at labels.tsv: refused" $? "rc=$rc $err"
echo '<html>my own page</html>' >"$tmp/mine.html"
run "$BIN" eval "$set_dir" --report "$tmp/mine.html"
[ "$rc" -eq 1 ] && grep -q 'my own page' "$tmp/mine.html" && printf '%s' "$err" | grep -q -- '--force'
check "eval --report over an HTML file it did not write: refused (--force to replace)" $? "rc=$rc $err"
run "$BIN" eval "$set_dir" --report ''
[ "$rc" -eq 2 ]
check "eval --report '': a usage error" $? "rc=$rc $err"

# classify --report: the contact sheet of unlabelled photos, grouped by top-1
mkdir -p "$tmp/unlabelled/sub"
cp demo/chelsea.png "$tmp/unlabelled/a.png"
cp tests/data/golden/chelsea.jpg "$tmp/unlabelled/sub/b.jpg"
cp demo/coffee.png "$tmp/unlabelled/c.png"
printf 'not a photo' >"$tmp/unlabelled/broken.jpg"
run "$BIN" classify "$tmp/unlabelled" --report "$tmp/sheet.html"
rc_sheet=$rc
"$py" - "$tmp/sheet.html" >"$tmp/sheet.txt" 2>&1 <<'PY'
import base64, html.parser, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.bad, self.imgs, self.groups = [], [], [], []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img": self.imgs.append(a.get("src", ""))
        if tag not in ("img", "br", "meta"): self.stack.append(tag)
    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag: self.bad.append(tag)
p = P(); p.feed(text); p.close()
groups = re.findall(r'<h2 class="group">(\d+) &times; ([^<]*?) <', text)
pngs = [s for s in p.imgs if s.startswith("data:image/png;base64,") and
        base64.b64decode(s[22:])[:8] == b"\x89PNG\r\n\x1a\n"]
print(groups, len(pngs), p.bad, p.stack)
ok = (text.startswith("<!DOCTYPE html><!-- a report written by resnet -->") and not p.bad and not p.stack and
      groups == [("2", "Egyptian cat"), ("1", "espresso")] and len(pngs) == 3 == len(p.imgs) and
      'id="unreadable"' in text and "broken.jpg" in text.split('id="unreadable"')[1])
sys.exit(0 if ok else 1)
PY
[ $? -eq 0 ] && [ "$rc_sheet" -eq 1 ]
check "classify DIR --report: a contact sheet, 2 Egyptian cats then 1 espresso, 3 embedded PNGs, the broken file listed (exit 1 for it)" \
  $? "rc=$rc_sheet $(cat "$tmp/sheet.txt") $err"
cp "$tmp/unlabelled/a.png" "$tmp/keep.png"
run "$BIN" classify "$tmp/unlabelled" --report "$tmp/unlabelled/a.png"
[ "$rc" -eq 1 ] && cmp -s "$tmp/unlabelled/a.png" "$tmp/keep.png"
check "classify --report pointed at one of its photos: refused, the photo untouched" $? "rc=$rc $err"

# rendered by a browser: headless Chromium takes a screenshot, which must not be blank
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  skipped=$((skipped + 1))
  echo "skip the page rendered by headless Chromium: chromium is not installed (apt-get install chromium)"
else
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$tmp/chromium" \
    --window-size=1100,1600 --screenshot="$tmp/shot.png" "file://$tmp/r.html" >"$tmp/chromium.log" 2>&1
  rc=$?
  RESNET_LIBRARY=$BUILD/libresnet.so PYTHONPATH=python "$py" -c '
import sys, resnet
a = resnet.load_image(sys.argv[1]).astype(int)
rows = (a != a[0, 0]).any(axis=(1, 2)).sum()
colours = len({tuple(p) for p in a[::7, ::7].reshape(-1, 3).tolist()})
print("%d of %d rows drawn, %d colours" % (rows, a.shape[0], colours))
sys.exit(0 if rows > a.shape[0] // 4 and colours > 50 else 1)' "$tmp/shot.png" >"$tmp/shot.txt" 2>&1
  check "headless Chromium renders the page to a PNG that is not blank ($(cat "$tmp/shot.txt"))" $? \
    "chromium rc=$rc $(tail -3 "$tmp/chromium.log")"
fi
summary
