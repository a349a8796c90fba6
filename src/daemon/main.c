/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - cutoffd: flags and configuration, the two listeners (decisions,
 * and admin on 127.0.0.1 by default), signals (SIGTERM/SIGINT drain and
 * exit, SIGHUP reloads routes, notice base, log_decisions and tokens), and the watcher
 * that keeps the published snapshot equal to the database.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: cutoffd [OPTIONS]\n"
    "\n"
    "Serves cutoff decisions over HTTP and the admin API for operators.\n"
    "\n"
    "Options (flags override the configuration file):\n"
    "  -c, --config FILE        JSON configuration (see docs/cutoffd.md)\n"
    "  -d, --db PATH            database (default: $CUTOFF_DB or ./cutoff.db)\n"
    "  -l, --listen HOST:PORT   decision listener (default 127.0.0.1:8080; port 0 picks one)\n"
    "  -a, --admin-listen HOST:PORT  admin listener (default 127.0.0.1:8081)\n"
    "  -t, --tokens FILE        admin bearer tokens, hashed (see 'cutoff token create')\n"
    "      --threads N          HTTP threads per listener (default 2)\n"
    "      --log FILE           JSON lines log (default: standard error)\n"
    "      --log-decisions      log every decision request too\n"
    "      --port-file FILE     write \"DECISION_PORT ADMIN_PORT\" there once serving\n"
    "      --routes[=FORMAT]    print the admin API's route table and exit: the role\n"
    "                           matrix as a Markdown table, or FORMAT json (JSON lines)\n"
    "  -h, --help               this text\n"
    "      --version            the version\n"
    "\n"
    "Signals: SIGTERM or SIGINT stop accepting, drain open requests (up to 5 s)\n"
    "and exit 0; SIGHUP reloads routes, notice_base, log_decisions and the tokens file.\n"
    "Exit status: 0 after a clean stop, 1 when it cannot start (also: a tokens file\n"
    "others may write, an admin listener off loopback without admin_allow_remote),\n"
    "2 on a usage error.\n";

static cutoffd the_daemon;

/* This node's id in the receipts: node_id, or HOST:DECISION_PORT (the
 * port it listens on, also when the configuration said 0). */
static void node_id_set(cutoffd *d)
{
    if (d->cfg.node_id) {
        snprintf(d->node_id, sizeof d->node_id, "%s", d->cfg.node_id);
        return;
    }
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    char port[16];
    snprintf(port, sizeof port, ":%u", co__http_port(d->decision));
    /* A host name too long for the id keeps its end: the port. */
    size_t room = sizeof d->node_id - 1 - strlen(port);
    snprintf(d->node_id, sizeof d->node_id, "%.*s%s", (int)room, host, port);
    if (!config_node_id_valid(d->node_id))
        snprintf(d->node_id, sizeof d->node_id, "cutoffd%s", port);
}

static int load_tokens(cutoffd *d, const char *path, char *err, size_t n)
{
    token_table *t;
    if (tokens_load(path, &t, err, n) != 0)
        return -1;
    token_table *old = atomic_exchange(&d->tokens, t);
    if (old) {
        struct retired_tokens *r = malloc(sizeof *r);
        if (r) {
            r->table = old;
            r->next = d->retired_tokens;
            d->retired_tokens = r;
        }
    }
    return 0;
}

/* SIGHUP: re-read the configuration file and the tokens file; keep the
 * running ones when either is bad. */
static void reload(cutoffd *d)
{
    char err[512];
    daemon_config *fresh = calloc(1, sizeof *fresh);
    if (fresh == NULL)
        return;
    if (config_load(d->config_path, fresh, err, sizeof err) != 0) {
        daemon_log(d, "error", "reload_failed", json_pack("{s:s}", "error", err));
        free(fresh);
        return;
    }
    /* Flags given at start still win over the file. */
    fresh->log_decisions |= d->cfg.log_decisions;
    const char *tokens = d->cfg.tokens_file ? d->cfg.tokens_file : fresh->tokens_file;
    if (load_tokens(d, tokens, err, sizeof err) != 0) {
        daemon_log(d, "error", "reload_failed", json_pack("{s:s}", "error", err));
        config_free(fresh);
        free(fresh);
        return;
    }
    daemon_config *old = atomic_exchange(&d->live, fresh);
    retired_config *r = malloc(sizeof *r);
    if (r) {
        *r = (retired_config){old, d->retired_configs};
        d->retired_configs = r;
    }
    metrics_admin(&d->metrics, "tokens.reload", 200);
    daemon_log(d, "info", "reloaded",
               json_pack("{s:i,s:i}", "routes", (int)fresh->n_routes, "tokens",
                         (int)atomic_load(&d->tokens)->n));
}

