#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The admin API's route table is its policy. This walks every row that
# `cutoffd --routes=json` prints, for a token of every role and for no
# token, against a running cutoffd: a role the row names is never refused
# for its role, every other role is refused with 403 and the role problem
# type, and no token gets 401. It also checks that the role matrix in
# docs/cutoffd.md is exactly `cutoffd --routes`, and that errors carry the
# status and title of their code in the error table.
source "$(dirname "$0")/lib.sh"

CUTOFFD="$ROOT/$CUTOFF_BUILD/cutoffd"
cd "$WORK" || exit 1
CUTOFFD_PID=
cleanup() {
    [ -n "$CUTOFFD_PID" ] && kill "$CUTOFFD_PID" 2>/dev/null && wait "$CUTOFFD_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

ROLES="viewer investigator enforcer approver admin"

# ---- the docs show the table the code has ------------------------------------------------
"$CUTOFFD" --routes >matrix.md
expect_eq "cutoffd --routes prints a table" 0 "$?"
# The matrix in the docs sits between these two marker lines.
sed -n '/<!-- routes:begin -->/,/<!-- routes:end -->/p' "$ROOT/docs/cutoffd.md" | sed '1d;$d' >doc-matrix.md
expect_eq "docs/cutoffd.md holds exactly the route table of cutoffd --routes" "" "$(diff doc-matrix.md matrix.md | head -5)"
"$CUTOFFD" --routes=json >routes.jsonl
expect_eq "--routes=json prints one line per row of the table" "$(($(wc -l <matrix.md) - 2))" "$(wc -l <routes.jsonl)"
expect_eq "every verb is unique" "" "$(jq -r .verb routes.jsonl | sort | uniq -d)"
expect_eq "every method and path is unique" "" "$(jq -r '"\(.method) \(.path)"' routes.jsonl | sort | uniq -d)"
expect_eq "admin may call every route" "$(wc -l <routes.jsonl)" "$(jq -c 'select(.roles | index("admin"))' routes.jsonl | wc -l)"

# ---- a daemon with one token per role ------------------------------------------------------
"$CUTOFF" init >/dev/null
for role in $ROLES; do
    "$CUTOFF" token create --principal "p-$role" --roles "$role" --tokens-file tokens >"$role.tok" 2>/dev/null
done
"$CUTOFFD" --db "$CUTOFF_DB" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --port-file ports \
    --tokens tokens --log cutoffd.log 2>cutoffd.err &
CUTOFFD_PID=$!
for _ in $(seq 100); do [ -s ports ] && break; sleep 0.1; done
read -r _ ADM <ports 2>/dev/null
if [ -z "${ADM:-}" ]; then not_ok "cutoffd starts" "$(cat cutoffd.err)"; finish; exit 1; fi
ok "cutoffd serves its admin API on 127.0.0.1:$ADM"

# call METHOD PATH [TOKEN_FILE]: status in $CODE, body in body.json. Bodies
# are empty: a handler may refuse them, but only after the role check.
call() {
    local auth=()
    [ -n "${3:-}" ] && auth=(-H "Authorization: Bearer $(cat "$3")")
    CODE=$(curl -s -o body.json -w '%{http_code}' -X "$1" "${auth[@]}" --data-binary '' \
        "http://127.0.0.1:$ADM$2")
}

refused_right=0 allowed_right=0 unauth_right=0 rows=0 wrong=
while read -r row; do
    method=$(jq -r .method <<<"$row")
    path=$(jq -r '.path | gsub("\\{id\\}"; "X-none")' <<<"$row")
    verb=$(jq -r .verb <<<"$row")
    rows=$((rows + 1))
    call "$method" "$path"
    if [ "$CODE" = 401 ] && jq -e '.code == "EAUTH"' body.json >/dev/null; then
        unauth_right=$((unauth_right + 1))
    else
        wrong="$wrong; $verb without a token: $CODE $(head -c 200 body.json)"
    fi
    for role in $ROLES; do
        call "$method" "$path" "$role.tok"
        role_refused=false
        [ "$CODE" = 403 ] && jq -e '.type == "urn:cutoff:problem:role" and .code == "EPERM"' body.json >/dev/null &&
            role_refused=true
        if jq -e --arg r "$role" '.roles | index($r)' <<<"$row" >/dev/null; then
            if $role_refused; then wrong="$wrong; $verb refused $role"; else allowed_right=$((allowed_right + 1)); fi
        else
            if $role_refused; then refused_right=$((refused_right + 1)); else wrong="$wrong; $verb let $role in ($CODE)"; fi
        fi
    done
done <routes.jsonl
allowed=$(jq -s 'map(.roles | length) | add' routes.jsonl)
expect_eq "every row answers 401 EAUTH without a token" "$rows" "$unauth_right"
expect_eq "every role a row names passes the role check ($allowed pairs)" "$allowed" "$allowed_right"
expect_eq "every other role is refused with the role problem ($((rows * 5 - allowed)) pairs)" \
    "$((rows * 5 - allowed))" "$refused_right"
[ -n "$wrong" ] && echo "# wrong:${wrong:0:1500}"

# ---- errors come from the one table ---------------------------------------------------------
call GET /v1/nope viewer.tok
expect_eq "an unknown resource: 404 ENOTFOUND, titled Not Found" "404 ENOTFOUND Not Found" \
    "$CODE $(jq -r '"\(.code) \(.title)"' body.json)"
call DELETE /v1/cases viewer.tok
expect_eq "a known resource with another method: 405 EMETHOD" "405 EMETHOD Method Not Allowed" \
    "$CODE $(jq -r '"\(.code) \(.title)"' body.json)"
call GET /v1/cases/X-none viewer.tok
expect_eq "a missing case: 404 ENOTFOUND from the library" "404 ENOTFOUND" "$CODE $(jq -r .code body.json)"
call PUT /v1/catalog admin.tok
expect_eq "a malformed catalog: 400 EPARSE" "400 EPARSE Bad Request" "$CODE $(jq -r '"\(.code) \(.title)"' body.json)"
expect_eq "cutoffd logged no error" "" "$(grep '"level":"error"' cutoffd.log | head -3)"
finish
