#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The CLI against a running cutoffd: tokens made with 'cutoff token', the
# reference case walked entirely through --server (each step under the
# principal of a token, four eyes enforced by the server), --json output
# equal to local mode on the same database, the failures a server adds
# (unknown token, missing role, unreachable server), and revocation taking
# effect on SIGHUP. Everything listens on 127.0.0.1 and is stopped at the end.
source "$(dirname "$0")/lib.sh"

CUTOFFD="$ROOT/$CUTOFF_BUILD/cutoffd"
REF="$ROOT/examples/reference-case"
if [ ! -x "$CUTOFFD" ]; then
    not_ok "cutoffd is built" "missing: $CUTOFFD"
    finish
    exit 1
fi
cd "$WORK" || exit 1
# Nothing from the caller's environment may choose the mode or the token.
unset CUTOFF_SERVER CUTOFF_TOKEN CUTOFF_TOKEN_FILE CUTOFF_ACTOR

CUTOFFD_PID=
cleanup() {
    [ -n "$CUTOFFD_PID" ] && kill "$CUTOFFD_PID" 2>/dev/null && wait "$CUTOFFD_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# ---- tokens: create, list, the file's rules ------------------------------------
expect_ok "token create" token create --principal alice --roles investigator,enforcer,approver \
    --tokens-file tokens
ALICE=$OUT
expect_match "a token is cutoff_ and 32 random bytes in URL-safe base64" '^cutoff_[A-Za-z0-9_-]{43}$' "$ALICE"
expect_match "stderr says the token is not stored" 'shown only now and stored nowhere' "$ERR"
expect_match "stderr says cutoffd needs SIGHUP" 'SIGHUP to cutoffd' "$ERR"
expect_eq "a new tokens file is mode 600" 600 "$(stat -c %a tokens)"
expect_eq "the file holds the token's SHA-256, the principal and the roles" \
    "sha256:$(printf '%s' "$ALICE" | sha256sum | cut -d' ' -f1) alice investigator,enforcer,approver" \
    "$(grep ' alice ' tokens)"
grep -qF "$ALICE" tokens && not_ok "the token itself is not in the file" || ok "the token itself is not in the file"
expect_ok "token create bob" token create --principal bob --roles approver --tokens-file tokens
BOB=$OUT
expect_ok "token create --json" token create --principal root --roles admin --tokens-file tokens --json
ADMIN=$(printf '%s' "$OUT" | json 'd["token"]')
expect_eq "--json: principal and roles" "root admin" "$(printf '%s' "$OUT" | json 'd["principal"]+" "+d["roles"]')"
expect_ok "token create viewer" token create --principal auditor --roles viewer --tokens-file tokens
VIEWER=$OUT
expect_ok "token create carol" token create --principal carol --roles viewer --tokens-file tokens
CAROL=$OUT
[ "$ALICE" != "$BOB" ] && [ "$BOB" != "$VIEWER" ] && ok "every token is different" || not_ok "every token is different"
expect_ok "roles in any order" token create --principal eve --roles approver,viewer --tokens-file other-tokens
expect_match "are written in canonical order" ' eve viewer,approver$' "$(cat other-tokens)"

expect_fail 2 "an unknown role is a usage error" token create --principal x --roles viewer,root --tokens-file tokens
expect_match "it names the roles there are" 'viewer, investigator, enforcer, approver, admin' "$ERR"
expect_fail 2 "a principal that is not an id" token create --principal "a b" --roles viewer --tokens-file tokens
expect_fail 2 "--tokens-file is required" token create --principal x --roles viewer
expect_fail 2 "--token-file is not --tokens-file" token list --token-file tokens
expect_match "and the message says which is which" 'tokens-file' "$ERR"
cp tokens loose && chmod 664 loose
expect_fail 1 "a group-writable tokens file is refused" token create --principal x --roles viewer --tokens-file loose
expect_match "with the fix" 'chmod go-w' "$ERR"
printf 'sha256:abc alice viewer\n' >broken && chmod 600 broken
expect_fail 1 "a tokens file with a bad line is not appended to" token create --principal x --roles viewer --tokens-file broken
expect_match "the bad line is named" '^cutoff: broken:1: ' "$ERR"
expect_eq "and the file is unchanged" 1 "$(wc -l <broken)"

expect_ok "token list" token list --tokens-file tokens
expect_match "lists alice with her roles" '^alice +investigator,enforcer,approver +[0-9a-f]{12}$' "$OUT"
alice_hash=$(grep ' alice ' tokens | cut -c8-19)
expect_match "shows the first 12 hex digits of the hash" "^alice .* $alice_hash\$" "$OUT"
printf '%s' "$OUT" | grep -qF -e "$ALICE" -e "$BOB" && not_ok "list never shows a token" || ok "list never shows a token"
printf '%s' "$OUT" | grep -qE '[0-9a-f]{13}' && not_ok "list never shows a whole hash" || ok "list never shows a whole hash"
expect_ok "token list --json" token list --tokens-file tokens --json
expect_eq "--json lists every principal" "alice bob root auditor carol" \
    "$(printf '%s' "$OUT" | json '" ".join(e["principal"] for e in d)')"

expect_ok "help token" help token
expect_match "help token starts with its usage" '^usage: cutoff token create' "$OUT"
help_text=$OUT
expect_ok "token --help" token --help
expect_eq "token --help is help token" "$help_text" "$OUT"
expect_fail 2 "token needs a subcommand" token

for who in alice bob root auditor carol; do
    var=$(echo "$who" | tr a-z A-Z)
    case $who in root) var=ADMIN ;; auditor) var=VIEWER ;; esac
    printf '%s\n' "${!var}" >"$who.tok"
    chmod 600 "$who.tok"
