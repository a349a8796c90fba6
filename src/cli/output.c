/* SPDX-License-Identifier: Apache-2.0 */
/*
 * output.c - the plumbing every verb of the CLI shares: the option parser,
 * error and usage reporting (one line on stderr, exit 1 or 2), reading
 * input files, opening the database, and turning the JSON texts the
 * library returns into aligned tables and key/value blocks for people.
 */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- allocation --------------------------------------------------------
 * The CLI is a short-lived program: running out of memory ends it with a
 * message and exit 1 rather than threading ENOMEM through every printer. */

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fputs("cutoff: out of memory\n", stderr);
        exit(CLI_FAIL);
    }
    return q;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

/* ---- reporting ----------------------------------------------------------- */

/* Text for the terminal, so that what a hostile argument holds is seen,
 * not obeyed: control bytes (a terminal escape, a line break) always come
 * as \xNN, and so do the bytes `what` names, into buf of n bytes (cut with
 * "..." to fit). The library's messages quote what they were given already
 * (bidi overrides, zero-width characters and C1 controls come as
 * \u{XXXX}), so messages keep their UTF-8. Returns buf. */
#define ESCAPE_NON_ASCII 1u /* every byte past ASCII */
#define ESCAPE_QUOTES 2u    /* '"' and '\\', for text set in quotes */
static const char *escaped(const char *s, unsigned what, char *buf, size_t n)
{
    size_t o = 0;
    for (; n > 0 && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        bool escape = ch < 0x20 || ch == 0x7f || (ch >= 0x80 && (what & ESCAPE_NON_ASCII)) ||
                      ((ch == '"' || ch == '\\') && (what & ESCAPE_QUOTES));
        char piece[8];
        size_t len = escape ? (size_t)snprintf(piece, sizeof piece, "\\x%02x", ch)
                            : (piece[0] = (char)ch, 1);
        if (o + len + 4 > n) {
            if (o + 4 <= n)
                memcpy(buf + o, "...", 3), o += 3;
            break;
        }
        memcpy(buf + o, piece, len);
        o += len;
    }
    if (n > 0)
        buf[o] = '\0';
    return buf;
}

int cli_usage(const cli *c, const char *fmt, ...)
{
    char raw[512], msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* Usage messages are about arguments and options, which are ASCII. */
    escaped(raw, ESCAPE_NON_ASCII, msg, sizeof msg);
    if (c != NULL && c->verb != NULL) {
        if (c->sub != NULL)
            fprintf(stderr, "cutoff: %s %s: %s (see 'cutoff help %s')\n", c->verb, c->sub, msg,
                    c->verb);
        else
            fprintf(stderr, "cutoff: %s: %s (see 'cutoff help %s')\n", c->verb, msg, c->verb);
    } else {
        fprintf(stderr, "cutoff: %s (see 'cutoff --help')\n", msg);
    }
    return CLI_USAGE;
}

const char *cli_quote(const char *s, char *buf, size_t n)
{
    return escaped(s, ESCAPE_NON_ASCII | ESCAPE_QUOTES, buf, n);
}

const char *cli_location_shown(const char *location, char *buf, size_t n)
{
    char hidden[1024];
    cutoff_db_location_shown(location, hidden, sizeof hidden);
    return cli_quote(hidden, buf, n);
}

