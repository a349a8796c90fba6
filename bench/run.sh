#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every benchmark of BENCHMARKS.md on one build and prints the table.
#
#   bash bench/run.sh BUILD            (what `make bench` runs)
#   BENCH_SCALE=small bash bench/run.sh build   a ~1-2 minute smoke version: 1M
#                                               subscriptions where the full run
#                                               uses 10M
#   BENCH_KEEP=1 ...                   keep the generated files and databases
#
# Then bench/http.sh (cutoffd over HTTP) and bench/fleet.sh (several cutoffd
# on PostgreSQL and on SQLite), whose tables follow.
#
# Raw results go to bench/out/<date>/ (git-ignored; bench/out/latest points at
# the last run): one file per benchmark with its "result"/"info" lines or the
# output of /usr/bin/time -v, and table.md, the Markdown table printed at the
# end. Every figure is the median of several runs (5, or 3 for the 10M ones)
# with its spread, next to a baseline measured in the same run.
# Single-threaded measurements are pinned to CPU 1 with taskset when the
# machine has two CPUs or more; the time-to-effect ones need both and are not
# pinned. Nothing here asserts a speed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SCALE=${BENCH_SCALE:-full}
SEED=${BENCH_SEED:-1}

case $SCALE in
full) BIG=10000000 BIG_NAME=10M ;;
small) BIG=1000000 BIG_NAME=1M ;;
*) echo "bench: BENCH_SCALE is full or small, not '$SCALE'" >&2; exit 2 ;;
esac
SMALL=100000 MID=1000000
FAST_RUNS=5 BIG_RUNS=3 QUERIES=2097152

for tool in "$BUILD/cutoff" "$BUILD/bench/gen" "$BUILD/bench/engine" "$BUILD/bench/store"; do
    [ -x "$tool" ] || { echo "bench: $tool is missing (run make first)" >&2; exit 1; }
done
for tool in sqlite3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is needed" >&2; exit 1; }
done
PIN=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then PIN=(taskset -c 1); fi

OUT=bench/out/$(date -u +%Y%m%d-%H%M%S)-$SCALE
DATA=$OUT/data
mkdir -p "$DATA" "$OUT/bin"
# The programs measured are copies, so a rebuild during the run cannot
# swap them midway; cutoff loads libcutoff.so from its own directory.
cp "$BUILD/cutoff" "$BUILD"/libcutoff.so.* "$BUILD/bench/gen" "$BUILD/bench/engine" "$BUILD/bench/store" "$OUT/bin/" ||
    { echo "bench: cannot copy the programs" >&2; exit 1; }
CUTOFF=$PWD/$OUT/bin/cutoff GEN=$PWD/$OUT/bin/gen ENGINE=$PWD/$OUT/bin/engine STORE=$PWD/$OUT/bin/store
ln -sfn "$(basename "$OUT")" bench/out/latest
START=$(date +%s)
export CUTOFF_ACTOR=bench-operator

log() { printf '[bench %4ds] %s\n' $(($(date +%s) - START)) "$*" >&2; }
fail() { log "FAILED: $*"; echo "$*" >>"$OUT/failures.txt"; }

