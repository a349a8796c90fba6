/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shadow.c - shadow runs on the store: starting and stopping them (one
 * person, audited, a CUTOFF_CHANGE_SHADOW change so that every decision
 * node picks them up), the runs a node evaluates, each node's counts, and
 * the report that sums them next to the static preview.
 *
 * A run is of one version. It is in force while it is not stopped and its
 * version is still the latest draft of its action: approving, withdrawing
 * or replacing the draft ends it without a stop (the report says why), as
 * there is nothing left to shadow. Counts are written like receipts: in a
 * transaction of their own, outside the audit log and the change log.
 */
#include "db/db_int.h"
#include "engine/shadow.h"
#include "util/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Bounds of the report's own sum of every node's counts: wide, since each
 * node's are bounded already; the sample shown is the newest of all. */
#define REPORT_SUBSCRIPTIONS (1u << 20)
#define REPORT_LINES (1u << 16)
#define REPORT_PER_SUBSCRIPTION 4096
#define REPORT_SAMPLE (1u << 16)
#define REPORT_SAMPLE_SHOWN CO__SHADOW_DEFAULT_SAMPLE
/* Subscriptions listed of those the preview changes that sent nothing. */
#define REPORT_SILENT_SHOWN 100

static int no_action(const char *id, cutoff_diag *diag)
{
    char q[160];
    return co__diag(diag, CUTOFF_ENOTFOUND, "no action \"%s\"", co__quote(id, q, sizeof q));
}

/* ---- runs ------------------------------------------------------------------ */

typedef struct run_pick {
    bool unstopped_only;
    int version; /* 0: any */
    co__shadow_run_row found;
    bool have;
} run_pick;

/* Keeps the last run (the highest number) that fits the pick. */
static int pick_run(void *ctx, const co__shadow_run_row *row)
{
    run_pick *p = ctx;
    if ((p->unstopped_only && row->stopped_at != 0) || (p->version && row->version != p->version))
        return 0;
    co__shadow_run_row_clear(&p->found);
    p->found = (co__shadow_run_row){
        .run = row->run,
        .action_id = co__strdup(row->action_id),
        .version = row->version,
        .started_by = co__strdup(row->started_by),
        .started_at = row->started_at,
        .stopped_by = row->stopped_by ? co__strdup(row->stopped_by) : NULL,
        .stopped_at = row->stopped_at,
    };
    p->have = true;
    return p->found.action_id && p->found.started_by && (!row->stopped_by || p->found.stopped_by)
               ? 0
               : CUTOFF_ENOMEM;
}

/* Where a run stands, given the latest version of its action now. */
static const char *run_state(const co__shadow_run_row *r, const co__action_row *latest, char *why,
                             size_t n)
{
    why[0] = '\0';
    if (r->stopped_at)
        return "stopped";
    if (latest->version == r->version && latest->state == CUTOFF_STATE_DRAFT)
        return "running";
    if (latest->version != r->version)
        snprintf(why, n, "version %d is no longer the latest: version %d is %s", r->version,
                 latest->version, cutoff_action_state_name((cutoff_action_state)latest->state));
    else
        snprintf(why, n, "version %d is %s: it is no longer a draft", r->version,
                 cutoff_action_state_name((cutoff_action_state)latest->state));
    return "ended";
}

static json_t *run_json(const co__shadow_run_row *r, const co__action_row *latest)
{
    char why[200];
    const char *state = run_state(r, latest, why, sizeof why);
    json_t *o =
        json_pack("{s:s,s:i,s:I,s:s,s:s,s:o,s:o,s:o,s:o}", "action", r->action_id, "version",
                  r->version, "run", (json_int_t)r->run, "state", state, "started_by",
                  r->started_by, "started_at", co__db_json_time(r->started_at),
                  "assumed_activation", co__db_json_time(r->started_at), "stopped_by",
                  co__db_json_str(r->stopped_by), "stopped_at", co__db_json_time(r->stopped_at));
    if (o && why[0])
        json_object_set_new(o, "ended_because", json_string(why));
    return o;
}

