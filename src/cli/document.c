/* document.c: ccf document put | delete | list. put and delete stream a
 * file of any length in batches of the contract's maximum (1000), holding
 * one batch in memory. A batch may not name a document twice, so a
 * repeated id closes the batch early: the later line wins, as it would
 * had the lines been sent one by one. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/banned.h"

#define LINE_MAX_BYTES 65536
/* The table's columns. A checksum is 32 to 512 characters; the column fits
 * a SHA-256 in hex, and a longer one pushes its row's id to the right. */
#define ROW_FORMAT "%-27s  %-64s  %s"
#define SLOTS      2048 /* a power of two over twice the batch */

static const char group_help[] =
    "Usage: ccf document <command> [options]\n"
    "\n"
    "  put      store document checksums from a file (any number, in batches of 1000)\n"
    "  delete   delete documents by id, from the command line or a file\n"
    "  list     list a connector's documents, by document_id\n"
    "\n"
    "Run 'ccf document <command> --help' for its options and an example.\n";

static const char put_help[] =
    "Usage: ccf document put --connector CONNECTOR_ID --file FILE\n"
    "\n"
    "Stores (upserts) the document checksums in FILE ('-': standard input), one document\n"
    "a line, either a JSON object or an id and a checksum separated by a tab:\n"
    "  {\"document_id\": \"docs/a.txt\", \"checksum\": \"0123456789abcdef0123456789abcdef\"}\n"
    "  docs/b.txt<TAB>fedcba9876543210fedcba9876543210\n"
    "Blank lines are skipped. Documents go in batches of 1000; each batch is stored whole or\n"
    "not at all, and on an error the message says which lines the failed batch held. When\n"
    "an id comes twice, the later line wins.\n"
    "\n"
    "  --connector ID   the connector (or give it as the first word)\n"
    "  --file FILE      the documents\n"
    "\n"
    "Example:\n"
    "  find docs -type f -exec sha256sum {} + | awk '{print $2 \"\\t\" $1}' > sums.tsv\n"
    "  ccf document put --connector cc-0123456789ab --file sums.tsv\n";

static const char delete_help[] =
    "Usage: ccf document delete --connector CONNECTOR_ID [--file FILE] [DOCUMENT_ID...]\n"
    "\n"
    "Deletes the documents named on the line and in FILE ('-': standard input): one id a\n"
    "line, or lines as 'ccf document put' reads them (the id is taken). Ids that do not\n"
    "exist are not an error, and the API does not say which existed: ccf reports the ids\n"
    "it sent ({\"ids_sent\": N, \"batches\": B} in JSON), all of which are now absent.\n"
    "\n"
    "  --connector ID   the connector (or give it as the first word)\n"
    "  --file FILE      more ids\n"
    "\n"
    "Example:\n"
    "  ccf document delete --connector cc-0123456789ab docs/old.txt docs/gone.txt\n";

static const char list_help[] =
    "Usage: ccf document list --connector CONNECTOR_ID [--not-seen-by-job JOB_ID]\n"
    "                         [--max-items N] [--page-size N] [--starting-token TOKEN]\n"
    "\n"
    "Lists the connector's documents by document_id, following every page.\n"
    "\n"
    "  --connector ID           the connector (or give it as the first word)\n"
    "  --not-seen-by-job JOB    only the documents whose latest put was not made with\n"
    "                           that job's own credentials (what a full scan did not see)\n"
    "  --max-items N            stop after N documents (the JSON then has a next_token)\n"
    "  --page-size N            documents per request (1..1000; default 1000)\n"
    "  --starting-token TOKEN   resume where an earlier --max-items stopped\n"
    "\n"
    "Example:\n"
    "  ccf document list --connector cc-0123456789ab --output json |\n"
    "    jq -r '.documents[] | [.document_id, .checksum] | @tsv'\n"
    "  ccf document list cc-0123456789ab --not-seen-by-job ccj-0123456789ab\n";

/* ---- reading lines ---- */

struct reader {
    FILE *f;
    const char *name;
    char *line;
    size_t cap;
    size_t lineno;
};

static int reader_open(struct reader *r, const char *path)
{
    memset(r, 0, sizeof(*r));
    r->name = strcmp(path, "-") == 0 ? "standard input" : path;
    r->f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
    if (!r->f)
        return cli_fail("FileError", "cannot open %s: %s", path, strerror(errno));
    return CLI_OK;
}

