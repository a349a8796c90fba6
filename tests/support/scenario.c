/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scenario.c - the seeded generator of random scenarios for the
 * differential tests (see scenario.h). Everything a scenario holds is
 * allocated with the C library (not the library's counted wrapper, so that
 * leak counts in tests see only the library) and recorded in the scenario,
 * which frees it in one go. Out of memory in a test harness is fatal.
 */
#include "scenario.h"

#include <stdbool.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- PRNG ---------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void scenario_rng_seed(scenario_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t scenario_rng_next(scenario_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t scenario_rng_below(scenario_rng *r, uint64_t n)
{
    /* The modulo bias is far below anything a test could notice. */
    return n == 0 ? 0 : scenario_rng_next(r) % n;
}

int64_t scenario_rng_range(scenario_rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)scenario_rng_below(r, (uint64_t)(hi - lo) + 1);
}

int scenario_rng_chance(scenario_rng *r, unsigned percent)
{
    return scenario_rng_below(r, 100) < percent;
}

/* ---- ownership ----------------------------------------------------------- */

static void *own(scenario *s, void *p)
{
    if (p == NULL) {
        fprintf(stderr, "scenario: out of memory\n");
        abort();
    }
    if (s->n_owned == s->cap_owned) {
        size_t cap = s->cap_owned ? s->cap_owned * 2 : 256;
        void **owned = realloc(s->owned, cap * sizeof *owned);
        if (owned == NULL) {
            fprintf(stderr, "scenario: out of memory\n");
            abort();
        }
        s->owned = owned;
        s->cap_owned = cap;
    }
    s->owned[s->n_owned++] = p;
    return p;
}

static void *zalloc(scenario *s, size_t count, size_t size)
{
    return own(s, calloc(count ? count : 1, size));
}

