/* main.c: ccfd's entry point. Brings up configuration, the data directory,
 * the credentials, the store, the jobs, the api and the HTTP transport in
 * that order (the data directory's lock first, lock.h), waits for SIGTERM or
 * SIGINT on the main thread (sigwait: no handler, no global flag; SIGHUP
 * re-reads the credentials file and the TLS certificate meanwhile),
 * then stops accepting, lets started requests finish and takes everything
 * down in reverse order. `ccfd credentials ...` (admin.c), `ccfd backup`
 * (backup.c) and `ccfd supervise DIR` (the executor's) run instead of the
 * server. Exit status: 0
 * after a clean stop, 1 when start-up fails, 2 for a usage or configuration
 * error. */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "api/api.h"
#include "auth/auth.h"
#include "core/core.h"
#include "core/log.h"
#include "core/schedule.h"
#include "core/validate.h"
#include "executor/executor.h"
#include "scheduler/scheduler.h"
#include "server/admin.h"
#include "server/backup.h"
#include "server/config.h"
#include "server/http.h"
#include "server/jobs.h"
#include "server/leader.h"
#include "server/lock.h"
#include "server/metrics.h"
#include "server/replica.h"
#include "server/tls.h"
#include "store/store.h"
#include "webhook/webhook.h"

#define EXIT_USAGE 2
#define ADDR_MAX   (INET6_ADDRSTRLEN + 16)

/* Blocked in every thread (the workers inherit the mask), taken with sigwait
 * by the main thread only. */
static void signals_setup(sigset_t *set)
{
    struct sigaction ign;

    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, NULL);
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* mkdir -p with mode 0700 for each directory it creates. */
static int make_dirs(const char *dir)
{
    char *p = ccf_xstrdup(dir);
    int rc = 0;

    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            CCF_LOG_ERROR("ccfd.data_dir_failed", CCF_KV_STR("path", p),
                          CCF_KV_STR("error", strerror(errno)));
            rc = CCF_EIO;
            break;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    free(p);
    return rc;
}

/* Creates the data directory if missing; *abs gets its absolute path. */
static int data_dir_prepare(const char *dir, char **abs)
{
    char mode[8];
    struct stat st;
    int rc;

    if ((rc = make_dirs(dir)) < 0)
        return rc;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        CCF_LOG_ERROR("ccfd.data_dir_failed", CCF_KV_STR("path", dir),
                      CCF_KV_STR("error", "not a directory"));
        return CCF_EIO;
    }
    /* Octal, as chmod takes it: mode=0755, not mode=493. */
    snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
    if (st.st_mode & 077)
        CCF_LOG_WARN("ccfd.data_dir_mode", CCF_KV_STR("path", dir), CCF_KV_STR("mode", mode),
                     CCF_KV_STR("hint", "others can read the data; chmod 700 it"));
    *abs = realpath(dir, NULL);
    if (!*abs) {
        CCF_LOG_ERROR("ccfd.data_dir_failed", CCF_KV_STR("path", dir),
                      CCF_KV_STR("error", strerror(errno)));
        return CCF_EIO;
    }
    return 0;
}

