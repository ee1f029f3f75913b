# common.sh - sourced by the shell tests from the repository root: the build folder, the
# resnet binary ($BIN), ../shared ($SHARED), a temporary folder removed at exit, check(),
# run(), have_shared() and summary() with the "N passed, N failed" counters that tests/run.sh
# reads, and finding a python3 that has the modules a test needs.
BUILD=${BUILD:-build}
BIN=${RESNET_BIN:-$BUILD/resnet}
SHARED=${RESNET_SHARED:-../shared}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 skipped=0

check() { # name, condition-result (0 = ok), detail
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "ok   $1"
  else failed=$((failed + 1)); echo "FAIL $1: $3"; fi
}

# have_shared WHAT NAME: whether $SHARED/WHAT exists (SHARED: ../shared unless set); if not,
# check NAME is skipped, saying why (failed under RESNET_REQUIRE_SHARED=1)
have_shared() {
  [ -e "$SHARED/$1" ] && return 0
  if [ "${RESNET_REQUIRE_SHARED:-0}" = 1 ]; then check "$2" 1 "RESNET_REQUIRE_SHARED=1 but $SHARED/$1 is not there"; return 1; fi
  skipped=$((skipped + 1)); echo "skip $2: needs $SHARED/$1, which is not there (set RESNET_SHARED if shared/ is elsewhere)"
  return 1
}

# run CMD... -> $out, $err, $rc
run() { "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; out=$(cat "$tmp/out"); err=$(cat "$tmp/err"); }

# summary: the "N passed, N failed[, N skipped]" line tests/run.sh reads; fails if any failed
summary() {
  if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"
  else echo "$passed passed, $failed failed"; fi
  [ "$failed" -eq 0 ]
}

# use_python [MODULE...]: sets py to $PYTHON, else python3, else Debian's own (a pyenv or venv
# python3 first on PATH may lack the Debian packages) - the first that imports the modules;
# none: prints the failure and its summary and exits 1. With a library built with SANITIZE=1
# (make SANITIZE=1 BUILD=build-asan test) preloads the sanitizer runtimes that python3 is not
# linked with; leaks are python's own at exit, so LeakSanitizer is off (the C tests check the
# library's).
use_python() {
  local c imports=pass names=$* pkgs=""
  [ $# -gt 0 ] && imports="import $(echo "$*" | sed 's/ /, /g')" && names=$(echo "$*" | sed 's/ / and /g')
  for c; do pkgs="$pkgs${pkgs:+ }python3-$c"; done
  py=""
  for c in ${PYTHON:-} python3 /usr/bin/python3; do
    if "$c" -c "$imports" 2>/dev/null; then py=$c; break; fi
  done
  if [ -z "$py" ]; then
    echo "FAIL python3${names:+ with $names} not found${pkgs:+ (apt-get install $pkgs)}"
    echo "0 passed, 1 failed"
    exit 1
  fi
  if readelf -d "$BUILD/libresnet.so" 2>/dev/null | grep -q 'libasan'; then
    export LD_PRELOAD="$(${CC:-cc} -print-file-name=libasan.so) $(${CC:-cc} -print-file-name=libubsan.so)"
    export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
  fi
}
