/* SPDX-License-Identifier: Apache-2.0 */
/*
 * db.c - the database handle (open, schema version check and migration,
 * close), the helpers every operation of the layer shares, the catalog
 * (load with its stranding checks, get) and the audit log API (verify,
 * list, append).
 */
#include "audit/audit.h"
#include "db/db_int.h"
#include "format/format.h"
#include "util/util.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ===================================================================== */
/* Handle                                                                 */
/* ===================================================================== */

int cutoff_db_schema_version(void)
{
    return CO__STORE_SCHEMA_VERSION;
}

/* Opens the store, then settles its schema: an empty store is created
 * (with CUTOFF_DB_CREATE), an older one migrated, a newer one refused. */
int cutoff_db_open(const char *path, int flags, cutoff_db **out, cutoff_diag *diag)
{
    co__diag_clear(diag);
    int rc = 0, version = 0;
    cutoff_db *db = NULL;
    if (path == NULL || *path == '\0' || out == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no database path given");
    bool read_only = (flags & CUTOFF_DB_READ_ONLY) != 0;
    if (read_only && (flags & CUTOFF_DB_CREATE) != 0)
        return co__diag(diag, CUTOFF_EINVAL, "a database opened read-only cannot be created");
    if (sodium_init() < 0)
        return co__diag(diag, CUTOFF_EIO, "the hashing library could not start");
    /* Every other database call needs this handle, so this covers them. */
    co__json_init();
    db = co__calloc(1, sizeof *db);
    if (db == NULL)
        return CUTOFF_ENOMEM;
    const co__store_ops *ops = co__store_for(path);
    /* Messages name the location without its password. */
    char shown[512];
    cutoff_db_location_shown(path, shown, sizeof shown);
    int mode =
        (flags & CUTOFF_DB_CREATE ? CO__STORE_CREATE : 0) | (read_only ? CO__STORE_READ_ONLY : 0);
    if ((rc = ops->open(path, mode, &db->store, diag)) != 0)
        goto out;
    db->read_only = read_only;
    if ((rc = ops->schema_version(db->store, &version)) != 0) {
        rc = co__db_store_fail(db, rc, diag, "reading the schema version");
        goto out;
    }
    if (version > CO__STORE_SCHEMA_VERSION) {
        rc = co__diag(diag, CUTOFF_EVERSION,
                      "database \"%s\" has schema version %d, newer than this program's %d; "
                      "use a newer cutoff",
                      shown, version, CO__STORE_SCHEMA_VERSION);
        goto out;
    }
    if (version < CO__STORE_SCHEMA_VERSION && read_only) {
        rc = co__diag(diag, CUTOFF_ESTATE,
                      "database \"%s\" has schema version %d and must be migrated to %d by a "
                      "command that may write it ('cutoff init')",
                      shown, version, CO__STORE_SCHEMA_VERSION);
        goto out;
    }
    if (version < CO__STORE_SCHEMA_VERSION && (rc = ops->migrate(db->store, diag)) != 0)
        goto out;
    *out = db;
    return 0;
out:
    cutoff_db_close(db);
    return rc;
}

void cutoff_db_close(cutoff_db *db)
{
    if (db == NULL)
        return;
    if (db->store)
        db->store->ops->close(db->store);
    co__free(db);
}

void cutoff_db_set_key(cutoff_db *db, const cutoff_key *key)
{
    if (db != NULL)
        db->key = key;
}

/* ===================================================================== */
/* Shared helpers                                                         */
/* ===================================================================== */

int co__db_store_fail(cutoff_db *db, int rc, cutoff_diag *diag, const char *what)
{
    if (rc == 0 || diag == NULL || (diag->code == rc && diag->message[0] != '\0'))
        return rc;
    if (rc == CUTOFF_ENOMEM)
        return co__diag(diag, rc, "out of memory while %s", what);
    return co__diag(diag, rc, "database error while %s: %s", what,
                    STORE_OPS(db)->errmsg(db->store));
}

int co__db_begin(cutoff_db *db, cutoff_diag *diag)
{
    db->appended = false;
    int rc = STORE_OPS(db)->begin(db->store);
    return rc ? co__db_store_fail(db, rc, diag, "starting a transaction") : 0;
}

int co__db_begin_read(cutoff_db *db, cutoff_diag *diag)
{
    int rc = STORE_OPS(db)->begin_read(db->store);
    return rc ? co__db_store_fail(db, rc, diag, "starting a read") : 0;
}

int co__db_end(cutoff_db *db, int rc, cutoff_diag *diag)
{
    /* A change made with a key signs the head it creates, in the same
     * transaction: the record and the signature over it land together. */
    if (rc == 0 && db->appended && db->key != NULL) {
        rc = co__db_head_sign_tx(db, db->key, co__db_wall_now(), db->sign_interval_s, false);
        if (rc == CUTOFF_EPERM)
            co__diag(diag, rc,
                     "the audit heads are signed by another key than %s; only the key in force "
                     "signs (hand over to a new key with 'cutoff key rotate')",
                     cutoff_key_public(db->key));
        co__db_store_fail(db, rc, diag, "signing the audit head");
    }
    db->appended = false;
    if (rc == 0) {
        rc = STORE_OPS(db)->commit(db->store);
        if (rc == 0)
            return 0;
        co__db_store_fail(db, rc, diag, "committing");
    }
    STORE_OPS(db)->rollback(db->store);
    return rc;
}

int64_t co__db_wall_now(void)
{
    return (int64_t)time(NULL);
}

int co__db_audit(cutoff_db *db, unsigned change, int64_t time, const char *actor, const char *verb,
                 const char *object, json_t *payload)
{
    assert(change == 0 || change == CUTOFF_CHANGE_TREE || change == CUTOFF_CHANGE_ACTIONS ||
           change == CUTOFF_CHANGE_CASES || change == CUTOFF_CHANGE_SHADOW);
    char *text = NULL;
    int rc = co__db_json_take(payload, &text);
    if (rc == 0)
        rc = co__audit_append(db->store, time, actor, verb, object, text);
    if (rc == 0)
        db->appended = true;
    if (rc == 0 && change != 0)
        rc = STORE_OPS(db)->change_put(db->store, change, object);
    co__free(text);
    return rc;
}

int co__db_check_actor(const char *actor, cutoff_diag *diag)
{
    char q[96];
    if (actor == NULL || *actor == '\0')
        return co__diag(diag, CUTOFF_EINVAL,
                        "no actor given: every change is recorded with who made it");
    if (!cutoff_id_valid(actor))
        return co__diag(diag, CUTOFF_EINVAL,
                        "actor \"%s\" is not a name of 1-128 bytes of [A-Za-z0-9._:-] (no "
                        "spaces, controls or non-ASCII letters, so that no two spellings look "
                        "alike)",
                        co__quote(actor, q, sizeof q));
    return 0;
}

int co__db_check_text(const char *text, size_t max, bool optional, const char *what,
                      cutoff_diag *diag)
{
    return co__text_check(text, max, optional ? CO__TEXT_OPTIONAL : 0, what, diag);
}

static const char *file_kind(mode_t mode)
{
    return S_ISDIR(mode)    ? "a directory"
           : S_ISFIFO(mode) ? "a FIFO"
           : S_ISSOCK(mode) ? "a socket"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
                            : "not a regular file";
}

int co__open_regular(const char *path, const char *what, uint64_t max, FILE **out,
                     cutoff_diag *diag)
{
    char q[300];
    struct stat sb;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return co__diag(diag, CUTOFF_EIO, "cannot read %s \"%s\": %s", what,
                        co__quote(path, q, sizeof q), strerror(errno));
    int rc = 0, flags;
    if (fstat(fd, &sb) != 0) {
        rc = co__diag(diag, CUTOFF_EIO, "cannot read %s \"%s\": %s", what,
                      co__quote(path, q, sizeof q), strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        rc = co__diag(diag, CUTOFF_EINVAL, "%s \"%s\" is %s; give a regular file", what,
                      co__quote(path, q, sizeof q), file_kind(sb.st_mode));
    } else if ((uint64_t)sb.st_size > max) {
        rc = co__diag(diag, CUTOFF_ELIMIT, "%s \"%s\" is larger than %llu MiB", what,
                      co__quote(path, q, sizeof q), (unsigned long long)(max >> 20));
    } else if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ||
               (*out = fdopen(fd, "rb")) == NULL) {
        rc = co__diag(diag, CUTOFF_EIO, "cannot read %s \"%s\": %s", what,
                      co__quote(path, q, sizeof q), strerror(errno));
    }
    if (*out == NULL)
        close(fd);
    return rc;
}

int co__db_json_take(json_t *v, char **out)
{
    if (v == NULL)
        return CUTOFF_ENOMEM;
    int rc = 0;
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT);
    char *text = n ? co__malloc(n + 1) : NULL;
    if (text == NULL || json_dumpb(v, text, n, JSON_COMPACT) != n) {
        co__free(text);
        rc = CUTOFF_ENOMEM;
    } else {
        text[n] = '\0';
        *out = text;
    }
    json_decref(v);
    return rc;
}

