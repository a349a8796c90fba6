/* SPDX-License-Identifier: Apache-2.0 */
/*
 * explain.c - why a decision is what it is. Slow on purpose: it walks the
 * subscription's ancestors and every active action, reporting what each
 * part of each action matched, and names the action that decides. Its
 * verdict is the fast check's, so the two can never disagree silently.
 */
#include "engine/engine_int.h"

#include <string.h>

void cutoff_explanation_free(cutoff_explanation *e)
{
    if (e == NULL)
        return;
    co__free((void *)e->path);
    co__free(e->entries);
    co__free(e);
}

/* The first pattern of list that matches name, or NULL. */
static const char *first_match(const char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (cutoff_pattern_match(list[i], name))
            return list[i];
    return NULL;
}

int cutoff_explain(const cutoff_snapshot *s, const char *subscription, const char *action,
                   const char *region, int64_t t, cutoff_explanation **out)
{
    const cutoff_tree *tree = s->tree;
    cutoff_explanation *x = co__calloc(1, sizeof *x);
    if (x == NULL)
        return CUTOFF_ENOMEM;
    cutoff_check(s, subscription, action, region, t, &x->verdict);
    uint32_t pos = co__tree_pos(tree, subscription);
    if (pos == CO_NONE || CO_KIND(tree->nodes[pos].kind) != CUTOFF_NODE_SUBSCRIPTION) {
        *out = x;
        return 0;
    }

    size_t depth = 0;
    for (uint32_t p = pos; p != CO_NONE; p = tree->nodes[p].parent)
        depth++;
    const char **path = co__calloc(depth + 1, sizeof *path);
    x->entries = co__calloc(s->n_actions + 1, sizeof *x->entries);
    if (!path || !x->entries) {
        co__free(path);
        cutoff_explanation_free(x);
        return CUTOFF_ENOMEM;
    }
    x->path = path;
    for (uint32_t p = pos; p != CO_NONE; p = tree->nodes[p].parent) {
        path[x->n_path++] = co__tree_id(tree, p);
        if (!x->plan_from && (tree->nodes[p].kind & CO_OWN_PLAN)) {
            x->plan_from = co__tree_id(tree, p);
            x->plan = tree->plan_names[tree->nodes[p].plan - 1];
        }
    }

    uint32_t act = co__name_map_find(&tree->action_map, action, strlen(action));
    x->entitled = act != CO_NONE && x->verdict.reason != CUTOFF_REASON_NOT_ENTITLED;
    if (act == CO_NONE) {
        *out = x;
        return 0;
    }
    uint32_t reg = CO_NONE;
    if (region != NULL) {
        reg = co__name_map_find(&tree->region_map, region, strlen(region));
        if (reg == CO_NONE)
            reg = CO_UNKNOWN_REGION;
    }
    bool is_read = tree->action_class[act] == CUTOFF_CLASS_READ;
    for (uint32_t i = 0; i < s->n_actions; i++) {
        const co__enforcement *e = &s->actions[i];
        const char *scope_node = NULL;
        for (size_t k = 0; k < e->spec->n_scope && !scope_node; k++)
            for (size_t d = 0; d < x->n_path && !scope_node; d++)
                if (strcmp(e->spec->scope[k], path[d]) == 0)
                    scope_node = path[d];
        if (scope_node == NULL)
            continue;
        cutoff_explain_entry *en = &x->entries[x->n_entries++];
        en->action = e->spec;
        en->scope_node = scope_node;
        en->deny_pattern = first_match(e->spec->deny, e->spec->n_deny, action);
        en->except_pattern = first_match(e->spec->except, e->spec->n_except, action);
        en->region_match = co__region_applies(e, reg, region);
        int k = co__phase_at(e, t);
        en->mode = k < 0 ? CUTOFF_MODE_OFF : (cutoff_mode)e->modes[k];
        en->since = k < 0 ? 0 : e->starts[k];
        en->until = k + 1 < (int)e->n_phases ? e->starts[k + 1] : CUTOFF_TIME_NEVER;
        en->effect = CUTOFF_REASON_ALLOW;
        if (en->deny_pattern && !en->except_pattern && en->region_match && x->entitled) {
            if (en->mode == CUTOFF_MODE_SUSPEND)
                en->effect = CUTOFF_REASON_SUSPENDED;
            else if (en->mode == CUTOFF_MODE_READ_ONLY && !is_read)
                en->effect = CUTOFF_REASON_READ_ONLY;
        }
        en->decides = x->verdict.by == e->spec;
    }
    *out = x;
    return 0;
}
