/* SPDX-License-Identifier: Apache-2.0 */
/*
 * synth.h - the synthetic world every benchmark measures, as a pure function
 * of (number of subscriptions, seed): a catalog of five services, a customer
 * tree under four tenants (tenant -> group -> division -> department -> team
 * -> subscription, about 100k / 10k / 1k / 50 subscriptions per group /
 * division / department / team, team sizes drawn at random), ids shaped like
 * real ones ("sub-" and 12 hex digits, "unit-" and 8), plans on tenants, on
 * some divisions and on some subscriptions, the enforcement actions of an
 * ordinary day (a 10k-subscription division read-only, another suspended, a
 * department cut off from AI in EU regions, five single subscriptions
 * read-only), the actions the preview and time-to-effect benchmarks propose,
 * and random request streams mixing allows, denies and unknown names.
 *
 * The generator program (gen.c) writes this world as files for the CLI and
 * SQLite; the in-process benchmarks (engine.c, store.c) build the very same
 * world in memory, so their figures compare like with like. Everything lives
 * in this header as static functions because every .c file of bench/ is a
 * program of its own (see the Makefile), and nothing here belongs in the
 * library.
 */
#ifndef CUTOFF_BENCH_SYNTH_H
#define CUTOFF_BENCH_SYNTH_H

#include "cutoff.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNTH_TENANTS 4
/* Phases are placed around this time and requests are decided one day
 * after it: EA-1 is read-only then, EA-2 suspended. */
#define SYNTH_BASE_TIME INT64_C(1758801600) /* 2025-09-25T12:00:00Z */
#define SYNTH_NOW (SYNTH_BASE_TIME + 86400)
#define SYNTH_DAY INT64_C(86400)

/* ---- catalog ------------------------------------------------------------- */

static const cutoff_catalog_action synth_catalog_actions[] = {
    {"storage.read", CUTOFF_CLASS_READ},    {"storage.list", CUTOFF_CLASS_READ},
    {"storage.export", CUTOFF_CLASS_READ},  {"storage.write", CUTOFF_CLASS_WRITE},
    {"storage.delete", CUTOFF_CLASS_WRITE}, {"ai.transcribe", CUTOFF_CLASS_WRITE},
    {"ai.translate", CUTOFF_CLASS_WRITE},   {"ai.infer", CUTOFF_CLASS_WRITE},
    {"compute.run", CUTOFF_CLASS_WRITE},    {"compute.stop", CUTOFF_CLASS_WRITE},
    {"compute.logs", CUTOFF_CLASS_READ},    {"security.scan", CUTOFF_CLASS_WRITE},
    {"security.alerts", CUTOFF_CLASS_READ}, {"network.connect", CUTOFF_CLASS_WRITE},
    {"network.inspect", CUTOFF_CLASS_READ},
};
#define SYNTH_N_ACTIONS (sizeof synth_catalog_actions / sizeof synth_catalog_actions[0])

static const char *const synth_regions[] = {"eu-netherlands", "eu-ireland", "eu-germany",
                                            "us-east",        "us-west",    "asia-japan"};
#define SYNTH_N_REGIONS (sizeof synth_regions / sizeof synth_regions[0])

static const char *const synth_plan_enterprise[] = {"*"};
static const char *const synth_plan_standard[] = {"storage.*", "compute.*", "security.*",
                                                  "network.*"};
static const char *const synth_plan_basic[] = {"storage.*", "security.*"};
static const char *const synth_plan_security[] = {"security.*"};
static const cutoff_plan_spec synth_plans[] = {
    {"enterprise", synth_plan_enterprise, 1},
    {"standard", synth_plan_standard, 4},
    {"basic", synth_plan_basic, 2},
    {"security-only", synth_plan_security, 1},
};

static inline cutoff_catalog_spec synth_catalog(void)
{
    return (cutoff_catalog_spec){synth_catalog_actions, SYNTH_N_ACTIONS, synth_regions,
                                 SYNTH_N_REGIONS,       synth_plans,     4};
}