static char *sprint(scenario *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *sprint(scenario *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = zalloc(s, (size_t)n + 1, 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void scenario_free(scenario *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_owned; i++)
        free(s->owned[i]);
    free(s->owned);
    memset(s, 0, sizeof *s);
}

/* ---- pools of names ------------------------------------------------------ */

/* "store" and "aix" share prefixes with "storage" and "ai", so that a
 * pattern "ai.*" that matched by a bare prefix would be caught. */
static const char *const service_pool[] = {"storage", "ai",    "security", "compute",
                                           "aix",     "store", "net"};
static const char *const verb_pool[] = {"read",       "write", "list",   "export",
                                        "transcribe", "scan",  "delete", "train"};
static const char *const region_pool[] = {"eu-a", "eu-b", "eu-ab", "us-a", "us-b", "ap-a"};
/* Region patterns an action may list beyond the catalog's names: prefix
 * forms and names the catalog does not have. */
static const char *const region_extra[] = {"eu-*", "us-*", "e*", "mars-1", "eu-zz"};
static const char *const plan_pool[] = {"basic", "enterprise", "security-only", "ai-lab"};
/* Byte-wise order differs from numeric order: "EA-10" < "EA-9". */
static const char *const action_id_pool[] = {"EA-1", "EA-10", "EA-9", "EA-2", "EA-11", "EA-100",
                                             "ea-1", "EA-1a", "A",    "Z-9",  "EA-09", "EA-3"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define BASE_TIME INT64_C(1758801600) /* 2025-09-25T12:00:00Z */
#define DAY INT64_C(86400)

/* Picks k distinct indexes of [0, n) into out (k <= n). */
static void pick_distinct(scenario_rng *r, size_t n, size_t k, size_t *out)
{
    size_t idx[64];
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)scenario_rng_below(r, n - i);
        size_t tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
        out[i] = idx[i];
    }
}

/* ---- catalog ------------------------------------------------------------- */

static void gen_catalog(scenario *s)
{
    scenario_rng *r = &s->rng;
    size_t svc[COUNT(service_pool)];
    size_t n_svc = (size_t)scenario_rng_range(r, 2, 6);
    pick_distinct(r, COUNT(service_pool), n_svc, svc);

    cutoff_catalog_action *actions = zalloc(s, n_svc * 5, sizeof *actions);
    size_t n_actions = 0;
    for (size_t i = 0; i < n_svc; i++) {
        size_t verbs[COUNT(verb_pool)];
        size_t n_verbs = (size_t)scenario_rng_range(r, 1, 5);
        pick_distinct(r, COUNT(verb_pool), n_verbs, verbs);
        for (size_t j = 0; j < n_verbs; j++) {
            actions[n_actions].name = sprint(s, "%s.%s", service_pool[svc[i]], verb_pool[verbs[j]]);
            actions[n_actions].cls =
                scenario_rng_chance(r, 50) ? CUTOFF_CLASS_READ : CUTOFF_CLASS_WRITE;
            n_actions++;
        }
    }

    size_t reg[COUNT(region_pool)];
    size_t n_regions = (size_t)scenario_rng_range(r, 0, 4);
    pick_distinct(r, COUNT(region_pool), n_regions, reg);
    const char **regions = zalloc(s, n_regions, sizeof *regions);
    for (size_t i = 0; i < n_regions; i++)
        regions[i] = region_pool[reg[i]];

    size_t pl[COUNT(plan_pool)];
    size_t n_plans = (size_t)scenario_rng_range(r, 0, 4);
    pick_distinct(r, COUNT(plan_pool), n_plans, pl);
    cutoff_plan_spec *plans = zalloc(s, n_plans, sizeof *plans);
    for (size_t i = 0; i < n_plans; i++) {
        size_t n_pat = (size_t)scenario_rng_range(r, 1, 3);
        const char **pat = zalloc(s, n_pat, sizeof *pat);
        for (size_t j = 0; j < n_pat; j++) {
            const cutoff_catalog_action *a = &actions[scenario_rng_below(r, n_actions)];
            unsigned roll = (unsigned)scenario_rng_below(r, 100);
            if (roll < 10)
                pat[j] = "*";
            else if (roll < 55)
                pat[j] = sprint(s, "%.*s.*", (int)(strchr(a->name, '.') - a->name), a->name);
            else
                pat[j] = a->name;
        }
        plans[i].name = plan_pool[pl[i]];
        plans[i].services = pat;
        plans[i].n_services = n_pat;
    }

    s->catalog.actions = actions;
    s->catalog.n_actions = n_actions;
    s->catalog.regions = regions;
    s->catalog.n_regions = n_regions;
    s->catalog.plans = plans;
    s->catalog.n_plans = n_plans;
}

/* A pattern over the catalog: "*", "SERVICE.*" or "SERVICE.ACTION". When
 * near is not NULL the pattern stays on near's service, so that deny and
 * except patterns overlap. */
static const char *gen_pattern(scenario *s, unsigned star_percent, const char *near)
{
    scenario_rng *r = &s->rng;
    if (scenario_rng_chance(r, star_percent))
        return "*";
    const char *name = s->catalog.actions[scenario_rng_below(r, s->catalog.n_actions)].name;
    if (near != NULL && strcmp(near, "*") != 0) {
        size_t svc_len = (size_t)(strchr(near, '.') - near);
        /* Another action of near's service, when there is one. */
        for (size_t tries = 0; tries < 8; tries++) {
            const char *c = s->catalog.actions[scenario_rng_below(r, s->catalog.n_actions)].name;
            if (strncmp(c, near, svc_len + 1) == 0) {
                name = c;
                break;
            }
        }
    }
    if (scenario_rng_chance(r, 45))
        return sprint(s, "%.*s.*", (int)(strchr(name, '.') - name), name);
    return name;
}

/* ---- tree ---------------------------------------------------------------- */

/* Generation-time view of the final tree: parent index per distinct node. */
typedef struct tree_view {
    size_t n;
    size_t *spec; /* index of the node's final spec in s->nodes */
    long *parent; /* index into the view, -1 for tenants */
    int *depth;
} tree_view;

static int is_descendant(const tree_view *v, size_t node, size_t of)
{
    for (long p = (long)node; p >= 0; p = v->parent[p])
        if ((size_t)p == of)
            return 1;
    return 0;
}

/* prefix and number, with as many 'x' between them as make len bytes
 * (none when len is 0 or too short). */
static char *padded_id(scenario *s, const char *prefix, size_t number, size_t len)
{
    int bare = snprintf(NULL, 0, "%s%zu", prefix, number);
    int pad = len > (size_t)bare ? (int)(len - (size_t)bare) : 0;
    return sprint(s, "%s%.*s%zu", prefix, pad,
                  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                  number);
}

static void gen_tree(scenario *s)
{
    scenario_rng *r = &s->rng;
    size_t n_tenants = (size_t)scenario_rng_range(r, 1, 4);
    size_t n_units = (size_t)scenario_rng_range(r, 0, 10);
    size_t n_subs = (size_t)scenario_rng_range(r, 1, 30);
    size_t n_updates =
        (!s->cli && scenario_rng_chance(r, 30)) ? (size_t)scenario_rng_range(r, 1, 2) : 0;
    size_t distinct = n_tenants + n_units + n_subs;

    s->nodes = zalloc(s, distinct + n_updates, sizeof *s->nodes);
    tree_view v = {0, zalloc(s, distinct, sizeof(size_t)), zalloc(s, distinct, sizeof(long)),
                   zalloc(s, distinct, sizeof(int))};
    size_t counter = 0; /* one numbering across kinds: ids like sub:1 and sub:10 */
    /* Half the scenarios pad the ids of units and subscriptions to one
     * length around the engine's limit for ids kept in the hash slot (24
     * bytes) or far above it, so that ids of equal length differ only in
     * their last bytes. Drawn
     * from a generator of their own, to leave the rest of the scenario as
     * it was. */
    scenario_rng id_rng;
    scenario_rng_seed(&id_rng, s->seed ^ 0x1d1e6e5ull);
    static const size_t id_lengths[] = {23, 24, 25, 32, 128};
    size_t id_len = scenario_rng_chance(&id_rng, 50)
                        ? id_lengths[scenario_rng_below(&id_rng, COUNT(id_lengths))]
                        : 0;

    for (size_t i = 0; i < distinct; i++) {
        cutoff_node_spec *n = &s->nodes[s->n_nodes];
        long parent = -1;
        if (i < n_tenants) {
            n->kind = CUTOFF_NODE_TENANT;
            n->id = sprint(s, "ten-%zu", counter++); /* the CLI test scopes a case to ten-0 */
        } else {
            n->kind = i < n_tenants + n_units ? CUTOFF_NODE_UNIT : CUTOFF_NODE_SUBSCRIPTION;
            n->id = padded_id(s, n->kind == CUTOFF_NODE_UNIT ? "unit." : "sub:", counter++, id_len);
            /* A tenant or a unit; units no deeper than 4 below their tenant. */
            do
                parent = (long)scenario_rng_below(r, v.n);
            while (s->nodes[v.spec[parent]].kind == CUTOFF_NODE_SUBSCRIPTION ||
                   (n->kind == CUTOFF_NODE_UNIT && v.depth[parent] >= 4));
            n->parent = s->nodes[v.spec[parent]].id;
        }
        n->name = scenario_rng_chance(r, 70) ? sprint(s, "Node %s", n->id) : NULL;
        if (s->catalog.n_plans > 0 && scenario_rng_chance(r, 15))
            n->plan = s->catalog.plans[scenario_rng_below(r, s->catalog.n_plans)].name;
        v.spec[v.n] = s->n_nodes;
        v.parent[v.n] = parent;
        v.depth[v.n] = parent < 0 ? 0 : v.depth[parent] + 1;
        v.n++;
        s->n_nodes++;
    }

    /* Updates: a unit or subscription added again with another parent (not
     * below itself) and maybe another plan; the later spec wins. */
    for (size_t u = 0; u < n_updates && n_units + n_subs > 0; u++) {
        size_t node = n_tenants + (size_t)scenario_rng_below(r, n_units + n_subs);
        long parent;
        size_t tries = 0;
        do
            parent = (long)scenario_rng_below(r, v.n);
        while (++tries < 100 && (s->nodes[v.spec[parent]].kind == CUTOFF_NODE_SUBSCRIPTION ||
                                 is_descendant(&v, (size_t)parent, node)));
        if (tries >= 100)
            continue;
        cutoff_node_spec *n = &s->nodes[s->n_nodes];
        *n = s->nodes[v.spec[node]];
        n->parent = s->nodes[v.spec[parent]].id;
        if (s->catalog.n_plans > 0 && scenario_rng_chance(r, 50))
            n->plan = scenario_rng_chance(r, 30)
                          ? NULL
                          : s->catalog.plans[scenario_rng_below(r, s->catalog.n_plans)].name;
        v.spec[node] = s->n_nodes;
        v.parent[node] = parent;
        s->n_nodes++;
    }
}

/* The final spec of every distinct node, in first-insertion order. */
static size_t final_nodes(const scenario *s, const cutoff_node_spec **out)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_nodes; i++) {
        size_t j = 0;
        while (j < n && strcmp(out[j]->id, s->nodes[i].id) != 0)
            j++;
        out[j] = &s->nodes[i];
        if (j == n)
            n++;
    }
    return n;
}

