/* config.c: ccfd's settings. One table of keys serves the flags, the INI file
 * (libinih) and --help, so that a flag and its INI key cannot drift apart.
 * Defaults are applied first, then the file, then the flags in order. */
#include "server/config.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <microhttpd.h>
#include <netinet/in.h>
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

/* One key. set() validates v and stores it, or writes why not into err. */
struct config_key {
    const char *name;
    const char *arg; /* placeholder for --help; NULL for a switch */
    const char *help;
    int (*set)(struct server_config *c, const char *v, char *err, size_t n);
};

static int set_config(struct server_config *c, const char *v, char *err, size_t n);
static int set_listen(struct server_config *c, const char *v, char *err, size_t n);
static int set_data_dir(struct server_config *c, const char *v, char *err, size_t n);
static int set_region(struct server_config *c, const char *v, char *err, size_t n);
static int set_account_id(struct server_config *c, const char *v, char *err, size_t n);
static int set_log_level(struct server_config *c, const char *v, char *err, size_t n);
static int set_log_format(struct server_config *c, const char *v, char *err, size_t n);
static int set_threads(struct server_config *c, const char *v, char *err, size_t n);
static int set_write_threads(struct server_config *c, const char *v, char *err, size_t n);
static int set_log_flush(struct server_config *c, const char *v, char *err, size_t n);
static int set_synchronous(struct server_config *c, const char *v, char *err, size_t n);
static int set_connection_limit(struct server_config *c, const char *v, char *err, size_t n);
static int set_connection_timeout(struct server_config *c, const char *v, char *err, size_t n);
static int set_allow_insecure(struct server_config *c, const char *v, char *err, size_t n);
static int set_tls_cert(struct server_config *c, const char *v, char *err, size_t n);
static int set_tls_key(struct server_config *c, const char *v, char *err, size_t n);
static int set_auth(struct server_config *c, const char *v, char *err, size_t n);
static int set_credentials_file(struct server_config *c, const char *v, char *err, size_t n);
static int set_signing_name(struct server_config *c, const char *v, char *err, size_t n);
static int set_executor(struct server_config *c, const char *v, char *err, size_t n);
static int set_api_endpoint(struct server_config *c, const char *v, char *err, size_t n);
static int set_job_path(struct server_config *c, const char *v, char *err, size_t n);
static int set_max_jobs(struct server_config *c, const char *v, char *err, size_t n);
static int set_cpu_budget(struct server_config *c, const char *v, char *err, size_t n);
static int set_memory_budget(struct server_config *c, const char *v, char *err, size_t n);
static int set_stop_grace(struct server_config *c, const char *v, char *err, size_t n);
static int set_job_log_max(struct server_config *c, const char *v, char *err, size_t n);
static int set_retention(struct server_config *c, const char *v, char *err, size_t n);
static int set_quiet(struct server_config *c, const char *v, char *err, size_t n);
static int set_checkpoint_history(struct server_config *c, const char *v, char *err, size_t n);

