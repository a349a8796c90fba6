/* SPDX-License-Identifier: Apache-2.0 */
/*
 * as_of.h - how an as-of decision says so, the same from the CLI and from
 * cutoffd (docs/design.md, the decision JSON). Part of libcutoff-common
 * (see common/tokens.h), not of libcutoff.
 */
#ifndef CUTOFF_COMMON_AS_OF_H
#define CUTOFF_COMMON_AS_OF_H

#include <stdint.h>

/* Adds to a decision's JSON text "as_of" (the instant whose actions and
 * catalog decided, RFC 3339) and "tree": "current" (there is no node
 * history). *text is a JSON object released with cutoff_free and is
 * replaced by the marked text (also released with cutoff_free). Returns 0,
 * or CUTOFF_ENOMEM with *text NULL. */
int co__decision_mark_as_of(char **text, int64_t as_of);

#endif /* CUTOFF_COMMON_AS_OF_H */
