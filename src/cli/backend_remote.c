/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backend_remote.c - the CLI's backend on a running cutoffd: each operation
 * is a call of the admin API (docs/cutoffd.md) with the bearer token, made
 * with libcurl on one handle so that consecutive calls (batch chunks, audit
 * pages) share a connection. Answers are the JSON texts the local backend
 * gives; refusals come back as the library's error codes with the server's
 * message, so the verbs word them as they do locally.
 *
 * What only a server can say is reported here, in one line naming the
 * server: it cannot be reached or did not answer in time, it does not know
 * the token (401), the token's principal lacks the role (403), or it
 * failed. The token comes from --token-file, $CUTOFF_TOKEN_FILE or
 * $CUTOFF_TOKEN, never from the command line, and never appears in a
 * message.
 */
#include "cli/backend.h"
#include "common/tokens.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONNECT_TIMEOUT_S 5L
#define CALL_TIMEOUT_S 60L
#define UPLOAD_TIMEOUT_S 600L /* node imports and evidence files */
/* An answer larger than this is not one the admin API gives. */
#define ANSWER_MAX (512u << 20)
/* check --batch: requests per POST /v1/check/batch, and bytes per body
 * (the server takes up to 1 MiB by default). */
#define BATCH_CHUNK 1000
#define BATCH_BODY_MAX (256u << 10)
/* audit log: records per page (the server allows up to 100000). */
#define AUDIT_PAGE 10000

typedef struct remote {
    cli_backend base;
    CURL *curl;
    char *url;              /* the base URL, without a trailing '/' */
    char *auth;             /* "Authorization: Bearer ..." */
    const char *token_from; /* where the token came from, for messages */
    char errbuf[CURL_ERROR_SIZE];
} remote;

static remote *R(cli_backend *b)
{
    return (remote *)b;
}

/* For a failure just reported with cli_error: what the operation returns. */
static int said(int exit_status)
{
    (void)exit_status;
    return CLI_REPORTED;
}

static void *xalloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fputs("cutoff: out of memory\n", stderr);
        exit(CLI_FAIL);
    }
    return q;
}

/* ---- growing text ------------------------------------------------------------ */

/* Starts empty ({0}) or from a malloc'd string ({.p = api_path(...)}),
 * whose length is taken when something is first added. */
typedef struct text {
    char *p;
    size_t len, cap;
} text;

static void text_add(text *t, const char *s, size_t n)
{
    if (t->p != NULL && t->cap == 0)
        t->cap = (t->len = strlen(t->p)) + 1;
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->p = xalloc(t->p, t->cap);
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void text_puts(text *t, const char *s)
{
    text_add(t, s, strlen(s));
}

/* Appends s percent-encoded (for a path segment or a query value). */
static void text_escaped(text *t, remote *r, const char *s)
{
    char *e = curl_easy_escape(r->curl, s, 0);
    if (e == NULL) {
        fputs("cutoff: out of memory\n", stderr);
        exit(CLI_FAIL);
    }
    text_puts(t, e);
    curl_free(e);
}

/* "/v1/" followed by the segments, each escaped, joined by '/'. The list
 * ends with NULL. */
static char *api_path(remote *r, ...)
{
    text t = {0};
    text_puts(&t, "/v1");
    va_list ap;
    va_start(ap, r);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;) {
        text_puts(&t, "/");
        text_escaped(&t, r, s);
    }
    va_end(ap);
    return t.p;
}

/* Appends "?name=value" or "&name=value" (value escaped). */
static void query_add(text *t, remote *r, const char *name, const char *value)
{
    text_puts(t, strchr(t->p, '?') ? "&" : "?");
    text_puts(t, name);
    text_puts(t, "=");
    text_escaped(t, r, value);
}

static void query_add_count(text *t, remote *r, const char *name, uint64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)value);
    query_add(t, r, name, buf);
}

/* ---- one call ------------------------------------------------------------------- */

