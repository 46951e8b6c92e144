/* group.c: group commit. Every write of the SQLite backend is a transaction
 * body (store__tx_fn) handed to store__write. Writers queue their bodies;
 * the first writer that finds no leader becomes it, takes the queue (at most
 * GROUP_MAX bodies), runs them one after another in one transaction on its
 * own connection, each inside a savepoint, and commits once: one fsync for
 * the whole batch instead of one per write. A body that fails is rolled
 * back to its savepoint and the others go on; a failed commit fails them
 * all. The others wait on a condition variable, not in SQLite's busy
 * handler, and the next queued writer leads the next batch.
 *
 * The bodies run in queue order, so the batch is the same as running the
 * writes one after another in that order: each sees the ones before it. */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>

#include "core/log.h"

/* Bounds one batch: its latency, and what one failed commit takes down. */
#define GROUP_MAX 64

struct store__wreq {
    store__tx_fn fn;
    void *arg;
    const char *op;
    int rc;
    bool ran;
    bool done; /* under the group's mutex */
    struct store__wreq *next;
};

/* Set while this thread leads a batch of this store: a write from inside a
 * body runs inline, in the batch's transaction and on its connection (in a
 * savepoint of its own), instead of waiting for itself. */
static _Thread_local struct store *leading;
static _Thread_local struct store__conn *leading_conn;

/* Up to GROUP_MAX. */
static const uint64_t per_commit_bounds[] = {1, 2, 4, 8, 16, 32, 64};

void store__group_init(struct store__group *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->head = NULL;
    g->tail = &g->head;
    g->leader = false;
    g->waiting = 0;
    g->batches = g->writes = 0;
    ccf_histo_init(&g->commit_us, ccf_histo_latency_us, ccf_histo_latency_n, 1e-6);
    ccf_histo_init(&g->per_commit, per_commit_bounds,
                   sizeof(per_commit_bounds) / sizeof(per_commit_bounds[0]), 1);
}

void store__group_destroy(struct store__group *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static int exec_cached(struct store__conn *c, enum store__q q, const char *sql, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = store__stmt(c, q, sql, &st, op)) < 0)
        return rc;
    return store__step_done(c, st, op);
}

/* The batch cannot commit: every body that wrote, or did not run, gets rc;
 * a body's own error stays. */
static void fail_batch(struct store__wreq *batch, int rc)
{
    for (struct store__wreq *r = batch; r; r = r->next) {
        if (!r->ran || r->rc >= 0)
            r->rc = rc;
    }
}

static void run_batch(struct store *s, struct store__wreq *batch)
{
    const bool many = batch->next != NULL;
    struct store__conn *c;
    int rc;

    if ((rc = store__conn(s, &c)) < 0 || (rc = store__begin(c, batch->op)) < 0) {
        fail_batch(batch, rc);
        return;
    }
    leading_conn = c;
    for (struct store__wreq *r = batch; r; r = r->next) {
        if (many && (rc = exec_cached(c, STORE__Q_SAVEPOINT, "SAVEPOINT w", r->op)) < 0)
            goto abort;
        r->rc = r->fn(c, r->arg);
        r->ran = true;
        /* SQLITE_FULL, SQLITE_IOERR, ... may have rolled everything back. */
        if (sqlite3_get_autocommit(c->db)) {
            rc = r->rc < 0 ? r->rc : CCF_EIO;
            goto abort;
        }
        if (!many) {
            if (r->rc < 0) {
                store__rollback(c, r->op);
                return;
            }
        } else if ((r->rc < 0 &&
                    (rc = exec_cached(c, STORE__Q_ROLLBACK_TO, "ROLLBACK TO w", r->op)) < 0) ||
                   (rc = exec_cached(c, STORE__Q_RELEASE, "RELEASE w", r->op)) < 0) {
            goto abort;
        }
    }
    if ((rc = store__commit(c, batch->op)) < 0)
        fail_batch(batch, rc); /* store__commit rolled back */
    return;
abort:
    store__rollback(c, batch->op);
    fail_batch(batch, rc);
}

/* A write from inside a body: in a savepoint of its own, so that its
 * failure undoes its writes only, as store_int.h promises. */
static int nested(struct store__conn *c, store__tx_fn fn, void *arg, const char *op)
{
    int rc, err;

    if ((rc = exec_cached(c, STORE__Q_SAVEPOINT, "SAVEPOINT w", op)) < 0)
        return rc;
    rc = fn(c, arg);
    if (sqlite3_get_autocommit(c->db))
        return rc < 0 ? rc : CCF_EIO; /* SQLite rolled it all back */
    if ((rc < 0 && (err = exec_cached(c, STORE__Q_ROLLBACK_TO, "ROLLBACK TO w", op)) < 0) ||
        (err = exec_cached(c, STORE__Q_RELEASE, "RELEASE w", op)) < 0)
        return err;
    return rc;
}

int store__write(struct store *s, store__tx_fn fn, void *arg, const char *op)
{
    struct store__group *g = store__group_of(s);
    struct store__wreq me = {.fn = fn, .arg = arg, .op = op};
    struct store__wreq *batch, **cut;
    int64_t t0;
    int n;

    if (leading == s && leading_conn)
        return nested(leading_conn, fn, arg, op);
    pthread_mutex_lock(&g->mu);
    *g->tail = &me;
    g->tail = &me.next;
    g->waiting++;
    for (;;) {
        while (!me.done && g->leader)
            pthread_cond_wait(&g->cv, &g->mu);
        if (me.done)
            break;
        /* Lead a batch: the first GROUP_MAX queued, me among them unless
         * more were waiting before me (then I lead again after). */
        g->leader = true;
        batch = g->head;
        cut = &g->head;
        for (n = 0; *cut && n < GROUP_MAX; n++)
            cut = &(*cut)->next;
        g->head = *cut;
        *cut = NULL;
        g->waiting -= (size_t)n;
        g->batches++;
        g->writes += (uint64_t)n;
        if (!g->head)
            g->tail = &g->head;
        pthread_mutex_unlock(&g->mu);

        leading = s;
        t0 = ccf_mono_us();
        run_batch(s, batch);
        ccf_histo_observe(&g->commit_us, (uint64_t)(ccf_mono_us() - t0));
        ccf_histo_observe(&g->per_commit, (uint64_t)n);
        leading = NULL;
        leading_conn = NULL;

        pthread_mutex_lock(&g->mu);
        for (struct store__wreq *r = batch; r; r = r->next)
            r->done = true; /* each waiter reads it only under the mutex */
        g->leader = false;
        pthread_cond_broadcast(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
    return me.rc;
}

void store_sqlite__get_metrics(struct store *s, struct store_metrics *out)
{
    struct store__group *g = store__group_of(s);

    out->commit_seconds = &g->commit_us;
    out->writes_per_commit = &g->per_commit;
}
