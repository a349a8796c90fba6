#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The operator workflow through the CLI beyond the reference walk: preview
# paging and the assumed approval time, a revision that supersedes the
# active version (and the preview's warning when a revision changes
# decisions on excepted actions), lifting, moves in the tree, overlapping
# actions and the explanation of who decides, and an audit log that stops
# verifying when a record is edited behind cutoff's back.
source "$(dirname "$0")/lib.sh"
REF="$ROOT/examples/reference-case"
cd "$WORK" || exit 1

"$CUTOFF" init >/dev/null &&
    "$CUTOFF" --actor alice catalog load "$REF/catalog.json" >/dev/null &&
    "$CUTOFF" --actor alice nodes import "$REF/nodes.jsonl" >/dev/null 2>&1 &&
    "$CUTOFF" --actor alice case open --id CASE-7 --title t --scope unit-8200 >/dev/null
expect_eq "set up" 0 "$?"
first_word() { head -1 <<<"$1"; }

# ---- preview: paging and --at ----------------------------------------------------
expect_ok "propose" --actor alice action propose "$REF/action.json"
expect_eq "propose prints the id" EA-1 "$OUT"
expect_ok "preview --limit 2" action preview EA-1 --limit 2
expect_match "page 1-2 of 5" 'Changed subscriptions 1-2 of 5' "$OUT"
expect_match "says how to see more" '\.\.\. 3 more \(--offset 2\)' "$OUT"
expect_ok "preview --offset 4 --json" action preview EA-1 --offset 4 --limit 2 --json
n=$(printf '%s' "$OUT" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(len(j["changes"]["subscriptions"]), j["changes"]["total"])')
expect_eq "offset 4: the last one of 5" "1 5" "$n"
expect_ok "preview past the end" action preview EA-1 --offset 10
expect_match "says none from there" 'none from offset 10' "$OUT"
expect_ok "preview --at" action preview EA-1 --at 2030-01-01T00:00:00Z
expect_match "relative phases start at the assumed approval" '2030-01-01T00:00:00Z \(\+0\) +read-only' "$OUT"
expect_match "and +30d after it" '2030-01-31T00:00:00Z \(\+30d\) +suspend' "$OUT"

# ---- approval, revision, supersession --------------------------------------------
expect_ok "approve" --actor bob action approve EA-1
expect_match "approve prints the version and approver" '^EA-1 version 1 approved by bob; active since ' "$OUT"
run_cutoff check sub-8200-secops security.scan
expect_eq "security excepted by v1" allow "$OUT"
# v2 denies security too, without the exception.
sed -e 's/"except": \["security\.\*"\]/"except": []/' \
    -e 's/"deny": \["storage\.\*", "ai\.\*"\]/"deny": ["storage.*", "ai.*", "security.*"]/' \
    "$REF/action.json" >v2.json
grep -q '"security.\*"\]' v2.json && ok "v2 written" || not_ok "v2 written" "$(cat v2.json)"
expect_ok "propose a revision" --actor alice action propose v2.json
expect_eq "a revision prints its version" "EA-1 version 2" "$OUT"
run_cutoff check sub-8200-secops security.scan
expect_eq "the active v1 keeps biting while v2 is a draft" allow "$OUT"
expect_ok "preview of the draft revision" action preview EA-1
expect_match "v2 previewed against v1" 'Preview of EA-1 version 2 \(draft' "$OUT"
expect_match "security.scan changes for 5 subscriptions" '^ +security\.scan +write +targeted +5 ' "$OUT"
expect_match "storage.write does not change (v1 already denies it)" '^ +storage\.write +write +targeted +0 ' "$OUT"
expect_ok "approve v2" --actor carol action approve EA-1
run_cutoff check sub-8200-secops security.scan
expect_eq "v2 now decides: security read-only" "deny read_only EA-1" "$(first_word "$OUT")"
run_cutoff action show EA-1 --json
states=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(" ".join(v["state"] for v in json.load(sys.stdin)["versions"]))')
expect_eq "v1 superseded, v2 active" "superseded active" "$states"
# v3 puts the exception back: decisions on an excepted action change, and
# the preview must say so rather than claim they do not.
expect_ok "propose v3" --actor alice action propose "$REF/action.json"
expect_ok "preview v3" action preview EA-1
expect_match "warns that excepted decisions change" '^WARNING: [0-9]+ decisions on excepted actions change' "$OUT"
run_cutoff action preview EA-1 --json
expect_match "json: excepted_unchanged is false" '"excepted_unchanged": false' "$OUT"
expect_ok "lift takes the active version first, not the draft" --actor bob action lift EA-1 --reason "review"
expect_match "lift names the active version" '^EA-1 version 2 lifted by bob: review$' "$OUT"
run_cutoff check sub-8200-storage storage.write
expect_eq "after the lift, writes are allowed at once" allow "$OUT"
expect_ok "the draft v3 is withdrawn next" --actor bob action lift EA-1
expect_match "withdrawn" '^EA-1 version 3 withdrawn by bob$' "$OUT"
expect_ok "action list" action list
expect_match "list shows the lifted action" '^EA-1 +3 +lifted ' "$OUT"

# ---- an active action seen by preview: compared with the state without it ---------
sed 's/"EA-1"/"EA-5"/' "$REF/action.json" >ea5.json
expect_ok "propose EA-5" --actor alice action propose ea5.json
expect_ok "approve EA-5" --actor bob action approve EA-5
expect_ok "preview of an active action" action preview EA-5
expect_match "says it is compared without itself" 'compared with the state without it' "$OUT"
expect_match "and shows its effect" 'whose decisions change: 5' "$OUT"

# ---- overlapping actions: suspended beats read_only, explain marks the decider -----
cat >ea0.json <<EOF
{"id": "EA-0", "case": "CASE-7", "scope": ["unit-8200-archive"], "deny": ["storage.write"],
 "phases": [{"at": "+0", "mode": "suspend"}], "status": 403,
 "notice": {"summary": "archive writes suspended"}}
EOF
expect_ok "propose EA-0 (archive writes suspended)" --actor alice action propose ea0.json
expect_ok "approve EA-0" --actor bob action approve EA-0
run_cutoff check sub-8200-archive-1 storage.write
expect_eq "suspend (EA-0) beats read-only (EA-5)" "deny suspended EA-0" "$(first_word "$OUT")"
run_cutoff check sub-8200-archive-1 storage.delete
expect_eq "EA-0 does not cover delete: EA-5 decides" "deny read_only EA-5" "$(first_word "$OUT")"
expect_ok "explain" check sub-8200-archive-1 storage.write --explain
expect_match "explain marks EA-0 as deciding" '^ +=> +EA-0 +unit-8200-archive ' "$OUT"
expect_match "and lists EA-5 too" '^ +EA-5 +unit-8200 +storage\.\* ' "$OUT"
expect_match "and the path to the tenant" 'path +sub-8200-archive-1 < unit-8200-archive < unit-8200 < intel-directorate < imod' "$OUT"
run_cutoff check sub-8200-archive-1 storage.write --explain --json
deciders=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(",".join(a["enforcement_action"] for a in json.load(sys.stdin)["explanation"]["actions"] if a["decides"]))')
expect_eq "json: exactly EA-0 decides" EA-0 "$deciders"
run_cutoff check sub-8200-archive-1 storage.write --region us-east --at 2000-01-01T00:00:00Z
expect_eq "before approval nothing bites" allow "$OUT"

run_cutoff check sub-cyber-soc storage.read
expect_eq "a plan denial names the plan and where it is set" \
    "$(printf 'deny not_entitled -\n  plan     security-only (set on cyber-defence) does not cover storage.read')" "$OUT"

expect_ok "explain an unknown subscription" check ghost storage.read --explain
expect_match "fails closed, says why" 'not in the tree: fail closed' "$OUT"
expect_ok "explain an unknown action" check sub-8200-ai storage.fly --explain
expect_match "fails closed, says why" 'not in the catalog: fail closed' "$OUT"

# ---- moving a node changes decisions ---------------------------------------------
printf '{"id":"sub-8200-ai","kind":"subscription","parent":"unit-logistics","name":"moved"}\n' >move.jsonl
expect_ok "move a subscription out of unit-8200" --actor alice nodes import move.jsonl
expect_match "counted as an update" '1 lines, 0 new, 1 updated, 0 unchanged' "$OUT"
run_cutoff check sub-8200-ai ai.infer
expect_eq "the moved subscription is no longer covered" allow "$OUT"
run_cutoff nodes show sub-8200-ai --json
expect_match "its parent is the new one" '"parent": "unit-logistics"' "$OUT"

# ---- evidence with and without content, case listing -----------------------------
expect_ok "evidence" --actor alice case evidence CASE-7 "$REF/evidence/usage-summary.csv" --type text/csv --note usage
expect_eq "evidence prints the file's SHA-256" "$(sha256sum "$REF/evidence/usage-summary.csv" | cut -d' ' -f1)" "$OUT"
expect_ok "evidence --keep-content" --actor alice case evidence CASE-7 "$REF/evidence/review-memo.txt" --type text/plain --note memo --keep-content
run_cutoff case show CASE-7 --json
kept=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(" ".join(str(e["content_kept"]).lower() for e in json.load(sys.stdin)["evidence"]))')
expect_eq "content kept only when asked" "false true" "$kept"
printf 'line one\nline two\n' >findings.txt
expect_ok "findings from a file" --actor alice case findings CASE-7 --file findings.txt
run_cutoff case show CASE-7 --json
expect_match "findings stored" '"findings": "line one\\nline two\\n"' "$OUT"
expect_ok "case list" case list
expect_match "list shows the case" '^CASE-7 +open ' "$OUT"

# ---- the audit log detects an edit made behind cutoff's back -------------------------
expect_ok "audit verify" audit verify
expect_match "verifies" '^audit log verifies: [0-9]+ records, head [0-9a-f]{64}$' "$OUT"
expect_ok "audit log --after 2 --limit 3" audit log --after 2 --limit 3
expect_eq "three records after seq 2" "3 4 5" "$(awk 'NR > 1 { printf "%s%s", sep, $1; sep = " " }' <<<"$OUT")"
if command -v sqlite3 >/dev/null; then
    sqlite3 "$CUTOFF_DB" "DROP TRIGGER IF EXISTS audit_no_update; UPDATE audit SET actor = 'mallory' WHERE seq = 4;" 2>"$WORK/sql.err"
    if [ -s "$WORK/sql.err" ]; then
        not_ok "tampering with the audit table (test setup)" "$(cat "$WORK/sql.err")"
    else
        expect_fail 1 "audit verify after an edit" audit verify
        expect_match "names the first bad record" 'record 4' "$ERR"
        expect_eq "one line" 1 "$(printf '%s\n' "$ERR" | grep -c .)"
        run_cutoff audit verify --json
        expect_match "json: first_bad 4" '"first_bad": 4' "$OUT"
    fi
fi
finish
