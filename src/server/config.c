/* config.c: ccfd's settings. One table of keys serves the flags, the INI file
 * (libinih), the CCF_ variables, --help and --print-config, so that no
 * source can drift from another. Defaults are applied first, then the file,
 * then the environment, then the flags in order. This file has the table,
 * the keys with rules of their own, the defaults and the flags; the slot
 * keys' setters are in config_slot.c, the file's parser in config_ini.c,
 * the environment and --print-config in config_show.c. */
#include "server/config.h"
#include "server/config_int.h"

#include "core/ratelimit.h"
#include "executor/executor.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define THREADS_MAX            1024
#define CONNECTION_LIMIT_MAX   1048576
#define CONNECTION_TIMEOUT_MAX 86400
#define DATA_DIR_MAX           3072 /* leaves room for "/ccf.db" and jobs/<id>/ in PATH_MAX */
#define ERR_MAX                192

static int set_config(struct server_config *c, const char *v, char *err, size_t n);
static int set_listen(struct server_config *c, const char *v, char *err, size_t n);
static int set_region(struct server_config *c, const char *v, char *err, size_t n);
static int set_account_id(struct server_config *c, const char *v, char *err, size_t n);
static int set_synchronous(struct server_config *c, const char *v, char *err, size_t n);
static int set_store(struct server_config *c, const char *v, char *err, size_t n);
static int set_signing_name(struct server_config *c, const char *v, char *err, size_t n);
static int set_api_endpoint(struct server_config *c, const char *v, char *err, size_t n);
static int set_job_path(struct server_config *c, const char *v, char *err, size_t n);
static int set_cpu_budget(struct server_config *c, const char *v, char *err, size_t n);
static int set_rate_limit(struct server_config *c, const char *v, char *err, size_t n);
static void show_rate_limit(const struct config_key *k, const struct server_config *c, char *out,
                            size_t n);

static const char *const auth_words[] = {"sigv4", "none", NULL}; /* false, true: auth_none */
static int set_executor(struct server_config *c, const char *v, char *err, size_t n);
static int set_image_map(struct server_config *c, const char *v, char *err, size_t n);
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"logfmt", "json", NULL};

