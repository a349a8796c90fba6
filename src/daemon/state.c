/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state.c - keeping the published snapshot equal to the database, and
 * telling the fleet so.
 *
 * cutoffd's own admin calls refresh synchronously after their commit, so a
 * response to an approval means the approval is already in force. Changes
 * made by other processes on the same database (the CLI, another daemon)
 * are noticed by a watcher thread that waits for the store to signal a
 * commit (cutoff_db_wait_change) and then reads the change sequence
 * (cutoff_db_changes: a few index lookups); it reads it anyway every
 * safety_interval_ms, which bounds what a lost signal costs. Either way
 * the kinds of change decide the work: the tree is reloaded only when
 * nodes or the catalog changed, the actions are recompiled when actions
 * changed, and a change to cases alone publishes nothing. Readers never
 * pause: the new snapshot is swapped in atomically.
 *
 * After each change it applies, and every heartbeat_s, the watcher writes
 * this node's receipt (the sequence it enforces, since when, the digest of
 * its snapshot). When the store cannot be read, the node keeps deciding
 * from its last snapshot (degraded: /readyz says why) and reconnects with
 * a backoff; once back, it catches up from the sequence it had applied.
 *
 * Shadow runs ride along: each published snapshot, and each shadow change
 * (which publishes nothing), rebuilds the set of runs evaluated next to
 * it, keeping the counts of runs that go on; the watcher writes this
 * node's counts every heartbeat_s, and a set that is replaced writes its
 * counts first, so a run that ends loses nothing.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t daemon_now(void)
{
    return (int64_t)time(NULL);
}

cutoff_reader *daemon_reader(cutoffd *d)
{
    static _Thread_local cutoff_reader *mine;
    static _Thread_local cutoffd *owner;
    if (mine != NULL && owner == d)
        return mine;
    cutoff_reader *r;
    if (cutoff_reader_new(d->engine, &r) != 0)
        return NULL;
    pthread_mutex_lock(&d->readers_lock);
    if (d->n_readers == d->cap_readers) {
        size_t cap = d->cap_readers ? d->cap_readers * 2 : 8;
        cutoff_reader **list = realloc(d->readers, cap * sizeof *list);
        if (list == NULL) {
            pthread_mutex_unlock(&d->readers_lock);
            cutoff_reader_free(r);
            return NULL;
        }
        d->readers = list;
        d->cap_readers = cap;
    }
    d->readers[d->n_readers++] = r;
    pthread_mutex_unlock(&d->readers_lock);
    mine = r;
    owner = d;
    return r;
}

/* What a refresh does for the kinds of change it is told of. Only the
 * store's change log decides this: the wording of audit records plays no
 * part, so renaming a verb cannot stop reloads. */
typedef enum refresh_work {
    REFRESH_NOTHING, /* nothing new, or only cases: decisions are unchanged */
    REFRESH_ACTIONS, /* recompile the actions on the current tree */
    REFRESH_TREE     /* reload the tree (nodes, catalog), then the actions */
} refresh_work;

static refresh_work refresh_plan(unsigned kinds, bool have_tree, bool force)
{
    /* Without a tree (no catalog yet) any change may be the one that makes
     * it loadable; a forced refresh loads it too. */
    if (!have_tree)
        return kinds != 0 || force ? REFRESH_TREE : REFRESH_NOTHING;
    if (kinds & CUTOFF_CHANGE_TREE)
        return REFRESH_TREE;
    if ((kinds & CUTOFF_CHANGE_ACTIONS) || force)
        return REFRESH_ACTIONS;
    return REFRESH_NOTHING;
}

/* ===================================================================== */
/* Shadow runs                                                            */
/* ===================================================================== */

void daemon_shadow_observe(cutoffd *d, const cutoff_request *r, const cutoff_verdict *v,
                           const char *request_id, long index)
{
    /* Only a live allow can become a shadow denial: the common case of no
     * run costs one relaxed load. */
    if (v->reason != CUTOFF_REASON_ALLOW ||
        !atomic_load_explicit(&d->shadowing, memory_order_relaxed))
        return;
    char item_id[64];
    if (index >= 0) {
        snprintf(item_id, sizeof item_id, "%s/%ld", request_id, index);
        request_id = item_id;
    }
    pthread_rwlock_rdlock(&d->shadow_lock);
    cutoff_shadow_observe(d->shadow, r, v, request_id);
    pthread_rwlock_unlock(&d->shadow_lock);
}

