/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cases.c - reviews: opening a case on a subject scope, recording evidence
 * (a file's SHA-256, size, media type and a note; the content itself only
 * when asked), findings, closing, and showing and listing cases. Each
 * change is one transaction with its audit record.
 */
#include "db/db_int.h"
#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define TITLE_MAX 1024
#define NOTE_MAX 65536
#define FINDINGS_MAX (1u << 20)
#define MEDIA_TYPE_MAX 255
/* Evidence content is kept only on request, and only up to this size. */
#define CONTENT_MAX (64u << 20)

/* Reads a case for a change: it must exist and be open. */
static int open_case(cutoff_db *db, const char *case_id, co__case_row *row, cutoff_diag *diag)
{
    char q[160];
    int rc = STORE_OPS(db)->case_get(db->store, case_id, row);
    if (rc == CUTOFF_ENOTFOUND)
        return co__diag(diag, rc, "no case \"%s\"", co__quote(case_id, q, sizeof q));
    if (rc != 0)
        return rc;
    if (!row->open) {
        co__case_row_clear(row);
        return co__diag(diag, CUTOFF_ESTATE,
                        "case %s is closed; open a new case to continue the review", case_id);
    }
    return 0;
}

/* ===================================================================== */
/* Opening                                                                */
/* ===================================================================== */

/* The scope as a JSON array, after checking each id names a stored node
 * and none repeats. */
