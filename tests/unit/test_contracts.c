/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_contracts.c - the contracts that have one home in the library: the
 * error table (names, messages, HTTP statuses and titles, read back by
 * name) and the decision JSON (cutoff_verdict_to_json,
 * cutoff_explanation_to_json, cutoff_notice_url, cutoff_verdict_status).
 * Expected texts are written out here from docs/design.md, not produced
 * by the code under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cutoff.h"
#include "util/util.h"

#define T0 INT64_C(1758801600) /* 2025-09-25T12:00:00Z */
#define DAY INT64_C(86400)

/* ---- the error table -------------------------------------------------------- */

static const struct {
    int code;
    const char *name;
    int status;
    const char *title;
} table[] = {
#define ROW(name, value, status, title, msg) {value, #name, status, title},
    CUTOFF_ERRNO_MAP(ROW)
#undef ROW
};
#define N_CODES (sizeof table / sizeof table[0])

static void error_names_read_back(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CODES; i++) {
        int code = 12345;
        assert_string_equal(cutoff_errname(table[i].code), table[i].name);
        assert_int_equal(cutoff_errcode(table[i].name, &code), 0);
        assert_int_equal(code, table[i].code);
        assert_int_equal(cutoff_error_http_status(table[i].code), table[i].status);
        assert_string_equal(cutoff_error_title(table[i].code), table[i].title);
        assert_true(strlen(cutoff_strerror(table[i].code)) > 0);
        for (size_t j = 0; j < i; j++) /* codes and names are unique */
            assert_true(table[j].code != table[i].code &&
                        strcmp(table[j].name, table[i].name) != 0);
    }
    int code = 7;
    assert_int_equal(cutoff_errcode("ENOSUCH", &code), CUTOFF_ENOTFOUND);
    assert_int_equal(code, 7);
    assert_int_equal(cutoff_errcode(NULL, &code), CUTOFF_ENOTFOUND);
    assert_int_equal(cutoff_errcode("enotfound", &code), CUTOFF_ENOTFOUND); /* names are exact */
    assert_string_equal(cutoff_errname(-999), "EUNKNOWN");
    assert_int_equal(cutoff_error_http_status(-999), 500);
}

static void error_statuses_are_http(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CODES; i++) {
        int s = table[i].status;
        if (table[i].code == 0)
            assert_int_equal(s, 200);
        else
            assert_true(s >= 400 && s <= 599);
    }
    assert_int_equal(cutoff_error_http_status(CUTOFF_ENOTFOUND), 404);
    assert_int_equal(cutoff_error_http_status(CUTOFF_EPERM), 403);
    assert_int_equal(cutoff_error_http_status(CUTOFF_EAUTH), 401);
    assert_int_equal(cutoff_error_http_status(CUTOFF_ELIMIT), 413);
}

/* ---- the decision JSON ----------------------------------------------------------- */

static const char *const scope[] = {"unit-8200"};
static const char *const deny[] = {"storage.*"};
static const cutoff_phase_spec phases[] = {{T0, 0, CUTOFF_MODE_READ_ONLY},
                                           {T0 + 30 * DAY, 0, CUTOFF_MODE_SUSPEND}};

static cutoff_action_spec action(const char *ref, int status)
{
    cutoff_action_spec a = {.id = "EA-1",
                            .case_id = "CASE-7",
                            .scope = scope,
                            .n_scope = 1,
                            .deny = deny,
                            .n_deny = 1,
                            .phases = phases,
                            .n_phases = 2,
                            .status = status,
                            .state = CUTOFF_STATE_ACTIVE,
                            .version = 2,
                            .activated_at = T0};
    a.notice.summary = "Storage is read-only.";
    a.notice.ref = ref;
    return a;
}

static char *render(const cutoff_verdict *v, const cutoff_request *r, const char *base)
{
    char *text = NULL;
    assert_int_equal(cutoff_verdict_to_json(v, r, base, &text), 0);
    assert_non_null(text);
    return text;
}

static void allow_is_decision_request_and_null_action(void **state)
{
    (void)state;
    cutoff_verdict v = {.reason = CUTOFF_REASON_ALLOW};
    cutoff_request r = {"sub-1", "storage.read", NULL, T0};
    char *text = render(&v, &r, NULL);
    assert_string_equal(
        text, "{\"decision\":\"allow\",\"reason\":\"allow\",\"subscription\":\"sub-1\","
              "\"action\":\"storage.read\",\"region\":null,\"at\":\"2025-09-25T12:00:00Z\","
              "\"enforcement_action\":null}");
    cutoff_free(text);
    assert_int_equal(cutoff_verdict_status(&v), 200);
}