static void shadow_failed(cutoffd *d, const char *what, const char *why)
{
    if (!d->shadow_failing)
        daemon_log(d, "error", "shadow_failed",
                   json_pack("{s:s,s:s}", "doing", what, "error", why));
    d->shadow_failing = true;
}

/* Writes this node's counts of every run in s (all of them with force).
 * Call with write_lock held. */
static void shadow_write_locked(cutoffd *d, const cutoff_shadow *s, bool force)
{
    if (d->db == NULL || cutoff_shadow_count(s) == 0)
        return;
    int64_t now = daemon_now();
    int rc = cutoff_db_shadow_counts_put(d->db, d->node_id, s, now, force);
    if (rc != 0) {
        shadow_failed(d, "writing the shadow counts", cutoff_strerror(rc));
        return;
    }
    d->shadow_written_at = now;
    d->shadow_failing = false;
}

void daemon_shadow_write_locked(cutoffd *d, bool force)
{
    shadow_write_locked(d, d->shadow, force);
}

/* Builds the set of shadow runs in force on the published snapshot and
 * swaps it in; the replaced set's counts are written before it goes, so
 * that the last requests of a run that ended are in the store. A store
 * that cannot be read keeps the set as it was. Call with write_lock held. */
static void shadow_rebuild_locked(cutoffd *d)
{
    cutoff_shadow_run *runs = NULL;
    size_t n = 0;
    int rc = d->db ? cutoff_db_shadow_running(d->db, d->node_id, &runs, &n) : CUTOFF_EUNAVAIL;
    if (rc != 0) {
        shadow_failed(d, "reading the shadow runs", cutoff_strerror(rc));
        return;
    }
    if (n == 0 && d->shadow == NULL)
        return;
    cutoff_snapshot *live = cutoff_engine_acquire(d->engine);
    cutoff_shadow *next = NULL;
    cutoff_diag diag = {0};
    rc = live ? cutoff_shadow_build(live, runs, n, NULL, d->shadow, &next, &diag) : CUTOFF_EUNAVAIL;
    cutoff_snapshot_release(live);
    cutoff_shadow_runs_free(runs, n);
    if (rc != 0) {
        shadow_failed(d, "building the shadow runs", cutoff_strerror(rc));
        return;
    }
    if (diag.message[0])
        daemon_log(d, "warn", "shadow_run_skipped", json_pack("{s:s}", "why", diag.message));
    if (cutoff_shadow_count(next) == 0) {
        cutoff_shadow_free(next);
        next = NULL;
    }
    pthread_rwlock_wrlock(&d->shadow_lock);
    cutoff_shadow *old = d->shadow;
    d->shadow = next;
    atomic_store(&d->shadowing, next != NULL);
    pthread_rwlock_unlock(&d->shadow_lock);
    /* No thread observes through old any more. */
    shadow_write_locked(d, old, true);
    if (cutoff_shadow_count(old) != cutoff_shadow_count(next) || old == NULL)
        daemon_log(d, "info", "shadow_runs",
                   json_pack("{s:I}", "runs", (json_int_t)cutoff_shadow_count(next)));
    cutoff_shadow_free(old);
}

/* The applied sequence moves only once what it stands for is published (or
 * known to be unpublishable: no catalog), so a failed reload is retried on
 * the next poll. Marking actions expired while building the snapshot is a
 * change of its own (ACTIONS) with a sequence after the one read here: the
 * next refresh recompiles the actions once more and finds nothing left to
 * expire, as an expired action is no longer active. That one extra
 * compile is the price of never skipping a change another process made in
 * the meantime; it cannot repeat. */
