/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_batch_line.c - fuzzes one line of "cutoff check --batch"
 * (cli_batch_line_parse) in a buffer of exactly the line and its NUL, so
 * AddressSanitizer sees any access past it. A line that parses gives ids
 * that lie inside the line (an action with a dot, a region or none), and
 * the line written back from them parses the same; a refusal is a
 * one-line message.
 */
#include "fuzz.h"

#include "cli/cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static bool inside(const char *s, const char *line, size_t size)
{
    return s >= line && s + strlen(s) <= line + size;
}

int co__fuzz_batch_line(const uint8_t *data, size_t size, cutoff_diag *diag)
{
    char *line = malloc(size + 1);
    FUZZ_CHECK(line != NULL);
    memcpy(line, data, size);
    line[size] = '\0';
    cutoff_request r;
    bool as_of;
    char why[600] = "";
    if (cli_batch_line_parse(line, size, &r, &as_of, why, sizeof why) != 0) {
        free(line);
        return co__fuzz_refused(CUTOFF_EPARSE, why, diag);
    }
    FUZZ_CHECK(inside(r.subscription, line, size) && cutoff_id_valid(r.subscription));
    FUZZ_CHECK(inside(r.action, line, size) && cutoff_id_valid(r.action) &&
               strchr(r.action, '.') != NULL);
    FUZZ_CHECK(r.region == NULL || (inside(r.region, line, size) && cutoff_id_valid(r.region)));
    char written[600];
    int n = snprintf(written, sizeof written, "%s\t%s\t%s\t%" PRId64, r.subscription, r.action,
                     r.region ? r.region : "-", r.at);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof written);
    cutoff_request again;
    bool again_as_of;
    FUZZ_CHECK(cli_batch_line_parse(written, (size_t)n, &again, &again_as_of, why, sizeof why) ==
                   0 &&
               !again_as_of);
    FUZZ_CHECK(strcmp(r.subscription, again.subscription) == 0 &&
               strcmp(r.action, again.action) == 0 && r.at == again.at &&
               (r.region == NULL) == (again.region == NULL) &&
               (r.region == NULL || strcmp(r.region, again.region) == 0));
    free(line);
    return 0;
}

#ifndef CUTOFF_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cutoff_diag diag;
    co__fuzz_batch_line(data, size, &diag);
    return 0;
}
#endif
