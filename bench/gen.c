/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gen.c - writes the synthetic world of synth.h as files, deterministically
 * by seed, for the benchmarks that go through the CLI or SQLite:
 *
 *   gen catalog                                  the catalog (JSON)
 *   gen nodes --subs N [--seed S] [--csv]        node lines (JSON Lines), or
 *                                                the same rows as CSV
 *   gen queries --subs N [--seed S] [--count M]  batch-check lines
 *   gen actions --subs N [--seed S] --dir DIR [--case ID]
 *                                                EA-1..EA-4, EA-WIDE, EA-UNIT
 *                                                as DIR/<id>.json
 *   gen info --subs N [--seed S]                 counts and the scopes of the
 *                                                actions, as key=value lines
 *
 * Output goes to standard output (actions to files). The same (N, seed)
 * always gives the same bytes.
 */
#include "synth.h"

#include <errno.h>
#include <stdbool.h>

static const char usage_text[] =
    "usage: gen catalog\n"
    "       gen nodes --subs N [--seed S] [--csv]\n"
    "       gen queries --subs N [--seed S] [--count M] [--at UNIX_SECONDS]\n"
    "       gen actions --subs N [--seed S] --dir DIR [--case ID]\n"
    "       gen info --subs N [--seed S]\n";

typedef struct options {
    uint64_t subs, seed, count;
    int64_t at;
    bool csv, have_subs;
    const char *dir, *case_id;
} options;

static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "gen: %s\n", why);
    fputs(usage_text, stderr);
    return 2;
}

/* Parses a decimal count, accepting the suffixes k and M ("10M"). */
static bool parse_count(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || text[0] == '-')
        return false;
    if (*end == 'k')
        v *= 1000, end++;
    else if (*end == 'M')
        v *= 1000000, end++;
    if (*end != '\0')
        return false;
    *out = v;
    return true;
}

static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){.seed = 1, .count = 1000000, .at = SYNTH_NOW, .case_id = "CASE-BENCH"};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--csv") == 0) {
            o->csv = true;
            continue;
        }
        if (v == NULL)
            return usage("an option is missing its value");
        i++;
        if (strcmp(a, "--subs") == 0) {
            if (!parse_count(v, &o->subs) || o->subs == 0 || o->subs > (UINT64_C(1) << 31))
                return usage("--subs wants a count from 1 to 2^31 (suffixes k, M allowed)");
            o->have_subs = true;
        } else if (strcmp(a, "--seed") == 0) {
            if (!parse_count(v, &o->seed))
                return usage("--seed wants a non-negative integer");
        } else if (strcmp(a, "--count") == 0) {
            if (!parse_count(v, &o->count))
                return usage("--count wants a count (suffixes k, M allowed)");
        } else if (strcmp(a, "--at") == 0) {
            uint64_t at;
            if (!parse_count(v, &at))
                return usage("--at wants Unix seconds");
            o->at = (int64_t)at;
        } else if (strcmp(a, "--dir") == 0) {
            o->dir = v;
        } else if (strcmp(a, "--case") == 0) {
            o->case_id = v;
        } else {
            return usage("unknown option");
        }
    }
    return 0;
}

/* ---- nodes ------------------------------------------------------------------ */

typedef struct node_writer {
    FILE *out;
    bool csv;
} node_writer;

static void write_json_node(void *ctx, const synth_node *n)
{
    FILE *out = ((node_writer *)ctx)->out;
    fputs("{\"id\":\"", out);
    fputs(n->id, out);
    fputs("\",\"kind\":\"", out);
    fputs(cutoff_node_kind_name(n->kind), out);
    if (n->parent) {
        fputs("\",\"parent\":\"", out);
        fputs(n->parent, out);
        fputc('"', out);
    } else {
        fputs("\",\"parent\":null", out);
    }
    if (n->name) {
        fputs(",\"name\":\"", out);
        fputs(n->name, out);
        fputc('"', out);
    }
    if (n->plan) {
        fputs(",\"plan\":\"", out);
        fputs(n->plan, out);
        fputc('"', out);
    }
    fputs("}\n", out);
}

/* The same row for `sqlite3 .import` into a table shaped like the store's:
 * id,kind,parent,name,plan with kind as its number (empty fields for none;
 * the names hold no commas or quotes). */
