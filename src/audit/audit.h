/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit.h - the hash-chained audit log on top of a store. The database
 * layer appends one record inside the same transaction as every change it
 * makes, and verify walks the chain for `cutoff audit verify`.
 */
#ifndef CUTOFF_AUDIT_H
#define CUTOFF_AUDIT_H

#include "cutoff.h"
#include "store/store.h"

#include <stdint.h>

/* The prev_hash of the first record: 64 zeros. */
extern const char co__audit_genesis[65];

/* The hash of a record, as 64 lowercase hex digits in out_hex: SHA-256
 * over a version tag, the previous record's hash (prev_hex, 64 hex digits)
 * and the record's fields, each length-prefixed. Returns CUTOFF_EINVAL when
 * prev_hex is not 64 hex digits. */
int co__audit_hash(const char *prev_hex, uint64_t seq, int64_t time, const char *actor,
                   const char *verb, const char *object, const char *payload, char out_hex[65]);

/* Appends a record after the last one. Must run inside the caller's write
 * transaction, so that it lands together with the change it records. */
int co__audit_append(co__store *s, int64_t time, const char *actor, const char *verb,
                     const char *object, const char *payload);

/* Walks the whole chain from seq 1. Returns 0 when every record verifies,
 * CUTOFF_ETAMPER with report->first_bad and report->problem naming the
 * first place where it does not, or a store error. */
int co__audit_verify(co__store *s, cutoff_audit_report *report);
/* The same walk, calling each(ctx, record) after every record that
 * verified (the signed heads are checked against the records this way,
 * in one pass); a nonzero return stops the walk and is returned. */
int co__audit_verify_each(co__store *s, cutoff_audit_report *report, co__audit_fn each, void *ctx);

#endif
