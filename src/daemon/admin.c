/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin.c - the admin API: everything the CLI does, over HTTP, for a
 * principal named by a bearer token.
 *
 * The calls are the rows of one table, admin_route_table below: method,
 * path pattern, verb, the roles that may call it, whether its body streams
 * to a file, and the handler. Dispatch, the role check, metric labels and
 * log verbs all read that table, `cutoffd --routes` prints it, and the role
 * matrix in docs/cutoffd.md is that output (a test compares them, and
 * walks every row for every role over HTTP).
 *
 * Every call runs under the write lock with the daemon's database handle;
 * changes are audited by the database under the principal, reads are
 * audited here as "admin.read". A change is in force for decisions when
 * its response is sent: the snapshot is refreshed before answering.
 */
#include "daemon/daemon.h"

#include "common/as_of.h"
#include "common/text.h"

#include <stdlib.h>
#include <string.h>

struct admin_call {
    cutoffd *d;
    co__http_req *req;
    const token_entry *who;
    const admin_route *route;
    char id[CUTOFF_ID_MAX * 2 + 1]; /* the {id} segment of the path, when the route has one */
};

/* A failed call: status, title and "code" come from the error table. */
static void reply_error(admin_call *c, int rc, const cutoff_diag *diag, const char *doing)
{
    char detail[700];
    const char *msg = diag && diag->message[0] ? diag->message : cutoff_strerror(rc);
    snprintf(detail, sizeof detail, "%s: %s", doing, msg);
    co__http_reply_error(c->req, rc, NULL, detail, NULL);
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

/* The JSON bodies of the calls that take one (the others take a library
 * document, or nothing): the allowed keys, required ones marked with a
 * leading '!', their types ('s' a string, 'a' an array of strings), and
 * the shape for messages. */
static const struct admin_body {
    const char *verb;
    const char *keys[4];
    const char *types;
    const char *shape;
} admin_bodies[] = {
    {"case.open",
     {"!title", "!scope", "id", NULL},
     "sas",
     "{\"title\": TEXT, \"scope\": [NODE, ...], \"id\": optional}"},
    {"case.findings", {"!findings", NULL}, "s", "{\"findings\": TEXT}"},
    {"action.lift", {"reason", NULL}, "s", "{\"reason\": TEXT} or empty"},
};

static bool strings_only(json_t *a)
{
    size_t i;
    json_t *v;
    json_array_foreach (a, i, v)
        if (!json_is_string(v))
            return false;
    return true;
}

json_t *admin_body_read(const char *verb, const char *body, size_t len, char *detail, size_t n)
{
    const struct admin_body *b = NULL;
    for (size_t i = 0; i < sizeof admin_bodies / sizeof admin_bodies[0] && !b; i++)
        if (strcmp(admin_bodies[i].verb, verb) == 0)
            b = &admin_bodies[i];
    if (b == NULL)
        return snprintf(detail, n, "%s takes no JSON body", verb), NULL;
    json_error_t je;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL)
        return snprintf(detail, n, "malformed JSON at line %d column %d: %s", je.line, je.column,
                        je.text),
               co__msg_clean(detail), NULL;
    const char *k;
    json_t *v;
    if (!json_is_object(o)) {
        snprintf(detail, n, "the body must be a JSON object: %s", b->shape);
        goto bad;
    }
    json_object_foreach (o, k, v) {
        size_t i = 0;
        while (b->keys[i] && strcmp(b->keys[i] + (b->keys[i][0] == '!'), k) != 0)
            i++;
        if (b->keys[i] == NULL) {
            snprintf(detail, n, "unknown key \"%.64s\"; the body is %s", k, b->shape);
            goto bad;
        }
        bool typed = b->types[i] == 's' ? json_is_string(v) : json_is_array(v) && strings_only(v);
        if (!typed) {
            snprintf(detail, n, "\"%s\" must be %s; the body is %s", k,
                     b->types[i] == 's' ? "a string" : "an array of strings", b->shape);
            goto bad;
        }
    }
    for (size_t i = 0; b->keys[i]; i++)
        if (b->keys[i][0] == '!' && json_object_get(o, b->keys[i] + 1) == NULL) {
            snprintf(detail, n, "\"%s\" is missing; the body is %s", b->keys[i] + 1, b->shape);
            goto bad;
        }
    return o;
bad:
    json_decref(o);
    co__msg_clean(detail); /* it may quote a key */
    return NULL;
}

