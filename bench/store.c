/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.c - benchmarks that go through the database layer, on a database
 * the CLI has imported the synthetic world of synth.h into:
 *
 *   store setup --db PATH --subs N [--seed S]
 *       opens the case CASE-BENCH and proposes and approves the day's
 *       actions EA-1..EA-4 (two actors), so the database holds what the
 *       in-process benchmarks compile
 *   store load --db PATH [--runs R]
 *       snapshot build from the store: cutoff_db_load_tree then
 *       cutoff_db_snapshot, against SQLite alone reading the same rows
 *       (SELECT id, kind, parent, plan FROM nodes)
 *   store effect --db PATH --subs N [--seed S] [--rounds K]
 *       time from committed approval to effect: a reader thread checks a
 *       subscription of EA-UNIT's scope (a ~100k-subscription group) in a
 *       loop through cutoff_reader_enter/exit; the main thread proposes
 *       EA-UNIT (untimed), approves it with cutoff_db_action_approve, and
 *       from its return (committed) builds the snapshot on the existing tree
 *       with cutoff_db_snapshot and publishes it, until the reader's first
 *       deny; then the same for the lift, until the first allow
 *
 * Prints "result ..." and "info ..." lines (see bench.h).
 */
#include "bench.h"
#include "synth.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>

#define MAX_RUNS 64
#define PROPOSER "bench-operator"
#define APPROVER "bench-approver"
#define CASE_ID "CASE-BENCH"

static void die(const char *what, const cutoff_diag *diag, int rc)
{
    fprintf(stderr, "store: %s: %s\n", what,
            diag && diag->message[0] ? diag->message : cutoff_strerror(rc));
    exit(1);
}

static cutoff_db *open_db(const char *path)
{
    cutoff_db *db;
    cutoff_diag diag;
    int rc = cutoff_db_open(path, 0, &db, &diag);
    if (rc != 0)
        die(path, &diag, rc);
    return db;
}

/* The action document of a, under the id `id` (a fresh one per round). */
static char *action_json(const synth_action *a, const char *id, size_t *len)
{
    synth_action copy = *a;
    for (size_t i = 0; i < copy.n_scope; i++)
        copy.scope[i] = copy.scope_ids[i];
    snprintf(copy.id, sizeof copy.id, "%s", id);
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (f == NULL)
        die("open_memstream", NULL, CUTOFF_ENOMEM);
    synth_action_json(f, &copy, CASE_ID);
    fclose(f);
    return text;
}

/* Proposes (as PROPOSER) and approves (as APPROVER) one action. Returns the
 * time the approval took, in ns. */
static uint64_t propose_approve(cutoff_db *db, const synth_action *a, const char *id, int64_t now,
                                uint64_t *committed_at)
{
    cutoff_diag diag;
    char id_out[CUTOFF_ID_MAX + 1];
    int version, rc;
    size_t len;
    char *json = action_json(a, id, &len);
    if ((rc = cutoff_db_action_propose(db, PROPOSER, json, len, id_out, &version, &diag)) != 0)
        die("propose", &diag, rc);
    free(json);
    uint64_t t0 = bench_now_ns();
    if ((rc = cutoff_db_action_approve(db, APPROVER, id_out, now, &diag)) != 0)
        die("approve", &diag, rc);
    *committed_at = bench_now_ns();
    return *committed_at - t0;
}

static void open_case(cutoff_db *db)
{
    const char *scope[SYNTH_TENANTS];
    for (int i = 0; i < SYNTH_TENANTS; i++)
        scope[i] = synth_tenant_ids[i];
    char id_out[CUTOFF_ID_MAX + 1];
    cutoff_diag diag;
    int rc = cutoff_db_case_open(db, PROPOSER, CASE_ID, "Benchmark enforcement case", scope,
                                 SYNTH_TENANTS, id_out, &diag);
    if (rc != 0 && rc != CUTOFF_EEXIST)
        die("case open", &diag, rc);
}

/* ---- setup ------------------------------------------------------------------- */

