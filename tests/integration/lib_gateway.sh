# SPDX-License-Identifier: Apache-2.0
# The reference case through a real gateway, shared by gateway_nginx.sh,
# gateway_caddy.sh and gateway_haproxy.sh: cutoffd with
# examples/gateway/cutoffd.json, a real storage service (nginx's WebDAV
# module over a temporary directory) and a stand-in security service behind
# the gateway, and the walk itself. A gateway test sources lib.sh and this
# file, then:
#
#   gw_require caddy "$CADDY"            the binaries are there, or the test fails
#   gw_start_cutoffd nginx               cutoffd, with this forward_headers
#   gw_start_upstreams                   storage on $DAV, security on $SEC
#   GW=$(pick_port) ... start the gateway on 127.0.0.1:$GW, in front of
#       127.0.0.1:$DEC (cutoffd), :$DAV and :$SEC; gw_stop_later PID|PIDFILE
#   gw_walk                              the walk, then finish
#
# Everything listens on 127.0.0.1 on ports picked here and is stopped by
# PID at the end.

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
CUTOFFD="$ROOT/$CUTOFF_BUILD/cutoffd"
CUTOFFD_PID=
_gw_stop=() # PIDs, and pid files to read at the end

# gw_require NAME PATH...: every named program is executable, else the test fails.
gw_require() {
    local p missing=
    for p in "$@"; do [ -x "$p" ] || missing="$missing $p"; done
    [ -x "$CUTOFFD" ] || missing="$missing $CUTOFFD"
    [ -x "$NGINX" ] || missing="$missing $NGINX (the storage service)"
    if [ -n "$missing" ]; then
        not_ok "the gateway, nginx and cutoffd are available" "missing:$missing" \
            "bash scripts/install-deps.sh installs them"
        finish
        exit 1
    fi
}

gw_stop_later() { _gw_stop+=("$1"); }

