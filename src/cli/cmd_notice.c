/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_notice.c - "cutoff notice show|list|verify|sign": the signed notices
 * to the customer. show prints the letter (or with --json the signed
 * document exactly, which verify then checks), list the notices that
 * concern a subscription, verify checks a notice file against a public key
 * with no database at all, and sign signs the notices issued without a key.
 * show, list and sign work on a local database only.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

/* Checks an action or subscription id given on the command line. */
static int check_id(const cli *c, const char *what, const char *id)
{
    char q[160];
    if (!cutoff_id_valid(id))
        return cli_usage(c, "%s \"%s\" is not an id (1-128 bytes of [A-Za-z0-9._:-])", what,
                         cli_quote(id, q, sizeof q));
    return CLI_OK;
}

static int notice_show(cli *c, int argc, char **argv)
{
    const char *version_text = NULL;
    bool text_flag = false;
    const cli_opt opts[] = {{"version", &version_text, NULL}, {"text", NULL, &text_flag}, {0}};
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, opts, pos, 1, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (n_pos != 1)
        return cli_usage(c, "give one ACTION_ID");
    if (text_flag && c->json)
        return cli_usage(c, "--text and --json exclude each other");
    uint64_t version = 0;
    if (version_text && (rc = cli_parse_count(c, "--version", version_text, &version)) != CLI_OK)
        return rc;
    if (version_text && version == 0)
        return cli_usage(c, "--version must be at least 1 (leave it out for the latest)");
    if ((rc = check_id(c, "action id", pos[0])) != CLI_OK)
        return rc;
    c->read_only = true;
    cutoff_db *db = NULL;
    if ((rc = cli_open_db(c, false, "notice show", &db)) != CLI_OK)
        return rc;
    char *doc = NULL, *letter = NULL;
    cutoff_diag diag = {0};
    int err = cutoff_db_notice_get(db, pos[0], version, &doc);
    cutoff_db_close(db);
    if (err == CUTOFF_ENOTFOUND)
        return version ? cli_error("action %s has no notice version %llu", pos[0],
                                   (unsigned long long)version)
                       : cli_error("action %s has no notice (it was never active)", pos[0]);
    if (err != 0)
        return cli_fail(err, NULL, "notice show");
    if (c->json) {
        printf("%s\n", doc); /* exactly the signed document */
    } else if ((err = cutoff_notice_text(doc, strlen(doc), &letter, &diag)) != 0) {
        rc = cli_fail(err, &diag, "notice show");
    } else {
        fputs(letter, stdout);
    }
    cutoff_free(letter);
    cutoff_free(doc);
    return rc;
}

static int notice_list(cli *c, int argc, char **argv)
{
    const char *subscription = NULL;
    const cli_opt opts[] = {{"subscription", &subscription, NULL}, {0}};
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, opts, pos, 0, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (subscription == NULL)
        return cli_usage(c, "--subscription S is required");
    if ((rc = check_id(c, "subscription", subscription)) != CLI_OK)
        return rc;
    c->read_only = true;
    cutoff_db *db = NULL;
    if ((rc = cli_open_db(c, false, "notice list", &db)) != CLI_OK)
        return rc;
    char *text = NULL;
    int err = cutoff_db_notice_list(db, subscription, &text);
    cutoff_db_close(db);
    if (err == CUTOFF_ENOTFOUND)
        return cli_error("no subscription \"%s\" in the tree", subscription);
    if (err != 0)
        return cli_fail(err, NULL, "notice list");
    if (c->json) {
        printf("%s\n", text);
        cutoff_free(text);
        return CLI_OK;
    }
    json_t *arr = cli_json_load(text);
    cutoff_free(text);
    if (arr == NULL)
        return CLI_FAIL;
    /* One row per notice: the members of "notice" and whether it is signed. */
    json_t *rows = json_array();
    size_t i;
    json_t *doc;
    json_array_foreach (arr, i, doc) {
        json_t *n = json_object_get(doc, "notice");
        json_t *row = json_pack(
            "{s:O,s:O,s:O,s:O,s:O,s:s}", "enforcement_action",
            json_object_get(n, "enforcement_action"), "notice_version",
            json_object_get(n, "notice_version"), "issued_for", json_object_get(n, "issued_for"),
            "issued_at", json_object_get(n, "issued_at"), "state", json_object_get(n, "state"),
            "signed", json_is_null(json_object_get(doc, "signature")) ? "no" : "yes");
        if (row == NULL || json_array_append_new(rows, row) != 0) {
            json_decref(rows);
            json_decref(arr);
            return cli_error("out of memory");
        }
    }
    static const char *const keys[] = {"enforcement_action", "notice_version", "issued_for",
                                       "issued_at",          "state",          "signed"};
    static const char *const heads[] = {"ACTION",    "NOTICE", "ISSUED FOR",
                                        "ISSUED AT", "STATE",  "SIGNED"};
    cli_print_list(rows, keys, heads, 6, "");
    json_decref(rows);
    json_decref(arr);
    return CLI_OK;
}

