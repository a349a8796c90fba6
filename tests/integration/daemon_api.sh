#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cutoffd's HTTP contract, spoken with curl (and raw HTTP on a kept-alive
# connection where timing matters): the decision API (check, batch,
# gateway forward-auth), health, metrics and the JSON log, the admin API
# with its roles and the four-eyes rule, live reloads (SIGHUP) and a clean
# stop (SIGTERM). The database holds the reference case; EA-1 is approved
# with the CLI on the same database while cutoffd runs, so the test also
# shows that cutoffd notices another process's change within milliseconds.
# Expected values come from the reference case's files and from the clock
# around each change, never from cutoffd's own earlier answers.
# Everything listens on 127.0.0.1 (ports picked by cutoffd, read back from
# --port-file) and is stopped at the end.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C # byte lengths for raw HTTP, "." in $EPOCHREALTIME

CUTOFFD="$ROOT/$CUTOFF_BUILD/cutoffd"
CASE="$ROOT/examples/reference-case"
for need in "$CUTOFFD:cutoffd" "$CUTOFF:cutoff"; do
    [ -x "${need%%:*}" ] || { not_ok "${need#*:} is built" "missing: ${need%%:*}"; finish; exit 1; }
done
for tool in curl jq sqlite3 sha256sum; do
    command -v "$tool" >/dev/null || { not_ok "$tool is installed" "needed by this test"; finish; exit 1; }
done

CUTOFFD_PID=
cleanup() {
    [ -n "$CUTOFFD_PID" ] && kill "$CUTOFFD_PID" 2>/dev/null && wait "$CUTOFFD_PID" 2>/dev/null
    lib_cleanup
}
trap cleanup EXIT

