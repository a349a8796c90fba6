/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backend_local.c - the CLI's backend on a local database: each operation
 * is the cutoff_db_* call the verb needs, answered with the JSON text that
 * cutoffd's admin API answers for the same call (backend_remote.c), so the
 * verbs lay out one format whichever way they work.
 */
#include "cli/backend.h"
#include "common/as_of.h"

#include <stdlib.h>
#include <string.h>

typedef struct local {
    cli_backend base;
    cutoff_db *db;
    const char *actor;
} local;

static local *L(cli_backend *b)
{
    return (local *)b;
}

char *cli_own_text(char *library_text)
{
    if (library_text == NULL)
        return NULL;
    char *copy = strdup(library_text);
    cutoff_free(library_text);
    if (copy == NULL) {
        fputs("cutoff: out of memory\n", stderr);
        exit(CLI_FAIL);
    }
    return copy;
}

/* A JSON value as a malloc'd compact text (consumes v). jansson allocates
 * through libcutoff, so its text is copied like the library's own. */
static int dump(json_t *v, char **out)
{
    *out = v ? cli_own_text(json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER)) : NULL;
    json_decref(v);
    return *out ? 0 : CUTOFF_ENOMEM;
}

/* Keeps a library JSON text as the answer, or passes on its error. Call
 * it after the library call, not around it: argument evaluation order
 * would leave library_text unset. */
static int answer(int rc, char *library_text, char **out)
{
    *out = rc == 0 ? cli_own_text(library_text) : NULL;
    if (rc != 0)
        cutoff_free(library_text);
    return rc;
}

/* Says that building a state failed (`what`: "current", "as of then"),
 * before the library's why. */
static int state_failed(int rc, const char *what, cutoff_diag *diag)
{
    char why[sizeof diag->message];
    snprintf(why, sizeof why, "%s", diag->message[0] ? diag->message : cutoff_strerror(rc));
    snprintf(diag->message, sizeof diag->message, "building the %s: %.470s", what, why);
    return rc;
}

/* ---- catalog and nodes ---------------------------------------------------- */

static int catalog_get(cli_backend *b, char **out, cutoff_diag *diag)
{
    (void)diag;
    cutoff_catalog_spec *cat = NULL;
    char *json = NULL;
    int rc = cutoff_db_catalog_get(L(b)->db, &cat);
    if (rc == 0)
        rc = cutoff_catalog_to_json(cat, &json);
    cutoff_catalog_free(cat);
    return answer(rc, json, out);
}

static int catalog_load(cli_backend *b, const char *text, size_t len, bool force, char **out,
                        char **impact, cutoff_diag *diag)
{
    char *changes = NULL;
    int rc = cutoff_db_catalog_apply(L(b)->db, L(b)->actor, text, len,
                                     force ? CUTOFF_CATALOG_FORCE : 0, &changes, diag);
    *impact = cli_own_text(changes);
    return rc != 0 ? rc : catalog_get(b, out, NULL);
}

/* Adapts the library's progress callback (lines) to the CLI's. */
typedef struct line_progress {
    cli_progress_fn fn;
    void *ctx;
} line_progress;

static void lines_done(void *ctx, uint64_t done)
{
    line_progress *p = ctx;
    p->fn(p->ctx, done, "lines");
}

static int nodes_import(cli_backend *b, FILE *in, const char *source, cli_progress_fn progress,
                        void *progress_ctx, char **out, cutoff_diag *diag)
{
    cutoff_import_stats st = {0};
    line_progress lp = {progress, progress_ctx};
    int rc = cutoff_db_nodes_import(L(b)->db, L(b)->actor, in, source, progress ? lines_done : NULL,
                                    progress ? &lp : NULL, &st, diag);
    if (rc != 0)
        return rc;
    return dump(json_pack("{s:I, s:I, s:I, s:I}", "lines", (json_int_t)st.lines, "inserted",
                          (json_int_t)st.inserted, "updated", (json_int_t)st.updated, "unchanged",
                          (json_int_t)st.unchanged),
                out);
}

static int node_show(cli_backend *b, const char *id, char **out, cutoff_diag *diag)
{
    (void)diag;
    char *json = NULL;
    int rc = cutoff_db_node_show(L(b)->db, id, &json);
    return answer(rc, json, out);
}

