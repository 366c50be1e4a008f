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
    case "$b" in *mpi_*) continue ;; esac  # MPI benchmarks run under mpirun below
    echo "== $(basename "$b")"
    "$b" || { echo "   ($(basename "$b") failed with status $?)"; status=1; }
    echo
done
# Data-parallel scaling: needs mpirun and the MPI benchmark binary.
if [ -x "$build/bench/mpi_scaling" ] && command -v mpirun >/dev/null 2>&1; then
    echo "== mpi_scaling (mpirun -np 2)"
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader \
        timeout 600 mpirun -np 2 --oversubscribe "$build/bench/mpi_scaling" || status=1
    echo
fi
echo "CSV written to $out"
exit $status
