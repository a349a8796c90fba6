/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_action.c - "cutoff action ...": the life of an enforcement action
 * through the CLI. Propose a draft, preview its blast radius against the
 * current state, approve it (a second person must), lift it, and read
 * actions back. The preview is the library's (cutoff_db_action_preview,
 * which the daemon serves too); this file only lays it out. Everything here
 * reads the JSON a backend answers (backend.h), so it works the same on a
 * local database and through a server.
 */
#include "cli/backend.h"

#include <stdlib.h>
#include <string.h>

#define PREVIEW_DEFAULT_LIMIT 20
/* A page of changed subscriptions is capped so that a typo in --limit does
 * not ask for gigabytes. */
#define PREVIEW_MAX_LIMIT 100000

/* ---- shared pieces --------------------------------------------------------- */

/* "+30d", "+12h", "+15m", "+3s" or "+0" for a relative phase offset. */
static void format_offset(int64_t seconds, char buf[32])
{
    if (seconds == 0)
        snprintf(buf, 32, "+0");
    else if (seconds % 86400 == 0)
        snprintf(buf, 32, "+%lldd", (long long)(seconds / 86400));
    else if (seconds % 3600 == 0)
        snprintf(buf, 32, "+%lldh", (long long)(seconds / 3600));
    else if (seconds % 60 == 0)
        snprintf(buf, 32, "+%lldm", (long long)(seconds / 60));
    else
        snprintf(buf, 32, "+%llds", (long long)seconds);
}

/* The start of phase i as text: RFC 3339 when it is known (absolute, or
 * relative with an activation time), else the offset "after approval". */
static void phase_start_text(const cutoff_action_spec *a, size_t i, int64_t activation,
                             char buf[64])
{
    char t[32], off[32];
    const cutoff_phase_spec *p = &a->phases[i];
    if (!p->relative) {
        snprintf(buf, 64, "%s", cutoff_time_format(p->at, t));
    } else if (activation != 0 || a->activated_at != 0) {
        format_offset(p->at, off);
        snprintf(buf, 64, "%s (%s)", cutoff_time_format(cutoff_phase_start(a, i, activation), t),
                 off);
    } else {
        format_offset(p->at, off);
        snprintf(buf, 64, "%s after approval", off);
    }
}

static char *join(const char *const *items, size_t n, const char *none)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(items[i]) + 2;
    char *s = calloc(1, len + strlen(none));
    if (s == NULL)
        return NULL;
    if (n == 0)
        strcpy(s, none);
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(s, ", ");
        strcat(s, items[i]);
    }
    return s;
}

/* Prints one labelled line with a joined list. */
static void print_list_line(const char *label, const char *const *items, size_t n, const char *none)
{
    char *s = join(items, n, none);
    printf("  %-8s %s\n", label, s ? s : "?");
    free(s);
}

static void print_phases(const cutoff_action_spec *a, int64_t activation)
{
    cli_table t;
    cli_table_init(&t, 3);
    cli_table_add(&t, "PHASE");
    cli_table_add(&t, "FROM");
    cli_table_add(&t, "MODE");
    for (size_t i = 0; i < a->n_phases; i++) {
        char when[64];
        phase_start_text(a, i, activation, when);
        cli_table_addf(&t, "%zu", i + 1);
        cli_table_add(&t, when);
        cli_table_add(&t, cutoff_mode_name(a->phases[i].mode));
    }
    cli_table_print(&t, "  ", "1");
    cli_table_free(&t);
}

static json_t *phases_json(const cutoff_action_spec *a, int64_t activation)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < a->n_phases; i++) {
        char t[32];
        int64_t start = cutoff_phase_start(a, i, activation);
        json_array_append_new(arr, json_pack("{s:s, s:I, s:s}", "at", cutoff_time_format(start, t),
                                             "at_unix", (json_int_t)start, "mode",
                                             cutoff_mode_name(a->phases[i].mode)));
    }
    return arr;
}

/* obj[key] when it is a string, else `fallback`. */
static const char *jstr(const json_t *obj, const char *key, const char *fallback)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : fallback;
}

/* obj[key] as an unsigned count (0 when absent). */
static unsigned long long jcount(const json_t *obj, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(obj, key));
    return v > 0 ? (unsigned long long)v : 0;
}

