/* SPDX-License-Identifier: Apache-2.0 */
/*
 * daemon.h - what the parts of cutoffd share: the running daemon (config,
 * engine, the writer's database handle, listeners), metrics, the log, and
 * the entry points of the decision and admin handlers.
 */
#ifndef CUTOFFD_DAEMON_H
#define CUTOFFD_DAEMON_H

#include "cutoff.h"
#include "daemon/config.h"
#include "daemon/metrics.h"
#include "daemon/tokens.h"
#include "http/http.h"
#include "util/clock.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct retired_config {
    daemon_config *cfg;
    struct retired_config *next;
} retired_config;

typedef struct cutoffd {
    char *config_path;
    /* Listeners, database and limits are read once at start. Routes, notice
     * base and log settings are reloaded by SIGHUP: handlers read `live`
     * once per request, and replaced configs are kept until exit. */
    daemon_config cfg;
    char db_shown[512]; /* cfg.database as logs show it: without a password */
    daemon_config *_Atomic live;
    retired_config *retired_configs;

    cutoff_engine *engine;
    /* Writers (admin calls, the watcher, SIGHUP) take write_lock: it guards
     * db, tree and the generations the current snapshot reflects. */
    pthread_mutex_t write_lock;
    cutoff_db *db;
    cutoff_key *key;        /* signs the audit heads (cfg.signing_key) */
    int64_t head_signed_at; /* when the watcher last signed a head (interval) */
    bool sign_failing;      /* a failed signing was logged; say it once */
    cutoff_tree *tree;
    uint64_t change_seq; /* the database's change sequence the snapshot reflects */
    /* The watcher's own handle for cutoff_db_wait_change, so that waiting
     * never holds write_lock nor shares a connection with the writers. */
    cutoff_db *wait_db;
    /* ---- the fleet: this node's receipt and the store's health ---- */
    char node_id[CUTOFF_NODE_ID_MAX + 1];
    char digest[CUTOFF_DIGEST_SIZE]; /* of the published snapshot ("": none) */
    int64_t applied_at;              /* when change_seq was reached */
    uint64_t receipt_seq;            /* what the last receipt written said */
    int64_t receipt_at;              /* when it was written (0: never) */
    bool receipt_failing;            /* a failed receipt was logged; say it once */
    _Atomic uint64_t applied_seq;    /* change_seq, for readers without the lock */
    _Atomic uint64_t store_head;     /* the store's change head as last read */
    _Atomic bool store_up;           /* the last read of the store succeeded */
    _Atomic int64_t last_read_at;    /* when a read of the store last succeeded (0: never) */
    /* Why the store is down, for /readyz: guarded by status_lock. */
    pthread_mutex_t status_lock;
    int64_t down_since;
    char down_error[300];
    /* ---- shadow runs: evaluated after each live decision, never deciding ----
     * The set is rebuilt with each published snapshot and each shadow
     * change (under write_lock) and swapped under shadow_lock, which
     * deciding threads take shared only while shadowing is true and the
     * live decision allowed. */
    pthread_rwlock_t shadow_lock;
    cutoff_shadow *shadow;             /* NULL while no run is in force */
    _Atomic bool shadowing;            /* shadow != NULL, read without the lock */
    int64_t shadow_written_at;         /* when this node last wrote its counts */
    bool shadow_failing;               /* a failed rebuild or write was logged; say it once */
    _Atomic int64_t snapshot_built_at; /* Unix seconds */
    /* The published snapshot decides exactly from this time on (the `now`
     * it was built for: actions that ended before are left out). Stored
     * before the snapshot is published, read after entering a reader. */
    _Atomic int64_t snapshot_from;
    /* Decides every time, also before snapshot_from: built on first need
     * after each refresh (under write_lock), NULL until then. */
    cutoff_snapshot *history;
    _Atomic bool ready;

    /* Readers of the engine, one per HTTP thread, freed at exit. */
    pthread_mutex_t readers_lock;
    cutoff_reader **readers;
    size_t n_readers, cap_readers;

    token_table *_Atomic tokens; /* swapped on SIGHUP */
    struct retired_tokens {
        token_table *table;
        struct retired_tokens *next;
    } * retired_tokens; /* kept until exit: an admin call may still hold one */

    co__http_server *decision, *admin;
    pthread_t watcher;
    _Atomic bool stopping;

    metrics metrics;
    FILE *log;
    pthread_mutex_t log_lock;
} cutoffd;

