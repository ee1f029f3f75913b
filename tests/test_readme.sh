#!/usr/bin/env bash
# test_readme.sh - the examples of README.md give what the README shows, so it cannot drift.
#
# Which blocks are checked: an indented code block right after the line
#     <!-- checked by tests/test_readme.sh -->
# (an HTML comment: invisible on the rendered page). In such a block each line that starts
# with "$ " is a command, run with bash from a copy of the repository root, and the lines
# after it, up to the next "$ " line or the end of the block, are its expected stdout,
# compared exactly (trailing blank lines aside); it must also exit 0. Other blocks are only
# illustrations and are not run: mark a block only if every command in it can run on a fresh
# clone after `make demo` (the demo photos; ../shared's photos when it is there, see below).
#
# Also: the apt-get line against tools/deps.sh, the C example compiled and run, the length.
#
# The commands run in a scratch folder holding links to the repository's build/ (or $BUILD),
# demo/ and tests/, so that files they write (cam's -o) land there, never in the checkout;
# ../shared from there is $RESNET_SHARED when it exists. A block that names ../shared is
# skipped, one line saying so, without it. Weights: RESNET_TEST_V1_CAFFE (tests/run.sh).
set -u
cd "$(dirname "$0")/.."
README=${README:-README.md}
BUILD=${BUILD:-build}
SHARED=${RESNET_SHARED:-../shared}
MARK='<!-- checked by tests/test_readme.sh -->'
export RESNET_WEIGHTS=${RESNET_TEST_V1_CAFFE:?run through tests/run.sh}
root=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export RESNET_CACHE=$tmp/cache
mkdir -p "$tmp/work"
ln -s "$root/$BUILD" "$tmp/work/build"
ln -s "$root/demo" "$tmp/work/demo"
ln -s "$root/tests" "$tmp/work/tests"
[ -d "$SHARED" ] && ln -s "$(cd "$SHARED" && pwd)" "$tmp/shared"
passed=0 failed=0 skipped=0

check() { # name, condition-result (0 = ok), detail
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "ok   $1"
  else failed=$((failed + 1)); echo "FAIL $1: $3"; fi
}

# The marked blocks, unindented, each line prefixed with its block's number ("N<TAB>line").
awk -v mark="$MARK" '
  $0 == mark { want = 1; next }
  want && /^    / { if (!inblock) { n++; inblock = 1 } print n "\t" substr($0, 5); next }
  want && /^[ \t]*$/ { if (inblock) print n "\t"; next }   # blank lines: inside a block, or before it
  { want = 0; inblock = 0 }
' "$README" >"$tmp/blocks"
blocks=$(cut -f1 "$tmp/blocks" | sort -u | grep -c .)
commands=$(grep -c $'^[0-9]*\t\\$ ' "$tmp/blocks")
[ "$blocks" -ge 1 ] && [ "$commands" -ge 1 ]
check "$README has checked blocks ($blocks blocks, $commands commands)" $? "none marked with $MARK"