# ---- machine -----------------------------------------------------------------------
{
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "scale=$SCALE seed=$SEED"
    echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "cpus=$(nproc)"
    echo "memory=$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
    echo "kernel=$(uname -r)"
    echo "compiler=$(${CC:-cc} --version | head -1)"
    echo "sqlite=$(sqlite3 --version | cut -d' ' -f1)"
    echo "commit=$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo '+changes')"
    echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/machine.txt"

# ---- data ------------------------------------------------------------------------------
log "generating data (seed $SEED)"
"$GEN" catalog >"$DATA/catalog.json"
sizes=("$SMALL" "$MID")
[ "$BIG" != "$MID" ] && sizes+=("$BIG")
for n in "${sizes[@]}"; do
    "$GEN" nodes --subs "$n" --seed "$SEED" >"$DATA/nodes-$n.jsonl" || fail "gen nodes $n"
    "$GEN" info --subs "$n" --seed "$SEED" >"$DATA/info-$n.txt"
done
for n in "$MID" "$BIG"; do
    [ -f "$DATA/nodes-$n.csv" ] || "$GEN" nodes --subs "$n" --seed "$SEED" --csv >"$DATA/nodes-$n.csv"
done
"$GEN" queries --subs "$SMALL" --seed "$SEED" --count "$QUERIES" >"$DATA/queries-$SMALL.tsv"

# ---- in-process engine ------------------------------------------------------------------
log "engine, $SMALL subscriptions"
"${PIN[@]}" "$ENGINE" --subs "$SMALL" --seed "$SEED" --runs "$FAST_RUNS" --queries "$QUERIES" \
    >"$OUT/engine-$SMALL.txt" || fail "engine $SMALL"
log "engine, $BIG subscriptions"
"${PIN[@]}" "$ENGINE" --subs "$BIG" --seed "$SEED" --runs "$BIG_RUNS" --queries "$QUERIES" \
    --passes 1 >"$OUT/engine-$BIG.txt" || fail "engine $BIG"
log "engine, publication to a reader ($MID subscriptions, unpinned)"
"$ENGINE" --subs "$MID" --seed "$SEED" --only effect --rounds 20 \
    >"$OUT/engine-effect.txt" || fail "engine effect"

# ---- bulk import: cutoff nodes import against sqlite3 .import ----------------------------
# seconds_of FILE: the wall time /usr/bin/time -v reported, in seconds.
seconds_of() {
    awk -F': ' '/Elapsed \(wall clock\)/ {
        n = split($2, p, ":"); s = 0
        for (i = 1; i <= n; i++) s = s * 60 + p[i]
        print s }' "$1"
}
maxrss_of() { awk -F': ' '/Maximum resident set size/ {print $2 * 1024}' "$1"; }

# import_once N RUN: one cutoff import and one sqlite3 import of the same rows,
# each into a fresh database. Leaves $DATA/cutoff-N.db behind.
import_once() {
    local n=$1 run=$2 db=$DATA/cutoff-$1.db base=$DATA/sqlite-$1.db
    rm -f "$db" "$db-wal" "$db-shm" "$base" "$base-wal" "$base-shm"
    "$CUTOFF" --db "$db" init >/dev/null &&
        "$CUTOFF" --db "$db" catalog load "$DATA/catalog.json" >/dev/null || { fail "init $n"; return 1; }
    sync
    if /usr/bin/time -v -o "$OUT/import-$n-cutoff-$run.time" \
        "$CUTOFF" --db "$db" nodes import "$DATA/nodes-$n.jsonl" >"$OUT/import-$n-cutoff-$run.out" 2>&1; then
        echo "$(seconds_of "$OUT/import-$n-cutoff-$run.time") $(maxrss_of "$OUT/import-$n-cutoff-$run.time")" \
            >>"$OUT/import-$n-cutoff.txt"
    else
        fail "cutoff nodes import $n (see $OUT/import-$n-cutoff-$run.out)"
    fi
    sync
    # The baseline: the same rows as CSV into a table with the store's
    # primary key; WAL, full sync and the page cache of the store's bulk
    # import (1 GiB); one transaction.
    if /usr/bin/time -v -o "$OUT/import-$n-sqlite-$run.time" sqlite3 "$base" \
        "PRAGMA journal_mode=WAL" "PRAGMA synchronous=FULL" "PRAGMA cache_size=-1048576" \
        "CREATE TABLE nodes(id TEXT PRIMARY KEY NOT NULL, kind INTEGER NOT NULL, parent TEXT, name TEXT, plan TEXT) WITHOUT ROWID" \
        ".mode csv" ".import $DATA/nodes-$n.csv nodes" >/dev/null 2>"$OUT/import-$n-sqlite-$run.err"; then
        echo "$(seconds_of "$OUT/import-$n-sqlite-$run.time") $(maxrss_of "$OUT/import-$n-sqlite-$run.time")" \
            >>"$OUT/import-$n-sqlite.txt"
    else
        fail "sqlite3 .import $n"
    fi
    rm -f "$base" "$base-wal" "$base-shm"
}