static inline const daemon_config *daemon_live(cutoffd *d)
{
    return atomic_load_explicit(&d->live, memory_order_acquire);
}

/* ---- state.c ---- */
/* Opens the database and publishes the first snapshot. */
int daemon_state_open(cutoffd *d, char *err, size_t err_len);
void daemon_state_close(cutoffd *d);
/* Brings the published snapshot up to date with the database. The store's
 * change log says what changed after change_seq: nodes or catalog reload
 * the tree, actions recompile only the actions on the current tree, cases
 * alone publish nothing. force rebuilds even when nothing is new.
 * Call with write_lock held. */
int daemon_refresh_locked(cutoffd *d, bool force, cutoff_diag *diag);
/* Loads the signing key (cfg.signing_key; by default cutoff.key next to
 * the database), creating it with mode 0600 when missing. Returns 0, or -1
 * with the reason in err (an unsafe mode or owner among them). */
int daemon_key_open(cutoffd *d, char *err, size_t err_len);
/* Signs a head when the newest record has none (force: in any case, for
 * the interval). Call with write_lock held. */
void daemon_sign_locked(cutoffd *d, bool force);
/* The store answered a read (head: its change sequence) or failed to
 * (rc, with the reason in why): /readyz, the metrics and the staleness
 * limit follow these. Any thread. */
void daemon_store_ok(cutoffd *d, uint64_t head);
void daemon_store_failed(cutoffd *d, int rc, const char *why);
/* Whether decisions must be refused because the store has not been read
 * for longer than max_staleness_s; why says so (for the problem body). */
bool daemon_too_stale(cutoffd *d, char *why, size_t n);
/* The reason /readyz gives while the store is down ("" when it is up). */
void daemon_store_status(cutoffd *d, char *why, size_t n);
/* Starts / stops the thread that notices changes made by other processes
 * (woken by the store, re-reading at least every safety_interval_ms,
 * reconnecting with backoff while the store is down) and writes this
 * node's receipts. */
int daemon_watch_start(cutoffd *d);
void daemon_watch_stop(cutoffd *d);
/* A snapshot of the current state that decides exactly at every time,
 * also before snapshot_from (a past "at"), retained for the caller
 * (cutoff_snapshot_release). Call with write_lock held. NULL when there is
 * no tree yet or the build fails (*rc says why, diag when not NULL). */
cutoff_snapshot *daemon_history_locked(cutoffd *d, int *rc, cutoff_diag *diag);
/* Counts a live decision v of r for the shadow runs in force (nothing
 * when there are none or v denies); request_id (with "/index" for an item
 * of a batch, index >= 0) names it in the sample. Never changes v. Any
 * thread. */
void daemon_shadow_observe(cutoffd *d, const cutoff_request *r, const cutoff_verdict *v,
                           const char *request_id, long index);
/* Writes this node's shadow counts that changed since they were last
 * written (all with force). Call with write_lock held. */
void daemon_shadow_write_locked(cutoffd *d, bool force);
/* This thread's engine reader (created on first use). */
cutoff_reader *daemon_reader(cutoffd *d);
/* The time decisions are made at when a request names none. */
int64_t daemon_now(void);

/* ---- decide.c ---- */
/* Parses the body of POST /v1/check (batch: /v1/check/batch): the document
 * (json_decref it) and, in a batch, *requests its "requests" array
 * (borrowed); NULL with the reason in err. */
json_t *decision_body_parse(const char *body, size_t len, bool batch, json_t **requests, char *err,
                            size_t n);
/* Reads one check request object into *r (strings borrowed from o; "at"
 * defaults to now): true, or false with the reason in err. With as_of
 * (the admin listener) the object may give "as_of" instead of "at": then
 * r->at is that moment and *as_of is set; with as_of NULL the key is
 * refused. */
