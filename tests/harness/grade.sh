#!/bin/sh
# tests/harness/grade.sh BUILD [WEEK] - grade the graded suites (run from the repo top).
#
#   make grade            every week          make grade WEEK=3    week 3 only
#
# For each selected week: build its suite (a build failure costs that week, not the
# run), run `SUITE --grade -` (each test in its own child process with its time limit,
# output captured, the verdict decided by the runner's parent process from the test's
# completion record: tests/harness/runner.c) into BUILD/grade/SUITE.json, then the
# valgrind item: the same graded run once more under valgrind. The item rewards clean
# memory in the work done so far: it passes when every test that passed in the normal
# run passes under valgrind too (valgrind's error exit in a test's process fails that
# test) and valgrind finds nothing in the runner, and it then earns the share of the
# suite's points those tests carry (all of it when every test passes; nothing when no
# test with points passes, so a stubbed week cannot earn it). Last, BUILD/tools/grade
# merges everything into results.json (Gradescope's format) and prints the table.
# docs/grading.md explains the whole.
#
# In a core handout (a file .handout saying "week=N level=core"), the tests of the
# stretch tier (tests/weekN_<layer>/stretch-tests.txt, from `make tiers`) of week N and
# later are reported with no points: their code ships solved.
#
# The tests and their points come from the suites' sources (the GRADED() lines), never
# from what a suite binary prints. Each suite runs from a copy of its binary in a
# scratch folder (its working directory, HOME and TMPDIR), with a clean environment;
# when the grader runs as root (Gradescope) the suites run as an unprivileged user
# (GRADE_USER, default nobody), who can write nothing the grader reads afterwards.
# Every test runs under limits on memory, processes and disk (see "Limits" below).
#
# Environment:
#   RESULTS=path           where results.json goes (default ./results.json)
#   VALGRIND_POINTS=5      points of each week's valgrind item
#   GRADE_VALGRIND=no      skip the valgrind items (handout-check does, for time)
#   SUITE_TIMEOUT=1800     seconds for one suite's whole graded run (a safety net over
#                          the per-test limits)
#   VALGRIND_TIMEOUT=1800  seconds for one suite under valgrind
#   GRADE_DIR=dir          where the per-suite files go (default BUILD/grade)
#   GRADE_SUITES="bin..."  grade these prebuilt suite binaries instead of tests/week*
#                          (the grader's self-test uses it; their lists come from
#                          `bin --list`)
#   GRADE_USER=user        who runs the suites when the grader is root (default nobody;
#                          a bare number: that uid, with no account; "none": root)
#   GRADE_MEMORY_MB=n      address space of each test's process (default 1024 + 256 per
#                          core); GRADE_VALGRIND_MEMORY_MB under valgrind (default 4096)
#   GRADE_NPROC=n          processes and threads of the run user (as root; 64 + 4 per core)
#   GRADE_DISK_MB=512      as root: the tests' private tmpfs (/tmp), and its
#   GRADE_DISK_FILES=4096  number of files; GRADE_ISOLATE=no runs without it
#   GRADE_NO_BUILD=yes     do not build the suites (grade-submission built them already)
#
# Exit status: 0 when results.json was written, whatever the score.
set -u

build=${1:-build}
week=${2:-}
results=${RESULTS:-results.json}
vg_points=${VALGRIND_POINTS:-5}
use_valgrind=${GRADE_VALGRIND:-yes}
no_build=${GRADE_NO_BUILD:-no}
suite_timeout=${SUITE_TIMEOUT:-1800}
vg_timeout=${VALGRIND_TIMEOUT:-1800}
make=${MAKE:-make}
dir=${GRADE_DIR:-$build/grade}
tool=$build/tools/grade

case $week in
    '' | [0-9] | [0-9][0-9]) ;;
    *) echo "grade: WEEK must be a number (got '$week')" >&2; exit 2 ;;
esac

# A test's environment must not loosen the grader: no CK_FORK=no, no longer limits,
# no case selection.
unset CK_FORK CK_RUN_SUITE CK_RUN_CASE CK_INCLUDE_TAGS CK_EXCLUDE_TAGS \
      CK_DEFAULT_TIMEOUT CK_TIMEOUT_MULTIPLIER CK_VERBOSITY CK_LOG_FILE_NAME \
      CK_XML_LOG_FILE_NAME CK_TAP_LOG_FILE_NAME GRADE_ONLY 2>/dev/null || true

if [ ! -x "$tool" ]; then
    $make --no-print-directory BUILD="$build" "$tool" >/dev/null || {
        echo "grade: cannot build $tool" >&2
        exit 2
    }