/* Reads an action's history (action_show); reports failures. */
static int show_action(cli_backend *b, const char *id, json_t **out)
{
    char *text = NULL;
    cutoff_diag diag = {0};
    int err = b->ops->action_show(b, id, &text, &diag);
    if (err == CUTOFF_ENOTFOUND)
        return cli_error("no enforcement action \"%s\"", id);
    if (err != 0)
        return cli_fail(err, &diag, id);
    *out = cli_json_load(text);
    free(text);
    return *out ? CLI_OK : CLI_FAIL;
}

/* The entry of `version` in an action's history (NULL when absent). */
static const json_t *history_version(const json_t *shown, json_int_t version)
{
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(shown, "versions"), i, v) {
        if (json_integer_value(json_object_get(v, "version")) == version)
            return v;
    }
    return NULL;
}

/* One version of an action from its history, as the library's structure
 * (the document as proposed plus state, version and activation time), for
 * the layouts that resolve phase times. Reports failures. */
static int version_spec(const json_t *shown, json_int_t version, cutoff_action_spec **out)
{
    const json_t *ver = history_version(shown, version);
    const json_t *doc = json_object_get(ver, "action");
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    cutoff_diag diag = {0};
    int err = text ? cutoff_action_parse(text, strlen(text), out, &diag) : CUTOFF_EPARSE;
    cutoff_free(text);
    if (err != 0)
        return cli_error("version %lld of %s cannot be read back: %s", (long long)version,
                         jstr(shown, "id", "?"),
                         diag.message[0] ? diag.message : cutoff_strerror(err));
    cutoff_action_spec *a = *out;
    const char *state = jstr(ver, "state", "draft");
    for (int st = CUTOFF_STATE_DRAFT; st <= CUTOFF_STATE_SUPERSEDED; st++)
        if (strcmp(state, cutoff_action_state_name((cutoff_action_state)st)) == 0)
            a->state = (cutoff_action_state)st;
    a->version = (int)version;
    const char *activated = jstr(ver, "activated_at", NULL);
    if (activated)
        cutoff_time_parse(activated, &a->activated_at, NULL);
    return CLI_OK;
}

/* ---- propose ----------------------------------------------------------------- */

static int action_propose(cli *c, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, NULL, pos, 1, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (n_pos != 1)
        return cli_usage(c, "give the action FILE (JSON, '-' for standard input)");
    if ((rc = cli_check_actor(c)) != CLI_OK)
        return rc;

    char *text = NULL, *answer = NULL;
    size_t len = 0;
    cli_backend *b = NULL;
    json_t *proposed = NULL;
    if ((rc = cli_read_file(pos[0], &text, &len)) != CLI_OK)
        return rc;
    if ((rc = cli_backend_open(c, &b)) != CLI_OK)
        goto out;
    cutoff_diag diag = {0};
    int err = b->ops->action_propose(b, text, len, &answer, &diag);
    if (err != 0) {
        rc = cli_fail(err, &diag, strcmp(pos[0], "-") == 0 ? "stdin" : pos[0]);
        goto out;
    }
    if ((proposed = cli_json_load(answer)) == NULL) {
        rc = CLI_FAIL;
        goto out;
    }
    const char *id = jstr(proposed, "id", "?");
    json_int_t version = json_integer_value(json_object_get(proposed, "version"));
    if (c->json)
        cli_json_print(proposed);
    else if (version > 1)
        printf("%s version %lld\n", id, (long long)version);
    else
        printf("%s\n", id);
    rc = CLI_OK;
out:
    json_decref(proposed);
    free(answer);
    cli_backend_close(b);
    free(text);
    return rc;
}

/* ---- preview ------------------------------------------------------------------ */

/* Lays out the preview the library computed (JSON) for people; `a` is the
 * previewed version, for what it says (scope, patterns, phase offsets). */