size_t scenario_subscriptions(scenario *s, const char *const **ids)
{
    const char **subs = zalloc(s, s->n_final, sizeof *subs);
    size_t k = 0;
    for (size_t i = 0; i < s->n_final; i++)
        if (s->final[i]->kind == CUTOFF_NODE_SUBSCRIPTION)
            subs[k++] = s->final[i]->id;
    *ids = subs;
    return k;
}

/* A random node of a kind (0: any), or of any kind when there is none. */
static const cutoff_node_spec *random_node(scenario *s, int kind)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n_final; i++)
        k += kind == 0 || (int)s->final[i]->kind == kind;
    if (k == 0)
        return s->final[scenario_rng_below(&s->rng, s->n_final)];
    size_t pick = (size_t)scenario_rng_below(&s->rng, k);
    for (size_t i = 0; i < s->n_final; i++)
        if ((kind == 0 || (int)s->final[i]->kind == kind) && pick-- == 0)
            return s->final[i];
    return NULL; /* not reached */
}

/* The final spec of id (the last one). */
static const cutoff_node_spec *find_node(const scenario *s, const char *id)
{
    for (size_t i = s->n_nodes; i-- > 0;)
        if (strcmp(s->nodes[i].id, id) == 0)
            return &s->nodes[i];
    return NULL;
}