int cli_error(const char *fmt, ...)
{
    char raw[1024], msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* One line, whatever the message carries. */
    for (char *p = raw; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    escaped(raw, 0, msg, sizeof msg);
    fprintf(stderr, "cutoff: %s\n", msg);
    return CLI_FAIL;
}

int cli_fail(int rc, const cutoff_diag *diag, const char *what)
{
    if (rc == CLI_REPORTED)
        return CLI_FAIL;
    const char *msg = diag != NULL && diag->message[0] ? diag->message : cutoff_strerror(rc);
    /* The library's message often names the object already; say it once. */
    if (what != NULL && what[0] && strstr(msg, what) == NULL)
        return cli_error("%s: %s", what, msg);
    return cli_error("%s", msg);
}

/* ---- options ------------------------------------------------------------- */

const char **cli_global_option(cli *c, const char *name, size_t name_len)
{
    static const struct {
        const char *name;
        size_t offset;
    } globals[] = {{"db", offsetof(cli, db_opt)},
                   {"actor", offsetof(cli, actor_opt)},
                   {"server", offsetof(cli, server_opt)},
                   {"token-file", offsetof(cli, token_file_opt)},
                   {"key", offsetof(cli, key_opt)}};
    for (size_t i = 0; i < sizeof globals / sizeof globals[0]; i++)
        if (strlen(globals[i].name) == name_len && strncmp(globals[i].name, name, name_len) == 0)
            return (const char **)(void *)((char *)c + globals[i].offset);
    return NULL;
}

int cli_option_set(const cli *c, const char *name, size_t name_len, const char **field,
                   const char *value)
{
    if (value[0] == '\0')
        return cli_usage(c, "option --%.*s needs a non-empty value", (int)name_len, name);
    if (*field != NULL)
        return cli_usage(c, "option --%.*s is given more than once; give it once", (int)name_len,
                         name);
    *field = value;
    return CLI_OK;
}

int cli_flag_set(const cli *c, const char *name, size_t name_len, bool *flag)
{
    if (*flag)
        return cli_usage(c, "option --%.*s is given more than once; give it once", (int)name_len,
                         name);
    *flag = true;
    return CLI_OK;
}

int cli_parse(cli *c, int argc, char **argv, const cli_opt *opts, char **pos, int max_pos,
              int *n_pos)
{
    int n = 0;
    bool only_positional = false;
    for (int i = 0; i < argc; i++) {
        char *arg = argv[i];
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            if (n >= max_pos)
                return cli_usage(c, "unexpected argument \"%s\"", arg);
            pos[n++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = true;
            continue;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            cli_help(c->verb);
            return CLI_DONE;
        }
        if (arg[1] != '-')
            return cli_usage(c, "unknown option \"%s\"", arg);

        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const char **value = cli_global_option(c, name, name_len);
        bool *flag = NULL;
        if (name_len == 4 && strncmp(name, "json", 4) == 0)
            flag = &c->json;
        for (const cli_opt *o = opts; !value && !flag && o && o->name; o++) {
            if (strlen(o->name) == name_len && strncmp(o->name, name, name_len) == 0) {
                value = o->value;
                flag = o->flag;
            }
        }
        if (value == NULL && flag == NULL && name_len == 5 && strncmp(name, "token", 5) == 0)
            return cli_usage(c, "a token is never given on the command line (it would show in "
                                "process lists and shell history): use --token-file FILE, "
                                "$CUTOFF_TOKEN_FILE or $CUTOFF_TOKEN");
        if (value == NULL && flag == NULL)
            return cli_usage(c, "unknown option \"--%.*s\"", (int)name_len, name);
        int rc;
        if (flag != NULL) {
            if (eq != NULL)
                return cli_usage(c, "option --%.*s takes no value", (int)name_len, name);
            if ((rc = cli_flag_set(c, name, name_len, flag)) != CLI_OK)
                return rc;
            continue;
        }
        const char *v;
        if (eq != NULL)
            v = eq + 1;
        else if (i + 1 < argc)
            v = argv[++i];
        else
            return cli_usage(c, "option --%.*s needs a value", (int)name_len, name);
        if ((rc = cli_option_set(c, name, name_len, value, v)) != CLI_OK)
            return rc;
    }
    *n_pos = n;
    return CLI_OK;
}

int cli_subcommand(cli *c, int argc, char **argv, const char *choices, int *index)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-') {
            *index = i;
            return CLI_OK;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            cli_help(c->verb);
            return CLI_DONE;
        }
        int rc;
        if (strcmp(arg, "--json") == 0) {
            if ((rc = cli_flag_set(c, "json", 4, &c->json)) != CLI_OK)
                return rc;
            continue;
        }
        size_t name_len = strcspn(arg, "=");
        const char **value =
            strncmp(arg, "--", 2) == 0 ? cli_global_option(c, arg + 2, name_len - 2) : NULL;
        if (value == NULL)
            return cli_usage(c, "unknown option \"%s\" before the subcommand (%s)", arg, choices);
        const char *v = arg[name_len] == '=' ? arg + name_len + 1 : NULL;
        if (v == NULL && i + 1 < argc)
            v = argv[++i];
        if (v == NULL)
            return cli_usage(c, "option %.*s needs a value", (int)name_len, arg);
        if ((rc = cli_option_set(c, arg + 2, name_len - 2, value, v)) != CLI_OK)
            return rc;
    }
    return cli_usage(c, "say what to do: %s", choices);
}

