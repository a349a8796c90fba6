#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A fleet: several cutoffd on one shared store, each with its own ports and
# node_id, enforce the same state and prove it through their receipts.
# An approval made through node A's admin API and a lift made with the CLI
# are enforced by every node (each decision listener is asked); 'cutoff
# fleet status' shows it; --wait-enforced succeeds while all nodes are up
# and names the node that is SIGSTOPped; a killed node leaves the others
# deciding and goes silent; a node started later catches up; a node that
# never gets a wake-up (CUTOFF_NO_WAKEUP) still applies changes by
# its safety interval; while the store is unreachable the nodes keep
# deciding from their last snapshot (degraded, /readyz 503 with the
# reason) except one past max_staleness_s, which answers 503; once the
# store is back they catch up. The time from a CLI change's exit to every
# node deciding it is measured and printed.
#
# The store is set up only through store_init, store_uri, store_kill and
# store_restart, so that another store (PostgreSQL, tests/support/pg.sh)
# can replace the SQLite ones below. Everything listens on 127.0.0.1 on
# ports the nodes pick (read back from --port-file).
source "$(dirname "$0")/lib.sh"
export LC_ALL=C

CUTOFFD="$ROOT/$CUTOFF_BUILD/cutoffd"
CASE="$ROOT/examples/reference-case"
for need in "$CUTOFFD:cutoffd" "$CUTOFF:cutoff"; do
    [ -x "${need%%:*}" ] || { not_ok "${need#*:} is built" "missing: ${need%%:*}"; finish; exit 1; }
done
for tool in curl jq; do
    command -v "$tool" >/dev/null || { not_ok "$tool is installed" "needed by this test"; finish; exit 1; }
done
unset CUTOFF_ACTOR CUTOFF_KEY_FILE

# ---- the store (SQLite: one file on this machine) ---------------------------------------
# store_init: an empty store; store_uri: what --db and "database" name;
# store_kill: make it unreachable as a whole (SQLite: its directory moves
# away, as when a volume is unmounted); store_restart: bring it back;
# store_write_locked: true while some process holds the store's write lock.
# A script that sourced this one may have defined them for another store
# (fleet_postgres.sh), with STORE_KIND naming it and NODE_CONFIG holding
# what every node's configuration needs for it.
if ! declare -F store_init >/dev/null; then
    STORE_KIND=SQLite
    STORE_DIR="$WORK/store"
    store_init() { mkdir -p "$STORE_DIR"; }
    store_uri() { printf '%s' "$STORE_DIR/cutoff.db"; }
    store_kill() { mv "$STORE_DIR" "$STORE_DIR.down"; }
    store_restart() { mv "$STORE_DIR.down" "$STORE_DIR"; }
    # SQLite has one lock for the whole file: a node frozen inside a write
    # (its receipt) holds up every writer until it runs again (docs/fleet.md).
    store_write_locked() {
        ! sqlite3 -cmd '.timeout 20' "$(store_uri)" 'BEGIN IMMEDIATE; ROLLBACK;' >/dev/null 2>&1
    }
fi
NODE_CONFIG=${NODE_CONFIG:-'{}'}

# ---- nodes ---------------------------------------------------------------------------------
declare -A PID DEC ADM
cleanup() {
    for n in "${!PID[@]}"; do
        kill -CONT "${PID[$n]}" 2>/dev/null
        kill "${PID[$n]}" 2>/dev/null && wait "${PID[$n]}" 2>/dev/null
    done
    if declare -F store_stop >/dev/null; then store_stop; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# start_node NAME [EXTRA_CONFIG_JSON [ENV=VALUE...]]: starts cutoffd as node NAME
# (node_id "node-NAME"); returns once it wrote its ports, 1 if it exited.
start_node() {
    local name=$1 extra=${2:-'{}'}
    shift 2 2>/dev/null || shift
    jq -n --arg db "$(store_uri)" --arg tokens "$WORK/tokens" --arg log "$WORK/$name.log" \
        --arg id "node-$name" --argjson store "$NODE_CONFIG" --argjson extra "$extra" '{
        database: $db, decision_listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0",
        tokens_file: $tokens, log_file: $log, node_id: $id, heartbeat_s: 1,
        safety_interval_ms: 1000, sign_interval_s: 0} + $store + $extra' >"$WORK/$name.json"
    rm -f "$WORK/$name.ports"
    env "$@" "$CUTOFFD" --config "$WORK/$name.json" --port-file "$WORK/$name.ports" \
        2>"$WORK/$name.err" &
    PID[$name]=$!
    for _ in $(seq 200); do
        [ -s "$WORK/$name.ports" ] && break
        kill -0 "${PID[$name]}" 2>/dev/null || return 1
        sleep 0.05
    done
    [ -s "$WORK/$name.ports" ] || return 1
    local d a
    read -r d a <"$WORK/$name.ports"
    DEC[$name]="http://127.0.0.1:$d" ADM[$name]="http://127.0.0.1:$a"
}

