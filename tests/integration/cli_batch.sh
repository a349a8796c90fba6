#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 'cutoff check --batch' and '--bench' on the reference case: the batch
# answers agree with one-at-a-time checks, every time and region form is
# read, unknown names are decided rather than rejected, a malformed line is
# an error naming it with nothing printed, and --bench prints exactly its
# one line with counts that match the plain batch.
source "$(dirname "$0")/lib.sh"
REF="$ROOT/examples/reference-case"
cd "$WORK" || exit 1

"$CUTOFF" init >/dev/null &&
    "$CUTOFF" --actor alice catalog load "$REF/catalog.json" >/dev/null &&
    "$CUTOFF" --actor alice nodes import "$REF/nodes.jsonl" >/dev/null 2>&1 &&
    "$CUTOFF" --actor alice case open --id CASE-7 --title t --scope unit-8200 >/dev/null &&
    "$CUTOFF" --actor alice action propose "$REF/action.json" >/dev/null &&
    "$CUTOFF" --actor bob action approve EA-1 >/dev/null
expect_eq "the reference case is set up" 0 "$?"

now=$(date -u +%s)
before=$((now - 3600))              # before approval: nothing bites
window=$((now + 86400))             # read-only
after=$((now + 31 * 86400))         # suspended
window_rfc=$(date -u -d "@$window" +%Y-%m-%dT%H:%M:%SZ)
# The same instant with a +02:00 offset and a fraction.
window_offset=$(date -u -d "@$((window + 7200))" +%Y-%m-%dT%H:%M:%S.250+02:00)

# ---- batch agrees with single checks ----------------------------------------
subs=(sub-8200-storage sub-8200-archive-2 sub-8200-ai sub-8200-secops sub-9900-maps sub-cyber-soc
      sub-northwind-records ghost-sub)
acts=(storage.read storage.write ai.transcribe security.scan compute.run storage.fly)
regions=(- us-east)
: >requests.tsv
for s in "${subs[@]}"; do
    for a in "${acts[@]}"; do
        for r in "${regions[@]}"; do
            for t in "$before" "$window" "$after"; do printf '%s\t%s\t%s\t%s\n' "$s" "$a" "$r" "$t"; done
        done
    done
done >>requests.tsv
n=$(wc -l <requests.tsv)
expect_ok "batch over $n requests" check --batch requests.tsv
printf '%s\n' "$OUT" >answers.tsv
expect_eq "one answer per request" "$n" "$(wc -l <answers.tsv)"
mismatches=0 first=
while IFS=$'\t' read -r s a r t; do
    single=$("$CUTOFF" check "$s" "$a" --region "$r" --at "$t" | head -1)
    printf '%s\n' "$single"
done <requests.tsv >singles.txt
paste -d'|' <(tr '\t' ' ' <answers.tsv | sed 's/^allow allow -$/allow/') singles.txt >pairs.txt
while IFS='|' read -r b c; do
    if [ "$b" != "$c" ]; then
        mismatches=$((mismatches + 1))
        [ -n "$first" ] || first="batch '$b' vs check '$c'"
    fi
done <pairs.txt
expect_eq "batch and single checks agree on all $n requests" 0 "$mismatches${first:+ ($first)}"

# Spot checks against the contract, not against the program's own output.
answer() { grep -n "" requests.tsv | grep -F "$(printf '%s\t%s\t%s\t%s' "$1" "$2" "$3" "$4")" \
    | head -1 | cut -d: -f1 | xargs -I{} sed -n '{}p' answers.tsv; }
expect_eq "before approval, writes are allowed" "$(printf 'allow\tallow\t-')" "$(answer sub-8200-storage storage.write us-east "$before")"
expect_eq "read stays allowed in the window" "$(printf 'allow\tallow\t-')" "$(answer sub-8200-storage storage.read - "$window")"
expect_eq "write is read_only in the window" "$(printf 'deny\tread_only\tEA-1')" "$(answer sub-8200-storage storage.write us-east "$window")"
expect_eq "nested unit suspended after" "$(printf 'deny\tsuspended\tEA-1')" "$(answer sub-8200-archive-2 storage.read us-east "$after")"
expect_eq "security excepted" "$(printf 'allow\tallow\t-')" "$(answer sub-8200-secops security.scan - "$after")"
expect_eq "plan security-only: storage not entitled" "$(printf 'deny\tnot_entitled\t-')" "$(answer sub-cyber-soc storage.read - "$before")"
expect_eq "plan storage-basic: ai not entitled" "$(printf 'deny\tnot_entitled\t-')" "$(answer sub-northwind-records ai.transcribe - "$before")"
expect_eq "unknown subscription decided" "$(printf 'deny\tunknown_subscription\t-')" "$(answer ghost-sub storage.read - "$before")"
expect_eq "unknown action decided" "$(printf 'deny\tunknown_action\t-')" "$(answer sub-9900-maps storage.fly - "$before")"

# ---- input forms ---------------------------------------------------------------
printf 'sub-8200-ai\tai.infer\t-\t%s\r\nsub-8200-ai\tai.infer\teu-mars\t%s\nsub-8200-ai\tai.infer\t-\t%s' \
    "$window_rfc" "$window_offset" "$now" >forms.tsv
