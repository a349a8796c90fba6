#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cutoffd over HTTP, against nginx on the same machine in the same run (the
# "HTTP (cutoffd)" section of BENCHMARKS.md):
#
#   nginx-204      nginx answering a constant `return 204` (the baseline of
#                  the design target), sent the very requests cutoffd gets
#   nginx-204-get  the same, one fixed GET and no wrk script (info)
#   check          cutoffd POST /v1/check, 20000 different requests over a
#                  generated tree (allows and every kind of deny)
#   authz          cutoffd GET /v1/authz, the same requests as a gateway
#                  forwards them (X-Original-Method / X-Original-URI)
#   proxy          nginx proxying to a trivial upstream (`return 204`)
#   proxy-authz    the same with `auth_request` to cutoffd's /v1/authz/nginx:
#                  the cost of the gateway check
#
# wrk (one thread, keep-alive, $CONNS connections, $SECONDS_PER_RUN s) runs
# each of them $RUNS times, interleaved, and the table shows the medians.
# Then the time from a committed change to the first decision that shows
# it, while wrk loads /v1/check: $ROUNDS approvals and lifts of an action
# over a ~100k-subscription unit (a) through the admin API and (b) with the
# CLI on the same database (cutoffd's watcher), measured from outside by
# build/bench/effect_latency.
#
# Everything listens on 127.0.0.1. nginx has 2 workers, cutoffd 2 threads per
# listener; the machine's cores are shared by wrk, nginx and cutoffd unless
# HTTP_BENCH_PIN=1 (wrk on CPU 0, the servers on CPU 1).
#
#   bash bench/http.sh [BUILD [OUT_DIR]]       (bench/run.sh calls it)
#
# Settings (environment): HTTP_BENCH_SUBS (1000000: EA-UNIT's scope is then
# ~100k subscriptions), HTTP_BENCH_SECONDS (10), HTTP_BENCH_RUNS (3),
# HTTP_BENCH_CONNS (32), HTTP_BENCH_ROUNDS (20), HTTP_BENCH_PIN (0),
# BENCH_SEED (1), HTTP_BENCH_DB (the store: default a new SQLite file in
# the data directory; a postgresql:// URI names an empty PostgreSQL database,
# as bench/fleet.sh does), BENCH_KEEP=1 keeps the data; BENCH_SCALE=small: 100000
# subscriptions, one 3 s run each, 5 rounds. Raw wrk output and result
# lines go to OUT_DIR (default bench/out/<date>-http/; bench/run.sh passes its
# own), everything named http-* or wrk-* or effect-*; the Markdown table to
# OUT_DIR/http-table.md and standard output. Nothing here asserts a speed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OUT=${2:-bench/out/$(date -u +%Y%m%d-%H%M%S)-http}
if [ "${BENCH_SCALE:-full}" = small ]; then # a quick look
    SUBS=${HTTP_BENCH_SUBS:-100000} SECONDS_PER_RUN=${HTTP_BENCH_SECONDS:-3} RUNS=${HTTP_BENCH_RUNS:-1}
    ROUNDS=${HTTP_BENCH_ROUNDS:-5}
else
    SUBS=${HTTP_BENCH_SUBS:-1000000} SECONDS_PER_RUN=${HTTP_BENCH_SECONDS:-10} RUNS=${HTTP_BENCH_RUNS:-3}
    ROUNDS=${HTTP_BENCH_ROUNDS:-20}
fi
CONNS=${HTTP_BENCH_CONNS:-32}
PIN=${HTTP_BENCH_PIN:-0}
SEED=${BENCH_SEED:-1}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

for tool in "$BUILD/cutoff" "$BUILD/cutoffd" "$BUILD/bench/gen" "$BUILD/bench/store" "$BUILD/bench/effect_latency"; do
    [ -x "$tool" ] || { echo "http bench: $tool is missing (run make first)" >&2; exit 1; }
done
for tool in wrk curl sha256sum "$NGINX"; do
    command -v "$tool" >/dev/null || { echo "http bench: $tool is needed" >&2; exit 1; }
done

mkdir -p "$OUT/http-bin" "$OUT/http-data"
OUT=$(cd "$OUT" && pwd)
DATA=$OUT/http-data BIN=$OUT/http-bin
# Copies, so that a rebuild during the run cannot swap the programs (and
# the libcutoff.so that cutoff and cutoffd load from their own directory).
for tool in cutoff cutoffd bench/gen bench/store bench/effect_latency; do
    cp "$BUILD/$tool" "$BIN/" || { echo "http bench: cannot copy $tool" >&2; exit 1; }