/* A random subscription that is `id` or lies below it, or NULL. */
static int final_is_below(const scenario *s, size_t i, long node)
{
    size_t guard = 0;
    for (long p = (long)i; p >= 0 && guard++ <= s->n_final; p = s->final_parent[p])
        if (p == node)
            return 1;
    return 0;
}

static const char *random_sub_under(scenario *s, const char *id)
{
    long node = -1;
    for (size_t i = 0; i < s->n_final && node < 0; i++)
        if (strcmp(s->final[i]->id, id) == 0)
            node = (long)i;
    if (node < 0)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < s->n_final; i++)
        k += s->final[i]->kind == CUTOFF_NODE_SUBSCRIPTION && final_is_below(s, i, node);
    if (k == 0)
        return NULL;
    size_t pick = (size_t)scenario_rng_below(&s->rng, k);
    for (size_t i = 0; i < s->n_final; i++)
        if (s->final[i]->kind == CUTOFF_NODE_SUBSCRIPTION && final_is_below(s, i, node) &&
            pick-- == 0)
            return s->final[i]->id;
    return NULL;
}

/* ---- actions ------------------------------------------------------------- */

static int in_list(const char *const *list, size_t n, const char *v)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], v) == 0)
            return 1;
    return 0;
}

static void gen_scope(scenario *s, cutoff_action_spec *a)
{
    scenario_rng *r = &s->rng;
    size_t want = (size_t)scenario_rng_range(r, 1, 3);
    const char **scope = zalloc(s, want, sizeof *scope);
    size_t n = 0;
    for (size_t tries = 0; n < want && tries < 20; tries++) {
        const cutoff_node_spec *node;
        unsigned roll = (unsigned)scenario_rng_below(r, 100);
        if (roll < 30) {
            node = random_node(s, 0);
        } else if (roll < 50) {
            node = random_node(s, CUTOFF_NODE_SUBSCRIPTION);
        } else if (roll < 65) {
            node = random_node(s, CUTOFF_NODE_TENANT);
        } else if (n > 0) {
            /* nested: an ancestor of a scope node, or a node below one */
            const cutoff_node_spec *base = find_node(s, scope[scenario_rng_below(r, n)]);
            if (scenario_rng_chance(r, 50) && base->parent != NULL) {
                node = find_node(s, base->parent);
            } else {
                node = random_node(s, 0);
                for (size_t k = 0; k < 8; k++) {
                    const cutoff_node_spec *c = random_node(s, 0);
                    int below = 0;
                    for (const cutoff_node_spec *p = c; p && p->parent; p = find_node(s, p->parent))
                        if (strcmp(p->parent, base->id) == 0)
                            below = 1;
                    if (below) {
                        node = c;
                        break;
                    }
                }
            }
        } else {
            node = random_node(s, CUTOFF_NODE_UNIT);
        }
        if (!in_list(scope, n, node->id))
            scope[n++] = node->id;
    }
    a->scope = scope;
    a->n_scope = n;
}

static void gen_patterns(scenario *s, cutoff_action_spec *a)
{
    scenario_rng *r = &s->rng;
    size_t n_deny = (size_t)scenario_rng_range(r, 1, 3);
    const char **deny = zalloc(s, n_deny, sizeof *deny);
    size_t k = 0;
    /* Distinct within each list (documents refuse a pattern listed twice);
     * a pattern may well be in both lists. */
    for (size_t i = 0; i < n_deny; i++) {
        const char *p = gen_pattern(s, 15, NULL);
        if (!in_list(deny, k, p))
            deny[k++] = p;
    }
    a->deny = deny;
    a->n_deny = k;
    size_t n_except = scenario_rng_chance(r, 50) ? 0 : (size_t)scenario_rng_range(r, 1, 3);
    const char **except = zalloc(s, n_except, sizeof *except);
    k = 0;
    for (size_t i = 0; i < n_except; i++) {
        const char *p = gen_pattern(
            s, 4, scenario_rng_chance(r, 60) ? deny[scenario_rng_below(r, a->n_deny)] : NULL);
        if (!in_list(except, k, p))
            except[k++] = p;
    }
    a->except = except;
    a->n_except = k;
}

