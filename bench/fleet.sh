#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The fleet benchmarks (the "Fleet" section of BENCHMARKS.md): several
# cutoffd on one store, PostgreSQL (a throwaway server of
# tests/support/pg.sh) next to SQLite in the same run.
#
#   propagation  $FLEET_NODES cutoffd on one store under decision load
#                (wrk, one thread per node, allowed requests of the
#                reference case); $FLEET_CHANGES changes (approve, lift,
#                approve ... of drafts of EA-1) through node 1's admin API;
#                for each, the time from the API's answer (the commit) to
#                the first answer of the LAST node that decides by it
#                (build/bench/effect_latency asks every node back to back)
#   cold start   a new cutoffd on a store of 1M (and 10M) subscriptions with
#                the day's four actions: exec to /readyz 200; and
#                cutoff_db_load_tree + cutoff_db_snapshot in process
#                (bench/store load, with the store's own read of the rows as
#                its baseline)
#   join         decisions/s of a running node (wrk) while a second node
#                cold-starts on the same store, against the same window
#                without it, interleaved
#   import       cutoff nodes import of 1M (and 10M) node lines into an
#                empty store, against sqlite3 .import and psql \copy of the
#                same rows as CSV into a table with the store's primary key
#   http         bench/http.sh on a PostgreSQL store, against the same on
#                SQLite (bench/run.sh passes its own SQLite run in
#                FLEET_HTTP_SQLITE; alone, this script runs both)
#
#   bash bench/fleet.sh [BUILD [OUT_DIR]]      (bench/run.sh calls it)
#
# Settings (environment): BENCH_SCALE (full: 1M and 10M; small: 1M only,
# one import run, the HTTP pass short), FLEET_NODES (5), FLEET_CHANGES (200),
# FLEET_RUNS (3; the runs of every import, cold start and join figure),
# FLEET_DATA (a directory with catalog.json and nodes-N.jsonl / .csv to use
# instead of generating them), FLEET_SKIP (names of parts to leave out:
# "propagation cold import http"), BENCH_SEED (1), BENCH_KEEP=1 keeps the
# data. Raw output goes to OUT_DIR (default bench/out/<date>-fleet/), every
# file named fleet-*; the table to OUT_DIR/fleet-table.md and standard
# output. The PostgreSQL server runs with fsync off (a test cluster) while
# SQLite keeps synchronous=FULL: the durability of the two is not the same.
# Nothing here asserts a speed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${1:-build}
OUT=${2:-bench/out/$(date -u +%Y%m%d-%H%M%S)-fleet}
SCALE=${BENCH_SCALE:-full}
case $SCALE in
full) SIZES="1000000 10000000" IMPORT_RUNS=${FLEET_RUNS:-3} ;;
small) SIZES="1000000" IMPORT_RUNS=${FLEET_RUNS:-1} ;;
*) echo "fleet bench: BENCH_SCALE is full or small, not '$SCALE'" >&2; exit 2 ;;
esac
RUNS=${FLEET_RUNS:-3}
NODES=${FLEET_NODES:-5}
CHANGES=${FLEET_CHANGES:-200}
PROP_STORES=${FLEET_PROP_STORES:-pg sqlite}
LOAD_CONNS=${FLEET_LOAD_CONNS:-2}
POLL_US=${FLEET_POLL_US:-100}
ROUNDS=$(((CHANGES + 1) / 2))
SEED=${BENCH_SEED:-1}
SKIP=" ${FLEET_SKIP:-} "
CASE=$ROOT/examples/reference-case

for tool in cutoff cutoffd bench/gen bench/store bench/effect_latency; do
    [ -x "$BUILD/$tool" ] || { echo "fleet bench: $BUILD/$tool is missing (run make first)" >&2; exit 1; }
done
for tool in wrk curl jq sqlite3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "fleet bench: $tool is needed" >&2; exit 1; }
done
source "$ROOT/tests/support/pg.sh"
pg_installed || { echo "fleet bench: PostgreSQL 15 is needed ($PG_BIN/postgres)" >&2; exit 1; }

mkdir -p "$OUT/fleet-bin" "$OUT/fleet-data"
OUT=$(cd "$OUT" && pwd)
DATA=$OUT/fleet-data BIN=$OUT/fleet-bin
# Copies, so that a rebuild during the run cannot swap the programs.
for tool in cutoff cutoffd bench/gen bench/store bench/effect_latency; do
    cp "$BUILD/$tool" "$BIN/" || { echo "fleet bench: cannot copy $tool" >&2; exit 1; }
done
cp "$BUILD"/libcutoff.so.* "$BIN/" || { echo "fleet bench: cannot copy libcutoff.so" >&2; exit 1; }
CUTOFF=$BIN/cutoff CUTOFFD=$BIN/cutoffd GEN=$BIN/gen STORE=$BIN/store EFFECT=$BIN/effect_latency
unset CUTOFF_SERVER CUTOFF_TOKEN CUTOFF_TOKEN_FILE CUTOFF_DB CUTOFF_KEY_FILE
export CUTOFF_ACTOR=bench-operator
START=$(date +%s)
log() { printf '[fleet bench %4ds] %s\n' $(($(date +%s) - START)) "$*" >&2; }
fail() { log "FAILED: $*"; echo "$*" >>"$OUT/fleet-failures.txt"; }
skipped() { [[ $SKIP == *" $1 "* ]]; }

