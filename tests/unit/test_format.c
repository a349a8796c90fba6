/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_format.c - the document parsers of src/format: the catalog, the
 * enforcement action and the node line. Good documents read into the
 * expected specs; every class of error is refused with a message that
 * names the place (JSON path or key) and what is allowed; writers round
 * trip; and every allocation failure, including jansson's (routed through
 * the library allocator here), gives CUTOFF_ENOMEM without a leak.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cutoff.h"
#include "format/format.h"
#include "util/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------ */

/* Which entry of a table of bad documents is being checked, for messages. */
static char case_label[64];

/* The call failed with want_rc and a one-line message containing each of
 * the given fragments (NULL-terminated). */
static void expect_failure(int rc, const cutoff_diag *d, int want_rc, const char *const *want)
{
    if (rc != want_rc)
        fail_msg("%swanted %s, got %s: %s", case_label, cutoff_errname(want_rc), cutoff_errname(rc),
                 d->message);
    if (d->code != rc || strchr(d->message, '\n') != NULL)
        fail_msg("%sdiag code %d or message on more than one line: %s", case_label, d->code,
                 d->message);
    for (; *want; want++)
        if (strstr(d->message, *want) == NULL)
            fail_msg("%smessage lacks \"%s\": %s", case_label, *want, d->message);
}

#define EXPECT_FAILURE(rc, d, want_rc, ...)                                                        \
    expect_failure((rc), (d), (want_rc), (const char *const[]){__VA_ARGS__, NULL})

/* Text built at run time (big documents for the limits). */
static char *build(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *build(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* `count` copies of item (with %d for the index) joined by commas. */
static char *repeat(const char *item, int count)
{
    size_t cap = (strlen(item) + 16) * (size_t)count + 1, used = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    for (int i = 0; i < count; i++) {
        if (i)
            s[used++] = ',';
        used += (size_t)snprintf(s + used, cap - used, item, i);
    }
    s[used] = '\0';
    return s;
}

/* Runs fn with the n-th allocation failing for n = 0, 1, ... until it
 * succeeds: each failure must be CUTOFF_ENOMEM and leave no allocation
 * behind (fn releases what it made on success). */
static void for_each_allocation_failure(int (*fn)(const void *ctx), const void *ctx)
{
    long base = co__alloc_live(), n;
    for (n = 0; n < 100000; n++) {
        co__alloc_fail_after(n);
        int rc = fn(ctx);
        co__alloc_fail_after(-1);
        if (co__alloc_live() != base)
            fail_msg("allocation %ld failing leaked %ld allocations (rc %s)", n,
                     co__alloc_live() - base, cutoff_errname(rc));
        if (rc == 0)
            break;
        if (rc != CUTOFF_ENOMEM)
            fail_msg("allocation %ld failing gave %s instead of ENOMEM", n, cutoff_errname(rc));
    }
    assert_true(n > 0 && n < 100000);
}

/* ---- catalog -------------------------------------------------------------------- */

static const char reference_catalog[] =
    "{\"services\":["
    "{\"name\":\"storage\",\"actions\":[{\"name\":\"read\",\"class\":\"read\"},"
    "{\"name\":\"write\",\"class\":\"write\"},{\"name\":\"export\",\"class\":\"read\"}]},"
    "{\"name\":\"ai\",\"actions\":[{\"name\":\"transcribe\",\"class\":\"write\"}]},"
    "{\"name\":\"security\",\"actions\":[{\"name\":\"scan\",\"class\":\"read\"}]}],"
    "\"regions\":[\"eu-netherlands\",\"us-east\"],"
    "\"plans\":[{\"name\":\"enterprise\",\"services\":[\"*\"]},"
    "{\"name\":\"security-only\",\"services\":[\"security.*\",\"storage.read\"]}]}";

static void catalog_reads_reference(void **state)
{
    (void)state;
    cutoff_catalog_spec *c = NULL;
    cutoff_diag d;
    assert_int_equal(cutoff_catalog_parse(reference_catalog, strlen(reference_catalog), &c, &d), 0);
    assert_int_equal(c->n_actions, 5);
    const char *names[] = {"storage.read", "storage.write", "storage.export", "ai.transcribe",
                           "security.scan"};
    cutoff_action_class classes[] = {CUTOFF_CLASS_READ, CUTOFF_CLASS_WRITE, CUTOFF_CLASS_READ,
                                     CUTOFF_CLASS_WRITE, CUTOFF_CLASS_READ};
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(c->actions[i].name, names[i]);
        assert_int_equal(c->actions[i].cls, classes[i]);
    }
    assert_int_equal(c->n_regions, 2);
    assert_string_equal(c->regions[0], "eu-netherlands");
    assert_string_equal(c->regions[1], "us-east");
    assert_int_equal(c->n_plans, 2);
    assert_string_equal(c->plans[0].name, "enterprise");
    assert_int_equal(c->plans[0].n_services, 1);
    assert_string_equal(c->plans[0].services[0], "*");
    assert_string_equal(c->plans[1].name, "security-only");
    assert_int_equal(c->plans[1].n_services, 2);
    assert_string_equal(c->plans[1].services[1], "storage.read");
    cutoff_catalog_free(c);
    cutoff_catalog_free(NULL);
}

static void catalog_optional_parts(void **state)
{
    (void)state;
    cutoff_catalog_spec *c = NULL;
    cutoff_diag d;
    const char *doc = "  {\"services\": []}\n";
    assert_int_equal(cutoff_catalog_parse(doc, strlen(doc), &c, &d), 0);
    assert_int_equal(c->n_actions, 0);
    assert_int_equal(c->n_regions, 0);
    assert_int_equal(c->n_plans, 0);
    char *json = NULL;
    assert_int_equal(cutoff_catalog_to_json(c, &json), 0);
    assert_string_equal(json, "{\"services\":[],\"regions\":[],\"plans\":[]}");
    cutoff_free(json);
    cutoff_catalog_free(c);
}

struct bad_doc {
    const char *doc;
    int rc;
    const char *want[3];
};

#define ONE_ACTION "{\"name\":\"storage\",\"actions\":[{\"name\":\"read\",\"class\":\"read\"}]}"

static const struct bad_doc bad_catalogs[] = {
    /* syntax */
    {"{\"services\":[", CUTOFF_EPARSE, {"line 1, column", "malformed JSON"}},
    {"", CUTOFF_EPARSE, {"malformed JSON"}},
    {"[]", CUTOFF_EPARSE, {"must be a JSON object", "an array"}},
    {"{\"services\":[],\"services\":[]}", CUTOFF_EPARSE, {"duplicate", "services"}},
    /* keys */
    {"{\"sevices\":[]}",
     CUTOFF_EPARSE,
     {"unknown key \"sevices\"", "services, regions, plans", "did you mean \"services\""}},
    {"{}", CUTOFF_EPARSE, {"missing \"services\""}},
    {"{\"services\":[{\"name\":\"storage\",\"actoins\":[]}]}",
     CUTOFF_EPARSE,
     {"services[0]: unknown key \"actoins\"", "did you mean \"actions\""}},
    {"{\"services\":[{\"name\":\"storage\",\"actions\":[{\"name\":\"read\",\"clas\":\"read\"}]}]}",
     CUTOFF_EPARSE,
     {"services[0].actions[0]: unknown key \"clas\"", "name, class"}},
    {"{\"services\":[" ONE_ACTION "],\"plans\":[{\"name\":\"p\",\"service\":[]}]}",
     CUTOFF_EPARSE,
     {"plans[0]: unknown key \"service\"", "did you mean \"services\""}},
    {"{\"services\":[{\"actions\":[]}]}", CUTOFF_EPARSE, {"services[0]: missing \"name\""}},
    {"{\"services\":[{\"name\":\"storage\",\"actions\":[{\"name\":\"read\"}]}]}",
     CUTOFF_EPARSE,
     {"services[0].actions[0]: missing \"class\""}},
    /* types */
    {"{\"services\":{}}", CUTOFF_EPARSE, {"services: expected an array, got an object"}},
    {"{\"services\":[\"storage\"]}",
     CUTOFF_EPARSE,
     {"services[0]: expected an object, got a string"}},
    {"{\"services\":[{\"name\":7,\"actions\":[]}]}",
     CUTOFF_EPARSE,
     {"services[0].name: expected a string, got an integer"}},
    {"{\"services\":[],\"regions\":[\"eu\",null]}",
     CUTOFF_EPARSE,
     {"regions[1]: expected a string, got null"}},
    {"{\"services\":[" ONE_ACTION "],\"plans\":[{\"name\":\"p\",\"services\":[1]}]}",
     CUTOFF_EPARSE,
     {"plans[0].services[0]: expected a string"}},
    /* names and classes */
    {"{\"services\":[{\"name\":\"sto.rage\",\"actions\":[{\"name\":\"read\",\"class\":\"read\"}]}]"
     "}",
     CUTOFF_EPARSE,
     {"services[0].name: \"sto.rage\" is not a service name", "no dots"}},
    {"{\"services\":[{\"name\":\"storage\",\"actions\":[{\"name\":\"re "
     "ad\",\"class\":\"read\"}]}]}",
     CUTOFF_EPARSE,
     {"services[0].actions[0].name: \"re ad\" is not an action name"}},
    {"{\"services\":[" ONE_ACTION ",{\"name\":\"ai\",\"actions\":[{\"name\":\"x\",\"class\":"
     "\"read\"},{\"name\":\"y\",\"class\":\"delete\"}]}]}",
     CUTOFF_EPARSE,
     {"services[1].actions[1].class: \"delete\" is not a class; use \"read\" or \"write\""}},
    {"{\"services\":[{\"name\":\"storage\",\"actions\":[]}]}",
     CUTOFF_EPARSE,
     {"services[0].actions: empty"}},
    {"{\"services\":[" ONE_ACTION "," ONE_ACTION "]}",
     CUTOFF_EPARSE,
     {"services[1].name: service \"storage\" is already defined at services[0]"}},
    {"{\"services\":[{\"name\":\"storage\",\"actions\":[{\"name\":\"read\",\"class\":\"read\"},{"
     "\"name\":\"read\",\"class\":\"write\"}]}]}",
     CUTOFF_EPARSE,
     {"services[0].actions[1].name: \"storage.read\" is already defined at "
      "services[0].actions[0]"}},
    /* regions */
    {"{\"services\":[],\"regions\":[\"eu west\"]}",
     CUTOFF_EPARSE,
     {"regions[0]: \"eu west\" is not a region id"}},
    {"{\"services\":[],\"regions\":[\"eu\",\"us\",\"eu\"]}",
     CUTOFF_EPARSE,
     {"regions[2]: \"eu\" is listed twice (first at regions[0])"}},
    /* plans */
    {"{\"services\":[" ONE_ACTION "],\"plans\":[{\"name\":\"\",\"services\":[]}]}",
     CUTOFF_EPARSE,
     {"plans[0].name: \"\" is not a plan id"}},
    {"{\"services\":[" ONE_ACTION
     "],\"plans\":[{\"name\":\"p\",\"services\":[]},{\"name\":\"p\",\"services\":[]}]}",
     CUTOFF_EPARSE,
     {"plans[1].name: plan \"p\" is already defined at plans[0]"}},
    {"{\"services\":[" ONE_ACTION "],\"plans\":[{\"name\":\"p\",\"services\":[\"storage\"]}]}",
     CUTOFF_EPARSE,
     {"plans[0].services[0]: \"storage\" is not a pattern", "SERVICE.*"}},
    {"{\"services\":[" ONE_ACTION
     "],\"plans\":[{\"name\":\"p\",\"services\":[\"storage.*\",\"secuirty.*\"]}]}",
     CUTOFF_EPARSE,
     {"plans[0].services[1]: \"secuirty.*\" matches no action"}},
    {"{\"services\":[" ONE_ACTION
     "],\"plans\":[{\"name\":\"p\",\"services\":[\"storage.write\"]}]}",
     CUTOFF_EPARSE,
     {"plans[0].services[0]: \"storage.write\" matches no action"}},
    {"{\"services\":[],\"plans\":[{\"name\":\"p\",\"services\":[\"*\"]}]}",
     CUTOFF_EPARSE,
     {"plans[0].services[0]: \"*\" matches no action"}},
};

static void catalog_refuses_bad_documents(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_catalogs / sizeof bad_catalogs[0]; i++) {
        const struct bad_doc *b = &bad_catalogs[i];
        cutoff_catalog_spec *c = (cutoff_catalog_spec *)&c; /* must be reset to NULL */
        cutoff_diag d;
        snprintf(case_label, sizeof case_label, "bad_catalogs[%zu]: ", i);
        int rc = cutoff_catalog_parse(b->doc, strlen(b->doc), &c, &d);
        assert_null(c);
        const char *want[4] = {b->want[0], b->want[1], b->want[2], NULL};
        expect_failure(rc, &d, b->rc, want);
    }
    case_label[0] = '\0';
}

