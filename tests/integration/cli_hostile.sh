#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Hostile input through the real CLI: repeated options, limits that are not
# limits, evidence that is not a file, another program's database, a
# database one may only read, and a catalog that would quietly change what
# an approved action does. Each refusal exits with the documented status,
# says why on one line, and leaves the database exactly as it was (its
# SQL dump is compared before and after).
source "$(dirname "$0")/lib.sh"
REF="$ROOT/examples/reference-case"
cd "$WORK" || exit 1

dump() { sqlite3 "${1:-$CUTOFF_DB}" .dump | sha256sum; }

# refused STATUS WHAT PATTERN ARGS...: exit STATUS, one line on stderr
# matching PATTERN, and the database dump unchanged.
refused() {
    local want=$1 what=$2 pattern=$3; shift 3
    local before after lines
    before=$(dump)
    run_cutoff "$@"
    after=$(dump)
    lines=$(printf '%s\n' "$ERR" | grep -c .)
    if [ "$STATUS" -eq "$want" ] && [ "$lines" -eq 1 ] && printf '%s' "$ERR" | grep -qE -- "$pattern" \
        && [ "$before" = "$after" ]; then
        ok "$what"
    else
        not_ok "$what" "exit $STATUS (want $want), $lines stderr lines (want 1)" \
            "database unchanged: $([ "$before" = "$after" ] && echo yes || echo NO)" \
            "wanted /$pattern/ in: $ERR"
    fi
}

expect_ok "init" init
expect_ok "catalog" --actor alice catalog load "$REF/catalog.json"
expect_ok "nodes" --actor alice nodes import "$REF/nodes.jsonl"
expect_ok "case" --actor alice case open --id CASE-7 --scope unit-8200 --title "review"
expect_ok "propose" --actor alice action propose "$REF/action.json"
expect_ok "approve" --actor bob action approve EA-1

# ---- repeated options -------------------------------------------------------
twice='option --%s is given more than once'
refused 2 "check --at twice" "$(printf "$twice" at)" check sub-8200-storage storage.read --at 1 --at 2
refused 2 "check --region twice" "$(printf "$twice" region)" \
    check sub-8200-storage storage.read --region=eu-x --region eu-y
refused 2 "check --explain twice" "$(printf "$twice" explain)" \
    check sub-8200-storage storage.read --explain --explain
refused 2 "--db twice before the verb" "$(printf "$twice" db)" --db "$CUTOFF_DB" --db other.db case list
refused 2 "--db before and after the verb" "$(printf "$twice" db)" --db "$CUTOFF_DB" case list --db other.db
refused 2 "--db before a subcommand and after it" "$(printf "$twice" db)" \
    case --db "$CUTOFF_DB" list --db other.db
refused 2 "--json twice" "$(printf "$twice" json)" --json audit log --json
refused 2 "--json twice before a subcommand" "$(printf "$twice" json)" audit --json --json log
refused 2 "--actor twice" "$(printf "$twice" actor)" --actor alice --actor mallory case close CASE-7
refused 2 "case open --title twice" "$(printf "$twice" title)" \
    --actor alice case open --scope unit-8200 --title a --title b
refused 2 "case evidence --note twice" "$(printf "$twice" note)" \
    --actor alice case evidence CASE-7 "$REF/catalog.json" --type text/plain --note a --note b
refused 2 "action lift --reason twice" "$(printf "$twice" reason)" \
    --actor bob action lift EA-1 --reason a --reason b
refused 2 "audit log --limit twice" "$(printf "$twice" limit)" audit log --limit 1 --limit 5
refused 2 "catalog load --force twice" "$(printf "$twice" force)" \
    --actor alice catalog load "$REF/catalog.json" --force --force

# ---- limits -------------------------------------------------------------------
refused 2 "audit log --limit 0" 'at least 1' audit log --limit 0
refused 2 "audit log --limit -1" '"-1" is not a non-negative' audit log --limit -1
refused 2 "audit log --limit abc" '"abc" is not a non-negative' audit log --limit abc
refused 2 "audit log --limit with an empty value" 'non-empty value' audit log --limit=
expect_ok "audit log --limit 1" audit log --limit 1 --json
expect_eq "prints one record" 1 "$(printf '%s' "$OUT" | grep -c '"seq"')"

# ---- evidence that is not a regular file ---------------------------------------
ev() { echo "--actor alice case evidence CASE-7 $1 --type text/plain --note n"; }
mkdir evdir
refused 1 "evidence on a directory" 'is a directory; give a regular file' $(ev evdir)
mkfifo evfifo
before=$(dump)
run_cutoff_timeout() { OUT=$(timeout 20 "$CUTOFF" "$@" 2>"$WORK/.stderr"); STATUS=$?; ERR=$(cat "$WORK/.stderr"); }
run_cutoff_timeout $(ev evfifo)
if [ "$STATUS" -eq 1 ] && printf '%s' "$ERR" | grep -q 'is a FIFO' && [ "$before" = "$(dump)" ]; then
    ok "evidence on a FIFO is refused at once"
