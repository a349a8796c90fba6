#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Load with change: cutoffd saturated by wrk on POST /v1/check and on
# GET /v1/authz (as nginx's auth_request asks it: X-Original-Method and
# X-Original-URI) for LOAD_SECONDS, while every 100 ms an approval or a
# lift goes through the admin API (approve EA-F-1, lift it, approve
# EA-F-2, lift it, ...; each a copy of the reference case's EA-1 over
# unit-8200). Asserted:
#
#   - wrk: no socket errors, no timeouts, and only the statuses each path
#     answers for decisions (/v1/check: 200, allow or deny alike;
#     /v1/authz: 204 allow, 403 or 451 deny); counted by tests/long/statuses.lua
#   - every approval and lift answers 200
#   - a sampler, beside the load, asks both paths about a request the
#     changes decide (sub-8200-storage, storage.write), one request at a
#     time, and writes down when it sent it (s0) and when the answer came
#     (s1). The changer writes down each change's call (a: sent, b:
#     answered). cutoffd promises a change is in force for every decision
#     by the time its answer is sent, and none before the call, so an
#     answer is right when it is the state after the last change answered
#     before s0, or the state after a change whose call [a, b] overlaps
#     [s0, s1]. Outside every change window that leaves exactly one
#     answer. The state after approving EA-F-k is "deny read_only EA-F-k"
#     (451 on /v1/authz, with Cutoff-Action: EA-F-k), after a lift "allow".
#
# Reported, not asserted: requests per second, the number of samples
# inside change windows, and cutoffd's resident memory (VmRSS, read from
# /proc every second) from LOAD_WARMUP seconds to the end.
#
#   LOAD_SECONDS=N  load duration (default 5; the long run uses 60)
#   LOAD_WARMUP=N   RSS growth is measured from this second (default 2)
#   LOAD_CONNS=N    wrk connections per path (default 16)
source "$(dirname "$0")/lib.sh"
export LC_ALL=C

CUTOFFD="$ROOT/$CUTOFF_BUILD/cutoffd"
CASE="$ROOT/examples/reference-case"
LUA="$ROOT/tests/long/statuses.lua"
SECONDS_LOAD=${LOAD_SECONDS:-5}
WARMUP=${LOAD_WARMUP:-2}
CONNS=${LOAD_CONNS:-16}
for need in "$CUTOFF" "$CUTOFFD"; do
    [ -x "$need" ] || { not_ok "the programs are built" "missing: $need"; finish; exit 1; }
done
for tool in wrk curl jq sha256sum; do
    command -v "$tool" >/dev/null || { not_ok "$tool is installed" "needed by this test"; finish; exit 1; }
done

CUTOFFD_PID= BG_PIDS=()
cleanup() {
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "$CUTOFFD_PID" ] && kill "$CUTOFFD_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
usec() { echo "${EPOCHREALTIME//[!0-9]/}"; }

# ---- the database: the reference case and one draft per two changes ------------------
N_CHANGES=$((SECONDS_LOAD * 10))
N_FLIPS=$((N_CHANGES / 2 + 2))
export CUTOFF_ACTOR=alice
run_cutoff init && run_cutoff catalog load "$CASE/catalog.json" && run_cutoff nodes import "$CASE/nodes.jsonl" &&
    run_cutoff case open --id CASE-7 --title "load with change" --scope unit-8200
expect_eq "database prepared with the reference case" 0 "$STATUS"
for i in $(seq "$N_FLIPS"); do
    jq --arg id "EA-F-$i" '.id = $id' "$CASE/action.json" >"$WORK/flip.json"
    "$CUTOFF" action propose "$WORK/flip.json" >/dev/null 2>"$WORK/propose.err" || break
done
expect_eq "$N_FLIPS drafts proposed" "" "$(cat "$WORK/propose.err")"

token() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
ALICE=$(token) BOB=$(token)
{
    echo "sha256:$(printf '%s' "$ALICE" | sha256sum | cut -d' ' -f1) alice enforcer"
    echo "sha256:$(printf '%s' "$BOB" | sha256sum | cut -d' ' -f1) bob approver"
} >"$WORK/tokens"
jq --arg db "$CUTOFF_DB" --arg tokens "$WORK/tokens" --arg log "$WORK/cutoffd.log" \
    '.database = $db | .tokens_file = $tokens | .log_file = $log
     | .decision_listen = "127.0.0.1:0" | .admin_listen = "127.0.0.1:0"' \
    "$ROOT/examples/gateway/cutoffd.json" >"$WORK/cutoffd.json"
"$CUTOFFD" --config "$WORK/cutoffd.json" --port-file "$WORK/ports" 2>"$WORK/cutoffd.err" &
CUTOFFD_PID=$!
for _ in $(seq 200); do
    [ -s "$WORK/ports" ] && break
    kill -0 "$CUTOFFD_PID" 2>/dev/null || break
    sleep 0.05
done
if ! read -r DEC ADM <"$WORK/ports" 2>/dev/null; then
    not_ok "cutoffd starts" "$(tail -3 "$WORK/cutoffd.err" "$WORK/cutoffd.log" 2>/dev/null)"
    finish
    exit 1
