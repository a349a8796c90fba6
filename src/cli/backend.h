/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backend.h - where the CLI's verbs send their work: a local database
 * (backend_local.c, the cutoff_db_* calls) or a running cutoffd
 * (backend_remote.c, its admin API over HTTP). Both implement one table of
 * operations and answer with the same JSON texts, which the verbs lay out
 * for people or print as they are with --json; so a verb has one copy of
 * its logic, and its output looks the same in both modes.
 *
 * Every operation returns 0, a negative CUTOFF_E* code with `diag` filled
 * (a refusal the verb may word for its object: ENOTFOUND, EPERM, ...), or
 * CLI_REPORTED when it has already printed the reason (a connection
 * failure, an unknown token, a missing role): cli_fail() then only sets
 * the exit status. JSON texts handed out are malloc'd; release with free().
 */
#ifndef CUTOFF_CLI_BACKEND_H
#define CUTOFF_CLI_BACKEND_H

#include "cli/cli.h"

/* A decision request (subscription, action, region or NULL, time); in
 * "check --batch" its strings are borrowed from the file's buffer. */
typedef cutoff_request cli_request;

/* Receives the decisions of a batch in order; by is NULL when no
 * enforcement action decides. Returns CLI_OK to go on. */
typedef int (*cli_decision_fn)(void *ctx, bool allow, const char *reason, const char *by);

/* Reports progress of long work: `done` lines imported (local) or bytes
 * sent (to a server), as `unit` says. */
typedef void (*cli_progress_fn)(void *ctx, uint64_t done, const char *unit);

typedef struct cli_backend cli_backend;

typedef struct cli_backend_ops {
    /* Replaces the catalog; answers the catalog now in force (canonical
     * document, as "catalog show --json" prints it). A catalog that changes
     * decisions under active actions is refused (CUTOFF_ESTATE) unless
     * force; locally *impact then says what changes (cutoff_db_catalog_apply),
     * also when forced; a server says it in the message only. */
    int (*catalog_load)(cli_backend *b, const char *text, size_t len, bool force, char **catalog,
                        char **impact, cutoff_diag *diag);
    int (*catalog_get)(cli_backend *b, char **catalog, cutoff_diag *diag);
    /* Imports node lines from `in` (named `source` in messages); answers
     * {"lines", "inserted", "updated", "unchanged"}. On a bad line diag
     * names it ("SOURCE:LINE: ..." or diag->line). */
    int (*nodes_import)(cli_backend *b, FILE *in, const char *source, cli_progress_fn progress,
                        void *progress_ctx, char **stats, cutoff_diag *diag);
    int (*node_show)(cli_backend *b, const char *id, char **node, cutoff_diag *diag);

    /* Answers {"id"}. */
    int (*case_open)(cli_backend *b, const char *id, const char *title, const char *const *scope,
                     size_t n_scope, char **opened, cutoff_diag *diag);
    /* Answers {"case", "sha256"}. */
    int (*case_evidence)(cli_backend *b, const char *case_id, const char *path,
                         const char *media_type, const char *note, bool keep_content, char **added,
                         cutoff_diag *diag);
    int (*case_findings)(cli_backend *b, const char *case_id, const char *text, cutoff_diag *diag);
    int (*case_close)(cli_backend *b, const char *case_id, cutoff_diag *diag);
    int (*case_show)(cli_backend *b, const char *case_id, char **shown, cutoff_diag *diag);
    int (*case_list)(cli_backend *b, char **list, cutoff_diag *diag);

    /* Answers {"id", "version", "state"}. */
    int (*action_propose)(cli_backend *b, const char *text, size_t len, char **proposed,
                          cutoff_diag *diag);
    /* The preview of the latest version as if approved at `activation`
     * (0: now); a server previews as of now only. */
    int (*action_preview)(cli_backend *b, const char *id, int64_t activation, uint64_t offset,
                          uint64_t limit, char **preview, cutoff_diag *diag);
    /* Approve and lift answer the action afterwards, as action_show does. */
    int (*action_approve)(cli_backend *b, const char *id, char **shown, cutoff_diag *diag);
    int (*action_lift)(cli_backend *b, const char *id, const char *reason, char **shown,
                       cutoff_diag *diag);
    int (*action_show)(cli_backend *b, const char *id, char **shown, cutoff_diag *diag);
    /* A shadow run of the latest draft: verb "start" and "stop" answer the
     * run (cutoff_db_shadow_start), "report" every node's counts next to
     * the preview (cutoff_db_shadow_report). */
    int (*action_shadow)(cli_backend *b, const char *id, const char *verb, char **answer,
                         cutoff_diag *diag);
    int (*action_list)(cli_backend *b, char **list, cutoff_diag *diag);

    /* One decision as "check --json --explain" prints it: decision, reason,
     * the request, the deciding action with its phase window and notice,
     * and "explanation". With as_of, decided as the system stood at r->at
     * (cutoff_db_snapshot_as_of), with "as_of" and "tree": "current" added. */
    int (*check)(cli_backend *b, const cli_request *r, bool as_of, char **decision,
                 cutoff_diag *diag);
    /* Decides every request (already validated) and hands the decisions
     * to emit in order; as_of[i] (as_of NULL: none) asks for request i as
     * the system stood at its time. */
    int (*check_batch)(cli_backend *b, const cli_request *reqs, const bool *as_of, size_t n,
                       cli_decision_fn emit, void *emit_ctx, cutoff_diag *diag);

    /* Records with seq > after, at most limit (0: all), as a JSON array. */
    int (*audit_log)(cli_backend *b, uint64_t after, uint64_t limit, char **records,
                     cutoff_diag *diag);
    /* {"verified", "records", "head"} plus "first_bad" and "problem" when
     * the log does not verify (which is not an error of the call). */
    int (*audit_verify)(cli_backend *b, char **report, cutoff_diag *diag);

    void (*close)(cli_backend *b);
} cli_backend_ops;

struct cli_backend {
    const cli_backend_ops *ops;
    const cli *c;
};

/* Opens the backend the invocation asks for (see cli_resolve): the local
 * database, or the server with the token. Reports failures. */
int cli_backend_open(cli *c, cli_backend **out);

/* A backend call that fetches one JSON text; id is NULL for lists. */
typedef int (*cli_fetch_fn)(cli_backend *b, const char *id, char **out, cutoff_diag *diag);

/* The common part of the show and list verbs: opens the backend, fetches,
 * and with --json prints the text as it is (*doc is then NULL); otherwise
 * hands the parsed document to the caller in *doc to lay out for people.
 * `missing` is the message when the fetch says CUTOFF_ENOTFOUND (a format
 * with one %s for id); `doing` names the work in other failures. */
int cli_fetch(cli *c, cli_fetch_fn fetch, const char *id, const char *missing, const char *doing,
              json_t **doc);
void cli_backend_close(cli_backend *b);

/* The two implementations (backend_local.c, backend_remote.c). */
int cli_local_open(cli *c, cli_backend **out);
int cli_remote_open(cli *c, cli_backend **out);

/* Frees a library JSON text after copying it to a malloc'd string for the
 * caller (NULL in, NULL out). */
char *cli_own_text(char *library_text);

#endif
