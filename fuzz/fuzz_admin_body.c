/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_admin_body.c - fuzzes the JSON bodies of the admin calls that take
 * one (admin_body_read: case.open, case.findings, action.lift), reading
 * every input as each of them. A body that reads must be an object with
 * only the call's keys, the required ones there, strings where strings go
 * and arrays of strings where arrays go, and read the same again from its
 * own JSON text; a refusal is EPARSE with a one-line message. The calls
 * whose body is a library document (catalog.load, action.propose,
 * nodes.import) are the catalog, action and node_line drivers'.
 */
#include "fuzz.h"

#include "daemon/daemon.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *verb;
    const char *keys[4]; /* '!': required */
    const char *types;   /* 's' string, 'a' array of strings */
} calls[] = {
    {"case.open", {"!title", "!scope", "id", NULL}, "sas"},
    {"case.findings", {"!findings", NULL}, "s"},
    {"action.lift", {"reason", NULL}, "s"},
};
#define N_CALLS (sizeof calls / sizeof calls[0])

static void check_shape(size_t c, json_t *o)
{
    FUZZ_CHECK(json_is_object(o));
    size_t known = 0;
    for (size_t i = 0; calls[c].keys[i]; i++) {
        const char *key = calls[c].keys[i] + (calls[c].keys[i][0] == '!');
        json_t *v = json_object_get(o, key);
        if (v == NULL) {
            FUZZ_CHECK(calls[c].keys[i][0] != '!');
            continue;
        }
        known++;
        if (calls[c].types[i] == 's') {
            FUZZ_CHECK(json_is_string(v));
        } else {
            FUZZ_CHECK(json_is_array(v));
            for (size_t k = 0; k < json_array_size(v); k++)
                FUZZ_CHECK(json_is_string(json_array_get(v, k)));
        }
    }
    FUZZ_CHECK(json_object_size(o) == known);
}

static int read_as(size_t c, const uint8_t *data, size_t size, cutoff_diag *diag)
{
    char detail[400];
    json_t *o = admin_body_read(calls[c].verb, (const char *)data, size, detail, sizeof detail);
    if (o == NULL)
        return co__fuzz_refused(CUTOFF_EPARSE, detail, diag);
    check_shape(c, o);
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    FUZZ_CHECK(text != NULL);
    json_t *again = admin_body_read(calls[c].verb, text, strlen(text), detail, sizeof detail);
    FUZZ_CHECK(again != NULL && json_equal(o, again));
    json_decref(again);
    json_decref(o);
    free(text);
    return 0;
}

/* Accepted when some call takes the input; else the first call's refusal. */
int co__fuzz_admin_body(const uint8_t *data, size_t size, cutoff_diag *diag)
{
    bool accepted = false;
    for (size_t c = 0; c < N_CALLS; c++) {
        cutoff_diag one;
        if (read_as(c, data, size, &one) == 0)
            accepted = true;
        else if (c == 0)
            *diag = one;
    }
    return accepted ? 0 : diag->code;
}

#ifndef CUTOFF_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cutoff_diag diag;
    co__fuzz_admin_body(data, size, &diag);
    return 0;
}
#endif
