/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite.c - the SQLite backend of the store interface (store.h), the
 * embedded default. The file is kept in WAL mode with synchronous=FULL (a
 * committed change survives a power cut; readers never wait for the
 * writer), foreign keys on and a busy timeout so that concurrent CLI runs
 * queue instead of failing. The schema carries its version in
 * PRAGMA user_version and grows by an ordered list of migrations, applied
 * together in one transaction. Every statement is prepared once per
 * connection and reused, which is what makes bulk node writes fast.
 */
#include "store/store.h"
#include "util/util.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long a writer waits for another writer's lock: a bulk import of
 * ten million nodes holds it for about half a minute. */
#define BUSY_TIMEOUT_MS 60000
/* Between two tries for a lock another connection holds: 100 us more each
 * time, up to 2 ms. SQLite's own busy timeout sleeps 1, 2, 5, 10, 15 ms...,
 * and the fleet's nodes write their receipts right after each change: a
 * node asleep there learns of the next change that much later. */
#define BUSY_STEP_US 100
#define BUSY_MAX_US 2000
/* Page cache per connection (KiB): the tree's nodes are read and written in
 * bulk, and SQLite allocates the cache only as it fills. A large batch of
 * node writes gets more, until its transaction ends. */
#define CACHE_KIB 262144
#define BULK_CACHE_KIB 1048576
#define BULK_ROWS 100000
/* Without inotify, change_wait reports a possible change this often: the
 * caller then reads the change sequence, as the daemon once did on a
 * timer. */
#define CHANGE_POLL_MS 10

/* ===================================================================== */
/* Schema                                                                 */
/* ===================================================================== */

/* migrations[v] takes a store from schema version v to v + 1. Never edit a
 * released entry; append a new one. */
static const char *const migrations[CO__STORE_SCHEMA_VERSION] = {
    /* 0 -> 1: the first schema. Nodes are keyed by id alone: no foreign
     * key and no index on parent. The database layer validates the whole
     * tree before it commits, and either would cost a B-tree operation on
     * every one of millions of rows in a bulk import (an index on parent
     * more than doubles its cost). */
    "CREATE TABLE nodes("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  kind INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 3),"
    "  parent TEXT,"
    "  name TEXT,"
    "  plan TEXT"
    ") WITHOUT ROWID;"
    "CREATE TABLE catalog("
    "  one INTEGER PRIMARY KEY CHECK (one = 1),"
    "  json TEXT NOT NULL,"
    "  loaded_by TEXT NOT NULL,"
    "  loaded_at INTEGER NOT NULL"
    ");"
    "CREATE TABLE cases("
    "  id TEXT NOT NULL UNIQUE,"
    "  title TEXT NOT NULL,"
    "  scope TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('open', 'closed')),"
    "  findings TEXT,"
    "  opened_by TEXT NOT NULL,"
    "  opened_at INTEGER NOT NULL,"
    "  closed_by TEXT,"
    "  closed_at INTEGER,"
    "  updated_by TEXT,"
    "  updated_at INTEGER"
    ");"
    "CREATE TABLE evidence("
    "  case_id TEXT NOT NULL REFERENCES cases(id),"
    "  n INTEGER NOT NULL,"
    "  sha256 TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  media_type TEXT NOT NULL,"
    "  file TEXT,"
    "  note TEXT,"
    "  added_by TEXT NOT NULL,"
    "  added_at INTEGER NOT NULL,"
    "  content BLOB,"
    "  PRIMARY KEY (case_id, n)"
    ");"
    "CREATE TABLE actions("
    "  id TEXT NOT NULL,"
    "  version INTEGER NOT NULL CHECK (version >= 1),"
    "  case_id TEXT NOT NULL REFERENCES cases(id),"
    "  state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 4),"
    "  doc TEXT NOT NULL,"
    "  proposed_by TEXT NOT NULL,"
    "  proposed_at INTEGER NOT NULL,"
    "  approved_by TEXT,"
    "  approved_at INTEGER,"
    "  activated_at INTEGER,"
    "  lifted_by TEXT,"
    "  lifted_at INTEGER,"
    "  lift_reason TEXT,"
    "  PRIMARY KEY (id, version)"
    ");"
    "CREATE INDEX actions_by_state ON actions(state);"
    "CREATE TABLE audit("
    "  seq INTEGER PRIMARY KEY,"
    "  time INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  verb TEXT NOT NULL,"
    "  object TEXT NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  prev_hash TEXT NOT NULL,"
    "  hash TEXT NOT NULL"
    ");"
    /* The log is append-only through this program; the hash chain is what
     * catches changes made around it. */
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",

    /* 1 -> 2: the change log. One row per committed change, written in the
     * change's transaction, says what kind of state changed (1 tree,
     * 2 actions, 4 cases), so readers learn it from seq and kind instead of
     * the audit log's wording. The index answers "newest change of a kind"
     * with one probe. A store migrated from version 1 starts with an empty
     * log: whatever read it before the migration read all of it. */
    "CREATE TABLE changes("
    "  seq INTEGER PRIMARY KEY,"
    "  kind INTEGER NOT NULL CHECK (kind IN (1, 2, 4)),"
    "  object TEXT NOT NULL"
    ");"
    "CREATE INDEX changes_by_kind ON changes(kind, seq);"
    "CREATE TRIGGER changes_no_update BEFORE UPDATE ON changes"
    "  BEGIN SELECT RAISE(ABORT, 'the change log is append-only'); END;"
    "CREATE TRIGGER changes_no_delete BEFORE DELETE ON changes"
    "  BEGIN SELECT RAISE(ABORT, 'the change log is append-only'); END;",

    /* 2 -> 3: what proof needs. Every catalog ever loaded (as-of decisions
     * use the catalog of then; the current one starts the history), the
     * signed audit heads, and the versions of each action's notice to its
     * customer. Heads and notices are append-only; a notice's signature
     * may be set once, when a key signs a notice issued without one. The
     * triggers stop mistakes, not an attacker holding the file: the
     * signatures are what catch that. */
    "CREATE TABLE catalogs("
    "  n INTEGER PRIMARY KEY,"
    "  json TEXT NOT NULL,"
    "  loaded_by TEXT NOT NULL,"
    "  loaded_at INTEGER NOT NULL"
    ");"
    "CREATE INDEX catalogs_by_time ON catalogs(loaded_at, n);"
    "INSERT INTO catalogs(json, loaded_by, loaded_at)"
    "  SELECT json, loaded_by, loaded_at FROM catalog;"
    "CREATE TRIGGER catalogs_no_update BEFORE UPDATE ON catalogs"
    "  BEGIN SELECT RAISE(ABORT, 'the catalog history is append-only'); END;"
    "CREATE TRIGGER catalogs_no_delete BEFORE DELETE ON catalogs"
    "  BEGIN SELECT RAISE(ABORT, 'the catalog history is append-only'); END;"
    "CREATE TABLE heads("
    "  n INTEGER PRIMARY KEY,"
    "  seq INTEGER NOT NULL,"
    "  statement TEXT NOT NULL,"
    "  signature TEXT NOT NULL"
    ");"
    "CREATE TRIGGER heads_no_update BEFORE UPDATE ON heads"
    "  BEGIN SELECT RAISE(ABORT, 'signed heads are append-only'); END;"
    "CREATE TRIGGER heads_no_delete BEFORE DELETE ON heads"
    "  BEGIN SELECT RAISE(ABORT, 'signed heads are append-only'); END;"
    "CREATE TABLE notices("
    "  action_id TEXT NOT NULL,"
    "  n INTEGER NOT NULL CHECK (n >= 1),"
    "  issued_at INTEGER NOT NULL,"
    "  body TEXT NOT NULL,"
    "  signature TEXT,"
    "  PRIMARY KEY (action_id, n)"
    ");"
    "CREATE TRIGGER notices_no_update BEFORE UPDATE ON notices"
    "  WHEN OLD.signature IS NOT NULL OR NEW.action_id IS NOT OLD.action_id"
    "    OR NEW.n IS NOT OLD.n OR NEW.issued_at IS NOT OLD.issued_at OR NEW.body IS NOT OLD.body"
    "  BEGIN SELECT RAISE(ABORT, 'a notice is never changed once issued and signed'); END;"
    "CREATE TRIGGER notices_no_delete BEFORE DELETE ON notices"
    "  BEGIN SELECT RAISE(ABORT, 'notices are append-only'); END;",

    /* 3 -> 4: the receipts of the decision nodes (cutoffd) that share this
     * store: what each one enforces and when it last said so. One row per
     * node, replaced by each report; not a change and never audited, so
     * that reports cannot wake the nodes into reporting again. */
    "CREATE TABLE receipts("
    "  node TEXT PRIMARY KEY NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  applied_at INTEGER NOT NULL,"
    "  digest TEXT NOT NULL,"
    "  heartbeat_at INTEGER NOT NULL,"
    "  status TEXT NOT NULL"
    ") WITHOUT ROWID;",

    /* 4 -> 5: shadow runs. A run (a draft evaluated on live traffic,
     * deciding nothing) is written by its start and its stop, both
     * audited; each node's counts of a run are replaced by its reports,
     * like receipts. The change log takes the new kind 8 (shadow runs):
     * SQLite cannot alter a CHECK, so the log is copied into a table with
     * the wider one (its rows, seq included, unchanged) and renamed; its
     * index and triggers are made again. Dropping the old table fires no
     * trigger. */
    "CREATE TABLE shadow_runs("
    "  run INTEGER PRIMARY KEY,"
    "  action_id TEXT NOT NULL,"
    "  version INTEGER NOT NULL CHECK (version >= 1),"
    "  started_by TEXT NOT NULL,"
    "  started_at INTEGER NOT NULL,"
    "  stopped_by TEXT,"
    "  stopped_at INTEGER"
    ");"
    "CREATE INDEX shadow_runs_by_action ON shadow_runs(action_id, run);"
    "CREATE TABLE shadow_counts("
    "  run INTEGER NOT NULL REFERENCES shadow_runs(run),"
    "  node TEXT NOT NULL,"
    "  reported_at INTEGER NOT NULL,"
    "  counts TEXT NOT NULL,"
    "  PRIMARY KEY (run, node)"
    ") WITHOUT ROWID;"
    "CREATE TABLE changes_v5("
    "  seq INTEGER PRIMARY KEY,"
    "  kind INTEGER NOT NULL CHECK (kind IN (1, 2, 4, 8)),"
    "  object TEXT NOT NULL"
    ");"
    "INSERT INTO changes_v5(seq, kind, object) SELECT seq, kind, object FROM changes;"
    "DROP TABLE changes;"
    "ALTER TABLE changes_v5 RENAME TO changes;"
    "CREATE INDEX changes_by_kind ON changes(kind, seq);"
    "CREATE TRIGGER changes_no_update BEFORE UPDATE ON changes"
    "  BEGIN SELECT RAISE(ABORT, 'the change log is append-only'); END;"
    "CREATE TRIGGER changes_no_delete BEFORE DELETE ON changes"
    "  BEGIN SELECT RAISE(ABORT, 'the change log is append-only'); END;",
};