# run_block N: runs block N's commands and compares their output
run_block() {
  local n=$1 cmd="" line
  : >"$tmp/expected"
  if cut -f2- <(grep "^$n"$'\t' "$tmp/blocks") | grep -q '\.\./shared' && [ ! -d "$SHARED" ]; then
    if [ "${RESNET_REQUIRE_SHARED:-0}" = 1 ]; then
      check "README block $n" 1 "RESNET_REQUIRE_SHARED=1 but $SHARED is not there"
      return
    fi
    skipped=$((skipped + 1))
    echo "skip README block $n ($(grep -m1 "^$n"$'\t\\$ ' "$tmp/blocks" | cut -f2-)): needs $SHARED, which is not there (set RESNET_SHARED if shared/ is elsewhere)"
    return
  fi
  while IFS= read -r line; do
    if [[ "$line" == '$ '* ]]; then
      [ -n "$cmd" ] && compare "$cmd"
      cmd=${line#\$ }
      : >"$tmp/expected"
    elif [ -n "$cmd" ]; then
      printf '%s\n' "$line" >>"$tmp/expected"
    fi
  done < <(grep "^$n"$'\t' "$tmp/blocks" | cut -f2-)
  [ -n "$cmd" ] && compare "$cmd"
}

# compare CMD: runs it in the scratch folder, compares stdout with $tmp/expected
compare() {
  local rc
  (cd "$tmp/work" && bash -c "$1") >"$tmp/got" 2>"$tmp/err"
  rc=$?
  # trailing blank lines are layout, not output
  sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$tmp/expected" >"$tmp/want"
  sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$tmp/got" >"$tmp/got2"
  if [ "$rc" -eq 0 ] && cmp -s "$tmp/want" "$tmp/got2"; then
    check "README: $1" 0 ""
  else
    check "README: $1" 1 "exit $rc; README shows / the command prints:
$(diff "$tmp/want" "$tmp/got2" | sed 's/^/     /')
$(sed 's/^/     stderr: /' "$tmp/err")"
  fi
}

for n in $(cut -f1 "$tmp/blocks" | sort -un); do run_block "$n"; done

# The Set-up's apt-get line names every Debian package tools/deps.sh (make deps, .ci/run) may
# install for the build and the tests (not its --extras: clang and its runtime for `make fuzz`,
# chromium for one optional check of tests/test_report.sh), but
# nodejs and npm, which the README asks for only when npm is missing (NodeSource's nodejs
# conflicts with Debian's npm), so a clean machine set up from the README builds and tests as
# CI's does.
apt_line=$(grep -m1 -E '^ *(sudo )?apt-get install ' "$README")
missing="" extra=""
for p in $(sed '/^if \[ "$extras" = 1 \]/,/^fi/d' tools/deps.sh | grep -o 'need+=([^)]*)' | sed 's/^need+=(//; s/)$//' | tr ' ' '\n' |
  grep -v -E '^(clang|libclang|chromium$|nodejs$|npm$)' | sort -u); do
  [[ " $apt_line " == *" $p "* ]] || missing="$missing $p"
done
for p in nodejs npm; do [[ " $apt_line " == *" $p "* ]] && extra="$extra $p"; done
[ -n "$apt_line" ] && [ -z "$missing" ] && [ -z "$extra" ] && grep -q '`nodejs npm` as well, only if `npm` is missing' "$README" &&
  grep -q '(`make deps`' "$README"
check "$README: make deps, and the apt-get line names what tools/deps.sh installs (nodejs npm apart)" $? \
  "line: '$apt_line'; missing:$missing; there but must not be:$extra"

# The library's example (the one ```c block) compiles against the build and classifies a photo.
awk '/^```c$/ { on = 1; next } /^```$/ { on = 0 } on' "$README" >"$tmp/app.c"
# Linked as the README says for the source tree (its line with build/libresnet.a), the
# build's static library standing in for the one named there.
cmd=$(grep -o '`cc -Iinclude app.c build/libresnet.a [^`]*`' "$README" | tr -d '`')
if [ -s "$tmp/app.c" ] && [ -n "$cmd" ] &&
  (cd "$tmp" && ln -sf "$root/include" include && mkdir -p build && ln -sf "$root/$BUILD/libresnet.a" build/ &&
    CC="${CC:-cc} -std=c11 -Wall -Wextra -Werror" && eval "\$CC ${cmd#cc }") 2>"$tmp/err"; then
  "$tmp/app" demo/chelsea.png >"$tmp/got" 2>"$tmp/err"
  rc=$?
  [ "$rc" -eq 0 ] && [ "$(sed -n 1p "$tmp/got")" = " 78.43%  Egyptian cat" ]
  check "$README: the C example builds and classifies demo/chelsea.png" $? "rc=$rc: $(cat "$tmp/got" "$tmp/err")"
else
  check "$README: the C example builds" 1 "$(head -c 2000 "$tmp/err")"
fi
grep -qF -- '-Wl,-rpath' "$README" && grep -qF 'LD_LIBRARY_PATH' "$README"
check "$README: says how a program finds libresnet.so.1 under another prefix (rpath, LD_LIBRARY_PATH)" $? ""

# For users: short, no commit hashes, no ../shared paths they do not have.
lines=$(wc -l <"$README")
hashes=$(grep -noE '\b[0-9a-f]{7,40}\b' "$README" | grep -E ':[0-9a-f]*[a-f][0-9a-f]*$' | grep -E ':[0-9a-f]*[0-9][0-9a-f]*$' | head -3)
[ "$lines" -le 400 ] && [ -z "$hashes" ] && ! grep -q '\.\./shared' "$README"
check "$README: at most 400 lines ($lines), no commit hashes, no ../shared paths" $? "hashes: $hashes; $(grep -n '\.\./shared' "$README" | head -3)"

if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"
else echo "$passed passed, $failed failed"; fi
[ "$failed" -eq 0 ]
