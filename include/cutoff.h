/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cutoff.h - the whole public face of libcutoff.
 *
 * libcutoff decides, for every request a multi-tenant platform serves,
 * whether an enforcement action stops it: (subscription, action, region,
 * time) -> allow | deny, with the reason and the deciding action. It has
 * three layers, each usable on its own:
 *
 *   1. the engine: a customer tree and a catalog compiled into an immutable
 *      tree, active enforcement actions compiled on top of it into an
 *      immutable snapshot, and check / explain / preview on a snapshot.
 *      Pure C11, no I/O, no locks on the read path.
 *   2. documents: parsers for the catalog, enforcement action and node-line
 *      JSON formats of docs/design.md, with error messages that name the place.
 *   3. the database: durable state (SQLite), the operator workflow (cases,
 *      four-eyes approval, lifts) and the hash-chained audit log.
 *
 * Conventions. Functions that can fail return int: 0 on success or a
 * negative CUTOFF_E* code; cutoff_strerror() names it. Out-parameters come
 * last. A call that fails has no side effects. Where input from outside can
 * be wrong, a cutoff_diag receives a one-line message a person can act on
 * (what was wrong, where, what is allowed); passing NULL is allowed.
 * Times are int64 Unix seconds (UTC). Strings are NUL-terminated UTF-8.
 * Every free/release function accepts NULL. Memory: the document and
 * database functions install malloc/free-compatible allocation functions
 * into jansson (json_set_alloc_funcs, once, on their first call), so that
 * the library's allocation accounting covers the JSON it builds; a program
 * that also uses jansson must not install its own and should make its
 * first such call before other threads use jansson; it releases jansson's
 * results (json_dumps) with cutoff_free() (free() works too, but escapes
 * the accounting).
 */
#ifndef CUTOFF_H
#define CUTOFF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CUTOFF_EXPORT __attribute__((visibility("default")))
#else
#define CUTOFF_EXPORT
#endif

/* ===================================================================== */
/* Version                                                                */
/* ===================================================================== */

/* The release, defined here and nowhere else: the Makefile reads these
 * three lines for the shared library's file name and soname
 * (libcutoff.so.MAJOR) and for cutoff.pc. MAJOR changes when a program
 * built against an older release could break. */
#define CUTOFF_VERSION_MAJOR 0
#define CUTOFF_VERSION_MINOR 3
#define CUTOFF_VERSION_PATCH 0

#define CUTOFF__STRINGIFY(x) #x
#define CUTOFF__VERSION_TEXT(a, b, c)                                                              \
    CUTOFF__STRINGIFY(a) "." CUTOFF__STRINGIFY(b) "." CUTOFF__STRINGIFY(c)
/* "MAJOR.MINOR.PATCH", the version this header belongs to. */
#define CUTOFF_VERSION                                                                             \
    CUTOFF__VERSION_TEXT(CUTOFF_VERSION_MAJOR, CUTOFF_VERSION_MINOR, CUTOFF_VERSION_PATCH)

/* The version of the library actually loaded, "MAJOR.MINOR.PATCH"; it can
 * differ from CUTOFF_VERSION when a program runs against a newer shared
 * library of the same MAJOR. Never fails; the string is static. */
CUTOFF_EXPORT const char *cutoff_version(void);

/* ===================================================================== */
/* Errors                                                                 */
/* ===================================================================== */

/* XX(name, value, http_status, title, message): the one table of error
 * codes. Everything that reports a code takes it from here: the message
 * (cutoff_strerror), the symbolic name that travels in cutoffd's problem
 * bodies as "code" (cutoff_errname, cutoff_errcode), and the HTTP status and
 * problem title cutoffd answers with. EAUTH and EMETHOD are the daemon's
 * (the library never returns them). EUNAVAIL is cutoffd's "not ready", and
 * the database layer's "the store cannot be reached" (a database file no
 * longer at its path, a database server that does not answer): a state
 * that may pass, worth retrying, unlike a store that is misconfigured. */
#define CUTOFF_ERRNO_MAP(XX)                                                                       \
    XX(OK, 0, 200, "OK", "success")                                                                \
    XX(ENOMEM, -1, 503, "Service Unavailable", "out of memory")                                    \
    XX(EINVAL, -2, 400, "Bad Request", "invalid argument")                                         \
    XX(EPARSE, -3, 400, "Bad Request", "malformed input")                                          \
    XX(ENOTFOUND, -4, 404, "Not Found", "no such object")                                          \
    XX(EEXIST, -5, 409, "Conflict", "object already exists")                                       \
    XX(ECYCLE, -6, 400, "Bad Request", "the node tree would contain a cycle")                      \
    XX(EPERM, -7, 403, "Forbidden", "not permitted")                                               \
    XX(ESTATE, -8, 409, "Conflict", "not allowed in the object's current state")                   \
    XX(ESTORE, -9, 500, "Internal Server Error", "database error")                                 \
    XX(EIO, -10, 500, "Internal Server Error", "input/output error")                               \
    XX(ETAMPER, -11, 500, "Internal Server Error", "audit log does not verify")                    \
    XX(ENOTINIT, -12, 503, "Service Unavailable",                                                  \
       "database is not initialised (run 'cutoff init')")                                          \
    XX(EVERSION, -13, 500, "Internal Server Error", "database schema is newer than this program")  \
    XX(ELIMIT, -14, 413, "Content Too Large", "a size limit was exceeded")                         \
    XX(EAUTH, -15, 401, "Unauthorized", "authentication required")                                 \
    XX(EMETHOD, -16, 405, "Method Not Allowed", "method not allowed for this resource")            \
    XX(EUNAVAIL, -17, 503, "Service Unavailable",                                                  \
       "unavailable: the store cannot be reached or no snapshot is published yet")

enum {
#define CUTOFF_ERR_ENUM(name, value, status, title, msg) CUTOFF_##name = (value),
    CUTOFF_ERRNO_MAP(CUTOFF_ERR_ENUM)
#undef CUTOFF_ERR_ENUM
};

/* The message for an error code ("unknown error" for codes not in the map). */
CUTOFF_EXPORT const char *cutoff_strerror(int rc);
/* The symbolic name of an error code, e.g. "ENOTFOUND" ("EUNKNOWN" for
 * codes not in the map). */
CUTOFF_EXPORT const char *cutoff_errname(int rc);
/* The code named `name` ("ENOTFOUND") into *code. Returns 0, or
 * CUTOFF_ENOTFOUND when the table has no such name (*code untouched). */
CUTOFF_EXPORT int cutoff_errcode(const char *name, int *code);
/* The HTTP status that reports rc (500 for codes not in the map). */
CUTOFF_EXPORT int cutoff_error_http_status(int rc);
/* The problem title that goes with that status ("Not Found"). */
CUTOFF_EXPORT const char *cutoff_error_title(int rc);

/* Releases memory the library handed over (JSON texts). */
CUTOFF_EXPORT void cutoff_free(void *p);

/* Details of a failed call on outside input. `message` is one line,
 * e.g. "line 12: parent \"imod\" of \"unit-8200\" is not in the tree".
 * `line` is the 1-based input line (0 when not applicable); `item` is the
 * 0-based index of the failing element of a list (SIZE_MAX when n/a). */
typedef struct cutoff_diag {
    int code;
    size_t line;
    size_t item;
    char message[512];
} cutoff_diag;

/* ===================================================================== */
/* Time and identifiers                                                   */
/* ===================================================================== */

#define CUTOFF_TIME_NEVER INT64_MAX
#define CUTOFF_ID_MAX 128

/* Parses RFC 3339 ("2025-09-25T12:00:00Z", offsets and fractions allowed,
 * fractions are truncated) or decimal Unix seconds. The time must lie in
 * the years 0000 to 9999 (UTC), so that it prints back as four-digit-year
 * RFC 3339 and is never CUTOFF_TIME_NEVER. Returns 0, or CUTOFF_EPARSE on
 * anything else (also NULL, empty, or out of that range, an offset that
 * moves it out included; diag says what is allowed). */
CUTOFF_EXPORT int cutoff_time_parse(const char *text, int64_t *out, cutoff_diag *diag);
/* Formats t as RFC 3339 UTC ("2025-09-25T12:00:00Z") into buf (>= 32 bytes).
 * CUTOFF_TIME_NEVER formats as "never". Returns buf. */
CUTOFF_EXPORT char *cutoff_time_format(int64_t t, char buf[32]);
/* Parses a relative offset "+0", "+3s", "+15m", "+12h", "+30d" into seconds.
 * Returns 0, or CUTOFF_EPARSE (diag says what is allowed). */
CUTOFF_EXPORT int cutoff_offset_parse(const char *text, int64_t *out, cutoff_diag *diag);
/* 1 when id is 1..128 bytes of [A-Za-z0-9._:-], else 0. This is also the
 * grammar of actors and token principals: no space, control or non-ASCII
 * character can make two spellings of one name look alike. */
CUTOFF_EXPORT int cutoff_id_valid(const char *id);
/* 1 when actors (or principals) a and b are the same person: equal when
 * ASCII letters are folded to lower case ("Alice" is "alice"), whatever
 * the locale. 0 otherwise, and when either is NULL. Four eyes compares
 * with this, and a tokens file may not hold two principals it finds the
 * same unless they are spelled the same. */
CUTOFF_EXPORT int cutoff_actor_same(const char *a, const char *b);
/* 0 when url is an absolute http or https URL ("https://host/...", scheme
 * in any case, a host part present) made only of RFC 3986 characters: no
 * space, quote, angle bracket, backslash, caret, backquote, brace, bar,
 * control byte or non-ASCII byte, so that it can stand in an HTTP header
 * (the Link of a 451) as it is. The rule for notice.ref and for a
 * notice_base (which the action id is appended to). Else CUTOFF_EPARSE
 * (diag names the offending byte). */
CUTOFF_EXPORT int cutoff_notice_url_check(const char *url, cutoff_diag *diag);
/* 0 when text is a valid pattern: "*", "SERVICE.*" or "SERVICE.ACTION";
 * else CUTOFF_EPARSE (diag says what is allowed). */
CUTOFF_EXPORT int cutoff_pattern_check(const char *pattern, cutoff_diag *diag);
/* 1 when the pattern matches the full action name ("storage.read"). */
CUTOFF_EXPORT int cutoff_pattern_match(const char *pattern, const char *action);
/* 1 when a region pattern ("*", "eu-netherlands", "eu-*") matches region.
 * A NULL region (the request names none) matches only "*". */
CUTOFF_EXPORT int cutoff_region_match(const char *pattern, const char *region);

/* ===================================================================== */
/* Model: plain structures, owned by whoever fills them                   */
/* ===================================================================== */

