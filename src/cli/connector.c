/* connector.c: ccf connector create | get | list | update | delete |
 * pause | resume. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/banned.h"

static const char group_help[] =
    "Usage: ccf connector <command> [options]\n"
    "\n"
    "  create   register a connector: its command (or image), timeout and environment\n"
    "  get      show one connector, with its container properties\n"
    "  list     list every connector, oldest first\n"
    "  update   change some of a connector's fields (the others are kept)\n"
    "  delete   delete a connector with its documents, checkpoint and jobs\n"
    "  pause    stop its schedule and refuse new jobs (--stop-active-job: stop the running one)\n"
    "  resume   let its schedule run and jobs start again\n"
    "\n"
    "Run 'ccf connector <command> --help' for its options and an example.\n";

#define PROPS_HELP                                                                                 \
    "  --command PROG           the program each job runs (with --arg, or after --)\n"             \
    "  --arg ARG                one more argument of the command (repeatable)\n"                   \
    "  -- PROG ARG...           the whole command: every word after --\n"                          \
    "  --timeout SECONDS        a job's limit once RUNNING (1..604800; default 3600)\n"            \
    "  --cpu N                  vCPUs a job reserves (1..16; default 1)\n"                         \
    "  --memory MIB             memory a job reserves (1024..122880; default 2048)\n"              \
    "  --env NAME=VALUE         a default variable of every job (repeatable)\n"                    \
    "  --image-uri URI          a container image (when there is no --command)\n"                  \
    "  --execution-role-arn ARN\n"                                                                 \
    "  --job-role-arn ARN\n"                                                                       \
    "  --retry-strategy JSON    retries inside a job, AWS Batch's shape plus backoff:\n"           \
    "                           '{\"attempts\":3,\"backoff\":{\"initial_seconds\":10}}'\n"         \
    "  --schedule EXPR          run by itself: rate(1 hour), cron(0 3 ? * MON-FRI *),\n"           \
    "                           at(2030-01-01T09:00:00) (EventBridge Scheduler syntax)\n"          \
    "  --timezone ZONE          IANA zone of cron and at (default UTC)\n"                          \
    "  --schedule-state STATE   ENABLED (default) or DISABLED\n"                                   \
    "  --no-catch-up            no catch-up job at start-up for runs missed while ccfd was down\n" \
    "A relative PROG that names a file here (./sync.sh) is sent as its absolute path:\n"           \
    "ccfd looks relative names up in the jobs' PATH, not in your directory.\n"

static const char create_help[] =
    "Usage: ccf connector create --name NAME [--description TEXT] --command PROG [--arg ARG]...\n"
    "                            [options] [-- PROG ARG...]\n"
    "\n"
    "Registers a connector and prints it.\n"
    "\n"
    "  --name NAME              3..128 of [a-zA-Z0-9-]; need not be unique\n"
    "  --description TEXT       3..1000 characters\n"
    "  --client-token TOKEN     1..64 of [A-Za-z0-9_-]: within 24 h, the same command again\n"
    "                           prints the connector it made instead of making another\n" PROPS_HELP
    "\n"
    "Examples:\n"
    "  ccf connector create --name docs-sync --command ./sync.sh --timeout 600 --env KEY=VALUE\n"
    "  ccf connector create --name hello -- /bin/sh -c 'echo hello'\n"
    "  ccf connector create --name nightly --schedule 'cron(0 3 * * ? *)' --timezone "
    "Europe/Paris -- ./sync.sh\n";

static const char get_help[] = "Usage: ccf connector get CONNECTOR_ID\n"
                               "\n"
                               "Shows one connector, with its container properties.\n"
                               "\n"
                               "Example:\n"
                               "  ccf connector get cc-0123456789ab --output json\n";

static const char list_help[] =
    "Usage: ccf connector list [--max-items N] [--page-size N] [--starting-token TOKEN]\n"
    "\n"
    "Lists connectors, oldest first, following every page.\n"
    "\n"
    "  --max-items N            stop after N connectors; the JSON output then carries a\n"
    "                           next_token to resume from\n"
    "  --page-size N            connectors per request (1..100; default 100)\n"
    "  --starting-token TOKEN   resume where an earlier --max-items stopped\n"
    "\n"
    "Example:\n"
    "  ccf connector list --output json | jq -r '.connectors[].connector_id'\n";

static const char update_help[] =
    "Usage: ccf connector update CONNECTOR_ID [--name NAME] [--description TEXT] [options]\n"
    "                            [--unset FIELD]... [-- PROG ARG...]\n"
    "\n"
    "Changes the fields given and keeps the others (a JSON merge patch); --command and\n"
    "--env replace the whole command or environment. It applies to the next job.\n"
    "\n"
    "  --name NAME\n"
    "  --description TEXT\n" PROPS_HELP "  --no-schedule            remove the schedule\n"
    "  --unset FIELD            remove a field: description, image-uri, execution-role-arn,\n"
    "                           job-role-arn, cpu, memory, timeout (back to their default),\n"
    "                           command, env or retry-strategy (repeatable)\n"
    "\n"
    "Example:\n"
    "  ccf connector update cc-0123456789ab --timeout 1200 --unset description\n";

static const char delete_help[] =
    "Usage: ccf connector delete CONNECTOR_ID\n"
    "\n"
    "Deletes a connector and its documents, checkpoint and job records. A connector with\n"
    "a job running cannot be deleted (ConflictException): stop the job first.\n"
    "\n"
    "Example:\n"
    "  ccf connector delete cc-0123456789ab\n";

/* What create and update share. */
struct props_args {
    const char *description, *command, *timeout, *cpu, *memory, *image, *exec_role, *job_role;
    const char *retry;
    const char *schedule, *timezone, *schedule_state;
    bool no_catch_up;
    struct cli_list args, env;
};

