/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shadow.c - shadow runs evaluated next to live decisions, and their
 * counts.
 *
 * For each run the set holds a snapshot of the live actions with the
 * run's draft added (in place of the version of its id in force), active
 * since the run started. After a live decision that allowed, the request
 * is checked against each run's snapshot; a denial there can only come
 * from the draft (every other action is the live one's), and is counted
 * in the run's tally. With several runs a combined snapshot (every draft
 * at once) is asked first: adding actions can only add denials, so when
 * it allows, no run's snapshot denies, and the common case costs one
 * check whatever the number of runs. The live decision itself is never
 * touched: observing comes after it and returns nothing.
 */
#include "engine/shadow.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

/* ===================================================================== */
/* Tallies                                                                */
/* ===================================================================== */

static size_t or_default(size_t v, size_t dflt)
{
    return v ? v : dflt;
}

int co__tally_new(const cutoff_shadow_limits *limits, co__tally **out)
{
    co__tally *t = co__calloc(1, sizeof *t);
    if (t == NULL)
        return CUTOFF_ENOMEM;
    cutoff_shadow_limits l = limits ? *limits : (cutoff_shadow_limits){0};
    t->limits.subscriptions = or_default(l.subscriptions, CO__SHADOW_DEFAULT_SUBSCRIPTIONS);
    t->limits.lines = or_default(l.lines, CO__SHADOW_DEFAULT_LINES);
    t->limits.per_subscription =
        or_default(l.per_subscription, CO__SHADOW_DEFAULT_PER_SUBSCRIPTION);
    t->limits.sample = or_default(l.sample, CO__SHADOW_DEFAULT_SAMPLE);
    /* Indexes into the tables are 32-bit. */
    if (t->limits.subscriptions > UINT32_MAX / 4)
        t->limits.subscriptions = UINT32_MAX / 4;
    if (t->limits.lines > UINT32_MAX / 4)
        t->limits.lines = UINT32_MAX / 4;
    t->ring = co__calloc(t->limits.sample, sizeof *t->ring);
    if (t->ring == NULL || pthread_mutex_init(&t->lock, NULL) != 0) {
        co__free(t->ring);
        co__free(t);
        return CUTOFF_ENOMEM;
    }
    atomic_init(&t->refs, 1);
    *out = t;
    return 0;
}

void co__tally_retain(co__tally *t)
{
    atomic_fetch_add(&t->refs, 1);
}

void co__tally_release(co__tally *t)
{
    if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    for (uint32_t i = 0; i < t->n_lines; i++)
        co__free(t->lines[i].action);
    for (uint32_t i = 0; i < t->n_subs; i++) {
        co__free(t->subs[i].id);
        co__free(t->subs[i].cells);
    }
    co__free(t->lines);
    co__free(t->line_slots);
    co__free(t->subs);
    co__free(t->sub_slots);
    co__free(t->ring);
    pthread_mutex_destroy(&t->lock);
    co__free(t);
}

void co__seen_add(co__seen *a, co__seen b)
{
    if (b.count == 0)
        return;
    if (a->count == 0 || b.first < a->first)
        a->first = b.first;
    if (a->count == 0 || b.last > a->last)
        a->last = b.last;
    a->count += b.count;
}

static uint64_t line_hash(const char *action, int phase)
{
    return co__hash(action, strlen(action)) ^ ((uint64_t)(unsigned)phase * 0x9e3779b97f4a7c15ull);
}

/* Doubles an open-addressing table of n entries (slots hold index + 1). */
static int regrow(uint32_t **slots, uint32_t *mask, uint32_t n,
                  uint64_t (*key)(const void *, uint32_t), const void *entries)
{
    uint32_t size = *slots ? (*mask + 1) * 2 : 64;
    uint32_t *s = co__calloc(size, sizeof *s);
    if (s == NULL)
        return CUTOFF_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t h = (uint32_t)key(entries, i) & (size - 1);
        while (s[h])
            h = (h + 1) & (size - 1);
        s[h] = i + 1;
    }
    co__free(*slots);
    *slots = s;
    *mask = size - 1;
    return 0;
}

static uint64_t line_key(const void *entries, uint32_t i)
{
    const co__tally_line *l = entries;
    return line_hash(l[i].action, l[i].phase);
}

static uint64_t sub_key(const void *entries, uint32_t i)
{
    const co__tally_sub *s = entries;
    return co__hash(s[i].id, strlen(s[i].id));
}

/* Room for one more entry in a table (entries and slots, kept under half
 * full). */
