/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reference.h - the slow reference evaluator the tests hold the engine to.
 * It decides requests straight from the plain specs of cutoff.h (a catalog,
 * an array of node specs, an array of action specs) by walking ancestors
 * and looping over actions, written to be obviously right rather than fast.
 * It shares nothing with src/engine/; it only uses the small public helpers
 * for pattern and region matching and phase starts.
 */
#ifndef CUTOFF_TEST_REFERENCE_H
#define CUTOFF_TEST_REFERENCE_H

#include "cutoff.h"

#include <stddef.h>
#include <stdint.h>

/* Everything a decision depends on. Nodes are in insertion order; when an
 * id appears more than once the last spec wins (an update or a move), as
 * with cutoff_tree_builder_add. Actions of any state may be given; only
 * those in force bite (ref_in_force). */
typedef struct ref_world {
    const cutoff_catalog_spec *catalog;
    const cutoff_node_spec *nodes;
    size_t n_nodes;
    const cutoff_action_spec *const *actions;
    size_t n_actions;
} ref_world;

/* A reference decision: like cutoff_verdict, with `by` pointing into the
 * world's actions (NULL unless reason is suspended or read_only). */
typedef struct ref_verdict {
    cutoff_reason reason;
    const cutoff_action_spec *by;
    int64_t since;
    int64_t until;
} ref_verdict;

/* What one action alone does to a request (an explain entry). */
typedef struct ref_effect {
    const char *scope_node;     /* a scope node that is the subscription or an ancestor, or NULL */
    const char *deny_pattern;   /* first deny pattern matching the action name, or NULL */
    const char *except_pattern; /* first except pattern matching, or NULL */
    int region_match;
    long phase;           /* index of the phase in force, -1 before the first */
    cutoff_mode mode;     /* OFF before the first phase */
    int64_t since;        /* start of the phase in force (only when phase >= 0) */
    int64_t until;        /* start of the next phase, or CUTOFF_TIME_NEVER */
    cutoff_reason effect; /* ALLOW, SUSPENDED or READ_ONLY */
} ref_effect;

/* Longest ancestor path the reference follows (a valid tree is much
 * shallower; the bound only stops a walk on a malformed one). */
#define REF_MAX_PATH 256

/* 1 when a version is in force: approved and neither lifted nor
 * superseded, that is active or expired. "Expired" only tells people that
 * the last phase, "off", has begun; the phases before it decide the times
 * before it, whenever the question is asked. */
int ref_in_force(const cutoff_action_spec *a);
/* The node with this id (the last spec carrying it), or NULL. */
const cutoff_node_spec *ref_find_node(const ref_world *w, const char *id);
/* The catalog entry of an action name, or NULL. */
const cutoff_catalog_action *ref_find_action(const ref_world *w, const char *name);
/* Fills path[] with the node itself and then each ancestor up to its
 * tenant; returns the length (0 when id is not a node). */
size_t ref_path(const ref_world *w, const char *id, const cutoff_node_spec *path[REF_MAX_PATH]);
/* The plan inherited along path (the first node on it that sets one), or
 * NULL; *from gets the node that sets it. */
const char *ref_inherited_plan(const cutoff_node_spec *const *path, size_t n_path,
                               const char **from);
/* 1 when the plan named `plan` (NULL: none) entitles to `action`. */
int ref_entitled(const ref_world *w, const char *plan, const char *action);
/* What action `a` alone does to the request on path (a subscription's
 * ancestor path), whatever the state of a. */
void ref_action_effect(const cutoff_action_spec *a, const cutoff_node_spec *const *path,
                       size_t n_path, const cutoff_catalog_action *act, const char *action_name,
                       const char *region, int64_t t, ref_effect *out);

/* Decides (subscription, action, region, t) by the contract of docs/design.md.
 * region may be NULL (the request names none). */
void ref_check(const ref_world *w, const char *subscription, const char *action, const char *region,
               int64_t t, ref_verdict *out);
/* The same for a subscription whose path is already known (path[0] must be
 * a subscription); for callers that decide one subscription many times. */
void ref_check_path(const ref_world *w, const cutoff_node_spec *const *path, size_t n_path,
                    const char *action, const char *region, int64_t t, ref_verdict *out);

#endif
