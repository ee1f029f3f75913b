#!/usr/bin/env bash
# test_dask.sh - examples/dask_classify.py on a local cluster of 2 worker processes (loopback),
# on the demo photos (tier 1: no ../shared): a folder of 12 copies in subfolders plus a file
# that is not a photo. Its lines must equal `resnet classify DIR --json`'s, line for line (the
# same order, files, classes and printed probabilities, the same error record), its exit
# status the CLI's (1: one photo unreadable), and the model must load once per worker (2),
# not once per photo or task (7 tasks of 2 photos). Needs python3 with numpy and distributed
# (Debian's python3-numpy, python3-distributed; .ci/run installs them).
set -u
cd "$(dirname "$0")/.."
. tests/common.sh # BIN
use_python numpy distributed

d=$tmp/photos
mkdir -p "$d/a" "$d/b/c"
for i in 1 2 3 4; do
  cp demo/chelsea.png "$d/a/cat$i.png"
  cp demo/coffee.png "$d/b/coffee$i.png"
  cp demo/coffee.png "$d/b/c/more coffee $i.png"
done
head -c 3000 demo/chelsea.png >"$d/a/broken.png"
# a name that is not ASCII: the CLI writes it as UTF-8, so the lines must too (not \u00e9)
mv "$d/b/c/more coffee 4.png" "$d/b/c/more café 4.png"

"$BIN" classify --json "$d" >"$tmp/cli.jsonl" 2>/dev/null
cli_rc=$?
RESNET_LIBRARY=$BUILD/libresnet.so timeout 600 "$py" examples/dask_classify.py "$d" --workers 2 --chunk 2 \
  >"$tmp/dask.jsonl" 2>"$tmp/dask.err"
rc=$?
echo "     $(grep '^dask_classify:' "$tmp/dask.err")"
[ "$(wc -l <"$tmp/cli.jsonl")" -eq 13 ] && grep -q '"error"' "$tmp/cli.jsonl"
check "the CLI's answer: 13 lines, one an error record" $? "$(cat "$tmp/cli.jsonl")"
cmp -s "$tmp/cli.jsonl" "$tmp/dask.jsonl"
check "dask_classify --workers 2: the same lines as classify DIR --json, byte for byte" $? \
  "$(diff "$tmp/cli.jsonl" "$tmp/dask.jsonl" | head -5)"
[ "$rc" -eq "$cli_rc" ] && [ "$rc" -eq 1 ]
check "exit status 1 as the CLI's ($cli_rc): a photo could not be read" $? "rc=$rc, $(tail -3 "$tmp/dask.err")"
grep -q '^dask_classify: 13 photos, 1 could not be read, on 2 workers (model loaded 2 times)$' "$tmp/dask.err"
check "2 workers, the model loaded once per worker (7 tasks)" $? "$(tail -5 "$tmp/dask.err")"

RESNET_LIBRARY=$BUILD/libresnet.so timeout 300 "$py" examples/dask_classify.py "$tmp/missing" --workers 1 \
  >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "$tmp/missing" "$tmp/err" && [ ! -s "$tmp/out" ]
check "a missing folder: one line naming it, exit 1, no cluster started" $? "rc=$rc $(cat "$tmp/err")"
"$py" examples/dask_classify.py "$d" --workers 0 >/dev/null 2>&1
check "--workers 0 is a usage error (exit 2)" $([ $? -eq 2 ]; echo $?) ""

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
