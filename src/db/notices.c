/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notices.c - the notices to the customer: issued in the transaction of the
 * change they report (approve, lift, case close), right after its audit
 * record, which they name; signed as they are issued when the handle has a
 * key, else later by cutoff_db_notices_sign; read back as signed documents
 * (the format is src/format/notice.c).
 */
#include "db/db_int.h"
#include "format/format.h"
#include "util/util.h"

#include <string.h>

/* ---- issuing ------------------------------------------------------------ */

int co__db_notice_issue(cutoff_db *db, const char *action_id, int version, co__notice_why why,
                        int64_t now)
{
    co__action_row row = {0};
    co__case_row kase = {0};
    co__notice_row last = {0};
    co__audit_row head = {0};
    cutoff_action_spec *a = NULL;
    char *body = NULL, *signature = NULL;
    int rc = STORE_OPS(db)->action_get(db->store, action_id, version, &row);
    if (rc == 0)
        rc = co__db_action_spec(&row, &a);
    if (rc == 0 && a->case_id)
        rc = STORE_OPS(db)->case_get(db->store, a->case_id, &kase);
    if (rc != 0)
        goto out;
    rc = STORE_OPS(db)->notice_get(db->store, action_id, 0, &last);
    if (rc == CUTOFF_ENOTFOUND)
        rc = 0;
    /* The record of the change that issues it: appended just before. */
    if (rc != 0 || (rc = STORE_OPS(db)->audit_last(db->store, &head)) != 0)
        goto out;
    co__notice_facts f = {
        .action = a,
        .lifted_at = row.state == CUTOFF_STATE_LIFTED ? row.lifted_at : 0,
        .reason = why == CO__NOTICE_LIFT          ? "lifted"
                  : why == CO__NOTICE_CASE_CLOSED ? "case_closed"
                  : last.n > 0                    ? "new_version"
                                                  : "activated",
        .notice_version = last.n + 1,
        .case_open = kase.open,
        .issued_at = now,
        .audit_seq = head.seq,
        .audit_hash = head.hash,
    };
    if ((rc = co__notice_body(&f, &body)) != 0 ||
        (db->key && (rc = co__notice_sign(db->key, body, &signature)) != 0))
        goto out;
    co__notice_row put = {
        .action_id = (char *)action_id, .issued_at = now, .body = body, .signature = signature};
    uint64_t n = 0;
    if ((rc = STORE_OPS(db)->notice_put(db->store, &put, &n)) == 0 && n != f.notice_version)
        rc = CUTOFF_ESTORE; /* another writer inside our transaction: cannot be */
out:
    co__free(body);
    co__free(signature);
    co__audit_row_clear(&head);
    co__notice_row_clear(&last);
    co__case_row_clear(&kase);
    co__action_row_clear(&row);
    cutoff_action_free(a);
    return rc;
}

typedef struct id_list {
    char **ids;
    size_t n;
} id_list;

static void id_list_free(id_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        co__free(l->ids[i]);
    co__free(l->ids);
}

static int collect_id(void *ctx, const co__action_row *row)
{
    id_list *l = ctx;
    char **ids = co__realloc(l->ids, (l->n + 1) * sizeof *ids);
    if (ids == NULL)
        return CUTOFF_ENOMEM;
    l->ids = ids;
    return (l->ids[l->n] = co__strdup(row->id)) ? (l->n++, 0) : CUTOFF_ENOMEM;
}

/* The newest version of an action that was ever active: the one its
 * latest notice is about (notices are issued when a version is approved
 * and when it is lifted). Read from the versions, not by parsing the
 * stored notice. */
static int note_activated(void *ctx, const co__action_row *row)
{
    int *version = ctx;
    if (row->activated_at != 0 && row->version > *version)
        *version = row->version;
    return 0;
}

