/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node_line_jansson.h - the jansson-based reading of a node line, kept as
 * the reference that cutoff_node_parse_line is tested against.
 */
#ifndef CUTOFF_TEST_NODE_LINE_JANSSON_H
#define CUTOFF_TEST_NODE_LINE_JANSSON_H

#include "cutoff.h"

#include <stddef.h>

/* As cutoff_node_parse_line, through json_loadb. */
int ref_node_parse_line(char *line, size_t len, cutoff_node_spec *out, cutoff_diag *diag);

#endif
