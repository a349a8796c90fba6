/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot.c - compiling the active enforcement actions onto a tree, and
 * the decision itself.
 *
 * Compiling an action resolves its scope to merged position ranges, its
 * deny/except patterns to a bitset of catalog actions, its regions to a
 * bitset of catalog regions, and its phases to absolute start times. The
 * ranges of all actions cut the positions into segments; each segment maps
 * to the set of actions covering it (a group), interned so equal sets share
 * one entry. A check then costs one hash lookup, one bit test and a binary
 * search over at most 2 * (number of scope nodes) breakpoints.
 */
#include "engine/engine_int.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <stdlib.h>
#include <string.h>

static void snapshot_free(cutoff_snapshot *s)
{
    if (s == NULL)
        return;
    for (uint32_t i = 0; i < s->n_actions; i++) {
        co__enforcement *e = &s->actions[i];
        cutoff_action_free((cutoff_action_spec *)e->spec);
        co__free(e->denied);
        co__free(e->regions);
        co__free(e->starts);
        co__free(e->modes);
        co__free(e->ranges);
    }
    co__free(s->actions);
    co__free(s->bp);
    co__free(s->seg_group);
    co__free(s->bucket_bp);
    co__free(s->group_start);
    co__free(s->group_members);
    co__free(s->group_denies);
    cutoff_tree_release(s->tree);
    co__free(s);
}

static int cmp_range(const void *a, const void *b)
{
    const co__range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo ? 1 : (x->hi > y->hi) - (x->hi < y->hi);
}

/* Compiles one action onto the tree. */
static int compile_action(const cutoff_tree *t, const cutoff_action_spec *a, co__enforcement *e,
                          cutoff_diag *diag)
{
    char q[160];
    int rc;
    if (a->n_scope == 0)
        return co__diag(diag, CUTOFF_EINVAL, "action %s has an empty scope", a->id);
    for (size_t i = 0; i < a->n_deny; i++)
        if ((rc = cutoff_pattern_check(a->deny[i], diag)) != 0)
            goto pattern;
    for (size_t i = 0; i < a->n_except; i++)
        if ((rc = cutoff_pattern_check(a->except[i], diag)) != 0)
            goto pattern;

    e->denied = co__calloc(t->words, sizeof(uint64_t));
    e->ranges = co__calloc(a->n_scope, sizeof *e->ranges);
    e->starts = co__calloc(a->n_phases + 1, sizeof *e->starts);
    e->modes = co__calloc(a->n_phases + 1, 1);
    if (!e->denied || !e->ranges || !e->starts || !e->modes)
        return CUTOFF_ENOMEM;

    for (uint32_t act = 0; act < t->n_actions; act++) {
        bool deny = false, except = false;
        for (size_t i = 0; i < a->n_deny && !deny; i++)
            deny = cutoff_pattern_match(a->deny[i], t->action_names[act]);
        for (size_t i = 0; i < a->n_except && !except; i++)
            except = cutoff_pattern_match(a->except[i], t->action_names[act]);
        if (deny && !except)
            e->denied[act >> 6] |= 1ull << (act & 63);
    }

    bool every_region = a->n_regions == 0;
    for (size_t i = 0; i < a->n_regions; i++)
        every_region |= strcmp(a->regions[i], "*") == 0;
    if (!every_region) {
        e->regions = co__calloc(t->n_regions / 64 + 1, sizeof(uint64_t));
        if (e->regions == NULL)
            return CUTOFF_ENOMEM;
        for (uint32_t r = 0; r < t->n_regions; r++)
            for (size_t i = 0; i < a->n_regions; i++)
                if (cutoff_region_match(a->regions[i], t->region_names[r]))
                    e->regions[r >> 6] |= 1ull << (r & 63);
    }

    /* Phases by absolute start; for equal starts the later-listed one wins
     * ("the last one with at <= t"), so keep the sort stable. */
    e->n_phases = (uint32_t)a->n_phases;
    for (size_t i = 0; i < a->n_phases; i++) {
        int64_t at = cutoff_phase_start(a, i, 0);
        uint8_t mode = (uint8_t)a->phases[i].mode;
        size_t j = i;
        while (j > 0 && e->starts[j - 1] > at) {
            e->starts[j] = e->starts[j - 1];
            e->modes[j] = e->modes[j - 1];
            j--;
        }
        e->starts[j] = at;
        e->modes[j] = mode;
    }

    for (size_t i = 0; i < a->n_scope; i++) {
        uint32_t pos = a->scope[i] ? co__tree_pos(t, a->scope[i]) : CO_NONE;
        if (pos == CO_NONE)
            return co__diag(diag, CUTOFF_ENOTFOUND,
                            "scope node \"%s\" of action %s is not in the tree",
                            co__quote(a->scope[i], q, sizeof q), a->id);
        e->ranges[i] = (co__range){pos, t->nodes[pos].end};
    }
    /* Nested scope nodes collapse into the outer range. */
    qsort(e->ranges, a->n_scope, sizeof *e->ranges, cmp_range);
    uint32_t n = 0;
    for (size_t i = 0; i < a->n_scope; i++) {
        if (n > 0 && e->ranges[i].lo < e->ranges[n - 1].hi) {
            if (e->ranges[i].hi > e->ranges[n - 1].hi)
                e->ranges[n - 1].hi = e->ranges[i].hi;
        } else {
            e->ranges[n++] = e->ranges[i];
        }
    }
    e->n_ranges = n;
    return 0;
pattern:
    co__diag_prefix(diag, "action %s: ", a->id);
    return rc;
}

