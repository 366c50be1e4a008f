#!/bin/sh
# bench/run.sh BUILD_DIR - run every benchmark built under BUILD_DIR/bench.
#
# Each benchmark prints its own table (strata figure, reference figure measured in the
# same run, ratio) and appends CSV rows "benchmark,case,strata,reference,ratio" to
# $BENCH_CSV. The PyTorch comparisons run only when python3 can import torch
# (Debian's python3-torch); otherwise they are skipped with a note.
set -u
build=${1:-build/release}
out=${BENCH_CSV:-bench/results.csv}
echo "benchmark,case,strata,reference,ratio" > "$out"
export BENCH_CSV="$out"

status=0
for b in "$build"/bench/*; do
    [ -x "$b" ] || continue
    echo "== $(basename "$b")"
    "$b" || { echo "   ($(basename "$b") failed with status $?)"; status=1; }
    echo
done
echo "CSV written to $out"
exit $status