static void catalog_limits(void **state)
{
    (void)state;
    cutoff_diag d;
    cutoff_catalog_spec *c = NULL;
    char *regions = repeat("\"r%d\"", CO__REGIONS_MAX + 1);
    char *doc = build("{\"services\":[],\"regions\":[%s]}", regions);
    EXPECT_FAILURE(cutoff_catalog_parse(doc, strlen(doc), &c, &d), &d, CUTOFF_ELIMIT,
                   "regions: 4097 regions is too many; at most 4096");
    free(doc);
    /* exactly at the limit is fine */
    free(regions);
    regions = repeat("\"r%d\"", CO__REGIONS_MAX);
    doc = build("{\"services\":[],\"regions\":[%s]}", regions);
    assert_int_equal(cutoff_catalog_parse(doc, strlen(doc), &c, &d), 0);
    assert_int_equal(c->n_regions, CO__REGIONS_MAX);
    cutoff_catalog_free(c);
    free(doc);
    free(regions);

    /* full action names are at most 128 bytes */
    char service[101], action[28];
    memset(service, 's', 100), service[100] = '\0';
    memset(action, 'a', 27), action[27] = '\0';
    doc = build(
        "{\"services\":[{\"name\":\"%s\",\"actions\":[{\"name\":\"%s\",\"class\":\"read\"}]}]}",
        service, action);
    assert_int_equal(cutoff_catalog_parse(doc, strlen(doc), &c, &d), 0); /* 128 */
    cutoff_catalog_free(c);
    free(doc);
    doc = build(
        "{\"services\":[{\"name\":\"%s\",\"actions\":[{\"name\":\"%sa\",\"class\":\"read\"}]}]}",
        service, action);
    EXPECT_FAILURE(cutoff_catalog_parse(doc, strlen(doc), &c, &d), &d, CUTOFF_EPARSE,
                   "services[0].actions[0].name", "is 129 bytes", "at most 128");
    free(doc);
}

static void catalog_round_trips(void **state)
{
    (void)state;
    cutoff_catalog_spec *c = NULL, *again = NULL;
    cutoff_diag d;
    char *json = NULL, *json2 = NULL;
    assert_int_equal(cutoff_catalog_parse(reference_catalog, strlen(reference_catalog), &c, &d), 0);
    assert_int_equal(cutoff_catalog_to_json(c, &json), 0);
    /* canonical form: compact, keys in a fixed order; the reference is written that way */
    assert_string_equal(json, reference_catalog);
    assert_int_equal(cutoff_catalog_parse(json, strlen(json), &again, &d), 0);
    assert_int_equal(again->n_actions, c->n_actions);
    for (size_t i = 0; i < c->n_actions; i++) {
        assert_string_equal(again->actions[i].name, c->actions[i].name);
        assert_int_equal(again->actions[i].cls, c->actions[i].cls);
    }
    assert_int_equal(cutoff_catalog_to_json(again, &json2), 0);
    assert_string_equal(json, json2);
    cutoff_free(json);
    cutoff_free(json2);
    cutoff_catalog_free(again);

    /* a copy is independent of the original */
    cutoff_catalog_spec *copy = NULL;
    assert_int_equal(co__catalog_copy(c, &copy), 0);
    cutoff_catalog_free(c);
    assert_string_equal(copy->actions[3].name, "ai.transcribe");
    assert_string_equal(copy->plans[1].services[0], "security.*");
    cutoff_catalog_free(copy);
}

static void catalog_writer_groups_and_validates(void **state)
{
    (void)state;
    /* A spec built by code may interleave services: the writer groups them. */
    cutoff_catalog_action actions[] = {{"storage.read", CUTOFF_CLASS_READ},
                                       {"ai.embed", CUTOFF_CLASS_WRITE},
                                       {"storage.write", CUTOFF_CLASS_WRITE}};
    const char *regions[] = {"eu-west"};
    const char *patterns[] = {"storage.*"};
    cutoff_plan_spec plans[] = {{"basic", patterns, 1}};
    cutoff_catalog_spec spec = {actions, 3, regions, 1, plans, 1};
    char *json = NULL;
    assert_int_equal(cutoff_catalog_to_json(&spec, &json), 0);
    assert_string_equal(
        json,
        "{\"services\":[{\"name\":\"storage\",\"actions\":["
        "{\"name\":\"read\",\"class\":\"read\"},{\"name\":\"write\",\"class\":\"write\"}]},"
        "{\"name\":\"ai\",\"actions\":[{\"name\":\"embed\",\"class\":\"write\"}]}],"
        "\"regions\":[\"eu-west\"],\"plans\":[{\"name\":\"basic\",\"services\":[\"storage.*\"]}]}");
    cutoff_free(json);

    /* invalid specs are refused rather than written */
    actions[1].name = "ai";
    assert_int_equal(cutoff_catalog_to_json(&spec, &json), CUTOFF_EINVAL);
    assert_null(json);
    actions[1].name = "ai.embed";
    actions[1].cls = 7;
    assert_int_equal(cutoff_catalog_to_json(&spec, &json), CUTOFF_EINVAL);
    actions[1].cls = CUTOFF_CLASS_WRITE;
    patterns[0] = "billing.*";
    cutoff_diag d;
    EXPECT_FAILURE(co__catalog_validate(&spec, &d), &d, CUTOFF_EPARSE,
                   "plans[0].services[0]: \"billing.*\" matches no action");
    assert_int_equal(cutoff_catalog_to_json(NULL, &json), CUTOFF_EINVAL);
}

static int catalog_parse_and_write(const void *ctx)
{
    const char *doc = ctx;
    cutoff_catalog_spec *c = NULL, *copy = NULL;
    cutoff_diag d;
    char *json = NULL;
    int rc = cutoff_catalog_parse(doc, strlen(doc), &c, &d);
    if (rc == CUTOFF_ENOMEM)
        assert_non_null(strstr(d.message, "out of memory"));
    if (rc == 0)
        rc = cutoff_catalog_to_json(c, &json);
    if (rc == 0)
        rc = co__catalog_copy(c, &copy);
    cutoff_free(json);
    cutoff_catalog_free(c);
    cutoff_catalog_free(copy);
    return rc;
}

static void catalog_out_of_memory(void **state)
{
    (void)state;
    for_each_allocation_failure(catalog_parse_and_write, reference_catalog);
}

/* ---- actions ------------------------------------------------------------------------ */

static const char reference_action[] =
    "{\"id\":\"EA-1\",\"case\":\"CASE-7\",\"scope\":[\"unit-8200\"],\"deny\":[\"storage.*\",\"ai.*"
    "\"],"
    "\"except\":[\"security.*\"],\"regions\":[\"*\"],"
    "\"phases\":[{\"at\":\"2025-09-25T12:00:00Z\",\"mode\":\"read-only\"},{\"at\":\"+30d\","
    "\"mode\":\"suspend\"}],"
    "\"status\":403,\"notice\":{\"summary\":\"Storage and AI are stopped for this unit.\","
    "\"terms\":\"Acceptable use policy, section "
    "3\",\"contact\":\"trust@example.com\",\"ref\":\"https://provider.example/n/N-17\"}}";