static void preview_print_text(const cutoff_action_spec *a, const json_t *pv)
{
    int64_t activation = 0;
    cutoff_time_parse(jstr(pv, "activation", "0"), &activation, NULL);

    printf("Preview of %s version %d (%s, case %s)\n", a->id, a->version,
           cutoff_action_state_name(a->state), a->case_id ? a->case_id : "-");
    if (json_is_true(json_object_get(pv, "compared_without_this_action"))) {
        printf("  this version is active: compared with the state without it\n");
    } else {
        char t[32];
        printf("  if approved at %s, compared with the active actions now\n",
               cutoff_time_format(activation, t));
    }
    print_list_line("scope", a->scope, a->n_scope, "-");
    print_list_line("deny", a->deny, a->n_deny, "-");
    print_list_line("except", a->except, a->n_except, "(nothing)");
    print_list_line("regions", a->regions, a->n_regions, "* (every region)");
    printf("  %-8s %d\n\n", "status", a->status);

    printf("Phases\n");
    print_phases(a, activation);
    unsigned long long changed = jcount(pv, "subscriptions_changed");
    printf("\nSubscriptions in scope: %llu; whose decisions change: %llu\n\n",
           jcount(pv, "subscriptions_in_scope"), changed);

    const json_t *phases = json_object_get(pv, "phases");
    size_t n_phases = json_array_size(phases);
    printf("Per catalog action: subscriptions whose decision changes\n");
    cli_table tab;
    cli_table_init(&tab, 4 + n_phases);
    cli_table_add(&tab, "ACTION");
    cli_table_add(&tab, "CLASS");
    cli_table_add(&tab, "EFFECT");
    cli_table_add(&tab, "ANY PHASE");
    for (size_t k = 0; k < n_phases; k++)
        cli_table_addf(&tab, "%zu:%s", k + 1, jstr(json_array_get(phases, k), "mode", "?"));
    size_t i, n_excepted = 0;
    json_t *line;
    json_array_foreach (json_object_get(pv, "actions"), i, line) {
        bool excepted = json_is_true(json_object_get(line, "excepted"));
        n_excepted += excepted;
        cli_table_add(&tab, jstr(line, "action", "?"));
        cli_table_add(&tab, jstr(line, "class", "?"));
        cli_table_add(&tab, excepted                                          ? "excepted"
                            : json_is_true(json_object_get(line, "targeted")) ? "targeted"
                                                                              : "-");
        cli_table_addf(&tab, "%llu", jcount(line, "changed"));
        const json_t *per_phase = json_object_get(line, "changed_in_phase");
        for (size_t k = 0; k < n_phases; k++)
            cli_table_addf(&tab, "%lld",
                           (long long)json_integer_value(json_array_get(per_phase, k)));
    }
    char align[64] = "0001";
    for (size_t k = 0; k < n_phases && 4 + k < sizeof align - 1; k++)
        align[4 + k] = '1';
    cli_table_print(&tab, "  ", align);
    cli_table_free(&tab);

    if (n_excepted == 0)
        printf("\nNo catalog action is excepted.\n");
    else if (json_is_true(json_object_get(pv, "excepted_unchanged")))
        printf("\nNo decision on an excepted action changes (%zu excepted actions checked in every "
               "phase and region).\n",
               n_excepted);
    else
        printf("\nWARNING: %llu decisions on excepted actions change; see the changed "
               "subscriptions below.\n",
               jcount(pv, "excepted_changes"));

    const json_t *changes = json_object_get(pv, "changes");
    const json_t *page = json_object_get(changes, "subscriptions");
    unsigned long long offset = jcount(changes, "offset"), n_page = json_array_size(page);
    if (changed == 0) {
        printf("\nNo subscription's decision changes.\n");
        return;
    }
    if (n_page == 0) {
        printf("\nChanged subscriptions: %llu (none from offset %llu)\n", changed, offset);
        return;
    }
    printf("\nChanged subscriptions %llu-%llu of %llu\n", offset + 1, offset + n_page, changed);
    cli_table_init(&tab, 2);
    cli_table_add(&tab, "SUBSCRIPTION");
    cli_table_add(&tab, "ACTIONS WHOSE DECISION CHANGES");
    json_t *entry;
    json_array_foreach (page, i, entry) {
        cli_table_add(&tab, jstr(entry, "subscription", "?"));
        cli_table_add_json(&tab, entry, "actions");
    }
    cli_table_print(&tab, "  ", NULL);
    cli_table_free(&tab);
    if (offset + n_page < changed)
        printf("  ... %llu more (--offset %llu)\n", changed - offset - n_page, offset + n_page);
}

/* The preview itself is the library's (cutoff_db_action_preview, shared
 * with the daemon): the latest draft as if approved at --at, or the active
 * version against the state without it. The state compared with is the
 * one in force now, whatever --at says. */
