/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_tokens.c - fuzzes the tokens file: cutoffd's reader (tokens_read)
 * on the whole input, and the shared line grammar (co__token_line_parse)
 * on each of its lines. A file that loads must hold exactly the entries of
 * its lines that parse as entries, in order (a long comment must not turn
 * into an entry); each entry has a valid principal and known roles, and
 * its line as the CLI writes it parses to the same entry. A line with a
 * NUL byte is refused. A refusal is a one-line message.
 */
#include "fuzz.h"

#include "daemon/tokens.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALL_ROLES                                                                                  \
    (CO__ROLE_VIEWER | CO__ROLE_INVESTIGATOR | CO__ROLE_ENFORCER | CO__ROLE_APPROVER |             \
     CO__ROLE_ADMIN)

/* Checks one line; its entry, when it is one, goes to *entry. */
static int check_line(const char *line, co__token_line *entry)
{
    char why[256] = "";
    int kind = co__token_line_parse(line, entry, why, sizeof why);
    FUZZ_CHECK(kind >= -1 && kind <= 1);
    if (kind < 0) {
        co__fuzz_check_message(why, sizeof why);
    } else if (kind == 1) {
        FUZZ_CHECK(cutoff_id_valid(entry->principal));
        FUZZ_CHECK(entry->roles != 0 && (entry->roles & ~(unsigned)ALL_ROLES) == 0);
        char hex[65], roles[CO__ROLES_TEXT_MAX], written[512];
        sodium_bin2hex(hex, sizeof hex, entry->hash, sizeof entry->hash);
        snprintf(written, sizeof written, "sha256:%s %s %s\n", hex, entry->principal,
                 co__roles_text(entry->roles, roles, sizeof roles));
        co__token_line again;
        FUZZ_CHECK(co__token_line_parse(written, &again, why, sizeof why) == 1);
        FUZZ_CHECK(memcmp(&again, entry, sizeof again) == 0);
    }
    return kind;
}

int co__fuzz_tokens(const uint8_t *data, size_t size, cutoff_diag *diag)
{
    FUZZ_CHECK(sodium_init() >= 0);
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    FILE *f = size ? fmemopen(text, size, "r") : fopen("/dev/null", "r");
    FUZZ_CHECK(f != NULL);
    token_table *t = NULL;
    char err[512] = "";
    int rc = tokens_read(f, "tokens", &t, err, sizeof err);
    fclose(f);

    /* Every line on its own, and what the file must hold. */
    size_t entries = 0;
    bool bad = false;
    for (char *p = text, *end = text + size; p < end && !bad;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl ? nl : end;
        *line_end = '\0';
        co__token_line entry;
        int kind = memchr(p, '\0', (size_t)(line_end - p)) ? -1 : check_line(p, &entry);
        if (kind < 0) {
            bad = true;
        } else if (kind == 1 && rc == 0) {
            FUZZ_CHECK(entries < t->n);
            const token_entry *e = &t->entries[entries];
            FUZZ_CHECK(memcmp(e->hash, entry.hash, sizeof e->hash) == 0 &&
                       strcmp(e->principal, entry.principal) == 0 && e->roles == entry.roles);
        }
        entries += kind == 1;
        p = line_end + 1;
    }
    free(text);
    FUZZ_CHECK((rc == 0) == !bad);
    if (rc == 0) {
        FUZZ_CHECK(t->n == entries);
        tokens_free(t);
        return 0;
    }
    return co__fuzz_refused(CUTOFF_EPARSE, err, diag);
}

#ifndef CUTOFF_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cutoff_diag diag;
    co__fuzz_tokens(data, size, &diag);
    return 0;
}
#endif
