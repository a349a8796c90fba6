/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_differential.c - the engine against the reference evaluator on
 * random scenarios. Each scenario (catalog, tree, actions in every state,
 * requests) is built with the engine API and every request is decided by
 * cutoff_check, cutoff_check_handles and cutoff_explain and by the
 * reference; reason, deciding action, since and until must agree. A second
 * test checks cutoff_preview_compute against brute force over every
 * subscription, catalog action, region and phase start.
 *
 * Seeded: CUTOFF_SEED=N replays a run (the seed is printed first, and with
 * any failure together with the scenario number and a dump of it);
 * CUTOFF_SCENARIO=K runs only scenario K of that seed; CUTOFF_SCENARIOS=N
 * changes how many scenarios run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cutoff.h"
#include "../support/reference.h"
#include "../support/scenario.h"

#define CHECK_SCENARIOS 1000
#define CHECK_QUERIES 250
#define PREVIEW_SCENARIOS 200
#define PREVIEW_PROPOSALS 2

static uint64_t base_seed;
static long only_scenario = -1;  /* CUTOFF_SCENARIO */
static long scenario_count = -1; /* CUTOFF_SCENARIOS */

/* One scenario built twice: as plain specs for the reference and with the
 * engine. */
typedef struct diff_ctx {
    const char *test;
    size_t index;
    scenario sc;
    ref_world world;
    cutoff_tree *tree;
    cutoff_snapshot *snap;
} diff_ctx;

