/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dbfiles.h - a cutoff database for tests, on either store: its location
 * (a fresh SQLite file, or a fresh PostgreSQL database when the
 * environment names a server), its whole observable state as text (to
 * prove a refused or failed call changed nothing: dump before, try, dump
 * after, compare), plain SQL on it, and its removal. Plain sqlite3 and
 * libpq on purpose: none of it goes through the code under test.
 */
#ifndef CUTOFF_TEST_DBFILES_H
#define CUTOFF_TEST_DBFILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* When set, a PostgreSQL server's URI without a database
 * ("postgresql://postgres@127.0.0.1:PORT"): the store-level unit tests
 * then run on fresh databases there (tests/run.sh sets it). */
#define TEST_PG_ENV "CUTOFF_TEST_PG"

/* True when the tests run on PostgreSQL (TEST_PG_ENV is set). */
bool test_db_on_pg(void);
/* The location of a fresh, empty database: sqlite_path itself, or on
 * PostgreSQL a new database (created here) whose URI is written to buf.
 * Returns buf, or NULL when the database cannot be created. */
const char *test_db_location(const char *sqlite_path, char *buf, size_t size);

/* Every row of every table (nodes, catalog, cases, evidence, actions, audit,
 * changes, catalogs, heads, notices), read-only, in key order; malloc'd (free it), NULL when the
 * database cannot be read as such a database. */
char *test_db_dump(const char *location);
/* Removes the database: the file and its WAL, shared-memory and journal
 * files, or the PostgreSQL database. */
void test_db_remove(const char *location);

/* Runs SQL (several statements allowed); 0, or -1 when it failed. */
int test_db_exec(const char *location, const char *sql);
/* The first column of the first row of a query as an integer; -1 when the
 * query fails or returns no row. */
int64_t test_db_int(const char *location, const char *sql);
/* Every row of a query, columns joined by sep, one row per line (NULL as
 * "NULL"); malloc'd, NULL when the query fails. */
char *test_db_rows(const char *location, const char *sql, const char *sep);

/* Takes the append-only guards off a table, as someone holding the
 * database would before editing it: on SQLite its triggers are dropped,
 * on PostgreSQL disabled (ALTER TABLE ... DISABLE TRIGGER USER). Plain
 * SQL may then change and delete its rows. 0, or -1 when it failed. */
int test_db_unguard(const char *location, const char *table);
/* The schema version the database records (SQLite's user_version, the
 * cutoff_schema row on PostgreSQL; 0 when there is none); -1 when it
 * cannot be read. */
int test_db_schema_version(const char *location);
/* Records another schema version, as an older or newer program would
 * have left it; 0, or -1 when it failed. */
int test_db_set_schema_version(const char *location, int version);
/* How many schema objects (tables, indexes, triggers, views, functions,
 * sequences) the database holds: 0 for an empty or missing one; -1 when
 * it cannot be read. */
int64_t test_db_objects(const char *location);

#endif
