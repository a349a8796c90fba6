#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash consistency, counted: SIGKILL the CLI and cutoffd at random moments
# while they change the database, then check what a restart finds.
#
# Each episode takes one seed of build/tools/scenario (catalog, tree,
# actions with their planned states, requests), prepares the database
# (init, catalog, nodes, CASE-1) and then runs rounds until the plan is
# carried out. A round starts one operation, either with the CLI on the
# database or through cutoffd's admin API (the daemon is started for the
# round), sleeps a random number of microseconds and SIGKILLs the process
# doing the work. The operations, in turn:
#
#   plan step      propose / approve / lift the scenario's next action
#   nodes          import a new tenant with 2000 subscriptions (every
#                  CRASH_BIG_EVERY-th time CRASH_BIG_NODES) from a file or
#                  as an upload
#   catalog        load the catalog with one more service
#   case           open a new case
#   evidence       add a random file (64 KiB, or 8 MiB every other time)
#
# After every round, with nothing running: the store opens and
# `cutoff audit verify` passes; the operation is wholly present or wholly
# absent (node count before or after, and exactly the import's nodes;
# catalog with or without the new service; the case; evidence with its
# hash and size, or none; the action in its state before or after), and
# the audit log holds the operation's record exactly when the state shows
# it; `cutoff check --batch` agrees with the reference evaluator run on
# the action states the database holds (build/tools/reference_states). An
# operation found absent is tried again in a later round. At the end of an
# episode the answers must be those the scenario expects.
#
# The kill delay is drawn uniformly from [0, D], D per kind of operation,
# adapting: longer after a kill that hit the operation, shorter after one
# that came too late, so that kills land across the whole operation
# including around its commit. A kill "hits" when the CLI was still
# running (it died of SIGKILL), or when cutoffd died before it answered.
#
#   CRASH_KILLS=N       kills that hit an operation (default 50)
#   CRASH_BIG_EVERY=N   every Nth node import is big (default 4)
#   CRASH_BIG_NODES=N   subscriptions of a big import (default 100000)
#   CUTOFF_SEED=N       first scenario seed (default: from the clock)
source "$(dirname "$0")/lib.sh"
export LC_ALL=C

CUTOFFD="$ROOT/$CUTOFF_BUILD/cutoffd"
SCENARIO="$ROOT/$CUTOFF_BUILD/tools/scenario"
REFERENCE="$ROOT/$CUTOFF_BUILD/tools/reference_states"
KILLS=${CRASH_KILLS:-50}
BIG_EVERY=${CRASH_BIG_EVERY:-4}
BIG_NODES=${CRASH_BIG_NODES:-100000}
first_seed=${CUTOFF_SEED:-$(($(date +%s) % 1000000 * 1000 + $$ % 1000))}
RANDOM=$first_seed
echo "# crash kill: CUTOFF_SEED=$first_seed CRASH_KILLS=$KILLS"
for need in "$CUTOFF" "$CUTOFFD" "$SCENARIO" "$REFERENCE"; do
    [ -x "$need" ] || { not_ok "the programs are built" "missing: $need"; finish; exit 1; }
done
for tool in curl jq sqlite3 sha256sum; do
    command -v "$tool" >/dev/null || { not_ok "$tool is installed" "needed by this test"; finish; exit 1; }
done