/* ===================================================================== */
/* Statements                                                             */
/* ===================================================================== */

#define ACTION_COLS                                                                                \
    "id, version, case_id, state, doc, proposed_by, proposed_at, approved_by, approved_at, "       \
    "activated_at, lifted_by, lifted_at, lift_reason"
#define CASE_COLS                                                                                  \
    "id, title, scope, status, findings, opened_by, opened_at, closed_by, closed_at, updated_by, " \
    "updated_at"
#define AUDIT_COLS "seq, time, actor, verb, object, payload, prev_hash, hash"
#define NOTICE_COLS "action_id, n, issued_at, body, signature"
#define SHADOW_RUN_COLS "run, action_id, version, started_by, started_at, stopped_by, stopped_at"

enum stmt_id {
    ST_NODE_GET,
    ST_NODE_ITER,
    ST_NODE_COUNT,
    ST_NODE_PLAN_USES,
    ST_NODE_PUT,
    ST_CATALOG_GET,
    ST_CATALOG_PUT,
    ST_CATALOG_HISTORY_PUT,
    ST_CATALOG_AT,
    ST_CASE_GET,
    ST_CASE_PUT,
    ST_CASE_ITER,
    ST_CASE_COUNT,
    ST_EVIDENCE_NEXT,
    ST_EVIDENCE_ADD,
    ST_EVIDENCE_ITER,
    ST_ACTION_GET,
    ST_ACTION_GET_LATEST,
    ST_ACTION_PUT,
    ST_ACTION_ITER,
    ST_ACTION_COUNT_IDS,
    ST_AUDIT_LAST,
    ST_AUDIT_PUT,
    ST_AUDIT_ITER,
    ST_HEAD_PUT,
    ST_HEAD_LAST,
    ST_HEAD_ITER,
    ST_NOTICE_PUT,
    ST_NOTICE_GET,
    ST_NOTICE_GET_LATEST,
    ST_NOTICE_ITER,
    ST_NOTICE_SIGN,
    ST_CHANGE_PUT,
    ST_CHANGE_LAST,
    ST_CHANGE_LAST_KIND,
    ST_CATALOG_HISTORY_ITER,
    ST_EVIDENCE_ITER_ALL,
    ST_CHANGE_ITER,
    ST_RECEIPT_PUT,
    ST_RECEIPT_ITER,
    ST_SHADOW_RUN_ADD,
    ST_SHADOW_RUN_PUT,
    ST_SHADOW_RUN_ITER,
    ST_SHADOW_COUNTS_PUT,
    ST_SHADOW_COUNTS_ITER,
    ST__COUNT
};