_gw_cleanup() {
    local p
    for p in "${_gw_stop[@]}"; do
        [ -f "$p" ] && p=$(cat "$p" 2>/dev/null)
        [ -n "$p" ] && kill "$p" 2>/dev/null
    done
    [ -n "$CUTOFFD_PID" ] && kill "$CUTOFFD_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap _gw_cleanup EXIT

source "$ROOT/tests/support/ports.sh"

# ---- the database and cutoffd ----------------------------------------------------
CASE="$ROOT/examples/reference-case"
token() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
hash() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# gw_start_cutoffd CONVENTION: cutoffd with the shipped cutoffd.json, its
# forward_headers set to CONVENTION; the first call also prepares the
# reference case's database and tokens for alice, bob and an auditor
# (ALICE, BOB, VIEWER). Sets DEC and ADM (the ports) and CUTOFFD_PID.
_gw_db_ready=
gw_start_cutoffd() {
    [ -n "$_gw_db_ready" ] || _gw_prepare_db
    _gw_db_ready=1
    sed -e "s|\"cutoff.db\"|\"$CUTOFF_DB\"|" -e "s|\"tokens\"|\"$WORK/tokens\"|" \
        -e "s|127.0.0.1:8080|127.0.0.1:0|" -e "s|127.0.0.1:8081|127.0.0.1:0|" \
        -e "s|\"forward_headers\": \"nginx\"|\"forward_headers\": \"$1\"|" \
        "$ROOT/examples/gateway/cutoffd.json" >"$WORK/cutoffd-$1.json"
    expect_match "cutoffd.json takes the $1 convention" "\"forward_headers\": \"$1\"" "$(cat "$WORK/cutoffd-$1.json")"
    rm -f "$WORK/ports"
    "$CUTOFFD" --config "$WORK/cutoffd-$1.json" --log "$WORK/cutoffd-$1.log" --port-file "$WORK/ports" 2>"$WORK/cutoffd-$1.err" &
    CUTOFFD_PID=$!
    gw_stop_later "$CUTOFFD_PID"
    for _ in $(seq 100); do [ -s "$WORK/ports" ] && break; sleep 0.1; done
    read -r DEC ADM <"$WORK/ports" 2>/dev/null || DEC=
    if [ -n "$DEC" ] && wait_for "$DEC" && wait_for "$ADM"; then ok "cutoffd ($1) listens on 127.0.0.1:$DEC and :$ADM"
    else not_ok "cutoffd ($1) listens" "$(tail -5 "$WORK/cutoffd-$1.log")"; finish; exit 1; fi
    ADMURL="http://127.0.0.1:$ADM"
}

_gw_prepare_db() {
    export CUTOFF_ACTOR=alice
    run_cutoff init
    run_cutoff catalog load "$CASE/catalog.json"
    run_cutoff nodes import "$CASE/nodes.jsonl"
    run_cutoff case open --id CASE-7 --title "Reported storage of civilians' call recordings" --scope unit-8200
    expect_eq "database prepared with the reference case" 0 "$STATUS"
    ALICE=$(token) BOB=$(token) VIEWER=$(token)
    cat >"$WORK/tokens" <<EOF
# test tokens
sha256:$(hash "$ALICE") alice investigator,enforcer,approver
sha256:$(hash "$BOB") bob approver
sha256:$(hash "$VIEWER") auditor viewer
EOF
}

# ---- the services behind the gateway -----------------------------------------------
# gw_start_upstreams: nginx with the storage service (WebDAV over $WORK/data)
# on $DAV and the security service on $SEC.
gw_start_upstreams() {
    # nginx workers may run as another user (nobody) than the master.
    chmod 755 "$WORK"
    mkdir -p "$WORK/up/logs" "$WORK/data"
    for d in body proxy fastcgi uwsgi scgi; do mkdir -p "$WORK/up/$d"; done
    chmod 755 "$WORK/up"
    chmod 777 "$WORK/data" "$WORK/up/body" "$WORK/up/proxy" "$WORK/up/fastcgi" "$WORK/up/uwsgi" "$WORK/up/scgi"
    local started=
    for _ in 1 2 3 4 5; do
        DAV=$(pick_port) SEC=$(pick_port)
        cat >"$WORK/up/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/up/nginx.pid;
error_log $WORK/up/logs/error.log warn;
events { worker_connections 256; }
http {
    access_log $WORK/up/logs/access.log;
    client_body_temp_path $WORK/up/body;
    proxy_temp_path $WORK/up/proxy;
    fastcgi_temp_path $WORK/up/fastcgi;
    uwsgi_temp_path $WORK/up/uwsgi;
    scgi_temp_path $WORK/up/scgi;
    server {
        listen 127.0.0.1:$DAV;
        client_max_body_size 1g;
        location /storage/ {
            alias $WORK/data/;
            dav_methods PUT DELETE MKCOL;
            create_full_put_path on;
        }
    }
    server {
        listen 127.0.0.1:$SEC;
        location /security/ {
            default_type application/json;
            return 200 '{"service":"security","ok":true,"cutoff_decision":"\$http_cutoff_decision"}\n';
        }
    }
}
EOF
        if "$NGINX" -p "$WORK/up" -c "$WORK/up/nginx.conf" -e "$WORK/up/logs/error.log" \
            2>"$WORK/up.err" && wait_for "$DAV" && wait_for "$SEC"; then
            started=1
            break
        fi
    done
    gw_stop_later "$WORK/up/nginx.pid"
    if [ -n "$started" ]; then ok "storage (WebDAV) on 127.0.0.1:$DAV, security on :$SEC"
    else not_ok "the services behind the gateway start" "$(cat "$WORK/up.err")"; finish; exit 1; fi
}

# ---- requests through the gateway ---------------------------------------------------
# req METHOD PATH [FILE]: status code in $CODE, body in $WORK/body, headers in $WORK/headers
req() {
    local extra=()
    [ -n "${3:-}" ] && extra=(--data-binary "@$3")
    CODE=$(curl -s -m 20 -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$1" "${extra[@]}" "$GWURL$2")
}
admin() { # admin TOKEN METHOD PATH [JSON]
    local extra=()
    [ -n "${4:-}" ] && extra=(-H 'Content-Type: application/json' --data-binary "$4")
    CODE=$(curl -s -o "$WORK/body" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $1" "${extra[@]}" "$ADMURL$3")
}
header() { grep -i "^$1:" "$WORK/headers" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

# The files the unit stores: must never change.
intact() { # intact WHAT: every stored file is byte for byte what was written
    local bad=0
    for i in 1 2 3; do cmp -s "$WORK/file$i" "$WORK/data/sub-8200-storage/archive/file$i" || bad=1; done
    [ "$bad" -eq 0 ] && ok "stored files are intact $1" || not_ok "stored files are intact $1"
}
download_all() { # download_all WHAT: every file downloads through the gateway, identical
    local bad=0
    for i in 1 2 3; do
        curl -s -m 20 -o "$WORK/got$i" "$GWURL/storage/sub-8200-storage/archive/file$i"
        cmp -s "$WORK/file$i" "$WORK/got$i" || bad=1
    done
    [ "$bad" -eq 0 ] && ok "every file downloads intact $1" || not_ok "every file downloads intact $1"
}

# hostile WHAT METHODS...: sends each method with every spelling of a path
# that starts in another unit's subscription (allowed) and resolves into
# sub-8200-storage (restricted), through the gateway to the WebDAV upstream,
# with curl's --path-as-is so the dots arrive as written. Nothing may be
# written, created, deleted or served: no 2xx answer, no new file.
HOSTILE_PATHS=(
    '/storage/sub-logistics-erp/../sub-8200-storage/archive/T'
    '/storage/sub-logistics-erp/%2e%2e/sub-8200-storage/archive/T'
    '/storage/sub-logistics-erp/%2E%2E/sub-8200-storage/archive/T'
    '/storage/sub-logistics-erp/.%2e/sub-8200-storage/archive/T'
    '/storage/sub-logistics-erp/%2e./sub-8200-storage/archive/T'
    '/storage/sub-logistics-erp/..%2Fsub-8200-storage/archive/T'
    '/storage/sub-logistics-erp/..%2fsub-8200-storage/archive/T'
    '/storage/sub-logistics-erp%2F..%2Fsub-8200-storage/archive/T'
    '/storage/sub-logistics-erp/%2e%2e%2fsub-8200-storage/archive/T'
    '/storage/sub-logistics-erp/./../sub-8200-storage/archive/T'
    '/storage/sub-logistics-erp//../sub-8200-storage/archive/T'
    '/storage/sub-logistics-erp/x/../../sub-8200-storage/archive/T'
    '/storage/sub-logistics-erp/..;/sub-8200-storage/archive/T'
    '/storage/sub-logistics-erp/..%5csub-8200-storage/archive/T'
    '/storage/sub-logistics-erp/%252e%252e/sub-8200-storage/archive/T'
    '/storage/sub-logistics-erp/%2e%2e%00/sub-8200-storage/archive/T'
    '/storage/sub-logistics-erp%00/../sub-8200-storage/archive/T'
    '/storage/./sub-8200-storage/archive/T'
    '/storage/sub-logistics-erp/.%2E/.%2E/storage/sub-8200-storage/archive/T'
)
hostile() {
    local what=$1 passed=0 sent=0 method path target leaks=
    shift
    touch "$WORK/hostile.mark"
    sleep 1 # file times have a one-second grain on some file systems
    for method in "$@"; do
        for path in "${HOSTILE_PATHS[@]}"; do
            # PUT and MKCOL name a new file or directory; DELETE and GET an existing file.
            case $method in PUT | MKCOL) target=${path%T}evil-$method-$sent ;; *) target=${path%T}file1 ;; esac
            sent=$((sent + 1))
            local extra=(-X "$method")
            [ "$method" = PUT ] && extra+=(--data-binary "@$WORK/file2")
            [ "$method" = HEAD ] && extra=(--head) # -X HEAD would wait for a body
            CODE=$(curl -s -m 10 --path-as-is -o "$WORK/body" -w '%{http_code}' "${extra[@]}" "$GWURL$target")
            case $CODE in 2*) leaks="$leaks $method $target=$CODE;" ;; *) passed=$((passed + 1)) ;; esac
            [ "$method" = GET ] && cmp -s "$WORK/body" "$WORK/file1" && leaks="$leaks served $target;"
        done
    done
    expect_eq "$what: $sent hostile requests ($*), none answered 2xx or served the file" "$sent" "$passed"
    [ -n "$leaks" ] && echo "# leaked:${leaks:0:1500}"
    expect_eq "$what: nothing new in the restricted subscription's storage" "" \
        "$(find "$WORK/data/sub-8200-storage" -newer "$WORK/hostile.mark" | head -5)"
    intact "after the hostile requests ($what)"
}

