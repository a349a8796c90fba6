/* SPDX-License-Identifier: Apache-2.0 */
/*
 * format_int.h - helpers private to the document parsers of src/format:
 * one-block layout of parsed documents, reading JSON members with messages
 * that name the JSON path, writing JSON through the library allocator, a
 * small set for duplicate detection, and quoting of user text in messages.
 */
#ifndef CUTOFF_FORMAT_INT_H
#define CUTOFF_FORMAT_INT_H

#include "format/format.h"
#include "util/util.h"

#include <jansson.h>
#include <stdbool.h>

/* ---- one-block layout ------------------------------------------------------
 * Documents live in one allocation so that one free releases them. The
 * layout code runs twice: first with base == NULL to measure (take returns
 * NULL and only counts), then on a block of the measured size to fill it. */
typedef struct co__block {
    char *base;
    size_t used;
    bool overflow; /* the measured size does not fit in size_t */
} co__block;

/* Reserves size bytes aligned to align (a power of two). NULL when measuring. */
void *co__block_take(co__block *b, size_t size, size_t align);
/* Copies s (NULL stays NULL). Returns the copy, or NULL when measuring. */
const char *co__block_str(co__block *b, const char *s);
/* Copies n string pointers and their strings; returns the new array. */
const char *const *co__block_strv(co__block *b, const char *const *v, size_t n);
/* After measuring: allocates the block (CUTOFF_ENOMEM on failure or overflow). */
int co__block_alloc(co__block *b);

/* ---- reading ---------------------------------------------------------------- */

/* Parses text as a JSON object. Errors: CUTOFF_EPARSE with "line L, column
 * C: ..." (diag->line = L), CUTOFF_ENOMEM. */
int co__json_load_object(const char *text, size_t len, json_t **out, cutoff_diag *diag);
/* "an object", "a string", "null", ... for messages. */
const char *co__json_kind(const json_t *v);
/* "base.key", or "key" at the top level (base ""). Returns buf. */
const char *co__path_key(char *buf, size_t size, const char *base, const char *key);
/* "base[i]". Returns buf. */
const char *co__path_index(char *buf, size_t size, const char *base, size_t i);
/* Fails on the first key of obj not in allowed (NULL-terminated), naming it,
 * the keys allowed and the nearest allowed key when it looks like a typo. */
int co__json_check_keys(const json_t *obj, const char *path, const char *const *allowed,
                        cutoff_diag *diag);
/* The message of co__json_check_keys for one key not in allowed. */
int co__unknown_key(const char *path, const char *key, const char *const *allowed,
                    cutoff_diag *diag);
/* "PATH: expected WANT, got KIND". PATH names the member (never empty: the
 * top-level document is checked by co__json_load_object). */
int co__json_type_error(cutoff_diag *diag, const char *path, const char *want, const json_t *got);

enum {
    CO__OPTIONAL = 0, /* absent is fine (value NULL) */
    CO__REQUIRED = 1, /* absent is an error */
    CO__NULLABLE = 2  /* null is read as absent */
};

/* Reads obj[key] as a string of at most max bytes (0: no limit) into *out
 * (NULL when absent or null and allowed). The string is borrowed from obj. */
int co__json_get_string(const json_t *obj, const char *path, const char *key, int flags, size_t max,
                        const char **out, cutoff_diag *diag);
/* Reads obj[key] as an array (NULL when absent and allowed). */
int co__json_get_array(const json_t *obj, const char *path, const char *key, int flags,
                       json_t **out, cutoff_diag *diag);

/* ---- writing ---------------------------------------------------------------- */

/* A JSON string of s without a UTF-8 check (callers validate first); NULL
 * only when out of memory. */
json_t *co__json_str(const char *s);
/* co__json_str(s), or JSON null when s is NULL. */
json_t *co__json_str_or_null(const char *s);
/* A JSON array of the n strings of v; NULL only when out of memory. */
json_t *co__json_str_array(const char *const *v, size_t n);
/* obj[key] = value, taking the reference; -1 when value is NULL or out of memory. */
int co__json_put(json_t *obj, const char *key, json_t *value);
/* arr += value, taking the reference; -1 when value is NULL or out of memory. */
int co__json_push(json_t *arr, json_t *value);
/* Writes root as compact JSON into memory from co__malloc (release with
 * cutoff_free) and drops the reference on root. CUTOFF_ENOMEM on failure. */
int co__json_dump(json_t *root, char **out);

/* ---- checks ----------------------------------------------------------------- */

/* A service or action name: a non-empty id without dots. */
bool co__name_valid(const char *s);
/* A region pattern: a region id, or an id prefix ending in '*' ("eu-*");
 * "*" itself is handled by the callers. */
bool co__region_pattern_valid(const char *s);

/* ---- duplicate detection ------------------------------------------------------ */
typedef struct co__nameset {
    struct co__nameset_slot {
        const char *name;
        size_t len;
        size_t index;
    } * slots;
    size_t mask;
} co__nameset;

/* A set sized for up to n names (adding more is a bug). CUTOFF_ENOMEM on
 * failure. */
int co__nameset_init(co__nameset *s, size_t n);
/* Adds the len bytes at name with their list index. Returns 1 and sets
 * *first to the index of the equal name already present, else 0. Names are
 * borrowed, not copied. */
int co__nameset_add(co__nameset *s, const char *name, size_t len, size_t index, size_t *first);
/* 1 and *index when the len bytes at name are in the set, else 0. */
int co__nameset_find(const co__nameset *s, const char *name, size_t len, size_t *index);
void co__nameset_free(co__nameset *s);

/* ---- messages ------------------------------------------------------------------- */

/* Copies s for a message: quotes and backslashes escaped, control bytes and
 * invalid UTF-8 as \xNN, cut on a character boundary with "..." to fit size
 * bytes. The result is always valid UTF-8 on one line. Returns buf. */
const char *co__text(const char *s, char *buf, size_t size);

/* json_loadb (rejecting duplicate keys) that tells allocation failures
 * from syntax errors, which jansson does not always do: NULL with *nomem
 * set when memory ran out, NULL with *err filled for malformed text. */
json_t *co__json_parse(const char *text, size_t len, json_error_t *err, bool *nomem);

/* jansson's error text quotes raw input ("near '...'"): copies it keeping it
 * on one line and valid UTF-8, without escaping its own quotes. */
void co__json_error_text(const char *in, char *out, size_t size);

#endif
