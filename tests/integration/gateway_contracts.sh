#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Envoy's ext_authz (HTTP service) and Traefik's forwardAuth, whose binaries
# Debian does not ship: cutoffd answers the checks exactly as each gateway
# builds them from examples/gateway/envoy.yaml and traefik.yml, and
# answers them the way each gateway needs (docs/gateway.md names the
# gateways' documentation and source this follows):
#
#   Envoy: the client's method, path_prefix + the client's path and query,
#     Content-Length 0, Host and only the allowed headers; only a 200
#     allows, any other status is passed to the client with the body and
#     the allowed_client_headers.
#   Traefik: a GET of the address with the client's headers and its own
#     X-Forwarded-Method, -Uri, -Host, -Proto, -For; any 2xx allows (and
#     authResponseHeaders are copied upstream); anything else is passed to
#     the client with its status, body and headers.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_gateway.sh"

ENVOY_YAML="$ROOT/examples/gateway/envoy.yaml"
TRAEFIK_YML="$ROOT/examples/gateway/traefik.yml"
gw_require

# ---- what the shipped configurations say ------------------------------------------------
yaml_value() { sed -n "s|^ *$1: *\"\\{0,1\\}\\([^\" ]*\\)\"\\{0,1\\} *\$|\\1|p" "$2" | head -1; }
PREFIX=$(yaml_value path_prefix "$ENVOY_YAML")
expect_eq "envoy.yaml: path_prefix is cutoffd's Envoy endpoint" /v1/authz/envoy "$PREFIX"
expect_eq "envoy.yaml: fails closed (failure_mode_allow: false)" false "$(yaml_value failure_mode_allow "$ENVOY_YAML")"
expect_match "envoy.yaml: a status_on_error" 'status_on_error: \{ code: [A-Za-z]+ \}' "$(cat "$ENVOY_YAML")"
expect_eq "envoy.yaml: the check has a timeout" 2s "$(yaml_value timeout "$ENVOY_YAML")"
expect_match "envoy.yaml: names its header convention" 'Header convention: "envoy"' "$(cat "$ENVOY_YAML")"
# The client headers Envoy lets through on a denial: cutoffd's must all be among them.
client_patterns=$(sed -n '/allowed_client_headers:/,/^ *- name:/p' "$ENVOY_YAML")
expect_match "envoy.yaml: a denial passes Cutoff-*, Link and Content-Type" \
    'prefix: cutoff-.*exact: link.*exact: content-type' "$(echo $client_patterns)"
# Allowed request headers besides Host and Authorization.
ENVOY_ALLOWED=$(sed -n '/^ *allowed_headers:/,/http_service:/s/^ *- exact: *//p' "$ENVOY_YAML")
expect_eq "envoy.yaml: the only other header sent is the request id" x-request-id "$ENVOY_ALLOWED"

TRAEFIK_ADDRESS=$(yaml_value address "$TRAEFIK_YML")
expect_eq "traefik.yml: asks cutoffd's /v1/authz" http://127.0.0.1:8080/v1/authz "$TRAEFIK_ADDRESS"
expect_eq "traefik.yml: never trusts the client's X-Forwarded-*" false "$(yaml_value trustForwardHeader "$TRAEFIK_YML")"
TRAEFIK_COPIED=$(sed -n '/authResponseHeaders:/,/^ *$/s/^ *- *//p' "$TRAEFIK_YML" | tr '\n' ' ')
expect_eq "traefik.yml: copies the decision headers upstream" "Cutoff-Decision Cutoff-Reason " "$TRAEFIK_COPIED"
expect_match "traefik.yml: names its header convention" 'Header convention: "forwarded"' "$(cat "$TRAEFIK_YML")"

# ---- two cutoffd on one database: Envoy's and Traefik's convention --------------------------
gw_start_cutoffd envoy
ENVOY_URL="http://127.0.0.1:$DEC$PREFIX"
ENVOY_DEC=$DEC
gw_start_cutoffd forwarded
TRAEFIK_URL=${TRAEFIK_ADDRESS/127.0.0.1:8080/127.0.0.1:$DEC}