int cutoff_db_shadow_start(cutoff_db *db, const char *actor, const char *id, int64_t now,
                           char **json_out, cutoff_diag *diag)
{
    co__diag_clear(diag);
    co__action_row latest = {0};
    co__case_row kase = {0};
    run_pick running = {.unstopped_only = true};
    int rc = co__db_check_actor(actor, diag);
    if (rc != 0)
        return rc;
    if (db == NULL || id == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no action id given");
    if ((rc = co__db_begin(db, diag)) != 0)
        return rc;
    rc = STORE_OPS(db)->action_get(db->store, id, 0, &latest);
    if (rc == CUTOFF_ENOTFOUND)
        rc = no_action(id, diag);
    if (rc != 0)
        goto out;
    if (latest.state != CUTOFF_STATE_DRAFT) {
        rc = co__diag(diag, CUTOFF_ESTATE,
                      "%s v%d is %s; only a draft can run in shadow (propose a new version to "
                      "shadow a change)",
                      id, latest.version,
                      cutoff_action_state_name((cutoff_action_state)latest.state));
        goto out;
    }
    if ((rc = STORE_OPS(db)->case_get(db->store, latest.case_id, &kase)) != 0)
        goto out;
    if (!kase.open) {
        rc = co__diag(diag, CUTOFF_ESTATE,
                      "case %s of %s is closed: its actions can no longer be approved, so "
                      "there is nothing to shadow",
                      latest.case_id, id);
        goto out;
    }
    running.version = latest.version;
    if ((rc = STORE_OPS(db)->shadow_run_iter(db->store, id, pick_run, &running)) != 0)
        goto out;
    if (running.have) {
        char t[32];
        rc = co__diag(diag, CUTOFF_EEXIST,
                      "%s v%d already runs in shadow (run %llu, started by %s at %s)", id,
                      latest.version, (unsigned long long)running.found.run,
                      running.found.started_by, cutoff_time_format(running.found.started_at, t));
        goto out;
    }
    co__shadow_run_row row = {.action_id = (char *)id,
                              .version = latest.version,
                              .started_by = (char *)actor,
                              .started_at = now};
    if ((rc = STORE_OPS(db)->shadow_run_put(db->store, &row, &row.run)) != 0)
        goto out;
    rc =
        co__db_audit(db, CUTOFF_CHANGE_SHADOW, now, actor, "action.shadow.start", id,
                     json_pack("{s:i,s:I}", "version", latest.version, "run", (json_int_t)row.run));
    if (rc == 0 && json_out)
        rc = co__db_json_take(run_json(&row, &latest), json_out);
out:
    co__shadow_run_row_clear(&running.found);
    co__case_row_clear(&kase);
    co__action_row_clear(&latest);
    return co__db_end(db, co__db_store_fail(db, rc, diag, "starting the shadow run"), diag);
}

int cutoff_db_shadow_stop(cutoff_db *db, const char *actor, const char *id, int64_t now,
                          char **json_out, cutoff_diag *diag)
{
    co__diag_clear(diag);
    co__action_row latest = {0};
    run_pick running = {.unstopped_only = true};
    int rc = co__db_check_actor(actor, diag);
    if (rc != 0)
        return rc;
    if (db == NULL || id == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no action id given");
    if ((rc = co__db_begin(db, diag)) != 0)
        return rc;
    rc = STORE_OPS(db)->action_get(db->store, id, 0, &latest);
    if (rc == CUTOFF_ENOTFOUND)
        rc = no_action(id, diag);
    if (rc == 0)
        rc = STORE_OPS(db)->shadow_run_iter(db->store, id, pick_run, &running);
    if (rc != 0)
        goto out;
    if (!running.have) {
        rc = co__diag(diag, CUTOFF_ESTATE, "%s has no shadow run to stop", id);
        goto out;
    }
    co__shadow_run_row *row = &running.found;
    row->stopped_at = now;
    if ((row->stopped_by = co__strdup(actor)) == NULL) {
        rc = CUTOFF_ENOMEM;
        goto out;
    }
    if ((rc = STORE_OPS(db)->shadow_run_put(db->store, row, NULL)) != 0)
        goto out;
    rc = co__db_audit(db, CUTOFF_CHANGE_SHADOW, now, actor, "action.shadow.stop", id,
                      json_pack("{s:i,s:I}", "version", row->version, "run", (json_int_t)row->run));
    if (rc == 0 && json_out)
        rc = co__db_json_take(run_json(row, &latest), json_out);
out:
    co__shadow_run_row_clear(&running.found);
    co__action_row_clear(&latest);
    return co__db_end(db, co__db_store_fail(db, rc, diag, "stopping the shadow run"), diag);
}

/* ---- what decision nodes evaluate ------------------------------------------ */

typedef struct run_list {
    co__shadow_run_row *rows;
    size_t n, cap;
} run_list;

static int collect_unstopped(void *ctx, const co__shadow_run_row *row)
{
    run_list *l = ctx;
    if (row->stopped_at)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        co__shadow_run_row *rows = co__realloc(l->rows, cap * sizeof *rows);
        if (rows == NULL)
            return CUTOFF_ENOMEM;
        l->rows = rows;
        l->cap = cap;
    }
    run_pick one = {0};
    int rc = pick_run(&one, row);
    l->rows[l->n++] = one.found;
    return rc;
}

typedef struct node_counts {
    const char *node;
    char *counts;
} node_counts;

static int find_node_counts(void *ctx, const co__shadow_counts_row *row)
{
    node_counts *c = ctx;
    if (c->node == NULL || strcmp(row->node, c->node) != 0)
        return 0;
    co__free(c->counts);
    c->counts = co__strdup(row->counts);
    return c->counts ? 0 : CUTOFF_ENOMEM;
}

void cutoff_shadow_runs_free(cutoff_shadow_run *r, size_t n)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        cutoff_action_free(r[i].action);
        co__free(r[i].counts);
    }
    co__free(r);
}

