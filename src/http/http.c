/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.c - the libmicrohttpd plumbing behind http.h: listener setup with
 * limits, admission at header time, body collection (memory or a file in
 * the listener's spool directory), deadlines for slow clients, request ids,
 * and the reply helpers. Callbacks run on MHD's epoll threads; they must be
 * thread-safe.
 *
 * Deadlines: MHD's own timeout is an idle bound, reset by every byte, so a
 * client sending a byte a second would keep its connection for ever. Each
 * connection therefore has a clock (from MHD's connection notifications)
 * with the moment its current head or body must be complete; a sweeper
 * thread shuts the socket of a connection past it (shutdown, not close:
 * MHD still owns the descriptor, sees the end of the stream and closes the
 * connection itself). MHD reports a connection closed before it closes the
 * descriptor, and the clock leaves the sweeper's list under its lock then,
 * so the sweeper never touches a descriptor that was reused.
 */
#include "http/http.h"

#include "cutoff.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One connection's deadline: when its current head or body must be
 * complete (0: none; an answer is on its way, only the idle bound holds). */
typedef struct conn_clock {
    int fd;
    _Atomic int64_t deadline_ns;
    struct conn_clock *prev, *next;
} conn_clock;

struct co__http_server {
    struct MHD_Daemon *mhd;
    co__http_limits limits;
    co__http_callbacks cb;
    unsigned port;
    char *spool_dir; /* NULL unless cb.spools */
    int spool_lock;  /* the spool directory, locked while this listener runs */

    pthread_mutex_t clocks_lock;
    pthread_cond_t sweeper_wake;
    conn_clock *clocks;
    pthread_t sweeper;
    bool sweeper_running, stopping;
};

struct co__http_req {
    co__http_server *server;
    struct MHD_Connection *conn;
    conn_clock *clock;
    const char *method, *path;
    char *target; /* the request target as sent (on_target), or NULL */
    char *body;
    size_t body_len, body_cap;
    bool spool_wanted;
    FILE *spool;
    char *spool_path;
    uint64_t spooled;
    bool admitted, answered;
    int64_t start_ns;
    char request_id[40];
    const char *principal, *verb;
    void *data;
    void (*release)(void *);
};

static _Atomic uint64_t request_counter;
static uint64_t request_salt;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- deadlines ---- */

static void clock_set(conn_clock *k, int64_t from_now_ns)
{
    if (k)
        atomic_store(&k->deadline_ns, from_now_ns ? now_ns() + from_now_ns : 0);
}

static bool clock_passed(const conn_clock *k)
{
    int64_t d = k ? atomic_load(&k->deadline_ns) : 0;
    return d != 0 && now_ns() > d;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    co__http_server *s = cls;
    conn_clock *k = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (info == NULL || (k = calloc(1, sizeof *k)) == NULL)
            return; /* untracked: only the idle bound holds for it */
        k->fd = info->connect_fd;
        clock_set(k, (int64_t)s->limits.header_timeout_ms * 1000000);
        pthread_mutex_lock(&s->clocks_lock);
        k->next = s->clocks;
        if (s->clocks)
            s->clocks->prev = k;
        s->clocks = k;
        pthread_mutex_unlock(&s->clocks_lock);
        *socket_context = k;
    } else if (k) {
        pthread_mutex_lock(&s->clocks_lock);
        if (k->prev)
            k->prev->next = k->next;
        else
            s->clocks = k->next;
        if (k->next)
            k->next->prev = k->prev;
        pthread_mutex_unlock(&s->clocks_lock);
        free(k);
        *socket_context = NULL;
    }
}

/* Disconnects every client past its deadline, ten times a second. */
static void *sweeper_main(void *arg)
{
    co__http_server *s = arg;
    pthread_mutex_lock(&s->clocks_lock);
    while (!s->stopping) {
        struct timespec wake;
        clock_gettime(CLOCK_MONOTONIC, &wake);
        wake.tv_nsec += 100 * 1000000;
        if (wake.tv_nsec >= 1000000000) {
            wake.tv_sec++;
            wake.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->sweeper_wake, &s->clocks_lock, &wake);
        for (conn_clock *k = s->clocks; k; k = k->next) {
            if (clock_passed(k)) {
                atomic_store(&k->deadline_ns, 0);
                shutdown(k->fd, SHUT_RDWR);
            }
        }
    }
    pthread_mutex_unlock(&s->clocks_lock);
    return NULL;
}

/* ---- the spool directory ---- */

#define SPOOL_PREFIX "cutoffd-spool."

/* Removes the files of an open directory, then the directory. */
static void remove_dir_at(int parent, const char *name, int fd)
{
    int scan = dup(fd);
    DIR *dir = scan >= 0 ? fdopendir(scan) : NULL;
    if (dir == NULL && scan >= 0)
        close(scan);
    for (struct dirent *e; dir && (e = readdir(dir)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
            unlinkat(fd, e->d_name, 0);
    if (dir)
        closedir(dir);
    unlinkat(parent, name, AT_REMOVEDIR);
}

/* Removes the spool directories in tmp that this user owns and no running
 * listener holds: what a killed cutoffd left behind. */
static void spool_sweep(const char *tmp)
{
    DIR *dir = opendir(tmp);
    if (dir == NULL)
        return;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        if (strncmp(e->d_name, SPOOL_PREFIX, strlen(SPOOL_PREFIX)) != 0)
            continue;
        int fd = openat(dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0)
            continue;
        if (fstat(fd, &st) == 0 && st.st_uid == geteuid() && flock(fd, LOCK_EX | LOCK_NB) == 0)
            remove_dir_at(dirfd(dir), e->d_name, fd);
        close(fd);
    }
    closedir(dir);
}

/* Makes this listener's spool directory: created under another name,
 * locked, then renamed, so that a sweep by another process starting at
 * the same moment never sees it unlocked. */
static int spool_open(co__http_server *s, char *err, size_t err_len)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || *tmp == '\0')
        tmp = "/tmp";
    size_t need = strlen(tmp) + sizeof "/" SPOOL_PREFIX "XXXXXX" + sizeof "/body.XXXXXX";
    if (need > PATH_MAX) {
        snprintf(err, err_len, "TMPDIR is too long for the upload spool (%zu bytes, at most %d)",
                 strlen(tmp), PATH_MAX - (int)(need - strlen(tmp)));
        return -1;
    }
    spool_sweep(tmp);
    char fresh[PATH_MAX];
    snprintf(fresh, sizeof fresh, "%s/cutoffd-new.XXXXXX", tmp);
    s->spool_dir = malloc(need);
    if (s->spool_dir == NULL || mkdtemp(fresh) == NULL) {
        snprintf(err, err_len, "cannot make the upload spool directory in %s (TMPDIR): %s", tmp,
                 strerror(errno));
        return -1;
    }
    snprintf(s->spool_dir, need, "%s/" SPOOL_PREFIX "%s", tmp, strrchr(fresh, '.') + 1);
    s->spool_lock = open(fresh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->spool_lock < 0 || flock(s->spool_lock, LOCK_EX) != 0 ||
        rename(fresh, s->spool_dir) != 0) {
        snprintf(err, err_len, "cannot set up the upload spool directory %s: %s", s->spool_dir,
                 strerror(errno));
        rmdir(fresh);
        return -1;
    }
    return 0;
}

