# SPDX-License-Identifier: Apache-2.0
# A throwaway PostgreSQL 15 server for tests, sourced by bash scripts:
#
#   source tests/support/pg.sh
#   pg_start "$WORK/pg"        # initdb, start on 127.0.0.1:<free port>, create db "cutoff"
#   cutoff --db "$PG_URI" ...  # postgresql://postgres@127.0.0.1:PORT/cutoff
#   pg_psql 'SELECT 1'         # psql on the cutoff database, unaligned, quiet
#   pg_stop                    # fast shutdown by PID (also safe from a trap)
#   pg_restart                 # the same cluster again, on the same port
#
# The server is this script's child, found by its PID and stopped by it;
# it listens on 127.0.0.1 and on a Unix socket in DIR, with durability
# off (a test cluster is thrown away). As root, the cluster belongs to the
# postgres system user, which initdb requires. When the server is not
# installed, pg_start reports a skipped TAP test and exits 0: that is the
# only reason to skip (scripts/install-deps.sh installs it).
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_PID= PG_PORT= PG_SOCKET_DIR= PG_URI= PG_DIR=

# Runs a command as the cluster's owner: the postgres user when we are
# root, else ourselves.
_pg_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
    else
        "$@"
    fi
}

# pg_installed: 0 when the server binary is there.
pg_installed() { [ -x "$PG_BIN/postgres" ]; }

source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"
# A port above 20000 that nothing listens on now.
_pg_free_port() {
    local port
    port=$(pick_port)
    [ "$port" != 0 ] && echo "$port"
}

# Starts the server of $PG_DIR on $PG_PORT and waits (bounded) until it
# accepts connections. 1 when it did not come up (its log is in
# $PG_DIR/postgres.log).
_pg_run() {
    local as=()
    [ "$(id -u)" -eq 0 ] && as=(setpriv --reuid=postgres --regid=postgres --init-groups --)
    # exec: the background job is the server itself, so $! is its PID.
    (exec "${as[@]}" "$PG_BIN/postgres" -D "$PG_DIR/data" -k "$PG_SOCKET_DIR" \
        -h 127.0.0.1 -p "$PG_PORT" -c fsync=off -c synchronous_commit=off \
        -c full_page_writes=off -c max_connections=100 \
        >>"$PG_DIR/postgres.log" 2>&1) &
    PG_PID=$!
    local i
    for i in $(seq 1 150); do
        if ! kill -0 "$PG_PID" 2>/dev/null; then
            PG_PID=
            return 1
        fi
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 1 && return 0
        sleep 0.1
    done
    return 1
}

# pg_start DIR: a new cluster in DIR (created if missing), started on a
# free port, with an empty database "cutoff". Exports PG_URI, PG_PORT,
# PG_SOCKET_DIR and PG_PID. Returns 1 (with the server's log on stderr)
# when it cannot; skips the calling test when the server is not installed.
pg_start() {
    if ! pg_installed; then
        echo "ok $(( ${_n:-0} + 1 )) # skip PostgreSQL 15 is not installed ($PG_BIN/postgres)"
        echo "1..$(( ${_n:-0} + 1 ))"
        exit 0
    fi
    PG_DIR=$1
    PG_SOCKET_DIR=$PG_DIR
    mkdir -p "$PG_DIR"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$PG_DIR"
        # The postgres user must be able to reach DIR through its parents
        # (mktemp makes them 0700): let it pass, not read.
        local d=$PG_DIR
        while d=$(dirname "$d") && [ "$d" != / ]; do
            runuser -u postgres -- test -x "$d" 2>/dev/null || chmod o+x "$d"
        done
    fi
    if ! _pg_as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres \
        --no-sync -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1; then
        cat "$PG_DIR/initdb.log" >&2
        return 1
    fi
    local attempt
    for attempt in 1 2 3 4 5; do
        PG_PORT=$(_pg_free_port) || return 1
        _pg_run && break
        PG_PORT=
    done
    if [ -z "$PG_PORT" ]; then
        tail -20 "$PG_DIR/postgres.log" >&2
        return 1
    fi
    PG_URI="postgresql://postgres@127.0.0.1:$PG_PORT/cutoff"
    export PG_URI PG_PORT PG_SOCKET_DIR PG_PID
    "$PG_BIN/psql" -X -q -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres -d postgres \
        -c 'CREATE DATABASE cutoff' >/dev/null
}

# pg_psql SQL...: runs SQL on the cutoff database over the Unix socket;
# rows unaligned, fields separated by '|'. Stops at the first error.
pg_psql() {
    "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" \
        -U postgres -d "${PG_DATABASE_NAME:-cutoff}" -c "$*"
}

# pg_stop: fast shutdown (SIGINT: sessions end, the cluster stays
# consistent) by PID, a bounded wait, then SIGKILL. Does nothing when no
# server runs, so a trap may call it.
pg_stop() {
    [ -n "${PG_PID:-}" ] || return 0
    kill -INT "$PG_PID" 2>/dev/null
    local i
    for i in $(seq 1 100); do
        kill -0 "$PG_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$PG_PID" 2>/dev/null && kill -KILL "$PG_PID" 2>/dev/null
    wait "$PG_PID" 2>/dev/null
    PG_PID=
    export PG_PID
}

# pg_restart: starts the cluster pg_start made again, on the same port.
pg_restart() {
    [ -n "${PG_DIR:-}" ] && [ -n "${PG_PORT:-}" ] || return 1
    [ -z "${PG_PID:-}" ] || pg_stop
    _pg_run || { tail -20 "$PG_DIR/postgres.log" >&2; return 1; }
    export PG_PID
}
