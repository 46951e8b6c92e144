/* checkpoint.c: ccf checkpoint put | get | delete | versions | restore.
 * --file reads the data whole; --data-only writes it as text: a final
 * newline is added when the data has none, so a text file put with --file
 * comes back byte for byte. Conditions travel as expected_version. */
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
    "  versions list its kept versions, newest first\n"
    "  restore  make a kept version the current one again (a new version)\n"
    "\n"
    "Run 'ccf checkpoint <command> --help' for its options and an example.\n";

static const char put_help[] =
    "Usage: ccf checkpoint put CONNECTOR_ID (--data TEXT | --file FILE)\n"
    "                          [--if-match VERSION | --if-none-match]\n"
    "\n"
    "Stores the connector's checkpoint as a new version and prints that version.\n"
    "\n"
    "  --connector ID       the connector (or give it as the first word)\n"
    "  --data TEXT          the checkpoint\n"
    "  --file FILE          the checkpoint is the whole file ('-': standard input)\n"
    "  --if-match VERSION   write only if the current version is VERSION, else fail with\n"
    "                       PreconditionFailedException (someone else wrote first)\n"
    "  --if-none-match      write only if the connector has no checkpoint\n"
    "\n"
    "Example:\n"
    "  ccf checkpoint put cc-0123456789ab --data 'cursor=42' --if-match 3\n";

static const char get_help[] =
    "Usage: ccf checkpoint get CONNECTOR_ID [--version N] [--data-only]\n"
    "\n"
    "Shows the connector's checkpoint. A connector without one: ResourceNotFoundException.\n"
    "\n"
    "  --connector ID   the connector (or give it as the first word)\n"
    "  --version N      a kept earlier version (see 'ccf checkpoint versions')\n"
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

static const char versions_help[] =
    "Usage: ccf checkpoint versions CONNECTOR_ID [--max-items N] [--page-size N]\n"
    "\n"
    "Lists the kept versions of the connector's checkpoint, newest first: version, size in\n"
    "bytes, when it was written. ccfd keeps the last checkpoint-history (default 10).\n"
    "\n"
    "  --connector ID   the connector (or give it as the first word)\n"
    "  --max-items N    stop after N versions\n"
    "  --page-size N    versions per request, 1..100\n"
    "\n"
    "Example:\n"
    "  ccf checkpoint versions cc-0123456789ab\n";

static const char restore_help[] =
    "Usage: ccf checkpoint restore CONNECTOR_ID --version N\n"
    "\n"
    "Writes kept version N again as a new version: a get of N, then a put on the condition\n"
    "that nobody wrote in between (else PreconditionFailedException; run it again).\n"
    "\n"
    "  --connector ID   the connector (or give it as the first word)\n"
    "  --version N      the version to restore\n"
    "\n"
    "Example:\n"
    "  ccf checkpoint restore cc-0123456789ab --version 4\n";

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

static void print_version(const struct cli *cli, int64_t version)
{
    char v[24];

    if (version <= 0) /* a server from before versions */
        return;
    if (cli->json) {
        cli_print_json_object(cli, json_pack("{s:I}", "version", (json_int_t)version));
        return;
    }
    snprintf(v, sizeof(v), "%lld", (long long)version);
    cli_kv("version", v);
}

static int put(struct cli *cli, int argc, char **argv)
{
    const char *copt = NULL, *data = NULL, *file = NULL, *cid = NULL, *if_match = NULL;
    bool if_none = false;
    const struct cli_opt opts[] = {
        {"connector", CLI_VALUE, NULL, &copt, NULL},
        {"data", CLI_VALUE, NULL, &data, NULL},
        {"file", CLI_VALUE, NULL, &file, NULL},
        {"if-match", CLI_VALUE, NULL, &if_match, NULL},
        {"if-none-match", CLI_FLAG, &if_none, NULL, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    struct cli_words w;
    int64_t expect = -1, version = 0;
    char *buf = NULL;
    size_t len = 0;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, opts, &w)) != CLI_OK || cli->help_asked ||
        (rc = connector(cli, &w, copt, &cid)) != CLI_OK ||
        (rc = cli_int(cli, "if-match", if_match, 1, INT64_MAX, &expect)) != CLI_OK)
        goto out;
    if (!data == !file) {
        rc = cli_usage(cli, "give the checkpoint with --data or --file (one of them)");
        goto out;
    }
    if (if_match && if_none) {
        rc = cli_usage(cli, "give --if-match or --if-none-match, not both");
        goto out;
    }
    if (if_none)
        expect = 0;
    if (file && (rc = slurp(file, &buf, &len)) != CLI_OK)
        goto out;
    if ((rc = cli_connect(cli)) != CLI_OK)
        goto out;
    if (ccf_client_put_checkpoint_if(cli->client, cid, buf ? buf : data, buf ? len : strlen(data),
                                     expect, &version) < 0)
        rc = cli_api_error(cli);
    else
        print_version(cli, version);
out:
    free(buf);
    cli_words_free(&w);
    return rc;
}

