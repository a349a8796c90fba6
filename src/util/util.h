/* SPDX-License-Identifier: Apache-2.0 */
/*
 * util.h - small helpers every part of cutoff may use: the allocation
 * wrapper (so tests can inject failures and count leaks), growable byte
 * buffers, diagnostics, and string hashing.
 */
#ifndef CUTOFF_UTIL_H
#define CUTOFF_UTIL_H

#include "cutoff.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/clock.h"

/* ---- allocation ---------------------------------------------------------
 * All library allocations go through these. They return NULL on failure
 * like malloc; co__alloc_fail_after(n) makes the n-th next allocation (and
 * every later one) fail, for out-of-memory tests; -1 turns that off. */
void *co__malloc(size_t n);
void *co__calloc(size_t count, size_t size);
void *co__realloc(void *p, size_t n);
void co__free(void *p);
/* Asks the kernel to back the not yet touched bytes [p, p + size) with
 * huge pages where it can: large arrays read or filled at random then
 * miss the TLB less, and fault in 2 MiB at a time. Advice only. */
void co__advise_huge(void *p, size_t size);
char *co__strdup(const char *s);
char *co__strndup(const char *s, size_t n);
void co__alloc_fail_after(long n);
/* Makes only the n-th next allocation fail and later ones succeed again,
 * as a transient shortage would: code that goes on after a failure (a
 * fallback value, a list left short) is caught committing it. */
void co__alloc_fail_once(long n);
/* Disarms either kind of injection; true when the armed failure happened. */
bool co__alloc_fail_stop(void);
/* Live allocations made through the wrapper (for leak checks in tests). */
long co__alloc_live(void);

/* ---- growable buffer ---------------------------------------------------- */
typedef struct co__buf {
    char *data;
    size_t len, cap;
    bool failed; /* an append ran out of memory; the content is truncated */
} co__buf;

void co__buf_init(co__buf *b);
void co__buf_free(co__buf *b);
int co__buf_reserve(co__buf *b, size_t extra);
int co__buf_append(co__buf *b, const void *p, size_t n);
int co__buf_puts(co__buf *b, const char *s);
int co__buf_printf(co__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the NUL-terminated content to the caller (from co__malloc: release
 * with co__free, or cutoff_free once it leaves the library); NULL when an
 * earlier append failed or out of memory. */
char *co__buf_take(co__buf *b);

/* ---- diagnostics -------------------------------------------------------- */
/* Fills diag (if not NULL) and returns code. */
int co__diag(cutoff_diag *diag, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes an existing message, e.g. with "line 12: ". */
void co__diag_prefix(cutoff_diag *diag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void co__diag_clear(cutoff_diag *diag);

/* ---- hashing ------------------------------------------------------------ */
/* XXH3, inlined: ids are hashed on every check, where a call through the
 * shared library's PLT costs as much as the hash itself. */
#define XXH_INLINE_ALL
#include <xxhash.h>

static inline uint64_t co__hash(const void *p, size_t n)
{
    if (n <= 16)
        return XXH3_len_0to16_64b((const xxh_u8 *)p, n, XXH3_kSecret, 0);
    return XXH3_64bits(p, n);
}

/* ---- strings ------------------------------------------------------------ */
/* The code point of the UTF-8 sequence at s and its length, or 0 when it
 * is not valid UTF-8 (overlong, a surrogate, past U+10FFFF, cut short). */
size_t co__utf8_decode(const unsigned char *s, uint32_t *cp);
/* Characters that hide or reorder text: controls (Cc), format characters
 * (Cf, Unicode 15), line and paragraph separators, invisible fillers that
 * render as nothing, and noncharacters. */
bool co__hidden_char(uint32_t cp);

/* Copies a string into buf for messages, escaping quotes, backslashes,
 * bytes that are not UTF-8 (\xNN) and the characters co__hidden_char
 * names (\u{XXXX}: controls, bidi overrides, zero-width characters), so
 * the result is valid UTF-8, safe in JSON and shows on a terminal what it
 * holds; it is cut to fit at a character boundary. Returns buf. */
const char *co__quote(const char *s, char *buf, size_t size);

/* ---- free text ---------------------------------------------------------- */
/* The one rule for free text that enters cutoff (titles, notes, reasons,
 * findings, evidence file names, node names, notice fields): valid UTF-8
 * without characters that hide or reorder what a reader sees, which are
 * control characters (C0, DEL, C1), format characters (Unicode category Cf:
 * bidi embeddings, overrides and isolates U+202A-U+202E and U+2066-U+2069,
 * marks such as U+200E, zero-width characters U+200B-U+200D, U+2060,
 * U+FEFF, soft hyphen, tag characters U+E0000-U+E007F, ...), the line and
 * paragraph separators U+2028 and U+2029, and noncharacters. A multi-line
 * field (findings, evidence notes) may also hold LF and TAB. */
#define CO__TEXT_OPTIONAL 1u  /* NULL or "" is fine */
#define CO__TEXT_MULTILINE 2u /* LF and TAB are allowed */
/* Checks s under the rule above and at most max bytes (0: no limit).
 * `what` names the field in the message ("case title"). Returns 0,
 * CUTOFF_EINVAL (missing, empty, not UTF-8, a refused character: the
 * message names it as U+XXXX and its byte offset) or CUTOFF_ELIMIT. */
int co__text_check(const char *s, size_t max, unsigned flags, const char *what, cutoff_diag *diag);

#endif
