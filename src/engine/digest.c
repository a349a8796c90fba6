/* SPDX-License-Identifier: Apache-2.0 */
/*
 * digest.c - a snapshot's digest: one hash of everything that decides, so
 * that decision nodes can prove to each other (through their receipts)
 * that they enforce the same state.
 *
 * It covers the catalog as compiled (action names and classes, regions,
 * plans and what each plan entitles), every node (id, kind, parent id,
 * the plan it sets itself) and every compiled action (id, version, state,
 * activation, status, scope, deny, except, regions, phases and notice).
 * It does not depend on the order nodes were added in: each node is hashed
 * alone and the node hashes are summed (a multiset hash), so a tree built
 * from the same rows in another order has the same digest. Node names do
 * not decide and are left out. The digest detects divergence; it is not a
 * cryptographic commitment (XXH3-128).
 */
#include "engine/engine_int.h"

#include <stdio.h>

/* Adds a length-prefixed string (NULL and "" differ) to the state. */
static void add_str(XXH3_state_t *st, const char *s)
{
    uint64_t len = s ? strlen(s) + 1 : 0;
    XXH3_128bits_update(st, &len, sizeof len);
    if (s)
        XXH3_128bits_update(st, s, len - 1);
}

static void add_u64(XXH3_state_t *st, uint64_t v)
{
    XXH3_128bits_update(st, &v, sizeof v);
}

static void add_strs(XXH3_state_t *st, const char *const *v, size_t n)
{
    add_u64(st, n);
    for (size_t i = 0; i < n; i++)
        add_str(st, v[i]);
}

/* The hash of one node, alone. */
static XXH128_hash_t node_hash(const cutoff_tree *t, uint32_t pos)
{
    const co__node *node = &t->nodes[pos];
    const char *id = co__tree_id(t, pos);
    const char *parent = node->parent == CO_NONE ? NULL : co__tree_id(t, node->parent);
    size_t id_len = strlen(id), parent_len = parent ? strlen(parent) : 0;
    uint32_t own_plan = (node->kind & CO_OWN_PLAN) ? node->plan : 0;
    char buf[2 * 256 + 16];
    size_t n = 0;
    buf[n++] = (char)CO_KIND(node->kind);
    memcpy(buf + n, &own_plan, sizeof own_plan);
    n += sizeof own_plan;
    buf[n++] = (char)id_len;
    memcpy(buf + n, id, id_len);
    n += id_len;
    buf[n++] = parent ? 1 : 0;
    memcpy(buf + n, parent ? parent : "", parent_len);
    n += parent_len;
    return XXH3_128bits(buf, n);
}

static XXH128_hash_t tree_digest(const cutoff_tree *t)
{
    XXH3_state_t st;
    XXH3_128bits_reset(&st);
    add_u64(&st, t->n_actions);
    for (uint32_t i = 0; i < t->n_actions; i++) {
        add_str(&st, t->action_names[i]);
        add_u64(&st, t->action_class[i]);
    }
    add_strs(&st, (const char *const *)t->region_names, t->n_regions);
    add_strs(&st, (const char *const *)t->plan_names, t->n_plans);
    /* Rows 1..n_plans: what each plan entitles (row 0, no plan, is fixed). */
    XXH3_128bits_update(&st, t->plan_bits + t->words,
                        (size_t)t->n_plans * t->words * sizeof *t->plan_bits);
    /* The sum of the node hashes, as a 128-bit number. */
    uint64_t low = 0, high = 0;
    for (uint32_t pos = 0; pos < t->n_nodes; pos++) {
        XXH128_hash_t h = node_hash(t, pos);
        low += h.low64;
        high += h.high64 + (low < h.low64);
    }
    add_u64(&st, t->n_nodes);
    add_u64(&st, low);
    add_u64(&st, high);
    return XXH3_128bits_digest(&st);
}

/* The tree's digest, computed once: the first caller to finish publishes
 * it; another that raced it frees its own (equal) copy. */
static int tree_digest_get(cutoff_tree *t, XXH128_hash_t *out)
{
    XXH128_hash_t *d = atomic_load_explicit(&t->digest, memory_order_acquire);
    if (d == NULL) {
        XXH128_hash_t *mine = co__malloc(sizeof *mine);
        if (mine == NULL)
            return CUTOFF_ENOMEM;
        *mine = tree_digest(t);
        if (atomic_compare_exchange_strong_explicit(&t->digest, &d, mine, memory_order_acq_rel,
                                                    memory_order_acquire))
            d = mine;
        else
            co__free(mine);
    }
    *out = *d;
    return 0;
}

static void add_action(XXH3_state_t *st, const cutoff_action_spec *a)
{
    add_str(st, a->id);
    add_str(st, a->case_id);
    add_u64(st, (uint64_t)a->version);
    add_u64(st, (uint64_t)a->state);
    add_u64(st, (uint64_t)a->activated_at);
    add_u64(st, (uint64_t)a->status);
    add_strs(st, a->scope, a->n_scope);
    add_strs(st, a->deny, a->n_deny);
    add_strs(st, a->except, a->n_except);
    add_strs(st, a->regions, a->n_regions);
    add_u64(st, a->n_phases);
    for (size_t i = 0; i < a->n_phases; i++) {
        add_u64(st, (uint64_t)a->phases[i].at);
        add_u64(st, (uint64_t)a->phases[i].relative);
        add_u64(st, (uint64_t)a->phases[i].mode);
    }
    add_str(st, a->notice.summary);
    add_str(st, a->notice.terms);
    add_str(st, a->notice.contact);
    add_str(st, a->notice.ref);
}

int cutoff_snapshot_digest(const cutoff_snapshot *s, char *buf, size_t size)
{
    if (s == NULL || buf == NULL || size < CUTOFF_DIGEST_SIZE)
        return CUTOFF_EINVAL;
    XXH128_hash_t tree;
    int rc = tree_digest_get(s->tree, &tree);
    if (rc != 0)
        return rc;
    XXH3_state_t st;
    XXH3_128bits_reset(&st);
    add_u64(&st, tree.high64);
    add_u64(&st, tree.low64);
    add_u64(&st, s->n_actions);
    for (uint32_t i = 0; i < s->n_actions; i++)
        add_action(&st, s->actions[i].spec);
    XXH128_hash_t d = XXH3_128bits_digest(&st);
    snprintf(buf, size, "%016llx%016llx", (unsigned long long)d.high64,
             (unsigned long long)d.low64);
    return 0;
}