static int action_preview(cli *c, int argc, char **argv)
{
    const char *at_text = NULL, *offset_text = NULL, *limit_text = NULL;
    const cli_opt opts[] = {
        {"at", &at_text, NULL}, {"offset", &offset_text, NULL}, {"limit", &limit_text, NULL}, {0}};
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, opts, pos, 1, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (n_pos != 1)
        return cli_usage(c, "give the action ID");
    int64_t activation = 0;
    uint64_t offset = 0, limit = PREVIEW_DEFAULT_LIMIT;
    if (at_text && (rc = cli_parse_time(c, "--at", at_text, &activation)) != CLI_OK)
        return rc;
    if (offset_text && (rc = cli_parse_count(c, "--offset", offset_text, &offset)) != CLI_OK)
        return rc;
    if (limit_text && (rc = cli_parse_count(c, "--limit", limit_text, &limit)) != CLI_OK)
        return rc;
    if (limit > PREVIEW_MAX_LIMIT)
        return cli_usage(c, "--limit %llu is more than %d rows a page", (unsigned long long)limit,
                         PREVIEW_MAX_LIMIT);

    if ((rc = cli_resolve(c)) != CLI_OK)
        return rc;
    if (at_text && c->server)
        return cli_usage(c,
                         "--at works on a local database only: the server %s previews as if "
                         "approved now",
                         c->server);

    cli_backend *b = NULL;
    cutoff_action_spec *action = NULL;
    char *text = NULL;
    json_t *shown = NULL, *pv = NULL;
    cutoff_diag diag = {0};
    c->read_only = true;
    if ((rc = cli_backend_open(c, &b)) != CLI_OK)
        goto out;
    if ((rc = show_action(b, pos[0], &shown)) != CLI_OK)
        goto out;
    int err =
        b->ops->action_preview(b, pos[0], at_text ? activation : 0, offset, limit, &text, &diag);
    if (err != 0) {
        rc = cli_fail(err, &diag, pos[0]);
        goto out;
    }
    if (c->json) {
        rc = cli_json_print_text(text);
        goto out;
    }
    if ((pv = cli_json_load(text)) == NULL) {
        rc = CLI_FAIL;
        goto out;
    }
    /* The version the preview is of: the latest draft, else the active one. */
    json_t *version = json_object_get(pv, "version");
    if ((rc = version_spec(shown,
                           json_is_integer(version)
                               ? json_integer_value(version)
                               : json_integer_value(json_object_get(shown, "latest_version")),
                           &action)) != CLI_OK)
        goto out;
    preview_print_text(action, pv);
    rc = CLI_OK;
out:
    json_decref(pv);
    json_decref(shown);
    free(text);
    cutoff_action_free(action);
    cli_backend_close(b);
    return rc;
}

/* ---- approve and lift --------------------------------------------------------- */

static int action_approve(cli *c, int argc, char **argv)
{
    const char *wait_opt = NULL, *silent_opt = NULL;
    const cli_opt opts[] = {
        {"wait-enforced", &wait_opt, NULL}, {"silent-after", &silent_opt, NULL}, {0}};
    char *pos[1];
    int n_pos;
    cli_wait wait;
    int rc = cli_parse(c, argc, argv, opts, pos, 1, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (n_pos != 1)
        return cli_usage(c, "give the action ID");
    if ((rc = cli_wait_check(c, wait_opt, silent_opt, &wait)) != CLI_OK ||
        (rc = cli_check_actor(c)) != CLI_OK)
        return rc;

    cli_backend *b = NULL;
    cutoff_action_spec *a = NULL;
    char *text = NULL;
    json_t *shown = NULL;
    cutoff_diag diag = {0};
    if ((rc = cli_backend_open(c, &b)) != CLI_OK)
        return rc;
    int err = b->ops->action_approve(b, pos[0], &text, &diag);
    if (err == CUTOFF_EPERM && diag.message[0] == '\0') {
        rc = cli_error("%s: %s proposed it and cannot also approve it; a second person must",
                       pos[0], c->actor ? c->actor : "the approver");
        goto out;
    }
    if (err != 0) {
        rc = cli_fail(err, &diag, pos[0]);
        goto out;
    }
    if ((shown = cli_json_load(text)) == NULL) {
        rc = CLI_FAIL;
        goto out;
    }
    /* The approved version was the latest draft, and is still the latest. */
    json_int_t version = json_integer_value(json_object_get(shown, "latest_version"));
    if ((rc = version_spec(shown, version, &a)) != CLI_OK)
        goto out;
    const char *approver = jstr(history_version(shown, version), "approved_by", "-");
    char t[32];
    if (c->json) {
        json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:o}", "id", a->id, "version", a->version,
                              "state", cutoff_action_state_name(a->state), "approved_by", approver,
                              "activated_at", cutoff_time_format(a->activated_at, t), "phases",
                              phases_json(a, a->activated_at));
        cli_json_print(o);
        json_decref(o);
    } else {
        printf("%s version %d approved by %s; %s since %s\n", a->id, a->version, approver,
               cutoff_action_state_name(a->state), cutoff_time_format(a->activated_at, t));
        print_phases(a, a->activated_at);
    }
    rc = wait.timeout_s ? cli_wait_enforced(c, &wait, pos[0]) : CLI_OK;
