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
 * position from a bucket table and the few segment breakpoints, and looks
 * only at the actions of that group. Changing actions rebuilds only the segments
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

/* Names up to this length are held in their map slot, longer ones borrowed. */
#define CO_INLINE_NAME 24

/* One slot of a name map: 32 bytes, compared without a further load for
 * the names a check meets (most catalog names are short). */
typedef struct co__name_slot {
    uint32_t index; /* the name's index + 1; 0: an empty slot */
    uint32_t len;
    union {
        char name[CO_INLINE_NAME]; /* len <= CO_INLINE_NAME */
        const char *far;           /* longer: borrowed from the names given */
    };
} co__name_slot;

typedef struct co__name_map {
    co__name_slot *slots;
    uint32_t mask;
} co__name_map;

int co__name_map_init(co__name_map *m, char **names, uint32_t n);
void co__name_map_free(co__name_map *m);

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
    co__slot *slots; /* open addressing, linear probing; 64-byte aligned */
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

static inline uint64_t co__load64(const char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

static inline uint32_t co__load32(const char *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    return x;
}

/* n bytes of a and b are equal, n <= 24. Ids and names are short, and a
 * library memcmp call costs more than this: three overlapping words cover
 * any length from 8 to 24. The only branches are on n, never on the bytes:
 * when a is a slot still on its way from memory, a guess about its bytes
 * that turns out wrong would throw away the work the CPU had begun on the
 * next check. */
static inline bool co__same_short(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        size_t mid = (n - 8) / 2, last = n - 8;
        return ((co__load64(a) ^ co__load64(b)) | (co__load64(a + mid) ^ co__load64(b + mid)) |
                (co__load64(a + last) ^ co__load64(b + last))) == 0;
    }
    if (n >= 4)
        return ((co__load32(a) ^ co__load32(b)) |
                (co__load32(a + n - 4) ^ co__load32(b + n - 4))) == 0;
    if (n == 0)
        return true;
    return ((a[0] ^ b[0]) | (a[n / 2] ^ b[n / 2]) | (a[n - 1] ^ b[n - 1])) == 0;
}

/* n bytes of a and b are equal, any n. */
static inline bool co__same_bytes(const char *a, const char *b, size_t n)
{
    uint64_t diff = 0;
    for (; n > 24; a += 16, b += 16, n -= 16)
        diff |= (co__load64(a) ^ co__load64(b)) | (co__load64(a + 8) ^ co__load64(b + 8));
    return diff == 0 && co__same_short(a, b, n);
}

/* The hash of a catalog name: its length and its first and last eight
 * bytes, multiplied through. Catalog names are few and short, and this is
 * a quarter of the work of XXH3 on every check; names that share both ends
 * only probe further, they are still compared in full. */
static inline uint32_t co__name_hash(const char *s, size_t len)
{
    uint64_t a = 0, b = 0;
    if (len >= 8) {
        a = co__load64(s);
        b = co__load64(s + len - 8);
    } else if (len >= 4) { /* no memcpy call for a length known only now */
        a = co__load32(s);
        b = co__load32(s + len - 4);
    } else if (len > 0) {
        a = (uint64_t)(unsigned char)s[0] << 16 | (uint64_t)(unsigned char)s[len / 2] << 8 |
            (unsigned char)s[len - 1];
    }
    uint64_t h =
        (a * 0x9e3779b97f4a7c15ull) ^ (b * 0xc2b2ae3d27d4eb4full) ^ (len * 0x165667b19e3779f9ull);
    return (uint32_t)(h >> 32) ^ (uint32_t)h;
}

/* co__name_map_find past the first slot: the whole probe. */
uint32_t co__name_map_probe(const co__name_map *m, const char *name, size_t len);

/* The index of a name, or CO_NONE. Most names are in the first slot of
 * their probe, and a check finds them there in a few instructions (an
 * empty slot holds index 0, and answers CO_NONE for the empty name). */
static inline __attribute__((always_inline)) uint32_t
co__name_map_find(const co__name_map *m, const char *name, size_t len)
{
    const co__name_slot *s = &m->slots[co__name_hash(name, len) & m->mask];
    if (__builtin_expect(len <= CO_INLINE_NAME, 1) &&
        __builtin_expect((s->len == len) & co__same_short(s->name, name, len), 1))
        return s->index - 1;
    return co__name_map_probe(m, name, len);
}

/* Whether slot s holds the id (len bytes, hash h). */
static inline __attribute__((always_inline)) bool
co__slot_holds(const cutoff_tree *t, const co__slot *s, const char *id, size_t len, uint64_t h)
{
    if (len <= CO_INLINE_ID) /* s->id is CO_INLINE_ID bytes whatever the slot holds */
        return (s->len == len) & co__same_short(s->id, id, len);
    return s->len == len && s->far.tag == (uint32_t)(h >> 32) &&
           co__same_bytes(t->ids + s->far.id, id, len);
}

