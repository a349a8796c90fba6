/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_shadow.c - shadow mode in the library: the bounded counts (every
 * bound overflowing into its counter, the sample keeping the newest), the
 * counts document read back whole or not at all, starting and stopping
 * runs (one person, audited, a shadow change; drafts only), exactly the
 * requests the draft denies once approved being counted, a combined
 * snapshot that counts each run for itself, counts written without a
 * change, summed over nodes in the report next to the preview, and the
 * migration from schema 4.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cutoff.h"
#include "../support/dbfiles.h"
#include "engine/shadow.h"
#include "util/util.h"

static const char CATALOG[] =
    "{\"services\":["
    "{\"name\":\"storage\",\"actions\":[{\"name\":\"read\",\"class\":\"read\"},"
    "{\"name\":\"write\",\"class\":\"write\"}]},"
    "{\"name\":\"ai\",\"actions\":[{\"name\":\"infer\",\"class\":\"write\"}]},"
    "{\"name\":\"security\",\"actions\":[{\"name\":\"scan\",\"class\":\"write\"}]}],"
    "\"regions\":[\"eu-netherlands\",\"us-east\"],"
    "\"plans\":[{\"name\":\"enterprise\",\"services\":[\"*\"]}]}";

static const char WORLD[] =
    "{\"id\":\"mod\",\"kind\":\"tenant\",\"parent\":null,\"plan\":\"enterprise\"}\n"
    "{\"id\":\"unit-8200\",\"kind\":\"unit\",\"parent\":\"mod\"}\n"
    "{\"id\":\"sub-a\",\"kind\":\"subscription\",\"parent\":\"unit-8200\"}\n"
    "{\"id\":\"sub-b\",\"kind\":\"subscription\",\"parent\":\"unit-8200\"}\n"
    "{\"id\":\"sub-quiet\",\"kind\":\"subscription\",\"parent\":\"unit-8200\"}\n"
    "{\"id\":\"logistics\",\"kind\":\"unit\",\"parent\":\"mod\"}\n"
    "{\"id\":\"sub-c\",\"kind\":\"subscription\",\"parent\":\"logistics\"}\n";

/* Storage and AI read-only for unit-8200, security excepted. */
static const char EA1[] =
    "{\"id\":\"EA-1\",\"case\":\"CASE-1\",\"scope\":[\"unit-8200\"],"
    "\"deny\":[\"storage.*\",\"ai.*\"],\"except\":[\"security.*\"],"
    "\"phases\":[{\"at\":\"+0\",\"mode\":\"read-only\"},{\"at\":\"+30d\",\"mode\":\"suspend\"}],"
    "\"status\":451,\"notice\":{\"summary\":\"s\",\"terms\":\"t\",\"contact\":\"c\"}}";

/* Everything suspended for logistics, in us-east only. */
static const char EA2[] =
    "{\"id\":\"EA-2\",\"case\":\"CASE-1\",\"scope\":[\"logistics\"],\"deny\":[\"*\"],"
    "\"regions\":[\"us-east\"],\"phases\":[{\"at\":\"+0\",\"mode\":\"suspend\"}],"
    "\"status\":403,\"notice\":{\"summary\":\"s\",\"terms\":\"t\",\"contact\":\"c\"}}";

typedef struct fixture {
    char dir[64];
    char path[128];
    cutoff_db *db;
    long live_before;
} fixture;

static void must(int rc, const cutoff_diag *d, const char *what)
{
    if (rc != 0)
        fail_msg("%s: %s (%s)", what, cutoff_errname(rc), d ? d->message : "");
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/cutoff-shadow-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/cutoff.db", f->dir);
    f->live_before = co__alloc_live();
    cutoff_diag d = {0};
    const char *scope[] = {"unit-8200", "logistics"};
    char id[CUTOFF_ID_MAX + 1];
    must(cutoff_db_open(f->path, CUTOFF_DB_CREATE, &f->db, &d), &d, "open");
    must(cutoff_db_catalog_load(f->db, "alice", CATALOG, strlen(CATALOG), &d), &d, "catalog");
    FILE *in = fmemopen((void *)WORLD, strlen(WORLD), "r");
    cutoff_import_stats st;
    must(cutoff_db_nodes_import(f->db, "alice", in, "world", NULL, NULL, &st, &d), &d, "nodes");
    fclose(in);
    must(cutoff_db_case_open(f->db, "alice", "CASE-1", "review", scope, 2, id, &d), &d, "case");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cutoff_db_close(f->db);
    long live = co__alloc_live(), live_before = f->live_before;
    test_db_remove(f->path);
    rmdir(f->dir);
    free(f);
    assert_int_equal(live, live_before);
    return 0;
}

