/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_db.c - the database layer on a real store (SQLite files in a
 * temporary directory, or databases on a PostgreSQL server): opening and
 * schema versions, the catalog and its stranding checks, bulk node import
 * (counts, updates, moves, and every kind of bad input with the line it
 * is reported on), cases and evidence, the action workflow end to end
 * with four-eyes approval, lifts and expiry, and the promise that a call
 * that fails leaves the database exactly as it was: every error path
 * compares a full dump of the database before and after, and an
 * out-of-memory sweep fails each allocation of a change in turn. With
 * CUTOFF_TEST_PG set (tests/run.sh) it runs on PostgreSQL too, but for
 * what is about SQLite files (missing files, directories, a text file,
 * WAL and the table layout).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cutoff.h"
#include "../support/dbfiles.h"
#include "util/util.h"

/* 2025-09-25T12:00:00Z */
#define T0 INT64_C(1758801600)
#define DAY INT64_C(86400)

static const char CATALOG[] =
    "{\"services\":["
    "{\"name\":\"storage\",\"actions\":[{\"name\":\"read\",\"class\":\"read\"},"
    "{\"name\":\"write\",\"class\":\"write\"}]},"
    "{\"name\":\"ai\",\"actions\":[{\"name\":\"transcribe\",\"class\":\"write\"}]},"
    "{\"name\":\"security\",\"actions\":[{\"name\":\"scan\",\"class\":\"read\"}]}],"
    "\"regions\":[\"eu-netherlands\",\"us-east\"],"
    "\"plans\":[{\"name\":\"enterprise\",\"services\":[\"*\"]},"
    "{\"name\":\"basic\",\"services\":[\"storage.*\"]}]}";

/* The same catalog without the ai service and without plan "basic". */
static const char CATALOG_NO_AI[] =
    "{\"services\":["
    "{\"name\":\"storage\",\"actions\":[{\"name\":\"read\",\"class\":\"read\"},"
    "{\"name\":\"write\",\"class\":\"write\"}]},"
    "{\"name\":\"security\",\"actions\":[{\"name\":\"scan\",\"class\":\"read\"}]}],"
    "\"regions\":[\"eu-netherlands\",\"us-east\"],"
    "\"plans\":[{\"name\":\"enterprise\",\"services\":[\"*\"]},"
    "{\"name\":\"basic\",\"services\":[\"storage.*\"]}]}";

static const char CATALOG_NO_BASIC[] =
    "{\"services\":["
    "{\"name\":\"storage\",\"actions\":[{\"name\":\"read\",\"class\":\"read\"},"
    "{\"name\":\"write\",\"class\":\"write\"}]},"
    "{\"name\":\"ai\",\"actions\":[{\"name\":\"transcribe\",\"class\":\"write\"}]},"
    "{\"name\":\"security\",\"actions\":[{\"name\":\"scan\",\"class\":\"read\"}]}],"
    "\"regions\":[\"eu-netherlands\",\"us-east\"],"
    "\"plans\":[{\"name\":\"enterprise\",\"services\":[\"*\"]}]}";

/*   mod (tenant, enterprise)
 *     imod (unit)
 *       unit-8200 (unit): sub-a, sub-b (basic)
 *       unit-9900 (unit): sub-c
 *   other (tenant, basic): sub-x                                         */
static const char WORLD[] =
    "{\"id\":\"mod\",\"kind\":\"tenant\",\"parent\":null,\"name\":\"Ministry\",\"plan\":"
    "\"enterprise\"}\n"
    "{\"id\":\"imod\",\"kind\":\"unit\",\"parent\":\"mod\",\"name\":\"Intelligence\"}\n"
    "{\"id\":\"unit-8200\",\"kind\":\"unit\",\"parent\":\"imod\",\"name\":\"Unit 8200\"}\n"
    "{\"id\":\"sub-a\",\"kind\":\"subscription\",\"parent\":\"unit-8200\"}\n"
    "{\"id\":\"sub-b\",\"kind\":\"subscription\",\"parent\":\"unit-8200\",\"plan\":\"basic\"}\n"
    "{\"id\":\"unit-9900\",\"kind\":\"unit\",\"parent\":\"imod\"}\n"
    "{\"id\":\"sub-c\",\"kind\":\"subscription\",\"parent\":\"unit-9900\"}\n"
    "{\"id\":\"other\",\"kind\":\"tenant\",\"parent\":null,\"plan\":\"basic\"}\n"
    "{\"id\":\"sub-x\",\"kind\":\"subscription\",\"parent\":\"other\"}\n";

/* An action on unit-8200: read-only from approval, suspended 30 days on. */
static const char ACTION_8200[] =
    "{\"case\":\"CASE-1\",\"scope\":[\"unit-8200\"],\"deny\":[\"storage.*\",\"ai.*\"],"
    "\"except\":[\"security.*\"],\"regions\":[\"*\"],"
    "\"phases\":[{\"at\":\"+0\",\"mode\":\"read-only\"},{\"at\":\"+30d\",\"mode\":\"suspend\"}],"
    "\"status\":451,\"notice\":{\"summary\":\"Services stopped\",\"terms\":\"AUP 3.1\","
    "\"contact\":\"trust@example.com\"}}";

typedef struct fixture {
    char dir[64];
    char path[256]; /* the database's location */
    cutoff_db *db;
    long live_before;
} fixture;

/* ---- helpers ------------------------------------------------------------ */

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/cutoff-db-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char file[128];
    snprintf(file, sizeof file, "%s/cutoff.db", f->dir);
    assert_non_null(test_db_location(file, f->path, sizeof f->path));
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
    char p[160];
    snprintf(p, sizeof p, "%s/evidence.bin", f->dir);
    unlink(p);
    rmdir(f->dir);
    free(f);
    /* Everything the library allocated for this test was given back. */
    assert_int_equal(live, live_before);
    return 0;
}

static int import_text(cutoff_db *db, const char *actor, const char *text, cutoff_import_stats *st,
                       cutoff_diag *d)
{
    FILE *in = tmpfile();
    assert_non_null(in);
    assert_int_equal(fwrite(text, 1, strlen(text), in), strlen(text));
    rewind(in);
    cutoff_import_stats scratch;
    int rc =
        cutoff_db_nodes_import(db, actor, in, "nodes.jsonl", NULL, NULL, st ? st : &scratch, d);
    fclose(in);
    return rc;
}

/* Catalog and the world tree. */
static void load_world(fixture *f)
{
    cutoff_diag d;
    cutoff_import_stats st;
    assert_int_equal(cutoff_db_catalog_load(f->db, "alice", CATALOG, strlen(CATALOG), &d), 0);
    int rc = import_text(f->db, "alice", WORLD, &st, &d);
    if (rc != 0)
        fail_msg("import: %s", d.message);
    assert_int_equal(st.inserted, 9);
}

/* The whole observable state (tests/support/dbdump.c). */
static char *dump(const char *path)
{
    char *text = test_db_dump(path);
    assert_non_null(text);
    return text;
}

static int64_t count_rows(const char *path, const char *sql)
{
    int64_t n = test_db_int(path, sql);
    if (n < 0)
        fail_msg("sql failed: %s", sql);
    return n;
}

static void exec_sql(const char *path, const char *sql)
{
    if (test_db_exec(path, sql) != 0)
        fail_msg("sql failed: %s", sql);
}

