#!/bin/sh
# weeks/replay-check.sh - replay a student's week, step by step (`make replay-check`).
#
# For each week N and level (core by default): cut the handout of week N, grade week N
# (its suites only), then restore the reference's regions of week N one step of the
# handout's "what to implement" table at a time (the markers' step=S, in order; only
# the steps that have regions the level cuts) and grade again after each. Fails unless
# the week's score rises at every step and ends at full marks: a student who works in
# the handout's order sees points for every step, and no step's points hide behind a
# later one.
#
# The handout is cut once and then cut again in place (weeks/cut-handout.sh with
# HANDOUT_UPTO=S rewrites only the files that change), so each step rebuilds only what
# it touched, at -O0 like handout-check, and without -Werror (see score() below).
#
#   sh weeks/replay-check.sh --tree DIR WEEK LEVEL RESULTS
# replays one week in a handout that is cut, built and graded already (DIR, graded
# into RESULTS, whose row of week WEEK is the start): `make handout-check` does this
# on each core handout it has just checked, so the replay costs no cut and no build
# of its own (CI runs it that way).
#
# Environment: BUILD (the reference's build folder, for build/tools/grade; default
# build), HANDOUT_OPT (default "-O0 -g0"), REPLAY_WEEKS="1 2" (default: every week with
# regions), REPLAY_LEVELS="core full" (default core), HANDOUT_KEEP=yes keeps the
# temporary folder.
set -u

check=replay-check tmp_name=strata-replay
. "$(dirname "$0")/check-prelude.sh"

# The steps of week W that level L cuts: "step" per line, in order.
steps_of() {
    for layer in tensor autograd nn optim modular; do
        [ -d "$layer" ] && find "$layer" -type f \( -name '*.c' -o -name '*.h' \) -exec cat {} +
    done | awk -v w="$1" -v lv="$2" '
        /SOLUTION BEGIN/ {
            wk = $0; sub(/.*[ \t]week=/, "", wk); sub(/[ \t].*/, "", wk)
            st = $0; sub(/.*[ \t]step=/, "", st); sub(/[ \t].*/, "", st)
            ti = $0; sub(/.*[ \t]tier=/, "", ti); sub(/[ \t].*/, "", ti)
            if (wk == w && (lv == "full" || ti == "core"))
                print st
        }' | sort -un
}

# score DIR WEEK OUT: grade week WEEK in the handout at DIR; print "score max".
score() {
    # Build first at -O0 (grade.sh then finds the suites up to date).
    # WERROR= : half-way, a restored static helper may wait for its users (an unused
    # function), which is no error in a student's tree either; handout-check builds the
    # handouts themselves with -Werror.
    (cd "$1" && $make --no-print-directory \
        -j"$jobs" BUILD=build OPT="$opt" WERROR= $(for d in tests/week"$2"_*/; do
            echo "build/tests/$(basename "$d")"; done) >"$3.build.log" 2>&1
     RESULTS=$3 GRADE_VALGRIND=no MAKE=$make sh tests/harness/grade.sh build "$2") \
        >"$3.log" 2>&1
    "$tool" --summary "$3" 2>/dev/null | awk '$1 == "total" { print $2, $3 }'
}

# replay W LV DIR START: the steps of week W at level LV in the handout DIR (cut and
# built), starting from the score "score max" START. Prints one line; returns 1 unless
# every step raises the score and the last one reaches full marks.
replay() {
    w=$1 lv=$2 dir=$3
    t0=$(date +%s)
    set -- $4
    prev=${1:-?} max=${2:-?}
    line="week $w ($lv): start $prev/$max"
    ok=yes
    for s in $(steps_of "$w" "$lv"); do
        HANDOUT_UPTO=$s sh weeks/cut-handout.sh "$w" "$dir" "$lv" >"$tmp/cut.log" 2>&1 || {
            line="$line, step $s: the cut failed"
            ok=no
            break
        }
        set -- $(score "$dir" "$w" "$tmp/w$w-$lv-$s.json")
        now=${1:-?}
        line="$line, step $s: $now"
        if [ "$now" = "?" ] || [ "$prev" = "?" ] ||
            ! awk -v a="$now" -v b="$prev" 'BEGIN { exit !(a > b) }'; then
            line="$line (no rise!)"
            ok=no
        fi
        prev=$now
    done
    if [ "$prev" != "$max" ]; then
        line="$line; ends at $prev of $max (not full marks!)"
        ok=no
    fi
    echo "replay-check: $line ($(($(date +%s) - t0)) s)"
    [ $ok = yes ] && return 0
    # What failed at the end, to help whoever fixes it.
    last=$(ls -t "$tmp"/w"$w"-"$lv"-*.json 2>/dev/null | head -n 1)
    [ -n "$last" ] && "$tool" --tests "$last" 2>/dev/null |
        awk '$2 == "failed" && $4 > 0' | head -n 10 | sed 's/^/    still failing: /'
    return 1
}

if [ "${1:-}" = --tree ]; then
    # One week in a handout cut, built and graded already (by handout-check).
    [ $# -eq 5 ] || { echo "usage: $0 --tree DIR WEEK LEVEL RESULTS" >&2; exit 2; }
    start_score=$("$tool" --summary "$5" 2>/dev/null | awk -v w="$3" '$1 == w { s += $3; m += $4 }
        END { if (m > 0) print s, m }')
    replay "$3" "$4" "$2" "$start_score"
    exit $?
fi

weeks=${REPLAY_WEEKS:-$(for l in tensor autograd nn optim modular; do
    [ -d "$l" ] && find "$l" -type f \( -name '*.c' -o -name '*.h' \) -exec cat {} +
done | sed -n 's/.*SOLUTION BEGIN week=\([0-9]*\).*/\1/p' | sort -un | tr '\n' ' ')}
levels=${REPLAY_LEVELS:-core}
status=0
start=$(date +%s)
for lv in $levels; do
    for w in $weeks; do
        dir=$tmp/week$w-$lv
        if ! sh weeks/cut-handout.sh "$w" "$dir" "$lv" >"$tmp/cut.log" 2>&1; then
            echo "replay-check: week $w ($lv): the cut failed: $(cat "$tmp/cut.log")"
            status=1
            continue
        fi
        replay "$w" "$lv" "$dir" "$(score "$dir" "$w" "$tmp/w$w-$lv-0.json")" || status=1
        [ "${HANDOUT_KEEP:-no}" = yes ] || rm -rf "$dir"
    done
done
if [ $status -ne 0 ]; then
    echo "replay-check: FAILED ($(($(date +%s) - start)) s)"
    exit 1
fi
echo "replay-check: ok, every step of every replayed week raises the score ($(($(date +%s) - start)) s)"
