#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Serves the reference case: a database in build/reference/ holding the
# catalog, the customer tree, CASE-7 and EA-1 (proposed by alice, approved
# by bob), and cutoffd on 127.0.0.1 in front of it, with tokens for alice
# (investigator, enforcer), bob (approver) and an auditor (viewer). Prints
# commands to try with curl and the CLI, then serves until Ctrl-C (or for
# CUTOFF_RUN_SECONDS seconds when that is set).
#
#   bash examples/reference-case/serve.sh [BUILD_DIR]     (the end of make run)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
[[ $build == /* ]] || build="$root/$build"
cutoff="$build/cutoff" cutoffd="$build/cutoffd"
for b in "$cutoff" "$cutoffd"; do
    [ -x "$b" ] || { echo "serve.sh: no $b (build with 'make')" >&2; exit 1; }
done

dir="$build/reference"
rm -rf "$dir"
mkdir -p "$dir"
export CUTOFF_DB="$dir/cutoff.db"
quiet() { "$cutoff" "$@" >/dev/null; }
quiet init
quiet --actor alice catalog load "$here/catalog.json"
quiet --actor alice nodes import "$here/nodes.jsonl"
quiet --actor alice case open --id CASE-7 --scope unit-8200 \
    --title "Reported storage of civilians' call recordings by unit-8200"
quiet --actor alice action propose "$here/action.json"
quiet --actor bob action approve EA-1

# Tokens: the file keeps only their SHA-256; the tokens themselves are shown
# here once.
umask 077
for who in alice:investigator,enforcer bob:approver auditor:viewer; do
    "$cutoff" token create --principal "${who%%:*}" --roles "${who#*:}" \
        --tokens-file "$dir/tokens" >"$dir/${who%%:*}.token" 2>/dev/null
done
umask 022

# The default ports, or free ones when they are taken.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
dport=8080 aport=8081
port_free $dport || dport=0
port_free $aport || aport=0
sed -e "s|\"cutoff.db\"|\"$CUTOFF_DB\"|" -e "s|\"tokens\"|\"$dir/tokens\"|" \
    -e "s|127.0.0.1:8080|127.0.0.1:$dport|" -e "s|127.0.0.1:8081|127.0.0.1:$aport|" \
    "$root/examples/gateway/cutoffd.json" >"$dir/cutoffd.json"

rm -f "$dir/ports"
"$cutoffd" --config "$dir/cutoffd.json" --log "$dir/cutoffd.log" --port-file "$dir/ports" &
pid=$!
# Ctrl-C reaches cutoffd too (same process group); either way it drains and
# exits, and so does this script.
stop() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
trap stop EXIT
trap 'stop; exit 0' INT TERM
for _ in $(seq 100); do
    [ -s "$dir/ports" ] && break
    kill -0 $pid 2>/dev/null || { echo "serve.sh: cutoffd did not start:" >&2; tail -3 "$dir/cutoffd.log" >&2; exit 1; }
    sleep 0.05
done
read -r dport aport <"$dir/ports"
rel() { printf '%s' "${1#"$root"/}"; }

cat <<EOF

== cutoffd is serving the reference case (EA-1 approved: unit-8200 is read-only)

  decisions  http://127.0.0.1:$dport      admin  http://127.0.0.1:$aport
  database   $(rel "$CUTOFF_DB")
  log        $(rel "$dir/cutoffd.log")   (JSON lines)
  tokens     $(rel "$dir")/{alice,bob,auditor}.token   (the file cutoffd reads keeps only hashes)

Decide a request:
  curl -s -X POST http://127.0.0.1:$dport/v1/check -d '{"subscription":"sub-8200-storage","action":"storage.write"}'
  curl -s -X POST http://127.0.0.1:$dport/v1/check -d '{"subscription":"sub-8200-storage","action":"storage.read"}'
  curl -s -X POST http://127.0.0.1:$dport/v1/check -d '{"subscription":"sub-8200-secops","action":"security.scan"}'

As a gateway asks (nginx auth_request, Traefik/Caddy forward-auth):
  curl -si http://127.0.0.1:$dport/v1/authz -H 'X-Forwarded-Method: PUT' -H 'X-Forwarded-Uri: /storage/sub-8200-storage/calls.tar'

The customer's notice (no token: it is what a 451's Link points to):
  curl -s http://127.0.0.1:$dport/v1/notices/EA-1
  curl -s http://127.0.0.1:$dport/v1/notices/EA-1?format=text
  curl -s 'http://127.0.0.1:$dport/v1/notices?subscription=sub-8200-storage'

The admin API and the CLI against the daemon:
  curl -s http://127.0.0.1:$aport/v1/actions/EA-1 -H "Authorization: Bearer \$(cat $(rel "$dir")/auditor.token)"
  CUTOFF_TOKEN_FILE=$(rel "$dir")/alice.token $(rel "$cutoff") --server http://127.0.0.1:$aport action show EA-1
  CUTOFF_TOKEN_FILE=$(rel "$dir")/alice.token $(rel "$cutoff") --server http://127.0.0.1:$aport action lift EA-1 --reason "review concluded"
  curl -s http://127.0.0.1:$aport/metrics | grep cutoff_decisions_total

Ctrl-C stops it.
EOF

if [ -n "${CUTOFF_RUN_SECONDS:-}" ]; then
    sleep "$CUTOFF_RUN_SECONDS"
    kill -TERM $pid
fi
wait $pid