/* Writes the catalog in the JSON format of docs/design.md. */
static inline void synth_catalog_json(FILE *out)
{
    fputs("{\"services\":[", out);
    const char *service = NULL;
    size_t service_len = 0;
    for (size_t i = 0; i < SYNTH_N_ACTIONS; i++) {
        const char *name = synth_catalog_actions[i].name;
        const char *dot = strchr(name, '.');
        size_t len = (size_t)(dot - name);
        if (service == NULL || len != service_len || strncmp(service, name, len) != 0) {
            fprintf(out, "%s{\"name\":\"%.*s\",\"actions\":[", service ? "]}," : "", (int)len,
                    name);
            service = name;
            service_len = len;
        } else {
            fputc(',', out);
        }
        fprintf(out, "{\"name\":\"%s\",\"class\":\"%s\"}", dot + 1,
                synth_catalog_actions[i].cls == CUTOFF_CLASS_READ ? "read" : "write");
    }
    fputs("]}],\"regions\":[", out);
    for (size_t i = 0; i < SYNTH_N_REGIONS; i++)
        fprintf(out, "%s\"%s\"", i ? "," : "", synth_regions[i]);
    fputs("],\"plans\":[", out);
    for (size_t i = 0; i < 4; i++) {
        fprintf(out, "%s{\"name\":\"%s\",\"services\":[", i ? "," : "", synth_plans[i].name);
        for (size_t j = 0; j < synth_plans[i].n_services; j++)
            fprintf(out, "%s\"%s\"", j ? "," : "", synth_plans[i].services[j]);
        fputs("]}", out);
    }
    fputs("]}\n", out);
}

/* ---- randomness and ids ---------------------------------------------------- */

static inline uint64_t synth_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A bijection of [0, 2^bits): ids drawn through it look random yet never
 * collide, and numbers past the last subscription give ids that are
 * certainly unknown. Each step (xor, odd multiply, xor-shift) is invertible
 * modulo 2^bits. */
static inline uint64_t synth_permute(uint64_t x, unsigned bits, uint64_t seed)
{
    const uint64_t mask = (UINT64_C(1) << bits) - 1;
    uint64_t key = seed;
    for (int round = 0; round < 4; round++) {
        x = (x ^ synth_rand(&key)) & mask;
        x = (x * 0x9e3779b97f4a7c15ULL) & mask;
        x ^= x >> (bits / 2);
    }
    return x;
}

/* The id of subscription number k (k >= the count gives an unknown id). */
static inline int synth_sub_id(uint64_t seed, uint64_t k, char buf[32])
{
    return snprintf(buf, 32, "sub-%012" PRIx64, synth_permute(k, 48, seed));
}

static inline int synth_unit_id(uint64_t seed, uint64_t u, char buf[32])
{
    return snprintf(buf, 32, "unit-%08" PRIx64, synth_permute(u, 32, seed ^ 0x756e6974ULL));
}

static const char *const synth_tenant_ids[SYNTH_TENANTS] = {"tenant-acme", "tenant-globex",
                                                            "tenant-initech", "tenant-umbrella"};
static const char *const synth_tenant_names[SYNTH_TENANTS] = {"Acme Corporation", "Globex",
                                                              "Initech", "Umbrella"};
static const char *const synth_tenant_plans[SYNTH_TENANTS] = {"enterprise", "standard",
                                                              "enterprise", "basic"};
/* Shares of the subscriptions, in percent (the last tenant takes the rest). */
static const unsigned synth_tenant_share[SYNTH_TENANTS] = {40, 30, 20, 10};

/* ---- the tree ------------------------------------------------------------------ */

enum { SYNTH_GROUP = 0, SYNTH_DIVISION = 1, SYNTH_DEPARTMENT = 2, SYNTH_TEAM = 3 };
static const char *const synth_level_names[] = {"group", "division", "department", "team"};

/* A unit above team level, with the subscriptions below it: they are the
 * contiguous numbers [first_sub, first_sub + n_subs). */
typedef struct synth_unit {
    uint64_t number; /* unit number; the id is synth_unit_id(seed, number) */
    uint64_t first_sub, n_subs;
    uint8_t level, tenant;
} synth_unit;

typedef struct synth_world {
    uint64_t subs, seed;
    uint64_t nodes, id_bytes;
    uint64_t tenant_first_sub[SYNTH_TENANTS], tenant_subs[SYNTH_TENANTS];
    synth_unit *units; /* groups, divisions and departments, in tree order */
    size_t n_units, cap_units;
} synth_world;

/* One node as the walk hands it out (strings valid during the call). */
typedef struct synth_node {
    cutoff_node_kind kind;
    const char *id, *parent, *name, *plan;
    uint64_t sub; /* subscription number, for subscriptions */
} synth_node;

typedef void (*synth_visit_fn)(void *ctx, const synth_node *node);

static inline void synth_world_free(synth_world *w)
{
    free(w->units);
    w->units = NULL;
    w->n_units = w->cap_units = 0;
}

