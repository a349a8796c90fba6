/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench.h - what the benchmark programs share besides the synthetic world:
 * clocks (a monotonic wall clock, and the CPU's time-stamp counter for
 * timing single calls, calibrated against it), process memory (VmRSS,
 * malloc's heap in use), the result lines that bench/run.sh turns into the
 * table of BENCHMARKS.md, and the plain open-addressing table of ids that
 * the decision benchmarks use as their baseline.
 *
 * A result line is
 *   result name=NAME unit=UNIT median=X min=X max=X runs=N
 * and an informational line is "info KEY=VALUE". Header-only for the same
 * reason as synth.h: every .c file of bench/ is a program of its own.
 */
#ifndef CUTOFF_BENCH_H
#define CUTOFF_BENCH_H

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define BENCH_HAVE_TSC 1
#endif

/* ---- clocks ----------------------------------------------------------------- */

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Ticks for timing one call. On x86 the time-stamp counter, fenced so that
 * the timed call can neither start before the first read nor finish after
 * the second; elsewhere the monotonic clock in nanoseconds. */
static inline uint64_t bench_tick_start(void)
{
#ifdef BENCH_HAVE_TSC
    _mm_lfence();
    uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
#else
    return bench_now_ns();
#endif
}

static inline uint64_t bench_tick_end(void)
{
#ifdef BENCH_HAVE_TSC
    unsigned aux;
    uint64_t t = __rdtscp(&aux);
    _mm_lfence();
    return t;
#else
    return bench_now_ns();
#endif
}

/* Nanoseconds per tick, measured over ~200 ms against the monotonic clock. */
static inline double bench_ns_per_tick(void)
{
#ifdef BENCH_HAVE_TSC
    uint64_t n0 = bench_now_ns(), t0 = bench_tick_start();
    while (bench_now_ns() - n0 < 200000000u)
        ;
    uint64_t n1 = bench_now_ns(), t1 = bench_tick_end();
    return (double)(n1 - n0) / (double)(t1 - t0);
#else
    return 1.0;
#endif
}

static inline int bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The cost of the timing itself: the median of many empty timed regions,
 * in ticks. It is subtracted from every timed call. */
static inline uint64_t bench_tick_overhead(void)
{
    enum { N = 100001 };
    uint64_t *v = malloc(N * sizeof *v);
    if (v == NULL)
        return 0;
    for (int i = 0; i < N; i++) {
        uint64_t t0 = bench_tick_start();
        v[i] = bench_tick_end() - t0;
    }
    qsort(v, N, sizeof *v, bench_cmp_u64);
    uint64_t m = v[N / 2];
    free(v);
    return m;
}

/* ---- memory -------------------------------------------------------------------- */

/* The process's resident set in bytes (VmRSS of /proc/self/status). */
static inline uint64_t bench_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t kib = 0;
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtoull(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib * 1024;
}

/* Bytes malloc has handed out and not yet had back (arena and mmap). */
static inline uint64_t bench_heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

/* ---- results --------------------------------------------------------------------- */

/* Prints a result line: median, min and max of v[0..n) (v is sorted). */
static inline void bench_result(const char *name, const char *unit, double *v, size_t n)
{
    if (n == 0)
        return;
    qsort(v, n, sizeof *v, bench_cmp_double);
    double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    printf("result name=%s unit=%s median=%.6g min=%.6g max=%.6g runs=%zu\n", name, unit, median,
           v[0], v[n - 1], n);
    fflush(stdout);
}

static inline void bench_result1(const char *name, const char *unit, double value)
{
    bench_result(name, unit, &value, 1);
}

/* ---- the baseline: a plain open-addressing table of ids ----------------------------
 * What any id -> record lookup must at least do: hash the string (the same
 * XXH3 the engine uses), probe linearly, compare length and bytes. Slots
 * hold a pointer to the key in one pool, its length and a value. */
typedef struct bench_slot {
    const char *key;
    uint32_t len;
    uint32_t value;
} bench_slot;

typedef struct bench_table {
    bench_slot *slots;
    uint64_t mask;
    char *pool;
    size_t pool_bytes;
} bench_table;

static inline void bench_table_free(bench_table *t)
{
    free(t->slots);
    free(t->pool);
    memset(t, 0, sizeof *t);
}

/* Builds the table of ids[0..n) (value: the index), at most 2/3 full like
 * the engine's. Returns 0, or -1 when out of memory. */
static inline int bench_table_build(bench_table *t, const char *const *ids, size_t n)
{
    uint64_t slots = 8;
    while (slots < n + n / 2 + 1)
        slots *= 2;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(ids[i]) + 1;
    t->pool = malloc(bytes ? bytes : 1);
    t->slots = calloc(slots, sizeof *t->slots);
    t->mask = slots - 1;
    t->pool_bytes = bytes;
    if (t->pool == NULL || t->slots == NULL) {
        bench_table_free(t);
        return -1;
    }
    char *p = t->pool;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(ids[i]);
        memcpy(p, ids[i], len + 1);
        uint64_t h = XXH3_64bits(p, len) & t->mask;
        while (t->slots[h].key != NULL)
            h = (h + 1) & t->mask;
        t->slots[h] = (bench_slot){p, (uint32_t)len, (uint32_t)i};
        p += len + 1;
    }
    return 0;
}

/* The value of id, or UINT32_MAX. */
static inline uint32_t bench_table_find(const bench_table *t, const char *id)
{
    size_t len = strlen(id);
    for (uint64_t h = XXH3_64bits(id, len) & t->mask;; h = (h + 1) & t->mask) {
        const bench_slot *s = &t->slots[h];
        if (s->key == NULL)
            return UINT32_MAX;
        if (s->len == len && memcmp(s->key, id, len) == 0)
            return s->value;
    }
}

static inline size_t bench_table_memory(const bench_table *t)
{
    return (size_t)(t->mask + 1) * sizeof *t->slots + t->pool_bytes;
}

#endif