static void propose(fixture *f, const char *doc)
{
    char id[CUTOFF_ID_MAX + 1];
    int version;
    cutoff_diag d = {0};
    must(cutoff_db_action_propose(f->db, "alice", doc, strlen(doc), id, &version, &d), &d,
         "propose");
}

static uint64_t head(cutoff_db *db)
{
    cutoff_changes c;
    assert_int_equal(cutoff_db_changes(db, 0, &c), 0);
    return c.head;
}

static json_t *parse(char *text)
{
    json_t *o = json_loads(text, 0, NULL);
    assert_non_null(o);
    cutoff_free(text);
    return o;
}

static json_int_t int_at(json_t *o, const char *path)
{
    /* "a.b.c": members only */
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = o;
    for (char *save, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        v = json_object_get(v, k);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", path);
    return json_integer_value(v);
}

/* ===================================================================== */
/* Counting                                                               */
/* ===================================================================== */

static char *tally_text(co__tally *t)
{
    char *text = NULL;
    assert_int_equal(co__tally_to_json(t, false, false, &text), 0);
    assert_non_null(text);
    return text;
}

/* Every bound overflows into its counter; the totals still count all. */
static void test_tally_bounds(void **state)
{
    (void)state;
    long live = co__alloc_live();
    cutoff_shadow_limits l = {.subscriptions = 2, .lines = 2, .per_subscription = 1, .sample = 3};
    co__tally *t;
    assert_int_equal(co__tally_new(&l, &t), 0);
    co__tally_add(t, "r1", "sub-a", "storage.write", 0, CUTOFF_MODE_READ_ONLY, "eu-netherlands",
                  100);
    co__tally_add(t, "r2", "sub-a", "ai.infer", 0, CUTOFF_MODE_READ_ONLY, NULL, 101);
    co__tally_add(t, "r3", "sub-b", "storage.write", 0, CUTOFF_MODE_READ_ONLY, NULL, 102);
    co__tally_add(t, "r4", "sub-c", "storage.write", 0, CUTOFF_MODE_READ_ONLY, NULL, 103);
    co__tally_add(t, "r5", "sub-c", "storage.read", 1, CUTOFF_MODE_SUSPEND, NULL, 99);
    json_t *o = parse(tally_text(t));
    assert_int_equal(int_at(o, "would_deny"), 5);
    assert_int_equal(int_at(o, "first"), 99);
    assert_int_equal(int_at(o, "last"), 103);
    /* two lines itemised; storage.read in phase 1 is the third */
    assert_int_equal(json_array_size(json_object_get(o, "lines")), 2);
    assert_int_equal(int_at(o, "overflow.lines"), 1);
    /* two subscriptions itemised; sub-c's two requests overflow */
    json_t *subs = json_object_get(o, "subscriptions");
    assert_int_equal(json_array_size(subs), 2);
    assert_int_equal(int_at(o, "overflow.subscriptions"), 2);
    /* sub-a: two requests, one (action, phase) itemised, the other over */
    json_t *a = json_array_get(subs, 0);
    assert_string_equal(json_string_value(json_array_get(a, 0)), "sub-a");
    assert_int_equal(json_integer_value(json_array_get(a, 1)), 2);
    assert_int_equal(json_array_size(json_array_get(a, 4)), 1);
    assert_int_equal(json_integer_value(json_array_get(a, 5)), 1);
    /* the sample keeps the newest three, oldest first, and no more */
    json_t *sample = json_object_get(o, "sample");
    assert_int_equal(json_array_size(sample), 3);
    assert_string_equal(json_string_value(json_array_get(json_array_get(sample, 0), 0)), "r3");
    assert_string_equal(json_string_value(json_array_get(json_array_get(sample, 2), 0)), "r5");
    assert_true(json_is_null(json_array_get(json_array_get(sample, 2), 4)));
    json_decref(o);
    co__tally_release(t);
    assert_int_equal(co__alloc_live(), live);
}

/* A document read into an empty tally gives the same document; one that
 * is not one adds nothing; two merged add up. */
static void test_tally_document(void **state)
{
    (void)state;
    long live = co__alloc_live();
    co__tally *t, *u;
    assert_int_equal(co__tally_new(NULL, &t), 0);
    assert_int_equal(co__tally_new(NULL, &u), 0);
    for (int i = 0; i < 250; i++) {
        char rid[16], sub[16];
        snprintf(rid, sizeof rid, "req-%d", i);
        snprintf(sub, sizeof sub, "sub-%d", i % 7);
        co__tally_add(t, rid, sub, i % 2 ? "storage.write" : "ai.infer", i % 3 == 0,
                      CUTOFF_MODE_READ_ONLY, "us-east", 1000 + i);
    }
    char *one = tally_text(t);
    cutoff_diag d = {0};
    must(co__tally_merge_json(u, one, &d), &d, "merge");
    char *two = tally_text(u);
    assert_string_equal(one, two);
    co__free(two);
    /* the sample is bounded by the default (100) */
    json_t *o = json_loads(one, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(o, "sample")), CO__SHADOW_DEFAULT_SAMPLE);
    json_decref(o);

    /* broken documents: refused whole, nothing added */
    const char *bad[] = {
        "[]",
        "{\"format\":\"something-else\"}",
        "{\"format\":\"cutoff-shadow-counts-v1\",\"evaluated\":1,\"would_deny\":1,\"first\":1,"
        "\"last\":1,\"lines\":[[\"storage.write\",0,\"read-only\",1,1,1]],"
        "\"subscriptions\":[[\"sub-a\",1,1,1,[[7,1,1,1]],0]],"
        "\"overflow\":{\"subscriptions\":0,\"lines\":0},\"sample\":[]}",
        "{\"format\":\"cutoff-shadow-counts-v1\",\"evaluated\":1,\"would_deny\":-1,\"first\":1,"
        "\"last\":1,\"lines\":[],\"subscriptions\":[],"
        "\"overflow\":{\"subscriptions\":0,\"lines\":0},\"sample\":[]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(co__tally_merge_json(u, bad[i], &d), CUTOFF_EPARSE);
        char *again = tally_text(u);
        assert_string_equal(again, one);
        co__free(again);
    }
    /* merged twice: every count doubles */
    must(co__tally_merge_json(u, one, &d), &d, "merge again");
    o = parse(tally_text(u));
    assert_int_equal(int_at(o, "would_deny"), 500);
    json_t *first_sub = json_array_get(json_object_get(o, "subscriptions"), 0);
    assert_int_equal(json_integer_value(json_array_get(first_sub, 1)), 2 * 36);
    json_decref(o);
    co__free(one);
    co__tally_release(t);
    co__tally_release(u);
    assert_int_equal(co__alloc_live(), live);
}