static int make_room(void **entries, uint32_t *cap, size_t size, uint32_t n, uint32_t **slots,
                     uint32_t *mask, uint64_t (*key)(const void *, uint32_t))
{
    if (n == *cap) {
        uint32_t c = *cap ? *cap * 2 : 16;
        void *e = co__realloc(*entries, (size_t)c * size);
        if (e == NULL)
            return CUTOFF_ENOMEM;
        *entries = e;
        *cap = c;
    }
    if (*slots == NULL || (uint64_t)(n + 1) * 2 > (uint64_t)*mask + 1)
        return regrow(slots, mask, n, key, *entries);
    return 0;
}

int co__tally_line_find(co__tally *t, const char *action, int phase, cutoff_mode mode,
                        uint32_t *index)
{
    uint64_t h = line_hash(action, phase);
    if (t->line_slots) {
        for (uint32_t i = (uint32_t)h & t->line_mask; t->line_slots[i];
             i = (i + 1) & t->line_mask) {
            const co__tally_line *l = &t->lines[t->line_slots[i] - 1];
            if (l->phase == phase && strcmp(l->action, action) == 0) {
                *index = t->line_slots[i] - 1;
                return 0;
            }
        }
    }
    if (t->n_lines >= t->limits.lines)
        return CUTOFF_ELIMIT;
    void *entries = t->lines;
    int rc = make_room(&entries, &t->cap_lines, sizeof *t->lines, t->n_lines, &t->line_slots,
                       &t->line_mask, line_key);
    t->lines = entries;
    if (rc != 0)
        return rc;
    char *name = co__strdup(action);
    if (name == NULL)
        return CUTOFF_ENOMEM;
    t->lines[t->n_lines] = (co__tally_line){.action = name, .phase = phase, .mode = mode};
    uint32_t i = (uint32_t)h & t->line_mask;
    while (t->line_slots[i])
        i = (i + 1) & t->line_mask;
    t->line_slots[i] = ++t->n_lines;
    *index = t->n_lines - 1;
    return 0;
}

int co__tally_sub_find(co__tally *t, const char *id, co__tally_sub **out)
{
    uint64_t h = co__hash(id, strlen(id));
    if (t->sub_slots) {
        for (uint32_t i = (uint32_t)h & t->sub_mask; t->sub_slots[i]; i = (i + 1) & t->sub_mask) {
            co__tally_sub *s = &t->subs[t->sub_slots[i] - 1];
            if (strcmp(s->id, id) == 0) {
                *out = s;
                return 0;
            }
        }
    }
    if (t->n_subs >= t->limits.subscriptions)
        return CUTOFF_ELIMIT;
    void *entries = t->subs;
    int rc = make_room(&entries, &t->cap_subs, sizeof *t->subs, t->n_subs, &t->sub_slots,
                       &t->sub_mask, sub_key);
    t->subs = entries;
    if (rc != 0)
        return rc;
    char *copy = co__strdup(id);
    if (copy == NULL)
        return CUTOFF_ENOMEM;
    t->subs[t->n_subs] = (co__tally_sub){.id = copy};
    uint32_t i = (uint32_t)h & t->sub_mask;
    while (t->sub_slots[i])
        i = (i + 1) & t->sub_mask;
    t->sub_slots[i] = ++t->n_subs;
    *out = &t->subs[t->n_subs - 1];
    return 0;
}

co__tally_sub *co__tally_sub_lookup(const co__tally *t, const char *id)
{
    uint64_t h = co__hash(id, strlen(id));
    for (uint32_t i = (uint32_t)h & t->sub_mask; t->sub_slots && t->sub_slots[i];
         i = (i + 1) & t->sub_mask)
        if (strcmp(t->subs[t->sub_slots[i] - 1].id, id) == 0)
            return &t->subs[t->sub_slots[i] - 1];
    return NULL;
}

int co__tally_cell_add(co__tally *t, co__tally_sub *sub, uint32_t line, co__seen seen)
{
    for (uint32_t i = 0; i < sub->n_cells; i++)
        if (sub->cells[i].line == line) {
            co__seen_add(&sub->cells[i].seen, seen);
            return 0;
        }
    if (sub->n_cells >= t->limits.per_subscription)
        return CUTOFF_ELIMIT;
    if (sub->n_cells == sub->cap_cells) {
        uint32_t c = sub->cap_cells ? sub->cap_cells * 2 : 2;
        co__tally_cell *cells = co__realloc(sub->cells, c * sizeof *cells);
        if (cells == NULL)
            return CUTOFF_ENOMEM;
        sub->cells = cells;
        sub->cap_cells = c;
    }
    sub->cells[sub->n_cells++] = (co__tally_cell){.line = line, .seen = seen};
    return 0;
}

