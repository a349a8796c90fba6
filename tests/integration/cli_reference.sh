#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The reference case as 'make run' walks it (examples/reference-case/run.sh):
# it must succeed and show the decisions docs/design.md asks for, for
# unit-8200 and the unit nested in it (storage read-only in the export
# window then suspended, AI stopped, security running) and for units and a
# tenant the action does not touch, plus the four-eyes refusal, the preview
# and an audit log that verifies.
source "$(dirname "$0")/lib.sh"

out=$(bash "$ROOT/examples/reference-case/run.sh" "$CUTOFF" 2>&1); status=$?
expect_eq "run.sh exits 0" 0 "$status"
[ "$status" -eq 0 ] || printf '# %s\n' "${out//$'\n'/$'\n'# }"

# row SUB ACTION REGION BEFORE WINDOW AFTER: the decision table has this row.
row() {
    local re="^ +$1 +$2 +$3 +$4 +$5 +$6 *\$"
    if grep -qE -- "$re" <<<"$out"; then ok "$1 $2: $4 / $5 / $6"
    else not_ok "$1 $2: $4 / $5 / $6" "no line matching /$re/" "$(grep -E -- "^ +$1 +$2 " <<<"$out")"; fi
}
ro='deny read_only EA-1' su='deny suspended EA-1'
# unit-8200: reads and exports allowed in the window, then suspended.
row sub-8200-storage storage.read eu-netherlands allow allow "$su"
row sub-8200-storage storage.export eu-netherlands allow allow "$su"
# writes and AI stop at approval.
row sub-8200-storage storage.write eu-netherlands allow "$ro" "$su"
row sub-8200-archive-1 storage.delete eu-netherlands allow "$ro" "$su"
row sub-8200-ai ai.transcribe eu-netherlands allow "$ro" "$su"
row sub-8200-ai ai.infer - allow "$ro" "$su"
# security is excepted.
row sub-8200-secops security.scan eu-netherlands allow allow allow
row sub-8200-secops security.alerts - allow allow allow
# untouched: a sibling unit, another unit of the ministry, the other tenant.
row sub-9900-maps storage.write eu-netherlands allow allow allow
row sub-logistics-erp storage.write eu-ireland allow allow allow
row sub-logistics-erp ai.transcribe eu-ireland allow allow allow
row sub-cyber-soc security.scan - allow allow allow
row sub-northwind-lab ai.transcribe us-east allow allow allow

expect_match "the proposer's approval is refused" \
    'cutoff --actor alice action approve EA-1' "$out"
expect_match "with the four-eyes reason" '^    cutoff: .*alice.*EA-1.*(second person|cannot approve)' "$out"
expect_match "the second person approves" 'EA-1 version 1 approved by bob' "$out"
expect_match "the preview counts the 5 subscriptions in scope" \
    'Subscriptions in scope: 5; whose decisions change: 5' "$out"
expect_match "the preview says no excepted decision changes" \
    'No decision on an excepted action changes' "$out"
expect_match "the preview marks security.scan excepted with 0 changes" \
    '^ +security\.scan +write +excepted +0 +0 +0$' "$out"
expect_match "the preview: storage.read changes only in the suspend phase" \
    '^ +storage\.read +read +targeted +5 +0 +5$' "$out"
expect_match "the denial shows the notice" 'notice +Storage and AI services for this unit' "$out"
expect_match "the denial shows the phase window" \
    'phase +read-only since [0-9T:-]+Z until [0-9T:-]+Z' "$out"
expect_match "evidence is recorded by hash" \
    '^    [0-9a-f]{64}$' "$out"
expect_match "the audit log verifies" '^    audit log verifies: [0-9]+ records, head [0-9a-f]{64}$' "$out"
expect_match "the notice of the approval verifies" \
    '^    notice EA-1 version 1 verifies: signed by ed25519:' "$out"
expect_match "the signed audit heads verify with the public key" \
    '^    audit log verifies: [0-9]+ records, [0-9]+ signed heads by ed25519:' "$out"
expect_match "the last step prints the head to publish" '\$ cutoff audit head$' \
    "$(tail -12 <<<"$out")"
finish