json_t *co__db_json_time(int64_t t)
{
    char buf[32];
    return t ? json_string(cutoff_time_format(t, buf)) : json_null();
}

json_t *co__db_json_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

void co__db_set(json_t *obj, const char *key, json_t *v, bool *ok)
{
    if (obj == NULL) {
        json_decref(v);
        *ok = false;
    } else if (v == NULL || json_object_set_new(obj, key, v) != 0) {
        *ok = false; /* set_new has dropped v's reference either way */
    }
}

void co__db_sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, p, n);
    sodium_bin2hex(out, 65, digest, sizeof digest);
}

int co__db_catalog(cutoff_db *db, cutoff_catalog_spec **out, cutoff_diag *diag)
{
    char *json = NULL;
    int rc = STORE_OPS(db)->catalog_get(db->store, &json);
    if (rc == CUTOFF_ENOTFOUND)
        return co__diag(diag, rc, "no catalog is loaded; run 'cutoff catalog load FILE' first");
    if (rc != 0)
        return co__db_store_fail(db, rc, diag, "reading the catalog");
    rc = cutoff_catalog_parse(json, strlen(json), out, diag);
    if (rc != 0 && rc != CUTOFF_ENOMEM)
        rc = co__diag(diag, CUTOFF_ESTORE, "the stored catalog does not parse: %s",
                      diag ? diag->message : "");
    co__free(json);
    return rc;
}