CUTOFFD_PID= CURL_PID=
cleanup() {
    [ -n "$CURL_PID" ] && kill "$CURL_PID" 2>/dev/null
    [ -n "$CUTOFFD_PID" ] && kill -KILL "$CUTOFFD_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
# cutoffd spools uploads under TMPDIR; the next start removes what a killed one left.
mkdir -p "$WORK/tmp"
export TMPDIR="$WORK/tmp"

# A sleep without a process: read from a pipe nobody writes to.
exec {SLEEP_FD}<> <(:)
sleep_us() { read -r -t "$(printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)))" -u "$SLEEP_FD"; }
random_below() { echo $((((RANDOM << 15) | RANDOM) % $1)); }

token() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
ALICE=$(token) BOB=$(token)
{
    echo "sha256:$(printf '%s' "$ALICE" | sha256sum | cut -d' ' -f1) alice admin"
    echo "sha256:$(printf '%s' "$BOB" | sha256sum | cut -d' ' -f1) bob approver"
} >"$WORK/tokens"

# ---- counts --------------------------------------------------------------------------
declare -A D_US HITS ABSENT PRESENT LATE
kills=0 rounds=0 verified=0 whole=0 agreed=0 failures=0 episodes=0
# fail WHAT DETAILS...: one not ok line (the first 20 failures in detail).
fail() {
    failures=$((failures + 1))
    [ "$failures" -le 20 ] && not_ok "round $rounds (seed $seed, $PHASE): $1" "${@:2}"
}

# ---- cutoffd for one API round ------------------------------------------------------------
start_daemon() {
    rm -f "$WORK/ports"
    "$CUTOFFD" --db "$CUTOFF_DB" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --tokens "$WORK/tokens" \
        --log "$WORK/cutoffd.log" --port-file "$WORK/ports" 2>>"$WORK/cutoffd.err" &
    CUTOFFD_PID=$!
    for _ in $(seq 400); do
        [ -s "$WORK/ports" ] && break
        kill -0 "$CUTOFFD_PID" 2>/dev/null || break
        sleep 0.025
    done
    if [ ! -s "$WORK/ports" ]; then
        fail "cutoffd starts on the recovered database" "$(tail -3 "$WORK/cutoffd.err" "$WORK/cutoffd.log" 2>/dev/null)"
        kill -KILL "$CUTOFFD_PID" 2>/dev/null
        wait "$CUTOFFD_PID" 2>/dev/null
        CUTOFFD_PID=
        return 1
    fi
    read -r _ ADM_PORT <"$WORK/ports"
    # What a killed cutoffd spooled is gone once the next one has started:
    # only the running daemon's own spool directory is left.
    local spool
    spool=$(find "$WORK/tmp" -mindepth 1 -maxdepth 1 | sed 's|.*/||' | sort | tr '\n' ' ')
    [[ "$spool" =~ ^cutoffd-spool\.[A-Za-z0-9]{6}\ $ ]] ||
        fail "a started cutoffd leaves only its own spool directory in TMPDIR" "found: $spool"
}

# ---- one killed operation ------------------------------------------------------------------
# run_killed PHASE CLI_ARGS -- CURL_ARGS: starts the operation the CLI way
# (PHASE cli.*) or the API way (api.*), kills it after a random delay and
# counts where the kill landed. HIT=1 when it hit the operation.
run_killed() {
    local phase=$1 cli=() api=() seen=
    shift
    for a in "$@"; do
        if [ -z "$seen" ] && [ "$a" = -- ]; then seen=1; continue; fi
        if [ -z "$seen" ]; then cli+=("$a"); else api+=("$a"); fi
    done
    # One call's token (bob approves); the next call is alice's again.
    local token=${OP_TOKEN:-$ALICE}
    OP_TOKEN=
    local d=${D_US[$phase]:-20000}
    local delay
    delay=$(random_below $((d + 1)))
    HIT=0 DONE=0
    if [ "${phase%%.*}" = cli ]; then
        "$CUTOFF" "${cli[@]}" >"$WORK/op.out" 2>"$WORK/op.err" &
        local pid=$!
        sleep_us "$delay"
        kill -KILL "$pid" 2>/dev/null
        { wait "$pid"; } 2>/dev/null
        local status=$?
        [ $status -eq 137 ] && HIT=1
        [ $status -eq 0 ] && DONE=1
        # One that ended before the kill must have worked: a refusal would
        # pass for "absent" and hide a broken step.
        [ $status -ne 0 ] && [ $status -ne 137 ] &&
            fail "the operation works when the kill comes late" "exit $status: $(head -c 300 "$WORK/op.err")"
    else
        start_daemon || return 1
        api=("${api[@]//\$ADM/$ADM_PORT}")
        curl -s -o "$WORK/op.out" -w '%{http_code}' -H "Authorization: Bearer $token" "${api[@]}" \
            >"$WORK/op.code" 2>/dev/null &
        CURL_PID=$!
        sleep_us "$delay"
        kill -KILL "$CUTOFFD_PID" 2>/dev/null
        { wait "$CUTOFFD_PID"; } 2>/dev/null
        CUTOFFD_PID=
        wait "$CURL_PID"
        local curl_status=$?
        CURL_PID=
        [ $curl_status -ne 0 ] || [ "$(cat "$WORK/op.code")" = 000 ] && HIT=1
        [ $HIT = 0 ] && [[ $(cat "$WORK/op.code") == 2* ]] && DONE=1
        [ $HIT = 0 ] && [ $DONE = 0 ] &&
            fail "the operation works when the kill comes late" "HTTP $(cat "$WORK/op.code"): $(head -c 300 "$WORK/op.out")"
    fi
    # Aim the next delay of this kind around the end of the operation.
    if [ $HIT = 1 ]; then
        d=$((d * 5 / 4 + 100))
        kills=$((kills + 1)) HITS[$phase]=$((${HITS[$phase]:-0} + 1))
    else
        d=$((d * 3 / 4))
        LATE[$phase]=$((${LATE[$phase]:-0} + 1))
    fi
    [ $d -lt 500 ] && d=500
    [ $d -gt 5000000 ] && d=5000000
    D_US[$phase]=$d
    return 0
}
# outcome PRESENT: counts a hit kill's outcome (1: the operation is there);
# an operation that was reported done before the kill must be there.
outcome() {
    if [ $DONE = 1 ] && [ "$1" != 1 ]; then
        fail "an operation reported done survives the kill" "$(cat "$WORK/op.out" "$WORK/op.err" 2>/dev/null | head -3)"
    fi
    [ $HIT = 1 ] || return 0
    if [ "$1" = 1 ]; then PRESENT[$PHASE]=$((${PRESENT[$PHASE]:-0} + 1))
    else ABSENT[$PHASE]=$((${ABSENT[$PHASE]:-0} + 1)); fi
}

# ---- reading the recovered database -------------------------------------------------------
sql() { sqlite3 "$CUTOFF_DB" "$1" 2>>"$WORK/sqlite.err"; }
# audit_count VERB [OBJECT]: records of that verb (and object).
audit_count() {
    jq --arg v "$1" --arg o "${2:-}" '[.[] | select(.verb == $v and ($o == "" or .object == $o))] | length' \
        "$WORK/audit.json"
}
action_state() { jq -r --arg id "$1" '[.[] | select(.id == $id) | .state][0] // "absent"' "$WORK/actions.json"; }
# snapshot: what the checks read, taken with nothing running.
snapshot() {
    "$CUTOFF" --json audit log >"$WORK/audit.json" 2>"$WORK/snap.err" &&
        "$CUTOFF" --json action list >"$WORK/actions.json" 2>>"$WORK/snap.err"
}

# verify_store: the store opens and the chain verifies.
verify_store() {
    run_cutoff audit verify
    if [ "$STATUS" -eq 0 ]; then verified=$((verified + 1)); return 0; fi
    fail "the store opens and audit verify passes" "exit $STATUS: $ERR"
    return 1
}

# verify_decisions: the CLI agrees with the reference on the held states.
verify_decisions() {
    jq -r '.[] | "\(.id)\t\(.state)"' "$WORK/actions.json" >"$WORK/states.tsv"
    if ! "$REFERENCE" "$seed" "$EP" "$WORK/states.tsv" 200 2>"$WORK/ref.err"; then
        fail "reference_states runs" "$(cat "$WORK/ref.err")"
        return 1
    fi
    run_cutoff check --batch "$EP/queries.tsv"
    if [ "$STATUS" -eq 0 ] && [ "$OUT" = "$(cat "$EP/expected.tsv")" ]; then
        agreed=$((agreed + 1))
    else
        local first
        first=$(diff <(printf '%s\n' "$OUT") "$EP/expected.tsv" | head -4)
        fail "decisions agree with the reference on the recovered states" "exit $STATUS: $ERR" "$first" \
            "states: $(tr '\t\n' ': ' <"$WORK/states.tsv")"
    fi
}

# ---- the operations ----------------------------------------------------------------------------
n_nodes_imports=0 n_evidence=0
op_nodes() { # op_nodes MODE
    local mode=$1 t="cr$rounds" n=2000
    n_nodes_imports=$((n_nodes_imports + 1))
    [ $((n_nodes_imports % BIG_EVERY)) -eq 0 ] && n=$BIG_NODES
    PHASE="$mode.nodes$([ "$n" -gt 2000 ] && echo -big)"
    awk -v t="$t" -v n="$n" 'BEGIN { printf "{\"id\":\"%s\",\"kind\":\"tenant\",\"parent\":null}\n", t
        for (i = 1; i <= n; i++) printf "{\"id\":\"%s-%d\",\"kind\":\"subscription\",\"parent\":\"%s\"}\n", t, i, t }' \
        >"$WORK/nodes.jsonl"
    local before audits
    before=$(sql "SELECT count(*) FROM nodes")
    audits=$(audit_count nodes.import)
    run_killed "$PHASE" nodes import "$WORK/nodes.jsonl" -- \
        -X POST --data-binary "@$WORK/nodes.jsonl" "http://127.0.0.1:\$ADM/v1/nodes/import" || return
    verify_store || return
    snapshot
    local mine total present=0
    mine=$(sql "SELECT count(*) FROM nodes WHERE id = '$t' OR id GLOB '$t-*'")
    total=$(sql "SELECT count(*) FROM nodes")
    [ "$mine" = $((n + 1)) ] && present=1
    if { [ "$mine" = 0 ] || [ $present = 1 ]; } && [ "$total" = $((before + mine)) ] &&
        [ "$(audit_count nodes.import)" = $((audits + present)) ]; then
        whole=$((whole + 1))
    else
        fail "the import is wholly present or absent" "its nodes: $mine of $((n + 1)); nodes $before -> $total" \
            "nodes.import records: $audits -> $(audit_count nodes.import)"
    fi
    outcome $present
    rm -f "$WORK/nodes.jsonl"
}

