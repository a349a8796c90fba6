/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_changes.c - the database's change log (cutoff_db_changes): every
 * kind of change advances the sequence with its kind and nothing else
 * does; a change that fails (bad input, SQLite failing mid-change, or any
 * allocation failing, jansson's included) leaves no change, no audit
 * record and no change-log row behind, and the audit log still verifies;
 * and a database of schema version 1, written here by hand with that
 * version's schema, migrates in one transaction. With CUTOFF_TEST_PG set
 * (tests/run.sh) it runs on PostgreSQL too, but for what only SQLite has
 * (its migrations from version 1, file copies for the allocation sweeps).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cutoff.h"
#include "../support/dbfiles.h"
#include "util/util.h"

#define DAY INT64_C(86400)

static const char CATALOG[] =
    "{\"services\":["
    "{\"name\":\"storage\",\"actions\":[{\"name\":\"read\",\"class\":\"read\"},"
    "{\"name\":\"write\",\"class\":\"write\"}]},"
    "{\"name\":\"security\",\"actions\":[{\"name\":\"scan\",\"class\":\"read\"}]}],"
    "\"regions\":[\"eu-netherlands\"],"
    "\"plans\":[{\"name\":\"enterprise\",\"services\":[\"*\"]}]}";

static const char WORLD[] =
    "{\"id\":\"mod\",\"kind\":\"tenant\",\"parent\":null,\"plan\":\"enterprise\"}\n"
    "{\"id\":\"unit-8200\",\"kind\":\"unit\",\"parent\":\"mod\"}\n"
    "{\"id\":\"sub-a\",\"kind\":\"subscription\",\"parent\":\"unit-8200\"}\n";

static const char ACTION[] =
    "{\"case\":\"CASE-1\",\"scope\":[\"unit-8200\"],\"deny\":[\"storage.*\"],"
    "\"phases\":[{\"at\":\"+0\",\"mode\":\"suspend\"}],\"status\":451,"
    "\"notice\":{\"summary\":\"Stopped\",\"terms\":\"AUP\",\"contact\":\"c@example.com\"}}";

/* Suspends, then ends: its last phase "off" begins a day after approval. */
static const char ENDING_ACTION[] =
    "{\"id\":\"EA-END\",\"case\":\"CASE-1\",\"scope\":[\"unit-8200\"],\"deny\":[\"storage.*\"],"
    "\"phases\":[{\"at\":\"+0\",\"mode\":\"suspend\"},{\"at\":\"+1d\",\"mode\":\"off\"}],"
    "\"status\":403,\"notice\":{\"summary\":\"s\",\"terms\":\"t\",\"contact\":\"c\"}}";

typedef struct fixture {
    char dir[64];
    char path[256]; /* the database's location */
    char evidence[160];
    cutoff_db *db;
    long live_before;
} fixture;

/* ---- helpers ------------------------------------------------------------ */

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/cutoff-changes-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char file[128];
    snprintf(file, sizeof file, "%s/cutoff.db", f->dir);
    assert_non_null(test_db_location(file, f->path, sizeof f->path));
    snprintf(f->evidence, sizeof f->evidence, "%s/evidence.csv", f->dir);
    FILE *e = fopen(f->evidence, "w");
    assert_non_null(e);
    fputs("subscription,bytes\nsub-a,1024\n", e);
    fclose(e);
    f->live_before = co__alloc_live();
    cutoff_diag d;
    assert_int_equal(cutoff_db_open(f->path, CUTOFF_DB_CREATE, &f->db, &d), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cutoff_db_close(f->db);
    long live = co__alloc_live(), live_before = f->live_before;
    test_db_remove(f->path);
    unlink(f->evidence);
    rmdir(f->dir);
    free(f);
    /* Everything the library allocated, jansson's values included, was
     * given back. */
    assert_int_equal(live, live_before);
    return 0;
}

static void exec_sql(const char *path, const char *sql)
{
    if (test_db_exec(path, sql) != 0)
        fail_msg("sql failed: %s", sql);
}

static int64_t count_rows(const char *path, const char *sql)
{
    return test_db_int(path, sql);
}

/* The whole observable state (tests/support/dbdump.c). */
static char *dump(const char *path)
{
    char *text = test_db_dump(path);
    assert_non_null(text);
    return text;
}

/* The change log as "seq:kind:object" lines. */
static char *change_rows(const char *path)
{
    char *text = test_db_rows(path, "SELECT seq, kind, object FROM changes ORDER BY seq", ":");
    assert_non_null(text);
    return text;
}

static cutoff_changes changes_after(cutoff_db *db, uint64_t after)
{
    cutoff_changes c = {UINT64_MAX, ~0u};
    assert_int_equal(cutoff_db_changes(db, after, &c), 0);
    return c;
}

static uint64_t head(cutoff_db *db)
{
    return changes_after(db, 0).head;
}

/* Asserts that the last call made exactly one change, of kind `kind`,
 * after `before`. */
static void assert_one_change(cutoff_db *db, uint64_t before, unsigned kind, const char *what)
{
    cutoff_changes c = changes_after(db, before);
    if (c.head != before + 1 || c.kinds != kind)
        fail_msg("%s: head %llu kinds %u, expected head %llu kinds %u", what,
                 (unsigned long long)c.head, c.kinds, (unsigned long long)(before + 1), kind);
    c = changes_after(db, c.head);
    assert_int_equal(c.kinds, 0);
}

static void assert_no_change(cutoff_db *db, uint64_t before, const char *what)
{
    cutoff_changes c = changes_after(db, before);
    if (c.head != before || c.kinds != 0)
        fail_msg("%s: head %llu kinds %u, expected no change after %llu", what,
                 (unsigned long long)c.head, c.kinds, (unsigned long long)before);
}

static int import_text(cutoff_db *db, const char *text, cutoff_import_stats *st, cutoff_diag *d)
{
    FILE *in = tmpfile();
    assert_non_null(in);
    assert_int_equal(fwrite(text, 1, strlen(text), in), strlen(text));
    rewind(in);
    cutoff_import_stats scratch;
    int rc =
        cutoff_db_nodes_import(db, "alice", in, "nodes.jsonl", NULL, NULL, st ? st : &scratch, d);
    fclose(in);
    return rc;
}

static void must(int rc, const cutoff_diag *d, const char *what)
{
    if (rc != 0)
        fail_msg("%s: %s (%s)", what, cutoff_errname(rc), d->message);
}

/* ===================================================================== */
/* Each kind of change                                                    */
/* ===================================================================== */

static void test_each_kind_advances(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    char id[CUTOFF_ID_MAX + 1], sha[65];
    int version;
    cutoff_import_stats st;
    const char *scope[] = {"unit-8200"};

    cutoff_changes c = changes_after(f->db, 0);
    assert_int_equal(c.head, 0);
    assert_int_equal(c.kinds, 0);

    must(cutoff_db_catalog_load(f->db, "alice", CATALOG, strlen(CATALOG), &d), &d, "catalog");
    assert_one_change(f->db, 0, CUTOFF_CHANGE_TREE, "catalog load");
    must(import_text(f->db, WORLD, &st, &d), &d, "import");
    assert_one_change(f->db, 1, CUTOFF_CHANGE_TREE, "import");
    /* the same file again changes no node: recorded, but no change */
    must(import_text(f->db, WORLD, &st, &d), &d, "import again");
    assert_int_equal(st.unchanged, 3);
    assert_no_change(f->db, 2, "an import that changes nothing");
    assert_int_equal(count_rows(f->path, "SELECT count(*) FROM audit WHERE verb = 'nodes.import'"),
                     2);

    must(cutoff_db_case_open(f->db, "alice", NULL, "review", scope, 1, id, &d), &d, "case");
    assert_one_change(f->db, 2, CUTOFF_CHANGE_CASES, "case open");
    must(cutoff_db_case_add_evidence(f->db, "alice", "CASE-1", f->evidence, NULL, "text/csv",
                                     "usage", 0, sha, &d),
         &d, "evidence");
    assert_one_change(f->db, 3, CUTOFF_CHANGE_CASES, "evidence");
    must(cutoff_db_case_set_findings(f->db, "alice", "CASE-1", "confirmed", &d), &d, "findings");
    assert_one_change(f->db, 4, CUTOFF_CHANGE_CASES, "findings");

    must(cutoff_db_action_propose(f->db, "alice", ACTION, strlen(ACTION), id, &version, &d), &d,
         "propose");
    assert_one_change(f->db, 5, CUTOFF_CHANGE_ACTIONS, "propose");
    must(cutoff_db_action_approve(f->db, "bob", "EA-1", (int64_t)time(NULL), &d), &d, "approve");
    assert_one_change(f->db, 6, CUTOFF_CHANGE_ACTIONS, "approve");
    must(cutoff_db_action_lift(f->db, "carol", "EA-1", (int64_t)time(NULL), "resolved", &d), &d,
         "lift");
    assert_one_change(f->db, 7, CUTOFF_CHANGE_ACTIONS, "lift");

    /* expiry recorded by a snapshot is a change of actions, made once */
    int64_t now = (int64_t)time(NULL);
    must(cutoff_db_action_propose(f->db, "alice", ENDING_ACTION, strlen(ENDING_ACTION), id,
                                  &version, &d),
         &d, "propose ending");
    must(cutoff_db_action_approve(f->db, "bob", "EA-END", now - 2 * DAY, &d), &d, "approve ending");
    assert_int_equal(head(f->db), 10);
    cutoff_snapshot *snap = NULL;
    must(cutoff_db_snapshot(f->db, NULL, now, &snap, &d), &d, "snapshot");
    cutoff_snapshot_release(snap);
    assert_one_change(f->db, 10, CUTOFF_CHANGE_ACTIONS, "expiry");
    must(cutoff_db_snapshot(f->db, NULL, now, &snap, &d), &d, "snapshot again");
    cutoff_snapshot_release(snap);
    assert_no_change(f->db, 11, "a snapshot with nothing to expire");

    must(cutoff_db_case_close(f->db, "alice", "CASE-1", &d), &d, "close");
    assert_one_change(f->db, 11, CUTOFF_CHANGE_CASES, "case close");

    /* the caller's own records are not changes of state */
    assert_int_equal(cutoff_db_audit_append(f->db, "admin", "catalog.load", "catalog", NULL), 0);
    assert_int_equal(cutoff_db_audit_append(f->db, "admin", "nodes.import", "nodes", "{}"), 0);
    assert_no_change(f->db, 12, "audit append");

    /* kinds are the union after any point */
    c = changes_after(f->db, 0);
    assert_int_equal(c.head, 12);
    /* every kind but shadow runs (test_shadow.c has those) */
    assert_int_equal(c.kinds, CUTOFF_CHANGE_ALL & ~CUTOFF_CHANGE_SHADOW);
    c = changes_after(f->db, 2);
    assert_int_equal(c.kinds, CUTOFF_CHANGE_CASES | CUTOFF_CHANGE_ACTIONS);
    c = changes_after(f->db, 7);
    assert_int_equal(c.kinds, CUTOFF_CHANGE_CASES | CUTOFF_CHANGE_ACTIONS);
    c = changes_after(f->db, 11);
    assert_int_equal(c.kinds, CUTOFF_CHANGE_CASES);

    /* one row per change, naming what it is about */
    char *rows = change_rows(f->path);
    assert_string_equal(rows, "1:1:catalog\n"
                              "2:1:nodes\n"
                              "3:4:CASE-1\n"
                              "4:4:CASE-1\n"
                              "5:4:CASE-1\n"
                              "6:2:EA-1\n"
                              "7:2:EA-1\n"
                              "8:2:EA-1\n"
                              "9:2:EA-END\n"
                              "10:2:EA-END\n"
                              "11:2:EA-END\n"
                              "12:4:CASE-1\n");
    free(rows);

    /* the log is append-only through SQL */
    assert_int_not_equal(test_db_exec(f->path, "DELETE FROM changes WHERE seq = 12"), 0);
    assert_int_not_equal(test_db_exec(f->path, "UPDATE changes SET kind = 4"), 0);
    assert_int_equal(count_rows(f->path, "SELECT count(*) FROM changes"), 12);

    cutoff_audit_report rep;
    assert_int_equal(cutoff_db_audit_verify(f->db, &rep), 0);
}

/* A reader ahead of the database follows another database (replaced or
 * restored): it is told everything may have changed. */
static void test_reader_ahead_rebuilds_everything(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    must(cutoff_db_catalog_load(f->db, "alice", CATALOG, strlen(CATALOG), &d), &d, "catalog");
    cutoff_changes c = changes_after(f->db, 40);
    assert_int_equal(c.head, 1);
    assert_int_equal(c.kinds, CUTOFF_CHANGE_ALL);
    assert_int_equal(cutoff_db_changes(f->db, 0, NULL), CUTOFF_EINVAL);
    assert_int_equal(cutoff_db_changes(NULL, 0, &c), CUTOFF_EINVAL);
}

/* ===================================================================== */
/* Failed changes leave no sequence behind                                */
/* ===================================================================== */

static void test_failed_changes_do_not_advance(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    char id[CUTOFF_ID_MAX + 1], sha[65];
    int version;
    const char *scope[] = {"unit-8200"}, *nowhere[] = {"nowhere"};
    must(cutoff_db_catalog_load(f->db, "alice", CATALOG, strlen(CATALOG), &d), &d, "catalog");
    must(import_text(f->db, WORLD, NULL, &d), &d, "import");
    must(cutoff_db_case_open(f->db, "alice", NULL, "review", scope, 1, id, &d), &d, "case");
    must(cutoff_db_action_propose(f->db, "alice", ACTION, strlen(ACTION), id, &version, &d), &d,
         "propose");
    uint64_t at = head(f->db);
    char *before = dump(f->path);

    /* a catalog that would strand plan "enterprise" */
    const char stranding[] = "{\"services\":[{\"name\":\"storage\",\"actions\":[{\"name\":"
                             "\"read\",\"class\":\"read\"}]}],\"regions\":[],\"plans\":[]}";
    assert_int_equal(cutoff_db_catalog_load(f->db, "alice", stranding, strlen(stranding), &d),
                     CUTOFF_ESTATE);
    assert_int_equal(cutoff_db_catalog_load(f->db, "alice", "{", 1, &d), CUTOFF_EPARSE);
    assert_int_equal(
        import_text(f->db, "{\"id\":\"u2\",\"kind\":\"unit\",\"parent\":\"nowhere\"}\n", NULL, &d),
        CUTOFF_EINVAL);
    assert_int_equal(cutoff_db_case_open(f->db, "alice", NULL, "t", nowhere, 1, id, &d),
                     CUTOFF_ENOTFOUND);
    assert_int_equal(cutoff_db_case_open(f->db, "", NULL, "t", scope, 1, id, &d), CUTOFF_EINVAL);
    assert_int_equal(cutoff_db_case_add_evidence(f->db, "alice", "CASE-9", f->evidence, NULL, NULL,
                                                 NULL, 0, sha, &d),
                     CUTOFF_ENOTFOUND);
    assert_int_equal(cutoff_db_case_set_findings(f->db, "alice", "CASE-1", "\xff", &d),
                     CUTOFF_EINVAL);
    const char bad_action[] = "{\"case\":\"CASE-1\",\"scope\":[\"unit-8200\"],\"deny\":[\"ai.*\"],"
                              "\"phases\":[{\"at\":\"+0\",\"mode\":\"suspend\"}],\"status\":451,"
                              "\"notice\":{\"summary\":\"s\",\"terms\":\"t\",\"contact\":\"c\"}}";
    assert_int_equal(
        cutoff_db_action_propose(f->db, "alice", bad_action, strlen(bad_action), id, &version, &d),
        CUTOFF_EINVAL);
    assert_int_equal(cutoff_db_action_approve(f->db, "alice", "EA-1", 0, &d), CUTOFF_EPERM);
    assert_int_equal(cutoff_db_action_lift(f->db, "alice", "EA-9", 0, NULL, &d), CUTOFF_ENOTFOUND);
    assert_int_equal(cutoff_db_audit_append(f->db, "admin", "admin.read", "/x", "{"),
                     CUTOFF_EPARSE);

    /* the store failing at the change-log row takes the change and its
     * audit record with it */
    if (test_db_on_pg())
        exec_sql(f->path, "CREATE FUNCTION inject() RETURNS trigger LANGUAGE plpgsql AS"
                          " $$BEGIN RAISE EXCEPTION 'injected change-log failure'; END$$;"
                          "CREATE TRIGGER inject BEFORE INSERT ON changes"
                          " FOR EACH ROW EXECUTE FUNCTION inject();");
    else
        exec_sql(f->path, "CREATE TRIGGER inject BEFORE INSERT ON changes"
                          " BEGIN SELECT RAISE(ABORT, 'injected change-log failure'); END;");
    assert_int_equal(cutoff_db_case_open(f->db, "alice", NULL, "t", scope, 1, id, &d),
                     CUTOFF_ESTORE);
    assert_non_null(strstr(d.message, "injected change-log failure"));
    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-1", 0, &d), CUTOFF_ESTORE);
    exec_sql(f->path, test_db_on_pg() ? "DROP TRIGGER inject ON changes; DROP FUNCTION inject()"
                                      : "DROP TRIGGER inject");

    assert_no_change(f->db, at, "failed changes");
    char *after = dump(f->path);
    assert_string_equal(before, after);
    free(after);
    free(before);
}

/* ===================================================================== */
/* Out of memory, jansson's allocations included                          */
/* ===================================================================== */

/* A copy of the database at path, made through SQLite's backup so that
 * what is still in the write-ahead log is copied too. */
static void copy_db(const char *path, const char *to)
{
    sqlite3 *src = NULL, *dst = NULL;
    assert_int_equal(sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_open(to, &dst), SQLITE_OK);
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    assert_non_null(b);
    assert_int_equal(sqlite3_backup_step(b, -1), SQLITE_DONE);
    assert_int_equal(sqlite3_backup_finish(b), SQLITE_OK);
    sqlite3_close(src);
    sqlite3_close(dst);
}

/* What the last change wrote, apart from times and hashes: the newest
 * audit record's verb, object and payload, and the change log. */
static char *last_change(const char *path)
{
    sqlite3 *s = NULL;
    sqlite3_stmt *st;
    co__buf out;
    co__buf_init(&out);
    assert_int_equal(sqlite3_open_v2(path, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(s,
                                        "SELECT verb, object, payload FROM audit"
                                        " ORDER BY seq DESC LIMIT 1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        co__buf_printf(&out, "%s %s %s\n", (const char *)sqlite3_column_text(st, 0),
                       (const char *)sqlite3_column_text(st, 1),
                       (const char *)sqlite3_column_text(st, 2));
    sqlite3_finalize(st);
    sqlite3_close(s);
    char *rows = change_rows(path);
    co__buf_puts(&out, rows);
    free(rows);
    char *text = strdup(out.data ? out.data : "");
    co__buf_free(&out);
    return text;
}

typedef int (*change_fn)(fixture *f, cutoff_db *db);

/* Fails only the n-th allocation of `change`, for n = 0, 1, 2, ... until
 * the change makes fewer than n, each time on a fresh copy of the
 * database, as a transient shortage would hit it. Code that carries on
 * past a failed allocation is caught here (an audit payload replaced by
 * "{}" when it could not be built, a list left short): a failure must come
 * back as CUTOFF_ENOMEM with the copy exactly as it was, and a change that
 * succeeds anyway must write what an undisturbed run writes.
 * Only for changes that parse no JSON: jansson's lexer ignores a failed
 * allocation while it saves a token and reads on from the damaged copy
 * (an assertion, or past the token's end), so a parse survives only
 * failures that last, which the other sweep covers. */
static void sweep_transient(fixture *f, change_fn change, const char *what)
{
    char copy[160];
    cutoff_diag d;
    cutoff_db *db = NULL;
    snprintf(copy, sizeof copy, "%s/copy.db", f->dir);
    char *before = dump(f->path);
    copy_db(f->path, copy);
    assert_int_equal(cutoff_db_open(copy, 0, &db, &d), 0);
    assert_int_equal(change(f, db), 0);
    cutoff_db_close(db);
    char *want = last_change(copy);
    test_db_remove(copy);
    long n;
    for (n = 0; n < 100000; n++) {
        copy_db(f->path, copy);
        assert_int_equal(cutoff_db_open(copy, 0, &db, &d), 0);
        co__alloc_fail_once(n);
        int rc = change(f, db);
        bool failed = co__alloc_fail_stop();
        cutoff_db_close(db);
        if (rc != 0 && rc != CUTOFF_ENOMEM)
            fail_msg("%s: failing allocation %ld alone gave %s instead of ENOMEM", what, n,
                     cutoff_errname(rc));
        if (rc != 0) {
            char *after = dump(copy);
            if (strcmp(before, after) != 0)
                fail_msg("%s: failing allocation %ld alone left a change behind", what, n);
            free(after);
        } else {
            char *got = last_change(copy);
            if (strcmp(want, got) != 0)
                fail_msg("%s: recovered from failing allocation %ld with\n%s\ninstead of\n%s", what,
                         n, got, want);
            free(got);
        }
        test_db_remove(copy);
        if (!failed)
            break;
    }
    if (n == 100000 || n < 3)
        fail_msg("%s: the sweep ended at allocation %ld", what, n);
    free(want);
    free(before);
}

/* Runs `change` with the n-th allocation and every later one failing, for
 * n = 0, 1, 2, ... until it succeeds. Every failure must be CUTOFF_ENOMEM
 * and leave the whole database as it was: no change, no audit record, no
 * change-log row. The success must make exactly one change of `kind` (0:
 * none). */
static void sweep(fixture *f, change_fn change, unsigned kind, bool parses, const char *what)
{
    if (!parses)
        sweep_transient(f, change, what);
    char *before = dump(f->path);
    uint64_t at = head(f->db);
    long n;
    for (n = 0; n < 100000; n++) {
        co__alloc_fail_after(n);
        int rc = change(f, f->db);
        co__alloc_fail_stop();
        if (rc == 0)
            break;
        if (rc != CUTOFF_ENOMEM)
            fail_msg("%s: failing allocation %ld gave %s instead of ENOMEM", what, n,
                     cutoff_errname(rc));
        char *after = dump(f->path);
        if (strcmp(before, after) != 0)
            fail_msg("%s: failing allocation %ld left a change behind", what, n);
        free(after);
    }
    if (n == 100000 || n < 3)
        fail_msg("%s: the sweep ended at allocation %ld", what, n);
    free(before);
    if (kind)
        assert_one_change(f->db, at, kind, what);
    else
        assert_no_change(f->db, at, what);
}

static int change_catalog(fixture *f, cutoff_db *db)
{
    cutoff_diag d;
    (void)f;
    return cutoff_db_catalog_load(db, "alice", CATALOG, strlen(CATALOG), &d);
}

static int change_import(fixture *f, cutoff_db *db)
{
    cutoff_diag d;
    (void)f;
    return import_text(db, WORLD, NULL, &d);
}

static int change_case_open(fixture *f, cutoff_db *db)
{
    cutoff_diag d;
    char id[CUTOFF_ID_MAX + 1];
    const char *scope[] = {"unit-8200"};
    (void)f;
    return cutoff_db_case_open(db, "alice", NULL, "review", scope, 1, id, &d);
}

static int change_evidence(fixture *f, cutoff_db *db)
{
    cutoff_diag d;
    char sha[65];
    return cutoff_db_case_add_evidence(db, "alice", "CASE-1", f->evidence, "usage.csv", "text/csv",
                                       "usage", 1, sha, &d);
}

static int change_findings(fixture *f, cutoff_db *db)
{
    cutoff_diag d;
    (void)f;
    return cutoff_db_case_set_findings(db, "alice", "CASE-1", "confirmed", &d);
}

static int change_propose(fixture *f, cutoff_db *db)
{
    cutoff_diag d;
    char id[CUTOFF_ID_MAX + 1];
    int version;
    (void)f;
    return cutoff_db_action_propose(db, "alice", ACTION, strlen(ACTION), id, &version, &d);
}

static int change_approve(fixture *f, cutoff_db *db)
{
    cutoff_diag d;
    (void)f;
    return cutoff_db_action_approve(db, "bob", "EA-1", INT64_C(1758801600), &d);
}

static int change_lift(fixture *f, cutoff_db *db)
{
    cutoff_diag d;
    (void)f;
    return cutoff_db_action_lift(db, "carol", "EA-1", INT64_C(1758888000), "resolved", &d);
}

static int change_close(fixture *f, cutoff_db *db)
{
    cutoff_diag d;
    (void)f;
    return cutoff_db_case_close(db, "alice", "CASE-1", &d);
}

static int change_audit_append(fixture *f, cutoff_db *db)
{
    (void)f;
    return cutoff_db_audit_append(db, "admin", "admin.read", "/v1/admin/cases",
                                  "{\"request_id\":\"r-1\"}");
}

static void test_out_of_memory_changes_nothing(void **state)
{
    fixture *f = *state;
    if (test_db_on_pg())
        skip(); /* each allocation is tried on a copy of the SQLite file */
    sweep(f, change_catalog, CUTOFF_CHANGE_TREE, true, "catalog load");
    sweep(f, change_import, CUTOFF_CHANGE_TREE, true, "import");
    sweep(f, change_case_open, CUTOFF_CHANGE_CASES, false, "case open");
    sweep(f, change_evidence, CUTOFF_CHANGE_CASES, false, "evidence");
    sweep(f, change_findings, CUTOFF_CHANGE_CASES, false, "findings");
    sweep(f, change_propose, CUTOFF_CHANGE_ACTIONS, true, "propose");
    sweep(f, change_approve, CUTOFF_CHANGE_ACTIONS, true, "approve");
    sweep(f, change_lift, CUTOFF_CHANGE_ACTIONS, false, "lift");
    sweep(f, change_close, CUTOFF_CHANGE_CASES, false, "case close");
    sweep(f, change_audit_append, 0, true, "audit append");

    cutoff_audit_report rep;
    assert_int_equal(cutoff_db_audit_verify(f->db, &rep), 0);
    assert_int_equal(rep.records, 10);
    assert_int_equal(head(f->db), 9);
    /* no record went in with an empty payload in place of the one that
     * could not be built (closing a case has nothing to say) */
    assert_int_equal(count_rows(f->path, "SELECT count(*) FROM audit WHERE payload = '{}'"
                                         " AND verb <> 'case.close'"),
                     0);
}

/* A snapshot that marks an action expired does so in a transaction of its
 * own before compiling: a failure leaves the database either as it was or
 * with the whole expiry (state, audit record and change together), never
 * with a part of it. */
static void test_out_of_memory_expiry(void **state)
{
    fixture *f = *state;
    if (test_db_on_pg())
        skip(); /* each allocation is tried on a copy of the SQLite file */
    cutoff_diag d;
    char id[CUTOFF_ID_MAX + 1];
    int version;
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(change_catalog(f, f->db), 0);
    assert_int_equal(change_import(f, f->db), 0);
    assert_int_equal(change_case_open(f, f->db), 0);
    must(cutoff_db_action_propose(f->db, "alice", ENDING_ACTION, strlen(ENDING_ACTION), id,
                                  &version, &d),
         &d, "propose");
    must(cutoff_db_action_approve(f->db, "bob", "EA-END", now - 2 * DAY, &d), &d, "approve");
    uint64_t at = head(f->db);
    char *before = dump(f->path), *failed[4096];
    size_t n_failed = 0;
    long n;
    for (n = 0; n < 100000; n++) {
        cutoff_snapshot *snap = NULL;
        co__alloc_fail_after(n);
        int rc = cutoff_db_snapshot(f->db, NULL, now, &snap, &d);
        co__alloc_fail_stop();
        cutoff_snapshot_release(snap);
        if (rc == 0)
            break;
        if (rc != CUTOFF_ENOMEM)
            fail_msg("failing allocation %ld gave %s instead of ENOMEM", n, cutoff_errname(rc));
        assert_true(n_failed < sizeof failed / sizeof *failed);
        failed[n_failed++] = dump(f->path);
    }
    assert_true(n > 3 && n < 100000);
    char *final = dump(f->path);
    assert_string_not_equal(before, final);
    for (size_t i = 0; i < n_failed; i++) {
        if (strcmp(failed[i], before) != 0 && strcmp(failed[i], final) != 0)
            fail_msg("failure %zu left a partial expiry behind", i);
        free(failed[i]);
    }
    free(final);
    free(before);
    assert_one_change(f->db, at, CUTOFF_CHANGE_ACTIONS, "expiry");
    cutoff_audit_report rep;
    assert_int_equal(cutoff_db_audit_verify(f->db, &rep), 0);
}

/* ===================================================================== */
/* Migration from schema version 1                                        */
/* ===================================================================== */

/* Schema version 1 as cutoff 1 created it. */
static const char SCHEMA_V1[] =
    "CREATE TABLE nodes(id TEXT PRIMARY KEY NOT NULL,"
    "  kind INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 3), parent TEXT, name TEXT, plan TEXT"
    ") WITHOUT ROWID;"
    "CREATE TABLE catalog(one INTEGER PRIMARY KEY CHECK (one = 1), json TEXT NOT NULL,"
    "  loaded_by TEXT NOT NULL, loaded_at INTEGER NOT NULL);"
    "CREATE TABLE cases(id TEXT NOT NULL UNIQUE, title TEXT NOT NULL, scope TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('open', 'closed')), findings TEXT,"
    "  opened_by TEXT NOT NULL, opened_at INTEGER NOT NULL, closed_by TEXT, closed_at INTEGER,"
    "  updated_by TEXT, updated_at INTEGER);"
    "CREATE TABLE evidence(case_id TEXT NOT NULL REFERENCES cases(id), n INTEGER NOT NULL,"
    "  sha256 TEXT NOT NULL, size INTEGER NOT NULL, media_type TEXT NOT NULL, file TEXT,"
    "  note TEXT, added_by TEXT NOT NULL, added_at INTEGER NOT NULL, content BLOB,"
    "  PRIMARY KEY (case_id, n));"
    "CREATE TABLE actions(id TEXT NOT NULL, version INTEGER NOT NULL CHECK (version >= 1),"
    "  case_id TEXT NOT NULL REFERENCES cases(id),"
    "  state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 4), doc TEXT NOT NULL,"
    "  proposed_by TEXT NOT NULL, proposed_at INTEGER NOT NULL, approved_by TEXT,"
    "  approved_at INTEGER, activated_at INTEGER, lifted_by TEXT, lifted_at INTEGER,"
    "  lift_reason TEXT, PRIMARY KEY (id, version));"
    "CREATE INDEX actions_by_state ON actions(state);"
    "CREATE TABLE audit(seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, actor TEXT NOT NULL,"
    "  verb TEXT NOT NULL, object TEXT NOT NULL, payload TEXT NOT NULL,"
    "  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;";

/* A version-1 database with a catalog and three nodes, written by hand. */
static void write_v1_database(const char *path)
{
    cutoff_catalog_spec *cat = NULL;
    char *canon = NULL;
    assert_int_equal(cutoff_catalog_parse(CATALOG, strlen(CATALOG), &cat, NULL), 0);
    assert_int_equal(cutoff_catalog_to_json(cat, &canon), 0);
    cutoff_catalog_free(cat);
    sqlite3 *s = NULL;
    assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
    assert_int_equal(sqlite3_exec(s, "PRAGMA journal_mode = WAL", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(s, SCHEMA_V1, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(s,
                                        "INSERT INTO catalog(one, json, loaded_by, loaded_at)"
                                        " VALUES (1, ?1, 'alice', 1758801600)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, canon, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    cutoff_free(canon);
    assert_int_equal(
        sqlite3_exec(s,
                     "INSERT INTO nodes VALUES ('mod', 1, NULL, 'Ministry', 'enterprise'),"
                     " ('unit-8200', 2, 'mod', NULL, NULL), ('sub-a', 3, 'unit-8200', NULL, NULL);"
                     "PRAGMA user_version = 1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(s);
}

static void test_migration_from_version_1(void **state)
{
    fixture *f = *state;
    if (test_db_on_pg())
        skip(); /* a version-1 database is an SQLite file */
    cutoff_diag d;
    char path[160], id[CUTOFF_ID_MAX + 1];
    const char *scope[] = {"unit-8200"};
    snprintf(path, sizeof path, "%s/v1.db", f->dir);
    assert_int_equal(cutoff_db_schema_version(), 5);

    /* A migration that fails leaves version 1 exactly as it was: a table
     * in the way of the new one stops it before anything is created. */
    write_v1_database(path);
    exec_sql(path, "CREATE TABLE changes(x, y);");
    char *before = dump(path);
    cutoff_db *db = NULL;
    assert_int_equal(cutoff_db_open(path, 0, &db, &d), CUTOFF_ESTORE);
    assert_null(db);
    assert_non_null(strstr(d.message, "schema version 2"));
    assert_int_equal(count_rows(path, "PRAGMA user_version"), 1);
    assert_int_equal(
        count_rows(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'changes_by_kind'"), 0);
    char *after = dump(path);
    assert_string_equal(before, after);
    free(before);
    free(after);
    test_db_remove(path);

    write_v1_database(path);
    must(cutoff_db_open(path, 0, &db, &d), &d, "open version 1");
    assert_int_equal(count_rows(path, "PRAGMA user_version"), 5);
    /* the receipts of the decision nodes start empty (version 4) */
    assert_int_equal(count_rows(path, "SELECT count(*) FROM receipts"), 0);
    /* the catalog in force starts the catalog history (version 3) */
    assert_int_equal(count_rows(path, "SELECT count(*) FROM catalogs WHERE loaded_at = 1758801600"
                                      " AND json = (SELECT json FROM catalog)"),
                     1);
    /* the log starts empty; the state written before it loads */
    cutoff_changes c = changes_after(db, 0);
    assert_int_equal(c.head, 0);
    assert_int_equal(c.kinds, 0);
    cutoff_tree *tree = NULL;
    must(cutoff_db_load_tree(db, &tree, &d), &d, "load tree");
    assert_int_equal(cutoff_tree_count(tree, 0), 3);
    cutoff_tree_release(tree);
    must(cutoff_db_case_open(db, "alice", NULL, "review", scope, 1, id, &d), &d, "case");
    assert_one_change(db, 0, CUTOFF_CHANGE_CASES, "first change after the migration");
    cutoff_audit_report rep;
    assert_int_equal(cutoff_db_audit_verify(db, &rep), 0);
    assert_int_equal(rep.records, 1);
    cutoff_db_close(db);
    /* and it opens again without migrating */
    must(cutoff_db_open(path, 0, &db, &d), &d, "reopen");
    assert_int_equal(head(db), 1);
    cutoff_db_close(db);
    test_db_remove(path);
}

/* A version-3 database (this schema without the receipts) gains the
 * receipts table and keeps every row; one with a table of its own in the
 * way is refused, with nothing written. */
static void test_migration_from_version_3(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    char path[160], id[CUTOFF_ID_MAX + 1];
    const char *scope[] = {"unit-8200"};
    snprintf(path, sizeof path, "%s/v3.db", f->dir);
    cutoff_db *db = NULL;
    must(cutoff_db_open(path, CUTOFF_DB_CREATE, &db, &d), &d, "create");
    must(cutoff_db_catalog_load(db, "alice", CATALOG, strlen(CATALOG), &d), &d, "catalog");
    must(import_text(db, WORLD, NULL, &d), &d, "nodes");
    must(cutoff_db_case_open(db, "alice", NULL, "review", scope, 1, id, &d), &d, "case");
    uint64_t before_head = head(db);
    cutoff_db_close(db);
    exec_sql(path, "DROP TABLE receipts; DROP TABLE shadow_counts; DROP TABLE shadow_runs;"
                   " PRAGMA user_version = 3;");

    /* in the way: a table of the same name that is not the schema's */
    exec_sql(path, "CREATE TABLE receipts(x, y);");
    char *before = dump(path);
    db = NULL;
    assert_int_equal(cutoff_db_open(path, 0, &db, &d), CUTOFF_ESTORE);
    assert_null(db);
    assert_non_null(strstr(d.message, "schema version 4"));
    assert_int_equal(count_rows(path, "PRAGMA user_version"), 3);
    char *after = dump(path);
    assert_string_equal(before, after);
    free(before);
    free(after);
    exec_sql(path, "DROP TABLE receipts;");

    must(cutoff_db_open(path, 0, &db, &d), &d, "open version 3");
    assert_int_equal(count_rows(path, "PRAGMA user_version"), 5);
    assert_int_equal(count_rows(path, "SELECT count(*) FROM receipts"), 0);
    assert_int_equal(head(db), before_head);
    cutoff_receipt r = {"node-a", before_head, 1758801600, "00ff", 1758801601, "ok"};
    assert_int_equal(cutoff_db_receipt_put(db, &r), 0);
    assert_int_equal(head(db), before_head);
    cutoff_audit_report rep;
    assert_int_equal(cutoff_db_audit_verify(db, &rep), 0);
    assert_int_equal(rep.records, 3);
    cutoff_db_close(db);
    test_db_remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_kind_advances, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_ahead_rebuilds_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_changes_do_not_advance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_from_version_1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_from_version_3, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
