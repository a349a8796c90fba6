/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_daemon_config.c - cutoffd's configuration file, gateway route
 * matching, and the hashed tokens file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon/config.h"
#include "daemon/tokens.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/cutoffd-test.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static const char *routes_doc =
    "{\"routes\": ["
    " {\"method\": \"GET\", \"path\": \"/storage/{subscription}/**\", \"action\": "
    "\"storage.read\", \"region\": \"eu-netherlands\"},"
    " {\"method\": \"PUT\", \"path\": \"/storage/{subscription}/**\", \"action\": "
    "\"storage.write\"},"
    " {\"path\": \"/r/{region}/{subscription}/*\", \"action\": \"ai.infer\"},"
    " {\"path\": \"/security/**\", \"action\": \"security.scan\", \"subscription_header\": "
    "\"X-Sub\"}"
    "]}";

static void routes_match_and_capture(void **state)
{
    (void)state;
    char *path = write_temp(routes_doc);
    daemon_config c;
    char err[512], scratch[256];
    assert_int_equal(config_load(path, &c, err, sizeof err), 0);
    assert_int_equal(c.n_routes, 4);
    route_match m;

    assert_true(route_find(&c, "GET", "/storage/sub-1/a/b.txt?x=1", scratch, &m));
    assert_string_equal(m.route->action, "storage.read");
    assert_string_equal(m.subscription, "sub-1");
    assert_true(route_find(&c, "put", "/storage/sub-2/file", scratch, &m));
    assert_string_equal(m.route->action, "storage.write");
    assert_string_equal(m.subscription, "sub-2");
    /* "**" may be empty, but the subscription segment may not. */
    assert_true(route_find(&c, "GET", "/storage/sub-3", scratch, &m));
    assert_false(route_find(&c, "GET", "/storage/", scratch, &m));
    assert_false(route_find(&c, "DELETE", "/storage/sub-1/f", scratch, &m));
    /* Captures are percent-decoded; an encoded slash is refused. */
    assert_true(route_find(&c, "GET", "/storage/sub%2D4/f", scratch, &m));
    assert_string_equal(m.subscription, "sub-4");
    assert_false(route_find(&c, "GET", "/storage/sub%2F4/f", scratch, &m));
    assert_false(route_find(&c, "GET", "/storage/sub%4/f", scratch, &m));
    /* Region capture and a single-segment wildcard. */
    assert_true(route_find(&c, "POST", "/r/eu-ireland/sub-5/model", scratch, &m));
    assert_string_equal(m.region, "eu-ireland");
    assert_string_equal(m.subscription, "sub-5");
    assert_false(route_find(&c, "POST", "/r/eu-ireland/sub-5/model/extra", scratch, &m));
    assert_false(route_find(&c, "POST", "/r/eu-ireland/sub-5", scratch, &m));
    /* Header-based subscription. */
    assert_true(route_find(&c, "DELETE", "/security/x/y", scratch, &m));
    assert_string_equal(m.route->subscription_header, "X-Sub");
    assert_null(m.subscription);
    assert_false(route_find(&c, "GET", "/other", scratch, &m));
    assert_false(route_find(&c, "GET", "relative", scratch, &m));
    config_free(&c);
    unlink(path);
    free(path);
}

/* Each bad configuration is refused with a message naming where. */
/* A route of the path "/" takes the path "/" and nothing else (found by
 * fuzz_config: it took nothing). */
static void root_route_matches_root(void **state)
{
    (void)state;
    static const char doc[] = "{\"routes\": [{\"path\": \"/\", \"action\": \"s.r\", "
                              "\"subscription_header\": \"X-Sub\"}]}";
    daemon_config c;
    char err[512], scratch[64];
    assert_int_equal(config_parse(doc, strlen(doc), "root.json", &c, err, sizeof err), 0);
    route_match m;
    assert_true(route_find(&c, "GET", "/", scratch, &m));
    assert_true(route_find(&c, "GET", "/?q=1", scratch, &m));
    assert_false(route_find(&c, "GET", "/a", scratch, &m));
    config_free(&c);
}

