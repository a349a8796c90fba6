/* SPDX-License-Identifier: Apache-2.0 */
/*
 * heads.c - signed audit heads and key rotation: a signer's statement
 * "record S is the newest and has hash H, at time T", signed with an
 * Ed25519 key the database does not hold, stored (append-only) with every
 * change made with a key and published elsewhere; and verifying the whole
 * log with nothing but the public key (docs/audit.md).
 *
 * Why each check: the chain alone cannot see a recomputed chain, a removed
 * tail or appended records. A head per change pins the hash of every
 * record it names, so a recomputed chain fails at the first head whose
 * hash no longer matches (the edit is after the head before it); a head
 * naming a record beyond the log shows a removed tail; head numbers
 * without gaps, and the signer's promised interval, show removed heads;
 * a head signed by any key other than the one in force shows an attacker
 * who re-signed everything with his own key.
 */
#include "audit/audit.h"
#include "db/db_int.h"
#include "format/format.h"
#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define HEAD_TYPE "cutoff-audit-head"
#define ROTATION_TYPE "cutoff-key-rotation"
#define ROTATION_OBJECT "signing-key"

/* A head statement, parsed. */
typedef struct head {
    uint64_t n, seq;
    int64_t time, interval_s;
    char hash[65];
    char key[CUTOFF_PUBKEY_TEXT_MAX];
    char *statement; /* owned */
    char *signature; /* owned */
} head;

/* The canonical text of v (keys sorted, compact), taking the reference;
 * NULL when memory ran out. Released with co__free. */
static char *canonical(json_t *v)
{
    if (v == NULL)
        return NULL;
    char *text = json_dumps(v, CO__JSON_CANONICAL);
    json_decref(v);
    return text;
}

static char *head_statement(uint64_t n, uint64_t seq, const char *hash, int64_t time,
                            const char *key, int64_t interval_s)
{
    char t[32];
    return canonical(json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:I}", "type", HEAD_TYPE, "n",
                               (json_int_t)n, "seq", (json_int_t)seq, "hash", hash, "time",
                               cutoff_time_format(time, t), "key", key, "interval_s",
                               (json_int_t)interval_s));
}