static int cmd_setup(const char *path, uint64_t subs, uint64_t seed)
{
    cutoff_db *db = open_db(path);
    synth_world w;
    synth_action day[4];
    synth_walk(subs, seed, NULL, NULL, &w);
    size_t n = synth_day_actions(&w, day);
    open_case(db);
    for (size_t i = 0; i < n; i++) {
        uint64_t committed;
        propose_approve(db, &day[i], day[i].id, (int64_t)time(NULL), &committed);
    }
    printf("info setup=%s actions=%zu\n", path, n);
    synth_world_free(&w);
    cutoff_db_close(db);
    return 0;
}

/* ---- load -------------------------------------------------------------------- */

static volatile uint64_t scanned_bytes;

/* SQLite alone reading every node row and touching each column. */
static double scan_nodes(const char *path, uint64_t *rows_out)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT id, kind, parent, plan FROM nodes", -1, &st, NULL) !=
            SQLITE_OK)
        die("sqlite scan", NULL, CUTOFF_ESTORE);
    uint64_t t0 = bench_now_ns(), rows = 0, bytes = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *id = sqlite3_column_text(st, 0);
        bytes += (uint64_t)sqlite3_column_int(st, 1);
        const unsigned char *parent = sqlite3_column_text(st, 2);
        const unsigned char *plan = sqlite3_column_text(st, 3);
        bytes += (uint64_t)sqlite3_column_bytes(st, 0) + (id ? id[0] : 0);
        bytes += parent ? (uint64_t)sqlite3_column_bytes(st, 2) : 0;
        bytes += plan ? (uint64_t)sqlite3_column_bytes(st, 3) : 0;
        rows++;
    }
    double s = (double)(bench_now_ns() - t0) / 1e9;
    sqlite3_finalize(st);
    sqlite3_close(db);
    *rows_out = rows;
    scanned_bytes = bytes;
    return s;
}

/* PostgreSQL alone streaming every node row out (COPY, as the store does)
 * and touching each byte's row. */
static double scan_nodes_pg(const char *uri, uint64_t *rows_out)
{
    PGconn *c = PQconnectdb(strcmp(uri, "postgresql:") == 0 ? "" : uri);
    if (PQstatus(c) != CONNECTION_OK)
        die("postgresql scan", NULL, CUTOFF_ESTORE);
    uint64_t t0 = bench_now_ns(), rows = 0, bytes = 0;
    PGresult *res = PQexec(c, "COPY (SELECT id, kind, parent, plan FROM nodes) TO STDOUT");
    if (PQresultStatus(res) != PGRES_COPY_OUT)
        die("postgresql scan", NULL, CUTOFF_ESTORE);
    PQclear(res);
    char *row;
    int len;
    while ((len = PQgetCopyData(c, &row, 0)) > 0) {
        bytes += (uint64_t)len + (uint64_t)row[0];
        rows++;
        PQfreemem(row);
    }
    while ((res = PQgetResult(c)) != NULL)
        PQclear(res);
    double s = (double)(bench_now_ns() - t0) / 1e9;
    PQfinish(c);
    *rows_out = rows;
    scanned_bytes = bytes;
    return s;
}

static int cmd_load(const char *path, int runs)
{
    double tree_s[MAX_RUNS], snap_s[MAX_RUNS], total_s[MAX_RUNS], scan_s[MAX_RUNS], ratio[MAX_RUNS];
    cutoff_db *db = open_db(path);
    for (int r = 0; r < runs; r++) {
        cutoff_tree *t;
        cutoff_snapshot *s;
        cutoff_diag diag;
        int rc;
        uint64_t t0 = bench_now_ns();
        if ((rc = cutoff_db_load_tree(db, &t, &diag)) != 0)
            die("load_tree", &diag, rc);
        uint64_t t1 = bench_now_ns();
        if ((rc = cutoff_db_snapshot(db, t, (int64_t)time(NULL), &s, &diag)) != 0)
            die("snapshot", &diag, rc);
        uint64_t t2 = bench_now_ns();
        tree_s[r] = (double)(t1 - t0) / 1e9;
        snap_s[r] = (double)(t2 - t1) / 1e9;
        total_s[r] = (double)(t2 - t0) / 1e9;
        if (r == 0)
            printf("info nodes=%zu subscriptions=%zu actions=%zu\n", cutoff_tree_count(t, 0),
                   cutoff_tree_count(t, CUTOFF_NODE_SUBSCRIPTION), cutoff_snapshot_action_count(s));
        cutoff_snapshot_release(s);
        cutoff_tree_release(t);
        malloc_trim(0);
        uint64_t rows;
        scan_s[r] = strncmp(path, "postgres", 8) == 0 ? scan_nodes_pg(path, &rows)
                                                      : scan_nodes(path, &rows);
        ratio[r] = total_s[r] / scan_s[r];
        if (r == 0)
            printf("info scanned_rows=%" PRIu64 "\n", rows);
        fflush(stdout);
    }
    cutoff_db_close(db);
    bench_result("store.load_tree", "s", tree_s, (size_t)runs);
    bench_result("store.snapshot", "s", snap_s, (size_t)runs);
    bench_result("store.load_total", "s", total_s, (size_t)runs);
    bench_result("store.baseline_scan", "s", scan_s, (size_t)runs);
    bench_result("store.load_vs_scan", "ratio", ratio, (size_t)runs);
    return 0;
}