typedef struct call {
    const char *method; /* GET, POST, PUT */
    char *path;         /* from api_path, with any query; freed by the caller */
    const char *body;   /* a body in memory, or NULL */
    size_t len;
    FILE *upload;        /* or a file streamed as the body */
    int64_t upload_size; /* -1 when unknown (a pipe): sent chunked */
    const char *content_type;
    cli_progress_fn progress;
    void *progress_ctx;
} call;

/* The body of an answer as it arrives. */
typedef struct received {
    text body;
    bool too_large;
} received;

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
    received *got = ctx;
    size_t bytes = size * n;
    if (got->body.len + bytes > ANSWER_MAX) {
        got->too_large = true;
        return 0; /* makes the transfer fail */
    }
    text_add(&got->body, data, bytes);
    return bytes;
}

static int upload_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                           curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal;
    call *q = ctx;
    if (ulnow > 0)
        q->progress(q->progress_ctx, (uint64_t)ulnow, "bytes sent");
    return 0;
}

/* Turns an answer that is not 2xx into the error the verb sees. */
static int refusal(remote *r, long status, const char *body, size_t len, cutoff_diag *diag)
{
    json_t *problem = json_loadb(body ? body : "", len, 0, NULL);
    const char *detail = json_string_value(json_object_get(problem, "detail"));
    const char *title = json_string_value(json_object_get(problem, "title"));
    int code = 0; /* the library error the server reports, by its symbolic name */
    if (cutoff_errcode(json_string_value(json_object_get(problem, "code")), &code) != 0)
        code = 0;
    char snippet[160];
    int rc = CLI_REPORTED;
    if (detail == NULL) {
        /* Not cutoffd's problem document (a proxy in between?): show the start. */
        size_t n = len < sizeof snippet - 1 ? len : sizeof snippet - 1;
        memcpy(snippet, body ? body : "", n);
        snippet[n] = '\0';
        for (char *p = snippet; *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = ' ';
        detail = n ? snippet : "no explanation given";
    }
    const char *type = json_string_value(json_object_get(problem, "type"));
    bool role_missing = type && strcmp(type, CO__PROBLEM_ROLE) == 0;
    if (code == CUTOFF_EAUTH) {
        cli_error("%s does not accept the token from %s (401: %s); check the token, and that "
                  "cutoffd has re-read its tokens file (SIGHUP) since the token was made",
                  r->url, r->token_from, detail);
    } else if (role_missing) {
        cli_error("%s refused (403, a role is missing): %s", r->url, detail);
    } else if (code != 0) {
        /* A refusal by the library: its message, without the server's
         * "doing: " in front, as the local backend would give it. */
        const char *colon = strstr(detail, ": ");
        snprintf(diag->message, sizeof diag->message, "%s", colon ? colon + 2 : detail);
        diag->code = code;
        rc = code;
    } else {
        cli_error("%s answered %ld %s: %s", r->url, status, title ? title : "", detail);
    }
    json_decref(problem);
    return rc;
}

/* Makes one call. Returns 0 with the JSON answer in *answer (malloc'd;
 * answer may be NULL when the caller needs none), a library error code
 * with diag filled for a refusal of the operation, or CLI_REPORTED after
 * saying why the call failed. */
static int request(remote *r, call *q, char **answer, cutoff_diag *diag)
{
    CURL *h = r->curl;
    text url = {0};
    received got = {0};
    struct curl_slist *headers = NULL;
    char content_type[128];
    int rc = CLI_REPORTED;
    long timeout = q->upload ? UPLOAD_TIMEOUT_S : CALL_TIMEOUT_S;

    text_puts(&url, r->url);
    text_puts(&url, q->path);
    curl_easy_reset(h); /* keeps the connection for the next call */
    r->errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url.p);
    /* The path goes as built: ids may be "." or "..", which curl would
     * otherwise resolve away (case show .. would read /v1/). */
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "cutoff/" CLI_VERSION);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
    headers = curl_slist_append(headers, r->auth);
    headers = curl_slist_append(headers, "Accept: application/json");
    if (strcmp(q->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        if (strcmp(q->method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
        snprintf(content_type, sizeof content_type, "Content-Type: %s",
                 q->content_type ? q->content_type : "application/json");
        headers = curl_slist_append(headers, content_type);
        if (q->upload) {
            /* libcurl's default read function freads the FILE. */
            curl_easy_setopt(h, CURLOPT_READDATA, q->upload);
            if (q->upload_size >= 0)
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->upload_size);
            else
                headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
            if (q->progress) {
                curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
                curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, upload_progress);
                curl_easy_setopt(h, CURLOPT_XFERINFODATA, q);
            }
        } else {
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->len);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body ? q->body : "");
        }
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

    CURLcode res = curl_easy_perform(h);
    if (res != CURLE_OK) {
        const char *why = r->errbuf[0] ? r->errbuf : curl_easy_strerror(res);
        if (res == CURLE_OPERATION_TIMEDOUT)
            cli_error("%s did not answer within %ld s: %s", r->url, timeout, why);
        else if (got.too_large)
            cli_error("%s sent an answer larger than %u MiB", r->url, ANSWER_MAX >> 20);
        else
            cli_error("cannot reach the server at %s: %s", r->url, why);
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        rc = refusal(r, status, got.body.p, got.body.len, diag);
        goto out;
    }
    json_error_t je;
    json_t *check = json_loadb(got.body.p ? got.body.p : "", got.body.len, 0, &je);
    if (check == NULL) {
        cli_error("%s answered %s %s with something that is not JSON (%s)", r->url, q->method,
                  q->path, je.text);
        goto out;
    }
    json_decref(check);
    if (answer) {
        *answer = got.body.p;
        got.body.p = NULL;
    }
    rc = 0;
