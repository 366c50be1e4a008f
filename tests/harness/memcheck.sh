#!/bin/sh
# tests/harness/memcheck.sh SUITE... - every suite under valgrind (`make memcheck`).
#
# Each suite runs once under valgrind in Check's no-fork mode (CK_FORK=no, so valgrind
# sees the tests themselves, not a parent waiting on children), with
# --leak-check=full --errors-for-leak-kinds=definite,indirect: a definite or indirect
# leak, an invalid read or write, a use of uninitialised memory or a failing test makes
# the suite fail. "Still reachable" blocks (OpenBLAS's thread pool, Check's own
# bookkeeping) are not leaks. Suites run $MEMCHECK_JOBS at a time (default: the number
# of cores). MEMCHECK_ORIGINS=yes adds --track-origins=yes (where an uninitialised
# value came from; about twice as slow). Exit status 1 if any suite failed.
set -u

origins=
[ "${MEMCHECK_ORIGINS:-no}" = yes ] && origins=--track-origins=yes

# One suite: writes LOGDIR/NAME.{out,vg,rc}.
run_one() {
    suite=$1
    name=$(basename "$suite")
    start=$(date +%s)
    CK_FORK=no CK_TIMEOUT_MULTIPLIER=100 OPENBLAS_NUM_THREADS=1 \
        timeout -k 10 "${MEMCHECK_TIMEOUT:-3600}" \
        valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --show-leak-kinds=definite,indirect $origins --error-exitcode=99 \
        --log-file="$logs/$name.vg" "$suite" >"$logs/$name.out" 2>&1
    rc=$?
    echo "$rc $(($(date +%s) - start))" >"$logs/$name.rc"
    case $rc in
        0) verdict="clean" ;;
        99) verdict="VALGRIND ERRORS" ;;
        124 | 137) verdict="TIMED OUT" ;;
        *) verdict="FAILED (status $rc)" ;;
    esac
    printf 'memcheck: %-20s %s (%s s)\n' "$name" "$verdict" "$(($(date +%s) - start))"
}

if [ "${1:-}" = --one ]; then # internal: xargs calls back with one suite
    logs=$2
    run_one "$3"
    exit 0
fi

if [ $# -eq 0 ]; then
    echo "memcheck: no suites given"
    exit 1
fi
command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed (make deps)"; exit 1; }

jobs=${MEMCHECK_JOBS:-$(nproc 2>/dev/null || echo 2)}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT INT TERM

echo "memcheck: $# suite(s) under valgrind, $jobs at a time"
for s in "$@"; do printf '%s\n' "$s"; done |
    xargs -P "$jobs" -I{} sh "$0" --one "$logs" {}

status=0
for s in "$@"; do
    name=$(basename "$s")
    read -r rc _ <"$logs/$name.rc" 2>/dev/null || rc=1
    [ "$rc" -eq 0 ] && continue
    status=1
    echo
    echo "==== $name (status $rc)"
    grep -E '^[0-9]+%: Checks|:[FE]:' "$logs/$name.out" | head -n 40
    echo "---- valgrind:"
    head -c 20000 "$logs/$name.vg"
done
echo
if [ $status -eq 0 ]; then
    echo "memcheck: $# passed, 0 failed (no leaks, no invalid accesses)"
else
    failed=0
    for s in "$@"; do
        read -r rc _ <"$logs/$(basename "$s").rc" 2>/dev/null || rc=1
        [ "$rc" -eq 0 ] || failed=$((failed + 1))
    done
    echo "memcheck: $(($# - failed)) passed, $failed failed"
    [ -z "$origins" ] && echo "(uninitialised values? MEMCHECK_ORIGINS=yes make memcheck shows where they came from)"
fi
exit $status
