/* cli.h: the ccf command-line client's internals: option parsing, output
 * (table or JSON), and one function per subcommand. Built on libccf only;
 * must not know about the server's internals.
 *
 * Exit codes: CLI_OK, CLI_FAILED (an API error, or any failure to carry
 * out the operation: connection, invalid answer, unreadable input file),
 * CLI_USAGE (the command line or the configuration is wrong; nothing was
 * sent), CLI_JOB_FAILED (under --wait, the job ended FAILED or STOPPED).
 * Errors go to stderr as "ccf: <errorType>: <message>". */
#ifndef CCF_CLI_H
#define CCF_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/ccf_client.h"

enum cli_exit {
    CLI_OK = 0,
    CLI_FAILED = 1,
    CLI_USAGE = 2,
    CLI_JOB_FAILED = 3,
    CLI_INTERRUPTED = 130, /* Ctrl-C while waiting for a job: 128 + SIGINT, as shells do */
};

/* What every command shares: the global options and, once connected, the
 * client. */
struct cli {
    const char *command; /* "connector create", for messages */
    char command_buf[64];
    const char *help; /* the command's --help text */
    const char *endpoint;
    const char *region;
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;
    const char *ca_bundle; /* NULL: $AWS_CA_BUNDLE (libccf reads it), else the system's */
    const char *profile;   /* --profile: a profile of the AWS shared credentials file */
    bool no_sign;          /* --no-sign-request: send unsigned (a ccfd with auth = none) */
    const char *output;    /* "table", "json"; NULL: by stdout */
    bool json;
    bool pretty;     /* JSON with indentation: stdout is a terminal */
    bool stderr_tty; /* progress lines may be rewritten in place */
    bool help_asked;
    struct ccf_client *client;
};

/* ---- options (args.c) ---- */

enum cli_opt_kind {
    CLI_FLAG,  /* --x: sets *flag */
    CLI_VALUE, /* --x V or --x=V, once: sets *value */
    CLI_LIST,  /* --x V, repeatable: appends to *list */
};

struct cli_list {
    const char **v; /* malloc'ed array of borrowed argv strings */
    size_t n;
};

struct cli_opt {
    const char *name; /* without the leading "--" */
    enum cli_opt_kind kind;
    bool *flag;
    const char **value;
    struct cli_list *list;
};

/* The words that are not options, and those after "--". */
struct cli_words {
    struct cli_list pos;
    struct cli_list rest;
    bool dashdash; /* "--" was given */
};

/* Parses argv (the words after the subcommand) against opts (ended by a
 * {NULL}) and the global options. CLI_OK, or CLI_USAGE after printing the
 * error. On --help, prints cli->help and sets cli->help_asked. */
int cli_parse(struct cli *cli, int argc, char **argv, const struct cli_opt *opts,
              struct cli_words *w);
void cli_words_free(struct cli_words *w);
void cli_list_free(struct cli_list *l);

