/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.c - the parts of the store interface that do not depend on a
 * backend: choosing the backend a location names, showing a location
 * without its password, and releasing the rows that *_get operations fill
 * in.
 */
#include "store/store.h"
#include "util/util.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_pg_uri(const char *location)
{
    return starts_with(location, "postgresql://") || starts_with(location, "postgres://");
}

const co__store_ops *co__store_for(const char *location)
{
    if (location && (is_pg_uri(location) || strcmp(location, "postgresql:") == 0))
        return &co__pg_store_ops;
    return &co__sqlite_store_ops;
}

/* Output bounded by the caller's buffer: what does not fit is dropped,
 * and the text always ends in a NUL. */
typedef struct shown_text {
    char *buf;
    size_t size, len;
} shown_text;

static void put(shown_text *t, const char *p, size_t n)
{
    for (size_t i = 0; i < n && t->len + 1 < t->size; i++)
        t->buf[t->len++] = p[i];
    t->buf[t->len] = '\0';
}

/* A URI: the password of the userinfo ("user:secret@") and password=
 * parameters of the query go; everything else stays as written. */
static void show_uri(shown_text *t, const char *uri)
{
    const char *auth = strstr(uri, "://") + 3;
    const char *auth_end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth_end; p++)
        if (*p == '@')
            at = p;
    put(t, uri, (size_t)(auth - uri));
    const char *host = auth;
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        put(t, auth, (size_t)((colon ? colon : at) - auth));
        host = at;
    }
    const char *query = strchr(auth_end, '?');
    const char *fragment = strchr(auth_end, '#');
    if (query == NULL || (fragment && fragment < query)) {
        put(t, host, strlen(host));
        return;
    }
    put(t, host, (size_t)(query - host));
    const char *end = fragment ? fragment : query + strlen(query);
    bool first = true;
    for (const char *p = query + 1; p < end;) {
        size_t n = strcspn(p, "&#");
        if (p + n > end)
            n = (size_t)(end - p);
        if (!(n >= 9 && strncmp(p, "password=", 9) == 0) && n > 0) {
            put(t, first ? "?" : "&", 1);
            put(t, p, n);
            first = false;
        }
        p += n + (p + n < end);
    }
    put(t, end, strlen(end));
}

/* A keyword/value connection string: "password = value" goes (the value
 * may be quoted, with backslash escapes), the rest stays. */
static void show_keywords(shown_text *t, const char *text)
{
    const char *p = text;
    while (*p) {
        const char *word = p;
        bool at_start = p == text || isspace((unsigned char)p[-1]);
        if (at_start && strncmp(p, "password", 8) == 0) {
            const char *q = p + 8;
            while (isspace((unsigned char)*q))
                q++;
            if (*q == '=') {
                q++;
                while (isspace((unsigned char)*q))
                    q++;
                if (*q == '\'') {
                    for (q++; *q && *q != '\''; q++)
                        if (*q == '\\' && q[1])
                            q++;
                    if (*q)
                        q++;
                } else {
                    while (*q && !isspace((unsigned char)*q))
                        q++;
                }
                while (isspace((unsigned char)*q))
                    q++;
                p = q;
                continue;
            }
        }
        put(t, word, 1);
        p++;
    }
    /* A password that ended the text leaves the space before it. */
    while (t->len > 0 && isspace((unsigned char)t->buf[t->len - 1]) &&
           !isspace((unsigned char)text[strlen(text) - 1]))
        t->buf[--t->len] = '\0';
}

const char *cutoff_db_location_shown(const char *location, char *buf, size_t size)
{
    if (buf == NULL || size == 0)
        return buf;
    shown_text t = {.buf = buf, .size = size, .len = 0};
    buf[0] = '\0';
    if (location == NULL)
        return buf;
    if (is_pg_uri(location))
        show_uri(&t, location);
    else
        show_keywords(&t, location);
    return buf;
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
