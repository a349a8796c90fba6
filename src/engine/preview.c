/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preview.c - the blast radius of a proposed action, computed rather than
 * estimated.
 *
 * The proposal is compiled into a second snapshot next to the current one.
 * Two subscriptions with the same plan, the same group of actions before
 * and the same group after get the same decision for every request, so the
 * preview sweeps the positions the proposal touches once, sorts the
 * subscriptions into such classes, and decides one representative of each
 * class both ways for every catalog action, every catalog region (and no
 * region) and the start of every phase of the proposal. The counts are then
 * exact for every subscription, at the cost of one pass over the scope.
 */
#include "engine/engine_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct preview_class {
    uint32_t before, after; /* groups */
    uint16_t plan;
    bool any; /* some action changes in some phase */
    uint64_t count;
    uint8_t *mask;        /* [action * n_phases + phase]: 1 when it changes */
    const char **changed; /* names of the actions that change */
    size_t n_changed;
} preview_class;

typedef struct preview_impl {
    cutoff_preview pub; /* first, so the public pointer is the impl's */
    cutoff_snapshot *before, *after;
    co__range *ranges; /* positions to sweep: the proposal's scope, and
                          the replaced version's scope */
    uint32_t n_ranges;
    preview_class *classes;
    uint32_t n_classes, cap_classes;
    uint32_t *slots; /* class index + 1 */
    uint32_t slot_mask;
} preview_impl;

void cutoff_preview_free(cutoff_preview *p)
{
    preview_impl *x = (preview_impl *)p;
    if (x == NULL)
        return;
    for (uint32_t i = 0; i < x->n_classes; i++) {
        co__free(x->classes[i].changed);
        co__free(x->classes[i].mask);
    }
    co__free(x->classes);
    co__free(x->slots);
    co__free(x->ranges);
    for (size_t i = 0; i < p->n_lines; i++)
        co__free(p->lines[i].changed_in_phase);
    co__free(p->lines);
    co__free(p->phases);
    cutoff_snapshot_release(x->before);
    cutoff_snapshot_release(x->after);
    co__free(x);
}

static int first_pattern(const char *const *patterns, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (cutoff_pattern_match(patterns[i], name))
            return 1;
    return 0;
}

static const co__enforcement *find_action(const cutoff_snapshot *s, const char *id)
{
    for (uint32_t i = 0; i < s->n_actions; i++)
        if (strcmp(s->actions[i].spec->id, id) == 0)
            return &s->actions[i];
    return NULL;
}