/* The order of this table is the order of --help. */
static const struct config_key keys[] = {
    {"config", "FILE", "INI file of these keys; flags override it", set_config},
    {"listen", "HOST:PORT", "IP:PORT or [IPv6]:PORT (default " SERVER_DEFAULT_LISTEN ")",
     set_listen},
    {"data-dir", "DIR",
     "holds ccf.db and credentials; made mode 0700 (default " SERVER_DEFAULT_DATA_DIR ")",
     set_data_dir},
    {"region", "REGION", "region of the records (default " SERVER_DEFAULT_REGION ")", set_region},
    {"account-id", "ID",
     "account of the first start's key; with auth none, of all requests "
     "(default " SERVER_DEFAULT_ACCOUNT_ID ")",
     set_account_id},
    {"auth", "MODE",
     "sigv4: every request but /healthz is signed (default); none: no authentication, "
     "loopback only",
     set_auth},
    {"credentials-file", "FILE",
     "access keys, mode 0600 (default DATA_DIR/credentials, made on first start)",
     set_credentials_file},
    {"signing-name", "NAME", "SigV4 service name (default " SERVER_DEFAULT_SIGNING ")",
     set_signing_name},
    {"log-level", "LEVEL", "debug, info, warn or error (default info)", set_log_level},
    {"log-format", "FORMAT", "logfmt or json (default logfmt)", set_log_format},
    {"log-flush-ms", "MS",
     "info lines are written in batches at most this old; 0: each at once (default 50)",
     set_log_flush},
    {"threads", "N", "HTTP worker threads (default: online CPUs)", set_threads},
    {"write-threads", "N",
     "threads that run writes, 0 = on the HTTP threads (default " SERVER_WRITE_THREADS_DEFAULT_S
     ")",
     set_write_threads},
    {"synchronous", "MODE", "FULL, NORMAL or OFF (default FULL)", set_synchronous},
    {"connection-limit", "N", "most open connections (default 1024)", set_connection_limit},
    {"connection-timeout", "SECONDS", "idle timeout and shutdown grace (default 30)",
     set_connection_timeout},
    {"allow-insecure-listen", NULL, "allow plain HTTP on a non-loopback address",
     set_allow_insecure},
    {"tls-cert", "FILE",
     "PEM certificate chain, leaf first: serve HTTPS (TLS 1.2+); SIGHUP re-reads it", set_tls_cert},
    {"tls-key", "FILE", "PEM private key of tls-cert, unencrypted, mode 0640 or less", set_tls_key},
    {"quiet", NULL,
     "print no banner on how to sign requests with the key of the first start (printed at "
     "each start while the credentials file holds only that key)",
     set_quiet},
    {"executor", "KIND", "local: run jobs here; none: serve the API only (default local)",
     set_executor},
    {"api-endpoint", "URL", "root URL jobs call back (default http://LISTEN/)", set_api_endpoint},
    {"job-path", "PATH", "PATH of every job (default " SERVER_DEFAULT_JOB_PATH ")", set_job_path},
    {"max-jobs", "N", "most jobs running at once; 0: cpu and memory decide (default 0)",
     set_max_jobs},
    {"cpu-budget", "VCPUS", "vCPUs running jobs may reserve (default: online CPUs)",
     set_cpu_budget},
    {"memory-budget", "MIB", "MiB running jobs may reserve (default: physical memory)",
     set_memory_budget},
    {"stop-grace", "SECONDS", "from SIGTERM to SIGKILL when a job stops (default 10)",
     set_stop_grace},
    {"job-log-max", "BYTES", "log bytes kept per job (default 67108864)", set_job_log_max},
    {"retention", "SECONDS", "how long ended jobs and their logs are kept (default 604800)",
     set_retention},
    {"checkpoint-history", "N",
     "checkpoint versions kept per connector, the current one included (default 10, at most "
     "1000)",
     set_checkpoint_history},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static int fail(char *err, size_t n, const char *msg)
{
    snprintf(err, n, "%s", msg);
    return CCF_EINVAL;
}

/* Decimal digits only (no sign, no blanks), within [min, max]. */
static int parse_uint(const char *v, unsigned long min, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long x;

    if (v[0] < '0' || v[0] > '9')
        return CCF_EINVAL;
    errno = 0;
    x = strtoul(v, &end, 10);
    if (errno != 0 || *end != '\0' || x < min || x > max)
        return CCF_EINVAL;
    *out = x;
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
            *out = strcasecmp(v, yes[i]) == 0;
            return 0;
        }
    }
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
        parse_uint(port_s, 0, 65535, &port) < 0)
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

