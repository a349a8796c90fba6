/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shadow_observe.c - what shadow runs add to a live decision, in process:
 * the loop cutoffd runs for each request (cutoff_check on the live
 * snapshot, then, with runs in force, a shared lock and
 * cutoff_shadow_observe) over the synthetic world of synth.h with the day's
 * actions live, and 0, 1 or 10 shadow runs of EA-UNIT (a ~100k-subscription
 * group, storage and AI) under other ids. The settings are interleaved
 * --runs times; each prints decisions per second on one core and ns per
 * decision, and the ratio to the loop without runs. This is the CPU the
 * shadow path costs without the HTTP around it (bench/shadow.sh measures
 * cutoffd over HTTP).
 *
 *   shadow_observe [--subs N] [--seed S] [--runs R] [--queries Q] [--passes P]
 *
 * Prints "result ..." and "info ..." lines (see bench.h); never asserts a
 * speed.
 */
#include "bench.h"
#include "synth.h"

#include <pthread.h>
#include <stdbool.h>

#define MAX_RUNS 64
#define MAX_SHADOW 10

typedef struct world {
    synth_world shape;
    cutoff_node_spec *specs;
    size_t n_specs;
    char *pool;
    size_t pool_len, pool_cap;
    const char **sub_ids;
    const char *path[8];
    int depth;
} world;

static void die(const char *what)
{
    fprintf(stderr, "shadow_observe: %s\n", what);
    exit(1);
}

static void collect_node(void *ctx, const synth_node *n)
{
    world *w = ctx;
    cutoff_node_spec *spec = &w->specs[w->n_specs];
    size_t len = strlen(n->id) + 1;
    if (w->pool_len + len > w->pool_cap)
        die("id pool overflow");
    spec->id = memcpy(w->pool + w->pool_len, n->id, len);
    w->pool_len += len;
    spec->kind = n->kind;
    spec->name = NULL;
    spec->plan = n->plan;
    spec->parent = NULL;
    if (n->parent != NULL) {
        while (w->depth > 0 && strcmp(w->path[w->depth - 1], n->parent) != 0)
            w->depth--;
        if (w->depth == 0)
            die("walk order broken");
        spec->parent = w->path[w->depth - 1];
    } else {
        w->depth = 0;
    }
    if (n->kind == CUTOFF_NODE_SUBSCRIPTION)
        w->sub_ids[n->sub] = spec->id;
    else if (w->depth < 8)
        w->path[w->depth++] = spec->id;
    else
        die("tree deeper than expected");
    w->n_specs++;
}