done

# ---- cutoffd on the database ------------------------------------------------------
# cutoffd serves a database that has a catalog; the walk loads it again
# through the server below.
"$CUTOFF" init >/dev/null && "$CUTOFF" --actor bootstrap catalog load "$REF/catalog.json" >/dev/null
expect_eq "database initialised for cutoffd" 0 "$?"
"$CUTOFFD" --db "$CUTOFF_DB" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --port-file "$WORK/ports" \
    --tokens "$WORK/tokens" --log "$WORK/cutoffd.log" 2>"$WORK/cutoffd.err" &
CUTOFFD_PID=$!
for _ in $(seq 100); do
    [ -s "$WORK/ports" ] && break
    sleep 0.1
done
read -r DEC ADM <"$WORK/ports" 2>/dev/null
if [ -n "${ADM:-}" ]; then ok "cutoffd serves on 127.0.0.1:$DEC and :$ADM"
else not_ok "cutoffd writes its ports" "$(cat "$WORK/cutoffd.err")"; finish; exit 1; fi
URL="http://127.0.0.1:$ADM"

# srv WHO ARGS...: the CLI through the server with WHO's token. The actor
# in the environment must be ignored: the server uses the principal.
export CUTOFF_ACTOR=mallory
srv() { local who=$1; shift; echo --server "$URL" --token-file "$WORK/$who.tok" "$@"; }
as() { local who=$1 what=$2; shift 2; expect_ok "$what" --server "$URL" --token-file "$WORK/$who.tok" "$@"; }
as_fail() { local st=$1 who=$2 what=$3; shift 3; expect_fail "$st" "$what" --server "$URL" --token-file "$WORK/$who.tok" "$@"; }