expect_ok "CRLF, offsets with fractions, unknown region, no final newline" check --batch forms.tsv
expect_eq "all three decided" "$(printf 'deny\tread_only\tEA-1\ndeny\tread_only\tEA-1\ndeny\tread_only\tEA-1')" "$OUT"
OUT=$(printf 'sub-9900-maps\tstorage.write\t-\t%s\n' "$now" | "$CUTOFF" check --batch -); STATUS=$?
expect_eq "standard input" "$(printf 'allow\tallow\t-')" "$OUT"
: >empty.tsv
expect_ok "an empty file" check --batch empty.tsv
expect_eq "prints nothing" "" "$OUT"

# ---- malformed lines: the line is named and nothing is printed -------------------
# bad NAME LINE-NO PATTERN CONTENT: a file of good lines with CONTENT at LINE-NO.
good=$(printf 'sub-8200-ai\tai.infer\t-\t%s' "$now")
bad() {
    local name=$1 at=$2 pattern=$3 content=$4 i
    for ((i = 1; i <= 4; i++)); do
        if [ "$i" -eq "$at" ]; then printf '%s\n' "$content"; else printf '%s\n' "$good"; fi
    done >"$name.tsv"
    run_cutoff check --batch "$name.tsv"
    local lines
    lines=$(printf '%s\n' "$ERR" | grep -c .)
    if [ "$STATUS" -eq 1 ] && [ -z "$OUT" ] && [ "$lines" -eq 1 ] &&
        printf '%s' "$ERR" | grep -qE -- "^cutoff: $name\.tsv:$at: $pattern"; then
        ok "$name: line $at named, nothing printed"
    else
        not_ok "$name: line $at named, nothing printed" "exit $STATUS, stdout: $OUT" "stderr: $ERR"
    fi
}
bad three-fields 3 'expected 4' "$(printf 'sub-8200-ai\tai.infer\t-')"
bad five-fields 2 'the fifth field "extra" is not "as-of"' "$good$(printf '\textra')"
bad six-fields 2 'expected 4' "$good$(printf '\tas-of\textra')"
bad empty-line 2 'empty line' ""
bad bad-time 4 'time "noon"' "$(printf 'sub-8200-ai\tai.infer\t-\tnoon')"
bad bad-date 1 'time .*does not exist' "$(printf 'sub-8200-ai\tai.infer\t-\t2025-02-30T00:00:00Z')"
bad bad-sub 2 'subscription "sub 1"' "$(printf 'sub 1\tai.infer\t-\t0')"
bad long-sub 2 'subscription' "$(printf '%s\tai.infer\t-\t0' "$(printf 's%.0s' {1..129})")"
bad bad-action 3 'action "infer"' "$(printf 'sub-8200-ai\tinfer\t-\t0')"
bad bad-region 1 'region "eu west"' "$(printf 'sub-8200-ai\tai.infer\teu west\t0')"
bad empty-region 1 'region ""' "$(printf 'sub-8200-ai\tai.infer\t\t0')"
printf '%s\n%s\n' "$good" "$good" >nul.tsv
printf 'sub-8200-ai\tai\0infer\t-\t0\n' >>nul.tsv
run_cutoff check --batch nul.tsv
expect_eq "a NUL byte: exit 1" 1 "$STATUS"
expect_match "a NUL byte: line 3 named" '^cutoff: nul\.tsv:3: ' "$ERR"
expect_eq "a NUL byte: nothing printed" "" "$OUT"
expect_fail 1 "a missing file" check --batch missing.tsv
expect_match "names the file" 'missing\.tsv' "$ERR"
expect_fail 1 "a directory" check --batch "$WORK"

# ---- bench ------------------------------------------------------------------------
expect_ok "--bench" check --batch requests.tsv --bench
expect_match "--bench prints exactly its one line" \
    '^decisions_per_s=[0-9]+ allows=[0-9]+ denies=[0-9]+ p50_ns=[0-9]+ p99_ns=[0-9]+$' "$OUT"
allows=$(sed -n 's/.* allows=\([0-9]*\) .*/\1/p' <<<"$OUT")
denies=$(sed -n 's/.* denies=\([0-9]*\) .*/\1/p' <<<"$OUT")
expect_eq "bench allows = allow lines of the batch" "$(grep -c '^allow' answers.tsv)" "$allows"
expect_eq "bench denies = deny lines of the batch" "$(grep -c '^deny' answers.tsv)" "$denies"
rate=$(sed -n 's/^decisions_per_s=\([0-9]*\) .*/\1/p' <<<"$OUT")
p50=$(sed -n 's/.* p50_ns=\([0-9]*\) .*/\1/p' <<<"$OUT")
p99=$(sed -n 's/.* p99_ns=\([0-9]*\)$/\1/p' <<<"$OUT")
[ "$rate" -gt 0 ] && ok "bench measured a rate" || not_ok "bench measured a rate" "$OUT"
[ "$p50" -le "$p99" ] && ok "p50 <= p99" || not_ok "p50 <= p99" "$OUT"
bad bench-bad-line 2 'expected 4' "x"
run_cutoff check --batch bench-bad-line.tsv --bench
expect_eq "--bench with a bad line: exit 1 and no output" "1:" "$STATUS:$OUT"
expect_fail 1 "--bench on an empty file" check --batch empty.tsv --bench

finish
