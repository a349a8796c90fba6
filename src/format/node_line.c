/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node_line.c - one line of the bulk node import (JSON Lines):
 * {"id":"unit-8200","kind":"unit","parent":"imod","name":"...","plan":"enterprise"}.
 *
 * This runs once per imported node, ten million times for a large import,
 * so it reads the line without building a JSON tree and without
 * allocating (jansson's tree and its allocations were most of an import's
 * time). It accepts exactly what json_loadb(JSON_REJECT_DUPLICATES)
 * accepts, and refuses the rest with jansson's own message and column:
 * the reader below follows jansson 2.14's lexer and parser (src/load.c)
 * step by step, quirks included, and tests/unit/test_node_line.c holds it
 * to the jansson-based reading on hand-written and mutated lines.
 *
 * The decoded strings are copied back into the caller's line buffer. That
 * always fits: a decoded JSON string plus its NUL is shorter than its
 * quoted encoding, and the encodings do not overlap. Nothing is written
 * until the line is known to be good. No global state: callers parse on
 * several threads.
 */
#include "format/format_int.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ===================================================================== */
/* The reader (jansson's lexer)                                           */
/* ===================================================================== */

#define STREAM_EOF (-1)
#define STREAM_ERROR (-2)

enum {
    TOKEN_INVALID = -1,
    TOKEN_EOF = 0,
    TOKEN_STRING = 256,
    TOKEN_INTEGER,
    TOKEN_REAL,
    TOKEN_TRUE,
    TOKEN_FALSE,
    TOKEN_NULL
};

#define MAX_DEPTH 2048   /* JSON_PARSER_MAX_DEPTH */
#define ERROR_TEXT 160   /* JSON_ERROR_TEXT_LENGTH */
#define NEAR_MAX 20      /* jansson quotes a token of at most this many bytes */
#define KEYS_ON_STACK 32 /* keys of a line before the key set allocates */
#define SCRATCH_ON_STACK 512

/* A key seen in some object of the line, for duplicate detection. */
typedef struct seen_key {
    uint64_t hash;
    uint32_t object; /* which object of the line */
    bool decoded;    /* bytes in the scratch (it had escapes), else in the line */
    size_t off, len; /* the decoded bytes */
} seen_key;

/* One value of the top-level object that a node line may have. */
typedef enum value_type {
    V_ABSENT,
    V_STRING,
    V_INTEGER,
    V_REAL,
    V_BOOLEAN,
    V_NULL,
    V_OBJECT,
    V_ARRAY
} value_type;

typedef struct member {
    value_type type;
    size_t raw, raw_len; /* a string's bytes between its quotes, in the line */
    bool escaped;        /* it has escapes to decode */
    size_t len;          /* its decoded length */
    const char *text;    /* its decoded copy (NUL-terminated), once made */
} member;

typedef struct reader {
    const char *src;
    size_t len, at; /* at: the next byte to fetch */

    /* jansson's stream: a UTF-8 sequence is fetched whole into buf; a NUL
     * in buf[buf_pos] means "fetch the next one" */
    char buf[5];
    size_t buf_pos, buf_src; /* buf_src: where buf[0] came from in src */
    int state, line, column, last_column;
    size_t position;

    /* the token being read: its text is src[saved, saved + saved_len) */
    int token;
    size_t saved, saved_len;
    size_t str_len; /* a string token's decoded length */
    bool str_escaped, str_nul;
    size_t depth;

    /* duplicate keys: a small open-addressing set of indices + 1 */
    seen_key keys_stack[KEYS_ON_STACK], *keys;
    uint32_t slots_stack[2 * KEYS_ON_STACK], *slots;
    size_t n_keys, cap_keys, slot_mask;
    uint32_t objects;
    char scratch_stack[SCRATCH_ON_STACK], *scratch; /* decoded escaped keys */
    size_t scratch_len, scratch_cap;

    /* the top-level object */
    member members[5];
    bool top_unknown;
    size_t unknown_key; /* index into keys of the first unknown key */

    bool failed, nomem;
    int error_column;
    char error[ERROR_TEXT];
} reader;

static const char *const node_keys[] = {"id", "kind", "parent", "name", "plan", NULL};
enum { ID, KIND, PARENT, NAME, PLAN };