static bool is_hash(const char *s)
{
    if (s == NULL || strlen(s) != 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* Reads a non-negative integer member. */
static bool get_count(json_t *o, const char *name, int64_t *out)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

/* Parses a head statement into h (not its statement/signature members).
 * Returns 0, CUTOFF_EPARSE with the reason in why, or CUTOFF_ENOMEM. */
/* Parses a statement, telling running out of memory apart from text that
 * is not JSON: jansson reports some allocation failures as a syntax error
 * (or as nothing), while a real syntax error fails the same way twice. */
static json_t *load_statement(const char *statement, json_error_t *err, bool *no_memory)
{
    json_error_t again;
    json_t *o = json_loads(statement, 0, err);
    if (o != NULL)
        return o;
    if (json_error_code(err) == json_error_out_of_memory || err->text[0] == '\0') {
        *no_memory = true;
        return NULL;
    }
    if ((o = json_loads(statement, 0, &again)) != NULL)
        return o;
    *no_memory = again.position != err->position || strcmp(again.text, err->text) != 0;
    return NULL;
}

static int head_parse(const char *statement, head *h, char *why, size_t why_len)
{
    json_error_t err;
    bool no_memory = false;
    json_t *o = statement ? load_statement(statement, &err, &no_memory) : NULL;
    int64_t n = 0, seq = 0, interval = 0;
    const char *type = json_string_value(json_object_get(o, "type"));
    const char *hash = json_string_value(json_object_get(o, "hash"));
    const char *time = json_string_value(json_object_get(o, "time"));
    const char *key = json_string_value(json_object_get(o, "key"));
    int rc = CUTOFF_EPARSE;
    if (no_memory)
        rc = CUTOFF_ENOMEM; /* not a verdict on the statement */
    else if (o == NULL)
        snprintf(why, why_len, "it is not JSON");
    else if (json_object_size(o) != 7 || type == NULL || strcmp(type, HEAD_TYPE) != 0)
        snprintf(why, why_len, "it is not a statement of type \"" HEAD_TYPE "\" with 7 members");
    else if (!get_count(o, "n", &n) || n < 1 || !get_count(o, "seq", &seq) ||
             !get_count(o, "interval_s", &interval))
        snprintf(why, why_len, "n, seq or interval_s is not a count");
    else if (!is_hash(hash))
        snprintf(why, why_len, "its hash is not 64 hex digits");
    else if (time == NULL || cutoff_time_parse(time, &h->time, NULL) != 0)
        snprintf(why, why_len, "its time is not RFC 3339");
    else if (cutoff_public_key_check(key, NULL) != 0)
        snprintf(why, why_len, "its key is not a public key");
    else {
        h->n = (uint64_t)n;
        h->seq = (uint64_t)seq;
        h->interval_s = interval;
        memcpy(h->hash, hash, sizeof h->hash);
        snprintf(h->key, sizeof h->key, "%s", key);
        rc = 0;
    }
    json_decref(o);
    return rc;
}

/* ===================================================================== */
/* Signing                                                                */
/* ===================================================================== */

/* Signs the current head; with check_key only when key signed the newest
 * head too (or there is none): a rotation is the one way to a new key. */
static int head_sign(cutoff_db *db, const cutoff_key *key, int64_t now, int64_t interval_s,
                     bool only_if_unsigned, bool check_key)
{
    co__audit_row last = {0};
    co__head_row newest = {0};
    uint64_t seq = 0, n = 1;
    char hash[65], why[128];
    memcpy(hash, co__audit_genesis, sizeof hash);
    int rc = STORE_OPS(db)->audit_last(db->store, &last);
    if (rc == 0) {
        seq = last.seq;
        snprintf(hash, sizeof hash, "%s", last.hash ? last.hash : "");
        co__audit_row_clear(&last);
    } else if (rc != CUTOFF_ENOTFOUND) {
        return rc;
    }
    rc = STORE_OPS(db)->head_last(db->store, &newest);
    if (rc == 0) {
        head prev = {0};
        n = newest.n + 1;
        bool parsed = head_parse(newest.statement, &prev, why, sizeof why) == 0;
        bool current = newest.seq == seq && (!parsed || strcmp(prev.hash, hash) == 0);
        co__head_row_clear(&newest);
        if (check_key && parsed && strcmp(prev.key, cutoff_key_public(key)) != 0)
            return CUTOFF_EPERM;
        if (only_if_unsigned && current)
            return 0;
        /* Head times never go back, whatever the clock does. */
        if (parsed && prev.time > now)
            now = prev.time;
    } else if (rc != CUTOFF_ENOTFOUND) {
        return rc;
    }
    char *statement = head_statement(n, seq, hash, now, cutoff_key_public(key), interval_s);
    if (statement == NULL)
        return CUTOFF_ENOMEM;
    char sig[CUTOFF_SIGNATURE_TEXT_MAX];
    uint64_t stored = 0;
    rc = cutoff_key_sign(key, statement, strlen(statement), sig);
    co__head_row row = {.seq = seq, .statement = statement, .signature = sig};
    if (rc == 0)
        rc = STORE_OPS(db)->head_put(db->store, &row, &stored);
    /* Writers are serialised, so the number assigned is the one signed. */
    if (rc == 0 && stored != n)
        rc = CUTOFF_ESTORE;
    co__free(statement);
    return rc;
}

int co__db_head_sign_tx(cutoff_db *db, const cutoff_key *key, int64_t now, int64_t interval_s,
                        bool only_if_unsigned)
{
    return head_sign(db, key, now, interval_s, only_if_unsigned, true);
}

void cutoff_db_set_sign_interval(cutoff_db *db, int64_t interval_s)
{
    if (db != NULL && interval_s >= 0)
        db->sign_interval_s = interval_s;
}

/* Whether the newest head names the newest audit record and was signed by
 * key: nothing left for a signer asked to sign only an unsigned head. */
static int head_current_by(cutoff_db *db, const cutoff_key *key, bool *current)
{
    co__audit_row last = {0};
    co__head_row newest = {0};
    head h = {0};
    char why[128];
    *current = false;
    int rc = STORE_OPS(db)->audit_last(db->store, &last);
    if (rc == 0)
        rc = STORE_OPS(db)->head_last(db->store, &newest);
    if (rc == 0 && head_parse(newest.statement, &h, why, sizeof why) == 0)
        *current = newest.seq == last.seq && last.hash && strcmp(h.hash, last.hash) == 0 &&
                   strcmp(h.key, cutoff_key_public(key)) == 0;
    co__audit_row_clear(&last);
    co__head_row_clear(&newest);
    return rc == CUTOFF_ENOTFOUND ? 0 : rc;
}

int cutoff_db_head_sign(cutoff_db *db, const cutoff_key *key, int64_t now, int64_t interval_s,
                        int flags)
{
    if (db == NULL || key == NULL || interval_s < 0 || (flags & ~CUTOFF_HEAD_IF_UNSIGNED) != 0)
        return CUTOFF_EINVAL;
    if (flags & CUTOFF_HEAD_IF_UNSIGNED) {
        /* Looked at in a read first: every node of a fleet asks after
         * every change, and nearly always the change signed its own head;
         * only a head left unsigned queues for the writers' lock. */
        bool current = false;
        int rc = co__db_begin_read(db, NULL);
        if (rc == 0)
            rc = co__db_end(db, head_current_by(db, key, &current), NULL);
        if (rc != 0 || current)
            return rc;
    }
    int rc = co__db_begin(db, NULL);
    if (rc != 0)
        return rc;
    rc = co__db_head_sign_tx(db, key, now, interval_s, (flags & CUTOFF_HEAD_IF_UNSIGNED) != 0);
    return co__db_end(db, rc, NULL);
}

int cutoff_db_audit_head(cutoff_db *db, char **json_out)
{
    if (db == NULL || json_out == NULL)
        return CUTOFF_EINVAL;
    co__head_row row = {0};
    int rc = STORE_OPS(db)->head_last(db->store, &row);
    if (rc != 0)
        return rc;
    rc = co__db_json_take(json_pack("{s:s, s:s}", "statement", row.statement ? row.statement : "",
                                    "signature", row.signature ? row.signature : ""),
                          json_out);
    co__head_row_clear(&row);
    return rc;
}

int cutoff_db_key_rotate(cutoff_db *db, const char *actor, const cutoff_key *old_key,
                         const cutoff_key *new_key, int64_t now, cutoff_diag *diag)
{
    co__diag_clear(diag);
    if (db == NULL || old_key == NULL || new_key == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "a key rotation needs the old and the new key");
    int rc = co__db_check_actor(actor, diag);
    if (rc != 0)
        return rc;
    const char *old_pub = cutoff_key_public(old_key), *new_pub = cutoff_key_public(new_key);
    if (strcmp(old_pub, new_pub) == 0)
        return co__diag(diag, CUTOFF_EINVAL, "the new key is the old key");
    if ((rc = co__db_begin(db, diag)) != 0)
        return rc;
    co__head_row newest = {0};
    head h = {0};
    char why[128], t[32];
    rc = STORE_OPS(db)->head_last(db->store, &newest);
    if (rc == CUTOFF_ENOTFOUND) {
        rc = 0;
    } else if (rc == 0) {
        if (head_parse(newest.statement, &h, why, sizeof why) != 0 || strcmp(h.key, old_pub) != 0)
            rc = co__diag(diag, CUTOFF_EPERM,
                          "the newest signed head (%llu) is not signed by the old key %s; only "
                          "the key in force can hand over to a new one",
                          (unsigned long long)newest.n, old_pub);
        co__head_row_clear(&newest);
    }
    char *statement = NULL;
    char sig[CUTOFF_SIGNATURE_TEXT_MAX];
    if (rc == 0) {
        statement =
            canonical(json_pack("{s:s, s:s, s:s, s:s}", "type", ROTATION_TYPE, "old", old_pub,
                                "new", new_pub, "time", cutoff_time_format(now, t)));
        rc =
            statement ? cutoff_key_sign(old_key, statement, strlen(statement), sig) : CUTOFF_ENOMEM;
    }
    if (rc == 0)
        rc = co__db_audit(db, 0, now, actor, CO__VERB_KEY_ROTATE, ROTATION_OBJECT,
                          json_pack("{s:s, s:s}", "statement", statement, "signature", sig));
    /* From this record on the new key signs, this transaction's head too. */
    if (rc == 0)
        rc = head_sign(db, new_key, co__db_wall_now(), db->sign_interval_s, false, false);
    db->appended = false;
    co__free(statement);
    return co__db_end(db, co__db_store_fail(db, rc, diag, "rotating the signing key"), diag);
}

/* ===================================================================== */
/* Verification                                                           */
/* ===================================================================== */

typedef struct heads_list {
    head *v;
    size_t n, cap;
} heads_list;

static int collect_head(void *ctx, const co__head_row *row)
{
    heads_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        head *v = co__realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return CUTOFF_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    head *h = &l->v[l->n];
    memset(h, 0, sizeof *h);
    h->n = row->n;
    h->seq = row->seq;
    h->statement = co__strdup(row->statement ? row->statement : "");
    h->signature = co__strdup(row->signature ? row->signature : "");
    l->n++; /* counted before the check, so that it is freed */
    return h->statement && h->signature ? 0 : CUTOFF_ENOMEM;
}

static void heads_free(heads_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        co__free(l->v[i].statement);
        co__free(l->v[i].signature);
    }
    co__free(l->v);
}

typedef struct walk {
    cutoff_audit_signed_report *rep;
    heads_list *heads;
    size_t next;                      /* the next head to meet in the walk */
    uint64_t good_seq;                /* the record the last head that held names */
    char key[CUTOFF_PUBKEY_TEXT_MAX]; /* the key in force */
    const head *published;            /* NULL when none was given */
    bool published_met;               /* its record was reached and matched */
    bool failed;                      /* a head or rotation failed (not the chain) */
} walk;

__attribute__((format(printf, 2, 3))) static int fail(walk *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->rep->problem, sizeof w->rep->problem, fmt, ap);
    va_end(ap);
    w->failed = true;
    return CUTOFF_ETAMPER;
}