declare -A PID=() DEC=() ADM=()
WRK_PID=
# By PID only: a bare `wait` would wait for the PostgreSQL server too.
cleanup() {
    [ -n "$WRK_PID" ] && kill "$WRK_PID" 2>/dev/null && wait "$WRK_PID" 2>/dev/null
    local n
    for n in "${!PID[@]}"; do kill "${PID[$n]}" 2>/dev/null && wait "${PID[$n]}" 2>/dev/null; done
    pg_stop
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$DATA" "$BIN"
}
trap cleanup EXIT

{
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "scale=$SCALE nodes=$NODES changes=$CHANGES runs=$RUNS import_runs=$IMPORT_RUNS seed=$SEED"
    echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "cpus=$(nproc)"
    echo "memory=$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
    echo "postgresql=$("$PG_BIN/postgres" --version | awk '{print $3}')"
    echo "sqlite=$(sqlite3 --version | cut -d' ' -f1)"
    echo "commit=$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo '+changes')"
    echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/fleet-machine.txt"

# ---- the PostgreSQL server and the stores -------------------------------------------------
log "starting PostgreSQL"
pg_start "$DATA/pg" >/dev/null || { fail "PostgreSQL does not start"; exit 1; }
pg_admin() { PG_DATABASE_NAME=postgres pg_psql "$@"; }
# store_new KIND NAME: an empty store (SQLite file or PostgreSQL database),
# its location on stdout.
store_new() {
    case $1 in
    sqlite)
        rm -f "$DATA/$2.db" "$DATA/$2.db-wal" "$DATA/$2.db-shm"
        echo "$DATA/$2.db"
        ;;
    pg)
        pg_admin "DROP DATABASE IF EXISTS $2" >/dev/null && pg_admin "CREATE DATABASE $2" >/dev/null ||
            { fail "CREATE DATABASE $2"; return 1; }
        echo "postgresql://postgres@127.0.0.1:$PG_PORT/$2"
        ;;
    esac
}
store_drop() {
    case $1 in
    sqlite) rm -f "$2" "$2-wal" "$2-shm" ;;
    pg) pg_admin "DROP DATABASE IF EXISTS ${2##*/}" >/dev/null ;;
    esac
}
kind_name() { [ "$1" = pg ] && echo PostgreSQL || echo SQLite; }

