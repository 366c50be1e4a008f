#!/bin/sh
# tests/harness/redteam/run.sh BUILD - attack the deployed grader (part of `make test`).
#
# Each fixture is a week-2 submission made from the handout's own files (one cut
# handout, built once, shared by every fixture) plus an attack a student could try.
# Every one goes through tests/harness/grade-submission.sh, the deployed grader, and
# must score 0; the refused ones must say why in results.json. As root, resource hogs in
# the stubs must be stopped by the grader's limits and cost nothing but those stubs'
# tests. Then an honest partial submission (the reference's files for part of the week,
# the handout's stubs for the rest) must score exactly the points of the tests it really
# passes, as Check itself counts them in its own fork mode, and the untouched handout
# must score 0.
# Week 2 is the smallest week to build on top of the reference; the handouts are built
# at -O1 and without the valgrind items. Exiting 0 under valgrind is refused here like
# any _exit; that the valgrind item holds even when such code runs is shown on the
# runner itself by tests/harness/selftest/ (a test that leaks and _exits only under
# valgrind passes normally but loses the item). docs/grading.md, "Threat model".
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../../.." && pwd)
here=$root/tests/harness/redteam
week=2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-redteam.XXXXXX")
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
tool=$root/$build/tools/grade
[ -x "$tool" ] || { echo "redteam: $tool is missing (make $tool)"; exit 2; }
t0=$(date +%s)

# The shared handout, built once (its own stubs too: a fixture recompiles only the
# files it changed).
handout=$tmp/handout
sh "$root/weeks/cut-handout.sh" $week "$handout" >"$tmp/cut.log" 2>&1 || {
    cat "$tmp/cut.log"
    exit 1
}
(cd "$handout" && ${MAKE:-make} --no-print-directory -j2 BUILD=build OPT=-O1 lib-tensor \
    lib-autograd build/tools/grade) >"$tmp/handout-build.log" 2>&1 || {
    tail -n 20 "$tmp/handout-build.log"
    exit 1
}
GRADE_HANDOUT=$handout GRADE_REFBUILD=$tmp/refbuild GRADE_OPT=-O1 GRADE_VALGRIND=no
export GRADE_HANDOUT GRADE_REFBUILD GRADE_OPT GRADE_VALGRIND
files=$(cd "$root" && grep -lE "SOLUTION BEGIN week=$week([^0-9]|\$)" autograd/*.c | sort)
first=$(printf '%s\n' "$files" | head -n 1)

# new_fixture NAME: a submission holding the handout's week-2 files.
new_fixture() {
    fx=$tmp/fx/$1
    mkdir -p "$fx/autograd"
    for f in $files; do cp "$handout/$f" "$fx/$f"; done
}
# stub_calls FILE REPLACEMENT: every stub of FILE runs REPLACEMENT instead of recording
# "not implemented".
stub_calls() {
    sed -i "s|strata_not_implemented(__func__, $week);|$2|" "$1"
}
# grade_fixture NAME [ENV=VALUE...]: grade it; "score max" of the result into NAME.score.
grade_fixture() {
    name=$1
    shift
    env "$@" sh "$root/tests/harness/grade-submission.sh" $week "$tmp/fx/$name" \
        "$tmp/$name.json" >"$tmp/$name.log" 2>&1
    "$tool" --summary "$tmp/$name.json" 2>/dev/null | awk '$1 == "total" { print $2, $3 }' \
        >"$tmp/$name.score"
}
# no_process_of UID: whether no process of that real uid is running (from
# /proc/PID/status: a non-dumpable process's /proc folder is root's, whoever runs it).
no_process_of() {
    for st in /proc/[0-9]*/status; do
        [ "$(awk '/^Uid:/ { print $2; exit }' "$st" 2>/dev/null)" = "$1" ] && return 1
    done
    return 0
}
zero() { s=$(cat "$tmp/$1.score"); [ -n "$s" ] && [ "${s%% *}" = 0 ] && [ "${s#* }" -gt 0 ]; }
says() { grep -q "$2" "$tmp/$1.json"; }

