/* sqlite.c: the SQLite backend's handle and its connection layer
 * (sqlite_int.h): open and close, the per-thread connections (opened
 * lazily, closed at thread exit or by store_close), commit with the hooks,
 * ping, and the backend's table of operations.
 *
 * Reopening: after an I/O error the database file may have been mounted
 * again under ccfd (a file system the kernel made read-only must be
 * unmounted, repaired and mounted again; ccfd's descriptors still point at
 * the old one). While the store is "suspect" (an I/O-class error since the
 * last reopen), store__conn compares the path's device and inode with the
 * file's at open, at most every REOPEN_CHECK_MS; a thread's first connection
 * compares them too. When they differ the generation goes up, and every
 * thread reopens its connection at its next idle call (no transaction and no
 * statement in progress) after checking that the new file holds the same
 * database (the token secret). */
#include "store/sqlite/sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/log.h"

#define BUSY_TIMEOUT_DEFAULT_MS 5000
#define REOPEN_CHECK_MS         200
#define PROBE_SUFFIX            "-write-probe"
/* Page cache per connection, KiB: SQLite's default is 2 MiB, and ccfd has a
 * connection per thread, 20 or more (HTTP threads, writers, orchestrator);
 * the OS page cache still holds the whole file. */
#define CACHE_KIB 1024

struct store_sqlite {
    struct store base; /* first: the dispatcher's part (backend_int.h) */
    char *path;
    char *probe;                /* path + PROBE_SUFFIX, for store__read_only */
    struct store__conn_env env; /* for the statement layer: probe, ready, suspect */
    const char *synchronous;    /* static: "FULL", "NORMAL" or "OFF" */
    int busy_timeout_ms;
    int64_t cp_history; /* checkpoint versions kept */
    pthread_key_t key;  /* the calling thread's struct store__conn */
    bool key_created;
    pthread_mutex_t mu; /* guards conns */
    struct store__conn *conns;
    dev_t dev; /* the database file's identity (under mu) */
    ino_t ino;
    atomic_uint gen;           /* bumped when the file at path changed */
    atomic_llong next_check;   /* ms, CLOCK_MONOTONIC */
    bool opened;               /* the first connection exists */
    struct store__group group; /* group commit (group.c) */
};

/* Every struct store of this backend is a struct store_sqlite. */
static struct store_sqlite *sq(struct store *s)
{
    return (struct store_sqlite *)s;
}

static bool identity_changed(struct store_sqlite *s);
static void bump_generation(struct store_sqlite *s);

static void conn_close(struct store__conn *c)
{
    int rc;

    store__finalize_all(c);
    if ((rc = sqlite3_close(c->db)) != SQLITE_OK)
        CCF_LOG_ERROR("store.close_failed", CCF_KV_INT("sqlite_rc", rc),
                      CCF_KV_STR("sqlite_error", sqlite3_errmsg(c->db)));
    free(c);
}

static void conn_unlink(struct store__conn *c)
{
    struct store_sqlite *s = sq(c->s);

    pthread_mutex_lock(&s->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&s->mu);
}

/* The pthread_key destructor: a thread exits while the store is open. */
static void conn_destroy(void *p)
{
    struct store__conn *c = p;

    conn_unlink(c);
    conn_close(c);
}

static int conn_configure(struct store__conn *c)
{
    char sql[128];
    int rc, n;

    n = snprintf(sql, sizeof(sql),
                 "PRAGMA foreign_keys=ON; PRAGMA synchronous=%s; PRAGMA cache_size=-%d;",
                 sq(c->s)->synchronous, CACHE_KIB);
    if (n < 0 || (size_t)n >= sizeof(sql))
        return CCF_EIO;
    sqlite3_extended_result_codes(c->db, 1);
    if ((rc = sqlite3_busy_timeout(c->db, sq(c->s)->busy_timeout_ms)) != SQLITE_OK ||
        (rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL)) != SQLITE_OK)
        return store__fail(c, rc, "store.configure_failed", "open");
    return 0;
}

/* create: only the first connection may create the file; a later one must
 * find the database store_open migrated, never a fresh empty file. */
