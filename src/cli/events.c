/* events.c: `ccf events`: the tenant's event stream, one event per line
 * (JSON Lines with --output json, else "time type connector job"), read to
 * the end, or with --follow long-polled until Ctrl-C (cursor.c reads on). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/banned.h"

#define FOLLOW_WAIT 20 /* seconds, the contract's most */

static const char help[] =
    "Usage: ccf events [--follow] [--connector CC] [--types T1,T2] [--after CURSOR]\n"
    "\n"
    "Prints the account's events, oldest first, one a line: with --output json as JSON\n"
    "Lines ({event_id, time, type, connector_id, job_id?, detail}), else time, type,\n"
    "connector and job. Then the cursor to resume from (--after) goes to stderr.\n"
    "\n"
    "  --follow          keep reading: wait for new events (long poll) until Ctrl-C\n"
    "  --connector CC    only this connector's events\n"
    "  --types LIST      only these types, comma-separated (job.failed,job.succeeded, ...)\n"
    "  --after CURSOR    start after this cursor (a next_cursor); else the oldest kept\n"
    "\n"
    "Exit status: 0; 1 an API error (ExpiredCursorException: the cursor's events are no\n"
    "longer kept); 130 Ctrl-C during --follow.\n";

static void print_event(const struct cli *cli, const struct ccf_client_event *e)
{
    json_t *o, *d;
    char *text, *type, *conn;

    if (cli->json) {
        d = json_loads(e->detail, 0, NULL);
        o = json_pack("{s:s,s:s,s:s,s:s}", "event_id", e->event_id, "time", e->time, "type",
                      e->type, "connector_id", e->connector_id);
        if (e->job_id)
            json_object_set_new(o, "job_id", json_string(e->job_id));
        json_object_set_new(o, "detail", d ? d : json_object());
        text = json_dumps(o, JSON_COMPACT);
        puts(text);
        free(text);
        json_decref(o);
        return;
    }
    type = cli_clean(e->type);
    conn = cli_clean(e->connector_id);
    printf("%-27s  %-18s  %-15s  %s\n", e->time, type, conn, e->job_id ? e->job_id : "-");
    free(type);
    free(conn);
}

/* One page, printed (struct cli_cursor_list); ctx is the query. */
static int page(struct cli *cli, void *ctx, const char *after, bool follow, char **next,
                size_t *printed)
{
    struct ccf_client_events_query *q = ctx;
    struct ccf_client_event_list l = {0};
    int rc;

    q->after = after;
    q->max_results = 1000;
    q->wait_seconds = follow ? FOLLOW_WAIT : 0;
    if ((rc = ccf_client_list_events(cli->client, q, &l)) < 0)
        return rc;
    for (size_t i = 0; i < l.len; i++)
        print_event(cli, &l.items[i]);
    *next = l.next_cursor;
    *printed = l.len;
    l.next_cursor = NULL;
    ccf_client_event_list_clear(&l);
    return 0;
}

int cli_events(struct cli *cli, const char *cmd, int argc, char **argv)
{
    const char *copt = NULL, *types = NULL, *after = NULL;
    bool follow = false;
    const struct cli_opt opts[] = {
        {"follow", CLI_FLAG, &follow, NULL, NULL},
        {"connector", CLI_VALUE, NULL, &copt, NULL},
        {"types", CLI_VALUE, NULL, &types, NULL},
        {"after", CLI_VALUE, NULL, &after, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    struct ccf_client_events_query q = {0};
    const struct cli_cursor_list l = {.page = page, .ctx = &q}; /* the read waits itself */
    struct cli_words w = {0};
    int rc;

    cli->command = "events";
    cli->help = help;
    if ((rc = cli_parse(cli, argc, argv, opts, &w)) != CLI_OK || cli->help_asked)
        goto out;
    if (cmd || w.pos.n > 0) {
        rc = cli_usage(cli, "unexpected word '%s'", cmd ? cmd : w.pos.v[0]);
        goto out;
    }
    if ((rc = cli_connect(cli)) != CLI_OK)
        goto out;
    q.connector_id = copt;
    q.types = types;
    rc = cli_read_cursor_list(cli, &l, after, follow);
out:
    cli_words_free(&w);
    return rc;
}
