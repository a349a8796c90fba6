/* SPDX-License-Identifier: Apache-2.0 */
/*
 * version.c - the library's own version, compiled in from cutoff.h, so a
 * program can tell which release it has loaded at run time (the macro
 * CUTOFF_VERSION only says which header it was compiled against).
 */
#include "cutoff.h"

const char *cutoff_version(void)
{
    return CUTOFF_VERSION;
}