echo "red team: attacks refused before anything runs (week $week, through grade-submission)"
# Each: name, what to expect in results.json, how to make it.
new_fixture exit_in_stubs
stub_calls "$tmp/fx/exit_in_stubs/$first" '_exit(0);'
sed -i '1i #include <unistd.h>' "$tmp/fx/exit_in_stubs/$first"
new_fixture fork_then_exit
stub_calls "$tmp/fx/fork_then_exit/$first" '(void)fork(); _exit(0);'
sed -i '1i #include <unistd.h>' "$tmp/fx/fork_then_exit/$first"
new_fixture ctor_results
cat "$here/ctor_results.c" >>"$tmp/fx/ctor_results/$first"
new_fixture ctor_list
cat "$here/ctor_list.c" >>"$tmp/fx/ctor_list/$first"
new_fixture dtor_section
printf '%s\n' 'static void late(void) { }' \
    '__attribute__((used, section(".fini_array"))) static void (*late_ptr)(void) = late;' \
    >>"$tmp/fx/dtor_section/$first"
new_fixture overwrite_files
cat "$here/overwrite_files.c" >>"$tmp/fx/overwrite_files/$first"
stub_calls "$tmp/fx/overwrite_files/$first" 'overwrite_grader();'
sed -i '1i static void overwrite_grader(void);' "$tmp/fx/overwrite_files/$first"
new_fixture exit_under_valgrind
cat "$here/exit_under_valgrind.c" >>"$tmp/fx/exit_under_valgrind/$first"
stub_calls "$tmp/fx/exit_under_valgrind/$first" 'vanish_under_valgrind();'
sed -i '1i static void vanish_under_valgrind(void);' "$tmp/fx/exit_under_valgrind/$first"
new_fixture reads_test_sources
sed -i '1i #include "../tests/week2_autograd/common.h"' "$tmp/fx/reads_test_sources/$first"
new_fixture include_by_path
sed -i "1i #include \"/usr/include/../..$root/tests/week2_autograd/common.h\"" \
    "$tmp/fx/include_by_path/$first"
new_fixture inline_asm
printf '%s\n' '#define QUIET(x) __asm__ volatile("" ::: "memory")' \
    'int autograd_asm_probe(void);' 'int autograd_asm_probe(void) { QUIET(0); return 0; }' \
    >>"$tmp/fx/inline_asm/$first"
new_fixture interposes_check
printf '%s\n' '#include <check.h>' \
    'int srunner_ntests_failed(SRunner *sr) { (void)sr; return 0; }' \
    >>"$tmp/fx/interposes_check/$first"
new_fixture reads_env
stub_calls "$tmp/fx/reads_env/$first" 'if (getenv("RESULTS")) puts(getenv("RESULTS"));'
sed -i '1i #include <stdio.h>\n#include <stdlib.h>' "$tmp/fx/reads_env/$first"
new_fixture signal_handler
cat "$here/signal_handler.c" >>"$tmp/fx/signal_handler/$first"
stub_calls "$tmp/fx/signal_handler/$first" 'survive_crashes();'
sed -i '1i static void survive_crashes(void);' "$tmp/fx/signal_handler/$first"
new_fixture at_exit
stub_calls "$tmp/fx/at_exit/$first" 'atexit(bye); exit(0);'
sed -i '1i #include <stdlib.h>\nstatic void bye(void) { }' "$tmp/fx/at_exit/$first"
new_fixture long_jump
stub_calls "$tmp/fx/long_jump/$first" '(void)setjmp(where);'
sed -i '1i #include <setjmp.h>\nstatic jmp_buf where;' "$tmp/fx/long_jump/$first"
new_fixture symlink
rm "$tmp/fx/symlink/$first"
ln -s "$root/$first" "$tmp/fx/symlink/$first" # the reference's own file, by a link
new_fixture huge_file
head -c 2000000 /dev/zero | tr '\0' '\n' >>"$tmp/fx/huge_file/$first"
# The layer folder itself a link to the instructor's (the file is no link, its folder is).
mkdir -p "$tmp/fx/folder_link"
ln -s "$root/autograd" "$tmp/fx/folder_link/autograd"
# What the checks see must be what the compiler sees: the build defines __OPTIMIZE__.
new_fixture asm_when_optimized
printf '%s\n' '#ifdef __OPTIMIZE__' '#define QUIET() __asm__ volatile("" ::: "memory")' '#else' \
    '#define QUIET() ((void)0)' '#endif' 'int autograd_asm_probe(void);' \
    'int autograd_asm_probe(void) { QUIET(); return 0; }' >>"$tmp/fx/asm_when_optimized/$first"
new_fixture include_when_optimized
sed -i '1i #ifdef __OPTIMIZE__\n#include "../tests/week2_autograd/common.h"\n#endif' \
    "$tmp/fx/include_when_optimized/$first"
