#!/bin/sh
# tests/harness/selftest/run.sh BUILD - test the grader itself (part of `make test`).
#
# Grades BUILD/tools/selftest_suite (tests/harness/selftest/fake_suite.c: tests that
# segfault, hang, call exit(0), flood stdout, leak, abort, fail, and one that passes,
# plus attacks on the verdict: _exit(0), fork, atexit, a forged completion record,
# writing into the runner's results, leaking and exiting only under valgrind, and, as
# root, tests that allocate, fork, start threads, create files and write without end)
# with the real tests/harness/grade.sh, and checks that each bad test costs only its
# own points, the good one scores, output is kept and cut, a suite that crashes before
# any test or does not exist costs only its own week, a corrupt results file is
# survived, the valgrind item catches a leak, each resource hog is stopped by its limit
# and costs only its own points, and results.json is valid every time
# (validated by `grade --summary`, i.e. cJSON, with every field Gradescope reads).
# Last, the handout cutter (weeks/cut-regions.awk) on the fixture regions.c: every
# week's cut compiles with -Werror, has the right stubs, and bad markers stop it.
set -u
build=${1:-build}
bin=$build/tools/selftest_suite
tool=$build/tools/grade
here=$(dirname "$0")
grade_sh=$here/../grade.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0
checks=0
check() { # check DESCRIPTION COMMAND...
    what=$1
    shift
    checks=$((checks + 1))
    if "$@" >/dev/null 2>&1; then
        echo "  ok    $what"
    else
        echo "  FAIL  $what"
        failures=$((failures + 1))
    fi
}
# the line of `grade --tests` for a test, as "status score max output-length"
# no_process_of UID: whether no process of that real uid is running (from
# /proc/PID/status: a non-dumpable process's /proc folder is root's, whoever runs it).
no_process_of() {
    for st in /proc/[0-9]*/status; do
        [ "$(awk '/^Uid:/ { print $2; exit }' "$st" 2>/dev/null)" = "$1" ] && return 1
    done
    return 0
}
line_of() { awk -v n="$2" '$NF == n || $NF == n":" { print $2, $3, $4, $5; exit }' "$1"; }
has() { [ "$(line_of "$1" "$2" | cut -d' ' -f1-3)" = "$3" ]; }
output_below() { [ "$(line_of "$1" "$2" | cut -d' ' -f4)" -lt "$3" ]; }

for f in "$bin" "$tool"; do
    [ -x "$f" ] || { echo "selftest: $f is missing (make $f)"; exit 2; }
done
cp "$bin" "$tmp/selftest_crash"

echo "grader self-test: misbehaving tests, a crashing suite, a missing suite"
start=$(date +%s)
RESULTS=$tmp/r1.json GRADE_DIR=$tmp/g1 GRADE_SUITES="$bin $tmp/selftest_crash $tmp/no_such_suite" \
    sh "$grade_sh" "$build" >"$tmp/grade1.log" 2>&1