bool decision_request_read(json_t *o, cutoff_request *r, bool *as_of, char *err, size_t n);
/* A header of the request being mapped: its value when the request
 * carries it exactly once, else NULL (*repeated set when it is there more
 * than once). */
typedef const char *(*forwarded_header_fn)(void *ctx, const char *name, bool *repeated);
/* Maps the original request a gateway forwards, in c's one header
 * convention, through c's route rules into *asked (at: now). Route
 * captures are decoded into scratch (n bytes) when the URI fits, else into
 * *heap, which the caller frees; the strings of *asked are borrowed from
 * the headers, c and there. Returns 0; CUTOFF_EPARSE when the request
 * cannot be decided unambiguously (also when its subscription is no id), CUTOFF_ENOTFOUND when no
 * route maps it, CUTOFF_ENOMEM; each with the reason in why. */
int forwarded_map(const daemon_config *c, forwarded_header_fn header, void *ctx, char *scratch,
                  size_t n, char **heap, cutoff_request *asked, char *why, size_t why_len);
void decision_handle(void *ctx, co__http_req *req);
/* Where notices are read, for the notice URL of denials: the configured
 * notice_base ("" for none), else this daemon's own GET /v1/notices/ on
 * the decision listener ("http://HOST:PORT/v1/notices/", written into buf
 * of n bytes; a wildcard listen address reads as loopback). */
const char *daemon_notice_base(cutoffd *d, char *buf, size_t n);
/* POST /v1/check (batch: /v1/check/batch), on either listener; locked
 * when the caller holds write_lock (the admin listener). */
void decision_check(cutoffd *d, co__http_req *req, bool batch, bool locked);
/* /healthz, /readyz, /metrics; true when req was one of them. */
bool ops_handle(cutoffd *d, co__http_req *req);

/* ---- admin.c ---- */
typedef struct admin_call admin_call;

/* One call of the admin API: everything about it lives in this row. */
typedef struct admin_route {
    const char *method;
    const char *path; /* "/v1/cases/{id}/evidence": {id} is one path segment */
    const char *verb; /* its name in logs and metrics */
    unsigned roles;   /* roles that may call it (admin always may) */
    bool spool;       /* its body streams to a temporary file */
    void (*handler)(admin_call *c);
} admin_route;

/* Header time (co__http_admit_fn): the token, route and role check; a
 * caller that fails it is answered before any of its body is read. */
void admin_admit(void *ctx, co__http_req *req);
/* Runs an admitted call (co__http_handler). */
void admin_handle(void *ctx, co__http_req *req);
/* Parses the JSON body of the admin call verb (case.open, case.findings,
 * action.lift; the others take a library document or nothing) and checks
 * its documented shape: only the allowed keys, each of its type, the
 * required ones there. The document (json_decref it), or NULL with the
 * fault in detail (a 400, CUTOFF_EPARSE). */
json_t *admin_body_read(const char *verb, const char *body, size_t len, char *detail, size_t n);
/* The route table, in the order `cutoffd --routes` prints it. */
const admin_route *admin_routes(size_t *n);
/* Prints the route table: a Markdown role matrix (the one in
 * docs/cutoffd.md), or JSON lines {method, path, verb, roles, spool}. */
int admin_routes_print(FILE *out, bool json);
/* The route for method and path, with its {id} segment copied into id; NULL
 * when there is none, and then *allow names a method the path does take
 * (NULL when the path is unknown). */
const admin_route *admin_route_find(const char *method, const char *path, char *id, size_t id_len,
                                    const char **allow);

/* ---- log.c ---- */
/* Writes one JSON line {ts, level, event, ...fields}; fields is consumed. */
void daemon_log(cutoffd *d, const char *level, const char *event, json_t *fields);
/* An admin call or a pass of the watcher that took this long or more (on
 * co__monotonic_ms) is logged with where its time went under write_lock:
 * waiting for the lock, or in it. */
#define DAEMON_SLOW_MS 1000
void daemon_log_request(void *ctx, const co__http_req *req, int status);

#endif
