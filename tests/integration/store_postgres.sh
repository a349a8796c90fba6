#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The PostgreSQL store against a real server (tests/support/pg.sh starts
# one on 127.0.0.1 for this script): the reference case decides exactly as
# on SQLite and its signatures verify; parallel writers keep the audit
# chain and the change sequence linear; another program's table stops init
# before anything is written; the append-only tables refuse UPDATE, DELETE
# and TRUNCATE; an unreachable server is a quick one-line error; a
# password in the location never shows; change_wait wakes on a commit,
# times out, fails when the server goes and works again after a restart.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/support/pg.sh"
trap 'pg_stop; rm -rf "$WORK"' EXIT
PROBE_BIN="$ROOT/$CUTOFF_BUILD/tools/store_probe"
REF="$ROOT/examples/reference-case"

if ! pg_start "$WORK/pg"; then
    not_ok "the test server starts"
    finish
    exit 1
fi
ok "the test server starts on 127.0.0.1:$PG_PORT"

# new_db NAME: an empty database on the test server; prints its URI.
new_db() {
    PG_DATABASE_NAME=postgres pg_psql "CREATE DATABASE $1" >/dev/null
    echo "postgresql://postgres@127.0.0.1:$PG_PORT/$1"
}

# ---- the reference case, on both stores --------------------------------------
# What differs between two runs by design: the temporary paths, the
# database named, the key made for the run, the times and the hashes over
# them.
normalise() {
    sed -E -e 's#/tmp/cutoff-reference\.[A-Za-z0-9]+#WORK#g' \
        -e 's#^(database: |    initialised ).*#\1DB#' \
        -e 's#ed25519:[A-Za-z0-9+/=]+#KEY#g' \
        -e 's#[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z#TIME#g' \
        -e 's#[0-9a-f]{64}#HASH#g' -e 's#[A-Za-z0-9+/]{80,}={0,2}#SIG#g'
}
sq_out=$(bash "$REF/run.sh" "$CUTOFF" 2>&1); sq_status=$?
pg_out=$(REFERENCE_DB=$PG_URI bash "$REF/run.sh" "$CUTOFF" 2>&1); pg_status=$?
expect_eq "the reference case runs on PostgreSQL" "0 0" "$sq_status $pg_status"
if [ "$(normalise <<<"$sq_out")" == "$(normalise <<<"$pg_out")" ]; then
    ok "it prints exactly what it prints on SQLite (decisions, preview, lists)"
else
    not_ok "it prints exactly what it prints on SQLite" \
        "$(diff <(normalise <<<"$sq_out") <(normalise <<<"$pg_out") | head -20)"
fi
expect_match "the decisions of unit-8200 are there" \
    '^ +sub-8200-storage +storage.write +eu-netherlands +allow +deny read_only EA-1 +deny suspended EA-1' \
    "$pg_out"
expect_match "the signed heads verify with the public key" \
    '^    audit log verifies: [0-9]+ records, [0-9]+ signed heads by ed25519:' "$pg_out"
expect_match "the notice verifies" '^    notice EA-1 version 1 verifies: signed by ed25519:' "$pg_out"
expect_eq "every change is in the change log, gap-free" \
    "$(pg_psql 'SELECT count(*), min(seq) FROM changes')" \
    "$(pg_psql 'SELECT max(seq), 1 FROM changes')"

# ---- append-only tables --------------------------------------------------------
for sql in "UPDATE audit SET actor = 'eve'" "DELETE FROM audit" "TRUNCATE audit" \
    "TRUNCATE changes" "DELETE FROM heads" "UPDATE notices SET body = 'x'"; do
    err=$(pg_psql "$sql" 2>&1 >/dev/null); st=$?
    if [ "$st" -ne 0 ] && grep -qE 'append-only|never changed' <<<"$err"; then ok "refused: $sql"
    else not_ok "refused: $sql" "status $st" "$err"; fi
done
run_cutoff --db "$PG_URI" audit verify
expect_eq "the audit log still verifies" 0 "$STATUS"

# ---- parallel writers ------------------------------------------------------------
par=$(new_db par)
run_cutoff --db "$par" init
expect_eq "init a second database" 0 "$STATUS"
"$CUTOFF" --db "$par" --actor op catalog load "$REF/catalog.json" >/dev/null &&
    "$CUTOFF" --db "$par" --actor op nodes import "$REF/nodes.jsonl" >/dev/null