/* The order of this table is the order of --help. A row in the short shape
 * {name, arg, help, set} leaves the slot fields zero, as it should. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct config_key keys[] = {
    {"config", "FILE", "INI file of these keys; flags override it", set_config},
    {"listen", "HOST:PORT", "IP:PORT or [IPv6]:PORT (default " SERVER_DEFAULT_LISTEN ")",
     set_listen, .show = server__config_show_listen},
    {"data-dir", "DIR",
     "holds ccf.db and credentials; made mode 0700 (default " SERVER_DEFAULT_DATA_DIR ")", NULL,
     STR_SLOT(data_dir, 1, DATA_DIR_MAX)},
    {"region", "REGION", "region of the records (default " SERVER_DEFAULT_REGION ")", set_region,
     SHOW_CHARS(region)},
    {"account-id", "ID",
     "account of the first start's key; with auth none, of all requests "
     "(default " SERVER_DEFAULT_ACCOUNT_ID ")",
     set_account_id, SHOW_CHARS(account_id)},
    {"auth", "MODE",
     "sigv4: every request but /healthz is signed (default); none: no authentication, "
     "loopback only",
     NULL, BOOL_SLOT(auth_none, auth_words)},
    {"credentials-file", "FILE",
     "access keys, mode 0600 (default DATA_DIR/credentials, made on first start)", NULL,
     STR_SLOT(credentials_file, 1, DATA_DIR_MAX)},
    {"signing-name", "NAME", "SigV4 service name (default " SERVER_DEFAULT_SIGNING ")",
     set_signing_name, SHOW_CHARS(signing_name)},
    {"log-level", "LEVEL", "debug, info, warn or error (default info)", NULL,
     ENUM_SLOT(log_level, log_levels)},
    {"log-format", "FORMAT", "logfmt or json (default logfmt)", NULL,
     ENUM_SLOT(log_format, log_formats)},
    {"access-log", NULL, "a line per HTTP request at info; --access-log=off: none (default on)",
     NULL, BOOL_SLOT(access_log, NULL)},
    {"metrics", NULL,
     "GET /metrics (Prometheus text, no signature); --metrics=off: 404 (default on)", NULL,
     BOOL_SLOT(metrics, NULL)},
    {"log-flush-ms", "MS",
     "info lines are written in batches at most this old; 0: each at once (default 50)", NULL,
     UINT_SLOT(log_flush_ms, 0, 10000, "milliseconds")},
    {"threads", "N", "HTTP worker threads (default: online CPUs)", NULL,
     UINT_SLOT(threads, 1, THREADS_MAX, NULL)},
    {"write-threads", "N",
     "threads that run writes, 0 = on the HTTP threads (default " SERVER_WRITE_THREADS_DEFAULT_S
     ")",
     NULL, UINT_SLOT(write_threads, 0, THREADS_MAX, NULL)},
    {"store", "BACKEND",
     "sqlite (DATA_DIR/ccf.db, default), postgresql://USER@HOST:PORT/DB, or "
     "dynamodb://PREFIX?region=R[&endpoint=URL][&tables=existing] (experimental)",
     set_store, .off = FIELD(store, char *), .show = server__config_show_store, .secret = true},
    {"store-experimental", NULL,
     "accept store = dynamodb://..., experimental (PostgreSQL needs no switch)", NULL,
     BOOL_SLOT(store_experimental, NULL)},
    {"runner-lost-after", "SECONDS",
     "replicas on PostgreSQL: the jobs of a replica silent this long end \"runner lost\" or are "
     "retried (default 30)",
     NULL, UINT_SLOT(runner_lost_after, 1, 86400, "seconds")},
    {"synchronous", "MODE", "FULL, NORMAL or OFF (default FULL)", set_synchronous,
     SHOW_CHARS(synchronous)},
    {"connection-limit", "N", "most open connections (default 1024)", NULL,
     UINT_SLOT(connection_limit, 1, CONNECTION_LIMIT_MAX, NULL)},
    {"connection-timeout", "SECONDS", "idle timeout and shutdown grace (default 30)", NULL,
     UINT_SLOT(connection_timeout, 1, CONNECTION_TIMEOUT_MAX, "seconds")},
    {"allow-insecure-listen", NULL, "allow plain HTTP on a non-loopback address", NULL,
     BOOL_SLOT(allow_insecure_listen, NULL)},
    {"tls-cert", "FILE",
     "PEM certificate chain, leaf first: serve HTTPS (TLS 1.2+); SIGHUP re-reads it", NULL,
     STR_SLOT(tls_cert, 1, DATA_DIR_MAX)},
    {"tls-key", "FILE", "PEM private key of tls-cert, unencrypted, mode 0640 or less", NULL,
     STR_SLOT(tls_key, 1, DATA_DIR_MAX)},
    {"quiet", NULL,
     "print no banner on how to sign requests with the key of the first start (printed at "
     "each start while the credentials file holds only that key)",
     NULL, BOOL_SLOT(quiet, NULL)},
    {"executor", "KINDS",
     "local, podman, slurm, batch: where jobs run, comma-separated, first fit first; none: "
     "serve the API only (default local)",
     set_executor, SHOW_STRP(executor)},
    {"image-map", "PATTERN=REPLACEMENT",
     "podman: rewrite a matching image_uri (POSIX ERE, whole URI, \\1..\\9); repeatable",
     set_image_map, SHOW_STRP(image_map)},
    {"podman-network", "NETWORK", "podman: the network of job containers (default host)", NULL,
     STR_SLOT(podman_network, 1, 256)},
    {"slurm-conf", "FILE",
     "slurm.conf of the cluster that executor slurm submits to (default: the Slurm commands' "
     "own)",
     NULL, STR_SLOT(slurm_conf, 1, DATA_DIR_MAX)},
    {"slurm-partition", "NAME", "Slurm partition of the jobs (default: the cluster's default)",
     NULL, STR_SLOT(slurm_partition, 1, 64)},
    {"batch-job-queue", "QUEUE",
     "AWS Batch job queue (name or ARN) that executor batch submits to (required by it)", NULL,
     STR_SLOT(batch_job_queue, 1, 256)},
    {"api-endpoint", "URL", "root URL jobs call back (default http://LISTEN/)", set_api_endpoint,
     SHOW_STRP(api_endpoint)},
    {"job-path", "PATH", "PATH of every job (default " SERVER_DEFAULT_JOB_PATH ")", set_job_path,
     SHOW_STRP(job_path)},
    {"max-jobs", "N", "most jobs running at once; 0: cpu and memory decide (default 0)", NULL,
     UINT_SLOT(max_jobs, 0, 100000, NULL)},
    {"cpu-budget", "VCPUS", "vCPUs running jobs may reserve (default: online CPUs)", set_cpu_budget,
     .show = server__config_show_cpu_budget},
    {"memory-budget", "MIB", "MiB running jobs may reserve (default: physical memory)", NULL,
     ULONG_SLOT(memory_budget_mib, 1024, 1UL << 40, "MiB")},
    {"stop-grace", "SECONDS", "from SIGTERM to SIGKILL when a job stops (default 10)", NULL,
     UINT_SLOT(stop_grace, 1, 3600, "seconds")},
    {"job-log-max", "BYTES", "log bytes kept per job (default 67108864)", NULL,
     ULONG_SLOT(job_log_max, 4096, 1UL << 40, "bytes")},
    {"retention", "SECONDS", "how long ended jobs and their logs are kept (default 604800)", NULL,
     ULONG_SLOT(retention, 1, 10UL * 365 * 86400, "seconds")},
    {"audit-retention", "SECONDS", "how long audit records are kept (default 7776000: 90 days)",
     NULL, ULONG_SLOT(audit_retention, 1, 10UL * 365 * 86400, "seconds")},
    {"rate-limit", "RPS[:BURST]",
     "requests a second per access key, BURST at once (default BURST: RPS); over it, 429 "
     "(default 0: no limit)",
     set_rate_limit, .show = show_rate_limit},
    {"checkpoint-history", "N",
     "checkpoint versions kept per connector, the current one included (default 10)", NULL,
     UINT_SLOT(checkpoint_history, 1, STORE_CP_HISTORY_MAX, "versions")},
    {"webhook-allow-private", NULL,
     "webhook URLs may name loopback, private, link-local and shared addresses (default off)", NULL,
     BOOL_SLOT(webhook_allow_private, NULL)},
    {"webhook-retry-for", "SECONDS",
     "how long an event is retried before its delivery is FAILED (default 86400)", NULL,
     ULONG_SLOT(webhook_retry_for, 1, 30UL * 86400, "seconds")},
    {"webhook-retry-base-ms", "MS",
     "the first retry's wait, doubled each retry up to an hour (default 1000)", NULL,
     UINT_SLOT(webhook_retry_base_ms, 1, 3600000, "milliseconds")},
    {"webhook-timeout", "SECONDS", "the longest a delivery attempt may take (default 10)", NULL,
     UINT_SLOT(webhook_timeout, 1, 300, "seconds")},
    {"webhook-ca-bundle", "FILE",
     "PEM CA certificates that webhook https URLs are verified with (default: the system's)", NULL,
     STR_SLOT(webhook_ca_bundle, 1, DATA_DIR_MAX)},
};
#pragma GCC diagnostic pop
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static int fail(char *err, size_t n, const char *msg)
{
    snprintf(err, n, "%s", msg);
    return CCF_EINVAL;
}

static int set_config(struct server_config *c, const char *v, char *err, size_t n)
{
    if (v[0] == '\0')
        return fail(err, n, "expected a file name");
    free(c->config_file);
    c->config_file = ccf_xstrdup(v);
    return 0;
}

/* Splits "HOST:PORT" or "[HOST]:PORT" into host (copied into h) and port. */
static int split_host_port(const char *v, char *h, size_t hn, const char **port)
{
    const char *end;
    size_t len;

    if (v[0] == '[') {
        end = strchr(v, ']');
        if (!end || end[1] != ':')
            return CCF_EINVAL;
        v++;
        *port = end + 2;
    } else {
        end = strrchr(v, ':');
        if (!end || memchr(v, ':', (size_t)(end - v)))
            return CCF_EINVAL; /* no port, or an IPv6 address without brackets */
        *port = end + 1;
    }
    len = (size_t)(end - v);
    if (len == 0 || len >= hn)
        return CCF_EINVAL;
    memcpy(h, v, len);
    h[len] = '\0';
    return 0;
}