/* ===================================================================== */
/* Runs                                                                   */
/* ===================================================================== */

static int64_t count_sql(const char *path, const char *sql)
{
    sqlite3 *s = NULL;
    sqlite3_stmt *st;
    int64_t n = -1;
    assert_int_equal(sqlite3_open_v2(path, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(s, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(s);
    return n;
}

/* One person starts and stops; each is audited and a shadow change; only
 * a draft, once; a stop needs a run. */
static void test_start_stop(void **state)
{
    fixture *f = *state;
    cutoff_diag d = {0};
    int64_t now = (int64_t)time(NULL);
    propose(f, EA1);
    uint64_t before = head(f->db);
    char *json = NULL;
    must(cutoff_db_shadow_start(f->db, "alice", "EA-1", now, &json, &d), &d, "start");
    json_t *o = parse(json);
    assert_string_equal(json_string_value(json_object_get(o, "state")), "running");
    assert_int_equal(int_at(o, "run"), 1);
    json_decref(o);
    cutoff_changes c;
    assert_int_equal(cutoff_db_changes(f->db, before, &c), 0);
    assert_int_equal(c.head, before + 1);
    assert_int_equal(c.kinds, CUTOFF_CHANGE_SHADOW);
    /* the same version once */
    assert_int_equal(cutoff_db_shadow_start(f->db, "bob", "EA-1", now, NULL, &d), CUTOFF_EEXIST);
    assert_non_null(strstr(d.message, "already runs in shadow"));
    /* stopped by the same person who started it: nothing is enforced */
    must(cutoff_db_shadow_stop(f->db, "alice", "EA-1", now + 1, &json, &d), &d, "stop");
    o = parse(json);
    assert_string_equal(json_string_value(json_object_get(o, "state")), "stopped");
    assert_string_equal(json_string_value(json_object_get(o, "stopped_by")), "alice");
    json_decref(o);
    assert_int_equal(cutoff_db_changes(f->db, before + 1, &c), 0);
    assert_int_equal(c.kinds, CUTOFF_CHANGE_SHADOW);
    assert_int_equal(cutoff_db_shadow_stop(f->db, "alice", "EA-1", now, NULL, &d), CUTOFF_ESTATE);
    assert_int_equal(count_sql(f->path, "SELECT count(*) FROM audit WHERE actor = 'alice' AND"
                                        " verb IN ('action.shadow.start', 'action.shadow.stop')"
                                        " AND object = 'EA-1'"),
                     2);
    cutoff_audit_report rep;
    assert_int_equal(cutoff_db_audit_verify(f->db, &rep), 0);

    /* an active version is refused; a new draft version of it is not */
    must(cutoff_db_action_approve(f->db, "bob", "EA-1", now, &d), &d, "approve");
    assert_int_equal(cutoff_db_shadow_start(f->db, "alice", "EA-1", now, NULL, &d), CUTOFF_ESTATE);
    assert_non_null(strstr(d.message, "only a draft can run in shadow"));
    propose(f, EA1);
    must(cutoff_db_shadow_start(f->db, "alice", "EA-1", now, NULL, &d), &d, "start v2");
    /* lifting withdraws the draft: the run ends without a stop */
    must(cutoff_db_action_lift(f->db, "alice", "EA-1", now, NULL, &d), &d, "lift active");
    cutoff_shadow_run *runs = NULL;
    size_t n = 9;
    assert_int_equal(cutoff_db_shadow_running(f->db, NULL, &runs, &n), 0);
    assert_int_equal(n, 1); /* the draft v2 is still the latest draft */
    cutoff_shadow_runs_free(runs, n);
    must(cutoff_db_action_lift(f->db, "alice", "EA-1", now, NULL, &d), &d, "withdraw draft");
    assert_int_equal(cutoff_db_shadow_running(f->db, NULL, &runs, &n), 0);
    assert_int_equal(n, 0);
    assert_null(runs);
    assert_int_equal(cutoff_db_shadow_start(f->db, "alice", "EA-1", now, NULL, &d), CUTOFF_ESTATE);
    assert_non_null(strstr(d.message, "lifted"));
    assert_int_equal(cutoff_db_shadow_start(f->db, "alice", "EA-404", now, NULL, &d),
                     CUTOFF_ENOTFOUND);
    must(cutoff_db_shadow_report(f->db, NULL, "EA-1", now, &json, &d), &d, "report");
    o = parse(json);
    assert_string_equal(json_string_value(json_object_get(o, "state")), "ended");
    json_decref(o);

    /* a closed case: nothing can be approved, so nothing is shadowed */
    propose(f, EA2);
    must(cutoff_db_case_close(f->db, "alice", "CASE-1", &d), &d, "close");
    assert_int_equal(cutoff_db_shadow_start(f->db, "alice", "EA-2", now, NULL, &d), CUTOFF_ESTATE);
    assert_non_null(strstr(d.message, "closed"));
}

typedef struct probe {
    const char *sub, *action, *region;
    int64_t offset; /* seconds after the start */
} probe;

static const probe PROBES[] = {
    {"sub-a", "storage.write", NULL, 5},
    {"sub-a", "storage.read", NULL, 5},
    {"sub-a", "ai.infer", "eu-netherlands", 6},
    {"sub-a", "security.scan", NULL, 6},
    {"sub-b", "storage.write", "us-east", 7},
    {"sub-b", "storage.write", "us-east", 8},
    {"sub-c", "storage.write", "us-east", 9},
    {"sub-c", "storage.write", "eu-netherlands", 9},
    {"sub-c", "ai.infer", NULL, 10},
    {"sub-nobody", "storage.write", NULL, 10},
    {"sub-a", "storage.erase", NULL, 11},
    {"sub-b", "storage.read", NULL, 31 * 86400},
    {"sub-c", "security.scan", "us-east", 12},
    {"sub-b", "ai.infer", NULL, 12},
};
#define N_PROBES (sizeof PROBES / sizeof PROBES[0])

/* Shadow two drafts at once; each counts exactly what it denies once
 * approved at the run's start; the live decisions are those of the live
 * snapshot; counts are not a change; two nodes add up in the report. */
static void test_counts_exactly(void **state)
{
    fixture *f = *state;
    cutoff_diag d = {0};
    int64_t start = (int64_t)time(NULL) - 100;
    propose(f, EA1);
    propose(f, EA2);
    must(cutoff_db_shadow_start(f->db, "alice", "EA-1", start, NULL, &d), &d, "start 1");
    must(cutoff_db_shadow_start(f->db, "alice", "EA-2", start, NULL, &d), &d, "start 2");
    cutoff_snapshot *live = NULL;
    must(cutoff_db_snapshot(f->db, NULL, start, &live, &d), &d, "live");
    cutoff_shadow_run *runs = NULL;
    size_t n = 0;
    assert_int_equal(cutoff_db_shadow_running(f->db, "node-a", &runs, &n), 0);
    assert_int_equal(n, 2);
    cutoff_shadow *set = NULL;
    must(cutoff_shadow_build(live, runs, n, NULL, NULL, &set, &d), &d, "build");
    assert_int_equal(cutoff_shadow_count(set), 2);
    cutoff_verdict live_v[N_PROBES];
    for (size_t i = 0; i < N_PROBES; i++) {
        cutoff_request r = {PROBES[i].sub, PROBES[i].action, PROBES[i].region,
                            start + PROBES[i].offset};
        cutoff_check(live, r.subscription, r.action, r.region, r.at, &live_v[i]);
        cutoff_verdict seen = live_v[i];
        cutoff_shadow_observe(set, &r, &seen, "req");
        /* observing never touches the decision */
        assert_memory_equal(&seen, &live_v[i], sizeof seen);
    }
    uint64_t before = head(f->db);
    assert_int_equal(cutoff_db_shadow_counts_put(f->db, "node-a", set, start + 50, 0), 0);
    assert_int_equal(cutoff_db_shadow_counts_put(f->db, "node-b", set, start + 51, 1), 0);
    assert_int_equal(head(f->db), before);
    assert_int_equal(count_sql(f->path, "SELECT count(*) FROM shadow_counts"), 4);

    /* a node that starts again goes on from what it wrote */
    cutoff_shadow_run *again = NULL;
    size_t n_again = 0;
    assert_int_equal(cutoff_db_shadow_running(f->db, "node-a", &again, &n_again), 0);
    assert_int_equal(n_again, 2);
    assert_non_null(again[0].counts);
    cutoff_shadow *fresh = NULL;
    must(cutoff_shadow_build(live, again, n_again, NULL, NULL, &fresh, &d), &d, "restart");
    for (size_t k = 0; k < 2; k++) {
        char *a = NULL, *b = NULL;
        assert_int_equal(cutoff_shadow_counts_json(set, k, NULL, &a), 0);
        assert_int_equal(cutoff_shadow_counts_json(fresh, k, NULL, &b), 0);
        json_t *ja = parse(a), *jb = parse(b);
        json_object_del(ja, "ended");
        json_object_del(jb, "ended");
        assert_true(json_equal(ja, jb));
        json_decref(ja);
        json_decref(jb);
    }
    cutoff_shadow_free(fresh);
    cutoff_shadow_runs_free(again, n_again);

    /* what each draft denies once approved at the run's start */
    size_t expect[2] = {0, 0};
    const char *ids[2] = {"EA-1", "EA-2"};
    char *reports[2];
    for (int k = 0; k < 2; k++)
        must(cutoff_db_shadow_report(f->db, live, ids[k], start + 60, &reports[k], &d), &d,
             "report");
    must(cutoff_db_action_approve(f->db, "bob", "EA-1", start, &d), &d, "approve 1");
    must(cutoff_db_action_approve(f->db, "bob", "EA-2", start, &d), &d, "approve 2");
    cutoff_snapshot *after = NULL;
    must(cutoff_db_snapshot(f->db, NULL, start, &after, &d), &d, "after");
    for (size_t i = 0; i < N_PROBES; i++) {
        cutoff_verdict v;
        cutoff_check(after, PROBES[i].sub, PROBES[i].action, PROBES[i].region,
                     start + PROBES[i].offset, &v);
        if (live_v[i].reason == CUTOFF_REASON_ALLOW && v.reason != CUTOFF_REASON_ALLOW)
            expect[strcmp(v.by->id, "EA-1") == 0 ? 0 : 1]++;
    }
    assert_true(expect[0] >= 4 && expect[1] >= 2); /* the probes mean something */
    for (int k = 0; k < 2; k++) {
        json_t *o = parse(reports[k]);
        /* two nodes wrote the same counts: twice each */
        assert_int_equal(int_at(o, "would_deny"), 2 * (json_int_t)expect[k]);
        assert_int_equal(json_array_size(json_object_get(o, "nodes")), 2);
        json_t *pv = json_object_get(o, "preview");
        assert_int_equal(int_at(pv, "unforeseen.total"), 0);
        if (k == 0) {
            /* sub-quiet is in scope and changes, but sent nothing */
            assert_int_equal(int_at(pv, "silent.total"), 1);
            assert_string_equal(
                json_string_value(json_array_get(
                    json_object_get(json_object_get(pv, "silent"), "subscriptions"), 0)),
                "sub-quiet");
            /* the phase after 30 days: suspend, storage.read of sub-b */
            json_t *lines = json_object_get(o, "actions");
            bool suspended = false;
            for (size_t i = 0; i < json_array_size(lines); i++)
                suspended |= int_at(json_array_get(lines, i), "phase") == 1;
            assert_true(suspended);
        }
        json_decref(o);
    }
    cutoff_snapshot_release(after);

    /* a rebuilt set keeps counting in the same counts; runs it drops end */
    cutoff_shadow *next = NULL;
    must(cutoff_shadow_build(live, runs, 1, NULL, set, &next, &d), &d, "rebuild");
    uint64_t run = 0;
    assert_ptr_equal(co__shadow_tally(next, 0, &run), co__shadow_tally(set, 0, NULL));
    assert_false(atomic_load(&co__shadow_tally(set, 0, NULL)->ended));
    assert_true(atomic_load(&co__shadow_tally(set, 1, NULL)->ended));
    cutoff_shadow_free(set);
    cutoff_shadow_free(next);
    cutoff_shadow_runs_free(runs, n);
    cutoff_snapshot_release(live);
}

/* ===================================================================== */
/* Migration                                                              */
/* ===================================================================== */

static void exec_sql(const char *path, const char *sql)
{
    sqlite3 *s = NULL;
    assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(s, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("sql %s: %s", sql, err);
    sqlite3_close(s);
}

/* A schema-4 store (no shadow tables, a change log that takes kinds 1, 2
 * and 4) keeps its log, takes shadow changes, and its log stays
 * append-only. */
static void test_migration_from_version_4(void **state)
{
    fixture *f = *state;
    cutoff_diag d = {0};
    propose(f, EA1);
    uint64_t before = head(f->db);
    cutoff_db_close(f->db);
    f->db = NULL;
    exec_sql(f->path, "DROP TABLE shadow_counts; DROP TABLE shadow_runs;"
                      "CREATE TABLE changes_v4(seq INTEGER PRIMARY KEY,"
                      " kind INTEGER NOT NULL CHECK (kind IN (1, 2, 4)), object TEXT NOT NULL);"
                      "INSERT INTO changes_v4 SELECT seq, kind, object FROM changes;"
                      "DROP TABLE changes; ALTER TABLE changes_v4 RENAME TO changes;"
                      "CREATE INDEX changes_by_kind ON changes(kind, seq);"
                      "CREATE TRIGGER changes_no_update BEFORE UPDATE ON changes"
                      "  BEGIN SELECT RAISE(ABORT, 'the change log is append-only'); END;"
                      "CREATE TRIGGER changes_no_delete BEFORE DELETE ON changes"
                      "  BEGIN SELECT RAISE(ABORT, 'the change log is append-only'); END;"
                      "PRAGMA user_version = 4;");
    must(cutoff_db_open(f->path, 0, &f->db, &d), &d, "open version 4");
    assert_int_equal(count_sql(f->path, "PRAGMA user_version"), 5);
    assert_int_equal(head(f->db), before);
    must(cutoff_db_shadow_start(f->db, "alice", "EA-1", (int64_t)time(NULL), NULL, &d), &d,
         "start");
    assert_int_equal(count_sql(f->path, "SELECT count(*) FROM changes WHERE kind = 8"), 1);
    sqlite3 *s = NULL;
    assert_int_equal(sqlite3_open(f->path, &s), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(s, "DELETE FROM changes", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(s);
    cutoff_audit_report rep;
    assert_int_equal(cutoff_db_audit_verify(f->db, &rep), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tally_bounds),
        cmocka_unit_test(test_tally_document),
        cmocka_unit_test_setup_teardown(test_start_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_from_version_4, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