static inline size_t synth_push_unit(synth_world *w, uint64_t number, int level, int tenant,
                                     uint64_t first_sub)
{
    if (w->n_units == w->cap_units) {
        w->cap_units = w->cap_units ? w->cap_units * 2 : 256;
        w->units = realloc(w->units, w->cap_units * sizeof *w->units);
        if (w->units == NULL) {
            fprintf(stderr, "synth: out of memory\n");
            exit(1);
        }
    }
    w->units[w->n_units] = (synth_unit){number, first_sub, 0, (uint8_t)level, (uint8_t)tenant};
    return w->n_units++;
}

/* Walks the tree of `subs` subscriptions in depth-first order (parents
 * before children), calling visit (when not NULL) for every node, and fills
 * w with the counts and the units above team level. Without a visitor the
 * ids are not even formatted, so a walk costs little. */
static inline void synth_walk(uint64_t subs, uint64_t seed, synth_visit_fn visit, void *ctx,
                              synth_world *w)
{
    memset(w, 0, sizeof *w);
    w->subs = subs;
    w->seed = seed;
    uint64_t rng = seed ^ 0x7472656500000000ULL;
    uint64_t k = 0, unit = 0, divisions = 0, assigned = 0;
    char ids[5][32], sub_id[32], name[48];
    synth_node n;

#define SYNTH_EMIT(kind_, id_, parent_, name_, plan_, idlen_)                                      \
    do {                                                                                           \
        w->nodes++;                                                                                \
        w->id_bytes += (uint64_t)(idlen_);                                                         \
        if (visit) {                                                                               \
            n = (synth_node){(kind_), (id_), (parent_), (name_), (plan_), k};                      \
            visit(ctx, &n);                                                                        \
        }                                                                                          \
    } while (0)
#define SYNTH_UNIT(level_, parent_)                                                                \
    do {                                                                                           \
        int len_ = synth_unit_id(seed, unit, ids[(level_) + 1]);                                   \
        if (visit)                                                                                 \
            snprintf(name, sizeof name, "%s %" PRIu64, synth_level_names[level_], unit);           \
        const char *plan_ = NULL;                                                                  \
        if ((level_) == SYNTH_DIVISION && divisions++ % 7 == 3)                                    \
            plan_ = "standard";                                                                    \
        SYNTH_EMIT(CUTOFF_NODE_UNIT, ids[(level_) + 1], (parent_), name, plan_, len_);             \
        unit++;                                                                                    \
    } while (0)
#define SYNTH_SUB(parent_)                                                                         \
    do {                                                                                           \
        int len_ = 16;                                                                             \
        if (visit)                                                                                 \
            len_ = synth_sub_id(seed, k, sub_id);                                                  \
        const char *plan_ = synth_rand(&rng) % 100 < 3 ? "security-only" : NULL;                   \
        SYNTH_EMIT(CUTOFF_NODE_SUBSCRIPTION, sub_id, (parent_), NULL, plan_, len_);                \
        k++;                                                                                       \
    } while (0)

    for (int t = 0; t < SYNTH_TENANTS; t++) {
        uint64_t share =
            t + 1 < SYNTH_TENANTS ? subs * synth_tenant_share[t] / 100 : subs - assigned;
        assigned += share;
        w->tenant_first_sub[t] = k;
        w->tenant_subs[t] = share;
        const char *tid = synth_tenant_ids[t];
        SYNTH_EMIT(CUTOFF_NODE_TENANT, tid, NULL, synth_tenant_names[t], synth_tenant_plans[t],
                   strlen(tid));
        uint64_t left = share;
        if (left > 0) { /* the tenant's own subscription, directly below it */
            SYNTH_SUB(tid);
            left--;
        }
        while (left > 0) {
            size_t g = synth_push_unit(w, unit, SYNTH_GROUP, t, k);
            SYNTH_UNIT(SYNTH_GROUP, tid);
            for (int d = 0; d < 10 && left > 0; d++) {
                size_t dv = synth_push_unit(w, unit, SYNTH_DIVISION, t, k);
                SYNTH_UNIT(SYNTH_DIVISION, ids[1]);
                for (int p = 0; p < 10 && left > 0; p++) {
                    size_t dp = synth_push_unit(w, unit, SYNTH_DEPARTMENT, t, k);
                    SYNTH_UNIT(SYNTH_DEPARTMENT, ids[2]);
                    for (int m = 0; m < 20 && left > 0; m++) {
                        SYNTH_UNIT(SYNTH_TEAM, ids[3]);
                        uint64_t size = 10 + synth_rand(&rng) % 81;
                        if (size > left)
                            size = left;
                        for (uint64_t i = 0; i < size; i++)
                            SYNTH_SUB(ids[4]);
                        left -= size;
                    }
                    w->units[dp].n_subs = k - w->units[dp].first_sub;
                }
                w->units[dv].n_subs = k - w->units[dv].first_sub;
            }
            w->units[g].n_subs = k - w->units[g].first_sub;
        }
    }
#undef SYNTH_EMIT
#undef SYNTH_UNIT
#undef SYNTH_SUB
}