static int scope_json(cutoff_db *db, const char *const *scope, size_t n, json_t **out,
                      cutoff_diag *diag)
{
    char q[160];
    json_t *arr = json_array();
    int rc = arr ? 0 : CUTOFF_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        cutoff_node_spec node;
        char *strings = NULL;
        if (!cutoff_id_valid(scope[i])) {
            rc = co__diag(diag, CUTOFF_EINVAL,
                          "scope[%zu]: \"%s\" is not a node id (1-128 bytes of [A-Za-z0-9._:-])", i,
                          co__quote(scope[i], q, sizeof q));
            break;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(scope[k], scope[i]) == 0)
                rc =
                    co__diag(diag, CUTOFF_EINVAL, "scope[%zu]: \"%s\" is named twice", i, scope[i]);
        if (rc != 0)
            break;
        rc = STORE_OPS(db)->node_get(db->store, scope[i], &node, &strings);
        co__free(strings);
        if (rc == CUTOFF_ENOTFOUND)
            rc = co__diag(diag, rc, "scope[%zu]: node \"%s\" is not in the tree", i, scope[i]);
        else if (rc == 0 && json_array_append_new(arr, json_string(scope[i])) != 0)
            rc = CUTOFF_ENOMEM;
    }
    if (rc != 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

int cutoff_db_case_open(cutoff_db *db, const char *actor, const char *id, const char *title,
                        const char *const *scope, size_t n_scope, char id_out[CUTOFF_ID_MAX + 1],
                        cutoff_diag *diag)
{
    co__diag_clear(diag);
    char q[160], assigned[CUTOFF_ID_MAX + 1];
    json_t *scope_arr = NULL;
    char *scope_text = NULL;
    co__case_row existing = {0};
    int rc = co__db_check_actor(actor, diag);
    if (rc == 0)
        rc = co__db_check_text(title, TITLE_MAX, false, "case title", diag);
    if (rc != 0)
        return rc;
    if (id != NULL && !cutoff_id_valid(id))
        return co__diag(diag, CUTOFF_EINVAL, "case id \"%s\" is not 1-128 bytes of [A-Za-z0-9._:-]",
                        co__quote(id, q, sizeof q));
    if (n_scope > 0 && scope == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "scope is missing");
    if ((rc = co__db_begin(db, diag)) != 0)
        return rc;
    if ((rc = scope_json(db, scope, n_scope, &scope_arr, diag)) != 0)
        goto out;
    if (id != NULL) {
        rc = STORE_OPS(db)->case_get(db->store, id, &existing);
        if (rc == 0)
            rc = co__diag(diag, CUTOFF_EEXIST, "case %s already exists", id);
        else if (rc == CUTOFF_ENOTFOUND)
            rc = 0;
        if (rc != 0)
            goto out;
        snprintf(assigned, sizeof assigned, "%s", id);
    } else {
        /* CASE-(count + 1), stepping over ids that were given by hand. */
        uint64_t n = 0;
        if ((rc = STORE_OPS(db)->case_count(db->store, &n)) != 0)
            goto out;
        for (n++;; n++) {
            snprintf(assigned, sizeof assigned, "CASE-%llu", (unsigned long long)n);
            rc = STORE_OPS(db)->case_get(db->store, assigned, &existing);
            co__case_row_clear(&existing);
            if (rc == CUTOFF_ENOTFOUND)
                break;
            if (rc != 0)
                goto out;
        }
        rc = 0;
    }
    if ((rc = co__db_json_take(json_incref(scope_arr), &scope_text)) != 0)
        goto out;
    int64_t now = co__db_wall_now();
    co__case_row row = {
        .id = assigned,
        .title = (char *)title,
        .scope_json = scope_text,
        .open = true,
        .opened_by = (char *)actor,
        .opened_at = now,
    };
    if ((rc = STORE_OPS(db)->case_put(db->store, &row)) != 0)
        goto out;
    rc = co__db_audit(db, CUTOFF_CHANGE_CASES, now, actor, "case.open", assigned,
                      json_pack("{s:s,s:O}", "title", title, "scope", scope_arr));
out:
    rc = co__db_end(db, co__db_store_fail(db, rc, diag, "opening the case"), diag);
    if (rc == 0 && id_out)
        memcpy(id_out, assigned, strlen(assigned) + 1);
    co__case_row_clear(&existing);
    co__free(scope_text);
    json_decref(scope_arr);
    return rc;
}

/* ===================================================================== */
/* Evidence, findings, closing                                            */
/* ===================================================================== */

/* A media type: "type/subtype", printable ASCII without spaces. */
static bool media_type_valid(const char *m)
{
    size_t n = strlen(m), slashes = 0;
    if (n < 3 || n > MEDIA_TYPE_MAX || m[0] == '/' || m[n - 1] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)m[i];
        if (c <= 0x20 || c >= 0x7f)
            return false;
        slashes += c == '/';
    }
    return slashes == 1;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Hashes a file (and keeps its bytes when content is not NULL). */
static int hash_file(const char *path, co__buf *content, char sha_hex[65], int64_t *size,
                     cutoff_diag *diag)
{
    char q[300];
    unsigned char chunk[65536], digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state hash;
    int rc = 0;
    FILE *f = NULL;
    if ((rc = co__open_regular(path, "evidence file", CUTOFF_EVIDENCE_MAX, &f, diag)) != 0)
        return rc;
    crypto_hash_sha256_init(&hash);
    *size = 0;
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        crypto_hash_sha256_update(&hash, chunk, got);
        *size += (int64_t)got;
        if ((uint64_t)*size > CUTOFF_EVIDENCE_MAX) { /* it grew while read */
            rc = co__diag(diag, CUTOFF_ELIMIT, "evidence file \"%s\" is larger than %llu MiB",
                          co__quote(path, q, sizeof q),
                          (unsigned long long)(CUTOFF_EVIDENCE_MAX >> 20));
            goto out;
        }
        if (content) {
            if ((uint64_t)*size > CONTENT_MAX) {
                rc = co__diag(
                    diag, CUTOFF_ELIMIT,
                    "evidence file \"%s\" is larger than %u MiB, the most whose content is "
                    "kept; record it without its content",
                    co__quote(path, q, sizeof q), CONTENT_MAX >> 20);
                goto out;
            }
            if ((rc = co__buf_append(content, chunk, got)) != 0)
                goto out;
        }
    }
    if (ferror(f)) {
        rc = co__diag(diag, CUTOFF_EIO, "error reading evidence file \"%s\": %s",
                      co__quote(path, q, sizeof q), strerror(errno));
        goto out;
    }
    crypto_hash_sha256_final(&hash, digest);
    sodium_bin2hex(sha_hex, 65, digest, sizeof digest);
out:
    fclose(f);
    return rc;
}

