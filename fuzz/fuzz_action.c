/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_action.c - fuzzes cutoff_action_parse. An action that parses must
 * be a valid draft, write out JSON that parses to the same action (also
 * when the lifecycle fields are kept) and writes the same text again, and
 * copy to an action that writes the same text.
 */
#include "fuzz.h"

#include "format/format.h"

#include <string.h>

static int same_strings(const char *const *a, const char *const *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    return 1;
}

static int same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int same_action(const cutoff_action_spec *a, const cutoff_action_spec *b)
{
    if (!same_text(a->id, b->id) || strcmp(a->case_id, b->case_id) != 0 ||
        a->n_scope != b->n_scope || a->n_deny != b->n_deny || a->n_except != b->n_except ||
        a->n_regions != b->n_regions || a->n_phases != b->n_phases || a->status != b->status ||
        a->state != b->state || a->version != b->version || a->activated_at != b->activated_at)
        return 0;
    for (size_t i = 0; i < a->n_phases; i++)
        if (a->phases[i].at != b->phases[i].at || a->phases[i].relative != b->phases[i].relative ||
            a->phases[i].mode != b->phases[i].mode)
            return 0;
    return same_strings(a->scope, b->scope, a->n_scope) &&
           same_strings(a->deny, b->deny, a->n_deny) &&
           same_strings(a->except, b->except, a->n_except) &&
           same_strings(a->regions, b->regions, a->n_regions) &&
           same_text(a->notice.summary, b->notice.summary) &&
           same_text(a->notice.terms, b->notice.terms) &&
           same_text(a->notice.contact, b->notice.contact) &&
           same_text(a->notice.ref, b->notice.ref);
}

int co__fuzz_action(const uint8_t *data, size_t size, cutoff_diag *diag)
{
    cutoff_action_spec *a = NULL, *again = NULL, *kept = NULL, *copy = NULL;
    char *text = NULL, *text_again = NULL, *text_copy = NULL;
    int rc = cutoff_action_parse((const char *)data, size, &a, diag);
    if (rc != 0) {
        FUZZ_CHECK(a == NULL);
        co__fuzz_check_failure(rc, diag);
        return rc;
    }
    cutoff_diag d2;
    FUZZ_CHECK(a->state == CUTOFF_STATE_DRAFT && a->version == 0 && a->activated_at == 0);
    FUZZ_CHECK(a->status == 403 || a->status == 451);
    FUZZ_CHECK(a->n_scope > 0 && a->n_deny > 0 && a->n_phases > 0 && a->notice.summary != NULL);
    for (size_t i = 0; i < a->n_scope; i++)
        FUZZ_CHECK(cutoff_id_valid(a->scope[i]));
    for (size_t i = 0; i < a->n_deny; i++)
        FUZZ_CHECK(cutoff_pattern_check(a->deny[i], NULL) == 0);
    FUZZ_CHECK(cutoff_action_to_json(a, &text) == 0);
    FUZZ_CHECK(cutoff_action_parse(text, strlen(text), &again, &d2) == 0);
    FUZZ_CHECK(same_action(a, again));
    FUZZ_CHECK(cutoff_action_to_json(again, &text_again) == 0);
    FUZZ_CHECK(strcmp(text, text_again) == 0);
    FUZZ_CHECK(co__action_parse_ex(text, strlen(text), CO__ACTION_KEEP_LIFECYCLE, &kept, &d2) == 0);
    FUZZ_CHECK(same_action(a, kept));
    FUZZ_CHECK(cutoff_action_copy(a, &copy) == 0);
    FUZZ_CHECK(same_action(a, copy));
    FUZZ_CHECK(cutoff_action_to_json(copy, &text_copy) == 0);
    FUZZ_CHECK(strcmp(text, text_copy) == 0);
    cutoff_free(text);
    cutoff_free(text_again);
    cutoff_free(text_copy);
    cutoff_action_free(a);
    cutoff_action_free(again);
    cutoff_action_free(kept);
    cutoff_action_free(copy);
    return 0;
}

#ifndef CUTOFF_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cutoff_diag diag;
    co__fuzz_action(data, size, &diag);
    return 0;
}
#endif
