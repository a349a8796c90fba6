/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg.c - the PostgreSQL backend of the store interface (store.h), through
 * libpq. The location is a libpq URI (postgresql://... or postgres://...)
 * or "postgresql:" alone for the libpq environment (PGHOST, PGDATABASE,
 * ...). The schema mirrors the SQLite one (sqlite.c) table for table, with
 * every text column in the "C" collation so that ids sort byte-wise as
 * they do in SQLite; its version is the one row of cutoff_schema.
 *
 * Writers are serialised by a transaction-scoped advisory lock taken at
 * begin, so the audit chain and the change sequence stay linear however
 * many processes on however many machines write; readers take a
 * repeatable-read snapshot and never wait. Every committed change also
 * sends a NOTIFY on cutoff_changes whose payload is only the sequence: a
 * wake-up for change_wait, which listens on a second connection.
 *
 * The tree's nodes move in bulk through COPY: node_iter streams them out
 * in id order and parses the text format itself (no result set of ten
 * million rows in memory), node writes stream in in COPY's binary format
 * (the server parses no text) and are merged with one INSERT ... ON
 * CONFLICT. Every other statement is prepared once per
 * connection with typed parameters. A connection the server dropped is
 * re-established at the next begin, begin_read or call outside a
 * transaction; until then calls fail with CUTOFF_ESTORE.
 */
#include "store/store.h"
#include "util/util.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Schema version this backend writes. */
#define PG_SCHEMA_VERSION CO__STORE_SCHEMA_VERSION

/* The advisory lock every writer holds for its transaction: "cutoff" in
 * ASCII. Advisory locks are per database, so two cutoff databases on one
 * server do not wait for each other. */
#define WRITER_LOCK "109356115781222"
/* How long a writer waits for another writer's lock, as SQLite's busy
 * timeout: a bulk import of ten million nodes holds it for a while. */
#define LOCK_TIMEOUT "'60s'"
/* Connection defaults, for a location that does not say otherwise. */
#define CONNECT_TIMEOUT_S "5"
/* The channel change_put notifies and change_wait listens on. */
#define CHANGE_CHANNEL "cutoff_changes"
/* Rows per round trip when audit_iter pages through the log. */
#define AUDIT_PAGE 10000
/* Bytes of COPY data gathered before they are handed to libpq. */
#define COPY_CHUNK 65536
/* COPY's binary format: a signature, flags and header extension length
 * (both 0), then per row the number of fields and each field as its length
 * (-1: NULL) and bytes, all integers in network byte order; -1 ends it. The
 * server then parses no text: the fields go to textrecv / int2recv. */
static const char copy_signature[] = "PGCOPY\n\377\r\n";
#define NODE_FIELDS 5

/* ===================================================================== */
/* Schema                                                                 */
/* ===================================================================== */

/* migrations[v] takes a store from schema version v to v + 1, as in
 * sqlite.c. Never edit a released entry; append a new one. Every name
 * created here is also in our_objects below (a migration that creates a
 * name missing there fails its own check, so the two cannot drift). */
static const char *const migrations[PG_SCHEMA_VERSION] = {
    /* 0 -> 1: the first schema. The cases keep the order they were opened
     * in `ord` (SQLite's rowid). One trigger function refuses what an
     * append-only table must not do, with the message its trigger gives. */
    "CREATE TABLE cutoff_schema(version integer NOT NULL);"
    "INSERT INTO cutoff_schema(version) VALUES (0);"
    "CREATE TABLE nodes("
    "  id text COLLATE \"C\" NOT NULL,"
    "  kind smallint NOT NULL CHECK (kind BETWEEN 1 AND 3),"
    "  parent text COLLATE \"C\","
    "  name text COLLATE \"C\","
    "  plan text COLLATE \"C\","
    "  CONSTRAINT nodes_pkey PRIMARY KEY (id)"
    ");"
    "CREATE TABLE catalog("
    "  one integer NOT NULL CHECK (one = 1),"
    "  json text COLLATE \"C\" NOT NULL,"
    "  loaded_by text COLLATE \"C\" NOT NULL,"
    "  loaded_at bigint NOT NULL,"
    "  CONSTRAINT catalog_pkey PRIMARY KEY (one)"
    ");"
    "CREATE TABLE cases("
    "  ord bigint NOT NULL,"
    "  id text COLLATE \"C\" NOT NULL,"
    "  title text COLLATE \"C\" NOT NULL,"
    "  scope text COLLATE \"C\" NOT NULL,"
    "  status text COLLATE \"C\" NOT NULL CHECK (status IN ('open', 'closed')),"
    "  findings text COLLATE \"C\","
    "  opened_by text COLLATE \"C\" NOT NULL,"
    "  opened_at bigint NOT NULL,"
    "  closed_by text COLLATE \"C\","
    "  closed_at bigint,"
    "  updated_by text COLLATE \"C\","
    "  updated_at bigint,"
    "  CONSTRAINT cases_pkey PRIMARY KEY (id),"
    "  CONSTRAINT cases_ord_key UNIQUE (ord)"
    ");"
    "CREATE TABLE evidence("
    "  case_id text COLLATE \"C\" NOT NULL REFERENCES cases(id),"
    "  n bigint NOT NULL,"
    "  sha256 text COLLATE \"C\" NOT NULL,"
    "  size bigint NOT NULL,"
    "  media_type text COLLATE \"C\" NOT NULL,"
    "  file text COLLATE \"C\","
    "  note text COLLATE \"C\","
    "  added_by text COLLATE \"C\" NOT NULL,"
    "  added_at bigint NOT NULL,"
    "  content bytea,"
    "  CONSTRAINT evidence_pkey PRIMARY KEY (case_id, n)"
    ");"
    "CREATE TABLE actions("
    "  id text COLLATE \"C\" NOT NULL,"
    "  version integer NOT NULL CHECK (version >= 1),"
    "  case_id text COLLATE \"C\" NOT NULL REFERENCES cases(id),"
    "  state integer NOT NULL CHECK (state BETWEEN 0 AND 4),"
    "  doc text COLLATE \"C\" NOT NULL,"
    "  proposed_by text COLLATE \"C\" NOT NULL,"
    "  proposed_at bigint NOT NULL,"
    "  approved_by text COLLATE \"C\","
    "  approved_at bigint,"
    "  activated_at bigint,"
    "  lifted_by text COLLATE \"C\","
    "  lifted_at bigint,"
    "  lift_reason text COLLATE \"C\","
    "  CONSTRAINT actions_pkey PRIMARY KEY (id, version)"
    ");"
    "CREATE INDEX actions_by_state ON actions(state);"
    "CREATE TABLE audit("
    "  seq bigint NOT NULL,"
    "  time bigint NOT NULL,"
    "  actor text COLLATE \"C\" NOT NULL,"
    "  verb text COLLATE \"C\" NOT NULL,"
    "  object text COLLATE \"C\" NOT NULL,"
    "  payload text COLLATE \"C\" NOT NULL,"
    "  prev_hash text COLLATE \"C\" NOT NULL,"
    "  hash text COLLATE \"C\" NOT NULL,"
    "  CONSTRAINT audit_pkey PRIMARY KEY (seq)"
    ");"
    /* The log is append-only through this program (TRUNCATE included);
     * the hash chain is what catches changes made around it. */
    "CREATE FUNCTION cutoff_refuse() RETURNS trigger LANGUAGE plpgsql AS"
    "  $$BEGIN RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation'; END$$;"
    "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit"
    "  FOR EACH ROW EXECUTE FUNCTION cutoff_refuse('the audit log is append-only');"
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
    "  FOR EACH STATEMENT EXECUTE FUNCTION cutoff_refuse('the audit log is append-only');",

    /* 1 -> 2: the change log (see sqlite.c). */
    "CREATE TABLE changes("
    "  seq bigint NOT NULL,"
    "  kind integer NOT NULL CHECK (kind IN (1, 2, 4)),"
    "  object text COLLATE \"C\" NOT NULL,"
    "  CONSTRAINT changes_pkey PRIMARY KEY (seq)"
    ");"
    "CREATE INDEX changes_by_kind ON changes(kind, seq);"
    "CREATE TRIGGER changes_append_only BEFORE UPDATE OR DELETE ON changes"
    "  FOR EACH ROW EXECUTE FUNCTION cutoff_refuse('the change log is append-only');"
    "CREATE TRIGGER changes_no_truncate BEFORE TRUNCATE ON changes"
    "  FOR EACH STATEMENT EXECUTE FUNCTION cutoff_refuse('the change log is append-only');",

    /* 2 -> 3: the catalog history, signed heads and notices (see
     * sqlite.c). A notice's signature may be set once. */
    "CREATE TABLE catalogs("
    "  n bigint NOT NULL,"
    "  json text COLLATE \"C\" NOT NULL,"
    "  loaded_by text COLLATE \"C\" NOT NULL,"
    "  loaded_at bigint NOT NULL,"
    "  CONSTRAINT catalogs_pkey PRIMARY KEY (n)"
    ");"
    "CREATE INDEX catalogs_by_time ON catalogs(loaded_at, n);"
    "INSERT INTO catalogs(n, json, loaded_by, loaded_at)"
    "  SELECT 1, json, loaded_by, loaded_at FROM catalog;"
    "CREATE TRIGGER catalogs_append_only BEFORE UPDATE OR DELETE ON catalogs"
    "  FOR EACH ROW EXECUTE FUNCTION cutoff_refuse('the catalog history is append-only');"
    "CREATE TRIGGER catalogs_no_truncate BEFORE TRUNCATE ON catalogs"
    "  FOR EACH STATEMENT EXECUTE FUNCTION cutoff_refuse('the catalog history is append-only');"
    "CREATE TABLE heads("
    "  n bigint NOT NULL,"
    "  seq bigint NOT NULL,"
    "  statement text COLLATE \"C\" NOT NULL,"
    "  signature text COLLATE \"C\" NOT NULL,"
    "  CONSTRAINT heads_pkey PRIMARY KEY (n)"
    ");"
    "CREATE TRIGGER heads_append_only BEFORE UPDATE OR DELETE ON heads"
    "  FOR EACH ROW EXECUTE FUNCTION cutoff_refuse('signed heads are append-only');"
    "CREATE TRIGGER heads_no_truncate BEFORE TRUNCATE ON heads"
    "  FOR EACH STATEMENT EXECUTE FUNCTION cutoff_refuse('signed heads are append-only');"
    "CREATE TABLE notices("
    "  action_id text COLLATE \"C\" NOT NULL,"
    "  n bigint NOT NULL CHECK (n >= 1),"
    "  issued_at bigint NOT NULL,"
    "  body text COLLATE \"C\" NOT NULL,"
    "  signature text COLLATE \"C\","
    "  CONSTRAINT notices_pkey PRIMARY KEY (action_id, n)"
    ");"
    "CREATE FUNCTION cutoff_notice_guard() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN"
    "  IF TG_OP = 'DELETE' THEN"
    "    RAISE EXCEPTION 'notices are append-only' USING ERRCODE = 'restrict_violation';"
    "  END IF;"
    "  IF OLD.signature IS NOT NULL OR NEW.action_id IS DISTINCT FROM OLD.action_id"
    "     OR NEW.n IS DISTINCT FROM OLD.n OR NEW.issued_at IS DISTINCT FROM OLD.issued_at"
    "     OR NEW.body IS DISTINCT FROM OLD.body THEN"
    "    RAISE EXCEPTION 'a notice is never changed once issued and signed'"
    "      USING ERRCODE = 'restrict_violation';"
    "  END IF;"
    "  RETURN NEW;"
    "END$$;"
    "CREATE TRIGGER notices_append_only BEFORE UPDATE OR DELETE ON notices"
    "  FOR EACH ROW EXECUTE FUNCTION cutoff_notice_guard();"
    "CREATE TRIGGER notices_no_truncate BEFORE TRUNCATE ON notices"
    "  FOR EACH STATEMENT EXECUTE FUNCTION cutoff_refuse('notices are append-only');",

    /* 3 -> 4: what each decision node reports it enforces. Replaced, not
     * appended: only the latest report of a node matters. */
    "CREATE TABLE receipts("
    "  node text COLLATE \"C\" NOT NULL,"
    "  seq bigint NOT NULL,"
    "  applied_at bigint NOT NULL,"
    "  digest text COLLATE \"C\" NOT NULL,"
    "  heartbeat_at bigint NOT NULL,"
    "  status text COLLATE \"C\" NOT NULL,"
    "  CONSTRAINT receipts_pkey PRIMARY KEY (node)"
    ");",

    /* 4 -> 5: shadow runs (see sqlite.c): runs are written by their audited
     * start and stop, each node's counts are replaced by its reports; the
     * change log takes kind 8. Altering the CHECK rewrites no row, so the
     * append-only triggers have nothing to refuse. */
    "CREATE TABLE shadow_runs("
    "  run bigint NOT NULL,"
    "  action_id text COLLATE \"C\" NOT NULL,"
    "  version integer NOT NULL CHECK (version >= 1),"
    "  started_by text COLLATE \"C\" NOT NULL,"
    "  started_at bigint NOT NULL,"
    "  stopped_by text COLLATE \"C\","
    "  stopped_at bigint,"
    "  CONSTRAINT shadow_runs_pkey PRIMARY KEY (run)"
    ");"
    "CREATE INDEX shadow_runs_by_action ON shadow_runs(action_id, run);"
    "CREATE TABLE shadow_counts("
    "  run bigint NOT NULL REFERENCES shadow_runs(run),"
    "  node text COLLATE \"C\" NOT NULL,"
    "  reported_at bigint NOT NULL,"
    "  counts text COLLATE \"C\" NOT NULL,"
    "  CONSTRAINT shadow_counts_pkey PRIMARY KEY (run, node)"
    ");"
    "ALTER TABLE changes DROP CONSTRAINT changes_kind_check,"
    "  ADD CONSTRAINT changes_kind_check CHECK (kind IN (1, 2, 4, 8));",
};

/* Every object the migrations create in the schema, as "kind name" in the
 * words of foreign_query below. */
static const char *const our_objects[] = {
    "table cutoff_schema",
    "table nodes",
    "index nodes_pkey",
    "table catalog",
    "index catalog_pkey",
    "table cases",
    "index cases_pkey",
    "index cases_ord_key",
    "table evidence",
    "index evidence_pkey",
    "table actions",
    "index actions_pkey",
    "index actions_by_state",
    "table audit",
    "index audit_pkey",
    "function cutoff_refuse",
    "trigger audit_append_only",
    "trigger audit_no_truncate",
    "table changes",
    "index changes_pkey",
    "index changes_by_kind",
    "trigger changes_append_only",
    "trigger changes_no_truncate",
    "table catalogs",
    "index catalogs_pkey",
    "index catalogs_by_time",
    "trigger catalogs_append_only",
    "trigger catalogs_no_truncate",
    "table heads",
    "index heads_pkey",
    "trigger heads_append_only",
    "trigger heads_no_truncate",
    "table notices",
    "index notices_pkey",
    "function cutoff_notice_guard",
    "trigger notices_append_only",
    "trigger notices_no_truncate",
    "table receipts",
    "index receipts_pkey",
    "table shadow_runs",
    "index shadow_runs_pkey",
    "index shadow_runs_by_action",
    "table shadow_counts",
    "index shadow_counts_pkey",
};

/* Everything in the schema the store uses (the current schema: the first
 * of search_path that exists): relations of every kind, functions,
 * triggers that are not a constraint's, and types that are not a table's
 * own row type or its array; tables first, as the likeliest to name the
 * program they belong to. */
static const char foreign_query[] =
    "SELECT kind, name FROM ("
    " SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'"
    "   WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'I' THEN 'index'"
    "   WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' WHEN 'c' THEN 'type'"
    "   ELSE 'relation' END, c.relname::text"
    "  FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace"
    " UNION ALL SELECT 'function', p.proname::text FROM pg_proc p"
    "  WHERE p.pronamespace = current_schema()::regnamespace"
    " UNION ALL SELECT 'trigger', t.tgname::text FROM pg_trigger t"
    "  JOIN pg_class c ON c.oid = t.tgrelid"
    "  WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal"
    " UNION ALL SELECT 'type', t.typname::text FROM pg_type t"
    "  WHERE t.typnamespace = current_schema()::regnamespace AND t.typrelid = 0"
    "  AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid AND e.typrelid <> 0)"
    ") AS o(kind, name) ORDER BY kind <> 'table', kind, name";

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
#define RECEIPT_COLS "node, seq, applied_at, digest, heartbeat_at, status"
#define SHADOW_RUN_COLS "run, action_id, version, started_by, started_at, stopped_by, stopped_at"

enum stmt_id {
    ST_NODE_GET,
    ST_NODE_COUNT,
    ST_NODE_PLAN_USES,
    ST_NODE_PUT,
    ST_NODE_MERGE,
    ST_CATALOG_GET,
    ST_CATALOG_PUT,
    ST_CATALOG_AT,
    ST_CASE_GET,
    ST_CASE_PUT,
    ST_CASE_ITER,
    ST_CASE_COUNT,
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
    ST_RECEIPT_PUT,
    ST_RECEIPT_ITER,
    ST_CATALOG_HISTORY_ITER,
    ST_EVIDENCE_ITER_ALL,
    ST_CHANGE_ITER,
    ST_SHADOW_RUN_ADD,
    ST_SHADOW_RUN_PUT,
    ST_SHADOW_RUN_ITER,
    ST_SHADOW_COUNTS_PUT,
    ST_SHADOW_COUNTS_ITER,
    ST__COUNT
};

typedef struct stmt_def {
    const char *sql;
    int params;
} stmt_def;

static const stmt_def stmts[ST__COUNT] = {
    [ST_NODE_GET] = {"SELECT id, kind, parent, name, plan FROM nodes WHERE id = $1::text", 1},
    [ST_NODE_COUNT] = {"SELECT count(*) FROM nodes", 0},
    [ST_NODE_PLAN_USES] = {"SELECT plan, min(id) FROM nodes WHERE plan IS NOT NULL GROUP BY plan"
                           " ORDER BY plan",
                           0},
    [ST_NODE_PUT] = {"INSERT INTO nodes(id, kind, parent, name, plan)"
                     " VALUES ($1::text, $2::smallint, $3::text, $4::text, $5::text)"
                     " ON CONFLICT (id) DO UPDATE SET kind = excluded.kind,"
                     " parent = excluded.parent, name = excluded.name, plan = excluded.plan",
                     5},
    [ST_NODE_MERGE] = {"INSERT INTO nodes(id, kind, parent, name, plan)"
                       " SELECT id, kind, parent, name, plan FROM node_load"
                       " ON CONFLICT (id) DO UPDATE SET kind = excluded.kind,"
                       " parent = excluded.parent, name = excluded.name, plan = excluded.plan",
                       0},
    [ST_CATALOG_GET] = {"SELECT json FROM catalog WHERE one = 1", 0},
    /* The current catalog and its history in one statement. */
    [ST_CATALOG_PUT] = {"WITH h AS (INSERT INTO catalogs(n, json, loaded_by, loaded_at)"
                        "  SELECT coalesce(max(n), 0) + 1, $1::text, $2::text, $3::bigint"
                        "  FROM catalogs)"
                        " INSERT INTO catalog(one, json, loaded_by, loaded_at)"
                        " VALUES (1, $1::text, $2::text, $3::bigint)"
                        " ON CONFLICT (one) DO UPDATE SET json = excluded.json,"
                        " loaded_by = excluded.loaded_by, loaded_at = excluded.loaded_at",
                        3},
    [ST_CATALOG_AT] = {"SELECT json FROM catalogs WHERE loaded_at <= $1::bigint"
                       " ORDER BY loaded_at DESC, n DESC LIMIT 1",
                       1},
    [ST_CASE_GET] = {"SELECT " CASE_COLS " FROM cases WHERE id = $1::text", 1},
    [ST_CASE_PUT] = {"INSERT INTO cases(ord, " CASE_COLS ")"
                     " VALUES ((SELECT coalesce(max(ord), 0) + 1 FROM cases), $1::text, $2::text,"
                     " $3::text, $4::text, $5::text, $6::text, $7::bigint, $8::text, $9::bigint,"
                     " $10::text, $11::bigint)"
                     " ON CONFLICT (id) DO UPDATE SET title = excluded.title,"
                     " scope = excluded.scope, status = excluded.status,"
                     " findings = excluded.findings, opened_by = excluded.opened_by,"
                     " opened_at = excluded.opened_at, closed_by = excluded.closed_by,"
                     " closed_at = excluded.closed_at, updated_by = excluded.updated_by,"
                     " updated_at = excluded.updated_at",
                     11},
    [ST_CASE_ITER] = {"SELECT " CASE_COLS " FROM cases ORDER BY ord", 0},
    [ST_CASE_COUNT] = {"SELECT count(*) FROM cases", 0},
    [ST_EVIDENCE_ADD] = {"INSERT INTO evidence(case_id, n, sha256, size, media_type, file, note,"
                         " added_by, added_at, content)"
                         " SELECT $1::text, coalesce(max(n), 0) + 1, $2::text, $3::bigint,"
                         " $4::text, $5::text, $6::text, $7::text, $8::bigint, $9::bytea"
                         " FROM evidence WHERE case_id = $1::text RETURNING n",
                         9},
    [ST_EVIDENCE_ITER] = {"SELECT case_id, n, sha256, size, media_type, file, note, added_by,"
                          " added_at, content IS NOT NULL FROM evidence WHERE case_id = $1::text"
                          " ORDER BY n",
                          1},
    [ST_ACTION_GET] = {"SELECT " ACTION_COLS
                       " FROM actions WHERE id = $1::text AND version = $2::integer",
                       2},
    [ST_ACTION_GET_LATEST] = {"SELECT " ACTION_COLS " FROM actions WHERE id = $1::text"
                              " ORDER BY version DESC LIMIT 1",
                              1},
    [ST_ACTION_PUT] = {"INSERT INTO actions(" ACTION_COLS ")"
                       " VALUES ($1::text, $2::integer, $3::text, $4::integer, $5::text, $6::text,"
                       " $7::bigint, $8::text, $9::bigint, $10::bigint, $11::text, $12::bigint,"
                       " $13::text)"
                       " ON CONFLICT (id, version) DO UPDATE SET case_id = excluded.case_id,"
                       " state = excluded.state, doc = excluded.doc,"
                       " proposed_by = excluded.proposed_by, proposed_at = excluded.proposed_at,"
                       " approved_by = excluded.approved_by, approved_at = excluded.approved_at,"
                       " activated_at = excluded.activated_at, lifted_by = excluded.lifted_by,"
                       " lifted_at = excluded.lifted_at, lift_reason = excluded.lift_reason",
                       13},
    [ST_ACTION_ITER] = {"SELECT " ACTION_COLS " FROM actions AS a"
                        " WHERE ($1::text IS NULL OR id = $1::text)"
                        " AND ($2::text IS NULL OR case_id = $2::text)"
                        " AND ($3::integer < 0 OR state = $3::integer)"
                        " AND ($4::integer = 0 OR version = (SELECT max(version) FROM actions AS b"
                        "                                    WHERE b.id = a.id))"
                        " ORDER BY id, version",
                        4},
    [ST_ACTION_COUNT_IDS] = {"SELECT count(DISTINCT id) FROM actions", 0},
    [ST_AUDIT_LAST] = {"SELECT " AUDIT_COLS " FROM audit ORDER BY seq DESC LIMIT 1", 0},
    [ST_AUDIT_PUT] = {"INSERT INTO audit(" AUDIT_COLS ") VALUES ($1::bigint, $2::bigint, $3::text,"
                      " $4::text, $5::text, $6::text, $7::text, $8::text)",
                      8},
    [ST_AUDIT_ITER] = {"SELECT " AUDIT_COLS " FROM audit WHERE seq > $1::bigint ORDER BY seq"
                       " LIMIT $2::bigint",
                       2},
    [ST_HEAD_PUT] = {"INSERT INTO heads(n, seq, statement, signature)"
                     " SELECT coalesce(max(n), 0) + 1, $1::bigint, $2::text, $3::text FROM heads"
                     " RETURNING n",
                     3},
    [ST_HEAD_LAST] = {"SELECT n, seq, statement, signature FROM heads ORDER BY n DESC LIMIT 1", 0},
    [ST_HEAD_ITER] = {"SELECT n, seq, statement, signature FROM heads ORDER BY n", 0},
    [ST_NOTICE_PUT] = {"INSERT INTO notices(action_id, n, issued_at, body, signature)"
                       " SELECT $1::text, coalesce(max(n), 0) + 1, $2::bigint, $3::text, $4::text"
                       " FROM notices WHERE action_id = $1::text RETURNING n",
                       4},
    [ST_NOTICE_GET] = {"SELECT " NOTICE_COLS
                       " FROM notices WHERE action_id = $1::text AND n = $2::bigint",
                       2},
    [ST_NOTICE_GET_LATEST] = {"SELECT " NOTICE_COLS " FROM notices WHERE action_id = $1::text"
                              " ORDER BY n DESC LIMIT 1",
                              1},
    [ST_NOTICE_ITER] = {"SELECT " NOTICE_COLS " FROM notices AS a"
                        " WHERE ($1::text IS NULL OR action_id = $1::text)"
                        " AND ($2::integer = 0 OR n = (SELECT max(n) FROM notices AS b"
                        "                              WHERE b.action_id = a.action_id))"
                        " ORDER BY action_id, n",
                        2},
    [ST_NOTICE_SIGN] = {"UPDATE notices SET signature = $3::text"
                        " WHERE action_id = $1::text AND n = $2::bigint AND signature IS NULL",
                        3},
    /* The notification is queued with the row and sent at commit: a
     * listener woken by it finds the change committed. */
    [ST_CHANGE_PUT] = {"WITH c AS (INSERT INTO changes(seq, kind, object)"
                       "  SELECT coalesce(max(seq), 0) + 1, $1::integer, $2::text FROM changes"
                       "  RETURNING seq)"
                       " SELECT pg_notify('" CHANGE_CHANNEL "', seq::text) FROM c",
                       2},
    [ST_CHANGE_LAST] = {"SELECT coalesce(max(seq), 0) FROM changes", 0},
    [ST_CHANGE_LAST_KIND] = {"SELECT coalesce(max(seq), 0) FROM changes WHERE kind = $1::integer",
                             1},
    [ST_RECEIPT_PUT] = {"INSERT INTO receipts(" RECEIPT_COLS ") VALUES ($1::text, $2::bigint,"
                        " $3::bigint, $4::text, $5::bigint, $6::text)"
                        " ON CONFLICT (node) DO UPDATE SET seq = excluded.seq,"
                        " applied_at = excluded.applied_at, digest = excluded.digest,"
                        " heartbeat_at = excluded.heartbeat_at, status = excluded.status",
                        6},
    [ST_RECEIPT_ITER] = {"SELECT " RECEIPT_COLS " FROM receipts ORDER BY node", 0},
    [ST_CATALOG_HISTORY_ITER] = {"SELECT json, loaded_by, loaded_at FROM catalogs ORDER BY n", 0},
    [ST_EVIDENCE_ITER_ALL] = {"SELECT case_id, n, sha256, size, media_type, file, note, added_by,"
                              " added_at, content IS NOT NULL, content FROM evidence"
                              " ORDER BY case_id, n",
                              0},
    [ST_CHANGE_ITER] = {"SELECT seq, kind, object FROM changes ORDER BY seq", 0},
    [ST_SHADOW_RUN_ADD] = {"INSERT INTO shadow_runs(" SHADOW_RUN_COLS ")"
                           " SELECT coalesce(max(run), 0) + 1, $1::text, $2::integer, $3::text,"
                           " $4::bigint, $5::text, $6::bigint FROM shadow_runs RETURNING run",
                           6},
    [ST_SHADOW_RUN_PUT] = {"INSERT INTO shadow_runs(" SHADOW_RUN_COLS ")"
                           " VALUES ($1::bigint, $2::text, $3::integer, $4::text, $5::bigint,"
                           " $6::text, $7::bigint)"
                           " ON CONFLICT (run) DO UPDATE SET action_id = excluded.action_id,"
                           " version = excluded.version, started_by = excluded.started_by,"
                           " started_at = excluded.started_at, stopped_by = excluded.stopped_by,"
                           " stopped_at = excluded.stopped_at",
                           7},
    [ST_SHADOW_RUN_ITER] = {"SELECT " SHADOW_RUN_COLS " FROM shadow_runs"
                            " WHERE $1::text IS NULL OR action_id = $1::text ORDER BY run",
                            1},
    [ST_SHADOW_COUNTS_PUT] = {"INSERT INTO shadow_counts(run, node, reported_at, counts)"
                              " VALUES ($1::bigint, $2::text, $3::bigint, $4::text)"
                              " ON CONFLICT (run, node) DO UPDATE SET"
                              " reported_at = excluded.reported_at, counts = excluded.counts",
                              4},
    [ST_SHADOW_COUNTS_ITER] = {"SELECT run, node, reported_at, counts FROM shadow_counts"
                               " WHERE run = $1::bigint ORDER BY node",
                               1},
};

typedef struct pg_store {
    co__store base;
    PGconn *conn;
    PGconn *listener; /* change_wait's connection, opened on first use */
    char *conninfo;   /* what libpq was given ("" for its environment) */
    char *shown;      /* the location without its password, for messages */
    bool read_only;
    bool in_tx;               /* between begin/begin_read and commit/rollback */
    bool prepared[ST__COUNT]; /* on the current connection */
    bool copying;             /* a COPY FROM STDIN of nodes is open */
    bool merge_after_copy;    /* the batch went to node_load, not nodes */
    bool load_table;          /* node_load exists on this connection */
    co__buf copy;             /* rows not yet handed to libpq */
    char err[512];            /* the last error, one line */
} pg_store;

static pg_store *as_pg(co__store *s)
{
    return (pg_store *)(void *)s;
}

/* ===================================================================== */
/* Messages: one line, never a password                                   */
/* ===================================================================== */

/* Replaces every occurrence of secret (at least 1 byte) in text by "***". */
static void mask(char *text, size_t size, const char *secret, size_t secret_len)
{
    if (secret_len == 0)
        return;
    char *hit;
    while ((hit = memmem(text, strlen(text), secret, secret_len)) != NULL) {
        size_t tail = strlen(hit + secret_len);
        if (hit - text + 3 + tail + 1 > size)
            tail = size - (size_t)(hit - text) - 4;
        memmove(hit + 3, hit + secret_len, tail);
        hit[3 + tail] = '\0';
        memcpy(hit, "***", 3);
    }
}

/* Removes from text every password the location holds (as written in the
 * URI, percent-encoded or not): libpq's messages do not quote passwords,
 * but some quote the part of a URI they could not parse. */
static void scrub(char *text, size_t size, const char *location)
{
    const char *scheme = strstr(location, "://");
    if (scheme) {
        const char *auth = scheme + 3, *end = auth + strcspn(auth, "/?#");
        const char *at = NULL;
        for (const char *p = auth; p < end; p++)
            if (*p == '@')
                at = p;
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon)
            mask(text, size, colon + 1, (size_t)(at - colon - 1));
    }
    for (const char *p = location; (p = strstr(p, "password=")) != NULL; p += 9) {
        const char *v = p + 9;
        mask(text, size, v, strcspn(v, "& \t"));
    }
}

