/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_catalog.c - "cutoff init" and "cutoff catalog load|show": creating
 * the database and managing the catalog of services, actions, regions and
 * plans that every decision is made against (locally or through a server:
 * both answer the canonical catalog document, parsed back here to lay it
 * out).
 */
#include "cli/backend.h"

#include <stdlib.h>
#include <string.h>

int cli_cmd_init(cli *c, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, NULL, pos, 0, &n_pos);
    if (rc != CLI_OK || (rc = cli_resolve(c)) != CLI_OK)
        return rc;
    if (c->server != NULL)
        return cli_usage(c,
                         "init works on a local database only, not through the server %s; "
                         "run it where cutoffd's database is (or give --db PATH)",
                         c->server);
    /* An initialised database is left as it is (migrated if older); only a
     * missing or uninitialised one gets the schema. */
    cutoff_db *db = NULL;
    cutoff_diag diag = {0};
    int err = cutoff_db_open(c->db_path, 0, &db, &diag);
    bool created = err == CUTOFF_ENOTINIT;
    if (created) {
        rc = cli_open_db(c, true, "init", &db);
    } else if (err != 0) {
        rc = strstr(diag.message, c->db_shown) ? cli_fail(err, &diag, NULL)
                                               : cli_fail(err, &diag, c->db_shown);
    }
    if (rc != CLI_OK)
        return rc;
    cutoff_db_close(db);
    if (c->json) {
        json_t *o = json_pack("{s:s, s:i, s:b}", "database", c->db_shown, "schema",
                              cutoff_db_schema_version(), "created", created);
        cli_json_print(o);
        json_decref(o);
    } else {
        printf("%s %s (schema %d)\n", created ? "initialised" : "already initialised:", c->db_shown,
               cutoff_db_schema_version());
    }
    return CLI_OK;
}

/* Number of distinct services (the part of the action names before '.'). */
static size_t count_services(const cutoff_catalog_spec *cat)
{
    size_t n = 0;
    for (size_t i = 0; i < cat->n_actions; i++) {
        const char *name = cat->actions[i].name;
        size_t len = strcspn(name, ".");
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen =
                strncmp(cat->actions[j].name, name, len) == 0 && cat->actions[j].name[len] == '.';
        n += !seen;
    }
    return n;
}

/* Parses the catalog document a backend answered. */
static int parse_catalog(const char *json, cutoff_catalog_spec **out)
{
    cutoff_diag diag = {0};
    int err = cutoff_catalog_parse(json, strlen(json), out, &diag);
    return err == 0 ? CLI_OK : cli_fail(err, &diag, "reading the catalog back");
}

/* Lays out what a catalog changes under the active actions (the impact
 * cutoff_db_catalog_apply answers), one row per action and catalog action. */
static void print_impact(const json_t *impact)
{
    cli_table t;
    cli_table_init(&t, 5);
    static const char *const heads[] = {"ENFORCEMENT ACTION", "CATALOG ACTION", "CLASS BEFORE",
                                        "CLASS AFTER", "SUBSCRIPTIONS CHANGED"};
    for (size_t i = 0; i < 5; i++)
        cli_table_add(&t, heads[i]);
    const json_t *acts = json_object_get(impact, "enforcement_actions");
    for (size_t i = 0; i < json_array_size(acts); i++) {
        const json_t *a = json_array_get(acts, i);
        const json_t *lines = json_object_get(a, "catalog_actions");
        for (size_t k = 0; k < json_array_size(lines); k++) {
            const json_t *l = json_array_get(lines, k);
            cli_table_addf(&t, "%s v%lld",
                           json_string_value(json_object_get(a, "enforcement_action")),
                           (long long)json_integer_value(json_object_get(a, "version")));
            cli_table_add_json(&t, l, "action");
            cli_table_add_json(&t, l, "class_before");
            const json_t *after = json_object_get(l, "class_after");
            cli_table_add(&t, json_is_string(after) ? json_string_value(after) : "(removed)");
            cli_table_addf(
                &t, "%lld of %lld",
                (long long)json_integer_value(json_object_get(l, "subscriptions_changed")),
                (long long)json_integer_value(json_object_get(a, "subscriptions_in_scope")));
        }
    }
    printf("Decisions that change under active actions\n");
    cli_table_print(&t, "  ", "00001");
    cli_table_free(&t);
}