int cli_run_subcommand(cli *c, int argc, char **argv, const cli_sub *subs, size_t n,
                       const char *choices)
{
    int i;
    int rc = cli_subcommand(c, argc, argv, choices, &i);
    if (rc != CLI_OK)
        return rc;
    for (size_t k = 0; k < n; k++)
        if (strcmp(subs[k].name, argv[i]) == 0) {
            c->sub = argv[i];
            return subs[k].run(c, argc - i - 1, argv + i + 1);
        }
    return cli_usage(c, "unknown subcommand \"%s\" (%s)", argv[i], choices);
}

int cli_parse_time(const cli *c, const char *option, const char *text, int64_t *out)
{
    cutoff_diag diag = {0};
    if (cutoff_time_parse(text, out, &diag) != 0)
        return cli_usage(c, "%s: %s", option, diag.message);
    return CLI_OK;
}

int cli_parse_count(const cli *c, const char *option, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    if (text[0] < '0' || text[0] > '9')
        goto bad;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        goto bad;
    *out = v;
    return CLI_OK;
bad:
    return cli_usage(c, "%s \"%s\" is not a non-negative whole number", option, text);
}

int64_t cli_now(void)
{
    return (int64_t)time(NULL);
}

/* ---- inputs -------------------------------------------------------------- */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/* The login name: the password entry of the effective user, else what
 * getlogin() says; NULL when neither knows. */
static const char *login_name(void)
{
    struct passwd *pw = getpwuid(geteuid());
    if (pw != NULL && pw->pw_name && pw->pw_name[0])
        return pw->pw_name;
    const char *l = getlogin();
    return l && l[0] ? l : NULL;
}

int cli_resolve(cli *c)
{
    if (c->resolved)
        return CLI_OK;
    /* An option given beats the environment: --db selects the local
     * database even when $CUTOFF_SERVER is set. */
    if (c->server_opt && c->db_opt)
        return cli_usage(c, "--db and --server exclude each other: a command works either on a "
                            "local database or through a server");
    c->server = c->server_opt ? c->server_opt : c->db_opt ? NULL : env("CUTOFF_SERVER");
    if (c->server != NULL) {
        if (c->actor_opt)
            return cli_usage(c,
                             "--actor cannot be used with --server (%s): the server records "
                             "every change under the principal of the token",
                             c->server);
        if (c->key_opt)
            return cli_usage(c,
                             "--key cannot be used with --server (%s): the server signs with "
                             "its own key",
                             c->server);
    } else {
        if (c->token_file_opt)
            return cli_usage(c, "--token-file goes with --server URL (or $CUTOFF_SERVER)");
        c->db_path = c->db_opt ? c->db_opt : env("CUTOFF_DB") ? env("CUTOFF_DB") : "cutoff.db";
        cutoff_db_location_shown(c->db_path, c->db_shown, sizeof c->db_shown);
        c->actor = c->actor_opt          ? c->actor_opt
                   : env("CUTOFF_ACTOR") ? env("CUTOFF_ACTOR")
                                         : login_name();
        c->key_path = c->key_opt ? c->key_opt : env("CUTOFF_KEY_FILE");
    }
    c->resolved = true;
    return CLI_OK;
}

int cli_check_actor(cli *c)
{
    int rc = cli_resolve(c);
    if (rc != CLI_OK || c->server != NULL)
        return rc;
    if (c->actor == NULL || c->actor[0] == '\0')
        return cli_usage(c, "cannot tell who you are: pass --actor NAME or set CUTOFF_ACTOR");
    if (!cutoff_id_valid(c->actor)) {
        char q[96];
        return cli_usage(c,
                         "actor \"%s\" is not a name of 1-128 bytes of [A-Za-z0-9._:-] (no "
                         "spaces, controls or non-ASCII letters)",
                         cli_quote(c->actor, q, sizeof q));
    }
    return CLI_OK;
}

