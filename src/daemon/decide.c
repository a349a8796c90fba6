/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decide.c - the decision listener: POST /v1/check, POST /v1/check/batch,
 * GET /v1/authz for gateways, and the health and metrics endpoints.
 *
 * Every handler reads the current snapshot through this thread's engine
 * reader and answers before leaving it, so the strings of the deciding
 * action stay valid while the response is built. Anything malformed or
 * unknown fails closed.
 */
#include "daemon/daemon.h"

#include "common/as_of.h"
#include "common/text.h"

#include <stdlib.h>
#include <string.h>

#define PROBLEM_BASE "urn:cutoff:problem:"

static const char *problem_title(cutoff_reason reason)
{
    switch (reason) {
    case CUTOFF_REASON_SUSPENDED: return "Service suspended for this subscription";
    case CUTOFF_REASON_READ_ONLY: return "Read-only: only reading and export are allowed";
    case CUTOFF_REASON_NOT_ENTITLED: return "The subscription's plan does not include this action";
    case CUTOFF_REASON_UNKNOWN_SUBSCRIPTION: return "Unknown subscription";
    case CUTOFF_REASON_UNKNOWN_ACTION: return "Unknown action";
    case CUTOFF_REASON_ALLOW: break;
    }
    return "Allowed";
}

const char *daemon_notice_base(cutoffd *d, char *buf, size_t n)
{
    const char *base = daemon_live(d)->notice_base;
    if (base != NULL || d->decision == NULL || d->cfg.decision_listen == NULL)
        return base;
    const char *listen = d->cfg.decision_listen, *colon = strrchr(listen, ':');
    int host_len = colon ? (int)(colon - listen) : (int)strlen(listen);
    const char *host = listen;
    /* A customer cannot reach a wildcard address: loopback is the one
     * this host surely answers on (docs/cutoffd.md: set notice_base). */
    if (host_len == 0 || (host_len == 7 && strncmp(host, "0.0.0.0", 7) == 0))
        host = "127.0.0.1", host_len = 9;
    else if (host_len == 4 && strncmp(host, "[::]", 4) == 0)
        host = "[::1]", host_len = 5;
    snprintf(buf, n, "http://%.*s:%u/v1/notices/", host_len, host, co__http_port(d->decision));
    return buf;
}

/* The decision as its one JSON shape (cutoff_verdict_to_json), with this
 * deployment's notice base; NULL when out of memory. */
static char *verdict_text(cutoffd *d, const cutoff_verdict *v, const cutoff_request *r)
{
    char *text = NULL, base[320];
    return cutoff_verdict_to_json(v, r, daemon_notice_base(d, base, sizeof base), &text) == 0
               ? text
               : NULL;
}

static void bad_request(cutoffd *d, co__http_req *req, const char *detail)
{
    metrics_decision(&d->metrics, OUTCOME_BAD_REQUEST, co__http_elapsed_ns(req));
    co__http_reply_error(req, CUTOFF_EPARSE, PROBLEM_BASE "bad-request", detail, NULL);
}

