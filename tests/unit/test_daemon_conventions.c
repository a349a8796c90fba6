/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_daemon_conventions.c - the three header conventions of a decision
 * listener (forward_headers): each reads the original request in its own
 * place only, so a request carrying every convention's headers is decided
 * by the configured one and never by a mix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon/daemon.h"

#include <stdio.h>
#include <string.h>

static const char *routes = "\"routes\": ["
                            " {\"method\": \"GET\", \"path\": \"/storage/{subscription}/**\", "
                            "\"action\": \"storage.read\"},"
                            " {\"method\": \"PUT\", \"path\": \"/storage/{subscription}/**\", "
                            "\"action\": \"storage.write\"}"
                            "]";

/* A request as a gateway's check delivers it: every convention's place,
 * each naming another method and subscription. ":method" and ":path" are
 * the check's request line (Envoy). */
static const char *const all_conventions[] = {"X-Original-Method",
                                              "GET",
                                              "X-Original-URI",
                                              "/storage/sub-nginx/a",
                                              "X-Forwarded-Method",
                                              "PUT",
                                              "X-Forwarded-Uri",
                                              "/storage/sub-forwarded/a",
                                              ":method",
                                              "GET",
                                              ":path",
                                              "/storage/sub-envoy/a?x=1",
                                              NULL};

static const char *lookup(void *ctx, const char *name, bool *repeated)
{
    const char *const *h = ctx;
    *repeated = false;
    for (; *h; h += 2)
        if (strcasecmp(h[0], name) == 0)
            return h[1];
    return NULL;
}

static int map(const char *convention, const char *const *headers, cutoff_request *asked, char *why,
               size_t n)
{
    char doc[1024], err[300], scratch[256], *heap = NULL;
    snprintf(doc, sizeof doc, "{\"forward_headers\": \"%s\", %s}", convention, routes);
    daemon_config c;
    assert_int_equal(config_parse(doc, strlen(doc), "t.json", &c, err, sizeof err), 0);
    int rc =
        forwarded_map(&c, lookup, (void *)headers, scratch, sizeof scratch, &heap, asked, why, n);
    static char sub[64], action[64]; /* outlive the configuration */
    if (rc == 0) {
        snprintf(sub, sizeof sub, "%s", asked->subscription);
        snprintf(action, sizeof action, "%s", asked->action);
        asked->subscription = sub, asked->action = action;
    }
    config_free(&c);
    return rc;
}

static void each_convention_reads_its_own_place(void **state)
{
    (void)state;
    cutoff_request asked;
    char why[400];
    assert_int_equal(map("nginx", all_conventions, &asked, why, sizeof why), 0);
    assert_string_equal(asked.subscription, "sub-nginx");
    assert_string_equal(asked.action, "storage.read");
    assert_int_equal(map("forwarded", all_conventions, &asked, why, sizeof why), 0);
    assert_string_equal(asked.subscription, "sub-forwarded");
    assert_string_equal(asked.action, "storage.write");
    assert_int_equal(map("envoy", all_conventions, &asked, why, sizeof why), 0);
    assert_string_equal(asked.subscription, "sub-envoy");
    assert_string_equal(asked.action, "storage.read");
}

static void envoy_reads_no_header(void **state)
{
    (void)state;
    cutoff_request asked;
    char why[400];
    /* Without the request line, the other conventions' headers decide nothing. */
    const char *const headers_only[] = {"X-Original-Method", "GET", "X-Original-URI",
                                        "/storage/sub-1/a", NULL};
    assert_int_equal(map("envoy", headers_only, &asked, why, sizeof why), CUTOFF_EPARSE);
    assert_non_null(strstr(why, ENVOY_AUTHZ_PREFIX));
    /* And the request line decides nothing for the header conventions. */
    const char *const line_only[] = {":method", "GET", ":path", "/storage/sub-1/a", NULL};
    assert_int_equal(map("nginx", line_only, &asked, why, sizeof why), CUTOFF_EPARSE);
    assert_int_equal(map("forwarded", line_only, &asked, why, sizeof why), CUTOFF_EPARSE);
    /* The request line passes the same path checks as the headers. */
    const char *const dots[] = {":method", "PUT", ":path", "/storage/sub-1/%2e%2e/sub-2/a", NULL};
    assert_int_equal(map("envoy", dots, &asked, why, sizeof why), CUTOFF_EPARSE);
}

static void unknown_convention_is_refused(void **state)
{
    (void)state;
    daemon_config c;
    char err[400];
    const char *doc = "{\"forward_headers\": \"traefik\"}";
    assert_int_equal(config_parse(doc, strlen(doc), "t.json", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "\"envoy\""));
    doc = "{\"forward_headers\": \"envoy\"}";
    assert_int_equal(config_parse(doc, strlen(doc), "t.json", &c, err, sizeof err), 0);
    assert_int_equal(c.convention, FORWARD_ENVOY);
    config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_convention_reads_its_own_place),
        cmocka_unit_test(envoy_reads_no_header),
        cmocka_unit_test(unknown_convention_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