static void reader_close(struct reader *r)
{
    if (r->f && r->f != stdin)
        fclose(r->f);
    free(r->line);
    memset(r, 0, sizeof(*r));
}

/* The next non-blank line, without its line ending: 1, or 0 at the end,
 * or CLI_FAILED (printed). */
static int next_line(struct reader *r, char **s, size_t *len)
{
    ssize_t n;

    for (;;) {
        errno = 0;
        n = getline(&r->line, &r->cap, r->f);
        if (n < 0) {
            if (errno && ferror(r->f))
                return -cli_fail("FileError", "cannot read %s: %s", r->name, strerror(errno));
            return 0;
        }
        r->lineno++;
        while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r'))
            r->line[--n] = '\0';
        if (n > LINE_MAX_BYTES)
            return -cli_fail("InputError", "%s:%zu: the line is longer than %d bytes", r->name,
                             r->lineno, LINE_MAX_BYTES);
        if ((size_t)n != strlen(r->line))
            return -cli_fail("InputError", "%s:%zu: the line holds a NUL byte", r->name, r->lineno);
        if (n > 0 && strspn(r->line, " \t") != (size_t)n)
            break;
    }
    *s = r->line;
    *len = (size_t)n;
    return 1;
}

/* A line as a document: {"document_id", "checksum"} or "ID<TAB>CHECKSUM".
 * With need_sum false (delete), a plain line is an id. *id and *sum are
 * malloc'ed. */
static int parse_line(const struct reader *r, char *s, size_t len, bool need_sum, char **id,
                      char **sum)
{
    json_t *o, *jid, *jsum;
    char *tab;

    *id = *sum = NULL;
    if (s[0] == '{' && (o = json_loadb(s, len, 0, NULL)) != NULL) {
        jid = json_object_get(o, "document_id");
        jsum = json_object_get(o, "checksum");
        if (json_is_string(jid) && json_string_length(jid) > 0 &&
            (!need_sum || json_is_string(jsum))) {
            *id = strdup(json_string_value(jid));
            *sum = need_sum ? strdup(json_string_value(jsum)) : NULL;
        }
        json_decref(o);
        if (!*id)
            return cli_fail("InputError", "%s:%zu: a JSON line needs document_id%s as strings",
                            r->name, r->lineno, need_sum ? " and checksum" : "");
        return CLI_OK;
    }
    if (s[0] == '{' && need_sum)
        return cli_fail("InputError", "%s:%zu: the line is not a JSON object", r->name, r->lineno);
    tab = strchr(s, '\t');
    if (need_sum && (!tab || tab == s || strchr(tab + 1, '\t')))
        return cli_fail("InputError", "%s:%zu: expected a JSON object or DOCUMENT_ID<TAB>CHECKSUM",
                        r->name, r->lineno);
    if (tab)
        *tab = '\0';
    *id = strdup(s);
    *sum = need_sum ? strdup(tab + 1) : NULL;
    return CLI_OK;
}

/* ---- batches ---- */

struct batch {
    char *ids[CCF_CLIENT_BATCH_MAX];
    char *sums[CCF_CLIENT_BATCH_MAX];
    struct ccf_client_document_input docs[CCF_CLIENT_BATCH_MAX];
    int slot[SLOTS]; /* index + 1 into ids; 0: empty */
    size_t n;
    size_t first_line, last_line;
    size_t done, batches; /* documents sent so far, and requests */
};

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static bool batch_has(const struct batch *b, const char *id, size_t *pos)
{
    size_t i = hash(id) & (SLOTS - 1);

    for (; b->slot[i]; i = (i + 1) & (SLOTS - 1))
        if (strcmp(b->ids[b->slot[i] - 1], id) == 0)
            break;
    *pos = i;
    return b->slot[i] != 0;
}

static void batch_reset(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->ids[i]);
        free(b->sums[i]);
    }
    memset(b->slot, 0, sizeof(b->slot));
    b->n = 0;
}

struct job_ctx {
    struct cli *cli;
    const char *cid;
    const struct reader *r;
    bool put;
};

static void progress(const struct job_ctx *x, const struct batch *b, bool last)
{
    if (!x->cli->stderr_tty)
        return;
    fprintf(stderr, x->put ? "\rput %zu documents%s" : "\rsent %zu ids to delete%s", b->done,
            last ? "\n" : "");
}

