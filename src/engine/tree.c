/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tree.c - the tree builder and the compiled tree: catalog names and plan
 * bitsets, nodes in depth-first order, and the id hash table that checks
 * use. Building validates the whole tree (parents, kinds, cycles, plans) so
 * that a compiled tree is always well formed.
 */
#include "engine/engine.h"
#include "engine/engine_int.h"
#include "format/format.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ===================================================================== */
/* Catalog name maps                                                      */
/* ===================================================================== */

static uint32_t pow2_at_least(uint64_t n)
{
    uint32_t p = 8;
    while (p < n)
        p *= 2;
    return p;
}

int co__name_map_init(co__name_map *m, char **names, uint32_t n)
{
    m->mask = pow2_at_least((uint64_t)n * 4) - 1; /* few collisions */
    m->slots = co__calloc((size_t)m->mask + 1, sizeof *m->slots);
    if (m->slots == NULL)
        return CUTOFF_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        uint32_t h = co__name_hash(names[i], len) & m->mask;
        while (m->slots[h].index != 0)
            h = (h + 1) & m->mask;
        co__name_slot *s = &m->slots[h];
        *s = (co__name_slot){.index = i + 1, .len = (uint32_t)len};
        if (len <= CO_INLINE_NAME)
            memcpy(s->name, names[i], len);
        else
            s->far = names[i];
    }
    return 0;
}

uint32_t co__name_map_probe(const co__name_map *m, const char *name, size_t len)
{
    for (uint32_t h = co__name_hash(name, len) & m->mask;; h = (h + 1) & m->mask) {
        const co__name_slot *s = &m->slots[h];
        if (s->index == 0)
            return CO_NONE;
        if (s->len == len && co__same_bytes(len <= CO_INLINE_NAME ? s->name : s->far, name, len))
            return s->index - 1;
    }
}

void co__name_map_free(co__name_map *m)
{
    co__free(m->slots);
    m->slots = NULL;
}

/* ===================================================================== */
/* The builder                                                            */
/* ===================================================================== */

typedef struct bnode {
    uint64_t id_off;     /* into b->strings */
    uint64_t parent_off; /* into b->strings; UINT64_MAX: no parent */
    uint32_t item;       /* insertion index of the add that set it */
    uint16_t plan;       /* own plan index + 1; 0: none */
    uint8_t kind;
    uint8_t id_len;
} bnode;

struct cutoff_tree_builder {
    cutoff_catalog_spec *catalog; /* a copy: every tree built compiles it */
    cutoff_tree *proto;           /* its compiled form, for plan names on add */
    bnode *nodes;
    uint32_t n, cap;
    uint32_t items; /* add calls so far */
    char *strings;
    uint64_t str_len, str_cap;
    uint32_t *slots; /* node index + 1 */
    uint32_t slot_mask;
};

static void tree_free_catalog(cutoff_tree *t)
{
    co__name_map_free(&t->action_map);
    co__name_map_free(&t->region_map);
    co__name_map_free(&t->plan_map);
    co__free(t->action_names);
    co__free(t->action_class);
    co__free(t->region_names);
    co__free(t->plan_names);
    co__free(t->plan_bits);
    co__free(t->catalog_strings);
}

static void tree_free(cutoff_tree *t)
{
    if (t == NULL)
        return;
    tree_free_catalog(t);
    co__free(atomic_load(&t->digest));
    co__free(t->nodes);
    co__free(t->ids);
    co__free(t->slots_mem);
    co__free(t);
}

/* An action name is SERVICE.ACTION with no wildcard. */
static int check_action_name(const char *name, size_t i, cutoff_diag *diag)
{
    char q[160];
    if (name == NULL || strchr(name, '*') || cutoff_pattern_check(name, NULL) != 0 ||
        strchr(name, '.') == NULL)
        return co__diag(diag, CUTOFF_EINVAL,
                        "catalog action %zu \"%s\" is not SERVICE.ACTION (names of [A-Za-z0-9_:-])",
                        i, co__quote(name, q, sizeof q));
    return 0;
}

