#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What asking cutoffd costs a real gateway (the "Gateway overhead" section of
# BENCHMARKS.md). For nginx (auth_request), Caddy (forward_auth) and HAProxy
# (cutoff.lua): requests/s and p99 latency of the gateway proxying one GET
# to a trivial upstream (nginx `return 200`),
#
#   without   the shipped configuration with its check taken out (nginx: the
#             auth_request and error_page lines; Caddy: the forward_auth
#             block; HAProxy: the two http-request rules of the check)
#   with      the shipped configuration as it is, instantiated by the same
#             sed as tests/integration/gateway_*.sh, and cutoffd with
#             examples/gateway/cutoffd.json and the reference case loaded
#             (no action approved: the request is an allow)
#
#   before    (only with GW_BENCH_BEFORE=DIR) the same as "with", from the
#             gateway files in DIR instead of examples/gateway: another
#             version of them, measured in the same run, e.g.
#               git archive COMMIT examples/gateway | tar -x -C /tmp/b
#               GW_BENCH_BEFORE=/tmp/b/examples/gateway bash bench/gateway.sh
#
# The variants of a gateway run side by side; wrk measures them in turn
# (each run starting with the next one: without/with, then with/without),
# $RUNS times each, and the table gives the medians and with ÷ without. The run checks that
# the check really is in the path: cutoffd counts one allow per request
# wrk counts through the "with" gateway and none through "without", every
# answer is a 200 from the upstream, and a request cutoffd denies is refused
# by "with" and served by "without".
#
# Besides requests/s and p99, each run records the CPU time (user + system,
# from /proc) the servers in the path spent per request: the gateway, the
# upstream and, with the check, cutoffd. On a shared machine the rates move
# with other work (and a variant with more threads gets a larger share of a
# contended core), while the CPU a request costs barely moves; without ÷
# with of it is the throughput ratio on a core of their own.
#
# wrk: one thread, $CONNS keep-alive connections, `--latency`. Pinning
# (GW_BENCH_PIN=1, the default): wrk on CPU 0; the gateway, cutoffd and the
# upstream on CPU 1, so the figures compare what the servers spend per
# request on one core, and wrk (which needs a fraction of CPU 0 at these
# rates) does not take time from them. Each gateway runs as it would on one
# core: nginx 1 worker, HAProxy and Caddy see one CPU (nbthread,
# GOMAXPROCS), cutoffd as configured. GW_BENCH_PIN=0 lets all share both.
#
#   bash bench/gateway.sh [BUILD [OUT_DIR]]       (bench/run.sh calls it)
#
# Settings (environment): GW_BENCH_SECONDS (10), GW_BENCH_RUNS (5),
# GW_BENCH_CONNS (16), GW_BENCH_PIN (1), GW_BENCH_GATEWAYS ("nginx caddy
# haproxy"), GW_BENCH_BEFORE (none); BENCH_SCALE=small: 3 s runs. Raw wrk output to OUT_DIR (default
# bench/out/<date>-gateway/; bench/run.sh passes its own), everything named
# gw-*; the Markdown table to OUT_DIR/gw-table.md and standard output.
# Nothing here asserts a speed; a failed check exits 1.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${1:-build}
OUT=${2:-bench/out/$(date -u +%Y%m%d-%H%M%S)-gateway}
if [ "${BENCH_SCALE:-full}" = small ]; then
    SECONDS_PER_RUN=${GW_BENCH_SECONDS:-3}
else
    SECONDS_PER_RUN=${GW_BENCH_SECONDS:-10}
fi
RUNS=${GW_BENCH_RUNS:-5}
CONNS=${GW_BENCH_CONNS:-16}
PIN=${GW_BENCH_PIN:-1}
GATEWAYS=${GW_BENCH_GATEWAYS:-nginx caddy haproxy}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
CADDY=$(command -v caddy || echo /usr/bin/caddy)
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
EX=$ROOT/examples/gateway CASE=$ROOT/examples/reference-case
BEFORE=${GW_BENCH_BEFORE:-}
VARIANTS="without with"
if [ -n "$BEFORE" ]; then
    BEFORE=$(cd "$BEFORE" 2>/dev/null && pwd) || { echo "gateway bench: no directory $GW_BENCH_BEFORE" >&2; exit 1; }
    VARIANTS="without with before"