static int conn_open(struct store_sqlite *s, bool create, struct store__conn **out)
{
    /* NOMUTEX: a connection is used by one thread at a time. */
    const int flags =
        SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
    struct store__conn *c = ccf_xcalloc(1, sizeof(*c));
    int rc;

    c->s = &s->base;
    c->env = &s->env;
    c->gen = atomic_load(&s->gen);
    if ((rc = sqlite3_open_v2(s->path, &c->db, flags, NULL)) != SQLITE_OK) {
        CCF_LOG_ERROR(
            "store.open_failed", CCF_KV_STR("path", s->path), CCF_KV_INT("sqlite_rc", rc),
            CCF_KV_STR("sqlite_error", c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc)));
        rc = store__map(rc);
        goto fail;
    }
    if ((rc = conn_configure(c)) < 0)
        goto fail;
    if (!create && (rc = store__same_database(c, s->base.secret)) < 0) {
        CCF_LOG_ERROR("store.not_same_database", CCF_KV_STR("path", s->path),
                      CCF_KV_STR("hint", "the file at this path is not the database ccfd opened; "
                                         "put the data directory back or restart ccfd"));
        goto fail;
    }
    /* A new thread's first connection may be the first to see the file
     * mounted again: then the others, still on the old one, must reopen. */
    if (!create && identity_changed(s)) {
        bump_generation(s);
        c->gen = atomic_load(&s->gen);
    }
    *out = c;
    return 0;
fail:
    sqlite3_close(c->db);
    free(c);
    return rc;
}

/* Records the identity of the file at s->path; true if it changed. The stat
 * is under the mutex: a thread that looked before a remount must not write
 * the old identity back over a newer one. */
static bool identity_changed(struct store_sqlite *s)
{
    struct stat st;
    bool changed = false;

    pthread_mutex_lock(&s->mu);
    if (stat(s->path, &st) == 0 && (st.st_dev != s->dev || st.st_ino != s->ino)) {
        changed = s->dev != 0 || s->ino != 0;
        s->dev = st.st_dev;
        s->ino = st.st_ino;
    }
    pthread_mutex_unlock(&s->mu);
    return changed;
}

/* Every connection reopens at its next idle call (store__conn). suspect is
 * cleared first: an error that comes after still sets it. */
static void bump_generation(struct store_sqlite *s)
{
    atomic_store(&s->env.suspect, false);
    atomic_fetch_add(&s->gen, 1);
    CCF_LOG_WARN("store.reopening", CCF_KV_STR("path", s->path),
                 CCF_KV_STR("reason", "the database file was replaced or mounted again"));
}

static void check_identity(struct store_sqlite *s)
{
    long long now = ccf_mono_us() / 1000, next = atomic_load(&s->next_check);

    if (now < next || !atomic_compare_exchange_strong(&s->next_check, &next, now + REOPEN_CHECK_MS))
        return;
    if (identity_changed(s))
        bump_generation(s);
}

/* No transaction open and no statement stepping: nothing of the caller's
 * refers to c's statements, so c can be closed. */
static bool conn_idle(struct store__conn *c)
{
    if (!sqlite3_get_autocommit(c->db))
        return false;
    for (sqlite3_stmt *st = sqlite3_next_stmt(c->db, NULL); st; st = sqlite3_next_stmt(c->db, st))
        if (sqlite3_stmt_busy(st))
            return false;
    return true;
}

bool store__read_only(struct store *s)
{
    return store__probe_read_only(sq(s)->probe);
}

void store__suspect(struct store *s)
{
    atomic_store(&sq(s)->env.suspect, true);
}

int store__conn(struct store *base, struct store__conn **out)
{
    struct store_sqlite *s = sq(base);
    struct store__conn *c = pthread_getspecific(s->key);
    int rc;

    if (c && atomic_load_explicit(&s->env.suspect, memory_order_relaxed))
        check_identity(s);
    if (c && c->gen != atomic_load(&s->gen) && conn_idle(c)) {
        pthread_setspecific(s->key, NULL);
        conn_unlink(c);
        conn_close(c);
        c = NULL;
    }
    if (c) {
        *out = c;
        return 0;
    }
    if ((rc = conn_open(s, !s->opened, &c)) < 0)
        return rc;
    if ((rc = pthread_setspecific(s->key, c)) != 0) {
        CCF_LOG_ERROR("store.tls_failed", CCF_KV_INT("errno", rc));
        conn_close(c);
        return CCF_EIO;
    }
    pthread_mutex_lock(&s->mu);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    pthread_mutex_unlock(&s->mu);
    *out = c;
    return 0;
}