# ---- nodes ---------------------------------------------------------------------------------------
usec() { echo "${EPOCHREALTIME//[!0-9]/}"; }
# start_node NAME LOCATION: cutoffd as node NAME on the store; returns once
# it wrote its ports (not once it is ready), 1 if it exited first.
start_node() {
    local name=$1 d a
    jq -n --arg db "$2" --arg tokens "$DATA/tokens" --arg log "$DATA/$name.log" --arg id "node-$name" \
        --arg key "$DATA/fleet.key" '{
        database: $db, decision_listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0",
        tokens_file: $tokens, log_file: $log, node_id: $id, signing_key: $key, sign_interval_s: 0,
        limits: {threads: 2, max_connections: 4096, timeout_s: 60}}' >"$DATA/$name.json"
    rm -f "$DATA/$name.ports"
    "$CUTOFFD" --config "$DATA/$name.json" --port-file "$DATA/$name.ports" 2>"$DATA/$name.err" &
    PID[$name]=$!
    local until=$(($(date +%s) + 600))
    while [ "$(date +%s)" -lt "$until" ]; do
        [ -s "$DATA/$name.ports" ] && break
        kill -0 "${PID[$name]}" 2>/dev/null || { unset "PID[$name]"; return 1; }
        sleep 0.01
    done
    [ -s "$DATA/$name.ports" ] || return 1
    read -r d a <"$DATA/$name.ports"
    DEC[$name]=$d ADM[$name]=$a
}
readyz() { curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:${DEC[$1]}/readyz"; }
# wait_ready NAME [SECONDS]: polls /readyz every 10 ms; 1 on timeout or exit.
wait_ready() {
    local until=$(($(date +%s) + ${2:-600}))
    while [ "$(readyz "$1")" != 200 ]; do
        kill -0 "${PID[$1]}" 2>/dev/null || return 1
        [ "$(date +%s)" -lt "$until" ] || return 1
        sleep 0.01
    done
}
stop_node() {
    [ -n "${PID[$1]:-}" ] || return 0
    kill "${PID[$1]}" 2>/dev/null
    wait "${PID[$1]}" 2>/dev/null
    unset "PID[$1]"
}
decide() {
    curl -s -m 2 -X POST -H 'Content-Type: application/json' --data-binary "$2" \
        "http://127.0.0.1:${DEC[$1]}/v1/check"
}
# wrk_rps FILE / wrk_p99 FILE (ms) / wrk_errors FILE
wrk_rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
wrk_p99() {
    awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        $1 == "99%" { print ms($2) }' "$1"
}
wrk_errors() { awk '/Socket errors:/ { gsub(",", ""); e = $4 + $6 + $8 + $10 } END { print e + 0 }' "$1"; }
TOKEN=$("$CUTOFF" token create --principal bench-approver --roles approver --tokens-file "$DATA/tokens" 2>/dev/null)
[ -n "$TOKEN" ] || { fail "cutoff token create"; exit 1; }

# ---- data ---------------------------------------------------------------------------------------
# nodes-N.jsonl / .csv and catalog.json from FLEET_DATA when it has them.
data_file() {
    if [ -n "${FLEET_DATA:-}" ] && [ -s "$FLEET_DATA/$1" ]; then echo "$FLEET_DATA/$1"; else echo "$DATA/$1"; fi
}
need_data() { # need_data N
    local f
    [ -s "$(data_file catalog.json)" ] || "$GEN" catalog >"$DATA/catalog.json"
    f=$(data_file "nodes-$1.jsonl")
    [ -s "$f" ] || { log "generating $1 subscriptions"; "$GEN" nodes --subs "$1" --seed "$SEED" >"$f"; }
    f=$(data_file "nodes-$1.csv")
    [ -s "$f" ] || "$GEN" nodes --subs "$1" --seed "$SEED" --csv >"$f"
}

# ===================================================================================================
# 1. propagation
# ===================================================================================================
WRITE='{"subscription":"sub-8200-storage","action":"storage.write","region":"eu-netherlands"}'
LOAD_BODY='{"subscription":"sub-hq-office","action":"storage.read","region":"eu-netherlands"}'
propagation() { # propagation KIND
    local kind=$1 loc ports=() i n
    loc=$(store_new "$kind" prop) || return 1
    log "propagation, $(kind_name "$kind"): the reference case, $ROUNDS drafts, $NODES nodes"
    { "$CUTOFF" --db "$loc" init && "$CUTOFF" --db "$loc" catalog load "$CASE/catalog.json" &&
        "$CUTOFF" --db "$loc" nodes import "$CASE/nodes.jsonl" &&
        "$CUTOFF" --db "$loc" case open --id CASE-7 --title "Reported surveillance" --scope unit-8200; } \
        >"$OUT/fleet-prop-$kind-setup.txt" 2>&1 || { fail "propagation setup on $kind"; return 1; }
    # Drafts: EA-I* for the pass without load, EA-F* for the one under load.
    for i in $(seq "$ROUNDS"); do
        for p in I F; do
            jq ".id = \"EA-$p$i\"" "$CASE/action.json" >"$DATA/flip.json"
            "$CUTOFF" --db "$loc" action propose "$DATA/flip.json" >/dev/null 2>>"$OUT/fleet-prop-$kind-setup.txt" ||
                { fail "propose EA-$p$i on $kind"; return 1; }
        done
    done
    for i in $(seq "$NODES"); do
        start_node "p$i" "$loc" || { fail "node p$i on $kind does not start: $(tail -2 "$DATA/p$i.err")"; return 1; }
    done
    for i in $(seq "$NODES"); do
        wait_ready "p$i" 60 || { fail "node p$i on $kind is not ready"; return 1; }
        ports+=("${DEC[p$i]}")
    done
    # Sanity: the load is allowed, the probe too before any approval.
    for i in $(seq "$NODES"); do
        decide "p$i" "$LOAD_BODY" | grep -q '"decision":"allow"' || fail "the load request is not allowed on node p$i"
        decide "p$i" "$WRITE" | grep -q '"decision":"allow"' || fail "the probe is not allowed on node p$i"
    done
    local port_args=()
    for i in $(seq "$NODES"); do port_args+=(--port "${DEC[p$i]}"); done
    # The baseline: the same changes with no decision load.
    log "propagation, $(kind_name "$kind"): $((2 * ROUNDS)) changes through node p1's admin API, no load"
    "$EFFECT" "${port_args[@]}" --probe "$WRITE" --prefix EA-I --rounds "$ROUNDS" --poll-us "$POLL_US" --admin-port "${ADM[p1]}" \
        --token "$TOKEN" >"$OUT/fleet-prop-$kind-idle.txt" 2>&1 || fail "effect_latency on $kind, no load (see $OUT/fleet-prop-$kind-idle.txt)"
    FLEET_PORTS="${ports[*]}" FLEET_BODY=$LOAD_BODY wrk -t"$NODES" -c$((LOAD_CONNS * NODES)) -d3600s --timeout 2s --latency \
        -s "$ROOT/bench/fleet_load.lua" "http://127.0.0.1:${ports[0]}" >"$OUT/fleet-prop-$kind-wrk.txt" 2>&1 &
    WRK_PID=$!
    sleep 2
    log "propagation, $(kind_name "$kind"): $((2 * ROUNDS)) changes through node p1's admin API, under load"
    "$EFFECT" "${port_args[@]}" --probe "$WRITE" --prefix EA-F --rounds "$ROUNDS" --poll-us "$POLL_US" --admin-port "${ADM[p1]}" \
        --token "$TOKEN" >"$OUT/fleet-prop-$kind.txt" 2>&1 || fail "effect_latency on $kind (see $OUT/fleet-prop-$kind.txt)"
    kill -INT "$WRK_PID" 2>/dev/null
    wait "$WRK_PID" 2>/dev/null
    WRK_PID=
    for i in $(seq "$NODES"); do
        curl -s "http://127.0.0.1:${DEC[p$i]}/metrics" | awk -v n="p$i" \
            '$1 == "cutoff_store_wakeups_total" || $1 == "cutoff_store_safety_reads_total" || $1 == "cutoff_applied_seq" {
                printf "info node=%s %s=%s\n", n, $1, $2 }'
    done >>"$OUT/fleet-prop-$kind.txt"
    for i in $(seq "$NODES"); do stop_node "p$i"; done
    store_drop "$kind" "$loc"
}
if ! skipped propagation; then
    for kind in $PROP_STORES; do propagation "$kind"; done
