/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_audit.c - "cutoff audit verify|log": walking the hash chain of the
 * audit log (an edit, deletion or reordering anywhere makes verify fail and
 * name the first record that does not hold) and reading the records.
 */
#include "cli/cli.h"

#include <string.h>

static int audit_verify(cli *c, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, NULL, pos, 0, &n_pos);
    if (rc != CLI_OK) return rc;
    cutoff_db *db = NULL;
    if ((rc = cli_open_db(c, false, &db)) != CLI_OK) return rc;
    cutoff_audit_report report;
    memset(&report, 0, sizeof report);
    int err = cutoff_db_audit_verify(db, &report);
    cutoff_db_close(db);
    if (err != 0 && err != CUTOFF_ETAMPER) return cli_fail(err, NULL, "audit verify");
    bool ok = err == 0;
    if (c->json) {
        json_t *o = json_pack("{s:b, s:I, s:s}", "verified", ok, "records",
                              (json_int_t)report.records, "head", report.head_hex);
        if (!ok) {
            json_object_set_new(o, "first_bad", json_integer((json_int_t)report.first_bad));
            json_object_set_new(o, "problem", json_string(report.problem));
        }
        cli_json_print(o);
        json_decref(o);
    } else if (ok) {
        printf("audit log verifies: %llu records, head %s\n", (unsigned long long)report.records,
               report.head_hex[0] ? report.head_hex : "(empty log)");
    }
    if (!ok)
        return cli_error("audit log does not verify at record %llu: %s (%llu records before it "
                         "verify)",
                         (unsigned long long)report.first_bad,
                         report.problem[0] ? report.problem : "hash mismatch",
                         (unsigned long long)report.records);
    return CLI_OK;
}

static int audit_log(cli *c, int argc, char **argv)
{
    const char *after_text = NULL, *limit_text = NULL;
    const cli_opt opts[] = {{"after", &after_text, NULL}, {"limit", &limit_text, NULL}, {0}};
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, opts, pos, 0, &n_pos);
    if (rc != CLI_OK) return rc;
    uint64_t after = 0, limit = 0;
    if (after_text && (rc = cli_parse_count(c, "--after", after_text, &after)) != CLI_OK) return rc;
    if (limit_text && (rc = cli_parse_count(c, "--limit", limit_text, &limit)) != CLI_OK) return rc;

    cutoff_db *db = NULL;
    char *text = NULL;
    json_t *arr = NULL;
    if ((rc = cli_open_db(c, false, &db)) != CLI_OK) return rc;
    int err = cutoff_db_audit_list(db, after, (size_t)limit, &text);
    if (err != 0) {
        rc = cli_fail(err, NULL, "audit log");
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
    cutoff_free(text);
    cutoff_db_close(db);
    return rc;
}

int cli_cmd_audit(cli *c, int argc, char **argv)
{
    int i;
    int rc = cli_subcommand(c, argc, argv, "verify or log", &i);
    if (rc != CLI_OK) return rc;
    c->sub = argv[i];
    if (strcmp(argv[i], "verify") == 0) return audit_verify(c, argc - i - 1, argv + i + 1);
    if (strcmp(argv[i], "log") == 0) return audit_log(c, argc - i - 1, argv + i + 1);
    c->sub = NULL;
    return cli_usage(c, "unknown subcommand \"%s\" (verify or log)", argv[i]);
}
