/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shadow.h - the counts of a shadow run (a "tally"), shared by the
 * evaluator (engine/shadow.c), the counts document (format/shadow_counts.c)
 * and the report (db/shadow.c).
 *
 * A tally counts would-be denials of one run on one node, in fixed bounds
 * (cutoff_shadow_limits): per subscription (with, inside, per catalog
 * action and phase), per catalog action and phase, and a ring of the
 * latest. Past a bound a request is still counted in the totals and in an
 * overflow counter, never dropped silently. The report merges every
 * node's tally into one with wider bounds.
 *
 * Memory of one tally, at most: subscriptions x (the id, 48 bytes and
 * per_subscription x 32 bytes) + lines x (the action name and 48 bytes) +
 * sample x 440 bytes, plus hash slots (two per entry); with the defaults
 * about 3.3 MB, and a few KB while little is counted (tables grow as they
 * fill).
 */
#ifndef CUTOFF_ENGINE_SHADOW_H
#define CUTOFF_ENGINE_SHADOW_H

#include "cutoff.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CO__SHADOW_DEFAULT_SUBSCRIPTIONS 4096
#define CO__SHADOW_DEFAULT_LINES 1024
#define CO__SHADOW_DEFAULT_PER_SUBSCRIPTION 16
#define CO__SHADOW_DEFAULT_SAMPLE 100
/* Bytes kept of a request id in the sample (cutoffd's are at most 39). */
#define CO__SHADOW_REQUEST_ID_MAX 40

/* A first and a last time seen, and how many. */
typedef struct co__seen {
    uint64_t count;
    int64_t first, last;
} co__seen;

/* One (catalog action, phase) of the draft. */
typedef struct co__tally_line {
    char *action;
    int phase; /* index into the draft's phases */
    cutoff_mode mode;
    co__seen seen;
} co__tally_line;

/* One (action, phase) of a subscription: an index into lines. */
typedef struct co__tally_cell {
    uint32_t line;
    co__seen seen;
} co__tally_cell;

typedef struct co__tally_sub {
    char *id;
    co__seen seen;
    uint32_t n_cells, cap_cells;
    co__tally_cell *cells;
    uint64_t cells_overflow; /* requests past per_subscription */
} co__tally_sub;

/* One would-be denial of the sample: never more of the request than this. */
typedef struct co__tally_sample {
    char request_id[CO__SHADOW_REQUEST_ID_MAX + 1];
    int64_t at;
    char subscription[CUTOFF_ID_MAX + 1];
    char action[CUTOFF_ID_MAX + 1];
    char region[CUTOFF_ID_MAX + 1]; /* "" when the request named none */
} co__tally_sample;

typedef struct co__tally {
    _Atomic long refs;
    _Atomic bool ended;         /* no set evaluates the run on this node any more */
    _Atomic uint64_t evaluated; /* live-allowed requests the run was checked against */
    pthread_mutex_t lock;       /* everything below */
    cutoff_shadow_limits limits;
    co__seen total; /* would-be denials */
    co__tally_line *lines;
    uint32_t n_lines, cap_lines;
    uint32_t *line_slots; /* index + 1; 0 empty */
    uint32_t line_mask;
    co__tally_sub *subs;
    uint32_t n_subs, cap_subs;
    uint32_t *sub_slots;
    uint32_t sub_mask;
    uint64_t subs_overflow;  /* requests of subscriptions past the bound */
    uint64_t lines_overflow; /* requests of (action, phase) past the bound */
    co__tally_sample *ring;  /* [limits.sample] */
    size_t ring_next, ring_n;
    uint64_t written_total, written_evaluated; /* as last written (dirty check) */
} co__tally;

/* A new tally with the given bounds (NULL or 0 fields: the defaults). */
int co__tally_new(const cutoff_shadow_limits *limits, co__tally **out);
void co__tally_retain(co__tally *t);
void co__tally_release(co__tally *t);
/* Counts one would-be denial. Takes the lock; allocates only for a new
 * subscription or line, and counts into the overflow when it cannot. */
void co__tally_add(co__tally *t, const char *request_id, const char *subscription,
                   const char *action, int phase, cutoff_mode mode, const char *region, int64_t at);
/* The pieces add is made of, for merging a counts document (call with
 * the lock held). Each returns 0, CUTOFF_ELIMIT when a new entry would
 * pass its bound (the caller counts into the overflow) or CUTOFF_ENOMEM. */
int co__tally_line_find(co__tally *t, const char *action, int phase, cutoff_mode mode,
                        uint32_t *index);
int co__tally_sub_find(co__tally *t, const char *id, co__tally_sub **out);
/* The subscription's entry, or NULL: never adds one. */
co__tally_sub *co__tally_sub_lookup(const co__tally *t, const char *id);
int co__tally_cell_add(co__tally *t, co__tally_sub *sub, uint32_t line, co__seen seen);
/* Puts one entry into the ring of the latest (lock held). */
void co__tally_sample_put(co__tally *t, const co__tally_sample *s);
/* a += b: counts add, first is the earlier, last the later. */
void co__seen_add(co__seen *a, co__seen b);

/* Run i of a set and its tally (NULL past the end). */
co__tally *co__shadow_tally(const cutoff_shadow *s, size_t i, uint64_t *run);

/* ---- the counts document (format/shadow_counts.c) ----
 * What a node stores for a run: "cutoff-shadow-counts-v1", compact arrays
 * (docs/database.md). */
#define CO__SHADOW_COUNTS_FORMAT "cutoff-shadow-counts-v1"
/* The tally as the document (co__free), taking the lock; with only_dirty
 * *out is NULL when nothing changed since the last document made with
 * mark_written. CUTOFF_ENOMEM. */
int co__tally_to_json(co__tally *t, bool only_dirty, bool mark_written, char **out);
/* Adds a document's counts into t (taking the lock): past t's bounds into
 * its overflow. A document that is not one is refused whole
 * (CUTOFF_EPARSE, diag says where) and nothing is added. */
int co__tally_merge_json(co__tally *t, const char *json, cutoff_diag *diag);

#endif
