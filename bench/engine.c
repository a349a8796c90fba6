/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.c - in-process benchmarks of the engine on the synthetic world of
 * synth.h, each next to a baseline measured in the same run:
 *
 *   build    tree build from a builder (adding the nodes, then compiling),
 *            against filling a plain open-addressing table with the same
 *            ids; memory per subscription (cutoff_tree_memory, the
 *            snapshot's heap, the process's VmRSS delta) against that table
 *   decide   decisions per second through cutoff_check (names, one call
 *            per request), cutoff_check_many (names, 256 requests a call)
 *            and cutoff_check_handles, against the same loop doing only the
 *            plain table's id probe
 *   latency  p50 and p99 of single calls of the same three loops
 *   preview  cutoff_preview_compute of EA-WIDE (90% of the tree) and of
 *            EA-UNIT (a ~100k-subscription group), against one pass over as
 *            many 16-byte node records
 *   effect   engine only: from the start of a snapshot build that adds (or
 *            drops) EA-UNIT to the first check of a reader thread that sees
 *            the new decision, through cutoff_engine_publish and
 *            cutoff_reader_enter; needs a second core, so run it unpinned
 *
 *   engine [--subs N] [--seed S] [--runs R] [--queries Q] [--passes P]
 *          [--rounds K] [--only build,decide,latency,preview,effect]
 *          [--loop string|many|handles|probe]
 *
 * --loop runs one decision loop alone (after building what it needs), for
 * profiles: perf record -e cpu-clock engine --only decide --loop string.
 *
 * Prints "result ..." and "info ..." lines (see bench.h). Never asserts a
 * speed; exits 1 only when something fails or a decision disagrees between
 * the three APIs.
 */
#include "bench.h"
#include "synth.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define MAX_RUNS 64

/* ===================================================================== */
/* The world in memory                                                    */
/* ===================================================================== */

typedef struct world {
    synth_world shape;
    cutoff_node_spec *specs; /* insertion order = tree order */
    size_t n_specs;
    char *pool; /* every id, sized exactly by a counting walk */
    size_t pool_len, pool_cap;
    const char **sub_ids; /* [subs]: id of subscription number k */
    uint32_t *sub_node;   /* [subs]: its index in specs */
    const char *path[8];  /* ids of the open ancestors while walking */
    int depth;
} world;

static void die(const char *what)
{
    fprintf(stderr, "engine: %s\n", what);
    exit(1);
}

static const char *pool_copy(world *w, const char *s)
{
    size_t len = strlen(s) + 1;
    if (w->pool_len + len > w->pool_cap)
        die("id pool overflow (the counting walk and the real one disagree)");
    char *p = w->pool + w->pool_len;
    memcpy(p, s, len);
    w->pool_len += len;
    return p;
}

static void collect_node(void *ctx, const synth_node *n)
{
    world *w = ctx;
    cutoff_node_spec *spec = &w->specs[w->n_specs];
    spec->id = pool_copy(w, n->id);
    spec->kind = n->kind;
    spec->name = NULL;    /* the engine keeps no names */
    spec->plan = n->plan; /* static strings of synth.h */
    spec->parent = NULL;
    if (n->parent != NULL) {
        /* The parent is one of the open ancestors; close the deeper ones. */
        while (w->depth > 0 && strcmp(w->path[w->depth - 1], n->parent) != 0)
            w->depth--;
        if (w->depth == 0)
            die("walk order broken: parent not open");
        spec->parent = w->path[w->depth - 1];
    } else {
        w->depth = 0;
    }
    if (n->kind == CUTOFF_NODE_SUBSCRIPTION) {
        w->sub_ids[n->sub] = spec->id;
        w->sub_node[n->sub] = (uint32_t)w->n_specs;
    } else {
        if (w->depth == 8)
            die("tree deeper than expected");
        w->path[w->depth++] = spec->id;
    }
    w->n_specs++;
}

static void world_make(world *w, uint64_t subs, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    synth_world count;
    synth_walk(subs, seed, NULL, NULL, &count);
    w->specs = calloc(count.nodes, sizeof *w->specs);
    w->pool_cap = count.id_bytes + count.nodes;
    w->pool = malloc(w->pool_cap);
    w->sub_ids = calloc(subs, sizeof *w->sub_ids);
    w->sub_node = calloc(subs, sizeof *w->sub_node);
    if (!w->specs || !w->pool || !w->sub_ids || !w->sub_node)
        die("out of memory for the world");
    synth_world_free(&count);
    synth_walk(subs, seed, collect_node, w, &w->shape);
}

