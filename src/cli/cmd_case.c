/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_case.c - "cutoff case ...": opening a review, recording evidence
 * (hashes and metadata of business records; content only on request),
 * findings, closing, and reading cases back.
 */
#include "cli/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Splits "a,b,c" into a malloc'd array of pointers into a malloc'd copy.
 * Empty elements are a usage error. */
static int split_scope(const cli *c, const char *text, char **copy_out, const char ***items,
                       size_t *n_items)
{
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    char *copy = strdup(text);
    const char **list = calloc(n, sizeof *list);
    if (copy == NULL || list == NULL) {
        free(copy);
        free(list);
        return cli_error("out of memory");
    }
    size_t i = 0;
    for (char *part = copy, *comma;; part = comma + 1) {
        comma = strchr(part, ',');
        if (comma)
            *comma = '\0';
        if (part[0] == '\0') {
            free(copy);
            free(list);
            return cli_usage(
                c, "--scope \"%s\" has an empty node id; separate ids with single commas", text);
        }
        list[i++] = part;
        if (!comma)
            break;
    }
    *copy_out = copy;
    *items = list;
    *n_items = i;
    return CLI_OK;
}

static int print_id(const cli *c, const char *key, const char *id)
{
    if (c->json) {
        json_t *o = json_pack("{s:s}", key, id);
        cli_json_print(o);
        json_decref(o);
    } else {
        printf("%s\n", id);
    }
    return CLI_OK;
}

static int case_open(cli *c, int argc, char **argv)
{
    const char *title = NULL, *scope = NULL, *id = NULL;
    const cli_opt opts[] = {
        {"title", &title, NULL}, {"scope", &scope, NULL}, {"id", &id, NULL}, {0}};
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, opts, pos, 0, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (title == NULL)
        return cli_usage(c, "--title TEXT is required");
    if (scope == NULL)
        return cli_usage(c, "--scope NODE[,NODE...] is required");
    if ((rc = cli_check_actor(c)) != CLI_OK)
        return rc;

    char *copy = NULL, *answer = NULL;
    const char **items = NULL;
    size_t n_items = 0;
    cli_backend *b = NULL;
    json_t *opened = NULL;
    if ((rc = split_scope(c, scope, &copy, &items, &n_items)) != CLI_OK)
        return rc;
    if ((rc = cli_backend_open(c, &b)) != CLI_OK)
        goto out;
    cutoff_diag diag = {0};
    int err = b->ops->case_open(b, id, title, items, n_items, &answer, &diag);
    if (err != 0) {
        rc = cli_fail(err, &diag, "case open");
        goto out;
    }
    if ((opened = cli_json_load(answer)) == NULL) {
        rc = CLI_FAIL;
        goto out;
    }
    rc = print_id(c, "id", json_string_value(json_object_get(opened, "id")));
out:
    json_decref(opened);
    free(answer);
    cli_backend_close(b);
    free(items);
    free(copy);
    return rc;
}

/* Evidence is a regular file of at most CUTOFF_EVIDENCE_MAX bytes. The
 * library checks the file it reads; this says so before anything is sent
 * to a server, which would otherwise get a FIFO's or a device's endless
 * bytes. Opened without blocking, so a FIFO cannot hang the check. */
static int check_evidence_file(const char *path)
{
    struct stat sb;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return cli_error("%s: %s", path, strerror(errno));
    int rc = fstat(fd, &sb);
    int saved = errno;
    close(fd);
    if (rc != 0)
        return cli_error("%s: %s", path, strerror(saved));
    if (!S_ISREG(sb.st_mode))
        return cli_error("evidence file \"%s\" is %s; give a regular file", path,
                         S_ISDIR(sb.st_mode)                          ? "a directory"
                         : S_ISFIFO(sb.st_mode)                       ? "a FIFO"
                         : S_ISSOCK(sb.st_mode)                       ? "a socket"
                         : S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode) ? "a device"
                                                                      : "not a regular file");
    if ((uint64_t)sb.st_size > CUTOFF_EVIDENCE_MAX)
        return cli_error("evidence file \"%s\" is larger than %llu MiB", path,
                         (unsigned long long)(CUTOFF_EVIDENCE_MAX >> 20));
    return CLI_OK;
}

