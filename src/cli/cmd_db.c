/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_db.c - "cutoff db copy": the whole database into a new, empty one,
 * for moving between files, machines or backends (cutoff_db_copy does the
 * work and the checks). This file adds what an operator sees: progress on
 * standard error for long copies, and the summary of what was copied and
 * verified, as text or --json. Locations are printed only through
 * cli_location_shown, which never shows a password.
 */
#include "cli/cli.h"

#include <string.h>
#include <time.h>

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Progress: a line per table at most every second, and once a line was
 * printed (a long copy), the count of each table as it ends. */
typedef struct progress {
    double last; /* when the last line was printed */
    bool printed;
} progress;

static void on_progress(void *ctx, const char *table, uint64_t rows, int done)
{
    progress *p = ctx;
    double now = seconds_now();
    if (!(done && p->printed) && now - p->last < 1.0)
        return;
    fprintf(stderr, "cutoff: db copy: %s: %llu rows%s\n", table, (unsigned long long)rows,
            done ? ", done" : "");
    p->last = now;
    p->printed = true;
}

static void print_summary(const char *from, const char *to, const cutoff_db_copy_report *r,
                          bool verified_heads, double seconds)
{
    const struct {
        const char *table;
        uint64_t rows;
    } t[] = {
        {"catalogs", r->catalogs}, {"nodes", r->nodes},     {"cases", r->cases},
        {"evidence", r->evidence}, {"actions", r->actions}, {"notices", r->notices},
        {"audit", r->audit},       {"heads", r->heads},     {"changes", r->changes},
    };
    printf("copied %s to %s in %.1f s; every table of the copy holds the source's rows:\n", from,
           to, seconds);
    cli_table tab;
    cli_table_init(&tab, 2);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        cli_table_add(&tab, t[i].table);
        cli_table_addf(&tab, "%llu", (unsigned long long)t[i].rows);
    }
    cli_table_print(&tab, "  ", "01");
    cli_table_free(&tab);
    if (r->evidence_content)
        printf("evidence kept with its content: %llu\n", (unsigned long long)r->evidence_content);
    printf("audit log of the copy verifies: %llu records, head %s\n", (unsigned long long)r->audit,
           r->audit_head[0] ? r->audit_head : "(empty log)");
    if (verified_heads)
        printf("signed heads of the copy verify: %llu heads by %s\n",
               (unsigned long long)r->heads_report.heads, r->heads_report.key);
}

static int print_json(const char *from, const char *to, const cutoff_db_copy_report *r,
                      bool verified_heads, double seconds)
{
    json_t *tables = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "catalogs", (json_int_t)r->catalogs, "nodes",
        (json_int_t)r->nodes, "cases", (json_int_t)r->cases, "evidence", (json_int_t)r->evidence,
        "evidence_content", (json_int_t)r->evidence_content, "actions", (json_int_t)r->actions,
        "notices", (json_int_t)r->notices, "audit", (json_int_t)r->audit, "heads",
        (json_int_t)r->heads, "changes", (json_int_t)r->changes);
    json_t *heads = verified_heads
                        ? json_pack("{s:b,s:I,s:s}", "verified", 1, "heads",
                                    (json_int_t)r->heads_report.heads, "key", r->heads_report.key)
                        : json_null();
    json_t *o = json_pack("{s:s,s:s,s:o*,s:{s:b,s:I,s:s?},s:o*,s:f}", "from", from, "to", to,
                          "tables", tables, "audit", "verified", 1, "records", (json_int_t)r->audit,
                          "head", r->audit_head[0] ? r->audit_head : NULL, "signed_heads", heads,
                          "seconds", seconds);
    if (o == NULL)
        return cli_error("out of memory");
    cli_json_print(o);
    json_decref(o);
    return CLI_OK;
}

/* msg with every occurrence of the location `raw` shown as `shown` (a
 * backend's message may name the location as it was given). */
static void scrub(char *msg, size_t size, const char *raw, const char *shown)
{
    char out[1024];
    size_t used = 0, raw_len = strlen(raw);
    const char *p = msg, *hit;
    if (raw_len == 0 || strcmp(raw, shown) == 0)
        return;
    while ((hit = strstr(p, raw)) != NULL && used < sizeof out) {
        int n = snprintf(out + used, sizeof out - used, "%.*s%s", (int)(hit - p), p, shown);
        used += n > 0 ? (size_t)n : 0;
        p = hit + raw_len;
    }
    if (p == msg)
        return;
    if (used < sizeof out)
        snprintf(out + used, sizeof out - used, "%s", p);
    size_t len = strnlen(out, sizeof out);
    len = len < size ? len : size - 1;
    memcpy(msg, out, len);
    msg[len] = '\0';
}

/* copy --from SRC --to DST [--pubkey FILE] [--quiet] */
static int db_copy(cli *c, int argc, char **argv)
{
    const char *from = NULL, *to = NULL, *pubkey_path = NULL;
    bool quiet = false;
    const cli_opt opts[] = {{"from", &from, NULL},
                            {"to", &to, NULL},
                            {"pubkey", &pubkey_path, NULL},
                            {"quiet", NULL, &quiet},
                            {0}};
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, opts, pos, 0, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (from == NULL || to == NULL)
        return cli_usage(c, "db copy needs --from SOURCE and --to DESTINATION");
    /* Both locations are given here; a --db or a server would be ignored. */
    if (c->db_opt || c->server_opt || c->token_file_opt || c->actor_opt || c->key_opt)
        return cli_usage(c, "db copy takes its locations from --from and --to; --db, --server, "
                            "--token-file, --actor and --key do not apply");
    char pub[CUTOFF_PUBKEY_TEXT_MAX];
    cutoff_diag diag = {0};
    if (pubkey_path) {
        int err = cutoff_public_key_read(pubkey_path, pub, &diag);
        if (err != 0)
            return cli_fail(err, &diag, "--pubkey");
    }
    char from_shown[512], to_shown[512];
    cli_location_shown(from, from_shown, sizeof from_shown);
    cli_location_shown(to, to_shown, sizeof to_shown);

    progress p = {.last = seconds_now()};
    cutoff_db_copy_options opt = {.public_key = pubkey_path ? pub : NULL,
                                  .now = cli_now(),
                                  .progress = quiet ? NULL : on_progress,
                                  .progress_ctx = &p};
    cutoff_db_copy_report report;
    double started = seconds_now();
    int err = cutoff_db_copy(from, to, &opt, &report, &diag);
    double seconds = seconds_now() - started;
    if (err != 0) {
        scrub(diag.message, sizeof diag.message, from, from_shown);
        scrub(diag.message, sizeof diag.message, to, to_shown);
        return cli_error("db copy from %s to %s: %s", from_shown, to_shown,
                         diag.message[0] ? diag.message : cutoff_strerror(err));
    }
    if (c->json)
        return print_json(from_shown, to_shown, &report, pubkey_path != NULL, seconds);
    print_summary(from_shown, to_shown, &report, pubkey_path != NULL, seconds);
    return CLI_OK;
}

int cli_cmd_db(cli *c, int argc, char **argv)
{
    static const cli_sub subs[] = {{"copy", db_copy}};
    return cli_run_subcommand(c, argc, argv, subs, sizeof subs / sizeof subs[0], "copy");
}
