#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A fleet through a failover of its PostgreSQL to a standby, with the
# worst timing: the standby never received the last commit (a node import
# every node already enforces), the primary dies, the standby is promoted
# and its next change reuses that commit's sequence number, so a node that
# only compared sequence numbers would keep a tree the store no longer
# has. Every node reaches the promoted server through a multi-host
# location (target_session_attrs=read-write), keeps deciding while no
# server takes writes, and once it is back must enforce exactly the
# promoted server's state: the lost subscription is unknown again, every
# node is at the new head with one digest, and the audit log of the
# promoted server verifies. docs/fleet.md says why synchronous replication
# avoids losing the commit in the first place.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$ROOT/tests/support/pg.sh"
export LC_ALL=C
CUTOFFD="$ROOT/$CUTOFF_BUILD/cutoffd"
CASE="$ROOT/examples/reference-case"
unset CUTOFF_ACTOR CUTOFF_KEY_FILE

declare -A PID DEC
STANDBY_PID=
cleanup() {
    for n in "${!PID[@]}"; do
        kill -CONT "${PID[$n]}" 2>/dev/null
        kill "${PID[$n]}" 2>/dev/null && wait "${PID[$n]}" 2>/dev/null
    done
    pg_stop
    PG_PID=$STANDBY_PID pg_stop
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---- a primary and a streaming standby ---------------------------------------------
pg_start "$WORK/primary" || { not_ok "the primary starts"; finish; exit 1; }
PRIMARY_PORT=$PG_PORT PRIMARY_PID=$PG_PID PRIMARY_DIR=$PG_DIR
mkdir -p "$WORK/standby"
[ "$(id -u)" -eq 0 ] && chown postgres: "$WORK/standby"
if _pg_as_owner "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres \
    -D "$WORK/standby/data" -R -X stream --checkpoint=fast --no-sync >"$WORK/basebackup.log" 2>&1; then
    ok "a standby is copied from the primary (pg_basebackup -R)"
else
    not_ok "a standby is copied from the primary" "$(tail -3 "$WORK/basebackup.log")"; finish; exit 1
fi
# _pg_run starts the cluster of PG_DIR on PG_PORT and sets PG_PID.
PG_DIR=$WORK/standby PG_SOCKET_DIR=$WORK/standby
PG_PORT=$(_pg_free_port)
if _pg_run; then ok "the standby streams on port $PG_PORT"
else not_ok "the standby starts" "$(tail -5 "$WORK/standby/postgres.log")"; finish; exit 1; fi
STANDBY_PORT=$PG_PORT STANDBY_PID=$PG_PID
PG_PORT=$PRIMARY_PORT PG_PID=$PRIMARY_PID PG_DIR=$PRIMARY_DIR PG_SOCKET_DIR=$PRIMARY_DIR
standby_psql() { PG_PORT=$STANDBY_PORT PG_SOCKET_DIR=$WORK/standby pg_psql "$@"; }

URI="postgresql://postgres@127.0.0.1:$PRIMARY_PORT,127.0.0.1:$STANDBY_PORT/cutoff?target_session_attrs=read-write"
export CUTOFF_DB=$URI
run_cutoff init &&
    run_cutoff --actor alice catalog load "$CASE/catalog.json" &&
    run_cutoff --actor alice nodes import "$CASE/nodes.jsonl" &&
    run_cutoff --actor alice case open --id CASE-7 --title "Reported surveillance" --scope unit-8200 &&
    run_cutoff --actor alice action propose "$CASE/action.json"
expect_eq "the reference case is set up through the multi-host location" 0 "$STATUS"

# ---- three nodes ----------------------------------------------------------------------
"$CUTOFF" token create --principal bob --roles approver --tokens-file "$WORK/tokens" >/dev/null 2>&1
start_node() {
    local name=$1
    jq -n --arg db "$URI" --arg log "$WORK/$name.log" --arg id "node-$name" \
        --arg key "$WORK/fleet.key" --arg tokens "$WORK/tokens" '{database: $db,
        decision_listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", tokens_file: $tokens,
        log_file: $log, node_id: $id, heartbeat_s: 1, safety_interval_ms: 1000,
        sign_interval_s: 0, signing_key: $key}' >"$WORK/$name.json"
    "$CUTOFFD" --config "$WORK/$name.json" --port-file "$WORK/$name.ports" 2>"$WORK/$name.err" &
    PID[$name]=$!
    for _ in $(seq 200); do
        [ -s "$WORK/$name.ports" ] && break
        kill -0 "${PID[$name]}" 2>/dev/null || return 1
        sleep 0.05
    done
    local d
    read -r d _ <"$WORK/$name.ports" || return 1
    DEC[$name]="http://127.0.0.1:$d"
}
# decide NODE [REQUEST]: "decision/reason" of NODE's /v1/check.
decide() {
    curl -s -m 2 -X POST "${DEC[$1]}/v1/check" -H 'Content-Type: application/json' \
        --data-binary "${2:-$WRITE}" | jq -r '(.decision // .code) + "/" + (.reason // "")' 2>/dev/null
}
# wait_all REGEX SECONDS [REQUEST]: until every node's answer matches.
wait_all() {
    local n
    for _ in $(seq $(($2 * 20))); do
        for n in a b c; do [[ $(decide "$n" "${3:-$WRITE}") =~ $1 ]] || continue 2; done
        return 0
    done
    return 1
}
WRITE='{"subscription":"sub-8200-storage","action":"storage.write","region":"eu-netherlands"}'
LOST='{"subscription":"sub-8200-lost","action":"storage.write","region":"eu-netherlands"}'
for n in a b c; do
    start_node "$n" || { not_ok "node $n starts" "$(tail -3 "$WORK/$n.err")"; finish; exit 1; }