/* The first unit of a level in a tenant (the n-th one, counting from 0), or
 * NULL when the tree is too small to have it. */
static inline const synth_unit *synth_find_unit(const synth_world *w, int tenant, int level,
                                                size_t nth)
{
    for (size_t i = 0; i < w->n_units; i++)
        if (w->units[i].tenant == tenant && w->units[i].level == level && nth-- == 0)
            return &w->units[i];
    return NULL;
}

/* ---- enforcement actions --------------------------------------------------------- */

#define SYNTH_MAX_SCOPE 5

/* An action of the synthetic world, with the subscriptions its scope holds
 * (ranges of subscription numbers) so request streams can aim at them. */
typedef struct synth_action {
    char id[16];
    char scope_ids[SYNTH_MAX_SCOPE][32];
    const char *scope[SYNTH_MAX_SCOPE];
    uint64_t scope_first[SYNTH_MAX_SCOPE], scope_subs[SYNTH_MAX_SCOPE];
    size_t n_scope;
    const char *deny[3], *except[2], *regions[2];
    size_t n_deny, n_except, n_regions;
    cutoff_phase_spec phases[2];
    size_t n_phases;
    int status;
    const char *summary;
} synth_action;

/* Sets the scope of a to one unit (or its tenant when the tree is too small
 * to have such a unit). */
static inline void synth_scope_unit(const synth_world *w, synth_action *a, int tenant, int level,
                                    size_t nth)
{
    size_t i = a->n_scope++;
    const synth_unit *u = synth_find_unit(w, tenant, level, nth);
    if (u != NULL) {
        synth_unit_id(w->seed, u->number, a->scope_ids[i]);
        a->scope_first[i] = u->first_sub;
        a->scope_subs[i] = u->n_subs;
    } else {
        snprintf(a->scope_ids[i], sizeof a->scope_ids[i], "%s", synth_tenant_ids[tenant]);
        a->scope_first[i] = w->tenant_first_sub[tenant];
        a->scope_subs[i] = w->tenant_subs[tenant];
    }
    a->scope[i] = a->scope_ids[i];
}

static inline void synth_scope_tenant(const synth_world *w, synth_action *a, int tenant)
{
    size_t i = a->n_scope++;
    snprintf(a->scope_ids[i], sizeof a->scope_ids[i], "%s", synth_tenant_ids[tenant]);
    a->scope_first[i] = w->tenant_first_sub[tenant];
    a->scope_subs[i] = w->tenant_subs[tenant];
    a->scope[i] = a->scope_ids[i];
}

/* The active actions of the synthetic day:
 *   EA-1  the first division of Globex (~10k subscriptions): storage and AI
 *         read-only from BASE, suspended from BASE+30d; security excepted.
 *   EA-2  the first division of Initech (~10k): everything but security
 *         suspended since BASE-10d.
 *   EA-3  the second department of Acme (~1k): AI suspended in eu-* regions.
 *   EA-4  five single Umbrella subscriptions: storage and compute read-only.
 * Returns the count (4). */
