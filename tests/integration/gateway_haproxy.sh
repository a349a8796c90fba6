#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The reference case through a real HAProxy, whose Lua action asks cutoffd
# about every request with HAProxy's own HTTP client, in front of a real
# storage service and a stand-in security service: exactly
# examples/gateway/haproxy.cfg and cutoff.lua, with this test's ports, and
# cutoffd with examples/gateway/cutoffd.json (the nginx header convention).
# The walk is lib_gateway.sh's, shared with the nginx and Caddy tests.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_gateway.sh"

HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
gw_require "$HAPROXY"
gw_start_cutoffd nginx
gw_start_upstreams

# ---- HAProxy, the gateway ---------------------------------------------------------------
started=
for _ in 1 2 3 4 5; do
    GW=$(pick_port)
    sed -e "s|127.0.0.1:8080|127.0.0.1:$DEC|" -e "s|127.0.0.1:9001|127.0.0.1:$DAV|" \
        -e "s|127.0.0.1:9002|127.0.0.1:$SEC|" -e "s|127.0.0.1:8000|127.0.0.1:$GW|" \
        -e "s|/etc/haproxy/cutoff.lua|$ROOT/examples/gateway/cutoff.lua|" \
        "$ROOT/examples/gateway/haproxy.cfg" >"$WORK/haproxy.cfg"
    "$HAPROXY" -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
    HAPROXY_PID=$!
    gw_stop_later "$HAPROXY_PID"
    if wait_for "$GW" && kill -0 "$HAPROXY_PID" 2>/dev/null; then
        started=1
        break
    fi
    kill "$HAPROXY_PID" 2>/dev/null
done
if [ -n "$started" ]; then ok "HAProxy gateway listens on 127.0.0.1:$GW"
else not_ok "HAProxy starts" "$(tail -5 "$WORK/haproxy.log")"; finish; exit 1; fi
expect_eq "the shipped haproxy.cfg was used, with this test's ports" 4 \
    "$(grep -cE "127.0.0.1:($DEC|$DAV|$SEC|$GW)( |\$)" "$WORK/haproxy.cfg")"
GWURL="http://127.0.0.1:$GW"

gw_upstream_sees_allow
gw_walk
gw_fail_closed
finish