for n in "$MID" "$BIG"; do
    [ "$n" = "$MID" ] && [ "$BIG" = "$MID" ] && [ -f "$OUT/import-$n-cutoff.txt" ] && continue
    runs=$BIG_RUNS # 3 at 1M too: each run of both imports takes ~25 s
    for run in $(seq 1 "$runs"); do
        log "import $n nodes, run $run of $runs"
        import_once "$n" "$run"
    done
done

# ---- through the database layer -----------------------------------------------------------
log "database for the batch check ($SMALL subscriptions)"
db_small=$DATA/cutoff-$SMALL.db
rm -f "$db_small" "$db_small-wal" "$db_small-shm"
{ "$CUTOFF" --db "$db_small" init && "$CUTOFF" --db "$db_small" catalog load "$DATA/catalog.json" &&
    "$CUTOFF" --db "$db_small" nodes import "$DATA/nodes-$SMALL.jsonl"; } >/dev/null || fail "import $SMALL"
for n in "$SMALL" "$MID" "$BIG"; do
    [ -f "$DATA/cutoff-$n.db" ] || continue
    grep -q "actions=" "$OUT/setup-$n.txt" 2>/dev/null && continue
    "$STORE" setup --db "$DATA/cutoff-$n.db" --subs "$n" --seed "$SEED" >"$OUT/setup-$n.txt" || fail "setup $n"
done

log "snapshot from the store ($BIG subscriptions)"
"$STORE" load --db "$DATA/cutoff-$BIG.db" --runs "$BIG_RUNS" >"$OUT/store-load-$BIG.txt" || fail "store load"
log "time from committed approval to effect ($MID subscriptions, unpinned)"
"$STORE" effect --db "$DATA/cutoff-$MID.db" --subs "$MID" --seed "$SEED" --rounds 20 \
    >"$OUT/store-effect.txt" || fail "store effect"

log "cutoff check --batch --bench ($SMALL subscriptions)"
: >"$OUT/cli-batch.txt"
for run in $(seq 1 "$FAST_RUNS"); do
    "${PIN[@]}" "$CUTOFF" --db "$db_small" check --batch "$DATA/queries-$SMALL.tsv" --bench \
        >>"$OUT/cli-batch.txt" 2>>"$OUT/cli-batch.err" || { fail "check --batch --bench"; break; }
done
# The decisions themselves, once, to compare with the in-process run.
"$CUTOFF" --db "$db_small" check --batch "$DATA/queries-$SMALL.tsv" >"$DATA/decisions-$SMALL.tsv" 2>/dev/null ||
    fail "check --batch"

bash bench/http.sh "$BUILD" "$OUT" >&2 || fail "bench/http.sh: cutoffd over HTTP (see $OUT/http-failures.txt, $OUT/http-table.md)"
bash bench/gateway.sh "$BUILD" "$OUT" >&2 ||
    fail "bench/gateway.sh: gateway overhead (see $OUT/gw-failures.txt, $OUT/gw-table.md)"
# The fleet on PostgreSQL and SQLite, with this run's node files and its
# HTTP pass (SQLite) as the comparison for the PostgreSQL one.
FLEET_DATA=$DATA FLEET_HTTP_SQLITE=$OUT bash bench/fleet.sh "$BUILD" "$OUT" >&2 ||
    fail "bench/fleet.sh: the fleet (see $OUT/fleet-failures.txt, $OUT/fleet-table.md)"

echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
echo "seconds=$(($(date +%s) - START))" >>"$OUT/machine.txt"

