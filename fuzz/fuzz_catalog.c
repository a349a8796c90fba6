/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_catalog.c - fuzzes cutoff_catalog_parse. A catalog that parses must
 * write out canonical JSON that parses to the same catalog and writes out
 * the same text again; a copy must write the same text too.
 */
#include "fuzz.h"

#include "format/format.h"

#include <string.h>

static int same_catalog(const cutoff_catalog_spec *a, const cutoff_catalog_spec *b)
{
    if (a->n_actions != b->n_actions || a->n_regions != b->n_regions || a->n_plans != b->n_plans)
        return 0;
    for (size_t i = 0; i < a->n_actions; i++)
        if (strcmp(a->actions[i].name, b->actions[i].name) != 0 ||
            a->actions[i].cls != b->actions[i].cls)
            return 0;
    for (size_t i = 0; i < a->n_regions; i++)
        if (strcmp(a->regions[i], b->regions[i]) != 0)
            return 0;
    for (size_t i = 0; i < a->n_plans; i++) {
        if (strcmp(a->plans[i].name, b->plans[i].name) != 0 ||
            a->plans[i].n_services != b->plans[i].n_services)
            return 0;
        for (size_t j = 0; j < a->plans[i].n_services; j++)
            if (strcmp(a->plans[i].services[j], b->plans[i].services[j]) != 0)
                return 0;
    }
    return 1;
}

int co__fuzz_catalog(const uint8_t *data, size_t size, cutoff_diag *diag)
{
    cutoff_catalog_spec *c = NULL, *again = NULL, *copy = NULL;
    char *text = NULL, *text_again = NULL, *text_copy = NULL;
    int rc = cutoff_catalog_parse((const char *)data, size, &c, diag);
    if (rc != 0) {
        FUZZ_CHECK(c == NULL);
        co__fuzz_check_failure(rc, diag);
        return rc;
    }
    cutoff_diag d2;
    FUZZ_CHECK(cutoff_catalog_to_json(c, &text) == 0);
    FUZZ_CHECK(cutoff_catalog_parse(text, strlen(text), &again, &d2) == 0);
    FUZZ_CHECK(same_catalog(c, again));
    FUZZ_CHECK(cutoff_catalog_to_json(again, &text_again) == 0);
    FUZZ_CHECK(strcmp(text, text_again) == 0);
    FUZZ_CHECK(co__catalog_copy(c, &copy) == 0);
    FUZZ_CHECK(cutoff_catalog_to_json(copy, &text_copy) == 0);
    FUZZ_CHECK(strcmp(text, text_copy) == 0);
    cutoff_free(text);
    cutoff_free(text_again);
    cutoff_free(text_copy);
    cutoff_catalog_free(c);
    cutoff_catalog_free(again);
    cutoff_catalog_free(copy);
    return 0;
}

#ifndef CUTOFF_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cutoff_diag diag;
    co__fuzz_catalog(data, size, &diag);
    return 0;
}
#endif