static void bad_configs_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *doc, *says;
    } cases[] = {
        {"{\"routes\": [", "1:"},
        {"[]", "must be a JSON object"},
        {"{\"listen\": \"x\"}", "unknown key \"listen\""},
        {"{\"routes\": [{\"path\": \"/a/{subscription}\"}]}", "routes[0].action"},
        {"{\"routes\": [{\"path\": \"/a/b\", \"action\": \"a.b\"}]}", "needs {subscription}"},
        {"{\"routes\": [{\"path\": \"a/{subscription}\", \"action\": \"a.b\"}]}",
         "must start with /"},
        {"{\"routes\": [{\"path\": \"/**/{subscription}\", \"action\": \"a.b\"}]}", "last segment"},
        {"{\"routes\": [{\"path\": \"/x{y}/{subscription}\", \"action\": \"a.b\"}]}",
         "is not a literal"},
        {"{\"routes\": [{\"path\": \"/{subscription}\", \"action\": \"a.*\"}]}",
         "routes[0].action"},
        {"{\"routes\": [{\"path\": \"/{subscription}\", \"action\": \"a.b\", \"verb\": 1}]}",
         "unknown key \"verb\""},
        {"{\"limits\": {\"threads\": 0}}", "limits.threads"},
        {"{\"limits\": {\"timeout\": 3}}", "unknown key \"timeout\""},
        {"{\"watch_ms\": \"fast\"}", "watch_ms"},
        {"{\"watch_ms\": 5, \"safety_interval_ms\": 5}", "give only safety_interval_ms"},
        {"{\"safety_interval_ms\": 0}", "config.safety_interval_ms"},
        {"{\"heartbeat_s\": 0}", "config.heartbeat_s"},
        {"{\"max_staleness_s\": -1}", "config.max_staleness_s"},
        {"{\"node_id\": \"\"}", "config.node_id"},
        {"{\"node_id\": \"a\\tb\"}", "config.node_id"},
        {"{\"node_id\": \"caf\\u00e9\"}", "config.node_id"},
        {"{\"log_decisions\": 1}", "log_decisions"},
        {"{\"database\": 7}", "database: must be a string"},
        {"{\"admin_allow_remote\": \"yes\"}", "admin_allow_remote"},
        {"{\"limits\": {\"header_timeout_ms\": 10}}", "limits.header_timeout_ms"},
        {"{\"limits\": {\"body_timeout_s\": 0}}", "limits.body_timeout_s"},
        {"{\"limits\": {\"admin_connections_per_client\": -1}}",
         "limits.admin_connections_per_client"},
        /* The action id is appended to notice_base in a denial's Link header. */
        {"{\"notice_base\": \"https://n.example/x>; rel=\\\"y\\\", <https://e/\"}",
         "config.notice_base"},
        {"{\"notice_base\": \"https://n.example/\\r\\nSet-Cookie: a=b/\"}", "config.notice_base"},
        {"{\"notice_base\": \"javascript:alert(1)//\"}", "config.notice_base"},
        {"{\"notice_base\": \"/relative/\"}", "config.notice_base"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = write_temp(cases[i].doc);
        daemon_config c;
        char err[512] = "";
        int rc = config_load(path, &c, err, sizeof err);
        if (rc == 0 || strstr(err, cases[i].says) == NULL || strstr(err, path) == NULL)
            fail_msg("config %zu: rc %d, message \"%s\", wanted \"%s\"", i, rc, err, cases[i].says);
        unlink(path);
        free(path);
    }
}

static void defaults_without_a_file(void **state)
{
    (void)state;
    daemon_config c;
    char err[64];
    assert_int_equal(config_load(NULL, &c, err, sizeof err), 0);
    assert_string_equal(c.admin_listen, "127.0.0.1:8081");
    assert_int_equal(c.n_routes, 0);
    assert_true(c.limits.max_body_bytes > 0);
    /* Uploads are bounded well below the disk; slow clients are dropped;
     * the gateway's address is not bounded, an operator's is. */
    assert_int_equal(c.limits.max_spool_bytes, 1ull << 30);
    assert_int_equal(c.limits.header_timeout_ms, 10000);
    assert_int_equal(c.limits.body_timeout_s, 300);
    assert_int_equal(c.decision_per_client, 0);
    assert_int_equal(c.admin_per_client, 16);
    assert_false(c.admin_allow_remote);
    /* The fleet: a slow safety re-read, a receipt a second, no staleness
     * limit, and the node id chosen at start (HOST:DECISION_PORT). */
    assert_int_equal(c.safety_interval_ms, 1000);
    assert_int_equal(c.heartbeat_s, 1);
    assert_int_equal(c.max_staleness_s, 0);
    assert_null(c.node_id);
    assert_false(c.watch_ms_given);
    config_free(&c);
}

