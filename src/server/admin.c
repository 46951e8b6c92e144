/* admin.c: `ccfd credentials add|list|revoke`, on auth's file functions.
 * A secret is printed once, by add; list shows ids, accounts and scopes
 * only. Every change tells the operator to send SIGHUP, since a running
 * ccfd reads the file only at start and on that signal. */
#include "server/admin.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth/auth.h"
#include "core/core.h"
#include "core/log.h"
#include "server/config.h"

#define EXIT_FAIL   1
#define EXIT_USAGE  2
#define PARSED_HELP (-1) /* parse printed the help */

struct admin_opts {
    const char *credentials_file;
    const char *data_dir;
    const char *account_id;
    const char *connector_id;
    const char *expires_at;
    const char *key_id; /* revoke's argument */
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ccfd credentials add --account-id ID [--connector-id ID] [--expires-at TIME] "
            "[FILE]\n"
            "       ccfd credentials list [FILE]\n"
            "       ccfd credentials revoke ACCESS_KEY_ID [FILE]\n"
            "Manages ccfd's credentials file (one access key per section, mode 0600).\n\n"
            "  add      makes a key pair for account ID (12 digits) and prints its secret,\n"
            "           the only time it is shown; --connector-id scopes the key to one\n"
            "           connector's documents and checkpoint; --expires-at takes RFC 3339\n"
            "           (2026-12-31T23:59:59Z) or seconds since the epoch\n"
            "  list     prints every key without its secret\n"
            "  revoke   removes a key\n\n"
            "FILE: --credentials-file FILE, or --data-dir DIR for DIR/credentials\n"
            "(default " SERVER_DEFAULT_DATA_DIR "/credentials).\n"
            "A running ccfd uses the changed file after SIGHUP: kill -HUP <pid of ccfd>.\n");
}

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "ccfd credentials: %s%s%s; see ccfd credentials --help\n", msg, arg ? " " : "",
            arg ? arg : "");
    return EXIT_USAGE;
}

/* Returns 0, PARSED_HELP or EXIT_USAGE. */
static int parse(int argc, char **argv, struct admin_opts *o)
{
    static const struct option opts[] = {
        {"credentials-file", required_argument, NULL, 'f'},
        {"data-dir", required_argument, NULL, 'd'},
        {"account-id", required_argument, NULL, 'a'},
        {"connector-id", required_argument, NULL, 'c'},
        {"expires-at", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            o->credentials_file = optarg;
            break;
        case 'd':
            o->data_dir = optarg;
            break;
        case 'a':
            o->account_id = optarg;
            break;
        case 'c':
            o->connector_id = optarg;
            break;
        case 'e':
            o->expires_at = optarg;
            break;
        case 'h':
            usage(stdout);
            return PARSED_HELP;
        case ':':
            return usage_error("missing value for option", argv[optind - 1]);
        default:
            return usage_error("unknown option", argv[optind - 1]);
        }
    }
    if (o->credentials_file && o->data_dir)
        return usage_error("give --credentials-file or --data-dir, not both", NULL);
    if (optind < argc)
        o->key_id = argv[optind++];
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    return 0;
}

static int file_path(const struct admin_opts *o, char out[PATH_MAX])
{
    int n;

    if (o->credentials_file)
        n = snprintf(out, PATH_MAX, "%s", o->credentials_file);
    else
        n = snprintf(out, PATH_MAX, "%s/credentials",
                     o->data_dir ? o->data_dir : SERVER_DEFAULT_DATA_DIR);
    return n > 0 && n < PATH_MAX ? 0 : usage_error("path too long", NULL);
}

static const char *failure(int rc)
{
    switch (rc) {
    case CCF_ENOTFOUND:
        return "no such file";
    case CCF_EINVAL:
        return "the file is invalid or readable by others (see the log line above)";
    default:
        return "cannot read or write it (see the log line above)";
    }
}

static void format_expiry(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == 0 || !gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%s", t == 0 ? "never" : "?");
}