int cli_open_db(cli *c, bool create, const char *what, cutoff_db **out)
{
    *out = NULL;
    int rc = cli_resolve(c);
    if (rc != CLI_OK)
        return rc;
    if (c->server != NULL)
        return cli_usage(c,
                         "%s works on a local database only, not through the server %s; "
                         "give --db PATH to use one",
                         what, c->server);
    cutoff_diag diag = {0};
    int flags = create ? CUTOFF_DB_CREATE : c->read_only ? CUTOFF_DB_READ_ONLY : 0;
    rc = cutoff_db_open(c->db_path, flags, out, &diag);
    if (rc != 0) {
        *out = NULL;
        /* The library's message may already name the file; avoid saying it twice. */
        if (diag.message[0] && strstr(diag.message, c->db_shown) != NULL)
            return cli_fail(rc, &diag, NULL);
        return cli_fail(rc, &diag, c->db_shown);
    }
    /* A command that writes signs the audit head it creates (and the
     * notices it issues) when it is given the key. */
    if (!c->read_only && c->key_path != NULL) {
        if (c->key == NULL && (rc = cutoff_key_load(c->key_path, &c->key, &diag)) != 0) {
            cutoff_db_close(*out);
            *out = NULL;
            return cli_fail(rc, &diag, NULL);
        }
        cutoff_db_set_key(*out, c->key);
        /* Notices issued by a program without the key are signed now. */
        if (!c->signs_notices && (rc = cutoff_db_notices_sign(*out, NULL, &diag)) != 0) {
            cutoff_db_close(*out);
            *out = NULL;
            return cli_fail(rc, &diag, NULL);
        }
    }
    return CLI_OK;
}

int cli_open_input(const char *path, FILE **out, struct stat *st)
{
    bool is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "standard input" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    *out = NULL;
    if (f == NULL)
        return cli_error("%s: %s", name, strerror(errno));
    int rc = CLI_OK;
    if (fstat(fileno(f), st) != 0)
        rc = cli_error("%s: %s", name, strerror(errno));
    /* Input comes from a file or a pipe; a device such as /dev/zero would
     * be read for ever. */
    else if (S_ISDIR(st->st_mode) || (!is_stdin && !S_ISREG(st->st_mode) && !S_ISFIFO(st->st_mode)))
        rc = cli_error("%s: is %s, not a file; give a regular file or a pipe", name,
                       S_ISDIR(st->st_mode)   ? "a directory"
                       : S_ISCHR(st->st_mode) ? "a character device"
                       : S_ISBLK(st->st_mode) ? "a block device"
                                              : "a socket");
    if (rc != CLI_OK && !is_stdin)
        fclose(f);
    if (rc == CLI_OK)
        *out = f;
    return rc;
}

int cli_read_file(const char *path, char **data, size_t *len)
{
    bool is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "standard input" : path;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    FILE *f;
    struct stat st;
    int rc = cli_open_input(path, &f, &st);
    if (rc != CLI_OK)
        return rc;
    rc = CLI_FAIL;
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > CLI_FILE_MAX)
        goto too_large;
    /* A regular file is read with one allocation; a pipe grows the buffer. */
    cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
    buf = xrealloc(NULL, cap);
    for (;;) {
        size_t want = cap - n - 1;
        size_t got = fread(buf + n, 1, want, f);
        n += got;
        if (got < want)
            break;         /* end of file or an error */
        int ch = fgetc(f); /* the buffer is full: is there more? */
        if (ch == EOF)
            break;
        if (n >= CLI_FILE_MAX)
            goto too_large;
        cap = cap * 2 > (size_t)CLI_FILE_MAX + 1 ? (size_t)CLI_FILE_MAX + 1 : cap * 2;
        buf = xrealloc(buf, cap);
        buf[n++] = (char)ch;
    }
    if (ferror(f)) {
        cli_error("%s: %s", name, strerror(errno));
        goto out;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    buf = NULL;
    rc = CLI_OK;
    goto out;
too_large:
    cli_error("%s: larger than %u MiB, the most a command reads", name, CLI_FILE_MAX >> 20);
out:
    if (!is_stdin)
        fclose(f);
    free(buf);
    return rc;
}

/* ---- JSON ---------------------------------------------------------------- */

json_t *cli_json_load(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text ? text : "", 0, &err);
    if (v == NULL)
        cli_error("a JSON answer does not parse (%s at line %d)", err.text, err.line);
    return v;
}

void cli_json_print(const json_t *v)
{
    json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
}

