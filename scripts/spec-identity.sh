#!/bin/sh
# The built-in networks built from their specs train bit-identically to main before the specs
# (e25f9eb): one short run of each with both binaries, checkpoints compared with the
# wall-clock seconds zeroed (scripts/ckcmp). Run from the repository root; an argument names
# another base commit (e.g. scripts/spec-identity.sh c620626).
set -e
base=${1:-e25f9eb}
tmp=$(mktemp -d)
git archive "$base" | (mkdir -p "$tmp/src" && tar -x -C "$tmp/src")
(cd "$tmp/src" && go build -o "$tmp/qat-old" ./cmd/qat)
go build -o "$tmp/qat-new" ./cmd/qat
for m in "lenet5" "lenet300-100" "lenet5-bn --mode float"; do
  n=$(echo $m | cut -d' ' -f1)
  for b in old new; do
    mkdir -p "$tmp/$b/$n"
    (cd "$tmp/$b/$n" && "$tmp/qat-$b" train --model $m --epochs 1 --train-limit 2000 --test-limit 500 --out run --quiet --plot=false > log 2>&1)
  done
  echo "== $m"
  go run ./scripts/ckcmp "$tmp/old/$n/run/checkpoint.qck" "$tmp/new/$n/run/checkpoint.qck"
done
rm -rf "$tmp"