done
cp "$BUILD"/libcutoff.so.* "$BIN/" || { echo "http bench: cannot copy libcutoff.so" >&2; exit 1; }
CUTOFF=$BIN/cutoff CUTOFFD=$BIN/cutoffd GEN=$BIN/gen STORE=$BIN/store EFFECT=$BIN/effect_latency
LUA=$PWD/bench/http_requests.lua
export CUTOFF_DB=${HTTP_BENCH_DB:-$DATA/http.db} CUTOFF_ACTOR=bench-operator
unset CUTOFF_SERVER CUTOFF_TOKEN CUTOFF_TOKEN_FILE # the CLI works on the database here
START=$(date +%s)
log() { printf '[http bench %4ds] %s\n' $(($(date +%s) - START)) "$*" >&2; }
fail() { log "FAILED: $*"; echo "$*" >>"$OUT/http-failures.txt"; }

SERVER_PIN=() WRK_PIN=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    SERVER_PIN=(taskset -c 1) WRK_PIN=(taskset -c 0)
fi

CUTOFFD_PID= WRK_PID=
cleanup() {
    [ -n "$WRK_PID" ] && kill "$WRK_PID" 2>/dev/null
    [ -f "$DATA/nginx/nginx.pid" ] && kill "$(cat "$DATA/nginx/nginx.pid")" 2>/dev/null
    [ -n "$CUTOFFD_PID" ] && kill "$CUTOFFD_PID" 2>/dev/null
    wait 2>/dev/null
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$DATA" "$BIN"
}
trap cleanup EXIT

{
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "cpus=$(nproc)"
    echo "memory=$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
    echo "kernel=$(uname -r)"
    echo "nginx=$("$NGINX" -v 2>&1 | sed 's/.*nginx\///')"
    echo "wrk=$(wrk -v 2>&1 | head -1 | cut -d' ' -f2)"
    echo "commit=$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo '+changes')"
    echo "subs=$SUBS seconds=$SECONDS_PER_RUN runs=$RUNS conns=$CONNS rounds=$ROUNDS pin=$PIN"
    echo "store=$(case $CUTOFF_DB in postgres*) echo PostgreSQL ;; *) echo SQLite ;; esac)"
    echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/http-machine.txt"

# ---- data: a generated tree with the day's actions, and the flip drafts -------------
log "database: $SUBS subscriptions, the day's actions, $((2 * ROUNDS)) drafts"
"$GEN" catalog >"$DATA/catalog.json"
"$GEN" nodes --subs "$SUBS" --seed "$SEED" >"$DATA/nodes.jsonl"
"$GEN" actions --subs "$SUBS" --seed "$SEED" --dir "$DATA" >/dev/null
"$GEN" info --subs "$SUBS" --seed "$SEED" >"$DATA/info.txt"
{ "$CUTOFF" init && "$CUTOFF" catalog load "$DATA/catalog.json" && "$CUTOFF" nodes import "$DATA/nodes.jsonl" &&
    "$STORE" setup --db "$CUTOFF_DB" --subs "$SUBS" --seed "$SEED"; } >"$OUT/http-setup.txt" 2>&1 ||
    { fail "database setup (see $OUT/http-setup.txt)"; exit 1; }
rm -f "$DATA/nodes.jsonl"
PROBE_SUB=$(sed -n 's/^EA-UNIT.probe=//p' "$DATA/info.txt")
UNIT_SUBS=$(sed -n 's/^EA-UNIT.subscriptions=//p' "$DATA/info.txt")
[ -n "$PROBE_SUB" ] || { fail "gen info names no EA-UNIT probe"; exit 1; }
# EA-UNIT suspends storage.* and ai.* for one unit; the probe writes to storage.
PROBE="{\"subscription\":\"$PROBE_SUB\",\"action\":\"storage.write\",\"region\":null}"
for mode in API CLI; do
    for i in $(seq "$ROUNDS"); do
        sed "s/\"EA-UNIT\"/\"EA-FLIP-$mode-$i\"/" "$DATA/EA-UNIT.json" >"$DATA/flip.json"
        "$CUTOFF" action propose "$DATA/flip.json" >/dev/null || { fail "propose EA-FLIP-$mode-$i"; exit 1; }
    done
done

# ---- the requests -------------------------------------------------------------------------
# One stream of 20000 (subscription, action, region) requests drawn by gen,
# written three ways: JSON for /v1/check (decided at the stream's time),
# headers for /v1/authz, and a path for the gateway (both decided now).
"$GEN" queries --subs "$SUBS" --seed "$SEED" --count 20000 >"$DATA/queries.tsv"
awk -F'\t' '{ r = $3 == "-" ? "null" : "\"" $3 "\""
    printf "POST\t/v1/check\t{\"subscription\":\"%s\",\"action\":\"%s\",\"region\":%s,\"at\":%s}\n", $1, $2, r, $4 }' \
    "$DATA/queries.tsv" >"$DATA/check.tsv"
