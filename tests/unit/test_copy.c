/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_copy.c - copying a whole database (cutoff_db_copy): the copy holds
 * every row of every table (compared as a full dump), the report counts
 * them and progress names every table in order; the signed heads verify
 * with the key; refusals (same database, a destination that is not empty,
 * an older schema, a chain that does not verify, a numbering gap in the
 * source, a public key that fails) leave the destination empty; and with
 * every allocation from the n-th on failing, each failure is
 * CUTOFF_ENOMEM, leaves the destination empty and leaks nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cutoff.h"
#include "../support/dbfiles.h"
#include "util/util.h"

static const char CATALOG[] =
    "{\"services\":["
    "{\"name\":\"storage\",\"actions\":[{\"name\":\"read\",\"class\":\"read\"},"
    "{\"name\":\"write\",\"class\":\"write\"}]}],"
    "\"regions\":[\"eu-netherlands\"],"
    "\"plans\":[{\"name\":\"enterprise\",\"services\":[\"*\"]}]}";

static const char CATALOG_2[] =
    "{\"services\":["
    "{\"name\":\"storage\",\"actions\":[{\"name\":\"read\",\"class\":\"read\"},"
    "{\"name\":\"write\",\"class\":\"write\"},{\"name\":\"purge\",\"class\":\"write\"}]}],"
    "\"regions\":[\"eu-netherlands\"],"
    "\"plans\":[{\"name\":\"enterprise\",\"services\":[\"*\"]}]}";

static const char WORLD[] =
    "{\"id\":\"mod\",\"kind\":\"tenant\",\"parent\":null,\"plan\":\"enterprise\"}\n"
    "{\"id\":\"unit-8200\",\"kind\":\"unit\",\"parent\":\"mod\"}\n"
    "{\"id\":\"sub-a\",\"kind\":\"subscription\",\"parent\":\"unit-8200\"}\n"
    "{\"id\":\"sub-b\",\"kind\":\"subscription\",\"parent\":\"mod\"}\n";

static const char ACTION[] =
    "{\"id\":\"EA-1\",\"case\":\"CASE-1\",\"scope\":[\"unit-8200\"],\"deny\":[\"storage.*\"],"
    "\"phases\":[{\"at\":\"+0\",\"mode\":\"suspend\"}],\"status\":451,"
    "\"notice\":{\"summary\":\"Stopped\"}}";

typedef struct fixture {
    char dir[64];
    char src[128], dst[128], evidence[160];
    cutoff_key *key;
    long live_before;
} fixture;