static void read_only_deny_has_window_and_notice(void **state)
{
    (void)state;
    cutoff_action_spec a = action("https://provider.example/n/EA-1", 451);
    cutoff_verdict v = {CUTOFF_REASON_READ_ONLY, &a, T0, T0 + 30 * DAY};
    cutoff_request r = {"sub-1", "storage.write", "eu-ireland", T0 + DAY};
    char *text = render(&v, &r, "https://ignored.example/");
    assert_string_equal(
        text,
        "{\"decision\":\"deny\",\"reason\":\"read_only\",\"subscription\":\"sub-1\","
        "\"action\":\"storage.write\",\"region\":\"eu-ireland\",\"at\":\"2025-09-26T12:00:00Z\","
        "\"status\":451,\"enforcement_action\":\"EA-1\",\"version\":2,\"case\":\"CASE-7\","
        "\"since\":\"2025-09-25T12:00:00Z\",\"until\":\"2025-10-25T12:00:00Z\","
        "\"export_window_ends\":\"2025-10-25T12:00:00Z\","
        "\"notice\":{\"summary\":\"Storage is read-only.\","
        "\"ref\":\"https://provider.example/n/EA-1\",\"url\":\"https://provider.example/n/"
        "EA-1\"}}");
    cutoff_free(text);
    assert_int_equal(cutoff_verdict_status(&v), 451);
}

static void suspend_has_no_export_window_and_base_url(void **state)
{
    (void)state;
    cutoff_action_spec a = action(NULL, 403);
    cutoff_verdict v = {CUTOFF_REASON_SUSPENDED, &a, T0 + 30 * DAY, CUTOFF_TIME_NEVER};
    cutoff_request r = {"sub-1", "storage.read", NULL, T0 + 40 * DAY};
    char *text = render(&v, &r, "https://provider.example/notices/");
    json_t *o = json_loads(text, 0, NULL);
    assert_non_null(o);
    assert_null(json_object_get(o, "export_window_ends"));
    assert_true(json_is_null(json_object_get(o, "until")));
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 403);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "notice"), "url")),
                        "https://provider.example/notices/EA-1");
    json_decref(o);
    cutoff_free(text);

    /* no ref, no base: no url at all */
    text = render(&v, &r, "");
    assert_null(strstr(text, "\"url\""));
    cutoff_free(text);
    char *url = (char *)"unchanged";
    assert_int_equal(cutoff_notice_url(&a, NULL, &url), 0);
    assert_null(url);
}

static void deny_without_action_is_403(void **state)
{
    (void)state;
    cutoff_verdict v = {.reason = CUTOFF_REASON_UNKNOWN_SUBSCRIPTION};
    cutoff_request r = {"nobody", "storage.read", NULL, T0};
    char *text = render(&v, &r, NULL);
    assert_string_equal(
        text,
        "{\"decision\":\"deny\",\"reason\":\"unknown_subscription\",\"subscription\":\"nobody\","
        "\"action\":\"storage.read\",\"region\":null,\"at\":\"2025-09-25T12:00:00Z\","
        "\"status\":403,\"enforcement_action\":null}");
    cutoff_free(text);
}

/* A gateway may hand over any bytes: the answer is still valid JSON. */
static void request_bytes_that_are_not_utf8_are_escaped(void **state)
{
    (void)state;
    cutoff_verdict v = {.reason = CUTOFF_REASON_UNKNOWN_SUBSCRIPTION};
    cutoff_request r = {"sub-\xff\xfe", "storage.read", "eu-\xc3", T0};
    char *text = render(&v, &r, NULL);
    json_t *o = json_loads(text, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "subscription")), "sub-\\xff\\xfe");
    assert_string_equal(json_string_value(json_object_get(o, "region")), "eu-\\xc3");
    json_decref(o);
    cutoff_free(text);
}