static void fleet_keys_are_read(void **state)
{
    (void)state;
    char long_id[CUTOFF_NODE_ID_MAX + 40];
    snprintf(long_id, sizeof long_id, "{\"node_id\": \"%0*d\"}", CUTOFF_NODE_ID_MAX, 7);
    daemon_config c;
    char err[512];
    assert_int_equal(config_parse(long_id, strlen(long_id), "a.json", &c, err, sizeof err), 0);
    assert_int_equal(strlen(c.node_id), CUTOFF_NODE_ID_MAX);
    config_free(&c);
    snprintf(long_id, sizeof long_id, "{\"node_id\": \"%0*d\"}", CUTOFF_NODE_ID_MAX + 1, 7);
    assert_int_not_equal(config_parse(long_id, strlen(long_id), "a.json", &c, err, sizeof err), 0);
    static const char doc[] = "{\"node_id\": \"edge-1 (rack 4)\", \"heartbeat_s\": 5, "
                              "\"safety_interval_ms\": 250, \"max_staleness_s\": 30}";
    assert_int_equal(config_parse(doc, strlen(doc), "b.json", &c, err, sizeof err), 0);
    assert_string_equal(c.node_id, "edge-1 (rack 4)");
    assert_int_equal(c.heartbeat_s, 5);
    assert_int_equal(c.safety_interval_ms, 250);
    assert_int_equal(c.max_staleness_s, 30);
    config_free(&c);
    /* The old polling period is read as the safety interval. */
    static const char old[] = "{\"watch_ms\": 40}";
    assert_int_equal(config_parse(old, strlen(old), "c.json", &c, err, sizeof err), 0);
    assert_int_equal(c.safety_interval_ms, 40);
    assert_true(c.watch_ms_given);
    config_free(&c);
}

static void limits_and_remote_admin_are_read(void **state)
{
    (void)state;
    char *path = write_temp("{\"admin_allow_remote\": true, \"limits\": {\"header_timeout_ms\": "
                            "2500, \"body_timeout_s\": 60, \"decision_connections_per_client\": 7, "
                            "\"admin_connections_per_client\": 0, \"max_spool_bytes\": 4096}}");
    daemon_config c;
    char err[512];
    assert_int_equal(config_load(path, &c, err, sizeof err), 0);
    assert_true(c.admin_allow_remote);
    assert_int_equal(c.limits.header_timeout_ms, 2500);
    assert_int_equal(c.limits.body_timeout_s, 60);
    assert_int_equal(c.decision_per_client, 7);
    assert_int_equal(c.admin_per_client, 0);
    assert_int_equal(c.limits.max_spool_bytes, 4096);
    assert_int_equal(c.limits.timeout_s, 30); /* the keys not given keep their defaults */
    config_free(&c);
    unlink(path);
    free(path);
}

/* Which admin listen addresses need "admin_allow_remote". */
static void loopback_listen_addresses(void **state)
{
    (void)state;
    static const char *const loopback[] = {"127.0.0.1:8081", "127.1.2.3:0", "[::1]:8081",
                                           "[::ffff:127.0.0.1]:8081"};
    static const char *const remote[] = {"0.0.0.0:8081",   "[::]:8081",       "10.0.0.1:8081",
                                         "192.0.2.7:8081", "[2001:db8::1]:1", "[::ffff:10.0.0.1]:1",
                                         "no-port",        ":8081",           "",
                                         "128.0.0.1:8081"};
    for (size_t i = 0; i < sizeof loopback / sizeof loopback[0]; i++)
        if (!config_listen_is_loopback(loopback[i]))
            fail_msg("%s should be loopback", loopback[i]);
    for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++)
        if (config_listen_is_loopback(remote[i]))
            fail_msg("%s should not be loopback", remote[i]);
    assert_false(config_listen_is_loopback(NULL));
}