struct props_built {
    struct ccf_client_container_properties p;
    char **argv; /* the command, owned array of borrowed words (argv[0] may be owned) */
    char *abs0;  /* owned absolute path of argv[0], or NULL */
    struct ccf_client_env *env;
};

static void props_free(struct props_built *b)
{
    free(b->argv);
    free(b->abs0);
    cli_env_free(b->env, b->p.environment_len);
    memset(b, 0, sizeof(*b));
}

/* ./sync.sh means the file here, but ccfd would look it up in its PATH. */
static void absolute_program(struct props_built *b)
{
    const char *p = b->argv[0];

    if (p[0] == '/' || !strchr(p, '/') || access(p, F_OK) < 0)
        return;
    b->abs0 = realpath(p, NULL);
    if (b->abs0)
        b->argv[0] = b->abs0;
}

static int command_words(const struct cli *cli, const struct props_args *a,
                         const struct cli_words *w, struct props_built *b)
{
    size_t n = (a->command ? 1 : 0) + a->args.n + w->rest.n, k = 0;

    if (n == 0)
        return CLI_OK;
    if (!a->command && a->args.n > 0)
        return cli_usage(cli, "--arg adds to --command: give --command PROG too");
    b->argv = calloc(n, sizeof(*b->argv));
    if (!b->argv)
        return cli_fail("OutOfMemoryError", "out of memory");
    if (a->command)
        b->argv[k++] = (char *)a->command;
    for (size_t i = 0; i < a->args.n; i++)
        b->argv[k++] = (char *)a->args.v[i];
    for (size_t i = 0; i < w->rest.n; i++)
        b->argv[k++] = (char *)w->rest.v[i];
    absolute_program(b);
    b->p.command = b->argv;
    b->p.command_len = n;
    return CLI_OK;
}

static int build_props(const struct cli *cli, const struct props_args *a, const struct cli_words *w,
                       struct props_built *b)
{
    int64_t timeout = 0, memory = 0;
    double cpu = 0;
    int rc;

