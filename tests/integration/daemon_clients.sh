#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cutoffd against hostile or careless clients, and refusals of an unsafe
# deployment:
#  - the admin API refuses a caller without a good token or role when the
#    request head is complete: a 50 MB upload leaves (next to) nothing in
#    TMPDIR; a Content-Length over max_spool_bytes is refused at once; an
#    authorised upload works under a TMPDIR longer than 64 bytes; spool
#    directories of a killed cutoffd are removed at start; a client that
#    goes away mid-upload leaves no file;
#  - a client trickling its head or body is disconnected after the
#    deadline; a client address that fills its connection bound does not
#    keep another address from being served;
#  - a tokens file others may write is refused at start and at SIGHUP; an
#    admin listener off loopback is refused before anything is bound.
# Servers listen on 127.0.0.1 only (clients also connect from 127.0.0.2,
# which is loopback too) and are stopped by PID.
source "$(dirname "$0")/lib.sh"

CUTOFFD="$ROOT/$CUTOFF_BUILD/cutoffd"
CASE="$ROOT/examples/reference-case"
[ -x "$CUTOFFD" ] || { not_ok "cutoffd is built" "missing: $CUTOFFD"; finish; exit 1; }
for tool in curl jq python3 sha256sum; do
    command -v "$tool" >/dev/null || { not_ok "$tool is installed" "needed by this test"; finish; exit 1; }
done

CUTOFFD_PID= MONITOR_PID=
cleanup() {
    [ -n "$MONITOR_PID" ] && kill "$MONITOR_PID" 2>/dev/null
    [ -n "$CUTOFFD_PID" ] && kill "$CUTOFFD_PID" 2>/dev/null && wait "$CUTOFFD_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# A TMPDIR longer than 64 bytes (the spool path was once cut to fit one).
SPOOL_TMP="$WORK/a-temporary-directory-whose-name-is-long/and-longer-than-sixty-four-bytes"
mkdir -p "$SPOOL_TMP"
# What a killed cutoffd would have left, and a directory of the same name
# pattern owned by nobody running: both go at start.
mkdir "$SPOOL_TMP/cutoffd-spool.prevrun"
head -c 4096 /dev/zero >"$SPOOL_TMP/cutoffd-spool.prevrun/body.aaaaaa"

token_line() { echo "sha256:$(printf '%s' "$1" | sha256sum | cut -d' ' -f1) $2 $3"; }
new_token() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
ROOT_T=$(new_token) VIEW_T=$(new_token)
{ token_line "$ROOT_T" root admin; token_line "$VIEW_T" vera viewer; } >"$WORK/tokens"
chmod 600 "$WORK/tokens"

run_cutoff init
CUTOFF_ACTOR=alice run_cutoff catalog load "$CASE/catalog.json"
expect_eq "a database with the reference catalog" 0 "$STATUS"

HEAD_MS=1500 BODY_S=2 PER_CLIENT=3 SPOOL_MAX=$((10 * 1024 * 1024))
cat >"$WORK/cutoffd.json" <<EOF
{"database": "$CUTOFF_DB", "decision_listen": "127.0.0.1:0", "admin_listen": "127.0.0.1:0",
 "tokens_file": "$WORK/tokens", "log_file": "$WORK/cutoffd.log",
 "limits": {"threads": 1, "header_timeout_ms": $HEAD_MS, "body_timeout_s": $BODY_S, "timeout_s": 60,
            "admin_connections_per_client": $PER_CLIENT, "max_spool_bytes": $SPOOL_MAX}}
EOF

start() {
    rm -f "$WORK/ports"
    TMPDIR="$SPOOL_TMP" "$CUTOFFD" --port-file "$WORK/ports" "$@" 2>>"$WORK/cutoffd.err" &
    CUTOFFD_PID=$!
    for _ in $(seq 200); do
        [ -s "$WORK/ports" ] && break
        kill -0 "$CUTOFFD_PID" 2>/dev/null || break
        sleep 0.05
    done
    [ -s "$WORK/ports" ] || return 1
    read -r DEC_PORT ADM_PORT <"$WORK/ports"
    ADM="http://127.0.0.1:$ADM_PORT"
}
if start --config "$WORK/cutoffd.json"; then ok "cutoffd starts with TMPDIR of ${#SPOOL_TMP} bytes"
else not_ok "cutoffd starts" "$(cat "$WORK/cutoffd.err")"; finish; exit 1; fi

expect_eq "the spool directory a killed cutoffd left is removed at start" "" \
    "$(ls -d "$SPOOL_TMP"/cutoffd-spool.prevrun 2>/dev/null)"
spool_dirs=$(cd "$SPOOL_TMP" && ls -d cutoffd-spool.* 2>/dev/null)
expect_match "the running cutoffd has one spool directory of its own" '^cutoffd-spool\.[A-Za-z0-9]{6}$' "$spool_dirs"

# spooled_bytes: what the files under TMPDIR hold, in bytes.
spooled_bytes() { find "$SPOOL_TMP" -type f -printf '%s\n' | awk '{n += $1} END {print n + 0}'; }
# The largest spooled_bytes seen while the monitor ran, in $WORK/max.
start_monitor() {
    echo 0 >"$WORK/max"
    (max=0; while :; do n=$(spooled_bytes); [ "$n" -gt "$max" ] && max=$n && echo "$max" >"$WORK/max"; sleep 0.02; done) &
    MONITOR_PID=$!
}
stop_monitor() { kill "$MONITOR_PID" 2>/dev/null; wait "$MONITOR_PID" 2>/dev/null; MONITOR_PID=; }

# ---- the admin API refuses before it reads ---------------------------------------------
head -c $((50 * 1024 * 1024)) /dev/zero >"$WORK/big.bin"
upload() { # upload WHAT [CURL ARGS...]: POST the 50 MB file to the node import; $CODE
    CODE=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 30 -X POST "$@" \
        --data-binary "@$WORK/big.bin" "$ADM/v1/nodes/import")
}
start_monitor
# curl, like most clients, sends a large body only after "Expect: 100-continue"
# is answered: these get their refusal before sending a byte of it.
upload
expect_eq "50 MB without a token: 401" "401 EAUTH" "$CODE $(jq -r .code "$WORK/body")"
upload -H "Authorization: Bearer $(new_token)"
expect_eq "50 MB with an unknown token: 401" "401 EAUTH" "$CODE $(jq -r .code "$WORK/body")"
upload -H "Authorization: Bearer $VIEW_T"
expect_eq "50 MB with a viewer's token (role): 403" "403 urn:cutoff:problem:role" "$CODE $(jq -r .type "$WORK/body")"
upload -H "Authorization: Bearer $ROOT_T"
expect_eq "50 MB from admin, over max_spool_bytes by Content-Length: 413 at once" "413 ELIMIT" \
    "$CODE $(jq -r .code "$WORK/body")"
