/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin.c - the admin API: everything the CLI does, over HTTP, for a
 * principal named by a bearer token.
 *
 *   GET  /v1/whoami                      any role
 *   GET  /v1/catalog                     viewer        PUT /v1/catalog           admin
 *   POST /v1/nodes/import (JSON Lines)   admin         GET /v1/nodes/{id}        viewer
 *   GET  /v1/cases                       viewer        POST /v1/cases            investigator
 *   GET  /v1/cases/{id}                  viewer
 *   POST /v1/cases/{id}/evidence?name=&type=&note=&keep=  (body: the file)  investigator
 *   POST /v1/cases/{id}/findings  POST /v1/cases/{id}/close             investigator
 *   GET  /v1/actions                     viewer        POST /v1/actions          investigator, enforcer
 *   GET  /v1/actions/{id}                viewer
 *   GET  /v1/actions/{id}/preview?offset=&limit=       investigator, enforcer, approver
 *   POST /v1/actions/{id}/approve        approver (never the proposer: four eyes)
 *   POST /v1/actions/{id}/lift           enforcer, approver
 *   GET  /v1/explain?subscription=&action=&region=&at= viewer
 *   POST /v1/check, POST /v1/check/batch  any role (as on the decision listener)
 *   GET  /v1/audit?after=&limit=         viewer        GET /v1/audit/verify      viewer
 *
 * Every call runs under the write lock with the daemon's database handle;
 * changes are audited by the database under the principal, reads are
 * audited here as "admin.read". A change is in force for decisions when
 * its response is sent: the snapshot is refreshed before answering.
 */
#include "daemon/daemon.h"

#include <stdlib.h>
#include <string.h>

typedef struct admin_call {
    cutoffd *d;
    co__http_req *req;
    const token_entry *who;
    char *parts[6]; /* path segments after /v1/ */
    size_t n_parts;
    char path_copy[512];
} admin_call;

static int http_status_of(int rc)
{
    switch (rc) {
    case 0: return 200;
    case CUTOFF_EINVAL:
    case CUTOFF_EPARSE:
    case CUTOFF_ECYCLE: return 400;
    case CUTOFF_ENOTFOUND: return 404;
    case CUTOFF_EEXIST:
    case CUTOFF_ESTATE: return 409;
    case CUTOFF_EPERM: return 403;
    case CUTOFF_ELIMIT: return 413;
    case CUTOFF_ENOMEM: return 503;
    case CUTOFF_ENOTINIT: return 503;
    default: return 500;
    }
}

static void reply_error(admin_call *c, int rc, const cutoff_diag *diag, const char *doing)
{
    char detail[700], extra[128];
    const char *msg = diag && diag->message[0] ? diag->message : cutoff_strerror(rc);
    snprintf(detail, sizeof detail, "%s: %s", doing, msg);
    snprintf(extra, sizeof extra, "{\"error\":\"%s\"}", cutoff_errname(rc));
    int status = http_status_of(rc);
    const char *title = status == 400 ? "Bad Request" : status == 404 ? "Not Found" : status == 409 ? "Conflict"
                      : status == 403 ? "Forbidden" : status == 413 ? "Content Too Large"
                      : status == 503 ? "Service Unavailable" : "Internal Server Error";
    co__http_reply_problem(c->req, status, NULL, title, detail, extra, NULL);
}

/* Answers with a JSON text the library made, and releases it. */
static void reply_owned_json(admin_call *c, int status, char *json)
{
    co__http_reply_json(c->req, status, json, NULL);
    cutoff_free(json);
}

static void reply_ok(admin_call *c, json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL) {
        reply_error(c, CUTOFF_ENOMEM, NULL, "encoding the answer");
        return;
    }
    co__http_reply_json(c->req, 200, text, NULL);
    free(text);
}

/* A change went in: make it visible to decisions before answering. */
static void refresh_after_change(admin_call *c)
{
    cutoff_diag diag = {0};
    if (daemon_refresh_locked(c->d, false, &diag) != 0)
        daemon_log(c->d, "error", "refresh_failed", json_pack("{s:s}", "error", diag.message));
}