/* ===================================================================== */
/* build and memory                                                       */
/* ===================================================================== */

static cutoff_catalog_spec catalog;

static cutoff_tree *build_tree(const world *w, double *add_s, double *build_s)
{
    cutoff_diag diag;
    cutoff_tree_builder *b;
    cutoff_tree *t;
    uint64_t t0 = bench_now_ns();
    if (cutoff_tree_builder_new(&catalog, &b, &diag) != 0)
        die(diag.message);
    if (cutoff_tree_builder_reserve(b, w->n_specs, w->pool_len) != 0)
        die("builder reserve failed");
    for (size_t i = 0; i < w->n_specs; i++)
        if (cutoff_tree_builder_add(b, &w->specs[i], &diag) != 0)
            die(diag.message);
    uint64_t t1 = bench_now_ns();
    if (cutoff_tree_build(b, &t, &diag) != 0)
        die(diag.message);
    uint64_t t2 = bench_now_ns();
    cutoff_tree_builder_free(b);
    *add_s = (double)(t1 - t0) / 1e9;
    *build_s = (double)(t2 - t1) / 1e9;
    return t;
}

/* Builds the tree `runs` times (keeping the last), measures memory on the
 * first build, and fills the baseline table as many times. */
static cutoff_tree *bench_build(const world *w, int runs, bool report)
{
    double add[MAX_RUNS], build[MAX_RUNS], total[MAX_RUNS], table[MAX_RUNS];
    cutoff_tree *t = NULL;
    uint64_t subs = w->shape.subs;
    const char **ids = malloc(w->n_specs * sizeof *ids);
    if (ids == NULL)
        die("out of memory");
    for (size_t i = 0; i < w->n_specs; i++)
        ids[i] = w->specs[i].id;

    for (int r = 0; r < runs; r++) {
        cutoff_tree_release(t);
        malloc_trim(0);
        uint64_t rss0 = bench_rss_bytes(), heap0 = bench_heap_bytes();
        t = build_tree(w, &add[r], &build[r]);
        total[r] = add[r] + build[r];
        malloc_trim(0);
        if (r == 0 && report) {
            uint64_t rss1 = bench_rss_bytes(), heap1 = bench_heap_bytes();
            printf("info subscriptions=%" PRIu64 " nodes=%zu id_bytes=%zu\n", subs, w->n_specs,
                   w->pool_len - w->n_specs);
            bench_result1("memory.tree_reported", "B/sub",
                          (double)cutoff_tree_memory(t) / (double)subs);
            bench_result1("memory.tree_heap", "B/sub", (double)(heap1 - heap0) / (double)subs);
            bench_result1("memory.tree_rss", "B/sub", (double)(rss1 - rss0) / (double)subs);
        }
        bench_table tab;
        uint64_t t0 = bench_now_ns();
        if (bench_table_build(&tab, ids, w->n_specs) != 0)
            die("out of memory for the baseline table");
        table[r] = (double)(bench_now_ns() - t0) / 1e9;
        if (r == 0 && report)
            bench_result1("memory.baseline_table", "B/sub",
                          (double)bench_table_memory(&tab) / (double)subs);
        bench_table_free(&tab);
    }
    free(ids);
    if (report) {
        bench_result("build.tree_add", "s", add, (size_t)runs);
        bench_result("build.tree_compile", "s", build, (size_t)runs);
        bench_result("build.tree_total", "s", total, (size_t)runs);
        bench_result("build.baseline_table", "s", table, (size_t)runs);
    }
    return t;
}