static void write_csv_node(void *ctx, const synth_node *n)
{
    FILE *out = ((node_writer *)ctx)->out;
    fputs(n->id, out);
    fputc(',', out);
    fputc('0' + (int)n->kind, out);
    fputc(',', out);
    if (n->parent)
        fputs(n->parent, out);
    fputc(',', out);
    if (n->name)
        fputs(n->name, out);
    fputc(',', out);
    if (n->plan)
        fputs(n->plan, out);
    fputc('\n', out);
}

static int cmd_nodes(const options *o)
{
    static char buf[1 << 20];
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    node_writer w = {stdout, o->csv};
    synth_world world;
    synth_walk(o->subs, o->seed, o->csv ? write_csv_node : write_json_node, &w, &world);
    synth_world_free(&world);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- queries, actions, info --------------------------------------------------- */

static int cmd_queries(const options *o)
{
    static char buf[1 << 20];
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    synth_world world;
    synth_action day[4];
    synth_walk(o->subs, o->seed, NULL, NULL, &world);
    size_t n_day = synth_day_actions(&world, day);
    uint64_t rng = o->seed ^ 0x7175657279ULL;
    char id[32];
    for (uint64_t i = 0; i < o->count; i++) {
        synth_request q = synth_draw(&world, day, n_day, &rng);
        const char *region = synth_region_name(q.region);
        synth_sub_id(o->seed, q.sub, id);
        printf("%s\t%s\t%s\t%" PRId64 "\n", id, synth_action_name(q.action), region ? region : "-",
               o->at);
    }
    synth_world_free(&world);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int write_action(const char *dir, const synth_action *a, const char *case_id)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", dir, a->id);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "gen: %s: %s\n", path, strerror(errno));
        return 1;
    }
    synth_action_json(f, a, case_id);
    if (fclose(f) != 0) {
        fprintf(stderr, "gen: %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

static int cmd_actions(const options *o)
{
    if (o->dir == NULL)
        return usage("actions wants --dir DIR");
    synth_world world;
    synth_action all[6];
    synth_walk(o->subs, o->seed, NULL, NULL, &world);
    synth_day_actions(&world, all);
    synth_wide_action(&world, &all[4]);
    synth_unit_action(&world, &all[5]);
    int rc = 0;
    for (size_t i = 0; i < 6 && rc == 0; i++)
        rc = write_action(o->dir, &all[i], o->case_id);
    synth_world_free(&world);
    return rc;
}

static int cmd_info(const options *o)
{
    synth_world world;
    synth_action all[6];
    synth_walk(o->subs, o->seed, NULL, NULL, &world);
    synth_day_actions(&world, all);
    synth_wide_action(&world, &all[4]);
    synth_unit_action(&world, &all[5]);
    size_t levels[4] = {0};
    for (size_t i = 0; i < world.n_units; i++)
        levels[world.units[i].level]++;
    printf("subscriptions=%" PRIu64 "\nnodes=%" PRIu64 "\nid_bytes=%" PRIu64 "\n", world.subs,
           world.nodes, world.id_bytes);
    printf("groups=%zu\ndivisions=%zu\ndepartments=%zu\n", levels[0], levels[1], levels[2]);
    for (size_t i = 0; i < 6; i++) {
        printf("%s.subscriptions=%" PRIu64 "\n%s.scope=", all[i].id, synth_action_subs(&all[i]),
               all[i].id);
        for (size_t j = 0; j < all[i].n_scope; j++)
            printf("%s%s", j ? "," : "", all[i].scope[j]);
        printf("\n");
    }
    /* A subscription inside EA-UNIT's scope, for the time-to-effect probe. */
    char id[32];
    synth_sub_id(o->seed, all[5].scope_first[0] + all[5].scope_subs[0] / 2, id);
    printf("EA-UNIT.probe=%s\n", id);
    synth_world_free(&world);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(NULL);
    const char *cmd = argv[1];
    if (strcmp(cmd, "catalog") == 0) {
        synth_catalog_json(stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    options o;
    int rc = parse_options(argc - 2, argv + 2, &o);
    if (rc != 0)
        return rc;
    if (!o.have_subs)
        return usage("--subs N is required");
    if (strcmp(cmd, "nodes") == 0)
        return cmd_nodes(&o);
    if (strcmp(cmd, "queries") == 0)
        return cmd_queries(&o);
    if (strcmp(cmd, "actions") == 0)
        return cmd_actions(&o);
    if (strcmp(cmd, "info") == 0)
        return cmd_info(&o);
    return usage("unknown command");
}
