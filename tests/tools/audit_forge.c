/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_forge.c - what an attacker who holds the database file (but not
 * the signing key) can do to its audit log, for
 * tests/integration/audit_tamper.sh. The append-only triggers must have
 * been dropped first.
 *
 *   audit_forge rechain DB
 *       renumbers the records 1, 2, 3, ... in their order of seq and
 *       recomputes every prev_hash and hash: the chain verifies again
 *       after an edit, a deletion, an insertion or a swap
 *   audit_forge resign DB KEYFILE
 *       replaces every signed head by one head per record, signed by
 *       KEYFILE (the attacker's own key)
 *   audit_forge rotate DB OLD_PUBKEY KEYFILE
 *       appends a key rotation record from OLD_PUBKEY to KEYFILE's key,
 *       signed by KEYFILE (a forged hand-over), chained correctly, and a
 *       head signed by KEYFILE
 *
 * Hashes are the library's (co__audit_hash); statements are built with
 * jansson in the library's canonical form; signatures through cutoff.h.
 */
#include "audit/audit.h"
#include "cutoff.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct rec {
    long long seq, time;
    char *actor, *verb, *object, *payload;
    char hash[65];
} rec;

static sqlite3 *db;

static void die(const char *what)
{
    fprintf(stderr, "audit_forge: %s: %s\n", what, db ? sqlite3_errmsg(db) : "");
    exit(1);
}

static void exec(const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        die(sql);
}

static rec *load(size_t *n_out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, time, actor, verb, object, payload, hash FROM audit "
                           "ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        die("select");
    rec *v = NULL;
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        v = realloc(v, (n + 1) * sizeof *v);
        if (v == NULL)
            die("out of memory");
        rec *r = &v[n++];
        r->seq = sqlite3_column_int64(st, 0);
        r->time = sqlite3_column_int64(st, 1);
        r->actor = strdup((const char *)sqlite3_column_text(st, 2));
        r->verb = strdup((const char *)sqlite3_column_text(st, 3));
        r->object = strdup((const char *)sqlite3_column_text(st, 4));
        r->payload = strdup((const char *)sqlite3_column_text(st, 5));
        snprintf(r->hash, sizeof r->hash, "%s", (const char *)sqlite3_column_text(st, 6));
    }
    sqlite3_finalize(st);
    *n_out = n;
    return v;
}

static void release(rec *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].actor);
        free(v[i].verb);
        free(v[i].object);
        free(v[i].payload);
    }
    free(v);
}

static void insert(const rec *r, const char *prev)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO audit VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &st,
                           NULL) != SQLITE_OK)
        die("insert");
    sqlite3_bind_int64(st, 1, r->seq);
    sqlite3_bind_int64(st, 2, r->time);
    sqlite3_bind_text(st, 3, r->actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->verb, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->object, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->payload, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, prev, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, r->hash, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        die("insert");
    sqlite3_finalize(st);
}

static void rechain(void)
{
    size_t n;
    rec *v = load(&n);
    char prev[65];
    memcpy(prev, co__audit_genesis, sizeof prev);
    exec("DELETE FROM audit");
    for (size_t i = 0; i < n; i++) {
        v[i].seq = (long long)i + 1;
        co__audit_hash(prev, (uint64_t)v[i].seq, v[i].time, v[i].actor, v[i].verb, v[i].object,
                       v[i].payload, v[i].hash);
        insert(&v[i], prev);
        memcpy(prev, v[i].hash, sizeof prev);
    }
    release(v, n);
}

static void put_head(long long n, long long seq, const char *hash, const cutoff_key *key)
{
    char t[32], sig[CUTOFF_SIGNATURE_TEXT_MAX];
    json_t *o = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:I}", "type", "cutoff-audit-head", "n",
                          (json_int_t)n, "seq", (json_int_t)seq, "hash", hash, "time",
                          cutoff_time_format((int64_t)time(NULL), t), "key", cutoff_key_public(key),
                          "interval_s", (json_int_t)0);
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (text == NULL || cutoff_key_sign(key, text, strlen(text), sig) != 0)
        die("signing");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO heads VALUES (?1, ?2, ?3, ?4)", -1, &st, NULL) !=
        SQLITE_OK)
        die("insert head");
    sqlite3_bind_int64(st, 1, n);
    sqlite3_bind_int64(st, 2, seq);
    sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, sig, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        die("insert head");
    sqlite3_finalize(st);
    free(text);
}

static void resign(const cutoff_key *key)
{
    size_t n;
    rec *v = load(&n);
    exec("DELETE FROM heads");
    for (size_t i = 0; i < n; i++)
        put_head((long long)i + 1, v[i].seq, v[i].hash, key);
    release(v, n);
}

static void forge_rotation(const char *old_pub, const cutoff_key *key)
{
    size_t n;
    rec *v = load(&n);
    char t[32], sig[CUTOFF_SIGNATURE_TEXT_MAX];
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s}", "type", "cutoff-key-rotation", "old", old_pub, "new",
                  cutoff_key_public(key), "time", cutoff_time_format((int64_t)time(NULL), t));
    char *statement = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (statement == NULL || cutoff_key_sign(key, statement, strlen(statement), sig) != 0)
        die("signing");
    json_t *p = json_pack("{s:s, s:s}", "statement", statement, "signature", sig);
    rec r = {.seq = (long long)n + 1,
             .time = (long long)time(NULL),
             .actor = "alice",
             .verb = "key.rotate",
             .object = "signing-key",
             .payload = json_dumps(p, JSON_COMPACT)};
    json_decref(p);
    const char *prev = n ? v[n - 1].hash : co__audit_genesis;
    co__audit_hash(prev, (uint64_t)r.seq, r.time, r.actor, r.verb, r.object, r.payload, r.hash);
    insert(&r, prev);
    sqlite3_stmt *st;
    long long last_n = 0;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(n), 0) FROM heads", -1, &st, NULL) != SQLITE_OK)
        die("heads");
    if (sqlite3_step(st) == SQLITE_ROW)
        last_n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    put_head(last_n + 1, r.seq, r.hash, key);
    free(statement);
    free(r.payload);
    release(v, n);
}

static cutoff_key *load_key(const char *path)
{
    cutoff_key *k = NULL;
    cutoff_diag diag = {0};
    if (cutoff_key_load(path, &k, &diag) != 0) {
        fprintf(stderr, "audit_forge: %s\n", diag.message);
        exit(1);
    }
    return k;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: audit_forge rechain DB | resign DB KEYFILE | rotate DB "
                        "OLD_PUBKEY KEYFILE\n");
        return 2;
    }
    if (sqlite3_open(argv[2], &db) != SQLITE_OK)
        die(argv[2]);
    exec("BEGIN");
    cutoff_key *key = NULL;
    if (strcmp(argv[1], "rechain") == 0)
        rechain();
    else if (strcmp(argv[1], "resign") == 0 && argc == 4)
        resign(key = load_key(argv[3]));
    else if (strcmp(argv[1], "rotate") == 0 && argc == 5)
        forge_rotation(argv[3], key = load_key(argv[4]));
    else {
        fprintf(stderr, "audit_forge: unknown command or wrong arguments\n");
        return 2;
    }
    exec("COMMIT");
    cutoff_key_free(key);
    sqlite3_close(db);
    return 0;
}