/* The snapshot of the day's actions, with its heap and RSS cost. */
static cutoff_snapshot *day_snapshot(cutoff_tree *t, const world *w, bool report)
{
    synth_action day[4];
    cutoff_action_spec specs[4];
    const cutoff_action_spec *list[4];
    size_t n = synth_day_actions(&w->shape, day);
    for (size_t i = 0; i < n; i++) {
        specs[i] = synth_action_spec(&day[i], SYNTH_BASE_TIME - 30 * SYNTH_DAY);
        list[i] = &specs[i];
    }
    cutoff_snapshot *s;
    cutoff_diag diag;
    malloc_trim(0);
    uint64_t heap0 = bench_heap_bytes(), rss0 = bench_rss_bytes();
    uint64_t t0 = bench_now_ns();
    if (cutoff_snapshot_build(t, list, n, &s, &diag) != 0)
        die(diag.message);
    uint64_t t1 = bench_now_ns();
    if (report) {
        uint64_t heap1 = bench_heap_bytes(), rss1 = bench_rss_bytes();
        bench_result1("memory.snapshot_heap", "B", (double)(heap1 - heap0));
        bench_result1("memory.snapshot_rss", "B", (double)(rss1 - rss0));
        bench_result1("memory.tree_plus_snapshot", "B/sub",
                      ((double)cutoff_tree_memory(t) + (double)(heap1 - heap0)) /
                          (double)w->shape.subs);
        bench_result1("build.snapshot_day", "s", (double)(t1 - t0) / 1e9);
        printf("info process_rss_bytes=%" PRIu64 "\n", bench_rss_bytes());
    }
    return s;
}

/* ===================================================================== */
/* decisions                                                              */
/* ===================================================================== */

typedef struct query {
    const char *sub, *action, *region;
    cutoff_sub_handle sh;
    cutoff_act_handle ah;
    cutoff_region_handle rh;
} query;

/* A pre-generated random request stream. Each request's subscription id is
 * copied into one buffer in request order, as requests would arrive in
 * fresh buffers; the lookups themselves land anywhere in the tree. */
static query *make_queries(const world *w, const cutoff_tree *t, size_t nq, char **text_out)
{
    synth_action day[4];
    size_t n_day = synth_day_actions(&w->shape, day);
    query *q = calloc(nq, sizeof *q);
    char *text = malloc(nq * 24);
    if (q == NULL || text == NULL)
        die("out of memory for queries");
    uint64_t rng = w->shape.seed ^ 0x7175657279ULL;
    char *p = text;
    for (size_t i = 0; i < nq; i++) {
        synth_request r = synth_draw(&w->shape, day, n_day, &rng);
        if (r.sub < w->shape.subs) {
            strcpy(p, w->sub_ids[r.sub]);
        } else {
            synth_sub_id(w->shape.seed, r.sub, p);
        }
        q[i].sub = p;
        p += (strlen(p) + 8) & ~(size_t)7;
        q[i].action = synth_action_name(r.action);
        q[i].region = synth_region_name(r.region);
        if (cutoff_resolve_subscription(t, q[i].sub, &q[i].sh) != 0)
            q[i].sh.index = UINT32_MAX;
        if (cutoff_resolve_action(t, q[i].action, &q[i].ah) != 0)
            q[i].ah.index = UINT32_MAX;
        if (cutoff_resolve_region(t, q[i].region, &q[i].rh) != 0)
            die("a catalog region does not resolve");
    }
    *text_out = text;
    return q;
}

static volatile uint64_t sink;

/* The same requests as cutoff_check_many takes them. */
static cutoff_request *make_requests(const query *q, size_t nq)
{
    cutoff_request *r = calloc(nq, sizeof *r);
    if (r == NULL)
        die("out of memory for requests");
    for (size_t i = 0; i < nq; i++)
        r[i] = (cutoff_request){q[i].sub, q[i].action, q[i].region, SYNTH_NOW};
    return r;
}

/* Requests per cutoff_check_many call: what a server's batch or the CLI's
 * --batch hands over at once (the CLI uses 256 too). */
#define MANY_CHUNK 256

