/* SPDX-License-Identifier: Apache-2.0 */
/*
 * text.h - messages of the programs that quote what came from outside (a
 * key, a header, a path, a line of a file). Part of libcutoff-common (see
 * common/tokens.h), not of libcutoff.
 */
#ifndef CUTOFF_COMMON_TEXT_H
#define CUTOFF_COMMON_TEXT_H

/* Makes a message one line of valid UTF-8, in place: control bytes and the
 * bytes of invalid or cut UTF-8 sequences become '?'. Returns s. */
char *co__msg_clean(char *s);

#endif /* CUTOFF_COMMON_TEXT_H */