typedef enum cutoff_node_kind {
    CUTOFF_NODE_TENANT = 1,
    CUTOFF_NODE_UNIT = 2,
    CUTOFF_NODE_SUBSCRIPTION = 3
} cutoff_node_kind;

/* "tenant", "unit", "subscription"; parse returns 0 for an unknown name. */
CUTOFF_EXPORT const char *cutoff_node_kind_name(cutoff_node_kind kind);
CUTOFF_EXPORT cutoff_node_kind cutoff_node_kind_parse(const char *name);

/* One node of the customer tree. parent is NULL for tenants; plan and name
 * may be NULL. */
typedef struct cutoff_node_spec {
    const char *id;
    cutoff_node_kind kind;
    const char *parent;
    const char *name;
    const char *plan;
} cutoff_node_spec;

typedef enum cutoff_action_class {
    CUTOFF_CLASS_READ = 1, /* reading, listing, exporting */
    CUTOFF_CLASS_WRITE = 2 /* anything else */
} cutoff_action_class;

CUTOFF_EXPORT const char *cutoff_class_name(cutoff_action_class cls); /* "read", "write" */

typedef struct cutoff_catalog_action {
    const char *name; /* full name, "storage.read" */
    cutoff_action_class cls;
} cutoff_catalog_action;

typedef struct cutoff_plan_spec {
    const char *name;
    const char *const *services; /* patterns: "*", "security.*", "ai.transcribe" */
    size_t n_services;
} cutoff_plan_spec;

typedef struct cutoff_catalog_spec {
    const cutoff_catalog_action *actions;
    size_t n_actions;
    const char *const *regions;
    size_t n_regions;
    const cutoff_plan_spec *plans;
    size_t n_plans;
} cutoff_catalog_spec;

typedef enum cutoff_mode {
    CUTOFF_MODE_OFF = 0,       /* the action does not bite */
    CUTOFF_MODE_READ_ONLY = 1, /* deny unless the action's class is read */
    CUTOFF_MODE_SUSPEND = 2    /* deny */
} cutoff_mode;

CUTOFF_EXPORT const char *cutoff_mode_name(cutoff_mode mode); /* "off", "read-only", "suspend" */

typedef struct cutoff_phase_spec {
    int64_t at;   /* Unix seconds, or an offset in seconds when relative */
    int relative; /* 1: `at` counts from activation ("+30d") */
    cutoff_mode mode;
} cutoff_phase_spec;

typedef enum cutoff_action_state {
    CUTOFF_STATE_DRAFT = 0,
    CUTOFF_STATE_ACTIVE = 1, /* approved: its phases say when it bites */
    CUTOFF_STATE_LIFTED = 2,
    CUTOFF_STATE_EXPIRED = 3,   /* active, and its last phase "off" has begun */
    CUTOFF_STATE_SUPERSEDED = 4 /* an older version replaced by a newer one */
} cutoff_action_state;

CUTOFF_EXPORT const char *cutoff_action_state_name(cutoff_action_state state);

typedef struct cutoff_notice_spec {
    const char *summary;
    const char *terms;
    const char *contact;
    const char *ref; /* where the notice can be read (a URL or document id) */
} cutoff_notice_spec;

/* An enforcement action. Patterns follow cutoff_pattern_check; regions
 * follow cutoff_region_match (n_regions == 0 means every region). Phases are
 * in ascending order of time once relative ones are resolved. */
typedef struct cutoff_action_spec {
    const char *id;
    const char *case_id;
    const char *const *scope;
    size_t n_scope;
    const char *const *deny;
    size_t n_deny;
    const char *const *except;
    size_t n_except;
    const char *const *regions;
    size_t n_regions;
    const cutoff_phase_spec *phases;
    size_t n_phases;
    int status; /* 403 or 451 */
    cutoff_notice_spec notice;
    /* lifecycle, filled by the database */
    cutoff_action_state state;
    int version;
    int64_t activated_at; /* resolves relative phases; 0 for drafts */
} cutoff_action_spec;

/* The absolute start of phase i of a (for relative phases, activation +
 * offset; `activation` overrides a->activated_at when nonzero). */
CUTOFF_EXPORT int64_t cutoff_phase_start(const cutoff_action_spec *a, size_t i, int64_t activation);

/* ===================================================================== */
/* Engine: trees, snapshots, decisions                                    */
/* ===================================================================== */

/* A compiled customer tree plus catalog: immutable, reference counted,
 * shared by every snapshot built on it. Building one validates everything:
 * ids, kinds, parents (a tenant has none; a unit's parent is a tenant or a
 * unit; a subscription's is a tenant or a unit), cycles, plan names. */
typedef struct cutoff_tree cutoff_tree;
typedef struct cutoff_tree_builder cutoff_tree_builder;

/* Starts a tree on a catalog (copied; validated: action names are
 * SERVICE.ACTION ids, unique; regions are ids, unique; plan patterns valid).
 * Returns 0, CUTOFF_ENOMEM, CUTOFF_EINVAL (no catalog, a bad or repeated
 * name, an action without a class), CUTOFF_EPARSE (a bad plan pattern) or
 * CUTOFF_ELIMIT (more than 65535 actions, regions or plans); diag says
 * which. */
CUTOFF_EXPORT int cutoff_tree_builder_new(const cutoff_catalog_spec *catalog,
                                          cutoff_tree_builder **out, cutoff_diag *diag);
/* Hints the final size so that large imports allocate once. Returns 0,
 * CUTOFF_ENOMEM, or CUTOFF_ELIMIT (a billion nodes or more). */
CUTOFF_EXPORT int cutoff_tree_builder_reserve(cutoff_tree_builder *b, size_t nodes,
                                              size_t id_bytes);
/* Adds a node, or replaces the node with the same id (an update or a move).
 * Checks the id syntax and the kind; parents are checked by build. The
 * strings are copied. On error diag->item is the index of this node in
 * insertion order (counting replacements). Returns 0, CUTOFF_ENOMEM,
 * CUTOFF_EINVAL (a bad id, kind or parent id, a tenant with a parent or
 * another node without one, a plan not in the catalog) or CUTOFF_ECYCLE
 * (the node is its own parent). */
CUTOFF_EXPORT int cutoff_tree_builder_add(cutoff_tree_builder *b, const cutoff_node_spec *node,
                                          cutoff_diag *diag);
/* Number of distinct nodes added so far. */
CUTOFF_EXPORT size_t cutoff_tree_builder_count(const cutoff_tree_builder *b);
/* Validates and compiles. On error diag->item is the insertion index of the
 * node at fault and nothing is built. The builder stays usable either way.
 * Returns 0, CUTOFF_ENOMEM, CUTOFF_EINVAL (a parent that is not in the tree
 * or is a subscription), CUTOFF_ECYCLE (the parents form a cycle; diag
 * shows it) or CUTOFF_ELIMIT (ids beyond 16 GiB). */
CUTOFF_EXPORT int cutoff_tree_build(cutoff_tree_builder *b, cutoff_tree **out, cutoff_diag *diag);
CUTOFF_EXPORT void cutoff_tree_builder_free(cutoff_tree_builder *b);

CUTOFF_EXPORT void cutoff_tree_retain(cutoff_tree *t);
CUTOFF_EXPORT void cutoff_tree_release(cutoff_tree *t);
/* Nodes of a kind (0 for all kinds). */
CUTOFF_EXPORT size_t cutoff_tree_count(const cutoff_tree *t, cutoff_node_kind kind);
/* Approximate bytes of memory the tree holds. */
CUTOFF_EXPORT size_t cutoff_tree_memory(const cutoff_tree *t);

/* A tree plus the active enforcement actions compiled on it. Immutable.
 * Everything a snapshot returns by pointer (ids, action specs) stays valid
 * until the snapshot is released. Any number of threads may use one
 * snapshot at once. */
typedef struct cutoff_snapshot cutoff_snapshot;

/* Compiles a snapshot: takes a reference on tree and a deep copy of those
 * actions in force, whose state is CUTOFF_STATE_ACTIVE or
 * CUTOFF_STATE_EXPIRED (expired is what people are shown for an action
 * whose last phase "off" has begun: its earlier phases still decide times
 * before that); the others are ignored. Scope
 * nodes must be in the tree and patterns valid. Cost is proportional to the
 * number of actions, not to the size of the tree. Returns 0, CUTOFF_ENOMEM,
 * CUTOFF_EINVAL (an active action without a valid id, or with an empty
 * scope or a count without its array), CUTOFF_EEXIST (two active actions
 * with one id), CUTOFF_EPARSE (a bad deny or except pattern) or
 * CUTOFF_ENOTFOUND (a scope node not in the tree); diag says which. */
CUTOFF_EXPORT int cutoff_snapshot_build(cutoff_tree *tree, const cutoff_action_spec *const *actions,
                                        size_t n_actions, cutoff_snapshot **out, cutoff_diag *diag);
CUTOFF_EXPORT void cutoff_snapshot_retain(const cutoff_snapshot *s);
CUTOFF_EXPORT void cutoff_snapshot_release(const cutoff_snapshot *s);
/* The tree a snapshot is built on (borrowed). */
CUTOFF_EXPORT cutoff_tree *cutoff_snapshot_tree(const cutoff_snapshot *s);
/* The active actions compiled in, sorted by id (borrowed). */
CUTOFF_EXPORT size_t cutoff_snapshot_action_count(const cutoff_snapshot *s);
CUTOFF_EXPORT const cutoff_action_spec *cutoff_snapshot_action(const cutoff_snapshot *s, size_t i);

/* Bytes of a snapshot digest: 32 hex digits and a NUL. */
#define CUTOFF_DIGEST_SIZE 33

/* Writes the digest of what the snapshot decides into buf (size >=
 * CUTOFF_DIGEST_SIZE) as 32 lowercase hex digits: a 128-bit hash (XXH3) of
 * the compiled catalog (actions with their classes, regions, plans and
 * what each entitles), every node (id, kind, parent, the plan it sets) and
 * every compiled action (id, case, version, state, activation, status,
 * scope, deny, except, regions, phases, notice). Node names are left out
 * (they do not decide) and the order nodes were added in does not count,
 * so two processes that built snapshots from the same stored state (the
 * same change sequence) get the same digest. A check that two decision
 * nodes agree, not a signature. The tree's part is computed on the first
 * call for a tree (a pass over its nodes) and kept; later calls cost in
 * proportion to the actions. Thread-safe. Returns 0, CUTOFF_EINVAL (NULL,
 * or size too small) or CUTOFF_ENOMEM. */
CUTOFF_EXPORT int cutoff_snapshot_digest(const cutoff_snapshot *s, char *buf, size_t size);