static int flush(const struct job_ctx *x, struct batch *b)
{
    int rc;

    if (b->n == 0)
        return CLI_OK;
    if (x->put)
        rc = ccf_client_put_documents(x->cli->client, x->cid, b->docs, b->n);
    else
        rc = ccf_client_delete_documents(x->cli->client, x->cid, (const char *const *)b->ids, b->n);
    if (rc < 0) {
        const struct ccf_client_error *e = ccf_client_last_error(x->cli->client);

        if (x->cli->stderr_tty && b->done)
            fputc('\n', stderr);
        fprintf(stderr, "ccf: %s: %s (the batch of %zu from %s%s%zu-%zu; %zu %s before it)\n",
                e->error_type, e->message, b->n, x->r ? x->r->name : "the command line",
                x->r ? ", lines " : ", words ", b->first_line, b->last_line, b->done,
                x->put ? "documents were put" : "ids were deleted");
        return CLI_FAILED;
    }
    b->done += b->n;
    b->batches++;
    batch_reset(b);
    progress(x, b, false);
    return CLI_OK;
}

/* Adds one document (taking id and sum); sends the batch when it is full
 * or already holds id. */
static int add(const struct job_ctx *x, struct batch *b, char *id, char *sum, size_t line)
{
    size_t pos;
    int rc;

    if (batch_has(b, id, &pos)) {
        if ((rc = flush(x, b)) != CLI_OK) {
            free(id);
            free(sum);
            return rc;
        }
        batch_has(b, id, &pos);
    }
    if (b->n == 0)
        b->first_line = line;
    b->last_line = line;
    b->ids[b->n] = id;
    b->sums[b->n] = sum;
    b->docs[b->n].document_id = id;
    b->docs[b->n].checksum = sum;
    b->slot[pos] = (int)++b->n;
    return b->n == CCF_CLIENT_BATCH_MAX ? flush(x, b) : CLI_OK;
}

static int from_file(const struct job_ctx *x, struct batch *b, struct reader *r)
{
    char *s = NULL, *id, *sum;
    size_t len = 0;
    int rc, more;

    while ((more = next_line(r, &s, &len)) > 0) {
        if ((rc = parse_line(r, s, len, x->put, &id, &sum)) != CLI_OK)
            return rc;
        if (!id || (x->put && !sum)) {
            free(id);
            free(sum);
            return cli_fail("OutOfMemoryError", "out of memory");
        }
        if ((rc = add(x, b, id, sum, r->lineno)) != CLI_OK)
            return rc;
    }
    return more < 0 ? -more : CLI_OK;
}

/* The API answers a delete with {} whether an id was stored or not (not
 * an error, by the contract), so ccf cannot count deletions: it reports
 * the ids it sent, every one of which is now absent. */
static void print_count(const struct cli *cli, bool put, const struct batch *b)
{
    if (cli->json)
        printf("{\"%s\":%zu,\"batches\":%zu}\n", put ? "put" : "ids_sent", b->done, b->batches);
    else if (put)
        printf("put %zu documents in %zu batches\n", b->done, b->batches);
    else
        printf("sent %zu ids to delete in %zu batches; none of them is stored now (an id that "
               "was not stored is not an error)\n",
               b->done, b->batches);
}

