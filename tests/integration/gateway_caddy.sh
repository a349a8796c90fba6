#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The reference case through a real Caddy (forward_auth) in front of a real
# storage service and a stand-in security service: exactly
# examples/gateway/Caddyfile, with this test's ports, and cutoffd with
# examples/gateway/cutoffd.json in the "forwarded" header convention. The
# walk is lib_gateway.sh's, shared with the nginx and HAProxy tests.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_gateway.sh"

CADDY=$(command -v caddy || echo /usr/bin/caddy)
gw_require "$CADDY"
gw_start_cutoffd forwarded
gw_start_upstreams

# ---- Caddy, the gateway ---------------------------------------------------------------
# Its state (autosave, certificates it would never need) stays in $WORK.
mkdir -p "$WORK/caddy"
started=
for _ in 1 2 3 4 5; do
    GW=$(pick_port)
    sed -e "s|127.0.0.1:8080|127.0.0.1:$DEC|" -e "s|127.0.0.1:9001|127.0.0.1:$DAV|" \
        -e "s|127.0.0.1:9002|127.0.0.1:$SEC|" -e "s|^http://:8000 {|http://:$GW {|" \
        "$ROOT/examples/gateway/Caddyfile" >"$WORK/caddy/Caddyfile"
    HOME="$WORK/caddy" XDG_DATA_HOME="$WORK/caddy" XDG_CONFIG_HOME="$WORK/caddy" \
        "$CADDY" run --config "$WORK/caddy/Caddyfile" --adapter caddyfile >"$WORK/caddy.log" 2>&1 &
    CADDY_PID=$!
    gw_stop_later "$CADDY_PID"
    if wait_for "$GW" && kill -0 "$CADDY_PID" 2>/dev/null; then
        started=1
        break
    fi
    kill "$CADDY_PID" 2>/dev/null
done
if [ -n "$started" ]; then ok "Caddy gateway listens on 127.0.0.1:$GW"
else not_ok "Caddy starts" "$(tail -5 "$WORK/caddy.log")"; finish; exit 1; fi
expect_eq "the shipped Caddyfile was used, with this test's ports" 4 \
    "$(grep -cE "127.0.0.1:($DEC|$DAV|$SEC)|^http://:$GW \{" "$WORK/caddy/Caddyfile")"
GWURL="http://127.0.0.1:$GW"

gw_upstream_sees_allow
gw_walk
gw_fail_closed
finish