static bool require(admin_call *c, unsigned roles)
{
    if (tokens_allows(c->who->roles, roles))
        return true;
    char have[128], need[128], detail[400];
    snprintf(detail, sizeof detail, "principal \"%s\" has roles %s; this call needs one of %s (or admin)",
             c->who->principal, tokens_roles_text(c->who->roles, have, sizeof have),
             tokens_roles_text(roles, need, sizeof need));
    co__http_reply_problem(c->req, 403, NULL, "Forbidden", detail, NULL, NULL);
    return false;
}

static json_t *body_json(admin_call *c)
{
    size_t len;
    const char *body = co__http_body(c->req, &len);
    json_error_t je;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL) {
        char detail[300];
        snprintf(detail, sizeof detail, "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
        co__http_reply_problem(c->req, 400, NULL, "Bad Request", detail, NULL, NULL);
    }
    return o;
}

/* A body must have exactly the shape it is documented with: only the
 * allowed keys, each of the given JSON type (a string type list like "ssa"
 * for string, string, array); required keys are marked with a leading '!'
 * in their name. Answers 400 naming the first fault and the shape. */
static bool body_shape(admin_call *c, json_t *o, const char *const *keys, const char *types, const char *shape)
{
    char detail[400];
    const char *k;
    json_t *v;
    if (!json_is_object(o)) {
        snprintf(detail, sizeof detail, "the body must be a JSON object: %s", shape);
        goto bad;
    }
    json_object_foreach(o, k, v) {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i] + (keys[i][0] == '!'), k) != 0)
            i++;
        if (keys[i] == NULL) {
            snprintf(detail, sizeof detail, "unknown key \"%.64s\"; the body is %s", k, shape);
            goto bad;
        }
        bool typed = types[i] == 's' ? json_is_string(v) : types[i] == 'a' ? json_is_array(v) : true;
        if (!typed) {
            snprintf(detail, sizeof detail, "\"%s\" must be %s; the body is %s", k,
                     types[i] == 's' ? "a string" : "an array", shape);
            goto bad;
        }
    }
    for (size_t i = 0; keys[i]; i++)
        if (keys[i][0] == '!' && json_object_get(o, keys[i] + 1) == NULL) {
            snprintf(detail, sizeof detail, "\"%s\" is missing; the body is %s", keys[i] + 1, shape);
            goto bad;
        }
    return true;
bad:
    co__http_reply_problem(c->req, 400, NULL, "Bad Request", detail, NULL, NULL);
    return false;
}

static void audit_read(admin_call *c)
{
    json_t *p = json_pack("{s:s}", "request_id", co__http_request_id(c->req));
    char *payload = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    cutoff_db_audit_append(c->d->db, c->who->principal, "admin.read", co__http_path(c->req),
                           payload ? payload : "{}");
    free(payload);
}

/* Parses a non-negative integer query parameter. */
static bool query_count(admin_call *c, const char *name, uint64_t dflt, uint64_t max, uint64_t *out)
{
    const char *v = co__http_query(c->req, name);
    *out = dflt;
    if (v == NULL)
        return true;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (*v == '\0' || *end || n > max || *v == '-') {
        char detail[200];
        snprintf(detail, sizeof detail, "query parameter %s must be a whole number up to %llu", name,
                 (unsigned long long)max);
        co__http_reply_problem(c->req, 400, NULL, "Bad Request", detail, NULL, NULL);
        return false;
    }
    *out = n;
    return true;
}

/* ---- the calls ---------------------------------------------------------------- */

static void whoami(admin_call *c)
{
    char roles[128];
    co__http_set_label(c->req, NULL, "whoami");
    reply_ok(c, json_pack("{s:s,s:s}", "principal", c->who->principal, "roles",
                          tokens_roles_text(c->who->roles, roles, sizeof roles)));
}

