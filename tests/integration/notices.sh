#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Signed notices to the customer, through the CLI and cutoffd: a notice
# issued without a key and signed later, served on the decision listener
# (GET /v1/notices/ID, ?version, the letter, ?subscription=S) where the
# 451's Link points, verified offline with the public key after curl
# fetched it, and refused once a byte is changed or with another key.
# Lift and case close issue new versions. The keys are made with
# 'cutoff key create'.
source "$(dirname "$0")/lib.sh"

CUTOFFD="$ROOT/$CUTOFF_BUILD/cutoffd"
REF="$ROOT/examples/reference-case"
CUTOFFD_PID=
trap '[ -n "$CUTOFFD_PID" ] && kill "$CUTOFFD_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

for k in op other; do
    "$CUTOFF" key create --key "$WORK/$k.key" >/dev/null &&
        "$CUTOFF" key show --key "$WORK/$k.key" >"$WORK/$k.pub"
done
expect_eq "the test keys are made" "yes" "$([ -s "$WORK/op.pub" ] && [ -s "$WORK/other.pub" ] && echo yes)"

# ---- the case, approved without a key: the notice is stored unsigned -------------------
"$CUTOFF" init >/dev/null
"$CUTOFF" --actor alice catalog load "$REF/catalog.json" >/dev/null
"$CUTOFF" --actor alice nodes import "$REF/nodes.jsonl" >/dev/null
"$CUTOFF" --actor alice case open --id CASE-7 --scope unit-8200 --title "review" >/dev/null
# Without a ref: the Link of a 451 must point at cutoffd's own notice.
jq '.notice.ref = null' "$REF/action.json" >"$WORK/action.json"
expect_ok "alice proposes EA-1" --actor alice action propose "$WORK/action.json"
expect_fail 1 "no notice before the action is active" notice show EA-1
expect_ok "bob approves EA-1 (no key)" --actor bob action approve EA-1
expect_ok "notice show --json" notice show EA-1 --json
printf '%s\n' "$OUT" >"$WORK/unsigned.json"
expect_eq "the notice is stored unsigned" "null|1|activated" \
    "$(jq -r '[.signature, .notice.notice_version, .notice.issued_for] | map(tostring) | join("|")' "$WORK/unsigned.json")"
expect_fail 1 "an unsigned notice does not verify" notice verify "$WORK/unsigned.json" --pubkey "$WORK/op.pub"
expect_match "and says it is not signed" 'not signed' "$ERR"
expect_eq "the notice names the audit record of the approval" "action.approve" \
    "$("$CUTOFF" audit log --json | jq -r --argjson s "$(jq .notice.audit.seq "$WORK/unsigned.json")" '.[] | select(.seq == $s) | .verb')"
expect_ok "notice sign with --key signs it" --key "$WORK/op.key" notice sign
expect_match "one notice signed" '^signed 1 notice' "$OUT"
expect_fail 2 "notice sign without a key is a usage error" notice sign

# ---- cutoffd serves it --------------------------------------------------------------------
jq -n --arg db "$CUTOFF_DB" --arg log "$WORK/cutoffd.log" '{
    database: $db, decision_listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0",
    log_file: $log, forward_headers: "forwarded",
    routes: [{"method": "PUT", "path": "/storage/{subscription}/**", "action": "storage.write"}]}' \
    >"$WORK/cutoffd.json"
"$CUTOFFD" --config "$WORK/cutoffd.json" --port-file "$WORK/ports" 2>"$WORK/cutoffd.err" &
CUTOFFD_PID=$!
for _ in $(seq 200); do
    [ -s "$WORK/ports" ] && break
    kill -0 "$CUTOFFD_PID" 2>/dev/null || break
    sleep 0.05
done
if [ ! -s "$WORK/ports" ]; then
    not_ok "cutoffd starts" "$(tail -5 "$WORK/cutoffd.err" "$WORK/cutoffd.log" 2>/dev/null)"
    finish
    exit 1
fi
read -r DEC_PORT _ <"$WORK/ports"
DEC="http://127.0.0.1:$DEC_PORT"
ok "cutoffd serves decisions on $DEC"

