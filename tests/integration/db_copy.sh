#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cutoff db copy: a database with a rich history (signed changes, evidence
# with and without content, approvals, a lift, a second version, a closed
# case, a catalog reload) is copied and the copy must be the source: the
# same SQL dump, the signed heads verify with the public key, and every
# reading command (audit log, actions, cases, notices, catalog, nodes,
# check on many requests, check --as-of in the past) prints the same. Then
# the refusals, each leaving the destination as it was: a destination that
# is not empty, a tampered source (an edit; a recomputed chain, caught by
# the signed heads before commit), a source with an older schema, the
# same database twice, bad arguments (exit 2); a password in a location is
# never printed. Last, a copy of about 200k nodes is killed with SIGKILL at
# random moments: the destination is left empty (or, once the copy has
# committed, whole), and a copy into it afterwards succeeds.
source "$(dirname "$0")/lib.sh"

REF="$ROOT/examples/reference-case"
GEN="$ROOT/$CUTOFF_BUILD/bench/gen"
FORGE="$ROOT/$CUTOFF_BUILD/tools/audit_forge"
if ! command -v sqlite3 >/dev/null || [ ! -x "$GEN" ] || [ ! -x "$FORGE" ]; then
    not_ok "sqlite3, build/bench/gen and build/tools/audit_forge are there" "run make"
    finish
    exit 1
fi
cd "$WORK" || exit 1
unset CUTOFF_ACTOR
SRC="$WORK/src.db"
export CUTOFF_DB="$SRC" CUTOFF_KEY_FILE="$WORK/op.key"
# The rows of every table (sorted: rowid tables may be in another physical
# order where no listing depends on it; the listings are compared below).
dump() { sqlite3 "$1" .dump | sort; }
# empty DB: the file is missing, or holds no schema at all.
empty() { [ ! -e "$1" ] || [ "$(sqlite3 "$1" 'PRAGMA user_version; SELECT count(*) FROM sqlite_master')" == $'0\n0' ]; }

# ---- a history -------------------------------------------------------------
action() { # action ID CASE SCOPE DENY PHASES
    printf '{"id":"%s","case":"%s","scope":["%s"],"deny":[%s],"phases":[%s],"status":403,"notice":{"summary":"s"}}\n' \
        "$1" "$2" "$3" "$4" "$5"
}
action EA-1 CASE-7 unit-8200 '"storage.*"' '{"at":"+0","mode":"read-only"},{"at":"+3s","mode":"suspend"}' >ea1-v1.json
action EA-2 CASE-7 unit-9900 '"storage.write"' '{"at":"+0","mode":"suspend"}' >ea2.json
action EA-1 CASE-7 unit-8200 '"ai.*"' '{"at":"+0","mode":"suspend"},{"at":"+2s","mode":"off"}' >ea1-v2.json
action EA-3 CASE-9 sub-logistics-erp '"ai.*"' '{"at":"+0","mode":"suspend"}' >ea3.json
python3 - "$REF/catalog.json" >catalog-2.json <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
for s in c["services"]:
    if s["name"] == "storage":
        s["actions"].append({"name": "purge", "class": "write"})
print(json.dumps(c))
EOF
printf 'kept bytes\n' >kept.txt
: >empty.txt

run() { "$CUTOFF" "$@" >/dev/null 2>>steps.err || echo "failed: $*" >>steps.err; }
run key create --key "$CUTOFF_KEY_FILE"
run init
"$CUTOFF" key show >op.pub
run --actor alice catalog load "$REF/catalog.json"
first=$(date +%s)
run --actor alice nodes import "$REF/nodes.jsonl"
run --actor alice case open --id CASE-7 --scope unit-8200,unit-9900 --title disputes
run --actor alice case evidence CASE-7 "$REF/evidence/usage-summary.csv" --type text/csv --note summary
run --actor alice case evidence CASE-7 kept.txt --type text/plain --note kept --keep-content
run --actor alice case evidence CASE-7 empty.txt --type text/plain --note "empty, kept" --keep-content
run --actor alice action propose ea1-v1.json
sleep 1; run --actor bob action approve EA-1
sleep 1; run --actor alice action propose ea2.json
sleep 1; run --actor bob action approve EA-2
sleep 1; run --actor carol action lift EA-2 --reason "wrong unit"
sleep 1; run --actor alice action propose ea1-v2.json
sleep 1; run --actor bob action approve EA-1
sleep 1; run --actor alice catalog load catalog-2.json
run --actor alice case open --id CASE-9 --scope unit-logistics --title other
run --actor alice action propose ea3.json
run --actor bob action approve EA-3
run --actor alice case findings CASE-9 --text "done"
run --actor alice case close CASE-9
# A change without the key leaves an unsigned notice and record behind.
CUTOFF_KEY_FILE= run --actor alice case findings CASE-7 --text "pending"
sleep 1
last=$(date +%s)
expect_eq "the history is made" "" "$(cat steps.err 2>/dev/null)"
unset CUTOFF_KEY_FILE

