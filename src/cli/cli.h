/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h - what the files of the operator CLI share: the invocation context
 * (database path, actor, output format), the option parser every verb uses,
 * the error and usage reporting that gives the exit status contract
 * (0 success, 1 failure, 2 usage error, always one line on stderr), and the
 * output helpers that turn the library's JSON texts into aligned tables.
 * The CLI reaches the library only through include/cutoff.h.
 */
#ifndef CUTOFF_CLI_H
#define CUTOFF_CLI_H

#include "cutoff.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The release (cutoff.h), for the User-Agent of --server requests. */
#define CLI_VERSION CUTOFF_VERSION

/* Exit statuses, and two internal values: help was printed, stop with 0;
 * a failure was already reported, stop with 1 (see backend.h). */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_DONE = -1, CLI_REPORTED = 100 };
/* --wait-enforced timed out: the change is committed, some live node does
 * not enforce it yet. */
enum { CLI_NOT_ENFORCED = 3 };

/* One invocation. The options as given (NULL when absent) are resolved
 * with the environment by cli_resolve into the mode and its settings.
 * `verb` and `sub` name the command for messages and help ("case",
 * "open"). */
typedef struct cli {
    const char *db_opt;         /* --db */
    const char *actor_opt;      /* --actor */
    const char *server_opt;     /* --server */
    const char *token_file_opt; /* --token-file */
    const char *key_opt;        /* --key */
    bool json;
    /* The command only reads: a local database is opened read-only (set
     * by the verb before it opens the backend). */
    bool read_only;
    const char *verb;
    const char *sub;

    /* Set by cli_resolve. */
    bool resolved;
    const char *server;   /* base URL of cutoffd: server mode; NULL: local */
    const char *db_path;  /* local mode: the database */
    char db_shown[512];   /* db_path as messages show it: without a password */
    const char *actor;    /* local mode: who makes changes (NULL if unknown) */
    const char *key_path; /* local mode: the signing key file (NULL: none) */
    cutoff_key *key;      /* loaded by cli_open_db for a command that writes */
    bool signs_notices;   /* the verb signs unsigned notices itself (notice sign) */
} cli;

/* Decides the mode: --server URL, else (unless --db is given) $CUTOFF_SERVER,
 * selects the server; otherwise the local database (--db, $CUTOFF_DB,
 * ./cutoff.db) with the actor from --actor, $CUTOFF_ACTOR or the login
 * name, and the signing key from --key or $CUTOFF_KEY_FILE. Usage errors:
 * --db with --server, --actor or --key with a server (the server records
 * changes under the token's principal and signs with its own key),
 * --token-file without one. Idempotent. */
int cli_resolve(cli *c);

/* The field of the global option `--NAME` (name_len bytes of name), or
 * NULL when NAME is not one; --json is a flag and handled apart. */
const char **cli_global_option(cli *c, const char *name, size_t name_len);

/* ---- options -------------------------------------------------------------
 * An option a verb accepts: "--name VALUE" / "--name=VALUE" when value is
 * set, a flag when flag is set. A table ends with a zero entry. The global
 * options (--db, --actor, --server, --token-file, --json, --help) are
 * accepted by every verb. */
typedef struct cli_opt {
    const char *name;
    const char **value;
    bool *flag;
} cli_opt;

/* Stores the value of option --NAME (name_len bytes of name) in *field, or
 * sets a flag. Every option is single-valued: one given twice is a usage
 * error naming it (taking either silently would hide a mistake), and so is
 * an empty value. Returns CLI_OK or CLI_USAGE after printing why. */
int cli_option_set(const cli *c, const char *name, size_t name_len, const char **field,
                   const char *value);
int cli_flag_set(const cli *c, const char *name, size_t name_len, bool *flag);

/* Parses args (the words after the verb) into the option table and up to
 * max_pos positional arguments, which options may precede or follow ("--"
 * ends options; "-" is positional). Options are set with cli_option_set
 * and cli_flag_set, as those given before the verb are. Returns CLI_OK
 * with *n_pos set, CLI_DONE after printing help, or CLI_USAGE after
 * printing why. */
int cli_parse(cli *c, int argc, char **argv, const cli_opt *opts, char **pos, int max_pos,
              int *n_pos);

