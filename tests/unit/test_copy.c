/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_copy.c - copying a whole database (cutoff_db_copy): the copy holds
 * every row of every table (compared as a full dump), the report counts
 * them and progress names every table in order; the signed heads verify
 * with the key; refusals (same database, a destination that is not empty,
 * an older schema, a chain that does not verify, a numbering gap in the
 * source, a public key that fails) leave the destination empty; and with
 * every allocation from the n-th on failing, each failure is
 * CUTOFF_ENOMEM, leaves the destination empty and leaks nothing. With
 * CUTOFF_TEST_PG set (tests/run.sh) source and destination are databases
 * on PostgreSQL, and copies across the stores (PostgreSQL to SQLite and
 * back, SQLite to PostgreSQL and back) must give back the source.
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
    char src[256], dst[256], evidence[160]; /* src, dst: database locations */
    cutoff_key *key;
    long live_before;
} fixture;

static void exec_sql(const char *path, const char *sql)
{
    if (test_db_exec(path, sql) != 0)
        fail_msg("sql failed: %s", sql);
}

/* Whether a database location holds nothing: missing, or no schema. */
static bool is_empty(const char *path)
{
    int64_t objects = test_db_objects(path);
    assert_true(objects >= 0);
    return objects == 0;
}

/* A new, empty location for `name` in f->dir: a file name, or on
 * PostgreSQL a new database. */
static void new_location(fixture *f, const char *name, char *out, size_t size)
{
    char file[160];
    snprintf(file, sizeof file, "%s/%s", f->dir, name);
    assert_non_null(test_db_location(file, out, size));
}

/* A source at `location` with something in every table, signed with f->key. */
static void make_source(fixture *f, const char *location)
{
    cutoff_diag d;
    cutoff_db *db = NULL;
    cutoff_import_stats stats;
    char id[CUTOFF_ID_MAX + 1], sha[65];
    const char *scope[] = {"unit-8200"};
    assert_int_equal(cutoff_db_open(location, CUTOFF_DB_CREATE, &db, &d), 0);
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
    new_location(f, "src.db", f->src, sizeof f->src);
    new_location(f, "dst.db", f->dst, sizeof f->dst);
    snprintf(f->evidence, sizeof f->evidence, "%s/evidence.csv", f->dir);
    FILE *e = fopen(f->evidence, "w");
    assert_non_null(e);
    fputs("subscription,bytes\nsub-a,1024\n", e);
    fclose(e);
    assert_int_equal(cutoff_key_generate(&f->key), 0);
    make_source(f, f->src);
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
    new_location(f, "dst.db", f->dst, sizeof f->dst);

    /* A change log with a gap would be renumbered: refused. */
    assert_int_equal(test_db_unguard(f->src, "changes"), 0);
    exec_sql(f->src, "DELETE FROM changes WHERE seq = 3");
    expect_refused(f, NULL, CUTOFF_ESTORE, "numbering has a gap");
    /* An edited record. */
    assert_int_equal(test_db_unguard(f->src, "audit"), 0);
    exec_sql(f->src, "UPDATE audit SET actor = 'eve' WHERE seq = 2");
    expect_refused(f, NULL, CUTOFF_ETAMPER, "does not verify at record 2");
    /* An older schema. */
    assert_int_equal(test_db_set_schema_version(f->src, 2), 0);
    expect_refused(f, NULL, CUTOFF_ESTATE, "schema version 2");
    /* Nothing there: no file, or an empty database. */
    test_db_remove(f->src);
    if (test_db_on_pg())
        new_location(f, "src.db", f->src, sizeof f->src);
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
        /* an empty database on the server takes the next try as it is */
        if (!test_db_on_pg())
            test_db_remove(f->dst);
    }
    if (n == 100000 || n < 3)
        fail_msg("the sweep ended at allocation %ld", n);
    char *got = test_db_dump(f->dst);
    assert_string_equal(got, want);
    free(got);
    free(want);
}

/* ---- across the stores --------------------------------------------------- */

/* Copies from, to `via`, and back to `back` (all empty but from); the
 * round trip must give back from's every row. */
static void round_trip(fixture *f, const char *from, const char *via, const char *back)
{
    cutoff_db_copy_options opt = {.public_key = cutoff_key_public(f->key)};
    cutoff_db_copy_report there, again;
    cutoff_diag d;
    if (cutoff_db_copy(from, via, &opt, &there, &d) != 0)
        fail_msg("copy to %s: %s", via, d.message);
    if (cutoff_db_copy(via, back, &opt, &again, &d) != 0)
        fail_msg("copy back from %s: %s", via, d.message);
    char *want = test_db_dump(from), *got = test_db_dump(back);
    assert_non_null(want);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(want);
    free(got);
    /* the same rows went both ways, the evidence content included */
    assert_int_equal(there.nodes, 4);
    assert_int_equal(again.nodes, there.nodes);
    assert_int_equal(there.evidence_content, 1);
    assert_int_equal(again.evidence_content, 1);
    assert_int_equal(there.audit, 9);
    assert_int_equal(again.audit, there.audit);
    assert_int_equal(again.heads, there.heads);
    assert_int_equal(again.changes, there.changes);
    assert_string_equal(again.audit_head, there.audit_head);
}

static void test_across_stores(void **state)
{
    fixture *f = *state;
    if (!test_db_on_pg())
        skip(); /* needs the PostgreSQL server of CUTOFF_TEST_PG */
    char file[160], file_back[160], sqlite_src[160], pg_back[256];
    /* PostgreSQL to SQLite and back */
    snprintf(file, sizeof file, "%s/via.db", f->dir);
    new_location(f, "back.db", pg_back, sizeof pg_back);
    round_trip(f, f->src, file, pg_back);
    test_db_remove(pg_back);
    /* SQLite to PostgreSQL and back */
    snprintf(sqlite_src, sizeof sqlite_src, "%s/sqlite-src.db", f->dir);
    snprintf(file_back, sizeof file_back, "%s/back.db", f->dir);
    make_source(f, sqlite_src);
    round_trip(f, sqlite_src, f->dst, file_back);
    test_db_remove(file);
    test_db_remove(sqlite_src);
    test_db_remove(file_back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_copy_is_the_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_across_stores, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