typedef enum cutoff_reason {
    CUTOFF_REASON_ALLOW = 0,
    CUTOFF_REASON_UNKNOWN_SUBSCRIPTION = 1,
    CUTOFF_REASON_UNKNOWN_ACTION = 2,
    CUTOFF_REASON_NOT_ENTITLED = 3,
    CUTOFF_REASON_SUSPENDED = 4,
    CUTOFF_REASON_READ_ONLY = 5
} cutoff_reason;

/* "allow", "unknown_subscription", "unknown_action", "not_entitled",
 * "suspended", "read_only". */
CUTOFF_EXPORT const char *cutoff_reason_name(cutoff_reason reason);

/* A decision. The request is allowed iff reason == CUTOFF_REASON_ALLOW. For
 * suspended/read_only, `by` is the deciding enforcement action (borrowed
 * from the snapshot) and [since, until) the phase that decides. */
typedef struct cutoff_verdict {
    cutoff_reason reason;
    const cutoff_action_spec *by;
    int64_t since;
    int64_t until; /* CUTOFF_TIME_NEVER when no later phase follows */
} cutoff_verdict;

/* The HTTP status that carries a verdict: 200 for allow; for a deny the
 * deciding action's status (403 or 451), else 403. */
CUTOFF_EXPORT int cutoff_verdict_status(const cutoff_verdict *v);

/* Decides (subscription, action, region, t) by the contract of docs/design.md.
 * region may be NULL when the request names none. Never fails: unknown
 * names give the fail-closed reasons. Lock-free and allocation-free. */
CUTOFF_EXPORT void cutoff_check(const cutoff_snapshot *s, const char *subscription,
                                const char *action, const char *region, int64_t t,
                                cutoff_verdict *out);

/* One request for cutoff_check_many. */
typedef struct cutoff_request {
    const char *subscription;
    const char *action;
    const char *region; /* NULL: the request names none */
    int64_t at;
} cutoff_request;

/* Decides n requests into out[n]: the same verdicts as n calls of
 * cutoff_check, faster for many requests because the memory of later
 * requests is fetched while earlier ones are decided. */
CUTOFF_EXPORT void cutoff_check_many(const cutoff_snapshot *s, const cutoff_request *requests,
                                     size_t n, cutoff_verdict *out);

/* Pre-resolved handles for callers that decide the same names many times.
 * A handle is valid for every snapshot built on the same tree. */
typedef struct cutoff_sub_handle {
    uint32_t index;
} cutoff_sub_handle;
typedef struct cutoff_act_handle {
    uint32_t index;
} cutoff_act_handle;
typedef struct cutoff_region_handle {
    uint32_t index;
} cutoff_region_handle;
#define CUTOFF_REGION_NONE ((cutoff_region_handle){UINT32_MAX})

/* Returns 0, or CUTOFF_ENOTFOUND when the name is NULL or not a subscription /
 * catalog action / catalog region of the tree. region NULL resolves to
 * CUTOFF_REGION_NONE. */
CUTOFF_EXPORT int cutoff_resolve_subscription(const cutoff_tree *t, const char *id,
                                              cutoff_sub_handle *out);
CUTOFF_EXPORT int cutoff_resolve_action(const cutoff_tree *t, const char *name,
                                        cutoff_act_handle *out);
CUTOFF_EXPORT int cutoff_resolve_region(const cutoff_tree *t, const char *name,
                                        cutoff_region_handle *out);
/* cutoff_check on handles (same result as by names). */
CUTOFF_EXPORT void cutoff_check_handles(const cutoff_snapshot *s, cutoff_sub_handle sub,
                                        cutoff_act_handle act, cutoff_region_handle region,
                                        int64_t t, cutoff_verdict *out);

/* Why a decision is what it is: every active action whose scope contains
 * the subscription, what each part of it matched, and which one decides. */
typedef struct cutoff_explain_entry {
    const cutoff_action_spec *action;
    const char *scope_node;     /* the scope node that contains the subscription */
    const char *deny_pattern;   /* first deny pattern matching, or NULL */
    const char *except_pattern; /* first except pattern matching, or NULL */
    int region_match;
    cutoff_mode mode; /* phase in force at t (OFF before the first phase) */
    int64_t since, until;
    cutoff_reason effect; /* what this action alone would decide */
    int decides;          /* 1 for the action that decides the verdict */
} cutoff_explain_entry;

typedef struct cutoff_explanation {
    cutoff_verdict verdict;
    const char *plan;      /* the inherited plan, NULL when none (entitled to all) */
    const char *plan_from; /* the node that sets it */
    int entitled;
    const char *const *path; /* ids from the subscription up to its tenant */
    size_t n_path;
    cutoff_explain_entry *entries;
    size_t n_entries;
} cutoff_explanation;

/* Explains cutoff_check's verdict for the same arguments into *out (free it
 * with cutoff_explanation_free; it borrows from s). An unknown subscription
 * is no error: the verdict says so and there are no entries. Returns 0 or
 * CUTOFF_ENOMEM. */
CUTOFF_EXPORT int cutoff_explain(const cutoff_snapshot *s, const char *subscription,
                                 const char *action, const char *region, int64_t t,
                                 cutoff_explanation **out);
CUTOFF_EXPORT void cutoff_explanation_free(cutoff_explanation *e);

/* ---------------------------------------------------------------------
 * The decision as JSON: the one shape that every producer prints (the CLI's
 * check --json, cutoffd's /v1/check, /v1/check/batch and explain, and the
 * members of a denial's problem body). docs/design.md ("Decision JSON")
 * documents it with an example:
 *
 *   decision, reason             "allow" | "deny", cutoff_reason_name()
 *   subscription, action,        the request: "action" is always the catalog
 *   region, at                   action; region null when none; at RFC 3339
 *   status                       denials only: the HTTP status, 403 or 451
 *   enforcement_action           the deciding enforcement action's id, or null
 *   version, case, since, until, only with an enforcement action: its
 *   export_window_ends, notice   version, case, phase window (until null when
 *                                no later phase), the end of a read-only
 *                                window, and the notice {summary, terms,
 *                                contact, ref, url}
 *
 * notice.url is the notice's ref, else notice_base followed by the action
 * id when notice_base is not NULL or empty, else absent. Request strings
 * that are not UTF-8 are shown escaped. The text is compact JSON from the
 * library's allocator: release it with cutoff_free. Both return 0,
 * CUTOFF_EINVAL (a NULL argument or request field), or CUTOFF_ENOMEM.
 * --------------------------------------------------------------------- */
/* Where the customer reads the notice of action a: its notice.ref, else
 * notice_base followed by the action id when notice_base is neither NULL
 * nor empty. A ref or notice_base that fails cutoff_notice_url_check is
 * treated as absent, so the result is always safe in an HTTP header.
 * *out is NULL when there is no such place, else a string to release with
 * cutoff_free. Returns 0, CUTOFF_EINVAL or CUTOFF_ENOMEM. */
CUTOFF_EXPORT int cutoff_notice_url(const cutoff_action_spec *a, const char *notice_base,
                                    char **out);
CUTOFF_EXPORT int cutoff_verdict_to_json(const cutoff_verdict *v, const cutoff_request *r,
                                         const char *notice_base, char **out);
/* The verdict's members followed by "explanation": {path, plan, plan_from,
 * entitled, actions: [{enforcement_action, scope_node, deny_pattern,
 * except_pattern, region_match, mode, since, until, effect, decides}]}. */
CUTOFF_EXPORT int cutoff_explanation_to_json(const cutoff_explanation *e, const cutoff_request *r,
                                             const char *notice_base, char **out);

/* The blast radius of a proposed action against a current snapshot: what
 * changes if `proposed` becomes active at `activation`, evaluated at the
 * start of each of its phases, for every region of the catalog and for
 * requests that name no region. A subscription "changes" for a catalog
 * action when its decision (allow/deny and reason) differs. */
typedef struct cutoff_preview_phase {
    int64_t at;
    cutoff_mode mode;
} cutoff_preview_phase;

typedef struct cutoff_preview_line {
    const char *action; /* catalog action name */
    cutoff_action_class cls;
    int targeted;               /* a deny pattern matches and no except pattern does */
    int excepted;               /* an except pattern matches */
    uint64_t changed;           /* subscriptions whose decision changes in some phase */
    uint64_t *changed_in_phase; /* [n_phases] */
} cutoff_preview_line;

typedef struct cutoff_preview {
    uint64_t subscriptions_in_scope;
    uint64_t subscriptions_changed; /* for at least one action, in some phase */
    cutoff_preview_phase *phases;
    size_t n_phases;
    cutoff_preview_line *lines; /* one per catalog action, catalog order */
    size_t n_lines;
    /* Computed, not assumed: 1 when no subscription's decision changes for
     * any excepted action in any phase and region. */
    int excepted_unchanged;
    uint64_t excepted_changes; /* sum of `changed` over the excepted lines */
} cutoff_preview;

/* One changed subscription: its id and the catalog actions that change. */
typedef struct cutoff_preview_change {
    const char *subscription;
    const char *const *actions;
    size_t n_actions;
} cutoff_preview_change;

/* Computes the preview. `proposed` need not be active (its state is
 * ignored); a version of the same id already in `current` is replaced by it
 * for the comparison. Returns 0, CUTOFF_ENOMEM, CUTOFF_EINVAL (no proposed
 * action or id, or one cutoff_snapshot_build refuses), CUTOFF_EPARSE (a bad
 * pattern) or CUTOFF_ENOTFOUND (a scope node not in the tree); diag says
 * which. */
CUTOFF_EXPORT int cutoff_preview_compute(const cutoff_snapshot *current,
                                         const cutoff_action_spec *proposed, int64_t activation,
                                         cutoff_preview **out, cutoff_diag *diag);
/* A page of changed subscriptions in tree order: up to `limit` entries from
 * `offset` into out[]; *n gets the count written. Borrowed from p. Returns
 * 0 (also for a page past the end: *n is 0) or CUTOFF_ENOMEM. */
CUTOFF_EXPORT int cutoff_preview_changes(const cutoff_preview *p, size_t offset, size_t limit,
                                         cutoff_preview_change *out, size_t *n);
CUTOFF_EXPORT void cutoff_preview_free(cutoff_preview *p);

/* ---------------------------------------------------------------------
 * Publication: one current snapshot for many reader threads.
 *
 * Readers never lock and never wait: cutoff_reader_enter() returns the
 * current snapshot and keeps it alive until cutoff_reader_exit(). A writer
 * publishes a new snapshot with an atomic swap; the old one is freed once
 * no reader that could have seen it is still inside. Each reader thread
 * uses its own cutoff_reader. Writers are serialised internally.
 * --------------------------------------------------------------------- */
