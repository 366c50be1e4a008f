#!/bin/sh
# tests/mpi/run.sh TEST_BINARY - the MPI checks of `make test`.
#  1. the data-parallel test under `mpirun -np 2`, bounded by a timeout;
#  2. a rank that dies before MPI starts must make mpirun fail promptly with a message,
#     not hang (the timeout turns a hang into a failure of this script).
set -u
bin=$1
# Root may run mpirun here (CI runs as root); loopback and shared memory only.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
MPIRUN="mpirun -np 2 --oversubscribe"
LIMIT=120

echo "== mpi: data-parallel training on 2 ranks"
timeout $LIMIT $MPIRUN "$bin"
status=$?
if [ $status -eq 124 ]; then
    echo "mpi: FAILED: the 2-rank test did not finish within ${LIMIT}s"
    exit 1
fi
[ $status -eq 0 ] || exit 1

echo "== mpi: a rank that fails to start gives an error, not a hang"
start=$(date +%s)
out=$(timeout 60 $MPIRUN sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then exit 3; fi; exec "$0"' "$bin" 2>&1)
status=$?
took=$(( $(date +%s) - start ))
if [ $status -eq 124 ]; then
    echo "mpi: FAILED: a missing rank made the job hang (killed after 60 s)"
    exit 1
fi
if [ $status -eq 0 ]; then
    echo "mpi: FAILED: the job succeeded although rank 1 never started"
    exit 1
fi
echo "$out" | grep -i -m1 -E "exit|abort|error" | sed 's/^/   mpirun said: /'
echo "mpi: PASS rank failure reported (status $status) after ${took}s"
