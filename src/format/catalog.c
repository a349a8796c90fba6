/* SPDX-License-Identifier: Apache-2.0 */
/*
 * catalog.c - the catalog document of docs/design.md: services with their
 * actions and classes, regions, and plans. Parsing checks the shape with
 * JSON paths in every message, flattens actions to full names
 * ("storage.read"), validates the result as a whole (unique names, plan
 * patterns that match something) and lays it out in one allocation.
 * Writing produces canonical compact JSON that parses back to the same
 * catalog.
 */
#include "format/format_int.h"

#include <stdalign.h>
#include <stdio.h>
#include <string.h>

static const char *const top_keys[] = {"services", "regions", "plans", NULL};
static const char *const service_keys[] = {"name", "actions", NULL};
static const char *const action_keys[] = {"name", "class", NULL};
static const char *const plan_keys[] = {"name", "services", NULL};

#define NAME_RULE "1-128 bytes of A-Z a-z 0-9 _ : - (no dots)"
#define ID_RULE "1-128 bytes of A-Z a-z 0-9 . _ : -"

/* ---- layout -------------------------------------------------------------------- */

/* Lays c out in b (see co__block); *out gets the header when filling. */
static void catalog_layout(co__block *b, const cutoff_catalog_spec *c, cutoff_catalog_spec **out)
{
    cutoff_catalog_spec *h = co__block_take(b, sizeof *h, alignof(cutoff_catalog_spec));
    cutoff_catalog_action *actions = NULL;
    cutoff_plan_spec *plans = NULL;
    if (c->n_actions <= SIZE_MAX / sizeof *actions)
        actions = co__block_take(b, c->n_actions * sizeof *actions, alignof(cutoff_catalog_action));
    else
        b->overflow = true;
    if (c->n_plans <= SIZE_MAX / sizeof *plans)
        plans = co__block_take(b, c->n_plans * sizeof *plans, alignof(cutoff_plan_spec));
    else
        b->overflow = true;
    const char *const *regions = co__block_strv(b, c->regions, c->n_regions);
    for (size_t i = 0; i < c->n_actions; i++) {
        const char *name = co__block_str(b, c->actions[i].name);
        if (actions) {
            actions[i].name = name;
            actions[i].cls = c->actions[i].cls;
        }
    }
    for (size_t i = 0; i < c->n_plans; i++) {
        const char *name = co__block_str(b, c->plans[i].name);
        const char *const *services =
            co__block_strv(b, c->plans[i].services, c->plans[i].n_services);
        if (plans) {
            plans[i].name = name;
            plans[i].services = services;
            plans[i].n_services = c->plans[i].n_services;
        }
    }
    if (h) {
        h->actions = c->n_actions ? actions : NULL;
        h->n_actions = c->n_actions;
        h->regions = regions;
        h->n_regions = c->n_regions;
        h->plans = c->n_plans ? plans : NULL;
        h->n_plans = c->n_plans;
        *out = h;
    }
}

int co__catalog_copy(const cutoff_catalog_spec *c, cutoff_catalog_spec **out)
{
    if (c == NULL || out == NULL)
        return CUTOFF_EINVAL;
    co__block b = {0};
    catalog_layout(&b, c, out);
    int rc = co__block_alloc(&b);
    if (rc != 0)
        return rc;
    catalog_layout(&b, c, out);
    return 0;
}

void cutoff_catalog_free(cutoff_catalog_spec *c)
{
    co__free(c); /* one block: see catalog_layout */
}

/* ---- validation ------------------------------------------------------------------ */

/* The document path of action i: "services[S].actions[A]", where S counts
 * runs of actions of one service. */
static const char *action_path(const cutoff_catalog_spec *c, size_t i, char *buf, size_t size)
{
    size_t service = 0, action = 0;
    for (size_t k = 1; k <= i; k++) {
        const char *prev = c->actions[k - 1].name, *cur = c->actions[k].name;
        size_t lp = strcspn(prev, "."), lc = strcspn(cur, ".");
        if (lp == lc && memcmp(prev, cur, lp) == 0) {
            action++;
        } else {
            service++;
            action = 0;
        }
    }
    snprintf(buf, size, "services[%zu].actions[%zu]", service, action);
    return buf;
}