typedef struct cutoff_engine cutoff_engine;
typedef struct cutoff_reader cutoff_reader;

/* Returns 0 or CUTOFF_ENOMEM. */
CUTOFF_EXPORT int cutoff_engine_new(cutoff_engine **out);
/* Frees the engine and every snapshot it holds. No reader may be inside. */
CUTOFF_EXPORT void cutoff_engine_free(cutoff_engine *e);
/* Makes s current; the engine takes over the caller's reference. */
CUTOFF_EXPORT void cutoff_engine_publish(cutoff_engine *e, cutoff_snapshot *s);
/* A new reference to the current snapshot (NULL before the first publish),
 * for writers and slow paths; release it with cutoff_snapshot_release. */
CUTOFF_EXPORT cutoff_snapshot *cutoff_engine_acquire(cutoff_engine *e);
/* Number of publications so far. */
CUTOFF_EXPORT uint64_t cutoff_engine_version(const cutoff_engine *e);
/* Frees retired snapshots that no reader can still see; returns how many
 * are still waiting. publish calls it too. */
CUTOFF_EXPORT size_t cutoff_engine_reclaim(cutoff_engine *e);

/* A reader for one thread. Returns 0 or CUTOFF_ENOMEM. */
CUTOFF_EXPORT int cutoff_reader_new(cutoff_engine *e, cutoff_reader **out);
CUTOFF_EXPORT void cutoff_reader_free(cutoff_reader *r);
/* The current snapshot, valid until the matching exit (NULL before the
 * first publish). Not reentrant per reader. */
CUTOFF_EXPORT const cutoff_snapshot *cutoff_reader_enter(cutoff_reader *r);
CUTOFF_EXPORT void cutoff_reader_exit(cutoff_reader *r);

/* ===================================================================== */
/* Documents: the JSON formats of docs/design.md                         */
/* ===================================================================== */

/* Parsed documents own all their strings; free them with the matching
 * function. Errors name the JSON path ("services[2].actions[0].class") and
 * say what is allowed. The parsers return 0, CUTOFF_ENOMEM, CUTOFF_EINVAL
 * (no place for the result, or NULL text with a length), CUTOFF_EPARSE
 * (malformed JSON, a missing or unknown key, a wrong type or value) or
 * CUTOFF_ELIMIT (too many entries, a string too long). */
CUTOFF_EXPORT int cutoff_catalog_parse(const char *json, size_t len, cutoff_catalog_spec **out,
                                       cutoff_diag *diag);
CUTOFF_EXPORT void cutoff_catalog_free(cutoff_catalog_spec *c);
/* The catalog as canonical JSON (release with cutoff_free). Returns 0,
 * CUTOFF_ENOMEM, or CUTOFF_EINVAL when c is not a catalog the parser would
 * accept. */
CUTOFF_EXPORT int cutoff_catalog_to_json(const cutoff_catalog_spec *c, char **out);

/* Parses an enforcement action document. Checks syntax and shape only
 * (ids, patterns, times, modes, status 403/451, phase order); whether scope
 * nodes and patterns exist in the catalog is the database's business. A
 * missing "id" leaves id NULL. state is DRAFT. */
CUTOFF_EXPORT int cutoff_action_parse(const char *json, size_t len, cutoff_action_spec **out,
                                      cutoff_diag *diag);
CUTOFF_EXPORT void cutoff_action_free(cutoff_action_spec *a);
/* Deep copy. Returns 0, CUTOFF_ENOMEM, or CUTOFF_EINVAL (NULL, or a count
 * without its array). */
CUTOFF_EXPORT int cutoff_action_copy(const cutoff_action_spec *a, cutoff_action_spec **out);
/* The action as JSON in the input format plus "state", "version",
 * "activated_at" (release with cutoff_free). Returns 0, CUTOFF_ENOMEM, or
 * CUTOFF_EINVAL when a is not an action the parser would accept. */
CUTOFF_EXPORT int cutoff_action_to_json(const cutoff_action_spec *a, char **out);

/* Parses one node line of the bulk import format into spec, whose strings
 * point into `line` (modified in place; keep it alive while using spec).
 * diag->line is left to the caller. Returns 0, CUTOFF_ENOMEM, CUTOFF_EINVAL
 * (NULL line or out), CUTOFF_EPARSE (malformed JSON, a bad key, id, kind or
 * parent) or CUTOFF_ELIMIT (a name too long). */
CUTOFF_EXPORT int cutoff_node_parse_line(char *line, size_t len, cutoff_node_spec *out,
                                         cutoff_diag *diag);

/* ===================================================================== */
/* Signing keys                                                           */
/* ===================================================================== */

/* An Ed25519 key (libsodium) that signs audit heads and customer notices,
 * so that anyone holding its public key can check them without trusting
 * the database. Public keys travel as text, "ed25519:" followed by 44
 * characters of base64 (the form 'cutoff key show' prints and a public key
 * file holds on one line); signatures as 88 characters of base64. */
#define CUTOFF_PUBKEY_TEXT_MAX 64
#define CUTOFF_SIGNATURE_TEXT_MAX 96

typedef struct cutoff_key cutoff_key;

/* A new random key. Returns 0, CUTOFF_EINVAL (out NULL), CUTOFF_ENOMEM or
 * CUTOFF_EIO (the random source could not start). */
CUTOFF_EXPORT int cutoff_key_generate(cutoff_key **out);
/* Writes the key to a new file of mode 0600 (one line, "cutoff-secret-key
 * ed25519:" and the base64 of its seed), never replacing a file. Returns 0,
 * CUTOFF_EINVAL, CUTOFF_EEXIST (the path exists, a link included) or
 * CUTOFF_EIO. */
CUTOFF_EXPORT int cutoff_key_save(const cutoff_key *key, const char *path, cutoff_diag *diag);
/* Reads a key file. It must be a regular file owned by this user that no
 * one else may read or write, since whoever reads it can sign. Returns 0,
 * CUTOFF_EINVAL (no path; not a regular file), CUTOFF_EIO (cannot read it),
 * CUTOFF_EPERM (owner or mode), CUTOFF_EPARSE (not a key file) or
 * CUTOFF_ENOMEM. */
CUTOFF_EXPORT int cutoff_key_load(const char *path, cutoff_key **out, cutoff_diag *diag);
/* Wipes and releases a key. */
CUTOFF_EXPORT void cutoff_key_free(cutoff_key *key);
/* The key's public key as text ("ed25519:..."), valid while key lives. */
CUTOFF_EXPORT const char *cutoff_key_public(const cutoff_key *key);
/* 0 when text is a public key in the text form above, else CUTOFF_EPARSE. */
CUTOFF_EXPORT int cutoff_public_key_check(const char *text, cutoff_diag *diag);
/* Reads a public key file (one line as 'cutoff key show' prints; blanks
 * around it are ignored) into out. Returns 0, CUTOFF_EINVAL (no path; not
 * a regular file; a secret key file given by mistake), CUTOFF_EIO or
 * CUTOFF_EPARSE. */
CUTOFF_EXPORT int cutoff_public_key_read(const char *path, char out[CUTOFF_PUBKEY_TEXT_MAX],
                                         cutoff_diag *diag);
/* Signs len bytes of msg: the signature's text into sig_out. Returns 0 or
 * CUTOFF_EINVAL. */
CUTOFF_EXPORT int cutoff_key_sign(const cutoff_key *key, const void *msg, size_t len,
                                  char sig_out[CUTOFF_SIGNATURE_TEXT_MAX]);
/* Checks a signature over len bytes of msg with a public key text.
 * Returns 0 when it verifies, CUTOFF_ETAMPER when it does not (the bytes
 * or the signature were changed, or another key signed), CUTOFF_EPARSE (the
 * key or signature text is malformed) or CUTOFF_EINVAL. */
CUTOFF_EXPORT int cutoff_signature_verify(const char *public_key, const void *msg, size_t len,
                                          const char *signature);

/* ===================================================================== */
/* Notices to the customer                                                */
/* ===================================================================== */

/* A notice tells the customer what an enforcement action stops, where and
 * from when, what keeps running, the state of the review, and the audit
 * record of the change that issued it; it is signed with the operator's
 * key, so that the customer (or a court) can check it without trusting
 * the operator's database. docs/design.md ("Notices") has the format: the
 * signed document is {"notice": {...}, "signature": {"alg": "ed25519",
 * "key": "ed25519:...", "value": "BASE64"}} (signature null while
 * unsigned), and the signature covers the canonical text of "notice":
 * json_dumps with JSON_COMPACT | JSON_SORT_KEYS. */
#define CUTOFF_NOTICE_FORMAT "cutoff-notice-v1"

/* Checks a signed notice document (len bytes of json) against a public key
 * text. Every member of the format must be there with its type (a removed
 * or retyped member is refused before the signature is looked at), then
 * the signature must be by public_key and verify over the canonical text.
 * Returns 0 when it verifies; CUTOFF_ETAMPER when it does not (a changed
 * byte, a signature of another notice, another key, or no signature);
 * CUTOFF_EPARSE when the text is not a notice of this format (a member
 * missing, unknown or of the wrong type; a malformed signature or public
 * key); CUTOFF_EINVAL (NULL json or key); CUTOFF_ENOMEM. diag says which,
 * in one line. */
CUTOFF_EXPORT int cutoff_notice_verify(const char *json, size_t len, const char *public_key,
                                       cutoff_diag *diag);
/* The notice as a plain-text letter (*out, release with cutoff_free): to
 * whom, what is stopped and from when, what keeps running, the export
 * window, the state of the action and of the review, terms, contact,
 * reference, the audit record, and the signing key with how to check it.
 * It does not verify the signature. Returns 0, CUTOFF_EPARSE (not a
 * notice, as cutoff_notice_verify), CUTOFF_EINVAL or CUTOFF_ENOMEM. */
CUTOFF_EXPORT int cutoff_notice_text(const char *json, size_t len, char **out, cutoff_diag *diag);

/* ===================================================================== */
/* Database: durable state, workflow and audit                            */
/* ===================================================================== */

