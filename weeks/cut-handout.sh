#!/bin/sh
# weeks/cut-handout.sh WEEK DEST - cut the student handout of week WEEK from this tree.
#
# Copies the tree (the files git knows, tracked or not ignored; every file but build
# output when this is not a git checkout) to DEST, then cuts the solution regions of
# every .c/.h file under the five layer folders with weeks/cut-regions.awk:
# regions of week >= WEEK become stubs that compile, record
# "<function>: not implemented yet (week W)" and return the failure value; regions of
# earlier weeks stay solved (only their marker lines go). Nothing else is touched,
# except that the instructors' hidden tests (tests/hidden/) are never copied.
# See docs/conventions.md ("Solution regions") and docs/grading.md.
#
# Plain POSIX sh + awk: the machines that cut or grade may have no Python.
set -eu

usage() {
    echo "usage: $0 WEEK DEST   (WEEK 1..5; DEST must not exist or be empty)" >&2
    exit 2
}
[ $# -eq 2 ] || usage
week=$1
dest=$2
case $week in
    '' | *[!0-9]*) usage ;;
esac
[ "$week" -ge 1 ] || usage

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
awkfile=$here/cut-regions.awk

if [ -e "$dest" ]; then
    [ -d "$dest" ] || { echo "$0: $dest exists and is not a directory" >&2; exit 2; }
    if [ -n "$(ls -A "$dest")" ]; then
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
trap 'rm -f "$list" "$list.cut"' EXIT INT TERM

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

# The hidden tests are the instructors' alone: a handout never carries them.
grep -v -e '^tests/hidden/' -e '^tests/hidden$' "$list" >"$list.cut" || true
mv "$list.cut" "$list"
(cd "$src" && tar -cf - -T "$list") | (cd "$dest" && tar -xf -)
if [ -e "$dest/tests/hidden" ]; then
    echo "$0: $dest/tests/hidden exists after the copy; hidden tests must not be handed out" >&2
    exit 1
fi

status=0
regions=0
for layer in tensor autograd nn optim modular; do
    [ -d "$dest/$layer" ] || continue
    for f in $(find "$dest/$layer" -type f \( -name '*.c' -o -name '*.h' \) | sort); do
        if ! awk -v week="$week" -f "$awkfile" "$f" >"$list.cut"; then
            status=1
            continue
        fi
        n=$(grep -c 'SOLUTION BEGIN' "$f" || true)
        regions=$((regions + n))
        # cat > keeps the file's mode; cmp spares untouched files a new mtime.
        cmp -s "$list.cut" "$f" || cat "$list.cut" >"$f"
    done
done

if [ $status -ne 0 ]; then
    echo "$0: unbalanced or malformed solution markers (above); $dest is incomplete" >&2
    exit 1
fi
echo "handout for week $week written to $dest ($regions solution regions processed)"