static bool catalog_has_region(const scenario *s, const char *pattern)
{
    for (size_t i = 0; i < s->catalog.n_regions; i++)
        if (cutoff_region_match(pattern, s->catalog.regions[i]))
            return true;
    return false;
}

static void gen_regions(scenario *s, cutoff_action_spec *a)
{
    scenario_rng *r = &s->rng;
    unsigned roll = (unsigned)scenario_rng_below(r, 100);
    if (roll < 40) {
        a->regions = NULL;
        a->n_regions = 0;
        return;
    }
    size_t n = roll < 55 ? 1 : (size_t)scenario_rng_range(r, 1, 3);
    const char **regions = zalloc(s, n, sizeof *regions);
    size_t k = 0;
    if (roll < 55) {
        regions[k++] = "*";
    } else {
        for (size_t i = 0; i < n; i++) {
            const char *p;
            if (s->catalog.n_regions > 0 && scenario_rng_chance(r, 55))
                p = s->catalog.regions[scenario_rng_below(r, s->catalog.n_regions)];
            else if (!s->cli && scenario_rng_chance(r, 8))
                p = "*"; /* among names: documents refuse it, the engine must not care */
            else
                p = region_extra[scenario_rng_below(r, COUNT(region_extra))];
            /* The database refuses a region that names or matches no catalog
             * region; only the engine sees those. */
            if (s->cli && !catalog_has_region(s, p))
                continue;
            if (!in_list(regions, k, p))
                regions[k++] = p;
        }
    }
    a->regions = regions;
    a->n_regions = k; /* none left: every region */
}

/* Phases in strictly ascending order of their starts, spread around the
 * base time with gaps from one second to a month. Starts at or after
 * `activation` may be relative (offset from it) unless absolute_only. */
static void gen_phases(scenario *s, cutoff_action_spec *a, int64_t activation, int absolute_only)
{
    static const int64_t gaps[] = {1, 2, 60, 3600, DAY, 30 * DAY};
    scenario_rng *r = &s->rng;
    size_t n = (size_t)scenario_rng_range(r, 1, 4);
    cutoff_phase_spec *ph = zalloc(s, n, sizeof *ph);
    int64_t start = s->base_time + scenario_rng_range(r, -40 * DAY, 40 * DAY);
    if (!absolute_only && scenario_rng_chance(r, 25))
        start = activation + (scenario_rng_chance(r, 50) ? 0 : scenario_rng_range(r, 0, 3 * DAY));
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            start += scenario_rng_chance(r, 20) ? scenario_rng_range(r, 1, 10 * DAY)
                                                : gaps[scenario_rng_below(r, COUNT(gaps))];
        unsigned roll = (unsigned)scenario_rng_below(r, 100);
        ph[i].mode = roll < 20   ? CUTOFF_MODE_OFF
                     : roll < 60 ? CUTOFF_MODE_READ_ONLY
                                 : CUTOFF_MODE_SUSPEND;
        if (!absolute_only && start >= activation && scenario_rng_chance(r, 50)) {
            ph[i].relative = 1;
            ph[i].at = start - activation;
        } else {
            ph[i].at = start;
        }
    }
    a->phases = ph;
    a->n_phases = n;
}

static cutoff_action_spec *gen_action(scenario *s, const char *id, cutoff_action_state state,
                                      int64_t activation)
{
    scenario_rng *r = &s->rng;
    cutoff_action_spec *a = zalloc(s, 1, sizeof *a);
    a->id = id;
    a->case_id = "CASE-1";
    gen_scope(s, a);
    gen_patterns(s, a);
    gen_regions(s, a);
    gen_phases(s, a, activation, s->cli);
    /* Ended schedules: the last phase "off" and begun (the phases lie
     * around the base time, long before the wall clock of any run): always
     * for an expired version, often for the others. */
    if (state == CUTOFF_STATE_EXPIRED || scenario_rng_chance(r, 25)) {
        cutoff_phase_spec *ph = (cutoff_phase_spec *)a->phases;
        ph[a->n_phases - 1].mode = CUTOFF_MODE_OFF;
    }
    a->status = scenario_rng_chance(r, 70) ? 403 : 451;
    a->notice.summary = sprint(s, "Services stopped by %s", id);
    a->notice.terms = "Acceptable use policy, section 3";
    a->notice.contact = "trust@example.net";
    a->notice.ref = sprint(s, "https://notices.example.net/%s", id);
    a->state = state;
    a->version = 1;
    a->activated_at = state == CUTOFF_STATE_DRAFT ? 0 : activation;
    return a;
}

