/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notice.c - the signed notice to the customer (docs/design.md, "Notices").
 * A notice is a JSON object of fixed members; what is signed is its
 * canonical text (CO__JSON_CANONICAL: compact, keys sorted), so a
 * verifier re-dumps the object it parsed the same way and checks the
 * Ed25519 signature over those bytes. The signed document is
 *
 *   {"notice": {...}, "signature": {"alg": "ed25519", "key": "ed25519:...",
 *                                   "value": "BASE64"} | null}
 *
 * Built here (for the database, which issues notices), verified here (for
 * anyone holding the public key), and laid out as a letter here.
 */
#include "format/format_int.h"

#include <string.h>

/* ---- building --------------------------------------------------------- */

static json_t *time_text(int64_t t)
{
    char buf[32];
    return t == 0 || t == CUTOFF_TIME_NEVER ? json_null()
                                            : co__json_str(cutoff_time_format(t, buf));
}

/* The phases with absolute times: relative ones resolved against the
 * activation, each until the next one starts (null for the last). */
static json_t *phases_json(const cutoff_action_spec *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < a->n_phases; i++) {
        int64_t until = i + 1 < a->n_phases ? cutoff_phase_start(a, i + 1, 0) : CUTOFF_TIME_NEVER;
        json_t *p = json_object();
        bool filled =
            p != NULL && co__json_put(p, "from", time_text(cutoff_phase_start(a, i, 0))) == 0 &&
            co__json_put(p, "until", time_text(until)) == 0 &&
            co__json_put(p, "mode", co__json_str(cutoff_mode_name(a->phases[i].mode))) == 0;
        if (!filled)
            json_decref(p);
        if (!filled || co__json_push(arr, p) != 0) { /* push takes p, also when it fails */
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

int co__notice_body(const co__notice_facts *f, char **out)
{
    *out = NULL;
    co__json_init();
    const cutoff_action_spec *a = f->action;
    if (a == NULL || a->id == NULL || f->reason == NULL || f->audit_hash == NULL)
        return CUTOFF_EINVAL;
    static const char *const every_region[] = {"*"};
    json_t *n = json_object(), *kase = json_object(), *audit = json_object();
    bool ok = n && kase && audit &&
              co__json_put(kase, "id", co__json_str_or_null(a->case_id)) == 0 &&
              co__json_put(kase, "open", json_boolean(f->case_open)) == 0 &&
              co__json_put(audit, "seq", json_integer((json_int_t)f->audit_seq)) == 0 &&
              co__json_put(audit, "hash", co__json_str(f->audit_hash)) == 0;
    if (ok) {
        /* co__json_put takes the reference also when it fails. */
        int bad = co__json_put(n, "case", kase);
        bad |= co__json_put(n, "audit", audit);
        kase = audit = NULL;
        ok = bad == 0 && co__json_put(n, "format", co__json_str(CUTOFF_NOTICE_FORMAT)) == 0 &&
             co__json_put(n, "enforcement_action", co__json_str(a->id)) == 0 &&
             co__json_put(n, "action_version", json_integer(a->version)) == 0 &&
             co__json_put(n, "notice_version", json_integer((json_int_t)f->notice_version)) == 0 &&
             co__json_put(n, "issued_for", co__json_str(f->reason)) == 0 &&
             co__json_put(n, "issued_at", time_text(f->issued_at)) == 0 &&
             co__json_put(n, "state", co__json_str(cutoff_action_state_name(a->state))) == 0 &&
             co__json_put(n, "activated_at", time_text(a->activated_at)) == 0 &&
             co__json_put(n, "lifted_at", time_text(f->lifted_at)) == 0 &&
             co__json_put(n, "status", json_integer(a->status)) == 0 &&
             co__json_put(n, "scope", co__json_str_array(a->scope, a->n_scope)) == 0 &&
             co__json_put(n, "deny", co__json_str_array(a->deny, a->n_deny)) == 0 &&
             co__json_put(n, "except", co__json_str_array(a->except, a->n_except)) == 0 &&
             co__json_put(n, "regions",
                          a->n_regions ? co__json_str_array(a->regions, a->n_regions)
                                       : co__json_str_array(every_region, 1)) == 0 &&
             co__json_put(n, "phases", phases_json(a)) == 0 &&
             co__json_put(n, "summary", co__json_str_or_null(a->notice.summary)) == 0 &&
             co__json_put(n, "terms", co__json_str_or_null(a->notice.terms)) == 0 &&
             co__json_put(n, "contact", co__json_str_or_null(a->notice.contact)) == 0 &&
             co__json_put(n, "ref", co__json_str_or_null(a->notice.ref)) == 0;
    }
    json_decref(kase);
    json_decref(audit);
    *out = ok ? json_dumps(n, CO__JSON_CANONICAL) : NULL;
    json_decref(n);
    return *out ? 0 : CUTOFF_ENOMEM;
}

int co__notice_sign(const cutoff_key *key, const char *body, char **signature_json)
{
    *signature_json = NULL;
    char value[CUTOFF_SIGNATURE_TEXT_MAX];
    if (key == NULL || body == NULL || cutoff_key_sign(key, body, strlen(body), value) != 0)
        return CUTOFF_EINVAL;
    co__json_init();
    json_t *s =
        json_pack("{s:s,s:s,s:s}", "alg", "ed25519", "key", cutoff_key_public(key), "value", value);
    *signature_json = s ? json_dumps(s, CO__JSON_CANONICAL) : NULL;
    json_decref(s);
    return *signature_json ? 0 : CUTOFF_ENOMEM;
}

int co__notice_parse_stored(const char *text, json_t **out)
{
    json_error_t je;
    bool nomem = false;
    *out = co__json_parse(text, strlen(text), &je, &nomem);
    if (*out != NULL && json_is_object(*out))
        return 0;
    json_decref(*out);
    *out = NULL;
    return nomem ? CUTOFF_ENOMEM : CUTOFF_ESTORE;
}

int co__notice_document_value(const char *body, const char *signature_json, json_t **out)
{
    json_t *n = NULL, *s = NULL;
    *out = NULL;
    int rc = co__notice_parse_stored(body, &n);
    if (rc == 0)
        rc = signature_json ? co__notice_parse_stored(signature_json, &s)
                            : ((s = json_null()) ? 0 : CUTOFF_ENOMEM);
    if (rc != 0) {
        json_decref(n);
        return rc;
    }
    json_t *doc = json_object();
    /* co__json_put takes the reference also when it fails (doc NULL too). */
    int bad = co__json_put(doc, "notice", n);
    bad |= co__json_put(doc, "signature", s);
    if (bad) {
        json_decref(doc);
        return CUTOFF_ENOMEM;
    }
    *out = doc;
    return 0;
}

int co__notice_document(const char *body, const char *signature_json, char **out)
{
    json_t *doc = NULL;
    *out = NULL;
    int rc = co__notice_document_value(body, signature_json, &doc);
    if (rc != 0)
        return rc;
    *out = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(doc);
    return *out ? 0 : CUTOFF_ENOMEM;
}

/* ---- checking --------------------------------------------------------- */

enum kind { K_STR, K_STR_NULL, K_TIME, K_TIME_NULL, K_INT, K_STRS, K_PHASES, K_CASE, K_AUDIT };

/* clang-format off */
static const struct member {
    const char *key;
    enum kind kind;
} members[] = {
    {"format", K_STR},        {"enforcement_action", K_STR}, {"action_version", K_INT},
    {"notice_version", K_INT}, {"issued_for", K_STR},        {"issued_at", K_TIME},
    {"state", K_STR},          {"activated_at", K_TIME_NULL}, {"lifted_at", K_TIME_NULL},
    {"status", K_INT},         {"scope", K_STRS},            {"deny", K_STRS},
    {"except", K_STRS},        {"regions", K_STRS},          {"phases", K_PHASES},
    {"summary", K_STR},        {"terms", K_STR_NULL},        {"contact", K_STR_NULL},
    {"ref", K_STR_NULL},       {"case", K_CASE},             {"audit", K_AUDIT},
};
/* clang-format on */
#define N_MEMBERS (sizeof members / sizeof members[0])

static bool is_time(const json_t *v)
{
    int64_t t;
    return json_is_string(v) && cutoff_time_parse(json_string_value(v), &t, NULL) == 0;
}

static bool strings(const json_t *v)
{
    size_t i;
    json_t *e;
    if (!json_is_array(v))
        return false;
    json_array_foreach (v, i, e)
        if (!json_is_string(e))
            return false;
    return true;
}

static bool has_only(const json_t *o, size_t n)
{
    return json_is_object(o) && json_object_size(o) == n;
}

static bool mode_ok(const json_t *v)
{
    const char *m = json_string_value(v);
    return m && (strcmp(m, "off") == 0 || strcmp(m, "read-only") == 0 || strcmp(m, "suspend") == 0);
}

static bool phases_ok(const json_t *v)
{
    size_t i;
    json_t *p;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return false;
    json_array_foreach (v, i, p) {
        json_t *until = json_object_get(p, "until");
        if (!has_only(p, 3) || !is_time(json_object_get(p, "from")) ||
            !mode_ok(json_object_get(p, "mode")) || until == NULL ||
            !(json_is_null(until) || is_time(until)))
            return false;
    }
    return true;
}

static bool member_ok(const json_t *v, enum kind kind)
{
    switch (kind) {
    case K_STR: return json_is_string(v);
    case K_STR_NULL: return json_is_string(v) || json_is_null(v);
    case K_TIME: return is_time(v);
    case K_TIME_NULL: return json_is_null(v) || is_time(v);
    case K_INT: return json_is_integer(v) && json_integer_value(v) >= 1;
    case K_STRS: return strings(v);
    case K_PHASES: return phases_ok(v);
    case K_CASE:
        return has_only(v, 2) && json_is_boolean(json_object_get(v, "open")) &&
               (json_is_string(json_object_get(v, "id")) || json_is_null(json_object_get(v, "id")));
    case K_AUDIT:
        return has_only(v, 2) && json_is_integer(json_object_get(v, "seq")) &&
               json_is_string(json_object_get(v, "hash"));
    }
    return false;
}

static const char *kind_text(enum kind kind)
{
    switch (kind) {
    case K_STR: return "a string";
    case K_STR_NULL: return "a string or null";
    case K_TIME: return "an RFC 3339 time";
    case K_TIME_NULL: return "an RFC 3339 time or null";
    case K_INT: return "an integer of at least 1";
    case K_STRS: return "an array of strings";
    case K_PHASES:
        return "a non-empty array of {from, until, mode} (mode off, read-only or suspend)";
    case K_CASE: return "{id, open}";
    case K_AUDIT: return "{seq, hash}";
    }
    return "?";
}

/* Loads a signed document and checks its shape: *doc, and borrowed
 * *notice and *signature (JSON null when unsigned). */
static int load(const char *json, size_t len, json_t **doc, json_t **notice, json_t **signature,
                cutoff_diag *diag)
{
    int rc = co__json_load_object(json, len, doc, diag);
    if (rc != 0)
        return rc;
    static const char *const top[] = {"notice", "signature", NULL};
    if ((rc = co__json_check_keys(*doc, "", top, diag)) != 0)
        return rc;
    *notice = json_object_get(*doc, "notice");
    *signature = json_object_get(*doc, "signature");
    if (!json_is_object(*notice))
        return co__diag(diag, CUTOFF_EPARSE, "not a cutoff notice: \"notice\" must be an object");
    if (*signature == NULL)
        return co__diag(diag, CUTOFF_EPARSE, "not a cutoff notice: \"signature\" is missing");
    for (size_t i = 0; i < N_MEMBERS; i++) {
        json_t *v = json_object_get(*notice, members[i].key);
        if (v == NULL)
            return co__diag(diag, CUTOFF_EPARSE, "notice.%s is missing", members[i].key);
        if (!member_ok(v, members[i].kind))
            return co__diag(diag, CUTOFF_EPARSE, "notice.%s: expected %s, got %s", members[i].key,
                            kind_text(members[i].kind), co__json_kind(v));
    }
    if (json_object_size(*notice) != N_MEMBERS) {
        const char *key;
        json_t *v;
        json_object_foreach (*notice, key, v) {
            size_t i = 0;
            while (i < N_MEMBERS && strcmp(members[i].key, key) != 0)
                i++;
            if (i == N_MEMBERS) {
                char q[96];
                return co__diag(diag, CUTOFF_EPARSE, "notice.%s: not a member of a %s notice",
                                co__text(key, q, sizeof q), CUTOFF_NOTICE_FORMAT);
            }
        }
    }
    const char *format = json_string_value(json_object_get(*notice, "format"));
    if (strcmp(format, CUTOFF_NOTICE_FORMAT) != 0) {
        char q[96];
        return co__diag(diag, CUTOFF_EPARSE, "notice.format is \"%s\"; this program reads %s",
                        co__text(format, q, sizeof q), CUTOFF_NOTICE_FORMAT);
    }
    if (json_is_null(*signature))
        return 0;
    static const char *const sig_keys[] = {"alg", "key", "value", NULL};
    if ((rc = co__json_check_keys(*signature, "signature", sig_keys, diag)) != 0)
        return rc;
    if (!json_is_object(*signature) || !json_is_string(json_object_get(*signature, "key")) ||
        !json_is_string(json_object_get(*signature, "value")))
        return co__diag(diag, CUTOFF_EPARSE,
                        "signature: expected {\"alg\": \"ed25519\", \"key\", \"value\"} or null");
    const char *alg = json_string_value(json_object_get(*signature, "alg"));
    if (alg == NULL || strcmp(alg, "ed25519") != 0)
        return co__diag(diag, CUTOFF_EPARSE, "signature.alg must be \"ed25519\"");
    return 0;
}

int cutoff_notice_verify(const char *json, size_t len, const char *public_key, cutoff_diag *diag)
{
    co__diag_clear(diag);
    if (json == NULL || public_key == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no notice or no public key given");
    if (cutoff_public_key_check(public_key, diag) != 0)
        return CUTOFF_EPARSE;
    json_t *doc = NULL, *notice, *signature;
    int rc = load(json, len, &doc, &notice, &signature, diag);
    if (rc == 0 && json_is_null(signature))
        rc = co__diag(diag, CUTOFF_ETAMPER, "the notice is not signed: nothing vouches for it");
    const char *key = rc == 0 ? json_string_value(json_object_get(signature, "key")) : NULL;
    if (rc == 0 && strcmp(key, public_key) != 0) {
        char q[96];
        rc = co__diag(diag, CUTOFF_ETAMPER, "the notice is signed by another key (%s), not by %s",
                      co__text(key, q, sizeof q), public_key);
    }
    char *canonical = NULL;
    if (rc == 0 && (canonical = json_dumps(notice, CO__JSON_CANONICAL)) == NULL)
        rc = co__diag(diag, CUTOFF_ENOMEM, "out of memory");
    if (rc == 0) {
        rc = cutoff_signature_verify(public_key, canonical, strlen(canonical),
                                     json_string_value(json_object_get(signature, "value")));
        if (rc == CUTOFF_ETAMPER)
            co__diag(diag, rc,
                     "the signature does not verify: the notice was changed after it was signed, "
                     "or the signature belongs to another notice");
        else if (rc != 0)
            rc = co__diag(diag, CUTOFF_EPARSE, "signature.value is not an Ed25519 signature");
    }
    co__free(canonical);
    json_decref(doc);
    return rc;
}

/* ---- the letter ------------------------------------------------------- */

static const char *s_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void put_list(co__buf *b, const json_t *arr, const char *none)
{
    size_t n = json_array_size(arr);
    if (n == 0)
        co__buf_puts(b, none);
    for (size_t i = 0; i < n; i++)
        co__buf_printf(b, "%s%s", i ? ", " : "", json_string_value(json_array_get(arr, i)));
}

static const char *reason_text(const char *r)
{
    return strcmp(r, "activated") == 0     ? "the action was activated"
           : strcmp(r, "new_version") == 0 ? "a new version of the action was approved"
           : strcmp(r, "lifted") == 0      ? "the action was lifted"
           : strcmp(r, "case_closed") == 0 ? "the review was closed"
                                           : r;
}

static void put_phases(co__buf *b, const json_t *phases)
{
    size_t i;
    json_t *p;
    json_array_foreach (phases, i, p) {
        const char *mode = s_of(p, "mode"), *until = s_of(p, "until");
        const char *what = strcmp(mode, "read-only") == 0
                               ? "read-only: data stays readable and exportable; writing and "
                                 "every other use stop"
                           : strcmp(mode, "suspend") == 0 ? "suspended: every use stops"
                                                          : "off: nothing is stopped";
        co__buf_printf(b, "  from %s%s%s  %s\n", s_of(p, "from"), until ? " until " : "",
                       until ? until : "", what);
    }
}

/* The end of the first read-only phase: the export window. */
static const char *export_until(const json_t *phases)
{
    size_t i;
    json_t *p;
    json_array_foreach (phases, i, p)
        if (strcmp(s_of(p, "mode"), "read-only") == 0)
            return s_of(p, "until") ? s_of(p, "until") : "never";
    return NULL;
}

int cutoff_notice_text(const char *json, size_t len, char **out, cutoff_diag *diag)
{
    co__diag_clear(diag);
    if (out == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no place for the text");
    *out = NULL;
    json_t *doc = NULL, *n, *sig;
    int rc = load(json, len, &doc, &n, &sig, diag);
    if (rc != 0) {
        json_decref(doc);
        return rc;
    }
    const char *id = s_of(n, "enforcement_action"), *state = s_of(n, "state");
    const json_t *kase = json_object_get(n, "case"), *phases = json_object_get(n, "phases");
    bool in_force = strcmp(state, "active") == 0;
    co__buf b;
    co__buf_init(&b);
    co__buf_printf(&b, "NOTICE OF ENFORCEMENT ACTION %s\n", id);
    co__buf_printf(&b, "notice %lld, action version %lld, issued %s because %s\n\n",
                   (long long)json_integer_value(json_object_get(n, "notice_version")),
                   (long long)json_integer_value(json_object_get(n, "action_version")),
                   s_of(n, "issued_at"), reason_text(s_of(n, "issued_for")));
    co__buf_puts(&b, "To: the holder of ");
    put_list(&b, json_object_get(n, "scope"), "-");
    co__buf_puts(&b, ", and of every subscription below it\n\n");
    co__buf_printf(&b, "%s\n\n", s_of(n, "summary"));
    co__buf_printf(&b, "What %s stopped\n  services and actions: ", in_force ? "is" : "was");
    put_list(&b, json_object_get(n, "deny"), "-");
    co__buf_puts(&b, "\n  regions: ");
    const json_t *regions = json_object_get(n, "regions");
    if (json_array_size(regions) == 1 &&
        strcmp(json_string_value(json_array_get(regions, 0)), "*") == 0)
        co__buf_puts(&b, "every region");
    else
        put_list(&b, regions, "-");
    co__buf_puts(&b, "\n");
    put_phases(&b, phases);
    co__buf_puts(&b, "\nWhat keeps running\n  ");
    put_list(&b, json_object_get(n, "except"), "nothing is excepted");
    co__buf_puts(&b, "; and every service the action does not name\n");
    const char *window = export_until(phases);
    if (window)
        co__buf_printf(&b, "\nExport window\n  your data stays readable for export until %s\n",
                       window);
    co__buf_printf(&b, "\nState\n  the action is %s", state);
    if (s_of(n, "lifted_at"))
        co__buf_printf(&b, " (lifted %s: nothing it covered is stopped any more)",
                       s_of(n, "lifted_at"));
    co__buf_printf(&b, "; a request it refuses is answered with HTTP %lld\n",
                   (long long)json_integer_value(json_object_get(n, "status")));
    const char *case_id = s_of(kase, "id");
    bool open = json_is_true(json_object_get(kase, "open"));
    co__buf_printf(&b, "\nReview\n  case %s is %s\n", case_id ? case_id : "-",
                   open ? "open: the action may still be changed or lifted"
                        : "closed: the review is finished");
    co__buf_puts(&b, "\n");
    if (s_of(n, "terms"))
        co__buf_printf(&b, "Terms: %s\n", s_of(n, "terms"));
    if (s_of(n, "contact"))
        co__buf_printf(&b, "Contact: %s\n", s_of(n, "contact"));
    co__buf_printf(&b, "Reference: %s\n", s_of(n, "ref") ? s_of(n, "ref") : id);
    const json_t *audit = json_object_get(n, "audit");
    co__buf_printf(&b, "Audit record: %lld, hash %s\n",
                   (long long)json_integer_value(json_object_get(audit, "seq")),
                   s_of(audit, "hash"));
    if (json_is_null(sig))
        co__buf_puts(&b, "\nSignature\n  none yet: this notice is not signed, and nothing "
                         "vouches for it until it is\n");
    else
        co__buf_printf(&b,
                       "\nSignature\n  Ed25519, key %s\n  to check it, keep this notice as "
                       "JSON (GET /v1/notices/%s, or 'cutoff notice show %s --json') and run\n"
                       "  'cutoff notice verify FILE --pubkey KEYFILE' with the provider's "
                       "public key, obtained from the provider by another way\n",
                       s_of(sig, "key"), id, id);
    json_decref(doc);
    if ((*out = co__buf_take(&b)) == NULL)
        return co__diag(diag, CUTOFF_ENOMEM, "out of memory");
    return 0;
}
