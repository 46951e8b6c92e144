/* args.c: ccf's option parsing (GNU style: --name value or --name=value,
 * anywhere among the words, "--" ends the options), its error lines, and
 * the connection settings (endpoint, region, credentials) in the order the
 * man page gives. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/banned.h"

void cli_list_free(struct cli_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void cli_words_free(struct cli_words *w)
{
    cli_list_free(&w->pos);
    cli_list_free(&w->rest);
}

static void list_add(struct cli_list *l, const char *s)
{
    const char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

    if (!v) {
        fputs("ccf: OutOfMemoryError: out of memory\n", stderr);
        exit(CLI_FAILED);
    }
    v[l->n++] = s;
    l->v = v;
}

int cli_usage(const struct cli *cli, const char *fmt, ...)
{
    va_list ap;

    fputs("ccf: UsageError: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    /* No command yet (an unknown group): "ccf --help", not "ccf  --help". */
    if (cli->command && *cli->command)
        fprintf(stderr, "\nTry 'ccf %s --help'.\n", cli->command);
    else
        fputs("\nTry 'ccf --help'.\n", stderr);
    return CLI_USAGE;
}

int cli_fail(const char *type, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "ccf: %s: ", type);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_FAILED;
}

int cli_api_error(const struct cli *cli)
{
    const struct ccf_client_error *e = ccf_client_last_error(cli->client);

    fprintf(stderr, "ccf: %s: %s\n", e->error_type[0] ? e->error_type : "Error", e->message);
    return CLI_FAILED;
}

static const struct cli_opt *find(const struct cli_opt *opts, const char *name, size_t len)
{
    for (; opts && opts->name; opts++)
        if (strlen(opts->name) == len && strncmp(opts->name, name, len) == 0)
            return opts;
    return NULL;
}

static int take(struct cli *cli, const struct cli_opt *o, const char *value)
{
    if (o->kind == CLI_FLAG) {
        if (value)
            return cli_usage(cli, "--%s takes no value", o->name);
        *o->flag = true;
        return CLI_OK;
    }
    if (o->kind == CLI_LIST) {
        list_add(o->list, value);
        return CLI_OK;
    }
    if (*o->value)
        return cli_usage(cli, "--%s is given twice", o->name);
    *o->value = value;
    return CLI_OK;
}

/* One "--name[=value]" word; *i moves past a separate value. */
static int option(struct cli *cli, int argc, char **argv, int *i, const struct cli_opt *opts,
                  const struct cli_opt *globals)
{
    const char *name = argv[*i] + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const struct cli_opt *o = find(opts, name, len);

    if (!o)
        o = find(globals, name, len);
    if (!o)
        return cli_usage(cli, "unknown option --%.*s", (int)len, name);
    if (o->kind != CLI_FLAG && !eq) {
        if (*i + 1 >= argc)
            return cli_usage(cli, "--%s needs a value", o->name);
        return take(cli, o, argv[++*i]);
    }
    return take(cli, o, eq ? eq + 1 : NULL);
}

int cli_parse(struct cli *cli, int argc, char **argv, const struct cli_opt *opts,
              struct cli_words *w)
{
    const struct cli_opt globals[] = {
        {"endpoint", CLI_VALUE, NULL, &cli->endpoint, NULL},
        {"region", CLI_VALUE, NULL, &cli->region, NULL},
        {"access-key-id", CLI_VALUE, NULL, &cli->access_key_id, NULL},
        {"secret-access-key", CLI_VALUE, NULL, &cli->secret_access_key, NULL},
        {"session-token", CLI_VALUE, NULL, &cli->session_token, NULL},
        {"ca-bundle", CLI_VALUE, NULL, &cli->ca_bundle, NULL},
        {"profile", CLI_VALUE, NULL, &cli->profile, NULL},
        {"no-sign-request", CLI_FLAG, &cli->no_sign, NULL, NULL},
        {"output", CLI_VALUE, NULL, &cli->output, NULL},
        {"help", CLI_FLAG, &cli->help_asked, NULL, NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    int rc;

    memset(w, 0, sizeof(*w));
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];

        if (w->dashdash) {
            list_add(&w->rest, a);
        } else if (strcmp(a, "--") == 0) {
            w->dashdash = true;
        } else if (strcmp(a, "-h") == 0) {
            cli->help_asked = true;
        } else if (strncmp(a, "--", 2) == 0) {
            if ((rc = option(cli, argc, argv, &i, opts, globals)) != CLI_OK)
                return rc;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage(cli, "unknown option %s (options are spelt --name)", a);
        } else {
            list_add(&w->pos, a);
        }
    }
    if (cli->help_asked) {
        fputs(cli->help, stdout);
        return CLI_OK;
    }
    if (cli->output && strcmp(cli->output, "json") != 0 && strcmp(cli->output, "table") != 0)
        return cli_usage(cli, "--output is table or json, not %s", cli->output);
    cli->pretty = isatty(STDOUT_FILENO);
    cli->json = cli->output ? strcmp(cli->output, "json") == 0 : !cli->pretty;
    cli->stderr_tty = isatty(STDERR_FILENO);
    return CLI_OK;
}