/* One stored head at its record (hash: that record's hash). */
static int check_head(walk *w, const head *h, const char *hash)
{
    cutoff_audit_signed_report *rep = w->rep;
    if (strcmp(h->key, w->key) != 0) {
        rep->bad_head = h->n;
        return fail(w,
                    "head %llu is signed by %s, not by the key in force %s: the heads were "
                    "re-signed with another key",
                    (unsigned long long)h->n, h->key, w->key);
    }
    int rc = cutoff_signature_verify(w->key, h->statement, strlen(h->statement), h->signature);
    if (rc != 0) {
        rep->bad_head = h->n;
        return fail(w,
                    "head %llu: its signature does not verify under %s (its statement or "
                    "signature was changed)",
                    (unsigned long long)h->n, w->key);
    }
    if (strcmp(h->hash, hash) != 0) {
        rep->bad_head = h->n;
        rep->bad_record = w->good_seq + 1;
        if (w->good_seq + 1 == h->seq)
            return fail(w,
                        "record %llu was changed after head %llu signed it (its hash is not "
                        "the signed one; the chain after it was recomputed)",
                        (unsigned long long)h->seq, (unsigned long long)h->n);
        return fail(w,
                    "head %llu signed record %llu with another hash: a record in %llu..%llu "
                    "was changed, inserted or removed, and the chain recomputed",
                    (unsigned long long)h->n, (unsigned long long)h->seq,
                    (unsigned long long)(w->good_seq + 1), (unsigned long long)h->seq);
    }
    rep->heads++;
    rep->signed_seq = h->seq;
    rep->head_time = h->time;
    rep->interval_s = h->interval_s;
    w->good_seq = h->seq;
    return 0;
}