fi
rm -rf "$dir"
mkdir -p "$dir"

# A handout says which week and level it was cut for (weeks/cut-handout.sh).
hweek=0
hlevel=full
if [ -f .handout ]; then
    hweek=$(sed -n 's/^week=\([0-9]*\) .*/\1/p' .handout)
    hlevel=$(sed -n 's/.* level=\([a-z]*\).*/\1/p' .handout)
    [ -n "$hweek" ] || hweek=0
fi

# Where the suites run: a private folder with a copy of each binary and a scratch
# folder that is the tests' working directory, HOME and TMPDIR. As root, the suites
# run as GRADE_USER, who owns only the scratch folder; the per-suite files the grader
# reads ($dir) are written through descriptors opened here, by the grader.
# GRADE_USER may also be a bare number, a uid without an account: one that no other
# process uses, so that the process limit (counted per user) is this grading's alone.
run_user=${GRADE_USER:-nobody}
if [ "$(id -u)" -ne 0 ] || [ "$run_user" = none ]; then
    run_user=
elif ! command -v setpriv >/dev/null 2>&1; then
    echo "grade: running as root, but cannot switch users (setpriv, util-linux);" \
        "the suites run as root" >&2
    run_user=
else
    case $run_user in
        *[!0-9]*)
            if ! run_uid=$(id -u "$run_user" 2>/dev/null) || ! run_gid=$(id -g "$run_user"); then
                echo "grade: running as root, but there is no user '$run_user';" \
                    "the suites run as root" >&2
                run_user=
            fi ;;
        *) run_uid=$run_user run_gid=$run_user ;;
    esac
fi
rundir=$(mktemp -d "${TMPDIR:-/tmp}/strata-grade.XXXXXX") || exit 2
trap 'rm -rf "$rundir"' EXIT INT TERM
chmod 711 "$rundir"
scratch=$rundir/scratch
mkdir "$scratch"
[ -z "$run_user" ] || chown "$run_uid:$run_gid" "$scratch"
chmod 700 "$scratch"

# run_suite CMD...: CMD in the scratch folder, as the run user, with a clean environment
# (only what the suites need: the thread settings, the self-test's mode). A graded run
# (run_graded, below) adds the limits and the private namespace.
run_suite() {
    where=${g_where:-$scratch}
    set -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$where" TMPDIR="$where" \
        LC_ALL=C ${OPENBLAS_NUM_THREADS:+OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS} \
        ${OMP_NUM_THREADS:+OMP_NUM_THREADS=$OMP_NUM_THREADS} \
        ${SELFTEST_MODE:+SELFTEST_MODE=$SELFTEST_MODE} ${GRADE_ONLY:+"GRADE_ONLY=$GRADE_ONLY"} \
        ${CK_TIMEOUT_MULTIPLIER:+CK_TIMEOUT_MULTIPLIER=$CK_TIMEOUT_MULTIPLIER} \
        ${g_clean:+GRADE_SCRATCH=$g_clean} "$@"
    if [ -n "$run_user" ]; then
        # The process limit is set after the switch: the kernel counts the run user's.
        # shellcheck disable=SC2086  # g_nproc is empty or a number
        set -- setpriv --reuid="$run_uid" --regid="$run_gid" --clear-groups \
            --no-new-privs -- ${g_nproc:+prlimit --nproc=$g_nproc --} "$@"
    fi
    [ -z "${g_mem:-}" ] || set -- prlimit --as=$((g_mem * 1048576)) -- "$@"
    if [ -n "${g_ns:-}" ]; then
        unshare --mount --pid --ipc --net --fork --mount-proc -- sh -c "$isolate_script" isolate \
            "$g_name" "$g_bin" "$disk_mb" "$disk_files" "$@"
    else
        (cd "$where" && exec "$@")
    fi
}

# The run user must reach the copies (a private TMPDIR would hide them): check once.
if [ -n "$run_user" ]; then
    : >"$rundir/.probe"
    chmod 644 "$rundir/.probe"
    if ! run_suite test -r "$rundir/.probe" 2>/dev/null; then
        echo "grade: $run_user cannot reach $rundir (TMPDIR=${TMPDIR:-/tmp});" \
            "the suites run as root" >&2
        run_user=
    fi
fi

