/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_int.h - the engine's private data layout, shared by tree.c,
 * snapshot.c, explain.c, preview.c and publish.c.
 *
 * A tree stores its nodes in depth-first order, so every subtree is one
 * contiguous range of positions [pos, end). An enforcement action's scope
 * is then a handful of ranges, and the active actions split the positions
 * into segments, each covered by one set ("group") of actions. A check
 * hashes the subscription id to its hash slot (position, plan, kind and,
 * for ids of up to CO_INLINE_ID bytes, the id itself: one cache line and
 * one miss), tests the plan's entitlement bit, finds the group of its
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
    char **names;   /* borrowed: names[index] */
    uint32_t *lens; /* strlen(names[index]) */
} co__name_map;

int co__name_map_init(co__name_map *m, char **names, uint32_t n);
void co__name_map_free(co__name_map *m);
uint32_t co__name_map_find(const co__name_map *m, const char *name, size_t len);

/* ---- the compiled tree ---------------------------------------------------- */

/* One node, at its depth-first position. */
typedef struct co__node {
    uint32_t id;     /* offset of its id (NUL-terminated) in tree->ids */
    uint32_t parent; /* position of the parent, CO_NONE for tenants */
    uint32_t end;    /* one past the last position of its subtree */
    uint16_t plan;   /* effective (inherited) plan index + 1; 0: no plan */
    uint8_t kind;    /* cutoff_node_kind | CO_OWN_PLAN when the node sets it */
    uint8_t unused;
} co__node;

#define CO_OWN_PLAN 0x80
#define CO_KIND(k) ((k)&0x7f)

/* Ids up to this length live in their hash slot; longer ones (up to 128
 * bytes) are compared in tree->ids. Generated ids such as "sub-" and 12
 * hex digits take 16 bytes. */
#define CO_INLINE_ID 24

/* One hash slot: everything a check needs about a node, together, 32 bytes
 * aligned to 32 so that it never straddles two cache lines. */
typedef struct co__slot {
    uint32_t pos;
    uint16_t plan; /* effective plan index + 1 */
    uint8_t kind;  /* cutoff_node_kind */
    uint8_t len;   /* the id's length; 0: an empty slot (ids are never empty) */
    union {
        char id[CO_INLINE_ID]; /* len <= CO_INLINE_ID: the id, not NUL-terminated */
        struct {
            uint32_t id;  /* offset of the id in tree->ids */
            uint32_t tag; /* the upper half of its hash */
        } far;            /* len > CO_INLINE_ID */
    };
} co__slot;

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
    char *ids;       /* every id, NUL-terminated, in depth-first order */
    size_t ids_bytes;
    co__slot *slots; /* open addressing, linear probing; 32-byte aligned */
    void *slots_mem; /* the allocation slots lies in */
    uint64_t slot_mask;

    /* The tree's part of cutoff_snapshot_digest, computed on first need
     * (digest.c) and published once: NULL until then. */
    XXH128_hash_t *_Atomic digest;
};

static inline const char *co__tree_id(const cutoff_tree *t, uint32_t pos)
{
    return t->ids + t->nodes[pos].id;
}

/* The position of an id, or CO_NONE. */
uint32_t co__tree_pos(const cutoff_tree *t, const char *id);

/* n bytes of a and b are equal. Ids are short, and a library memcmp call
 * costs more than comparing them word by word here. The only branches are
 * on n, never on the bytes: when a is a slot still on its way from memory,
 * a guess about its bytes that turns out wrong would throw away the work
 * the CPU had begun on the next check. */
static inline bool co__same_bytes(const char *a, const char *b, size_t n)
{
    uint64_t x, y, diff = 0;
    if (n >= 8) {
        for (; n > 8; a += 8, b += 8, n -= 8) {
            memcpy(&x, a, 8);
            memcpy(&y, b, 8);
            diff |= x ^ y;
        }
        memcpy(&x, a + n - 8, 8); /* the last 8 bytes, overlapping */
        memcpy(&y, b + n - 8, 8);
        return (diff | (x ^ y)) == 0;
    }
    if (n >= 4) {
        uint32_t u, v, w, z;
        memcpy(&u, a, 4), memcpy(&v, b, 4);
        memcpy(&w, a + n - 4, 4), memcpy(&z, b + n - 4, 4);
        return ((u ^ v) | (w ^ z)) == 0;
    }
    for (; n > 0; n--)
        diff |= (uint8_t)(*a++ ^ *b++);
    return diff == 0;
}

/* Whether slot s holds the id (len bytes, hash h). */
static inline __attribute__((always_inline)) bool
co__slot_holds(const cutoff_tree *t, const co__slot *s, const char *id, size_t len, uint64_t h)
{
    if (len <= CO_INLINE_ID) /* s->id is CO_INLINE_ID bytes whatever the slot holds */
        return (s->len == len) & co__same_bytes(s->id, id, len);
    return s->len == len && s->far.tag == (uint32_t)(h >> 32) &&
           co__same_bytes(t->ids + s->far.id, id, len);
}

/* The slot of an id, or NULL; _hashed when co__hash(id, len) is known.
 * Most ids are in the first or second slot of their probe: both are
 * examined without a branch on what they hold, and only a longer probe
 * (or a long id) walks on. */
const co__slot *co__tree_find(const cutoff_tree *t, const char *id, size_t len);
static inline __attribute__((always_inline)) const co__slot *
co__tree_find_hashed(const cutoff_tree *t, const char *id, size_t len, uint64_t h)
{
    uint64_t i = h & t->slot_mask;
    const co__slot *first = &t->slots[i], *second = &t->slots[(i + 1) & t->slot_mask];
    bool in_first = co__slot_holds(t, first, id, len, h);
    bool in_second = (first->len != 0) & co__slot_holds(t, second, id, len, h);
    const co__slot *found = in_first ? first : in_second ? second : NULL;
    if (__builtin_expect(found != NULL || first->len == 0 || second->len == 0, 1))
        return found;
    for (i = (i + 2) & t->slot_mask;; i = (i + 1) & t->slot_mask) {
        const co__slot *s = &t->slots[i];
        if (s->len == 0)
            return NULL;
        if (co__slot_holds(t, s, id, len, h))
            return s;
    }
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

/* The group of a position: the count of breakpoints <= pos picks the
 * segment. Branch-free, since positions of consecutive checks are
 * unrelated and a mispredicted branch also discards the work the CPU had
 * started on the next check. */
static inline uint32_t co__group_of(const cutoff_snapshot *s, uint32_t pos)
{
    const uint32_t *b = s->bp;
    uint32_t n = s->n_bp; /* > 0 */
    while (n > 1) {
        uint32_t half = n / 2;
        b = b[half] <= pos ? b + half : b;
        n -= half;
    }
    return s->seg_group[(uint32_t)(b - s->bp) + (*b <= pos)];
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