/* Checks that the three APIs agree on every request and reports the mix. */
static void verify_queries(const cutoff_snapshot *s, const query *q, const cutoff_request *reqs,
                           size_t nq)
{
    uint64_t reasons[6] = {0}, mismatches = 0;
    cutoff_verdict many[MANY_CHUNK];
    for (size_t i = 0; i < nq; i++) {
        cutoff_verdict a, b;
        if (i % MANY_CHUNK == 0)
            cutoff_check_many(s, reqs + i, nq - i < MANY_CHUNK ? nq - i : MANY_CHUNK, many);
        cutoff_check(s, q[i].sub, q[i].action, q[i].region, SYNTH_NOW, &a);
        cutoff_check_handles(s, q[i].sh, q[i].ah, q[i].rh, SYNTH_NOW, &b);
        const cutoff_verdict *c = &many[i % MANY_CHUNK];
        if (a.reason != b.reason || a.by != b.by || a.reason != c->reason || a.by != c->by ||
            a.since != c->since || a.until != c->until)
            mismatches++;
        if ((unsigned)a.reason < 6)
            reasons[a.reason]++;
    }
    printf("info queries=%zu allows=%" PRIu64 " denies=%" PRIu64, nq, reasons[0],
           (uint64_t)nq - reasons[0]);
    for (int r = 0; r < 6; r++)
        printf(" %s=%" PRIu64, cutoff_reason_name((cutoff_reason)r), reasons[r]);
    printf("\n");
    if (mismatches) {
        fprintf(stderr, "engine: %" PRIu64 " requests decided differently by the three APIs\n",
                mismatches);
        exit(1);
    }
}

static double loop_probe(const bench_table *tab, const query *q, size_t nq, int passes)
{
    uint64_t acc = 0, t0 = bench_now_ns();
    for (int p = 0; p < passes; p++)
        for (size_t i = 0; i < nq; i++)
            acc += bench_table_find(tab, q[i].sub);
    uint64_t t1 = bench_now_ns();
    sink += acc;
    return (double)nq * passes / ((double)(t1 - t0) / 1e9);
}

static double loop_string(const cutoff_snapshot *s, const query *q, size_t nq, int passes)
{
    uint64_t acc = 0, t0 = bench_now_ns();
    cutoff_verdict v;
    for (int p = 0; p < passes; p++)
        for (size_t i = 0; i < nq; i++) {
            cutoff_check(s, q[i].sub, q[i].action, q[i].region, SYNTH_NOW, &v);
            acc += v.reason;
        }
    uint64_t t1 = bench_now_ns();
    sink += acc;
    return (double)nq * passes / ((double)(t1 - t0) / 1e9);
}

static double loop_many(const cutoff_snapshot *s, const cutoff_request *reqs, size_t nq, int passes)
{
    cutoff_verdict many[MANY_CHUNK];
    uint64_t acc = 0, t0 = bench_now_ns();
    for (int p = 0; p < passes; p++)
        for (size_t base = 0; base < nq; base += MANY_CHUNK) {
            size_t m = nq - base < MANY_CHUNK ? nq - base : MANY_CHUNK;
            cutoff_check_many(s, reqs + base, m, many);
            for (size_t i = 0; i < m; i++)
                acc += many[i].reason;
        }
    uint64_t t1 = bench_now_ns();
    sink += acc;
    return (double)nq * passes / ((double)(t1 - t0) / 1e9);
}

static double loop_handles(const cutoff_snapshot *s, const query *q, size_t nq, int passes)
{
    uint64_t acc = 0, t0 = bench_now_ns();
    cutoff_verdict v;
    for (int p = 0; p < passes; p++)
        for (size_t i = 0; i < nq; i++) {
            cutoff_check_handles(s, q[i].sh, q[i].ah, q[i].rh, SYNTH_NOW, &v);
            acc += v.reason;
        }
    uint64_t t1 = bench_now_ns();
    sink += acc;
    return (double)nq * passes / ((double)(t1 - t0) / 1e9);
}

/* Throughput: the three loops interleaved run by run, so that drift in the
 * machine's speed hits all three alike. */
static void bench_decide(const cutoff_snapshot *s, const bench_table *tab, const query *q,
                         const cutoff_request *reqs, size_t nq, int passes, int runs)
{
    double probe[MAX_RUNS], str[MAX_RUNS], many[MAX_RUNS], hnd[MAX_RUNS], ratio_s[MAX_RUNS],
        ratio_m[MAX_RUNS], ratio_h[MAX_RUNS];
    loop_string(s, q, nq, 1); /* warm-up */
    for (int r = 0; r < runs; r++) {
        probe[r] = loop_probe(tab, q, nq, passes);
        str[r] = loop_string(s, q, nq, passes);
        many[r] = loop_many(s, reqs, nq, passes);
        hnd[r] = loop_handles(s, q, nq, passes);
        ratio_s[r] = str[r] / probe[r];
        ratio_m[r] = many[r] / probe[r];
        ratio_h[r] = hnd[r] / probe[r];
    }
    bench_result("decide.baseline_probe", "1/s", probe, (size_t)runs);
    bench_result("decide.string", "1/s", str, (size_t)runs);
    bench_result("decide.many", "1/s", many, (size_t)runs);
    bench_result("decide.handles", "1/s", hnd, (size_t)runs);
    bench_result("decide.string_vs_probe", "ratio", ratio_s, (size_t)runs);
    bench_result("decide.many_vs_probe", "ratio", ratio_m, (size_t)runs);
    bench_result("decide.handles_vs_probe", "ratio", ratio_h, (size_t)runs);
}