# Limits: what one test may take from the machine (docs/grading.md, "Limits"). Each
# test runs in its own process, which inherits them from the runner.
#  - memory: address space (RLIMIT_AS) per process. Measured on the reference: every
#    test passes in 512 MB with two threads (in 320-384 MB most do; the tests that run
#    out hang in OpenBLAS, which retries its 128 MB per-thread buffer forever, so the
#    margin must be wide); each thread strata may start adds an OpenBLAS buffer, a stack
#    and a malloc arena, so the limit is 1 GB + 256 MB per core (1.5 GB on 2 cores).
#    Under valgrind (one thread) 384 MB is enough for the largest tests: 4 GB.
#  - processes and threads (RLIMIT_NPROC): the kernel counts them per user, so the limit
#    is set only when the suites run as their own user (as root); 64 + 4 per core (the
#    runner's OpenBLAS threads, the test's and strata's; a fork bomb stops there).
#  - disk: as root, each suite runs in a private mount namespace whose /tmp is a new
#    tmpfs of GRADE_DISK_MB and GRADE_DISK_FILES files, also mounted on /var/tmp,
#    /dev/shm and /run/lock, the folders anyone may write to; it is the tests' working
#    directory, HOME and TMPDIR, the runner empties it after each test, and it is gone
#    when the suite ends (with every process the suite left: a private PID namespace).
#    The namespace also has its own System V shared memory, limited to as much again
#    (it would outlive the test otherwise), and no network (only a loopback, down): a
#    test has no business with it, and the hidden tests' values are in its memory.
#    Each file is also limited to 256 MB (ulimit -f, below).
cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null) || cores=1
[ "$cores" -ge 1 ] 2>/dev/null || cores=1
[ "$cores" -le 64 ] || cores=64 # strata's pool has at most 64 threads
mem_mb=${GRADE_MEMORY_MB:-$((1024 + 256 * cores))}
vg_mem_mb=${GRADE_VALGRIND_MEMORY_MB:-4096}
nproc_limit=${GRADE_NPROC:-$((64 + 4 * cores))}
disk_mb=${GRADE_DISK_MB:-512}
disk_files=${GRADE_DISK_FILES:-4096}

# The private namespace: root only (mount needs it), and only where the kernel allows it
# (a container may not): tried once.
isolate=no
if [ "$(id -u)" -eq 0 ] && [ "${GRADE_ISOLATE:-yes}" != no ]; then
    if unshare --mount --pid --ipc --net --fork --mount-proc -- \
        sh -c 'mount -t tmpfs -o size=1m strata-probe /tmp' >/dev/null 2>&1; then
        isolate=yes
    else
        echo "grade: cannot make a private mount and PID namespace (unshare); the tests'" \
            "disk use is bounded only per file" >&2
    fi
fi
# Run in the namespace (as root, before it switches to the run user): mount the tmpfs on
# /tmp and the other shared folders, copy the suite binary into a root-owned folder in
# it (the binary may live under the old /tmp, which the mount hides: it is read through
# a descriptor opened before), then run the command from /tmp. /tmp is sticky (1777),
# so the run user can neither remove nor replace the grader's folder.
# shellcheck disable=SC2016  # expanded by the namespace's shell, from its arguments
isolate_script='set -e
name=$1 bin=$2 size=$3 files=$4
shift 4
exec 9<"$bin"
mount -t tmpfs -o "size=${size}m,nr_inodes=$files,mode=1777" strata-scratch /tmp
echo $((size * 256)) >/proc/sys/kernel/shmall 2>/dev/null || : # System V shm, in 4 kB pages
for d in /var/tmp /dev/shm /run/lock; do
    if [ -d "$d" ] && [ ! -L "$d" ]; then mount --bind /tmp "$d"; fi
done
mkdir -m 755 /tmp/.grader
cat <&9 >"/tmp/.grader/$name"
exec 9<&-
chmod 755 "/tmp/.grader/$name"
cd /tmp
"$@"'

# run_graded NAME BINARY MEMORY_MB CMD...: a suite's graded run, CMD naming the suite's
# binary @BIN, with the limits above (MEMORY_MB of address space per process).
run_graded() {
    g_name=$1 g_bin=$2 g_mem=$3 g_where='' g_clean='' g_ns='' g_nproc=
    shift 3
    [ -z "$run_user" ] || g_nproc=$nproc_limit
    if [ "$isolate" = yes ]; then
        g_where=/tmp g_clean=/tmp g_ns=yes
    fi
    for a; do
        shift
        if [ "$a" = @BIN ]; then
            if [ "$isolate" = yes ]; then a=/tmp/.grader/$g_name; else a=$g_bin; fi
        fi
        set -- "$@" "$a"
    done
    run_suite "$@"
    g_rc=$?
    g_where='' g_clean='' g_ns='' g_nproc='' g_mem=''
    return $g_rc
}

