/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_check.c - "cutoff check": one decision, as a gateway would get it,
 * with the phase window and notice behind a denial, and on request the
 * explanation (every action whose scope covers the subscription and the
 * one that decides). A deny is an answer, not an error: exit status 0.
 * The decision comes from the backend as JSON (the engine locally, the
 * server's explanation remotely) and is laid out from that JSON alone.
 * The batch form lives in batch.c.
 */
#include "cli/backend.h"

#include <stdlib.h>
#include <string.h>

/* obj[key] when it is a string, else `fallback`. */
static const char *jstr(const json_t *obj, const char *key, const char *fallback)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : fallback;
}

static bool is_reason(const json_t *d, const char *reason)
{
    return strcmp(jstr(d, "reason", ""), reason) == 0;
}

static void print_verdict(const json_t *d)
{
    if (strcmp(jstr(d, "decision", ""), "allow") == 0) {
        printf("allow\n");
        return;
    }
    const char *by = jstr(d, "enforcement_action", NULL);
    printf("deny %s %s\n", jstr(d, "reason", "?"), by ? by : "-");
    if (by == NULL)
        return;
    /* The mode of the phase that decides: read-only or suspend. */
    const char *until = jstr(d, "until", NULL);
    printf("  phase    %s since %s%s%s\n", is_reason(d, "suspended") ? "suspend" : "read-only",
           jstr(d, "since", "?"), until ? " until " : "", until ? until : "");
    printf("  case     %s, action version %lld, HTTP status %lld\n", jstr(d, "case", "-"),
           (long long)json_integer_value(json_object_get(d, "version")),
           (long long)json_integer_value(json_object_get(d, "status")));
    const json_t *notice = json_object_get(d, "notice");
    static const char *const lines[][2] = {
        {"summary", "notice"}, {"terms", "terms"}, {"contact", "contact"}, {"ref", "ref"}};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        const char *v = jstr(notice, lines[i][0], NULL);
        if (v)
            printf("  %-8s %s\n", lines[i][1], v);
    }
}

static void print_explanation(const json_t *d, const json_t *e)
{
    printf("\nWhy\n");
    const json_t *path = json_object_get(e, "path");
    if (is_reason(d, "unknown_subscription") || json_array_size(path) == 0) {
        printf("  the subscription is not in the tree: fail closed\n");
        return;
    }
    printf("  path     ");
    size_t i;
    json_t *v;
    json_array_foreach (path, i, v) {
        printf("%s%s", i ? " < " : "", json_string_value(v) ? json_string_value(v) : "?");
    }
    printf("\n");
    if (is_reason(d, "unknown_action")) {
        printf("  the action is not in the catalog: fail closed\n");
        return;
    }
    const char *plan = jstr(e, "plan", NULL);
    if (plan)
        printf("  plan     %s (set on %s): %s\n", plan, jstr(e, "plan_from", "-"),
               json_is_true(json_object_get(e, "entitled")) ? "entitled" : "not entitled");
    else
        printf("  plan     none inherited: entitled to everything\n");
    const json_t *entries = json_object_get(e, "actions");
    if (json_array_size(entries) == 0) {
        printf("  actions  no active action's scope covers this subscription\n");
        return;
    }
    printf("  actions whose scope covers it:\n");
    cli_table t;
    cli_table_init(&t, 8);
    static const char *const heads[] = {"",       "ACTION", "SCOPE NODE", "DENY",
                                        "EXCEPT", "REGION", "PHASE NOW",  "EFFECT"};
    for (size_t k = 0; k < 8; k++)
        cli_table_add(&t, heads[k]);
    bool any = false;
    json_array_foreach (entries, i, v) {
        bool decides = json_is_true(json_object_get(v, "decides"));
        any = any || decides;
        cli_table_add(&t, decides ? "=>" : "");
        cli_table_add(&t, jstr(v, "enforcement_action", "-"));
        cli_table_add(&t, jstr(v, "scope_node", "-"));
        cli_table_add(&t, jstr(v, "deny_pattern", "no match"));
        cli_table_add(&t, jstr(v, "except_pattern", "-"));
        cli_table_add(&t,
                      json_is_true(json_object_get(v, "region_match")) ? "matches" : "no match");
        const char *mode = jstr(v, "mode", "?"), *since = jstr(v, "since", NULL);
        if (since == NULL && strcmp(mode, "off") == 0)
            cli_table_add(&t, "not begun");
        else
            cli_table_addf(&t, "%s since %s", mode, since ? since : "?");
        cli_table_add(&t, jstr(v, "effect", "?"));
    }
    cli_table_print(&t, "    ", NULL);
    cli_table_free(&t);
    printf("  %s\n", any ? "=> marks the action that decides"
                         : "none of them decides: the decision comes from the tree and the plan");
}

