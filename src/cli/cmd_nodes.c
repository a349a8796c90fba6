/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_nodes.c - "cutoff nodes import|show": bulk import of the customer
 * tree from JSON Lines (all or nothing, with the bad line named) and a
 * look at one node. Large imports show progress on a terminal. Through a
 * server, the file is streamed as the request body.
 */
#include "cli/backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Inputs at least this large (or pipes, whose size is unknown) get a
 * progress line when standard error is a terminal. */
#define PROGRESS_MIN_BYTES (8u << 20)

typedef struct progress {
    const char *source;
    double last;  /* monotonic seconds of the last update */
    bool printed; /* a progress line is on the terminal */
} progress;

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void show_progress(void *ctx, uint64_t done, const char *unit)
{
    progress *p = ctx;
    double now = monotonic_seconds();
    if (now - p->last < 0.2)
        return;
    p->last = now;
    p->printed = true;
    fprintf(stderr, "\rcutoff: importing %s: %llu %s", p->source, (unsigned long long)done, unit);
    fflush(stderr);
}

static void clear_progress(progress *p)
{
    if (p->printed)
        fputs("\r\033[K", stderr);
    p->printed = false;
}

/* Reports an import error as "SOURCE:LINE: what" (the compiler's form,
 * which editors jump to), whatever form the library's message takes. */
static int import_error(int rc, const cutoff_diag *diag, const char *source)
{
    const char *msg = diag->message[0] ? diag->message : cutoff_strerror(rc);
    size_t src_len = strlen(source);
    if (strncmp(msg, source, src_len) == 0 && msg[src_len] == ':')
        return cli_error("%s", msg);
    if (diag->line > 0) {
        char prefix[48];
        snprintf(prefix, sizeof prefix, "line %zu: ", diag->line);
        if (strncmp(msg, prefix, strlen(prefix)) == 0)
            msg += strlen(prefix);
        return cli_error("%s:%zu: %s", source, diag->line, msg);
    }
    return cli_error("%s: %s", source, msg);
}

static int nodes_import(cli *c, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, NULL, pos, 1, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (n_pos != 1)
        return cli_usage(c, "give the node FILE (JSON Lines, '-' for standard input)");
    if ((rc = cli_check_actor(c)) != CLI_OK)
        return rc;

    bool is_stdin = strcmp(pos[0], "-") == 0;
    const char *source = is_stdin ? "stdin" : pos[0];
    cli_backend *b = NULL;
    char *answer = NULL;
    json_t *st = NULL;
    FILE *in;
    struct stat sb;
    if ((rc = cli_open_input(pos[0], &in, &sb)) != CLI_OK)
        return rc;
    if ((rc = cli_backend_open(c, &b)) != CLI_OK)
        goto out;

    progress prog = {source, monotonic_seconds(), false};
    bool large = fstat(fileno(in), &sb) != 0 || !S_ISREG(sb.st_mode) ||
                 (uint64_t)sb.st_size >= PROGRESS_MIN_BYTES;
    bool show = large && isatty(STDERR_FILENO);
    cutoff_diag diag = {0};
    int err = b->ops->nodes_import(b, in, source, show ? show_progress : NULL, show ? &prog : NULL,
                                   &answer, &diag);
    clear_progress(&prog);
    if (err == CLI_REPORTED) {
        rc = CLI_FAIL;
        goto out;
    }
    if (err != 0) {
        rc = import_error(err, &diag, source);
        goto out;
    }
    if ((st = cli_json_load(answer)) == NULL) {
        rc = CLI_FAIL;
        goto out;
    }
    json_int_t lines = json_integer_value(json_object_get(st, "lines"));
    json_int_t inserted = json_integer_value(json_object_get(st, "inserted"));
    json_int_t updated = json_integer_value(json_object_get(st, "updated"));
    json_int_t unchanged = json_integer_value(json_object_get(st, "unchanged"));
    if (c->json) {
        json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I}", "source", source, "lines", lines,
                              "inserted", inserted, "updated", updated, "unchanged", unchanged);
        cli_json_print(o);
        json_decref(o);
    } else {
        printf("imported %s: %lld lines, %lld new, %lld updated, %lld unchanged\n", source,
               (long long)lines, (long long)inserted, (long long)updated, (long long)unchanged);
    }
    rc = CLI_OK;
out:
    json_decref(st);
    free(answer);
    cli_backend_close(b);
    if (!is_stdin)
        fclose(in);
    return rc;
}

static int fetch_node(cli_backend *b, const char *id, char **out, cutoff_diag *diag)
{
    return b->ops->node_show(b, id, out, diag);
}

static int nodes_show(cli *c, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, NULL, pos, 1, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (n_pos != 1)
        return cli_usage(c, "give the node ID");
    json_t *node;
    rc = cli_fetch(c, fetch_node, pos[0], "no node \"%s\" in the tree", "reading the node", &node);
    if (rc != CLI_OK || node == NULL)
        return rc;
    static const char *const order[] = {
        "id", "kind", "name", "parent", "plan", "effective_plan", "plan_from", "ancestors", NULL};
    cli_print_object(node, order, "");
    json_decref(node);
    return CLI_OK;
}

int cli_cmd_nodes(cli *c, int argc, char **argv)
{
    static const cli_sub subs[] = {{"import", nodes_import}, {"show", nodes_show}};
    return cli_run_subcommand(c, argc, argv, subs, sizeof subs / sizeof subs[0],
                              "import FILE or show ID");
}