out:
    json_decref(shown);
    free(text);
    cutoff_action_free(a);
    cli_backend_close(b);
    return rc;
}

static int action_lift(cli *c, int argc, char **argv)
{
    const char *reason = NULL, *wait_opt = NULL, *silent_opt = NULL;
    const cli_opt opts[] = {{"reason", &reason, NULL},
                            {"wait-enforced", &wait_opt, NULL},
                            {"silent-after", &silent_opt, NULL},
                            {0}};
    char *pos[1];
    int n_pos;
    cli_wait wait;
    int rc = cli_parse(c, argc, argv, opts, pos, 1, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (n_pos != 1)
        return cli_usage(c, "give the action ID");
    if ((rc = cli_wait_check(c, wait_opt, silent_opt, &wait)) != CLI_OK ||
        (rc = cli_check_actor(c)) != CLI_OK)
        return rc;

    cli_backend *b = NULL;
    json_t *before = NULL, *after = NULL;
    char *text = NULL;
    cutoff_diag diag = {0};
    if ((rc = cli_backend_open(c, &b)) != CLI_OK)
        return rc;
    if ((rc = show_action(b, pos[0], &before)) != CLI_OK)
        goto out;
    /* Lifting takes the active version when there is one, else withdraws
     * the latest draft; find which, to say what happened. */
    json_int_t version = json_integer_value(json_object_get(before, "latest_version"));
    const json_t *active = json_object_get(before, "active_version");
    bool draft = strcmp(jstr(history_version(before, version), "state", "?"), "draft") == 0;
    bool withdrawn = draft && !json_is_integer(active);
    if (draft && json_is_integer(active))
        version = json_integer_value(active);
    int err = b->ops->action_lift(b, pos[0], reason, &text, &diag);
    if (err != 0) {
        rc = cli_fail(err, &diag, pos[0]);
        goto out;
    }
    if ((after = cli_json_load(text)) == NULL) {
        rc = CLI_FAIL;
        goto out;
    }
    const char *what = withdrawn ? "withdrawn" : "lifted";
    const char *by = jstr(history_version(after, version), "lifted_by", c->actor ? c->actor : "-");
    const char *id = jstr(before, "id", pos[0]);
    if (c->json) {
        json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:s?}", "id", id, "version", (int)version,
                              "result", what, "by", by, "reason", reason);
        cli_json_print(o);
        json_decref(o);
    } else {
        printf("%s version %lld %s by %s%s%s\n", id, (long long)version, what, by,
               reason ? ": " : "", reason ? reason : "");
    }
    rc = wait.timeout_s ? cli_wait_enforced(c, &wait, id) : CLI_OK;
out:
    json_decref(after);
    json_decref(before);
    free(text);
    cli_backend_close(b);
    return rc;
}

/* ---- list and show ---------------------------------------------------------- */

static int fetch_action_list(cli_backend *b, const char *id, char **out, cutoff_diag *diag)
{
    (void)id;
    return b->ops->action_list(b, out, diag);
}