# A client that sends the body without waiting is answered at once too, but
# the body is not read: the close may reset the connection before the client
# reads the answer (000). Either way nothing is stored (checked below).
for who in "no token" viewer; do
    auth=()
    [ "$who" = viewer ] && auth=(-H "Authorization: Bearer $VIEW_T")
    upload -H 'Expect:' "${auth[@]}"
    expect_match "50 MB sent without waiting ($who): refused or reset" '^(401|403|000)$' "$CODE"
done
stop_monitor
MAX_UNAUTH=$(cat "$WORK/max")
echo "# largest TMPDIR content during the refused uploads: $MAX_UNAUTH bytes"
expect_eq "nothing of a refused body was stored in TMPDIR (largest content seen, in bytes)" 0 "$MAX_UNAUTH"

CODE=$(curl -s -o "$WORK/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $ROOT_T" \
    --data-binary "@$CASE/nodes.jsonl" "$ADM/v1/nodes/import")
expect_eq "an authorised upload works under the long TMPDIR" "200 22" "$CODE $(jq -r .inserted "$WORK/body")"
expect_eq "... and leaves no file behind" "" "$(find "$SPOOL_TMP" -type f)"

# The raw-socket client below: prints what it measured, one "key value" a line.
cat >"$WORK/client.py" <<'EOF'
import socket, sys, time

def connect(port, source="127.0.0.1"):
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    s.settimeout(0.2)
    return s

def closed(s):
    """True once the server closed the connection (EOF or reset)."""
    try:
        return s.recv(65536) == b""
    except socket.timeout:
        return False
    except OSError:
        return True

def trickle(s, data, step, limit):
    """Sends data a byte every step seconds; seconds until the server closes, or -1."""
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < limit:
        if closed(s):
            return time.monotonic() - t0
        if i < len(data):
            try:
                s.sendall(data[i:i + 1])
            except OSError:
                return time.monotonic() - t0
            i += 1
        time.sleep(step)
    return -1

def answer(s, request):
    s.settimeout(5)
    try:
        s.sendall(request)
        got = b""
        while b"\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        return got.split(b"\r\n")[0].decode() or "closed"
    except OSError:
        return "closed"

mode, port = sys.argv[1], int(sys.argv[2])
token = sys.argv[3] if len(sys.argv) > 3 else ""
if mode == "slow-head":
    s = connect(port)
    print("closed_after", round(trickle(s, b"GET /v1/whoami HTTP/1.1\r\nX-Slow: " + b"x" * 200, 0.1, 20), 2))
