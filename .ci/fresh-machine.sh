#!/usr/bin/env bash
# .ci/fresh-machine.sh - README's first hour, replayed on a clean clone (a step of .ci/run).
#
# CI's machine already has every package, so a plain `make train` there cannot show
# what a new user sees. This script clones the committed tree (HEAD) into a temporary
# directory and puts shims first on PATH that make the machine look fresh until
# apt-get has run:
#
#   dpkg-query   reports every package as not installed
#   pkg-config   knows no package (as before pkg-config's .pc files are installed)
#   apt-get      installs nothing, but from then on the two above answer for real
#   id -u        prints 0 (.ci/deps only calls apt-get as root)
#
# Then it does what README says, in order, and fails on the first thing that breaks:
#   1. make train         must install (call apt-get), build and train in ONE run
#                         (one epoch here, to stay fast)
#   2. make install PREFIX=<tmp>   from that clone, which has not built the shared or
#                         the MPI library yet
#   3. README's example program, cut from README.md, compiled with the command README
#      gives and run with nothing else set (no LD_LIBRARY_PATH)
# mpicc cannot be hidden the same way (it sits in /usr/bin beside the compiler), so the
# MPI part of the first run is not covered.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-2}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
shims=$tmp/shims
installed=$tmp/apt-get-ran # the shims' "packages are installed now" switch
mkdir -p "$shims"

real_pkg_config=$(command -v pkg-config)
real_dpkg_query=$(command -v dpkg-query)
real_id=$(command -v id)

cat >"$shims/pkg-config" <<EOF
#!/bin/sh
[ -e "$installed" ] && exec "$real_pkg_config" "\$@"
echo "pkg-config (fresh-machine shim): no package is installed yet" >&2
exit 1
EOF
cat >"$shims/dpkg-query" <<EOF
#!/bin/sh
[ -e "$installed" ] && exec "$real_dpkg_query" "\$@"
echo "dpkg-query (fresh-machine shim): no packages found matching \$*" >&2
exit 1
EOF
cat >"$shims/apt-get" <<EOF
#!/bin/sh
echo "apt-get (fresh-machine shim): \$*"
touch "$installed"
EOF
cat >"$shims/id" <<EOF
#!/bin/sh
[ "\$*" = -u ] && { echo 0; exit 0; }
exec "$real_id" "\$@"
EOF
chmod +x "$shims"/*

git clone -q "$src" "$tmp/strata"
cd "$tmp/strata"
export PATH="$shims:$PATH"

# Before: the shims must really hide the packages, or this proves nothing.
if pkg-config --exists libcjson 2>/dev/null; then
    echo "fresh-machine: the pkg-config shim does not work"
    exit 1
fi

echo "--- 1. make train (fresh machine)"
make --no-print-directory -j"$jobs" train TRAIN_ARGS="--epochs 1" | tee "$tmp/train.log" |
    grep -v '^cc \|^    \|^rm -f\|^mkdir'
[ -e "$installed" ] || { echo "fresh-machine: make train never called apt-get"; exit 1; }
grep -q 'test accuracy' "$tmp/train.log" || { echo "fresh-machine: make train did not train"; exit 1; }

echo "--- 2. make install PREFIX=$tmp/prefix"
make --no-print-directory -j"$jobs" install PREFIX="$tmp/prefix" >"$tmp/install.log" 2>&1 || {
    tail -n 20 "$tmp/install.log"
    echo "fresh-machine: make install failed"
    exit 1
}
ls "$tmp/prefix/lib" "$tmp/prefix/include/strata" | tr '\n' ' '
echo

echo "--- 3. README's example program"
# The first C block after the heading "Using the installed library".
awk '/^### Using the installed library/ { f = 1 } f && /^```c$/ { c = 1; next }
     c && /^```$/ { exit } c { print }' README.md >"$tmp/app.c"
[ -s "$tmp/app.c" ] || { echo "fresh-machine: no example program found in README.md"; exit 1; }
export PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig
# shellcheck disable=SC2046  # pkg-config's words are separate flags, as README writes it
cc "$tmp/app.c" $(pkg-config --cflags --libs strata) -o "$tmp/app"
(cd / && env -u LD_LIBRARY_PATH "$tmp/app") | tee "$tmp/app.out"
grep -q '3' "$tmp/app.out" || { echo "fresh-machine: the example printed no result"; exit 1; }
echo "fresh-machine: make train, make install and README's example work from a clean clone"