int cutoff_db_case_add_evidence(cutoff_db *db, const char *actor, const char *case_id,
                                const char *path, const char *name, const char *media_type,
                                const char *note, int keep_content, char sha256_hex_out[65],
                                cutoff_diag *diag)
{
    co__diag_clear(diag);
    char q[160], sha[65];
    co__buf content;
    co__buf_init(&content);
    co__case_row row = {0};
    int64_t size = 0, n = 0;
    int rc = co__db_check_actor(actor, diag);
    if (rc == 0)
        rc = co__text_check(note, NOTE_MAX, CO__TEXT_OPTIONAL | CO__TEXT_MULTILINE, "evidence note",
                            diag);
    if (rc != 0)
        return rc;
    if (case_id == NULL || path == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "a case id and an evidence file are required");
    if (media_type == NULL)
        media_type = "application/octet-stream";
    if (!media_type_valid(media_type))
        return co__diag(diag, CUTOFF_EINVAL,
                        "media type \"%s\" is not of the form type/subtype (e.g. text/csv)",
                        co__quote(media_type, q, sizeof q));
    const char *file = name ? name : base_name(path);
    if (co__db_check_text(file, 1024, false, "evidence file name", diag) != 0)
        return CUTOFF_EINVAL;
    if ((rc = hash_file(path, keep_content ? &content : NULL, sha, &size, diag)) != 0)
        goto done;
    if ((rc = co__db_begin(db, diag)) != 0)
        goto done;
    if ((rc = open_case(db, case_id, &row, diag)) != 0)
        goto out;
    int64_t now = co__db_wall_now();
    co__evidence_row ev = {
        .case_id = (char *)case_id,
        .sha256_hex = sha,
        .size = size,
        .media_type = (char *)media_type,
        .file = (char *)file,
        .note = (char *)(note && *note ? note : NULL),
        .added_by = (char *)actor,
        .added_at = now,
        .content = keep_content ? (content.data ? content.data : "") : NULL,
        .content_len = content.len,
    };
    if ((rc = STORE_OPS(db)->evidence_add(db->store, &ev, &n)) != 0)
        goto out;
    rc = co__db_audit(db, CUTOFF_CHANGE_CASES, now, actor, "case.evidence", case_id,
                      json_pack("{s:I,s:s,s:I,s:s,s:s,s:s?,s:b}", "n", (json_int_t)n, "sha256", sha,
                                "size", (json_int_t)size, "media_type", media_type, "file", file,
                                "note", ev.note, "content_kept", keep_content != 0));
out:
    rc = co__db_end(db, co__db_store_fail(db, rc, diag, "adding evidence"), diag);
    if (rc == 0 && sha256_hex_out)
        memcpy(sha256_hex_out, sha, sizeof sha);
done:
    co__case_row_clear(&row);
    co__buf_free(&content);
    return rc;
}