# expect_denial WHAT STATUS REASON: the last answer is cutoffd's denial as
# the client must see it: the action's status, reason, action and case,
# the problem body, and for a 451 the Link to the notice.
expect_denial() {
    expect_eq "$1: refused with the action's status ($2)" "$2" "$CODE"
    expect_eq "$1: Cutoff-Reason is relayed" "$3" "$(header Cutoff-Reason)"
    expect_eq "$1: Cutoff-Action and Cutoff-Case are relayed" "EA-1 CASE-7" "$(header Cutoff-Action) $(header Cutoff-Case)"
    expect_eq "$1: Cutoff-Status is relayed" "$2" "$(header Cutoff-Status)"
    [ "$2" = 451 ] && expect_match "$1: Link names the notice" '^<https://provider.example/notices/EA-1>; rel="blocked-by"$' "$(header Link)"
    expect_eq "$1: problem content type" "application/problem+json" "$(header Content-Type)"
    expect_match "$1: the problem body names the reason" "\"reason\":\"$3\"" "$(cat "$WORK/body")"
}

# gw_upstream_sees_allow: a gateway that passes cutoffd's Cutoff-Decision to
# the upstream on an allow (Caddy's copy_headers, cutoff.lua) passes
# cutoffd's own: the security service echoes what it received, which must
# be "allow" - not the client's forged value, not a placeholder.
gw_upstream_sees_allow() {
    CODE=$(curl -s -m 20 -o "$WORK/body" -w '%{http_code}' -H 'Cutoff-Decision: forged' "$GWURL/security/sub-8200-secops/scan")
    expect_eq "an allowed request reaches the security service" 200 "$CODE"
    expect_match "the upstream sees cutoffd's Cutoff-Decision, not the client's" '"cutoff_decision":"allow"' "$(cat "$WORK/body")"
    expect_eq "no placeholder text reaches the upstream" "" "$(grep -o '{http[^"]*' "$WORK/body")"
}

