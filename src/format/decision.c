/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decision.c - the one JSON shape of a decision. `cutoff check --json`,
 * cutoffd's POST /v1/check and /v1/check/batch, the admin explain call and
 * the extension members of a denial's problem body are all this text, so
 * the CLI and the daemon cannot drift apart. The shape is documented with
 * an example in docs/design.md ("Decision JSON"); key order is fixed here.
 */
#include "format/format_int.h"

#include <string.h>

/* A request's own strings come from outside (a gateway's URI, a command
 * line) and may not be UTF-8: those are shown escaped, never refused, so
 * that an odd request still gets its answer. */
static json_t *request_str(const char *s)
{
    if (co__utf8_valid(s))
        return co__json_str(s);
    char quoted[4 * CUTOFF_ID_MAX + 8];
    return co__json_str(co__quote(s, quoted, sizeof quoted));
}

static json_t *time_or_null(int64_t t)
{
    char buf[32];
    return t == CUTOFF_TIME_NEVER ? json_null() : co__json_str(cutoff_time_format(t, buf));
}

int cutoff_verdict_status(const cutoff_verdict *v)
{
    if (v->reason == CUTOFF_REASON_ALLOW)
        return 200;
    return v->by && v->by->status == 451 ? 451 : 403;
}

int cutoff_notice_url(const cutoff_action_spec *a, const char *notice_base, char **out)
{
    if (a == NULL || out == NULL)
        return CUTOFF_EINVAL;
    *out = NULL;
    co__buf url;
    co__buf_init(&url);
    int rc = 0;
    /* A ref or base that is not a plain URL (stored before the parser
     * refused such refs, or a base set by code) is never handed on: it
     * would be copied into a Link header. */
    if (a->notice.ref && a->notice.ref[0] && cutoff_notice_url_check(a->notice.ref, NULL) == 0)
        rc = co__buf_puts(&url, a->notice.ref);
    else if (notice_base && notice_base[0] && a->id &&
             cutoff_notice_url_check(notice_base, NULL) == 0 && cutoff_id_valid(a->id))
        rc = co__buf_puts(&url, notice_base) == 0 ? co__buf_puts(&url, a->id) : CUTOFF_ENOMEM;
    else
        return 0;
    if (rc == 0 && (*out = co__buf_take(&url)) == NULL)
        rc = CUTOFF_ENOMEM;
    co__buf_free(&url);
    return rc == 0 ? 0 : CUTOFF_ENOMEM;
}

static int put_notice(json_t *o, const cutoff_action_spec *a, const char *notice_base)
{
    const cutoff_notice_spec *n = &a->notice;
    char *url = NULL;
    json_t *notice = json_object();
    int ok = notice != NULL && cutoff_notice_url(a, notice_base, &url) == 0 &&
             (!n->summary || co__json_put(notice, "summary", co__json_str(n->summary)) == 0) &&
             (!n->terms || co__json_put(notice, "terms", co__json_str(n->terms)) == 0) &&
             (!n->contact || co__json_put(notice, "contact", co__json_str(n->contact)) == 0) &&
             (!n->ref || co__json_put(notice, "ref", co__json_str(n->ref)) == 0) &&
             (!url || co__json_put(notice, "url", co__json_str(url)) == 0);
    cutoff_free(url);
    if (!ok) {
        json_decref(notice);
        return -1;
    }
    return co__json_put(o, "notice", notice);
}

