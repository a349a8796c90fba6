/* SPDX-License-Identifier: Apache-2.0 */
/*
 * as_of.c - see as_of.h.
 */
#include "common/as_of.h"
#include "cutoff.h"

#include <jansson.h>

int co__decision_mark_as_of(char **text, int64_t as_of)
{
    json_t *d = *text ? json_loads(*text, 0, NULL) : NULL;
    char when[32];
    cutoff_free(*text);
    *text = NULL;
    if (d == NULL ||
        json_object_set_new(d, "as_of", json_string(cutoff_time_format(as_of, when))) ||
        json_object_set_new(d, "tree", json_string("current"))) {
        json_decref(d);
        return CUTOFF_ENOMEM;
    }
    *text = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(d);
    return *text ? 0 : CUTOFF_ENOMEM;
}
