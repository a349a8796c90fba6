/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h - the storage backend interface. The database layer (src/db)
 * keeps every rule of the workflow; a backend only stores and returns rows:
 * nodes, the catalog text, cases, evidence, action versions, audit
 * records and the change log, inside transactions the database layer opens and closes. A
 * backend is a table of function pointers (co__store_ops) and a handle
 * whose first member points at that table, so the callers do not know which
 * backend they have: SQLite (src/store/sqlite.c) is the embedded default,
 * PostgreSQL (src/store/pg.c) the shared one; co__store_for picks one.
 *
 * Conventions for every operation: 0 or a negative CUTOFF_E* code
 * (CUTOFF_ESTORE for the backend's own failures, with its message in diag
 * where a diag is taken, CUTOFF_ENOTFOUND for a missing row).
 * Strings in rows handed to callbacks are borrowed and valid only during
 * the call; a callback returning nonzero stops the iteration and that value
 * is returned. Rows filled by *_get are owned by the caller and released
 * with the matching co__*_row_clear. Times are Unix seconds; 0 means "not
 * set". Writes are only allowed between begin and commit/rollback.
 * CUTOFF_EUNAVAIL means the store cannot be reached (a PostgreSQL server
 * that does not answer, an SQLite file no longer at its path): a state
 * that may pass, for which the caller retries (open again), unlike
 * CUTOFF_ESTORE or CUTOFF_ENOTINIT at open, which a retry does not cure.
 */
#ifndef CUTOFF_STORE_H
#define CUTOFF_STORE_H

#include "cutoff.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The schema version every backend writes; migrations bring older stores
 * up to it. 2 added the change log; 3 the catalog history, the signed
 * audit heads and the customer notices; 4 the node receipts; 5 the shadow
 * runs with each node's counts, and change kind 8 (CUTOFF_CHANGE_SHADOW). */
#define CO__STORE_SCHEMA_VERSION 5

/* Modes of open. */
#define CO__STORE_CREATE 1
#define CO__STORE_READ_ONLY 2

typedef struct co__store co__store;
typedef struct co__store_ops co__store_ops;

/* Every backend handle starts with this. */
struct co__store {
    const co__store_ops *ops;
};

/* ---- rows --------------------------------------------------------------- */

typedef struct co__case_row {
    char *id;
    char *title;
    char *scope_json; /* JSON array of node ids */
    bool open;
    char *findings; /* NULL when none */
    char *opened_by;
    int64_t opened_at;
    char *closed_by;
    int64_t closed_at;
    char *updated_by; /* who changed it last (findings, close) */
    int64_t updated_at;
} co__case_row;

typedef struct co__evidence_row {
    char *case_id;
    int64_t n; /* 1, 2, ... within the case; assigned by evidence_add */
    char *sha256_hex;
    int64_t size;
    char *media_type;
    char *file; /* base name of the file it was read from */
    char *note;
    char *added_by;
    int64_t added_at;
    const void *content; /* NULL unless kept (never loaded by evidence_iter) */
    size_t content_len;
    bool content_kept; /* set by evidence_iter */
} co__evidence_row;

typedef struct co__action_row {
    char *id;
    int version;
    char *case_id;
    int state; /* cutoff_action_state */
    char *doc; /* the action document (input format, with its id) */
    char *proposed_by;
    int64_t proposed_at;
    char *approved_by;
    int64_t approved_at;
    int64_t activated_at;
    char *lifted_by;
    int64_t lifted_at;
    char *lift_reason;
} co__action_row;

/* Selects action versions: every field is optional (NULL / -1 / false). */
typedef struct co__action_filter {
    const char *id;
    const char *case_id;
    int state;        /* -1: any */
    bool latest_only; /* only the highest version of each id */
} co__action_filter;

typedef struct co__audit_row {
    uint64_t seq;
    int64_t time;
    char *actor;
    char *verb;
    char *object;
    char *payload;   /* JSON text */
    char *prev_hash; /* 64 hex digits */
    char *hash;
} co__audit_row;

/* A signed audit head: the signer's statement about the log (which
 * record is the newest, its hash, when) and the signature over exactly
 * those bytes. The statement's format is the audit layer's; the store
 * keeps it as given and indexes it by the record it names. */
typedef struct co__head_row {
    uint64_t n;      /* 1, 2, 3, ... in the order heads were stored */
    uint64_t seq;    /* the audit record the statement names (0: empty log) */
    char *statement; /* the signed text */
    char *signature; /* the signature over statement */
} co__head_row;

/* One version of the notice about an enforcement action. body is the
 * notice as issued (the exact text that is signed); signature is NULL
 * until a key signs it (a notice issued by a program holding no key is
 * signed later by one that does). */
