/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_daemon_refresh.c - how cutoffd keeps its published snapshot equal
 * to the database (daemon_refresh_locked), with changes made through a
 * second database handle as the CLI would make them: the kind of change in
 * the store's change log decides the work (tree, actions, or nothing), the
 * wording of audit records decides nothing, a snapshot that marks actions
 * expired settles instead of reloading for ever, and a database that is
 * not the one the daemon followed is reloaded whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon/daemon.h"
#include "../support/dbfiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DAY INT64_C(86400)

static const char CATALOG[] =
    "{\"services\":["
    "{\"name\":\"storage\",\"actions\":[{\"name\":\"read\",\"class\":\"read\"},"
    "{\"name\":\"write\",\"class\":\"write\"}]}],"
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

/* Its last phase, "off", began a day after approval. */
static const char ENDING_ACTION[] =
    "{\"case\":\"CASE-1\",\"scope\":[\"unit-8200\"],\"deny\":[\"storage.*\"],"
    "\"phases\":[{\"at\":\"+0\",\"mode\":\"suspend\"},{\"at\":\"+1d\",\"mode\":\"off\"}],"
    "\"status\":403,\"notice\":{\"summary\":\"s\",\"terms\":\"t\",\"contact\":\"c\"}}";

typedef struct fixture {
    char dir[64];
    char path[128];
    cutoff_db *cli; /* the other writer: what the CLI does on the same file */
    cutoffd d;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/cutoffd-refresh-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/cutoff.db", f->dir);
    cutoff_diag diag;
    assert_int_equal(cutoff_db_open(f->path, CUTOFF_DB_CREATE, &f->cli, &diag), 0);
    assert_int_equal(cutoff_engine_new(&f->d.engine), 0);
    assert_int_equal(cutoff_db_open(f->path, 0, &f->d.db, &diag), 0);
    f->d.log = fopen("/dev/null", "w");
    pthread_mutex_init(&f->d.log_lock, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    daemon_state_close(&f->d);
    fclose(f->d.log);
    pthread_mutex_destroy(&f->d.log_lock);
    cutoff_db_close(f->cli);
    test_db_remove(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void must(int rc, const cutoff_diag *diag, const char *what)
{
    if (rc != 0)
        fail_msg("%s: %s (%s)", what, cutoff_errname(rc), diag->message);
}

static int import_text(cutoff_db *db, const char *text)
{
    FILE *in = tmpfile();
    assert_non_null(in);
    assert_int_equal(fwrite(text, 1, strlen(text), in), strlen(text));
    rewind(in);
    cutoff_diag diag;
    int rc = cutoff_db_nodes_import(db, "alice", in, "nodes.jsonl", NULL, NULL, NULL, &diag);
    fclose(in);
    must(rc, &diag, "import");
    return rc;
}

/* Catalog, tree and an open case CASE-1, written by the other handle. */
static void load_world(fixture *f)
{
    cutoff_diag diag;
    char id[CUTOFF_ID_MAX + 1];
    const char *scope[] = {"unit-8200"};
    must(cutoff_db_catalog_load(f->cli, "alice", CATALOG, strlen(CATALOG), &diag), &diag,
         "catalog");
    import_text(f->cli, WORLD);
    must(cutoff_db_case_open(f->cli, "alice", NULL, "review", scope, 1, id, &diag), &diag, "case");
}

static void refresh(fixture *f, bool force)
{
    cutoff_diag diag = {0};
    must(daemon_refresh_locked(&f->d, force, &diag), &diag, "refresh");
}

static uint64_t published(fixture *f)
{
    return cutoff_engine_version(f->d.engine);
}

static uint64_t db_head(fixture *f)
{
    cutoff_changes c;
    assert_int_equal(cutoff_db_changes(f->cli, 0, &c), 0);
    return c.head;
}

static size_t active_actions(fixture *f)
{
    cutoff_snapshot *s = cutoff_engine_acquire(f->d.engine);
    assert_non_null(s);
    size_t n = cutoff_snapshot_action_count(s);
    cutoff_snapshot_release(s);
    return n;
}

/* ===================================================================== */

/* Each kind of change does its own work and no more; audit records of any
 * wording do nothing. */
static void test_kind_decides_the_work(void **state)
{
    fixture *f = *state;
    cutoff_diag diag;
    char id[CUTOFF_ID_MAX + 1];
    int version;
    const char *scope[] = {"unit-8200"};
    load_world(f);
    refresh(f, true);
    assert_true(atomic_load(&f->d.ready));
    assert_int_equal(f->d.change_seq, db_head(f));
    uint64_t v = published(f);
    cutoff_tree *tree = f->d.tree;
    assert_non_null(tree);

    /* nothing new: nothing published */
    refresh(f, false);
    assert_int_equal(published(f), v);

    /* records whose verbs the old audit-reading refresh took for a new
     * tree or new actions change no state, and reload nothing */
    assert_int_equal(cutoff_db_audit_append(f->cli, "bob", "nodes.import", "nodes", NULL), 0);
    assert_int_equal(cutoff_db_audit_append(f->cli, "bob", "catalog.load", "catalog", NULL), 0);
    assert_int_equal(cutoff_db_audit_append(f->cli, "bob", "action.approve", "EA-1", NULL), 0);
    uint64_t reloads = atomic_load(&f->d.metrics.reloads);
    refresh(f, false);
    assert_int_equal(published(f), v);
    assert_ptr_equal(f->d.tree, tree);
    assert_int_equal(atomic_load(&f->d.metrics.reloads), reloads);

    /* cases: nothing to publish, but the change is applied */
    must(cutoff_db_case_open(f->cli, "alice", NULL, "second", scope, 1, id, &diag), &diag, "case");
    refresh(f, false);
    assert_int_equal(published(f), v);
    assert_int_equal(f->d.change_seq, db_head(f));
    assert_int_equal(atomic_load(&f->d.metrics.reloads), reloads);

    /* actions: recompiled on the same tree */
    must(cutoff_db_action_propose(f->cli, "alice", ACTION, strlen(ACTION), id, &version, &diag),
         &diag, "propose");
    refresh(f, false);
    assert_int_equal(published(f), v + 1);
    assert_ptr_equal(f->d.tree, tree);
    assert_int_equal(active_actions(f), 0);
    must(cutoff_db_action_approve(f->cli, "bob", id, (int64_t)time(NULL), &diag), &diag, "approve");
    refresh(f, false);
    assert_int_equal(published(f), v + 2);
    assert_ptr_equal(f->d.tree, tree);
    assert_int_equal(active_actions(f), 1);

    /* nodes: a new tree, with the actions on it */
    import_text(f->cli, "{\"id\":\"sub-b\",\"kind\":\"subscription\",\"parent\":\"mod\"}\n");
    refresh(f, false);
    assert_int_equal(published(f), v + 3);
    assert_ptr_not_equal(f->d.tree, tree);
    assert_int_equal(cutoff_tree_count(f->d.tree, CUTOFF_NODE_SUBSCRIPTION), 2);
    assert_int_equal(active_actions(f), 1);
    tree = f->d.tree;

    /* an import that changes no node is no change */
    import_text(f->cli, WORLD);
    refresh(f, false);
    assert_int_equal(published(f), v + 3);
    assert_ptr_equal(f->d.tree, tree);

    /* the catalog: a new tree */
    must(cutoff_db_catalog_load(f->cli, "alice", CATALOG, strlen(CATALOG), &diag), &diag,
         "catalog");
    refresh(f, false);
    assert_int_equal(published(f), v + 4);
    assert_ptr_not_equal(f->d.tree, tree);
    assert_int_equal(f->d.change_seq, db_head(f));
}

/* Marking an action expired while building a snapshot is itself a change
 * of actions: the next refresh compiles once more, finds nothing left to
 * expire, and from then on nothing is published. */
static void test_expiry_settles(void **state)
{
    fixture *f = *state;
    cutoff_diag diag;
    char id[CUTOFF_ID_MAX + 1];
    int version;
    load_world(f);
    must(cutoff_db_action_propose(f->cli, "alice", ENDING_ACTION, strlen(ENDING_ACTION), id,
                                  &version, &diag),
         &diag, "propose");
    must(cutoff_db_action_approve(f->cli, "bob", id, (int64_t)time(NULL) - 2 * DAY, &diag), &diag,
         "approve");
    uint64_t before = db_head(f);
    refresh(f, true);
    assert_int_equal(db_head(f), before + 1); /* the expiry */
    assert_int_equal(active_actions(f), 0);
    uint64_t v = published(f);
    refresh(f, false);
    assert_int_equal(published(f), v + 1);
    v = published(f);
    for (int i = 0; i < 5; i++)
        refresh(f, false);
    assert_int_equal(published(f), v);
    assert_int_equal(db_head(f), before + 1);
    assert_int_equal(f->d.change_seq, before + 1);
}

/* Before a catalog exists the daemon is not ready and does not retry until
 * something changes; the catalog arriving makes it ready. */
static void test_empty_database_waits_for_a_change(void **state)
{
    fixture *f = *state;
    cutoff_diag diag = {0};
    assert_int_equal(daemon_refresh_locked(&f->d, true, &diag), CUTOFF_ENOTFOUND);
    assert_false(atomic_load(&f->d.ready));
    uint64_t reloads = atomic_load(&f->d.metrics.reloads);
    refresh(f, false);
    assert_int_equal(atomic_load(&f->d.metrics.reloads), reloads);
    must(cutoff_db_catalog_load(f->cli, "alice", CATALOG, strlen(CATALOG), &diag), &diag,
         "catalog");
    refresh(f, false);
    assert_true(atomic_load(&f->d.ready));
    assert_int_equal(cutoff_tree_count(f->d.tree, 0), 0);
    import_text(f->cli, WORLD);
    refresh(f, false);
    assert_int_equal(cutoff_tree_count(f->d.tree, 0), 3);
}

/* A database behind the sequence the daemon applied is another database
 * (replaced, or restored from a backup): everything is reloaded. */
static void test_other_database_reloads_everything(void **state)
{
    fixture *f = *state;
    load_world(f);
    refresh(f, true);
    cutoff_tree *tree = f->d.tree;
    uint64_t v = published(f);
    f->d.change_seq = db_head(f) + 100;
    refresh(f, false);
    assert_int_equal(published(f), v + 1);
    assert_ptr_not_equal(f->d.tree, tree);
    assert_int_equal(f->d.change_seq, db_head(f));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kind_decides_the_work, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_settles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_database_waits_for_a_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_database_reloads_everything, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
