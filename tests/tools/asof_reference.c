/* SPDX-License-Identifier: Apache-2.0 */
/*
 * asof_reference.c - the reference for decisions "as of" a past moment,
 * rebuilt from the audit log alone (not from the action rows the library
 * reads), for tests/integration/asof.sh:
 *
 *   asof_reference AUDIT.json NODES.jsonl REQUESTS.tsv CATALOG.json...
 *
 * AUDIT.json is `cutoff audit log --json`. Replaying it gives, per action
 * version, the document proposed (action.propose), when it was approved
 * and which versions that superseded (action.approve), when it was lifted
 * (action.lift); a withdrawn draft was never approved. catalog.load records
 * carry the SHA-256 of the canonical catalog: each CATALOG.json given is
 * canonicalised and matched by it. REQUESTS.tsv has lines
 * "subscription<TAB>action<TAB>region or -<TAB>Unix seconds"; each is
 * decided as of its time by the reference evaluator (tests/support) with
 * the versions in force then, the catalog loaded last at or before then
 * and the nodes file (today's tree). One line per request:
 *
 *   allow|deny<TAB>reason<TAB>action id or -<TAB>version or -
 *
 * or "error<TAB>no_catalog" when no catalog had been loaded by then.
 * Exit status 0; 1 on unreadable or malformed input; 2 on usage.
 */
#include "cutoff.h"
#include "../support/reference.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VERSIONS 1024
#define MAX_CATALOGS 64
#define MAX_NODES 100000

typedef struct version {
    char id[CUTOFF_ID_MAX + 1];
    int number;
    cutoff_action_spec *spec;
    int64_t approved_at; /* 0: never */
    int64_t ended_at;    /* lifted or superseded; 0: never */
} version;

typedef struct loaded {
    int64_t at;
    cutoff_catalog_spec *catalog; /* borrowed from the files */
} loaded;

static version versions[MAX_VERSIONS];
static size_t n_versions;
static loaded loads[MAX_CATALOGS];
static size_t n_loads;

static int fail(const char *what)
{
    fprintf(stderr, "asof_reference: %s\n", what);
    return 1;
}

static version *find_version(const char *id, int number)
{
    for (size_t i = 0; i < n_versions; i++)
        if (strcmp(versions[i].id, id) == 0 && versions[i].number == number)
            return &versions[i];
    return NULL;
}

static int64_t record_time(const json_t *rec)
{
    int64_t t = 0;
    return cutoff_time_parse(json_string_value(json_object_get(rec, "time")), &t, NULL) == 0 ? t
                                                                                             : -1;
}

/* The catalog file whose canonical text has this SHA-256, or NULL. */
static cutoff_catalog_spec *catalog_by_sha(cutoff_catalog_spec **cats, char (*shas)[65], int n,
                                           const char *sha)
{
    for (int i = 0; i < n; i++)
        if (sha && strcmp(shas[i], sha) == 0)
            return cats[i];
    return NULL;
}