/* A key rotation record: signed by the key in force, naming it as old. */
static int follow_rotation(walk *w, const co__audit_row *r)
{
    json_t *payload = json_loads(r->payload ? r->payload : "", 0, NULL);
    const char *statement = json_string_value(json_object_get(payload, "statement"));
    const char *sig = json_string_value(json_object_get(payload, "signature"));
    json_t *st = statement ? json_loads(statement, 0, NULL) : NULL;
    const char *type = json_string_value(json_object_get(st, "type"));
    const char *old = json_string_value(json_object_get(st, "old"));
    const char *new = json_string_value(json_object_get(st, "new"));
    int rc = 0;
    w->rep->bad_record = r->seq;
    if (type == NULL || strcmp(type, ROTATION_TYPE) != 0 || old == NULL || new == NULL ||
        cutoff_public_key_check(new, NULL) != 0)
        rc = fail(w, "record %llu: a key rotation without a well-formed statement",
                  (unsigned long long)r->seq);
    else if (strcmp(old, w->key) != 0 ||
             cutoff_signature_verify(w->key, statement, strlen(statement), sig) != 0)
        rc = fail(w,
                  "record %llu: a key rotation to %s that the key in force %s did not sign (a "
                  "forged rotation)",
                  (unsigned long long)r->seq, new, w->key);
    else {
        snprintf(w->key, sizeof w->key, "%s", new);
        w->rep->rotations++;
        w->rep->bad_record = 0;
    }
    json_decref(st);
    json_decref(payload);
    return rc;
}