static void assert_contains(const char *text, const char *part)
{
    if (text == NULL || strstr(text, part) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", part, text ? text : "(null)");
}

/* The last audit record, parsed. */
static json_t *last_audit(cutoff_db *db)
{
    char *text = NULL;
    assert_int_equal(cutoff_db_audit_list(db, 0, 0, &text), 0);
    json_t *all = json_loads(text, 0, NULL);
    cutoff_free(text);
    assert_non_null(all);
    size_t n = json_array_size(all);
    assert_true(n > 0);
    json_t *last = json_incref(json_array_get(all, n - 1));
    json_decref(all);
    return last;
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (s == NULL)
        fail_msg("no string \"%s\"", key);
    return s;
}

static json_int_t jint(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("no integer \"%s\"", key);
    return json_integer_value(v);
}

static void open_case_1(fixture *f)
{
    cutoff_diag d;
    char id[CUTOFF_ID_MAX + 1];
    const char *scope[] = {"unit-8200"};
    int rc = cutoff_db_case_open(f->db, "alice", NULL, "Unit 8200 review", scope, 1, id, &d);
    if (rc != 0)
        fail_msg("case open: %s", d.message);
    assert_string_equal(id, "CASE-1");
}

static void propose(fixture *f, const char *actor, const char *json, const char *want_id,
                    int want_version)
{
    cutoff_diag d;
    char id[CUTOFF_ID_MAX + 1];
    int version = 0;
    int rc = cutoff_db_action_propose(f->db, actor, json, strlen(json), id, &version, &d);
    if (rc != 0)
        fail_msg("propose: %s", d.message);
    assert_string_equal(id, want_id);
    assert_int_equal(version, want_version);
}

static cutoff_reason decide(cutoff_snapshot *s, const char *sub, const char *action, int64_t t)
{
    cutoff_verdict v;
    cutoff_check(s, sub, action, NULL, t, &v);
    return v.reason;
}

/* ===================================================================== */
/* Opening                                                                */
/* ===================================================================== */

static void test_open_needs_init(void **state)
{
    fixture *f = *state;
    char missing[160], file[160], empty[256];
    cutoff_db *db = NULL;
    cutoff_diag d;
    struct stat sb;
    bool on_files = !test_db_on_pg();

    if (on_files) {
        snprintf(missing, sizeof missing, "%s/missing.db", f->dir);
        assert_int_equal(cutoff_db_open(missing, 0, &db, &d), CUTOFF_ENOTINIT);
        assert_contains(d.message, "cutoff init");
        assert_int_equal(stat(missing, &sb), -1); /* not created */

        /* a directory is no database, and init would not make it one */
        assert_int_equal(cutoff_db_open(f->dir, 0, &db, &d), CUTOFF_ESTORE);
        assert_contains(d.message, "directory");
        assert_int_equal(cutoff_db_open(f->dir, CUTOFF_DB_CREATE, &db, &d), CUTOFF_ESTORE);
        assert_contains(d.message, "directory");
    }

    /* an empty file; on PostgreSQL, an empty database */
    snprintf(file, sizeof file, "%s/empty.db", f->dir);
    assert_non_null(test_db_location(file, empty, sizeof empty));
    if (on_files) {
        FILE *e = fopen(empty, "w");
        assert_non_null(e);
        fclose(e);
    }
    assert_int_equal(cutoff_db_open(empty, 0, &db, &d), CUTOFF_ENOTINIT);
    assert_contains(d.message, "cutoff init");
    if (on_files) {
        assert_int_equal(stat(empty, &sb), 0);
        assert_int_equal(sb.st_size, 0); /* left as it was */
    }
    assert_int_equal(test_db_objects(empty), 0);

    /* init once, then it opens without the flag */
    assert_int_equal(cutoff_db_open(empty, CUTOFF_DB_CREATE, &db, &d), 0);
    cutoff_db_close(db);
    assert_int_equal(cutoff_db_open(empty, 0, &db, &d), 0);
    cutoff_db_close(db);
    assert_int_equal(test_db_schema_version(empty), cutoff_db_schema_version());
    assert_true(cutoff_db_schema_version() >= 1);
    test_db_remove(empty);
}

static void test_open_settings(void **state)
{
    fixture *f = *state;
    assert_int_equal(cutoff_db_schema_version(), test_db_schema_version(f->path));
    if (test_db_on_pg())
        skip(); /* the rest is SQLite's journal and table layout */
    char *mode = test_db_rows(f->path, "PRAGMA journal_mode", "|");
    assert_non_null(mode);
    assert_string_equal(mode, "wal\n");
    free(mode);
    /* the node table is keyed by id without a rowid */
    char *sql = test_db_rows(f->path, "SELECT sql FROM sqlite_schema WHERE name = 'nodes'", "|");
    assert_contains(sql, "WITHOUT ROWID");
    free(sql);
}

static void test_newer_schema_refused(void **state)
{
    fixture *f = *state;
    cutoff_db_close(f->db);
    f->db = NULL;
    assert_int_equal(test_db_set_schema_version(f->path, 99), 0);
    cutoff_diag d;
    cutoff_db *db = NULL;
    assert_int_equal(cutoff_db_open(f->path, 0, &db, &d), CUTOFF_EVERSION);
    assert_null(db);
    assert_contains(d.message, "99");
    assert_int_equal(cutoff_db_open(f->path, CUTOFF_DB_CREATE, &db, &d), CUTOFF_EVERSION);
    assert_int_equal(test_db_schema_version(f->path), 99); /* untouched */
    assert_int_equal(test_db_set_schema_version(f->path, cutoff_db_schema_version()), 0);
    assert_int_equal(cutoff_db_open(f->path, 0, &f->db, &d), 0);
}

static void test_not_a_database(void **state)
{
    fixture *f = *state;
    if (test_db_on_pg())
        skip(); /* a text file where an SQLite file should be */
    char path[160];
    snprintf(path, sizeof path, "%s/notes.txt", f->dir);
    const char text[] =
        "these are my notes, not a database; they are long enough to have a header\n"
        "and some more text so that SQLite reads a whole header's worth of bytes.\n";
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    fputs(text, out);
    fclose(out);
    cutoff_db *db = NULL;
    cutoff_diag d;
    int rc = cutoff_db_open(path, CUTOFF_DB_CREATE, &db, &d);
    assert_int_equal(rc, CUTOFF_ESTORE);
    assert_contains(d.message, "notes.txt");
    char back[512] = {0};
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    assert_int_equal(fread(back, 1, sizeof back - 1, in), strlen(text));
    fclose(in);
    assert_string_equal(back, text);
    unlink(path);
}

/* ===================================================================== */
/* Catalog                                                                */
/* ===================================================================== */

static void test_catalog_load_and_get(void **state)
{
    fixture *f = *state;
    cutoff_catalog_spec *c = NULL;
    cutoff_diag d;
    assert_int_equal(cutoff_db_catalog_get(f->db, &c), CUTOFF_ENOTFOUND);
    assert_int_equal(cutoff_db_catalog_load(f->db, "alice", CATALOG, strlen(CATALOG), &d), 0);
    assert_int_equal(cutoff_db_catalog_get(f->db, &c), 0);
    assert_int_equal(c->n_actions, 4);
    assert_int_equal(c->n_regions, 2);
    assert_int_equal(c->n_plans, 2);
    int found = 0;
    for (size_t i = 0; i < c->n_actions; i++)
        if (strcmp(c->actions[i].name, "storage.read") == 0) {
            found = 1;
            assert_int_equal(c->actions[i].cls, CUTOFF_CLASS_READ);
        }
    assert_true(found);
    cutoff_catalog_free(c);

    json_t *rec = last_audit(f->db);
    assert_string_equal(jstr(rec, "verb"), "catalog.load");
    assert_string_equal(jstr(rec, "actor"), "alice");
    assert_int_equal(jint(json_object_get(rec, "payload"), "actions"), 4);
    json_decref(rec);

    /* a catalog that does not parse changes nothing */
    char *before = dump(f->path);
    assert_int_not_equal(cutoff_db_catalog_load(f->db, "alice", "{\"services\":", 12, &d), 0);
    assert_true(d.message[0] != '\0');
    assert_int_equal(cutoff_db_catalog_load(f->db, "", CATALOG, strlen(CATALOG), &d),
                     CUTOFF_EINVAL);
    char *after = dump(f->path);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void test_catalog_refuses_stranding(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    load_world(f);
    char *before = dump(f->path);
    /* sub-b and "other" use plan basic */
    assert_int_equal(
        cutoff_db_catalog_load(f->db, "alice", CATALOG_NO_BASIC, strlen(CATALOG_NO_BASIC), &d),
        CUTOFF_ESTATE);
    assert_contains(d.message, "plan \"basic\"");
    assert_contains(d.message, "\"other\""); /* the smallest id using it */
    char *after = dump(f->path);
    assert_string_equal(before, after);
    free(after);
    free(before);

    /* an active action denying ai.* pins the ai service */
    open_case_1(f);
    propose(f, "alice", ACTION_8200, "EA-1", 1);
    assert_int_equal(
        cutoff_db_catalog_load(f->db, "alice", CATALOG_NO_AI, strlen(CATALOG_NO_AI), &d), 0);
    /* a draft does not pin it, but once reloaded with ai, approval does */
    assert_int_equal(cutoff_db_catalog_load(f->db, "alice", CATALOG, strlen(CATALOG), &d), 0);
    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-1", T0, &d), 0);
    before = dump(f->path);
    assert_int_equal(
        cutoff_db_catalog_load(f->db, "alice", CATALOG_NO_AI, strlen(CATALOG_NO_AI), &d),
        CUTOFF_ESTATE);
    assert_contains(d.message, "EA-1 v1 denies \"ai.*\"");
    after = dump(f->path);
    assert_string_equal(before, after);
    free(after);
    free(before);
}

/* ===================================================================== */
/* Node import                                                            */
/* ===================================================================== */

static void test_import_counts_and_updates(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    cutoff_import_stats st;
    load_world(f);

    /* the same file again changes nothing but the log */
    assert_int_equal(import_text(f->db, "alice", WORLD, &st, &d), 0);
    assert_int_equal(st.lines, 9);
    assert_int_equal(st.inserted, 0);
    assert_int_equal(st.updated, 0);
    assert_int_equal(st.unchanged, 9);

    /* a rename, a move, a new node; blank and CRLF lines; no final newline */
    const char *change =
        "\n"
        "{\"id\":\"sub-c\",\"kind\":\"subscription\",\"parent\":\"unit-8200\"}\r\n"
        "   \n"
        "{\"id\":\"imod\",\"kind\":\"unit\",\"parent\":\"mod\",\"name\":\"Military "
        "Intelligence\"}\n"
        "{\"id\":\"sub-d\",\"kind\":\"subscription\",\"parent\":\"unit-9900\"}\n"
        "{\"id\":\"other\",\"kind\":\"tenant\",\"parent\":null,\"plan\":\"basic\"}";
    assert_int_equal(import_text(f->db, "bob", change, &st, &d), 0);
    assert_int_equal(st.lines, 4);
    assert_int_equal(st.inserted, 1);
    assert_int_equal(st.updated, 2);
    assert_int_equal(st.unchanged, 1);
    assert_int_equal(count_rows(f->path, "SELECT count(*) FROM nodes"), 10);
    assert_int_equal(
        count_rows(f->path,
                   "SELECT count(*) FROM nodes WHERE id = 'sub-c' AND parent = 'unit-8200'"),
        1);

    /* the audit record names the source, the counts and the input's hash */
    json_t *rec = last_audit(f->db);
    assert_string_equal(jstr(rec, "verb"), "nodes.import");
    assert_string_equal(jstr(rec, "actor"), "bob");
    json_t *p = json_object_get(rec, "payload");
    assert_string_equal(jstr(p, "source"), "nodes.jsonl");
    assert_int_equal(jint(p, "lines"), 4);
    assert_int_equal(jint(p, "inserted"), 1);
    assert_int_equal(jint(p, "updated"), 2);
    assert_int_equal(jint(p, "unchanged"), 1);
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[65];
    crypto_hash_sha256(digest, (const unsigned char *)change, strlen(change));
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    assert_string_equal(jstr(p, "sha256"), hex);
    json_decref(rec);

    /* the loaded tree has the new node and the moved one */
    cutoff_tree *tree = NULL;
    assert_int_equal(cutoff_db_load_tree(f->db, &tree, &d), 0);
    assert_int_equal(cutoff_tree_count(tree, 0), 10);
    assert_int_equal(cutoff_tree_count(tree, CUTOFF_NODE_SUBSCRIPTION), 5);
    cutoff_tree_release(tree);
}

static void progress_count(void *ctx, uint64_t done)
{
    uint64_t *last = ctx;
    assert_true(done >= *last);
    *last = done;
}

/* Names that a row format could get wrong (a backslash, the text format's
 * NULL marker, quotes, multi-byte UTF-8, the empty string) come back as
 * given, written into an empty store and over a full one (the two ways
 * rows reach the nodes table). */
static void test_import_names_round_trip(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    cutoff_import_stats st;
    assert_int_equal(cutoff_db_catalog_load(f->db, "alice", CATALOG, strlen(CATALOG), &d), 0);
    /* Each name as it comes back, and as a JSON string. */
    static const char *const names[][2] = {
        {"back\\slash", "\"back\\\\slash\""},
        {"\\N", "\"\\\\N\""},
        {"quote \"q\" 'q'", "\"quote \\\"q\\\" 'q'\""},
        {"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac", "\"caf\\u00e9 \xe6\x97\xa5\xe6\x9c\xac\""},
        {"", "\"\""},
    };
    enum { N = sizeof names / sizeof names[0] };
    for (int pass = 0; pass < 2; pass++) {
        /* The second pass renames every node (and adds one): the merge. */
        char text[2048];
        size_t len = (size_t)snprintf(text, sizeof text,
                                      "{\"id\":\"t\",\"kind\":\"tenant\",\"parent\":null}\n");
        for (int i = 0; i < N; i++) {
            /* pass 1 appends "!" inside the JSON string's closing quote */
            const char *json = names[(i + pass) % N][1];
            len += (size_t)snprintf(text + len, sizeof text - len,
                                    "{\"id\":\"u%d\",\"kind\":\"unit\",\"parent\":\"t\","
                                    "\"name\":%.*s%s\"}\n",
                                    i, (int)strlen(json) - 1, json, pass ? "!" : "");
        }
        if (pass)
            len += (size_t)snprintf(text + len, sizeof text - len,
                                    "{\"id\":\"u9\",\"kind\":\"unit\",\"parent\":\"t\"}\n");
        assert_true(len < sizeof text);
        int rc = import_text(f->db, "alice", text, &st, &d);
        if (rc != 0)
            fail_msg("import, pass %d: %s", pass, d.message);
        assert_int_equal(st.inserted, pass ? 1 : N + 1);
        assert_int_equal(st.updated, pass ? N : 0);
        for (int i = 0; i < N; i++) {
            char id[16], *shown = NULL, want[64];
            snprintf(id, sizeof id, "u%d", i);
            snprintf(want, sizeof want, "%s%s", names[(i + pass) % N][0], pass ? "!" : "");
            assert_int_equal(cutoff_db_node_show(f->db, id, &shown), 0);
            json_t *n = json_loads(shown, 0, NULL);
            cutoff_free(shown);
            assert_non_null(n);
            assert_string_equal(jstr(n, "name"), want);
            assert_string_equal(jstr(n, "kind"), "unit");
            assert_string_equal(jstr(n, "parent"), "t");
            json_decref(n);
        }
        char *shown = NULL;
        assert_int_equal(cutoff_db_node_show(f->db, "t", &shown), 0);
        json_t *n = json_loads(shown, 0, NULL);
        cutoff_free(shown);
        assert_true(json_is_null(json_object_get(n, "name")));
        assert_true(json_is_null(json_object_get(n, "parent")));
        assert_string_equal(jstr(n, "kind"), "tenant");
        json_decref(n);
    }
}

static void test_import_progress_and_empty(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    cutoff_import_stats st;
    assert_int_equal(cutoff_db_catalog_load(f->db, "alice", CATALOG, strlen(CATALOG), &d), 0);
    co__buf text;
    co__buf_init(&text);
    co__buf_puts(&text, "{\"id\":\"t\",\"kind\":\"tenant\",\"parent\":null}\n");
    for (int i = 0; i < 120000; i++)
        co__buf_printf(&text, "{\"id\":\"s%d\",\"kind\":\"subscription\",\"parent\":\"t\"}\n", i);
    FILE *in = tmpfile();
    fwrite(text.data, 1, text.len, in);
    rewind(in);
    uint64_t last = 0;
    assert_int_equal(
        cutoff_db_nodes_import(f->db, "alice", in, "big.jsonl", progress_count, &last, &st, &d), 0);
    fclose(in);
    assert_int_equal(st.inserted, 120001);
    assert_int_equal(last, 120001); /* the last call reports every line */
    assert_int_equal(count_rows(f->path, "SELECT count(*) FROM nodes WHERE parent = 't'"), 120000);
    /* the input is hashed as it was read, although parsing rewrote it */
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[65];
    crypto_hash_sha256(digest, (const unsigned char *)text.data, text.len);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    co__buf_free(&text);
    json_t *rec = last_audit(f->db);
    assert_string_equal(jstr(json_object_get(rec, "payload"), "sha256"), hex);
    json_decref(rec);

    /* a tree this size loads through the reading and adding threads */
    cutoff_tree *tree = NULL;
    assert_int_equal(cutoff_db_load_tree(f->db, &tree, &d), 0);
    assert_int_equal(cutoff_tree_count(tree, CUTOFF_NODE_SUBSCRIPTION), 120000);
    cutoff_tree_release(tree);
    /* ... and a damaged row stops it, whichever thread meets it */
    exec_sql(f->path, "UPDATE nodes SET id = 'bad id' WHERE id = 's99999'");
    assert_int_equal(cutoff_db_load_tree(f->db, &tree, &d), CUTOFF_EINVAL);
    assert_contains(d.message, "the database holds an invalid node");
    exec_sql(f->path, "UPDATE nodes SET id = 's99999' WHERE id = 'bad id';"
                      "UPDATE nodes SET parent = 'gone' WHERE id = 's5'");
    assert_int_equal(cutoff_db_load_tree(f->db, &tree, &d), CUTOFF_EINVAL);
    assert_contains(d.message, "the stored tree does not build: parent \"gone\"");
    exec_sql(f->path, "UPDATE nodes SET parent = 't' WHERE id = 's5'");

    /* an empty input imports nothing and still leaves a record, with the
     * SHA-256 of no bytes */
    assert_int_equal(import_text(f->db, "alice", "", &st, &d), 0);
    assert_int_equal(st.lines, 0);
    rec = last_audit(f->db);
    assert_int_equal(jint(json_object_get(rec, "payload"), "lines"), 0);
    assert_string_equal(jstr(json_object_get(rec, "payload"), "sha256"),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    json_decref(rec);
}

static void test_import_needs_catalog(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    char *before = dump(f->path);
    assert_int_equal(import_text(f->db, "alice", WORLD, NULL, &d), CUTOFF_ENOTFOUND);
    assert_contains(d.message, "catalog load");
    char *after = dump(f->path);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

typedef struct bad_import {
    const char *what;
    const char *text;
    int rc;              /* 0: any error */
    size_t line;         /* diag.line expected */
    const char *message; /* substring */
} bad_import;

static void test_import_errors_leave_db_unchanged(void **state)
{
    fixture *f = *state;
    static const bad_import cases[] = {
        {"malformed JSON",
         "{\"id\":\"t2\",\"kind\":\"tenant\",\"parent\":null}\n{\"id\":\"u\",,}\n", 0, 2,
         "nodes.jsonl:2: "},
        {"unknown parent",
         "{\"id\":\"t2\",\"kind\":\"tenant\",\"parent\":null}\n"
         "{\"id\":\"unit-8201\",\"kind\":\"unit\",\"parent\":\"t2\"}\n"
         "{\"id\":\"unit-8300\",\"kind\":\"unit\",\"parent\":\"imodd\"}\n",
         CUTOFF_EINVAL, 3, "nodes.jsonl:3: parent \"imodd\" of \"unit-8300\" is not in the tree"},
        {"cycle through a move of stored nodes",
         "{\"id\":\"imod\",\"kind\":\"unit\",\"parent\":\"unit-8200\"}\n", CUTOFF_ECYCLE, 1,
         "nodes.jsonl:1: "},
        {"cycle within the file",
         "{\"id\":\"x1\",\"kind\":\"unit\",\"parent\":\"x2\"}\n{\"id\":\"x2\",\"kind\":\"unit\","
         "\"parent\":\"x1\"}\n",
         CUTOFF_ECYCLE, 0, "cycle"},
        {"duplicate id in one file",
         "{\"id\":\"n1\",\"kind\":\"tenant\",\"parent\":null}\n{\"id\":\"n2\",\"kind\":\"tenant\","
         "\"parent\":null}\n"
         "{\"id\":\"n1\",\"kind\":\"tenant\",\"parent\":null}\n",
         CUTOFF_EINVAL, 3, "lines 1 and 3"},
        {"truncated last line",
         "{\"id\":\"t2\",\"kind\":\"tenant\",\"parent\":null}\n{\"id\":\"t3\",\"kind\":\"ten", 0, 2,
         "nodes.jsonl:2: the last line is cut short"},
        {"bad kind", "{\"id\":\"t2\",\"kind\":\"division\",\"parent\":null}\n", 0, 1,
         "nodes.jsonl:1: "},
        {"unknown plan",
         "\n{\"id\":\"t2\",\"kind\":\"tenant\",\"parent\":null,\"plan\":\"gold\"}\n", 0, 2,
         "\"gold\""},
        {"oversize id",
         "{\"id\":"
         "\"a123456789a123456789a123456789a123456789a123456789a123456789a123456789a123456789"
         "a123456789a123456789a123456789a123456789a123456789\",\"kind\":\"tenant\",\"parent\":null}"
         "\n",
         0, 1, "nodes.jsonl:1: "},
        {"illegal id", "{\"id\":\"bad id!\",\"kind\":\"tenant\",\"parent\":null}\n", 0, 1,
         "nodes.jsonl:1: "},
        {"tenant with a parent", "{\"id\":\"t2\",\"kind\":\"tenant\",\"parent\":\"mod\"}\n", 0, 1,
         "nodes.jsonl:1: "},
        {"subscription as a parent", "{\"id\":\"u9\",\"kind\":\"unit\",\"parent\":\"sub-a\"}\n",
         CUTOFF_EINVAL, 1, "is a subscription"},
        {"unit turned into a subscription under its stored children",
         "{\"id\":\"t2\",\"kind\":\"tenant\",\"parent\":null}\n"
         "{\"id\":\"unit-9900\",\"kind\":\"subscription\",\"parent\":\"imod\"}\n",
         CUTOFF_EINVAL, 2, "line 2 changes \"unit-9900\""},
    };
    load_world(f);
    char *before = dump(f->path);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const bad_import *c = &cases[i];
        cutoff_diag d;
        memset(&d, 0, sizeof d);
        int rc = import_text(f->db, "alice", c->text, NULL, &d);
        if (rc == 0 || (c->rc != 0 && rc != c->rc))
            fail_msg("%s: rc %d (%s), message \"%s\"", c->what, rc, cutoff_errname(rc), d.message);
        if (c->line && d.line != c->line)
            fail_msg("%s: line %zu, wanted %zu (%s)", c->what, d.line, c->line, d.message);
        if (strstr(d.message, c->message) == NULL)
            fail_msg("%s: message \"%s\" lacks \"%s\"", c->what, d.message, c->message);
        char *after = dump(f->path);
        if (strcmp(before, after) != 0)
            fail_msg("%s: the database changed", c->what);
        free(after);
    }
    free(before);
}

/* ===================================================================== */
/* Cases                                                                  */
/* ===================================================================== */

static void test_case_workflow(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    char id[CUTOFF_ID_MAX + 1], sha[65];
    load_world(f);
    open_case_1(f);
    const char *scope2[] = {"imod", "other"};
    assert_int_equal(
        cutoff_db_case_open(f->db, "bob", "CASE-7", "Second review", scope2, 2, id, &d), 0);
    assert_string_equal(id, "CASE-7");
    /* numbering continues past ids given by hand */
    assert_int_equal(cutoff_db_case_open(f->db, "bob", NULL, "Third", NULL, 0, id, &d), 0);
    assert_string_equal(id, "CASE-3");

    char *before = dump(f->path);
    assert_int_equal(cutoff_db_case_open(f->db, "bob", "CASE-7", "Again", NULL, 0, id, &d),
                     CUTOFF_EEXIST);
    const char *bad_scope[] = {"imod", "nowhere"};
    assert_int_equal(cutoff_db_case_open(f->db, "bob", NULL, "Bad", bad_scope, 2, id, &d),
                     CUTOFF_ENOTFOUND);
    assert_contains(d.message, "\"nowhere\"");
    assert_int_equal(cutoff_db_case_open(f->db, "bob", NULL, "", NULL, 0, id, &d), CUTOFF_EINVAL);
    assert_int_equal(cutoff_db_case_open(f->db, "bob", "bad id", "x", NULL, 0, id, &d),
                     CUTOFF_EINVAL);
    assert_int_equal(cutoff_db_case_open(f->db, NULL, NULL, "x", NULL, 0, id, &d), CUTOFF_EINVAL);
    char *after = dump(f->path);
    assert_string_equal(before, after);
    free(after);
    free(before);

    /* evidence: "abc" has the SHA-256 of FIPS 180-2's first example */
    char path[160];
    snprintf(path, sizeof path, "%s/evidence.bin", f->dir);
    FILE *ev = fopen(path, "w");
    fputs("abc", ev);
    fclose(ev);
    assert_int_equal(cutoff_db_case_add_evidence(f->db, "alice", "CASE-1", path, NULL, "text/plain",
                                                 "billing export", 0, sha, &d),
                     0);
    assert_string_equal(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(
        cutoff_db_case_add_evidence(f->db, "bob", "CASE-1", path, NULL, NULL, NULL, 1, sha, &d), 0);
    assert_int_equal(count_rows(f->path, "SELECT count(*) FROM evidence WHERE content IS NULL"), 1);
    assert_int_equal(count_rows(f->path, test_db_on_pg()
                                             ? "SELECT count(*) FROM evidence WHERE content = "
                                               "convert_to('abc', 'UTF8')"
                                             : "SELECT count(*) FROM evidence WHERE content = "
                                               "CAST('abc' AS BLOB)"),
                     1);

    before = dump(f->path);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/nope.bin", f->dir);
    assert_int_equal(cutoff_db_case_add_evidence(f->db, "alice", "CASE-1", missing, NULL, NULL,
                                                 NULL, 0, sha, &d),
                     CUTOFF_EIO);
    assert_contains(d.message, "nope.bin");
    assert_int_equal(
        cutoff_db_case_add_evidence(f->db, "alice", "CASE-9", path, NULL, NULL, NULL, 0, sha, &d),
        CUTOFF_ENOTFOUND);
    assert_int_equal(cutoff_db_case_add_evidence(f->db, "alice", "CASE-1", path, NULL, "not a type",
                                                 NULL, 0, sha, &d),
                     CUTOFF_EINVAL);
    after = dump(f->path);
    assert_string_equal(before, after);
    free(after);
    free(before);

    assert_int_equal(
        cutoff_db_case_set_findings(f->db, "alice", "CASE-1", "Evidence supports the reports.", &d),
        0);
    assert_int_equal(cutoff_db_case_close(f->db, "carol", "CASE-7", &d), 0);
    before = dump(f->path);
    assert_int_equal(cutoff_db_case_close(f->db, "carol", "CASE-7", &d), CUTOFF_ESTATE);
    assert_int_equal(cutoff_db_case_set_findings(f->db, "carol", "CASE-7", "late", &d),
                     CUTOFF_ESTATE);
    assert_int_equal(
        cutoff_db_case_add_evidence(f->db, "carol", "CASE-7", path, NULL, NULL, NULL, 0, sha, &d),
        CUTOFF_ESTATE);
    after = dump(f->path);
    assert_string_equal(before, after);
    free(after);
    free(before);

    char *text = NULL;
    assert_int_equal(cutoff_db_case_show(f->db, "CASE-1", &text), 0);
    json_t *c = json_loads(text, 0, NULL);
    cutoff_free(text);
    assert_non_null(c);
    assert_string_equal(jstr(c, "status"), "open");
    assert_string_equal(jstr(c, "findings"), "Evidence supports the reports.");
    assert_string_equal(jstr(c, "opened_by"), "alice");
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "scope"), 0)),
                        "unit-8200");
    json_t *evs = json_object_get(c, "evidence");
    assert_int_equal(json_array_size(evs), 2);
    json_t *e1 = json_array_get(evs, 0), *e2 = json_array_get(evs, 1);
    assert_int_equal(jint(e1, "size"), 3);
    assert_string_equal(jstr(e1, "media_type"), "text/plain");
    assert_string_equal(jstr(e1, "note"), "billing export");
    assert_string_equal(jstr(e1, "file"), "evidence.bin");
    assert_true(json_is_false(json_object_get(e1, "content_kept")));
    assert_string_equal(jstr(e2, "media_type"), "application/octet-stream");
    assert_string_equal(jstr(e2, "added_by"), "bob");
    assert_true(json_is_true(json_object_get(e2, "content_kept")));
    json_decref(c);
    assert_int_equal(cutoff_db_case_show(f->db, "CASE-404", &text), CUTOFF_ENOTFOUND);

    assert_int_equal(cutoff_db_case_list(f->db, &text), 0);
    json_t *list = json_loads(text, 0, NULL);
    cutoff_free(text);
    assert_int_equal(json_array_size(list), 3);
    assert_string_equal(jstr(json_array_get(list, 0), "id"), "CASE-1");
    assert_string_equal(jstr(json_array_get(list, 1), "id"), "CASE-7");
    assert_string_equal(jstr(json_array_get(list, 1), "status"), "closed");
    assert_string_equal(jstr(json_array_get(list, 1), "closed_by"), "carol");
    json_decref(list);

    /* one audit record per change, each by its actor */
    assert_int_equal(count_rows(f->path, "SELECT count(*) FROM audit WHERE verb = 'case.open'"), 3);
    assert_int_equal(count_rows(f->path, "SELECT count(*) FROM audit WHERE verb = 'case.evidence'"),
                     2);
    assert_int_equal(
        count_rows(f->path,
                   "SELECT count(*) FROM audit WHERE verb = 'case.close' AND actor = 'carol'"),
        1);
}