op_catalog() {
    local mode=$1 svc="cr$rounds"
    PHASE="$mode.catalog"
    jq --arg s "$svc" '.services += [{"name": $s, "actions": [{"name": "op", "class": "write"}]}]' \
        "$WORK/catalog.cur" >"$WORK/catalog.json"
    local audits
    audits=$(audit_count catalog.load)
    run_killed "$PHASE" catalog load "$WORK/catalog.json" -- \
        -X PUT -H 'Content-Type: application/json' --data-binary "@$WORK/catalog.json" \
        "http://127.0.0.1:\$ADM/v1/catalog" || return
    verify_store || return
    snapshot
    "$CUTOFF" --json catalog show >"$WORK/catalog.now" 2>/dev/null
    local present=0 had want
    had=$(jq -c '[.services[].name] | sort' "$WORK/catalog.cur")
    want=$(jq -c '[.services[].name] | sort' "$WORK/catalog.json")
    local now
    now=$(jq -c '[.services[].name] | sort' "$WORK/catalog.now" 2>/dev/null)
    [ "$now" = "$want" ] && present=1
    if { [ "$now" = "$had" ] || [ $present = 1 ]; } && [ "$(audit_count catalog.load)" = $((audits + present)) ]; then
        whole=$((whole + 1))
    else
        fail "the catalog is the old one or the new one" "services: $now" "old: $had" "new: $want" \
            "catalog.load records: $audits -> $(audit_count catalog.load)"
    fi
    [ $present = 1 ] && cp "$WORK/catalog.json" "$WORK/catalog.cur"
    outcome $present
}

