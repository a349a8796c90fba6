/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c - reading cutoffd's JSON configuration file and matching gateway
 * routes. Unknown keys are errors (a typo must not silently disable a
 * route), and every message names the file and the JSON path.
 */
#include "daemon/config.h"

#include "common/text.h"
#include "http/http.h"
#include "cutoff.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void set_defaults(daemon_config *c)
{
    memset(c, 0, sizeof *c);
    c->database = dup_or_null(getenv("CUTOFF_DB") ? getenv("CUTOFF_DB") : "cutoff.db");
    c->decision_listen = strdup("127.0.0.1:8080");
    c->admin_listen = strdup("127.0.0.1:8081");
    /* No notice_base: the notices this daemon serves on its decision
     * listener (daemon_notice_base). */
    c->notice_base = NULL;
    c->safety_interval_ms = 1000;
    c->heartbeat_s = 1;
    c->max_staleness_s = 0;
    c->sign_interval_s = 300;
    c->limits = (co__http_limits){
        .max_body_bytes = 1 << 20,
        .max_spool_bytes = 1ull << 30,
        .max_header_bytes = 32 * 1024,
        .max_connections = 4096,
        .timeout_s = 30,
        .header_timeout_ms = 10000,
        .body_timeout_s = 300,
        .threads = 2,
    };
    /* A gateway on the same host reaches the decision listener from one
     * address with all its connections: no bound there by default. */
    c->decision_per_client = 0;
    c->admin_per_client = 16;
}

void config_free(daemon_config *c)
{
    free(c->database);
    free(c->decision_listen);
    free(c->admin_listen);
    free(c->tokens_file);
    free(c->signing_key);
    free(c->log_file);
    free(c->notice_base);
    free(c->node_id);
    for (size_t i = 0; i < c->n_routes; i++) {
        route *r = &c->routes[i];
        free(r->method);
        free(r->path);
        for (size_t k = 0; k < r->n_segs; k++)
            free(r->segs[k].text);
        free(r->segs);
        free(r->action);
        free(r->region);
        free(r->subscription_header);
        free(r->region_header);
    }
    free(c->routes);
    memset(c, 0, sizeof *c);
}

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    co__msg_clean(err); /* it quotes the file: keep it one line of UTF-8 */
    return -1;
}

/* Only the listed keys are allowed in obj. */
static int only_keys(json_t *obj, const char *const *keys, const char *where, char *err, size_t n)
{
    const char *k;
    json_t *v;
    json_object_foreach (obj, k, v) {
        bool known = false;
        for (size_t i = 0; keys[i] && !known; i++)
            known = strcmp(keys[i], k) == 0;
        if (!known) {
            char allowed[512] = "";
            for (size_t i = 0; keys[i]; i++)
                snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s",
                         i ? ", " : "", keys[i]);
            return fail(err, n, "%s: unknown key \"%s\" (allowed: %s)", where, k, allowed);
        }
    }
    return 0;
}

static int get_string(json_t *obj, const char *key, char **out, const char *where, char *err,
                      size_t n)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return fail(err, n, "%s.%s: must be a string", where, key);
    free(*out);
    *out = strdup(json_string_value(v));
    return 0;
}