/* ===================================================================== */
/* Actions                                                                */
/* ===================================================================== */

static void test_action_workflow(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    cutoff_snapshot *snap = NULL;
    load_world(f);
    open_case_1(f);

    propose(f, "alice", ACTION_8200, "EA-1", 1);
    cutoff_action_spec *a = NULL;
    assert_int_equal(cutoff_db_action_get(f->db, "EA-1", 0, &a), 0);
    assert_int_equal(a->state, CUTOFF_STATE_DRAFT);
    assert_int_equal(a->version, 1);
    assert_string_equal(a->case_id, "CASE-1");
    cutoff_action_free(a);

    /* a draft does not bite */
    assert_int_equal(cutoff_db_snapshot(f->db, NULL, T0, &snap, &d), 0);
    assert_int_equal(cutoff_snapshot_action_count(snap), 0);
    assert_int_equal(decide(snap, "sub-a", "storage.write", T0 + 1), CUTOFF_REASON_ALLOW);
    cutoff_snapshot_release(snap);

    /* four eyes */
    char *before = dump(f->path);
    assert_int_equal(cutoff_db_action_approve(f->db, "alice", "EA-1", T0, &d), CUTOFF_EPERM);
    assert_string_equal(d.message,
                        "\"alice\" proposed EA-1 v1 and cannot approve it; a second person must");
    char *after = dump(f->path);
    assert_string_equal(before, after);
    free(after);
    free(before);

    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-1", T0, &d), 0);
    assert_int_equal(cutoff_db_action_get(f->db, "EA-1", 0, &a), 0);
    assert_int_equal(a->state, CUTOFF_STATE_ACTIVE);
    assert_int_equal(a->activated_at, T0);
    cutoff_action_free(a);
    assert_int_equal(cutoff_db_action_approve(f->db, "carol", "EA-1", T0, &d), CUTOFF_ESTATE);

    assert_int_equal(cutoff_db_snapshot(f->db, NULL, T0, &snap, &d), 0);
    assert_int_equal(cutoff_snapshot_action_count(snap), 1);
    /* read-only from activation: writes and AI stop, reads and security go on */
    assert_int_equal(decide(snap, "sub-a", "storage.write", T0 + 1), CUTOFF_REASON_READ_ONLY);
    assert_int_equal(decide(snap, "sub-a", "ai.transcribe", T0 + 1), CUTOFF_REASON_READ_ONLY);
    assert_int_equal(decide(snap, "sub-a", "storage.read", T0 + 1), CUTOFF_REASON_ALLOW);
    assert_int_equal(decide(snap, "sub-a", "security.scan", T0 + 31 * DAY), CUTOFF_REASON_ALLOW);
    assert_int_equal(decide(snap, "sub-a", "storage.read", T0 + 31 * DAY), CUTOFF_REASON_SUSPENDED);
    assert_int_equal(decide(snap, "sub-c", "storage.write", T0 + 1),
                     CUTOFF_REASON_ALLOW); /* other unit */
    assert_int_equal(decide(snap, "sub-b", "ai.transcribe", T0 + 1), CUTOFF_REASON_NOT_ENTITLED);
    assert_int_equal(decide(snap, "sub-zz", "storage.read", T0 + 1),
                     CUTOFF_REASON_UNKNOWN_SUBSCRIPTION);
    cutoff_snapshot_release(snap);

    /* a new version: the active one keeps biting until it is approved */
    const char *v2 =
        "{\"id\":\"EA-1\",\"case\":\"CASE-1\",\"scope\":[\"unit-8200\",\"unit-9900\"],\"deny\":["
        "\"ai.*\"],"
        "\"phases\":[{\"at\":\"+0\",\"mode\":\"suspend\"}],\"status\":403,"
        "\"notice\":{\"summary\":\"AI stopped\",\"terms\":\"AUP\",\"contact\":\"t@example.com\"}}";
    propose(f, "carol", v2, "EA-1", 2);
    assert_int_equal(cutoff_db_snapshot(f->db, NULL, T0 + 10, &snap, &d), 0);
    assert_int_equal(decide(snap, "sub-a", "storage.write", T0 + 11), CUTOFF_REASON_READ_ONLY);
    assert_int_equal(decide(snap, "sub-c", "ai.transcribe", T0 + 11), CUTOFF_REASON_ALLOW);
    cutoff_snapshot_release(snap);
    assert_int_equal(cutoff_db_action_approve(f->db, "carol", "EA-1", T0 + 20, &d), CUTOFF_EPERM);
    assert_int_equal(cutoff_db_action_approve(f->db, "alice", "EA-1", T0 + 20, &d), 0);
    assert_int_equal(cutoff_db_action_get(f->db, "EA-1", 1, &a), 0);
    assert_int_equal(a->state, CUTOFF_STATE_SUPERSEDED);
    cutoff_action_free(a);
    assert_int_equal(cutoff_db_snapshot(f->db, NULL, T0 + 30, &snap, &d), 0);
    assert_int_equal(decide(snap, "sub-a", "storage.write", T0 + 31), CUTOFF_REASON_ALLOW);
    assert_int_equal(decide(snap, "sub-c", "ai.transcribe", T0 + 31), CUTOFF_REASON_SUSPENDED);
    cutoff_snapshot_release(snap);

    /* a second action gets the next id */
    const char *other =
        "{\"case\":\"CASE-1\",\"scope\":[\"other\"],\"deny\":[\"storage.write\"],\"regions\":[\"eu-"
        "*\"],"
        "\"phases\":[{\"at\":\"2025-09-25T12:00:00Z\",\"mode\":\"suspend\"}],\"status\":403,"
        "\"notice\":{\"summary\":\"s\",\"terms\":\"t\",\"contact\":\"c\"}}";
    propose(f, "alice", other, "EA-2", 1);

    /* lift the active one; withdraw the draft */
    assert_int_equal(cutoff_db_action_lift(f->db, "dave", "EA-1", T0 + 40, "review concluded", &d),
                     0);
    assert_int_equal(cutoff_db_action_lift(f->db, "dave", "EA-2", T0 + 40, NULL, &d), 0);
    before = dump(f->path);
    assert_int_equal(cutoff_db_action_lift(f->db, "dave", "EA-1", T0 + 50, NULL, &d),
                     CUTOFF_ESTATE);
    assert_int_equal(cutoff_db_action_lift(f->db, "dave", "EA-9", T0 + 50, NULL, &d),
                     CUTOFF_ENOTFOUND);
    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-2", T0 + 50, &d), CUTOFF_ESTATE);
    after = dump(f->path);
    assert_string_equal(before, after);
    free(after);
    free(before);
    assert_int_equal(cutoff_db_snapshot(f->db, NULL, T0 + 60, &snap, &d), 0);
    assert_int_equal(cutoff_snapshot_action_count(snap), 0);
    assert_int_equal(decide(snap, "sub-c", "ai.transcribe", T0 + 61), CUTOFF_REASON_ALLOW);
    cutoff_snapshot_release(snap);

    /* show: every version with who and when */
    char *text = NULL;
    assert_int_equal(cutoff_db_action_show(f->db, "EA-1", &text), 0);
    json_t *s = json_loads(text, 0, NULL);
    cutoff_free(text);
    assert_non_null(s);
    assert_string_equal(jstr(s, "state"), "lifted");
    json_t *vs = json_object_get(s, "versions");
    assert_int_equal(json_array_size(vs), 2);
    json_t *s1 = json_array_get(vs, 0), *s2 = json_array_get(vs, 1);
    assert_string_equal(jstr(s1, "state"), "superseded");
    assert_string_equal(jstr(s1, "proposed_by"), "alice");
    assert_string_equal(jstr(s1, "approved_by"), "bob");
    assert_string_equal(jstr(s1, "activated_at"), "2025-09-25T12:00:00Z");
    assert_string_equal(jstr(s2, "proposed_by"), "carol");
    assert_string_equal(jstr(s2, "approved_by"), "alice");
    assert_string_equal(jstr(s2, "lifted_by"), "dave");
    assert_string_equal(jstr(s2, "lift_reason"), "review concluded");
    assert_string_equal(jstr(json_object_get(s1, "action"), "id"), "EA-1");
    json_decref(s);
    assert_int_equal(cutoff_db_action_show(f->db, "EA-404", &text), CUTOFF_ENOTFOUND);

    assert_int_equal(cutoff_db_action_list(f->db, &text), 0);
    json_t *list = json_loads(text, 0, NULL);
    cutoff_free(text);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(jstr(json_array_get(list, 0), "id"), "EA-1");
    assert_int_equal(jint(json_array_get(list, 0), "version"), 2);
    assert_string_equal(jstr(json_array_get(list, 1), "state"), "lifted");
    json_decref(list);

    /* the log tells the story, in order */
    static const char *const verbs[] = {
        "catalog.load",   "nodes.import",   "case.open",      "action.propose", "action.approve",
        "action.propose", "action.approve", "action.propose", "action.lift",    "action.withdraw"};
    assert_int_equal(cutoff_db_audit_list(f->db, 0, 0, &text), 0);
    json_t *log = json_loads(text, 0, NULL);
    cutoff_free(text);
    assert_int_equal(json_array_size(log), sizeof verbs / sizeof *verbs);
    for (size_t i = 0; i < json_array_size(log); i++) {
        assert_string_equal(jstr(json_array_get(log, i), "verb"), verbs[i]);
        assert_int_equal(jint(json_array_get(log, i), "seq"), (json_int_t)i + 1);
    }
    json_t *approve2 = json_array_get(log, 6);
    assert_string_equal(jstr(approve2, "actor"), "alice");
    json_t *superseded = json_object_get(json_object_get(approve2, "payload"), "superseded");
    assert_int_equal(json_array_size(superseded), 1);
    assert_int_equal(json_integer_value(json_array_get(superseded, 0)), 1);
    json_decref(log);
    cutoff_audit_report rep;
    assert_int_equal(cutoff_db_audit_verify(f->db, &rep), 0);
    assert_int_equal(rep.records, 10);
}