/* The seed of scenario i of a run: a fixed mix of the run's seed and i. */
static uint64_t scenario_seed(size_t i)
{
    uint64_t z = base_seed + 0x9e3779b97f4a7c15ULL * (i + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Prints why, how to replay, and the scenario (every line starting with
 * "# " so that the test runner shows it), then fails the test. */
static void diff_fail(diff_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void diff_fail(diff_ctx *c, const char *fmt, ...)
{
    char why[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    fprintf(stderr, "# %s: MISMATCH in scenario %zu: %s\n", c->test, c->index, why);
    fprintf(stderr,
            "# replay: CUTOFF_SEED=%" PRIu64
            " CUTOFF_SCENARIO=%zu ./build/tests/test_differential\n",
            base_seed, c->index);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem != NULL) {
        scenario_dump(&c->sc, mem);
        fclose(mem);
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
            fprintf(stderr, "# %s\n", line);
        free(text);
    }
    fflush(stderr);
    fail_msg("scenario %zu of seed %" PRIu64 ": %s", c->index, base_seed, why);
}

static void diff_close(diff_ctx *c)
{
    cutoff_snapshot_release(c->snap);
    cutoff_tree_release(c->tree);
    c->snap = NULL;
    c->tree = NULL;
    scenario_free(&c->sc);
}

/* Generates scenario i and builds it with the engine. */
static void diff_open(diff_ctx *c, const char *test, size_t i, size_t n_queries)
{
    memset(c, 0, sizeof *c);
    c->test = test;
    c->index = i;
    scenario_options opt = {.n_queries = n_queries, .cli = 0};
    assert_int_equal(scenario_generate(scenario_seed(i), &opt, &c->sc), 0);
    c->world.catalog = &c->sc.catalog;
    c->world.nodes = c->sc.nodes;
    c->world.n_nodes = c->sc.n_nodes;
    c->world.actions = c->sc.actions;
    c->world.n_actions = c->sc.n_actions;

    cutoff_diag diag;
    memset(&diag, 0, sizeof diag);
    cutoff_tree_builder *b = NULL;
    int rc = cutoff_tree_builder_new(&c->sc.catalog, &b, &diag);
    if (rc != 0)
        diff_fail(c, "cutoff_tree_builder_new: %s: %s", cutoff_errname(rc), diag.message);
    for (size_t k = 0; k < c->sc.n_nodes; k++) {
        rc = cutoff_tree_builder_add(b, &c->sc.nodes[k], &diag);
        if (rc != 0) {
            cutoff_tree_builder_free(b);
            diff_fail(c, "cutoff_tree_builder_add(%s): %s: %s", c->sc.nodes[k].id,
                      cutoff_errname(rc), diag.message);
        }
    }
    rc = cutoff_tree_build(b, &c->tree, &diag);
    cutoff_tree_builder_free(b);
    if (rc != 0)
        diff_fail(c, "cutoff_tree_build: %s: %s", cutoff_errname(rc), diag.message);
    rc = cutoff_snapshot_build(c->tree, c->sc.actions, c->sc.n_actions, &c->snap, &diag);
    if (rc != 0)
        diff_fail(c, "cutoff_snapshot_build: %s: %s", cutoff_errname(rc), diag.message);
}

static int run_scenario(size_t i)
{
    return only_scenario < 0 || (size_t)only_scenario == i;
}

static size_t scenarios(size_t dflt)
{
    return scenario_count >= 0 ? (size_t)scenario_count : dflt;
}

static const char *id_or_dash(const cutoff_action_spec *a)
{
    return a ? a->id : "-";
}

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* ---- the tree and the snapshot hold what they were given ---------------- */

static void check_shape(diff_ctx *c)
{
    size_t counts[4] = {0};
    for (size_t i = 0; i < c->sc.n_final; i++)
        counts[c->sc.final[i]->kind]++;
    size_t all = counts[1] + counts[2] + counts[3];
    if (cutoff_tree_count(c->tree, 0) != all ||
        cutoff_tree_count(c->tree, CUTOFF_NODE_TENANT) != counts[1] ||
        cutoff_tree_count(c->tree, CUTOFF_NODE_UNIT) != counts[2] ||
        cutoff_tree_count(c->tree, CUTOFF_NODE_SUBSCRIPTION) != counts[3])
        diff_fail(c, "tree counts %zu/%zu/%zu/%zu, wanted %zu/%zu/%zu/%zu",
                  cutoff_tree_count(c->tree, 0), cutoff_tree_count(c->tree, CUTOFF_NODE_TENANT),
                  cutoff_tree_count(c->tree, CUTOFF_NODE_UNIT),
                  cutoff_tree_count(c->tree, CUTOFF_NODE_SUBSCRIPTION), all, counts[1], counts[2],
                  counts[3]);

    size_t active = 0;
    for (size_t i = 0; i < c->sc.n_actions; i++)
        active += (size_t)ref_in_force(c->sc.actions[i]);
    if (cutoff_snapshot_action_count(c->snap) != active)
        diff_fail(c, "snapshot holds %zu actions, %zu are in force",
                  cutoff_snapshot_action_count(c->snap), active);
    for (size_t i = 0; i < active; i++) {
        const cutoff_action_spec *a = cutoff_snapshot_action(c->snap, i);
        if (a == NULL || !ref_in_force(a))
            diff_fail(c, "snapshot action %zu is missing or not in force", i);
        if (i > 0 && strcmp(cutoff_snapshot_action(c->snap, i - 1)->id, a->id) >= 0)
            diff_fail(c, "snapshot actions not sorted by id: %s before %s",
                      cutoff_snapshot_action(c->snap, i - 1)->id, a->id);
    }
    if (cutoff_snapshot_tree(c->snap) != c->tree)
        diff_fail(c, "cutoff_snapshot_tree is not the tree it was built on");
}

/* ---- one request ---------------------------------------------------------- */

static void compare_verdict(diff_ctx *c, const char *what, const scenario_query *q,
                            const ref_verdict *want, const cutoff_verdict *got)
{
    char qs[512], t1[32], t2[32], t3[32], t4[32];
    int same = got->reason == want->reason && same_str(id_or_dash(got->by), id_or_dash(want->by));
    if (same && want->by != NULL)
        same = got->by->version == want->by->version && got->since == want->since &&
               got->until == want->until;
    if (same)
        return;
    scenario_format_query(q, qs, sizeof qs);
    diff_fail(c, "%s %s: engine says %s by %s [%s, %s), reference says %s by %s [%s, %s)", what, qs,
              cutoff_reason_name(got->reason), id_or_dash(got->by),
              got->by ? cutoff_time_format(got->since, t1) : "-",
              got->by ? cutoff_time_format(got->until, t2) : "-", cutoff_reason_name(want->reason),
              id_or_dash(want->by), want->by ? cutoff_time_format(want->since, t3) : "-",
              want->by ? cutoff_time_format(want->until, t4) : "-");
}

static int is_catalog_region(const scenario *s, const char *region)
{
    for (size_t i = 0; i < s->catalog.n_regions; i++)
        if (strcmp(s->catalog.regions[i], region) == 0)
            return 1;
    return 0;
}

/* cutoff_check_handles after resolving: a name resolves exactly when the
 * reference knows it, and then the verdict is the same as by names. */
static void check_handles(diff_ctx *c, const scenario_query *q, const ref_verdict *want)
{
    char qs[512];
    cutoff_sub_handle sub;
    cutoff_act_handle act;
    cutoff_region_handle reg;
    const cutoff_node_spec *node = ref_find_node(&c->world, q->subscription);
    int sub_known = node != NULL && node->kind == CUTOFF_NODE_SUBSCRIPTION;
    int act_known = ref_find_action(&c->world, q->action) != NULL;
    int reg_known = q->region == NULL || is_catalog_region(&c->sc, q->region);

    int rc_sub = cutoff_resolve_subscription(c->tree, q->subscription, &sub);
    int rc_act = cutoff_resolve_action(c->tree, q->action, &act);
    int rc_reg = cutoff_resolve_region(c->tree, q->region, &reg);
    scenario_format_query(q, qs, sizeof qs);
    if (rc_sub != (sub_known ? 0 : CUTOFF_ENOTFOUND))
        diff_fail(c, "%s: resolving the subscription returned %s", qs, cutoff_errname(rc_sub));
    if (rc_act != (act_known ? 0 : CUTOFF_ENOTFOUND))
        diff_fail(c, "%s: resolving the action returned %s", qs, cutoff_errname(rc_act));
    if (rc_reg != (reg_known ? 0 : CUTOFF_ENOTFOUND))
        diff_fail(c, "%s: resolving the region returned %s", qs, cutoff_errname(rc_reg));
    if (q->region == NULL && reg.index != CUTOFF_REGION_NONE.index)
        diff_fail(c, "%s: no region did not resolve to CUTOFF_REGION_NONE", qs);
    if (rc_sub || rc_act || rc_reg)
        return;
    cutoff_verdict got;
    cutoff_check_handles(c->snap, sub, act, reg, q->t, &got);
    compare_verdict(c, "cutoff_check_handles", q, want, &got);
}

/* The reference's view of every active action whose scope contains the
 * subscription, compared entry by entry with cutoff_explain. */
static void check_explain(diff_ctx *c, const scenario_query *q, const ref_verdict *want,
                          const cutoff_verdict *checked)
{
    char qs[512];
    scenario_format_query(q, qs, sizeof qs);
    cutoff_explanation *e = NULL;
    int rc = cutoff_explain(c->snap, q->subscription, q->action, q->region, q->t, &e);
    if (rc != 0)
        diff_fail(c, "cutoff_explain %s returned %s", qs, cutoff_errname(rc));
    /* Its verdict is check's, and the entry that decides is verdict.by. */
    cutoff_verdict ev = e->verdict;
    if (ev.reason != checked->reason || ev.by != checked->by ||
        (ev.by && (ev.since != checked->since || ev.until != checked->until))) {
        cutoff_explanation_free(e);
        diff_fail(c, "cutoff_explain %s: verdict %s by %s differs from cutoff_check's %s by %s", qs,
                  cutoff_reason_name(ev.reason), id_or_dash(ev.by),
                  cutoff_reason_name(checked->reason), id_or_dash(checked->by));
    }
    compare_verdict(c, "cutoff_explain", q, want, &ev);

    const cutoff_node_spec *path[REF_MAX_PATH];
    size_t n_path = ref_path(&c->world, q->subscription, path);
    const cutoff_catalog_action *act = ref_find_action(&c->world, q->action);
    char why[1024] = "";
    size_t deciding = 0, expected_entries = 0;

    if (want->reason == CUTOFF_REASON_UNKNOWN_SUBSCRIPTION) {
        if (e->n_entries != 0)
            snprintf(why, sizeof why, "%zu entries for an unknown subscription", e->n_entries);
        goto done;
    }
    /* An unknown action fails closed before any enforcement action is
     * consulted; the engine may list none (it does) or all of them. */
    int entries_optional = want->reason == CUTOFF_REASON_UNKNOWN_ACTION;
    /* An entry's effect is what the action adds once steps [1] and [2] of
     * the contract have passed; for a request that fails them it is left
     * unchecked. */
    int effects_defined =
        want->reason != CUTOFF_REASON_UNKNOWN_ACTION && want->reason != CUTOFF_REASON_NOT_ENTITLED;

    /* The path from the subscription up to its tenant, and the plan. */
    if (e->n_path != n_path) {
        snprintf(why, sizeof why, "path has %zu nodes, wanted %zu", e->n_path, n_path);
        goto done;
    }
    for (size_t i = 0; i < n_path; i++)
        if (!same_str(e->path[i], path[i]->id)) {
            snprintf(why, sizeof why, "path[%zu] is %s, wanted %s", i, e->path[i], path[i]->id);
            goto done;
        }
    const char *from = NULL;
    const char *plan = ref_inherited_plan(path, n_path, &from);
    if (!same_str(e->plan, plan) || !same_str(e->plan_from, from)) {
        snprintf(why, sizeof why, "plan %s from %s, wanted %s from %s",
                 e->plan ? e->plan : "(none)", e->plan_from ? e->plan_from : "-",
                 plan ? plan : "(none)", from ? from : "-");
        goto done;
    }
    if (act != NULL && !e->entitled != !ref_entitled(&c->world, plan, q->action)) {
        snprintf(why, sizeof why, "entitled=%d, wanted %d", e->entitled,
                 ref_entitled(&c->world, plan, q->action));
        goto done;
    }

    for (size_t i = 0; i < c->sc.n_actions; i++) {
        const cutoff_action_spec *a = c->sc.actions[i];
        if (!ref_in_force(a))
            continue;
        ref_effect re;
        ref_action_effect(a, path, n_path, act, q->action, q->region, q->t, &re);
        if (re.scope_node == NULL)
            continue;
        expected_entries++;
        const cutoff_explain_entry *en = NULL;
        for (size_t k = 0; k < e->n_entries; k++)
            if (strcmp(e->entries[k].action->id, a->id) == 0) {
                if (en != NULL) {
                    snprintf(why, sizeof why, "action %s listed twice", a->id);
                    goto done;
                }
                en = &e->entries[k];
            }
        if (en == NULL && entries_optional && e->n_entries == 0)
            continue;
        if (en == NULL) {
            snprintf(why, sizeof why, "action %s (scope contains the subscription) is not listed",
                     a->id);
            goto done;
        }
        /* Any scope node of the action on the path will do. */
        int scope_ok = 0;
        for (size_t k = 0; k < a->n_scope && en->scope_node; k++)
            for (size_t j = 0; j < n_path; j++)
                if (strcmp(a->scope[k], en->scope_node) == 0 &&
                    strcmp(path[j]->id, en->scope_node) == 0)
                    scope_ok = 1;
        if (!scope_ok) {
            snprintf(why, sizeof why,
                     "%s: scope_node %s is not a scope node above the subscription", a->id,
                     en->scope_node ? en->scope_node : "(null)");
            goto done;
        }
        if (!same_str(en->deny_pattern, re.deny_pattern) ||
            !same_str(en->except_pattern, re.except_pattern) ||
            !en->region_match != !re.region_match || en->mode != re.mode) {
            snprintf(why, sizeof why,
                     "%s: deny=%s except=%s region_match=%d mode=%s, wanted deny=%s except=%s "
                     "region_match=%d mode=%s",
                     a->id, en->deny_pattern ? en->deny_pattern : "-",
                     en->except_pattern ? en->except_pattern : "-", en->region_match,
                     cutoff_mode_name(en->mode), re.deny_pattern ? re.deny_pattern : "-",
                     re.except_pattern ? re.except_pattern : "-", re.region_match,
                     cutoff_mode_name(re.mode));
            goto done;
        }
        if (re.phase >= 0 && (en->since != re.since || en->until != re.until)) {
            snprintf(why, sizeof why,
                     "%s: phase [%" PRId64 ", %" PRId64 "), wanted [%" PRId64 ", %" PRId64 ")",
                     a->id, en->since, en->until, re.since, re.until);
            goto done;
        }
        if (effects_defined && en->effect != re.effect) {
            snprintf(why, sizeof why, "%s: effect %s, wanted %s", a->id,
                     cutoff_reason_name(en->effect), cutoff_reason_name(re.effect));
            goto done;
        }
        if (en->decides) {
            deciding++;
            if (en->action != checked->by) {
                snprintf(why, sizeof why, "%s marked as deciding, verdict is by %s", a->id,
                         id_or_dash(checked->by));
                goto done;
            }
        }
    }
    if (e->n_entries != expected_entries && !(entries_optional && e->n_entries == 0)) {
        snprintf(why, sizeof why, "%zu entries, wanted %zu", e->n_entries, expected_entries);
        goto done;
    }
    if (deciding != (checked->by != NULL ? 1u : 0u))
        snprintf(why, sizeof why, "%zu entries marked as deciding, verdict by %s", deciding,
                 id_or_dash(checked->by));
done:
    cutoff_explanation_free(e);
    if (why[0] != '\0')
        diff_fail(c, "cutoff_explain %s: %s", qs, why);
}

/* What the requests of a run reached, so that a generator that stops
 * reaching something shows. */
typedef struct coverage {
    uint64_t requests, outcomes[6];
    uint64_t contested; /* denials with more than one denying action */
    uint64_t boundary;  /* denials at the first second of their phase */
} coverage;

static void count_coverage(diff_ctx *c, const scenario_query *q, const ref_verdict *v,
                           coverage *cov)
{
    cov->requests++;
    cov->outcomes[v->reason]++;
    if (v->by == NULL)
        return;
    cov->boundary += v->since == q->t;
    const cutoff_node_spec *path[REF_MAX_PATH];
    size_t n_path = ref_path(&c->world, q->subscription, path);
    const cutoff_catalog_action *act = ref_find_action(&c->world, q->action);
    size_t denying = 0;
    for (size_t a = 0; a < c->sc.n_actions; a++) {
        ref_effect e;
        if (!ref_in_force(c->sc.actions[a]))
            continue;
        ref_action_effect(c->sc.actions[a], path, n_path, act, q->action, q->region, q->t, &e);
        denying += e.effect != CUTOFF_REASON_ALLOW;
    }
    cov->contested += denying > 1;
}

/* cutoff_check_many over all the scenario's requests must give exactly
 * what cutoff_check gives one by one (and so what the reference gives). */
static void check_many_matches(diff_ctx *c)
{
    size_t n = c->sc.n_queries;
    cutoff_request *reqs = calloc(n + 1, sizeof *reqs);
    cutoff_verdict *many = calloc(n + 1, sizeof *many);
    assert_non_null(reqs);
    assert_non_null(many);
    for (size_t i = 0; i < n; i++) {
        const scenario_query *q = &c->sc.queries[i];
        reqs[i] = (cutoff_request){q->subscription, q->action, q->region, q->t};
    }
    cutoff_check_many(c->snap, reqs, n, many);
    for (size_t i = 0; i < n; i++) {
        const scenario_query *q = &c->sc.queries[i];
        ref_verdict want;
        ref_check(&c->world, q->subscription, q->action, q->region, q->t, &want);
        compare_verdict(c, "cutoff_check_many", q, &want, &many[i]);
    }
    free(reqs);
    free(many);
}

static void decide_all(diff_ctx *c, coverage *cov)
{
    check_many_matches(c);
    for (size_t i = 0; i < c->sc.n_queries; i++) {
        const scenario_query *q = &c->sc.queries[i];
        ref_verdict want;
        ref_check(&c->world, q->subscription, q->action, q->region, q->t, &want);
        count_coverage(c, q, &want, cov);
        cutoff_verdict got;
        cutoff_check(c->snap, q->subscription, q->action, q->region, q->t, &got);
        compare_verdict(c, "cutoff_check", q, &want, &got);
        check_handles(c, q, &want);
        /* Explain allocates: every fourth request is plenty. */
        if (i % 4 == 0)
            check_explain(c, q, &want, &got);
    }
}

static void test_check_matches_reference(void **state)
{
    (void)state;
    size_t n = scenarios(CHECK_SCENARIOS), ran = 0;
    coverage cov;
    memset(&cov, 0, sizeof cov);
    for (size_t i = 0; i < n; i++) {
        if (!run_scenario(i))
            continue;
        diff_ctx c;
        diff_open(&c, "check", i, CHECK_QUERIES);
        check_shape(&c);
        decide_all(&c, &cov);
        ran++;
        diff_close(&c);
    }
    const uint64_t *o = cov.outcomes;
    printf("# %zu scenarios, %" PRIu64 " requests: allow %" PRIu64 ", unknown_subscription %" PRIu64
           ", unknown_action %" PRIu64 ", not_entitled %" PRIu64 ", suspended %" PRIu64
           ", read_only %" PRIu64 "\n",
           ran, cov.requests, o[0], o[1], o[2], o[3], o[4], o[5]);
    printf("# %" PRIu64 " denials decided among several denying actions, %" PRIu64
           " at the first second of their phase\n",
           cov.contested, cov.boundary);
    /* A generator that never reaches a reason, a tie or a boundary would
     * make this test weak. */
    if (only_scenario < 0 && n >= 100) {
        for (int r = 0; r < 6; r++)
            assert_true(o[r] > 0);
        assert_true(cov.contested > 0);
        assert_true(cov.boundary > 0);
    }
}

/* ---- preview against brute force ------------------------------------------ */

/* What the reference says changes if `proposed` becomes active at
 * `activation`: per catalog action, per phase, per subscription. */
typedef struct brute {
    size_t n_subs, n_acts, n_phases;
    const char *const *subs;
    unsigned char *changed; /* [act][phase][sub] */
    uint64_t in_scope;
} brute;

static unsigned char *brute_at(brute *b, size_t act, size_t phase, size_t sub)
{
    return &b->changed[(act * b->n_phases + phase) * b->n_subs + sub];
}

static void brute_force(diff_ctx *c, const cutoff_action_spec *proposed, int64_t activation,
                        brute *b)
{
    /* The proposed action as it would be: active since activation, in
     * place of an active version with the same id. */
    cutoff_action_spec p = *proposed;
    p.state = CUTOFF_STATE_ACTIVE;
    p.activated_at = activation;
    const cutoff_action_spec **after = calloc(c->sc.n_actions + 1, sizeof *after);
    assert_non_null(after);
    size_t n_after = 0;
    for (size_t i = 0; i < c->sc.n_actions; i++) {
        const cutoff_action_spec *a = c->sc.actions[i];
        if (!(ref_in_force(a) && strcmp(a->id, p.id) == 0))
            after[n_after++] = a;
    }
    after[n_after++] = &p;
    ref_world w_after = c->world;
    w_after.actions = after;
    w_after.n_actions = n_after;

    b->n_subs = scenario_subscriptions(&c->sc, &b->subs);
    b->n_acts = c->sc.catalog.n_actions;
    b->n_phases = p.n_phases;
    b->changed = calloc(b->n_subs * b->n_acts * b->n_phases + 1, 1);
    assert_non_null(b->changed);
    b->in_scope = 0;

    for (size_t s = 0; s < b->n_subs; s++) {
        const cutoff_node_spec *path[REF_MAX_PATH];
        size_t n_path = ref_path(&c->world, b->subs[s], path);
        ref_effect e;
        ref_action_effect(&p, path, n_path, NULL, "", NULL, 0, &e);
        b->in_scope += e.scope_node != NULL;
        for (size_t a = 0; a < b->n_acts; a++) {
            const char *name = c->sc.catalog.actions[a].name;
            for (size_t ph = 0; ph < p.n_phases; ph++) {
                int64_t t = cutoff_phase_start(&p, ph, activation);
                for (size_t r = 0; r <= c->sc.catalog.n_regions; r++) {
                    const char *region =
                        r < c->sc.catalog.n_regions ? c->sc.catalog.regions[r] : NULL;
                    ref_verdict before, now;
                    ref_check_path(&c->world, path, n_path, name, region, t, &before);
                    ref_check_path(&w_after, path, n_path, name, region, t, &now);
                    if (before.reason != now.reason)
                        *brute_at(b, a, ph, s) = 1;
                }
            }
        }
    }
    free(after);
}

static int brute_changed(brute *b, size_t act, size_t sub)
{
    for (size_t ph = 0; ph < b->n_phases; ph++)
        if (*brute_at(b, act, ph, sub))
            return 1;
    return 0;
}

/* Reads the whole change list in pages of `page` entries. */
static size_t read_changes(const cutoff_preview *pv, size_t page, cutoff_preview_change **out)
{
    size_t cap = 16, n = 0;
    cutoff_preview_change *all = malloc(cap * sizeof *all);
    assert_non_null(all);
    for (;;) {
        if (n + page > cap) {
            cap = 2 * (n + page);
            cutoff_preview_change *grown = realloc(all, cap * sizeof *all);
            assert_non_null(grown);
            all = grown;
        }
        size_t got = SIZE_MAX;
        assert_int_equal(cutoff_preview_changes(pv, n, page, all + n, &got), 0);
        assert_true(got <= page);
        n += got;
        if (got < page)
            break;
    }
    *out = all;
    return n;
}

static void compare_preview(diff_ctx *c, const cutoff_action_spec *proposed, int64_t activation,
                            const cutoff_preview *pv, brute *b)
{
    char why[1024] = "";
    cutoff_preview_change *list = NULL, *list1 = NULL;
    size_t n_list = 0;

    if (pv->n_phases != proposed->n_phases) {
        snprintf(why, sizeof why, "%zu phases, wanted %zu", pv->n_phases, proposed->n_phases);
        goto done;
    }
    for (size_t ph = 0; ph < pv->n_phases; ph++)
        if (pv->phases[ph].at != cutoff_phase_start(proposed, ph, activation) ||
            pv->phases[ph].mode != proposed->phases[ph].mode) {
            snprintf(why, sizeof why, "phase %zu at %" PRId64 " %s, wanted %" PRId64 " %s", ph,
                     pv->phases[ph].at, cutoff_mode_name(pv->phases[ph].mode),
                     cutoff_phase_start(proposed, ph, activation),
                     cutoff_mode_name(proposed->phases[ph].mode));
            goto done;
        }
    if (pv->subscriptions_in_scope != b->in_scope) {
        snprintf(why, sizeof why, "subscriptions_in_scope %" PRIu64 ", wanted %" PRIu64,
                 pv->subscriptions_in_scope, b->in_scope);
        goto done;
    }
    if (pv->n_lines != b->n_acts) {
        snprintf(why, sizeof why, "%zu lines, wanted %zu", pv->n_lines, b->n_acts);
        goto done;
    }

    uint64_t excepted_changes = 0, subs_changed = 0;
    for (size_t a = 0; a < b->n_acts; a++) {
        const cutoff_preview_line *l = &pv->lines[a];
        const cutoff_catalog_action *ca = &c->sc.catalog.actions[a];
        int deny = 0, except = 0;
        for (size_t k = 0; k < proposed->n_deny; k++)
            deny |= cutoff_pattern_match(proposed->deny[k], ca->name);
        for (size_t k = 0; k < proposed->n_except; k++)
            except |= cutoff_pattern_match(proposed->except[k], ca->name);
        if (strcmp(l->action, ca->name) != 0 || l->cls != ca->cls ||
            !l->targeted != !(deny && !except) || !l->excepted != !except) {
            snprintf(why, sizeof why,
                     "line %zu: %s cls=%d targeted=%d excepted=%d, wanted %s cls=%d "
                     "targeted=%d excepted=%d",
                     a, l->action, (int)l->cls, l->targeted, l->excepted, ca->name, (int)ca->cls,
                     deny && !except, except);
            goto done;
        }
        uint64_t changed = 0;
        for (size_t s = 0; s < b->n_subs; s++)
            changed += (uint64_t)brute_changed(b, a, s);
        if (l->changed != changed) {
            snprintf(why, sizeof why, "%s: changed %" PRIu64 ", brute force says %" PRIu64,
                     ca->name, l->changed, changed);
            goto done;
        }
        for (size_t ph = 0; ph < b->n_phases; ph++) {
            uint64_t in_phase = 0;
            for (size_t s = 0; s < b->n_subs; s++)
                in_phase += *brute_at(b, a, ph, s);
            if (l->changed_in_phase[ph] != in_phase) {
                snprintf(why, sizeof why,
                         "%s: changed_in_phase[%zu] %" PRIu64 ", brute force says %" PRIu64,
                         ca->name, ph, l->changed_in_phase[ph], in_phase);
                goto done;
            }
        }
        if (except)
            excepted_changes += changed;
    }
    for (size_t s = 0; s < b->n_subs; s++) {
        int any = 0;
        for (size_t a = 0; a < b->n_acts; a++)
            any |= brute_changed(b, a, s);
        subs_changed += (uint64_t)any;
    }
    if (pv->subscriptions_changed != subs_changed) {
        snprintf(why, sizeof why, "subscriptions_changed %" PRIu64 ", brute force says %" PRIu64,
                 pv->subscriptions_changed, subs_changed);
        goto done;
    }
    /* excepted_changes counts like `changed`, summed over excepted lines. */
    if ((pv->excepted_unchanged != 0) != (excepted_changes == 0) ||
        pv->excepted_changes != excepted_changes) {
        snprintf(why, sizeof why,
                 "excepted_unchanged=%d excepted_changes=%" PRIu64 ", brute force finds %" PRIu64
                 " changes of excepted actions",
                 pv->excepted_unchanged, pv->excepted_changes, excepted_changes);
        goto done;
    }

    /* The change list: every changed subscription once, with exactly the
     * actions that change for it; the same sequence whatever the page size. */
    size_t page = (size_t)scenario_rng_range(&c->sc.rng, 1, 7);
    n_list = read_changes(pv, page, &list);
    size_t n_list1 = read_changes(pv, 1, &list1);
    if (n_list != subs_changed || n_list1 != n_list) {
        snprintf(why, sizeof why,
                 "change list has %zu entries (%zu in pages of 1), wanted %" PRIu64, n_list,
                 n_list1, subs_changed);
        goto done;
    }
    for (size_t i = 0; i < n_list; i++) {
        const cutoff_preview_change *ch = &list[i];
        if (strcmp(ch->subscription, list1[i].subscription) != 0) {
            snprintf(why, sizeof why, "change %zu is %s in pages of %zu but %s in pages of 1", i,
                     ch->subscription, page, list1[i].subscription);
            goto done;
        }
        size_t s = 0;
        while (s < b->n_subs && strcmp(b->subs[s], ch->subscription) != 0)
            s++;
        if (s == b->n_subs) {
            snprintf(why, sizeof why, "change list names %s, not a subscription", ch->subscription);
            goto done;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(list[j].subscription, ch->subscription) == 0) {
                snprintf(why, sizeof why, "change list names %s twice", ch->subscription);
                goto done;
            }
        size_t want = 0;
        for (size_t a = 0; a < b->n_acts; a++)
            want += (size_t)brute_changed(b, a, s);
        if (ch->n_actions != want) {
            snprintf(why, sizeof why, "%s: %zu actions change, brute force says %zu",
                     ch->subscription, ch->n_actions, want);
            goto done;
        }
        for (size_t k = 0; k < ch->n_actions; k++) {
            size_t a = 0;
            while (a < b->n_acts && strcmp(c->sc.catalog.actions[a].name, ch->actions[k]) != 0)
                a++;
            int dup = 0;
            for (size_t j = 0; j < k; j++)
                dup |= strcmp(ch->actions[j], ch->actions[k]) == 0;
            if (a == b->n_acts || dup || !brute_changed(b, a, s)) {
                snprintf(why, sizeof why, "%s: %s listed as changing, brute force disagrees",
                         ch->subscription, ch->actions[k]);
                goto done;
            }
        }
    }
    /* Tree order: whatever the order of siblings, the changed subscriptions
     * below any node come as one run, as a depth-first walk lists them. */
    for (size_t x = 0; x < c->sc.n_final && why[0] == '\0'; x++) {
        const char *node = c->sc.final[x]->id;
        size_t first = SIZE_MAX, last = 0, count = 0;
        for (size_t i = 0; i < n_list; i++) {
            const cutoff_node_spec *path[REF_MAX_PATH];
            size_t n_path = ref_path(&c->world, list[i].subscription, path);
            for (size_t j = 0; j < n_path; j++)
                if (strcmp(path[j]->id, node) == 0) {
                    first = first == SIZE_MAX ? i : first;
                    last = i;
                    count++;
                    break;
                }
        }
        if (count > 0 && last - first + 1 != count)
            snprintf(why, sizeof why,
                     "change list is not in tree order: the %zu changed "
                     "subscriptions below %s are spread over entries %zu..%zu",
                     count, node, first, last);
    }
    if (why[0] != '\0')
        goto done;
    size_t past = SIZE_MAX;
    cutoff_preview_change one = {0};
    if (cutoff_preview_changes(pv, n_list, 3, &one, &past) != 0 || past != 0)
        snprintf(why, sizeof why, "a page past the end returned %zu entries", past);
done:
    free(list);
    free(list1);
    if (why[0] != '\0') {
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        if (mem) {
            char t[32];
            fprintf(mem, "proposed, activation %" PRId64 " (%s):\n", activation,
                    cutoff_time_format(activation, t));
            scenario_dump_action(proposed, mem);
            fclose(mem);
            for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
                fprintf(stderr, "# %s\n", line);
            free(text);
        }
        diff_fail(c, "preview: %s", why);
    }
}

static void test_preview_matches_brute_force(void **state)
{
    (void)state;
    size_t n = scenarios(PREVIEW_SCENARIOS), ran = 0;
    uint64_t changes = 0;
    for (size_t i = 0; i < n; i++) {
        if (!run_scenario(i))
            continue;
        diff_ctx c;
        diff_open(&c, "preview", i, 0);
        for (int k = 0; k < PREVIEW_PROPOSALS; k++) {
            /* Half of the proposals replace an action of the snapshot. */
            const char *id = NULL;
            size_t n_active = cutoff_snapshot_action_count(c.snap);
            if (n_active > 0 && scenario_rng_chance(&c.sc.rng, 50))
                id = cutoff_snapshot_action(c.snap, scenario_rng_below(&c.sc.rng, n_active))->id;
            int64_t activation =
                c.sc.base_time + scenario_rng_range(&c.sc.rng, -20 * 86400, 20 * 86400);
            const cutoff_action_spec *p = scenario_random_action(&c.sc, id, activation);
            cutoff_preview *pv = NULL;
            cutoff_diag diag;
            memset(&diag, 0, sizeof diag);
            int rc = cutoff_preview_compute(c.snap, p, activation, &pv, &diag);
            if (rc != 0)
                diff_fail(&c, "cutoff_preview_compute: %s: %s", cutoff_errname(rc), diag.message);
            brute b;
            brute_force(&c, p, activation, &b);
            compare_preview(&c, p, activation, pv, &b);
            changes += pv->subscriptions_changed;
            free(b.changed);
            cutoff_preview_free(pv);
        }
        ran++;
        diff_close(&c);
    }
    printf("# %zu scenarios, %d proposals each, %" PRIu64 " subscriptions changed in all\n", ran,
           PREVIEW_PROPOSALS, changes);
    if (only_scenario < 0 && n >= 50)
        assert_true(changes > 0);
}

/* The reference itself on a case small enough to check by hand, so that a
 * reference that drifted from docs/design.md cannot hide behind agreement. */
static void test_reference_by_hand(void **state)
{
    (void)state;
    static const cutoff_catalog_action acts[] = {{"storage.read", CUTOFF_CLASS_READ},
                                                 {"storage.write", CUTOFF_CLASS_WRITE},
                                                 {"ai.transcribe", CUTOFF_CLASS_WRITE},
                                                 {"security.scan", CUTOFF_CLASS_READ}};
    static const char *const regions[] = {"eu-netherlands", "us-east"};
    static const char *const lab_services[] = {"security.*"};
    static const cutoff_plan_spec plans[] = {{"security-only", lab_services, 1}};
    cutoff_catalog_spec cat = {acts, 4, regions, 2, plans, 1};
    static const cutoff_node_spec nodes[] = {
        {"imod", CUTOFF_NODE_TENANT, NULL, NULL, NULL},
        {"unit-8200", CUTOFF_NODE_UNIT, "imod", NULL, NULL},
        {"sub-1", CUTOFF_NODE_SUBSCRIPTION, "unit-8200", NULL, NULL},
        {"sub-2", CUTOFF_NODE_SUBSCRIPTION, "imod", NULL, NULL},
        {"lab", CUTOFF_NODE_UNIT, "imod", NULL, "security-only"},
        {"sub-3", CUTOFF_NODE_SUBSCRIPTION, "lab", NULL, NULL},
    };
    static const char *const scope[] = {"unit-8200"};
    static const char *const deny[] = {"storage.*", "ai.*"};
    static const char *const except[] = {"security.*"};
    static const char *const eu[] = {"eu-*"};
    const int64_t t0 = 1758801600, t1 = t0 + 30 * 86400;
    cutoff_phase_spec phases[] = {{t0, 0, CUTOFF_MODE_READ_ONLY}, {t1, 0, CUTOFF_MODE_SUSPEND}};
    cutoff_action_spec ea10 = {.id = "EA-10",
                               .scope = scope,
                               .n_scope = 1,
                               .deny = deny,
                               .n_deny = 2,
                               .except = except,
                               .n_except = 1,
                               .regions = eu,
                               .n_regions = 1,
                               .phases = phases,
                               .n_phases = 2,
                               .state = CUTOFF_STATE_ACTIVE};
    /* Same shape, id EA-9 (byte-wise after EA-10), suspends from +1h after
     * activation at t0, but is only a draft. */
    cutoff_phase_spec rel[] = {{3600, 1, CUTOFF_MODE_SUSPEND}};
    cutoff_action_spec ea9 = ea10;
    ea9.id = "EA-9";
    ea9.phases = rel;
    ea9.n_phases = 1;
    ea9.regions = NULL;
    ea9.n_regions = 0;
    ea9.state = CUTOFF_STATE_DRAFT;
    ea9.activated_at = t0;
    const cutoff_action_spec *list[] = {&ea10, &ea9};
    ref_world w = {&cat, nodes, 6, list, 2};
    ref_verdict v;

    ref_check(&w, "sub-1", "storage.write", "eu-netherlands", t0 - 1, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_ALLOW);
    ref_check(&w, "sub-1", "storage.write", "eu-netherlands", t0, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_READ_ONLY);
    assert_ptr_equal(v.by, &ea10);
    assert_true(v.since == t0 && v.until == t1);
    ref_check(&w, "sub-1", "storage.read", "eu-netherlands", t0, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_ALLOW);
    ref_check(&w, "sub-1", "storage.read", "eu-netherlands", t1, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_SUSPENDED);
    assert_true(v.since == t1 && v.until == CUTOFF_TIME_NEVER);
    ref_check(&w, "sub-1", "security.scan", "eu-netherlands", t1, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_ALLOW);
    ref_check(&w, "sub-1", "storage.write", "us-east", t1, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_ALLOW);
    ref_check(&w, "sub-1", "storage.write", NULL, t1, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_ALLOW);
    ref_check(&w, "sub-2", "storage.write", "eu-netherlands", t1, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_ALLOW);
    ref_check(&w, "unit-8200", "storage.write", "eu-netherlands", t1, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_UNKNOWN_SUBSCRIPTION);
    ref_check(&w, "sub-1", "storage.delete", "eu-netherlands", t1, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_UNKNOWN_ACTION);
    ref_check(&w, "sub-3", "storage.read", NULL, t1, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_NOT_ENTITLED);
    ref_check(&w, "sub-3", "security.scan", NULL, t1, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_ALLOW);

    /* Activate EA-9: from t0+1h it suspends everywhere; suspended beats
     * read_only, and when both suspend, "EA-10" < "EA-9" decides. */
    ea9.state = CUTOFF_STATE_ACTIVE;
    ref_check(&w, "sub-1", "storage.write", "eu-netherlands", t0 + 3599, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_READ_ONLY);
    assert_ptr_equal(v.by, &ea10);
    ref_check(&w, "sub-1", "storage.write", "eu-netherlands", t0 + 3600, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_SUSPENDED);
    assert_ptr_equal(v.by, &ea9);
    assert_true(v.since == t0 + 3600 && v.until == CUTOFF_TIME_NEVER);
    ref_check(&w, "sub-1", "storage.write", "eu-netherlands", t1, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_SUSPENDED);
    assert_ptr_equal(v.by, &ea10);
    ref_check(&w, "sub-1", "storage.write", NULL, t1, &v);
    assert_ptr_equal(v.by, &ea9);
}

static int setup_seed(void **state)
{
    (void)state;
    const char *env = getenv("CUTOFF_SEED");
    if (env != NULL && *env != '\0')
        base_seed = strtoull(env, NULL, 0);
    else
        base_seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
    env = getenv("CUTOFF_SCENARIO");
    if (env != NULL && *env != '\0')
        only_scenario = strtol(env, NULL, 10);
    env = getenv("CUTOFF_SCENARIOS");
    if (env != NULL && *env != '\0')
        scenario_count = strtol(env, NULL, 10);
    printf("# differential seed: CUTOFF_SEED=%" PRIu64 "\n", base_seed);
    fflush(stdout);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_by_hand),
        cmocka_unit_test(test_check_matches_reference),
        cmocka_unit_test(test_preview_matches_brute_force),
    };
    return cmocka_run_group_tests(tests, setup_seed, NULL);
}