int cutoff_db_shadow_running(cutoff_db *db, const char *node, cutoff_shadow_run **out, size_t *n)
{
    if (db == NULL || out == NULL || n == NULL)
        return CUTOFF_EINVAL;
    run_list l = {0};
    cutoff_shadow_run *runs = NULL;
    size_t k = 0;
    int rc = co__db_begin_read(db, NULL);
    if (rc != 0)
        return rc;
    rc = STORE_OPS(db)->shadow_run_iter(db->store, NULL, collect_unstopped, &l);
    if (rc == 0 && l.n > 0 && (runs = co__calloc(l.n, sizeof *runs)) == NULL)
        rc = CUTOFF_ENOMEM;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        co__action_row latest = {0};
        rc = STORE_OPS(db)->action_get(db->store, l.rows[i].action_id, 0, &latest);
        if (rc == 0 && latest.version == l.rows[i].version && latest.state == CUTOFF_STATE_DRAFT) {
            cutoff_shadow_run *r = &runs[k];
            node_counts found = {.node = node};
            *r = (cutoff_shadow_run){.run = l.rows[i].run, .started_at = l.rows[i].started_at};
            rc = co__db_action_spec(&latest, &r->action);
            if (rc == 0 && node)
                rc = STORE_OPS(db)->shadow_counts_iter(db->store, r->run, find_node_counts, &found);
            r->counts = found.counts;
            k++;
        } else if (rc == CUTOFF_ENOTFOUND) {
            rc = 0;
        }
        co__action_row_clear(&latest);
    }
    for (size_t i = 0; i < l.n; i++)
        co__shadow_run_row_clear(&l.rows[i]);
    co__free(l.rows);
    if ((rc = co__db_end(db, rc, NULL)) != 0) {
        cutoff_shadow_runs_free(runs, k);
        return rc;
    }
    if (k == 0) {
        co__free(runs);
        runs = NULL;
    }
    *out = runs;
    *n = k;
    return 0;
}

/* ---- each node's counts ---------------------------------------------------- */

static bool node_id_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= CUTOFF_NODE_ID_MAX || !isprint((unsigned char)s[n]))
            return false;
    return n > 0;
}