static int get_uint(json_t *obj, const char *key, uint64_t min, uint64_t max, uint64_t *out,
                    const char *where, char *err, size_t n)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)min ||
        (uint64_t)json_integer_value(v) > max)
        return fail(err, n, "%s.%s: must be an integer from %llu to %llu", where, key,
                    (unsigned long long)min, (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* Splits a path pattern into segments. */
static int parse_path(route *r, const char *path, const char *where, char *err, size_t n)
{
    if (path[0] != '/')
        return fail(err, n, "%s.path: \"%s\" must start with /", where, path);
    size_t cap = 1;
    for (const char *p = path; *p; p++)
        cap += *p == '/';
    r->segs = calloc(cap, sizeof *r->segs);
    const char *p = path + 1;
    bool have_sub = false;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        route_seg *s = &r->segs[r->n_segs++];
        if (len == 2 && strncmp(p, "**", 2) == 0) {
            if (slash && slash[1])
                return fail(err, n, "%s.path: \"**\" must be the last segment", where);
            s->kind = SEG_REST;
        } else if (len == 1 && *p == '*') {
            s->kind = SEG_ANY;
        } else if (len == 14 && strncmp(p, "{subscription}", 14) == 0) {
            s->kind = SEG_SUBSCRIPTION;
            have_sub = true;
        } else if (len == 8 && strncmp(p, "{region}", 8) == 0) {
            s->kind = SEG_REGION;
        } else if (memchr(p, '{', len) || memchr(p, '*', len)) {
            return fail(
                err, n,
                "%s.path: segment \"%.*s\" is not a literal, *, **, {subscription} or {region}",
                where, (int)len, p);
        } else {
            s->kind = SEG_LITERAL;
            s->text = strndup(p, len);
        }
        if (!slash)
            break;
        p = slash + 1;
    }
    if (!have_sub && r->subscription_header == NULL)
        return fail(err, n, "%s: needs {subscription} in the path or a \"subscription_header\"",
                    where);
    return 0;
}

static int parse_routes(json_t *routes, daemon_config *c, char *err, size_t n)
{
    static const char *const keys[] = {
        "method", "path", "action", "region", "subscription_header", "region_header", NULL};
    if (!json_is_array(routes))
        return fail(err, n, "routes: must be an array");
    c->routes = calloc(json_array_size(routes) + 1, sizeof *c->routes);
    size_t i;
    json_t *o;
    json_array_foreach (routes, i, o) {
        char where[64];
        snprintf(where, sizeof where, "routes[%zu]", i);
        if (!json_is_object(o))
            return fail(err, n, "%s: must be an object", where);
        if (only_keys(o, keys, where, err, n) != 0)
            return -1;
        route *r = &c->routes[c->n_routes++];
        char *path = NULL;
        if (get_string(o, "method", &r->method, where, err, n) ||
            get_string(o, "path", &path, where, err, n) ||
            get_string(o, "action", &r->action, where, err, n) ||
            get_string(o, "region", &r->region, where, err, n) ||
            get_string(o, "subscription_header", &r->subscription_header, where, err, n) ||
            get_string(o, "region_header", &r->region_header, where, err, n)) {
            free(path);
            return -1;
        }
        r->path = path;
        if (r->method == NULL)
            r->method = strdup("*");
        if (path == NULL)
            return fail(err, n, "%s: needs \"path\"", where);
        if (r->action == NULL || cutoff_pattern_check(r->action, NULL) != 0 ||
            strchr(r->action, '*'))
            return fail(err, n, "%s.action: needs a catalog action name like \"storage.write\"",
                        where);
        if (parse_path(r, path, where, err, n) != 0)
            return -1;
    }
    return 0;
}

static int config_apply(json_t *root, const char *path, daemon_config *out, char *err,
                        size_t err_len);

bool config_node_id_valid(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++)
        if (n >= CUTOFF_NODE_ID_MAX || id[n] < 0x20 || id[n] > 0x7e)
            return false;
    return n > 0;
}

int config_load(const char *path, daemon_config *out, char *err, size_t err_len)
{
    set_defaults(out);
    if (path == NULL)
        return 0;
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        fail(err, err_len, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        config_free(out);
        return -1;
    }
    return config_apply(root, path, out, err, err_len);
}

int config_parse(const char *text, size_t len, const char *name, daemon_config *out, char *err,
                 size_t err_len)
{
    set_defaults(out);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        fail(err, err_len, "%s:%d:%d: %s", name, je.line, je.column, je.text);
        config_free(out);
        return -1;
    }
    return config_apply(root, name, out, err, err_len);
}

