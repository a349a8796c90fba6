#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Names and inputs that cannot be spoofed, through the real CLI and cutoffd:
# actors follow the id grammar and four eyes holds against every spelling
# of the proposer; token principals that differ only by case are refused
# when a token is made and when a tokens file is loaded; notice.ref cannot
# inject into the Link header; free text refuses control and hidden or
# direction-changing characters; an action's regions are catalog regions;
# times lie in the years 0000-9999. After every refusal the database is
# compared with its state before.
source "$(dirname "$0")/lib.sh"
CASE="$ROOT/examples/reference-case"
CUTOFFD="$ROOT/$CUTOFF_BUILD/cutoffd"
for tool in curl jq sqlite3 sha256sum; do
    command -v "$tool" >/dev/null || { echo "1..0 # SKIP $tool is not installed"; exit 0; }
done

CUTOFFD_PID=
cleanup() {
    [ -n "$CUTOFFD_PID" ] && kill "$CUTOFFD_PID" 2>/dev/null && wait "$CUTOFFD_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# db_state: a digest of every table but the receipts, which a running
# cutoffd rewrites every heartbeat_s (1 s): a node's report, not a change.
db_state() {
    sqlite3 "$CUTOFF_DB" ".dump $(sqlite3 "$CUTOFF_DB" \
        "SELECT group_concat(name, ' ') FROM sqlite_schema WHERE type = 'table' AND name <> 'receipts'")" |
        sha256sum | cut -d' ' -f1
}
# refused STATUS WHAT PATTERN ARGS...: the CLI exits with STATUS, says
# PATTERN on one line of stderr, and leaves the database as it was.
refused() {
    local want=$1 what=$2 pattern=$3 before
    shift 3
    before=$(db_state)
    expect_fail "$want" "$what" "$@"
    expect_match "$what: says why" "$pattern" "$ERR"
    expect_eq "$what: one line on stderr" 1 "$(printf '%s\n' "$ERR" | wc -l)"
    expect_eq "$what: the database is unchanged" "$before" "$(db_state)"
}

export CUTOFF_ACTOR=alice
run_cutoff init &&
    run_cutoff catalog load "$CASE/catalog.json" &&
    run_cutoff nodes import "$CASE/nodes.jsonl" &&
    run_cutoff case open --id CASE-7 --title "Unit review" --scope unit-8200
expect_eq "database prepared with the reference case" 0 "$STATUS"
expect_ok "alice proposes EA-1" action propose "$CASE/action.json"

# ---- actors -------------------------------------------------------------------------------
ZWSP=$'\u200b' NBSP=$'\u00a0' BOM=$'\ufeff' RLO=$'\u202e'
SPOOFED=("alice " " alice" "al ice" $'alice\t' $'alice\n' "alice$ZWSP" $'\u0430lice'
    "alice$NBSP" "${BOM}alice" $'\uff41lice' $'a\u0301lice' "${RLO}ecila" $'\e[1malice' "")
for i in "${!SPOOFED[@]}"; do
    refused 2 "approve as spoofed spelling $i" 'actor|who you are' \
        --actor "${SPOOFED[$i]}" action approve EA-1
done
CUTOFF_ACTOR="alice " refused 2 "CUTOFF_ACTOR with a trailing space" 'actor "alice "' \
    action approve EA-1
for a in Alice ALICE aLiCe; do
    refused 1 "four eyes: $a cannot approve alice's draft" 'cannot approve it' \
        --actor "$a" action approve EA-1
done
refused 2 "a proposal by a spoofed actor" 'actor' --actor "alice$ZWSP" action propose "$CASE/action.json"

# ---- free text ----------------------------------------------------------------------------
printf 'usage summary\n' >"$WORK/ev.csv"
HIDDEN=("x${RLO}fdp.exe" $'x\e]0;owned\ax' $'x\u2066y' "x${ZWSP}y" "x${BOM}y" $'x\ry' $'x\u0085y')
for i in "${!HIDDEN[@]}"; do
    t=${HIDDEN[$i]}
    refused 1 "case title $i" 'case title holds U\+' case open --title "$t" --scope unit-8200
    refused 1 "evidence note $i" 'evidence note holds U\+' case evidence CASE-7 "$WORK/ev.csv" --type text/csv --note "$t"
    refused 1 "findings $i" 'findings holds U\+' case findings CASE-7 --text "$t"
    refused 1 "lift reason $i" 'reason holds U\+' --actor bob action lift EA-1 --reason "$t"
done
cp "$WORK/ev.csv" "$WORK/report${RLO}vsc.exe"
refused 1 "an evidence file name with a right-to-left override" 'evidence file name holds U\+202E' \
    case evidence CASE-7 "$WORK/report${RLO}vsc.exe" --type text/csv --note "report"
refused 1 "a one-line title with a newline" 'U\+000A' case open --title $'a\nb' --scope unit-8200
expect_ok "findings keep lines and tabs" case findings CASE-7 --text $'1.\tusage\n2.\tcost'
printf '{"id":"bad-name","kind":"tenant","name":"Unit \\u202e0028"}\n' >"$WORK/nodes.jsonl"
refused 1 "a node name with a right-to-left override" 'nodes.jsonl:1: name holds U\+202E' \
    nodes import "$WORK/nodes.jsonl"

# ---- documents: notice.ref, notice text, regions -------------------------------------------
doc() { # doc JQ-FILTER: the reference action, changed
    jq "$1" "$CASE/action.json" >"$WORK/doc.json"
}
doc '.id = "EA-9" | .notice.ref = "https://provider.example/n>; rel=\"x\", <https://evil.example/"'
refused 1 "notice.ref that would add a second link" 'notice.ref: .*0x3e' action propose "$WORK/doc.json"
doc '.id = "EA-9" | .notice.ref = "https://provider.example/n\r\nX-Injected: 1"'
refused 1 "notice.ref with CR LF" 'notice.ref: ' action propose "$WORK/doc.json"
doc '.id = "EA-9" | .notice.ref = "notices/EA-9"'
refused 1 "a relative notice.ref" 'notice.ref: .*absolute http' action propose "$WORK/doc.json"
doc '.id = "EA-9" | .notice.summary = "Storage \u202eecivres"'
refused 1 "notice.summary with a right-to-left override" 'notice.summary holds U\+202E' action propose "$WORK/doc.json"
doc '.id = "EA-9" | .regions = ["mars"]'
refused 1 "a region the catalog does not list" 'regions\[0\]: "mars" is no region of the catalog' \
    action propose "$WORK/doc.json"
doc '.id = "EA-9" | .regions = ["ap-*"]'
refused 1 "a region prefix that matches nothing" 'regions\[0\]: "ap-\*" matches no region' \
    action propose "$WORK/doc.json"
doc '.id = "EA-9" | .phases = [{"at": "10000-01-01T00:00:00Z", "mode": "suspend"}]'
refused 1 "a phase in year 10000" 'phases\[0\]\.at' action propose "$WORK/doc.json"
doc '.id = "EA-9" | .regions = ["eu-*", "us-east"]'
expect_ok "catalog regions and prefixes are accepted" action propose "$WORK/doc.json"

# ---- times ---------------------------------------------------------------------------------
for t in 253402300800 99999999999999 9223372036854775807 -62167219201 9999-12-31T23:59:59-01:00; do
    refused 2 "--at $t" 'out of range' check sub-8200-storage storage.read --at "$t"
done
expect_ok "--at 9999-12-31T23:59:59Z is the last second" check sub-8200-storage storage.read \
    --at 9999-12-31T23:59:59Z

# ---- bob approves: the one other person ----------------------------------------------------
expect_ok "bob approves EA-1" --actor bob action approve EA-1

# ---- tokens: principals -------------------------------------------------------------------
TOKENS="$WORK/tokens"
expect_ok "a token for alice" token create --tokens-file "$TOKENS" --principal alice --roles investigator,enforcer
file_state() { sha256sum "$TOKENS" | cut -d' ' -f1; }
before=$(file_state)
for p in Alice ALICE aLiCe; do
    expect_fail 1 "no token for $p beside alice" token create --tokens-file "$TOKENS" --principal "$p" --roles approver
    expect_match "$p: says why" 'differs from "alice" only by case' "$ERR"
done
for i in "${!SPOOFED[@]}"; do
    expect_fail 2 "no token for spoofed spelling $i" token create --tokens-file "$TOKENS" --principal "${SPOOFED[$i]}" --roles approver
done
expect_eq "the tokens file is unchanged by the refusals" "$before" "$(file_state)"
expect_ok "alice may hold a second token" token create --tokens-file "$TOKENS" --principal alice --roles approver
sha_hex() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
printf 'sha256:%s Alice approver\n' "$(sha_hex cutoff_x)" >>"$TOKENS"
expect_fail 1 "a tokens file with alice and Alice does not load" token list --tokens-file "$TOKENS"
expect_match "names the line" "tokens:[0-9]+: principal \"Alice\" differs from \"alice\" only by case" "$ERR"

# ---- cutoffd: loading such a file, and four eyes over the API ------------------------------
doc '.id = "EA-2" | .case = "CASE-7"'
expect_ok "alice proposes EA-2 with the CLI" action propose "$WORK/doc.json"
config() {
    jq -n --arg db "$CUTOFF_DB" --arg tokens "$1" '{database: $db, decision_listen: "127.0.0.1:0",
        admin_listen: "127.0.0.1:0", tokens_file: $tokens}' >"$WORK/cutoffd.json"
}
config "$TOKENS"
"$CUTOFFD" --config "$WORK/cutoffd.json" --port-file "$WORK/ports" 2>"$WORK/cutoffd.err"
expect_eq "cutoffd does not start with alice and Alice in its tokens file" 1 "$?"
expect_match "and says which line" 'tokens:[0-9]+: principal "Alice" differs from "alice" only by case' \
    "$(cat "$WORK/cutoffd.err")"