op_case() {
    local mode=$1 id="CASE-CR-$rounds"
    PHASE="$mode.case"
    run_killed "$PHASE" case open --id "$id" --title "crash $rounds" --scope ten-0 -- \
        -X POST -H 'Content-Type: application/json' \
        --data-binary "{\"id\":\"$id\",\"title\":\"crash $rounds\",\"scope\":[\"ten-0\"]}" \
        "http://127.0.0.1:\$ADM/v1/cases" || return
    verify_store || return
    snapshot
    local present=0
    "$CUTOFF" case show "$id" >/dev/null 2>&1 && present=1
    if [ "$(audit_count case.open "$id")" = $present ]; then whole=$((whole + 1))
    else fail "the case and its record are both there or both not" "case: $present, records: $(audit_count case.open "$id")"; fi
    outcome $present
}

op_evidence() {
    local mode=$1 name="ev-$rounds.bin" size=65536
    n_evidence=$((n_evidence + 1))
    [ $((n_evidence % 2)) -eq 0 ] && size=8388608
    PHASE="$mode.evidence$([ $size -gt 65536 ] && echo -big)"
    head -c "$size" /dev/urandom >"$WORK/$name"
    local sha audits before
    sha=$(sha256sum "$WORK/$name" | cut -d' ' -f1)
    audits=$(audit_count case.evidence CASE-1)
    "$CUTOFF" --json case show CASE-1 >"$WORK/case.json" 2>/dev/null
    before=$(jq '.evidence | length' "$WORK/case.json")
    run_killed "$PHASE" case evidence CASE-1 "$WORK/$name" --type application/octet-stream --note crash -- \
        -X POST -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/$name" \
        "http://127.0.0.1:\$ADM/v1/cases/CASE-1/evidence?name=$name&type=application/octet-stream&note=crash" || return
    verify_store || return
    snapshot
    "$CUTOFF" --json case show CASE-1 >"$WORK/case.json" 2>/dev/null
    local mine good after present=0
    mine=$(jq --arg f "$name" '[.evidence[] | select(.file == $f)] | length' "$WORK/case.json")
    good=$(jq --arg f "$name" --arg h "$sha" --argjson s "$size" \
        '[.evidence[] | select(.file == $f and .sha256 == $h and .size == $s)] | length' "$WORK/case.json")
    after=$(jq '.evidence | length' "$WORK/case.json")
    [ "$good" = 1 ] && present=1
    if { [ "$mine" = 0 ] || [ "$good" = 1 ]; } && [ "$after" = $((before + mine)) ] &&
        [ "$(audit_count case.evidence CASE-1)" = $((audits + present)) ]; then
        whole=$((whole + 1))
    else
        fail "the evidence is there with its hash and size, or not at all" "entries named $name: $mine, matching: $good" \
            "evidence $before -> $after, records $audits -> $(audit_count case.evidence CASE-1)"
    fi
    outcome $present
    rm -f "$WORK/$name"
}

