/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_check.c - "cutoff check": one decision, as a gateway would get it,
 * with the phase window and notice behind a denial, and on request the
 * explanation (every action whose scope covers the subscription and the
 * one that decides). A deny is an answer, not an error: exit status 0.
 * The batch form lives in batch.c.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static json_t *verdict_json(const cutoff_verdict *v, const char *sub, const char *act,
                            const char *region, int64_t t)
{
    char buf[32];
    json_t *o = json_object();
    json_object_set_new(o, "decision",
                        json_string(v->reason == CUTOFF_REASON_ALLOW ? "allow" : "deny"));
    json_object_set_new(o, "reason", json_string(cutoff_reason_name(v->reason)));
    json_object_set_new(o, "subscription", json_string(sub));
    json_object_set_new(o, "action", json_string(act));
    json_object_set_new(o, "region", region ? json_string(region) : json_null());
    json_object_set_new(o, "at", json_string(cutoff_time_format(t, buf)));
    const cutoff_action_spec *by = v->by;
    json_object_set_new(o, "enforcement_action", by ? json_string(by->id) : json_null());
    if (by != NULL) {
        json_object_set_new(o, "case", by->case_id ? json_string(by->case_id) : json_null());
        json_object_set_new(o, "version", json_integer(by->version));
        json_object_set_new(o, "status", json_integer(by->status));
        json_object_set_new(o, "since", json_string(cutoff_time_format(v->since, buf)));
        json_object_set_new(o, "until",
                            v->until == CUTOFF_TIME_NEVER
                                ? json_null()
                                : json_string(cutoff_time_format(v->until, buf)));
        json_t *notice = json_object();
        const cutoff_notice_spec *n = &by->notice;
        if (n->summary) json_object_set_new(notice, "summary", json_string(n->summary));
        if (n->terms) json_object_set_new(notice, "terms", json_string(n->terms));
        if (n->contact) json_object_set_new(notice, "contact", json_string(n->contact));
        if (n->ref) json_object_set_new(notice, "ref", json_string(n->ref));
        json_object_set_new(o, "notice", notice);
    }
    return o;
}

/* The mode of the phase that decides: read-only or suspend. */
static const char *deciding_mode(const cutoff_verdict *v)
{
    return v->reason == CUTOFF_REASON_SUSPENDED ? "suspend" : "read-only";
}

static void print_verdict(const cutoff_verdict *v)
{
    char since[32], until[32];
    if (v->reason == CUTOFF_REASON_ALLOW) {
        printf("allow\n");
        return;
    }
    const cutoff_action_spec *by = v->by;
    printf("deny %s %s\n", cutoff_reason_name(v->reason), by ? by->id : "-");
    if (by == NULL) return;
    cutoff_time_format(v->since, since);
    cutoff_time_format(v->until, until);
    printf("  phase    %s since %s%s%s\n", deciding_mode(v), since,
           v->until == CUTOFF_TIME_NEVER ? "" : " until ",
           v->until == CUTOFF_TIME_NEVER ? "" : until);
    printf("  case     %s, action version %d, HTTP status %d\n", by->case_id ? by->case_id : "-",
           by->version, by->status);
    if (by->notice.summary) printf("  notice   %s\n", by->notice.summary);
    if (by->notice.terms) printf("  terms    %s\n", by->notice.terms);
    if (by->notice.contact) printf("  contact  %s\n", by->notice.contact);
    if (by->notice.ref) printf("  ref      %s\n", by->notice.ref);
}

static void print_explanation(const cutoff_explanation *e)
{
    printf("\nWhy\n");
    if (e->verdict.reason == CUTOFF_REASON_UNKNOWN_SUBSCRIPTION || e->n_path == 0) {
        printf("  the subscription is not in the tree: fail closed\n");
        return;
    }
    printf("  path     ");
    for (size_t i = 0; i < e->n_path; i++)
        printf("%s%s", i ? " < " : "", e->path[i]);
    printf("\n");
    if (e->verdict.reason == CUTOFF_REASON_UNKNOWN_ACTION) {
        printf("  the action is not in the catalog: fail closed\n");
        return;
    }
    if (e->plan)
        printf("  plan     %s (set on %s): %s\n", e->plan, e->plan_from ? e->plan_from : "-",
               e->entitled ? "entitled" : "not entitled");
    else
        printf("  plan     none inherited: entitled to everything\n");
    if (e->n_entries == 0) {
        printf("  actions  no active action's scope covers this subscription\n");
        return;
    }
    printf("  actions whose scope covers it:\n");
    cli_table t;
    cli_table_init(&t, 8);
    static const char *const heads[] = {"",       "ACTION", "SCOPE NODE", "DENY",
                                        "EXCEPT", "REGION", "PHASE NOW",  "EFFECT"};
    for (size_t i = 0; i < 8; i++)
        cli_table_add(&t, heads[i]);
    for (size_t i = 0; i < e->n_entries; i++) {
        const cutoff_explain_entry *x = &e->entries[i];
        cli_table_add(&t, x->decides ? "=>" : "");
        cli_table_add(&t, x->action && x->action->id ? x->action->id : "-");
        cli_table_add(&t, x->scope_node);
        cli_table_add(&t, x->deny_pattern ? x->deny_pattern : "no match");
        cli_table_add(&t, x->except_pattern ? x->except_pattern : "-");
        cli_table_add(&t, x->region_match ? "matches" : "no match");
        if (x->mode == CUTOFF_MODE_OFF && x->since == 0) {
            cli_table_add(&t, "not begun");
        } else {
            char since[32];
            cli_table_addf(&t, "%s since %s", cutoff_mode_name(x->mode),
                           cutoff_time_format(x->since, since));
        }
        cli_table_add(&t, cutoff_reason_name(x->effect));
    }
    cli_table_print(&t, "    ", NULL);
    cli_table_free(&t);
    bool any = false;
    for (size_t i = 0; i < e->n_entries; i++)
        any = any || e->entries[i].decides;
    printf("  %s\n", any ? "=> marks the action that decides"
                         : "none of them decides: the decision comes from the tree and the plan");
}