fi

# ===================================================================================================
# 2 and 3. imports, then cold starts and a node joining on the last imported store
# ===================================================================================================
seconds_of() {
    awk -F': ' '/Elapsed \(wall clock\)/ {
        n = split($2, p, ":"); s = 0
        for (i = 1; i <= n; i++) s = s * 60 + p[i]
        print s }' "$1"
}
maxrss_of() { awk -F': ' '/Maximum resident set size/ {print $2 * 1024}' "$1"; }
# timed NAME CMD...: /usr/bin/time -v of CMD; "SECONDS MAXRSS" appended to
# $OUT/fleet-NAME.txt, the output of the command in fleet-NAME.out.
timed() {
    local name=$1
    shift
    if /usr/bin/time -v -o "$OUT/fleet-$name.time" "$@" >>"$OUT/fleet-$name.out" 2>&1; then
        echo "$(seconds_of "$OUT/fleet-$name.time") $(maxrss_of "$OUT/fleet-$name.time")" >>"$OUT/fleet-$name.txt"
    else
        fail "$name (see $OUT/fleet-$name.out)"
    fi
}
# import_once N KIND: cutoff nodes import into an empty store, then the
# baseline of that backend; the store stays, as imp-N-KIND.
import_once() {
    local n=$1 kind=$2 loc base
    loc=$(store_new "$kind" "imp_${n}_$kind") || return 1
    { "$CUTOFF" --db "$loc" init && "$CUTOFF" --db "$loc" catalog load "$(data_file catalog.json)"; } >/dev/null ||
        { fail "init $kind $n"; return 1; }
    sync
    timed "import-$n-$kind-cutoff" "$CUTOFF" --db "$loc" nodes import "$(data_file "nodes-$n.jsonl")"
    sync
    case $kind in
    sqlite) # as bench/run.sh: WAL, full sync, the store's bulk page cache, one transaction
        base=$DATA/base.db
        rm -f "$base" "$base-wal" "$base-shm"
        timed "import-$n-$kind-base" sqlite3 "$base" \
            "PRAGMA journal_mode=WAL" "PRAGMA synchronous=FULL" "PRAGMA cache_size=-1048576" \
            "CREATE TABLE nodes(id TEXT PRIMARY KEY NOT NULL, kind INTEGER NOT NULL, parent TEXT, name TEXT, plan TEXT) WITHOUT ROWID" \
            ".mode csv" ".import $(data_file "nodes-$n.csv") nodes"
        rm -f "$base" "$base-wal" "$base-shm"
        ;;
    pg) # psql's \copy of the CSV (COPY FROM STDIN, as the store) into the same primary key
        store_new pg base >/dev/null || return 1
        PG_DATABASE_NAME=base pg_psql \
            "CREATE TABLE nodes(id text PRIMARY KEY, kind integer NOT NULL, parent text, name text, plan text)" >/dev/null
        timed "import-$n-$kind-base" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" \
            -U postgres -d base -c "\\copy nodes FROM '$(data_file "nodes-$n.csv")' WITH (FORMAT csv)"
        pg_admin "DROP DATABASE base" >/dev/null
        ;;
    esac
}
# cold_start N KIND LOC: bench/store load, then RUNS times a new cutoffd
# from exec to /readyz 200.
cold_start() {
    local n=$1 kind=$2 loc=$3 r t0 t1
    log "cold start, $n subscriptions, $(kind_name "$kind"): store load, $RUNS runs"
    "$STORE" load --db "$loc" --runs "$RUNS" >"$OUT/fleet-load-$n-$kind.txt" 2>&1 || fail "store load $n $kind"
    for r in $(seq "$RUNS"); do
        t0=$(usec)
        start_node cold "$loc" && wait_ready cold 600 || { fail "cold start $n $kind run $r: $(tail -2 "$DATA/cold.err")"; stop_node cold; continue; }
        t1=$(usec)
        echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a) / 1e6}') $(awk '/^VmHWM:/ {print $2 * 1024}' "/proc/${PID[cold]}/status")" \
            >>"$OUT/fleet-cold-$n-$kind.txt"
        stop_node cold
    done
}
# join N KIND LOC: node A serves; wrk on it for a window as long as a cold
# start (at least 3 s), alone and while node B cold-starts, interleaved.
join_under_load() {
    local n=$1 kind=$2 loc=$3 window r t0 t1
    window=$(awk '{print $1}' "$OUT/fleet-cold-$n-$kind.txt" 2>/dev/null | sort -g | awk '{v[NR] = $1} END {
        w = NR ? int(v[int((NR + 1) / 2)]) + 2 : 10; print w < 3 ? 3 : w }')
    log "a node joining under load, $n subscriptions, $(kind_name "$kind"): $RUNS × 2 windows of $window s"
    start_node a "$loc" && wait_ready a 600 || { fail "join: node a on $kind does not start"; stop_node a; return 1; }
    echo "info window_s=$window" >"$OUT/fleet-join-$n-$kind.txt"
    for r in $(seq "$RUNS"); do
        FLEET_PORTS=${DEC[a]} FLEET_BODY=$LOAD_BODY wrk -t1 -c16 -d"${window}s" --timeout 2s --latency \
            -s "$ROOT/bench/fleet_load.lua" "http://127.0.0.1:${DEC[a]}" >"$OUT/fleet-join-$n-$kind-alone-$r.wrk" 2>&1
        FLEET_PORTS=${DEC[a]} FLEET_BODY=$LOAD_BODY wrk -t1 -c16 -d"${window}s" --timeout 2s --latency \
            -s "$ROOT/bench/fleet_load.lua" "http://127.0.0.1:${DEC[a]}" >"$OUT/fleet-join-$n-$kind-join-$r.wrk" 2>&1 &
        WRK_PID=$!
        t0=$(usec)
        if start_node b "$loc" && wait_ready b 600; then
            t1=$(usec)
            awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a) / 1e6}' >"$OUT/fleet-join-$n-$kind-join-$r.ready"
        else
            fail "join: node b on $kind run $r"
        fi
        wait "$WRK_PID"
        WRK_PID=
        stop_node b
        echo "$(wrk_rps "$OUT/fleet-join-$n-$kind-alone-$r.wrk") $(wrk_rps "$OUT/fleet-join-$n-$kind-join-$r.wrk")" \
            "$(wrk_p99 "$OUT/fleet-join-$n-$kind-alone-$r.wrk") $(wrk_p99 "$OUT/fleet-join-$n-$kind-join-$r.wrk")" \
            "$(cat "$OUT/fleet-join-$n-$kind-join-$r.ready" 2>/dev/null)" >>"$OUT/fleet-join-$n-$kind.txt"
    done
    stop_node a
}