/* ---- effect -------------------------------------------------------------------- */

typedef struct probe {
    cutoff_engine *engine;
    char sub[32];
    int64_t at;
    atomic_int stop;
    atomic_int denied;           /* what the reader saw last (-1: nothing yet) */
    _Atomic uint64_t changed_at; /* when it first saw that */
} probe;

static void *probe_reader(void *arg)
{
    probe *p = arg;
    cutoff_reader *r;
    if (cutoff_reader_new(p->engine, &r) != 0)
        die("reader_new", NULL, CUTOFF_ENOMEM);
    int last = -1;
    while (!atomic_load_explicit(&p->stop, memory_order_relaxed)) {
        const cutoff_snapshot *s = cutoff_reader_enter(r);
        int denied = 0;
        if (s != NULL) {
            cutoff_verdict v;
            cutoff_check(s, p->sub, "storage.write", NULL, p->at, &v);
            denied = v.reason != CUTOFF_REASON_ALLOW;
        }
        cutoff_reader_exit(r);
        if (denied != last) {
            atomic_store(&p->changed_at, bench_now_ns());
            atomic_store(&p->denied, denied);
            last = denied;
        }
    }
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
            die("the reader never saw the new decision within 10 s", NULL, CUTOFF_ESTATE);
        nanosleep(&pause, NULL);
    }
    return atomic_load(&p->changed_at);
}

static uint64_t snapshot_publish(cutoff_db *db, cutoff_tree *t, cutoff_engine *e)
{
    cutoff_snapshot *s;
    cutoff_diag diag;
    int rc = cutoff_db_snapshot(db, t, (int64_t)time(NULL), &s, &diag);
    if (rc != 0)
        die("snapshot", &diag, rc);
    uint64_t built = bench_now_ns();
    cutoff_engine_publish(e, s);
    return built;
}