# decide NAME JSON: "STATUS decision/reason" from node NAME's /v1/check.
decide() {
    local out code
    out=$(curl -s -m 2 -w '\n%{http_code}' -X POST "${DEC[$1]}/v1/check" \
        -H 'Content-Type: application/json' --data-binary "$2")
    code=${out##*$'\n'}
    printf '%s %s\n' "$code" "$(printf '%s' "${out%$'\n'*}" | jq -r '(.decision // .code) + "/" + (.reason // .detail // "")' 2>/dev/null)"
}
# wait_decides NAME JSON REGEX [TRIES]: polls until node NAME's answer matches.
wait_decides() {
    for _ in $(seq "${4:-200}"); do
        [[ $(decide "$1" "$2") =~ $3 ]] && return 0
        sleep 0.01
    done
    return 1
}
usec() { echo "${EPOCHREALTIME//[!0-9]/}"; }
# propagation NODES JSON PATTERN: ms from now until every node's answer
# contains PATTERN, asking all of them with one curl per round (a process
# per node and round would dominate what is measured); "" after 5 s.
propagation() {
    local req=$2 pattern=$3 t0 urls=() out n
    for n in $1; do urls+=("${DEC[$n]}/v1/check"); done
    t0=$(usec)
    while :; do
        out=$(curl -s -m 2 -X POST -H 'Content-Type: application/json' --data-binary "$req" \
            -w '\n' "${urls[@]}")
        [ "$(grep -c -- "$pattern" <<<"$out")" -eq "${#urls[@]}" ] && break
        [ $((($(usec) - t0) / 1000)) -gt 5000 ] && return 1
    done
    echo $((($(usec) - t0) / 1000))
}
readyz() { curl -s -m 2 -o "$WORK/readyz" -w '%{http_code}' "${DEC[$1]}/readyz"; }
metric() { curl -s -m 2 "${DEC[$1]}/metrics" | awk -v n="$2" '$1 == n { print $2 }'; }
fleet_json() { "$CUTOFF" --db "$(store_uri)" fleet status --json "$@" 2>"$WORK/fleet.err"; }

WRITE='{"subscription":"sub-8200-storage","action":"storage.write","region":"eu-netherlands"}'
DENIED='^200 deny/read_only$'
ALLOWED='^200 allow/'

# ---- the store and the reference case ---------------------------------------------------
store_init
export CUTOFF_DB
CUTOFF_DB=$(store_uri)
run_cutoff init &&
    run_cutoff --actor alice catalog load "$CASE/catalog.json" &&
    run_cutoff --actor alice nodes import "$CASE/nodes.jsonl" &&
    run_cutoff --actor alice case open --id CASE-7 --title "Reported surveillance" --scope unit-8200 &&
    run_cutoff --actor alice action propose "$CASE/action.json"
expect_eq "the reference case is set up in the store" 0 "$STATUS"
BOB=$("$CUTOFF" token create --principal bob --roles approver --tokens-file "$WORK/tokens" 2>/dev/null)
# A second action, proposed later: EA-2 in the same case.
jq '.id = "EA-2"' "$CASE/action.json" >"$WORK/ea2.json"
jq '.id = "EA-3"' "$CASE/action.json" >"$WORK/ea3.json"

# ---- three nodes ----------------------------------------------------------------------------
for n in a b c; do
    if start_node "$n"; then ok "node $n serves (${DEC[$n]})"
    else not_ok "node $n starts" "$(tail -3 "$WORK/$n.err" "$WORK/$n.log" 2>/dev/null)"; finish; exit 1; fi
done
for n in a b c; do
    expect_eq "node $n is ready" 200 "$(readyz "$n")"
    expect_match "node $n allows the unit's writes before any approval" "$ALLOWED" "$(decide "$n" "$WRITE")"
done

# ---- an approval through node A's admin API is enforced by all -----------------------------
code=$(curl -s -o "$WORK/approve" -w '%{http_code}' -X POST -H "Authorization: Bearer $BOB" \
    "${ADM[a]}/v1/actions/EA-1/approve")
expect_eq "bob approves EA-1 through node a's admin API" 200 "$code"
expect_match "node a enforces it as it answers" "$DENIED" "$(decide a "$WRITE")"
for n in b c; do
    if wait_decides "$n" "$WRITE" "$DENIED"; then ok "node $n enforces the approval made through node a"
    else not_ok "node $n enforces the approval made through node a" "last: $(decide "$n" "$WRITE")"; fi
done

# The receipts say so: every node at the head, one digest.
for _ in $(seq 60); do fleet_json >"$WORK/fleet" && break; sleep 0.05; done
fleet_json >"$WORK/fleet"
expect_eq "fleet status exits 0 when every node is current" 0 "$?"
HEAD=$(jq -r .head "$WORK/fleet")
expect_eq "three live nodes, each at the change head ($HEAD)" "node-a node-b node-c|$HEAD $HEAD $HEAD" \
    "$(jq -r '[.nodes[].node] | join(" ")' "$WORK/fleet")|$(jq -r '[.nodes[].seq] | map(tostring) | join(" ")' "$WORK/fleet")"
expect_eq "all three report one snapshot digest" 1 "$(jq '[.nodes[].digest] | unique | length' "$WORK/fleet")"
expect_eq "the digests agree" true "$(jq .digests_agree "$WORK/fleet")"
expect_match "the table names each node, its status and how far behind it is" \
    '^  node-b +ok +[0-9]+ +0 ' "$("$CUTOFF" --db "$(store_uri)" fleet status)"

# ---- a lift with the CLI, --wait-enforced ---------------------------------------------------
run_cutoff --actor bob action lift EA-1 --reason "export done" --wait-enforced 10
expect_eq "lift --wait-enforced 10 succeeds while every node is up" 0 "$STATUS"
expect_match "and says every live node enforces it" 'enforced by all 3 live nodes' "$ERR"
for n in a b c; do
    expect_match "node $n allows the unit's writes again at once" "$ALLOWED" "$(decide "$n" "$WRITE")"
done

# ---- a stopped node: --wait-enforced names it, the change stays --------------------------------
run_cutoff --actor alice action propose "$WORK/ea2.json"
# Frozen outside a write of its own (see store_write_locked).
for _ in $(seq 50); do
    kill -STOP "${PID[c]}"
    store_write_locked || break
    kill -CONT "${PID[c]}"
    sleep 0.01
done
t0=$(date +%s)
run_cutoff --actor bob action approve EA-2 --wait-enforced 3
took=$(($(date +%s) - t0))
expect_eq "approve --wait-enforced 3 fails with 3 while node c is stopped" 3 "$STATUS"
expect_match "it names node c" 'by 1 of 3 live nodes: node-c \(at [0-9]+' "$ERR"
expect_match "and says the change stays committed" 'stays committed' "$ERR"
expect_match "it reported progress on stderr" 'waiting for change [0-9]+: 2 of 3 live nodes' "$ERR"
[ "$took" -ge 3 ] && [ "$took" -le 6 ] && ok "it waited about 3 s (${took} s)" || not_ok "it waited about 3 s" "took $took s"
expect_match "EA-2 is approved all the same (node a)" "$DENIED" "$(decide a "$WRITE")"
kill -CONT "${PID[c]}"
if wait_decides c "$WRITE" "$DENIED"; then ok "node c, resumed, enforces EA-2"
else not_ok "node c, resumed, enforces EA-2" "$(decide c "$WRITE")"; fi

# ---- through a server, --wait-enforced is refused before the change -----------------------------
run_cutoff --server "${ADM[a]}" --token-file /dev/null action lift EA-2 --wait-enforced 5
expect_eq "--wait-enforced through --server is a usage error" 2 "$STATUS"
expect_match "that says it needs the local database" 'local database only' "$ERR"
expect_match "and EA-2 is still enforced" "$DENIED" "$(decide a "$WRITE")"

# ---- propagation: CLI exit to every node deciding --------------------------------------------
"$CUTOFF" --db "$(store_uri)" --actor bob action lift EA-2 >/dev/null 2>&1
ms1=$(propagation "a b c" "$WRITE" '"decision":"allow"')
run_cutoff --actor alice action propose "$WORK/ea3.json"
"$CUTOFF" --db "$(store_uri)" --actor bob action approve EA-3 >/dev/null 2>&1
ms2=$(propagation "a b c" "$WRITE" '"reason":"read_only"')
echo "# propagation (CLI exit to all 3 nodes deciding, $STORE_KIND): lift ${ms1:-timeout} ms, approve ${ms2:-timeout} ms"
if [ -n "$ms1" ] && [ -n "$ms2" ] && [ "$ms1" -le 500 ] && [ "$ms2" -le 500 ]; then
    ok "a CLI change is decided by all 3 nodes within 500 ms (${ms1} ms, ${ms2} ms)"
else
    not_ok "a CLI change is decided by all 3 nodes within 500 ms" "lift: ${ms1:-timeout}, approve: ${ms2:-timeout}"
fi
woke=$(metric b cutoff_store_wakeups_total)
[ "${woke:-0}" -gt 0 ] && ok "node b was woken by the store ($woke times)" || not_ok "node b was woken by the store" "wakeups: $woke"

# ---- a killed node: the others decide, it goes silent ------------------------------------------
kill -KILL "${PID[b]}"
wait "${PID[b]}" 2>/dev/null
unset 'PID[b]'
for n in a c; do
    expect_match "node $n still decides with node b killed" "$DENIED" "$(decide "$n" "$WRITE")"
done
sleep 3
fleet_json --silent-after 2 >"$WORK/fleet"
expect_eq "fleet status exits 1 with a silent node" 1 "$?"
expect_eq "node b is listed as silent" silent "$(jq -r '.nodes[] | select(.node == "node-b") | .status' "$WORK/fleet")"
expect_eq "the others are ok" "ok ok" "$(jq -r '[.nodes[] | select(.node != "node-b") | .status] | join(" ")' "$WORK/fleet")"

# ---- a node started later catches up ------------------------------------------------------------
if start_node d; then ok "node d starts after the changes"; else not_ok "node d starts" "$(tail -3 "$WORK/d.err")"; fi
expect_match "node d enforces EA-3 from its first snapshot" "$DENIED" "$(decide d "$WRITE")"
for _ in $(seq 60); do
    [ "$(fleet_json | jq -r '.nodes[] | select(.node == "node-d") | .behind')" = 0 ] && break
    sleep 0.05
done
expect_eq "node d's receipt is at the head" 0 "$(fleet_json | jq -r '.nodes[] | select(.node == "node-d") | .behind')"

# ---- a lost wake-up: the safety interval catches the change -------------------------------------
if start_node e '{"safety_interval_ms": 300}' CUTOFF_NO_WAKEUP=1; then ok "node e starts without wake-ups"
else not_ok "node e starts without wake-ups" "$(tail -3 "$WORK/e.err")"; fi
"$CUTOFF" --db "$(store_uri)" --actor bob action lift EA-3 >/dev/null 2>&1
ms=$(propagation "e" "$WRITE" '"decision":"allow"')
if [ -n "$ms" ] && [ "$ms" -le 1500 ]; then ok "node e applies the lift by its safety interval (${ms} ms)"
else not_ok "node e applies the lift by its safety interval" "took: ${ms:-timeout}"; fi
expect_eq "node e was never woken (the wake-up path was skipped)" 0 "$(metric e cutoff_store_wakeups_total)"
reads=$(metric e cutoff_store_safety_reads_total)
[ "${reads:-0}" -gt 0 ] && ok "it re-read by the safety interval ($reads times)" || not_ok "it re-read by the safety interval" "reads: $reads"

# ---- the store unreachable: degraded, then max_staleness_s, then back ----------------------------
jq '.id = "EA-4"' "$CASE/action.json" >"$WORK/ea4.json"
run_cutoff --actor alice action propose "$WORK/ea4.json"
"$CUTOFF" --db "$(store_uri)" --actor bob action approve EA-4 >/dev/null 2>&1
if start_node f '{"max_staleness_s": 2}'; then ok "node f starts with max_staleness_s 2"
else not_ok "node f starts" "$(tail -3 "$WORK/f.err")"; fi
for n in a f; do wait_decides "$n" "$WRITE" "$DENIED" >/dev/null; done
store_kill
for _ in $(seq 100); do [ "$(readyz a)" = 503 ] && break; sleep 0.05; done
expect_eq "with the store unreachable, node a's /readyz answers 503" 503 "$(readyz a)"
expect_match "with the reason" '"status":"degraded".*store unreachable since [0-9T:-]+Z: ' "$(cat "$WORK/readyz")"
expect_match "node a keeps deciding from its last snapshot (EA-4 in force)" "$DENIED" "$(decide a "$WRITE")"
expect_eq "cutoff_degraded is 1" 1 "$(metric a cutoff_degraded)"
expect_eq "cutoff_store_up is 0" 0 "$(metric a cutoff_store_up)"
expect_match "node f decides too, within max_staleness_s" "$DENIED" "$(decide f "$WRITE")"
sleep 3.5
expect_match "past max_staleness_s node f refuses decisions with 503" '^503 EUNAVAIL/.*max_staleness_s 2' "$(decide f "$WRITE")"
expect_match "and /readyz says it no longer decides" '"deciding":false' "$(readyz f; cat "$WORK/readyz")"
expect_match "node a (max_staleness_s 0) still decides" "$DENIED" "$(decide a "$WRITE")"
run_cutoff --actor bob action lift EA-4
expect_eq "a change cannot be made while the store is down" 1 "$STATUS"
if [ "$STORE_KIND" = SQLite ]; then
    # A node that starts now: for SQLite a missing file is a configuration error.
    if start_node g; then sleep 0.3; fi
    if ! kill -0 "${PID[g]}" 2>/dev/null; then ok "a node started while the SQLite file is missing exits"
    else not_ok "a node started while the SQLite file is missing exits"; fi
    expect_match "naming what is missing in the store's place" 'store/cutoff\.(db|key).*(does not exist|No such file)' "$(cat "$WORK/g.err")"
    unset 'PID[g]'
else
    # A server that cannot be reached at start is waited for: the node
    # serves no decision until it has a snapshot.
    if start_node g; then ok "a node started while the store is down runs"
    else not_ok "a node started while the store is down runs" "$(tail -3 "$WORK/g.err")"; fi
    expect_eq "it is not ready" 503 "$(readyz g)"
    expect_match "and refuses decisions with 503" '^503 ' "$(decide g "$WRITE")"
fi
store_restart
for _ in $(seq 200); do [ "$(readyz f)" = 200 ] && [ "$(readyz a)" = 200 ] && break; sleep 0.05; done
expect_eq "once the store is back, node a is ready again" 200 "$(readyz a)"
expect_eq "and node f" 200 "$(readyz f)"
expect_match "node f decides again" "$DENIED" "$(decide f "$WRITE")"
if [ "$STORE_KIND" != SQLite ]; then
    if wait_decides g "$WRITE" "$DENIED" 500; then ok "node g, started while the store was down, enforces EA-4 once it is back"
    else not_ok "node g enforces EA-4 once the store is back" "$(decide g "$WRITE")" "$(tail -3 "$WORK/g.log")"; fi
fi
grep -q '"event":"store_up"' "$WORK/a.log" && ok "node a logged store_up" || not_ok "node a logged store_up"
"$CUTOFF" --db "$(store_uri)" --actor bob action lift EA-4 >/dev/null 2>&1
nodes="a c d f"
[ -n "${PID[g]:-}" ] && nodes="$nodes g"
ms=$(propagation "$nodes" "$WRITE" '"decision":"allow"')
[ -n "$ms" ] && ok "every node applies a change made after the outage (${ms} ms)" || not_ok "every node applies a change made after the outage"

# ---- a clean stop is reported ---------------------------------------------------------------------
kill "${PID[c]}"
wait "${PID[c]}" 2>/dev/null
expect_eq "node c exits 0 after SIGTERM" 0 "$?"
unset 'PID[c]'
expect_eq "a node stopped with SIGTERM reports stopped" stopped \
    "$(fleet_json | jq -r '.nodes[] | select(.node == "node-c") | .status')"
for n in a b c d e f g; do
    if grep -qE 'Sanitizer|runtime error' "$WORK/$n.err" 2>/dev/null; then
        not_ok "node $n ran without a sanitizer report" "$(grep -m3 -E 'Sanitizer|runtime error' "$WORK/$n.err")"
    fi
done
finish
