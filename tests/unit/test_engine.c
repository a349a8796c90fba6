/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_engine.c - the engine by hand: the reference case of docs/design.md,
 * nested scopes, region prefixes, exact phase boundaries, every error the
 * tree builder and the snapshot compiler report (with diag->item), handles
 * across snapshots, the publication API under reader threads while a
 * writer publishes, and out-of-memory injection with leak counting. The
 * expected values come from docs/design.md, worked out on paper for each case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cutoff.h"
#include "util/util.h"

#define T0 INT64_C(1758801600) /* 2025-09-25T12:00:00Z */
#define DAY INT64_C(86400)
#define T1 (T0 + 30 * DAY)

/* ---- the reference case ------------------------------------------------- */

static const cutoff_catalog_action catalog_actions[] = {
    {"storage.read", CUTOFF_CLASS_READ},      {"storage.write", CUTOFF_CLASS_WRITE},
    {"storage.export", CUTOFF_CLASS_READ},    {"ai.transcribe", CUTOFF_CLASS_WRITE},
    {"ai.translate", CUTOFF_CLASS_WRITE},     {"security.scan", CUTOFF_CLASS_READ},
    {"security.monitor", CUTOFF_CLASS_WRITE},
};
static const char *const catalog_regions[] = {"eu-netherlands", "eu-ireland", "us-east"};
static const char *const all_services[] = {"*"};
static const char *const security_services[] = {"security.*"};
static const cutoff_plan_spec catalog_plans[] = {
    {"enterprise", all_services, 1},
    {"security-only", security_services, 1},
};
static const cutoff_catalog_spec catalog = {
    catalog_actions, sizeof catalog_actions / sizeof catalog_actions[0],
    catalog_regions, 3,
    catalog_plans,   2,
};

/* imod (enterprise) > unit-8200 > unit-8200-archive > sub-archive
 *                               > sub-ai
 *                  > unit-c4i > sub-c4i
 *                  > sec-ops (security-only) > sub-sec
 * acme > sub-acme */
static const cutoff_node_spec tree_nodes[] = {
    {"imod", CUTOFF_NODE_TENANT, NULL, "Ministry", "enterprise"},
    {"unit-8200", CUTOFF_NODE_UNIT, "imod", NULL, NULL},
    {"unit-8200-archive", CUTOFF_NODE_UNIT, "unit-8200", NULL, NULL},
    {"sub-archive", CUTOFF_NODE_SUBSCRIPTION, "unit-8200-archive", NULL, NULL},
    {"sub-ai", CUTOFF_NODE_SUBSCRIPTION, "unit-8200", NULL, NULL},
    {"unit-c4i", CUTOFF_NODE_UNIT, "imod", NULL, NULL},
    {"sub-c4i", CUTOFF_NODE_SUBSCRIPTION, "unit-c4i", NULL, NULL},
    {"sec-ops", CUTOFF_NODE_UNIT, "imod", NULL, "security-only"},
    {"sub-sec", CUTOFF_NODE_SUBSCRIPTION, "sec-ops", NULL, NULL},
    {"acme", CUTOFF_NODE_TENANT, NULL, NULL, NULL},
    {"sub-acme", CUTOFF_NODE_SUBSCRIPTION, "acme", NULL, NULL},
};
#define N_TREE_NODES (sizeof tree_nodes / sizeof tree_nodes[0])

static const char *const scope_8200[] = {"unit-8200"};
static const char *const deny_storage_ai[] = {"storage.*", "ai.*"};
static const char *const except_security[] = {"security.*"};
static const char *const regions_all[] = {"*"};
static const cutoff_phase_spec phases_ro_then_suspend[] = {
    {T0, 0, CUTOFF_MODE_READ_ONLY},
    {T1, 0, CUTOFF_MODE_SUSPEND},
};

/* EA-1 of docs/design.md: unit-8200 loses storage and AI, read-only from T0 and
 * suspended from T0+30d, security services excepted. */
static cutoff_action_spec reference_action(void)
{
    cutoff_action_spec a = {
        .id = "EA-1",
        .case_id = "CASE-7",
        .scope = scope_8200,
        .n_scope = 1,
        .deny = deny_storage_ai,
        .n_deny = 2,
        .except = except_security,
        .n_except = 1,
        .regions = regions_all,
        .n_regions = 1,
        .phases = phases_ro_then_suspend,
        .n_phases = 2,
        .status = 451,
        .notice = {"Storage and AI services stopped", "Acceptable use, section 3",
                   "trust@example.net", "https://notices.example.net/EA-1"},
        .state = CUTOFF_STATE_ACTIVE,
        .version = 1,
        .activated_at = T0 - 3600,
    };
    return a;
}

