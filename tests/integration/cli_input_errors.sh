#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bad input of every kind through the CLI: each is refused with exit 1 and
# one line on stderr that says what was wrong and where, and nothing is
# half-written (the audit log, the tree, the catalog and the actions are as
# they were before the attempt).
source "$(dirname "$0")/lib.sh"
REF="$ROOT/examples/reference-case"
cd "$WORK" || exit 1

# Records in the audit log (and the chain verifies, or the count is empty).
audit_count() { "$CUTOFF" audit verify 2>/dev/null | sed -n 's/^audit log verifies: \([0-9]*\) records.*/\1/p'; }

# refused WHAT PATTERN ARGS...: exit 1, one line on stderr matching
# PATTERN, and no new audit record.
refused() {
    local what=$1 pattern=$2; shift 2
    local before after lines
    before=$(audit_count)
    run_cutoff "$@"
    after=$(audit_count)
    lines=$(printf '%s\n' "$ERR" | grep -c .)
    if [ "$STATUS" -eq 1 ] && [ "$lines" -eq 1 ] && printf '%s' "$ERR" | grep -qE -- "$pattern" \
        && [ -n "$before" ] && [ "$before" = "$after" ]; then
        ok "$what"
    else
        not_ok "$what" "exit $STATUS (want 1), $lines stderr lines (want 1), audit $before -> $after" \
            "wanted /$pattern/ in: $ERR"
    fi
}

# ---- before init ----------------------------------------------------------
expect_fail 1 "catalog load before init" --actor alice catalog load "$REF/catalog.json"
expect_match "says to run init" "cutoff init" "$ERR"
[ ! -e "$CUTOFF_DB" ] && ok "and creates nothing" || not_ok "and creates nothing"
echo "not a database" >"$WORK/junk.db"
expect_fail 1 "a file that is not a database" --db "$WORK/junk.db" case list
expect_ok "init" init

# ---- catalog ----------------------------------------------------------------
refused "nodes before a catalog" 'catalog' --actor alice nodes import "$REF/nodes.jsonl"
printf '{"services": [' >bad.json
refused "malformed catalog JSON" '^cutoff: bad\.json: .*line 1.*malformed JSON|^cutoff: bad\.json: .*JSON' \
    --actor alice catalog load bad.json
echo '{"services":[{"name":"s","actions":[{"name":"a","class":"read"},{"name":"a","class":"write"}]}],"regions":[],"plans":[]}' >dup.json
refused "duplicate action in the catalog" 'bad|dup\.json: services\[0\]\.actions\[1\]' --actor alice catalog load dup.json
echo '{"services":[{"name":"s","actions":[{"name":"a","class":"reading"}]}],"regions":[],"plans":[]}' >cls.json
refused "unknown action class" 'cls\.json: services\[0\]\.actions\[0\]\.class: .*"read" or "write"' \
    --actor alice catalog load cls.json
echo '{"services":[{"name":"s","actions":[{"name":"a","class":"read"}]}],"regions":[],"plans":[{"name":"p","services":["s.a.b"]}]}' >pat.json
refused "bad plan pattern" 'pat\.json: plans\[0\]\.services\[0\]: .*pattern' --actor alice catalog load pat.json
refused "catalog file missing" 'nope\.json: No such file' --actor alice catalog load nope.json
expect_fail 1 "catalog show before one is loaded" catalog show
expect_ok "the reference catalog loads" --actor alice catalog load "$REF/catalog.json"
catalog_before=$("$CUTOFF" catalog show)
refused "a failed load leaves the catalog" 'bad\.json' --actor alice catalog load bad.json
expect_eq "catalog unchanged after a failed load" "$catalog_before" "$("$CUTOFF" catalog show)"

# ---- node import --------------------------------------------------------------
t='{"id":"t1","kind":"tenant","parent":null}'
printf '%s\n{"id":"u1","kind":"unit","parent":"nope"}\n' "$t" >unknown-parent.jsonl
refused "unknown parent" '^cutoff: unknown-parent\.jsonl:2: parent "nope" of "u1" is not in the tree$' \
    --actor alice nodes import unknown-parent.jsonl