int co__db_action_spec(const co__action_row *row, cutoff_action_spec **out)
{
    cutoff_action_spec *a = NULL;
    int rc = co__action_parse_ex(row->doc, strlen(row->doc), CO__ACTION_STORED, &a, NULL);
    if (rc != 0)
        return rc == CUTOFF_ENOMEM ? rc : CUTOFF_ESTORE;
    a->state = (cutoff_action_state)row->state;
    a->version = row->version;
    a->activated_at = row->activated_at;
    *out = a;
    return 0;
}

/* ===================================================================== */
/* Catalog                                                                */
/* ===================================================================== */

static bool catalog_has_plan(const cutoff_catalog_spec *c, const char *plan)
{
    for (size_t i = 0; i < c->n_plans; i++)
        if (strcmp(c->plans[i].name, plan) == 0)
            return true;
    return false;
}

bool co__catalog_has_action(const cutoff_catalog_spec *c, const char *pattern)
{
    for (size_t i = 0; i < c->n_actions; i++)
        if (cutoff_pattern_match(pattern, c->actions[i].name))
            return true;
    return false;
}

bool co__catalog_has_region(const cutoff_catalog_spec *c, const char *pattern)
{
    for (size_t i = 0; i < c->n_regions; i++)
        if (cutoff_region_match(pattern, c->regions[i]))
            return true;
    return false;
}

typedef struct strand_check {
    const cutoff_catalog_spec *catalog;
    cutoff_diag *diag;
} strand_check;

static int check_plan_use(void *ctx, const char *plan, const char *node)
{
    strand_check *c = ctx;
    if (catalog_has_plan(c->catalog, plan))
        return 0;
    return co__diag(c->diag, CUTOFF_ESTATE,
                    "the new catalog has no plan \"%s\", which node \"%s\" uses; "
                    "keep the plan or move the nodes to another plan first",
                    plan, node);
}

