/* SPDX-License-Identifier: Apache-2.0 */
/*
 * actions.c - the life of an enforcement action: propose (a draft, or a new
 * draft version of an existing id), approve (by a second person; the
 * approved version becomes active and the one it replaces superseded),
 * lift or withdraw, expire; reading, showing and listing versions; and
 * building the engine snapshot of the active ones.
 *
 * A version is a row (id, version) holding the action document and its
 * lifecycle: who proposed it and when, who approved it, when it was
 * activated (which resolves relative phases like "+30d"), who lifted it
 * and why. Old versions are never changed except for their state.
 */
#include "audit/audit.h"
#include "db/db_int.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>

#define REASON_MAX 4096

/* ===================================================================== */
/* Checks                                                                 */
/* ===================================================================== */

/* A region pattern: "*", a region id, or an id prefix ending in "*". */
static bool region_pattern_valid(const char *p)
{
    size_t n = strlen(p);
    if (n == 1 && p[0] == '*')
        return true;
    if (n > 1 && p[n - 1] == '*') {
        char prefix[CUTOFF_ID_MAX + 1];
        if (n - 1 > CUTOFF_ID_MAX)
            return false;
        memcpy(prefix, p, n - 1);
        prefix[n - 1] = '\0';
        return cutoff_id_valid(prefix);
    }
    return cutoff_id_valid(p);
}

/* Everything an action needs from the rest of the database before it may
 * be stored or approved: an open case, scope nodes in the tree, deny and
 * except patterns that each match some catalog action, valid regions. */
static int check_action(cutoff_db *db, const cutoff_action_spec *a, cutoff_diag *diag)
{
    char q[160];
    cutoff_catalog_spec *catalog = NULL;
    co__case_row c = {0};
    int rc = 0;
    if (a->case_id == NULL)
        return co__diag(diag, CUTOFF_EINVAL,
                        "the action names no \"case\"; every action belongs to an open case");
    rc = STORE_OPS(db)->case_get(db->store, a->case_id, &c);
    if (rc == CUTOFF_ENOTFOUND)
        return co__diag(diag, rc, "case: no case \"%s\"; open it first",
                        co__quote(a->case_id, q, sizeof q));
    if (rc != 0)
        return rc;
    bool open = c.open;
    co__case_row_clear(&c);
    if (!open)
        return co__diag(diag, CUTOFF_ESTATE, "case: case %s is closed", a->case_id);
    if (a->n_scope == 0)
        return co__diag(diag, CUTOFF_EINVAL, "scope: the action names no node; give at least one");
    for (size_t i = 0; i < a->n_scope; i++) {
        cutoff_node_spec node;
        char *strings = NULL;
        rc = STORE_OPS(db)->node_get(db->store, a->scope[i], &node, &strings);
        co__free(strings);
        if (rc == CUTOFF_ENOTFOUND)
            return co__diag(diag, rc, "scope[%zu]: node \"%s\" is not in the tree", i,
                            co__quote(a->scope[i], q, sizeof q));
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < a->n_regions; i++)
        if (!region_pattern_valid(a->regions[i]))
            return co__diag(
                diag, CUTOFF_EINVAL,
                "regions[%zu]: \"%s\" is not \"*\", a region name or a prefix like \"eu-*\"", i,
                co__quote(a->regions[i], q, sizeof q));
    if (a->n_deny == 0)
        return co__diag(diag, CUTOFF_EINVAL,
                        "deny: the action denies nothing; give at least one pattern");
    if ((rc = co__db_catalog(db, &catalog, diag)) != 0)
        return rc;
    /* A region the catalog does not list is almost always a typo, and an
     * action limited to it would never bite where it was meant to. */
    for (size_t i = 0; i < a->n_regions && rc == 0; i++) {
        if (!co__catalog_has_region(catalog, a->regions[i]))
            rc = co__diag(diag, CUTOFF_EINVAL,
                          "regions[%zu]: \"%s\" %s no region of the catalog; name catalog "
                          "regions, or leave \"regions\" out for every region",
                          i, co__quote(a->regions[i], q, sizeof q),
                          a->regions[i][strlen(a->regions[i]) - 1] == '*' ? "matches" : "is");
    }
    for (size_t pass = 0; pass < 2 && rc == 0; pass++) {
        const char *const *pats = pass ? a->except : a->deny;
        size_t n = pass ? a->n_except : a->n_deny;
        for (size_t i = 0; i < n && rc == 0; i++)
            if (!co__catalog_has_action(catalog, pats[i]))
                rc = co__diag(diag, CUTOFF_EINVAL,
                              "%s[%zu]: pattern \"%s\" matches no action in the catalog",
                              pass ? "except" : "deny", i, co__quote(pats[i], q, sizeof q));
    }
    cutoff_catalog_free(catalog);
    return rc;
}