/* Prints "ccf: UsageError: ..." and a pointer to --help; returns CLI_USAGE. */
int cli_usage(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "ccf: <type>: <message>"; returns CLI_FAILED. */
int cli_fail(const char *type, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the client's last error; returns CLI_FAILED. */
int cli_api_error(const struct cli *cli);

/* Number options: CLI_USAGE (printed) unless the whole value is a number
 * within [min, max]. NULL value: *out is left alone. */
int cli_int(const struct cli *cli, const char *opt, const char *value, int64_t min, int64_t max,
            int64_t *out);
int cli_double(const struct cli *cli, const char *opt, const char *value, double min, double max,
               double *out);
/* KEY=VALUE words into *out (free with cli_env_free; the values point into
 * the words, which must outlive *out). */
int cli_env(const struct cli *cli, const struct cli_list *words, struct ccf_client_env **out);
void cli_env_free(struct ccf_client_env *env, size_t n);

/* The connector (and job) id: --connector/--job, else the next positional
 * word. *used counts the positional words taken. */
int cli_ids(const struct cli *cli, const struct cli_words *w, const char *connector_opt,
            const char *job_opt, const char **cid, const char **jid, size_t *used);

/* Connects: endpoint, region and credentials from flags, then libccf's
 * chain (the environment, the AWS shared credentials file, ccfd's file).
 * No credentials anywhere is a CLI_USAGE that says where ccf looked; only
 * --no-sign-request sends unsigned. CLI_OK or CLI_USAGE. */
int cli_connect(struct cli *cli);

/* Sleeps ms milliseconds. */
void cli_sleep_ms(long ms);

/* A list read on with a cursor (cursor.c). page() reads the page after
 * after (NULL: from the oldest kept; follow: it may wait, a long poll),
 * prints its items, and sets *next (the caller's to free) and *printed; a
 * negative libccf code when the read fails (the client's last error). */
struct cli_cursor_list {
    int (*page)(struct cli *cli, void *ctx, const char *after, bool follow, char **next,
                size_t *printed);
    void *ctx;
    unsigned pause_s; /* following and caught up: seconds before the next read */
};
/* Reads l from after to its end, or with follow until Ctrl-C, then prints
 * the cursor to resume from on stderr. CLI_OK, CLI_INTERRUPTED (Ctrl-C
 * while following, or during a read), or cli_api_error's code. */
int cli_read_cursor_list(struct cli *cli, const struct cli_cursor_list *l, const char *after,
                         bool follow);

/* ---- output (output.c) ---- */

json_t *cli_json_connector(const struct ccf_client_connector *c);
json_t *cli_json_job(const struct ccf_client_job *j);
json_t *cli_json_document(const struct ccf_client_document *d);

/* Prints {"key": value} (taking value) as JSON. */
void cli_print_json(const struct cli *cli, const char *key, json_t *value);
/* Prints a whole object (taking it). */
void cli_print_json_object(const struct cli *cli, json_t *root);

/* A list printed as it arrives: begin, item per item, end. */
struct cli_list_out {
    const struct cli *cli;
    const char *key; /* "connectors", "jobs", "documents" */
    size_t n;
    bool open;
};
void cli_list_begin(struct cli_list_out *o, const struct cli *cli, const char *key);
/* JSON mode: prints item (taking it). Table mode: prints row (NUL-terminated). */
void cli_list_item(struct cli_list_out *o, json_t *item, const char *row, const char *header);
void cli_list_end(struct cli_list_out *o, const char *next_token);

/* Table output: "name   value" lines; a NULL value is skipped. Control
 * characters in values print as '?'. */
void cli_kv(const char *name, const char *value);
void cli_kv_int(const char *name, bool has, long long value);
/* A string with control characters as '?', malloc'ed. */
char *cli_clean(const char *s);

void cli_show_connector(const struct ccf_client_connector *c);
void cli_show_job(const struct ccf_client_job *j);

/* ---- subcommands (one file per group) ---- */

struct cli_cmd {
    const char *name;
    int (*run)(struct cli *cli, int argc, char **argv);
    const char *help;
};

/* Runs the group's command cmd; without one, prints the group's help (to
 * stdout and CLI_OK when --help is among the words, else to stderr and
 * CLI_USAGE). */
int cli_dispatch(struct cli *cli, const char *group, const char *group_help,
                 const struct cli_cmd *cmds, size_t ncmds, const char *cmd, int argc, char **argv);

int cli_connector(struct cli *cli, const char *cmd, int argc, char **argv);
int cli_job(struct cli *cli, const char *cmd, int argc, char **argv);
int cli_document(struct cli *cli, const char *cmd, int argc, char **argv);
int cli_checkpoint(struct cli *cli, const char *cmd, int argc, char **argv);
/* events takes no command word: cmd must be NULL. */
int cli_events(struct cli *cli, const char *cmd, int argc, char **argv);
int cli_webhook(struct cli *cli, const char *cmd, int argc, char **argv);
/* Nor does audit. */
int cli_audit(struct cli *cli, const char *cmd, int argc, char **argv);

/* Waits for a job to end (job.c), printing progress on stderr and, with
 * follow, its log on stdout. CLI_OK for SUCCEEDED, CLI_JOB_FAILED for
 * FAILED or STOPPED; *out gets the final job. SIGINT ends the wait with
 * CLI_INTERRUPTED after saying that the job still runs and how to stop it. */
int cli_wait_job(struct cli *cli, const char *cid, const char *jid, bool follow,
                 struct ccf_client_job *out);

#endif