int daemon_refresh_locked(cutoffd *d, bool force, cutoff_diag *diag)
{
    cutoff_changes changes;
    int rc = d->db ? cutoff_db_changes(d->db, d->change_seq, &changes) : CUTOFF_EUNAVAIL;
    if (rc != 0) {
        char why[256];
        snprintf(why, sizeof why, "cannot read the change log: %s", cutoff_strerror(rc));
        daemon_store_failed(d, rc, why);
        if (diag) {
            diag->code = rc;
            snprintf(diag->message, sizeof diag->message, "%s", why);
        }
        return rc;
    }
    daemon_store_ok(d, changes.head);
    refresh_work work = refresh_plan(changes.kinds, d->tree != NULL, force);
    if (work == REFRESH_NOTHING) {
        if ((changes.kinds & CUTOFF_CHANGE_SHADOW) && d->tree != NULL)
            shadow_rebuild_locked(d);
        if (changes.head != d->change_seq) {
            daemon_sign_locked(d, false);
            d->applied_at = daemon_now();
        }
        d->change_seq = changes.head;
        atomic_store(&d->applied_seq, d->change_seq);
        return 0;
    }
    atomic_fetch_add(&d->metrics.reloads, 1);
    if (work == REFRESH_TREE) {
        cutoff_tree *tree;
        if ((rc = cutoff_db_load_tree(d->db, &tree, diag)) != 0) {
            /* No catalog yet: not ready, and nothing to retry until the
             * change log says something changed. */
            if (rc == CUTOFF_ENOTFOUND && d->tree == NULL)
                d->change_seq = changes.head;
            else
                atomic_fetch_add(&d->metrics.reload_failures, 1);
            return rc;
        }
        cutoff_tree_release(d->tree);
        d->tree = tree;
    }
    cutoff_snapshot *snap;
    int64_t from = daemon_now();
    if ((rc = cutoff_db_snapshot(d->db, d->tree, from, &snap, diag)) != 0) {
        atomic_fetch_add(&d->metrics.reload_failures, 1);
        return rc;
    }
    /* A reader that sees the new snapshot sees its time too; one that
     * sees the newer time with the older snapshot only asks the history
     * snapshot a little more often. */
    atomic_store(&d->snapshot_from, from);
    cutoff_engine_publish(d->engine, snap);
    cutoff_snapshot_release(d->history);
    d->history = NULL;
    atomic_store(&d->snapshot_built_at, daemon_now());
    if (cutoff_snapshot_digest(snap, d->digest, sizeof d->digest) != 0)
        d->digest[0] = '\0';
    shadow_rebuild_locked(d);
    if (changes.head != d->change_seq || d->applied_at == 0)
        d->applied_at = daemon_now();
    d->change_seq = changes.head;
    atomic_store(&d->applied_seq, d->change_seq);
    /* Changes made by others (the CLI without a key) get a head too. */
    daemon_sign_locked(d, false);
    atomic_store(&d->ready, true);
    return 0;
}

int daemon_key_open(cutoffd *d, char *err, size_t err_len)
{
    if (d->cfg.signing_key == NULL) {
        /* Next to the database, where the unit's state directory is; a
         * PostgreSQL database has no directory here, so the working
         * directory (the unit's state directory under systemd). */
        const char *db = d->cfg.database;
        bool on_server = strncmp(db, "postgresql:", 11) == 0 || strncmp(db, "postgres://", 11) == 0;
        char *copy = on_server ? strdup("./cutoff.db") : strdup(db);
        if (copy == NULL || asprintf(&d->cfg.signing_key, "%s/cutoff.key", dirname(copy)) < 0)
            d->cfg.signing_key = NULL;
        free(copy);
        if (d->cfg.signing_key == NULL) {
            snprintf(err, err_len, "out of memory");
            return -1;
        }
    }
    cutoff_diag diag = {0};
    struct stat st;
    bool created = false;
    int rc = 0;
    if (lstat(d->cfg.signing_key, &st) != 0 && errno == ENOENT) {
        rc = cutoff_key_generate(&d->key);
        if (rc == 0)
            rc = cutoff_key_save(d->key, d->cfg.signing_key, &diag);
        cutoff_key_free(d->key);
        d->key = NULL;
        created = rc == 0;
    }
    if (rc == 0)
        rc = cutoff_key_load(d->cfg.signing_key, &d->key, &diag);
    if (rc != 0) {
        snprintf(err, err_len, "signing_key %s: %s", d->cfg.signing_key,
                 diag.message[0] ? diag.message : cutoff_strerror(rc));
        return -1;
    }
    if (created)
        daemon_log(d, "info", "signing_key_created",
                   json_pack("{s:s,s:s}", "file", d->cfg.signing_key, "public_key",
                             cutoff_key_public(d->key)));
    daemon_log(d, "info", "signing_key",
               json_pack("{s:s,s:s,s:i}", "file", d->cfg.signing_key, "public_key",
                         cutoff_key_public(d->key), "sign_interval_s",
                         (int)d->cfg.sign_interval_s));
    return 0;
}

