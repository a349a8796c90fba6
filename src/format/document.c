/* SPDX-License-Identifier: Apache-2.0 */
/*
 * document.c - the helpers every document parser of src/format shares:
 * one-block layout, reading JSON members with messages that name the JSON
 * path and suggest the key a typo meant, writing compact JSON through the
 * library allocator, UTF-8 and name checks, a duplicate-name set, and
 * quoting of user text for one-line, valid UTF-8 messages.
 */
#include "format/format_int.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdio.h>
#include <string.h>

/* ---- jansson's allocator ------------------------------------------------------ */

static pthread_once_t json_alloc_once = PTHREAD_ONCE_INIT;

static void install_json_alloc(void)
{
    /* co__malloc and co__free are malloc and free plus accounting, so a
     * value jansson allocated before this ran is still freed correctly. */
    json_set_alloc_funcs(co__malloc, co__free);
}

void co__json_init(void)
{
    pthread_once(&json_alloc_once, install_json_alloc);
}

/* ---- one-block layout ------------------------------------------------------ */

void *co__block_take(co__block *b, size_t size, size_t align)
{
    size_t off = (b->used + (align - 1)) & ~(align - 1);
    if (off < b->used || off + size < off) {
        b->overflow = true;
        return NULL;
    }
    b->used = off + size;
    return b->base ? b->base + off : NULL;
}

const char *co__block_str(co__block *b, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = co__block_take(b, n, 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

const char *const *co__block_strv(co__block *b, const char *const *v, size_t n)
{
    if (n == 0)
        return NULL;
    if (n > SIZE_MAX / sizeof(char *)) {
        b->overflow = true;
        return NULL;
    }
    const char **out = co__block_take(b, n * sizeof(char *), alignof(char *));
    for (size_t i = 0; i < n; i++) {
        const char *s = co__block_str(b, v[i]);
        if (out)
            out[i] = s;
    }
    return out;
}

int co__block_alloc(co__block *b)
{
    if (b->overflow)
        return CUTOFF_ENOMEM;
    b->base = co__malloc(b->used);
    if (b->base == NULL)
        return CUTOFF_ENOMEM;
    b->used = 0;
    return 0;
}

/* ---- messages ---------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s, or 0 when it is not one
 * (co__utf8_decode: overlong forms, surrogates and code points past
 * U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *s)
{
    uint32_t cp;
    return co__utf8_decode(s, &cp);
}

bool co__utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_seq(p);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

const char *co__text(const char *s, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    if (s == NULL) {
        snprintf(buf, size, "(null)");
        return buf;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    while (*p) {
        char piece[8];
        size_t n = utf8_seq(p), len;
        if (n == 1 && (*p < 0x20 || *p == 0x7f)) {
            len = (size_t)snprintf(piece, sizeof piece, "\\x%02x", *p);
        } else if (n == 1 && (*p == '"' || *p == '\\')) {
            piece[0] = '\\', piece[1] = (char)*p, len = 2;
        } else if (n == 0) {
            len = (size_t)snprintf(piece, sizeof piece, "\\x%02x", *p);
            n = 1;
        } else {
            memcpy(piece, p, n);
            len = n;
        }
        /* keep room for "..." and the NUL whenever more text follows */
        if (o + len + (p[n] ? 4 : 1) > size) {
            if (o + 4 <= size) {
                memcpy(buf + o, "...", 3);
                o += 3;
            }
            break;
        }
        memcpy(buf + o, piece, len);
        o += len;
        p += n;
    }
    buf[o] = '\0';
    return buf;
}

static bool failed_for_memory(const json_error_t *err)
{
    /* some of jansson's allocation failures leave no message at all */
    return json_error_code(err) == json_error_out_of_memory || err->text[0] == '\0';
}

json_t *co__json_parse(const char *text, size_t len, json_error_t *err, bool *nomem)
{
    co__json_init();
    memset(err, 0, sizeof *err); /* json_error_code() reads a byte not always set */
    *nomem = false;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, err);
    if (root != NULL)
        return root;
    if (failed_for_memory(err)) {
        *nomem = true;
        return NULL;
    }
    /* jansson reports a failed allocation in its lexer as a bad token. A
     * real syntax error fails the same way twice; anything else was memory. */
    json_error_t again;
    memset(&again, 0, sizeof again);
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &again);
    if (root == NULL && (failed_for_memory(&again) || again.position != err->position ||
                         strcmp(again.text, err->text) != 0))
        *nomem = true;
    return root;
}

