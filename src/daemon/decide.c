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

/* The decision as its one JSON shape (cutoff_verdict_to_json), with this
 * deployment's notice base; NULL when out of memory. */
static char *verdict_text(cutoffd *d, const cutoff_verdict *v, const cutoff_request *r)
{
    char *text = NULL;
    return cutoff_verdict_to_json(v, r, daemon_live(d)->notice_base, &text) == 0 ? text : NULL;
}

static void bad_request(cutoffd *d, co__http_req *req, const char *detail)
{
    metrics_decision(&d->metrics, OUTCOME_BAD_REQUEST, co__http_elapsed_ns(req));
    co__http_reply_error(req, CUTOFF_EPARSE, PROBLEM_BASE "bad-request", detail, NULL);
}

/* Reads one check request object: true, or false with a message in err. */
static bool read_check(json_t *o, const char **sub, const char **act, const char **region,
                       int64_t *at, char *err, size_t n)
{
    if (!json_is_object(o)) {
        snprintf(err, n, "a check request must be a JSON object");
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach (o, key, v) {
        if (strcmp(key, "subscription") && strcmp(key, "action") && strcmp(key, "region") &&
            strcmp(key, "at")) {
            snprintf(err, n, "unknown key \"%.64s\" (allowed: subscription, action, region, at)",
                     key);
            return false;
        }
    }
    *sub = json_string_value(json_object_get(o, "subscription"));
    *act = json_string_value(json_object_get(o, "action"));
    if (*sub == NULL || *act == NULL) {
        snprintf(err, n, "\"subscription\" and \"action\" are required strings");
        return false;
    }
    json_t *r = json_object_get(o, "region");
    if (r && !json_is_null(r) && !json_is_string(r)) {
        snprintf(err, n, "\"region\" must be a string or null");
        return false;
    }
    *region = json_string_value(r);
    json_t *t = json_object_get(o, "at");
    *at = daemon_now();
    if (json_is_integer(t)) {
        *at = json_integer_value(t);
    } else if (json_is_string(t)) {
        cutoff_diag diag;
        if (cutoff_time_parse(json_string_value(t), at, &diag) != 0) {
            snprintf(err, n, "\"at\": %.200s", diag.message);
            return false;
        }
    } else if (t && !json_is_null(t)) {
        snprintf(err, n, "\"at\" must be RFC 3339, Unix seconds or null");
        return false;
    }
    return true;
}

void decision_check(cutoffd *d, co__http_req *req, bool batch)
{
    size_t len;
    const char *body = co__http_body(req, &len);
    json_error_t je;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    char err[300];
    if (doc == NULL) {
        snprintf(err, sizeof err, "malformed JSON at line %d column %d: %s", je.line, je.column,
                 je.text);
        bad_request(d, req, err);
        return;
    }
    json_t *requests = batch ? json_object_get(doc, "requests") : NULL;
    if (batch && (!json_is_array(requests) || json_object_size(doc) != 1)) {
        json_decref(doc);
        bad_request(d, req,
                    "a batch is {\"requests\": [ {subscription, action, region, at}, ... ]}");
        return;
    }
    size_t n = batch ? json_array_size(requests) : 1;
    cutoff_reader *reader = daemon_reader(d);
    const cutoff_snapshot *snap = reader ? cutoff_reader_enter(reader) : NULL;
    char *answer = NULL;
    size_t answer_len = 0;
    FILE *out = snap ? open_memstream(&answer, &answer_len) : NULL;
    if (out == NULL) {
        if (reader)
            cutoff_reader_exit(reader);
        json_decref(doc);
        free(answer);
        co__http_reply_error(req, snap ? CUTOFF_ENOMEM : CUTOFF_EUNAVAIL, NULL, NULL, NULL);
        return;
    }
    bool failed = false;
    if (batch)
        fputs("{\"results\":[", out);
    for (size_t i = 0; i < n && !failed; i++) {
        cutoff_request r;
        json_t *item = batch ? json_array_get(requests, i) : doc;
        if (!read_check(item, &r.subscription, &r.action, &r.region, &r.at, err, sizeof err)) {
            failed = true;
            if (batch) {
                char where[360];
                snprintf(where, sizeof where, "requests[%zu]: %s", i, err);
                bad_request(d, req, where);
            } else {
                bad_request(d, req, err);
            }
            break;
        }
        cutoff_verdict v;
        cutoff_check(snap, r.subscription, r.action, r.region, r.at, &v);
        metrics_outcome(&d->metrics, (int)v.reason);
        char *text = verdict_text(d, &v, &r);
        if (text == NULL) {
            failed = true;
            co__http_reply_error(req, CUTOFF_ENOMEM, NULL, "could not encode the answer", NULL);
            break;
        }
        fprintf(out, "%s%s", i ? "," : "", text);
        cutoff_free(text);
    }
    if (batch)
        fputs("]}", out);
    bool written = fclose(out) == 0;
    cutoff_reader_exit(reader);
    json_decref(doc);
    if (!failed && written)
        co__http_reply_json(req, 200, answer, NULL);
    else if (!failed)
        co__http_reply_error(req, CUTOFF_ENOMEM, NULL, "could not encode the answer", NULL);
    free(answer);
    if (!failed)
        metrics_latency(&d->metrics, co__http_elapsed_ns(req));
}

/* The one header of the listener's convention: NULL with *why set when it
 * is absent or repeated (a second copy could come from the client). */
static const char *forwarded_header(co__http_req *req, const char *name, char *why, size_t n)
{
    unsigned count = co__http_header_count(req, name);
    if (count == 1)
        return co__http_header(req, name);
    snprintf(why, n, "the gateway sent %s %s; denying", count ? "more than one" : "no", name);
    return NULL;
}

/* Refuses a gateway's request that cannot be decided unambiguously: 403
 * with reason bad_request, whichever endpoint was asked. */
static void refuse_forwarded(cutoffd *d, co__http_req *req, const char *detail)
{
    metrics_decision(&d->metrics, OUTCOME_BAD_REQUEST, co__http_elapsed_ns(req));
    co__http_reply_problem(
        req, 403, PROBLEM_BASE "bad-request", "Forbidden", detail,
        "{\"decision\":\"deny\",\"reason\":\"bad_request\"}",
        (const char *const[]){"Cutoff-Decision", "deny", "Cutoff-Reason", "bad_request", NULL});
}

/* GET /v1/authz: decides the original request a gateway forwards. With
 * for_nginx every denial is 403 (auth_request accepts only 2xx, 401 and
 * 403) and the real status travels in Cutoff-Status. */
static void handle_authz(cutoffd *d, co__http_req *req, bool for_nginx)
{
    /* Only the configured convention's headers are read: the other one's
     * may have come from the client through the gateway. */
    bool nginx = daemon_live(d)->convention == FORWARD_NGINX;
    char why[300];
    const char *method =
        forwarded_header(req, nginx ? "X-Original-Method" : "X-Forwarded-Method", why, sizeof why);
    const char *uri = method ? forwarded_header(req, nginx ? "X-Original-URI" : "X-Forwarded-Uri",
                                                why, sizeof why)
                             : NULL;
    if (method && !route_method_check(method))
        snprintf(why, sizeof why, "the forwarded method is not an HTTP token; denying");
    if (method == NULL || uri == NULL || !route_method_check(method) ||
        !route_uri_check(uri, why, sizeof why))
        return refuse_forwarded(d, req, why);
    size_t ulen = strlen(uri);
    /* Captures are decoded into scratch: on the stack for usual URIs. */
    char small[1024];
    char *scratch = ulen < sizeof small ? small : malloc(ulen + 1);
    route_match m;
    if (scratch == NULL || !route_find(daemon_live(d), method, uri, scratch, &m)) {
        if (scratch != small)
            free(scratch);
        metrics_decision(&d->metrics, OUTCOME_NO_ROUTE, co__http_elapsed_ns(req));
        co__http_reply_problem(
            req, 403, PROBLEM_BASE "no-route", "Forbidden",
            "no route rule maps this method and path to a subscription and action; denying",
            "{\"decision\":\"deny\",\"reason\":\"no_route\"}",
            (const char *const[]){"Cutoff-Decision", "deny", "Cutoff-Reason", "no_route", NULL});
        return;
    }
    const route *r = m.route;
    const char *sub =
        r->subscription_header ? co__http_header(req, r->subscription_header) : m.subscription;
    const char *region = r->region ? r->region : m.region;
    if (r->region_header && co__http_header(req, r->region_header))
        region = co__http_header(req, r->region_header);
    if ((r->subscription_header && co__http_header_count(req, r->subscription_header) > 1) ||
        (r->region_header && co__http_header_count(req, r->region_header) > 1)) {
        if (scratch != small)
            free(scratch);
        return refuse_forwarded(d, req,
                                "the request repeats the header that names its subscription or "
                                "region; denying");
    }
    if (sub == NULL) {
        char detail[400];
        snprintf(detail, sizeof detail,
                 "route %.100s %.120s takes the subscription from the %.40s header, "
                 "which the request lacks; denying",
                 r->method, r->path, r->subscription_header);
        if (scratch != small)
            free(scratch);
        return refuse_forwarded(d, req, detail);
    }
    cutoff_verdict v;
    cutoff_reader *reader = daemon_reader(d);
    const cutoff_snapshot *snap = reader ? cutoff_reader_enter(reader) : NULL;
    if (snap == NULL) {
        if (reader)
            cutoff_reader_exit(reader);
        if (scratch != small)
            free(scratch);
        if (for_nginx)
            co__http_reply_problem(req, 403, NULL, "Forbidden",
                                   "no snapshot is published yet; denying",
                                   "{\"code\":\"EUNAVAIL\"}", NULL);
        else
            co__http_reply_error(req, CUTOFF_EUNAVAIL, NULL,
                                 "no snapshot is published yet; denying", NULL);
        return;
    }
    cutoff_request asked = {sub, r->action, region, daemon_now()};
    cutoff_check(snap, asked.subscription, asked.action, asked.region, asked.at, &v);
    if (v.reason == CUTOFF_REASON_ALLOW) {
        co__http_reply(
            req, 204, NULL, "", 0,
            (const char *const[]){"Cutoff-Decision", "allow", "Cutoff-Reason", "allow", NULL});
    } else {
        int status = cutoff_verdict_status(&v);
        char status_text[8], *link = NULL, *url = NULL;
        snprintf(status_text, sizeof status_text, "%d", status);
        const char *headers[16];
        size_t h = 0;
        headers[h++] = "Cutoff-Decision", headers[h++] = "deny";
        headers[h++] = "Cutoff-Reason", headers[h++] = cutoff_reason_name(v.reason);
        headers[h++] = "Cutoff-Status", headers[h++] = status_text;
        if (v.by) {
            headers[h++] = "Cutoff-Action", headers[h++] = v.by->id;
            if (v.by->case_id)
                headers[h++] = "Cutoff-Case", headers[h++] = v.by->case_id;
            if (status == 451 && cutoff_notice_url(v.by, daemon_live(d)->notice_base, &url) == 0 &&
                url && asprintf(&link, "<%s>; rel=\"blocked-by\"", url) >= 0)
                headers[h++] = "Link", headers[h++] = link;
        }
        headers[h] = NULL;
        char *extra_text = verdict_text(d, &v, &asked);
        char type[64];
        snprintf(type, sizeof type, PROBLEM_BASE "%s", cutoff_reason_name(v.reason));
        const char *detail = v.by && v.by->notice.summary ? v.by->notice.summary
                                                          : "this request is denied by cutoff";
        co__http_reply_problem(req, for_nginx ? 403 : status, type, problem_title(v.reason), detail,
                               extra_text, headers);
        cutoff_free(extra_text);
        cutoff_free(url);
        free(link);
    }
    cutoff_reader_exit(reader);
    if (scratch != small)
        free(scratch);
    metrics_decision(&d->metrics, (int)v.reason, co__http_elapsed_ns(req));
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
        bool ready = atomic_load(&d->ready) && !atomic_load(&d->stopping);
        co__http_reply_json(req, ready ? 200 : 503,
                            ready ? "{\"status\":\"ready\"}" : "{\"status\":\"not ready\"}", NULL);
        return true;
    }
    if (strcmp(path, "/metrics") == 0) {
        co__http_set_label(req, NULL, "ops.metrics");
        metrics_gauges g = {.snapshot_version = cutoff_engine_version(d->engine),
                            .ready = atomic_load(&d->ready)};
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
        decision_check(d, req, false);
    } else if (strcmp(path, "/v1/check/batch") == 0 && post) {
        co__http_set_label(req, NULL, "decision.batch");
        decision_check(d, req, true);
    } else if ((strcmp(path, "/v1/authz") == 0 || strcmp(path, "/v1/authz/nginx") == 0)) {
        co__http_set_label(req, NULL, "decision.authz");
        handle_authz(d, req, path[9] == '/');
    } else if (get && ops_handle(d, req)) {
        /* answered */
    } else if (strcmp(path, "/v1/check") == 0 || strcmp(path, "/v1/check/batch") == 0) {
        co__http_reply_error(req, CUTOFF_EMETHOD, NULL, "use POST",
                             (const char *const[]){"Allow", "POST", NULL});
    } else {
        co__http_reply_error(req, CUTOFF_ENOTFOUND, NULL,
                             "the decision listener serves POST /v1/check, POST /v1/check/batch, "
                             "GET /v1/authz, /healthz, /readyz, /metrics",
                             NULL);
    }
}