/* Where the probe for hash h begins: an even slot, so that the first two
 * slots of every probe share one 64-byte cache line (one miss, and one
 * prefetch covers both). */
static inline uint64_t co__slot_home(const cutoff_tree *t, uint64_t h)
{
    return h & t->slot_mask & ~(uint64_t)1;
}

/* The slot of an id, or NULL; _hashed when co__hash(id, len) is known.
 * Most ids are in the first or second slot of their probe: for ids of up to
 * CO_INLINE_ID bytes both are examined without a branch on what they hold,
 * and only a longer probe, or a longer id, is walked out of line (which
 * also leaves the inlined check fewer registers to save). */
const co__slot *co__tree_find(const cutoff_tree *t, const char *id, size_t len);
/* The probe from slot i on; every id length. */
const co__slot *co__tree_probe(const cutoff_tree *t, const char *id, size_t len, uint64_t h,
                               uint64_t i);
static inline __attribute__((always_inline)) const co__slot *
co__tree_find_hashed(const cutoff_tree *t, const char *id, size_t len, uint64_t h)
{
    uint64_t i = co__slot_home(t, h);
    if (__builtin_expect(len > CO_INLINE_ID, 0))
        return co__tree_probe(t, id, len, h, i);
    const co__slot *first = &t->slots[i], *second = &t->slots[i + 1];
    /* An id in the second slot was placed past the first, which is taken:
     * the tree is built by insertion and never loses a slot. */
    uintptr_t in_first = (first->len == len) & co__same_short(first->id, id, len);
    uintptr_t in_second = (second->len == len) & co__same_short(second->id, id, len);
    /* Masks, not ?: (which gcc compiles to branches on the bytes still on
     * their way): a third of ids sit in the second slot. */
    const co__slot *found = (const co__slot *)(((uintptr_t)first & (0 - in_first)) |
                                               ((uintptr_t)second & (0 - in_second)));
    uintptr_t done = in_first | in_second | ((uint32_t)first->len * second->len == 0);
    /* One register, one branch: without this gcc tests the terms apart. */
    __asm__("" : "+r"(done));
    if (__builtin_expect(done != 0, 1))
        return found;
    return co__tree_probe(t, id, len, h, (i + 2) & t->slot_mask);
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
    uint32_t *bp;        /* [n_bp + 2]: ascending, then two UINT32_MAX */
    uint32_t *seg_group; /* [n_bp + 1]; group 0 is the empty set */
    /* bucket b holds positions [b << bucket_shift, (b + 1) << bucket_shift);
     * bucket_bp[b] counts the breakpoints at or below its first position,
     * | CO_CROWDED when more than two lie inside it */
    uint32_t bucket_shift;
    uint32_t *bucket_bp;
    uint32_t n_groups;
    uint32_t *group_start;   /* [n_groups + 1] */
    uint32_t *group_members; /* action indices, ascending (= by id) */
    uint64_t *group_denies;  /* [n_groups * words]: union of the members' denied */
};

#define CO_CROWDED 0x80000000u

/* The group of a position by binary search: the count of breakpoints <= pos
 * picks the segment. Branch-free, since positions of consecutive checks are
 * unrelated and a mispredicted branch also discards the work the CPU had
 * started on the next check. */
static inline uint32_t co__group_search(const cutoff_snapshot *s, uint32_t pos)
{
    const uint32_t *b = s->bp;
    uint32_t n = s->n_bp;
    while (n > 1) {
        uint32_t half = n / 2;
        b = b[half] <= pos ? b + half : b;
        n -= half;
    }
    return s->seg_group[(uint32_t)(b - s->bp) + (*b <= pos)];
}

/* The group of a position. Breakpoints are few next to positions, so a
 * bucket of positions holds at most two of them, nearly always: its count
 * of the breakpoints below it and two comparisons (the sentinels past the
 * last breakpoint never count) pick the segment, from tables that stay in
 * cache, without a branch on the position (a small scope, one unit's few
 * subscriptions, lies inside one bucket, and a branch there would be
 * guessed wrong for every request it gets). */
static inline uint32_t co__group_of(const cutoff_snapshot *s, uint32_t pos)
{
    uint32_t k = s->bucket_bp[pos >> s->bucket_shift];
    if (__builtin_expect(k & CO_CROWDED, 0))
        return co__group_search(s, pos);
    return s->seg_group[k + (s->bp[k] <= pos) + (s->bp[k + 1] <= pos)];
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