awk -F'\t' '{ printf "GET\t/v1/authz\t-\tX-Original-Method: POST\tX-Original-URI: /svc/%s/%s/object", $2, $1
    if ($3 != "-") printf "\tX-Region: %s", $3
    printf "\n" }' "$DATA/queries.tsv" >"$DATA/authz.tsv"
awk -F'\t' '{ printf "POST\t/svc/%s/%s/object\t-", $2, $1
    if ($3 != "-") printf "\tX-Region: %s", $3
    printf "\n" }' "$DATA/queries.tsv" >"$DATA/gateway.tsv"

# ---- cutoffd ----------------------------------------------------------------------------------
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "sha256:$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1) bench-approver approver" >"$DATA/tokens"
# One route per catalog action: /svc/ACTION/{subscription}/..., region from X-Region.
services_and_actions() { # prints SERVICE.ACTION per catalog action, from gen's catalog JSON
    tr '{' '\n' <"$DATA/catalog.json" | awk -F'"' '
        /"actions":/ { service = $4 }
        /"class":/ { print service "." $4 }'
}
ACTIONS=$(services_and_actions)
[ "$(echo "$ACTIONS" | wc -l)" -ge 10 ] || { fail "cannot read the catalog's actions"; exit 1; }
{
    printf '{"database": "%s", "decision_listen": "127.0.0.1:0", "admin_listen": "127.0.0.1:0",\n' "$CUTOFF_DB"
    printf ' "tokens_file": "%s", "log_file": "%s", "signing_key": "%s",\n' "$DATA/tokens" "$DATA/cutoffd.log" \
        "$DATA/cutoffd.key"
    printf ' "limits": {"threads": 2, "max_connections": 4096, "timeout_s": 60},\n "routes": [\n'
    sep=
    for a in $ACTIONS; do
        printf '%s  {"method": "*", "path": "/svc/%s/{subscription}/**", "action": "%s", "region_header": "X-Region"}' \
            "$sep" "$a" "$a"
        sep=$',\n'
    done
    printf '\n]}\n'
} >"$DATA/cutoffd.json"
log "starting cutoffd"
"${SERVER_PIN[@]}" "$CUTOFFD" --config "$DATA/cutoffd.json" --port-file "$DATA/ports" 2>"$DATA/cutoffd.err" &
CUTOFFD_PID=$!
for _ in $(seq 600); do
    [ -s "$DATA/ports" ] && break
    kill -0 "$CUTOFFD_PID" 2>/dev/null || break
    sleep 0.1
done
[ -s "$DATA/ports" ] || { fail "cutoffd did not start: $(cat "$DATA/cutoffd.err")"; exit 1; }
read -r DEC ADM <"$DATA/ports"
log "cutoffd on 127.0.0.1:$DEC (admin :$ADM)"

