#!/bin/sh
# tests/harness/run-suites.sh SUITE... - run graded suites the way `make test` does.
#
# Each suite runs in Check's fork mode (each test in its own process with its time
# limit) and prints Check's own report. The last line is one summary over all suites
# in Check's format, e.g. "100%: Checks: 212, Failures: 0, Errors: 0". A suite that
# dies without its summary (it should not: crashes are caught per test) counts as one
# error. Exit status 1 if anything failed.
set -u

# A developer's CK_FORK=no (handy in gdb) must not leak into the real run.
unset CK_FORK CK_RUN_SUITE CK_RUN_CASE 2>/dev/null || true

if [ $# -eq 0 ]; then
    echo "run-suites: no suites given (are there tests/weekN_<layer>/ folders?)"
    echo "0%: Checks: 0, Failures: 0, Errors: 1"
    exit 1
fi

checks=0
failures=0
errors=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT INT TERM

for suite in "$@"; do
    name=$(basename "$suite")
    echo "== $name"
    if [ ! -x "$suite" ]; then
        echo "$name: not built"
        checks=$((checks + 1)); errors=$((errors + 1))
        continue
    fi
    start=$(date +%s)
    "$suite" >"$log" 2>&1
    rc=$?
    cat "$log"
    line=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "$name: ended (status $rc) without Check's summary line"
        checks=$((checks + 1)); errors=$((errors + 1))
        continue
    fi
    read -r c f e <<EOF
$(echo "$line" | sed -E 's/^[0-9]+%: Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2 \3/')
EOF
    checks=$((checks + c))
    failures=$((failures + f))
    errors=$((errors + e))
    # A suite whose tests all passed but which still exited non-zero is an error too.
    if [ $rc -ne 0 ] && [ $((f + e)) -eq 0 ]; then
        echo "$name: exited with status $rc"
        checks=$((checks + 1)); errors=$((errors + 1))
    fi
    echo "($name: $(($(date +%s) - start)) s)"
done

passed=$((checks - failures - errors))
[ $passed -lt 0 ] && passed=0
percent=100
[ $checks -gt 0 ] && percent=$((passed * 100 / checks))
[ $checks -eq 0 ] && [ $errors -gt 0 ] && percent=0
echo
echo "All suites:"
echo "$percent%: Checks: $checks, Failures: $failures, Errors: $errors"
[ $failures -eq 0 ] && [ $errors -eq 0 ]
