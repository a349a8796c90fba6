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

static _Atomic long fail_after = -1;
static _Atomic long live;

static bool should_fail(void)
{
    long n = atomic_load_explicit(&fail_after, memory_order_relaxed);
    if (n < 0)
        return false;
    if (n == 0)
        return true;
    atomic_fetch_sub_explicit(&fail_after, 1, memory_order_relaxed);
    return false;
}

void co__alloc_fail_after(long n)
{
    atomic_store(&fail_after, n);
}

long co__alloc_live(void)
{
    return atomic_load(&live);
}

void *co__malloc(size_t n)
{
    if (should_fail())
        return NULL;
    void *p = malloc(n ? n : 1);
    if (p)
        atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
    return p;
}

void *co__calloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p)
        atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
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
    atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
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