/* Every action name is SERVICE.ACTION of dot-free names and unique; every
 * class is read or write. Fills the sets of action and service names. */
static int validate_actions(const cutoff_catalog_spec *c, co__nameset *actions,
                            co__nameset *services, cutoff_diag *diag)
{
    char path[96], first_path[96], q[96];
    for (size_t i = 0; i < c->n_actions; i++) {
        const char *name = c->actions[i].name;
        if (name == NULL)
            return co__diag(diag, CUTOFF_EINVAL, "actions[%zu]: no name", i);
        const char *dot = strchr(name, '.');
        size_t len = strlen(name);
        bool ok = dot != NULL && len <= CUTOFF_ID_MAX && co__name_valid(dot + 1);
        if (ok) {
            char service[CUTOFF_ID_MAX + 1];
            memcpy(service, name, (size_t)(dot - name));
            service[dot - name] = '\0';
            ok = co__name_valid(service);
        }
        if (!ok)
            return co__diag(diag, CUTOFF_EPARSE,
                            "%s.name: \"%s\" is not SERVICE.ACTION of names of " NAME_RULE
                            ", at most 128 bytes in all",
                            action_path(c, i, path, sizeof path), co__text(name, q, sizeof q));
        if (c->actions[i].cls != CUTOFF_CLASS_READ && c->actions[i].cls != CUTOFF_CLASS_WRITE)
            return co__diag(diag, CUTOFF_EPARSE, "%s.class: not a class; use \"read\" or \"write\"",
                            action_path(c, i, path, sizeof path));
        size_t first;
        if (co__nameset_add(actions, name, len, i, &first))
            return co__diag(diag, CUTOFF_EPARSE, "%s.name: \"%s\" is already defined at %s",
                            action_path(c, i, path, sizeof path), co__text(name, q, sizeof q),
                            action_path(c, first, first_path, sizeof first_path));
        co__nameset_add(services, name, (size_t)(dot - name), i, &first);
    }
    return 0;
}

static int validate_regions(const cutoff_catalog_spec *c, cutoff_diag *diag)
{
    char q[96];
    co__nameset seen = {0};
    int rc = co__nameset_init(&seen, c->n_regions);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < c->n_regions && rc == 0; i++) {
        const char *r = c->regions[i];
        size_t first;
        if (r == NULL || !cutoff_id_valid(r))
            rc = co__diag(diag, CUTOFF_EPARSE,
                          "regions[%zu]: \"%s\" is not a region id; use " ID_RULE, i,
                          co__text(r, q, sizeof q));
        else if (co__nameset_add(&seen, r, strlen(r), i, &first))
            rc = co__diag(diag, CUTOFF_EPARSE,
                          "regions[%zu]: \"%s\" is listed twice (first at regions[%zu])", i,
                          co__text(r, q, sizeof q), first);
    }
    co__nameset_free(&seen);
    return rc;
}

/* A plan pattern that matches no action is almost always a typo. */
static bool pattern_matches_some(const cutoff_catalog_spec *c, const co__nameset *actions,
                                 const co__nameset *services, const char *pattern)
{
    size_t len = strlen(pattern), index;
    if (strcmp(pattern, "*") == 0)
        return c->n_actions > 0;
    if (len >= 2 && strcmp(pattern + len - 2, ".*") == 0)
        return co__nameset_find(services, pattern, len - 2, &index);
    return co__nameset_find(actions, pattern, len, &index);
}