/* Finds the subcommand word of a verb group ("case open"): applies the
 * global options before it and answers --help. Returns CLI_OK with
 * *index set to the word's position, CLI_DONE after help, or CLI_USAGE
 * when there is none (`choices` lists them for the message). */
int cli_subcommand(cli *c, int argc, char **argv, const char *choices, int *index);

/* A verb's subcommands, by name. */
typedef struct cli_sub {
    const char *name;
    int (*run)(cli *c, int argc, char **argv);
} cli_sub;

/* Finds the subcommand word (as cli_subcommand) and runs it with the words
 * after it; an unknown word is a usage error listing `choices`. */
int cli_run_subcommand(cli *c, int argc, char **argv, const cli_sub *subs, size_t n,
                       const char *choices);

/* ---- reporting ----------------------------------------------------------- */
/* "cutoff: VERB: message (see 'cutoff help VERB')" on stderr; returns CLI_USAGE. */
int cli_usage(const cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "cutoff: message" on stderr; returns CLI_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reports a failed library or backend call: the diag message when there is
 * one, else the error's text, after `what` when given and not already named
 * in the message ("cutoff: WHAT: message"). Prints nothing for
 * CLI_REPORTED (the backend has said why). Returns CLI_FAIL. */
int cli_fail(int rc, const cutoff_diag *diag, const char *what);

/* Copies s for a message: printable ASCII as it is, every other byte as
 * \xNN, cut with "..." to fit n bytes. Returns buf. */
const char *cli_quote(const char *s, char *buf, size_t n);

/* A database location for messages and summaries: a URI's password
 * ("postgresql://user:SECRET@host/db") becomes "***", and the rest is
 * quoted as cli_quote does. Every location the CLI prints goes through
 * this one helper. Returns buf. */
const char *cli_location_shown(const char *location, char *buf, size_t n);

/* ---- inputs --------------------------------------------------------------- */
/* Before a change: resolves the mode, and locally checks the actor a
 * change is recorded under (a usage error when there is none or it is not
 * an id, cutoff_id_valid: the grammar of actors and principals). With a
 * server the token's principal is the actor and this only resolves. */
int cli_check_actor(cli *c);
/* Opens the local database (created when create is true; read-only when
 * the command only reads, c->read_only); a usage error in server mode,
 * naming what (`what`, e.g. "init") works only locally. Reports failures. */
int cli_open_db(cli *c, bool create, const char *what, cutoff_db **out);
/* Opens an input file ("-" is standard input) after checking that it is a
 * regular file or a pipe (a device or a directory is refused at once);
 * *st describes it. Reports failures. */
struct stat;
int cli_open_input(const char *path, FILE **out, struct stat *st);
/* Reads a whole file ("-" is standard input) into a NUL-terminated malloc'd
 * buffer: a regular file or a pipe of at most CLI_FILE_MAX bytes (a device
 * or a directory is refused at once). Reports failures. */
#define CLI_FILE_MAX (1u << 30)
int cli_read_file(const char *path, char **data, size_t *len);
/* Parses a time option value (RFC 3339 or Unix seconds); usage error if bad. */
int cli_parse_time(const cli *c, const char *option, const char *text, int64_t *out);
/* Parses a non-negative integer option value; usage error if bad. */
int cli_parse_count(const cli *c, const char *option, const char *text, uint64_t *out);
/* The current time in Unix seconds. */
int64_t cli_now(void);

/* ---- output --------------------------------------------------------------- */
/* Parses a JSON text the library returned; NULL after reporting on failure. */
json_t *cli_json_load(const char *text);
/* Prints a JSON value (indented, key order kept) and a newline to stdout. */
void cli_json_print(const json_t *v);
/* Prints a library JSON text, indented, to stdout. Returns CLI_OK/CLI_FAIL. */
int cli_json_print_text(const char *text);

/* A value as display text (malloc'd): strings as they are, numbers, "yes"
 * and "no", "-" for null or missing, arrays of scalars joined by ", ",
 * integers under time-like keys ("*_at", "time", "since", "until") as
 * RFC 3339. */
char *cli_json_text(const char *key, const json_t *v);

/* An aligned table: add cells row by row, print once. */
typedef struct cli_table {
    size_t n_cols;
    char **cells;
    size_t n_cells, cap;
} cli_table;

void cli_table_init(cli_table *t, size_t n_cols);
void cli_table_add(cli_table *t, const char *text);
void cli_table_addf(cli_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds the display text of obj[key] (see cli_json_text). */
void cli_table_add_json(cli_table *t, const json_t *obj, const char *key);
/* Prints the rows, each after `indent`, columns separated by two spaces;
 * columns listed in right_align (a string of '0'/'1' per column, or NULL)
 * are right-aligned. */
void cli_table_print(const cli_table *t, const char *indent, const char *right_align);
void cli_table_free(cli_table *t);

/* Prints an object as aligned "key  value" lines: the keys in `order`
 * first (NULL-terminated, may be NULL), then the others; arrays of objects
 * become indented tables and nested objects indented blocks. */
void cli_print_object(const json_t *obj, const char *const *order, const char *indent);
/* Prints an array of objects as a table with the given columns (keys) and
 * headings; "(none)" for an empty array. */
void cli_print_list(const json_t *arr, const char *const *keys, const char *const *headings,
                    size_t n_cols, const char *indent);

/* ---- help ----------------------------------------------------------------- */
/* Prints the help of a verb (or of the whole tool when verb is NULL) to
 * stdout. Returns 0, or -1 for an unknown verb. */
int cli_help(const char *verb);

/* ---- verbs ---------------------------------------------------------------- */
/* Each runs the words after its verb and returns an exit status. */
int cli_cmd_init(cli *c, int argc, char **argv);
int cli_cmd_catalog(cli *c, int argc, char **argv);
int cli_cmd_nodes(cli *c, int argc, char **argv);
int cli_cmd_case(cli *c, int argc, char **argv);
int cli_cmd_action(cli *c, int argc, char **argv);
int cli_cmd_check(cli *c, int argc, char **argv);
int cli_cmd_audit(cli *c, int argc, char **argv);
int cli_cmd_key(cli *c, int argc, char **argv);
int cli_cmd_notice(cli *c, int argc, char **argv);
int cli_cmd_db(cli *c, int argc, char **argv);

int cli_cmd_token(cli *c, int argc, char **argv);
int cli_cmd_fleet(cli *c, int argc, char **argv);

/* ---- the fleet (cmd_fleet.c) ------------------------------------------------ */
/* A node whose last receipt is older than this is silent, not live. */
#define CLI_SILENT_AFTER_S 10
typedef struct cli_wait {
    uint64_t timeout_s; /* 0: do not wait */
    uint64_t silent_after_s;
} cli_wait;
/* Reads --wait-enforced and --silent-after (NULL when absent) into *w;
 * before any change, refuses them through a server (a usage error). */
int cli_wait_check(cli *c, const char *wait_opt, const char *silent_opt, cli_wait *w);
/* After a change committed: waits until every live node's receipt
 * enforces the database's change head (progress on stderr). CLI_OK,
 * CLI_NOT_ENFORCED naming the laggards, or CLI_FAIL (no live node, a read
 * failed). `what` names the change in messages. */
int cli_wait_enforced(cli *c, const cli_wait *w, const char *what);

/* check --batch FILE [--bench] (batch.c), after option parsing. */
int cli_check_batch(cli *c, const char *path, bool bench);
/* Splits one line of a batch file (len bytes, NUL-terminated, no newline;
 * a final CR is dropped) into *r in place, its strings pointing into line;
 * *as_of says whether the line ends in the field "as-of". Returns 0, or -1
 * with the reason in why (batch_line.c). */
int cli_batch_line_parse(char *line, size_t len, cutoff_request *r, bool *as_of, char *why,
                         size_t why_size);
/* The earliest time n requests ask about on today's actions (lines with
 * as_of[i] set are decided on the state of their own instant; as_of may be
 * NULL), and at latest now: the time to build their snapshot for, so that
 * actions that ended since still decide them (batch_line.c). */
int64_t cli_batch_earliest(const cutoff_request *reqs, const bool *as_of, size_t n, int64_t now);

#endif
