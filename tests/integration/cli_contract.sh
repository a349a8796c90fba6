#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The CLI's contract: exit status 0 / 1 / 2, exactly one line on stderr for
# every failure, help for the tool and every verb in every spelling, the
# version, defaults for database and actor from the environment, global
# options before or after the verb, and --json output that parses.
source "$(dirname "$0")/lib.sh"
REF="$ROOT/examples/reference-case"

# one_line WHAT: the last run failed with exactly one line on stderr.
one_line() {
    local lines
    lines=$(printf '%s\n' "$ERR" | grep -c .)
    if [ "$lines" -eq 1 ] && [[ $ERR == cutoff:* ]]; then ok "$1: one line on stderr"
    else not_ok "$1: one line on stderr starting with 'cutoff:'" "got $lines lines:" "$ERR"; fi
}

# JSON checks are queued and run by one python3 at the end (python's start
# costs more than the whole CLI run).
mkdir -p "$WORK/json"
: >"$WORK/json/queue"
# json_ok WHAT: the last run's stdout is JSON.
json_ok() { json_field "$1: --json parses" 'True' True; }
# json_field WHAT EXPR WANT: python expression on the parsed JSON (as j).
json_field() {
    local f="$WORK/json/$(wc -l <"$WORK/json/queue").json"
    printf '%s' "$OUT" >"$f"
    printf '%s\t%s\t%s\t%s\n' "$1" "$f" "$2" "$3" >>"$WORK/json/queue"
}
run_json_checks() {
    local verdict what detail
    while IFS=$'\t' read -r verdict what detail; do
        if [ "$verdict" = ok ]; then ok "$what"; else not_ok "$what" "$detail"; fi
    done < <(python3 - "$WORK/json/queue" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    what, path, expr, want = line.rstrip("\n").split("\t")
    try:
        j = json.load(open(path))
        got = str(eval(expr))
    except Exception as e:
        got = "error: %s: %s" % (type(e).__name__, e)
    if got == want:
        print("ok\t%s\t" % what)
    else:
        print("bad\t%s\twanted %s, got %s" % (what, want, got.replace("\t", " ").replace("\n", " ")))
PY
    )
}

# ---- help and version --------------------------------------------------
expect_ok "--help" --help
expect_match "--help lists the verbs" 'check --batch FILE' "$OUT"
expect_ok "-h" -h
expect_ok "help" help
expect_match "help names the exit statuses" '2 usage error' "$OUT"
for verb in init catalog nodes case action check audit; do
    expect_ok "help $verb" help "$verb"
    expect_match "help $verb starts with its usage" "^usage: cutoff $verb" "$OUT"
    help_text=$OUT
    expect_ok "$verb --help" "$verb" --help
    expect_eq "$verb --help is help $verb" "$help_text" "$OUT"
done
for cmd in "catalog load" "nodes import" "case open" "case evidence" "action approve" "audit log"; do
    # shellcheck disable=SC2086
    expect_ok "$cmd --help" $cmd --help
    expect_match "$cmd --help prints its group's usage" "usage: cutoff ${cmd%% *}" "$OUT"
done
expect_ok "--version" --version
expect_match "--version names the program" '^cutoff [0-9]+\.[0-9]+\.[0-9]+ \(database schema [0-9]+\)$' "$OUT"
expect_ok "version verb" version

# ---- usage errors: exit 2, one line -------------------------------------
expect_fail 2 "no command" ; one_line "no command"
expect_fail 2 "unknown verb" frobnicate; one_line "unknown verb"
expect_match "unknown verb is named" '"frobnicate"' "$ERR"
expect_fail 2 "unknown global option" --frob init; one_line "unknown global option"
expect_fail 2 "unknown verb option" check a b --frob; one_line "unknown verb option"
expect_match "unknown option is named with a help pointer" "--frob.*cutoff help check" "$ERR"
expect_fail 2 "unknown subcommand" case reopen CASE-1; one_line "unknown subcommand"
expect_fail 2 "missing subcommand" action; one_line "missing subcommand"
expect_fail 2 "help for an unknown verb" help frobnicate
expect_fail 2 "--db without a value" --db; one_line "--db without a value"
expect_fail 2 "empty --actor" --actor "" init
expect_fail 2 "option value missing" case open --title; one_line "option value missing"
expect_fail 2 "flag given a value" check a b --explain=yes
expect_fail 2 "check with one argument" check sub-1
expect_fail 2 "check with three arguments" check a b c
expect_fail 2 "check --bench without --batch" check a b --bench
expect_fail 2 "check --batch with a subscription" check sub-1 --batch f
expect_fail 2 "check --at malformed" check a b.c --at tomorrow; one_line "check --at malformed"
expect_match "bad --at says what is allowed" 'RFC 3339' "$ERR"
expect_fail 2 "check --at impossible date" check a b.c --at 2025-02-30T00:00:00Z
expect_fail 2 "preview --limit negative" action preview EA-1 --limit -1
expect_fail 2 "preview --offset not a number" action preview EA-1 --offset ten
expect_fail 2 "audit log --after not a number" audit log --after x
expect_fail 2 "case open without --title" case open --scope x
expect_fail 2 "case open without --scope" case open --title x
expect_fail 2 "case open with an empty scope element" case open --title x --scope a,,b
expect_fail 2 "case findings with both --text and --file" case findings C --text a --file b
expect_fail 2 "case findings with neither" case findings C
expect_fail 2 "case evidence with a bad media type" case evidence C f --type csv --note n
expect_fail 2 "case evidence without --note" case evidence C f --type text/csv
expect_fail 2 "nodes import without FILE" nodes import
expect_fail 2 "init with an argument" init now
# None of these created a database.
if [ ! -e "$CUTOFF_DB" ]; then ok "usage errors create no database"; else not_ok "usage errors create no database"; fi

