/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit.c - the audit log's hash chain. Every record carries seq (1, 2, 3,
 * ... without gaps), time, actor, verb, object and a JSON payload, the hash
 * of the record before it (prev_hash; 64 zeros for the first) and its own
 * hash:
 *
 *   hash = SHA-256( "cutoff-audit-v1" 0x00
 *                   prev_hash (32 raw bytes)
 *                   seq (u64, big-endian)  time (i64, big-endian)
 *                   for actor, verb, object, payload:
 *                       length (u64, big-endian) bytes )
 *
 * Length prefixes make the encoding unambiguous ("ab"+"c" and "a"+"bc"
 * hash differently), and the chain makes any edit, deletion in the middle,
 * insertion or reordering visible at the first record it touches.
 *
 * What the chain cannot show on its own: deleting the newest records (the
 * tail), appending well-formed records, or an edit after which the whole
 * rest of the chain was recomputed, since whoever can write the file can
 * also recompute hashes; there is no secret in the chain. The defence is
 * the signed head (src/db/heads.c, docs/audit.md): a statement "record S
 * has hash H, at time T", signed with a key the database does not hold,
 * stored with every change and published elsewhere. Verifying with the
 * public key checks every head against the records it names, so a
 * recomputed chain, a removed tail or a rolled-back set of heads shows.
 */
#include "audit/audit.h"
#include "util/util.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

