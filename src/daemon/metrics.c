/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c - the Prometheus text exposition of cutoffd's counters.
 */
#include "daemon/metrics.h"

#include "daemon/daemon.h"

#include "cutoff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds of the latency buckets, in seconds and in nanoseconds. */
static const char *const bucket_le[N_LATENCY_BUCKETS] = {"0.00001", "0.000025", "0.00005", "0.0001",
                                                         "0.00025", "0.0005",   "0.001",   "0.0025",
                                                         "0.005",   "0.01",     "0.1",     "1"};
static const int64_t bucket_ns[N_LATENCY_BUCKETS] = {10000,   25000,    50000,     100000,
                                                     250000,  500000,   1000000,   2500000,
                                                     5000000, 10000000, 100000000, 1000000000};

/* Admin verb labels: "other", then the admin route table's verbs, then the
 * daemon's own "tokens.reload" (SIGHUP). */
static const char *admin_verb(size_t i)
{
    size_t n;
    const admin_route *routes = admin_routes(&n);
    return i == 0 ? "other" : i <= n ? routes[i - 1].verb : i == n + 1 ? "tokens.reload" : NULL;
}

static const char *const admin_results[N_ADMIN_RESULTS] = {"ok", "client_error", "forbidden",
                                                           "server_error"};

const char *metrics_outcome_name(int outcome)
{
    if (outcome == OUTCOME_NO_ROUTE)
        return "no_route";
    if (outcome == OUTCOME_BAD_REQUEST)
        return "bad_request";
    return cutoff_reason_name((cutoff_reason)outcome);
}

void metrics_outcome(metrics *m, int outcome)
{
    atomic_fetch_add_explicit(&m->decisions[outcome], 1, memory_order_relaxed);
}

void metrics_decision(metrics *m, int outcome, int64_t latency_ns)
{
    metrics_outcome(m, outcome);
    metrics_latency(m, latency_ns);
}

