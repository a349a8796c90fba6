#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the lint checks (tests/lint.sh) once, then every test of the given
# build directories: the cmocka unit binaries (TAP output) and the
# integration scripts (TAP), counts the results and
# ends with the line "N passed, N failed". Exit status 1 if anything failed.
#
#   bash tests/run.sh build [build/san ...]
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: tests/run.sh BUILD_DIR..." >&2; exit 2; }

passed=0 failed=0 failures=()
log_dir=$(mktemp -d "${TMPDIR:-/tmp}/cutoff-tests.XXXXXX")
trap 'rm -rf "$log_dir"' EXIT

# count FILE LABEL EXIT: adds the TAP results of one run to the totals.
count() {
    local file=$1 label=$2 status=$3 ok bad
    ok=$(grep -cE '^ok ' "$file")
    bad=$(grep -cE '^not ok ' "$file")
    if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
        bad=1 # crashed or exited non-zero without reporting a failing test
        echo "not ok - $label exited with status $status"
    fi
    passed=$((passed + ok))
    failed=$((failed + bad))
    [ "$bad" -gt 0 ] && failures+=("$label")
    printf '%-48s %4d passed, %d failed\n' "$label" "$ok" "$bad"
}

# The checked habits (format, static analysis) once, not per build.
out="$log_dir/lint.log"
bash tests/lint.sh >"$out" 2>&1
status=$?
grep -E '^not ok|^#' "$out" | head -40
count "$out" "lint" "$status"

for build in "$@"; do
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    for t in "$build"/tests/test_*; do
        [ -x "$t" ] || continue
        name="$build/$(basename "$t")"
        out="$log_dir/$(echo "$name" | tr / _).log"
        CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$out" 2>&1
        status=$?
        grep -E '^not ok|^#' "$out" | head -40
        # A crash or sanitizer report says more than the TAP lines do.
        [ "$status" -ne 0 ] && ! grep -q '^not ok' "$out" && tail -15 "$out" | sed 's/^/#   /'
        count "$out" "$name" "$status"
    done
    for s in tests/integration/*.sh; do
        [ -f "$s" ] && [[ "$(basename "$s")" != lib*.sh ]] || continue
        name="$build/$(basename "$s" .sh)"
        out="$log_dir/$(echo "$name" | tr / _).log"
        CUTOFF_BUILD="$build" bash "$s" >"$out" 2>&1
        status=$?
        grep -E '^not ok|^#' "$out" | head -40
        count "$out" "$name" "$status"
    done
done

[ ${#failures[@]} -gt 0 ] && echo "failing: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
