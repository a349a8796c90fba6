/* SPDX-License-Identifier: Apache-2.0 */
/*
 * action.c - the enforcement action document of docs/design.md: parsing with
 * JSON paths in every message, validation of a spec (shared by the parser
 * and the writer), deep copy into one allocation, and the JSON writer.
 *
 * Phase order. Phases are absolute ("2025-09-25T12:00:00Z", Unix seconds)
 * or relative to activation ("+30d"). Among the absolute phases, and among
 * the relative ones, times must be strictly increasing in document order.
 * A document may mix both kinds; how an absolute phase falls between
 * relative ones then depends on when the action is activated, so the two
 * kinds are only checked among themselves and the engine orders the
 * resolved times.
 */
#include "format/format_int.h"

#include <limits.h>
#include <stdalign.h>
#include <stdio.h>
#include <string.h>

static const char *const top_keys[] = {"id",      "case",         "scope",  "deny",   "except",
                                       "regions", "phases",       "status", "notice", "state",
                                       "version", "activated_at", NULL};
static const char *const phase_keys[] = {"at", "mode", NULL};
static const char *const notice_keys[] = {"summary", "terms", "contact", "ref", NULL};

#define ID_RULE "1-128 bytes of A-Z a-z 0-9 . _ : -"
#define TIME_RULE "RFC 3339 (2025-09-25T12:00:00Z), Unix seconds, or +N[smhd] after activation"

/* ---- layout ------------------------------------------------------------------- */

static void action_layout(co__block *b, const cutoff_action_spec *a, cutoff_action_spec **out)
{
    cutoff_action_spec *h = co__block_take(b, sizeof *h, alignof(cutoff_action_spec));
    cutoff_phase_spec *phases = NULL;
    if (a->n_phases <= SIZE_MAX / sizeof *phases)
        phases = co__block_take(b, a->n_phases * sizeof *phases, alignof(cutoff_phase_spec));
    else
        b->overflow = true;
    const char *const *scope = co__block_strv(b, a->scope, a->n_scope);
    const char *const *deny = co__block_strv(b, a->deny, a->n_deny);
    const char *const *except = co__block_strv(b, a->except, a->n_except);
    const char *const *regions = co__block_strv(b, a->regions, a->n_regions);
    const char *id = co__block_str(b, a->id);
    const char *case_id = co__block_str(b, a->case_id);
    const char *summary = co__block_str(b, a->notice.summary);
    const char *terms = co__block_str(b, a->notice.terms);
    const char *contact = co__block_str(b, a->notice.contact);
    const char *ref = co__block_str(b, a->notice.ref);
    if (h == NULL)
        return;
    *h = *a; /* counts, status, lifecycle */
    if (a->n_phases)
        memcpy(phases, a->phases, a->n_phases * sizeof *phases);
    h->phases = a->n_phases ? phases : NULL;
    h->scope = scope;
    h->deny = deny;
    h->except = except;
    h->regions = regions;
    h->id = id;
    h->case_id = case_id;
    h->notice.summary = summary;
    h->notice.terms = terms;
    h->notice.contact = contact;
    h->notice.ref = ref;
    *out = h;
}

int cutoff_action_copy(const cutoff_action_spec *a, cutoff_action_spec **out)
{
    if (a == NULL || out == NULL)
        return CUTOFF_EINVAL;
    *out = NULL;
    if ((a->n_scope && !a->scope) || (a->n_deny && !a->deny) || (a->n_except && !a->except) ||
        (a->n_regions && !a->regions) || (a->n_phases && !a->phases))
        return CUTOFF_EINVAL;
    co__block b = {0};
    cutoff_action_spec *copy = NULL;
    action_layout(&b, a, &copy);
    int rc = co__block_alloc(&b);
    if (rc != 0)
        return rc;
    action_layout(&b, a, &copy);
    *out = copy;
    return 0;
}

void cutoff_action_free(cutoff_action_spec *a)
{
    co__free(a); /* one block: see action_layout */
}

/* ---- validation ---------------------------------------------------------------- */

enum entry_kind { ENTRY_ID, ENTRY_PATTERN, ENTRY_REGION };

