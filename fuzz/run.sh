#!/usr/bin/env bash
# run.sh - runs fuzz harnesses: each over its seed corpus and its saved regression inputs
# (any crash fails), then SECONDS of fuzzing from there. `make fuzz-run` calls it (CI); for
# long runs give more seconds, e.g. nice -n 19 fuzz/run.sh 600 image.
#
#   fuzz/run.sh SECONDS [HARNESS...]      (default: image safetensors tfjs serve onnx oip head)
#
# Inputs the run finds interesting go to $FUZZ_BUILD/work/<harness>/ (kept between runs, so a
# longer campaign can resume); crashes to $FUZZ_BUILD/work/crash-<harness>-*. Neither touches
# the seeds or fuzz/regressions/: copy a crash there by hand once it is fixed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
B=${FUZZ_BUILD:-build-fuzz}
secs=${1:?usage: fuzz/run.sh SECONDS [HARNESS...]}
shift
[ $# -gt 0 ] || set -- image safetensors tfjs serve onnx oip head

# -malloc_limit_mb=256: no input of these sizes needs more (the fuzz build's images are at most
# 4 Mpixels), so a bigger single allocation is a finding: it is how a header that claims 2 GB
# shows up (fuzz/regressions/image/oom-*).
opts_for() { # per harness: the largest input, and a dictionary of the format's words
  case $1 in
    image) echo "-max_len=16384 -dict=fuzz/image.dict" ;;
    safetensors) echo "-max_len=4096 -dict=fuzz/safetensors.dict" ;;
    tfjs) echo "-max_len=65536 -dict=fuzz/tfjs.dict" ;;
    serve) echo "-max_len=4096 -dict=fuzz/serve.dict" ;;
    onnx) echo "-max_len=262144 -dict=fuzz/onnx.dict" ;; # the seeds are real exports of 68 and 227 KB
    oip) echo "-max_len=4096 -dict=fuzz/oip.dict" ;;
    head) echo "-max_len=20000 -dict=fuzz/head.dict" ;;
  esac
}

failed=0
for h in "$@"; do
  bin=$B/fuzz_$h
  [ -x "$bin" ] || { echo "fuzz: $bin not built (make fuzz)" >&2; exit 2; }
  mkdir -p "$B/work/$h"
  dirs=("$B/work/$h")
  # made by make_corpus for the file formats; serve's, oip's and head's seeds are their fuzz/regressions/
  [ -d "$B/corpus/$h" ] && dirs+=("$B/corpus/$h")
  [ -d "fuzz/regressions/$h" ] && dirs+=("fuzz/regressions/$h")
  echo "== fuzz_$h: seeds and regressions, then ${secs}s of fuzzing"
  log=$B/work/$h.log
  # shellcheck disable=SC2046
  "$bin" $(opts_for "$h") -timeout=20 -rss_limit_mb=2560 -malloc_limit_mb=256 -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix="$B/work/crash-$h-" "${dirs[@]}" >"$log" 2>&1
  rc=$?
  grep -E '^(INFO: seed corpus|#[0-9]+ +(INITED|DONE)|stat::number_of_executed_units|SUMMARY|fuzz check)' "$log" | sed 's/^/   /'
  if [ "$rc" -ne 0 ]; then
    echo "   fuzz_$h FAILED (exit $rc); log: $log, inputs: $B/work/crash-$h-*"
    grep -E '^==[0-9]+==ERROR|runtime error|fuzz check failed' "$log" | head -5 | sed 's/^/   /'
    failed=1
  fi
done
exit "$failed"