static void cleanup(cutoffd *d)
{
    daemon_state_close(d);
    for (retired_config *r = d->retired_configs, *next; r; r = next) {
        next = r->next;
        if (r->cfg != &d->cfg) {
            config_free(r->cfg);
            free(r->cfg);
        }
        free(r);
    }
    daemon_config *live = atomic_load(&d->live);
    if (live && live != &d->cfg) {
        config_free(live);
        free(live);
    }
    tokens_free(atomic_load(&d->tokens));
    for (struct retired_tokens *r = d->retired_tokens, *next; r; r = next) {
        next = r->next;
        tokens_free(r->table);
        free(r);
    }
    config_free(&d->cfg);
    if (d->log && d->log != stderr)
        fclose(d->log);
}

int main(int argc, char **argv)
{
    cutoffd *d = &the_daemon;
    enum { OPT_THREADS = 256, OPT_LOG, OPT_LOG_DECISIONS, OPT_PORT_FILE, OPT_VERSION, OPT_ROUTES };
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"db", required_argument, NULL, 'd'},
                                            {"listen", required_argument, NULL, 'l'},
                                            {"admin-listen", required_argument, NULL, 'a'},
                                            {"tokens", required_argument, NULL, 't'},
                                            {"threads", required_argument, NULL, OPT_THREADS},
                                            {"log", required_argument, NULL, OPT_LOG},
                                            {"log-decisions", no_argument, NULL, OPT_LOG_DECISIONS},
                                            {"port-file", required_argument, NULL, OPT_PORT_FILE},
                                            {"routes", optional_argument, NULL, OPT_ROUTES},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, OPT_VERSION},
                                            {NULL, 0, NULL, 0}};
    const char *db = NULL, *listen = NULL, *admin_listen = NULL, *tokens = NULL, *log_file = NULL,
               *port_file = NULL;
    long threads = 0;
    bool log_decisions = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:d:l:a:t:h", options, NULL)) != -1) {
        switch (c) {
        case 'c': d->config_path = optarg; break;
        case 'd': db = optarg; break;
        case 'l': listen = optarg; break;
        case 'a': admin_listen = optarg; break;
        case 't': tokens = optarg; break;
        case OPT_LOG: log_file = optarg; break;
        case OPT_LOG_DECISIONS: log_decisions = true; break;
        case OPT_PORT_FILE: port_file = optarg; break;
        case OPT_THREADS: {
            char *end;
            errno = 0;
            threads = strtol(optarg, &end, 10);
            if (errno || *end || threads < 1 || threads > 256) {
                fprintf(stderr, "cutoffd: --threads takes a number from 1 to 256\n");
                return 2;
            }
            break;
        }
        case OPT_ROUTES:
            if (optarg && strcmp(optarg, "json") != 0 && strcmp(optarg, "markdown") != 0) {
                fprintf(stderr, "cutoffd: --routes takes json or markdown\n");
                return 2;
            }
            return admin_routes_print(stdout, optarg && strcmp(optarg, "json") == 0) == 0 ? 0 : 1;
        case 'h': fputs(usage, stdout); return 0;
        case OPT_VERSION: printf("cutoffd %s\n", cutoff_version()); return 0;
        default: fprintf(stderr, "cutoffd: see 'cutoffd --help'\n"); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cutoffd: unexpected argument \"%s\"; see 'cutoffd --help'\n",
                argv[optind]);
        return 2;
    }

    char err[512];
    if (config_load(d->config_path, &d->cfg, err, sizeof err) != 0) {
        fprintf(stderr, "cutoffd: %s\n", err);
        return 1;
    }
#define OVERRIDE(field, value)                                                                     \
    do {                                                                                           \
        if (value) {                                                                               \
            free(d->cfg.field);                                                                    \
            d->cfg.field = strdup(value);                                                          \
        }                                                                                          \
    } while (0)
    OVERRIDE(database, db);
    OVERRIDE(decision_listen, listen);
    OVERRIDE(admin_listen, admin_listen);
    OVERRIDE(tokens_file, tokens);
    OVERRIDE(log_file, log_file);
