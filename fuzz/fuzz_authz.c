/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_authz.c - fuzzes what GET /v1/authz reads from a gateway: the
 * forwarded method, URI and headers, mapped through route rules by
 * forwarded_map (with route_uri_check and route_find under it). The input
 * is the request's headers, one "Name: value" a line; it is mapped under a
 * fixed set of routes in both header conventions. A request that maps
 * must have a forwarded URI in normal form (normalising it again changes
 * nothing: no dot or empty segments, no escaped "/", "\", "%" or
 * unreserved characters, no backslash), a non-empty subscription that is
 * no dot segment and holds no "/", "\" or control byte, and the route's
 * action; a refusal is EPARSE or ENOTFOUND with a one-line message.
 */
#include "fuzz.h"

#include "daemon/daemon.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
static const char routes_json[] =
    "\"routes\": ["
    "{\"method\": \"GET\", \"path\": \"/v1/subscriptions/{subscription}/**\", \"action\": \"storage.read\"},"
    "{\"method\": \"PUT\", \"path\": \"/v1/subscriptions/{subscription}/{region}/blobs/*\", \"action\": \"storage.write\"},"
    "{\"path\": \"/api/{region}/{subscription}\", \"action\": \"compute.run\"},"
    "{\"method\": \"POST\", \"path\": \"/hdr/**\", \"action\": \"compute.run\","
    " \"subscription_header\": \"X-Subscription\", \"region_header\": \"X-Region\"},"
    "{\"method\": \"DELETE\", \"path\": \"/fixed/{subscription}\", \"action\": \"storage.delete\","
    " \"region\": \"eu-west\"}"
    "]";
/* clang-format on */

typedef struct header {
    char *name, *value;
} header;

typedef struct headers {
    header *h;
    size_t n;
} headers;

static const char *find_header(void *ctx, const char *name, bool *repeated)
{
    const headers *hs = ctx;
    const char *value = NULL;
    unsigned count = 0;
    for (size_t i = 0; i < hs->n; i++)
        if (strcasecmp(hs->h[i].name, name) == 0 && count++ == 0)
            value = hs->h[i].value;
    *repeated = count > 1;
    return count == 1 ? value : NULL;
}

/* Splits the input into "Name: value" lines (the copy is cut in place). */
static void read_headers(char *text, size_t size, headers *hs)
{
    hs->h = calloc(size / 2 + 1, sizeof *hs->h);
    FUZZ_CHECK(hs->h != NULL);
    hs->n = 0;
    char *p = text, *end = text + size;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl ? nl : end;
        *line_end = '\0';
        char *colon = strchr(p, ':');
        if (colon) {
            *colon = '\0';
            char *value = colon + 1;
            value += *value == ' ';
            hs->h[hs->n++] = (header){p, value};
        }
        p = line_end + 1;
    }
}

static int hex(char c)
{
    return isdigit((unsigned char)c)    ? c - '0'
           : isxdigit((unsigned char)c) ? (c | 0x20) - 'a' + 10
                                        : -1;
}

/* The path of uri as RFC 3986 normalisation (and servers that go further:
 * backslash as slash, "..;" as "..", empty segments merged) would have it:
 * escapes of unreserved characters decoded, hex digits upper case, dot
 * segments removed. Freed by the caller. */