# ---- a shadow run over the gateway's traffic -----------------------------------------
# gw_shadow_traffic: the same requests through the gateway before and after
# the approval, one "METHOD SUBSCRIPTION STATUS" line each: writes and reads
# of the unit, its security service, another unit's write.
gw_shadow_traffic() {
    local i
    for i in 1 2 3; do
        req PUT "/storage/sub-8200-storage/archive/shadow$i" "$WORK/file1"
        echo "PUT sub-8200-storage $CODE"
    done
    req GET /storage/sub-8200-storage/archive/file2
    echo "GET sub-8200-storage $CODE"
    req GET /security/sub-8200-secops/scan
    echo "GET sub-8200-secops $CODE"
    req PUT /storage/sub-logistics-erp/shadow.csv "$WORK/file1"
    echo "PUT sub-logistics-erp $CODE"
}
# gw_shadow_run: the proposer alone runs the draft EA-1 in shadow over that
# traffic, which passes untouched, stops it, and keeps the report in
# $WORK/shadow.report for the comparison after the approval.
gw_shadow_run() {
    admin "$ALICE" POST /v1/actions/EA-1/shadow/start
    expect_eq "alice alone starts a shadow run of EA-1" 200 "$CODE"
    gw_shadow_traffic >"$WORK/shadow.during"
    expect_eq "in shadow, nothing is refused" "" "$(awk '$3 !~ /^2/' "$WORK/shadow.during")"
    admin "$ALICE" POST /v1/actions/EA-1/shadow/stop
    expect_eq "alice stops it" 200 "$CODE"
    for _ in $(seq 100); do
        admin "$ALICE" GET /v1/actions/EA-1/shadow
        [ "$(jq '[.nodes[] | select(.ended)] | length' "$WORK/body" 2>/dev/null)" = 1 ] && break
        sleep 0.05
    done
    cp "$WORK/body" "$WORK/shadow.report"
    expect_eq "the report has cutoffd's last counts" 1 "$(jq '[.nodes[] | select(.ended)] | length' "$WORK/shadow.report")"
}