/* Whoever may write the tokens file may grant themselves any role. */
static void tokens_file_others_may_write_is_refused(void **state)
{
    (void)state;
    char *path = write_temp("# no tokens yet\n");
    token_table *t;
    char err[512];
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(tokens_load(path, &t, err, sizeof err), 0);
    tokens_free(t);
    static const mode_t bad[] = {0660, 0602, 0666};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(chmod(path, bad[i]), 0);
        err[0] = '\0';
        if (tokens_load(path, &t, err, sizeof err) == 0 || strstr(err, path) == NULL ||
            strstr(err, "chmod go-w") == NULL)
            fail_msg("mode %03o accepted or unclear: \"%s\"", (unsigned)bad[i], err);
    }
    unlink(path);
    free(path);
}

static void hex_sha256(const char *token, char out[65])
{
    unsigned char h[32];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(out, 65, h, sizeof h);
}

static void tokens_hashed_and_checked(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    char a[65], b[65], text[512];
    hex_sha256("secret-alice", a);
    hex_sha256("secret-bob", b);
    snprintf(text, sizeof text,
             "# comment\n\nsha256:%s alice investigator,enforcer\n  sha256:%s bob approver\n", a,
             b);
    char *path = write_temp(text);
    token_table *t;
    char err[256];
    assert_int_equal(tokens_load(path, &t, err, sizeof err), 0);
    assert_int_equal(t->n, 2);
    const token_entry *e = tokens_find(t, "secret-alice");
    assert_non_null(e);
    assert_string_equal(e->principal, "alice");
    assert_true(tokens_allows(e->roles, ROLE_ENFORCER));
    assert_false(tokens_allows(e->roles, ROLE_APPROVER));
    e = tokens_find(t, "secret-bob");
    assert_non_null(e);
    assert_true(tokens_allows(e->roles, ROLE_APPROVER));
    assert_null(tokens_find(t, "secret-carol"));
    assert_null(tokens_find(t, ""));
    assert_null(tokens_find(t, NULL));
    tokens_free(t);
    unlink(path);
    free(path);

    static const char *const bad[] = {"sha256:abc alice viewer\n", "md5:x alice viewer\n",
                                      "sha256:%s alice wizard\n", "sha256:%s al/ice viewer\n",
                                      "sha256:%s alice\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, bad[i], a);
        path = write_temp(text);
        err[0] = '\0';
        if (tokens_load(path, &t, err, sizeof err) == 0 || strstr(err, ":1:") == NULL)
            fail_msg("tokens case %zu accepted or unclear: \"%s\"", i, err);
        unlink(path);
        free(path);
    }
    /* A comment longer than any line buffer stays a comment: its tail is
     * no entry (found by fuzz_tokens). */
    char *long_comment = malloc(2048);
    assert_non_null(long_comment);
    memset(long_comment, '#', 1100);
    snprintf(long_comment + 1100, 2048 - 1100, " sha256:%s mallory admin\n", a);
    path = write_temp(long_comment);
    assert_int_equal(tokens_load(path, &t, err, sizeof err), 0);
    assert_int_equal(t->n, 0);
    tokens_free(t);
    unlink(path);
    free(path);
    free(long_comment);

    unsigned roles;
    assert_int_equal(tokens_parse_roles("viewer,admin", &roles), 0);
    assert_true(tokens_allows(roles, ROLE_APPROVER)); /* admin grants all */
    assert_int_equal(tokens_parse_roles("viewer,,", &roles), -1);
    assert_int_equal(tokens_parse_roles("", &roles), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes_match_and_capture),
        cmocka_unit_test(root_route_matches_root),
        cmocka_unit_test(bad_configs_are_refused),
        cmocka_unit_test(defaults_without_a_file),
        cmocka_unit_test(tokens_hashed_and_checked),
        cmocka_unit_test(limits_and_remote_admin_are_read),
        cmocka_unit_test(fleet_keys_are_read),
        cmocka_unit_test(loopback_listen_addresses),
        cmocka_unit_test(tokens_file_others_may_write_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
