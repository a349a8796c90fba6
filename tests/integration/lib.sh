# SPDX-License-Identifier: Apache-2.0
# Helpers for integration tests written in bash. Each check prints a TAP
# line ("ok N - what" / "not ok N - what") that tests/run.sh counts.
#
#   source "$(dirname "$0")/lib.sh"
#   expect_ok   "init works"            cutoff init
#   expect_fail 2 "usage error"         cutoff bogus
#   expect_eq   "prints the id" EA-1    "$(cutoff action propose a.json)"
#   expect_match "says why" 'line 3'    "$stderr_text"
#   finish
set -u
# Files the tests write (tokens files) must not be writable by others:
# cutoffd refuses such a tokens file.
umask 022
CUTOFF_BUILD=${CUTOFF_BUILD:-build}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CUTOFF="$ROOT/$CUTOFF_BUILD/cutoff"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cutoff-it.XXXXXX")
# lib_cleanup: what the EXIT trap does; a script with a trap of its own
# calls it last.
lib_cleanup() {
    [ -z "${PG_PID:-}" ] || pg_stop
    rm -rf "$WORK"
}
trap lib_cleanup EXIT
# The store the CLI and cutoffd use: an SQLite file in WORK, or with
# CUTOFF_TEST_STORE=postgresql a database on a PostgreSQL 15 started for
# this script (tests/support/pg.sh), so that one test runs on both
# backends (the *_postgres.sh scripts). new_store NAME prints the location
# of another fresh, empty store.
if [ "${CUTOFF_TEST_STORE:-sqlite}" = postgresql ]; then
    source "$ROOT/tests/support/pg.sh"
    if ! pg_start "$WORK/pg" >"$WORK/pg.start" 2>&1; then
        echo "not ok 1 - the test PostgreSQL starts"
        sed 's/^/#   /' "$WORK/pg.start"
        echo "1..1"
        exit 1
    fi
    export CUTOFF_DB=$PG_URI
    new_store() {
        PG_DATABASE_NAME=postgres pg_psql "CREATE DATABASE \"$1\"" >/dev/null &&
            echo "postgresql://postgres@127.0.0.1:$PG_PORT/$1"
    }
else
    export CUTOFF_DB="$WORK/cutoff.db"
    new_store() { echo "$WORK/$1.db"; }
fi
# A server or token in the caller's environment would send the CLI elsewhere.
unset CUTOFF_SERVER CUTOFF_TOKEN CUTOFF_TOKEN_FILE
_n=0 _bad=0
# Output of the last run_cutoff: $OUT, $ERR, $STATUS.
OUT= ERR= STATUS=0

ok()     { _n=$((_n + 1)); echo "ok $_n - $1"; }
not_ok() { _n=$((_n + 1)); _bad=$((_bad + 1)); echo "not ok $_n - $1"; shift; for l in "$@"; do echo "#   $l"; done; }

# run_cutoff ARGS...: runs the CLI, capturing stdout, stderr and status.
run_cutoff() {
    OUT=$("$CUTOFF" "$@" 2>"$WORK/.stderr"); STATUS=$?
    ERR=$(cat "$WORK/.stderr")
}

expect_ok() {
    local what=$1; shift
    run_cutoff "$@"
    if [ "$STATUS" -eq 0 ]; then ok "$what"; else not_ok "$what" "exit $STATUS" "stderr: $ERR"; fi
}

# expect_fail STATUS WHAT ARGS...: the CLI must exit with STATUS and say why
# on one line of stderr.
expect_fail() {
    local want=$1 what=$2; shift 2
    run_cutoff "$@"
    if [ "$STATUS" -eq "$want" ] && [ -n "$ERR" ]; then ok "$what"
    else not_ok "$what" "wanted exit $want with a message, got $STATUS" "stderr: $ERR" "stdout: $OUT"; fi
}

expect_eq() {
    if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1" "wanted: $2" "got:    $3"; fi
}

expect_match() {
    if printf '%s' "$3" | grep -qE -- "$2"; then ok "$1"; else not_ok "$1" "wanted /$2/ in:" "$3"; fi
}

finish() {
    echo "1..$_n"
    [ "$_bad" -eq 0 ]
}
