/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy.c - copying a whole database into an empty one (cutoff db copy),
 * for moving between files, machines or backends. It is written against
 * the store interface alone: every table is read with the source backend's
 * iterations and written with the destination backend's puts, so any pair
 * of backends works. The source is read in one read transaction (one
 * consistent state while writers go on) after its audit chain verifies;
 * the destination gets its schema and every row in one write transaction,
 * checked before it commits, so that it holds either the whole copy or
 * nothing. Rows that carry proof are copied exactly as stored: audit
 * records with their seq and hashes, signed heads, signed notices.
 */
#include "audit/audit.h"
#include "db/db_int.h"
#include "format/format.h"
#include "util/util.h"

#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct copier {
    co__store *src, *dst;
    const cutoff_db_copy_options *opt;
    cutoff_diag *diag;
    const char *table; /* being copied */
    uint64_t rows;     /* of it, so far */
    uint64_t content;  /* evidence rows with content */
} copier;

/* ---- progress ------------------------------------------------------------ */

static void row_done(copier *c)
{
    if (++c->rows % CUTOFF_COPY_PROGRESS_ROWS == 0 && c->opt->progress)
        c->opt->progress(c->opt->progress_ctx, c->table, c->rows, 0);
}

/* ---- one callback per table: read from the source, put into the copy ---- */

static int copy_catalog(void *ctx, const char *json, const char *loaded_by, int64_t loaded_at)
{
    copier *c = ctx;
    int rc = c->dst->ops->catalog_put(c->dst, json, loaded_by, loaded_at);
    if (rc == 0)
        row_done(c);
    return rc;
}

static int copy_node(void *ctx, const cutoff_node_spec *node)
{
    copier *c = ctx;
    int rc = c->dst->ops->node_put(c->dst, node);
    if (rc == 0)
        row_done(c);
    return rc;
}

static int copy_case(void *ctx, const co__case_row *row)
{
    copier *c = ctx;
    int rc = c->dst->ops->case_put(c->dst, row);
    if (rc == 0)
        row_done(c);
    return rc;
}

/* Numbers that the destination assigns (evidence, notices, heads, changes)
 * must come out as the source's: they are named in audit payloads, notices
 * and signed statements. They are 1, 2, 3, ... in a store this program
 * wrote; a gap is a damaged source. */
static int renumbered(copier *c, const char *what, const char *owner, uint64_t was, uint64_t is)
{
    char q[96];
    return co__diag(c->diag, CUTOFF_ESTORE,
                    "%s %llu%s%s of the source would be number %llu in the copy: the source's "
                    "numbering has a gap, so it was changed outside cutoff",
                    what, (unsigned long long)was, owner ? " of " : "",
                    owner ? co__quote(owner, q, sizeof q) : "", (unsigned long long)is);
}

static int copy_evidence(void *ctx, const co__evidence_row *row)
{
    copier *c = ctx;
    int64_t n = 0;
    int rc = c->dst->ops->evidence_add(c->dst, row, &n);
    if (rc == 0 && n != row->n)
        rc = renumbered(c, "evidence", row->case_id, (uint64_t)row->n, (uint64_t)n);
    if (rc == 0) {
        c->content += row->content != NULL;
        row_done(c);
    }
    return rc;
}

static int copy_action(void *ctx, const co__action_row *row)
{
    copier *c = ctx;
    int rc = c->dst->ops->action_put(c->dst, row);
    if (rc == 0)
        row_done(c);
    return rc;
}

static int copy_notice(void *ctx, const co__notice_row *row)
{
    copier *c = ctx;
    uint64_t n = 0;
    int rc = c->dst->ops->notice_put(c->dst, row, &n);
    if (rc == 0 && n != row->n)
        rc = renumbered(c, "notice version", row->action_id, row->n, n);
    if (rc == 0)
        row_done(c);
    return rc;
}

static int copy_audit(void *ctx, const co__audit_row *row)
{
    copier *c = ctx;
    int rc = c->dst->ops->audit_put(c->dst, row);
    if (rc == 0)
        row_done(c);
    return rc;
}