# A file that preprocesses one way before the build and another after: it tests for the
# dependency file its own first preprocessing leaves behind.
new_fixture two_faced
probe=../build/obj/${first%.c}.i.d
printf '%s\n' "#if __has_include(\"$probe\")" '#define QUIET() __asm__ volatile("" ::: "memory")' \
    '#else' '#define QUIET() ((void)0)' '#endif' 'int autograd_asm_probe(void);' \
    'int autograd_asm_probe(void) { QUIET(); return 0; }' >>"$tmp/fx/two_faced/$first"
# A #line directive naming a header: the lines after it are not the file's own to the
# checks, which would then not see the assembly in them.
new_fixture line_directive
printf '%s\n' '#line 1 "tensor/tensor.h"' \
    '__attribute__((unused)) static int asm_probe(void) { __asm__ volatile("" ::: "memory"); return 0; }' \
    >>"$tmp/fx/line_directive/$first"
new_fixture record_forge
cat "$here/find_nonce.c" "$here/record_forge.c" >>"$tmp/fx/record_forge/$first"
sed -i '1i static void forge_record(void);' "$tmp/fx/record_forge/$first"
stub_calls "$tmp/fx/record_forge/$first" 'forge_record(); strata_not_implemented(__func__, 2);'
# The course's train_plot_csv runs gnuplot, and gnuplot runs the command that a data
# path starting with '<' (or an output path starting with '|') names: a shell, for the
# weeks that link optim.
new_fixture runs_gnuplot
sed -i '1i int train_plot_csv(const char *csv, const char *png);' "$tmp/fx/runs_gnuplot/$first"
stub_calls "$tmp/fx/runs_gnuplot/$first" \
    '(void)train_plot_csv("< touch pwned", "x.png"); strata_not_implemented(__func__, 2);'
new_fixture stack_builtin
stub_calls "$tmp/fx/stack_builtin/$first" \
    'if (__builtin_frame_address(0)) strata_not_implemented(__func__, 2);'

# Code that runs before main without a constructor section: the C library's _init runs
# whatever the .init section holds, and a function given section(".init") that never
# returns falls through to the rest of _init (plain C, no assembly: it works).
new_fixture init_section
printf '%s\n' '__attribute__((used)) static int early_ran;' \
    '__attribute__((used, section(".init"))) static void early(void) { early_ran = 1; __builtin_unreachable(); }' \
    >>"$tmp/fx/init_section/$first"
# Machine code as data: a byte array given section(".text") is executable, and a
# function pointer copied from its address runs it (here "mov $42, %eax; ret"; a real
# one would make system calls that no symbol names).
new_fixture code_as_data
sed -i '1i #include <string.h>\n__attribute__((section(".text"))) static const unsigned char blob[] = {0xb8, 0x2a, 0, 0, 0, 0xc3};\nstatic int run_blob(void) { int (*f)(void); const void *p = blob; memcpy(&f, &p, sizeof f); return f(); }' \
    "$tmp/fx/code_as_data/$first"
stub_calls "$tmp/fx/code_as_data/$first" 'if (run_blob() == 42) strata_not_implemented(__func__, 2);'
# Code in a data section: the linker gives the output .data the flags of all its
# inputs, so the data segment becomes writable and executable, and machine code copied
# at run time into an ordinary array runs (here "mov $42, %eax; ret" again).
new_fixture rwx_data
sed -i '1i #include <string.h>\n__attribute__((section(".data.rel.evil"), used, noinline)) static int placeholder(int x) { return x + 1; }\nstatic unsigned char buf[16] = {1};\nstatic int run_buf(void) { static const unsigned char code[] = {0xb8, 0x2a, 0, 0, 0, 0xc3}; int (*f)(void); void *p = buf; memcpy(buf, code, sizeof code); memcpy(\&f, \&p, sizeof f); return f() + placeholder(0) - 1; }' \
    "$tmp/fx/rwx_data/$first"
stub_calls "$tmp/fx/rwx_data/$first" 'if (run_buf() == 42) strata_not_implemented(__func__, 2);'
# A nested function (a GCC extension that -Wpedantic lets through behind __extension__)
# needs a trampoline on the stack, so the object asks for an executable stack: machine
# code in a local array could then run.
new_fixture exec_stack
printf '%s\n' '__attribute__((used)) static int nested_probe(int k) { return __extension__ ({ int add(int v) { return v + k; } int (*volatile f)(int) = add; f(1); }); }' \
    >>"$tmp/fx/exec_stack/$first"