# ---- the copy ----------------------------------------------------------------
expect_ok "db copy --pubkey" db copy --from "$SRC" --to "$WORK/copy.db" --pubkey op.pub
expect_match "the summary names both" "^copied $SRC to $WORK/copy.db in " "$OUT"
expect_match "and the heads it verified" 'signed heads of the copy verify: [0-9]+ heads by ed25519:' "$OUT"
if diff <(dump "$SRC") <(dump "$WORK/copy.db") >dump.diff; then ok "the copy's SQL dump is the source's"
else mapfile -t d < <(cut -c1-200 dump.diff | head -20); not_ok "the copy's SQL dump is the source's" "${d[@]}"; fi
expect_ok "audit verify --pubkey passes on the copy" --db "$WORK/copy.db" audit verify --pubkey op.pub

# same ARGS...: the command prints the same on the source and the copy
# (COPY_DB, the copy made above unless set).
same() {
    local a b
    a=$("$CUTOFF" --db "$SRC" "$@" 2>&1; echo "exit $?")
    b=$("$CUTOFF" --db "${COPY_DB:-$WORK/copy.db}" "$@" 2>&1; echo "exit $?")
    if [ "$a" == "$b" ] && [ -n "$a" ]; then ok "same output: $*"
    else not_ok "same output: $*" "source: ${a:0:300}" "copy:   ${b:0:300}"; fi
}
same audit log --json
same audit verify --json
same audit head --json
same action list --json
same action show EA-1 --json
same case show CASE-7
same case show CASE-7 --json
same case list --json
same notice list --subscription sub-8200-storage
same notice list --subscription sub-logistics-erp --json
same notice show EA-1 --json
same notice show EA-1 --version 1 --json
same catalog show --json
same nodes show unit-8200
pairs="sub-8200-storage storage.write
sub-8200-storage storage.read
sub-8200-ai ai.transcribe
sub-9900-maps storage.write
sub-8200-storage storage.purge
sub-logistics-erp ai.infer
sub-logistics-erp storage.write"
: >requests.tsv
: >asof.tsv
for ((t = first; t <= last; t++)); do
    while read -r sub act; do
        printf '%s\t%s\t-\t%s\n' "$sub" "$act" "$t" >>requests.tsv
        printf '%s\t%s\t-\t%s\tas-of\n' "$sub" "$act" "$t" >>asof.tsv
    done <<<"$pairs"
done
same check --batch requests.tsv
same check --batch asof.tsv
# At a fixed time: the answer names its time, and two runs may straddle a second.
same check sub-8200-storage storage.write --at "$last" --json
same check sub-8200-storage storage.write --as-of "$((first + 2))" --json
same check sub-9900-maps storage.write --as-of "$((first + 3))" --explain
expect_match "the as-of answers are not all the same" 'deny.*allow|allow.*deny' \
    "$("$CUTOFF" --db "$WORK/copy.db" check --batch asof.tsv | tr '\n' ' ')"

expect_ok "db copy --json --quiet" db copy --from "$SRC" --to "$WORK/copy2.db" --json --quiet
expect_eq "--quiet prints nothing on stderr" "" "$ERR"
got=$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); t=d["tables"]; print(t["nodes"], t["evidence"], t["evidence_content"], t["catalogs"], t["audit"]==d["audit"]["records"], d["signed_heads"])')
want="$(sqlite3 "$SRC" 'SELECT count(*) FROM nodes') $(sqlite3 "$SRC" 'SELECT count(*) FROM evidence') 2 2 True None"
expect_eq "the JSON summary counts the source's rows" "$want" "$got"