static int set_listen(struct server_config *c, const char *v, char *err, size_t n)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port_s;
    unsigned long port;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&c->listen_addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&c->listen_addr;
    struct sockaddr_storage save = c->listen_addr;

    if (split_host_port(v, host, sizeof(host), &port_s) < 0 ||
        server__config_parse_uint(port_s, 0, 65535, &port) < 0)
        return fail(err, n, "expected IPv4:PORT or [IPv6]:PORT, e.g. 127.0.0.1:8787");
    memset(&c->listen_addr, 0, sizeof(c->listen_addr));
    if (strcmp(host, "localhost") == 0)
        memcpy(host, "127.0.0.1", sizeof("127.0.0.1"));
    if (v[0] != '[' && inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
    } else if (v[0] == '[' && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
    } else {
        c->listen_addr = save;
        return fail(err, n, "expected a numeric IPv4 address or a bracketed IPv6 address");
    }
    return 0;
}

/* ccf_tenant_init holds the rules for both fields; each setter checks its own
 * field against a known-good value for the other. */
static int set_region(struct server_config *c, const char *v, char *err, size_t n)
{
    struct ccf_tenant t;

    if (ccf_tenant_init(&t, v, SERVER_DEFAULT_ACCOUNT_ID) < 0)
        return fail(err, n, "expected 1..31 characters of [a-z0-9-], e.g. us-east-1");
    memcpy(c->region, t.region, sizeof(c->region));
    return 0;
}

