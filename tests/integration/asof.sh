#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Decisions as of a past moment against a reference rebuilt from the audit
# log (build/tools/asof_reference): approve, a second action approved and
# lifted, a new version of the first approved (superseding the old one), a
# catalog reload; one second apart (the CLI uses the wall clock). Then every
# second of that history is asked about with --as-of (so every phase
# boundary exactly and one second before): by 'check --batch' with the
# as-of field, locally and through cutoffd's admin API (--server), and by
# single 'check --as-of --json', whose deciding action and version must be
# the reference's and whose answer must say it used today's tree.
source "$(dirname "$0")/lib.sh"

CUTOFFD="$ROOT/$CUTOFF_BUILD/cutoffd"
TOOL="$ROOT/$CUTOFF_BUILD/tools/asof_reference"
REF="$ROOT/examples/reference-case"
if [ ! -x "$TOOL" ] || [ ! -x "$CUTOFFD" ]; then
    not_ok "asof_reference and cutoffd are built" "missing $TOOL or $CUTOFFD"
    finish
    exit 1
fi
cd "$WORK" || exit 1
unset CUTOFF_ACTOR
CUTOFFD_PID=
cleanup() {
    [ -n "$CUTOFFD_PID" ] && kill "$CUTOFFD_PID" 2>/dev/null && wait "$CUTOFFD_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

action() { # action ID SCOPE DENY PHASES
    printf '{"id":"%s","case":"CASE-7","scope":["%s"],"deny":[%s],"phases":[%s],"status":403,"notice":{"summary":"s"}}\n' \
        "$1" "$2" "$3" "$4"
}
action EA-1 unit-8200 '"storage.*"' '{"at":"+0","mode":"read-only"},{"at":"+3s","mode":"suspend"}' >ea1-v1.json
action EA-2 unit-9900 '"storage.write"' '{"at":"+0","mode":"suspend"}' >ea2.json
action EA-1 unit-8200 '"ai.*"' '{"at":"+0","mode":"suspend"},{"at":"+2s","mode":"off"}' >ea1-v2.json
# The second catalog adds an action: before the reload it is unknown.
python3 - "$REF/catalog.json" >catalog-2.json <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
for s in c["services"]:
    if s["name"] == "storage":
        s["actions"].append({"name": "purge", "class": "write"})
print(json.dumps(c))
EOF

run() { "$CUTOFF" "$@" >/dev/null 2>>steps.err || echo "failed: $*" >>steps.err; }
run init
run --actor alice catalog load "$REF/catalog.json"
first=$(date +%s)
run --actor alice nodes import "$REF/nodes.jsonl"
run --actor alice case open --id CASE-7 --scope unit-8200,unit-9900 --title disputes
run --actor alice action propose ea1-v1.json
sleep 1; run --actor bob action approve EA-1
sleep 1; run --actor alice action propose ea2.json
sleep 1; run --actor bob action approve EA-2
sleep 1; run --actor carol action lift EA-2 --reason "wrong unit"
sleep 1; run --actor alice action propose ea1-v2.json
sleep 1; run --actor bob action approve EA-1
sleep 1; run --actor alice catalog load catalog-2.json
sleep 1
last=$(date +%s)
expect_eq "the history is made" "" "$(cat steps.err 2>/dev/null)"

# Every second of it, for requests each step changes.
pairs="sub-8200-storage storage.write
sub-8200-storage storage.read
sub-8200-ai ai.transcribe
sub-9900-maps storage.write
sub-8200-storage storage.purge
sub-logistics-erp storage.write"
: >requests.tsv
: >asof.tsv
for ((t = first; t <= last; t++)); do
    while read -r sub act; do
        printf '%s\t%s\t-\t%s\n' "$sub" "$act" "$t" >>requests.tsv
        printf '%s\t%s\t-\t%s\tas-of\n' "$sub" "$act" "$t" >>asof.tsv
    done <<<"$pairs"
done
expect_ok "audit log --json" audit log --json
printf '%s\n' "$OUT" >audit.json
"$TOOL" audit.json "$REF/nodes.jsonl" requests.tsv "$REF/catalog.json" catalog-2.json >expected.tsv 2>tool.err
expect_eq "the reference replays the audit log" "0 " "$? $(cat tool.err)"
cut -f1-3 expected.tsv >expected3.tsv
expect_match "the reference sees each kind of answer" 'read_only.*' "$(sort -u expected3.tsv | tr '\n' ' ')"
expect_match "and the purge action only after the reload" 'unknown_action' "$(cat expected3.tsv)"

expect_ok "check --batch with as-of lines" check --batch asof.tsv
printf '%s\n' "$OUT" >got.tsv
if diff -u expected3.tsv got.tsv >diff.txt; then
    ok "$(wc -l <asof.tsv) as-of decisions agree with the reference"
else
    mapfile -t d < <(head -20 diff.txt)
    not_ok "as-of decisions agree with the reference" "${d[@]}"
fi
expect_ok "the same lines without as-of" check --batch requests.tsv
if [ "$OUT" != "$(cat got.tsv)" ]; then ok "differ: --at is today's actions at a time"
else not_ok "without as-of the answers are today's actions'"; fi

# Single checks: the deciding action and version, and what the answer stands on.
bad=()
for ((t = first; t <= last; t++)); do
    run_cutoff check sub-8200-storage storage.write --as-of "$t" --json
    got=$(printf '%s' "$OUT" | json '"%s\t%s\t%s\t%s\t%s" % (d["decision"], d["reason"], d["enforcement_action"] or "-", d.get("version") or "-", d["tree"])')
    want=$(grep -n . requests.tsv | grep -P "^\d+:sub-8200-storage\tstorage.write\t-\t$t\$" | cut -d: -f1)
    want="$(sed -n "${want}p" expected.tsv)	current"
    [ "$got" == "$want" ] || bad+=("at $t: wanted [$want] got [$got]")
    printf '%s\n' "$OUT" >"local-$t.json"
done
if [ ${#bad[@]} -eq 0 ]; then ok "check --as-of --json names the action and version that decided, and the current tree"
else not_ok "check --as-of --json agrees with the reference" "${bad[@]}"; fi
expect_ok "check --as-of in words" check sub-8200-storage storage.write --as-of "$((first + 1))"
expect_match "says what it stands on" "as of .*today's tree" "$OUT"
expect_fail 2 "--as-of with --at is a usage error" check sub-8200-storage storage.write --as-of "$first" --at "$first"
expect_fail 1 "as of a time before any catalog" check sub-8200-storage storage.write --as-of 86400
expect_match "says no catalog had been loaded" 'no catalog had been loaded' "$ERR"
printf 'sub-8200-storage\tstorage.write\t-\t1\tas-off\n' >bad.tsv
expect_fail 1 "a fifth field other than as-of" check --batch bad.tsv
expect_match "names the line" 'bad.tsv:1: ' "$ERR"

# Through cutoffd's admin API.
"$CUTOFF" token create --principal root --roles admin --tokens-file tokens >root.tok 2>/dev/null
chmod 600 root.tok
"$CUTOFFD" --db "$CUTOFF_DB" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --port-file ports --tokens tokens --log cutoffd.log 2>cutoffd.err &
CUTOFFD_PID=$!
for _ in $(seq 100); do [ -s ports ] && break; sleep 0.1; done
read -r DEC ADM <ports 2>/dev/null
if [ -z "${ADM:-}" ]; then
    not_ok "cutoffd writes its ports" "$(cat cutoffd.err)"
    finish
    exit 1
fi
SRV=(--server "http://127.0.0.1:$ADM" --token-file root.tok)
expect_ok "check --batch --server with as-of lines" "${SRV[@]}" check --batch asof.tsv
expect_eq "the server's as-of decisions are the local ones" "$(cat got.tsv)" "$OUT"
bad=()
for t in "$first" $((first + 2)) $((first + 4)) $((first + 6)) "$last"; do
    run_cutoff "${SRV[@]}" check sub-8200-storage storage.write --as-of "$t" --json
    # cutoffd adds its notice base to the notice as "url"; a local database has none.
    a=$(printf '%s' "$OUT" | python3 -c "import json,sys; d=json.load(sys.stdin); d.get('notice',{}).pop('url',None); print(json.dumps(d, sort_keys=True))")
    b=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d.get('notice',{}).pop('url',None); print(json.dumps(d, sort_keys=True))" "local-$t.json")
    [ "$a" == "$b" ] || bad+=("at $t: server $a" "local $b")
done
if [ ${#bad[@]} -eq 0 ]; then ok "check --as-of --json through the server is the local answer"
else not_ok "check --as-of --json through the server is the local answer" "${bad[@]}"; fi
got=$(curl -s -X POST "http://127.0.0.1:$DEC/v1/check" \
    -d "{\"subscription\":\"sub-8200-storage\",\"action\":\"storage.write\",\"as_of\":$first}")
expect_match "the decision listener leaves as_of to the admin listener" 'admin listener' "$got"
got=$(curl -s -H "Authorization: Bearer $(cat root.tok)" \
    "http://127.0.0.1:$ADM/v1/explain?subscription=sub-8200-storage&action=storage.write&as_of=$first&at=$first")
expect_match "?as_of with ?at is refused" 'not both' "$got"
finish