static const char *const stmt_sql[ST__COUNT] = {
    [ST_NODE_GET] = "SELECT id, kind, parent, name, plan FROM nodes WHERE id = ?1",
    [ST_NODE_ITER] = "SELECT id, kind, parent, name, plan FROM nodes ORDER BY id",
    [ST_NODE_COUNT] = "SELECT count(*) FROM nodes",
    [ST_NODE_PLAN_USES] = "SELECT plan, min(id) FROM nodes WHERE plan IS NOT NULL GROUP BY plan",
    [ST_NODE_PUT] = "INSERT INTO nodes(id, kind, parent, name, plan) VALUES (?1, ?2, ?3, ?4, ?5)"
                    " ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, parent = excluded.parent,"
                    " name = excluded.name, plan = excluded.plan",
    [ST_CATALOG_GET] = "SELECT json FROM catalog WHERE one = 1",
    [ST_CATALOG_PUT] = "INSERT INTO catalog(one, json, loaded_by, loaded_at) VALUES (1, ?1, ?2, ?3)"
                       " ON CONFLICT(one) DO UPDATE SET json = excluded.json,"
                       " loaded_by = excluded.loaded_by, loaded_at = excluded.loaded_at",
    [ST_CATALOG_HISTORY_PUT] =
        "INSERT INTO catalogs(json, loaded_by, loaded_at) VALUES (?1, ?2, ?3)",
    [ST_CATALOG_AT] = "SELECT json FROM catalogs WHERE loaded_at <= ?1"
                      " ORDER BY loaded_at DESC, n DESC LIMIT 1",
    [ST_CASE_GET] = "SELECT " CASE_COLS " FROM cases WHERE id = ?1",
    [ST_CASE_PUT] =
        "INSERT INTO cases(" CASE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        " ON CONFLICT(id) DO UPDATE SET title = excluded.title, scope = excluded.scope,"
        " status = excluded.status, findings = excluded.findings,"
        " opened_by = excluded.opened_by, opened_at = excluded.opened_at,"
        " closed_by = excluded.closed_by, closed_at = excluded.closed_at,"
        " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
    [ST_CASE_ITER] = "SELECT " CASE_COLS " FROM cases ORDER BY rowid",
    [ST_CASE_COUNT] = "SELECT count(*) FROM cases",
    [ST_EVIDENCE_NEXT] = "SELECT coalesce(max(n), 0) + 1 FROM evidence WHERE case_id = ?1",
    [ST_EVIDENCE_ADD] =
        "INSERT INTO evidence(case_id, n, sha256, size, media_type, file, note,"
        " added_by, added_at, content) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_EVIDENCE_ITER] =
        "SELECT case_id, n, sha256, size, media_type, file, note, added_by, added_at,"
        " content IS NOT NULL FROM evidence WHERE case_id = ?1 ORDER BY n",
    [ST_ACTION_GET] = "SELECT " ACTION_COLS " FROM actions WHERE id = ?1 AND version = ?2",
    [ST_ACTION_GET_LATEST] = "SELECT " ACTION_COLS " FROM actions WHERE id = ?1"
                             " ORDER BY version DESC LIMIT 1",
    [ST_ACTION_PUT] = "INSERT INTO actions(" ACTION_COLS ")"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                      " ON CONFLICT(id, version) DO UPDATE SET case_id = excluded.case_id,"
                      " state = excluded.state, doc = excluded.doc,"
                      " proposed_by = excluded.proposed_by, proposed_at = excluded.proposed_at,"
                      " approved_by = excluded.approved_by, approved_at = excluded.approved_at,"
                      " activated_at = excluded.activated_at, lifted_by = excluded.lifted_by,"
                      " lifted_at = excluded.lifted_at, lift_reason = excluded.lift_reason",
    /* The action tables stay small (one row per version), so one statement
     * with optional filters serves every listing. */
    [ST_ACTION_ITER] = "SELECT " ACTION_COLS " FROM actions AS a"
                       " WHERE (?1 IS NULL OR id = ?1) AND (?2 IS NULL OR case_id = ?2)"
                       " AND (?3 < 0 OR state = ?3)"
                       " AND (?4 = 0 OR version = (SELECT max(version) FROM actions AS b"
                       "                           WHERE b.id = a.id))"
                       " ORDER BY id, version",
    [ST_ACTION_COUNT_IDS] = "SELECT count(DISTINCT id) FROM actions",
    [ST_AUDIT_LAST] = "SELECT " AUDIT_COLS " FROM audit ORDER BY seq DESC LIMIT 1",
    [ST_AUDIT_PUT] = "INSERT INTO audit(" AUDIT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_AUDIT_ITER] = "SELECT " AUDIT_COLS " FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [ST_HEAD_PUT] = "INSERT INTO heads(n, seq, statement, signature)"
                    " SELECT coalesce(max(n), 0) + 1, ?1, ?2, ?3 FROM heads RETURNING n",
    [ST_HEAD_LAST] = "SELECT n, seq, statement, signature FROM heads ORDER BY n DESC LIMIT 1",
    [ST_HEAD_ITER] = "SELECT n, seq, statement, signature FROM heads ORDER BY n",
    [ST_NOTICE_PUT] =
        "INSERT INTO notices(action_id, n, issued_at, body, signature)"
        " SELECT ?1, coalesce(max(n), 0) + 1, ?2, ?3, ?4 FROM notices WHERE action_id = ?1"
        " RETURNING n",
    [ST_NOTICE_GET] = "SELECT " NOTICE_COLS " FROM notices WHERE action_id = ?1 AND n = ?2",
    [ST_NOTICE_GET_LATEST] = "SELECT " NOTICE_COLS " FROM notices WHERE action_id = ?1"
                             " ORDER BY n DESC LIMIT 1",
    [ST_NOTICE_ITER] = "SELECT " NOTICE_COLS " FROM notices AS a"
                       " WHERE (?1 IS NULL OR action_id = ?1)"
                       " AND (?2 = 0 OR n = (SELECT max(n) FROM notices AS b"
                       "                     WHERE b.action_id = a.action_id))"
                       " ORDER BY action_id, n",
    [ST_NOTICE_SIGN] = "UPDATE notices SET signature = ?3"
                       " WHERE action_id = ?1 AND n = ?2 AND signature IS NULL",
    /* seq is given, not left to the rowid allocator, so that it is plainly
     * the last one plus one. */
    [ST_CHANGE_PUT] = "INSERT INTO changes(seq, kind, object)"
                      " SELECT coalesce(max(seq), 0) + 1, ?1, ?2 FROM changes",
    [ST_CHANGE_LAST] = "SELECT coalesce(max(seq), 0) FROM changes",
    [ST_CHANGE_LAST_KIND] = "SELECT coalesce(max(seq), 0) FROM changes WHERE kind = ?1",
    [ST_CATALOG_HISTORY_ITER] = "SELECT json, loaded_by, loaded_at FROM catalogs ORDER BY n",
    [ST_EVIDENCE_ITER_ALL] =
        "SELECT case_id, n, sha256, size, media_type, file, note, added_by, added_at,"
        " content IS NOT NULL, content FROM evidence ORDER BY case_id, n",
    [ST_CHANGE_ITER] = "SELECT seq, kind, object FROM changes ORDER BY seq",
    [ST_RECEIPT_PUT] = "INSERT INTO receipts(node, seq, applied_at, digest, heartbeat_at, status)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                       " ON CONFLICT(node) DO UPDATE SET seq = excluded.seq,"
                       " applied_at = excluded.applied_at, digest = excluded.digest,"
                       " heartbeat_at = excluded.heartbeat_at, status = excluded.status",
    [ST_RECEIPT_ITER] = "SELECT node, seq, applied_at, digest, heartbeat_at, status"
                        " FROM receipts ORDER BY node",
    [ST_SHADOW_RUN_ADD] = "INSERT INTO shadow_runs(" SHADOW_RUN_COLS ")"
                          " SELECT coalesce(max(run), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7"
                          " FROM shadow_runs RETURNING run",
    [ST_SHADOW_RUN_PUT] = "INSERT INTO shadow_runs(" SHADOW_RUN_COLS ")"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                          " ON CONFLICT(run) DO UPDATE SET action_id = excluded.action_id,"
                          " version = excluded.version, started_by = excluded.started_by,"
                          " started_at = excluded.started_at, stopped_by = excluded.stopped_by,"
                          " stopped_at = excluded.stopped_at",
    [ST_SHADOW_RUN_ITER] = "SELECT " SHADOW_RUN_COLS " FROM shadow_runs"
                           " WHERE ?1 IS NULL OR action_id = ?1 ORDER BY run",
    [ST_SHADOW_COUNTS_PUT] = "INSERT INTO shadow_counts(run, node, reported_at, counts)"
                             " VALUES (?1, ?2, ?3, ?4)"
                             " ON CONFLICT(run, node) DO UPDATE SET"
                             " reported_at = excluded.reported_at, counts = excluded.counts",
    [ST_SHADOW_COUNTS_ITER] = "SELECT run, node, reported_at, counts FROM shadow_counts"
                              " WHERE run = ?1 ORDER BY node",
};

typedef struct sqlite_store {
    co__store base;
    sqlite3 *db;
    sqlite3_stmt *stmts[ST__COUNT];
    bool bulk_cache; /* the cache was enlarged for the current transaction */
    char *path;      /* as opened: what must still name the file (reachable) */
    dev_t dev;       /* the file the handle opened */
    ino_t ino;
    char *dir, *base_name, *wal_name; /* what change_wait watches */
    int watch_fd;                     /* inotify; -1 until the first change_wait */
    bool watch_failed;                /* inotify is unavailable: change_wait sleeps */
    char unreachable[300];            /* why the store is unreachable, for errmsg */
    int64_t busy_since_us;            /* when the current wait for a lock began */
} sqlite_store;

static sqlite_store *as_sqlite(co__store *s)
{
    return (sqlite_store *)(void *)s;
}

/* SQLite's busy handler: tries again after a short, growing pause until
 * BUSY_TIMEOUT_MS have passed since the first try (tries = 0). */
static int busy_wait(void *arg, int tries)
{
    sqlite_store *s = arg;
    int64_t now = co__monotonic_us();
    if (tries == 0)
        s->busy_since_us = now;
    if (now - s->busy_since_us >= (int64_t)BUSY_TIMEOUT_MS * 1000)
        return 0;
    int64_t us = (int64_t)BUSY_STEP_US * (tries + 1);
    if (us > BUSY_MAX_US)
        us = BUSY_MAX_US;
    struct timespec pause = {0, (long)us * 1000};
    nanosleep(&pause, NULL);
    return 1;
}

/* Maps an SQLite result code to the library's. */
static int fail(int sqlite_rc)
{
    switch (sqlite_rc & 0xff) {
    case SQLITE_NOMEM: return CUTOFF_ENOMEM;
    case SQLITE_IOERR: return CUTOFF_EIO;
    default: return CUTOFF_ESTORE;
    }
}

/* The prepared statement for id, prepared on first use. */
static int prepare(sqlite_store *s, enum stmt_id id, sqlite3_stmt **out)
{
    if (s->stmts[id] == NULL) {
        int rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &s->stmts[id], NULL);
        if (rc != SQLITE_OK)
            return fail(rc);
    }
    *out = s->stmts[id];
    return 0;
}

/* Makes a statement ready for its next use. */
static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static int bind_text(sqlite3_stmt *st, int i, const char *text)
{
    return text ? sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static int bind_time(sqlite3_stmt *st, int i, int64_t t)
{
    return t ? sqlite3_bind_int64(st, i, t) : sqlite3_bind_null(st, i);
}

/* A text column, borrowed until the next step (NULL for SQL NULL). */
static char *col_text(sqlite3_stmt *st, int i)
{
    return (char *)sqlite3_column_text(st, i);
}

/* A text column copied for the caller. */
static int col_dup(sqlite3_stmt *st, int i, char **out)
{
    const char *t = col_text(st, i);
    if (t == NULL) {
        *out = NULL;
        return 0;
    }
    *out = co__strndup(t, (size_t)sqlite3_column_bytes(st, i));
    return *out ? 0 : CUTOFF_ENOMEM;
}

/* Runs a statement that returns no rows. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    done(st);
    return rc == SQLITE_DONE ? 0 : fail(rc);
}

/* Runs a statement returning one integer. */
static int step_int(sqlite3_stmt *st, int64_t *out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = 0;
    } else {
        rc = fail(rc);
    }
    done(st);
    return rc;
}

static int exec(sqlite_store *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(rc);
}

/* ===================================================================== */
/* Connection, schema, transactions                                       */
/* ===================================================================== */

static int read_user_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

static void sq_close(co__store *base)
{
    sqlite_store *s = as_sqlite(base);
    if (s == NULL)
        return;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(s->stmts[i]);
    sqlite3_close(s->db);
    if (s->watch_fd >= 0)
        close(s->watch_fd);
    co__free(s->path);
    co__free(s->dir);
    co__free(s->base_name);
    co__free(s->wal_name);
    co__free(s);
}

/* Remembers which file the handle opened, and the names change_wait
 * watches in its directory: the database and its -wal (a commit in WAL
 * mode writes the -wal; a checkpoint, the database). */