/* One string list of the document: present when required, within limits,
 * each entry well formed, no entry twice. */
static int check_list(const char *key, const char *const *v, size_t n, enum entry_kind kind,
                      bool required, cutoff_diag *diag)
{
    char q[96];
    if (n == 0 && required)
        return co__diag(diag, CUTOFF_EPARSE, "%s: empty; name at least one %s", key,
                        kind == ENTRY_ID ? "node" : "pattern (like \"storage.*\")");
    if (n > CO__LIST_MAX)
        return co__diag(diag, CUTOFF_ELIMIT, "%s: %zu entries is too many; at most %d", key, n,
                        CO__LIST_MAX);
    if (n > 0 && v == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "%s: a count but no entries", key);
    co__nameset seen = {0};
    int rc = co__nameset_init(&seen, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *s = v[i];
        size_t first;
        if (s == NULL) {
            rc = co__diag(diag, CUTOFF_EINVAL, "%s[%zu]: no value", key, i);
        } else if (kind == ENTRY_ID && !cutoff_id_valid(s)) {
            rc = co__diag(diag, CUTOFF_EPARSE, "%s[%zu]: \"%s\" is not a node id; use " ID_RULE,
                          key, i, co__text(s, q, sizeof q));
        } else if (kind == ENTRY_PATTERN && cutoff_pattern_check(s, NULL) != 0) {
            rc = co__diag(diag, CUTOFF_EPARSE,
                          "%s[%zu]: \"%s\" is not a pattern; use \"*\", \"SERVICE.*\" or "
                          "\"SERVICE.ACTION\" (names of A-Z a-z 0-9 _ : -)",
                          key, i, co__text(s, q, sizeof q));
        } else if (kind == ENTRY_REGION && strcmp(s, "*") == 0) {
            rc = co__diag(diag, CUTOFF_EPARSE,
                          "%s[%zu]: \"*\" means every region and must stand alone", key, i);
        } else if (kind == ENTRY_REGION && !co__region_pattern_valid(s)) {
            rc = co__diag(diag, CUTOFF_EPARSE,
                          "%s[%zu]: \"%s\" is not a region; use a region id (" ID_RULE
                          ") or a prefix ending in * (\"eu-*\")",
                          key, i, co__text(s, q, sizeof q));
        } else if (co__nameset_add(&seen, s, strlen(s), i, &first)) {
            rc = co__diag(diag, CUTOFF_EPARSE, "%s[%zu]: \"%s\" is listed twice (first at %s[%zu])",
                          key, i, co__text(s, q, sizeof q), key, first);
        }
    }
    co__nameset_free(&seen);
    return rc;
}

/* "+30d", "+12h", "+15m", "+3s", "+0": the largest unit that divides. */
static void offset_text(int64_t secs, char buf[32])
{
    static const struct {
        int64_t unit;
        char name;
    } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}};
    if (secs == 0) {
        strcpy(buf, "+0");
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (secs % units[i].unit == 0) {
            snprintf(buf, 32, "+%lld%c", (long long)(secs / units[i].unit), units[i].name);
            return;
        }
    }
    snprintf(buf, 32, "+%llds", (long long)secs);
}

static void phase_time_text(const cutoff_phase_spec *p, char buf[32])
{
    if (p->relative)
        offset_text(p->at, buf);
    else
        cutoff_time_format(p->at, buf);
}