printf '%s\n{"id":"u1","kind":"unit","parent":"u2"}\n{"id":"u2","kind":"unit","parent":"u1"}\n' "$t" >cycle.jsonl
refused "cycle in the file" '^cutoff: cycle\.jsonl:[23]: .*cycle' --actor alice nodes import cycle.jsonl
printf '%s\n%s\n' "$t" "$t" >dup.jsonl
refused "duplicate id in one import" '^cutoff: dup\.jsonl:2: .*"t1"' --actor alice nodes import dup.jsonl
printf '%s\n{"id":"u1","kind":"unit","par' "$t" >truncated.jsonl
refused "truncated import file" '^cutoff: truncated\.jsonl:2: ' --actor alice nodes import truncated.jsonl
printf '%s\n{"id":"u1","kind":"unit","parent":"t1"\n' "$t" >malformed.jsonl
refused "malformed JSON line" '^cutoff: malformed\.jsonl:2: ' --actor alice nodes import malformed.jsonl
printf '{"id":"t 1","kind":"tenant","parent":null}\n' >illegal.jsonl
refused "illegal id" '^cutoff: illegal\.jsonl:1: .*"t 1"' --actor alice nodes import illegal.jsonl
printf '{"id":"%s","kind":"tenant","parent":null}\n' "$(printf 'a%.0s' {1..129})" >long.jsonl
refused "oversize id (129 bytes)" '^cutoff: long\.jsonl:1: .*129' --actor alice nodes import long.jsonl
printf '{"id":"%s","kind":"tenant","parent":null}\n' "$(printf 'a%.0s' {1..128})" >longest.jsonl
expect_ok "a 128-byte id is fine" --actor alice nodes import longest.jsonl
printf '{"id":"x","kind":"region","parent":null}\n' >kind.jsonl
refused "unknown kind" '^cutoff: kind\.jsonl:1: ' --actor alice nodes import kind.jsonl
printf '{"id":"t2","kind":"tenant","parent":null,"plan":"gold"}\n' >plan.jsonl
refused "unknown plan" '^cutoff: plan\.jsonl:1: .*"gold"' --actor alice nodes import plan.jsonl
printf '%s\n{"id":"s1","kind":"subscription","parent":"t1"}\n{"id":"s2","kind":"subscription","parent":"s1"}\n' "$t" >subparent.jsonl
refused "a subscription as parent" '^cutoff: subparent\.jsonl:3: .*subscription' --actor alice nodes import subparent.jsonl
printf '%s\n' "$t" >good.jsonl
for f in unknown-parent cycle dup truncated malformed subparent; do
    run_cutoff nodes show t1
    [ "$STATUS" -eq 1 ] || { not_ok "nothing of $f.jsonl was imported" "t1 exists"; continue; }
done
expect_fail 1 "nothing of the bad files was imported (t1 absent)" nodes show t1
expect_ok "the reference tree imports" --actor alice nodes import "$REF/nodes.jsonl"
printf '{"id":"imod","kind":"unit","parent":"unit-8200"}\n' >move-cycle.jsonl
refused "a move that makes a cycle" '^cutoff: move-cycle\.jsonl:1: .*cycle' --actor alice nodes import move-cycle.jsonl
run_cutoff nodes show imod --json
expect_match "imod is still a tenant" '"kind": "tenant"' "$OUT"
refused "import file missing" 'missing\.jsonl: No such file' --actor alice nodes import missing.jsonl
refused "import a directory" 'directory' --actor alice nodes import "$WORK"
refused "nodes show unknown" 'no node "ghost"' nodes show ghost

# ---- cases --------------------------------------------------------------------
expect_ok "case open" --actor alice case open --id CASE-7 --title "review" --scope unit-8200
refused "duplicate case id" 'CASE-7.*exists' --actor alice case open --id CASE-7 --title t --scope unit-8200
refused "case scope not in the tree" '"nope"' --actor alice case open --title t --scope unit-8200,nope
refused "illegal case id" '"bad id"' --actor alice case open --id "bad id" --title t --scope unit-8200
refused "evidence for an unknown case" 'CASE-99' --actor alice case evidence CASE-99 "$REF/action.json" --type application/json --note n
refused "evidence file missing" 'missing\.csv' --actor alice case evidence CASE-7 missing.csv --type text/csv --note n
refused "findings for an unknown case" 'CASE-99' --actor alice case findings CASE-99 --text t
refused "case show unknown" 'CASE-99' case show CASE-99

