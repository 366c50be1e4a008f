#!/bin/sh
# weeks/cut-handout.sh WEEK DEST [LEVEL] - cut the student handout of week WEEK.
#
# Copies the tree (the files git knows, tracked or not ignored; every file but build
# output when this is not a git checkout) to DEST, then cuts the solution regions of
# every .c/.h file under the five layer folders with weeks/cut-regions.awk:
# regions of week >= WEEK become stubs that compile, record
# "<function>: not implemented yet (week W)" and return the failure value; regions of
# earlier weeks stay solved (only their marker lines go). LEVEL is core (the default:
# only tier=core regions are cut, stretch and given ones ship solved) or full (every
# region of week >= WEEK is cut). Each stub names its week, step and tier and carries
# its function's one-line summary; each layer file opens with a banner saying what the
# student writes in it. DEST/.handout records "week=N level=L" for the grader (in a
# core handout, the tests of the stretch tier are reported but not graded). Nothing
# else is touched, except that the instructors' hidden tests (tests/hidden/) are never
# copied.
# See docs/conventions.md ("Solution regions") and docs/grading.md.
#
# HANDOUT_UPTO=S keeps week WEEK's regions of steps <= S solved, and a DEST that is a
# handout already (has .handout) is cut again in place, rewriting only the files that
# change: the replay check uses both to build step by step incrementally.
#
# Plain POSIX sh + awk: the machines that cut or grade may have no Python.
set -eu

usage() {
    echo "usage: $0 WEEK DEST [core|full]   (WEEK 1..5; DEST must not exist or be empty)" >&2
    exit 2
}
[ $# -eq 2 ] || [ $# -eq 3 ] || usage
week=$1
dest=$2
level=${3:-core}
upto=${HANDOUT_UPTO:-0}
case $week in
    '' | *[!0-9]*) usage ;;
esac
[ "$week" -ge 1 ] || usage
case $level in
    core | full | stretch) ;; # stretch: `make tiers` only (cuts the stretch tier alone)
    *) usage ;;
esac
case $upto in
    '' | *[!0-9]*) usage ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
awkfile=$here/cut-regions.awk

recut=no
if [ -e "$dest" ]; then
    [ -d "$dest" ] || { echo "$0: $dest exists and is not a directory" >&2; exit 2; }
    if [ -f "$dest/.handout" ]; then
        recut=yes
    elif [ -n "$(ls -A "$dest")" ]; then
        echo "$0: $dest is not empty; refusing to write into it" >&2
        exit 2
    fi
fi
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
case $dest in
    "$src" | "$src"/*) echo "$0: DEST must lie outside the source tree" >&2; exit 2 ;;
esac

list=$(mktemp)
trap 'rm -f "$list" "$list.cut" "$list.briefs"' EXIT INT TERM

# The file list: what git would commit (tracked, plus new files not ignored), or,
# outside git, everything except build output and VCS folders.
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
    [ "$(git -C "$src" rev-parse --show-toplevel)" = "$src" ]; then
    (cd "$src" && git ls-files --cached --others --exclude-standard) |
        while IFS= read -r f; do
            [ -f "$src/$f" ] && printf '%s\n' "$f"
        done >"$list"
else
    (cd "$src" && find . \( -name .git -o -path ./build -o -path ./doc \) -prune -o \
        -type f -print | sed 's|^\./||' | grep -v -e '\.o$' -e '\.d$' -e '^results\.json$') >"$list"
fi

if [ $recut = no ]; then
    # The hidden tests are the instructors' alone: a handout never carries them.
    grep -v -e '^tests/hidden/' -e '^tests/hidden$' "$list" >"$list.cut" || true
    mv "$list.cut" "$list"
    (cd "$src" && tar -cf - -T "$list") | (cd "$dest" && tar -xf -)
    if [ -e "$dest/tests/hidden" ]; then
        echo "$0: $dest/tests/hidden exists after the copy; hidden tests must not be handed out" >&2
        exit 1
    fi
fi

# The one-line summaries the stubs quote: headers first, then the .c files' comments
# (for static functions).
(
    cd "$src"
    for layer in tensor autograd nn optim modular; do
        [ -d "$layer" ] && find "$layer" -type f -name '*.h' | sort
    done
    for layer in tensor autograd nn optim modular; do
        [ -d "$layer" ] && find "$layer" -type f -name '*.c' | sort
    done
) | (cd "$src" && xargs awk -f "$here/briefs.awk") >"$list.briefs"

status=0
regions=0
for layer in tensor autograd nn optim modular; do
    [ -d "$src/$layer" ] || continue
    for f in $(cd "$src" && find "$layer" -type f \( -name '*.c' -o -name '*.h' \) | sort); do
        if ! awk -v week="$week" -v level="$level" -v upto="$upto" -v briefs="$list.briefs" \
            -v banner=yes -f "$awkfile" "$src/$f" >"$list.cut"; then
            status=1
            continue
        fi
        n=$(grep -c 'SOLUTION BEGIN' "$src/$f" || true)
        regions=$((regions + n))
        # cat > keeps the file's mode; cmp spares untouched files a new mtime.
        cmp -s "$list.cut" "$dest/$f" || cat "$list.cut" >"$dest/$f"
    done
done
printf 'week=%s level=%s\n' "$week" "$level" >"$dest/.handout"

if [ $status -ne 0 ]; then
    echo "$0: unbalanced or malformed solution markers (above); $dest is incomplete" >&2
    exit 1
fi
echo "handout for week $week ($level) written to $dest ($regions solution regions processed)"