static void test_action_propose_errors(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    char id[CUTOFF_ID_MAX + 1];
    int version;
    load_world(f);
    open_case_1(f);
    const char *closed_scope[] = {"other"};
    assert_int_equal(
        cutoff_db_case_open(f->db, "alice", "CASE-C", "closed", closed_scope, 1, id, &d), 0);
    assert_int_equal(cutoff_db_case_close(f->db, "alice", "CASE-C", &d), 0);
    propose(f, "alice", ACTION_8200, "EA-1", 1);

#define DOC(fields)                                                                                \
    "{" fields ",\"phases\":[{\"at\":\"+0\",\"mode\":\"suspend\"}],\"status\":403,"                \
    "\"notice\":{\"summary\":\"s\",\"terms\":\"t\",\"contact\":\"c\"}}"
    static const struct {
        const char *what, *doc;
        int rc;
        const char *message;
    } cases[] = {
        {"no such case", DOC("\"case\":\"CASE-9\",\"scope\":[\"mod\"],\"deny\":[\"ai.*\"]"),
         CUTOFF_ENOTFOUND, "CASE-9"},
        {"closed case", DOC("\"case\":\"CASE-C\",\"scope\":[\"other\"],\"deny\":[\"ai.*\"]"),
         CUTOFF_ESTATE, "closed"},
        {"scope not in the tree",
         DOC("\"case\":\"CASE-1\",\"scope\":[\"mod\",\"unit-1\"],\"deny\":[\"ai.*\"]"),
         CUTOFF_ENOTFOUND, "scope[1]: node \"unit-1\""},
        {"deny matches nothing",
         DOC("\"case\":\"CASE-1\",\"scope\":[\"mod\"],\"deny\":[\"ai.*\",\"video.*\"]"),
         CUTOFF_EINVAL, "deny[1]: pattern \"video.*\" matches no action"},
        {"except matches nothing",
         DOC("\"case\":\"CASE-1\",\"scope\":[\"mod\"],\"deny\":[\"*\"],\"except\":[\"storage."
             "delete\"]"),
         CUTOFF_EINVAL, "except[0]"},
        {"new version in another case",
         DOC("\"id\":\"EA-1\",\"case\":\"CASE-C\",\"scope\":[\"mod\"],\"deny\":[\"ai.*\"]"), 0, ""},
        {"not JSON", "{\"case\":", 0, ""},
    };
    char *before = dump(f->path);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memset(&d, 0, sizeof d);
        int rc = cutoff_db_action_propose(f->db, "bob", cases[i].doc, strlen(cases[i].doc), id,
                                          &version, &d);
        if (rc == 0 || (cases[i].rc && rc != cases[i].rc))
            fail_msg("%s: rc %s, \"%s\"", cases[i].what, cutoff_errname(rc), d.message);
        if (strstr(d.message, cases[i].message) == NULL || d.message[0] == '\0')
            fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].what, d.message, cases[i].message);
        char *after = dump(f->path);
        if (strcmp(before, after) != 0)
            fail_msg("%s: the database changed", cases[i].what);
        free(after);
    }
    free(before);