/* One loop alone, for profiling it (perf record ... engine --loop string). */
static void bench_one_loop(const char *loop, const cutoff_snapshot *s, const bench_table *tab,
                           const query *q, const cutoff_request *reqs, size_t nq, int passes,
                           int runs)
{
    double rate[MAX_RUNS];
    char name[64];
    for (int r = 0; r < runs; r++) {
        if (strcmp(loop, "probe") == 0)
            rate[r] = loop_probe(tab, q, nq, passes);
        else if (strcmp(loop, "handles") == 0)
            rate[r] = loop_handles(s, q, nq, passes);
        else if (strcmp(loop, "many") == 0)
            rate[r] = loop_many(s, reqs, nq, passes);
        else
            rate[r] = loop_string(s, q, nq, passes);
    }
    snprintf(name, sizeof name, "loop.%s", loop);
    bench_result(name, "1/s", rate, (size_t)runs);
}

enum { LAT_PROBE, LAT_STRING, LAT_HANDLES };

/* Times every call of one pass; returns p50 and p99 in ns after taking off
 * the clock's own cost. */
static void latency_pass(int kind, const cutoff_snapshot *s, const bench_table *tab, const query *q,
                         size_t nq, uint64_t *ticks, uint64_t overhead, double ns_per_tick,
                         double *p50, double *p99)
{
    cutoff_verdict v = {0};
    uint64_t acc = 0;
    for (size_t i = 0; i < nq; i++) {
        uint64_t t0 = bench_tick_start();
        if (kind == LAT_PROBE)
            acc += bench_table_find(tab, q[i].sub);
        else if (kind == LAT_STRING)
            cutoff_check(s, q[i].sub, q[i].action, q[i].region, SYNTH_NOW, &v);
        else
            cutoff_check_handles(s, q[i].sh, q[i].ah, q[i].rh, SYNTH_NOW, &v);
        uint64_t d = bench_tick_end() - t0;
        ticks[i] = d > overhead ? d - overhead : 0;
        acc += v.reason;
    }
    sink += acc;
    qsort(ticks, nq, sizeof *ticks, bench_cmp_u64);
    *p50 = (double)ticks[nq / 2] * ns_per_tick;
    *p99 = (double)ticks[nq * 99 / 100] * ns_per_tick;
}

static void bench_latency(const cutoff_snapshot *s, const bench_table *tab, const query *q,
                          size_t nq, int runs)
{
    static const char *const names[3][2] = {
        {"latency.baseline_probe_p50", "latency.baseline_probe_p99"},
        {"latency.string_p50", "latency.string_p99"},
        {"latency.handles_p50", "latency.handles_p99"}};
    double p50[3][MAX_RUNS], p99[3][MAX_RUNS];
    uint64_t *ticks = malloc(nq * sizeof *ticks);
    if (ticks == NULL)
        die("out of memory");
    double ns_per_tick = bench_ns_per_tick();
    uint64_t overhead = bench_tick_overhead();
    printf("info clock=%s ns_per_tick=%.4f overhead_ticks=%" PRIu64 " overhead_ns=%.1f\n",
#ifdef BENCH_HAVE_TSC
           "rdtsc",
#else
           "clock_gettime",
#endif
           ns_per_tick, overhead, (double)overhead * ns_per_tick);
    for (int r = 0; r < runs; r++)
        for (int k = 0; k < 3; k++)
            latency_pass(k, s, tab, q, nq, ticks, overhead, ns_per_tick, &p50[k][r], &p99[k][r]);
    for (int k = 0; k < 3; k++) {
        bench_result(names[k][0], "ns", p50[k], (size_t)runs);
        bench_result(names[k][1], "ns", p99[k], (size_t)runs);
    }
    free(ticks);
}

/* ===================================================================== */
/* preview                                                                */
/* ===================================================================== */