/* Keeps msg as the last error: one line (libpq's are several, ending in a
 * newline), without the password. */
static void set_err(pg_store *s, const char *prefix, const char *msg)
{
    snprintf(s->err, sizeof s->err, "%s%s", prefix ? prefix : "", msg ? msg : "");
    size_t n = strlen(s->err);
    while (n > 0 && (s->err[n - 1] == '\n' || s->err[n - 1] == ' '))
        s->err[--n] = '\0';
    char *w = s->err;
    for (const char *p = s->err; *p; p++) {
        char c = *p == '\n' || *p == '\t' ? ' ' : *p;
        if (!(c == ' ' && w > s->err && w[-1] == ' '))
            *w++ = c;
    }
    *w = '\0';
    if (s->conninfo)
        scrub(s->err, sizeof s->err, s->conninfo);
}

/* The server cannot be reached (down, restarting, failing over): the
 * caller may retry later, unlike for an error the server reports. */
static int fail_conn(pg_store *s, const char *prefix)
{
    set_err(s, prefix, PQerrorMessage(s->conn));
    return CUTOFF_EUNAVAIL;
}

/* A result that is not status `want`: ESTORE with the server's message.
 * Clears the result. */
static int fail_result(pg_store *s, PGresult *res)
{
    if (PQstatus(s->conn) == CONNECTION_BAD) {
        PQclear(res);
        return fail_conn(s, "the connection to the database was lost: ");
    }
    set_err(s, NULL, res ? PQresultErrorMessage(res) : PQerrorMessage(s->conn));
    PQclear(res);
    return CUTOFF_ESTORE;
}