int cutoff_db_shadow_counts_put(cutoff_db *db, const char *node, const cutoff_shadow *s,
                                int64_t now, int force)
{
    if (db == NULL || node == NULL || !node_id_ok(node) || now < 0)
        return CUTOFF_EINVAL;
    size_t n = cutoff_shadow_count(s);
    if (n == 0)
        return 0;
    /* One statement per run, outside the writers' lock, as receipts: a node
     * frozen while reporting must not hold up the fleet's changes, and each
     * run's counts stand alone. */
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint64_t run = 0;
        co__tally *t = co__shadow_tally(s, i, &run);
        char *text = NULL;
        rc = co__tally_to_json(t, !force, true, &text);
        if (rc == 0 && text) {
            co__shadow_counts_row row = {
                .run = run, .node = (char *)node, .reported_at = now, .counts = text};
            rc = STORE_OPS(db)->shadow_counts_put(db->store, &row);
        }
        co__free(text);
    }
    return rc;
}

/* ---- the report ------------------------------------------------------------ */

typedef struct report_sum {
    co__tally *sum;
    json_t *nodes;
    int rc;
} report_sum;

static int add_node(void *ctx, const co__shadow_counts_row *row)
{
    report_sum *r = ctx;
    cutoff_diag why = {0};
    json_t *n = json_pack("{s:s,s:o}", "node", row->node, "reported_at",
                          co__db_json_time(row->reported_at));
    if (n == NULL)
        return CUTOFF_ENOMEM;
    json_t *doc = json_loads(row->counts, 0, NULL);
    int rc = co__tally_merge_json(r->sum, row->counts, &why);
    if (rc == CUTOFF_ENOMEM) {
        json_decref(n);
        json_decref(doc);
        return rc;
    }
    if (rc == 0) {
        json_object_set(n, "evaluated", json_object_get(doc, "evaluated"));
        json_object_set(n, "would_deny", json_object_get(doc, "would_deny"));
        json_object_set_new(n, "ended", json_boolean(json_is_true(json_object_get(doc, "ended"))));
    } else {
        /* One unreadable row does not hide the others; it is named. */
        json_object_set_new(n, "error", json_string(why.message));
    }
    json_decref(doc);
    json_array_append_new(r->nodes, n);
    return 0;
}

static json_t *seen_json(json_t *o, co__seen s)
{
    json_object_set_new(o, "would_deny", json_integer((json_int_t)s.count));
    json_object_set_new(o, "first", co__db_json_time(s.count ? s.first : 0));
    json_object_set_new(o, "last", co__db_json_time(s.count ? s.last : 0));
    return o;
}

static int by_time(const void *a, const void *b)
{
    const co__tally_sample *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return strcmp(x->request_id, y->request_id);
}

static int by_sub_id(const void *a, const void *b)
{
    const co__tally_sub *const *x = a, *const *y = b;
    return strcmp((*x)->id, (*y)->id);
}

/* The static preview of the run's version with the run's start as its
 * activation, against current without that version (once approved it is
 * in current; a draft of a new version replaces the version in force, as
 * the shadow run does). */
static int run_preview(const cutoff_snapshot *current, const cutoff_action_spec *a,
                       int64_t activation, cutoff_preview **out, cutoff_diag *diag)
{
    size_t n = cutoff_snapshot_action_count(current), kept = 0;
    bool present = false;
    for (size_t i = 0; i < n; i++) {
        const cutoff_action_spec *o = cutoff_snapshot_action(current, i);
        present |= strcmp(o->id, a->id) == 0 && o->version == a->version;
    }
    if (!present)
        return cutoff_preview_compute(current, a, activation, out, diag);
    const cutoff_action_spec **others = co__calloc(n + 1, sizeof *others);
    cutoff_snapshot *without = NULL;
    if (others == NULL)
        return CUTOFF_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (strcmp(cutoff_snapshot_action(current, i)->id, a->id) != 0)
            others[kept++] = cutoff_snapshot_action(current, i);
    int rc = cutoff_snapshot_build(cutoff_snapshot_tree(current), others, kept, &without, diag);
    if (rc == 0)
        rc = cutoff_preview_compute(without, a, activation, out, diag);
    cutoff_snapshot_release(without);
    co__free(others);
    return rc;
}