out:
    curl_slist_free_all(headers);
    free(url.p);
    free(got.body.p);
    return rc;
}

/* A call with a JSON body built from v (consumed). */
static int request_json(remote *r, const char *method, char *path, json_t *v, char **answer,
                        cutoff_diag *diag)
{
    char *body = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (body == NULL) {
        free(path);
        return said(cli_error("out of memory"));
    }
    call q = {.method = method, .path = path, .body = body, .len = strlen(body)};
    int rc = request(r, &q, answer, diag);
    cutoff_free(body);
    free(path);
    return rc;
}

static int get(remote *r, char *path, char **answer, cutoff_diag *diag)
{
    call q = {.method = "GET", .path = path};
    int rc = request(r, &q, answer, diag);
    free(path);
    return rc;
}

/* ---- catalog and nodes ---------------------------------------------------------- */

static int catalog_load(cli_backend *b, const char *body, size_t len, bool force, char **out,
                        char **impact, cutoff_diag *diag)
{
    text t = {.p = api_path(R(b), "catalog", NULL)};
    if (force)
        query_add(&t, R(b), "force", "1");
    call q = {.method = "PUT", .path = t.p, .body = body, .len = len};
    *impact = NULL;
    int rc = request(R(b), &q, out, diag);
    free(q.path);
    return rc;
}

static int catalog_get(cli_backend *b, char **out, cutoff_diag *diag)
{
    return get(R(b), api_path(R(b), "catalog", NULL), out, diag);
}