# ---- between backends: SQLite -> PostgreSQL -> SQLite ------------------------------
source "$ROOT/tests/support/pg.sh"
trap 'pg_stop; rm -rf "$WORK"' EXIT
if pg_start "$WORK/pg"; then
    expect_ok "db copy into PostgreSQL" db copy --from "$SRC" --to "$PG_URI" --pubkey op.pub --quiet
    expect_ok "audit verify --pubkey passes on the PostgreSQL copy" --db "$PG_URI" audit verify --pubkey op.pub
    COPY_DB=$PG_URI
    same audit log --json
    same audit head --json
    same action list --json
    same case show CASE-7 --json
    same notice show EA-1 --json
    same check --batch requests.tsv
    same check --batch asof.tsv
    unset COPY_DB
    expect_fail 1 "a PostgreSQL destination that holds a database is refused" \
        db copy --from "$SRC" --to "$PG_URI" --quiet
    expect_ok "db copy back out of PostgreSQL" db copy --from "$PG_URI" --to "$WORK/back.db" --pubkey op.pub --quiet
    if diff <(dump "$SRC") <(dump "$WORK/back.db") >back.diff; then
        ok "the round trip through PostgreSQL gives back the source's SQL dump"
    else
        mapfile -t d < <(cut -c1-200 back.diff | head -20)
        not_ok "the round trip through PostgreSQL gives back the source's SQL dump" "${d[@]}"
    fi
    pg_stop
else
    not_ok "the test PostgreSQL starts"
fi

# ---- refusals ------------------------------------------------------------------
before=$(dump "$WORK/copy.db")
expect_fail 1 "a destination that holds a database is refused" db copy --from "$SRC" --to "$WORK/copy.db"
expect_match "saying so" 'already holds a cutoff database' "$ERR"
expect_eq "and is left as it was" "$before" "$(dump "$WORK/copy.db")"
"$CUTOFF" --db "$WORK/init.db" init >/dev/null
before=$(dump "$WORK/init.db")
expect_fail 1 "a destination that is only initialised is refused" db copy --from "$SRC" --to "$WORK/init.db"
expect_eq "and is left as it was" "$before" "$(dump "$WORK/init.db")"
sqlite3 "$WORK/other.db" 'CREATE TABLE mine(x); INSERT INTO mine VALUES (1)'
before=$(dump "$WORK/other.db")
expect_fail 1 "another program's database is refused" db copy --from "$SRC" --to "$WORK/other.db"
expect_match "naming its table" 'table "mine"' "$ERR"
expect_eq "and is left as it was" "$before" "$(dump "$WORK/other.db")"

expect_fail 1 "the same database twice is refused" db copy --from "$SRC" --to "$SRC"
ln -s "$SRC" "$WORK/link.db"
expect_fail 1 "also through a symbolic link" db copy --from "$SRC" --to "$WORK/link.db"
expect_match "saying so" 'same database' "$ERR"
expect_fail 1 "a missing source is refused" db copy --from "$WORK/nothing.db" --to "$WORK/d1.db"
if empty "$WORK/d1.db"; then ok "and no destination is made"; else not_ok "no destination is made"; fi

sqlite3 "$SRC" ".backup $WORK/tampered.db"
sqlite3 "$WORK/tampered.db" "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; UPDATE audit SET actor = 'mallory' WHERE seq = 3"
expect_fail 1 "a source whose chain does not verify is refused" db copy --from "$WORK/tampered.db" --to "$WORK/d2.db"
expect_match "naming the record" 'does not verify at record 3' "$ERR"
if empty "$WORK/d2.db"; then ok "and nothing is written"; else not_ok "nothing is written"; fi
"$FORGE" rechain "$WORK/tampered.db" >/dev/null 2>&1
expect_ok "after recomputing the chain it copies without a key" db copy --from "$WORK/tampered.db" --to "$WORK/d3.db" --quiet
expect_fail 1 "but not with --pubkey: the signed heads catch it" db copy --from "$WORK/tampered.db" --to "$WORK/d4.db" --pubkey op.pub
expect_match "saying why" 'signed heads of the copy do not verify' "$ERR"
if empty "$WORK/d4.db"; then ok "and the destination is left empty"; else not_ok "the destination is left empty" "$(sqlite3 "$WORK/d4.db" 'SELECT count(*) FROM audit')"; fi

sqlite3 "$SRC" ".backup $WORK/old.db"
sqlite3 "$WORK/old.db" "DROP TABLE catalogs; DROP TABLE heads; DROP TABLE notices; PRAGMA user_version = 2"
expect_fail 1 "a source with an older schema is refused" db copy --from "$WORK/old.db" --to "$WORK/d5.db"
expect_match "telling how to migrate it" "schema version 2.*cutoff --db SOURCE init" "$ERR"
if empty "$WORK/d5.db"; then ok "and nothing is written"; else not_ok "nothing is written"; fi

expect_fail 1 "a password in a location is never printed" db copy --from 'postgresql://ops:s3cret@127.0.0.1/cutoff' --to "$WORK/d6.db"
expect_match "the location is shown without it" 'postgresql://ops@127.0.0.1/cutoff' "$ERR"
if [[ "$ERR$OUT" != *s3cret* ]]; then ok "and the password is not"; else not_ok "the password is not printed" "$ERR"; fi
expect_fail 1 "nor as the destination" db copy --from "$SRC" --to 'postgresql://ops:s3cret@127.0.0.1/cutoff'
if [[ "$ERR$OUT" != *s3cret* ]]; then ok "where a backend's message names it"; else not_ok "the password is not printed" "$ERR"; fi