# The suites: "name binary source-dir" per line.
suites=$dir/.suites
if [ -n "${GRADE_SUITES:-}" ]; then
    for bin in $GRADE_SUITES; do
        printf '%s %s -\n' "$(basename "$bin")" "$bin"
    done >"$suites"
else
    # The public suites, then the hidden ones (instructor-only, tests/hidden/).
    for d in tests/week${week:-[0-9]}_*/ tests/hidden/week${week:-[0-9]}_*/; do
        [ -d "$d" ] || continue
        name=$(basename "$d")
        case $d in tests/hidden/*) name=${name}_hidden ;; esac
        printf '%s %s %s\n' "$name" "$build/tests/$name" "${d%/}"
    done >"$suites"
fi
if [ ! -s "$suites" ]; then
    echo "grade: no graded suite found${week:+ for week $week} (tests/weekN_<layer>/)" >&2
    exit 2
fi

# The tests a suite declares, from its sources: the fallback list when it did not build.
list_from_sources() {
    cat "$1"/*.c 2>/dev/null | awk '
        {
            line = $0
            while (match(line, /GRADED(_TIMED)?[ \t]*\([^,()]+,[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*,[ \t]*[0-9]+/)) {
                m = substr(line, RSTART, RLENGTH)
                line = substr(line, RSTART + RLENGTH)
                sub(/^[^(]*\(/, "", m)
                n = split(m, part, ",")
                gsub(/[ \t]/, "", part[2])
                gsub(/[ \t]/, "", part[3])
                print part[2], part[3]
            }
        }'
}

# passing_tests FILE: the names of the tests a runner's results file says passed.
passing_tests() {
    awk '/"name":/ { n = $0; sub(/^[^:]*:[ \t]*"/, "", n); sub(/".*$/, "", n) }
         /"status":/ && /"passed"/ { print n }' "$1"
}

now() { date +%s; }
start=$(now)
names=
while read -r name bin src <&3; do
    names="$names $name"
    t0=$(now)
    printf 'grade: %-20s ' "$name"

    if [ -z "${GRADE_SUITES:-}" ] && [ "$no_build" != yes ]; then
        if ! $make --no-print-directory BUILD="$build" "$bin" >"$dir/$name.build.log" 2>&1; then
            {
                echo "the suite did not build; the end of the build log:"
                tail -n 30 "$dir/$name.build.log"
            } >"$dir/$name.note"
            rm -f "$bin"
        fi
    fi

    # The tests and points: from the sources; a prebuilt suite (self-test) lists its own.
    if [ "$src" != - ]; then
        list_from_sources "$src" >"$dir/$name.list"
    elif [ -x "$bin" ]; then
        (timeout 60 "$bin" --list) >"$dir/$name.list" 2>/dev/null
    fi

    run_bin=
    if [ -x "$bin" ]; then
        run_bin=$rundir/$name
        cp "$bin" "$run_bin" && chmod 755 "$run_bin" || run_bin=
    fi
    if [ -n "$run_bin" ]; then
        # ulimit -f: a test printing without end dies (SIGXFSZ) instead of filling
        # the disk. timeout: a safety net over the per-test limits. The results are the
        # runner's standard output, a file the run user cannot open by itself.
        (
            ulimit -f 262144 2>/dev/null
            run_graded "$name" "$run_bin" "$mem_mb" timeout -k 10 "$suite_timeout" @BIN --grade -
        ) </dev/null >"$dir/$name.json" 2>"$dir/$name.log"
        rc=$?
        if [ $rc -ne 0 ]; then
            # Only a runner that finished normally is believed: its results go.
            rm -f "$dir/$name.json"
            {
                case $rc in
                    124 | 137) echo "the suite's graded run was stopped after ${suite_timeout} s" ;;
                    *) echo "the suite's graded run ended with status $rc (a crash outside any test?)" ;;
                esac
                tail -n 20 "$dir/$name.log"
            } >>"$dir/$name.note"
        fi
    fi

    # A core handout reports the stretch tier's tests without points.
    stretch=$src/stretch-tests.txt
    if [ "$hlevel" = core ] && [ "$src" != - ] && [ -f "$stretch" ] &&
        [ "$(echo "$name" | sed -n 's/^week\([0-9]*\)_.*/\1/p')" -ge "$hweek" ] 2>/dev/null; then
        awk 'FILENAME == ARGV[1] { if ($0 !~ /^#/ && NF) s[$1] = 1; next }
             { print $1, (($1 in s) ? 0 : $2) }' "$stretch" "$dir/$name.list" >"$dir/$name.list.core"
        mv "$dir/$name.list.core" "$dir/$name.list"
    fi

    # The tests that passed, and the share of the points they carry (the valgrind item).
    total=$(cat "$dir/$name.list" 2>/dev/null | grep -c .)
    : >"$dir/$name.passing"
    [ -f "$dir/$name.json" ] && passing_tests "$dir/$name.json" >"$dir/$name.passing"
    passed=$(grep -c . "$dir/$name.passing")
    share=$(awk 'FILENAME == ARGV[1] { ok[$1] = 1; next }
                 { all += $2; if ($1 in ok) { got += $2; if ($2 > 0) n++ } }
                 END { printf "%s %.4f\n", n + 0, (all > 0 ? got / all : 0) }' \
        "$dir/$name.passing" "$dir/$name.list" 2>/dev/null)
    graded_passing=${share% *}
    share=${share#* }
    printf '%3s/%-3s tests passed' "$passed" "$total"

    vg=$dir/$name.valgrind
    if [ "$use_valgrind" = no ]; then
        echo skipped >"$vg"
    elif [ -s "$dir/$name.list" ] &&
        [ "$(awk '{ s += $2 } END { print (s > 0) ? 1 : 0 }' "$dir/$name.list")" = 0 ]; then
        # No test of this suite carries points in this handout (all stretch in a core
        # handout): there is nothing for the item to share, so it is not given.
        echo skipped >"$vg"
    elif [ -z "$run_bin" ]; then
        printf 'failed\nthe suite did not build\n' >"$vg"
    elif [ ! -f "$dir/$name.json" ] || [ "${graded_passing:-0}" -eq 0 ]; then
        printf 'failed\nnot run: no test with points passed yet (the item scores clean memory in the passing tests)\n' >"$vg"
    else
        printf ', valgrind...'
        # The same graded run under valgrind: each test in its own process, judged by
        # the runner's parent from its completion record; valgrind's error exit (99) in
        # a test's process fails that test, and in the runner fails the item.
        log=$dir/$name.vg.log
        (
            ulimit -f 262144 2>/dev/null
            CK_TIMEOUT_MULTIPLIER=100 OPENBLAS_NUM_THREADS=1
            GRADE_ONLY=$(tr '\n' ' ' <"$dir/$name.passing")
            export CK_TIMEOUT_MULTIPLIER OPENBLAS_NUM_THREADS GRADE_ONLY
            run_graded "$name" "$run_bin" "$vg_mem_mb" timeout -k 10 "$vg_timeout" valgrind -q --leak-check=full \
                --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
                --error-exitcode=99 @BIN --grade -
        ) </dev/null >"$dir/$name.vg.json" 2>"$log"
        rc=$?
        # Only the tests that passed in the normal run (GRADE_ONLY): each must pass
        # under valgrind too (a test still failing says nothing about the memory).
        passing_tests "$dir/$name.vg.json" >"$dir/$name.vg.passing"
        vg_passed=$(awk 'FILENAME == ARGV[1] { ok[$1] = 1; next } $1 in ok { n++ }
                         END { print n + 0 }' "$dir/$name.vg.passing" "$dir/$name.passing")
        vg_total=$(grep -c '"status":' "$dir/$name.vg.json")
        if [ $rc -eq 0 ] && [ "$vg_passed" -eq "$passed" ] && [ "$vg_total" -eq "$passed" ] &&
            ! grep -q 'ERROR SUMMARY: [1-9]' "$log"; then
            printf 'passed %s\nvalgrind: no errors, no leaks; the %s tests that pass passed under it too (the item earns their share of the points, %s)\n' \
                "$share" "$passed" "$share" >"$vg"
        else
            {
                echo failed
                case $rc in
                    0) ;;
                    99) echo "valgrind found invalid accesses or leaks in the runner:" ;;
                    124 | 137) echo "the suite ran past ${vg_timeout} s under valgrind" ;;
                    *) echo "the suite's run under valgrind ended with status $rc" ;;
                esac
                echo "$vg_passed of the $passed passing tests passed under valgrind"
                grep -B1 -A3 '"status":[[:space:]]*"failed"' "$dir/$name.vg.json" |
                    grep -E '"name"|"output"' | head -n 20 | cut -c1-400
                head -c 6000 "$log"
            } >"$vg"
        fi
        printf ' %s' "$(head -n 1 "$vg")"
    fi
    echo " ($(($(now) - t0)) s)"
done 3<"$suites"

# shellcheck disable=SC2086  # names is a list of suite names (no spaces)
"$tool" --strict --dir "$dir" --out "$results" --valgrind-points "$vg_points" \
    --time "$(($(now) - start))" $names
