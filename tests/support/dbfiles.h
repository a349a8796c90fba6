/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dbfiles.h - a cutoff SQLite database as files, for tests: its whole
 * observable state as text (to prove a refused or failed call changed
 * nothing: dump before, try, dump after, compare), and its removal.
 */
#ifndef CUTOFF_TEST_DBFILES_H
#define CUTOFF_TEST_DBFILES_H

/* Every row of every table (nodes, catalog, cases, evidence, actions, audit,
 * changes, catalogs, heads, notices), read-only, in key order; malloc'd (free it), NULL when the
 * file cannot be read as such a database. */
char *test_db_dump(const char *path);
/* Removes the database file and its WAL, shared-memory and journal files. */
void test_db_remove(const char *path);

#endif