static int each_record(void *ctx, const co__audit_row *r)
{
    walk *w = ctx;
    int rc;
    if (r->verb && strcmp(r->verb, CO__VERB_KEY_ROTATE) == 0 && (rc = follow_rotation(w, r)) != 0)
        return rc;
    const head *p = w->published;
    if (p != NULL && p->seq == r->seq) {
        if (strcmp(p->hash, r->hash) != 0) {
            w->rep->bad_record = r->seq;
            return fail(w,
                        "record %llu is not the one the published head %llu signed (its hash "
                        "differs): the log was rewritten after it was published",
                        (unsigned long long)r->seq, (unsigned long long)p->n);
        }
        if (strcmp(p->key, w->key) != 0)
            return fail(w, "the published head %llu is signed by %s, not by the key in force %s",
                        (unsigned long long)p->n, p->key, w->key);
        w->published_met = true;
    }
    for (; w->next < w->heads->n && w->heads->v[w->next].seq == r->seq; w->next++)
        if ((rc = check_head(w, &w->heads->v[w->next], r->hash)) != 0)
            return rc;
    return 0;
}

/* The heads on their own: parse, numbers without gaps, seq and time
 * never going back. */
static int heads_precheck(walk *w)
{
    char why[128];
    for (size_t i = 0; i < w->heads->n; i++) {
        head *h = &w->heads->v[i];
        uint64_t row_n = h->n, row_seq = h->seq;
        w->rep->bad_head = i + 1;
        if (row_n != i + 1)
            return fail(w,
                        "head %llu is missing (the head after %llu is %llu): signed heads were "
                        "removed",
                        (unsigned long long)(i + 1), (unsigned long long)i,
                        (unsigned long long)row_n);
        int rc = head_parse(h->statement, h, why, sizeof why);
        if (rc == CUTOFF_ENOMEM)
            return rc;
        if (rc != 0)
            return fail(w, "head %llu is malformed: %s", (unsigned long long)row_n, why);
        if (h->n != row_n || h->seq != row_seq)
            return fail(w, "head %llu is stored as head %llu of record %llu but says otherwise",
                        (unsigned long long)h->n, (unsigned long long)row_n,
                        (unsigned long long)row_seq);
        if (i > 0 && h->seq < h[-1].seq)
            return fail(w, "head %llu names record %llu, before record %llu of head %llu",
                        (unsigned long long)h->n, (unsigned long long)h->seq,
                        (unsigned long long)h[-1].seq, (unsigned long long)h[-1].n);
        if (i > 0 && h->time < h[-1].time)
            return fail(w, "head %llu is dated before head %llu", (unsigned long long)h->n,
                        (unsigned long long)h[-1].n);
    }
    w->rep->bad_head = 0;
    return 0;
}

