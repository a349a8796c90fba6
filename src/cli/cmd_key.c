/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_key.c - "cutoff key create|show|rotate": the Ed25519 key that signs
 * audit heads (docs/audit.md). The key file is the library's (mode 0600,
 * never overwritten); what leaves it is the public key line an auditor
 * checks the log with. A rotation is itself an audited change: the old key
 * signs the hand-over to the new one, and the new key signs from there.
 */
#include "cli/cli.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The key file of a key command: --key FILE or $CUTOFF_KEY_FILE. */
static int key_path(cli *c, const char **out)
{
    int rc = cli_resolve(c);
    if (rc != CLI_OK)
        return rc;
    if (c->server != NULL)
        return cli_usage(c, "key commands work on local key files, not through a server");
    if (c->key_path == NULL)
        return cli_usage(c, "no key file: give --key FILE (or set CUTOFF_KEY_FILE)");
    *out = c->key_path;
    return CLI_OK;
}

/* A short name for a public key: the first 16 hex digits of the SHA-256
 * of its text, for reading aloud and comparing by eye. */
static void fingerprint(const char *public_key, char out[17])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[2 * sizeof digest + 1];
    crypto_hash_sha256(digest, (const unsigned char *)public_key, strlen(public_key));
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

static int print_public(const cli *c, const char *public_key, const char *file)
{
    if (!c->json) {
        printf("%s\n", public_key);
        return CLI_OK;
    }
    char fp[17];
    fingerprint(public_key, fp);
    json_t *o =
        json_pack("{s:s, s:s, s:s}", "public_key", public_key, "fingerprint", fp, "file", file);
    if (o == NULL)
        return cli_error("out of memory");
    cli_json_print(o);
    json_decref(o);
    return CLI_OK;
}

/* A new key, written to a new file at path. */
static int new_key_file(const char *path, cutoff_key **out, cutoff_diag *diag)
{
    int err = cutoff_key_generate(out);
    if (err == 0 && (err = cutoff_key_save(*out, path, diag)) != 0) {
        cutoff_key_free(*out);
        *out = NULL;
    }
    return err;
}

static int key_create(cli *c, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    const char *path = NULL;
    int rc = cli_parse(c, argc, argv, NULL, pos, 0, &n_pos);
    if (rc != CLI_OK || (rc = key_path(c, &path)) != CLI_OK)
        return rc;
    cutoff_key *key = NULL;
    cutoff_diag diag = {0};
    int err = new_key_file(path, &key, &diag);
    if (err != 0)
        return cli_fail(err, &diag, "key create");
    rc = print_public(c, cutoff_key_public(key), path);
    cutoff_key_free(key);
    return rc;
}

static int key_show(cli *c, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    const char *path = NULL;
    int rc = cli_parse(c, argc, argv, NULL, pos, 0, &n_pos);
    if (rc != CLI_OK || (rc = key_path(c, &path)) != CLI_OK)
        return rc;
    cutoff_key *key = NULL;
    cutoff_diag diag = {0};
    int err = cutoff_key_load(path, &key, &diag);
    if (err != 0)
        return cli_fail(err, &diag, "key show");
    rc = print_public(c, cutoff_key_public(key), path);
    cutoff_key_free(key);
    return rc;
}

static int key_rotate(cli *c, int argc, char **argv)
{
    const char *new_path = NULL;
    const cli_opt opts[] = {{"new", &new_path, NULL}, {0}};
    char *pos[1];
    int n_pos;
    const char *old_path = NULL;
    int rc = cli_parse(c, argc, argv, opts, pos, 0, &n_pos);
    if (rc != CLI_OK || (rc = key_path(c, &old_path)) != CLI_OK)
        return rc;
    if (new_path == NULL)
        return cli_usage(c, "give the new key file with --new FILE (it is created)");
    if ((rc = cli_check_actor(c)) != CLI_OK)
        return rc;
    cutoff_db *db = NULL;
    if ((rc = cli_open_db(c, false, "key rotate", &db)) != CLI_OK)
        return rc;
    cutoff_key *new_key = NULL;
    cutoff_diag diag = {0};
    int err = new_key_file(new_path, &new_key, &diag);
    if (err != 0) {
        cutoff_db_close(db);
        return cli_fail(err, &diag, "key rotate");
    }
    err = cutoff_db_key_rotate(db, c->actor, c->key, new_key, cli_now(), &diag);
    cutoff_db_close(db);
    if (err != 0) {
        /* Nothing was recorded: the new key must not outlive the refusal. */
        unlink(new_path);
        cutoff_key_free(new_key);
        return cli_fail(err, &diag, "key rotate");
    }
    rc = print_public(c, cutoff_key_public(new_key), new_path);
    cutoff_key_free(new_key);
    return rc;
}

int cli_cmd_key(cli *c, int argc, char **argv)
{
    static const cli_sub subs[] = {
        {"create", key_create}, {"show", key_show}, {"rotate", key_rotate}};
    return cli_run_subcommand(c, argc, argv, subs, sizeof subs / sizeof subs[0],
                              "create, show or rotate");
}
