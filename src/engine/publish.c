/* SPDX-License-Identifier: Apache-2.0 */
/*
 * publish.c - one current snapshot for many reader threads, with safe
 * reclamation of the old ones (epoch-based, in the spirit of RCU).
 *
 * A reader announces the epoch it saw before it loads the current pointer;
 * a writer swaps the pointer, advances the epoch, and tags the old snapshot
 * with the new epoch. The old snapshot is freed once no reader is inside
 * with an announced epoch older than that tag. All four steps are
 * sequentially consistent, so either the writer sees a reader's
 * announcement, or that reader's load already returns the new pointer.
 * Readers never lock, never wait and never touch a shared counter; writers
 * never wait for readers (they only defer frees).
 */
#include "engine/engine_int.h"

#include <pthread.h>

struct cutoff_reader {
    _Atomic uint64_t active; /* epoch announced on enter; 0 outside */
    cutoff_engine *engine;
    cutoff_reader *next;
};

typedef struct retired {
    cutoff_snapshot *snapshot;
    uint64_t epoch; /* freeable when no reader is inside with an older epoch */
    struct retired *next;
} retired;

struct cutoff_engine {
    _Atomic(cutoff_snapshot *) current;
    _Atomic uint64_t epoch;
    pthread_mutex_t lock; /* writers, the reader list, the retired list */
    cutoff_reader *readers;
    retired *retired;
    size_t n_retired;
};

int cutoff_engine_new(cutoff_engine **out)
{
    cutoff_engine *e = co__calloc(1, sizeof *e);
    if (e == NULL)
        return CUTOFF_ENOMEM;
    atomic_init(&e->current, NULL);
    atomic_init(&e->epoch, 1);
    pthread_mutex_init(&e->lock, NULL);
    *out = e;
    return 0;
}

void cutoff_engine_free(cutoff_engine *e)
{
    if (e == NULL)
        return;
    for (retired *r = e->retired, *next; r; r = next) {
        next = r->next;
        cutoff_snapshot_release(r->snapshot);
        co__free(r);
    }
    for (cutoff_reader *r = e->readers; r; r = r->next)
        r->engine = NULL;
    cutoff_snapshot_release(atomic_load(&e->current));
    pthread_mutex_destroy(&e->lock);
    co__free(e);
}

/* Frees what no reader can still see. Called with the lock held. */
static size_t reclaim_locked(cutoff_engine *e)
{
    uint64_t oldest = UINT64_MAX;
    for (cutoff_reader *r = e->readers; r; r = r->next) {
        uint64_t a = atomic_load(&r->active);
        if (a != 0 && a < oldest)
            oldest = a;
    }
    retired **link = &e->retired;
    while (*link) {
        retired *r = *link;
        if (oldest >= r->epoch) {
            *link = r->next;
            cutoff_snapshot_release(r->snapshot);
            co__free(r);
            e->n_retired--;
        } else {
            link = &r->next;
        }
    }
    return e->n_retired;
}

void cutoff_engine_publish(cutoff_engine *e, cutoff_snapshot *s)
{
    pthread_mutex_lock(&e->lock);
    cutoff_snapshot *old = atomic_exchange(&e->current, s);
    uint64_t epoch = atomic_fetch_add(&e->epoch, 1) + 1;
    if (old != NULL) {
        retired *r = co__malloc(sizeof *r);
        if (r != NULL) {
            *r = (retired){old, epoch, e->retired};
            e->retired = r;
            e->n_retired++;
        } else {
            /* Out of memory for the list: we cannot prove the old
             * snapshot unused, so keep it alive (a leak, never a crash). */
        }
    }
    reclaim_locked(e);
    pthread_mutex_unlock(&e->lock);
}

cutoff_snapshot *cutoff_engine_acquire(cutoff_engine *e)
{
    pthread_mutex_lock(&e->lock);
    cutoff_snapshot *s = atomic_load(&e->current);
    cutoff_snapshot_retain(s);
    pthread_mutex_unlock(&e->lock);
    return s;
}

uint64_t cutoff_engine_version(const cutoff_engine *e)
{
    return atomic_load(&((cutoff_engine *)e)->epoch) - 1;
}

size_t cutoff_engine_reclaim(cutoff_engine *e)
{
    pthread_mutex_lock(&e->lock);
    size_t left = reclaim_locked(e);
    pthread_mutex_unlock(&e->lock);
    return left;
}

int cutoff_reader_new(cutoff_engine *e, cutoff_reader **out)
{
    cutoff_reader *r = co__calloc(1, sizeof *r);
    if (r == NULL)
        return CUTOFF_ENOMEM;
    atomic_init(&r->active, 0);
    r->engine = e;
    pthread_mutex_lock(&e->lock);
    r->next = e->readers;
    e->readers = r;
    pthread_mutex_unlock(&e->lock);
    *out = r;
    return 0;
}

void cutoff_reader_free(cutoff_reader *r)
{
    if (r == NULL)
        return;
    cutoff_engine *e = r->engine;
    if (e != NULL) {
        pthread_mutex_lock(&e->lock);
        for (cutoff_reader **link = &e->readers; *link; link = &(*link)->next)
            if (*link == r) {
                *link = r->next;
                break;
            }
        pthread_mutex_unlock(&e->lock);
    }
    co__free(r);
}

const cutoff_snapshot *cutoff_reader_enter(cutoff_reader *r)
{
    atomic_store(&r->active, atomic_load(&r->engine->epoch));
    return atomic_load(&r->engine->current);
}

void cutoff_reader_exit(cutoff_reader *r)
{
    atomic_store_explicit(&r->active, 0, memory_order_release);
}