int cutoff_db_case_set_findings(cutoff_db *db, const char *actor, const char *case_id,
                                const char *findings, cutoff_diag *diag)
{
    co__diag_clear(diag);
    co__case_row row = {0};
    int rc = co__db_check_actor(actor, diag);
    if (rc == 0)
        rc = co__text_check(findings, FINDINGS_MAX, CO__TEXT_MULTILINE, "findings", diag);
    if (rc != 0)
        return rc;
    if (case_id == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no case id given");
    if ((rc = co__db_begin(db, diag)) != 0)
        return rc;
    if ((rc = open_case(db, case_id, &row, diag)) != 0)
        goto out;
    int64_t now = co__db_wall_now();
    char *old = row.findings, *old_by = row.updated_by;
    row.findings = (char *)findings;
    row.updated_by = (char *)actor;
    row.updated_at = now;
    rc = STORE_OPS(db)->case_put(db->store, &row);
    row.findings = old;
    row.updated_by = old_by;
    if (rc == 0)
        rc = co__db_audit(db, CUTOFF_CHANGE_CASES, now, actor, "case.findings", case_id,
                          json_pack("{s:s,s:b}", "findings", findings, "replaced", old != NULL));
out:
    co__case_row_clear(&row);
    return co__db_end(db, co__db_store_fail(db, rc, diag, "setting findings"), diag);
}

int cutoff_db_case_close(cutoff_db *db, const char *actor, const char *case_id, cutoff_diag *diag)
{
    co__diag_clear(diag);
    co__case_row row = {0};
    int rc = co__db_check_actor(actor, diag);
    if (rc != 0)
        return rc;
    if (case_id == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no case id given");
    if ((rc = co__db_begin(db, diag)) != 0)
        return rc;
    if ((rc = open_case(db, case_id, &row, diag)) != 0)
        goto out;
    int64_t now = co__db_wall_now();
    char *old_closed_by = row.closed_by, *old_by = row.updated_by;
    row.open = false;
    row.closed_by = row.updated_by = (char *)actor;
    row.closed_at = row.updated_at = now;
    rc = STORE_OPS(db)->case_put(db->store, &row);
    row.closed_by = old_closed_by;
    row.updated_by = old_by;
    if (rc == 0)
        rc =
            co__db_audit(db, CUTOFF_CHANGE_CASES, now, actor, "case.close", case_id, json_object());
    if (rc == 0)
        rc = co__db_notices_case_closed(db, case_id, now);
out:
    co__case_row_clear(&row);
    return co__db_end(db, co__db_store_fail(db, rc, diag, "closing the case"), diag);
}

/* ===================================================================== */
/* Showing and listing                                                    */
/* ===================================================================== */

/* The fields of a case row every view shows. */
static json_t *case_json(const co__case_row *r, bool full)
{
    bool ok = true;
    json_t *o = json_object();
    json_t *scope = json_loads(r->scope_json ? r->scope_json : "[]", 0, NULL);
    co__db_set(o, "id", json_string(r->id), &ok);
    co__db_set(o, "title", json_string(r->title), &ok);
    co__db_set(o, "status", json_string(r->open ? "open" : "closed"), &ok);
    co__db_set(o, "scope", scope ? scope : json_array(), &ok);
    co__db_set(o, "opened_by", co__db_json_str(r->opened_by), &ok);
    co__db_set(o, "opened_at", co__db_json_time(r->opened_at), &ok);
    co__db_set(o, "closed_by", co__db_json_str(r->closed_by), &ok);
    co__db_set(o, "closed_at", co__db_json_time(r->closed_at), &ok);
    if (full) {
        co__db_set(o, "findings", co__db_json_str(r->findings), &ok);
        co__db_set(o, "updated_by", co__db_json_str(r->updated_by), &ok);
        co__db_set(o, "updated_at", co__db_json_time(r->updated_at), &ok);
    }
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int add_evidence_json(void *ctx, const co__evidence_row *r)
{
    json_t *list = ctx;
    bool ok = true;
    json_t *o = json_object();
    co__db_set(o, "n", json_integer((json_int_t)r->n), &ok);
    co__db_set(o, "sha256", json_string(r->sha256_hex), &ok);
    co__db_set(o, "size", json_integer((json_int_t)r->size), &ok);
    co__db_set(o, "media_type", co__db_json_str(r->media_type), &ok);
    co__db_set(o, "file", co__db_json_str(r->file), &ok);
    co__db_set(o, "note", co__db_json_str(r->note), &ok);
    co__db_set(o, "added_by", co__db_json_str(r->added_by), &ok);
    co__db_set(o, "added_at", co__db_json_time(r->added_at), &ok);
    co__db_set(o, "content_kept", json_boolean(r->content_kept), &ok);
    if (!ok) {
        json_decref(o);
        return CUTOFF_ENOMEM;
    }
    return json_array_append_new(list, o) == 0 ? 0 : CUTOFF_ENOMEM;
}

static int add_action_json(void *ctx, const co__action_row *r)
{
    json_t *list = ctx;
    bool ok = true;
    json_t *o = json_object();
    co__db_set(o, "id", json_string(r->id), &ok);
    co__db_set(o, "version", json_integer(r->version), &ok);
    co__db_set(o, "state", json_string(cutoff_action_state_name((cutoff_action_state)r->state)),
               &ok);
    co__db_set(o, "proposed_by", co__db_json_str(r->proposed_by), &ok);
    co__db_set(o, "proposed_at", co__db_json_time(r->proposed_at), &ok);
    co__db_set(o, "approved_by", co__db_json_str(r->approved_by), &ok);
    co__db_set(o, "activated_at", co__db_json_time(r->activated_at), &ok);
    co__db_set(o, "lifted_at", co__db_json_time(r->lifted_at), &ok);
    if (!ok) {
        json_decref(o);
        return CUTOFF_ENOMEM;
    }
    return json_array_append_new(list, o) == 0 ? 0 : CUTOFF_ENOMEM;
}

int cutoff_db_case_show(cutoff_db *db, const char *case_id, char **json_out)
{
    co__case_row row = {0};
    json_t *o = NULL;
    bool ok = true;
    if (case_id == NULL)
        return CUTOFF_EINVAL;
    int rc = co__db_begin_read(db, NULL);
    if (rc != 0)
        return rc;
    if ((rc = STORE_OPS(db)->case_get(db->store, case_id, &row)) != 0)
        goto out;
    json_t *evidence = json_array(), *actions = json_array();
    o = case_json(&row, true);
    co__db_set(o, "evidence", evidence, &ok);
    co__db_set(o, "actions", actions, &ok);
    if (!ok) {
        rc = CUTOFF_ENOMEM;
        goto out;
    }
    if ((rc = STORE_OPS(db)->evidence_iter(db->store, case_id, add_evidence_json, evidence)) != 0)
        goto out;
    co__action_filter f = {.case_id = case_id, .state = -1, .latest_only = true};
    if ((rc = STORE_OPS(db)->action_iter(db->store, &f, add_action_json, actions)) != 0)
        goto out;
    rc = co__db_json_take(o, json_out);
    o = NULL;
out:
    json_decref(o);
    co__case_row_clear(&row);
    return co__db_end(db, rc, NULL);
}

static int add_case_json(void *ctx, const co__case_row *r)
{
    json_t *o = case_json(r, false);
    if (o == NULL)
        return CUTOFF_ENOMEM;
    return json_array_append_new(ctx, o) == 0 ? 0 : CUTOFF_ENOMEM;
}

int cutoff_db_case_list(cutoff_db *db, char **json_out)
{
    json_t *list = json_array();
    if (list == NULL)
        return CUTOFF_ENOMEM;
    int rc = STORE_OPS(db)->case_iter(db->store, add_case_json, list);
    if (rc != 0) {
        json_decref(list);
        return rc;
    }
    return co__db_json_take(list, json_out);
}
