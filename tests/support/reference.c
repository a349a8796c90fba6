/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reference.c - the reference evaluator: the decision contract of docs/design.md
 * executed literally over plain specs, so that the fast engine can be
 * compared with something a reader can check line by line. Nothing here is
 * indexed, cached or precompiled: nodes are found by linear scan, ancestors
 * by walking parents, plans by walking up, and every action is looked at
 * for every request.
 *
 * The contract (docs/design.md, "The decision contract"), for a request (s, a, r, t):
 *
 *   [1] s not in the tree -> deny unknown_subscription. a not in the
 *       catalog -> deny unknown_action. (Fail closed.) Only a node of kind
 *       subscription is a subscription.
 *   [2] The plan inherited by s (the plan of its nearest ancestor, s
 *       included, that sets one) does not cover a -> deny not_entitled. A
 *       subscription under no plan is entitled to everything.
 *   [3] Among the *active* enforcement actions
 *       [3a] whose scope contains s (a scope node is s or an ancestor of s),
 *       [3b] whose regions match r (regions absent or "*" match every
 *            request; otherwise r must match one listed pattern, a name or
 *            a prefix form like "eu-*"; a request naming no region matches
 *            only "*"),
 *       [3c] whose deny patterns match a and whose except patterns do not,
 *       [3d] take the phase in force at t: the last phase whose start is
 *            <= t (relative phases start at activated_at + offset); before
 *            the first phase the action does not bite;
 *       [3e] "suspend" denies (suspended); "read-only" denies (read_only)
 *            unless a is of class read; "off" does not deny.
 *       [3f] If several deny, suspended beats read_only; ties go to the
 *            byte-wise lowest action id (strcmp).
 *       The verdict names the deciding action, since = start of its phase
 *       in force, until = start of its next phase or CUTOFF_TIME_NEVER.
 *   [4] Otherwise allow.
 */
#include "reference.h"

#include <string.h>

const cutoff_node_spec *ref_find_node(const ref_world *w, const char *id)
{
    const cutoff_node_spec *found = NULL;
    if (id == NULL)
        return NULL;
    /* The last spec with the id wins: later specs update earlier ones. */
    for (size_t i = 0; i < w->n_nodes; i++)
        if (strcmp(w->nodes[i].id, id) == 0)
            found = &w->nodes[i];
    return found;
}

const cutoff_catalog_action *ref_find_action(const ref_world *w, const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < w->catalog->n_actions; i++)
        if (strcmp(w->catalog->actions[i].name, name) == 0)
            return &w->catalog->actions[i];
    return NULL;
}

size_t ref_path(const ref_world *w, const char *id, const cutoff_node_spec *path[REF_MAX_PATH])
{
    size_t n = 0;
    const cutoff_node_spec *node = ref_find_node(w, id);
    while (node != NULL && n < REF_MAX_PATH) {
        path[n++] = node;
        node = node->parent ? ref_find_node(w, node->parent) : NULL;
    }
    return n;
}

/* [2] the nearest node on the way up that sets a plan. */
const char *ref_inherited_plan(const cutoff_node_spec *const *path, size_t n_path,
                               const char **from)
{
    for (size_t i = 0; i < n_path; i++) {
        if (path[i]->plan != NULL) {
            if (from)
                *from = path[i]->id;
            return path[i]->plan;
        }
    }
    if (from)
        *from = NULL;
    return NULL;
}

/* [2] under no plan: everything; under a plan: what one of its patterns
 * matches. A plan name the catalog does not have entitles to nothing. */
int ref_entitled(const ref_world *w, const char *plan, const char *action)
{
    if (plan == NULL)
        return 1;
    for (size_t i = 0; i < w->catalog->n_plans; i++) {
        const cutoff_plan_spec *p = &w->catalog->plans[i];
        if (strcmp(p->name, plan) != 0)
            continue;
        for (size_t j = 0; j < p->n_services; j++)
            if (cutoff_pattern_match(p->services[j], action))
                return 1;
        return 0;
    }
    return 0;
}