static int parse_synchronous(const char *v, const char **out)
{
    static const char *const names[] = {"FULL", "NORMAL", "OFF"};

    if (!v) {
        *out = names[0];
        return 0;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(v, names[i]) == 0) {
            *out = names[i];
            return 0;
        }
    }
    CCF_LOG_ERROR("store.bad_config", CCF_KV_STR("synchronous", v));
    return CCF_EINVAL;
}

static void sqlite_close(struct store *base);

static int sqlite_open(struct store **out, const struct store_config *cfg)
{
    struct store_sqlite *s;
    struct store__conn *c;
    size_t n;
    int rc;

    if (!cfg || !cfg->path || cfg->busy_timeout_ms < 0 || cfg->checkpoint_history < 0 ||
        cfg->checkpoint_history > STORE_CP_HISTORY_MAX)
        return CCF_EINVAL;
    s = ccf_xcalloc(1, sizeof(*s));
    store__base_init(&s->base, &store__backend_sqlite);
    pthread_mutex_init(&s->mu, NULL);
    store__group_init(&s->group);
    s->path = ccf_xstrdup(cfg->path);
    n = strlen(cfg->path) + sizeof(PROBE_SUFFIX);
    s->probe = ccf_xmalloc(n);
    snprintf(s->probe, n, "%s%s", cfg->path, PROBE_SUFFIX);
    s->env.probe = s->probe;
    s->busy_timeout_ms = cfg->busy_timeout_ms ? cfg->busy_timeout_ms : BUSY_TIMEOUT_DEFAULT_MS;
    s->cp_history =
        cfg->checkpoint_history > 0 ? cfg->checkpoint_history : STORE_CP_HISTORY_DEFAULT;
    if ((rc = parse_synchronous(cfg->synchronous, &s->synchronous)) < 0)
        goto fail;
    if ((rc = pthread_key_create(&s->key, conn_destroy)) != 0) {
        CCF_LOG_ERROR("store.tls_failed", CCF_KV_INT("errno", rc));
        rc = CCF_EIO;
        goto fail;
    }
    s->key_created = true;
    /* The opening thread keeps this connection for its later calls. */
    if ((rc = store__conn(&s->base, &c)) < 0)
        goto fail;
    s->opened = true;
    if ((rc = store__migrate(c, s->path, s->base.secret)) < 0)
        goto fail;
    identity_changed(s);
    atomic_store(&s->env.ready, true); /* before any other thread can see s */
    *out = &s->base;
    return 0;
fail:
    sqlite_close(&s->base);
    return rc;
}

static void sqlite_close(struct store *base)
{
    struct store_sqlite *s = sq(base);
    struct store__conn *c, *next;

    if (!s)
        return;
    /* Deleting the key first: no destructor can run on a connection that is
     * closed below, so nothing is closed twice. */
    if (s->key_created) {
        pthread_setspecific(s->key, NULL);
        pthread_key_delete(s->key);
    }
    pthread_mutex_lock(&s->mu);
    c = s->conns;
    s->conns = NULL;
    pthread_mutex_unlock(&s->mu);
    for (; c; c = next) {
        next = c->next;
        conn_close(c);
    }
    pthread_mutex_destroy(&s->mu);
    store__group_destroy(&s->group);
    free(s->path);
    free(s->probe);
    store__base_destroy(&s->base);
    free(s);
}

struct store__group *store__group_of(struct store *s)
{
    return &sq(s)->group;
}

int store_sqlite__ping(struct store *s)
{
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(c, STORE__Q_PING, "SELECT count(*) FROM meta", &st, "ping")) < 0)
        return rc;
    if ((rc = sqlite3_step(st)) != SQLITE_ROW)
        rc = store__fail(c, rc, "store.step_failed", "ping");
    else
        rc = 0;
    store__reset(st);
    return rc;
}

