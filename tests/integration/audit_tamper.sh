#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# An attacker who holds the database file, but not the signing key, against
# `cutoff audit verify --pubkey`. A store is built through the CLI with
# --key; then, each on a fresh copy with the append-only triggers dropped
# (sqlite3), the attacker edits, deletes, inserts and swaps records (with
# and without recomputing the whole chain: build/tools/audit_forge),
# removes the newest records (with and without their heads), rolls back
# the newest signed heads, re-signs every head with his own key and forges
# a key rotation. Each must fail (exit 1) naming the first bad record or
# head; the untouched copy verifies (exit 0).
source "$(dirname "$0")/lib.sh"
REF="$ROOT/examples/reference-case"
FORGE="$ROOT/$CUTOFF_BUILD/tools/audit_forge"
cd "$WORK" || exit 1
if ! command -v sqlite3 >/dev/null || [ ! -x "$FORGE" ]; then
    not_ok "sqlite3 and build/tools/audit_forge are there" "install sqlite3 (scripts/install-deps.sh), run make"
    finish
    exit 1
fi
export CUTOFF_ACTOR=alice

# ---- the store: a head per change, one head promising an interval ----------
expect_ok "key create" key create --key real.key
"$CUTOFF" key show --key real.key >real.pub
expect_ok "the attacker has a key of his own" key create --key evil.key
"$CUTOFF" key show --key evil.key >evil.pub
"$CUTOFF" init >/dev/null &&
    "$CUTOFF" --key real.key catalog load "$REF/catalog.json" >/dev/null &&            # 1
    "$CUTOFF" --key real.key nodes import "$REF/nodes.jsonl" >/dev/null 2>&1 &&        # 2
    "$CUTOFF" --key real.key case open --id C1 --title t --scope unit-8200 >/dev/null && # 3
    "$CUTOFF" --key real.key case open --id C2 --title t --scope unit-8200 >/dev/null && # 4
    "$CUTOFF" --key real.key audit sign --interval 60 &&                                # head 5
    "$CUTOFF" audit head --json >early.json &&
    "$CUTOFF" --key real.key case findings C1 --text "found" >/dev/null &&              # 5
    "$CUTOFF" --key real.key case close C1 >/dev/null &&                                # 6
    "$CUTOFF" --key real.key case open --id C3 --title t --scope unit-8200 >/dev/null &&  # 7
    "$CUTOFF" audit head --json >late.json
expect_eq "set up: 7 records, 8 heads" "7 8" \
    "$(sqlite3 -separator ' ' cutoff.db 'SELECT (SELECT count(*) FROM audit), (SELECT count(*) FROM heads)')"
LATER=$(date -u -d '+1 hour' +%FT%TZ)

# copy NAME: a fresh copy of the store without the append-only triggers.
copy() {
    cp cutoff.db "$1.db"
    sqlite3 "$1.db" 'DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;
                     DROP TRIGGER heads_no_update; DROP TRIGGER heads_no_delete;'
    export CUTOFF_DB="$WORK/$1.db"
}

# tampered WHAT PATTERN [ARGS]: verify must exit 1 and say PATTERN.
tampered() {
    local what=$1 pattern=$2; shift 2
    expect_fail 1 "$what: detected" audit verify --pubkey real.pub "$@"
    expect_match "$what: names it" "$pattern" "$ERR"
}

# ---- untouched ---------------------------------------------------------------
copy clean
expect_ok "untouched: verifies" audit verify --pubkey real.pub
expect_match "untouched: says so" 'verifies: 7 records, 8 signed heads' "$OUT"
expect_ok "untouched: verifies against the published heads" audit verify --pubkey real.pub --head late.json
expect_ok "untouched: and the early one" audit verify --pubkey real.pub --head early.json
expect_ok "untouched: fresh an hour later (the newest head promises no interval)" \
    audit verify --pubkey real.pub --at "$LATER"
expect_ok "untouched: --json" audit verify --pubkey real.pub --json
expect_match "untouched: --json says verified" '"verified": true' "$OUT"
expect_fail 1 "another public key is refused" audit verify --pubkey evil.pub
expect_match "another public key: says whose heads they are" 'head 1 is signed by .*, not by the key in force' "$ERR"

# ---- edits -------------------------------------------------------------------
copy edit
sqlite3 edit.db "UPDATE audit SET payload = '{\"id\":\"C9\"}' WHERE seq = 3"
tampered "an edited payload" 'record 3: hash mismatch'