int cli_int(const struct cli *cli, const char *opt, const char *value, int64_t min, int64_t max,
            int64_t *out)
{
    char *end;
    long long x;

    if (!value)
        return CLI_OK;
    errno = 0;
    x = strtoll(value, &end, 10);
    if (!*value || *end || errno || x < min || x > max)
        return cli_usage(cli, "--%s must be an integer from %lld to %lld, not '%s'", opt,
                         (long long)min, (long long)max, value);
    *out = x;
    return CLI_OK;
}

int cli_double(const struct cli *cli, const char *opt, const char *value, double min, double max,
               double *out)
{
    char *end;
    double x;

    if (!value)
        return CLI_OK;
    errno = 0;
    x = strtod(value, &end);
    if (!*value || *end || errno || !isfinite(x) || x < min || x > max)
        return cli_usage(cli, "--%s must be a number from %g to %g, not '%s'", opt, min, max,
                         value);
    *out = x;
    return CLI_OK;
}

int cli_env(const struct cli *cli, const struct cli_list *words, struct ccf_client_env **out)
{
    struct ccf_client_env *env;

    *out = NULL;
    if (words->n == 0)
        return CLI_OK;
    env = calloc(words->n, sizeof(*env));
    if (!env)
        return cli_fail("OutOfMemoryError", "out of memory");
    for (size_t i = 0; i < words->n; i++) {
        const char *eq = strchr(words->v[i], '=');

        if (!eq || eq == words->v[i]) {
            cli_env_free(env, i);
            return cli_usage(cli, "--env takes NAME=VALUE, not '%s'", words->v[i]);
        }
        /* The name is cut from the word: keep both parts in one copy. */
        env[i].name = strndup(words->v[i], (size_t)(eq - words->v[i]));
        env[i].value = (char *)eq + 1;
        if (!env[i].name) {
            cli_env_free(env, i);
            return cli_fail("OutOfMemoryError", "out of memory");
        }
    }
    *out = env;
    return CLI_OK;
}

void cli_env_free(struct ccf_client_env *env, size_t n)
{
    for (size_t i = 0; env && i < n; i++)
        free(env[i].name);
    free(env);
}

int cli_ids(const struct cli *cli, const struct cli_words *w, const char *copt, const char *jopt,
            const char **cid, const char **jid, size_t *used)
{
    *used = 0;
    *cid = copt;
    if (!*cid && *used < w->pos.n)
        *cid = w->pos.v[(*used)++];
    if (!*cid)
        return cli_usage(cli, "a connector id is required (cc-...)");
    if (!jid)
        return CLI_OK;
    *jid = jopt;
    if (!*jid && *used < w->pos.n)
        *jid = w->pos.v[(*used)++];
    if (!*jid)
        return cli_usage(cli, "a job id is required (ccj-...)");
    return CLI_OK;
}

static const char *env_or(const char *flag, const char *var, const char *dflt)
{
    const char *v = getenv(var);

    if (flag)
        return flag;
    return v && *v ? v : dflt;
}

/* The key pair given on the command line. */
static int from_flags(struct cli *cli, struct ccf_client_credentials *cr)
{
    if (strlen(cli->access_key_id) > CCF_CLIENT_KEY_ID_MAX ||
        strlen(cli->secret_access_key) > CCF_CLIENT_SECRET_MAX ||
        (cli->session_token && strlen(cli->session_token) > CCF_CLIENT_TOKEN_MAX))
        return cli_usage(cli, "an access key, secret or session token is too long");
    snprintf(cr->access_key_id, sizeof(cr->access_key_id), "%s", cli->access_key_id);
    snprintf(cr->secret_access_key, sizeof(cr->secret_access_key), "%s", cli->secret_access_key);
    snprintf(cr->session_token, sizeof(cr->session_token), "%s",
             cli->session_token ? cli->session_token : "");
    return CLI_OK;
}