static int check_active_action(void *ctx, const co__action_row *row)
{
    strand_check *c = ctx;
    cutoff_action_spec *a = NULL;
    int rc = co__db_action_spec(row, &a);
    if (rc != 0)
        return rc;
    for (size_t pass = 0; pass < 2 && rc == 0; pass++) {
        const char *const *pats = pass ? a->except : a->deny;
        size_t n = pass ? a->n_except : a->n_deny;
        for (size_t i = 0; i < n && rc == 0; i++)
            if (!co__catalog_has_action(c->catalog, pats[i]))
                rc = co__diag(c->diag, CUTOFF_ESTATE,
                              "%s action %s v%d %s \"%s\", which matches no action of the new "
                              "catalog; lift the action first or keep those actions",
                              cutoff_action_state_name((cutoff_action_state)row->state), row->id,
                              row->version, pass ? "excepts" : "denies", pats[i]);
    }
    /* An action limited to regions the catalog no longer lists would stop
     * biting without a word. */
    for (size_t i = 0; i < a->n_regions && rc == 0; i++)
        if (!co__catalog_has_region(c->catalog, a->regions[i]))
            rc = co__diag(c->diag, CUTOFF_ESTATE,
                          "%s action %s v%d is limited to region \"%s\", which matches no "
                          "region of the new catalog; lift the action first or keep the region",
                          cutoff_action_state_name((cutoff_action_state)row->state), row->id,
                          row->version, a->regions[i]);
    cutoff_action_free(a);
    return rc;
}

/* ---- what a new catalog changes under the active actions ----------------
 * Each active action (in force or scheduled) is previewed by the engine's
 * preview (cutoff_preview_compute) under the old and the new catalog, both
 * times against the tree with no other action, so that an action's own
 * effect shows even where another one denies too. A catalog action whose
 * counts of changed subscriptions differ in some phase, whose class
 * changes while the action targets it, or that disappears while the action
 * names it, changes a decision under that action. */

/* The preview of every active action on `cat` (out[l->n]). */
static int previews_on(cutoff_db *db, const cutoff_catalog_spec *cat, const co__active_set *l,
                       cutoff_preview **out, cutoff_diag *diag)
{
    cutoff_tree *tree = NULL;
    cutoff_snapshot *bare = NULL;
    int rc = co__db_tree_on(db, cat, &tree, diag);
    if (rc == 0)
        rc = cutoff_snapshot_build(tree, NULL, 0, &bare, diag);
    for (size_t i = 0; i < l->n && rc == 0; i++)
        rc = cutoff_preview_compute(bare, l->specs[i], l->specs[i]->activated_at, &out[i], diag);
    cutoff_snapshot_release(bare);
    cutoff_tree_release(tree);
    return rc;
}

static const cutoff_preview_line *find_line(const cutoff_preview *p, const char *action)
{
    for (size_t i = 0; i < p->n_lines; i++)
        if (strcmp(p->lines[i].action, action) == 0)
            return &p->lines[i];
    return NULL;
}

/* The catalog actions whose decisions change under one action, as JSON
 * objects appended to `into`; also named once each in `names`. */
static void changed_lines(const cutoff_preview *before, const cutoff_preview *after, json_t *into,
                          json_t *names)
{
    for (size_t i = 0; i < before->n_lines; i++) {
        const cutoff_preview_line *was = &before->lines[i];
        const cutoff_preview_line *now = find_line(after, was->action);
        uint64_t changed = 0;
        if (now == NULL) {
            if (!was->targeted && !was->excepted)
                continue;
            changed = before->subscriptions_in_scope;
        } else {
            for (size_t k = 0; k < before->n_phases && k < after->n_phases; k++) {
                uint64_t a = was->changed_in_phase[k], b = now->changed_in_phase[k];
                uint64_t d = a > b ? a - b : b - a;
                changed = d > changed ? d : changed;
            }
            if (changed == 0 && !(was->cls != now->cls && (was->targeted || now->targeted)))
                continue;
        }
        json_array_append_new(
            into, json_pack("{s:s,s:s,s:o,s:I}", "action", was->action, "class_before",
                            cutoff_class_name(was->cls), "class_after",
                            now ? json_string(cutoff_class_name(now->cls)) : json_null(),
                            "subscriptions_changed", (json_int_t)changed));
        bool named = false;
        for (size_t k = 0; k < json_array_size(names) && !named; k++)
            named = strcmp(json_string_value(json_array_get(names, k)), was->action) == 0;
        if (!named)
            json_array_append_new(names, json_string(was->action));
    }
}

/* What replacing `old` by `cat` changes under the active actions: NULL in
 * *out when nothing, else {"enforcement_actions": [{"enforcement_action",
 * "version", "subscriptions_in_scope", "catalog_actions": [...]}],
 * "catalog_actions": [names]}. Runs inside the caller's transaction. */
