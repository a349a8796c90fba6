#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The reference case, end to end through the CLI, in a fresh temporary
# database: a provider finds that one unit of a government customer uses its
# storage and AI services for mass surveillance, makes that unit's storage
# read-only for a 30-day export window and stops its AI use, then suspends
# storage; the unit's security services and every other unit keep running.
# Two people take part: alice proposes, bob approves (alice cannot).
#
#   bash examples/reference-case/run.sh [path/to/cutoff]     (make run)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cutoff=${1:-build/cutoff}
[[ $cutoff == /* ]] || cutoff="$PWD/$cutoff"
if [ ! -x "$cutoff" ]; then
    echo "run.sh: no cutoff binary at $cutoff (build it with 'make')" >&2
    exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/cutoff-reference.XXXXXX")
trap 'rm -rf "$work"' EXIT
# REFERENCE_DB runs it on another database (an empty PostgreSQL one, say).
export CUTOFF_DB=${REFERENCE_DB:-$work/cutoff.db}
unset CUTOFF_ACTOR
cd "$here" # so that the commands shown name the files as they are here

bold=$(tput bold 2>/dev/null || true) plain=$(tput sgr0 2>/dev/null || true)
[ -t 1 ] || bold= plain=

step() { printf '\n%s== %s%s\n\n' "$bold" "$*" "$plain"; }
note() { printf '%s\n' "$@"; }
# quoted ARGS...: the arguments as a person would type them.
quoted() {
    local a out=
    for a in "$@"; do
        if [[ $a =~ ^[A-Za-z0-9._:/=,+@-]+$ ]]; then out+=" $a"
        elif [[ $a != *[\"\$\`\\]* ]]; then out+=" \"$a\""
        else out+=" $(printf '%q' "$a")"; fi
    done
    printf '%s' "${out# }"
}
# show ARGS...: prints the command as typed, then its output indented.
show() {
    printf '  $ cutoff %s\n' "$(quoted "$@")"
    "$cutoff" "$@" 2>&1 | sed 's/^/    /'
    printf '\n'
}
at() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

note "cutoff reference case: stop exactly what must stop, for exactly one unit,"
note "everywhere at once, and prove it."
note "database: $CUTOFF_DB"

step "1. A fresh database, the operator's signing key, the catalog and the customer tree"
show init
note "  Every change below signs the head of the audit log, and every notice to the"
note "  customer, with the operator's Ed25519 key (here, a key for this run only):"
show key create --key "$work/operator.key"
"$cutoff" key show --key "$work/operator.key" >"$work/operator.pub"
export CUTOFF_KEY_FILE="$work/operator.key"
show --actor alice catalog load catalog.json
show --actor alice nodes import nodes.jsonl
show nodes show unit-8200

step "2. alice opens a case and records business records (never content)"
show --actor alice case open --id CASE-7 --scope unit-8200 \
    --title "Unit 8200: mass surveillance of civilians' calls"
show --actor alice case evidence CASE-7 evidence/usage-summary.csv --type text/csv \
    --note "billing and telemetry summary, June-August 2025"
show --actor alice case evidence CASE-7 evidence/review-memo.txt --type text/plain \
    --note "internal review memo"
show --actor alice case findings CASE-7 \
    --text "Records support the reports: storage and AI used to archive and transcribe intercepted calls."

step "3. alice drafts the enforcement action and previews its blast radius"
note "  action.json: deny storage.* and ai.* for unit-8200, except security.*;"
note "  read-only from approval (+0), suspend after 30 days (+30d); HTTP 451 with a notice."
note ""
show --actor alice action propose action.json
show action preview EA-1

step "4. Four eyes: alice cannot approve her own action"
printf '  $ cutoff --actor alice action approve EA-1\n'
if refusal=$("$cutoff" --actor alice action approve EA-1 2>&1); then
    echo "run.sh: the proposer was allowed to approve her own action" >&2
    exit 1
fi
printf '    %s\n    (exit status 1; nothing changed)\n\n' "$refusal"

step "5. bob reviews the preview and approves"
approve_from=$(date -u +%s)
show --actor bob action approve EA-1
approve_to=$(date -u +%s)

note "  The approval issued the customer's notice, signed with the operator's key:"
note "  the customer (or a court) can check it without trusting this database."
note ""
show notice show EA-1
"$cutoff" notice show EA-1 --json >"$work/EA-1.notice.json"
printf '  $ cutoff notice show EA-1 --json > EA-1.notice.json\n\n'
show notice verify "$work/EA-1.notice.json" --pubkey "$work/operator.pub"

before=$(at $((approve_from - 3600)))
window=$(at $((approve_to + 86400)))
after=$(at $((approve_to + 31 * 86400)))

step "6. What every request gets: before approval, in the export window, after it"
note "  before = $before (an hour before approval)"
note "  window = $window (a day after approval: read-only, export still possible)"
note "  after  = $after (31 days after approval: suspended)"
note ""
requests=(
    "sub-8200-storage storage.read eu-netherlands"
    "sub-8200-storage storage.export eu-netherlands"
    "sub-8200-storage storage.write eu-netherlands"
    "sub-8200-archive-1 storage.delete eu-netherlands"
    "sub-8200-ai ai.transcribe eu-netherlands"
    "sub-8200-ai ai.infer -"
    "sub-8200-secops security.scan eu-netherlands"
    "sub-8200-secops security.alerts -"
    "sub-9900-maps storage.write eu-netherlands"
    "sub-logistics-erp storage.write eu-ireland"
    "sub-logistics-erp ai.transcribe eu-ireland"
    "sub-cyber-soc security.scan -"
    "sub-northwind-lab ai.transcribe us-east"
)
# One batch call decides all of them at the three times.
for when in "$before" "$window" "$after"; do
    for r in "${requests[@]}"; do
        read -r sub act region <<<"$r"
        printf '%s\t%s\t%s\t%s\n' "$sub" "$act" "$region" "$when"
    done
done >"$work/requests.tsv"
printf '  $ cutoff check --batch requests.tsv      (%d requests)\n\n' "$((${#requests[@]} * 3))"
mapfile -t answers < <("$cutoff" check --batch "$work/requests.tsv" | awk -F'\t' '
    { print ($1 == "allow") ? "allow" : $1 " " $2 " " $3 }')
n=${#requests[@]}
[ "${#answers[@]}" -eq $((n * 3)) ] || { echo "run.sh: batch check gave ${#answers[@]} answers" >&2; exit 1; }
fmt='    %-18s  %-16s  %-14s  %-8s  %-20s  %s\n'
printf "$fmt" SUBSCRIPTION ACTION REGION BEFORE WINDOW AFTER
for ((i = 0; i < n; i++)); do
    read -r sub act region <<<"${requests[$i]}"
    printf "$fmt" "$sub" "$act" "$region" "${answers[$i]}" "${answers[$((i + n))]}" \
        "${answers[$((i + 2 * n))]}"
done
note ""
note "  unit-8200 and the unit nested in it: storage reads and exports keep working in"
note "  the window, writes and AI stop; security keeps running. Other units, the"
note "  cyber-defence division and the other tenant are untouched."

step "7. One denial in full, as the customer's request sees it"
show check sub-8200-storage storage.write --region eu-netherlands --at "$window"
show check sub-8200-secops security.scan --at "$window" --explain

step "8. The record: every change, who made it, and a chain that verifies"
show case show CASE-7
show audit log
show audit verify
note "  Every change signed the head of the log, so an auditor checks it with the"
note "  public key alone, and publishes the newest head elsewhere (docs/audit.md):"
show audit verify --pubkey "$work/operator.pub"
show audit head