int store__commit(struct store__conn *c, const char *op)
{
    bool jobs = c->changes_pending, events = c->events_pending;
    int rc;

    c->changes_pending = c->events_pending = false;
    if ((rc = store__commit_sql(c, op)) < 0)
        return rc;
    if (jobs || events)
        store__notify(c->s, jobs);
    return 0;
}

int64_t store__cp_history(const struct store *s)
{
    return ((const struct store_sqlite *)s)->cp_history;
}

int store_sqlite__writable(struct store *s, const char **why)
{
    struct statvfs st;
    const char *path = sq(s)->path;

    /* The probe file, not statvfs's flag: see store__read_only. */
    if (store__read_only(s)) {
        *why = "the data directory's file system is read-only";
        return CCF_EUNAVAIL;
    }
    if (statvfs(path, &st) == 0 && st.f_bavail == 0) {
        *why = "the data directory's file system is full";
        return CCF_EUNAVAIL;
    }
    return 0;
}

const struct store__backend store__backend_sqlite = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .ping = store_sqlite__ping,
    .writable = store_sqlite__writable,
    .get_metrics = store_sqlite__get_metrics,
    .count_unfinished_jobs = store_sqlite__count_unfinished_jobs,
    .create_connector = store_sqlite__create_connector,
    .get_connector = store_sqlite__get_connector,
    .list_connectors = store_sqlite__list_connectors,
    .update_connector = store_sqlite__update_connector,
    .delete_connector = store_sqlite__delete_connector,
    .set_paused = store_sqlite__set_paused,
    .schedule_head = store_sqlite__schedule_head,
    .due_schedules = store_sqlite__due_schedules,
    .fire_schedule = store_sqlite__fire_schedule,
    .start_job = store_sqlite__start_job,
    .get_job = store_sqlite__get_job,
    .list_jobs = store_sqlite__list_jobs,
    .transition_job = store_sqlite__transition_job,
    .set_job_status_reason = store_sqlite__set_job_status_reason,
    .put_documents = store_sqlite__put_documents,
    .delete_documents = store_sqlite__delete_documents,
    .list_documents = store_sqlite__list_documents,
    .put_documents_by = store_sqlite__put_documents_by,
    .delete_documents_by = store_sqlite__delete_documents_by,
    .list_documents_not_seen = store_sqlite__list_documents_not_seen,
    .delete_checkpoint = store_sqlite__delete_checkpoint,
    .put_checkpoint_if = store_sqlite__put_checkpoint_if,
    .get_checkpoint_version = store_sqlite__get_checkpoint_version,
    .list_checkpoint_versions = store_sqlite__list_checkpoint_versions,
    .create_connector_token = store_sqlite__create_connector_token,
    .start_job_token = store_sqlite__start_job_token,
    .purge_tokens = store_sqlite__purge_tokens,
    .read_changes = store_sqlite__read_changes,
    .read_connector_changes = store_sqlite__read_connector_changes,
    .cursor_get = store_sqlite__cursor_get,
    .cursor_set = store_sqlite__cursor_set,
    .unfinished_jobs = store_sqlite__unfinished_jobs,
    .purge_jobs = store_sqlite__purge_jobs,
    .prune_changes = store_sqlite__prune_changes,
    .read_events = store_sqlite__read_events,
    .audited_write = store_sqlite__audited_write,
    .audit_append = store_sqlite__audit_append,
    .read_audit = store_sqlite__read_audit,
    .prune_audit = store_sqlite__prune_audit,
    .create_webhook = store_sqlite__create_webhook,
    .get_webhook = store_sqlite__get_webhook,
    .list_webhooks = store_sqlite__list_webhooks,
    .delete_webhook = store_sqlite__delete_webhook,
    .all_webhooks = store_sqlite__all_webhooks,
    .webhook_head = store_sqlite__webhook_head,
    .webhook_record = store_sqlite__webhook_record,
    .list_deliveries = store_sqlite__list_deliveries,
};
