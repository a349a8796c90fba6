/* SPDX-License-Identifier: Apache-2.0 */
/*
 * text.c - keeping messages that quote outside input on one line of valid
 * UTF-8 (see text.h).
 */
#include "common/text.h"

#include <stddef.h>

/* The length of the UTF-8 sequence at s (1-4), or 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n = c < 0x80                 ? 1
               : c >= 0xc2 && c <= 0xdf ? 2
               : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4
                                        : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    /* overlong forms, surrogates and code points past U+10FFFF */
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
        (c == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

char *co__msg_clean(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        size_t n = utf8_sequence(p);
        if (n == 0 || *p < 0x20 || *p == 0x7f) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
    return s;
}
