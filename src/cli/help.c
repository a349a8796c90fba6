/* SPDX-License-Identifier: Apache-2.0 */
/*
 * help.c - the help texts of the CLI: one for the whole tool and one per
 * verb group, printed by "cutoff help [VERB]", "cutoff --help" and
 * "cutoff VERB --help". They are the short form of docs/cutoff.1; keep the
 * two in step.
 */
#include "cli/cli.h"

#include <string.h>

static const char overview[] =
    "usage: cutoff [--db PATH] [--actor NAME] [--key FILE] [--json] COMMAND [ARGS]\n"
    "       cutoff --server URL [--token-file FILE] [--json] COMMAND [ARGS]\n"
    "\n"
    "Disable exactly what must stop, for exactly the customer unit that must\n"
    "stop, and prove it. Every change is recorded in a hash-chained audit log.\n"
    "\n"
    "Setting up:\n"
    "  init                          create the database\n"
    "  catalog load FILE | show      services, actions, regions and plans\n"
    "  nodes import FILE | show ID   the customer tree (JSON Lines)\n"
    "\n"
    "Reviewing and acting:\n"
    "  case open | evidence | findings | close | show | list\n"
    "  action propose | preview | shadow | approve | lift | list | show\n"
    "\n"
    "Deciding and proving:\n"
    "  check SUBSCRIPTION ACTION     allow or deny, and why\n"
    "  check --batch FILE [--bench]  decide many requests\n"
    "  audit verify | log | head | sign  the tamper-evident record of changes\n"
    "  key create | show | rotate    the key that signs the audit heads\n"
    "  notice show | list | verify | sign\n"
    "                                the signed notices to the customer\n"
    "\n"
    "Access to cutoffd's admin API:\n"
    "  token create | list | revoke  bearer tokens in cutoffd's tokens file\n"
    "  fleet status                  what each cutoffd on the database enforces\n"
    "\n"
    "Moving the database:\n"
    "  db copy --from SRC --to DST   the whole database into a new, empty one\n"
    "\n"
    "Global options (also accepted after the command):\n"
    "  --db PATH          the database (default $CUTOFF_DB, else ./cutoff.db)\n"
    "  --actor NAME       who makes the change (default $CUTOFF_ACTOR, else the\n"
    "                     login name); not with a server, which uses the token's\n"
    "                     principal\n"
    "  --key FILE         the signing key (default $CUTOFF_KEY_FILE): a command\n"
    "                     that changes the database signs the audit head it\n"
    "                     creates and the notices it issues; not with a server,\n"
    "                     which signs with its own key\n"
    "  --server URL       work through cutoffd's admin API at URL (default\n"
    "                     $CUTOFF_SERVER unless --db is given), e.g.\n"
    "                     http://127.0.0.1:8081; every command but init, token and\n"
    "                     check --bench works the same way there\n"
    "  --token-file FILE  the bearer token for --server (default $CUTOFF_TOKEN_FILE,\n"
    "                     else the token in $CUTOFF_TOKEN); never on the command line\n"
    "  --json             machine-readable output\n"
    "  -h, --help         this text; 'cutoff help COMMAND' for one command\n"
    "  -V, --version      the version\n"
    "\n"
    "Exit status: 0 success (a deny from 'check' is a success too), 1 failure,\n"
    "2 usage error. Failures print one line on standard error.\n"
    "Times are RFC 3339 (2025-09-25T12:00:00Z) or Unix seconds.\n";

static const char help_init[] =
    "usage: cutoff init\n"
    "\n"
    "Creates the database (SQLite, WAL mode) with its schema, or migrates an\n"
    "older one. Running it on an initialised database changes nothing. It works\n"
    "on a local database only, never through --server.\n";

static const char help_catalog[] =
    "usage: cutoff catalog load FILE [--force]\n"
    "       cutoff catalog show\n"
    "\n"
    "load   replaces the catalog with the JSON document FILE ('-' for standard\n"
    "       input): services with their actions and classes (read or write),\n"
    "       regions and plans. Refused when a node's plan or an active action\n"
    "       would name something that no longer exists. A catalog that changes\n"
    "       decisions under an active action (a class, a removed action) is\n"
    "       refused with what changes; --force loads it and records that.\n"
    "show   prints the catalog (--json: the canonical document).\n";

