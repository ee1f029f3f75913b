#!/usr/bin/env bash
# test_serve.sh - `resnet serve`, the JSON-lines worker, on the demo photos only (tier 1):
# answers equal `classify --json` for files, base64 images and test-time views; features equal
# `resnet embed`'s; malformed lines get error records carrying their id and the worker goes
# on; answers come in the order of the requests (a long mix), one per request, flushed (a lone
# request is answered while the input stays open); EOF ends it with status 0. The checks are
# in tests/serve_check.py (python3's standard library only). Run by tests/run.sh or alone.
set -u
cd "$(dirname "$0")/.."
. tests/common.sh
use_python
TMPDIR=$tmp RESNET_BIN=${RESNET_BIN:-$BUILD/resnet} "$py" tests/serve_check.py