static int remember_file(sqlite_store *s, const char *path)
{
    struct stat sb;
    const char *slash = strrchr(path, '/');
    s->path = co__strdup(path);
    s->dir =
        slash ? co__strndup(path, slash == path ? 1 : (size_t)(slash - path)) : co__strdup(".");
    s->base_name = co__strdup(slash ? slash + 1 : path);
    s->wal_name = s->base_name ? co__malloc(strlen(s->base_name) + 5) : NULL;
    if (!s->path || !s->dir || !s->base_name || !s->wal_name)
        return CUTOFF_ENOMEM;
    sprintf(s->wal_name, "%s-wal", s->base_name);
    if (stat(path, &sb) == 0) {
        s->dev = sb.st_dev;
        s->ino = sb.st_ino;
    }
    return 0;
}

/* The SQLite store is reachable while its path still names the file the
 * handle opened. A file moved away, removed, or replaced by another (a
 * volume unmounted, a restore from backup) would otherwise go on being
 * read through the open descriptor, unchanged while others write the new
 * one; that is CUTOFF_EUNAVAIL, and reopening the path is the cure. One
 * stat per transaction. */
static int check_reachable(sqlite_store *s)
{
    struct stat sb;
    if (s->ino == 0)
        return 0;
    if (stat(s->path, &sb) != 0) {
        snprintf(s->unreachable, sizeof s->unreachable, "database file %s: %s", s->path,
                 strerror(errno));
        return CUTOFF_EUNAVAIL;
    }
    if (sb.st_dev != s->dev || sb.st_ino != s->ino) {
        snprintf(s->unreachable, sizeof s->unreachable,
                 "database file %s was replaced by another file since it was opened", s->path);
        return CUTOFF_EUNAVAIL;
    }
    s->unreachable[0] = '\0';
    return 0;
}

/* Finds an object (table, view, index, trigger) in db that the schema
 * does not name, so that cutoff never adds its tables to another
 * program's database. What the schema names is what the migrations create
 * in an empty in-memory database: one list, which cannot drift from them.
 * Returns 0 with found[0] == '\0' when every object is the schema's (or
 * SQLite's own), 0 with "TYPE \"NAME\"" in found otherwise, or the
 * SQLite error. */
static int find_foreign_object(sqlite3 *db, char *found, size_t found_size)
{
    sqlite3 *fresh = NULL;
    sqlite3_stmt *mine = NULL, *theirs = NULL;
    found[0] = '\0';
    int rc = sqlite3_open_v2(":memory:", &fresh, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    for (int v = 0; rc == SQLITE_OK && v < CO__STORE_SCHEMA_VERSION; v++)
        rc = sqlite3_exec(fresh, migrations[v], NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(fresh, "SELECT 1 FROM sqlite_master WHERE type = ?1 AND name = ?2",
                                -1, &mine, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "SELECT type, name FROM sqlite_master"
                                " WHERE substr(name, 1, 7) <> 'sqlite_' ORDER BY type, name",
                                -1, &theirs, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(theirs)) == SQLITE_ROW) {
        const char *type = col_text(theirs, 0), *name = col_text(theirs, 1);
        sqlite3_bind_text(mine, 1, type, -1, SQLITE_STATIC);
        sqlite3_bind_text(mine, 2, name, -1, SQLITE_STATIC);
        bool ours = sqlite3_step(mine) == SQLITE_ROW;
        done(mine);
        if (!ours) {
            char q[200];
            snprintf(found, found_size, "%s \"%s\"", type, co__quote(name, q, sizeof q));
            rc = SQLITE_DONE;
        } else {
            rc = SQLITE_OK;
        }
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(theirs);
    sqlite3_finalize(mine);
    sqlite3_close(fresh);
    return rc;
}

/* Why SQLite could not open path: only a path that does not exist is
 * "not initialised"; a directory or a file this user may not open says so,
 * since running init would not help. */
static int cannot_open(const char *path, bool create, bool read_only, cutoff_diag *diag)
{
    char q[300];
    struct stat sb;
    co__quote(path, q, sizeof q);
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT && !create)
            return co__diag(diag, CUTOFF_ENOTINIT,
                            "database \"%s\" does not exist; run 'cutoff init' to create it", q);
        return co__diag(diag, CUTOFF_ESTORE, "cannot open database \"%s\": %s", q, strerror(errno));
    }
    if (S_ISDIR(sb.st_mode))
        return co__diag(diag, CUTOFF_ESTORE,
                        "cannot open database \"%s\": it is a directory; give a file path", q);
    if (access(path, read_only ? R_OK : R_OK | W_OK) != 0)
        return co__diag(diag, CUTOFF_ESTORE, "cannot open database \"%s\": %s", q, strerror(errno));
    return co__diag(diag, CUTOFF_ESTORE, "cannot open database \"%s\"", q);
}

static int sq_open(const char *path, int mode, co__store **out, cutoff_diag *diag)
{
    char q[300];
    int rc = 0, version = 0;
    bool create = (mode & CO__STORE_CREATE) != 0, read_only = (mode & CO__STORE_READ_ONLY) != 0;
    sqlite_store *s = co__calloc(1, sizeof *s);
    if (s == NULL)
        return CUTOFF_ENOMEM;
    s->base.ops = &co__sqlite_store_ops;
    s->watch_fd = -1;
    int flags = SQLITE_OPEN_NOMUTEX |
                (read_only ? SQLITE_OPEN_READONLY
                           : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0));
    int src = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (src == SQLITE_CANTOPEN) {
        rc = cannot_open(path, create, read_only, diag);
        goto out;
    }
    if (src != SQLITE_OK) {
        rc = co__diag(diag, src == SQLITE_NOMEM ? CUTOFF_ENOMEM : CUTOFF_ESTORE,
                      "cannot open database \"%s\": %s", co__quote(path, q, sizeof q),
                      s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src));
        goto out;
    }
    if ((rc = remember_file(s, path)) != 0)
        goto out;
    sqlite3_extended_result_codes(s->db, 0);
    sqlite3_busy_handler(s->db, busy_wait, s);
    /* Read before writing anything, so that a file that is not a database,
     * or not ours, is left exactly as it was. */
    src = read_user_version(s->db, &version);
    if (src != SQLITE_OK) {
        /* A read-only user cannot make the WAL index (-shm) next to a
         * database in WAL mode: say so rather than SQLite's "unable to open". */
        if (read_only && ((src & 0xff) == SQLITE_CANTOPEN || (src & 0xff) == SQLITE_READONLY))
            rc = co__diag(diag, CUTOFF_ESTORE,
                          "cannot read database \"%s\" read-only: it is in WAL mode and its "
                          "-wal and -shm files neither exist nor can be created in its "
                          "directory; let this user write the directory, or read while a "
                          "process that may write (cutoffd) has the database open",
                          co__quote(path, q, sizeof q));
        else
            rc = co__diag(diag, CUTOFF_ESTORE, "cannot read database \"%s\": %s",
                          co__quote(path, q, sizeof q), sqlite3_errmsg(s->db));
        goto out;
    }
    if (version < CO__STORE_SCHEMA_VERSION) {
        char foreign[256];
        if ((src = find_foreign_object(s->db, foreign, sizeof foreign)) != SQLITE_OK) {
            rc = co__diag(diag, fail(src), "cannot read database \"%s\": %s",
                          co__quote(path, q, sizeof q), sqlite3_errmsg(s->db));
            goto out;
        }
        if (foreign[0]) {
            rc = co__diag(diag, CUTOFF_ESTORE,
                          "database \"%s\" holds %s, which is not cutoff's: it belongs to "
                          "another program; give a new file",
                          co__quote(path, q, sizeof q), foreign);
            goto out;
        }
    }
    if (version == 0 && !create) {
        rc =
            co__diag(diag, CUTOFF_ENOTINIT, "database \"%s\" is not initialised; run 'cutoff init'",
                     co__quote(path, q, sizeof q));
        goto out;
    }
    /* A read-only handle keeps the journal mode the file has (init set
     * WAL); changing it would be a write. */
    char pragmas[256];
    snprintf(pragmas, sizeof pragmas,
             "%s PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
             " PRAGMA temp_store = MEMORY; PRAGMA cache_size = -%d;",
             read_only ? "PRAGMA query_only = ON;" : "PRAGMA journal_mode = WAL;", CACHE_KIB);
    if (sqlite3_exec(s->db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
        rc = co__diag(diag, CUTOFF_ESTORE, "cannot set up database \"%s\": %s",
                      co__quote(path, q, sizeof q), sqlite3_errmsg(s->db));
        goto out;
    }
    *out = &s->base;
    return 0;
out:
    sq_close(&s->base);
    return rc;
}

static int sq_schema_version(co__store *base, int *out)
{
    int rc = read_user_version(as_sqlite(base)->db, out);
    return rc == SQLITE_OK ? 0 : fail(rc);
}

/* Runs migrations[from..] and records the version, in the caller's
 * transaction. */