# ---- the reference case, entirely through the server -------------------------------
as root "catalog load (admin)" catalog load "$REF/catalog.json"
expect_eq "catalog counts" "catalog loaded: 4 services, 12 actions, 5 regions, 3 plans" "$OUT"
as root "nodes import streams the file" nodes import "$REF/nodes.jsonl"
expect_eq "import counts" "imported $REF/nodes.jsonl: 22 lines, 22 new, 0 updated, 0 unchanged" "$OUT"
printf '{"id":"unit-x","kind":"unit","parent":"imod"}\n{"id":"x","kind":"unit","parent":"nope"}\n' >bad.jsonl
as_fail 1 root "a bad import line fails" nodes import bad.jsonl
expect_eq "named as FILE:LINE, as locally" 'cutoff: bad.jsonl:2: parent "nope" of "x" is not in the tree' "$ERR"
as_fail 1 auditor "and nothing of it was imported" nodes show unit-x
expect_eq "no node" 'cutoff: no node "unit-x" in the tree' "$ERR"
as root "nodes import from standard input" nodes import - <"$REF/nodes.jsonl"
expect_eq "stdin import counts" "imported stdin: 22 lines, 0 new, 0 updated, 22 unchanged" "$OUT"

as alice "case open" case open --id CASE-7 --title "Reported storage of civilians' call recordings" --scope unit-8200
expect_eq "case open prints the id" CASE-7 "$OUT"
as alice "evidence uploaded" case evidence CASE-7 "$REF/evidence/review-memo.txt" --type text/plain \
    --note "review of business records"
expect_eq "evidence: the server's hash is the file's SHA-256" "$(sha "$REF/evidence/review-memo.txt")" "$OUT"
as alice "evidence with its content kept" case evidence CASE-7 "$REF/evidence/usage-summary.csv" \
    --type text/csv --note "usage figures" --keep-content --json
expect_eq "evidence --json" "CASE-7 $(sha "$REF/evidence/usage-summary.csv") True" \
    "$(printf '%s' "$OUT" | json 'd["case"]+" "+d["sha256"]+" "+str(d["content_kept"])')"
as alice "findings" case findings CASE-7 --text "Records support the reports."
as auditor "case show --json" case show CASE-7 --json
expect_eq "the case: opened by alice (not \$CUTOFF_ACTOR), evidence by alice, content kept once, findings" \
    "alice ['alice', 'alice'] [False, True] Records support the reports." \
    "$(printf '%s' "$OUT" | json 'd["opened_by"]+" "+str([e["added_by"] for e in d["evidence"]])+" "+str([e["content_kept"] for e in d["evidence"]])+" "+d["findings"]')"

as_fail 1 auditor "a viewer cannot propose" action propose "$REF/action.json"
expect_match "the message names the principal's role and the roles needed" \
    'auditor.*viewer.*needs one of investigator,enforcer' "$ERR"
expect_match "and says it is a missing role (403)" '403, a role is missing' "$ERR"
as alice "action propose" action propose "$REF/action.json"
expect_eq "propose prints the id" EA-1 "$OUT"
as_fail 1 alice "the proposer cannot approve" action approve EA-1
expect_eq "four-eyes refusal shows the server's detail" \
    'cutoff: "alice" proposed EA-1 v1 and cannot approve it; a second person must' "$ERR"
as bob "a second person approves" action approve EA-1
expect_match "approved by bob, active now" '^EA-1 version 1 approved by bob; active since [0-9T:-]+Z$' "$(head -1 <<<"$OUT")"
expect_match "with the phases resolved" '2 +[0-9T:-]+Z \(\+30d\) +suspend' "$OUT"
as alice "preview" action preview EA-1
expect_match "previews the active version" '^Preview of EA-1 version 1 \(active, case CASE-7\)' "$OUT"
expect_match "five subscriptions change" 'Subscriptions in scope: 5; whose decisions change: 5' "$OUT"
expect_match "excepted actions unchanged" '^No decision on an excepted action changes' "$OUT"
as_fail 2 alice "preview --at is local only" action preview EA-1 --at 2030-01-01T00:00:00Z