void metrics_latency(metrics *m, int64_t latency_ns)
{
    int b = 0;
    while (b < N_LATENCY_BUCKETS && latency_ns > bucket_ns[b])
        b++;
    atomic_fetch_add_explicit(&m->latency[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_sum_ns, (uint64_t)latency_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_count, 1, memory_order_relaxed);
}

void metrics_admin(metrics *m, const char *verb, int http_status)
{
    size_t v = 0;
    for (size_t i = 1; verb && admin_verb(i); i++)
        if (strcmp(verb, admin_verb(i)) == 0)
            v = i;
    int r = http_status < 400                          ? 0
            : http_status == 401 || http_status == 403 ? 2
            : http_status < 500                        ? 1
                                                       : 3;
    atomic_fetch_add_explicit(&m->admin[v][r], 1, memory_order_relaxed);
}

char *metrics_render(metrics *m, const metrics_gauges *g)
{
    char *text = NULL;
    size_t len = 0;
    FILE *b = open_memstream(&text, &len);
    if (b == NULL)
        return NULL;
    fputs("# HELP cutoff_decisions_total Decisions answered, by result and reason.\n"
          "# TYPE cutoff_decisions_total counter\n",
          b);
    for (int o = 0; o < N_OUTCOMES; o++)
        fprintf(b, "cutoff_decisions_total{result=\"%s\",reason=\"%s\"} %llu\n",
                o == CUTOFF_REASON_ALLOW ? "allow" : "deny", metrics_outcome_name(o),
                (unsigned long long)atomic_load(&m->decisions[o]));
    fputs("# HELP cutoff_decision_duration_seconds Time from a decision request's arrival to its "
          "answer.\n"
          "# TYPE cutoff_decision_duration_seconds histogram\n",
          b);
    uint64_t cum = 0;
    for (int i = 0; i <= N_LATENCY_BUCKETS; i++) {
        cum += atomic_load(&m->latency[i]);
        fprintf(b, "cutoff_decision_duration_seconds_bucket{le=\"%s\"} %llu\n",
                i < N_LATENCY_BUCKETS ? bucket_le[i] : "+Inf", (unsigned long long)cum);
    }
    fprintf(b, "cutoff_decision_duration_seconds_sum %.9f\n",
            (double)atomic_load(&m->latency_sum_ns) / 1e9);
    fprintf(b, "cutoff_decision_duration_seconds_count %llu\n",
            (unsigned long long)atomic_load(&m->latency_count));
    fputs("# HELP cutoff_admin_calls_total Admin API calls, by verb and outcome.\n"
          "# TYPE cutoff_admin_calls_total counter\n",
          b);
    for (size_t v = 0; admin_verb(v); v++)
        for (int r = 0; r < N_ADMIN_RESULTS; r++) {
            uint64_t n = atomic_load(&m->admin[v][r]);
            if (n)
                fprintf(b, "cutoff_admin_calls_total{verb=\"%s\",outcome=\"%s\"} %llu\n",
                        admin_verb(v), admin_results[r], (unsigned long long)n);
        }
    fprintf(b,
            "# HELP cutoff_snapshot_version Publications of a new snapshot since start.\n"
            "# TYPE cutoff_snapshot_version gauge\ncutoff_snapshot_version %llu\n"
            "# HELP cutoff_snapshot_age_seconds Seconds since the current snapshot was built.\n"
            "# TYPE cutoff_snapshot_age_seconds gauge\ncutoff_snapshot_age_seconds %lld\n"
            "# HELP cutoff_active_actions Enforcement actions in the current snapshot.\n"
            "# TYPE cutoff_active_actions gauge\ncutoff_active_actions %llu\n"
            "# HELP cutoff_subscriptions Subscriptions in the current tree.\n"
            "# TYPE cutoff_subscriptions gauge\ncutoff_subscriptions %llu\n"
            "# HELP cutoff_ready 1 when a snapshot is published and decisions are served.\n"
            "# TYPE cutoff_ready gauge\ncutoff_ready %d\n"
            "# HELP cutoff_snapshot_reloads_total Snapshot rebuilds.\n"
            "# TYPE cutoff_snapshot_reloads_total counter\ncutoff_snapshot_reloads_total %llu\n"
            "# HELP cutoff_snapshot_reload_failures_total Snapshot rebuilds that failed.\n"
            "# TYPE cutoff_snapshot_reload_failures_total counter\n"
            "cutoff_snapshot_reload_failures_total %llu\n",
            (unsigned long long)g->snapshot_version, (long long)g->snapshot_age_s,
            (unsigned long long)g->active_actions, (unsigned long long)g->subscriptions, g->ready,
            (unsigned long long)atomic_load(&m->reloads),
            (unsigned long long)atomic_load(&m->reload_failures));
    fprintf(b,
            "# HELP cutoff_applied_seq The store's change sequence the published snapshot "
            "enforces.\n"
            "# TYPE cutoff_applied_seq gauge\ncutoff_applied_seq %llu\n"
            "# HELP cutoff_store_head_seq The store's newest change sequence, as last read.\n"
            "# TYPE cutoff_store_head_seq gauge\ncutoff_store_head_seq %llu\n"
            "# HELP cutoff_change_lag Changes not yet enforced (head - applied, as last read).\n"
            "# TYPE cutoff_change_lag gauge\ncutoff_change_lag %llu\n"
            "# HELP cutoff_store_up 1 when the last read of the store succeeded.\n"
            "# TYPE cutoff_store_up gauge\ncutoff_store_up %d\n"
            "# HELP cutoff_degraded 1 when deciding from the last snapshot while the store is "
            "unreachable.\n"
            "# TYPE cutoff_degraded gauge\ncutoff_degraded %d\n"
            "# HELP cutoff_store_wakeups_total Waits for a change that the store woke.\n"
            "# TYPE cutoff_store_wakeups_total counter\ncutoff_store_wakeups_total %llu\n"
            "# HELP cutoff_store_safety_reads_total Waits that ended at safety_interval_ms "
            "instead.\n"
            "# TYPE cutoff_store_safety_reads_total counter\n"
            "cutoff_store_safety_reads_total %llu\n"
            "# HELP cutoff_store_failures_total Reads of the store that failed.\n"
            "# TYPE cutoff_store_failures_total counter\ncutoff_store_failures_total %llu\n",
            (unsigned long long)g->applied_seq, (unsigned long long)g->store_head_seq,
            (unsigned long long)(g->store_head_seq > g->applied_seq
                                     ? g->store_head_seq - g->applied_seq
                                     : 0),
            g->store_up, g->degraded, (unsigned long long)atomic_load(&m->wakeups),
            (unsigned long long)atomic_load(&m->safety_reads),
            (unsigned long long)atomic_load(&m->store_failures));
    if (fclose(b) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