static int set_account_id(struct server_config *c, const char *v, char *err, size_t n)
{
    struct ccf_tenant t;

    if (ccf_tenant_init(&t, SERVER_DEFAULT_REGION, v) < 0)
        return fail(err, n, "expected exactly 12 digits");
    memcpy(c->account_id, t.account_id, sizeof(c->account_id));
    return 0;
}

static int set_synchronous(struct server_config *c, const char *v, char *err, size_t n)
{
    static const char *const modes[] = {"FULL", "NORMAL", "OFF"};

    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(v, modes[i]) == 0) {
            snprintf(c->synchronous, sizeof(c->synchronous), "%s", modes[i]);
            return 0;
        }
    }
    return fail(err, n, "expected FULL, NORMAL or OFF");
}

/* sqlite, or a libpq URI.
 * The message never repeats v: a URI may hold a password. */
static int set_store(struct server_config *c, const char *v, char *err, size_t n)
{
    if (!store_url_valid(v) || v[0] == '\0' || strpbrk(v, " \t\r\n"))
        return fail(err, n,
                    "expected sqlite, postgresql://USER@HOST:PORT/DB or "
                    "dynamodb://PREFIX?region=R[&endpoint=URL]");
    free(c->store);
    c->store = ccf_xstrdup(v);
    return 0;
}

static int set_signing_name(struct server_config *c, const char *v, char *err, size_t n)
{
    size_t len = strlen(v);

    if (len == 0 || len > SERVER_SIGNING_MAX ||
        strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != len)
        return fail(err, n, "expected 1..63 characters of [a-z0-9-], e.g. execute-api");
    memcpy(c->signing_name, v, len + 1);
    return 0;
}

static int set_api_endpoint(struct server_config *c, const char *v, char *err, size_t n)
{
    size_t len = strlen(v);

    if ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) || len > 1024 ||
        v[len - 1] != '/' || strpbrk(v, " \t\r\n"))
        return fail(err, n, "expected an http:// or https:// URL ending in /");
    free(c->api_endpoint);
    c->api_endpoint = ccf_xstrdup(v);
    return 0;
}

/* Repeatable: each rule is added (as CCF_IMAGE_MAP, rules separated by
 * newlines); checked whole here, so that a bad one stops ccfd at start. */
static int set_image_map(struct server_config *c, const char *v, char *err, size_t n)
{
    size_t old = c->image_map ? strlen(c->image_map) : 0, len = strlen(v);
    char *all;

    if (old + len > 65536)
        return fail(err, n, "at most 64 KiB of image-map rules");
    all = ccf_xmalloc(old + len + 2);
    if (old)
        memcpy(all, c->image_map, old);
    if (old)
        all[old++] = '\n';
    memcpy(all + old, v, len + 1);
    if (!executor_image_map_ok(all, err, n)) {
        free(all);
        return CCF_EINVAL;
    }
    free(c->image_map);
    c->image_map = all;
    return 0;
}

static int set_job_path(struct server_config *c, const char *v, char *err, size_t n)
{
    if (v[0] != '/' || strlen(v) > 4096)
        return fail(err, n, "expected a list of absolute directories separated by ':'");
    free(c->job_path);
    c->job_path = ccf_xstrdup(v);
    return 0;
}