as auditor "check: a write is denied" check sub-8200-storage storage.write --region eu-netherlands
expect_eq "read_only by EA-1" "deny read_only EA-1" "$(head -1 <<<"$OUT")"
expect_match "with the case and status" 'case +CASE-7, action version 1, HTTP status 451' "$OUT"
expect_match "and the notice" 'ref +https://provider.example/notices/EA-1' "$OUT"
as auditor "check: a read is allowed (export window)" check sub-8200-storage storage.read --region eu-netherlands
expect_eq "read allowed" allow "$OUT"
as auditor "check: security stays on" check sub-8200-secops security.scan
expect_eq "excepted" allow "$OUT"
as auditor "check: another unit is untouched" check sub-9900-maps storage.write
expect_eq "allowed" allow "$OUT"
as auditor "check --explain" check sub-8200-storage storage.write --explain
expect_match "explains the path" 'path +sub-8200-storage < unit-8200 < intel-directorate < imod' "$OUT"
expect_match "and who decides" '^ +=> +EA-1 +unit-8200 +storage\.\*' "$OUT"
as auditor "check: 30 days on, suspended" check sub-8200-storage storage.read --at "$(date -u -d '+31 days' +%Y-%m-%dT%H:%M:%SZ)"
expect_eq "suspended" "deny suspended EA-1" "$(head -1 <<<"$OUT")"

printf 'sub-8200-storage\tstorage.write\teu-netherlands\t%s\nsub-8200-storage\tstorage.read\t-\t%s\nsub-8200-secops\tsecurity.scan\t-\t0\nnope\tstorage.read\t-\t0\n' \
    "$(date +%s)" "$(date -u -d '+31 days' +%s)" >batch.tsv
as auditor "check --batch through the server" check --batch batch.tsv
expect_eq "batch decisions" "$(printf 'deny\tread_only\tEA-1\ndeny\tsuspended\tEA-1\nallow\tallow\t-\ndeny\tunknown_subscription\t-')" "$OUT"
server_batch=$OUT
run_cutoff --db "$CUTOFF_DB" check --batch batch.tsv
expect_eq "the same decisions as locally" "$OUT" "$server_batch"
# More requests than one chunk: every one answered, in order.
for i in $(seq 2500); do
    printf 'sub-8200-storage\tstorage.%s\t-\t0\n' "$([ $((i % 2)) -eq 0 ] && echo read || echo write)"
done >many.tsv
as auditor "check --batch with 2500 requests (three chunks)" check --batch many.tsv
expect_eq "2500 decisions" 2500 "$(printf '%s\n' "$OUT" | wc -l)"
server_batch=$OUT
run_cutoff --db "$CUTOFF_DB" check --batch many.tsv
[ "$OUT" == "$server_batch" ] && ok "in the same order as locally" || not_ok "in the same order as locally"
as_fail 2 auditor "--bench is local only" check --batch batch.tsv --bench
expect_match "and says so" 'in-process engine on a local database' "$ERR"

# An action that has not begun yet: its explanation has no phase in force.
sed -e 's/"EA-1"/"EA-2"/' -e 's/"+0"/"2099-01-01T00:00:00Z"/' -e 's/"+30d"/"2099-02-01T00:00:00Z"/' \
    "$REF/action.json" >ea2.json
as alice "propose EA-2 (phases in 2099)" action propose ea2.json
as bob "approve EA-2" action approve EA-2
as auditor "explain shows EA-2 not begun" check sub-8200-storage storage.write --explain
expect_match "not begun" 'EA-2 .* not begun' "$OUT"