static cutoff_tree *build_tree_from(const cutoff_catalog_spec *cat, const cutoff_node_spec *nodes,
                                    size_t n)
{
    cutoff_diag diag;
    cutoff_tree_builder *b = NULL;
    cutoff_tree *t = NULL;
    assert_int_equal(cutoff_tree_builder_new(cat, &b, &diag), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(cutoff_tree_builder_add(b, &nodes[i], &diag), 0);
    int rc = cutoff_tree_build(b, &t, &diag);
    if (rc != 0)
        fail_msg("cutoff_tree_build: %s", diag.message);
    cutoff_tree_builder_free(b);
    return t;
}

static cutoff_tree *build_tree(void)
{
    return build_tree_from(&catalog, tree_nodes, N_TREE_NODES);
}

static cutoff_snapshot *build_snapshot(cutoff_tree *t, const cutoff_action_spec *const *a, size_t n)
{
    cutoff_diag diag;
    cutoff_snapshot *s = NULL;
    int rc = cutoff_snapshot_build(t, a, n, &s, &diag);
    if (rc != 0)
        fail_msg("cutoff_snapshot_build: %s", diag.message);
    return s;
}

/* Asserts one decision: reason, deciding action (NULL for none) and, for a
 * denial by an action, the phase [since, until). */
#define expect(s, sub, act, region, t, reason_, by_, since_, until_)                               \
    expect_at(__LINE__, s, sub, act, region, t, reason_, by_, since_, until_)

static void expect_at(int line, const cutoff_snapshot *s, const char *sub, const char *act,
                      const char *region, int64_t t, cutoff_reason reason, const char *by,
                      int64_t since, int64_t until)
{
    cutoff_verdict v;
    memset(&v, 0x5a, sizeof v);
    cutoff_check(s, sub, act, region, t, &v);
    const char *got_by = v.by ? v.by->id : NULL;
    int ok = v.reason == reason &&
             ((by == NULL && got_by == NULL) || (by && got_by && strcmp(by, got_by) == 0));
    if (ok && by != NULL)
        ok = v.since == since && v.until == until;
    if (!ok)
        fail_msg("line %d: check(%s, %s, %s, %lld): got %s by %s [%lld, %lld), wanted %s by %s "
                 "[%lld, %lld)",
                 line, sub, act, region ? region : "(none)", (long long)t,
                 cutoff_reason_name(v.reason), got_by ? got_by : "-", (long long)v.since,
                 (long long)v.until, cutoff_reason_name(reason), by ? by : "-", (long long)since,
                 (long long)until);
}

#define NEVER CUTOFF_TIME_NEVER

static void test_reference_case(void **state)
{
    (void)state;
    cutoff_tree *t = build_tree();
    cutoff_action_spec ea1 = reference_action();
    const cutoff_action_spec *list[] = {&ea1};
    cutoff_snapshot *s = build_snapshot(t, list, 1);
    const char *nl = "eu-netherlands";

    assert_int_equal(cutoff_tree_count(t, CUTOFF_NODE_SUBSCRIPTION), 5);
    assert_int_equal(cutoff_tree_count(t, CUTOFF_NODE_UNIT), 4);
    assert_int_equal(cutoff_tree_count(t, CUTOFF_NODE_TENANT), 2);
    assert_int_equal(cutoff_tree_count(t, 0), N_TREE_NODES);

    /* Before T0 nothing bites. */
    expect(s, "sub-archive", "storage.write", nl, T0 - 1, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    /* Read-only from T0: writes and AI stop, reads and exports go on. */
    expect(s, "sub-archive", "storage.write", nl, T0, CUTOFF_REASON_READ_ONLY, "EA-1", T0, T1);
    expect(s, "sub-archive", "ai.transcribe", nl, T0, CUTOFF_REASON_READ_ONLY, "EA-1", T0, T1);
    expect(s, "sub-ai", "ai.translate", NULL, T0 + 5, CUTOFF_REASON_READ_ONLY, "EA-1", T0, T1);
    expect(s, "sub-archive", "storage.read", nl, T0, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    expect(s, "sub-archive", "storage.export", nl, T1 - 1, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    expect(s, "sub-archive", "storage.write", nl, T1 - 1, CUTOFF_REASON_READ_ONLY, "EA-1", T0, T1);
    /* Suspended from T1: reads stop too. */
    expect(s, "sub-archive", "storage.read", nl, T1, CUTOFF_REASON_SUSPENDED, "EA-1", T1, NEVER);
    expect(s, "sub-archive", "storage.export", "us-east", T1 + 400 * DAY, CUTOFF_REASON_SUSPENDED,
           "EA-1", T1, NEVER);
    /* Security services stay on for the unit. */
    expect(s, "sub-archive", "security.scan", nl, T1, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    expect(s, "sub-archive", "security.monitor", nl, T1, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    /* The rest of the ministry and other customers are untouched. */
    expect(s, "sub-c4i", "storage.write", nl, T1, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    expect(s, "sub-acme", "ai.transcribe", nl, T1, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    /* Fail closed on names that are not a subscription / an action. */
    expect(s, "unit-8200", "storage.read", nl, T0 - 1, CUTOFF_REASON_UNKNOWN_SUBSCRIPTION, NULL, 0,
           0);
    expect(s, "imod", "storage.read", nl, T0 - 1, CUTOFF_REASON_UNKNOWN_SUBSCRIPTION, NULL, 0, 0);
    expect(s, "nobody", "storage.read", nl, T0 - 1, CUTOFF_REASON_UNKNOWN_SUBSCRIPTION, NULL, 0, 0);
    expect(s, "sub-c4i", "storage.nuke", nl, T0 - 1, CUTOFF_REASON_UNKNOWN_ACTION, NULL, 0, 0);
    expect(s, "sub-c4i", "storage.*", nl, T0 - 1, CUTOFF_REASON_UNKNOWN_ACTION, NULL, 0, 0);
    /* Plans: sec-ops is entitled to security only; the check comes before
     * any action. */
    expect(s, "sub-sec", "storage.read", nl, T0 - 1, CUTOFF_REASON_NOT_ENTITLED, NULL, 0, 0);
    expect(s, "sub-sec", "security.scan", nl, T1, CUTOFF_REASON_ALLOW, NULL, 0, 0);

    /* The denial carries what the customer is shown. */
    cutoff_verdict v;
    cutoff_check(s, "sub-archive", "storage.write", nl, T1, &v);
    assert_non_null(v.by);
    assert_string_equal(v.by->case_id, "CASE-7");
    assert_int_equal(v.by->status, 451);
    assert_string_equal(v.by->notice.summary, "Storage and AI services stopped");
    assert_string_equal(v.by->notice.ref, "https://notices.example.net/EA-1");
    assert_int_equal(cutoff_snapshot_action_count(s), 1);
    assert_ptr_equal(cutoff_snapshot_action(s, 0), v.by);
    /* A deep copy: the caller's spec is not what the snapshot points at. */
    assert_ptr_not_equal(v.by, &ea1);
    assert_ptr_not_equal(v.by->id, ea1.id);

    /* Explain says why, down to the pattern and the scope node. */
    cutoff_explanation *e = NULL;
    assert_int_equal(cutoff_explain(s, "sub-archive", "storage.write", nl, T1, &e), 0);
    assert_int_equal(e->verdict.reason, CUTOFF_REASON_SUSPENDED);
    assert_ptr_equal(e->verdict.by, v.by);
    assert_string_equal(e->plan, "enterprise");
    assert_string_equal(e->plan_from, "imod");
    assert_true(e->entitled);
    assert_int_equal(e->n_path, 4);
    assert_string_equal(e->path[0], "sub-archive");
    assert_string_equal(e->path[1], "unit-8200-archive");
    assert_string_equal(e->path[2], "unit-8200");
    assert_string_equal(e->path[3], "imod");
    assert_int_equal(e->n_entries, 1);
    assert_string_equal(e->entries[0].scope_node, "unit-8200");
    assert_string_equal(e->entries[0].deny_pattern, "storage.*");
    assert_null(e->entries[0].except_pattern);
    assert_true(e->entries[0].region_match);
    assert_int_equal(e->entries[0].mode, CUTOFF_MODE_SUSPEND);
    assert_int_equal(e->entries[0].effect, CUTOFF_REASON_SUSPENDED);
    assert_true(e->entries[0].since == T1 && e->entries[0].until == NEVER);
    assert_true(e->entries[0].decides);
    cutoff_explanation_free(e);

    /* Excepted: listed, with the except pattern, deciding nothing. */
    assert_int_equal(cutoff_explain(s, "sub-ai", "security.scan", NULL, T1, &e), 0);
    assert_int_equal(e->verdict.reason, CUTOFF_REASON_ALLOW);
    assert_null(e->verdict.by);
    assert_int_equal(e->n_entries, 1);
    assert_null(e->entries[0].deny_pattern);
    assert_string_equal(e->entries[0].except_pattern, "security.*");
    assert_int_equal(e->entries[0].effect, CUTOFF_REASON_ALLOW);
    assert_false(e->entries[0].decides);
    cutoff_explanation_free(e);

    /* Outside the scope: no entries at all. */
    assert_int_equal(cutoff_explain(s, "sub-c4i", "storage.write", NULL, T1, &e), 0);
    assert_int_equal(e->verdict.reason, CUTOFF_REASON_ALLOW);
    assert_int_equal(e->n_entries, 0);
    cutoff_explanation_free(e);

    cutoff_snapshot_release(s);
    cutoff_tree_release(t);
}

/* ---- nested scopes and ties ----------------------------------------------- */

static void test_nested_scopes_and_ties(void **state)
{
    (void)state;
    cutoff_tree *t = build_tree();
    static const char *const scope_imod[] = {"imod"};
    static const char *const scope_nested[] = {"unit-8200-archive", "sub-archive"};
    static const char *const deny_all[] = {"*"};
    static const char *const deny_storage[] = {"storage.*"};
    static const char *const deny_write[] = {"storage.write"};
    static const cutoff_phase_spec ro[] = {{T0, 0, CUTOFF_MODE_READ_ONLY}};
    static const cutoff_phase_spec ro_then_suspend[] = {{T0, 0, CUTOFF_MODE_READ_ONLY},
                                                        {T0 + 10, 0, CUTOFF_MODE_SUSPEND}};
    /* Byte-wise: "EA-100" < "EA-20" < "EA-3", the reverse of numeric order. */
    cutoff_action_spec a20 = {.id = "EA-20",
                              .scope = scope_imod,
                              .n_scope = 1,
                              .deny = deny_all,
                              .n_deny = 1,
                              .phases = ro,
                              .n_phases = 1,
                              .state = CUTOFF_STATE_ACTIVE,
                              .status = 403};
    cutoff_action_spec a3 = {.id = "EA-3",
                             .scope = scope_nested,
                             .n_scope = 2,
                             .deny = deny_storage,
                             .n_deny = 1,
                             .phases = ro_then_suspend,
                             .n_phases = 2,
                             .state = CUTOFF_STATE_ACTIVE,
                             .status = 403};
    cutoff_action_spec a100 = {.id = "EA-100",
                               .scope = scope_8200,
                               .n_scope = 1,
                               .deny = deny_write,
                               .n_deny = 1,
                               .phases = ro,
                               .n_phases = 1,
                               .state = CUTOFF_STATE_ACTIVE,
                               .status = 403};
    /* Lifted and draft actions never bite, whatever they say; an expired
     * one is in force, and its phases before "off" decide their times. */
    static const cutoff_phase_spec ended[] = {{T0 - 100, 0, CUTOFF_MODE_SUSPEND},
                                              {T0 - 50, 0, CUTOFF_MODE_OFF}};
    cutoff_action_spec lifted = a3, draft = a3, expired = a3;
    lifted.id = "A-lifted";
    lifted.state = CUTOFF_STATE_LIFTED;
    draft.id = "A-draft";
    draft.state = CUTOFF_STATE_DRAFT;
    expired.id = "A-expired";
    expired.state = CUTOFF_STATE_EXPIRED;
    expired.phases = ended;
    const cutoff_action_spec *list[] = {&a3, &lifted, &a20, &draft, &a100, &expired};
    cutoff_snapshot *s = build_snapshot(t, list, 6);

    assert_int_equal(cutoff_snapshot_action_count(s), 4);
    assert_string_equal(cutoff_snapshot_action(s, 0)->id, "A-expired");
    assert_string_equal(cutoff_snapshot_action(s, 1)->id, "EA-100");
    assert_string_equal(cutoff_snapshot_action(s, 2)->id, "EA-20");
    assert_string_equal(cutoff_snapshot_action(s, 3)->id, "EA-3");
    expect(s, "sub-archive", "storage.read", NULL, T0 - 51, CUTOFF_REASON_SUSPENDED, "A-expired",
           T0 - 100, T0 - 50);
    expect(s, "sub-archive", "storage.read", NULL, T0 - 50, CUTOFF_REASON_ALLOW, NULL, 0, 0);

    /* Three read-only denials: the lowest id decides. */
    expect(s, "sub-archive", "storage.write", NULL, T0, CUTOFF_REASON_READ_ONLY, "EA-100", T0,
           NEVER);
    /* EA-100 does not cover ai; EA-20 ("*") and EA-3 (storage only) ... */
    expect(s, "sub-archive", "ai.transcribe", NULL, T0, CUTOFF_REASON_READ_ONLY, "EA-20", T0,
           NEVER);
    /* ... and from T0+10 EA-3 suspends, which beats any read-only. */
    expect(s, "sub-archive", "storage.write", NULL, T0 + 9, CUTOFF_REASON_READ_ONLY, "EA-100", T0,
           NEVER);
    expect(s, "sub-archive", "storage.write", NULL, T0 + 10, CUTOFF_REASON_SUSPENDED, "EA-3",
           T0 + 10, NEVER);
    expect(s, "sub-archive", "storage.read", NULL, T0 + 10, CUTOFF_REASON_SUSPENDED, "EA-3",
           T0 + 10, NEVER);
    expect(s, "sub-archive", "storage.read", NULL, T0 + 9, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    /* sub-ai is under unit-8200 but not under EA-3's scope. */
    expect(s, "sub-ai", "storage.write", NULL, T0 + 10, CUTOFF_REASON_READ_ONLY, "EA-100", T0,
           NEVER);
    expect(s, "sub-ai", "storage.read", NULL, T0 + 10, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    /* Elsewhere under imod only EA-20. */
    expect(s, "sub-c4i", "storage.write", NULL, T0, CUTOFF_REASON_READ_ONLY, "EA-20", T0, NEVER);
    /* Entitlement is decided before any action: sub-sec is not entitled
     * to storage at all. */
    expect(s, "sub-sec", "storage.write", NULL, T0, CUTOFF_REASON_NOT_ENTITLED, NULL, 0, 0);
    expect(s, "sub-sec", "security.monitor", NULL, T0, CUTOFF_REASON_READ_ONLY, "EA-20", T0, NEVER);
    expect(s, "sub-acme", "storage.write", NULL, T0 + 10, CUTOFF_REASON_ALLOW, NULL, 0, 0);

    cutoff_explanation *e = NULL;
    assert_int_equal(cutoff_explain(s, "sub-archive", "storage.write", NULL, T0 + 10, &e), 0);
    /* The expired action is listed, off since T0 - 50, without effect. */
    assert_int_equal(e->n_entries, 4);
    int decided = 0;
    for (size_t i = 0; i < e->n_entries; i++) {
        const cutoff_explain_entry *en = &e->entries[i];
        if (strcmp(en->action->id, "A-expired") == 0) {
            assert_int_equal(en->mode, CUTOFF_MODE_OFF);
            assert_int_equal(en->effect, CUTOFF_REASON_ALLOW);
            assert_false(en->decides);
        } else if (strcmp(en->action->id, "EA-3") == 0) {
            assert_true(strcmp(en->scope_node, "unit-8200-archive") == 0 ||
                        strcmp(en->scope_node, "sub-archive") == 0);
            assert_int_equal(en->effect, CUTOFF_REASON_SUSPENDED);
            assert_true(en->decides);
            decided++;
        } else {
            assert_int_equal(en->effect, CUTOFF_REASON_READ_ONLY);
            assert_false(en->decides);
        }
    }
    assert_int_equal(decided, 1);
    cutoff_explanation_free(e);

    cutoff_snapshot_release(s);
    cutoff_tree_release(t);
}

/* ---- regions ---------------------------------------------------------------- */

static void test_region_prefixes(void **state)
{
    (void)state;
    cutoff_tree *t = build_tree();
    static const char *const scope_imod[] = {"imod"};
    static const char *const scope_acme[] = {"acme"};
    static const char *const deny_all[] = {"*"};
    static const char *const eu[] = {"eu-*"};
    static const char *const us_and_ireland[] = {"us-*", "eu-ireland"};
    static const cutoff_phase_spec suspend[] = {{T0, 0, CUTOFF_MODE_SUSPEND}};
    static const cutoff_phase_spec ro[] = {{T0, 0, CUTOFF_MODE_READ_ONLY}};
    cutoff_action_spec eu_only = {.id = "EA-5",
                                  .scope = scope_imod,
                                  .n_scope = 1,
                                  .deny = deny_all,
                                  .n_deny = 1,
                                  .regions = eu,
                                  .n_regions = 1,
                                  .phases = suspend,
                                  .n_phases = 1,
                                  .state = CUTOFF_STATE_ACTIVE};
    cutoff_action_spec us_ie = {.id = "EA-6",
                                .scope = scope_imod,
                                .n_scope = 1,
                                .deny = deny_all,
                                .n_deny = 1,
                                .regions = us_and_ireland,
                                .n_regions = 2,
                                .phases = ro,
                                .n_phases = 1,
                                .state = CUTOFF_STATE_ACTIVE};
    cutoff_action_spec star = {.id = "EA-7",
                               .scope = scope_acme,
                               .n_scope = 1,
                               .deny = deny_all,
                               .n_deny = 1,
                               .regions = regions_all,
                               .n_regions = 1,
                               .phases = ro,
                               .n_phases = 1,
                               .state = CUTOFF_STATE_ACTIVE};
    cutoff_action_spec absent = star;
    absent.id = "EA-8";
    absent.regions = NULL;
    absent.n_regions = 0;
    absent.phases = suspend;
    const cutoff_action_spec *list[] = {&eu_only, &us_ie, &star, &absent};
    cutoff_snapshot *s = build_snapshot(t, list, 4);

    expect(s, "sub-c4i", "storage.write", "eu-netherlands", T0, CUTOFF_REASON_SUSPENDED, "EA-5", T0,
           NEVER);
    /* eu-ireland matches both; suspend beats read-only. */
    expect(s, "sub-c4i", "storage.write", "eu-ireland", T0, CUTOFF_REASON_SUSPENDED, "EA-5", T0,
           NEVER);
    expect(s, "sub-c4i", "storage.write", "us-east", T0, CUTOFF_REASON_READ_ONLY, "EA-6", T0,
           NEVER);
    expect(s, "sub-c4i", "storage.read", "us-east", T0, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    /* A request that names no region matches only "*" (and absent). */
    expect(s, "sub-c4i", "storage.write", NULL, T0, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    expect(s, "sub-acme", "storage.write", NULL, T0, CUTOFF_REASON_SUSPENDED, "EA-8", T0, NEVER);
    expect(s, "sub-acme", "storage.read", "us-east", T0, CUTOFF_REASON_SUSPENDED, "EA-8", T0,
           NEVER);

    /* The same through handles. */
    cutoff_sub_handle sub;
    cutoff_act_handle act;
    cutoff_region_handle reg;
    cutoff_verdict v;
    assert_int_equal(cutoff_resolve_subscription(t, "sub-c4i", &sub), 0);
    assert_int_equal(cutoff_resolve_action(t, "storage.write", &act), 0);
    assert_int_equal(cutoff_resolve_region(t, "us-east", &reg), 0);
    cutoff_check_handles(s, sub, act, reg, T0, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_READ_ONLY);
    assert_string_equal(v.by->id, "EA-6");
    assert_int_equal(cutoff_resolve_region(t, NULL, &reg), 0);
    assert_int_equal(reg.index, CUTOFF_REGION_NONE.index);
    cutoff_check_handles(s, sub, act, reg, T0, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_ALLOW);
    assert_int_equal(cutoff_resolve_region(t, "eu-*", &reg), CUTOFF_ENOTFOUND);
    assert_int_equal(cutoff_resolve_region(t, "mars", &reg), CUTOFF_ENOTFOUND);
    assert_int_equal(cutoff_resolve_subscription(t, "unit-8200", &sub), CUTOFF_ENOTFOUND);
    assert_int_equal(cutoff_resolve_action(t, "storage.*", &act), CUTOFF_ENOTFOUND);

    cutoff_snapshot_release(s);
    cutoff_tree_release(t);
}

/* ---- phase boundaries ------------------------------------------------------- */

static void test_phase_boundaries(void **state)
{
    (void)state;
    cutoff_tree *t = build_tree();
    static const char *const scope_sub[] = {"sub-acme"};
    static const char *const deny_all[] = {"*"};
    /* Activated at T0-50: suspend from T0 (absolute), off from +150s after
     * activation (= T0+100), read-only from T0+200 (absolute). */
    static const cutoff_phase_spec phases[] = {{T0, 0, CUTOFF_MODE_SUSPEND},
                                               {150, 1, CUTOFF_MODE_OFF},
                                               {T0 + 200, 0, CUTOFF_MODE_READ_ONLY}};
    cutoff_action_spec a = {.id = "EA-1",
                            .scope = scope_sub,
                            .n_scope = 1,
                            .deny = deny_all,
                            .n_deny = 1,
                            .phases = phases,
                            .n_phases = 3,
                            .state = CUTOFF_STATE_ACTIVE,
                            .activated_at = T0 - 50};
    assert_true(cutoff_phase_start(&a, 1, 0) == T0 + 100);
    const cutoff_action_spec *list[] = {&a};
    cutoff_snapshot *s = build_snapshot(t, list, 1);

    expect(s, "sub-acme", "storage.read", NULL, INT64_MIN, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    expect(s, "sub-acme", "storage.read", NULL, T0 - 1, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    expect(s, "sub-acme", "storage.read", NULL, T0, CUTOFF_REASON_SUSPENDED, "EA-1", T0, T0 + 100);
    expect(s, "sub-acme", "storage.read", NULL, T0 + 99, CUTOFF_REASON_SUSPENDED, "EA-1", T0,
           T0 + 100);
    expect(s, "sub-acme", "storage.read", NULL, T0 + 100, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    expect(s, "sub-acme", "storage.write", NULL, T0 + 199, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    expect(s, "sub-acme", "storage.write", NULL, T0 + 200, CUTOFF_REASON_READ_ONLY, "EA-1",
           T0 + 200, NEVER);
    expect(s, "sub-acme", "storage.read", NULL, T0 + 200, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    expect(s, "sub-acme", "storage.write", NULL, INT64_MAX, CUTOFF_REASON_READ_ONLY, "EA-1",
           T0 + 200, NEVER);
    cutoff_snapshot_release(s);

    /* The same action activated later: relative phases move with it. */
    a.activated_at = T0;
    s = build_snapshot(t, list, 1);
    expect(s, "sub-acme", "storage.read", NULL, T0 + 149, CUTOFF_REASON_SUSPENDED, "EA-1", T0,
           T0 + 150);
    expect(s, "sub-acme", "storage.read", NULL, T0 + 150, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    cutoff_snapshot_release(s);
    cutoff_tree_release(t);
}

/* ---- tree builder errors ------------------------------------------------------ */

/* Adds nodes[0..n) and builds. The header lets add refuse what it can
 * already see (ids, kinds) and leaves the rest to build; either way the
 * first failure is returned with diag filled and nothing is built. */
static int try_build(const cutoff_node_spec *nodes, size_t n, cutoff_diag *diag)
{
    cutoff_tree_builder *b = NULL;
    cutoff_tree *t = NULL;
    assert_int_equal(cutoff_tree_builder_new(&catalog, &b, diag), 0);
    memset(diag, 0, sizeof *diag);
    diag->item = 777;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = cutoff_tree_builder_add(b, &nodes[i], diag);
    if (rc == 0) {
        rc = cutoff_tree_build(b, &t, diag);
        assert_true(rc == 0 ? t != NULL : t == NULL);
    }
    cutoff_tree_release(t);
    cutoff_tree_builder_free(b);
    return rc;
}

static void test_tree_builder_errors(void **state)
{
    (void)state;
    cutoff_diag diag;

    /* Unknown parent: the node that names it is at fault. */
    const cutoff_node_spec orphan[] = {
        {"t", CUTOFF_NODE_TENANT, NULL, NULL, NULL},
        {"u", CUTOFF_NODE_UNIT, "t", NULL, NULL},
        {"s", CUTOFF_NODE_SUBSCRIPTION, "ghost", NULL, NULL},
    };
    assert_true(try_build(orphan, 3, &diag) < 0);
    assert_int_equal(diag.item, 2);
    assert_non_null(strstr(diag.message, "ghost"));

    /* A cycle of units: one of them is named. */
    const cutoff_node_spec cycle[] = {
        {"t", CUTOFF_NODE_TENANT, NULL, NULL, NULL},      {"a", CUTOFF_NODE_UNIT, "b", NULL, NULL},
        {"b", CUTOFF_NODE_UNIT, "c", NULL, NULL},         {"c", CUTOFF_NODE_UNIT, "a", NULL, NULL},
        {"s", CUTOFF_NODE_SUBSCRIPTION, "t", NULL, NULL},
    };
    assert_int_equal(try_build(cycle, 5, &diag), CUTOFF_ECYCLE);
    assert_true(diag.item >= 1 && diag.item <= 3);
    assert_true(diag.message[0] != '\0');
    const cutoff_node_spec self[] = {{"t", CUTOFF_NODE_TENANT, NULL, NULL, NULL},
                                     {"a", CUTOFF_NODE_UNIT, "a", NULL, NULL}};
    assert_int_equal(try_build(self, 2, &diag), CUTOFF_ECYCLE);
    assert_int_equal(diag.item, 1);

    /* Kinds of parents. */
    const cutoff_node_spec sub_under_sub[] = {
        {"t", CUTOFF_NODE_TENANT, NULL, NULL, NULL},
        {"s1", CUTOFF_NODE_SUBSCRIPTION, "t", NULL, NULL},
        {"s2", CUTOFF_NODE_SUBSCRIPTION, "s1", NULL, NULL},
    };
    assert_true(try_build(sub_under_sub, 3, &diag) < 0);
    assert_int_equal(diag.item, 2);
    const cutoff_node_spec unit_under_sub[] = {
        {"t", CUTOFF_NODE_TENANT, NULL, NULL, NULL},
        {"s1", CUTOFF_NODE_SUBSCRIPTION, "t", NULL, NULL},
        {"u", CUTOFF_NODE_UNIT, "s1", NULL, NULL},
    };
    assert_true(try_build(unit_under_sub, 3, &diag) < 0);
    assert_int_equal(diag.item, 2);
    const cutoff_node_spec tenant_with_parent[] = {
        {"t", CUTOFF_NODE_TENANT, NULL, NULL, NULL},
        {"t2", CUTOFF_NODE_TENANT, "t", NULL, NULL},
    };
    assert_true(try_build(tenant_with_parent, 2, &diag) < 0);
    assert_int_equal(diag.item, 1);
    const cutoff_node_spec parentless_unit[] = {
        {"t", CUTOFF_NODE_TENANT, NULL, NULL, NULL},
        {"u", CUTOFF_NODE_UNIT, NULL, NULL, NULL},
    };
    assert_true(try_build(parentless_unit, 2, &diag) < 0);
    assert_int_equal(diag.item, 1);
    const cutoff_node_spec parentless_sub[] = {
        {"t", CUTOFF_NODE_TENANT, NULL, NULL, NULL},
        {"u", CUTOFF_NODE_UNIT, "t", NULL, NULL},
        {"s", CUTOFF_NODE_SUBSCRIPTION, NULL, NULL, NULL},
    };
    assert_true(try_build(parentless_sub, 3, &diag) < 0);
    assert_int_equal(diag.item, 2);

    /* Unknown plan. */
    const cutoff_node_spec gold[] = {
        {"t", CUTOFF_NODE_TENANT, NULL, NULL, "enterprise"},
        {"s", CUTOFF_NODE_SUBSCRIPTION, "t", NULL, "gold"},
    };
    assert_true(try_build(gold, 2, &diag) < 0);
    assert_int_equal(diag.item, 1);
    assert_non_null(strstr(diag.message, "gold"));

    /* add: bad ids and kinds are refused at once. diag->item is the index
     * the node would have in insertion order: replacements count, refused
     * adds do not (they insert nothing). The builder stays usable. */
    cutoff_tree_builder *b = NULL;
    assert_int_equal(cutoff_tree_builder_new(&catalog, &b, &diag), 0);
    const cutoff_node_spec t_node = {"t", CUTOFF_NODE_TENANT, NULL, NULL, NULL};
    const cutoff_node_spec s_node = {"s", CUTOFF_NODE_SUBSCRIPTION, "t", NULL, NULL};
    assert_int_equal(cutoff_tree_builder_add(b, &t_node, &diag), 0); /* item 0 */
    assert_int_equal(cutoff_tree_builder_add(b, &s_node, &diag), 0); /* item 1 */
    assert_int_equal(cutoff_tree_builder_add(b, &s_node, &diag), 0); /* item 2: replaces */
    assert_int_equal(cutoff_tree_builder_count(b), 2);
    char long_id[CUTOFF_ID_MAX + 2];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[CUTOFF_ID_MAX + 1] = '\0'; /* 129 bytes */
    const char *bad_ids[] = {"bad id", "", "a/b", "é", long_id};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        cutoff_node_spec bad = {bad_ids[i], CUTOFF_NODE_SUBSCRIPTION, "t", NULL, NULL};
        memset(&diag, 0, sizeof diag);
        assert_true(cutoff_tree_builder_add(b, &bad, &diag) < 0);
        assert_int_equal(diag.item, 3);
        assert_true(diag.message[0] != '\0');
    }
    cutoff_node_spec null_id = {NULL, CUTOFF_NODE_SUBSCRIPTION, "t", NULL, NULL};
    assert_true(cutoff_tree_builder_add(b, &null_id, &diag) < 0);
    cutoff_node_spec bad_kind = {"k", (cutoff_node_kind)9, "t", NULL, NULL};
    assert_true(cutoff_tree_builder_add(b, &bad_kind, &diag) < 0);
    assert_int_equal(diag.item, 3);
    long_id[CUTOFF_ID_MAX] = '\0'; /* 128 bytes: allowed */
    cutoff_node_spec longest = {long_id, CUTOFF_NODE_SUBSCRIPTION, "t", NULL, NULL};
    assert_int_equal(cutoff_tree_builder_add(b, &longest, &diag), 0); /* item 3 */
    assert_int_equal(cutoff_tree_builder_count(b), 3);
    memset(&diag, 0, sizeof diag);
    assert_true(cutoff_tree_builder_add(b, &bad_kind, &diag) < 0);
    assert_int_equal(diag.item, 4);
    cutoff_tree *t = NULL;
    assert_int_equal(cutoff_tree_build(b, &t, &diag), 0);
    assert_int_equal(cutoff_tree_count(t, 0), 3);
    cutoff_tree_release(t);

    /* A failed build leaves the builder usable: add the missing parent. */
    const cutoff_node_spec late = {"x", CUTOFF_NODE_SUBSCRIPTION, "later", NULL, NULL};
    assert_int_equal(cutoff_tree_builder_add(b, &late, &diag), 0);
    t = NULL;
    assert_true(cutoff_tree_build(b, &t, &diag) < 0);
    assert_null(t);
    const cutoff_node_spec later = {"later", CUTOFF_NODE_UNIT, "t", NULL, NULL};
    assert_int_equal(cutoff_tree_builder_add(b, &later, &diag), 0);
    assert_int_equal(cutoff_tree_build(b, &t, &diag), 0);
    assert_int_equal(cutoff_tree_count(t, CUTOFF_NODE_SUBSCRIPTION), 3);
    cutoff_tree_release(t);
    cutoff_tree_builder_free(b);

    /* The catalog is validated too. */
    static const cutoff_catalog_action dup_actions[] = {{"storage.read", CUTOFF_CLASS_READ},
                                                        {"storage.read", CUTOFF_CLASS_WRITE}};
    cutoff_catalog_spec dup = {dup_actions, 2, NULL, 0, NULL, 0};
    b = NULL;
    memset(&diag, 0, sizeof diag);
    assert_true(cutoff_tree_builder_new(&dup, &b, &diag) < 0);
    assert_null(b);
    assert_true(diag.message[0] != '\0');
    static const cutoff_catalog_action no_dot[] = {{"storage", CUTOFF_CLASS_READ}};
    cutoff_catalog_spec bad_name = {no_dot, 1, NULL, 0, NULL, 0};
    assert_true(cutoff_tree_builder_new(&bad_name, &b, &diag) < 0);
    static const char *const bad_pattern[] = {"storage.re*"};
    static const cutoff_plan_spec bad_plans[] = {{"p", bad_pattern, 1}};
    cutoff_catalog_spec bad_plan = {catalog_actions, 2, NULL, 0, bad_plans, 1};
    assert_true(cutoff_tree_builder_new(&bad_plan, &b, &diag) < 0);
    static const char *const dup_regions[] = {"eu-a", "eu-a"};
    cutoff_catalog_spec bad_regions = {catalog_actions, 2, dup_regions, 2, NULL, 0};
    assert_true(cutoff_tree_builder_new(&bad_regions, &b, &diag) < 0);
    assert_null(b);
}

/* Re-adding a node replaces it: a move changes decisions like any change. */
static void test_tree_update_moves_node(void **state)
{
    (void)state;
    cutoff_node_spec nodes[N_TREE_NODES + 1];
    memcpy(nodes, tree_nodes, sizeof tree_nodes);
    /* sub-c4i moves under unit-8200-archive, and gets the security-only plan. */
    nodes[N_TREE_NODES] = (cutoff_node_spec){"sub-c4i", CUTOFF_NODE_SUBSCRIPTION,
                                             "unit-8200-archive", NULL, "security-only"};
    cutoff_tree *t = build_tree_from(&catalog, nodes, N_TREE_NODES + 1);
    assert_int_equal(cutoff_tree_count(t, 0), N_TREE_NODES);
    cutoff_action_spec ea1 = reference_action();
    const cutoff_action_spec *list[] = {&ea1};
    cutoff_snapshot *s = build_snapshot(t, list, 1);
    expect(s, "sub-c4i", "security.monitor", NULL, T0, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    expect(s, "sub-c4i", "storage.read", NULL, T1, CUTOFF_REASON_NOT_ENTITLED, NULL, 0, 0);
    cutoff_explanation *e = NULL;
    assert_int_equal(cutoff_explain(s, "sub-c4i", "ai.transcribe", NULL, T1, &e), 0);
    assert_int_equal(e->n_path, 4);
    assert_string_equal(e->path[1], "unit-8200-archive");
    assert_string_equal(e->plan, "security-only");
    assert_string_equal(e->plan_from, "sub-c4i");
    assert_int_equal(e->n_entries, 1); /* EA-1 covers it now */
    cutoff_explanation_free(e);
    cutoff_snapshot_release(s);
    cutoff_tree_release(t);

    /* A move back without the plan: entitled by imod's plan, and suspended. */
    nodes[N_TREE_NODES].plan = NULL;
    t = build_tree_from(&catalog, nodes, N_TREE_NODES + 1);
    s = build_snapshot(t, list, 1);
    expect(s, "sub-c4i", "storage.read", NULL, T1, CUTOFF_REASON_SUSPENDED, "EA-1", T1, NEVER);
    cutoff_snapshot_release(s);
    cutoff_tree_release(t);
}

/* ---- snapshot build errors --------------------------------------------------- */

static void test_snapshot_errors(void **state)
{
    (void)state;
    cutoff_tree *t = build_tree();
    cutoff_diag diag;
    cutoff_snapshot *s = NULL;
    cutoff_action_spec good = reference_action();

    static const char *const ghost_scope[] = {"unit-8200", "ghost"};
    cutoff_action_spec ghost = reference_action();
    ghost.id = "EA-2";
    ghost.scope = ghost_scope;
    ghost.n_scope = 2;
    const cutoff_action_spec *list[] = {&good, &ghost};
    memset(&diag, 0, sizeof diag);
    assert_true(cutoff_snapshot_build(t, list, 2, &s, &diag) < 0);
    assert_null(s);
    assert_non_null(strstr(diag.message, "ghost"));

    /* A draft is ignored, whatever it says. */
    ghost.state = CUTOFF_STATE_DRAFT;
    assert_int_equal(cutoff_snapshot_build(t, list, 2, &s, &diag), 0);
    assert_int_equal(cutoff_snapshot_action_count(s), 1);
    cutoff_snapshot_release(s);
    s = NULL;

    static const char *const bad_deny[] = {"storage"};
    cutoff_action_spec bad = reference_action();
    bad.deny = bad_deny;
    bad.n_deny = 1;
    const cutoff_action_spec *one[] = {&bad};
    memset(&diag, 0, sizeof diag);
    assert_true(cutoff_snapshot_build(t, one, 1, &s, &diag) < 0);
    assert_null(s);
    assert_non_null(strstr(diag.message, "storage"));

    static const char *const bad_except[] = {"security.sc*n"};
    bad = reference_action();
    bad.except = bad_except;
    assert_true(cutoff_snapshot_build(t, one, 1, &s, &diag) < 0);
    assert_null(s);

    /* Scope nodes may be any kind, including the subscription itself. */
    static const char *const sub_scope[] = {"sub-acme"};
    bad = reference_action();
    bad.scope = sub_scope;
    assert_int_equal(cutoff_snapshot_build(t, one, 1, &s, &diag), 0);
    expect(s, "sub-acme", "storage.write", NULL, T0, CUTOFF_REASON_READ_ONLY, "EA-1", T0, T1);
    cutoff_snapshot_release(s);

    /* No actions at all: everything entitled is allowed. */
    assert_int_equal(cutoff_snapshot_build(t, NULL, 0, &s, &diag), 0);
    expect(s, "sub-archive", "storage.write", NULL, T1, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    cutoff_snapshot_release(s);
    cutoff_tree_release(t);
}

/* ---- handles across snapshots ----------------------------------------------- */

static void test_handles_across_snapshots(void **state)
{
    (void)state;
    cutoff_tree *t = build_tree();
    cutoff_action_spec ea1 = reference_action();
    static const char *const scope_imod[] = {"imod"};
    static const char *const deny_all[] = {"*"};
    static const cutoff_phase_spec suspend[] = {{T0 + 5, 0, CUTOFF_MODE_SUSPEND}};
    cutoff_action_spec wide = {.id = "EA-0",
                               .scope = scope_imod,
                               .n_scope = 1,
                               .deny = deny_all,
                               .n_deny = 1,
                               .phases = suspend,
                               .n_phases = 1,
                               .state = CUTOFF_STATE_ACTIVE};
    const cutoff_action_spec *l1[] = {&ea1};
    const cutoff_action_spec *l2[] = {&ea1, &wide};
    cutoff_snapshot *snaps[3] = {build_snapshot(t, NULL, 0), build_snapshot(t, l1, 1),
                                 build_snapshot(t, l2, 2)};
    const char *subs[] = {"sub-archive", "sub-ai", "sub-c4i", "sub-sec", "sub-acme"};
    const char *regions[] = {NULL, "eu-netherlands", "us-east"};
    const int64_t times[] = {T0 - 1, T0, T0 + 5, T1};
    size_t compared = 0;
    for (size_t si = 0; si < 5; si++) {
        cutoff_sub_handle sh;
        assert_int_equal(cutoff_resolve_subscription(t, subs[si], &sh), 0);
        for (size_t ai = 0; ai < catalog.n_actions; ai++) {
            cutoff_act_handle ah;
            assert_int_equal(cutoff_resolve_action(t, catalog.actions[ai].name, &ah), 0);
            for (size_t ri = 0; ri < 3; ri++) {
                cutoff_region_handle rh;
                assert_int_equal(cutoff_resolve_region(t, regions[ri], &rh), 0);
                for (size_t k = 0; k < 3; k++)
                    for (size_t ti = 0; ti < 4; ti++) {
                        cutoff_verdict by_name, by_handle;
                        cutoff_check(snaps[k], subs[si], catalog.actions[ai].name, regions[ri],
                                     times[ti], &by_name);
                        cutoff_check_handles(snaps[k], sh, ah, rh, times[ti], &by_handle);
                        assert_int_equal(by_name.reason, by_handle.reason);
                        assert_ptr_equal(by_name.by, by_handle.by);
                        if (by_name.by)
                            assert_true(by_name.since == by_handle.since &&
                                        by_name.until == by_handle.until);
                        compared++;
                    }
            }
        }
    }
    assert_int_equal(compared, 5 * catalog.n_actions * 3 * 3 * 4);
    /* The handles really see each snapshot's own actions. */
    expect(snaps[0], "sub-c4i", "storage.read", NULL, T1, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    expect(snaps[1], "sub-c4i", "storage.read", NULL, T1, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    expect(snaps[2], "sub-c4i", "storage.read", NULL, T1, CUTOFF_REASON_SUSPENDED, "EA-0", T0 + 5,
           NEVER);
    for (int k = 0; k < 3; k++)
        cutoff_snapshot_release(snaps[k]);
    cutoff_tree_release(t);
}

/* ---- publication under threads ----------------------------------------------- */

#define PUBLICATIONS 400
#define READERS 2

/* Snapshot k holds one action "EA-<k>" over imod: suspend when k is odd,
 * read-only when even, with k in its notice too; so every reader result
 * names the snapshot it came from and can be checked against it. */
typedef struct pub_state {
    cutoff_engine *engine;
    cutoff_tree *tree;
    atomic_int done;
    atomic_long checks;
    atomic_int errors;
    char first_error[256];
} pub_state;

static cutoff_snapshot *numbered_snapshot(cutoff_tree *t, int k)
{
    static const char *const scope_imod[] = {"imod"};
    static const char *const deny_storage[] = {"storage.*"};
    char id[32], summary[64];
    snprintf(id, sizeof id, "EA-%d", k);
    snprintf(summary, sizeof summary, "snapshot %d", k);
    cutoff_phase_spec phase = {T0, 0, k % 2 ? CUTOFF_MODE_SUSPEND : CUTOFF_MODE_READ_ONLY};
    cutoff_action_spec a = {.id = id,
                            .scope = scope_imod,
                            .n_scope = 1,
                            .deny = deny_storage,
                            .n_deny = 1,
                            .phases = &phase,
                            .n_phases = 1,
                            .notice = {.summary = summary},
                            .state = CUTOFF_STATE_ACTIVE,
                            .version = k};
    const cutoff_action_spec *list[] = {&a};
    cutoff_snapshot *s = NULL;
    cutoff_diag diag;
    if (cutoff_snapshot_build(t, list, 1, &s, &diag) != 0)
        return NULL;
    return s;
}

static void reader_error(pub_state *ps, const char *fmt, int a, int b)
{
    if (atomic_fetch_add(&ps->errors, 1) == 0)
        snprintf(ps->first_error, sizeof ps->first_error, fmt, a, b);
}

static void *reader_main(void *arg)
{
    pub_state *ps = arg;
    cutoff_reader *r = NULL;
    if (cutoff_reader_new(ps->engine, &r) != 0) {
        reader_error(ps, "cutoff_reader_new failed (%d%d)", 0, 0);
        return NULL;
    }
    int last = -1;
    long n = 0;
    for (;;) {
        int finished = atomic_load(&ps->done);
        const cutoff_snapshot *s = cutoff_reader_enter(r);
        if (s != NULL) {
            cutoff_verdict w, rd;
            cutoff_check(s, "sub-c4i", "storage.write", "eu-ireland", T0, &w);
            cutoff_check(s, "sub-c4i", "storage.read", NULL, T0, &rd);
            int k = w.by ? atoi(w.by->id + 3) : -1;
            char want[64];
            snprintf(want, sizeof want, "snapshot %d", k);
            if (w.by == NULL || w.by->version != k || strcmp(w.by->notice.summary, want) != 0)
                reader_error(ps, "write verdict names no consistent snapshot (%d, %d)", k, 0);
            else if (k < last)
                reader_error(ps, "went back from snapshot %d to %d", last, k);
            else if (w.reason != (k % 2 ? CUTOFF_REASON_SUSPENDED : CUTOFF_REASON_READ_ONLY) ||
                     rd.reason != (k % 2 ? CUTOFF_REASON_SUSPENDED : CUTOFF_REASON_ALLOW) ||
                     (rd.by != NULL && rd.by != w.by) || cutoff_snapshot_action_count(s) != 1 ||
                     cutoff_snapshot_action(s, 0) != w.by)
                reader_error(ps, "snapshot %d gave inconsistent verdicts (%d)", k, (int)rd.reason);
            last = k;
            n++;
        }
        cutoff_reader_exit(r);
        if (finished)
            break;
    }
    atomic_fetch_add(&ps->checks, n);
    cutoff_reader_free(r);
    return NULL;
}

static void test_publication_threads(void **state)
{
    (void)state;
    long live_before = co__alloc_live();
    pub_state ps;
    memset(&ps, 0, sizeof ps);
    ps.tree = build_tree();
    assert_int_equal(cutoff_engine_new(&ps.engine), 0);
    assert_null(cutoff_engine_acquire(ps.engine));
    assert_int_equal(cutoff_engine_version(ps.engine), 0);
    cutoff_engine_publish(ps.engine, numbered_snapshot(ps.tree, 0));

    pthread_t readers[READERS];
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&readers[i], NULL, reader_main, &ps), 0);
    for (int k = 1; k < PUBLICATIONS; k++) {
        cutoff_snapshot *s = numbered_snapshot(ps.tree, k);
        assert_non_null(s);
        cutoff_engine_publish(ps.engine, s);
        if (k % 50 == 0) {
            /* A writer's own reference to the current snapshot. */
            cutoff_snapshot *cur = cutoff_engine_acquire(ps.engine);
            assert_non_null(cur);
            char want[64];
            snprintf(want, sizeof want, "snapshot %d", k);
            assert_string_equal(cutoff_snapshot_action(cur, 0)->notice.summary, want);
            assert_int_equal(cutoff_snapshot_action(cur, 0)->version, k);
            cutoff_snapshot_release(cur);
            struct timespec pause = {0, 200000};
            nanosleep(&pause, NULL);
        }
    }
    atomic_store(&ps.done, 1);
    for (int i = 0; i < READERS; i++)
        pthread_join(readers[i], NULL);
    if (atomic_load(&ps.errors) != 0)
        fail_msg("%d reader errors, first: %s", atomic_load(&ps.errors), ps.first_error);
    assert_true(atomic_load(&ps.checks) >= READERS);
    assert_int_equal(cutoff_engine_version(ps.engine), PUBLICATIONS);
    /* With no reader inside, everything retired can go. */
    assert_int_equal(cutoff_engine_reclaim(ps.engine), 0);
    cutoff_engine_free(ps.engine);
    cutoff_tree_release(ps.tree);
    assert_int_equal(co__alloc_live(), live_before);
    printf("# %d publications, %ld checks by %d readers\n", PUBLICATIONS, atomic_load(&ps.checks),
           READERS);
}

/* ---- out of memory ------------------------------------------------------------- */

/* Builds the reference tree with the n-th allocation failing. */
static int build_tree_failing(long n, cutoff_tree **out)
{
    cutoff_diag diag;
    cutoff_tree_builder *b = NULL;
    co__alloc_fail_after(n);
    int rc = cutoff_tree_builder_new(&catalog, &b, &diag);
    for (size_t i = 0; rc == 0 && i < N_TREE_NODES; i++)
        rc = cutoff_tree_builder_add(b, &tree_nodes[i], &diag);
    if (rc == 0)
        rc = cutoff_tree_build(b, out, &diag);
    co__alloc_fail_after(-1);
    cutoff_tree_builder_free(b);
    return rc;
}

static void test_out_of_memory_tree(void **state)
{
    (void)state;
    long live = co__alloc_live();
    long n;
    int rc = CUTOFF_ENOMEM;
    for (n = 0; n < 100000 && rc != 0; n++) {
        cutoff_tree *t = NULL;
        rc = build_tree_failing(n, &t);
        if (rc != 0) {
            assert_int_equal(rc, CUTOFF_ENOMEM);
            assert_null(t);
            assert_int_equal(co__alloc_live(), live);
        } else {
            /* success must hand over a tree, even when an allocation failed
             * on the way and was recovered from */
            if (t == NULL)
                fail_msg("cutoff_tree_build returned 0 without a tree when allocation %ld failed",
                         n);
            assert_int_equal(cutoff_tree_count(t, 0), N_TREE_NODES);
            cutoff_tree_release(t);
        }
    }
    assert_int_equal(rc, 0);
    assert_true(n > 1); /* some allocation did fail on the way */
    assert_int_equal(co__alloc_live(), live);
}

static void test_out_of_memory_snapshot(void **state)
{
    (void)state;
    long live = co__alloc_live();
    long n;
    int rc;
    cutoff_tree *t = build_tree();
    cutoff_action_spec ea1 = reference_action();
    static const char *const scope_two[] = {"imod", "sub-acme"};
    cutoff_action_spec two = reference_action();
    two.id = "EA-2";
    two.scope = scope_two;
    two.n_scope = 2;
    const cutoff_action_spec *list[] = {&ea1, &two};
    long live_tree = co__alloc_live();
    rc = CUTOFF_ENOMEM;
    for (n = 0; n < 100000 && rc != 0; n++) {
        cutoff_snapshot *s = NULL;
        cutoff_diag diag;
        co__alloc_fail_after(n);
        rc = cutoff_snapshot_build(t, list, 2, &s, &diag);
        co__alloc_fail_after(-1);
        if (rc != 0) {
            assert_int_equal(rc, CUTOFF_ENOMEM);
            assert_null(s);
            assert_int_equal(co__alloc_live(), live_tree);
        } else {
            expect(s, "sub-archive", "storage.write", NULL, T0, CUTOFF_REASON_READ_ONLY, "EA-1", T0,
                   T1);
            expect(s, "sub-acme", "storage.write", NULL, T1, CUTOFF_REASON_SUSPENDED, "EA-2", T1,
                   NEVER);

            /* explain under the same treatment */
            int erc = CUTOFF_ENOMEM;
            for (long m = 0; m < 100000 && erc != 0; m++) {
                cutoff_explanation *e = NULL;
                long live_snap = co__alloc_live();
                co__alloc_fail_after(m);
                erc = cutoff_explain(s, "sub-archive", "storage.write", NULL, T1, &e);
                co__alloc_fail_after(-1);
                if (erc != 0) {
                    assert_int_equal(erc, CUTOFF_ENOMEM);
                    assert_int_equal(co__alloc_live(), live_snap);
                } else {
                    assert_int_equal(e->verdict.reason, CUTOFF_REASON_SUSPENDED);
                    cutoff_explanation_free(e);
                }
            }
            assert_int_equal(erc, 0);

            /* and the preview of widening EA-2 to every region's storage */
            cutoff_action_spec wider = two;
            static const char *const deny_all[] = {"*"};
            wider.deny = deny_all;
            wider.n_deny = 1;
            int prc = CUTOFF_ENOMEM;
            for (long m = 0; m < 100000 && prc != 0; m++) {
                cutoff_preview *pv = NULL;
                long live_snap = co__alloc_live();
                co__alloc_fail_after(m);
                prc = cutoff_preview_compute(s, &wider, T0, &pv, &diag);
                co__alloc_fail_after(-1);
                if (prc != 0) {
                    assert_int_equal(prc, CUTOFF_ENOMEM);
                    assert_null(pv);
                    assert_int_equal(co__alloc_live(), live_snap);
                } else {
                    /* imod holds sub-archive, sub-ai, sub-c4i and sub-sec; plus sub-acme */
                    assert_int_equal(pv->subscriptions_in_scope, 5);
                    cutoff_preview_free(pv);
                }
            }
            assert_int_equal(prc, 0);
            cutoff_snapshot_release(s);
        }
    }
    assert_int_equal(rc, 0);
    assert_true(n > 1);
    assert_int_equal(co__alloc_live(), live_tree);
    cutoff_tree_release(t);
    assert_int_equal(co__alloc_live(), live);
}

/* ---- ids and names of every length, anywhere in memory ------------------- */

/* A string of n letters that differs from those of every other length at
 * every position, so that no id is a prefix of another. */
static void pattern(char *out, size_t n, unsigned salt)
{
    for (size_t k = 0; k < n; k++)
        out[k] = (char)('a' + (n * 7 + k * 3 + salt) % 26);
    out[n] = '\0';
}

#define LONG_NAME 40 /* action names of 3 to LONG_NAME bytes */

typedef struct lengths_world {
    char ids[CUTOFF_ID_MAX + 1][CUTOFF_ID_MAX + 1]; /* ids[n]: n bytes, n >= 1 */
    char names[LONG_NAME + 1][LONG_NAME + 1];       /* names[n]: "x.yyy", n >= 3 */
    cutoff_catalog_action actions[LONG_NAME + 1];
    cutoff_tree *tree;
    cutoff_snapshot *snap;
} lengths_world;

/* Subscriptions with ids of 1 to 128 bytes under one tenant, and catalog
 * actions with names of 3 to LONG_NAME bytes (the inline limits of hash
 * slots and name maps are 24); no actions, so every known pair allows. */
static lengths_world *lengths_world_new(void)
{
    lengths_world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    size_t n_actions = 0;
    for (size_t n = 3; n <= LONG_NAME; n++) {
        pattern(w->names[n], n, 11);
        w->names[n][1] = '.';
        w->actions[n_actions++] = (cutoff_catalog_action){w->names[n], CUTOFF_CLASS_WRITE};
    }
    cutoff_catalog_spec cat = {w->actions, n_actions, catalog_regions, 3, NULL, 0};
    static cutoff_node_spec nodes[CUTOFF_ID_MAX + 1];
    nodes[0] = (cutoff_node_spec){"T", CUTOFF_NODE_TENANT, NULL, NULL, NULL};
    for (size_t n = 1; n <= CUTOFF_ID_MAX; n++) {
        pattern(w->ids[n], n, 0);
        nodes[n] = (cutoff_node_spec){w->ids[n], CUTOFF_NODE_SUBSCRIPTION, "T", NULL, NULL};
    }
    w->tree = build_tree_from(&cat, nodes, CUTOFF_ID_MAX + 1);
    w->snap = build_snapshot(w->tree, NULL, 0);
    return w;
}

static void lengths_world_free(lengths_world *w)
{
    cutoff_snapshot_release(w->snap);
    cutoff_tree_release(w->tree);
    free(w);
}

static cutoff_reason check_reason(const cutoff_snapshot *s, const char *sub, const char *act)
{
    cutoff_verdict v;
    memset(&v, 0x5a, sizeof v);
    cutoff_check(s, sub, act, NULL, T0, &v);
    return v.reason;
}

/* Every id and name is found at its full length and no other: one byte
 * changed anywhere, one byte fewer or one more makes it unknown. */
/* The snapshot digest that fleet receipts compare covers what every plan
 * entitles, the last plan included: two catalogs that differ only there
 * decide differently, so they must not report the same digest. A plan-less
 * subscription is entitled to every action. */
static void digest_of(const cutoff_catalog_spec *cat, char out[CUTOFF_DIGEST_SIZE])
{
    cutoff_tree *t = build_tree_from(cat, tree_nodes, N_TREE_NODES);
    cutoff_snapshot *s = build_snapshot(t, NULL, 0);
    assert_int_equal(cutoff_snapshot_digest(s, out, CUTOFF_DIGEST_SIZE), 0);
    cutoff_snapshot_release(s);
    cutoff_tree_release(t);
}

static void test_digest_covers_every_plan(void **state)
{
    (void)state;
    static const char *const scan_only[] = {"security.scan"};
    static const char *const storage_only[] = {"storage.*"};
    const cutoff_plan_spec last_narrower[] = {catalog_plans[0], {"security-only", scan_only, 1}};
    const cutoff_plan_spec first_narrower[] = {{"enterprise", storage_only, 1}, catalog_plans[1]};
    cutoff_catalog_spec last = catalog, first = catalog;
    last.plans = last_narrower;
    first.plans = first_narrower;

    char base[CUTOFF_DIGEST_SIZE], again[CUTOFF_DIGEST_SIZE], d_last[CUTOFF_DIGEST_SIZE],
        d_first[CUTOFF_DIGEST_SIZE];
    digest_of(&catalog, base);
    digest_of(&catalog, again);
    digest_of(&last, d_last);
    digest_of(&first, d_first);
    assert_string_equal(base, again);
    assert_string_not_equal(base, d_last);
    assert_string_not_equal(base, d_first);
    assert_string_not_equal(d_last, d_first);

    /* The decisions differ exactly where the digests say they may. */
    cutoff_tree *t = build_tree_from(&last, tree_nodes, N_TREE_NODES);
    cutoff_snapshot *s = build_snapshot(t, NULL, 0);
    expect(s, "sub-sec", "security.monitor", NULL, T0, CUTOFF_REASON_NOT_ENTITLED, NULL, 0, 0);
    expect(s, "sub-sec", "security.scan", NULL, T0, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    for (size_t a = 0; a < sizeof catalog_actions / sizeof catalog_actions[0]; a++)
        expect(s, "sub-acme", catalog_actions[a].name, NULL, T0, CUTOFF_REASON_ALLOW, NULL, 0, 0);
    cutoff_snapshot_release(s);
    cutoff_tree_release(t);
}

static void test_ids_and_names_of_every_length(void **state)
{
    (void)state;
    lengths_world *w = lengths_world_new();
    const char *act = w->names[12];
    char probe[CUTOFF_ID_MAX + 2];
    for (size_t n = 1; n <= CUTOFF_ID_MAX; n++) {
        assert_int_equal(check_reason(w->snap, w->ids[n], act), CUTOFF_REASON_ALLOW);
        for (size_t k = 0; k < n; k++) {
            memcpy(probe, w->ids[n], n + 1);
            probe[k] ^= 0x20; /* the same letter in upper case */
            if (check_reason(w->snap, probe, act) != CUTOFF_REASON_UNKNOWN_SUBSCRIPTION)
                fail_msg("id of %zu bytes with byte %zu changed was found", n, k);
        }
        memcpy(probe, w->ids[n], n + 1);
        probe[n] = 'a', probe[n + 1] = '\0';
        assert_int_equal(check_reason(w->snap, probe, act), CUTOFF_REASON_UNKNOWN_SUBSCRIPTION);
        probe[n - 1] = '\0';
        if (n > 1)
            assert_int_equal(check_reason(w->snap, probe, act), CUTOFF_REASON_UNKNOWN_SUBSCRIPTION);
    }
    for (size_t n = 3; n <= LONG_NAME; n++) {
        assert_int_equal(check_reason(w->snap, w->ids[16], w->names[n]), CUTOFF_REASON_ALLOW);
        for (size_t k = 0; k < n; k++) {
            memcpy(probe, w->names[n], n + 1);
            probe[k] ^= 0x20;
            if (check_reason(w->snap, w->ids[16], probe) != CUTOFF_REASON_UNKNOWN_ACTION)
                fail_msg("name of %zu bytes with byte %zu changed was found", n, k);
        }
        memcpy(probe, w->names[n], n + 1);
        probe[n] = 'a', probe[n + 1] = '\0';
        assert_int_equal(check_reason(w->snap, w->ids[16], probe), CUTOFF_REASON_UNKNOWN_ACTION);
        probe[n - 1] = '\0';
        assert_int_equal(check_reason(w->snap, w->ids[16], probe), CUTOFF_REASON_UNKNOWN_ACTION);
    }
    assert_int_equal(check_reason(w->snap, "", act), CUTOFF_REASON_UNKNOWN_SUBSCRIPTION);
    assert_int_equal(check_reason(w->snap, w->ids[5], ""), CUTOFF_REASON_UNKNOWN_ACTION);
    lengths_world_free(w);
}

/* A check reads the strings it is given in whole aligned blocks: a string
 * that ends on the last byte before an unmapped page, at every alignment,
 * is measured right and nothing past the page is touched (a read there
 * would end the test with SIGSEGV). */
static void test_strings_that_end_a_page(void **state)
{
    (void)state;
    lengths_world *w = lengths_world_new();
    long page = sysconf(_SC_PAGESIZE);
    char *mem =
        mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    assert_int_equal(mprotect(mem + page, (size_t)page, PROT_NONE), 0);
    char *end = mem + page; /* the first byte that may not be read */
    for (size_t n = 1; n <= CUTOFF_ID_MAX; n++) {
        char *sub = end - (n + 1);
        memcpy(sub, w->ids[n], n + 1);
        assert_int_equal(check_reason(w->snap, sub, w->names[20]), CUTOFF_REASON_ALLOW);
    }
    for (size_t n = 3; n <= LONG_NAME; n++) {
        char *act = end - (n + 1);
        memcpy(act, w->names[n], n + 1);
        assert_int_equal(check_reason(w->snap, w->ids[9], act), CUTOFF_REASON_ALLOW);
    }
    end[-1] = '\0'; /* the empty string, last byte of the page */
    assert_int_equal(check_reason(w->snap, end - 1, w->names[3]),
                     CUTOFF_REASON_UNKNOWN_SUBSCRIPTION);
    munmap(mem, 2 * (size_t)page);
    lengths_world_free(w);
}

/* ---- many subscriptions, few breakpoints -------------------------------- */

/* 64 units of 80 subscriptions each: enough positions that a check finds
 * its group in a table of buckets of positions, some of which a scope's
 * edge cuts (those are searched). Each action suspends storage.write in a
 * few units; a subscription is suspended exactly when its unit is in one. */
/* Builds a snapshot whose actions (copies of like, one per pick) each
 * scope one subscription (unit, k), and checks every subscription of the
 * tree: suspended for storage.write exactly when picked. ids is the
 * [units * subs] table of subscription ids, id_size bytes apart. */
static void check_single_scopes(cutoff_tree *t, const cutoff_action_spec *like,
                                const int (*picks)[2], int n, const char *ids, size_t id_size,
                                int subs)
{
    const char *scope[8];
    char action_ids[8][16];
    cutoff_action_spec specs[8];
    const cutoff_action_spec *list[8];
    assert_true(n <= 8);
    for (int a = 0; a < n; a++) {
        scope[a] = ids + (size_t)(picks[a][0] * subs + picks[a][1]) * id_size;
        snprintf(action_ids[a], sizeof action_ids[a], "EA-S%d", a);
        specs[a] = *like;
        specs[a].id = action_ids[a];
        specs[a].scope = &scope[a];
        specs[a].n_scope = 1;
        list[a] = &specs[a];
    }
    cutoff_snapshot *s = build_snapshot(t, list, (size_t)n);
    size_t total = cutoff_tree_count(t, CUTOFF_NODE_SUBSCRIPTION);
    for (size_t i = 0; i < total; i++) {
        bool picked = false;
        for (int a = 0; a < n; a++)
            picked |= i == (size_t)(picks[a][0] * subs + picks[a][1]);
        cutoff_reason want = picked ? CUTOFF_REASON_SUSPENDED : CUTOFF_REASON_ALLOW;
        if (check_reason(s, ids + i * id_size, "storage.write") != want)
            fail_msg("%s among single scopes: wanted %s", ids + i * id_size,
                     cutoff_reason_name(want));
    }
    cutoff_snapshot_release(s);
}

static void test_groups_in_a_large_tree(void **state)
{
    (void)state;
    enum { UNITS = 64, SUBS = 80 };
    static char unit_ids[UNITS][32], sub_ids[UNITS * SUBS][32];
    static cutoff_node_spec nodes[1 + UNITS + UNITS * SUBS];
    size_t n = 0;
    nodes[n++] = (cutoff_node_spec){"T", CUTOFF_NODE_TENANT, NULL, NULL, "enterprise"};
    for (int u = 0; u < UNITS; u++) {
        snprintf(unit_ids[u], sizeof unit_ids[u], "unit-%d", u);
        nodes[n++] = (cutoff_node_spec){unit_ids[u], CUTOFF_NODE_UNIT, "T", NULL, NULL};
        for (int k = 0; k < SUBS; k++) {
            char *id = sub_ids[u * SUBS + k];
            snprintf(id, sizeof sub_ids[0], "s-%d-%d", u, k);
            nodes[n++] = (cutoff_node_spec){id, CUTOFF_NODE_SUBSCRIPTION, unit_ids[u], NULL, NULL};
        }
    }
    cutoff_tree *t = build_tree_from(&catalog, nodes, n);
    static const char *const deny_write[] = {"storage.write"};
    static const cutoff_phase_spec suspend[] = {{T0, 0, CUTOFF_MODE_SUSPEND}};
    const char *scopes[3][2] = {
        {unit_ids[3], unit_ids[40]}, {unit_ids[17], NULL}, {unit_ids[41], unit_ids[63]}};
    size_t n_scope[3] = {2, 1, 2};
    cutoff_action_spec specs[3];
    const cutoff_action_spec *list[3];
    static const char *const ids[3] = {"EA-1", "EA-2", "EA-3"};
    for (int a = 0; a < 3; a++) {
        specs[a] = (cutoff_action_spec){.id = ids[a],
                                        .case_id = "C",
                                        .scope = scopes[a],
                                        .n_scope = n_scope[a],
                                        .deny = deny_write,
                                        .n_deny = 1,
                                        .regions = regions_all,
                                        .n_regions = 1,
                                        .phases = suspend,
                                        .n_phases = 1,
                                        .status = 451,
                                        .state = CUTOFF_STATE_ACTIVE,
                                        .version = 1,
                                        .activated_at = T0};
        list[a] = &specs[a];
    }
    cutoff_snapshot *s = build_snapshot(t, list, 3);
    for (int u = 0; u < UNITS; u++) {
        bool in_scope = u == 3 || u == 40 || u == 17 || u == 41 || u == 63;
        for (int k = 0; k < SUBS; k++) {
            const char *id = sub_ids[u * SUBS + k];
            cutoff_reason want = in_scope ? CUTOFF_REASON_SUSPENDED : CUTOFF_REASON_ALLOW;
            if (check_reason(s, id, "storage.write") != want)
                fail_msg("%s: wanted %s", id, cutoff_reason_name(want));
            assert_int_equal(check_reason(s, id, "storage.read"), CUTOFF_REASON_ALLOW);
        }
    }
    cutoff_snapshot_release(s);

    /* Single subscriptions near each other as scopes: a bucket of
     * positions then holds one, two or more than two scope edges, at every
     * alignment. */
    static const int crowd[][2] = {{5, 0}, {5, 1}, {5, 10}, {5, 11}, {5, 13}, {9, 20}, {63, 79}};
    check_single_scopes(t, &specs[0], crowd, 7, sub_ids[0], sizeof sub_ids[0], SUBS);
    for (int j = 0; j < 16; j++) {
        const int pair[][2] = {{9, j}, {9, j + 2}, {9, j + 5}};
        check_single_scopes(t, &specs[0], pair, 3, sub_ids[0], sizeof sub_ids[0], SUBS);
    }
    cutoff_tree_release(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_case),
        cmocka_unit_test(test_nested_scopes_and_ties),
        cmocka_unit_test(test_region_prefixes),
        cmocka_unit_test(test_phase_boundaries),
        cmocka_unit_test(test_tree_builder_errors),
        cmocka_unit_test(test_tree_update_moves_node),
        cmocka_unit_test(test_snapshot_errors),
        cmocka_unit_test(test_handles_across_snapshots),
        cmocka_unit_test(test_publication_threads),
        cmocka_unit_test(test_out_of_memory_tree),
        cmocka_unit_test(test_out_of_memory_snapshot),
        cmocka_unit_test(test_digest_covers_every_plan),
        cmocka_unit_test(test_ids_and_names_of_every_length),
        cmocka_unit_test(test_strings_that_end_a_page),
        cmocka_unit_test(test_groups_in_a_large_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
