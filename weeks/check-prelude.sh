# weeks/check-prelude.sh - how handout-check.sh and replay-check.sh open (sourced by
# both, after they set `check` to their name and `tmp_name` to their temporary folder's
# prefix): work from the tree's root; read BUILD (default build), MAKE, HANDOUT_OPT
# (default "-O0 -g0") and the number of processors; make a temporary folder under
# TMPDIR, removed on exit unless HANDOUT_KEEP=yes; and build the grader, `$tool`.
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${BUILD:-build}
make=${MAKE:-make}
jobs=$(nproc 2>/dev/null || echo 2)
opt=${HANDOUT_OPT:--O0 -g0}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/$tmp_name.XXXXXX")
if [ "${HANDOUT_KEEP:-no}" = yes ]; then
    echo "$check: keeping $tmp"
else
    trap 'rm -rf "$tmp"' EXIT INT TERM
fi
tool=$root/$build/tools/grade
$make --no-print-directory BUILD="$build" "$build/tools/grade" >/dev/null 2>&1 || {
    echo "$check: cannot build $build/tools/grade"
    exit 1
}