static int get(struct cli *cli, int argc, char **argv)
{
    const char *copt = NULL, *cid = NULL, *vopt = NULL;
    bool data_only = false;
    const struct cli_opt opts[] = {
        {"connector", CLI_VALUE, NULL, &copt, NULL},
        {"version", CLI_VALUE, NULL, &vopt, NULL},
        {"data-only", CLI_FLAG, &data_only, NULL, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    struct ccf_client_checkpoint cp = {0};
    struct cli_words w;
    int64_t version = 0;
    char vbuf[24];
    json_t *o;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, opts, &w)) != CLI_OK || cli->help_asked ||
        (rc = connector(cli, &w, copt, &cid)) != CLI_OK ||
        (rc = cli_int(cli, "version", vopt, 1, INT64_MAX, &version)) != CLI_OK ||
        (rc = cli_connect(cli)) != CLI_OK)
        goto out;
    if (ccf_client_get_checkpoint_version(cli->client, cid, version, &cp) < 0) {
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
        if (cp.version > 0)
            json_object_set_new(o, "version", json_integer(cp.version));
        cli_print_json(cli, "checkpoint", o);
    } else {
        snprintf(vbuf, sizeof(vbuf), "%lld", (long long)cp.version);
        cli_kv("connector_id", cp.connector_id);
        cli_kv("version", cp.version > 0 ? vbuf : NULL);
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

static void show_versions(struct cli_list_out *o,
                          const struct ccf_client_checkpoint_version_list *l, int64_t max,
                          int64_t *shown)
{
    char row[96];

    for (size_t i = 0; i < l->len && (max == 0 || *shown < max); i++, (*shown)++) {
        const struct ccf_client_checkpoint_version *v = &l->items[i];
        snprintf(row, sizeof(row), "%-8lld %-10lld %s", (long long)v->version, (long long)v->size,
                 v->created_at);
        cli_list_item(o,
                      json_pack("{s:I,s:I,s:s}", "version", (json_int_t)v->version, "size",
                                (json_int_t)v->size, "created_at", v->created_at),
                      row, "VERSION  SIZE       CREATED_AT");
    }
}

/* Every page; the list opens only once the first page is in, so that an
 * error prints nothing on stdout. */
static int list_versions(struct cli *cli, const char *cid, int64_t max, int64_t size)
{
    struct ccf_client_checkpoint_version_list l = {0};
    struct ccf_client_page pg = {.max_results = (int)size};
    struct cli_list_out o;
    int64_t shown = 0;
    bool open = false;
    char *token = NULL;
    int rc = CLI_OK;

    do {
        pg.next_token = token;
        if (ccf_client_list_checkpoint_versions(cli->client, cid, &pg, &l) < 0) {
            rc = cli_api_error(cli);
            break;
        }
        if (!open)
            cli_list_begin(&o, cli, "versions");
        open = true;
        show_versions(&o, &l, max, &shown);
        free(token);
        token = l.next_token;
        l.next_token = NULL;
        ccf_client_checkpoint_version_list_clear(&l);
    } while (token && (max == 0 || shown < max));
    free(token);
    if (open)
        cli_list_end(&o, NULL);
    return rc;
}

static int versions(struct cli *cli, int argc, char **argv)
{
    const char *copt = NULL, *cid = NULL, *max_items = NULL, *page_size = NULL;
    const struct cli_opt opts[] = {
        {"connector", CLI_VALUE, NULL, &copt, NULL},
        {"max-items", CLI_VALUE, NULL, &max_items, NULL},
        {"page-size", CLI_VALUE, NULL, &page_size, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    struct cli_words w;
    int64_t max = 0, size = 100;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, opts, &w)) == CLI_OK && !cli->help_asked &&
        (rc = connector(cli, &w, copt, &cid)) == CLI_OK &&
        (rc = cli_int(cli, "max-items", max_items, 1, INT64_MAX, &max)) == CLI_OK &&
        (rc = cli_int(cli, "page-size", page_size, 1, 100, &size)) == CLI_OK &&
        (rc = cli_connect(cli)) == CLI_OK)
        rc = list_versions(cli, cid, max, size);
    cli_words_free(&w);
    return rc;
}

/* A get of version N and of the current version, then a put of N's data on
 * the condition that the current version is still the one read. */
static int restore(struct cli *cli, int argc, char **argv)
{
    const char *copt = NULL, *cid = NULL, *vopt = NULL;
    const struct cli_opt opts[] = {
        {"connector", CLI_VALUE, NULL, &copt, NULL},
        {"version", CLI_VALUE, NULL, &vopt, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    struct ccf_client_checkpoint old = {0}, cur = {0};
    struct cli_words w;
    int64_t version = 0, made = 0;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, opts, &w)) != CLI_OK || cli->help_asked ||
        (rc = connector(cli, &w, copt, &cid)) != CLI_OK ||
        (rc = cli_int(cli, "version", vopt, 1, INT64_MAX, &version)) != CLI_OK)
        goto out;
    if (!vopt) {
        rc = cli_usage(cli, "give the version to restore with --version");
        goto out;
    }
    if ((rc = cli_connect(cli)) != CLI_OK)
        goto out;
    if (ccf_client_get_checkpoint_version(cli->client, cid, 0, &cur) < 0 ||
        ccf_client_get_checkpoint_version(cli->client, cid, version, &old) < 0 ||
        ccf_client_put_checkpoint_if(cli->client, cid, old.data, old.data_len, cur.version, &made) <
            0) {
        rc = cli_api_error(cli);
        goto out;
    }
    print_version(cli, made);
out:
    ccf_client_checkpoint_clear(&old);
    ccf_client_checkpoint_clear(&cur);
    cli_words_free(&w);
    return rc;
}

int cli_checkpoint(struct cli *cli, const char *cmd, int argc, char **argv)
{
    static const struct cli_cmd cmds[] = {
        {"put", put, put_help},
        {"get", get, get_help},
        {"delete", del, delete_help},
        {"versions", versions, versions_help},
        {"restore", restore, restore_help},
    };

    return cli_dispatch(cli, "checkpoint", group_help, cmds, sizeof(cmds) / sizeof(cmds[0]), cmd,
                        argc, argv);
}
