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
#                          "none" runs them as root)
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
run_user=${GRADE_USER:-nobody}
if [ "$(id -u)" -ne 0 ] || [ "$run_user" = none ]; then
    run_user=
elif ! id "$run_user" >/dev/null 2>&1 || ! command -v setpriv >/dev/null 2>&1; then
    echo "grade: running as root, but cannot switch to user '$run_user' (setpriv, util-linux);" \
        "the suites run as root" >&2
    run_user=
fi
rundir=$(mktemp -d "${TMPDIR:-/tmp}/strata-grade.XXXXXX") || exit 2
trap 'rm -rf "$rundir"' EXIT INT TERM
chmod 711 "$rundir"
scratch=$rundir/scratch
mkdir "$scratch"
[ -z "$run_user" ] || chown "$run_user:$(id -gn "$run_user")" "$scratch"
chmod 700 "$scratch"

# run_suite CMD...: CMD in the scratch folder, as the run user, with a clean environment
# (only what the suites need: the thread settings, the self-test's mode).
run_suite() {
    set -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$scratch" TMPDIR="$scratch" \
        LC_ALL=C ${OPENBLAS_NUM_THREADS:+OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS} \
        ${OMP_NUM_THREADS:+OMP_NUM_THREADS=$OMP_NUM_THREADS} \
        ${SELFTEST_MODE:+SELFTEST_MODE=$SELFTEST_MODE} ${GRADE_ONLY:+"GRADE_ONLY=$GRADE_ONLY"} \
        ${CK_TIMEOUT_MULTIPLIER:+CK_TIMEOUT_MULTIPLIER=$CK_TIMEOUT_MULTIPLIER} "$@"
    if [ -n "$run_user" ]; then
        set -- setpriv --reuid="$run_user" --regid="$(id -g "$run_user")" --clear-groups \
            --no-new-privs -- "$@"
    fi
    (cd "$scratch" && exec "$@")
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
            run_suite timeout -k 10 "$suite_timeout" "$run_bin" --grade -
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
            run_suite timeout -k 10 "$vg_timeout" valgrind -q --leak-check=full \
                --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
                --error-exitcode=99 "$run_bin" --grade -
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
