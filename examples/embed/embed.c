/* SPDX-License-Identifier: Apache-2.0 */
/*
 * embed.c - libcutoff inside another program, through <cutoff.h> alone.
 *
 * A gateway, a proxy or a service that wants cutoff's decisions without a
 * round trip to cutoffd can link libcutoff and decide in its own process.
 * This program shows the whole path with no database: it reads a catalog,
 * a customer tree (node lines) and one enforcement action from files,
 * compiles them into a snapshot, treats the action as approved at an
 * activation time, and decides requests read from a file, one line each:
 *
 *     embed [--activated TIME] [--at TIME|+OFFSET] CATALOG NODES ACTION [REQUESTS]
 *
 *     REQUESTS: "SUBSCRIPTION ACTION [REGION]" a line ('#' comments and
 *               blank lines are skipped); standard input when absent or "-"
 *     output:   "SUBSCRIPTION ACTION REGION: allow" or
 *               "SUBSCRIPTION ACTION REGION: deny REASON [ACTION-ID]"
 *               (REGION "-" when the request names none)
 *
 * --activated defaults to now, --at to the activation time; "+30d" counts
 * from the activation, so "--at +30d" shows the action's later phases.
 * Build it with the Makefile next to it (pkg-config --cflags --libs cutoff).
 */
#define _POSIX_C_SOURCE 200809L /* getline */

#include <cutoff.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: embed [--activated TIME] [--at TIME|+OFFSET] CATALOG NODES ACTION [REQUESTS]\n";

/* Reads a whole file into a NUL-terminated buffer (the parsers take a
 * length, the NUL is for messages). */
static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "embed: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t used = 0, cap = 0;
    for (;;) {
        if (cap - used < 4096) {
            char *bigger = realloc(buf, cap ? cap * 2 : 8192);
            if (bigger == NULL)
                break;
            buf = bigger;
            cap = cap ? cap * 2 : 8192;
        }
        size_t n = fread(buf + used, 1, cap - used - 1, f);
        used += n;
        if (n == 0)
            break;
    }
    int failed = ferror(f) || buf == NULL || cap - used < 1;
    fclose(f);
    if (failed) {
        fprintf(stderr, "embed: %s: cannot read it\n", path);
        free(buf);
        return -1;
    }
    buf[used] = '\0';
    *out = buf;
    *len = used;
    return 0;
}

/* The customer tree: the catalog, then one node per line of the JSON Lines
 * file. cutoff_node_parse_line points the spec's strings into the line,
 * and the builder copies them, so one line buffer serves every line. The
 * builder reports a bad parent or a cycle by insertion index; line_of maps
 * that back to a line of the file for the message. */
static int load_tree(const cutoff_catalog_spec *catalog, const char *nodes_path, cutoff_tree **out)
{
    cutoff_tree_builder *builder = NULL;
    cutoff_diag diag = {0};
    FILE *f = NULL;
    char *line = NULL;
    size_t line_cap = 0, lineno = 0, n_nodes = 0, cap_nodes = 0;
    size_t *line_of = NULL;
    int rc = cutoff_tree_builder_new(catalog, &builder, &diag);
    if (rc != 0) {
        fprintf(stderr, "embed: catalog: %s\n", diag.message);
        goto done;
    }
    if ((f = fopen(nodes_path, "r")) == NULL) {
        fprintf(stderr, "embed: %s: %s\n", nodes_path, strerror(errno));
        rc = CUTOFF_EIO;
        goto done;
    }
    ssize_t got;
    while ((got = getline(&line, &line_cap, f)) >= 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)got)
            continue; /* blank */
        cutoff_node_spec node;
        if ((rc = cutoff_node_parse_line(line, (size_t)got, &node, &diag)) != 0 ||
            (rc = cutoff_tree_builder_add(builder, &node, &diag)) != 0) {
            fprintf(stderr, "embed: %s:%zu: %s\n", nodes_path, lineno, diag.message);
            goto done;
        }
        if (n_nodes == cap_nodes) {
            size_t *bigger = realloc(line_of, (cap_nodes ? cap_nodes * 2 : 64) * sizeof *line_of);
            if (bigger == NULL) {
                rc = CUTOFF_ENOMEM;
                fprintf(stderr, "embed: %s\n", cutoff_strerror(rc));
                goto done;
            }
            line_of = bigger;
            cap_nodes = cap_nodes ? cap_nodes * 2 : 64;
        }
        line_of[n_nodes++] = lineno;
    }
    /* Parents, kinds, cycles and plans are checked here, all at once. */
    if ((rc = cutoff_tree_build(builder, out, &diag)) != 0) {
        if (diag.item < n_nodes)
            fprintf(stderr, "embed: %s:%zu: %s\n", nodes_path, line_of[diag.item], diag.message);
        else
            fprintf(stderr, "embed: %s: %s\n", nodes_path, diag.message);
    }
done:
    free(line_of);
    free(line);
    if (f)
        fclose(f);
    cutoff_tree_builder_free(builder);
    return rc;
}

/* "+30d" counts from the activation; anything else is a time. */
static int parse_at(const char *text, int64_t activated, int64_t *out)
{
    cutoff_diag diag = {0};
    int64_t offset;
    if (text[0] == '+') {
        if (cutoff_offset_parse(text, &offset, &diag) != 0)
            goto bad;
        *out = activated + offset;
        return 0;
    }
    if (cutoff_time_parse(text, out, &diag) == 0)
        return 0;
bad:
    fprintf(stderr, "embed: --at %s: %s\n", text, diag.message);
    return -1;
}

