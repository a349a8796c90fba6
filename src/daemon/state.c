/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state.c - keeping the published snapshot equal to the database.
 *
 * cutoffd's own admin calls refresh synchronously after their commit, so a
 * response to an approval means the approval is already in force. Changes
 * made by other processes on the same database (the CLI, another daemon)
 * are noticed by a watcher thread that polls the database's change
 * sequence (cutoff_db_changes: a few index lookups) every watch_ms
 * milliseconds. Either way the kinds of change decide the work: the tree is
 * reloaded only when nodes or the catalog changed, the actions are
 * recompiled when actions changed, and a change to cases alone publishes
 * nothing. Readers never pause: the new snapshot is swapped in atomically.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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
    int rc = cutoff_db_changes(d->db, d->change_seq, &changes);
    if (rc != 0) {
        if (diag) {
            diag->code = rc;
            snprintf(diag->message, sizeof diag->message, "cannot read the change log: %s",
                     cutoff_strerror(rc));
        }
        return rc;
    }
    refresh_work work = refresh_plan(changes.kinds, d->tree != NULL, force);
    if (work == REFRESH_NOTHING) {
        if (changes.head != d->change_seq)
            daemon_sign_locked(d, false);
        d->change_seq = changes.head;
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
    d->change_seq = changes.head;
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

int daemon_state_open(cutoffd *d, char *err, size_t err_len)
{
    cutoff_diag diag = {0};
    int rc = cutoff_engine_new(&d->engine);
    if (rc == 0)
        rc = cutoff_db_open(d->cfg.database, 0, &d->db, &diag);
    if (rc != 0) {
        snprintf(err, err_len, "%s: %s", d->db_shown,
                 diag.message[0] ? diag.message : cutoff_strerror(rc));
        return -1;
    }
    /* Changes through the admin API sign their head in their transaction. */
    cutoff_db_set_key(d->db, d->key);
    cutoff_db_set_sign_interval(d->db, (int64_t)d->cfg.sign_interval_s);
    pthread_mutex_lock(&d->write_lock);
    daemon_sign_locked(d, d->cfg.sign_interval_s > 0);
    rc = daemon_refresh_locked(d, true, &diag);
    pthread_mutex_unlock(&d->write_lock);
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
    cutoff_key_free(d->key);
    d->key = NULL;
}

static void *watch_loop(void *arg)
{
    cutoffd *d = arg;
    struct timespec pause = {d->cfg.watch_ms / 1000, (long)(d->cfg.watch_ms % 1000) * 1000000};
    bool failing = false;
    while (!atomic_load(&d->stopping)) {
        nanosleep(&pause, NULL);
        cutoff_diag diag = {0};
        pthread_mutex_lock(&d->write_lock);
        int rc = daemon_refresh_locked(d, false, &diag);
        /* The promised interval: a head even when nothing changed, so that
         * a verifier can tell a stopped signer or removed heads. */
        if (d->cfg.sign_interval_s > 0 &&
            daemon_now() - d->head_signed_at >= (int64_t)d->cfg.sign_interval_s)
            daemon_sign_locked(d, true);
        pthread_mutex_unlock(&d->write_lock);
        if (rc != 0 && !failing) {
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
}