static int check_phases(const cutoff_action_spec *a, cutoff_diag *diag)
{
    char t1[32], t2[32];
    if (a->n_phases == 0)
        return co__diag(diag, CUTOFF_EPARSE,
                        "phases: empty; give at least one {\"at\": TIME, \"mode\": \"read-only\"}");
    if (a->n_phases > CO__PHASES_MAX)
        return co__diag(diag, CUTOFF_ELIMIT, "phases: %zu phases is too many; at most %d",
                        a->n_phases, CO__PHASES_MAX);
    if (a->phases == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "phases: a count but no entries");
    size_t last[2] = {SIZE_MAX, SIZE_MAX}; /* last absolute, last relative phase */
    for (size_t i = 0; i < a->n_phases; i++) {
        const cutoff_phase_spec *p = &a->phases[i];
        if (p->mode != CUTOFF_MODE_OFF && p->mode != CUTOFF_MODE_READ_ONLY &&
            p->mode != CUTOFF_MODE_SUSPEND)
            return co__diag(
                diag, CUTOFF_EPARSE,
                "phases[%zu].mode: not a mode; use \"read-only\", \"suspend\" or \"off\"", i);
        if (p->relative != 0 && p->relative != 1)
            return co__diag(diag, CUTOFF_EINVAL, "phases[%zu]: relative is neither 0 nor 1", i);
        if (p->relative && (p->at < 0 || p->at > CO__OFFSET_MAX))
            return co__diag(
                diag, CUTOFF_EPARSE,
                "phases[%zu].at: %lld seconds after activation is out of range; use +0 to +36500d",
                i, (long long)p->at);
        if (!p->relative && (p->at < CO__TIME_MIN || p->at > CO__TIME_MAX))
            return co__diag(diag, CUTOFF_EPARSE,
                            "phases[%zu].at: %lld is out of range; times lie between "
                            "1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z",
                            i, (long long)p->at);
        size_t *prev = &last[p->relative];
        if (*prev != SIZE_MAX && a->phases[*prev].at >= p->at) {
            phase_time_text(p, t1);
            phase_time_text(&a->phases[*prev], t2);
            return co__diag(
                diag, CUTOFF_EPARSE,
                "phases[%zu].at: %s is not after phases[%zu].at (%s); phases must be in time order",
                i, t1, *prev, t2);
        }
        *prev = i;
    }
    return 0;
}

/* A notice field: present when required, not empty when required, within
 * the size limit, valid UTF-8 (the parser guarantees it; code may not). */
static int check_text(const char *key, const char *s, bool required, cutoff_diag *diag)
{
    if (s == NULL)
        return required ? co__diag(diag, CUTOFF_EPARSE, "notice: missing \"%s\"", key) : 0;
    size_t n = strlen(s);
    if (required && n == 0)
        return co__diag(diag, CUTOFF_EPARSE,
                        "notice.%s: empty; tell the customer why service stops", key);
    if (n > CO__TEXT_MAX)
        return co__diag(diag, CUTOFF_ELIMIT,
                        "notice.%s: %zu bytes is too long; at most %d are allowed", key, n,
                        CO__TEXT_MAX);
    if (!co__utf8_valid(s))
        return co__diag(diag, CUTOFF_EPARSE, "notice.%s: not valid UTF-8", key);
    return 0;
}