imported() { # imported N KIND: where import_once left the store
    if [ "$2" = pg ]; then echo "postgresql://postgres@127.0.0.1:$PG_PORT/imp_${1}_pg"; else echo "$DATA/imp_${1}_sqlite.db"; fi
}
if ! skipped import || ! skipped cold; then
    for n in $SIZES; do
        need_data "$n"
        if ! skipped import; then
            # The runs of the two backends interleaved, so that the noise of
            # the machine falls on both.
            for r in $(seq "$IMPORT_RUNS"); do
                for kind in sqlite pg; do
                    log "import $n nodes into $(kind_name "$kind"), run $r of $IMPORT_RUNS"
                    import_once "$n" "$kind"
                done
            done
        else # cold starts only: one import each, not measured
            for kind in sqlite pg; do
                loc=$(store_new "$kind" "imp_${n}_$kind") && "$CUTOFF" --db "$loc" init >/dev/null &&
                    "$CUTOFF" --db "$loc" catalog load "$(data_file catalog.json)" >/dev/null &&
                    "$CUTOFF" --db "$loc" nodes import "$(data_file "nodes-$n.jsonl")" >/dev/null || fail "import $n $kind"
            done
        fi
        if ! skipped cold; then
            for kind in sqlite pg; do
                loc=$(imported "$n" "$kind")
                "$STORE" setup --db "$loc" --subs "$n" --seed "$SEED" >"$OUT/fleet-setup-$n-$kind.txt" 2>&1 ||
                    { fail "store setup $n $kind"; continue; }
                cold_start "$n" "$kind" "$loc"
            done
            # A node joining: on the largest store, each backend.
            if [ "$n" = "${SIZES##* }" ]; then
                for kind in pg sqlite; do join_under_load "$n" "$kind" "$(imported "$n" "$kind")"; done
            fi
        fi
        for kind in sqlite pg; do store_drop "$kind" "$(imported "$n" "$kind")"; done
    done
fi

# ===================================================================================================
# 4. decisions over HTTP with each store
# ===================================================================================================
HTTP_PG=$OUT/http-pg HTTP_SQ=${FLEET_HTTP_SQLITE:-$OUT/http-sqlite}
if ! skipped http; then
    loc=$(store_new pg http) && {
        log "bench/http.sh on PostgreSQL"
        # Once more if it fails: nginx may find a port it picked taken.
        HTTP_BENCH_DB=$loc bash bench/http.sh "$BUILD" "$HTTP_PG" >"$OUT/fleet-http-pg.log" 2>&1 ||
            { rm -rf "$HTTP_PG" && store_drop pg "$loc" && loc=$(store_new pg http) &&
                HTTP_BENCH_DB=$loc bash bench/http.sh "$BUILD" "$HTTP_PG" >>"$OUT/fleet-http-pg.log" 2>&1; } ||
            fail "bench/http.sh on PostgreSQL (see $OUT/fleet-http-pg.log)"
        store_drop pg "$loc"
    }
    if [ -z "${FLEET_HTTP_SQLITE:-}" ]; then
        log "bench/http.sh on SQLite"
        bash bench/http.sh "$BUILD" "$HTTP_SQ" >"$OUT/fleet-http-sqlite.log" 2>&1 ||
            { rm -rf "$HTTP_SQ" && bash bench/http.sh "$BUILD" "$HTTP_SQ" >>"$OUT/fleet-http-sqlite.log" 2>&1; } ||
            fail "bench/http.sh on SQLite (see $OUT/fleet-http-sqlite.log)"
    fi
