/* SPDX-License-Identifier: Apache-2.0 */
/*
 * format.h - what the rest of libcutoff may use from the document layer
 * beyond the public parsers of cutoff.h: the size limits every document
 * obeys, spec validators (the same checks the parsers make, for specs built
 * by code), a catalog deep copy, and an action parser that keeps the
 * lifecycle fields for a store that keeps actions as JSON.
 *
 * Ownership: cutoff_action_parse and cutoff_action_copy return an action in
 * ONE allocation that cutoff_action_free releases; the same holds for
 * catalogs (cutoff_catalog_parse, co__catalog_copy, cutoff_catalog_free).
 * Code that hands out an action or catalog it assembled itself must pass it
 * through the copy function first.
 */
#ifndef CUTOFF_FORMAT_H
#define CUTOFF_FORMAT_H

#include "cutoff.h"

#include <stdbool.h>

/* ---- JSON and text -------------------------------------------------------- */

/* Makes jansson allocate through the library's allocator (co__malloc /
 * co__free), once per process, so that allocation failure injection and
 * the live count reach the JSON the library builds and parses. Every
 * public entry point that uses jansson calls it before its first jansson
 * call (the document functions, and cutoff_db_open for the database). */
void co__json_init(void);
/* The flags of the canonical text a signature covers (signed audit heads
 * and rotations, notices): compact, keys sorted, so that a verifier that
 * parses the document and dumps the object again gets the signed bytes. */
#define CO__JSON_CANONICAL (JSON_COMPACT | JSON_SORT_KEYS)

/* Valid UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF): the same rule as jansson's, without allocating. */
bool co__utf8_valid(const char *s);

/* ---- limits (CUTOFF_ELIMIT beyond them) ---------------------------------- */
#define CO__LIST_MAX 1000     /* entries of scope, deny, except, regions */
#define CO__PHASES_MAX 100    /* phases of one action */
#define CO__TEXT_MAX 4096     /* bytes of a notice field or a node's name */
#define CO__SERVICES_MAX 4096 /* services of a catalog */
#define CO__ACTIONS_MAX 65536 /* actions of a catalog, all services together */
#define CO__REGIONS_MAX 4096  /* regions of a catalog */
#define CO__PLANS_MAX 4096    /* plans of a catalog */
#define CO__PLAN_PATTERNS_MAX 1000
/* Absolute phase times lie in [1970-01-01T00:00:00Z, 9999-12-31T23:59:59Z]
 * so that they print as four-digit-year RFC 3339 and read back the same;
 * relative ones are at most 100 years. */
#define CO__TIME_MIN INT64_C(0)
#define CO__TIME_MAX INT64_C(253402300799)
#define CO__OFFSET_MAX (INT64_C(36500) * 86400)

/* ---- actions ------------------------------------------------------------- */

/* cutoff_action_parse ignores "state", "version" and "activated_at" (it
 * checks their syntax only, so a document written by cutoff_action_to_json
 * reads back) and returns a draft. With this flag they are read into the
 * spec instead, for code that stores actions as JSON and loads them back. */
#define CO__ACTION_KEEP_LIFECYCLE 1u
/* The rules for what enters cutoff (notice fields as free text without
 * hidden characters, notice.ref a plain http(s) URL) are made on every
 * parse except of a document the database already holds: one stored
 * before a rule existed must still load, or no snapshot could be built.
 * cutoff_notice_url never hands on such a stored ref. */
#define CO__ACTION_STORED 2u

int co__action_parse_ex(const char *json, size_t len, unsigned flags, cutoff_action_spec **out,
                        cutoff_diag *diag);

/* Checks a spec as the parser would (ids, patterns, regions, phase ranges
 * and order, modes, status, notice sizes and UTF-8). Messages name the JSON
 * path ("phases[1].at: ..."). 0, or CUTOFF_EPARSE / CUTOFF_ELIMIT.
 * Phase order: absolute phases must increase strictly among themselves,
 * and so must relative ones; a mix of both kinds is allowed and not
 * ordered across kinds, since that depends on the activation time. */
int co__action_validate(const cutoff_action_spec *a, cutoff_diag *diag);

/* ---- notices (notice.c; the format: docs/design.md, "Notices") ----------- */

/* What a notice states besides the action version itself. */
typedef struct co__notice_facts {
    const cutoff_action_spec *action; /* the version, with state and activated_at */
    int64_t lifted_at;                /* 0 unless lifted */
    const char *reason;               /* "activated", "new_version", "lifted", "case_closed" */
    uint64_t notice_version;          /* 1, 2, 3, ... per action */
    bool case_open;
    int64_t issued_at;
    uint64_t audit_seq; /* the audit record of the change that issues it */
    const char *audit_hash;
} co__notice_facts;

/* The notice's canonical text (the bytes that are signed), released with
 * co__free. 0, CUTOFF_EINVAL (no action, reason or hash) or CUTOFF_ENOMEM. */
int co__notice_body(const co__notice_facts *f, char **out);
/* The signature of a body as the canonical text of {"alg", "key",
 * "value"} (co__free). 0, CUTOFF_EINVAL or CUTOFF_ENOMEM. */
int co__notice_sign(const cutoff_key *key, const char *body, char **signature_json);
/* The signed document {"notice", "signature"} (signature NULL: JSON null),
 * indented, keys sorted (co__free). 0, CUTOFF_ESTORE (a stored body or
 * signature that is not a JSON object) or CUTOFF_ENOMEM. */
int co__notice_document(const char *body, const char *signature_json, char **out);
/* The same as a JSON value (json_decref it). */
struct json_t;
int co__notice_document_value(const char *body, const char *signature_json, struct json_t **out);
/* A stored body (or signature) parsed: 0, CUTOFF_ESTORE (not a JSON
 * object) or CUTOFF_ENOMEM. */
int co__notice_parse_stored(const char *text, struct json_t **out);

/* ---- catalogs ------------------------------------------------------------ */

/* Deep copy into one allocation (free with cutoff_catalog_free). No
 * validation: any spec is copied as it is. */
int co__catalog_copy(const cutoff_catalog_spec *c, cutoff_catalog_spec **out);

/* Checks a spec as the parser would: action names SERVICE.ACTION of
 * dot-free names and unique, classes, region ids unique, plan names unique
 * ids, plan patterns valid and each matching some action. Messages name
 * document paths, counting each run of actions of one service as one entry
 * of "services" (as in a parsed document). */
int co__catalog_validate(const cutoff_catalog_spec *c, cutoff_diag *diag);

#endif