static int validate_plans(const cutoff_catalog_spec *c, const co__nameset *actions,
                          const co__nameset *services, cutoff_diag *diag)
{
    char q[96];
    co__nameset seen = {0};
    int rc = co__nameset_init(&seen, c->n_plans);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < c->n_plans && rc == 0; i++) {
        const cutoff_plan_spec *p = &c->plans[i];
        size_t first;
        if (p->name == NULL || !cutoff_id_valid(p->name)) {
            rc = co__diag(diag, CUTOFF_EPARSE,
                          "plans[%zu].name: \"%s\" is not a plan id; use " ID_RULE, i,
                          co__text(p->name, q, sizeof q));
        } else if (co__nameset_add(&seen, p->name, strlen(p->name), i, &first)) {
            rc = co__diag(diag, CUTOFF_EPARSE,
                          "plans[%zu].name: plan \"%s\" is already defined at plans[%zu]", i,
                          co__text(p->name, q, sizeof q), first);
        } else if (p->n_services > CO__PLAN_PATTERNS_MAX) {
            rc = co__diag(diag, CUTOFF_ELIMIT,
                          "plans[%zu].services: %zu patterns is too many; at most %d", i,
                          p->n_services, CO__PLAN_PATTERNS_MAX);
        } else if (p->n_services > 0 && p->services == NULL) {
            rc = co__diag(diag, CUTOFF_EINVAL, "plans[%zu].services: no patterns", i);
        }
        for (size_t j = 0; rc == 0 && p->services && j < p->n_services; j++) {
            const char *pat = p->services[j];
            if (pat == NULL || cutoff_pattern_check(pat, NULL) != 0)
                rc = co__diag(diag, CUTOFF_EPARSE,
                              "plans[%zu].services[%zu]: \"%s\" is not a pattern; use \"*\", "
                              "\"SERVICE.*\" or \"SERVICE.ACTION\"",
                              i, j, co__text(pat, q, sizeof q));
            else if (!pattern_matches_some(c, actions, services, pat))
                rc = co__diag(diag, CUTOFF_EPARSE,
                              "plans[%zu].services[%zu]: \"%s\" matches no action of the catalog",
                              i, j, co__text(pat, q, sizeof q));
        }
    }
    co__nameset_free(&seen);
    return rc;
}

int co__catalog_validate(const cutoff_catalog_spec *c, cutoff_diag *diag)
{
    if (c == NULL || (c->n_actions && c->actions == NULL) || (c->n_regions && c->regions == NULL) ||
        (c->n_plans && c->plans == NULL))
        return co__diag(diag, CUTOFF_EINVAL, "catalog spec with a count but no array");
    if (c->n_actions > CO__ACTIONS_MAX)
        return co__diag(diag, CUTOFF_ELIMIT, "services: %zu actions is too many; at most %d",
                        c->n_actions, CO__ACTIONS_MAX);
    if (c->n_regions > CO__REGIONS_MAX)
        return co__diag(diag, CUTOFF_ELIMIT, "regions: %zu regions is too many; at most %d",
                        c->n_regions, CO__REGIONS_MAX);
    if (c->n_plans > CO__PLANS_MAX)
        return co__diag(diag, CUTOFF_ELIMIT, "plans: %zu plans is too many; at most %d", c->n_plans,
                        CO__PLANS_MAX);

    co__nameset actions = {0}, services = {0};
    int rc = co__nameset_init(&actions, c->n_actions);
    if (rc == 0)
        rc = co__nameset_init(&services, c->n_actions);
    if (rc == 0)
        rc = validate_actions(c, &actions, &services, diag);
    if (rc == 0)
        rc = validate_regions(c, diag);
    if (rc == 0)
        rc = validate_plans(c, &actions, &services, diag);
    co__nameset_free(&actions);
    co__nameset_free(&services);
    if (rc == CUTOFF_ENOMEM)
        co__diag(diag, rc, "out of memory");
    return rc;
}

/* ---- parsing ---------------------------------------------------------------------- */

/* What the shape pass counts, so the fill pass allocates once. */
struct counts {
    size_t actions, name_bytes, regions, plans, patterns;
};

