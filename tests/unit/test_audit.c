/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit.c - the audit log's hash chain. The record hash is checked
 * against an encoding built here independently; then a log is written
 * through the library and tampered with directly in the database, the way
 * someone holding it would (its append-only triggers dropped on SQLite,
 * disabled on PostgreSQL): an edited field, a deleted record (with and
 * without renumbering), an inserted one (lazily and carefully forged), two
 * records swapped, the first record gone. Verify must name the first bad
 * seq and say what is wrong. Deleting the tail cannot be seen in the chain
 * alone; the test shows the head hash moves back, which is what anchoring
 * the head outside the database catches. With CUTOFF_TEST_PG set
 * (tests/run.sh) it runs on PostgreSQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cutoff.h"
#include "../support/dbfiles.h"
#include "util/util.h"

#define RECORDS 6

typedef struct fixture {
    char dir[64];
    char path[256]; /* the database's location */
    cutoff_db *db;
    char hashes[RECORDS + 1][65]; /* hashes[seq] as first written */
} fixture;

static void exec_sql(const char *path, const char *sql)
{
    if (test_db_exec(path, sql) != 0)
        fail_msg("sql failed: %s", sql);
}

/* A log of RECORDS records written through the library, and the hashes as
 * the library listed them. */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/cutoff-audit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char file[128];
    snprintf(file, sizeof file, "%s/cutoff.db", f->dir);
    assert_non_null(test_db_location(file, f->path, sizeof f->path));
    assert_int_equal(cutoff_db_open(f->path, CUTOFF_DB_CREATE, &f->db, NULL), 0);
    for (int i = 1; i <= RECORDS; i++) {
        char object[32], payload[64];
        snprintf(object, sizeof object, "object-%d", i);
        snprintf(payload, sizeof payload, "{\"n\":%d,\"text\":\"r\\u00e9cord\"}", i);
        assert_int_equal(
            cutoff_db_audit_append(f->db, i % 2 ? "alice" : "bob", "test.write", object, payload),
            0);
    }
    char *text = NULL;
    assert_int_equal(cutoff_db_audit_list(f->db, 0, 0, &text), 0);
    json_t *list = json_loads(text, 0, NULL);
    cutoff_free(text);
    assert_int_equal(json_array_size(list), RECORDS);
    for (size_t i = 0; i < RECORDS; i++) {
        json_t *r = json_array_get(list, i);
        snprintf(f->hashes[i + 1], 65, "%s", json_string_value(json_object_get(r, "hash")));
    }
    json_decref(list);
    /* the tampering below goes around the append-only triggers, as an
     * attacker holding the database would */
    assert_int_equal(test_db_unguard(f->path, "audit"), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cutoff_db_close(f->db);
    test_db_remove(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void expect_tamper(fixture *f, uint64_t first_bad, const char *problem, uint64_t good)
{
    cutoff_audit_report rep;
    int rc = cutoff_db_audit_verify(f->db, &rep);
    if (rc != CUTOFF_ETAMPER)
        fail_msg("verify gave %s, wanted ETAMPER", cutoff_errname(rc));
    if (rep.first_bad != first_bad)
        fail_msg("first bad %llu, wanted %llu (%s)", (unsigned long long)rep.first_bad,
                 (unsigned long long)first_bad, rep.problem);
    if (strstr(rep.problem, problem) == NULL)
        fail_msg("problem \"%s\" lacks \"%s\"", rep.problem, problem);
    assert_int_equal(rep.records, good);
    if (good > 0 && good <= RECORDS)
        assert_string_equal(rep.head_hex, f->hashes[good]);
}

/* ---- the hash ----------------------------------------------------------- */

static void put_u64(unsigned char *b, size_t *o, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        b[(*o)++] = (unsigned char)(v >> (8 * i));
}

static void put_str(unsigned char *b, size_t *o, const char *s)
{
    put_u64(b, o, strlen(s));
    memcpy(b + *o, s, strlen(s));
    *o += strlen(s);
}

/* The documented encoding, built as one buffer and hashed in one call. */
static void reference_hash(const char *prev_hex, uint64_t seq, int64_t time, const char *actor,
                           const char *verb, const char *object, const char *payload, char out[65])
{
    unsigned char buf[1024], digest[32];
    size_t o = 0, bin_len;
    memcpy(buf, "cutoff-audit-v1", 16); /* with its NUL */
    o = 16;
    assert_int_equal(sodium_hex2bin(buf + o, 32, prev_hex, 64, NULL, &bin_len, NULL), 0);
    o += 32;
    put_u64(buf, &o, seq);
    put_u64(buf, &o, (uint64_t)time);
    put_str(buf, &o, actor);
    put_str(buf, &o, verb);
    put_str(buf, &o, object);
    put_str(buf, &o, payload);
    crypto_hash_sha256(digest, buf, o);
    sodium_bin2hex(out, 65, digest, 32);
}

static void test_hash_encoding(void **state)
{
    (void)state;
    char got[65], want[65];
    const char *prev = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    assert_int_equal(co__audit_hash(prev, 7, 1758801600, "alice", "action.approve", "EA-1",
                                    "{\"version\":2}", got),
                     0);
    reference_hash(prev, 7, 1758801600, "alice", "action.approve", "EA-1", "{\"version\":2}", want);
    assert_string_equal(got, want);

    /* every field counts, and moving bytes between fields changes it */
    char other[65];
    assert_int_equal(co__audit_hash(prev, 8, 1758801600, "alice", "action.approve", "EA-1",
                                    "{\"version\":2}", other),
                     0);
    assert_string_not_equal(got, other);
    assert_int_equal(co__audit_hash(prev, 7, 1758801600, "alic", "eaction.approve", "EA-1",
                                    "{\"version\":2}", other),
                     0);
    assert_string_not_equal(got, other);
    assert_int_equal(
        co__audit_hash(prev, 7, -1, "alice", "action.approve", "EA-1", "{\"version\":2}", other),
        0);
    reference_hash(prev, 7, -1, "alice", "action.approve", "EA-1", "{\"version\":2}", want);
    assert_string_equal(other, want);

    assert_int_equal(co__audit_hash("zz", 1, 0, "a", "b", "c", "{}", got), CUTOFF_EINVAL);
    assert_int_equal(co__audit_hash(NULL, 1, 0, "a", "b", "c", "{}", got), CUTOFF_EINVAL);
}

/* ---- the chain as written ---------------------------------------------- */

static void test_chain_verifies(void **state)
{
    fixture *f = *state;
    cutoff_audit_report rep;
    assert_int_equal(cutoff_db_audit_verify(f->db, &rep), 0);
    assert_int_equal(rep.records, RECORDS);
    assert_int_equal(rep.first_bad, 0);
    assert_string_equal(rep.head_hex, f->hashes[RECORDS]);

    /* record 1 starts from 64 zeros and each links to the one before */
    char *text = NULL;
    assert_int_equal(cutoff_db_audit_list(f->db, 0, 0, &text), 0);
    json_t *list = json_loads(text, 0, NULL);
    cutoff_free(text);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "prev_hash")),
                        co__audit_genesis);
    for (size_t i = 1; i < RECORDS; i++)
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(list, i), "prev_hash")), f->hashes[i]);
    json_decref(list);
}

