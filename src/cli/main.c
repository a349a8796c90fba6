/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - the entry of the operator CLI: global options and dispatch to
 * the verb groups. Which database or server a verb works with, and as
 * whom, is settled later by cli_resolve (output.c), since global options
 * may also follow the verb. The exit status contract lives here too:
 * 0 success, 1 failure, 2 usage error, and output that could not be
 * written is a failure, never a silent success.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef int (*verb_fn)(cli *c, int argc, char **argv);

static const struct verb {
    const char *name;
    verb_fn run;
} verbs[] = {
    {"init", cli_cmd_init},     {"catalog", cli_cmd_catalog}, {"nodes", cli_cmd_nodes},
    {"case", cli_cmd_case},     {"action", cli_cmd_action},   {"check", cli_cmd_check},
    {"audit", cli_cmd_audit},   {"token", cli_cmd_token},     {"key", cli_cmd_key},
    {"notice", cli_cmd_notice}, {"db", cli_cmd_db},           {"fleet", cli_cmd_fleet},
};

static int print_version(void)
{
    printf("cutoff %s (database schema %d)\n", cutoff_version(), cutoff_db_schema_version());
    return CLI_OK;
}

/* Runs the command line and returns the exit status (CLI_DONE included). */
static int run(int argc, char **argv)
{
    cli c = {0};

    /* Global options come before the verb (verbs accept them too). */
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            cli_help(NULL);
            return CLI_DONE;
        }
        if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0)
            return print_version();
        int rc;
        if (strcmp(arg, "--json") == 0) {
            if ((rc = cli_flag_set(NULL, "json", 4, &c.json)) != CLI_OK)
                return rc;
            continue;
        }
        if (arg[1] != '-')
            return cli_usage(NULL, "unknown option \"%s\"", arg);
        const char *name = arg + 2;
        size_t name_len = strcspn(name, "=");
        const char **value = cli_global_option(&c, name, name_len);
        if (value == NULL) {
            if (name_len == 5 && strncmp(name, "token", 5) == 0)
                return cli_usage(NULL, "a token is never given on the command line (it would "
                                       "show in process lists and shell history): use "
                                       "--token-file FILE, $CUTOFF_TOKEN_FILE or $CUTOFF_TOKEN");
            return cli_usage(NULL, "unknown option \"%s\"", arg);
        }
        const char *v = name[name_len] == '=' ? name + name_len + 1 : NULL;
        if (v == NULL) {
            if (i + 1 >= argc)
                return cli_usage(NULL, "option --%.*s needs a value", (int)name_len, name);
            v = argv[++i];
        }
        if ((rc = cli_option_set(NULL, name, name_len, value, v)) != CLI_OK)
            return rc;
    }
    if (i >= argc)
        return cli_usage(NULL, "no command given");

    const char *verb = argv[i];
    if (strcmp(verb, "help") == 0) {
        if (i + 2 < argc)
            return cli_usage(NULL, "help takes at most one command name");
        if (cli_help(i + 1 < argc ? argv[i + 1] : NULL) != 0)
            return cli_usage(NULL, "no help for unknown command \"%s\"", argv[i + 1]);
        return CLI_OK;
    }
    if (strcmp(verb, "version") == 0)
        return print_version();
    for (size_t v = 0; v < sizeof verbs / sizeof verbs[0]; v++) {
        if (strcmp(verbs[v].name, verb) == 0) {
            c.verb = verbs[v].name;
            int status = verbs[v].run(&c, argc - i - 1, argv + i + 1);
            cutoff_key_free(c.key);
            return status;
        }
    }
    return cli_usage(NULL, "unknown command \"%s\"", verb);
}

int main(int argc, char **argv)
{
    int status = run(argc, argv);
    if (status == CLI_DONE)
        status = CLI_OK;
    if (status == CLI_REPORTED)
        status = CLI_FAIL;
    /* A full disk or a closed pipe must not look like success. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (status == CLI_OK)
            status = cli_error("cannot write the output: %s", strerror(errno));
    }
    return status;
}
