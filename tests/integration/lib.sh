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
trap 'rm -rf "$WORK"' EXIT
export CUTOFF_DB="$WORK/cutoff.db"
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
