/* main.c: ccf's entry point: finds the group and command among the words
 * (global options may come before them) and hands the rest to the group. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/banned.h"

static const char help_text[] =
    "ccf: the command-line client of the ccf API (Custom Connector Framework).\n"
    "\n"
    "Usage: ccf <group> <command> [options] [arguments]\n"
    "\n"
    "  connector   create | get | list | update | delete\n"
    "  job         start | get | list | stop | wait | logs\n"
    "  document    put | delete | list\n"
    "  checkpoint  put | get | delete\n"
    "  events      [--follow] [--connector CC] [--types T1,T2]\n"
    "  webhook     create | list | get | delete | test | deliveries\n"
    "  audit       [--follow] [--after CURSOR]\n"
    "\n"
    "Global options (anywhere on the line):\n"
    "  --endpoint URL           the API (else $CCF_ENDPOINT, else http://127.0.0.1:8787)\n"
    "  --region REGION          signing region (else $AWS_REGION, else us-east-1)\n"
    "  --access-key-id ID       credentials; else $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY\n"
    "  --secret-access-key KEY  and $AWS_SESSION_TOKEN; else the profile (--profile, else\n"
    "  --session-token TOKEN    $AWS_PROFILE, else default) of ~/.aws/credentials (or\n"
    "  --profile NAME           $AWS_SHARED_CREDENTIALS_FILE); else the file\n"
    "                           $CCF_CREDENTIALS_FILE, else ./var/credentials\n"
    "  --no-sign-request        send unsigned requests (a ccfd with auth = none)\n"
    "  --ca-bundle FILE         CAs (PEM) to trust for https:// (else $AWS_CA_BUNDLE, else\n"
    "                           the system's)\n"
    "  --output table|json      default: table when stdout is a terminal, JSON otherwise\n"
    "  --help                   help on any group or command\n"
    "  --version\n"
    "\n"
    "Exit status: 0 success; 1 the operation failed (API error, connection, bad input\n"
    "file); 2 usage or configuration error (no credentials found, too); 3 a job waited\n"
    "for ended FAILED or STOPPED; 130 Ctrl-C during a wait (the job is left running).\n"
    "Errors go to stderr as \"ccf: <errorType>: <message>\".\n"
    "\n"
    "Example:\n"
    "  CC=$(ccf connector create --name docs-sync --command ./sync.sh --output json |\n"
    "       jq -r .connector.connector_id)\n"
    "  ccf job start $CC --wait\n"
    "\n"
    "See ccf(1), and 'ccf <group> --help'.\n";

struct group {
    const char *name;
    int (*run)(struct cli *cli, const char *cmd, int argc, char **argv);
};

static const struct group groups[] = {
    {"connector", cli_connector},   {"job", cli_job},       {"document", cli_document},
    {"checkpoint", cli_checkpoint}, {"events", cli_events}, {"webhook", cli_webhook},
    {"audit", cli_audit},
};

/* Global options that take a separate value word. */
static bool takes_value(const char *w)
{
    static const char *const names[] = {
        "--endpoint",      "--region",  "--access-key-id", "--secret-access-key",
        "--session-token", "--profile", "--output",        "--ca-bundle"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(w, names[i]) == 0)
            return true;
    return false;
}

/* Moves the group and command words out of argv: *group and *cmd get
 * them (NULL when absent), argv keeps the other words in order. */
static int split(int argc, char **argv, const char **group, const char **cmd, bool *help)
{
    int n = 0;

    *group = *cmd = NULL;
    *help = false;
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];

        if (strcmp(w, "--") == 0) {
            for (; i < argc; i++)
                argv[n++] = argv[i];
            break;
        }
        if (strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0)
            *help = true;
        if (w[0] == '-') {
            argv[n++] = argv[i];
            if (takes_value(w) && i + 1 < argc)
                argv[n++] = argv[++i];
        } else if (!*group) {
            *group = w;
        } else if (!*cmd && strcmp(*group, "events") != 0 &&
                   strcmp(*group, "audit") != 0) { /* a group without commands */
            *cmd = w;
        } else {
            argv[n++] = argv[i];
        }
    }
    return n;
}

/* ccf is a program, so it may choose what running out of memory means:
 * jansson's setters fail quietly, and an answer printed from a document
 * missing a member would look like a success. It fails instead (exit 1);
 * _exit drops whatever half of an answer stdout still buffers. libccf
 * leaves the allocator alone (DECISIONS.md). */
static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p) {
        fputs("ccf: out of memory\n", stderr);
        _exit(CLI_FAILED);
    }
    return p;
}

int main(int argc, char **argv)
{
    struct cli cli = {0};
    const char *group, *cmd;
    bool help;
    int n, rc = CLI_USAGE;

    json_set_alloc_funcs(xmalloc, free);
    n = split(argc - 1, argv + 1, &group, &cmd, &help);
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("ccf %s (libccf, %s)\n", CCF_CLIENT_VERSION, "libcurl SigV4");
        return CLI_OK;
    }
    if (!group || strcmp(group, "help") == 0) {
        fputs(help_text, group || help ? stdout : stderr);
        return group || help ? CLI_OK : CLI_USAGE;
    }
    if (ccf_client_global_init() < 0)
        return cli_fail("ConnectionError", "libcurl cannot start");
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        if (strcmp(group, groups[i].name) != 0)
            continue;
        rc = groups[i].run(&cli, cmd, n, argv + 1);
        goto out;
    }
    cli.command = "";
    rc = cli_usage(&cli,
                   "unknown group '%s' (connector, job, document, checkpoint, events, webhook "
                   "or audit)",
                   group);
out:
    if (fflush(stdout) != 0 && rc == CLI_OK)
        rc = cli_fail("FileError", "cannot write the output");
    ccf_client_destroy(cli.client);
    ccf_client_global_cleanup();
    return rc;
}
