/* SPDX-License-Identifier: Apache-2.0 */
/*
 * text.c - the small grammars of docs/design.md: times (RFC 3339 or Unix
 * seconds), relative offsets ("+30d"), ids, action patterns and region
 * patterns, and the names of enums. Every parser says what was wrong and
 * what is allowed.
 */
#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- times -------------------------------------------------------------- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so no time zone or locale is involved. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Years 0000 to 9999: every time read prints back as four-digit-year
 * RFC 3339, and none is mistaken for CUTOFF_TIME_NEVER. */
#define TIME_FIRST INT64_C(-62167219200) /* 0000-01-01T00:00:00Z */
#define TIME_LAST INT64_C(253402300799)  /* 9999-12-31T23:59:59Z */

int cutoff_time_parse(const char *text, int64_t *out, cutoff_diag *diag)
{
    char q[80];
    if (text == NULL || *text == '\0')
        return co__diag(diag, CUTOFF_EPARSE,
                        "empty time: give RFC 3339 (2025-09-25T12:00:00Z) or Unix seconds");
    size_t len = strlen(text);

    /* Unix seconds: an optional minus and digits only. */
    size_t i = (text[0] == '-');
    if (i < len && strspn(text + i, "0123456789") == len - i) {
        errno = 0;
        char *end;
        long long v = strtoll(text, &end, 10);
        if (errno != 0 || *end != '\0' || v < TIME_FIRST || v > TIME_LAST)
            goto out_of_range;
        *out = v;
        return 0;
    }

    int y, mo, d, h, mi, s;
    if (len < 20 || digits(text, 4, &y) || text[4] != '-' || digits(text + 5, 2, &mo) ||
        text[7] != '-' || digits(text + 8, 2, &d) ||
        (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || digits(text + 11, 2, &h) ||
        text[13] != ':' || digits(text + 14, 2, &mi) || text[16] != ':' || digits(text + 17, 2, &s))
        goto bad;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60)
        return co__diag(diag, CUTOFF_EPARSE,
                        "time \"%s\" names a date or clock time that does not exist",
                        co__quote(text, q, sizeof q));
    const char *p = text + 19;
    if (*p == '.') { /* fraction: truncated to the second */
        p++;
        if (!isdigit((unsigned char)*p))
            goto bad;
        while (isdigit((unsigned char)*p))
            p++;
    }
    int64_t offset = 0;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        offset = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            goto bad;
        offset = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
    } else {
        goto bad;
    }
    if (s == 60)
        s = 59; /* a leap second counts as the second before it */
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset;
    if (t < TIME_FIRST || t > TIME_LAST)
        goto out_of_range; /* an offset moved it past a year boundary */
    *out = t;
    return 0;
out_of_range:
    return co__diag(diag, CUTOFF_EPARSE,
                    "time \"%s\" is out of range: times lie between 0000-01-01T00:00:00Z and "
                    "9999-12-31T23:59:59Z (Unix seconds -62167219200 to 253402300799)",
                    co__quote(text, q, sizeof q));
bad:
    return co__diag(
        diag, CUTOFF_EPARSE,
        "time \"%s\" is not RFC 3339 (like 2025-09-25T12:00:00Z or +02:00 offset) nor Unix seconds",
        co__quote(text, q, sizeof q));
}

char *cutoff_time_format(int64_t t, char buf[32])
{
    if (t == CUTOFF_TIME_NEVER) {
        strcpy(buf, "never");
        return buf;
    }
    int64_t days = t / 86400, rem = t % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    /* civil_from_days, the inverse of days_from_civil */
    days += 719468;
    const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const int64_t doe = days - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    const int64_t d = doy - (153 * mp + 2) / 5 + 1;
    const int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", (long long)y,
             (long long)m, (long long)d, (long long)(rem / 3600), (long long)(rem / 60 % 60),
             (long long)(rem % 60));
    memcpy(buf, tmp, 31);
    buf[31] = '\0';
    return buf;
}

int cutoff_offset_parse(const char *text, int64_t *out, cutoff_diag *diag)
{
    char q[64];
    const char *p = text;
    if (p == NULL || *p != '+')
        goto bad;
    p++;
    if (!isdigit((unsigned char)*p))
        goto bad;
    errno = 0;
    char *end;
    long long v = strtoll(p, &end, 10);
    if (errno != 0)
        goto bad;
    long long unit = 1;
    if (*end == '\0' || (*end == 's' && end[1] == '\0'))
        unit = 1;
    else if (*end == 'm' && end[1] == '\0')
        unit = 60;
    else if (*end == 'h' && end[1] == '\0')
        unit = 3600;
    else if (*end == 'd' && end[1] == '\0')
        unit = 86400;
    else
        goto bad;
    if (v > INT64_MAX / 4 / unit)
        goto bad;
    *out = v * unit;
    return 0;
bad:
    return co__diag(diag, CUTOFF_EPARSE,
                    "offset \"%s\" is not of the form +N with an optional unit s, m, h or d (e.g. "
                    "+0, +3s, +30d)",
                    co__quote(text, q, sizeof q));
}