expect_eq "catalog and nodes load" 0 "$?"
writers=4 cases=8 pids=()
for w in $(seq 1 $writers); do
    (for i in $(seq 1 $cases); do
        "$CUTOFF" --db "$par" --actor "w$w" case open --id "CASE-$w-$i" --scope unit-8200 \
            --title "writer $w case $i" >/dev/null || echo "writer $w case $i failed" >&2
    done) 2>>"$WORK/writers.err" &
    pids+=($!)
done
# (a bare wait would wait for the server too)
wait "${pids[@]}"
expect_eq "$writers writers x $cases cases all commit" "" "$(cat "$WORK/writers.err")"
want=$((2 + writers * cases))
expect_eq "the audit log is one chain of $want records, no gap" "$want|1|$want" \
    "$(PG_DATABASE_NAME=par pg_psql 'SELECT count(*), min(seq), max(seq) FROM audit')"
expect_eq "the change sequence has no gap" "$want|1|$want" \
    "$(PG_DATABASE_NAME=par pg_psql 'SELECT count(*), min(seq), max(seq) FROM changes')"
run_cutoff --db "$par" audit verify
expect_match "and it verifies" "audit log verifies: $want records" "$OUT"

# ---- another program's database -----------------------------------------------------
other=$(new_db other)
PG_DATABASE_NAME=other pg_psql 'CREATE TABLE invoices(id int PRIMARY KEY)' >/dev/null
before=$(PG_DATABASE_NAME=other pg_psql "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace")
expect_fail 1 "init refuses a database holding another program's table" --db "$other" init
expect_match "naming it" 'table "invoices", which is not cutoff'"'"'s' "$ERR"
expect_eq "and writes nothing" "$before" \
    "$(PG_DATABASE_NAME=other pg_psql "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace")"

# ---- an unreachable server -----------------------------------------------------------
closed=$(_pg_free_port)
start=$(date +%s%N)
expect_fail 1 "an unreachable server is an error" \
    --db "postgresql://postgres@127.0.0.1:$closed/cutoff" nodes show unit-8200
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "said on one line" 1 "$(printf '%s\n' "$ERR" | wc -l)"
expect_match "that says it cannot connect" '^cutoff: cannot connect to database "postgresql://postgres@127.0.0.1:[0-9]+/cutoff": ' "$ERR"
if [ "$ms" -lt 3000 ]; then ok "at once (${ms} ms)"; else not_ok "at once" "took ${ms} ms"; fi
# A host that never answers: the connect timeout bounds the wait.
start=$(date +%s%N)
run_cutoff --db "postgresql://postgres@10.255.255.1:5432/cutoff?connect_timeout=2" nodes show x
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ "$STATUS" -ne 0 ] && [ "$ms" -lt 8000 ]; then ok "a silent host fails within the timeout (${ms} ms)"
else not_ok "a silent host fails within the timeout" "status $STATUS after ${ms} ms" "$ERR"; fi

# ---- a password never shows ----------------------------------------------------------
secret='Pw-9fZ2kq7'
new_db withpw >/dev/null
pw_uri="postgresql://postgres:$secret@127.0.0.1:$PG_PORT/withpw?password=$secret&application_name=t"
{
    "$CUTOFF" --db "$pw_uri" init
    "$CUTOFF" --db "$pw_uri" --json init
    "$CUTOFF" --db "$pw_uri" --actor op catalog load "$REF/catalog.json"
    "$CUTOFF" --db "$pw_uri" --actor op nodes import "$REF/nodes.jsonl"
    "$CUTOFF" --db "$pw_uri" nodes show nowhere
    "$CUTOFF" --db "$pw_uri" audit list
    "$CUTOFF" --db "$pw_uri" --json audit list
    "$CUTOFF" --db "$pw_uri" audit verify
    "$CUTOFF" --db "postgresql://postgres:$secret@127.0.0.1:$closed/withpw" nodes show x
    "$CUTOFF" --db "postgresql://postgres:$secret%zz@127.0.0.1:$PG_PORT/withpw" nodes show x
    "$CUTOFF" --db "postgresql://postgres@127.0.0.1:$PG_PORT/nosuchdb?password=$secret" nodes show x
} >"$WORK/pw.out" 2>&1
expect_match "the commands ran" 'initialised postgresql://postgres@127.0.0.1:[0-9]+/withpw\?application_name=t' \
    "$(cat "$WORK/pw.out")"