# ---- the walk -----------------------------------------------------------------------
# gw_walk: the reference case through the gateway at $GWURL, then finish.
gw_walk() {
    for i in 1 2 3; do head -c $((100000 * i + 7)) /dev/urandom >"$WORK/file$i"; done

    # 1. before approval everything passes
    for i in 1 2 3; do req PUT "/storage/sub-8200-storage/archive/file$i" "$WORK/file$i"; done
    expect_match "before approval: PUT is stored (201)" '^201$' "$CODE"
    download_all "before approval"
    req GET /security/sub-8200-secops/scan
    expect_eq "before approval: security service answers" 200 "$CODE"
    expect_eq "before approval: no denial headers reach the client" "" "$(header Cutoff-Reason)"
    intact "before approval"

    # 2. propose, four eyes, approve
    local action
    action=$(sed -e 's|"+30d"|"+10s"|' "$CASE/action.json")
    admin "$ALICE" POST /v1/actions "$action"
    expect_eq "alice proposes EA-1 over the admin API" 200 "$CODE"
    admin "$ALICE" POST /v1/actions/EA-1/approve
    expect_eq "alice cannot approve her own proposal (403)" 403 "$CODE"
    expect_match "the refusal says why" 'second person|cannot approve' "$(cat "$WORK/body")"
    admin "$VIEWER" POST /v1/actions/EA-1/approve
    expect_eq "a viewer cannot approve (403)" 403 "$CODE"
    admin "" GET /v1/actions
    expect_eq "no token, no admin API (401)" 401 "$CODE"
    gw_shadow_run
    admin "$BOB" POST /v1/actions/EA-1/approve
    expect_eq "bob approves EA-1" 200 "$CODE"
    gw_shadow_traffic >"$WORK/shadow.after"
    local refused
    refused=$(awk '$3 == 451 { n[$2]++ } END { for (s in n) print s, n[s] }' "$WORK/shadow.after" | sort)
    expect_eq "once approved, the unit's three writes of that traffic are refused" "sub-8200-storage 3" "$refused"
    expect_eq "the shadow run counted exactly the requests the approved action refuses" \
        "$refused" "$(jq -r '.subscriptions.items[] | "\(.subscription) \([.actions[].would_deny] | add)"' \
        "$WORK/shadow.report" | sort)"
    expect_eq "and in total" "$(grep -c ' 451$' "$WORK/shadow.after")" "$(jq .would_deny "$WORK/shadow.report")"

    # 3. the export window: reads pass, writes are refused
    req PUT /storage/sub-8200-storage/archive/file4 "$WORK/file1"
    expect_denial "export window: PUT" 451 read_only
    expect_match "export window: the body says when the window ends" '"export_window_ends"' "$(cat "$WORK/body")"
    req DELETE /storage/sub-8200-storage/archive/file1
    expect_denial "export window: DELETE" 451 read_only
    download_all "in the export window"
    req GET /security/sub-8200-secops/scan
    expect_eq "export window: security service unaffected" 200 "$CODE"
    req PUT /storage/sub-logistics-erp/orders.csv "$WORK/file1"
    expect_eq "export window: another unit still writes" 201 "$CODE"
    expect_eq "export window: the refused PUT stored nothing" "" "$(ls "$WORK/data/sub-8200-storage/archive/file4" 2>/dev/null)"
    intact "in the export window"
    # A client that sends both conventions' headers itself: the gateway's
    # own headers of its convention decide, the other convention's are
    # never read. A PUT claiming to be a GET of another unit's file is
    # refused; a GET claiming to be a PUT is served.
    local forged=(-H 'X-Original-Method: GET' -H 'X-Original-URI: /storage/sub-logistics-erp/orders.csv'
        -H 'X-Forwarded-Method: GET' -H 'X-Forwarded-Uri: /storage/sub-logistics-erp/orders.csv')
    CODE=$(curl -s -m 20 -o "$WORK/body" -w '%{http_code}' "${forged[@]}" -X PUT \
        --data-binary "@$WORK/file1" "$GWURL/storage/sub-8200-storage/archive/forged")
    expect_eq "export window: a PUT with both conventions' headers saying GET elsewhere is refused" 451 "$CODE"
    expect_eq "export window: and stored nothing" "" "$(ls "$WORK/data/sub-8200-storage/archive/forged" 2>/dev/null)"
    forged=(-H 'X-Original-Method: PUT' -H 'X-Forwarded-Method: PUT'
        -H 'X-Original-URI: /storage/sub-8200-storage/archive/x' -H 'X-Forwarded-Uri: /storage/sub-8200-storage/archive/x')
    CODE=$(curl -s -m 20 -o "$WORK/got1" -w '%{http_code}' "${forged[@]}" "$GWURL/storage/sub-8200-storage/archive/file1")
    expect_eq "export window: a GET with both conventions' headers saying PUT is still served" 200 "$CODE"
    hostile "export window" PUT DELETE MKCOL

    # 4. the suspend phase: reads are refused too
    for _ in $(seq 60); do
        req GET /storage/sub-8200-storage/archive/file1
        [ "$CODE" = 451 ] && break
        sleep 0.5
    done
    expect_denial "suspended: GET" 451 suspended
    req GET /security/sub-8200-secops/scan
    expect_eq "suspended: security service unaffected" 200 "$CODE"
    intact "while suspended"
    hostile "suspended" GET HEAD PUT DELETE

    # 5. lift: everything passes again
    admin "$ALICE" POST /v1/actions/EA-1/lift '{"reason":"review concluded"}'
    expect_eq "alice lifts EA-1" 200 "$CODE"
    download_all "after the lift"
    req PUT /storage/sub-8200-storage/archive/file5 "$WORK/file2"
    expect_eq "after the lift: PUT is stored again" 201 "$CODE"
    intact "after the lift"

    # 6. the record
    admin "$VIEWER" GET /v1/audit/verify
    expect_match "the audit log verifies" '"verified":true' "$(cat "$WORK/body")"
    admin "$VIEWER" GET "/v1/audit?limit=1000"
    expect_match "the approval is audited under bob" '"actor":"bob"' "$(cat "$WORK/body")"
    CODE=$(curl -s -o "$WORK/body" -w '%{http_code}' "$ADMURL/metrics")
    expect_match "metrics count the denials" 'cutoff_decisions_total\{result="deny",reason="read_only"\} [1-9]' "$(cat "$WORK/body")"
}