static int catalog_load(cli *c, int argc, char **argv)
{
    bool force = false;
    const cli_opt opts[] = {{"force", NULL, &force}, {0}};
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, opts, pos, 1, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (n_pos != 1)
        return cli_usage(c, "give the catalog FILE ('-' for standard input)");
    if ((rc = cli_check_actor(c)) != CLI_OK)
        return rc;

    char *text = NULL, *loaded = NULL, *impact_text = NULL;
    size_t len = 0;
    cli_backend *b = NULL;
    cutoff_catalog_spec *cat = NULL;
    json_t *impact = NULL;
    cutoff_diag diag = {0};
    if ((rc = cli_read_file(pos[0], &text, &len)) != CLI_OK)
        goto out;
    if ((rc = cli_backend_open(c, &b)) != CLI_OK)
        goto out;
    int err = b->ops->catalog_load(b, text, len, force, &loaded, &impact_text, &diag);
    if (impact_text != NULL && (impact = cli_json_load(impact_text)) == NULL) {
        rc = CLI_FAIL;
        goto out;
    }
    if (err != 0) {
        /* Refused for what it would change: the changes on stdout, the
         * refusal on stderr. */
        if (impact != NULL && c->json)
            cli_json_print(impact);
        else if (impact != NULL)
            print_impact(impact);
        if (impact != NULL && err == CUTOFF_ESTATE)
            rc = cli_error("%s: %s (--force)", pos[0], diag.message);
        else
            rc = cli_fail(err, &diag, pos[0]);
        goto out;
    }
    if ((rc = parse_catalog(loaded, &cat)) != CLI_OK)
        goto out;
    if (c->json) {
        json_t *o = json_pack("{s:i, s:i, s:i, s:i}", "services", (int)count_services(cat),
                              "actions", (int)cat->n_actions, "regions", (int)cat->n_regions,
                              "plans", (int)cat->n_plans);
        if (o != NULL && impact != NULL)
            json_object_set(o, "forced_changes", impact);
        cli_json_print(o);
        json_decref(o);
    } else {
        if (impact != NULL)
            print_impact(impact);
        printf("catalog loaded: %zu services, %zu actions, %zu regions, %zu plans\n",
               count_services(cat), cat->n_actions, cat->n_regions, cat->n_plans);
    }
    rc = CLI_OK;
out:
    json_decref(impact);
    cutoff_catalog_free(cat);
    cli_backend_close(b);
    free(impact_text);
    free(loaded);
    free(text);
    return rc;
}

static void print_catalog(const cutoff_catalog_spec *cat)
{
    cli_table t;
    printf("Services and actions\n");
    cli_table_init(&t, 3);
    cli_table_add(&t, "SERVICE");
    cli_table_add(&t, "ACTION");
    cli_table_add(&t, "CLASS");
    for (size_t i = 0; i < cat->n_actions; i++) {
        const char *name = cat->actions[i].name;
        int len = (int)strcspn(name, ".");
        /* The service is named once, on its first action. */
        bool first = i == 0 || strncmp(cat->actions[i - 1].name, name, (size_t)len) != 0 ||
                     cat->actions[i - 1].name[len] != '.';
        cli_table_addf(&t, "%.*s", first ? len : 0, name);
        cli_table_add(&t, name);
        cli_table_add(&t, cutoff_class_name(cat->actions[i].cls));
    }
    cli_table_print(&t, "  ", NULL);
    cli_table_free(&t);

    printf("\nRegions\n  ");
    for (size_t i = 0; i < cat->n_regions; i++)
        printf("%s%s", i ? ", " : "", cat->regions[i]);
    printf("%s\n\nPlans\n", cat->n_regions ? "" : "(none)");
    cli_table_init(&t, 2);
    cli_table_add(&t, "PLAN");
    cli_table_add(&t, "SERVICES");
    for (size_t i = 0; i < cat->n_plans; i++) {
        cli_table_add(&t, cat->plans[i].name);
        size_t width = 0;
        for (size_t j = 0; j < cat->plans[i].n_services; j++)
            width += strlen(cat->plans[i].services[j]) + 2;
        char *joined = calloc(1, width + 1);
        if (joined == NULL) {
            cli_table_add(&t, "?");
            continue;
        }
        for (size_t j = 0; j < cat->plans[i].n_services; j++) {
            if (j)
                strcat(joined, ", ");
            strcat(joined, cat->plans[i].services[j]);
        }
        cli_table_add(&t, joined);
        free(joined);
    }
    if (cat->n_plans)
        cli_table_print(&t, "  ", NULL);
    else
        printf("  (none)\n");
    cli_table_free(&t);
}

static int catalog_show(cli *c, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, NULL, pos, 0, &n_pos);
    if (rc != CLI_OK)
        return rc;
    cli_backend *b = NULL;
    cutoff_catalog_spec *cat = NULL;
    char *json = NULL;
    cutoff_diag diag = {0};
    c->read_only = true;
    if ((rc = cli_backend_open(c, &b)) != CLI_OK)
        goto out;
    int err = b->ops->catalog_get(b, &json, &diag);
    if (err == CUTOFF_ENOTFOUND) {
        rc = cli_error("no catalog loaded yet (run 'cutoff catalog load FILE')");
        goto out;
    }
    if (err != 0) {
        rc = cli_fail(err, &diag, "reading the catalog");
        goto out;
    }
    if (c->json) {
        rc = cli_json_print_text(json);
        goto out;
    }
    if ((rc = parse_catalog(json, &cat)) != CLI_OK)
        goto out;
    print_catalog(cat);
    rc = CLI_OK;
out:
    free(json);
    cutoff_catalog_free(cat);
    cli_backend_close(b);
    return rc;
}

int cli_cmd_catalog(cli *c, int argc, char **argv)
{
    static const cli_sub subs[] = {{"load", catalog_load}, {"show", catalog_show}};
    return cli_run_subcommand(c, argc, argv, subs, sizeof subs / sizeof subs[0],
                              "load FILE or show");
}
