/* checkpoint.c: ccf checkpoint put | get | delete. --file reads the data
 * whole; --data-only writes it as text: a final newline is added when the
 * data has none, so a text file put with --file comes back byte for byte. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/banned.h"

static const char group_help[] =
    "Usage: ccf checkpoint <command> [options]\n"
    "\n"
    "  put      store a connector's checkpoint (up to 1 MiB of UTF-8 text)\n"
    "  get      show it (--data-only: the data alone, as a line of text)\n"
    "  delete   delete it\n"
    "\n"
    "Run 'ccf checkpoint <command> --help' for its options and an example.\n";

static const char put_help[] =
    "Usage: ccf checkpoint put CONNECTOR_ID (--data TEXT | --file FILE)\n"
    "\n"
    "Stores the connector's checkpoint, replacing the one it had.\n"
    "\n"
    "  --connector ID   the connector (or give it as the first word)\n"
    "  --data TEXT      the checkpoint\n"
    "  --file FILE      the checkpoint is the whole file ('-': standard input)\n"
    "\n"
    "Example:\n"
    "  ccf checkpoint put cc-0123456789ab --data 'cursor=42'\n";

static const char get_help[] =
    "Usage: ccf checkpoint get CONNECTOR_ID [--data-only]\n"
    "\n"
    "Shows the connector's checkpoint. A connector without one: ResourceNotFoundException.\n"
    "\n"
    "  --connector ID   the connector (or give it as the first word)\n"
    "  --data-only      print only the data, with a newline after it unless it ends\n"
    "                   with one (exact bytes: --output json | jq -j .checkpoint.checkpoint_data)\n"
    "\n"
    "Example:\n"
    "  ccf checkpoint get cc-0123456789ab --data-only > state\n";

static const char delete_help[] = "Usage: ccf checkpoint delete CONNECTOR_ID\n"
                                  "\n"
                                  "Deletes the connector's checkpoint.\n"
                                  "\n"
                                  "Example:\n"
                                  "  ccf checkpoint delete cc-0123456789ab\n";

/* The connector, from --connector or the first word, and nothing else. */
static int connector(struct cli *cli, const struct cli_words *w, const char *copt, const char **cid)
{
    size_t used;
    int rc;

    if ((rc = cli_ids(cli, w, copt, NULL, cid, NULL, &used)) != CLI_OK)
        return rc;
    if (w->pos.n > used || w->rest.n)
        return cli_usage(cli, "unexpected word '%s'",
                         w->pos.n > used ? w->pos.v[used] : w->rest.v[0]);
    return CLI_OK;
}

/* The whole file, up to one byte over the contract's limit (the server then
 * says what is wrong). */
static int slurp(const char *path, char **out, size_t *len)
{
    const size_t max = 1024 * 1024 + 1;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
    char *buf = NULL;
    size_t n = 0;
    int rc = CLI_OK;

    if (!f)
        return cli_fail("FileError", "cannot open %s: %s", path, strerror(errno));
    buf = malloc(max + 1);
    if (!buf) {
        rc = cli_fail("OutOfMemoryError", "out of memory");
        goto out;
    }
    n = fread(buf, 1, max, f);
    if (ferror(f)) {
        rc = cli_fail("FileError", "cannot read %s", path);
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
out:
    free(buf);
    if (f != stdin)
        fclose(f);
    return rc;
}

static int put(struct cli *cli, int argc, char **argv)
{
    const char *copt = NULL, *data = NULL, *file = NULL, *cid = NULL;
    const struct cli_opt opts[] = {
        {"connector", CLI_VALUE, NULL, &copt, NULL},
        {"data", CLI_VALUE, NULL, &data, NULL},
        {"file", CLI_VALUE, NULL, &file, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    struct cli_words w;
    char *buf = NULL;
    size_t len = 0;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, opts, &w)) != CLI_OK || cli->help_asked ||
        (rc = connector(cli, &w, copt, &cid)) != CLI_OK)
        goto out;
    if (!data == !file) {
        rc = cli_usage(cli, "give the checkpoint with --data or --file (one of them)");
        goto out;
    }
    if (file && (rc = slurp(file, &buf, &len)) != CLI_OK)
        goto out;
    if ((rc = cli_connect(cli)) != CLI_OK)
        goto out;
    if (ccf_client_put_checkpoint(cli->client, cid, buf ? buf : data, buf ? len : strlen(data)) < 0)
        rc = cli_api_error(cli);
out:
    free(buf);
    cli_words_free(&w);
    return rc;
}

static int get(struct cli *cli, int argc, char **argv)
{
    const char *copt = NULL, *cid = NULL;
    bool data_only = false;
    const struct cli_opt opts[] = {
        {"connector", CLI_VALUE, NULL, &copt, NULL},
        {"data-only", CLI_FLAG, &data_only, NULL, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    struct ccf_client_checkpoint cp = {0};
    struct cli_words w;
    json_t *o;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, opts, &w)) != CLI_OK || cli->help_asked ||
        (rc = connector(cli, &w, copt, &cid)) != CLI_OK || (rc = cli_connect(cli)) != CLI_OK)
        goto out;
    if (ccf_client_get_checkpoint(cli->client, cid, &cp) < 0) {
        rc = cli_api_error(cli);
        goto out;
    }
    if (data_only) {
        bool newline = cp.data_len == 0 || cp.data[cp.data_len - 1] != '\n';

        if (fwrite(cp.data, 1, cp.data_len, stdout) != cp.data_len ||
            (newline && putchar('\n') == EOF))
            rc = cli_fail("FileError", "cannot write the checkpoint");
    } else if (cli->json) {
        o = json_object();
        json_object_set_new(o, "connector_id", json_string(cp.connector_id));
        json_object_set_new(o, "checkpoint_data", json_stringn(cp.data, cp.data_len));
        json_object_set_new(o, "created_at", json_string(cp.created_at));
        json_object_set_new(o, "updated_at", json_string(cp.updated_at));
        cli_print_json(cli, "checkpoint", o);
    } else {
        cli_kv("connector_id", cp.connector_id);
        cli_kv("checkpoint_data", cp.data);
        cli_kv("created_at", cp.created_at);
        cli_kv("updated_at", cp.updated_at);
    }
out:
    ccf_client_checkpoint_clear(&cp);
    cli_words_free(&w);
    return rc;
}

static int del(struct cli *cli, int argc, char **argv)
{
    const char *copt = NULL, *cid = NULL;
    const struct cli_opt opts[] = {
        {"connector", CLI_VALUE, NULL, &copt, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    struct cli_words w;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, opts, &w)) == CLI_OK && !cli->help_asked &&
        (rc = connector(cli, &w, copt, &cid)) == CLI_OK && (rc = cli_connect(cli)) == CLI_OK &&
        ccf_client_delete_checkpoint(cli->client, cid) < 0)
        rc = cli_api_error(cli);
    cli_words_free(&w);
    return rc;
}

int cli_checkpoint(struct cli *cli, const char *cmd, int argc, char **argv)
{
    static const struct cli_cmd cmds[] = {
        {"put", put, put_help},
        {"get", get, get_help},
        {"delete", del, delete_help},
    };

    return cli_dispatch(cli, "checkpoint", group_help, cmds, sizeof(cmds) / sizeof(cmds[0]), cmd,
                        argc, argv);
}