typedef struct co__notice_row {
    char *action_id;
    uint64_t n; /* 1, 2, 3, ... per action */
    int64_t issued_at;
    char *body;
    char *signature;
} co__notice_row;

/* What one decision node (a cutoffd) reports it enforces: the change
 * sequence its published snapshot stands for, since when, that snapshot's
 * digest, and when it last reported at all. */
typedef struct co__receipt_row {
    char *node;           /* the node's stable id (cutoffd's node_id) */
    uint64_t seq;         /* the change sequence it enforces */
    int64_t applied_at;   /* when it began enforcing seq */
    char *digest;         /* digest of its published snapshot (hex) */
    int64_t heartbeat_at; /* when it last reported */
    char *status;         /* "ok", "degraded" or "stopped" */
} co__receipt_row;

/* A shadow run: a draft version evaluated by every decision node on live
 * traffic without deciding anything, from started_at until stopped_at (0:
 * not stopped). */
typedef struct co__shadow_run_row {
    uint64_t run; /* 1, 2, 3, ... in the order runs were started */
    char *action_id;
    int version;
    char *started_by;
    int64_t started_at;
    char *stopped_by; /* NULL while not stopped */
    int64_t stopped_at;
} co__shadow_run_row;

/* What one node counted for a run, as it last wrote it. counts is a JSON
 * text the database layer makes and reads; the store keeps it as given. */
typedef struct co__shadow_counts_row {
    uint64_t run;
    char *node;
    int64_t reported_at;
    char *counts;
} co__shadow_counts_row;

typedef int (*co__node_fn)(void *ctx, const cutoff_node_spec *node);
typedef int (*co__plan_use_fn)(void *ctx, const char *plan, const char *example_node);
typedef int (*co__case_fn)(void *ctx, const co__case_row *row);
typedef int (*co__evidence_fn)(void *ctx, const co__evidence_row *row);
typedef int (*co__action_fn)(void *ctx, const co__action_row *row);
typedef int (*co__audit_fn)(void *ctx, const co__audit_row *row);
typedef int (*co__head_fn)(void *ctx, const co__head_row *row);
typedef int (*co__notice_fn)(void *ctx, const co__notice_row *row);
typedef int (*co__receipt_fn)(void *ctx, const co__receipt_row *row);
typedef int (*co__shadow_run_fn)(void *ctx, const co__shadow_run_row *row);
typedef int (*co__shadow_counts_fn)(void *ctx, const co__shadow_counts_row *row);
/* One catalog of the history (copying a whole store). */
typedef int (*co__catalog_fn)(void *ctx, const char *json, const char *loaded_by,
                              int64_t loaded_at);
/* One row of the change log (copying a whole store). */
typedef int (*co__change_fn)(void *ctx, uint64_t seq, unsigned kind, const char *object);

/* ---- the interface ------------------------------------------------------ */

struct co__store_ops {
    const char *name;

    /* Connects to `location` (a file path for SQLite). `mode` is 0 or a
     * CO__STORE_* flag. With CO__STORE_CREATE a missing store is created
     * empty (schema version 0); without it a missing or empty one is
     * CUTOFF_ENOTINIT and nothing is written. With CO__STORE_READ_ONLY
     * nothing is ever written through the handle (begin fails) and a store
     * the user may only read opens. A store that would be created or
     * migrated but holds objects of another program (a table, view, index
     * or trigger the schema does not name) is refused with CUTOFF_ESTORE
     * naming one, before anything is written. Nothing is migrated here. */
    int (*open)(const char *location, int mode, co__store **out, cutoff_diag *diag);
    void (*close)(co__store *s);

    /* The schema version the store holds (0: empty). */
    int (*schema_version)(co__store *s, int *out);
    /* Brings the schema from its version up to CO__STORE_SCHEMA_VERSION in
     * one transaction of its own. */
    int (*migrate)(co__store *s, cutoff_diag *diag);

    /* A write transaction: begin takes the write lock at once, so the reads
     * made inside see what the commit will be based on. */
    int (*begin)(co__store *s);
    /* A read transaction: the reads until commit (or rollback) see one
     * consistent state of the store. */
    int (*begin_read)(co__store *s);
    int (*commit)(co__store *s);
    void (*rollback)(co__store *s);
    /* The backend's last error message (for diagnostics). */
    const char *(*errmsg)(co__store *s);