/* A list of distinct executor names, or "none" alone. */
static int set_executor(struct server_config *c, const char *v, char *err, size_t n)
{
    static const char *const names[] = {"local", "podman", "slurm", "batch"};
    bool seen[4] = {false};
    const char *p = v;

    if (strcmp(v, "none") == 0) {
        c->executor_none = true;
        free(c->executor);
        c->executor = ccf_xstrdup(v);
        return 0;
    }
    while (*p) {
        size_t len = strcspn(p, ","), i;
        for (i = 0; i < 4 && !(strlen(names[i]) == len && strncmp(p, names[i], len) == 0); i++)
            ;
        if (i == 4 || seen[i])
            return fail(err, n,
                        "expected local, podman, slurm or batch, each at most once, separated by "
                        "',' (or none alone)");
        seen[i] = true;
        p += len;
        if (*p == ',' && *++p == '\0')
            return fail(err, n, "expected an executor name after ','");
    }
    if (p == v)
        return fail(err, n, "expected local, podman, slurm or batch, or none");
    c->executor_none = false;
    free(c->executor);
    c->executor = ccf_xstrdup(v);
    return 0;
}

static int set_cpu_budget(struct server_config *c, const char *v, char *err, size_t n)
{
    char *end;
    double x;

    errno = 0;
    x = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !(x >= 1 && x <= 100000))
        return fail(err, n, "expected a number of vCPUs from 1 to 100000");
    c->cpu_budget = x;
    return 0;
}

static int set_rate_limit(struct server_config *c, const char *v, char *err, size_t n)
{
    if (ccf_ratelimit_parse(v, &c->rate_limit_rps, &c->rate_limit_burst) < 0)
        return fail(err, n,
                    "expected RPS[:BURST]: RPS a number from 0.001 to 1000000 (0: no "
                    "limit), BURST a whole number from 1 to 1000000, e.g. 10:20");
    return 0;
}

/* RPS:BURST, which set_rate_limit reads back; "0" when there is no limit. */
static void show_rate_limit(const struct config_key *k, const struct server_config *c, char *out,
                            size_t n)
{
    (void)k;
    if (c->rate_limit_rps <= 0)
        snprintf(out, n, "0");
    else
        snprintf(out, n, "%.17g:%u", c->rate_limit_rps, c->rate_limit_burst);
}

static unsigned long physical_mib(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

    if (pages < 1 || size < 1)
        return 4096;
    return (unsigned long)pages / 1024 * (unsigned long)size / 1024;
}

static unsigned online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        return 1;
    return n > THREADS_MAX ? THREADS_MAX : (unsigned)n;
}

static void set_defaults(struct server_config *c)
{
    char err[ERR_MAX];

    memset(c, 0, sizeof(*c));
    (void)set_listen(c, SERVER_DEFAULT_LISTEN, err, sizeof(err));
    c->data_dir = ccf_xstrdup(SERVER_DEFAULT_DATA_DIR);
    memcpy(c->region, SERVER_DEFAULT_REGION, sizeof(SERVER_DEFAULT_REGION));
    memcpy(c->account_id, SERVER_DEFAULT_ACCOUNT_ID, sizeof(SERVER_DEFAULT_ACCOUNT_ID));
    memcpy(c->signing_name, SERVER_DEFAULT_SIGNING, sizeof(SERVER_DEFAULT_SIGNING));
    c->log_level = CCF_LOG_INFO;
    c->log_format = CCF_LOG_LOGFMT;
    c->access_log = true;
    c->metrics = true;
    c->threads = online_cpus();
    c->write_threads = SERVER_WRITE_THREADS_DEFAULT;
    c->log_flush_ms = 50;
    memcpy(c->synchronous, "FULL", sizeof("FULL"));
    c->store = ccf_xstrdup("sqlite");
    c->connection_limit = 1024;
    c->connection_timeout = 30;
    c->job_path = ccf_xstrdup(SERVER_DEFAULT_JOB_PATH);
    c->executor = ccf_xstrdup("local");
    c->cpu_budget = online_cpus();
    c->memory_budget_mib = physical_mib();
    c->stop_grace = 10;
    c->runner_lost_after = 30;
    c->job_log_max = 64UL << 20;
    c->retention = 7 * 86400;
    c->audit_retention = 90 * 86400;
    c->checkpoint_history = STORE_CP_HISTORY_DEFAULT;
    c->webhook_retry_for = 86400;
    c->webhook_retry_base_ms = 1000;
    c->webhook_timeout = 10;
}

