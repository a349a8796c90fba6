#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Decision throughput of cutoffd with 0, 1 and 10 shadow runs in force (the
# "Shadow mode" section of BENCHMARKS.md): the live path as bench/http.sh
# measures it, wrk sending POST /v1/check over keep-alive connections, the
# same 20000 generated requests (allows and every kind of deny) each time.
# The shadow runs are drafts of EA-UNIT (storage.* and ai.* of one unit,
# about a tenth of the subscriptions) under other ids, so some requests
# would be denied by every run and are counted, and the rest are allowed
# by every run. The three settings are interleaved $RUNS times and the
# table shows the medians and each one's ratio to the rate without runs.
#
#   bash bench/shadow.sh [BUILD [OUT_DIR]]
#
# Settings (environment): SHADOW_BENCH_SUBS (100000), SHADOW_BENCH_SECONDS
# (5), SHADOW_BENCH_RUNS (5), SHADOW_BENCH_CONNS (32), BENCH_SEED (1). wrk
# output to OUT_DIR (default bench/out/<date>-shadow/), the table to
# OUT_DIR/shadow-table.md and standard output. Nothing here asserts a speed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OUT=${2:-bench/out/$(date -u +%Y%m%d-%H%M%S)-shadow}
SUBS=${SHADOW_BENCH_SUBS:-100000} SECONDS_PER_RUN=${SHADOW_BENCH_SECONDS:-5}
RUNS=${SHADOW_BENCH_RUNS:-5} CONNS=${SHADOW_BENCH_CONNS:-32} SEED=${BENCH_SEED:-1}
for tool in "$BUILD/cutoff" "$BUILD/cutoffd" "$BUILD/bench/gen" "$BUILD/bench/store"; do
    [ -x "$tool" ] || { echo "shadow bench: $tool is missing (run make first)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "shadow bench: wrk is needed" >&2; exit 1; }
mkdir -p "$OUT/data"
OUT=$(cd "$OUT" && pwd)
DATA=$OUT/data
CUTOFF=$PWD/$BUILD/cutoff CUTOFFD=$PWD/$BUILD/cutoffd GEN=$PWD/$BUILD/bench/gen STORE=$PWD/$BUILD/bench/store
LUA=$PWD/bench/http_requests.lua
export CUTOFF_DB=$DATA/shadow.db CUTOFF_ACTOR=bench-operator
unset CUTOFF_SERVER CUTOFF_TOKEN CUTOFF_TOKEN_FILE
CUTOFFD_PID=
cleanup() {
    [ -n "$CUTOFFD_PID" ] && kill "$CUTOFFD_PID" 2>/dev/null && wait "$CUTOFFD_PID" 2>/dev/null
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$DATA"
}
trap cleanup EXIT
log() { printf '[shadow bench] %s\n' "$*" >&2; }

log "database: $SUBS subscriptions, the day's actions, 10 drafts of EA-UNIT"
"$GEN" catalog >"$DATA/catalog.json"
"$GEN" nodes --subs "$SUBS" --seed "$SEED" >"$DATA/nodes.jsonl"
"$GEN" actions --subs "$SUBS" --seed "$SEED" --dir "$DATA" >/dev/null
{ "$CUTOFF" init && "$CUTOFF" catalog load "$DATA/catalog.json" && "$CUTOFF" nodes import "$DATA/nodes.jsonl" &&
    "$STORE" setup --db "$CUTOFF_DB" --subs "$SUBS" --seed "$SEED"; } >"$OUT/setup.txt" 2>&1 ||
    { log "database setup failed (see $OUT/setup.txt)"; exit 1; }
for i in $(seq 10); do
    sed "s/\"EA-UNIT\"/\"EA-SHADOW-$i\"/" "$DATA/EA-UNIT.json" >"$DATA/shadow-$i.json"
    "$CUTOFF" action propose "$DATA/shadow-$i.json" >/dev/null || { log "propose EA-SHADOW-$i failed"; exit 1; }
done
"$GEN" queries --subs "$SUBS" --seed "$SEED" --count 20000 >"$DATA/queries.tsv"
# Decided now (no "at"): the time shadow runs count at.
awk -F'\t' '{ r = $3 == "-" ? "null" : "\"" $3 "\""
    printf "POST\t/v1/check\t{\"subscription\":\"%s\",\"action\":\"%s\",\"region\":%s}\n", $1, $2, r }' \
    "$DATA/queries.tsv" >"$DATA/check.tsv"