int cli_json_print_text(const char *text)
{
    json_t *v = cli_json_load(text);
    if (v == NULL)
        return CLI_FAIL;
    cli_json_print(v);
    json_decref(v);
    return CLI_OK;
}

static bool time_like(const char *key)
{
    if (key == NULL)
        return false;
    size_t n = strlen(key);
    return (n >= 3 && strcmp(key + n - 3, "_at") == 0) || strcmp(key, "time") == 0 ||
           strcmp(key, "at") == 0 || strcmp(key, "since") == 0 || strcmp(key, "until") == 0;
}

static bool scalar(const json_t *v)
{
    return v != NULL && !json_is_object(v) && !json_is_array(v);
}

char *cli_json_text(const char *key, const json_t *v)
{
    char buf[64];
    if (v == NULL || json_is_null(v))
        return xstrdup("-");
    if (json_is_string(v))
        return xstrdup(json_string_value(v));
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (time_like(key) && i != 0)
            return xstrdup(cutoff_time_format((int64_t)i, buf));
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, i);
        return xstrdup(buf);
    }
    if (json_is_real(v)) {
        snprintf(buf, sizeof buf, "%g", json_real_value(v));
        return xstrdup(buf);
    }
    if (json_is_boolean(v))
        return xstrdup(json_is_true(v) ? "yes" : "no");
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        if (n == 0)
            return xstrdup("-");
        bool all_scalar = true;
        for (size_t i = 0; i < n; i++)
            all_scalar = all_scalar && scalar(json_array_get(v, i));
        if (!all_scalar) {
            snprintf(buf, sizeof buf, "[%zu items]", n);
            return xstrdup(buf);
        }
        char *out = xstrdup("");
        size_t len = 0;
        for (size_t i = 0; i < n; i++) {
            char *part = cli_json_text(key, json_array_get(v, i));
            size_t plen = strlen(part);
            out = xrealloc(out, len + plen + 3);
            if (i > 0) {
                memcpy(out + len, ", ", 2);
                len += 2;
            }
            memcpy(out + len, part, plen + 1);
            len += plen;
            free(part);
        }
        return out;
    }
    char *dump = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *out = xstrdup(dump ? dump : "?");
    cutoff_free(dump);
    return out;
}

/* ---- tables -------------------------------------------------------------- */

void cli_table_init(cli_table *t, size_t n_cols)
{
    memset(t, 0, sizeof *t);
    t->n_cols = n_cols;
}