static int nodes_import(cli_backend *b, FILE *in, const char *source, cli_progress_fn progress,
                        void *progress_ctx, char **out, cutoff_diag *diag)
{
    struct stat st;
    call q = {.method = "POST",
              .path = api_path(R(b), "nodes", "import", NULL),
              .upload = in,
              .upload_size = fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode)
                                 ? (int64_t)st.st_size - (int64_t)ftello(in)
                                 : -1,
              .content_type = "application/x-ndjson",
              .progress = progress,
              .progress_ctx = progress_ctx};
    int rc = request(R(b), &q, out, diag);
    free(q.path);
    /* The server names the input "request body"; here it has a name. */
    static const char server_source[] = "request body";
    if (rc < 0 && strncmp(diag->message, server_source, sizeof server_source - 1) == 0) {
        char rest[sizeof diag->message];
        snprintf(rest, sizeof rest, "%s", diag->message + sizeof server_source - 1);
        snprintf(diag->message, sizeof diag->message, "%s%s", source, rest);
    }
    return rc;
}

static int node_show(cli_backend *b, const char *id, char **out, cutoff_diag *diag)
{
    return get(R(b), api_path(R(b), "nodes", id, NULL), out, diag);
}

/* ---- cases -------------------------------------------------------------------------- */

static int case_open(cli_backend *b, const char *id, const char *title, const char *const *scope,
                     size_t n_scope, char **out, cutoff_diag *diag)
{
    json_t *ids = json_array();
    for (size_t i = 0; i < n_scope; i++)
        json_array_append_new(ids, json_string(scope[i]));
    json_t *body = json_pack("{s:s, s:o}", "title", title, "scope", ids);
    if (body && id)
        json_object_set_new(body, "id", json_string(id));
    return request_json(R(b), "POST", api_path(R(b), "cases", NULL), body, out, diag);
}

static int case_evidence(cli_backend *b, const char *case_id, const char *path,
                         const char *media_type, const char *note, bool keep, char **out,
                         cutoff_diag *diag)
{
    remote *r = R(b);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return said(cli_error("%s: %s", path, strerror(errno)));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return said(cli_error("%s: not a regular file", path));
    }
    text t = {.p = api_path(r, "cases", case_id, "evidence", NULL)};
    const char *slash = strrchr(path, '/');
    query_add(&t, r, "name", slash ? slash + 1 : path); /* the record keeps the file's name */
    query_add(&t, r, "type", media_type);
    query_add(&t, r, "note", note);
    if (keep)
        query_add(&t, r, "keep", "1");
    call q = {.method = "POST",
              .path = t.p,
              .upload = f,
              .upload_size = (int64_t)st.st_size,
              .content_type = "application/octet-stream"};
    int rc = request(r, &q, out, diag);
    fclose(f);
    free(t.p);
    return rc;
}

static int case_findings(cli_backend *b, const char *case_id, const char *findings,
                         cutoff_diag *diag)
{
    return request_json(R(b), "POST", api_path(R(b), "cases", case_id, "findings", NULL),
                        json_pack("{s:s}", "findings", findings), NULL, diag);
}

static int case_close(cli_backend *b, const char *case_id, cutoff_diag *diag)
{
    call q = {.method = "POST", .path = api_path(R(b), "cases", case_id, "close", NULL)};
    int rc = request(R(b), &q, NULL, diag);
    free(q.path);
    return rc;
}

static int case_show(cli_backend *b, const char *case_id, char **out, cutoff_diag *diag)
{
    return get(R(b), api_path(R(b), "cases", case_id, NULL), out, diag);
}

static int case_list(cli_backend *b, char **out, cutoff_diag *diag)
{
    return get(R(b), api_path(R(b), "cases", NULL), out, diag);
}

/* ---- actions ---------------------------------------------------------------------------- */

static int action_propose(cli_backend *b, const char *body, size_t len, char **out,
                          cutoff_diag *diag)
{
    call q = {.method = "POST", .path = api_path(R(b), "actions", NULL), .body = body, .len = len};
    int rc = request(R(b), &q, out, diag);
    free(q.path);
    return rc;
}

static int action_preview(cli_backend *b, const char *id, int64_t activation, uint64_t offset,
                          uint64_t limit, char **out, cutoff_diag *diag)
{
    (void)activation; /* the verb refuses --at with a server */
    remote *r = R(b);
    text t = {.p = api_path(r, "actions", id, "preview", NULL)};
    query_add_count(&t, r, "offset", offset);
    query_add_count(&t, r, "limit", limit);
    return get(r, t.p, out, diag);
}