/* The minimal action; %s is spliced in before the closing brace. */
#define MINIMAL_ACTION(extra)                                                                      \
    "{\"case\":\"C-1\",\"scope\":[\"u1\"],\"deny\":[\"storage.*\"],"                               \
    "\"phases\":[{\"at\":\"+0\",\"mode\":\"suspend\"}],\"notice\":{\"summary\":\"s\"}" extra "}"

static void action_reads_reference(void **state)
{
    (void)state;
    cutoff_action_spec *a = NULL;
    cutoff_diag d;
    assert_int_equal(cutoff_action_parse(reference_action, strlen(reference_action), &a, &d), 0);
    assert_string_equal(a->id, "EA-1");
    assert_string_equal(a->case_id, "CASE-7");
    assert_int_equal(a->n_scope, 1);
    assert_string_equal(a->scope[0], "unit-8200");
    assert_int_equal(a->n_deny, 2);
    assert_string_equal(a->deny[0], "storage.*");
    assert_string_equal(a->deny[1], "ai.*");
    assert_int_equal(a->n_except, 1);
    assert_string_equal(a->except[0], "security.*");
    assert_int_equal(a->n_regions, 0); /* ["*"] is every region */
    assert_int_equal(a->n_phases, 2);
    assert_int_equal(a->phases[0].at, 1758801600); /* 2025-09-25T12:00:00Z */
    assert_int_equal(a->phases[0].relative, 0);
    assert_int_equal(a->phases[0].mode, CUTOFF_MODE_READ_ONLY);
    assert_int_equal(a->phases[1].at, 30 * 86400);
    assert_int_equal(a->phases[1].relative, 1);
    assert_int_equal(a->phases[1].mode, CUTOFF_MODE_SUSPEND);
    assert_int_equal(a->status, 403);
    assert_string_equal(a->notice.summary, "Storage and AI are stopped for this unit.");
    assert_string_equal(a->notice.terms, "Acceptable use policy, section 3");
    assert_string_equal(a->notice.contact, "trust@example.com");
    assert_string_equal(a->notice.ref, "https://provider.example/n/N-17");
    assert_int_equal(a->state, CUTOFF_STATE_DRAFT);
    assert_int_equal(a->version, 0);
    assert_int_equal(a->activated_at, 0);
    assert_int_equal(cutoff_phase_start(a, 1, 1000), 1000 + 30 * 86400);
    cutoff_action_free(a);
    cutoff_action_free(NULL);
}

static void action_defaults(void **state)
{
    (void)state;
    cutoff_action_spec *a = NULL;
    cutoff_diag d;
    const char *doc = MINIMAL_ACTION("");
    assert_int_equal(cutoff_action_parse(doc, strlen(doc), &a, &d), 0);
    assert_null(a->id);
    assert_int_equal(a->status, 403);
    assert_int_equal(a->n_except, 0);
    assert_int_equal(a->n_regions, 0);
    assert_null(a->notice.terms);
    assert_null(a->notice.contact);
    assert_null(a->notice.ref);
    cutoff_action_free(a);

    doc = "{\"id\":null,\"case\":\"C-1\",\"scope\":[\"u1\",\"u2\"],\"deny\":[\"storage.*\"],"
          "\"except\":[],"
          "\"regions\":[\"eu-*\",\"us-east\"],\"status\":451,"
          "\"phases\":[{\"at\":1758801600,\"mode\":\"suspend\"},{\"at\":\"1758888000\",\"mode\":"
          "\"off\"}],"
          "\"notice\":{\"summary\":\"s\",\"terms\":null,\"ref\":\"\"}}";
    assert_int_equal(cutoff_action_parse(doc, strlen(doc), &a, &d), 0);
    assert_null(a->id);
    assert_int_equal(a->status, 451);
    assert_int_equal(a->n_scope, 2);
    assert_int_equal(a->n_regions, 2);
    assert_string_equal(a->regions[0], "eu-*");
    assert_int_equal(a->phases[1].at, 1758888000);
    assert_int_equal(a->phases[1].mode, CUTOFF_MODE_OFF);
    assert_null(a->notice.terms);
    assert_string_equal(a->notice.ref, "");
    cutoff_action_free(a);
}

static void action_mixed_phases(void **state)
{
    (void)state;
    /* Absolute and relative phases are ordered among their own kind only:
     * an absolute phase may follow a larger offset and vice versa. */
    cutoff_action_spec *a = NULL;
    cutoff_diag d;
    const char *doc = "{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"*\"],\"phases\":["
                      "{\"at\":\"+30d\",\"mode\":\"read-only\"},"
                      "{\"at\":\"2025-09-25T12:00:00Z\",\"mode\":\"suspend\"},"
                      "{\"at\":\"+1d\",\"mode\":\"off\"}],\"notice\":{\"summary\":\"s\"}}";
    EXPECT_FAILURE(cutoff_action_parse(doc, strlen(doc), &a, &d), &d, CUTOFF_EPARSE,
                   "phases[2].at: +1d is not after phases[0].at (+30d)");
    doc =
        "{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"*\"],\"phases\":["
        "{\"at\":\"+30d\",\"mode\":\"read-only\"},"
        "{\"at\":\"2025-09-25T12:00:00Z\",\"mode\":\"suspend\"},"
        "{\"at\":\"+31d\",\"mode\":\"off\"},"
        "{\"at\":\"2025-09-25T11:00:00+00:00\",\"mode\":\"off\"}],\"notice\":{\"summary\":\"s\"}}";
    EXPECT_FAILURE(
        cutoff_action_parse(doc, strlen(doc), &a, &d), &d, CUTOFF_EPARSE,
        "phases[3].at: 2025-09-25T11:00:00Z is not after phases[1].at (2025-09-25T12:00:00Z)");
    doc = "{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"*\"],\"phases\":["
          "{\"at\":\"+30d\",\"mode\":\"read-only\"},"
          "{\"at\":\"2025-09-25T12:00:00Z\",\"mode\":\"suspend\"},"
          "{\"at\":\"+31d\",\"mode\":\"off\"}],\"notice\":{\"summary\":\"s\"}}";
    assert_int_equal(cutoff_action_parse(doc, strlen(doc), &a, &d), 0);
    assert_int_equal(a->n_phases, 3);
    assert_int_equal(a->phases[1].relative, 0);
    assert_int_equal(a->phases[2].relative, 1);
    cutoff_action_free(a);
}

