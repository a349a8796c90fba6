#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The fleet test (fleet.sh) on a real PostgreSQL 15 that this script starts
# (tests/support/pg.sh): several cutoffd share one database, are woken by
# its NOTIFY, and report their receipts in it. Killing the store is
# stopping the server (every node keeps deciding; one past max_staleness_s
# refuses), restarting it lets them reconnect and catch up, and a node
# started while the server is down waits for it instead of serving.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../support/pg.sh"
STORE_KIND=PostgreSQL
store_init() {
    pg_start "$WORK/pg" || { not_ok "the test PostgreSQL starts"; finish; exit 1; }
    # No database file to put the key next to: one key for the fleet.
    NODE_CONFIG=$(jq -n --arg key "$WORK/fleet.key" '{signing_key: $key}')
}
store_uri() { printf '%s' "$PG_URI"; }
store_kill() { pg_stop; }
store_restart() { pg_restart; }
store_stop() { pg_stop; }
# Writers queue on one advisory lock, which receipts never take.
store_write_locked() {
    [ "$(pg_psql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" != 0 ]
}
source "$HERE/fleet.sh"
