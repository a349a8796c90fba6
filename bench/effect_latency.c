/* SPDX-License-Identifier: Apache-2.0 */
/*
 * effect_latency.c - how long after an approval (or a lift) is committed
 * cutoffd's decisions change, seen from outside over HTTP, for
 * bench/http.sh. One keep-alive connection asks POST /v1/check for a probe
 * request back to back; the change is made either through the admin API
 * (POST /v1/actions/ID/approve, then /lift: "committed" is when the answer
 * arrives) or by running the CLI on the same database ("committed" is when
 * the CLI has exited, so the watcher path is measured). The figure of a
 * round is the time from the commit to the arrival of the first answer
 * that shows the new decision, an upper bound that includes one round
 * trip. Raw sockets rather than an HTTP library, so that nothing but the
 * loopback stands between the clock and cutoffd.
 *
 * With --port given several times (a fleet, bench/fleet.sh), every node is
 * asked in each poll (the requests go out on all connections before any
 * answer is read) and the figure of a round is the time until the LAST
 * node answers with the new decision; nodes that already did are not asked
 * again in that round. --poll-us U starts a round of polls at most every U
 * microseconds (default 0: back to back).
 *
 *   effect_latency --port P --probe JSON --prefix ID --rounds K
 *                  --admin-port A --token TOKEN        (through the admin API)
 *   effect_latency --port P --probe JSON --prefix ID --rounds K
 *                  --cli CUTOFF --db PATH --actor NAME (through the CLI)
 *
 * The actions PREFIX1 .. PREFIXK must exist as drafts proposed by someone
 * else than the approver, and the probe must be allowed before each round
 * and denied by each action. Prints "result name=effect.MODE_approve
 * unit=ms median=X p99=X min=X max=X runs=K" (and _lift, and commit.MODE_* for
 * the time the commit call itself took), each followed by an "info" line
 * with every round's figure, sorted, and an "info" line with the polls
 * needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 1000
#define MAX_NODES 16
#define POLL_LIMIT_NS (10ull * 1000000000ull) /* a change not seen in 10 s is a failure */

typedef struct options {
    int ports[MAX_NODES], nports, admin_port, rounds, poll_us;
    const char *probe, *prefix, *token, *cli, *db, *actor;
} options;

typedef struct conn {
    int fd;
    char buf[65536];
    size_t have; /* bytes in buf not yet consumed */
} conn;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "effect_latency: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

/* Connects to 127.0.0.1:port with Nagle off, so a request leaves at once. */
static void conn_open(conn *c, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    char where[32];
    snprintf(where, sizeof where, "127.0.0.1:%d", port);
    c->have = 0;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0)
        die("cannot connect to %s", where);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write failed: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

/* Reads more of the answer into c->buf. */
static void fill(conn *c)
{
    if (c->have == sizeof c->buf)
        die("an answer is larger than %s bytes", "65536");
    ssize_t r;
    do
        r = read(c->fd, c->buf + c->have, sizeof c->buf - c->have);
    while (r < 0 && errno == EINTR);
    if (r <= 0)
        die("the server closed the connection (%s)", r == 0 ? "end of stream" : strerror(errno));
    c->have += (size_t)r;
}

/* Sends one request on a keep-alive connection. */
static void send_request(conn *c, const char *method, const char *path, const char *auth,
                         const char *body)
{
    char req[4096];
    size_t blen = body ? strlen(body) : 0;
    int len =
        snprintf(req, sizeof req,
                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%sContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 method, path, auth ? "Authorization: Bearer " : "", auth ? auth : "",
                 auth ? "\r\n" : "", blen, body ? body : "");
    if (len < 0 || (size_t)len >= sizeof req)
        die("request too long: %s", path);
    write_all(c->fd, req, (size_t)len);
}

/* Reads one whole answer. Its body is copied, NUL-terminated, into out
 * (truncated to n - 1). Returns the HTTP status. */
