/* config.h (private to server/): ccfd's settings, from built-in defaults, then
 * an INI file (--config or CCF_CONFIG), then the environment, then flags; a
 * later source wins key by key. Every key is a flag (--data-dir DIR), an INI
 * key (data-dir = DIR) and a variable (CCF_DATA_DIR=DIR).
 * Thread rules: loaded in main before any thread starts, then read-only. */
#ifndef CCF_SERVER_CONFIG_H
#define CCF_SERVER_CONFIG_H

#include <stdbool.h>
#include <sys/socket.h>

#include "core/core.h"
#include "core/log.h"

/* The Makefile may pass -DCCFD_VERSION=\"$(git describe)\". */
#ifndef CCFD_VERSION
#define CCFD_VERSION "0.1.0-dev"
#endif

#define SERVER_DEFAULT_LISTEN     "127.0.0.1:8787"
#define SERVER_DEFAULT_DATA_DIR   "./var"
#define SERVER_DEFAULT_REGION     "us-east-1"
#define SERVER_DEFAULT_ACCOUNT_ID "000000000000"
#define SERVER_DEFAULT_JOB_PATH   "/usr/local/bin:/usr/bin:/bin"
#define SERVER_DEFAULT_SIGNING    "execute-api"
#define SERVER_SIGNING_MAX        63
#define SERVER_SYNCHRONOUS_MAX    7 /* "NORMAL" */
/* Writes wait for their batch's fsync on threads of their own: this many can
 * wait, and share one commit, at once (docs/PERFORMANCE.md). */
#define SERVER_WRITE_THREADS_DEFAULT   16
#define SERVER_WRITE_THREADS_DEFAULT_S "16"

struct server_config {
    char *config_file;                   /* NULL when none was given */
    struct sockaddr_storage listen_addr; /* a sockaddr_in or sockaddr_in6 */
    char *data_dir;
    char region[CCF_REGION_MAX + 1];
    char account_id[CCF_ACCOUNT_ID_LEN + 1];
    enum ccf_log_level log_level;
    enum ccf_log_format log_format;
    unsigned log_flush_ms; /* 0: a write per log line */
    unsigned threads;
    unsigned write_threads;     /* 0: writes run on the HTTP threads */
    char *store;                /* "sqlite" or a postgresql:// URI (store.h's url) */
    bool store_experimental;    /* accept store = postgresql:// */
    unsigned runner_lost_after; /* seconds without a replica's heartbeat before its jobs are lost */
    char synchronous[SERVER_SYNCHRONOUS_MAX]; /* "FULL", "NORMAL" or "OFF" */
    unsigned connection_limit;
    unsigned connection_timeout; /* seconds */
    bool allow_insecure_listen;
    char *tls_cert; /* PEM chain; NULL: plain HTTP (set together with tls_key) */
    char *tls_key;
    bool quiet;      /* no banner on how to sign with the first start's key */
    bool access_log; /* a line per HTTP request at info */
    bool metrics;    /* count requests and serve GET /metrics */
    /* Authentication. */
    bool auth_none;         /* auth = none: no SigV4, every request is account_id's */
    char *credentials_file; /* NULL: DATA_DIR/credentials, made on first start */
    char signing_name[SERVER_SIGNING_MAX + 1];
    /* Executor slurm: SLURM_CONF of its commands, the jobs' partition;
     * NULL: Slurm's defaults. */
    char *slurm_conf;
    char *slurm_partition;
    char *batch_job_queue; /* executor batch: its job queue; NULL: none (batch refuses to open) */
    /* Jobs. */
    bool executor_none;   /* executor = none: serve the API, run no jobs */
    char *executor;       /* "local,podman,slurm" as given (executor.h routes), or "none" */
    char *image_map;      /* podman: rules separated by newlines; NULL: none */
    char *podman_network; /* podman: NULL: host */
    char *api_endpoint;   /* NULL: http://<listen address>/ */
    char *job_path;       /* PATH of every job */
    unsigned max_jobs;    /* 0: only cpu and memory limit */
    double cpu_budget;
    unsigned long memory_budget_mib;
    unsigned stop_grace;           /* seconds from SIGTERM to SIGKILL */
    unsigned long job_log_max;     /* bytes of log kept per job */
    unsigned long retention;       /* seconds an ended job is kept */
    unsigned long audit_retention; /* seconds an audit record is kept */
    /* Rate limit per access key (rate-limit = RPS[:BURST]); rps 0: none. */
    double rate_limit_rps;
    unsigned rate_limit_burst;
    unsigned checkpoint_history; /* checkpoint versions kept per connector */
    /* Webhooks. */
    bool webhook_allow_private;      /* URLs may name private addresses */
    unsigned long webhook_retry_for; /* seconds an event is retried */
    unsigned webhook_retry_base_ms;  /* the first retry's wait */
    unsigned webhook_timeout;        /* seconds per attempt */
    char *webhook_ca_bundle;         /* NULL: the system's CAs */
};

/* What server__config_load decided. */
enum server_config_result {
    SERVER_CONFIG_RUN = 0,  /* *c is complete: start the server */
    SERVER_CONFIG_EXIT = 1, /* --help, --version or --print-config printed: exit 0 */
};

/* Fills *c from defaults, the INI file named by --config or CCF_CONFIG, the
 * CCF_ variables, then argv; with --print-config, prints *c as an INI file
 * and returns SERVER_CONFIG_EXIT. Returns an enum server_config_result, or
 * CCF_EINVAL after printing one line naming the offending flag, variable or
 * file:line and key to stderr (exit status 2).
 * Clear *c with server__config_clear whatever the result. Uses getopt: call
 * once, from main. */
int server__config_load(struct server_config *c, int argc, char **argv);
void server__config_clear(struct server_config *c);

/* Whether addr is a loopback address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104). */
bool server__addr_is_loopback(const struct sockaddr *addr);

#endif
