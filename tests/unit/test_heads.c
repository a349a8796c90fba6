/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_heads.c - signed audit heads (src/db/heads.c) through the library:
 * a handle with a key signs a head per change in the change's
 * transaction; verification with the public key alone passes, and fails
 * for another key, no head at all, a removed tail, removed heads (against
 * a published head and by the promised interval); explicit signing never
 * moves time back and IF_UNSIGNED writes nothing when the head is current;
 * a rotation hands over to the new key, after which the old one cannot
 * sign. Tampering is done directly in the database, as someone holding it
 * would: with the append-only triggers dropped (SQLite) or disabled
 * (PostgreSQL). With CUTOFF_TEST_PG set (tests/run.sh) it runs on
 * PostgreSQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cutoff.h"
#include "../support/dbfiles.h"

#define RECORDS 4

typedef struct fixture {
    char dir[64];
    char path[256]; /* the database's location */
    cutoff_db *db;
    cutoff_key *key;
} fixture;

static void exec_sql(const char *path, const char *sql)
{
    if (test_db_exec(path, sql) != 0)
        fail_msg("sql failed: %s", sql);
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* The rows of a table (the test dump does not hold the heads). */
static long count_rows(const char *path, const char *table)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    long n = (long)test_db_int(path, sql);
    assert_true(n >= 0);
    return n;
}

static void drop_triggers(const fixture *f)
{
    assert_int_equal(test_db_unguard(f->path, "audit"), 0);
    assert_int_equal(test_db_unguard(f->path, "heads"), 0);
}

static void append(const fixture *f, int i)
{
    char object[32];
    snprintf(object, sizeof object, "object-%d", i);
    assert_int_equal(cutoff_db_audit_append(f->db, "alice", "test.change", object, NULL), 0);
}

