#!/bin/sh
# tests/fuzz/run.sh BUILD SECONDS - run every libFuzzer harness for SECONDS each.
# The seed corpus (tests/fuzz/corpus/<target>/) is read but not modified; inputs the
# fuzzer finds go to BUILD/fuzz/corpus-<target>/. A crash leaves its input as
# BUILD/fuzz/crash-* and fails the run: turn it into a regression test.
set -u
build=$1
seconds=${2:-60}
status=0
for f in "$build"/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    target=$(basename "$f" | sed 's/^fuzz_//')
    work="$build/fuzz/corpus-$target"
    mkdir -p "$work"
    echo "== fuzz $target for ${seconds}s"
    log="$build/fuzz/$target.log"
    # -malloc_limit_mb: inputs are at most a few kB, so a parser that allocates 64 MB
    # at once trusted a declared size (the IDX reader once did): report it as a crash.
    if ! ASAN_OPTIONS=detect_leaks=1 "$f" -max_total_time="$seconds" -print_final_stats=1 \
        -malloc_limit_mb=64 \
        -artifact_prefix="$build/fuzz/crash-$target-" "$work" "tests/fuzz/corpus/$target" \
        >"$log" 2>&1; then
        echo "   CRASH: see $log and $build/fuzz/crash-$target-*"
        status=1
    fi
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" | sed 's/^/   /'
    grep -E "^#[0-9]+.*DONE" "$log" | tail -1 | sed 's/^/   /'
done
exit $status