/* Offline: the file and the public key are all it reads. */
static int notice_verify(cli *c, int argc, char **argv)
{
    const char *pubkey_path = NULL;
    const cli_opt opts[] = {{"pubkey", &pubkey_path, NULL}, {0}};
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, opts, pos, 1, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (n_pos != 1)
        return cli_usage(c, "give one notice FILE ('-' for standard input)");
    if (pubkey_path == NULL)
        return cli_usage(c, "--pubkey KEYFILE is required: the provider's public key, "
                            "obtained from the provider by another way");
    char public_key[CUTOFF_PUBKEY_TEXT_MAX];
    cutoff_diag diag = {0};
    int err = cutoff_public_key_read(pubkey_path, public_key, &diag);
    if (err != 0)
        return cli_fail(err, &diag, NULL);
    char *data = NULL;
    size_t len = 0;
    if ((rc = cli_read_file(pos[0], &data, &len)) != CLI_OK)
        return rc;
    err = cutoff_notice_verify(data, len, public_key, &diag);
    if (err == 0) {
        json_t *doc = json_loadb(data, len, 0, NULL);
        json_t *n = json_object_get(doc, "notice");
        printf("notice %s version %lld verifies: signed by %s\n",
               json_string_value(json_object_get(n, "enforcement_action")),
               (long long)json_integer_value(json_object_get(n, "notice_version")), public_key);
        json_decref(doc);
    } else {
        rc = cli_error("%s: %s", strcmp(pos[0], "-") == 0 ? "standard input" : pos[0],
                       diag.message[0] ? diag.message : cutoff_strerror(err));
    }
    free(data);
    return rc;
}

static int notice_sign(cli *c, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, NULL, pos, 0, &n_pos);
    if (rc != CLI_OK || (rc = cli_resolve(c)) != CLI_OK)
        return rc;
    if (c->server == NULL && c->key_path == NULL)
        return cli_usage(c, "give the signing key with --key FILE or $CUTOFF_KEY_FILE");
    c->signs_notices = true;
    cutoff_db *db = NULL;
    if ((rc = cli_open_db(c, false, "notice sign", &db)) != CLI_OK)
        return rc;
    cutoff_diag diag = {0};
    size_t n = 0;
    int err = cutoff_db_notices_sign(db, &n, &diag);
    cutoff_db_close(db);
    if (err != 0)
        return cli_fail(err, &diag, "notice sign");
    if (c->json) {
        json_t *o =
            json_pack("{s:I,s:s}", "signed", (json_int_t)n, "key", cutoff_key_public(c->key));
        if (o == NULL)
            return cli_error("out of memory");
        cli_json_print(o);
        json_decref(o);
    } else
        printf("signed %zu notice%s with %s\n", n, n == 1 ? "" : "s", cutoff_key_public(c->key));
    return CLI_OK;
}

int cli_cmd_notice(cli *c, int argc, char **argv)
{
    static const cli_sub subs[] = {{"show", notice_show},
                                   {"list", notice_list},
                                   {"verify", notice_verify},
                                   {"sign", notice_sign}};
    return cli_run_subcommand(c, argc, argv, subs, sizeof subs / sizeof subs[0],
                              "show, list, verify or sign");
}