/* ---- cases ------------------------------------------------------------------ */

static int case_open(cli_backend *b, const char *id, const char *title, const char *const *scope,
                     size_t n_scope, char **out, cutoff_diag *diag)
{
    char id_out[CUTOFF_ID_MAX + 1];
    int rc = cutoff_db_case_open(L(b)->db, L(b)->actor, id, title, scope, n_scope, id_out, diag);
    if (rc != 0)
        return rc;
    return dump(json_pack("{s:s}", "id", id_out), out);
}

static int case_evidence(cli_backend *b, const char *case_id, const char *path,
                         const char *media_type, const char *note, bool keep, char **out,
                         cutoff_diag *diag)
{
    char sha[65];
    int rc = cutoff_db_case_add_evidence(L(b)->db, L(b)->actor, case_id, path, NULL, media_type,
                                         note, keep ? 1 : 0, sha, diag);
    if (rc != 0)
        return rc;
    return dump(json_pack("{s:s, s:s}", "case", case_id, "sha256", sha), out);
}

static int case_findings(cli_backend *b, const char *case_id, const char *text, cutoff_diag *diag)
{
    return cutoff_db_case_set_findings(L(b)->db, L(b)->actor, case_id, text, diag);
}

static int case_close(cli_backend *b, const char *case_id, cutoff_diag *diag)
{
    return cutoff_db_case_close(L(b)->db, L(b)->actor, case_id, diag);
}

static int case_show(cli_backend *b, const char *case_id, char **out, cutoff_diag *diag)
{
    (void)diag;
    char *json = NULL;
    int rc = cutoff_db_case_show(L(b)->db, case_id, &json);
    return answer(rc, json, out);
}

static int case_list(cli_backend *b, char **out, cutoff_diag *diag)
{
    (void)diag;
    char *json = NULL;
    int rc = cutoff_db_case_list(L(b)->db, &json);
    return answer(rc, json, out);
}

/* ---- actions ---------------------------------------------------------------- */

static int action_propose(cli_backend *b, const char *text, size_t len, char **out,
                          cutoff_diag *diag)
{
    char id[CUTOFF_ID_MAX + 1];
    int version = 0;
    int rc = cutoff_db_action_propose(L(b)->db, L(b)->actor, text, len, id, &version, diag);
    if (rc != 0)
        return rc;
    return dump(json_pack("{s:s, s:i, s:s}", "id", id, "version", version, "state", "draft"), out);
}

/* The state compared with is the one in force now, whatever the assumed
 * activation time. */
static int action_preview(cli_backend *b, const char *id, int64_t activation, uint64_t offset,
                          uint64_t limit, char **out, cutoff_diag *diag)
{
    int64_t now = cli_now();
    cutoff_snapshot *current = NULL;
    char *json = NULL;
    int rc = cutoff_db_snapshot(L(b)->db, NULL, now, &current, diag);
    if (rc != 0)
        return state_failed(rc, "current state", diag);
    rc = cutoff_db_action_preview(L(b)->db, current, id, activation ? activation : now,
                                  (size_t)offset, (size_t)limit, &json, diag);
    cutoff_snapshot_release(current);
    return answer(rc, json, out);
}

static int action_shadow(cli_backend *b, const char *id, const char *verb, char **out,
                         cutoff_diag *diag)
{
    int64_t now = cli_now();
    char *json = NULL;
    int rc;
    if (strcmp(verb, "start") == 0) {
        rc = cutoff_db_shadow_start(L(b)->db, L(b)->actor, id, now, &json, diag);
    } else if (strcmp(verb, "stop") == 0) {
        rc = cutoff_db_shadow_stop(L(b)->db, L(b)->actor, id, now, &json, diag);
    } else {
        cutoff_snapshot *current = NULL;
        if ((rc = cutoff_db_snapshot(L(b)->db, NULL, now, &current, diag)) != 0)
            return state_failed(rc, "current state", diag);
        rc = cutoff_db_shadow_report(L(b)->db, current, id, now, &json, diag);
        cutoff_snapshot_release(current);
    }
    return answer(rc, json, out);
}