static int copy_head(void *ctx, const co__head_row *row)
{
    copier *c = ctx;
    uint64_t n = 0;
    int rc = c->dst->ops->head_put(c->dst, row, &n);
    if (rc == 0 && n != row->n)
        rc = renumbered(c, "signed head", NULL, row->n, n);
    if (rc == 0)
        row_done(c);
    return rc;
}

static int copy_change(void *ctx, uint64_t seq, unsigned kind, const char *object)
{
    copier *c = ctx;
    /* change_put appends after the last row: the copy's seq is rows + 1. */
    if (seq != c->rows + 1)
        return renumbered(c, "change", NULL, seq, c->rows + 1);
    int rc = c->dst->ops->change_put(c->dst, kind, object);
    if (rc == 0)
        row_done(c);
    return rc;
}

/* ---- counting what the copy holds ---------------------------------------- */

static int count_catalog(void *ctx, const char *json, const char *by, int64_t at)
{
    (void)json, (void)by, (void)at;
    ++*(uint64_t *)ctx;
    return 0;
}

static int count_evidence(void *ctx, const co__evidence_row *row)
{
    uint64_t *n = ctx; /* [rows, with content] */
    n[0]++;
    n[1] += row->content != NULL;
    return 0;
}

static int count_action(void *ctx, const co__action_row *row)
{
    (void)row;
    ++*(uint64_t *)ctx;
    return 0;
}

static int count_notice(void *ctx, const co__notice_row *row)
{
    (void)row;
    ++*(uint64_t *)ctx;
    return 0;
}

static int count_head(void *ctx, const co__head_row *row)
{
    (void)row;
    ++*(uint64_t *)ctx;
    return 0;
}

static int count_change(void *ctx, uint64_t seq, unsigned kind, const char *object)
{
    (void)seq, (void)kind, (void)object;
    ++*(uint64_t *)ctx;
    return 0;
}

/* Reads back the rows of every table of the copy, inside its write
 * transaction, into *got (audit: the records whose chain verifies). */
static int count_copy(co__store *dst, cutoff_db_copy_report *got, cutoff_diag *diag)
{
    const co__store_ops *ops = dst->ops;
    uint64_t evidence[2] = {0, 0};
    cutoff_audit_report chain;
    int rc = ops->catalog_history_iter(dst, count_catalog, &got->catalogs);
    if (rc == 0)
        rc = ops->node_count(dst, &got->nodes);
    if (rc == 0)
        rc = ops->case_count(dst, &got->cases);
    if (rc == 0)
        rc = ops->evidence_iter_all(dst, count_evidence, evidence);
    if (rc == 0)
        rc = ops->action_iter(dst, NULL, count_action, &got->actions);
    if (rc == 0)
        rc = ops->notice_iter(dst, NULL, false, count_notice, &got->notices);
    if (rc == 0)
        rc = ops->head_iter(dst, count_head, &got->heads);
    if (rc == 0)
        rc = ops->change_iter(dst, count_change, &got->changes);
    got->evidence = evidence[0];
    got->evidence_content = evidence[1];
    if (rc == 0 && (rc = co__audit_verify(dst, &chain)) == CUTOFF_ETAMPER)
        return co__diag(diag, rc, "the audit chain of the copy does not verify at record %llu: %s",
                        (unsigned long long)chain.first_bad, chain.problem);
    got->audit = chain.records;
    snprintf(got->audit_head, sizeof got->audit_head, "%s", chain.head_hex);
    return rc;
}