rc=$?
elapsed=$(($(date +%s) - start))
check "grade.sh finishes (status 0) despite everything" [ $rc -eq 0 ]
check "results.json is valid" "$tool" --summary "$tmp/r1.json"
"$tool" --tests "$tmp/r1.json" >"$tmp/t1" 2>&1
check "the passing test scores 3/3" has "$tmp/t1" test_passes "passed 3 3"
check "a failed assertion costs its 1 point" has "$tmp/t1" test_fails "failed 0 1"
check "a segfault costs its 1 point" has "$tmp/t1" test_segfault "failed 0 1"
check "an infinite loop costs its 1 point" has "$tmp/t1" test_hangs "failed 0 1"
check "exit(0) inside a test costs its 1 point" has "$tmp/t1" test_exit_zero "failed 0 1"
check "4 MB of output costs its 1 point" has "$tmp/t1" test_floods "failed 0 1"
check "abort() costs its 1 point" has "$tmp/t1" test_aborts "failed 0 1"
check "a leaking test passes in fork mode (valgrind's job)" has "$tmp/t1" test_leaks "passed 2 2"
check "the flood's output is cut to a few kB" output_below "$tmp/t1" test_floods 20000
check "the cut is announced" grep -q 'more bytes of output cut' "$tmp/r1.json"
check "a failing test keeps what it printed" grep -q 'what the test printed before failing' "$tmp/r1.json"
check "a crashing test keeps what it printed" grep -q 'about to dereference NULL' "$tmp/r1.json"
check "the segfault is named" grep -q 'Received signal 11' "$tmp/r1.json"
check "the timeout is named" grep -q 'Test timeout expired' "$tmp/r1.json"
check "exit(0) is explained" grep -q 'called exit() before finishing' "$tmp/r1.json"
check "_exit(0) inside a test costs its 1 point" has "$tmp/t1" test_underscore_exit "failed 0 1"
check "fork() then _exit(0) in both costs its 1 point" has "$tmp/t1" test_fork_exit "failed 0 1"
check "an atexit() handler then exit(0) costs its 1 point" has "$tmp/t1" test_atexit_exit "failed 0 1"
check "a forged completion record costs its 1 point" has "$tmp/t1" test_forged_record "failed 0 1"
check "writing into the runner's stdout via /proc costs its 1 point" has "$tmp/t1" test_parent_fd "failed 0 1"
check "... and the runner's stdout could not be opened" grep -q 'could not open /proc/[0-9]*/fd/1' "$tmp/r1.json"
check "the real nonce and a NUL before the harness's FAIL record costs its 1 point" has "$tmp/t1" test_nul_record "failed 0 1"
check "... and the nonce was found (the attack ran)" grep -q 'found the nonce; writing it with a NUL' "$tmp/r1.json"
check "reopening the record channel through /proc, forging and closing it costs its 1 point" has "$tmp/t1" test_reopen_record "failed 0 1"
check "... and the channel could not be reopened" grep -q 'could not reopen the record channel' "$tmp/r1.json"
check "writing the record with the real nonce into the channel and closing it costs its 1 point" has "$tmp/t1" test_forge_then_close "failed 0 1"
check "... and the record was written (the attack ran)" grep -q 'forged the record in descriptor' "$tmp/r1.json"
check "... and the closed channel is named" grep -q 'closed or replaced the harness.s record channel' "$tmp/r1.json"
check "the forged record is named" grep -q 'completion record is not the harness' "$tmp/r1.json"
check "valgrind item not given to a suite with failures" has "$tmp/t1" "passing" "failed 0 5"
check "the crashing suite is recorded, with zero" grep -q 'selftest_crash: no results' "$tmp/r1.json"
check "the missing suite is recorded, with zero" grep -q 'no_such_suite: no results' "$tmp/r1.json"
check "the hang is cut by its 1 s limit (whole run < 60 s)" [ "$elapsed" -lt 60 ]
"$tool" --summary "$tmp/r1.json" >"$tmp/s1" 2>&1
check "total is 5 of 34 (3 + 2 of 19 test points, 3 valgrind items of 5)" grep -qx 'total 5 34' "$tmp/s1"
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
    check "as root, the suites ran as nobody" grep -q "the test runs as uid $(id -u nobody)" "$tmp/r1.json"
fi

echo "grader self-test: corrupt and truncated results files"
mkdir -p "$tmp/g2"
"$bin" --list >"$tmp/g2/selftest.list"
printf '{"suite": "selftest", "tests": [ {"name": "test_passes", "sco' >"$tmp/g2/selftest.json"
printf 'week9_nothing 1\n' >"$tmp/g2/other.list"
printf '\377\376 not json, not UTF-8 \300\n' >"$tmp/g2/other.json"
"$tool" --dir "$tmp/g2" --out "$tmp/r2.json" selftest other >"$tmp/grade2.log" 2>&1
check "a corrupt results file still gives a valid results.json" "$tool" --summary "$tmp/r2.json"
"$tool" --summary "$tmp/r2.json" >"$tmp/s2" 2>&1
check "... with the week's tests failed and their points kept (0 of 20)" grep -qx 'total 0 20' "$tmp/s2"
check "... and the reason in their output" grep -q 'is corrupt' "$tmp/r2.json"

echo "grader self-test: the valgrind item"
RESULTS=$tmp/r3.json GRADE_DIR=$tmp/g3 GRADE_SUITES="$bin" SELFTEST_MODE=leak \
    sh "$grade_sh" "$build" >"$tmp/grade3.log" 2>&1
"$tool" --tests "$tmp/r3.json" >"$tmp/t3" 2>&1
check "a leak fails the valgrind item (tests pass, item 0/5)" has "$tmp/t3" "passing" "failed 0 5"
check "... and says what leaked" grep -q 'definitely lost' "$tmp/r3.json"
RESULTS=$tmp/r4.json GRADE_DIR=$tmp/g4 GRADE_SUITES="$bin" SELFTEST_MODE=clean \
    sh "$grade_sh" "$build" >"$tmp/grade4.log" 2>&1