static void catalog(admin_call *c, bool put)
{
    cutoff_diag diag = {0};
    co__http_set_label(c->req, NULL, put ? "catalog.load" : "catalog.show");
    if (put) {
        if (!require(c, ROLE_ADMIN))
            return;
        size_t len;
        const char *body = co__http_body(c->req, &len);
        int rc = cutoff_db_catalog_load(c->d->db, c->who->principal, body, len, &diag);
        if (rc != 0)
            return reply_error(c, rc, &diag, "loading the catalog");
        refresh_after_change(c);
    } else if (!require(c, ROLE_VIEWER | ROLE_INVESTIGATOR | ROLE_ENFORCER | ROLE_APPROVER)) {
        return;
    } else {
        audit_read(c);
    }
    cutoff_catalog_spec *cat;
    char *json;
    int rc = cutoff_db_catalog_get(c->d->db, &cat);
    if (rc == 0) {
        rc = cutoff_catalog_to_json(cat, &json);
        cutoff_catalog_free(cat);
    }
    if (rc != 0)
        return reply_error(c, rc, NULL, "reading the catalog");
    reply_owned_json(c, 200, json);
}

static void nodes_import(admin_call *c)
{
    co__http_set_label(c->req, NULL, "nodes.import");
    if (!require(c, ROLE_ADMIN))
        return;
    FILE *in = co__http_body_file(c->req);
    cutoff_import_stats st = {0};
    cutoff_diag diag = {0};
    int rc = cutoff_db_nodes_import(c->d->db, c->who->principal, in, "request body", NULL, NULL, &st, &diag);
    if (rc != 0)
        return reply_error(c, rc, &diag, "importing nodes");
    refresh_after_change(c);
    reply_ok(c, json_pack("{s:I,s:I,s:I,s:I}", "lines", (json_int_t)st.lines, "inserted",
                          (json_int_t)st.inserted, "updated", (json_int_t)st.updated, "unchanged",
                          (json_int_t)st.unchanged));
}

static void show(admin_call *c, const char *verb, int (*fn)(cutoff_db *, const char *, char **),
                 const char *id)
{
    co__http_set_label(c->req, NULL, verb);
    if (!require(c, ROLE_VIEWER | ROLE_INVESTIGATOR | ROLE_ENFORCER | ROLE_APPROVER))
        return;
    char *json;
    int rc = fn(c->d->db, id, &json);
    if (rc != 0)
        return reply_error(c, rc, NULL, verb);
    audit_read(c);
    reply_owned_json(c, 200, json);
}

static void list(admin_call *c, const char *verb, int (*fn)(cutoff_db *, char **))
{
    co__http_set_label(c->req, NULL, verb);
    if (!require(c, ROLE_VIEWER | ROLE_INVESTIGATOR | ROLE_ENFORCER | ROLE_APPROVER))
        return;
    char *json;
    int rc = fn(c->d->db, &json);
    if (rc != 0)
        return reply_error(c, rc, NULL, verb);
    audit_read(c);
    reply_owned_json(c, 200, json);
}

static void case_open(admin_call *c)
{
    co__http_set_label(c->req, NULL, "case.open");
    if (!require(c, ROLE_INVESTIGATOR))
        return;
    json_t *o = body_json(c);
    static const char *const keys[] = {"!title", "!scope", "id", NULL};
    if (o == NULL)
        return;
    if (!body_shape(c, o, keys, "sas", "{\"title\": TEXT, \"scope\": [NODE, ...], \"id\": optional}")) {
        json_decref(o);
        return;
    }
    json_t *scope = json_object_get(o, "scope");
    const char *title = json_string_value(json_object_get(o, "title"));
    const char *id = json_string_value(json_object_get(o, "id"));
    size_t n = json_array_size(scope);
    const char **ids = calloc(n + 1, sizeof *ids);
    bool shape = title && json_is_array(scope) && ids;
    for (size_t i = 0; shape && i < n; i++)
        shape = (ids[i] = json_string_value(json_array_get(scope, i))) != NULL;
    if (!shape) {
        free(ids);
        json_decref(o);
        co__http_reply_problem(c->req, 400, NULL, "Bad Request",
                               "a case is {\"title\": TEXT, \"scope\": [NODE, ...], \"id\": optional}", NULL, NULL);
        return;
    }
    char out[CUTOFF_ID_MAX + 1];
    cutoff_diag diag = {0};
    int rc = cutoff_db_case_open(c->d->db, c->who->principal, id, title, ids, n, out, &diag);
    free(ids);
    json_decref(o);
    if (rc != 0)
        return reply_error(c, rc, &diag, "opening the case");
    reply_ok(c, json_pack("{s:s}", "id", out));
}