void ref_action_effect(const cutoff_action_spec *a, const cutoff_node_spec *const *path,
                       size_t n_path, const cutoff_catalog_action *act, const char *action_name,
                       const char *region, int64_t t, ref_effect *out)
{
    memset(out, 0, sizeof *out);

    /* [3a] the first scope node (in scope order) found on the way up. */
    for (size_t i = 0; i < a->n_scope && out->scope_node == NULL; i++)
        for (size_t j = 0; j < n_path; j++)
            if (strcmp(a->scope[i], path[j]->id) == 0) {
                out->scope_node = a->scope[i];
                break;
            }

    /* [3b] */
    if (a->n_regions == 0) {
        out->region_match = 1;
    } else {
        for (size_t i = 0; i < a->n_regions; i++)
            if (cutoff_region_match(a->regions[i], region))
                out->region_match = 1;
    }

    /* [3c] */
    for (size_t i = 0; i < a->n_deny && out->deny_pattern == NULL; i++)
        if (cutoff_pattern_match(a->deny[i], action_name))
            out->deny_pattern = a->deny[i];
    for (size_t i = 0; i < a->n_except && out->except_pattern == NULL; i++)
        if (cutoff_pattern_match(a->except[i], action_name))
            out->except_pattern = a->except[i];

    /* [3d] the last phase whose start is <= t. */
    out->phase = -1;
    out->mode = CUTOFF_MODE_OFF;
    out->since = 0;
    out->until = a->n_phases > 0 ? cutoff_phase_start(a, 0, 0) : CUTOFF_TIME_NEVER;
    for (size_t i = 0; i < a->n_phases; i++) {
        if (cutoff_phase_start(a, i, 0) <= t) {
            out->phase = (long)i;
            out->mode = a->phases[i].mode;
            out->since = cutoff_phase_start(a, i, 0);
            out->until = i + 1 < a->n_phases ? cutoff_phase_start(a, i + 1, 0) : CUTOFF_TIME_NEVER;
        }
    }

    /* [3e] */
    out->effect = CUTOFF_REASON_ALLOW;
    if (out->scope_node == NULL || !out->region_match || out->deny_pattern == NULL ||
        out->except_pattern != NULL || out->phase < 0)
        return;
    if (out->mode == CUTOFF_MODE_SUSPEND)
        out->effect = CUTOFF_REASON_SUSPENDED;
    else if (out->mode == CUTOFF_MODE_READ_ONLY && !(act && act->cls == CUTOFF_CLASS_READ))
        out->effect = CUTOFF_REASON_READ_ONLY;
}

/* [3f] 2 for suspended, 1 for read_only, 0 for no denial. */
static int severity(cutoff_reason r)
{
    return r == CUTOFF_REASON_SUSPENDED ? 2 : r == CUTOFF_REASON_READ_ONLY ? 1 : 0;
}

int ref_in_force(const cutoff_action_spec *a)
{
    return a->state == CUTOFF_STATE_ACTIVE || a->state == CUTOFF_STATE_EXPIRED;
}

void ref_check_path(const ref_world *w, const cutoff_node_spec *const *path, size_t n_path,
                    const char *action, const char *region, int64_t t, ref_verdict *out)
{
    memset(out, 0, sizeof *out);

    /* [1] */
    if (n_path == 0 || path[0]->kind != CUTOFF_NODE_SUBSCRIPTION) {
        out->reason = CUTOFF_REASON_UNKNOWN_SUBSCRIPTION;
        return;
    }
    const cutoff_catalog_action *act = ref_find_action(w, action);
    if (act == NULL) {
        out->reason = CUTOFF_REASON_UNKNOWN_ACTION;
        return;
    }

    /* [2] */
    if (!ref_entitled(w, ref_inherited_plan(path, n_path, NULL), action)) {
        out->reason = CUTOFF_REASON_NOT_ENTITLED;
        return;
    }

    /* [3] */
    const cutoff_action_spec *best = NULL;
    ref_effect best_effect = {0};
    for (size_t i = 0; i < w->n_actions; i++) {
        const cutoff_action_spec *a = w->actions[i];
        if (!ref_in_force(a))
            continue;
        ref_effect e;
        ref_action_effect(a, path, n_path, act, action, region, t, &e);
        if (severity(e.effect) == 0)
            continue;
        int better =
            best == NULL || severity(e.effect) > severity(best_effect.effect) ||
            (severity(e.effect) == severity(best_effect.effect) && strcmp(a->id, best->id) < 0);
        if (better) {
            best = a;
            best_effect = e;
        }
    }
    if (best != NULL) {
        out->reason = best_effect.effect;
        out->by = best;
        out->since = best_effect.since;
        out->until = best_effect.until;
        return;
    }

    /* [4] */
    out->reason = CUTOFF_REASON_ALLOW;
}

void ref_check(const ref_world *w, const char *subscription, const char *action, const char *region,
               int64_t t, ref_verdict *out)
{
    const cutoff_node_spec *path[REF_MAX_PATH];
    size_t n = ref_path(w, subscription, path);
    ref_check_path(w, path, n, action, region, t, out);
}
