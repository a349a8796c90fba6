/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node_line_jansson.c - the reading of a node line as the library did it
 * up to 0.2: jansson builds the line's JSON tree, which is then walked.
 * The tests hold src/format/node_line.c (which builds no tree) to it: the
 * same lines accepted with the same values, the same lines refused with
 * the same messages.
 */
#include "node_line_jansson.h"

#include "format/format_int.h"

#include <string.h>

static const char *const node_keys[] = {"id", "kind", "parent", "name", "plan", NULL};

#define ID_RULE "1-128 bytes of A-Z a-z 0-9 . _ : -"

/* A member that must be an id string (or, when optional, null/absent). */
static int check_id(const char *key, const json_t *v, bool required, cutoff_diag *diag)
{
    char q[96];
    if (v == NULL || json_is_null(v)) {
        if (!required)
            return 0;
        if (v == NULL)
            return co__diag(diag, CUTOFF_EPARSE, "missing \"%s\"", key);
    }
    if (!json_is_string(v))
        return co__json_type_error(diag, key, "a string", v);
    const char *s = json_string_value(v);
    if (cutoff_id_valid(s))
        return 0;
    size_t n = json_string_length(v);
    if (n > CUTOFF_ID_MAX)
        return co__diag(diag, CUTOFF_EPARSE, "%s: \"%s\" is %zu bytes; ids are " ID_RULE, key,
                        co__text(s, q, 40), n);
    return co__diag(diag, CUTOFF_EPARSE, "%s: \"%s\" is not an id; ids are " ID_RULE, key,
                    co__text(s, q, sizeof q));
}

/* Copies the string of v (if any) to line + *used and returns the copy. */
static const char *keep(char *line, size_t *used, const json_t *v)
{
    if (v == NULL || !json_is_string(v))
        return NULL;
    size_t n = json_string_length(v) + 1;
    char *dst = line + *used;
    memcpy(dst, json_string_value(v), n);
    *used += n;
    return dst;
}

static int check_line(json_t *const m[5], cutoff_node_kind *kind, cutoff_diag *diag)
{
    enum { ID, KIND, PARENT, NAME, PLAN };
    char q[96];
    int rc = check_id("id", m[ID], true, diag);
    if (rc != 0)
        return rc;
    if (m[KIND] == NULL)
        return co__diag(diag, CUTOFF_EPARSE, "missing \"kind\" (tenant, unit or subscription)");
    if (!json_is_string(m[KIND]))
        return co__json_type_error(diag, "kind", "a string", m[KIND]);
    *kind = cutoff_node_kind_parse(json_string_value(m[KIND]));
    if (*kind == 0)
        return co__diag(diag, CUTOFF_EPARSE,
                        "kind: \"%s\" is not a kind; use tenant, unit or subscription",
                        co__text(json_string_value(m[KIND]), q, sizeof q));
    rc = check_id("parent", m[PARENT], false, diag);
    if (rc != 0)
        return rc;
    bool has_parent = m[PARENT] != NULL && !json_is_null(m[PARENT]);
    if (*kind == CUTOFF_NODE_TENANT && has_parent)
        return co__diag(diag, CUTOFF_EPARSE,
                        "parent: a tenant has no parent (got \"%s\"); use null or leave it out",
                        co__text(json_string_value(m[PARENT]), q, sizeof q));
    if (*kind != CUTOFF_NODE_TENANT && !has_parent)
        return co__diag(diag, CUTOFF_EPARSE,
                        "missing \"parent\": a %s needs a parent (a tenant or a unit)",
                        cutoff_node_kind_name(*kind));
    if (m[NAME] != NULL && !json_is_null(m[NAME])) {
        if (!json_is_string(m[NAME]))
            return co__json_type_error(diag, "name", "a string", m[NAME]);
        if (json_string_length(m[NAME]) > CO__TEXT_MAX)
            return co__diag(diag, CUTOFF_ELIMIT,
                            "name: %zu bytes is too long; at most %d are allowed",
                            json_string_length(m[NAME]), CO__TEXT_MAX);
        if (co__text_check(json_string_value(m[NAME]), 0, CO__TEXT_OPTIONAL, "name", diag) != 0) {
            if (diag)
                diag->code = CUTOFF_EPARSE; /* malformed input in a document */
            return CUTOFF_EPARSE;
        }
    }
    return check_id("plan", m[PLAN], false, diag);
}

int ref_node_parse_line(char *line, size_t len, cutoff_node_spec *out, cutoff_diag *diag)
{
    enum { ID, KIND, PARENT, NAME, PLAN };
    if (line == NULL || out == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no line");

    json_error_t err;
    bool nomem;
    json_t *root = co__json_parse(line, len, &err, &nomem);
    if (root == NULL) {
        if (nomem)
            return co__diag(diag, CUTOFF_ENOMEM, "out of memory while reading a node line");
        char why[JSON_ERROR_TEXT_LENGTH + 8];
        co__json_error_text(err.text, why, sizeof why);
        return co__diag(diag, CUTOFF_EPARSE, "malformed JSON at column %d: %s", err.column, why);
    }

    int rc = 0;
    json_t *m[5] = {NULL};
    cutoff_node_kind kind = 0;
    if (!json_is_object(root)) {
        rc = co__diag(diag, CUTOFF_EPARSE,
                      "a node line is one JSON object like {\"id\": ..., \"kind\": ...}, not %s",
                      co__json_kind(root));
        goto done;
    }
    const char *key;
    json_t *value;
    json_object_foreach (root, key, value) {
        int slot = strcmp(key, "id") == 0       ? ID
                   : strcmp(key, "kind") == 0   ? KIND
                   : strcmp(key, "parent") == 0 ? PARENT
                   : strcmp(key, "name") == 0   ? NAME
                   : strcmp(key, "plan") == 0   ? PLAN
                                                : -1;
        if (slot < 0) {
            rc = co__json_check_keys(root, "", node_keys, diag);
            goto done;
        }
        m[slot] = value;
    }
    rc = check_line(m, &kind, diag);
    if (rc != 0)
        goto done;

    size_t used = 0;
    out->id = keep(line, &used, m[ID]);
    out->kind = kind;
    out->parent = keep(line, &used, m[PARENT]);
    out->name = keep(line, &used, m[NAME]);
    out->plan = keep(line, &used, m[PLAN]);
done:
    json_decref(root);
    return rc;
}
