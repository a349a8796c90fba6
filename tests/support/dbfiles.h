/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dbdump.h - the whole observable state of a cutoff SQLite database as
 * text, for tests that prove a refused or failed call changed nothing:
 * dump before, try, dump after, compare.
 */
#ifndef CUTOFF_TEST_DBDUMP_H
#define CUTOFF_TEST_DBDUMP_H

/* Every row of every table (nodes, catalog, cases, evidence, actions, audit,
 * changes), read-only, in key order; malloc'd (free it), NULL when the file
 * cannot be read as such a database. */
char *test_db_dump(const char *path);

#endif