static int action_shadow(cli_backend *b, const char *id, const char *verb, char **out,
                         cutoff_diag *diag)
{
    if (strcmp(verb, "report") == 0)
        return get(R(b), api_path(R(b), "actions", id, "shadow", NULL), out, diag);
    call q = {.method = "POST", .path = api_path(R(b), "actions", id, "shadow", verb, NULL)};
    int rc = request(R(b), &q, out, diag);
    free(q.path);
    return rc;
}

static int action_approve(cli_backend *b, const char *id, char **out, cutoff_diag *diag)
{
    call q = {.method = "POST", .path = api_path(R(b), "actions", id, "approve", NULL)};
    int rc = request(R(b), &q, out, diag);
    free(q.path);
    return rc;
}

static int action_lift(cli_backend *b, const char *id, const char *reason, char **out,
                       cutoff_diag *diag)
{
    char *path = api_path(R(b), "actions", id, "lift", NULL);
    if (reason != NULL)
        return request_json(R(b), "POST", path, json_pack("{s:s}", "reason", reason), out, diag);
    call q = {.method = "POST", .path = path};
    int rc = request(R(b), &q, out, diag);
    free(path);
    return rc;
}

static int action_show(cli_backend *b, const char *id, char **out, cutoff_diag *diag)
{
    return get(R(b), api_path(R(b), "actions", id, NULL), out, diag);
}

static int action_list(cli_backend *b, char **out, cutoff_diag *diag)
{
    return get(R(b), api_path(R(b), "actions", NULL), out, diag);
}

/* ---- decisions -------------------------------------------------------------------------- */

/* obj[key], or null when absent (a copy: the caller owns it). */
static int check(cli_backend *b, const cli_request *req, bool as_of, char **out, cutoff_diag *diag)
{
    remote *r = R(b);
    text t = {.p = api_path(r, "explain", NULL)};
    char at[32];
    snprintf(at, sizeof at, "%lld", (long long)req->at);
    query_add(&t, r, "subscription", req->subscription);
    query_add(&t, r, "action", req->action);
    if (req->region)
        query_add(&t, r, "region", req->region);
    query_add(&t, r, as_of ? "as_of" : "at", at);
    /* The server answers the decision in its one shape, explanation included. */
    return get(r, t.p, out, diag);
}

/* Sends requests [from, to) as one POST /v1/check/batch and hands the
 * results to emit. */
static int check_chunk(remote *r, const cli_request *reqs, const bool *as_of, size_t from,
                       size_t to, cli_decision_fn emit, void *emit_ctx, cutoff_diag *diag)
{
    json_t *list = json_array();
    for (size_t i = from; i < to; i++) {
        const cli_request *q = &reqs[i];
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:o, s:I}", "subscription", q->subscription, "action",
                            q->action, "region", q->region ? json_string(q->region) : json_null(),
                            as_of && as_of[i] ? "as_of" : "at", (json_int_t)q->at));
    }
    char *answer = NULL;
    int rc = request_json(r, "POST", api_path(r, "check", "batch", NULL),
                          json_pack("{s:o}", "requests", list), &answer, diag);
    if (rc != 0)
        return rc;
    json_t *doc = json_loads(answer, 0, NULL);
    free(answer);
    json_t *results = json_object_get(doc, "results");
    if (json_array_size(results) != to - from) {
        json_decref(doc);
        return said(cli_error("%s answered %zu decisions for %zu requests", r->url,
                              json_array_size(results), to - from));
    }
    size_t i;
    json_t *v;
    json_array_foreach (results, i, v) {
        const char *decision = json_string_value(json_object_get(v, "decision"));
        const char *reason = json_string_value(json_object_get(v, "reason"));
        const char *by = json_string_value(json_object_get(v, "enforcement_action"));
        if (decision == NULL || reason == NULL) {
            rc = said(
                cli_error("%s answered a decision without \"decision\" or \"reason\"", r->url));
            break;
        }
        if (emit(emit_ctx, strcmp(decision, "allow") == 0, reason, by) != CLI_OK) {
            rc = CLI_REPORTED;
            break;
        }
    }
    json_decref(doc);
    return rc;
}

