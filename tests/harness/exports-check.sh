#!/bin/sh
# tests/harness/exports-check.sh LIB HEADER... - the shared library exports exactly the
# public API (`make exports-check`, run by `make test`).
#
# The libraries are compiled with -fvisibility=hidden and the public headers mark their
# declarations with STRATA_API (tensor/tensor.h), so libstrata.so should export exactly
# the functions and objects those headers declare. This compares the two lists:
#
#   declared: every function the headers declare, as gcc itself reads them
#             (-aux-info writes one line per prototype with the file it came from), plus
#             the objects they declare `extern`;
#   exported: the symbols the library defines in its dynamic table (nm -D).
#
# It fails on an exported symbol no public header declares (an internal helper that
# leaked: give it `static`, or leave it in its *_internal.h without the mark) and on a
# declared one the library does not export (the mark is missing, or the function is
# declared and never written). The public headers are documented in full (`make docs`
# fails otherwise), so "declared" is also "documented".
set -u
[ $# -ge 2 ] || { echo "usage: $0 LIB HEADER..." >&2; exit 2; }
lib=$1
shift
[ -f "$lib" ] || { echo "exports-check: $lib not built (make $lib)" >&2; exit 1; }
command -v gcc >/dev/null || { echo "exports-check: needs gcc (-aux-info)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# One translation unit including every public header, each by its base name on the
# include path of its folder (as the layers include each other).
incs=
for h in "$@"; do
    printf '#include "%s"\n' "$(basename "$h")"
    incs="$incs -I$(dirname "$h")"
done >"$tmp/all.c"
# shellcheck disable=SC2086 # $incs is a list of words
if ! gcc -std=c11 -D_DEFAULT_SOURCE $incs -fsyntax-only -aux-info "$tmp/aux" "$tmp/all.c" \
    2>"$tmp/gcc.err"; then
    echo "exports-check: the public headers do not compile on their own:"
    cat "$tmp/gcc.err"
    exit 1
fi

# aux lines: "/* tensor/tensor.h:57:NC */ extern const char *strata_last_error (void);"
for h in "$@"; do
    h=${h#./}
    grep -F "/* $h:" "$tmp/aux" | grep -v '\*/ static ' |
        sed 's/ *(.*//; s/.*[ *]//'
    # Objects: "STRATA_API extern const float name[...];"
    grep -E '^([A-Z_]+ )?extern [^"]' "$h" | sed 's/[[;=].*//; s/.*[ *]//'
done | sort -u >"$tmp/declared"
nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sort -u >"$tmp/exported"

status=0
comm -13 "$tmp/declared" "$tmp/exported" >"$tmp/leaked"
comm -23 "$tmp/declared" "$tmp/exported" >"$tmp/missing"
if [ -s "$tmp/leaked" ]; then
    echo "exports-check: $lib exports $(wc -l <"$tmp/leaked") symbol(s) no public header declares:"
    sed 's/^/  /' "$tmp/leaked"
    status=1
fi
if [ -s "$tmp/missing" ]; then
    echo "exports-check: $lib does not export $(wc -l <"$tmp/missing") declared function(s) (no STRATA_API, or never defined):"
    sed 's/^/  /' "$tmp/missing"
    status=1
fi
if [ $status -eq 0 ]; then
    echo "exports-check: ok ($lib exports the $(wc -l <"$tmp/exported") functions and objects the public headers declare, nothing else)"
fi
exit $status