static void case_evidence(admin_call *c, const char *case_id)
{
    co__http_set_label(c->req, NULL, "case.evidence");
    if (!require(c, ROLE_INVESTIGATOR))
        return;
    const char *type = co__http_query(c->req, "type"), *note = co__http_query(c->req, "note");
    const char *keep = co__http_query(c->req, "keep");
    if (type == NULL) {
        co__http_reply_problem(c->req, 400, NULL, "Bad Request",
                               "give the evidence's media type as ?type=... (and ?note=..., ?keep=1 to keep the content)",
                               NULL, NULL);
        return;
    }
    /* The body was spooled to a temporary file; the record keeps the
     * uploader's name for it (?name=, a base name). */
    const char *name = co__http_query(c->req, "name");
    const char *base = name ? strrchr(name, '/') : NULL;
    base = base ? base + 1 : name;
    if (base == NULL || *base == '\0')
        base = "evidence";
    char sha[65];
    cutoff_diag diag = {0};
    int rc = cutoff_db_case_add_evidence(c->d->db, c->who->principal, case_id, co__http_body_path(c->req), base,
                                         type, note ? note : "", keep && strcmp(keep, "1") == 0, sha, &diag);
    if (rc != 0)
        return reply_error(c, rc, &diag, "adding evidence");
    reply_ok(c, json_pack("{s:s,s:s}", "case", case_id, "sha256", sha));
}

static void case_change(admin_call *c, const char *case_id, const char *what)
{
    bool findings = strcmp(what, "findings") == 0;
    co__http_set_label(c->req, NULL, findings ? "case.findings" : "case.close");
    if (!require(c, ROLE_INVESTIGATOR))
        return;
    cutoff_diag diag = {0};
    int rc;
    if (findings) {
        json_t *o = body_json(c);
        static const char *const keys[] = {"!findings", NULL};
        if (o == NULL)
            return;
        if (!body_shape(c, o, keys, "s", "{\"findings\": TEXT}")) {
            json_decref(o);
            return;
        }
        const char *text = json_string_value(json_object_get(o, "findings"));
        rc = cutoff_db_case_set_findings(c->d->db, c->who->principal, case_id, text, &diag);
        json_decref(o);
    } else {
        rc = cutoff_db_case_close(c->d->db, c->who->principal, case_id, &diag);
    }
    if (rc != 0)
        return reply_error(c, rc, &diag, findings ? "recording findings" : "closing the case");
    char *json;
    if ((rc = cutoff_db_case_show(c->d->db, case_id, &json)) != 0)
        return reply_error(c, rc, NULL, "reading the case");
    reply_owned_json(c, 200, json);
}

static void action_propose(admin_call *c)
{
    co__http_set_label(c->req, NULL, "action.propose");
    if (!require(c, ROLE_INVESTIGATOR | ROLE_ENFORCER))
        return;
    size_t len;
    const char *body = co__http_body(c->req, &len);
    char id[CUTOFF_ID_MAX + 1];
    int version = 0;
    cutoff_diag diag = {0};
    int rc = cutoff_db_action_propose(c->d->db, c->who->principal, body, len, id, &version, &diag);
    if (rc != 0)
        return reply_error(c, rc, &diag, "proposing the action");
    reply_ok(c, json_pack("{s:s,s:i,s:s}", "id", id, "version", version, "state", "draft"));
}

static void action_preview(admin_call *c, const char *id)
{
    co__http_set_label(c->req, NULL, "action.preview");
    if (!require(c, ROLE_INVESTIGATOR | ROLE_ENFORCER | ROLE_APPROVER))
        return;
    uint64_t offset, limit;
    if (!query_count(c, "offset", 0, UINT32_MAX, &offset) || !query_count(c, "limit", 100, 10000, &limit))
        return;
    cutoff_snapshot *current = cutoff_engine_acquire(c->d->engine);
    char *json;
    cutoff_diag diag = {0};
    int rc = cutoff_db_action_preview(c->d->db, current, id, daemon_now(), (size_t)offset, (size_t)limit,
                                      &json, &diag);
    cutoff_snapshot_release(current);
    if (rc != 0)
        return reply_error(c, rc, &diag, "previewing the action");
    audit_read(c);
    reply_owned_json(c, 200, json);
}

