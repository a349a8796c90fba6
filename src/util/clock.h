/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clock.h - the monotonic clock, for durations and deadlines (never for
 * dates). Header-only: the programs include it too, and it links nothing
 * of the library.
 */
#ifndef CUTOFF_UTIL_CLOCK_H
#define CUTOFF_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t co__monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t co__monotonic_ms(void)
{
    return co__monotonic_us() / 1000;
}

#endif
