#!/bin/sh
# docs/build-docs.sh - build the API site into doc/html (`make docs`).
#
# Inputs: the public headers that exist (tensor/tensor.h, autograd/autograd.h, nn/nn.h,
# optim/optim.h with the four parts it includes, modular/modular.h, strata.h), README.md
# as the main page, and docs/*.md, weeks/README.md and weeks/*/README.md (the handouts)
# as pages. Settings in docs/Doxyfile. Fails when doxygen warns about anything: an undocumented function,
# struct field or parameter, a @param naming no parameter, a broken reference.
set -eu
cd "$(dirname "$0")/.."

command -v doxygen >/dev/null || { echo "docs: doxygen is not installed (make deps)"; exit 1; }

inputs=
for f in tensor/tensor.h autograd/autograd.h nn/nn.h optim/optim.h optim/optimizer.h \
    optim/data/data.h optim/train/train.h optim/l2l/l2l.h optim/mpi/optim_dist.h modular/modular.h \
    strata.h README.md docs/*.md weeks/README.md weeks/*/README.md examples/README.md \
    examples/data/README.md; do
    [ -f "$f" ] && inputs="$inputs $f"
done

rm -rf doc/html
mkdir -p doc
log=doc/doxygen-warnings.log
: >"$log"
status=0
{
    cat docs/Doxyfile
    echo "INPUT = $inputs"
    # Absolute: doxygen would take every README.md (the handouts too) as the main page.
    echo "USE_MDFILE_AS_MAINPAGE = $(pwd)/README.md"
} | doxygen - || status=$?

if [ -s "$log" ]; then
    n=$(grep -c . "$log")
    echo "docs: doxygen reported $n warning(s) (from $log):"
    head -n 60 "$log"
    [ "$n" -gt 60 ] && echo "... $((n - 60)) more in $log"
    exit 1
fi
if [ $status -ne 0 ] || [ ! -f doc/html/index.html ]; then
    echo "docs: doxygen failed (status $status)"
    exit 1
fi
pages=$(ls doc/html/*.html | wc -l)
echo "docs: doc/html/index.html written ($pages pages; inputs:$inputs)"
