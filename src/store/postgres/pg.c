/* pg.c: the PostgreSQL backend's handle (store_config's url is a libpq
 * connection URI): open (migrating once, under an advisory lock), close, a
 * small pool of connections per process, the transaction runner, ping,
 * writable, metrics, and the backend's table of operations.
 *
 * The pool: pool_size slots, each a connection opened on first use and
 * reopened after the server went away (a restart, a failover), so that
 * ccfd recovers by itself; a call waits for a free slot at most
 * busy_timeout_ms, then gets CCF_EUNAVAIL (503 with Retry-After). */
#include "store/postgres/pg_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

#define POOL_DEFAULT    8
#define POOL_MAX        64
#define WAIT_DEFAULT_MS 5000

struct store_pg {
    struct store base; /* first: the dispatcher's part (backend_int.h) */
    char *url;         /* never logged: it may hold a password */
    int wait_ms;
    int64_t cp_history;
    pthread_mutex_t mu; /* guards the slots' busy flags */
    pthread_cond_t cv;  /* a slot was given back */
    size_t n;
    struct pg__conn *slots;
    struct ccf_histo commit_us;  /* a write's BEGIN to its COMMIT's end */
    struct ccf_histo per_commit; /* always 1: no group commit here */
    struct pg__leader *leader;   /* leader.c's, made by the first poll */
};

static const uint64_t per_commit_bounds[] = {1, 2, 4, 8, 16, 32, 64};

static struct store_pg *pgs(struct store *s)
{
    return (struct store_pg *)s;
}

int64_t pg__cp_history(const struct store *s)
{
    return ((const struct store_pg *)s)->cp_history;
}

static void conn_close(struct pg__conn *c)
{
    PQfinish(c->db);
    c->db = NULL;
    c->broken = false;
    memset(c->prepared, 0, sizeof(c->prepared));
}

/* The URI's own settings win over these defaults (libpq reads dbname's
 * expansion after them). */
static int conn_open(struct store_pg *s, struct pg__conn *c)
{
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {"5", "ccfd", s->url, NULL};
    PGresult *r;

    c->db = PQconnectdbParams(keys, vals, 1);
    if (!c->db || PQstatus(c->db) != CONNECTION_OK) {
        CCF_LOG_ERROR("store.open_failed", CCF_KV_STR("backend", "postgresql"),
                      CCF_KV_STR("pg_error", c->db ? PQerrorMessage(c->db) : "out of memory"),
                      CCF_KV_STR("hint", "the database is unreachable; clients get 503 and "
                                         "ccfd reconnects by itself"));
        conn_close(c);
        return CCF_EUNAVAIL;
    }
    /* Timestamps are integers; text results use no locale. A statement
     * that waits on a lock longer than a request may wait fails instead. */
    r = PQexec(c->db, "SET statement_timeout = '30s'; SET lock_timeout = '10s'; "
                      "SET client_min_messages = warning");
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        pg__fail(c, r, "store.configure_failed", "open");
        PQclear(r);
        conn_close(c);
        return CCF_EUNAVAIL;
    }
    PQclear(r);
    return 0;
}

static int deadline(struct timespec *ts, int ms)
{
    if (clock_gettime(CLOCK_REALTIME, ts) != 0)
        return CCF_EIO;
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
    return 0;
}

/* A free slot, preferring one already connected; NULL when all are busy. */
static struct pg__conn *free_slot(struct store_pg *s)
{
    struct pg__conn *idle = NULL;

    for (size_t i = 0; i < s->n; i++) {
        if (s->slots[i].busy)
            continue;
        if (s->slots[i].db && !s->slots[i].broken)
            return &s->slots[i];
        if (!idle)
            idle = &s->slots[i];
    }
    return idle;
}

/* Set while this thread runs a transaction body of this store: a write
 * from inside the body runs in that transaction, on its connection, in a
 * savepoint of its own (as group.c does for SQLite), instead of taking a
 * second connection whose commit would not be atomic with the body's and
 * could wait on the body's own locks; a read from inside the body uses
 * that connection too: it sees the body's writes, and a body never waits
 * for a second connection of the pool (all of them could be held by
 * bodies waiting so). */
static _Thread_local struct store *tx_store;
static _Thread_local struct pg__conn *tx_conn;

int pg__get(struct store *base, struct pg__conn **out)
{
    struct store_pg *s = pgs(base);
    struct pg__conn *c;
    struct timespec ts;
    int rc = 0;

    if (tx_store == base && tx_conn) {
        *out = tx_conn;
        return 0;
    }
    if ((rc = deadline(&ts, s->wait_ms)) < 0)
        return rc;
    pthread_mutex_lock(&s->mu);
    while (!(c = free_slot(s)) && rc == 0)
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    if (c)
        c->busy = true;
    pthread_mutex_unlock(&s->mu);
    if (!c) {
        CCF_LOG_WARN("store.pool_exhausted", CCF_KV_INT("connections", s->n),
                     CCF_KV_INT("waited_ms", s->wait_ms));
        return CCF_EUNAVAIL;
    }
    if (c->db && (c->broken || PQstatus(c->db) != CONNECTION_OK))
        conn_close(c);
    if (!c->db && (rc = conn_open(s, c)) < 0) {
        pg__put(base, c);
        return rc;
    }
    c->changes_pending = c->events_pending = false;
    *out = c;
    return 0;
}

