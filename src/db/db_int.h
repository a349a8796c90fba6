/* SPDX-License-Identifier: Apache-2.0 */
/*
 * db_int.h - what the files of the database layer (src/db) share: the
 * handle, the one-transaction-per-change helpers, the audit helper that
 * puts a change, its record and its change-log entry in the same
 * transaction, input checks for
 * free text, and small JSON helpers for the texts the layer returns.
 */
#ifndef CUTOFF_DB_INT_H
#define CUTOFF_DB_INT_H

#include "cutoff.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct cutoff_db {
    co__store *store;
    bool read_only;          /* opened with CUTOFF_DB_READ_ONLY: nothing is written */
    const cutoff_key *key;   /* signs heads and notices (cutoff_db_set_key); borrowed */
    int64_t sign_interval_s; /* what the heads it signs promise (cutoff_db_set_sign_interval) */
    bool appended;           /* this write transaction appended an audit record */
};

/* The store's operations of a handle. */
#define STORE_OPS(db) ((db)->store->ops)

/* The actor written into audit records for changes the system makes by
 * itself (actions expiring). */
#define CO__DB_SYSTEM_ACTOR "cutoff"
/* The verb of a key rotation record (heads.c); callers cannot append it. */
#define CO__VERB_KEY_ROTATE "key.rotate"

/* ---- transactions --------------------------------------------------------
 * Every change: rc = co__db_begin(); ... checks, writes, co__db_audit() ...;
 * return co__db_end(db, rc, diag). end commits when rc is 0 and rolls back
 * otherwise, so a failed call leaves nothing behind. */
int co__db_begin(cutoff_db *db, cutoff_diag *diag);
/* The same for a consistent read of several rows (end commits it). */
int co__db_begin_read(cutoff_db *db, cutoff_diag *diag);
int co__db_end(cutoff_db *db, int rc, cutoff_diag *diag);

/* Fills diag for a store failure ("database error while WHAT: ...") unless
 * diag already holds a message for rc. Returns rc. */
int co__db_store_fail(cutoff_db *db, int rc, cutoff_diag *diag, const char *what);

/* Appends the audit record of a change and its entry in the change log
 * inside the current transaction. `change` is the CUTOFF_CHANGE_* kind of
 * state the caller changed (0 only for a call that changed nothing, which
 * is recorded but not logged as a change); the kind is the caller's to
 * say, never derived from the verb. Takes the reference to payload (a JSON
 * object); a NULL payload is a build that ran out of memory and fails with
 * CUTOFF_ENOMEM, so that the caller's transaction is rolled back instead
 * of committing a change with an empty record. */
int co__db_audit(cutoff_db *db, unsigned change, int64_t time, const char *actor, const char *verb,
                 const char *object, json_t *payload);

/* Signs the head of the log inside the current write transaction (heads.c):
 * a new head naming the newest record, signed with key, at `now` (raised to
 * the newest head's time), promising interval_s. With only_if_unsigned
 * nothing is written when the newest head names the newest record.
 * CUTOFF_EPERM when the newest head is signed by another key (the key in
 * force changes only by cutoff_db_key_rotate). */
int co__db_head_sign_tx(cutoff_db *db, const cutoff_key *key, int64_t now, int64_t interval_s,
                        bool only_if_unsigned);

/* cutoff_db_audit_verify_signed, in its own read transaction (own_read)
 * or in the caller's, read or write (db copy checks the copy before it
 * commits). */
int co__db_audit_verify_signed_in(cutoff_db *db, bool own_read, const char *public_key,
                                  const char *published_head, int64_t now,
                                  cutoff_audit_signed_report *report);

/* The wall clock, for records of calls that are not given a time. */
int64_t co__db_wall_now(void);

/* ---- notices (notices.c) ------------------------------------------------- */
typedef enum co__notice_why {
    CO__NOTICE_APPROVE,    /* "activated", or "new_version" after an earlier notice */
    CO__NOTICE_LIFT,       /* "lifted" */
    CO__NOTICE_CASE_CLOSED /* "case_closed" */
} co__notice_why;

/* Issues the next notice of an action about its version `version`, in the
 * caller's write transaction, right after the audit record of the change
 * (which it names); signed when the handle has a key. 0 or a store code. */