static cutoff_action_state random_state(scenario *s)
{
    unsigned roll = (unsigned)scenario_rng_below(&s->rng, 100);
    if (s->cli)
        return roll < 65   ? CUTOFF_STATE_ACTIVE
               : roll < 82 ? CUTOFF_STATE_DRAFT
                           : CUTOFF_STATE_LIFTED;
    return roll < 60   ? CUTOFF_STATE_ACTIVE
           : roll < 70 ? CUTOFF_STATE_DRAFT
           : roll < 80 ? CUTOFF_STATE_LIFTED
           : roll < 90 ? CUTOFF_STATE_EXPIRED
                       : CUTOFF_STATE_SUPERSEDED;
}

/* When an action became active, around the base time. */
static int64_t random_activation(scenario *s)
{
    return s->base_time + scenario_rng_range(&s->rng, -50 * DAY, 10 * DAY);
}

static void gen_actions(scenario *s)
{
    scenario_rng *r = &s->rng;
    size_t n = (size_t)scenario_rng_range(r, 0, 8);
    size_t ids[COUNT(action_id_pool)];
    pick_distinct(r, COUNT(action_id_pool), n, ids);
    /* Room for an older, superseded version of some of them. */
    s->actions = zalloc(s, 2 * n, sizeof *s->actions);
    for (size_t i = 0; i < n; i++) {
        cutoff_action_spec *a =
            gen_action(s, action_id_pool[ids[i]], random_state(s), random_activation(s));
        s->actions[s->n_actions++] = a;
        if (!s->cli && a->state == CUTOFF_STATE_ACTIVE && scenario_rng_chance(r, 20)) {
            /* The version this one replaced: same id, must not bite. */
            cutoff_action_spec *old =
                gen_action(s, a->id, CUTOFF_STATE_SUPERSEDED, random_activation(s));
            a->version = 2;
            s->actions[s->n_actions++] = old;
        }
    }
}

const cutoff_action_spec *scenario_random_action(scenario *s, const char *id, int64_t activation)
{
    if (id == NULL)
        id = action_id_pool[scenario_rng_below(&s->rng, COUNT(action_id_pool))];
    return gen_action(s, id, CUTOFF_STATE_DRAFT, activation);
}

/* ---- queries ------------------------------------------------------------- */

/* A time worth asking about: a phase boundary of some action (exactly, one
 * second before or after), far before or after everything, or anywhere. */
static int64_t gen_time(scenario *s)
{
    scenario_rng *r = &s->rng;
    unsigned roll = (unsigned)scenario_rng_below(r, 100);
    if (roll < 60 && s->n_actions > 0) {
        const cutoff_action_spec *a = s->actions[scenario_rng_below(r, s->n_actions)];
        size_t i = (size_t)scenario_rng_below(r, a->n_phases);
        int64_t t = cutoff_phase_start(a, i, 0);
        /* Inside the phase a third of the time, else at its boundary. */
        if (roll < 20 && i + 1 < a->n_phases)
            return t + (cutoff_phase_start(a, i + 1, 0) - t) / 2;
        return t + scenario_rng_range(r, -1, 1);
    }
    if (roll < 70)
        return s->base_time - scenario_rng_range(r, 200 * DAY, 3000 * DAY);
    if (roll < 80)
        return s->base_time + scenario_rng_range(r, 200 * DAY, 20000 * DAY);
    return s->base_time + scenario_rng_range(r, -60 * DAY, 60 * DAY);
}

/* An action to aim a request at: an active one three times out of four. */
static const cutoff_action_spec *focus_action(scenario *s)
{
    scenario_rng *r = &s->rng;
    size_t active = 0;
    for (size_t i = 0; i < s->n_actions; i++)
        active += s->actions[i]->state == CUTOFF_STATE_ACTIVE;
    if (active > 0 && scenario_rng_chance(r, 75)) {
        size_t pick = (size_t)scenario_rng_below(r, active);
        for (size_t i = 0; i < s->n_actions; i++)
            if (s->actions[i]->state == CUTOFF_STATE_ACTIVE && pick-- == 0)
                return s->actions[i];
    }
    return s->actions[scenario_rng_below(r, s->n_actions)];
}

/* A catalog action one of a's deny patterns matches, or NULL. */
static const char *denied_name(scenario *s, const cutoff_action_spec *a)
{
    const char *pattern = a->deny[scenario_rng_below(&s->rng, a->n_deny)];
    size_t k = 0;
    for (size_t i = 0; i < s->catalog.n_actions; i++)
        k += (size_t)cutoff_pattern_match(pattern, s->catalog.actions[i].name);
    if (k == 0)
        return NULL;
    size_t pick = (size_t)scenario_rng_below(&s->rng, k);
    for (size_t i = 0; i < s->catalog.n_actions; i++)
        if (cutoff_pattern_match(pattern, s->catalog.actions[i].name) && pick-- == 0)
            return s->catalog.actions[i].name;
    return NULL;
}