    /* ---- nodes: (id, kind, parent, name, plan) ---- */
    int (*node_get)(co__store *s, const char *id, cutoff_node_spec *out, char **strings);
    /* Every node in byte-wise ascending order of id. */
    int (*node_iter)(co__store *s, co__node_fn fn, void *ctx);
    int (*node_count)(co__store *s, uint64_t *out);
    /* Each plan some node names, with one node naming it. */
    int (*node_plan_uses)(co__store *s, co__plan_use_fn fn, void *ctx);
    /* Bulk writing: node_put inserts or replaces one node. node_write_begin
     * says how many rows will follow and how many the store holds already
     * (hints: the backend may reorganise indexes for large batches) and
     * node_write_end finishes the batch. Rows written in ascending id
     * order are fastest. */
    int (*node_write_begin)(co__store *s, uint64_t rows, uint64_t existing);
    int (*node_put)(co__store *s, const cutoff_node_spec *node);
    int (*node_write_end)(co__store *s);

    /* ---- the catalog: one canonical JSON text ---- */
    int (*catalog_get)(co__store *s, char **json_out); /* co__free; ENOTFOUND */
    /* Replaces the current catalog and appends it to the history. */
    int (*catalog_put)(co__store *s, const char *json, const char *actor, int64_t time);
    /* The catalog in force at `time`: the last one loaded at or before it
     * (co__free; ENOTFOUND when none was loaded by then). */
    int (*catalog_at)(co__store *s, int64_t time, char **json_out);

    /* ---- cases and evidence ---- */
    int (*case_get)(co__store *s, const char *id, co__case_row *out);
    /* Inserts a case or replaces the one with the same id (keeping its
     * place in the listing order). */
    int (*case_put)(co__store *s, const co__case_row *row);
    /* Every case in the order they were opened. */
    int (*case_iter)(co__store *s, co__case_fn fn, void *ctx);
    int (*case_count)(co__store *s, uint64_t *out);
    /* Adds evidence to a case; assigns and returns row->n. */
    int (*evidence_add)(co__store *s, const co__evidence_row *row, int64_t *n_out);
    /* The evidence of a case in order of n (content is not loaded). */
    int (*evidence_iter)(co__store *s, const char *case_id, co__evidence_fn fn, void *ctx);

    /* ---- enforcement action versions, keyed (id, version) ---- */
    /* version 0: the highest version. */
    int (*action_get)(co__store *s, const char *id, int version, co__action_row *out);
    /* Inserts a version or replaces the row with the same (id, version). */
    int (*action_put)(co__store *s, const co__action_row *row);
    /* Versions matching the filter, ascending by (id, version). */
    int (*action_iter)(co__store *s, const co__action_filter *f, co__action_fn fn, void *ctx);
    /* Number of distinct action ids. */
    int (*action_count_ids)(co__store *s, uint64_t *out);

    /* ---- audit log ---- */
    /* The record with the highest seq; ENOTFOUND when the log is empty. */
    int (*audit_last)(co__store *s, co__audit_row *out);
    int (*audit_put)(co__store *s, const co__audit_row *row);
    /* Records with seq > after, ascending by seq, at most limit (0: all). */
    int (*audit_iter)(co__store *s, uint64_t after, size_t limit, co__audit_fn fn, void *ctx);

    /* ---- signed audit heads, append-only ---- */
    /* Appends a head after the last one; assigns and returns its n. */
    int (*head_put)(co__store *s, const co__head_row *row, uint64_t *n_out);
    /* The head with the highest n (co__head_row_clear); ENOTFOUND when none. */
    int (*head_last)(co__store *s, co__head_row *out);
    /* Every head, ascending by n. */
    int (*head_iter)(co__store *s, co__head_fn fn, void *ctx);

    /* ---- notices, one row per version ---- */
    /* Appends the next version of an action's notice; assigns and returns
     * its n (row->n is ignored). */
    int (*notice_put)(co__store *s, const co__notice_row *row, uint64_t *n_out);
    /* Version n of an action's notice, n 0 meaning the latest
     * (co__notice_row_clear); ENOTFOUND. */
    int (*notice_get)(co__store *s, const char *action_id, uint64_t n, co__notice_row *out);
    /* The notices of one action (action_id) or of all (NULL), ascending by
     * (action_id, n); with latest_only only the highest n of each. */
    int (*notice_iter)(co__store *s, const char *action_id, bool latest_only, co__notice_fn fn,
                       void *ctx);
    /* Sets the signature of a notice that has none; ESTATE when it has one
     * (a signed notice is never changed), ENOTFOUND. */
    int (*notice_sign)(co__store *s, const char *action_id, uint64_t n, const char *signature);

