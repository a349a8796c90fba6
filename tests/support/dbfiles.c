/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dbfiles.c - see dbfiles.h. Plain sqlite3 on purpose: the dump must not go
 * through the code under test.
 */
#include "dbfiles.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *test_db_dump(const char *path)
{
    static const char *const tables[] = {"nodes", "catalog", "cases",    "evidence", "actions",
                                         "audit", "changes", "catalogs", "heads",    "notices"};
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

void test_db_remove(const char *path)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
}