void co__json_error_text(const char *in, char *out, size_t size)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    while (*p && o + 5 < size) {
        size_t n = utf8_seq(p);
        if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
            out[o++] = '?';
            p++;
        } else {
            memcpy(out + o, p, n);
            o += n;
            p += n;
        }
    }
    out[o] = '\0';
}

/* ---- reading ---------------------------------------------------------------------- */

int co__json_load_object(const char *text, size_t len, json_t **out, cutoff_diag *diag)
{
    co__json_init();
    json_error_t err;
    bool nomem;
    *out = NULL;
    if (text == NULL && len > 0)
        return co__diag(diag, CUTOFF_EINVAL, "no document text");
    json_t *root = co__json_parse(text ? text : "", len, &err, &nomem);
    if (root == NULL) {
        if (nomem)
            return co__diag(diag, CUTOFF_ENOMEM, "out of memory while reading JSON");
        char why[JSON_ERROR_TEXT_LENGTH + 8];
        co__json_error_text(err.text, why, sizeof why);
        if (diag)
            diag->line = err.line > 0 ? (size_t)err.line : 0;
        return co__diag(diag, CUTOFF_EPARSE, "line %d, column %d: malformed JSON: %s", err.line,
                        err.column, why);
    }
    if (!json_is_object(root)) {
        int rc = co__diag(diag, CUTOFF_EPARSE, "the document must be a JSON object, not %s",
                          co__json_kind(root));
        json_decref(root);
        return rc;
    }
    *out = root;
    return 0;
}

const char *co__json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a fractional number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown value";
}

const char *co__path_key(char *buf, size_t size, const char *base, const char *key)
{
    snprintf(buf, size, "%s%s%s", base, base[0] ? "." : "", key);
    return buf;
}

const char *co__path_index(char *buf, size_t size, const char *base, size_t i)
{
    snprintf(buf, size, "%s[%zu]", base, i);
    return buf;
}

/* Levenshtein distance of two short strings (both < 32 bytes). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[32];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag_prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag_prev + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag_prev = up;
        }
    }
    return row[lb];
}

int co__unknown_key(const char *path, const char *key, const char *const *allowed,
                    cutoff_diag *diag)
{
    char list[256] = "", hint[64] = "", q[80];
    size_t used = 0, best = SIZE_MAX;
    for (size_t i = 0; allowed[i]; i++) {
        int n = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", allowed[i]);
        if (n > 0 && (size_t)n < sizeof list - used)
            used += (size_t)n;
        if (strlen(key) < 32 && strlen(allowed[i]) < 32) {
            size_t d = edit_distance(key, allowed[i]);
            if (d <= 2 && d < strlen(allowed[i]) && d < best) {
                best = d;
                snprintf(hint, sizeof hint, " (did you mean \"%s\"?)", allowed[i]);
            }
        }
    }
    co__text(key, q, sizeof q);
    if (path[0])
        return co__diag(diag, CUTOFF_EPARSE, "%s: unknown key \"%s\"; allowed: %s%s", path, q, list,
                        hint);
    return co__diag(diag, CUTOFF_EPARSE, "unknown key \"%s\" at the top level; allowed: %s%s", q,
                    list, hint);
}

int co__json_check_keys(const json_t *obj, const char *path, const char *const *allowed,
                        cutoff_diag *diag)
{
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)obj, key, value) {
        size_t i;
        for (i = 0; allowed[i]; i++)
            if (strcmp(key, allowed[i]) == 0)
                break;
        if (!allowed[i])
            return co__unknown_key(path, key, allowed, diag);
    }
    return 0;
}

int co__json_type_error(cutoff_diag *diag, const char *path, const char *want, const json_t *got)
{
    return co__diag(diag, CUTOFF_EPARSE, "%s: expected %s, got %s", path, want, co__json_kind(got));
}

/* Looks up obj[key]; returns 1 when present and not read-as-absent, 0 when
 * absent (and allowed), or an error. */
static int member(const json_t *obj, const char *path, const char *key, int flags, json_t **out,
                  cutoff_diag *diag)
{
    json_t *v = json_object_get(obj, key);
    *out = v;
    if (v == NULL) {
        if (flags & CO__REQUIRED) {
            if (path[0])
                return co__diag(diag, CUTOFF_EPARSE, "%s: missing \"%s\"", path, key);
            return co__diag(diag, CUTOFF_EPARSE, "missing \"%s\" at the top level", key);
        }
        return 0;
    }
    if (json_is_null(v) && (flags & CO__NULLABLE) && !(flags & CO__REQUIRED)) {
        *out = NULL;
        return 0;
    }
    return 1;
}

