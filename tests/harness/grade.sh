#!/bin/sh
# tests/harness/grade.sh BUILD [WEEK] - grade the graded suites (run from the repo top).
#
#   make grade            every week          make grade WEEK=3    week 3 only
#
# For each selected week: build its suite (a build failure costs that week, not the
# run), run `SUITE --grade` (fork mode, per-test time limits, output captured) into
# BUILD/grade/SUITE.json, then the valgrind item: the suite once more under valgrind
# with CK_FORK=no. The item passes only when valgrind reports no error and no leak AND
# every test passes under it, so a stubbed week cannot earn it. Last, BUILD/tools/grade
# merges everything into results.json (Gradescope's format) and prints the table.
# docs/grading.md explains the whole.
#
# Environment:
#   RESULTS=path           where results.json goes (default ./results.json)
#   VALGRIND_POINTS=5      points of each week's valgrind item
#   GRADE_VALGRIND=no      skip the valgrind items (handout-check does, for time)
#   SUITE_TIMEOUT=1800     seconds for one suite's whole graded run (a safety net over
#                          Check's per-test limits)
#   VALGRIND_TIMEOUT=1800  seconds for one suite under valgrind
#   GRADE_DIR=dir          where the per-suite files go (default BUILD/grade)
#   GRADE_SUITES="bin..."  grade these prebuilt suite binaries instead of tests/week*
#                          (the grader's self-test uses it)
#
# Exit status: 0 when results.json was written, whatever the score.
set -u

build=${1:-build}
week=${2:-}
results=${RESULTS:-results.json}
vg_points=${VALGRIND_POINTS:-5}
use_valgrind=${GRADE_VALGRIND:-yes}
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
      CK_XML_LOG_FILE_NAME CK_TAP_LOG_FILE_NAME 2>/dev/null || true

if [ ! -x "$tool" ]; then
    $make --no-print-directory BUILD="$build" "$tool" >/dev/null || {
        echo "grade: cannot build $tool" >&2
        exit 2
    }
fi
rm -rf "$dir"
mkdir -p "$dir"

# The suites: "name binary source-dir" per line.
suites=$dir/.suites
if [ -n "${GRADE_SUITES:-}" ]; then
    for bin in $GRADE_SUITES; do
        printf '%s %s -\n' "$(basename "$bin")" "$bin"
    done >"$suites"
else
    for d in tests/week${week:-[0-9]}_*/; do
        [ -d "$d" ] || continue
        name=$(basename "$d")
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

now() { date +%s; }
start=$(now)
names=
while read -r name bin src <&3; do
    names="$names $name"
    t0=$(now)
    printf 'grade: %-20s ' "$name"

    if [ -z "${GRADE_SUITES:-}" ]; then
        if ! $make --no-print-directory BUILD="$build" "$bin" >"$dir/$name.build.log" 2>&1; then
            {
                echo "the suite did not build; the end of the build log:"
                tail -n 30 "$dir/$name.build.log"
            } >"$dir/$name.note"
            rm -f "$bin"
        fi
    fi

    if [ -x "$bin" ] && (timeout 60 "$bin" --list) >"$dir/$name.list" 2>/dev/null &&
        [ -s "$dir/$name.list" ]; then
        :
    elif [ "$src" != - ]; then
        list_from_sources "$src" >"$dir/$name.list"
    fi

    if [ -x "$bin" ]; then
        # ulimit -f: a test printing without end dies (SIGXFSZ) instead of filling
        # the disk. timeout: a safety net over Check's own per-test limits.
        (
            ulimit -f 262144 2>/dev/null
            exec timeout -k 10 "$suite_timeout" "$bin" --grade "$dir/$name.json"
        ) </dev/null >"$dir/$name.log" 2>&1
        rc=$?
        if [ $rc -ne 0 ]; then
            {
                case $rc in
                    124 | 137) echo "the suite's graded run was stopped after ${suite_timeout} s" ;;
                    *) echo "the suite's graded run ended with status $rc (a crash outside any test?)" ;;
                esac
                tail -n 20 "$dir/$name.log"
            } >>"$dir/$name.note"
        fi
    fi

    # How many tests passed, to decide whether valgrind is worth running.
    total=$(cat "$dir/$name.list" 2>/dev/null | grep -c .)
    passed=0
    [ -f "$dir/$name.json" ] && passed=$(grep -c '"status":[[:space:]]*"passed"' "$dir/$name.json")
    printf '%3s/%-3s tests passed' "$passed" "$total"

    vg=$dir/$name.valgrind
    if [ "$use_valgrind" = no ]; then
        echo skipped >"$vg"
    elif [ ! -x "$bin" ]; then
        printf 'failed\nthe suite did not build\n' >"$vg"
    elif [ ! -f "$dir/$name.json" ] || [ "$passed" -ne "$total" ] || [ "$total" -eq 0 ]; then
        printf 'failed\nnot run: the item needs every test of the suite to pass first\n' >"$vg"
    else
        printf ', valgrind...'
        log=$dir/$name.vg.log
        (
            ulimit -f 262144 2>/dev/null
            CK_FORK=no CK_TIMEOUT_MULTIPLIER=100 OPENBLAS_NUM_THREADS=1
            export CK_FORK CK_TIMEOUT_MULTIPLIER OPENBLAS_NUM_THREADS
            exec timeout -k 10 "$vg_timeout" valgrind -q --leak-check=full \
                --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
                --error-exitcode=99 --log-file="$log" "$bin"
        ) </dev/null >"$dir/$name.vg.out" 2>&1
        rc=$?
        case $rc in
            0) printf 'passed\nvalgrind: no errors, no leaks; every test passed under it\n' >"$vg" ;;
            99) { echo failed; echo "valgrind found invalid accesses or leaks:"; head -c 6000 "$log"; } >"$vg" ;;
            124 | 137) { echo failed; echo "the suite ran past ${vg_timeout} s under valgrind"; } >"$vg" ;;
            *) {
                echo failed
                echo "the suite failed under valgrind (CK_FORK=no, status $rc):"
                grep -E '^[0-9]+%: Checks|:[FE]:' "$dir/$name.vg.out" | head -n 20
                head -c 3000 "$log"
            } >"$vg" ;;
        esac
        printf ' %s' "$(head -n 1 "$vg")"
    fi
    echo " ($(($(now) - t0)) s)"
done 3<"$suites"

# shellcheck disable=SC2086  # names is a list of suite names (no spaces)
"$tool" --dir "$dir" --out "$results" --valgrind-points "$vg_points" \
    --time "$(($(now) - start))" $names
