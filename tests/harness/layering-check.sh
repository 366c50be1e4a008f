#!/bin/sh
# tests/harness/layering-check.sh LIBDIR - fail when a layer reaches up (`make test`).
#
# The stack, bottom first: tensor autograd nn optim modular. A layer may include and
# link only itself and the layers below it. Two checks, run from the repo top:
#
#  1. includes: no source or header of a layer (nor a week's suite under
#     tests/weekN_<layer>/) may #include a header of a higher layer, by any path
#     ("nn.h", "../nn/nn.h", <strata/nn.h>, "nn_internal.h") or strata.h, which
#     includes them all. The Makefile's per-layer include paths already make such an
#     include fail to compile; this check also catches relative paths, which the
#     include path does not stop.
#  2. links: no layer's static library (LIBDIR/libstrata_<layer>.a) may leave a symbol
#     undefined that only a higher layer's library defines (nm).
#  3. files: inside a layer, no circle between files. File a uses file b when a's object
#     needs a symbol b's object defines (a call, or a function put in a table); these
#     arrows must never lead back to where they started (a.c -> b.c -> a.c), so each
#     file can be read after the files it uses. Layers cannot form a circle with each
#     other: check 2 makes every arrow between them point down.
set -u
libdir=${1:-build/lib}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
layers="tensor autograd nn optim modular"
status=0
violation() {
    echo "layering-check: $*"
    status=1
}

# Layers above $1, one per line.
above() {
    found=0
    for l in $layers; do
        [ $found -eq 1 ] && echo "$l"
        [ "$l" = "$1" ] && found=1
    done
}

# ------------------------------------------------------------------ 1. includes ---
for layer in $layers; do
    # The headers that belong to higher layers, by base name.
    banned="strata.h"
    for up in $(above "$layer"); do
        [ -d "$up" ] || continue
        # Every header of the layer, in its subfolders too (optim/data/data.h, ...).
        for h in $(find "$up" -type f -name '*.h'); do
            banned="$banned $(basename "$h")"
        done
        banned="$banned $up.h ${up}_internal.h"
    done
    files=
    [ -d "$layer" ] && files=$(find "$layer" -type f \( -name '*.c' -o -name '*.h' \))
    for t in tests/week[0-9]_"$layer" tests/week[0-9]_"$layer"_*; do
        [ -d "$t" ] && files="$files $(find "$t" -type f \( -name '*.c' -o -name '*.h' \))"
    done
    for f in $files; do
        # Every #include's target, with its line number.
        grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "$f" |
            sed 's/^\([0-9]*\):[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]\([^">]*\)[">].*/\1 \2/' |
            while read -r line target; do
                base=${target##*/}
                dirpart=
                case $target in */*) dirpart=${target%/*} ;; esac
                hit=
                for b in $banned; do
                    [ "$base" = "$b" ] && hit=1
                done
                # "../optim/anything.h" or "optim/x.h" reach up by folder too.
                for up in $(above "$layer"); do
                    case "/$dirpart/" in */"$up"/*) hit=1 ;; esac
                done
                [ -n "$hit" ] && echo "$f:$line: layer '$layer' includes \"$target\" from a higher layer"
            done
    done
done >"$tmp/includes"
while IFS= read -r l; do violation "$l"; done <"$tmp/includes"

# --------------------------------------------------------------------- 2. links ---
defined() { nm -g --defined-only "$1" 2>/dev/null | awk 'NF >= 3 { print $3 }' | sort -u; }
undefined() { nm -g --undefined-only "$1" 2>/dev/null | awk '{ print $NF }' | sort -u; }

libs_found=0
for layer in $layers; do
    lib=$libdir/libstrata_$layer.a
    if [ -f "$lib" ]; then
        defined "$lib" >"$tmp/def.$layer"
        undefined "$lib" >"$tmp/undef.$layer"
        libs_found=$((libs_found + 1))
    else
        : >"$tmp/def.$layer"
        : >"$tmp/undef.$layer"
    fi
done
[ $libs_found -gt 0 ] || violation "no libstrata_<layer>.a under $libdir (build first)"

for layer in $layers; do
    # Undefined here, defined nowhere at this level or below...
    : >"$tmp/below"
    for l in $layers; do
        cat "$tmp/def.$l" >>"$tmp/below"
        [ "$l" = "$layer" ] && break
    done
    sort -u "$tmp/below" -o "$tmp/below"
    comm -23 "$tmp/undef.$layer" "$tmp/below" >"$tmp/open"
    # ...but defined by a higher layer: a link upwards.
    for up in $(above "$layer"); do
        comm -12 "$tmp/open" "$tmp/def.$up" | while read -r sym; do
            echo "libstrata_$layer.a needs '$sym', which only the higher layer '$up' defines"
        done
    done
done >"$tmp/links"
while IFS= read -r l; do violation "$l"; done <"$tmp/links"

# --------------------------------------------------------------------- 3. files ---
# nm -A names each symbol's archive member: "lib.a:file.o: <addr> T name" (defined),
# "lib.a:file.o:  U name" (needed). Members are the layer's .o files by base name.
edges_total=0
for layer in $layers; do
    lib=$libdir/libstrata_$layer.a
    [ -f "$lib" ] || continue
    nm -A -g --defined-only "$lib" 2>/dev/null |
        awk '{ n = split($1, p, ":"); print $NF, p[n - 1] }' | sort >"$tmp/fdef"
    nm -A -u "$lib" 2>/dev/null |
        awk '{ n = split($1, p, ":"); print $NF, p[n - 1] }' | sort >"$tmp/fuse"
    # "user.o definer.o" for every symbol one file needs and another defines.
    join "$tmp/fuse" "$tmp/fdef" | awk '$2 != $3 { print $2, $3 }' | sort -u >"$tmp/edges"
    edges_total=$((edges_total + $(wc -l <"$tmp/edges")))
    # tsort orders the files and names every circle it meets on stderr, one
    # "input contains a loop:" line and then the files of that circle.
    tsort "$tmp/edges" 2>&1 >/dev/null |
        awk -v lib="libstrata_$layer.a" '
            /input contains a loop/ { if (c != "") print lib ": files in a circle: " c; c = ""; next }
            { sub(/^tsort: /, ""); sub(/\.o$/, ".c"); c = (c == "") ? $0 : c " -> " $0 }
            END { if (c != "") print lib ": files in a circle: " c }'
done >"$tmp/cycles"
while IFS= read -r l; do violation "$l"; done <"$tmp/cycles"
if [ -s "$tmp/cycles" ]; then
    echo "layering-check: each file of a circle uses a symbol the next one defines; make the"
    echo "  arrows go one way (for example move the piece both use into a file of its own)"
fi

if [ $status -eq 0 ]; then
    echo "layering-check: ok (no layer includes or links a layer above it; no circle between the files of a layer: $edges_total arrows)"
fi
exit $status