static int apply_migrations(sqlite_store *s, int from, cutoff_diag *diag)
{
    for (int v = from; v < CO__STORE_SCHEMA_VERSION; v++)
        if (sqlite3_exec(s->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK)
            return co__diag(diag, CUTOFF_ESTORE, "migration to schema version %d failed: %s", v + 1,
                            sqlite3_errmsg(s->db));
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", CO__STORE_SCHEMA_VERSION);
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return co__diag(diag, CUTOFF_ESTORE, "cannot set the schema version: %s",
                        sqlite3_errmsg(s->db));
    return 0;
}

/* Applies every migration the store lacks, in one transaction; a store
 * newer than this program is left alone. */
static int sq_migrate(co__store *base, cutoff_diag *diag)
{
    sqlite_store *s = as_sqlite(base);
    int rc = 0, version = 0;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return co__diag(diag, CUTOFF_ESTORE, "cannot migrate the database: %s",
                        sqlite3_errmsg(s->db));
    if (read_user_version(s->db, &version) != SQLITE_OK) {
        rc = co__diag(diag, CUTOFF_ESTORE, "cannot read the schema version: %s",
                      sqlite3_errmsg(s->db));
        goto out;
    }
    if (version > CO__STORE_SCHEMA_VERSION) {
        rc = co__diag(diag, CUTOFF_EVERSION,
                      "the database has schema version %d; this program knows up to %d", version,
                      CO__STORE_SCHEMA_VERSION);
        goto out;
    }
    if ((rc = apply_migrations(s, version, diag)) != 0)
        goto out;
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc =
            co__diag(diag, CUTOFF_ESTORE, "cannot commit the migration: %s", sqlite3_errmsg(s->db));
        goto out;
    }
    return 0;
out:
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int sq_begin(co__store *base)
{
    int rc = check_reachable(as_sqlite(base));
    return rc ? rc : exec(as_sqlite(base), "BEGIN IMMEDIATE");
}

static int sq_begin_read(co__store *base)
{
    int rc = check_reachable(as_sqlite(base));
    return rc ? rc : exec(as_sqlite(base), "BEGIN DEFERRED");
}

/* Gives back the cache a bulk write took, once its pages are clean
 * (shrinking it earlier would spill them to the log mid-transaction). */
static void end_bulk(sqlite_store *s)
{
    if (s->bulk_cache) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA cache_size = -%d", CACHE_KIB);
        sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        s->bulk_cache = false;
    }
}

static int sq_commit(co__store *base)
{
    sqlite_store *s = as_sqlite(base);
    int rc = exec(s, "COMMIT");
    if (rc == 0)
        end_bulk(s);
    return rc;
}

static void sq_rollback(co__store *base)
{
    sqlite_store *s = as_sqlite(base);
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    end_bulk(s);
}

static const char *sq_errmsg(co__store *base)
{
    sqlite_store *s = as_sqlite(base);
    return s->unreachable[0] ? s->unreachable : sqlite3_errmsg(s->db);
}

/* ===================================================================== */
/* Nodes                                                                  */
/* ===================================================================== */

static void node_from_row(sqlite3_stmt *st, cutoff_node_spec *n)
{
    n->id = col_text(st, 0);
    n->kind = (cutoff_node_kind)sqlite3_column_int(st, 1);
    n->parent = col_text(st, 2);
    n->name = col_text(st, 3);
    n->plan = col_text(st, 4);
}

static int sq_node_get(co__store *base, const char *id, cutoff_node_spec *out, char **strings)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_NODE_GET, &st);
    if (rc != 0)
        return rc;
    bind_text(st, 1, id);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        /* One block holds the four strings the spec points at. */
        size_t len[5] = {0}, total = 0;
        for (int i = 0; i < 5; i++) {
            len[i] = col_text(st, i) ? (size_t)sqlite3_column_bytes(st, i) + 1 : 0;
            total += len[i];
        }
        char *block = co__malloc(total);
        if (block == NULL) {
            rc = CUTOFF_ENOMEM;
        } else {
            const char *p[5];
            char *w = block;
            for (int i = 0; i < 5; i++) {
                p[i] = NULL;
                if (i != 1 && len[i]) {
                    memcpy(w, col_text(st, i), len[i]);
                    p[i] = w;
                    w += len[i];
                }
            }
            *out = (cutoff_node_spec){.id = p[0],
                                      .kind = (cutoff_node_kind)sqlite3_column_int(st, 1),
                                      .parent = p[2],
                                      .name = p[3],
                                      .plan = p[4]};
            *strings = block;
        }
    } else {
        rc = src == SQLITE_DONE ? CUTOFF_ENOTFOUND : fail(src);
    }
    done(st);
    return rc;
}

static int iterate_nodes(sqlite3_stmt *st, co__node_fn fn, void *ctx)
{
    int rc = 0, src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        cutoff_node_spec n;
        node_from_row(st, &n);
        if ((rc = fn(ctx, &n)) != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = fail(src);
    done(st);
    return rc;
}

static int sq_node_iter(co__store *base, co__node_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_NODE_ITER, &st);
    return rc ? rc : iterate_nodes(st, fn, ctx);
}

static int sq_node_count(co__store *base, uint64_t *out)
{
    sqlite3_stmt *st;
    int64_t n = 0;
    int rc = prepare(as_sqlite(base), ST_NODE_COUNT, &st);
    if (rc == 0 && (rc = step_int(st, &n)) == 0)
        *out = (uint64_t)n;
    return rc;
}

static int sq_node_plan_uses(co__store *base, co__plan_use_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_NODE_PLAN_USES, &st), src;
    if (rc != 0)
        return rc;
    while ((src = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = fn(ctx, col_text(st, 0), col_text(st, 1))) != 0)
            break;
    if (rc == 0 && src != SQLITE_DONE)
        rc = fail(src);
    done(st);
    return rc;
}

/* A large batch gets a bigger page cache for the rest of its transaction,
 * so that its pages are written to the log once, at commit. */
static int sq_node_write_begin(co__store *base, uint64_t rows, uint64_t existing)
{
    sqlite_store *s = as_sqlite(base);
    (void)existing;
    if (rows < BULK_ROWS || s->bulk_cache)
        return 0;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA cache_size = -%d", BULK_CACHE_KIB);
    int rc = exec(s, sql);
    s->bulk_cache = rc == 0;
    return rc;
}

static int sq_node_put(co__store *base, const cutoff_node_spec *n)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_NODE_PUT, &st);
    if (rc != 0)
        return rc;
    bind_text(st, 1, n->id);
    sqlite3_bind_int(st, 2, (int)n->kind);
    bind_text(st, 3, n->parent);
    bind_text(st, 4, n->name);
    bind_text(st, 5, n->plan);
    /* No clear_bindings per row: every parameter is bound every time. */
    int src = sqlite3_step(st);
    sqlite3_reset(st);
    return src == SQLITE_DONE ? 0 : fail(src);
}

static int sq_node_write_end(co__store *base)
{
    (void)base;
    return 0;
}

/* ===================================================================== */
/* Catalog                                                                */
/* ===================================================================== */

static int sq_catalog_get(co__store *base, char **json_out)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_CATALOG_GET, &st);
    if (rc != 0)
        return rc;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        rc = col_dup(st, 0, json_out);
    else
        rc = src == SQLITE_DONE ? CUTOFF_ENOTFOUND : fail(src);
    done(st);
    return rc;
}

static int sq_catalog_put(co__store *base, const char *json, const char *actor, int64_t time)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_CATALOG_PUT, &st);
    if (rc != 0)
        return rc;
    bind_text(st, 1, json);
    bind_text(st, 2, actor);
    sqlite3_bind_int64(st, 3, time);
    if ((rc = step_done(st)) != 0 ||
        (rc = prepare(as_sqlite(base), ST_CATALOG_HISTORY_PUT, &st)) != 0)
        return rc;
    bind_text(st, 1, json);
    bind_text(st, 2, actor);
    sqlite3_bind_int64(st, 3, time);
    return step_done(st);
}

static int sq_catalog_at(co__store *base, int64_t time, char **json_out)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_CATALOG_AT, &st);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, time);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        rc = col_dup(st, 0, json_out);
    else
        rc = src == SQLITE_DONE ? CUTOFF_ENOTFOUND : fail(src);
    done(st);
    return rc;
}

/* ===================================================================== */
/* Cases and evidence                                                     */
/* ===================================================================== */

static void case_from_row(sqlite3_stmt *st, co__case_row *r)
{
    r->id = col_text(st, 0);
    r->title = col_text(st, 1);
    r->scope_json = col_text(st, 2);
    r->open = strcmp(col_text(st, 3), "open") == 0;
    r->findings = col_text(st, 4);
    r->opened_by = col_text(st, 5);
    r->opened_at = sqlite3_column_int64(st, 6);
    r->closed_by = col_text(st, 7);
    r->closed_at = sqlite3_column_int64(st, 8);
    r->updated_by = col_text(st, 9);
    r->updated_at = sqlite3_column_int64(st, 10);
}

static int sq_case_get(co__store *base, const char *id, co__case_row *out)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_CASE_GET, &st);
    if (rc != 0)
        return rc;
    bind_text(st, 1, id);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        co__case_row r;
        case_from_row(st, &r);
        *out = r;
        out->id = out->title = out->scope_json = out->findings = NULL;
        out->opened_by = out->closed_by = out->updated_by = NULL;
        if (col_dup(st, 0, &out->id) || col_dup(st, 1, &out->title) ||
            col_dup(st, 2, &out->scope_json) || col_dup(st, 4, &out->findings) ||
            col_dup(st, 5, &out->opened_by) || col_dup(st, 7, &out->closed_by) ||
            col_dup(st, 9, &out->updated_by)) {
            co__case_row_clear(out);
            rc = CUTOFF_ENOMEM;
        }
    } else {
        rc = src == SQLITE_DONE ? CUTOFF_ENOTFOUND : fail(src);
    }
    done(st);
    return rc;
}