static const struct bad_doc bad_actions[] = {
    /* syntax and shape */
    {"{\"case\":", CUTOFF_EPARSE, {"line 1, column", "malformed JSON"}},
    {"\"EA-1\"", CUTOFF_EPARSE, {"malformed JSON"}},
    {"[1]", CUTOFF_EPARSE, {"must be a JSON object, not an array"}},
    {MINIMAL_ACTION(",\"sataus\":403"),
     CUTOFF_EPARSE,
     {"unknown key \"sataus\" at the top level", "did you mean \"status\""}},
    {MINIMAL_ACTION(",\"case\":\"C-2\""), CUTOFF_EPARSE, {"duplicate", "case"}},
    /* id and case */
    {MINIMAL_ACTION(",\"id\":\"EA 1\""),
     CUTOFF_EPARSE,
     {"id: \"EA 1\" is not an action id", "A-Z a-z 0-9 . _ : -"}},
    {MINIMAL_ACTION(",\"id\":1"), CUTOFF_EPARSE, {"id: expected a string, got an integer"}},
    {"{\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\",\"mode\":\"off\"}],"
     "\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"missing \"case\""}},
    {"{\"case\":\"\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\",\"mode\":"
     "\"off\"}],\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"case: \"\" is not a case id"}},
    /* scope */
    {"{\"case\":\"C\",\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\",\"mode\":\"off\"}],\"notice\":{"
     "\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"missing \"scope\""}},
    {"{\"case\":\"C\",\"scope\":[],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\",\"mode\":\"off\"}]"
     ",\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"scope: empty"}},
    {"{\"case\":\"C\",\"scope\":\"u\",\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\",\"mode\":"
     "\"off\"}],\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"scope: expected an array, got a string"}},
    {"{\"case\":\"C\",\"scope\":[\"u\",\"u/"
     "v\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\",\"mode\":\"off\"}],\"notice\":{"
     "\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"scope[1]: \"u/v\" is not a node id"}},
    {"{\"case\":\"C\",\"scope\":[\"u\",\"v\",\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\","
     "\"mode\":\"off\"}],\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"scope[2]: \"u\" is listed twice (first at scope[0])"}},
    {"{\"case\":\"C\",\"scope\":[\"u\",7],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\",\"mode\":"
     "\"off\"}],\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"scope[1]: expected a string, got an integer"}},
    /* patterns */
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[],\"phases\":[{\"at\":\"+0\",\"mode\":\"off\"}],"
     "\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"deny: empty"}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"storage\"],\"phases\":[{\"at\":\"+0\",\"mode\":"
     "\"off\"}],\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"deny[0]: \"storage\" is not a pattern", "\"SERVICE.*\""}},
    {MINIMAL_ACTION(",\"except\":[\"security.*\",\"sec*\"]"),
     CUTOFF_EPARSE,
     {"except[1]: \"sec*\" is not a pattern"}},
    /* regions */
    {MINIMAL_ACTION(",\"regions\":[]"), CUTOFF_EPARSE, {"regions: empty", "[\"*\"]"}},
    {MINIMAL_ACTION(",\"regions\":[\"eu\",\"*\"]"),
     CUTOFF_EPARSE,
     {"regions[1]: \"*\" means every region and must stand alone"}},
    {MINIMAL_ACTION(",\"regions\":[\"eu-**\"]"),
     CUTOFF_EPARSE,
     {"regions[0]: \"eu-**\" is not a region", "eu-*"}},
    {MINIMAL_ACTION(",\"regions\":[\"e*u\"]"),
     CUTOFF_EPARSE,
     {"regions[0]: \"e*u\" is not a region"}},
    {MINIMAL_ACTION(",\"regions\":[\"eu-*\",\"eu-*\"]"),
     CUTOFF_EPARSE,
     {"regions[1]: \"eu-*\" is listed twice"}},
    /* phases */
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"missing \"phases\""}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[],\"notice\":{\"summary\":"
     "\"s\"}}",
     CUTOFF_EPARSE,
     {"phases: empty"}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[\"+0\"],\"notice\":{"
     "\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"phases[0]: expected an object"}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"mode\":\"off\"}],"
     "\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"phases[0]: missing \"at\""}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\"}],\"notice\":"
     "{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"phases[0]: missing \"mode\""}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\",\"mode\":"
     "\"off\",\"until\":\"+1d\"}],\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"phases[0]: unknown key \"until\"", "at, mode"}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\",\"mode\":"
     "\"readonly\"}],\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"phases[0].mode: \"readonly\" is not a mode", "\"read-only\", \"suspend\" or \"off\""}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"2025-02-29T00:00:"
     "00Z\",\"mode\":\"off\"}],\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"phases[0].at: ", "does not exist"}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"next "
     "week\",\"mode\":\"off\"}],\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"phases[0].at: ", "RFC 3339"}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+3w\",\"mode\":"
     "\"off\"}],\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"phases[0].at: ", "+30d"}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":true,\"mode\":"
     "\"off\"}],\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"phases[0].at: expected a time string or Unix seconds, got a boolean"}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"\\u00e9t\\u00e9\","
     "\"mode\":\"off\"}],\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"phases[0].at: \"\xc3\xa9t\xc3\xa9\" is not a time"}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":-1,\"mode\":\"off\"}"
     "],\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"phases[0].at: -1 is out of range", "1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z"}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":253402300800,"
     "\"mode\":\"off\"}],\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"phases[0].at: 253402300800 is out of range"}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+36501d\","
     "\"mode\":\"off\"}],\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"phases[0].at: ", "out of range; use +0 to +36500d"}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"2025-10-01T00:00:"
     "00Z\",\"mode\":\"read-only\"},{\"at\":\"2025-09-01T00:00:00Z\",\"mode\":\"suspend\"}],"
     "\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"phases[1].at: 2025-09-01T00:00:00Z is not after phases[0].at (2025-10-01T00:00:00Z)"}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+1h\",\"mode\":"
     "\"read-only\"},{\"at\":\"+60m\",\"mode\":\"suspend\"}],\"notice\":{\"summary\":\"s\"}}",
     CUTOFF_EPARSE,
     {"phases[1].at: +1h is not after phases[0].at (+1h)", "time order"}},
    /* status */
    {MINIMAL_ACTION(",\"status\":500"),
     CUTOFF_EPARSE,
     {"status: 500 is not allowed; use 403 or 451"}},
    {MINIMAL_ACTION(",\"status\":\"403\""),
     CUTOFF_EPARSE,
     {"status: expected 403 or 451, got a string"}},
    {MINIMAL_ACTION(",\"status\":403.0"),
     CUTOFF_EPARSE,
     {"status: expected 403 or 451, got a fractional number"}},
    /* notice */
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\",\"mode\":"
     "\"off\"}]}",
     CUTOFF_EPARSE,
     {"missing \"notice\"", "summary"}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\",\"mode\":"
     "\"off\"}],\"notice\":\"stop\"}",
     CUTOFF_EPARSE,
     {"notice: expected an object, got a string"}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\",\"mode\":"
     "\"off\"}],\"notice\":{\"terms\":\"t\"}}",
     CUTOFF_EPARSE,
     {"notice: missing \"summary\""}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\",\"mode\":"
     "\"off\"}],\"notice\":{\"summary\":\"\"}}",
     CUTOFF_EPARSE,
     {"notice.summary: empty"}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\",\"mode\":"
     "\"off\"}],\"notice\":{\"summary\":\"s\",\"contcat\":\"x\"}}",
     CUTOFF_EPARSE,
     {"notice: unknown key \"contcat\"", "did you mean \"contact\""}},
    {"{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\",\"mode\":"
     "\"off\"}],\"notice\":{\"summary\":\"s\",\"ref\":5}}",
     CUTOFF_EPARSE,
     {"notice.ref: expected a string, got an integer"}},
    /* lifecycle fields are checked even though a plain parse ignores them */
    {MINIMAL_ACTION(",\"state\":\"approved\""),
     CUTOFF_EPARSE,
     {"state: \"approved\" is not a state", "draft, active"}},
    {MINIMAL_ACTION(",\"version\":-2"), CUTOFF_EPARSE, {"version: -2 is out of range"}},
    {MINIMAL_ACTION(",\"activated_at\":\"yesterday\""),
     CUTOFF_EPARSE,
     {"activated_at: ", "RFC 3339"}},
};

static void action_refuses_bad_documents(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_actions / sizeof bad_actions[0]; i++) {
        const struct bad_doc *b = &bad_actions[i];
        cutoff_action_spec *a = (cutoff_action_spec *)&a;
        cutoff_diag d;
        snprintf(case_label, sizeof case_label, "bad_actions[%zu]: ", i);
        int rc = cutoff_action_parse(b->doc, strlen(b->doc), &a, &d);
        assert_null(a);
        const char *want[4] = {b->want[0], b->want[1], b->want[2], NULL};
        expect_failure(rc, &d, b->rc, want);
    }
    case_label[0] = '\0';
}

static void action_limits(void **state)
{
    (void)state;
    cutoff_action_spec *a = NULL;
    cutoff_diag d;
    char *scope = repeat("\"u%d\"", CO__LIST_MAX + 1);
    char *doc =
        build("{\"case\":\"C\",\"scope\":[%s],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\","
              "\"mode\":\"off\"}],\"notice\":{\"summary\":\"s\"}}",
              scope);
    EXPECT_FAILURE(cutoff_action_parse(doc, strlen(doc), &a, &d), &d, CUTOFF_ELIMIT,
                   "scope: 1001 entries is too many; at most 1000");
    free(doc);
    doc = build("{\"case\":\"C\",\"scope\":[%s],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\","
                "\"mode\":\"off\"}],\"notice\":{\"summary\":\"s\"}}",
                strchr(scope, ',') + 1);
    assert_int_equal(cutoff_action_parse(doc, strlen(doc), &a, &d), 0);
    assert_int_equal(a->n_scope, CO__LIST_MAX);
    assert_string_equal(a->scope[999], "u1000");
    cutoff_action_free(a);
    free(doc);
    free(scope);

    char *text = malloc(CO__TEXT_MAX + 2);
    memset(text, 'x', CO__TEXT_MAX + 1);
    text[CO__TEXT_MAX + 1] = '\0';
    doc = build("{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\","
                "\"mode\":\"off\"}],\"notice\":{\"summary\":\"s\",\"terms\":\"%s\"}}",
                text);
    EXPECT_FAILURE(cutoff_action_parse(doc, strlen(doc), &a, &d), &d, CUTOFF_ELIMIT,
                   "notice.terms: 4097 bytes is too long; at most 4096");
    free(doc);
    text[CO__TEXT_MAX] = '\0';
    doc = build("{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[{\"at\":\"+0\","
                "\"mode\":\"off\"}],\"notice\":{\"summary\":\"%s\"}}",
                text);
    assert_int_equal(cutoff_action_parse(doc, strlen(doc), &a, &d), 0);
    assert_int_equal(strlen(a->notice.summary), CO__TEXT_MAX);
    cutoff_action_free(a);
    free(doc);
    free(text);

    char *phases = repeat("{\"at\":\"+%dm\",\"mode\":\"off\"}", CO__PHASES_MAX + 1);
    doc = build("{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"a.*\"],\"phases\":[%s],"
                "\"notice\":{\"summary\":\"s\"}}",
                phases);
    EXPECT_FAILURE(cutoff_action_parse(doc, strlen(doc), &a, &d), &d, CUTOFF_ELIMIT,
                   "phases: 101 phases is too many; at most 100");
    free(doc);
    free(phases);
}

static void expect_same_action(const cutoff_action_spec *a, const cutoff_action_spec *b)
{
    if (a->id || b->id)
        assert_string_equal(a->id, b->id);
    assert_string_equal(a->case_id, b->case_id);
    assert_int_equal(a->n_scope, b->n_scope);
    for (size_t i = 0; i < a->n_scope; i++)
        assert_string_equal(a->scope[i], b->scope[i]);
    assert_int_equal(a->n_deny, b->n_deny);
    for (size_t i = 0; i < a->n_deny; i++)
        assert_string_equal(a->deny[i], b->deny[i]);
    assert_int_equal(a->n_except, b->n_except);
    for (size_t i = 0; i < a->n_except; i++)
        assert_string_equal(a->except[i], b->except[i]);
    assert_int_equal(a->n_regions, b->n_regions);
    for (size_t i = 0; i < a->n_regions; i++)
        assert_string_equal(a->regions[i], b->regions[i]);
    assert_int_equal(a->n_phases, b->n_phases);
    for (size_t i = 0; i < a->n_phases; i++) {
        assert_int_equal(a->phases[i].at, b->phases[i].at);
        assert_int_equal(a->phases[i].relative, b->phases[i].relative);
        assert_int_equal(a->phases[i].mode, b->phases[i].mode);
    }
    assert_int_equal(a->status, b->status);
    assert_string_equal(a->notice.summary, b->notice.summary);
    const char *fa[] = {a->notice.terms, a->notice.contact, a->notice.ref};
    const char *fb[] = {b->notice.terms, b->notice.contact, b->notice.ref};
    for (size_t i = 0; i < 3; i++) {
        if (fa[i] == NULL || fb[i] == NULL)
            assert_ptr_equal(fa[i], fb[i]);
        else
            assert_string_equal(fa[i], fb[i]);
    }
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->activated_at, b->activated_at);
}

