/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokens.c - loading the hashed tokens file and checking bearer tokens.
 */
#include "daemon/tokens.h"

#include "cutoff.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const role_names[] = {"viewer", "investigator", "enforcer", "approver", "admin"};

int tokens_parse_roles(const char *text, unsigned *out)
{
    unsigned roles = 0;
    const char *p = text;
    while (*p) {
        size_t len = strcspn(p, ",");
        bool known = false;
        for (unsigned i = 0; i < 5; i++)
            if (strlen(role_names[i]) == len && strncmp(role_names[i], p, len) == 0) {
                roles |= 1u << i;
                known = true;
            }
        if (!known)
            return -1;
        p += len + (p[len] == ',');
    }
    if (roles == 0)
        return -1;
    *out = roles;
    return 0;
}

const char *tokens_roles_text(unsigned roles, char *buf, size_t n)
{
    buf[0] = '\0';
    for (unsigned i = 0; i < 5; i++)
        if (roles & (1u << i))
            snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", buf[0] ? "," : "", role_names[i]);
    return buf;
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
    token_table *t = calloc(1, sizeof *t);
    if (t == NULL || sodium_init() < 0) {
        free(t);
        snprintf(err, err_len, "cannot initialise token checking");
        return -1;
    }
    if (path == NULL) {
        *out = t;
        return 0;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, err_len, "%s: cannot open the tokens file", path);
        free(t);
        return -1;
    }
    char line[1024];
    size_t lineno = 0, cap = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line + strspn(line, " \t");
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        char hash[128], principal[256], roles[256], extra[8];
        int n = sscanf(p, "%127s %255s %255s %7s", hash, principal, roles, extra);
        token_entry e;
        memset(&e, 0, sizeof e);
        size_t bin_len = 0;
        if (n != 3 || strncmp(hash, "sha256:", 7) != 0 || strlen(hash) != 7 + 64 ||
            sodium_hex2bin(e.hash, sizeof e.hash, hash + 7, 64, NULL, &bin_len, NULL) != 0 ||
            bin_len != 32) {
            snprintf(err, err_len, "%s:%zu: expected \"sha256:<64 hex digits> PRINCIPAL ROLE[,ROLE]\"", path, lineno);
            rc = -1;
            break;
        }
        if (!cutoff_id_valid(principal)) {
            snprintf(err, err_len, "%s:%zu: principal \"%.64s\" is not 1-128 of [A-Za-z0-9._:-]", path, lineno, principal);
            rc = -1;
            break;
        }
        if (tokens_parse_roles(roles, &e.roles) != 0) {
            snprintf(err, err_len, "%s:%zu: roles \"%.64s\": use viewer, investigator, enforcer, approver, admin", path, lineno, roles);
            rc = -1;
            break;
        }
        memcpy(e.principal, principal, strlen(principal) + 1); /* an id: at most 128 bytes */
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
    fclose(f);
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