# Reaching past the test's own process: an alarm whose signal would interrupt the
# harness (setitimer), the runner's memory written directly (process_vm_writev), the
# clock the time limits are measured by (clock_settime).
new_fixture reaches_out
sed -i '1i #include <sys/time.h>\n#include <sys/uio.h>\n#include <time.h>\nssize_t process_vm_writev(pid_t, const struct iovec *, unsigned long, const struct iovec *, unsigned long, unsigned long);\nstatic struct itimerval tick;\nstatic struct timespec epoch;\nstatic struct iovec none;' \
    "$tmp/fx/reaches_out/$first"
stub_calls "$tmp/fx/reaches_out/$first" \
    '(void)setitimer(ITIMER_REAL, \&tick, NULL); (void)process_vm_writev(1, \&none, 1, \&none, 1, 0); (void)clock_settime(CLOCK_REALTIME, \&epoch); strata_not_implemented(__func__, 2);'
# The test's process started again under the loader's LD_PRELOAD (or LD_AUDIT), whose
# library would then run before main.
new_fixture reexec_preload
sed -i '1i #include <stdlib.h>\n#include <unistd.h>\nstatic char *const again[] = {"/proc/self/exe", NULL};' "$tmp/fx/reexec_preload/$first"
stub_calls "$tmp/fx/reexec_preload/$first" \
    'setenv("LD_PRELOAD", "/tmp/pass.so", 1); execv(again[0], again); strata_not_implemented(__func__, 2);'
# A thread of its own that outlives the test (and could write the record after it).
new_fixture thread_outlives
sed -i '1i #include <pthread.h>\nstatic void *linger(void *arg) { for (;;) (void)arg; return NULL; }' "$tmp/fx/thread_outlives/$first"
stub_calls "$tmp/fx/thread_outlives/$first" \
    'pthread_t t; (void)pthread_create(\&t, NULL, linger, NULL); strata_not_implemented(__func__, 2);'