bool decision_request_read(json_t *o, cutoff_request *r, bool *as_of, char *err, size_t n)
{
    if (!json_is_object(o)) {
        snprintf(err, n, "a check request must be a JSON object");
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach (o, key, v) {
        if (strcmp(key, "as_of") == 0 && as_of == NULL) {
            snprintf(err, n,
                     "\"as_of\" (decisions as the system stood at a past moment) is answered "
                     "on the admin listener only");
            return false;
        }
        if (strcmp(key, "subscription") && strcmp(key, "action") && strcmp(key, "region") &&
            strcmp(key, "at") && strcmp(key, "as_of")) {
            snprintf(err, n, "unknown key \"%.64s\" (allowed: subscription, action, region, at)",
                     key);
            co__msg_clean(err); /* the key is the client's */
            return false;
        }
    }
    r->subscription = json_string_value(json_object_get(o, "subscription"));
    r->action = json_string_value(json_object_get(o, "action"));
    if (r->subscription == NULL || r->action == NULL) {
        snprintf(err, n, "\"subscription\" and \"action\" are required strings");
        return false;
    }
    json_t *g = json_object_get(o, "region");
    if (g && !json_is_null(g) && !json_is_string(g)) {
        snprintf(err, n, "\"region\" must be a string or null");
        return false;
    }
    r->region = json_string_value(g);
    /* "at": today's actions at that time; "as_of": the system as it stood
     * at that moment, about that moment. One time, so not both. */
    json_t *t = json_object_get(o, "at"), *then = json_object_get(o, "as_of");
    const char *name = "at";
    if (as_of)
        *as_of = then != NULL && !json_is_null(then);
    if (as_of && *as_of) {
        if (t != NULL && !json_is_null(t)) {
            snprintf(err, n, "give \"at\" or \"as_of\", not both");
            return false;
        }
        t = then;
        name = "as_of";
    }
    r->at = daemon_now();
    if (json_is_integer(t)) {
        r->at = json_integer_value(t);
    } else if (json_is_string(t)) {
        cutoff_diag diag;
        if (cutoff_time_parse(json_string_value(t), &r->at, &diag) != 0) {
            snprintf(err, n, "\"%s\": %.200s", name, diag.message);
            co__msg_clean(err); /* the cut may fall inside a character */
            return false;
        }
    } else if (t && !json_is_null(t)) {
        snprintf(err, n, "\"%s\" must be RFC 3339, Unix seconds or null", name);
        return false;
    }
    return true;
}

json_t *decision_body_parse(const char *body, size_t len, bool batch, json_t **requests, char *err,
                            size_t n)
{
    json_error_t je;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    *requests = NULL;
    if (doc == NULL) {
        snprintf(err, n, "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
        co__msg_clean(err); /* jansson's text quotes the input */
        return NULL;
    }
    *requests = batch ? json_object_get(doc, "requests") : NULL;
    if (batch && (!json_is_array(*requests) || json_object_size(doc) != 1)) {
        json_decref(doc);
        *requests = NULL;
        snprintf(err, n, "a batch is {\"requests\": [ {subscription, action, region, at}, ... ]}");
        return NULL;
    }
    return doc;
}

/* Decides one request object into its decision JSON (release with
 * cutoff_free). NULL when the request has been answered instead: the item
 * is malformed (index names it in a batch; -1 for a single check) or out
 * of memory. */
/* The snapshot of the last as-of instant a call asked about (admin only:
 * building one reads the database, under write_lock). */
typedef struct as_of_cache {
    bool live; /* the snapshot is the published one: shadow runs observe */
    bool allowed;
    cutoff_snapshot *snap;
    int64_t at;
} as_of_cache;

static char *decide_one(cutoffd *d, co__http_req *req, const cutoff_snapshot *snap, json_t *item,
                        long index, as_of_cache *then)
{
    cutoff_request r;
    bool as_of = false;
    char err[300], where[400];
    if (!decision_request_read(item, &r, then->allowed ? &as_of : NULL, err, sizeof err)) {
        snprintf(where, sizeof where, "requests[%ld]: %s", index, err);
        bad_request(d, req, index < 0 ? err : where);
        return NULL;
    }
    if (as_of && (then->snap == NULL || then->at != r.at)) {
        cutoff_diag diag = {0};
        cutoff_snapshot_release(then->snap);
        then->snap = NULL;
        int rc = cutoff_db_snapshot_as_of(d->db, r.at, &then->snap, &diag);
        if (rc != 0) {
            const char *why = diag.message[0] ? diag.message : cutoff_strerror(rc);
            if (index < 0)
                snprintf(where, sizeof where, "%.300s", why);
            else
                snprintf(where, sizeof where, "requests[%ld]: %.300s", index, why);
            co__http_reply_error(req, rc, NULL, where, NULL);
            return NULL;
        }
        then->at = r.at;
    }
    cutoff_verdict v;
    cutoff_check(as_of ? then->snap : snap, r.subscription, r.action, r.region, r.at, &v);
    if (then->live && !as_of)
        daemon_shadow_observe(d, &r, &v, co__http_request_id(req), index);
    metrics_outcome(&d->metrics, (int)v.reason);
    char *text = verdict_text(d, &v, &r);
    if (text != NULL && as_of)
        co__decision_mark_as_of(&text, r.at);
    if (text == NULL)
        co__http_reply_error(req, CUTOFF_ENOMEM, NULL, "could not encode the answer", NULL);
    return text;
}

/* The decisions of a batch as {"results": [...]}; NULL when the request
 * has been answered instead. */
static char *decide_batch(cutoffd *d, co__http_req *req, const cutoff_snapshot *snap,
                          json_t *requests, as_of_cache *then)
{
    char *answer = NULL;
    size_t answer_len = 0;
    FILE *out = open_memstream(&answer, &answer_len);
    bool failed = out == NULL;
    if (out)
        fputs("{\"results\":[", out);
    for (size_t i = 0; !failed && i < json_array_size(requests); i++) {
        char *text = decide_one(d, req, snap, json_array_get(requests, i), (long)i, then);
        if (text)
            fprintf(out, "%s%s", i ? "," : "", text);
        failed = text == NULL;
        cutoff_free(text);
    }
    if (out) {
        fputs("]}", out);
        if (fclose(out) != 0 && !failed) {
            co__http_reply_error(req, CUTOFF_ENOMEM, NULL, "could not encode the answer", NULL);
            failed = true;
        }
    } else {
        co__http_reply_error(req, CUTOFF_ENOMEM, NULL, "could not encode the answer", NULL);
    }
    if (failed) {
        free(answer);
        return NULL;
    }
    return answer;
}

/* Whether a request object names an "at" before `from` (a malformed one
 * is refused later, by decide_one). */
static bool asks_before(const json_t *item, int64_t from)
{
    const json_t *t = json_object_get(item, "at");
    int64_t at;
    if (json_is_integer(t))
        return json_integer_value(t) < from;
    return json_is_string(t) && cutoff_time_parse(json_string_value(t), &at, NULL) == 0 &&
           at < from;
}

/* The history snapshot (daemon_history_locked), taking write_lock unless
 * the caller holds it; NULL when it cannot be built (answered then). */
static cutoff_snapshot *history(cutoffd *d, co__http_req *req, bool locked)
{
    int rc;
    cutoff_diag diag = {0};
    if (!locked)
        pthread_mutex_lock(&d->write_lock);
    cutoff_snapshot *snap = daemon_history_locked(d, &rc, &diag);
    if (!locked)
        pthread_mutex_unlock(&d->write_lock);
    if (snap == NULL)
        co__http_reply_error(req, rc, NULL, diag.message[0] ? diag.message : NULL, NULL);
    return snap;
}

void decision_check(cutoffd *d, co__http_req *req, bool batch, bool locked)
{
    size_t len;
    const char *body = co__http_body(req, &len);
    char err[300], stale[600];
    /* Past max_staleness_s without the store: answer 503 so that a load
     * balancer takes this node out, rather than enforce a state that may
     * be long gone. */
    if (daemon_too_stale(d, stale, sizeof stale)) {
        co__http_reply_error(req, CUTOFF_EUNAVAIL, NULL, stale, NULL);
        return;
    }
    json_t *requests;
    json_t *doc = decision_body_parse(body, len, batch, &requests, err, sizeof err);
    if (doc == NULL) {
        bad_request(d, req, err);
        return;
    }
    cutoff_reader *reader = daemon_reader(d);
    const cutoff_snapshot *snap = reader ? cutoff_reader_enter(reader) : NULL;
    cutoff_snapshot *past = NULL;
    as_of_cache then = {.live = true, .allowed = locked};
    bool decided = false; /* refusals count their own latency */
    if (snap != NULL) {
        /* A time before the live snapshot's may need actions that ended
         * since, which it leaves out: those requests go to the history. */
        int64_t from = atomic_load(&d->snapshot_from);
        bool before = false;
        for (size_t i = 0; batch && !before && i < json_array_size(requests); i++)
            before = asks_before(json_array_get(requests, i), from);
        if (!batch)
            before = asks_before(doc, from);
        if (before) {
            cutoff_reader_exit(reader);
            reader = NULL;
            snap = past = history(d, req, locked);
            then.live = false;
            if (past == NULL)
                goto out;
        }
    }
    if (snap == NULL) {
        co__http_reply_error(req, CUTOFF_EUNAVAIL, NULL, NULL, NULL);
    } else if (batch) {
        char *answer = decide_batch(d, req, snap, requests, &then);
        if ((decided = answer != NULL))
            co__http_reply_json(req, 200, answer, NULL);
        free(answer);
    } else {
        /* One decision: its text is the answer, with no copy in between. */
        char *answer = decide_one(d, req, snap, doc, -1, &then);
        if ((decided = answer != NULL))
            co__http_reply_json(req, 200, answer, NULL);
        cutoff_free(answer);
    }
out:
    if (reader)
        cutoff_reader_exit(reader);
    cutoff_snapshot_release(past);
    cutoff_snapshot_release(then.snap);
    json_decref(doc);
    if (decided)
        metrics_latency(&d->metrics, co__http_elapsed_ns(req));
}

/* Fails a gateway's request closed: 403 whichever endpoint was asked, with
 * reason bad_request (it cannot be decided unambiguously) or no_route. */
static void refuse_forwarded(cutoffd *d, co__http_req *req, bool no_route, const char *detail)
{
    const char *reason = no_route ? "no_route" : "bad_request";
    char type[64], extra[96];
    snprintf(type, sizeof type, PROBLEM_BASE "%s", no_route ? "no-route" : "bad-request");
    snprintf(extra, sizeof extra, "{\"decision\":\"deny\",\"reason\":\"%s\"}", reason);
    metrics_decision(&d->metrics, no_route ? OUTCOME_NO_ROUTE : OUTCOME_BAD_REQUEST,
                     co__http_elapsed_ns(req));
    co__http_reply_problem(
        req, 403, type, "Forbidden", detail, extra,
        (const char *const[]){"Cutoff-Decision", "deny", "Cutoff-Reason", reason, NULL});
}

/* The value of a header the request carries exactly once; NULL when it is
 * absent or repeated (a second copy may have come from the client through
 * the gateway). Envoy's convention reads the check's request line under
 * pseudo-header names no client can send: ":method" is the check's method,
 * ":path" its target as sent, less ENVOY_AUTHZ_PREFIX (NULL when the
 * target is not the prefix followed by a "/"). */
static const char *single_header(void *req, const char *name, bool *repeated)
{
    if (name[0] == ':') {
        *repeated = false;
        if (strcmp(name, ":method") == 0)
            return co__http_method(req);
        const char *target = co__http_target(req);
        size_t n = sizeof ENVOY_AUTHZ_PREFIX - 1;
        return target && strncmp(target, ENVOY_AUTHZ_PREFIX, n) == 0 && target[n] == '/'
                   ? target + n
                   : NULL;
    }
    unsigned count;
    const char *value = co__http_header_once(req, name, &count);
    *repeated = count > 1;
    return value;
}

int forwarded_map(const daemon_config *c, forwarded_header_fn header, void *ctx, char *scratch,
                  size_t n, char **heap, cutoff_request *asked, char *why, size_t why_len)
{
    /* Only the configured convention's headers are read: the others' may
     * have come from the client through the gateway. */
    static const char *const names[][2] = {
        [FORWARD_NGINX] = {"X-Original-Method", "X-Original-URI"},
        [FORWARD_FORWARDED] = {"X-Forwarded-Method", "X-Forwarded-Uri"},
        [FORWARD_ENVOY] = {":method", ":path"}, /* the request line (single_header) */
    };
    const char *method_name = names[c->convention][0], *uri_name = names[c->convention][1];
    bool repeated_method, repeated_uri;
    const char *method = header(ctx, method_name, &repeated_method);
    const char *uri = header(ctx, uri_name, &repeated_uri);
    if (uri == NULL && uri_name[0] == ':') {
        snprintf(why, why_len,
                 "the check's target is not " ENVOY_AUTHZ_PREFIX
                 " followed by the original path; denying");
        return CUTOFF_EPARSE;
    }
    if (method == NULL || uri == NULL) {
        snprintf(why, why_len, "the gateway sent %s %s; denying",
                 repeated_method || repeated_uri ? "more than one" : "no",
                 method == NULL ? method_name : uri_name);
        return CUTOFF_EPARSE;
    }
    if (!route_method_check(method))
        return snprintf(why, why_len, "the forwarded method is not an HTTP token; denying"),
               CUTOFF_EPARSE;
    if (!route_uri_check(uri, why, why_len))
        return CUTOFF_EPARSE;
    if (strlen(uri) + 1 > n && (scratch = *heap = malloc(strlen(uri) + 1)) == NULL)
        return snprintf(why, why_len, "out of memory"), CUTOFF_ENOMEM;
    route_match m;
    if (!route_find(c, method, uri, scratch, &m))
        return snprintf(why, why_len,
                        "no route rule maps this method and path to a subscription and "
                        "action; denying"),
               CUTOFF_ENOTFOUND;
    const route *r = m.route;
    bool repeated_sub = false, repeated_region = false;
    const char *sub = r->subscription_header ? header(ctx, r->subscription_header, &repeated_sub)
                                             : m.subscription;
    const char *region_value =
        r->region_header ? header(ctx, r->region_header, &repeated_region) : NULL;
    if (repeated_sub || repeated_region)
        return snprintf(why, why_len,
                        "the request repeats the header that names its subscription or "
                        "region; denying"),
               CUTOFF_EPARSE;
    if (sub == NULL) {
        snprintf(why, why_len,
                 "route %.100s %.120s takes the subscription from the %.40s header, "
                 "which the request lacks; denying",
                 r->method, r->path, r->subscription_header);
        co__msg_clean(why); /* the route's text may be cut inside a character */
        return CUTOFF_EPARSE;
    }
    if (!cutoff_id_valid(sub))
        return snprintf(why, why_len,
                        "the forwarded subscription is not an id (1-128 of [A-Za-z0-9._:-]); "
                        "denying"),
               CUTOFF_EPARSE;
    *asked = (cutoff_request){sub, r->action,
                              region_value ? region_value
                              : r->region  ? r->region
                                           : m.region,
                              daemon_now()};
    return 0;
}

/* Reads the original request a gateway forwards (forwarded_map); on false
 * the request has been answered (failed closed). */
static bool read_forwarded(cutoffd *d, co__http_req *req, char *scratch, size_t n, char **heap,
                           cutoff_request *asked)
{
    char why[400];
    int rc =
        forwarded_map(daemon_live(d), single_header, req, scratch, n, heap, asked, why, sizeof why);
    if (rc == CUTOFF_ENOMEM)
        co__http_reply_error(req, CUTOFF_ENOMEM, NULL, NULL, NULL);
    else if (rc != 0)
        refuse_forwarded(d, req, rc == CUTOFF_ENOTFOUND, why);
    return rc == 0;
}

/* The three ways a gateway asks: GET /v1/authz, GET /v1/authz/nginx, and
 * Envoy's check under ENVOY_AUTHZ_PREFIX. */
typedef enum authz_endpoint { AUTHZ_PLAIN, AUTHZ_NGINX, AUTHZ_ENVOY } authz_endpoint;

/* Answers a decision to a gateway: 204 for an allow (200 for Envoy, which
 * takes nothing else for one); for a deny the problem body (the decision's
 * members) with the Cutoff-* headers and, on a 451, the Link to the
 * notice. For nginx every denial is 403 (auth_request accepts only 2xx,
 * 401 and 403) and the real status travels in Cutoff-Status and the body. */
static void answer_authz(cutoffd *d, co__http_req *req, authz_endpoint endpoint,
                         const cutoff_verdict *v, const cutoff_request *asked)
{
    bool for_nginx = endpoint == AUTHZ_NGINX;
    if (v->reason == CUTOFF_REASON_ALLOW) {
        co__http_reply(
            req, endpoint == AUTHZ_ENVOY ? 200 : 204, NULL, "", 0,
            (const char *const[]){"Cutoff-Decision", "allow", "Cutoff-Reason", "allow", NULL});
        return;
    }
    int status = cutoff_verdict_status(v);
    char status_text[8], *link = NULL, *url = NULL;
    snprintf(status_text, sizeof status_text, "%d", status);
    const char *headers[16];
    size_t h = 0;
    headers[h++] = "Cutoff-Decision", headers[h++] = "deny";
    headers[h++] = "Cutoff-Reason", headers[h++] = cutoff_reason_name(v->reason);
    headers[h++] = "Cutoff-Status", headers[h++] = status_text;
    if (v->by) {
        headers[h++] = "Cutoff-Action", headers[h++] = v->by->id;
        if (v->by->case_id)
            headers[h++] = "Cutoff-Case", headers[h++] = v->by->case_id;
        char base[320];
        if (status == 451 &&
            cutoff_notice_url(v->by, daemon_notice_base(d, base, sizeof base), &url) == 0 && url &&
            asprintf(&link, "<%s>; rel=\"blocked-by\"", url) >= 0)
            headers[h++] = "Link", headers[h++] = link;
    }
    headers[h] = NULL;
    char *extra_text = verdict_text(d, v, asked);
    char type[64];
    snprintf(type, sizeof type, PROBLEM_BASE "%s", cutoff_reason_name(v->reason));
    const char *detail =
        v->by && v->by->notice.summary ? v->by->notice.summary : "this request is denied by cutoff";
    co__http_reply_problem(req, for_nginx ? 403 : status, type, problem_title(v->reason), detail,
                           extra_text, headers);
    cutoff_free(extra_text);
    cutoff_free(url);
    free(link);
}

/* GET /v1/authz, /v1/authz/nginx and Envoy's checks: decides the original
 * request a gateway forwards. Envoy's checks are answered only on a
 * listener of its convention, and the other endpoints only on one of the
 * other conventions: each reads the original request in another place. */
static void handle_authz(cutoffd *d, co__http_req *req, authz_endpoint endpoint)
{
    bool for_nginx = endpoint == AUTHZ_NGINX;
    bool envoy_listener = daemon_live(d)->convention == FORWARD_ENVOY;
    if (envoy_listener != (endpoint == AUTHZ_ENVOY)) {
        refuse_forwarded(d, req, false,
                         envoy_listener
                             ? "this listener takes Envoy's checks (forward_headers \"envoy\"), "
                               "under " ENVOY_AUTHZ_PREFIX "/; denying"
                             : "checks under " ENVOY_AUTHZ_PREFIX
                               "/ are read only with forward_headers \"envoy\"; denying");
        return;
    }
    char scratch[1024], *heap = NULL; /* captures: on the stack for usual URIs */
    cutoff_request asked;
    char stale[600];
    if (daemon_too_stale(d, stale, sizeof stale)) {
        if (for_nginx)
            co__http_reply_problem(req, 403, NULL, "Forbidden", stale, "{\"code\":\"EUNAVAIL\"}",
                                   NULL);
        else
            co__http_reply_error(req, CUTOFF_EUNAVAIL, NULL, stale, NULL);
        return;
    }
    bool readable = read_forwarded(d, req, scratch, sizeof scratch, &heap, &asked);
    cutoff_reader *reader = readable ? daemon_reader(d) : NULL;
    const cutoff_snapshot *snap = reader ? cutoff_reader_enter(reader) : NULL;
    if (readable && snap == NULL) {
        if (for_nginx)
            co__http_reply_problem(req, 403, NULL, "Forbidden",
                                   "no snapshot is published yet; denying",
                                   "{\"code\":\"EUNAVAIL\"}", NULL);
        else
            co__http_reply_error(req, CUTOFF_EUNAVAIL, NULL,
                                 "no snapshot is published yet; denying", NULL);
    } else if (readable) {
        cutoff_verdict v;
        cutoff_check(snap, asked.subscription, asked.action, asked.region, asked.at, &v);
        daemon_shadow_observe(d, &asked, &v, co__http_request_id(req), -1);
        answer_authz(d, req, endpoint, &v, &asked);
        metrics_decision(&d->metrics, (int)v.reason, co__http_elapsed_ns(req));
    }
    if (reader)
        cutoff_reader_exit(reader);
    free(heap);
}

/* ---- notices to the customer ------------------------------------------ */

#define NOTICES_PATH "/v1/notices"

/* A read-only handle of its own for each request: the notices are read
 * by anyone, and must never wait on (or hold up) the writer's lock. */
static cutoff_db *notices_db(cutoffd *d, co__http_req *req)
{
    cutoff_db *db = NULL;
    cutoff_diag diag = {0};
    int rc = cutoff_db_open(d->cfg.database, CUTOFF_DB_READ_ONLY, &db, &diag);
    if (rc != 0) {
        daemon_log(d, "error", "notices.db",
                   json_pack("{s:s,s:s}", "error", cutoff_errname(rc), "detail", diag.message));
        co__http_reply_error(req, rc == CUTOFF_ENOMEM ? rc : CUTOFF_ESTORE, NULL,
                             "the notices cannot be read now", NULL);
        return NULL;
    }
    return db;
}

static void notice_failed(co__http_req *req, int rc, const char *what, const char *id)
{
    char detail[256];
    if (rc == CUTOFF_ENOTFOUND)
        snprintf(detail, sizeof detail, "no %s \"%s\"", what, id);
    else
        snprintf(detail, sizeof detail, "the notices cannot be read now");
    co__http_reply_error(req, rc == CUTOFF_ENOTFOUND || rc == CUTOFF_ENOMEM ? rc : CUTOFF_ESTORE,
                         NULL, detail, NULL);
}

/* Whether the client asks for the letter: ?format=text, or an Accept of
 * text/plain without JSON; *bad when ?format names neither. */
static bool wants_text(co__http_req *req, bool *bad)
{
    const char *format = co__http_query(req, "format");
    *bad = false;
    if (format != NULL) {
        *bad = strcmp(format, "text") != 0 && strcmp(format, "json") != 0;
        return strcmp(format, "text") == 0;
    }
    const char *accept = co__http_header(req, "Accept");
    return accept && strstr(accept, "text/plain") && !strstr(accept, "json");
}

/* GET /v1/notices/{id}[?version=N][&format=text|json] */
static void notice_one(cutoffd *d, co__http_req *req, const char *id)
{
    const char *version_text = co__http_query(req, "version");
    uint64_t version = 0;
    bool bad_format;
    bool text = wants_text(req, &bad_format);
    if (!cutoff_id_valid(id)) {
        bad_request(d, req, "a notice is named by its action id: 1-128 bytes of [A-Za-z0-9._:-]");
        return;
    }
    if (bad_format) {
        bad_request(d, req, "format must be json or text");
        return;
    }
    if (version_text) {
        char *end = NULL;
        unsigned long long v =
            version_text[0] >= '1' && version_text[0] <= '9' ? strtoull(version_text, &end, 10) : 0;
        if (v == 0 || *end != '\0' || v > INT64_MAX) {
            bad_request(d, req, "version must be a whole number of at least 1");
            return;
        }
        version = v;
    }
    cutoff_db *db = notices_db(d, req);
    if (db == NULL)
        return;
    char *doc = NULL, *letter = NULL;
    int rc = cutoff_db_notice_get(db, id, version, &doc);
    cutoff_db_close(db);
    if (rc != 0) {
        notice_failed(req, rc, version ? "such version of the notice of" : "notice of action", id);
        return;
    }
    json_t *parsed = json_loads(doc, 0, NULL);
    bool is_signed = parsed && !json_is_null(json_object_get(parsed, "signature"));
    json_decref(parsed);
    const char *const headers[] = {"Cutoff-Notice-Signed", is_signed ? "yes" : "no", NULL};
    if (!text) {
        co__http_reply(req, 200, "application/json", doc, strlen(doc), headers);
    } else if ((rc = cutoff_notice_text(doc, strlen(doc), &letter, NULL)) == 0) {
        co__http_reply(req, 200, "text/plain; charset=utf-8", letter, strlen(letter), headers);
    } else {
        notice_failed(req, rc, "notice of action", id);
    }
    cutoff_free(letter);
    cutoff_free(doc);
}

/* GET /v1/notices?subscription=S */
static void notice_list(cutoffd *d, co__http_req *req)
{
    const char *sub = co__http_query(req, "subscription");
    if (sub == NULL || !cutoff_id_valid(sub)) {
        bad_request(d, req, "give ?subscription=ID (1-128 bytes of [A-Za-z0-9._:-])");
        return;
    }
    cutoff_db *db = notices_db(d, req);
    if (db == NULL)
        return;
    char *list = NULL;
    int rc = cutoff_db_notice_list(db, sub, &list);
    cutoff_db_close(db);
    if (rc == 0)
        co__http_reply_json(req, 200, list, NULL);
    else
        notice_failed(req, rc, "subscription", sub);
    cutoff_free(list);
}

/* The notices routes; true when req was one of them. */
static bool notices_handle(cutoffd *d, co__http_req *req)
{
    const char *path = co__http_path(req);
    if (strcmp(path, NOTICES_PATH) == 0) {
        co__http_set_label(req, NULL, "notice.list");
        notice_list(d, req);
        return true;
    }
    if (strncmp(path, NOTICES_PATH "/", sizeof NOTICES_PATH) == 0) {
        co__http_set_label(req, NULL, "notice.show");
        notice_one(d, req, path + sizeof NOTICES_PATH);
        return true;
    }
    return false;
}

/* /readyz: 200 while a snapshot is published and the store answers; 503
 * with the reason otherwise. Degraded (the store down, the last snapshot
 * still deciding) is 503 too, so that a load balancer prefers the nodes
 * that can see changes; "deciding" says whether this one still answers
 * decisions (max_staleness_s). */
static void readyz(cutoffd *d, co__http_req *req)
{
    char down[400], stale[600];
    bool ready = atomic_load(&d->ready), stopping = atomic_load(&d->stopping);
    daemon_store_status(d, down, sizeof down);
    bool too_stale = daemon_too_stale(d, stale, sizeof stale);
    json_t *o;
    if (stopping)
        o = json_pack("{s:s,s:s}", "status", "not ready", "reason", "stopping");
    else if (!ready)
        o = json_pack("{s:s,s:s}", "status", "not ready", "reason",
                      down[0] ? down : "no snapshot is published yet (no catalog or nodes)");
    else if (down[0])
        o = json_pack("{s:s,s:s,s:b,s:I}", "status", "degraded", "reason", too_stale ? stale : down,
                      "deciding", !too_stale, "applied_seq",
                      (json_int_t)atomic_load(&d->applied_seq));
    else
        o = json_pack("{s:s,s:I}", "status", "ready", "applied_seq",
                      (json_int_t)atomic_load(&d->applied_seq));
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    bool ok = ready && !stopping && !down[0];
    co__http_reply_json(req, ok ? 200 : 503, text ? text : "{\"status\":\"not ready\"}", NULL);
    free(text);
}

bool ops_handle(cutoffd *d, co__http_req *req)
{
    const char *path = co__http_path(req);
    if (strcmp(path, "/healthz") == 0) {
        co__http_set_label(req, NULL, "ops.healthz");
        co__http_reply_json(req, 200, "{\"status\":\"ok\"}", NULL);
        return true;
    }
    if (strcmp(path, "/readyz") == 0) {
        co__http_set_label(req, NULL, "ops.readyz");
        readyz(d, req);
        return true;
    }
    if (strcmp(path, "/metrics") == 0) {
        co__http_set_label(req, NULL, "ops.metrics");
        bool up = atomic_load(&d->store_up);
        metrics_gauges g = {.snapshot_version = cutoff_engine_version(d->engine),
                            .ready = atomic_load(&d->ready),
                            .applied_seq = atomic_load(&d->applied_seq),
                            .store_head_seq = atomic_load(&d->store_head),
                            .store_up = up,
                            .degraded = !up && atomic_load(&d->ready)};
        cutoff_reader *reader = daemon_reader(d);
        const cutoff_snapshot *snap = reader ? cutoff_reader_enter(reader) : NULL;
        if (snap) {
            g.active_actions = cutoff_snapshot_action_count(snap);
            g.subscriptions =
                cutoff_tree_count(cutoff_snapshot_tree(snap), CUTOFF_NODE_SUBSCRIPTION);
            g.snapshot_age_s = daemon_now() - atomic_load(&d->snapshot_built_at);
        }
        if (reader)
            cutoff_reader_exit(reader);
        char *text = metrics_render(&d->metrics, &g);
        if (text)
            co__http_reply(req, 200, "text/plain; version=0.0.4", text, strlen(text), NULL);
        free(text); /* metrics_render: malloc'd by the C library */
        return true;
    }
    return false;
}

void decision_handle(void *ctx, co__http_req *req)
{
    cutoffd *d = ctx;
    const char *method = co__http_method(req), *path = co__http_path(req);
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    if (strcmp(path, "/v1/check") == 0 && post) {
        co__http_set_label(req, NULL, "decision.check");
        decision_check(d, req, false, false);
    } else if (strcmp(path, "/v1/check/batch") == 0 && post) {
        co__http_set_label(req, NULL, "decision.batch");
        decision_check(d, req, true, false);
    } else if (strcmp(path, "/v1/authz") == 0 || strcmp(path, "/v1/authz/nginx") == 0) {
        co__http_set_label(req, NULL, "decision.authz");
        handle_authz(d, req, path[9] == '/' ? AUTHZ_NGINX : AUTHZ_PLAIN);
    } else if (strncmp(path, ENVOY_AUTHZ_PREFIX, sizeof ENVOY_AUTHZ_PREFIX - 1) == 0 &&
               (path[sizeof ENVOY_AUTHZ_PREFIX - 1] == '/' ||
                path[sizeof ENVOY_AUTHZ_PREFIX - 1] == '\0')) {
        /* Envoy asks with the client's method: any method is a check. */
        co__http_set_label(req, NULL, "decision.authz");
        handle_authz(d, req, AUTHZ_ENVOY);
    } else if (get && (ops_handle(d, req) || notices_handle(d, req))) {
        /* answered */
    } else if (strcmp(path, "/v1/check") == 0 || strcmp(path, "/v1/check/batch") == 0) {
        co__http_reply_error(req, CUTOFF_EMETHOD, NULL, "use POST",
                             (const char *const[]){"Allow", "POST", NULL});
    } else {
        co__http_reply_error(req, CUTOFF_ENOTFOUND, NULL,
                             "the decision listener serves POST /v1/check, POST /v1/check/batch, "
                             "GET /v1/authz, " ENVOY_AUTHZ_PREFIX "/..., /v1/notices, /healthz, "
                             "/readyz, /metrics",
                             NULL);
    }
}
