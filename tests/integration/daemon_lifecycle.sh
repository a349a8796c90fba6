#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cutoffd's life around the API: the command line (usage, version, exit
# status and one-line reasons when it cannot start), flags over the
# configuration file, a start on an empty database (alive, not ready, every
# decision fails closed) that becomes ready when a catalog arrives from
# another process, and SIGINT as a clean stop. Everything listens on
# 127.0.0.1 and is stopped at the end.
source "$(dirname "$0")/lib.sh"

CUTOFFD="$ROOT/$CUTOFF_BUILD/cutoffd"
CASE="$ROOT/examples/reference-case"
[ -x "$CUTOFFD" ] || { not_ok "cutoffd is built" "missing: $CUTOFFD"; finish; exit 1; }
for tool in curl jq sha256sum; do
    command -v "$tool" >/dev/null || { not_ok "$tool is installed" "needed by this test"; finish; exit 1; }
done

CUTOFFD_PID=
cleanup() {
    [ -n "$CUTOFFD_PID" ] && kill "$CUTOFFD_PID" 2>/dev/null && wait "$CUTOFFD_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# run_daemon ARGS...: runs cutoffd to completion (it must not start: after
# 5 s it is stopped and STATUS is 124), output in $OUT / $ERR and exit
# status in $STATUS.
run_daemon() {
    OUT=$(timeout 5 "$CUTOFFD" "$@" 2>"$WORK/.stderr")
    STATUS=$?
    ERR=$(cat "$WORK/.stderr")
}
# start ARGS...: starts cutoffd in the background with --port-file; the
# ports in DEC and ADM.
start() {
    rm -f "$WORK/ports"
    "$CUTOFFD" --port-file "$WORK/ports" "$@" 2>>"$WORK/cutoffd.err" &
    CUTOFFD_PID=$!
    for _ in $(seq 200); do
        [ -s "$WORK/ports" ] && break
        kill -0 "$CUTOFFD_PID" 2>/dev/null || break
        sleep 0.05
    done
    [ -s "$WORK/ports" ] || return 1
    read -r DEC_PORT ADM_PORT <"$WORK/ports"
    DEC="http://127.0.0.1:$DEC_PORT" ADM="http://127.0.0.1:$ADM_PORT"
}
http() { # http METHOD URL [CURL ARGS...]: $CODE, $WORK/body, $WORK/headers
    local method=$1 url=$2
    shift 2
    CODE=$(curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$method" "$@" "$url")
}
jb() { jq -r "$1" "$WORK/body" 2>/dev/null; }
header() { grep -i "^$1:" "$WORK/headers" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
# one_line WHAT: the last failure said why on exactly one line.
one_line() {
    if [ -n "$ERR" ] && [ "$(printf '%s\n' "$ERR" | wc -l)" -eq 1 ]; then ok "$1"
    else not_ok "$1" "stderr: $ERR"; fi
}

# ---- the command line --------------------------------------------------------------------
run_daemon --help
expect_eq "--help exits 0" 0 "$STATUS"
expect_match "--help describes the flags" '--config' "$OUT"
run_daemon --version
expect_match "--version prints the version" '^cutoffd [0-9]' "$OUT"
run_daemon --no-such-flag
expect_eq "an unknown flag is a usage error (2)" 2 "$STATUS"
run_daemon --threads 0
expect_eq "--threads 0 is a usage error (2)" 2 "$STATUS"
one_line "--threads 0 says why on one line"
run_daemon extra-argument
expect_eq "a stray argument is a usage error (2)" 2 "$STATUS"

run_daemon --db "$WORK/missing.db" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0
expect_eq "a database that does not exist: exit 1" 1 "$STATUS"
expect_match "... naming it and what to do" 'missing\.db.*cutoff init' "$ERR"
echo '{"database": "x.db", "colour": "red"}' >"$WORK/bad.json"
run_daemon --config "$WORK/bad.json"
expect_eq "an unknown configuration key: exit 1" 1 "$STATUS"
expect_match "... naming the file and the key" 'bad\.json.*colour' "$ERR"
one_line "... on one line"
echo '{"routes": [{"method": "GET", "path": "/x/{subscription}/**", "action": "storage.*"}]}' >"$WORK/bad.json"
run_daemon --config "$WORK/bad.json"
expect_match "a route with a pattern for an action: exit 1 naming routes[0]" 'routes\[0\]' "$ERR"
echo '{"routes": [{"method": "GET", "path": "/x/**/y", "action": "storage.read", "subscription_header": "X-S"}]}' \
    >"$WORK/bad.json"
run_daemon --config "$WORK/bad.json"
expect_match "a ** that is not last: exit 1" '\*\*' "$ERR"
echo '{"limits": {"max_body_bytes": 10}}' >"$WORK/bad.json"
run_daemon --config "$WORK/bad.json"
expect_match "a body limit below 1024: exit 1 naming the limit" 'max_body_bytes' "$ERR"
printf '{"routes": [' >"$WORK/bad.json"
run_daemon --config "$WORK/bad.json"
expect_match "malformed JSON: exit 1 with file:line:column" 'bad\.json:1:' "$ERR"
printf 'sha256:0123 someone viewer\n' >"$WORK/bad-tokens"
run_cutoff init
run_daemon --db "$CUTOFF_DB" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --tokens "$WORK/bad-tokens"
expect_eq "a malformed tokens file: exit 1" 1 "$STATUS"
expect_match "... naming the file and line" 'bad-tokens:1' "$ERR"

# ---- an empty database: alive, not ready, failing closed -----------------------------------
ROOT_T=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "sha256:$(printf '%s' "$ROOT_T" | sha256sum | cut -d' ' -f1) root admin" >"$WORK/tokens"
cat >"$WORK/cutoffd.json" <<EOF
{"database": "$CUTOFF_DB", "decision_listen": "127.0.0.1:1", "admin_listen": "127.0.0.1:1",
 "tokens_file": "$WORK/tokens", "log_file": "$WORK/cutoffd.log",
 "routes": [{"method": "GET", "path": "/storage/{subscription}/**", "action": "storage.read"}]}
EOF
# The flags win over the file's listen addresses (port 1 would not do).
if start --config "$WORK/cutoffd.json" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --threads 1; then
    ok "cutoffd starts on an empty database, flags over the file's listeners"
else
    not_ok "cutoffd starts on an empty database" "$(cat "$WORK/cutoffd.err")"
    finish
    exit 1
fi
http GET "$DEC/healthz"
expect_eq "empty database: /healthz 200" 200 "$CODE"
http GET "$DEC/readyz"
expect_eq "empty database: /readyz 503" 503 "$CODE"
http GET "$DEC/metrics"
expect_match "empty database: cutoff_ready 0" '^cutoff_ready 0$' "$(grep '^cutoff_ready ' "$WORK/body")"
http POST "$DEC/v1/check" --data-binary '{"subscription":"sub-8200-storage","action":"storage.read"}'
expect_eq "empty database: a check is refused (503 problem), never allowed" "503 application/problem+json" \
    "$CODE $(header Content-Type)"
http GET "$DEC/v1/authz" -H 'X-Original-Method: GET' -H 'X-Original-URI: /storage/sub-8200-storage/a'
expect_eq "empty database: authz does not allow (503)" 503 "$CODE"
http GET "$DEC/v1/authz/nginx" -H 'X-Original-Method: GET' -H 'X-Original-URI: /storage/sub-8200-storage/a'
expect_eq "empty database: authz for nginx denies (403)" 403 "$CODE"
expect_match "the log says why it is not ready" 'catalog' \
    "$(jq -R -r 'fromjson | select(.event == "not_ready") | .why' "$WORK/cutoffd.log")"

# The catalog arrives from the CLI, the nodes through the admin API.
CUTOFF_ACTOR=alice run_cutoff catalog load "$CASE/catalog.json"
expect_eq "the CLI loads the catalog while cutoffd runs" 0 "$STATUS"
for _ in $(seq 100); do
    http GET "$DEC/readyz"
    [ "$CODE" = 200 ] && break
    sleep 0.02
done
expect_eq "cutoffd becomes ready once the catalog is in" 200 "$CODE"
http POST "$ADM/v1/nodes/import" -H "Authorization: Bearer $ROOT_T" --data-binary "@$CASE/nodes.jsonl"
expect_eq "nodes imported through the admin API" "200 22" "$CODE $(jb .inserted)"
http GET "$DEC/v1/authz" -H 'X-Original-Method: GET' -H 'X-Original-URI: /storage/sub-8200-storage/a'
expect_eq "... and decided at once (204)" 204 "$CODE"
http GET "$DEC/metrics"
expect_match "cutoff_subscriptions counts them" "^cutoff_subscriptions $(grep -c '"kind":"subscription"' "$CASE/nodes.jsonl")\$" \
    "$(grep '^cutoff_subscriptions ' "$WORK/body")"

# Listening on a port that is taken fails with a reason: a second daemon
# must not quietly share the port (and the traffic) with the first.
run_daemon --db "$CUTOFF_DB" --listen "127.0.0.1:$DEC_PORT" --admin-listen 127.0.0.1:0
expect_eq "a decision port in use: exit 1" 1 "$STATUS"
expect_match "... saying which address" "127\.0\.0\.1:$DEC_PORT" "$ERR"

# ---- SIGINT: a clean stop -----------------------------------------------------------------
kill -INT "$CUTOFFD_PID"
wait "$CUTOFFD_PID"
expect_eq "cutoffd exits 0 on SIGINT" 0 "$?"
CUTOFFD_PID=
if curl -s -o /dev/null --max-time 2 "$DEC/healthz"; then not_ok "nothing listens after the stop"
else ok "nothing listens after the stop"; fi

# ---- the first snapshot is built at a lower priority, serving threads keep theirs ---------
# nice_of PID TID: field 19 of the thread's stat (after the ')' that ends its name).
nice_of() { sed 's/.*) //' "/proc/$1/task/$2/stat" | cut -d' ' -f17; }
: >"$WORK/cutoffd.err"
if start --db "$CUTOFF_DB" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --threads 2; then
    ok "cutoffd starts on the filled database"
else
    not_ok "cutoffd starts on the filled database" "$(cat "$WORK/cutoffd.err")"
fi
http GET "$DEC/readyz"
expect_eq "... ready once started" 200 "$CODE"
loaded=$(grep '"event":"snapshot_loaded"' "$WORK/cutoffd.err" | head -1)
own=$(nice) # this shell's, which cutoffd inherited
want=$((own + 10 > 19 ? 19 : own + 10))
expect_eq "the first snapshot was built 10 nice steps below cutoffd's own ($own)" "$want" \
    "$(printf '%s' "$loaded" | jq -r .nice)"
expect_eq "... and the log says how many subscriptions it holds" \
    "$(grep -c '"kind":"subscription"' "$CASE/nodes.jsonl")" "$(printf '%s' "$loaded" | jq -r .subscriptions)"
threads=0 lowered=
for task in /proc/"$CUTOFFD_PID"/task/*; do
    threads=$((threads + 1))
    n=$(nice_of "$CUTOFFD_PID" "${task##*/}")
    [ "$n" = "$own" ] || lowered="$lowered ${task##*/}:$n"
done
if [ "$threads" -ge 3 ] && [ -z "$lowered" ]; then
    ok "every one of the $threads threads left runs at cutoffd's own nice ($own)"
else
    not_ok "every thread left runs at cutoffd's own nice ($own)" "threads: $threads, other nice:$lowered"
fi
kill -TERM "$CUTOFFD_PID"
wait "$CUTOFFD_PID"
CUTOFFD_PID=
finish
