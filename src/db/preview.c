/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preview.c - the blast radius of a stored action, as JSON, for the CLI and
 * the admin API alike.
 *
 * What is compared depends on the latest version: a draft is compared with
 * the current state as if approved now (an active older version of the same
 * id is replaced by it); an active version with the state without it, so its
 * own effect shows. The engine's preview does the counting.
 */
#include "db/db_int.h"
#include "util/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* The preview, its page of changes and what was compared, as JSON. */
static json_t *preview_json(const cutoff_action_spec *a, const cutoff_preview *p,
                            int64_t activation, bool without_active, size_t offset,
                            const cutoff_preview_change *page, size_t n_page)
{
    char t[32];
    json_t *o = json_object();
    json_object_set_new(o, "action", json_string(a->id));
    json_object_set_new(o, "version", json_integer(a->version));
    json_object_set_new(o, "state", json_string(cutoff_action_state_name(a->state)));
    json_object_set_new(o, "activation", json_string(cutoff_time_format(activation, t)));
    json_object_set_new(o, "compared_without_this_action", json_boolean(without_active));
    json_object_set_new(o, "subscriptions_in_scope",
                        json_integer((json_int_t)p->subscriptions_in_scope));
    json_object_set_new(o, "subscriptions_changed",
                        json_integer((json_int_t)p->subscriptions_changed));
    json_t *phases = json_array();
    for (size_t i = 0; i < p->n_phases; i++)
        json_array_append_new(phases, json_pack("{s:s,s:I,s:s}", "at",
                                                cutoff_time_format(p->phases[i].at, t), "at_unix",
                                                (json_int_t)p->phases[i].at, "mode",
                                                cutoff_mode_name(p->phases[i].mode)));
    json_object_set_new(o, "phases", phases);
    json_t *lines = json_array();
    for (size_t i = 0; i < p->n_lines; i++) {
        const cutoff_preview_line *l = &p->lines[i];
        json_t *per_phase = json_array();
        for (size_t k = 0; k < p->n_phases; k++)
            json_array_append_new(per_phase, json_integer((json_int_t)l->changed_in_phase[k]));
        json_array_append_new(lines,
                              json_pack("{s:s,s:s,s:b,s:b,s:I,s:o}", "action", l->action, "class",
                                        cutoff_class_name(l->cls), "targeted", l->targeted,
                                        "excepted", l->excepted, "changed", (json_int_t)l->changed,
                                        "changed_in_phase", per_phase));
    }
    json_object_set_new(o, "actions", lines);
    json_object_set_new(o, "excepted_unchanged", json_boolean(p->excepted_unchanged));
    json_object_set_new(o, "excepted_changes", json_integer((json_int_t)p->excepted_changes));
    json_t *subs = json_array();
    for (size_t i = 0; i < n_page; i++) {
        json_t *acts = json_array();
        for (size_t k = 0; k < page[i].n_actions; k++)
            json_array_append_new(acts, json_string(page[i].actions[k]));
        json_array_append_new(
            subs, json_pack("{s:s,s:o}", "subscription", page[i].subscription, "actions", acts));
    }
    json_object_set_new(o, "changes",
                        json_pack("{s:I,s:I,s:o}", "offset", (json_int_t)offset, "total",
                                  (json_int_t)p->subscriptions_changed, "subscriptions", subs));
    return o;
}

int cutoff_db_action_preview(cutoff_db *db, const cutoff_snapshot *current, const char *id,
                             int64_t now, size_t offset, size_t limit, char **json_out,
                             cutoff_diag *diag)
{
    co__diag_clear(diag);
    cutoff_action_spec *a = NULL;
    cutoff_snapshot *own = NULL, *without = NULL;
    const cutoff_action_spec **others = NULL;
    cutoff_preview *p = NULL;
    cutoff_preview_change *page = NULL;
    int rc = cutoff_db_action_get(db, id, 0, &a);
    if (rc != 0) {
        co__diag(diag, rc, rc == CUTOFF_ENOTFOUND ? "no action \"%s\"" : "reading action \"%s\"",
                 id);
        goto done;
    }
    if (a->state != CUTOFF_STATE_DRAFT && a->state != CUTOFF_STATE_ACTIVE) {
        rc = co__diag(diag, CUTOFF_ESTATE,
                      "%s version %d is %s: there is no draft or active version to preview", a->id,
                      a->version, cutoff_action_state_name(a->state));
        goto done;
    }
    if (current == NULL) {
        if ((rc = cutoff_db_snapshot(db, NULL, now, &own, diag)) != 0)
            goto done;
        current = own;
    }
    const cutoff_snapshot *base = current;
    int64_t activation = now;
    bool without_active = a->state == CUTOFF_STATE_ACTIVE;
    if (without_active) {
        /* Its effect is the difference with the state where it is absent. */
        activation = a->activated_at;
        size_t n = cutoff_snapshot_action_count(current), kept = 0;
        others = co__calloc(n + 1, sizeof *others);
        if (others == NULL) {
            rc = CUTOFF_ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            const cutoff_action_spec *other = cutoff_snapshot_action(current, i);
            if (strcmp(other->id, a->id) != 0)
                others[kept++] = other;
        }
        if ((rc = cutoff_snapshot_build(cutoff_snapshot_tree(current), others, kept, &without,
                                        diag)) != 0)
            goto done;
        base = without;
    }
    if ((rc = cutoff_preview_compute(base, a, activation, &p, diag)) != 0)
        goto done;
    size_t n_page = 0;
    if (offset < p->subscriptions_changed && limit > 0) {
        uint64_t left = p->subscriptions_changed - offset;
        size_t want = left < limit ? (size_t)left : limit;
        page = co__calloc(want + 1, sizeof *page);
        if (page == NULL) {
            rc = CUTOFF_ENOMEM;
            goto done;
        }
        if ((rc = cutoff_preview_changes(p, offset, want, page, &n_page)) != 0)
            goto done;
    }
    rc = co__db_json_take(preview_json(a, p, activation, without_active, offset, page, n_page),
                          json_out);
done:
    co__free(page);
    cutoff_preview_free(p);
    cutoff_snapshot_release(without);
    co__free(others);
    cutoff_snapshot_release(own);
    cutoff_action_free(a);
    return rc;
}