int co__action_validate(const cutoff_action_spec *a, cutoff_diag *diag)
{
    char q[96];
    if (a == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no action");
    if (a->id != NULL && !cutoff_id_valid(a->id))
        return co__diag(diag, CUTOFF_EPARSE, "id: \"%s\" is not an action id; use " ID_RULE,
                        co__text(a->id, q, sizeof q));
    if (a->case_id == NULL)
        return co__diag(diag, CUTOFF_EPARSE, "missing \"case\": every action belongs to a case");
    if (!cutoff_id_valid(a->case_id))
        return co__diag(diag, CUTOFF_EPARSE, "case: \"%s\" is not a case id; use " ID_RULE,
                        co__text(a->case_id, q, sizeof q));
    int rc = check_list("scope", a->scope, a->n_scope, ENTRY_ID, true, diag);
    if (rc == 0)
        rc = check_list("deny", a->deny, a->n_deny, ENTRY_PATTERN, true, diag);
    if (rc == 0)
        rc = check_list("except", a->except, a->n_except, ENTRY_PATTERN, false, diag);
    if (rc == 0)
        rc = check_list("regions", a->regions, a->n_regions, ENTRY_REGION, false, diag);
    if (rc == 0)
        rc = check_phases(a, diag);
    if (rc == 0 && a->status != 403 && a->status != 451)
        rc = co__diag(diag, CUTOFF_EPARSE, "status: %d is not allowed; use 403 or 451", a->status);
    if (rc == 0)
        rc = check_text("summary", a->notice.summary, true, diag);
    if (rc == 0)
        rc = check_text("terms", a->notice.terms, false, diag);
    if (rc == 0)
        rc = check_text("contact", a->notice.contact, false, diag);
    if (rc == 0)
        rc = check_text("ref", a->notice.ref, false, diag);
    if (rc == 0 && (a->state < CUTOFF_STATE_DRAFT || a->state > CUTOFF_STATE_SUPERSEDED))
        rc = co__diag(diag, CUTOFF_EPARSE, "state: %d is not a state", (int)a->state);
    if (rc == 0 && a->version < 0)
        rc = co__diag(diag, CUTOFF_EPARSE, "version: %d is negative", a->version);
    if (rc == 0 && a->activated_at != 0 &&
        (a->activated_at < CO__TIME_MIN || a->activated_at > CO__TIME_MAX))
        rc = co__diag(diag, CUTOFF_EPARSE, "activated_at: %lld is out of range",
                      (long long)a->activated_at);
    if (rc == CUTOFF_ENOMEM)
        co__diag(diag, rc, "out of memory");
    return rc;
}

/* What a new document may bring in beyond what the spec validator
 * checks: notice text a reader sees as it is, and a ref that can stand in
 * an HTTP header (see CO__ACTION_STORED). */
static int check_input(const cutoff_action_spec *a, cutoff_diag *diag)
{
    static const char *const keys[] = {"notice.summary", "notice.terms", "notice.contact"};
    const char *const text[] = {a->notice.summary, a->notice.terms, a->notice.contact};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (co__text_check(text[i], 0, CO__TEXT_OPTIONAL, keys[i], diag) != 0) {
            if (diag)
                diag->code = CUTOFF_EPARSE;
            return CUTOFF_EPARSE;
        }
    if (a->notice.ref && a->notice.ref[0] && cutoff_notice_url_check(a->notice.ref, diag) != 0) {
        co__diag_prefix(diag, "notice.ref: ");
        return CUTOFF_EPARSE;
    }
    return 0;
}

/* ---- parsing ------------------------------------------------------------------------ */

/* A string list member: absent (when allowed) or an array of strings of at
 * most CO__LIST_MAX entries, borrowed into v[0..*n). */
static int read_list(const json_t *root, const char *key, int flags, const char **v, size_t *n,
                     cutoff_diag *diag)
{
    char path[64];
    json_t *arr;
    *n = 0;
    int rc = co__json_get_array(root, "", key, flags, &arr, diag);
    if (rc != 0 || arr == NULL)
        return rc;
    size_t count = json_array_size(arr);
    if (count > CO__LIST_MAX)
        return co__diag(diag, CUTOFF_ELIMIT, "%s: %zu entries is too many; at most %d", key, count,
                        CO__LIST_MAX);
    for (size_t i = 0; i < count; i++) {
        json_t *s = json_array_get(arr, i);
        if (!json_is_string(s))
            return co__json_type_error(diag, co__path_index(path, sizeof path, key, i), "a string",
                                       s);
        v[i] = json_string_value(s);
    }
    *n = count;
    return 0;
}

/* A time of the document: RFC 3339 or Unix seconds as a string or an
 * integer, or "+N[smhd]" relative to activation (only when relative != NULL). */
static int read_time(const json_t *v, const char *path, int64_t *at, int *relative,
                     cutoff_diag *diag)
{
    char q[96];
    if (relative)
        *relative = 0;
    if (json_is_integer(v)) {
        *at = json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return co__json_type_error(diag, path, "a time string or Unix seconds", v);
    const char *s = json_string_value(v);
    /* the time grammars are short ASCII: say so here rather than quote
     * arbitrary text through their messages */
    size_t n = strlen(s);
    bool ascii = n > 0 && n <= 64;
    for (size_t i = 0; ascii && i < n; i++)
        ascii = s[i] >= 0x20 && s[i] < 0x7f; /* not isprint: no locale here */
    if (!ascii)
        return co__diag(diag, CUTOFF_EPARSE, "%s: \"%s\" is not a time; use %s", path,
                        co__text(s, q, sizeof q),
                        relative ? TIME_RULE : "RFC 3339 (2025-09-25T12:00:00Z) or Unix seconds");
    int rc;
    if (s[0] == '+' && relative) {
        rc = cutoff_offset_parse(s, at, diag);
        *relative = 1;
    } else {
        rc = cutoff_time_parse(s, at, diag);
    }
    if (rc != 0)
        co__diag_prefix(diag, "%s: ", path);
    return rc;
}

static int read_phase(const json_t *ph, size_t i, cutoff_phase_spec *out, cutoff_diag *diag)
{
    char path[48], at_path[64], q[96];
    const char *mode;
    co__path_index(path, sizeof path, "phases", i);
    if (!json_is_object(ph))
        return co__json_type_error(diag, path,
                                   "an object like {\"at\": TIME, \"mode\": \"suspend\"}", ph);
    int rc = co__json_check_keys(ph, path, phase_keys, diag);
    if (rc != 0)
        return rc;
    json_t *at = json_object_get(ph, "at");
    if (at == NULL)
        return co__diag(diag, CUTOFF_EPARSE, "%s: missing \"at\" (%s)", path, TIME_RULE);
    rc = read_time(at, co__path_key(at_path, sizeof at_path, path, "at"), &out->at, &out->relative,
                   diag);
    if (rc == 0)
        rc = co__json_get_string(ph, path, "mode", CO__REQUIRED, 0, &mode, diag);
    if (rc != 0)
        return rc;
    if (strcmp(mode, "read-only") == 0)
        out->mode = CUTOFF_MODE_READ_ONLY;
    else if (strcmp(mode, "suspend") == 0)
        out->mode = CUTOFF_MODE_SUSPEND;
    else if (strcmp(mode, "off") == 0)
        out->mode = CUTOFF_MODE_OFF;
    else
        return co__diag(diag, CUTOFF_EPARSE,
                        "%s.mode: \"%s\" is not a mode; use \"read-only\", \"suspend\" or \"off\"",
                        path, co__text(mode, q, sizeof q));
    return 0;
}

static int read_notice(const json_t *root, cutoff_notice_spec *n, cutoff_diag *diag)
{
    json_t *obj = json_object_get(root, "notice");
    if (obj == NULL)
        return co__diag(diag, CUTOFF_EPARSE,
                        "missing \"notice\": every action tells the customer why, "
                        "{\"summary\": ..., \"terms\": ..., \"contact\": ..., \"ref\": ...}");
    if (!json_is_object(obj))
        return co__json_type_error(diag, "notice", "an object", obj);
    int rc = co__json_check_keys(obj, "notice", notice_keys, diag);
    if (rc == 0)
        rc = co__json_get_string(obj, "notice", "summary", CO__REQUIRED, CO__TEXT_MAX, &n->summary,
                                 diag);
    if (rc == 0)
        rc = co__json_get_string(obj, "notice", "terms", CO__NULLABLE, CO__TEXT_MAX, &n->terms,
                                 diag);
    if (rc == 0)
        rc = co__json_get_string(obj, "notice", "contact", CO__NULLABLE, CO__TEXT_MAX, &n->contact,
                                 diag);
    if (rc == 0)
        rc = co__json_get_string(obj, "notice", "ref", CO__NULLABLE, CO__TEXT_MAX, &n->ref, diag);
    return rc;
}

/* "state", "version", "activated_at": syntax always checked, values kept
 * only when asked for. */
static int read_lifecycle(const json_t *root, bool keep, cutoff_action_spec *a, cutoff_diag *diag)
{
    char q[96];
    const char *state;
    int rc = co__json_get_string(root, "", "state", CO__OPTIONAL, 0, &state, diag);
    if (rc != 0)
        return rc;
    if (state) {
        cutoff_action_state s;
        for (s = CUTOFF_STATE_DRAFT; s <= CUTOFF_STATE_SUPERSEDED; s++)
            if (strcmp(state, cutoff_action_state_name(s)) == 0)
                break;
        if (s > CUTOFF_STATE_SUPERSEDED)
            return co__diag(
                diag, CUTOFF_EPARSE,
                "state: \"%s\" is not a state; use draft, active, lifted, expired or superseded",
                co__text(state, q, sizeof q));
        if (keep)
            a->state = s;
    }
    json_t *v = json_object_get(root, "version");
    if (v) {
        if (!json_is_integer(v))
            return co__json_type_error(diag, "version", "an integer", v);
        json_int_t n = json_integer_value(v);
        if (n < 0 || n > INT_MAX)
            return co__diag(diag, CUTOFF_EPARSE, "version: %lld is out of range (0 to %d)",
                            (long long)n, INT_MAX);
        if (keep)
            a->version = (int)n;
    }
    v = json_object_get(root, "activated_at");
    if (v && !json_is_null(v)) {
        int64_t t;
        rc = read_time(v, "activated_at", &t, NULL, diag);
        if (rc != 0)
            return rc;
        if (keep)
            a->activated_at = t;
    }
    return 0;
}

static int read_status(const json_t *root, int *status, cutoff_diag *diag)
{
    json_t *v = json_object_get(root, "status");
    *status = 403;
    if (v == NULL)
        return 0;
    if (!json_is_integer(v))
        return co__json_type_error(diag, "status", "403 or 451", v);
    json_int_t n = json_integer_value(v);
    if (n != 403 && n != 451)
        return co__diag(diag, CUTOFF_EPARSE, "status: %lld is not allowed; use 403 or 451",
                        (long long)n);
    *status = (int)n;
    return 0;
}

int co__action_parse_ex(const char *json, size_t len, unsigned flags, cutoff_action_spec **out,
                        cutoff_diag *diag)
{
    json_t *root = NULL, *phases;
    const char **lists = NULL;
    cutoff_phase_spec *phase_v = NULL;
    cutoff_action_spec a = {.state = CUTOFF_STATE_DRAFT};
    int rc;

    co__diag_clear(diag);
    if (out == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no place for the result");
    *out = NULL;
    rc = co__json_load_object(json, len, &root, diag);
    if (rc == 0)
        rc = co__json_check_keys(root, "", top_keys, diag);
    if (rc == 0)
        rc = co__json_get_string(root, "", "id", CO__NULLABLE, 0, &a.id, diag);
    if (rc == 0)
        rc = co__json_get_string(root, "", "case", CO__REQUIRED, 0, &a.case_id, diag);
    if (rc == 0)
        rc = co__json_get_array(root, "", "phases", CO__REQUIRED, &phases, diag);
    if (rc != 0)
        goto done;

    /* one scratch vector for the four lists, each at most CO__LIST_MAX */
    lists = co__calloc(4 * (size_t)CO__LIST_MAX, sizeof *lists);
    size_t n_phases = json_array_size(phases);
    if (n_phases > CO__PHASES_MAX) {
        rc = co__diag(diag, CUTOFF_ELIMIT, "phases: %zu phases is too many; at most %d", n_phases,
                      CO__PHASES_MAX);
        goto done;
    }
    phase_v = co__calloc(n_phases, sizeof *phase_v);
    if (lists == NULL || phase_v == NULL) {
        rc = CUTOFF_ENOMEM;
        goto done;
    }
    rc = read_list(root, "scope", CO__REQUIRED, lists, &a.n_scope, diag);
    if (rc == 0)
        rc = read_list(root, "deny", CO__REQUIRED, lists + CO__LIST_MAX, &a.n_deny, diag);
    if (rc == 0)
        rc = read_list(root, "except", CO__OPTIONAL, lists + 2 * CO__LIST_MAX, &a.n_except, diag);
    if (rc == 0)
        rc = read_list(root, "regions", CO__OPTIONAL, lists + 3 * CO__LIST_MAX, &a.n_regions, diag);
    for (size_t i = 0; rc == 0 && i < n_phases; i++)
        rc = read_phase(json_array_get(phases, i), i, &phase_v[i], diag);
    if (rc == 0)
        rc = read_status(root, &a.status, diag);
    if (rc == 0)
        rc = read_notice(root, &a.notice, diag);
    if (rc == 0)
        rc = read_lifecycle(root, flags & CO__ACTION_KEEP_LIFECYCLE, &a, diag);
    if (rc != 0)
        goto done;

    a.scope = lists;
    a.deny = lists + CO__LIST_MAX;
    a.except = lists + 2 * CO__LIST_MAX;
    a.regions = lists + 3 * CO__LIST_MAX;
    if (a.n_regions == 1 && strcmp(a.regions[0], "*") == 0)
        a.n_regions = 0; /* ["*"]: every region, as when absent */
    else if (json_object_get(root, "regions") && a.n_regions == 0) {
        rc = co__diag(diag, CUTOFF_EPARSE,
                      "regions: empty; leave it out or use [\"*\"] for every region");
        goto done;
    }
    a.phases = phase_v;
    a.n_phases = n_phases;
    rc = co__action_validate(&a, diag);
    if (rc == 0 && !(flags & CO__ACTION_STORED))
        rc = check_input(&a, diag);
    if (rc == 0)
        rc = cutoff_action_copy(&a, out);
done:
    if (rc == CUTOFF_ENOMEM)
        co__diag(diag, rc, "out of memory while reading the action");
    co__free(lists);
    co__free(phase_v);
    json_decref(root);
    return rc;
}

int cutoff_action_parse(const char *json, size_t len, cutoff_action_spec **out, cutoff_diag *diag)
{
    return co__action_parse_ex(json, len, 0, out, diag);
}

/* ---- writing --------------------------------------------------------------------------- */

static json_t *phases_json(const cutoff_action_spec *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < a->n_phases; i++) {
        char at[32];
        json_t *ph = json_object();
        phase_time_text(&a->phases[i], at);
        if (co__json_push(arr, ph) != 0 || co__json_put(ph, "at", co__json_str(at)) != 0 ||
            co__json_put(ph, "mode", co__json_str(cutoff_mode_name(a->phases[i].mode))) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *notice_json(const cutoff_notice_spec *n)
{
    json_t *obj = json_object();
    int ok = obj && co__json_put(obj, "summary", co__json_str(n->summary)) == 0 &&
             (!n->terms || co__json_put(obj, "terms", co__json_str(n->terms)) == 0) &&
             (!n->contact || co__json_put(obj, "contact", co__json_str(n->contact)) == 0) &&
             (!n->ref || co__json_put(obj, "ref", co__json_str(n->ref)) == 0);
    if (!ok) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

int cutoff_action_to_json(const cutoff_action_spec *a, char **out)
{
    if (out == NULL)
        return CUTOFF_EINVAL;
    *out = NULL;
    int rc = co__action_validate(a, NULL);
    if (rc != 0)
        return rc == CUTOFF_ENOMEM ? rc : CUTOFF_EINVAL;

    co__json_init();
    static const char *const every_region[] = {"*"};
    char activated[32];
    json_t *root = json_object();
    int ok =
        root != NULL && (!a->id || co__json_put(root, "id", co__json_str(a->id)) == 0) &&
        co__json_put(root, "case", co__json_str(a->case_id)) == 0 &&
        co__json_put(root, "scope", co__json_str_array(a->scope, a->n_scope)) == 0 &&
        co__json_put(root, "deny", co__json_str_array(a->deny, a->n_deny)) == 0 &&
        co__json_put(root, "except", co__json_str_array(a->except, a->n_except)) == 0 &&
        co__json_put(root, "regions",
                     a->n_regions ? co__json_str_array(a->regions, a->n_regions)
                                  : co__json_str_array(every_region, 1)) == 0 &&
        co__json_put(root, "phases", phases_json(a)) == 0 &&
        co__json_put(root, "status", json_integer(a->status)) == 0 &&
        co__json_put(root, "notice", notice_json(&a->notice)) == 0 &&
        co__json_put(root, "state", co__json_str(cutoff_action_state_name(a->state))) == 0 &&
        co__json_put(root, "version", json_integer(a->version)) == 0 &&
        co__json_put(root, "activated_at",
                     a->activated_at ? co__json_str(cutoff_time_format(a->activated_at, activated))
                                     : json_null()) == 0;
    if (!ok) {
        json_decref(root);
        return CUTOFF_ENOMEM;
    }
    return co__json_dump(root, out);
}