static void action_round_trips(void **state)
{
    (void)state;
    cutoff_action_spec *a = NULL, *again = NULL;
    cutoff_diag d;
    char *json = NULL, *json2 = NULL;
    assert_int_equal(cutoff_action_parse(reference_action, strlen(reference_action), &a, &d), 0);
    assert_int_equal(cutoff_action_to_json(a, &json), 0);
    assert_string_equal(
        json,
        "{\"id\":\"EA-1\",\"case\":\"CASE-7\",\"scope\":[\"unit-8200\"],\"deny\":[\"storage.*\","
        "\"ai.*\"],"
        "\"except\":[\"security.*\"],\"regions\":[\"*\"],"
        "\"phases\":[{\"at\":\"2025-09-25T12:00:00Z\",\"mode\":\"read-only\"},{\"at\":\"+30d\","
        "\"mode\":\"suspend\"}],"
        "\"status\":403,\"notice\":{\"summary\":\"Storage and AI are stopped for this unit.\","
        "\"terms\":\"Acceptable use policy, section "
        "3\",\"contact\":\"trust@example.com\",\"ref\":\"https://provider.example/n/N-17\"},"
        "\"state\":\"draft\",\"version\":0,\"activated_at\":null}");
    assert_int_equal(cutoff_action_parse(json, strlen(json), &again, &d), 0);
    expect_same_action(a, again);
    assert_int_equal(cutoff_action_to_json(again, &json2), 0);
    assert_string_equal(json, json2);
    cutoff_free(json);
    cutoff_free(json2);
    cutoff_action_free(a);
    cutoff_action_free(again);

    /* relative offsets are written in the largest unit that divides them,
     * absolute times as RFC 3339 UTC, non-ASCII text as UTF-8 */
    const char *doc =
        "{\"case\":\"C\",\"scope\":[\"u\"],\"deny\":[\"*\"],\"phases\":["
        "{\"at\":\"+0s\",\"mode\":\"read-only\"},{\"at\":\"+90\",\"mode\":\"read-only\"},"
        "{\"at\":\"+90m\",\"mode\":\"suspend\"},{\"at\":\"+3600m\",\"mode\":\"suspend\"},"
        "{\"at\":\"+72h\",\"mode\":\"off\"},"
        "{\"at\":\"2025-09-25T14:00:00.9+02:00\",\"mode\":\"off\"}],"
        "\"notice\":{\"summary\":\"\\u00e9t\\u00e9 \\\"q\\\"\"}}";
    assert_int_equal(cutoff_action_parse(doc, strlen(doc), &a, &d), 0);
    assert_int_equal(cutoff_action_to_json(a, &json), 0);
    assert_non_null(strstr(
        json, "\"phases\":[{\"at\":\"+0\",\"mode\":\"read-only\"},"
              "{\"at\":\"+90s\",\"mode\":\"read-only\"},"
              "{\"at\":\"+90m\",\"mode\":\"suspend\"},{\"at\":\"+60h\",\"mode\":\"suspend\"},"
              "{\"at\":\"+3d\",\"mode\":\"off\"},"
              "{\"at\":\"2025-09-25T12:00:00Z\",\"mode\":\"off\"}]"));
    assert_non_null(strstr(json, "\"summary\":\"\xc3\xa9t\xc3\xa9 \\\"q\\\"\""));
    assert_non_null(strstr(json, "\"except\":[]"));
    assert_null(strstr(json, "\"id\""));
    assert_int_equal(cutoff_action_parse(json, strlen(json), &again, &d), 0);
    expect_same_action(a, again);
    cutoff_free(json);
    cutoff_action_free(a);
    cutoff_action_free(again);
}

static void action_lifecycle_fields(void **state)
{
    (void)state;
    cutoff_action_spec *a = NULL, *plain = NULL, *kept = NULL;
    cutoff_diag d;
    char *json = NULL;
    assert_int_equal(cutoff_action_parse(reference_action, strlen(reference_action), &a, &d), 0);
    a->state = CUTOFF_STATE_ACTIVE;
    a->version = 3;
    a->activated_at = 1758801600;
    assert_int_equal(cutoff_action_to_json(a, &json), 0);
    assert_non_null(strstr(
        json, "\"state\":\"active\",\"version\":3,\"activated_at\":\"2025-09-25T12:00:00Z\"}"));
    /* a plain parse reads a draft: activation is the database's business */
    assert_int_equal(cutoff_action_parse(json, strlen(json), &plain, &d), 0);
    assert_int_equal(plain->state, CUTOFF_STATE_DRAFT);
    assert_int_equal(plain->version, 0);
    assert_int_equal(plain->activated_at, 0);
    /* a store that keeps actions as JSON gets them back whole */
    assert_int_equal(co__action_parse_ex(json, strlen(json), CO__ACTION_KEEP_LIFECYCLE, &kept, &d),
                     0);
    expect_same_action(a, kept);
    cutoff_free(json);
    cutoff_action_free(a);
    cutoff_action_free(plain);
    cutoff_action_free(kept);
}

static void action_copy_is_deep(void **state)
{
    (void)state;
    cutoff_action_spec *a = NULL, *copy = NULL;
    cutoff_diag d;
    assert_int_equal(cutoff_action_parse(reference_action, strlen(reference_action), &a, &d), 0);
    assert_int_equal(cutoff_action_copy(a, &copy), 0);
    expect_same_action(a, copy);
    assert_ptr_not_equal(a->scope, copy->scope);
    assert_ptr_not_equal(a->scope[0], copy->scope[0]);
    assert_ptr_not_equal(a->phases, copy->phases);
    assert_ptr_not_equal(a->notice.summary, copy->notice.summary);
    cutoff_action_free(a);
    assert_string_equal(copy->deny[1], "ai.*");
    assert_string_equal(copy->notice.ref, "https://provider.example/n/N-17");

    /* a spec assembled by code, with empty lists as NULL */
    const char *scope[] = {"t1"}, *deny[] = {"*"};
    cutoff_phase_spec phases[] = {{10, 1, CUTOFF_MODE_SUSPEND}};
    cutoff_action_spec built = {.case_id = "C",
                                .scope = scope,
                                .n_scope = 1,
                                .deny = deny,
                                .n_deny = 1,
                                .phases = phases,
                                .n_phases = 1,
                                .status = 451,
                                .notice = {.summary = "s"},
                                .state = CUTOFF_STATE_LIFTED,
                                .version = 2,
                                .activated_at = 5};
    cutoff_action_spec *c2 = NULL;
    assert_int_equal(cutoff_action_copy(&built, &c2), 0);
    expect_same_action(&built, c2);
    assert_null(c2->except);
    assert_null(c2->id);
    cutoff_action_free(c2);
    cutoff_action_free(copy);

    built.n_except = 2; /* a count without an array */
    assert_int_equal(cutoff_action_copy(&built, &c2), CUTOFF_EINVAL);
    assert_int_equal(cutoff_action_copy(NULL, &c2), CUTOFF_EINVAL);
}

static void action_writer_validates(void **state)
{
    (void)state;
    const char *scope[] = {"t1"}, *deny[] = {"*"};
    cutoff_phase_spec phases[] = {{10, 1, CUTOFF_MODE_SUSPEND}, {5, 1, CUTOFF_MODE_OFF}};
    cutoff_action_spec a = {.case_id = "C",
                            .scope = scope,
                            .n_scope = 1,
                            .deny = deny,
                            .n_deny = 1,
                            .phases = phases,
                            .n_phases = 1,
                            .status = 403,
                            .notice = {.summary = "s"}};
    char *json = NULL;
    cutoff_diag d;
    assert_int_equal(cutoff_action_to_json(&a, &json), 0);
    cutoff_free(json);
    json = NULL;

    a.n_phases = 2; /* out of order */
    assert_int_equal(cutoff_action_to_json(&a, &json), CUTOFF_EINVAL);
    assert_null(json);
    EXPECT_FAILURE(co__action_validate(&a, &d), &d, CUTOFF_EPARSE,
                   "phases[1].at: +5s is not after phases[0].at (+10s)");
    a.n_phases = 1;
    a.status = 200;
    assert_int_equal(cutoff_action_to_json(&a, &json), CUTOFF_EINVAL);
    a.status = 403;
    a.notice.terms = "\xc3\x28"; /* not UTF-8: would not be JSON */
    EXPECT_FAILURE(co__action_validate(&a, &d), &d, CUTOFF_EPARSE, "notice.terms: not valid UTF-8");
    assert_int_equal(cutoff_action_to_json(&a, &json), CUTOFF_EINVAL);
    a.notice.terms = NULL;
    a.case_id = NULL;
    assert_int_equal(cutoff_action_to_json(&a, &json), CUTOFF_EINVAL);
    assert_int_equal(cutoff_action_to_json(NULL, &json), CUTOFF_EINVAL);
}

static int action_parse_copy_write(const void *ctx)
{
    const char *doc = ctx;
    cutoff_action_spec *a = NULL, *copy = NULL;
    cutoff_diag d;
    char *json = NULL;
    int rc = cutoff_action_parse(doc, strlen(doc), &a, &d);
    if (rc == CUTOFF_ENOMEM)
        assert_non_null(strstr(d.message, "out of memory"));
    if (rc == 0)
        rc = cutoff_action_copy(a, &copy);
    if (rc == 0)
        rc = cutoff_action_to_json(copy, &json);
    cutoff_free(json);
    cutoff_action_free(a);
    cutoff_action_free(copy);
    return rc;
}

static void action_out_of_memory(void **state)
{
    (void)state;
    for_each_allocation_failure(action_parse_copy_write, reference_action);
}

/* ---- node lines -------------------------------------------------------------------------- */

static int parse_line(const char *text, char *buf, size_t size, cutoff_node_spec *node,
                      cutoff_diag *d)
{
    size_t len = strlen(text);
    assert_true(len < size);
    memcpy(buf, text, len + 1);
    return cutoff_node_parse_line(buf, len, node, d);
}

static int in_buffer(const char *s, const char *buf, size_t size)
{
    return s >= buf && s + strlen(s) < buf + size;
}