/* The baseline's node: the size of the engine's (16 bytes). */
typedef struct plain_node {
    uint32_t rec, parent, end;
    uint16_t plan;
    uint8_t kind, unused;
} plain_node;

static double pass_nodes(const plain_node *nodes, size_t lo, size_t hi)
{
    uint64_t subs = 0, t0 = bench_now_ns();
    for (size_t i = lo; i < hi; i++)
        subs += (nodes[i].kind == CUTOFF_NODE_SUBSCRIPTION) + nodes[i].plan;
    uint64_t t1 = bench_now_ns();
    sink += subs;
    return (double)(t1 - t0) / 1e9;
}

static void preview_one(const char *name, const cutoff_snapshot *s, const synth_action *a,
                        int64_t activation, const plain_node *nodes, size_t lo, size_t hi, int runs)
{
    double took[MAX_RUNS], pass[MAX_RUNS], ratio[MAX_RUNS];
    char key[64];
    cutoff_action_spec spec = synth_action_spec(a, activation);
    spec.state = CUTOFF_STATE_DRAFT;
    for (int r = 0; r < runs; r++) {
        cutoff_preview *p;
        cutoff_diag diag;
        uint64_t t0 = bench_now_ns();
        if (cutoff_preview_compute(s, &spec, activation, &p, &diag) != 0)
            die(diag.message);
        took[r] = (double)(bench_now_ns() - t0) / 1e9;
        if (r == 0)
            printf("info %s.scope_subscriptions=%" PRIu64 " %s.changed=%" PRIu64
                   " %s.excepted_unchanged=%d\n",
                   a->id, p->subscriptions_in_scope, a->id, p->subscriptions_changed, a->id,
                   p->excepted_unchanged);
        cutoff_preview_free(p);
        pass[r] = pass_nodes(nodes, lo, hi);
        ratio[r] = took[r] / pass[r];
    }
    snprintf(key, sizeof key, "preview.%s", name);
    bench_result(key, "s", took, (size_t)runs);
    snprintf(key, sizeof key, "preview.%s_baseline_pass", name);
    bench_result(key, "s", pass, (size_t)runs);
    snprintf(key, sizeof key, "preview.%s_vs_pass", name);
    bench_result(key, "ratio", ratio, (size_t)runs);
}

static void bench_preview(const cutoff_snapshot *s, const world *w, int runs)
{
    plain_node *nodes = calloc(w->n_specs, sizeof *nodes);
    if (nodes == NULL)
        die("out of memory");
    for (size_t i = 0; i < w->n_specs; i++)
        nodes[i] = (plain_node){
            (uint32_t)i, 0, 0, (uint16_t)(w->specs[i].plan != NULL), (uint8_t)w->specs[i].kind, 0};
    synth_action wide, unit;
    synth_wide_action(&w->shape, &wide);
    synth_unit_action(&w->shape, &unit);
    printf("info preview_nodes=%zu\n", w->n_specs);
    preview_one("wide", s, &wide, SYNTH_BASE_TIME, nodes, 0, w->n_specs, runs);
    size_t lo = w->sub_node[unit.scope_first[0]];
    size_t hi = w->sub_node[unit.scope_first[0] + unit.scope_subs[0] - 1] + 1;
    preview_one("unit", s, &unit, SYNTH_NOW, nodes, lo, hi, runs);
    free(nodes);
}

/* ===================================================================== */
/* effect: publication to a spinning reader                               */
/* ===================================================================== */

typedef struct probe {
    cutoff_engine *engine;
    const char *sub;
    atomic_int stop;
    atomic_int denied;           /* what the reader saw last (-1: nothing yet) */
    _Atomic uint64_t changed_at; /* when it first saw that */
    _Atomic uint64_t checks;
} probe;

static void *probe_reader(void *arg)
{
    probe *p = arg;
    cutoff_reader *r;
    if (cutoff_reader_new(p->engine, &r) != 0)
        die("reader_new failed");
    int last = -1;
    uint64_t checks = 0;
    while (!atomic_load_explicit(&p->stop, memory_order_relaxed)) {
        const cutoff_snapshot *s = cutoff_reader_enter(r);
        int denied = 0;
        if (s != NULL) {
            cutoff_verdict v;
            cutoff_check(s, p->sub, "storage.write", NULL, SYNTH_NOW, &v);
            denied = v.reason != CUTOFF_REASON_ALLOW;
        }
        cutoff_reader_exit(r);
        checks++;
        if (denied != last) {
            atomic_store(&p->changed_at, bench_now_ns());
            atomic_store(&p->denied, denied);
            last = denied;
        }
    }
    atomic_store(&p->checks, checks);
    cutoff_reader_free(r);
    return NULL;
}