void daemon_sign_locked(cutoffd *d, bool force)
{
    if (d->key == NULL || d->db == NULL)
        return;
    int64_t now = daemon_now();
    /* Notices issued by a program without the key (the CLI) are signed
     * first: that is a change of its own, whose head it signs. */
    size_t n_notices = 0;
    cutoff_diag diag = {0};
    int rc = cutoff_db_notices_sign(d->db, &n_notices, &diag);
    if (rc == 0 && n_notices > 0)
        daemon_log(d, "info", "notices_signed",
                   json_pack("{s:I}", "notices", (json_int_t)n_notices));
    if (rc == 0)
        rc = cutoff_db_head_sign(d->db, d->key, now, (int64_t)d->cfg.sign_interval_s,
                                 force ? 0 : CUTOFF_HEAD_IF_UNSIGNED);
    if (rc == 0) {
        if (force)
            d->head_signed_at = now;
        d->sign_failing = false;
        return;
    }
    if (!d->sign_failing)
        daemon_log(d, "error", "sign_failed",
                   json_pack("{s:s,s:s}", "error",
                             diag.message[0] ? diag.message : cutoff_strerror(rc), "public_key",
                             cutoff_key_public(d->key)));
    d->sign_failing = true;
}

/* The first snapshot is built by a thread of its own at this nice value:
 * on a machine shared with serving nodes, a node that starts (ten million
 * subscriptions take a core for about fifteen seconds) then takes the CPU
 * they leave, not half of theirs. Nice is per thread on Linux, so the
 * threads that serve later keep the process's own. */
#define LOAD_NICE 10

typedef struct first_load {
    cutoffd *d;
    cutoff_diag diag;
    int rc;
    int nice;   /* the loading thread's */
    int64_t ms; /* how long it took */
} first_load;

static void load_first_snapshot(first_load *l)
{
    errno = 0;
    l->nice = getpriority(PRIO_PROCESS, (id_t)gettid());
    if (l->nice == -1 && errno != 0)
        l->nice = 0;
    int64_t started = co__monotonic_ms();
    pthread_mutex_lock(&l->d->write_lock);
    daemon_sign_locked(l->d, l->d->cfg.sign_interval_s > 0);
    l->rc = daemon_refresh_locked(l->d, true, &l->diag);
    pthread_mutex_unlock(&l->d->write_lock);
    l->ms = co__monotonic_ms() - started;
}

static void *first_load_thread(void *arg)
{
    /* Best effort: a thread that cannot lower its priority loads as is. */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), LOAD_NICE);
    load_first_snapshot(arg);
    return NULL;
}

int daemon_state_open(cutoffd *d, char *err, size_t err_len)
{
    cutoff_diag diag = {0};
    int rc = cutoff_engine_new(&d->engine);
    if (rc == 0)
        rc = cutoff_db_open(d->cfg.database, 0, &d->db, &diag);
    if (rc == 0)
        rc = cutoff_db_open(d->cfg.database, 0, &d->wait_db, &diag);
    if (rc == CUTOFF_EUNAVAIL) {
        /* A store that cannot be reached now may be reachable soon: the
         * watcher retries, and until it has built a snapshot decisions are
         * refused (503) and /readyz says why. A store that is missing or
         * refused (ENOTINIT, ESTORE) is a configuration error: exit. */
        cutoff_db_close(d->db);
        d->db = NULL;
        daemon_store_failed(d, rc, diag.message[0] ? diag.message : cutoff_strerror(rc));
        return 0;
    }
    if (rc != 0) {
        snprintf(err, err_len, "%s: %s", d->db_shown,
                 diag.message[0] ? diag.message : cutoff_strerror(rc));
        return -1;
    }
    /* Changes through the admin API sign their head in their transaction. */
    cutoff_db_set_key(d->db, d->key);
    cutoff_db_set_sign_interval(d->db, (int64_t)d->cfg.sign_interval_s);
    first_load load = {.d = d};
    pthread_t loader;
    if (pthread_create(&loader, NULL, first_load_thread, &load) == 0)
        pthread_join(loader, NULL);
    else
        load_first_snapshot(&load); /* in this thread, whose nice the servers inherit */
    rc = load.rc;
    diag = load.diag;
    if (rc == 0)
        daemon_log(d, "info", "snapshot_loaded",
                   json_pack("{s:I,s:I,s:I,s:i}", "seq", (json_int_t)d->change_seq, "subscriptions",
                             (json_int_t)cutoff_tree_count(d->tree, CUTOFF_NODE_SUBSCRIPTION), "ms",
                             (json_int_t)load.ms, "nice", load.nice));
    if (rc == CUTOFF_ENOTFOUND) {
        /* An empty database: serve (fail closed, /readyz 503) until a
         * catalog and nodes arrive through the admin API or the CLI. */
        daemon_log(d, "warn", "not_ready", json_pack("{s:s}", "why", diag.message));
        return 0;
    }
    if (rc != 0) {
        snprintf(err, err_len, "%s: %s", d->db_shown,
                 diag.message[0] ? diag.message : cutoff_strerror(rc));
        return -1;
    }
    return 0;
}