else
    not_ok "evidence on a FIFO is refused at once" "exit $STATUS (124: it hung)" "stderr: $ERR"
fi
ln -s /dev/zero evzero
refused 1 "evidence on a symbolic link to /dev/zero" 'is a device' $(ev evzero)
refused 1 "evidence on /dev/null" 'is a device' $(ev /dev/null)
ln -s "$REF/catalog.json" evlink
expect_ok "evidence through a symbolic link to a regular file" $(ev evlink)

# ---- input files that are devices, directories or too large ----------------------------
# A command's input is a regular file or a pipe: /dev/zero was read for ever
# (nodes import took 16 GB in 20 s). Sparse files stand in for huge ones.
truncate -s $((1024 * 1024 * 1024 + 1)) huge.txt
truncate -s $((4 * 1024 * 1024 * 1024 + 1)) huge.jsonl
device='is a character device, not a file' dir='is a directory, not a file'
while IFS='|' read -r args pattern; do
    before=$(dump)
    # shellcheck disable=SC2086 # (5 s: without the check it eats memory fast)
    OUT=$(timeout 5 "$CUTOFF" $args 2>"$WORK/.stderr" </dev/null); STATUS=$?; ERR=$(cat "$WORK/.stderr")
    if [ "$STATUS" -eq 1 ] && [ "$(printf '%s\n' "$ERR" | grep -c .)" -eq 1 ] && [ "$before" = "$(dump)" ] &&
        printf '%s' "$ERR" | grep -qE "$pattern"; then
        ok "refused at once: $args"
    else
        not_ok "refused at once: $args" "exit $STATUS (124: it hung)" "wanted /$pattern/ in: $ERR"
    fi
done <<INPUTS
check --batch /dev/zero|$device
--actor alice catalog load /dev/zero|$device
--actor alice action propose /dev/urandom|$device
--actor alice nodes import /dev/zero|$device
--actor alice case findings CASE-7 --file /dev/zero|$device
--token-file /dev/zero --server http://127.0.0.1:9 case list|$device
check --batch evdir|$dir
--actor alice nodes import evdir|$dir
check --batch huge.txt|larger than 1024 MiB
--actor alice catalog load huge.txt|larger than 1024 MiB
--actor alice nodes import huge.jsonl|more than 4096 MiB of node lines
INPUTS
rm -f huge.txt huge.jsonl

# ---- init on another program's database ------------------------------------------
foreign() { # foreign WHAT PATTERN SQL
    rm -f f.db*
    sqlite3 f.db "$3"
    local before; before=$(sha256sum <f.db)
    run_cutoff --db f.db init
    if [ "$STATUS" -eq 1 ] && printf '%s' "$ERR" | grep -qE -- "$2" && [ "$before" = "$(sha256sum <f.db)" ] \
        && [ ! -e f.db-wal ]; then
        ok "$1"
    else
        not_ok "$1" "exit $STATUS, file unchanged: $([ "$before" = "$(sha256sum <f.db)" ] && echo yes || echo NO)" \
            "stderr: $ERR"
    fi
}
foreign "init refuses a database with a foreign table" 'holds table "people", which is not cutoff' \
    'CREATE TABLE people(name TEXT); INSERT INTO people VALUES (1);'
foreign "init refuses a database with a foreign view" 'holds view "v"' 'CREATE VIEW v AS SELECT 1;'
foreign "init refuses a foreign index next to a table named like cutoff's" 'holds index "by_x"' \
    'PRAGMA user_version = 1; CREATE TABLE nodes(x); CREATE INDEX by_x ON nodes(x);'
foreign "other commands refuse it too" 'holds table "people"' 'CREATE TABLE people(name TEXT);'
rm -f f.db*
expect_ok "init on an empty file" --db f.db init

# ---- catalog changes under an active action -----------------------------------------
# reclass FILE SERVICE ACTION CLASS: the reference catalog with one class changed.
reclass() {
    python3 - "$REF/catalog.json" "$1" "$2" "$3" "$4" <<'EOF'
import json, sys
src, out, service, action, cls = sys.argv[1:]
c = json.load(open(src))
for s in c["services"]:
    for a in s["actions"]:
        if s["name"] == service and a["name"] == action:
            a["class"] = cls
json.dump(c, open(out, "w"))
EOF
}
reclass write-read.json storage read write
expect_eq "storage.read is allowed under the read-only action" allow \
    "$("$CUTOFF" check sub-8200-storage storage.read)"
refused 1 "a catalog that turns storage.read into a write is refused" \
    'changes decisions under 1 active action \(EA-1\) on 1 catalog action \(storage\.read\).*--force' \
    --actor alice catalog load write-read.json