static int action_list(cli *c, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, NULL, pos, 0, &n_pos);
    if (rc != CLI_OK)
        return rc;
    json_t *arr;
    rc = cli_fetch(c, fetch_action_list, NULL, NULL, "listing actions", &arr);
    if (rc != CLI_OK || arr == NULL)
        return rc;
    static const char *const keys[] = {"id",       "version",     "state",       "active_version",
                                       "case",     "proposed_by", "approved_by", "activated_at",
                                       "lifted_at"};
    static const char *const heads[] = {"ACTION",      "VERSION",      "STATE",
                                        "ACTIVE",      "CASE",         "PROPOSED BY",
                                        "APPROVED BY", "ACTIVATED AT", "LIFTED AT"};
    cli_print_list(arr, keys, heads, 9, "");
    json_decref(arr);
    return CLI_OK;
}

/* "key  text" for a JSON value of obj, when it is present and not null. */
static void print_field(const char *indent, const char *label, const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return;
    char *text = cli_json_text(key, v);
    printf("%s%-9s %s\n", indent, label, text);
    free(text);
}

/* Who did what to one version, on one line: "proposed by alice at T,
 * approved by bob at T, lifted by bob at T (reason)". */
static void print_version_events(const json_t *ver)
{
    static const struct {
        const char *what, *by, *at;
    } events[] = {{"proposed", "proposed_by", "proposed_at"},
                  {"approved", "approved_by", "approved_at"},
                  {"lifted", "lifted_by", "lifted_at"}};
    const char *sep = "    ";
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        const char *by = jstr(ver, events[i].by, NULL), *at = jstr(ver, events[i].at, NULL);
        if (by == NULL && at == NULL)
            continue;
        printf("%s%s by %s at %s", sep, events[i].what, by ? by : "-", at ? at : "-");
        sep = ", ";
    }
    const char *reason = jstr(ver, "lift_reason", NULL);
    if (reason)
        printf(" (%s)", reason);
    printf("\n");
}

/* The history of an action: its current state, then every version with
 * who did what and what the version says. */
static void print_action_history(const json_t *obj)
{
    char *state = cli_json_text("state", json_object_get(obj, "state"));
    char *active = cli_json_text("active_version", json_object_get(obj, "active_version"));
    printf("%s  case %s, %s, active version %s\n", jstr(obj, "id", "?"), jstr(obj, "case", "-"),
           state, active);
    free(state);
    free(active);
    size_t i;
    json_t *ver;
    json_array_foreach (json_object_get(obj, "versions"), i, ver) {
        const json_t *doc = json_object_get(ver, "action");
        printf("\nversion %" JSON_INTEGER_FORMAT "  %s\n",
               json_integer_value(json_object_get(ver, "version")), jstr(ver, "state", "?"));
        print_version_events(ver);
        print_field("    ", "scope", doc, "scope");
        print_field("    ", "deny", doc, "deny");
        print_field("    ", "except", doc, "except");
        print_field("    ", "regions", doc, "regions");
        /* Resolved phase times once active, else the phases as written. */
        const json_t *phases = json_object_get(ver, "phases_at");
        if (!json_is_array(phases))
            phases = json_object_get(doc, "phases");
        size_t k;
        json_t *ph;
        json_array_foreach (phases, k, ph) {
            const char *at = jstr(ph, "at", "?");
            printf("    %-9s %s from %s%s\n", k == 0 ? "phases" : "", jstr(ph, "mode", "?"), at,
                   at[0] == '+' ? " after approval" : "");
        }
        print_field("    ", "status", doc, "status");
        const json_t *notice = json_object_get(doc, "notice");
        print_field("    ", "notice", notice, "summary");
        print_field("    ", "terms", notice, "terms");
        print_field("    ", "contact", notice, "contact");
        print_field("    ", "ref", notice, "ref");
    }
}

static int fetch_action(cli_backend *b, const char *id, char **out, cutoff_diag *diag)
{
    return b->ops->action_show(b, id, out, diag);
}

static int action_show(cli *c, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, NULL, pos, 1, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (n_pos != 1)
        return cli_usage(c, "give the action ID");
    json_t *obj;
    rc = cli_fetch(c, fetch_action, pos[0], "no enforcement action \"%s\"", "reading the action",
                   &obj);
    if (rc != CLI_OK || obj == NULL)
        return rc;
    print_action_history(obj);
    json_decref(obj);
    return CLI_OK;
}

/* ---- shadow ------------------------------------------------------------------- */

static json_int_t jint(const json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}