#undef DOC
}

static void test_snapshot_marks_expired(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    cutoff_snapshot *snap = NULL;
    load_world(f);
    open_case_1(f);
    const char *brief = "{\"case\":\"CASE-1\",\"scope\":[\"unit-8200\"],\"deny\":[\"storage.*\"],"
                        "\"phases\":[{\"at\":\"+0\",\"mode\":\"suspend\"},{\"at\":\"+1d\",\"mode\":"
                        "\"off\"}],\"status\":403,"
                        "\"notice\":{\"summary\":\"s\",\"terms\":\"t\",\"contact\":\"c\"}}";
    propose(f, "alice", brief, "EA-1", 1);
    propose(f, "alice", brief, "EA-2", 1);
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-1", now - 2 * DAY, &d), 0);
    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-2", now - 3600, &d), 0);

    /* looking a week ahead must not expire EA-2 in the database */
    assert_int_equal(cutoff_db_snapshot(f->db, NULL, now + 7 * DAY, &snap, &d), 0);
    cutoff_snapshot_release(snap);
    cutoff_action_spec *a = NULL;
    assert_int_equal(cutoff_db_action_get(f->db, "EA-1", 0, &a), 0);
    assert_int_equal(a->state, CUTOFF_STATE_EXPIRED);
    cutoff_action_free(a);
    assert_int_equal(cutoff_db_action_get(f->db, "EA-2", 0, &a), 0);
    assert_int_equal(a->state, CUTOFF_STATE_ACTIVE);
    cutoff_action_free(a);

    assert_int_equal(cutoff_db_snapshot(f->db, NULL, now, &snap, &d), 0);
    assert_int_equal(cutoff_snapshot_action_count(snap), 1);
    assert_string_equal(cutoff_snapshot_action(snap, 0)->id, "EA-2");
    assert_int_equal(decide(snap, "sub-a", "storage.read", now), CUTOFF_REASON_SUSPENDED);
    cutoff_snapshot_release(snap);
    json_t *rec = last_audit(f->db);
    assert_string_equal(jstr(rec, "verb"), "action.expire");
    assert_string_equal(jstr(rec, "object"), "EA-1");
    json_decref(rec);
    assert_int_equal(count_rows(f->path, "SELECT count(*) FROM audit WHERE verb = 'action.expire'"),
                     1);

    /* a snapshot on a tree the caller holds */
    cutoff_tree *tree = NULL;
    assert_int_equal(cutoff_db_load_tree(f->db, &tree, &d), 0);
    assert_int_equal(cutoff_db_snapshot(f->db, tree, now, &snap, &d), 0);
    assert_ptr_equal(cutoff_snapshot_tree(snap), tree);
    cutoff_snapshot_release(snap);
    cutoff_tree_release(tree);
}

/* The answer for (subscription, action, region, t) does not depend on when
 * it is asked: an action whose last phase "off" has begun is marked
 * expired, and its earlier phases still decide their times. */
static void test_ended_schedule_still_decides(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    cutoff_snapshot *snap = NULL;
    load_world(f);
    open_case_1(f);
    const char *brief = "{\"case\":\"CASE-1\",\"scope\":[\"unit-8200\"],\"deny\":[\"storage.*\"],"
                        "\"phases\":[{\"at\":\"+0\",\"mode\":\"read-only\"},{\"at\":\"+1h\","
                        "\"mode\":\"suspend\"},{\"at\":\"+1d\",\"mode\":\"off\"}],\"status\":403,"
                        "\"notice\":{\"summary\":\"s\"}}";
    propose(f, "alice", brief, "EA-1", 1);
    int64_t now = (int64_t)time(NULL), approved = now - 2 * DAY;
    int64_t in_suspend = approved + 2 * 3600, off = approved + DAY;
    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-1", approved, &d), 0);

    /* Asked before "off" began: suspended. */
    assert_int_equal(cutoff_db_snapshot(f->db, NULL, in_suspend, &snap, &d), 0);
    assert_int_equal(decide(snap, "sub-a", "storage.read", in_suspend), CUTOFF_REASON_SUSPENDED);
    cutoff_snapshot_release(snap);
    /* Built now, it marks EA-1 expired and leaves it out: it cannot bite
     * at or after now. */
    assert_int_equal(cutoff_db_snapshot(f->db, NULL, now, &snap, &d), 0);
    assert_int_equal(cutoff_snapshot_action_count(snap), 0);
    assert_int_equal(decide(snap, "sub-a", "storage.read", now), CUTOFF_REASON_ALLOW);
    cutoff_snapshot_release(snap);
    cutoff_action_spec *a = NULL;
    assert_int_equal(cutoff_db_action_get(f->db, "EA-1", 0, &a), 0);
    assert_int_equal(a->state, CUTOFF_STATE_EXPIRED);
    cutoff_action_free(a);
    char *json = NULL;
    assert_int_equal(cutoff_db_action_list(f->db, &json), 0);
    assert_non_null(strstr(json, "\"state\":\"expired\""));
    cutoff_free(json);

    /* Asked again, after the expiry, about the same times: the same
     * answers, at each phase and at the boundaries. */
    assert_int_equal(cutoff_db_snapshot(f->db, NULL, approved - 1, &snap, &d), 0);
    assert_int_equal(decide(snap, "sub-a", "storage.write", approved - 1), CUTOFF_REASON_ALLOW);
    assert_int_equal(decide(snap, "sub-a", "storage.write", approved), CUTOFF_REASON_READ_ONLY);
    assert_int_equal(decide(snap, "sub-a", "storage.read", approved), CUTOFF_REASON_ALLOW);
    assert_int_equal(decide(snap, "sub-a", "storage.read", in_suspend), CUTOFF_REASON_SUSPENDED);
    assert_int_equal(decide(snap, "sub-a", "storage.read", off - 1), CUTOFF_REASON_SUSPENDED);
    assert_int_equal(decide(snap, "sub-a", "storage.read", off), CUTOFF_REASON_ALLOW);
    cutoff_snapshot_release(snap);

    /* A new version supersedes the expired one, which decides no more. */
    const char *v2 = "{\"id\":\"EA-1\",\"case\":\"CASE-1\",\"scope\":[\"unit-8200\"],"
                     "\"deny\":[\"ai.*\"],\"phases\":[{\"at\":\"+0\",\"mode\":\"suspend\"}],"
                     "\"status\":403,\"notice\":{\"summary\":\"s\"}}";
    propose(f, "alice", v2, "EA-1", 2);
    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-1", now, &d), 0);
    assert_int_equal(cutoff_db_action_get(f->db, "EA-1", 1, &a), 0);
    assert_int_equal(a->state, CUTOFF_STATE_SUPERSEDED);
    cutoff_action_free(a);
    assert_int_equal(cutoff_db_snapshot(f->db, NULL, in_suspend, &snap, &d), 0);
    assert_int_equal(decide(snap, "sub-a", "storage.read", in_suspend), CUTOFF_REASON_ALLOW);
    cutoff_snapshot_release(snap);
}

/* Lifting an expired version ends it at every time. */
static void test_lift_expired(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    cutoff_snapshot *snap = NULL;
    load_world(f);
    open_case_1(f);
    const char *brief =
        "{\"case\":\"CASE-1\",\"scope\":[\"unit-8200\"],\"deny\":[\"storage.*\",\"ai.*\"],"
        "\"phases\":[{\"at\":\"+0\",\"mode\":\"suspend\"},{\"at\":\"+1d\","
        "\"mode\":\"off\"}],\"status\":403,\"notice\":{\"summary\":\"s\"}}";
    propose(f, "alice", brief, "EA-1", 1);
    int64_t now = (int64_t)time(NULL), approved = now - 2 * DAY;
    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-1", approved, &d), 0);
    assert_int_equal(cutoff_db_snapshot(f->db, NULL, now, &snap, &d), 0);
    cutoff_snapshot_release(snap);
    cutoff_action_spec *a = NULL;
    assert_int_equal(cutoff_db_action_get(f->db, "EA-1", 0, &a), 0);
    assert_int_equal(a->state, CUTOFF_STATE_EXPIRED);
    cutoff_action_free(a);
    /* Still in force for the times of its phases, it keeps what it names. */
    assert_int_equal(
        cutoff_db_catalog_load(f->db, "alice", CATALOG_NO_AI, strlen(CATALOG_NO_AI), &d),
        CUTOFF_ESTATE);
    assert_non_null(strstr(d.message, "expired action EA-1 v1 denies \"ai.*\""));

    assert_int_equal(cutoff_db_action_lift(f->db, "carol", "EA-1", now, "over", &d), 0);
    assert_int_equal(cutoff_db_action_get(f->db, "EA-1", 0, &a), 0);
    assert_int_equal(a->state, CUTOFF_STATE_LIFTED);
    cutoff_action_free(a);
    assert_int_equal(cutoff_db_snapshot(f->db, NULL, approved, &snap, &d), 0);
    assert_int_equal(decide(snap, "sub-a", "storage.read", approved), CUTOFF_REASON_ALLOW);
    cutoff_snapshot_release(snap);
    /* Nothing left to lift. */
    assert_int_equal(cutoff_db_action_lift(f->db, "carol", "EA-1", now, NULL, &d), CUTOFF_ESTATE);
}

/* The verdict on a snapshot of as_of, asked about that moment. */
static cutoff_reason decide_as_of(fixture *f, const char *sub, const char *action, int64_t as_of,
                                  int *version)
{
    cutoff_diag d;
    cutoff_snapshot *snap = NULL;
    cutoff_verdict v;
    int rc = cutoff_db_snapshot_as_of(f->db, as_of, &snap, &d);
    if (rc != 0)
        fail_msg("as of %lld: %s: %s", (long long)as_of, cutoff_errname(rc), d.message);
    cutoff_check(snap, sub, action, NULL, as_of, &v);
    *version = v.by ? v.by->version : 0;
    cutoff_snapshot_release(snap);
    return v.reason;
}

