/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scenario.c - writes one random scenario as the files the CLI reads, with
 * the answers of the reference evaluator, for the CLI-level differential
 * test (tests/integration/batch_differential.sh):
 *
 *   catalog.json        the catalog document
 *   nodes.jsonl         the customer tree, parents first
 *   action-N.json       one enforcement action each (absolute phases only)
 *   plan.tsv            action-N.json<TAB>final state<TAB>id, in order: the
 *                       script proposes every action, approves the active
 *                       and lifted ones, then lifts the lifted ones
 *   queries.tsv         subscription<TAB>action<TAB>region or -<TAB>time,
 *                       times as RFC 3339 (Z, an offset or a fraction) or
 *                       Unix seconds
 *   expected.tsv        allow|deny<TAB>reason<TAB>action id or -, per query
 *
 *   usage: scenario SEED DIR [QUERIES]
 *
 * JSON goes through jansson, never by hand.
 */
#include "cutoff.h"
#include "../support/reference.h"
#include "../support/scenario.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_json(const char *dir, const char *name, json_t *doc)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = json_dump_file(doc, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (rc != 0)
        fprintf(stderr, "scenario: cannot write %s\n", path);
    return rc;
}

static FILE *open_out(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        fprintf(stderr, "scenario: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

static json_t *string_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* Services in order of first appearance, each with its actions. */
static json_t *catalog_json(const cutoff_catalog_spec *c)
{
    json_t *doc = json_object(), *services = json_array();
    for (size_t i = 0; i < c->n_actions; i++) {
        const char *name = c->actions[i].name;
        size_t svc_len = (size_t)(strchr(name, '.') - name);
        json_t *svc = NULL;
        size_t k;
        json_array_foreach (services, k, svc) {
            const char *s = json_string_value(json_object_get(svc, "name"));
            if (strlen(s) == svc_len && strncmp(s, name, svc_len) == 0)
                break;
        }
        if (k == json_array_size(services)) {
            svc = json_object();
            json_object_set_new(svc, "name", json_stringn(name, svc_len));
            json_object_set_new(svc, "actions", json_array());
            json_array_append_new(services, svc);
        }
        json_t *act = json_object();
        json_object_set_new(act, "name", json_string(name + svc_len + 1));
        json_object_set_new(act, "class",
                            json_string(c->actions[i].cls == CUTOFF_CLASS_READ ? "read" : "write"));
        json_array_append_new(json_object_get(svc, "actions"), act);
    }
    json_object_set_new(doc, "services", services);
    json_object_set_new(doc, "regions", string_array(c->regions, c->n_regions));
    json_t *plans = json_array();
    for (size_t i = 0; i < c->n_plans; i++) {
        json_t *p = json_object();
        json_object_set_new(p, "name", json_string(c->plans[i].name));
        json_object_set_new(p, "services",
                            string_array(c->plans[i].services, c->plans[i].n_services));
        json_array_append_new(plans, p);
    }
    json_object_set_new(doc, "plans", plans);
    return doc;
}

static json_t *action_json(const cutoff_action_spec *a)
{
    char t[32];
    json_t *doc = json_object();
    json_object_set_new(doc, "id", json_string(a->id));
    json_object_set_new(doc, "case", json_string(a->case_id));
    json_object_set_new(doc, "scope", string_array(a->scope, a->n_scope));
    json_object_set_new(doc, "deny", string_array(a->deny, a->n_deny));
    if (a->n_except > 0)
        json_object_set_new(doc, "except", string_array(a->except, a->n_except));
    if (a->n_regions > 0)
        json_object_set_new(doc, "regions", string_array(a->regions, a->n_regions));
    json_t *phases = json_array();
    for (size_t i = 0; i < a->n_phases; i++) {
        json_t *p = json_object();
        json_object_set_new(p, "at", json_string(cutoff_time_format(a->phases[i].at, t)));
        json_object_set_new(p, "mode", json_string(cutoff_mode_name(a->phases[i].mode)));
        json_array_append_new(phases, p);
    }
    json_object_set_new(doc, "phases", phases);
    json_object_set_new(doc, "status", json_integer(a->status));
    json_t *notice = json_object();
    json_object_set_new(notice, "summary", json_string(a->notice.summary));
    json_object_set_new(notice, "terms", json_string(a->notice.terms));
    json_object_set_new(notice, "contact", json_string(a->notice.contact));
    json_object_set_new(notice, "ref", json_string(a->notice.ref));
    json_object_set_new(doc, "notice", notice);
    return doc;
}

/* One of the time notations the batch format accepts, all meaning t. */
static void format_time(scenario_rng *r, int64_t t, char *buf, size_t size)
{
    char iso[32];
    switch (scenario_rng_below(r, 4)) {
    case 0: snprintf(buf, size, "%lld", (long long)t); break;
    case 1: /* local time two hours ahead of UTC */
        cutoff_time_format(t + 7200, iso);
        iso[19] = '\0';
        snprintf(buf, size, "%s+02:00", iso);
        break;
    case 2: /* a fraction, truncated to the second */
        cutoff_time_format(t, iso);
        iso[19] = '\0';
        snprintf(buf, size, "%s.%03dZ", iso, (int)scenario_rng_below(r, 1000));
        break;
    default: cutoff_time_format(t, buf); break;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: scenario SEED DIR [QUERIES]\n");
        return 2;
    }
    uint64_t seed = strtoull(argv[1], NULL, 0);
    const char *dir = argv[2];
    scenario_options opt = {.n_queries = argc == 4 ? strtoul(argv[3], NULL, 10) : 300, .cli = 1};
    scenario s;
    if (scenario_generate(seed, &opt, &s) != 0) {
        fprintf(stderr, "scenario: out of memory\n");
        return 1;
    }
    int rc = 1;
    FILE *nodes = NULL, *plan = NULL, *queries = NULL, *expected = NULL;

    if (write_json(dir, "catalog.json", catalog_json(&s.catalog)) != 0)
        goto done;

    /* The generator makes parents before children and, for the CLI, no
     * second specs for a node. */
    if ((nodes = open_out(dir, "nodes.jsonl")) == NULL)
        goto done;
    for (size_t i = 0; i < s.n_nodes; i++) {
        const cutoff_node_spec *n = &s.nodes[i];
        json_t *line = json_object();
        json_object_set_new(line, "id", json_string(n->id));
        json_object_set_new(line, "kind", json_string(cutoff_node_kind_name(n->kind)));
        json_object_set_new(line, "parent", n->parent ? json_string(n->parent) : json_null());
        if (n->name)
            json_object_set_new(line, "name", json_string(n->name));
        if (n->plan)
            json_object_set_new(line, "plan", json_string(n->plan));
        char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(line);
        if (text == NULL)
            goto done;
        fprintf(nodes, "%s\n", text);
        cutoff_free(text);
    }

    if ((plan = open_out(dir, "plan.tsv")) == NULL)
        goto done;
    for (size_t i = 0; i < s.n_actions; i++) {
        const cutoff_action_spec *a = s.actions[i];
        char name[64];
        snprintf(name, sizeof name, "action-%zu.json", i + 1);
        if (write_json(dir, name, action_json(a)) != 0)
            goto done;
        fprintf(plan, "%s\t%s\t%s\n", name, cutoff_action_state_name(a->state), a->id);
    }

    /* The reference decides with the states the script will bring about. */
    ref_world w = {&s.catalog, s.nodes, s.n_nodes, s.actions, s.n_actions};
    if ((queries = open_out(dir, "queries.tsv")) == NULL ||
        (expected = open_out(dir, "expected.tsv")) == NULL)
        goto done;
    for (size_t i = 0; i < s.n_queries; i++) {
        const scenario_query *q = &s.queries[i];
        char when[64];
        format_time(&s.rng, q->t, when, sizeof when);
        fprintf(queries, "%s\t%s\t%s\t%s\n", q->subscription, q->action,
                q->region ? q->region : "-", when);
        ref_verdict v;
        ref_check(&w, q->subscription, q->action, q->region, q->t, &v);
        fprintf(expected, "%s\t%s\t%s\n", v.reason == CUTOFF_REASON_ALLOW ? "allow" : "deny",
                cutoff_reason_name(v.reason), v.by ? v.by->id : "-");
    }
    rc = 0;
done:
    if (nodes && fclose(nodes) != 0)
        rc = 1;
    if (plan && fclose(plan) != 0)
        rc = 1;
    if (queries && fclose(queries) != 0)
        rc = 1;
    if (expected && fclose(expected) != 0)
        rc = 1;
    scenario_free(&s);
    return rc;
}
