#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The reference case through a real nginx (auth_request) in front of a real
# storage service and a stand-in security service: exactly
# examples/gateway/nginx-cutoff.conf, with this test's ports, and cutoffd
# with examples/gateway/cutoffd.json (the nginx header convention). The walk
# is lib_gateway.sh's, shared with the Caddy and HAProxy tests.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_gateway.sh"

gw_require
gw_start_cutoffd nginx
gw_start_upstreams

# ---- nginx, the gateway -------------------------------------------------------------
mkdir -p "$WORK/gw/logs"
for d in body proxy fastcgi uwsgi scgi; do mkdir -p "$WORK/gw/$d"; done
chmod 755 "$WORK/gw"
chmod 777 "$WORK/gw/body" "$WORK/gw/proxy" "$WORK/gw/fastcgi" "$WORK/gw/uwsgi" "$WORK/gw/scgi"
started=
for _ in 1 2 3 4 5; do
    GW=$(pick_port)
    sed -e "s|127.0.0.1:8080|127.0.0.1:$DEC|" -e "s|127.0.0.1:9001|127.0.0.1:$DAV|" \
        -e "s|127.0.0.1:9002|127.0.0.1:$SEC|" -e "s|127.0.0.1:8000|127.0.0.1:$GW|" \
        "$ROOT/examples/gateway/nginx-cutoff.conf" >"$WORK/gw/gateway.conf"
    cat >"$WORK/gw/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/gw/nginx.pid;
error_log $WORK/gw/logs/error.log warn;
events { worker_connections 256; }
http {
    access_log $WORK/gw/logs/access.log;
    client_body_temp_path $WORK/gw/body;
    proxy_temp_path $WORK/gw/proxy;
    fastcgi_temp_path $WORK/gw/fastcgi;
    uwsgi_temp_path $WORK/gw/uwsgi;
    scgi_temp_path $WORK/gw/scgi;
    include $WORK/gw/gateway.conf;
}
CONF
    if "$NGINX" -p "$WORK/gw" -c "$WORK/gw/nginx.conf" -e "$WORK/gw/logs/error.log" \
        2>"$WORK/gw.err" && wait_for "$GW"; then
        started=1
        break
    fi
done
gw_stop_later "$WORK/gw/nginx.pid"
if [ -n "$started" ]; then ok "nginx gateway listens on 127.0.0.1:$GW"
else not_ok "nginx starts" "$(cat "$WORK/gw.err")"; finish; exit 1; fi
GWURL="http://127.0.0.1:$GW"

gw_walk
gw_fail_closed
finish