    /* ---- change log: one row per committed change of state ---- */
    /* Appends a change of one kind (a single CUTOFF_CHANGE_* bit: 1, 2, 4
     * or 8) to `object` (what it is about: "catalog", "nodes", an action or case id)
     * inside the caller's write transaction. seq is the last one plus one,
     * so sequences grow in commit order: writers are serialised by begin
     * (a backend that lets writers overlap must keep that property). */
    int (*change_put)(co__store *s, unsigned kind, const char *object);
    /* The highest seq of a change of `kind`, or of any kind when kind is 0;
     * 0 when there is none. One index probe, cheap enough to poll. */
    int (*change_last)(co__store *s, unsigned kind, uint64_t *seq_out);

    /* Waits up to timeout_ms for a sign that another handle committed a
     * change: a PostgreSQL NOTIFY, a write to the SQLite file. 1 when woken,
     * 0 on timeout, a negative code when the store cannot be reached (the
     * caller retries later). A wake-up is a hint, never the change itself:
     * the caller reads change_last to know what happened. */
    int (*change_wait)(co__store *s, int timeout_ms);

    /* ---- node receipts: replaced, never audited, never a change ---- */
    /* Inserts or replaces the receipt of row->node. Unlike every other
     * write it is called outside a transaction and is one statement that
     * commits on its own, without the writers' lock (PostgreSQL's advisory
     * lock): a node frozen while reporting must not hold up changes. */
    int (*receipt_put)(co__store *s, const co__receipt_row *row);
    /* Every receipt, ascending by node. */
    int (*receipt_iter)(co__store *s, co__receipt_fn fn, void *ctx);

    /* ---- shadow runs ---- */
    /* A run is written by its start and its stop, in the caller's write
     * transaction with their audit records; counts are replaced by each
     * node's report, never audited and never a change (like receipts).
     * What a node counted and how runs combine is the database layer's. */

    /* Inserts a run (row->run 0: numbered after the last one, the number
     * returned in *run_out) or replaces run row->run (its stop). */
    int (*shadow_run_put)(co__store *s, const co__shadow_run_row *row, uint64_t *run_out);
    /* The runs of one action (action_id) or of all (NULL), ascending by
     * run. */
    int (*shadow_run_iter)(co__store *s, const char *action_id, co__shadow_run_fn fn, void *ctx);
    /* Inserts or replaces the counts of (row->run, row->node); like
     * receipt_put, one statement called outside a transaction. */
    int (*shadow_counts_put)(co__store *s, const co__shadow_counts_row *row);
    /* Every node's counts of one run, ascending by node. */
    int (*shadow_counts_iter)(co__store *s, uint64_t run, co__shadow_counts_fn fn, void *ctx);

    /* ---- copying a whole store ---- */
    /* What `cutoff db copy` needs beyond the operations above to read every
     * row of one store and write it into another, of any backend. */

    /* Creates the whole schema (CO__STORE_SCHEMA_VERSION) in an empty store
     * (schema version 0) inside the caller's write transaction, so that the
     * schema and the rows written after it are committed together or not
     * at all. CUTOFF_ESTATE when the store is not empty. */
    int (*create_schema)(co__store *s, cutoff_diag *diag);
    /* Every catalog ever loaded, in the order they were loaded (the
     * current one last). Replaying them with catalog_put rebuilds both the
     * history and the current catalog. */
    int (*catalog_history_iter)(co__store *s, co__catalog_fn fn, void *ctx);
    /* Every evidence row of every case, ascending by (case_id, n), with
     * its content (row->content, content_len) when it was kept. */
    int (*evidence_iter_all)(co__store *s, co__evidence_fn fn, void *ctx);
    /* Every row of the change log, ascending by seq. change_put appends
     * the same rows again (seq is the last one plus one). */
    int (*change_iter)(co__store *s, co__change_fn fn, void *ctx);
};

/* The SQLite backend. */
extern const co__store_ops co__sqlite_store_ops;
/* The PostgreSQL backend (pg.c). */
extern const co__store_ops co__pg_store_ops;

/* The backend a location names: PostgreSQL for a libpq URI
 * (postgresql://... or postgres://...) or the word "postgresql:" alone
 * (libpq's environment: PGHOST, PGDATABASE, ...), SQLite for anything else
 * (a file path). */
const co__store_ops *co__store_for(const char *location);

/* Release what a *_get filled in (the row itself is the caller's). */
void co__case_row_clear(co__case_row *row);
void co__action_row_clear(co__action_row *row);
void co__audit_row_clear(co__audit_row *row);
void co__head_row_clear(co__head_row *row);
void co__notice_row_clear(co__notice_row *row);
void co__receipt_row_clear(co__receipt_row *row);
void co__shadow_run_row_clear(co__shadow_run_row *row);

#endif
