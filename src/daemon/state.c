/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state.c - keeping the published snapshot equal to the database.
 *
 * cutoffd's own admin calls refresh synchronously after their commit, so a
 * response to an approval means the approval is already in force. Changes
 * made by other processes on the same database (the CLI, another daemon)
 * are noticed by a watcher thread that polls for new audit records every
 * watch_ms milliseconds. Either way only the actions are recompiled unless
 * nodes or the catalog changed, and readers never pause: the new snapshot
 * is swapped in atomically.
 */
#include "daemon/daemon.h"

#include <stdlib.h>
#include <string.h>
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

/* Reads the audit records after d->audit_seq: whether any changed nodes or
 * the catalog, and the last seq. */
static int scan_changes(cutoffd *d, bool *tree_changed, uint64_t *last_seq, bool *any)
{
    char *text = NULL;
    int rc = cutoff_db_audit_list(d->db, d->audit_seq, 0, &text);
    if (rc != 0)
        return rc;
    json_t *list = json_loads(text, 0, NULL);
    cutoff_free(text);
    if (!json_is_array(list)) {
        json_decref(list);
        return CUTOFF_EPARSE;
    }
    size_t i;
    json_t *rec;
    *last_seq = d->audit_seq;
    json_array_foreach(list, i, rec) {
        const char *verb = json_string_value(json_object_get(rec, "verb"));
        json_int_t seq = json_integer_value(json_object_get(rec, "seq"));
        /* Reads through the admin API are audited too but change nothing. */
        if (verb == NULL || strcmp(verb, "admin.read") != 0)
            *any = true;
        if (verb && (strncmp(verb, "nodes.", 6) == 0 || strncmp(verb, "catalog.", 8) == 0))
            *tree_changed = true;
        if (seq > 0 && (uint64_t)seq > *last_seq)
            *last_seq = (uint64_t)seq;
    }
    json_decref(list);
    return 0;
}

int daemon_refresh_locked(cutoffd *d, bool force, cutoff_diag *diag)
{
    bool tree_changed = false, any = false;
    uint64_t last_seq = d->audit_seq;
    int rc = scan_changes(d, &tree_changed, &last_seq, &any);
    if (rc != 0) {
        if (diag) {
            diag->code = rc;
            snprintf(diag->message, sizeof diag->message, "cannot read the audit log: %s",
                     cutoff_strerror(rc));
        }
        return rc;
    }
    if (!any && !force)
        return 0;
    tree_changed |= d->tree == NULL;
    atomic_fetch_add(&d->metrics.reloads, 1);
    if (tree_changed) {
        cutoff_tree *tree;
        if ((rc = cutoff_db_load_tree(d->db, &tree, diag)) != 0) {
            /* No catalog yet: not ready, and nothing to retry until the
             * audit log says something changed. */
            if (rc == CUTOFF_ENOTFOUND && d->tree == NULL)
                d->audit_seq = last_seq;
            else
                atomic_fetch_add(&d->metrics.reload_failures, 1);
            return rc;
        }
        cutoff_tree_release(d->tree);
        d->tree = tree;
    }
    cutoff_snapshot *snap;
    if ((rc = cutoff_db_snapshot(d->db, d->tree, daemon_now(), &snap, diag)) != 0) {
        atomic_fetch_add(&d->metrics.reload_failures, 1);
        return rc;
    }
    cutoff_engine_publish(d->engine, snap);
    atomic_store(&d->snapshot_built_at, daemon_now());
    d->audit_seq = last_seq;
    atomic_store(&d->ready, true);
    return 0;
}

int daemon_state_open(cutoffd *d, char *err, size_t err_len)
{
    cutoff_diag diag = {0};
    int rc = cutoff_engine_new(&d->engine);
    if (rc == 0)
        rc = cutoff_db_open(d->cfg.database, 0, &d->db, &diag);
    if (rc != 0) {
        snprintf(err, err_len, "%s: %s", d->cfg.database, diag.message[0] ? diag.message : cutoff_strerror(rc));
        return -1;
    }
    pthread_mutex_lock(&d->write_lock);
    rc = daemon_refresh_locked(d, true, &diag);
    pthread_mutex_unlock(&d->write_lock);
    if (rc == CUTOFF_ENOTFOUND) {
        /* An empty database: serve (fail closed, /readyz 503) until a
         * catalog and nodes arrive through the admin API or the CLI. */
        daemon_log(d, "warn", "not_ready", json_pack("{s:s}", "why", diag.message));
        return 0;
    }
    if (rc != 0) {
        snprintf(err, err_len, "%s: %s", d->cfg.database, diag.message[0] ? diag.message : cutoff_strerror(rc));
        return -1;
    }
    return 0;
}

void daemon_state_close(cutoffd *d)
{
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
        pthread_mutex_unlock(&d->write_lock);
        if (rc != 0 && !failing) {
            /* Keep serving the last good snapshot (or none, on a database
             * without a catalog); say so once. */
            json_t *f = json_pack("{s:s}", "error", diag.message[0] ? diag.message : cutoff_strerror(rc));
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