/* Checks one service object and its actions; adds to the counts. */
static int check_service(const json_t *svc, size_t i, co__nameset *seen, struct counts *n,
                         cutoff_diag *diag)
{
    char path[64], apath[96], q[96];
    const char *name, *aname, *cls;
    json_t *actions;
    size_t first;
    co__path_index(path, sizeof path, "services", i);
    if (!json_is_object(svc))
        return co__json_type_error(diag, path, "an object", svc);
    int rc = co__json_check_keys(svc, path, service_keys, diag);
    if (rc == 0)
        rc = co__json_get_string(svc, path, "name", CO__REQUIRED, 0, &name, diag);
    if (rc == 0)
        rc = co__json_get_array(svc, path, "actions", CO__REQUIRED, &actions, diag);
    if (rc != 0)
        return rc;
    if (!co__name_valid(name))
        return co__diag(diag, CUTOFF_EPARSE,
                        "%s.name: \"%s\" is not a service name; use " NAME_RULE, path,
                        co__text(name, q, sizeof q));
    if (co__nameset_add(seen, name, strlen(name), i, &first))
        return co__diag(diag, CUTOFF_EPARSE,
                        "%s.name: service \"%s\" is already defined at services[%zu]", path,
                        co__text(name, q, sizeof q), first);
    size_t na = json_array_size(actions);
    if (na == 0)
        return co__diag(diag, CUTOFF_EPARSE,
                        "%s.actions: empty; a service needs at least one action", path);
    if (na > CO__ACTIONS_MAX - n->actions)
        return co__diag(diag, CUTOFF_ELIMIT, "%s.actions: the catalog has more than %d actions",
                        path, CO__ACTIONS_MAX);
    for (size_t j = 0; j < na; j++) {
        json_t *act = json_array_get(actions, j);
        snprintf(apath, sizeof apath, "%s.actions[%zu]", path, j);
        if (!json_is_object(act))
            return co__json_type_error(diag, apath, "an object", act);
        rc = co__json_check_keys(act, apath, action_keys, diag);
        if (rc == 0)
            rc = co__json_get_string(act, apath, "name", CO__REQUIRED, 0, &aname, diag);
        if (rc == 0)
            rc = co__json_get_string(act, apath, "class", CO__REQUIRED, 0, &cls, diag);
        if (rc != 0)
            return rc;
        if (!co__name_valid(aname))
            return co__diag(diag, CUTOFF_EPARSE,
                            "%s.name: \"%s\" is not an action name; use " NAME_RULE, apath,
                            co__text(aname, q, sizeof q));
        size_t full = strlen(name) + 1 + strlen(aname);
        if (full > CUTOFF_ID_MAX)
            return co__diag(diag, CUTOFF_EPARSE,
                            "%s.name: \"%s.%s\" is %zu bytes; full action names are at most %d",
                            apath, name, aname, full, CUTOFF_ID_MAX);
        if (strcmp(cls, "read") != 0 && strcmp(cls, "write") != 0)
            return co__diag(diag, CUTOFF_EPARSE,
                            "%s.class: \"%s\" is not a class; use \"read\" or \"write\"", apath,
                            co__text(cls, q, sizeof q));
        n->name_bytes += full + 1;
    }
    n->actions += na;
    return 0;
}

/* The shape pass: types, keys, names, classes, limits; no allocation but
 * the duplicate set. */
static int check_shape(const json_t *services, const json_t *regions, const json_t *plans,
                       struct counts *n, cutoff_diag *diag)
{
    char path[64];
    size_t ns = json_array_size(services);
    if (ns > CO__SERVICES_MAX)
        return co__diag(diag, CUTOFF_ELIMIT, "services: %zu services is too many; at most %d", ns,
                        CO__SERVICES_MAX);
    co__nameset seen = {0};
    int rc = co__nameset_init(&seen, ns);
    for (size_t i = 0; rc == 0 && i < ns; i++)
        rc = check_service(json_array_get(services, i), i, &seen, n, diag);
    co__nameset_free(&seen);
    if (rc != 0)
        return rc;

    n->regions = json_array_size(regions);
    if (n->regions > CO__REGIONS_MAX)
        return co__diag(diag, CUTOFF_ELIMIT, "regions: %zu regions is too many; at most %d",
                        n->regions, CO__REGIONS_MAX);
    for (size_t i = 0; i < n->regions; i++) {
        json_t *r = json_array_get(regions, i);
        if (!json_is_string(r))
            return co__json_type_error(diag, co__path_index(path, sizeof path, "regions", i),
                                       "a string", r);
    }