static const char help_nodes[] =
    "usage: cutoff nodes import FILE\n"
    "       cutoff nodes show ID\n"
    "\n"
    "import reads node lines (JSON Lines) from FILE ('-' for standard input):\n"
    "         "
    "{\"id\":\"unit-8200\",\"kind\":\"unit\",\"parent\":\"imod\",\"plan\":\"enterprise\"}\n"
    "       kind is tenant, unit or subscription; parent is null for tenants.\n"
    "       A node that exists is updated (or moved). Every line is checked\n"
    "       before anything is written; on the first bad line nothing is\n"
    "       imported and the message names the line. Prints the counts; shows\n"
    "       progress on standard error for large inputs when it is a terminal.\n"
    "       With --server the file is streamed to cutoffd (admin role).\n"
    "show   prints a node: kind, parent, plan and where it comes from,\n"
    "       ancestors, what lies below, and the actions that cover it.\n";

static const char help_case[] =
    "usage: cutoff case open --title TEXT --scope NODE[,NODE...] [--id ID]\n"
    "       cutoff case evidence CASE FILE --type MEDIA-TYPE --note TEXT [--keep-content]\n"
    "       cutoff case findings CASE (--text TEXT | --file FILE)\n"
    "       cutoff case close CASE\n"
    "       cutoff case show CASE\n"
    "       cutoff case list\n"
    "\n"
    "A case is a review of business records, never of customer content.\n"
    "open      opens a case and prints its id (assigned unless --id is given).\n"
    "evidence  records FILE's SHA-256, size, media type and note, and prints the\n"
    "          hash. FILE must be a regular file of at most 1 GiB. The content\n"
    "          itself is kept only with --keep-content. With\n"
    "          --server the file is uploaded and hashed by cutoffd.\n"
    "findings  sets the findings text (--file '-' reads standard input).\n"
    "close     closes the case; its actions stay as they are.\n"
    "show      prints a case with its evidence and actions; list prints all cases.\n";

static const char help_action[] =
    "usage: cutoff action propose FILE\n"
    "       cutoff action preview ID [--at TIME] [--offset N] [--limit N]\n"
    "       cutoff action shadow ID start|stop|report [--json]\n"
    "       cutoff action approve ID [--wait-enforced SECONDS [--silent-after SECONDS]]\n"
    "       cutoff action lift ID [--reason TEXT] [--wait-enforced SECONDS\n"
    "                                              [--silent-after SECONDS]]\n"
    "       cutoff action list\n"
    "       cutoff action show ID\n"
    "\n"
    "propose  reads an enforcement action (JSON, '-' for standard input) and\n"
    "         stores it as a draft; prints its id, and its version when it\n"
    "         revises an existing action.\n"
    "preview  the blast radius of the latest draft (or, when there is none, of\n"
    "         the active version) against the current state: per phase and per\n"
    "         catalog action how many subscriptions change, which actions are\n"
    "         targeted or excepted, whether any decision on an excepted action\n"
    "         changes, and a page of the changed subscriptions (--offset, --limit,\n"
    "         default 0 and 20). --at sets the approval time assumed for relative\n"
    "         phases (default now; local only: a server previews as of now); the\n"
    "         state compared with is the current one.\n"
    "shadow   runs the latest draft in shadow: every cutoffd evaluates it next\n"
    "         to each decision its live state allowed, as if approved when the\n"
    "         run started, and counts what it would deny (per subscription, per\n"
    "         action and phase, the latest 100), changing no decision. start and\n"
    "         stop need one person and are audited; a draft that is approved,\n"
    "         withdrawn or replaced ends its run. report sums every node's\n"
    "         counts next to the preview: subscriptions it changes that sent\n"
    "         nothing it would deny, and denials it did not foresee, with why.\n"
    "approve  approves the latest draft; it becomes active now and its phases say\n"
    "         when it bites. Refused for the person who proposed it (with\n"
    "         --server: for the principal whose token proposed it).\n"
    "lift     lifts the active version (or withdraws a draft).\n"
    "list     all actions (latest version of each); show: one with its history.\n"
    "--wait-enforced SECONDS (approve, lift; local database only): after the\n"
    "         change commits, wait until every live cutoffd's receipt enforces\n"
    "         it, with progress on standard error. Exit 3 when the time runs out,\n"
    "         naming the nodes behind: the change stays committed. Nodes silent\n"
    "         for more than --silent-after (default 10) seconds are not waited for.\n";

static const char help_fleet[] =
    "usage: cutoff fleet status [--silent-after SECONDS] [--json]\n"
    "\n"
    "Lists the cutoffd nodes that serve this database, from the receipts each\n"
    "writes: node id, status (ok, degraded, stopped, or silent when its last\n"
    "receipt is older than --silent-after, default 10 s), the change sequence\n"
    "it enforces, how many changes it is behind the head, since when, its\n"
    "heartbeat age and its snapshot digest. Local database only.\n"
    "Exit status: 0 when there is a live node and every live node reports ok at\n"
    "the change head with agreeing digests; 1 otherwise.\n";