# op_step MODE: the plan's next step (STEPS[NEXT] = "verb id file").
op_step() {
    local mode=$1 verb id file
    read -r verb id file <<<"${STEPS[$NEXT]}"
    PHASE="$mode.$verb"
    local from to args=() api=()
    case $verb in
    propose)
        from=absent to=draft
        args=(--actor alice action propose "$EP/$file")
        api=(-X POST -H 'Content-Type: application/json' --data-binary "@$EP/$file" "http://127.0.0.1:\$ADM/v1/actions") ;;
    approve)
        from=draft to=active
        args=(--actor bob action approve "$id")
        api=(-X POST "http://127.0.0.1:\$ADM/v1/actions/$id/approve") ;;
    lift)
        from=active to=lifted
        args=(--actor alice action lift "$id" --reason crash)
        api=(-X POST -H 'Content-Type: application/json' --data-binary '{"reason":"crash"}' \
            "http://127.0.0.1:\$ADM/v1/actions/$id/lift") ;;
    esac
    # The approval goes through bob's token: four eyes.
    OP_TOKEN=$ALICE
    [ "$verb" = approve ] && OP_TOKEN=$BOB
    run_killed "$PHASE" "${args[@]}" -- "${api[@]}" || return
    verify_store || return
    snapshot
    local now present=0
    now=$(action_state "$id")
    # "expired" is how an approved action whose schedule has ended reads.
    [ "$now" = expired ] && now=active
    [ "$now" = "$to" ] && present=1
    if { [ "$now" = "$from" ] || [ $present = 1 ]; } && [ "$(audit_count "action.$verb" "$id")" = $present ]; then
        whole=$((whole + 1))
    else
        fail "$id is $from or $to, with its record exactly when $to" "state: $now" \
            "action.$verb records: $(audit_count "action.$verb" "$id")"
    fi
    outcome $present
    [ $present = 1 ] && NEXT=$((NEXT + 1))
}