static void action_change(admin_call *c, const char *id, bool approve)
{
    co__http_set_label(c->req, NULL, approve ? "action.approve" : "action.lift");
    if (!require(c, approve ? ROLE_APPROVER : ROLE_ENFORCER | ROLE_APPROVER))
        return;
    const char *reason = NULL;
    json_t *o = NULL;
    size_t len;
    co__http_body(c->req, &len);
    if (!approve && len > 0) {
        static const char *const keys[] = {"reason", NULL};
        if ((o = body_json(c)) == NULL)
            return;
        if (!body_shape(c, o, keys, "s", "{\"reason\": TEXT} or empty")) {
            json_decref(o);
            return;
        }
        reason = json_string_value(json_object_get(o, "reason"));
    }
    cutoff_diag diag = {0};
    int rc = approve ? cutoff_db_action_approve(c->d->db, c->who->principal, id, daemon_now(), &diag)
                     : cutoff_db_action_lift(c->d->db, c->who->principal, id, daemon_now(), reason, &diag);
    json_decref(o);
    if (rc != 0)
        return reply_error(c, rc, &diag, approve ? "approving" : "lifting");
    refresh_after_change(c);
    char *json;
    if ((rc = cutoff_db_action_show(c->d->db, id, &json)) != 0)
        return reply_error(c, rc, NULL, "reading the action");
    reply_owned_json(c, 200, json);
}

static void explain(admin_call *c)
{
    co__http_set_label(c->req, NULL, "check.explain");
    if (!require(c, ROLE_VIEWER | ROLE_INVESTIGATOR | ROLE_ENFORCER | ROLE_APPROVER))
        return;
    const char *sub = co__http_query(c->req, "subscription"), *act = co__http_query(c->req, "action");
    const char *region = co__http_query(c->req, "region"), *at_text = co__http_query(c->req, "at");
    int64_t at = daemon_now();
    cutoff_diag diag = {0};
    if (sub == NULL || act == NULL || (at_text && cutoff_time_parse(at_text, &at, &diag) != 0)) {
        co__http_reply_problem(c->req, 400, NULL, "Bad Request",
                               sub && act ? diag.message : "give ?subscription=...&action=... (and region, at)",
                               NULL, NULL);
        return;
    }
    cutoff_snapshot *snap = cutoff_engine_acquire(c->d->engine);
    cutoff_explanation *x = NULL;
    int rc = snap ? cutoff_explain(snap, sub, act, region, at, &x) : CUTOFF_ENOTINIT;
    if (rc != 0) {
        cutoff_snapshot_release(snap);
        return reply_error(c, rc, NULL, "explaining");
    }
    char t1[32], t2[32];
    json_t *entries = json_array();
    for (size_t i = 0; i < x->n_entries; i++) {
        const cutoff_explain_entry *e = &x->entries[i];
        json_t *en = json_pack("{s:s,s:s,s:o,s:o,s:b,s:s,s:s,s:b}", "action", e->action->id, "scope_node",
                               e->scope_node, "deny_pattern", e->deny_pattern ? json_string(e->deny_pattern) : json_null(),
                               "except_pattern", e->except_pattern ? json_string(e->except_pattern) : json_null(),
                               "region_match", e->region_match, "mode", cutoff_mode_name(e->mode), "effect",
                               cutoff_reason_name(e->effect), "decides", e->decides);
        /* since is absent only before the action's first phase */
        if (en && !(e->mode == CUTOFF_MODE_OFF && e->since == 0))
            json_object_set_new(en, "since", json_string(cutoff_time_format(e->since, t1)));
        if (en)
            json_object_set_new(en, "until", e->until == CUTOFF_TIME_NEVER ? json_null()
                                                 : json_string(cutoff_time_format(e->until, t2)));
        json_array_append_new(entries, en);
    }
    json_t *path = json_array();
    for (size_t i = 0; i < x->n_path; i++)
        json_array_append_new(path, json_string(x->path[i]));
    json_t *o = json_pack("{s:s,s:s,s:o,s:o,s:b,s:o,s:o}", "decision",
                          x->verdict.reason == CUTOFF_REASON_ALLOW ? "allow" : "deny", "reason",
                          cutoff_reason_name(x->verdict.reason), "action",
                          x->verdict.by ? json_string(x->verdict.by->id) : json_null(), "plan",
                          x->plan ? json_string(x->plan) : json_null(), "entitled", x->entitled, "path", path,
                          "entries", entries);
    /* What a single check shows (cutoff check --server): where the plan
     * comes from, and for a denial by an action its phase window, version,
     * status and notice. */
    const cutoff_action_spec *by = x->verdict.by;
    if (o)
        json_object_set_new(o, "plan_from", x->plan_from ? json_string(x->plan_from) : json_null());
    if (o && by) {
        const cutoff_notice_spec *n = &by->notice;
        json_t *notice = json_object();
        if (n->summary)
            json_object_set_new(notice, "summary", json_string(n->summary));
        if (n->terms)
            json_object_set_new(notice, "terms", json_string(n->terms));
        if (n->contact)
            json_object_set_new(notice, "contact", json_string(n->contact));
        if (n->ref)
            json_object_set_new(notice, "ref", json_string(n->ref));
        json_object_set_new(o, "case", by->case_id ? json_string(by->case_id) : json_null());
        json_object_set_new(o, "version", json_integer(by->version));
        json_object_set_new(o, "status", json_integer(by->status));
        json_object_set_new(o, "since", json_string(cutoff_time_format(x->verdict.since, t1)));
        json_object_set_new(o, "until", x->verdict.until == CUTOFF_TIME_NEVER
                                            ? json_null()
                                            : json_string(cutoff_time_format(x->verdict.until, t2)));
        json_object_set_new(o, "notice", notice);
    }
    cutoff_explanation_free(x);
    cutoff_snapshot_release(snap);
    audit_read(c);
    reply_ok(c, o);
}