static char *normalised_path(const char *uri)
{
    size_t plen = strcspn(uri, "?");
    char *out = calloc(plen * 3 + 2, 1);
    FUZZ_CHECK(out != NULL);
    size_t o = 0;
    const char *p = uri, *end = uri + plen;
    while (p < end) {
        while (p < end && (*p == '/' || *p == '\\'))
            p++; /* "//" and "\" merge into one separator */
        const char *seg = p;
        char decoded[4096];
        size_t d = 0;
        for (; p < end && *p != '/' && *p != '\\' && d + 3 < sizeof decoded; p++) {
            int hi = *p == '%' && p + 2 < end ? hex(p[1]) : -1,
                lo = *p == '%' && p + 2 < end ? hex(p[2]) : -1;
            if (hi >= 0 && lo >= 0) {
                char c = (char)(hi * 16 + lo);
                if (isalnum((unsigned char)c) || strchr("-._~", c)) {
                    decoded[d++] = c;
                } else if (c == '/' || c == '\\') {
                    decoded[d++] = '/'; /* a server that decodes first splits here */
                } else {
                    d += (size_t)sprintf(decoded + d, "%%%02X", (unsigned char)c);
                }
                p += 2;
            } else {
                decoded[d++] = *p;
            }
        }
        decoded[d] = '\0';
        if (p == seg && p >= end) {
            if (o == 0 || out[o - 1] != '/')
                out[o++] = '/'; /* a final "/" stays */
            break;
        }
        size_t name = strcspn(decoded, ";");
        if (name == 1 && decoded[0] == '.')
            continue;
        if (name == 2 && decoded[0] == '.' && decoded[1] == '.') {
            while (o > 0 && out[--o] != '/')
                ;
            continue;
        }
        out[o++] = '/';
        memcpy(out + o, decoded, d);
        o += d;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return out;
}

/* The path of uri with its escapes' hex digits in upper case. */
static char *upper_escapes(const char *uri)
{
    size_t plen = strcspn(uri, "?");
    char *out = strndup(uri, plen);
    FUZZ_CHECK(out != NULL);
    for (size_t i = 0; i + 2 < plen + 1 && out[i]; i++)
        if (out[i] == '%' && out[i + 1] && out[i + 2]) {
            out[i + 1] = (char)toupper((unsigned char)out[i + 1]);
            out[i + 2] = (char)toupper((unsigned char)out[i + 2]);
        }
    return out;
}

static bool plain_id_text(const char *s)
{
    if (*s == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '/' || *s == '\\')
            return false;
    return true;
}

static const daemon_config *config_for(forward_convention convention)
{
    static daemon_config configs[2];
    static bool loaded[2];
    if (!loaded[convention]) {
        char text[2048], err[512];
        snprintf(text, sizeof text, "{\"forward_headers\": \"%s\", %s}",
                 convention == FORWARD_NGINX ? "nginx" : "forwarded", routes_json);
        FUZZ_CHECK(
            config_parse(text, strlen(text), "fuzz", &configs[convention], err, sizeof err) == 0);
        loaded[convention] = true;
    }
    return &configs[convention];
}

static int map_once(const daemon_config *c, headers *hs, cutoff_diag *diag)
{
    char scratch[64], *heap = NULL, why[512] = "";
    cutoff_request asked;
    int rc =
        forwarded_map(c, find_header, hs, scratch, sizeof scratch, &heap, &asked, why, sizeof why);
    if (rc != 0) {
        FUZZ_CHECK(rc == CUTOFF_EPARSE || rc == CUTOFF_ENOTFOUND);
        co__fuzz_refused(rc, why, diag);
    } else {
        bool repeated;
        const char *uri = find_header(
            hs, c->convention == FORWARD_NGINX ? "X-Original-URI" : "X-Forwarded-Uri", &repeated);
        const char *method = find_header(
            hs, c->convention == FORWARD_NGINX ? "X-Original-Method" : "X-Forwarded-Method",
            &repeated);
        FUZZ_CHECK(uri != NULL && method != NULL && route_method_check(method));
        FUZZ_CHECK(route_uri_check(uri, why, sizeof why));
        char *normal = normalised_path(uri), *upper = upper_escapes(uri);
        FUZZ_CHECK(strcmp(normal, upper) == 0);
        free(normal);
        free(upper);
        FUZZ_CHECK(asked.subscription != NULL && plain_id_text(asked.subscription) &&
                   cutoff_id_valid(asked.subscription));
        FUZZ_CHECK(asked.action != NULL && cutoff_pattern_check(asked.action, NULL) == 0);
    }
    free(heap);
    return rc;
}

int co__fuzz_authz(const uint8_t *data, size_t size, cutoff_diag *diag)
{
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    headers hs;
    read_headers(text, size, &hs);
    cutoff_diag other;
    int rc = map_once(config_for(FORWARD_NGINX), &hs, diag);
    int rc_forwarded = map_once(config_for(FORWARD_FORWARDED), &hs, &other);
    (void)rc_forwarded;
    free(hs.h);
    free(text);
    return rc;
}

#ifndef CUTOFF_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cutoff_diag diag;
    co__fuzz_authz(data, size, &diag);
    return 0;
}
#endif