int main(int argc, char **argv)
{
    uint64_t subs = 100000, seed = 1;
    int runs = 5;
    long queries = 200000, passes = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--subs") == 0)
            subs = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0)
            seed = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--queries") == 0)
            queries = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--passes") == 0)
            passes = atol(argv[i + 1]);
        else
            die("usage: shadow_observe [--subs N] [--seed S] [--runs R] [--queries Q] [--passes "
                "P]");
    }
    if (subs < 100 || runs < 1 || runs > MAX_RUNS || queries < 100 || passes < 1)
        die("out of range");

    /* The world and its tree. */
    world w;
    memset(&w, 0, sizeof w);
    synth_world count;
    synth_walk(subs, seed, NULL, NULL, &count);
    w.specs = calloc(count.nodes, sizeof *w.specs);
    w.pool_cap = count.id_bytes + count.nodes;
    w.pool = malloc(w.pool_cap);
    w.sub_ids = calloc(subs, sizeof *w.sub_ids);
    if (!w.specs || !w.pool || !w.sub_ids)
        die("out of memory");
    synth_world_free(&count);
    synth_walk(subs, seed, collect_node, &w, &w.shape);
    cutoff_catalog_spec catalog = synth_catalog();
    cutoff_diag diag;
    cutoff_tree_builder *b;
    cutoff_tree *t;
    if (cutoff_tree_builder_new(&catalog, &b, &diag) != 0 ||
        cutoff_tree_builder_reserve(b, w.n_specs, w.pool_len) != 0)
        die("builder");
    for (size_t i = 0; i < w.n_specs; i++)
        if (cutoff_tree_builder_add(b, &w.specs[i], &diag) != 0)
            die(diag.message);
    if (cutoff_tree_build(b, &t, &diag) != 0)
        die(diag.message);
    cutoff_tree_builder_free(b);

    /* The live snapshot: the day's actions. */
    synth_action day[4];
    cutoff_action_spec specs[4];
    const cutoff_action_spec *list[4];
    size_t n_day = synth_day_actions(&w.shape, day);
    for (size_t i = 0; i < n_day; i++) {
        specs[i] = synth_action_spec(&day[i], SYNTH_BASE_TIME - 30 * SYNTH_DAY);
        list[i] = &specs[i];
    }
    cutoff_snapshot *live;
    if (cutoff_snapshot_build(t, list, n_day, &live, &diag) != 0)
        die(diag.message);

    /* Up to ten drafts of EA-UNIT, each its own run. */
    synth_action unit[MAX_SHADOW];
    cutoff_action_spec drafts[MAX_SHADOW];
    cutoff_shadow_run shadow_runs[MAX_SHADOW];
    for (int i = 0; i < MAX_SHADOW; i++) {
        synth_unit_action(&w.shape, &unit[i]);
        snprintf(unit[i].id, sizeof unit[i].id, "EA-SHADOW-%u", (unsigned)(i + 1) % 100u);
        drafts[i] = synth_action_spec(&unit[i], 0);
        drafts[i].state = CUTOFF_STATE_DRAFT;
        shadow_runs[i] = (cutoff_shadow_run){
            .run = (uint64_t)i + 1, .action = &drafts[i], .started_at = SYNTH_NOW - 60};
    }
    static const int settings[] = {0, 1, MAX_SHADOW};
    enum { N_SETTINGS = sizeof settings / sizeof settings[0] };
    cutoff_shadow *sets[N_SETTINGS] = {NULL};
    for (int k = 1; k < N_SETTINGS; k++)
        if (cutoff_shadow_build(live, shadow_runs, (size_t)settings[k], NULL, NULL, &sets[k],
                                &diag) != 0)
            die("shadow build");

    /* The requests: the day's mix of allows and denies, decided now. */
    cutoff_request *reqs = calloc((size_t)queries, sizeof *reqs);
    char *text = malloc((size_t)queries * 24);
    if (reqs == NULL || text == NULL)
        die("out of memory for requests");
    uint64_t rng = seed ^ 0x7175657279ULL;
    char *p = text;
    uint64_t allowed = 0;
    for (long i = 0; i < queries; i++) {
        synth_request r = synth_draw(&w.shape, day, n_day, &rng);
        if (r.sub < subs)
            strcpy(p, w.sub_ids[r.sub]);
        else
            synth_sub_id(seed, r.sub, p);
        reqs[i] = (cutoff_request){p, synth_action_name(r.action), synth_region_name(r.region),
                                   SYNTH_NOW};
        p += (strlen(p) + 8) & ~(size_t)7;
        cutoff_verdict v;
        cutoff_check(live, reqs[i].subscription, reqs[i].action, reqs[i].region, SYNTH_NOW, &v);
        allowed += v.reason == CUTOFF_REASON_ALLOW;
    }
    printf("info bench=shadow_observe subs=%" PRIu64 " queries=%ld passes=%ld runs=%d"
           " live_allowed=%.3f\n",
           subs, queries, passes, runs, (double)allowed / (double)queries);

    /* The loop of cutoffd's decide path, the settings interleaved. */
    pthread_rwlock_t lock;
    pthread_rwlock_init(&lock, NULL);
    double rate[N_SETTINGS][MAX_RUNS];
    uint64_t sum = 0;
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < N_SETTINGS; k++) {
            const cutoff_shadow *set = sets[k];
            uint64_t t0 = bench_now_ns();
            for (long pass = 0; pass < passes; pass++) {
                for (long i = 0; i < queries; i++) {
                    cutoff_verdict v;
                    cutoff_check(live, reqs[i].subscription, reqs[i].action, reqs[i].region,
                                 reqs[i].at, &v);
                    if (set != NULL && v.reason == CUTOFF_REASON_ALLOW) {
                        pthread_rwlock_rdlock(&lock);
                        cutoff_shadow_observe(set, &reqs[i], &v, "bench-request");
                        pthread_rwlock_unlock(&lock);
                    }
                    sum += (uint64_t)v.reason;
                }
            }
            double s = (double)(bench_now_ns() - t0) / 1e9;
            rate[k][r] = (double)queries * (double)passes / s;
        }
    }
    char name[64];
    for (int k = 0; k < N_SETTINGS; k++) {
        snprintf(name, sizeof name, "shadow.decide_%d_runs", settings[k]);
        bench_result(name, "decisions/s", rate[k], (size_t)runs);
    }
    double med[N_SETTINGS];
    for (int k = 0; k < N_SETTINGS; k++) {
        double v[MAX_RUNS];
        memcpy(v, rate[k], sizeof(double) * (size_t)runs);
        qsort(v, (size_t)runs, sizeof v[0], bench_cmp_double);
        med[k] = runs % 2 ? v[runs / 2] : (v[runs / 2 - 1] + v[runs / 2]) / 2;
    }
    for (int k = 1; k < N_SETTINGS; k++)
        printf("info shadow_runs=%d ratio_to_none=%.3f ns_added_per_decision=%.1f\n", settings[k],
               med[k] / med[0], 1e9 / med[k] - 1e9 / med[0]);
    if (sets[2]) {
        char *json = NULL;
        if (cutoff_shadow_counts_json(sets[2], 0, NULL, &json) == 0 && json) {
            const char *wd = strstr(json, "\"would_deny\":");
            printf("info run_1_%.40s\n", wd ? wd + 1 : "?");
        }
        cutoff_free(json);
    }
    printf("info sink=%" PRIu64 "\n", sum);
    for (int k = 0; k < N_SETTINGS; k++)
        cutoff_shadow_free(sets[k]);
    pthread_rwlock_destroy(&lock);
    cutoff_snapshot_release(live);
    cutoff_tree_release(t);
    free(reqs);
    free(text);
    free(w.specs);
    free(w.pool);
    free(w.sub_ids);
    synth_world_free(&w.shape);
    return 0;
}