fi
ok "cutoffd serves on 127.0.0.1:$DEC and :$ADM"

# ---- the load: the same mix of requests on both paths ------------------------------------------
# A write and a read by the unit (decided by the changes), a write by
# another unit and a security scan by the unit (always allowed).
{
    for r in 'sub-8200-storage storage.write' 'sub-8200-storage storage.read' \
        'sub-logistics-erp storage.write' 'sub-8200-secops security.scan'; do
        set -- $r
        printf 'POST\t/v1/check\t{"subscription":"%s","action":"%s","region":"eu-netherlands"}\n' "$1" "$2"
    done
} >"$WORK/check.tsv"
printf 'GET\t/v1/authz\t-\tX-Original-Method: %s\tX-Original-URI: %s\n' \
    PUT /storage/sub-8200-storage/a GET /storage/sub-8200-storage/a \
    PUT /storage/sub-logistics-erp/a POST /security/sub-8200-secops/scan >"$WORK/authz.tsv"

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$CUTOFFD_PID/status" 2>/dev/null; }
T0=$(usec)
END=$((T0 + SECONDS_LOAD * 1000000))
timeout $((SECONDS_LOAD + 30)) wrk -t1 -c"$CONNS" -d"${SECONDS_LOAD}s" --timeout 2s -s "$LUA" \
    "http://127.0.0.1:$DEC" -- "$WORK/check.tsv" >"$WORK/wrk-check.txt" 2>&1 &
BG_PIDS+=($!)
WRK_CHECK=$!
timeout $((SECONDS_LOAD + 30)) wrk -t1 -c"$CONNS" -d"${SECONDS_LOAD}s" --timeout 2s -s "$LUA" \
    "http://127.0.0.1:$DEC" -- "$WORK/authz.tsv" >"$WORK/wrk-authz.txt" 2>&1 &
BG_PIDS+=($!)
WRK_AUTHZ=$!

# The changer: one approval or lift every 100 ms; "a b verb id status" a line.
(
    k=1 verb=approve next=$((T0 + 100000))
    while [ "$(usec)" -lt "$END" ]; do
        a=$(usec)
        if [ $verb = approve ]; then
            code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $BOB" \
                "http://127.0.0.1:$ADM/v1/actions/EA-F-$k/approve")
        else
            code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $ALICE" \
                -H 'Content-Type: application/json' --data-binary '{"reason":"load test"}' \
                "http://127.0.0.1:$ADM/v1/actions/EA-F-$k/lift")
        fi
        echo "$a $(usec) $verb EA-F-$k $code"
        if [ $verb = approve ]; then verb=lift; else verb=approve k=$((k + 1)); fi
        [ $k -gt "$N_FLIPS" ] && break
        now=$(usec)
        [ "$now" -lt "$next" ] && sleep "$(printf '0.%06d' $((next - now)))"
        next=$((next + 100000))
    done
) >"$WORK/changes.log" &
BG_PIDS+=($!)
CHANGER=$!