    memset(b, 0, sizeof(*b));
    if ((rc = cli_int(cli, "timeout", a->timeout, INT64_MIN, INT64_MAX, &timeout)) != CLI_OK ||
        (rc = cli_int(cli, "memory", a->memory, INT64_MIN, INT64_MAX, &memory)) != CLI_OK ||
        (rc = cli_double(cli, "cpu", a->cpu, -1e300, 1e300, &cpu)) != CLI_OK ||
        (rc = command_words(cli, a, w, b)) != CLI_OK)
        return rc;
    if ((rc = cli_env(cli, &a->env, &b->env)) != CLI_OK)
        return rc;
    b->p.has_timeout = a->timeout != NULL;
    b->p.timeout = timeout;
    b->p.has_memory = a->memory != NULL;
    b->p.memory = memory;
    b->p.has_cpu = a->cpu != NULL;
    b->p.cpu = cpu;
    b->p.image_uri = (char *)a->image;
    b->p.execution_role_arn = (char *)a->exec_role;
    b->p.job_role_arn = (char *)a->job_role;
    b->p.has_environment = a->env.n > 0;
    b->p.environment = b->env;
    b->p.environment_len = a->env.n;
    b->p.retry_strategy = (char *)a->retry; /* the server validates it, naming the field */
    return CLI_OK;
}

#define PROPS_OPTS(a)                                                                              \
    {"description", CLI_VALUE, NULL, &(a).description, NULL},                                      \
        {"command", CLI_VALUE, NULL, &(a).command, NULL},                                          \
        {"arg", CLI_LIST, NULL, NULL, &(a).args}, {"env", CLI_LIST, NULL, NULL, &(a).env},         \
        {"timeout", CLI_VALUE, NULL, &(a).timeout, NULL},                                          \
        {"cpu", CLI_VALUE, NULL, &(a).cpu, NULL}, {"memory", CLI_VALUE, NULL, &(a).memory, NULL},  \
        {"image-uri", CLI_VALUE, NULL, &(a).image, NULL},                                          \
        {"execution-role-arn", CLI_VALUE, NULL, &(a).exec_role, NULL},                             \
        {"retry-strategy", CLI_VALUE, NULL, &(a).retry, NULL},                                     \
        {"schedule", CLI_VALUE, NULL, &(a).schedule, NULL},                                        \
        {"timezone", CLI_VALUE, NULL, &(a).timezone, NULL},                                        \
        {"schedule-state", CLI_VALUE, NULL, &(a).schedule_state, NULL},                            \
        {"no-catch-up", CLI_FLAG, &(a).no_catch_up, NULL, NULL},                                   \
    {                                                                                              \
        "job-role-arn", CLI_VALUE, NULL, &(a).job_role, NULL                                       \
    }

/* The schedule options as a schedule (a merge patch on update); false when
 * none was given. */
static bool schedule_of(const struct props_args *a, struct ccf_client_schedule *s)
{
    memset(s, 0, sizeof(*s));
    s->expression = (char *)a->schedule;
    s->timezone = (char *)a->timezone;
    s->state = (char *)a->schedule_state;
    s->has_catch_up = a->no_catch_up;
    s->catch_up = false;
    return a->schedule || a->timezone || a->schedule_state || a->no_catch_up;
}

static void print_connector(const struct cli *cli, const struct ccf_client_connector *c)
{
    if (cli->json)
        cli_print_json(cli, "connector", cli_json_connector(c));
    else
        cli_show_connector(c);
}