/* The first table whose rows in the copy differ from the source's. */
static int compare_counts(const cutoff_db_copy_report *want, const cutoff_db_copy_report *got,
                          cutoff_diag *diag)
{
    const struct {
        const char *table;
        uint64_t want, got;
    } t[] = {
        {"catalogs", want->catalogs, got->catalogs},
        {"nodes", want->nodes, got->nodes},
        {"cases", want->cases, got->cases},
        {"evidence", want->evidence, got->evidence},
        {"evidence content", want->evidence_content, got->evidence_content},
        {"actions", want->actions, got->actions},
        {"notices", want->notices, got->notices},
        {"audit", want->audit, got->audit},
        {"heads", want->heads, got->heads},
        {"changes", want->changes, got->changes},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].want != t[i].got)
            return co__diag(
                diag, CUTOFF_ESTORE, "the copy holds %llu rows of %s where the source has %llu",
                (unsigned long long)t[i].got, t[i].table, (unsigned long long)t[i].want);
    if (strcmp(want->audit_head, got->audit_head) != 0)
        return co__diag(diag, CUTOFF_ESTORE,
                        "the newest audit record of the copy is not the source's");
    return 0;
}

/* The current catalog of both, which the history replay must have set. */
static int compare_catalog(co__store *src, co__store *dst, cutoff_diag *diag)
{
    char *a = NULL, *b = NULL;
    int ra = src->ops->catalog_get(src, &a), rb = dst->ops->catalog_get(dst, &b), rc = 0;
    if (ra != 0 && ra != CUTOFF_ENOTFOUND)
        rc = ra;
    else if (rb != 0 && rb != CUTOFF_ENOTFOUND)
        rc = rb;
    else if (ra != rb || (a && b && strcmp(a, b) != 0))
        rc = co__diag(diag, CUTOFF_ESTORE,
                      "the current catalog of the source is not the last one of its history: it "
                      "was changed outside cutoff");
    co__free(a);
    co__free(b);
    return rc;
}

/* ---- the copy ------------------------------------------------------------ */

/* One step per table: the source's iteration into the copy's put. */
static int copy_catalogs(copier *c)
{
    return c->src->ops->catalog_history_iter(c->src, copy_catalog, c);
}

static int copy_nodes(copier *c)
{
    uint64_t nodes = 0;
    int rc = c->src->ops->node_count(c->src, &nodes);
    if (rc == 0)
        rc = c->dst->ops->node_write_begin(c->dst, nodes, 0);
    if (rc == 0)
        rc = c->src->ops->node_iter(c->src, copy_node, c);
    if (rc == 0)
        rc = c->dst->ops->node_write_end(c->dst);
    return rc;
}

static int copy_cases(copier *c)
{
    return c->src->ops->case_iter(c->src, copy_case, c);
}

static int copy_evidences(copier *c)
{
    return c->src->ops->evidence_iter_all(c->src, copy_evidence, c);
}

static int copy_actions(copier *c)
{
    return c->src->ops->action_iter(c->src, NULL, copy_action, c);
}

static int copy_notices(copier *c)
{
    return c->src->ops->notice_iter(c->src, NULL, false, copy_notice, c);
}

static int copy_audits(copier *c)
{
    return c->src->ops->audit_iter(c->src, 0, 0, copy_audit, c);
}

static int copy_heads(copier *c)
{
    return c->src->ops->head_iter(c->src, copy_head, c);
}

static int copy_changes(copier *c)
{
    return c->src->ops->change_iter(c->src, copy_change, c);
}

/* Every table, parents before what refers to them (cases before their
 * evidence and actions), counting the rows read into *read. Runs inside
 * the source's read and the destination's write transaction. */
