#!/bin/sh
# make test-torch: run tests/torch/compare.py with the first python3 that has PyTorch
# (a pyenv or venv python3 may shadow Debian's /usr/bin/python3, which python3-torch
# installs into). Skipped with a note, status 0, when there is none.
driver="$1"
interop="${2:-}"
for py in "${PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$py" ] || continue
    command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c 'import torch' >/dev/null 2>&1; then
        # torch 1.13 warns when numpy is missing; the comparison does not need it.
        "$py" -W ignore::UserWarning "$(dirname "$0")/compare.py" "$driver" || exit $?
        # Weights through safetensors files, both ways (the user guide's lines).
        [ -z "$interop" ] && exit 0
        exec "$py" -W ignore::UserWarning "$(dirname "$0")/interop.py" "$interop"
    fi
done
echo "test-torch: skipped: no python3 with PyTorch found (Debian: apt-get install python3-torch);"
echo "            make test does not need it."
exit 0