static void null_arguments_are_einval(void **state)
{
    (void)state;
    cutoff_verdict v = {.reason = CUTOFF_REASON_ALLOW};
    cutoff_request r = {NULL, "storage.read", NULL, T0};
    char *text = (char *)"unchanged";
    assert_int_equal(cutoff_verdict_to_json(&v, &r, NULL, &text), CUTOFF_EINVAL);
    assert_int_equal(cutoff_verdict_to_json(NULL, &r, NULL, &text), CUTOFF_EINVAL);
    assert_int_equal(cutoff_explanation_to_json(NULL, &r, NULL, &text), CUTOFF_EINVAL);
}

/* The explanation carries the verdict's members and then "explanation",
 * whose entries name the enforcement action under the same key. */
static void explanation_extends_the_verdict(void **state)
{
    (void)state;
    cutoff_action_spec a = action(NULL, 451);
    const char *path[] = {"sub-1", "unit-8200", "imod"};
    cutoff_explain_entry e = {.action = &a,
                              .scope_node = "unit-8200",
                              .deny_pattern = "storage.*",
                              .region_match = 1,
                              .mode = CUTOFF_MODE_READ_ONLY,
                              .since = T0,
                              .until = T0 + 30 * DAY,
                              .effect = CUTOFF_REASON_READ_ONLY,
                              .decides = 1};
    cutoff_explanation x = {.verdict = {CUTOFF_REASON_READ_ONLY, &a, T0, T0 + 30 * DAY},
                            .plan = "enterprise",
                            .plan_from = "imod",
                            .entitled = 1,
                            .path = path,
                            .n_path = 3,
                            .entries = &e,
                            .n_entries = 1};
    cutoff_request r = {"sub-1", "storage.write", NULL, T0 + DAY};
    char *verdict = render(&x.verdict, &r, NULL), *full = NULL;
    assert_int_equal(cutoff_explanation_to_json(&x, &r, NULL, &full), 0);
    /* the verdict is a prefix of the explanation, less its closing brace */
    assert_memory_equal(full, verdict, strlen(verdict) - 1);
    assert_string_equal(
        full + strlen(verdict) - 1,
        ",\"explanation\":{\"path\":[\"sub-1\",\"unit-8200\",\"imod\"],\"plan\":\"enterprise\","
        "\"plan_from\":\"imod\",\"entitled\":true,\"actions\":[{\"enforcement_action\":\"EA-1\","
        "\"scope_node\":\"unit-8200\",\"deny_pattern\":\"storage.*\",\"except_pattern\":null,"
        "\"region_match\":true,\"mode\":\"read-only\",\"since\":\"2025-09-25T12:00:00Z\","
        "\"until\":\"2025-10-25T12:00:00Z\",\"effect\":\"read_only\",\"decides\":true}]}}");
    cutoff_free(verdict);
    cutoff_free(full);
}

/* Every allocation that can fail is reported, and nothing leaks. */
static void out_of_memory_is_reported_without_leaks(void **state)
{
    (void)state;
    cutoff_action_spec a = action(NULL, 451);
    cutoff_verdict v = {CUTOFF_REASON_READ_ONLY, &a, T0, T0 + 30 * DAY};
    cutoff_request r = {"sub-1", "storage.write", NULL, T0};
    long live = co__alloc_live();
    int rc = CUTOFF_ENOMEM;
    for (long n = 0; rc == CUTOFF_ENOMEM && n < 1000; n++) {
        char *text = NULL;
        co__alloc_fail_after(n);
        rc = cutoff_verdict_to_json(&v, &r, "https://provider.example/notices/", &text);
        co__alloc_fail_after(-1);
        assert_true(rc == 0 || rc == CUTOFF_ENOMEM);
        assert_true(rc == 0 ? text != NULL : text == NULL);
        cutoff_free(text);
        assert_int_equal(co__alloc_live(), live);
    }
    assert_int_equal(rc, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(error_names_read_back),
        cmocka_unit_test(error_statuses_are_http),
        cmocka_unit_test(allow_is_decision_request_and_null_action),
        cmocka_unit_test(read_only_deny_has_window_and_notice),
        cmocka_unit_test(suspend_has_no_export_window_and_base_url),
        cmocka_unit_test(deny_without_action_is_403),
        cmocka_unit_test(request_bytes_that_are_not_utf8_are_escaped),
        cmocka_unit_test(null_arguments_are_einval),
        cmocka_unit_test(explanation_extends_the_verdict),
        cmocka_unit_test(out_of_memory_is_reported_without_leaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
