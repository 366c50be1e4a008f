#!/bin/sh
# tests/bad_input/table.sh [BUILD] - regenerate the table of docs/bad-input.md
# from what strata really prints: runs the robustness suite with RB_DUMP set (each row's
# test appends "test<TAB>layer<TAB>call<TAB>input<TAB>message") and prints the Markdown
# rows on stdout. The per-test temporary directory is shown as DIR.
set -eu
build=${1:-build}
dump=$(mktemp)
trap 'rm -f "$dump"' EXIT INT TERM
CK_FORK=no RB_DUMP=$dump "$build/tests/bad_input" >/dev/null
echo '| # | layer | call | input | message | test |'
echo '|---|---|---|---|---|---|'
sed -e 's#/tmp/strata-rb-[A-Za-z0-9]\{6\}#DIR#g' -e 's/|/\\|/g' "$dump" |
    awk -F'\t' '{ printf "| %d | %s | `%s` | %s | %s | `%s` |\n", NR, $2, $3, $4, $5, $1 }'