static int catalog_impact(cutoff_db *db, const cutoff_catalog_spec *old,
                          const cutoff_catalog_spec *cat, json_t **out, cutoff_diag *diag)
{
    *out = NULL;
    co__active_set l = {.expire_before = INT64_MIN}; /* every one, none counted expired */
    cutoff_preview **before = NULL, **after = NULL;
    co__action_filter active = {.state = CUTOFF_STATE_ACTIVE};
    int rc = STORE_OPS(db)->action_iter(db->store, &active, co__gather_active, &l);
    if (rc != 0 || l.n == 0)
        goto out;
    before = co__calloc(l.n, sizeof *before);
    after = co__calloc(l.n, sizeof *after);
    if (before == NULL || after == NULL) {
        rc = CUTOFF_ENOMEM;
        goto out;
    }
    if ((rc = previews_on(db, old, &l, before, diag)) != 0 ||
        (rc = previews_on(db, cat, &l, after, diag)) != 0)
        goto out;
    json_t *actions = json_array(), *names = json_array();
    for (size_t i = 0; i < l.n; i++) {
        json_t *lines = json_array();
        changed_lines(before[i], after[i], lines, names);
        if (json_array_size(lines) == 0) {
            json_decref(lines);
            continue;
        }
        json_array_append_new(actions,
                              json_pack("{s:s,s:i,s:I,s:o}", "enforcement_action", l.specs[i]->id,
                                        "version", l.specs[i]->version, "subscriptions_in_scope",
                                        (json_int_t)before[i]->subscriptions_in_scope,
                                        "catalog_actions", lines));
    }
    if (json_array_size(actions) > 0) {
        *out = json_pack("{s:o,s:o}", "enforcement_actions", actions, "catalog_actions", names);
        rc = *out ? 0 : CUTOFF_ENOMEM;
    } else {
        json_decref(actions);
        json_decref(names);
    }
out:
    for (size_t i = 0; i < l.n; i++) {
        cutoff_preview_free(before ? before[i] : NULL);
        cutoff_preview_free(after ? after[i] : NULL);
    }
    co__free(before);
    co__free(after);
    co__active_set_free(&l);
    return rc;
}

/* The names an impact's list holds, joined for a message ("EA-1, EA-2"):
 * `key` is "enforcement_actions" (objects) or "catalog_actions" (names). */
static size_t impact_names(const json_t *impact, const char *key, char *buf, size_t size)
{
    const json_t *list = json_object_get(impact, key);
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < json_array_size(list) && used < size; i++) {
        const json_t *item = json_array_get(list, i);
        const char *name = json_is_string(item)
                               ? json_string_value(item)
                               : json_string_value(json_object_get(item, "enforcement_action"));
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", name ? name : "?");
        used += n > 0 ? (size_t)n : 0;
    }
    return json_array_size(list);
}

int cutoff_db_catalog_load(cutoff_db *db, const char *actor, const char *json, size_t len,
                           cutoff_diag *diag)
{
    return cutoff_db_catalog_apply(db, actor, json, len, 0, NULL, diag);
}

/* Parses and validates the catalog exactly as the engine will compile it,
 * then refuses it if it would strand a node's plan or an active action, or
 * (unless forced) change a decision under an active action, and stores its
 * canonical form with the audit record in one transaction. */