/* The call's JSON body (admin_body_read), or NULL when the call has been
 * answered with the fault (400). */
static json_t *body_json(admin_call *c)
{
    size_t len;
    const char *body = co__http_body(c->req, &len);
    char detail[400];
    json_t *o = admin_body_read(c->route->verb, body, len, detail, sizeof detail);
    if (o == NULL)
        co__http_reply_error(c->req, CUTOFF_EPARSE, NULL, detail, NULL);
    return o;
}

static bool audit_read(admin_call *c)
{
    /* The object is the path as requested, with every byte outside
     * printable ASCII percent-encoded: a path that free text may not hold
     * (a control or bidi character) cannot keep a read out of the log; a
     * path longer than an audit object may be is cut, marked with "...". */
    const char *path = co__http_path(c->req);
    size_t len = strlen(path);
    char *object = malloc(3 * len + 1);
    json_t *p = json_pack("{s:s}", "request_id", co__http_request_id(c->req));
    char *payload = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    int rc = CUTOFF_ENOMEM;
    if (object != NULL && payload != NULL) {
        size_t o = 0;
        for (const unsigned char *b = (const unsigned char *)path; *b; b++)
            o += (size_t)(*b > 0x20 && *b < 0x7f && *b != '%' ? (object[o] = (char)*b, 1)
                                                              : sprintf(object + o, "%%%02X", *b));
        object[o] = '\0';
        if (o > CUTOFF_AUDIT_OBJECT_MAX)
            strcpy(object + CUTOFF_AUDIT_OBJECT_MAX - 3, "...");
        rc = cutoff_db_audit_append(c->d->db, c->who->principal, "admin.read", object, payload);
    }
    free(object);
    free(payload);
    /* A read that cannot be recorded is not served. */
    if (rc != 0)
        reply_error(c, rc, NULL, "recording the read in the audit log");
    return rc == 0;
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
        snprintf(detail, sizeof detail, "query parameter %s must be a whole number up to %llu",
                 name, (unsigned long long)max);
        co__http_reply_error(c->req, CUTOFF_EINVAL, NULL, detail, NULL);
        return false;
    }
    *out = n;
    return true;
}

/* ---- the calls ---------------------------------------------------------------- */
/* Each handler runs after the route table's role check, under the write lock. */

static void whoami(admin_call *c)
{
    char roles[128];
    reply_ok(c, json_pack("{s:s,s:s}", "principal", c->who->principal, "roles",
                          tokens_roles_text(c->who->roles, roles, sizeof roles)));
}