# envoy METHOD PATH [HEADER...]: the check Envoy sends for a client's METHOD PATH.
envoy() {
    local method=$1 path=$2 how=(-X "$1")
    shift 2
    [ "$method" = HEAD ] && how=(--head)
    CODE=$(curl -s -m 10 --path-as-is -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' "${how[@]}" \
        -H 'Host: gateway.example' -H 'Content-Length: 0' -H "x-request-id: envoy-$RANDOM" \
        "${@/#/-H}" "$ENVOY_URL$path")
}
# traefik METHOD URI [CLIENT-HEADER...]: the check Traefik sends.
traefik() {
    local method=$1 uri=$2
    shift 2
    CODE=$(curl -s -m 10 -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' "${@/#/-H}" \
        -H 'User-Agent: client/1.0' -H "X-Forwarded-Method: $method" -H 'X-Forwarded-Proto: http' \
        -H 'X-Forwarded-Host: gateway.example' -H "X-Forwarded-Uri: $uri" -H 'X-Forwarded-For: 127.0.0.1' \
        "$TRAEFIK_URL")
}
F=/storage/sub-8200-storage/archive/file1

# ---- before approval ------------------------------------------------------------------------
all=
for m in GET HEAD PUT DELETE MKCOL PROPFIND; do envoy "$m" "$F"; all="$all $m=$CODE"; done
expect_eq "envoy: every method is allowed before approval, with 200 (Envoy's only allow)" \
    " GET=200 HEAD=200 PUT=200 DELETE=200 MKCOL=200 PROPFIND=200" "$all"
expect_eq "envoy: an allow says so" allow "$(header Cutoff-Decision)"
expect_eq "envoy: an allow has no body" 0 "$(wc -c <"$WORK/body")"
envoy GET /security/sub-8200-secops/scan
expect_eq "envoy: the security service is allowed" 200 "$CODE"
traefik PUT "$F"
expect_match "traefik: a write before approval is a 2xx" '^2[0-9][0-9]$' "$CODE"
for h in $TRAEFIK_COPIED; do
    expect_eq "traefik: an allow carries $h, which authResponseHeaders copies" allow "$(header "$h")"
done

# ---- the export window ----------------------------------------------------------------------
action=$(sed -e 's|"+30d"|"+1h"|' "$CASE/action.json")
admin "$ALICE" POST /v1/actions "$action"
admin "$BOB" POST /v1/actions/EA-1/approve
expect_eq "EA-1 proposed and approved" 200 "$CODE"
# The call went to the other node: Envoy's learns of it from the store, a
# few milliseconds later (more under the sanitisers on a loaded machine).
applied_seq() { curl -s -m 5 "http://127.0.0.1:$1/metrics" | awk '$1 == "cutoff_applied_seq" {print $2}'; }
want=$(applied_seq "$DEC")
for _ in $(seq 1 300); do
    [ "$(applied_seq "$ENVOY_DEC")" -ge "$want" ] 2>/dev/null && break
    sleep 0.05
done
expect_eq "the Envoy node applied the approval made through the other node" "$want" "$(applied_seq "$ENVOY_DEC")"

envoy PUT "$F"
expect_denial "envoy: PUT in the export window" 451 read_only
envoy DELETE "$F?version=2"
expect_denial "envoy: DELETE with a query" 451 read_only
# Every header of the denial that the client needs is one Envoy passes
# (the echoed X-Request-Id is for Envoy's logs, not the client).
unlisted=$(sed -n 's/^\([A-Za-z-]*\):.*/\1/p' "$WORK/headers" | tr 'A-Z' 'a-z' |
    grep -vE '^(cutoff-.*|link|content-type|content-length|date|connection|keep-alive|x-request-id)$' | tr '\n' ' ')
expect_eq "envoy: cutoffd's denial headers are all in allowed_client_headers" "" "$unlisted"
envoy HEAD "$F"
expect_eq "envoy: HEAD in the export window is allowed" 200 "$CODE"
envoy GET "$F"
expect_eq "envoy: GET in the export window is allowed" 200 "$CODE"
envoy PUT /storage/sub-logistics-erp/orders.csv
expect_eq "envoy: another unit still writes" 200 "$CODE"

traefik PUT "$F"
expect_denial "traefik: PUT in the export window" 451 read_only
traefik GET "$F"
expect_match "traefik: GET in the export window is a 2xx" '^2[0-9][0-9]$' "$CODE"

# ---- header conventions: never mixed -------------------------------------------------------
# Both other conventions' headers on an Envoy check (a deployment that lets
# them through allowed_headers): the request line decides.
FORGED_GET=('X-Original-Method: GET' 'X-Original-URI: /storage/sub-logistics-erp/a'
    'X-Forwarded-Method: GET' 'X-Forwarded-Uri: /storage/sub-logistics-erp/a')
FORGED_PUT=('X-Original-Method: PUT' 'X-Original-URI: /storage/sub-8200-storage/a'
    'X-Forwarded-Method: PUT' 'X-Forwarded-Uri: /storage/sub-8200-storage/a')
envoy PUT "$F" "${FORGED_GET[@]}"
expect_eq "envoy: a PUT with both header conventions saying GET elsewhere is refused" "451 read_only" "$CODE $(header Cutoff-Reason)"
envoy GET "$F" "${FORGED_PUT[@]}"
expect_eq "envoy: a GET with both header conventions saying PUT is allowed" 200 "$CODE"
# Traefik copies the client's headers: nginx's convention is never read.
traefik PUT "$F" 'X-Original-Method: GET' 'X-Original-URI: /storage/sub-logistics-erp/a'
expect_eq "traefik: a client's X-Original-* cannot turn a PUT into a read" "451 read_only" "$CODE $(header Cutoff-Reason)"
traefik GET "$F" 'X-Original-Method: PUT' "X-Original-URI: $F"
expect_match "traefik: a client's X-Original-* cannot turn a GET into a write" '^2[0-9][0-9]$' "$CODE"
# Each listener answers only its own convention's checks.
CODE=$(curl -s -o /dev/null -D "$WORK/headers" -w '%{http_code}' -H 'X-Forwarded-Method: GET' \
    -H "X-Forwarded-Uri: $F" -H 'X-Original-Method: GET' -H "X-Original-URI: $F" "${ENVOY_URL%/envoy}")
expect_eq "envoy listener: /v1/authz with header conventions is refused" "403 bad_request" "$CODE $(header Cutoff-Reason)"
saved=$ENVOY_URL
ENVOY_URL="${TRAEFIK_URL}/envoy"
envoy GET "$F"
expect_eq "forwarded listener: an Envoy check is refused" "403 bad_request" "$CODE $(header Cutoff-Reason)"
ENVOY_URL=$saved

# ---- what Envoy could send that is not one reading ---------------------------------------
bad=
for path in "${HOSTILE_PATHS[@]}"; do
    envoy PUT "${path%T}x"
    [ "$CODE $(header Cutoff-Reason)" = "403 bad_request" ] || bad="$bad ${path%T}x=$CODE"
done
expect_eq "envoy: ${#HOSTILE_PATHS[@]} ambiguous paths are refused as sent (not decoded first)" "" "$bad"
bad=
for path in "${HOSTILE_PATHS[@]}"; do
    traefik PUT "${path%T}x"
    [ "$CODE $(header Cutoff-Reason)" = "403 bad_request" ] || bad="$bad ${path%T}x=$CODE"
done
expect_eq "traefik: ${#HOSTILE_PATHS[@]} ambiguous X-Forwarded-Uri values are refused" "" "$bad"
CODE=$(curl -s -o /dev/null -D "$WORK/headers" -w '%{http_code}' -X PUT "$ENVOY_URL")
expect_eq "envoy: the prefix alone (no original path) is refused" "403 bad_request" "$CODE $(header Cutoff-Reason)"
CODE=$(curl -s -o /dev/null -D "$WORK/headers" -w '%{http_code}' -X PUT "$ENVOY_URL?/storage/sub-logistics-erp/a")
expect_eq "envoy: the prefix and a query is refused" "403 bad_request" "$CODE $(header Cutoff-Reason)"
CODE=$(curl -s -o /dev/null -w '%{http_code}' --path-as-is -X PUT \
    "${ENVOY_URL%/envoy}/%65nvoy/storage/sub-logistics-erp/a")
expect_match "envoy: an escaped prefix is not a check that allows" '^4[0-9][0-9]$' "$CODE"

gw_stop_cutoffd
finish