/* As of a moment: the versions approved by then and not yet lifted or
 * superseded, with the explicit times the library was given. */
static void test_snapshot_as_of(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    int version = 0;
    int64_t loaded = (int64_t)time(NULL);
    load_world(f);
    open_case_1(f);
#define BRIEF(ID, DENY, MODE)                                                                      \
    "{\"id\":\"" ID "\",\"case\":\"CASE-1\",\"scope\":[\"unit-8200\"],\"deny\":[\"" DENY           \
    "\"],\"phases\":[{\"at\":\"+0\",\"mode\":\"" MODE "\"}],\"status\":403,"                       \
    "\"notice\":{\"summary\":\"s\"}}"
    int64_t a1 = loaded + 100, withdrawn = loaded + 150, a2 = loaded + 200, lifted = loaded + 300;
    propose(f, "alice", BRIEF("EA-1", "storage.*", "suspend"), "EA-1", 1);
    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-1", a1, &d), 0);
    propose(f, "alice", BRIEF("EA-2", "security.*", "suspend"), "EA-2", 1);
    assert_int_equal(cutoff_db_action_lift(f->db, "alice", "EA-2", withdrawn, NULL, &d), 0);
    propose(f, "alice", BRIEF("EA-1", "ai.*", "read-only"), "EA-1", 2);
    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-1", a2, &d), 0);
    assert_int_equal(cutoff_db_action_lift(f->db, "carol", "EA-1", lifted, NULL, &d), 0);
#undef BRIEF

    /* Before the approval nothing bites; from it, version 1. */
    assert_int_equal(decide_as_of(f, "sub-a", "storage.read", a1 - 1, &version),
                     CUTOFF_REASON_ALLOW);
    assert_int_equal(decide_as_of(f, "sub-a", "storage.read", a1, &version),
                     CUTOFF_REASON_SUSPENDED);
    assert_int_equal(version, 1);
    /* The withdrawn draft never was in force. */
    assert_int_equal(decide_as_of(f, "sub-a", "security.scan", withdrawn, &version),
                     CUTOFF_REASON_ALLOW);
    /* Version 1 until the second is approved, which supersedes it. */
    assert_int_equal(decide_as_of(f, "sub-a", "storage.read", a2 - 1, &version),
                     CUTOFF_REASON_SUSPENDED);
    assert_int_equal(version, 1);
    assert_int_equal(decide_as_of(f, "sub-a", "storage.read", a2, &version), CUTOFF_REASON_ALLOW);
    assert_int_equal(decide_as_of(f, "sub-a", "ai.transcribe", a2, &version),
                     CUTOFF_REASON_READ_ONLY);
    assert_int_equal(version, 2);
    /* Until the lift. */
    assert_int_equal(decide_as_of(f, "sub-a", "ai.transcribe", lifted - 1, &version),
                     CUTOFF_REASON_READ_ONLY);
    assert_int_equal(decide_as_of(f, "sub-a", "ai.transcribe", lifted, &version),
                     CUTOFF_REASON_ALLOW);

    /* Before any catalog: nothing to decide with. */
    cutoff_snapshot *snap = NULL;
    memset(&d, 0, sizeof d);
    assert_int_equal(cutoff_db_snapshot_as_of(f->db, loaded - 100000, &snap, &d), CUTOFF_ENOTFOUND);
    assert_null(snap);
    assert_non_null(strstr(d.message, "no catalog had been loaded"));
    assert_int_equal(cutoff_db_snapshot_as_of(NULL, a1, &snap, &d), CUTOFF_EINVAL);
}

/* Today's tree may not build on the catalog of then: a clear refusal. */
static void test_snapshot_as_of_old_catalog(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    cutoff_snapshot *snap = NULL;
    cutoff_import_stats st;
    int64_t first = (int64_t)time(NULL);
    assert_int_equal(
        cutoff_db_catalog_load(f->db, "alice", CATALOG_NO_BASIC, strlen(CATALOG_NO_BASIC), &d), 0);
    /* The catalog history is kept by the second. */
    sleep(1);
    int64_t second = (int64_t)time(NULL);
    assert_int_equal(cutoff_db_catalog_load(f->db, "alice", CATALOG, strlen(CATALOG), &d), 0);
    assert_int_equal(import_text(f->db, "alice", WORLD, &st, &d), 0);
    memset(&d, 0, sizeof d);
    assert_int_equal(
        cutoff_db_snapshot_as_of(f->db, second - 1 < first ? first : second - 1, &snap, &d),
        CUTOFF_ESTATE);
    assert_null(snap);
    assert_non_null(strstr(d.message, "today's tree does not build on the catalog"));
    assert_int_equal(cutoff_db_snapshot_as_of(f->db, second + 1, &snap, &d), 0);
    cutoff_verdict v;
    cutoff_check(snap, "sub-b", "ai.transcribe", NULL, second + 1, &v);
    assert_int_equal(v.reason, CUTOFF_REASON_NOT_ENTITLED);
    cutoff_snapshot_release(snap);
}

/* ===================================================================== */
/* Nodes shown                                                            */
/* ===================================================================== */

static void test_node_show(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    char *text = NULL;
    load_world(f);
    open_case_1(f);
    propose(f, "alice", ACTION_8200, "EA-1", 1);
    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-1", T0, &d), 0);

    assert_int_equal(cutoff_db_node_show(f->db, "sub-a", &text), 0);
    json_t *n = json_loads(text, 0, NULL);
    cutoff_free(text);
    assert_string_equal(jstr(n, "kind"), "subscription");
    assert_string_equal(jstr(n, "parent"), "unit-8200");
    assert_true(json_is_null(json_object_get(n, "plan")));
    assert_string_equal(jstr(n, "effective_plan"), "enterprise");
    assert_string_equal(jstr(n, "plan_from"), "mod");
    json_t *anc = json_object_get(n, "ancestors");
    assert_int_equal(json_array_size(anc), 3);
    assert_string_equal(json_string_value(json_array_get(anc, 0)), "unit-8200");
    assert_string_equal(json_string_value(json_array_get(anc, 2)), "mod");
    json_t *acts = json_object_get(n, "actions");
    assert_int_equal(json_array_size(acts), 1);
    assert_string_equal(jstr(json_array_get(acts, 0), "id"), "EA-1");
    assert_string_equal(jstr(json_array_get(acts, 0), "via"), "unit-8200");
    assert_string_equal(jstr(json_array_get(acts, 0), "state"), "active");
    json_decref(n);

    assert_int_equal(cutoff_db_node_show(f->db, "mod", &text), 0);
    n = json_loads(text, 0, NULL);
    cutoff_free(text);
    assert_int_equal(jint(n, "children"), 1);
    assert_int_equal(jint(n, "descendants"), 6);
    assert_int_equal(jint(n, "subscriptions_below"), 3);
    assert_int_equal(json_array_size(json_object_get(n, "actions")), 0); /* scope is below it */
    assert_true(json_is_null(json_object_get(n, "parent")));
    json_decref(n);

    assert_int_equal(cutoff_db_node_show(f->db, "nobody", &text), CUTOFF_ENOTFOUND);
}

/* ===================================================================== */
/* Audit API                                                              */
/* ===================================================================== */

static void test_audit_append_and_list(void **state)
{
    fixture *f = *state;
    char *text = NULL;
    assert_int_equal(
        cutoff_db_audit_append(f->db, "daemon", "admin.login", "alice", "{\"from\":\"127.0.0.1\"}"),
        0);
    assert_int_equal(cutoff_db_audit_append(f->db, "daemon", "admin.logout", "alice", NULL), 0);
    assert_int_equal(cutoff_db_audit_append(f->db, "daemon", "admin.x", "alice", "{not json"),
                     CUTOFF_EPARSE);
    assert_int_equal(cutoff_db_audit_append(f->db, "daemon", "bad verb", "alice", NULL),
                     CUTOFF_EINVAL);
    assert_int_equal(cutoff_db_audit_append(f->db, "", "admin.x", "alice", NULL), CUTOFF_EINVAL);
    assert_int_equal(count_rows(f->path, "SELECT count(*) FROM audit"), 2);

    assert_int_equal(cutoff_db_audit_list(f->db, 1, 0, &text), 0);
    json_t *l = json_loads(text, 0, NULL);
    cutoff_free(text);
    assert_int_equal(json_array_size(l), 1);
    json_t *r = json_array_get(l, 0);
    assert_int_equal(jint(r, "seq"), 2);
    assert_string_equal(jstr(r, "verb"), "admin.logout");
    assert_true(json_is_object(json_object_get(r, "payload")));
    assert_int_equal(strlen(jstr(r, "hash")), 64);
    json_decref(l);

    assert_int_equal(cutoff_db_audit_list(f->db, 0, 1, &text), 0);
    l = json_loads(text, 0, NULL);
    cutoff_free(text);
    assert_int_equal(json_array_size(l), 1);
    assert_string_equal(jstr(json_object_get(json_array_get(l, 0), "payload"), "from"),
                        "127.0.0.1");
    json_decref(l);
}

/* ===================================================================== */
/* Nothing half-written, even when memory runs out                        */
/* ===================================================================== */

/* Runs `change` with the n-th allocation failing, for n = 0, 1, 2, ...
 * until it succeeds: each failure must leave the database as it was. */
static void sweep_allocation_failures(fixture *f, int (*change)(fixture *f), const char *what)
{
    char *before = dump(f->path);
    for (long n = 0;; n++) {
        co__alloc_fail_after(n);
        int rc = change(f);
        co__alloc_fail_after(-1);
        if (rc == 0)
            break;
        char *after = dump(f->path);
        if (strcmp(before, after) != 0)
            fail_msg("%s: failing allocation %ld (%s) left a change behind", what, n,
                     cutoff_errname(rc));
        free(after);
        if (n > 100000)
            fail_msg("%s never succeeded", what);
    }
    free(before);
}

static int change_import(fixture *f)
{
    cutoff_diag d;
    return import_text(f->db, "alice",
                       "{\"id\":\"t9\",\"kind\":\"tenant\",\"parent\":null}\n"
                       "{\"id\":\"sub-c\",\"kind\":\"subscription\",\"parent\":\"t9\"}\n",
                       NULL, &d);
}

static int change_propose(fixture *f)
{
    cutoff_diag d;
    char id[CUTOFF_ID_MAX + 1];
    int v;
    return cutoff_db_action_propose(f->db, "alice", ACTION_8200, strlen(ACTION_8200), id, &v, &d);
}

static int change_approve(fixture *f)
{
    cutoff_diag d;
    return cutoff_db_action_approve(f->db, "bob", "EA-1", T0, &d);
}

static int change_case(fixture *f)
{
    cutoff_diag d;
    char id[CUTOFF_ID_MAX + 1];
    const char *scope[] = {"mod"};
    return cutoff_db_case_open(f->db, "alice", NULL, "t", scope, 1, id, &d);
}

static void test_out_of_memory_leaves_nothing(void **state)
{
    fixture *f = *state;
    load_world(f);
    sweep_allocation_failures(f, change_case, "case open");
    sweep_allocation_failures(f, change_import, "import");
    sweep_allocation_failures(f, change_propose, "propose");
    sweep_allocation_failures(f, change_approve, "approve");
    cutoff_audit_report rep;
    assert_int_equal(cutoff_db_audit_verify(f->db, &rep), 0);
    assert_int_equal(rep.records, 6);
}

/* 70000 subscriptions under "mod": large enough for the parallel parse
 * and validation. */
static char *bulk_text_with(size_t bad_line_1, const char *bad_1, size_t bad_line_2,
                            const char *bad_2)
{
    co__buf text;
    co__buf_init(&text);
    for (size_t line = 1; line <= 70000; line++) {
        if (line == bad_line_1)
            co__buf_printf(&text, "%s\n", bad_1);
        else if (line == bad_line_2)
            co__buf_printf(&text, "%s\n", bad_2);
        else
            co__buf_printf(&text,
                           "{\"id\":\"s%zu\",\"kind\":\"subscription\",\"parent\":\"mod\","
                           "\"name\":\"subscription number %zu\"}\n",
                           line - 1, line - 1);
    }
    char *out = strdup(text.data);
    co__buf_free(&text);
    return out;
}