int co__json_get_string(const json_t *obj, const char *path, const char *key, int flags, size_t max,
                        const char **out, cutoff_diag *diag)
{
    char p[160];
    json_t *v;
    *out = NULL;
    int rc = member(obj, path, key, flags, &v, diag);
    if (rc <= 0)
        return rc;
    co__path_key(p, sizeof p, path, key);
    if (!json_is_string(v))
        return co__json_type_error(diag, p, "a string", v);
    size_t len = json_string_length(v);
    if (max && len > max)
        return co__diag(diag, CUTOFF_ELIMIT, "%s: %zu bytes is too long; at most %zu are allowed",
                        p, len, max);
    *out = json_string_value(v);
    return 0;
}

int co__json_get_array(const json_t *obj, const char *path, const char *key, int flags,
                       json_t **out, cutoff_diag *diag)
{
    char p[160];
    json_t *v;
    *out = NULL;
    int rc = member(obj, path, key, flags, &v, diag);
    if (rc <= 0)
        return rc;
    if (!json_is_array(v))
        return co__json_type_error(diag, co__path_key(p, sizeof p, path, key), "an array", v);
    *out = v;
    return 0;
}

/* ---- writing ---------------------------------------------------------------------- */

json_t *co__json_str(const char *s)
{
    return json_stringn_nocheck(s, strlen(s));
}

json_t *co__json_str_or_null(const char *s)
{
    return s ? co__json_str(s) : json_null();
}

json_t *co__json_str_array(const char *const *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        if (co__json_push(arr, co__json_str(v[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

int co__json_put(json_t *obj, const char *key, json_t *value)
{
    if (value == NULL)
        return -1;
    return json_object_set_new_nocheck(obj, key, value);
}

int co__json_push(json_t *arr, json_t *value)
{
    if (value == NULL)
        return -1;
    return json_array_append_new(arr, value);
}

static int dump_to_buf(const char *text, size_t size, void *data)
{
    return co__buf_append(data, text, size) == 0 ? 0 : -1;
}

int co__json_dump(json_t *root, char **out)
{
    *out = NULL;
    if (root == NULL)
        return CUTOFF_ENOMEM;
    co__buf b;
    co__buf_init(&b);
    int failed = json_dump_callback(root, dump_to_buf, &b, JSON_COMPACT);
    json_decref(root);
    if (failed) {
        co__buf_free(&b);
        return CUTOFF_ENOMEM;
    }
    *out = co__buf_take(&b);
    return *out ? 0 : CUTOFF_ENOMEM;
}

/* ---- checks ------------------------------------------------------------------------- */

static bool name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ':' || c == '-';
}

bool co__name_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= CUTOFF_ID_MAX || !name_char((unsigned char)s[n]))
            return false;
    return n > 0;
}

bool co__region_pattern_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || s[n - 1] != '*')
        return cutoff_id_valid(s);
    if (n - 1 > CUTOFF_ID_MAX)
        return false;
    for (size_t i = 0; i + 1 < n; i++)
        if (!name_char((unsigned char)s[i]) && s[i] != '.')
            return false;
    return true;
}

/* ---- duplicate detection ---------------------------------------------------------------- */

int co__nameset_init(co__nameset *s, size_t n)
{
    size_t cap = 8;
    while (cap < 2 * n)
        cap *= 2;
    s->slots = co__calloc(cap, sizeof *s->slots);
    s->mask = cap - 1;
    return s->slots ? 0 : CUTOFF_ENOMEM;
}

int co__nameset_find(const co__nameset *s, const char *name, size_t len, size_t *index)
{
    size_t i = (size_t)co__hash(name, len) & s->mask;
    for (; s->slots[i].name; i = (i + 1) & s->mask) {
        if (s->slots[i].len == len && memcmp(s->slots[i].name, name, len) == 0) {
            *index = s->slots[i].index;
            return 1;
        }
    }
    return 0;
}

int co__nameset_add(co__nameset *s, const char *name, size_t len, size_t index, size_t *first)
{
    size_t i = (size_t)co__hash(name, len) & s->mask;
    for (; s->slots[i].name; i = (i + 1) & s->mask) {
        if (s->slots[i].len == len && memcmp(s->slots[i].name, name, len) == 0) {
            *first = s->slots[i].index;
            return 1;
        }
    }
    s->slots[i].name = name;
    s->slots[i].len = len;
    s->slots[i].index = index;
    return 0;
}

void co__nameset_free(co__nameset *s)
{
    co__free(s->slots);
    s->slots = NULL;
}