int co__db_notices_case_closed(cutoff_db *db, const char *case_id, int64_t now)
{
    id_list l = {0};
    co__action_filter f = {.case_id = case_id, .state = -1, .latest_only = true};
    int rc = STORE_OPS(db)->action_iter(db->store, &f, collect_id, &l);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        co__notice_row last = {0};
        int version = 0;
        co__action_filter of = {.id = l.ids[i], .state = -1};
        rc = STORE_OPS(db)->notice_get(db->store, l.ids[i], 0, &last);
        if (rc == CUTOFF_ENOTFOUND) {
            rc = 0; /* never active: the customer was never told of it */
        } else if (rc == 0 && (rc = STORE_OPS(db)->action_iter(db->store, &of, note_activated,
                                                               &version)) == 0) {
            rc = version > 0
                     ? co__db_notice_issue(db, l.ids[i], version, CO__NOTICE_CASE_CLOSED, now)
                     : CUTOFF_ESTORE; /* a notice of an action never active */
        }
        co__notice_row_clear(&last);
    }
    id_list_free(&l);
    return rc;
}

/* ---- signing later ------------------------------------------------------ */

typedef struct unsigned_list {
    struct {
        char *id;
        uint64_t n;
    } * items;
    size_t n;
} unsigned_list;

/* Stops at the first notice without a signature. */
static int any_unsigned(void *ctx, const co__notice_row *row)
{
    if (row->signature != NULL)
        return 0;
    *(bool *)ctx = true;
    return 1;
}

static int collect_unsigned(void *ctx, const co__notice_row *row)
{
    unsigned_list *l = ctx;
    if (row->signature != NULL)
        return 0;
    void *grown = co__realloc(l->items, (l->n + 1) * sizeof *l->items);
    if (grown == NULL)
        return CUTOFF_ENOMEM;
    l->items = grown;
    if ((l->items[l->n].id = co__strdup(row->action_id)) == NULL)
        return CUTOFF_ENOMEM;
    l->items[l->n++].n = row->n;
    return 0;
}

int cutoff_db_notices_sign(cutoff_db *db, size_t *n_signed, cutoff_diag *diag)
{
    co__diag_clear(diag);
    unsigned_list l = {0};
    json_t *signed_list = NULL;
    if (n_signed)
        *n_signed = 0;
    if (db == NULL || db->key == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no signing key: give the handle one first");
    /* Looked for in a read first: every node of a fleet asks after every
     * change, and nearly always finds nothing to sign; only a find queues
     * for the writers' lock. */
    bool any = false;
    int rc = co__db_begin_read(db, diag);
    if (rc == 0) {
        int found = STORE_OPS(db)->notice_iter(db->store, NULL, false, any_unsigned, &any);
        rc = co__db_end(db, found == 1 ? 0 : found, diag);
    }
    if (rc != 0 || !any)
        return co__db_store_fail(db, rc, diag, "reading the notices");
    rc = co__db_begin(db, diag);
    if (rc != 0)
        return rc;
    if ((rc = STORE_OPS(db)->notice_iter(db->store, NULL, false, collect_unsigned, &l)) != 0 ||
        l.n == 0)
        goto out;
    signed_list = json_array();
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        co__notice_row row = {0};
        char *signature = NULL;
        rc = STORE_OPS(db)->notice_get(db->store, l.items[i].id, l.items[i].n, &row);
        if (rc == 0)
            rc = co__notice_sign(db->key, row.body, &signature);
        if (rc == 0)
            rc = STORE_OPS(db)->notice_sign(db->store, row.action_id, row.n, signature);
        if (rc == 0 && json_array_append_new(
                           signed_list, json_pack("{s:s,s:I}", "enforcement_action", row.action_id,
                                                  "notice_version", (json_int_t)row.n)) != 0)
            rc = CUTOFF_ENOMEM;
        co__free(signature);
        co__notice_row_clear(&row);
    }
    /* A signature adds no fact and changes no decision: recorded, not a
     * change of state. */
    if (rc == 0)
        rc = co__db_audit(
            db, 0, co__db_wall_now(), CO__DB_SYSTEM_ACTOR, "notice.sign", "notices",
            json_pack("{s:s,s:O}", "key", cutoff_key_public(db->key), "notices", signed_list));
    if (rc == 0 && n_signed)
        *n_signed = l.n;
out:
    json_decref(signed_list);
    for (size_t i = 0; i < l.n; i++)
        co__free(l.items[i].id);
    co__free(l.items);
    rc = co__db_end(db, co__db_store_fail(db, rc, diag, "signing the notices"), diag);
    if (rc != 0 && n_signed)
        *n_signed = 0;
    return rc;
}