/* Reads the configuration root (consumed) over the defaults in out. */
static int config_apply(json_t *root, const char *path, daemon_config *out, char *err,
                        size_t err_len)
{
    static const char *const keys[] = {"database",
                                       "decision_listen",
                                       "admin_listen",
                                       "tokens_file",
                                       "log_file",
                                       "log_decisions",
                                       "notice_base",
                                       "watch_ms",
                                       "forward_headers",
                                       "limits",
                                       "routes",
                                       "admin_allow_remote",
                                       "signing_key",
                                       "sign_interval_s",
                                       "node_id",
                                       "heartbeat_s",
                                       "safety_interval_ms",
                                       "max_staleness_s",
                                       NULL};
    static const char *const limit_keys[] = {"max_body_bytes",
                                             "max_spool_bytes",
                                             "max_header_bytes",
                                             "max_connections",
                                             "decision_connections_per_client",
                                             "admin_connections_per_client",
                                             "timeout_s",
                                             "header_timeout_ms",
                                             "body_timeout_s",
                                             "threads",
                                             NULL};
    int rc = -1;
    char msg[400];
    uint64_t v;
    if (!json_is_object(root)) {
        fail(msg, sizeof msg, "the configuration must be a JSON object");
        goto done;
    }
    if (only_keys(root, keys, "config", msg, sizeof msg) ||
        get_string(root, "database", &out->database, "config", msg, sizeof msg) ||
        get_string(root, "decision_listen", &out->decision_listen, "config", msg, sizeof msg) ||
        get_string(root, "admin_listen", &out->admin_listen, "config", msg, sizeof msg) ||
        get_string(root, "tokens_file", &out->tokens_file, "config", msg, sizeof msg) ||
        get_string(root, "signing_key", &out->signing_key, "config", msg, sizeof msg) ||
        get_string(root, "log_file", &out->log_file, "config", msg, sizeof msg) ||
        get_string(root, "notice_base", &out->notice_base, "config", msg, sizeof msg) ||
        get_string(root, "node_id", &out->node_id, "config", msg, sizeof msg))
        goto done;
    if (out->node_id && !config_node_id_valid(out->node_id)) {
        fail(msg, sizeof msg,
             "config.node_id: must be 1 to %d bytes of printable ASCII (the default is "
             "HOST:DECISION_PORT)",
             CUTOFF_NODE_ID_MAX);
        goto done;
    }
    /* The action id is appended to it in the Link header of a denial. */
    cutoff_diag url_diag;
    if (out->notice_base && *out->notice_base &&
        cutoff_notice_url_check(out->notice_base, &url_diag) != 0) {
        fail(msg, sizeof msg, "config.notice_base: %s", url_diag.message);
        goto done;
    }
    json_t *fh = json_object_get(root, "forward_headers");
    const char *fhs = json_string_value(fh);
    if (fh && (fhs == NULL || (strcmp(fhs, "nginx") != 0 && strcmp(fhs, "forwarded") != 0 &&
                               strcmp(fhs, "envoy") != 0))) {
        fail(msg, sizeof msg,
             "config.forward_headers: must be \"nginx\" (X-Original-Method/-URI), "
             "\"forwarded\" (X-Forwarded-Method/-Uri) or \"envoy\" (the request line, "
             "under " ENVOY_AUTHZ_PREFIX ")");
        goto done;
    }
    out->convention = fhs == NULL                     ? FORWARD_NGINX
                      : strcmp(fhs, "forwarded") == 0 ? FORWARD_FORWARDED
                      : strcmp(fhs, "envoy") == 0     ? FORWARD_ENVOY
                                                      : FORWARD_NGINX;
    json_t *ld = json_object_get(root, "log_decisions");
    if (ld && !json_is_boolean(ld)) {
        fail(msg, sizeof msg, "config.log_decisions: must be true or false");
        goto done;
    }
    out->log_decisions = json_is_true(ld);
    json_t *remote = json_object_get(root, "admin_allow_remote");
    if (remote && !json_is_boolean(remote)) {
        fail(msg, sizeof msg, "config.admin_allow_remote: must be true or false");
        goto done;
    }
    out->admin_allow_remote = json_is_true(remote);
    /* watch_ms was the polling period; changes now wake the daemon, and
     * the slow re-read that remains is safety_interval_ms. The old key is
     * read as that, so that old files still start (main logs a warning). */
    if (json_object_get(root, "watch_ms") && json_object_get(root, "safety_interval_ms")) {
        fail(msg, sizeof msg,
             "config.watch_ms: deprecated alias of safety_interval_ms; give only "
             "safety_interval_ms");
        goto done;
    }
    v = out->safety_interval_ms;
    if (get_uint(root, "watch_ms", 1, 600000, &v, "config", msg, sizeof msg) ||
        get_uint(root, "safety_interval_ms", 1, 600000, &v, "config", msg, sizeof msg))
        goto done;
    out->safety_interval_ms = (unsigned)v;
    out->watch_ms_given = json_object_get(root, "watch_ms") != NULL;
    v = out->heartbeat_s;
    if (get_uint(root, "heartbeat_s", 1, 3600, &v, "config", msg, sizeof msg))
        goto done;
    out->heartbeat_s = (unsigned)v;
    v = out->max_staleness_s;
    if (get_uint(root, "max_staleness_s", 0, 604800, &v, "config", msg, sizeof msg))
        goto done;
    out->max_staleness_s = (unsigned)v;
    v = out->sign_interval_s;
    if (get_uint(root, "sign_interval_s", 0, 86400, &v, "config", msg, sizeof msg))
        goto done;
    out->sign_interval_s = (unsigned)v;
    json_t *lim = json_object_get(root, "limits");
    if (lim) {
        co__http_limits *l = &out->limits;
        if (!json_is_object(lim)) {
            fail(msg, sizeof msg, "config.limits: must be an object");
            goto done;
        }
        uint64_t body = l->max_body_bytes, spool = l->max_spool_bytes, head = l->max_header_bytes,
                 conns = l->max_connections, dec_pc = out->decision_per_client,
                 adm_pc = out->admin_per_client, tmo = l->timeout_s, head_ms = l->header_timeout_ms,
                 body_s = l->body_timeout_s, thr = l->threads;
        if (only_keys(lim, limit_keys, "config.limits", msg, sizeof msg) ||
            get_uint(lim, "max_body_bytes", 1024, 1ull << 32, &body, "limits", msg, sizeof msg) ||
            get_uint(lim, "max_spool_bytes", 1024, 1ull << 40, &spool, "limits", msg, sizeof msg) ||
            get_uint(lim, "max_header_bytes", 4096, 1 << 24, &head, "limits", msg, sizeof msg) ||
            get_uint(lim, "max_connections", 1, 1 << 20, &conns, "limits", msg, sizeof msg) ||
            get_uint(lim, "decision_connections_per_client", 0, 1 << 20, &dec_pc, "limits", msg,
                     sizeof msg) ||
            get_uint(lim, "admin_connections_per_client", 0, 1 << 20, &adm_pc, "limits", msg,
                     sizeof msg) ||
            get_uint(lim, "timeout_s", 1, 3600, &tmo, "limits", msg, sizeof msg) ||
            get_uint(lim, "header_timeout_ms", 100, 600000, &head_ms, "limits", msg, sizeof msg) ||
            get_uint(lim, "body_timeout_s", 1, 86400, &body_s, "limits", msg, sizeof msg) ||
            get_uint(lim, "threads", 1, 256, &thr, "limits", msg, sizeof msg))
            goto done;
        *l = (co__http_limits){.max_body_bytes = (size_t)body,
                               .max_spool_bytes = spool,
                               .max_header_bytes = (size_t)head,
                               .max_connections = (unsigned)conns,
                               .timeout_s = (unsigned)tmo,
                               .header_timeout_ms = (unsigned)head_ms,
                               .body_timeout_s = (unsigned)body_s,
                               .threads = (unsigned)thr};
        out->decision_per_client = (unsigned)dec_pc;
        out->admin_per_client = (unsigned)adm_pc;
    }
    json_t *routes = json_object_get(root, "routes");
    if (routes && parse_routes(routes, out, msg, sizeof msg) != 0)
        goto done;
    rc = 0;
done:
    if (rc != 0) {
        fail(err, err_len, "%s: %s", path, msg);
        config_free(out);
    }
    json_decref(root);
    return rc;
}