/* Waits until the reader reports `want` and returns when it first saw it.
 * The reader takes that time itself, so this thread can poll at leisure
 * (every 20 us) and leave the CPU to the reader: with two cores shared
 * with other work, a second spinning thread would compete with it. */
static uint64_t wait_for(probe *p, int want)
{
    uint64_t start = bench_now_ns();
    const struct timespec pause = {0, 20000};
    while (atomic_load(&p->denied) != want) {
        if (bench_now_ns() - start > 10000000000u)
            die("the reader never saw the new decision (10 s)");
        nanosleep(&pause, NULL);
    }
    return atomic_load(&p->changed_at);
}

static void bench_effect(cutoff_tree *t, const world *w, int rounds)
{
    synth_action day[4], unit;
    cutoff_action_spec specs[5];
    const cutoff_action_spec *list[5];
    size_t n = synth_day_actions(&w->shape, day);
    for (size_t i = 0; i < n; i++) {
        specs[i] = synth_action_spec(&day[i], SYNTH_BASE_TIME - 30 * SYNTH_DAY);
        list[i] = &specs[i];
    }
    synth_unit_action(&w->shape, &unit);
    specs[n] = synth_action_spec(&unit, SYNTH_NOW - 60);
    list[n] = &specs[n];

    probe p = {.sub = w->sub_ids[unit.scope_first[0] + unit.scope_subs[0] / 2]};
    atomic_init(&p.stop, 0);
    atomic_init(&p.denied, -1);
    atomic_init(&p.changed_at, 0);
    atomic_init(&p.checks, 0);
    if (cutoff_engine_new(&p.engine) != 0)
        die("engine_new failed");
    cutoff_snapshot *s;
    cutoff_diag diag;
    if (cutoff_snapshot_build(t, list, n, &s, &diag) != 0)
        die(diag.message);
    cutoff_engine_publish(p.engine, s);
    pthread_t reader;
    if (pthread_create(&reader, NULL, probe_reader, &p) != 0)
        die("pthread_create failed");
    wait_for(&p, 0);

    double on[MAX_RUNS], off[MAX_RUNS], build[MAX_RUNS];
    printf("info effect_scope_subscriptions=%" PRIu64 " probe=%s\n", unit.scope_subs[0], p.sub);
    for (int r = 0; r < rounds; r++) {
        for (int approve = 1; approve >= 0; approve--) {
            uint64_t t0 = bench_now_ns();
            if (cutoff_snapshot_build(t, list, n + (size_t)approve, &s, &diag) != 0)
                die(diag.message);
            uint64_t t1 = bench_now_ns();
            cutoff_engine_publish(p.engine, s);
            uint64_t seen = wait_for(&p, approve);
            double ms = (double)(seen - t0) / 1e6;
            if (approve) {
                on[r] = ms;
                build[r] = (double)(t1 - t0) / 1e6;
            } else {
                off[r] = ms;
            }
        }
    }
    atomic_store(&p.stop, 1);
    pthread_join(reader, NULL);
    printf("info reader_checks=%" PRIu64 " left_to_reclaim=%zu\n", atomic_load(&p.checks),
           cutoff_engine_reclaim(p.engine));
    cutoff_engine_free(p.engine);
    bench_result("effect.engine_approve", "ms", on, (size_t)rounds);
    bench_result("effect.engine_lift", "ms", off, (size_t)rounds);
    bench_result("effect.engine_snapshot_build", "ms", build, (size_t)rounds);
}

/* ===================================================================== */
/* main                                                                   */
/* ===================================================================== */

static const char usage_text[] =
    "usage: engine [--subs N] [--seed S] [--runs R] [--queries Q] [--passes P] [--rounds K]\n"
    "              [--only build,decide,latency,preview,effect]\n"
    "              [--loop string|many|handles|probe]\n";