# ---- --json through the server equals local mode on the same database -----------------
AT=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)
same_json() {
    local what=$1; shift
    run_cutoff --server "$URL" --token-file "$WORK/alice.tok" --json "$@"
    local remote=$OUT remote_status=$STATUS
    run_cutoff --db "$CUTOFF_DB" --json "$@"
    if [ "$remote_status" -eq 0 ] && [ "$STATUS" -eq 0 ] && [ "$remote" == "$OUT" ] &&
        [ "${OUT:0:1}" == "{" -o "${OUT:0:1}" == "[" ]; then
        ok "--json $what: server and local agree"
    else
        not_ok "--json $what: server and local agree" "status $remote_status / $STATUS" \
            "$(diff <(printf '%s\n' "$remote") <(printf '%s\n' "$OUT") | head -8)"
    fi
}
same_json "catalog show" catalog show
same_json "nodes show (subscription)" nodes show sub-8200-storage
same_json "nodes show (unit)" nodes show unit-8200
same_json "case show" case show CASE-7
same_json "case list" case list
same_json "action show" action show EA-1
same_json "action list" action list
same_json "action preview (active version)" action preview EA-1 --limit 3
same_json "check --explain (deny)" check sub-8200-storage storage.write --region eu-netherlands --at "$AT" --explain
same_json "check (allow)" check sub-8200-secops security.scan --at "$AT"
same_json "check --explain (not entitled)" check sub-cyber-soc ai.infer --at "$AT" --explain
same_json "check --explain (unknown subscription)" check nope storage.write --at "$AT" --explain
same_json "audit log page" audit log --after 3 --limit 4
same_json "audit verify" audit verify
# Human output too, where nothing depends on the clock.
run_cutoff $(srv alice action show EA-1); remote=$OUT
run_cutoff --db "$CUTOFF_DB" action show EA-1
expect_eq "action show for people: the same text" "$OUT" "$remote"
run_cutoff $(srv alice check sub-8200-storage storage.write --at "$AT" --explain); remote=$OUT
run_cutoff --db "$CUTOFF_DB" check sub-8200-storage storage.write --at "$AT" --explain
expect_eq "check --explain for people: the same text" "$OUT" "$remote"

# ---- lift, and the audit log names the principals ------------------------------------
as bob "lift" action lift EA-1 --reason "review concluded"
expect_eq "lifted by bob" "EA-1 version 1 lifted by bob: review concluded" "$OUT"
as auditor "after the lift writes are allowed" check sub-8200-storage storage.write
expect_eq "allow" allow "$OUT"
as auditor "audit verify" audit verify
expect_match "the chain verifies" '^audit log verifies: [0-9]+ records, head [0-9a-f]{64}$' "$OUT"
as auditor "audit log --json (paged by the CLI)" audit log --json
actors=$(printf '%s' "$OUT" | json '" ".join(sorted(set(r["actor"] for r in d)))')
expect_eq "changes are recorded under the token principals, never \$CUTOFF_ACTOR" \
    "alice auditor bob bootstrap root" "$actors"
expect_eq "the approval is bob's" "bob" \
    "$(printf '%s' "$OUT" | json '[r["actor"] for r in d if r["verb"]=="action.approve" and r["object"]=="EA-1"][0]')"
n_all=$(printf '%s' "$OUT" | json 'len(d)')
run_cutoff --db "$CUTOFF_DB" audit log --json
[ "$(printf '%s' "$OUT" | json 'len(d)')" -ge "$n_all" ] && ok "the server's log is the whole log" ||
    not_ok "the server's log is the whole log"