static const struct config_key *find_key(const char *name)
{
    return server__config_find_key(keys, NKEYS, name);
}

static void usage(FILE *f)
{
    char left[64];

    fprintf(f, "Usage: ccfd [OPTION]...\n"
               "       ccfd credentials add|list|revoke ... (ccfd credentials --help)\n"
               "Serves the Custom Connector Framework API over HTTP.\n\n"
               "Each option is also an INI key of the same name in the --config file\n"
               "(data-dir = /var/lib/ccf, allow-insecure-listen = true) and an environment\n"
               "variable: CCF_ and the key in upper case, '_' for '-' (CCF_DATA_DIR,\n"
               "CCF_CONFIG). Flags beat the environment, which beats the file. Port 0\n"
               "in --listen picks a free port. Every request but GET /healthz must be\n"
               "signed with AWS SigV4 by a key of the credentials file; the signer's\n"
               "account, in --region, is the request's tenant.\n\n");
    for (size_t i = 0; i < NKEYS; i++) {
        snprintf(left, sizeof(left), "--%s%s%s", keys[i].name, keys[i].arg ? " " : "",
                 keys[i].arg ? keys[i].arg : "");
        fprintf(f, "  %-29s %s\n", left, keys[i].help);
    }
    fprintf(f, "  %-29s %s\n  %-29s %s\n  %-29s %s\n", "--print-config",
            "print the configuration as an INI file and exit", "--help", "print this help and exit",
            "--version", "print the version and exit");
}

/* A flag as given, applied after the file. */
struct flag {
    const struct config_key *k;
    const char *v;
};

static void build_options(struct option *o)
{
    for (size_t i = 0; i < NKEYS; i++) {
        /* A switch may say --access-log=off; alone it means true. */
        int has = keys[i].arg ? required_argument : optional_argument;

        o[i] = (struct option){keys[i].name, has, NULL, 256 + (int)i};
    }
    o[NKEYS] = (struct option){"help", no_argument, NULL, 'h'};
    o[NKEYS + 1] = (struct option){"version", no_argument, NULL, 'V'};
    o[NKEYS + 2] = (struct option){"print-config", no_argument, NULL, 'P'};
    o[NKEYS + 3] = (struct option){NULL, 0, NULL, 0};
}

static void version(void)
{
    printf("ccfd %s (libmicrohttpd %s)\n", CCFD_VERSION, MHD_get_version());
}

/* Collects flags into f (room for argc entries); handles --help, --version
 * and usage errors itself. */
static int scan_flags(int argc, char **argv, struct flag *f, size_t *nf, bool *print)
{
    struct option opts[NKEYS + 4];
    int ch;

    build_options(opts);
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, ":hV", opts, NULL)) != -1) {
        if (ch == 'h' || ch == 'V') {
            if (ch == 'h')
                usage(stdout);
            else
                version();
            return SERVER_CONFIG_EXIT;
        }
        if (ch == 'P') {
            *print = true;
            continue;
        }
        if (ch == ':' || ch == '?') {
            fprintf(stderr, "ccfd: %s '%s'; see ccfd --help\n",
                    ch == ':' ? "missing value for option" : "unknown option", argv[optind - 1]);
            return CCF_EINVAL;
        }
        f[*nf].k = &keys[ch - 256];
        f[*nf].v = optarg ? optarg : "true";
        (*nf)++;
    }
    if (optind < argc) {
        fprintf(stderr, "ccfd: unexpected argument '%s'; see ccfd --help\n", argv[optind]);
        return CCF_EINVAL;
    }
    return SERVER_CONFIG_RUN;
}

static int apply_flag(struct server_config *c, const struct flag *f)
{
    char err[ERR_MAX];

    if (server__config_key_set(f->k, c, f->v, err, sizeof(err)) < 0) {
        fprintf(stderr, "ccfd: invalid value '%.64s' for --%s: %s\n", CONFIG_SHOWN(f->k, f->v),
                f->k->name, err);
        return CCF_EINVAL;
    }
    return 0;
}