static char *bulk_text(void)
{
    return bulk_text_with(0, NULL, 0, NULL);
}

/* Large inputs are parsed in chunks on several threads and checked while
 * the rows are written: still the first bad line in the file is reported,
 * and nothing is left behind. */
static void test_large_import_errors(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    load_world(f);
    char *before = dump(f->path);
    static const struct {
        size_t line_1;
        const char *text_1;
        size_t line_2;
        const char *text_2;
        size_t want_line;
        const char *message;
    } cases[] = {
        /* two syntax errors on either side of the split between the two
         * halves: the earlier line wins, though the thread on the second
         * half gets to its error first */
        {36000, "{\"id\":", 34000, "{\"id\":\"x\",\"kind\":\"tenant\",}", 34000,
         "nodes.jsonl:34000: "},
        {30000, "{\"id\":\"zz\",\"kind\":\"division\"}", 65000, "not json", 30000,
         "nodes.jsonl:30000: "},
        /* a tree error found while the rows are being written */
        {60000, "{\"id\":\"u-60000\",\"kind\":\"unit\",\"parent\":\"nowhere\"}", 0, NULL, 60000,
         "nodes.jsonl:60000: parent \"nowhere\" of \"u-60000\" is not in the tree"},
        {10, "{\"id\":\"s20\",\"kind\":\"subscription\",\"parent\":\"mod\"}", 0, NULL, 21,
         "lines 10 and 21"},
        /* one id in either half of the sort, which runs on two threads */
        {50000, "{\"id\":\"s10\",\"kind\":\"subscription\",\"parent\":\"mod\"}", 0, NULL, 50000,
         "lines 11 and 50000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *text =
            bulk_text_with(cases[i].line_1, cases[i].text_1, cases[i].line_2, cases[i].text_2);
        memset(&d, 0, sizeof d);
        int rc = import_text(f->db, "alice", text, NULL, &d);
        free(text);
        if (rc == 0 || d.line != cases[i].want_line || strstr(d.message, cases[i].message) == NULL)
            fail_msg("case %zu: rc %s, line %zu, \"%s\"", i, cutoff_errname(rc), d.line, d.message);
        char *after = dump(f->path);
        if (strcmp(before, after) != 0)
            fail_msg("case %zu: the database changed", i);
        free(after);
    }
    free(before);
    /* the failures left the handle as good as new: the file imports */
    char *text = bulk_text();
    cutoff_import_stats st;
    int rc = import_text(f->db, "alice", text, &st, &d);
    free(text);
    if (rc != 0)
        fail_msg("import after the failures: %s: %s", cutoff_errname(rc), d.message);
    assert_int_equal(st.inserted, 70000);
}

/* The store itself fails halfway through a change (a trigger raises an
 * error on the audit insert, or on one node row): the change is rolled
 * back whole. */
static void test_store_failure_rolls_back(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    char id[CUTOFF_ID_MAX + 1];
    const char *scope[] = {"mod"};
    load_world(f);
    char *bulk = bulk_text();
    char *before = dump(f->path);

    bool pg = test_db_on_pg();
    if (pg)
        exec_sql(f->path, "CREATE FUNCTION inject() RETURNS trigger LANGUAGE plpgsql AS"
                          " $$BEGIN RAISE EXCEPTION 'injected failure'; END$$;"
                          "CREATE TRIGGER inject BEFORE INSERT ON audit"
                          " FOR EACH ROW EXECUTE FUNCTION inject();");
    else
        exec_sql(f->path, "CREATE TRIGGER inject BEFORE INSERT ON audit"
                          " BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
    assert_int_equal(cutoff_db_case_open(f->db, "alice", NULL, "t", scope, 1, id, &d),
                     CUTOFF_ESTORE);
    assert_contains(d.message, "injected failure");
    assert_int_equal(import_text(f->db, "alice", bulk, NULL, &d), CUTOFF_ESTORE);
    assert_contains(d.message, "injected failure");
    if (pg)
        exec_sql(f->path, "DROP TRIGGER inject ON audit;"
                          "CREATE FUNCTION inject_node() RETURNS trigger LANGUAGE plpgsql AS"
                          " $$BEGIN RAISE EXCEPTION 'injected node failure'; END$$;"
                          "CREATE TRIGGER inject BEFORE INSERT ON nodes FOR EACH ROW"
                          " WHEN (NEW.id = 's50000') EXECUTE FUNCTION inject_node();");
    else
        exec_sql(f->path, "DROP TRIGGER inject;"
                          "CREATE TRIGGER inject BEFORE INSERT ON nodes WHEN NEW.id = 's50000'"
                          " BEGIN SELECT RAISE(ABORT, 'injected node failure'); END;");
    assert_int_equal(import_text(f->db, "alice", bulk, NULL, &d), CUTOFF_ESTORE);
    assert_contains(d.message, "injected node failure");
    exec_sql(f->path, pg ? "DROP TRIGGER inject ON nodes;"
                           "DROP FUNCTION inject(); DROP FUNCTION inject_node()"
                         : "DROP TRIGGER inject");
    char *after = dump(f->path);
    assert_string_equal(before, after);
    free(after);
    free(before);

    cutoff_import_stats st;
    assert_int_equal(import_text(f->db, "alice", bulk, &st, &d), 0);
    assert_int_equal(st.inserted, 70000);
    assert_int_equal(count_rows(f->path, "SELECT count(*) FROM nodes WHERE parent = 'mod'"), 70001);
    cutoff_audit_report rep;
    assert_int_equal(cutoff_db_audit_verify(f->db, &rep), 0);
    assert_int_equal(rep.records, 3);
    free(bulk);
}

/* ===================================================================== */
/* Names, free text and regions                                           */
/* ===================================================================== */

/* Every spelling that could pass for another person's name is refused as
 * an actor, and four eyes holds against every spelling that is allowed. */
static void test_actor_names_and_four_eyes(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    char id[CUTOFF_ID_MAX + 1];
    int version;
    load_world(f);
    open_case_1(f);
    propose(f, "alice", ACTION_8200, "EA-1", 1);
    static const char *const spoofed[] = {
        "alice ",
        " alice",
        "al ice",
        "alice\t",
        "alice\n",
        "\x1b[1malice",
        "alice\xe2\x80\x8b",
        "\xd0\xb0lice",
        "alice\xc2\xa0",
        "\xef\xbb\xbf"
        "alice",
        "\xef\xbd\x81lice",
        "a\xcc\x81lice",
        "\xe2\x80\xae"
        "ecila",
        "",
        NULL,
    };
    const char *const scope[] = {"unit-8200"};
    char *before = dump(f->path);
    for (size_t i = 0; i < sizeof spoofed / sizeof *spoofed; i++) {
        memset(&d, 0, sizeof d);
        if (cutoff_db_action_approve(f->db, spoofed[i], "EA-1", T0, &d) != CUTOFF_EINVAL)
            fail_msg("approve as spelling %zu: %s", i, d.message);
        assert_true(d.message[0] != '\0');
        if (cutoff_db_action_propose(f->db, spoofed[i], ACTION_8200, strlen(ACTION_8200), id,
                                     &version, &d) != CUTOFF_EINVAL)
            fail_msg("propose as spelling %zu", i);
        if (cutoff_db_case_open(f->db, spoofed[i], NULL, "t", scope, 1, id, &d) != CUTOFF_EINVAL)
            fail_msg("case open as spelling %zu", i);
        if (cutoff_db_action_lift(f->db, spoofed[i], "EA-1", T0, NULL, &d) != CUTOFF_EINVAL)
            fail_msg("lift as spelling %zu", i);
    }
    static const char *const cased[] = {"Alice", "ALICE", "aLiCe", "alicE"};
    for (size_t i = 0; i < sizeof cased / sizeof *cased; i++) {
        memset(&d, 0, sizeof d);
        if (cutoff_db_action_approve(f->db, cased[i], "EA-1", T0, &d) != CUTOFF_EPERM)
            fail_msg("\"%s\" approved alice's draft: %s", cased[i], d.message);
        assert_contains(d.message, "proposed EA-1 v1 and cannot approve it");
    }
    char *after = dump(f->path);
    assert_string_equal(before, after);
    free(after);
    free(before);

    /* a row stored with another spelling (before names were ids, or by
     * hand) is compared the same way */
    exec_sql(f->path, "UPDATE actions SET proposed_by = 'ALICE' WHERE id = 'EA-1'");
    assert_int_equal(cutoff_db_action_approve(f->db, "alice", "EA-1", T0, &d), CUTOFF_EPERM);
    assert_int_equal(cutoff_db_action_approve(f->db, "Bob", "EA-1", T0, &d), 0);
}

/* Each free-text field refuses control and hidden or direction-changing
 * characters, and the database is unchanged after each refusal. */
static void test_free_text_fields(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    char id[CUTOFF_ID_MAX + 1], sha[65], path[160];
    load_world(f);
    open_case_1(f);
    propose(f, "alice", ACTION_8200, "EA-1", 1);
    snprintf(path, sizeof path, "%s/evidence.bin", f->dir);
    FILE *ev = fopen(path, "w");
    assert_non_null(ev);
    fputs("abc", ev);
    fclose(ev);
    const char *const scope[] = {"unit-8200"};
    static const char *const hidden[] = {
        "x\x1b]0;owned\x07",
        "x\xe2\x80\xae"
        "fdp.exe",
        "x\xe2\x81\xa6"
        "y",
        "x\xe2\x80\x8by",
        "x\xef\xbb\xbfy",
        "x\xc2\x9by",
        "x\ry",
        "x\xe2\x80\xa8y",
        "x\xf3\xa0\x81\xa1y",
        "x\xff",
    };
    char *before = dump(f->path);
    for (size_t i = 0; i < sizeof hidden / sizeof *hidden; i++) {
        const char *t = hidden[i];
        if (cutoff_db_case_open(f->db, "bob", NULL, t, scope, 1, id, &d) != CUTOFF_EINVAL)
            fail_msg("case title %zu accepted", i);
        assert_contains(d.message, "case title");
        if (cutoff_db_case_add_evidence(f->db, "bob", "CASE-1", path, NULL, NULL, t, 0, sha, &d) !=
            CUTOFF_EINVAL)
            fail_msg("evidence note %zu accepted", i);
        assert_contains(d.message, "evidence note");
        if (cutoff_db_case_add_evidence(f->db, "bob", "CASE-1", path, t, NULL, NULL, 0, sha, &d) !=
            CUTOFF_EINVAL)
            fail_msg("evidence name %zu accepted", i);
        assert_contains(d.message, "evidence file name");
        if (cutoff_db_case_set_findings(f->db, "bob", "CASE-1", t, &d) != CUTOFF_EINVAL)
            fail_msg("findings %zu accepted", i);
        assert_contains(d.message, "findings");
        if (cutoff_db_action_lift(f->db, "bob", "EA-1", T0, t, &d) != CUTOFF_EINVAL)
            fail_msg("lift reason %zu accepted", i);
        assert_contains(d.message, "reason");
    }
    /* one-line fields refuse LF and TAB; findings and notes keep them */
    assert_int_equal(cutoff_db_case_open(f->db, "bob", NULL, "a\nb", scope, 1, id, &d),
                     CUTOFF_EINVAL);
    assert_int_equal(cutoff_db_case_open(f->db, "bob", NULL, "a\tb", scope, 1, id, &d),
                     CUTOFF_EINVAL);
    assert_int_equal(cutoff_db_action_lift(f->db, "bob", "EA-1", T0, "a\nb", &d), CUTOFF_EINVAL);
    char *after = dump(f->path);
    assert_string_equal(before, after);
    free(after);
    free(before);
    assert_int_equal(
        cutoff_db_case_set_findings(f->db, "bob", "CASE-1", "1.\tusage\n2.\tcost\n", &d), 0);
    assert_int_equal(cutoff_db_case_add_evidence(f->db, "bob", "CASE-1", path,
                                                 "r\xc3\xa9sum\xc3\xa9.csv", NULL,
                                                 "line one\nline two", 0, sha, &d),
                     0);
}

/* CATALOG with the first `from` replaced by `to` (calloc'd). */
static char *catalog_edited(const char *from, const char *to)
{
    const char *at = strstr(CATALOG, from);
    assert_non_null(at);
    size_t n = strlen(CATALOG) - strlen(from) + strlen(to);
    char *text = calloc(1, n + 1);
    assert_non_null(text);
    memcpy(text, CATALOG, (size_t)(at - CATALOG));
    strcat(text, to);
    strcat(text, at + strlen(from));
    return text;
}

/* An action names catalog regions, or prefixes that match one. */
static void test_action_regions_in_catalog(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    char id[CUTOFF_ID_MAX + 1];
    int version;
    load_world(f);
    open_case_1(f);
#define REGIONS(list)                                                                              \
    "{\"case\":\"CASE-1\",\"scope\":[\"unit-8200\"],\"deny\":[\"storage.*\"],\"regions\":" list    \
    ",\"phases\":[{\"at\":\"+0\",\"mode\":\"suspend\"}],\"notice\":{\"summary\":\"s\"}}"
    static const struct {
        const char *doc, *message;
    } bad[] = {
        {REGIONS("[\"mars\"]"), "regions[0]: \"mars\" is no region of the catalog"},
        {REGIONS("[\"us-east\",\"EU-NETHERLANDS\"]"), "regions[1]"},
        {REGIONS("[\"ap-*\"]"), "regions[0]: \"ap-*\" matches no region"},
        {REGIONS("[\"eu-netherlands-2\"]"), "regions[0]"},
    };
    char *before = dump(f->path);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&d, 0, sizeof d);
        if (cutoff_db_action_propose(f->db, "alice", bad[i].doc, strlen(bad[i].doc), id, &version,
                                     &d) != CUTOFF_EINVAL)
            fail_msg("regions case %zu accepted", i);
        assert_contains(d.message, bad[i].message);
    }
    char *after = dump(f->path);
    assert_string_equal(before, after);
    free(after);
    free(before);
    propose(f, "alice", REGIONS("[\"eu-*\",\"us-east\"]"), "EA-1", 1);
    propose(f, "alice", REGIONS("[\"*\"]"), "EA-2", 1);
    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-1", T0, &d), 0);
#undef REGIONS
    /* A new catalog may not take away the regions an active action is
     * limited to: EA-1 would stop biting in eu-* without a word. */
    char *no_eu = catalog_edited("\"eu-netherlands\",", "\"ap-tokyo\",");
    before = dump(f->path);
    assert_int_equal(cutoff_db_catalog_apply(f->db, "alice", no_eu, strlen(no_eu),
                                             CUTOFF_CATALOG_FORCE, NULL, &d),
                     CUTOFF_ESTATE);
    assert_contains(d.message, "EA-1 v1 is limited to region \"eu-*\"");
    after = dump(f->path);
    assert_string_equal(before, after);
    free(after);
    free(before);
    free(no_eu);
}