/* A chunk ends after BATCH_CHUNK requests or when its body would pass
 * BATCH_BODY_MAX (long ids), whichever comes first. */
static int check_batch(cli_backend *b, const cli_request *reqs, const bool *as_of, size_t n,
                       cli_decision_fn emit, void *emit_ctx, cutoff_diag *diag)
{
    size_t from = 0;
    while (from < n) {
        size_t to = from, bytes = 0;
        while (to < n && to - from < BATCH_CHUNK) {
            const cli_request *q = &reqs[to];
            size_t need = strlen(q->subscription) + strlen(q->action) +
                          (q->region ? strlen(q->region) : 4) + 80;
            if (to > from && bytes + need > BATCH_BODY_MAX)
                break;
            bytes += need;
            to++;
        }
        int rc = check_chunk(R(b), reqs, as_of, from, to, emit, emit_ctx, diag);
        if (rc != 0)
            return rc;
        from = to;
    }
    return 0;
}

/* ---- audit ---------------------------------------------------------------------------------- */

/* Pages through GET /v1/audit until `limit` records (0: all) are read. */
static int audit_log(cli_backend *b, uint64_t after, uint64_t limit, char **out, cutoff_diag *diag)
{
    remote *r = R(b);
    json_t *all = json_array();
    int rc = 0;
    for (;;) {
        uint64_t want = AUDIT_PAGE;
        if (limit != 0 && limit - json_array_size(all) < want)
            want = limit - json_array_size(all);
        if (want == 0)
            break;
        text t = {.p = api_path(r, "audit", NULL)};
        query_add_count(&t, r, "after", after);
        query_add_count(&t, r, "limit", want);
        char *answer = NULL;
        if ((rc = get(r, t.p, &answer, diag)) != 0)
            break;
        json_t *page = json_loads(answer, 0, NULL);
        free(answer);
        size_t n = json_array_size(page);
        json_array_extend(all, page);
        json_t *last = json_array_get(page, n - 1);
        json_int_t seq = json_integer_value(json_object_get(last, "seq"));
        json_decref(page);
        if (n < want || seq <= 0)
            break;
        after = (uint64_t)seq;
    }
    if (rc == 0) {
        *out = cli_own_text(json_dumps(all, JSON_COMPACT | JSON_PRESERVE_ORDER));
        if (*out == NULL)
            rc = CUTOFF_ENOMEM;
    }
    json_decref(all);
    return rc;
}

static int audit_verify(cli_backend *b, char **out, cutoff_diag *diag)
{
    return get(R(b), api_path(R(b), "audit", "verify", NULL), out, diag);
}

/* ---- opening ----------------------------------------------------------------------------------
 */

static void remote_close(cli_backend *b)
{
    remote *r = R(b);
    curl_easy_cleanup(r->curl);
    free(r->url);
    if (r->auth)
        memset(r->auth, 0, strlen(r->auth));
    free(r->auth);
    free(r);
    curl_global_cleanup();
}

static const cli_backend_ops remote_ops = {
    .catalog_load = catalog_load,
    .catalog_get = catalog_get,
    .nodes_import = nodes_import,
    .node_show = node_show,
    .case_open = case_open,
    .case_evidence = case_evidence,
    .case_findings = case_findings,
    .case_close = case_close,
    .case_show = case_show,
    .case_list = case_list,
    .action_propose = action_propose,
    .action_preview = action_preview,
    .action_shadow = action_shadow,
    .action_approve = action_approve,
    .action_lift = action_lift,
    .action_show = action_show,
    .action_list = action_list,
    .check = check,
    .check_batch = check_batch,
    .audit_log = audit_log,
    .audit_verify = audit_verify,
    .close = remote_close,
};