/* A catalog region one of a's region patterns matches, or NULL. */
static const char *matching_region(scenario *s, const cutoff_action_spec *a)
{
    if (a->n_regions == 0 || s->catalog.n_regions == 0)
        return NULL;
    const char *pattern = a->regions[scenario_rng_below(&s->rng, a->n_regions)];
    for (size_t tries = 0; tries < 8; tries++) {
        const char *region = s->catalog.regions[scenario_rng_below(&s->rng, s->catalog.n_regions)];
        if (cutoff_region_match(pattern, region))
            return region;
    }
    return NULL;
}

/* Requests come in two flavours: half are aimed at one action (a
 * subscription under its scope, an action it denies, a region it lists, a
 * time at one of its phase boundaries), so that actions meet and overlap
 * often; the other half are drawn from everything, unknown names included. */
scenario_query scenario_random_query(scenario *s)
{
    scenario_rng *r = &s->rng;
    scenario_query q = {NULL, NULL, NULL, 0};
    const cutoff_action_spec *focus = NULL;
    if (s->n_actions > 0 && scenario_rng_chance(r, 50)) {
        focus = focus_action(s);
        q.subscription = random_sub_under(s, focus->scope[scenario_rng_below(r, focus->n_scope)]);
        if (scenario_rng_chance(r, 70))
            q.action = denied_name(s, focus);
        if (scenario_rng_chance(r, 60))
            q.region = matching_region(s, focus);
        if (scenario_rng_chance(r, 80)) {
            int64_t t =
                cutoff_phase_start(focus, (size_t)scenario_rng_below(r, focus->n_phases), 0);
            q.t = t + scenario_rng_range(r, -1, 1);
        } else {
            q.t = gen_time(s);
        }
    }

    unsigned roll = (unsigned)scenario_rng_below(r, 100);
    if (q.subscription != NULL) {
        /* aimed */
    } else if (roll < 80) {
        q.subscription = random_node(s, CUTOFF_NODE_SUBSCRIPTION)->id;
    } else if (roll < 85) {
        q.subscription = random_node(s, CUTOFF_NODE_UNIT)->id;
    } else if (roll < 90) {
        q.subscription = random_node(s, CUTOFF_NODE_TENANT)->id;
    } else {
        static const char *const unknown[] = {"nope", "sub:99999", "SUB:1", "sub:1x", "Node"};
        const char *near = random_node(s, CUTOFF_NODE_SUBSCRIPTION)->id;
        size_t n = strlen(near);
        switch (scenario_rng_below(r, 4)) {
        case 0: /* a subscription's id with its last byte changed */
            q.subscription = sprint(s, "%.*s%c", (int)n - 1, near, near[n - 1] == '9' ? '8' : '9');
            break;
        case 1: /* one byte short, or one too many (an id has at most 128) */
            q.subscription = n > 1 && (n >= 128 || scenario_rng_chance(r, 50))
                                 ? sprint(s, "%.*s", (int)n - 1, near)
                                 : sprint(s, "%s0", near);
            break;
        default: q.subscription = unknown[scenario_rng_below(r, COUNT(unknown))];
        }
    }

    roll = (unsigned)scenario_rng_below(r, 100);
    const char *name = s->catalog.actions[scenario_rng_below(r, s->catalog.n_actions)].name;
    int svc = (int)(strchr(name, '.') - name);
    if (q.action != NULL)
        ; /* aimed */
    else if (roll < 88)
        q.action = name;
    else if (roll < 92)
        q.action = "nosuch.read";
    else if (roll < 96 || s->cli)
        q.action = sprint(s, "%.*s.nuke", svc, name);
    else if (roll < 98)
        q.action = sprint(s, "%.*s", svc, name);
    else
        q.action = sprint(s, "%.*s.*", svc, name);

    roll = (unsigned)scenario_rng_below(r, 100);
    if (q.region != NULL) {
        /* aimed */
    } else if (roll < 55 && s->catalog.n_regions > 0) {
        q.region = s->catalog.regions[scenario_rng_below(r, s->catalog.n_regions)];
    } else if (roll < 70) {
        static const char *const unknown[] = {"mars-1", "eu-zz", "EU-A", "eu-", "us-a-2"};
        q.region = unknown[scenario_rng_below(r, COUNT(unknown))];
    }

    if (focus == NULL)
        q.t = gen_time(s);
    return q;
}

