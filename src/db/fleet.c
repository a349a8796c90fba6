/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleet.c - what lets several decision nodes share one database: waiting
 * for another process's commit (change_wait), and the receipts in which
 * each node reports the change sequence it enforces. Receipts are written
 * in a transaction of their own, outside the audit log and the change
 * log: a report is not a change of state.
 */
#include "db/db_int.h"
#include "util/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cutoff_db_wait_change(cutoff_db *db, int timeout_ms)
{
    if (db == NULL)
        return CUTOFF_EINVAL;
    if (getenv("CUTOFF_NO_WAKEUP") != NULL) {
        /* No signal ever arrives, whatever the backend (what a lost
         * wake-up looks like), so that the caller's slow re-read can be
         * shown to catch every change on its own. */
        int ms = timeout_ms > 0 ? timeout_ms : 0;
        struct timespec pause = {ms / 1000, (long)(ms % 1000) * 1000000};
        nanosleep(&pause, NULL);
        return 0;
    }
    return STORE_OPS(db)->change_wait(db->store, timeout_ms);
}

static bool printable(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= max || !isprint((unsigned char)s[n]))
            return false;
    return n > 0;
}

static bool hex_or_empty(const char *s)
{
    size_t n = strspn(s, "0123456789abcdef");
    return n <= 64 && s[n] == '\0';
}

int cutoff_db_receipt_put(cutoff_db *db, const cutoff_receipt *r)
{
    if (db == NULL || r == NULL || r->node == NULL || r->digest == NULL || r->status == NULL ||
        !printable(r->node, CUTOFF_NODE_ID_MAX) || !hex_or_empty(r->digest) || r->applied_at < 0 ||
        r->heartbeat_at < 0 ||
        (strcmp(r->status, "ok") != 0 && strcmp(r->status, "degraded") != 0 &&
         strcmp(r->status, "stopped") != 0))
        return CUTOFF_EINVAL;
    co__receipt_row row = {
        .node = (char *)r->node,
        .seq = r->seq,
        .applied_at = r->applied_at,
        .digest = (char *)r->digest,
        .heartbeat_at = r->heartbeat_at,
        .status = (char *)r->status,
    };
    /* A statement of its own, outside the writers' lock: a node frozen
     * while reporting must not hold up the fleet's changes. */
    return STORE_OPS(db)->receipt_put(db->store, &row);
}

typedef struct receipt_list {
    cutoff_receipt *items;
    size_t n, cap;
} receipt_list;

static int add_receipt(void *ctx, const co__receipt_row *row)
{
    receipt_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        cutoff_receipt *items = co__realloc(l->items, cap * sizeof *items);
        if (items == NULL)
            return CUTOFF_ENOMEM;
        l->items = items;
        l->cap = cap;
    }
    cutoff_receipt *r = &l->items[l->n];
    *r = (cutoff_receipt){.seq = row->seq,
                          .applied_at = row->applied_at,
                          .heartbeat_at = row->heartbeat_at,
                          .node = co__strdup(row->node ? row->node : ""),
                          .digest = co__strdup(row->digest ? row->digest : ""),
                          .status = co__strdup(row->status ? row->status : "")};
    l->n++;
    return r->node && r->digest && r->status ? 0 : CUTOFF_ENOMEM;
}

int cutoff_db_receipts(cutoff_db *db, cutoff_receipt **out, size_t *n)
{
    if (db == NULL || out == NULL || n == NULL)
        return CUTOFF_EINVAL;
    receipt_list l = {0};
    int rc = co__db_begin_read(db, NULL);
    if (rc != 0)
        return rc;
    rc = co__db_end(db, STORE_OPS(db)->receipt_iter(db->store, add_receipt, &l), NULL);
    if (rc != 0) {
        cutoff_receipts_free(l.items, l.n);
        return rc;
    }
    *out = l.items;
    *n = l.n;
    return 0;
}

void cutoff_receipts_free(cutoff_receipt *r, size_t n)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        co__free((char *)r[i].node);
        co__free((char *)r[i].digest);
        co__free((char *)r[i].status);
    }
    co__free(r);
}