cutoff_snapshot *daemon_history_locked(cutoffd *d, int *rc, cutoff_diag *diag)
{
    *rc = 0;
    if (d->tree == NULL) {
        *rc = CUTOFF_EUNAVAIL;
        return NULL;
    }
    /* Built for the earliest time there is, it leaves nothing out. */
    if (d->history == NULL &&
        (*rc = cutoff_db_snapshot(d->db, d->tree, INT64_MIN, &d->history, diag)) != 0)
        return NULL;
    cutoff_snapshot_retain(d->history);
    return d->history;
}

void daemon_state_close(cutoffd *d)
{
    cutoff_shadow_free(d->shadow);
    d->shadow = NULL;
    atomic_store(&d->shadowing, false);
    cutoff_snapshot_release(d->history);
    d->history = NULL;
    for (size_t i = 0; i < d->n_readers; i++)
        cutoff_reader_free(d->readers[i]);
    free(d->readers);
    d->readers = NULL;
    d->n_readers = 0;
    cutoff_engine_free(d->engine);
    d->engine = NULL;
    cutoff_tree_release(d->tree);
    d->tree = NULL;
    cutoff_db_close(d->db);
    d->db = NULL;
    cutoff_db_close(d->wait_db);
    d->wait_db = NULL;
    cutoff_key_free(d->key);
    d->key = NULL;
}

/* ===================================================================== */
/* The store's health                                                     */
/* ===================================================================== */

void daemon_store_ok(cutoffd *d, uint64_t head)
{
    atomic_store(&d->store_head, head);
    atomic_store(&d->last_read_at, daemon_now());
    if (atomic_exchange(&d->store_up, true))
        return;
    pthread_mutex_lock(&d->status_lock);
    int64_t since = d->down_since;
    d->down_since = 0;
    d->down_error[0] = '\0';
    pthread_mutex_unlock(&d->status_lock);
    if (since)
        daemon_log(d, "info", "store_up",
                   json_pack("{s:I,s:I}", "down_seconds", (json_int_t)(daemon_now() - since),
                             "head", (json_int_t)head));
}

void daemon_store_failed(cutoffd *d, int rc, const char *why)
{
    atomic_fetch_add(&d->metrics.store_failures, 1);
    bool was_up = atomic_exchange(&d->store_up, false);
    pthread_mutex_lock(&d->status_lock);
    bool first = d->down_since == 0;
    if (first)
        d->down_since = daemon_now();
    snprintf(d->down_error, sizeof d->down_error, "%s", why && *why ? why : cutoff_strerror(rc));
    pthread_mutex_unlock(&d->status_lock);
    if (first || was_up)
        daemon_log(d, "error", "store_down",
                   json_pack("{s:s,s:s,s:I}", "error", why && *why ? why : cutoff_strerror(rc),
                             "code", cutoff_errname(rc), "applied_seq",
                             (json_int_t)atomic_load(&d->applied_seq)));
}