static uint64_t parse_num(const char *opt, const char *v)
{
    char *end;
    errno = 0;
    unsigned long long n = v ? strtoull(v, &end, 10) : 0;
    if (v == NULL || errno || end == v || v[0] == '-') {
        fprintf(stderr, "engine: %s wants a number\n%s", opt, usage_text);
        exit(2);
    }
    if (*end == 'k')
        n *= 1000, end++;
    else if (*end == 'M')
        n *= 1000000, end++;
    if (*end != '\0') {
        fprintf(stderr, "engine: %s wants a number (suffixes k, M)\n%s", opt, usage_text);
        exit(2);
    }
    return n;
}

int main(int argc, char **argv)
{
    uint64_t subs = 100000, seed = 1, queries = 1 << 21;
    int runs = 5, passes = 2, rounds = 20;
    const char *only = "build,decide,latency,preview", *loop = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        i++;
        if (strcmp(a, "--subs") == 0)
            subs = parse_num(a, v);
        else if (strcmp(a, "--seed") == 0)
            seed = parse_num(a, v);
        else if (strcmp(a, "--runs") == 0)
            runs = (int)parse_num(a, v);
        else if (strcmp(a, "--queries") == 0)
            queries = parse_num(a, v);
        else if (strcmp(a, "--passes") == 0)
            passes = (int)parse_num(a, v);
        else if (strcmp(a, "--rounds") == 0)
            rounds = (int)parse_num(a, v);
        else if (strcmp(a, "--only") == 0 && v)
            only = v;
        else if (strcmp(a, "--loop") == 0 && v &&
                 (!strcmp(v, "string") || !strcmp(v, "many") || !strcmp(v, "handles") ||
                  !strcmp(v, "probe")))
            loop = v, only = "decide";
        else {
            fprintf(stderr, "engine: unknown option %s\n%s", a, usage_text);
            return 2;
        }
    }
    if (subs < 100 || subs > 100000000 || runs < 1 || runs > MAX_RUNS || rounds < 1 ||
        rounds > MAX_RUNS || queries < 100 || passes < 1) {
        fprintf(stderr, "engine: out of range (subs 100..1e8, runs and rounds 1..%d)\n", MAX_RUNS);
        return 2;
    }
    bool do_build = strstr(only, "build") != NULL, do_decide = strstr(only, "decide") != NULL,
         do_latency = strstr(only, "latency") != NULL, do_preview = strstr(only, "preview") != NULL,
         do_effect = strstr(only, "effect") != NULL;
    catalog = synth_catalog();
    printf("info bench=engine subs=%" PRIu64 " seed=%" PRIu64 " runs=%d\n", subs, seed, runs);

    uint64_t t0 = bench_now_ns();
    world w;
    world_make(&w, subs, seed);
    printf("info world_seconds=%.3f\n", (double)(bench_now_ns() - t0) / 1e9);
    fflush(stdout);

    cutoff_tree *t = bench_build(&w, do_build ? runs : 1, do_build);
    cutoff_snapshot *s = day_snapshot(t, &w, do_build);

    if (do_decide || do_latency) {
        char *text;
        query *q = make_queries(&w, t, (size_t)queries, &text);
        const char **ids = malloc(w.n_specs * sizeof *ids);
        bench_table tab;
        if (ids == NULL)
            die("out of memory");
        for (size_t i = 0; i < w.n_specs; i++)
            ids[i] = w.specs[i].id;
        if (bench_table_build(&tab, ids, w.n_specs) != 0)
            die("out of memory for the baseline table");
        free(ids);
        cutoff_request *reqs = make_requests(q, (size_t)queries);
        verify_queries(s, q, reqs, (size_t)queries);
        if (loop != NULL)
            bench_one_loop(loop, s, &tab, q, reqs, (size_t)queries, passes, runs);
        else if (do_decide)
            bench_decide(s, &tab, q, reqs, (size_t)queries, passes, runs);
        if (do_latency && loop == NULL)
            bench_latency(s, &tab, q, (size_t)queries, runs);
        bench_table_free(&tab);
        free(reqs);
        free(q);
        free(text);
    }
    if (do_preview)
        bench_preview(s, &w, runs);
    if (do_effect)
        bench_effect(t, &w, rounds);

    cutoff_snapshot_release(s);
    cutoff_tree_release(t);
    free(w.specs);
    free(w.pool);
    free(w.sub_ids);
    free(w.sub_node);
    synth_world_free(&w.shape);
    return 0;
}