done
wait_all '^allow/' 10 && ok "three nodes decide from the primary" || not_ok "three nodes decide from the primary"

run_cutoff --actor bob action approve EA-1
expect_eq "bob approves EA-1" 0 "$STATUS"
wait_all '^deny/read_only$' 10 && ok "every node enforces the approval" || not_ok "every node enforces the approval"

# ---- the standby stops receiving; a node import lands only on the primary ------------------
for _ in $(seq 100); do
    [ "$(pg_psql "SELECT count(*) FROM pg_stat_replication WHERE replay_lsn = pg_current_wal_lsn()")" = 1 ] && break
    sleep 0.1
done
expect_eq "the standby has replayed everything so far" 1 \
    "$(pg_psql "SELECT count(*) FROM pg_stat_replication WHERE replay_lsn = pg_current_wal_lsn()")"
standby_psql "ALTER SYSTEM SET primary_conninfo = ''" && standby_psql "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 100); do
    [ "$(pg_psql 'SELECT count(*) FROM pg_stat_replication')" = 0 ] && break
    sleep 0.1
done
expect_eq "the standby no longer receives" 0 "$(pg_psql 'SELECT count(*) FROM pg_stat_replication')"
echo '{"id":"sub-8200-lost","kind":"subscription","parent":"unit-8200","name":"lost"}' >"$WORK/lost.jsonl"
run_cutoff --actor alice nodes import "$WORK/lost.jsonl"
expect_eq "a subscription is imported on the primary" 0 "$STATUS"
LOST_SEQ=$(pg_psql 'SELECT max(seq) FROM changes')
wait_all '^deny/read_only$' 10 "$LOST" && ok "every node enforces EA-1 on it (change $LOST_SEQ)" \
    || not_ok "every node enforces EA-1 on the new subscription" "a: $(decide a "$LOST")"

# ---- the failover: nodes frozen, primary killed, standby promoted, seq reused --------------
for n in a b c; do kill -STOP "${PID[$n]}"; done
kill -KILL "$PRIMARY_PID"; wait "$PRIMARY_PID" 2>/dev/null; PG_PID=
standby_psql "SELECT pg_promote(true, 30)" >/dev/null
expect_eq "the standby is promoted" f "$(standby_psql 'SELECT pg_is_in_recovery()')"
run_cutoff --actor alice case open --id CASE-8 --title "Another review" --scope unit-8200
expect_eq "a change is made on the promoted server" 0 "$STATUS"
expect_eq "which gets the lost commit's sequence number" "$LOST_SEQ" \
    "$(standby_psql 'SELECT max(seq) FROM changes')"
expect_eq "the promoted server does not know the subscription" unknown_subscription \
    "$("$CUTOFF" check sub-8200-lost storage.write --region eu-netherlands --json 2>/dev/null | jq -r .reason)"
for n in a b c; do kill -CONT "${PID[$n]}"; done

# ---- the nodes find the promoted server and enforce its state -----------------------------
if wait_all '^deny/unknown_subscription$' 30 "$LOST"; then
    ok "every node enforces the promoted server's tree (the lost subscription is unknown)"
else
    not_ok "every node enforces the promoted server's tree" "a: $(decide a "$LOST")" \
        "b: $(decide b "$LOST")" "c: $(decide c "$LOST")"
fi
wait_all '^deny/read_only$' 5 && ok "and EA-1, approved before the failover, on the unit" \
    || not_ok "and EA-1 on the unit" "a: $(decide a)"
for n in a b c; do
    grep -q '"event":"store_up"' "$WORK/$n.log" && ok "node $n logged store_up" || not_ok "node $n logged store_up"
done
head=$(standby_psql 'SELECT max(seq) FROM changes')
for _ in $(seq 60); do
    "$CUTOFF" fleet status --json >"$WORK/fleet" 2>/dev/null && break
    sleep 0.1
done
expect_eq "fleet status: every node at the promoted server's head" "$head $head $head" \
    "$(jq -r '[.nodes[] | select(.status == "ok") | .seq] | map(tostring) | join(" ")' "$WORK/fleet")"
expect_eq "with one digest" 1 "$(jq '[.nodes[] | select(.status == "ok") | .digest] | unique | length' "$WORK/fleet")"
expect_ok "the promoted server's audit log verifies" audit verify
run_cutoff --actor bob action lift EA-1 --reason "review closed"
expect_eq "EA-1 is lifted on the promoted server" 0 "$STATUS"
wait_all '^allow/' 10 && ok "and every node allows the unit's writes" || not_ok "every node allows after the lift" "a: $(decide a)"
for n in a b c; do
    if grep -qE 'Sanitizer|runtime error' "$WORK/$n.err"; then
        not_ok "node $n ran without a sanitizer report" "$(grep -m3 -E 'Sanitizer|runtime error' "$WORK/$n.err")"
    fi
done
finish