static int cmp_action_id(const void *a, const void *b)
{
    const cutoff_action_spec *x = *(const cutoff_action_spec *const *)a;
    const cutoff_action_spec *y = *(const cutoff_action_spec *const *)b;
    return strcmp(x->id, y->id);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Cuts positions into segments at every range boundary and interns the
 * set of actions covering each segment as a group. */
static int build_segments(cutoff_snapshot *s)
{
    int rc = CUTOFF_ENOMEM;
    size_t nb = 0;
    for (uint32_t i = 0; i < s->n_actions; i++)
        nb += 2 * (size_t)s->actions[i].n_ranges;
    uint32_t *bp = co__malloc((nb + 2) * sizeof *bp); /* + co__group_of's sentinels */
    co__buf members; /* uint32 indices of every group, back to back */
    co__buf_init(&members);
    uint32_t *starts = NULL;
    if (!bp)
        goto done;
    nb = 0;
    for (uint32_t i = 0; i < s->n_actions; i++)
        for (uint32_t r = 0; r < s->actions[i].n_ranges; r++) {
            bp[nb++] = s->actions[i].ranges[r].lo;
            bp[nb++] = s->actions[i].ranges[r].hi;
        }
    qsort(bp, nb, sizeof *bp, cmp_u32);
    uint32_t n_bp = 0;
    for (size_t i = 0; i < nb; i++)
        if (n_bp == 0 || bp[n_bp - 1] != bp[i])
            bp[n_bp++] = bp[i];
    bp[n_bp] = bp[n_bp + 1] = UINT32_MAX; /* above every position */
    s->bp = bp;
    s->n_bp = n_bp;
    bp = NULL;
    s->seg_group = co__calloc((size_t)n_bp + 1, sizeof *s->seg_group);
    starts = co__malloc(((size_t)n_bp + 2) * sizeof *starts);
    if (!s->seg_group || !starts)
        goto done;

    /* Group 0 is the empty set (positions outside every scope). */
    uint32_t n_groups = 1;
    starts[0] = 0;
    starts[1] = 0;
    /* Segment j (j >= 1) covers [bp[j-1], bp[j]); a range covers it when
     * lo <= bp[j-1] < hi. Equal consecutive sets share a group; sets that
     * recur non-adjacently are compared against earlier groups. */
    for (uint32_t j = 1; j <= n_bp; j++) {
        uint32_t lo = s->bp[j - 1];
        size_t first = members.len / sizeof(uint32_t);
        for (uint32_t i = 0; i < s->n_actions; i++) {
            const co__enforcement *e = &s->actions[i];
            bool in = false;
            for (uint32_t r = 0; r < e->n_ranges && !in; r++)
                in = e->ranges[r].lo <= lo && lo < e->ranges[r].hi;
            if (in && co__buf_append(&members, &i, sizeof i) != 0)
                goto done;
        }
        size_t count = members.len / sizeof(uint32_t) - first;
        if (count == 0) {
            s->seg_group[j] = 0;
            continue;
        }
        const uint32_t *set = (const uint32_t *)(void *)members.data + first;
        uint32_t found = 0;
        for (uint32_t g = n_groups; g-- > 1 && !found;) {
            size_t gn = starts[g + 1] - starts[g];
            const uint32_t *gs = (const uint32_t *)(void *)members.data + starts[g];
            if (gn == count && memcmp(gs, set, count * sizeof *set) == 0)
                found = g;
        }
        if (found) {
            members.len = first * sizeof(uint32_t);
            s->seg_group[j] = found;
        } else {
            s->seg_group[j] = n_groups++;
            starts[n_groups] = (uint32_t)(members.len / sizeof(uint32_t));
        }
    }
    s->n_groups = n_groups;
    s->group_start = starts;
    starts = NULL;
    s->group_members = co__malloc(members.len + sizeof(uint32_t));
    s->group_denies = co__calloc((size_t)n_groups * s->tree->words, sizeof(uint64_t));
    if (s->group_members == NULL || s->group_denies == NULL || members.failed)
        goto done;
    if (members.len)
        memcpy(s->group_members, members.data, members.len);
    /* What any member denies: most checks in a scope are for actions no
     * member targets, and this answers them with one bit. */
    for (uint32_t g = 1; g < n_groups; g++)
        for (uint32_t m = s->group_start[g]; m < s->group_start[g + 1]; m++)
            for (uint32_t w = 0; w < s->tree->words; w++)
                s->group_denies[(size_t)g * s->tree->words + w] |=
                    s->actions[s->group_members[m]].denied[w];
    rc = 0;
done:
    co__free(bp);
    co__free(starts);
    co__buf_free(&members);
    return rc;
}

/* The bucket table of co__group_of: about 64 buckets per breakpoint, and
 * at most 2^16 (256 KiB). Each holds the count of breakpoints at or below
 * its first position, flagged CO_CROWDED when more than two lie inside it. */
static int build_buckets(cutoff_snapshot *s)
{
    uint64_t n_buckets = 16;
    while (n_buckets < 64 * (uint64_t)s->n_bp && n_buckets < (1u << 16))
        n_buckets *= 2;
    uint32_t shift = 0;
    while ((n_buckets << shift) < (uint64_t)s->tree->n_nodes)
        shift++;
    s->bucket_shift = shift;
    s->bucket_bp = co__malloc(n_buckets * sizeof *s->bucket_bp);
    if (s->bucket_bp == NULL)
        return CUTOFF_ENOMEM;
    uint32_t next = 0; /* the first breakpoint above the bucket's start */
    for (uint64_t b = 0; b < n_buckets; b++) {
        uint64_t lo = b << shift, hi = (b + 1) << shift;
        while (next < s->n_bp && s->bp[next] <= lo)
            next++;
        bool crowded = next + 2 < s->n_bp && s->bp[next + 2] < hi;
        s->bucket_bp[b] = next | (crowded ? CO_CROWDED : 0);
    }
    return 0;
}

int cutoff_snapshot_build(cutoff_tree *tree, const cutoff_action_spec *const *actions,
                          size_t n_actions, cutoff_snapshot **out, cutoff_diag *diag)
{
    co__diag_clear(diag);
    int rc = CUTOFF_ENOMEM;
    const cutoff_action_spec **active = co__calloc(n_actions + 1, sizeof *active);
    cutoff_snapshot *s = co__calloc(1, sizeof *s);
    if (!active || !s)
        goto fail;
    atomic_init(&s->refs, 1);
    cutoff_tree_retain(tree);
    s->tree = tree;

    size_t n = 0;
    for (size_t i = 0; i < n_actions; i++)
        if (actions[i] && (actions[i]->state == CUTOFF_STATE_ACTIVE ||
                           actions[i]->state == CUTOFF_STATE_EXPIRED)) {
            if (actions[i]->id == NULL || !cutoff_id_valid(actions[i]->id)) {
                rc = co__diag(diag, CUTOFF_EINVAL, "active action %zu has no valid id", i);
                goto fail;
            }
            active[n++] = actions[i];
        }
    qsort(active, n, sizeof *active, cmp_action_id);
    for (size_t i = 1; i < n; i++)
        if (strcmp(active[i - 1]->id, active[i]->id) == 0) {
            rc = co__diag(diag, CUTOFF_EEXIST, "action %s is active twice", active[i]->id);
            goto fail;
        }
    s->actions = co__calloc(n + 1, sizeof *s->actions);
    if (s->actions == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        cutoff_action_spec *copy;
        if ((rc = cutoff_action_copy(active[i], &copy)) != 0)
            goto fail;
        s->actions[i].spec = copy;
        s->n_actions = (uint32_t)i + 1;
        if ((rc = compile_action(tree, copy, &s->actions[i], diag)) != 0) {
            if (diag)
                diag->item = i;
            goto fail;
        }
    }
    if ((rc = build_segments(s)) != 0 || (rc = build_buckets(s)) != 0)
        goto fail;
    co__free(active);
    *out = s;
    return 0;
fail:
    co__free(active);
    snapshot_free(s);
    return rc;
}

void cutoff_snapshot_retain(const cutoff_snapshot *s)
{
    if (s)
        atomic_fetch_add_explicit(&((cutoff_snapshot *)s)->refs, 1, memory_order_relaxed);
}

void cutoff_snapshot_release(const cutoff_snapshot *s)
{
    cutoff_snapshot *m = (cutoff_snapshot *)s;
    if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        snapshot_free(m);
}

cutoff_tree *cutoff_snapshot_tree(const cutoff_snapshot *s)
{
    return s->tree;
}

size_t cutoff_snapshot_action_count(const cutoff_snapshot *s)
{
    return s->n_actions;
}

const cutoff_action_spec *cutoff_snapshot_action(const cutoff_snapshot *s, size_t i)
{
    return i < s->n_actions ? s->actions[i].spec : NULL;
}

/* ===================================================================== */
/* Deciding                                                               */
/* ===================================================================== */

int co__phase_at(const co__enforcement *e, int64_t t)
{
    int k = -1;
    for (uint32_t i = 0; i < e->n_phases && e->starts[i] <= t; i++)
        k = (int)i;
    return k;
}

bool co__region_applies(const co__enforcement *e, uint32_t region, const char *region_name)
{
    if (e->regions == NULL)
        return true;
    if (region == CO_NONE)
        return false;
    if (region != CO_UNKNOWN_REGION)
        return co__bit(e->regions, region);
    /* A region the catalog does not name: match the patterns themselves. */
    for (size_t i = 0; i < e->spec->n_regions; i++)
        if (cutoff_region_match(e->spec->regions[i], region_name))
            return true;
    return false;
}

/* Step 5 of the decision contract for a request that some action of its
 * group denies: the group's members decide, in id order. Out of line: most
 * checks never come here, and the inlined fast path keeps fewer registers. */
static __attribute__((noinline)) void decide_denied(const cutoff_snapshot *s, uint32_t group,
                                                    uint32_t act, uint32_t region,
                                                    const char *region_name, int64_t t,
                                                    cutoff_verdict *out)
{
    const cutoff_tree *tree = s->tree;
    bool is_read = tree->action_class[act] == CUTOFF_CLASS_READ;
    /* Members are in id order, so the first suspend found decides, and a
     * read-only one decides unless a suspend follows. */
    for (uint32_t m = s->group_start[group]; m < s->group_start[group + 1]; m++) {
        const co__enforcement *e = &s->actions[s->group_members[m]];
        if (!co__bit(e->denied, act))
            continue;
        if (e->regions != NULL) {
            if (region == CO_REGION_UNRESOLVED && region_name != NULL) {
                region = co__name_map_find(&tree->region_map, region_name, strlen(region_name));
                if (region == CO_NONE)
                    region = CO_UNKNOWN_REGION;
            }
            if (!co__region_applies(e, region, region_name))
                continue;
        }
        int k = co__phase_at(e, t);
        if (k < 0 || e->modes[k] == CUTOFF_MODE_OFF)
            continue;
        if (e->modes[k] == CUTOFF_MODE_READ_ONLY && (is_read || out->reason != CUTOFF_REASON_ALLOW))
            continue;
        out->reason =
            e->modes[k] == CUTOFF_MODE_SUSPEND ? CUTOFF_REASON_SUSPENDED : CUTOFF_REASON_READ_ONLY;
        out->by = e->spec;
        out->since = e->starts[k];
        out->until = (uint32_t)k + 1 < e->n_phases ? e->starts[k + 1] : CUTOFF_TIME_NEVER;
        if (out->reason == CUTOFF_REASON_SUSPENDED)
            return;
    }
}

/* Steps 3-5 of the decision contract (the caller has looked up the
 * subscription and the action, and set out->by, since and until to none).
 * Inlined into check_found and cutoff_check_handles; co__decide is the
 * same, out of line, for the preview. */
static inline __attribute__((always_inline)) void decide(const cutoff_snapshot *s, uint16_t plan,
                                                         uint32_t group, uint32_t act,
                                                         uint32_t region, const char *region_name,
                                                         int64_t t, cutoff_verdict *out)
{
    const cutoff_tree *tree = s->tree;
    /* Most checks end here, with an allow or not_entitled. They are
     * answered without a branch on the subscription's plan or group
     * (selects instead), so that the CPU is not sent back when it guessed
     * wrong about a subscription whose slot it is still waiting for (it
     * would discard what it had begun of the next check). No plan (0)
     * entitles every action (its row of plan_bits is all ones), and group
     * 0, the empty set, denies nothing: its row of group_denies is all
     * zeros. */
    uint32_t entitled = co__bit(tree->plan_bits + (size_t)plan * tree->words, act);
    uint32_t maybe_denied = group & (0 - entitled); /* masks: a select gcc keeps branch-free */
    out->reason = (cutoff_reason)(CUTOFF_REASON_NOT_ENTITLED & (entitled - 1));
    if (co__bit(s->group_denies + (size_t)maybe_denied * tree->words, act))
        decide_denied(s, group, act, region, region_name, t, out);
}

static inline void no_enforcement(cutoff_verdict *out)
{
    out->by = NULL;
    out->since = 0;
    out->until = CUTOFF_TIME_NEVER;
}

void co__decide(const cutoff_snapshot *s, uint16_t plan, uint32_t group, uint32_t act,
                uint32_t region, const char *region_name, int64_t t, cutoff_verdict *out)
{
    no_enforcement(out);
    decide(s, plan, group, act, region, region_name, t, out);
}

/* cutoff_check once the subscription's slot is found (or not) and the
 * action's catalog index is known (CO_NONE: not in the catalog). */
static inline __attribute__((always_inline)) void check_found(const cutoff_snapshot *s,
                                                              const co__slot *r, uint32_t act,
                                                              const char *region, int64_t t,
                                                              cutoff_verdict *out)
{
    no_enforcement(out);
    if (r == NULL || r->kind != CUTOFF_NODE_SUBSCRIPTION) {
        out->reason = CUTOFF_REASON_UNKNOWN_SUBSCRIPTION;
        return;
    }
    if (act == CO_NONE) {
        out->reason = CUTOFF_REASON_UNKNOWN_ACTION;
        return;
    }
    uint32_t group = co__group_of(s, r->pos);
    decide(s, r->plan, group, act, region ? CO_REGION_UNRESOLVED : CO_NONE, region, t, out);
}

/* strlen for the strings of a check, inline: a library call costs more
 * than the short ids and names it measures. It reads aligned 16-byte
 * blocks, which never cross a page, so it may read the bytes after the
 * terminator in the same block; builds with AddressSanitizer, which would
 * rightly flag them, call strlen. */
static inline __attribute__((always_inline)) size_t check_strlen(const char *s)
{
#if defined(__SANITIZE_ADDRESS__) || !defined(__SSE2__)
    return strlen(s);
#else
    const __m128i zero = _mm_setzero_si128();
    uintptr_t off = (uintptr_t)s & 15;
    const __m128i *p = (const __m128i *)(const void *)(s - off);
    unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128(p), zero)) >> off;
    if (mask != 0)
        return (size_t)__builtin_ctz(mask);
    for (size_t n = 16 - off;; n += 16) {
        mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128(++p), zero));
        if (mask != 0)
            return n + (size_t)__builtin_ctz(mask);
    }