/* ===================================================================== */
/* Connection                                                             */
/* ===================================================================== */

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Connects with cutoff's defaults in front of the location's own settings
 * (libpq keeps the last value of a keyword, and the location's come from
 * expanding dbname): a bounded connect, keepalives, UTF-8. */
static PGconn *connect_to(const char *conninfo)
{
    const char *keys[12], *values[12];
    int n = 0;
    if (getenv("PGCONNECT_TIMEOUT") == NULL) {
        keys[n] = "connect_timeout";
        values[n++] = CONNECT_TIMEOUT_S;
    }
    keys[n] = "keepalives";
    values[n++] = "1";
    keys[n] = "keepalives_idle";
    values[n++] = "30";
    keys[n] = "keepalives_interval";
    values[n++] = "10";
    keys[n] = "keepalives_count";
    values[n++] = "3";
    keys[n] = "fallback_application_name";
    values[n++] = "cutoff";
    keys[n] = "client_encoding";
    values[n++] = "UTF8";
    keys[n] = "dbname";
    values[n++] = conninfo;
    keys[n] = NULL;
    values[n] = NULL;
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (conn)
        PQsetNoticeProcessor(conn, ignore_notice, NULL);
    return conn;
}

/* Makes the main connection usable before a transaction or a call outside
 * one: a connection the server dropped (a restart, a failover) is
 * re-established, and the statements prepared on it are prepared again. */