fi
# The request: a read in the restricted unit's storage, allowed while no
# action is in force; and one cutoffd refuses (an unknown subscription).
ALLOWED=/storage/sub-8200-storage/archive/file1
REFUSED=/storage/sub-no-such-subscription/file1

for tool in "$BUILD/cutoff" "$BUILD/cutoffd"; do
    [ -x "$tool" ] || { echo "gateway bench: $tool is missing (run make first)" >&2; exit 1; }
done
for tool in wrk curl "$NGINX"; do
    command -v "$tool" >/dev/null || { echo "gateway bench: $tool is needed" >&2; exit 1; }
done
for gw in $GATEWAYS; do
    case $gw in
    nginx) ;;
    caddy) [ -x "$CADDY" ] || { echo "gateway bench: caddy is needed (scripts/install-deps.sh)" >&2; exit 1; } ;;
    haproxy) [ -x "$HAPROXY" ] || { echo "gateway bench: haproxy is needed (scripts/install-deps.sh)" >&2; exit 1; } ;;
    *) echo "gateway bench: unknown gateway $gw (nginx, caddy, haproxy)" >&2; exit 1 ;;
    esac
done

mkdir -p "$OUT/gw-bin" "$OUT/gw-data"
OUT=$(cd "$OUT" && pwd)
DATA=$OUT/gw-data BIN=$OUT/gw-bin
# Copies, so that a rebuild during the run cannot swap the programs.
cp "$BUILD/cutoff" "$BUILD/cutoffd" "$BUILD"/libcutoff.so.* "$BIN/" ||
    { echo "gateway bench: cannot copy cutoff, cutoffd and libcutoff.so" >&2; exit 1; }
CUTOFF=$BIN/cutoff CUTOFFD=$BIN/cutoffd
export CUTOFF_DB=$DATA/gw.db CUTOFF_ACTOR=bench-operator
unset CUTOFF_SERVER CUTOFF_TOKEN CUTOFF_TOKEN_FILE
START=$(date +%s)
log() { printf '[gateway bench %4ds] %s\n' $(($(date +%s) - START)) "$*" >&2; }
fail() { log "FAILED: $*"; echo "$*" >>"$OUT/gw-failures.txt"; }
: >"$OUT/gw-failures.txt"

SERVER_PIN=() WRK_PIN=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    SERVER_PIN=(taskset -c 1) WRK_PIN=(taskset -c 0)
fi

# PIDs and nginx pid files of everything started here, stopped at the end.
_stop=()
stop_all() {
    local p
    for p in "${_stop[@]}"; do
        [ -f "$p" ] && p=$(cat "$p" 2>/dev/null)
        [ -n "$p" ] && kill "$p" 2>/dev/null
    done
    _stop=()
    wait 2>/dev/null
}
_upstream=()
cleanup() {
    _stop+=("${_upstream[@]}")
    stop_all
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$DATA" "$BIN"
}
trap cleanup EXIT