# ---- helpers -------------------------------------------------------------------------
rfc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
unix_of() { date -u -d "$1" +%s; }
token() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
sha_hex() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# http METHOD URL [CURL ARGS...]: status in $CODE, body in $WORK/body,
# headers in $WORK/headers.
http() {
    local method=$1 url=$2
    shift 2
    CODE=$(curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$method" "$@" "$url")
}
# check JSON / batch JSON: POST to the decision listener.
check() { http POST "$DEC/v1/check" -H 'Content-Type: application/json' --data-binary "$1"; }
batch() { http POST "$DEC/v1/check/batch" -H 'Content-Type: application/json' --data-binary "$1"; }
# admin TOKEN METHOD PATH [CURL ARGS...]: the admin listener with a bearer token
# ("" sends none).
admin() {
    local tok=$1 method=$2 path=$3
    shift 3
    local auth=()
    [ -n "$tok" ] && auth=(-H "Authorization: Bearer $tok")
    http "$method" "$ADM$path" "${auth[@]}" "$@"
}
adminj() { # adminj TOKEN METHOD PATH JSON
    admin "$1" "$2" "$3" -H 'Content-Type: application/json' --data-binary "$4"
}
# authz [HEADERS...]: GET /v1/authz with the given request headers.
authz() {
    local args=()
    for h in "$@"; do args+=(-H "$h"); done
    http GET "$DEC/v1/authz" "${args[@]}"
}
body() { cat "$WORK/body"; }
jb() { jq -r "$1" "$WORK/body" 2>/dev/null; }  # a field of the last body
jc() { jq -c "$1" "$WORK/body" 2>/dev/null; }  # the same, compact JSON
header() { grep -i "^$1:" "$WORK/headers" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
# expect_code WHAT STATUS: the last answer had STATUS.
expect_code() {
    if [ "$CODE" = "$2" ]; then ok "$1"; else not_ok "$1" "wanted HTTP $2, got $CODE" "body: $(head -c 400 "$WORK/body")"; fi
}
# expect_problem WHAT STATUS [DETAIL_REGEX]: an RFC 9457 answer with STATUS.
expect_problem() {
    local what=$1 want=$2 detail_re=${3:-.}
    local ctype
    ctype=$(header Content-Type)
    if [ "$CODE" = "$want" ] && [ "$ctype" = application/problem+json ] &&
        jq -e --argjson s "$want" '(.type | type == "string" and length > 0) and (.title | type == "string" and length > 0)
            and .status == $s and (.detail | type == "string" and length > 0)
            and (has("decision") or (.code | type == "string" and test("^E[A-Z]+$")))' "$WORK/body" >/dev/null 2>&1 &&
        jb .detail | grep -qE -- "$detail_re"; then
        ok "$what"
    else
        not_ok "$what" "wanted $want application/problem+json with type, title, status, code, detail =~ /$detail_re/" \
            "got $CODE $ctype: $(head -c 400 "$WORK/body")"
    fi
}
# expect_json WHAT JQ_EXPR: the last body satisfies the jq boolean.
expect_json() {
    if jq -e "$2" "$WORK/body" >/dev/null 2>&1; then ok "$1"
    else not_ok "$1" "wanted: $2" "got $CODE: $(head -c 600 "$WORK/body")"; fi
}
# metric NAME_WITH_LABELS: its value in the last /metrics body (0 when absent).
metric() {
    awk -v n="$1" 'index($0, n " ") == 1 { print $2; found = 1 } END { if (!found) print 0 }' "$WORK/metrics"
}
fetch_metrics() { curl -s -o "$WORK/metrics" "$DEC/metrics"; }
# wait_log REGEX: until a log line matches (5 s at most).
wait_log() {
    for _ in $(seq 100); do
        grep -qE -- "$1" "$WORK/cutoffd.log" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# raw_request FD METHOD PATH [BODY]: one HTTP/1.1 request on a connection
# opened with exec FD<>/dev/tcp/...; status in RAW_STATUS, body in
# RAW_BODY. No process is started, so polling with it costs microseconds.
raw_request() {
    local fd=$1 body=${4:-} line len=0
    RAW_STATUS= RAW_BODY=
    local req
    # One write for the whole request: split writes meet Nagle and delayed
    # ACKs on the loopback and add 40 ms to every request. bash writes up
    # to the last newline at once, hence the newline after the body.
    [ -n "$body" ] && body+=$'\n'
    printf -v req '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
        "$2" "$3" "${#body}" "$body"
    printf '%s' "$req" >&"$fd" 2>/dev/null || return 1
    IFS= read -r -t 3 line <&"$fd" || return 1
    RAW_STATUS=${line#* } RAW_STATUS=${RAW_STATUS%% *}
    while IFS= read -r -t 3 line <&"$fd"; do
        line=${line%$'\r'}
        [ -z "$line" ] && break
        case ${line,,} in content-length:*) len=${line#*:} len=${len// /} ;; esac
    done
    if [ "$len" -gt 0 ]; then IFS= read -r -t 3 -N "$len" RAW_BODY <&"$fd" || return 1; fi
    return 0
}
usec() { echo "${EPOCHREALTIME//[!0-9]/}"; }
# flip_after WHAT REQUEST PATTERN ARGS...: runs the CLI with ARGS, then
# posts REQUEST to /v1/check on a kept-alive connection until the answer
# matches PATTERN; passes when that happens within 100 ms of the CLI's exit.
flip_after() {
    local what=$1 request=$2 pattern=$3 t_exit took= status
    shift 3
    exec 4<>"/dev/tcp/127.0.0.1/$DEC_PORT"
    raw_request 4 POST /v1/check "$request"
    if [[ $RAW_BODY == *$pattern* ]]; then not_ok "$what: not so before the change" "$RAW_BODY"; fi
    "$CUTOFF" "$@" >/dev/null 2>"$WORK/cli.err"
    status=$?
    t_exit=$(usec)
    for _ in $(seq 5000); do
        raw_request 4 POST /v1/check "$request" || break
        if [[ $RAW_BODY == *$pattern* ]]; then took=$((($(usec) - t_exit) / 1000)); break; fi
    done
    exec 4<&- 4>&-
    expect_eq "the CLI's change succeeds ($*)" 0 "$status"
    if [ -n "$took" ] && [ "$took" -le 100 ]; then ok "$what within 100 ms of the CLI's exit (${took} ms)"
    else not_ok "$what within 100 ms of the CLI's exit" "took: ${took:-forever} ms; last answer: $RAW_STATUS $RAW_BODY" \
        "cli: $(cat "$WORK/cli.err")"; fi
}

# ---- the database: the reference case, CASE-7 opened by alice -------------------------------
export CUTOFF_ACTOR=alice
run_cutoff init &&
    run_cutoff catalog load "$CASE/catalog.json" &&
    run_cutoff nodes import "$CASE/nodes.jsonl" &&
    run_cutoff case open --id CASE-7 --title "Reported storage of civilians' call recordings" --scope unit-8200
expect_eq "database prepared with the reference case" 0 "$STATUS"
run_cutoff action propose "$CASE/action.json"
expect_eq "alice proposes EA-1 with the CLI" EA-1 "$OUT"
N_SUBS=$(grep -c '"kind":"subscription"' "$CASE/nodes.jsonl")
SUMMARY=$(jq -r .notice.summary "$CASE/action.json")
CONTACT=$(jq -r .notice.contact "$CASE/action.json")
NOTICE_URL=$(jq -r .notice.ref "$CASE/action.json")

# Tokens: only their hashes are on disk. alice holds a second token with
# the approver role alone, to show four eyes follow the person, not the token.
ALICE=$(token) ALICE2=$(token) BOB=$(token) CAROL=$(token) ERIN=$(token) ROOT_T=$(token) DAVE=$(token)
write_tokens() { # write_tokens LINES...: the tokens file, replaced at once
    printf '%s\n' "# cutoffd tokens for the API test" "$@" >"$WORK/tokens.new"
    mv "$WORK/tokens.new" "$WORK/tokens"
}
T_ALICE="sha256:$(sha_hex "$ALICE") alice investigator,enforcer,approver"
T_ALICE2="sha256:$(sha_hex "$ALICE2") alice approver"
T_BOB="sha256:$(sha_hex "$BOB") bob approver"
T_CAROL="sha256:$(sha_hex "$CAROL") carol viewer"
T_ERIN="sha256:$(sha_hex "$ERIN") erin enforcer"
T_ROOT="sha256:$(sha_hex "$ROOT_T") root admin"
T_DAVE="sha256:$(sha_hex "$DAVE") dave viewer"
write_tokens "$T_ALICE" "$T_ALICE2" "$T_BOB" "$T_CAROL" "$T_ERIN" "$T_ROOT"

# ---- cutoffd: routes, a small body limit, a JSON log --------------------------------------
ROUTES='[
  {"method": "GET",  "path": "/storage/{subscription}/**", "action": "storage.read",  "region": "eu-netherlands"},
  {"method": "PUT",  "path": "/storage/{subscription}/**", "action": "storage.write", "region": "eu-netherlands"},
  {"method": "POST", "path": "/ai/transcribe", "action": "ai.transcribe", "subscription_header": "X-Subscription"},
  {"method": "POST", "path": "/compute/{subscription}/run", "action": "compute.run", "region_header": "X-Region"},
  {"method": "GET",  "path": "/regions/{region}/compute/{subscription}/*", "action": "compute.list"},
  {"method": "*",    "path": "/security/{subscription}/**", "action": "security.scan"}
]'
write_config() { # write_config ROUTES_JSON
    jq -n --arg db "$CUTOFF_DB" --arg work "$WORK" --arg tokens "$WORK/tokens" --arg log "$WORK/cutoffd.log" --argjson routes "$1" '{
        database: $db, decision_listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0",
        tokens_file: $tokens, log_file: $log, log_decisions: true,
        signing_key: ($work + "/cutoff.key"),
        notice_base: "https://provider.example/notices/", forward_headers: "forwarded",
        limits: {max_body_bytes: 4096, max_spool_bytes: 16384, threads: 2, timeout_s: 10},
        routes: $routes}' >"$WORK/cutoffd.json.new" && mv "$WORK/cutoffd.json.new" "$WORK/cutoffd.json"
}
write_config "$ROUTES"
mkdir -p "$WORK/tmp"
TMPDIR="$WORK/tmp" "$CUTOFFD" --config "$WORK/cutoffd.json" --port-file "$WORK/ports" 2>"$WORK/cutoffd.err" &
CUTOFFD_PID=$!
for _ in $(seq 200); do
    [ -s "$WORK/ports" ] && break
    kill -0 "$CUTOFFD_PID" 2>/dev/null || break
    sleep 0.05
done
if [ -s "$WORK/ports" ]; then
    read -r DEC_PORT ADM_PORT <"$WORK/ports"
    DEC="http://127.0.0.1:$DEC_PORT" ADM="http://127.0.0.1:$ADM_PORT"
    ok "cutoffd serves on 127.0.0.1:$DEC_PORT (decisions) and :$ADM_PORT (admin)"
else
    not_ok "cutoffd starts and writes its ports" "$(cat "$WORK/cutoffd.err" "$WORK/cutoffd.log" 2>/dev/null | tail -5)"
    finish
    exit 1
fi

# ---- operations ----------------------------------------------------------------------------
http GET "$DEC/healthz"
expect_code "/healthz answers 200" 200
http GET "$DEC/readyz"
expect_code "/readyz answers 200 once the snapshot is published" 200
http GET "$ADM/readyz"
expect_code "the admin listener's /readyz answers 200 too" 200

# ---- EA-1 approved by another process: the watcher picks it up ------------------------------
WRITE='{"subscription":"sub-8200-storage","action":"storage.write","region":"eu-netherlands"}'
check "$WRITE"
expect_json "before approval: a write by the unit is allowed" '.decision == "allow"'
BEFORE_APPROVAL=$(date +%s)
CUTOFF_ACTOR=alice run_cutoff action approve EA-1
expect_eq "the proposer cannot approve EA-1 with the CLI" 1 "$STATUS"
flip_after "cutoffd denies" "$WRITE" '"read_only"' --actor bob action approve EA-1
AFTER_APPROVAL=$(date +%s)

printf '%s\n' '{"id":"sub-8200-cli","kind":"subscription","parent":"unit-8200","name":"from the CLI"}' >"$WORK/cli-nodes.jsonl"
flip_after "cutoffd knows a subscription the CLI imported" \
    '{"subscription":"sub-8200-cli","action":"storage.write"}' '"read_only"' nodes import "$WORK/cli-nodes.jsonl"

# The activation time, as recorded, lies between the clock readings around
# the approval; every window below is computed from it.
admin "$BOB" GET /v1/actions/EA-1
expect_code "GET /v1/actions/EA-1 answers 200" 200
SINCE=$(jb '.versions[-1].phases_at[0].at')
SINCE_S=$(unix_of "$SINCE" 2>/dev/null || echo 0)
if [ "$SINCE_S" -ge "$BEFORE_APPROVAL" ] && [ "$SINCE_S" -le "$AFTER_APPROVAL" ]; then
    ok "EA-1 is active since its approval ($SINCE)"
else
    not_ok "EA-1 is active since its approval" "phase 1 at $SINCE, approval between $BEFORE_APPROVAL and $AFTER_APPROVAL"
fi
UNTIL=$(rfc $((SINCE_S + 30 * 86400)))
HOUR_BEFORE=$((SINCE_S - 3600)) DAY_AFTER=$((SINCE_S + 86400)) MONTH_AFTER=$((SINCE_S + 31 * 86400))

# ---- POST /v1/check: every field of allow and deny ---------------------------------------------
check '{"subscription":"sub-8200-secops","action":"security.scan","region":"eu-netherlands"}'
expect_code "check answers 200" 200
expect_eq "check: allow is application/json" application/json "$(header Content-Type)"
expect_eq "check: an allow is the decision, the request and no enforcement action" \
    '["action","at","decision","enforcement_action","reason","region","subscription"]' "$(jc keys)"
expect_json "check: an allow echoes the request" \
    '.decision == "allow" and .reason == "allow" and .subscription == "sub-8200-secops" and .action == "security.scan"
     and .region == "eu-netherlands" and .enforcement_action == null'
check '{"subscription":"sub-8200-secops","action":"security.scan","region":"eu-netherlands","at":"2026-01-02T03:04:05+01:00"}'
expect_json "check: the request time is echoed in RFC 3339 UTC" '.at == "2026-01-02T02:04:05Z"' 

check "$WRITE"
expect_eq "check: the read-only deny has exactly these fields" \
    '["action","at","case","decision","enforcement_action","export_window_ends","notice","reason","region","since","status","subscription","until","version"]' "$(jc keys)"
expect_json "check: decision deny, reason read_only, status 451" \
    '.decision == "deny" and .reason == "read_only" and .status == 451'
expect_eq "check: the deny names EA-1 (version 1) and CASE-7; action stays the catalog action" \
    "EA-1 1 CASE-7 storage.write" "$(jb '"\(.enforcement_action) \(.version) \(.case) \(.action)"')"
expect_eq "check: since is the activation" "$SINCE" "$(jb .since)"
expect_eq "check: until is 30 days later (the suspend phase)" "$UNTIL" "$(jb .until)"
expect_eq "check: the export window ends with the read-only phase" "$UNTIL" "$(jb .export_window_ends)"
expect_eq "check: notice url is the action's ref" "$NOTICE_URL" "$(jb .notice.url)"
expect_eq "check: notice summary is the action's" "$SUMMARY" "$(jb .notice.summary)"
expect_eq "check: notice contact is the action's" "$CONTACT" "$(jb .notice.contact)"

check '{"subscription":"sub-8200-storage","action":"storage.read","region":"eu-netherlands"}'
expect_json "check: the unit still reads in the export window" '.decision == "allow"'
check '{"subscription":"sub-8200-archive-1","action":"storage.write"}'
expect_json "check: a subscription of a nested unit is in scope too" '.reason == "read_only" and .enforcement_action == "EA-1"'
check '{"subscription":"sub-9900-maps","action":"storage.write","region":"eu-netherlands"}'
expect_json "check: a sibling unit is untouched" '.decision == "allow"'

# ---- "at": RFC 3339 and Unix seconds, before, in and after the phases --------------------------
for form in rfc unix; do
    at() { if [ $form = rfc ]; then printf '"%s"' "$(rfc "$1")"; else printf '%s' "$1"; fi; }
    check "{\"subscription\":\"sub-8200-storage\",\"action\":\"storage.write\",\"at\":$(at $HOUR_BEFORE)}"
    expect_json "at ($form): an hour before approval the write is allowed" '.decision == "allow"'
    check "{\"subscription\":\"sub-8200-storage\",\"action\":\"storage.write\",\"at\":$(at $DAY_AFTER)}"
    expect_json "at ($form): a day after, read-only" \
        ".reason == \"read_only\" and .since == \"$SINCE\" and .until == \"$UNTIL\""
    check "{\"subscription\":\"sub-8200-storage\",\"action\":\"storage.read\",\"at\":$(at $DAY_AFTER)}"
    expect_json "at ($form): a day after, reads pass" '.decision == "allow"'
    check "{\"subscription\":\"sub-8200-storage\",\"action\":\"storage.read\",\"at\":$(at $MONTH_AFTER)}"
    expect_json "at ($form): 31 days after, suspended: reads are denied too" \
        ".reason == \"suspended\" and .status == 451 and .since == \"$UNTIL\" and .until == null"
    expect_json "at ($form): no export window once suspended" 'has("export_window_ends") | not'
done
check "{\"subscription\":\"sub-8200-ai\",\"action\":\"ai.transcribe\",\"at\":null}"
expect_json "at null means now: AI use is denied" '.reason == "read_only"'

# ---- fail closed -----------------------------------------------------------------------------
check '{"subscription":"sub-nobody","action":"storage.read"}'
expect_eq "unknown subscription: deny, 403, no enforcement action" \
    '{"decision":"deny","enforcement_action":null,"reason":"unknown_subscription","status":403}' \
    "$(jq -cS '{decision, reason, status, enforcement_action, n: (keys | length)} | if .n == 8 then del(.n) else . end' "$WORK/body")"
check '{"subscription":"sub-logistics-erp","action":"storage.teleport"}'
expect_json "unknown action: deny unknown_action" '.decision == "deny" and .reason == "unknown_action"'
check '{"subscription":"unit-8200","action":"storage.read"}'
expect_json "a unit id is not a subscription: deny unknown_subscription" '.reason == "unknown_subscription"'
check '{"subscription":"imod","action":"security.scan"}'
expect_json "a tenant id is not a subscription: deny unknown_subscription" '.reason == "unknown_subscription"'
check '{"subscription":"sub-cyber-soc","action":"storage.read"}'
expect_json "outside the plan: deny not_entitled" '.reason == "not_entitled"'

# ---- malformed requests: 400 problem+json -------------------------------------------------------
check '{"subscription": "sub-8200-storage", "action": '
expect_problem "truncated JSON: 400" 400 'malformed JSON'
check ''
expect_problem "empty body: 400" 400 .
check '["sub-8200-storage","storage.read"]'
expect_problem "an array instead of an object: 400" 400 'object'
check '{"subscription":"sub-8200-storage","action":"storage.read","colour":"red"}'
expect_problem "an unknown key: 400 naming it" 400 'colour'
check '{"subscription":"sub-8200-storage","action":"storage.read","action":"storage.write"}'
expect_problem "a duplicate key: 400" 400 .
check '{"subscription":8200,"action":"storage.read"}'
expect_problem "subscription of the wrong type: 400" 400 'subscription'
check '{"subscription":"sub-8200-storage"}'
expect_problem "a missing action: 400" 400 'action'
check '{"subscription":"sub-8200-storage","action":"storage.read","region":7}'
expect_problem "region of the wrong type: 400" 400 'region'
check '{"subscription":"sub-8200-storage","action":"storage.read","at":true}'
expect_problem "at of the wrong type: 400" 400 '"at"'
check '{"subscription":"sub-8200-storage","action":"storage.read","at":"next tuesday"}'
expect_problem "an unreadable time: 400" 400 '"at"'

# ---- POST /v1/check/batch ------------------------------------------------------------------
batch "{\"requests\":[
  {\"subscription\":\"sub-8200-storage\",\"action\":\"storage.read\"},
  {\"subscription\":\"sub-8200-storage\",\"action\":\"storage.write\",\"region\":\"eu-netherlands\"},
  {\"subscription\":\"sub-nobody\",\"action\":\"storage.read\"},
  {\"subscription\":\"sub-8200-storage\",\"action\":\"storage.read\",\"at\":$MONTH_AFTER},
  {\"subscription\":\"sub-8200-secops\",\"action\":\"security.scan\"}]}"
expect_code "batch answers 200" 200
expect_eq "batch: results in request order" "allow/allow deny/read_only deny/unknown_subscription deny/suspended allow/allow" \
    "$(jb '[.results[] | "\(.decision)/\(.reason)"] | join(" ")')"
expect_eq "batch: a deny carries its action and window" "EA-1 $UNTIL" "$(jb '.results[1] | "\(.enforcement_action) \(.export_window_ends)"')"
batch '{"requests":[]}'
expect_eq "batch: no requests, no results" '{"results":[]}' "$(jc .)"
batch '{"requests":[{"subscription":"sub-8200-storage","action":"storage.read"},{"subscription":"sub-8200-storage","action":"storage.read","colour":"red"}]}'
expect_problem "batch: a bad item is a 400 naming its index" 400 'requests\[1\]'
batch '{"requests":[{"subscription":"a","action":"b"},{"subscription":"c","action":"d"},{"subscription":5}]}'
expect_problem "batch: the index of a wrongly typed item" 400 'requests\[2\]'
batch '{"requests":{"subscription":"a","action":"b"}}'
expect_problem "batch: requests must be an array" 400 .
batch '{"requests":[],"extra":1}'
expect_problem "batch: unknown top-level keys are refused" 400 .

# ---- the body limit (4096 bytes here) ---------------------------------------------------------
pad() { head -c "$1" /dev/zero | tr '\0' ' '; }
check "{\"subscription\":\"sub-8200-secops\",\"action\":\"security.scan\"}$(pad 4000)"
expect_json "a body just under the limit is decided" '.decision == "allow"'
check "{\"subscription\":\"sub-8200-secops\",\"action\":\"security.scan\"}$(pad 5000)"
expect_problem "a body over the limit: 413" 413 .
batch "{\"requests\":[$(for i in $(seq 80); do printf '{"subscription":"sub-8200-secops","action":"security.scan"},'; done){}]}"
expect_problem "a batch over the limit: 413" 413 .
http GET "$DEC/healthz"
expect_code "the listener still serves after a 413" 200

# ---- 404 and 405 ---------------------------------------------------------------------------
http GET "$DEC/v1/nothing-here"
expect_problem "an unknown path on the decision listener: 404" 404 .
http GET "$DEC/v1/check"
expect_problem "GET /v1/check: 405" 405 .
expect_eq "405 says which method is allowed" POST "$(header Allow)"
http DELETE "$DEC/v1/check/batch"
expect_problem "DELETE /v1/check/batch: 405" 405 .
admin "$CAROL" GET /v1/nothing-here
expect_problem "an unknown admin resource: 404" 404 .
admin "$CAROL" GET /elsewhere
expect_problem "outside /v1/ on the admin listener: 404" 404 .

# ---- GET /v1/authz: gateways ---------------------------------------------------------------------
authz "X-Forwarded-Method: GET" "X-Forwarded-Uri: /storage/sub-8200-storage/archive/call-0001.wav"
expect_code "authz (Traefik headers): a read in the export window is allowed (204)" 204
expect_eq "authz allow: Cutoff-Decision" allow "$(header Cutoff-Decision)"
expect_eq "authz allow: no body" 0 "$(wc -c <"$WORK/body")"
authz "X-Forwarded-Method: PUT" "X-Forwarded-Uri: /storage/sub-8200-storage/archive/call-0002.wav?part=1"
expect_problem "authz (Traefik headers): a write is denied with the action's status, 451" 451 .
expect_eq "authz deny: the problem's detail is the notice summary" "$SUMMARY" "$(jb .detail)"
expect_eq "authz deny: Cutoff-Decision" deny "$(header Cutoff-Decision)"
expect_eq "authz deny: Cutoff-Reason" read_only "$(header Cutoff-Reason)"
expect_eq "authz deny: Cutoff-Action" EA-1 "$(header Cutoff-Action)"
expect_eq "authz deny: Cutoff-Case" CASE-7 "$(header Cutoff-Case)"
expect_eq "authz deny: Cutoff-Status" 451 "$(header Cutoff-Status)"
expect_eq "authz 451: Link names the notice, rel=blocked-by" "<$NOTICE_URL>; rel=\"blocked-by\"" "$(header Link)"
expect_json "authz deny: the problem body carries the decision" \
    ".decision == \"deny\" and .reason == \"read_only\" and .enforcement_action == \"EA-1\" and .case == \"CASE-7\"
     and .since == \"$SINCE\" and .until == \"$UNTIL\" and .export_window_ends == \"$UNTIL\" and .notice.url == \"$NOTICE_URL\""
# One header convention per listener ("forward_headers": "forwarded" here):
# the other convention's headers are never read, and a repeated method or
# URI header fails closed, so a client cannot add its own.
authz "X-Original-Method: PUT" "X-Original-URI: /storage/sub-8200-storage/archive/call-0002.wav"
expect_eq "authz: nginx's headers are not read on a forwarded listener (403 bad_request)" "403 bad_request" \
    "$CODE $(header Cutoff-Reason)"
authz "X-Forwarded-Method: PUT" "X-Original-Method: GET" "X-Forwarded-Uri: /storage/sub-8200-storage/a" \
    "X-Original-URI: /storage/sub-logistics-erp/a"
expect_eq "authz: a GET in the other convention's header cannot turn a PUT into a read" "451 read_only" \
    "$CODE $(header Cutoff-Reason)"
authz "X-Forwarded-Method: PUT" "X-Forwarded-Method: GET" "X-Forwarded-Uri: /storage/sub-8200-storage/a"
expect_eq "authz: a repeated method header fails closed" "403 bad_request" "$CODE $(header Cutoff-Reason)"
authz "X-Forwarded-Method: GET" "X-Forwarded-Uri: /storage/sub-8200-storage/a" \
    "X-Forwarded-Uri: /storage/sub-logistics-erp/a"
expect_eq "authz: a repeated URI header fails closed" "403 bad_request" "$CODE $(header Cutoff-Reason)"
authz "X-Forwarded-Method: GET PUT" "X-Forwarded-Uri: /storage/sub-8200-storage/a"
expect_eq "authz: a method that is not an HTTP token fails closed" "403 bad_request" "$CODE $(header Cutoff-Reason)"
authz "X-Forwarded-Method: POST" "X-Forwarded-Uri: /ai/transcribe" "X-Subscription: sub-logistics-erp" \
    "X-Subscription: sub-8200-ai"
expect_eq "authz: a repeated subscription header fails closed" "403 bad_request" "$CODE $(header Cutoff-Reason)"
# Paths an upstream could resolve to another subscription than the route
# rules read: every spelling is refused before any route is tried.
hostile_ok=0 hostile_n=0 hostile_bad=
while read -r path; do
    hostile_n=$((hostile_n + 1))
    authz "X-Forwarded-Method: PUT" "X-Forwarded-Uri: $path"
    if [ "$CODE $(header Cutoff-Reason)" = "403 bad_request" ]; then hostile_ok=$((hostile_ok + 1))
    else hostile_bad="$hostile_bad $path=$CODE"; fi
done <<'EOF'
/storage/sub-logistics-erp/../sub-8200-storage/f
/storage/sub-logistics-erp/%2e%2e/sub-8200-storage/f
/storage/sub-logistics-erp/%2E%2e/sub-8200-storage/f
/storage/sub-logistics-erp/.%2e/sub-8200-storage/f
/storage/sub-logistics-erp/..%2Fsub-8200-storage/f
/storage/sub-logistics-erp%2F..%2Fsub-8200-storage/f
/storage/sub-logistics-erp/..;/sub-8200-storage/f
/storage/sub-logistics-erp/./f
/storage/sub-logistics-erp/.
/storage/sub-logistics-erp/..
/storage/sub-logistics-erp//f
//storage/sub-8200-storage/f
/storage/sub-logistics-erp/..\sub-8200-storage\f
/storage/sub-logistics-erp/%5c..%5csub-8200-storage/f
/storage/sub-logistics-erp/%00/f
/storage/sub-logistics-erp/%0a/f
/storage/sub-logistics-erp/%zz/f
/storage/sub-logistics-erp/%2
/storage/sub-logistics-erp/%252e%252e/f
/storage/sub%2D8200%2Dstorage/f
/%73torage/sub-8200-storage/f
/storage/sub-logistics-erp/f#/../../sub-8200-storage/f
/storage/sub-logistics-erp/cafÃ©
storage/sub-8200-storage/f
EOF
expect_eq "authz: $hostile_n ambiguous spellings of a path are each refused (403 bad_request)" "$hostile_n" "$hostile_ok"
[ -n "$hostile_bad" ] && echo "# let through:$hostile_bad"
authz "X-Forwarded-Method: PUT" "X-Forwarded-Uri: /storage/sub-8200-storage/%E2%82%AC%20report%3B1.csv?x=../y"
expect_code "authz: escapes that need escaping, and a query, are decided (451)" 451
authz "X-Forwarded-Method: PUT" "X-Forwarded-Uri: /storage/sub-8200-storage/$(printf 'd%.0s' $(seq 3000))/f"
expect_code "authz: a path longer than the on-stack capture buffer is decided too (451)" 451
authz "X-Forwarded-Method: GET" "X-Forwarded-Uri: /storage/sub-8200-storage%2F..%2Fsub-logistics-erp/x"
expect_problem "authz: an encoded / in a capture is refused (403)" 403 .
authz "X-Forwarded-Method: PUT" "X-Forwarded-Uri: /storage/sub-logistics-erp/orders.csv"
expect_code "authz: another unit writes (204)" 204
authz "X-Forwarded-Method: POST" "X-Forwarded-Uri: /security/sub-8200-secops/scan"
expect_code "authz: the unit's security service is excepted (204)" 204
authz
expect_problem "authz without the gateway's headers: 403 (fail closed)" 403 .
expect_eq "authz without headers: reason bad_request" bad_request "$(header Cutoff-Reason)"
authz "X-Forwarded-Method: GET"
expect_code "authz with a method and no URI: 403" 403
authz "X-Forwarded-Method: GET" "X-Forwarded-Uri: /billing/sub-8200-storage/invoices"
expect_problem "authz for a path no route maps: 403" 403 .
expect_eq "authz no route: reason no_route" no_route "$(header Cutoff-Reason)"
expect_json "authz no route: the body says so" '.decision == "deny" and .reason == "no_route"'
authz "X-Forwarded-Method: DELETE" "X-Forwarded-Uri: /storage/sub-logistics-erp/orders.csv"
expect_eq "authz: a method no route maps is no_route" "403 no_route" "$CODE $(header Cutoff-Reason)"
authz "X-Forwarded-Method: POST" "X-Forwarded-Uri: /ai/transcribe" "X-Subscription: sub-8200-ai"
expect_code "authz: subscription from a header (sub-8200-ai transcribes): 451" 451
expect_eq "authz: subscription from a header: Cutoff-Action" EA-1 "$(header Cutoff-Action)"
authz "X-Forwarded-Method: POST" "X-Forwarded-Uri: /ai/transcribe" "X-Subscription: sub-logistics-erp"
expect_code "authz: subscription from a header (another unit): 204" 204
authz "X-Forwarded-Method: POST" "X-Forwarded-Uri: /ai/transcribe"
expect_code "authz: the subscription header missing: 403" 403
expect_eq "authz: the subscription header missing: bad_request" bad_request "$(header Cutoff-Reason)"
http GET "$DEC/v1/authz/nginx" -H "X-Forwarded-Method: PUT" -H "X-Forwarded-Uri: /storage/sub-8200-storage/a"
expect_code "/v1/authz/nginx: a 451 denial is sent as 403" 403
expect_eq "/v1/authz/nginx: the real status in Cutoff-Status" 451 "$(header Cutoff-Status)"
expect_eq "/v1/authz/nginx: the reason in Cutoff-Reason" read_only "$(header Cutoff-Reason)"
http GET "$DEC/v1/authz/nginx" -H "X-Forwarded-Method: GET" -H "X-Forwarded-Uri: /storage/sub-8200-storage/a"
expect_code "/v1/authz/nginx: an allow is 204" 204

# ---- request ids ---------------------------------------------------------------------------------
http POST "$DEC/v1/check" -H 'X-Request-Id: it-check-0001' --data-binary '{"subscription":"sub-8200-secops","action":"security.scan"}'
expect_eq "a given X-Request-Id is echoed" it-check-0001 "$(header X-Request-Id)"
http POST "$DEC/v1/check" -H 'X-Request-Id: it-bad-0002' --data-binary '{'
expect_eq "a given X-Request-Id is in the problem body" it-bad-0002 "$(jb .request_id)"
http POST "$DEC/v1/check" --data-binary '{"subscription":"sub-8200-secops","action":"security.scan"}'
RID1=$(header X-Request-Id)
http POST "$DEC/v1/check" --data-binary '{"subscription":"sub-8200-secops","action":"security.scan"}'
RID2=$(header X-Request-Id)
expect_match "without one, a request id is generated" '^[0-9a-f]{8,}$' "$RID1"
if [ "$RID1" != "$RID2" ]; then ok "generated request ids differ"; else not_ok "generated request ids differ" "$RID1 twice"; fi
LONG_ID=$(printf 'x%.0s' $(seq 60))
http GET "$DEC/healthz" -H "X-Request-Id: $LONG_ID"
expect_match "an overlong X-Request-Id is replaced" '^[0-9a-f]{8,}$' "$(header X-Request-Id)"

# ---- the admin API: who may do what --------------------------------------------------------------
admin "" GET /v1/whoami
expect_problem "admin without a token: 401" 401 .
expect_match "401 asks for a bearer token" '^Bearer' "$(header WWW-Authenticate)"
admin "not-a-token" GET /v1/whoami
expect_problem "admin with an unknown token: 401" 401 'not known'
http GET "$ADM/v1/whoami" -H "Authorization: Basic $(printf 'alice:x' | base64)"
expect_code "admin with another auth scheme: 401" 401
admin "$CAROL" GET /v1/whoami
expect_eq "whoami names the principal and roles" "carol viewer" "$(jb '"\(.principal) \(.roles)"')"
adminj "$CAROL" POST /v1/cases '{"title":"x","scope":["unit-9900"]}'
expect_problem "a viewer cannot open a case: 403" 403 'carol'
adminj "$ALICE" PUT /v1/catalog "$(cat "$CASE/catalog.json")"
expect_problem "an investigator cannot load the catalog: 403" 403 .
admin "$CAROL" GET /v1/actions/EA-1/preview
expect_problem "a viewer cannot preview: 403" 403 .
http POST "$ADM/v1/check" --data-binary "$WRITE"
expect_code "decisions on the admin listener need a token too: 401" 401

# ---- every admin call once -----------------------------------------------------------------------
# The catalog: read, then extended with a mail service; the change decides at once.
admin "$CAROL" GET /v1/catalog
expect_json "GET /v1/catalog: the reference catalog" \
    "[.services[].name] | sort == $(jq -c '[.services[].name] | sort' "$CASE/catalog.json")"
check '{"subscription":"sub-hq-office","action":"mail.send"}'
expect_json "before the catalog change mail.send is unknown" '.reason == "unknown_action"'
adminj "$ROOT_T" PUT /v1/catalog "$(jq -c '.services += [{"name":"mail","actions":[{"name":"send","class":"write"}]}]' "$CASE/catalog.json")"
expect_code "PUT /v1/catalog (admin): 200" 200
expect_json "PUT /v1/catalog answers the new catalog" '[.services[].name] | index("mail") != null'
check '{"subscription":"sub-hq-office","action":"mail.send"}'
expect_json "after PUT /v1/catalog mail.send is decided at once" '.decision == "allow"'

# Nodes: a streamed import (one transaction), then one node.
printf '%s\n' '{"id":"sub-8200-new","kind":"subscription","parent":"unit-8200","name":"new storage"}' \
    '{"id":"sub-9900-new","kind":"subscription","parent":"unit-9900","name":"new maps"}' >"$WORK/nodes.jsonl"
admin "$ROOT_T" POST /v1/nodes/import --data-binary "@$WORK/nodes.jsonl"
expect_json "POST /v1/nodes/import: two new nodes" '.lines == 2 and .inserted == 2'
check '{"subscription":"sub-8200-new","action":"storage.write"}'
expect_json "an imported subscription under unit-8200 is in EA-1's scope at once" '.reason == "read_only"'
printf '%s\n' '{"id":"sub-half","kind":"subscription","parent":"unit-9900","name":"half"}' \
    '{"id":"sub-orphan","kind":"subscription","parent":"no-such-unit"}' >"$WORK/bad-nodes.jsonl"
admin "$ROOT_T" POST /v1/nodes/import --data-binary "@$WORK/bad-nodes.jsonl"
expect_problem "an import with a bad line: 400 naming the line" 400 'line 2|:2'
admin "$CAROL" GET /v1/nodes/sub-half
expect_problem "nothing of a refused import is kept (404)" 404 .
admin "$ALICE" POST /v1/nodes/import --data-binary "@$WORK/nodes.jsonl"
expect_problem "an investigator cannot import nodes: 403" 403 .
admin "$CAROL" GET /v1/nodes/sub-8200-new
expect_json "GET /v1/nodes/{id}" '.id == "sub-8200-new" and .parent == "unit-8200"'

# Cases, evidence (only the hash unless keep=1), findings.
admin "$CAROL" GET /v1/cases
expect_json "GET /v1/cases lists CASE-7" '[.[].id] | index("CASE-7") != null'
adminj "$ALICE" POST /v1/cases '{"id":"CASE-8","title":"Unit 9900: compute used for targeting maps","scope":["unit-9900"]}'
expect_json "POST /v1/cases opens CASE-8" '.id == "CASE-8"'
adminj "$ALICE" POST /v1/cases '{"id":"CASE-8","title":"again","scope":["unit-9900"]}'
expect_problem "opening the same case twice: 409" 409 .
adminj "$ALICE" POST /v1/cases '{"title":"no scope"}'
expect_problem "a case without a scope: 400" 400 .
# Admin bodies are read as strictly as decision requests: a mistyped id or
# an unknown key is an error, not silently ignored.
adminj "$ALICE" POST /v1/cases '{"id":9,"title":"typed id","scope":["unit-9900"]}'
expect_problem "a case id that is not a string: 400" 400 'id'
adminj "$ALICE" POST /v1/cases '{"title":"typo","scope":["unit-9900"],"scopes":["unit-8200"]}'
expect_problem "an unknown key in a case: 400 naming it" 400 'scopes'
EV1="$CASE/evidence/usage-summary.csv" EV2="$CASE/evidence/review-memo.txt"
admin "$ALICE" POST "/v1/cases/CASE-8/evidence?name=usage-summary.csv&type=text/csv&note=usage%20figures" --data-binary "@$EV1"
expect_eq "evidence: the answer is the file's SHA-256" "$(sha256sum <"$EV1" | cut -d' ' -f1)" "$(jb .sha256)"
admin "$ALICE" POST "/v1/cases/CASE-8/evidence?name=..%2Fdrafts%2Freview-memo.txt&type=text/plain&note=memo&keep=1" \
    --data-binary "@$EV2"
expect_eq "evidence kept: the answer is the file's SHA-256" "$(sha256sum <"$EV2" | cut -d' ' -f1)" "$(jb .sha256)"
admin "$ALICE" POST "/v1/cases/CASE-8/evidence" --data-binary "@$EV1"
expect_problem "evidence without a media type: 400" 400 'type'
admin "$CAROL" POST "/v1/cases/CASE-8/evidence?type=text/plain" --data-binary "@$EV1"
expect_problem "a viewer cannot add evidence: 403" 403 .
admin "$CAROL" GET /v1/cases/CASE-8
expect_json "GET /v1/cases/{id}: two evidence items with hash, size, type, note and the uploaded file's base name" \
    "[.evidence[] | [.sha256, .size, .media_type, .note, .content_kept, .file]] ==
     [[\"$(sha256sum <"$EV1" | cut -d' ' -f1)\", $(wc -c <"$EV1"), \"text/csv\", \"usage figures\", false, \"usage-summary.csv\"],
      [\"$(sha256sum <"$EV2" | cut -d' ' -f1)\", $(wc -c <"$EV2"), \"text/plain\", \"memo\", true, \"review-memo.txt\"]]"
if [ "${CUTOFF_TEST_STORE:-sqlite}" = postgresql ]; then
    stored=$(pg_psql "SELECT CASE WHEN content IS NULL THEN 'NULL' ELSE upper(encode(content, 'hex')) END FROM evidence WHERE case_id = 'CASE-8' ORDER BY n")
else
    stored=$(sqlite3 "$CUTOFF_DB" "SELECT CASE WHEN content IS NULL THEN 'NULL' ELSE hex(content) END FROM evidence WHERE case_id = 'CASE-8' ORDER BY n")
fi
expect_eq "the database holds no content for evidence without keep=1, and the exact bytes with it" \
    "NULL $(od -An -tx1 -v "$EV2" | tr -d ' \n' | tr a-f A-F)" "$(echo $stored)"
head -c 20000 /dev/urandom >"$WORK/big.bin"
admin "$ALICE" POST "/v1/cases/CASE-8/evidence?type=application/octet-stream" --data-binary "@$WORK/big.bin"
expect_problem "an upload over max_spool_bytes: 413" 413 .
expect_eq "uploaded bodies leave no temporary files behind" "" "$(find "$WORK/tmp" -type f)"
adminj "$ALICE" POST /v1/cases/CASE-8/findings '{"findings":"Billing records show compute used for target maps."}'
expect_json "POST /v1/cases/{id}/findings" '.findings == "Billing records show compute used for target maps."'

# Actions: propose (alice), preview, four eyes, approve (bob), lift (erin).
EA2='{"id":"EA-2","case":"CASE-8","scope":["unit-9900"],"deny":["compute.*"],"regions":["eu-germany"],
      "phases":[{"at":"+0","mode":"suspend"}],"status":403,
      "notice":{"summary":"Compute in eu-germany is suspended for unit 9900 while the review runs.",
                "contact":"trust-and-safety@provider.example"}}'
adminj "$CAROL" POST /v1/actions "$EA2"
expect_problem "a viewer cannot propose: 403" 403 .
adminj "$ALICE" POST /v1/actions "$EA2"
expect_json "POST /v1/actions: EA-2 is a draft" '.id == "EA-2" and .state == "draft" and .version == 1'
adminj "$ALICE" POST /v1/actions '{"id":"EA-3","case":"CASE-8","scope":["unit-9900"],"deny":["compute.*"],"phases":[]}'
expect_problem "an action with no phases: 400" 400 .
admin "$CAROL" GET /v1/actions
expect_json "GET /v1/actions lists EA-1 and EA-2" '[.[].id] | sort == ["EA-1","EA-2"]'
admin "$ALICE" GET "/v1/actions/EA-2/preview?limit=10"
expect_json "GET /v1/actions/{id}/preview: unit 9900's two subscriptions change" \
    '.subscriptions_in_scope == 2 and ([.changes.subscriptions[].subscription] | sort == ["sub-9900-maps","sub-9900-new"])'
admin "$ALICE" GET "/v1/actions/EA-2/preview?limit=lots"
expect_problem "preview with a bad limit: 400" 400 limit
admin "$ALICE" GET "/v1/actions/EA-2/preview?limit=10&limit=1"
expect_problem "preview with limit given twice: 400, neither is guessed" 400 limit
admin "$ALICE" POST /v1/actions/EA-2/approve
expect_problem "four eyes: alice cannot approve her own proposal, approver role or not (403)" 403 .
admin "$ALICE2" POST /v1/actions/EA-2/approve
expect_problem "four eyes: nor with her approver-only token (403)" 403 .
admin "$ERIN" POST /v1/actions/EA-2/approve
expect_problem "an enforcer cannot approve: 403" 403 .
GERMANY='{"subscription":"sub-9900-maps","action":"compute.run","region":"eu-germany"}'
check "$GERMANY"
expect_json "the draft does not bite" '.decision == "allow"'
admin "$BOB" POST /v1/actions/EA-2/approve
expect_json "POST /v1/actions/{id}/approve: bob approves EA-2" '.state == "active" and .versions[-1].approved_by == "bob"'
check "$GERMANY"
expect_json "the approval is in force when its answer arrives" '.reason == "suspended" and .enforcement_action == "EA-2" and .status == 403'
expect_eq "without a ref the notice url is notice_base + id" "https://provider.example/notices/EA-2" "$(jb .notice.url)"
check '{"subscription":"sub-9900-maps","action":"compute.run","region":"us-east"}'
expect_json "EA-2 is limited to eu-germany" '.decision == "allow"'
admin "$BOB" POST /v1/actions/EA-2/approve
expect_problem "approving an active action again: 409" 409 .
admin "$CAROL" GET /v1/actions/EA-404
expect_problem "an unknown action: 404" 404 .

# Routes with a region from a header and from the path, against EA-2.
authz "X-Forwarded-Method: POST" "X-Forwarded-Uri: /compute/sub-9900-maps/run" "X-Region: eu-germany"
expect_code "authz: region from a header (eu-germany): 403, the action's status" 403
expect_eq "authz 403: Cutoff-Action EA-2" "EA-2 suspended" "$(header Cutoff-Action) $(header Cutoff-Reason)"
expect_eq "authz 403: no Link header" "" "$(header Link)"
authz "X-Forwarded-Method: POST" "X-Forwarded-Uri: /compute/sub-9900-maps/run" "X-Region: us-east"
expect_code "authz: region from a header (us-east): 204" 204
authz "X-Forwarded-Method: GET" "X-Forwarded-Uri: /regions/eu-germany/compute/sub-9900-maps/logs"
expect_code "authz: region captured from the path (eu-germany): 403" 403
authz "X-Forwarded-Method: GET" "X-Forwarded-Uri: /regions/us-west/compute/sub-9900-maps/logs"
expect_code "authz: region captured from the path (us-west): 204" 204

admin "$CAROL" GET "/v1/explain?subscription=sub-9900-maps&action=compute.run&region=eu-germany"
expect_json "GET /v1/explain: the path to the root and the deciding action" \
    '.decision == "deny" and .reason == "suspended" and .enforcement_action == "EA-2" and .action == "compute.run"
     and (.explanation.path | index("unit-9900") != null)
     and ([.explanation.actions[] | select(.decides) | .enforcement_action] == ["EA-2"])'
admin "$CAROL" GET "/v1/explain?subscription=sub-9900-maps"
expect_problem "explain without an action: 400" 400 .
adminj "$CAROL" POST /v1/check "$GERMANY"
expect_json "POST /v1/check on the admin listener (viewer)" '.reason == "suspended"'
adminj "$CAROL" POST /v1/check/batch "{\"requests\":[$GERMANY,$WRITE]}"
expect_eq "POST /v1/check/batch on the admin listener" "suspended read_only" "$(jb '[.results[].reason] | join(" ")')"

adminj "$CAROL" POST /v1/actions/EA-2/lift '{"reason":"review concluded"}'
expect_problem "a viewer cannot lift: 403" 403 .
adminj "$ERIN" POST /v1/actions/EA-2/lift '{"reason":"review concluded"}'
expect_json "POST /v1/actions/{id}/lift: erin lifts EA-2" \
    '.state == "lifted" and .versions[-1].lifted_by == "erin" and .versions[-1].lift_reason == "review concluded"'
check "$GERMANY"
expect_json "the lift is in force when its answer arrives" '.decision == "allow"'
adminj "$ERIN" POST /v1/actions/EA-2/lift '{"reason":'
expect_problem "a lift with malformed JSON: 400" 400 .
admin "$ALICE" POST /v1/cases/CASE-8/close
expect_json "POST /v1/cases/{id}/close" '.status == "closed"'
admin "$ALICE" POST /v1/cases/CASE-8/close
expect_problem "closing a closed case: 409" 409 .

# The record.
admin "$CAROL" GET "/v1/audit?after=0&limit=3"
expect_json "GET /v1/audit?after=0&limit=3: the first three records" '[.[].seq] == [1,2,3]'
admin "$CAROL" GET "/v1/audit?after=0&limit=1000"
expect_json "the approval of EA-2 is audited under bob" \
    'any(.[]; .verb == "action.approve" and .object == "EA-2" and .actor == "bob")'
expect_json "reads through the admin API are audited as admin.read, with the path read" \
    'any(.[]; .verb == "admin.read" and .actor == "carol" and (.object | startswith("/v1/")))'
admin "$CAROL" GET "/v1/audit?limit=-1"
expect_problem "audit with a bad limit: 400" 400 .
admin "$CAROL" GET /v1/audit/verify
expect_json "GET /v1/audit/verify: the chain verifies" '.verified == true and .records > 10'
run_cutoff audit verify
expect_eq "the CLI verifies the same chain" 0 "$STATUS"

# ---- metrics -------------------------------------------------------------------------------------
fetch_metrics
problems=$(awk '
    /^# HELP / { help[$3] = 1; next }
    /^# TYPE / { type[$3] = $4; next }
    /^#/ || /^$/ { next }
    {
        if ($0 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? (-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|NaN|[+-]Inf)$/)
            print "malformed sample: " $0
        name = $0; sub(/[{ ].*/, "", name); family = name
        if (!(family in type)) { base = family; sub(/_(bucket|sum|count)$/, "", base); if (type[base] == "histogram") family = base }
        if (!(family in type)) print "no TYPE before " name
        if (!(family in help)) print "no HELP before " name
    }' "$WORK/metrics" | sort -u)
expect_eq "/metrics: every sample is name{labels} value, after HELP and TYPE of its family" "" "$problems"
for family in cutoff_decisions_total cutoff_decision_duration_seconds cutoff_snapshot_version \
    cutoff_snapshot_age_seconds cutoff_active_actions cutoff_subscriptions cutoff_ready \
    cutoff_snapshot_reloads_total cutoff_admin_calls_total; do
    grep -q "^# TYPE $family " "$WORK/metrics" && ok "/metrics has $family" || not_ok "/metrics has $family"
done
expect_eq "/metrics: cutoff_ready is 1" 1 "$(metric cutoff_ready)"
expect_eq "/metrics: cutoff_subscriptions counts the tree (reference case + 3 imported)" \
    $((N_SUBS + 3)) "$(metric cutoff_subscriptions)"
expect_eq "/metrics: one active action (EA-1)" 1 "$(metric cutoff_active_actions)"
expect_eq "/metrics: the histogram's count equals its +Inf bucket" \
    "$(metric 'cutoff_decision_duration_seconds_bucket{le="+Inf"}')" "$(metric cutoff_decision_duration_seconds_count)"
allow0=$(metric 'cutoff_decisions_total{result="allow",reason="allow"}')
deny0=$(metric 'cutoff_decisions_total{result="deny",reason="read_only"}')
route0=$(metric 'cutoff_decisions_total{result="deny",reason="no_route"}')
count0=$(metric cutoff_decision_duration_seconds_count)
admin0=$(metric 'cutoff_admin_calls_total{verb="whoami",outcome="ok"}')
for _ in 1 2 3; do
    check '{"subscription":"sub-8200-secops","action":"security.scan"}'
    check "$WRITE"
    authz "X-Forwarded-Method: GET" "X-Forwarded-Uri: /nowhere/x"
    admin "$CAROL" GET /v1/whoami
done
fetch_metrics
grew() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { exit !(b - a >= n) }'; }
grew "$allow0" "$(metric 'cutoff_decisions_total{result="allow",reason="allow"}')" 3 &&
    ok "/metrics: allows grew by 3" || not_ok "/metrics: allows grew by 3" "$allow0 -> $(metric 'cutoff_decisions_total{result="allow",reason="allow"}')"
grew "$deny0" "$(metric 'cutoff_decisions_total{result="deny",reason="read_only"}')" 3 &&
    ok "/metrics: read_only denials grew by 3" || not_ok "/metrics: read_only denials grew by 3"
grew "$route0" "$(metric 'cutoff_decisions_total{result="deny",reason="no_route"}')" 3 &&
    ok "/metrics: no_route denials grew by 3" || not_ok "/metrics: no_route denials grew by 3"
grew "$count0" "$(metric cutoff_decision_duration_seconds_count)" 9 &&
    ok "/metrics: the latency histogram counted 9 more" || not_ok "/metrics: the latency histogram counted 9 more"
grew "$admin0" "$(metric 'cutoff_admin_calls_total{verb="whoami",outcome="ok"}')" 3 &&
    ok "/metrics: admin calls grew by 3" || not_ok "/metrics: admin calls grew by 3"
buckets=$(grep '^cutoff_decision_duration_seconds_bucket' "$WORK/metrics" | awk '{ if ($2 < last) print "falls at " $0; last = $2 }')
expect_eq "/metrics: histogram buckets are cumulative" "" "$buckets"
# A batch answers several decisions; each counts under its own reason.
allow0=$(metric 'cutoff_decisions_total{result="allow",reason="allow"}')
deny0=$(metric 'cutoff_decisions_total{result="deny",reason="read_only"}')
batch "{\"requests\":[$WRITE,$WRITE,{\"subscription\":\"sub-8200-secops\",\"action\":\"security.scan\"}]}"
fetch_metrics
expect_eq "/metrics: a batch of two read_only denials and an allow counts as such" "+2 +1" \
    "+$(($(metric 'cutoff_decisions_total{result="deny",reason="read_only"}') - deny0)) +$(($(metric 'cutoff_decisions_total{result="allow",reason="allow"}') - allow0))"
http GET "$ADM/metrics"
expect_match "the admin listener serves /metrics too" '^# HELP' "$(body)"

# ---- the JSON log ----------------------------------------------------------------------------------
http GET "$ADM/v1/cases/CASE-7" -H "Authorization: Bearer $CAROL" -H 'X-Request-Id: it-admin-0042'
if command -v python3 >/dev/null; then
    parse=$(python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' <"$WORK/cutoffd.log" 2>&1)
else
    parse=$(jq -R 'fromjson' "$WORK/cutoffd.log" 2>&1 >/dev/null)
fi
expect_eq "every log line is one JSON object" "" "$parse"
expect_eq "every log line has ts, level and event" 0 \
    "$(jq -R 'fromjson | select((.ts | type) != "string" or (.level | type) != "string" or (.event | type) != "string")' \
        "$WORK/cutoffd.log" | wc -l)"
expect_eq "every request line carries a request id" 0 \
    "$(jq -R 'fromjson | select(.event == "request" and ((.request_id // "") | length) == 0)' "$WORK/cutoffd.log" | wc -l)"
expect_eq "the admin request is logged with its id, principal, verb and status" \
    '{"principal":"carol","verb":"case.show","status":200,"path":"/v1/cases/CASE-7"}' \
    "$(jq -R -c 'fromjson | select(.request_id == "it-admin-0042") | {principal, verb, status, path}' "$WORK/cutoffd.log")"
expect_eq "a decision request is logged with its id (log_decisions)" '"/v1/check 200"' \
    "$(jq -R -c 'fromjson | select(.request_id == "it-check-0001") | "\(.path) \(.status)"' "$WORK/cutoffd.log" | head -1)"

# ---- SIGHUP: routes and tokens -------------------------------------------------------------------
authz "X-Forwarded-Method: GET" "X-Forwarded-Uri: /maps/sub-9900-maps/tiles/1"
expect_eq "before the reload /maps has no route" no_route "$(header Cutoff-Reason)"
write_config "$(jq -c '. + [{"method":"GET","path":"/maps/{subscription}/**","action":"storage.read"}]' <<<"$ROUTES")"
write_tokens "$T_ALICE" "$T_ALICE2" "$T_BOB" "$T_DAVE" "$T_ERIN" "$T_ROOT"
reloads=$(grep -c '"event":"reloaded"' "$WORK/cutoffd.log")
kill -HUP "$CUTOFFD_PID"
for _ in $(seq 100); do
    [ "$(grep -c '"event":"reloaded"' "$WORK/cutoffd.log")" -gt "$reloads" ] && break
    sleep 0.05
done
expect_eq "SIGHUP is logged as a reload" $((reloads + 1)) "$(grep -c '"event":"reloaded"' "$WORK/cutoffd.log")"
authz "X-Forwarded-Method: GET" "X-Forwarded-Uri: /maps/sub-9900-maps/tiles/1"
expect_code "after SIGHUP the new route decides (204)" 204
authz "X-Forwarded-Method: GET" "X-Forwarded-Uri: /maps/sub-cyber-soc/tiles/1"
expect_eq "after SIGHUP the new route decides storage.read (not in a security-only plan)" "403 not_entitled" \
    "$CODE $(header Cutoff-Reason)"
admin "$DAVE" GET /v1/whoami
expect_eq "after SIGHUP the new token works" "200 dave" "$CODE $(jb .principal)"
admin "$CAROL" GET /v1/whoami
expect_problem "after SIGHUP the removed token gets 401" 401 .
http GET "$DEC/readyz"
expect_code "still ready after the reload" 200

printf 'sha256:not-hex dave viewer\n' >"$WORK/tokens"
failures=$(grep -c '"event":"reload_failed"' "$WORK/cutoffd.log")
kill -HUP "$CUTOFFD_PID"
for _ in $(seq 100); do
    [ "$(grep -c '"event":"reload_failed"' "$WORK/cutoffd.log")" -gt "$failures" ] && break
    sleep 0.05
done
expect_match "a broken tokens file is logged, naming the file and line" \
    "\"event\":\"reload_failed\".*tokens:1|tokens:1.*\"event\":\"reload_failed\"" "$(grep reload_failed "$WORK/cutoffd.log")"
admin "$DAVE" GET /v1/whoami
expect_code "with a broken tokens file the running tokens stay (dave)" 200
admin "$BOB" GET /v1/whoami
expect_code "with a broken tokens file the running tokens stay (bob)" 200
admin "$CAROL" GET /v1/whoami
expect_code "with a broken tokens file carol stays removed" 401
authz "X-Forwarded-Method: GET" "X-Forwarded-Uri: /maps/sub-9900-maps/tiles/1"
expect_code "with a broken tokens file the routes stay" 204
echo '{"routes": [{"path": "/x/{subscription}", "action": "storage.*"}]}' >"$WORK/cutoffd.json"
write_tokens "$T_ALICE" "$T_BOB" "$T_DAVE" "$T_ROOT"
failures=$(grep -c '"event":"reload_failed"' "$WORK/cutoffd.log")
kill -HUP "$CUTOFFD_PID"
for _ in $(seq 100); do
    [ "$(grep -c '"event":"reload_failed"' "$WORK/cutoffd.log")" -gt "$failures" ] && break
    sleep 0.05
done
expect_match "a broken configuration is logged" 'routes\[0\]' "$(grep reload_failed "$WORK/cutoffd.log" | tail -1)"
authz "X-Forwarded-Method: GET" "X-Forwarded-Uri: /maps/sub-9900-maps/tiles/1"
expect_code "with a broken configuration the running routes stay" 204

# ---- lifting with the CLI: the watcher again ------------------------------------------------------
flip_after "cutoffd allows again" "$WRITE" '"allow"' --actor bob action lift EA-1 --reason "data exported; review concluded"

# ---- SIGTERM: 503 from /readyz while draining, then exit 0 ----------------------------------------
# One keep-alive connection stays open across the signal: cutoffd stops
# accepting but finishes open connections, so /readyz can be asked on it.
if exec 3<>"/dev/tcp/127.0.0.1/$DEC_PORT"; then
    raw_request 3 GET /readyz
    expect_eq "/readyz on a kept-alive connection: 200" 200 "$RAW_STATUS"
    kill -TERM "$CUTOFFD_PID"
    drain=
    for _ in $(seq 40); do
        raw_request 3 GET /readyz || break
        drain=$RAW_STATUS
        [ "$drain" = 503 ] && break
        sleep 0.05
    done
    expect_eq "after SIGTERM /readyz answers 503 while open connections drain" 503 "$drain"
    refused=no
    for _ in $(seq 40); do
        curl -s -o /dev/null --max-time 1 "$DEC/healthz" || { refused=yes; break; }
        sleep 0.05
    done
    expect_eq "after SIGTERM new connections are refused" yes "$refused"
    exec 3<&- 3>&-
else
    not_ok "a raw connection to the decision listener"
    kill -TERM "$CUTOFFD_PID"
fi
wait "$CUTOFFD_PID"
expect_eq "cutoffd exits 0 on SIGTERM" 0 "$?"
CUTOFFD_PID=
expect_match "the stop is logged" '"event":"stopped"' "$(tail -3 "$WORK/cutoffd.log")"
finish