static int ensure_connected(pg_store *s)
{
    if (PQstatus(s->conn) == CONNECTION_OK)
        return 0;
    if (s->in_tx)
        return fail_conn(s, "the connection to the database was lost: ");
    PQreset(s->conn);
    memset(s->prepared, 0, sizeof s->prepared);
    s->load_table = false;
    s->copying = false;
    if (PQstatus(s->conn) != CONNECTION_OK)
        return fail_conn(s, "cannot reconnect to the database: ");
    PQsetNoticeProcessor(s->conn, ignore_notice, NULL);
    return 0;
}

/* Runs SQL without parameters (several statements allowed). */
static int exec(pg_store *s, const char *sql)
{
    PGresult *res = PQexec(s->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return fail_result(s, res);
    PQclear(res);
    return 0;
}

/* Runs prepared statement id (prepared on first use on this connection)
 * with text parameters (NULL: SQL NULL); binary, when not NULL, says which
 * are binary and lengths gives their sizes. Returns the result (status
 * checked) in *out. */
static int run(pg_store *s, enum stmt_id id, const char *const *params, const int *lengths,
               const int *binary, PGresult **out)
{
    char name[16];
    snprintf(name, sizeof name, "co%d", (int)id);
    *out = NULL;
    if (!s->in_tx) {
        int rc = ensure_connected(s);
        if (rc != 0)
            return rc;
    }
    if (!s->prepared[id]) {
        PGresult *res = PQprepare(s->conn, name, stmts[id].sql, stmts[id].params, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            return fail_result(s, res);
        PQclear(res);
        s->prepared[id] = true;
    }
    PGresult *res = PQexecPrepared(s->conn, name, stmts[id].params, params, lengths, binary, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return fail_result(s, res);
    *out = res;
    return 0;
}

/* Runs a statement whose result does not matter. */
static int run_done(pg_store *s, enum stmt_id id, const char *const *params)
{
    PGresult *res;
    int rc = run(s, id, params, NULL, NULL, &res);
    PQclear(res);
    return rc;
}

/* A text column of a result row, borrowed until the result is cleared
 * (NULL for SQL NULL). */
static const char *col(const PGresult *res, int row, int i)
{
    return PQgetisnull(res, row, i) ? NULL : PQgetvalue(res, row, i);
}

static char *col_text(const PGresult *res, int row, int i)
{
    return (char *)col(res, row, i);
}

static int64_t col_int(const PGresult *res, int row, int i)
{
    const char *v = col(res, row, i);
    return v ? strtoll(v, NULL, 10) : 0;
}

/* A text column copied for the caller. */
static int col_dup(const PGresult *res, int row, int i, char **out)
{
    const char *t = col(res, row, i);
    if (t == NULL) {
        *out = NULL;
        return 0;
    }
    *out = co__strndup(t, (size_t)PQgetlength(res, row, i));
    return *out ? 0 : CUTOFF_ENOMEM;
}

/* Runs a statement returning one integer. */
static int run_int(pg_store *s, enum stmt_id id, const char *const *params, int64_t *out)
{
    PGresult *res;
    int rc = run(s, id, params, NULL, NULL, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) != 1) {
        set_err(s, "unexpected result of ", stmts[id].sql);
        rc = CUTOFF_ESTORE;
    } else {
        *out = col_int(res, 0, 0);
    }
    PQclear(res);
    return rc;
}

/* Integers as parameters: each needs a buffer of its own. */
typedef struct num {
    char text[24];
} num;

static const char *num_of(num *n, int64_t v)
{
    snprintf(n->text, sizeof n->text, "%lld", (long long)v);
    return n->text;
}

static const char *num_u(num *n, uint64_t v)
{
    return num_of(n, v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

/* A time parameter: 0 ("not set") is NULL, as in sqlite.c. */
static const char *time_of(num *n, int64_t t)
{
    return t ? num_of(n, t) : NULL;
}

/* ===================================================================== */
/* Open, schema, transactions                                             */
/* ===================================================================== */

static void pg_close(co__store *base)
{
    pg_store *s = as_pg(base);
    if (s == NULL)
        return;
    PQfinish(s->conn);
    PQfinish(s->listener);
    co__buf_free(&s->copy);
    co__free(s->conninfo);
    co__free(s->shown);
    co__free(s);
}

static int read_version(pg_store *s, int *out)
{
    PGresult *res = PQexec(s->conn, "SELECT to_regclass('cutoff_schema') IS NOT NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return fail_result(s, res);
    bool exists = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    *out = 0;
    if (!exists)
        return 0;
    res = PQexec(s->conn, "SELECT coalesce(max(version), 0) FROM cutoff_schema");
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return fail_result(s, res);
    *out = (int)col_int(res, 0, 0);
    PQclear(res);
    return 0;
}

/* Finds an object in the schema that is not cutoff's (so that cutoff never
 * adds its tables to another program's database): "KIND \"NAME\"" in
 * found, or "" when every object is ours. */
static int find_foreign_object(pg_store *s, char *found, size_t found_size)
{
    found[0] = '\0';
    PGresult *res = PQexec(s->conn, foreign_query);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return fail_result(s, res);
    for (int r = 0; r < PQntuples(res) && !found[0]; r++) {
        char word[200];
        snprintf(word, sizeof word, "%s %s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
        bool ours = false;
        for (size_t i = 0; i < sizeof our_objects / sizeof *our_objects && !ours; i++)
            ours = strcmp(word, our_objects[i]) == 0;
        if (!ours) {
            char q[200];
            snprintf(found, found_size, "%s \"%s\"", PQgetvalue(res, r, 0),
                     co__quote(PQgetvalue(res, r, 1), q, sizeof q));
        }
    }
    PQclear(res);
    return 0;
}

/* The location as libpq takes it: "postgresql:" alone means libpq's
 * environment, given to it as an empty conninfo. */
static const char *conninfo_of(const char *location)
{
    return strcmp(location, "postgresql:") == 0 ? "" : location;
}

static int pg_open(const char *location, int mode, co__store **out, cutoff_diag *diag)
{
    int rc = 0, version = 0;
    bool create = (mode & CO__STORE_CREATE) != 0;
    char shown[512];
    pg_store *s = co__calloc(1, sizeof *s);
    if (s == NULL)
        return CUTOFF_ENOMEM;
    s->base.ops = &co__pg_store_ops;
    s->read_only = (mode & CO__STORE_READ_ONLY) != 0;
    co__buf_init(&s->copy);
    cutoff_db_location_shown(location, shown, sizeof shown);
    s->conninfo = co__strdup(conninfo_of(location));
    s->shown = co__strdup(shown);
    if (s->conninfo == NULL || s->shown == NULL) {
        rc = CUTOFF_ENOMEM;
        goto out;
    }
    s->conn = connect_to(s->conninfo);
    if (s->conn == NULL) {
        rc = CUTOFF_ENOMEM;
        goto out;
    }
    if (PQstatus(s->conn) != CONNECTION_OK) {
        rc = co__diag(diag, fail_conn(s, ""), "cannot connect to database \"%s\": %s", s->shown,
                      s->err);
        goto out;
    }
    /* Read before writing anything, so that a database holding another
     * program's tables is left exactly as it was. */
    if (read_version(s, &version) != 0) {
        rc = co__diag(diag, CUTOFF_ESTORE, "cannot read database \"%s\": %s", s->shown, s->err);
        goto out;
    }
    if (version < PG_SCHEMA_VERSION) {
        char foreign[256];
        if (find_foreign_object(s, foreign, sizeof foreign) != 0) {
            rc = co__diag(diag, CUTOFF_ESTORE, "cannot read database \"%s\": %s", s->shown, s->err);
            goto out;
        }
        if (foreign[0]) {
            rc = co__diag(diag, CUTOFF_ESTORE,
                          "database \"%s\" holds %s, which is not cutoff's: it belongs to "
                          "another program; give a new database",
                          s->shown, foreign);
            goto out;
        }
    }
    if (version == 0 && !create) {
        rc = co__diag(diag, CUTOFF_ENOTINIT,
                      "database \"%s\" is not initialised; run 'cutoff init'", s->shown);
        goto out;
    }
    *out = &s->base;
    return 0;
out:
    pg_close(&s->base);
    return rc;
}

static int pg_schema_version(co__store *base, int *out)
{
    pg_store *s = as_pg(base);
    int rc = s->in_tx ? 0 : ensure_connected(s);
    return rc ? rc : read_version(s, out);
}

/* Runs migrations[from..] inside the caller's transaction and stamps the
 * schema version. */
static int apply_migrations(pg_store *s, int from, cutoff_diag *diag)
{
    char foreign[256];
    for (int v = from; v < PG_SCHEMA_VERSION; v++)
        if (exec(s, migrations[v]) != 0)
            return co__diag(diag, CUTOFF_ESTORE, "migration to schema version %d failed: %s", v + 1,
                            s->err);
    /* The migrations and the list of what they create must agree, or a
     * later open would call cutoff's own objects foreign. */
    if (find_foreign_object(s, foreign, sizeof foreign) != 0 || foreign[0])
        return co__diag(diag, CUTOFF_ESTORE, "migration left %s, which the schema does not name",
                        foreign[0] ? foreign : s->err);
    char sql[64];
    snprintf(sql, sizeof sql, "UPDATE cutoff_schema SET version = %d", PG_SCHEMA_VERSION);
    if (exec(s, sql) != 0)
        return co__diag(diag, CUTOFF_ESTORE, "cannot stamp the schema version: %s", s->err);
    return 0;
}

/* Applies every migration the store lacks in one transaction, holding the
 * writers' lock, so that two programs initialising one database at once
 * create it once; a store newer than this program is left alone. */
static int pg_migrate(co__store *base, cutoff_diag *diag)
{
    pg_store *s = as_pg(base);
    int rc = 0, version = 0;
    if (s->read_only)
        return co__diag(diag, CUTOFF_ESTORE, "cannot migrate a database opened read-only");
    if (ensure_connected(s) != 0 ||
        exec(s, "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = " LOCK_TIMEOUT
                "; SELECT pg_advisory_xact_lock(" WRITER_LOCK ")") != 0)
        return co__diag(diag, CUTOFF_ESTORE, "cannot migrate the database: %s", s->err);
    if (read_version(s, &version) != 0) {
        rc = co__diag(diag, CUTOFF_ESTORE, "cannot read the schema version: %s", s->err);
        goto out;
    }
    if (version > PG_SCHEMA_VERSION) {
        rc = co__diag(diag, CUTOFF_EVERSION,
                      "the database has schema version %d; this program knows up to %d", version,
                      PG_SCHEMA_VERSION);
        goto out;
    }
    if ((rc = apply_migrations(s, version, diag)) != 0)
        goto out;
    if (exec(s, "COMMIT") != 0) {
        rc = co__diag(diag, CUTOFF_ESTORE, "cannot commit the migration: %s", s->err);
        goto out;
    }
    return 0;
out:
    if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
        PQclear(PQexec(s->conn, "ROLLBACK"));
    return rc;
}

static int start(pg_store *s, const char *sql)
{
    int rc = ensure_connected(s);
    if (rc == 0 && (rc = exec(s, sql)) != 0 && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
        PQclear(PQexec(s->conn, "ROLLBACK"));
    s->in_tx = rc == 0;
    return rc;
}

/* Read committed, after the writers' lock: each statement then sees what
 * the writer before committed, and no other writer runs until this one
 * ends. */
static int pg_begin(co__store *base)
{
    pg_store *s = as_pg(base);
    if (s->read_only) {
        set_err(s, NULL, "the database was opened read-only");
        return CUTOFF_ESTORE;
    }
    return start(s, "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = " LOCK_TIMEOUT
                    "; SELECT pg_advisory_xact_lock(" WRITER_LOCK ")");
}

static int pg_begin_read(co__store *base)
{
    return start(as_pg(base), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
}

/* Ends a COPY the caller abandoned (an error between node_write_begin and
 * node_write_end), so that the connection can take ROLLBACK. */
static void abandon_copy(pg_store *s)
{
    if (!s->copying)
        return;
    s->copying = false;
    s->copy.len = 0;
    s->copy.failed = false;
    if (PQputCopyEnd(s->conn, "abandoned") == 1) {
        PGresult *res;
        while ((res = PQgetResult(s->conn)) != NULL)
            PQclear(res);
    }
}

static int pg_commit(co__store *base)
{
    pg_store *s = as_pg(base);
    if (s->copying) {
        abandon_copy(s);
        set_err(s, NULL, "a node write was not finished before commit");
        return CUTOFF_ESTORE;
    }
    PGresult *res = PQexec(s->conn, "COMMIT");
    int rc = 0;
    /* COMMIT of a failed transaction rolls back and says so. */
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = fail_result(s, res);
    else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        set_err(s, NULL, "the transaction failed and was rolled back");
        PQclear(res);
        rc = CUTOFF_ESTORE;
    } else {
        PQclear(res);
    }
    if (rc == 0 || PQtransactionStatus(s->conn) == PQTRANS_IDLE ||
        PQstatus(s->conn) == CONNECTION_BAD)
        s->in_tx = false;
    if (rc != 0)
        s->load_table = false; /* rolled back, as in pg_rollback */
    return rc;
}

static void pg_rollback(co__store *base)
{
    pg_store *s = as_pg(base);
    abandon_copy(s);
    if (PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
        PQclear(PQexec(s->conn, "ROLLBACK"));
    s->in_tx = false;
    /* node_load may have been created in this transaction, and is gone
     * with it: the next batch creates it again (IF NOT EXISTS). */
    s->load_table = false;
}

static const char *pg_errmsg(co__store *base)
{
    return as_pg(base)->err;
}

/* ===================================================================== */
/* Nodes                                                                  */
/* ===================================================================== */

static int pg_node_get(co__store *base, const char *id, cutoff_node_spec *out, char **strings)
{
    PGresult *res;
    const char *p[] = {id};
    int rc = run(as_pg(base), ST_NODE_GET, p, NULL, NULL, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return CUTOFF_ENOTFOUND;
    }
    /* One block holds the four strings the spec points at. */
    size_t len[5] = {0}, total = 0;
    for (int i = 0; i < 5; i++) {
        len[i] = col(res, 0, i) ? (size_t)PQgetlength(res, 0, i) + 1 : 0;
        total += len[i];
    }
    char *block = co__malloc(total ? total : 1);
    if (block == NULL) {
        rc = CUTOFF_ENOMEM;
    } else {
        const char *v[5];
        char *w = block;
        for (int i = 0; i < 5; i++) {
            v[i] = NULL;
            if (i != 1 && len[i]) {
                memcpy(w, col(res, 0, i), len[i]);
                v[i] = w;
                w += len[i];
            }
        }
        *out = (cutoff_node_spec){.id = v[0],
                                  .kind = (cutoff_node_kind)col_int(res, 0, 1),
                                  .parent = v[2],
                                  .name = v[3],
                                  .plan = v[4]};
        *strings = block;
    }
    PQclear(res);
    return rc;
}

/* Splits one row of COPY's text format in place: fields separated by
 * tabs, the row ended by a newline, \N for NULL, backslash escapes for the
 * rest. Decoding only shrinks, so each field ends up NUL-terminated where
 * it began. Returns the number of fields (at most max). */
static int copy_fields(char *row, size_t len, char **fields, int max)
{
    char *r = row, *end = row + len, *w = row;
    int n = 0;
    while (n < max) {
        char *start = w;
        bool null = false;
        while (r < end && *r != '\t' && *r != '\n') {
            char c = *r++;
            if (c != '\\' || r >= end) {
                *w++ = c;
                continue;
            }
            c = *r++;
            switch (c) {
            case 'N': null = true; break;
            case 'b': *w++ = '\b'; break;
            case 'f': *w++ = '\f'; break;
            case 'n': *w++ = '\n'; break;
            case 'r': *w++ = '\r'; break;
            case 't': *w++ = '\t'; break;
            case 'v': *w++ = '\v'; break;
            case 'x': {
                int v = 0, k = 0;
                for (; k < 2 && r < end && strchr("0123456789abcdefABCDEF", *r) && *r; k++, r++)
                    v = v * 16 + (*r <= '9' ? *r - '0' : (*r | 0x20) - 'a' + 10);
                *w++ = k ? (char)v : 'x';
                break;
            }
            default:
                if (c >= '0' && c <= '7') {
                    int v = c - '0';
                    for (int k = 1; k < 3 && r < end && *r >= '0' && *r <= '7'; k++, r++)
                        v = v * 8 + (*r - '0');
                    *w++ = (char)v;
                } else {
                    *w++ = c;
                }
            }
        }
        bool last = r >= end || *r == '\n';
        r++;
        *w++ = '\0';
        fields[n++] = null ? NULL : start;
        if (last)
            break;
    }
    return n;
}

/* Streams every node out with COPY, in byte-wise id order: libpq hands
 * over one row at a time, so memory stays flat however large the tree. A
 * callback that stops the walk leaves the rest to be read and dropped. */
static int pg_node_iter(co__store *base, co__node_fn fn, void *ctx)
{
    pg_store *s = as_pg(base);
    int rc = s->in_tx ? 0 : ensure_connected(s);
    if (rc != 0)
        return rc;
    PGresult *res = PQexec(s->conn, "COPY (SELECT id, kind, parent, name, plan FROM nodes"
                                    " ORDER BY id COLLATE \"C\") TO STDOUT");
    if (PQresultStatus(res) != PGRES_COPY_OUT)
        return fail_result(s, res);
    PQclear(res);
    char *row;
    int len;
    while ((len = PQgetCopyData(s->conn, &row, 0)) > 0) {
        if (rc == 0) {
            char *f[5];
            if (copy_fields(row, (size_t)len, f, 5) != 5 || f[0] == NULL || f[1] == NULL) {
                set_err(s, NULL, "a stored node row does not parse");
                rc = CUTOFF_ESTORE;
            } else {
                cutoff_node_spec n = {.id = f[0],
                                      .kind = (cutoff_node_kind)atoi(f[1]),
                                      .parent = f[2],
                                      .name = f[3],
                                      .plan = f[4]};
                rc = fn(ctx, &n);
            }
        }
        PQfreemem(row);
    }
    if (len == -2 && rc == 0)
        rc = fail_conn(s, "");
    while ((res = PQgetResult(s->conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0) {
            rc = fail_result(s, res);
            continue;
        }
        PQclear(res);
    }
    return rc;
}

static int pg_node_count(co__store *base, uint64_t *out)
{
    int64_t n = 0;
    int rc = run_int(as_pg(base), ST_NODE_COUNT, NULL, &n);
    if (rc == 0)
        *out = (uint64_t)n;
    return rc;
}

static int pg_node_plan_uses(co__store *base, co__plan_use_fn fn, void *ctx)
{
    PGresult *res;
    int rc = run(as_pg(base), ST_NODE_PLAN_USES, NULL, NULL, NULL, &res);
    for (int r = 0; rc == 0 && r < PQntuples(res); r++)
        rc = fn(ctx, col(res, r, 0), col(res, r, 1));
    PQclear(res);
    return rc;
}

/* A batch of node writes streams in with COPY: straight into nodes when
 * the store holds none (the common first import), else into a temporary
 * table that node_write_end merges with one INSERT ... ON CONFLICT. */
static int pg_node_write_begin(co__store *base, uint64_t rows, uint64_t existing)
{
    pg_store *s = as_pg(base);
    int rc = 0;
    if (!s->in_tx || s->copying) {
        set_err(s, NULL, "node writes outside a write transaction");
        return CUTOFF_ESTORE;
    }
    (void)rows;
    s->merge_after_copy = existing > 0;
    if (s->merge_after_copy) {
        if (!s->load_table &&
            (rc = exec(s, "CREATE TEMPORARY TABLE IF NOT EXISTS node_load(id text COLLATE \"C\","
                          " kind smallint, parent text COLLATE \"C\", name text COLLATE \"C\","
                          " plan text COLLATE \"C\") ON COMMIT DELETE ROWS")) != 0)
            return rc;
        s->load_table = true;
        if ((rc = exec(s, "TRUNCATE node_load")) != 0)
            return rc;
    }
    PGresult *res = PQexec(s->conn, s->merge_after_copy
                                        ? "COPY node_load(id, kind, parent, name, plan) FROM STDIN"
                                          " (FORMAT binary)"
                                        : "COPY nodes(id, kind, parent, name, plan) FROM STDIN"
                                          " (FORMAT binary)");
    if (PQresultStatus(res) != PGRES_COPY_IN)
        return fail_result(s, res);
    PQclear(res);
    s->copying = true;
    s->copy.len = 0;
    /* The signature with its NUL, flags 0, no header extension. */
    static const unsigned char zeros[8] = {0};
    if (co__buf_append(&s->copy, copy_signature, sizeof copy_signature) != 0 ||
        co__buf_append(&s->copy, zeros, sizeof zeros) != 0) {
        abandon_copy(s);
        return CUTOFF_ENOMEM;
    }
    return 0;
}

/* Hands the gathered rows to libpq. */
static int flush_copy(pg_store *s)
{
    if (s->copy.len == 0)
        return 0;
    if (PQputCopyData(s->conn, s->copy.data, (int)s->copy.len) != 1)
        return fail_conn(s, "");
    s->copy.len = 0;
    return 0;
}

static void put_be16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Appends one text field (NULL: SQL NULL) to room reserved beforehand. */
static unsigned char *copy_text(unsigned char *p, const char *v, size_t len)
{
    if (v == NULL) {
        put_be32(p, UINT32_MAX); /* -1 */
        return p + 4;
    }
    put_be32(p, (uint32_t)len);
    memcpy(p + 4, v, len);
    return p + 4 + len;
}

static int pg_node_put(co__store *base, const cutoff_node_spec *n)
{
    pg_store *s = as_pg(base);
    if (!s->copying) {
        /* A single write outside a batch. */
        num kind;
        const char *p[] = {n->id, num_of(&kind, (int64_t)n->kind), n->parent, n->name, n->plan};
        return run_done(s, ST_NODE_PUT, p);
    }
    size_t id_len = strlen(n->id);
    size_t parent_len = n->parent ? strlen(n->parent) : 0;
    size_t name_len = n->name ? strlen(n->name) : 0;
    size_t plan_len = n->plan ? strlen(n->plan) : 0;
    if (id_len > INT32_MAX || parent_len > INT32_MAX || name_len > INT32_MAX ||
        plan_len > INT32_MAX || (int)n->kind < INT16_MIN || (int)n->kind > INT16_MAX) {
        set_err(s, NULL, "a node does not fit a row of the nodes table");
        return CUTOFF_EINVAL;
    }
    /* Field count, four lengths of text and kind's 4 + 2 bytes. */
    size_t room = 2 + 4 * 4 + 6 + id_len + parent_len + name_len + plan_len;
    if (co__buf_reserve(&s->copy, room) != 0) {
        s->copy.failed = false;
        s->copy.len = 0;
        return CUTOFF_ENOMEM;
    }
    unsigned char *start = (unsigned char *)s->copy.data + s->copy.len, *p = start;
    put_be16(p, NODE_FIELDS);
    p = copy_text(p + 2, n->id, id_len);
    put_be32(p, 2);
    put_be16(p + 4, (uint16_t)(int16_t)n->kind);
    p = copy_text(p + 6, n->parent, parent_len);
    p = copy_text(p, n->name, name_len);
    p = copy_text(p, n->plan, plan_len);
    s->copy.len += (size_t)(p - start);
    return s->copy.len >= COPY_CHUNK ? flush_copy(s) : 0;
}

static int pg_node_write_end(co__store *base)
{
    pg_store *s = as_pg(base);
    if (!s->copying)
        return 0;
    static const unsigned char trailer[2] = {0xff, 0xff}; /* -1 */
    int rc = co__buf_append(&s->copy, trailer, sizeof trailer) != 0 ? CUTOFF_ENOMEM : 0;
    if (rc == 0)
        rc = flush_copy(s);
    if (rc != 0) {
        abandon_copy(s);
        return rc;
    }
    s->copying = false;
    if (PQputCopyEnd(s->conn, NULL) != 1)
        return fail_conn(s, "");
    PGresult *res;
    while ((res = PQgetResult(s->conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0) {
            rc = fail_result(s, res);
            continue;
        }
        PQclear(res);
    }
    if (rc == 0 && s->merge_after_copy)
        rc = run_done(s, ST_NODE_MERGE, NULL);
    return rc;
}

/* ===================================================================== */
/* Catalog                                                                */
/* ===================================================================== */

static int one_text(pg_store *s, enum stmt_id id, const char *const *params, char **out)
{
    PGresult *res;
    int rc = run(s, id, params, NULL, NULL, &res);
    if (rc != 0)
        return rc;
    rc = PQntuples(res) == 0 ? CUTOFF_ENOTFOUND : col_dup(res, 0, 0, out);
    PQclear(res);
    return rc;
}

static int pg_catalog_get(co__store *base, char **json_out)
{
    return one_text(as_pg(base), ST_CATALOG_GET, NULL, json_out);
}

static int pg_catalog_put(co__store *base, const char *json, const char *actor, int64_t time)
{
    num t;
    const char *p[] = {json, actor, num_of(&t, time)};
    return run_done(as_pg(base), ST_CATALOG_PUT, p);
}

static int pg_catalog_at(co__store *base, int64_t time, char **json_out)
{
    num t;
    const char *p[] = {num_of(&t, time)};
    return one_text(as_pg(base), ST_CATALOG_AT, p, json_out);
}

/* ===================================================================== */
/* Cases and evidence                                                     */
/* ===================================================================== */

static void case_from_row(const PGresult *res, int i, co__case_row *r)
{
    r->id = col_text(res, i, 0);
    r->title = col_text(res, i, 1);
    r->scope_json = col_text(res, i, 2);
    r->open = strcmp(PQgetvalue(res, i, 3), "open") == 0;
    r->findings = col_text(res, i, 4);
    r->opened_by = col_text(res, i, 5);
    r->opened_at = col_int(res, i, 6);
    r->closed_by = col_text(res, i, 7);
    r->closed_at = col_int(res, i, 8);
    r->updated_by = col_text(res, i, 9);
    r->updated_at = col_int(res, i, 10);
}

static int pg_case_get(co__store *base, const char *id, co__case_row *out)
{
    PGresult *res;
    const char *p[] = {id};
    int rc = run(as_pg(base), ST_CASE_GET, p, NULL, NULL, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 0) {
        rc = CUTOFF_ENOTFOUND;
    } else {
        case_from_row(res, 0, out);
        out->id = out->title = out->scope_json = out->findings = NULL;
        out->opened_by = out->closed_by = out->updated_by = NULL;
        if (col_dup(res, 0, 0, &out->id) || col_dup(res, 0, 1, &out->title) ||
            col_dup(res, 0, 2, &out->scope_json) || col_dup(res, 0, 4, &out->findings) ||
            col_dup(res, 0, 5, &out->opened_by) || col_dup(res, 0, 7, &out->closed_by) ||
            col_dup(res, 0, 9, &out->updated_by)) {
            co__case_row_clear(out);
            rc = CUTOFF_ENOMEM;
        }
    }
    PQclear(res);
    return rc;
}

static int pg_case_put(co__store *base, const co__case_row *r)
{
    num opened, closed, updated;
    const char *p[] = {r->id,
                       r->title,
                       r->scope_json,
                       r->open ? "open" : "closed",
                       r->findings,
                       r->opened_by,
                       num_of(&opened, r->opened_at),
                       r->closed_by,
                       time_of(&closed, r->closed_at),
                       r->updated_by,
                       time_of(&updated, r->updated_at)};
    return run_done(as_pg(base), ST_CASE_PUT, p);
}

static int pg_case_iter(co__store *base, co__case_fn fn, void *ctx)
{
    PGresult *res;
    int rc = run(as_pg(base), ST_CASE_ITER, NULL, NULL, NULL, &res);
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        co__case_row r;
        case_from_row(res, i, &r);
        rc = fn(ctx, &r);
    }
    PQclear(res);
    return rc;
}

static int pg_case_count(co__store *base, uint64_t *out)
{
    int64_t n = 0;
    int rc = run_int(as_pg(base), ST_CASE_COUNT, NULL, &n);
    if (rc == 0)
        *out = (uint64_t)n;
    return rc;
}

/* The content goes as binary bytea; everything else as text. */
static int pg_evidence_add(co__store *base, const co__evidence_row *r, int64_t *n_out)
{
    num size, added;
    const char *p[] = {
        r->case_id, r->sha256_hex, num_of(&size, r->size),      r->media_type,           r->file,
        r->note,    r->added_by,   num_of(&added, r->added_at), (const char *)r->content};
    int lengths[9] = {0}, binary[9] = {0};
    lengths[8] = (int)r->content_len;
    binary[8] = 1;
    if (r->content_len > INT32_MAX) {
        set_err(as_pg(base), NULL, "evidence too large for one value");
        return CUTOFF_ESTORE;
    }
    int64_t n = 0;
    PGresult *res;
    int rc = run(as_pg(base), ST_EVIDENCE_ADD, p, lengths, binary, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 1)
        n = col_int(res, 0, 0);
    PQclear(res);
    *n_out = n;
    return 0;
}

static int pg_evidence_iter(co__store *base, const char *case_id, co__evidence_fn fn, void *ctx)
{
    PGresult *res;
    const char *p[] = {case_id};
    int rc = run(as_pg(base), ST_EVIDENCE_ITER, p, NULL, NULL, &res);
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        co__evidence_row r = {
            .case_id = col_text(res, i, 0),
            .n = col_int(res, i, 1),
            .sha256_hex = col_text(res, i, 2),
            .size = col_int(res, i, 3),
            .media_type = col_text(res, i, 4),
            .file = col_text(res, i, 5),
            .note = col_text(res, i, 6),
            .added_by = col_text(res, i, 7),
            .added_at = col_int(res, i, 8),
            .content_kept = strcmp(PQgetvalue(res, i, 9), "t") == 0,
        };
        rc = fn(ctx, &r);
    }
    PQclear(res);
    return rc;
}

/* ===================================================================== */
/* Actions                                                                */
/* ===================================================================== */

static void action_from_row(const PGresult *res, int i, co__action_row *r)
{
    r->id = col_text(res, i, 0);
    r->version = (int)col_int(res, i, 1);
    r->case_id = col_text(res, i, 2);
    r->state = (int)col_int(res, i, 3);
    r->doc = col_text(res, i, 4);
    r->proposed_by = col_text(res, i, 5);
    r->proposed_at = col_int(res, i, 6);
    r->approved_by = col_text(res, i, 7);
    r->approved_at = col_int(res, i, 8);
    r->activated_at = col_int(res, i, 9);
    r->lifted_by = col_text(res, i, 10);
    r->lifted_at = col_int(res, i, 11);
    r->lift_reason = col_text(res, i, 12);
}

static int pg_action_get(co__store *base, const char *id, int version, co__action_row *out)
{
    PGresult *res;
    num v;
    const char *p[] = {id, num_of(&v, version)};
    int rc = run(as_pg(base), version ? ST_ACTION_GET : ST_ACTION_GET_LATEST, p, NULL, NULL, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 0) {
        rc = CUTOFF_ENOTFOUND;
    } else {
        action_from_row(res, 0, out);
        out->id = out->case_id = out->doc = out->proposed_by = NULL;
        out->approved_by = out->lifted_by = out->lift_reason = NULL;
        if (col_dup(res, 0, 0, &out->id) || col_dup(res, 0, 2, &out->case_id) ||
            col_dup(res, 0, 4, &out->doc) || col_dup(res, 0, 5, &out->proposed_by) ||
            col_dup(res, 0, 7, &out->approved_by) || col_dup(res, 0, 10, &out->lifted_by) ||
            col_dup(res, 0, 12, &out->lift_reason)) {
            co__action_row_clear(out);
            rc = CUTOFF_ENOMEM;
        }
    }
    PQclear(res);
    return rc;
}

static int pg_action_put(co__store *base, const co__action_row *r)
{
    num version, state, proposed, approved, activated, lifted;
    const char *p[] = {r->id,
                       num_of(&version, r->version),
                       r->case_id,
                       num_of(&state, r->state),
                       r->doc,
                       r->proposed_by,
                       num_of(&proposed, r->proposed_at),
                       r->approved_by,
                       time_of(&approved, r->approved_at),
                       time_of(&activated, r->activated_at),
                       r->lifted_by,
                       time_of(&lifted, r->lifted_at),
                       r->lift_reason};
    return run_done(as_pg(base), ST_ACTION_PUT, p);
}

static int pg_action_iter(co__store *base, const co__action_filter *f, co__action_fn fn, void *ctx)
{
    PGresult *res;
    num state, latest;
    const char *p[] = {f ? f->id : NULL, f ? f->case_id : NULL, num_of(&state, f ? f->state : -1),
                       num_of(&latest, f && f->latest_only)};
    int rc = run(as_pg(base), ST_ACTION_ITER, p, NULL, NULL, &res);
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        co__action_row r;
        action_from_row(res, i, &r);
        rc = fn(ctx, &r);
    }
    PQclear(res);
    return rc;
}

static int pg_action_count_ids(co__store *base, uint64_t *out)
{
    int64_t n = 0;
    int rc = run_int(as_pg(base), ST_ACTION_COUNT_IDS, NULL, &n);
    if (rc == 0)
        *out = (uint64_t)n;
    return rc;
}

/* ===================================================================== */
/* Audit                                                                  */
/* ===================================================================== */

static void audit_from_row(const PGresult *res, int i, co__audit_row *r)
{
    r->seq = (uint64_t)col_int(res, i, 0);
    r->time = col_int(res, i, 1);
    r->actor = col_text(res, i, 2);
    r->verb = col_text(res, i, 3);
    r->object = col_text(res, i, 4);
    r->payload = col_text(res, i, 5);
    r->prev_hash = col_text(res, i, 6);
    r->hash = col_text(res, i, 7);
}

static int pg_audit_last(co__store *base, co__audit_row *out)
{
    PGresult *res;
    int rc = run(as_pg(base), ST_AUDIT_LAST, NULL, NULL, NULL, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 0) {
        rc = CUTOFF_ENOTFOUND;
    } else {
        audit_from_row(res, 0, out);
        out->actor = out->verb = out->object = out->payload = out->prev_hash = out->hash = NULL;
        if (col_dup(res, 0, 2, &out->actor) || col_dup(res, 0, 3, &out->verb) ||
            col_dup(res, 0, 4, &out->object) || col_dup(res, 0, 5, &out->payload) ||
            col_dup(res, 0, 6, &out->prev_hash) || col_dup(res, 0, 7, &out->hash)) {
            co__audit_row_clear(out);
            rc = CUTOFF_ENOMEM;
        }
    }
    PQclear(res);
    return rc;
}

static int pg_audit_put(co__store *base, const co__audit_row *r)
{
    num seq, time;
    const char *p[] = {num_u(&seq, r->seq), num_of(&time, r->time), r->actor, r->verb, r->object,
                       r->payload,          r->prev_hash,           r->hash};
    return run_done(as_pg(base), ST_AUDIT_PUT, p);
}

/* Pages through the log by seq, so that a long log is never one result in
 * memory; the log is append-only, so pages never overlap or skip. */
static int pg_audit_iter(co__store *base, uint64_t after, size_t limit, co__audit_fn fn, void *ctx)
{
    int rc = 0;
    size_t left = limit;
    for (;;) {
        size_t page = limit == 0 || left > AUDIT_PAGE ? AUDIT_PAGE : left;
        num a, l;
        const char *p[] = {num_u(&a, after), num_of(&l, (int64_t)page)};
        PGresult *res;
        if ((rc = run(as_pg(base), ST_AUDIT_ITER, p, NULL, NULL, &res)) != 0)
            return rc;
        int rows = PQntuples(res);
        for (int i = 0; rc == 0 && i < rows; i++) {
            co__audit_row r;
            audit_from_row(res, i, &r);
            after = r.seq;
            rc = fn(ctx, &r);
        }
        PQclear(res);
        if (rc != 0 || (size_t)rows < page)
            return rc;
        if (limit != 0 && (left -= page) == 0)
            return 0;
    }
}

/* ===================================================================== */
/* Signed heads and notices                                               */
/* ===================================================================== */

/* Runs an INSERT ... RETURNING n. */
static int run_returning(pg_store *s, enum stmt_id id, const char *const *params, uint64_t *n_out)
{
    int64_t n = 0;
    int rc = run_int(s, id, params, &n);
    if (rc == 0 && n_out)
        *n_out = (uint64_t)n;
    return rc;
}

static int pg_head_put(co__store *base, const co__head_row *r, uint64_t *n_out)
{
    num seq;
    const char *p[] = {num_u(&seq, r->seq), r->statement, r->signature};
    return run_returning(as_pg(base), ST_HEAD_PUT, p, n_out);
}

static void head_from_row(const PGresult *res, int i, co__head_row *r)
{
    r->n = (uint64_t)col_int(res, i, 0);
    r->seq = (uint64_t)col_int(res, i, 1);
    r->statement = col_text(res, i, 2);
    r->signature = col_text(res, i, 3);
}

static int pg_head_last(co__store *base, co__head_row *out)
{
    PGresult *res;
    int rc = run(as_pg(base), ST_HEAD_LAST, NULL, NULL, NULL, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 0) {
        rc = CUTOFF_ENOTFOUND;
    } else {
        head_from_row(res, 0, out);
        out->statement = out->signature = NULL;
        if (col_dup(res, 0, 2, &out->statement) || col_dup(res, 0, 3, &out->signature)) {
            co__head_row_clear(out);
            rc = CUTOFF_ENOMEM;
        }
    }
    PQclear(res);
    return rc;
}

static int pg_head_iter(co__store *base, co__head_fn fn, void *ctx)
{
    PGresult *res;
    int rc = run(as_pg(base), ST_HEAD_ITER, NULL, NULL, NULL, &res);
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        co__head_row r;
        head_from_row(res, i, &r);
        rc = fn(ctx, &r);
    }
    PQclear(res);
    return rc;
}

static void notice_from_row(const PGresult *res, int i, co__notice_row *r)
{
    r->action_id = col_text(res, i, 0);
    r->n = (uint64_t)col_int(res, i, 1);
    r->issued_at = col_int(res, i, 2);
    r->body = col_text(res, i, 3);
    r->signature = col_text(res, i, 4);
}

static int pg_notice_put(co__store *base, const co__notice_row *r, uint64_t *n_out)
{
    num issued;
    const char *p[] = {r->action_id, num_of(&issued, r->issued_at), r->body, r->signature};
    return run_returning(as_pg(base), ST_NOTICE_PUT, p, n_out);
}

static int pg_notice_get(co__store *base, const char *action_id, uint64_t n, co__notice_row *out)
{
    PGresult *res;
    num nn;
    const char *p[] = {action_id, num_u(&nn, n)};
    int rc = run(as_pg(base), n ? ST_NOTICE_GET : ST_NOTICE_GET_LATEST, p, NULL, NULL, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 0) {
        rc = CUTOFF_ENOTFOUND;
    } else {
        notice_from_row(res, 0, out);
        out->action_id = out->body = out->signature = NULL;
        if (col_dup(res, 0, 0, &out->action_id) || col_dup(res, 0, 3, &out->body) ||
            col_dup(res, 0, 4, &out->signature)) {
            co__notice_row_clear(out);
            rc = CUTOFF_ENOMEM;
        }
    }
    PQclear(res);
    return rc;
}

static int pg_notice_iter(co__store *base, const char *action_id, bool latest_only,
                          co__notice_fn fn, void *ctx)
{
    PGresult *res;
    const char *p[] = {action_id, latest_only ? "1" : "0"};
    int rc = run(as_pg(base), ST_NOTICE_ITER, p, NULL, NULL, &res);
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        co__notice_row r;
        notice_from_row(res, i, &r);
        rc = fn(ctx, &r);
    }
    PQclear(res);
    return rc;
}

static int pg_notice_sign(co__store *base, const char *action_id, uint64_t n, const char *signature)
{
    PGresult *res;
    num nn;
    const char *p[] = {action_id, num_u(&nn, n), signature};
    int rc = run(as_pg(base), ST_NOTICE_SIGN, p, NULL, NULL, &res);
    if (rc != 0)
        return rc;
    bool signed_now = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    if (signed_now)
        return 0;
    co__notice_row row = {0};
    rc = pg_notice_get(base, action_id, n, &row);
    co__notice_row_clear(&row);
    return rc == 0 ? CUTOFF_ESTATE : rc;
}

/* ===================================================================== */
/* Change log                                                             */
/* ===================================================================== */

static int pg_change_put(co__store *base, unsigned kind, const char *object)
{
    num k;
    const char *p[] = {num_of(&k, kind), object};
    return run_done(as_pg(base), ST_CHANGE_PUT, p);
}

static int pg_change_last(co__store *base, unsigned kind, uint64_t *seq_out)
{
    num k;
    const char *p[] = {num_of(&k, kind)};
    int64_t seq = 0;
    int rc = run_int(as_pg(base), kind ? ST_CHANGE_LAST_KIND : ST_CHANGE_LAST, p, &seq);
    if (rc == 0)
        *seq_out = (uint64_t)seq;
    return rc;
}

/* Drops the listening connection after a failure; the next call opens a
 * new one. */
static int listener_lost(pg_store *s, const char *what)
{
    set_err(s, what, s->listener ? PQerrorMessage(s->listener) : "");
    PQfinish(s->listener);
    s->listener = NULL;
    return CUTOFF_EUNAVAIL;
}

/* True when notifications are waiting (and consumes them: one wake-up
 * stands for all of them). */
static bool drain_notifies(PGconn *conn)
{
    bool woken = false;
    PGnotify *n;
    while ((n = PQnotifies(conn)) != NULL) {
        woken = true;
        PQfreemem(n);
    }
    return woken;
}

/* Listens on a connection of its own (the main one may be inside a
 * transaction, and notifications are delivered between them only). */
static int pg_change_wait(co__store *base, int timeout_ms)
{
    pg_store *s = as_pg(base);
    if (s->listener == NULL) {
        s->listener = connect_to(s->conninfo);
        if (s->listener == NULL)
            return CUTOFF_ENOMEM;
        if (PQstatus(s->listener) != CONNECTION_OK)
            return listener_lost(s, "cannot connect to listen for changes: ");
        PGresult *res = PQexec(s->listener, "LISTEN " CHANGE_CHANNEL);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok)
            return listener_lost(s, "cannot listen for changes: ");
        /* As on SQLite (cutoff_db_wait_change's contract): a commit made
         * before the LISTEN, or while a lost connection was down, sent a
         * notification nobody heard, so a new listener answers "woken". */
        return 1;
    }
    int64_t deadline = co__monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (PQconsumeInput(s->listener) == 0 || PQstatus(s->listener) != CONNECTION_OK)
            return listener_lost(s, "the connection listening for changes was lost: ");
        if (drain_notifies(s->listener))
            return 1;
        int64_t left = deadline - co__monotonic_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = PQsocket(s->listener), .events = POLLIN};
        if (pfd.fd < 0)
            return listener_lost(s, "the connection listening for changes was lost: ");
        int n = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
        if (n < 0 && errno != EINTR)
            return listener_lost(s, "cannot wait for changes: ");
    }
}

/* ===================================================================== */
/* Node receipts                                                          */
/* ===================================================================== */

static int pg_receipt_put(co__store *base, const co__receipt_row *r)
{
    num seq, applied, heartbeat;
    const char *p[] = {r->node,
                       num_u(&seq, r->seq),
                       num_of(&applied, r->applied_at),
                       r->digest,
                       num_of(&heartbeat, r->heartbeat_at),
                       r->status};
    return run_done(as_pg(base), ST_RECEIPT_PUT, p);
}

static int pg_receipt_iter(co__store *base, co__receipt_fn fn, void *ctx)
{
    PGresult *res;
    int rc = run(as_pg(base), ST_RECEIPT_ITER, NULL, NULL, NULL, &res);
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        co__receipt_row r = {.node = col_text(res, i, 0),
                             .seq = (uint64_t)col_int(res, i, 1),
                             .applied_at = col_int(res, i, 2),
                             .digest = col_text(res, i, 3),
                             .heartbeat_at = col_int(res, i, 4),
                             .status = col_text(res, i, 5)};
        rc = fn(ctx, &r);
    }
    PQclear(res);
    return rc;
}

/* ===================================================================== */
/* Shadow runs                                                            */
/* ===================================================================== */

static int pg_shadow_run_put(co__store *base, const co__shadow_run_row *r, uint64_t *run_out)
{
    num run_n, version, started, stopped;
    snprintf(version.text, sizeof version.text, "%d", r->version);
    const char *fields[] = {r->action_id,  version.text,
                            r->started_by, num_of(&started, r->started_at),
                            r->stopped_by, time_of(&stopped, r->stopped_at)};
    if (r->run != 0) {
        const char *p[] = {num_u(&run_n, r->run),
                           fields[0],
                           fields[1],
                           fields[2],
                           fields[3],
                           fields[4],
                           fields[5]};
        return run_done(as_pg(base), ST_SHADOW_RUN_PUT, p);
    }
    PGresult *res;
    int rc = run(as_pg(base), ST_SHADOW_RUN_ADD, fields, NULL, NULL, &res);
    if (rc == 0 && run_out && PQntuples(res) == 1)
        *run_out = (uint64_t)col_int(res, 0, 0);
    PQclear(res);
    return rc;
}

static int pg_shadow_run_iter(co__store *base, const char *action_id, co__shadow_run_fn fn,
                              void *ctx)
{
    PGresult *res;
    const char *p[] = {action_id};
    int rc = run(as_pg(base), ST_SHADOW_RUN_ITER, p, NULL, NULL, &res);
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        co__shadow_run_row r = {.run = (uint64_t)col_int(res, i, 0),
                                .action_id = col_text(res, i, 1),
                                .version = (int)col_int(res, i, 2),
                                .started_by = col_text(res, i, 3),
                                .started_at = col_int(res, i, 4),
                                .stopped_by = col_text(res, i, 5),
                                .stopped_at = col_int(res, i, 6)};
        rc = fn(ctx, &r);
    }
    PQclear(res);
    return rc;
}

