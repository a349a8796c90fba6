/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.c - the parts of the store interface that do not depend on a
 * backend: which backend keeps a location, and releasing the rows that
 * *_get operations fill in.
 */
#include "store/store.h"
#include "util/util.h"

#include <string.h>

const co__store_ops *co__store_backend(const char *location)
{
    (void)location;
    return &co__sqlite_store_ops;
}

void co__case_row_clear(co__case_row *row)
{
    if (row == NULL)
        return;
    co__free(row->id);
    co__free(row->title);
    co__free(row->scope_json);
    co__free(row->findings);
    co__free(row->opened_by);
    co__free(row->closed_by);
    co__free(row->updated_by);
    memset(row, 0, sizeof *row);
}

void co__action_row_clear(co__action_row *row)
{
    if (row == NULL)
        return;
    co__free(row->id);
    co__free(row->case_id);
    co__free(row->doc);
    co__free(row->proposed_by);
    co__free(row->approved_by);
    co__free(row->lifted_by);
    co__free(row->lift_reason);
    memset(row, 0, sizeof *row);
}

void co__audit_row_clear(co__audit_row *row)
{
    if (row == NULL)
        return;
    co__free(row->actor);
    co__free(row->verb);
    co__free(row->object);
    co__free(row->payload);
    co__free(row->prev_hash);
    co__free(row->hash);
    memset(row, 0, sizeof *row);
}

void co__head_row_clear(co__head_row *row)
{
    if (row == NULL)
        return;
    co__free(row->statement);
    co__free(row->signature);
    memset(row, 0, sizeof *row);
}

void co__notice_row_clear(co__notice_row *row)
{
    if (row == NULL)
        return;
    co__free(row->action_id);
    co__free(row->body);
    co__free(row->signature);
    memset(row, 0, sizeof *row);
}

void co__receipt_row_clear(co__receipt_row *row)
{
    if (row == NULL)
        return;
    co__free(row->node);
    co__free(row->digest);
    co__free(row->status);
    memset(row, 0, sizeof *row);
}

void co__shadow_run_row_clear(co__shadow_run_row *row)
{
    if (row == NULL)
        return;
    co__free(row->action_id);
    co__free(row->started_by);
    co__free(row->stopped_by);
    memset(row, 0, sizeof *row);
}