fi

echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/fleet-machine.txt"
echo "seconds=$(($(date +%s) - START))" >>"$OUT/fleet-machine.txt"

# ===================================================================================================
# the table
# ===================================================================================================
# res FILE NAME [FIELD]: a field (median by default) of a result line.
res() {
    [ -f "$1" ] || return 0
    awk -v n="$2" -v f="${3:-median}" '$1 == "result" {
        delete kv
        for (i = 2; i <= NF; i++) { split($i, a, "="); kv[a[1]] = a[2] }
        if (kv["name"] == n) { print kv[f]; exit } }' "$1"
}
# col FILE COLUMN: "median min max" of a column of numbers.
col() {
    [ -s "$1" ] || return 0
    awk -v c="$2" '$1 != "info" {print $c}' "$1" | grep . | sort -g | awk '{v[NR] = $1} END {
        if (NR == 0) exit
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        print m, v[1], v[NR] }'
}
first() { set -- $1; echo "${1:-}"; }
fmt() {
    [ -n "${1:-}" ] || { echo "n/a"; return; }
    awk -v v="$1" -v u="$2" 'BEGIN {
        if (u == "ms") printf "%.1f ms", v
        else if (u == "s") printf "%.2f s", v
        else if (u == "krps") printf "%.1f k/s", v / 1000
        else if (u == "lines") printf "%.2f M lines/s", v / 1e6
        else if (u == "MiB") printf "%.0f MiB", v / 1048576
        else printf "%s", v }'
}
spread() { set -- $1 "$2"; [ $# -ge 4 ] && echo "$(fmt "$2" "$4") – $(fmt "$3" "$4")" || echo "n/a"; }
ratio() { [ -n "${1:-}" ] && [ -n "${2:-}" ] && awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}' || echo "n/a"; }
met() { [ -n "${1:-}" ] || { echo "n/a"; return; }; awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
    ok = op == ">=" ? v >= l : v <= l; print ok ? "yes" : "**NO**" }'; }
name_of() { case $1 in 1000000) echo 1M ;; 10000000) echo 10M ;; *) echo "$1" ;; esac; }
big_note() { [ "$1" = 10000000 ] || echo " (target is for 10M)"; }