static int pg_shadow_counts_put(co__store *base, const co__shadow_counts_row *r)
{
    num run_n, reported;
    const char *p[] = {num_u(&run_n, r->run), r->node, num_of(&reported, r->reported_at),
                       r->counts};
    return run_done(as_pg(base), ST_SHADOW_COUNTS_PUT, p);
}

static int pg_shadow_counts_iter(co__store *base, uint64_t run_n, co__shadow_counts_fn fn,
                                 void *ctx)
{
    PGresult *res;
    num n;
    const char *p[] = {num_u(&n, run_n)};
    int rc = run(as_pg(base), ST_SHADOW_COUNTS_ITER, p, NULL, NULL, &res);
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        co__shadow_counts_row r = {.run = (uint64_t)col_int(res, i, 0),
                                   .node = col_text(res, i, 1),
                                   .reported_at = col_int(res, i, 2),
                                   .counts = col_text(res, i, 3)};
        rc = fn(ctx, &r);
    }
    PQclear(res);
    return rc;
}

/* ===================================================================== */
/* Copying a whole store                                                  */
/* ===================================================================== */

/* DDL is transactional in PostgreSQL: the schema commits with the rows,
 * under the writers' lock the caller's begin took. */
static int pg_create_schema(co__store *base, cutoff_diag *diag)
{
    pg_store *s = as_pg(base);
    int version = 0;
    if (!s->in_tx)
        return co__diag(diag, CUTOFF_EINVAL, "the schema is created inside a write transaction");
    if (read_version(s, &version) != 0)
        return co__diag(diag, CUTOFF_ESTORE, "cannot read the schema version: %s", s->err);
    if (version != 0)
        return co__diag(diag, CUTOFF_ESTATE, "the store is not empty (schema version %d)", version);
    return apply_migrations(s, 0, diag);
}