static int sq_case_put(co__store *base, const co__case_row *r)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_CASE_PUT, &st);
    if (rc != 0)
        return rc;
    bind_text(st, 1, r->id);
    bind_text(st, 2, r->title);
    bind_text(st, 3, r->scope_json);
    bind_text(st, 4, r->open ? "open" : "closed");
    bind_text(st, 5, r->findings);
    bind_text(st, 6, r->opened_by);
    sqlite3_bind_int64(st, 7, r->opened_at);
    bind_text(st, 8, r->closed_by);
    bind_time(st, 9, r->closed_at);
    bind_text(st, 10, r->updated_by);
    bind_time(st, 11, r->updated_at);
    return step_done(st);
}

static int sq_case_iter(co__store *base, co__case_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_CASE_ITER, &st), src;
    if (rc != 0)
        return rc;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        co__case_row r;
        case_from_row(st, &r);
        if ((rc = fn(ctx, &r)) != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = fail(src);
    done(st);
    return rc;
}

static int sq_case_count(co__store *base, uint64_t *out)
{
    sqlite3_stmt *st;
    int64_t n = 0;
    int rc = prepare(as_sqlite(base), ST_CASE_COUNT, &st);
    if (rc == 0 && (rc = step_int(st, &n)) == 0)
        *out = (uint64_t)n;
    return rc;
}

static int sq_evidence_add(co__store *base, const co__evidence_row *r, int64_t *n_out)
{
    sqlite_store *s = as_sqlite(base);
    sqlite3_stmt *st;
    int64_t n = 0;
    int rc = prepare(s, ST_EVIDENCE_NEXT, &st);
    if (rc != 0)
        return rc;
    bind_text(st, 1, r->case_id);
    if ((rc = step_int(st, &n)) != 0)
        return rc;
    if ((rc = prepare(s, ST_EVIDENCE_ADD, &st)) != 0)
        return rc;
    bind_text(st, 1, r->case_id);
    sqlite3_bind_int64(st, 2, n);
    bind_text(st, 3, r->sha256_hex);
    sqlite3_bind_int64(st, 4, r->size);
    bind_text(st, 5, r->media_type);
    bind_text(st, 6, r->file);
    bind_text(st, 7, r->note);
    bind_text(st, 8, r->added_by);
    sqlite3_bind_int64(st, 9, r->added_at);
    if (r->content)
        sqlite3_bind_blob64(st, 10, r->content, r->content_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 10);
    if ((rc = step_done(st)) == 0)
        *n_out = n;
    return rc;
}

static int sq_evidence_iter(co__store *base, const char *case_id, co__evidence_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_EVIDENCE_ITER, &st), src;
    if (rc != 0)
        return rc;
    bind_text(st, 1, case_id);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        co__evidence_row r = {
            .case_id = col_text(st, 0),
            .n = sqlite3_column_int64(st, 1),
            .sha256_hex = col_text(st, 2),
            .size = sqlite3_column_int64(st, 3),
            .media_type = col_text(st, 4),
            .file = col_text(st, 5),
            .note = col_text(st, 6),
            .added_by = col_text(st, 7),
            .added_at = sqlite3_column_int64(st, 8),
            .content_kept = sqlite3_column_int(st, 9) != 0,
        };
        if ((rc = fn(ctx, &r)) != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = fail(src);
    done(st);
    return rc;
}

/* ===================================================================== */
/* Actions                                                                */
/* ===================================================================== */

static void action_from_row(sqlite3_stmt *st, co__action_row *r)
{
    r->id = col_text(st, 0);
    r->version = sqlite3_column_int(st, 1);
    r->case_id = col_text(st, 2);
    r->state = sqlite3_column_int(st, 3);
    r->doc = col_text(st, 4);
    r->proposed_by = col_text(st, 5);
    r->proposed_at = sqlite3_column_int64(st, 6);
    r->approved_by = col_text(st, 7);
    r->approved_at = sqlite3_column_int64(st, 8);
    r->activated_at = sqlite3_column_int64(st, 9);
    r->lifted_by = col_text(st, 10);
    r->lifted_at = sqlite3_column_int64(st, 11);
    r->lift_reason = col_text(st, 12);
}

static int sq_action_get(co__store *base, const char *id, int version, co__action_row *out)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), version ? ST_ACTION_GET : ST_ACTION_GET_LATEST, &st);
    if (rc != 0)
        return rc;
    bind_text(st, 1, id);
    if (version)
        sqlite3_bind_int(st, 2, version);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        action_from_row(st, out);
        out->id = out->case_id = out->doc = out->proposed_by = NULL;
        out->approved_by = out->lifted_by = out->lift_reason = NULL;
        if (col_dup(st, 0, &out->id) || col_dup(st, 2, &out->case_id) ||
            col_dup(st, 4, &out->doc) || col_dup(st, 5, &out->proposed_by) ||
            col_dup(st, 7, &out->approved_by) || col_dup(st, 10, &out->lifted_by) ||
            col_dup(st, 12, &out->lift_reason)) {
            co__action_row_clear(out);
            rc = CUTOFF_ENOMEM;
        }
    } else {
        rc = src == SQLITE_DONE ? CUTOFF_ENOTFOUND : fail(src);
    }
    done(st);
    return rc;
}

static int sq_action_put(co__store *base, const co__action_row *r)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_ACTION_PUT, &st);
    if (rc != 0)
        return rc;
    bind_text(st, 1, r->id);
    sqlite3_bind_int(st, 2, r->version);
    bind_text(st, 3, r->case_id);
    sqlite3_bind_int(st, 4, r->state);
    bind_text(st, 5, r->doc);
    bind_text(st, 6, r->proposed_by);
    sqlite3_bind_int64(st, 7, r->proposed_at);
    bind_text(st, 8, r->approved_by);
    bind_time(st, 9, r->approved_at);
    bind_time(st, 10, r->activated_at);
    bind_text(st, 11, r->lifted_by);
    bind_time(st, 12, r->lifted_at);
    bind_text(st, 13, r->lift_reason);
    return step_done(st);
}

static int sq_action_iter(co__store *base, const co__action_filter *f, co__action_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_ACTION_ITER, &st), src;
    if (rc != 0)
        return rc;
    bind_text(st, 1, f ? f->id : NULL);
    bind_text(st, 2, f ? f->case_id : NULL);
    sqlite3_bind_int(st, 3, f ? f->state : -1);
    sqlite3_bind_int(st, 4, f && f->latest_only);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        co__action_row r;
        action_from_row(st, &r);
        if ((rc = fn(ctx, &r)) != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = fail(src);
    done(st);
    return rc;
}

static int sq_action_count_ids(co__store *base, uint64_t *out)
{
    sqlite3_stmt *st;
    int64_t n = 0;
    int rc = prepare(as_sqlite(base), ST_ACTION_COUNT_IDS, &st);
    if (rc == 0 && (rc = step_int(st, &n)) == 0)
        *out = (uint64_t)n;
    return rc;
}

/* ===================================================================== */
/* Audit                                                                  */
/* ===================================================================== */

static void audit_from_row(sqlite3_stmt *st, co__audit_row *r)
{
    r->seq = (uint64_t)sqlite3_column_int64(st, 0);
    r->time = sqlite3_column_int64(st, 1);
    r->actor = col_text(st, 2);
    r->verb = col_text(st, 3);
    r->object = col_text(st, 4);
    r->payload = col_text(st, 5);
    r->prev_hash = col_text(st, 6);
    r->hash = col_text(st, 7);
}

static int sq_audit_last(co__store *base, co__audit_row *out)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_AUDIT_LAST, &st);
    if (rc != 0)
        return rc;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        audit_from_row(st, out);
        out->actor = out->verb = out->object = out->payload = out->prev_hash = out->hash = NULL;
        if (col_dup(st, 2, &out->actor) || col_dup(st, 3, &out->verb) ||
            col_dup(st, 4, &out->object) || col_dup(st, 5, &out->payload) ||
            col_dup(st, 6, &out->prev_hash) || col_dup(st, 7, &out->hash)) {
            co__audit_row_clear(out);
            rc = CUTOFF_ENOMEM;
        }
    } else {
        rc = src == SQLITE_DONE ? CUTOFF_ENOTFOUND : fail(src);
    }
    done(st);
    return rc;
}

static int sq_audit_put(co__store *base, const co__audit_row *r)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_AUDIT_PUT, &st);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, (int64_t)r->seq);
    sqlite3_bind_int64(st, 2, r->time);
    bind_text(st, 3, r->actor);
    bind_text(st, 4, r->verb);
    bind_text(st, 5, r->object);
    bind_text(st, 6, r->payload);
    bind_text(st, 7, r->prev_hash);
    bind_text(st, 8, r->hash);
    return step_done(st);
}

