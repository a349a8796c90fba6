/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokens.h - the tokens file of the admin API, shared by the two programs
 * that use it: cutoffd checks bearer tokens against it, and the CLI adds,
 * lists and revokes its entries ("cutoff token ..."). The file holds only
 * SHA-256 hashes of tokens, one principal and its roles a line:
 *
 *     # comments and blank lines are ignored
 *     sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 alice
 * investigator,enforcer
 *
 * One grammar in one place, so that a file the CLI writes is a file the
 * daemon reads.
 *
 * NOT PART OF LIBCUTOFF. This is libcutoff-common, a small static library
 * of helpers that the programs cutoff and cutoffd share (built as
 * build/libcutoff-common.a, never installed). It uses libcutoff only
 * through include/cutoff.h, like any other program would, and nothing in
 * libcutoff may include it. Its names keep the co__ prefix of internal
 * code: the programs link this archive statically, and libcutoff.so does
 * not export them.
 */
#ifndef CUTOFF_COMMON_TOKENS_H
#define CUTOFF_COMMON_TOKENS_H

#include "cutoff.h"

#include <stddef.h>

/* Roles, as bits of a mask. */
enum {
    CO__ROLE_VIEWER = 1,       /* read cases, actions, nodes, catalog, audit */
    CO__ROLE_INVESTIGATOR = 2, /* open cases, add evidence and findings, propose, preview */
    CO__ROLE_ENFORCER = 4,     /* propose, preview and lift actions */
    CO__ROLE_APPROVER = 8,     /* approve actions (never one's own) */
    CO__ROLE_ADMIN = 16        /* everything, including catalog and node import */
};

/* For messages: the roles there are. */
#define CO__ROLE_LIST "viewer, investigator, enforcer, approver, admin"
/* Longest text co__roles_text can make, with its NUL. */
#define CO__ROLES_TEXT_MAX 48
/* The problem type cutoffd answers when the caller's roles do not allow a
 * call (403), so that the CLI can tell it from a refusal by the library
 * (such as four eyes, also 403). */
#define CO__PROBLEM_ROLE "urn:cutoff:problem:role"

/* One entry of the file. */
typedef struct co__token_line {
    unsigned char hash[32]; /* SHA-256 of the token */
    char principal[CUTOFF_ID_MAX + 1];
    unsigned roles;
} co__token_line;

/* Parses "viewer,approver" into a role mask. -1 for an unknown or empty
 * role (",," or a trailing comma) or an empty list. */
int co__roles_parse(const char *text, unsigned *out);
/* "viewer,approver" for a mask, in the order of CO__ROLE_LIST, into buf. */
const char *co__roles_text(unsigned roles, char *buf, size_t n);

/* Parses one line of a tokens file (the newline may be there or not).
 * The principal must be an id (cutoff_id_valid), the grammar of actors.
 * Returns 1 for an entry (out filled), 0 for a blank or comment line, and
 * -1 for anything else with the reason in why (no file or line prefix:
 * the caller knows them). */
int co__token_line_parse(const char *line, co__token_line *out, char *why, size_t why_len);

/* Four eyes compares principals without regard to ASCII case
 * (cutoff_actor_same), so one file may not name "alice" and "Alice": they
 * would be two tokens of one person, or two people the approval rule
 * cannot tell apart. Returns -1 with the reason in why when principal and
 * an earlier one differ only by case, else 0 (the same spelling twice is
 * fine: one person may hold several tokens). */
int co__token_principal_clash(const char *principal, const char *earlier, char *why,
                              size_t why_len);

#endif /* CUTOFF_COMMON_TOKENS_H */