/* A published head document: {"statement": text, "signature": text}. */
static int published_parse(const char *doc, head *p, cutoff_audit_signed_report *rep)
{
    char why[128];
    json_t *o = json_loads(doc, 0, NULL);
    const char *statement = json_string_value(json_object_get(o, "statement"));
    const char *sig = json_string_value(json_object_get(o, "signature"));
    int rc = CUTOFF_EPARSE;
    if (statement == NULL || sig == NULL)
        snprintf(rep->problem, sizeof rep->problem,
                 "the published head is not a document {\"statement\", \"signature\"} as "
                 "'cutoff audit head --json' prints");
    else if ((rc = head_parse(statement, p, why, sizeof why)) == CUTOFF_EPARSE)
        snprintf(rep->problem, sizeof rep->problem, "the published head is malformed: %s", why);
    else if (rc == 0) {
        p->statement = co__strdup(statement);
        p->signature = co__strdup(sig);
        if (p->statement == NULL || p->signature == NULL)
            rc = CUTOFF_ENOMEM;
        else if (cutoff_signature_verify(p->key, statement, strlen(statement), sig) != 0) {
            rep->bad_head = p->n;
            snprintf(rep->problem, sizeof rep->problem,
                     "the published head %llu does not verify: its signature is not by %s",
                     (unsigned long long)p->n, p->key);
            rc = CUTOFF_ETAMPER;
        }
    }
    json_decref(o);
    return rc;
}

/* The published head against what the walk found. */
static int check_published(walk *w, uint64_t last_seq)
{
    const head *p = w->published;
    const heads_list *l = w->heads;
    cutoff_audit_signed_report *rep = w->rep;
    if (p->seq > last_seq) {
        rep->bad_record = last_seq + 1;
        return fail(w,
                    "the published head %llu names record %llu, but the log ends at record "
                    "%llu: records %llu..%llu were removed",
                    (unsigned long long)p->n, (unsigned long long)p->seq,
                    (unsigned long long)last_seq, (unsigned long long)(last_seq + 1),
                    (unsigned long long)p->seq);
    }
    if (!w->published_met && p->seq == 0 && strcmp(p->hash, co__audit_genesis) == 0 &&
        strcmp(p->key, rep->key) == 0)
        w->published_met = true;
    if (!w->published_met)
        return fail(w, "the published head %llu does not match record %llu of this log",
                    (unsigned long long)p->n, (unsigned long long)p->seq);
    const head *newest = l->n ? &l->v[l->n - 1] : NULL;
    if (newest == NULL || newest->n < p->n || newest->time < p->time) {
        rep->bad_head = newest ? newest->n + 1 : 1;
        return fail(w,
                    "the newest stored head (%llu) is older than the published head %llu: "
                    "signed heads were removed (rolled back)",
                    (unsigned long long)(newest ? newest->n : 0), (unsigned long long)p->n);
    }
    if (strcmp(l->v[p->n - 1].statement, p->statement) != 0) {
        rep->bad_head = p->n;
        return fail(w, "stored head %llu is not the published head %llu: the heads were rewritten",
                    (unsigned long long)p->n, (unsigned long long)p->n);
    }
    return 0;
}