static int read_answer(conn *c, char *out, size_t n)
{
    char *end;
    while ((end = memmem(c->buf, c->have, "\r\n\r\n", 4)) == NULL)
        fill(c);
    size_t head_len = (size_t)(end - c->buf) + 4;
    int status = 0;
    if (sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1)
        die("not an HTTP answer: %.40s", c->buf);
    size_t content_length = 0;
    for (char *line = c->buf; line < end; line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            content_length = strtoul(line + 15, NULL, 10);
    }
    while (c->have < head_len + content_length)
        fill(c);
    size_t copy = content_length < n - 1 ? content_length : n - 1;
    memcpy(out, c->buf + head_len, copy);
    out[copy] = '\0';
    c->have -= head_len + content_length;
    memmove(c->buf, c->buf + head_len + content_length, c->have);
    return status;
}

/* One request and its whole answer. */
static int roundtrip(conn *c, const char *method, const char *path, const char *auth,
                     const char *body, char *out, size_t n)
{
    send_request(c, method, path, auth, body);
    return read_answer(c, out, n);
}

/* Runs the CLI: cutoff --db DB --actor ACTOR action VERB ID. Returns its
 * exit status. */
static int run_cli(const options *o, const char *verb, const char *id)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 1);
        execl(o->cli, o->cli, "--db", o->db, "--actor", o->actor, "action", verb, id, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Whether a check answer carries the decision wanted ("allow" / "deny"). */
static bool decided(const char *answer, const char *want)
{
    char needle[40];
    snprintf(needle, sizeof needle, "\"decision\":\"%s\"", want);
    return strstr(answer, needle) != NULL;
}

/* Makes the change (approve or lift ID), then polls the probe on every
 * node until each decides `want`. Returns ns from the commit to the last
 * node's first such answer; fills the polls (rounds of requests) it took
 * and the time the commit call itself took. */
static uint64_t flip(const options *o, conn *check, conn *admin, const char *verb, const char *id,
                     const char *want, int *polls, uint64_t *commit_ns)
{
    char answer[8192], path[256];
    uint64_t t0 = now_ns();
    if (o->cli) {
        int st = run_cli(o, verb, id);
        if (st != 0) {
            fprintf(stderr, "effect_latency: cutoff action %s %s exited with %d\n", verb, id, st);
            exit(1);
        }
    } else {
        snprintf(path, sizeof path, "/v1/actions/%s/%s", id, verb);
        int st = roundtrip(admin, "POST", path, o->token,
                           strcmp(verb, "lift") == 0 ? "{\"reason\":\"benchmark round\"}" : NULL,
                           answer, sizeof answer);
        if (st != 200) {
            fprintf(stderr, "effect_latency: POST %s answered %d: %s\n", path, st, answer);
            exit(1);
        }
    }
    uint64_t committed = now_ns(), last = committed;
    *commit_ns = committed - t0;
    *polls = 0;
    bool seen[MAX_NODES] = {false};
    int left = o->nports;
    while (left > 0) {
        for (int i = 0; i < o->nports; i++)
            if (!seen[i])
                send_request(&check[i], "POST", "/v1/check", NULL, o->probe);
        ++*polls;
        uint64_t sent = now_ns();
        for (int i = 0; i < o->nports; i++) {
            if (seen[i])
                continue;
            int st = read_answer(&check[i], answer, sizeof answer);
            uint64_t t = now_ns();
            if (st == 200 && decided(answer, want)) {
                seen[i] = true;
                left--;
                last = t;
            } else if (t - committed > POLL_LIMIT_NS) {
                fprintf(stderr,
                        "effect_latency: after %s %s node %d (port %d) still answers %d %s\n", verb,
                        id, i + 1, o->ports[i], st, answer);
                exit(1);
            }
        }
        /* A pause between rounds of polls, so that the poller does not
         * take a core from the nodes it measures. */
        uint64_t took = now_ns() - sent;
        if (left > 0 && o->poll_us > 0 && took < (uint64_t)o->poll_us * 1000u) {
            struct timespec pause = {0, (long)((uint64_t)o->poll_us * 1000u - took)};
            nanosleep(&pause, NULL);
        }
    }
    return last - committed;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Prints a result line (ms) for v[0..n), sorting v. */
static void report(const char *name, uint64_t *v, int n)
{
    if (n < 1)
        return;
    qsort(v, (size_t)n, sizeof *v, cmp_u64);
    double median = n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
    /* The nearest rank: with fewer than 100 values, the maximum. */
    size_t rank = ((size_t)n * 99 + 99) / 100;
    printf("result name=%s unit=ms median=%.3f p99=%.3f min=%.3f max=%.3f runs=%d\n", name,
           median / 1e6, (double)v[rank - 1] / 1e6, (double)v[0] / 1e6, (double)v[n - 1] / 1e6, n);
    printf("info %s.values_ms=", name);
    for (int i = 0; i < n; i++)
        printf("%s%.2f", i ? "," : "", (double)v[i] / 1e6);
    putchar('\n');
}

static const char usage[] =
    "usage: effect_latency --port P [--port P2 ...] --probe JSON --prefix ID --rounds K\n"
    "                      [--poll-us U]\n"
    "                      (--admin-port A --token TOKEN | --cli CUTOFF --db PATH --actor NAME)\n";

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.rounds = 20};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            fputs(usage, stderr);
            exit(2);
        }
        i++;
        if (strcmp(a, "--port") == 0 && o->nports < MAX_NODES)
            o->ports[o->nports++] = atoi(v);
        else if (strcmp(a, "--admin-port") == 0)
            o->admin_port = atoi(v);
        else if (strcmp(a, "--rounds") == 0)
            o->rounds = atoi(v);
        else if (strcmp(a, "--poll-us") == 0)
            o->poll_us = atoi(v);
        else if (strcmp(a, "--probe") == 0)
            o->probe = v;
        else if (strcmp(a, "--prefix") == 0)
            o->prefix = v;
        else if (strcmp(a, "--token") == 0)
            o->token = v;
        else if (strcmp(a, "--cli") == 0)
            o->cli = v;
        else if (strcmp(a, "--db") == 0)
            o->db = v;
        else if (strcmp(a, "--actor") == 0)
            o->actor = v;
        else {
            fputs(usage, stderr);
            exit(2);
        }
    }
    bool api = o->admin_port > 0 && o->token, cli = o->cli && o->db && o->actor;
    bool ports_ok = o->nports > 0;
    for (int i = 0; i < o->nports; i++)
        ports_ok = ports_ok && o->ports[i] > 0;
    if (!ports_ok || o->poll_us < 0 || o->poll_us > 1000000 || !o->probe || !o->prefix ||
        o->rounds < 1 || o->rounds > MAX_ROUNDS || api == cli) {
        fputs(usage, stderr);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    options o;
    parse(argc, argv, &o);
    static conn check[MAX_NODES], admin;
    for (int i = 0; i < o.nports; i++)
        conn_open(&check[i], o.ports[i]);
    if (!o.cli)
        conn_open(&admin, o.admin_port);
    const char *mode = o.cli ? "cli" : "api";
    uint64_t approve[MAX_ROUNDS], lift[MAX_ROUNDS], commit_approve[MAX_ROUNDS],
        commit_lift[MAX_ROUNDS];
    uint64_t polls_total = 0;
    int polls_max = 0;
    char answer[8192], id[160], name[64];
    for (int r = 0; r < o.rounds; r++) {
        snprintf(id, sizeof id, "%s%d", o.prefix, r + 1);
        for (int i = 0; i < o.nports; i++)
            if (roundtrip(&check[i], "POST", "/v1/check", NULL, o.probe, answer, sizeof answer) !=
                    200 ||
                !decided(answer, "allow"))
                die("the probe is not allowed before the round: %s", answer);
        int polls;
        approve[r] = flip(&o, check, &admin, "approve", id, "deny", &polls, &commit_approve[r]);
        polls_total += (uint64_t)polls;
        polls_max = polls > polls_max ? polls : polls_max;
        lift[r] = flip(&o, check, &admin, "lift", id, "allow", &polls, &commit_lift[r]);
        polls_total += (uint64_t)polls;
        polls_max = polls > polls_max ? polls : polls_max;
    }
    snprintf(name, sizeof name, "effect.%s_approve", mode);
    report(name, approve, o.rounds);
    snprintf(name, sizeof name, "effect.%s_lift", mode);
    report(name, lift, o.rounds);
    snprintf(name, sizeof name, "commit.%s_approve", mode);
    report(name, commit_approve, o.rounds);
    snprintf(name, sizeof name, "commit.%s_lift", mode);
    report(name, commit_lift, o.rounds);
    printf("info mode=%s nodes=%d rounds=%d polls_mean=%.1f polls_max=%d\n", mode, o.nports,
           o.rounds, (double)polls_total / (2.0 * o.rounds), polls_max);
    return 0;
}