printf '{"database": "%s", "decision_listen": "127.0.0.1:0", "admin_listen": "127.0.0.1:0",
 "log_file": "%s", "node_id": "bench", "heartbeat_s": 1,
 "limits": {"threads": 2, "max_connections": 4096, "timeout_s": 60}}\n' \
    "$CUTOFF_DB" "$DATA/cutoffd.log" >"$DATA/cutoffd.json"
"$CUTOFFD" --config "$DATA/cutoffd.json" --port-file "$DATA/ports" 2>"$DATA/cutoffd.err" &
CUTOFFD_PID=$!
for _ in $(seq 600); do
    [ -s "$DATA/ports" ] && break
    kill -0 "$CUTOFFD_PID" 2>/dev/null || break
    sleep 0.1
done
[ -s "$DATA/ports" ] || { log "cutoffd did not start: $(cat "$DATA/cutoffd.err")"; exit 1; }
read -r DEC _ <"$DATA/ports"

# shadow_runs K: exactly K runs in force (EA-SHADOW-1..K), and cutoffd on them.
RUNNING=0
shadow_runs() {
    while [ "$RUNNING" -lt "$1" ]; do
        RUNNING=$((RUNNING + 1))
        "$CUTOFF" action shadow "EA-SHADOW-$RUNNING" start >/dev/null || log "start $RUNNING failed"
    done
    while [ "$RUNNING" -gt "$1" ]; do
        "$CUTOFF" action shadow "EA-SHADOW-$RUNNING" stop >/dev/null || log "stop $RUNNING failed"
        RUNNING=$((RUNNING - 1))
    done
    for _ in $(seq 100); do
        [ "$(grep -c '"event":"shadow_runs"' "$DATA/cutoffd.log")" -gt 0 ] &&
            grep '"event":"shadow_runs"' "$DATA/cutoffd.log" | tail -1 | grep -q "\"runs\":$1," && break
        sleep 0.05
    done
    sleep 0.5
}
measure() { # measure K RUN
    wrk -t1 -c"$CONNS" -d"${SECONDS_PER_RUN}s" --timeout 2s -s "$LUA" "http://127.0.0.1:$DEC" -- \
        "$DATA/check.tsv" >"$OUT/wrk-shadow$1-$2.txt" 2>&1
}
SETTINGS="0 1 10"
for run in $(seq "$RUNS"); do
    for k in $SETTINGS; do
        log "run $run of $RUNS: $k shadow runs"
        shadow_runs "$k"
        measure "$k" "$run"
    done
done
shadow_runs 10
"$CUTOFF" action shadow EA-SHADOW-1 report --json >"$OUT/report-EA-SHADOW-1.json" 2>/dev/null

rps() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
base=$(for r in $(seq "$RUNS"); do rps "$OUT/wrk-shadow0-$r.txt"; done | median)
{
    echo "| shadow runs in force | \`POST /v1/check\` requests/s (median of $RUNS) | spread (min – max) | ÷ no runs | target | met |"
    echo "|---|---|---|---|---|---|"
    for k in $SETTINGS; do
        all=$(for r in $(seq "$RUNS"); do rps "$OUT/wrk-shadow$k-$r.txt"; done)
        m=$(echo "$all" | median)
        lo=$(echo "$all" | sort -g | head -1) hi=$(echo "$all" | sort -g | tail -1)
        ratio=$(awk -v a="$m" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
        target="–" met="–"
        [ "$k" != 0 ] && target="≥ 0.80" && met=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.8 ? "yes" : "**NO**") }')
        printf '| %s | %.1f k/s | %.1f – %.1f k/s | %s | %s | %s |\n' "$k" "$(awk -v v="$m" 'BEGIN{print v/1000}')" \
            "$(awk -v v="$lo" 'BEGIN{print v/1000}')" "$(awk -v v="$hi" 'BEGIN{print v/1000}')" "$ratio" "$target" "$met"
    done
    echo
    echo "EA-SHADOW-1 counted $(jq .would_deny "$OUT/report-EA-SHADOW-1.json" 2>/dev/null) would-be denials of" \
        "$(jq .evaluated "$OUT/report-EA-SHADOW-1.json" 2>/dev/null) live allows evaluated over its runs;" \
        "$SUBS subscriptions, wrk -t1 -c$CONNS -d${SECONDS_PER_RUN}s, cutoffd 2 threads, $(nproc) CPUs shared" \
        "by wrk and cutoffd; $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null)."
} >"$OUT/shadow-table.md"
cat "$OUT/shadow-table.md"
