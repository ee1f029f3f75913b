#!/usr/bin/env bash
# int8-vs-fp32.sh INT8FILE [ROUNDS] - `resnet bench` on an int8 file and on the default fp32
# weights, side by side: batch 1 on 1 and 2 threads, batch 8 on 2 threads; in every round
# one then the other, the order swapped every round (this machine's speed drifts for seconds
# at a time, so only paired ratios compare). Prints each run, then per setting the best and
# median ms per batch of each and the median (and range) of the rounds' int8/fp32 ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
Q=${1:?usage: bench/int8-vs-fp32.sh INT8FILE [ROUNDS]}
ROUNDS=${2:-5}
BIN=${RESNET_BIN:-build/resnet}
runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
for r in $(seq 1 "$ROUNDS"); do
  for setting in "1 1 20" "1 2 20" "8 2 5"; do
    read -r b t it <<<"$setting"
    order="int8 fp32"
    [ $((r % 2)) -eq 0 ] && order="fp32 int8"
    for p in $order; do
      w=()
      [ "$p" = int8 ] && w=(--weights "$Q")
      ms=$("$BIN" bench "${w[@]}" --batch "$b" --threads "$t" --iters "$it" --warmup 2 |
        sed -n 's/^median \([0-9.]*\) ms per batch.*/\1/p')
      echo "round $r batch $b threads $t $p $ms" | tee -a "$runs"
    done
  done
done
echo
awk '
  { key = "batch " $4 ", " $6 " thread(s)"; ms[key, $7, $2] = $8; keys[key] = 1; rounds[$2] = 1 }
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    printf "%-22s %22s %22s %s\n", "setting", "int8 ms best/median", "fp32 ms best/median", "int8/fp32 (median of rounds, range)"
    for (k in keys) {
      n = 0
      for (r in rounds) { n++; q[n] = ms[k, "int8", r]; f[n] = ms[k, "fp32", r]; x[n] = q[n] / f[n] }
      mq = median(q, n); mf = median(f, n); mx = median(x, n)
      printf "%-22s %10.2f / %-9.2f %10.2f / %-9.2f %.3f (%.3f-%.3f)\n", k, q[1], mq, f[1], mf, mx, x[1], x[n]
    }
  }' "$runs"