/* A database handle (SQLite in WAL mode with full sync by default). One
 * handle per thread. Every change is one transaction that also appends its
 * audit record, so a change and its record land together or not at all.
 *
 * Errors. Each function below lists the codes it returns; "a database
 * error" is CUTOFF_ENOMEM, CUTOFF_ESTORE (SQLite failed: busy beyond the
 * timeout, disk full, a corrupt file, stored data that does not parse) or
 * CUTOFF_EIO (an I/O error), with diag, where there is one, saying what was
 * being done. Functions that take an actor return CUTOFF_EINVAL for a
 * missing one or one that is not an id (cutoff_id_valid: 1-128 bytes of
 * [A-Za-z0-9._:-]). Free text (titles, notes, findings, reasons, evidence
 * file names, node names, notice fields) must be valid UTF-8 without
 * control characters or characters that hide or reorder text (bidi
 * overrides and isolates, zero-width and other format characters; findings
 * and evidence notes may hold LF and TAB), else CUTOFF_EINVAL (CUTOFF_EPARSE
 * inside a document). A failed change leaves the database as it was. */
typedef struct cutoff_db cutoff_db;

#define CUTOFF_DB_CREATE 1    /* create the file and schema if missing (init) */
#define CUTOFF_DB_READ_ONLY 2 /* never write: for reading a file one may only read */

/* Opens path: a SQLite file, or a PostgreSQL database when path is a libpq
 * URI (postgresql://... or postgres://...) or "postgresql:" alone (libpq's
 * environment: PGHOST, PGDATABASE, ...). Without CUTOFF_DB_CREATE a missing
 * or uninitialised database is CUTOFF_ENOTINIT (a PostgreSQL database
 * itself must exist: cutoff creates its tables, never the database). Older schemas are migrated in
 * one transaction. A database that would be created or migrated but holds a table, view, index or
 * trigger of another program is refused, with nothing written. With CUTOFF_DB_READ_ONLY the file is
 * opened read-only (a file or a directory the user may only read will do, as long as a database in
 * WAL mode has its -shm file or it can be created); every change through the handle then fails with
 * a database error, and cutoff_db_snapshot records no expiry (it leaves expired actions out).
 * Returns 0, CUTOFF_EINVAL (no path; CREATE with READ_ONLY), CUTOFF_ENOTINIT, CUTOFF_EVERSION (the
 * schema is newer than this library's), CUTOFF_ESTATE (read-only, and the
 * schema is older: it needs a migration), CUTOFF_ESTORE (not a database,
 * another program's database, a directory, no permission, a failed
 * migration), CUTOFF_EIO or CUTOFF_ENOMEM; diag says which. */
CUTOFF_EXPORT int cutoff_db_open(const char *path, int flags, cutoff_db **out, cutoff_diag *diag);
/* The database location as it may be shown in messages and logs: a
 * PostgreSQL location ("postgresql://user:secret@host/db?password=...", or
 * a keyword string with "password=...") without its password, anything
 * else (a file path) as given. Writes at most size bytes (cut short when
 * it does not fit, always NUL-terminated) and returns buf. */
CUTOFF_EXPORT const char *cutoff_db_location_shown(const char *location, char *buf, size_t size);
CUTOFF_EXPORT void cutoff_db_close(cutoff_db *db);
/* Gives the handle a signing key (NULL: none), borrowed until it is
 * replaced or the handle closed. With a key, every change signs the audit
 * head it creates, in its own transaction, and the notices it issues are
 * signed as they are issued. A change whose head cannot be signed fails
 * and is rolled back: with CUTOFF_EPERM when the newest head is signed by
 * another key (the key in force changes only by cutoff_db_key_rotate). */
CUTOFF_EXPORT void cutoff_db_set_key(cutoff_db *db, const cutoff_key *key);
/* The schema version this program writes (a number, never an error). */
CUTOFF_EXPORT int cutoff_db_schema_version(void);

/* Replaces the catalog (audited). Refused with CUTOFF_ESTATE when a node's
 * plan or an active action would be left naming something that no longer
 * exists, or when the new catalog changes a decision under an active
 * action (see cutoff_db_catalog_apply, which can force that). Returns 0,
 * the codes of cutoff_catalog_parse and cutoff_tree_builder_new
 * (CUTOFF_EINVAL also for NULL json), CUTOFF_ESTATE, or a database error. */
CUTOFF_EXPORT int cutoff_db_catalog_load(cutoff_db *db, const char *actor, const char *json,
                                         size_t len, cutoff_diag *diag);

#define CUTOFF_CATALOG_FORCE 1 /* load even if decisions under active actions change */

/* cutoff_db_catalog_load with flags. The effect of every active action (in
 * force or scheduled) is previewed (cutoff_preview_compute) under the old
 * and the new catalog; when some catalog action's decisions differ (its
 * class changed while the action targets it, it is gone while the action
 * names it, or the counts of changed subscriptions differ in some phase),
 * the load is refused with CUTOFF_ESTATE unless flags has
 * CUTOFF_CATALOG_FORCE, and a forced load's audit record carries the
 * changes ("forced_changes"). *impact_json (when impact_json is not NULL;
 * release with cutoff_free) is then {"enforcement_actions": [{
 * "enforcement_action", "version", "subscriptions_in_scope",
 * "catalog_actions": [{"action", "class_before", "class_after" (null when
 * gone), "subscriptions_changed"}]}], "catalog_actions": [names]}, on the
 * refusal and on the forced load alike; NULL when nothing changes or on
 * any other failure. Returns the codes of cutoff_db_catalog_load. */
CUTOFF_EXPORT int cutoff_db_catalog_apply(cutoff_db *db, const char *actor, const char *json,
                                          size_t len, int flags, char **impact_json,
                                          cutoff_diag *diag);
/* The current catalog (caller frees with cutoff_catalog_free). Returns 0,
 * CUTOFF_ENOTFOUND before one is loaded, or a database error. */
CUTOFF_EXPORT int cutoff_db_catalog_get(cutoff_db *db, cutoff_catalog_spec **out);

typedef struct cutoff_import_stats {
    uint64_t lines;    /* non-blank lines read */
    uint64_t inserted; /* new nodes */
    uint64_t updated;  /* existing nodes whose fields changed */
    uint64_t unchanged;
} cutoff_import_stats;

/* Called now and then during long work with lines done so far. */
typedef void (*cutoff_progress_fn)(void *ctx, uint64_t done);

/* The most input one import reads, in bytes: ten million lines of about
 * 400 bytes each. */
#define CUTOFF_IMPORT_MAX (4ull << 30)
/* Imports node lines (JSON Lines) from `in` as one transaction: every line
 * is checked (syntax, id, kind, parent present in the database or the file,
 * kinds of parents, no cycles, known plan) before anything is written; on
 * the first bad line nothing is imported and diag names the line. `source`
 * names the input in messages and the audit record. Returns 0,
 * CUTOFF_EPARSE (a malformed line), CUTOFF_EINVAL (no input, an id given
 * twice, a missing parent or one that is a subscription, a kind rule, an
 * unknown plan), CUTOFF_ECYCLE, CUTOFF_ELIMIT (too many lines, a name too
 * long, more than CUTOFF_IMPORT_MAX bytes), CUTOFF_EIO (reading `in`), CUTOFF_ENOTFOUND (no catalog
 * loaded yet), or a database error. */
CUTOFF_EXPORT int cutoff_db_nodes_import(cutoff_db *db, const char *actor, FILE *in,
                                         const char *source, cutoff_progress_fn progress,
                                         void *progress_ctx, cutoff_import_stats *stats,
                                         cutoff_diag *diag);

/* A node as JSON: id, kind, parent, name, plan, effective_plan (and the node
 * that sets it), ancestors, children count, subscriptions below, and the
 * actions whose scope covers it (release with cutoff_free). Returns 0,
 * CUTOFF_EINVAL (NULL id), CUTOFF_ENOTFOUND (no such node), or a database
 * error. */
CUTOFF_EXPORT int cutoff_db_node_show(cutoff_db *db, const char *id, char **json_out);

/* Builds the tree (nodes + catalog) from the database. Returns 0,
 * CUTOFF_ENOTFOUND (no catalog loaded yet), or a database error; a stored
 * tree that does not build gives cutoff_tree_build's codes. */
CUTOFF_EXPORT int cutoff_db_load_tree(cutoff_db *db, cutoff_tree **out, cutoff_diag *diag);
/* Builds a snapshot of the action versions in force (approved, not lifted,
 * not superseded: active or expired) on tree (or on a freshly loaded tree
 * when tree is NULL). `now` is the earliest time the snapshot will be asked
 * about: it decides exactly at every t >= now, and a version that cannot
 * deny anything at or after now (every phase from the one in force at now
 * on is "off") is left out, so that ended actions do not slow decisions.
 * To decide a past time, build with now at or before it. Also marks
 * active versions whose last phase ("off") has begun by both now and the
 * wall clock as expired (unless the handle is read-only); expired is a
 * state for people, not a removal. Returns 0, the codes of cutoff_db_load_tree
 * (tree NULL) and of cutoff_snapshot_build (CUTOFF_ENOTFOUND when a scope
 * node is not in the given tree), or a database error. */
CUTOFF_EXPORT int cutoff_db_snapshot(cutoff_db *db, cutoff_tree *tree, int64_t now,
                                     cutoff_snapshot **out, cutoff_diag *diag);

/* A snapshot of the system as it stood at `as_of`, for disputes: the
 * action versions in force then (approved at or before as_of, and neither
 * lifted nor superseded by then: a version superseded at S, when the next
 * version was approved, was in force before S; a withdrawn draft never
 * was), with their relative phases counting from their own activation,
 * compiled on today's nodes (there is no node history) under the catalog
 * in force then (the one most recently loaded at or before as_of). Decide
 * on it at t = as_of. Nothing is written. Returns 0, CUTOFF_EINVAL (db or
 * out NULL), CUTOFF_ENOTFOUND (no catalog had been loaded by as_of),
 * CUTOFF_ESTATE (today's tree does not build on the catalog of then, e.g.
 * a node names a plan it lacks; diag says which), the codes of
 * cutoff_snapshot_build, or a database error. */
CUTOFF_EXPORT int cutoff_db_snapshot_as_of(cutoff_db *db, int64_t as_of, cutoff_snapshot **out,
                                           cutoff_diag *diag);

/* Cases. Ids are assigned ("CASE-1", ...) unless given. Returns 0,
 * CUTOFF_EINVAL (a bad id, scope id or title, a scope node named twice),
 * CUTOFF_ELIMIT (a title too long), CUTOFF_ENOTFOUND (a scope node not in
 * the tree), CUTOFF_EEXIST (the given id is taken), or a database error. */
CUTOFF_EXPORT int cutoff_db_case_open(cutoff_db *db, const char *actor, const char *id,
                                      const char *title, const char *const *scope, size_t n_scope,
                                      char id_out[CUTOFF_ID_MAX + 1], cutoff_diag *diag);
/* The largest evidence file (bytes): evidence is business records, and a
 * bound keeps a sparse or growing file from hashing for hours. */