# ---- the table ---------------------------------------------------------------------------
# res FILE NAME [FIELD]: a field (median by default) of a result line.
res() {
    [ -f "$1" ] || return 0
    awk -v n="$2" -v f="${3:-median}" '$1 == "result" {
        delete kv
        for (i = 2; i <= NF; i++) { split($i, a, "="); kv[a[1]] = a[2] }
        if (kv["name"] == n) { print kv[f]; exit } }' "$1"
}
# info FILE KEY: a value of an info line.
info() {
    [ -f "$1" ] || return 0
    awk -v k="$2" '$1 == "info" { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) { print a[2]; exit } } }' "$1"
}
# col FILE COLUMN: median, min and max of a column of numbers.
col() {
    [ -s "$1" ] || return 0
    awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{v[NR] = $1} END {
        if (NR == 0) exit
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        print m, v[1], v[NR] }'
}
# kv FILE KEY: median, min, max of KEY=N over the lines of the CLI's --bench output.
kv() {
    [ -s "$1" ] || return 0
    tr ' ' '\n' <"$1" | awk -F= -v k="$2" '$1 == k {print $2}' | sort -g | awk '{v[NR] = $1} END {
        if (NR == 0) exit
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        print m, v[1], v[NR] }'
}
# fmt VALUE UNIT: a number for people (M/s, ms, s, B, MiB).
fmt() {
    [ -n "${1:-}" ] || { echo "n/a"; return; }
    awk -v v="$1" -v u="$2" 'BEGIN {
        if (u == "rate") printf "%.2f M/s", v / 1e6
        else if (u == "ns") printf "%.0f ns", v
        else if (u == "ms") printf "%.3f ms", v
        else if (u == "s") { if (v < 0.1) printf "%.2f ms", v * 1000; else printf "%.2f s", v }
        else if (u == "B") printf "%.1f B", v
        else if (u == "MiB") printf "%.0f MiB", v / 1048576
        else if (u == "x") printf "%.2f", v
        else if (u == "lines") printf "%.2f M lines/s", v / 1e6
        else printf "%s", v }'
}
# spread "MED MIN MAX" UNIT
spread() {
    set -- $1 "$2"
    [ $# -ge 4 ] || { echo "n/a"; return; }
    echo "$(fmt "$2" "$4") – $(fmt "$3" "$4")"
}
# ratio A B: A / B
ratio() { [ -n "${1:-}" ] && [ -n "${2:-}" ] && awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}' || echo "n/a"; }
# met VALUE OP LIMIT: yes / NO
met() { [ -n "${1:-}" ] || { echo "n/a"; return; }; awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
    ok = op == ">=" ? v >= l : v <= l; print ok ? "yes" : "**NO**" }'; }
triple() { echo "$(res "$1" "$2") $(res "$1" "$2" min) $(res "$1" "$2" max)"; }
first() { set -- $1; echo "${1:-}"; }

E1=$OUT/engine-$SMALL.txt EB=$OUT/engine-$BIG.txt EE=$OUT/engine-effect.txt
SL=$OUT/store-load-$BIG.txt SE=$OUT/store-effect.txt
TABLE=$OUT/table.md
big_note=""
[ "$SCALE" = small ] && big_note=" (small scale: target is for 10M)"
row() { echo "| $1 | $2 | $3 | $4 | $5 | $6 | $7 |" >>"$TABLE"; }
{
    echo "| what | median | spread (min – max) | baseline, same run | engine ÷ baseline | target | met |"
    echo "|---|---|---|---|---|---|---|"
} >"$TABLE"

t=$(triple "$E1" decide.string) b=$(res "$E1" decide.baseline_probe)
row "decisions/s, $SMALL subs, string ids (\`cutoff_check\`), 1 core" "$(fmt "$(first "$t")" rate)" "$(spread "$t" rate)" \
    "$(fmt "$b" rate) id probe only" "$(ratio "$(first "$t")" "$b")" "≥ 20 M/s" "$(met "$(first "$t")" ">=" 20e6)"
t=$(triple "$E1" decide.many)
row "decisions/s, $SMALL subs, string ids, 256 a call (\`cutoff_check_many\`)" "$(fmt "$(first "$t")" rate)" "$(spread "$t" rate)" \
    "$(fmt "$b" rate) id probe only" "$(ratio "$(first "$t")" "$b")" "≥ 20 M/s" "$(met "$(first "$t")" ">=" 20e6)"
t=$(triple "$E1" decide.handles)
row "decisions/s, $SMALL subs, handles (\`cutoff_check_handles\`)" "$(fmt "$(first "$t")" rate)" "$(spread "$t" rate)" \
    "$(fmt "$b" rate) id probe only" "$(ratio "$(first "$t")" "$b")" "–" "–"
for api in string handles; do
    t50=$(triple "$E1" latency.${api}_p50) t99=$(triple "$E1" latency.${api}_p99)
    row "p50 / p99 per decision, $SMALL subs, $api" "$(fmt "$(first "$t50")" ns) / $(fmt "$(first "$t99")" ns)" \
        "p99 $(spread "$t99" ns)" \
        "$(fmt "$(res "$E1" latency.baseline_probe_p50)" ns) / $(fmt "$(res "$E1" latency.baseline_probe_p99)" ns)" \
        "$(ratio "$(first "$t99")" "$(res "$E1" latency.baseline_probe_p99)") (p99)" \
        "$([ $api = string ] && echo "p99 ≤ 1 µs" || echo –)" \
        "$([ $api = string ] && met "$(first "$t99")" "<=" 1000 || echo –)"
done
b=$(res "$EB" decide.baseline_probe)
api_label() {
    case $1 in
    string) echo "string ids (\`cutoff_check\`)" ;;
    many) echo "string ids, 256 a call (\`cutoff_check_many\`)" ;;
    handles) echo "handles (\`cutoff_check_handles\`)" ;;
    esac
}
for api in string many handles; do
    t=$(triple "$EB" decide.$api)
    row "decisions/s, $BIG_NAME subs, $(api_label $api), 1 core$big_note" "$(fmt "$(first "$t")" rate)" "$(spread "$t" rate)" \
        "$(fmt "$b" rate) id probe only" "$(ratio "$(first "$t")" "$b")" "≥ 5 M/s" "$(met "$(first "$t")" ">=" 5e6)"
