/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_config.c - fuzzes cutoffd's configuration (config_parse, the text
 * of the file config_load reads). A configuration that loads must have its
 * settings in their documented ranges and routes that can be used: a
 * method, an action name, a subscription from the path or a header, "**"
 * only last; and each route's own path (its captures filled in) must be
 * routed, when it is a URI a gateway may forward. A refusal is a one-line
 * message.
 */
#include "fuzz.h"

#include "daemon/config.h"

#include <stdlib.h>
#include <string.h>

/* A concrete path for route r ("x1" for every capture or "*"), or NULL
 * when a literal holds what a URI would read differently. */
static char *path_of(const route *r)
{
    size_t len = 2;
    for (size_t k = 0; k < r->n_segs; k++) {
        const route_seg *s = &r->segs[k];
        if (s->kind == SEG_LITERAL && strpbrk(s->text, "?#%") != NULL)
            return NULL;
        len += 1 + (s->kind == SEG_LITERAL ? strlen(s->text) : 2);
    }
    char *path = malloc(len), *w = path;
    FUZZ_CHECK(path != NULL);
    for (size_t k = 0; k < r->n_segs; k++) {
        const route_seg *s = &r->segs[k];
        if (s->kind == SEG_REST)
            break;
        w += sprintf(w, "/%s", s->kind == SEG_LITERAL ? s->text : "x1");
    }
    if (w == path)
        *w++ = '/';
    *w = '\0';
    return path;
}

static void check_route(const daemon_config *c, const route *r)
{
    FUZZ_CHECK(r->method != NULL && r->path != NULL && r->path[0] == '/');
    FUZZ_CHECK(r->action != NULL && cutoff_pattern_check(r->action, NULL) == 0 &&
               strchr(r->action, '*') == NULL);
    bool sub = r->subscription_header != NULL;
    for (size_t k = 0; k < r->n_segs; k++) {
        sub |= r->segs[k].kind == SEG_SUBSCRIPTION;
        FUZZ_CHECK(r->segs[k].kind != SEG_REST || k + 1 == r->n_segs);
        FUZZ_CHECK((r->segs[k].kind == SEG_LITERAL) == (r->segs[k].text != NULL));
    }
    FUZZ_CHECK(sub);
    char *path = path_of(r);
    char why[400];
    if (path && route_uri_check(path, why, sizeof why)) {
        const char *method = strcmp(r->method, "*") == 0 ? "GET" : r->method;
        char *scratch = malloc(strlen(path) + 1);
        FUZZ_CHECK(scratch != NULL);
        route_match m;
        FUZZ_CHECK(route_find(c, method, path, scratch, &m));
        free(scratch);
    }
    free(path);
}

int co__fuzz_config(const uint8_t *data, size_t size, cutoff_diag *diag)
{
    daemon_config c;
    char err[512] = "";
    if (config_parse((const char *)data, size, "cutoffd.json", &c, err, sizeof err) != 0)
        return co__fuzz_refused(CUTOFF_EPARSE, err, diag);
    FUZZ_CHECK(c.database && c.decision_listen && c.admin_listen);
    /* No notice_base: this daemon's own /v1/notices/; "": none. */
    FUZZ_CHECK(c.notice_base == NULL || c.notice_base[0] == '\0' ||
               cutoff_notice_url_check(c.notice_base, NULL) == 0);
    FUZZ_CHECK(c.safety_interval_ms >= 1 && c.safety_interval_ms <= 600000);
    FUZZ_CHECK(c.heartbeat_s >= 1 && c.heartbeat_s <= 3600);
    FUZZ_CHECK(c.node_id == NULL || config_node_id_valid(c.node_id));
    FUZZ_CHECK(c.convention == FORWARD_NGINX || c.convention == FORWARD_FORWARDED ||
               c.convention == FORWARD_ENVOY);
    FUZZ_CHECK(c.limits.max_body_bytes >= 1024 && c.limits.threads >= 1 &&
               c.limits.threads <= 256 && c.limits.timeout_s >= 1 &&
               c.limits.max_connections >= 1 && c.limits.max_header_bytes >= 4096);
    for (size_t i = 0; i < c.n_routes; i++)
        check_route(&c, &c.routes[i]);
    config_free(&c);
    return 0;
}

#ifndef CUTOFF_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cutoff_diag diag;
    co__fuzz_config(data, size, &diag);
    return 0;
}
#endif