const char co__audit_genesis[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static const char HASH_TAG[] = "cutoff-audit-v1"; /* hashed with its NUL */

static void put_u64(crypto_hash_sha256_state *st, uint64_t v)
{
    unsigned char b[8];
    for (int i = 7; i >= 0; i--) {
        b[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
    crypto_hash_sha256_update(st, b, sizeof b);
}

static void put_field(crypto_hash_sha256_state *st, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    put_u64(st, (uint64_t)n);
    if (n)
        crypto_hash_sha256_update(st, (const unsigned char *)s, n);
}

int co__audit_hash(const char *prev_hex, uint64_t seq, int64_t time, const char *actor,
                   const char *verb, const char *object, const char *payload, char out_hex[65])
{
    unsigned char prev[crypto_hash_sha256_BYTES], digest[crypto_hash_sha256_BYTES];
    size_t bin_len = 0;
    const char *end = NULL;
    if (prev_hex == NULL || strlen(prev_hex) != 2 * sizeof prev ||
        sodium_hex2bin(prev, sizeof prev, prev_hex, strlen(prev_hex), NULL, &bin_len, &end) != 0 ||
        bin_len != sizeof prev)
        return CUTOFF_EINVAL;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)HASH_TAG, sizeof HASH_TAG);
    crypto_hash_sha256_update(&st, prev, sizeof prev);
    put_u64(&st, seq);
    put_u64(&st, (uint64_t)time);
    put_field(&st, actor);
    put_field(&st, verb);
    put_field(&st, object);
    put_field(&st, payload);
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(out_hex, 65, digest, sizeof digest);
    return 0;
}

int co__audit_append(co__store *s, int64_t time, const char *actor, const char *verb,
                     const char *object, const char *payload)
{
    co__audit_row last = {0};
    char hash[65], prev[65];
    int rc = s->ops->audit_last(s, &last);
    if (rc == CUTOFF_ENOTFOUND) {
        last.seq = 0;
        memcpy(prev, co__audit_genesis, sizeof prev);
    } else if (rc != 0) {
        return rc;
    } else {
        snprintf(prev, sizeof prev, "%s", last.hash ? last.hash : "");
    }
    co__audit_row row = {
        .seq = last.seq + 1,
        .time = time,
        .actor = (char *)actor,
        .verb = (char *)verb,
        .object = (char *)object,
        .payload = (char *)(payload ? payload : "{}"),
        .prev_hash = prev,
        .hash = hash,
    };
    /* A last record whose hash is not even well-formed still gets a
     * successor; verify reports the damage where it is. */
    if (co__audit_hash(prev, row.seq, time, actor, verb, object, row.payload, hash) != 0)
        co__audit_hash(co__audit_genesis, row.seq, time, actor, verb, object, row.payload, hash);
    rc = s->ops->audit_put(s, &row);
    co__audit_row_clear(&last);
    return rc;
}

/* ---- verification ------------------------------------------------------- */

typedef struct verify_walk {
    cutoff_audit_report *report;
    co__audit_fn each; /* called after each record that verified */
    void *each_ctx;
    uint64_t expected_seq;
    char prev[65]; /* hash of the last record that verified */
} verify_walk;

/* Checks one record against the one before it: its place in the sequence,
 * its link to its predecessor, then its own content. */
static int verify_record(void *ctx, const co__audit_row *r)
{
    verify_walk *w = ctx;
    cutoff_audit_report *rep = w->report;
    char hash[65];
    if (r->seq != w->expected_seq) {
        rep->first_bad = w->expected_seq;
        if (r->seq > w->expected_seq && w->expected_seq == 1)
            snprintf(rep->problem, sizeof rep->problem,
                     "seq gap: record 1 is missing (the log starts at %llu)",
                     (unsigned long long)r->seq);
        else if (r->seq > w->expected_seq)
            snprintf(rep->problem, sizeof rep->problem,
                     "seq gap: record %llu is missing (the record after %llu is %llu)",
                     (unsigned long long)w->expected_seq, (unsigned long long)(w->expected_seq - 1),
                     (unsigned long long)r->seq);
        else
            snprintf(rep->problem, sizeof rep->problem,
                     "seq out of order: expected %llu, found %lld",
                     (unsigned long long)w->expected_seq, (long long)r->seq);
        return CUTOFF_ETAMPER;
    }
    if (r->prev_hash == NULL || strcmp(r->prev_hash, w->prev) != 0) {
        rep->first_bad = r->seq;
        if (r->seq == 1)
            snprintf(
                rep->problem, sizeof rep->problem,
                "broken link: record 1 does not start the chain (its prev_hash is not 64 zeros)");
        else
            snprintf(rep->problem, sizeof rep->problem,
                     "broken link: the prev_hash of record %llu is not the hash of record %llu "
                     "(a record was inserted, removed or moved here)",
                     (unsigned long long)r->seq, (unsigned long long)(r->seq - 1));
        return CUTOFF_ETAMPER;
    }
    if (co__audit_hash(w->prev, r->seq, r->time, r->actor, r->verb, r->object, r->payload, hash) !=
            0 ||
        r->hash == NULL || strcmp(hash, r->hash) != 0) {
        rep->first_bad = r->seq;
        snprintf(rep->problem, sizeof rep->problem,
                 "hash mismatch: record %llu was changed after it was written",
                 (unsigned long long)r->seq);
        return CUTOFF_ETAMPER;
    }
    memcpy(w->prev, hash, sizeof w->prev);
    memcpy(rep->head_hex, hash, sizeof rep->head_hex);
    rep->records++;
    w->expected_seq++;
    return w->each ? w->each(w->each_ctx, r) : 0;
}

int co__audit_verify(co__store *s, cutoff_audit_report *report)
{
    return co__audit_verify_each(s, report, NULL, NULL);
}

int co__audit_verify_each(co__store *s, cutoff_audit_report *report, co__audit_fn each, void *ctx)
{
    memset(report, 0, sizeof *report);
    verify_walk w = {.report = report, .expected_seq = 1, .each = each, .each_ctx = ctx};
    memcpy(w.prev, co__audit_genesis, sizeof w.prev);
    int rc = s->ops->audit_iter(s, 0, 0, verify_record, &w);
    if (rc != 0 && rc != CUTOFF_ETAMPER) {
        snprintf(report->problem, sizeof report->problem, "cannot read the audit log: %s",
                 s->ops->errmsg(s));
    }
    return rc;
}