static int set_data_dir(struct server_config *c, const char *v, char *err, size_t n)
{
    if (v[0] == '\0' || strlen(v) > DATA_DIR_MAX)
        return fail(err, n, "expected a directory path of 1..3072 bytes");
    free(c->data_dir);
    c->data_dir = ccf_xstrdup(v);
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

static int set_log_level(struct server_config *c, const char *v, char *err, size_t n)
{
    if (ccf_log_level_parse(v, &c->log_level) < 0)
        return fail(err, n, "expected debug, info, warn or error");
    return 0;
}

static int set_log_format(struct server_config *c, const char *v, char *err, size_t n)
{
    if (ccf_log_format_parse(v, &c->log_format) < 0)
        return fail(err, n, "expected logfmt or json");
    return 0;
}

static int set_threads(struct server_config *c, const char *v, char *err, size_t n)
{
    unsigned long x;

    if (parse_uint(v, 1, THREADS_MAX, &x) < 0)
        return fail(err, n, "expected an integer 1..1024");
    c->threads = (unsigned)x;
    return 0;
}

static int set_log_flush(struct server_config *c, const char *v, char *err, size_t n)
{
    unsigned long x;

    if (parse_uint(v, 0, 10000, &x) < 0)
        return fail(err, n, "expected an integer 0..10000 (milliseconds)");
    c->log_flush_ms = (unsigned)x;
    return 0;
}

static int set_write_threads(struct server_config *c, const char *v, char *err, size_t n)
{
    unsigned long x;

    if (parse_uint(v, 0, THREADS_MAX, &x) < 0)
        return fail(err, n, "expected an integer 0..1024");
    c->write_threads = (unsigned)x;
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

static int set_connection_limit(struct server_config *c, const char *v, char *err, size_t n)
{
    unsigned long x;

    if (parse_uint(v, 1, CONNECTION_LIMIT_MAX, &x) < 0)
        return fail(err, n, "expected an integer 1..1048576");
    c->connection_limit = (unsigned)x;
    return 0;
}

static int set_connection_timeout(struct server_config *c, const char *v, char *err, size_t n)
{
    unsigned long x;

    if (parse_uint(v, 1, CONNECTION_TIMEOUT_MAX, &x) < 0)
        return fail(err, n, "expected a number of seconds 1..86400");
    c->connection_timeout = (unsigned)x;
    return 0;
}

static int set_allow_insecure(struct server_config *c, const char *v, char *err, size_t n)
{
    if (parse_bool(v, &c->allow_insecure_listen) < 0)
        return fail(err, n, "expected true or false");
    return 0;
}

static int set_path(char **dst, const char *v, char *err, size_t n)
{
    if (v[0] == '\0' || strlen(v) > DATA_DIR_MAX)
        return fail(err, n, "expected a file path of 1..3072 bytes");
    free(*dst);
    *dst = ccf_xstrdup(v);
    return 0;
}

static int set_tls_cert(struct server_config *c, const char *v, char *err, size_t n)
{
    return set_path(&c->tls_cert, v, err, n);
}

static int set_tls_key(struct server_config *c, const char *v, char *err, size_t n)
{
    return set_path(&c->tls_key, v, err, n);
}

static int set_quiet(struct server_config *c, const char *v, char *err, size_t n)
{
    if (parse_bool(v, &c->quiet) < 0)
        return fail(err, n, "expected true or false");
    return 0;
}

static int set_auth(struct server_config *c, const char *v, char *err, size_t n)
{
    if (strcmp(v, "sigv4") != 0 && strcmp(v, "none") != 0)
        return fail(err, n, "expected sigv4 or none");
    c->auth_none = strcmp(v, "none") == 0;
    return 0;
}

static int set_credentials_file(struct server_config *c, const char *v, char *err, size_t n)
{
    if (v[0] == '\0' || strlen(v) > DATA_DIR_MAX)
        return fail(err, n, "expected a file path of 1..3072 bytes");
    free(c->credentials_file);
    c->credentials_file = ccf_xstrdup(v);
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

static int set_executor(struct server_config *c, const char *v, char *err, size_t n)
{
    if (strcmp(v, "local") != 0 && strcmp(v, "none") != 0)
        return fail(err, n, "expected local or none");
    c->executor_none = strcmp(v, "none") == 0;
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

static int set_job_path(struct server_config *c, const char *v, char *err, size_t n)
{
    if (v[0] != '/' || strlen(v) > 4096)
        return fail(err, n, "expected a list of absolute directories separated by ':'");
    free(c->job_path);
    c->job_path = ccf_xstrdup(v);
    return 0;
}

static int set_max_jobs(struct server_config *c, const char *v, char *err, size_t n)
{
    unsigned long x;

    if (parse_uint(v, 0, 100000, &x) < 0)
        return fail(err, n, "expected an integer 0..100000");
    c->max_jobs = (unsigned)x;
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

static int set_memory_budget(struct server_config *c, const char *v, char *err, size_t n)
{
    if (parse_uint(v, 1024, 1UL << 40, &c->memory_budget_mib) < 0)
        return fail(err, n, "expected a number of MiB of at least 1024");
    return 0;
}

static int set_stop_grace(struct server_config *c, const char *v, char *err, size_t n)
{
    unsigned long x;

    if (parse_uint(v, 1, 3600, &x) < 0)
        return fail(err, n, "expected a number of seconds 1..3600");
    c->stop_grace = (unsigned)x;
    return 0;
}

static int set_job_log_max(struct server_config *c, const char *v, char *err, size_t n)
{
    if (parse_uint(v, 4096, 1UL << 40, &c->job_log_max) < 0)
        return fail(err, n, "expected a number of bytes of at least 4096");
    return 0;
}

static int set_retention(struct server_config *c, const char *v, char *err, size_t n)
{
    if (parse_uint(v, 1, 10UL * 365 * 86400, &c->retention) < 0)
        return fail(err, n, "expected a number of seconds, at least 1");
    return 0;
}

static int set_checkpoint_history(struct server_config *c, const char *v, char *err, size_t n)
{
    unsigned long x;

    if (parse_uint(v, 1, STORE_CP_HISTORY_MAX, &x) < 0)
        return fail(err, n, "expected a number of versions from 1 to 1000");
    c->checkpoint_history = (unsigned)x;
    return 0;
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
    c->threads = online_cpus();
    c->write_threads = SERVER_WRITE_THREADS_DEFAULT;
    c->log_flush_ms = 50;
    memcpy(c->synchronous, "FULL", sizeof("FULL"));
    c->connection_limit = 1024;
    c->connection_timeout = 30;
    c->job_path = ccf_xstrdup(SERVER_DEFAULT_JOB_PATH);
    c->cpu_budget = online_cpus();
    c->memory_budget_mib = physical_mib();
    c->stop_grace = 10;
    c->job_log_max = 64UL << 20;
    c->retention = 7 * 86400;
    c->checkpoint_history = STORE_CP_HISTORY_DEFAULT;
}

static const struct config_key *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    }
    return NULL;
}

static void usage(FILE *f)
{
    char left[64];

    fprintf(f, "Usage: ccfd [OPTION]...\n"
               "       ccfd credentials add|list|revoke ... (ccfd credentials --help)\n"
               "Serves the Custom Connector Framework API over HTTP, or HTTPS with\n"
               "--tls-cert and --tls-key.\n\n"
               "Each option is also an INI key of the same name in the --config file\n"
               "(data-dir = /var/lib/ccf, allow-insecure-listen = true); flags override\n"
               "the file. Port 0 in --listen picks a free port. Every request but\n"
               "GET /healthz must be signed with AWS SigV4 by a key of the credentials\n"
               "file; the signer's account, in --region, is the request's tenant.\n\n");
    for (size_t i = 0; i < NKEYS; i++) {
        snprintf(left, sizeof(left), "--%s%s%s", keys[i].name, keys[i].arg ? " " : "",
                 keys[i].arg ? keys[i].arg : "");
        fprintf(f, "  %-29s %s\n", left, keys[i].help);
    }
    fprintf(f, "  %-29s %s\n  %-29s %s\n", "--help", "print this help and exit", "--version",
            "print the version and exit");
}

/* The INI pass. ini_parse_stream reads through ini_read so that we know the
 * line of each key, also for lines longer than inih's buffer. */
struct ini_ctx {
    struct server_config *c;
    FILE *f;
    int line;      /* line of the key being handled */
    int next_line; /* line the next read starts on */
    int long_line; /* first line longer than inih's buffer, or 0 */
    bool failed;
};

static char *ini_read(char *str, int num, void *stream)
{
    struct ini_ctx *x = stream;
    char *r = fgets(str, num, x->f);

    if (r) {
        x->line = x->next_line;
        if (strchr(r, '\n'))
            x->next_line++;
        else if (!feof(x->f) && x->long_line == 0)
            x->long_line = x->line; /* inih would take the rest as a new line */
    }
    return r;
}

static int ini_fail(struct ini_ctx *x, const char *name, const char *msg)
{
    fprintf(stderr, "ccfd: %s:%d: %s: %s\n", x->c->config_file, x->line, name, msg);
    x->failed = true;
    return 0;
}

static int on_ini_key(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *x = user;
    const struct config_key *k;
    char key[64], err[ERR_MAX];

    if (x->failed)
        return 1; /* report only the first error */
    if (section[0] != '\0')
        return ini_fail(x, name, "keys go before any [section]; ccfd reads no sections");
    /* data_dir reads as data-dir: INI files often use underscores. */
    snprintf(key, sizeof(key), "%s", name);
    for (char *p = key; *p; p++)
        *p = *p == '_' ? '-' : *p;
    k = find_key(key);
    if (!k)
        return ini_fail(x, name, "unknown key (see ccfd --help)");
    if (k->set == set_config)
        return ini_fail(x, name, "a config file cannot name another one");
    if (k->set(x->c, value, err, sizeof(err)) < 0) {
        fprintf(stderr, "ccfd: %s:%d: invalid value '%.64s' for %s: %s\n", x->c->config_file,
                x->line, value, k->name, err);
        x->failed = true;
        return 0;
    }
    return 1;
}

static int load_file(struct server_config *c)
{
    struct ini_ctx x = {.c = c, .next_line = 1};
    int rc;

    x.f = fopen(c->config_file, "r");
    if (!x.f) {
        fprintf(stderr, "ccfd: cannot read config file %s: %s\n", c->config_file, strerror(errno));
        return CCF_EINVAL;
    }
    rc = ini_parse_stream(ini_read, &x, on_ini_key, &x);
    fclose(x.f);
    if (x.long_line > 0 && !x.failed)
        fprintf(stderr, "ccfd: %s:%d: line too long for the INI parser\n", c->config_file,
                x.long_line);
    else if (rc != 0 && !x.failed)
        fprintf(stderr, "ccfd: %s:%d: syntax error: expected key = value\n", c->config_file,
                rc > 0 ? rc : x.line);
    return rc == 0 && !x.failed && x.long_line == 0 ? 0 : CCF_EINVAL;
}

/* A flag as given, applied after the file. */
struct flag {
    const struct config_key *k;
    const char *v;
};

static void build_options(struct option *o)
{
    for (size_t i = 0; i < NKEYS; i++) {
        o[i] = (struct option){keys[i].name, keys[i].arg ? required_argument : no_argument, NULL,
                               256 + (int)i};
    }
    o[NKEYS] = (struct option){"help", no_argument, NULL, 'h'};
    o[NKEYS + 1] = (struct option){"version", no_argument, NULL, 'V'};
    o[NKEYS + 2] = (struct option){NULL, 0, NULL, 0};
}

static void version(void)
{
    printf("ccfd %s (libmicrohttpd %s)\n", CCFD_VERSION, MHD_get_version());
}

/* Collects flags into f (room for argc entries); handles --help, --version
 * and usage errors itself. */
static int scan_flags(int argc, char **argv, struct flag *f, size_t *nf)
{
    struct option opts[NKEYS + 3];
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
        if (ch == ':' || ch == '?') {
            fprintf(stderr, "ccfd: %s '%s'; see ccfd --help\n",
                    ch == ':' ? "missing value for option" : "unknown option", argv[optind - 1]);
            return CCF_EINVAL;
        }
        f[*nf].k = &keys[ch - 256];
        f[*nf].v = f[*nf].k->arg ? optarg : "true";
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

    if (f->k->set(c, f->v, err, sizeof(err)) < 0) {
        fprintf(stderr, "ccfd: invalid value '%.64s' for --%s: %s\n", f->v, f->k->name, err);
        return CCF_EINVAL;
    }
    return 0;
}

/* Rules that involve more than one key. */
static int check(const struct server_config *c)
{
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

int server__config_load(struct server_config *c, int argc, char **argv)
{
    struct flag *flags = ccf_xcalloc((size_t)argc + 1, sizeof(*flags));
    size_t nflags = 0;
    int rc;

    set_defaults(c);
    if ((rc = scan_flags(argc, argv, flags, &nflags)) != SERVER_CONFIG_RUN)
        goto out;
    /* --config first, so that the file applies before every other flag. */
    for (size_t i = 0; i < nflags; i++) {
        if (flags[i].k->set == set_config && (rc = apply_flag(c, &flags[i])) < 0)
            goto out;
    }
    if (c->config_file && (rc = load_file(c)) < 0)
        goto out;
    for (size_t i = 0; i < nflags; i++) {
        if (flags[i].k->set != set_config && (rc = apply_flag(c, &flags[i])) < 0)
            goto out;
    }
    rc = check(c);
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