#define CUTOFF_EVIDENCE_MAX (1ull << 30)

/* Records evidence from a file: SHA-256, size, media type, note, actor, and
 * the file's name (`name`, or the base name of path when NULL: an upload
 * spooled to a temporary file keeps the uploader's name). The file's content
 * is stored only when keep_content is 1. The file must be a regular file
 * (a symbolic link to one will do): a directory, FIFO, socket or device is
 * refused without reading it. Returns 0, CUTOFF_EINVAL (no case or path, a
 * bad media type, name or note, a path that is not a regular file),
 * CUTOFF_ELIMIT (a note too long, a file over CUTOFF_EVIDENCE_MAX, or
 * content over 64 MiB to keep), CUTOFF_EIO (the file cannot be read),
 * CUTOFF_ENOTFOUND (no such case), CUTOFF_ESTATE (the case is closed), or a
 * database error. */
CUTOFF_EXPORT int cutoff_db_case_add_evidence(cutoff_db *db, const char *actor, const char *case_id,
                                              const char *path, const char *name,
                                              const char *media_type, const char *note,
                                              int keep_content, char sha256_hex_out[65],
                                              cutoff_diag *diag);
/* Sets (replaces) a case's findings. Returns 0, CUTOFF_EINVAL (no case id;
 * empty findings or not UTF-8), CUTOFF_ELIMIT (too long), CUTOFF_ENOTFOUND,
 * CUTOFF_ESTATE (the case is closed), or a database error. */
CUTOFF_EXPORT int cutoff_db_case_set_findings(cutoff_db *db, const char *actor, const char *case_id,
                                              const char *findings, cutoff_diag *diag);
/* Closes a case. Returns 0, CUTOFF_EINVAL (no case id), CUTOFF_ENOTFOUND,
 * CUTOFF_ESTATE (already closed), or a database error. */
CUTOFF_EXPORT int cutoff_db_case_close(cutoff_db *db, const char *actor, const char *case_id,
                                       cutoff_diag *diag);
/* A case with its evidence and actions as JSON (release with cutoff_free).
 * Returns 0, CUTOFF_EINVAL (NULL id), CUTOFF_ENOTFOUND, or a database
 * error. */
CUTOFF_EXPORT int cutoff_db_case_show(cutoff_db *db, const char *case_id, char **json_out);
/* All cases as a JSON array (release with cutoff_free). Returns 0 or a
 * database error. */
CUTOFF_EXPORT int cutoff_db_case_list(cutoff_db *db, char **json_out);

/* Proposes an action (a new draft, or a new draft version of an existing
 * id; the active version keeps biting until the new one is approved).
 * Checks the case exists and is open, scope nodes exist, and every deny and
 * except pattern matches something in the catalog. Returns 0, the codes of
 * cutoff_action_parse (CUTOFF_EINVAL also for NULL json), CUTOFF_EINVAL (a
 * pattern that matches nothing, a new version in another case),
 * CUTOFF_ENOTFOUND (no such case or scope node, no catalog), CUTOFF_ESTATE
 * (the case is closed), or a database error. */
CUTOFF_EXPORT int cutoff_db_action_propose(cutoff_db *db, const char *actor, const char *json,
                                           size_t len, char id_out[CUTOFF_ID_MAX + 1],
                                           int *version_out, cutoff_diag *diag);
/* Approves the latest draft version: CUTOFF_EPERM when actor proposed it.
 * It becomes active with activated_at = now; the version in force before
 * it (active or expired) becomes superseded. The checks of cutoff_db_action_propose are made
 * again. Returns 0, CUTOFF_EPERM, CUTOFF_EINVAL (no id; a check),
 * CUTOFF_ENOTFOUND (no such action; a check), CUTOFF_ESTATE (the latest
 * version is not a draft, or its case is closed), or a database error. */
CUTOFF_EXPORT int cutoff_db_action_approve(cutoff_db *db, const char *actor, const char *id,
                                           int64_t now, cutoff_diag *diag);
/* Lifts the version in force, active or expired, so that it decides at no
 * time any more (or, when none is, withdraws the latest draft). Returns 0,
 * CUTOFF_EINVAL (no id, a reason that is not UTF-8), CUTOFF_ELIMIT (a
 * reason too long), CUTOFF_ENOTFOUND, CUTOFF_ESTATE (nothing active or
 * draft to lift), or a database error. */
CUTOFF_EXPORT int cutoff_db_action_lift(cutoff_db *db, const char *actor, const char *id,
                                        int64_t now, const char *reason, cutoff_diag *diag);
/* The latest version of an action (caller frees with cutoff_action_free);
 * version 0 means latest. Returns 0, CUTOFF_EINVAL (NULL id or out, a
 * negative version), CUTOFF_ENOTFOUND (no such action or version), or a
 * database error. */
CUTOFF_EXPORT int cutoff_db_action_get(cutoff_db *db, const char *id, int version,
                                       cutoff_action_spec **out);
/* An action with every version, proposer, approver, lift as JSON (release with cutoff_free).
 * Returns 0, CUTOFF_EINVAL (NULL id), CUTOFF_ENOTFOUND, or a database error. */
CUTOFF_EXPORT int cutoff_db_action_show(cutoff_db *db, const char *id, char **json_out);
/* The blast radius of the latest version of an action as JSON: a draft is
 * compared with the current state as if approved at `now`; an active
 * version with the state without it. `current` is the snapshot to compare
 * with (NULL: built from the database). The JSON has the phases, per
 * catalog action the subscriptions whose decision changes (targeted and
 * excepted marked), "excepted_unchanged", and the page [offset,
 * offset + limit) of changed subscriptions (release with cutoff_free).
 * Returns 0, CUTOFF_EINVAL (NULL id), CUTOFF_ENOTFOUND (no such action; a
 * scope node not in the tree; no catalog), CUTOFF_ESTATE (the latest
 * version is neither draft nor active), the codes of cutoff_preview_compute,
 * or a database error. */
CUTOFF_EXPORT int cutoff_db_action_preview(cutoff_db *db, const cutoff_snapshot *current,
                                           const char *id, int64_t now, size_t offset, size_t limit,
                                           char **json_out, cutoff_diag *diag);
/* All actions (latest version of each) as a JSON array (release with cutoff_free).
 * Returns 0 or a database error. */
CUTOFF_EXPORT int cutoff_db_action_list(cutoff_db *db, char **json_out);

/* Notices (see "Notices to the customer" above). cutoff_db_action_approve
 * issues a notice version ("activated", or "new_version" when the action
 * had one before), cutoff_db_action_lift of an active version one
 * ("lifted"), and cutoff_db_case_close one for every action of the case
 * that has notices ("case_closed"), each in the transaction of the change,
 * right after its audit record, which the notice names. A withdrawn draft
 * issues none. With a key on the handle (cutoff_db_set_key) a notice is
 * signed as it is issued, else stored unsigned. */

/* Notice version `version` of an action (0: the latest) as the signed
 * document, indented (release with cutoff_free). Returns 0, CUTOFF_EINVAL
 * (an id that is not an id, out NULL), CUTOFF_ENOTFOUND (no notice of that
 * action or version), or a database error. */
CUTOFF_EXPORT int cutoff_db_notice_get(cutoff_db *db, const char *action_id, uint64_t version,
                                       char **json_out);
/* The latest notice of every action whose scope names the subscription or
 * one of its ancestors in the current tree, whatever the action's state
 * now, as a JSON array of signed documents in order of action id (release
 * with cutoff_free). Returns 0, CUTOFF_EINVAL (not an id, out NULL),
 * CUTOFF_ENOTFOUND (no such subscription), or a database error. */
CUTOFF_EXPORT int cutoff_db_notice_list(cutoff_db *db, const char *subscription, char **json_out);
/* Signs every unsigned notice with the handle's key, in one transaction
 * with one audit record ("notice.sign", actor "cutoff", when there was
 * any); *n_signed (may be NULL) gets how many. Returns 0, CUTOFF_EINVAL
 * (the handle has no key), or a database error. */
CUTOFF_EXPORT int cutoff_db_notices_sign(cutoff_db *db, size_t *n_signed, cutoff_diag *diag);

/* Audit log. Every record: seq, time, actor, verb, object, payload (JSON),
 * prev hash and hash = SHA-256 over the previous hash and the record. */
typedef struct cutoff_audit_report {
    uint64_t records;   /* records that verified */
    uint64_t first_bad; /* seq of the first record that does not verify, 0 if all do */
    char head_hex[65];  /* hash of the last good record ("" for an empty log) */
    char problem[256];  /* what is wrong with first_bad */
} cutoff_audit_report;

/* Walks the chain. Returns 0 when it verifies, CUTOFF_ETAMPER when not
 * (report says where and why), or a database error (report->problem says
 * what could not be read). */
CUTOFF_EXPORT int cutoff_db_audit_verify(cutoff_db *db, cutoff_audit_report *report);
/* Records with seq > after_seq, at most limit (0: all), as a JSON array
 * (release with cutoff_free). Returns 0 or a database error. */
CUTOFF_EXPORT int cutoff_db_audit_list(cutoff_db *db, uint64_t after_seq, size_t limit,
                                       char **json_out);
#define CUTOFF_AUDIT_OBJECT_MAX 512
/* Appends a record of the caller's own (e.g. a daemon's admin call): verb
 * an id, object 1-CUTOFF_AUDIT_OBJECT_MAX bytes of free text (no control
 * or hidden characters), payload any JSON text (NULL: {}).
 * The verb "key.rotate" is the library's own (cutoff_db_key_rotate).
 * Returns 0, CUTOFF_EINVAL (a bad actor, verb or object), CUTOFF_EPARSE
 * (payload is not JSON), or a database error. */
CUTOFF_EXPORT int cutoff_db_audit_append(cutoff_db *db, const char *actor, const char *verb,
                                         const char *object, const char *payload_json);

/* ---------------------------------------------------------------------
 * Signed audit heads (docs/audit.md).
 *
 * A head is a statement by the holder of a signing key about the log:
 * record `seq` is the newest and has hash `hash`, at `time`, signed by
 * `key`, who promises a new head at least every `interval_s` seconds (0:
 * only on changes); `n` numbers the heads 1, 2, 3, ... so that removing
 * one shows. The statement is canonical JSON (keys sorted, no blanks):
 *
 *   {"hash":"<64 hex>","interval_s":I,"key":"ed25519:...","n":N,
 *    "seq":S,"time":"RFC 3339","type":"cutoff-audit-head"}
 *
 * and the signature covers exactly its bytes. A key rotation is an audit
 * record (verb "key.rotate", object "signing-key") whose payload is
 * {"statement": {"type":"cutoff-key-rotation","old":...,"new":...,
 * "time":...} as canonical text, "signature": by the old key}; heads
 * naming that record or a later one are signed by the new key. Whoever
 * holds only a public key can so check the whole log without trusting
 * the database it is in.
 * --------------------------------------------------------------------- */