static json_t *explanation_json(const cutoff_explanation *e)
{
    char buf[32];
    json_t *o = json_object();
    json_t *path = json_array();
    for (size_t i = 0; i < e->n_path; i++)
        json_array_append_new(path, json_string(e->path[i]));
    json_object_set_new(o, "path", path);
    json_object_set_new(o, "plan", e->plan ? json_string(e->plan) : json_null());
    json_object_set_new(o, "plan_from", e->plan_from ? json_string(e->plan_from) : json_null());
    json_object_set_new(o, "entitled", json_boolean(e->entitled));
    json_t *entries = json_array();
    for (size_t i = 0; i < e->n_entries; i++) {
        const cutoff_explain_entry *x = &e->entries[i];
        json_t *en = json_object();
        json_object_set_new(en, "action", json_string(x->action ? x->action->id : ""));
        json_object_set_new(en, "scope_node", json_string(x->scope_node ? x->scope_node : ""));
        json_object_set_new(en, "deny_pattern",
                            x->deny_pattern ? json_string(x->deny_pattern) : json_null());
        json_object_set_new(en, "except_pattern",
                            x->except_pattern ? json_string(x->except_pattern) : json_null());
        json_object_set_new(en, "region_match", json_boolean(x->region_match));
        json_object_set_new(en, "mode", json_string(cutoff_mode_name(x->mode)));
        json_object_set_new(en, "since", json_string(cutoff_time_format(x->since, buf)));
        json_object_set_new(en, "until",
                            x->until == CUTOFF_TIME_NEVER
                                ? json_null()
                                : json_string(cutoff_time_format(x->until, buf)));
        json_object_set_new(en, "effect", json_string(cutoff_reason_name(x->effect)));
        json_object_set_new(en, "decides", json_boolean(x->decides));
        json_array_append_new(entries, en);
    }
    json_object_set_new(o, "actions", entries);
    return o;
}

int cli_cmd_check(cli *c, int argc, char **argv)
{
    const char *region = NULL, *at_text = NULL, *batch = NULL;
    bool explain = false, bench = false;
    const cli_opt opts[] = {{"region", &region, NULL},   {"at", &at_text, NULL},
                            {"explain", NULL, &explain}, {"batch", &batch, NULL},
                            {"bench", NULL, &bench},     {0}};
    char *pos[2];
    int n_pos;
    int rc = cli_parse(c, argc, argv, opts, pos, 2, &n_pos);
    if (rc != CLI_OK) return rc;
    if (batch != NULL) {
        if (n_pos != 0 || region || at_text || explain)
            return cli_usage(c, "--batch FILE takes no SUBSCRIPTION, ACTION, --region, --at or "
                                "--explain: the file gives them per line");
        return cli_check_batch(c, batch, bench);
    }
    if (bench) return cli_usage(c, "--bench goes with --batch FILE");
    if (n_pos != 2)
        return cli_usage(c, "give the SUBSCRIPTION and the ACTION (e.g. storage.write)");
    int64_t now = cli_now(), t = now;
    if (at_text && (rc = cli_parse_time(c, "--at", at_text, &t)) != CLI_OK) return rc;
    if (region != NULL && strcmp(region, "-") == 0) region = NULL;

    cutoff_db *db = NULL;
    cutoff_snapshot *snap = NULL;
    cutoff_explanation *ex = NULL;
    cutoff_diag diag = {0};
    if ((rc = cli_open_db(c, false, &db)) != CLI_OK) return rc;
    int err = cutoff_db_snapshot(db, NULL, now, &snap, &diag);
    if (err != 0) {
        rc = cli_fail(err, &diag, "building the current state");
        goto out;
    }
    cutoff_verdict v;
    cutoff_check(snap, pos[0], pos[1], region, t, &v);
    /* An unknown subscription or action has nothing to explain beyond
     * its reason; the engine may say so with ENOTFOUND. */
    if (explain && (err = cutoff_explain(snap, pos[0], pos[1], region, t, &ex)) != 0 &&
        err != CUTOFF_ENOTFOUND) {
        rc = cli_fail(err, NULL, "explain");
        goto out;
    }
    if (c->json) {
        json_t *o = verdict_json(&v, pos[0], pos[1], region, t);
        if (ex) json_object_set_new(o, "explanation", explanation_json(ex));
        cli_json_print(o);
        json_decref(o);
    } else {
        print_verdict(&v);
        cutoff_explanation *plan_ex = NULL;
        /* A denial without an action comes from the plan: say which. */
        if (!explain && v.reason == CUTOFF_REASON_NOT_ENTITLED &&
            cutoff_explain(snap, pos[0], pos[1], region, t, &plan_ex) == 0 && plan_ex->plan)
            printf("  plan     %s (set on %s) does not cover %s\n", plan_ex->plan,
                   plan_ex->plan_from ? plan_ex->plan_from : "-", pos[1]);
        cutoff_explanation_free(plan_ex);
        if (ex)
            print_explanation(ex);
        else if (explain)
            printf("\nWhy\n  %s: fail closed\n", v.reason == CUTOFF_REASON_UNKNOWN_SUBSCRIPTION
                                                     ? "the subscription is not in the tree"
                                                     : "the action is not in the catalog");
    }
    rc = CLI_OK;
out:
    cutoff_explanation_free(ex);
    cutoff_snapshot_release(snap);
    cutoff_db_close(db);
    return rc;
}
