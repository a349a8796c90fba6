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
    while (*s && o + 11 < size) {
        unsigned char c = (unsigned char)*s;
        uint32_t cp = 0;
        size_t n = co__utf8_decode((const unsigned char *)s, &cp);
        if (n > 1 && co__hidden_char(cp)) {
            o += (size_t)snprintf(buf + o, size - o, "\\u{%04X}", (unsigned)cp);
            s += n;
            continue;
        }
        if (n > 1) {
            memcpy(buf + o, s, n); /* n <= 4 fits: o + 11 < size */
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