# ---- uninitialised database: exit 1, one line, nothing created ----------
for cmd in "catalog show" "nodes show x" "case list" "action list" "audit verify" "check a b.c"; do
    # shellcheck disable=SC2086
    expect_fail 1 "$cmd on an uninitialised database" $cmd
    one_line "$cmd on an uninitialised database"
    expect_match "$cmd says to run init" "cutoff init" "$ERR"
done
if [ ! -e "$CUTOFF_DB" ]; then ok "commands on a missing database do not create it"
else not_ok "commands on a missing database do not create it"; fi

# ---- defaults: $CUTOFF_DB, ./cutoff.db, --db before or after the verb ---
expect_ok "init (from \$CUTOFF_DB)" init
[ -f "$CUTOFF_DB" ] && ok "init created \$CUTOFF_DB" || not_ok "init created \$CUTOFF_DB"
expect_ok "init again is harmless" init
mkdir -p "$WORK/cwd"
(cd "$WORK/cwd" && env -u CUTOFF_DB "$CUTOFF" init >/dev/null 2>&1)
[ -f "$WORK/cwd/cutoff.db" ] && ok "without \$CUTOFF_DB the database is ./cutoff.db" \
    || not_ok "without \$CUTOFF_DB the database is ./cutoff.db"
expect_ok "--db after the verb" init --db "$WORK/other.db"
[ -f "$WORK/other.db" ] && ok "--db after the verb is used" || not_ok "--db after the verb is used"

# ---- actor: --actor, $CUTOFF_ACTOR, login name; recorded in the audit ----
expect_ok "catalog load" --actor carol catalog load "$REF/catalog.json"
CUTOFF_ACTOR=dave expect_ok "nodes import as \$CUTOFF_ACTOR" nodes import "$REF/nodes.jsonl"
login=$(id -un)
expect_ok "case open with the login name" case open --title "t" --scope unit-8200
case_id=$OUT
expect_match "case open prints an id" '^[A-Za-z0-9._:-]+$' "$case_id"
expect_ok "audit log --json" audit log --json
json_ok "audit log"
actors=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(" ".join(r["actor"] for r in json.load(sys.stdin)))')
expect_match "--actor is recorded" '(^| )carol( |$)' "$actors"
expect_match "\$CUTOFF_ACTOR is recorded" '(^| )dave( |$)' "$actors"
expect_match "the login name is the default actor" "(^| )$login( |\$)" "$actors"

# ---- --json everywhere a program reads ----------------------------------
expect_ok "init --json" init --json;                        json_ok "init"
expect_ok "catalog show --json" catalog show --json;        json_ok "catalog show"
expect_ok "--json before the verb" --json catalog show;     json_ok "--json before the verb"
expect_ok "nodes show --json" nodes show unit-8200 --json;  json_ok "nodes show"
expect_ok "case show --json" case show "$case_id" --json;   json_ok "case show"
expect_ok "case list --json" case list --json;              json_ok "case list"
sed "s/CASE-7/$case_id/" "$REF/action.json" >"$WORK/action.json"
expect_ok "action propose --json" --actor alice action propose "$WORK/action.json" --json
json_ok "action propose"
json_field "propose --json gives the id" 'j["id"]' EA-1
expect_ok "action preview --json" action preview EA-1 --json; json_ok "action preview"
json_field "preview --json: the 5 subscriptions of unit-8200 and below are in scope" 'j["subscriptions_in_scope"]' 5
expect_ok "action list --json" action list --json;          json_ok "action list"
expect_ok "action approve --json" --actor bob action approve EA-1 --json; json_ok "action approve"
json_field "approve --json: active" 'j["state"]' active
expect_ok "action show --json" action show EA-1 --json;     json_ok "action show"
expect_ok "check --json" check sub-8200-ai ai.infer --json; json_ok "check"
json_field "check --json: deny read_only by EA-1" \
    'j["decision"]+" "+j["reason"]+" "+j["enforcement_action"]' "deny read_only EA-1"
expect_ok "check --explain --json" check sub-8200-ai ai.infer --explain --json
json_ok "check --explain"
expect_ok "audit verify --json" audit verify --json;        json_ok "audit verify"
json_field "audit verify --json: verified" 'j["verified"]' True
expect_ok "case findings --json" case findings "$case_id" --text "x" --json; json_ok "case findings"
expect_ok "nodes import --json" --actor dave nodes import "$REF/nodes.jsonl" --json
json_ok "nodes import"
json_field "re-import: every line unchanged" 'j["unchanged"] == j["lines"] == 22' True

run_json_checks

# ---- a decision is not an error -----------------------------------------
expect_ok "check allow exits 0" check sub-8200-storage storage.read
expect_eq "allow is printed" allow "$OUT"
expect_ok "check deny exits 0" check sub-8200-storage storage.write
expect_match "deny is printed with reason and action" '^deny read_only EA-1' "$OUT"
expect_ok "unknown subscription is a deny, not an error" check no-such-sub storage.read
expect_eq "unknown subscription" "deny unknown_subscription -" "$OUT"
expect_ok "unknown action is a deny, not an error" check sub-8200-storage storage.fly
expect_eq "unknown action" "deny unknown_action -" "$OUT"

# ---- output that cannot be written is a failure --------------------------
if [ -w /dev/full ]; then
    "$CUTOFF" case list >/dev/full 2>"$WORK/full.err"; st=$?
    expect_eq "writing to a full device fails with 1" 1 "$st"
    expect_match "and says so" 'cannot write' "$(cat "$WORK/full.err")"
fi

finish
