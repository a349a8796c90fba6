/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_audit.c - "cutoff audit verify|log": walking the hash chain of the
 * audit log (an edit or a reordering anywhere, or a deletion before the
 * newest record, makes verify fail and name the first record that does not
 * hold; a deleted tail shows only as a head hash that went back) and
 * reading the records. With --pubkey, verify also checks every signed
 * head with nothing but the public key (docs/audit.md); "audit head"
 * prints the newest signed head, the document to publish, and "audit
 * sign" signs the current head with --key.
 */
#include "cli/backend.h"

#include <stdlib.h>

#include <string.h>

/* verify --pubkey FILE [--head FILE] [--at TIME]: the signed heads too. */
static int verify_signed(cli *c, const char *pubkey_path, const char *head_path,
                         const char *at_text)
{
    int64_t now = cli_now();
    int rc;
    if (at_text && (rc = cli_parse_time(c, "--at", at_text, &now)) != CLI_OK)
        return rc;
    char pub[CUTOFF_PUBKEY_TEXT_MAX];
    cutoff_diag diag = {0};
    int err = cutoff_public_key_read(pubkey_path, pub, &diag);
    if (err != 0)
        return cli_fail(err, &diag, "--pubkey");
    char *published = NULL;
    size_t len = 0;
    if (head_path && (rc = cli_read_file(head_path, &published, &len)) != CLI_OK)
        return rc;
    c->read_only = true;
    cutoff_db *db = NULL;
    if ((rc = cli_open_db(c, false, "audit verify --pubkey", &db)) != CLI_OK) {
        free(published);
        return rc;
    }
    cutoff_audit_signed_report rep;
    err = cutoff_db_audit_verify_signed(db, pub, published, now, &rep);
    cutoff_db_close(db);
    free(published);
    char t[32];
    if (c->json) {
        json_t *o = json_pack(
            "{s:b, s:I, s:I, s:I, s:I, s:I, s:s?, s:I, s:s, s:I, s:I, s:I, s:s}", "verified",
            err == 0, "records", (json_int_t)rep.chain.records, "heads", (json_int_t)rep.heads,
            "signed_seq", (json_int_t)rep.signed_seq, "unsigned_records",
            (json_int_t)rep.unsigned_records, "rotations", (json_int_t)rep.rotations, "head_time",
            rep.head_time ? cutoff_time_format(rep.head_time, t) : NULL, "interval_s",
            (json_int_t)rep.interval_s, "key", rep.key, "first_bad", (json_int_t)rep.bad_record,
            "bad_head", (json_int_t)rep.bad_head, "error", (json_int_t)err, "problem", rep.problem);
        if (o == NULL)
            return cli_error("out of memory");
        cli_json_print(o);
        json_decref(o);
    }
    if (err == CUTOFF_ETAMPER)
        return cli_error("audit log does not verify: %s", rep.problem);
    if (err != 0) {
        cutoff_diag d = {.code = err};
        snprintf(d.message, sizeof d.message, "%s", rep.problem);
        return cli_fail(err, &d, "audit verify");
    }
    if (!c->json) {
        printf("audit log verifies: %llu records, %llu signed heads by %s",
               (unsigned long long)rep.chain.records, (unsigned long long)rep.heads, rep.key);
        if (rep.rotations)
            printf(" (after %llu key rotations)", (unsigned long long)rep.rotations);
        printf("; the newest head signs record %llu at %s\n", (unsigned long long)rep.signed_seq,
               cutoff_time_format(rep.head_time, t));
        if (rep.unsigned_records)
            printf("%llu records after record %llu are not signed yet\n",
                   (unsigned long long)rep.unsigned_records, (unsigned long long)rep.signed_seq);
    }
    return CLI_OK;
}

static int audit_verify(cli *c, int argc, char **argv)
{
    const char *pubkey = NULL, *head_file = NULL, *at = NULL;
    const cli_opt opts[] = {
        {"pubkey", &pubkey, NULL}, {"head", &head_file, NULL}, {"at", &at, NULL}, {0}};
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, opts, pos, 0, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (pubkey != NULL)
        return verify_signed(c, pubkey, head_file, at);
    if (head_file != NULL || at != NULL)
        return cli_usage(c, "--head and --at go with --pubkey FILE (the signed heads)");
    c->read_only = true;
    cli_backend *b = NULL;
    char *text = NULL;
    json_t *report = NULL;
    cutoff_diag diag = {0};
    if ((rc = cli_backend_open(c, &b)) != CLI_OK)
        return rc;
    int err = b->ops->audit_verify(b, &text, &diag);
    cli_backend_close(b);
    if (err != 0)
        return cli_fail(err, &diag, "audit verify");
    if ((report = cli_json_load(text)) == NULL) {
        free(text);
        return CLI_FAIL;
    }
    bool ok = json_is_true(json_object_get(report, "verified"));
    json_int_t records = json_integer_value(json_object_get(report, "records"));
    const char *head = json_string_value(json_object_get(report, "head"));
    if (c->json)
        cli_json_print(report);
    else if (ok)
        printf("audit log verifies: %lld records, head %s\n", (long long)records,
               head && head[0] ? head : "(empty log)");
    if (!ok) {
        const char *problem = json_string_value(json_object_get(report, "problem"));
        rc = cli_error("audit log does not verify at record %lld: %s (%lld records before it "
                       "verify)",
                       (long long)json_integer_value(json_object_get(report, "first_bad")),
                       problem && problem[0] ? problem : "hash mismatch", (long long)records);
    }
    json_decref(report);
    free(text);
    return rc;
}