/* A token is one line of visible ASCII: anything else could not be sent
 * in a header, or would end it early. Trailing whitespace (the newline of
 * a file) is dropped. */
static int check_token(char *token, const char *from)
{
    size_t n = strlen(token);
    while (n > 0 && (token[n - 1] == '\n' || token[n - 1] == '\r' || token[n - 1] == ' ' ||
                     token[n - 1] == '\t'))
        token[--n] = '\0';
    if (n == 0)
        return cli_error("%s: the token is empty", from);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)token[i] <= 0x20 || (unsigned char)token[i] >= 0x7f)
            return cli_error("%s: a token is one line of visible ASCII characters", from);
    return CLI_OK;
}

/* The bearer token: --token-file, else $CUTOFF_TOKEN_FILE, else
 * $CUTOFF_TOKEN. Sets *from to name the source in messages. */
static int read_token(cli *c, char **out, const char **from)
{
    const char *file = c->token_file_opt;
    const char *env_file = getenv("CUTOFF_TOKEN_FILE");
    const char *env_token = getenv("CUTOFF_TOKEN");
    if (file == NULL && env_file && env_file[0])
        file = env_file;
    if (file != NULL) {
        char *data = NULL;
        size_t len = 0;
        int rc = cli_read_file(file, &data, &len);
        if (rc != CLI_OK)
            return rc;
        if (strlen(data) != len) {
            free(data);
            return cli_error("%s: a token file holds text, not a NUL byte", file);
        }
        data[strcspn(data, "\n")] = '\0'; /* the first line is the token */
        *from = file;
        if ((rc = check_token(data, file)) != CLI_OK) {
            free(data);
            return rc;
        }
        *out = data;
        return CLI_OK;
    }
    if (env_token && env_token[0]) {
        char *copy = strdup(env_token);
        if (copy == NULL)
            return cli_error("out of memory");
        *from = "$CUTOFF_TOKEN";
        int rc = check_token(copy, "$CUTOFF_TOKEN");
        if (rc != CLI_OK) {
            free(copy);
            return rc;
        }
        *out = copy;
        return CLI_OK;
    }
    return cli_usage(c,
                     "the server %s needs a token: give --token-file FILE, or set "
                     "$CUTOFF_TOKEN_FILE or $CUTOFF_TOKEN ('cutoff token create' makes one)",
                     c->server);
}

int cli_remote_open(cli *c, cli_backend **out)
{
    const char *url = c->server;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return cli_usage(c,
                         "--server \"%s\" is not an http:// or https:// URL (e.g. "
                         "http://127.0.0.1:8081, cutoffd's admin listener)",
                         url);
    char *token = NULL;
    const char *from = NULL;
    int rc = read_token(c, &token, &from);
    if (rc != CLI_OK)
        return rc;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(token);
        return cli_error("cannot initialise the HTTP client library");
    }
    remote *r = xalloc(NULL, sizeof *r);
    memset(r, 0, sizeof *r);
    r->base.ops = &remote_ops;
    r->base.c = c;
    r->token_from = from;
    r->curl = curl_easy_init();
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    r->url = xalloc(NULL, n + 1);
    memcpy(r->url, url, n);
    r->url[n] = '\0';
    size_t auth_len = strlen(token) + 32;
    r->auth = xalloc(NULL, auth_len);
    snprintf(r->auth, auth_len, "Authorization: Bearer %s", token);
    memset(token, 0, strlen(token));
    free(token);
    if (r->curl == NULL) {
        remote_close(&r->base);
        return cli_error("cannot initialise the HTTP client library");
    }
    *out = &r->base;
    return CLI_OK;
}