done
t50=$(triple "$EB" latency.string_p50) t99=$(triple "$EB" latency.string_p99)
row "p50 / p99 per decision, $BIG_NAME subs, string" "$(fmt "$(first "$t50")" ns) / $(fmt "$(first "$t99")" ns)" \
    "p99 $(spread "$t99" ns)" \
    "$(fmt "$(res "$EB" latency.baseline_probe_p50)" ns) / $(fmt "$(res "$EB" latency.baseline_probe_p99)" ns)" \
    "$(ratio "$(first "$t99")" "$(res "$EB" latency.baseline_probe_p99)") (p99)" "–" "–"
m=$(res "$EB" memory.tree_plus_snapshot)
row "memory per subscription, $BIG_NAME subs: \`cutoff_tree_memory\` + snapshot heap$big_note" "$(fmt "$m" B)" "one build" \
    "$(fmt "$(res "$EB" memory.baseline_table)" B) plain id table" "$(ratio "$m" "$(res "$EB" memory.baseline_table)")" "≤ 128 B" "$(met "$m" "<=" 128)"
m=$(res "$EB" memory.tree_rss)
row "memory per subscription, $BIG_NAME subs: process VmRSS delta" "$(fmt "$m" B)" "one build" \
    "$(fmt "$(res "$EB" memory.baseline_table)" B) plain id table" "$(ratio "$m" "$(res "$EB" memory.baseline_table)")" "≤ 128 B" "$(met "$m" "<=" 128)"
t=$(triple "$EB" build.tree_total)
row "tree build from a builder, $BIG_NAME subs (add + compile)" "$(fmt "$(first "$t")" s)" "$(spread "$t" s)" \
    "$(fmt "$(res "$EB" build.baseline_table)" s) filling a plain id table" "$(ratio "$(first "$t")" "$(res "$EB" build.baseline_table)")" "–" "–"