static inline size_t synth_day_actions(const synth_world *w, synth_action out[4])
{
    memset(out, 0, 4 * sizeof *out);
    synth_action *a = &out[0];
    snprintf(a->id, sizeof a->id, "EA-1");
    synth_scope_unit(w, a, 1, SYNTH_DIVISION, 0);
    a->deny[a->n_deny++] = "storage.*";
    a->deny[a->n_deny++] = "ai.*";
    a->except[a->n_except++] = "security.*";
    a->phases[a->n_phases++] = (cutoff_phase_spec){SYNTH_BASE_TIME, 0, CUTOFF_MODE_READ_ONLY};
    a->phases[a->n_phases++] =
        (cutoff_phase_spec){SYNTH_BASE_TIME + 30 * SYNTH_DAY, 0, CUTOFF_MODE_SUSPEND};
    a->status = 451;
    a->summary = "Storage and AI services read-only for export, then suspended";

    a = &out[1];
    snprintf(a->id, sizeof a->id, "EA-2");
    synth_scope_unit(w, a, 2, SYNTH_DIVISION, 0);
    a->deny[a->n_deny++] = "*";
    a->except[a->n_except++] = "security.*";
    a->phases[a->n_phases++] =
        (cutoff_phase_spec){SYNTH_BASE_TIME - 10 * SYNTH_DAY, 0, CUTOFF_MODE_SUSPEND};
    a->status = 403;
    a->summary = "All services but security suspended";

    a = &out[2];
    snprintf(a->id, sizeof a->id, "EA-3");
    synth_scope_unit(w, a, 0, SYNTH_DEPARTMENT, 1);
    a->deny[a->n_deny++] = "ai.*";
    a->regions[a->n_regions++] = "eu-*";
    a->phases[a->n_phases++] = (cutoff_phase_spec){SYNTH_BASE_TIME, 0, CUTOFF_MODE_SUSPEND};
    a->status = 451;
    a->summary = "AI services suspended in EU regions";

    a = &out[3];
    snprintf(a->id, sizeof a->id, "EA-4");
    uint64_t first = w->tenant_first_sub[3], n = w->tenant_subs[3];
    for (uint64_t i = 0; i < 5 && n >= 10; i++) {
        uint64_t k = first + 1 + i * (n / 5); /* spread over the tenant, distinct */
        synth_sub_id(w->seed, k, a->scope_ids[a->n_scope]);
        a->scope[a->n_scope] = a->scope_ids[a->n_scope];
        a->scope_first[a->n_scope] = k;
        a->scope_subs[a->n_scope] = 1;
        a->n_scope++;
    }
    if (a->n_scope == 0)
        synth_scope_tenant(w, a, 3);
    a->deny[a->n_deny++] = "storage.*";
    a->deny[a->n_deny++] = "compute.*";
    a->phases[a->n_phases++] = (cutoff_phase_spec){SYNTH_BASE_TIME, 0, CUTOFF_MODE_READ_ONLY};
    a->status = 403;
    a->summary = "Storage and compute read-only";
    return 4;
}

/* EA-WIDE, for the preview of a large action: Acme, Globex and Initech (90%
 * of the subscriptions), storage and AI read-only from BASE+2d, suspended
 * from BASE+32d, security excepted. */
static inline void synth_wide_action(const synth_world *w, synth_action *a)
{
    memset(a, 0, sizeof *a);
    snprintf(a->id, sizeof a->id, "EA-WIDE");
    for (int t = 0; t < 3; t++)
        synth_scope_tenant(w, a, t);
    a->deny[a->n_deny++] = "storage.*";
    a->deny[a->n_deny++] = "ai.*";
    a->except[a->n_except++] = "security.*";
    a->phases[a->n_phases++] =
        (cutoff_phase_spec){SYNTH_BASE_TIME + 2 * SYNTH_DAY, 0, CUTOFF_MODE_READ_ONLY};
    a->phases[a->n_phases++] =
        (cutoff_phase_spec){SYNTH_BASE_TIME + 32 * SYNTH_DAY, 0, CUTOFF_MODE_SUSPEND};
    a->status = 451;
    a->summary = "Storage and AI read-only, then suspended";
}

/* EA-UNIT, for time-to-effect and the preview of a unit: the first group of
 * Acme (~100k subscriptions), storage and AI suspended from approval on. */
static inline void synth_unit_action(const synth_world *w, synth_action *a)
{
    memset(a, 0, sizeof *a);
    snprintf(a->id, sizeof a->id, "EA-UNIT");
    synth_scope_unit(w, a, 0, SYNTH_GROUP, 0);
    a->deny[a->n_deny++] = "storage.*";
    a->deny[a->n_deny++] = "ai.*";
    a->except[a->n_except++] = "security.*";
    a->phases[a->n_phases++] = (cutoff_phase_spec){0, 1, CUTOFF_MODE_SUSPEND};
    a->status = 451;
    a->summary = "Storage and AI suspended";
}

static inline uint64_t synth_action_subs(const synth_action *a)
{
    uint64_t n = 0;
    for (size_t i = 0; i < a->n_scope; i++)
        n += a->scope_subs[i];
    return n;
}

/* The action as an engine spec (pointing into a), active since
 * `activated_at`. */