void pg__put(struct store *base, struct pg__conn *c)
{
    struct store_pg *s = pgs(base);

    if (c == tx_conn && tx_store == base)
        return; /* the body's own: it ends with the body */
    /* A connection left inside a transaction (a failed ROLLBACK) is not
     * given to the next caller as it is. */
    if (c->db && PQtransactionStatus(c->db) != PQTRANS_IDLE)
        c->broken = true;
    pthread_mutex_lock(&s->mu);
    c->busy = false;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* BEGIN; once more on a fresh connection if the pooled one was dead (the
 * server restarted while it sat idle): nothing has run yet. */
static int begin(struct store_pg *s, struct pg__conn *c, const char *op)
{
    int rc = pg__exec(c, "BEGIN", op);

    if (rc < 0 && c->broken) {
        conn_close(c);
        if ((rc = conn_open(s, c)) == 0)
            rc = pg__exec(c, "BEGIN", op);
    }
    return rc;
}

static int nested(struct pg__conn *c, pg__tx_fn fn, void *arg, const char *op)
{
    int rc, err;

    if ((rc = pg__exec(c, "SAVEPOINT w", op)) < 0)
        return rc;
    rc = fn(c, arg);
    if ((rc < 0 && (err = pg__exec(c, "ROLLBACK TO SAVEPOINT w", op)) < 0) ||
        (err = pg__exec(c, "RELEASE SAVEPOINT w", op)) < 0)
        return err;
    return rc;
}

int pg__write(struct store *base, pg__tx_fn fn, void *arg, const char *op)
{
    struct store_pg *s = pgs(base);
    struct pg__conn *c;
    bool jobs, events;
    int64_t t0 = ccf_mono_us();
    int rc, result;

    if (tx_store == base && tx_conn)
        return nested(tx_conn, fn, arg, op);
    if ((rc = pg__get(base, &c)) < 0)
        return rc;
    if ((rc = begin(s, c, op)) < 0)
        goto out;
    c->changes_pending = c->events_pending = false;
    tx_store = base;
    tx_conn = c;
    result = fn(c, arg);
    tx_store = NULL;
    tx_conn = NULL;
    if (result < 0) {
        if (c->db && PQtransactionStatus(c->db) != PQTRANS_IDLE)
            (void)pg__exec(c, "ROLLBACK", op);
        rc = result;
        goto out;
    }
    jobs = c->changes_pending;
    events = c->events_pending;
    if ((rc = pg__exec(c, "COMMIT", op)) < 0)
        goto out;
    ccf_histo_observe(&s->commit_us, (uint64_t)(ccf_mono_us() - t0));
    ccf_histo_observe(&s->per_commit, 1);
    pg__put(base, c);
    if (jobs || events)
        store__notify(base, jobs);
    return result;
out:
    pg__put(base, c);
    return rc;
}

static int pg_leader_poll(struct store *base, int wait_ms, bool *woken)
{
    struct store_pg *s = pgs(base);

    return store_pg__leader_poll(base, s->url, &s->leader, wait_ms, woken);
}

int pg__session_pid(struct store *base)
{
    return pg__leader_pid(pgs(base)->leader);
}

static void pg_close(struct store *base)
{
    struct store_pg *s = pgs(base);

    pg__leader_close(s->leader);

    for (size_t i = 0; i < s->n; i++)
        conn_close(&s->slots[i]);
    free(s->slots);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    if (s->url) {
        memset(s->url, 0, strlen(s->url)); /* it may hold a password */
        free(s->url);
    }
    store__base_destroy(&s->base);
    free(s);
}

static int pg_open(struct store **out, const struct store_config *cfg)
{
    struct store_pg *s;
    struct pg__conn *c;
    int rc;

    if (!cfg->url || cfg->busy_timeout_ms < 0 || cfg->pool_size < 0 || cfg->pool_size > POOL_MAX ||
        cfg->checkpoint_history < 0 || cfg->checkpoint_history > STORE_CP_HISTORY_MAX)
        return CCF_EINVAL;
    s = ccf_xcalloc(1, sizeof(*s));
    store__base_init(&s->base, &store__backend_postgres);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->url = ccf_xstrdup(cfg->url);
    s->wait_ms = cfg->busy_timeout_ms ? cfg->busy_timeout_ms : WAIT_DEFAULT_MS;
    s->cp_history =
        cfg->checkpoint_history > 0 ? cfg->checkpoint_history : STORE_CP_HISTORY_DEFAULT;
    s->n = cfg->pool_size ? (size_t)cfg->pool_size : POOL_DEFAULT;
    s->slots = ccf_xcalloc(s->n, sizeof(*s->slots));
    ccf_histo_init(&s->commit_us, ccf_histo_latency_us, ccf_histo_latency_n, 1e-6);
    ccf_histo_init(&s->per_commit, per_commit_bounds,
                   sizeof(per_commit_bounds) / sizeof(per_commit_bounds[0]), 1);
    if ((rc = pg__get(&s->base, &c)) < 0)
        goto fail;
    rc = pg__migrate(c, s->base.secret);
    pg__put(&s->base, c);
    if (rc < 0)
        goto fail;
    *out = &s->base;
    return 0;
fail:
    pg_close(&s->base);
    return rc;
}

int store_pg__ping(struct store *s)
{
    struct pg__conn *c;
    int rc;

    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = pg__run(c, PG__Q_PING, "SELECT count(*) FROM meta", NULL, NULL, "ping");
    pg__put(s, c);
    return rc;
}

int store_pg__writable(struct store *s, const char **why)
{
    struct pg__conn *c;
    PGresult *r = NULL;
    int rc;

    if ((rc = pg__get(s, &c)) < 0) {
        *why = "the database is unreachable";
        return CCF_EUNAVAIL;
    }
    if ((rc = pg__run(c, PG__Q_PING, "SELECT count(*) FROM meta", NULL, NULL, "writable")) < 0) {
        *why = "the database does not answer";
        rc = CCF_EUNAVAIL;
    } else if (PQparameterStatus(c->db, "in_hot_standby") &&
               strcmp(PQparameterStatus(c->db, "in_hot_standby"), "on") == 0) {
        *why = "the database is a standby (read-only)";
        rc = CCF_EUNAVAIL;
    }
    PQclear(r);
    pg__put(s, c);
    return rc;
}

void store_pg__get_metrics(struct store *s, struct store_metrics *out)
{
    out->commit_seconds = &pgs(s)->commit_us;
    out->writes_per_commit = &pgs(s)->per_commit;
}

const struct store__backend store__backend_postgres = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .ping = store_pg__ping,
    .leader_poll = pg_leader_poll,
    .writable = store_pg__writable,
    .get_metrics = store_pg__get_metrics,
    .count_unfinished_jobs = store_pg__count_unfinished_jobs,
    .create_connector = store_pg__create_connector,
    .get_connector = store_pg__get_connector,
    .list_connectors = store_pg__list_connectors,
    .update_connector = store_pg__update_connector,
    .delete_connector = store_pg__delete_connector,
    .start_job = store_pg__start_job,
    .get_job = store_pg__get_job,
    .list_jobs = store_pg__list_jobs,
    .transition_job = store_pg__transition_job,
    .set_job_status_reason = store_pg__set_job_status_reason,
    .put_documents = store_pg__put_documents,
    .delete_documents = store_pg__delete_documents,
    .list_documents = store_pg__list_documents,
    .delete_checkpoint = store_pg__delete_checkpoint,
    .put_checkpoint_if = store_pg__put_checkpoint_if,
    .get_checkpoint_version = store_pg__get_checkpoint_version,
    .list_checkpoint_versions = store_pg__list_checkpoint_versions,
    .read_changes = store_pg__read_changes,
    .read_connector_changes = store_pg__read_connector_changes,
    .cursor_get = store_pg__cursor_get,
    .cursor_set = store_pg__cursor_set,
    .unfinished_jobs = store_pg__unfinished_jobs,
    .replica_heartbeat = store_pg__replica_heartbeat,
    .assign_jobs = store_pg__assign_jobs,
    .runner_jobs = store_pg__runner_jobs,
    .lost_jobs = store_pg__lost_jobs,
    .unassign_job = store_pg__unassign_job,
    .read_events = store_pg__read_events,
    .set_paused = store_pg__set_paused,
    .schedule_head = store_pg__schedule_head,
    .due_schedules = store_pg__due_schedules,
    .fire_schedule = store_pg__fire_schedule,
    .purge_jobs = store_pg__purge_jobs,
    .prune_changes = store_pg__prune_changes,
    .create_connector_token = store_pg__create_connector_token,
    .start_job_token = store_pg__start_job_token,
    .purge_tokens = store_pg__purge_tokens,
    .put_documents_by = store_pg__put_documents_by,
    .delete_documents_by = store_pg__delete_documents_by,
    .list_documents_not_seen = store_pg__list_documents_not_seen,
    .audited_write = store_pg__audited_write,
    .audit_append = store_pg__audit_append,
    .read_audit = store_pg__read_audit,
    .prune_audit = store_pg__prune_audit,
    .create_webhook = store_pg__create_webhook,
    .get_webhook = store_pg__get_webhook,
    .list_webhooks = store_pg__list_webhooks,
    .delete_webhook = store_pg__delete_webhook,
    .all_webhooks = store_pg__all_webhooks,
    .webhook_head = store_pg__webhook_head,
    .webhook_record = store_pg__webhook_record,
    .list_deliveries = store_pg__list_deliveries,
    .append_job_log = store_pg__append_job_log,
    .job_log_end = store_pg__job_log_end,
    .read_job_log = store_pg__read_job_log,
    .webhook_ping = store_pg__webhook_ping,
    .take_webhook_pings = store_pg__take_webhook_pings,
};
