/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.h - a thin layer over libmicrohttpd for cutoffd: one listener with
 * limits and deadlines, whole request bodies collected up to a cap, request
 * ids, and small helpers to answer with JSON or an RFC 9457 problem.
 * Handlers see a co__http_req and never touch MHD's upload protocol.
 *
 * A request passes two steps: admit, once its head is complete and before
 * any of its body is read (authentication, routing, whether the body goes
 * to a file), then handle, with the whole body. A request that admit
 * answers has its body discarded unread, and its connection is closed.
 */
#ifndef CUTOFF_HTTP_H
#define CUTOFF_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct co__http_server co__http_server;
typedef struct co__http_req co__http_req;

typedef struct co__http_limits {
    size_t max_body_bytes;    /* larger bodies get 413 */
    uint64_t max_spool_bytes; /* the same for bodies spooled to a file */
    size_t max_header_bytes;  /* per connection buffer for the request head */
    unsigned max_connections;
    unsigned connections_per_client; /* per client address; 0: no bound */
    unsigned timeout_s;              /* idle connection timeout */
    /* A connection's first request head must be complete this long after
     * the connection opened (a later one: timeout_s after the previous
     * answer, if longer); a body, body_timeout_s after its head. Slower
     * clients are disconnected. */
    unsigned header_timeout_ms;
    unsigned body_timeout_s;
    unsigned threads; /* polling threads (epoll), >= 1 */
} co__http_limits;

/* Called once a request's head is complete, before any of its body is
 * read. It refuses by answering (co__http_reply*): the body is then never
 * read or stored. Otherwise it may ask for the body to go to a file
 * (co__http_spool_body) and keep state for handle (co__http_set_data).
 * May be NULL: every request is admitted, its body kept in memory. */
typedef void (*co__http_admit_fn)(void *ctx, co__http_req *req);
/* Handles one complete, admitted request: must answer with co__http_reply*
 * exactly once. */
typedef void (*co__http_handler)(void *ctx, co__http_req *req);
/* Called after each answered request (for logs and metrics). */
typedef void (*co__http_done_fn)(void *ctx, const co__http_req *req, int status);

typedef struct co__http_callbacks {
    co__http_admit_fn admit;
    co__http_handler handle;
    co__http_done_fn done;
    void *ctx;
    /* Whether requests may spool their bodies to files. The files live in
     * a directory of this listener's own, $TMPDIR/cutoffd-spool.XXXXXX,
     * made at start (where directories that no running listener holds,
     * left by a killed process, are removed) and removed at stop. */
    bool spools;
} co__http_callbacks;

/* Starts a listener on host:port ("127.0.0.1:8080"; port 0 picks one).
 * Returns NULL and fills err on failure (also when $TMPDIR cannot hold
 * the spool directory). */
co__http_server *co__http_start(const char *listen, const co__http_limits *limits,
                                const co__http_callbacks *cb, char *err, size_t err_len);
/* The port actually bound. */
unsigned co__http_port(const co__http_server *s);
/* Stops accepting new connections, waits up to drain_ms for open ones to
 * finish, then stops. */
void co__http_stop(co__http_server *s, unsigned drain_ms);

/* ---- request ---- */
const char *co__http_method(const co__http_req *r);
const char *co__http_path(const co__http_req *r); /* without the query */
/* The request target exactly as the client sent it: path and query, not
 * decoded (co__http_path is decoded); NULL when it could not be kept. */
const char *co__http_target(const co__http_req *r);
const char *co__http_header(const co__http_req *r, const char *name);
/* The value of header `name` (case-insensitive) when the request carries
 * it exactly once, else NULL; *count says how many times it came. */
const char *co__http_header_once(const co__http_req *r, const char *name, unsigned *count);
const char *co__http_query(const co__http_req *r, const char *name);
const char *co__http_body(const co__http_req *r, size_t *len);
/* For admit: the body goes to a file, up to limits.max_spool_bytes (a
 * larger Content-Length is refused with 413 before any of it is read).
 * Only on a listener whose callbacks say spools. */
void co__http_spool_body(co__http_req *r);
/* State admit keeps for handle; release (may be NULL) frees it when the
 * request ends, whatever happens to it. */
void co__http_set_data(co__http_req *r, void *data, void (*release)(void *));
void *co__http_data(const co__http_req *r);
/* The spooled body, rewound, and the temporary file's path (NULL unless
 * admit asked for a file). The file is removed when the request ends, also
 * when the client goes away before. */
FILE *co__http_body_file(co__http_req *r);
const char *co__http_body_path(co__http_req *r);
const char *co__http_request_id(const co__http_req *r);
/* Nanoseconds since the request began (monotonic). */
int64_t co__http_elapsed_ns(const co__http_req *r);
/* Free-form labels a handler sets for the log line (principal, verb). */
void co__http_set_label(co__http_req *r, const char *principal, const char *verb);
const char *co__http_principal(const co__http_req *r);
const char *co__http_verb(const co__http_req *r);

/* ---- response ----
 * Extra headers come as a NULL-terminated list of name, value pairs. */
void co__http_reply(co__http_req *r, int status, const char *content_type, const char *body,
                    size_t len, const char *const *headers);
void co__http_reply_json(co__http_req *r, int status, const char *json, const char *const *headers);
/* An application/problem+json body: type is a URI reference (or NULL for
 * about:blank), detail one human sentence. extra_json, when not NULL, is an
 * object whose members are merged in; its own "status" is kept (a denial
 * that a gateway relays names the status its client will see). */
void co__http_reply_problem(co__http_req *r, int status, const char *type, const char *title,
                            const char *detail, const char *extra_json, const char *const *headers);
/* The problem for error code rc: HTTP status and title from the error
 * table of cutoff.h, "code": its symbolic name (which the CLI reads back),
 * and detail (NULL: the code's message). */
void co__http_reply_error(co__http_req *r, int rc, const char *type, const char *detail,
                          const char *const *headers);

/* Looks up a listen address "HOST:PORT" ("[::1]:PORT" for IPv6) with
 * getaddrinfo, the port too when with_port: 0 and the addresses in *res
 * (freeaddrinfo them), or -1 with the fault in err. */
struct addrinfo;
int co__http_listen_lookup(const char *listen, bool with_port, struct addrinfo **res, char *err,
                           size_t err_len);

#endif
