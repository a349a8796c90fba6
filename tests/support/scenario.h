/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scenario.h - seeded random scenarios for the differential tests: a
 * catalog, a customer tree, enforcement actions in every state and a list
 * of requests, all as the plain specs of cutoff.h, reproducible from one
 * 64-bit seed with a PRNG of our own (never rand()). The generator aims at
 * the corners of the decision contract: nested scopes, overlapping except
 * patterns, region prefixes, relative and absolute phases, ties between ids
 * like "EA-10" and "EA-9", and times at, just before and just after phase
 * boundaries.
 */
#ifndef CUTOFF_TEST_SCENARIO_H
#define CUTOFF_TEST_SCENARIO_H

#include "cutoff.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- PRNG: xoshiro256** seeded through splitmix64 ---------------------- */
typedef struct scenario_rng {
    uint64_t s[4];
} scenario_rng;

void scenario_rng_seed(scenario_rng *r, uint64_t seed);
uint64_t scenario_rng_next(scenario_rng *r);
/* Uniform in [0, n) (0 when n is 0). */
uint64_t scenario_rng_below(scenario_rng *r, uint64_t n);
/* Uniform in [lo, hi]. */
int64_t scenario_rng_range(scenario_rng *r, int64_t lo, int64_t hi);
/* 1 with probability percent/100. */
int scenario_rng_chance(scenario_rng *r, unsigned percent);

/* A request. region is NULL when the request names none. */
typedef struct scenario_query {
    const char *subscription;
    const char *action;
    const char *region;
    int64_t t;
} scenario_query;

typedef struct scenario_options {
    size_t n_queries; /* requests to generate (0: none) */
    int cli;          /* for the CLI: absolute phases only, states active /
                       * draft / lifted only (an active one whose last phase
                       * "off" has begun is marked expired by the database),
                       * no node updates in the node list, well-formed
                       * unknown names only */
} scenario_options;

/* A whole scenario. Everything is owned by the scenario (scenario_free). */
typedef struct scenario {
    uint64_t seed;
    int64_t base_time; /* the time phases are spread around */
    cutoff_catalog_spec catalog;
    /* Insertion order, parents before children; when not in CLI mode some
     * nodes are added a second time at the end (a move or a plan change),
     * which replaces the first spec. */
    cutoff_node_spec *nodes;
    size_t n_nodes;
    const cutoff_action_spec **actions;
    size_t n_actions;
    scenario_query *queries;
    size_t n_queries;

    /* private: the generator's state and what it owns */
    scenario_rng rng;
    int cli;
    const cutoff_node_spec **final; /* final spec of each distinct node */
    size_t n_final;
    long *final_parent; /* index into final of each one's parent, -1 for none */
    void **owned;
    size_t n_owned, cap_owned;
} scenario;

/* Generates the scenario of `seed`; the same seed and options give the
 * same scenario. Returns 0 (running out of memory ends the test program). */
int scenario_generate(uint64_t seed, const scenario_options *opt, scenario *out);
void scenario_free(scenario *s);

/* A fresh random draft enforcement action on the scenario's tree and
 * catalog (owned by the scenario), drawn with the scenario's own PRNG, with
 * phases in ascending order once relative ones count from `activation`.
 * `id` may be NULL for a generated one. For preview tests and the like. */
const cutoff_action_spec *scenario_random_action(scenario *s, const char *id, int64_t activation);
/* A random request as the generator makes them (strings owned by s). */
scenario_query scenario_random_query(scenario *s);

/* Ids of the subscriptions in node order, final specs only (borrowed). The
 * count is returned; ids points at an array owned by the scenario. */
size_t scenario_subscriptions(scenario *s, const char *const **ids);

/* Writes the scenario in a readable form (catalog, tree, actions; queries
 * are left to the caller), for failure messages. */
void scenario_dump(const scenario *s, FILE *out);
void scenario_dump_action(const cutoff_action_spec *a, FILE *out);
/* Formats one request for messages: "sub:3 storage.read eu-a @ 1758801600 (2025-...)". */
void scenario_format_query(const scenario_query *q, char *buf, size_t size);

#endif
