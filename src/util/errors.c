/* SPDX-License-Identifier: Apache-2.0 */
/*
 * errors.c - error names and messages from the one table in cutoff.h, and
 * the cutoff_diag helpers.
 */
#include "util/util.h"

#include <stdio.h>
#include <string.h>

/* One switch over the table per column; codes outside it get `fallback`. */
#define ERR_COLUMN(fn, type, column, fallback)                                                     \
    type fn(int rc)                                                                                \
    {                                                                                              \
        switch (rc) {                                                                              \
            CUTOFF_ERRNO_MAP(column)                                                               \
        }                                                                                          \
        return fallback;                                                                           \
    }
/* One case label per row (kept on one line each: the formatter would join them). */
/* clang-format off */
#define COL_MESSAGE(name, value, status, title, msg) case value: return msg;
#define COL_NAME(name, value, status, title, msg) case value: return #name;
#define COL_STATUS(name, value, status, title, msg) case value: return status;
#define COL_TITLE(name, value, status, title, msg) case value: return title;
/* clang-format on */

ERR_COLUMN(cutoff_strerror, const char *, COL_MESSAGE, "unknown error")
ERR_COLUMN(cutoff_errname, const char *, COL_NAME, "EUNKNOWN")
ERR_COLUMN(cutoff_error_http_status, int, COL_STATUS, 500)
ERR_COLUMN(cutoff_error_title, const char *, COL_TITLE, "Internal Server Error")

int cutoff_errcode(const char *name, int *code)
{
    static const struct {
        const char *name;
        int value;
    } names[] = {
#define COL_PAIR(name, value, status, title, msg) {#name, value},
        CUTOFF_ERRNO_MAP(COL_PAIR)
#undef COL_PAIR
    };
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].name, name) == 0) {
            *code = names[i].value;
            return 0;
        }
    return CUTOFF_ENOTFOUND;
}

int co__diag(cutoff_diag *diag, int code, const char *fmt, ...)
{
    if (diag == NULL)
        return code;
    diag->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(diag->message, sizeof diag->message, fmt, ap);
    va_end(ap);
    return code;
}

void co__diag_prefix(cutoff_diag *diag, const char *fmt, ...)
{
    if (diag == NULL)
        return;
    char prefix[256], old[sizeof diag->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, diag->message, sizeof old);
    size_t n = strlen(prefix);
    if (n >= sizeof diag->message)
        n = sizeof diag->message - 1;
    memcpy(diag->message, prefix, n);
    size_t rest = strnlen(old, sizeof old - 1);
    if (rest > sizeof diag->message - 1 - n)
        rest = sizeof diag->message - 1 - n;
    memcpy(diag->message + n, old, rest);
    diag->message[n + rest] = '\0';
}

void co__diag_clear(cutoff_diag *diag)
{
    if (diag == NULL)
        return;
    diag->code = 0;
    diag->line = 0;
    diag->item = SIZE_MAX;
    diag->message[0] = '\0';
}

/* Length of the valid UTF-8 character at s (1 for ASCII), or 0 when the
 * bytes there are not valid UTF-8. */
static size_t utf8_char_len(const unsigned char *s)
{
    size_t n;
    unsigned cp, min;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2, cp = s[0] & 0x1fu, min = 0x80;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3, cp = s[0] & 0x0fu, min = 0x800;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4, cp = s[0] & 0x07u, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    return cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : n;
}

/* Bytes that are not valid UTF-8 are escaped too, and a character is never
 * cut in two, so the result is valid UTF-8 (messages end up in JSON). */
const char *co__quote(const char *s, char *buf, size_t size)
{
    size_t o = 0;
    if (size == 0)
        return buf;
    if (s == NULL) {
        snprintf(buf, size, "(null)");
        return buf;
    }
    while (*s && o + 5 < size) {
        unsigned char c = (unsigned char)*s;
        size_t n = utf8_char_len((const unsigned char *)s);
        if (n > 1) {
            memcpy(buf + o, s, n); /* n <= 4 fits: o + 5 < size */
            o += n;
            s += n;
            continue;
        }
        if (n == 0 || c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            o += (size_t)snprintf(buf + o, size - o,
                                  c == '"'    ? "\\\""
                                  : c == '\\' ? "\\\\"
                                              : "\\x%02x",
                                  c);
        else
            buf[o++] = (char)c;
        s++;
    }
    if (*s && o + 4 <= size) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}
