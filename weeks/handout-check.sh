#!/bin/sh
# weeks/handout-check.sh - cut, build and grade every week's handout (`make handout-check`).
#
# For each week N (1..5) that has solution regions, and each level (core, full):
#   1. cut the handout (weeks/cut-handout.sh N DIR LEVEL) into a temporary folder;
#   2. build it there with -Wall -Wextra -Werror: libraries, suites, examples with gcc,
#      and, for the full level only, the libraries with clang too when clang is
#      installed (HANDOUT_CLANG=no skips, HANDOUT_CLANG=all builds every level): a full
#      handout stubs every region a core one does, and a core handout's other code is
#      the reference's, which the normal clang build compiles;
#   3. grade it with tests/harness/grade.sh;
#   4. grade the week through the deployed grader (tests/harness/grade-submission.sh)
#      twice, on the core handout, with the reference's own week-N files (full marks)
#      and with the untouched handout's (zero);
#   5. require: every week < N scores full marks, every week >= N scores zero (in a
#      core handout the stretch tier's tests carry no points, so the core tests must
#      all fail), and the grader finishes with a valid results.json; and the handout
#      holds none of the instructors' hidden tests (tests/hidden/), neither the folder
#      nor a test's name;
#   6. on the core handout, replay the week (weeks/replay-check.sh --tree): restore the
#      reference's regions of week N one step of the handout's table at a time in the
#      tree just built and graded, grade week N after each, and require the score to
#      rise at every step and end at full marks (HANDOUT_REPLAY=no skips; `make
#      replay-check` does the same on its own).
# It also requires weeks/tiers.txt to match the markers (`make tiers` writes it), and
# prints the non-blank lines of core solution code per week, failing above
# HANDOUT_CORE_MAX (default 1000).
# The reference itself (this tree) must score full marks everywhere, valgrind items
# included. The handouts are graded without the valgrind items (GRADE_VALGRIND=no), to
# keep the check within a few minutes: weeks >= N cannot earn the item anyway (it needs
# a passing test with points), and weeks < N are byte-for-byte the reference's code, which the
# reference run checks under valgrind.
#
# The handouts are built at -O0 -g0 (HANDOUT_OPT), four times faster than -O2 -g: the
# warnings a stub can raise (unused parameters, variables, functions, a missing return)
# do not depend on optimization, and the solved code is the reference's, which the
# normal build compiles at -O2 with -Werror.
#
# Environment: BUILD (the reference's build folder, default build), HANDOUT_OPT
# (default "-O0 -g0"), HANDOUT_CLANG=no skips clang (=all: every level),
# HANDOUT_REPLAY=no skips the replays, HANDOUT_REFERENCE=no skips grading the reference
# (a quicker look at some handouts; `make test` and `make memcheck` cover the reference), HANDOUT_KEEP=yes keeps the
# temporary folder, HANDOUT_WEEKS="2 3" checks only those handouts, HANDOUT_LEVELS="core"
# only that level.
set -u

check=handout-check tmp_name=strata-handouts
. "$(dirname "$0")/check-prelude.sh"
status=0
problems=$tmp/problems
: >"$problems"
problem() {
    echo "$*" >>"$problems"
    status=1
}

# The weeks that have graded suites, and the weeks that have solution regions.
suite_weeks=$(for d in tests/week[0-9]_*/; do
    [ -d "$d" ] && basename "$d" | sed 's/^week\([0-9]*\)_.*/\1/'
done | sort -un | tr '\n' ' ')
region_weeks=$(for l in tensor autograd nn optim modular; do
    [ -d "$l" ] && find "$l" -type f \( -name '*.c' -o -name '*.h' \) -exec cat {} +
done | sed -n 's/.*SOLUTION BEGIN week=\([0-9]*\).*/\1/p' | sort -un | tr '\n' ' ')
weeks=${HANDOUT_WEEKS:-$region_weeks}
# The hidden tests' names (their GRADED lines), which no handout may contain.
hidden_tests=$(cat tests/hidden/week*/*.c 2>/dev/null |
    sed -n 's/.*GRADED\(_TIMED\)\{0,1\}[ \t]*([^,]*,[ \t]*\([A-Za-z_][A-Za-z0-9_]*\).*/\2/p' | sort -u)
levels=${HANDOUT_LEVELS:-core full}
core_max=${HANDOUT_CORE_MAX:-1000}
echo "handout-check: suites for weeks: ${suite_weeks:-none}; solution regions for weeks: ${region_weeks:-none}"
[ -n "$suite_weeks" ] || { echo "handout-check: no graded suite"; exit 1; }
for w in $suite_weeks; do
    case " $region_weeks " in
        *" $w "*) ;;
        *) problem "week $w has a graded suite but no solution regions: no handout can stub it" ;;
    esac
