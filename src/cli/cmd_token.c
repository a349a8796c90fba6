/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_token.c - "cutoff token create|list|revoke": the bearer tokens of
 * cutoffd's admin API. The tokens file holds only SHA-256 hashes, with a
 * principal and roles (grammar in common/tokens.h, shared with the daemon);
 * a token is printed once, when it is made, and stored nowhere.
 *
 * The file grants power, so it is handled like a key: created mode 0600, a
 * file that others may write is refused, every line is checked before one
 * is added, and changes hold an exclusive lock. A revoke rewrites the file
 * through a temporary file and a rename, so cutoffd (which re-reads it on
 * SIGHUP) sees either the old file or the new one, never half of one.
 */
#include "cli/cli.h"
#include "common/tokens.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_PREFIX "cutoff_"
#define TOKEN_BYTES 32
/* A tokens file is a few lines a principal; this bounds what is read. */
#define TOKENS_FILE_MAX (16u << 20)

static const char header[] =
    "# cutoffd admin API tokens: sha256:<SHA-256 of the token> PRINCIPAL ROLE[,ROLE]\n"
    "# managed with 'cutoff token create|list|revoke'; cutoffd reads it again on SIGHUP\n";

/* ---- the file --------------------------------------------------------------- */

/* An open tokens file: its descriptor, what it holds, and its status. */
typedef struct tokens_file {
    const char *path;
    int fd;
    struct stat st;
    char *text; /* the content, NUL-terminated */
    size_t len;
    char (*principals)[CUTOFF_ID_MAX + 1]; /* of its entries, in file order */
    size_t n_principals;
} tokens_file;

static void file_close(tokens_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    free(f->text);
    f->text = NULL;
    free(f->principals);
    f->principals = NULL;
    f->n_principals = 0;
}

/* Refuses a principal that differs from one of the file's only by case. */
static int check_clash(const tokens_file *f, const char *principal, const char *where)
{
    char why[384];
    for (size_t i = 0; i < f->n_principals; i++)
        if (co__token_principal_clash(principal, f->principals[i], why, sizeof why) != 0)
            return cli_error("%s: %s", where, why);
    return CLI_OK;
}