int cutoff_db_audit_verify_signed(cutoff_db *db, const char *public_key, const char *published_head,
                                  int64_t now, cutoff_audit_signed_report *report)
{
    return co__db_audit_verify_signed_in(db, true, public_key, published_head, now, report);
}

int co__db_audit_verify_signed_in(cutoff_db *db, bool own_read, const char *public_key,
                                  const char *published_head, int64_t now,
                                  cutoff_audit_signed_report *report)
{
    if (report == NULL)
        return CUTOFF_EINVAL;
    memset(report, 0, sizeof *report);
    if (db == NULL || public_key == NULL)
        return CUTOFF_EINVAL;
    if (cutoff_public_key_check(public_key, NULL) != 0) {
        snprintf(report->problem, sizeof report->problem,
                 "not a public key: expected \"ed25519:\" and 44 characters of base64");
        return CUTOFF_EPARSE;
    }
    heads_list heads = {0};
    head published = {0};
    walk w = {.rep = report, .heads = &heads, .published = published_head ? &published : NULL};
    snprintf(w.key, sizeof w.key, "%s", public_key);
    int rc = 0;
    if (published_head != NULL)
        rc = published_parse(published_head, &published, report);
    if (rc == 0 && own_read)
        rc = co__db_begin_read(db, NULL);
    if (rc != 0)
        goto out;
    rc = STORE_OPS(db)->head_iter(db->store, collect_head, &heads);
    if (rc == 0)
        rc = heads_precheck(&w);
    /* Heads of the empty log name no record. */
    for (; rc == 0 && w.next < heads.n && heads.v[w.next].seq == 0; w.next++)
        rc = check_head(&w, &heads.v[w.next], co__audit_genesis);
    if (rc == 0) {
        rc = co__audit_verify_each(db->store, &report->chain, each_record, &w);
        if (rc == CUTOFF_ETAMPER && !w.failed) {
            report->bad_record = report->chain.first_bad;
            snprintf(report->problem, sizeof report->problem, "record %llu: %s",
                     (unsigned long long)report->chain.first_bad, report->chain.problem);
        }
    }
    if (own_read)
        co__db_end(db, 0, NULL);
    uint64_t last_seq = report->chain.records;
    snprintf(report->key, sizeof report->key, "%s", w.key);
    if (rc != 0)
        goto out;
    if (w.next < heads.n) {
        const head *h = &heads.v[w.next];
        report->bad_head = h->n;
        report->bad_record = last_seq + 1;
        rc =
            fail(&w,
                 "head %llu names record %llu, but the log ends at record %llu: records "
                 "%llu..%llu were removed",
                 (unsigned long long)h->n, (unsigned long long)h->seq, (unsigned long long)last_seq,
                 (unsigned long long)(last_seq + 1), (unsigned long long)h->seq);
    } else if (heads.n == 0) {
        rc = fail(&w, "no signed head: nothing proves this log (a change made with a key, or "
                      "'cutoff audit sign', signs one)");
    } else if (published_head != NULL && (rc = check_published(&w, last_seq)) != 0) {
        /* said by check_published */
    } else if (report->interval_s > 0 &&
               now - report->head_time > 2 * report->interval_s + CUTOFF_HEAD_SLACK_S) {
        char t[32];
        report->bad_head = heads.v[heads.n - 1].n;
        rc = fail(&w,
                  "the newest signed head (%llu, %s) is %lld s old, but its signer promised one "
                  "every %lld s: newer heads were removed, or the signer stopped",
                  (unsigned long long)report->bad_head, cutoff_time_format(report->head_time, t),
                  (long long)(now - report->head_time), (long long)report->interval_s);
    } else {
        report->unsigned_records = last_seq - report->signed_seq;
    }
out:
    heads_free(&heads);
    co__free(published.statement);
    co__free(published.signature);
    return rc;
}