static int sq_audit_iter(co__store *base, uint64_t after, size_t limit, co__audit_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_AUDIT_ITER, &st), src;
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, after > INT64_MAX ? INT64_MAX : (int64_t)after);
    sqlite3_bind_int64(st, 2, limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        co__audit_row r;
        audit_from_row(st, &r);
        if ((rc = fn(ctx, &r)) != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = fail(src);
    done(st);
    return rc;
}

/* ===================================================================== */
/* Signed heads and notices                                               */
/* ===================================================================== */

/* Runs an INSERT ... RETURNING n. */
static int step_returning(sqlite3_stmt *st, uint64_t *n_out)
{
    int64_t n = 0;
    int src = sqlite3_step(st), rc = 0;
    if (src == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
        src = sqlite3_step(st);
    }
    rc = src == SQLITE_DONE ? 0 : fail(src);
    done(st);
    if (rc == 0 && n_out)
        *n_out = (uint64_t)n;
    return rc;
}

static int sq_head_put(co__store *base, const co__head_row *r, uint64_t *n_out)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_HEAD_PUT, &st);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, r->seq > INT64_MAX ? INT64_MAX : (int64_t)r->seq);
    bind_text(st, 2, r->statement);
    bind_text(st, 3, r->signature);
    return step_returning(st, n_out);
}

static void head_from_row(sqlite3_stmt *st, co__head_row *r)
{
    r->n = (uint64_t)sqlite3_column_int64(st, 0);
    r->seq = (uint64_t)sqlite3_column_int64(st, 1);
    r->statement = col_text(st, 2);
    r->signature = col_text(st, 3);
}

static int sq_head_last(co__store *base, co__head_row *out)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_HEAD_LAST, &st);
    if (rc != 0)
        return rc;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        head_from_row(st, out);
        out->statement = out->signature = NULL;
        if (col_dup(st, 2, &out->statement) || col_dup(st, 3, &out->signature)) {
            co__head_row_clear(out);
            rc = CUTOFF_ENOMEM;
        }
    } else {
        rc = src == SQLITE_DONE ? CUTOFF_ENOTFOUND : fail(src);
    }
    done(st);
    return rc;
}

static int sq_head_iter(co__store *base, co__head_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_HEAD_ITER, &st), src;
    if (rc != 0)
        return rc;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        co__head_row r;
        head_from_row(st, &r);
        if ((rc = fn(ctx, &r)) != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = fail(src);
    done(st);
    return rc;
}

static void notice_from_row(sqlite3_stmt *st, co__notice_row *r)
{
    r->action_id = col_text(st, 0);
    r->n = (uint64_t)sqlite3_column_int64(st, 1);
    r->issued_at = sqlite3_column_int64(st, 2);
    r->body = col_text(st, 3);
    r->signature = col_text(st, 4);
}

static int sq_notice_put(co__store *base, const co__notice_row *r, uint64_t *n_out)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_NOTICE_PUT, &st);
    if (rc != 0)
        return rc;
    bind_text(st, 1, r->action_id);
    sqlite3_bind_int64(st, 2, r->issued_at);
    bind_text(st, 3, r->body);
    bind_text(st, 4, r->signature);
    return step_returning(st, n_out);
}

static int sq_notice_get(co__store *base, const char *action_id, uint64_t n, co__notice_row *out)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), n ? ST_NOTICE_GET : ST_NOTICE_GET_LATEST, &st);
    if (rc != 0)
        return rc;
    bind_text(st, 1, action_id);
    if (n)
        sqlite3_bind_int64(st, 2, n > INT64_MAX ? INT64_MAX : (int64_t)n);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        notice_from_row(st, out);
        out->action_id = out->body = out->signature = NULL;
        if (col_dup(st, 0, &out->action_id) || col_dup(st, 3, &out->body) ||
            col_dup(st, 4, &out->signature)) {
            co__notice_row_clear(out);
            rc = CUTOFF_ENOMEM;
        }
    } else {
        rc = src == SQLITE_DONE ? CUTOFF_ENOTFOUND : fail(src);
    }
    done(st);
    return rc;
}

static int sq_notice_iter(co__store *base, const char *action_id, bool latest_only,
                          co__notice_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_NOTICE_ITER, &st), src;
    if (rc != 0)
        return rc;
    bind_text(st, 1, action_id);
    sqlite3_bind_int(st, 2, latest_only);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        co__notice_row r;
        notice_from_row(st, &r);
        if ((rc = fn(ctx, &r)) != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = fail(src);
    done(st);
    return rc;
}

static int sq_notice_sign(co__store *base, const char *action_id, uint64_t n, const char *signature)
{
    sqlite_store *s = as_sqlite(base);
    sqlite3_stmt *st;
    int rc = prepare(s, ST_NOTICE_SIGN, &st);
    if (rc != 0)
        return rc;
    bind_text(st, 1, action_id);
    sqlite3_bind_int64(st, 2, n > INT64_MAX ? INT64_MAX : (int64_t)n);
    bind_text(st, 3, signature);
    if ((rc = step_done(st)) != 0)
        return rc;
    if (sqlite3_changes(s->db) == 1)
        return 0;
    co__notice_row row = {0};
    rc = sq_notice_get(base, action_id, n, &row);
    co__notice_row_clear(&row);
    return rc == 0 ? CUTOFF_ESTATE : rc;
}

/* ===================================================================== */
/* Change log                                                             */
/* ===================================================================== */

static int sq_change_put(co__store *base, unsigned kind, const char *object)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_CHANGE_PUT, &st);
    if (rc != 0)
        return rc;
    sqlite3_bind_int(st, 1, (int)kind);
    bind_text(st, 2, object);
    return step_done(st);
}

static int sq_change_last(co__store *base, unsigned kind, uint64_t *seq_out)
{
    sqlite3_stmt *st;
    int64_t seq = 0;
    int rc = prepare(as_sqlite(base), kind ? ST_CHANGE_LAST_KIND : ST_CHANGE_LAST, &st);
    if (rc != 0)
        return rc;
    if (kind)
        sqlite3_bind_int(st, 1, (int)kind);
    if ((rc = step_int(st, &seq)) == 0)
        *seq_out = (uint64_t)seq;
    return rc;
}

/* Starts watching the database's directory for writes to the database or
 * its -wal. The directory rather than the two files: SQLite may delete
 * and recreate the -wal when the last connection closes, and a watch on a
 * file follows the old one. A move of the directory itself, or of the
 * database out of it, wakes the waiter too, so that an unreachable store
 * is noticed at once. */
static int watch_start(sqlite_store *s)
{
    s->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (s->watch_fd < 0)
        return -1;
    if (inotify_add_watch(s->watch_fd, s->dir,
                          IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                              IN_MOVED_TO | IN_MOVE_SELF | IN_DELETE_SELF | IN_ONLYDIR) < 0) {
        close(s->watch_fd);
        s->watch_fd = -1;
        return -1;
    }
    return 0;
}

/* Reads every queued event; whether one was about the database, its -wal
 * or the watched directory itself. */
static bool watch_drain(sqlite_store *s)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool ours = false;
    ssize_t n;
    while ((n = read(s->watch_fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *e = (const struct inotify_event *)(void *)p;
            if (e->len == 0 || strcmp(e->name, s->base_name) == 0 ||
                strcmp(e->name, s->wal_name) == 0)
                ours = true;
            p += sizeof *e + e->len;
        }
    }
    return ours;
}

/* The first call only starts the watch and answers "woken": a commit made
 * before the watch existed would otherwise go unseen until the timeout.
 * Events that queue between two calls are kept by the kernel, so a commit
 * made while the caller was reading is not lost: the next call returns at
 * once. Writes of this handle wake it too (a receipt, a signed head); the
 * caller finds no new change and waits again. */
static int sq_change_wait(co__store *base, int timeout_ms)
{
    sqlite_store *s = as_sqlite(base);
    if (timeout_ms < 0)
        timeout_ms = 0;
    if (s->watch_fd < 0 && !s->watch_failed) {
        if (watch_start(s) == 0)
            return 1;
        s->watch_failed = true;
    }
    if (s->watch_fd < 0) {
        int ms = timeout_ms < CHANGE_POLL_MS ? timeout_ms : CHANGE_POLL_MS;
        struct timespec pause = {ms / 1000, (long)(ms % 1000) * 1000000};
        nanosleep(&pause, NULL);
        return check_reachable(s) ? CUTOFF_EUNAVAIL : 1;
    }
    int64_t deadline = co__monotonic_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - co__monotonic_ms();
        struct pollfd pfd = {.fd = s->watch_fd, .events = POLLIN};
        int n = poll(&pfd, 1, left > 0 ? (int)(left > INT_MAX ? INT_MAX : left) : 0);
        if (n < 0 && errno != EINTR)
            return CUTOFF_EIO;
        if (n > 0 && watch_drain(s))
            return check_reachable(s) ? CUTOFF_EUNAVAIL : 1;
        if (left <= 0)
            return check_reachable(s) ? CUTOFF_EUNAVAIL : 0;
    }
}