static void test_empty_log_verifies(void **state)
{
    fixture *f = *state;
    exec_sql(f->path, "DELETE FROM audit");
    cutoff_audit_report rep;
    assert_int_equal(cutoff_db_audit_verify(f->db, &rep), 0);
    assert_int_equal(rep.records, 0);
    assert_string_equal(rep.head_hex, "");
}

static void test_append_only_triggers(void **state)
{
    (void)state;
    char dir[] = "/tmp/cutoff-audit-trig-XXXXXX", file[128], path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/t.db", dir);
    assert_non_null(test_db_location(file, path, sizeof path));
    cutoff_db *db = NULL;
    assert_int_equal(cutoff_db_open(path, CUTOFF_DB_CREATE, &db, NULL), 0);
    assert_int_equal(cutoff_db_audit_append(db, "alice", "test.write", "x", "{}"), 0);
    assert_int_not_equal(test_db_exec(path, "UPDATE audit SET actor = 'eve'"), 0);
    assert_int_not_equal(test_db_exec(path, "DELETE FROM audit"), 0);
    if (test_db_on_pg()) /* TRUNCATE skips row triggers: it has its own */
        assert_int_not_equal(test_db_exec(path, "TRUNCATE audit"), 0);
    assert_int_equal(test_db_int(path, "SELECT count(*) FROM audit WHERE actor = 'alice'"), 1);
    cutoff_audit_report rep;
    assert_int_equal(cutoff_db_audit_verify(db, &rep), 0);
    cutoff_db_close(db);
    test_db_remove(path);
    rmdir(dir);
}

/* ---- tampering ---------------------------------------------------------- */

static void test_edit_detected(void **state)
{
    fixture *f = *state;
    exec_sql(f->path, "UPDATE audit SET actor = 'mallory' WHERE seq = 3");
    expect_tamper(f, 3, "hash mismatch", 2);
}

static void test_payload_edit_detected(void **state)
{
    fixture *f = *state;
    exec_sql(f->path, "UPDATE audit SET payload = '{\"n\":50}' WHERE seq = 5");
    expect_tamper(f, 5, "hash mismatch", 4);
}

static void test_time_edit_detected(void **state)
{
    fixture *f = *state;
    exec_sql(f->path, "UPDATE audit SET time = time - 86400 WHERE seq = 1");
    expect_tamper(f, 1, "hash mismatch", 0);
}

static void test_delete_detected(void **state)
{
    fixture *f = *state;
    exec_sql(f->path, "DELETE FROM audit WHERE seq = 3");
    expect_tamper(f, 3, "seq gap", 2);
}

static void test_delete_and_renumber_detected(void **state)
{
    fixture *f = *state;
    exec_sql(f->path, "DELETE FROM audit WHERE seq = 3;"
                      "UPDATE audit SET seq = -seq WHERE seq > 3;"
                      "UPDATE audit SET seq = -seq - 1 WHERE seq < 0;");
    expect_tamper(f, 3, "broken link", 2);
}

