#!/usr/bin/env bash
# threads.sh - what the second thread buys, layer kind by layer kind: `resnet bench --profile`
# at 1 thread and at 2, alternately (1 2, then 2 1, ...) in ROUNDS rounds, and for each kind
# of layer (bench --profile's "by method" table) the median over the rounds of its time at 1
# thread, at 2, and of the rounds' ratios (1 thread / 2 threads: 2.00 is perfect scaling).
# Then the time a pass spends between its layers at 2 threads (bench --profile's "between
# layers": each pass's time less its own layers' times, median per process), and the median
# forward pass at each thread count.
#
#   bench/threads.sh [ROUNDS [BENCH OPTIONS...]]     (default 5 rounds of --iters 20)
#   e.g. bench/threads.sh 5 --weights model-int8.safetensors
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
shift || true
BIN=build/resnet
[ -x "$BIN" ] || make -s
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# one process: "method<TAB>ms" rows, then "between<TAB>ms" and "forward<TAB>ms"
profile() {
  "$BIN" bench --iters 20 --profile --threads "$1" "${@:2}" | awk '
    /^median / { print "forward\t" $2 }
    /^  between layers / { print "between\t" $3 }
    /^by method/ { on = 1; next }
    on && /%$/ && $1 != "method" { name = $1; for (i = 2; i <= NF - 4; i++) name = name " " $i; print name "\t" $(NF - 2) }'
}

for ((r = 0; r < ROUNDS; r++)); do
  if ((r % 2 == 0)); then profile 1 "$@" >"$tmp/1.$r"; profile 2 "$@" >"$tmp/2.$r"
  else profile 2 "$@" >"$tmp/2.$r"; profile 1 "$@" >"$tmp/1.$r"; fi
done

# every (kind, round): its time at 1 and 2 threads -> medians and the median ratio
awk -F'\t' -v rounds="$ROUNDS" '
  function median(a, n,    i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  FNR == 1 { split(FILENAME, p, "/"); split(p[length(p)], q, "."); t = q[1]; r = q[2] }
  { if (!($1 in seen)) { seen[$1] = 1; order[++kinds] = $1 } ms[$1, t, r] = $2 }
  END {
    printf "%-30s %10s %10s %8s\n", "layer kind", "1 thread", "2 threads", "scaling"
    for (k = 1; k <= kinds; k++) {
      name = order[k]
      if (name == "between" || name == "forward") continue
      for (r = 0; r < rounds; r++) { a[r + 1] = ms[name, 1, r]; b[r + 1] = ms[name, 2, r]
                                      c[r + 1] = ms[name, 2, r] > 0 ? ms[name, 1, r] / ms[name, 2, r] : 0 }
      printf "%-30s %7.3f ms %7.3f ms %7.2fx\n", name, median(a, rounds), median(b, rounds), median(c, rounds)
    }
    for (r = 0; r < rounds; r++) { a[r + 1] = ms["forward", 1, r]; b[r + 1] = ms["forward", 2, r]
                                    c[r + 1] = ms["forward", 1, r] / ms["forward", 2, r] }
    printf "%-30s %7.2f ms %7.2f ms %7.2fx   (median of each process'"'"'s median)\n", "forward pass", median(a, rounds), median(b, rounds), median(c, rounds)
    for (r = 0; r < rounds; r++) { a[r + 1] = ms["between", 1, r]; b[r + 1] = ms["between", 2, r] }
    printf "%-30s %7.3f ms %7.3f ms             (per pass, outside its layers)\n", "between layers", median(a, rounds), median(b, rounds)
  }' "$tmp"/[12].*
echo "(layer kinds: best time of each layer over 20 passes, summed by kind; $ROUNDS rounds; $(nproc) cores:" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $("$BIN" bench "$@" --iters 1 --warmup 0 | head -1 | sed 's/, threads .*//'))"
