/* audit.c: `ccf audit`: the account's audit log, one record per line (JSON
 * Lines with --output json, else "time operation status principal
 * connector job source"), read to the end, or with --follow read again
 * every FOLLOW_EVERY seconds until Ctrl-C (the audit log has no long
 * poll; cursor.c reads on). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/banned.h"

#define FOLLOW_EVERY 2 /* seconds between reads once caught up */

static const char help[] =
    "Usage: ccf audit [--follow] [--after CURSOR]\n"
    "\n"
    "Prints the account's audit log, oldest first, one record a line: who did what\n"
    "(every state-changing request, and every refused one: 403, 409, 429). With\n"
    "--output json as JSON Lines ({time, request_id, operation, access_key_id,\n"
    "principal, source_ip, connector_id?, job_id?, status, error_type?}), else time,\n"
    "operation, status, principal, connector, job and source address. Then the cursor\n"
    "to resume from (--after) goes to stderr.\n"
    "\n"
    "  --follow          keep reading new records (every 2 s) until Ctrl-C\n"
    "  --after CURSOR    start after this cursor (a next_cursor); else the oldest kept\n"
    "\n"
    "Exit status: 0; 1 an API error (ExpiredCursorException: the cursor's records are no\n"
    "longer kept); 130 Ctrl-C during --follow.\n";

static void set_opt(json_t *o, const char *key, const char *v)
{
    if (v)
        json_object_set_new(o, key, json_string(v));
}

static void print_json(const struct ccf_client_audit_event *e)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "time", e->time, "request_id", e->request_id,
                          "operation", e->operation, "access_key_id", e->access_key_id, "principal",
                          e->principal, "source_ip", e->source_ip);
    char *text;

    if (!o) /* a member that is not UTF-8: libccf copied it from valid JSON */
        return;
    set_opt(o, "connector_id", e->connector_id);
    set_opt(o, "job_id", e->job_id);
    json_object_set_new(o, "status", json_integer(e->status));
    set_opt(o, "error_type", e->error_type);
    text = json_dumps(o, JSON_COMPACT);
    if (text)
        puts(text);
    free(text);
    json_decref(o);
}

static void print_record(const struct cli *cli, const struct ccf_client_audit_event *e)
{
    char *op, *who, *ip;

    if (cli->json) {
        print_json(e);
        return;
    }
    op = cli_clean(e->operation);
    who = cli_clean(e->principal);
    ip = cli_clean(e->source_ip);
    printf("%-27s  %-36s  %3d  %-20s  %-15s  %-16s  %s\n", e->time, op, e->status, who,
           e->connector_id ? e->connector_id : "-", e->job_id ? e->job_id : "-", ip);
    free(op);
    free(who);
    free(ip);
}

/* One page, printed (struct cli_cursor_list). */
static int page(struct cli *cli, void *ctx, const char *after, bool follow, char **next,
                size_t *printed)
{
    struct ccf_client_audit_list l = {0};
    int rc;

    (void)ctx;
    (void)follow; /* no long poll: cursor.c pauses between reads */
    if ((rc = ccf_client_list_audit_events(cli->client, after, 1000, &l)) < 0)
        return rc;
    for (size_t i = 0; i < l.len; i++)
        print_record(cli, &l.items[i]);
    *next = l.next_cursor;
    *printed = l.len;
    l.next_cursor = NULL;
    ccf_client_audit_list_clear(&l);
    return 0;
}

int cli_audit(struct cli *cli, const char *cmd, int argc, char **argv)
{
    const char *after = NULL;
    bool follow = false;
    const struct cli_opt opts[] = {
        {"follow", CLI_FLAG, &follow, NULL, NULL},
        {"after", CLI_VALUE, NULL, &after, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    const struct cli_cursor_list l = {.page = page, .pause_s = FOLLOW_EVERY};
    struct cli_words w = {0};
    int rc;

    cli->command = "audit";
    cli->help = help;
    if ((rc = cli_parse(cli, argc, argv, opts, &w)) != CLI_OK || cli->help_asked)
        goto out;
    if (cmd || w.pos.n > 0) {
        rc = cli_usage(cli, "unexpected word '%s'", cmd ? cmd : w.pos.v[0]);
        goto out;
    }
    if ((rc = cli_connect(cli)) != CLI_OK)
        goto out;
    rc = cli_read_cursor_list(cli, &l, after, follow);
out:
    cli_words_free(&w);
    return rc;
}
