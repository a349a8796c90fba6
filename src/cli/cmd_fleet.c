/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_fleet.c - the decision nodes (cutoffd) that share the database, as
 * their receipts tell: "fleet status" lists what each one enforces and
 * how far behind the change log it is, and --wait-enforced (action
 * approve / lift) waits until every live node enforces a change. A node
 * is live while its last receipt is newer than --silent-after seconds and
 * does not say it stopped. Both read the database, so they work locally
 * only.
 */
#include "cli/cli.h"
#include "util/clock.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The state of the fleet as one read saw it. */
typedef struct fleet_view {
    uint64_t head; /* the newest change */
    cutoff_receipt *nodes;
    size_t n;
} fleet_view;

static int fleet_read(cutoff_db *db, fleet_view *v)
{
    cutoff_changes ch;
    int rc = cutoff_db_changes(db, 0, &ch);
    if (rc == 0)
        rc = cutoff_db_receipts(db, &v->nodes, &v->n);
    v->head = rc == 0 ? ch.head : 0;
    return rc;
}

static void fleet_free(fleet_view *v)
{
    cutoff_receipts_free(v->nodes, v->n);
    memset(v, 0, sizeof *v);
}

/* A node's status as the fleet sees it: what it reported, or "silent"
 * when it has not reported for longer than silent_after. */
static const char *node_status(const cutoff_receipt *r, int64_t now, uint64_t silent_after)
{
    if (strcmp(r->status, "stopped") == 0)
        return "stopped";
    if (now - r->heartbeat_at > (int64_t)silent_after)
        return "silent";
    return r->status;
}

static bool node_live(const cutoff_receipt *r, int64_t now, uint64_t silent_after)
{
    const char *s = node_status(r, now, silent_after);
    return strcmp(s, "stopped") != 0 && strcmp(s, "silent") != 0;
}

/* Live nodes enforcing the same sequence must hold the same snapshot; the
 * first that does not is named in *which. */
static bool digests_agree(const fleet_view *v, int64_t now, uint64_t silent_after,
                          const char **which)
{
    for (size_t i = 0; i < v->n; i++)
        for (size_t j = i + 1; j < v->n; j++) {
            const cutoff_receipt *a = &v->nodes[i], *b = &v->nodes[j];
            if (node_live(a, now, silent_after) && node_live(b, now, silent_after) &&
                a->seq == b->seq && a->digest[0] && b->digest[0] &&
                strcmp(a->digest, b->digest) != 0) {
                *which = b->node;
                return false;
            }
        }
    return true;
}

static int parse_seconds(const cli *c, const char *option, const char *text, uint64_t *out)
{
    int rc = cli_parse_count(c, option, text, out);
    if (rc == CLI_OK && (*out == 0 || *out > 86400))
        return cli_usage(c, "%s takes 1 to 86400 seconds", option);
    return rc;
}

/* ---- fleet status ------------------------------------------------------------ */