/* RECORDS changes made with a key: a head each. */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/cutoff-heads-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char file[128];
    snprintf(file, sizeof file, "%s/cutoff.db", f->dir);
    assert_non_null(test_db_location(file, f->path, sizeof f->path));
    assert_int_equal(cutoff_db_open(f->path, CUTOFF_DB_CREATE, &f->db, NULL), 0);
    assert_int_equal(cutoff_key_generate(&f->key), 0);
    cutoff_db_set_key(f->db, f->key);
    for (int i = 1; i <= RECORDS; i++)
        append(f, i);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cutoff_db_close(f->db);
    cutoff_key_free(f->key);
    test_db_remove(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static int verify(const fixture *f, const char *pub, const char *published, int64_t now,
                  cutoff_audit_signed_report *rep)
{
    return cutoff_db_audit_verify_signed(f->db, pub ? pub : cutoff_key_public(f->key), published,
                                         now, rep);
}

static void test_a_head_per_change(void **state)
{
    fixture *f = *state;
    cutoff_audit_signed_report rep;
    assert_int_equal(verify(f, NULL, NULL, now_s(), &rep), 0);
    assert_int_equal(rep.chain.records, RECORDS);
    assert_int_equal(rep.heads, RECORDS);
    assert_int_equal(rep.signed_seq, RECORDS);
    assert_int_equal(rep.unsigned_records, 0);
    assert_string_equal(rep.key, cutoff_key_public(f->key));

    /* A change without the key is only unsigned, not a failure. */
    cutoff_db_set_key(f->db, NULL);
    append(f, 9);
    assert_int_equal(verify(f, NULL, NULL, now_s(), &rep), 0);
    assert_int_equal(rep.unsigned_records, 1);
    assert_int_equal(rep.signed_seq, RECORDS);
}

static void test_published_head_round_trip(void **state)
{
    fixture *f = *state;
    cutoff_audit_signed_report rep;
    char *doc = NULL;
    assert_int_equal(cutoff_db_audit_head(f->db, &doc), 0);
    assert_non_null(strstr(doc, "\"statement\""));
    assert_non_null(strstr(doc, "cutoff-audit-head"));
    assert_int_equal(verify(f, NULL, doc, now_s(), &rep), 0);

    /* A published head whose statement was edited does not verify. */
    char *edited = strdup(doc);
    char *n = strstr(edited, "\\\"seq\\\":4");
    assert_non_null(n);
    n[strlen("\\\"seq\\\":")] = '3';
    assert_int_equal(verify(f, NULL, edited, now_s(), &rep), CUTOFF_ETAMPER);
    assert_non_null(strstr(rep.problem, "does not verify"));
    assert_int_equal(verify(f, NULL, "{\"x\":1}", now_s(), &rep), CUTOFF_EPARSE);
    assert_int_equal(verify(f, "ed25519:nope", NULL, now_s(), &rep), CUTOFF_EPARSE);

    /* Heads removed after it was published: the rollback shows. */
    drop_triggers(f);
    exec_sql(f->path, "DELETE FROM heads WHERE n >= 3");
    assert_int_equal(verify(f, NULL, NULL, now_s(), &rep), 0);
    assert_int_equal(rep.unsigned_records, 2);
    assert_int_equal(verify(f, NULL, doc, now_s(), &rep), CUTOFF_ETAMPER);
    assert_non_null(strstr(rep.problem, "older than the published head 4"));
    free(edited);
    cutoff_free(doc);
}

static void test_no_head_and_another_key(void **state)
{
    fixture *f = *state;
    cutoff_audit_signed_report rep;
    cutoff_key *other = NULL;
    assert_int_equal(cutoff_key_generate(&other), 0);
    assert_int_equal(verify(f, cutoff_key_public(other), NULL, now_s(), &rep), CUTOFF_ETAMPER);
    assert_int_equal(rep.bad_head, 1);
    assert_non_null(strstr(rep.problem, "not by the key in force"));
    /* The other key cannot sign on this log either. */
    assert_int_equal(cutoff_db_head_sign(f->db, other, now_s(), 0, 0), CUTOFF_EPERM);
    cutoff_key_free(other);

    drop_triggers(f);
    exec_sql(f->path, "DELETE FROM heads");
    assert_int_equal(verify(f, NULL, NULL, now_s(), &rep), CUTOFF_ETAMPER);
    assert_non_null(strstr(rep.problem, "no signed head"));
}

static void test_truncated_tail(void **state)
{
    fixture *f = *state;
    cutoff_audit_signed_report rep;
    drop_triggers(f);
    exec_sql(f->path, "DELETE FROM audit WHERE seq >= 3");
    assert_int_equal(verify(f, NULL, NULL, now_s(), &rep), CUTOFF_ETAMPER);
    assert_int_equal(rep.bad_head, 3);
    assert_int_equal(rep.bad_record, 3);
    assert_non_null(strstr(rep.problem, "records 3..3 were removed"));
}

static void test_explicit_signing_and_interval(void **state)
{
    fixture *f = *state;
    cutoff_audit_signed_report rep;
    assert_int_equal(count_rows(f->path, "heads"), RECORDS);
    assert_int_equal(cutoff_db_head_sign(f->db, f->key, now_s(), 10, CUTOFF_HEAD_IF_UNSIGNED), 0);
    assert_int_equal(count_rows(f->path, "heads"), RECORDS);
    assert_int_equal(cutoff_db_head_sign(f->db, f->key, 0, 0, 2), CUTOFF_EINVAL);
    assert_int_equal(cutoff_db_head_sign(f->db, NULL, 0, 0, 0), CUTOFF_EINVAL);

    /* A clock that went back signs at the newest head's time. */
    int64_t t = now_s() + 1000;
    assert_int_equal(cutoff_db_head_sign(f->db, f->key, t, 10, 0), 0);
    assert_int_equal(cutoff_db_head_sign(f->db, f->key, t - 500, 10, 0), 0);
    assert_int_equal(verify(f, NULL, NULL, t + 5, &rep), 0);
    assert_int_equal(rep.head_time, t);
    assert_int_equal(rep.heads, RECORDS + 2);
    /* Promised every 10 s: late after 2 * 10 + slack. */
    assert_int_equal(verify(f, NULL, NULL, t + 20 + CUTOFF_HEAD_SLACK_S, &rep), 0);
    assert_int_equal(verify(f, NULL, NULL, t + 21 + CUTOFF_HEAD_SLACK_S, &rep), CUTOFF_ETAMPER);
    assert_int_equal(rep.bad_head, RECORDS + 2);
    assert_non_null(strstr(rep.problem, "promised one every 10 s"));
}

static void test_rotation(void **state)
{
    fixture *f = *state;
    cutoff_audit_signed_report rep;
    cutoff_key *next = NULL;
    cutoff_diag diag = {0};
    assert_int_equal(cutoff_key_generate(&next), 0);
    assert_int_equal(cutoff_db_key_rotate(f->db, "alice", f->key, f->key, now_s(), &diag),
                     CUTOFF_EINVAL);
    assert_int_equal(cutoff_db_key_rotate(f->db, "alice", next, f->key, now_s(), &diag),
                     CUTOFF_EPERM);
    assert_int_equal(cutoff_db_key_rotate(f->db, "alice", f->key, next, now_s(), &diag), 0);
    /* The old key no longer signs: the change is refused and not made. */
    char *before = test_db_dump(f->path);
    assert_int_equal(cutoff_db_audit_append(f->db, "alice", "test.change", "late", NULL),
                     CUTOFF_EPERM);
    char *after = test_db_dump(f->path);
    assert_string_equal(before, after);
    assert_int_equal(count_rows(f->path, "heads"), RECORDS + 1);
    cutoff_db_set_key(f->db, next);
    append(f, 10);
    assert_int_equal(verify(f, NULL, NULL, now_s(), &rep), 0);
    assert_int_equal(rep.rotations, 1);
    assert_string_equal(rep.key, cutoff_key_public(next));
    assert_int_equal(rep.chain.records, RECORDS + 2);
    /* Starting from the new key, the heads before the rotation are refused. */
    assert_int_equal(verify(f, cutoff_key_public(next), NULL, now_s(), &rep), CUTOFF_ETAMPER);
    /* Callers cannot append a rotation of their own. */
    assert_int_equal(cutoff_db_audit_append(f->db, "alice", "key.rotate", "signing-key", NULL),
                     CUTOFF_EINVAL);
    free(before);
    free(after);
    cutoff_db_set_key(f->db, f->key);
    cutoff_key_free(next);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_head_per_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_published_head_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_head_and_another_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_explicit_signing_and_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
    };
    return cmocka_run_group_tests_name("heads", tests, NULL, NULL);
}