int cli_cmd_check(cli *c, int argc, char **argv)
{
    const char *region = NULL, *at_text = NULL, *as_of_text = NULL, *batch = NULL;
    bool explain = false, bench = false;
    const cli_opt opts[] = {{"region", &region, NULL},
                            {"at", &at_text, NULL},
                            {"as-of", &as_of_text, NULL},
                            {"explain", NULL, &explain},
                            {"batch", &batch, NULL},
                            {"bench", NULL, &bench},
                            {0}};
    char *pos[2];
    int n_pos;
    int rc = cli_parse(c, argc, argv, opts, pos, 2, &n_pos);
    if (rc != CLI_OK)
        return rc;
    c->read_only = true;
    if (batch != NULL) {
        if (n_pos != 0 || region || at_text || as_of_text || explain)
            return cli_usage(c, "--batch FILE takes no SUBSCRIPTION, ACTION, --region, --at, "
                                "--as-of or --explain: the file gives them per line");
        return cli_check_batch(c, batch, bench);
    }
    if (bench)
        return cli_usage(c, "--bench goes with --batch FILE");
    if (n_pos != 2)
        return cli_usage(c, "give the SUBSCRIPTION and the ACTION (e.g. storage.write)");
    cli_request req = {pos[0], pos[1], region, cli_now()};
    /* --at asks today's actions about a time; --as-of asks the system as
     * it stood then, about that moment: one time, so not both. */
    if (at_text && as_of_text)
        return cli_usage(c, "give --at (today's actions at a time) or --as-of (the actions "
                            "and catalog of that moment), not both");
    if (at_text && (rc = cli_parse_time(c, "--at", at_text, &req.at)) != CLI_OK)
        return rc;
    if (as_of_text && (rc = cli_parse_time(c, "--as-of", as_of_text, &req.at)) != CLI_OK)
        return rc;
    if (region != NULL && strcmp(region, "-") == 0)
        req.region = NULL;

    cli_backend *b = NULL;
    char *text = NULL;
    json_t *d = NULL;
    cutoff_diag diag = {0};
    if ((rc = cli_backend_open(c, &b)) != CLI_OK)
        return rc;
    int err = b->ops->check(b, &req, as_of_text != NULL, &text, &diag);
    if (err != 0) {
        rc = cli_fail(err, &diag, NULL);
        goto out;
    }
    if ((d = cli_json_load(text)) == NULL) {
        rc = CLI_FAIL;
        goto out;
    }
    const json_t *ex = json_object_get(d, "explanation");
    if (c->json) {
        if (!explain)
            json_object_del(d, "explanation");
        cli_json_print(d);
        rc = CLI_OK;
        goto out;
    }
    print_verdict(d);
    /* An as-of answer says what it stands on: which version decided is in
     * the lines above ("action version N"). */
    const char *as_of = jstr(d, "as_of", NULL);
    if (as_of)
        printf("  as of    %s: the actions and catalog of then, today's tree (there is no "
               "node history)\n",
               as_of);
    /* A denial without an action comes from the plan: say which. */
    const char *plan = jstr(ex, "plan", NULL);
    if (!explain && is_reason(d, "not_entitled") && plan)
        printf("  plan     %s (set on %s) does not cover %s\n", plan, jstr(ex, "plan_from", "-"),
               req.action);
    if (explain)
        print_explanation(d, ex);
    rc = CLI_OK;
out:
    json_decref(d);
    free(text);
    cli_backend_close(b);
    return rc;
}
