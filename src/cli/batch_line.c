/* SPDX-License-Identifier: Apache-2.0 */
/*
 * batch_line.c - the grammar of one line of "cutoff check --batch":
 * "subscription<TAB>action<TAB>region<TAB>time[<TAB>as-of]", checked whole
 * before any decision is made (batch.c reads the file and decides). The
 * optional fifth field, the word "as-of", asks for the decision as the
 * system stood at that time (check --as-of) instead of today's actions at
 * that time.
 */
#include "cli/cli.h"

#include <string.h>

/* Copies s for a message: printable ASCII kept, the rest as '?', cut. */
static const char *shown(const char *s, char buf[72])
{
    size_t i = 0;
    for (; i < 64 && s[i]; i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (i == 64 && s[i]) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

static const char *id_rule = "1-128 bytes of [A-Za-z0-9._:-]";

int cli_batch_line_parse(char *line, size_t len, cutoff_request *r, bool *as_of, char *why,
                         size_t why_size)
{
    char q[72];
    char *field[5];
    size_t n = 0;
    if (len > 0 && line[len - 1] == '\r')
        line[--len] = '\0';
    if (len == 0) {
        snprintf(why, why_size, "empty line; expected subscription<TAB>action<TAB>region<TAB>time");
        return -1;
    }
    if (memchr(line, '\0', len) != NULL) {
        snprintf(why, why_size, "contains a NUL byte");
        return -1;
    }
    field[n++] = line;
    for (char *p = line; *p; p++) {
        if (*p == '\t') {
            if (n == 5) {
                n++;
                break;
            }
            *p = '\0';
            field[n++] = p + 1;
        }
    }
    if (n < 4 || n > 5) {
        snprintf(why, why_size,
                 "expected 4 tab-separated fields (subscription, action, region, time) and "
                 "optionally \"as-of\", found %s",
                 n > 5    ? "more"
                 : n == 1 ? "1"
                 : n == 2 ? "2"
                          : "3");
        return -1;
    }
    if (n == 5 && strcmp(field[4], "as-of") != 0) {
        snprintf(why, why_size, "the fifth field \"%s\" is not \"as-of\"", shown(field[4], q));
        return -1;
    }
    if (!cutoff_id_valid(field[0])) {
        snprintf(why, why_size, "subscription \"%s\" is not an id (%s)", shown(field[0], q),
                 id_rule);
        return -1;
    }
    if (!cutoff_id_valid(field[1]) || strchr(field[1], '.') == NULL) {
        snprintf(why, why_size, "action \"%s\" is not SERVICE.ACTION (%s)", shown(field[1], q),
                 id_rule);
        return -1;
    }
    if (strcmp(field[2], "-") != 0 && !cutoff_id_valid(field[2])) {
        snprintf(why, why_size, "region \"%s\" is not \"-\" (none) or a region name (%s)",
                 shown(field[2], q), id_rule);
        return -1;
    }
    cutoff_diag diag = {0};
    if (cutoff_time_parse(field[3], &r->at, &diag) != 0) {
        snprintf(why, why_size, "%s", diag.message);
        return -1;
    }
    r->subscription = field[0];
    r->action = field[1];
    r->region = strcmp(field[2], "-") == 0 ? NULL : field[2];
    *as_of = n == 5;
    return 0;
}

int64_t cli_batch_earliest(const cutoff_request *reqs, const bool *as_of, size_t n, int64_t now)
{
    int64_t earliest = now;
    for (size_t i = 0; i < n; i++)
        if (reqs[i].at < earliest && !(as_of && as_of[i]))
            earliest = reqs[i].at;
    return earliest;
}
