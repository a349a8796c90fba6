/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_notices.c - the notices to the customer: issued on approval, on a
 * new version, on a lift and when the case closes, with the right content
 * and the audit record of the change; none for a withdrawn draft; stored
 * unsigned without a key and signed later; and verification that refuses
 * a changed byte, a removed member, another key and a signature moved from
 * another notice, each with its own code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cutoff.h"
#include "../support/dbfiles.h"

#define T0 INT64_C(1758801600) /* 2025-09-25T12:00:00Z */
#define DAY INT64_C(86400)

static const char CATALOG[] =
    "{\"services\":["
    "{\"name\":\"storage\",\"actions\":[{\"name\":\"read\",\"class\":\"read\"},"
    "{\"name\":\"write\",\"class\":\"write\"}]},"
    "{\"name\":\"security\",\"actions\":[{\"name\":\"scan\",\"class\":\"read\"}]}],"
    "\"regions\":[\"eu-netherlands\"],\"plans\":[]}";

static const char WORLD[] =
    "{\"id\":\"mod\",\"kind\":\"tenant\",\"parent\":null}\n"
    "{\"id\":\"unit-8200\",\"kind\":\"unit\",\"parent\":\"mod\"}\n"
    "{\"id\":\"sub-a\",\"kind\":\"subscription\",\"parent\":\"unit-8200\"}\n"
    "{\"id\":\"sub-x\",\"kind\":\"subscription\",\"parent\":\"mod\"}\n";

static const char ACTION[] =
    "{\"id\":\"EA-1\",\"case\":\"CASE-1\",\"scope\":[\"unit-8200\"],\"deny\":[\"storage.*\"],"
    "\"except\":[\"security.*\"],"
    "\"phases\":[{\"at\":\"+0\",\"mode\":\"read-only\"},{\"at\":\"+30d\",\"mode\":\"suspend\"}],"
    "\"status\":451,\"notice\":{\"summary\":\"Storage stopped\",\"contact\":\"t@example.com\"}}";