/* ---- the whole scenario -------------------------------------------------- */

int scenario_generate(uint64_t seed, const scenario_options *opt, scenario *out)
{
    memset(out, 0, sizeof *out);
    out->seed = seed;
    out->cli = opt && opt->cli;
    out->base_time = BASE_TIME;
    scenario_rng_seed(&out->rng, seed);
    gen_catalog(out);
    gen_tree(out);
    out->final = zalloc(out, out->n_nodes, sizeof *out->final);
    out->n_final = final_nodes(out, out->final);
    out->final_parent = zalloc(out, out->n_final, sizeof *out->final_parent);
    for (size_t i = 0; i < out->n_final; i++) {
        out->final_parent[i] = -1;
        for (size_t j = 0; out->final[i]->parent && j < out->n_final; j++)
            if (strcmp(out->final[j]->id, out->final[i]->parent) == 0)
                out->final_parent[i] = (long)j;
    }
    gen_actions(out);
    size_t n_queries = opt ? opt->n_queries : 0;
    out->queries = zalloc(out, n_queries, sizeof *out->queries);
    for (size_t i = 0; i < n_queries; i++)
        out->queries[i] = scenario_random_query(out);
    out->n_queries = n_queries;
    return 0;
}

/* ---- dumps ----------------------------------------------------------------- */

static void dump_list(const char *const *v, size_t n, FILE *out)
{
    fputc('[', out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%s", i ? ", " : "", v[i]);
    fputc(']', out);
}

void scenario_dump_action(const cutoff_action_spec *a, FILE *out)
{
    char t1[32], t2[32];
    fprintf(out, "  %s v%d %s activated_at=%lld (%s)\n", a->id, a->version,
            cutoff_action_state_name(a->state), (long long)a->activated_at,
            cutoff_time_format(a->activated_at, t1));
    fprintf(out, "    scope ");
    dump_list(a->scope, a->n_scope, out);
    fprintf(out, " deny ");
    dump_list(a->deny, a->n_deny, out);
    fprintf(out, " except ");
    dump_list(a->except, a->n_except, out);
    fprintf(out, " regions ");
    if (a->n_regions == 0)
        fprintf(out, "(absent)");
    else
        dump_list(a->regions, a->n_regions, out);
    fputc('\n', out);
    for (size_t i = 0; i < a->n_phases; i++) {
        const cutoff_phase_spec *p = &a->phases[i];
        int64_t start = cutoff_phase_start(a, i, 0);
        if (p->relative)
            fprintf(out, "    phase %zu: +%llds = %lld (%s) %s\n", i, (long long)p->at,
                    (long long)start, cutoff_time_format(start, t2), cutoff_mode_name(p->mode));
        else
            fprintf(out, "    phase %zu: %lld (%s) %s\n", i, (long long)start,
                    cutoff_time_format(start, t2), cutoff_mode_name(p->mode));
    }
}

void scenario_dump(const scenario *s, FILE *out)
{
    fprintf(out, "scenario seed=%llu\n", (unsigned long long)s->seed);
    fprintf(out, "catalog actions:");
    for (size_t i = 0; i < s->catalog.n_actions; i++)
        fprintf(out, " %s(%s)", s->catalog.actions[i].name,
                s->catalog.actions[i].cls == CUTOFF_CLASS_READ ? "read" : "write");
    fprintf(out, "\ncatalog regions: ");
    dump_list(s->catalog.regions, s->catalog.n_regions, out);
    fputc('\n', out);
    for (size_t i = 0; i < s->catalog.n_plans; i++) {
        fprintf(out, "plan %s: ", s->catalog.plans[i].name);
        dump_list(s->catalog.plans[i].services, s->catalog.plans[i].n_services, out);
        fputc('\n', out);
    }
    fprintf(out, "nodes (insertion order; a repeated id replaces the earlier spec):\n");
    for (size_t i = 0; i < s->n_nodes; i++) {
        const cutoff_node_spec *n = &s->nodes[i];
        fprintf(out, "  [%zu] %s %s parent=%s plan=%s\n", i, cutoff_node_kind_name(n->kind), n->id,
                n->parent ? n->parent : "-", n->plan ? n->plan : "-");
    }
    fprintf(out, "actions:\n");
    for (size_t i = 0; i < s->n_actions; i++)
        scenario_dump_action(s->actions[i], out);
}

void scenario_format_query(const scenario_query *q, char *buf, size_t size)
{
    char t[32];
    snprintf(buf, size, "check(%s, %s, %s, %lld = %s)", q->subscription, q->action,
             q->region ? q->region : "(none)", (long long)q->t, cutoff_time_format(q->t, t));
}