t=$(triple "$SL" store.load_total)
row "snapshot from the store, $BIG_NAME subs (\`cutoff_db_load_tree\` + \`cutoff_db_snapshot\`)$big_note" \
    "$(fmt "$(first "$t")" s)" "$(spread "$t" s)" "$(fmt "$(res "$SL" store.baseline_scan)" s) SQLite reading the rows" \
    "$(ratio "$(first "$t")" "$(res "$SL" store.baseline_scan)")" "≤ 20 s" "$(met "$(first "$t")" "<=" 20)"
t=$(triple "$SE" effect.store_approve)
row "committed approval → first deny seen by a reader, ~100k-sub unit (20 rounds)" \
    "$(fmt "$(first "$t")" ms)" "$(spread "$t" ms)" "$(fmt "$(res "$EE" effect.engine_approve)" ms) engine only (build + publish)" \
    "$(ratio "$(first "$t")" "$(res "$EE" effect.engine_approve)")" "≤ 10 ms" "$(met "$(res "$SE" effect.store_approve max)" "<=" 10) (max)"
t=$(triple "$SE" effect.store_lift)
row "committed lift → first allow seen by a reader" "$(fmt "$(first "$t")" ms)" "$(spread "$t" ms)" \
    "$(fmt "$(res "$EE" effect.engine_lift)" ms) engine only" "$(ratio "$(first "$t")" "$(res "$EE" effect.engine_lift)")" "–" "–"
t=$(triple "$EB" preview.wide)
row "preview of EA-WIDE ($(info "$EB" EA-WIDE.scope_subscriptions) subs in scope), $BIG_NAME tree$big_note" "$(fmt "$(first "$t")" s)" "$(spread "$t" s)" \
    "$(fmt "$(res "$EB" preview.wide_baseline_pass)" s) one pass over every node" "$(ratio "$(first "$t")" "$(res "$EB" preview.wide_baseline_pass)")" "≤ 2 s" "$(met "$(first "$t")" "<=" 2)"
t=$(triple "$EB" preview.unit)
row "preview of EA-UNIT ($(info "$EB" EA-UNIT.scope_subscriptions) subs in scope), $BIG_NAME tree" "$(fmt "$(first "$t")" s)" "$(spread "$t" s)" \
    "$(fmt "$(res "$EB" preview.unit_baseline_pass)" s) one pass over the unit's nodes" "$(ratio "$(first "$t")" "$(res "$EB" preview.unit_baseline_pass)")" "–" "–"
ic=$(col "$OUT/import-$BIG-cutoff.txt" 1) is=$(col "$OUT/import-$BIG-sqlite.txt" 1)
row "\`cutoff nodes import\`, $BIG_NAME subs ($(wc -l <"$DATA/nodes-$BIG.jsonl" | tr -d ' ') lines), wall$big_note" "$(fmt "$(first "$ic")" s)" "$(spread "$ic" s)" \
    "$(fmt "$(first "$is")" s) \`sqlite3 .import\` of the CSV" "$(ratio "$(first "$ic")" "$(first "$is")")" "≤ 30 s" "$(met "$(first "$ic")" "<=" 30)"
rc=$(col "$OUT/import-$BIG-cutoff.txt" 2) rs=$(col "$OUT/import-$BIG-sqlite.txt" 2)
row "\`cutoff nodes import\`, $BIG_NAME subs, max RSS" "$(fmt "$(first "$rc")" MiB)" "$(spread "$rc" MiB)" \
    "$(fmt "$(first "$rs")" MiB) sqlite3" "$(ratio "$(first "$rc")" "$(first "$rs")")" "–" "–"
lines=$(wc -l <"$DATA/nodes-$MID.jsonl" | tr -d ' ')
ic=$(col "$OUT/import-$MID-cutoff.txt" 1) is=$(col "$OUT/import-$MID-sqlite.txt" 1)
rate_c=$([ -n "$ic" ] && awk -v l="$lines" -v s="$(first "$ic")" 'BEGIN {print l / s}')
rate_s=$([ -n "$is" ] && awk -v l="$lines" -v s="$(first "$is")" 'BEGIN {print l / s}')
row "\`cutoff nodes import\` rate, 1M subs ($lines lines)" "$(fmt "$rate_c" lines)" "wall $(spread "$ic" s)" \
    "$(fmt "$rate_s" lines) \`sqlite3 .import\`" "$(ratio "$rate_c" "$rate_s")" "–" "–"
