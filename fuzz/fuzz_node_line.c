/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_node_line.c - fuzzes cutoff_node_parse_line on a buffer of exactly
 * the input's size, so AddressSanitizer sees any read or write past the
 * line. A line that parses must give valid ids, a known kind, a parent
 * exactly when the kind needs one, and strings that lie inside the line;
 * a line that fails must be left as it was.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

static int inside(const char *s, const char *line, size_t size)
{
    return s == NULL || (s >= line && s + strlen(s) < line + size);
}

int co__fuzz_node_line(const uint8_t *data, size_t size, cutoff_diag *diag)
{
    char *line = malloc(size ? size : 1);
    FUZZ_CHECK(line != NULL);
    if (size)
        memcpy(line, data, size);
    cutoff_node_spec node;
    int rc = cutoff_node_parse_line(line, size, &node, diag);
    if (rc != 0) {
        co__fuzz_check_failure(rc, diag);
        FUZZ_CHECK(size == 0 || memcmp(line, data, size) == 0);
    } else {
        FUZZ_CHECK(cutoff_id_valid(node.id));
        FUZZ_CHECK(node.kind >= CUTOFF_NODE_TENANT && node.kind <= CUTOFF_NODE_SUBSCRIPTION);
        FUZZ_CHECK((node.kind == CUTOFF_NODE_TENANT) == (node.parent == NULL));
        FUZZ_CHECK(node.parent == NULL || cutoff_id_valid(node.parent));
        FUZZ_CHECK(node.plan == NULL || cutoff_id_valid(node.plan));
        FUZZ_CHECK(inside(node.id, line, size) && inside(node.parent, line, size) &&
                   inside(node.name, line, size) && inside(node.plan, line, size));
    }
    free(line);
    return rc;
}

#ifndef CUTOFF_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cutoff_diag diag;
    co__fuzz_node_line(data, size, &diag);
    return 0;
}
#endif
