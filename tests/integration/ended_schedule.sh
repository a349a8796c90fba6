#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# An ended schedule still decides its past: an approved action whose last
# phase "off" has begun is marked expired, and a request at a time of its
# "suspend" phase is denied whenever it is asked: before the expiry and
# after it, by 'check --at', by 'check --batch' with past lines, by
# cutoffd's decision listener and through the admin API (--server).
# Lifting the expired action ends it at every time.
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

now=$(date +%s)
ro=$((now - 7200)) suspend=$((now - 3600)) off=$((now - 600))
mid=$((now - 1800))
cat >ended.json <<EOF
{"id": "EA-1", "case": "CASE-7", "scope": ["unit-8200"], "deny": ["storage.*"],
 "phases": [{"at": $ro, "mode": "read-only"}, {"at": $suspend, "mode": "suspend"},
            {"at": $off, "mode": "off"}],
 "status": 403, "notice": {"summary": "stopped"}}
EOF
"$CUTOFF" init >/dev/null &&
    "$CUTOFF" --actor alice catalog load "$REF/catalog.json" >/dev/null &&
    "$CUTOFF" --actor alice nodes import "$REF/nodes.jsonl" >/dev/null &&
    "$CUTOFF" --actor alice case open --id CASE-7 --scope unit-8200 --title t >/dev/null &&
    "$CUTOFF" --actor alice action propose ended.json >/dev/null
expect_eq "the case is set up" 0 "$?"
expect_ok "bob approves an action whose schedule has ended" --actor bob action approve EA-1

# Asked now: the action no longer bites.
expect_ok "check now" check sub-8200-storage storage.read
expect_eq "now it allows" "allow" "$OUT"

# Asked about its past: as it was.
expect_ok "check --at in the suspend phase" check sub-8200-storage storage.read --at "$mid"
expect_match "the suspend phase still decides" '^deny suspended EA-1' "$OUT"
expect_ok "one second before off" check sub-8200-storage storage.read --at $((off - 1))
expect_match "is still suspended" '^deny suspended EA-1' "$OUT"
expect_ok "at the off boundary" check sub-8200-storage storage.read --at "$off"
expect_eq "allows" "allow" "$OUT"
expect_ok "check --at in the read-only phase" check sub-8200-storage storage.write --at "$ro"
expect_match "read-only decides" '^deny read_only EA-1' "$OUT"
printf 'sub-8200-storage\tstorage.read\t-\t%s\nsub-8200-storage\tstorage.read\t-\t%s\n' \
    "$now" "$mid" >past.tsv
expect_ok "check --batch with a past line" check --batch past.tsv
expect_eq "the past line is denied, the present one allowed" \
    "$(printf 'allow\tallow\t-\ndeny\tsuspended\tEA-1')" "$OUT"

# cutoffd: its live snapshot leaves the ended action out; past times still see it.
if [ -x "$CUTOFFD" ]; then
    "$CUTOFF" token create --principal root --roles admin --tokens-file tokens >root.tok 2>/dev/null
    chmod 600 root.tok
    "$CUTOFFD" --db "$CUTOFF_DB" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
        --port-file ports --tokens tokens --log cutoffd.log 2>cutoffd.err &
    CUTOFFD_PID=$!
    for _ in $(seq 100); do [ -s ports ] && break; sleep 0.1; done
    read -r DEC ADM <ports 2>/dev/null
    if [ -n "${ADM:-}" ]; then
        # cutoffd's snapshot at start marks the action expired.
        expect_ok "action list" action list --json
        expect_match "the action is shown expired" '"state": *"expired"' "$OUT"
        expect_ok "check --at in the suspend phase, after the expiry" \
            check sub-8200-storage storage.read --at "$mid"
        expect_match "still denies" '^deny suspended EA-1' "$OUT"
        got=$(curl -s -X POST "http://127.0.0.1:$DEC/v1/check" \
            -d "{\"subscription\":\"sub-8200-storage\",\"action\":\"storage.read\",\"at\":$mid}")
        expect_match "the decision listener denies a past time of the suspend phase" \
            '"reason": *"suspended"' "$got"
        got=$(curl -s -X POST "http://127.0.0.1:$DEC/v1/check" \
            -d '{"subscription":"sub-8200-storage","action":"storage.read"}')
        expect_match "and allows now" '"reason": *"allow"' "$got"
        expect_ok "check --server --at in the suspend phase" \
            --server "http://127.0.0.1:$ADM" --token-file root.tok \
            check sub-8200-storage storage.read --at "$mid"
        expect_match "the admin API's explain denies it too" '^deny suspended EA-1' "$OUT"
        expect_ok "check --batch --server" --server "http://127.0.0.1:$ADM" --token-file root.tok \
            check --batch past.tsv
        expect_eq "the batch through the server agrees" \
            "$(printf 'allow\tallow\t-\ndeny\tsuspended\tEA-1')" "$OUT"
    else
        not_ok "cutoffd writes its ports" "$(cat cutoffd.err)"
    fi
fi

# Lifting the expired action ends it at every time.
expect_ok "an expired action can be lifted" --actor carol action lift EA-1 --reason over
expect_ok "action show" action show EA-1 --json
expect_match "it is lifted" '"state": *"lifted"' "$OUT"
expect_ok "check --at in the suspend phase after the lift" check sub-8200-storage storage.read \
    --at "$mid"
expect_eq "allows" "allow" "$OUT"
finish