static void spool_close(co__http_server *s)
{
    if (s->spool_dir && s->spool_lock >= 0) {
        char *slash = strrchr(s->spool_dir, '/');
        *slash = '\0';
        int parent = open(s->spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        *slash = '/';
        if (parent >= 0) {
            remove_dir_at(parent, slash + 1, s->spool_lock);
            close(parent);
        }
    }
    if (s->spool_lock >= 0)
        close(s->spool_lock);
    free(s->spool_dir);
}

/* A file of the spool directory for one request's body. */
static int spool_create(co__http_req *r)
{
    const char *dir = r->server->spool_dir;
    if (dir == NULL || (r->spool_path = malloc(strlen(dir) + sizeof "/body.XXXXXX")) == NULL)
        return -1;
    sprintf(r->spool_path, "%s/body.XXXXXX", dir);
    int fd = mkostemp(r->spool_path, O_CLOEXEC);
    r->spool = fd >= 0 ? fdopen(fd, "w+") : NULL;
    if (r->spool == NULL) {
        if (fd >= 0) {
            close(fd);
            unlink(r->spool_path);
        }
        free(r->spool_path);
        r->spool_path = NULL;
        return -1;
    }
    return 0;
}

/* ---- requests ---- */

/* A caller's X-Request-Id is kept when it is short and printable. */
static bool usable_request_id(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++)
        if (n >= 36 || id[n] <= ' ' || id[n] > '~' || id[n] == '"' || id[n] == '\\')
            return false;
    return n > 0;
}

/* MHD decodes the path before a handler sees it, so "%2F" and "/" read
 * alike there: the request target as the client sent it is kept here,
 * before any parsing, in the request object the access handler then
 * completes (request_new). */