/* A notice the parser refuses never reaches the database. */
static void test_action_notice_refused(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    char id[CUTOFF_ID_MAX + 1];
    int version;
    load_world(f);
    open_case_1(f);
    static const char *const docs[] = {
        "{\"case\":\"CASE-1\",\"scope\":[\"unit-8200\"],\"deny\":[\"storage.*\"],\"phases\":[{"
        "\"at\":\"+0\",\"mode\":\"suspend\"}],\"status\":451,\"notice\":{\"summary\":\"s\","
        "\"ref\":\"https://p.example/n>; rel=\\\"x\\\", <https://evil.example/\"}}",
        "{\"case\":\"CASE-1\",\"scope\":[\"unit-8200\"],\"deny\":[\"storage.*\"],\"phases\":[{"
        "\"at\":\"+0\",\"mode\":\"suspend\"}],\"notice\":{\"summary\":\"\\u202egnirots\"}}",
    };
    char *before = dump(f->path);
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++)
        assert_int_equal(
            cutoff_db_action_propose(f->db, "alice", docs[i], strlen(docs[i]), id, &version, &d),
            CUTOFF_EPARSE);
    char *after = dump(f->path);
    assert_string_equal(before, after);
    free(after);
    free(before);
}

/* ===================================================================== */
/* Hostile input: catalog changes, evidence files, read-only and foreign  */
/* databases                                                              */
/* ===================================================================== */

static void test_catalog_change_under_active_action(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    load_world(f);
    open_case_1(f);
    propose(f, "alice", ACTION_8200, "EA-1", 1);
    assert_int_equal(cutoff_db_action_approve(f->db, "bob", "EA-1", T0, &d), 0);

    char *write_read = catalog_edited("{\"name\":\"read\",\"class\":\"read\"}",
                                      "{\"name\":\"read\",\"class\":\"write\"}");
    char *before = dump(f->path), *impact = NULL;
    assert_int_equal(
        cutoff_db_catalog_apply(f->db, "alice", write_read, strlen(write_read), 0, &impact, &d),
        CUTOFF_ESTATE);
    assert_contains(d.message, "EA-1");
    assert_contains(d.message, "storage.read");
    assert_non_null(impact);
    json_t *im = json_loads(impact, 0, NULL);
    cutoff_free(impact);
    json_t *line = json_array_get(
        json_object_get(json_array_get(json_object_get(im, "enforcement_actions"), 0),
                        "catalog_actions"),
        0);
    assert_string_equal(jstr(line, "action"), "storage.read");
    assert_string_equal(jstr(line, "class_after"), "write");
    assert_int_equal(jint(line, "subscriptions_changed"), 2); /* sub-a and sub-b */
    json_decref(im);
    char *after = dump(f->path);
    assert_string_equal(before, after);
    free(after);
    free(before);
    /* The plain load refuses it the same way. */
    assert_int_equal(cutoff_db_catalog_load(f->db, "alice", write_read, strlen(write_read), &d),
                     CUTOFF_ESTATE);

    /* A class the action does not target (security.* is excepted) changes nothing. */
    char *scan_write = catalog_edited("{\"name\":\"scan\",\"class\":\"read\"}",
                                      "{\"name\":\"scan\",\"class\":\"write\"}");
    assert_int_equal(
        cutoff_db_catalog_apply(f->db, "alice", scan_write, strlen(scan_write), 0, &impact, &d), 0);
    assert_null(impact);

    /* Forced: loaded, and the record says what changed. */
    assert_int_equal(cutoff_db_catalog_apply(f->db, "alice", write_read, strlen(write_read),
                                             CUTOFF_CATALOG_FORCE, &impact, &d),
                     0);
    assert_non_null(impact);
    cutoff_free(impact);
    json_t *rec = last_audit(f->db);
    json_t *forced = json_object_get(json_object_get(rec, "payload"), "forced_changes");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(forced, "catalog_actions"), 0)),
        "storage.read");
    json_decref(rec);
    free(scan_write);
    free(write_read);
}

static void test_evidence_must_be_regular(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    char sha[65], fifo[160];
    load_world(f);
    open_case_1(f);
    snprintf(fifo, sizeof fifo, "%s/evidence.bin", f->dir); /* removed by teardown */
    assert_int_equal(mkfifo(fifo, 0600), 0);
    const char *bad[] = {"/dev/zero", f->dir, fifo};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cutoff_db_case_add_evidence(f->db, "alice", "CASE-1", bad[i], NULL,
                                                     "text/plain", "n", 0, sha, &d),
                         CUTOFF_EINVAL);
        assert_contains(d.message, "give a regular file");
    }
}

static void test_read_only_and_foreign(void **state)
{
    fixture *f = *state;
    cutoff_diag d;
    cutoff_db *ro = NULL;
    char id[CUTOFF_ID_MAX + 1];
    const char *scope[] = {"unit-8200"};
    load_world(f);
    char *before = dump(f->path);
    assert_int_equal(cutoff_db_open(f->path, CUTOFF_DB_READ_ONLY, &ro, &d), 0);
    assert_int_equal(cutoff_db_case_open(ro, "alice", NULL, "t", scope, 1, id, &d), CUTOFF_ESTORE);
    cutoff_snapshot *snap = NULL;
    assert_int_equal(cutoff_db_snapshot(ro, NULL, T0, &snap, &d), 0);
    cutoff_snapshot_release(snap);
    cutoff_db_close(ro);
    char *after = dump(f->path);
    assert_string_equal(before, after);
    free(after);
    free(before);
    assert_int_equal(cutoff_db_open(f->path, CUTOFF_DB_READ_ONLY | CUTOFF_DB_CREATE, &ro, &d),
                     CUTOFF_EINVAL);

    /* Another program's database: refused, nothing written. */
    char file[160], other[256];
    bool on_files = !test_db_on_pg();
    snprintf(file, sizeof file, "%s/evidence.bin", f->dir); /* removed by teardown */
    assert_non_null(test_db_location(file, other, sizeof other));
    exec_sql(other, "CREATE TABLE people(name TEXT)");
    struct stat was, is;
    if (on_files)
        assert_int_equal(stat(other, &was), 0);
    assert_int_equal(cutoff_db_open(other, CUTOFF_DB_CREATE, &ro, &d), CUTOFF_ESTORE);
    assert_contains(d.message, "table \"people\"");
    if (on_files) {
        assert_int_equal(stat(other, &is), 0);
        assert_int_equal(is.st_size, was.st_size);
    }
    assert_int_equal(test_db_objects(other), 1);
    assert_int_equal(test_db_schema_version(other), 0);
    test_db_remove(other);
}

/* A writer that finds another connection holding SQLite's write lock waits
 * for it, and writes once it is released: it neither fails at once nor
 * loses what it wrote. (How soon it tries again is the store's; nothing
 * here asserts a speed, only that it waited.) */
typedef struct lock_holder {
    sqlite3 *db;
    int commit_rc;
} lock_holder;

static void *hold_then_commit(void *arg)
{
    lock_holder *h = arg;
    struct timespec pause = {0, 300 * 1000000L};
    nanosleep(&pause, NULL);
    h->commit_rc = sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL);
    return NULL;
}

static void test_writer_waits_for_the_lock(void **state)
{
    fixture *f = *state;
    if (test_db_on_pg())
        skip(); /* PostgreSQL locks rows, not the file */
    lock_holder h = {NULL, -1};
    assert_int_equal(sqlite3_open(f->path, &h.db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h.db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    pthread_t holder;
    assert_int_equal(pthread_create(&holder, NULL, hold_then_commit, &h), 0);
    cutoff_receipt r = {"node-a", 0, 1000, "", 1000, "ok"};
    int64_t t0 = co__monotonic_ms();
    int rc = cutoff_db_receipt_put(f->db, &r);
    int64_t waited = co__monotonic_ms() - t0;
    pthread_join(holder, NULL);
    sqlite3_close(h.db);
    assert_int_equal(h.commit_rc, SQLITE_OK);
    assert_int_equal(rc, 0);
    if (waited < 250)
        fail_msg("the write returned after %lld ms, while the lock was held for 300 ms",
                 (long long)waited);
    cutoff_receipt *got = NULL;
    size_t n = 0;
    assert_int_equal(cutoff_db_receipts(f->db, &got, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(got[0].node, "node-a");
    cutoff_receipts_free(got, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_needs_init, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_waits_for_the_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catalog_load_and_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catalog_refuses_stranding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_counts_and_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_names_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_progress_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_needs_catalog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_errors_leave_db_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_case_workflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_workflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_propose_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_marks_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ended_schedule_still_decides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lift_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_as_of, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_as_of_old_catalog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_show, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_append_and_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_import_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_failure_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_actor_names_and_four_eyes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_text_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_regions_in_catalog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_notice_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catalog_change_under_active_action, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evidence_must_be_regular, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_and_foreign, setup, teardown),
    };
    /* CUTOFF_TEST_FILTER=pattern runs only the tests whose names match. */
    if (getenv("CUTOFF_TEST_FILTER"))
        cmocka_set_test_filter(getenv("CUTOFF_TEST_FILTER"));
    return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