static int pg_catalog_history_iter(co__store *base, co__catalog_fn fn, void *ctx)
{
    PGresult *res;
    int rc = run(as_pg(base), ST_CATALOG_HISTORY_ITER, NULL, NULL, NULL, &res);
    for (int i = 0; rc == 0 && i < PQntuples(res); i++)
        rc = fn(ctx, col(res, i, 0), col(res, i, 1), col_int(res, i, 2));
    PQclear(res);
    return rc;
}

static int pg_evidence_iter_all(co__store *base, co__evidence_fn fn, void *ctx)
{
    PGresult *res;
    int rc = run(as_pg(base), ST_EVIDENCE_ITER_ALL, NULL, NULL, NULL, &res);
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        co__evidence_row r = {
            .case_id = col_text(res, i, 0),
            .n = col_int(res, i, 1),
            .sha256_hex = col_text(res, i, 2),
            .size = col_int(res, i, 3),
            .media_type = col_text(res, i, 4),
            .file = col_text(res, i, 5),
            .note = col_text(res, i, 6),
            .added_by = col_text(res, i, 7),
            .added_at = col_int(res, i, 8),
            .content_kept = strcmp(PQgetvalue(res, i, 9), "t") == 0,
        };
        unsigned char *content = NULL;
        if (r.content_kept) {
            /* bytea arrives in its text form (\x and hex digits). */
            size_t len = 0;
            content = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 10), &len);
            if (content == NULL) {
                rc = CUTOFF_ENOMEM;
                break;
            }
            r.content = len ? (const void *)content : "";
            r.content_len = len;
        }
        rc = fn(ctx, &r);
        PQfreemem(content);
    }
    PQclear(res);
    return rc;
}