static void exec_sql(const char *path, const char *sql)
{
    sqlite3 *s = NULL;
    assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(s, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("sql %s: %s", sql, err);
    sqlite3_close(s);
}

/* Whether a database location holds nothing: missing, or no schema. */
static bool is_empty(const char *path)
{
    if (access(path, F_OK) != 0)
        return true;
    sqlite3 *s = NULL;
    sqlite3_stmt *st = NULL;
    int64_t objects = -1;
    assert_int_equal(sqlite3_open_v2(path, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(s, "SELECT count(*) FROM sqlite_master", -1, &st, NULL),
                     SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        objects = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(s);
    return objects == 0;
}

/* A source with something in every table, signed with f->key. */
static void make_source(fixture *f)
{
    cutoff_diag d;
    cutoff_db *db = NULL;
    cutoff_import_stats stats;
    char id[CUTOFF_ID_MAX + 1], sha[65];
    const char *scope[] = {"unit-8200"};
    assert_int_equal(cutoff_db_open(f->src, CUTOFF_DB_CREATE, &db, &d), 0);
    cutoff_db_set_key(db, f->key);
    assert_int_equal(cutoff_db_catalog_load(db, "alice", CATALOG, strlen(CATALOG), &d), 0);
    FILE *in = fmemopen((void *)WORLD, strlen(WORLD), "r");
    assert_int_equal(cutoff_db_nodes_import(db, "alice", in, "world", NULL, NULL, &stats, &d), 0);
    fclose(in);
    assert_int_equal(cutoff_db_case_open(db, "alice", NULL, "review", scope, 1, id, &d), 0);
    assert_int_equal(cutoff_db_case_add_evidence(db, "alice", "CASE-1", f->evidence, NULL,
                                                 "text/csv", "kept", 1, sha, &d),
                     0);
    assert_int_equal(cutoff_db_case_add_evidence(db, "alice", "CASE-1", f->evidence, NULL,
                                                 "text/csv", "hash only", 0, sha, &d),
                     0);
    int version = 0;
    assert_int_equal(
        cutoff_db_action_propose(db, "alice", ACTION, strlen(ACTION), id, &version, &d), 0);
    assert_int_equal(cutoff_db_action_approve(db, "bob", "EA-1", 0, &d), 0);
    assert_int_equal(cutoff_db_catalog_load(db, "alice", CATALOG_2, strlen(CATALOG_2), &d), 0);
    assert_int_equal(cutoff_db_case_set_findings(db, "alice", "CASE-1", "found", &d), 0);
    cutoff_db_close(db);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/cutoff-copy-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->src, sizeof f->src, "%s/src.db", f->dir);
    snprintf(f->dst, sizeof f->dst, "%s/dst.db", f->dir);
    snprintf(f->evidence, sizeof f->evidence, "%s/evidence.csv", f->dir);
    FILE *e = fopen(f->evidence, "w");
    assert_non_null(e);
    fputs("subscription,bytes\nsub-a,1024\n", e);
    fclose(e);
    assert_int_equal(cutoff_key_generate(&f->key), 0);
    make_source(f);
    f->live_before = co__alloc_live();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    long live = co__alloc_live();
    cutoff_key_free(f->key);
    test_db_remove(f->src);
    test_db_remove(f->dst);
    unlink(f->evidence);
    rmdir(f->dir);
    assert_int_equal(live, f->live_before);
    free(f);
    return 0;
}

/* ---- the copy ------------------------------------------------------------ */

typedef struct seen {
    char order[256];
    int done_tables;
} seen;

static void on_progress(void *ctx, const char *table, uint64_t rows, int done)
{
    seen *s = ctx;
    (void)rows;
    if (done) {
        strncat(s->order, table, sizeof s->order - strlen(s->order) - 2);
        strcat(s->order, " ");
        s->done_tables++;
    }
}

static void test_copy_is_the_source(void **state)
{
    fixture *f = *state;
    seen s = {{0}, 0};
    cutoff_db_copy_options opt = {
        .public_key = cutoff_key_public(f->key), .progress = on_progress, .progress_ctx = &s};
    cutoff_db_copy_report r;
    cutoff_diag d;
    assert_int_equal(cutoff_db_copy(f->src, f->dst, &opt, &r, &d), 0);
    char *want = test_db_dump(f->src), *got = test_db_dump(f->dst);
    assert_non_null(want);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(want);
    free(got);
    assert_string_equal(s.order,
                        "catalogs nodes cases evidence actions notices audit heads changes ");
    /* catalog, import, case, 2 evidence, propose, approve, catalog, findings */
    assert_int_equal(r.catalogs, 2);
    assert_int_equal(r.nodes, 4);
    assert_int_equal(r.cases, 1);
    assert_int_equal(r.evidence, 2);
    assert_int_equal(r.evidence_content, 1);
    assert_int_equal(r.actions, 1);
    assert_int_equal(r.notices, 1);
    assert_int_equal(r.audit, 9);
    assert_int_equal(r.heads, 9);
    assert_int_equal(r.changes, 9);
    assert_int_equal(r.heads_report.heads, 9);
    assert_int_equal(strlen(r.audit_head), 64);

    /* The copy is a database like any other: it verifies by itself. */
    cutoff_db *db = NULL;
    cutoff_audit_signed_report rep;
    assert_int_equal(cutoff_db_open(f->dst, CUTOFF_DB_READ_ONLY, &db, &d), 0);
    assert_int_equal(cutoff_db_audit_verify_signed(db, cutoff_key_public(f->key), NULL, 0, &rep),
                     0);
    cutoff_db_close(db);
}

/* ---- refusals ------------------------------------------------------------ */

static void expect_refused(fixture *f, const cutoff_db_copy_options *opt, int code,
                           const char *says)
{
    cutoff_diag d;
    cutoff_db_copy_report r;
    int rc = cutoff_db_copy(f->src, f->dst, opt, &r, &d);
    if (rc != code)
        fail_msg("wanted %s, got %s: %s", cutoff_errname(code), cutoff_errname(rc), d.message);
    if (strstr(d.message, says) == NULL)
        fail_msg("wanted \"%s\" in: %s", says, d.message);
    assert_true(is_empty(f->dst));
}

static void test_refusals(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    cutoff_db_copy_report r;
    assert_int_equal(cutoff_db_copy(f->src, f->src, NULL, &r, &d), CUTOFF_EINVAL);
    assert_int_equal(cutoff_db_copy(NULL, f->dst, NULL, &r, &d), CUTOFF_EINVAL);
    assert_int_equal(cutoff_db_copy(f->src, "", NULL, &r, &d), CUTOFF_EINVAL);
    cutoff_db_copy_options bad_key = {.public_key = "ed25519:nope"};
    expect_refused(f, &bad_key, CUTOFF_EPARSE, "");
    /* Another key: the copy is made, checked, and rolled back. */
    cutoff_key *other = NULL;
    assert_int_equal(cutoff_key_generate(&other), 0);
    cutoff_db_copy_options wrong_key = {.public_key = cutoff_key_public(other)};
    expect_refused(f, &wrong_key, CUTOFF_ETAMPER, "signed heads of the copy do not verify");
    cutoff_key_free(other);

    /* A destination that is not empty is left as it was. */
    cutoff_db *db = NULL;
    assert_int_equal(cutoff_db_open(f->dst, CUTOFF_DB_CREATE, &db, &d), 0);
    cutoff_db_close(db);
    char *before = test_db_dump(f->dst);
    assert_int_equal(cutoff_db_copy(f->src, f->dst, NULL, &r, &d), CUTOFF_ESTATE);
    assert_non_null(strstr(d.message, "already holds a cutoff database"));
    char *after = test_db_dump(f->dst);
    assert_string_equal(after, before);
    free(before);
    free(after);
    test_db_remove(f->dst);

    /* A change log with a gap would be renumbered: refused. */
    exec_sql(f->src, "DROP TRIGGER changes_no_delete; DELETE FROM changes WHERE seq = 3");
    expect_refused(f, NULL, CUTOFF_ESTORE, "numbering has a gap");
    /* An edited record. */
    exec_sql(f->src, "DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'eve' WHERE seq = 2");
    expect_refused(f, NULL, CUTOFF_ETAMPER, "does not verify at record 2");
    /* An older schema. */
    exec_sql(f->src, "PRAGMA user_version = 2");
    expect_refused(f, NULL, CUTOFF_ESTATE, "schema version 2");
    test_db_remove(f->src);
    expect_refused(f, NULL, CUTOFF_ENOTINIT, "nothing to copy");
}

/* ---- allocation failures ------------------------------------------------- */

static void test_allocation_failures(void **state)
{
    fixture *f = *state;
    cutoff_db_copy_options opt = {.public_key = cutoff_key_public(f->key)};
    char *want = test_db_dump(f->src);
    long n;
    for (n = 0; n < 100000; n++) {
        cutoff_diag d;
        cutoff_db_copy_report r;
        long live = co__alloc_live();
        co__alloc_fail_after(n);
        int rc = cutoff_db_copy(f->src, f->dst, &opt, &r, &d);
        co__alloc_fail_stop();
        if (co__alloc_live() != live)
            fail_msg("failing allocation %ld leaked %ld allocations", n, co__alloc_live() - live);
        if (rc == 0)
            break;
        if (rc != CUTOFF_ENOMEM)
            fail_msg("failing allocation %ld gave %s: %s", n, cutoff_errname(rc), d.message);
        if (!is_empty(f->dst))
            fail_msg("failing allocation %ld left rows in the destination", n);
        test_db_remove(f->dst);
    }
    if (n == 100000 || n < 3)
        fail_msg("the sweep ended at allocation %ld", n);
    char *got = test_db_dump(f->dst);
    assert_string_equal(got, want);
    free(got);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_copy_is_the_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