static int action_show(cli_backend *b, const char *id, char **out, cutoff_diag *diag)
{
    (void)diag;
    char *json = NULL;
    int rc = cutoff_db_action_show(L(b)->db, id, &json);
    return answer(rc, json, out);
}

static int action_approve(cli_backend *b, const char *id, char **out, cutoff_diag *diag)
{
    int rc = cutoff_db_action_approve(L(b)->db, L(b)->actor, id, cli_now(), diag);
    return rc != 0 ? rc : action_show(b, id, out, NULL);
}

static int action_lift(cli_backend *b, const char *id, const char *reason, char **out,
                       cutoff_diag *diag)
{
    int rc = cutoff_db_action_lift(L(b)->db, L(b)->actor, id, cli_now(), reason, diag);
    return rc != 0 ? rc : action_show(b, id, out, NULL);
}

static int action_list(cli_backend *b, char **out, cutoff_diag *diag)
{
    (void)diag;
    char *json = NULL;
    int rc = cutoff_db_action_list(L(b)->db, &json);
    return answer(rc, json, out);
}

/* ---- decisions --------------------------------------------------------------- */

static int check(cli_backend *b, const cli_request *r, bool as_of, char **out, cutoff_diag *diag)
{
    cutoff_snapshot *snap = NULL;
    cutoff_explanation *ex = NULL;
    /* Built for the time asked about when it is past: actions that ended
     * since still decide it. */
    int64_t now = cli_now();
    int rc = as_of ? cutoff_db_snapshot_as_of(L(b)->db, r->at, &snap, diag)
                   : cutoff_db_snapshot(L(b)->db, NULL, r->at < now ? r->at : now, &snap, diag);
    if (rc != 0)
        return state_failed(rc, as_of ? "state as of then" : "current state", diag);
    /* A local database has no notice base: a notice's url is its ref. */
    char *text = NULL;
    if ((rc = cutoff_explain(snap, r->subscription, r->action, r->region, r->at, &ex)) == 0)
        rc = cutoff_explanation_to_json(ex, r, NULL, &text);
    if (rc == 0 && as_of)
        rc = co__decision_mark_as_of(&text, r->at);
    rc = answer(rc, text, out);
    cutoff_explanation_free(ex);
    cutoff_snapshot_release(snap);
    return rc;
}

/* Decides request i of a batch as of its time, on the snapshot of that
 * instant (*cached, rebuilt when the instant changes). */
static int check_as_of(cli_backend *b, const cli_request *r, cutoff_snapshot **cached,
                       int64_t *cached_at, cutoff_verdict *v, cutoff_diag *diag)
{
    if (*cached == NULL || *cached_at != r->at) {
        cutoff_snapshot_release(*cached);
        *cached = NULL;
        int rc = cutoff_db_snapshot_as_of(L(b)->db, r->at, cached, diag);
        if (rc != 0)
            return state_failed(rc, "state as of then", diag);
        *cached_at = r->at;
    }
    cutoff_check(*cached, r->subscription, r->action, r->region, r->at, v);
    return 0;
}

static int check_batch(cli_backend *b, const cli_request *reqs, const bool *as_of, size_t n,
                       cli_decision_fn emit, void *emit_ctx, cutoff_diag *diag)
{
    cutoff_snapshot *snap = NULL, *then = NULL;
    int64_t then_at = 0;
    /* One snapshot for the earliest time the batch asks about. */
    int rc = cutoff_db_snapshot(L(b)->db, NULL, cli_batch_earliest(reqs, as_of, n, cli_now()),
                                &snap, diag);
    if (rc != 0)
        return state_failed(rc, "current state", diag);
    /* Decided in chunks with cutoff_check_many, which overlaps the
     * lookups of neighbouring requests; as-of lines one by one, each on
     * the state of its instant. */
    enum { CHUNK = 256 };
    cutoff_verdict v[CHUNK];
    for (size_t base = 0; base < n && rc == 0; base += CHUNK) {
        size_t m = n - base < CHUNK ? n - base : CHUNK;
        cutoff_check_many(snap, reqs + base, m, v);
        for (size_t i = 0; i < m && rc == 0; i++) {
            /* Emitted at once: the id lives as long as that snapshot. */
            if (as_of && as_of[base + i] &&
                (rc = check_as_of(b, &reqs[base + i], &then, &then_at, &v[i], diag)) != 0)
                break;
            if (emit(emit_ctx, v[i].reason == CUTOFF_REASON_ALLOW, cutoff_reason_name(v[i].reason),
                     v[i].by ? v[i].by->id : NULL) != CLI_OK)
                rc = CLI_REPORTED;
        }
    }
    cutoff_snapshot_release(then);
    cutoff_snapshot_release(snap);
    return rc;
}