/* A started or stopped run, for people. */
static void shadow_run_print(const json_t *run)
{
    const char *state = jstr(run, "state", "?"), *id = jstr(run, "action", "?");
    printf("%s version %" JSON_INTEGER_FORMAT ": shadow run %" JSON_INTEGER_FORMAT " %s", id,
           jint(run, "version"), jint(run, "run"), state);
    if (strcmp(state, "stopped") == 0)
        printf(" at %s by %s\n", jstr(run, "stopped_at", "?"), jstr(run, "stopped_by", "?"));
    else
        printf(" since %s (started by %s)\n", jstr(run, "started_at", "?"),
               jstr(run, "started_by", "?"));
    if (json_object_get(run, "ended_because"))
        printf("  ended: %s\n", jstr(run, "ended_because", ""));
    if (strcmp(state, "running") == 0)
        printf("  nothing is enforced: every cutoffd counts the requests it would deny, as if "
               "approved at %s\n  report: cutoff action shadow %s report\n",
               jstr(run, "assumed_activation", "?"), id);
}

/* The report, for people: the counts, then what the preview says of them. */
static void shadow_report_print(const json_t *r)
{
    size_t i;
    json_t *v;
    shadow_run_print(r);
    json_t *phases = json_object_get(r, "phases");
    json_array_foreach (phases, i, v) {
        printf("  phase %" JSON_INTEGER_FORMAT "  %-9s from %s\n", jint(v, "phase"),
               jstr(v, "mode", "?"), jstr(v, "at", "?"));
    }
    printf("\n%" JSON_INTEGER_FORMAT " requests allowed live were evaluated; %" JSON_INTEGER_FORMAT
           " would be denied",
           jint(r, "evaluated"), jint(r, "would_deny"));
    if (jint(r, "would_deny") > 0)
        printf(" (first %s, last %s)", jstr(r, "first", "?"), jstr(r, "last", "?"));
    printf("\n\nnodes\n");
    json_array_foreach (json_object_get(r, "nodes"), i, v) {
        if (json_object_get(v, "error"))
            printf("  %-24s unreadable counts: %s\n", jstr(v, "node", "?"), jstr(v, "error", ""));
        else
            printf("  %-24s %8" JSON_INTEGER_FORMAT " would deny of %" JSON_INTEGER_FORMAT
                   " evaluated, reported %s%s\n",
                   jstr(v, "node", "?"), jint(v, "would_deny"), jint(v, "evaluated"),
                   jstr(v, "reported_at", "?"),
                   json_is_true(json_object_get(v, "ended")) ? " (its last report)" : "");
    }
    if (json_array_size(json_object_get(r, "nodes")) == 0)
        printf("  none has reported yet\n");
    printf("\nwould be denied, by action and phase\n");
    json_array_foreach (json_object_get(r, "actions"), i, v) {
        printf("  %-28s phase %" JSON_INTEGER_FORMAT " %-9s %8" JSON_INTEGER_FORMAT,
               jstr(v, "action", "?"), jint(v, "phase"), jstr(v, "mode", "?"),
               jint(v, "would_deny"));
        if (json_object_get(v, "preview_changed"))
            printf("   (preview: %" JSON_INTEGER_FORMAT " subscriptions change)",
                   jint(v, "preview_changed"));
        printf("\n");
    }
    const json_t *subs = json_object_get(r, "subscriptions");
    printf("\nwould be denied, by subscription (%" JSON_INTEGER_FORMAT ")\n", jint(subs, "total"));
    json_array_foreach (json_object_get(subs, "items"), i, v) {
        printf("  %-28s %8" JSON_INTEGER_FORMAT "  ", jstr(v, "subscription", "?"),
               jint(v, "would_deny"));
        size_t k;
        json_t *c;
        json_array_foreach (json_object_get(v, "actions"), k, c) {
            printf("%s%s %" JSON_INTEGER_FORMAT, k ? ", " : "", jstr(c, "action", "?"),
                   jint(c, "would_deny"));
        }
        if (jint(v, "other") > 0)
            printf(", other %" JSON_INTEGER_FORMAT, jint(v, "other"));
        printf("\n");
    }
    const json_t *over = json_object_get(r, "overflow");
    if (jint(over, "subscriptions") || jint(over, "lines"))
        printf("  not itemised (past the bounds): %" JSON_INTEGER_FORMAT
               " requests of further subscriptions, %" JSON_INTEGER_FORMAT
               " of further actions and phases\n",
               jint(over, "subscriptions"), jint(over, "lines"));
    const json_t *pv = json_object_get(r, "preview");
    printf("\nnext to the preview (activation %s)\n", jstr(pv, "activation", "?"));
    if (json_object_get(pv, "error")) {
        printf("  no preview: %s\n", jstr(pv, "error", ""));
    } else {
        const json_t *silent = json_object_get(pv, "silent"),
                     *unforeseen = json_object_get(pv, "unforeseen");
        printf("  %" JSON_INTEGER_FORMAT " subscriptions in scope, %" JSON_INTEGER_FORMAT
               " change; %" JSON_INTEGER_FORMAT " of those sent no request it would deny\n",
               jint(pv, "subscriptions_in_scope"), jint(pv, "subscriptions_changed"),
               jint(silent, "total"));
        json_array_foreach (json_object_get(silent, "subscriptions"), i, v) {
            printf("    %s\n", json_string_value(v));
        }
        if ((json_int_t)json_array_size(json_object_get(silent, "subscriptions")) <
            jint(silent, "total"))
            printf("    ... (--json lists the first 100)\n");
        if (json_object_get(pv, "silent_note"))
            printf("  note: %s\n", jstr(pv, "silent_note", ""));
        printf("  %" JSON_INTEGER_FORMAT " would-be denials the preview did not foresee\n",
               jint(unforeseen, "total"));
        json_array_foreach (json_object_get(unforeseen, "items"), i, v) {
            printf("    %s %s (phase %" JSON_INTEGER_FORMAT "): %" JSON_INTEGER_FORMAT
                   " requests; %s\n",
                   jstr(v, "subscription", "?"), jstr(v, "action", "?"), jint(v, "phase"),
                   jint(v, "would_deny"), jstr(v, "why", ""));
        }
    }
    const json_t *sample = json_object_get(r, "sample");
    if (json_array_size(sample) > 0) {
        printf("\nlatest would-be denials (%zu)\n", json_array_size(sample));
        json_array_foreach (sample, i, v) {
            printf("  %s  %-24s %-24s %-20s %s\n", jstr(v, "at", "?"), jstr(v, "request_id", "?"),
                   jstr(v, "subscription", "?"), jstr(v, "action", "?"), jstr(v, "region", "-"));
        }
    }
}

