#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cutoffd signs the audit heads: its signing key is created mode 0600 on
# first start (and its public key logged), an unsafe key file stops the
# start with one line; a change through the admin API signs its head in
# its transaction, a change by the CLI without a key gets a head when the
# watcher sees it, and with a 1 s interval heads appear with nothing
# changing. GET /v1/audit/head is the publishable document, and the log
# verifies with the logged public key against it.
source "$(dirname "$0")/lib.sh"

CUTOFFD="$ROOT/$CUTOFF_BUILD/cutoffd"
CASE="$ROOT/examples/reference-case"
[ -x "$CUTOFFD" ] || { not_ok "cutoffd is built" "missing: $CUTOFFD"; finish; exit 1; }
for tool in curl jq sqlite3 sha256sum; do
    command -v "$tool" >/dev/null || { not_ok "$tool is installed" "needed by this test"; finish; exit 1; }
done

CUTOFFD_PID=
cleanup() {
    [ -n "$CUTOFFD_PID" ] && kill "$CUTOFFD_PID" 2>/dev/null && wait "$CUTOFFD_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK" || exit 1
export CUTOFF_ACTOR=alice

TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf 'sha256:%s root admin\n' "$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)" >tokens
chmod 600 tokens
"$CUTOFF" init >/dev/null
"$CUTOFF" catalog load "$CASE/catalog.json" >/dev/null
"$CUTOFF" nodes import "$CASE/nodes.jsonl" >/dev/null 2>&1
jq -n --arg db "$CUTOFF_DB" '{database: $db, decision_listen: "127.0.0.1:0",
    admin_listen: "127.0.0.1:0", tokens_file: "tokens", log_file: "cutoffd.log",
    sign_interval_s: 1}' >cutoffd.json

start() {
    rm -f ports
    "$CUTOFFD" --config cutoffd.json --port-file ports 2>>cutoffd.err &
    CUTOFFD_PID=$!
    for _ in $(seq 200); do
        [ -s ports ] && break
        kill -0 "$CUTOFFD_PID" 2>/dev/null || break
        sleep 0.05
    done
    [ -s ports ] || return 1
    read -r _ ADM_PORT <ports
    ADM="http://127.0.0.1:$ADM_PORT"
}
stop() { kill "$CUTOFFD_PID" && wait "$CUTOFFD_PID"; CUTOFFD_PID=; }
heads() { sqlite3 "$CUTOFF_DB" 'SELECT count(*) FROM heads'; }
newest_head_seq() { sqlite3 "$CUTOFF_DB" 'SELECT seq FROM heads ORDER BY n DESC LIMIT 1'; }
records() { sqlite3 "$CUTOFF_DB" 'SELECT count(*) FROM audit'; }
# wait_for WHAT COMMAND...: up to 5 s for COMMAND to succeed.
wait_for() {
    local what=$1; shift
    for _ in $(seq 100); do "$@" && { ok "$what"; return; }; sleep 0.05; done
    not_ok "$what" "not within 5 s"
}

# ---- the key ---------------------------------------------------------------------
if start; then ok "cutoffd starts"; else not_ok "cutoffd starts" "$(cat cutoffd.err)"; fi
expect_eq "the key is created next to the database, mode 600" 600 "$(stat -c %a cutoff.key)"
PUB=$(jq -r 'select(.event == "signing_key") | .public_key' cutoffd.log | head -1)
expect_match "its public key is logged" '^ed25519:' "$PUB"
expect_match "its creation is logged" '"signing_key_created"' "$(cat cutoffd.log)"
expect_eq "it is the key in the file" "$PUB" "$("$CUTOFF" key show --key cutoff.key)"
printf '%s\n' "$PUB" >daemon.pub
expect_eq "the changes made before it started are signed at start" "$(records)" "$(newest_head_seq)"

# ---- a change through the admin API --------------------------------------------------
before=$(heads)
code=$(curl -s -o body -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' \
    --data-binary '{"id":"C1","title":"t","scope":["unit-8200"]}' "$ADM/v1/cases")
expect_eq "a case opened through the admin API" 200 "$code"
seq_now=$(records)
expect_eq "its head names its record" "$seq_now" "$(newest_head_seq)"

# ---- a change by the CLI without a key -------------------------------------------------
"$CUTOFF" case open --id C2 --title t --scope unit-8200 >/dev/null
seq_cli=$(records)
signed_cli() { [ "$(newest_head_seq)" = "$seq_cli" ]; }
wait_for "a CLI change without a key gets a head from cutoffd" signed_cli

# ---- the interval ----------------------------------------------------------------------
n1=$(heads)
more_heads() { [ "$(heads)" -ge $((n1 + 2)) ]; }
wait_for "with sign_interval_s 1, heads appear with nothing changing" more_heads

# ---- publish and verify ----------------------------------------------------------------
code=$(curl -s -o head.json -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$ADM/v1/audit/head")
expect_eq "GET /v1/audit/head" 200 "$code"
expect_match "is the publishable document" '^\{"statement":.*"signature":' "$(cat head.json)"
expect_ok "the log verifies with the logged key against it" \
    audit verify --pubkey daemon.pub --head head.json
expect_match "and says so" 'audit log verifies' "$OUT"
stop

# ---- an unsafe key file ---------------------------------------------------------------
chmod 644 cutoff.key
OUT=$(timeout 5 "$CUTOFFD" --config cutoffd.json 2>&1)
STATUS=$?
expect_eq "a key file others may read: exit 1" 1 "$STATUS"
expect_match "says why, on one line" '^cutoffd: signing_key .*chmod 600' "$OUT"
expect_eq "(one line)" 1 "$(printf '%s\n' "$OUT" | wc -l)"
finish