/* ---- reading ------------------------------------------------------------ */

int cutoff_db_notice_get(cutoff_db *db, const char *action_id, uint64_t version, char **json_out)
{
    if (db == NULL || json_out == NULL || action_id == NULL || !cutoff_id_valid(action_id))
        return CUTOFF_EINVAL;
    *json_out = NULL;
    co__notice_row row = {0};
    int rc = STORE_OPS(db)->notice_get(db->store, action_id, version, &row);
    if (rc == 0)
        rc = co__notice_document(row.body, row.signature, json_out);
    co__notice_row_clear(&row);
    return rc;
}

/* The subscription and its ancestors, up to the tenant. */
typedef struct lineage {
    const char *subscription;
    co__lineage up;
} lineage;

static int lineage_of(cutoff_db *db, const char *subscription, lineage *l)
{
    cutoff_node_spec node;
    char *strings = NULL;
    int rc = STORE_OPS(db)->node_get(db->store, subscription, &node, &strings);
    if (rc == 0 && node.kind != CUTOFF_NODE_SUBSCRIPTION)
        rc = CUTOFF_ENOTFOUND;
    if (rc == 0)
        rc = co__db_lineage(db, &node, &l->up);
    co__free(strings);
    l->subscription = subscription;
    return rc;
}

typedef struct listing {
    const lineage *up;
    json_t *out;
} listing;

static bool scope_covers(const json_t *scope, const lineage *up)
{
    size_t i;
    json_t *e;
    json_array_foreach (scope, i, e) {
        const char *id = json_string_value(e);
        if (id == NULL)
            continue;
        if (strcmp(id, up->subscription) == 0)
            return true;
        for (size_t k = 0; k < up->up.n; k++)
            if (strcmp(id, up->up.ids[k]) == 0)
                return true;
    }
    return false;
}

static int add_if_covers(void *ctx, const co__notice_row *row)
{
    listing *l = ctx;
    json_t *doc = NULL;
    int rc = co__notice_document_value(row->body, row->signature, &doc);
    if (rc != 0)
        return rc;
    if (!scope_covers(json_object_get(json_object_get(doc, "notice"), "scope"), l->up)) {
        json_decref(doc);
        return 0;
    }
    return json_array_append_new(l->out, doc) == 0 ? 0 : CUTOFF_ENOMEM;
}

int cutoff_db_notice_list(cutoff_db *db, const char *subscription, char **json_out)
{
    if (db == NULL || json_out == NULL || subscription == NULL || !cutoff_id_valid(subscription))
        return CUTOFF_EINVAL;
    *json_out = NULL;
    lineage up = {0};
    listing l = {.up = &up, .out = json_array()};
    int rc = l.out ? co__db_begin_read(db, NULL) : CUTOFF_ENOMEM;
    if (rc != 0) {
        json_decref(l.out);
        return rc;
    }
    rc = lineage_of(db, subscription, &up);
    if (rc == 0)
        rc = STORE_OPS(db)->notice_iter(db->store, NULL, true, add_if_covers, &l);
    rc = co__db_end(db, rc, NULL);
    co__lineage_free(&up.up);
    if (rc != 0) {
        json_decref(l.out);
        return rc;
    }
    *json_out = json_dumps(l.out, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(l.out);
    return *json_out ? 0 : CUTOFF_ENOMEM;
}