/* Copies and compiles the catalog: names, classes, plan bitsets, maps. */
static int compile_catalog(const cutoff_catalog_spec *c, cutoff_tree *t, cutoff_diag *diag)
{
    char q[160];
    int rc = 0;
    if (c->n_actions > 65535 || c->n_regions > 65535 || c->n_plans > 65534)
        return co__diag(diag, CUTOFF_ELIMIT,
                        "catalog too large: at most 65535 actions, regions and plans");
    size_t bytes = 0;
    for (size_t i = 0; i < c->n_actions; i++) {
        if ((rc = check_action_name(c->actions[i].name, i, diag)) != 0)
            return rc;
        if (c->actions[i].cls != CUTOFF_CLASS_READ && c->actions[i].cls != CUTOFF_CLASS_WRITE)
            return co__diag(diag, CUTOFF_EINVAL,
                            "catalog action \"%s\" has no class (read or write)",
                            c->actions[i].name);
        bytes += strlen(c->actions[i].name) + 1;
    }
    for (size_t i = 0; i < c->n_regions; i++) {
        if (!cutoff_id_valid(c->regions[i]))
            return co__diag(diag, CUTOFF_EINVAL,
                            "catalog region \"%s\" is not an id of 1-128 [A-Za-z0-9._:-]",
                            co__quote(c->regions[i], q, sizeof q));
        bytes += strlen(c->regions[i]) + 1;
    }
    for (size_t i = 0; i < c->n_plans; i++) {
        if (!cutoff_id_valid(c->plans[i].name))
            return co__diag(diag, CUTOFF_EINVAL,
                            "catalog plan \"%s\" is not an id of 1-128 [A-Za-z0-9._:-]",
                            co__quote(c->plans[i].name, q, sizeof q));
        for (size_t j = 0; j < c->plans[i].n_services; j++)
            if ((rc = cutoff_pattern_check(c->plans[i].services[j], diag)) != 0) {
                co__diag_prefix(diag, "plan \"%s\": ", c->plans[i].name);
                return rc;
            }
        bytes += strlen(c->plans[i].name) + 1;
    }

    t->n_actions = (uint32_t)c->n_actions;
    t->n_regions = (uint32_t)c->n_regions;
    t->n_plans = (uint32_t)c->n_plans;
    t->words = (t->n_actions + 63) / 64 + 1;
    t->catalog_strings = co__malloc(bytes + 1);
    t->action_names = co__calloc(c->n_actions + 1, sizeof(char *));
    t->action_class = co__calloc(c->n_actions + 1, 1);
    t->region_names = co__calloc(c->n_regions + 1, sizeof(char *));
    t->plan_names = co__calloc(c->n_plans + 1, sizeof(char *));
    t->plan_bits = co__calloc((size_t)(c->n_plans + 1) * t->words, sizeof(uint64_t));
    if (!t->catalog_strings || !t->action_names || !t->action_class || !t->region_names ||
        !t->plan_names || !t->plan_bits)
        return CUTOFF_ENOMEM;

    char *p = t->catalog_strings;
#define COPY_NAME(dst, src)                                                                        \
    do {                                                                                           \
        size_t n_ = strlen(src) + 1;                                                               \
        memcpy(p, (src), n_);                                                                      \
        (dst) = p;                                                                                 \
        p += n_;                                                                                   \
    } while (0)
    for (size_t i = 0; i < c->n_actions; i++) {
        COPY_NAME(t->action_names[i], c->actions[i].name);
        t->action_class[i] = (uint8_t)c->actions[i].cls;
    }
    for (size_t i = 0; i < c->n_regions; i++)
        COPY_NAME(t->region_names[i], c->regions[i]);
    for (size_t i = 0; i < c->n_plans; i++)
        COPY_NAME(t->plan_names[i], c->plans[i].name);
#undef COPY_NAME

    if ((rc = co__name_map_init(&t->action_map, t->action_names, t->n_actions)) != 0 ||
        (rc = co__name_map_init(&t->region_map, t->region_names, t->n_regions)) != 0 ||
        (rc = co__name_map_init(&t->plan_map, t->plan_names, t->n_plans)) != 0)
        return rc;

    /* Duplicates: the map finds the first of two equal names. */
    for (uint32_t i = 0; i < t->n_actions; i++)
        if (co__name_map_find(&t->action_map, t->action_names[i], strlen(t->action_names[i])) != i)
            return co__diag(diag, CUTOFF_EINVAL, "catalog action \"%s\" appears twice",
                            t->action_names[i]);
    for (uint32_t i = 0; i < t->n_regions; i++)
        if (co__name_map_find(&t->region_map, t->region_names[i], strlen(t->region_names[i])) != i)
            return co__diag(diag, CUTOFF_EINVAL, "catalog region \"%s\" appears twice",
                            t->region_names[i]);
    for (uint32_t i = 0; i < t->n_plans; i++)
        if (co__name_map_find(&t->plan_map, t->plan_names[i], strlen(t->plan_names[i])) != i)
            return co__diag(diag, CUTOFF_EINVAL, "catalog plan \"%s\" appears twice",
                            t->plan_names[i]);

    /* Row 0, no plan, entitles every action: a check then tests one bit
     * whatever the subscription's plan, without a branch on it. */
    memset(t->plan_bits, 0xff, t->words * sizeof *t->plan_bits);
    for (size_t i = 0; i < c->n_plans; i++) {
        uint64_t *bits = t->plan_bits + (i + 1) * t->words; /* plan index + 1 */
        for (size_t j = 0; j < c->plans[i].n_services; j++)
            for (uint32_t a = 0; a < t->n_actions; a++)
                if (cutoff_pattern_match(c->plans[i].services[j], t->action_names[a]))
                    bits[a >> 6] |= 1ull << (a & 63);
    }
    return 0;
}