    n->plans = json_array_size(plans);
    if (n->plans > CO__PLANS_MAX)
        return co__diag(diag, CUTOFF_ELIMIT, "plans: %zu plans is too many; at most %d", n->plans,
                        CO__PLANS_MAX);
    for (size_t i = 0; i < n->plans; i++) {
        json_t *plan = json_array_get(plans, i), *pats;
        const char *name;
        co__path_index(path, sizeof path, "plans", i);
        if (!json_is_object(plan))
            return co__json_type_error(diag, path, "an object", plan);
        rc = co__json_check_keys(plan, path, plan_keys, diag);
        if (rc == 0)
            rc = co__json_get_string(plan, path, "name", CO__REQUIRED, 0, &name, diag);
        if (rc == 0)
            rc = co__json_get_array(plan, path, "services", CO__REQUIRED, &pats, diag);
        if (rc != 0)
            return rc;
        size_t np = json_array_size(pats);
        if (np > CO__PLAN_PATTERNS_MAX)
            return co__diag(diag, CUTOFF_ELIMIT,
                            "%s.services: %zu patterns is too many; at most %d", path, np,
                            CO__PLAN_PATTERNS_MAX);
        for (size_t j = 0; j < np; j++) {
            json_t *p = json_array_get(pats, j);
            if (!json_is_string(p)) {
                char ppath[96];
                snprintf(ppath, sizeof ppath, "%s.services[%zu]", path, j);
                return co__json_type_error(diag, ppath, "a string", p);
            }
        }
        n->patterns += np;
    }
    return 0;
}