/* The verdict's members, in their documented order. */
static json_t *verdict_object(const cutoff_verdict *v, const cutoff_request *r,
                              const char *notice_base)
{
    char at[32];
    bool deny = v->reason != CUTOFF_REASON_ALLOW;
    const cutoff_action_spec *by = v->by;
    json_t *o = json_object();
    int ok = o != NULL && co__json_put(o, "decision", co__json_str(deny ? "deny" : "allow")) == 0 &&
             co__json_put(o, "reason", co__json_str(cutoff_reason_name(v->reason))) == 0 &&
             co__json_put(o, "subscription", request_str(r->subscription)) == 0 &&
             co__json_put(o, "action", request_str(r->action)) == 0 &&
             co__json_put(o, "region", r->region ? request_str(r->region) : json_null()) == 0 &&
             co__json_put(o, "at", co__json_str(cutoff_time_format(r->at, at))) == 0 &&
             (!deny || co__json_put(o, "status", json_integer(cutoff_verdict_status(v))) == 0) &&
             co__json_put(o, "enforcement_action", by ? co__json_str(by->id) : json_null()) == 0;
    if (ok && by) {
        ok = co__json_put(o, "version", json_integer(by->version)) == 0 &&
             co__json_put(o, "case", co__json_str_or_null(by->case_id)) == 0 &&
             co__json_put(o, "since", time_or_null(v->since)) == 0 &&
             co__json_put(o, "until", time_or_null(v->until)) == 0 &&
             (v->reason != CUTOFF_REASON_READ_ONLY || v->until == CUTOFF_TIME_NEVER ||
              co__json_put(o, "export_window_ends", time_or_null(v->until)) == 0) &&
             put_notice(o, by, notice_base) == 0;
    }
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int cutoff_verdict_to_json(const cutoff_verdict *v, const cutoff_request *r,
                           const char *notice_base, char **out)
{
    if (v == NULL || r == NULL || r->subscription == NULL || r->action == NULL || out == NULL)
        return CUTOFF_EINVAL;
    return co__json_dump(verdict_object(v, r, notice_base), out);
}

static json_t *entry_object(const cutoff_explain_entry *e)
{
    json_t *en = json_object();
    /* since is null only before the action's first phase has begun */
    bool begun = !(e->mode == CUTOFF_MODE_OFF && e->since == 0);
    int ok =
        en != NULL &&
        co__json_put(en, "enforcement_action", co__json_str(e->action ? e->action->id : "")) == 0 &&
        co__json_put(en, "scope_node", co__json_str(e->scope_node ? e->scope_node : "")) == 0 &&
        co__json_put(en, "deny_pattern", co__json_str_or_null(e->deny_pattern)) == 0 &&
        co__json_put(en, "except_pattern", co__json_str_or_null(e->except_pattern)) == 0 &&
        co__json_put(en, "region_match", json_boolean(e->region_match)) == 0 &&
        co__json_put(en, "mode", co__json_str(cutoff_mode_name(e->mode))) == 0 &&
        co__json_put(en, "since", begun ? time_or_null(e->since) : json_null()) == 0 &&
        co__json_put(en, "until", time_or_null(e->until)) == 0 &&
        co__json_put(en, "effect", co__json_str(cutoff_reason_name(e->effect))) == 0 &&
        co__json_put(en, "decides", json_boolean(e->decides)) == 0;
    if (!ok) {
        json_decref(en);
        return NULL;
    }
    return en;
}

static json_t *explanation_object(const cutoff_explanation *e)
{
    json_t *x = json_object(), *path = json_array(), *entries = json_array();
    int ok = x && path && entries;
    for (size_t i = 0; ok && i < e->n_path; i++)
        ok = co__json_push(path, co__json_str(e->path[i])) == 0;
    for (size_t i = 0; ok && i < e->n_entries; i++)
        ok = co__json_push(entries, entry_object(&e->entries[i])) == 0;
    ok = ok && co__json_put(x, "path", json_incref(path)) == 0 &&
         co__json_put(x, "plan", co__json_str_or_null(e->plan)) == 0 &&
         co__json_put(x, "plan_from", co__json_str_or_null(e->plan_from)) == 0 &&
         co__json_put(x, "entitled", json_boolean(e->entitled)) == 0 &&
         co__json_put(x, "actions", json_incref(entries)) == 0;
    json_decref(path);
    json_decref(entries);
    if (!ok) {
        json_decref(x);
        return NULL;
    }
    return x;
}

int cutoff_explanation_to_json(const cutoff_explanation *e, const cutoff_request *r,
                               const char *notice_base, char **out)
{
    if (e == NULL || r == NULL || r->subscription == NULL || r->action == NULL || out == NULL)
        return CUTOFF_EINVAL;
    json_t *o = verdict_object(&e->verdict, r, notice_base);
    if (o && co__json_put(o, "explanation", explanation_object(e)) != 0) {
        json_decref(o);
        o = NULL;
    }
    return co__json_dump(o, out);
}