static int create(struct cli *cli, int argc, char **argv)
{
    struct props_args a = {0};
    const char *name = NULL, *token = NULL;
    const struct cli_opt opts[] = {
        {"name", CLI_VALUE, NULL, &name, NULL},
        {"client-token", CLI_VALUE, NULL, &token, NULL},
        PROPS_OPTS(a),
        {NULL, 0, NULL, NULL, NULL},
    };
    struct ccf_client_connector_spec spec = {0};
    struct ccf_client_connector out = {0};
    struct ccf_client_schedule sched;
    struct props_built b = {0};
    struct cli_words w;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, opts, &w)) != CLI_OK || cli->help_asked)
        goto out;
    if (w.pos.n > 0) {
        rc = cli_usage(cli, "unexpected word '%s' (a command goes after --command or --)",
                       w.pos.v[0]);
        goto out;
    }
    if (!name) {
        rc = cli_usage(cli, "--name is required");
        goto out;
    }
    if ((rc = build_props(cli, &a, &w, &b)) != CLI_OK || (rc = cli_connect(cli)) != CLI_OK)
        goto out;
    spec.name = name;
    spec.description = a.description;
    spec.container_properties = b.p;
    spec.schedule = schedule_of(&a, &sched) ? &sched : NULL;
    spec.client_token = token;
    if (ccf_client_create_connector(cli->client, &spec, &out) < 0) {
        rc = cli_api_error(cli);
        goto out;
    }
    print_connector(cli, &out);
out:
    ccf_client_connector_clear(&out);
    props_free(&b);
    cli_list_free(&a.args);
    cli_list_free(&a.env);
    cli_words_free(&w);
    return rc;
}

static int one_id(struct cli *cli, int argc, char **argv, struct cli_words *w, const char **cid)
{
    const struct cli_opt opts[] = {{NULL, 0, NULL, NULL, NULL}};
    size_t used;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, opts, w)) != CLI_OK || cli->help_asked)
        return rc;
    if ((rc = cli_ids(cli, w, NULL, NULL, cid, NULL, &used)) != CLI_OK)
        return rc;
    if (w->pos.n > used || w->rest.n > 0)
        return cli_usage(cli, "unexpected word '%s'",
                         w->pos.n > used ? w->pos.v[used] : w->rest.v[0]);
    return cli_connect(cli);
}

static int get(struct cli *cli, int argc, char **argv)
{
    struct ccf_client_connector out = {0};
    const char *cid = NULL;
    struct cli_words w;
    int rc;

    if ((rc = one_id(cli, argc, argv, &w, &cid)) != CLI_OK || cli->help_asked)
        goto out;
    if (ccf_client_get_connector(cli->client, cid, &out) < 0) {
        rc = cli_api_error(cli);
        goto out;
    }
    print_connector(cli, &out);
out:
    ccf_client_connector_clear(&out);
    cli_words_free(&w);
    return rc;
}

static int del(struct cli *cli, int argc, char **argv)
{
    const char *cid = NULL;
    struct cli_words w;
    int rc;

    if ((rc = one_id(cli, argc, argv, &w, &cid)) == CLI_OK && !cli->help_asked &&
        ccf_client_delete_connector(cli->client, cid) < 0)
        rc = cli_api_error(cli);
    cli_words_free(&w);
    return rc;
}

static int list_row(void *ctx, const struct ccf_client_connector *c)
{
    char row[512], *name = cli_clean(c->name);

    snprintf(row, sizeof(row), "%-15s  %-9s  %-27s  %s", c->connector_id, c->status, c->created_at,
             name ? name : "");
    free(name);
    cli_list_item(ctx, cli_json_connector(c), row,
                  "CONNECTOR_ID     STATUS     CREATED_AT                   NAME");
    return 0;
}

