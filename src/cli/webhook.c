/* webhook.c: `ccf webhook create|list|get|delete|test|deliveries`
 * (CONTRACT-OPS.md, "Webhooks"). Lists follow every page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/banned.h"

static const char group_help[] =
    "Usage: ccf webhook <command> [options]\n"
    "\n"
    "  create      post the account's events to a URL, signed (prints the secret once)\n"
    "  list        the account's webhooks\n"
    "  get         one webhook\n"
    "  delete      delete one\n"
    "  test        send it a ping event now\n"
    "  deliveries  its events since creation and how their delivery went, newest first\n"
    "\n"
    "Run 'ccf webhook <command> --help' for its options.\n";

static const char create_help[] =
    "Usage: ccf webhook create --url URL [--event-types T1,T2] [--description TEXT]\n"
    "                          [--client-token TOKEN]\n"
    "\n"
    "Every event of the account after now (of these types; default: all) is POSTed\n"
    "to URL in order, signed with the webhook's secret (ccf-signature: t=...,v1=...),\n"
    "which is printed only here: keep it.\n";
static const char list_help[] = "Usage: ccf webhook list\n";
static const char get_help[] = "Usage: ccf webhook get WEBHOOK_ID\n";
static const char delete_help[] = "Usage: ccf webhook delete WEBHOOK_ID\n";
static const char test_help[] = "Usage: ccf webhook test WEBHOOK_ID\n"
                                "\n"
                                "Sends an event of type ping now (its outcome is in ccfd's log).\n";
static const char deliveries_help[] = "Usage: ccf webhook deliveries WEBHOOK_ID\n";

/* A webhook as key-value lines, or as JSON. */
static void show(const struct cli *cli, const char *text)
{
    json_t *o = json_loads(text, 0, NULL), *t;
    size_t i;
    char types[512] = "";
    size_t n = 0;

    if (!o)
        return;
    if (cli->json) {
        cli_print_json(cli, "webhook", o);
        return;
    }
    json_array_foreach(json_object_get(o, "event_types"), i, t)
    {
        int k = snprintf(types + n, sizeof(types) - n, "%s%s", i ? "," : "",
                         json_string_value(t) ? json_string_value(t) : "");
        if (k < 0 || (size_t)k >= sizeof(types) - n)
            break;
        n += (size_t)k;
    }
    cli_kv("webhook_id", json_string_value(json_object_get(o, "webhook_id")));
    cli_kv("url", json_string_value(json_object_get(o, "url")));
    cli_kv("event_types", types);
    cli_kv("description", json_string_value(json_object_get(o, "description")));
    cli_kv("created_at", json_string_value(json_object_get(o, "created_at")));
    cli_kv("secret", json_string_value(json_object_get(o, "secret")));
    json_decref(o);
}

/* The one positional word: the webhook id. */
static int one_id(const struct cli *cli, const struct cli_words *w, const char **id)
{
    if (w->pos.n != 1)
        return cli_usage(cli, "expected one WEBHOOK_ID");
    *id = w->pos.v[0];
    return CLI_OK;
}

static int create(struct cli *cli, int argc, char **argv)
{
    struct ccf_client_webhook_create in = {0};
    const struct cli_opt opts[] = {
        {"url", CLI_VALUE, NULL, &in.url, NULL},
        {"event-types", CLI_VALUE, NULL, &in.event_types, NULL},
        {"description", CLI_VALUE, NULL, &in.description, NULL},
        {"client-token", CLI_VALUE, NULL, &in.client_token, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    struct cli_words w;
    char *out = NULL;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, opts, &w)) != CLI_OK || cli->help_asked)
        goto out;
    if (!in.url || w.pos.n) {
        rc = cli_usage(cli, "expected --url URL and no other word");
        goto out;
    }
    if ((rc = cli_connect(cli)) == CLI_OK && ccf_client_create_webhook(cli->client, &in, &out) < 0)
        rc = cli_api_error(cli);
    else if (rc == CLI_OK)
        show(cli, out);
out:
    free(out);
    cli_words_free(&w);
    return rc;
}

static int get(struct cli *cli, int argc, char **argv)
{
    const struct cli_opt opts[] = {{NULL, 0, NULL, NULL, NULL}};
    struct cli_words w;
    const char *id = NULL;
    char *out = NULL;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, opts, &w)) == CLI_OK && !cli->help_asked &&
        (rc = one_id(cli, &w, &id)) == CLI_OK && (rc = cli_connect(cli)) == CLI_OK) {
        if (ccf_client_get_webhook(cli->client, id, &out) < 0)
            rc = cli_api_error(cli);
        else
            show(cli, out);
    }
    free(out);
    cli_words_free(&w);
    return rc;
}

