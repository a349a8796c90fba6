#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Shadow mode on a fleet: two cutoffd on one SQLite store. The reference
# case's action EA-1, still a draft, is started in shadow by alice alone
# through node a's admin API; traffic goes through both nodes' decision
# listeners (a batch on node a, single checks on node b: subscriptions in
# and out of scope, allowed and would-be denied, with and without a
# region). The decisions are the same with and without the run. alice
# stops it with the CLI; the report (CLI and admin API) sums both nodes.
# Then bob approves EA-1 and the same requests are sent again: the
# requests now denied that were allowed before must be exactly the ones
# the report counted, per subscription and action, and per node.
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

declare -A PID DEC ADM
cleanup() {
    for n in "${!PID[@]}"; do kill "${PID[$n]}" 2>/dev/null && wait "${PID[$n]}" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# start_node NAME: cutoffd as node-NAME on the shared store, counts
# written every second.
start_node() {
    local name=$1
    jq -n --arg db "$CUTOFF_DB" --arg tokens "$WORK/tokens" --arg log "$WORK/$name.log" \
        --arg id "node-$name" '{database: $db, decision_listen: "127.0.0.1:0",
        admin_listen: "127.0.0.1:0", tokens_file: $tokens, log_file: $log, node_id: $id,
        heartbeat_s: 1, safety_interval_ms: 1000, sign_interval_s: 0}' >"$WORK/$name.json"
    "$CUTOFFD" --config "$WORK/$name.json" --port-file "$WORK/$name.ports" 2>"$WORK/$name.err" &
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

# ---- the reference case, EA-1 a draft ------------------------------------------------------
run_cutoff init &&
    run_cutoff --actor alice catalog load "$CASE/catalog.json" &&
    run_cutoff --actor alice nodes import "$CASE/nodes.jsonl" &&
    run_cutoff --actor alice case open --id CASE-7 --title "Unit 8200 review" --scope unit-8200 &&
    run_cutoff --actor alice action propose "$CASE/action.json"
expect_eq "the reference case is set up, EA-1 proposed by alice" 0 "$STATUS"
ALICE=$("$CUTOFF" token create --principal alice --roles investigator --tokens-file "$WORK/tokens" 2>/dev/null)
BOB=$("$CUTOFF" token create --principal bob --roles approver --tokens-file "$WORK/tokens" 2>/dev/null)
for n in a b; do
    if start_node "$n"; then ok "node $n serves (${DEC[$n]})"
    else not_ok "node $n starts" "$(tail -3 "$WORK/$n.err" "$WORK/$n.log" 2>/dev/null)"; finish; exit 1; fi
done

# ---- the traffic -----------------------------------------------------------------------------
# Every subscription, action and region below; sub-8200-archive-2 (in
# EA-1's scope) sends nothing. Node a takes all of it in one batch, node b
# every third request as single checks.
SUBS="sub-8200-storage sub-8200-ai sub-8200-secops sub-8200-archive-1 sub-logistics-erp sub-9900-maps sub-northwind-records sub-cyber-soc sub-nobody"
ACTS="storage.read storage.write storage.delete ai.infer ai.transcribe security.scan compute.run"
for s in $SUBS; do for a in $ACTS; do for r in eu-netherlands -; do
    printf '%s %s %s\n' "$s" "$a" "$r"
done; done; done >"$WORK/requests"
awk 'NR % 3 == 1' "$WORK/requests" >"$WORK/requests-b"
jq -R -s 'split("\n") | map(select(length > 0) | split(" ") |
    {subscription: .[0], action: .[1]} + (if .[2] == "-" then {} else {region: .[2]} end))
    | {requests: .}' "$WORK/requests" >"$WORK/batch.json"

# send_a: node a's batch, one "SUB ACTION REGION DECISION/REASON" line per request.
send_a() {
    curl -s -m 10 -X POST -H 'Content-Type: application/json' --data-binary @"$WORK/batch.json" \
        "${DEC[a]}/v1/check/batch" | jq -r '.results[] | .decision + "/" + .reason' |
        paste -d ' ' "$WORK/requests" -
}
# send_b: node b's single checks, in the same form.
send_b() {
    local s a r body
    while read -r s a r; do
        body=$(jq -nc --arg s "$s" --arg a "$a" --arg r "$r" \
            '{subscription: $s, action: $a} + (if $r == "-" then {} else {region: $r} end)')
        printf '%s %s %s %s\n' "$s" "$a" "$r" "$(curl -s -m 5 -X POST -H 'Content-Type: application/json' \
            --data-binary "$body" "${DEC[b]}/v1/check" | jq -r '.decision + "/" + .reason')"
    done <"$WORK/requests-b"
}