/* Reads the whole file through fd and checks every line. */
static int file_read(tokens_file *f)
{
    if ((uint64_t)f->st.st_size > TOKENS_FILE_MAX)
        return cli_error("%s: %lld bytes is too large for a tokens file", f->path,
                         (long long)f->st.st_size);
    f->text = malloc((size_t)f->st.st_size + 1);
    if (f->text == NULL)
        return cli_error("out of memory");
    size_t got = 0;
    while (got < (size_t)f->st.st_size) {
        ssize_t n = pread(f->fd, f->text + got, (size_t)f->st.st_size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cli_error("%s: %s", f->path, strerror(errno));
        if (n == 0)
            break;
        got += (size_t)n;
    }
    f->text[got] = '\0';
    f->len = got;
    if (strlen(f->text) != got)
        return cli_error("%s: contains a NUL byte", f->path);
    size_t lineno = 0;
    for (char *line = f->text; *line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        char one[1024], why[256];
        co__token_line entry;
        lineno++;
        if (n >= sizeof one)
            return cli_error("%s:%zu: the line is longer than %zu bytes", f->path, lineno,
                             sizeof one - 1);
        memcpy(one, line, n);
        one[n] = '\0';
        int kind = co__token_line_parse(one, &entry, why, sizeof why);
        if (kind < 0)
            return cli_error("%s:%zu: %s", f->path, lineno, why);
        if (kind > 0) {
            char where[1100];
            snprintf(where, sizeof where, "%s:%zu", f->path, lineno);
            if (check_clash(f, entry.principal, where) != CLI_OK)
                return CLI_FAIL;
            void *grown = realloc(f->principals, (f->n_principals + 1) * sizeof *f->principals);
            if (grown == NULL)
                return cli_error("out of memory");
            f->principals = grown;
            memcpy(f->principals[f->n_principals++], entry.principal, sizeof entry.principal);
        }
        line += n + (nl != NULL);
    }
    return CLI_OK;
}

/* Opens the tokens file to change it: created (mode 0600) when `create`
 * and missing, refused when group or others may write it (unless
 * `allow_loose`), locked exclusively, and read. The lock is on the file
 * that is at `path` once it is held: a revoke may have renamed a new file
 * into place while this waited. */
static int file_open_locked(tokens_file *f, bool create, bool allow_loose, bool *created)
{
    *created = false;
    for (int attempt = 0; attempt < 20; attempt++) {
        f->fd = -1;
        if (create) {
            f->fd = open(f->path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (f->fd >= 0) {
                *created = true;
                if (fchmod(f->fd, 0600) != 0)
                    return cli_error("%s: %s", f->path, strerror(errno));
            } else if (errno != EEXIST) {
                return cli_error("%s: cannot create it: %s", f->path, strerror(errno));
            }
        }
        if (f->fd < 0 && (f->fd = open(f->path, O_RDWR | O_APPEND | O_CLOEXEC)) < 0)
            return cli_error("%s: %s", f->path, strerror(errno));
        if (fstat(f->fd, &f->st) != 0)
            return cli_error("%s: %s", f->path, strerror(errno));
        if (!S_ISREG(f->st.st_mode))
            return cli_error("%s: not a regular file", f->path);
        if (!allow_loose && (f->st.st_mode & 022))
            return cli_error("%s: group or others may write it (mode %04o), so anyone who can "
                             "could grant themselves any role; run 'chmod go-w %s' first",
                             f->path, (unsigned)(f->st.st_mode & 07777), f->path);
        if (flock(f->fd, LOCK_EX) != 0)
            return cli_error("%s: cannot lock it: %s", f->path, strerror(errno));
        struct stat now;
        if (stat(f->path, &now) == 0 && now.st_dev == f->st.st_dev && now.st_ino == f->st.st_ino) {
            fstat(f->fd, &f->st); /* its size may have changed while we waited */
            return file_read(f);
        }
        close(f->fd); /* replaced while we waited: start again on the new one */
        f->fd = -1;
        *created = false;
    }
    return cli_error("%s: keeps being replaced; try again", f->path);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Replaces the file at f->path by `text`: a temporary file in the same
 * directory with the old file's owner and read permissions (never write
 * for group or others, never execute) is synced, renamed over the old
 * one, and the directory synced. */
static int file_replace(tokens_file *f, const char *text, size_t len)
{
    size_t n = strlen(f->path);
    char *tmp = malloc(n + 16);
    if (tmp == NULL)
        return cli_error("out of memory");
    snprintf(tmp, n + 16, "%s.tmp.XXXXXX", f->path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    int rc = CLI_FAIL;
    if (fd < 0) {
        cli_error("%s: cannot make a temporary file beside it: %s", f->path, strerror(errno));
        free(tmp);
        return CLI_FAIL;
    }
    /* Owned like the old file, so that cutoffd can still read it when this
     * runs as root; without privilege the owner is already the same. */
    if (fchown(fd, f->st.st_uid, f->st.st_gid) != 0 && geteuid() != f->st.st_uid) {
        cli_error("%s: cannot give the new file the old one's owner: %s", f->path, strerror(errno));
        goto fail;
    }
    if (fchmod(fd, f->st.st_mode & 0644) != 0 || write_all(fd, text, len) != 0 || fsync(fd) != 0) {
        cli_error("%s: cannot write the new file: %s", tmp, strerror(errno));
        goto fail;
    }
    if (rename(tmp, f->path) != 0) {
        cli_error("%s: cannot replace it: %s", f->path, strerror(errno));
        goto fail;
    }
    close(fd);
    fd = -1;
    /* The rename itself is durable once the directory is synced. */
    char *dir = strdup(f->path);
    if (dir != NULL) {
        char *slash = strrchr(dir, '/');
        const char *d = slash == NULL ? "." : slash == dir ? "/" : (*slash = '\0', dir);
        int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    free(tmp);
    return CLI_OK;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return rc;
}

/* ---- options shared by the verbs ------------------------------------------------ */

static int need_tokens_file(cli *c, const char *path)
{
    if (path != NULL)
        return CLI_OK;
    if (c->token_file_opt)
        return cli_usage(c, "give --tokens-file FILE, cutoffd's file of hashed tokens "
                            "(--token-file is your own token, for --server)");
    return cli_usage(c, "--tokens-file FILE is required (cutoffd's file of hashed tokens)");
}

static int check_principal(cli *c, const char *principal)
{
    if (principal == NULL)
        return cli_usage(c, "--principal NAME is required");
    char q[96];
    if (!cutoff_id_valid(principal))
        return cli_usage(c,
                         "--principal \"%s\" is not a name of 1-128 bytes of [A-Za-z0-9._:-] (no "
                         "spaces, controls or non-ASCII letters)",
                         cli_quote(principal, q, sizeof q));
    return CLI_OK;
}

static void sighup_hint(const char *path)
{
    fprintf(stderr, "cutoff: send SIGHUP to cutoffd so that it reads %s again\n", path);
}

/* ---- create ----------------------------------------------------------------------- */

static int token_create(cli *c, int argc, char **argv)
{
    const char *principal = NULL, *roles_text = NULL, *path = NULL;
    const cli_opt opts[] = {{"principal", &principal, NULL},
                            {"roles", &roles_text, NULL},
                            {"tokens-file", &path, NULL},
                            {0}};
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, opts, pos, 0, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if ((rc = need_tokens_file(c, path)) != CLI_OK ||
        (rc = check_principal(c, principal)) != CLI_OK)
        return rc;
    unsigned roles;
    if (roles_text == NULL)
        return cli_usage(c, "--roles ROLE[,ROLE] is required (%s)", CO__ROLE_LIST);
    if (co__roles_parse(roles_text, &roles) != 0)
        return cli_usage(c, "--roles \"%s\": give one or more of %s, separated by commas",
                         roles_text, CO__ROLE_LIST);
    if (sodium_init() < 0)
        return cli_error("cannot initialise libsodium");

    tokens_file f = {.path = path, .fd = -1};
    bool created = false;
    unsigned char raw[TOKEN_BYTES], hash[crypto_hash_sha256_BYTES];
    char token[sizeof TOKEN_PREFIX +
               sodium_base64_ENCODED_LEN(TOKEN_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    char hex[2 * sizeof hash + 1], canonical[CO__ROLES_TEXT_MAX], line[1024];
    if ((rc = file_open_locked(&f, true, false, &created)) != CLI_OK) {
        /* Leave no empty file behind when it was made for nothing. */
        if (created)
            unlink(path);
        goto out;
    }
    if ((rc = check_clash(&f, principal, path)) != CLI_OK)
        goto out;

    randombytes_buf(raw, sizeof raw);
    memcpy(token, TOKEN_PREFIX, sizeof TOKEN_PREFIX - 1);
    sodium_bin2base64(token + sizeof TOKEN_PREFIX - 1, sizeof token - (sizeof TOKEN_PREFIX - 1),
                      raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    crypto_hash_sha256(hash, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    co__roles_text(roles, canonical, sizeof canonical);

    size_t used = 0;
    if (created)
        used += (size_t)snprintf(line, sizeof line, "%s", header);
    else if (f.len > 0 && f.text[f.len - 1] != '\n')
        line[used++] = '\n'; /* finish its last line */
    used += (size_t)snprintf(line + used, sizeof line - used, "sha256:%s %s %s\n", hex, principal,
                             canonical);
    if (write_all(f.fd, line, used) != 0 || fsync(f.fd) != 0) {
        rc = cli_error("%s: cannot add the token: %s", path, strerror(errno));
        goto out;
    }
    if (c->json) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "principal", principal, "roles", canonical,
                              "token", token);
        cli_json_print(o);
        json_decref(o);
    } else {
        printf("%s\n", token);
    }
    fprintf(stderr,
            "cutoff: token for %s (%s) added to %s; it is shown only now and stored "
            "nowhere\n",
            principal, canonical, path);
    sighup_hint(path);
    rc = CLI_OK;
out:
    sodium_memzero(raw, sizeof raw);
    sodium_memzero(token, sizeof token);
    file_close(&f);
    return rc;
}

/* ---- list ---------------------------------------------------------------------------- */

static int token_list(cli *c, int argc, char **argv)
{
    const char *path = NULL;
    const cli_opt opts[] = {{"tokens-file", &path, NULL}, {0}};
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, opts, pos, 0, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if ((rc = need_tokens_file(c, path)) != CLI_OK)
        return rc;

    tokens_file f = {.path = path, .fd = open(path, O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0)
        return cli_error("%s: %s", path, strerror(errno));
    if (fstat(f.fd, &f.st) != 0 || !S_ISREG(f.st.st_mode)) {
        file_close(&f);
        return cli_error("%s: not a regular file", path);
    }
    if ((rc = file_read(&f)) != CLI_OK) {
        file_close(&f);
        return rc;
    }
    /* Principals, roles and the start of each hash: enough to tell entries
     * apart, never enough to matter. */
    json_t *list = json_array();
    for (char *line = f.text; *line;) {
        size_t n = strcspn(line, "\n");
        char one[1024], why[256], prefix[13];
        co__token_line entry;
        memcpy(one, line, n); /* file_read checked the length */
        one[n] = '\0';
        line += n + (line[n] == '\n');
        if (co__token_line_parse(one, &entry, why, sizeof why) != 1)
            continue;
        char roles[CO__ROLES_TEXT_MAX];
        sodium_bin2hex(prefix, sizeof prefix, entry.hash, 6);
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:s}", "principal", entry.principal, "roles",
                                        co__roles_text(entry.roles, roles, sizeof roles),
                                        "hash_prefix", prefix));
    }
    file_close(&f);
    if (c->json) {
        cli_json_print(list);
    } else {
        static const char *const keys[] = {"principal", "roles", "hash_prefix"};
        static const char *const heads[] = {"PRINCIPAL", "ROLES", "SHA256 (START)"};
        cli_print_list(list, keys, heads, 3, "");
    }
    json_decref(list);
    return CLI_OK;
}

/* ---- revoke ---------------------------------------------------------------------------- */

static int token_revoke(cli *c, int argc, char **argv)
{
    const char *principal = NULL, *path = NULL;
    const cli_opt opts[] = {{"principal", &principal, NULL}, {"tokens-file", &path, NULL}, {0}};
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, opts, pos, 0, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if ((rc = need_tokens_file(c, path)) != CLI_OK ||
        (rc = check_principal(c, principal)) != CLI_OK)
        return rc;

    tokens_file f = {.path = path, .fd = -1};
    bool created;
    char *kept = NULL;
    /* Taking access away is always allowed, even from a file that is too
     * open; the new file is not writable by group or others. */
    if ((rc = file_open_locked(&f, false, true, &created)) != CLI_OK)
        goto out;
    kept = malloc(f.len + 1);
    if (kept == NULL) {
        rc = cli_error("out of memory");
        goto out;
    }
    size_t used = 0, removed = 0;
    for (char *line = f.text; *line;) {
        size_t n = strcspn(line, "\n") + (line[strcspn(line, "\n")] == '\n');
        char one[1024], why[256];
        co__token_line entry;
        size_t body = n - (line[n - 1] == '\n');
        memcpy(one, line, body);
        one[body] = '\0';
        if (co__token_line_parse(one, &entry, why, sizeof why) == 1 &&
            strcmp(entry.principal, principal) == 0) {
            removed++;
        } else {
            memcpy(kept + used, line, n); /* other lines stay exactly as they were */
            used += n;
        }
        line += n;
    }
    kept[used] = '\0';
    if (removed == 0) {
        rc = cli_error("%s: no token of principal \"%s\" to revoke", path, principal);
        goto out;
    }
    if ((rc = file_replace(&f, kept, used)) != CLI_OK)
        goto out;
    if (c->json) {
        json_t *o = json_pack("{s:s, s:I}", "principal", principal, "revoked", (json_int_t)removed);
        cli_json_print(o);
        json_decref(o);
    } else {
        printf("revoked %zu token%s of %s in %s\n", removed, removed == 1 ? "" : "s", principal,
               path);
    }
    sighup_hint(path);
    rc = CLI_OK;
out:
    free(kept);
    file_close(&f);
    return rc;
}

int cli_cmd_token(cli *c, int argc, char **argv)
{
    static const cli_sub subs[] = {
        {"create", token_create}, {"list", token_list}, {"revoke", token_revoke}};
    return cli_run_subcommand(c, argc, argv, subs, sizeof subs / sizeof subs[0],
                              "create, list or revoke");
}
