/* job.c: ccf job start | get | list | stop | wait | logs, and waiting for a
 * job (polling its status, or following its log by offset until the job
 * has ended and every byte is read). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/banned.h"

#define POLL_MIN_MS  100
#define POLL_MAX_MS  1000
#define OUTAGE_MAX_S 60 /* how long a wait rides out a ccfd that is away */

/* Set by SIGINT during a wait: the wait ends, says the job is left running
 * and how to stop it. Ctrl-C used to kill ccf silently, and a user could
 * believe the job had gone with it. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Sleeps ms milliseconds, or less when SIGINT comes. */
static void nap_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    while (!interrupted && nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static const char group_help[] =
    "Usage: ccf job <command> [options]\n"
    "\n"
    "  start   start a job of a connector (--wait: until it ends; --follow: with its log)\n"
    "  get     show one job\n"
    "  list    list a connector's jobs, newest first\n"
    "  stop    ask a job to stop\n"
    "  wait    wait until a job ends; the exit status says how it ended\n"
    "  logs    print a job's output (--follow: until the job ends)\n"
    "\n"
    "Run 'ccf job <command> --help' for its options and an example.\n";

static const char start_help[] =
    "Usage: ccf job start CONNECTOR_ID [--env NAME=VALUE]... [--client-token TOKEN]\n"
    "                     [--wait | --follow]\n"
    "\n"
    "Starts a job of the connector (one job at a time per connector) and prints it.\n"
    "It sends a client token (a random one unless given), so that when the connection\n"
    "breaks ccf asks again without ever starting a second job.\n"
    "\n"
    "  --env NAME=VALUE      a variable for this job, over the connector's (repeatable)\n"
    "  --client-token TOKEN  1..64 of [A-Za-z0-9_-]: within 24 h, the same command again\n"
    "                        prints the job it started (even if it has ended)\n"
    "  --wait             wait until the job ends, showing its status on stderr, then\n"
    "                     print it; exit 0 if it SUCCEEDED, 3 if it FAILED or STOPPED\n"
    "  --follow           like --wait, printing the job's output instead of the job\n"
    "\n"
    "Example:\n"
    "  ccf job start cc-0123456789ab --env SINCE=2026-01-01 --wait\n";

static const char get_help[] = "Usage: ccf job get CONNECTOR_ID JOB_ID\n"
                               "\n"
                               "Shows one job: status, exit code, failure reason, times.\n"
                               "\n"
                               "Example:\n"
                               "  ccf job get cc-0123456789ab ccj-0123456789ab\n";

static const char list_help[] =
    "Usage: ccf job list CONNECTOR_ID [--status STATUS] [--max-items N] [--page-size N]\n"
    "                    [--starting-token TOKEN]\n"
    "\n"
    "Lists the connector's jobs, newest first, following every page.\n"
    "\n"
    "  --status STATUS          only STARTED, RUNNING, STOPPING, SUCCEEDED, FAILED or STOPPED\n"
    "  --max-items N            stop after N jobs (the JSON then has a next_token)\n"
    "  --page-size N            jobs per request (1..100; default 100)\n"
    "  --starting-token TOKEN   resume where an earlier --max-items stopped\n"
    "\n"
    "Example:\n"
    "  ccf job list cc-0123456789ab --status FAILED --max-items 5\n";

static const char stop_help[] =
    "Usage: ccf job stop CONNECTOR_ID JOB_ID\n"
    "\n"
    "Asks a job to stop (it goes STOPPING, then STOPPED) and shows the job as 'ccf job get'\n"
    "does. A job that has already ended cannot be stopped (ConflictException).\n"
    "\n"
    "Example:\n"
    "  ccf job stop cc-0123456789ab ccj-0123456789ab && ccf job wait cc-0123456789ab "
    "ccj-0123456789ab\n";

static const char wait_help[] =
    "Usage: ccf job wait CONNECTOR_ID JOB_ID [--follow]\n"
    "\n"
    "Waits until the job ends, showing its status on stderr, then prints it. Exit status:\n"
    "0 if it SUCCEEDED, 3 if it FAILED or STOPPED.\n"
    "\n"
    "  --follow   print the job's output as it comes instead of the job\n"
    "\n"
    "Example:\n"
    "  ccf job wait cc-0123456789ab ccj-0123456789ab || echo \"the job failed\"\n";

static const char logs_help[] =
    "Usage: ccf job logs CONNECTOR_ID JOB_ID [--follow] [--attempt N]\n"
    "                    [--tail BYTES | --offset BYTES]\n"
    "\n"
    "Prints the job's combined stdout and stderr (all of it, unless --tail or --offset).\n"
    "\n"
    "  --follow         keep printing as the job writes, until it ends\n"
    "  --tail BYTES     start BYTES before the end\n"
    "  --offset BYTES   start at this byte\n"
    "  --attempt N      the log of attempt N of a retried job (default: the latest;\n"
    "                   --follow then goes on with the attempts still to come)\n"
    "\n"
    "Example:\n"
    "  ccf job logs cc-0123456789ab ccj-0123456789ab --follow\n";

static void print_job(const struct cli *cli, const struct ccf_client_job *j)
{
    if (cli->json)
        cli_print_json(cli, "job", cli_json_job(j));
    else
        cli_show_job(j);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Progress on stderr: a new line per status; on a terminal (and when no
 * log shares the screen) the line also counts the seconds in place. */
struct progress {
    const struct cli *cli;
    const char *jid;
    bool live;
    bool open; /* a line without its newline is on the screen */
    char last[16];
    double t0;
};

static void progress(struct progress *p, const char *status)
{
    bool changed = strcmp(p->last, status) != 0;

    if (!changed && !p->live)
        return;
    if (p->live)
        fprintf(stderr, "%sjob %s: %s (%.0f s)", p->open ? "\r\033[K" : "", p->jid, status,
                now_s() - p->t0);
    else
        fprintf(stderr, "job %s: %s\n", p->jid, status);
    p->open = p->live;
    snprintf(p->last, sizeof(p->last), "%s", status);
}

static void progress_end(struct progress *p, const struct ccf_client_job *j)
{
    char *reason = cli_clean(j->failure_reason);

    fprintf(stderr, "%sjob %s: %s", p->open ? "\r\033[K" : "", p->jid, j->status);
    if (j->has_exit_code)
        fprintf(stderr, ", exit code %d", j->exit_code);
    if (j->failure_reason)
        fprintf(stderr, ": %s", reason ? reason : "");
    fprintf(stderr, " (%.1f s)\n", now_s() - p->t0);
    free(reason);
}

/* Where a reader of a job's log is: the attempt (0: the latest, pinned at
 * the first answer when following across attempts) and the offset in it. */
struct log_pos {
    int attempt;
    int64_t offset;
    bool across; /* go on with the next attempt's log once this one is read */
};

/* One look at the log from *offset: prints what came, moves *offset on.
 * *done when the job has ended and every byte is printed. A negative
 * client code (not printed yet), or CLI_FAILED when stdout fails. */
static int follow_once(struct cli *cli, const char *cid, const char *jid, struct log_pos *pos,
                       char status[16], bool *done, size_t *got)
{
    struct ccf_client_log_chunk ch = {0};
    int64_t *offset = &pos->offset;
    bool at_end;
    int rc;

    if ((rc = ccf_client_get_job_attempt_logs(cli->client, cid, jid, pos->attempt, *offset, 0,
                                              &ch)) < 0)
        return rc;
    if (pos->attempt == 0 && pos->across)
        pos->attempt = ch.attempt; /* from here on, attempt by attempt */
    if (*offset >= 0 && ch.start > *offset)
        fprintf(stderr, "ccf: %lld bytes of the log were dropped (the log is capped)\n",
                (long long)(ch.start - *offset));
    if (ch.len > 0 && fwrite(ch.data, 1, ch.len, stdout) != ch.len) {
        ccf_client_log_chunk_clear(&ch);
        return cli_fail("FileError", "cannot write the log");
    }
    fflush(stdout);
    *offset = ch.start + (int64_t)ch.len;
    *got = ch.len;
    at_end = *offset >= ch.log_size;
    *done = ccf_client_job_status_terminal(ch.job_status) && at_end &&
            (!pos->across || ch.attempt <= pos->attempt);
    if (pos->across && at_end && pos->attempt > 0 && ch.attempt > pos->attempt) {
        pos->attempt++; /* this attempt's log is whole: on to the next one */
        *offset = 0;
        *got = 1;
        fprintf(stderr, "ccf: attempt %d\n", pos->attempt);
    }
    snprintf(status, 16, "%s", ch.job_status);
    ccf_client_log_chunk_clear(&ch);
    return CLI_OK;
}

static int status_once(struct cli *cli, const char *cid, const char *jid, char status[16],
                       bool *done)
{
    struct ccf_client_job j = {0};
    int rc;

    if ((rc = ccf_client_get_job(cli->client, cid, jid, &j)) < 0)
        return rc;
    snprintf(status, 16, "%s", j.status);
    *done = ccf_client_job_status_terminal(j.status);
    ccf_client_job_clear(&j);
    return CLI_OK;
}

/* A failure that a restarting ccfd causes: no connection, or 503 (429 and
 * 503 were already retried as Retry-After said). */
static bool transient(const struct cli *cli)
{
    const struct ccf_client_error *e = ccf_client_last_error(cli->client);

    return e->code == CCF_CLIENT_ETRANSPORT ||
           (e->code == CCF_CLIENT_EAPI && (e->http_status == 503 || e->http_status == 429));
}

/* Polls until the job has ended: its log from offset (printed) with
 * follow, else its status. Jobs outlive a restart of ccfd, and so does the
 * wait: connection errors are ridden out for OUTAGE_MAX_S. */
static int poll_until_ended(struct cli *cli, const char *cid, const char *jid, bool follow,
                            struct log_pos pos, struct progress *p)
{
    long delay = POLL_MIN_MS;
    double outage = 0;
    char status[16] = "";
    bool done = false;
    size_t got;
    int rc;

    while (!done) {
        if (interrupted)
            return CLI_INTERRUPTED;
        got = 0;
        rc = follow ? follow_once(cli, cid, jid, &pos, status, &done, &got)
                    : status_once(cli, cid, jid, status, &done);
        if (rc > 0)
            return rc;
        if (rc < 0 && (!transient(cli) || (outage > 0 && now_s() - outage > OUTAGE_MAX_S)))
            return cli_api_error(cli);
        if (rc < 0) {
            if (outage == 0)
                fprintf(stderr, "ccf: %s (retrying for up to %d s)\n",
                        ccf_client_last_error(cli->client)->message, OUTAGE_MAX_S);
            outage = outage > 0 ? outage : now_s();
            nap_ms(POLL_MAX_MS);
            continue;
        }
        outage = 0;
        if (done)
            break;
        if (p)
            progress(p, status);
        if (got > 0) {
            delay = POLL_MIN_MS; /* the job is writing: ask again at once */
            continue;
        }
        nap_ms(delay);
        delay = delay * 2 > POLL_MAX_MS ? POLL_MAX_MS : delay * 2;
    }
    return CLI_OK;
}

static void say_interrupted(const struct progress *p, const char *cid, const char *jid)
{
    fflush(stdout);
    fprintf(stderr,
            "%sccf: Interrupted: job %s is left %s, not stopped; stop it with:\n"
            "  ccf job stop %s %s\n",
            p->open ? "\n" : "", jid, p->last[0] ? p->last : "as it was", cid, jid);
}

int cli_wait_job(struct cli *cli, const char *cid, const char *jid, bool follow,
                 struct ccf_client_job *out)
{
    struct progress p = {.cli = cli, .jid = jid, .live = cli->stderr_tty && !follow};
    struct sigaction sa = {.sa_handler = on_sigint}, old;
    /* A job being retried shows each attempt's output in turn. */
    struct log_pos pos = {.across = true};
    struct ccf_client_job j = {0};
    int rc;

    /* No SA_RESTART: a sleep ends at once; a request in flight finishes. */
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old);
    p.t0 = now_s();
    rc = poll_until_ended(cli, cid, jid, follow, pos, &p);
    sigaction(SIGINT, &old, NULL);
    if (rc == CLI_INTERRUPTED)
        say_interrupted(&p, cid, jid);
    if (rc != CLI_OK)
        return rc;
    if (ccf_client_get_job(cli->client, cid, jid, &j) < 0)
        return cli_api_error(cli);
    progress_end(&p, &j);
    rc = strcmp(j.status, "SUCCEEDED") == 0 ? CLI_OK : CLI_JOB_FAILED;
    *out = j;
    return rc;
}

/* Parses [--connector ID] [--job ID] CONNECTOR_ID [JOB_ID] and nothing else. */
static int ids(struct cli *cli, int argc, char **argv, const struct cli_opt *extra,
               struct cli_words *w, const char **cid, const char **jid)
{
    const char *copt = NULL, *jopt = NULL;
    struct cli_opt opts[16] = {
        {"connector", CLI_VALUE, NULL, &copt, NULL},
        {"job", CLI_VALUE, NULL, &jopt, NULL},
    };
    size_t n = 2, used;
    int rc;

    for (; extra && extra->name && n < 15; extra++)
        opts[n++] = *extra;
    if ((rc = cli_parse(cli, argc, argv, opts, w)) != CLI_OK || cli->help_asked)
        return rc;
    if ((rc = cli_ids(cli, w, copt, jopt, cid, jid, &used)) != CLI_OK)
        return rc;
    if (w->pos.n > used || w->rest.n > 0)
        return cli_usage(cli, "unexpected word '%s'",
                         w->pos.n > used ? w->pos.v[used] : w->rest.v[0]);
    return CLI_OK;
}

/* A dropped connection leaves the outcome unknown: the same token again
 * returns the job if the first attempt started it, or starts it now. */
#define START_ATTEMPTS 4

static int start_once_only(struct cli *cli, const char *cid, const struct ccf_client_env *env,
                           size_t n, const char *token, struct ccf_client_job *job)
{
    char fresh[33];
    int rc = CCF_CLIENT_ETRANSPORT;

    if (!token) {
        if (ccf_client_token_new(fresh) < 0)
            return cli_fail("RandomError", "cannot read /dev/urandom for a client token");
        token = fresh;
    }
    for (int i = 0; i < START_ATTEMPTS && rc == CCF_CLIENT_ETRANSPORT; i++) {
        if (i > 0)
            cli_sleep_ms(250L << i);
        rc = ccf_client_start_job_token(cli->client, cid, env, n, token, job);
    }
    return rc < 0 ? cli_api_error(cli) : CLI_OK;
}

static int start(struct cli *cli, int argc, char **argv)
{
    struct cli_list envw = {0};
    bool wait = false, follow = false;
    const char *token = NULL;
    const struct cli_opt opts[] = {
        {"env", CLI_LIST, NULL, NULL, &envw},  {"client-token", CLI_VALUE, NULL, &token, NULL},
        {"wait", CLI_FLAG, &wait, NULL, NULL}, {"follow", CLI_FLAG, &follow, NULL, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    struct ccf_client_job job = {0}, end = {0};
    struct ccf_client_env *env = NULL;
    const char *cid = NULL;
    struct cli_words w;
    int rc;

    if ((rc = ids(cli, argc, argv, opts, &w, &cid, NULL)) != CLI_OK || cli->help_asked ||
        (rc = cli_env(cli, &envw, &env)) != CLI_OK || (rc = cli_connect(cli)) != CLI_OK)
        goto out;
    if ((rc = start_once_only(cli, cid, env, envw.n, token, &job)) != CLI_OK)
        goto out;
    if (!wait && !follow) {
        print_job(cli, &job);
        goto out;
    }
    rc = cli_wait_job(cli, cid, job.job_id, follow, &end);
    if ((rc == CLI_OK || rc == CLI_JOB_FAILED) && !follow)
        print_job(cli, &end);
out:
    ccf_client_job_clear(&job);
    ccf_client_job_clear(&end);
    cli_env_free(env, envw.n);
    cli_list_free(&envw);
    cli_words_free(&w);
    return rc;
}

static int get(struct cli *cli, int argc, char **argv)
{
    struct ccf_client_job job = {0};
    const char *cid = NULL, *jid = NULL;
    struct cli_words w;
    int rc;

    if ((rc = ids(cli, argc, argv, NULL, &w, &cid, &jid)) != CLI_OK || cli->help_asked ||
        (rc = cli_connect(cli)) != CLI_OK)
        goto out;
    if (ccf_client_get_job(cli->client, cid, jid, &job) < 0)
        rc = cli_api_error(cli);
    else
        print_job(cli, &job);
out:
    ccf_client_job_clear(&job);
    cli_words_free(&w);
    return rc;
}

/* The API answers a stop with {}: ccf then shows the job as job get does
 * (STOPPING, or STOPPED when it had not run yet), so that success says
 * something and a script gets the status it can wait on. */
static int stop(struct cli *cli, int argc, char **argv)
{
    struct ccf_client_job job = {0};
    const char *cid = NULL, *jid = NULL;
    struct cli_words w;
    int rc;

    if ((rc = ids(cli, argc, argv, NULL, &w, &cid, &jid)) != CLI_OK || cli->help_asked ||
        (rc = cli_connect(cli)) != CLI_OK)
        goto out;
    if (ccf_client_stop_job(cli->client, cid, jid) < 0) {
        rc = cli_api_error(cli);
        goto out;
    }
    if (ccf_client_get_job(cli->client, cid, jid, &job) < 0) {
        /* The stop was accepted: say so, whatever the look after it met. */
        fprintf(stderr, "job %s: stop requested\n", jid);
        rc = cli_api_error(cli);
        goto out;
    }
    print_job(cli, &job);
out:
    ccf_client_job_clear(&job);
    cli_words_free(&w);
    return rc;
}

static int wait_cmd(struct cli *cli, int argc, char **argv)
{
    bool follow = false;
    const struct cli_opt opts[] = {
        {"follow", CLI_FLAG, &follow, NULL, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    struct ccf_client_job end = {0};
    const char *cid = NULL, *jid = NULL;
    struct cli_words w;
    int rc;

    if ((rc = ids(cli, argc, argv, opts, &w, &cid, &jid)) != CLI_OK || cli->help_asked ||
        (rc = cli_connect(cli)) != CLI_OK)
        goto out;
    rc = cli_wait_job(cli, cid, jid, follow, &end);
    if ((rc == CLI_OK || rc == CLI_JOB_FAILED) && !follow)
        print_job(cli, &end);
out:
    ccf_client_job_clear(&end);
    cli_words_free(&w);
    return rc;
}

static int list_row(void *ctx, const struct ccf_client_job *j)
{
    char row[256], code[16] = "-";

    if (j->has_exit_code)
        snprintf(code, sizeof(code), "%d", j->exit_code);
    snprintf(row, sizeof(row), "%-16s  %-9s  %-27s  %-27s  %s", j->job_id, j->status, j->created_at,
             j->completed_at ? j->completed_at : "-", code);
    cli_list_item(ctx, cli_json_job(j), row,
                  "JOB_ID            STATUS     CREATED_AT                   COMPLETED_AT"
                  "                 EXIT");
    return 0;
}

static int list(struct cli *cli, int argc, char **argv)
{
    const char *max_items = NULL, *page_size = NULL, *start_tok = NULL, *status = NULL;
    const struct cli_opt opts[] = {
        {"status", CLI_VALUE, NULL, &status, NULL},
        {"max-items", CLI_VALUE, NULL, &max_items, NULL},
        {"page-size", CLI_VALUE, NULL, &page_size, NULL},
        {"starting-token", CLI_VALUE, NULL, &start_tok, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    struct ccf_client_iter it = {0};
    struct cli_list_out o;
    int64_t max = 0, size = 0;
    const char *cid = NULL;
    struct cli_words w;
    int rc;

    if ((rc = ids(cli, argc, argv, opts, &w, &cid, NULL)) != CLI_OK || cli->help_asked ||
        (rc = cli_int(cli, "max-items", max_items, 1, INT64_MAX, &max)) != CLI_OK ||
        (rc = cli_int(cli, "page-size", page_size, 1, CCF_CLIENT_PAGE_MAX, &size)) != CLI_OK ||
        (rc = cli_connect(cli)) != CLI_OK)
        goto out;
    it.max_items = (size_t)max;
    it.page_size = (int)size;
    it.starting_token = start_tok;
    cli_list_begin(&o, cli, "jobs");
    rc = ccf_client_each_job(cli->client, cid, status, &it, list_row, &o) < 0 ? cli_api_error(cli)
                                                                              : CLI_OK;
    if (rc == CLI_OK)
        cli_list_end(&o, it.next_token);
out:
    free(it.next_token);
    cli_words_free(&w);
    return rc;
}

/* Prints the log from offset up to its current end: a chunk shorter than
 * the largest the server sends means the end was reached. */
static int logs_once(struct cli *cli, const char *cid, const char *jid, struct log_pos pos)
{
    char status[16];
    bool done;
    size_t got;
    int rc;

    do {
        if ((rc = follow_once(cli, cid, jid, &pos, status, &done, &got)) != CLI_OK)
            return rc < 0 ? cli_api_error(cli) : rc;
    } while (got == CCF_CLIENT_LOG_CHUNK_MAX);
    return CLI_OK;
}

static int logs(struct cli *cli, int argc, char **argv)
{
    const char *tail = NULL, *offs = NULL, *att = NULL;
    bool follow = false;
    const struct cli_opt opts[] = {
        {"follow", CLI_FLAG, &follow, NULL, NULL},
        {"tail", CLI_VALUE, NULL, &tail, NULL},
        {"offset", CLI_VALUE, NULL, &offs, NULL},
        {"attempt", CLI_VALUE, NULL, &att, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    const char *cid = NULL, *jid = NULL;
    int64_t offset = 0, t = 0, attempt = 0;
    struct log_pos pos = {0};
    struct cli_words w;
    int rc;

    if ((rc = ids(cli, argc, argv, opts, &w, &cid, &jid)) != CLI_OK || cli->help_asked ||
        (rc = cli_int(cli, "attempt", att, 1, 1000, &attempt)) != CLI_OK ||
        (rc = cli_int(cli, "tail", tail, 0, INT64_C(999999999999999), &t)) != CLI_OK ||
        (rc = cli_int(cli, "offset", offs, 0, INT64_C(999999999999999), &offset)) != CLI_OK)
        goto out;
    if (tail && offs) {
        rc = cli_usage(cli, "give --tail or --offset, not both");
        goto out;
    }
    if (tail)
        offset = t ? -t : 0;
    if ((rc = cli_connect(cli)) != CLI_OK)
        goto out;
    /* --follow without --attempt goes on through the attempts still to come. */
    pos = (struct log_pos){.attempt = (int)attempt, .offset = offset, .across = follow && !att};
    rc = follow ? poll_until_ended(cli, cid, jid, true, pos, NULL) : logs_once(cli, cid, jid, pos);
out:
    cli_words_free(&w);
    return rc;
}

int cli_job(struct cli *cli, const char *cmd, int argc, char **argv)
{
    static const struct cli_cmd cmds[] = {
        {"start", start, start_help}, {"get", get, get_help},        {"list", list, list_help},
        {"stop", stop, stop_help},    {"wait", wait_cmd, wait_help}, {"logs", logs, logs_help},
    };

    return cli_dispatch(cli, "job", group_help, cmds, sizeof(cmds) / sizeof(cmds[0]), cmd, argc,
                        argv);
}