expect_eq "no output or error shows the password" "" "$(grep -F -- "$secret" "$WORK/pw.out")"
expect_eq "nor the audit log" 0 \
    "$(PG_DATABASE_NAME=withpw pg_psql "SELECT count(*) FROM audit WHERE payload || actor || object LIKE '%$secret%'")"
# cutoffd logs the location it serves.
cat >"$WORK/cutoffd.json" <<EOF
{"database": "$pw_uri", "decision_listen": "127.0.0.1:0", "admin_listen": "127.0.0.1:0",
 "signing_key": "$WORK/daemon.key"}
EOF
"$ROOT/$CUTOFF_BUILD/cutoffd" --config "$WORK/cutoffd.json" --port-file "$WORK/ports" \
    >"$WORK/cutoffd.log" 2>&1 &
dpid=$!
for _ in $(seq 1 100); do [ -s "$WORK/ports" ] && break; sleep 0.05; done
kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null
expect_match "cutoffd logs the database it serves" '"database": ?"postgresql://postgres@127' \
    "$(cat "$WORK/cutoffd.log")"
expect_eq "without the password" "" "$(grep -F -- "$secret" "$WORK/cutoffd.log")"

# ---- change_wait: LISTEN/NOTIFY ------------------------------------------------------
coproc PROBE { "$PROBE_BIN" "$PG_URI" 2>&1; }
ask() {
    echo "$1" >&"${PROBE[1]}"
    local line=
    read -r -t 30 line <&"${PROBE[0]}"
    echo "$line"
}
probe_change() { echo change | "$PROBE_BIN" "$PG_URI"; }
r=$(ask "wait 5000")
read -r _ rc ms <<<"$r"
# a commit made before the LISTEN was heard by nobody: "woken", at once
if [ "$rc" = 1 ] && [ "$ms" -lt 1000 ]; then ok "the first change_wait starts listening and returns 1 at once (${ms} ms)"
else not_ok "the first change_wait returns 1 at once" "$r"; fi
r=$(ask "wait 300")
expect_match "change_wait times out with 0 when nothing commits" '^wait 0 (2[89][0-9]|3[0-9][0-9])$' "$r"
(sleep 0.5; probe_change >/dev/null) &
bg=$!
r=$(ask "wait 10000")
wait "$bg"
read -r _ rc ms <<<"$r"
if [ "$rc" = 1 ] && [ "$ms" -lt 3000 ]; then ok "change_wait returns 1 soon after another connection commits a change (${ms} ms)"
else not_ok "change_wait wakes on a commit" "$r"; fi
(sleep 0.3; "$CUTOFF" --db "$PG_URI" --actor op case open --id CASE-W --scope unit-8200 --title wake >/dev/null) &
bg=$!
r=$(ask "wait 10000")
wait "$bg"
expect_match "a CLI change wakes it too" '^wait 1 ' "$r"
last_before=$(ask "last")
expect_match "the probe's own connection reads the change log" '^last 0 [0-9]+$' "$last_before"
pg_stop
r=$(ask "wait 5000")
read -r _ rc ms _ <<<"$r"
if [ "${rc:-0}" -lt 0 ] 2>/dev/null && [ "$ms" -lt 4000 ]; then ok "change_wait fails (negative) when the server stops ($r)"
else not_ok "change_wait fails when the server stops" "$r"; fi
expect_match "a read on the lost connection is an error naming why" '^last -[0-9]+ 0 .+' "$(ask last)"
if pg_restart; then ok "the same cluster restarts on port $PG_PORT"; else not_ok "the cluster restarts"; fi
expect_eq "the main connection works again after the restart" "$last_before" "$(ask last)"
r=$(ask "wait 5000")
read -r _ rc ms <<<"$r"
if [ "$rc" = 1 ] && [ "$ms" -lt 1000 ]; then ok "change_wait listens again: woken at once, as notifications sent meanwhile were lost"
else not_ok "change_wait listens again and returns 1 at once" "$r"; fi
r=$(ask "wait 200")
expect_match "then times out" '^wait 0 ' "$r"
(sleep 0.3; probe_change >/dev/null) &
bg=$!
r=$(ask "wait 10000")
wait "$bg"
expect_match "and wakes on the next commit" '^wait 1 ' "$r"
expect_match "whose change the main connection sees" "^last 0 $(( ${last_before##* } + 1 ))\$" "$(ask last)"
exec {PROBE[1]}>&-
wait "$PROBE_PID" 2>/dev/null
finish