/* Bytes of a UTF-8 sequence starting with u (utf8_check_first). */
static size_t utf8_first(unsigned char u)
{
    if (u < 0x80)
        return 1;
    if (u <= 0xC1)
        return 0; /* a continuation byte, or an overlong ASCII */
    if (u <= 0xDF)
        return 2;
    if (u <= 0xEF)
        return 3;
    if (u <= 0xF4)
        return 4;
    return 0;
}

/* A whole sequence of n bytes is valid UTF-8 (utf8_check_full). */
static bool utf8_full(const char *b, size_t n)
{
    unsigned char u = (unsigned char)b[0];
    int32_t v = n == 2 ? u & 0x1F : n == 3 ? u & 0xF : u & 0x7;
    for (size_t i = 1; i < n; i++) {
        u = (unsigned char)b[i];
        if (u < 0x80 || u > 0xBF)
            return false;
        v = (v << 6) + (u & 0x3F);
    }
    if (v > 0x10FFFF || (0xD800 <= v && v <= 0xDFFF))
        return false;
    return !((n == 2 && v < 0x80) || (n == 3 && v < 0x800) || (n == 4 && v < 0x10000));
}

/* Records the first error, as jansson's error_set does: with the token
 * read so far when it is short, "near end of file" when there is none,
 * cut to jansson's 158 bytes (hence the truncating snprintf calls). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
static void fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(reader *r, const char *fmt, ...)
{
    if (r->failed)
        return;
    r->failed = true;
    char msg[ERROR_TEXT], full[ERROR_TEXT];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *result = msg;
    if (r->saved_len > 0 && r->src[r->saved] != '\0') {
        if (r->saved_len <= NEAR_MAX) {
            snprintf(full, sizeof full, "%s near '%.*s'", msg, (int)r->saved_len,
                     r->src + r->saved);
            result = full;
        }
    } else if (r->state != STREAM_ERROR) {
        snprintf(full, sizeof full, "%s near end of file", msg);
        result = full;
    }
    snprintf(r->error, ERROR_TEXT - 1, "%s", result);
    r->error_column = r->column;
}
#pragma GCC diagnostic pop

static int fetch(reader *r)
{
    return r->at < r->len ? (unsigned char)r->src[r->at++] : STREAM_EOF;
}

/* stream_get: the next byte (negative above 0x7f, as jansson's char). */
static int get_slow(reader *r)
{
    if (r->state != 0)
        return r->state;
    if (!r->buf[r->buf_pos]) {
        r->buf_src = r->at;
        int c = fetch(r);
        if (c == STREAM_EOF) {
            r->state = STREAM_EOF;
            return STREAM_EOF;
        }
        r->buf[0] = (char)c;
        r->buf_pos = 0;
        if (c >= 0x80) {
            size_t count = utf8_first((unsigned char)c);
            if (count == 0)
                goto bad;
            for (size_t i = 1; i < count; i++)
                r->buf[i] = (char)fetch(r);
            if (!utf8_full(r->buf, count))
                goto bad;
            r->buf[count] = '\0';
        } else {
            r->buf[1] = '\0';
        }
        if (0) {
        bad:
            r->state = STREAM_ERROR;
            fail(r, "unable to decode byte 0x%x", c);
            return STREAM_ERROR;
        }
    }
    int c = (signed char)r->buf[r->buf_pos++];
    r->position++;
    if (c == '\n') {
        r->line++;
        r->last_column = r->column;
        r->column = 0;
    } else if (utf8_first((unsigned char)c)) {
        r->column++;
    }
    return c;
}

/* get_slow for the common byte: ASCII, not a NUL (jansson's "empty"
 * mark) or a newline (which moves the line count), read afresh. */
static inline int get(reader *r)
{
    if (r->state == 0 && r->buf[r->buf_pos] == '\0' && r->at < r->len) {
        unsigned char c = (unsigned char)r->src[r->at];
        if (c != '\0' && c != '\n' && c < 0x80) {
            r->buf[0] = (char)c;
            r->buf[1] = '\0';
            r->buf_pos = 1;
            r->buf_src = r->at++;
            r->position++;
            r->column++;
            return c;
        }
    }
    return get_slow(r);
}

/* stream_unget. An unread NUL is lost (jansson takes a NUL in its buffer
 * for "empty"); the reader does the same. */