static int audit_log(cli *c, int argc, char **argv)
{
    const char *after_text = NULL, *limit_text = NULL;
    const cli_opt opts[] = {{"after", &after_text, NULL}, {"limit", &limit_text, NULL}, {0}};
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, opts, pos, 0, &n_pos);
    if (rc != CLI_OK)
        return rc;
    uint64_t after = 0, limit = 0;
    if (after_text && (rc = cli_parse_count(c, "--after", after_text, &after)) != CLI_OK)
        return rc;
    if (limit_text && (rc = cli_parse_count(c, "--limit", limit_text, &limit)) != CLI_OK)
        return rc;
    /* The backends read a limit of 0 as "all": asked for none, that would
     * print everything. */
    if (limit_text && limit == 0)
        return cli_usage(c, "--limit must be at least 1 (leave it out for all records)");

    c->read_only = true;
    cli_backend *b = NULL;
    char *text = NULL;
    json_t *arr = NULL;
    cutoff_diag diag = {0};
    if ((rc = cli_backend_open(c, &b)) != CLI_OK)
        return rc;
    int err = b->ops->audit_log(b, after, limit, &text, &diag);
    if (err != 0) {
        rc = cli_fail(err, &diag, "audit log");
        goto out;
    }
    if (c->json) {
        rc = cli_json_print_text(text);
        goto out;
    }
    if ((arr = cli_json_load(text)) == NULL) {
        rc = CLI_FAIL;
        goto out;
    }
    static const char *const keys[] = {"seq", "time", "actor", "verb", "object"};
    static const char *const heads[] = {"SEQ", "TIME", "ACTOR", "VERB", "OBJECT"};
    cli_print_list(arr, keys, heads, 5, "");
    rc = CLI_OK;
out:
    json_decref(arr);
    free(text);
    cli_backend_close(b);
    return rc;
}

/* head [--json]: the newest signed head; --json prints exactly the
 * document to publish (and to give verify --head later). */
static int audit_head(cli *c, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, NULL, pos, 0, &n_pos);
    if (rc != CLI_OK)
        return rc;
    c->read_only = true;
    cutoff_db *db = NULL;
    if ((rc = cli_open_db(c, false, "audit head", &db)) != CLI_OK)
        return rc;
    char *doc = NULL;
    int err = cutoff_db_audit_head(db, &doc);
    cutoff_db_close(db);
    if (err == CUTOFF_ENOTFOUND)
        return cli_error("audit head: no signed head yet (a change made with --key, or 'cutoff "
                         "audit sign --key FILE', signs one)");
    if (err != 0)
        return cli_fail(err, NULL, "audit head");
    if (c->json) {
        printf("%s\n", doc);
        cutoff_free(doc);
        return CLI_OK;
    }
    json_t *d = cli_json_load(doc);
    json_t *st = d ? cli_json_load(json_string_value(json_object_get(d, "statement"))) : NULL;
    cutoff_free(doc);
    if (st == NULL) {
        json_decref(d);
        return CLI_FAIL;
    }
    static const char *const order[] = {"n", "seq", "hash", "time", "key", "interval_s", NULL};
    json_object_del(st, "type");
    json_object_set(st, "signature", json_object_get(d, "signature"));
    cli_print_object(st, order, "");
    json_decref(st);
    json_decref(d);
    return CLI_OK;
}

/* sign --key FILE [--interval S]: signs the current head now (a cron job
 * of a signer that runs no cutoffd, or after changes made without a key). */
static int audit_sign(cli *c, int argc, char **argv)
{
    const char *interval_text = NULL;
    const cli_opt opts[] = {{"interval", &interval_text, NULL}, {0}};
    char *pos[1];
    int n_pos;
    uint64_t interval = 0;
    int rc = cli_parse(c, argc, argv, opts, pos, 0, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (interval_text &&
        (rc = cli_parse_count(c, "--interval", interval_text, &interval)) != CLI_OK)
        return rc;
    if ((rc = cli_resolve(c)) != CLI_OK)
        return rc;
    if (c->server == NULL && c->key_path == NULL)
        return cli_usage(c, "audit sign needs the signing key: --key FILE (or CUTOFF_KEY_FILE)");
    cutoff_db *db = NULL;
    if ((rc = cli_open_db(c, false, "audit sign", &db)) != CLI_OK)
        return rc;
    int err = cutoff_db_head_sign(db, c->key, cli_now(), (int64_t)interval, 0);
    cutoff_db_close(db);
    if (err != 0)
        return cli_fail(err, NULL, "audit sign");
    return CLI_OK;
}

int cli_cmd_audit(cli *c, int argc, char **argv)
{
    static const cli_sub subs[] = {
        {"verify", audit_verify}, {"log", audit_log}, {"head", audit_head}, {"sign", audit_sign}};
    return cli_run_subcommand(c, argc, argv, subs, sizeof subs / sizeof subs[0],
                              "verify, log, head or sign");
}