/* put and delete: the same walk over the file (and, for delete, words). */
static int batch_cmd(struct cli *cli, int argc, char **argv, bool put)
{
    const char *copt = NULL, *file = NULL, *cid = NULL;
    const struct cli_opt opts[] = {
        {"connector", CLI_VALUE, NULL, &copt, NULL},
        {"file", CLI_VALUE, NULL, &file, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    struct reader r = {0};
    struct job_ctx x = {.cli = cli, .put = put};
    struct batch *b = calloc(1, sizeof(*b));
    struct cli_words w = {0};
    size_t used = 0;
    int rc;

    if (!b)
        return cli_fail("OutOfMemoryError", "out of memory");
    if ((rc = cli_parse(cli, argc, argv, opts, &w)) != CLI_OK || cli->help_asked ||
        (rc = cli_ids(cli, &w, copt, NULL, &cid, NULL, &used)) != CLI_OK)
        goto out;
    x.cid = cid;
    if (put && (w.pos.n > used || w.rest.n)) {
        rc = cli_usage(cli, "unexpected word '%s' (documents come from --file)",
                       w.pos.n > used ? w.pos.v[used] : w.rest.v[0]);
        goto out;
    }
    if (!file && (put || (w.pos.n == used && !w.rest.n))) {
        rc = cli_usage(cli, put ? "--file is required ('-' reads standard input)"
                                : "name the documents to delete, or give --file");
        goto out;
    }
    if ((rc = cli_connect(cli)) != CLI_OK)
        goto out;
    /* Ids on the command line first (delete only), then the file. */
    for (size_t i = used; rc == CLI_OK && i < w.pos.n + w.rest.n; i++) {
        const char *word = i < w.pos.n ? w.pos.v[i] : w.rest.v[i - w.pos.n];
        char *id = strdup(word);

        rc =
            id ? add(&x, b, id, NULL, i - used + 1) : cli_fail("OutOfMemoryError", "out of memory");
    }
    if (rc == CLI_OK && file && (rc = reader_open(&r, file)) == CLI_OK) {
        x.r = &r;
        rc = flush(&x, b); /* words and lines never share a batch: errors name one */
        if (rc == CLI_OK)
            rc = from_file(&x, b, &r);
    }
    if (rc == CLI_OK)
        rc = flush(&x, b);
    if (rc == CLI_OK) {
        progress(&x, b, true);
        print_count(cli, put, b);
    }
out:
    batch_reset(b);
    free(b);
    reader_close(&r);
    cli_words_free(&w);
    return rc;
}

static int put(struct cli *cli, int argc, char **argv)
{
    return batch_cmd(cli, argc, argv, true);
}

static int del(struct cli *cli, int argc, char **argv)
{
    return batch_cmd(cli, argc, argv, false);
}

static int list_row(void *ctx, const struct ccf_client_document *d)
{
    char *id = cli_clean(d->document_id), *sum = cli_clean(d->checksum), header[128];
    size_t len = strlen(id ? id : "") + strlen(sum ? sum : "") + 128;
    char *row = malloc(len);

    /* The header from the rows' own format: the two cannot drift apart. */
    snprintf(header, sizeof(header), ROW_FORMAT, "UPDATED_AT", "CHECKSUM", "DOCUMENT_ID");
    if (row)
        snprintf(row, len, ROW_FORMAT, d->updated_at, sum ? sum : "", id ? id : "");
    cli_list_item(ctx, cli_json_document(d), row ? row : "", header);
    free(row);
    free(id);
    free(sum);
    return 0;
}

static int list(struct cli *cli, int argc, char **argv)
{
    const char *copt = NULL, *max_items = NULL, *page_size = NULL, *start = NULL, *cid = NULL;
    const char *unseen = NULL;
    const struct cli_opt opts[] = {
        {"connector", CLI_VALUE, NULL, &copt, NULL},
        {"not-seen-by-job", CLI_VALUE, NULL, &unseen, NULL},
        {"max-items", CLI_VALUE, NULL, &max_items, NULL},
        {"page-size", CLI_VALUE, NULL, &page_size, NULL},
        {"starting-token", CLI_VALUE, NULL, &start, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    struct ccf_client_iter it = {0};
    struct cli_list_out o;
    int64_t max = 0, size = 0;
    struct cli_words w;
    size_t used;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, opts, &w)) != CLI_OK || cli->help_asked ||
        (rc = cli_ids(cli, &w, copt, NULL, &cid, NULL, &used)) != CLI_OK)
        goto out;
    if (w.pos.n > used || w.rest.n) {
        rc = cli_usage(cli, "unexpected word '%s'", w.pos.n > used ? w.pos.v[used] : w.rest.v[0]);
        goto out;
    }
    if ((rc = cli_int(cli, "max-items", max_items, 1, INT64_MAX, &max)) != CLI_OK ||
        (rc = cli_int(cli, "page-size", page_size, 1, CCF_CLIENT_DOC_PAGE_MAX, &size)) != CLI_OK ||
        (rc = cli_connect(cli)) != CLI_OK)
        goto out;
    it.max_items = (size_t)max;
    it.page_size = (int)size;
    it.starting_token = start;
    cli_list_begin(&o, cli, "documents");
    rc = ccf_client_each_document_not_seen(cli->client, cid, unseen, &it, list_row, &o) < 0
             ? cli_api_error(cli)
             : CLI_OK;
    if (rc == CLI_OK)
        cli_list_end(&o, it.next_token);
out:
    free(it.next_token);
    cli_words_free(&w);
    return rc;
}

int cli_document(struct cli *cli, const char *cmd, int argc, char **argv)
{
    static const struct cli_cmd cmds[] = {
        {"put", put, put_help},
        {"delete", del, delete_help},
        {"list", list, list_help},
    };

    return cli_dispatch(cli, "document", group_help, cmds, sizeof(cmds) / sizeof(cmds[0]), cmd,
                        argc, argv);
}