void co__tally_sample_put(co__tally *t, const co__tally_sample *s)
{
    t->ring[t->ring_next] = *s;
    t->ring_next = (t->ring_next + 1) % t->limits.sample;
    if (t->ring_n < t->limits.sample)
        t->ring_n++;
}

static void copy_text(char *dst, size_t size, const char *src)
{
    size_t n = src ? strnlen(src, size - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

void co__tally_add(co__tally *t, const char *request_id, const char *subscription,
                   const char *action, int phase, cutoff_mode mode, const char *region, int64_t at)
{
    co__seen one = {1, at, at};
    pthread_mutex_lock(&t->lock);
    co__seen_add(&t->total, one);
    uint32_t line = 0;
    bool have_line = co__tally_line_find(t, action, phase, mode, &line) == 0;
    if (have_line)
        co__seen_add(&t->lines[line].seen, one);
    else
        t->lines_overflow++;
    co__tally_sub *sub = NULL;
    if (co__tally_sub_find(t, subscription, &sub) == 0) {
        co__seen_add(&sub->seen, one);
        if (!have_line || co__tally_cell_add(t, sub, line, one) != 0)
            sub->cells_overflow++;
    } else {
        t->subs_overflow++;
    }
    co__tally_sample s = {.at = at};
    copy_text(s.request_id, sizeof s.request_id, request_id);
    copy_text(s.subscription, sizeof s.subscription, subscription);
    copy_text(s.action, sizeof s.action, action);
    copy_text(s.region, sizeof s.region, region);
    co__tally_sample_put(t, &s);
    pthread_mutex_unlock(&t->lock);
}

/* ===================================================================== */
/* The set of runs                                                        */
/* ===================================================================== */

typedef struct shadow_entry {
    uint64_t run;
    cutoff_snapshot *snap;           /* live actions and this run's draft */
    const cutoff_action_spec *draft; /* borrowed from snap */
    co__tally *tally;
} shadow_entry;

struct cutoff_shadow {
    cutoff_snapshot *combined; /* every draft at once; NULL with one run */
    size_t n;
    shadow_entry *runs;
};

void cutoff_shadow_free(cutoff_shadow *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        cutoff_snapshot_release(s->runs[i].snap);
        co__tally_release(s->runs[i].tally);
    }
    cutoff_snapshot_release(s->combined);
    co__free(s->runs);
    co__free(s);
}

size_t cutoff_shadow_count(const cutoff_shadow *s)
{
    return s ? s->n : 0;
}

/* The live actions with drafts[n] added, each in place of the version of
 * its id (the drafts' ids are distinct). */
static int build_with(const cutoff_snapshot *live, const cutoff_action_spec *const *drafts,
                      size_t n, cutoff_snapshot **out, cutoff_diag *diag)
{
    size_t n_live = cutoff_snapshot_action_count(live), k = 0;
    const cutoff_action_spec **all = co__calloc(n_live + n + 1, sizeof *all);
    if (all == NULL)
        return CUTOFF_ENOMEM;
    for (size_t i = 0; i < n_live; i++) {
        const cutoff_action_spec *a = cutoff_snapshot_action(live, i);
        bool replaced = false;
        for (size_t j = 0; j < n && !replaced; j++)
            replaced = strcmp(a->id, drafts[j]->id) == 0;
        if (!replaced)
            all[k++] = a;
    }
    for (size_t j = 0; j < n; j++)
        all[k++] = drafts[j];
    int rc = cutoff_snapshot_build(cutoff_snapshot_tree(live), all, k, out, diag);
    co__free(all);
    return rc;
}

static co__tally *previous_tally(const cutoff_shadow *previous, uint64_t run)
{
    for (size_t i = 0; previous && i < previous->n; i++)
        if (previous->runs[i].run == run)
            return previous->runs[i].tally;
    return NULL;
}

int cutoff_shadow_build(const cutoff_snapshot *live, const cutoff_shadow_run *runs, size_t n,
                        const cutoff_shadow_limits *limits, const cutoff_shadow *previous,
                        cutoff_shadow **out, cutoff_diag *diag)
{
    co__diag_clear(diag);
    if (live == NULL || out == NULL || (n > 0 && runs == NULL))
        return CUTOFF_EINVAL;
    int rc = CUTOFF_ENOMEM;
    cutoff_action_spec *as_active = co__calloc(n + 1, sizeof *as_active);
    const cutoff_action_spec **drafts = co__calloc(n + 1, sizeof *drafts);
    cutoff_shadow *s = co__calloc(1, sizeof *s);
    if (s == NULL || as_active == NULL || drafts == NULL ||
        (s->runs = co__calloc(n + 1, sizeof *s->runs)) == NULL)
        goto fail;
    size_t n_drafts = 0;
    for (size_t i = 0; i < n; i++) {
        const cutoff_shadow_run *r = &runs[i];
        if (r->action == NULL || r->action->id == NULL)
            continue;
        /* As if approved when the run started: its phases count from then. */
        as_active[i] = *r->action;
        as_active[i].state = CUTOFF_STATE_ACTIVE;
        as_active[i].activated_at = r->started_at;
        const cutoff_action_spec *one = &as_active[i];
        shadow_entry *e = &s->runs[s->n];
        *e = (shadow_entry){.run = r->run};
        cutoff_diag why = {0};
        int brc = build_with(live, &one, 1, &e->snap, &why);
        if (brc == CUTOFF_ENOMEM)
            goto fail;
        if (brc != 0) {
            /* This run cannot be evaluated on this tree; the others can. */
            if (diag && diag->message[0] == '\0')
                co__diag(diag, brc, "shadow run %llu (%s): %s", (unsigned long long)r->run,
                         r->action->id, why.message);
            continue;
        }
        for (size_t k = 0; k < cutoff_snapshot_action_count(e->snap); k++)
            if (strcmp(cutoff_snapshot_action(e->snap, k)->id, r->action->id) == 0)
                e->draft = cutoff_snapshot_action(e->snap, k);
        e->tally = previous_tally(previous, r->run);
        if (e->tally) {
            co__tally_retain(e->tally);
        } else {
            if (co__tally_new(limits, &e->tally) != 0) {
                cutoff_snapshot_release(e->snap);
                goto fail;
            }
            /* A node that restarted goes on from what it wrote last. */
            if (r->counts)
                co__tally_merge_json(e->tally, r->counts, NULL);
        }
        s->n++;
        drafts[n_drafts++] = one;
    }
    if (n_drafts > 1) {
        cutoff_diag why = {0};
        rc = build_with(live, drafts, n_drafts, &s->combined, &why);
        /* Without the combined snapshot every run is asked: slower, exact. */
        if (rc == CUTOFF_ENOMEM)
            goto fail;
        s->combined = rc == 0 ? s->combined : NULL;
    }
    for (size_t i = 0; previous && i < previous->n; i++) {
        bool kept = false;
        for (size_t k = 0; k < s->n && !kept; k++)
            kept = s->runs[k].tally == previous->runs[i].tally;
        if (!kept)
            atomic_store(&previous->runs[i].tally->ended, true);
    }
    co__free(as_active);
    co__free(drafts);
    *out = s;
    return 0;
fail:
    cutoff_shadow_free(s);
    co__free(as_active);
    co__free(drafts);
    return CUTOFF_ENOMEM;
}

/* The index of the draft's phase that starts at `since`. */
static int phase_index(const cutoff_action_spec *a, int64_t since)
{
    int found = 0;
    for (size_t i = 0; i < a->n_phases; i++)
        if (cutoff_phase_start(a, i, 0) == since)
            found = (int)i;
    return found;
}

void cutoff_shadow_observe(const cutoff_shadow *s, const cutoff_request *r,
                           const cutoff_verdict *live, const char *request_id)
{
    if (s == NULL || s->n == 0 || r == NULL || live == NULL ||
        live->reason != CUTOFF_REASON_ALLOW || r->subscription == NULL || r->action == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        atomic_fetch_add_explicit(&s->runs[i].tally->evaluated, 1, memory_order_relaxed);
    cutoff_verdict v;
    if (s->combined) {
        cutoff_check(s->combined, r->subscription, r->action, r->region, r->at, &v);
        if (v.reason == CUTOFF_REASON_ALLOW)
            return;
    }
    for (size_t i = 0; i < s->n; i++) {
        const shadow_entry *e = &s->runs[i];
        cutoff_check(e->snap, r->subscription, r->action, r->region, r->at, &v);
        /* Only the draft's own denials: a live snapshot newer than the set
         * (an action lifted a moment ago) must not be counted for it. */
        if (v.reason == CUTOFF_REASON_ALLOW || v.by == NULL || e->draft == NULL ||
            strcmp(v.by->id, e->draft->id) != 0)
            continue;
        int phase = phase_index(e->draft, v.since);
        co__tally_add(e->tally, request_id, r->subscription, r->action, phase,
                      e->draft->phases[phase].mode, r->region, r->at);
    }
}

co__tally *co__shadow_tally(const cutoff_shadow *s, size_t i, uint64_t *run)
{
    if (s == NULL || i >= s->n)
        return NULL;
    if (run)
        *run = s->runs[i].run;
    return s->runs[i].tally;
}
