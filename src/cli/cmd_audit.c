/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_audit.c - "cutoff audit verify|log": walking the hash chain of the
 * audit log (an edit or a reordering anywhere, or a deletion before the
 * newest record, makes verify fail and name the first record that does not
 * hold; a deleted tail shows only as a head hash that went back) and
 * reading the records.
 */
#include "cli/backend.h"

#include <stdlib.h>

#include <string.h>

static int audit_verify(cli *c, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, NULL, pos, 0, &n_pos);
    if (rc != CLI_OK)
        return rc;
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

int cli_cmd_audit(cli *c, int argc, char **argv)
{
    static const cli_sub subs[] = {{"verify", audit_verify}, {"log", audit_log}};
    return cli_run_subcommand(c, argc, argv, subs, sizeof subs / sizeof subs[0], "verify or log");
}