static void audit(admin_call *c, bool verify)
{
    co__http_set_label(c->req, NULL, verify ? "audit.verify" : "audit.log");
    if (!require(c, ROLE_VIEWER | ROLE_INVESTIGATOR | ROLE_ENFORCER | ROLE_APPROVER))
        return;
    if (verify) {
        cutoff_audit_report rep;
        memset(&rep, 0, sizeof rep);
        int rc = cutoff_db_audit_verify(c->d->db, &rep);
        if (rc != 0 && rc != CUTOFF_ETAMPER)
            return reply_error(c, rc, NULL, "verifying the audit log");
        json_t *o = json_pack("{s:b,s:I,s:s}", "verified", rc == 0, "records", (json_int_t)rep.records, "head",
                              rep.head_hex);
        if (rc != 0) {
            json_object_set_new(o, "first_bad", json_integer((json_int_t)rep.first_bad));
            json_object_set_new(o, "problem", json_string(rep.problem));
        }
        return reply_ok(c, o);
    }
    uint64_t after, limit;
    if (!query_count(c, "after", 0, UINT64_MAX / 2, &after) || !query_count(c, "limit", 1000, 100000, &limit))
        return;
    char *json;
    int rc = cutoff_db_audit_list(c->d->db, after, (size_t)limit, &json);
    if (rc != 0)
        return reply_error(c, rc, NULL, "reading the audit log");
    reply_owned_json(c, 200, json);
}

/* ---- dispatch ---------------------------------------------------------------- */

static bool is(const admin_call *c, size_t n, const char *a, const char *b)
{
    return c->n_parts == n && strcmp(c->parts[0], a) == 0 && (b == NULL || (n > 1 && strcmp(c->parts[n - 1], b) == 0));
}