static bool loopback_address(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family != AF_INET6)
        return false;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

bool config_listen_is_loopback(const char *listen)
{
    struct addrinfo *res;
    char err[300];
    if (co__http_listen_lookup(listen, false, &res, err, sizeof err) != 0)
        return false;
    bool loopback = res != NULL;
    for (const struct addrinfo *a = res; a && loopback; a = a->ai_next)
        loopback = loopback_address(a->ai_addr);
    freeaddrinfo(res);
    return loopback;
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

bool route_method_check(const char *method)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    if (method == NULL || *method == '\0' || strlen(method) > 32)
        return false;
    for (const char *p = method; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr(tchar, *p)))
            return false;
    return true;
}

bool route_uri_check(const char *uri, char *why, size_t why_len)
{
#define REFUSE(...) return snprintf(why, why_len, __VA_ARGS__), false
    if (uri == NULL || uri[0] != '/')
        REFUSE("the forwarded URI does not start with \"/\"");
    size_t plen = strcspn(uri, "?");
    for (const char *p = uri; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f)
            REFUSE(
                "the forwarded URI has a control, space or non-ASCII byte (0x%02x) at offset %zu",
                c, (size_t)(p - uri));
        if (c == '#')
            REFUSE("the forwarded URI has a fragment (\"#\")");
    }
    const char *seg = uri + 1, *end = uri + plen;
    while (seg <= end) {
        const char *slash = memchr(seg, '/', (size_t)(end - seg));
        const char *seg_end = slash ? slash : end;
        size_t len = (size_t)(seg_end - seg);
        if (len == 0 && slash)
            REFUSE("the forwarded path has an empty segment (\"//\")");
        size_t name_len = strcspn(seg, ";/?");
        if (name_len > len)
            name_len = len;
        if ((name_len == 1 && seg[0] == '.') || (name_len == 2 && seg[0] == '.' && seg[1] == '.'))
            REFUSE("the forwarded path has a dot segment (\"%.*s\")", (int)len, seg);
        for (const char *p = seg; p < seg_end; p++) {
            if (*p == '\\')
                REFUSE("the forwarded path has a backslash");
            if (*p != '%')
                continue;
            int hi = p + 1 < seg_end ? hex_value(p[1]) : -1,
                lo = p + 2 < seg_end ? hex_value(p[2]) : -1;
            if (hi < 0 || lo < 0)
                REFUSE("the forwarded path has a bad percent-escape at offset %zu",
                       (size_t)(p - uri));
            unsigned char d = (unsigned char)(hi * 16 + lo);
            if (d < 0x20 || d == 0x7f || d == '/' || d == '\\' || d == '%' || unreserved(d))
                REFUSE("the forwarded path escapes a character that must not be escaped (%%%c%c)",
                       p[1], p[2]);
            p += 2;
        }
        if (slash == NULL)
            break;
        seg = slash + 1;
    }
    return true;
