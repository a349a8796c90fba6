/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.c - the libmicrohttpd plumbing behind http.h: listener setup with
 * limits, body collection (memory or a temporary file), request ids, and
 * the reply helpers. Handlers are called once per request with the whole
 * body, from MHD's epoll threads; they must be thread-safe.
 */
#include "http/http.h"

#include "cutoff.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct co__http_server {
    struct MHD_Daemon *mhd;
    co__http_limits limits;
    co__http_callbacks cb;
    unsigned port;
};

struct co__http_req {
    co__http_server *server;
    struct MHD_Connection *conn;
    const char *method, *path;
    char *body;
    size_t body_len, body_cap;
    FILE *spool;
    char spool_path[64];
    uint64_t spooled;
    bool too_large, answered, oom;
    int64_t start_ns;
    char request_id[40];
    const char *principal, *verb;
};

static _Atomic uint64_t request_counter;
static uint64_t request_salt;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A caller's X-Request-Id is kept when it is short and printable. */
static bool usable_request_id(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++)
        if (n >= 36 || id[n] <= ' ' || id[n] > '~' || id[n] == '"' || id[n] == '\\')
            return false;
    return n > 0;
}

static co__http_req *request_new(co__http_server *s, struct MHD_Connection *conn, const char *url,
                                 const char *method)
{
    co__http_req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->server = s;
    r->conn = conn;
    r->method = method;
    r->path = url;
    r->start_ns = now_ns();
    const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (given && usable_request_id(given))
        snprintf(r->request_id, sizeof r->request_id, "%s", given);
    else
        snprintf(r->request_id, sizeof r->request_id, "%016llx",
                 (unsigned long long)(request_salt ^ (atomic_fetch_add(&request_counter, 1) *
                                                      0x9e3779b97f4a7c15ull)));
    if (s->cb.spool && s->cb.spool(s->cb.ctx, method, url)) {
        const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(r->spool_path, sizeof r->spool_path, "%.40s/cutoffd-body.XXXXXX", dir);
        int fd = mkstemp(r->spool_path);
        r->spool = fd >= 0 ? fdopen(fd, "w+") : NULL;
        if (r->spool == NULL) {
            if (fd >= 0)
                close(fd);
            r->oom = true;
        }
    }
    return r;
}

static void request_free(co__http_req *r)
{
    if (r == NULL)
        return;
    if (r->spool) {
        fclose(r->spool);
        unlink(r->spool_path);
    }
    free(r->body);
    free(r);
}

static void append_body(co__http_req *r, const char *data, size_t n)
{
    if (r->too_large || r->oom)
        return;
    if (r->spool) {
        if (r->spooled + n > r->server->limits.max_spool_bytes) {
            r->too_large = true;
            return;
        }
        if (fwrite(data, 1, n, r->spool) != n)
            r->oom = true;
        r->spooled += n;
        return;
    }
    if (r->body_len + n > r->server->limits.max_body_bytes) {
        r->too_large = true;
        return;
    }
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap * 2 : 1024;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (b == NULL) {
            r->oom = true;
            return;
        }
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    co__http_server *s = cls;
    co__http_req *r = *con_cls;
    if (r == NULL) {
        r = request_new(s, conn, url, method);
        if (r == NULL)
            return MHD_NO;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        append_body(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->answered)
        return MHD_YES;
    if (r->oom)
        co__http_reply_error(r, CUTOFF_ENOMEM, NULL, "the server could not buffer the request body",
                             NULL);
    else if (r->too_large)
        co__http_reply_error(r, CUTOFF_ELIMIT, NULL, "the request body exceeds the server's limit",
                             NULL);
    else
        s->cb.handle(s->cb.ctx, r);
    if (!r->answered)
        co__http_reply_error(r, CUTOFF_EIO, NULL, "the request was not answered", NULL);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    request_free(*con_cls);
    *con_cls = NULL;
}

/* Parses "host:port" (IPv4 or a name; "[::1]:port" for IPv6). */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, char *err, size_t err_len)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || (size_t)(colon - listen) >= sizeof host) {
        snprintf(err, err_len, "listen address \"%s\" is not HOST:PORT", listen);
        return -1;
    }
    const char *h = listen;
    size_t hl = (size_t)(colon - listen);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV},
                    *res = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        snprintf(err, err_len, "listen address \"%s\": %s", listen, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

co__http_server *co__http_start(const char *listen, const co__http_limits *limits,
                                const co__http_callbacks *cb, char *err, size_t err_len)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (parse_listen(listen, &ss, err, err_len) != 0)
        return NULL;
    if (request_salt == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        request_salt =
            ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid() << 40;
    }
    co__http_server *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    s->limits = *limits;
    s->cb = *cb;
    unsigned flags =
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, limits->threads ? limits->threads : 1,
        MHD_OPTION_CONNECTION_LIMIT, limits->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        limits->timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, limits->max_header_bytes,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (s->mhd == NULL) {
        snprintf(err, err_len, "cannot listen on %s (address in use or not allowed?)", listen);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    return s;
}

unsigned co__http_port(const co__http_server *s)
{
    return s->port;
}

void co__http_stop(co__http_server *s, unsigned drain_ms)
{
    if (s == NULL)
        return;
    MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    for (unsigned waited = 0; waited < drain_ms; waited += 10) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (info == NULL || info->num_connections == 0)
            break;
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    }
    MHD_stop_daemon(s->mhd);
    free(s);
}