int cutoff_db_catalog_apply(cutoff_db *db, const char *actor, const char *json, size_t len,
                            int flags, char **impact_json, cutoff_diag *diag)
{
    co__diag_clear(diag);
    cutoff_catalog_spec *cat = NULL, *old = NULL;
    cutoff_tree_builder *probe = NULL;
    json_t *impact = NULL;
    char *canon = NULL;
    if (impact_json != NULL)
        *impact_json = NULL;
    int rc = co__db_check_actor(actor, diag);
    if (rc != 0)
        return rc;
    if (json == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no catalog text given");
    if ((rc = cutoff_catalog_parse(json, len, &cat, diag)) != 0)
        return rc;
    if ((rc = cutoff_tree_builder_new(cat, &probe, diag)) != 0)
        goto out;
    if ((rc = cutoff_catalog_to_json(cat, &canon)) != 0)
        goto out;
    if ((rc = co__db_begin(db, diag)) != 0)
        goto out;
    strand_check check = {.catalog = cat, .diag = diag};
    rc = STORE_OPS(db)->node_plan_uses(db->store, check_plan_use, &check);
    /* An expired action is still in force for the times of its phases
     * (cutoff check --at), so it keeps what it names too. */
    static const int in_force[] = {CUTOFF_STATE_ACTIVE, CUTOFF_STATE_EXPIRED};
    for (size_t i = 0; rc == 0 && i < sizeof in_force / sizeof in_force[0]; i++) {
        co__action_filter f = {.state = in_force[i]};
        rc = STORE_OPS(db)->action_iter(db->store, &f, check_active_action, &check);
    }
    /* The first catalog changes no decision: nothing was decided before. */
    if (rc == 0 && (rc = co__db_catalog(db, &old, NULL)) == CUTOFF_ENOTFOUND)
        rc = 0;
    else if (rc == 0)
        rc = catalog_impact(db, old, cat, &impact, diag);
    if (rc == 0 && impact != NULL && impact_json != NULL &&
        (*impact_json = json_dumps(impact, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
        rc = CUTOFF_ENOMEM;
    if (rc == 0 && impact != NULL && !(flags & CUTOFF_CATALOG_FORCE)) {
        char ids[160], names[200];
        size_t n_ids = impact_names(impact, "enforcement_actions", ids, sizeof ids);
        size_t n_names = impact_names(impact, "catalog_actions", names, sizeof names);
        rc = co__diag(diag, CUTOFF_ESTATE,
                      "the new catalog changes decisions under %zu active action%s (%.160s) on "
                      "%zu catalog action%s (%.200s); nothing was loaded; force the load to "
                      "apply it anyway",
                      n_ids, n_ids == 1 ? "" : "s", ids, n_names, n_names == 1 ? "" : "s", names);
    }
    int64_t now = co__db_wall_now();
    if (rc == 0)
        rc = STORE_OPS(db)->catalog_put(db->store, canon, actor, now);
    if (rc == 0) {
        char sha[65];
        co__db_sha256_hex(canon, strlen(canon), sha);
        json_t *payload =
            json_pack("{s:I,s:I,s:I,s:s}", "actions", (json_int_t)cat->n_actions, "regions",
                      (json_int_t)cat->n_regions, "plans", (json_int_t)cat->n_plans, "sha256", sha);
        /* A forced load says what it changed under which actions. */
        if (payload != NULL && impact != NULL &&
            json_object_set(payload, "forced_changes", impact) != 0) {
            json_decref(payload);
            payload = NULL;
        }
        rc = co__db_audit(db, CUTOFF_CHANGE_TREE, now, actor, "catalog.load", "catalog", payload);
    }
    rc = co__db_end(db, co__db_store_fail(db, rc, diag, "loading the catalog"), diag);
    if (rc != 0 && rc != CUTOFF_ESTATE && impact_json != NULL) {
        cutoff_free(*impact_json);
        *impact_json = NULL;
    }
out:
    json_decref(impact);
    cutoff_catalog_free(old);
    co__free(canon);
    cutoff_tree_builder_free(probe);
    cutoff_catalog_free(cat);
    return rc;
}

int cutoff_db_catalog_get(cutoff_db *db, cutoff_catalog_spec **out)
{
    return co__db_catalog(db, out, NULL);
}

/* ===================================================================== */
/* Change log                                                             */
/* ===================================================================== */

int cutoff_db_changes(cutoff_db *db, uint64_t after, cutoff_changes *out)
{
    static const unsigned kinds[] = {CUTOFF_CHANGE_TREE, CUTOFF_CHANGE_ACTIONS, CUTOFF_CHANGE_CASES,
                                     CUTOFF_CHANGE_SHADOW};
    cutoff_changes found = {0, 0};
    if (db == NULL || out == NULL)
        return CUTOFF_EINVAL;
    /* One read transaction, so that head and kinds describe the same state. */
    int rc = co__db_begin_read(db, NULL);
    if (rc != 0)
        return rc;
    rc = STORE_OPS(db)->change_last(db->store, 0, &found.head);
    for (size_t i = 0; rc == 0 && i < sizeof kinds / sizeof kinds[0]; i++) {
        uint64_t last = 0;
        rc = STORE_OPS(db)->change_last(db->store, kinds[i], &last);
        if (rc == 0 && last > after)
            found.kinds |= kinds[i];
    }
    if ((rc = co__db_end(db, rc, NULL)) != 0)
        return rc;
    if (found.head < after)
        found.kinds = CUTOFF_CHANGE_ALL;
    *out = found;
    return 0;
}

/* ===================================================================== */
/* Audit log                                                              */
/* ===================================================================== */

int cutoff_db_audit_verify(cutoff_db *db, cutoff_audit_report *report)
{
    cutoff_audit_report scratch;
    return co__audit_verify(db->store, report ? report : &scratch);
}

typedef struct audit_listing {
    json_t *array;
} audit_listing;

static int list_record(void *ctx, const co__audit_row *r)
{
    audit_listing *l = ctx;
    bool ok = true;
    json_t *payload = json_loads(r->payload, JSON_DECODE_ANY, NULL);
    if (payload == NULL) /* kept visible as text, verify reports it */
        payload = json_string(r->payload);
    json_t *o = json_object();
    co__db_set(o, "seq", json_integer((json_int_t)r->seq), &ok);
    co__db_set(o, "time", co__db_json_time(r->time), &ok);
    co__db_set(o, "actor", co__db_json_str(r->actor), &ok);
    co__db_set(o, "verb", co__db_json_str(r->verb), &ok);
    co__db_set(o, "object", co__db_json_str(r->object), &ok);
    co__db_set(o, "payload", payload, &ok);
    co__db_set(o, "prev_hash", co__db_json_str(r->prev_hash), &ok);
    co__db_set(o, "hash", co__db_json_str(r->hash), &ok);
    if (!ok) {
        json_decref(o);
        return CUTOFF_ENOMEM;
    }
    return json_array_append_new(l->array, o) == 0 ? 0 : CUTOFF_ENOMEM;
}

int cutoff_db_audit_list(cutoff_db *db, uint64_t after_seq, size_t limit, char **json_out)
{
    audit_listing l = {.array = json_array()};
    if (l.array == NULL)
        return CUTOFF_ENOMEM;
    int rc = STORE_OPS(db)->audit_iter(db->store, after_seq, limit, list_record, &l);
    if (rc != 0) {
        json_decref(l.array);
        return rc;
    }
    return co__db_json_take(l.array, json_out);
}

/* 0 when text is JSON, CUTOFF_EPARSE when it is not, CUTOFF_ENOMEM when
 * memory ran out reading it. jansson reports some allocation failures as
 * a bad token: a real syntax error fails the same way twice. */
static int json_text_check(const char *text)
{
    json_error_t err, again;
    memset(&err, 0, sizeof err);
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
    if (v == NULL && json_error_code(&err) != json_error_out_of_memory && err.text[0] != '\0') {
        memset(&again, 0, sizeof again);
        v = json_loads(text, JSON_DECODE_ANY, &again);
        if (v == NULL && again.position == err.position && strcmp(again.text, err.text) == 0)
            return CUTOFF_EPARSE;
    }
    if (v == NULL)
        return CUTOFF_ENOMEM;
    json_decref(v);
    return 0;
}

/* A record of the caller's own: the verb is an id ("admin.login"), the
 * object any short text, the payload any JSON text (stored as given). */
int cutoff_db_audit_append(cutoff_db *db, const char *actor, const char *verb, const char *object,
                           const char *payload_json)
{
    int rc = co__db_check_actor(actor, NULL);
    if (rc != 0)
        return rc;
    /* key.rotate is the library's own: verification follows it to a new key. */
    if (!cutoff_id_valid(verb) || strcmp(verb, CO__VERB_KEY_ROTATE) == 0 ||
        co__db_check_text(object, CUTOFF_AUDIT_OBJECT_MAX, false, "object", NULL) != 0)
        return CUTOFF_EINVAL;
    if (payload_json == NULL)
        payload_json = "{}";
    if ((rc = json_text_check(payload_json)) != 0)
        return rc;
    if ((rc = co__db_begin(db, NULL)) != 0)
        return rc;
    rc = co__audit_append(db->store, co__db_wall_now(), actor, verb, object, payload_json);
    db->appended = rc == 0;
    return co__db_end(db, rc, NULL);
}