static int copy_tables(copier *c, cutoff_db_copy_report *read)
{
    const struct {
        const char *table;
        int (*copy)(copier *c);
        size_t rows; /* offset of its count in the report */
    } steps[] = {
        {"catalogs", copy_catalogs, offsetof(cutoff_db_copy_report, catalogs)},
        {"nodes", copy_nodes, offsetof(cutoff_db_copy_report, nodes)},
        {"cases", copy_cases, offsetof(cutoff_db_copy_report, cases)},
        {"evidence", copy_evidences, offsetof(cutoff_db_copy_report, evidence)},
        {"actions", copy_actions, offsetof(cutoff_db_copy_report, actions)},
        {"notices", copy_notices, offsetof(cutoff_db_copy_report, notices)},
        {"audit", copy_audits, offsetof(cutoff_db_copy_report, audit)},
        {"heads", copy_heads, offsetof(cutoff_db_copy_report, heads)},
        {"changes", copy_changes, offsetof(cutoff_db_copy_report, changes)},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        c->table = steps[i].table;
        c->rows = 0;
        int rc = steps[i].copy(c);
        if (rc != 0) {
            if (rc != CUTOFF_ENOMEM && (c->diag == NULL || c->diag->message[0] == '\0'))
                co__diag(c->diag, rc, "database error while copying %s: source: %s; copy: %s",
                         c->table, c->src->ops->errmsg(c->src), c->dst->ops->errmsg(c->dst));
            return rc;
        }
        *(uint64_t *)(void *)((char *)read + steps[i].rows) = c->rows;
        if (c->opt->progress)
            c->opt->progress(c->opt->progress_ctx, c->table, c->rows, 1);
    }
    read->evidence_content = c->content;
    return 0;
}

/* Whether two locations name the same database: the same text, or two
 * paths of one file. */