CAP=cutoff_capital_alice_token BOB=cutoff_bob_token
printf 'sha256:%s Alice approver\nsha256:%s bob approver\n' "$(sha_hex "$CAP")" "$(sha_hex "$BOB")" >"$WORK/tokens2"
config "$WORK/tokens2"
"$CUTOFFD" --config "$WORK/cutoffd.json" --port-file "$WORK/ports" 2>"$WORK/cutoffd.err" &
CUTOFFD_PID=$!
for _ in $(seq 200); do
    [ -s "$WORK/ports" ] && break
    kill -0 "$CUTOFFD_PID" 2>/dev/null || break
    sleep 0.05
done
if [ -s "$WORK/ports" ]; then
    read -r _ ADM_PORT <"$WORK/ports"
    ADM="http://127.0.0.1:$ADM_PORT"
    before=$(db_state)
    code=$(curl -s -o "$WORK/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $CAP" "$ADM/v1/actions/EA-2/approve")
    expect_eq "over the API, principal Alice cannot approve alice's draft" 403 "$code"
    expect_match "the problem says why" 'cannot approve it' "$(cat "$WORK/body")"
    expect_eq "the database is unchanged" "$before" "$(db_state)"
    code=$(curl -s -o "$WORK/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $BOB" "$ADM/v1/actions/EA-2/approve")
    expect_eq "bob can" 200 "$code"
    kill -TERM "$CUTOFFD_PID"
    wait "$CUTOFFD_PID"
    expect_eq "cutoffd stops cleanly" 0 "$?"
    CUTOFFD_PID=
else
    not_ok "cutoffd starts" "$(cat "$WORK/cutoffd.err")"
fi
finish