static char *path_join(const char *dir, const char *name)
{
    size_t n;
    char *p;

    if (!ccf_size_add(strlen(dir), strlen(name) + 2, &n))
        abort(); /* both are bounded strings: cannot happen */
    p = ccf_xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int open_store(const struct server_config *cfg, const char *dir, struct store **out)
{
    char *db = path_join(dir, "ccf.db");
    struct store_config sc = {.url = cfg->store,
                              .path = db,
                              .synchronous = cfg->synchronous,
                              .checkpoint_history = (int)cfg->checkpoint_history};
    bool file = !cfg->store || strcmp(cfg->store, "sqlite") == 0;
    char shown[512];
    int rc;

    /* The file for SQLite; a server's url, without its password, else. */
    if (file)
        snprintf(shown, sizeof(shown), "%s", db);
    else
        store_url_redact(cfg->store, shown, sizeof(shown));
    if ((rc = store_open(out, &sc)) < 0)
        CCF_LOG_ERROR("ccfd.store_open_failed", CCF_KV_STR(file ? "path" : "store", shown),
                      CCF_KV_STR("error", ccf_strerror(rc)));
    free(db);
    return rc;
}

/* auth = sigv4: loads the credentials file, making it with one key for
 * account-id when it is the default one and missing (*made gets the new
 * key's id; "" otherwise). A file named in the config must exist. */
static int open_auth(const struct server_config *cfg, const char *dir, struct auth **out,
                     char **creds, char made[AUTH_KEY_ID_MAX + 1])
{
    char *jobs = path_join(dir, "job-credentials");
    struct auth_config ac = {
        .job_credentials_path = jobs, .region = cfg->region, .service = cfg->signing_name};
    int rc;

    made[0] = '\0';
    *creds =
        cfg->credentials_file ? ccf_xstrdup(cfg->credentials_file) : path_join(dir, "credentials");
    ac.credentials_path = *creds;
    rc = auth_create(out, &ac);
    if (rc == CCF_ENOTFOUND && !cfg->credentials_file) {
        rc = auth_credentials_init_file(*creds, cfg->account_id, made);
        if (rc == CCF_ECONFLICT) /* made meanwhile by another process: use it */
            made[0] = '\0';
        if (rc == 0 || rc == CCF_ECONFLICT)
            rc = auth_create(out, &ac);
    }
    if (rc == CCF_ENOTFOUND)
        CCF_LOG_ERROR("ccfd.credentials_missing", CCF_KV_STR("path", *creds),
                      CCF_KV_STR("hint", "create it: ccfd credentials add --credentials-file "
                                         "FILE --account-id ID"));
    else if (rc < 0)
        CCF_LOG_ERROR("ccfd.auth_failed", CCF_KV_STR("path", *creds),
                      CCF_KV_STR("error", ccf_strerror(rc)),
                      CCF_KV_STR("hint", "see the auth.* line before this one"));
    free(jobs);
    return rc;
}

static unsigned addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

/* "127.0.0.1:8787" or "[::1]:8787". */
static void format_addr(const struct sockaddr *sa, unsigned port, char out[ADDR_MAX])
{
    bool v6 = sa->sa_family == AF_INET6;
    const void *a = v6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                       : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    char host[INET6_ADDRSTRLEN];

    if (!inet_ntop(sa->sa_family, a, host, sizeof(host)))
        snprintf(host, sizeof(host), "?");
    snprintf(out, ADDR_MAX, v6 ? "[%s]:%u" : "%s:%u", host, port);
}

static int start_http(const struct server_config *cfg, struct api *api, struct auth *auth,
                      struct server_tls *tls, struct ccf_ratelimit *rl, struct store *store,
                      struct server_metrics *metrics, struct server_http **out)
{
    const struct sockaddr *sa = (const struct sockaddr *)&cfg->listen_addr;
    char addr[ADDR_MAX];
    int rc;
    struct server_http_config hc = {
        .addr = sa,
        .threads = cfg->threads,
        .write_threads = cfg->write_threads,
        .connection_limit = cfg->connection_limit,
        .connection_timeout = cfg->connection_timeout,
        .api = api,
        .auth = auth,
        .ratelimit = rl,
        .region = cfg->region,
        .account_id = cfg->account_id,
        .signing_name = cfg->signing_name,
        .tls = tls,
        .access_log = cfg->access_log,
        .metrics = metrics,
        .metrics_on = cfg->metrics,
        .store = store,
    };

    if ((rc = server__http_start(out, &hc)) < 0) {
        format_addr(sa, addr_port(sa), addr);
        CCF_LOG_ERROR("ccfd.listen_failed", CCF_KV_STR("address", addr),
                      CCF_KV_STR("hint", "see the http.mhd line before this one"));
    }
    return rc;
}

/* The start line: a log event for machines, a sentence on stdout for people. */
static void announce(const struct server_config *cfg, unsigned port, const char *dir)
{
    const struct sockaddr *sa = (const struct sockaddr *)&cfg->listen_addr;
    char addr[ADDR_MAX];

    format_addr(sa, port, addr);
    if (!cfg->tls_cert && !server__addr_is_loopback(sa))
        CCF_LOG_WARN("ccfd.insecure_listen", CCF_KV_STR("address", addr),
                     CCF_KV_STR("hint", "plain HTTP on a non-loopback address"));
    CCF_LOG_INFO("ccfd.listening", CCF_KV_STR("address", addr), CCF_KV_STR("data_dir", dir),
                 CCF_KV_STR("version", CCFD_VERSION), CCF_KV_INT("threads", cfg->threads),
                 CCF_KV_INT("write_threads", cfg->write_threads),
                 CCF_KV_STR("synchronous", cfg->synchronous),
                 CCF_KV_STR("scheme", cfg->tls_cert ? "https" : "http"));
    printf("ccfd: listening on %s://%s/ (data in %s)\n", cfg->tls_cert ? "https" : "http", addr,
           dir);
    if (cfg->auth_none)
        printf("ccfd: authentication is off (auth = none): every request is account %s\n",
               cfg->account_id);
    fflush(stdout);
}

/* While the credentials file holds only the first start's key: how to sign
 * with it. The secret stays in the file (stdout may end up in a journal). */
static void announce_key(const struct server_config *cfg, unsigned port, const char *creds,
                         const char *key_id)
{
    char addr[ADDR_MAX];

    format_addr((const struct sockaddr *)&cfg->listen_addr, port, addr);
    printf(
        "ccfd: made %s on the first start, with an access key for account %s (mode\n"
        "0600; add and revoke keys with ccfd credentials; --quiet hides this). To sign\n"
        "requests with it:\n\n"
        "  export AWS_ACCESS_KEY_ID=%s\n"
        "  export AWS_SECRET_ACCESS_KEY=\"$(sed -n 's/^secret_access_key *= *//p' '%s')\"\n"
        "  export AWS_DEFAULT_REGION=%s\n"
        "  curl --aws-sigv4 \"aws:amz:%s:%s\" --user \"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY\" "
        "%s://%s/api/v1/custom-connectors\n\n",
        creds, cfg->account_id, key_id, creds, cfg->region, cfg->region, cfg->signing_name,
        cfg->tls_cert ? "https" : "http", addr);
    fflush(stdout);
}

/* SIGHUP: the credentials file and the TLS certificate and key again; a
 * file that does not load keeps what is in use. */
static void reload(struct auth *auth, struct server_tls *tls)
{
    if (tls)
        (void)server__tls_reload(tls); /* logs either way */
    if (!auth) {
        CCF_LOG_INFO("ccfd.sighup_ignored", CCF_KV_STR("reason", "auth = none"));
        return;
    }
    (void)auth_credentials_reload(auth); /* logs either way */
}

/* Until SIGTERM or SIGINT, which it returns. Once a second it gives back to
 * the system the memory malloc holds free: each writer thread's arena keeps
 * what its last 1000-document batch used, and with 16 writers that was
 * ~30 MiB of RSS that nothing used (docs/PERFORMANCE.md). */
static int wait_for_stop(const sigset_t *set, struct auth *auth, struct server_tls *tls)
{
    const struct timespec second = {.tv_sec = 1, .tv_nsec = 0};
    int sig;

    for (;;) {
        if ((sig = sigtimedwait(set, NULL, &second)) < 0) {
            if (errno == EAGAIN)
                malloc_trim(0);
            continue;
        }
        if (sig != SIGHUP)
            return sig;
        reload(auth, tls);
    }
}

/* Lets started requests finish, for at most grace_s seconds; a second
 * SIGTERM or SIGINT cuts the wait short (a SIGHUP still reloads). */
static void drain(struct server_http *h, const sigset_t *set, unsigned grace_s, struct auth *auth,
                  struct server_tls *tls)
{
    const struct timespec tick = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
    int64_t deadline = ccf_mono_us() + (int64_t)grace_s * 1000000;
    int sig;

    while (server__http_in_flight(h) > 0) {
        if (ccf_mono_us() >= deadline) {
            CCF_LOG_WARN("ccfd.drain_timeout", CCF_KV_INT("in_flight", server__http_in_flight(h)));
            return;
        }
        sig = sigtimedwait(set, NULL, &tick);
        if (sig == SIGHUP) {
            reload(auth, tls);
        } else if (sig > 0) {
            CCF_LOG_WARN("ccfd.stop_forced", CCF_KV_INT("in_flight", server__http_in_flight(h)));
            return;
        }
    }
}

/* The URL jobs call back: configured, or the address we listen on. */
static char *endpoint_of(const struct server_config *cfg, unsigned port)
{
    char addr[ADDR_MAX], *url;

    if (cfg->api_endpoint)
        return ccf_xstrdup(cfg->api_endpoint);
    format_addr((const struct sockaddr *)&cfg->listen_addr, port, addr);
    url = ccf_xmalloc(ADDR_MAX + 16);
    snprintf(url, ADDR_MAX + 16, "%s://%s/", cfg->tls_cert ? "https" : "http", addr);
    return url;
}

/* The zone database (shared by the api and the scheduler) and the
 * scheduler, not started yet. */
static int open_scheduler(struct store *store, struct ccf_tzdb **tzdb, struct scheduler **out)
{
    struct scheduler_config sc = {.store = store};
    int rc;

    if ((rc = ccf_tzdb_open(tzdb, NULL)) < 0) {
        CCF_LOG_ERROR("ccfd.tzdb_failed",
                      CCF_KV_STR("hint", "install tzdata (/usr/share/zoneinfo) and start again"));
        return rc;
    }
    sc.tzdb = *tzdb;
    return scheduler_create(out, &sc);
}

/* api_config's webhook_ping: the deliverer's, behind a void context. */
static int ping_webhook(void *ctx, const struct ccf_tenant *t, const char *id)
{
    return webhook_deliverer_ping(ctx, t, id);
}

/* The webhook deliverer, not started yet. */
static int open_webhooks(const struct server_config *cfg, struct store *store,
                         struct webhook_deliverer **out)
{
    struct webhook_config wc = {.store = store,
                                .allow_private = cfg->webhook_allow_private,
                                .retry_for_s = (unsigned)cfg->webhook_retry_for,
                                .retry_base_ms = cfg->webhook_retry_base_ms,
                                .timeout_s = cfg->webhook_timeout,
                                .ca_bundle = cfg->webhook_ca_bundle,
                                .event_text = api_event_text};
    int rc = webhook_deliverer_create(out, &wc);

    if (rc < 0)
        CCF_LOG_ERROR("ccfd.webhooks_failed", CCF_KV_STR("error", ccf_strerror(rc)));
    return rc;
}

/* What only the leader runs (leader.h): the orchestrator (jobs may be
 * NULL: executor = none), then the scheduler, then the webhook deliverer. */
struct leader_work {
    struct server_jobs *jobs; /* NULL on a shared store: every replica runs its jobs */
    const char *endpoint;
    struct scheduler *sched;
    struct webhook_deliverer *hooks;
};

static int start_leader_work(void *ctx)
{
    struct leader_work *w = ctx;
    int rc;

    if (w->jobs && (rc = server__jobs_start(w->jobs, w->endpoint)) < 0)
        return rc;
    /* After the orchestrator: the jobs it starts are seen at once. */
    if ((rc = scheduler_start(w->sched)) < 0)
        return rc;
    if ((rc = webhook_deliverer_start(w->hooks)) < 0) {
        CCF_LOG_ERROR("ccfd.webhooks_failed", CCF_KV_STR("error", ccf_strerror(rc)));
        return rc;
    }
    return 0;
}

/* Another replica's commit: the schedules may have moved (the orchestrator
 * and the deliverer were woken by the store's hooks). */
static void wake_leader_work(void *ctx)
{
    scheduler_wake(((struct leader_work *)ctx)->sched);
}

static int serve(const struct server_config *cfg)
{
    struct store *store = NULL;
    struct api *api = NULL;
    struct server_http *http = NULL;
    struct server_jobs *jobs = NULL;
    struct auth *auth = NULL;
    struct server_tls *tls = NULL;
    struct ccf_ratelimit *rl = NULL;
    struct scheduler *sched = NULL;
    struct server_metrics *metrics = NULL;
    struct webhook_deliverer *hooks = NULL;
    struct server_leader *leader = NULL;
    struct server_replica *replica = NULL;
    struct leader_work work = {0};
    struct ccf_tzdb *tzdb = NULL;
    struct api_config ac = {0};
    char *dir = NULL, *endpoint = NULL, *creds = NULL;
    char made[AUTH_KEY_ID_MAX + 1] = "";
    sigset_t set;
    int rc, sig = 0, lock_fd = -1;

    signals_setup(&set);
    if ((rc = data_dir_prepare(cfg->data_dir, &dir)) < 0)
        goto out;
    /* Before anything in the directory is written: the credentials file,
     * the database, the jobs another ccfd may be running. */
    if ((rc = server__lock_take(dir, &lock_fd)) < 0)
        goto out;
    if (cfg->auth_none)
        CCF_LOG_WARN("ccfd.auth_off", CCF_KV_STR("account", cfg->account_id),
                     CCF_KV_STR("hint", "auth = none: requests are not authenticated; for "
                                        "local development only"));
    else if ((rc = open_auth(cfg, dir, &auth, &creds, made)) < 0)
        goto out;
    if ((rc = open_store(cfg, dir, &store)) < 0)
        goto out;
    if (!cfg->executor_none && (rc = server__jobs_open(&jobs, cfg, dir, store, auth)) < 0)
        goto out;
    if ((rc = open_scheduler(store, &tzdb, &sched)) < 0)
        goto out;
    ac.store = store;
    ac.read_log = jobs ? server__jobs_read_log : NULL;
    ac.read_log_ctx = jobs;
    ac.tzdb = tzdb;
    ac.schedule_changed = scheduler_wake;
    ac.schedule_ctx = sched;
    if ((rc = open_webhooks(cfg, store, &hooks)) < 0)
        goto out;
    ac.webhook_allow_private = cfg->webhook_allow_private;
    ac.webhooks_changed = webhook_deliverer_changed;
    ac.webhook_ping = ping_webhook;
    ac.webhook_ctx = hooks;
    if ((rc = api_create(&api, &ac)) < 0) {
        CCF_LOG_ERROR("ccfd.api_create_failed", CCF_KV_STR("error", ccf_strerror(rc)));
        goto out;
    }
    if (cfg->tls_cert && (rc = server__tls_open(&tls, cfg->tls_cert, cfg->tls_key)) < 0) {
        CCF_LOG_ERROR("ccfd.tls_failed", CCF_KV_STR("hint", "see the tls.* line before this one"));
        goto out;
    }
    if (cfg->rate_limit_rps > 0 &&
        (rc = ccf_ratelimit_create(&rl, cfg->rate_limit_rps, cfg->rate_limit_burst)) < 0)
        goto out; /* cannot happen: config checked both */
    if (store_shared(store) &&
        (rc = server__replica_open(&replica, dir, store, jobs ? server__jobs_slots(jobs) : 0,
                                   cfg->runner_lost_after,
                                   jobs ? server__jobs_orchestrator(jobs) : NULL)) < 0)
        goto out;
    if (store_shared(store))
        server__leader_create(&leader, &(struct server_leader_config){.store = store,
                                                                      .start = start_leader_work,
                                                                      .wake = wake_leader_work,
                                                                      .ctx = &work,
                                                                      .tick = server__replica_tick,
                                                                      .tick_ctx = replica});
    server__metrics_create(&metrics, &(struct server_metrics_config){
                                         .store = store,
                                         .sched = sched,
                                         .orch = jobs ? server__jobs_orchestrator(jobs) : NULL,
                                         .webhooks = hooks,
                                         .version = CCFD_VERSION,
                                         .leader = leader});
    if ((rc = start_http(cfg, api, auth, tls, rl, store, metrics, &http)) < 0)
        goto out;
    endpoint = endpoint_of(cfg, server__http_port(http));
    work = (struct leader_work){
        .jobs = leader ? NULL : jobs, .endpoint = endpoint, .sched = sched, .hooks = hooks};
    /* One process on its store (SQLite): it leads, at once. */
    if (leader ? (rc = server__leader_start(leader)) < 0 : (rc = start_leader_work(&work)) < 0)
        goto out;
    /* Several replicas: each runs the jobs assigned to it, leader or not
     * (after the leadership thread: its first try of the lock does not
     * wait for this recovery). */
    if (leader && jobs && (rc = server__jobs_start(jobs, endpoint)) < 0)
        goto out;
    announce(cfg, server__http_port(http), dir);
    /* Not only when this start made the file: one that failed after making
     * it (a port in use) printed nothing. */
    if (creds && !cfg->credentials_file && !cfg->quiet &&
        server__first_start_key(creds, cfg->account_id, made, sizeof(made)))
        announce_key(cfg, server__http_port(http), creds, made);
    sig = wait_for_stop(&set, auth, tls);
    CCF_LOG_INFO("ccfd.stopping", CCF_KV_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"),
                 CCF_KV_INT("in_flight", server__http_in_flight(http)));
    server__http_quiesce(http);
    drain(http, &set, cfg->connection_timeout, auth, tls);
out:
    server__http_stop(http);        /* waits for the worker threads */
    server__leader_destroy(leader); /* no start() runs after this, nor a tick */
    server__metrics_destroy(metrics);
    scheduler_destroy(sched);         /* no request can wake it now */
    webhook_deliverer_destroy(hooks); /* nor ping it */
    server__tls_close(tls);           /* after the connections that held its certificate */
    ccf_ratelimit_destroy(rl);
    server__jobs_close(jobs);
    server__replica_close(replica); /* after the orchestrator: its id was the runner's */
    auth_destroy(auth);             /* no request and no job transition can use it now */
    api_destroy(api);
    store_close(store);
    ccf_tzdb_close(tzdb);
    server__lock_release(lock_fd); /* last: everything above is closed */
    if (rc == 0)
        CCF_LOG_INFO("ccfd.stopped", CCF_KV_STR("data_dir", dir));
    free(endpoint);
    free(creds);
    free(dir);
    return rc;
}

int main(int argc, char **argv)
{
    struct server_config cfg;
    int rc;

    ccf_json_abort_on_oom(); /* before any thread and any JSON */
    /* `ccfd supervise DIR`: the per-job supervisor the local executor runs. */
    if (argc == 3 && strcmp(argv[1], "supervise") == 0)
        return executor_supervise_main(argv[2]);
    /* `ccfd credentials add|list|revoke ...`: edit the credentials file. */
    if (argc >= 2 && strcmp(argv[1], "credentials") == 0)
        return server__credentials_main(argc - 1, argv + 1);
    /* `ccfd backup [--data-dir DIR] FILE`: a copy of the store, beside a live ccfd. */
    if (argc >= 2 && strcmp(argv[1], "backup") == 0)
        return server__backup_main(argc - 1, argv + 1);
    rc = server__config_load(&cfg, argc, argv);

    if (rc == SERVER_CONFIG_RUN) {
        ccf_log_setup(cfg.log_level, cfg.log_format);
        if (ccf_log_buffer_start((int)cfg.log_flush_ms) < 0)
            CCF_LOG_WARN("ccfd.log_unbuffered",
                         CCF_KV_STR("reason", "the log's flush thread did not start"));
        rc = serve(&cfg) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        ccf_log_buffer_stop();
    } else {
        rc = rc == SERVER_CONFIG_EXIT ? EXIT_SUCCESS : EXIT_USAGE;
    }
    server__config_clear(&cfg);
    return rc;
}