/* Whether `action` is one of a preview change's actions. */
static bool change_has(const cutoff_preview_change *c, const char *action)
{
    for (size_t i = 0; i < c->n_actions; i++)
        if (strcmp(c->actions[i], action) == 0)
            return true;
    return false;
}

/* The comparison with the preview: marks in foreseen[sub][cell] what the
 * preview changes, and lists the subscriptions it changes that sent no
 * would-be denial. */
static int compare_preview(const cutoff_preview *p, const co__tally *t, bool **foreseen,
                           json_t *silent_list, uint64_t *silent)
{
    enum { PAGE = 4096 };
    cutoff_preview_change *page = co__calloc(PAGE, sizeof *page);
    if (page == NULL)
        return CUTOFF_ENOMEM;
    int rc = 0;
    *silent = 0;
    for (size_t offset = 0; rc == 0 && offset < p->subscriptions_changed; offset += PAGE) {
        size_t got = 0;
        if ((rc = cutoff_preview_changes(p, offset, PAGE, page, &got)) != 0 || got == 0)
            break;
        for (size_t i = 0; i < got; i++) {
            const co__tally_sub *sub = co__tally_sub_lookup(t, page[i].subscription);
            if (sub == NULL) {
                if ((*silent)++ < REPORT_SILENT_SHOWN)
                    json_array_append_new(silent_list, json_string(page[i].subscription));
                continue;
            }
            size_t s = (size_t)(sub - t->subs);
            for (uint32_t k = 0; k < sub->n_cells; k++)
                foreseen[s][k] = change_has(&page[i], t->lines[sub->cells[k].line].action);
        }
    }
    co__free(page);
    return rc;
}

static json_t *phases_json(const cutoff_action_spec *a, int64_t activation)
{
    json_t *phases = json_array();
    for (size_t i = 0; i < a->n_phases; i++)
        json_array_append_new(phases,
                              json_pack("{s:i,s:o,s:s}", "phase", (int)i, "at",
                                        co__db_json_time(cutoff_phase_start(a, i, activation)),
                                        "mode", cutoff_mode_name(a->phases[i].mode)));
    return phases;
}