elif mode == "slow-body":
    s = connect(port)
    s.sendall(("POST /v1/nodes/import HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
               "Content-Length: 100000\r\n\r\n" % token).encode())
    print("closed_after", round(trickle(s, b"{" * 1000, 0.1, 20), 2))
elif mode == "abort-upload":
    spool = sys.argv[4]
    import glob
    s = connect(port)
    s.sendall(("POST /v1/nodes/import HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
               "Content-Length: 1000000\r\n\r\n" % token).encode() + b"x" * 50000)
    seen = 0
    for _ in range(100):
        seen = len(glob.glob(spool + "/cutoffd-spool.*/body.*"))
        if seen:
            break
        time.sleep(0.02)
    print("spooling", seen)
    s.close()
elif mode == "per-client":
    # Fill the bound from 127.0.0.2 with idle connections, then try one
    # more from there and one from 127.0.0.1.
    bound = int(sys.argv[4])
    held = [connect(port, "127.0.0.2") for _ in range(bound)]
    time.sleep(0.2)
    request = ("GET /v1/whoami HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
               "Connection: close\r\n\r\n" % token).encode()
    print("extra_same_client", answer(connect(port, "127.0.0.2"), request).replace(" ", "_"))
    print("other_client", answer(connect(port), request).replace(" ", "_"))
    print("held_open", sum(not closed(s) for s in held))
EOF
client() { python3 "$WORK/client.py" "$@"; }
measured() { printf '%s\n' "$OUT" | awk -v k="$1" '$1 == k {print $2}'; }
# within LOW HIGH VALUE: LOW <= VALUE <= HIGH (seconds, decimals).
within() { awk -v lo="$1" -v hi="$2" -v v="$3" 'BEGIN {exit !(v >= lo && v <= hi)}'; }

OUT=$(client abort-upload "$ADM_PORT" "$ROOT_T" "$SPOOL_TMP")
expect_eq "an authorised upload spools while it arrives" 1 "$(measured spooling)"
for _ in $(seq 100); do [ -z "$(find "$SPOOL_TMP" -type f)" ] && break; sleep 0.02; done
expect_eq "a client that goes away mid-upload leaves no spool file" "" "$(find "$SPOOL_TMP" -type f)"

# ---- slow clients -----------------------------------------------------------------------
OUT=$(client slow-head "$ADM_PORT")
HEAD_DROP=$(measured closed_after)
echo "# a head trickled a byte per 0.1 s was dropped after ${HEAD_DROP} s (deadline ${HEAD_MS} ms)"
if within "$(awk -v m="$HEAD_MS" 'BEGIN {print m / 1000 - 0.2}')" \
    "$(awk -v m="$HEAD_MS" 'BEGIN {print m / 1000 + 2}')" "$HEAD_DROP"; then
    ok "a client trickling its head is disconnected at the head deadline (+2 s margin)"
else not_ok "a client trickling its head is disconnected at the head deadline" "closed after: $HEAD_DROP s"; fi

OUT=$(client slow-body "$ADM_PORT" "$ROOT_T")
BODY_DROP=$(measured closed_after)
echo "# a body trickled a byte per 0.1 s was dropped after ${BODY_DROP} s (deadline ${BODY_S} s)"
if within $((BODY_S - 1)) $((BODY_S + 2)) "$BODY_DROP"; then
    ok "a client trickling its body is disconnected at the body deadline (+2 s margin)"
else not_ok "a client trickling its body is disconnected at the body deadline" "closed after: $BODY_DROP s"; fi
for _ in $(seq 100); do [ -z "$(find "$SPOOL_TMP" -type f)" ] && break; sleep 0.02; done
expect_eq "... and its spool file is removed" "" "$(find "$SPOOL_TMP" -type f)"

OUT=$(client per-client "$ADM_PORT" "$ROOT_T" "$PER_CLIENT")
expect_eq "an address over admin_connections_per_client is refused without an answer" closed \
    "$(measured extra_same_client)"
expect_eq "... while another address is served" "HTTP/1.1_200_OK" "$(measured other_client)"
expect_eq "... and the first address keeps its connections" "$PER_CLIENT" "$(measured held_open)"
curl -s -o /dev/null -w '%{http_code}' "$ADM/healthz" >"$WORK/code"
expect_eq "the listener serves once they are gone" 200 "$(cat "$WORK/code")"

# ---- the tokens file ---------------------------------------------------------------------
chmod 666 "$WORK/tokens"
kill -HUP "$CUTOFFD_PID"
for _ in $(seq 100); do grep -q reload_failed "$WORK/cutoffd.log" && break; sleep 0.02; done
expect_match "SIGHUP refuses a tokens file others may write, saying why" 'tokens.*writable by its owner only' \
    "$(jq -R -r 'fromjson | select(.event == "reload_failed") | .error' "$WORK/cutoffd.log")"
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ROOT_T" "$ADM/v1/whoami")
expect_eq "... and keeps the running tokens" 200 "$CODE"