/* ===================================================================== */
/* Receipts                                                               */
/* ===================================================================== */

static int sq_receipt_put(co__store *base, const co__receipt_row *r)
{
    /* Outside a transaction: the check begin makes is made here. */
    if (check_reachable(as_sqlite(base)))
        return CUTOFF_EUNAVAIL;
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_RECEIPT_PUT, &st);
    if (rc != 0)
        return rc;
    bind_text(st, 1, r->node);
    sqlite3_bind_int64(st, 2, r->seq > INT64_MAX ? INT64_MAX : (int64_t)r->seq);
    sqlite3_bind_int64(st, 3, r->applied_at);
    bind_text(st, 4, r->digest);
    sqlite3_bind_int64(st, 5, r->heartbeat_at);
    bind_text(st, 6, r->status);
    return step_done(st);
}

static int sq_receipt_iter(co__store *base, co__receipt_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_RECEIPT_ITER, &st), src;
    if (rc != 0)
        return rc;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        co__receipt_row r = {
            .node = col_text(st, 0),
            .seq = (uint64_t)sqlite3_column_int64(st, 1),
            .applied_at = sqlite3_column_int64(st, 2),
            .digest = col_text(st, 3),
            .heartbeat_at = sqlite3_column_int64(st, 4),
            .status = col_text(st, 5),
        };
        if ((rc = fn(ctx, &r)) != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = fail(src);
    done(st);
    return rc;
}

/* ===================================================================== */
/* Shadow runs                                                            */
/* ===================================================================== */

static int sq_shadow_run_put(co__store *base, const co__shadow_run_row *r, uint64_t *run_out)
{
    sqlite3_stmt *st;
    bool add = r->run == 0;
    int rc = prepare(as_sqlite(base), add ? ST_SHADOW_RUN_ADD : ST_SHADOW_RUN_PUT, &st);
    if (rc != 0)
        return rc;
    if (!add)
        sqlite3_bind_int64(st, 1, r->run > INT64_MAX ? INT64_MAX : (int64_t)r->run);
    bind_text(st, 2, r->action_id);
    sqlite3_bind_int(st, 3, r->version);
    bind_text(st, 4, r->started_by);
    sqlite3_bind_int64(st, 5, r->started_at);
    bind_text(st, 6, r->stopped_by);
    bind_time(st, 7, r->stopped_at);
    if (!add)
        return step_done(st);
    int64_t run = 0;
    if ((rc = step_int(st, &run)) == 0 && run_out)
        *run_out = (uint64_t)run;
    return rc;
}

static int sq_shadow_run_iter(co__store *base, const char *action_id, co__shadow_run_fn fn,
                              void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_SHADOW_RUN_ITER, &st), src;
    if (rc != 0)
        return rc;
    bind_text(st, 1, action_id);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        co__shadow_run_row r = {
            .run = (uint64_t)sqlite3_column_int64(st, 0),
            .action_id = col_text(st, 1),
            .version = sqlite3_column_int(st, 2),
            .started_by = col_text(st, 3),
            .started_at = sqlite3_column_int64(st, 4),
            .stopped_by = col_text(st, 5),
            .stopped_at = sqlite3_column_int64(st, 6),
        };
        if ((rc = fn(ctx, &r)) != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = fail(src);
    done(st);
    return rc;
}

static int sq_shadow_counts_put(co__store *base, const co__shadow_counts_row *r)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_SHADOW_COUNTS_PUT, &st);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, r->run > INT64_MAX ? INT64_MAX : (int64_t)r->run);
    bind_text(st, 2, r->node);
    sqlite3_bind_int64(st, 3, r->reported_at);
    bind_text(st, 4, r->counts);
    return step_done(st);
}

static int sq_shadow_counts_iter(co__store *base, uint64_t run, co__shadow_counts_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_SHADOW_COUNTS_ITER, &st), src;
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, run > INT64_MAX ? INT64_MAX : (int64_t)run);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        co__shadow_counts_row r = {
            .run = (uint64_t)sqlite3_column_int64(st, 0),
            .node = col_text(st, 1),
            .reported_at = sqlite3_column_int64(st, 2),
            .counts = col_text(st, 3),
        };
        if ((rc = fn(ctx, &r)) != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = fail(src);
    done(st);
    return rc;
}

/* ===================================================================== */
/* Copying a whole store                                                  */
/* ===================================================================== */

/* DDL is transactional in SQLite: the schema commits with the rows. */
static int sq_create_schema(co__store *base, cutoff_diag *diag)
{
    sqlite_store *s = as_sqlite(base);
    int version = 0;
    if (sqlite3_get_autocommit(s->db))
        return co__diag(diag, CUTOFF_EINVAL, "the schema is created inside a write transaction");
    if (read_user_version(s->db, &version) != SQLITE_OK)
        return co__diag(diag, CUTOFF_ESTORE, "cannot read the schema version: %s",
                        sqlite3_errmsg(s->db));
    if (version != 0)
        return co__diag(diag, CUTOFF_ESTATE, "the store is not empty (schema version %d)", version);
    return apply_migrations(s, 0, diag);
}

static int sq_catalog_history_iter(co__store *base, co__catalog_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_CATALOG_HISTORY_ITER, &st), src;
    if (rc != 0)
        return rc;
    while ((src = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = fn(ctx, col_text(st, 0), col_text(st, 1), sqlite3_column_int64(st, 2))) != 0)
            break;
    if (rc == 0 && src != SQLITE_DONE)
        rc = fail(src);
    done(st);
    return rc;
}

static int sq_evidence_iter_all(co__store *base, co__evidence_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_EVIDENCE_ITER_ALL, &st), src;
    if (rc != 0)
        return rc;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        co__evidence_row r = {
            .case_id = col_text(st, 0),
            .n = sqlite3_column_int64(st, 1),
            .sha256_hex = col_text(st, 2),
            .size = sqlite3_column_int64(st, 3),
            .media_type = col_text(st, 4),
            .file = col_text(st, 5),
            .note = col_text(st, 6),
            .added_by = col_text(st, 7),
            .added_at = sqlite3_column_int64(st, 8),
            .content_kept = sqlite3_column_int(st, 9) != 0,
        };
        if (r.content_kept) {
            /* SQLite returns NULL for an empty blob: kept empty content is "". */
            r.content = sqlite3_column_blob(st, 10);
            r.content_len = (size_t)sqlite3_column_bytes(st, 10);
            if (r.content == NULL)
                r.content = "";
        }
        if ((rc = fn(ctx, &r)) != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = fail(src);
    done(st);
    return rc;
}

static int sq_change_iter(co__store *base, co__change_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(as_sqlite(base), ST_CHANGE_ITER, &st), src;
    if (rc != 0)
        return rc;
    while ((src = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = fn(ctx, (uint64_t)sqlite3_column_int64(st, 0),
                     (unsigned)sqlite3_column_int(st, 1), col_text(st, 2))) != 0)
            break;
    if (rc == 0 && src != SQLITE_DONE)
        rc = fail(src);
    done(st);
    return rc;
}

const co__store_ops co__sqlite_store_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .migrate = sq_migrate,
    .begin = sq_begin,
    .begin_read = sq_begin_read,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .errmsg = sq_errmsg,
    .node_get = sq_node_get,
    .node_iter = sq_node_iter,
    .node_count = sq_node_count,
    .node_plan_uses = sq_node_plan_uses,
    .node_write_begin = sq_node_write_begin,
    .node_put = sq_node_put,
    .node_write_end = sq_node_write_end,
    .catalog_get = sq_catalog_get,
    .catalog_put = sq_catalog_put,
    .catalog_at = sq_catalog_at,
    .case_get = sq_case_get,
    .case_put = sq_case_put,
    .case_iter = sq_case_iter,
    .case_count = sq_case_count,
    .evidence_add = sq_evidence_add,
    .evidence_iter = sq_evidence_iter,
    .action_get = sq_action_get,
    .action_put = sq_action_put,
    .action_iter = sq_action_iter,
    .action_count_ids = sq_action_count_ids,
    .audit_last = sq_audit_last,
    .audit_put = sq_audit_put,
    .audit_iter = sq_audit_iter,
    .head_put = sq_head_put,
    .head_last = sq_head_last,
    .head_iter = sq_head_iter,
    .notice_put = sq_notice_put,
    .notice_get = sq_notice_get,
    .notice_iter = sq_notice_iter,
    .notice_sign = sq_notice_sign,
    .change_put = sq_change_put,
    .change_last = sq_change_last,
    .create_schema = sq_create_schema,
    .catalog_history_iter = sq_catalog_history_iter,
    .evidence_iter_all = sq_evidence_iter_all,
    .change_iter = sq_change_iter,
    .change_wait = sq_change_wait,
    .receipt_put = sq_receipt_put,
    .receipt_iter = sq_receipt_iter,
    .shadow_run_put = sq_shadow_run_put,
    .shadow_run_iter = sq_shadow_run_iter,
    .shadow_counts_put = sq_shadow_counts_put,
    .shadow_counts_iter = sq_shadow_counts_iter,
};