/* Assembles the report from the summed counts and the preview. */
static int report_json(const co__shadow_run_row *run, const co__action_row *latest,
                       const cutoff_action_spec *a, co__tally *t, json_t *nodes,
                       const cutoff_snapshot *current, const cutoff_preview *p,
                       const cutoff_diag *preview_diag, char **out)
{
    json_t *o = run_json(run, latest);
    const co__tally_sub **subs = co__calloc(t->n_subs + 1, sizeof *subs);
    bool **foreseen = co__calloc(t->n_subs + 1, sizeof *foreseen);
    int rc = o && subs && foreseen ? 0 : CUTOFF_ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < t->n_subs; i++)
        if ((foreseen[i] = co__calloc(t->subs[i].n_cells + 1, sizeof **foreseen)) == NULL)
            rc = CUTOFF_ENOMEM;
    json_t *silent_list = json_array();
    uint64_t silent = 0;
    if (rc == 0 && p)
        rc = compare_preview(p, t, foreseen, silent_list, &silent);
    if (rc != 0)
        goto out;
    json_object_set_new(o, "phases", phases_json(a, run->started_at));
    json_object_set_new(o, "evaluated", json_integer((json_int_t)atomic_load(&t->evaluated)));
    seen_json(o, t->total);
    json_object_set(o, "nodes", nodes);
    json_object_set_new(o, "overflow",
                        json_pack("{s:I,s:I}", "subscriptions", (json_int_t)t->subs_overflow,
                                  "lines", (json_int_t)t->lines_overflow));
    json_t *lines = json_array();
    for (uint32_t i = 0; i < t->n_lines; i++) {
        const co__tally_line *l = &t->lines[i];
        json_t *row = json_pack("{s:s,s:i,s:s}", "action", l->action, "phase", l->phase, "mode",
                                cutoff_mode_name(l->mode));
        seen_json(row, l->seen);
        if (p)
            for (size_t k = 0; k < p->n_lines; k++)
                if (strcmp(p->lines[k].action, l->action) == 0 && (size_t)l->phase < p->n_phases)
                    json_object_set_new(
                        row, "preview_changed",
                        json_integer((json_int_t)p->lines[k].changed_in_phase[l->phase]));
        json_array_append_new(lines, row);
    }
    json_object_set_new(o, "actions", lines);
    /* Subscriptions by id, so that reports compare line by line. */
    for (uint32_t i = 0; i < t->n_subs; i++)
        subs[i] = &t->subs[i];
    qsort(subs, t->n_subs, sizeof *subs, by_sub_id);
    json_t *items = json_array(), *unforeseen = json_array();
    uint64_t n_unforeseen = 0;
    for (uint32_t i = 0; i < t->n_subs; i++) {
        const co__tally_sub *s = subs[i];
        size_t index = (size_t)(s - t->subs);
        cutoff_sub_handle h;
        bool in_tree = cutoff_resolve_subscription(cutoff_snapshot_tree(current), s->id, &h) == 0;
        json_t *cells = json_array();
        for (uint32_t k = 0; k < s->n_cells; k++) {
            const co__tally_line *l = &t->lines[s->cells[k].line];
            json_t *c = json_pack("{s:s,s:i,s:s}", "action", l->action, "phase", l->phase, "mode",
                                  cutoff_mode_name(l->mode));
            seen_json(c, s->cells[k].seen);
            if (p)
                json_object_set_new(c, "foreseen", json_boolean(foreseen[index][k]));
            json_array_append_new(cells, c);
            if (p == NULL || foreseen[index][k])
                continue;
            n_unforeseen++;
            json_t *u = json_pack(
                "{s:s,s:s,s:i,s:s}", "subscription", s->id, "action", l->action, "phase", l->phase,
                "why",
                in_tree ? "the preview, computed against the state now, does not change this "
                          "decision: the state changed after the request (a node moved or was "
                          "added, another action was approved or lifted, the catalog changed), "
                          "or the request named a region the catalog does not list"
                        : "the subscription is not in the tree now: it was removed or moved "
                          "away after the request");
            seen_json(u, s->cells[k].seen);
            json_array_append_new(unforeseen, u);
        }
        json_t *row = json_pack("{s:s}", "subscription", s->id);
        seen_json(row, s->seen);
        json_object_set_new(row, "actions", cells);
        json_object_set_new(row, "other", json_integer((json_int_t)s->cells_overflow));
        json_array_append_new(items, row);
    }
    json_object_set_new(o, "subscriptions",
                        json_pack("{s:I,s:o}", "total", (json_int_t)t->n_subs, "items", items));
    /* The newest would-be denials of every node. */
    co__tally_sample *ring = co__calloc(t->ring_n + 1, sizeof *ring);
    if (ring == NULL) {
        json_decref(unforeseen);
        rc = CUTOFF_ENOMEM;
        goto out;
    }
    /* Slots [0, ring_n) hold entries, wrapped or not: sorted by time. */
    memcpy(ring, t->ring, t->ring_n * sizeof *ring);
    qsort(ring, t->ring_n, sizeof *ring, by_time);
    json_t *sample = json_array();
    size_t from = t->ring_n > REPORT_SAMPLE_SHOWN ? t->ring_n - REPORT_SAMPLE_SHOWN : 0;
    for (size_t i = from; i < t->ring_n; i++)
        json_array_append_new(
            sample, json_pack("{s:s,s:o,s:s,s:s,s:o}", "request_id", ring[i].request_id, "at",
                              co__db_json_time(ring[i].at), "subscription", ring[i].subscription,
                              "action", ring[i].action, "region",
                              co__db_json_str(ring[i].region[0] ? ring[i].region : NULL)));
    co__free(ring);
    json_object_set_new(o, "sample", sample);
    json_t *pv;
    if (p) {
        pv = json_pack("{s:o,s:I,s:I,s:{s:I,s:o},s:{s:I,s:o}}", "activation",
                       co__db_json_time(run->started_at), "subscriptions_in_scope",
                       (json_int_t)p->subscriptions_in_scope, "subscriptions_changed",
                       (json_int_t)p->subscriptions_changed, "silent", "total", (json_int_t)silent,
                       "subscriptions", json_incref(silent_list), "unforeseen", "total",
                       (json_int_t)n_unforeseen, "items", unforeseen);
        if (pv && t->subs_overflow > 0)
            json_object_set_new(pv, "silent_note",
                                json_string("some requests were not itemised by subscription "
                                            "(overflow): a subscription listed as silent may "
                                            "have sent some of them"));
    } else {
        json_decref(unforeseen);
        pv = json_pack("{s:s}", "error",
                       preview_diag->message[0] ? preview_diag->message
                                                : cutoff_strerror(preview_diag->code));
    }
    json_object_set_new(o, "preview", pv);
    rc = co__db_json_take(json_incref(o), out);