# ---- nginx ---------------------------------------------------------------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# pick_ports: four distinct free ports into N204 APP PROXY GATE.
pick_ports() {
    local picked=() p
    while [ ${#picked[@]} -lt 4 ]; do
        p=$((20000 + RANDOM % 40000))
        [[ " ${picked[*]} " == *" $p "* ]] && continue
        port_free "$p" && picked+=("$p")
    done
    N204=${picked[0]} APP=${picked[1]} PROXY=${picked[2]} GATE=${picked[3]}
}
NG=$DATA/nginx
mkdir -p "$NG/logs"
for d in body proxy fastcgi uwsgi scgi; do mkdir -p "$NG/$d"; done
chmod -R 777 "$NG"
chmod 755 "$DATA" "$OUT"
write_nginx_conf() {
    cat >"$NG/nginx.conf" <<EOF
worker_processes 2;
pid $NG/nginx.pid;
error_log $NG/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    client_body_temp_path $NG/body;
    proxy_temp_path $NG/proxy;
    fastcgi_temp_path $NG/fastcgi;
    uwsgi_temp_path $NG/uwsgi;
    scgi_temp_path $NG/scgi;

    upstream cutoffd { server 127.0.0.1:$DEC; keepalive 64; }
    upstream app { server 127.0.0.1:$APP; keepalive 64; }

    # The baseline: a constant answer.
    server { listen 127.0.0.1:$N204; location / { return 204; } }
    # The trivial upstream service behind the gateway.
    server { listen 127.0.0.1:$APP; location / { return 204; } }
    # A plain reverse proxy.
    server {
        listen 127.0.0.1:$PROXY;
        location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
    # The same proxy asking cutoffd first (as examples/gateway/nginx-cutoff.conf,
    # without relaying the full denial).
    server {
        listen 127.0.0.1:$GATE;
        location / {
            auth_request /_cutoff_check;
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location = /_cutoff_check {
            internal;
            proxy_pass http://cutoffd/v1/authz/nginx;
            proxy_method GET;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method \$request_method;
            proxy_set_header X-Original-URI \$request_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
}
# Another program may take a port between the pick and nginx's bind: retry.
started=no
for attempt in 1 2 3; do
    pick_ports
    write_nginx_conf
    if "${SERVER_PIN[@]}" "$NGINX" -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" 2>"$NG/start.err"; then
        started=yes
        break
    fi
    log "nginx could not start (attempt $attempt): $(tail -1 "$NG/start.err")"
done
[ $started = yes ] || { fail "nginx did not start: $(cat "$NG/start.err")"; exit 1; }
for p in $N204 $APP $PROXY $GATE; do
    for _ in $(seq 50); do port_free "$p" || break; sleep 0.1; done
done

# Sanity: every target answers as expected before it is measured.
probe_status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(probe_status "http://127.0.0.1:$N204/")" = 204 ] || fail "nginx 204 does not answer 204"
[ "$(probe_status -X POST "http://127.0.0.1:$PROXY/svc/x")" = 204 ] || fail "the nginx proxy does not answer 204"
[ "$(probe_status -d "$PROBE" "http://127.0.0.1:$DEC/v1/check")" = 200 ] || fail "cutoffd /v1/check does not answer 200"
[ "$(probe_status -X POST "http://127.0.0.1:$GATE/svc/storage.read/$PROBE_SUB/x")" = 204 ] ||
    fail "the gateway does not let an allowed request through"
[ "$(probe_status -X POST "http://127.0.0.1:$GATE/svc/no.such/$PROBE_SUB/x")" = 403 ] ||
    fail "the gateway does not refuse a request no route maps"
[ -s "$OUT/http-failures.txt" ] && exit 1

# ---- throughput ------------------------------------------------------------------------------
# decisions: allow and deny counts from cutoffd's /metrics.
decisions() {
    curl -s "http://127.0.0.1:$DEC/metrics" | awk '
        /^cutoff_decisions_total\{result="allow"/ { a += $2 }
        /^cutoff_decisions_total\{result="deny"/ { d += $2 }
        END { printf "%d %d\n", a, d }'
}
# measure NAME URL [FILE]: one wrk run; raw output in $OUT/wrk-NAME-RUN.txt.
measure() {
    local name=$1 url=$2 file=${3:-} run=$4 script=()
    [ -n "$file" ] && script=(-s "$LUA")
    local before after
    before=$(decisions)
    timeout $((SECONDS_PER_RUN + 30)) "${WRK_PIN[@]}" wrk -t1 -c"$CONNS" -d"${SECONDS_PER_RUN}s" --timeout 2s --latency \
        "${script[@]}" "$url" ${file:+-- "$file"} >"$OUT/wrk-$name-$run.txt" 2>&1 || fail "wrk $name run $run"
    after=$(decisions)
    echo "decisions_allow=$(($(echo "$after" | cut -d' ' -f1) - $(echo "$before" | cut -d' ' -f1)))" \
        "decisions_deny=$(($(echo "$after" | cut -d' ' -f2) - $(echo "$before" | cut -d' ' -f2)))" \
        >>"$OUT/wrk-$name-$run.txt"
}
SCENARIOS="nginx-204 nginx-204-get check authz proxy proxy-authz"
url_of() {
    case $1 in
    nginx-204 | nginx-204-get) echo "http://127.0.0.1:$N204/" ;;
    check | authz) echo "http://127.0.0.1:$DEC" ;;
    proxy) echo "http://127.0.0.1:$PROXY" ;;
    proxy-authz) echo "http://127.0.0.1:$GATE" ;;
    esac
}
file_of() {
    case $1 in
    nginx-204 | check) echo "$DATA/check.tsv" ;;
    nginx-204-get) echo "" ;;
    authz) echo "$DATA/authz.tsv" ;;
    proxy | proxy-authz) echo "$DATA/gateway.tsv" ;;
    esac
}
for run in $(seq "$RUNS"); do
    for s in $SCENARIOS; do
        log "run $run of $RUNS: $s"
        measure "$s" "$(url_of "$s")" "$(file_of "$s")" "$run"
    done
done

# ---- commit to effect under load -------------------------------------------------------------
log "commit to effect: $ROUNDS approvals and lifts each through the admin API and the CLI, under load"
"${WRK_PIN[@]}" wrk -t1 -c"$CONNS" -d600s --timeout 2s --latency -s "$LUA" "http://127.0.0.1:$DEC" -- "$DATA/check.tsv" \
    >"$OUT/wrk-effect-load.txt" 2>&1 &
WRK_PID=$!
sleep 2
"$EFFECT" --port "$DEC" --probe "$PROBE" --prefix EA-FLIP-API- --rounds "$ROUNDS" --admin-port "$ADM" --token "$TOKEN" \
    >"$OUT/effect-api.txt" 2>&1 || fail "effect_latency api (see $OUT/effect-api.txt)"
"$EFFECT" --port "$DEC" --probe "$PROBE" --prefix EA-FLIP-CLI- --rounds "$ROUNDS" --cli "$CUTOFF" --db "$CUTOFF_DB" \
    --actor bench-approver >"$OUT/effect-cli.txt" 2>&1 || fail "effect_latency cli (see $OUT/effect-cli.txt)"
kill -INT "$WRK_PID" 2>/dev/null
wait "$WRK_PID" 2>/dev/null
WRK_PID=
echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/http-machine.txt"
echo "seconds=$(($(date +%s) - START))" >>"$OUT/http-machine.txt"

# ---- the table -----------------------------------------------------------------------------
# wrk_field FILE rps|p99_ms|non2xx|errors
wrk_field() {
    awk -v f="$2" '
        function ms(v) {
            if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /^Requests\/sec:/ { rps = $2 }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        /Socket errors:/ { gsub(",", ""); errors = $4 + $6 + $8 + $10 }
        /^decisions_allow=/ { split($1, a, "="); split($2, d, "="); allow = a[2]; deny = d[2] }
        END {
            if (f == "rps") print rps; else if (f == "p99_ms") print p99
            else if (f == "non2xx") print non2xx + 0; else if (f == "errors") print errors + 0
            else if (f == "allow") print allow + 0; else if (f == "deny") print deny + 0 }' "$1"
}
# stat NAME FIELD: "median min max" over the runs
stat() {
    for run in $(seq "$RUNS"); do wrk_field "$OUT/wrk-$1-$run.txt" "$2"; done | sort -g | awk '
        { v[NR] = $1 } END { if (NR == 0) exit; m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        print m, v[1], v[NR] }'
}
first() { set -- $1; echo "${1:-}"; }
krps() { awk -v v="$1" 'BEGIN { if (v == "") print "n/a"; else printf "%.1f k/s", v / 1000 }'; }
msf() { awk -v v="$1" 'BEGIN { if (v == "") print "n/a"; else printf "%.2f ms", v }'; }
spread() { set -- $1; [ $# -ge 3 ] && echo "$(krps "$2") – $(krps "$3")" || echo n/a; }
# effect NAME FIELD from the effect files
effect() { awk -v n="$1" -v f="$2" '$1 == "result" { delete kv
    for (i = 2; i <= NF; i++) { split($i, a, "="); kv[a[1]] = a[2] }
    if (kv["name"] == n) print kv[f] }' "$OUT"/effect-*.txt 2>/dev/null; }
met() { [ -n "${1:-}" ] || { echo "n/a"; return; }; awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
    ok = op == ">=" ? v >= l : v <= l; print ok ? "yes" : "**NO**" }'; }

TABLE=$OUT/http-table.md
base=$(first "$(stat nginx-204 rps)")
{
    echo "| what | requests/s (median) | spread (min – max) | p99 latency (median) | ÷ nginx \`return 204\` | decisions allow / deny (one run) | target | met |"
    echo "|---|---|---|---|---|---|---|---|"
    for s in $SCENARIOS; do
        r=$(stat "$s" rps) p=$(stat "$s" p99_ms)
        ratio=$(awk -v a="$(first "$r")" -v b="$base" 'BEGIN { if (a == "" || b == "") print "n/a"; else printf "%.2f", a / b }')
        case $s in
        nginx-204) what="nginx \`return 204\`, the /v1/check requests (baseline)" ;;
        nginx-204-get) what="nginx \`return 204\`, one fixed GET, no wrk script" ;;
        check) what="cutoffd \`POST /v1/check\`, 20000 different requests" ;;
        authz) what="cutoffd \`GET /v1/authz\` (X-Original-* headers)" ;;
        proxy) what="nginx → trivial upstream" ;;
        proxy-authz) what="nginx → \`auth_request\` cutoffd → trivial upstream" ;;
        esac
        mix="–"
        case $s in check | authz | proxy-authz)
            mix="$(wrk_field "$OUT/wrk-$s-1.txt" allow) / $(wrk_field "$OUT/wrk-$s-1.txt" deny)" ;;
        esac
        target="–" ok="–"
        if [ "$s" = check ]; then target="≥ 0.5 × nginx"; ok=$(met "$ratio" ">=" 0.5); fi
        echo "| $what | $(krps "$(first "$r")") | $(spread "$r") | $(msf "$(first "$p")") | $ratio | $mix | $target | $ok |"
    done
    pa=$(stat proxy rps) pg=$(stat proxy-authz rps) qa=$(stat proxy p99_ms) qg=$(stat proxy-authz p99_ms)
    echo
    echo "Gateway check overhead: $(awk -v a="$(first "$pa")" -v b="$(first "$pg")" 'BEGIN {
        if (a == "" || b == "") print "n/a"; else printf "%.1f%% fewer requests/s", (1 - b / a) * 100 }') with \`auth_request\` to cutoffd," \
        "p99 $(msf "$(first "$qa")") → $(msf "$(first "$qg")")."
    echo
    echo "| commit → first answer showing it, under load ($ROUNDS rounds, EA-UNIT: $UNIT_SUBS subscriptions) | median | max | the commit call itself (median) | target ≤ 10 ms | met (max) |"
    echo "|---|---|---|---|---|---|"
    for m in api cli; do
        for v in approve lift; do
            med=$(effect "effect.${m}_$v" median) max=$(effect "effect.${m}_$v" max)
            label=$([ $m = api ] && echo "admin API \`POST /v1/actions/ID/$v\` returns" || echo "\`cutoff action $v\` exits (watcher)")
            echo "| $label | $(msf "$med") | $(msf "$max") | $(msf "$(effect "commit.${m}_$v" median)") | ≤ 10 ms | $(met "$max" "<=" 10) |"
        done
    done
    echo
    echo "Load during the flips: $(wrk_field "$OUT/wrk-effect-load.txt" rps | awk '{ printf "%.1f k/s", $1 / 1000 }') of \`/v1/check\`" \
        "($(grep -h '^info mode=' "$OUT"/effect-*.txt | cut -d' ' -f2- | tr '\n' ';' | sed 's/;$//; s/;/; /g'))."
    [ -s "$OUT/http-failures.txt" ] && { echo; echo "**Failures:**"; sed 's/^/- /' "$OUT/http-failures.txt"; }
    echo
    echo "Machine: $(sed -n 's/^cpu=//p' "$OUT/http-machine.txt"), $(sed -n 's/^cpus=//p' "$OUT/http-machine.txt") CPUs" \
        "shared by wrk, nginx and cutoffd$([ ${#WRK_PIN[@]} -gt 0 ] && echo " (wrk pinned to CPU 0, servers to CPU 1)");" \
        "nginx $(sed -n 's/^nginx=//p' "$OUT/http-machine.txt"), wrk $(sed -n 's/^wrk=//p' "$OUT/http-machine.txt");" \
        "$(sed -n 's/^date=//p' "$OUT/http-machine.txt"); load $(sed -n 's/^load_before=//p' "$OUT/http-machine.txt") before," \
        "$(sed -n 's/^load_after=//p' "$OUT/http-machine.txt") after; wrk -t1 -c$CONNS -d${SECONDS_PER_RUN}s, $RUNS runs each;" \
        "$SUBS subscriptions, $(sed -n 's/^store=//p' "$OUT/http-machine.txt") store; raw results in ${OUT#$PWD/}/"
} >"$TABLE"
cat "$TABLE"
[ -s "$OUT/http-failures.txt" ] && exit 1
exit 0