/* The catalog now in force, as canonical JSON. */
static void reply_catalog(admin_call *c)
{
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

static void catalog_show(admin_call *c)
{
    if (audit_read(c))
        reply_catalog(c);
}

static void catalog_load(admin_call *c)
{
    cutoff_diag diag = {0};
    size_t len;
    const char *body = co__http_body(c->req, &len);
    /* ?force=1 loads a catalog that changes decisions under active actions. */
    const char *force = co__http_query(c->req, "force");
    int rc = cutoff_db_catalog_apply(c->d->db, c->who->principal, body, len,
                                     force && strcmp(force, "1") == 0 ? CUTOFF_CATALOG_FORCE : 0,
                                     NULL, &diag);
    if (rc != 0)
        return reply_error(c, rc, &diag, "loading the catalog");
    refresh_after_change(c);
    reply_catalog(c);
}

static void nodes_import(admin_call *c)
{
    FILE *in = co__http_body_file(c->req);
    cutoff_import_stats st = {0};
    cutoff_diag diag = {0};
    int rc = cutoff_db_nodes_import(c->d->db, c->who->principal, in, "request body", NULL, NULL,
                                    &st, &diag);
    if (rc != 0)
        return reply_error(c, rc, &diag, "importing nodes");
    refresh_after_change(c);
    reply_ok(c, json_pack("{s:I,s:I,s:I,s:I}", "lines", (json_int_t)st.lines, "inserted",
                          (json_int_t)st.inserted, "updated", (json_int_t)st.updated, "unchanged",
                          (json_int_t)st.unchanged));
}

/* Answers a read: the library's JSON text, or its error. */
static void reply_read(admin_call *c, int rc, char *json)
{
    if (rc != 0)
        return reply_error(c, rc, NULL, c->route->verb);
    if (!audit_read(c))
        return cutoff_free(json);
    reply_owned_json(c, 200, json);
}

static void node_show(admin_call *c)
{
    char *json = NULL;
    int rc = cutoff_db_node_show(c->d->db, c->id, &json);
    reply_read(c, rc, json);
}

static void case_list(admin_call *c)
{
    char *json = NULL;
    int rc = cutoff_db_case_list(c->d->db, &json);
    reply_read(c, rc, json);
}

static void case_show(admin_call *c)
{
    char *json = NULL;
    int rc = cutoff_db_case_show(c->d->db, c->id, &json);
    reply_read(c, rc, json);
}

static void action_list(admin_call *c)
{
    char *json = NULL;
    int rc = cutoff_db_action_list(c->d->db, &json);
    reply_read(c, rc, json);
}

static void action_show(admin_call *c)
{
    char *json = NULL;
    int rc = cutoff_db_action_show(c->d->db, c->id, &json);
    reply_read(c, rc, json);
}

static void case_open(admin_call *c)
{
    json_t *o = body_json(c);
    if (o == NULL)
        return;
    json_t *scope = json_object_get(o, "scope");
    const char *title = json_string_value(json_object_get(o, "title"));
    const char *id = json_string_value(json_object_get(o, "id"));
    size_t n = json_array_size(scope);
    const char **ids = calloc(n + 1, sizeof *ids);
    if (ids == NULL) {
        json_decref(o);
        co__http_reply_error(c->req, CUTOFF_ENOMEM, NULL, NULL, NULL);
        return;
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = json_string_value(json_array_get(scope, i));
    char out[CUTOFF_ID_MAX + 1];
    cutoff_diag diag = {0};
    int rc = cutoff_db_case_open(c->d->db, c->who->principal, id, title, ids, n, out, &diag);
    free(ids);
    json_decref(o);
    if (rc != 0)
        return reply_error(c, rc, &diag, "opening the case");
    reply_ok(c, json_pack("{s:s}", "id", out));
}

static void case_evidence(admin_call *c)
{
    const char *type = co__http_query(c->req, "type"), *note = co__http_query(c->req, "note");
    const char *keep = co__http_query(c->req, "keep");
    if (type == NULL) {
        co__http_reply_error(
            c->req, CUTOFF_EINVAL, NULL,
            "give the evidence's media type as ?type=... (and ?note=..., ?keep=1 to keep "
            "the content)",
            NULL);
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
    int rc = cutoff_db_case_add_evidence(c->d->db, c->who->principal, c->id,
                                         co__http_body_path(c->req), base, type, note ? note : "",
                                         keep && strcmp(keep, "1") == 0, sha, &diag);
    if (rc != 0)
        return reply_error(c, rc, &diag, "adding evidence");
    reply_ok(c, json_pack("{s:s,s:s}", "case", c->id, "sha256", sha));
}

/* After a change to a case, the case as it now stands. */
static void reply_case(admin_call *c, int rc, const cutoff_diag *diag, const char *doing)
{
    if (rc != 0)
        return reply_error(c, rc, diag, doing);
    char *json;
    if ((rc = cutoff_db_case_show(c->d->db, c->id, &json)) != 0)
        return reply_error(c, rc, NULL, "reading the case");
    reply_owned_json(c, 200, json);
}

static void case_findings(admin_call *c)
{
    json_t *o = body_json(c);
    if (o == NULL)
        return;
    cutoff_diag diag = {0};
    const char *text = json_string_value(json_object_get(o, "findings"));
    int rc = cutoff_db_case_set_findings(c->d->db, c->who->principal, c->id, text, &diag);
    json_decref(o);
    reply_case(c, rc, &diag, "recording findings");
}

static void case_close(admin_call *c)
{
    cutoff_diag diag = {0};
    int rc = cutoff_db_case_close(c->d->db, c->who->principal, c->id, &diag);
    reply_case(c, rc, &diag, "closing the case");
}

static void action_propose(admin_call *c)
{
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

static void action_preview(admin_call *c)
{
    uint64_t offset, limit;
    if (!query_count(c, "offset", 0, UINT32_MAX, &offset) ||
        !query_count(c, "limit", 100, 10000, &limit))
        return;
    cutoff_snapshot *current = cutoff_engine_acquire(c->d->engine);
    char *json;
    cutoff_diag diag = {0};
    int rc = cutoff_db_action_preview(c->d->db, current, c->id, daemon_now(), (size_t)offset,
                                      (size_t)limit, &json, &diag);
    cutoff_snapshot_release(current);
    if (rc != 0)
        return reply_error(c, rc, &diag, "previewing the action");
    if (!audit_read(c))
        return cutoff_free(json);
    reply_owned_json(c, 200, json);
}

/* After approve or lift: in force for decisions, then the action as it now stands. */
static void reply_action_changed(admin_call *c, int rc, const cutoff_diag *diag, const char *doing)
{
    if (rc != 0)
        return reply_error(c, rc, diag, doing);
    refresh_after_change(c);
    char *json;
    if ((rc = cutoff_db_action_show(c->d->db, c->id, &json)) != 0)
        return reply_error(c, rc, NULL, "reading the action");
    reply_owned_json(c, 200, json);
}

static void action_approve(admin_call *c)
{
    cutoff_diag diag = {0};
    int rc = cutoff_db_action_approve(c->d->db, c->who->principal, c->id, daemon_now(), &diag);
    reply_action_changed(c, rc, &diag, "approving");
}

static void action_lift(admin_call *c)
{
    const char *reason = NULL;
    json_t *o = NULL;
    size_t len;
    co__http_body(c->req, &len);
    if (len > 0) {
        if ((o = body_json(c)) == NULL)
            return;
        reason = json_string_value(json_object_get(o, "reason"));
    }
    cutoff_diag diag = {0};
    int rc = cutoff_db_action_lift(c->d->db, c->who->principal, c->id, daemon_now(), reason, &diag);
    json_decref(o);
    reply_action_changed(c, rc, &diag, "lifting");
}

/* Shadow runs: one person starts and stops them (nothing is enforced);
 * the change is in force on this node when the answer is sent. */
static void reply_shadow_changed(admin_call *c, int rc, char *json, const cutoff_diag *diag,
                                 const char *doing)
{
    if (rc != 0)
        return reply_error(c, rc, diag, doing);
    refresh_after_change(c);
    reply_owned_json(c, 200, json);
}

static void action_shadow_start(admin_call *c)
{
    char *json = NULL;
    cutoff_diag diag = {0};
    int rc = cutoff_db_shadow_start(c->d->db, c->who->principal, c->id, daemon_now(), &json, &diag);
    reply_shadow_changed(c, rc, json, &diag, "starting the shadow run");
}

static void action_shadow_stop(admin_call *c)
{
    char *json = NULL;
    cutoff_diag diag = {0};
    int rc = cutoff_db_shadow_stop(c->d->db, c->who->principal, c->id, daemon_now(), &json, &diag);
    reply_shadow_changed(c, rc, json, &diag, "stopping the shadow run");
}

/* Every node's counts summed, next to the static preview; this node's own
 * are written first, so they are as of the call. */
static void action_shadow_report(admin_call *c)
{
    daemon_shadow_write_locked(c->d, false);
    cutoff_snapshot *current = cutoff_engine_acquire(c->d->engine);
    char *json = NULL;
    cutoff_diag diag = {0};
    int rc = cutoff_db_shadow_report(c->d->db, current, c->id, daemon_now(), &json, &diag);
    cutoff_snapshot_release(current);
    if (rc != 0)
        return reply_error(c, rc, &diag, "reporting the shadow run");
    if (!audit_read(c))
        return cutoff_free(json);
    reply_owned_json(c, 200, json);
}

/* The decision with its explanation, in the one decision shape
 * (cutoff_explanation_to_json): what `cutoff check --server` prints. */
static void explain(admin_call *c)
{
    cutoff_request r = {co__http_query(c->req, "subscription"), co__http_query(c->req, "action"),
                        co__http_query(c->req, "region"), daemon_now()};
    const char *at_text = co__http_query(c->req, "at");
    const char *as_of_text = co__http_query(c->req, "as_of");
    cutoff_diag diag = {0};
    if (r.subscription == NULL || r.action == NULL) {
        co__http_reply_error(c->req, CUTOFF_EINVAL, NULL,
                             "give ?subscription=...&action=... (and region, at or as_of)", NULL);
        return;
    }
    if (at_text && as_of_text) {
        co__http_reply_error(c->req, CUTOFF_EINVAL, NULL,
                             "give ?at (today's actions at a time) or ?as_of (the system as it "
                             "stood at that moment), not both",
                             NULL);
        return;
    }
    if (at_text && cutoff_time_parse(at_text, &r.at, &diag) != 0)
        return reply_error(c, CUTOFF_EINVAL, &diag, "?at");
    if (as_of_text && cutoff_time_parse(as_of_text, &r.at, &diag) != 0)
        return reply_error(c, CUTOFF_EINVAL, &diag, "?as_of");
    /* As of a moment: the actions and catalog of then. A past time may
     * need actions that ended since: the history. */
    int rc = 0;
    cutoff_snapshot *snap = NULL;
    if (as_of_text)
        rc = cutoff_db_snapshot_as_of(c->d->db, r.at, &snap, &diag);
    else if (r.at < atomic_load(&c->d->snapshot_from))
        snap = daemon_history_locked(c->d, &rc, &diag);
    else
        snap = cutoff_engine_acquire(c->d->engine);
    if (snap == NULL && rc != 0 && rc != CUTOFF_EUNAVAIL)
        return reply_error(c, rc, &diag, "building the state of that time");
    cutoff_explanation *x = NULL;
    char *json = NULL, base[320];
    rc =
        snap ? cutoff_explain(snap, r.subscription, r.action, r.region, r.at, &x) : CUTOFF_EUNAVAIL;
    if (rc == 0)
        rc = cutoff_explanation_to_json(x, &r, daemon_notice_base(c->d, base, sizeof base), &json);
    if (rc == 0 && as_of_text)
        rc = co__decision_mark_as_of(&json, r.at);
    cutoff_explanation_free(x);
    cutoff_snapshot_release(snap);
    if (rc != 0)
        return reply_error(c, rc, NULL, "explaining");
    if (!audit_read(c))
        return cutoff_free(json);
    reply_owned_json(c, 200, json);
}

/* The same decisions as the decision listener, for any principal: lets an
 * operator's tools use one URL. */
static void check_one(admin_call *c)
{
    decision_check(c->d, c->req, false, true);
}

static void check_batch(admin_call *c)
{
    decision_check(c->d, c->req, true, true);
}

static void audit_log(admin_call *c)
{
    uint64_t after, limit;
    if (!query_count(c, "after", 0, UINT64_MAX / 2, &after) ||
        !query_count(c, "limit", 1000, 100000, &limit))
        return;
    char *json;
    int rc = cutoff_db_audit_list(c->d->db, after, (size_t)limit, &json);
    if (rc != 0)
        return reply_error(c, rc, NULL, "reading the audit log");
    reply_owned_json(c, 200, json);
}

static void audit_verify(admin_call *c)
{
    cutoff_audit_report rep;
    memset(&rep, 0, sizeof rep);
    int rc = cutoff_db_audit_verify(c->d->db, &rep);
    if (rc != 0 && rc != CUTOFF_ETAMPER)
        return reply_error(c, rc, NULL, "verifying the audit log");
    json_t *o = json_pack("{s:b,s:I,s:s}", "verified", rc == 0, "records", (json_int_t)rep.records,
                          "head", rep.head_hex);
    if (o && rc != 0) {
        json_object_set_new(o, "first_bad", json_integer((json_int_t)rep.first_bad));
        json_object_set_new(o, "problem", json_string(rep.problem));
    }
    reply_ok(c, o);
}

/* The newest signed head: the document an auditor publishes and later
 * gives 'cutoff audit verify --head'. */
static void audit_head(admin_call *c)
{
    char *json;
    int rc = cutoff_db_audit_head(c->d->db, &json);
    if (rc != 0)
        return reply_error(c, rc, NULL, "reading the signed audit head");
    reply_owned_json(c, 200, json);
}

/* ---- the route table ------------------------------------------------------------ */

#define READERS (ROLE_VIEWER | ROLE_INVESTIGATOR | ROLE_ENFORCER | ROLE_APPROVER)
#define ANYONE (READERS | ROLE_ADMIN)

/* The whole admin API. {id} stands for one path segment (an id); admin may
 * call everything, so ROLE_ADMIN is implied in every row. */
static const admin_route admin_route_table[] = {
    {"GET", "/v1/whoami", "whoami", ANYONE, false, whoami},
    {"GET", "/v1/catalog", "catalog.show", READERS, false, catalog_show},
    {"PUT", "/v1/catalog", "catalog.load", ROLE_ADMIN, false, catalog_load},
    {"POST", "/v1/nodes/import", "nodes.import", ROLE_ADMIN, true, nodes_import},
    {"GET", "/v1/nodes/{id}", "nodes.show", READERS, false, node_show},
    {"GET", "/v1/cases", "case.list", READERS, false, case_list},
    {"POST", "/v1/cases", "case.open", ROLE_INVESTIGATOR, false, case_open},
    {"GET", "/v1/cases/{id}", "case.show", READERS, false, case_show},
    {"POST", "/v1/cases/{id}/evidence", "case.evidence", ROLE_INVESTIGATOR, true, case_evidence},
    {"POST", "/v1/cases/{id}/findings", "case.findings", ROLE_INVESTIGATOR, false, case_findings},
    {"POST", "/v1/cases/{id}/close", "case.close", ROLE_INVESTIGATOR, false, case_close},
    {"GET", "/v1/actions", "action.list", READERS, false, action_list},
    {"POST", "/v1/actions", "action.propose", ROLE_INVESTIGATOR | ROLE_ENFORCER, false,
     action_propose},
    {"GET", "/v1/actions/{id}", "action.show", READERS, false, action_show},
    {"GET", "/v1/actions/{id}/preview", "action.preview",
     ROLE_INVESTIGATOR | ROLE_ENFORCER | ROLE_APPROVER, false, action_preview},
    {"GET", "/v1/actions/{id}/shadow", "action.shadow",
     ROLE_INVESTIGATOR | ROLE_ENFORCER | ROLE_APPROVER, false, action_shadow_report},
    {"POST", "/v1/actions/{id}/shadow/start", "action.shadow.start",
     ROLE_INVESTIGATOR | ROLE_ENFORCER, false, action_shadow_start},
    {"POST", "/v1/actions/{id}/shadow/stop", "action.shadow.stop",
     ROLE_INVESTIGATOR | ROLE_ENFORCER, false, action_shadow_stop},
    {"POST", "/v1/actions/{id}/approve", "action.approve", ROLE_APPROVER, false, action_approve},
    {"POST", "/v1/actions/{id}/lift", "action.lift", ROLE_ENFORCER | ROLE_APPROVER, false,
     action_lift},
    {"GET", "/v1/explain", "check.explain", READERS, false, explain},
    {"POST", "/v1/check", "check", ANYONE, false, check_one},
    {"POST", "/v1/check/batch", "check.batch", ANYONE, false, check_batch},
    {"GET", "/v1/audit", "audit.log", READERS, false, audit_log},
    {"GET", "/v1/audit/verify", "audit.verify", READERS, false, audit_verify},
    {"GET", "/v1/audit/head", "audit.head", READERS, false, audit_head},
};
#define N_ROUTES (sizeof admin_route_table / sizeof admin_route_table[0])
_Static_assert(N_ROUTES + 2 <= N_ADMIN_VERBS, "metrics keep a counter per admin verb");

const admin_route *admin_routes(size_t *n)
{
    *n = N_ROUTES;
    return admin_route_table;
}

int admin_routes_print(FILE *out, bool json)
{
    static const struct {
        unsigned role;
        const char *name;
    } roles[] = {{ROLE_VIEWER, "viewer"},
                 {ROLE_INVESTIGATOR, "investigator"},
                 {ROLE_ENFORCER, "enforcer"},
                 {ROLE_APPROVER, "approver"},
                 {ROLE_ADMIN, "admin"}};
    if (!json) {
        fprintf(out, "| method | path | verb |");
        for (size_t k = 0; k < sizeof roles / sizeof roles[0]; k++)
            fprintf(out, " %s |", roles[k].name);
        fprintf(out, "\n|---|---|---|");
        for (size_t k = 0; k < sizeof roles / sizeof roles[0]; k++)
            fprintf(out, ":-:|");
        fprintf(out, "\n");
    }
    for (size_t i = 0; i < N_ROUTES; i++) {
        const admin_route *r = &admin_route_table[i];
        json_t *allowed = json_array();
        if (!json)
            fprintf(out, "| %s | `%s` | %s |", r->method, r->path, r->verb);
        for (size_t k = 0; k < sizeof roles / sizeof roles[0]; k++) {
            bool may = tokens_allows(roles[k].role, r->roles);
            if (json && may)
                json_array_append_new(allowed, json_string(roles[k].name));
            else if (!json)
                fprintf(out, " %s |", may ? "yes" : "-");
        }
        if (json) {
            json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:b}", "method", r->method, "path", r->path,
                                  "verb", r->verb, "roles", allowed, "spool", r->spool);
            char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            json_decref(o);
            if (text == NULL)
                return -1;
            fprintf(out, "%s\n", text);
            free(text);
        } else {
            json_decref(allowed);
            fprintf(out, "\n");
        }
    }
    return fflush(out) == 0 ? 0 : -1;
}

/* Whether path matches the pattern; the {id} segment is copied into id
 * (percent-decoding is not done: ids are plain [A-Za-z0-9._:-]). */
static bool path_matches(const char *pattern, const char *path, char *id, size_t id_len)
{
    while (*pattern && *path) {
        if (strncmp(pattern, "{id}", 4) == 0) {
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= id_len)
                return false;
            memcpy(id, path, n);
            id[n] = '\0';
            pattern += 4;
            path += n;
        } else if (*pattern++ != *path++) {
            return false;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

const admin_route *admin_route_find(const char *method, const char *path, char *id, size_t id_len,
                                    const char **allow)
{
    *allow = NULL;
    for (size_t i = 0; i < N_ROUTES; i++) {
        const admin_route *r = &admin_route_table[i];
        if (!path_matches(r->path, path, id, id_len))
            continue;
        if (strcmp(r->method, method) == 0)
            return r;
        *allow = r->method;
    }
    return NULL;
}

/* ---- dispatch ------------------------------------------------------------------ */

/* The one check of a call: the bearer token, the route, the role, into c;
 * false when refused (answered). It runs when the head is complete, before
 * any of the body is read (admin_admit: a caller that fails is answered at
 * once and its body is discarded unread; an upload's body goes to a file
 * only for a caller that passes), and again when the body is complete
 * (admin_handle). */
static bool authorise(cutoffd *d, co__http_req *req, admin_call *c)
{
    *c = (admin_call){.d = d, .req = req};
    const char *auth = co__http_header(req, "Authorization");
    const char *token = auth && strncasecmp(auth, "Bearer ", 7) == 0 ? auth + 7 : NULL;
    c->who = tokens_find(atomic_load(&d->tokens), token);
    if (c->who == NULL) {
        co__http_set_label(req, NULL, "unauthenticated");
        co__http_reply_error(
            req, CUTOFF_EAUTH, NULL,
            token ? "the bearer token is not known" : "send Authorization: Bearer TOKEN",
            (const char *const[]){"WWW-Authenticate", "Bearer realm=\"cutoff\"", NULL});
        return false;
    }
    co__http_set_label(req, c->who->principal, NULL);
    const char *allow;
    c->route =
        admin_route_find(co__http_method(req), co__http_path(req), c->id, sizeof c->id, &allow);
    if (c->route == NULL && allow) {
        co__http_reply_error(req, CUTOFF_EMETHOD, NULL,
                             "this admin resource does not take that method",
                             (const char *const[]){"Allow", allow, NULL});
        return false;
    }
    if (c->route == NULL) {
        co__http_reply_error(
            req, CUTOFF_ENOTFOUND, NULL,
            "no such admin resource; `cutoffd --routes` and docs/cutoffd.md list them", NULL);
        return false;
    }
    co__http_set_label(req, NULL, c->route->verb);
    if (!tokens_allows(c->who->roles, c->route->roles)) {
        char have[128], need[128], detail[400];
        snprintf(detail, sizeof detail,
                 "principal \"%s\" has roles %s; %s needs one of %s (or admin)", c->who->principal,
                 tokens_roles_text(c->who->roles, have, sizeof have), c->route->verb,
                 tokens_roles_text(c->route->roles, need, sizeof need));
        co__http_reply_error(req, CUTOFF_EPERM, CO__PROBLEM_ROLE, detail, NULL);
        return false;
    }
    return true;
}

void admin_admit(void *ctx, co__http_req *req)
{
    cutoffd *d = ctx;
    if (ops_handle(d, req))
        return;
    admin_call c;
    if (!authorise(d, req, &c))
        return;
    admin_call *kept = malloc(sizeof *kept);
    if (kept == NULL) {
        co__http_reply_error(req, CUTOFF_ENOMEM, NULL, NULL, NULL);
        return;
    }
    *kept = c;
    co__http_set_data(req, kept, free);
    if (c.route->spool)
        co__http_spool_body(req);
}

/* An admitted call, its body complete: run it under the write lock. */
void admin_handle(void *ctx, co__http_req *req)
{
    cutoffd *d = ctx;
    admin_call *c = co__http_data(req);
    if (c == NULL) {
        co__http_reply_error(req, CUTOFF_EIO, NULL, "the call was not admitted", NULL);
        return;
    }
    /* Once more against the tokens in force now: a token revoked (SIGHUP)
     * while its body was arriving does not get to change anything. */
    if (!authorise(d, req, c))
        return;
    int64_t asked = co__monotonic_ms();
    pthread_mutex_lock(&d->write_lock);
    int64_t locked = co__monotonic_ms();
    if (d->db == NULL) {
        /* Started while the store could not be reached: nothing to read
         * or write through yet. */
        char why[400];
        daemon_store_status(d, why, sizeof why);
        co__http_reply_error(req, CUTOFF_EUNAVAIL, NULL, why[0] ? why : NULL, NULL);
    } else {
        c->route->handler(c);
    }
    pthread_mutex_unlock(&d->write_lock);
    int64_t done = co__monotonic_ms();
    if (done - asked >= DAEMON_SLOW_MS)
        daemon_log(d, "warn", "slow_admin_call",
                   json_pack("{s:s,s:I,s:I}", "verb", c->route->verb, "lock_wait_ms",
                             (json_int_t)(locked - asked), "ran_ms", (json_int_t)(done - locked)));
}
