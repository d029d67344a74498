#!/usr/bin/env bash
# Training speed of two qat binaries on 1 and 2 cores, interleaved (docs/RESULTS.md,
# "Training speed on 1 and 2 cores").
#
#   scripts/train-speed.sh OLD_QAT NEW_QAT [ROUNDS] [IMAGES]
#
# Each round trains W8A8 QAT LeNet-5 (quantizers active from the first step) for one epoch of
# the first IMAGES (default 3200) training images with each binary under GOMAXPROCS=1 and
# GOMAXPROCS=2, the binaries' order alternating from round to round, and records the training
# seconds the command reports (train_seconds: the epoch loop, without data loading and
# evaluation). It prints every run, then per core count the median over rounds of the ratio
# new/old and the ratio of the summed times (below 1: the new binary is faster).
set -euo pipefail
old=$1 new=$2 rounds=${3:-5} images=${4:-3200}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { # BINARY PROCS -> seconds
  GOMAXPROCS=$2 "$1" train --epochs 1 --train-limit "$images" --test-limit 100 --mode qat \
    --quant-delay 0 --quiet --json --out "$tmp/run" 2>/dev/null |
    sed -n 's/.*"train_seconds":\([0-9.e+-]*\).*/\1/p'
}
for r in $(seq 1 "$rounds"); do
  for p in 1 2; do
    if [ $((r % 2)) = 1 ]; then order="old new"; else order="new old"; fi
    for which in $order; do
      bin=$old; [ "$which" = new ] && bin=$new
      s=$(run "$bin" "$p")
      echo "round $r GOMAXPROCS=$p $which $s"
    done
  done
done | tee "$tmp/log"
awk '
  { split($3, a, "="); t[$2, a[2], $4] = $5; procs[a[2]] = 1; n = $2 }
  END {
    for (p in procs) {
      k = 0; so = 0; sn = 0
      for (r = 1; r <= n; r++) {
        o = t["" r, p, "old"]; w = t["" r, p, "new"]
        ratio[++k] = w / o; so += o; sn += w
      }
      # median of the k ratios
      for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (ratio[j] < ratio[i]) { x = ratio[i]; ratio[i] = ratio[j]; ratio[j] = x }
      med = (k % 2) ? ratio[(k + 1) / 2] : (ratio[k / 2] + ratio[k / 2 + 1]) / 2
      printf "GOMAXPROCS=%s: new/old time, median of %d rounds %.3f, summed %.3f (old %.1f s, new %.1f s)\n", p, k, med, sn / so, so, sn
    }
  }' "$tmp/log"