{
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "cpus=$(nproc)"
    echo "kernel=$(uname -r)"
    echo "nginx=$("$NGINX" -v 2>&1 | sed 's/.*nginx\///')"
    echo "caddy=$("$CADDY" version 2>/dev/null | cut -d' ' -f1)"
    echo "haproxy=$("$HAPROXY" -v 2>/dev/null | head -1 | cut -d' ' -f3)"
    echo "wrk=$(wrk -v 2>&1 | head -1 | cut -d' ' -f2)"
    echo "commit=$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo '+changes')"
    echo "seconds=$SECONDS_PER_RUN runs=$RUNS conns=$CONNS pin=$PIN gateways=$GATEWAYS"
    echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/gw-machine.txt"

source "$ROOT/tests/support/ports.sh"

# ---- the database: the reference case, nothing approved -------------------------------
rm -f "$CUTOFF_DB" "$CUTOFF_DB"-* "$DATA"/*.key
log "database: the reference case"
{ "$CUTOFF" init && "$CUTOFF" catalog load "$CASE/catalog.json" && "$CUTOFF" nodes import "$CASE/nodes.jsonl" &&
    "$CUTOFF" case open --id CASE-7 --title "Reference case" --scope unit-8200; } >"$OUT/gw-setup.txt" 2>&1 ||
    { fail "database setup (see $OUT/gw-setup.txt)"; exit 1; }
echo "sha256:$(head -c 24 /dev/urandom | sha256sum | cut -d' ' -f1) bench-viewer viewer" >"$DATA/tokens"

# start_cutoffd CONVENTION: cutoffd with the shipped cutoffd.json (the same
# sed as tests/integration/lib_gateway.sh); sets DEC.
start_cutoffd() {
    sed -e "s|\"cutoff.db\"|\"$CUTOFF_DB\"|" -e "s|\"tokens\"|\"$DATA/tokens\"|" \
        -e "s|127.0.0.1:8080|127.0.0.1:0|" -e "s|127.0.0.1:8081|127.0.0.1:0|" \
        -e "s|\"forward_headers\": \"nginx\"|\"forward_headers\": \"$1\"|" \
        "$EX/cutoffd.json" >"$DATA/cutoffd-$1.json"
    rm -f "$DATA/ports"
    "${SERVER_PIN[@]}" "$CUTOFFD" --config "$DATA/cutoffd-$1.json" --log "$DATA/cutoffd-$1.log" \
        --port-file "$DATA/ports" 2>"$DATA/cutoffd-$1.err" &
    CUTOFFD_PID=$!
    _stop+=("$CUTOFFD_PID")
    for _ in $(seq 100); do [ -s "$DATA/ports" ] && break; sleep 0.1; done
    DEC=
    read -r DEC _ <"$DATA/ports" 2>/dev/null
    [ -n "$DEC" ] && wait_for "$DEC" || { fail "cutoffd ($1) did not start: $(tail -3 "$DATA/cutoffd-$1.err")"; return 1; }
}
# allows: cutoffd's count of allows so far.
allows() {
    curl -s -m 5 "http://127.0.0.1:$DEC/metrics" |
        awk '/^cutoff_decisions_total\{result="allow"/ { a += $2 } END { printf "%d\n", a }'
}

# nginx_dirs DIR: a prefix directory nginx can write its temporary files to.
nginx_dirs() {
    mkdir -p "$1/logs"
    for d in body proxy fastcgi uwsgi scgi; do mkdir -p "$1/$d"; done
    chmod -R 777 "$1"
}
# nginx_main DIR INCLUDE: nginx.conf around the http {} content INCLUDE, as
# the integration test writes it, with one worker and no access log.
nginx_main() {
    cat >"$1/nginx.conf" <<EOF
worker_processes 1;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $1/body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
    include $2;
}
EOF
}
# start_nginx DIR PORT: nginx -p DIR, listening on PORT in the end.
start_nginx() {
    "${SERVER_PIN[@]}" "$NGINX" -p "$1" -c "$1/nginx.conf" -e "$1/logs/error.log" 2>"$1/start.err" &&
        _stop+=("$1/nginx.pid") && wait_for "$2"
}

# ---- the upstream: nginx answering 200 ----------------------------------------------
chmod 755 "$DATA" "$OUT"
UPD=$DATA/upstream
nginx_dirs "$UPD"
started=
for _ in 1 2 3; do
    UP=$(pick_port)
    echo "server { listen 127.0.0.1:$UP; location / { default_type text/plain; return 200 'ok\n'; } }" >"$UPD/site.conf"
    nginx_main "$UPD" "$UPD/site.conf"
    start_nginx "$UPD" "$UP" && { started=1; break; }
done
[ -n "$started" ] || { fail "the upstream nginx did not start: $(cat "$UPD/start.err")"; exit 1; }
# It serves every gateway; stop_all after each gateway leaves it running.
UP_MASTER=$(cat "$UPD/nginx.pid")
_upstream=("${_stop[@]}")
_stop=()
log "upstream (nginx return 200) on 127.0.0.1:$UP"

# ---- the gateways ---------------------------------------------------------------------
# ports_sed FILE GWPORT [DIR]: the integration tests' substitution of the
# shipped ports (both services are the upstream here) and of the Lua file's
# path (in DIR, by default examples/gateway).
ports_sed() {
    sed -e "s|127.0.0.1:8080|127.0.0.1:$DEC|" -e "s|127.0.0.1:9001|127.0.0.1:$UP|" \
        -e "s|127.0.0.1:9002|127.0.0.1:$UP|" -e "s|127.0.0.1:8000|127.0.0.1:$2|" \
        -e "s|^http://:8000 {|http://:$2 {|" -e "s|/etc/haproxy/cutoff.lua|${3:-$EX}/cutoff.lua|" "$1"
}
# without_check GATEWAY: a filter that takes the check out of its config.
without_check() {
    case $1 in
    nginx) sed -e '/auth_request \/_cutoff_check;/d' -e '/error_page 403 = @cutoff_denied;/d' ;;
    caddy) sed -e '/^\tforward_auth /,/^\t}$/d' ;;
    haproxy) sed -e '/http-request lua.cutoff_check /d' -e '/http-request deny .*cutoff_decision/d' ;;
    esac
}
# start_gateway GATEWAY VARIANT: the gateway on a picked port; sets PORT_<VARIANT>.
start_gateway() {
    local gw=$1 v=$2 dir=$DATA/$1-$2 port pid ok= src=$EX
    [ "$v" = before ] && src=$BEFORE
    mkdir -p "$dir"
    for _ in 1 2 3; do
        port=$(pick_port)
        case $gw in
        nginx)
            nginx_dirs "$dir"
            ports_sed "$src/nginx-cutoff.conf" "$port" "$src" >"$dir/with.conf"
            if [ "$v" != without ]; then cp "$dir/with.conf" "$dir/gateway.conf"; else without_check nginx <"$dir/with.conf" >"$dir/gateway.conf"; fi
            nginx_main "$dir" "$dir/gateway.conf"
            start_nginx "$dir" "$port" && ok=1 && pid=$(cat "$dir/nginx.pid")
            ;;
        caddy)
            ports_sed "$src/Caddyfile" "$port" "$src" >"$dir/with.Caddyfile"
            if [ "$v" != without ]; then cp "$dir/with.Caddyfile" "$dir/Caddyfile"; else without_check caddy <"$dir/with.Caddyfile" >"$dir/Caddyfile"; fi
            HOME=$dir XDG_DATA_HOME=$dir XDG_CONFIG_HOME=$dir "${SERVER_PIN[@]}" "$CADDY" run --config "$dir/Caddyfile" \
                --adapter caddyfile >"$dir/caddy.log" 2>&1 &
            pid=$!
            _stop+=("$pid")
            wait_for "$port" && kill -0 "$pid" 2>/dev/null && ok=1
            ;;
        haproxy)
            ports_sed "$src/haproxy.cfg" "$port" "$src" >"$dir/with.cfg"
            if [ "$v" != without ]; then cp "$dir/with.cfg" "$dir/haproxy.cfg"; else without_check haproxy <"$dir/with.cfg" >"$dir/haproxy.cfg"; fi
            "${SERVER_PIN[@]}" "$HAPROXY" -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
            pid=$!
            _stop+=("$pid")
            wait_for "$port" && kill -0 "$pid" 2>/dev/null && ok=1
            ;;
        esac
        [ -n "$ok" ] && break
    done
    [ -n "$ok" ] || { fail "$gw ($v) did not start (see $dir)"; return 1; }
    # The variants differ by the check alone: "without" is "with" less some lines.
    if [ "$v" = without ]; then
        local d
        d=$(diff "$dir"/with.* "$dir/$(case $gw in nginx) echo gateway.conf ;; caddy) echo Caddyfile ;; *) echo haproxy.cfg ;; esac)")
        { [ -n "$d" ] && ! grep -q '^>' <<<"$d"; } || fail "$gw without: not the shipped file less its check"
    fi
    printf -v "PORT_$v" %s "$port"
    printf -v "GWPID_$v" %s "$pid"
}

# ---- measuring ------------------------------------------------------------------------
# wrk_field FILE rps|p99_ms|non2xx|errors|requests
wrk_field() {
    awk -v f="$2" '
        function ms(v) {
            if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /^Requests\/sec:/ { rps = $2 }
        $1 == "99%" { p99 = ms($2) }
        / requests in / { requests = $1 }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        /Socket errors:/ { gsub(",", ""); errors = $4 + $6 + $8 + $10 }
        /^decisions_allow=/ { split($1, a, "="); allow = a[2] }
        /^cutoffd_time_wait_growth=/ { split($1, a, "="); tw = a[2] }
        /^server_cpu_s=/ { split($1, a, "="); cpu = a[2] }
        END {
            if (f == "rps") print rps; else if (f == "p99_ms") print p99
            else if (f == "non2xx") print non2xx + 0; else if (f == "errors") print errors + 0
            else if (f == "requests") print requests + 0; else if (f == "allow") print allow + 0
            else if (f == "tw") print tw + 0
            else if (f == "cpu_us") { if (requests > 0) printf "%.1f\n", cpu * 1e6 / requests } }' "$1"
}
# time_wait: TCP connections to or from cutoffd's port in TIME-WAIT. Its
# growth over a run counts (roughly: entries expire after 60 s) the
# connections to cutoffd closed during it: about one a request if the
# gateway does not keep them alive, a handful if it does.
time_wait() { ss -Htan state time-wait "( sport = :$DEC or dport = :$DEC )" 2>/dev/null | wc -l; }
# cpu_ticks PID...: the user and system CPU time of these processes (all
# their threads) so far, in clock ticks.
cpu_ticks() {
    local p t=0 rest
    for p in "$@"; do
        rest=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
        t=$((t + $(awk '{ print $12 + $13 }' <<<"$rest")))
    done
    echo "$t"
}
# servers_of VARIANT: the PIDs that serve a request through VARIANT: the
# gateway (and nginx's workers), the upstream, and cutoffd unless "without".
servers_of() {
    local gw_pid=GWPID_$1
    echo "${!gw_pid}" $(pgrep -P "${!gw_pid}") "$UP_MASTER" $(pgrep -P "$UP_MASTER")
    [ "$1" = without ] || echo "$CUTOFFD_PID"
}
TICK=$(getconf CLK_TCK)
# measure GATEWAY VARIANT RUN: one wrk run; raw output in $OUT/gw-wrk-GATEWAY-VARIANT-RUN.txt.
measure() {
    local gw=$1 v=$2 run=$3 port port_var file before after
    port_var=PORT_$v
    port=${!port_var}
    file=$OUT/gw-wrk-$gw-$v-$run.txt
    local servers cpu_before
    servers=$(servers_of "$v")
    before=$(allows) tw_before=$(time_wait) cpu_before=$(cpu_ticks $servers)
    timeout $((SECONDS_PER_RUN + 30)) "${WRK_PIN[@]}" wrk -t1 -c"$CONNS" -d"${SECONDS_PER_RUN}s" --timeout 2s \
        --latency "http://127.0.0.1:$port$ALLOWED" >"$file" 2>&1 || fail "wrk $gw $v run $run"
    after=$(allows)
    echo "decisions_allow=$((after - before))" >>"$file"
    echo "cutoffd_time_wait_growth=$(($(time_wait) - tw_before))" >>"$file"
    echo "server_cpu_s=$(awk -v t=$(($(cpu_ticks $servers) - cpu_before)) -v h="$TICK" 'BEGIN { print t / h }')" >>"$file"
    # Every answer an upstream 200, none lost; cutoffd asked once a request
    # through "with" (and "before"), never through "without".
    local requests non2xx errors asked
    requests=$(wrk_field "$file" requests) non2xx=$(wrk_field "$file" non2xx) errors=$(wrk_field "$file" errors)
    asked=$((after - before))
    [ "$non2xx" = 0 ] && [ "$errors" = 0 ] || fail "$gw $v run $run: $non2xx answers not 2xx, $errors socket errors"
    if [ "$v" != without ]; then
        # wrk counts the requests it completed; the ones in flight at the
        # end were asked about too.
        [ "$asked" -ge "$requests" ] && [ "$asked" -le $((requests + CONNS)) ] ||
            fail "$gw $v run $run: cutoffd decided $asked times for $requests requests"
    else
        [ "$asked" = 0 ] || fail "$gw without run $run: cutoffd was asked $asked times"
    fi
}
# sanity GATEWAY: every variant serves the upstream's answer; "with" and
# "before" refuse what cutoffd denies, "without" serves it.
sanity() {
    local code body before
    before=$(wc -l <"$OUT/gw-failures.txt" 2>/dev/null || echo 0)
    for v in $VARIANTS; do
        local port port_var=PORT_$v
        port=${!port_var}
        body=$(curl -s -m 5 "http://127.0.0.1:$port$ALLOWED")
        [ "$body" = ok ] || fail "$1 $v: the allowed GET did not reach the upstream (got '$body')"
        code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$REFUSED")
        if [ "$v" != without ]; then
            [ "$code" = 403 ] || fail "$1 $v: a request cutoffd refuses got $code, not 403"
        else
            [ "$code" = 200 ] || fail "$1 without: the check is still there ($code for $REFUSED)"
        fi
    done
    [ "$(wc -l <"$OUT/gw-failures.txt" 2>/dev/null || echo 0)" = "$before" ]
}

# rotated N: the variants, rotated left by N: run 1 starts with the first
# variant, run 2 with the second, and so on.
rotated() {
    local v=($VARIANTS) i
    for ((i = 0; i < ${#v[@]}; i++)); do echo "${v[(i + $1) % ${#v[@]}]}"; done
}

for gw in $GATEWAYS; do
    log "$gw: cutoffd, the gateway with and without the check"
    convention=nginx
    [ "$gw" = caddy ] && convention=forwarded
    PORT_with= PORT_without= PORT_before= started=yes
    start_cutoffd "$convention" || started=
    for v in $VARIANTS; do [ -n "$started" ] && { start_gateway "$gw" "$v" || started=; }; done
    if [ -n "$started" ]; then
        sanity "$gw" || { stop_all; continue; }
        # Warm-up: connections and caches in place on every variant.
        for v in $VARIANTS; do measure "$gw" "$v" 0; done
        for run in $(seq "$RUNS"); do
            for v in $(rotated $((run - 1))); do
                log "$gw run $run of $RUNS: $v"
                measure "$gw" "$v" "$run"
            done
        done
    fi
    stop_all
done
echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/gw-machine.txt"
echo "seconds=$(($(date +%s) - START))" >>"$OUT/gw-machine.txt"

# ---- the table -------------------------------------------------------------------------
# median_of: the median of the numbers on standard input
median_of() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit
    print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
runs_of() { # runs_of GATEWAY VARIANT FIELD: the field of every measured run
    for run in $(seq "$RUNS"); do
        [ -f "$OUT/gw-wrk-$1-$2-$run.txt" ] && wrk_field "$OUT/gw-wrk-$1-$2-$run.txt" "$3"
    done
}
krps() { awk -v v="$1" 'BEGIN { if (v == "") print "n/a"; else printf "%.1f k/s", v / 1000 }'; }
us() { awk -v v="$1" 'BEGIN { if (v == "") print "n/a"; else printf "%.0f µs", v }'; }
msf() { awk -v v="$1" 'BEGIN { if (v == "") print "n/a"; else printf "%.2f ms", v }'; }
# churn GATEWAY VARIANT: TIME-WAIT growth at cutoffd's port per 1000 requests, median of the runs
churn() {
    for run in $(seq "$RUNS"); do
        local f=$OUT/gw-wrk-$1-$2-$run.txt
        [ -f "$f" ] && awk -v t="$(wrk_field "$f" tw)" -v r="$(wrk_field "$f" requests)" \
            'BEGIN { if (r > 0) printf "%.1f\n", (t < 0 ? 0 : t) * 1000 / r }'
    done | median_of
}
# per_run GATEWAY VARIANT: "min – max" of VARIANT ÷ without, run by run
per_run() {
    for run in $(seq "$RUNS"); do
        a=$(wrk_field "$OUT/gw-wrk-$1-$2-$run.txt" rps 2>/dev/null)
        b=$(wrk_field "$OUT/gw-wrk-$1-without-$run.txt" rps 2>/dev/null)
        [ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f\n", a / b }'
    done | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) print lo " – " hi; else print "n/a" }'
}
TABLE=$OUT/gw-table.md
{
    echo "| gateway | cutoffd in the path | without cutoffd (req/s) | with cutoffd (req/s) | with ÷ without | ratio run by run (min – max) | p99 without | p99 with | server CPU a request, without / with | CPU without ÷ with | connections to cutoffd closed per 1000 requests |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for gw in $GATEWAYS; do
        case $gw in
        nginx) name="nginx \`auth_request\`" ;;
        caddy) name="Caddy \`forward_auth\`" ;;
        haproxy) name="HAProxy \`cutoff.lua\`" ;;
        esac
        wo=$(runs_of "$gw" without rps | median_of) co=$(runs_of "$gw" without cpu_us | median_of)
        for v in $VARIANTS; do
            [ "$v" = without ] && continue
            wi=$(runs_of "$gw" "$v" rps | median_of)
            ratio=$(awk -v a="$wi" -v b="$wo" 'BEGIN { if (a == "" || b == "") print "n/a"; else printf "%.2f", a / b }')
            ci=$(runs_of "$gw" "$v" cpu_us | median_of)
            cpu_ratio=$(awk -v a="$co" -v b="$ci" 'BEGIN { if (a == "" || b == "") print "n/a"; else printf "%.2f", a / b }')
            what=$([ "$v" = with ] && echo "examples/gateway" || echo "${GW_BENCH_BEFORE:-}")
            echo "| $name | $what | $(krps "$wo") | $(krps "$wi") | **$ratio** | $(per_run "$gw" "$v") |" \
                "$(msf "$(runs_of "$gw" without p99_ms | median_of)") | $(msf "$(runs_of "$gw" "$v" p99_ms | median_of)") |" \
                "$(us "$co") / $(us "$ci") | $cpu_ratio | $(churn "$gw" "$v") |"
        done
    done
    [ -s "$OUT/gw-failures.txt" ] && { echo; echo "**Failures:**"; sed 's/^/- /' "$OUT/gw-failures.txt"; }
    echo
    echo "Medians of $RUNS runs each, the variants ($VARIANTS) in turn; wrk -t1 -c$CONNS -d${SECONDS_PER_RUN}s --latency," \
        "keep-alive, GET $ALLOWED$([ ${#WRK_PIN[@]} -gt 0 ] && echo "; wrk pinned to CPU 0, gateway, cutoffd and upstream to CPU 1")." \
        "nginx $(sed -n 's/^nginx=//p' "$OUT/gw-machine.txt"), Caddy $(sed -n 's/^caddy=//p' "$OUT/gw-machine.txt")," \
        "HAProxy $(sed -n 's/^haproxy=//p' "$OUT/gw-machine.txt"), wrk $(sed -n 's/^wrk=//p' "$OUT/gw-machine.txt");" \
        "$(sed -n 's/^cpu=//p' "$OUT/gw-machine.txt"), $(sed -n 's/^cpus=//p' "$OUT/gw-machine.txt") CPUs;" \
        "$(sed -n 's/^date=//p' "$OUT/gw-machine.txt"), commit $(sed -n 's/^commit=//p' "$OUT/gw-machine.txt");" \
        "load $(sed -n 's/^load_before=//p' "$OUT/gw-machine.txt") before, $(sed -n 's/^load_after=//p' "$OUT/gw-machine.txt") after;" \
        "raw results in ${OUT#$ROOT/}/"
} >"$TABLE"
cat "$TABLE"
[ -s "$OUT/gw-failures.txt" ] && exit 1
exit 0