expect_fail 2 "no --to" db copy --from "$SRC"
expect_fail 2 "no --from" db copy --to "$WORK/d7.db"
expect_fail 2 "a positional argument" db copy --from "$SRC" --to "$WORK/d7.db" extra
expect_fail 2 "an unknown option" db copy --from "$SRC" --to "$WORK/d7.db" --force
expect_fail 2 "--from given twice" db copy --from "$SRC" --from "$SRC" --to "$WORK/d7.db"
expect_fail 2 "--db does not apply" --db "$SRC" db copy --from "$SRC" --to "$WORK/d7.db"
expect_fail 2 "no subcommand" db
expect_fail 2 "an unknown subcommand" db move
expect_fail 1 "a missing --pubkey file" db copy --from "$SRC" --to "$WORK/d7.db" --pubkey nothing.pub
if empty "$WORK/d7.db"; then ok "none of them made a destination"; else not_ok "none of them made a destination"; fi
expect_ok "db copy --help" db copy --help
expect_match "the help says what is copied" 'hash chain' "$OUT"

# ---- a large store, killed --------------------------------------------------------
"$GEN" catalog >big-catalog.json
"$GEN" nodes --subs 200000 >big-nodes.jsonl
BIG="$WORK/big.db"
"$CUTOFF" --db "$BIG" init >/dev/null
"$CUTOFF" --db "$BIG" --actor alice catalog load big-catalog.json >/dev/null
"$CUTOFF" --db "$BIG" --actor alice nodes import big-nodes.jsonl >/dev/null
nodes=$(sqlite3 "$BIG" 'SELECT count(*) FROM nodes')
start=$(date +%s%N)
expect_ok "a copy of $nodes nodes" db copy --from "$BIG" --to "$WORK/big-copy.db" --json
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "holds them all" "$nodes" "$(sqlite3 "$WORK/big-copy.db" 'SELECT count(*) FROM nodes')"
echo "# copy of $nodes nodes: $ms ms"

# Meanwhile a writer works on the source: both succeed, the copy verifies.
"$CUTOFF" db copy --from "$BIG" --to "$WORK/big-live.db" --quiet >/dev/null 2>&1 &
pid=$!
for i in 1 2 3; do "$CUTOFF" --db "$BIG" --actor alice case open --id "LIVE-$i" --scope tenant-acme --title live >/dev/null 2>&1 || echo "case $i failed" >>live.err; done
wait "$pid"; status=$?
expect_eq "a copy while a writer works on the source succeeds, and so does the writer" "0 " "$status $(cat live.err 2>/dev/null)"
expect_ok "the copy made meanwhile verifies" --db "$WORK/big-live.db" audit verify

empties=0 wholes=0 bad=()
for round in 1 2 3 4 5 6; do
    dst="$WORK/killed-$round.db"
    "$CUTOFF" db copy --from "$BIG" --to "$dst" --quiet >/dev/null 2>&1 &
    pid=$!
    sleep "$(awk -v r="$RANDOM" -v ms="$ms" 'BEGIN { printf "%.3f", (10 + r % (ms > 50 ? ms - 20 : 30)) / 1000 }')"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if empty "$dst"; then
        empties=$((empties + 1))
        # An empty destination takes the copy afterwards.
        "$CUTOFF" db copy --from "$BIG" --to "$dst" --quiet >/dev/null 2>retry.err ||
            bad+=("round $round: the retry failed: $(cat retry.err)")
    elif [ "$(sqlite3 "$dst" 'SELECT count(*) FROM nodes')" != "$nodes" ]; then
        bad+=("round $round: a partial copy: $(sqlite3 "$dst" 'SELECT count(*) FROM nodes') nodes")
    else
        wholes=$((wholes + 1))
    fi
    [ "$(sqlite3 "$dst" 'SELECT count(*) FROM nodes')" == "$nodes" ] || bad+=("round $round: not whole at the end")
    rm -f "$dst" "$dst-wal" "$dst-shm"
done
echo "# SIGKILL rounds: $empties left empty, $wholes had committed"
if [ ${#bad[@]} -eq 0 ] && [ "$empties" -gt 0 ]; then ok "a copy killed with SIGKILL leaves the destination empty ($empties of 6 rounds), never partial"
else not_ok "a killed copy leaves the destination empty" "${bad[@]}" "empty rounds: $empties"; fi
finish