/* The group of pos and the first position where it may change. */
static uint32_t group_span(const cutoff_snapshot *s, uint32_t pos, uint32_t *until)
{
    uint32_t lo = 0, hi = s->n_bp;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (s->bp[mid] <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    *until = lo < s->n_bp ? s->bp[lo] : UINT32_MAX;
    return s->seg_group[lo];
}

static uint32_t class_hash(uint32_t before, uint32_t after, uint16_t plan)
{
    uint32_t key[3] = {before, after, plan};
    return (uint32_t)co__hash(key, sizeof key);
}

static int grow_slots(preview_impl *x)
{
    uint32_t n = (x->slot_mask + 1) * 2;
    uint32_t *s = co__calloc(n, sizeof *s);
    if (s == NULL)
        return CUTOFF_ENOMEM;
    for (uint32_t i = 0; i < x->n_classes; i++) {
        const preview_class *c = &x->classes[i];
        uint32_t h = class_hash(c->before, c->after, c->plan) & (n - 1);
        while (s[h])
            h = (h + 1) & (n - 1);
        s[h] = i + 1;
    }
    co__free(x->slots);
    x->slots = s;
    x->slot_mask = n - 1;
    return 0;
}

/* Decides a new class both ways: for every action, phase start and region
 * (and no region), whether the reason differs. */
static int evaluate_class(preview_impl *x, preview_class *c)
{
    const cutoff_tree *t = x->before->tree;
    const cutoff_preview *p = &x->pub;
    c->changed = co__calloc(t->n_actions + 1, sizeof *c->changed);
    c->mask = co__calloc((size_t)t->n_actions * p->n_phases + 1, 1);
    if (c->changed == NULL || c->mask == NULL)
        return CUTOFF_ENOMEM;
    for (uint32_t a = 0; a < t->n_actions; a++) {
        bool action_changes = false;
        for (size_t ph = 0; ph < p->n_phases; ph++) {
            bool changes = false;
            for (uint32_t r = 0; r <= t->n_regions && !changes; r++) {
                uint32_t region = r == t->n_regions ? CO_NONE : r;
                cutoff_verdict vb, va;
                co__decide(x->before, c->plan, c->before, a, region, NULL, p->phases[ph].at, &vb);
                co__decide(x->after, c->plan, c->after, a, region, NULL, p->phases[ph].at, &va);
                changes = vb.reason != va.reason;
            }
            c->mask[(size_t)a * p->n_phases + ph] = changes;
            action_changes |= changes;
        }
        if (action_changes)
            c->changed[c->n_changed++] = t->action_names[a];
    }
    c->any = c->n_changed > 0;
    return 0;
}

/* The class of a subscription, created (and evaluated) on first sight. */
static int class_of(preview_impl *x, uint32_t before, uint32_t after, uint16_t plan, uint32_t *out)
{
    uint32_t h = class_hash(before, after, plan) & x->slot_mask;
    for (;; h = (h + 1) & x->slot_mask) {
        uint32_t v = x->slots[h];
        if (v == 0)
            break;
        const preview_class *c = &x->classes[v - 1];
        if (c->before == before && c->after == after && c->plan == plan) {
            *out = v - 1;
            return 0;
        }
    }
    if (x->n_classes == x->cap_classes) {
        uint32_t cap = x->cap_classes ? x->cap_classes * 2 : 16;
        preview_class *c = co__realloc(x->classes, cap * sizeof *c);
        if (c == NULL)
            return CUTOFF_ENOMEM;
        x->classes = c;
        x->cap_classes = cap;
    }
    preview_class *c = &x->classes[x->n_classes];
    *c = (preview_class){.before = before, .after = after, .plan = plan};
    int rc = evaluate_class(x, c);
    if (rc != 0) {
        co__free(c->changed);
        co__free(c->mask);
        return rc;
    }
    x->slots[h] = x->n_classes + 1;
    *out = x->n_classes++;
    if ((uint64_t)x->n_classes * 2 > x->slot_mask && (rc = grow_slots(x)) != 0)
        return rc;
    return 0;
}

/* Walks every subscription of the sweep ranges in tree order, calling
 * visit with its position and class. Stops early when visit returns > 0. */
typedef int (*visit_fn)(preview_impl *x, uint32_t pos, uint32_t cls, void *ctx);

static int sweep(preview_impl *x, visit_fn visit, void *ctx)
{
    const cutoff_tree *t = x->before->tree;
    int rc = 0;
    uint32_t last_b = CO_NONE, last_a = CO_NONE, last_cls = CO_NONE;
    uint16_t last_plan = 0;
    for (uint32_t r = 0; r < x->n_ranges; r++) {
        uint32_t until_b = 0, until_a = 0, gb = 0, ga = 0;
        for (uint32_t pos = x->ranges[r].lo; pos < x->ranges[r].hi; pos++) {
            const co__node *n = &t->nodes[pos];
            if (CO_KIND(n->kind) != CUTOFF_NODE_SUBSCRIPTION)
                continue;
            if (pos >= until_b || pos == x->ranges[r].lo)
                gb = group_span(x->before, pos, &until_b);
            if (pos >= until_a || pos == x->ranges[r].lo)
                ga = group_span(x->after, pos, &until_a);
            uint32_t cls = last_cls;
            if (gb != last_b || ga != last_a || n->plan != last_plan || cls == CO_NONE) {
                if ((rc = class_of(x, gb, ga, n->plan, &cls)) != 0)
                    return rc;
                last_b = gb, last_a = ga, last_plan = n->plan, last_cls = cls;
            }
            if ((rc = visit(x, pos, cls, ctx)) != 0)
                return rc < 0 ? rc : 0;
        }
    }
    return 0;
}

static int count_visit(preview_impl *x, uint32_t pos, uint32_t cls, void *ctx)
{
    (void)pos;
    (void)ctx;
    x->classes[cls].count++;
    return 0;
}

/* Merges the scope ranges of the proposal and of the version it replaces. */
static int sweep_ranges(preview_impl *x, const co__enforcement *proposed,
                        const co__enforcement *replaced)
{
    uint32_t n = proposed->n_ranges + (replaced ? replaced->n_ranges : 0);
    x->ranges = co__calloc(n + 1, sizeof *x->ranges);
    if (x->ranges == NULL)
        return CUTOFF_ENOMEM;
    co__range *all = x->ranges;
    memcpy(all, proposed->ranges, proposed->n_ranges * sizeof *all);
    if (replaced)
        memcpy(all + proposed->n_ranges, replaced->ranges, replaced->n_ranges * sizeof *all);
    /* insertion sort: a handful of ranges */
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && all[j - 1].lo > all[j].lo; j--) {
            co__range tmp = all[j];
            all[j] = all[j - 1];
            all[j - 1] = tmp;
        }
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (m > 0 && all[i].lo <= all[m - 1].hi) {
            if (all[i].hi > all[m - 1].hi)
                all[m - 1].hi = all[i].hi;
        } else {
            all[m++] = all[i];
        }
    }
    x->n_ranges = m;
    return 0;
}

