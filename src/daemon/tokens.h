/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokens.h - bearer tokens for the admin API. The tokens file holds only
 * SHA-256 hashes of tokens, each with a principal and roles:
 *
 *     # sha256-of-token                                                 principal  roles
 *     sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 alice
 * investigator,enforcer
 *
 * A token is shown once, when it is made (`cutoff token create`), and is
 * never stored. Lookups hash the presented token and compare in constant
 * time against every entry.
 */
#ifndef CUTOFFD_TOKENS_H
#define CUTOFFD_TOKENS_H

#include "common/tokens.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The roles (the file's grammar is shared with the CLI: common/tokens.h). */
enum {
    ROLE_VIEWER = CO__ROLE_VIEWER, /* read cases, actions, nodes, catalog, audit */
    ROLE_INVESTIGATOR =
        CO__ROLE_INVESTIGATOR,         /* open cases, evidence, findings, propose, preview */
    ROLE_ENFORCER = CO__ROLE_ENFORCER, /* propose, preview and lift actions */
    ROLE_APPROVER = CO__ROLE_APPROVER, /* approve actions (never one's own) */
    ROLE_ADMIN = CO__ROLE_ADMIN        /* everything, including catalog and node import */
};

typedef struct token_entry {
    unsigned char hash[32];
    char principal[129];
    unsigned roles;
} token_entry;

typedef struct token_table {
    token_entry *entries;
    size_t n;
} token_table;

/* Loads a tokens file. -1 with a message naming the line on error, and
 * for a file that others could rewrite: writable by group or others, or
 * owned by a user other than root and the one running. An absent path
 * gives an empty table (no admin access). */
int tokens_load(const char *path, token_table **out, char *err, size_t err_len);
/* The same from an open file, named name in messages (sodium_init done). */
int tokens_read(FILE *f, const char *name, token_table **out, char *err, size_t err_len);
void tokens_free(token_table *t);
/* The entry for a presented token, or NULL. */
const token_entry *tokens_find(const token_table *t, const char *token);
/* Parses "viewer,approver" into a role mask; -1 on an unknown role. */
int tokens_parse_roles(const char *text, unsigned *out);
/* "viewer,approver" for a mask, into buf. */
const char *tokens_roles_text(unsigned roles, char *buf, size_t n);
/* Whether roles grant what `need` asks (admin grants everything). */
bool tokens_allows(unsigned roles, unsigned need);

#endif