static void node_line_reads_good_lines(void **state)
{
    (void)state;
    char buf[512];
    cutoff_node_spec n;
    cutoff_diag d;
    assert_int_equal(parse_line("{\"id\":\"unit-8200\",\"kind\":\"unit\",\"parent\":\"imod\","
                                "\"name\":\"Unit 8200\",\"plan\":\"enterprise\"}",
                                buf, sizeof buf, &n, &d),
                     0);
    assert_string_equal(n.id, "unit-8200");
    assert_int_equal(n.kind, CUTOFF_NODE_UNIT);
    assert_string_equal(n.parent, "imod");
    assert_string_equal(n.name, "Unit 8200");
    assert_string_equal(n.plan, "enterprise");
    /* the strings live in the caller's buffer: no allocation to release */
    assert_true(in_buffer(n.id, buf, sizeof buf) && in_buffer(n.parent, buf, sizeof buf) &&
                in_buffer(n.name, buf, sizeof buf) && in_buffer(n.plan, buf, sizeof buf));

    assert_int_equal(
        parse_line(
            "{\"id\":\"imod\",\"kind\":\"tenant\",\"parent\":null,\"name\":null,\"plan\":null}",
            buf, sizeof buf, &n, &d),
        0);
    assert_string_equal(n.id, "imod");
    assert_int_equal(n.kind, CUTOFF_NODE_TENANT);
    assert_null(n.parent);
    assert_null(n.name);
    assert_null(n.plan);

    assert_int_equal(
        parse_line("  {\"kind\":\"tenant\",\"id\":\"t:1\"}\r\n", buf, sizeof buf, &n, &d), 0);
    assert_string_equal(n.id, "t:1");
    assert_null(n.parent);

    /* escapes are decoded */
    assert_int_equal(
        parse_line("{\"id\":\"s\\u002e1\",\"kind\":\"subscription\",\"parent\":\"u_1\","
                   "\"name\":\"caf\\u00e9 \\\"A\\\\B\\\"\\u0021\"}",
                   buf, sizeof buf, &n, &d),
        0);
    assert_string_equal(n.id, "s.1");
    assert_int_equal(n.kind, CUTOFF_NODE_SUBSCRIPTION);
    assert_string_equal(n.name, "caf\xc3\xa9 \"A\\B\"!");

    /* only len bytes are read: the line need not end in NUL */
    const char *two = "{\"id\":\"a\",\"kind\":\"tenant\"}{\"id\":\"b\"}";
    memcpy(buf, two, strlen(two) + 1);
    assert_int_equal(cutoff_node_parse_line(buf, 26, &n, &d), 0);
    assert_string_equal(n.id, "a");

    /* the longest id fits and every string still fits into the line */
    char id[CUTOFF_ID_MAX + 1];
    memset(id, 'x', CUTOFF_ID_MAX);
    id[CUTOFF_ID_MAX] = '\0';
    char *line =
        build("{\"id\":\"%s\",\"kind\":\"unit\",\"parent\":\"%s\",\"plan\":\"%s\"}", id, id, id);
    size_t len = strlen(line);
    char *exact = malloc(len); /* exactly the line, no NUL: sanitizers see overruns */
    memcpy(exact, line, len);
    assert_int_equal(cutoff_node_parse_line(exact, len, &n, &d), 0);
    assert_int_equal(strlen(n.id), CUTOFF_ID_MAX);
    assert_string_equal(n.plan, id);
    free(exact);
    free(line);
}

struct bad_line {
    const char *line;
    int rc;
    const char *want[3];
};

static const struct bad_line bad_lines[] = {
    {"{\"id\":\"a\",\"kind\":tenant}",
     CUTOFF_EPARSE,
     {"malformed JSON at column 23", "invalid token near 'tenant'"}},
    {"{\"id\":\"a\",", CUTOFF_EPARSE, {"malformed JSON at column"}},
    {"", CUTOFF_EPARSE, {"malformed JSON"}},
    {"{\"id\":\"a\",\"kind\":\"tenant\"} x",
     CUTOFF_EPARSE,
     {"malformed JSON", "end of file expected"}},
    {"[\"a\",\"tenant\"]", CUTOFF_EPARSE, {"one JSON object", "not an array"}},
    {"{\"id\":\"a\",\"kind\":\"tenant\",\"id\":\"b\"}", CUTOFF_EPARSE, {"duplicate object key"}},
    {"{\"kind\":\"tenant\"}", CUTOFF_EPARSE, {"missing \"id\""}},
    {"{\"id\":null,\"kind\":\"tenant\"}", CUTOFF_EPARSE, {"id: expected a string, got null"}},
    {"{\"id\":42,\"kind\":\"tenant\"}", CUTOFF_EPARSE, {"id: expected a string, got an integer"}},
    {"{\"id\":\"unit 8200\",\"kind\":\"tenant\"}",
     CUTOFF_EPARSE,
     {"id: \"unit 8200\" is not an id", "1-128 bytes of A-Z a-z 0-9 . _ : -"}},
    {"{\"id\":\"\",\"kind\":\"tenant\"}", CUTOFF_EPARSE, {"id: \"\" is not an id"}},
    {"{\"id\":\"a\"}", CUTOFF_EPARSE, {"missing \"kind\"", "tenant, unit or subscription"}},
    {"{\"id\":\"a\",\"kind\":\"team\"}",
     CUTOFF_EPARSE,
     {"kind: \"team\" is not a kind; use tenant, unit or subscription"}},
    {"{\"id\":\"a\",\"kind\":[\"unit\"]}",
     CUTOFF_EPARSE,
     {"kind: expected a string, got an array"}},
    {"{\"id\":\"a\",\"kind\":\"tenant\",\"parent\":\"b\"}",
     CUTOFF_EPARSE,
     {"parent: a tenant has no parent (got \"b\")"}},
    {"{\"id\":\"a\",\"kind\":\"unit\"}",
     CUTOFF_EPARSE,
     {"missing \"parent\": a unit needs a parent"}},
    {"{\"id\":\"a\",\"kind\":\"subscription\",\"parent\":null}",
     CUTOFF_EPARSE,
     {"missing \"parent\": a subscription needs a parent"}},
    {"{\"id\":\"a\",\"kind\":\"unit\",\"parent\":\"b/c\"}",
     CUTOFF_EPARSE,
     {"parent: \"b/c\" is not an id"}},
    {"{\"id\":\"a\",\"kind\":\"unit\",\"parent\":{}}",
     CUTOFF_EPARSE,
     {"parent: expected a string, got an object"}},
    {"{\"id\":\"a\",\"kind\":\"tenant\",\"plan\":\"gold plan\"}",
     CUTOFF_EPARSE,
     {"plan: \"gold plan\" is not an id"}},
    {"{\"id\":\"a\",\"kind\":\"tenant\",\"name\":true}",
     CUTOFF_EPARSE,
     {"name: expected a string, got a boolean"}},
    {"{\"id\":\"a\",\"kind\":\"unit\",\"prent\":\"b\"}",
     CUTOFF_EPARSE,
     {"unknown key \"prent\"", "id, kind, parent, name, plan", "did you mean \"parent\""}},
    {"{\"id\":\"a\\u0000b\",\"kind\":\"tenant\"}",
     CUTOFF_EPARSE,
     {"malformed JSON", "\\u0000 is not allowed"}},
    {"{\"id\":\"a\",\"kind\":\"tenant\",\"name\":\"\xc3\x28\"}",
     CUTOFF_EPARSE,
     {"malformed JSON", "unable to decode byte 0xc3"}},
};

static void node_line_refuses_bad_lines(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++) {
        const struct bad_line *b = &bad_lines[i];
        char buf[512], before[512];
        cutoff_node_spec n = {0};
        cutoff_diag d;
        d.line = 77; /* the caller's business: left alone */
        snprintf(case_label, sizeof case_label, "bad_lines[%zu]: ", i);
        int rc = parse_line(b->line, buf, sizeof buf, &n, &d);
        memcpy(before, b->line, strlen(b->line) + 1);
        const char *want[4] = {b->want[0], b->want[1], b->want[2], NULL};
        expect_failure(rc, &d, b->rc, want);
        assert_int_equal(d.line, 77);
        assert_memory_equal(buf, before, strlen(b->line) + 1); /* no side effects */
        assert_null(n.id);
    }
    case_label[0] = '\0';

    /* ids longer than the limit say so */
    char id[CUTOFF_ID_MAX + 2];
    memset(id, 'x', CUTOFF_ID_MAX + 1);
    id[CUTOFF_ID_MAX + 1] = '\0';
    char *line = build("{\"id\":\"%s\",\"kind\":\"tenant\"}", id);
    char buf[512];
    cutoff_node_spec n;
    cutoff_diag d;
    EXPECT_FAILURE(parse_line(line, buf, sizeof buf, &n, &d), &d, CUTOFF_EPARSE, "id: \"xxx",
                   "is 129 bytes; ids are 1-128 bytes");
    free(line);

    char *name = malloc(CO__TEXT_MAX + 2);
    memset(name, 'n', CO__TEXT_MAX + 1);
    name[CO__TEXT_MAX + 1] = '\0';
    line = build("{\"id\":\"a\",\"kind\":\"tenant\",\"name\":\"%s\"}", name);
    char *big = malloc(strlen(line) + 1);
    EXPECT_FAILURE(parse_line(line, big, strlen(line) + 1, &n, &d), &d, CUTOFF_ELIMIT,
                   "name: 4097 bytes is too long; at most 4096");
    free(big);
    free(line);
    free(name);
    assert_int_equal(cutoff_node_parse_line(NULL, 0, &n, &d), CUTOFF_EINVAL);
}

static int node_line_parse(const void *ctx)
{
    char buf[2048];
    cutoff_node_spec n;
    cutoff_diag d;
    int rc = parse_line(ctx, buf, sizeof buf, &n, &d);
    if (rc == CUTOFF_ENOMEM)
        assert_non_null(strstr(d.message, "out of memory"));
    if (rc == 0)
        assert_string_equal(n.plan, "enterprise");
    return rc;
}

/* A typical line allocates nothing; a long name does (its decoded copy). */
static void node_line_out_of_memory(void **state)
{
    (void)state;
    char line[1500];
    snprintf(line, sizeof line,
             "{\"id\":\"unit-8200\",\"kind\":\"unit\",\"parent\":\"imod\","
             "\"name\":\"%01000d\",\"plan\":\"enterprise\"}",
             8200);
    for_each_allocation_failure(node_line_parse, line);
}