#undef REFUSE
}

/* Percent-decodes one segment into dst; returns false on a bad escape or
 * a decoded '/' or NUL (which would smuggle a different path). */
static bool decode_segment(const char *src, size_t len, char *dst)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= len)
                return false;
            char hex[3] = {src[i + 1], src[i + 2], 0};
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end || end != hex + 2 || v == 0 || v == '/')
                return false;
            c = (char)v;
            i += 2;
        }
        dst[o++] = c;
    }
    dst[o] = '\0';
    return true;
}

bool route_find(const daemon_config *c, const char *method, const char *path, char *scratch,
                route_match *out)
{
    if (path == NULL || path[0] != '/')
        return false;
    size_t plen = strcspn(path, "?#");
    for (size_t i = 0; i < c->n_routes; i++) {
        const route *r = &c->routes[i];
        if (strcmp(r->method, "*") != 0 && strcasecmp(r->method, method) != 0)
            continue;
        const char *p = path + 1, *end = path + plen;
        char *w = scratch;
        bool ok = true;
        out->subscription = out->region = NULL;
        size_t k = 0;
        for (; k < r->n_segs && ok; k++) {
            const route_seg *s = &r->segs[k];
            if (s->kind == SEG_REST) {
                p = end;
                break;
            }
            if (p > end) {
                ok = false;
                break;
            }
            const char *slash = memchr(p, '/', (size_t)(end - p));
            size_t len = slash ? (size_t)(slash - p) : (size_t)(end - p);
            switch (s->kind) {
            case SEG_LITERAL: ok = strlen(s->text) == len && strncmp(s->text, p, len) == 0; break;
            case SEG_ANY: ok = len > 0; break;
            case SEG_SUBSCRIPTION:
            case SEG_REGION:
                ok = len > 0 && decode_segment(p, len, w);
                if (ok) {
                    if (s->kind == SEG_SUBSCRIPTION)
                        out->subscription = w;
                    else
                        out->region = w;
                    w += strlen(w) + 1;
                }
                break;
            case SEG_REST: break;
            }
            p = slash ? slash + 1 : end + 1;
        }
        /* a route of no segments ("/") takes the path "/" */
        bool consumed =
            k < r->n_segs ? r->segs[k].kind == SEG_REST : p > end || (r->n_segs == 0 && p == end);
        if (ok && consumed) {
            out->route = r;
            return true;
        }
    }
    return false;
}
