/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.h - cutoffd's configuration: a JSON file, overridden by flags, and
 * the gateway route rules that map an original method + path to the
 * (subscription, action, region) to decide.
 */
#ifndef CUTOFFD_CONFIG_H
#define CUTOFFD_CONFIG_H

#include "http/http.h"

#include <stdbool.h>
#include <stddef.h>

/* One path segment pattern: a literal, "*" (one segment), "**" (the rest,
 * possibly empty; last only), or a capture "{subscription}" / "{region}". */
typedef enum seg_kind { SEG_LITERAL, SEG_ANY, SEG_REST, SEG_SUBSCRIPTION, SEG_REGION } seg_kind;

typedef struct route_seg {
    seg_kind kind;
    char *text; /* for literals */
} route_seg;

typedef struct route {
    char *method; /* "GET", ... or "*" */
    char *path;   /* as written, for messages */
    route_seg *segs;
    size_t n_segs;
    char *action;              /* catalog action to decide */
    char *region;              /* fixed region, or NULL */
    char *subscription_header; /* take the subscription from this header */
    char *region_header;       /* take the region from this header */
} route;

/* Which headers carry the original request of a gateway's authz call.
 * One per decision listener: headers of the other convention are never
 * read, so a client cannot add them to change what is decided. */
typedef enum forward_convention {
    FORWARD_NGINX = 0,     /* X-Original-Method, X-Original-URI (nginx auth_request) */
    FORWARD_FORWARDED = 1, /* X-Forwarded-Method, X-Forwarded-Uri (Traefik, Caddy) */
    FORWARD_ENVOY = 2      /* the check's own method, and its target under the prefix */
} forward_convention;

/* Envoy's ext_authz (HTTP service) asks with the client's method and
 * path_prefix + the client's path: its path_prefix must be this. */
#define ENVOY_AUTHZ_PREFIX "/v1/authz/envoy"

typedef struct daemon_config {
    char *database;
    char *decision_listen;
    char *admin_listen;
    char *tokens_file;
    char *log_file;                /* NULL or "-": standard error */
    bool log_decisions;            /* one log line per decision request too */
    char *notice_base;             /* base URL of notices, for Link and problem bodies */
    unsigned safety_interval_ms;   /* re-read the change log at least this often */
    bool watch_ms_given;           /* the deprecated alias of safety_interval_ms was used */
    char *node_id;                 /* this node's id in receipts; NULL: HOST:DECISION_PORT */
    unsigned heartbeat_s;          /* a receipt at least this often */
    unsigned max_staleness_s;      /* refuse decisions this long without a read; 0: never */
    char *signing_key;             /* the key that signs audit heads (created if missing) */
    unsigned sign_interval_s;      /* a head at least this often; 0: only on changes */
    co__http_limits limits;        /* both listeners; connections_per_client: below */
    unsigned decision_per_client;  /* "decision_connections_per_client", 0: no bound */
    unsigned admin_per_client;     /* "admin_connections_per_client" */
    bool admin_allow_remote;       /* the admin listener may be on a non-loopback address */
    forward_convention convention; /* "forward_headers": "nginx" (default), "forwarded", "envoy" */
    route *routes;
    size_t n_routes;
} daemon_config;

/* Loads path (NULL: defaults only). Returns 0, or -1 with a message in err
 * that names the file and the JSON path. */
int config_load(const char *path, daemon_config *out, char *err, size_t err_len);
/* The same from the len bytes of text, with name for the file in messages. */
int config_parse(const char *text, size_t len, const char *name, daemon_config *out, char *err,
                 size_t err_len);
void config_free(daemon_config *c);
/* Whether id may be a node_id: 1 to CUTOFF_NODE_ID_MAX bytes of printable
 * ASCII (what the receipts accept). */
bool config_node_id_valid(const char *id);

/* Whether every address a listen address ("HOST:PORT", "[V6]:PORT")
 * resolves to is a loopback address (127.0.0.0/8, ::1, or IPv4 loopback
 * mapped to IPv6). False for a wildcard ("0.0.0.0", "[::]") and for what
 * does not resolve. */
bool config_listen_is_loopback(const char *listen);

/* The captures of a matched route. Strings point into `scratch`. */
typedef struct route_match {
    const route *route;
    const char *subscription;
    const char *region;
} route_match;

/* Refuses a forwarded URI that a gateway's upstream could read as another
 * path than the route rules do: anything but "/" followed by segments of
 * plain printable ASCII and %XX escapes of characters that need one. Dot
 * segments ("." "..", also before a ";"), empty segments (but a final "/"),
 * backslashes, fragments, control and non-ASCII bytes, bad escapes, and
 * escapes of "/", "\", "%", controls or unreserved characters (letters,
 * digits, "-._~": "%2e" is a dot) are refused. The query is not routed and
 * needs only printable ASCII. Returns true, or false with the reason in why. */
bool route_uri_check(const char *uri, char *why, size_t why_len);
/* Whether method is an HTTP token (RFC 9110): what a gateway may forward. */
bool route_method_check(const char *method);

/* Finds the first route matching method and path (query stripped).
 * scratch (>= strlen(path) + 1 bytes) holds the decoded captures. */
bool route_find(const daemon_config *c, const char *method, const char *path, char *scratch,
                route_match *out);

#endif