/* delete and test: an id, an answer without a body. */
static int act(struct cli *cli, int argc, char **argv, int (*op)(struct ccf_client *, const char *))
{
    const struct cli_opt opts[] = {{NULL, 0, NULL, NULL, NULL}};
    struct cli_words w;
    const char *id = NULL;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, opts, &w)) == CLI_OK && !cli->help_asked &&
        (rc = one_id(cli, &w, &id)) == CLI_OK && (rc = cli_connect(cli)) == CLI_OK &&
        op(cli->client, id) < 0)
        rc = cli_api_error(cli);
    cli_words_free(&w);
    return rc;
}

static int del(struct cli *cli, int argc, char **argv)
{
    return act(cli, argc, argv, ccf_client_delete_webhook);
}

static int test(struct cli *cli, int argc, char **argv)
{
    return act(cli, argc, argv, ccf_client_test_webhook);
}

static void row_webhook(struct cli_list_out *o, json_t *item)
{
    char row[2200];

    snprintf(row, sizeof(row), "%-16s %-28s %s",
             json_string_value(json_object_get(item, "webhook_id")),
             json_string_value(json_object_get(item, "created_at")),
             json_string_value(json_object_get(item, "url")));
    cli_list_item(o, json_incref(item), row, "WEBHOOK_ID       CREATED_AT                   URL");
}

static void row_delivery(struct cli_list_out *o, json_t *item)
{
    const char *last = json_string_value(json_object_get(item, "last_attempt_at"));
    char row[512];

    snprintf(row, sizeof(row), "%-20s %-20s %-10s %-8lld %-6lld %s",
             json_string_value(json_object_get(item, "event_id")),
             json_string_value(json_object_get(item, "type")),
             json_string_value(json_object_get(item, "status")),
             (long long)json_integer_value(json_object_get(item, "attempts")),
             (long long)json_integer_value(json_object_get(item, "last_status_code")),
             last ? last : "-");
    cli_list_item(
        o, json_incref(item), row,
        "EVENT_ID             TYPE                 STATUS     ATTEMPTS CODE   LAST_ATTEMPT");
}

/* Every page of a list: webhooks (id NULL) or one webhook's deliveries. */
static int list_all(struct cli *cli, const char *id)
{
    struct ccf_client_page page = {0};
    struct cli_list_out o;
    const char *key = id ? "deliveries" : "webhooks";
    char *token = NULL, *out = NULL;
    json_t *root, *item;
    size_t i;
    int rc = CLI_OK;

    cli_list_begin(&o, cli, key);
    do {
        page.next_token = token;
        if ((id ? ccf_client_list_webhook_deliveries(cli->client, id, &page, &out)
                : ccf_client_list_webhooks(cli->client, &page, &out)) < 0) {
            rc = cli_api_error(cli);
            break;
        }
        root = json_loads(out, 0, NULL);
        free(out);
        json_array_foreach(json_object_get(root, key), i, item)
        {
            if (id)
                row_delivery(&o, item);
            else
                row_webhook(&o, item);
        }
        free(token);
        token = json_string_value(json_object_get(root, "next_token"))
                    ? strdup(json_string_value(json_object_get(root, "next_token")))
                    : NULL;
        json_decref(root);
    } while (token);
    free(token);
    cli_list_end(&o, NULL);
    return rc;
}

static int list(struct cli *cli, int argc, char **argv)
{
    const struct cli_opt opts[] = {{NULL, 0, NULL, NULL, NULL}};
    struct cli_words w;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, opts, &w)) == CLI_OK && !cli->help_asked) {
        if (w.pos.n)
            rc = cli_usage(cli, "unexpected word '%s'", w.pos.v[0]);
        else if ((rc = cli_connect(cli)) == CLI_OK)
            rc = list_all(cli, NULL);
    }
    cli_words_free(&w);
    return rc;
}

static int deliveries(struct cli *cli, int argc, char **argv)
{
    const struct cli_opt opts[] = {{NULL, 0, NULL, NULL, NULL}};
    struct cli_words w;
    const char *id = NULL;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, opts, &w)) == CLI_OK && !cli->help_asked &&
        (rc = one_id(cli, &w, &id)) == CLI_OK && (rc = cli_connect(cli)) == CLI_OK)
        rc = list_all(cli, id);
    cli_words_free(&w);
    return rc;
}

int cli_webhook(struct cli *cli, const char *cmd, int argc, char **argv)
{
    static const struct cli_cmd cmds[] = {
        {"create", create, create_help}, {"list", list, list_help},
        {"get", get, get_help},          {"delete", del, delete_help},
        {"test", test, test_help},       {"deliveries", deliveries, deliveries_help},
    };

    return cli_dispatch(cli, "webhook", group_help, cmds, sizeof(cmds) / sizeof(cmds[0]), cmd, argc,
                        argv);
}