static void table_take(cli_table *t, char *text)
{
    if (t->n_cells == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 32;
        t->cells = xrealloc(t->cells, t->cap * sizeof *t->cells);
    }
    /* A cell is one line of the table; line breaks inside become spaces. */
    for (char *p = text; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    t->cells[t->n_cells++] = text;
}

void cli_table_add(cli_table *t, const char *text)
{
    table_take(t, xstrdup(text ? text : "-"));
}

void cli_table_addf(cli_table *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = xrealloc(NULL, (size_t)(n < 0 ? 0 : n) + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap);
    va_end(ap);
    table_take(t, s);
}

void cli_table_add_json(cli_table *t, const json_t *obj, const char *key)
{
    table_take(t, cli_json_text(key, json_is_object(obj) ? json_object_get(obj, key) : NULL));
}

/* Display width of UTF-8 text: code points, which is right for the names
 * and scripts cutoff prints (no double-width handling). */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

void cli_table_print(const cli_table *t, const char *indent, const char *right_align)
{
    size_t cols = t->n_cols, rows = (t->n_cells + cols - 1) / cols;
    size_t *width = xrealloc(NULL, cols * sizeof *width);
    memset(width, 0, cols * sizeof *width);
    for (size_t i = 0; i < t->n_cells; i++) {
        size_t w = text_width(t->cells[i]);
        if (w > width[i % cols])
            width[i % cols] = w;
    }
    for (size_t r = 0; r < rows; r++) {
        fputs(indent ? indent : "", stdout);
        for (size_t col = 0; col < cols && r * cols + col < t->n_cells; col++) {
            const char *cell = t->cells[r * cols + col];
            size_t pad = width[col] - text_width(cell);
            bool right = right_align && strlen(right_align) > col && right_align[col] == '1';
            bool last = col + 1 == cols || r * cols + col + 1 == t->n_cells;
            if (col > 0)
                fputs("  ", stdout);
            if (right)
                printf("%*s", (int)pad, "");
            fputs(cell, stdout);
            if (!right && !last)
                printf("%*s", (int)pad, "");
        }
        fputc('\n', stdout);
    }
    free(width);
}

void cli_table_free(cli_table *t)
{
    for (size_t i = 0; i < t->n_cells; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

/* ---- generic renderers --------------------------------------------------- */

static char *label(const char *key)
{
    char *s = xstrdup(key);
    for (char *p = s; *p; p++)
        if (*p == '_')
            *p = ' ';
    return s;
}

static bool array_of_objects(const json_t *v)
{
    return json_is_array(v) && json_array_size(v) > 0 && json_is_object(json_array_get(v, 0));
}

/* Prints an array of objects as a table whose columns are the keys of its
 * elements that hold scalars or lists of scalars, in first-seen order. */
static void print_object_array(const json_t *arr, const char *indent)
{
    const char *keys[64] = {0};
    size_t n_keys = 0;
    size_t i;
    json_t *el;
    json_array_foreach (arr, i, el) {
        const char *k;
        json_t *v;
        json_object_foreach ((json_t *)el, k, v) {
            if (!scalar(v) && !(json_is_array(v) && !array_of_objects(v)))
                continue;
            bool seen = false;
            for (size_t j = 0; j < n_keys; j++)
                seen = seen || strcmp(keys[j], k) == 0;
            if (!seen && n_keys < sizeof keys / sizeof keys[0])
                keys[n_keys++] = k;
        }
    }
    if (n_keys == 0) {
        printf("%s[%zu items]\n", indent, json_array_size(arr));
        return;
    }
    cli_table t;
    cli_table_init(&t, n_keys);
    for (size_t j = 0; j < n_keys; j++) {
        char *l = label(keys[j]);
        for (char *p = l; *p; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
        table_take(&t, l);
    }
    json_array_foreach (arr, i, el) {
        for (size_t j = 0; j < n_keys; j++)
            cli_table_add_json(&t, el, keys[j]);
    }
    cli_table_print(&t, indent, NULL);
    cli_table_free(&t);
}

static void print_entry(const char *key, const json_t *v, size_t key_width, const char *indent)
{
    char *l = label(key);
    size_t pad = key_width > text_width(l) ? key_width - text_width(l) : 0;
    char deeper[64];
    snprintf(deeper, sizeof deeper, "%s    ", indent);
    if (array_of_objects(v)) {
        printf("%s%s:\n", indent, l);
        print_object_array(v, deeper);
    } else if (json_is_object(v) && json_object_size(v) > 0) {
        printf("%s%s:\n", indent, l);
        cli_print_object(v, NULL, deeper);
    } else {
        char *text = cli_json_text(key, v);
        printf("%s%s%*s  %s\n", indent, l, (int)pad, "", text);
        free(text);
    }
    free(l);
}

void cli_print_object(const json_t *obj, const char *const *order, const char *indent)
{
    if (!json_is_object(obj)) {
        char *text = cli_json_text(NULL, obj);
        printf("%s%s\n", indent, text);
        free(text);
        return;
    }
    size_t width = 0;
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)obj, k, v) {
        if (text_width(k) > width)
            width = text_width(k);
    }
    for (size_t i = 0; order && order[i]; i++) {
        json_t *val = json_object_get(obj, order[i]);
        if (val != NULL)
            print_entry(order[i], val, width, indent);
    }
    json_object_foreach ((json_t *)obj, k, v) {
        bool ordered = false;
        for (size_t i = 0; order && order[i]; i++)
            ordered = ordered || strcmp(order[i], k) == 0;
        if (!ordered)
            print_entry(k, v, width, indent);
    }
}

void cli_print_list(const json_t *arr, const char *const *keys, const char *const *headings,
                    size_t n_cols, const char *indent)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        printf("%s(none)\n", indent);
        return;
    }
    cli_table t;
    cli_table_init(&t, n_cols);
    for (size_t j = 0; j < n_cols; j++)
        cli_table_add(&t, headings[j]);
    size_t i;
    json_t *el;
    json_array_foreach (arr, i, el) {
        for (size_t j = 0; j < n_cols; j++)
            cli_table_add_json(&t, el, keys[j]);
    }
    cli_table_print(&t, indent, NULL);
    cli_table_free(&t);
}