"$tool" --tests "$tmp/r4.json" >"$tmp/t4" 2>&1
check "a clean suite earns the valgrind item (5/5)" has "$tmp/t4" "passing" "passed 5 5"
RESULTS=$tmp/r5.json GRADE_DIR=$tmp/g5 GRADE_SUITES="$bin" SELFTEST_MODE=vgexit \
    sh "$grade_sh" "$build" >"$tmp/grade5.log" 2>&1
"$tool" --tests "$tmp/r5.json" >"$tmp/t5" 2>&1
check "a test that leaks and _exit(0)s only under valgrind passes normally" has "$tmp/t5" test_exit_under_vg "passed 2 2"
check "... but does not earn the valgrind item (0/5)" has "$tmp/t5" "passing" "failed 0 5"

echo "grader self-test: the limits on what a test may take (memory, processes, disk, network)"
# Only as root: then the suites run as their own user (here a uid no other process has,
# so the process limit, counted per user, is this run's alone and a fork bomb here
# cannot starve anyone else's suites) in a private namespace with a size-limited /tmp.
# Without both, the fork bomb and the disk hog would not stop.
hog_uid=$((200000 + $$ % 100000))
if [ "$(id -u)" -eq 0 ] &&
    unshare --mount --pid --ipc --net --fork --mount-proc -- sh -c 'mount -t tmpfs -o size=1m probe /tmp' 2>/dev/null; then
    start=$(date +%s)
    RESULTS=$tmp/r8.json GRADE_DIR=$tmp/g8 GRADE_SUITES="$bin" SELFTEST_MODE=limits \
        GRADE_USER=$hog_uid sh "$grade_sh" "$build" >"$tmp/grade8.log" 2>&1
    elapsed=$(($(date +%s) - start))
    "$tool" --tests "$tmp/r8.json" >"$tmp/t8" 2>&1
    check "allocating without end costs its 1 point" has "$tmp/t8" test_memory_hog "failed 0 1"
    check "... and the memory limit is named" grep -q 'its memory limit is [0-9]* MB of address space' "$tmp/r8.json"
    check "forking children that together hold more than the memory limit costs its 1 point" has "$tmp/t8" test_fork_memory "failed 0 1"
    check "... they were killed, and the limit is named" grep -q "the test's processes held [0-9]* MB of memory together, more than its limit of [0-9]* MB; they were killed" "$tmp/r8.json"
    check "a fork bomb costs its 1 point" has "$tmp/t8" test_fork_bomb "failed 0 1"
    check "... stopped by the process limit, and what it left was killed" \
        grep -q 'left [0-9]* process(es) behind; they were killed (at most [0-9]* processes' "$tmp/r8.json"
    check "starting threads without end costs its 1 point" has "$tmp/t8" test_thread_bomb "failed 0 1"
    check "... stopped by the process limit" grep -q 'threads before pthread_create failed (Resource temporarily unavailable)' "$tmp/r8.json"
    check "creating files without end costs its 1 point" has "$tmp/t8" test_many_files "failed 0 1"
    check "writing without end (its folder, /tmp, /var/tmp, /dev/shm) costs its 1 point" has "$tmp/t8" test_disk_hog "failed 0 1"
    check "... both stopped by the scratch space, which is named" \
        sh -c "[ \$(grep -c 'the test filled its scratch space' '$tmp/r8.json') -eq 2 ]"
    check "reaching the network costs its 1 point" has "$tmp/t8" test_network "failed 0 1"
    check "... there is none (a private network namespace)" grep -q 'connect to 192.0.2.1: Network is unreachable' "$tmp/r8.json"
    check "an honest test after the hogs has everything back and scores 2/2" has "$tmp/t8" test_after_hogs "passed 2 2"
    check "the valgrind item still judges the honest tests" has "$tmp/t8" passing "passed 2.08 5"
    "$tool" --summary "$tmp/r8.json" >"$tmp/s8" 2>&1
    check "total is exactly the honest tests' (5 of 12 test points) and their share of the valgrind item (2.08)" grep -qx "total 7.08 17" "$tmp/s8"
    check "no process of the run's user is left on the machine" no_process_of "$hog_uid"
    check "nothing was written to the machine's /tmp, /var/tmp or /dev/shm" \
        sh -c "! ls /tmp/strata-disk-hog-* /var/tmp/strata-disk-hog-* /dev/shm/strata-disk-hog-* >/dev/null 2>&1"
    check "the hogs were stopped quickly (whole run < 120 s)" [ "$elapsed" -lt 120 ]
else
    echo "  skip  the limits (need root and a private mount namespace, to bound processes and disk)"
fi