/* ---- request accessors ---- */

const char *co__http_method(const co__http_req *r)
{
    return r->method;
}
const char *co__http_path(const co__http_req *r)
{
    return r->path;
}
const char *co__http_request_id(const co__http_req *r)
{
    return r->request_id;
}
int64_t co__http_elapsed_ns(const co__http_req *r)
{
    return now_ns() - r->start_ns;
}
const char *co__http_principal(const co__http_req *r)
{
    return r->principal;
}
const char *co__http_verb(const co__http_req *r)
{
    return r->verb;
}

const char *co__http_header(const co__http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

typedef struct header_count {
    const char *name;
    unsigned n;
} header_count;

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind, (void)value;
    header_count *c = cls;
    if (strcasecmp(key, c->name) == 0)
        c->n++;
    return MHD_YES;
}

unsigned co__http_header_count(const co__http_req *r, const char *name)
{
    header_count c = {name, 0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_header, &c);
    return c.n;
}

const char *co__http_query(const co__http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *co__http_body(const co__http_req *r, size_t *len)
{
    *len = r->body_len;
    return r->body ? r->body : "";
}

FILE *co__http_body_file(co__http_req *r)
{
    if (r->spool) {
        fflush(r->spool);
        rewind(r->spool);
    }
    return r->spool;
}

const char *co__http_body_path(co__http_req *r)
{
    if (r->spool == NULL)
        return NULL;
    fflush(r->spool);
    return r->spool_path;
}

void co__http_set_label(co__http_req *r, const char *principal, const char *verb)
{
    if (principal)
        r->principal = principal;
    if (verb)
        r->verb = verb;
}

/* ---- replies ---- */

void co__http_reply(co__http_req *r, int status, const char *content_type, const char *body,
                    size_t len, const char *const *headers)
{
    if (r->answered)
        return;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return;
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
    MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->answered = true;
    if (r->server->cb.done)
        r->server->cb.done(r->server->cb.ctx, r, status);
}

void co__http_reply_json(co__http_req *r, int status, const char *json, const char *const *headers)
{
    co__http_reply(r, status, "application/json", json, strlen(json), headers);
}

void co__http_reply_problem(co__http_req *r, int status, const char *type, const char *title,
                            const char *detail, const char *extra_json, const char *const *headers)
{
    json_t *o = NULL;
    if (extra_json)
        o = json_loads(extra_json, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    json_object_set_new(o, "type", json_string(type ? type : "about:blank"));
    json_object_set_new(o, "title", json_string(title));
    if (!json_is_integer(json_object_get(o, "status")))
        json_object_set_new(o, "status", json_integer(status));
    if (detail)
        json_object_set_new(o, "detail", json_string(detail));
    json_object_set_new(o, "request_id", json_string(r->request_id));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    const char *fallback =
        "{\"type\":\"about:blank\",\"title\":\"Internal Server Error\",\"status\":500}";
    co__http_reply(r, text ? status : 500, "application/problem+json", text ? text : fallback,
                   strlen(text ? text : fallback), headers);
    free(text);
}

void co__http_reply_error(co__http_req *r, int rc, const char *type, const char *detail,
                          const char *const *headers)
{
    char extra[64];
    snprintf(extra, sizeof extra, "{\"code\":\"%s\"}", cutoff_errname(rc));
    co__http_reply_problem(r, cutoff_error_http_status(rc), type, cutoff_error_title(rc),
                           detail ? detail : cutoff_strerror(rc), extra, headers);
}