static void *on_target(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls, (void)conn;
    co__http_req *r = calloc(1, sizeof *r);
    if (r != NULL)
        r->target = strdup(uri); /* NULL when out of memory: co__http_target says so */
    return r;
}

/* Completes the request object on_target made (r), or makes one. */
static co__http_req *request_new(co__http_server *s, struct MHD_Connection *conn, const char *url,
                                 const char *method, co__http_req *r)
{
    if (r == NULL && (r = calloc(1, sizeof *r)) == NULL)
        return NULL;
    r->server = s;
    r->conn = conn;
    r->method = method;
    r->path = url;
    r->start_ns = now_ns();
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    r->clock = info ? info->socket_context : NULL;
    const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (given && usable_request_id(given))
        snprintf(r->request_id, sizeof r->request_id, "%s", given);
    else
        snprintf(r->request_id, sizeof r->request_id, "%016llx",
                 (unsigned long long)(request_salt ^ (atomic_fetch_add(&request_counter, 1) *
                                                      0x9e3779b97f4a7c15ull)));
    return r;
}

static void request_free(co__http_req *r)
{
    if (r == NULL)
        return;
    if (r->spool)
        fclose(r->spool);
    if (r->spool_path)
        unlink(r->spool_path);
    free(r->spool_path);
    free(r->target);
    if (r->release)
        r->release(r->data);
    free(r->body);
    free(r);
}

/* Keeps n more bytes of the body; false when they do not fit (limit, or
 * no memory or disk), and the connection is then closed. */
static bool append_body(co__http_req *r, const char *data, size_t n)
{
    if (r->spool) {
        if (r->spooled + n > r->server->limits.max_spool_bytes)
            return false;
        r->spooled += n;
        return fwrite(data, 1, n, r->spool) == n;
    }
    if (r->body_len + n > r->server->limits.max_body_bytes)
        return false;
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap * 2 : 1024;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (b == NULL)
            return false;
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return true;
}

/* The names of a request's query parameters, to find one given twice. */
typedef struct query_names {
    const char *names[32];
    size_t n;
    const char *twice; /* a name given twice, or NULL */
    bool too_many;
} query_names;

static enum MHD_Result note_query_name(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    (void)kind;
    (void)value;
    query_names *q = cls;
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->names[i], key) == 0) {
            q->twice = key;
            return MHD_NO;
        }
    if (q->n == sizeof q->names / sizeof q->names[0]) {
        q->too_many = true;
        return MHD_NO;
    }
    q->names[q->n++] = key;
    return MHD_YES;
}

/* A parameter given twice ("?version=1&version=2") is refused: which of
 * the two counts would be a guess, and a cache or proxy in front may
 * guess the other way. So is a query of more names than any route reads. */
static bool query_unambiguous(co__http_req *r)
{
    query_names q = {.n = 0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, note_query_name, &q);
    if (q.twice == NULL && !q.too_many)
        return true;
    char detail[200];
    if (q.too_many)
        snprintf(detail, sizeof detail, "the query names more than %zu parameters",
                 sizeof q.names / sizeof q.names[0]);
    else if (cutoff_id_valid(q.twice))
        snprintf(detail, sizeof detail, "query parameter %s is given more than once", q.twice);
    else
        snprintf(detail, sizeof detail, "a query parameter is given more than once");
    co__http_reply_error(r, CUTOFF_EINVAL, NULL, detail, NULL);
    return false;
}

/* The first call, the head complete and nothing of the body read: admit,
 * refuse an ambiguous query or a declared length over the limit, open the
 * spool file. Answering here makes MHD discard the body unread and close
 * the connection. */