static void unget(reader *r, int c)
{
    if (c == STREAM_EOF || c == STREAM_ERROR)
        return;
    r->position--;
    if (c == '\n') {
        r->line--;
        r->column = r->last_column;
    } else if (utf8_first((unsigned char)c)) {
        r->column--;
    }
    r->buf_pos--;
}

/* Appends the byte just read to the token's text. Within a token the
 * bytes read are consecutive in the line, so the text is a slice. */
static void save(reader *r)
{
    if (r->saved_len++ == 0)
        r->saved = r->buf_src + r->buf_pos - 1;
}

static int get_save(reader *r)
{
    int c = get(r);
    if (c != STREAM_EOF && c != STREAM_ERROR)
        save(r);
    return c;
}

static void unget_unsave(reader *r, int c)
{
    if (c != STREAM_EOF && c != STREAM_ERROR) {
        unget(r, c);
        r->saved_len--;
    }
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_xdigit(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int32_t hex4(const char *p)
{
    int32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v = v * 16 + (is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/* Decodes a string token's escapes, the way lex_scan_string's second half
 * does, into out (NULL: only check and measure). Returns the decoded
 * length, or SIZE_MAX after failing on a bad surrogate. *nul tells whether
 * it decoded a \u0000. */
static size_t decode(reader *r, const char *p, size_t n, char *out, bool *nul)
{
    const char *end = p + n;
    size_t o = 0;
    *nul = false;
    while (p < end) {
        if (*p != '\\') {
            const char *bs = memchr(p, '\\', (size_t)(end - p));
            size_t k = bs ? (size_t)(bs - p) : (size_t)(end - p);
            if (out)
                memcpy(out + o, p, k);
            o += k;
            p += k;
            continue;
        }
        p++;
        if (*p != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            if (out)
                out[o] = to[strchr(from, *p) - from];
            o++;
            p++;
            continue;
        }
        int32_t v = hex4(p + 1);
        p += 5;
        if (0xD800 <= v && v <= 0xDBFF) {
            if (end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                int32_t v2 = hex4(p + 2);
                p += 6;
                if (0xDC00 <= v2 && v2 <= 0xDFFF) {
                    v = ((v - 0xD800) << 10) + (v2 - 0xDC00) + 0x10000;
                } else {
                    fail(r, "invalid Unicode '\\u%04X\\u%04X'", (unsigned)v, (unsigned)v2);
                    return SIZE_MAX;
                }
            } else {
                fail(r, "invalid Unicode '\\u%04X'", (unsigned)v);
                return SIZE_MAX;
            }
        } else if (0xDC00 <= v && v <= 0xDFFF) {
            fail(r, "invalid Unicode '\\u%04X'", (unsigned)v);
            return SIZE_MAX;
        }
        *nul |= v == 0;
        unsigned char u[4];
        size_t k;
        if (v < 0x80) {
            u[0] = (unsigned char)v, k = 1;
        } else if (v < 0x800) {
            u[0] = (unsigned char)(0xC0 | (v >> 6)), u[1] = (unsigned char)(0x80 | (v & 0x3F));
            k = 2;
        } else if (v < 0x10000) {
            u[0] = (unsigned char)(0xE0 | (v >> 12));
            u[1] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
            u[2] = (unsigned char)(0x80 | (v & 0x3F));
            k = 3;
        } else {
            u[0] = (unsigned char)(0xF0 | (v >> 18));
            u[1] = (unsigned char)(0x80 | ((v >> 12) & 0x3F));
            u[2] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
            u[3] = (unsigned char)(0x80 | (v & 0x3F));
            k = 4;
        }
        if (out)
            memcpy(out + o, u, k);
        o += k;
    }
    return o;
}

/* How many bytes from p on (at most n) are plain in a string: ASCII, not
 * a control byte, a quote or a backslash. Eight at a time: a byte is
 * flagged by the high bit of its lane, and the lowest flag is exact. */
static size_t plain_run(const char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        uint64_t x, q, b;
        memcpy(&x, p + k, 8);
        q = x ^ (ones * '"');
        b = x ^ (ones * '\\');
        uint64_t special = ((x - ones * 0x20) & ~x) | x | ((q - ones) & ~q) | ((b - ones) & ~b);
        special &= highs;
        if (special)
            return k + (size_t)__builtin_ctzll(special) / 8;
    }
    for (; k < n; k++) {
        unsigned char c = (unsigned char)p[k];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            break;
    }
    return k;
}

/* lex_scan_string, after the opening quote. */
static void scan_string(reader *r)
{
    r->token = TOKEN_INVALID;
    r->str_escaped = false;
    int c = get_save(r);
    while (c != '"') {
        if (c == STREAM_ERROR)
            return;
        if (c == STREAM_EOF) {
            fail(r, "premature end of input");
            return;
        }
        if (0 <= c && c <= 0x1F) {
            unget_unsave(r, c);
            if (c == '\n')
                fail(r, "unexpected newline");
            else
                fail(r, "control character 0x%x", (unsigned)c);
            return;
        }
        if (c == '\\') {
            r->str_escaped = true;
            c = get_save(r);
            if (c == 'u') {
                c = get_save(r);
                for (int i = 0; i < 4; i++) {
                    if (!is_xdigit(c)) {
                        fail(r, "invalid escape");
                        return;
                    }
                    c = get_save(r);
                }
            } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
                       c == 'r' || c == 't') {
                c = get_save(r);
            } else {
                fail(r, "invalid escape");
                return;
            }
        } else if (r->buf[r->buf_pos] == '\0' && r->state == 0) {
            /* Between UTF-8 sequences: the plain ASCII bytes that follow
             * take one step, with the bookkeeping get_save would do for
             * each (none of them is a newline). */
            size_t k = plain_run(r->src + r->at, r->len - r->at);
            r->at += k;
            r->position += k;
            r->column += (int)k;
            r->saved_len += k;
            c = get_save(r);
        } else {
            c = get_save(r);
        }
    }
    const char *text = r->src + r->saved + 1;
    size_t n = r->saved_len - 2;
    if (!r->str_escaped) {
        r->str_len = n;
        r->str_nul = false;
    } else if ((r->str_len = decode(r, text, n, NULL, &r->str_nul)) == SIZE_MAX) {
        return;
    }
    r->token = TOKEN_STRING;
}

/* Copies the token's text, NUL-terminated, for strtoll and strtod; a long
 * number goes to the heap. */
static char *number_text(reader *r, char *buf, size_t size)
{
    char *t = r->saved_len < size ? buf : co__malloc(r->saved_len + 1);
    if (t == NULL) {
        r->nomem = true;
        return NULL;
    }
    memcpy(t, r->src + r->saved, r->saved_len);
    t[r->saved_len] = '\0';
    return t;
}

/* lex_scan_number. Returns -1 for an invalid number. Out of line: node
 * lines hold no numbers, and scan stays small without it. */
static __attribute__((noinline)) int scan_number(reader *r, int c)
{
    char buf[64];
    r->token = TOKEN_INVALID;
    if (c == '-')
        c = get_save(r);
    if (c == '0') {
        c = get_save(r);
        if (is_digit(c)) {
            unget_unsave(r, c);
            return -1;
        }
    } else if (is_digit(c)) {
        do
            c = get_save(r);
        while (is_digit(c));
    } else {
        unget_unsave(r, c);
        return -1;
    }

    if (c != '.' && c != 'E' && c != 'e') {
        unget_unsave(r, c);
        char *t = number_text(r, buf, sizeof buf);
        if (t == NULL)
            return -1;
        errno = 0;
        long long v = strtoll(t, NULL, 10);
        int range = errno;
        if (t != buf)
            co__free(t);
        if (range == ERANGE) {
            fail(r, v < 0 ? "too big negative integer" : "too big integer");
            return -1;
        }
        r->token = TOKEN_INTEGER;
        return 0;
    }
    if (c == '.') {
        c = get(r);
        if (!is_digit(c)) {
            unget(r, c);
            return -1;
        }
        save(r);
        do
            c = get_save(r);
        while (is_digit(c));
    }
    if (c == 'E' || c == 'e') {
        c = get_save(r);
        if (c == '+' || c == '-')
            c = get_save(r);
        if (!is_digit(c)) {
            unget_unsave(r, c);
            return -1;
        }
        do
            c = get_save(r);
        while (is_digit(c));
    }
    unget_unsave(r, c);

    /* jsonp_strtod: the locale's decimal point, and overflow is an error */
    char *t = number_text(r, buf, sizeof buf);
    if (t == NULL)
        return -1;
    const char *point = localeconv()->decimal_point;
    if (point[0] != '.') {
        char *dot = strchr(t, '.');
        if (dot)
            *dot = point[0];
    }
    errno = 0;
    double v = strtod(t, NULL);
    int range = errno;
    if (t != buf)
        co__free(t);
    if ((v == HUGE_VAL || v == -HUGE_VAL) && range == ERANGE) {
        fail(r, "real number overflow");
        return -1;
    }
    r->token = TOKEN_REAL;
    return 0;
}

/* lex_scan: the next token. */
static int scan(reader *r)
{
    r->saved_len = 0;
    int c;
    do
        c = get(r);
    while (c == ' ' || c == '\t' || c == '\n' || c == '\r');
    if (c == STREAM_EOF)
        return r->token = TOKEN_EOF;
    if (c == STREAM_ERROR)
        return r->token = TOKEN_INVALID;
    save(r);
    if (c == '{' || c == '}' || c == '[' || c == ']' || c == ':' || c == ',') {
        r->token = c;
    } else if (c == '"') {
        scan_string(r);
    } else if (is_digit(c) || c == '-') {
        scan_number(r, c);
    } else if (is_alpha(c)) {
        do
            c = get_save(r);
        while (is_alpha(c));
        unget_unsave(r, c);
        const char *t = r->src + r->saved;
        size_t n = r->saved_len;
        r->token = n == 4 && memcmp(t, "true", 4) == 0    ? TOKEN_TRUE
                   : n == 5 && memcmp(t, "false", 5) == 0 ? TOKEN_FALSE
                   : n == 4 && memcmp(t, "null", 4) == 0  ? TOKEN_NULL
                                                          : TOKEN_INVALID;
    } else {
        /* the rest of a UTF-8 sequence belongs to the token */
        while (r->buf[r->buf_pos] != '\0') {
            r->buf_pos++;
            r->saved_len++;
            r->position++;
        }
        r->token = TOKEN_INVALID;
    }
    return r->token;
}

/* ===================================================================== */
/* Keys                                                                   */
/* ===================================================================== */

static const char *key_bytes(const reader *r, const seen_key *k)
{
    return k->decoded ? r->scratch + k->off : r->src + k->off;
}

static bool grow_keys(reader *r)
{
    size_t cap = r->cap_keys * 2, slots = cap * 2;
    seen_key *keys = co__malloc(cap * sizeof *keys);
    uint32_t *s = co__calloc(slots, sizeof *s);
    if (keys == NULL || s == NULL) {
        co__free(keys);
        co__free(s);
        return false;
    }
    memcpy(keys, r->keys, r->n_keys * sizeof *keys);
    for (size_t i = 0; i < r->n_keys; i++) {
        size_t h = keys[i].hash & (slots - 1);
        while (s[h])
            h = (h + 1) & (slots - 1);
        s[h] = (uint32_t)i + 1;
    }
    if (r->keys != r->keys_stack)
        co__free(r->keys);
    if (r->slots != r->slots_stack)
        co__free(r->slots);
    r->keys = keys;
    r->slots = s;
    r->cap_keys = cap;
    r->slot_mask = slots - 1;
    return true;
}

/* Adds the string token as a key of object `object`. Returns 1 when that
 * object already has it, 0 when added, -1 when out of memory. */
static int add_key(reader *r, uint32_t object, size_t *index)
{
    seen_key k = {.object = object, .len = r->str_len, .off = r->saved + 1};
    if (r->str_escaped) {
        if (r->scratch_len + k.len > r->scratch_cap) {
            size_t cap = (r->scratch_cap + k.len) * 2;
            char *s = co__malloc(cap);
            if (s == NULL)
                return -1;
            memcpy(s, r->scratch, r->scratch_len);
            if (r->scratch != r->scratch_stack)
                co__free(r->scratch);
            r->scratch = s;
            r->scratch_cap = cap;
        }
        bool nul;
        decode(r, r->src + r->saved + 1, r->saved_len - 2, r->scratch + r->scratch_len, &nul);
        k.decoded = true;
        k.off = r->scratch_len;
        r->scratch_len += k.len;
    }
    k.hash = co__hash(key_bytes(r, &k), k.len);
    size_t h = k.hash & r->slot_mask;
    for (; r->slots[h]; h = (h + 1) & r->slot_mask) {
        const seen_key *o = &r->keys[r->slots[h] - 1];
        if (o->hash == k.hash && o->object == object && o->len == k.len &&
            memcmp(key_bytes(r, o), key_bytes(r, &k), k.len) == 0)
            return 1;
    }
    if (r->n_keys == r->cap_keys) {
        if (!grow_keys(r))
            return -1;
        h = k.hash & r->slot_mask;
        while (r->slots[h])
            h = (h + 1) & r->slot_mask;
    }
    r->keys[r->n_keys] = k;
    r->slots[h] = (uint32_t)++r->n_keys;
    *index = r->n_keys - 1;
    return 0;
}

/* ===================================================================== */
/* The parser (jansson's, without the tree)                               */
/* ===================================================================== */

/* The index in node_keys of a key, or -1. */
static int node_key(const char *k, size_t n)
{
    switch (n) {
    case 2: return memcmp(k, "id", 2) == 0 ? ID : -1;
    case 4:
        return memcmp(k, "kind", 4) == 0   ? KIND
               : memcmp(k, "name", 4) == 0 ? NAME
               : memcmp(k, "plan", 4) == 0 ? PLAN
                                           : -1;
    case 6: return memcmp(k, "parent", 6) == 0 ? PARENT : -1;
    }
    return -1;
}

static bool parse_value(reader *r, member *out, bool top);

static bool parse_object(reader *r, bool top)
{
    uint32_t object = r->objects++;
    scan(r);
    if (r->token == '}')
        return true;
    for (;;) {
        if (r->token != TOKEN_STRING) {
            fail(r, "string or '}' expected");
            return false;
        }
        if (r->str_nul) {
            fail(r, "NUL byte in object key not supported");
            return false;
        }
        size_t index = 0;
        int dup = add_key(r, object, &index);
        if (dup < 0) {
            r->nomem = true;
            return false;
        }
        if (dup > 0) {
            fail(r, "duplicate object key");
            return false;
        }
        member *slot = NULL;
        if (top) {
            const seen_key *k = &r->keys[index];
            int i = node_key(key_bytes(r, k), k->len);
            slot = i < 0 ? NULL : &r->members[i];
            if (slot == NULL && !r->top_unknown) {
                r->top_unknown = true;
                r->unknown_key = index;
            }
        }
        scan(r);
        if (r->token != ':') {
            fail(r, "':' expected");
            return false;
        }
        scan(r);
        member ignored;
        if (!parse_value(r, slot ? slot : &ignored, false))
            return false;
        scan(r);
        if (r->token != ',')
            break;
        scan(r);
    }
    if (r->token != '}') {
        fail(r, "'}' expected");
        return false;
    }
    return true;
}

static bool parse_array(reader *r)
{
    scan(r);
    if (r->token == ']')
        return true;
    while (r->token != TOKEN_EOF) {
        member ignored;
        if (!parse_value(r, &ignored, false))
            return false;
        scan(r);
        if (r->token != ',')
            break;
        scan(r);
    }
    if (r->token != ']') {
        fail(r, "']' expected");
        return false;
    }
    return true;
}

/* parse_value: the value that starts with the current token. */
static bool parse_value(reader *r, member *out, bool top)
{
    if (++r->depth > MAX_DEPTH) {
        fail(r, "maximum parsing depth reached");
        return false;
    }
    switch (r->token) {
    case TOKEN_STRING:
        if (r->str_nul) {
            fail(r, "\\u0000 is not allowed without JSON_ALLOW_NUL");
            return false;
        }
        *out = (member){.type = V_STRING,
                        .raw = r->saved + 1,
                        .raw_len = r->saved_len - 2,
                        .escaped = r->str_escaped,
                        .len = r->str_len};
        break;
    case TOKEN_INTEGER: out->type = V_INTEGER; break;
    case TOKEN_REAL: out->type = V_REAL; break;
    case TOKEN_TRUE:
    case TOKEN_FALSE: out->type = V_BOOLEAN; break;
    case TOKEN_NULL: out->type = V_NULL; break;
    case '{':
        if (!parse_object(r, top))
            return false;
        out->type = V_OBJECT;
        break;
    case '[':
        if (!parse_array(r))
            return false;
        out->type = V_ARRAY;
        break;
    case TOKEN_INVALID: fail(r, "invalid token"); return false;
    default: fail(r, "unexpected token"); return false;
    }
    r->depth--;
    return true;
}

/* parse_json: one object or array, then the end of the input. */
static bool parse_line(reader *r, value_type *root)
{
    scan(r);
    if (r->token != '[' && r->token != '{') {
        fail(r, "'[' or '{' expected");
        return false;
    }
    member m;
    if (!parse_value(r, &m, true))
        return false;
    *root = m.type;
    scan(r);
    if (r->token != TOKEN_EOF) {
        fail(r, "end of file expected");
        return false;
    }
    return true;
}

/* ===================================================================== */
/* The node line                                                          */
/* ===================================================================== */

#define ID_RULE "1-128 bytes of A-Z a-z 0-9 . _ : -"

static const char *type_name(value_type t)
{
    switch (t) {
    case V_OBJECT: return "an object";
    case V_ARRAY: return "an array";
    case V_STRING: return "a string";
    case V_INTEGER: return "an integer";
    case V_REAL: return "a fractional number";
    case V_BOOLEAN: return "a boolean";
    case V_NULL: return "null";
    case V_ABSENT: break;
    }
    return "an unknown value";
}

static int type_error(cutoff_diag *diag, const char *key, const member *m)
{
    return co__diag(diag, CUTOFF_EPARSE, "%s: expected a string, got %s", key, type_name(m->type));
}

static bool absent(const member *m)
{
    return m->type == V_ABSENT || m->type == V_NULL;
}

/* A member that must be an id string (or, when optional, null/absent). */
static int check_id(const char *key, const member *m, bool required, cutoff_diag *diag)
{
    char q[96];
    if (absent(m)) {
        if (!required)
            return 0;
        if (m->type == V_ABSENT)
            return co__diag(diag, CUTOFF_EPARSE, "missing \"%s\"", key);
    }
    if (m->type != V_STRING)
        return type_error(diag, key, m);
    if (cutoff_id_valid(m->text))
        return 0;
    if (m->len > CUTOFF_ID_MAX)
        return co__diag(diag, CUTOFF_EPARSE, "%s: \"%s\" is %zu bytes; ids are " ID_RULE, key,
                        co__text(m->text, q, 40), m->len);
    return co__diag(diag, CUTOFF_EPARSE, "%s: \"%s\" is not an id; ids are " ID_RULE, key,
                    co__text(m->text, q, sizeof q));
}

static int check_line(const member m[5], cutoff_node_kind *kind, cutoff_diag *diag)
{
    char q[96];
    int rc = check_id("id", &m[ID], true, diag);
    if (rc != 0)
        return rc;
    if (m[KIND].type == V_ABSENT)
        return co__diag(diag, CUTOFF_EPARSE, "missing \"kind\" (tenant, unit or subscription)");
    if (m[KIND].type != V_STRING)
        return type_error(diag, "kind", &m[KIND]);
    *kind = cutoff_node_kind_parse(m[KIND].text);
    if (*kind == 0)
        return co__diag(diag, CUTOFF_EPARSE,
                        "kind: \"%s\" is not a kind; use tenant, unit or subscription",
                        co__text(m[KIND].text, q, sizeof q));
    rc = check_id("parent", &m[PARENT], false, diag);
    if (rc != 0)
        return rc;
    bool has_parent = !absent(&m[PARENT]);
    if (*kind == CUTOFF_NODE_TENANT && has_parent)
        return co__diag(diag, CUTOFF_EPARSE,
                        "parent: a tenant has no parent (got \"%s\"); use null or leave it out",
                        co__text(m[PARENT].text, q, sizeof q));
    if (*kind != CUTOFF_NODE_TENANT && !has_parent)
        return co__diag(diag, CUTOFF_EPARSE,
                        "missing \"parent\": a %s needs a parent (a tenant or a unit)",
                        cutoff_node_kind_name(*kind));
    if (!absent(&m[NAME])) {
        if (m[NAME].type != V_STRING)
            return type_error(diag, "name", &m[NAME]);
        if (m[NAME].len > CO__TEXT_MAX)
            return co__diag(diag, CUTOFF_ELIMIT,
                            "name: %zu bytes is too long; at most %d are allowed", m[NAME].len,
                            CO__TEXT_MAX);
        if (co__text_check(m[NAME].text, 0, CO__TEXT_OPTIONAL, "name", diag) != 0) {
            if (diag)
                diag->code = CUTOFF_EPARSE; /* malformed input in a document */
            return CUTOFF_EPARSE;
        }
    }
    return check_id("plan", &m[PLAN], false, diag);
}

/* The first unknown key of the top level, for its message. A copy of at
 * most 127 bytes says all the message shows of it. */
static int unknown_key(const reader *r, cutoff_diag *diag)
{
    char key[128];
    const seen_key *k = &r->keys[r->unknown_key];
    size_t n = k->len < sizeof key - 1 ? k->len : sizeof key - 1;
    memcpy(key, key_bytes(r, k), n);
    key[n] = '\0';
    return co__unknown_key("", key, node_keys, diag);
}

static void reader_free(reader *r)
{
    if (r->keys != r->keys_stack)
        co__free(r->keys);
    if (r->slots != r->slots_stack)
        co__free(r->slots);
    if (r->scratch != r->scratch_stack)
        co__free(r->scratch);
}

int cutoff_node_parse_line(char *line, size_t len, cutoff_node_spec *out, cutoff_diag *diag)
{
    if (line == NULL || out == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no line");

    /* Only what is read before it is written is set: the reader keeps
     * some kilobytes of room on the stack that a typical line never uses. */
    reader rd, *r = &rd;
    memset(r, 0, offsetof(reader, keys_stack));
    memset(&r->members, 0, sizeof *r - offsetof(reader, members));
    r->n_keys = 0;
    r->objects = 0;
    r->scratch_len = 0;
    r->src = line;
    r->len = len;
    r->line = 1;
    r->token = TOKEN_INVALID;
    r->keys = r->keys_stack;
    r->slots = r->slots_stack;
    r->cap_keys = KEYS_ON_STACK;
    r->slot_mask = 2 * KEYS_ON_STACK - 1;
    memset(r->slots_stack, 0, sizeof r->slots_stack);
    r->scratch = r->scratch_stack;
    r->scratch_cap = SCRATCH_ON_STACK;

    int rc = 0;
    char small[512], *text = NULL;
    value_type root = V_ABSENT;
    if (!parse_line(r, &root)) {
        if (r->nomem)
            rc = co__diag(diag, CUTOFF_ENOMEM, "out of memory while reading a node line");
        else {
            char why[ERROR_TEXT + 8];
            co__json_error_text(r->error, why, sizeof why);
            rc = co__diag(diag, CUTOFF_EPARSE, "malformed JSON at column %d: %s", r->error_column,
                          why);
        }
        goto done;
    }
    if (root != V_OBJECT) {
        rc = co__diag(diag, CUTOFF_EPARSE,
                      "a node line is one JSON object like {\"id\": ..., \"kind\": ...}, not %s",
                      type_name(root));
        goto done;
    }
    if (r->top_unknown) {
        rc = unknown_key(r, diag);
        goto done;
    }

    /* The strings, decoded and NUL-terminated, beside the line: checked
     * there, then copied into it. */
    size_t need = 0;
    for (int i = 0; i < 5; i++)
        if (r->members[i].type == V_STRING)
            need += r->members[i].len + 1;
    text = need <= sizeof small ? small : co__malloc(need);
    if (text == NULL) {
        rc = co__diag(diag, CUTOFF_ENOMEM, "out of memory while reading a node line");
        goto done;
    }
    size_t used = 0;
    for (int i = 0; i < 5; i++) {
        member *m = &r->members[i];
        if (m->type != V_STRING)
            continue;
        bool nul;
        if (m->escaped)
            decode(r, line + m->raw, m->raw_len, text + used, &nul);
        else
            memcpy(text + used, line + m->raw, m->len);
        text[used + m->len] = '\0';
        m->text = text + used;
        used += m->len + 1;
    }
    cutoff_node_kind kind = 0;
    if ((rc = check_line(r->members, &kind, diag)) != 0)
        goto done;

    /* The line is good: its strings go back into it, in the order the
     * jansson-based reader wrote them. */
    memmove(line, text, used);
    const member *m = r->members;
    out->id = line + (m[ID].text - text);
    out->kind = kind;
    out->parent = m[PARENT].type == V_STRING ? line + (m[PARENT].text - text) : NULL;
    out->name = m[NAME].type == V_STRING ? line + (m[NAME].text - text) : NULL;
    out->plan = m[PLAN].type == V_STRING ? line + (m[PLAN].text - text) : NULL;
done:
    if (text != NULL && text != small)
        co__free(text);
    reader_free(r);
    return rc;
}