done

# The tiers table must be the markers' (`make tiers`), and the core parts small enough.
if TIERS_OUT=$tmp/tiers TIERS_TESTS=no sh weeks/tiers.sh >/dev/null 2>&1; then
    if ! cmp -s "$tmp/tiers/weeks/tiers.txt" weeks/tiers.txt; then
        problem "weeks/tiers.txt is out of date with the solution markers: run \`make tiers\`"
    fi
    for readme in weeks/week[0-9]-*/README.md; do
        if ! cmp -s "$tmp/tiers/$readme" "$readme"; then
            problem "$readme: its list of checked message wording is out of date: run \`make tiers\`"
        fi
    done
    echo "handout-check: non-blank lines of core solution code per week (at most $core_max):"
    sed -n 's/^#   week \([0-9]*\): core \([0-9]*\),.*/\1 \2/p' "$tmp/tiers/weeks/tiers.txt" |
        while read -r w n; do
            echo "  week $w: $n core lines"
            [ "$n" -le "$core_max" ] || echo "week $w: $n core lines, more than $core_max" >>"$problems"
        done
    grep -q . "$problems" && status=1
else
    problem "weeks/tiers.sh failed (malformed markers?)"
fi

# check_scores LABEL RESULTS N: weeks < N full, weeks >= N zero (N=0 for the reference,
# i.e. everything full). Appends a row to the table.
row() { printf '%-10s' "$1"; shift; for c in "$@"; do printf ' %-12s' "$c"; done; echo; }
check_scores() {
    label=$1 results=$2 n=$3
    if ! "$tool" --summary "$results" >"$tmp/summary" 2>"$tmp/summary.err"; then
        problem "$label: results.json is missing or invalid: $(cat "$tmp/summary.err")"
        row "$label" "(no valid results.json)"
        return
    fi
    cells=
    for w in $suite_weeks; do
        # "PREFIX SUITE score max passed count"
        set -- $(awk -v w="$w" '$1 == w { print $3, $4 }' "$tmp/summary")
        if [ $# -ne 2 ]; then
            problem "$label: week $w is missing from the results"
            cells="$cells missing"
            continue
        fi
        score=$1 max=$2
        cell="$score/$max"
        if [ "$n" -eq 0 ] || [ "$w" -lt "$n" ]; then
            if [ "$score" != "$max" ] || [ "$max" = 0 ]; then
                problem "$label: week $w scores $score of $max, expected full marks"
                cell="$cell!"
            fi
        elif [ "$score" != 0 ]; then
            problem "$label: week $w scores $score of $max, expected 0 (stubbed); see its passing tests below"
            "$tool" --tests "$results" | awk -v w="$w" 'index($1, w ".") == 1 && $2 == "passed"' |
                head -n 15 | sed "s/^/    $label passes: /" >>"$problems"
            cell="$cell!"
        fi
        cells="$cells $cell"
    done
    # shellcheck disable=SC2086
    row "$label" $cells
}

now() { date +%s; }
t_all=$(now)
subs=
replays=

# ------------------------------------------------------------------ the reference ---
# Grading the reference runs every suite under valgrind, one process at a time; it goes
# on in the background while the handouts are cut and built, so the two cores both work.
# Its verdict is collected before the table is printed.
t_ref=$(now)
if [ "${HANDOUT_REFERENCE:-yes}" = no ]; then
    echo "handout-check: the reference is not graded (HANDOUT_REFERENCE=no)"
else
    echo "handout-check: grading the reference (with valgrind) in the background..."
    (
        if RESULTS=$tmp/reference.json GRADE_DIR=$tmp/reference-grade MAKE=$make \
            sh tests/harness/grade.sh "$build" "" >"$tmp/reference.log" 2>&1; then
            echo 0
        else
            echo $?
        fi >"$tmp/reference.status"
        echo $(($(now) - t_ref)) >"$tmp/reference.time"
    ) &
    reference_job=$!
fi

# ------------------------------------------------------------------- the handouts ---
for n in $weeks; do
for lv in $levels; do
    t0=$(now)
    dir=$tmp/week$n-$lv
    label="$lv$n"
    if ! sh weeks/cut-handout.sh "$n" "$dir" "$lv" >"$tmp/cut$n.log" 2>&1; then
        problem "$label: the cut failed: $(cat "$tmp/cut$n.log")"
        continue
    fi
    # The instructors' hidden tests must not travel with a handout: no folder, and no
    # hidden test's name anywhere in the tree.
    if [ -e "$dir/tests/hidden" ]; then
        problem "$label: carries tests/hidden/ (the instructors' hidden tests)"
    fi
    for t in $hidden_tests; do
        if grep -rqw -- "$t" "$dir" 2>/dev/null; then
            problem "$label: names the hidden test $t ($(grep -rlw -- "$t" "$dir" | head -n 1))"
        fi
    done
    t1=$(now)
    # Build with -Werror: the handout must compile warning-free as given.
    if ! (cd "$dir" && $make --no-print-directory -j"$jobs" BUILD=build OPT="$opt" \
        WERROR=-Werror all) >"$tmp/build$n$lv.log" 2>&1; then
        problem "$label: does not build with -Werror (gcc):
$(grep -E ': (error|warning):|undefined reference|\*\*\*' "$tmp/build$n$lv.log" | head -n 20)"
    fi
    t2=$(now)
    clang_here=${HANDOUT_CLANG:-yes}
    [ "$clang_here" = all ] || [ "$lv" = full ] || clang_here=no
    if [ "$clang_here" != no ] && command -v clang >/dev/null 2>&1; then
        libs=
        for l in tensor autograd nn optim modular; do
            [ -d "$dir/$l" ] && libs="$libs build-clang/lib/libstrata_$l.a"
        done
        # shellcheck disable=SC2086
        if ! (cd "$dir" && $make --no-print-directory -j"$jobs" CC=clang BUILD=build-clang \
            OPT=-O0 WERROR=-Werror $libs) >"$tmp/clang$n$lv.log" 2>&1; then
            problem "$label: does not build with -Werror (clang):
$(grep -E ': (error|warning):|undefined reference|\*\*\*' "$tmp/clang$n$lv.log" | head -n 20)"
        fi
    fi
    t3=$(now)
    # Grade it (no valgrind items, see above); the grader itself must not fail.
    if ! (cd "$dir" && RESULTS=$tmp/week$n$lv.json GRADE_VALGRIND=no MAKE=$make \
        sh tests/harness/grade.sh build "") >"$tmp/grade$n$lv.log" 2>&1; then
        problem "$label: the grader failed: $(tail -n 5 "$tmp/grade$n$lv.log")"
    fi
    t4=$(now)
    # The deployed grader on the same handout: the reference's own week-N files must
    # score full marks, the untouched handout's zero (public and hidden suites; the
    # handout's build is reused, so only the week's files are recompiled).
    first_level=${levels%% *}
    [ "$lv" != "$first_level" ] || for who in reference handout; do
        case $who in reference) sub=$root ;; handout) sub=$dir ;; esac
        if ! GRADE_HANDOUT=$dir GRADE_REFBUILD=$tmp/refbuild$n GRADE_VALGRIND=no MAKE=$make \
            GRADE_OPT="$(printf '%s' "$opt" | cut -d' ' -f1)" \
            sh tests/harness/grade-submission.sh "$n" "$sub" "$tmp/sub-$who$n.json" \
            >"$tmp/sub-$who$n.log" 2>&1; then
            problem "grade-submission week $n ($who files) failed: $(tail -n 5 "$tmp/sub-$who$n.log")"
            continue
        fi
        set -- $("$tool" --summary "$tmp/sub-$who$n.json" 2>/dev/null | awk '$1 == "total" { print $2, $3 }')
        if [ $# -ne 2 ]; then
            problem "grade-submission week $n ($who files): no valid results.json"
        elif [ $who = reference ] && { [ "$1" != "$2" ] || [ "$2" = 0 ]; }; then
            problem "grade-submission week $n: the reference's files score $1 of $2, expected full marks:
$(grep -m 3 'refused\|FAILED' "$tmp/sub-$who$n.log")"
        elif [ $who = handout ] && [ "$1" != 0 ]; then
            problem "grade-submission week $n: the untouched handout scores $1 of $2, expected 0"
        fi
        subs="$subs week$n-$who=${1:-?}/${2:-?}"
    done
    t5=$(now)
    # Replay the week step by step in this very tree (built and graded already).
    replayed=
    if [ "$lv" = core ] && [ "${HANDOUT_REPLAY:-yes}" != no ] && [ -f "$tmp/week$n$lv.json" ]; then
        if sh weeks/replay-check.sh --tree "$dir" "$n" "$lv" "$tmp/week$n$lv.json" \
            >"$tmp/replay$n.log" 2>&1; then
            :
        else
            problem "$(cat "$tmp/replay$n.log")"
        fi
        replays="$replays
  $(grep '^replay-check: week' "$tmp/replay$n.log" | sed 's/^replay-check: //')"
        replayed=", replay $(($(now) - t5)) s"
    fi
    echo "handout-check: week $n ($lv): cut $((t1 - t0)) s, gcc build $((t2 - t1)) s," \
        "clang build $((t3 - t2)) s, graded $((t4 - t3)) s, grade-submission $((t5 - t4)) s$replayed"
    # Only the graded results are kept: the tree goes, to spare the disk.
    rm -rf "$dir"
done
done

# ------------------------------------------------------------------- the verdict ---
if [ -n "${reference_job:-}" ]; then
    wait "$reference_job"
    ref_status=$(cat "$tmp/reference.status" 2>/dev/null || echo "no status")
    [ "$ref_status" = 0 ] ||
        problem "reference: the grader failed (status $ref_status); log: $(tail -n 5 "$tmp/reference.log")"
    echo "handout-check: reference graded ($(cat "$tmp/reference.time" 2>/dev/null || echo "?") s, beside the handouts)"
fi
echo
heads=
for w in $suite_weeks; do heads="$heads week$w"; done
# shellcheck disable=SC2086
row "tree" $heads
[ "${HANDOUT_REFERENCE:-yes}" = no ] || check_scores reference "$tmp/reference.json" 0
for n in $weeks; do
    for lv in $levels; do
        [ -f "$tmp/week$n$lv.json" ] || { row "$lv$n" "(not graded)"; continue; }
        check_scores "$lv$n" "$tmp/week$n$lv.json" "$n"
    done
done
echo "grade-submission (the week's files of the reference / of the untouched core handout):$subs"
echo "(score/max per week; coreN/fullN: the handout of week N at that level, which must score"
echo " full marks below week N and 0 from week N on (a core handout's max leaves out the"
echo " stretch tests); handouts are graded without the valgrind items; ! marks a wrong cell)"
[ -z "$replays" ] || echo "replays (score after each step of the week's table, core handouts):$replays"
echo
if [ $status -ne 0 ]; then
    echo "handout-check: FAILED ($(($(now) - t_all)) s):"
    sed 's/^/  /' "$problems"
    exit 1
fi
echo "handout-check: ok, every handout builds and grades as expected ($(($(now) - t_all)) s)"