# ---- enforcement actions --------------------------------------------------------
# variant SED FILE: the reference action with one edit.
variant() { sed -e "$1" "$REF/action.json" >"$2"; }
printf '{"id": "EA-1", "scope": [' >bad-action.json
refused "malformed action JSON" '^cutoff: bad-action\.json: .*JSON' --actor alice action propose bad-action.json
variant 's/"storage\.\*"/"storage.**"/' a1.json
refused "bad deny pattern" '^cutoff: a1\.json: deny\[0\]: .*pattern' --actor alice action propose a1.json
variant 's/"security\.\*"/"security"/' a1b.json
refused "bad except pattern" '^cutoff: a1b\.json: except\[0\]: ' --actor alice action propose a1b.json
variant 's/"ai\.\*"/"video.*"/' a2.json
refused "pattern matching nothing in the catalog" '^cutoff: a2\.json: deny\[1\]: .*video' --actor alice action propose a2.json
variant 's/"+30d"/"2025-13-01T00:00:00Z"/' a3.json
refused "impossible phase time" '^cutoff: a3\.json: phases\[1\]\.at: ' --actor alice action propose a3.json
variant 's/"+30d"/"+30 days"/' a4.json
refused "bad relative offset" '^cutoff: a4\.json: phases\[1\]\.at: .*\+30d' --actor alice action propose a4.json
variant 's/"+0"/"2025-10-01T00:00:00Z"/; s/"+30d"/"2025-09-01T00:00:00Z"/' a5.json
refused "phases out of order" '^cutoff: a5\.json: phases\[1\]' --actor alice action propose a5.json
variant 's/"read-only"/"pause"/' a6.json
refused "unknown mode" '^cutoff: a6\.json: phases\[0\]\.mode: ' --actor alice action propose a6.json
variant 's/"status": 451/"status": 500/' a7.json
refused "status other than 403/451" '^cutoff: a7\.json: status: ' --actor alice action propose a7.json
variant 's/"unit-8200"/"ghost"/' a8.json
refused "scope node not in the tree" '^cutoff: a8\.json: scope\[0\]: .*"ghost"' --actor alice action propose a8.json
variant 's/"CASE-7"/"CASE-99"/' a9.json
refused "unknown case" '^cutoff: a9\.json: case: .*CASE-99' --actor alice action propose a9.json
variant 's/"EA-1"/"EA 1"/' a10.json
refused "illegal action id" '^cutoff: a10\.json: id: ' --actor alice action propose a10.json
variant "s/\"EA-1\"/\"$(printf 'E%.0s' {1..129})\"/" a11.json
refused "oversize action id" '^cutoff: a11\.json: id: ' --actor alice action propose a11.json
variant 's/"regions": \["\*"\]/"regions": ["eu netherlands"]/' a12.json
refused "bad region" '^cutoff: a12\.json: regions\[0\]' --actor alice action propose a12.json
expect_eq "no action was stored by the refused proposals" "(none)" "$("$CUTOFF" action list)"

expect_ok "a good proposal" --actor alice action propose "$REF/action.json"
refused "approving one's own action" '"alice" .*EA-1.*second person' --actor alice action approve EA-1
run_cutoff action show EA-1 --json
expect_match "the action is still a draft after the refusal" '"state": "draft"' "$OUT"
refused "approving an unknown action" 'EA-99' --actor bob action approve EA-99
refused "previewing an unknown action" 'EA-99' action preview EA-99
expect_ok "a second person approves" --actor bob action approve EA-1
refused "approving again" 'EA-1' --actor carol action approve EA-1
refused "lifting an unknown action" 'EA-99' --actor bob action lift EA-99
expect_ok "lift" --actor bob action lift EA-1 --reason "test"
refused "lifting twice" 'EA-1.*nothing to lift|EA-1.*lifted' --actor bob action lift EA-1
refused "previewing a lifted action" 'EA-1.*lifted' action preview EA-1

# A relative phase written before an absolute one that, once approved, comes
# earlier in time: the phase in force would depend on how the list is read,
# and an "off" written last would expire the action before it bites.
variant 's/"EA-1"/"EA-3"/; s/{"at": "+0", "mode": "read-only"}/{"at": "2030-01-01T00:00:00Z", "mode": "suspend"}/; s/{"at": "+30d", "mode": "suspend"}/{"at": "+0", "mode": "off"}/' a14.json
expect_ok "an action with phases out of time order once resolved is proposed" --actor alice action propose a14.json
refused "and its approval is refused, naming the phases" 'phases\[1\].*not after phases\[0\]' --actor bob action approve EA-3
run_cutoff action show EA-3 --json
expect_eq "it stays a draft" draft "$(printf '%s' "$OUT" | jq -r '.versions[-1].state // .state')"

# ---- closed case ----------------------------------------------------------------
expect_ok "case close" --actor alice case close CASE-7
refused "closing twice" 'CASE-7' --actor alice case close CASE-7
variant 's/"EA-1"/"EA-2"/' a13.json
refused "proposing under a closed case" 'CASE-7.*closed' --actor alice action propose a13.json
refused "evidence on a closed case" 'CASE-7.*closed' --actor alice case evidence CASE-7 "$REF/action.json" --type application/json --note n

# ---- the chain still verifies after all of that --------------------------------
expect_ok "audit verify after every refusal" audit verify
finish