static void test_first_record_deleted(void **state)
{
    fixture *f = *state;
    exec_sql(f->path, "DELETE FROM audit WHERE seq = 1");
    expect_tamper(f, 1, "record 1 is missing", 0);
}

/* Room for one record at seq 3: the later ones move up by one. */
static void make_room_at_3(fixture *f)
{
    exec_sql(f->path, "UPDATE audit SET seq = -seq WHERE seq >= 3;"
                      "UPDATE audit SET seq = -seq + 1 WHERE seq < 0;");
}

static void test_lazy_insert_detected(void **state)
{
    fixture *f = *state;
    make_room_at_3(f);
    char sql[512];
    snprintf(
        sql, sizeof sql,
        "INSERT INTO audit VALUES (3, 1758801600, 'eve', 'action.lift', 'EA-1', '{}', '%s', '%s')",
        f->hashes[2], f->hashes[2]);
    exec_sql(f->path, sql);
    expect_tamper(f, 3, "hash mismatch", 2);
}

static void test_forged_insert_detected(void **state)
{
    fixture *f = *state;
    make_room_at_3(f);
    /* a correctly chained forgery: only the record after it gives it away */
    char hash[65], sql[512];
    assert_int_equal(
        co__audit_hash(f->hashes[2], 3, 1758801600, "eve", "action.lift", "EA-1", "{}", hash), 0);
    snprintf(
        sql, sizeof sql,
        "INSERT INTO audit VALUES (3, 1758801600, 'eve', 'action.lift', 'EA-1', '{}', '%s', '%s')",
        f->hashes[2], hash);
    exec_sql(f->path, sql);
    cutoff_audit_report rep;
    assert_int_equal(cutoff_db_audit_verify(f->db, &rep), CUTOFF_ETAMPER);
    assert_int_equal(rep.first_bad, 4);
    assert_non_null(strstr(rep.problem, "broken link"));
    assert_int_equal(rep.records, 3);
    assert_string_equal(rep.head_hex, hash);
}

static void test_swap_contents_detected(void **state)
{
    fixture *f = *state;
    /* records 2 and 3 trade places, each keeping its own fields and hashes */
    exec_sql(f->path, "UPDATE audit SET seq = 100 WHERE seq = 2;"
                      "UPDATE audit SET seq = 2 WHERE seq = 3;"
                      "UPDATE audit SET seq = 3 WHERE seq = 100;");
    expect_tamper(f, 2, "broken link", 1);
}

static void test_swap_fields_detected(void **state)
{
    fixture *f = *state;
    /* the rows stay, their contents trade places */
    exec_sql(f->path, "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN (4, 5);"
                      "UPDATE audit SET (time, actor, verb, object, payload, prev_hash, hash) ="
                      " (SELECT time, actor, verb, object, payload, prev_hash, hash FROM t WHERE "
                      "t.seq = 9 - audit.seq)"
                      " WHERE seq IN (4, 5);");
    expect_tamper(f, 4, "broken link", 3);
}

static void test_tail_deletion_moves_head(void **state)
{
    fixture *f = *state;
    exec_sql(f->path, "DELETE FROM audit WHERE seq = 6");
    cutoff_audit_report rep;
    /* the chain alone still verifies ... */
    assert_int_equal(cutoff_db_audit_verify(f->db, &rep), 0);
    assert_int_equal(rep.records, RECORDS - 1);
    /* ... but the head an auditor anchored is gone */
    assert_string_not_equal(rep.head_hex, f->hashes[RECORDS]);
    assert_string_equal(rep.head_hex, f->hashes[RECORDS - 1]);
}

static void test_append_after_verified_log(void **state)
{
    fixture *f = *state;
    assert_int_equal(cutoff_db_audit_append(f->db, "carol", "test.write", "object-7", "[1,2]"), 0);
    cutoff_audit_report rep;
    assert_int_equal(cutoff_db_audit_verify(f->db, &rep), 0);
    assert_int_equal(rep.records, RECORDS + 1);
    char want[65];
    /* the time is the wall clock: hash with the stored one */
    char *text = NULL;
    assert_int_equal(cutoff_db_audit_list(f->db, RECORDS, 0, &text), 0);
    json_t *list = json_loads(text, 0, NULL);
    cutoff_free(text);
    int64_t t = 0;
    assert_int_equal(
        cutoff_time_parse(json_string_value(json_object_get(json_array_get(list, 0), "time")), &t,
                          NULL),
        0);
    reference_hash(f->hashes[RECORDS], RECORDS + 1, t, "carol", "test.write", "object-7", "[1,2]",
                   want);
    assert_string_equal(rep.head_hex, want);
    json_decref(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_encoding),
        cmocka_unit_test(test_append_only_triggers),
        cmocka_unit_test_setup_teardown(test_chain_verifies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_log_verifies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payload_edit_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_edit_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_and_renumber_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_record_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_insert_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_insert_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swap_contents_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swap_fields_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail_deletion_moves_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_after_verified_log, setup, teardown),
    };
    return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