static int case_evidence(cli *c, int argc, char **argv)
{
    const char *type = NULL, *note = NULL;
    bool keep = false;
    const cli_opt opts[] = {
        {"type", &type, NULL}, {"note", &note, NULL}, {"keep-content", NULL, &keep}, {0}};
    char *pos[2];
    int n_pos;
    int rc = cli_parse(c, argc, argv, opts, pos, 2, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (n_pos != 2)
        return cli_usage(c, "give the CASE and the evidence FILE");
    if (strcmp(pos[1], "-") == 0)
        return cli_usage(c, "evidence must be a file (its name is recorded), not standard input");
    if (type == NULL)
        return cli_usage(c, "--type MEDIA-TYPE is required (e.g. text/csv)");
    if (strchr(type, '/') == NULL)
        return cli_usage(c, "--type \"%s\" is not a media type like text/csv or application/pdf",
                         type);
    if (note == NULL)
        return cli_usage(c, "--note TEXT is required: say what the file is");
    if ((rc = cli_check_actor(c)) != CLI_OK || (rc = check_evidence_file(pos[1])) != CLI_OK)
        return rc;

    cli_backend *b = NULL;
    char *answer = NULL;
    json_t *added = NULL;
    if ((rc = cli_backend_open(c, &b)) != CLI_OK)
        return rc;
    cutoff_diag diag = {0};
    int err = b->ops->case_evidence(b, pos[0], pos[1], type, note, keep, &answer, &diag);
    cli_backend_close(b);
    if (err != 0)
        return cli_fail(err, &diag, pos[1]);
    if ((added = cli_json_load(answer)) == NULL) {
        free(answer);
        return CLI_FAIL;
    }
    const char *sha = json_string_value(json_object_get(added, "sha256"));
    if (c->json) {
        json_t *o = json_pack("{s:s, s:s, s:s?, s:b}", "case", pos[0], "file", pos[1], "sha256",
                              sha, "content_kept", keep);
        cli_json_print(o);
        json_decref(o);
    } else {
        printf("%s\n", sha ? sha : "-");
    }
    json_decref(added);
    free(answer);
    return CLI_OK;
}

static int case_findings(cli *c, int argc, char **argv)
{
    const char *text = NULL, *file = NULL;
    const cli_opt opts[] = {{"text", &text, NULL}, {"file", &file, NULL}, {0}};
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, opts, pos, 1, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (n_pos != 1)
        return cli_usage(c, "give the CASE");
    if ((text == NULL) == (file == NULL))
        return cli_usage(c, "give the findings with exactly one of --text TEXT or --file FILE");
    if ((rc = cli_check_actor(c)) != CLI_OK)
        return rc;

    char *data = NULL;
    size_t len = 0;
    cli_backend *b = NULL;
    if (file != NULL) {
        if ((rc = cli_read_file(file, &data, &len)) != CLI_OK)
            return rc;
        if (strlen(data) != len) {
            rc = cli_error("%s: findings must be text; the file contains a NUL byte", file);
            goto out;
        }
        text = data;
    }
    if ((rc = cli_backend_open(c, &b)) != CLI_OK)
        goto out;
    cutoff_diag diag = {0};
    int err = b->ops->case_findings(b, pos[0], text, &diag);
    if (err != 0) {
        rc = cli_fail(err, &diag, pos[0]);
        goto out;
    }
    if (c->json) {
        json_t *o = json_pack("{s:s, s:i}", "case", pos[0], "bytes", (int)strlen(text));
        cli_json_print(o);
        json_decref(o);
    } else {
        printf("findings of %s recorded (%zu bytes)\n", pos[0], strlen(text));
    }
    rc = CLI_OK;
out:
    cli_backend_close(b);
    free(data);
    return rc;
}

static int case_close(cli *c, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, NULL, pos, 1, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (n_pos != 1)
        return cli_usage(c, "give the CASE");
    if ((rc = cli_check_actor(c)) != CLI_OK)
        return rc;
    cli_backend *b = NULL;
    if ((rc = cli_backend_open(c, &b)) != CLI_OK)
        return rc;
    cutoff_diag diag = {0};
    int err = b->ops->case_close(b, pos[0], &diag);
    cli_backend_close(b);
    if (err != 0)
        return cli_fail(err, &diag, pos[0]);
    if (c->json) {
        json_t *o = json_pack("{s:s, s:s}", "case", pos[0], "status", "closed");
        cli_json_print(o);
        json_decref(o);
    } else {
        printf("%s closed\n", pos[0]);
    }
    return CLI_OK;
}

static int fetch_case(cli_backend *b, const char *id, char **out, cutoff_diag *diag)
{
    return b->ops->case_show(b, id, out, diag);
}

static int case_show(cli *c, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, NULL, pos, 1, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (n_pos != 1)
        return cli_usage(c, "give the CASE");
    json_t *obj;
    rc = cli_fetch(c, fetch_case, pos[0], "no case \"%s\"", "reading the case", &obj);
    if (rc != CLI_OK || obj == NULL)
        return rc;
    static const char *const order[] = {"id",        "title",     "status",    "scope",
                                        "opened_by", "opened_at", "closed_by", "closed_at",
                                        "findings",  NULL};
    cli_print_object(obj, order, "");
    json_decref(obj);
    return CLI_OK;
}

static int fetch_case_list(cli_backend *b, const char *id, char **out, cutoff_diag *diag)
{
    (void)id;
    return b->ops->case_list(b, out, diag);
}

static int case_list(cli *c, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    int rc = cli_parse(c, argc, argv, NULL, pos, 0, &n_pos);
    if (rc != CLI_OK)
        return rc;
    json_t *arr;
    rc = cli_fetch(c, fetch_case_list, NULL, NULL, "listing cases", &arr);
    if (rc != CLI_OK || arr == NULL)
        return rc;
    static const char *const keys[] = {"id", "status", "opened_at", "opened_by", "scope", "title"};
    static const char *const heads[] = {"CASE", "STATUS", "OPENED", "BY", "SCOPE", "TITLE"};
    cli_print_list(arr, keys, heads, 6, "");
    json_decref(arr);
    return CLI_OK;
}

int cli_cmd_case(cli *c, int argc, char **argv)
{
    static const cli_sub subs[] = {{"open", case_open},         {"evidence", case_evidence},
                                   {"findings", case_findings}, {"close", case_close},
                                   {"show", case_show},         {"list", case_list}};
    return cli_run_subcommand(c, argc, argv, subs, sizeof subs / sizeof subs[0],
                              "open, evidence, findings, close, show or list");
}