expect_match "and shows the blast radius" 'EA-1 v1 +storage\.read +read +write +[1-9][0-9]* of' "$OUT"
run_cutoff --json --actor alice catalog load write-read.json
expect_match "--json shows it as JSON" '"class_after": "write"' "$OUT"
expect_eq "the decision is unchanged" allow "$("$CUTOFF" check sub-8200-storage storage.read)"
expect_ok "the same catalog again changes nothing and loads" --actor alice catalog load "$REF/catalog.json"
reclass compute.json compute start read
expect_ok "a class change no active action targets loads" --actor alice catalog load compute.json
expect_ok "the reference catalog back" --actor alice catalog load "$REF/catalog.json"
expect_ok "with --force it loads" --actor alice catalog load write-read.json --force
expect_match "and prints what changed" 'storage\.read' "$OUT"
expect_match "storage.read is now denied" '^deny read_only EA-1' "$("$CUTOFF" check sub-8200-storage storage.read)"
record=$("$CUTOFF" audit log --json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)[-1]))')
expect_match "the audit record of the load names the changed catalog action" \
    '"forced_changes".*"catalog_actions": \["storage.read"\]' "$record"
expect_match "and the enforcement action" '"enforcement_action": "EA-1"' "$record"
expect_ok "the audit log verifies" audit verify

# ---- read-only database --------------------------------------------------------------
# Root writes whatever the mode says, so these run as an unprivileged user.
mkdir -m 0777 ro
cp "$CUTOFF_DB" ro/c.db
chmod 0444 ro/c.db
chmod 0755 "$WORK"
as_nobody() { OUT=$(runuser -u nobody -- "$CUTOFF" --db "$WORK/ro/c.db" "$@" 2>"$WORK/.stderr"); STATUS=$?; ERR=$(cat "$WORK/.stderr"); }
if [ "$(id -u)" -eq 0 ] && runuser -u nobody -- true 2>/dev/null; then
    stamp() { stat -c '%Y.%y %s' ro/c.db; sha256sum <ro/c.db; }
    before=$(stamp)
    for cmd in "audit verify" "audit log" "case show CASE-7" "case list" "action list" "action show EA-1" \
        "action preview EA-1" "catalog show" "nodes show unit-8200" "check sub-8200-storage storage.read"; do
        # shellcheck disable=SC2086
        as_nobody $cmd
        if [ "$STATUS" -eq 0 ]; then ok "read-only file: $cmd"; else not_ok "read-only file: $cmd" "exit $STATUS: $ERR"; fi
    done
    printf 'sub-8200-ai\tai.infer\t-\t%s\n' "$(date +%s)" >req.tsv
    as_nobody check --batch "$WORK/req.tsv"
    expect_eq "read-only file: check --batch" 0 "$STATUS"
    as_nobody --actor nobody case close CASE-7
    expect_eq "read-only file: a change fails (the test's user cannot write)" 1 "$STATUS"
    expect_eq "the file's bytes and modification time are unchanged" "$before" "$(stamp)"
    rm -f ro/c.db-wal ro/c.db-shm
    chmod 0555 ro
    as_nobody audit verify
    if [ "$STATUS" -eq 1 ] && printf '%s' "$ERR" | grep -q 'read-only: it is in WAL mode' \
        && [ "$(printf '%s\n' "$ERR" | grep -c .)" -eq 1 ]; then
        ok "read-only directory: a clear message"
    else
        not_ok "read-only directory: a clear message" "exit $STATUS: $ERR"
    fi
    expect_eq "and the file is unchanged" "$before" "$(stamp)"
    chmod 0755 ro
else
    ok "# SKIP read-only checks need root and runuser"
fi

# ---- what a hostile argument holds is shown, not obeyed --------------------------------
# A terminal escape, a C1 control, a bidi override or a zero-width space in
# an argument comes back escaped in the error message, never raw.
for arg in $'--\e]0;owned\a' $'--\e[2J' $'--x\xc2\x9b31m' $'--\u202eexe.txt' $'--a\u200bb' \
    $'bogus\e[31m' $'--db=x\e[1m'; do
    for where in global verb; do
        if [ $where = global ]; then run_cutoff "$arg"; else run_cutoff case list "$arg"; fi
        label="error for $where argument $(printf '%s' "$arg" | od -An -c | tr -s ' ' | head -c 60)"
        if [ "$STATUS" -ne 0 ] && ! printf '%s' "$ERR" | LC_ALL=C grep -q $'[\x01-\x1f\x7f]\|\xc2[\x80-\x9f]\|\xe2\x80[\x8b-\x8f\xaa-\xae]'; then
            ok "$label: escaped"
        else
            not_ok "$label: escaped" "exit $STATUS: $(printf '%q' "$ERR")"
        fi
    done
done

finish