t=$(kv "$OUT/cli-batch.txt" decisions_per_s)
row "\`cutoff check --batch FILE --bench\`, $SMALL subs, $QUERIES requests (it decides with \`cutoff_check_many\`)" \
    "$(fmt "$(first "$t")" rate)" "$(spread "$t" rate)" \
    "$(fmt "$(res "$E1" decide.many)" rate) in process, same requests and API" "$(ratio "$(first "$t")" "$(res "$E1" decide.many)")" "–" "–"
t=$(kv "$OUT/cli-batch.err" single_call_decisions_per_s)
if [ -n "$t" ]; then
    row "\`check --batch --bench\`, one \`cutoff_check\` a request (its stderr line)" "$(fmt "$(first "$t")" rate)" "$(spread "$t" rate)" \
        "$(fmt "$(res "$E1" decide.string)" rate) in process, same requests and API" "$(ratio "$(first "$t")" "$(res "$E1" decide.string)")" "–" "–"
fi
p50=$(kv "$OUT/cli-batch.txt" p50_ns) p99=$(kv "$OUT/cli-batch.txt" p99_ns)
row "\`check --batch --bench\` p50 / p99" "$(fmt "$(first "$p50")" ns) / $(fmt "$(first "$p99")" ns)" "p99 $(spread "$p99" ns)" \
    "$(fmt "$(res "$E1" latency.string_p50)" ns) / $(fmt "$(res "$E1" latency.string_p99)" ns) in process" "–" "–" "–"

# Cross-checks that can fail: the CLI decides the same requests as the
# in-process run, so the counts must agree.
{
    echo
    echo "Cross-checks:"
    ea=$(info "$E1" allows) ed=$(info "$E1" denies)
    ca=$(kv "$OUT/cli-batch.txt" allows) cd=$(kv "$OUT/cli-batch.txt" denies)
    if [ -n "$ca" ] && [ "$(first "$ca")" = "$ea" ] && [ "$(first "$cd")" = "$ed" ]; then
        echo "- the CLI's batch and the in-process run agree on the same $QUERIES requests: $ea allows, $ed denies"
    else
        echo "- **MISMATCH** between the CLI's batch (allows $(first "$ca") denies $(first "$cd")) and in process (allows $ea denies $ed)"
    fi
    echo "- request mix ($SMALL subs): $(grep '^info queries=' "$E1" | cut -d' ' -f2- || true)"
    echo "- per-call timing: $(grep '^info clock=' "$E1" | cut -d' ' -f2- || true) (subtracted from every call)"
    [ -s "$OUT/failures.txt" ] && { echo "- **failures**:"; sed 's/^/  - /' "$OUT/failures.txt"; }
    echo
    echo "Machine: $(sed -n 's/^cpu=//p' "$OUT/machine.txt"), $(sed -n 's/^cpus=//p' "$OUT/machine.txt") CPUs," \
        "$(sed -n 's/^memory=//p' "$OUT/machine.txt"); $(sed -n 's/^date=//p' "$OUT/machine.txt");" \
        "load $(sed -n 's/^load_before=//p' "$OUT/machine.txt") before, $(sed -n 's/^load_after=//p' "$OUT/machine.txt") after;" \
        "$(sed -n 's/^seconds=//p' "$OUT/machine.txt") s in all; raw results in $OUT/"
} >>"$TABLE"

if [ "${BENCH_KEEP:-0}" != 1 ]; then
    rm -rf "$DATA" "$OUT/bin"
fi
cat "$TABLE"
if [ -f "$OUT/fleet-table.md" ]; then
    echo
    echo "Fleet (bench/fleet.sh):"
    echo
    cat "$OUT/fleet-table.md"
fi
[ -s "$OUT/failures.txt" ] && exit 1
exit 0
