/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokens.c - the grammar of the tokens file (see tokens.h): role names and
 * masks, and one line "sha256:<64 hex> PRINCIPAL ROLE[,ROLE...]". Part of
 * libcutoff-common, the programs' internal helpers, not of libcutoff.
 */
#include "common/tokens.h"

#include "common/text.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const role_names[] = {"viewer", "investigator", "enforcer", "approver", "admin"};
#define N_ROLES (sizeof role_names / sizeof role_names[0])

int co__roles_parse(const char *text, unsigned *out)
{
    unsigned roles = 0;
    const char *p = text;
    if (p == NULL || *p == '\0')
        return -1;
    for (;;) {
        size_t len = strcspn(p, ",");
        bool known = false;
        for (unsigned i = 0; i < N_ROLES; i++) {
            if (strlen(role_names[i]) == len && strncmp(role_names[i], p, len) == 0) {
                roles |= 1u << i;
                known = true;
            }
        }
        if (!known)
            return -1; /* includes the empty role of ",," and "viewer," */
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    *out = roles;
    return 0;
}

const char *co__roles_text(unsigned roles, char *buf, size_t n)
{
    if (n == 0)
        return buf;
    buf[0] = '\0';
    for (unsigned i = 0; i < N_ROLES; i++) {
        size_t used = strlen(buf);
        if (roles & (1u << i))
            snprintf(buf + used, n - used, "%s%s", used ? "," : "", role_names[i]);
    }
    return buf;
}

/* The next whitespace-separated word of *p, NUL-terminated into word (cut
 * to size); 0 when there is none. */
static size_t next_word(const char **p, char *word, size_t size)
{
    const char *s = *p + strspn(*p, " \t\r\n");
    size_t len = strcspn(s, " \t\r\n");
    size_t keep = len < size - 1 ? len : size - 1;
    memcpy(word, s, keep);
    word[keep] = '\0';
    *p = s + len;
    return len;
}

int co__token_line_parse(const char *line, co__token_line *out, char *why, size_t why_len)
{
    const char *p = line + strspn(line, " \t\r\n");
    if (*p == '\0' || *p == '#')
        return 0;

    char hash[80], principal[CUTOFF_ID_MAX + 2], roles[256], extra[8];
    size_t hash_len = next_word(&p, hash, sizeof hash);
    size_t principal_len = next_word(&p, principal, sizeof principal);
    size_t roles_len = next_word(&p, roles, sizeof roles);
    size_t extra_len = next_word(&p, extra, sizeof extra);
    size_t bin_len = 0;
    memset(out, 0, sizeof *out);
    if (principal_len == 0 || roles_len == 0 || extra_len != 0 || hash_len != 7 + 64 ||
        strncmp(hash, "sha256:", 7) != 0 ||
        sodium_hex2bin(out->hash, sizeof out->hash, hash + 7, 64, NULL, &bin_len, NULL) != 0 ||
        bin_len != sizeof out->hash) {
        snprintf(why, why_len, "expected \"sha256:<64 hex digits> PRINCIPAL ROLE[,ROLE]\"");
        return -1;
    }
    if (principal_len > CUTOFF_ID_MAX || !cutoff_id_valid(principal)) {
        /* the line is the file's own, but may hold anything: say which
         * bytes are wrong without echoing them */
        snprintf(why, why_len,
                 "principal is not a name of 1-128 bytes of [A-Za-z0-9._:-] (no spaces, "
                 "controls or non-ASCII letters)");
        return -1;
    }
    if (roles_len >= sizeof roles || co__roles_parse(roles, &out->roles) != 0) {
        snprintf(why, why_len, "roles \"%.64s\": use %s", roles, CO__ROLE_LIST);
        co__msg_clean(why);
        return -1;
    }
    memcpy(out->principal, principal, principal_len + 1);
    return 1;
}

int co__token_principal_clash(const char *principal, const char *earlier, char *why, size_t why_len)
{
    if (strcmp(principal, earlier) == 0 || !cutoff_actor_same(principal, earlier))
        return 0;
    snprintf(why, why_len,
             "principal \"%s\" differs from \"%s\" only by case; four eyes counts them as one "
             "person, so use one spelling",
             principal, earlier);
    return -1;
}