copy rechain
sqlite3 rechain.db "UPDATE audit SET payload = '{\"id\":\"C9\"}' WHERE seq = 3"
"$FORGE" rechain rechain.db
expect_ok "the recomputed chain alone verifies" audit verify
tampered "an edit with the chain recomputed" 'record 3 was changed after head 3 signed it'

# ---- deletions, insertions, swaps ---------------------------------------------
copy delete
sqlite3 delete.db "DELETE FROM audit WHERE seq = 3"
tampered "a deleted middle record" 'record 3: seq gap'

copy delete_rechain
sqlite3 delete_rechain.db "DELETE FROM audit WHERE seq = 3"
"$FORGE" rechain delete_rechain.db
tampered "a deleted record, renumbered and rechained" 'record 3 was changed after head 3'

copy insert
sqlite3 insert.db "INSERT INTO audit SELECT 8, time, actor, verb, object, payload, hash, hash FROM audit WHERE seq = 7"
tampered "an inserted record" 'record 8: hash mismatch'

copy insert_rechain
sqlite3 insert_rechain.db "INSERT INTO audit SELECT 0, time, 'mallory', verb, object, payload, prev_hash, hash FROM audit WHERE seq = 1"
"$FORGE" rechain insert_rechain.db
tampered "a record inserted first, chain recomputed" 'record 1 was changed after head 1'

copy swap
sqlite3 swap.db "UPDATE audit SET seq = 100 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = 100"
tampered "two records swapped" 'record 3: broken link'

copy swap_rechain
sqlite3 swap_rechain.db "UPDATE audit SET seq = 100 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = 100"
"$FORGE" rechain swap_rechain.db
tampered "two records swapped, chain recomputed" 'record 3 was changed after head 3'

# ---- the tail -----------------------------------------------------------------
copy truncate
sqlite3 truncate.db "DELETE FROM audit WHERE seq >= 5"
tampered "the newest records removed" 'head 6 names record 5, but the log ends at record 4: records 5\.\.5 were removed'

copy truncate_heads
sqlite3 truncate_heads.db "DELETE FROM audit WHERE seq >= 5; DELETE FROM heads WHERE n >= 6"
expect_ok "records and their heads removed: the log alone still verifies (the limit)" \
    audit verify --pubkey real.pub
tampered "records and heads removed, against a published head" \
    'published head 8 names record 7, but the log ends at record 4' --head late.json
tampered "records and heads removed, by the promised interval" \
    'newest signed head \(5, .*\) is [0-9]+ s old, but its signer promised one every 60 s' --at "$LATER"

copy rollback
sqlite3 rollback.db "DELETE FROM heads WHERE n >= 6"
expect_ok "heads rolled back: records after the newest head are only unsigned" \
    audit verify --pubkey real.pub
expect_match "heads rolled back: says 3 records are not signed" '3 records after record 4 are not signed yet' "$OUT"
tampered "heads rolled back, against a published head" \
    'newest stored head \(5\) is older than the published head 8' --head late.json
tampered "heads rolled back, by the promised interval" 'promised one every 60 s' --at "$LATER"

copy head_gap
sqlite3 head_gap.db "DELETE FROM heads WHERE n = 4"
tampered "a head removed in the middle" 'head 4 is missing'

# ---- another key ---------------------------------------------------------------
copy resign
sqlite3 resign.db "UPDATE audit SET payload = '{\"id\":\"C9\"}' WHERE seq = 3"
"$FORGE" rechain resign.db
"$FORGE" resign resign.db evil.key
expect_ok "re-signed with the attacker's key: verifies under his key" \
    audit verify --pubkey evil.pub
tampered "re-signed with the attacker's key: refused under the real key" \
    'head 1 is signed by ed25519:.*, not by the key in force'

copy forged_rotation
"$FORGE" rotate forged_rotation.db "$(cat real.pub)" evil.key
tampered "a forged key rotation" 'record 8: a key rotation to .* that the key in force .* did not sign'

copy rotation
expect_ok "a real rotation" key rotate --key real.key --new new.key
expect_ok "a change signed by the new key" --key new.key case close C2
expect_ok "the rotated log verifies from the first key" audit verify --pubkey real.pub --head late.json
expect_match "says it followed the rotation" 'after 1 key rotations' "$OUT"
expect_fail 1 "the old key cannot sign after the rotation" --key real.key case close C3
expect_match "says which key is in force" 'another key than ed25519:.*rotate' "$ERR"
expect_eq "and nothing was changed" 9 "$(sqlite3 rotation.db 'SELECT count(*) FROM audit')"
finish
