#!/usr/bin/env bash
# test_pip.sh - the Python package as a user installs it: `pip install ./python` into a fresh
# virtual environment (python3 -m venv --system-site-packages, for Debian's numpy), with no
# network (pyproject.toml's backend needs nothing), then `python3 -m resnet classify` against
# `resnet classify --json`, byte for byte: the demo photos, a folder, a missing file, a name
# that is not UTF-8; and an installed package that cannot find its library says how to.
# Run by tests/run.sh (RESNET_TEST_V1_CAFFE: the weights), or alone from the root.
set -u
cd "$(dirname "$0")/.."
. tests/common.sh
use_python numpy
export RESNET_WEIGHTS=${RESNET_TEST_V1_CAFFE:?run through tests/run.sh}
root=$(pwd)

if ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
  echo "FAIL $py has no venv/ensurepip (Debian: apt-get install python3-venv)"
  echo "0 passed, 1 failed"
  exit 1
fi
before=$(git status --porcelain --ignored python 2>&1)
"$py" -m venv --system-site-packages "$tmp/venv" >"$tmp/log" 2>&1 &&
  (cd "$tmp" && PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 "$tmp/venv/bin/pip" install "$root/python") >>"$tmp/log" 2>&1
check "pip install ./python in a fresh virtual environment, offline" $? "$(tail -5 "$tmp/log")"
vpy=$tmp/venv/bin/python
where=$(cd "$tmp" && "$vpy" -c 'import resnet; print(resnet.__file__)' 2>&1)
after=$(git status --porcelain --ignored python 2>&1)
[[ "$where" == "$tmp/venv/"* ]] && [ "$before" = "$after" ]
check "the package is imported from the environment; pip left nothing in python/" $? "$where; $(diff <(echo "$before") <(echo "$after"))"

# the sdist the backend builds installs too (it has no ../include/resnet.h for the version)
meta_version() { (cd "$tmp" && "$vpy" -c 'from importlib.metadata import version; print(version("resnet"))' 2>&1); }
wheel_version=$(meta_version)
mkdir -p "$tmp/sdist"
(cd python && PYTHONDONTWRITEBYTECODE=1 "$py" -c 'import sys, build_backend; build_backend.build_sdist(sys.argv[1])' \
  "$tmp/sdist") >"$tmp/log" 2>&1 &&
  (cd "$tmp" && PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 "$tmp/venv/bin/pip" install --force-reinstall --no-deps \
    "$tmp"/sdist/resnet-*.tar.gz) >>"$tmp/log" 2>&1 && [ "$(meta_version)" = "$wheel_version" ]
check "pip install of the backend's sdist, offline: the same version ($wheel_version)" $? \
  "$(meta_version); $(grep -m1 RuntimeError "$tmp/log") $(tail -2 "$tmp/log")"

mkdir -p "$tmp/photos/sub"
cp demo/chelsea.png "$tmp/photos/a.png"
cp demo/coffee.png "$tmp/photos/sub/b.png"
cp demo/coffee.png "$tmp/photos/$(printf 'caf\xe9 "x".png')"
printf 'not a photo' >"$tmp/photos/broken.jpg"
export RESNET_LIBRARY=$root/$BUILD/libresnet.so
# the last two: more classes than the network has (the CLI gives them all): 11 of a network of
# 10 classes, 1001 of ImageNet's 1000
for args in "demo/chelsea.png demo/coffee.png" "-k 2 $tmp/photos" "--tta flip -k 3 demo/chelsea.png $tmp/nothing.jpg" \
  "--weights tests/data/family/small_grouped.safetensors -k 11 demo/chelsea.png" "-k 1001 demo/coffee.png"; do
  # shellcheck disable=SC2086 # the words are the arguments
  "$BIN" classify --json $args >"$tmp/cli.out" 2>/dev/null
  rc_cli=$?
  # shellcheck disable=SC2086
  "$vpy" -m resnet classify $args >"$tmp/py.out" 2>"$tmp/py.err"
  rc_py=$?
  [ "$rc_cli" = "$rc_py" ] && [ -s "$tmp/cli.out" ] && cmp -s "$tmp/cli.out" "$tmp/py.out"
  check "python3 -m resnet classify $args: the CLI's JSON lines and exit status ($rc_cli)" $? \
    "exit $rc_py; $(diff "$tmp/cli.out" "$tmp/py.out" | head -6) $(tail -3 "$tmp/py.err")"
done

# a photo on standard input, as the tool reads it
"$BIN" classify --json -k 2 - <demo/coffee.png >"$tmp/cli.out" 2>/dev/null
"$vpy" -m resnet classify -k 2 - <demo/coffee.png >"$tmp/py.out" 2>"$tmp/py.err"
rc=$?
[ "$rc" -eq 0 ] && [ -s "$tmp/cli.out" ] && cmp -s "$tmp/cli.out" "$tmp/py.out"
check "python3 -m resnet classify -: the photo on standard input, as the tool reads it" $? \
  "rc=$rc $(diff "$tmp/cli.out" "$tmp/py.out" | head -4) $(tail -3 "$tmp/py.err")"
# no photo at all in a folder, and an output that cannot be written: one line and exit 1, as the tool
mkdir -p "$tmp/nophotos"
for case in "$tmp/nophotos|/dev/stdout" "demo/chelsea.png|/dev/full"; do
  "$vpy" -m resnet classify "${case%%|*}" >"${case#*|}" 2>"$tmp/err" | cat >/dev/null
  rc=${PIPESTATUS[0]}
  "$BIN" classify --json "${case%%|*}" >"${case#*|}" 2>"$tmp/cli.err" | cat >/dev/null
  [ "$rc" -eq 1 ] && [ "$(grep -c . "$tmp/err")" -eq 1 ] && grep -qF "$(tail -1 "$tmp/cli.err")" "$tmp/err"
  check "python3 -m resnet classify ${case%%|*} >${case#*|}: exit 1 and the tool's one line" $? \
    "rc=$rc $(head -3 "$tmp/err") (tool: $(tail -1 "$tmp/cli.err"))"
done

"$vpy" -m resnet classify -k 0 demo/chelsea.png >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" -eq 2 ] && grep -q -- "-k must be from 1 to 1000000" "$tmp/err"
check "python3 -m resnet classify -k 0: a usage error (2)" $? "rc=$rc $(cat "$tmp/err")"

RESNET_LIBRARY=$tmp/none.so "$vpy" -m resnet classify demo/chelsea.png >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] && [ "$(grep -c . "$tmp/err")" -eq 1 ] && grep -q "make install" "$tmp/err"
check "no library: one line saying how to get one, exit 1" $? "rc=$rc $(cat "$tmp/err")"

summary