static void admit(co__http_server *s, co__http_req *r)
{
    if (!query_unambiguous(r))
        return;
    if (s->cb.admit)
        s->cb.admit(s->cb.ctx, r);
    if (r->answered)
        return;
    const char *declared = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    uint64_t limit = r->spool_wanted ? s->limits.max_spool_bytes : s->limits.max_body_bytes;
    if (declared && strtoull(declared, NULL, 10) > limit) {
        char detail[120];
        snprintf(detail, sizeof detail, "the request body exceeds the server's limit (%llu bytes)",
                 (unsigned long long)limit);
        co__http_reply_error(r, CUTOFF_ELIMIT, NULL, detail, NULL);
        return;
    }
    if (r->spool_wanted && spool_create(r) != 0) {
        co__http_reply_error(r, CUTOFF_EUNAVAIL, NULL,
                             "the server cannot store the request body (upload spool)", NULL);
        return;
    }
    r->admitted = true;
    clock_set(r->clock, (int64_t)s->limits.body_timeout_s * 1000000000);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    co__http_server *s = cls;
    co__http_req *r = *con_cls;
    if (r == NULL || r->conn == NULL) {
        r = request_new(s, conn, url, method, r);
        if (r == NULL)
            return MHD_NO;
        *con_cls = r;
        admit(s, r);
        if (r->answered)
            clock_set(r->clock, 0);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /* Past the deadline or the limit (a body without Content-Length),
         * or the disk is full: drop the connection rather than read on. */
        if (clock_passed(r->clock) || !append_body(r, upload_data, *upload_data_size))
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->answered)
        return MHD_YES;
    clock_set(r->clock, 0);
    if (r->spool && fflush(r->spool) != 0)
        co__http_reply_error(r, CUTOFF_EIO, NULL, "the server could not store the request body",
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
    co__http_server *s = cls;
    (void)conn;
    co__http_req *r = *con_cls;
    /* The next request on a kept-alive connection: its head may take the
     * idle bound, or the head deadline if that is longer. */
    if (r && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        uint64_t ms = (uint64_t)s->limits.timeout_s * 1000;
        if (ms < s->limits.header_timeout_ms)
            ms = s->limits.header_timeout_ms;
        clock_set(r->clock, (int64_t)ms * 1000000);
    }
    request_free(r);
    *con_cls = NULL;
}

int co__http_listen_lookup(const char *listen, bool with_port, struct addrinfo **res, char *err,
                           size_t err_len)
{
    char host[256];
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    *res = NULL;
    if (colon == NULL || colon == listen || (size_t)(colon - listen) >= sizeof host) {
        snprintf(err, err_len, "listen address \"%s\" is not HOST:PORT", listen ? listen : "");
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
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    int rc = getaddrinfo(host, with_port ? colon + 1 : NULL, &hints, res);
    if (rc != 0) {
        snprintf(err, err_len, "listen address \"%s\": %s", listen, gai_strerror(rc));
        *res = NULL;
        return -1;
    }
    return 0;
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, char *err, size_t err_len)
{
    struct addrinfo *res;
    if (co__http_listen_lookup(listen, true, &res, err, err_len) != 0)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static void server_free(co__http_server *s)
{
    if (s->sweeper_running) {
        pthread_mutex_lock(&s->clocks_lock);
        s->stopping = true;
        pthread_cond_signal(&s->sweeper_wake);
        pthread_mutex_unlock(&s->clocks_lock);
        pthread_join(s->sweeper, NULL);
    }
    spool_close(s);
    pthread_cond_destroy(&s->sweeper_wake);
    pthread_mutex_destroy(&s->clocks_lock);
    free(s);
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
    s->spool_lock = -1;
    pthread_mutex_init(&s->clocks_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->sweeper_wake, &ca);
    pthread_condattr_destroy(&ca);
    if (cb->spools && spool_open(s, err, err_len) != 0) {
        server_free(s);
        return NULL;
    }
    if (pthread_create(&s->sweeper, NULL, sweeper_main, s) != 0) {
        snprintf(err, err_len, "cannot start a thread");
        server_free(s);
        return NULL;
    }
    s->sweeper_running = true;
    unsigned flags =
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, limits->threads ? limits->threads : 1,
        MHD_OPTION_CONNECTION_LIMIT, limits->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        limits->connections_per_client, MHD_OPTION_CONNECTION_TIMEOUT, limits->timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, limits->max_header_bytes, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_URI_LOG_CALLBACK, on_target, NULL, MHD_OPTION_END);
    if (s->mhd == NULL) {
        snprintf(err, err_len, "cannot listen on %s (address in use or not allowed?)", listen);
        server_free(s);
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
    server_free(s);
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

const char *co__http_target(const co__http_req *r)
{
    return r->target;
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
    const char *name, *value;
    unsigned n;
} header_count;

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    header_count *c = cls;
    if (strcasecmp(key, c->name) == 0 && c->n++ == 0)
        c->value = value;
    return MHD_YES;
}

/* One pass over the headers: the count and the first value together. */
const char *co__http_header_once(const co__http_req *r, const char *name, unsigned *count)
{
    header_count c = {name, NULL, 0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_header, &c);
    *count = c.n;
    return c.n == 1 ? c.value : NULL;
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

void co__http_spool_body(co__http_req *r)
{
    r->spool_wanted = true;
}

void co__http_set_data(co__http_req *r, void *data, void (*release)(void *))
{
    r->data = data;
    r->release = release;
}

void *co__http_data(const co__http_req *r)
{
    return r->data;
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