/* ---- ids and patterns --------------------------------------------------- */

/* ASCII only, whatever the locale: isalnum() may accept bytes past 0x7f. */
static bool ascii_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool id_char(unsigned char c)
{
    return ascii_alnum(c) || c == '.' || c == '_' || c == ':' || c == '-';
}

/* The bytes of an id, as a table: every imported node checks its id and
 * parent, twice. */
static const bool id_bytes[256] = {
    ['.'] = true,         ['_'] = true,         [':'] = true,         ['-'] = true,
    ['0' ... '9'] = true, ['A' ... 'Z'] = true, ['a' ... 'z'] = true,
};

int cutoff_id_valid(const char *id)
{
    if (id == NULL)
        return 0;
    size_t n = 0;
    for (; id_bytes[(unsigned char)id[n]]; n++)
        ;
    return id[n] == '\0' && n >= 1 && n <= CUTOFF_ID_MAX;
}

/* ASCII folding by hand: no locale may change who counts as whom. */
static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

int cutoff_actor_same(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return 0;
    for (;; a++, b++) {
        unsigned char x = ascii_lower((unsigned char)*a), y = ascii_lower((unsigned char)*b);
        if (x != y)
            return 0;
        if (x == '\0')
            return 1;
    }
}

/* Characters of RFC 3986 (unreserved, reserved and '%'): no space, quote,
 * angle bracket, backslash, caret, backquote, brace or bar, no control and
 * no byte past ASCII. */
static bool uri_char(unsigned char c)
{
    return ascii_alnum(c) || (c != '\0' && strchr("-._~:/?#[]@!$&'()*+,;=%", c) != NULL);
}

/* 1 when s starts with the lower-case ASCII prefix, ignoring ASCII case. */
static bool ascii_prefix(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (*s == '\0' || ascii_lower((unsigned char)*s) != (unsigned char)*prefix)
            return false;
    return true;
}

int cutoff_notice_url_check(const char *url, cutoff_diag *diag)
{
    char q[96];
    if (url == NULL || *url == '\0')
        return co__diag(diag, CUTOFF_EPARSE, "empty notice URL");
    size_t scheme = ascii_prefix(url, "https://") ? 8 : ascii_prefix(url, "http://") ? 7 : 0;
    if (scheme == 0 || strchr("/?#", url[scheme]) != NULL)
        return co__diag(diag, CUTOFF_EPARSE,
                        "\"%s\" is not an absolute http or https URL "
                        "(like https://provider.example/notices/EA-1)",
                        co__quote(url, q, sizeof q));
    for (size_t i = 0; url[i]; i++)
        if (!uri_char((unsigned char)url[i]))
            return co__diag(diag, CUTOFF_EPARSE,
                            "\"%s\" holds byte 0x%02x at %zu, which a URL may not: percent-encode "
                            "spaces, quotes, <, >, controls and non-ASCII characters",
                            co__quote(url, q, sizeof q), (unsigned char)url[i], i);
    return 0;
}

/* A service or action name: a non-empty id without dots. */
static bool name_part(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!id_char((unsigned char)s[i]) || s[i] == '.')
            return false;
    return true;
}

int cutoff_pattern_check(const char *pattern, cutoff_diag *diag)
{
    char q[160];
    if (pattern != NULL && strcmp(pattern, "*") == 0)
        return 0;
    const char *dot = pattern ? strchr(pattern, '.') : NULL;
    if (dot && strlen(pattern) <= CUTOFF_ID_MAX && name_part(pattern, (size_t)(dot - pattern)) &&
        (strcmp(dot + 1, "*") == 0 || name_part(dot + 1, strlen(dot + 1))))
        return 0;
    return co__diag(diag, CUTOFF_EPARSE,
                    "pattern \"%s\" is not \"*\", \"SERVICE.*\" or \"SERVICE.ACTION\" (names of "
                    "[A-Za-z0-9_:-])",
                    co__quote(pattern, q, sizeof q));
}

int cutoff_pattern_match(const char *pattern, const char *action)
{
    if (pattern[0] == '*' && pattern[1] == '\0')
        return 1;
    size_t n = strlen(pattern);
    if (n >= 2 && pattern[n - 1] == '*' && pattern[n - 2] == '.')
        return strncmp(pattern, action, n - 1) == 0; /* "storage." prefix */
    return strcmp(pattern, action) == 0;
}

int cutoff_region_match(const char *pattern, const char *region)
{
    if (pattern[0] == '*' && pattern[1] == '\0')
        return 1;
    if (region == NULL)
        return 0;
    size_t n = strlen(pattern);
    if (n >= 1 && pattern[n - 1] == '*')
        return strncmp(pattern, region, n - 1) == 0;
    return strcmp(pattern, region) == 0;
}

/* ---- free text ---------------------------------------------------------- */