static int list(struct cli *cli, int argc, char **argv)
{
    const char *max_items = NULL, *page_size = NULL, *start = NULL;
    const struct cli_opt opts[] = {
        {"max-items", CLI_VALUE, NULL, &max_items, NULL},
        {"page-size", CLI_VALUE, NULL, &page_size, NULL},
        {"starting-token", CLI_VALUE, NULL, &start, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    struct ccf_client_iter it = {0};
    struct cli_list_out o;
    int64_t max = 0, size = 0;
    struct cli_words w;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, opts, &w)) != CLI_OK || cli->help_asked)
        goto out;
    if (w.pos.n || w.rest.n) {
        rc = cli_usage(cli, "unexpected word '%s'", w.pos.n ? w.pos.v[0] : w.rest.v[0]);
        goto out;
    }
    if ((rc = cli_int(cli, "max-items", max_items, 1, INT64_MAX, &max)) != CLI_OK ||
        (rc = cli_int(cli, "page-size", page_size, 1, CCF_CLIENT_PAGE_MAX, &size)) != CLI_OK ||
        (rc = cli_connect(cli)) != CLI_OK)
        goto out;
    it.max_items = (size_t)max;
    it.page_size = (int)size;
    it.starting_token = start;
    cli_list_begin(&o, cli, "connectors");
    rc =
        ccf_client_each_connector(cli->client, &it, list_row, &o) < 0 ? cli_api_error(cli) : CLI_OK;
    if (rc == CLI_OK)
        cli_list_end(&o, it.next_token);
out:
    free(it.next_token);
    cli_words_free(&w);
    return rc;
}

static const struct {
    const char *name;
    unsigned bit;
} fields[] = {
    {"description", CCF_CLIENT_FIELD_DESCRIPTION},
    {"image-uri", CCF_CLIENT_FIELD_IMAGE_URI},
    {"execution-role-arn", CCF_CLIENT_FIELD_EXECUTION_ROLE_ARN},
    {"job-role-arn", CCF_CLIENT_FIELD_JOB_ROLE_ARN},
    {"cpu", CCF_CLIENT_FIELD_CPU},
    {"memory", CCF_CLIENT_FIELD_MEMORY},
    {"timeout", CCF_CLIENT_FIELD_TIMEOUT},
    {"command", CCF_CLIENT_FIELD_COMMAND},
    {"env", CCF_CLIENT_FIELD_ENVIRONMENT},
    {"retry-strategy", CCF_CLIENT_FIELD_RETRY_STRATEGY},
};

static int unset_bits(const struct cli *cli, const struct cli_list *l, unsigned *bits)
{
    for (size_t i = 0; i < l->n; i++) {
        size_t k = 0;

        while (k < sizeof(fields) / sizeof(fields[0]) && strcmp(fields[k].name, l->v[i]) != 0)
            k++;
        if (k == sizeof(fields) / sizeof(fields[0]))
            return cli_usage(cli, "--unset does not know the field '%s'", l->v[i]);
        *bits |= fields[k].bit;
    }
    return CLI_OK;
}

static int update(struct cli *cli, int argc, char **argv)
{
    struct props_args a = {0};
    struct cli_list unset = {0};
    const char *name = NULL, *cid = NULL;
    bool no_schedule = false;
    const struct cli_opt opts[] = {
        {"name", CLI_VALUE, NULL, &name, NULL},
        {"unset", CLI_LIST, NULL, NULL, &unset},
        {"no-schedule", CLI_FLAG, &no_schedule, NULL, NULL},
        PROPS_OPTS(a),
        {NULL, 0, NULL, NULL, NULL},
    };
    struct ccf_client_connector_update upd = {0};
    struct ccf_client_connector out = {0};
    struct ccf_client_schedule sched;
    struct props_built b = {0};
    struct cli_words w;
    size_t used;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, opts, &w)) != CLI_OK || cli->help_asked ||
        (rc = cli_ids(cli, &w, NULL, NULL, &cid, NULL, &used)) != CLI_OK)
        goto out;
    if (w.pos.n > used) {
        rc = cli_usage(cli, "unexpected word '%s'", w.pos.v[used]);
        goto out;
    }
    if ((rc = unset_bits(cli, &unset, &upd.remove)) != CLI_OK ||
        (rc = build_props(cli, &a, &w, &b)) != CLI_OK)
        goto out;
    upd.name = name;
    upd.description = a.description;
    upd.container_properties = b.p;
    upd.schedule = schedule_of(&a, &sched) ? &sched : NULL;
    if (no_schedule && upd.schedule) {
        rc = cli_usage(cli, "--no-schedule removes the schedule: give no other schedule option");
        goto out;
    }
    if (no_schedule)
        upd.remove |= CCF_CLIENT_FIELD_SCHEDULE;
    if (!name && !a.description && !upd.remove && !b.p.command_len && !b.p.has_environment &&
        !b.p.has_timeout && !b.p.has_cpu && !b.p.has_memory && !a.image && !a.exec_role &&
        !a.job_role && !a.retry && !upd.schedule) {
        rc = cli_usage(cli, "nothing to update: give a field to change or --unset");
        goto out;
    }
    if ((rc = cli_connect(cli)) != CLI_OK)
        goto out;
    if (ccf_client_update_connector(cli->client, cid, &upd, &out) < 0) {
        rc = cli_api_error(cli);
        goto out;
    }
    print_connector(cli, &out);
