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

# count FILE LABEL EXIT [SECONDS]: adds the TAP results of one run to the
# totals; the line names how long it took (to see what makes the run long).
count() {
    local file=$1 label=$2 status=$3 took=${4:-} ok bad
    ok=$(grep -cE '^ok ' "$file")
    # cmocka reports a skipped test as "not ok N # SKIP": not a failure.
    bad=$(grep -E '^not ok ' "$file" | grep -cvE '# SKIP')
    if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
        bad=1 # crashed or exited non-zero without reporting a failing test
        echo "not ok - $label exited with status $status"
    fi
    passed=$((passed + ok))
    failed=$((failed + bad))
    [ "$bad" -gt 0 ] && failures+=("$label")
    printf '%-48s %4d passed, %d failed%s\n' "$label" "$ok" "$bad" "${took:+ ($took s)}"
}

# The checked habits (format, static analysis) once, not per build.
out="$log_dir/lint.log"
bash tests/lint.sh >"$out" 2>&1
status=$?
grep -E '^not ok|^#' "$out" | head -40
count "$out" "lint" "$status"

# The store-level unit tests run a second time on PostgreSQL, against one
# server started here (tests/support/pg.sh); each binary makes its own
# databases on it. Without the server installed they run on SQLite only.
PG_UNIT_TESTS="test_changes test_heads test_audit test_notices test_fleet test_db test_copy"
source tests/support/pg.sh
pg_base=
if pg_installed; then
    trap 'pg_stop; rm -rf "$log_dir"' EXIT
    if pg_start "$log_dir/pg" >/dev/null 2>"$log_dir/pg.err"; then
        pg_base="postgresql://postgres@127.0.0.1:$PG_PORT"
    else
        echo "not ok - the PostgreSQL server for the unit tests does not start"
        sed 's/^/#   /' "$log_dir/pg.err" | tail -15
        failed=$((failed + 1)) failures+=("postgresql")
    fi
fi

# unit NAME OUT BINARY: runs one cmocka binary and counts it.
unit() {
    local name=$1 out=$2 status start=$SECONDS
    shift 2
    CMOCKA_MESSAGE_OUTPUT=TAP "$@" >"$out" 2>&1
    status=$?
    grep -E '^not ok|^#' "$out" | grep -vE '# SKIP|^# ok' | head -40
    # A crash or sanitizer report says more than the TAP lines do.
    [ "$status" -ne 0 ] && ! grep -q '^not ok' "$out" && tail -15 "$out" | sed 's/^/#   /'
    count "$out" "$name" "$status" $((SECONDS - start))
}

for build in "$@"; do
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    for t in "$build"/tests/test_*; do
        [ -x "$t" ] || continue
        name="$build/$(basename "$t")"
        unit "$name" "$log_dir/$(echo "$name" | tr / _).log" "$t"
        if [ -n "$pg_base" ] && [[ " $PG_UNIT_TESTS " == *" $(basename "$t") "* ]]; then
            unit "$name[postgresql]" \
                "$log_dir/$(echo "$name" | tr / _)-pg.log" env CUTOFF_TEST_PG="$pg_base" "$t"
        fi
    done
    for s in tests/integration/*.sh; do
        [ -f "$s" ] && [[ "$(basename "$s")" != lib*.sh ]] || continue
        name="$build/$(basename "$s" .sh)"
        out="$log_dir/$(echo "$name" | tr / _).log"
        start=$SECONDS
        CUTOFF_BUILD="$build" bash "$s" >"$out" 2>&1
        status=$?
        grep -E '^not ok|^#' "$out" | head -40
        count "$out" "$name" "$status" $((SECONDS - start))
    done
done

[ ${#failures[@]} -gt 0 ] && echo "failing: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