#endif
}

static inline __attribute__((always_inline)) uint32_t action_index(const cutoff_tree *t,
                                                                   const char *action)
{
    return co__name_map_find(&t->action_map, action, check_strlen(action));
}

/* The slot's cache line is requested first, and the action looked up while
 * it arrives: the lookup of the id then waits less for memory. */
void cutoff_check(const cutoff_snapshot *s, const char *subscription, const char *action,
                  const char *region, int64_t t, cutoff_verdict *out)
{
    const cutoff_tree *tree = s->tree;
    size_t len = check_strlen(subscription);
    uint64_t h = co__hash(subscription, len);
    __builtin_prefetch(&tree->slots[co__slot_home(tree, h)]);
    uint32_t act = action_index(tree, action);
    check_found(s, co__tree_find_hashed(tree, subscription, len, h), act, region, t, out);
}

/* A software pipeline: request i is hashed and its hash slot (which holds
 * all the check needs) prefetched, and PIPE_DISTANCE requests later it is
 * decided. The cache misses of neighbouring requests overlap instead of
 * following one another. */
#define PIPE_DISTANCE 16
#define PIPE_RING (2 * PIPE_DISTANCE) /* a power of two above the distance */

void cutoff_check_many(const cutoff_snapshot *s, const cutoff_request *requests, size_t n,
                       cutoff_verdict *out)
{
    const cutoff_tree *t = s->tree;
    uint64_t hash[PIPE_RING];
    size_t len[PIPE_RING];
    for (size_t i = 0; i < n + PIPE_DISTANCE; i++) {
        if (i < n) {
            size_t k = i % PIPE_RING;
            len[k] = strlen(requests[i].subscription);
            hash[k] = co__hash(requests[i].subscription, len[k]);
            __builtin_prefetch(&t->slots[co__slot_home(t, hash[k])]);
        }
        if (i >= PIPE_DISTANCE) {
            size_t j = i - PIPE_DISTANCE, k = j % PIPE_RING;
            const cutoff_request *q = &requests[j];
            check_found(s, co__tree_find_hashed(t, q->subscription, len[k], hash[k]),
                        action_index(t, q->action), q->region, q->at, &out[j]);
        }
    }
}

void cutoff_check_handles(const cutoff_snapshot *s, cutoff_sub_handle sub, cutoff_act_handle act,
                          cutoff_region_handle region, int64_t t, cutoff_verdict *out)
{
    const cutoff_tree *tree = s->tree;
    if (sub.index >= tree->n_nodes ||
        CO_KIND(tree->nodes[sub.index].kind) != CUTOFF_NODE_SUBSCRIPTION) {
        *out = (cutoff_verdict){CUTOFF_REASON_UNKNOWN_SUBSCRIPTION, NULL, 0, CUTOFF_TIME_NEVER};
        return;
    }
    if (act.index >= tree->n_actions) {
        *out = (cutoff_verdict){CUTOFF_REASON_UNKNOWN_ACTION, NULL, 0, CUTOFF_TIME_NEVER};
        return;
    }
    uint32_t group = co__group_of(s, sub.index);
    uint32_t reg = region.index < tree->n_regions ? region.index : CO_NONE;
    no_enforcement(out);
    decide(s, tree->nodes[sub.index].plan, group, act.index, reg, NULL, t, out);
}