/* How far (seconds) a head may be late beyond twice its promised interval
 * before verification says heads were removed or the signer stopped. */
#define CUTOFF_HEAD_SLACK_S 60
/* cutoff_db_head_sign: sign only when the newest record is not the one the
 * newest head names (or there is no head yet). */
#define CUTOFF_HEAD_IF_UNSIGNED 1

/* The interval (seconds, >= 0) the heads this handle signs with its key
 * (cutoff_db_set_key) promise; 0, the default, promises nothing. */
CUTOFF_EXPORT void cutoff_db_set_sign_interval(cutoff_db *db, int64_t interval_s);
/* Signs the current head of the log with key at `now` (a time before the
 * newest head's is raised to it, so head times never go back) promising
 * interval_s, in a transaction of its own: for a signer's interval, and
 * after changes made by programs that hold no key. With
 * CUTOFF_HEAD_IF_UNSIGNED nothing is written when the newest head already
 * names the newest record. Returns 0, CUTOFF_EINVAL (no db or key, a
 * negative interval, unknown flags), CUTOFF_EPERM (the newest head is
 * signed by another key), or a database error. */
CUTOFF_EXPORT int cutoff_db_head_sign(cutoff_db *db, const cutoff_key *key, int64_t now,
                                      int64_t interval_s, int flags);
/* The newest signed head as a document to publish (release with
 * cutoff_free): {"statement": "<the statement text>", "signature":
 * "<base64>"}, compact, one line. Returns 0, CUTOFF_EINVAL, CUTOFF_ENOTFOUND
 * (no head signed yet), or a database error. */
CUTOFF_EXPORT int cutoff_db_audit_head(cutoff_db *db, char **json_out);
/* Rotates the signing key, as one audited change: appends the rotation
 * record (statement signed by old_key) under actor and signs the head of
 * that transaction with new_key. Refused with CUTOFF_EPERM when the newest
 * head is signed by a key other than old_key, and with CUTOFF_EINVAL when
 * the keys are the same. Returns 0, CUTOFF_EINVAL (also a bad actor),
 * CUTOFF_EPERM, or a database error. */
CUTOFF_EXPORT int cutoff_db_key_rotate(cutoff_db *db, const char *actor, const cutoff_key *old_key,
                                       const cutoff_key *new_key, int64_t now, cutoff_diag *diag);

/* What cutoff_db_audit_verify_signed found. */
typedef struct cutoff_audit_signed_report {
    cutoff_audit_report chain;        /* the chain walk (first_bad: a record that fails it) */
    uint64_t heads;                   /* signed heads that verified */
    uint64_t bad_head;                /* n of the first head that does not hold, 0 if none */
    uint64_t bad_record;              /* seq of the first bad record, 0 if none is named */
    uint64_t signed_seq;              /* the record the newest good head names */
    uint64_t unsigned_records;        /* records after it: not signed yet (not a failure) */
    uint64_t rotations;               /* key rotations followed */
    int64_t head_time;                /* time of the newest good head (0: none) */
    int64_t interval_s;               /* the interval it promises */
    char key[CUTOFF_PUBKEY_TEXT_MAX]; /* the key in force at the end of the log */
    char problem[512];                /* what is wrong, naming the record or head */
} cutoff_audit_signed_report;

/* Verifies the log against a public key: the chain as cutoff_db_audit_verify,
 * and every signed head: signed by the key in force at its record (first
 * public_key, then each rotation the key in force signed), numbered
 * without gaps, seq and time never going back, naming a record that
 * exists and has that hash. Fails when there is no head at all, when a
 * head names a record beyond the log (records were removed), when the
 * newest head is older than twice its promised interval plus
 * CUTOFF_HEAD_SLACK_S at `now` (heads were removed, or the signer
 * stopped), and, given published_head (a document of
 * cutoff_db_audit_head), when it does not verify, its record is missing or
 * has another hash, the stored head of its number differs, or the newest
 * stored head is older than it. Records after the newest head are counted
 * in unsigned_records. Returns 0 when everything holds, CUTOFF_ETAMPER
 * (report->problem says what and where), CUTOFF_EPARSE (public_key or
 * published_head malformed; problem says which), CUTOFF_EINVAL (NULL db,
 * key or report), or a database error. */
CUTOFF_EXPORT int cutoff_db_audit_verify_signed(cutoff_db *db, const char *public_key,
                                                const char *published_head, int64_t now,
                                                cutoff_audit_signed_report *report);

/* ---------------------------------------------------------------------
 * Copying a whole database (cutoff db copy), between locations of any
 * backend: every table row for row, the audit log with its hash chain
 * and the signed heads exactly as they are, so that the copy verifies
 * and decides as the source does.
 * --------------------------------------------------------------------- */

/* Told every CUTOFF_COPY_PROGRESS_ROWS rows of a table and once when the
 * table is done (done != 0), with the rows copied of it so far. Tables in
 * the order they are copied: "catalogs", "nodes", "cases", "evidence",
 * "actions", "notices", "audit", "heads", "changes". */
typedef void (*cutoff_db_copy_progress_fn)(void *ctx, const char *table, uint64_t rows, int done);
#define CUTOFF_COPY_PROGRESS_ROWS 65536

typedef struct cutoff_db_copy_options {
    /* When set ("ed25519:..."), the signed heads of the copy must verify
     * with it (cutoff_db_audit_verify_signed at `now`, 0: the wall clock)
     * before the copy commits. */
    const char *public_key;
    int64_t now;
    cutoff_db_copy_progress_fn progress; /* NULL: none */
    void *progress_ctx;
} cutoff_db_copy_options;

/* The rows of each table, as read from the source and read back from the
 * copy (they must agree, or nothing is committed). */
typedef struct cutoff_db_copy_report {
    uint64_t catalogs; /* the catalog history; the last one is the current catalog */
    uint64_t nodes;
    uint64_t cases;
    uint64_t evidence;
    uint64_t evidence_content; /* of them, with the content kept */
    uint64_t actions;          /* action versions */
    uint64_t notices;          /* notice versions */
    uint64_t audit;            /* audit records; the chain of the copy verifies */
    uint64_t heads;            /* signed heads */
    uint64_t changes;          /* change-log rows, with their sequence numbers */
    char audit_head[65];       /* hash of the newest audit record ("" for an empty log) */
    /* With a public key: what the verification of the copy's signed heads
     * found (problem says why when it failed). */
    cutoff_audit_signed_report heads_report;
} cutoff_db_copy_report;

/* Copies the database at `from` into `to`. The source is opened read-only
 * and read in one read transaction, so the copy is one consistent state of
 * it while writers go on; before anything is written its audit chain must
 * verify. The destination must be empty (missing, or without any of
 * cutoff's schema); its schema and every row are written in one write
 * transaction, and checked before it commits: the chain verifies, the rows
 * of every table read back as many as were read, the current catalog and
 * the newest audit record are the source's, and (given a public key) the
 * signed heads verify. On any failure nothing is committed: an interrupted
 * copy (even a killed process) leaves the destination empty. The change
 * log is copied row for row, so a reader's sequence number means the same
 * state in both. Returns 0, CUTOFF_EINVAL (a missing location, or `from`
 * and `to` are the same database), CUTOFF_ENOTINIT (the source is missing
 * or empty), CUTOFF_ESTATE (the source has an older schema: open it once
 * with a program that may write it, 'cutoff init', to migrate it; or the
 * destination is not empty), CUTOFF_EVERSION (the source is newer than
 * this library), CUTOFF_ETAMPER (the source's chain, or the copy's signed
 * heads, do not verify), CUTOFF_EPARSE (a malformed public key), or a
 * database error; diag says which, and calls the locations "the source"
 * and "the destination" (the caller knows how to show them). */
CUTOFF_EXPORT int cutoff_db_copy(const char *from, const char *to,
                                 const cutoff_db_copy_options *options,
                                 cutoff_db_copy_report *report, cutoff_diag *diag);

/* ---------------------------------------------------------------------
 * Change sequence: what changed since a reader last looked.
 *
 * Every committed change appends one entry to the database's change log,
 * in the same transaction as the change and its audit record: a sequence
 * number (1, 2, 3, ... in commit order) and the kind of state it changed.
 * A reader that keeps a compiled tree and snapshot (a daemon) remembers
 * the sequence it has applied and asks what came after it, instead of
 * reading the audit log: the kinds are set by the code that makes each
 * change, not derived from the wording of audit records.
 *
 *   TREE     cutoff_db_catalog_load; cutoff_db_nodes_import when it
 *            inserts or changes a node (an import that changes nothing
 *            appends its audit record but no change)
 *   ACTIONS  cutoff_db_action_propose, _approve, _lift, and the expiry
 *            that cutoff_db_snapshot records (one change per action)
 *   CASES    cutoff_db_case_open, _add_evidence, _set_findings, _close
 *   SHADOW   cutoff_db_shadow_start, _stop (a draft's shadow run: what
 *            decision nodes evaluate next to their decisions; no
 *            decision changes)
 *
 * Records of the caller's own (cutoff_db_audit_append) change no state and
 * are not in the change log.
 * --------------------------------------------------------------------- */
#define CUTOFF_CHANGE_TREE 1u    /* nodes or catalog: rebuild the tree and the actions */
#define CUTOFF_CHANGE_ACTIONS 2u /* action versions or states: recompile only the actions */
#define CUTOFF_CHANGE_CASES 4u   /* cases and evidence: no decision changes */
#define CUTOFF_CHANGE_SHADOW 8u  /* shadow runs started or stopped: no decision changes */
#define CUTOFF_CHANGE_ALL 15u

typedef struct cutoff_changes {
    uint64_t head;  /* the newest sequence number in the database (0: none yet) */
    unsigned kinds; /* union of the CUTOFF_CHANGE_* kinds of the changes after `after` */
} cutoff_changes;

/* What changed after sequence `after` (0: since the database was created):
 * fills out->head and out->kinds from one consistent read of the change
 * log. kinds is 0 when nothing changed (head == after). When head < after
 * the database is not the one the caller has been following (replaced, or
 * restored from a backup): kinds is CUTOFF_CHANGE_ALL, and the caller
 * should rebuild everything and continue from head.
 * Cost: a few index lookups, independent of the size of the log; cheap
 * enough to poll. A database migrated from schema version 1 starts with an
 * empty log (head 0).
 * Returns 0, CUTOFF_EINVAL (db or out NULL), or a store failure
 * (CUTOFF_ESTORE, CUTOFF_EIO, CUTOFF_ENOMEM); out is untouched on failure.
 * Thread notes: like every cutoff_db_* call, on a handle used by one thread
 * at a time; other handles and processes may write meanwhile (the result
 * is then a state at least as new as the one before the call). */