static int cmd_effect(const char *path, uint64_t subs, uint64_t seed, int rounds)
{
    double on[MAX_RUNS], off[MAX_RUNS], commit[MAX_RUNS], lift_commit[MAX_RUNS], build[MAX_RUNS];
    cutoff_db *db = open_db(path);
    synth_world w;
    synth_action unit;
    synth_walk(subs, seed, NULL, NULL, &w);
    synth_unit_action(&w, &unit);
    open_case(db);

    probe p = {.at = (int64_t)time(NULL) + 3600};
    synth_sub_id(seed, unit.scope_first[0] + unit.scope_subs[0] / 2, p.sub);
    atomic_init(&p.stop, 0);
    atomic_init(&p.denied, -1);
    atomic_init(&p.changed_at, 0);
    cutoff_tree *t;
    cutoff_diag diag;
    int rc;
    if ((rc = cutoff_engine_new(&p.engine)) != 0)
        die("engine_new", NULL, rc);
    if ((rc = cutoff_db_load_tree(db, &t, &diag)) != 0)
        die("load_tree", &diag, rc);
    snapshot_publish(db, t, p.engine);
    pthread_t reader;
    if (pthread_create(&reader, NULL, probe_reader, &p) != 0)
        die("pthread_create", NULL, CUTOFF_ENOMEM);
    wait_for(&p, 0);
    printf("info effect_scope=%s scope_subscriptions=%" PRIu64 " probe=%s\n", unit.scope[0],
           unit.scope_subs[0], p.sub);

    /* A fresh id per round: every round is a new action on the same unit. */
    char id[32];
    int base = (int)(time(NULL) % 100000);
    for (int r = 0; r < rounds; r++) {
        snprintf(id, sizeof id, "EA-U%d-%d", base, r);
        uint64_t committed;
        commit[r] = (double)propose_approve(db, &unit, id, (int64_t)time(NULL), &committed) / 1e6;
        uint64_t built = snapshot_publish(db, t, p.engine);
        on[r] = (double)(wait_for(&p, 1) - committed) / 1e6;
        build[r] = (double)(built - committed) / 1e6;

        uint64_t t0 = bench_now_ns();
        if ((rc = cutoff_db_action_lift(db, APPROVER, id, (int64_t)time(NULL), "benchmark round",
                                        &diag)) != 0)
            die("lift", &diag, rc);
        committed = bench_now_ns();
        lift_commit[r] = (double)(committed - t0) / 1e6;
        snapshot_publish(db, t, p.engine);
        off[r] = (double)(wait_for(&p, 0) - committed) / 1e6;
    }
    atomic_store(&p.stop, 1);
    pthread_join(reader, NULL);
    cutoff_engine_free(p.engine);
    cutoff_tree_release(t);
    cutoff_db_close(db);
    synth_world_free(&w);
    bench_result("effect.store_approve", "ms", on, (size_t)rounds);
    bench_result("effect.store_lift", "ms", off, (size_t)rounds);
    bench_result("effect.store_snapshot", "ms", build, (size_t)rounds);
    bench_result("effect.approve_commit", "ms", commit, (size_t)rounds);
    bench_result("effect.lift_commit", "ms", lift_commit, (size_t)rounds);
    return 0;
}

/* ---- main ------------------------------------------------------------------------ */

static const char usage_text[] = "usage: store setup --db PATH --subs N [--seed S]\n"
                                 "       store load --db PATH [--runs R]\n"
                                 "       store effect --db PATH --subs N [--seed S] [--rounds K]\n";

static uint64_t parse_num(const char *opt, const char *v)
{
    char *end;
    errno = 0;
    unsigned long long n = v ? strtoull(v, &end, 10) : 0;
    if (v == NULL || errno || end == v || v[0] == '-') {
        fprintf(stderr, "store: %s wants a number\n%s", opt, usage_text);
        exit(2);
    }
    if (*end == 'k')
        n *= 1000, end++;
    else if (*end == 'M')
        n *= 1000000, end++;
    if (*end != '\0') {
        fprintf(stderr, "store: %s wants a number (suffixes k, M)\n%s", opt, usage_text);
        exit(2);
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    const char *cmd = argv[1], *path = NULL;
    uint64_t subs = 0, seed = 1;
    int runs = 3, rounds = 20;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        i++;
        if (strcmp(a, "--db") == 0 && v)
            path = v;
        else if (strcmp(a, "--subs") == 0)
            subs = parse_num(a, v);
        else if (strcmp(a, "--seed") == 0)
            seed = parse_num(a, v);
        else if (strcmp(a, "--runs") == 0)
            runs = (int)parse_num(a, v);
        else if (strcmp(a, "--rounds") == 0)
            rounds = (int)parse_num(a, v);
        else {
            fprintf(stderr, "store: unknown option %s\n%s", a, usage_text);
            return 2;
        }
    }
    if (path == NULL || runs < 1 || runs > MAX_RUNS || rounds < 1 || rounds > MAX_RUNS) {
        fprintf(stderr, "store: --db is required; runs and rounds are 1..%d\n%s", MAX_RUNS,
                usage_text);
        return 2;
    }
    if (strcmp(cmd, "load") == 0)
        return cmd_load(path, runs);
    if (subs == 0) {
        fprintf(stderr, "store: %s wants --subs N\n%s", cmd, usage_text);
        return 2;
    }
    if (strcmp(cmd, "setup") == 0)
        return cmd_setup(path, subs, seed);
    if (strcmp(cmd, "effect") == 0)
        return cmd_effect(path, subs, seed, rounds);
    fputs(usage_text, stderr);
    return 2;
}