static int cmd_add(const struct admin_opts *o, const char *path)
{
    struct auth_credential_spec spec = {.account_id = o->account_id,
                                        .connector_id = o->connector_id};
    struct ccf_tenant t;
    char key_id[AUTH_KEY_ID_MAX + 1], secret[AUTH_SECRET_MAX + 1], when[32];
    int rc;

    if (!o->account_id)
        return usage_error("add needs --account-id (12 digits): the key's tenant", NULL);
    if (o->key_id)
        return usage_error("unexpected argument", o->key_id);
    if (ccf_tenant_init(&t, SERVER_DEFAULT_REGION, o->account_id) < 0)
        return usage_error("--account-id must be exactly 12 digits, not", o->account_id);
    if (o->connector_id && !ccf_connector_id_valid(o->connector_id))
        return usage_error("--connector-id must be cc- and 12 lower-case hex digits, not",
                           o->connector_id);
    if (o->expires_at && (!auth_parse_expiry(o->expires_at, &spec.expires_at) ||
                          spec.expires_at <= (int64_t)time(NULL)))
        return usage_error("--expires-at must be a future RFC 3339 time or epoch seconds, not",
                           o->expires_at);
    if ((rc = auth_credentials_add(path, &spec, key_id, secret)) < 0) {
        fprintf(stderr, "ccfd credentials: cannot add a key to %s: %s\n", path, failure(rc));
        return EXIT_FAIL;
    }
    format_expiry(spec.expires_at, when);
    printf("Added access key %s for account %s to %s", key_id, o->account_id, path);
    if (o->connector_id)
        printf(" (scoped to connector %s)", o->connector_id);
    printf(", expires %s.\nIts secret is shown only this once:\n\n"
           "  export AWS_ACCESS_KEY_ID=%s\n  export AWS_SECRET_ACCESS_KEY=%s\n\n"
           "A running ccfd accepts the key once it re-reads the file: kill -HUP <pid of ccfd>\n",
           when, key_id, secret);
    OPENSSL_cleanse(secret, sizeof(secret));
    return EXIT_SUCCESS;
}

static int cmd_list(const struct admin_opts *o, const char *path)
{
    struct auth_credential_info *v;
    char when[32];
    size_t n;
    int rc;

    if (o->key_id)
        return usage_error("unexpected argument", o->key_id);
    if ((rc = auth_credentials_list(path, &v, &n)) < 0) {
        fprintf(stderr, "ccfd credentials: cannot list %s: %s\n", path, failure(rc));
        return EXIT_FAIL;
    }
    printf("%-24s %-12s %-15s %-5s %s\n", "ACCESS_KEY_ID", "ACCOUNT", "CONNECTOR", "TOKEN",
           "EXPIRES");
    for (size_t i = 0; i < n; i++) {
        format_expiry(v[i].expires_at, when);
        printf("%-24s %-12s %-15s %-5s %s\n", v[i].access_key_id, v[i].account_id,
               v[i].connector_id[0] ? v[i].connector_id : "-",
               v[i].has_session_token ? "yes" : "no", when);
    }
    free(v);
    return EXIT_SUCCESS;
}

static int cmd_revoke(const struct admin_opts *o, const char *path)
{
    int rc;

    if (!o->key_id)
        return usage_error("revoke needs the access key id", NULL);
    if ((rc = auth_credentials_revoke(path, o->key_id)) == CCF_ENOTFOUND) {
        fprintf(stderr, "ccfd credentials: %s has no key %s (or no such file)\n", path, o->key_id);
        return EXIT_FAIL;
    }
    if (rc < 0) {
        fprintf(stderr, "ccfd credentials: cannot revoke %s in %s: %s\n", o->key_id, path,
                failure(rc));
        return EXIT_FAIL;
    }
    printf("Revoked access key %s in %s.\n"
           "A running ccfd refuses it once it re-reads the file: kill -HUP <pid of ccfd>\n",
           o->key_id, path);
    return EXIT_SUCCESS;
}

int server__credentials_main(int argc, char **argv)
{
    struct admin_opts o = {0};
    char path[PATH_MAX];
    const char *action = argc > 1 ? argv[1] : NULL;
    int rc;

    /* Only failures are worth a log line here; stdout says what was done. */
    ccf_log_setup(CCF_LOG_WARN, CCF_LOG_LOGFMT);
    if (!action)
        return usage_error("expected add, list or revoke", NULL);
    if (strcmp(action, "--help") == 0 || strcmp(action, "-h") == 0) {
        usage(stdout);
        return EXIT_SUCCESS;
    }
    if ((rc = parse(argc - 1, argv + 1, &o)) != 0)
        return rc == PARSED_HELP ? EXIT_SUCCESS : rc;
    if ((rc = file_path(&o, path)) != 0)
        return rc;
    if (strcmp(action, "add") == 0)
        return cmd_add(&o, path);
    if (strcmp(action, "list") == 0)
        return cmd_list(&o, path);
    if (strcmp(action, "revoke") == 0)
        return cmd_revoke(&o, path);
    return usage_error("expected add, list or revoke, not", action);
}

bool server__first_start_key(const char *path, const char *account_id, char *key_id,
                             size_t key_id_size)
{
    struct auth_credential_info *keys = NULL;
    size_t n = 0;
    bool only;
    int len;

    if (auth_credentials_list(path, &keys, &n) < 0)
        return false;
    only = n == 1 && strcmp(keys[0].account_id, account_id) == 0 && !keys[0].connector_id[0] &&
           !keys[0].has_session_token && keys[0].expires_at == 0;
    if (only) {
        len = snprintf(key_id, key_id_size, "%s", keys[0].access_key_id);
        only = len > 0 && (size_t)len < key_id_size;
    }
    free(keys);
    return only;
}
