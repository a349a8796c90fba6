/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reference_states.c - the reference evaluator's answers for the scenario
 * of a seed (the one tests/tools/scenario.c writes) with the actions in
 * the states a database actually holds, for tests that interrupt the
 * workflow part-way (tests/integration/crash_kill.sh): after a kill, only
 * some of the plan's proposals, approvals and lifts are in the database.
 *
 *   reference_states SEED DIR STATES [QUERIES]
 *
 * STATES has one line per action in the database, "ID<TAB>STATE" (STATE as
 * cutoff_action_state_name spells it); an action of the scenario that is
 * not listed is not in the database and decides nothing. Writes
 *
 *   DIR/queries.tsv     subscription<TAB>action<TAB>region or -<TAB>Unix seconds
 *   DIR/expected.tsv    allow|deny<TAB>reason<TAB>action id or -, per query
 *
 * The requests are those of `scenario SEED DIR QUERIES` (the same seed and
 * count give the same requests; only the time notation differs).
 * Exit status 0, 1 on an unreadable or malformed STATES file, 2 on usage.
 */
#include "cutoff.h"
#include "../support/reference.h"
#include "../support/scenario.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The state named `name`, or -1. */
static int state_of_name(const char *name)
{
    for (int s = CUTOFF_STATE_DRAFT; s <= CUTOFF_STATE_SUPERSEDED; s++)
        if (strcmp(cutoff_action_state_name((cutoff_action_state)s), name) == 0)
            return s;
    return -1;
}

/* Sets each action's state from the STATES file; unlisted ones become
 * drafts (a draft decides nothing, exactly like an absent action). */
static int read_states(const char *path, cutoff_action_spec *actions, size_t n)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "reference_states: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        actions[i].state = CUTOFF_STATE_DRAFT;
    char line[512];
    int rc = 0;
    for (unsigned no = 1; fgets(line, sizeof line, f) != NULL; no++) {
        line[strcspn(line, "\r\n")] = '\0';
        char *tab = strchr(line, '\t');
        int state = tab ? state_of_name(tab + 1) : -1;
        if (state < 0) {
            fprintf(stderr, "reference_states: %s:%u: expected ID<TAB>STATE\n", path, no);
            rc = -1;
            break;
        }
        *tab = '\0';
        for (size_t i = 0; i < n; i++)
            if (strcmp(actions[i].id, line) == 0)
                actions[i].state = (cutoff_action_state)state;
    }
    fclose(f);
    return rc;
}

static FILE *open_out(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        fprintf(stderr, "reference_states: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: reference_states SEED DIR STATES [QUERIES]\n");
        return 2;
    }
    scenario_options opt = {.n_queries = argc == 5 ? strtoul(argv[4], NULL, 10) : 300, .cli = 1};
    scenario s;
    if (scenario_generate(strtoull(argv[1], NULL, 0), &opt, &s) != 0) {
        fprintf(stderr, "reference_states: out of memory\n");
        return 1;
    }
    int rc = 1;
    FILE *queries = NULL, *expected = NULL;
    /* Copies of the specs, so that only the states differ from the plan's. */
    cutoff_action_spec *copies = calloc(s.n_actions ? s.n_actions : 1, sizeof *copies);
    const cutoff_action_spec **actions = calloc(s.n_actions ? s.n_actions : 1, sizeof *actions);
    if (copies == NULL || actions == NULL)
        goto done;
    for (size_t i = 0; i < s.n_actions; i++) {
        copies[i] = *s.actions[i];
        actions[i] = &copies[i];
    }
    if (read_states(argv[3], copies, s.n_actions) != 0)
        goto done;
    ref_world w = {&s.catalog, s.nodes, s.n_nodes, actions, s.n_actions};
    if ((queries = open_out(argv[2], "queries.tsv")) == NULL ||
        (expected = open_out(argv[2], "expected.tsv")) == NULL)
        goto done;
    for (size_t i = 0; i < s.n_queries; i++) {
        const scenario_query *q = &s.queries[i];
        fprintf(queries, "%s\t%s\t%s\t%lld\n", q->subscription, q->action,
                q->region ? q->region : "-", (long long)q->t);
        ref_verdict v;
        ref_check(&w, q->subscription, q->action, q->region, q->t, &v);
        fprintf(expected, "%s\t%s\t%s\n", v.reason == CUTOFF_REASON_ALLOW ? "allow" : "deny",
                cutoff_reason_name(v.reason), v.by ? v.by->id : "-");
    }
    rc = 0;
done:
    if (queries && fclose(queries) != 0)
        rc = 1;
    if (expected && fclose(expected) != 0)
        rc = 1;
    free(copies);
    free(actions);
    scenario_free(&s);
    return rc;
}
