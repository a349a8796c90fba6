/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_time.c - fuzzes the small grammars the documents rely on: times
 * (a time in the range documents allow formats and reads back the same),
 * relative offsets, ids, action patterns and region patterns.
 */
#include "fuzz.h"

#include "format/format.h"

#include <stdlib.h>
#include <string.h>

int co__fuzz_time(const uint8_t *data, size_t size, cutoff_diag *diag)
{
    if (size > 256)
        size = 256; /* every grammar here is short */
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';

    int64_t t, again;
    int rc = cutoff_time_parse(text, &t, diag);
    if (rc != 0) {
        co__fuzz_check_failure(rc, diag);
    } else if (t >= CO__TIME_MIN && t <= CO__TIME_MAX) {
        char buf[32];
        cutoff_diag d2;
        cutoff_time_format(t, buf);
        FUZZ_CHECK(cutoff_time_parse(buf, &again, &d2) == 0);
        FUZZ_CHECK(again == t);
    }

    cutoff_diag d3;
    int64_t offset;
    if (cutoff_offset_parse(text, &offset, &d3) == 0)
        FUZZ_CHECK(offset >= 0);
    else
        co__fuzz_check_failure(d3.code, &d3);

    if (cutoff_id_valid(text))
        FUZZ_CHECK(size >= 1 && strlen(text) <= CUTOFF_ID_MAX);
    if (cutoff_pattern_check(text, &d3) == 0)
        FUZZ_CHECK(cutoff_pattern_match(text, text) == 1);
    if (text[0] != '\0')
        FUZZ_CHECK(cutoff_region_match(text, NULL) == (strcmp(text, "*") == 0));
    free(text);
    return rc;
}

#ifndef CUTOFF_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cutoff_diag diag;
    co__fuzz_time(data, size, &diag);
    return 0;
}
#endif