send_a >"$WORK/a.before"
send_b >"$WORK/b.before"
expect_eq "node a answered every request of its batch" "$(wc -l <"$WORK/requests")" "$(grep -c ' allow/\| deny/' "$WORK/a.before")"
expect_eq "node b answered every single check" "$(wc -l <"$WORK/requests-b")" "$(grep -c ' allow/\| deny/' "$WORK/b.before")"

# ---- start: one person, through node a's admin API ------------------------------------------
code=$(curl -s -o "$WORK/start" -w '%{http_code}' -X POST -H "Authorization: Bearer $ALICE" \
    "${ADM[a]}/v1/actions/EA-1/shadow/start")
expect_eq "alice starts the shadow run of her own draft alone (POST .../shadow/start)" 200 "$code"
expect_eq "the run is running" "running" "$(jq -r .state "$WORK/start" 2>/dev/null)"
code=$(curl -s -o "$WORK/again" -w '%{http_code}' -X POST -H "Authorization: Bearer $ALICE" \
    "${ADM[a]}/v1/actions/EA-1/shadow/start")
expect_eq "a second start of the same version is a conflict" 409 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $BOB" \
    "${ADM[a]}/v1/actions/EA-1/shadow/start")
expect_eq "an approver alone may not start one (the proposer's roles do)" 403 "$code"
# Node b learns of it from the store's change log.
for _ in $(seq 100); do
    grep -q '"runs":1,.*"event":"shadow_runs"' "$WORK/b.log" 2>/dev/null && break
    sleep 0.05
done
expect_match "node b evaluates the run too" '"runs":1,.*"event":"shadow_runs"' "$(cat "$WORK/b.log")"

send_a >"$WORK/a.shadow"
send_b >"$WORK/b.shadow"
expect_eq "node a decides every request as without the run" "" "$(diff "$WORK/a.before" "$WORK/a.shadow")"
expect_eq "node b decides every request as without the run" "" "$(diff "$WORK/b.before" "$WORK/b.shadow")"

# ---- stop: the same person, with the CLI on the store ----------------------------------------
run_cutoff --actor alice action shadow EA-1 stop
expect_eq "alice stops it with the CLI" 0 "$STATUS"
expect_match "it says the run stopped" 'shadow run 1 stopped at .* by alice' "$OUT"
# Both nodes write their last counts as they drop the run.
for _ in $(seq 100); do
    "$CUTOFF" action shadow EA-1 report --json >"$WORK/report" 2>/dev/null &&
        [ "$(jq '[.nodes[] | select(.ended)] | length' "$WORK/report")" = 2 ] && break
    sleep 0.05
done
expect_eq "both nodes wrote their last counts" "node-a node-b" "$(jq -r '[.nodes[] | select(.ended) | .node] | join(" ")' "$WORK/report")"
code=$(curl -s -o "$WORK/report-api" -w '%{http_code}' -H "Authorization: Bearer $BOB" \
    "${ADM[b]}/v1/actions/EA-1/shadow")
expect_eq "the report through node b's admin API (GET .../shadow)" 200 "$code"
expect_eq "it is the CLI's report" "$(jq -S 'del(.nodes)' "$WORK/report")" "$(jq -S 'del(.nodes)' "$WORK/report-api")"
expect_eq "the audit log has alice's start and stop of EA-1, and no approval" \
    "action.propose alice|action.shadow.start alice|action.shadow.stop alice" \
    "$("$CUTOFF" audit log --json | jq -r '[.[] | select(.object == "EA-1") | .verb + " " + .actor] | join("|")')"

# ---- approve, replay: the denied set is the would-deny set -----------------------------------
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $BOB" \
    "${ADM[a]}/v1/actions/EA-1/approve")