static bool same_location(const char *a, const char *b)
{
    struct stat sa, sb;
    if (strcmp(a, b) == 0)
        return true;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* A store failure with what was being done, when the backend said nothing
 * more precise. */
static int store_fail(co__store *s, int rc, cutoff_diag *diag, const char *what)
{
    if (rc == 0 || diag == NULL || (diag->code == rc && diag->message[0] != '\0'))
        return rc;
    if (rc == CUTOFF_ENOMEM)
        return co__diag(diag, rc, "out of memory while %s", what);
    return co__diag(diag, rc, "database error while %s: %s", what, s->ops->errmsg(s));
}

/* Opens the source read-only and checks its schema version. */
static int open_source(const char *from, co__store **out, cutoff_diag *diag)
{
    const co__store_ops *ops = co__store_for(from);
    int version = 0;
    int rc = ops->open(from, CO__STORE_READ_ONLY, out, diag);
    if (rc == CUTOFF_ENOTINIT)
        return co__diag(diag, rc,
                        "the source does not exist or holds no database: nothing to copy");
    if (rc != 0)
        return rc;
    if ((rc = ops->schema_version(*out, &version)) != 0)
        return store_fail(*out, rc, diag, "reading the source's schema version");
    if (version > CO__STORE_SCHEMA_VERSION)
        return co__diag(diag, CUTOFF_EVERSION,
                        "the source has schema version %d, newer than this program's %d; use a "
                        "newer cutoff",
                        version, CO__STORE_SCHEMA_VERSION);
    if (version < CO__STORE_SCHEMA_VERSION)
        return co__diag(diag, CUTOFF_ESTATE,
                        "the source has schema version %d, older than this program's %d: "
                        "migrate it first ('cutoff --db SOURCE init'), then copy",
                        version, CO__STORE_SCHEMA_VERSION);
    return 0;
}

/* Refuses a destination that holds anything, writing nothing to it: a
 * read-only open succeeds only on an initialised store, and fails on one
 * that holds another program's objects. */
static int check_destination_empty(const char *to, cutoff_diag *diag)
{
    co__store *probe = NULL;
    int rc = co__store_for(to)->open(to, CO__STORE_READ_ONLY, &probe, diag);
    if (rc == 0) {
        int version = 0;
        probe->ops->schema_version(probe, &version);
        probe->ops->close(probe);
        return co__diag(diag, CUTOFF_ESTATE,
                        "the destination already holds a cutoff database (schema version %d); "
                        "nothing was written: copy into a new, empty location",
                        version);
    }
    if (rc == CUTOFF_ENOTINIT) { /* missing or empty: what a copy needs */
        co__diag_clear(diag);
        return 0;
    }
    return rc;
}

int cutoff_db_copy(const char *from, const char *to, const cutoff_db_copy_options *options,
                   cutoff_db_copy_report *report, cutoff_diag *diag)
{
    co__diag_clear(diag);
    static const cutoff_db_copy_options no_options;
    cutoff_db_copy_report read, got;
    cutoff_audit_report chain;
    co__store *src = NULL, *dst = NULL;
    bool src_open = false, dst_open = false;
    const cutoff_db_copy_options *opt = options ? options : &no_options;
    memset(&read, 0, sizeof read);
    memset(&got, 0, sizeof got);
    if (report)
        memset(report, 0, sizeof *report);
    if (from == NULL || *from == '\0' || to == NULL || *to == '\0')
        return co__diag(diag, CUTOFF_EINVAL, "a copy needs a source and a destination");
    if (same_location(from, to))
        return co__diag(diag, CUTOFF_EINVAL,
                        "the source and the destination are the same database");
    if (opt->public_key && cutoff_public_key_check(opt->public_key, diag) != 0)
        return CUTOFF_EPARSE;
    if (sodium_init() < 0)
        return co__diag(diag, CUTOFF_EIO, "the hashing library could not start");
    co__json_init();

    int rc = open_source(from, &src, diag);
    if (rc == 0 && (rc = src->ops->begin_read(src)) != 0)
        rc = store_fail(src, rc, diag, "starting to read the source");
    src_open = rc == 0;
    /* The chain is verified in the read that is copied, before anything is
     * written: a source that does not verify is not copied. */
    if (rc == 0 && (rc = co__audit_verify(src, &chain)) == CUTOFF_ETAMPER)
        rc = co__diag(diag, rc,
                      "the audit chain of the source does not verify at record %llu: %s; "
                      "nothing was copied",
                      (unsigned long long)chain.first_bad, chain.problem);
    else if (rc != 0)
        rc = store_fail(src, rc, diag, "verifying the source's audit chain");
    if (rc == 0)
        rc = check_destination_empty(to, diag);
    if (rc == 0)
        rc = co__store_for(to)->open(to, CO__STORE_CREATE, &dst, diag);
    if (rc == 0 && (rc = dst->ops->begin(dst)) != 0)
        rc = store_fail(dst, rc, diag, "starting to write the destination");
    dst_open = rc == 0;
    if (rc == 0 && (rc = dst->ops->create_schema(dst, diag)) == CUTOFF_ESTATE)
        rc = co__diag(diag, rc,
                      "the destination already holds a cutoff database; copy into a new, empty "
                      "location");
    copier c = {.src = src, .dst = dst, .opt = opt, .diag = diag};
    if (rc == 0)
        rc = copy_tables(&c, &read);
    snprintf(read.audit_head, sizeof read.audit_head, "%s", chain.head_hex);
    if (rc == 0)
        rc = store_fail(dst, count_copy(dst, &got, diag), diag, "reading the copy back");
    if (rc == 0)
        rc = compare_counts(&read, &got, diag);
    if (rc == 0)
        rc = compare_catalog(src, dst, diag);
    if (rc == 0 && opt->public_key) {
        cutoff_db view = {.store = dst, .read_only = true};
        int64_t now = opt->now ? opt->now : co__db_wall_now();
        cutoff_audit_signed_report *h = report ? &report->heads_report : &got.heads_report;
        rc = co__db_audit_verify_signed_in(&view, false, opt->public_key, NULL, now, h);
        if (rc != 0)
            rc = co__diag(diag, rc,
                          "the signed heads of the copy do not verify: %s; nothing "
                          "was committed",
                          h->problem);
    }
    if (rc == 0 && (rc = dst->ops->commit(dst)) != 0)
        rc = store_fail(dst, rc, diag, "committing the copy");
    else if (rc == 0)
        dst_open = false;
    if (dst_open)
        dst->ops->rollback(dst);
    if (src_open)
        src->ops->rollback(src); /* a read: nothing to keep */
    if (dst)
        dst->ops->close(dst);
    if (src)
        src->ops->close(src);
    if (rc == 0 && report) {
        cutoff_audit_signed_report heads = report->heads_report;
        *report = got;
        report->heads_report = heads;
    }
    return rc;
}