/* ---- messages ------------------------------------------------------------------------------ */

static void messages_stay_valid_utf8(void **state)
{
    (void)state;
    /* A long non-ASCII value is cut on a character boundary. */
    char *name = repeat("\\u00e9", 200);
    char *doc = build("{\"services\":[{\"name\":\"%s\",\"actions\":[]}]}", name);
    cutoff_catalog_spec *c = NULL;
    cutoff_diag d;
    EXPECT_FAILURE(cutoff_catalog_parse(doc, strlen(doc), &c, &d), &d, CUTOFF_EPARSE,
                   "is not a service name", "...");
    /* every byte of the message is part of a whole character */
    for (const unsigned char *p = (const unsigned char *)d.message; *p; p++) {
        if (*p == 0xc3) {
            assert_int_equal(p[1], 0xa9);
            p++;
        } else {
            assert_true(*p < 0x80);
        }
    }
    free(doc);
    free(name);
}

/* ---- names, free text, notice URLs, time range --------------------------------- */

/* Spellings of "alice" that must never pass as a name: blanks around it,
 * whitespace, invisible and format characters, look-alikes. */
static const char *const spoofed_alice[] = {
    "alice ",
    " alice",
    "al ice",
    "alice\t",
    "alice\n",
    "alice\r",
    "alice\x1b[0m",
    "alice\xe2\x80\x8b", /* U+200B zero-width space */
    "\xd0\xb0lice",      /* Cyrillic a */
    "alice\xc2\xa0",     /* U+00A0 no-break space */
    "\xef\xbb\xbf"
    "alice",            /* U+FEFF */
    "\xef\xbd\x81lice", /* fullwidth a */
    "a\xcc\x81lice",    /* a + combining acute */
    "\xe2\x80\xae"
    "ecila",         /* U+202E right-to-left override */
    "alice\xc2\x85", /* U+0085, a C1 control */
    "",
};

static void names_follow_the_id_grammar(void **state)
{
    (void)state;
    assert_true(cutoff_id_valid("alice"));
    assert_true(cutoff_id_valid("Alice"));
    assert_true(cutoff_id_valid("svc:deploy-bot.2"));
    for (size_t i = 0; i < sizeof spoofed_alice / sizeof *spoofed_alice; i++)
        if (cutoff_id_valid(spoofed_alice[i]))
            fail_msg("\"%s\" (spelling %zu) passed as a name", spoofed_alice[i], i);
    assert_false(cutoff_id_valid(NULL));
    char long_name[CUTOFF_ID_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_false(cutoff_id_valid(long_name));
    long_name[CUTOFF_ID_MAX] = '\0';
    assert_true(cutoff_id_valid(long_name));
}

static void actors_compare_without_case(void **state)
{
    (void)state;
    static const char *const same[] = {"alice", "Alice", "ALICE", "aLiCe", "alicE"};
    for (size_t i = 0; i < sizeof same / sizeof *same; i++)
        for (size_t k = 0; k < sizeof same / sizeof *same; k++)
            if (!cutoff_actor_same(same[i], same[k]))
                fail_msg("\"%s\" and \"%s\" are one person", same[i], same[k]);
    assert_false(cutoff_actor_same("alice", "bob"));
    assert_false(cutoff_actor_same("alice", "alice2"));
    assert_false(cutoff_actor_same("alice", "alic"));
    assert_false(cutoff_actor_same("alice", NULL));
    assert_false(cutoff_actor_same(NULL, NULL));
    /* folding is ASCII only: '@' (0x40) and '`' (0x60) are not letters */
    assert_false(cutoff_actor_same("a@", "a`"));
    assert_false(cutoff_actor_same("a[", "a{"));
}

/* Messages quote what they were given so that a terminal shows what it
 * holds: hidden characters and bad bytes escaped, others kept. */
static void quoting_shows_hidden_characters(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"alice", "alice"},
        {"M\xc3\xbcnchen \xd0\xb0", "M\xc3\xbcnchen \xd0\xb0"}, /* ü and Cyrillic а stay */
        {"a\xe2\x80\xae"
         "cod.exe",
         "a\\u{202E}cod.exe"},             /* right-to-left override */
        {"x\x1b[31my", "x\\x1b[31my"},     /* terminal escape */
        {"z\xe2\x80\x8bw", "z\\u{200B}w"}, /* zero-width space */
        {"\xef\xbb\xbf"
         "bom",
         "\\u{FEFF}bom"},
        {"c1\xc2\x9b", "c1\\u{009B}"}, /* C1 CSI */
        {"bad\xff\"q\\", "bad\\xff\\\"q\\\\"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        if (strcmp(co__quote(cases[i].in, buf, sizeof buf), cases[i].out) != 0)
            fail_msg("quote %zu: got \"%s\", wanted \"%s\"", i, buf, cases[i].out);
    }
    /* Cut at a character boundary, never inside an escape. */
    char small[16];
    co__quote("\xe2\x80\xae\xe2\x80\xae\xe2\x80\xae\xe2\x80\xae", small, sizeof small);
    assert_string_equal(small, "\\u{202E}...");
}