int cutoff_catalog_parse(const char *json, size_t len, cutoff_catalog_spec **out, cutoff_diag *diag)
{
    json_t *root = NULL, *services, *regions, *plans;
    cutoff_catalog_action *actions = NULL;
    char *names = NULL;
    const char **region_v = NULL, **patterns = NULL;
    cutoff_plan_spec *plan_v = NULL;
    struct counts n = {0};
    int rc;

    co__diag_clear(diag);
    if (out == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no place for the result");
    *out = NULL;
    rc = co__json_load_object(json, len, &root, diag);
    if (rc == 0)
        rc = co__json_check_keys(root, "", top_keys, diag);
    if (rc == 0)
        rc = co__json_get_array(root, "", "services", CO__REQUIRED, &services, diag);
    if (rc == 0)
        rc = co__json_get_array(root, "", "regions", CO__OPTIONAL, &regions, diag);
    if (rc == 0)
        rc = co__json_get_array(root, "", "plans", CO__OPTIONAL, &plans, diag);
    if (rc == 0)
        rc = check_shape(services, regions, plans, &n, diag);
    if (rc != 0)
        goto done;

    actions = co__calloc(n.actions, sizeof *actions);
    names = co__malloc(n.name_bytes);
    region_v = co__calloc(n.regions, sizeof *region_v);
    plan_v = co__calloc(n.plans, sizeof *plan_v);
    patterns = co__calloc(n.patterns, sizeof *patterns);
    if (!actions || !names || !region_v || !plan_v || !patterns) {
        rc = CUTOFF_ENOMEM;
        goto done;
    }

    /* Fill: the shape pass has checked everything this relies on. */
    size_t a = 0, used = 0;
    for (size_t i = 0; i < json_array_size(services); i++) {
        json_t *svc = json_array_get(services, i);
        const char *sname = json_string_value(json_object_get(svc, "name"));
        json_t *acts = json_object_get(svc, "actions");
        for (size_t j = 0; j < json_array_size(acts); j++, a++) {
            json_t *act = json_array_get(acts, j);
            const char *aname = json_string_value(json_object_get(act, "name"));
            const char *cls = json_string_value(json_object_get(act, "class"));
            int w = snprintf(names + used, n.name_bytes - used, "%s.%s", sname, aname);
            actions[a].name = names + used;
            actions[a].cls = strcmp(cls, "read") == 0 ? CUTOFF_CLASS_READ : CUTOFF_CLASS_WRITE;
            used += (size_t)w + 1;
        }
    }
    for (size_t i = 0; i < n.regions; i++)
        region_v[i] = json_string_value(json_array_get(regions, i));
    size_t p = 0;
    for (size_t i = 0; i < n.plans; i++) {
        json_t *plan = json_array_get(plans, i);
        json_t *pats = json_object_get(plan, "services");
        plan_v[i].name = json_string_value(json_object_get(plan, "name"));
        plan_v[i].services = patterns + p;
        plan_v[i].n_services = json_array_size(pats);
        for (size_t j = 0; j < plan_v[i].n_services; j++)
            patterns[p++] = json_string_value(json_array_get(pats, j));
    }

    cutoff_catalog_spec tmp = {
        .actions = actions,
        .n_actions = n.actions,
        .regions = region_v,
        .n_regions = n.regions,
        .plans = plan_v,
        .n_plans = n.plans,
    };
    rc = co__catalog_validate(&tmp, diag);
    if (rc == 0)
        rc = co__catalog_copy(&tmp, out);
done:
    if (rc == CUTOFF_ENOMEM)
        co__diag(diag, rc, "out of memory while reading the catalog");
    co__free(actions);
    co__free(names);
    co__free(region_v);
    co__free(plan_v);
    co__free(patterns);
    json_decref(root);
    return rc;
}

/* ---- writing ------------------------------------------------------------------------ */

/* The "services" array: actions grouped under their service, services in
 * the order they first appear. */
static json_t *services_json(const cutoff_catalog_spec *c)
{
    json_t *services = json_array(), **action_lists = NULL;
    co__nameset seen = {0};
    int ok = services != NULL && co__nameset_init(&seen, c->n_actions) == 0 &&
             (action_lists = co__calloc(c->n_actions, sizeof *action_lists)) != NULL;
    size_t n_services = 0;
    for (size_t i = 0; ok && i < c->n_actions; i++) {
        const char *name = c->actions[i].name, *dot = strchr(name, '.');
        size_t slen = (size_t)(dot - name), s;
        if (!co__nameset_find(&seen, name, slen, &s)) {
            /* attach first, fill after: a failed step then leaks nothing */
            json_t *svc = json_object();
            s = n_services++;
            co__nameset_add(&seen, name, slen, s, &s);
            action_lists[s] = json_array();
            ok = co__json_push(services, svc) == 0 &&
                 co__json_put(svc, "name", json_stringn_nocheck(name, slen)) == 0 &&
                 co__json_put(svc, "actions", json_incref(action_lists[s])) == 0;
            if (!ok)
                break;
        }
        json_t *act = json_object();
        ok = co__json_push(action_lists[s], act) == 0 &&
             co__json_put(act, "name", co__json_str(dot + 1)) == 0 &&
             co__json_put(act, "class", co__json_str(cutoff_class_name(c->actions[i].cls))) == 0;
    }
    for (size_t s = 0; action_lists && s < n_services; s++)
        json_decref(action_lists[s]);
    co__free(action_lists);
    co__nameset_free(&seen);
    if (!ok) {
        json_decref(services);
        return NULL;
    }
    return services;
}

int cutoff_catalog_to_json(const cutoff_catalog_spec *c, char **out)
{
    if (out == NULL)
        return CUTOFF_EINVAL;
    *out = NULL;
    int rc = co__catalog_validate(c, NULL);
    if (rc != 0)
        return rc == CUTOFF_ENOMEM ? rc : CUTOFF_EINVAL;

    co__json_init();
    json_t *root = json_object(), *plans = json_array();
    int ok = root && plans && co__json_put(root, "services", services_json(c)) == 0 &&
             co__json_put(root, "regions", co__json_str_array(c->regions, c->n_regions)) == 0;
    for (size_t i = 0; ok && i < c->n_plans; i++) {
        json_t *plan = json_object();
        ok = plan && co__json_put(plan, "name", co__json_str(c->plans[i].name)) == 0 &&
             co__json_put(plan, "services",
                          co__json_str_array(c->plans[i].services, c->plans[i].n_services)) == 0;
        ok = co__json_push(plans, plan) == 0 && ok;
    }
    ok = ok && co__json_put(root, "plans", json_incref(plans)) == 0;
    json_decref(plans);
    if (!ok) {
        json_decref(root);
        return CUTOFF_ENOMEM;
    }
    return co__json_dump(root, out);
}