void daemon_store_status(cutoffd *d, char *why, size_t n)
{
    pthread_mutex_lock(&d->status_lock);
    if (d->down_since) {
        char t[32];
        snprintf(why, n, "store unreachable since %s: %s", cutoff_time_format(d->down_since, t),
                 d->down_error);
    } else {
        why[0] = '\0';
    }
    pthread_mutex_unlock(&d->status_lock);
}

bool daemon_too_stale(cutoffd *d, char *why, size_t n)
{
    unsigned max = d->cfg.max_staleness_s;
    if (max == 0 || atomic_load(&d->store_up))
        return false;
    int64_t last = atomic_load(&d->last_read_at), age = daemon_now() - last;
    if (last != 0 && age <= (int64_t)max)
        return false;
    char status[400], t[32];
    daemon_store_status(d, status, sizeof status);
    if (last == 0)
        snprintf(why, n, "%s; refusing to decide: the store was never read", status);
    else
        snprintf(why, n,
                 "%s; refusing to decide: the snapshot was last confirmed at %s, %lld s ago, "
                 "more than max_staleness_s %u",
                 status, cutoff_time_format(last, t), (long long)age, max);
    return true;
}

/* ===================================================================== */
/* Receipts                                                               */
/* ===================================================================== */

/* Writes this node's receipt when what it enforces moved, or the heartbeat
 * is due. Call with write_lock held. */
static void receipt_write_locked(cutoffd *d, const char *status, bool force)
{
    int64_t now = daemon_now();
    if (d->db == NULL || (!force && d->receipt_at != 0 && d->receipt_seq == d->change_seq &&
                          now - d->receipt_at < (int64_t)d->cfg.heartbeat_s))
        return;
    cutoff_receipt r = {.node = d->node_id,
                        .seq = d->change_seq,
                        .applied_at = d->applied_at ? d->applied_at : now,
                        .digest = d->digest,
                        .heartbeat_at = now,
                        .status = status};
    int rc = cutoff_db_receipt_put(d->db, &r);
    if (rc == 0) {
        d->receipt_seq = d->change_seq;
        d->receipt_at = now;
        d->receipt_failing = false;
        return;
    }
    if (!d->receipt_failing)
        daemon_log(d, "error", "receipt_failed",
                   json_pack("{s:s,s:s}", "node_id", d->node_id, "error", cutoff_strerror(rc)));
    d->receipt_failing = true;
}

/* ===================================================================== */
/* The watcher                                                            */
/* ===================================================================== */

/* Backoff of reconnection attempts while the store is down. */
#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS 5000

/* Sleeps ms, in short steps so that a stop is not kept waiting. */
static void pause_ms(cutoffd *d, int ms)
{
    while (ms > 0 && !atomic_load(&d->stopping)) {
        int step = ms < 100 ? ms : 100;
        struct timespec t = {0, (long)step * 1000000};
        nanosleep(&t, NULL);
        ms -= step;
    }
}

/* One attempt to reach the store again: fresh handles (a file replaced at
 * its path, a server restarted), swapped in under the lock, then a catch-up
 * from the applied sequence. Returns true when the store answered. */
static bool reconnect(cutoffd *d)
{
    cutoff_diag diag = {0};
    cutoff_db *db = NULL, *wait_db = NULL;
    int rc = cutoff_db_open(d->cfg.database, 0, &db, &diag);
    if (rc == 0)
        rc = cutoff_db_open(d->cfg.database, 0, &wait_db, &diag);
    if (rc != 0) {
        cutoff_db_close(db);
        daemon_store_failed(d, rc, diag.message[0] ? diag.message : cutoff_strerror(rc));
        return false;
    }
    cutoff_db_set_key(db, d->key);
    cutoff_db_set_sign_interval(db, (int64_t)d->cfg.sign_interval_s);
    cutoff_db_close(d->wait_db);
    d->wait_db = wait_db;
    pthread_mutex_lock(&d->write_lock);
    cutoff_db_close(d->db);
    d->db = db;
    /* Nothing applied before the outage is trusted: the store found now may
     * be a standby promoted without the last commits, whose sequence
     * numbers were then given to other changes. Reading the change log from
     * the start rebuilds everything (the old snapshot serves meanwhile). */
    d->change_seq = 0;
    rc = daemon_refresh_locked(d, true, &diag);
    bool up = atomic_load(&d->store_up);
    if (up)
        receipt_write_locked(d, "ok", true);
    pthread_mutex_unlock(&d->write_lock);
    if (rc != 0 && up)
        daemon_log(
            d, rc == CUTOFF_ENOTFOUND ? "warn" : "error",
            rc == CUTOFF_ENOTFOUND ? "not_ready" : "refresh_failed",
            json_pack("{s:s}", "error", diag.message[0] ? diag.message : cutoff_strerror(rc)));
    return up;
}

