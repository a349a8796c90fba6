/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dbfiles.c - see dbfiles.h. Plain sqlite3 and libpq on purpose: the dump
 * must not go through the code under test.
 */
#include "dbfiles.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const tables[] = {"nodes", "catalog", "cases",    "evidence", "actions",
                                     "audit", "changes", "catalogs", "heads",    "notices"};

bool test_db_on_pg(void)
{
    const char *base = getenv(TEST_PG_ENV);
    return base != NULL && base[0] != '\0';
}

static bool is_pg(const char *location)
{
    return strncmp(location, "postgresql://", 13) == 0;
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A connection to the server's maintenance database. */
static PGconn *connect_admin(void)
{
    char uri[512];
    snprintf(uri, sizeof uri, "%s/postgres", getenv(TEST_PG_ENV));
    PGconn *c = PQconnectdb(uri);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "test: cannot connect to %s: %s", uri, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

static bool admin_exec(const char *sql)
{
    PGconn *c = connect_admin();
    if (c == NULL)
        return false;
    PGresult *res = PQexec(c, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "test: %s: %s", sql, PQerrorMessage(c));
    PQclear(res);
    PQfinish(c);
    return ok;
}

const char *test_db_location(const char *sqlite_path, char *buf, size_t size)
{
    if (!test_db_on_pg()) {
        snprintf(buf, size, "%s", sqlite_path);
        return buf;
    }
    static unsigned counter;
    char name[64], sql[128];
    snprintf(name, sizeof name, "cutoff_test_%ld_%u", (long)getpid(), counter++);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    admin_exec(sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    if (!admin_exec(sql))
        return NULL;
    snprintf(buf, size, "%s/%s", getenv(TEST_PG_ENV), name);
    return buf;
}

void test_db_remove(const char *location)
{
    if (is_pg(location)) {
        const char *name = strrchr(location, '/');
        char sql[256];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name + 1);
        admin_exec(sql);
        return;
    }
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s%s", location, suffix[i]);
        unlink(p);
    }
}

/* ---- PostgreSQL ------------------------------------------------------------ */

static PGconn *pg_connect(const char *location)
{
    PGconn *c = PQconnectdb(location);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

static void pg_rows(PGresult *res, const char *sep, FILE *out)
{
    for (int r = 0; r < PQntuples(res); r++) {
        for (int c = 0; c < PQnfields(res); c++) {
            if (c > 0)
                fputs(sep, out);
            fputs(PQgetisnull(res, r, c) ? "NULL" : PQgetvalue(res, r, c), out);
        }
        fputc('\n', out);
    }
}

static char *pg_dump(const char *location)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    PGconn *c = pg_connect(location);
    bool ok = out != NULL && c != NULL;
    for (size_t t = 0; ok && t < sizeof tables / sizeof *tables; t++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT to_regclass('%s') IS NOT NULL", tables[t]);
        PGresult *res = PQexec(c, sql);
        bool exists = PQresultStatus(res) == PGRES_TUPLES_OK && PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        if (!exists) {
            fprintf(out, "[%s] absent\n", tables[t]);
            continue;
        }
        snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY 1, 2", tables[t]);
        res = PQexec(c, sql);
        ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        if (ok) {
            fprintf(out, "[%s]\n", tables[t]);
            pg_rows(res, "|", out);
        }
        PQclear(res);
    }
    PQfinish(c);
    if (out)
        ok = fclose(out) == 0 && ok;
    if (!ok) {
        free(text);
        return NULL;
    }
    return text;
}

/* ---- SQLite ------------------------------------------------------------------ */

static char *sqlite_dump(const char *path)
{
    sqlite3 *s = NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    int ok = out != NULL && sqlite3_open_v2(path, &s, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK;
    for (size_t t = 0; ok && t < sizeof tables / sizeof *tables; t++) {
        char sql[128];
        sqlite3_stmt *st;
        snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY 1, 2", tables[t]);
        if (sqlite3_prepare_v2(s, sql, -1, &st, NULL) != SQLITE_OK) {
            /* A database of an older schema lacks the newer tables. */
            if (strstr(sqlite3_errmsg(s), "no such table") != NULL) {
                fprintf(out, "[%s] absent\n", tables[t]);
                continue;
            }
            ok = 0;
            break;
        }
        fprintf(out, "[%s]\n", tables[t]);
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const void *v = sqlite3_column_blob(st, c);
                if (v == NULL)
                    fputs("NULL", out);
                else
                    fwrite(v, 1, (size_t)sqlite3_column_bytes(st, c), out);
                fputc('|', out);
            }
            fputc('\n', out);
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(s);
    if (out)
        ok = fclose(out) == 0 && ok;
    if (!ok) {
        free(text);
        return NULL;
    }
    return text;
}

char *test_db_dump(const char *location)
{
    return is_pg(location) ? pg_dump(location) : sqlite_dump(location);
}

int test_db_exec(const char *location, const char *sql)
{
    if (is_pg(location)) {
        PGconn *c = pg_connect(location);
        if (c == NULL)
            return -1;
        PGresult *res = PQexec(c, sql);
        ExecStatusType st = PQresultStatus(res);
        PQclear(res);
        PQfinish(c);
        return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    }
    sqlite3 *s = NULL;
    int rc = sqlite3_open(location, &s) == SQLITE_OK &&
                     sqlite3_exec(s, sql, NULL, NULL, NULL) == SQLITE_OK
                 ? 0
                 : -1;
    sqlite3_close(s);
    return rc;
}

char *test_db_rows(const char *location, const char *sql, const char *sep)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    bool ok = out != NULL;
    if (ok && is_pg(location)) {
        PGconn *c = pg_connect(location);
        PGresult *res = c ? PQexec(c, sql) : NULL;
        ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        if (ok)
            pg_rows(res, sep, out);
        PQclear(res);
        PQfinish(c);
    } else if (ok) {
        sqlite3 *s = NULL;
        sqlite3_stmt *st = NULL;
        ok = sqlite3_open_v2(location, &s, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(s, sql, -1, &st, NULL) == SQLITE_OK;
        while (ok && sqlite3_step(st) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const unsigned char *v = sqlite3_column_text(st, c);
                if (c > 0)
                    fputs(sep, out);
                fputs(v ? (const char *)v : "NULL", out);
            }
            fputc('\n', out);
        }
        sqlite3_finalize(st);
        sqlite3_close(s);
    }
    if (out)
        ok = fclose(out) == 0 && ok;
    if (!ok) {
        free(text);
        return NULL;
    }
    return text;
}

int64_t test_db_int(const char *location, const char *sql)
{
    char *rows = test_db_rows(location, sql, "|");
    int64_t n = rows && rows[0] ? strtoll(rows, NULL, 10) : -1;
    free(rows);
    return n;
}

/* ---- Edits and schema facts on either store ---------------------------------- */

int test_db_unguard(const char *location, const char *table)
{
    char sql[256];
    if (is_pg(location)) {
        snprintf(sql, sizeof sql, "ALTER TABLE %s DISABLE TRIGGER USER", table);
        return test_db_exec(location, sql);
    }
    snprintf(sql, sizeof sql,
             "SELECT 'DROP TRIGGER \"' || name || '\";' FROM sqlite_master"
             " WHERE type = 'trigger' AND tbl_name = '%s'",
             table);
    char *drops = test_db_rows(location, sql, "");
    /* A table without guards is a mistake in the test, not a success. */
    int rc = drops != NULL && drops[0] != '\0' ? test_db_exec(location, drops) : -1;
    free(drops);
    return rc;
}

int test_db_schema_version(const char *location)
{
    if (!is_pg(location))
        return (int)test_db_int(location, "PRAGMA user_version");
    /* Another program's database has no version table: version 0, as in
     * an SQLite file. */
    char *has = test_db_rows(location, "SELECT to_regclass('cutoff_schema') IS NOT NULL", "");
    int version = has == NULL     ? -1
                  : has[0] != 't' ? 0
                                  : (int)test_db_int(location, "SELECT version FROM cutoff_schema");
    free(has);
    return version;
}

int test_db_set_schema_version(const char *location, int version)
{
    char sql[96];
    snprintf(sql, sizeof sql,
             is_pg(location) ? "UPDATE cutoff_schema SET version = %d" : "PRAGMA user_version = %d",
             version);
    return test_db_exec(location, sql);
}

/* Relations (tables, indexes, sequences, views), functions and triggers of
 * the schema the store uses. */
static const char pg_objects[] =
    "SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = current_schema()::regnamespace)"
    " + (SELECT count(*) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace)"
    " + (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
    "    WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal)";

int64_t test_db_objects(const char *location)
{
    if (!is_pg(location))
        return access(location, F_OK) != 0
                   ? 0
                   : test_db_int(location, "SELECT count(*) FROM sqlite_master");
    /* A database that is not there holds nothing (and cannot be connected to). */
    const char *name = strrchr(location, '/') + 1;
    PGconn *c = connect_admin();
    if (c == NULL)
        return -1;
    const char *params[] = {name};
    PGresult *res = PQexecParams(c, "SELECT count(*) FROM pg_database WHERE datname = $1", 1, NULL,
                                 params, NULL, NULL, 0);
    bool exists = PQresultStatus(res) == PGRES_TUPLES_OK && atoi(PQgetvalue(res, 0, 0)) > 0;
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    PQclear(res);
    PQfinish(c);
    if (!ok)
        return -1;
    if (!exists)
        return 0;
    return test_db_int(location, pg_objects);
}
