#!/usr/bin/env bash
# test_http.sh - `resnet serve --http` over loopback (127.0.0.1 only), on the demo photos (tier 1):
# the Open Inference Protocol v2 endpoints and /v1/classify against `classify --json`, errors
# (400, 404, 405, 413, 503) with the server going on, a client gone mid-upload, concurrent
# clients all answered exactly once and batched together, /metrics counting them, and
# SIGTERM answering the requests in flight before exit 0 (under ASan in CI: no leak at exit).
# The checks are in tests/http_check.py (python3's standard library only).
set -u
cd "$(dirname "$0")/.."
. tests/common.sh
use_python
TMPDIR=$tmp RESNET_BIN=${RESNET_BIN:-$BUILD/resnet} timeout 900 "$py" tests/http_check.py | tee "$tmp/check.log"
rc=${PIPESTATUS[0]}
# hostile clients (tests/http_hostile.py): framing, sizes, slow clients, the drain's deadline
TMPDIR=$tmp RESNET_BIN=${RESNET_BIN:-$BUILD/resnet} timeout 600 "$py" tests/http_hostile.py | tee "$tmp/hostile.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
# --max-per-client for IPv6 clients (tests/http_ipv6.py): in a network namespace of its own
# (unprivileged, through a user namespace), where two /64s are local routes on the loopback
skips=0
if command -v ip >/dev/null && unshare -rn sh -c 'ip link set lo up && ip -6 route add local fd00:1::/64 dev lo' 2>/dev/null; then
  TMPDIR=$tmp RESNET_BIN=${RESNET_BIN:-$BUILD/resnet} unshare -rn sh -c 'ip link set lo up && ip -6 route add local fd00:1::/64 dev lo &&
    ip -6 route add local fd00:2::/64 dev lo && exec "$0" tests/http_ipv6.py' "$py" |
    tee "$tmp/ipv6.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
else
  echo "skip --max-per-client for IPv6 clients: needs 'ip' (iproute2), 'unshare -rn' (a network namespace of our own) and IPv6"
  skips=1
fi
# one summary for tests/run.sh: the scripts' counts together
cat "$tmp/check.log" "$tmp/hostile.log" "$tmp/ipv6.log" 2>/dev/null | grep -E '^[0-9]+ passed, [0-9]+ failed' |
  awk -v s=$skips '{p += $1; f += $3} END {printf "%d passed, %d failed", p, f; if (s) printf ", %d skipped", s; printf "\n"}'
exit $rc