http() { # http URL [CURL ARGS...]: $CODE, $WORK/body, $WORK/headers
    local url=$1
    shift
    CODE=$(curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' "$@" "$url")
}
header() { grep -i "^$1:" "$WORK/headers" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

# The 451's Link and the problem body point at the notice on this listener.
http "$DEC/v1/authz" -H 'X-Forwarded-Method: PUT' -H 'X-Forwarded-Uri: /storage/sub-8200-storage/a'
expect_eq "a write is refused with 451" 451 "$CODE"
expect_eq "its Link points at GET /v1/notices/EA-1" "<$DEC/v1/notices/EA-1>; rel=\"blocked-by\"" "$(header Link)"
expect_eq "so does the problem body" "$DEC/v1/notices/EA-1" "$(jq -r .notice.url "$WORK/body")"
link=$(header Link | sed 's/^<\([^>]*\)>.*/\1/')

http "$link"
cp "$WORK/body" "$WORK/fetched.json"
expect_eq "the Link's URL answers 200" 200 "$CODE"
expect_eq "and says it is signed" yes "$(header Cutoff-Notice-Signed)"
expect_ok "notice verify passes on what curl fetched" notice verify "$WORK/fetched.json" --pubkey "$WORK/op.pub"
expect_match "naming the notice" '^notice EA-1 version 1 verifies' "$OUT"
expect_eq "the served notice is what the CLI shows" "$("$CUTOFF" notice show EA-1 --json)" "$(cat "$WORK/fetched.json")"
expect_fail 1 "it does not verify with another key" notice verify "$WORK/fetched.json" --pubkey "$WORK/other.pub"
expect_match "which is named" 'another key' "$ERR"

# One byte of a value flipped: 451 -> 450.
sed 's/"status": 451/"status": 450/' "$WORK/fetched.json" >"$WORK/flipped.json"
expect_eq "the flipped copy differs in one byte" 1 "$(cmp -l "$WORK/fetched.json" "$WORK/flipped.json" | wc -l)"
expect_fail 1 "a flipped byte does not verify" notice verify "$WORK/flipped.json" --pubkey "$WORK/op.pub"
expect_match "and says so" 'does not verify' "$ERR"
jq 'del(.notice.except)' "$WORK/fetched.json" >"$WORK/removed.json"
expect_fail 1 "a removed member is refused" notice verify "$WORK/removed.json" --pubkey "$WORK/op.pub"
expect_match "naming it" 'notice.except is missing' "$ERR"

http "$DEC/v1/notices/EA-1?format=text"
expect_match "?format=text is the letter" 'NOTICE OF ENFORCEMENT ACTION EA-1' "$(cat "$WORK/body")"
expect_match "with what keeps running" 'security\.\*' "$(cat "$WORK/body")"
http "$DEC/v1/notices/EA-1" -H 'Accept: text/plain'
expect_match "Accept: text/plain is the letter too" '^text/plain' "$(header Content-Type)"
http "$DEC/v1/notices?subscription=sub-8200-storage"
expect_eq "?subscription lists the notices that cover it" "EA-1" "$(jq -r '[.[].notice.enforcement_action] | join(",")' "$WORK/body")"
http "$DEC/v1/notices?subscription=sub-logistics-erp"
expect_eq "and none for another unit's subscription" "0" "$(jq length "$WORK/body")"

# Refusals: problem bodies.
http "$DEC/v1/notices/EA-9"
expect_eq "an unknown action: 404" "404|ENOTFOUND" "$CODE|$(jq -r .code "$WORK/body")"
http "$DEC/v1/notices/EA-1?version=7"
expect_eq "an unknown version: 404" 404 "$CODE"
for bad in "version=0" "version=x" "version=-1" "format=xml"; do
    http "$DEC/v1/notices/EA-1?$bad"
    expect_eq "?$bad: 400" "400|EPARSE" "$CODE|$(jq -r .code "$WORK/body")"
done
# A parameter given twice is not guessed at: either could be the one a
# cache in front keyed on.
for twice in "/EA-1?version=1&version=2" "/EA-1?format=text&format=json" \
    "?subscription=sub-8200-storage&subscription=sub-9900-maps"; do
    http "$DEC/v1/notices$twice"
    expect_eq "a query parameter given twice ($twice): 400" "400|EINVAL" "$CODE|$(jq -r .code "$WORK/body")"
done
http "$DEC/v1/notices/bad%20id"
expect_eq "an id outside the grammar: 400" 400 "$CODE"
http "$DEC/v1/notices?subscription=no-such-sub"
expect_eq "an unknown subscription: 404" 404 "$CODE"
http "$DEC/v1/notices"
expect_eq "a list without ?subscription: 400" 400 "$CODE"

# ---- lift and close issue new versions, signed as they are issued -----------------------
expect_ok "bob lifts EA-1 with the key" --key "$WORK/op.key" --actor bob action lift EA-1 --reason done
http "$DEC/v1/notices/EA-1"
expect_eq "notice 2 says lifted" "2|lifted|lifted" \
    "$(jq -r '[.notice.notice_version, .notice.issued_for, .notice.state] | map(tostring) | join("|")' "$WORK/body")"
cp "$WORK/body" "$WORK/v2.json"
expect_ok "and verifies" notice verify "$WORK/v2.json" --pubkey "$WORK/op.pub"
http "$DEC/v1/notices/EA-1?version=1"
expect_eq "?version=1 is still the first" "1|activated" \
    "$(jq -r '[.notice.notice_version, .notice.issued_for] | map(tostring) | join("|")' "$WORK/body")"
expect_ok "alice closes the case with the key" --key "$WORK/op.key" --actor alice case close CASE-7
expect_ok "notice show --version 3 --json" notice show EA-1 --version 3 --json
printf '%s\n' "$OUT" >"$WORK/v3.json"
expect_eq "notice 3: the review is closed" "case_closed|false" \
    "$(jq -r '[.notice.issued_for, .notice.case.open] | map(tostring) | join("|")' "$WORK/v3.json")"
expect_ok "and verifies" notice verify "$WORK/v3.json" --pubkey "$WORK/op.pub"
# A signature moved from another notice does not verify.
jq --slurpfile other "$WORK/v2.json" '.signature = $other[0].signature' "$WORK/v3.json" >"$WORK/moved.json"
expect_fail 1 "a signature moved from notice 2 to notice 3 is refused" notice verify "$WORK/moved.json" --pubkey "$WORK/op.pub"
expect_match "the letter says the review is closed" 'is closed' "$("$CUTOFF" notice show EA-1)"
expect_fail 2 "notice show --text --json is a usage error" notice show EA-1 --text --json
expect_fail 2 "a bad action id is a usage error" notice show "a b"

kill "$CUTOFFD_PID"
wait "$CUTOFFD_PID"
expect_eq "cutoffd stops with 0" 0 "$?"
CUTOFFD_PID=
finish
