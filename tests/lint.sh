#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The checked habits: every C file that git tracks is as .clang-format lays
# it out, and cppcheck finds nothing (warnings the checked-in
# .cppcheck-suppressions names are wrong, each with its reason there).
# TAP output for tests/run.sh; run it alone with `bash tests/lint.sh`.
set -uo pipefail
cd "$(dirname "$0")/.."
n=0 bad=0
ok()     { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); bad=$((bad + 1)); echo "not ok $n - $1"; shift; printf '#   %s\n' "$@"; }

mapfile -t files < <(git ls-files '*.c' '*.h')
if ! command -v clang-format >/dev/null || ! command -v cppcheck >/dev/null; then
    not_ok "clang-format and cppcheck are installed (scripts/install-deps.sh)"
    echo "1..$n"
    exit 1
fi

off=()
for f in "${files[@]}"; do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || off+=("$f")
done
if [ ${#off[@]} -eq 0 ]; then ok "${#files[@]} C files match .clang-format"
else not_ok "C files match .clang-format (make format fixes them)" "${off[@]:0:20}"; fi

report=$(cppcheck -q --enable=warning,portability,performance --std=c11 -D_GNU_SOURCE \
    -I include -I src -I tests --inline-suppr --suppressions-list=.cppcheck-suppressions \
    --error-exitcode=1 src tests bench fuzz examples 2>&1)
if [ $? -eq 0 ] && [ -z "$report" ]; then ok "cppcheck finds nothing in src, tests, bench, fuzz, examples"
else not_ok "cppcheck finds nothing" "${report:0:3000}"; fi

echo "1..$n"
[ "$bad" -eq 0 ]