/* Decides every request line of `in` on the snapshot and prints one line
 * per decision. The strings a verdict borrows (the deciding action) live
 * as long as the snapshot. */
static int decide_all(const cutoff_snapshot *snap, FILE *in, const char *name, int64_t at)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    int rc = 0;
    while (getline(&line, &cap, in) >= 0) {
        lineno++;
        char *save = NULL;
        char *sub = strtok_r(line, " \t\r\n", &save);
        if (sub == NULL || sub[0] == '#')
            continue;
        char *action = strtok_r(NULL, " \t\r\n", &save);
        char *region = strtok_r(NULL, " \t\r\n", &save);
        if (action == NULL || strtok_r(NULL, " \t\r\n", &save) != NULL) {
            fprintf(stderr, "embed: %s:%zu: expected \"SUBSCRIPTION ACTION [REGION]\"\n", name,
                    lineno);
            rc = -1;
            continue;
        }
        /* Never fails: an unknown subscription or action is a deny with
         * its own reason (fail closed), not an error. */
        cutoff_verdict v;
        cutoff_check(snap, sub, action, region, at, &v);
        printf("%s %s %s: ", sub, action, region ? region : "-");
        if (v.reason == CUTOFF_REASON_ALLOW)
            printf("allow\n");
        else
            printf("deny %s%s%s\n", cutoff_reason_name(v.reason), v.by ? " " : "",
                   v.by ? v.by->id : "");
    }
    free(line);
    return rc;
}

int main(int argc, char **argv)
{
    const char *activated_text = NULL, *at_text = NULL;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 < argc && strcmp(argv[i], "--activated") == 0)
            activated_text = argv[i + 1];
        else if (i + 1 < argc && strcmp(argv[i], "--at") == 0)
            at_text = argv[i + 1];
        else
            break;
    }
    if (argc - i < 3 || argc - i > 4 || strncmp(argv[i], "--", 2) == 0) {
        fputs(usage, stderr);
        return 2;
    }
    const char *catalog_path = argv[i], *nodes_path = argv[i + 1], *action_path = argv[i + 2];
    const char *requests_path = argc - i == 4 ? argv[i + 3] : "-";

    int status = 1;
    char *text = NULL;
    size_t len = 0;
    cutoff_diag diag = {0};
    cutoff_catalog_spec *catalog = NULL;
    cutoff_action_spec *action = NULL;
    cutoff_tree *tree = NULL;
    cutoff_snapshot *snap = NULL;
    FILE *requests = NULL;

    /* 1. The catalog: services, their actions and classes, regions, plans. */
    if (read_file(catalog_path, &text, &len) != 0)
        goto done;
    if (cutoff_catalog_parse(text, len, &catalog, &diag) != 0) {
        fprintf(stderr, "embed: %s: %s\n", catalog_path, diag.message);
        goto done;
    }
    free(text);
    text = NULL;

    /* 2. The customer tree, compiled once; snapshots share it. */
    if (load_tree(catalog, nodes_path, &tree) != 0)
        goto done;

    /* 3. The enforcement action. A parsed action is a draft; in the
     * database an approval makes it active and stamps the activation time
     * from which its relative phases ("+0", "+30d") count. Here we do that
     * by hand: a snapshot compiles only active actions. */
    if (read_file(action_path, &text, &len) != 0)
        goto done;
    if (cutoff_action_parse(text, len, &action, &diag) != 0) {
        fprintf(stderr, "embed: %s: %s\n", action_path, diag.message);
        goto done;
    }
    if (action->id == NULL) {
        fprintf(stderr, "embed: %s: the action needs an \"id\"\n", action_path);
        goto done;
    }
    int64_t activated = (int64_t)time(NULL), at;
    if (activated_text && cutoff_time_parse(activated_text, &activated, &diag) != 0) {
        fprintf(stderr, "embed: --activated %s: %s\n", activated_text, diag.message);
        goto done;
    }
    at = activated;
    if (at_text && parse_at(at_text, activated, &at) != 0)
        goto done;
    action->state = CUTOFF_STATE_ACTIVE;
    action->version = 1;
    action->activated_at = activated;

    /* 4. The snapshot: the tree plus the active actions. It takes its own
     * reference on the tree and its own copy of the action. */
    const cutoff_action_spec *actions[] = {action};
    if (cutoff_snapshot_build(tree, actions, 1, &snap, &diag) != 0) {
        fprintf(stderr, "embed: %s: %s\n", action_path, diag.message);
        goto done;
    }

    /* 5. Decisions: lock-free and allocation-free, from any thread. */
    requests = strcmp(requests_path, "-") == 0 ? stdin : fopen(requests_path, "r");
    if (requests == NULL) {
        fprintf(stderr, "embed: %s: %s\n", requests_path, strerror(errno));
        goto done;
    }
    if (decide_all(snap, requests, requests_path, at) == 0)
        status = 0;

done:
    if (requests && requests != stdin)
        fclose(requests);
    cutoff_snapshot_release(snap);
    cutoff_tree_release(tree);
    cutoff_action_free(action);
    cutoff_catalog_free(catalog);
    free(text);
    return status;
}