/* Shadow mode: start and stop need one person (nothing is enforced); the
 * report sums what every cutoffd counted. */
static int action_shadow(cli *c, int argc, char **argv)
{
    char *pos[2];
    int n_pos;
    int rc = cli_parse(c, argc, argv, NULL, pos, 2, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (n_pos != 2 || (strcmp(pos[1], "start") != 0 && strcmp(pos[1], "stop") != 0 &&
                       strcmp(pos[1], "report") != 0))
        return cli_usage(c, "give the action ID and start, stop or report");
    bool report = strcmp(pos[1], "report") == 0;
    if (!report && (rc = cli_check_actor(c)) != CLI_OK)
        return rc;
    cli_backend *b = NULL;
    char *text = NULL;
    json_t *o = NULL;
    cutoff_diag diag = {0};
    if ((rc = cli_backend_open(c, &b)) != CLI_OK)
        return rc;
    int err = b->ops->action_shadow(b, pos[0], pos[1], &text, &diag);
    if (err != 0) {
        rc = cli_fail(err, &diag, pos[0]);
    } else if (c->json) {
        printf("%s\n", text);
        rc = CLI_OK;
    } else if ((o = cli_json_load(text)) == NULL) {
        rc = CLI_FAIL;
    } else {
        if (report)
            shadow_report_print(o);
        else
            shadow_run_print(o);
        rc = CLI_OK;
    }
    json_decref(o);
    free(text);
    cli_backend_close(b);
    return rc;
}

int cli_cmd_action(cli *c, int argc, char **argv)
{
    static const cli_sub subs[] = {{"propose", action_propose}, {"preview", action_preview},
                                   {"shadow", action_shadow},   {"approve", action_approve},
                                   {"lift", action_lift},       {"list", action_list},
                                   {"show", action_show}};
    return cli_run_subcommand(c, argc, argv, subs, sizeof subs / sizeof subs[0],
                              "propose, preview, shadow, approve, lift, list or show");
}
