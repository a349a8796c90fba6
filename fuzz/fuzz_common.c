/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_common.c - what every fuzz driver shares: the check of a failed
 * call, and (outside the replay test) the abort on a broken invariant.
 */
#include "fuzz.h"

#include "format/format_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void co__fuzz_check_failure(int rc, const cutoff_diag *diag)
{
    FUZZ_CHECK(rc < 0);
    FUZZ_CHECK(strcmp(cutoff_errname(rc), "EUNKNOWN") != 0);
    FUZZ_CHECK(diag->code == rc);
    size_t n = strnlen(diag->message, sizeof diag->message);
    FUZZ_CHECK(n > 0 && n < sizeof diag->message);
    FUZZ_CHECK(strchr(diag->message, '\n') == NULL);
    FUZZ_CHECK(co__utf8_valid(diag->message));
}

void co__fuzz_check_message(const char *why, size_t size)
{
    size_t n = strnlen(why, size);
    FUZZ_CHECK(n > 0 && n < size);
    FUZZ_CHECK(strchr(why, '\n') == NULL && strchr(why, '\r') == NULL);
    FUZZ_CHECK(co__utf8_valid(why));
}

int co__fuzz_refused(int rc, const char *why, cutoff_diag *diag)
{
    co__fuzz_check_message(why, sizeof diag->message);
    diag->code = rc;
    snprintf(diag->message, sizeof diag->message, "%s", why);
    co__fuzz_check_failure(rc, diag);
    return rc;
}

#ifndef CUTOFF_FUZZ_REPLAY
void co__fuzz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n", file, line, what);
    abort();
}
#endif