/* ---- audit -------------------------------------------------------------------- */

static int audit_log(cli_backend *b, uint64_t after, uint64_t limit, char **out, cutoff_diag *diag)
{
    (void)diag;
    char *json = NULL;
    int rc = cutoff_db_audit_list(L(b)->db, after, (size_t)limit, &json);
    return answer(rc, json, out);
}

static int audit_verify(cli_backend *b, char **out, cutoff_diag *diag)
{
    (void)diag;
    cutoff_audit_report rep;
    memset(&rep, 0, sizeof rep);
    int rc = cutoff_db_audit_verify(L(b)->db, &rep);
    if (rc != 0 && rc != CUTOFF_ETAMPER)
        return rc;
    json_t *o = json_pack("{s:b, s:I, s:s}", "verified", rc == 0, "records",
                          (json_int_t)rep.records, "head", rep.head_hex);
    if (o != NULL && rc != 0) {
        json_object_set_new(o, "first_bad", json_integer((json_int_t)rep.first_bad));
        json_object_set_new(o, "problem", json_string(rep.problem));
    }
    return dump(o, out);
}

/* ---- the table ------------------------------------------------------------------ */

static void local_close(cli_backend *b)
{
    cutoff_db_close(L(b)->db);
    free(b);
}

static const cli_backend_ops local_ops = {
    .catalog_load = catalog_load,
    .catalog_get = catalog_get,
    .nodes_import = nodes_import,
    .node_show = node_show,
    .case_open = case_open,
    .case_evidence = case_evidence,
    .case_findings = case_findings,
    .case_close = case_close,
    .case_show = case_show,
    .case_list = case_list,
    .action_propose = action_propose,
    .action_preview = action_preview,
    .action_shadow = action_shadow,
    .action_approve = action_approve,
    .action_lift = action_lift,
    .action_show = action_show,
    .action_list = action_list,
    .check = check,
    .check_batch = check_batch,
    .audit_log = audit_log,
    .audit_verify = audit_verify,
    .close = local_close,
};

int cli_local_open(cli *c, cli_backend **out)
{
    local *l = calloc(1, sizeof *l);
    if (l == NULL)
        return cli_error("out of memory");
    int rc = cli_open_db(c, false, "this command", &l->db);
    if (rc != CLI_OK) {
        free(l);
        return rc;
    }
    l->base.ops = &local_ops;
    l->base.c = c;
    l->actor = c->actor;
    *out = &l->base;
    return CLI_OK;
}

int cli_backend_open(cli *c, cli_backend **out)
{
    *out = NULL;
    int rc = cli_resolve(c);
    if (rc != CLI_OK)
        return rc;
    return c->server ? cli_remote_open(c, out) : cli_local_open(c, out);
}

int cli_fetch(cli *c, cli_fetch_fn fetch, const char *id, const char *missing, const char *doing,
              json_t **doc)
{
    cli_backend *b = NULL;
    char *text = NULL;
    cutoff_diag diag = {0};
    *doc = NULL;
    c->read_only = true; /* every show and list only reads */
    int rc = cli_backend_open(c, &b);
    if (rc != CLI_OK)
        return rc;
    int err = fetch(b, id, &text, &diag);
    if (err == CUTOFF_ENOTFOUND && missing)
        rc = cli_error(missing, id ? id : "");
    else if (err != 0)
        rc = cli_fail(err, &diag, id ? id : doing);
    else if (c->json)
        rc = cli_json_print_text(text);
    else if ((*doc = cli_json_load(text)) == NULL)
        rc = CLI_FAIL;
    free(text);
    cli_backend_close(b);
    return rc;
}

void cli_backend_close(cli_backend *b)
{
    if (b != NULL)
        b->ops->close(b);
}
