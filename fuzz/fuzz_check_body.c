/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_check_body.c - fuzzes the bodies of POST /v1/check and
 * /v1/check/batch (decision_body_parse, decision_request_read), reading
 * every input both ways. A request that reads must have its subscription
 * and action, and read back the same from the JSON object it writes
 * (with "at" as Unix seconds); a refusal is EPARSE with a one-line
 * message, also for the item of a batch.
 */
#include "fuzz.h"

#include "daemon/daemon.h"

#include <stdlib.h>
#include <string.h>

static bool same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Reads one request; on success writes it out and reads it again. */
static int read_one(json_t *item, cutoff_diag *diag)
{
    cutoff_request r, again;
    char err[300];
    if (!decision_request_read(item, &r, NULL, err, sizeof err))
        return co__fuzz_refused(CUTOFF_EPARSE, err, diag);
    FUZZ_CHECK(r.subscription != NULL && r.action != NULL);
    json_t *o = json_pack("{s:s,s:s,s:s?,s:I}", "subscription", r.subscription, "action", r.action,
                          "region", r.region, "at", (json_int_t)r.at);
    FUZZ_CHECK(o != NULL);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    FUZZ_CHECK(text != NULL);
    json_t *requests;
    json_t *doc = decision_body_parse(text, strlen(text), false, &requests, err, sizeof err);
    FUZZ_CHECK(doc != NULL && requests == NULL);
    FUZZ_CHECK(decision_request_read(doc, &again, NULL, err, sizeof err));
    FUZZ_CHECK(same(r.subscription, again.subscription) && same(r.action, again.action) &&
               same(r.region, again.region) && r.at == again.at);
    json_decref(doc);
    free(text);
    return 0;
}

static int read_body(const uint8_t *data, size_t size, bool batch, cutoff_diag *diag)
{
    char err[300];
    json_t *requests;
    json_t *doc = decision_body_parse((const char *)data, size, batch, &requests, err, sizeof err);
    if (doc == NULL)
        return co__fuzz_refused(CUTOFF_EPARSE, err, diag);
    FUZZ_CHECK(batch == (requests != NULL));
    int rc = 0;
    if (!batch) {
        rc = read_one(doc, diag);
    } else {
        FUZZ_CHECK(json_is_array(requests) && json_object_size(doc) == 1);
        for (size_t i = 0; rc == 0 && i < json_array_size(requests); i++)
            rc = read_one(json_array_get(requests, i), diag);
    }
    json_decref(doc);
    return rc;
}

int co__fuzz_check_body(const uint8_t *data, size_t size, cutoff_diag *diag)
{
    cutoff_diag batch_diag;
    read_body(data, size, true, &batch_diag);
    return read_body(data, size, false, diag);
}

#ifndef CUTOFF_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cutoff_diag diag;
    co__fuzz_check_body(data, size, &diag);
    return 0;
}
#endif
