/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fleet.c - what lets several decision nodes share one database:
 * receipts (replaced per node, validated, never a change, never
 * audited), waiting for another handle's commit (the first wait answers
 * at once, then woken by a commit, a timeout otherwise, no wake-up lost
 * between two waits, an unreachable file reported), and the snapshot digest (equal for equal stored
 * state read by two handles, whatever order the nodes were added in; different once an action is
 * approved). With CUTOFF_TEST_PG set (tests/run.sh) it runs on PostgreSQL, but for the file moved
 * away (the server's outage is tests/integration/fleet_postgres.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cutoff.h"
#include "../support/dbfiles.h"
#include "util/util.h"

static const char CATALOG[] =
    "{\"services\":[{\"name\":\"storage\",\"actions\":[{\"name\":\"read\",\"class\":\"read\"},"
    "{\"name\":\"write\",\"class\":\"write\"}]}],"
    "\"regions\":[\"eu-netherlands\"],"
    "\"plans\":[{\"name\":\"enterprise\",\"services\":[\"*\"]}]}";

static const char WORLD[] =
    "{\"id\":\"mod\",\"kind\":\"tenant\",\"parent\":null,\"plan\":\"enterprise\"}\n"
    "{\"id\":\"unit-8200\",\"kind\":\"unit\",\"parent\":\"mod\"}\n"
    "{\"id\":\"sub-a\",\"kind\":\"subscription\",\"parent\":\"unit-8200\"}\n"
    "{\"id\":\"sub-b\",\"kind\":\"subscription\",\"parent\":\"mod\"}\n";

static const char ACTION[] =
    "{\"id\":\"EA-1\",\"case\":\"%s\",\"scope\":[\"unit-8200\"],\"deny\":[\"storage.*\"],"
    "\"phases\":[{\"at\":\"+0\",\"mode\":\"suspend\"}],\"status\":451,"
    "\"notice\":{\"summary\":\"Stopped\",\"terms\":\"AUP\",\"contact\":\"c@example.com\"}}";

typedef struct fixture {
    char dir[64];
    char path[256]; /* the database's location */
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
    strcpy(f->dir, "/tmp/cutoff-fleet-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char file[128];
    snprintf(file, sizeof file, "%s/cutoff.db", f->dir);
    assert_non_null(test_db_location(file, f->path, sizeof f->path));
    f->live_before = co__alloc_live();
    cutoff_diag d;
    must(cutoff_db_open(f->path, CUTOFF_DB_CREATE, &f->db, &d), &d, "create");
    must(cutoff_db_catalog_load(f->db, "alice", CATALOG, strlen(CATALOG), &d), &d, "catalog");
    FILE *in = tmpfile();
    assert_non_null(in);
    fputs(WORLD, in);
    rewind(in);
    cutoff_import_stats st;
    must(cutoff_db_nodes_import(f->db, "alice", in, "nodes.jsonl", NULL, NULL, &st, &d), &d,
         "nodes");
    fclose(in);
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

static uint64_t head(cutoff_db *db)
{
    cutoff_changes c;
    assert_int_equal(cutoff_db_changes(db, 0, &c), 0);
    return c.head;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Opens a case and proposes and approves EA-1 in it through db. */
static void approve_action(cutoff_db *db)
{
    cutoff_diag d;
    char case_id[CUTOFF_ID_MAX + 1], id[CUTOFF_ID_MAX + 1], doc[1024];
    const char *scope[] = {"unit-8200"};
    int version;
    must(cutoff_db_case_open(db, "alice", NULL, "review", scope, 1, case_id, &d), &d, "case");
    snprintf(doc, sizeof doc, ACTION, case_id);
    must(cutoff_db_action_propose(db, "alice", doc, strlen(doc), id, &version, &d), &d, "propose");
    must(cutoff_db_action_approve(db, "bob", id, (int64_t)time(NULL), &d), &d, "approve");
}

/* ===================================================================== */
/* Receipts                                                               */
/* ===================================================================== */

static void test_receipts_replace_and_list(void **state)
{
    fixture *f = *state;
    uint64_t before = head(f->db);
    cutoff_audit_report rep;
    assert_int_equal(cutoff_db_audit_verify(f->db, &rep), 0);
    uint64_t records = rep.records;

    cutoff_receipt b = {"host-b:8080", before, 100, "ab12", 101, "ok"};
    cutoff_receipt a = {"host-a:8080", before, 100, "ab12", 102, "degraded"};
    assert_int_equal(cutoff_db_receipt_put(f->db, &b), 0);
    assert_int_equal(cutoff_db_receipt_put(f->db, &a), 0);
    b.seq = before + 7;
    b.heartbeat_at = 200;
    b.status = "stopped";
    assert_int_equal(cutoff_db_receipt_put(f->db, &b), 0); /* replaces */

    cutoff_receipt *list = NULL;
    size_t n = 0;
    assert_int_equal(cutoff_db_receipts(f->db, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].node, "host-a:8080"); /* ascending by node */
    assert_string_equal(list[0].status, "degraded");
    assert_int_equal(list[0].heartbeat_at, 102);
    assert_string_equal(list[1].node, "host-b:8080");
    assert_int_equal(list[1].seq, before + 7);
    assert_int_equal(list[1].heartbeat_at, 200);
    assert_string_equal(list[1].status, "stopped");
    assert_string_equal(list[1].digest, "ab12");
    cutoff_receipts_free(list, n);

    /* not a change, not audited */
    assert_int_equal(head(f->db), before);
    assert_int_equal(cutoff_db_audit_verify(f->db, &rep), 0);
    assert_int_equal(rep.records, records);
}

static void test_receipt_validation(void **state)
{
    fixture *f = *state;
    char long_id[CUTOFF_NODE_ID_MAX + 2];
    memset(long_id, 'n', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    const cutoff_receipt bad[] = {
        {"", 1, 1, "", 1, "ok"},     {long_id, 1, 1, "", 1, "ok"}, {"tab\there", 1, 1, "", 1, "ok"},
        {"n", 1, 1, "XYZ", 1, "ok"}, {"n", 1, 1, "", 1, "fine"},   {"n", 1, -1, "", 1, "ok"},
        {NULL, 1, 1, "", 1, "ok"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cutoff_db_receipt_put(f->db, &bad[i]) != CUTOFF_EINVAL)
            fail_msg("bad receipt %zu accepted", i);
    long_id[CUTOFF_NODE_ID_MAX] = '\0'; /* exactly the limit */
    cutoff_receipt ok = {long_id, 1, 1, "", 1, "ok"};
    assert_int_equal(cutoff_db_receipt_put(f->db, &ok), 0);
    cutoff_receipt *list = NULL;
    size_t n = 0;
    assert_int_equal(cutoff_db_receipts(f->db, &list, &n), 0);
    assert_int_equal(n, 1);
    cutoff_receipts_free(list, n);
    assert_int_equal(cutoff_db_receipt_put(NULL, &ok), CUTOFF_EINVAL);
    assert_int_equal(cutoff_db_receipts(f->db, NULL, &n), CUTOFF_EINVAL);
}

/* ===================================================================== */
/* Waiting for a change                                                   */
/* ===================================================================== */

static void test_wait_woken_by_another_handle(void **state)
{
    fixture *f = *state;
    cutoff_db *reader = NULL;
    cutoff_diag d;
    must(cutoff_db_open(f->path, 0, &reader, &d), &d, "open reader");
    /* the first call starts watching and reports a possible change */
    assert_int_equal(cutoff_db_wait_change(reader, 1000), 1);
    /* nothing written: a timeout, after about the time asked for */
    int64_t t0 = now_ms();
    assert_int_equal(cutoff_db_wait_change(reader, 150), 0);
    int64_t waited = now_ms() - t0;
    assert_true(waited >= 140 && waited < 2000);

    /* a commit by another handle made while the reader was not waiting is
     * not lost: the next wait returns at once */
    uint64_t before = head(reader);
    approve_action(f->db);
    t0 = now_ms();
    assert_int_equal(cutoff_db_wait_change(reader, 5000), 1);
    assert_true(now_ms() - t0 < 1000);
    assert_true(head(reader) > before);
    /* drain what the several commits left, then quiet again */
    while (cutoff_db_wait_change(reader, 50) == 1)
        ;
    assert_int_equal(cutoff_db_wait_change(reader, 50), 0);
    /* a receipt moves no head; on SQLite it is a write to the file, so it
     * wakes (a hint), while PostgreSQL notifies changes only */
    uint64_t h = head(reader);
    cutoff_receipt r = {"n1", h, 1, "", 1, "ok"};
    assert_int_equal(cutoff_db_receipt_put(f->db, &r), 0);
    assert_int_equal(cutoff_db_wait_change(reader, test_db_on_pg() ? 300 : 2000),
                     test_db_on_pg() ? 0 : 1);
    assert_int_equal(head(reader), h);
    cutoff_db_close(reader);
    assert_int_equal(cutoff_db_wait_change(NULL, 0), CUTOFF_EINVAL);
}

/* The file moved away is an unreachable store: wait, reads and writes say
 * CUTOFF_EUNAVAIL; back in place, the same handle reads again. */
static void test_unreachable_file(void **state)
{
    fixture *f = *state;
    if (test_db_on_pg())
        skip(); /* a file moved away; a server's outage is fleet_postgres.sh's */
    char away[300];
    snprintf(away, sizeof away, "%s.away", f->path);
    assert_int_equal(cutoff_db_wait_change(f->db, 0), 1); /* watching */
    assert_int_equal(rename(f->path, away), 0);
    int64_t t0 = now_ms();
    assert_int_equal(cutoff_db_wait_change(f->db, 5000), CUTOFF_EUNAVAIL);
    assert_true(now_ms() - t0 < 1000); /* the move itself wakes the waiter */
    cutoff_changes c;
    assert_int_equal(cutoff_db_changes(f->db, 0, &c), CUTOFF_EUNAVAIL);
    cutoff_receipt r = {"n1", 1, 1, "", 1, "ok"};
    assert_int_equal(cutoff_db_receipt_put(f->db, &r), CUTOFF_EUNAVAIL);
    assert_int_equal(rename(away, f->path), 0);
    assert_int_equal(cutoff_db_changes(f->db, 0, &c), 0);
    assert_true(c.head > 0);
    assert_int_equal(cutoff_db_receipt_put(f->db, &r), 0);
}

/* ===================================================================== */
/* Digest                                                                 */
/* ===================================================================== */

static void snapshot_digest(cutoff_db *db, char out[CUTOFF_DIGEST_SIZE])
{
    cutoff_diag d;
    cutoff_tree *tree = NULL;
    cutoff_snapshot *snap = NULL;
    must(cutoff_db_load_tree(db, &tree, &d), &d, "tree");
    must(cutoff_db_snapshot(db, tree, (int64_t)time(NULL), &snap, &d), &d, "snapshot");
    must(cutoff_snapshot_digest(snap, out, CUTOFF_DIGEST_SIZE), NULL, "digest");
    char again[CUTOFF_DIGEST_SIZE];
    must(cutoff_snapshot_digest(snap, again, sizeof again), NULL, "digest again");
    assert_string_equal(out, again);
    assert_int_equal(cutoff_snapshot_digest(snap, again, CUTOFF_DIGEST_SIZE - 1), CUTOFF_EINVAL);
    cutoff_snapshot_release(snap);
    cutoff_tree_release(tree);
}

static void test_digest_same_state_same_digest(void **state)
{
    fixture *f = *state;
    cutoff_db *other = NULL;
    cutoff_diag d;
    char a[CUTOFF_DIGEST_SIZE], b[CUTOFF_DIGEST_SIZE], c[CUTOFF_DIGEST_SIZE];
    must(cutoff_db_open(f->path, 0, &other, &d), &d, "open other");
    snapshot_digest(f->db, a);
    snapshot_digest(other, b);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "0123456789abcdef"), 32);
    assert_string_equal(a, b);
    approve_action(f->db);
    snapshot_digest(f->db, a);
    snapshot_digest(other, c);
    assert_string_equal(a, c);
    assert_string_not_equal(a, b); /* the approval is in it */
    cutoff_db_close(other);
    assert_int_equal(cutoff_snapshot_digest(NULL, a, sizeof a), CUTOFF_EINVAL);
}

/* Built by hand: the same nodes added in two orders give one digest; a
 * node moved to another parent, or given its own plan, another. */
static void test_digest_node_order_and_content(void **state)
{
    (void)state;
    static const cutoff_node_spec nodes[] = {
        {"mod", CUTOFF_NODE_TENANT, NULL, "Ministry", "enterprise"},
        {"unit-1", CUTOFF_NODE_UNIT, "mod", NULL, NULL},
        {"unit-2", CUTOFF_NODE_UNIT, "mod", NULL, NULL},
        {"sub-a", CUTOFF_NODE_SUBSCRIPTION, "unit-1", NULL, NULL},
        {"sub-b", CUTOFF_NODE_SUBSCRIPTION, "unit-2", NULL, NULL},
    };
    const size_t n = sizeof nodes / sizeof nodes[0];
    static const size_t orders[][5] = {{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {2, 4, 0, 3, 1}};
    char digests[4][CUTOFF_DIGEST_SIZE];
    cutoff_catalog_spec *cat = NULL;
    assert_int_equal(cutoff_catalog_parse(CATALOG, strlen(CATALOG), &cat, NULL), 0);
    for (size_t k = 0; k < 4; k++) {
        cutoff_tree_builder *b = NULL;
        cutoff_tree *t = NULL;
        cutoff_snapshot *s = NULL;
        must(cutoff_tree_builder_new(cat, &b, NULL), NULL, "builder");
        for (size_t i = 0; i < n; i++) {
            cutoff_node_spec node = nodes[orders[k < 3 ? k : 0][i]];
            if (k == 3 && strcmp(node.id, "sub-b") == 0)
                node.parent = "unit-1"; /* moved */
            must(cutoff_tree_builder_add(b, &node, NULL), NULL, "add");
        }
        must(cutoff_tree_build(b, &t, NULL), NULL, "build");
        cutoff_tree_builder_free(b);
        must(cutoff_snapshot_build(t, NULL, 0, &s, NULL), NULL, "snapshot");
        must(cutoff_snapshot_digest(s, digests[k], CUTOFF_DIGEST_SIZE), NULL, "digest");
        cutoff_snapshot_release(s);
        cutoff_tree_release(t);
    }
    cutoff_catalog_free(cat);
    assert_string_equal(digests[0], digests[1]);
    assert_string_equal(digests[0], digests[2]);
    assert_string_not_equal(digests[0], digests[3]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_receipts_replace_and_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receipt_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_woken_by_another_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest_same_state_same_digest, setup, teardown),
        cmocka_unit_test(test_digest_node_order_and_content),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
