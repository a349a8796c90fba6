/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alloc.c - the one allocation wrapper of the library and the growable
 * buffer. Failure injection lets tests prove that every path returns
 * CUTOFF_ENOMEM instead of crashing, and the live count finds leaks.
 */
#include "util/util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* The failure switch is read on every allocation and written only by
 * tests: it keeps a cache line of its own, away from the counters. */
static _Alignas(64) _Atomic long fail_after = -1;
static _Atomic bool fail_once; /* disarm after the failure */

/* The live count is split over cache lines, one per thread (round robin):
 * jansson allocates several times per node line while an import parses
 * on every core, and one shared counter made the cores take turns at its
 * line (half again the parse time on two cores). A block freed on another
 * thread than the one that allocated it moves the count between shards;
 * only the sum means anything. */
#define LIVE_SHARDS 16
static struct {
    _Alignas(64) _Atomic long n;
} live[LIVE_SHARDS];
static _Atomic unsigned next_shard;
static _Thread_local unsigned my_shard; /* 1-based; 0: not chosen yet */

static _Atomic long *live_count(void)
{
    if (my_shard == 0)
        my_shard =
            atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) % LIVE_SHARDS + 1;
    return &live[my_shard - 1].n;
}

static bool should_fail(void)
{
    long n = atomic_load_explicit(&fail_after, memory_order_relaxed);
    /* Unarmed, this is the one load above. Armed, each allocation counts
     * down exactly once, also when several threads allocate. */
    while (n >= 0) {
        long next = n > 0 ? n - 1 : atomic_load(&fail_once) ? -1 : 0;
        if (atomic_compare_exchange_weak_explicit(&fail_after, &n, next, memory_order_relaxed,
                                                  memory_order_relaxed))
            return n == 0;
    }
    return false;
}

void co__alloc_fail_after(long n)
{
    atomic_store(&fail_once, false);
    atomic_store(&fail_after, n);
}

void co__alloc_fail_once(long n)
{
    atomic_store(&fail_once, true);
    atomic_store(&fail_after, n);
}

bool co__alloc_fail_stop(void)
{
    bool once = atomic_load(&fail_once);
    long left = atomic_exchange(&fail_after, -1);
    atomic_store(&fail_once, false);
    return once ? left < 0 : left == 0;
}

long co__alloc_live(void)
{
    long sum = 0;
    for (size_t i = 0; i < LIVE_SHARDS; i++)
        sum += atomic_load(&live[i].n);
    return sum;
}

void *co__malloc(size_t n)
{
    if (should_fail())
        return NULL;
    void *p = malloc(n ? n : 1);
    if (p)
        atomic_fetch_add_explicit(live_count(), 1, memory_order_relaxed);
    return p;
}

void *co__calloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p)
        atomic_fetch_add_explicit(live_count(), 1, memory_order_relaxed);
    return p;
}

void *co__realloc(void *p, size_t n)
{
    if (p == NULL)
        return co__malloc(n);
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void co__free(void *p)
{
    if (p == NULL)
        return;
    atomic_fetch_sub_explicit(live_count(), 1, memory_order_relaxed);
    free(p);
}

char *co__strndup(const char *s, size_t n)
{
    char *d = co__malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *co__strdup(const char *s)
{
    return s ? co__strndup(s, strlen(s)) : NULL;
}

void co__buf_init(co__buf *b)
{
    memset(b, 0, sizeof *b);
}

void co__buf_free(co__buf *b)
{
    co__free(b->data);
    co__buf_init(b);
}

int co__buf_reserve(co__buf *b, size_t extra)
{
    if (b->failed)
        return CUTOFF_ENOMEM;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = co__realloc(b->data, cap);
    if (p == NULL) {
        b->failed = true;
        return CUTOFF_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int co__buf_append(co__buf *b, const void *p, size_t n)
{
    if (co__buf_reserve(b, n) != 0)
        return CUTOFF_ENOMEM;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int co__buf_puts(co__buf *b, const char *s)
{
    return co__buf_append(b, s, strlen(s));
}

int co__buf_printf(co__buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || co__buf_reserve(b, (size_t)n) != 0)
        return CUTOFF_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *co__buf_take(co__buf *b)
{
    if (b->failed) {
        co__buf_free(b);
        return NULL;
    }
    if (b->data == NULL && co__buf_reserve(b, 0) != 0)
        return NULL;
    char *p = b->data;
    co__buf_init(b);
    return p;
}

void cutoff_free(void *p)
{
    co__free(p);
}

/* Only the 2 MiB-aligned middle of a block can be advised; a kernel
 * without transparent huge pages just says no. */
void co__advise_huge(void *p, size_t size)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = 2u << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)p + size) & ~(huge - 1);
    if (p != NULL && hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p;
    (void)size;
#endif
}