typedef struct fixture {
    char dir[64], path[256]; /* path: the database's location */
    cutoff_db *db;
    cutoff_key *key, *other;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/cutoff-notices-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char file[128];
    snprintf(file, sizeof file, "%s/cutoff.db", f->dir);
    assert_non_null(test_db_location(file, f->path, sizeof f->path));
    cutoff_diag d;
    assert_int_equal(cutoff_db_open(f->path, CUTOFF_DB_CREATE, &f->db, &d), 0);
    assert_int_equal(cutoff_key_generate(&f->key), 0);
    assert_int_equal(cutoff_key_generate(&f->other), 0);
    assert_int_equal(cutoff_db_catalog_load(f->db, "alice", CATALOG, strlen(CATALOG), &d), 0);
    FILE *in = tmpfile();
    assert_non_null(in);
    fputs(WORLD, in);
    rewind(in);
    cutoff_import_stats st;
    assert_int_equal(cutoff_db_nodes_import(f->db, "alice", in, "w", NULL, NULL, &st, &d), 0);
    fclose(in);
    const char *scope[] = {"unit-8200"};
    char id[CUTOFF_ID_MAX + 1];
    assert_int_equal(cutoff_db_case_open(f->db, "alice", "CASE-1", "review", scope, 1, id, &d), 0);
    int version;
    assert_int_equal(
        cutoff_db_action_propose(f->db, "alice", ACTION, strlen(ACTION), id, &version, &d), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cutoff_db_close(f->db);
    cutoff_key_free(f->key);
    cutoff_key_free(f->other);
    test_db_remove(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Notice version n of EA-1 (0: latest) as the signed document text. */
static char *notice(fixture *f, uint64_t n)
{
    char *text = NULL;
    assert_int_equal(cutoff_db_notice_get(f->db, "EA-1", n, &text), 0);
    return text;
}

static json_t *member(const char *doc, const char *key)
{
    json_t *d = json_loads(doc, 0, NULL);
    assert_non_null(d);
    json_t *v = json_incref(json_object_get(json_object_get(d, "notice"), key));
    json_decref(d);
    return v;
}

static json_int_t int_member(const char *doc, const char *key)
{
    json_t *v = member(doc, key);
    json_int_t i = json_integer_value(v);
    json_decref(v);
    return i;
}

static void assert_str_member(const char *doc, const char *key, const char *want)
{
    json_t *v = member(doc, key);
    if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
        fail_msg("notice.%s: wanted \"%s\" in %s", key, want, doc);
    json_decref(v);
}

/* The audit record the notice names is the last one of the change. */
static void assert_names_record(fixture *f, const char *doc, const char *verb)
{
    json_t *audit = member(doc, "audit");
    char *log = NULL;
    assert_int_equal(cutoff_db_audit_list(f->db, 0, 0, &log), 0);
    json_t *records = json_loads(log, 0, NULL);
    cutoff_free(log);
    json_int_t seq = json_integer_value(json_object_get(audit, "seq"));
    json_t *rec = json_array_get(records, (size_t)seq - 1);
    assert_non_null(rec);
    assert_string_equal(json_string_value(json_object_get(rec, "verb")), verb);
    assert_string_equal(json_string_value(json_object_get(rec, "hash")),
                        json_string_value(json_object_get(audit, "hash")));
    json_decref(records);
    json_decref(audit);
}

static int verify(const char *doc, const cutoff_key *key, cutoff_diag *d)
{
    return cutoff_notice_verify(doc, strlen(doc), cutoff_key_public(key), d);
}

static void test_issued_on_each_change(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    char *text = NULL;
    assert_int_equal(cutoff_db_notice_get(f->db, "EA-1", 0, &text), CUTOFF_ENOTFOUND);
    cutoff_db_set_key(f->db, f->key);

    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-1", T0, &d), 0);
    char *v1 = notice(f, 0);
    assert_int_equal(verify(v1, f->key, &d), 0);
    assert_int_equal(int_member(v1, "notice_version"), 1);
    assert_int_equal(int_member(v1, "action_version"), 1);
    assert_int_equal(int_member(v1, "status"), 451);
    assert_str_member(v1, "issued_for", "activated");
    assert_str_member(v1, "state", "active");
    assert_str_member(v1, "activated_at", "2025-09-25T12:00:00Z");
    assert_str_member(v1, "summary", "Storage stopped");
    assert_names_record(f, v1, "action.approve");
    /* Relative phases resolved against the approval. */
    json_t *phases = member(v1, "phases");
    assert_string_equal(json_string_value(json_object_get(json_array_get(phases, 0), "until")),
                        "2025-10-25T12:00:00Z");
    assert_true(json_is_null(json_object_get(json_array_get(phases, 1), "until")));
    json_decref(phases);
    /* The case by id and state only: never its title or evidence. */
    json_t *kase = member(v1, "case");
    assert_int_equal(json_object_size(kase), 2);
    assert_true(json_is_true(json_object_get(kase, "open")));
    json_decref(kase);
    assert_null(strstr(v1, "review"));

    /* A new version. */
    int version;
    char id[CUTOFF_ID_MAX + 1];
    assert_int_equal(
        cutoff_db_action_propose(f->db, "alice", ACTION, strlen(ACTION), id, &version, &d), 0);
    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-1", T0 + DAY, &d), 0);
    char *v2 = notice(f, 0);
    assert_int_equal(int_member(v2, "notice_version"), 2);
    assert_int_equal(int_member(v2, "action_version"), 2);
    assert_str_member(v2, "issued_for", "new_version");

    /* The lift. */
    assert_int_equal(cutoff_db_action_lift(f->db, "bob", "EA-1", T0 + 2 * DAY, "done", &d), 0);
    char *v3 = notice(f, 0);
    assert_str_member(v3, "issued_for", "lifted");
    assert_str_member(v3, "state", "lifted");
    assert_str_member(v3, "lifted_at", "2025-09-27T12:00:00Z");
    assert_names_record(f, v3, "action.lift");

    /* The case closes: the review is over. */
    assert_int_equal(cutoff_db_case_close(f->db, "alice", "CASE-1", &d), 0);
    char *v4 = notice(f, 0);
    assert_str_member(v4, "issued_for", "case_closed");
    json_t *closed = member(v4, "case");
    assert_true(json_is_false(json_object_get(closed, "open")));
    json_decref(closed);
    assert_names_record(f, v4, "case.close");
    assert_int_equal(verify(v4, f->key, &d), 0);

    /* Older versions stay as they were issued. */
    char *again = notice(f, 1);
    assert_string_equal(again, v1);
    assert_int_equal(cutoff_db_notice_get(f->db, "EA-1", 5, &text), CUTOFF_ENOTFOUND);
    assert_int_equal(cutoff_db_notice_get(f->db, "bad id", 0, &text), CUTOFF_EINVAL);

    /* The letter. */
    char *letter = NULL;
    assert_int_equal(cutoff_notice_text(v1, strlen(v1), &letter, &d), 0);
    assert_non_null(strstr(letter, "NOTICE OF ENFORCEMENT ACTION EA-1"));
    assert_non_null(strstr(letter, "security.*"));
    assert_non_null(strstr(letter, "export until 2025-10-25T12:00:00Z"));
    assert_non_null(strstr(letter, cutoff_key_public(f->key)));
    cutoff_free(letter);
    cutoff_free(v1);
    cutoff_free(v2);
    cutoff_free(v3);
    cutoff_free(v4);
    cutoff_free(again);
}

static void test_no_notice_for_withdrawn_draft(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    char *text = NULL;
    assert_int_equal(cutoff_db_action_lift(f->db, "bob", "EA-1", T0, NULL, &d), 0);
    assert_int_equal(cutoff_db_case_close(f->db, "alice", "CASE-1", &d), 0);
    assert_int_equal(cutoff_db_notice_get(f->db, "EA-1", 0, &text), CUTOFF_ENOTFOUND);
}

static void test_unsigned_then_signed(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    size_t n = 99;
    assert_int_equal(cutoff_db_notices_sign(f->db, &n, &d), CUTOFF_EINVAL); /* no key */
    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-1", T0, &d), 0);
    char *before = notice(f, 0);
    json_t *doc = json_loads(before, 0, NULL);
    assert_true(json_is_null(json_object_get(doc, "signature")));
    json_decref(doc);
    assert_int_equal(verify(before, f->key, &d), CUTOFF_ETAMPER);
    assert_non_null(strstr(d.message, "not signed"));

    cutoff_db_set_key(f->db, f->key);
    assert_int_equal(cutoff_db_notices_sign(f->db, &n, &d), 0);
    assert_int_equal(n, 1);
    char *after = notice(f, 0);
    assert_int_equal(verify(after, f->key, &d), 0);
    /* The notice itself did not change: only its signature was added. */
    json_t *b = member(before, "audit"), *a = member(after, "audit");
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    /* Nothing left to sign; a signed notice is never signed again. */
    cutoff_db_set_key(f->db, f->other);
    assert_int_equal(cutoff_db_notices_sign(f->db, &n, &d), 0);
    assert_int_equal(n, 0);
    char *still = notice(f, 0);
    assert_string_equal(still, after);
    cutoff_free(before);
    cutoff_free(after);
    cutoff_free(still);
}

/* Replaces the first occurrence of from with to (same length) in a copy. */
static char *replaced(const char *doc, const char *from, const char *to)
{
    char *copy = strdup(doc), *at = strstr(copy, from);
    assert_non_null(at);
    assert_int_equal(strlen(from), strlen(to));
    memcpy(at, to, strlen(to));
    return copy;
}

static void test_tampering_refused(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    cutoff_db_set_key(f->db, f->key);
    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-1", T0, &d), 0);
    assert_int_equal(cutoff_db_case_close(f->db, "alice", "CASE-1", &d), 0);
    char *v1 = notice(f, 1), *v2 = notice(f, 2);
    assert_int_equal(verify(v1, f->key, &d), 0);

    /* One byte of a value. */
    char *flipped = replaced(v1, "\"status\": 451", "\"status\": 450");
    assert_int_equal(verify(flipped, f->key, &d), CUTOFF_ETAMPER);
    free(flipped);
    flipped = replaced(v1, "Storage stopped", "Storage Stopped");
    assert_int_equal(verify(flipped, f->key, &d), CUTOFF_ETAMPER);
    free(flipped);

    /* A removed member is refused before the signature is looked at. */
    json_t *doc = json_loads(v1, 0, NULL);
    json_object_del(json_object_get(doc, "notice"), "except");
    char *removed = json_dumps(doc, 0);
    assert_int_equal(verify(removed, f->key, &d), CUTOFF_EPARSE);
    assert_non_null(strstr(d.message, "notice.except"));
    free(removed);
    /* A member of the wrong type, too. */
    json_object_set_new(json_object_get(doc, "notice"), "except", json_string("security.*"));
    char *retyped = json_dumps(doc, 0);
    assert_int_equal(verify(retyped, f->key, &d), CUTOFF_EPARSE);
    free(retyped);
    json_decref(doc);

    /* Another key. */
    assert_int_equal(verify(v1, f->other, &d), CUTOFF_ETAMPER);
    assert_non_null(strstr(d.message, "another key"));

    /* A signature moved from notice 2 onto notice 1. */
    json_t *one = json_loads(v1, 0, NULL), *two = json_loads(v2, 0, NULL);
    json_object_set(one, "signature", json_object_get(two, "signature"));
    char *moved = json_dumps(one, 0);
    assert_int_equal(verify(moved, f->key, &d), CUTOFF_ETAMPER);
    free(moved);
    json_decref(one);
    json_decref(two);

    /* Key order and spacing do not matter: the canonical text does. */
    json_t *again = json_loads(v1, 0, NULL);
    char *compact = json_dumps(again, JSON_COMPACT);
    assert_int_equal(verify(compact, f->key, &d), 0);
    free(compact);
    json_decref(again);

    /* Not a notice at all. */
    assert_int_equal(cutoff_notice_verify("[]", 2, cutoff_key_public(f->key), &d), CUTOFF_EPARSE);
    assert_int_equal(cutoff_notice_verify("{", 1, cutoff_key_public(f->key), &d), CUTOFF_EPARSE);
    assert_int_equal(cutoff_notice_verify(v1, strlen(v1), "ed25519:nope", &d), CUTOFF_EPARSE);
    assert_int_equal(cutoff_notice_verify(v1, strlen(v1), NULL, &d), CUTOFF_EINVAL);
    cutoff_free(v1);
    cutoff_free(v2);
}

static void test_list_by_subscription(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    char *text = NULL;
    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-1", T0, &d), 0);
    assert_int_equal(cutoff_db_action_lift(f->db, "bob", "EA-1", T0 + 1, NULL, &d), 0);
    /* Covered through its unit, also once lifted: the latest notice. */
    assert_int_equal(cutoff_db_notice_list(f->db, "sub-a", &text), 0);
    json_t *arr = json_loads(text, 0, NULL);
    cutoff_free(text);
    assert_int_equal(json_array_size(arr), 1);
    json_t *n = json_object_get(json_array_get(arr, 0), "notice");
    assert_int_equal(json_integer_value(json_object_get(n, "notice_version")), 2);
    json_decref(arr);
    assert_int_equal(cutoff_db_notice_list(f->db, "sub-x", &text), 0);
    assert_string_equal(text, "[]");
    cutoff_free(text);
    assert_int_equal(cutoff_db_notice_list(f->db, "unit-8200", &text), CUTOFF_ENOTFOUND);
    assert_int_equal(cutoff_db_notice_list(f->db, "nobody", &text), CUTOFF_ENOTFOUND);
    assert_int_equal(cutoff_db_notice_list(f->db, "a b", &text), CUTOFF_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_issued_on_each_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_notice_for_withdrawn_draft, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsigned_then_signed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampering_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_by_subscription, setup, teardown),
    };
    return cmocka_run_group_tests_name("notices", tests, NULL, NULL);
}