int cutoff_tree_builder_new(const cutoff_catalog_spec *catalog, cutoff_tree_builder **out,
                            cutoff_diag *diag)
{
    co__diag_clear(diag);
    if (catalog == NULL || out == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no catalog given");
    int rc = CUTOFF_ENOMEM;
    cutoff_tree_builder *b = co__calloc(1, sizeof *b);
    if (b == NULL)
        return CUTOFF_ENOMEM;
    b->proto = co__calloc(1, sizeof *b->proto);
    if (b->proto == NULL)
        goto fail;
    if ((rc = compile_catalog(catalog, b->proto, diag)) != 0)
        goto fail;
    rc = CUTOFF_ENOMEM;
    if (co__catalog_copy(catalog, &b->catalog) != 0)
        goto fail;
    if ((rc = cutoff_tree_builder_reserve(b, 64, 1024)) != 0)
        goto fail;
    *out = b;
    return 0;
fail:
    cutoff_tree_builder_free(b);
    return rc;
}

void cutoff_tree_builder_free(cutoff_tree_builder *b)
{
    if (b == NULL)
        return;
    tree_free(b->proto);
    cutoff_catalog_free(b->catalog);
    co__free(b->nodes);
    co__free(b->strings);
    co__free(b->slots);
    co__free(b);
}

size_t cutoff_tree_builder_count(const cutoff_tree_builder *b)
{
    return b->n;
}

static int builder_rehash(cutoff_tree_builder *b, uint32_t slots)
{
    uint32_t *s = co__calloc(slots, sizeof *s);
    if (s == NULL)
        return CUTOFF_ENOMEM;
    co__advise_huge(s, (size_t)slots * sizeof *s);
    uint32_t mask = slots - 1;
    for (uint32_t i = 0; i < b->n; i++) {
        const bnode *n = &b->nodes[i];
        uint32_t h = (uint32_t)co__hash(b->strings + n->id_off, n->id_len) & mask;
        while (s[h] != 0)
            h = (h + 1) & mask;
        s[h] = i + 1;
    }
    co__free(b->slots);
    b->slots = s;
    b->slot_mask = mask;
    return 0;
}

int cutoff_tree_builder_reserve(cutoff_tree_builder *b, size_t nodes, size_t id_bytes)
{
    if (nodes >= UINT32_MAX / 4)
        return CUTOFF_ELIMIT;
    if (nodes > b->cap) {
        bnode *n = co__realloc(b->nodes, nodes * sizeof *n);
        if (n == NULL)
            return CUTOFF_ENOMEM;
        co__advise_huge(n + b->n, (nodes - b->n) * sizeof *n);
        b->nodes = n;
        b->cap = (uint32_t)nodes;
    }
    if (b->str_len + id_bytes > b->str_cap) {
        char *s = co__realloc(b->strings, b->str_len + id_bytes);
        if (s == NULL)
            return CUTOFF_ENOMEM;
        b->strings = s;
        b->str_cap = b->str_len + id_bytes;
    }
    uint32_t want = pow2_at_least((uint64_t)nodes * 2);
    if (b->slots == NULL || want > b->slot_mask + 1)
        return builder_rehash(b, want);
    return 0;
}

static uint32_t builder_find(const cutoff_tree_builder *b, const char *id, size_t len)
{
    uint32_t h = (uint32_t)co__hash(id, len) & b->slot_mask;
    for (;;) {
        uint32_t v = b->slots[h];
        if (v == 0)
            return CO_NONE;
        const bnode *n = &b->nodes[v - 1];
        if (n->id_len == len && memcmp(b->strings + n->id_off, id, len) == 0)
            return v - 1;
        h = (h + 1) & b->slot_mask;
    }
}

static int builder_push_string(cutoff_tree_builder *b, const char *s, size_t len, uint64_t *off)
{
    if (b->str_len + len + 1 > b->str_cap) {
        uint64_t cap = b->str_cap ? b->str_cap * 2 : 4096;
        while (cap < b->str_len + len + 1)
            cap *= 2;
        char *p = co__realloc(b->strings, cap);
        if (p == NULL)
            return CUTOFF_ENOMEM;
        b->strings = p;
        b->str_cap = cap;
    }
    memcpy(b->strings + b->str_len, s, len);
    b->strings[b->str_len + len] = '\0';
    *off = b->str_len;
    b->str_len += len + 1;
    return 0;
}

int cutoff_tree_builder_add(cutoff_tree_builder *b, const cutoff_node_spec *node, cutoff_diag *diag)
{
    char q[160], q2[160];
    co__diag_clear(diag);
    uint32_t item = b->items;
    if (diag)
        diag->item = item;
    if (node == NULL || node->id == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "node has no id");
    if (!cutoff_id_valid(node->id))
        return co__diag(diag, CUTOFF_EINVAL, "node id \"%s\" is not 1-128 bytes of [A-Za-z0-9._:-]",
                        co__quote(node->id, q, sizeof q));
    if (node->kind < CUTOFF_NODE_TENANT || node->kind > CUTOFF_NODE_SUBSCRIPTION)
        return co__diag(diag, CUTOFF_EINVAL,
                        "node \"%s\" has no kind (tenant, unit or subscription)", node->id);
    if (node->kind == CUTOFF_NODE_TENANT && node->parent != NULL)
        return co__diag(
            diag, CUTOFF_EINVAL,
            "tenant \"%s\" cannot have a parent (\"%s\"); only units and subscriptions do",
            node->id, co__quote(node->parent, q, sizeof q));
    if (node->kind != CUTOFF_NODE_TENANT && node->parent == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "%s \"%s\" needs a parent (a tenant or a unit)",
                        cutoff_node_kind_name(node->kind), node->id);
    if (node->parent != NULL && !cutoff_id_valid(node->parent))
        return co__diag(diag, CUTOFF_EINVAL, "parent \"%s\" of \"%s\" is not a valid id",
                        co__quote(node->parent, q, sizeof q), node->id);
    if (node->parent != NULL && strcmp(node->parent, node->id) == 0)
        return co__diag(diag, CUTOFF_ECYCLE, "node \"%s\" cannot be its own parent", node->id);
    uint16_t plan = 0;
    if (node->plan != NULL) {
        uint32_t p = co__name_map_find(&b->proto->plan_map, node->plan, strlen(node->plan));
        if (p == CO_NONE)
            return co__diag(diag, CUTOFF_EINVAL, "plan \"%s\" of \"%s\" is not in the catalog",
                            co__quote(node->plan, q2, sizeof q2), node->id);
        plan = (uint16_t)(p + 1);
    }

    size_t len = strlen(node->id);
    uint32_t idx = builder_find(b, node->id, len);
    if (idx == CO_NONE) {
        if (b->n == b->cap && cutoff_tree_builder_reserve(b, (size_t)b->cap * 2, 0) != 0)
            return CUTOFF_ENOMEM;
        if ((uint64_t)(b->n + 1) * 2 > (uint64_t)b->slot_mask + 1 &&
            builder_rehash(b, (b->slot_mask + 1) * 2) != 0)
            return CUTOFF_ENOMEM;
        uint64_t id_off;
        if (builder_push_string(b, node->id, len, &id_off) != 0)
            return CUTOFF_ENOMEM;
        idx = b->n;
        b->nodes[idx] = (bnode){.id_off = id_off, .id_len = (uint8_t)len};
        uint32_t h = (uint32_t)co__hash(node->id, len) & b->slot_mask;
        while (b->slots[h] != 0)
            h = (h + 1) & b->slot_mask;
        b->slots[h] = idx + 1;
        b->n++;
    }
    bnode *n = &b->nodes[idx];
    n->parent_off = UINT64_MAX;
    if (node->parent != NULL) {
        /* Reuse the parent's own id string when it is already known. */
        uint32_t p = builder_find(b, node->parent, strlen(node->parent));
        if (p != CO_NONE)
            n->parent_off = b->nodes[p].id_off;
        else if (builder_push_string(b, node->parent, strlen(node->parent), &n->parent_off) != 0)
            return CUTOFF_ENOMEM;
    }
    n->kind = (uint8_t)node->kind;
    n->plan = plan;
    n->item = item;
    b->items++;
    return 0;
}

/* ===================================================================== */
/* Building                                                               */
/* ===================================================================== */

/* Reports a cycle through node i (not reachable from any tenant). */
static int report_cycle(const cutoff_tree_builder *b, const uint32_t *parent, uint32_t i,
                        cutoff_diag *diag)
{
    /* Walk up far enough to be inside the cycle, then print it once. */
    for (uint32_t k = 0; k < b->n && parent[i] != CO_NONE; k++)
        i = parent[i];
    co__buf path;
    co__buf_init(&path);
    uint32_t start = i, steps = 0;
    do {
        co__buf_printf(&path, "%s\"%s\"", steps ? " -> " : "", b->strings + b->nodes[i].id_off);
        i = parent[i];
    } while (i != start && i != CO_NONE && ++steps < 8);
    co__buf_printf(&path, " -> \"%s\"%s", b->strings + b->nodes[i == CO_NONE ? start : i].id_off,
                   i == start ? "" : " ...");
    if (diag)
        diag->item = b->nodes[start].item;
    int rc =
        co__diag(diag, CUTOFF_ECYCLE, "the parents form a cycle: %s", path.data ? path.data : "?");
    co__buf_free(&path);
    return rc;
}

/* Resolves parents and checks the kind rules. */
static int resolve_parents(const cutoff_tree_builder *b, uint32_t *parent, cutoff_diag *diag)
{
    char q[160];
    for (uint32_t i = 0; i < b->n; i++) {
        const bnode *n = &b->nodes[i];
        parent[i] = CO_NONE;
        if (n->parent_off == UINT64_MAX)
            continue;
        const char *pid = b->strings + n->parent_off;
        uint32_t p = builder_find(b, pid, strlen(pid));
        if (diag)
            diag->item = n->item;
        if (p == CO_NONE)
            return co__diag(diag, CUTOFF_EINVAL, "parent \"%s\" of \"%s\" is not in the tree",
                            co__quote(pid, q, sizeof q), b->strings + n->id_off);
        if (b->nodes[p].kind == CUTOFF_NODE_SUBSCRIPTION)
            return co__diag(
                diag, CUTOFF_EINVAL,
                "parent \"%s\" of \"%s\" is a subscription; a parent must be a tenant or a unit",
                pid, b->strings + n->id_off);
        parent[i] = p;
    }
    if (diag)
        diag->item = SIZE_MAX;
    return 0;
}

/* Lays the nodes out depth first from every tenant: order[pos] = builder
 * index, end[pos] = one past the subtree. Returns the count placed; fewer
 * than n means some nodes hang below a cycle. */
static uint32_t depth_first(const cutoff_tree_builder *b, const uint32_t *parent, uint32_t *order,
                            uint32_t *end, uint32_t *first_child, uint32_t *children,
                            uint32_t *stack)
{
    uint32_t n = b->n;
    /* children of i: children[first_child[i] .. first_child[i+1]) */
    memset(first_child, 0, ((size_t)n + 1) * sizeof *first_child);
    for (uint32_t i = 0; i < n; i++)
        if (parent[i] != CO_NONE)
            first_child[parent[i] + 1]++;
    for (uint32_t i = 0; i < n; i++)
        first_child[i + 1] += first_child[i];
    uint32_t *fill = stack; /* borrowed as a cursor array before the walk */
    memcpy(fill, first_child, (size_t)n * sizeof *fill);
    for (uint32_t i = 0; i < n; i++)
        if (parent[i] != CO_NONE)
            children[fill[parent[i]]++] = i;

    /* Iterative walk. stack holds positions of open nodes; a node's next
     * child to visit is tracked in `next` (reusing end[] until closed). */
    uint32_t placed = 0, depth = 0;
    uint32_t *next = end; /* next[pos]: cursor into children, until closed */
    for (uint32_t root = 0; root < n; root++) {
        if (parent[root] != CO_NONE)
            continue;
        order[placed] = root;
        next[placed] = first_child[root];
        stack[depth++] = placed++;
        while (depth > 0) {
            uint32_t pos = stack[depth - 1];
            uint32_t node = order[pos];
            if (next[pos] < first_child[node + 1]) {
                uint32_t child = children[next[pos]++];
                order[placed] = child;
                next[placed] = first_child[child];
                stack[depth++] = placed++;
            } else {
                end[pos] = placed;
                depth--;
            }
        }
    }
    return placed;
}

/* The layout of a tree in the making, and what finding it needs. */
typedef struct layout {
    uint32_t *parent, *order, *end, *first_child, *children, *stack;
} layout;

static void layout_free(layout *l)
{
    co__free(l->parent);
    co__free(l->order);
    co__free(l->end);
    co__free(l->first_child);
    co__free(l->children);
    co__free(l->stack);
}

/* Everything cutoff_tree_build refuses, found while laying the nodes out
 * depth first: parents that are missing or subscriptions, cycles, ids
 * past the size limit. */
static int lay_out(const cutoff_tree_builder *b, layout *l, cutoff_diag *diag)
{
    uint32_t n = b->n;
    l->parent = co__malloc(((size_t)n + 1) * sizeof *l->parent);
    l->order = co__malloc(((size_t)n + 1) * sizeof *l->order);
    l->end = co__malloc(((size_t)n + 1) * sizeof *l->end);
    l->first_child = co__malloc(((size_t)n + 2) * sizeof *l->first_child);
    l->children = co__malloc(((size_t)n + 1) * sizeof *l->children);
    l->stack = co__malloc(((size_t)n + 1) * sizeof *l->stack);
    if (!l->parent || !l->order || !l->end || !l->first_child || !l->children || !l->stack)
        return CUTOFF_ENOMEM;
    int rc = resolve_parents(b, l->parent, diag);
    if (rc != 0)
        return rc;
    uint32_t placed =
        depth_first(b, l->parent, l->order, l->end, l->first_child, l->children, l->stack);
    if (placed < n) {
        /* Mark the placed ones; any other node lies on or below a cycle. */
        memset(l->stack, 0, (size_t)n * sizeof *l->stack);
        for (uint32_t p = 0; p < placed; p++)
            l->stack[l->order[p]] = 1;
        for (uint32_t i = 0; i < n; i++)
            if (!l->stack[i])
                return report_cycle(b, l->parent, i, diag);
    }
    uint64_t id_bytes = 0;
    for (uint32_t i = 0; i < n; i++)
        id_bytes += b->nodes[i].id_len + 1u;
    if (id_bytes >= UINT32_MAX)
        return co__diag(diag, CUTOFF_ELIMIT, "the tree's ids exceed 4 GiB");
    return 0;
}

int co__tree_builder_check(const cutoff_tree_builder *b, cutoff_diag *diag)
{
    co__diag_clear(diag);
    layout l = {NULL};
    int rc = lay_out(b, &l, diag);
    layout_free(&l);
    return rc;
}

int cutoff_tree_build(cutoff_tree_builder *b, cutoff_tree **out, cutoff_diag *diag)
{
    co__diag_clear(diag);
    uint32_t n = b->n;
    cutoff_tree *t = NULL;
    layout l = {NULL};
    int rc = lay_out(b, &l, diag);
    if (rc != 0)
        goto done;
    uint32_t *parent = l.parent, *order = l.order, *end = l.end, *children = l.children;

    /* Each tree owns a compiled catalog (from the builder's copy, which
     * compiled once already in cutoff_tree_builder_new). */
    rc = CUTOFF_ENOMEM;
    t = co__calloc(1, sizeof *t);
    if (t == NULL)
        goto done;
    if ((rc = compile_catalog(b->catalog, t, NULL)) != 0)
        goto done;
    rc = CUTOFF_ENOMEM;

    /* Nodes in depth-first order, effective plans, ids, hash slots. */
    t->n_nodes = n;
    t->nodes = co__malloc(((size_t)n + 1) * sizeof *t->nodes);
    uint64_t id_bytes = 0; /* < 4 GiB: lay_out checked */
    for (uint32_t i = 0; i < n; i++)
        id_bytes += b->nodes[i].id_len + 1u;
    t->ids = co__malloc(id_bytes + 1);
    t->ids_bytes = id_bytes + 1;
    uint64_t nslots = pow2_at_least((uint64_t)n + n / 2 + 1);
    /* Aligned to 64 bytes, so that a probe's first two slots share a cache
     * line, and a large table to 2 MiB, so that huge pages cover all of it
     * (every check touches a random slot; with 4 KiB pages that also misses
     * the TLB once the tree is large: 10M nodes, ~500 MB). The bytes before
     * the aligned start are never touched. */
    size_t align = nslots * sizeof *t->slots >= (2u << 20) ? (2u << 20) : 64;
    t->slots_mem = co__calloc(nslots * sizeof *t->slots + align, 1);
    t->slot_mask = nslots - 1;
    if (!t->nodes || !t->ids || !t->slots_mem)
        goto done;
    t->slots = (co__slot *)(((uintptr_t)t->slots_mem + align - 1) & ~(uintptr_t)(align - 1));
    co__advise_huge(t->nodes, ((size_t)n + 1) * sizeof *t->nodes);
    co__advise_huge(t->slots, nslots * sizeof *t->slots);
    uint32_t *pos_of = children; /* reuse: builder index -> position */
    for (uint32_t pos = 0; pos < n; pos++)
        pos_of[order[pos]] = pos;
    uint32_t off = 0;
    for (uint32_t pos = 0; pos < n; pos++) {
        const bnode *bn = &b->nodes[order[pos]];
        co__node *node = &t->nodes[pos];
        node->parent = parent[order[pos]] == CO_NONE ? CO_NONE : pos_of[parent[order[pos]]];
        node->end = end[pos];
        node->kind = bn->kind | (bn->plan ? CO_OWN_PLAN : 0);
        /* Parents come before children in depth-first order. */
        node->plan = bn->plan                  ? bn->plan
                     : node->parent == CO_NONE ? 0
                                               : t->nodes[node->parent].plan;
        node->id = off;
        node->unused = 0;
        char *id = t->ids + off;
        memcpy(id, b->strings + bn->id_off, bn->id_len);
        id[bn->id_len] = '\0';
        off += bn->id_len + 1u;
        t->n_kind[bn->kind]++;
        uint64_t h = co__hash(id, bn->id_len);
        uint64_t slot = co__slot_home(t, h);
        while (t->slots[slot].len != 0)
            slot = (slot + 1) & t->slot_mask;
        co__slot *sl = &t->slots[slot];
        sl->pos = pos;
        sl->plan = node->plan;
        sl->kind = bn->kind;
        sl->len = bn->id_len;
        if (bn->id_len <= CO_INLINE_ID) {
            memcpy(sl->id, id, bn->id_len);
        } else {
            sl->far.id = node->id;
            sl->far.tag = (uint32_t)(h >> 32);
        }
    }
    t->n_kind[0] = n;
    atomic_init(&t->refs, 1);
    *out = t;
    t = NULL;
    rc = 0;
done:
    tree_free(t);
    layout_free(&l);
    return rc;
}

/* ===================================================================== */
/* Lookups and lifetime                                                   */
/* ===================================================================== */

__attribute__((noinline)) const co__slot *co__tree_probe(const cutoff_tree *t, const char *id,
                                                         size_t len, uint64_t h, uint64_t i)
{
    for (;; i = (i + 1) & t->slot_mask) {
        const co__slot *s = &t->slots[i];
        if (s->len == 0)
            return NULL;
        if (co__slot_holds(t, s, id, len, h))
            return s;
    }
}

const co__slot *co__tree_find(const cutoff_tree *t, const char *id, size_t len)
{
    return co__tree_find_hashed(t, id, len, co__hash(id, len));
}

uint32_t co__tree_pos(const cutoff_tree *t, const char *id)
{
    const co__slot *s = co__tree_find(t, id, strlen(id));
    return s ? s->pos : CO_NONE;
}

void cutoff_tree_retain(cutoff_tree *t)
{
    if (t)
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void cutoff_tree_release(cutoff_tree *t)
{
    if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        tree_free(t);
}

size_t cutoff_tree_count(const cutoff_tree *t, cutoff_node_kind kind)
{
    return (unsigned)kind <= 3 ? t->n_kind[kind] : 0;
}

size_t cutoff_tree_memory(const cutoff_tree *t)
{
    return sizeof *t + (size_t)t->n_nodes * sizeof *t->nodes + t->ids_bytes +
           (t->slot_mask + 1) * sizeof *t->slots;
}

int cutoff_resolve_subscription(const cutoff_tree *t, const char *id, cutoff_sub_handle *out)
{
    const co__slot *s = id ? co__tree_find(t, id, strlen(id)) : NULL;
    if (s == NULL || s->kind != CUTOFF_NODE_SUBSCRIPTION)
        return CUTOFF_ENOTFOUND;
    out->index = s->pos;
    return 0;
}

int cutoff_resolve_action(const cutoff_tree *t, const char *name, cutoff_act_handle *out)
{
    uint32_t a = name ? co__name_map_find(&t->action_map, name, strlen(name)) : CO_NONE;
    if (a == CO_NONE)
        return CUTOFF_ENOTFOUND;
    out->index = a;
    return 0;
}

int cutoff_resolve_region(const cutoff_tree *t, const char *name, cutoff_region_handle *out)
{
    if (name == NULL) {
        *out = CUTOFF_REGION_NONE;
        return 0;
    }
    uint32_t r = co__name_map_find(&t->region_map, name, strlen(name));
    if (r == CO_NONE)
        return CUTOFF_ENOTFOUND;
    out->index = r;
    return 0;
}