static int fleet_status(cli *c, int argc, char **argv)
{
    const char *silent_opt = NULL;
    const cli_opt opts[] = {{"silent-after", &silent_opt, NULL}, {0}};
    char *pos[1];
    int n_pos;
    uint64_t silent_after = CLI_SILENT_AFTER_S;
    int rc = cli_parse(c, argc, argv, opts, pos, 0, &n_pos);
    if (rc != CLI_OK)
        return rc;
    if (silent_opt && (rc = parse_seconds(c, "--silent-after", silent_opt, &silent_after)) != 0)
        return rc;
    c->read_only = true;
    cutoff_db *db = NULL;
    if ((rc = cli_open_db(c, false, "fleet status", &db)) != CLI_OK)
        return rc;
    fleet_view v = {0};
    int err = fleet_read(db, &v);
    cutoff_db_close(db);
    if (err != 0)
        return cli_fail(err, NULL, "reading the receipts");

    int64_t now = cli_now();
    size_t live = 0, lagging = 0;
    for (size_t i = 0; i < v.n; i++) {
        const cutoff_receipt *r = &v.nodes[i];
        if (!node_live(r, now, silent_after)) {
            lagging += strcmp(node_status(r, now, silent_after), "silent") == 0;
            continue;
        }
        live++;
        lagging += r->seq < v.head || strcmp(r->status, "ok") != 0;
    }
    const char *diverged = NULL;
    bool agree = digests_agree(&v, now, silent_after, &diverged);
    if (c->json) {
        json_t *nodes = json_array();
        for (size_t i = 0; i < v.n; i++) {
            const cutoff_receipt *r = &v.nodes[i];
            char applied[32], beat[32];
            json_array_append_new(
                nodes, json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:s}", "node", r->node,
                                 "status", node_status(r, now, silent_after), "reported_status",
                                 r->status, "seq", (json_int_t)r->seq, "behind",
                                 (json_int_t)(v.head > r->seq ? v.head - r->seq : 0), "applied_at",
                                 cutoff_time_format(r->applied_at, applied), "heartbeat_at",
                                 cutoff_time_format(r->heartbeat_at, beat), "heartbeat_age_s",
                                 (json_int_t)(now - r->heartbeat_at), "digest", r->digest));
        }
        json_t *o = json_pack("{s:I, s:I, s:I, s:b, s:o}", "head", (json_int_t)v.head,
                              "silent_after_s", (json_int_t)silent_after, "live", (json_int_t)live,
                              "digests_agree", agree, "nodes", nodes);
        cli_json_print(o);
        json_decref(o);
    } else {
        printf("change head %llu; %zu node%s, %zu live (silent after %llu s)\n",
               (unsigned long long)v.head, v.n, v.n == 1 ? "" : "s", live,
               (unsigned long long)silent_after);
        cli_table t;
        cli_table_init(&t, 7);
        const char *head[] = {"NODE",       "STATUS",    "SEQ",   "BEHIND",
                              "APPLIED_AT", "HEARTBEAT", "DIGEST"};
        for (size_t i = 0; i < 7; i++)
            cli_table_add(&t, head[i]);
        for (size_t i = 0; i < v.n; i++) {
            const cutoff_receipt *r = &v.nodes[i];
            char applied[32];
            cli_table_add(&t, r->node);
            cli_table_add(&t, node_status(r, now, silent_after));
            cli_table_addf(&t, "%llu", (unsigned long long)r->seq);
            cli_table_addf(&t, "%llu", (unsigned long long)(v.head > r->seq ? v.head - r->seq : 0));
            cli_table_add(&t, cutoff_time_format(r->applied_at, applied));
            cli_table_addf(&t, "%llds ago", (long long)(now - r->heartbeat_at));
            cli_table_add(&t, r->digest[0] ? r->digest : "-");
        }
        cli_table_print(&t, "  ", "0011000");
        cli_table_free(&t);
        if (!agree)
            printf("nodes at the same sequence hold different snapshots: %s differs\n", diverged);
    }
    fleet_free(&v);
    /* 0 only when every live node enforces the newest change, reports ok,
     * and they agree; no live node at all is not a healthy fleet. */
    return live > 0 && lagging == 0 && agree ? CLI_OK : CLI_FAIL;
}

int cli_cmd_fleet(cli *c, int argc, char **argv)
{
    static const cli_sub subs[] = {{"status", fleet_status}};
    return cli_run_subcommand(c, argc, argv, subs, sizeof subs / sizeof subs[0], "status");
}

/* ---- waiting for enforcement --------------------------------------------------- */