/* Rules that involve more than one key. */
static int check(const struct server_config *c)
{
    /* The DynamoDB backend lacks the change stream, events, tokens and
     * schedules (docs/DECISIONS.md): ccfd takes it only when told so. */
    if (strncmp(c->store, "dynamodb://", 11) == 0 && !c->store_experimental) {
        fprintf(stderr, "ccfd: store: the DynamoDB store is experimental (issue 18; "
                        "docs/DECISIONS.md says what it lacks); pass --store-experimental to "
                        "use it anyway, or use sqlite or postgresql://\n");
        return CCF_EINVAL;
    }
    if (!c->tls_cert != !c->tls_key) {
        fprintf(stderr, "ccfd: %s: HTTPS needs both tls-cert and tls-key\n",
                c->tls_cert ? "tls-cert" : "tls-key");
        return CCF_EINVAL;
    }
    if (!c->tls_cert && !c->allow_insecure_listen &&
        !server__addr_is_loopback((const void *)&c->listen_addr)) {
        fprintf(stderr, "ccfd: listen: refusing plain HTTP on a non-loopback address; give "
                        "tls-cert and tls-key, or pass --allow-insecure-listen to accept that "
                        "risk\n");
        return CCF_EINVAL;
    }
    if (c->auth_none && !server__addr_is_loopback((const void *)&c->listen_addr)) {
        fprintf(stderr,
                "ccfd: auth: none serves anyone who can connect as account %s; it is "
                "allowed only on a loopback listen address\n",
                c->account_id);
        return CCF_EINVAL;
    }
    return 0;
}

/* The file: the last --config, else CCF_CONFIG. */
static int pick_file(struct server_config *c, const struct flag *flags, size_t nflags)
{
    const char *env = getenv("CCF_CONFIG");
    char err[ERR_MAX];

    for (size_t i = nflags; i-- > 0;) {
        if (flags[i].k->set == set_config)
            return apply_flag(c, &flags[i]);
    }
    if (!env || env[0] == '\0')
        return 0; /* empty is unset, as for every CCF_ variable */
    return set_config(c, env, err, sizeof(err));
}

int server__config_load(struct server_config *c, int argc, char **argv)
{
    struct flag *flags = ccf_xcalloc((size_t)argc + 1, sizeof(*flags));
    bool given[NKEYS] = {false}, print = false;
    size_t nflags = 0;
    int rc;

    set_defaults(c);
    if ((rc = scan_flags(argc, argv, flags, &nflags, &print)) != SERVER_CONFIG_RUN)
        goto out;
    /* The file, then the environment, then the flags: each beats the one
     * before it, key by key (CONTRACT-OPS.md, "Configuration"). */
    if ((rc = pick_file(c, flags, nflags)) < 0)
        goto out;
    if (c->config_file &&
        (rc = server__config_load_file(c, keys, NKEYS, find_key("config"), given)) < 0)
        goto out;
    if ((rc = server__config_env(c, keys, NKEYS, find_key("config"), given)) < 0)
        goto out;
    for (size_t i = 0; i < nflags; i++) {
        if (flags[i].k->set != set_config && (rc = apply_flag(c, &flags[i])) < 0)
            goto out;
        given[flags[i].k - keys] = true;
    }
    if ((rc = check(c)) < 0 || !print)
        goto out;
    server__config_print(c, keys, NKEYS, find_key("config"), given);
    rc = SERVER_CONFIG_EXIT;
out:
    free(flags);
    return rc;
}

void server__config_clear(struct server_config *c)
{
    if (!c)
        return;
    free(c->config_file);
    free(c->data_dir);
    free(c->api_endpoint);
    free(c->job_path);
    free(c->store);
    free(c->executor);
    free(c->image_map);
    free(c->podman_network);
    free(c->slurm_conf);
    free(c->slurm_partition);
    free(c->webhook_ca_bundle);
    free(c->batch_job_queue);
    free(c->credentials_file);
    free(c->tls_cert);
    free(c->tls_key);
    memset(c, 0, sizeof(*c));
}

bool server__addr_is_loopback(const struct sockaddr *addr)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)addr;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
    const unsigned char *b6 = in6->sin6_addr.s6_addr;

    if (addr->sa_family == AF_INET)
        return (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
    if (addr->sa_family != AF_INET6)
        return false;
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
        return true;
    return memcmp(b6, mapped, sizeof(mapped)) == 0 && b6[12] == 127;
}