static const char help_check[] =
    "usage: cutoff check SUBSCRIPTION ACTION [--region REGION] [--at TIME | --as-of TIME]\n"
    "                    [--explain]\n"
    "       cutoff check --batch FILE [--bench]\n"
    "\n"
    "Decides one request against the active actions and prints 'allow', or\n"
    "'deny REASON ACTION-ID' followed, for a denial by an action, by its phase\n"
    "window, case, status and notice (for not_entitled: the plan). REASON is\n"
    "unknown_subscription, unknown_action, not_entitled, suspended or\n"
    "read_only. --at defaults to now; --region names the request's region\n"
    "(none by default). --explain lists every action whose scope covers the\n"
    "subscription and which one decides. An action that has ended (expired)\n"
    "still decides the times of its earlier phases.\n"
    "--as-of TIME answers as the system stood at TIME, for disputes: the action\n"
    "versions in force then (approved, not yet lifted or superseded), their\n"
    "phases at TIME, the catalog loaded last by then, and today's tree (there\n"
    "is no node history; the answer says so). Not with --at.\n"
    "The exit status is 0 for allow and for deny: a decision is not an error.\n"
    "\n"
    "--batch reads lines 'SUBSCRIPTION<TAB>ACTION<TAB>REGION<TAB>TIME' (REGION '-'\n"
    "for none, TIME RFC 3339 or Unix seconds; FILE '-' for standard input; a\n"
    "fifth field 'as-of' decides that line as --as-of TIME would) and\n"
    "prints one line per request, in order: 'allow|deny<TAB>REASON<TAB>ACTION-ID|-'.\n"
    "All lines are checked first: a malformed line is an error naming it, and\n"
    "nothing is printed. With --bench it prints instead one line\n"
    "  decisions_per_s=N allows=N denies=N p50_ns=N p99_ns=N\n"
    "from repeated passes over the file on one thread after a warm-up, timing\n"
    "only the decisions (allows and denies count one pass).\n"
    "\n"
    "With --server a single check is answered by cutoffd's explanation of the\n"
    "decision, and --batch sends the requests in chunks to POST /v1/check/batch;\n"
    "the output is the same. --bench measures the engine in this process and\n"
    "works on a local database only.\n";

static const char help_audit[] =
    "usage: cutoff audit verify [--pubkey FILE [--head FILE] [--at TIME]]\n"
    "       cutoff audit log [--after SEQ] [--limit N]\n"
    "       cutoff audit head\n"
    "       cutoff audit sign --key FILE [--interval SECONDS]\n"
    "\n"
    "verify  walks the hash chain of the audit log and prints how many records\n"
    "        verify and the head hash; exit 1 naming the first record that does\n"
    "        not (an edit, a deletion or a reordering). With --pubkey (a file\n"
    "        holding the line 'cutoff key show' prints) it also checks every\n"
    "        signed head with that key and the rotations it signed: a recomputed\n"
    "        chain, removed records or heads, another key; --head FILE (a head\n"
    "        published earlier, 'audit head --json') must still be in the log;\n"
    "        --at TIME judges the signer's promised interval at TIME (default\n"
    "        now). Exit 0 verifies, 1 does not (or an error), 2 usage.\n"
    "log     prints records after sequence number SEQ (default 0), at most N\n"
    "        (at least 1; default all).\n"
    "head    prints the newest signed head; --json prints exactly the document\n"
    "        to publish (a ticket, a mail, a transparency log).\n"
    "sign    signs the current head with --key now, promising another within\n"
    "        SECONDS (default 0: only on changes); for a signer without cutoffd.\n"
    "See docs/audit.md.\n";

static const char help_key[] =
    "usage: cutoff key create --key FILE\n"
    "       cutoff key show --key FILE\n"
    "       cutoff key rotate --key OLD --new NEWFILE\n"
    "\n"
    "The Ed25519 key that signs the audit heads (--key FILE or $CUTOFF_KEY_FILE;\n"
    "mode 0600, never overwritten; a file others may read is refused).\n"
    "create  writes a new key file and prints its public key (ed25519:...).\n"
    "show    prints the public key, the line an auditor's --pubkey file holds\n"
    "        (--json: also a fingerprint, the first 16 hex digits of its SHA-256).\n"
    "rotate  creates NEWFILE and records, as one audited change, the hand-over\n"
    "        from OLD to the new key, signed by OLD; from there on the new key\n"
    "        signs the heads (and OLD can no longer sign). Prints the new public\n"
    "        key. On a refusal NEWFILE is removed again.\n";