# gw_fail_closed: cutoffd stopped (SIGSTOP, so connections hang) and then
# gone: the gateway answers within its timeout with an error and forwards
# nothing, even a request cutoffd would allow. Stops cutoffd cleanly.
gw_fail_closed() {
    local t0 t1
    kill -STOP "$CUTOFFD_PID"
    t0=$(date +%s)
    req PUT /storage/sub-logistics-erp/slow.csv "$WORK/file1"
    t1=$(date +%s)
    kill -CONT "$CUTOFFD_PID"
    echo "# cutoffd not answering: the gateway answered $CODE after $((t1 - t0)) s"
    expect_match "cutoffd not answering: the gateway refuses with a 5xx" '^5[0-9][0-9]$' "$CODE"
    expect_match "cutoffd not answering: within the gateway's timeout (under 10 s)" '^[0-9]$' "$((t1 - t0))"
    sleep 1
    expect_eq "cutoffd not answering: nothing was stored" "" "$(ls "$WORK/data/sub-logistics-erp/slow.csv" 2>/dev/null)"
    gw_stop_cutoffd
    req PUT /storage/sub-logistics-erp/gone.csv "$WORK/file1"
    expect_match "cutoffd gone: the gateway refuses with a 5xx" '^5[0-9][0-9]$' "$CODE"
    expect_eq "cutoffd gone: nothing was stored" "" "$(ls "$WORK/data/sub-logistics-erp/gone.csv" 2>/dev/null)"
}

# gw_stop_cutoffd: a clean stop of cutoffd.
gw_stop_cutoffd() {
    kill -TERM "$CUTOFFD_PID"
    wait "$CUTOFFD_PID"
    expect_eq "cutoffd exits 0 on SIGTERM" 0 "$?"
    CUTOFFD_PID=
}