echo "grader self-test: what the merger believes"
mkdir -p "$tmp/g6"
printf 'test_a 1\ntest_b 2\n' >"$tmp/g6/s.list"
cat >"$tmp/g6/s.json" <<'EOF'
{"suite": "s", "tests": [{"name": "test_a", "score": 1, "max_score": 1, "status": "passed", "output": ""},
 {"name": "test_extra", "score": 1000000, "max_score": 1000000, "status": "passed", "output": ""},
 {"name": "test_b", "score": 50, "max_score": 50, "status": "failed", "output": ""}]}
EOF
"$tool" --strict --dir "$tmp/g6" --out "$tmp/r6.json" s >/dev/null 2>&1
"$tool" --summary "$tmp/r6.json" >"$tmp/s6" 2>&1
check "an entry not in the list scores nothing; the list sets the points (1 of 3)" grep -qx 'total 1 3' "$tmp/s6"
{ cat "$tmp/g6/s.json"; cat "$tmp/g6/s.json"; } >"$tmp/g6/t.json"
cp "$tmp/g6/s.list" "$tmp/g6/t.list"
"$tool" --strict --dir "$tmp/g6" --out "$tmp/r7.json" t >/dev/null 2>&1
"$tool" --summary "$tmp/r7.json" >"$tmp/s7" 2>&1
check "two JSON values in one results file make it corrupt (0 of 3)" grep -qx 'total 0 3' "$tmp/s7"

echo "grader self-test: the handout cutter"
awkfile=$here/../../../weeks/cut-regions.awk
fixture=$here/regions.c
cc=${CC:-cc}
# stubs expected per week (regions of week >= W): 4, 2, 1, 0 (+1: the prototype line)
for w in 1 2 3 4; do
    expect=$(( $(printf '4 2 1 0' | cut -d' ' -f$w) + 1 ))
    check "week $w: the cut compiles with -Werror" sh -c \
        "awk -v week=$w -f '$awkfile' '$fixture' >'$tmp/cut$w.c' &&
         $cc -std=c11 -Wall -Wextra -Wpedantic -Werror -c '$tmp/cut$w.c' -o '$tmp/cut$w.o'"
    check "week $w: $((expect - 1)) stubs, no marker left" sh -c \
        "[ \$(grep -c 'strata_not_implemented(' '$tmp/cut$w.c') -eq $expect ] &&
         ! grep -q SOLUTION '$tmp/cut$w.c'"
done
check "week 1: parameters silenced, failure value returned" sh -c \
    "grep -q '(void)fn;' '$tmp/cut1.c' && grep -q '(void)values;' '$tmp/cut1.c' &&
     grep -q 'return -1;' '$tmp/cut1.c' && grep -q 'return 0.0f;' '$tmp/cut1.c' &&
     ! grep -q 'static int helper' '$tmp/cut1.c'"
check "level=core keeps a stretch region solved, level=full cuts it" sh -c \
    "sed 's/week=1 step=1 tier=core fail=void/week=1 step=1 tier=stretch fail=void/' '$fixture' >'$tmp/tiered.c' &&
     [ \$(awk -v week=1 -f '$awkfile' '$tmp/tiered.c' | grep -c 'strata_not_implemented(') -eq 4 ] &&
     [ \$(awk -v week=1 -v level=full -f '$awkfile' '$tmp/tiered.c' | grep -c 'strata_not_implemented(') -eq 5 ]"
printf '/* SOLUTION BEGIN week=1 fail=0 */\nint x;\n/* SOLUTION END */\n' >"$tmp/notier.c"
printf '/* SOLUTION BEGIN week=1 step=1 tier=core */\nint x;\n' >"$tmp/open.c"
printf 'int x;\n/* SOLUTION END */\n' >"$tmp/close.c"
printf 'int f(int a)\n{\n    /* SOLUTION BEGIN week=1 step=1 tier=core fail=0 */\n    return a;\n    /* SOLUTION END */\n    a++;\n}\n' >"$tmp/tail.c"
printf 'int y; /* SOLUTION BEGIN week=1 step=1 tier=core */\n' >"$tmp/inline.c"
for bad in notier open close tail inline; do
    check "a malformed region ($bad) stops the cut" sh -c \
        "! awk -v week=1 -f '$awkfile' '$tmp/$bad.c' >/dev/null 2>&1"
done

if [ $failures -ne 0 ]; then
    echo "grader self-test: $failures of $checks checks FAILED; logs:"
    for f in "$tmp"/grade*.log; do
        echo "== $f"
        tail -n 40 "$f"
    done
    exit 1
fi
echo "grader self-test: $checks passed, 0 failed"