CUTOFF_EXPORT int cutoff_db_changes(cutoff_db *db, uint64_t after, cutoff_changes *out);

/* Waits up to timeout_ms (0: just looks) for a sign that another handle or
 * process committed something to the database: on SQLite, a write to the
 * database file or its -wal seen through inotify (without inotify, a
 * short sleep that reports a possible change); on PostgreSQL, a NOTIFY
 * that every change sends at commit, received on a connection of its own.
 * A sign is a hint, never the change itself: follow with
 * cutoff_db_changes. The first call on a handle starts watching and
 * returns 1 at once (as after a lost connection); after that, signs that
 * come while the caller was busy between two calls are not lost (the next
 * call returns at once). On SQLite writes that are not changes (receipts,
 * signed heads, this handle's own) wake it too; on PostgreSQL only changes
 * do. With CUTOFF_NO_WAKEUP in the environment no sign is ever reported
 * (it sleeps timeout_ms and returns 0): what lost wake-ups look like, for
 * tests of the caller's slow re-read.
 * Returns 1 (woken), 0 (timed out), CUTOFF_EUNAVAIL (the store cannot be
 * reached: the database file is no longer the one opened, or the server
 * is gone; open the location again), CUTOFF_EINVAL (NULL db) or
 * CUTOFF_EIO. */
CUTOFF_EXPORT int cutoff_db_wait_change(cutoff_db *db, int timeout_ms);

/* ---------------------------------------------------------------------
 * Receipts: what each decision node (cutoffd) sharing the database
 * reports that it enforces. One per node, replaced by each report.
 * Writing one is not a change (the change sequence does not move, so
 * nodes do not wake each other into reporting again) and is not audited.
 * --------------------------------------------------------------------- */
#define CUTOFF_NODE_ID_MAX 128 /* bytes of a node id */

typedef struct cutoff_receipt {
    const char *node;     /* the node's id: printable ASCII, 1-128 bytes */
    uint64_t seq;         /* the change sequence its published snapshot stands for */
    int64_t applied_at;   /* when it began enforcing seq (Unix seconds) */
    const char *digest;   /* cutoff_snapshot_digest of that snapshot ("" if none) */
    int64_t heartbeat_at; /* when it last reported */
    const char *status;   /* "ok", "degraded" or "stopped" */
} cutoff_receipt;

/* Inserts or replaces the receipt of r->node, in a short write transaction
 * of its own. Returns 0, CUTOFF_EINVAL (NULL, a node id that is empty,
 * longer than CUTOFF_NODE_ID_MAX or not printable ASCII, a digest that is
 * not at most 64 hex digits, a status not listed above, a time < 0), or a
 * database error (CUTOFF_EUNAVAIL among them). */
CUTOFF_EXPORT int cutoff_db_receipt_put(cutoff_db *db, const cutoff_receipt *r);
/* Every receipt, ascending by node id, into *out (n of them; NULL when
 * none), released with cutoff_receipts_free. Returns 0, CUTOFF_EINVAL or
 * a database error; *out is untouched on failure. */
CUTOFF_EXPORT int cutoff_db_receipts(cutoff_db *db, cutoff_receipt **out, size_t *n);
CUTOFF_EXPORT void cutoff_receipts_free(cutoff_receipt *r, size_t n);

/* ---------------------------------------------------------------------
 * Shadow mode: a proposed action evaluated on live traffic by every
 * decision node, deciding nothing (docs/design.md, "Shadow mode").
 *
 * A shadow run is of one draft version: started and stopped by one person
 * (nothing is enforced, so no second person is needed), each audited and
 * a CUTOFF_CHANGE_SHADOW change. A node evaluates the runs in force (not
 * stopped, their version still the latest draft of its action) as if each
 * draft had been approved when its run started, against every request its
 * live snapshot allowed, and counts the ones the draft would deny: per
 * subscription, per catalog action and phase, and a sample of the latest,
 * within fixed bounds. Each node writes its counts to the store from time
 * to time; the report sums every node's and sets them next to the static
 * preview.
 * --------------------------------------------------------------------- */

/* Starts a shadow run of the latest version of action `id`, which must be
 * a draft (a first proposal, or a new version of an action in force) of
 * an open case; `now` is its assumed activation. Answers the run as JSON
 * {"action", "version", "run", "state", "started_by", "started_at", ...}
 * (release with cutoff_free; json_out may be NULL). Returns 0,
 * CUTOFF_EINVAL (no id, a bad actor), CUTOFF_ENOTFOUND (no such action),
 * CUTOFF_ESTATE (the latest version is not a draft, or its case is
 * closed), CUTOFF_EEXIST (that version already runs in shadow), or a
 * database error; diag says which. */
CUTOFF_EXPORT int cutoff_db_shadow_start(cutoff_db *db, const char *actor, const char *id,
                                         int64_t now, char **json_out, cutoff_diag *diag);
/* Stops the shadow run of action `id` that has not been stopped (also one
 * that ended because its version stopped being a draft). Answers the run
 * as JSON like start. Returns 0, CUTOFF_EINVAL, CUTOFF_ENOTFOUND (no such
 * action), CUTOFF_ESTATE (no run to stop), or a database error. */
CUTOFF_EXPORT int cutoff_db_shadow_stop(cutoff_db *db, const char *actor, const char *id,
                                        int64_t now, char **json_out, cutoff_diag *diag);

/* One shadow run in force, as a decision node evaluates it. */
typedef struct cutoff_shadow_run {
    uint64_t run;
    /* The draft version as it would decide if approved when the run
     * started: state CUTOFF_STATE_ACTIVE, activated_at = started_at. */
    cutoff_action_spec *action;
    int64_t started_at;
    /* What the asking node last wrote for this run (cutoff_db_shadow_
     * running's `node`), so a restarted node goes on from there; NULL when
     * nothing. */
    char *counts;
} cutoff_shadow_run;

/* The shadow runs in force, ascending by run, with what `node` (NULL: no
 * one) last wrote for each, into *out (n of them; NULL when none), released
 * with cutoff_shadow_runs_free. Returns 0, CUTOFF_EINVAL or a database
 * error; *out is untouched on failure. */
CUTOFF_EXPORT int cutoff_db_shadow_running(cutoff_db *db, const char *node, cutoff_shadow_run **out,
                                           size_t *n);
CUTOFF_EXPORT void cutoff_shadow_runs_free(cutoff_shadow_run *r, size_t n);

/* What a node counts of one run, at most (0: the default in brackets).
 * Past a bound it still counts, in an overflow total: the report says how
 * many requests were not itemised. */
typedef struct cutoff_shadow_limits {
    size_t subscriptions;    /* distinct subscriptions itemised [4096] */
    size_t lines;            /* distinct (catalog action, phase) itemised [1024] */
    size_t per_subscription; /* distinct (action, phase) itemised per subscription [16] */
    size_t sample;           /* the latest would-be denials kept [100] */
} cutoff_shadow_limits;

/* The runs a node evaluates next to one live snapshot: a snapshot per run
 * with its draft added (or in place of the version of its id in force),
 * and each run's counts. */
typedef struct cutoff_shadow cutoff_shadow;

/* Builds the shadow set for `live` and runs[n]. A run that is also in
 * `previous` (by number) keeps counting in the same counts, which the new
 * set shares; a run that is not starts from its `counts` (or zero); the
 * runs of previous that the new set does not take over are marked ended.
 * A run whose draft does not build on the live snapshot's tree (a scope
 * node removed since) is left out and named in diag, and the call
 * succeeds. Returns 0, CUTOFF_EINVAL (NULL live or out) or CUTOFF_ENOMEM. */
CUTOFF_EXPORT int cutoff_shadow_build(const cutoff_snapshot *live, const cutoff_shadow_run *runs,
                                      size_t n, const cutoff_shadow_limits *limits,
                                      const cutoff_shadow *previous, cutoff_shadow **out,
                                      cutoff_diag *diag);
/* Releases the set; counts it shares with a newer set stay with that one.
 * NULL is a no-op. Call when no thread observes through it any more. */
CUTOFF_EXPORT void cutoff_shadow_free(cutoff_shadow *s);
/* The number of runs in the set. */
CUTOFF_EXPORT size_t cutoff_shadow_count(const cutoff_shadow *s);
/* After a live decision `live` of request r: for every run, when the live
 * decision allowed and the run's draft would deny, counts it (its
 * subscription, catalog action, phase, time, region and request_id: never
 * anything else of the request). Never changes the decision. Any number
 * of threads at once; allocation-free when nothing would be denied, and
 * then one check for the whole set. */
CUTOFF_EXPORT void cutoff_shadow_observe(const cutoff_shadow *s, const cutoff_request *r,
                                         const cutoff_verdict *live, const char *request_id);
/* The counts of run i of the set as the JSON a node stores
 * ("cutoff-shadow-counts-v1"; release with cutoff_free). Returns 0,
 * CUTOFF_EINVAL (i out of range) or CUTOFF_ENOMEM. */
CUTOFF_EXPORT int cutoff_shadow_counts_json(const cutoff_shadow *s, size_t i, uint64_t *run,
                                            char **json_out);
/* Writes node's counts of every run of s that changed since it was last
 * written (all with force), in one short write transaction: not audited
 * and not a change, like a receipt. Returns 0, CUTOFF_EINVAL (NULL, a node
 * id that is not 1-128 printable bytes) or a database error. */
CUTOFF_EXPORT int cutoff_db_shadow_counts_put(cutoff_db *db, const char *node,
                                              const cutoff_shadow *s, int64_t now, int force);
/* The report of the latest shadow run of action `id` as JSON: the run and
 * its state, every node's counts summed, and next to them the static
 * preview of the same version with the run's start as activation,
 * against `current` (NULL: built from the database): subscriptions it
 * says would change that sent no would-be denied request, and would-be
 * denials it did not foresee, with why. Release with cutoff_free.
 * Returns 0, CUTOFF_EINVAL, CUTOFF_ENOTFOUND (no such action, or it never
 * ran in shadow), or a database error. */
CUTOFF_EXPORT int cutoff_db_shadow_report(cutoff_db *db, const cutoff_snapshot *current,
                                          const char *id, int64_t now, char **json_out,
                                          cutoff_diag *diag);

#ifdef __cplusplus
}
#endif
#endif /* CUTOFF_H */