# The sampler: "s0 s1 path answer" a line; answer is allow or deny:ID.
(
    WRITE='{"subscription":"sub-8200-storage","action":"storage.write","region":"eu-netherlands"}'
    while [ "$(usec)" -lt "$END" ]; do
        s0=$(usec)
        body=$(curl -s -H 'Content-Type: application/json' --data-binary "$WRITE" "http://127.0.0.1:$DEC/v1/check")
        s1=$(usec)
        if [[ $body =~ \"decision\":\"allow\" ]]; then answer=allow
        elif [[ $body =~ \"reason\":\"read_only\".*\"enforcement_action\":\"([^\"]+)\" ]] ||
            [[ $body =~ \"enforcement_action\":\"([^\"]+)\".*\"reason\":\"read_only\" ]]; then
            answer="deny:${BASH_REMATCH[1]}"
        else answer="other:${body:0:80}"; fi
        echo "$s0 $s1 check ${answer// /_}"
        s0=$(usec)
        head=$(curl -s -o /dev/null -D - -H 'X-Original-Method: PUT' -H 'X-Original-URI: /storage/sub-8200-storage/x' \
            "http://127.0.0.1:$DEC/v1/authz" | tr -d '\r')
        s1=$(usec)
        status=$(printf '%s\n' "$head" | awk 'NR == 1 { print $2 }')
        by=$(printf '%s\n' "$head" | awk -F': ' 'tolower($1) == "cutoff-action" { print $2 }')
        if [ "$status" = 204 ]; then answer=allow
        elif [ "$status" = 451 ] && [ -n "$by" ]; then answer="deny:$by"
        else answer="other:$status"; fi
        echo "$s0 $s1 authz $answer"
    done
) >"$WORK/samples.log" &
BG_PIDS+=($!)
SAMPLER=$!

# Resident memory, once a second, until the load ends.
while [ "$(usec)" -lt "$END" ]; do
    echo "$((($(usec) - T0) / 1000000)) $(rss_kb)" >>"$WORK/rss.log"
    sleep 1
done
wait "$WRK_CHECK" "$WRK_AUTHZ" "$CHANGER" "$SAMPLER"
BG_PIDS=()
echo "$SECONDS_LOAD $(rss_kb)" >>"$WORK/rss.log"

# ---- the load: statuses and errors -----------------------------------------------------------------
# wrk_summary FILE ALLOWED_STATUSES: "requests rps wrong errors"
wrk_summary() {
    awk -v allowed=" $2 " '
        /^Requests\/sec:/ { rps = $2 }
        / requests in / { requests = $1 }
        /^status / { if (index(allowed, " " $2 " ") == 0) wrong += $3; seen += $3 }
        /Socket errors:/ { gsub(",", ""); errors = $4 + $6 + $8 + $10 }
        END { printf "%d %.0f %d %d %d\n", requests, rps, wrong, errors, seen }' "$1"
}
for path in check authz; do
    allowed=$([ $path = check ] && echo 200 || echo "204 403 451")
    read -r requests rps wrong errors seen < <(wrk_summary "$WORK/wrk-$path.txt" "$allowed")
    echo "# wrk $path: $requests requests, $rps/s, statuses: $(grep '^status' "$WORK/wrk-$path.txt" | cut -d' ' -f2- | tr '\n' ';')"
    if [ "$requests" -gt 0 ] && [ "$seen" -eq "$requests" ] && [ "$wrong" -eq 0 ] && [ "$errors" -eq 0 ]; then
        ok "$path under change: $requests requests, every one answered with a decision status ($allowed), no socket errors"
    else
        not_ok "$path under change: every request answered with $allowed, no socket errors" \
            "requests $requests, counted $seen, other statuses $wrong, socket errors $errors" \
            "$(tail -12 "$WORK/wrk-$path.txt")"
    fi
    eval "REQ_$path=$requests RPS_$path=$rps"
done

# ---- the changes and the sampled decisions ---------------------------------------------------------
n_changes=$(wc -l <"$WORK/changes.log")
bad_changes=$(awk '$5 != 200' "$WORK/changes.log" | wc -l)
if [ "$n_changes" -ge $((N_CHANGES / 2)) ] && [ "$bad_changes" -eq 0 ]; then
    ok "$n_changes approvals and lifts during the load, each answered 200"
else
    not_ok "approvals and lifts every 100 ms, each answered 200" "$n_changes changes, $bad_changes not 200" \
        "$(awk '$5 != 200' "$WORK/changes.log" | head -3)"
fi
# judge: for each sample, the answers the change log allows (see the top).
awk '
    FNR == NR { a[++n] = $1; b[n] = $2; after[n] = ($3 == "approve" ? "deny:" $4 : "allow"); next }
    {
        s0 = $1; s1 = $2; got = $4
        state = "allow"; window = 0; fine = 0
        for (k = 1; k <= n; k++) {
            if (b[k] < s0) state = after[k]
            else if (a[k] <= s1 && b[k] >= s0) { window = 1; if (got == after[k]) fine = 1 }
        }
        if (got == state) fine = 1
        samples++; windows += window
        if (!fine) { wrong++; if (wrong <= 5) printf "bad %s %s %s got %s, held %s\n", $3, s0, s1, got, state }
    }
    END { printf "samples %d windows %d wrong %d\n", samples, windows, wrong }' \
    "$WORK/changes.log" "$WORK/samples.log" >"$WORK/judged.txt"
read -r _ samples _ windows _ wrong < <(grep '^samples' "$WORK/judged.txt")
echo "# sampled decisions: $samples ($windows inside a change window, $((samples - windows)) outside)"
if [ "$samples" -gt 0 ] && [ "$wrong" -eq 0 ]; then
    ok "$samples sampled decisions are the state in force when they were asked"
else
    not_ok "sampled decisions are the state in force when they were asked" "$wrong of $samples wrong" \
        "$(grep '^bad' "$WORK/judged.txt")"
fi

# ---- memory (reported) ---------------------------------------------------------------------------------
RSS_START=$(awk -v w="$WARMUP" '$1 >= w && $2 != "" { print $2; exit }' "$WORK/rss.log")
RSS_END=$(awk '$2 != "" { v = $2 } END { print v }' "$WORK/rss.log")
RSS_MAX=$(awk '$2 > m { m = $2 } END { print m }' "$WORK/rss.log")
echo "# cutoffd VmRSS: ${RSS_START:-?} kB at ${WARMUP}s, ${RSS_END:-?} kB at the end (max $RSS_MAX kB)," \
    "growth $((${RSS_END:-0} - ${RSS_START:-0})) kB"
echo "result load_change seconds=$SECONDS_LOAD check_requests=$REQ_check check_rps=$RPS_check" \
    "authz_requests=$REQ_authz authz_rps=$RPS_authz changes=$n_changes bad_changes=$bad_changes" \
    "samples=$samples in_window=$windows wrong=$wrong rss_start_kb=${RSS_START:-} rss_end_kb=${RSS_END:-}" \
    "rss_max_kb=$RSS_MAX load=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)"
kill -0 "$CUTOFFD_PID" 2>/dev/null && ok "cutoffd is still running" || not_ok "cutoffd is still running" \
    "$(tail -5 "$WORK/cutoffd.err")"
finish