expect_eq "bob approves EA-1" 200 "$code"
for _ in $(seq 100); do
    [ "$(curl -s -X POST -H 'Content-Type: application/json' --data-binary \
        '{"subscription":"sub-8200-storage","action":"storage.write"}' "${DEC[b]}/v1/check" |
        jq -r .decision)" = deny ] && break
    sleep 0.05
done
send_a >"$WORK/a.after"
send_b >"$WORK/b.after"
# Newly denied: allowed before, denied after (paste: SUB ACT REGION BEFORE SUB ACT REGION AFTER).
newly() { paste -d ' ' "$1" "$2" | awk '$4 ~ /^allow/ && $8 ~ /^deny/ { print $1, $2 }'; }
{ newly "$WORK/a.before" "$WORK/a.after"; newly "$WORK/b.before" "$WORK/b.after"; } |
    sort | uniq -c | awk '{ print $2, $3, $1 }' >"$WORK/denied"
jq -r '.subscriptions.items[] | .subscription as $s | .actions[] | "\($s) \(.action) \(.would_deny)"' \
    "$WORK/report" | sort >"$WORK/counted"
n_denied=$(awk '{ n += $3 } END { print n + 0 }' "$WORK/denied")
[ "$n_denied" -ge 20 ] && ok "the approval denies $n_denied of the requests allowed before" ||
    not_ok "the approval denies a good part of the requests" "only $n_denied"
expect_eq "the report counted exactly the requests the approved action denies" \
    "$(cat "$WORK/denied")" "$(cat "$WORK/counted")"
expect_eq "its total is theirs" "$n_denied" "$(jq .would_deny "$WORK/report")"
expect_eq "node a's share is the batch's" "$(newly "$WORK/a.before" "$WORK/a.after" | wc -l)" \
    "$(jq '.nodes[] | select(.node == "node-a") | .would_deny' "$WORK/report")"
expect_eq "node b's share is its single checks'" "$(newly "$WORK/b.before" "$WORK/b.after" | wc -l)" \
    "$(jq '.nodes[] | select(.node == "node-b") | .would_deny' "$WORK/report")"
expect_eq "every allowed request was evaluated" \
    "$(cat "$WORK/a.before" "$WORK/b.before" | grep -c ' allow/')" "$(jq .evaluated "$WORK/report")"
expect_eq "all in phase 0, read-only" "0 read-only" \
    "$(jq -r '[.actions[] | "\(.phase) \(.mode)"] | unique | join(",")' "$WORK/report")"
expect_eq "the sample holds the ids, times, subscriptions, actions and regions, nothing else" \
    '["action","at","region","request_id","subscription"]' \
    "$(jq -c '[.sample[] | keys] | unique | .[0]' "$WORK/report")"
expect_eq "it holds every would-be denial (fewer than 100)" "$n_denied" "$(jq '.sample | length' "$WORK/report")"
expect_eq "the preview foresaw every one" 0 "$(jq .preview.unforeseen.total "$WORK/report")"
expect_eq "it names the subscription it changes that sent nothing" '["sub-8200-archive-2"]' \
    "$(jq -c .preview.silent.subscriptions "$WORK/report")"

# ---- refusals ---------------------------------------------------------------------------------
expect_fail 1 "an active action cannot be shadowed" --actor alice action shadow EA-1 start
expect_match "it says only a draft can" 'only a draft can run in shadow' "$ERR"
run_cutoff --actor bob action lift EA-1 --reason done
expect_fail 1 "a lifted one neither" --actor alice action shadow EA-1 start
expect_match "it says it is lifted" 'is lifted' "$ERR"
expect_fail 1 "a stop without a running run is refused" --actor alice action shadow EA-1 stop
run_cutoff action shadow EA-1 report
expect_match "the report still reads, for people" 'would be denied, by subscription' "$OUT"
for n in a b; do
    if grep -q '"level":"error"' "$WORK/$n.log"; then not_ok "node $n logged no error" "$(grep '"level":"error"' "$WORK/$n.log" | head -3)"
    else ok "node $n logged no error"; fi
done
for n in a b; do kill "${PID[$n]}"; wait "${PID[$n]}"; expect_eq "node $n stops cleanly" 0 "$?"; unset "PID[$n]"; done
for n in a b; do
    expect_eq "node $n reports no sanitizer error" "" "$(grep -E 'runtime error|Sanitizer' "$WORK/$n.err" | head -3)"
done
finish