static const char help_notice[] =
    "usage: cutoff notice show ACTION_ID [--version N] [--text | --json]\n"
    "       cutoff notice list --subscription S [--json]\n"
    "       cutoff notice verify FILE --pubkey KEYFILE\n"
    "       cutoff --key FILE notice sign\n"
    "\n"
    "A notice tells the customer what an action stops, where and from when, what\n"
    "keeps running, the state of the review, and the audit record of the change\n"
    "that issued it, signed with the operator's Ed25519 key. Approving an action,\n"
    "lifting it and closing its case each issue a new version.\n"
    "show    prints the latest notice (or version N) as a letter; --json prints\n"
    "        the signed document exactly, as cutoffd serves it.\n"
    "list    the latest notice of every action whose scope covers subscription S\n"
    "        (S or one of its ancestors), whatever the action's state now.\n"
    "verify  checks FILE (a signed document; '-' for standard input) against the\n"
    "        public key in KEYFILE, without a database: exit 0 when it verifies,\n"
    "        1 with one line saying what is wrong (a changed byte, a missing\n"
    "        member, another key, no signature).\n"
    "sign    signs the notices issued without a key (every command given --key\n"
    "        does that too).\n"
    "show, list and sign work on a local database only; through cutoffd, a\n"
    "customer reads GET /v1/notices/ID on the decision listener.\n";

static const char help_token[] =
    "usage: cutoff token create --principal NAME --roles ROLE[,ROLE...] --tokens-file FILE\n"
    "       cutoff token list --tokens-file FILE\n"
    "       cutoff token revoke --principal NAME --tokens-file FILE\n"
    "\n"
    "Manages FILE, cutoffd's file of bearer tokens for the admin API. It holds\n"
    "only SHA-256 hashes, one 'sha256:HEX PRINCIPAL ROLES' a line. cutoffd\n"
    "reads it at start and again on SIGHUP. Roles: viewer, investigator,\n"
    "enforcer, approver, admin.\n"
    "create  makes a random token (cutoff_ and 32 random bytes, URL-safe base64),\n"
    "        appends its hash to FILE (created mode 0600; a file that group or\n"
    "        others may write is refused) and prints the token once on standard\n"
    "        output (--json: principal, roles, token). It is stored nowhere.\n"
    "list    prints each principal, its roles and the first 12 hex digits of its\n"
    "        token's hash; never a token.\n"
    "revoke  removes every token of the principal (the file is rewritten through\n"
    "        a temporary file and a rename).\n"
    "A client passes its token with --token-file FILE, $CUTOFF_TOKEN_FILE or\n"
    "$CUTOFF_TOKEN, never on the command line.\n";

static const char help_db[] =
    "usage: cutoff db copy --from SOURCE --to DESTINATION [--pubkey FILE] [--quiet]\n"
    "                      [--json]\n"
    "\n"
    "copy  copies the whole database SOURCE into DESTINATION, which must be\n"
    "      empty (missing, or without any of cutoff's tables): the tree, the\n"
    "      catalog and its history, cases and evidence (with kept content),\n"
    "      every action version, the notices with their signatures, the audit\n"
    "      log record by record with its hash chain, the signed heads and the\n"
    "      change log. SOURCE is read in one read transaction, so the copy is\n"
    "      one consistent state while others keep writing; its audit chain must\n"
    "      verify first, and its schema must be this program's (migrate an older\n"
    "      one with 'cutoff --db SOURCE init'). DESTINATION gets everything in\n"
    "      one transaction, checked before it commits: the audit chain verifies,\n"
    "      every table holds as many rows as the source's and, with --pubkey\n"
    "      FILE, the signed heads verify with that key. On any failure, or if\n"
    "      the copy is killed, DESTINATION is left empty. Progress goes to\n"
    "      standard error every second for long copies (not with --quiet); the\n"
    "      summary to standard output (--json: machine-readable). A password in\n"
    "      a location is never printed. Local only: not with --db or --server.\n";

static const struct {
    const char *verb;
    const char *text;
} texts[] = {
    {"init", help_init},     {"catalog", help_catalog}, {"nodes", help_nodes},
    {"case", help_case},     {"action", help_action},   {"check", help_check},
    {"audit", help_audit},   {"token", help_token},     {"key", help_key},
    {"notice", help_notice}, {"db", help_db},           {"fleet", help_fleet},
};

int cli_help(const char *verb)
{
    if (verb == NULL) {
        fputs(overview, stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (strcmp(texts[i].verb, verb) == 0) {
            fputs(texts[i].text, stdout);
            return 0;
        }
    }
    return -1;
}