out:
    ccf_client_connector_clear(&out);
    props_free(&b);
    cli_list_free(&a.args);
    cli_list_free(&a.env);
    cli_list_free(&unset);
    cli_words_free(&w);
    return rc;
}

static const char pause_help[] =
    "Usage: ccf connector pause CONNECTOR_ID [--stop-active-job]\n"
    "\n"
    "Pauses a connector: its schedule does not run (runs due while paused are dropped,\n"
    "not caught up) and 'ccf job start' is refused. A running job goes on, unless\n"
    "--stop-active-job stops it. Pausing a paused connector changes nothing.\n"
    "\n"
    "Example:\n"
    "  ccf connector pause cc-0123456789ab --stop-active-job\n";

static const char resume_help[] = "Usage: ccf connector resume CONNECTOR_ID\n"
                                  "\n"
                                  "Resumes a paused connector; its schedule runs again from now.\n"
                                  "\n"
                                  "Example:\n"
                                  "  ccf connector resume cc-0123456789ab\n";

static int pause_or_resume(struct cli *cli, int argc, char **argv, bool pause)
{
    struct ccf_client_connector out = {0};
    const char *cid = NULL;
    bool stop = false;
    const struct cli_opt opts[] = {
        {"stop-active-job", CLI_FLAG, &stop, NULL, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    struct cli_words w;
    size_t used;
    int rc;

    if ((rc = cli_parse(cli, argc, argv, pause ? opts : opts + 1, &w)) != CLI_OK ||
        cli->help_asked || (rc = cli_ids(cli, &w, NULL, NULL, &cid, NULL, &used)) != CLI_OK)
        goto out;
    if (w.pos.n > used || w.rest.n > 0) {
        rc = cli_usage(cli, "unexpected word '%s'", w.pos.n > used ? w.pos.v[used] : w.rest.v[0]);
        goto out;
    }
    if ((rc = cli_connect(cli)) != CLI_OK)
        goto out;
    if ((pause ? ccf_client_pause_connector(cli->client, cid, stop, &out)
               : ccf_client_resume_connector(cli->client, cid, &out)) < 0) {
        rc = cli_api_error(cli);
        goto out;
    }
    print_connector(cli, &out);
out:
    ccf_client_connector_clear(&out);
    cli_words_free(&w);
    return rc;
}

static int pause_cmd(struct cli *cli, int argc, char **argv)
{
    return pause_or_resume(cli, argc, argv, true);
}

static int resume_cmd(struct cli *cli, int argc, char **argv)
{
    return pause_or_resume(cli, argc, argv, false);
}

int cli_connector(struct cli *cli, const char *cmd, int argc, char **argv)
{
    static const struct cli_cmd cmds[] = {
        {"create", create, create_help},     {"get", get, get_help},
        {"list", list, list_help},           {"update", update, update_help},
        {"delete", del, delete_help},        {"pause", pause_cmd, pause_help},
        {"resume", resume_cmd, resume_help},
    };

    return cli_dispatch(cli, "connector", group_help, cmds, sizeof(cmds) / sizeof(cmds[0]), cmd,
                        argc, argv);
}