static int pg_change_iter(co__store *base, co__change_fn fn, void *ctx)
{
    PGresult *res;
    int rc = run(as_pg(base), ST_CHANGE_ITER, NULL, NULL, NULL, &res);
    for (int i = 0; rc == 0 && i < PQntuples(res); i++)
        rc = fn(ctx, (uint64_t)col_int(res, i, 0), (unsigned)col_int(res, i, 1), col(res, i, 2));
    PQclear(res);
    return rc;
}

const co__store_ops co__pg_store_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .schema_version = pg_schema_version,
    .migrate = pg_migrate,
    .begin = pg_begin,
    .begin_read = pg_begin_read,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .errmsg = pg_errmsg,
    .node_get = pg_node_get,
    .node_iter = pg_node_iter,
    .node_count = pg_node_count,
    .node_plan_uses = pg_node_plan_uses,
    .node_write_begin = pg_node_write_begin,
    .node_put = pg_node_put,
    .node_write_end = pg_node_write_end,
    .catalog_get = pg_catalog_get,
    .catalog_put = pg_catalog_put,
    .catalog_at = pg_catalog_at,
    .case_get = pg_case_get,
    .case_put = pg_case_put,
    .case_iter = pg_case_iter,
    .case_count = pg_case_count,
    .evidence_add = pg_evidence_add,
    .evidence_iter = pg_evidence_iter,
    .action_get = pg_action_get,
    .action_put = pg_action_put,
    .action_iter = pg_action_iter,
    .action_count_ids = pg_action_count_ids,
    .audit_last = pg_audit_last,
    .audit_put = pg_audit_put,
    .audit_iter = pg_audit_iter,
    .head_put = pg_head_put,
    .head_last = pg_head_last,
    .head_iter = pg_head_iter,
    .notice_put = pg_notice_put,
    .notice_get = pg_notice_get,
    .notice_iter = pg_notice_iter,
    .notice_sign = pg_notice_sign,
    .change_put = pg_change_put,
    .change_last = pg_change_last,
    .change_wait = pg_change_wait,
    .receipt_put = pg_receipt_put,
    .receipt_iter = pg_receipt_iter,
    .create_schema = pg_create_schema,
    .catalog_history_iter = pg_catalog_history_iter,
    .evidence_iter_all = pg_evidence_iter_all,
    .change_iter = pg_change_iter,
    .shadow_run_put = pg_shadow_run_put,
    .shadow_run_iter = pg_shadow_run_iter,
    .shadow_counts_put = pg_shadow_counts_put,
    .shadow_counts_iter = pg_shadow_counts_iter,
};