int cli_wait_check(cli *c, const char *wait_opt, const char *silent_opt, cli_wait *w)
{
    int rc;
    w->timeout_s = 0;
    w->silent_after_s = CLI_SILENT_AFTER_S;
    if (wait_opt == NULL) {
        if (silent_opt)
            return cli_usage(c, "--silent-after goes with --wait-enforced");
        return CLI_OK;
    }
    if ((rc = parse_seconds(c, "--wait-enforced", wait_opt, &w->timeout_s)) != CLI_OK ||
        (silent_opt &&
         (rc = parse_seconds(c, "--silent-after", silent_opt, &w->silent_after_s)) != CLI_OK))
        return rc;
    /* Refused before the change is made, not after. */
    if ((rc = cli_resolve(c)) != CLI_OK)
        return rc;
    if (c->server)
        return cli_usage(c,
                         "--wait-enforced reads the nodes' receipts in the database and works "
                         "with a local database only (--db), not through the server %s; run "
                         "'cutoff fleet status' where the database is",
                         c->server);
    return CLI_OK;
}

/* Names the live nodes below seq into buf ("a (at 41), b (at 40)"), and
 * counts live nodes and those done. */
static void laggards(const fleet_view *v, uint64_t seq, int64_t now, uint64_t silent_after,
                     char *buf, size_t n, size_t *live, size_t *done)
{
    size_t used = 0;
    *live = *done = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < v->n; i++) {
        const cutoff_receipt *r = &v->nodes[i];
        if (!node_live(r, now, silent_after))
            continue;
        (*live)++;
        if (r->seq >= seq) {
            (*done)++;
            continue;
        }
        int k = snprintf(buf + used, used < n ? n - used : 0, "%s%s (at %llu, %s)",
                         used ? ", " : "", r->node, (unsigned long long)r->seq, r->status);
        if (k > 0)
            used += (size_t)k;
    }
}

int cli_wait_enforced(cli *c, const cli_wait *w, const char *what)
{
    cutoff_db *db = NULL;
    bool was_read_only = c->read_only;
    fflush(stdout); /* what was changed, before the wait */
    c->read_only = true;
    int rc = cli_open_db(c, false, "--wait-enforced", &db);
    c->read_only = was_read_only;
    if (rc != CLI_OK)
        return rc;
    /* The change committed before this read, so the head is at least its
     * sequence (a later change by someone else only asks a little more). */
    fleet_view v = {0};
    int err = fleet_read(db, &v);
    uint64_t seq = v.head;
    int64_t deadline = co__monotonic_ms() + (int64_t)w->timeout_s * 1000;
    size_t live = 0, done = 0, last_done = (size_t)-1;
    char behind[1024] = "";
    while (err == 0) {
        int64_t now = cli_now();
        laggards(&v, seq, now, w->silent_after_s, behind, sizeof behind, &live, &done);
        if (live > 0 && done == live)
            break;
        if (done != last_done) {
            fprintf(stderr,
                    "cutoff: %s: waiting for change %llu: %zu of %zu live nodes enforce it\n", what,
                    (unsigned long long)seq, done, live);
            last_done = done;
        }
        if (co__monotonic_ms() >= deadline)
            break;
        /* A receipt is a write: it wakes this wait too. */
        cutoff_db_wait_change(db, 200);
        fleet_free(&v);
        err = fleet_read(db, &v);
    }
    cutoff_db_close(db);
    fleet_free(&v);
    if (err != 0)
        return cli_fail(err, NULL, "reading the receipts");
    if (live == 0)
        return cli_error("%s: committed as change %llu, but no live decision node reports to this "
                         "database (no receipt in the last %llu s); nothing is known to enforce it",
                         what, (unsigned long long)seq, (unsigned long long)w->silent_after_s);
    if (done < live) {
        fprintf(stderr,
                "cutoff: %s: committed as change %llu, but not enforced within %llu s by %zu of "
                "%zu live nodes: %s; the change stays committed and those nodes apply it when "
                "they catch up ('cutoff fleet status')\n",
                what, (unsigned long long)seq, (unsigned long long)w->timeout_s, live - done, live,
                behind);
        return CLI_NOT_ENFORCED;
    }
    fprintf(stderr, "cutoff: %s: change %llu enforced by all %zu live nodes\n", what,
            (unsigned long long)seq, live);
    return CLI_OK;
}