static void dispatch(admin_call *c)
{
    const char *m = co__http_method(c->req);
    bool get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0, put = strcmp(m, "PUT") == 0;
    if (get && is(c, 1, "whoami", NULL))
        return whoami(c);
    if ((get || put) && is(c, 1, "catalog", NULL))
        return catalog(c, put);
    if (post && is(c, 2, "nodes", "import"))
        return nodes_import(c);
    if (get && is(c, 2, "nodes", NULL))
        return show(c, "nodes.show", cutoff_db_node_show, c->parts[1]);
    if (get && is(c, 1, "cases", NULL))
        return list(c, "case.list", cutoff_db_case_list);
    if (post && is(c, 1, "cases", NULL))
        return case_open(c);
    if (get && is(c, 2, "cases", NULL))
        return show(c, "case.show", cutoff_db_case_show, c->parts[1]);
    if (post && is(c, 3, "cases", "evidence"))
        return case_evidence(c, c->parts[1]);
    if (post && (is(c, 3, "cases", "findings") || is(c, 3, "cases", "close")))
        return case_change(c, c->parts[1], c->parts[2]);
    if (get && is(c, 1, "actions", NULL))
        return list(c, "action.list", cutoff_db_action_list);
    if (post && is(c, 1, "actions", NULL))
        return action_propose(c);
    if (get && is(c, 2, "actions", NULL))
        return show(c, "action.show", cutoff_db_action_show, c->parts[1]);
    if (get && is(c, 3, "actions", "preview"))
        return action_preview(c, c->parts[1]);
    if (post && (is(c, 3, "actions", "approve") || is(c, 3, "actions", "lift")))
        return action_change(c, c->parts[1], strcmp(c->parts[2], "approve") == 0);
    if (get && is(c, 1, "explain", NULL))
        return explain(c);
    if (post && (is(c, 1, "check", NULL) || is(c, 2, "check", "batch"))) {
        /* The same decisions as the decision listener, for any principal:
         * lets an operator's tools use one URL. */
        co__http_set_label(c->req, NULL, c->n_parts == 1 ? "check" : "check.batch");
        return decision_check(c->d, c->req, c->n_parts == 2);
    }
    if (get && is(c, 1, "audit", NULL))
        return audit(c, false);
    if (get && is(c, 2, "audit", "verify"))
        return audit(c, true);
    co__http_reply_problem(c->req, 404, NULL, "Not Found",
                           "no such admin resource or method; see docs/cutoffd.md for the admin API", NULL, NULL);
}

bool admin_spool(void *ctx, const char *method, const char *path)
{
    (void)ctx;
    if (strcmp(method, "POST") != 0)
        return false;
    size_t n = strlen(path);
    return strcmp(path, "/v1/nodes/import") == 0 ||
           (strncmp(path, "/v1/cases/", 10) == 0 && n > 9 && strcmp(path + n - 9, "/evidence") == 0);
}

void admin_handle(void *ctx, co__http_req *req)
{
    cutoffd *d = ctx;
    if (ops_handle(d, req))
        return;
    admin_call c = {.d = d, .req = req};
    const char *path = co__http_path(req);
    if (strncmp(path, "/v1/", 4) != 0 || strlen(path) >= sizeof c.path_copy) {
        co__http_reply_problem(req, 404, NULL, "Not Found", "admin resources live under /v1/", NULL, NULL);
        return;
    }
    snprintf(c.path_copy, sizeof c.path_copy, "%s", path + 4);
    for (char *save = NULL, *p = strtok_r(c.path_copy, "/", &save); p && c.n_parts < 6;
         p = strtok_r(NULL, "/", &save))
        c.parts[c.n_parts++] = p;
    if (c.n_parts == 0) {
        co__http_reply_problem(req, 404, NULL, "Not Found", "admin resources live under /v1/", NULL, NULL);
        return;
    }

    const char *auth = co__http_header(req, "Authorization");
    const char *token = auth && strncasecmp(auth, "Bearer ", 7) == 0 ? auth + 7 : NULL;
    c.who = tokens_find(atomic_load(&d->tokens), token);
    if (c.who == NULL) {
        co__http_set_label(req, NULL, "unauthenticated");
        co__http_reply_problem(req, 401, NULL, "Unauthorized",
                               token ? "the bearer token is not known" : "send Authorization: Bearer TOKEN",
                               NULL, (const char *const[]){"WWW-Authenticate", "Bearer realm=\"cutoff\"", NULL});
        return;
    }
    co__http_set_label(req, c.who->principal, NULL);
    pthread_mutex_lock(&d->write_lock);
    dispatch(&c);
    pthread_mutex_unlock(&d->write_lock);
}