/* Credentials: flags, else libccf's default chain. Finding none is an
 * error that says where ccf looked: sending unsigned by accident only earns
 * a 403 that hides the cause. --no-sign-request asks for unsigned. */
static int credentials(struct cli *cli, struct ccf_client_credentials *cr, bool *found)
{
    struct ccf_client_error err = {0};
    int rc;

    *found = false;
    if (cli->no_sign &&
        (cli->access_key_id || cli->secret_access_key || cli->session_token || cli->profile))
        return cli_usage(cli, "--no-sign-request takes no credentials options");
    if (cli->no_sign)
        return CLI_OK;
    if (cli->secret_access_key && !cli->access_key_id)
        return cli_usage(cli, "--secret-access-key needs --access-key-id");
    if (cli->session_token && !cli->secret_access_key)
        return cli_usage(cli, "--session-token needs --access-key-id and --secret-access-key");
    if (cli->profile && cli->secret_access_key)
        return cli_usage(cli, "--profile and --secret-access-key are two sources: give one");
    if (cli->profile && !*cli->profile)
        return cli_usage(cli, "--profile needs a profile name");
    if (cli->secret_access_key) {
        if ((rc = from_flags(cli, cr)) != CLI_OK)
            return rc;
        *found = true;
        return CLI_OK;
    }
    rc = ccf_client_credentials_default(cli->profile, cli->access_key_id, cr, &err);
    if (rc == 0) {
        *found = true;
        return CLI_OK;
    }
    fprintf(stderr, "ccf: %s: %s\n", err.error_type[0] ? err.error_type : "CredentialsError",
            err.message);
    if (rc == CCF_CLIENT_ENOTFOUND)
        fputs("Give --access-key-id and --secret-access-key, or --profile NAME; "
              "--no-sign-request sends unsigned requests (a ccfd with auth = none).\n",
              stderr);
    return CLI_USAGE;
}

int cli_connect(struct cli *cli)
{
    struct ccf_client_credentials cr = {0};
    struct ccf_client_config cfg = {0};
    struct ccf_client_error err = {0};
    bool found;
    int rc;

    /* Inside a job, the framework says where its API is. */
    cfg.endpoint = env_or(
        cli->endpoint, "CCF_ENDPOINT",
        env_or(NULL, "CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT", CCF_CLIENT_DEFAULT_ENDPOINT));
    cfg.region = env_or(cli->region, "AWS_REGION", CCF_CLIENT_DEFAULT_REGION);
    cfg.user_agent = "ccf/" CCF_CLIENT_VERSION;
    cfg.ca_bundle = cli->ca_bundle;
    if ((rc = credentials(cli, &cr, &found)) != CLI_OK)
        return rc;
    if (found) {
        cfg.access_key_id = cr.access_key_id;
        cfg.secret_access_key = cr.secret_access_key;
        cfg.session_token = cr.session_token[0] ? cr.session_token : NULL;
    }
    rc = ccf_client_create(&cli->client, &cfg, &err);
    memset(&cr, 0, sizeof(cr));
    if (rc < 0) {
        fprintf(stderr, "ccf: %s: %s\n", err.error_type, err.message);
        return rc == CCF_CLIENT_EINVAL ? CLI_USAGE : CLI_FAILED;
    }
    return CLI_OK;
}

void cli_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int cli_dispatch(struct cli *cli, const char *group, const char *group_help,
                 const struct cli_cmd *cmds, size_t ncmds, const char *cmd, int argc, char **argv)
{
    bool help = false;

    for (int i = 0; i < argc; i++)
        help = help || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
    snprintf(cli->command_buf, sizeof(cli->command_buf), "%s", group);
    cli->command = cli->command_buf;
    if (!cmd) {
        fputs(group_help, help ? stdout : stderr);
        return help ? CLI_OK : CLI_USAGE;
    }
    for (size_t i = 0; i < ncmds; i++) {
        if (strcmp(cmd, cmds[i].name) != 0)
            continue;
        snprintf(cli->command_buf, sizeof(cli->command_buf), "%s %s", group, cmds[i].name);
        cli->help = cmds[i].help;
        return cmds[i].run(cli, argc, argv);
    }
    return cli_usage(cli, "unknown command '%.40s'", cmd);
}