static void free_text_refuses_hidden_characters(void **state)
{
    (void)state;
    cutoff_diag d;
    static const char *const good[] = {"Unit 8200 review",
                                       "caf\xc3\xa9 \"A\\B\"",
                                       "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
                                       "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", /* Hebrew: no override */
                                       "\xf0\x9f\x94\x92 locked",
                                       "\xef\xbf\xbd"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (co__text_check(good[i], 0, 0, "title", &d) != 0)
            fail_msg("\"%s\" refused: %s", good[i], d.message);
    static const struct {
        const char *text;
        const char *cp; /* U+XXXX named in the message */
    } bad[] = {
        {"a\x1b[2Jb", "U+001B"},
        {"a\rb", "U+000D"},
        {"a\nb", "U+000A"},
        {"a\tb", "U+0009"},
        {"a\x7f", "U+007F"},
        {"a\xc2\x9b"
         "31m",
         "U+009B"},
        {"a\xe2\x80\xae"
         "b",
         "U+202E"},
        {"a\xe2\x80\xaa"
         "b",
         "U+202A"},
        {"a\xe2\x80\xab"
         "b",
         "U+202B"},
        {"a\xe2\x80\xac"
         "b",
         "U+202C"},
        {"a\xe2\x80\xad"
         "b",
         "U+202D"},
        {"a\xe2\x81\xa6"
         "b",
         "U+2066"},
        {"a\xe2\x81\xa7"
         "b",
         "U+2067"},
        {"a\xe2\x81\xa8"
         "b",
         "U+2068"},
        {"a\xe2\x81\xa9"
         "b",
         "U+2069"},
        {"a\xe2\x80\x8f"
         "b",
         "U+200F"},
        {"a\xe2\x80\x8e"
         "b",
         "U+200E"},
        {"a\xe2\x80\x8b"
         "b",
         "U+200B"},
        {"a\xe2\x80\x8d"
         "b",
         "U+200D"},
        {"a\xe2\x81\xa0"
         "b",
         "U+2060"},
        {"\xef\xbb\xbf"
         "ab",
         "U+FEFF"},
        {"a\xc2\xad"
         "b",
         "U+00AD"},
        {"a\xd8\x9c"
         "b",
         "U+061C"},
        {"a\xe2\x80\xa8"
         "b",
         "U+2028"},
        {"a\xe2\x80\xa9"
         "b",
         "U+2029"},
        {"a\xf3\xa0\x80\x81"
         "b",
         "U+E0001"},
        {"a\xf3\xa0\x81\xa1"
         "b",
         "U+E0061"},
        {"a\xe3\x85\xa4"
         "b",
         "U+3164"},
        {"a\xef\xbf\xbe", "U+FFFE"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&d, 0, sizeof d);
        if (co__text_check(bad[i].text, 0, 0, "title", &d) != CUTOFF_EINVAL)
            fail_msg("case %zu (%s) was accepted", i, bad[i].cp);
        if (strstr(d.message, bad[i].cp) == NULL || strstr(d.message, "title") == NULL)
            fail_msg("case %zu: message \"%s\" lacks %s", i, d.message, bad[i].cp);
    }
    /* multi-line text keeps LF and TAB, and nothing else of the kind */
    assert_int_equal(co__text_check("line 1\n\tline 2\n", 0, CO__TEXT_MULTILINE, "findings", &d),
                     0);
    assert_int_equal(co__text_check("a\r\nb", 0, CO__TEXT_MULTILINE, "findings", &d),
                     CUTOFF_EINVAL);
    assert_int_equal(co__text_check("a\xe2\x80\xae", 0, CO__TEXT_MULTILINE, "findings", &d),
                     CUTOFF_EINVAL);
    /* not UTF-8, empty, optional, too long */
    assert_int_equal(co__text_check("a\xff", 0, 0, "title", &d), CUTOFF_EINVAL);
    assert_non_null(strstr(d.message, "UTF-8"));
    assert_int_equal(co__text_check("\xed\xa0\x80", 0, 0, "title", &d), CUTOFF_EINVAL);
    assert_int_equal(co__text_check("", 0, 0, "title", &d), CUTOFF_EINVAL);
    assert_int_equal(co__text_check(NULL, 0, 0, "title", &d), CUTOFF_EINVAL);
    assert_int_equal(co__text_check(NULL, 0, CO__TEXT_OPTIONAL, "title", &d), 0);
    assert_int_equal(co__text_check("abcd", 3, 0, "title", &d), CUTOFF_ELIMIT);
    assert_int_equal(co__text_check("abc", 3, 0, "title", &d), 0);
}

static void notice_urls_are_plain(void **state)
{
    (void)state;
    cutoff_diag d;
    static const char *const good[] = {"https://provider.example/notices/EA-1", "http://p.example",
                                       "HTTPS://P.EXAMPLE/a?b=c&d=%20#x", "https://[::1]:8443/n/",
                                       "https://p.example/a,b;c=d"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (cutoff_notice_url_check(good[i], &d) != 0)
            fail_msg("\"%s\" refused: %s", good[i], d.message);
    static const char *const bad[] = {
        "https://p.example/x>; rel=\"x\", <https://evil.example/",
        "https://p.example/a\r\nSet-Cookie: x=1",
        "https://p.example/a\nb",
        "https://p.example/a b",
        "https://p.example/\"",
        "https://p.example/<",
        "https://p.example/\\",
        "https://p.example/{x}",
        "https://p.example/\xc3\xa9",
        "https://p.example/\xe2\x80\xae",
        "https://p.example/\x7f",
        "N-17",
        "/notices/EA-1",
        "//p.example/n",
        "javascript:alert(1)",
        "ftp://p.example/n",
        "https://",
        "https:///path",
        "https:p.example",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&d, 0, sizeof d);
        if (cutoff_notice_url_check(bad[i], &d) != CUTOFF_EPARSE)
            fail_msg("case %zu was accepted", i);
        assert_true(d.message[0] != '\0');
        assert_true(co__utf8_valid(d.message));
        assert_null(strchr(d.message, '\n'));
    }
    assert_int_equal(cutoff_notice_url_check(NULL, &d), CUTOFF_EPARSE);
}

/* A stored ref that fails the rule (written before it existed) is never
 * handed to a Link header: the URL falls back to notice_base + id. */
static void notice_url_skips_unsafe_refs(void **state)
{
    (void)state;
    static const char *const phases_ids[] = {"u1"};
    static const char *const deny[] = {"storage.*"};
    cutoff_phase_spec ph = {.at = 0, .relative = 1, .mode = CUTOFF_MODE_SUSPEND};
    cutoff_action_spec a = {.id = "EA-1",
                            .case_id = "C-1",
                            .scope = phases_ids,
                            .n_scope = 1,
                            .deny = deny,
                            .n_deny = 1,
                            .phases = &ph,
                            .n_phases = 1,
                            .status = 451,
                            .notice = {.summary = "s", .ref = "https://x.example/a>; rel=\"y\""}};
    char *url = NULL;
    assert_int_equal(cutoff_notice_url(&a, "https://p.example/n/", &url), 0);
    assert_string_equal(url, "https://p.example/n/EA-1");
    cutoff_free(url);
    assert_int_equal(cutoff_notice_url(&a, "https://p.example/n/\r\nX: y", &url), 0);
    assert_null(url);
    a.notice.ref = "https://x.example/ok";
    assert_int_equal(cutoff_notice_url(&a, NULL, &url), 0);
    assert_string_equal(url, "https://x.example/ok");
    cutoff_free(url);
}

static void action_refuses_unsafe_notices(void **state)
{
    (void)state;
    static const char *const bad_notices[][2] = {
        {"{\"summary\":\"s\",\"ref\":\"https://p.example/x>; rel=\\\"x\\\", <https://e.example/\"}",
         "notice.ref"},
        {"{\"summary\":\"s\",\"ref\":\"https://p.example/a\\r\\nX-Injected: 1\"}", "notice.ref"},
        {"{\"summary\":\"s\",\"ref\":\"N-17\"}", "notice.ref"},
        {"{\"summary\":\"s\",\"ref\":\"https://p.example/\\u00e9\"}", "notice.ref"},
        {"{\"summary\":\"stop \\u202eevil\"}", "notice.summary"},
        {"{\"summary\":\"stop \\u001b[2J\"}", "notice.summary"},
        {"{\"summary\":\"two\\nlines\"}", "notice.summary"},
        {"{\"summary\":\"s\",\"terms\":\"AUP\\u2066 3\"}", "notice.terms"},
        {"{\"summary\":\"s\",\"contact\":\"t\\u200b@example.com\"}", "notice.contact"},
        {"{\"summary\":\"s\",\"contact\":\"\\ufefft@example.com\"}", "notice.contact"},
    };
    for (size_t i = 0; i < sizeof bad_notices / sizeof *bad_notices; i++) {
        char doc[512];
        snprintf(doc, sizeof doc,
                 "{\"case\":\"C-1\",\"scope\":[\"u1\"],\"deny\":[\"storage.*\"],"
                 "\"phases\":[{\"at\":\"+0\",\"mode\":\"suspend\"}],\"notice\":%s}",
                 bad_notices[i][0]);
        cutoff_action_spec *a = NULL;
        cutoff_diag d = {0};
        int rc = cutoff_action_parse(doc, strlen(doc), &a, &d);
        if (rc != CUTOFF_EPARSE)
            fail_msg("case %zu: rc %d, want EPARSE", i, rc);
        assert_null(a);
        assert_int_equal(d.code, CUTOFF_EPARSE);
        if (strncmp(d.message, bad_notices[i][1], strlen(bad_notices[i][1])) != 0)
            fail_msg("case %zu: message \"%s\" does not start with %s", i, d.message,
                     bad_notices[i][1]);
        assert_true(co__utf8_valid(d.message));
        assert_null(strchr(d.message, '\n'));
        assert_null(strchr(d.message, '\r'));
    }
    /* what the database stored before these rules still loads */
    const char *stored = "{\"case\":\"C-1\",\"scope\":[\"u1\"],\"deny\":[\"storage.*\"],"
                         "\"phases\":[{\"at\":\"+0\",\"mode\":\"suspend\"}],"
                         "\"notice\":{\"summary\":\"\\u202es\",\"ref\":\"N-17\"}}";
    cutoff_action_spec *a = NULL;
    assert_int_equal(cutoff_action_parse(stored, strlen(stored), &a, NULL), CUTOFF_EPARSE);
    assert_int_equal(co__action_parse_ex(stored, strlen(stored), CO__ACTION_STORED, &a, NULL), 0);
    assert_string_equal(a->notice.ref, "N-17");
    cutoff_action_free(a);
}

static void node_names_refuse_hidden_characters(void **state)
{
    (void)state;
    static const char *const names[] = {"Unit \\u202e0028", "Unit\\n8200", "Unit\\u0085",
                                        "Unit \\u001b]0;x\\u0007", "Unit\\u2067 8200"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char line[256], buf[512];
        snprintf(line, sizeof line, "{\"id\":\"u\",\"kind\":\"tenant\",\"name\":\"%s\"}", names[i]);
        cutoff_node_spec n;
        cutoff_diag d = {0};
        int rc = cutoff_node_parse_line(memcpy(buf, line, strlen(line) + 1), strlen(line), &n, &d);
        if (rc != CUTOFF_EPARSE)
            fail_msg("name %zu: rc %d", i, rc);
        assert_int_equal(d.code, CUTOFF_EPARSE);
        if (strstr(d.message, "name") == NULL)
            fail_msg("name %zu: message \"%s\"", i, d.message);
    }
}

static void times_stay_in_four_digit_years(void **state)
{
    (void)state;
    int64_t t = 1;
    cutoff_diag d;
    assert_int_equal(cutoff_time_parse("9999-12-31T23:59:59Z", &t, &d), 0);
    assert_int_equal(t, INT64_C(253402300799));
    assert_int_equal(cutoff_time_parse("253402300799", &t, &d), 0);
    assert_int_equal(cutoff_time_parse("0000-01-01T00:00:00Z", &t, &d), 0);
    assert_int_equal(t, INT64_C(-62167219200));
    assert_int_equal(cutoff_time_parse("-62167219200", &t, &d), 0);
    static const char *const bad[] = {
        "253402300800",
        "99999999999999",
        "9223372036854775807", /* CUTOFF_TIME_NEVER itself */
        "9223372036854775808",
        "-62167219201",
        "-9223372036854775808",
        "9999-12-31T23:59:59-00:01", /* the offset moves it into 10000 */
        "0000-01-01T00:00:00+00:01", /* and this one before year 0 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        t = 42;
        memset(&d, 0, sizeof d);
        if (cutoff_time_parse(bad[i], &t, &d) != CUTOFF_EPARSE)
            fail_msg("\"%s\" was accepted as %lld", bad[i], (long long)t);
        assert_int_equal(t, 42);
        assert_non_null(strstr(d.message, "out of range"));
        assert_non_null(strstr(d.message, "9999-12-31T23:59:59Z"));
    }
}

int main(void)
{
    /* jansson allocates through the library wrapper here, so failure
     * injection and leak counts cover the JSON layer too */
    json_set_alloc_funcs(co__malloc, co__free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(catalog_reads_reference),
        cmocka_unit_test(quoting_shows_hidden_characters),
        cmocka_unit_test(catalog_optional_parts),
        cmocka_unit_test(catalog_refuses_bad_documents),
        cmocka_unit_test(catalog_limits),
        cmocka_unit_test(catalog_round_trips),
        cmocka_unit_test(catalog_writer_groups_and_validates),
        cmocka_unit_test(catalog_out_of_memory),
        cmocka_unit_test(action_reads_reference),
        cmocka_unit_test(action_defaults),
        cmocka_unit_test(action_mixed_phases),
        cmocka_unit_test(action_refuses_bad_documents),
        cmocka_unit_test(action_limits),
        cmocka_unit_test(action_round_trips),
        cmocka_unit_test(action_lifecycle_fields),
        cmocka_unit_test(action_copy_is_deep),
        cmocka_unit_test(action_writer_validates),
        cmocka_unit_test(action_out_of_memory),
        cmocka_unit_test(node_line_reads_good_lines),
        cmocka_unit_test(node_line_refuses_bad_lines),
        cmocka_unit_test(node_line_out_of_memory),
        cmocka_unit_test(messages_stay_valid_utf8),
        cmocka_unit_test(names_follow_the_id_grammar),
        cmocka_unit_test(actors_compare_without_case),
        cmocka_unit_test(free_text_refuses_hidden_characters),
        cmocka_unit_test(notice_urls_are_plain),
        cmocka_unit_test(notice_url_skips_unsafe_refs),
        cmocka_unit_test(action_refuses_unsafe_notices),
        cmocka_unit_test(node_names_refuse_hidden_characters),
        cmocka_unit_test(times_stay_in_four_digit_years),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