int cutoff_preview_compute(const cutoff_snapshot *current, const cutoff_action_spec *proposed,
                           int64_t activation, cutoff_preview **out, cutoff_diag *diag)
{
    co__diag_clear(diag);
    if (proposed == NULL || proposed->id == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "the proposed action has no id");
    int rc = CUTOFF_ENOMEM;
    const cutoff_tree *t = current->tree;
    preview_impl *x = co__calloc(1, sizeof *x);
    const cutoff_action_spec **list = co__calloc(current->n_actions + 2, sizeof *list);
    if (!x || !list)
        goto fail;
    cutoff_snapshot_retain(current);
    x->before = (cutoff_snapshot *)current;

    /* The state after: the current actions with the proposal in place of
     * any version of the same id. */
    cutoff_action_spec candidate = *proposed;
    candidate.state = CUTOFF_STATE_ACTIVE;
    candidate.activated_at = activation;
    size_t n = 0;
    for (uint32_t i = 0; i < current->n_actions; i++)
        if (strcmp(current->actions[i].spec->id, proposed->id) != 0)
            list[n++] = current->actions[i].spec;
    list[n++] = &candidate;
    if ((rc = cutoff_snapshot_build(current->tree, list, n, &x->after, diag)) != 0)
        goto fail;
    rc = CUTOFF_ENOMEM;

    const co__enforcement *e = find_action(x->after, proposed->id);
    cutoff_preview *p = &x->pub;
    p->n_phases = e->n_phases;
    p->phases = co__calloc(e->n_phases + 1, sizeof *p->phases);
    p->lines = co__calloc(t->n_actions + 1, sizeof *p->lines);
    p->n_lines = p->lines ? t->n_actions : 0;
    x->slot_mask = 63;
    x->slots = co__calloc(x->slot_mask + 1, sizeof *x->slots);
    if (!p->phases || !p->lines || !x->slots)
        goto fail;
    for (uint32_t i = 0; i < e->n_phases; i++)
        p->phases[i] = (cutoff_preview_phase){e->starts[i], (cutoff_mode)e->modes[i]};
    for (uint32_t a = 0; a < t->n_actions; a++) {
        cutoff_preview_line *l = &p->lines[a];
        l->action = t->action_names[a];
        l->cls = (cutoff_action_class)t->action_class[a];
        l->excepted = first_pattern(proposed->except, proposed->n_except, l->action);
        l->targeted = co__bit(e->denied, a);
        l->changed_in_phase = co__calloc(e->n_phases + 1, sizeof *l->changed_in_phase);
        if (l->changed_in_phase == NULL)
            goto fail;
    }

    if ((rc = sweep_ranges(x, e, find_action(current, proposed->id))) != 0)
        goto fail;
    if ((rc = sweep(x, count_visit, NULL)) != 0)
        goto fail;

    for (uint32_t r = 0; r < e->n_ranges; r++)
        for (uint32_t pos = e->ranges[r].lo; pos < e->ranges[r].hi; pos++)
            p->subscriptions_in_scope += CO_KIND(t->nodes[pos].kind) == CUTOFF_NODE_SUBSCRIPTION;

    /* Totals per action and phase from the classes' masks. */
    for (uint32_t c = 0; c < x->n_classes; c++) {
        const preview_class *cl = &x->classes[c];
        if (!cl->any)
            continue;
        p->subscriptions_changed += cl->count;
        for (uint32_t a = 0; a < t->n_actions; a++) {
            bool changes = false;
            for (size_t ph = 0; ph < p->n_phases; ph++)
                if (cl->mask[(size_t)a * p->n_phases + ph]) {
                    p->lines[a].changed_in_phase[ph] += cl->count;
                    changes = true;
                }
            if (changes)
                p->lines[a].changed += cl->count;
        }
    }
    for (size_t a = 0; a < p->n_lines; a++)
        if (p->lines[a].excepted)
            p->excepted_changes += p->lines[a].changed;
    p->excepted_unchanged = p->excepted_changes == 0;

    co__free(list);
    *out = p;
    return 0;
fail:
    co__free(list);
    cutoff_preview_free((cutoff_preview *)x); /* pub is x's first member; x may be NULL */
    return rc;
}

typedef struct page_ctx {
    size_t skip, limit, n;
    cutoff_preview_change *out;
} page_ctx;

static int page_visit(preview_impl *x, uint32_t pos, uint32_t cls, void *ctx)
{
    page_ctx *pc = ctx;
    const preview_class *c = &x->classes[cls];
    if (!c->any)
        return 0;
    if (pc->skip > 0) {
        pc->skip--;
        return 0;
    }
    if (pc->n == pc->limit)
        return 1;
    pc->out[pc->n++] =
        (cutoff_preview_change){co__tree_id(x->before->tree, pos), c->changed, c->n_changed};
    return 0;
}

int cutoff_preview_changes(const cutoff_preview *p, size_t offset, size_t limit,
                           cutoff_preview_change *out, size_t *n)
{
    preview_impl *x = (preview_impl *)p;
    page_ctx pc = {offset, limit, 0, out};
    *n = 0;
    if (limit == 0 || offset >= p->subscriptions_changed)
        return 0;
    int rc = sweep(x, page_visit, &pc);
    *n = pc.n;
    return rc;
}