/* The document stored for a version: the input format with its id set,
 * without the lifecycle fields (those live in the row). */
static int action_doc(const cutoff_action_spec *a, const char *id, json_t **out)
{
    cutoff_action_spec copy = *a;
    char *text = NULL;
    copy.id = id;
    int rc = cutoff_action_to_json(&copy, &text);
    if (rc != 0)
        return rc;
    json_t *doc = json_loads(text, 0, NULL);
    cutoff_free(text);
    if (doc == NULL)
        return CUTOFF_ENOMEM;
    json_object_del(doc, "state");
    json_object_del(doc, "version");
    json_object_del(doc, "activated_at");
    *out = doc;
    return 0;
}

/* ===================================================================== */
/* Propose, approve, lift                                                 */
/* ===================================================================== */

int cutoff_db_action_propose(cutoff_db *db, const char *actor, const char *json, size_t len,
                             char id_out[CUTOFF_ID_MAX + 1], int *version_out, cutoff_diag *diag)
{
    co__diag_clear(diag);
    cutoff_action_spec *a = NULL;
    co__action_row latest = {0};
    json_t *doc = NULL;
    char *doc_text = NULL, id[CUTOFF_ID_MAX + 1];
    int version = 1;
    int rc = co__db_check_actor(actor, diag);
    if (rc != 0)
        return rc;
    if (json == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no action document given");
    if ((rc = cutoff_action_parse(json, len, &a, diag)) != 0)
        return rc;
    if ((rc = co__db_begin(db, diag)) != 0)
        goto done;
    if ((rc = check_action(db, a, diag)) != 0)
        goto out;
    if (a->id == NULL) {
        /* EA-(number of ids + 1), stepping over ids given by hand. */
        uint64_t n = 0;
        if ((rc = STORE_OPS(db)->action_count_ids(db->store, &n)) != 0)
            goto out;
        for (n++;; n++) {
            snprintf(id, sizeof id, "EA-%llu", (unsigned long long)n);
            rc = STORE_OPS(db)->action_get(db->store, id, 0, &latest);
            co__action_row_clear(&latest);
            if (rc == CUTOFF_ENOTFOUND)
                break;
            if (rc != 0)
                goto out;
        }
        rc = 0;
    } else {
        snprintf(id, sizeof id, "%s", a->id);
        rc = STORE_OPS(db)->action_get(db->store, id, 0, &latest);
        if (rc == 0) {
            if (strcmp(latest.case_id, a->case_id) != 0) {
                rc =
                    co__diag(diag, CUTOFF_EINVAL,
                             "case: %s belongs to case %s; a new version cannot move it to case %s",
                             id, latest.case_id, a->case_id);
                goto out;
            }
            version = latest.version + 1;
            /* Only the newest draft can be approved: an older one is
             * replaced by this proposal. */
            if (latest.state == CUTOFF_STATE_DRAFT) {
                latest.state = CUTOFF_STATE_SUPERSEDED;
                if ((rc = STORE_OPS(db)->action_put(db->store, &latest)) != 0)
                    goto out;
            }
        } else if (rc == CUTOFF_ENOTFOUND) {
            rc = 0;
        } else {
            goto out;
        }
    }
    if ((rc = action_doc(a, id, &doc)) != 0 ||
        (rc = co__db_json_take(json_incref(doc), &doc_text)) != 0)
        goto out;
    int64_t now = co__db_wall_now();
    co__action_row row = {
        .id = id,
        .version = version,
        .case_id = (char *)a->case_id,
        .state = CUTOFF_STATE_DRAFT,
        .doc = doc_text,
        .proposed_by = (char *)actor,
        .proposed_at = now,
    };
    if ((rc = STORE_OPS(db)->action_put(db->store, &row)) != 0)
        goto out;
    rc = co__db_audit(
        db, CUTOFF_CHANGE_ACTIONS, now, actor, "action.propose", id,
        json_pack("{s:i,s:s,s:O}", "version", version, "case", a->case_id, "action", doc));
out:
    rc = co__db_end(db, co__db_store_fail(db, rc, diag, "proposing the action"), diag);
    if (rc == 0) {
        if (id_out)
            memcpy(id_out, id, strlen(id) + 1);
        if (version_out)
            *version_out = version;
    }
done:
    json_decref(doc);
    co__free(doc_text);
    co__action_row_clear(&latest);
    cutoff_action_free(a);
    return rc;
}

typedef struct version_list {
    int versions[64];
    size_t n;
} version_list;

static int collect_version(void *ctx, const co__action_row *row)
{
    version_list *l = ctx;
    if (l->n == sizeof l->versions / sizeof l->versions[0])
        return CUTOFF_ELIMIT;
    l->versions[l->n++] = row->version;
    return 0;
}

/* Sets the state of the listed versions of an action. */
static int set_states(cutoff_db *db, const char *id, const version_list *l, int state)
{
    for (size_t i = 0; i < l->n; i++) {
        co__action_row row = {0};
        int rc = STORE_OPS(db)->action_get(db->store, id, l->versions[i], &row);
        if (rc == 0) {
            row.state = state;
            rc = STORE_OPS(db)->action_put(db->store, &row);
        }
        co__action_row_clear(&row);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The versions of an action in force: active, or expired (still deciding
 * the times before its "off" phase). */
static int collect_in_force(cutoff_db *db, const char *id, version_list *l)
{
    co__action_filter f = {.id = id, .state = CUTOFF_STATE_ACTIVE};
    int rc = STORE_OPS(db)->action_iter(db->store, &f, collect_version, l);
    if (rc == 0) {
        f.state = CUTOFF_STATE_EXPIRED;
        rc = STORE_OPS(db)->action_iter(db->store, &f, collect_version, l);
    }
    return rc;
}

static int no_action(const char *id, cutoff_diag *diag)
{
    char q[160];
    return co__diag(diag, CUTOFF_ENOTFOUND, "no action \"%s\"", co__quote(id, q, sizeof q));
}

/* Four eyes: the latest draft becomes active only on the word of someone
 * other than its proposer. The checks of proposal time are made again,
 * since the case, tree or catalog may have changed in between. */
/* Absolute and relative ("+30d") phases are ordered only among their own
 * kind when proposed; approval fixes the activation time, and the phases
 * must then follow each other strictly in time. Otherwise the phase "in
 * force" would depend on whether one reads the list by position or by time
 * (and the last phase as written, if "off", would expire the action before
 * an earlier-written later phase bites). */
static int check_phase_order(const cutoff_action_spec *a, int64_t activation, cutoff_diag *diag)
{
    for (size_t i = 1; i < a->n_phases; i++) {
        int64_t before = cutoff_phase_start(a, i - 1, activation),
                at = cutoff_phase_start(a, i, activation);
        if (at <= before) {
            char t1[32], t2[32];
            return co__diag(
                diag, CUTOFF_ESTATE,
                "approved now, phases[%zu] would begin at %s, not after phases[%zu] at %s: "
                "phases must follow each other in time once relative ones are resolved",
                i, cutoff_time_format(at, t1), i - 1, cutoff_time_format(before, t2));
        }
    }
    return 0;
}

int cutoff_db_action_approve(cutoff_db *db, const char *actor, const char *id, int64_t now,
                             cutoff_diag *diag)
{
    co__diag_clear(diag);
    co__action_row latest = {0};
    cutoff_action_spec *a = NULL;
    version_list active = {.n = 0};
    int rc = co__db_check_actor(actor, diag);
    if (rc != 0)
        return rc;
    if (id == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no action id given");
    if ((rc = co__db_begin(db, diag)) != 0)
        return rc;
    rc = STORE_OPS(db)->action_get(db->store, id, 0, &latest);
    if (rc == CUTOFF_ENOTFOUND)
        rc = no_action(id, diag);
    if (rc != 0)
        goto out;
    if (latest.state != CUTOFF_STATE_DRAFT) {
        rc = co__diag(diag, CUTOFF_ESTATE, "%s v%d is %s; only a draft can be approved", id,
                      latest.version, cutoff_action_state_name((cutoff_action_state)latest.state));
        goto out;
    }
    /* Without regard to ASCII case: "Alice" is the alice who proposed it
     * (actors are ids, so no other spelling can look the same). */
    if (cutoff_actor_same(actor, latest.proposed_by)) {
        rc = co__diag(diag, CUTOFF_EPERM,
                      "\"%s\" proposed %s v%d and cannot approve it; a second person must",
                      latest.proposed_by, id, latest.version);
        goto out;
    }
    if ((rc = co__db_action_spec(&latest, &a)) != 0 || (rc = check_action(db, a, diag)) != 0 ||
        (rc = check_phase_order(a, now, diag)) != 0)
        goto out;
    if ((rc = collect_in_force(db, id, &active)) != 0 ||
        (rc = set_states(db, id, &active, CUTOFF_STATE_SUPERSEDED)) != 0)
        goto out;
    latest.state = CUTOFF_STATE_ACTIVE;
    co__free(latest.approved_by);
    latest.approved_by = co__strdup(actor);
    if (latest.approved_by == NULL) {
        rc = CUTOFF_ENOMEM;
        goto out;
    }
    latest.approved_at = latest.activated_at = now;
    if ((rc = STORE_OPS(db)->action_put(db->store, &latest)) != 0)
        goto out;
    /* All of it or nothing: a list short of a version would be a false
     * record. json_pack fails on a NULL "o" argument. */
    json_t *superseded = json_array();
    for (size_t i = 0; superseded && i < active.n; i++)
        if (json_array_append_new(superseded, json_integer(active.versions[i])) != 0) {
            json_decref(superseded);
            superseded = NULL;
        }
    char at[32];
    rc = co__db_audit(db, CUTOFF_CHANGE_ACTIONS, now, actor, "action.approve", id,
                      json_pack("{s:i,s:s,s:s,s:o}", "version", latest.version, "proposed_by",
                                latest.proposed_by, "activated_at", cutoff_time_format(now, at),
                                "superseded", superseded));
    if (rc == 0)
        rc = co__db_notice_issue(db, id, latest.version, CO__NOTICE_APPROVE, now);
out:
    cutoff_action_free(a);
    co__action_row_clear(&latest);
    return co__db_end(db, co__db_store_fail(db, rc, diag, "approving the action"), diag);
}

int cutoff_db_action_lift(cutoff_db *db, const char *actor, const char *id, int64_t now,
                          const char *reason, cutoff_diag *diag)
{
    co__diag_clear(diag);
    co__action_row row = {0};
    version_list active = {.n = 0};
    const char *verb = "action.lift";
    int rc = co__db_check_actor(actor, diag);
    if (rc == 0)
        rc = co__db_check_text(reason, REASON_MAX, true, "reason", diag);
    if (rc != 0)
        return rc;
    if (id == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no action id given");
    if ((rc = co__db_begin(db, diag)) != 0)
        return rc;
    if ((rc = collect_in_force(db, id, &active)) != 0)
        goto out;
    /* The version in force (active or expired) if there is one, else the
     * latest draft. */
    int in_force = 0;
    for (size_t i = 0; i < active.n; i++)
        if (active.versions[i] > in_force)
            in_force = active.versions[i];
    rc = STORE_OPS(db)->action_get(db->store, id, in_force, &row);
    if (rc == CUTOFF_ENOTFOUND)
        rc = no_action(id, diag);
    if (rc != 0)
        goto out;
    if (row.state == CUTOFF_STATE_DRAFT) {
        verb = "action.withdraw";
    } else if (row.state != CUTOFF_STATE_ACTIVE && row.state != CUTOFF_STATE_EXPIRED) {
        rc = co__diag(diag, CUTOFF_ESTATE, "%s has nothing to lift: its latest version v%d is %s",
                      id, row.version, cutoff_action_state_name((cutoff_action_state)row.state));
        goto out;
    }
    row.state = CUTOFF_STATE_LIFTED;
    co__free(row.lifted_by);
    co__free(row.lift_reason);
    row.lifted_by = co__strdup(actor);
    row.lift_reason = reason && *reason ? co__strdup(reason) : NULL;
    row.lifted_at = now;
    if (row.lifted_by == NULL || (reason && *reason && row.lift_reason == NULL)) {
        rc = CUTOFF_ENOMEM;
        goto out;
    }
    if ((rc = STORE_OPS(db)->action_put(db->store, &row)) != 0)
        goto out;
    rc = co__db_audit(db, CUTOFF_CHANGE_ACTIONS, now, actor, verb, id,
                      json_pack("{s:i,s:s?}", "version", row.version, "reason", row.lift_reason));
    if (rc == 0 && strcmp(verb, "action.lift") == 0) /* a withdrawn draft was never told */
        rc = co__db_notice_issue(db, id, row.version, CO__NOTICE_LIFT, now);
out:
    co__action_row_clear(&row);
    return co__db_end(db, co__db_store_fail(db, rc, diag, "lifting the action"), diag);
}

/* ===================================================================== */
/* Reading                                                                */
/* ===================================================================== */

int cutoff_db_action_get(cutoff_db *db, const char *id, int version, cutoff_action_spec **out)
{
    co__action_row row = {0};
    if (id == NULL || version < 0 || out == NULL)
        return CUTOFF_EINVAL;
    int rc = STORE_OPS(db)->action_get(db->store, id, version, &row);
    if (rc == 0)
        rc = co__db_action_spec(&row, out);
    co__action_row_clear(&row);
    return rc;
}

/* One version as JSON: lifecycle plus the action in its input format. */
static json_t *version_json(const co__action_row *r)
{
    bool ok = true;
    cutoff_action_spec *a = NULL;
    char *text = NULL;
    json_t *o = json_object(), *doc = NULL;
    if (co__db_action_spec(r, &a) == 0 && cutoff_action_to_json(a, &text) == 0)
        doc = json_loads(text, 0, NULL);
    co__db_set(o, "version", json_integer(r->version), &ok);
    co__db_set(o, "state", json_string(cutoff_action_state_name((cutoff_action_state)r->state)),
               &ok);
    co__db_set(o, "case", co__db_json_str(r->case_id), &ok);
    co__db_set(o, "proposed_by", co__db_json_str(r->proposed_by), &ok);
    co__db_set(o, "proposed_at", co__db_json_time(r->proposed_at), &ok);
    co__db_set(o, "approved_by", co__db_json_str(r->approved_by), &ok);
    co__db_set(o, "approved_at", co__db_json_time(r->approved_at), &ok);
    co__db_set(o, "activated_at", co__db_json_time(r->activated_at), &ok);
    co__db_set(o, "lifted_by", co__db_json_str(r->lifted_by), &ok);
    co__db_set(o, "lifted_at", co__db_json_time(r->lifted_at), &ok);
    co__db_set(o, "lift_reason", co__db_json_str(r->lift_reason), &ok);
    /* When phases resolve to times (active or once active), say when. */
    if (a && r->activated_at) {
        json_t *phases = json_array();
        for (size_t i = 0; phases && i < a->n_phases; i++) {
            char at[32];
            json_array_append_new(phases,
                                  json_pack("{s:s,s:s}", "at",
                                            cutoff_time_format(cutoff_phase_start(a, i, 0), at),
                                            "mode", cutoff_mode_name(a->phases[i].mode)));
        }
        co__db_set(o, "phases_at", phases, &ok);
    }
    co__db_set(o, "action", doc, &ok);
    cutoff_free(text);
    cutoff_action_free(a);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

typedef struct action_view {
    json_t *versions;
    json_t *summary; /* per id for listings */
    json_t *active;  /* id -> active version, for listings */
} action_view;

static int add_version(void *ctx, const co__action_row *r)
{
    action_view *v = ctx;
    json_t *o = version_json(r);
    if (o == NULL)
        return CUTOFF_ENOMEM;
    return json_array_append_new(v->versions, o) == 0 ? 0 : CUTOFF_ENOMEM;
}

int cutoff_db_action_show(cutoff_db *db, const char *id, char **json_out)
{
    action_view v = {.versions = json_array()};
    json_t *o = NULL;
    bool ok = true;
    if (id == NULL)
        return CUTOFF_EINVAL;
    if (v.versions == NULL)
        return CUTOFF_ENOMEM;
    int rc = co__db_begin_read(db, NULL);
    if (rc != 0)
        goto out;
    co__action_filter f = {.id = id, .state = -1};
    if ((rc = STORE_OPS(db)->action_iter(db->store, &f, add_version, &v)) != 0)
        goto out;
    size_t n = json_array_size(v.versions);
    if (n == 0) {
        rc = CUTOFF_ENOTFOUND;
        goto out;
    }
    json_t *latest = json_array_get(v.versions, n - 1), *active_version = json_null();
    for (size_t i = 0; i < n; i++) {
        json_t *ver = json_array_get(v.versions, i);
        if (strcmp(json_string_value(json_object_get(ver, "state")), "active") == 0) {
            json_decref(active_version);
            active_version = json_incref(json_object_get(ver, "version"));
        }
    }
    o = json_object();
    co__db_set(o, "id", json_string(id), &ok);
    co__db_set(o, "case", json_incref(json_object_get(latest, "case")), &ok);
    co__db_set(o, "state", json_incref(json_object_get(latest, "state")), &ok);
    co__db_set(o, "latest_version",
               json_integer((json_int_t)json_integer_value(json_object_get(latest, "version"))),
               &ok);
    co__db_set(o, "active_version", active_version, &ok);
    co__db_set(o, "versions", json_incref(v.versions), &ok);
    if (!ok) {
        rc = CUTOFF_ENOMEM;
        goto out;
    }
    rc = co__db_json_take(o, json_out);
    o = NULL;
out:
    json_decref(o);
    json_decref(v.versions);
    return co__db_end(db, rc, NULL);
}

static int note_active(void *ctx, const co__action_row *r)
{
    action_view *v = ctx;
    return json_object_set_new(v->active, r->id, json_integer(r->version)) == 0 ? 0 : CUTOFF_ENOMEM;
}

static int add_summary(void *ctx, const co__action_row *r)
{
    action_view *v = ctx;
    bool ok = true;
    json_t *active = json_object_get(v->active, r->id);
    json_t *o = json_object();
    co__db_set(o, "id", json_string(r->id), &ok);
    co__db_set(o, "version", json_integer(r->version), &ok);
    co__db_set(o, "state", json_string(cutoff_action_state_name((cutoff_action_state)r->state)),
               &ok);
    co__db_set(o, "active_version", active ? json_incref(active) : json_null(), &ok);
    co__db_set(o, "case", co__db_json_str(r->case_id), &ok);
    co__db_set(o, "proposed_by", co__db_json_str(r->proposed_by), &ok);
    co__db_set(o, "proposed_at", co__db_json_time(r->proposed_at), &ok);
    co__db_set(o, "approved_by", co__db_json_str(r->approved_by), &ok);
    co__db_set(o, "activated_at", co__db_json_time(r->activated_at), &ok);
    co__db_set(o, "lifted_at", co__db_json_time(r->lifted_at), &ok);
    if (!ok) {
        json_decref(o);
        return CUTOFF_ENOMEM;
    }
    return json_array_append_new(v->summary, o) == 0 ? 0 : CUTOFF_ENOMEM;
}

int cutoff_db_action_list(cutoff_db *db, char **json_out)
{
    action_view v = {.summary = json_array(), .active = json_object()};
    int rc = v.summary && v.active ? co__db_begin_read(db, NULL) : CUTOFF_ENOMEM;
    if (rc != 0)
        goto done;
    co__action_filter active = {.state = CUTOFF_STATE_ACTIVE};
    co__action_filter latest = {.state = -1, .latest_only = true};
    if ((rc = STORE_OPS(db)->action_iter(db->store, &active, note_active, &v)) == 0 &&
        (rc = STORE_OPS(db)->action_iter(db->store, &latest, add_summary, &v)) == 0) {
        rc = co__db_json_take(v.summary, json_out);
        v.summary = NULL;
    }
    rc = co__db_end(db, rc, NULL);
done:
    json_decref(v.summary);
    json_decref(v.active);
    return rc;
}

/* ===================================================================== */
/* Snapshot                                                               */
/* ===================================================================== */

void co__active_set_free(co__active_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        cutoff_action_free(s->specs[i]);
    co__free(s->specs);
    memset(s, 0, sizeof *s);
}

static bool has_expired(const cutoff_action_spec *a, int64_t at)
{
    if (a->n_phases == 0 || a->phases[a->n_phases - 1].mode != CUTOFF_MODE_OFF)
        return false;
    return cutoff_phase_start(a, a->n_phases - 1, 0) <= at;
}

int co__gather_active(void *ctx, const co__action_row *row)
{
    co__active_set *s = ctx;
    cutoff_action_spec *a = NULL;
    int rc = co__db_action_spec(row, &a);
    if (rc != 0)
        return rc;
    if (a->state == CUTOFF_STATE_ACTIVE && has_expired(a, s->expire_before))
        s->n_expired++;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        cutoff_action_spec **specs = co__realloc(s->specs, cap * sizeof *specs);
        if (specs == NULL) {
            cutoff_action_free(a);
            return CUTOFF_ENOMEM;
        }
        s->specs = specs;
        s->cap = cap;
    }
    s->specs[s->n++] = a;
    return 0;
}

/* Whether a can deny anything at some time at or after t: a phase that is
 * not "off" is in force at t or begins later. Phases are in time order
 * (approval sees to it). */
static bool bites_from(const cutoff_action_spec *a, int64_t t)
{
    for (size_t i = 0; i < a->n_phases; i++)
        if (a->phases[i].mode != CUTOFF_MODE_OFF &&
            (i + 1 == a->n_phases || cutoff_phase_start(a, i + 1, 0) > t))
            return true;
    return false;
}

/* Marks the active actions whose last phase ("off") has begun as expired,
 * each with its audit record, in one transaction. Expiry is for people:
 * an expired version stays in force (its earlier phases decide times
 * before "off"), so nothing has to be gathered again afterwards. */
static int expire_actions(cutoff_db *db, const co__active_set *s, cutoff_diag *diag)
{
    int rc = co__db_begin(db, diag);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < s->n && rc == 0; i++) {
        const cutoff_action_spec *a = s->specs[i];
        if (a->state != CUTOFF_STATE_ACTIVE || !has_expired(a, s->expire_before))
            continue;
        co__action_row row = {0};
        rc = STORE_OPS(db)->action_get(db->store, a->id, a->version, &row);
        /* Still active now that the write lock is held? */
        if (rc == 0 && row.state == CUTOFF_STATE_ACTIVE) {
            char at[32];
            int64_t off = cutoff_phase_start(a, a->n_phases - 1, 0);
            row.state = CUTOFF_STATE_EXPIRED;
            rc = STORE_OPS(db)->action_put(db->store, &row);
            if (rc == 0)
                rc = co__db_audit(db, CUTOFF_CHANGE_ACTIONS, s->expire_before, CO__DB_SYSTEM_ACTOR,
                                  "action.expire", a->id,
                                  json_pack("{s:i,s:s}", "version", a->version, "off_since",
                                            cutoff_time_format(off, at)));
        }
        co__action_row_clear(&row);
    }
    return co__db_end(db, co__db_store_fail(db, rc, diag, "marking expired actions"), diag);
}

int co__gather_in_force(cutoff_db *db, co__active_set *set)
{
    co__action_filter f = {.state = CUTOFF_STATE_ACTIVE};
    int rc = STORE_OPS(db)->action_iter(db->store, &f, co__gather_active, set);
    if (rc == 0) {
        f.state = CUTOFF_STATE_EXPIRED;
        rc = STORE_OPS(db)->action_iter(db->store, &f, co__gather_active, set);
    }
    return rc;
}

/* The versions in force (active or expired) compiled on the tree, less
 * those that cannot bite at or after `now`. Expiry is recorded only for
 * phases that have begun by both `now` and the wall clock, so a snapshot
 * made to look at a future time cannot expire actions in the database. */
int cutoff_db_snapshot(cutoff_db *db, cutoff_tree *tree, int64_t now, cutoff_snapshot **out,
                       cutoff_diag *diag)
{
    co__diag_clear(diag);
    co__active_set set = {0};
    cutoff_tree *own = NULL;
    int64_t wall = co__db_wall_now();
    set.expire_before = now < wall ? now : wall;
    int rc = co__gather_in_force(db, &set);
    if (rc != 0) {
        rc = co__db_store_fail(db, rc, diag, "reading the active actions");
        goto out;
    }
    /* A read-only handle leaves the marking to the next one that may write. */
    if (set.n_expired > 0 && !db->read_only && (rc = expire_actions(db, &set, diag)) != 0)
        goto out;
    size_t kept = 0;
    for (size_t i = 0; i < set.n; i++) {
        if (bites_from(set.specs[i], now))
            set.specs[kept++] = set.specs[i];
        else
            cutoff_action_free(set.specs[i]);
    }
    set.n = kept;
    if (tree == NULL) {
        if ((rc = cutoff_db_load_tree(db, &own, diag)) != 0)
            goto out;
        tree = own;
    }
    rc =
        cutoff_snapshot_build(tree, (const cutoff_action_spec *const *)set.specs, set.n, out, diag);
out:
    cutoff_tree_release(own);
    co__active_set_free(&set);
    return rc;
}

/* ===================================================================== */
/* As of a past moment                                                    */
/* ===================================================================== */

/* The versions ever approved, in (id, version) order, with what ends them. */
typedef struct approved_row {
    cutoff_action_spec *spec;
    int64_t approved_at;
    int64_t lifted_at; /* 0: not lifted */
} approved_row;

typedef struct approved_set {
    approved_row *rows;
    size_t n, cap;
} approved_set;

static int gather_approved(void *ctx, const co__action_row *row)
{
    approved_set *s = ctx;
    /* A draft that was withdrawn or replaced was never in force. */
    if (row->approved_at == 0)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        approved_row *rows = co__realloc(s->rows, cap * sizeof *rows);
        if (rows == NULL)
            return CUTOFF_ENOMEM;
        s->rows = rows;
        s->cap = cap;
    }
    approved_row *r = &s->rows[s->n];
    int rc = co__db_action_spec(row, &r->spec);
    if (rc != 0)
        return rc;
    r->approved_at = row->approved_at;
    r->lifted_at = row->state == CUTOFF_STATE_LIFTED ? row->lifted_at : 0;
    s->n++;
    return 0;
}

/* Whether rows[i] was in force at t: approved at or before t, not lifted
 * by then, and not superseded by then (the next approved version of the
 * same id supersedes it when it is approved). */
static bool in_force_at(const approved_set *s, size_t i, int64_t t)
{
    const approved_row *r = &s->rows[i];
    if (r->approved_at > t || (r->lifted_at != 0 && r->lifted_at <= t))
        return false;
    const approved_row *next = i + 1 < s->n ? &s->rows[i + 1] : NULL;
    return !(next && strcmp(next->spec->id, r->spec->id) == 0 && next->approved_at <= t);
}

int cutoff_db_snapshot_as_of(cutoff_db *db, int64_t as_of, cutoff_snapshot **out, cutoff_diag *diag)
{
    co__diag_clear(diag);
    approved_set set = {0};
    cutoff_action_spec **then = NULL;
    cutoff_catalog_spec *catalog = NULL;
    cutoff_tree *tree = NULL;
    char *catalog_text = NULL, when[32];
    if (db == NULL || out == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no database or no place for the snapshot");
    cutoff_time_format(as_of, when);
    int rc = co__db_begin_read(db, diag);
    if (rc != 0)
        return rc;
    rc = STORE_OPS(db)->catalog_at(db->store, as_of, &catalog_text);
    if (rc == CUTOFF_ENOTFOUND) {
        rc = co__diag(diag, rc, "no catalog had been loaded at %s", when);
        goto out;
    }
    if (rc != 0) {
        rc = co__db_store_fail(db, rc, diag, "reading the catalog of then");
        goto out;
    }
    if ((rc = cutoff_catalog_parse(catalog_text, strlen(catalog_text), &catalog, diag)) != 0) {
        if (rc != CUTOFF_ENOMEM)
            rc = co__diag(diag, CUTOFF_ESTORE, "the catalog of %s does not parse: %s", when,
                          diag ? diag->message : "");
        goto out;
    }
    /* There is no node history: today's tree, on the catalog of then. */
    if ((rc = co__db_tree_on(db, catalog, &tree, diag)) != 0) {
        if (rc != CUTOFF_ENOMEM && rc != CUTOFF_ESTORE && rc != CUTOFF_EIO)
            rc = co__diag(diag, CUTOFF_ESTATE,
                          "today's tree does not build on the catalog in force at %s: %s", when,
                          diag ? diag->message : "");
        goto out;
    }
    co__action_filter f = {.state = -1};
    if ((rc = STORE_OPS(db)->action_iter(db->store, &f, gather_approved, &set)) != 0) {
        rc = co__db_store_fail(db, rc, diag, "reading the action versions");
        goto out;
    }
    if ((then = co__calloc(set.n + 1, sizeof *then)) == NULL) {
        rc = CUTOFF_ENOMEM;
        goto out;
    }
    size_t n = 0;
    for (size_t i = 0; i < set.n; i++) {
        if (!in_force_at(&set, i, as_of))
            continue;
        cutoff_action_spec *a = set.rows[i].spec;
        /* The state it had then (relative phases count from activated_at). */
        a->state = has_expired(a, as_of) ? CUTOFF_STATE_EXPIRED : CUTOFF_STATE_ACTIVE;
        then[n++] = a;
    }
    rc = cutoff_snapshot_build(tree, (const cutoff_action_spec *const *)then, n, out, diag);
out:
    rc = co__db_end(db, rc, diag);
    for (size_t i = 0; i < set.n; i++)
        cutoff_action_free(set.rows[i].spec);
    co__free(set.rows);
    co__free(then);
    cutoff_tree_release(tree);
    cutoff_catalog_free(catalog);
    co__free(catalog_text);
    return rc;
}