# ---- what only a server can refuse ----------------------------------------------------------
printf 'cutoff_not-a-known-token\n' >bogus.tok
expect_fail 1 "an unknown token is refused" --server "$URL" --token-file bogus.tok case list
expect_match "401, naming the server and the token's source" "^cutoff: $URL does not accept the token from bogus.tok \(401" "$ERR"
expect_fail 2 "no token at all" --server "$URL" case list
expect_match "says where a token comes from" 'needs a token: give --token-file FILE, or set \$CUTOFF_TOKEN_FILE or \$CUTOFF_TOKEN' "$ERR"
OUT=$(CUTOFF_TOKEN=$VIEWER "$CUTOFF" --server "$URL" case list 2>&1)
expect_match "\$CUTOFF_TOKEN works" '^CASE-7 +open' "$(tail -1 <<<"$OUT")"
OUT=$(CUTOFF_SERVER=$URL CUTOFF_TOKEN_FILE=$WORK/auditor.tok "$CUTOFF" case list 2>&1)
expect_match "\$CUTOFF_SERVER and \$CUTOFF_TOKEN_FILE work" '^CASE-7 +open' "$(tail -1 <<<"$OUT")"
expect_fail 2 "a token on the command line is refused" --server "$URL" --token "$VIEWER" case list
expect_fail 2 "--actor with --server is an error" --server "$URL" --token-file auditor.tok --actor bob case list
expect_match "explaining the principal" 'principal of the token' "$ERR"
expect_fail 2 "--db with --server is an error" --server "$URL" --db "$CUTOFF_DB" case list
expect_fail 2 "init is local only" --server "$URL" --token-file root.tok init
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
closed=0
for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    port_free "$p" && { closed=$p; break; }
done
expect_fail 1 "a closed port fails" --server "http://127.0.0.1:$closed" --token-file auditor.tok case list
expect_match "naming the URL" "^cutoff: cannot reach the server at http://127.0.0.1:$closed: " "$ERR"

# Ids may be "." or "..": the path that carries them must reach the server
# as written, not resolved to another resource on the way.
as alice "case open --id .." case open --id .. --title "Dot dot" --scope unit-8200
as alice "case open --id ." case open --id . --title "Dot" --scope unit-8200
same_json "case show .." case show ..
same_json "case show ." case show .
as alice "case close .. through the server" case close ..
run_cutoff --db "$CUTOFF_DB" --json case show ..
expect_match "... closes case \"..\", not another resource" '"status": "closed"' "$OUT"

# ---- tokens: revoke and SIGHUP --------------------------------------------------------------
as carol "carol's token works" case list
expect_ok "token create dave" token create --principal dave --roles viewer --tokens-file tokens
printf '%s\n' "$OUT" >dave.tok && chmod 600 dave.tok
as_fail 1 dave "a new token is unknown until cutoffd re-reads the file" case list
expect_ok "token revoke carol" token revoke --principal carol --tokens-file tokens
expect_eq "revoke says what it did" "revoked 1 token of carol in tokens" "$OUT"
grep -q ' carol ' tokens && not_ok "carol's line is gone" || ok "carol's line is gone"
expect_eq "the others stay" "alice bob root auditor dave" "$(grep -v '^#' tokens | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the rewritten file is still mode 600" 600 "$(stat -c %a tokens)"
expect_eq "its comment lines stay" 2 "$(grep -c '^#' tokens)"
ls tokens.tmp.* >/dev/null 2>&1 && not_ok "no temporary file is left" || ok "no temporary file is left"
expect_fail 1 "revoking a principal without tokens" token revoke --principal carol --tokens-file tokens
kill -HUP "$CUTOFFD_PID"
for _ in $(seq 50); do
    run_cutoff $(srv dave case list)
    [ "$STATUS" -eq 0 ] && break
    sleep 0.1
done
expect_eq "after SIGHUP the new token works" 0 "$STATUS"
as_fail 1 carol "after SIGHUP the revoked token is rejected" case list
expect_match "with 401" '\(401: the bearer token is not known\)' "$ERR"

# ---- stop ----------------------------------------------------------------------------------
kill -TERM "$CUTOFFD_PID"
wait "$CUTOFFD_PID"
status=$?
CUTOFFD_PID=
expect_eq "cutoffd exits 0 on SIGTERM" 0 "$status"
grep -q '"level":"error"' "$WORK/cutoffd.log" && not_ok "cutoffd logged no error" "$(grep '"level":"error"' "$WORK/cutoffd.log" | head -3)" ||
    ok "cutoffd logged no error"
finish
