/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_int.h - the engine's private data layout, shared by tree.c,
 * snapshot.c, explain.c, preview.c and publish.c.
 *
 * A tree stores its nodes in depth-first order, so every subtree is one
 * contiguous range of positions [pos, end). An enforcement action's scope
 * is then a handful of ranges, and the active actions split the positions
 * into segments, each covered by one set ("group") of actions. A check
 * hashes the subscription id to its record (id, position, plan, kind: one
 * cache line), tests the plan's entitlement bit, finds the group of its
 * position by binary search over the few segment breakpoints, and looks only
 * at the actions of that group. Changing actions rebuilds only the segments
 * and groups, never the tree.
 */
#ifndef CUTOFF_ENGINE_INT_H
#define CUTOFF_ENGINE_INT_H

#include "cutoff.h"
#include "util/util.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#define CO_NONE UINT32_MAX

/* ---- string -> index maps for catalog names (actions, regions, plans) ---- */
typedef struct co__name_map {
    uint32_t *slots; /* index + 1, 0 = empty */
    uint32_t mask;
    char **names; /* borrowed: names[index] */
} co__name_map;

int co__name_map_init(co__name_map *m, char **names, uint32_t n);
void co__name_map_free(co__name_map *m);
uint32_t co__name_map_find(const co__name_map *m, const char *name, size_t len);

/* ---- the compiled tree ---------------------------------------------------- */

/* One node, at its depth-first position. */
typedef struct co__node {
    uint32_t rec;    /* offset of its record in tree->recs, in 4-byte units */
    uint32_t parent; /* position of the parent, CO_NONE for tenants */
    uint32_t end;    /* one past the last position of its subtree */
    uint16_t plan;   /* effective (inherited) plan index + 1; 0: no plan */
    uint8_t kind;    /* cutoff_node_kind | CO_OWN_PLAN when the node sets it */
    uint8_t unused;
} co__node;

#define CO_OWN_PLAN 0x80
#define CO_KIND(k) ((k)&0x7f)

/* The record a hash slot points at: everything a check needs, together. */
typedef struct co__rec {
    uint32_t pos;
    uint16_t plan;
    uint8_t kind;
    uint8_t len;
    char id[]; /* len bytes and a NUL, padded to 4 bytes */
} co__rec;

struct cutoff_tree {
    _Atomic long refs;

    /* catalog */
    uint32_t n_actions, n_regions, n_plans;
    uint32_t words;        /* 64-bit words of an action bitset */
    char **action_names;   /* [n_actions] */
    uint8_t *action_class; /* [n_actions] cutoff_action_class */
    char **region_names;   /* [n_regions] */
    char **plan_names;     /* [n_plans] */
    uint64_t *plan_bits;   /* [n_plans * words]: actions each plan entitles */
    co__name_map action_map, region_map, plan_map;
    char *catalog_strings; /* one block holding every catalog name */

    /* nodes */
    uint32_t n_nodes;
    size_t n_kind[4];
    co__node *nodes; /* [n_nodes] in depth-first order */
    uint32_t *recs;  /* record arena (co__rec, 4-byte aligned) */
    size_t recs_units;
    uint64_t *slots; /* hash tag << 32 | record offset; 0 empty */
    uint64_t slot_mask;

    /* The tree's part of cutoff_snapshot_digest, computed on first need
     * (digest.c) and published once: NULL until then. */
    XXH128_hash_t *_Atomic digest;
};

static inline const co__rec *co__tree_rec(const cutoff_tree *t, uint32_t off)
{
    return (const co__rec *)(const void *)(t->recs + off);
}

static inline const char *co__tree_id(const cutoff_tree *t, uint32_t pos)
{
    return co__tree_rec(t, t->nodes[pos].rec)->id;
}

/* The record of an id, or NULL; _hashed when co__hash(id, len) is known. */
const co__rec *co__tree_find(const cutoff_tree *t, const char *id, size_t len);
const co__rec *co__tree_find_hashed(const cutoff_tree *t, const char *id, size_t len, uint64_t h);
/* The position of an id, or CO_NONE. */
uint32_t co__tree_pos(const cutoff_tree *t, const char *id);

/* n bytes of a and b are equal. Ids are short, and a library memcmp call
 * costs more than comparing them word by word here. */
static inline bool co__same_bytes(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    if (n >= 8) {
        for (; n > 8; a += 8, b += 8, n -= 8) {
            memcpy(&x, a, 8);
            memcpy(&y, b, 8);
            if (x != y)
                return false;
        }
        memcpy(&x, a + n - 8, 8); /* the last 8 bytes, overlapping */
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t u, v, w, z;
        memcpy(&u, a, 4), memcpy(&v, b, 4);
        memcpy(&w, a + n - 4, 4), memcpy(&z, b + n - 4, 4);
        return u == v && w == z;
    }
    for (; n > 0; n--)
        if (*a++ != *b++)
            return false;
    return true;
}

static inline bool co__bit(const uint64_t *bits, uint32_t i)
{
    return (bits[i >> 6] >> (i & 63)) & 1;
}

/* ---- the snapshot: active actions compiled on a tree ----------------------- */

typedef struct co__range {
    uint32_t lo, hi; /* positions [lo, hi) */
} co__range;

/* One active action, compiled. */
typedef struct co__enforcement {
    const cutoff_action_spec *spec; /* deep copy owned by the snapshot */
    uint64_t *denied;               /* [words]: deny matches and no except matches */
    uint64_t *regions;              /* catalog regions matched; NULL: every region */
    uint32_t n_phases;
    int64_t *starts; /* ascending */
    uint8_t *modes;
    uint32_t n_ranges;
    co__range *ranges; /* merged, ascending */
} co__enforcement;

struct cutoff_snapshot {
    _Atomic long refs;
    cutoff_tree *tree;
    uint32_t n_actions;
    co__enforcement *actions; /* sorted by id */
    /* segments: positions [bp[j-1], bp[j]) belong to group seg_group[j] */
    uint32_t n_bp;
    uint32_t *bp;
    uint32_t *seg_group; /* [n_bp + 1]; group 0 is the empty set */
    uint32_t n_groups;
    uint32_t *group_start;   /* [n_groups + 1] */
    uint32_t *group_members; /* action indices, ascending (= by id) */
    uint64_t *group_denies;  /* [n_groups * words]: union of the members' denied */
};

/* The group of a position. */
static inline uint32_t co__group_of(const cutoff_snapshot *s, uint32_t pos)
{
    uint32_t lo = 0, hi = s->n_bp; /* first breakpoint > pos */
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (s->bp[mid] <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return s->seg_group[lo];
}

/* The decision for a subscription known by (plan, group), for catalog action
 * `act`, region index `region` (CO_NONE: none named; CO_UNKNOWN_REGION: a
 * name not in the catalog, given as region_name). */
#define CO_UNKNOWN_REGION (UINT32_MAX - 1)
/* A region named by the request but not looked up yet: most actions apply
 * to every region, so the lookup is made only when one does not. */
#define CO_REGION_UNRESOLVED (UINT32_MAX - 2)
void co__decide(const cutoff_snapshot *s, uint16_t plan, uint32_t group, uint32_t act,
                uint32_t region, const char *region_name, int64_t t, cutoff_verdict *out);

/* Phase of e in force at t: index, or -1 before the first. */
int co__phase_at(const co__enforcement *e, int64_t t);
/* Whether e applies to the region. */
bool co__region_applies(const co__enforcement *e, uint32_t region, const char *region_name);

#endif