static inline cutoff_action_spec synth_action_spec(const synth_action *a, int64_t activated_at)
{
    cutoff_action_spec s;
    memset(&s, 0, sizeof s);
    s.id = a->id;
    s.case_id = "CASE-BENCH";
    s.scope = a->scope;
    s.n_scope = a->n_scope;
    s.deny = a->deny;
    s.n_deny = a->n_deny;
    s.except = a->except;
    s.n_except = a->n_except;
    s.regions = a->regions;
    s.n_regions = a->n_regions;
    s.phases = a->phases;
    s.n_phases = a->n_phases;
    s.status = a->status;
    s.notice.summary = a->summary;
    s.notice.terms = "Acceptable Use Policy, section 4";
    s.notice.contact = "trust-and-safety@provider.example";
    s.notice.ref = "https://provider.example/notices/bench";
    s.state = CUTOFF_STATE_ACTIVE;
    s.version = 1;
    s.activated_at = activated_at;
    return s;
}

static inline void synth_json_list(FILE *out, const char *key, const char *const *v, size_t n)
{
    fprintf(out, ",\"%s\":[", key);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s\"%s\"", i ? "," : "", v[i]);
    fputc(']', out);
}

/* Writes the action document of docs/design.md. */
static inline void synth_action_json(FILE *out, const synth_action *a, const char *case_id)
{
    char when[32];
    fprintf(out, "{\"id\":\"%s\",\"case\":\"%s\"", a->id, case_id);
    synth_json_list(out, "scope", a->scope, a->n_scope);
    synth_json_list(out, "deny", a->deny, a->n_deny);
    if (a->n_except)
        synth_json_list(out, "except", a->except, a->n_except);
    if (a->n_regions)
        synth_json_list(out, "regions", a->regions, a->n_regions);
    fputs(",\"phases\":[", out);
    for (size_t i = 0; i < a->n_phases; i++) {
        if (a->phases[i].relative)
            snprintf(when, sizeof when, "+%" PRId64 "s", a->phases[i].at);
        else
            cutoff_time_format(a->phases[i].at, when);
        fprintf(out, "%s{\"at\":\"%s\",\"mode\":\"%s\"}", i ? "," : "", when,
                cutoff_mode_name(a->phases[i].mode));
    }
    fprintf(out,
            "],\"status\":%d,\"notice\":{\"summary\":\"%s\",\"terms\":\"Acceptable Use Policy, "
            "section 4\",\"contact\":\"trust-and-safety@provider.example\"}}\n",
            a->status, a->summary);
}

/* ---- requests ------------------------------------------------------------------------ */

/* A request of the stream: subscription number (>= subs: an unknown id),
 * catalog action index (SYNTH_N_ACTIONS: an unknown action) and region
 * index (-1: none named). */
typedef struct synth_request {
    uint64_t sub;
    uint32_t action;
    int32_t region;
} synth_request;

#define SYNTH_UNKNOWN_ACTION "storage.rename"

/* Draws a request: 2% unknown subscriptions, 25% aimed inside the scope of
 * one of the day's actions, the rest uniform over every subscription; 1%
 * unknown actions, the rest uniform over the catalog; 30% name no region,
 * the rest a catalog region. */
static inline synth_request synth_draw(const synth_world *w, const synth_action *day, size_t n_day,
                                       uint64_t *rng)
{
    synth_request q;
    uint64_t r = synth_rand(rng) % 1000;
    if (r < 20 || w->subs == 0) {
        q.sub = w->subs + synth_rand(rng) % (w->subs + 1000);
    } else if (r < 270 && n_day > 0) {
        const synth_action *a = &day[synth_rand(rng) % n_day];
        size_t i = (size_t)(synth_rand(rng) % a->n_scope);
        q.sub = a->scope_first[i] + synth_rand(rng) % (a->scope_subs[i] ? a->scope_subs[i] : 1);
    } else {
        q.sub = synth_rand(rng) % w->subs;
    }
    q.action = synth_rand(rng) % 100 == 0 ? (uint32_t)SYNTH_N_ACTIONS
                                          : (uint32_t)(synth_rand(rng) % SYNTH_N_ACTIONS);
    q.region = synth_rand(rng) % 10 < 3 ? -1 : (int32_t)(synth_rand(rng) % SYNTH_N_REGIONS);
    return q;
}

static inline const char *synth_action_name(uint32_t action)
{
    return action < SYNTH_N_ACTIONS ? synth_catalog_actions[action].name : SYNTH_UNKNOWN_ACTION;
}

static inline const char *synth_region_name(int32_t region)
{
    return region < 0 ? NULL : synth_regions[region];
}

#endif