static void *watch_loop(void *arg)
{
    cutoffd *d = arg;
    bool failing = false;
    int backoff_ms = RETRY_FIRST_MS;
    while (!atomic_load(&d->stopping)) {
        if (!atomic_load(&d->store_up)) {
            if (reconnect(d)) {
                backoff_ms = RETRY_FIRST_MS;
            } else {
                pause_ms(d, backoff_ms);
                backoff_ms = backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff_ms * 2;
            }
            continue;
        }
        /* Up to the safety interval, shorter when a heartbeat is due. */
        int wait_ms = (int)d->cfg.safety_interval_ms;
        if ((int64_t)d->cfg.heartbeat_s * 1000 < wait_ms)
            wait_ms = (int)d->cfg.heartbeat_s * 1000;
        int woken = cutoff_db_wait_change(d->wait_db, wait_ms);
        if (atomic_load(&d->stopping))
            break;
        if (woken < 0) {
            daemon_store_failed(d, woken, cutoff_strerror(woken));
            continue;
        }
        atomic_fetch_add(woken ? &d->metrics.wakeups : &d->metrics.safety_reads, 1);
        cutoff_diag diag = {0};
        int64_t asked = co__monotonic_ms();
        pthread_mutex_lock(&d->write_lock);
        int64_t locked = co__monotonic_ms();
        int rc = daemon_refresh_locked(d, false, &diag);
        int64_t refreshed = co__monotonic_ms();
        /* The promised interval: a head even when nothing changed, so that
         * a verifier can tell a stopped signer or removed heads. */
        if (atomic_load(&d->store_up) && d->cfg.sign_interval_s > 0 &&
            daemon_now() - d->head_signed_at >= (int64_t)d->cfg.sign_interval_s)
            daemon_sign_locked(d, true);
        int64_t signed_at = co__monotonic_ms();
        if (atomic_load(&d->store_up)) {
            receipt_write_locked(d, "ok", false);
            if (daemon_now() - d->shadow_written_at >= (int64_t)d->cfg.heartbeat_s)
                shadow_write_locked(d, d->shadow, false);
        }
        pthread_mutex_unlock(&d->write_lock);
        int64_t done = co__monotonic_ms();
        if (done - asked >= DAEMON_SLOW_MS)
            daemon_log(d, "warn", "slow_store_pass",
                       json_pack("{s:I,s:I,s:I,s:I}", "lock_wait_ms", (json_int_t)(locked - asked),
                                 "refresh_ms", (json_int_t)(refreshed - locked), "sign_ms",
                                 (json_int_t)(signed_at - refreshed), "report_ms",
                                 (json_int_t)(done - signed_at)));
        if (rc != 0 && !failing && atomic_load(&d->store_up)) {
            /* Keep serving the last good snapshot (or none, on a database
             * without a catalog); say so once. */
            json_t *f =
                json_pack("{s:s}", "error", diag.message[0] ? diag.message : cutoff_strerror(rc));
            bool empty = rc == CUTOFF_ENOTFOUND && !atomic_load(&d->ready);
            daemon_log(d, empty ? "warn" : "error", empty ? "not_ready" : "refresh_failed", f);
        }
        failing = rc != 0;
    }
    return NULL;
}

int daemon_watch_start(cutoffd *d)
{
    return pthread_create(&d->watcher, NULL, watch_loop, d) == 0 ? 0 : -1;
}

void daemon_watch_stop(cutoffd *d)
{
    atomic_store(&d->stopping, true);
    pthread_join(d->watcher, NULL);
    /* The fleet learns this node left on purpose, not that it went silent. */
    pthread_mutex_lock(&d->write_lock);
    if (atomic_load(&d->store_up)) {
        shadow_write_locked(d, d->shadow, true);
        receipt_write_locked(d, "stopped", true);
    }
    pthread_mutex_unlock(&d->write_lock);
}
