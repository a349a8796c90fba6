/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.h - counters and histograms for GET /metrics (Prometheus text
 * format 0.0.4). Updates are relaxed atomic adds, safe from any thread.
 */
#ifndef CUTOFFD_METRICS_H
#define CUTOFFD_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Decision outcomes: the six reasons of the engine, then the daemon's own. */
enum { OUTCOME_NO_ROUTE = 6, OUTCOME_BAD_REQUEST = 7, N_OUTCOMES = 8 };
#define N_LATENCY_BUCKETS 12
#define N_ADMIN_VERBS 32  /* room for the admin route table plus two labels */
#define N_ADMIN_RESULTS 4 /* ok, client_error, forbidden, server_error */

typedef struct metrics {
    _Atomic uint64_t decisions[N_OUTCOMES];
    _Atomic uint64_t latency[N_LATENCY_BUCKETS + 1]; /* last: +Inf */
    _Atomic uint64_t latency_sum_ns;
    _Atomic uint64_t latency_count;
    _Atomic uint64_t admin[N_ADMIN_VERBS][N_ADMIN_RESULTS];
    _Atomic uint64_t reloads, reload_failures;
    _Atomic uint64_t wakeups, safety_reads; /* change waits that woke / timed out */
    _Atomic uint64_t store_failures;        /* reads of the store that failed */
} metrics;

const char *metrics_outcome_name(int outcome);
/* One decision's outcome (a batch counts each of its decisions). */
void metrics_outcome(metrics *m, int outcome);
/* One decision request's time from arrival to answer. */
void metrics_latency(metrics *m, int64_t latency_ns);
/* Both, for a request that carries one decision. */
void metrics_decision(metrics *m, int outcome, int64_t latency_ns);
/* verb is one of the admin verbs (unknown verbs count as "other"). */
void metrics_admin(metrics *m, const char *verb, int http_status);

typedef struct metrics_gauges {
    uint64_t snapshot_version;
    int64_t snapshot_age_s;
    uint64_t active_actions;
    uint64_t subscriptions;
    int ready;
    uint64_t applied_seq, store_head_seq;
    int store_up, degraded;
} metrics_gauges;

/* The whole exposition as a malloc'd string. */
char *metrics_render(metrics *m, const metrics_gauges *g);

#endif