int co__db_notice_issue(cutoff_db *db, const char *action_id, int version, co__notice_why why,
                        int64_t now);
/* Issues a "case_closed" notice for every action of the case that has
 * notices, in the caller's write transaction. */
int co__db_notices_case_closed(cutoff_db *db, const char *case_id, int64_t now);

/* ---- input checks -------------------------------------------------------- */
/* An actor: an id (cutoff_id_valid). */
int co__db_check_actor(const char *actor, cutoff_diag *diag);
/* One-line free text (titles, reasons, file names): co__text_check of at
 * most max bytes, NULL allowed when optional. `what` names it in the
 * message. */
int co__db_check_text(const char *text, size_t max, bool optional, const char *what,
                      cutoff_diag *diag);

/* Opens a file the layer reads from a caller's path (evidence): it must be
 * a regular file (opened without blocking, so a FIFO cannot hang the
 * call, and checked after opening, so a link swapped in between is seen)
 * of at most max bytes. `what` names it in messages. Returns 0 with *out
 * open for reading, CUTOFF_EIO, CUTOFF_EINVAL (not a regular file) or
 * CUTOFF_ELIMIT. */
int co__open_regular(const char *path, const char *what, uint64_t max, FILE **out,
                     cutoff_diag *diag);

/* The tree of the stored nodes on `catalog`, read in the caller's
 * transaction (nodes.c; the codes of cutoff_db_load_tree). */
int co__db_tree_on(cutoff_db *db, const cutoff_catalog_spec *catalog, cutoff_tree **out,
                   cutoff_diag *diag);

/* The ancestors of a node, nearest first (its parent up to its tenant),
 * and the plan it inherits with the node that sets it (NULL: none), read
 * in the caller's transaction (nodes.c). CUTOFF_ESTORE when a parent is
 * missing (a damaged store). */
typedef struct co__lineage {
    char **ids;
    size_t n;
    char *plan, *plan_from;
} co__lineage;
int co__db_lineage(cutoff_db *db, const cutoff_node_spec *node, co__lineage *out);
void co__lineage_free(co__lineage *l);

/* ---- JSON ---------------------------------------------------------------- */
/* Dumps v compactly into a string released with cutoff_free, and drops the
 * reference to v. CUTOFF_ENOMEM when v is NULL (a failed build). */
int co__db_json_take(json_t *v, char **out);
/* A time as RFC 3339 text, or JSON null for 0 (not set). */
json_t *co__db_json_time(int64_t t);
/* A string or JSON null. */
json_t *co__db_json_str(const char *s);
/* Sets obj[key] = v, taking the reference; a NULL v marks *ok false. */
void co__db_set(json_t *obj, const char *key, json_t *v, bool *ok);

/* ---- shared lookups ------------------------------------------------------ */
/* The current catalog, parsed. CUTOFF_ENOTFOUND with a message telling to
 * load one. */
int co__db_catalog(cutoff_db *db, cutoff_catalog_spec **out, cutoff_diag *diag);
/* Whether some action, or some region, of catalog c matches the pattern
 * (cutoff_pattern_match, cutoff_region_match): what an action's deny,
 * except and regions must do when it is stored, approved, and while it is
 * active under a new catalog. */
/* The specs of active actions, gathered by co__gather_active (an
 * action_iter callback); the active ones whose last "off" phase began
 * before expire_before are counted in n_expired. */
typedef struct co__active_set {
    cutoff_action_spec **specs;
    size_t n, cap;
    int64_t expire_before;
    size_t n_expired;
} co__active_set;
int co__gather_active(void *ctx, const co__action_row *row);
/* Gathers the versions in force, active and expired, into set (actions.c). */
int co__gather_in_force(cutoff_db *db, co__active_set *set);
void co__active_set_free(co__active_set *s);

bool co__catalog_has_action(const cutoff_catalog_spec *c, const char *pattern);
bool co__catalog_has_region(const cutoff_catalog_spec *c, const char *pattern);
/* An action version row as a spec with its lifecycle fields set. */
int co__db_action_spec(const co__action_row *row, cutoff_action_spec **out);
/* The SHA-256 of a buffer as 64 hex digits. */
void co__db_sha256_hex(const void *p, size_t n, char out[65]);

#endif