# ---- episodes ----------------------------------------------------------------------------------
max_rounds=$((4 * KILLS + 40))
seed=$first_seed
START=$SECONDS
while [ $kills -lt "$KILLS" ] && [ $rounds -lt $max_rounds ]; do
    EP="$WORK/seed-$seed"
    mkdir -p "$EP"
    export CUTOFF_DB="$EP/cutoff.db"
    PHASE=setup
    if ! "$SCENARIO" "$seed" "$EP" 200 2>"$EP/scenario.err"; then
        fail "scenario written" "$(cat "$EP/scenario.err")"
        break
    fi
    run_cutoff init && run_cutoff catalog load "$EP/catalog.json" && run_cutoff nodes import "$EP/nodes.jsonl" &&
        run_cutoff --actor alice case open --id CASE-1 --title "crash $seed" --scope ten-0
    [ "$STATUS" -eq 0 ] || { fail "the episode's database is prepared" "$ERR"; break; }
    snapshot
    cp "$EP/catalog.json" "$WORK/catalog.cur"
    cp "$EP/queries.tsv" "$EP/scenario-queries.tsv"
    cp "$EP/expected.tsv" "$EP/scenario-expected.tsv"
    STEPS=()
    while IFS=$'\t' read -r file state id; do
        STEPS+=("propose $id $file")
        case $state in
        active) STEPS+=("approve $id -") ;;
        lifted) STEPS+=("approve $id -" "lift $id -") ;;
        esac
    done <"$EP/plan.tsv"
    NEXT=0 turn=0
    episodes=$((episodes + 1))
    while [ $NEXT -lt ${#STEPS[@]} ] && [ $kills -lt "$KILLS" ] && [ $rounds -lt $max_rounds ]; do
        rounds=$((rounds + 1))
        mode=$([ $((RANDOM % 2)) = 0 ] && echo cli || echo api)
        # Every other round a plan step; in between the other operations in turn.
        if [ $((rounds % 2)) = 0 ]; then
            op_step $mode
        else
            turn=$((turn + 1))
            case $((turn % 4)) in
            0) op_nodes $mode ;;
            1) op_catalog $mode ;;
            2) op_case $mode ;;
            3) op_evidence $mode ;;
            esac
        fi
        [ -s "$WORK/actions.json" ] && verify_decisions
    done
    # A finished plan: the scenario's own requests and answers.
    if [ $NEXT -ge ${#STEPS[@]} ]; then
        PHASE=final
        run_cutoff check --batch "$EP/scenario-queries.tsv"
        if [ "$STATUS" -eq 0 ] && [ "$OUT" = "$(cat "$EP/scenario-expected.tsv")" ]; then
            ok "seed $seed: after $rounds rounds the plan is carried out and every decision is the scenario's"
        else
            fail "the carried-out plan decides as the scenario expects" "exit $STATUS: $ERR"
        fi
    fi
    rm -rf "$EP"
    seed=$((seed + 1))
done
ELAPSED=$((SECONDS - START))

# ---- the count -----------------------------------------------------------------------------------
echo "# $kills kills hit an operation in $rounds rounds, $episodes episodes, ${ELAPSED}s"
printf '# %-20s %5s %7s %8s %6s\n' phase hits absent present late
for p in $(printf '%s\n' "${!HITS[@]}" "${!LATE[@]}" | sort -u); do
    printf '# %-20s %5d %7d %8d %6d\n' "$p" "${HITS[$p]:-0}" "${ABSENT[$p]:-0}" "${PRESENT[$p]:-0}" "${LATE[$p]:-0}"
done
absent_total=0 present_total=0
for p in "${!ABSENT[@]}"; do absent_total=$((absent_total + ABSENT[$p])); done
for p in "${!PRESENT[@]}"; do present_total=$((present_total + PRESENT[$p])); done
echo "# outcome of the kills that hit: $absent_total absent (before commit), $present_total present (after commit)"
echo "# audit verify passed $verified times; $whole operations wholly present or absent; $agreed decision sets agree"
spools=$(find "$WORK/tmp" -type f | wc -l)
echo "# upload spool files in TMPDIR at the end (the last killed daemon's at most): $spools"
echo "result crash_kill kills=$kills rounds=$rounds episodes=$episodes absent=$absent_total present=$present_total" \
    "verified=$verified whole=$whole agreed=$agreed failures=$failures seconds=$ELAPSED spools=$spools"

if [ "$kills" -ge "$KILLS" ]; then ok "$kills kills hit an operation (wanted $KILLS)"
else not_ok "$kills kills hit an operation (wanted $KILLS) in $rounds rounds"; fi
expect_eq "every round: the store opens, audit verify passes, the operation is whole, decisions agree" \
    "0 failures" "$failures failures"
[ $((absent_total + present_total)) -gt 0 ] && [ "$verified" -ge "$kills" ] && ok "every kill was followed by the checks" ||
    not_ok "every kill was followed by the checks" "verified $verified, kills $kills"
finish