/* Replays one audit record. */
static int replay(const json_t *rec, cutoff_catalog_spec **cats, char (*shas)[65], int n_cats)
{
    const char *verb = json_string_value(json_object_get(rec, "verb"));
    const char *object = json_string_value(json_object_get(rec, "object"));
    const json_t *p = json_object_get(rec, "payload");
    int64_t t = record_time(rec);
    int number = (int)json_integer_value(json_object_get(p, "version"));
    if (verb == NULL || t < 0)
        return fail("an audit record without verb or time");
    if (strcmp(verb, "catalog.load") == 0) {
        const char *sha = json_string_value(json_object_get(p, "sha256"));
        cutoff_catalog_spec *c = catalog_by_sha(cats, shas, n_cats, sha);
        if (c == NULL || n_loads == MAX_CATALOGS)
            return fail("a catalog.load of a catalog not given on the command line");
        loads[n_loads++] = (loaded){t, c};
    } else if (strcmp(verb, "action.propose") == 0) {
        char *doc = json_dumps(json_object_get(p, "action"), JSON_COMPACT);
        version *v = &versions[n_versions];
        if (doc == NULL || n_versions == MAX_VERSIONS ||
            cutoff_action_parse(doc, strlen(doc), &v->spec, NULL) != 0) {
            free(doc);
            return fail("an action.propose whose document does not parse");
        }
        free(doc);
        snprintf(v->id, sizeof v->id, "%s", object);
        v->number = number;
        n_versions++;
    } else if (strcmp(verb, "action.approve") == 0) {
        version *v = find_version(object, number);
        if (v == NULL)
            return fail("an approval of a version never proposed");
        v->approved_at = t;
        size_t i;
        json_t *s;
        json_array_foreach (json_object_get(p, "superseded"), i, s) {
            version *old = find_version(object, (int)json_integer_value(s));
            if (old == NULL)
                return fail("an approval superseding a version never proposed");
            old->ended_at = t;
        }
    } else if (strcmp(verb, "action.lift") == 0) {
        version *v = find_version(object, number);
        if (v == NULL)
            return fail("a lift of a version never proposed");
        v->ended_at = t;
    }
    /* action.withdraw ends a draft that never was in force; action.expire
     * changes no decision. */
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: asof_reference AUDIT.json NODES.jsonl REQUESTS.tsv CATALOG...\n");
        return 2;
    }
    if (sodium_init() < 0)
        return fail("libsodium does not start");
    int n_cats = argc - 4;
    cutoff_catalog_spec **cats = calloc((size_t)n_cats, sizeof *cats);
    char(*shas)[65] = calloc((size_t)n_cats, sizeof *shas);
    if (cats == NULL || shas == NULL)
        return fail("out of memory");
    for (int i = 0; i < n_cats; i++) {
        json_error_t je;
        json_t *doc = json_load_file(argv[4 + i], 0, &je);
        char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL, *canon = NULL;
        json_decref(doc);
        if (text == NULL || cutoff_catalog_parse(text, strlen(text), &cats[i], NULL) != 0 ||
            cutoff_catalog_to_json(cats[i], &canon) != 0)
            return fail("a catalog file does not parse");
        unsigned char h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(h, (const unsigned char *)canon, strlen(canon));
        for (size_t k = 0; k < sizeof h; k++)
            snprintf(shas[i] + 2 * k, 3, "%02x", h[k]);
        free(text);
        cutoff_free(canon);
    }

    json_error_t je;
    json_t *audit = json_load_file(argv[1], 0, &je);
    if (!json_is_array(audit))
        return fail("the audit log is not a JSON array");
    size_t i;
    json_t *rec;
    json_array_foreach (audit, i, rec) {
        if (replay(rec, cats, shas, n_cats) != 0)
            return 1;
    }

    /* Today's tree: every node line (the parser points into the lines). */
    FILE *f = fopen(argv[2], "r");
    static cutoff_node_spec nodes[MAX_NODES];
    static char *node_lines[MAX_NODES]; /* what the specs point into */
    size_t n_nodes = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    if (f == NULL)
        return fail("cannot read the nodes file");
    while ((len = getline(&line, &cap, f)) > 0 && n_nodes < MAX_NODES) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (len == 0)
            continue;
        char *copy = node_lines[n_nodes] = strdup(line);
        if (copy == NULL || cutoff_node_parse_line(copy, (size_t)len, &nodes[n_nodes], NULL) != 0)
            return fail("a node line does not parse");
        n_nodes++;
    }
    fclose(f);

    if ((f = fopen(argv[3], "r")) == NULL)
        return fail("cannot read the requests");
    while ((len = getline(&line, &cap, f)) > 0) {
        char sub[256], act[256], region[256];
        long long t;
        if (sscanf(line, "%255[^\t]\t%255[^\t]\t%255[^\t]\t%lld", sub, act, region, &t) != 4)
            return fail("a request line is not subscription, action, region, Unix seconds");
        const cutoff_catalog_spec *catalog = NULL;
        for (size_t k = 0; k < n_loads; k++)
            if (loads[k].at <= t)
                catalog = loads[k].catalog;
        if (catalog == NULL) {
            printf("error\tno_catalog\n");
            continue;
        }
        /* The versions in force at t, as they were then. */
        const cutoff_action_spec *then[MAX_VERSIONS];
        size_t n = 0;
        for (size_t k = 0; k < n_versions; k++) {
            version *v = &versions[k];
            if (v->approved_at == 0 || v->approved_at > t || (v->ended_at && v->ended_at <= t))
                continue;
            v->spec->state = CUTOFF_STATE_ACTIVE;
            v->spec->version = v->number;
            v->spec->activated_at = v->approved_at;
            then[n++] = v->spec;
        }
        ref_world w = {catalog, nodes, n_nodes, then, n};
        ref_verdict verdict;
        ref_check(&w, sub, act, strcmp(region, "-") == 0 ? NULL : region, (int64_t)t, &verdict);
        char number[16] = "-";
        if (verdict.by)
            snprintf(number, sizeof number, "%d", verdict.by->version);
        printf("%s\t%s\t%s\t%s\n", verdict.reason == CUTOFF_REASON_ALLOW ? "allow" : "deny",
               cutoff_reason_name(verdict.reason), verdict.by ? verdict.by->id : "-", number);
    }
    free(line);
    fclose(f);
    json_decref(audit);
    for (size_t k = 0; k < n_nodes; k++)
        free(node_lines[k]);
    for (size_t k = 0; k < n_versions; k++)
        cutoff_action_free(versions[k].spec);
    for (int k = 0; k < n_cats; k++)
        cutoff_catalog_free(cats[k]);
    free(cats);
    free(shas);
    return 0;
}
