#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One decision shape: the same requests asked of the CLI on the database,
# of the CLI through cutoffd (--server), and of cutoffd's POST /v1/check,
# /v1/check/batch and GET /v1/explain give the same JSON, byte for byte
# after key sorting. The requests cover allows, denials by an action with
# and without a notice ref, each phase, the plan, unknown names, regions
# and requests that name none. Everything listens on 127.0.0.1.
source "$(dirname "$0")/lib.sh"

CUTOFFD="$ROOT/$CUTOFF_BUILD/cutoffd"
REF="$ROOT/examples/reference-case"
cd "$WORK" || exit 1
unset CUTOFF_ACTOR
CUTOFFD_PID=
cleanup() {
    [ -n "$CUTOFFD_PID" ] && kill "$CUTOFFD_PID" 2>/dev/null && wait "$CUTOFFD_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---- the reference case, and a second action whose notice has no ref ---------------
"$CUTOFF" init >/dev/null &&
    "$CUTOFF" --actor alice catalog load "$REF/catalog.json" >/dev/null &&
    "$CUTOFF" --actor alice nodes import "$REF/nodes.jsonl" >/dev/null &&
    "$CUTOFF" --actor alice case open --id CASE-7 --title review --scope unit-8200 >/dev/null &&
    "$CUTOFF" --actor alice case open --id CASE-8 --title review --scope unit-9900 >/dev/null &&
    "$CUTOFF" --actor alice action propose "$REF/action.json" >/dev/null &&
    "$CUTOFF" --actor bob action approve EA-1 >/dev/null
expect_eq "the reference case is set up" 0 "$?"
cat >ea2.json <<'EOF'
{"id": "EA-2", "case": "CASE-8", "scope": ["unit-9900"], "deny": ["compute.*"],
 "regions": ["eu-germany"], "phases": [{"at": "+0", "mode": "suspend"}], "status": 403,
 "notice": {"summary": "Compute in eu-germany is suspended while the review runs.",
            "contact": "trust-and-safety@provider.example"}}
EOF
"$CUTOFF" --actor alice action propose ea2.json >/dev/null && "$CUTOFF" --actor bob action approve EA-2 >/dev/null
expect_eq "a second action without a notice ref is active" 0 "$?"

"$CUTOFF" token create --principal auditor --roles viewer --tokens-file tokens >viewer.tok 2>/dev/null
chmod 600 viewer.tok
# No notice base: a notice's url is its ref, as on a local database.
cat >cutoffd.json <<'EOF'
{"notice_base": "", "forward_headers": "forwarded",
 "routes": [{"method": "PUT", "path": "/storage/{subscription}/**", "action": "storage.write", "region": "eu-germany"}]}
EOF
"$CUTOFFD" --config cutoffd.json --db "$CUTOFF_DB" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --port-file ports --tokens tokens --log cutoffd.log 2>cutoffd.err &
CUTOFFD_PID=$!
for _ in $(seq 100); do [ -s ports ] && break; sleep 0.1; done
read -r DEC ADM <ports 2>/dev/null
if [ -z "${ADM:-}" ]; then not_ok "cutoffd starts" "$(cat cutoffd.err)"; finish; exit 1; fi
ok "cutoffd serves on 127.0.0.1:$DEC and :$ADM"

# ---- the requests ---------------------------------------------------------------------
NOW=$(date -u +%s)
# Each subscription with the actions that matter for it, at three times
# (now, in the suspend phase, before approval), with and without a region.
: >picked
while read -r sub acts; do
    for act in $acts; do
        for at in $NOW $((NOW + 31 * 86400)) $((NOW - 3600)); do
            echo "$sub $act - $at" >>picked
            echo "$sub $act eu-germany $at" >>picked
        done
    done
done <<'EOF'
sub-8200-storage storage.write storage.read
sub-8200-archive-1 ai.transcribe
sub-8200-secops security.scan
sub-9900-maps compute.run storage.write
sub-cyber-soc storage.read
sub-logistics-erp storage.teleport
sub-nobody storage.read
unit-8200 storage.read
EOF
n=$(wc -l <picked)
sorted() { jq -S . 2>/dev/null; }

same_local=0 same_server=0 same_check=0 same_explain=0 first_diff=
while read -r sub act region at; do
    region_json=null
    [ "$region" != - ] && region_json="\"$region\""
    local_out=$("$CUTOFF" check "$sub" "$act" --region "$region" --at "$at" --json | sorted)
    local_x=$("$CUTOFF" check "$sub" "$act" --region "$region" --at "$at" --json --explain | sorted)
    server_out=$("$CUTOFF" --server "http://127.0.0.1:$ADM" --token-file viewer.tok \
        check "$sub" "$act" --region "$region" --at "$at" --json | sorted)
    check_out=$(curl -s "http://127.0.0.1:$DEC/v1/check" -d \
        "{\"subscription\":\"$sub\",\"action\":\"$act\",\"region\":$region_json,\"at\":$at}" | sorted)
    query="subscription=$sub&action=$act&at=$at"
    [ "$region" != - ] && query="$query&region=$region"
    explain_out=$(curl -s -H "Authorization: Bearer $(cat viewer.tok)" "http://127.0.0.1:$ADM/v1/explain?$query" | sorted)
    [ -n "$local_out" ] || { first_diff=${first_diff:-"no local answer for $sub $act $region $at"}; continue; }
    [ "$server_out" = "$local_out" ] && same_server=$((same_server + 1)) ||
        first_diff=${first_diff:-"--server differs for $sub $act $region $at: $server_out vs $local_out"}
    [ "$check_out" = "$local_out" ] && same_check=$((same_check + 1)) ||
        first_diff=${first_diff:-"/v1/check differs for $sub $act $region $at: $check_out vs $local_out"}
    [ "$explain_out" = "$local_x" ] && same_explain=$((same_explain + 1)) ||
        first_diff=${first_diff:-"/v1/explain differs for $sub $act $region $at: $explain_out vs $local_x"}
    same_local=$((same_local + 1))
done <picked
expect_eq "the local CLI answered all $n requests" "$n" "$same_local"
expect_eq "cutoff --server check --json is the local answer, $n of $n" "$n" "$same_server"
expect_eq "POST /v1/check is the local answer, $n of $n" "$n" "$same_check"
expect_eq "GET /v1/explain is check --json --explain, $n of $n" "$n" "$same_explain"
[ -n "$first_diff" ] && echo "# first difference: $first_diff"

# The batch answers the same objects in order.
reqs=$(while read -r sub act region at; do
    region_json=null
    [ "$region" != - ] && region_json="\"$region\""
    printf '{"subscription":"%s","action":"%s","region":%s,"at":%s}\n' "$sub" "$act" "$region_json" "$at"
done <picked | jq -sc .)
curl -s "http://127.0.0.1:$DEC/v1/check/batch" -d "{\"requests\":$reqs}" | jq -S '.results[]' >batch.json
while read -r sub act region at; do
    "$CUTOFF" check "$sub" "$act" --region "$region" --at "$at" --json
done <picked | jq -S . >local.json
expect_eq "POST /v1/check/batch answers each request as the CLI does" "" "$(diff batch.json local.json | head -5)"
expect_eq "the requests met every reason and both enforcement actions" \
    "EA-1,EA-2 allow,not_entitled,read_only,suspended,unknown_action,unknown_subscription" \
    "$(jq -rs '"\([.[].enforcement_action | values] | unique | join(",")) \([.[].reason] | unique | join(","))"' local.json)"

# The shape itself: the keys the docs name, and nothing else.
out=$("$CUTOFF" check sub-8200-storage storage.write --at "$NOW" --json)
expect_eq "a deny by an action has the documented keys" \
    "action,at,case,decision,enforcement_action,export_window_ends,notice,reason,region,since,status,subscription,until,version" \
    "$(printf '%s' "$out" | jq -r 'keys | join(",")')"
expect_eq "the catalog action and the enforcement action have their own keys" "storage.write EA-1" \
    "$(printf '%s' "$out" | jq -r '"\(.action) \(.enforcement_action)"')"
out=$("$CUTOFF" check sub-9900-maps compute.run --region eu-germany --at "$NOW" --json)
expect_eq "a notice without ref has no url when no notice base is configured" "false" \
    "$(printf '%s' "$out" | jq '.notice | has("url")')"
out=$("$CUTOFF" check sub-logistics-erp storage.write --at "$NOW" --json)
expect_eq "an allow has the documented keys" "action,at,decision,enforcement_action,reason,region,subscription" \
    "$(printf '%s' "$out" | jq -r 'keys | join(",")')"

# The problem body of a gateway's denial carries the same members, next to
# the problem's own (type, title, detail, request_id); status is the same.
for sub in sub-8200-storage sub-nobody; do
    curl -s -H 'X-Forwarded-Method: PUT' -H "X-Forwarded-Uri: /storage/$sub/f" \
        "http://127.0.0.1:$DEC/v1/authz" | jq -S 'del(.type, .title, .detail, .request_id, .at)' >problem.json
    "$CUTOFF" check "$sub" storage.write --region eu-germany --json | jq -S 'del(.at)' >local.json
    expect_eq "the denial's problem body for $sub is the decision plus the problem members" "" \
        "$(diff problem.json local.json | head -5)"
done
expect_eq "cutoffd logged no error" "" "$(grep '"level":"error"' cutoffd.log | head -3)"
finish