out:
    for (uint32_t i = 0; foreseen && i < t->n_subs; i++)
        co__free(foreseen[i]);
    co__free(foreseen);
    co__free(subs);
    json_decref(silent_list);
    json_decref(o);
    return rc;
}

int cutoff_db_shadow_report(cutoff_db *db, const cutoff_snapshot *current, const char *id,
                            int64_t now, char **json_out, cutoff_diag *diag)
{
    co__diag_clear(diag);
    if (db == NULL || id == NULL || json_out == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no action id given");
    co__action_row latest = {0}, version = {0};
    run_pick last = {0};
    cutoff_action_spec *a = NULL;
    cutoff_shadow_limits wide = {REPORT_SUBSCRIPTIONS, REPORT_LINES, REPORT_PER_SUBSCRIPTION,
                                 REPORT_SAMPLE};
    report_sum sum = {.nodes = json_array()};
    cutoff_snapshot *own = NULL;
    cutoff_preview *p = NULL;
    int rc = sum.nodes ? co__tally_new(&wide, &sum.sum) : CUTOFF_ENOMEM;
    if (rc != 0)
        goto done;
    if ((rc = co__db_begin_read(db, diag)) != 0)
        goto done;
    rc = STORE_OPS(db)->action_get(db->store, id, 0, &latest);
    if (rc == CUTOFF_ENOTFOUND)
        rc = no_action(id, diag);
    if (rc == 0)
        rc = STORE_OPS(db)->shadow_run_iter(db->store, id, pick_run, &last);
    if (rc == 0 && !last.have)
        rc = co__diag(diag, CUTOFF_ENOTFOUND,
                      "%s has never run in shadow; start a run with 'cutoff action shadow %s "
                      "start'",
                      id, id);
    if (rc == 0)
        rc = STORE_OPS(db)->action_get(db->store, id, last.found.version, &version);
    if (rc == 0)
        rc = co__db_action_spec(&version, &a);
    if (rc == 0)
        rc = STORE_OPS(db)->shadow_counts_iter(db->store, last.found.run, add_node, &sum);
    if ((rc = co__db_end(db, co__db_store_fail(db, rc, diag, "reading the shadow run"), diag)) != 0)
        goto done;
    if (current == NULL) {
        if ((rc = cutoff_db_snapshot(db, NULL, now, &own, diag)) != 0)
            goto done;
        current = own;
    }
    cutoff_diag why = {0};
    int prc = run_preview(current, a, last.found.started_at, &p, &why);
    if (prc == CUTOFF_ENOMEM) {
        rc = prc;
        goto done;
    }
    rc = report_json(&last.found, &latest, a, sum.sum, sum.nodes, current, prc == 0 ? p : NULL,
                     &why, json_out);
done:
    cutoff_preview_free(p);
    cutoff_snapshot_release(own);
    cutoff_action_free(a);
    co__tally_release(sum.sum);
    json_decref(sum.nodes);
    co__shadow_run_row_clear(&last.found);
    co__action_row_clear(&version);
    co__action_row_clear(&latest);
    return rc;
}