TABLE=$OUT/fleet-table.md
{
    echo "| commit → the last of $NODES nodes decides by it | median | p99 | max | baseline: the same fleet without load, median / p99 | target | met |"
    echo "|---|---|---|---|---|---|---|"
    for kind in pg sqlite; do
        f=$OUT/fleet-prop-$kind.txt i=$OUT/fleet-prop-$kind-idle.txt
        [ -f "$f" ] || continue
        for v in approve lift; do
            echo "| $(kind_name $kind): admin API \`$v\` of node 1 answers → the last node answers by it, under load ($ROUNDS changes) |" \
                "$(fmt "$(res "$f" effect.api_$v)" ms) | $(fmt "$(res "$f" effect.api_$v p99)" ms) |" \
                "$(fmt "$(res "$f" effect.api_$v max)" ms) | $(fmt "$(res "$i" effect.api_$v)" ms) / $(fmt "$(res "$i" effect.api_$v p99)" ms) |" \
                "p99 ≤ 100 ms | $(met "$(res "$f" effect.api_$v p99)" "<=" 100) |"
        done
        echo "| $(kind_name $kind): the admin call itself, approve / lift, under load | $(fmt "$(res "$f" commit.api_approve)" ms) / $(fmt "$(res "$f" commit.api_lift)" ms) |" \
            "$(fmt "$(res "$f" commit.api_approve p99)" ms) / $(fmt "$(res "$f" commit.api_lift p99)" ms) |" \
            "$(fmt "$(res "$f" commit.api_approve max)" ms) / $(fmt "$(res "$f" commit.api_lift max)" ms) |" \
            "$(fmt "$(res "$i" commit.api_approve)" ms) / $(fmt "$(res "$i" commit.api_approve p99)" ms) (approve) | – | – |"
    done
    echo
    for kind in pg sqlite; do
        f=$OUT/fleet-prop-$kind.txt w=$OUT/fleet-prop-$kind-wrk.txt
        [ -f "$f" ] || continue
        echo "- $(kind_name $kind): load during the changes $(fmt "$(wrk_rps "$w")" krps) of \`/v1/check\` over the $NODES nodes" \
            "(p99 $(fmt "$(wrk_p99 "$w")" ms), socket errors $(wrk_errors "$w"));" \
            "$(grep -h '^info mode=' "$f" | cut -d' ' -f2-); wake-ups of the nodes:" \
            "$(awk '$3 ~ /^cutoff_store_wakeups_total=/ {split($3, a, "="); printf "%s%s", s, a[2]; s = ", "}' "$f")"
    done
    echo
    echo "| what | SQLite: median | spread (min – max) | PostgreSQL: median | spread (min – max) | baseline, same run | target | met |"
    echo "|---|---|---|---|---|---|---|---|"
    for n in $SIZES; do
        N=$(name_of "$n")
        lines=$(wc -l <"$(data_file "nodes-$n.jsonl")" 2>/dev/null | tr -d ' ')
        [ -f "$OUT/fleet-import-$n-sqlite-cutoff.txt" ] || [ -f "$OUT/fleet-import-$n-pg-cutoff.txt" ] || continue
        sc=$(col "$OUT/fleet-import-$n-sqlite-cutoff.txt" 1) pc=$(col "$OUT/fleet-import-$n-pg-cutoff.txt" 1)
        sb=$(col "$OUT/fleet-import-$n-sqlite-base.txt" 1) pb=$(col "$OUT/fleet-import-$n-pg-base.txt" 1)
        worst=$(printf '%s\n%s\n' "$(first "$sc")" "$(first "$pc")" | sort -g | tail -1)
        echo "| \`cutoff nodes import\`, $N subs ($lines lines), empty store, wall | $(fmt "$(first "$sc")" s) | $(spread "$sc" s) |" \
            "$(fmt "$(first "$pc")" s) | $(spread "$pc" s) |" \
            "\`sqlite3 .import\` $(fmt "$(first "$sb")" s); \`psql \\copy\` $(fmt "$(first "$pb")" s) |" \
            "≤ 30 s$(big_note "$n") | $(met "$worst" "<=" 30) |"
        rate() { [ -n "$2" ] && awk -v l="$lines" -v s="$2" 'BEGIN {print l / s}'; }
        echo "| … as a rate (cutoff ÷ its baseline) | $(fmt "$(rate x "$(first "$sc")")" lines) ($(ratio "$(first "$sb")" "$(first "$sc")")) | |" \
            "$(fmt "$(rate x "$(first "$pc")")" lines) ($(ratio "$(first "$pb")" "$(first "$pc")")) | |" \
            "$(fmt "$(rate x "$(first "$sb")")" lines) / $(fmt "$(rate x "$(first "$pb")")" lines) | – | – |"
        sr=$(col "$OUT/fleet-import-$n-sqlite-cutoff.txt" 2) pr=$(col "$OUT/fleet-import-$n-pg-cutoff.txt" 2)
        echo "| … max RSS of the import | $(fmt "$(first "$sr")" MiB) | | $(fmt "$(first "$pr")" MiB) | | – | – | – |"
    done
    for n in $SIZES; do
        N=$(name_of "$n")
        [ -f "$OUT/fleet-cold-$n-pg.txt" ] || [ -f "$OUT/fleet-cold-$n-sqlite.txt" ] || continue
        sc=$(col "$OUT/fleet-cold-$n-sqlite.txt" 1) pc=$(col "$OUT/fleet-cold-$n-pg.txt" 1)
        worst=$(printf '%s\n%s\n' "$(first "$sc")" "$(first "$pc")" | sort -g | tail -1)
        echo "| cold start, $N subs + 4 active actions: cutoffd exec → \`/readyz\` 200 | $(fmt "$(first "$sc")" s) | $(spread "$sc" s) |" \
            "$(fmt "$(first "$pc")" s) | $(spread "$pc" s) | – | ≤ 20 s$(big_note "$n") | $(met "$worst" "<=" 20) |"
        sl=$OUT/fleet-load-$n-sqlite.txt pl=$OUT/fleet-load-$n-pg.txt
        ts="$(res "$sl" store.load_total) $(res "$sl" store.load_total min) $(res "$sl" store.load_total max)"
        tp="$(res "$pl" store.load_total) $(res "$pl" store.load_total min) $(res "$pl" store.load_total max)"
        echo "| … \`cutoff_db_load_tree\` + \`cutoff_db_snapshot\` in process (\`bench/store load\`) | $(fmt "$(first "$ts")" s) | $(spread "$ts" s) |" \
            "$(fmt "$(first "$tp")" s) | $(spread "$tp" s) |" \
            "reading the rows: SQLite $(fmt "$(res "$sl" store.baseline_scan)" s), libpq \`COPY\` $(fmt "$(res "$pl" store.baseline_scan)" s) | – | – |"
        sr=$(col "$OUT/fleet-cold-$n-sqlite.txt" 2) pr=$(col "$OUT/fleet-cold-$n-pg.txt" 2)
        echo "| … peak RSS of the new cutoffd (VmHWM) | $(fmt "$(first "$sr")" MiB) | | $(fmt "$(first "$pr")" MiB) | | – | – | – |"
    done
    for n in $SIZES; do
        N=$(name_of "$n")
        [ -f "$OUT/fleet-join-$n-pg.txt" ] || continue
        for kind in sqlite pg; do
            f=$OUT/fleet-join-$n-$kind.txt
            alone=$(col "$f" 1) joined=$(col "$f" 2)
            eval "j_$kind=\"\$(fmt \"\$(first \"\$joined\")\" krps) vs \$(fmt \"\$(first \"\$alone\")\" krps) alone (\$(ratio \"\$(first \"\$joined\")\" \"\$(first \"\$alone\")\"))\""
            eval "js_$kind=\"with: \$(spread \"\$joined\" krps); alone: \$(spread \"\$alone\" krps)\""
        done
        echo "| decisions/s of a serving node ($N subs, wrk -t1 -c16) while a second node cold-starts, vs alone (ratio) |" \
            "${j_sqlite:-n/a} | ${js_sqlite:-n/a} | ${j_pg:-n/a} | ${js_pg:-n/a} | the same window without the new node | – | – |"
        ps=$(col "$OUT/fleet-join-$n-sqlite.txt" 4) pp=$(col "$OUT/fleet-join-$n-pg.txt" 4)
        as=$(col "$OUT/fleet-join-$n-sqlite.txt" 3) ap=$(col "$OUT/fleet-join-$n-pg.txt" 3)
        echo "| … p99 latency of the serving node, with / alone | $(fmt "$(first "$ps")" ms) / $(fmt "$(first "$as")" ms) | |" \
            "$(fmt "$(first "$pp")" ms) / $(fmt "$(first "$ap")" ms) | | – | – | – |"
        js=$(col "$OUT/fleet-join-$n-sqlite.txt" 5) jp=$(col "$OUT/fleet-join-$n-pg.txt" 5)
        echo "| … the joining node's own cold start, under that load | $(fmt "$(first "$js")" s) | $(spread "$js" s) |" \
            "$(fmt "$(first "$jp")" s) | $(spread "$jp" s) | – | – | – |"
    done
    # decisions over HTTP
    http_stat() { # DIR SCENARIO: median min max of requests/s over the runs
        for f in "$1"/wrk-"$2"-[0-9]*.txt; do [ -f "$f" ] && wrk_rps "$f"; done | sort -g | awk '{v[NR] = $1} END {
            if (NR == 0) exit; m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
    }
    if [ -d "$HTTP_PG" ] && [ -d "$HTTP_SQ" ]; then
        for s in check authz; do
            cs=$(http_stat "$HTTP_SQ" "$s") cp=$(http_stat "$HTTP_PG" "$s")
            ns=$(http_stat "$HTTP_SQ" nginx-204) np=$(http_stat "$HTTP_PG" nginx-204)
            label=$([ $s = check ] && echo "cutoffd \`POST /v1/check\` (bench/http.sh)" || echo "cutoffd \`GET /v1/authz\`")
            echo "| $label, ÷ nginx \`return 204\` of the same pass | $(fmt "$(first "$cs")" krps) ($(ratio "$(first "$cs")" "$(first "$ns")")) |" \
                "$(spread "$cs" krps) | $(fmt "$(first "$cp")" krps) ($(ratio "$(first "$cp")" "$(first "$np")")) | $(spread "$cp" krps) |" \
                "nginx $(fmt "$(first "$ns")" krps) (SQLite pass) / $(fmt "$(first "$np")" krps) (PostgreSQL pass) |" \
                "$([ $s = check ] && echo "PostgreSQL ≈ SQLite" || echo –) |" \
                "$([ $s = check ] && [ -n "$(first "$cp")" ] && [ -n "$(first "$cs")" ] && awk -v a="$(first "$cp")" -v b="$(first "$ns")" \
                    -v c="$(first "$cs")" -v d="$(first "$np")" 'BEGIN { r = (a / d) / (c / b); printf "%s (%.2f of SQLite, nginx-relative)", (r >= 0.9 ? "yes" : "**NO**"), r }' || echo –) |"
        done
    fi
    echo
    [ -s "$OUT/fleet-failures.txt" ] && { echo "**Failures:**"; sed 's/^/- /' "$OUT/fleet-failures.txt"; echo; }
    echo "Machine: $(sed -n 's/^cpu=//p' "$OUT/fleet-machine.txt"), $(sed -n 's/^cpus=//p' "$OUT/fleet-machine.txt") CPUs," \
        "$(sed -n 's/^memory=//p' "$OUT/fleet-machine.txt"); PostgreSQL $(sed -n 's/^postgresql=//p' "$OUT/fleet-machine.txt") (fsync off)," \
        "SQLite $(sed -n 's/^sqlite=//p' "$OUT/fleet-machine.txt") (synchronous=FULL); $(sed -n 's/^date=//p' "$OUT/fleet-machine.txt");" \
        "load $(sed -n 's/^load_before=//p' "$OUT/fleet-machine.txt") before, $(sed -n 's/^load_after=//p' "$OUT/fleet-machine.txt") after;" \
        "$(sed -n 's/^seconds=//p' "$OUT/fleet-machine.txt") s; raw results in ${OUT#$ROOT/}/"
} >"$TABLE"
cat "$TABLE"
[ -s "$OUT/fleet-failures.txt" ] && exit 1
exit 0