# A token revoked while its upload arrives changes nothing: the call is
# authorised again, against the tokens in force, when its body is complete.
reload_tokens() { # reload_tokens: SIGHUP, then wait for the reload
    local before
    before=$(grep -c '"reloaded"' "$WORK/cutoffd.log")
    kill -HUP "$CUTOFFD_PID"
    for _ in $(seq 100); do [ "$(grep -c '"reloaded"' "$WORK/cutoffd.log")" -gt "$before" ] && break; sleep 0.02; done
}
REV_T=$(new_token)
chmod 600 "$WORK/tokens"
token_line "$REV_T" rex admin >>"$WORK/tokens"
reload_tokens
for _ in $(seq 80); do cat "$CASE/nodes.jsonl"; done >"$WORK/slow.jsonl" # about 170 KB
curl -s -o "$WORK/body" -w '%{http_code}' -H 'Expect:' --limit-rate 170k -X POST \
    -H "Authorization: Bearer $REV_T" --data-binary "@$WORK/slow.jsonl" "$ADM/v1/nodes/import" >"$WORK/code" &
SLOW_PID=$!
sleep 0.3
grep -v " rex " "$WORK/tokens" >"$WORK/tokens.new" && cat "$WORK/tokens.new" >"$WORK/tokens"
reload_tokens
wait "$SLOW_PID"
expect_eq "a token revoked during its upload: 401 when the body is complete" "401 EAUTH" \
    "$(cat "$WORK/code") $(jq -r .code "$WORK/body" 2>/dev/null)"
expect_eq "... and rex changed nothing (no audit record of theirs)" 0 \
    "$(sqlite3 "$CUTOFF_DB" "SELECT count(*) FROM audit WHERE actor = 'rex'")"

# A slow upload is not a slow admin call: the call is timed from when its
# body is complete, so a sender cannot fill the log with slow_admin_call
# lines (they are for work under the write lock). 2 KB at 1.8 KB/s: over
# the 1 s a slow call takes, under the 2 s body deadline.
before=$(grep -c '"slow_admin_call"' "$WORK/cutoffd.log")
CODE=$(curl -s -o "$WORK/body" -w '%{http_code} %{time_total}' -H 'Expect:' --limit-rate 1800 -X POST \
    -H "Authorization: Bearer $ROOT_T" --data-binary "@$CASE/nodes.jsonl" "$ADM/v1/nodes/import")
echo "# a 2 KB import sent at 1.8 KB/s: status and seconds $CODE"
expect_eq "an import sent slowly is taken" 200 "${CODE%% *}"
expect_eq "... and logs no slow_admin_call" "$before" "$(grep -c '"slow_admin_call"' "$WORK/cutoffd.log")"

run_daemon() { # run_daemon ARGS...: cutoffd must not start; $STATUS, $ERR
    timeout 5 "$CUTOFFD" "$@" >/dev/null 2>"$WORK/.stderr"
    STATUS=$?
    ERR=$(cat "$WORK/.stderr")
}
one_line() {
    if [ -n "$ERR" ] && [ "$(printf '%s\n' "$ERR" | wc -l)" -eq 1 ]; then ok "$1"; else not_ok "$1" "stderr: $ERR"; fi
}
for mode in 664 646; do
    chmod "$mode" "$WORK/tokens"
    run_daemon --db "$CUTOFF_DB" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --tokens "$WORK/tokens"
    expect_eq "a tokens file of mode $mode: cutoffd does not start (exit 1)" 1 "$STATUS"
    expect_match "... naming the file, its mode and the fix" "tokens.*mode $mode.*chmod go-w" "$ERR"
    one_line "... on one line"
done
chmod 640 "$WORK/tokens"

# ---- an admin listener off loopback --------------------------------------------------------
# The port is the running cutoffd's: binding it would fail with another
# message, so the refusal shows that nothing was bound.
for where in "0.0.0.0:$ADM_PORT" "[::]:$ADM_PORT"; do
    run_daemon --db "$CUTOFF_DB" --listen 127.0.0.1:0 --admin-listen "$where" --tokens "$WORK/tokens"
    expect_eq "admin listener $where without admin_allow_remote: exit 1" 1 "$STATUS"
    expect_match "... refused before binding, saying to put TLS in front" 'not a loopback address.*TLS.*admin_allow_remote' "$ERR"
    one_line "... on one line"
done

kill -TERM "$CUTOFFD_PID"
wait "$CUTOFFD_PID"
expect_eq "cutoffd stops cleanly" 0 "$?"
CUTOFFD_PID=
expect_eq "... and removes its spool directory" "" "$(ls -A "$SPOOL_TMP")"
finish
