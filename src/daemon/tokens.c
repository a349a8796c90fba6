/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokens.c - loading the hashed tokens file and checking bearer tokens.
 * The file's grammar is shared with the CLI's "cutoff token" verbs
 * (common/tokens.c); this file keeps the table and the lookups.
 */
#include "daemon/tokens.h"

#include "cutoff.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tokens_parse_roles(const char *text, unsigned *out)
{
    return co__roles_parse(text, out);
}

const char *tokens_roles_text(unsigned roles, char *buf, size_t n)
{
    return co__roles_text(roles, buf, n);
}

bool tokens_allows(unsigned roles, unsigned need)
{
    return (roles & ROLE_ADMIN) || (roles & need) != 0;
}

void tokens_free(token_table *t)
{
    if (t == NULL)
        return;
    sodium_memzero(t->entries, t->n * sizeof *t->entries);
    free(t->entries);
    free(t);
}

int tokens_load(const char *path, token_table **out, char *err, size_t err_len)
{
    if (sodium_init() < 0) {
        snprintf(err, err_len, "cannot initialise token checking");
        return -1;
    }
    if (path == NULL) {
        if ((*out = calloc(1, sizeof **out)) == NULL)
            snprintf(err, err_len, "out of memory");
        return *out ? 0 : -1;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, err_len, "%s: cannot open the tokens file", path);
        return -1;
    }
    /* Whoever may write the file may grant themselves any role. */
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) ||
        (st.st_uid != 0 && st.st_uid != geteuid())) {
        snprintf(err, err_len,
                 "%s: the tokens file must be owned by root or this user (uid %u) and writable by "
                 "its owner only (it is uid %u, mode %03o): chmod go-w it",
                 path, (unsigned)geteuid(), (unsigned)st.st_uid, (unsigned)(st.st_mode & 0777));
        fclose(f);
        return -1;
    }
    int rc = tokens_read(f, path, out, err, err_len);
    fclose(f);
    return rc;
}

int tokens_read(FILE *f, const char *name, token_table **out, char *err, size_t err_len)
{
    token_table *t = calloc(1, sizeof *t);
    if (t == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    /* Whole lines, however long: a line cut in two would make its tail (in
     * a comment, say) a line of its own. */
    char *line = NULL;
    size_t line_cap = 0, lineno = 0, cap = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &line_cap, f)) >= 0) {
        lineno++;
        co__token_line entry;
        char why[256] = "contains a NUL byte";
        int kind = memchr(line, '\0', (size_t)len)
                       ? -1
                       : co__token_line_parse(line, &entry, why, sizeof why);
        if (kind == 0)
            continue;
        if (kind < 0) {
            snprintf(err, err_len, "%s:%zu: %s", name, lineno, why);
            rc = -1;
            break;
        }
        for (size_t i = 0; rc == 0 && i < t->n; i++)
            if (co__token_principal_clash(entry.principal, t->entries[i].principal, why,
                                          sizeof why) != 0) {
                snprintf(err, err_len, "%s:%zu: %s", name, lineno, why);
                rc = -1;
            }
        if (rc != 0)
            break;
        token_entry e;
        memset(&e, 0, sizeof e);
        memcpy(e.hash, entry.hash, sizeof e.hash);
        memcpy(e.principal, entry.principal, sizeof e.principal);
        e.roles = entry.roles;
        sodium_memzero(&entry, sizeof entry);
        if (t->n == cap) {
            cap = cap ? cap * 2 : 8;
            token_entry *ne = realloc(t->entries, cap * sizeof *ne);
            if (ne == NULL) {
                snprintf(err, err_len, "out of memory");
                rc = -1;
                break;
            }
            t->entries = ne;
        }
        t->entries[t->n++] = e;
    }
    if (line)
        sodium_memzero(line, line_cap);
    free(line);
    if (rc != 0) {
        tokens_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

const token_entry *tokens_find(const token_table *t, const char *token)
{
    if (t == NULL || token == NULL || *token == '\0')
        return NULL;
    unsigned char h[32];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    const token_entry *found = NULL;
    /* Compare against every entry, so timing says nothing about which. */
    for (size_t i = 0; i < t->n; i++)
        if (sodium_memcmp(h, t->entries[i].hash, sizeof h) == 0)
            found = &t->entries[i];
    return found;
}