size_t co__utf8_decode(const unsigned char *s, uint32_t *cp)
{
    unsigned c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, v = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, v = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, v = c & 0x07, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0; /* also stops at the terminating NUL */
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

bool co__hidden_char(uint32_t cp)
{
    /* clang-format off */
    static const uint32_t ranges[][2] = {
        {0x0000, 0x001f}, {0x007f, 0x009f}, {0x00ad, 0x00ad}, {0x034f, 0x034f},
        {0x0600, 0x0605}, {0x061c, 0x061c}, {0x06dd, 0x06dd}, {0x070f, 0x070f},
        {0x0890, 0x0891}, {0x08e2, 0x08e2}, {0x115f, 0x1160}, {0x17b4, 0x17b5},
        {0x180b, 0x180f}, {0x200b, 0x200f}, {0x2028, 0x202e}, {0x2060, 0x206f},
        {0x3164, 0x3164}, {0xfdd0, 0xfdef}, {0xfeff, 0xfeff}, {0xffa0, 0xffa0},
        {0xfff9, 0xfffb}, {0x110bd, 0x110bd}, {0x110cd, 0x110cd}, {0x13430, 0x1343f},
        {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0000, 0xe0fff},
    };
    /* clang-format on */
    if ((cp & 0xfffe) == 0xfffe)
        return true; /* U+FFFE, U+FFFF and their copies in every plane */
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (cp >= ranges[i][0] && cp <= ranges[i][1])
            return true;
    return false;
}

int co__text_check(const char *s, size_t max, unsigned flags, const char *what, cutoff_diag *diag)
{
    if (s == NULL || *s == '\0') {
        if (flags & CO__TEXT_OPTIONAL)
            return 0;
        return co__diag(diag, CUTOFF_EINVAL, "%s is empty", what);
    }
    size_t len = strlen(s);
    if (max && len > max)
        return co__diag(diag, CUTOFF_ELIMIT, "%s is longer than %zu bytes", what, max);
    const unsigned char *p = (const unsigned char *)s;
    for (size_t off = 0; off < len;) {
        uint32_t cp;
        size_t n = co__utf8_decode(p + off, &cp);
        if (n == 0)
            return co__diag(diag, CUTOFF_EINVAL, "%s is not valid UTF-8 (at byte %zu)", what, off);
        bool allowed = (flags & CO__TEXT_MULTILINE) && (cp == '\n' || cp == '\t');
        if (!allowed && co__hidden_char(cp))
            return co__diag(diag, CUTOFF_EINVAL,
                            "%s holds U+%04X at byte %zu: control and invisible or "
                            "direction-changing format characters are not allowed in text",
                            what, (unsigned)cp, off);
        off += n;
    }
    return 0;
}

/* ---- enum names --------------------------------------------------------- */

const char *cutoff_node_kind_name(cutoff_node_kind kind)
{
    switch (kind) {
    case CUTOFF_NODE_TENANT: return "tenant";
    case CUTOFF_NODE_UNIT: return "unit";
    case CUTOFF_NODE_SUBSCRIPTION: return "subscription";
    }
    return "?";
}

cutoff_node_kind cutoff_node_kind_parse(const char *name)
{
    if (name == NULL)
        return 0;
    if (strcmp(name, "tenant") == 0)
        return CUTOFF_NODE_TENANT;
    if (strcmp(name, "unit") == 0)
        return CUTOFF_NODE_UNIT;
    if (strcmp(name, "subscription") == 0)
        return CUTOFF_NODE_SUBSCRIPTION;
    return 0;
}

const char *cutoff_class_name(cutoff_action_class cls)
{
    return cls == CUTOFF_CLASS_READ ? "read" : "write";
}

const char *cutoff_mode_name(cutoff_mode mode)
{
    switch (mode) {
    case CUTOFF_MODE_OFF: return "off";
    case CUTOFF_MODE_READ_ONLY: return "read-only";
    case CUTOFF_MODE_SUSPEND: return "suspend";
    }
    return "?";
}

const char *cutoff_action_state_name(cutoff_action_state state)
{
    switch (state) {
    case CUTOFF_STATE_DRAFT: return "draft";
    case CUTOFF_STATE_ACTIVE: return "active";
    case CUTOFF_STATE_LIFTED: return "lifted";
    case CUTOFF_STATE_EXPIRED: return "expired";
    case CUTOFF_STATE_SUPERSEDED: return "superseded";
    }
    return "?";
}

const char *cutoff_reason_name(cutoff_reason reason)
{
    switch (reason) {
    case CUTOFF_REASON_ALLOW: return "allow";
    case CUTOFF_REASON_UNKNOWN_SUBSCRIPTION: return "unknown_subscription";
    case CUTOFF_REASON_UNKNOWN_ACTION: return "unknown_action";
    case CUTOFF_REASON_NOT_ENTITLED: return "not_entitled";
    case CUTOFF_REASON_SUSPENDED: return "suspended";
    case CUTOFF_REASON_READ_ONLY: return "read_only";
    }
    return "?";
}

int64_t cutoff_phase_start(const cutoff_action_spec *a, size_t i, int64_t activation)
{
    const cutoff_phase_spec *p = &a->phases[i];
    if (!p->relative)
        return p->at;
    int64_t base = activation ? activation : a->activated_at;
    return base + p->at;
}