#undef OVERRIDE
    if (d->cfg.database)
        cutoff_db_location_shown(d->cfg.database, d->db_shown, sizeof d->db_shown);
    if (threads)
        d->cfg.limits.threads = (unsigned)threads;
    d->cfg.log_decisions |= log_decisions;
    atomic_store(&d->live, &d->cfg);
    /* The admin API in plain HTTP off this host: only when asked for. */
    bool admin_remote = !config_listen_is_loopback(d->cfg.admin_listen);
    if (admin_remote && !d->cfg.admin_allow_remote) {
        fprintf(stderr,
                "cutoffd: the admin listener %s is not a loopback address; cutoffd speaks plain "
                "HTTP: put TLS in front and set \"admin_allow_remote\": true to allow it\n",
                d->cfg.admin_listen);
        config_free(&d->cfg);
        return 1;
    }

    pthread_mutex_init(&d->write_lock, NULL);
    pthread_mutex_init(&d->readers_lock, NULL);
    pthread_mutex_init(&d->log_lock, NULL);
    pthread_mutex_init(&d->status_lock, NULL);
    /* Writers first: a rebuild must not wait behind a stream of deciding
     * threads. */
    pthread_rwlockattr_t shadow_attr;
    pthread_rwlockattr_init(&shadow_attr);
    pthread_rwlockattr_setkind_np(&shadow_attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&d->shadow_lock, &shadow_attr);
    pthread_rwlockattr_destroy(&shadow_attr);
    if (d->cfg.log_file && strcmp(d->cfg.log_file, "-") != 0) {
        d->log = fopen(d->cfg.log_file, "a");
        if (d->log == NULL) {
            fprintf(stderr, "cutoffd: cannot open log file %s: %s\n", d->cfg.log_file,
                    strerror(errno));
            config_free(&d->cfg);
            return 1;
        }
    }
    if (load_tokens(d, d->cfg.tokens_file, err, sizeof err) != 0) {
        fprintf(stderr, "cutoffd: %s\n", err);
        cleanup(d);
        return 1;
    }

    /* Signals go to this thread only, through sigwait below. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (daemon_key_open(d, err, sizeof err) != 0 || daemon_state_open(d, err, sizeof err) != 0) {
        fprintf(stderr, "cutoffd: %s\n", err);
        cleanup(d);
        return 1;
    }
    if (d->cfg.watch_ms_given)
        daemon_log(d, "warn", "config_deprecated",
                   json_pack("{s:s,s:s}", "key", "watch_ms", "message",
                             "watch_ms is read as safety_interval_ms: changes now wake cutoffd, "
                             "and only the slow re-read remains; rename the key"));
    if (admin_remote)
        daemon_log(d, "warn", "admin_remote",
                   json_pack("{s:s,s:s}", "admin", d->cfg.admin_listen, "message",
                             "the admin API listens off loopback in plain HTTP: bearer tokens "
                             "cross the network readable unless TLS is in front"));
    co__http_callbacks decision_cb = {
        .handle = decision_handle, .done = daemon_log_request, .ctx = d};
    co__http_callbacks admin_cb = {.admit = admin_admit,
                                   .handle = admin_handle,
                                   .done = daemon_log_request,
                                   .ctx = d,
                                   .spools = true};
    co__http_limits decision_limits = d->cfg.limits, admin_limits = d->cfg.limits;
    decision_limits.connections_per_client = d->cfg.decision_per_client;
    admin_limits.connections_per_client = d->cfg.admin_per_client;
    d->decision =
        co__http_start(d->cfg.decision_listen, &decision_limits, &decision_cb, err, sizeof err);
    if (d->decision)
        d->admin = co__http_start(d->cfg.admin_listen, &admin_limits, &admin_cb, err, sizeof err);
    if (d->decision != NULL && d->admin != NULL)
        node_id_set(d);
    if (d->decision == NULL || d->admin == NULL || daemon_watch_start(d) != 0) {
        fprintf(stderr, "cutoffd: %s\n", err);
        co__http_stop(d->decision, 0);
        cleanup(d);
        return 1;
    }
    unsigned dport = co__http_port(d->decision), aport = co__http_port(d->admin);
    daemon_log(d, "info", "listening",
               json_pack("{s:s,s:i,s:s,s:i,s:s,s:i,s:s}", "decision", d->cfg.decision_listen,
                         "decision_port", (int)dport, "admin", d->cfg.admin_listen, "admin_port",
                         (int)aport, "database", d->db_shown, "threads", (int)d->cfg.limits.threads,
                         "node_id", d->node_id));
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (f) {
            fprintf(f, "%u %u\n", dport, aport);
            fclose(f);
        }
    }

    for (;;) {
        int sig = 0;
        if (sigwait(&signals, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            reload(d);
            continue;
        }
        break;
    }
    daemon_log(d, "info", "stopping", json_pack("{s:s}", "why", "signal"));
    atomic_store(&d->stopping, true); /* /readyz now says 503 */
    co__http_stop(d->decision, 5000);
    co__http_stop(d->admin, 5000);
    daemon_watch_stop(d);
    daemon_log(d, "info", "stopped", NULL);
    cleanup(d);
    return 0;
}