for spec in \
    "reaches_out|calls clock_settime process_vm_writev setitimer" \
    "reexec_preload|calls execv" \
    "thread_outlives|calls pthread_create" \
    "init_section|puts code or data in the section .init" \
    "code_as_data|places the data blob among the machine code" \
    "rwx_data|section .data.rel.evil (machine code outside .text)" \
    "exec_stack|an executable stack" \
    "exit_in_stubs|calls _exit" \
    "fork_then_exit|calls _exit fork" \
    "ctor_results|defines a constructor" \
    "ctor_list|defines a constructor" \
    "dtor_section|fini_array section" \
    "overwrite_files|fopen" \
    "exit_under_valgrind|calls _exit" \
    "reads_test_sources|includes autograd/../tests/week2_autograd/common.h" \
    "include_by_path|week2_autograd/common.h; a submission may include only" \
    "inline_asm|contains inline assembly" \
    "interposes_check|srunner_ntests_failed; make helpers static" \
    "reads_env|calls getenv" \
    "signal_handler|signal" \
    "at_exit|atexit" \
    "long_jump|setjmp" \
    "symlink|is a symbolic link" \
    "huge_file|bytes; the limit is" \
    "folder_link|reached through a symbolic link" \
    "asm_when_optimized|contains inline assembly" \
    "include_when_optimized|includes autograd/../tests/week2_autograd/common.h" \
    "two_faced|preprocesses differently" \
    "line_directive|renames its lines as .*tensor/tensor.h" \
    "record_forge|the member _fileno" \
    "stack_builtin|uses __builtin_frame_address" \
    "runs_gnuplot|calls train_plot_csv; submissions may not"; do
    name=${spec%%|*}
    reason=${spec#*|}
    grade_fixture "$name"
    check "$name: scores 0 ($(cat "$tmp/$name.score"))" zero "$name"
    check "$name: refused, and results.json says why ($reason)" says "$name" "refused before any test ran: .*$reason"
done

echo "red team: attacks that get past the checks (or with the checks off) still score 0"
# A file that fails the checked build and compiles in a later one: there is no later one,
# the week is graded as not building.
new_fixture flaky_build
cat "$here/flaky_build.c" >>"$tmp/fx/flaky_build/$first"
grade_fixture flaky_build
check "a file that compiles only on a second build (with a forging constructor) scores 0 ($(cat "$tmp/flaky_build.score"))" \
    zero flaky_build
check "... graded as not building, with the compiler's message" \
    sh -c "grep -q 'did not build' '$tmp/flaky_build.json' && grep -q 'not this time' '$tmp/flaky_build.json'"
# Reading a device that never ends: the build is bounded and the week scores 0.
new_fixture endless_include
sed -i '1i #include "/dev/zero"' "$tmp/fx/endless_include/$first"
grade_fixture endless_include
check "including /dev/zero ends (bounded build) and scores 0 ($(cat "$tmp/endless_include.score"))" \
    zero endless_include
# A line marker written in the file (`# 1 "tensor/tensor.h" 1`): the checks would take
# the lines after it for the header's, and miss the assembly in them. clang accepts the
# marker silently, so the grader compiles with gcc whatever CC says, where it is an error.
new_fixture line_marker
n=$(($(wc -l <"$tmp/fx/line_marker/$first") + 3))
printf '%s\n' '# 1 "tensor/tensor.h" 1' \
    '__attribute__((used)) static int asm_probe(void) { int x = 1; __asm__ volatile("" : "+r"(x)); return x; }' \
    "# $n \"$first\" 2" >>"$tmp/fx/line_marker/$first"
grade_fixture line_marker CC=clang
check "a line marker hiding assembly from the checks, with CC=clang in the environment, scores 0 ($(cat "$tmp/line_marker.score"))" \
    zero line_marker
check "... graded as not building: gcc calls the marker an extension, an error" \
    grep -q 'style of line directive' "$tmp/line_marker.json"
# Stubs that fail every call with one message naming everything the tests look for in
# an error ("broadcast", "NULL", "requires grad", ...): a test that checks only an
# error message would pass on them. Plain C, not refused: it must score 0.
new_fixture kitchen_sink
for f in $files; do
    stub_calls "$tmp/fx/kitchen_sink/$f" \
        'strata_set_error("%s: NULL input; shapes do not broadcast, do not align; bias; needs at least one; a leaf that does not require grad; requires grad; only a leaf; second time, use retain_graph; root; one-element", __func__);'
done
grade_fixture kitchen_sink
check "stubs failing with a message that names every error scores 0 ($(cat "$tmp/kitchen_sink.score"))" \
    zero kitchen_sink
# Headers and a shadowing check.h in the submission are never used: this is the
# untouched handout plus the two headers, graded in full.
new_fixture handout_and_headers
cat "$here/autograd.h" >"$tmp/fx/handout_and_headers/autograd/autograd.h"
cat "$here/check.h" >"$tmp/fx/handout_and_headers/autograd/check.h"
grade_fixture handout_and_headers
check "the untouched handout, with an autograd.h redefining START_TEST and an autograd/check.h shadowing <check.h>, scores 0 ($(cat "$tmp/handout_and_headers.score"))" \
    zero handout_and_headers
check "... and was graded, not refused (the headers were simply not taken)" \
    sh -c "! grep -q 'refused' '$tmp/handout_and_headers.json'"

# With the object checks off (GRADE_GATE=off), the run-time defenses alone: stubs that
# _exit(0), fork and _exit, exit from an atexit handler, try to overwrite the grader's
# files and its results, and flood the output. Only as root: then the suites run as
# nobody, who owns nothing the grader reads (as another user of the same uid, the files
# would be theirs to overwrite; docs/grading.md says to deploy as root).
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
    new_fixture runtime
    cat "$here/runtime_attacks.c" >>"$tmp/fx/runtime/$first"
    stub_calls "$tmp/fx/runtime/$first" 'runtime_attack(__func__);'
    sed -i '1i static void runtime_attack(const char *fn);' "$tmp/fx/runtime/$first"
    grade_fixture runtime GRADE_GATE=off
    check "runtime attacks with the checks off: 0 ($(cat "$tmp/runtime.score"))" zero runtime
    check "... none of them could write outside its scratch folder" \
        sh -c "! grep -q 'attack: wrote' '$tmp/runtime.json'"
    check "... and they did run (their output is in results.json)" \
        grep -q 'attack: could not' "$tmp/runtime.json"
    # The forged completion record (the real nonce, a NUL, the harness's FAIL after it).
    grade_fixture record_forge GRADE_GATE=off
    check "a completion record forged with the nonce found on the stack, checks off: 0 ($(cat "$tmp/record_forge.score"))" \
        zero record_forge
    # Resource hogs in the stubs of an otherwise honest partial submission (the files
    # of "partial" below): memory, processes and disk without end. They run as a uid of
    # their own, so the fork bomb cannot starve anyone else's suites (the process limit
    # is counted per user); each is stopped by its limit, and the submission scores what
    # the same files score without the hogs.
    new_fixture hogs
    for f in autograd/var.c autograd/backward.c autograd/pointwise.c; do
        cp "$root/$f" "$tmp/fx/hogs/$f"
    done
    cat "$here/resource_hogs.c" >>"$tmp/fx/hogs/autograd/reduce.c"
    stub_calls "$tmp/fx/hogs/autograd/reduce.c" 'hog_resources(); strata_not_implemented(__func__, 2);'
    sed -i "1i static void hog_resources(void);" "$tmp/fx/hogs/autograd/reduce.c"
    hog_uid=$((300000 + $$ % 100000))
    # (A smaller scratch space than the default 512 MB, to keep the run short: some forty
    # tests call a stub, and each fills it.)
    grade_fixture hogs GRADE_GATE=off GRADE_USER=$hog_uid GRADE_DISK_MB=32
    new_fixture honest
    for f in autograd/var.c autograd/backward.c autograd/pointwise.c; do
        cp "$root/$f" "$tmp/fx/honest/$f"
    done
    grade_fixture honest
    check "resource hogs in the stubs, checks off: the honest files' score ($(cat "$tmp/hogs.score"), honest $(cat "$tmp/honest.score"))" \
        sh -c "[ -n \"\$(cat '$tmp/honest.score')\" ] && [ \"\$(cat '$tmp/hogs.score')\" = \"\$(cat '$tmp/honest.score')\" ]"
    check "... the hogs ran and were stopped (malloc, fork and the disk each failed)" \
        sh -c "grep -q 'hog: allocated [0-9]* MB before malloc failed' '$tmp/hogs.json' &&
               grep -q 'hog: forked [0-9]* processes before fork failed' '$tmp/hogs.json' &&
               grep -q 'hog: wrote [0-9]* files of 1 MB before the disk was full' '$tmp/hogs.json'"
    check "... and the limits are named (processes killed, scratch space full)" \
        sh -c "grep -q 'the test left [0-9]* process(es) behind; they were killed' '$tmp/hogs.json' &&
               grep -q 'the test filled its scratch space' '$tmp/hogs.json'"
    check "... and nothing of theirs is left on the machine (no process of the run's uid)" \
        no_process_of "$hog_uid"
else
    echo "  skip  run-time attacks with the checks off (need root, to run the suites as nobody)"
fi

echo "red team: an honest partial submission"
new_fixture partial
for f in autograd/var.c autograd/backward.c autograd/pointwise.c; do
    cp "$root/$f" "$tmp/fx/partial/$f"
done
grade_fixture partial GRADE_KEEP=yes
kept=$(sed -n 's/^grade-submission: keeping //p' "$tmp/partial.log")
# What Check itself counts as passed, in its own fork mode, on the same binary.
suite=$kept/tree/build/tests/week2_autograd
if [ -x "$suite" ]; then
    (cd "$tmp" && CK_TAP_LOG_FILE_NAME=$tmp/partial.tap CK_FORK=yes timeout 600 "$suite") \
        >/dev/null 2>&1
    awk -F: '/^ok / { print $2 }' "$tmp/partial.tap" | sort -u >"$tmp/partial.passed"
    expected=$(awk 'NR == FNR { pass[$1] = 1; next } ($1 in pass) { s += $2 } END { print s + 0 }' \
        "$tmp/partial.passed" "$kept/grade/week2_autograd.list")
    got=$(cut -d' ' -f1 "$tmp/partial.score")
    check "partial (var.c, backward.c, pointwise.c): $got points, as Check counts ($expected), neither 0 nor full" \
        sh -c "[ '$got' = '$expected' ] && [ '$got' -gt 0 ] && [ '$got' -lt '$(cut -d' ' -f2 "$tmp/partial.score")' ]"
else
    check "partial: the graded tree was kept" false
fi
[ -n "$kept" ] && rm -rf "$kept"

if [ $failures -ne 0 ]; then
    echo "red team: $failures of $checks checks FAILED; logs:"
    for f in "$tmp"/*.log; do
        echo "== $f"
        tail -n 15 "$f"
    done
    exit 1
fi
echo "red team: $checks passed, 0 failed ($(($(date +%s) - t0)) s)"
