/* jobs.c: jobs in the SQLite backend: the atomic start (connector
 * AVAILABLE -> IN_USE plus the job and its outbox row), get, newest-first
 * keyset listing with a status filter, and conditional transitions that
 * release the connector when the active job ends. */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/validate.h"

#define JOB_COLS                                                                                   \
    "id, connector_id, status, environment, created_at, updated_at, started_at, completed_at, "    \
    "exit_code, failure_reason, executor_id, attempt, next_attempt_at, attempts, spec, trigger, "  \
    "status_reason"

#define ID_TRIES 8

/* Fills *j from a row of JOB_COLS; own as in row_connector. */
static int row_job(sqlite3_stmt *st, struct ccf_job *j, bool own)
{
    int status = sqlite3_column_int(st, 2);

    memset(j, 0, sizeof(*j));
    if (store__col_copy(st, 0, j->id, sizeof(j->id)) < 0 ||
        store__col_copy(st, 1, j->connector_id, sizeof(j->connector_id)) < 0)
        return CCF_EIO;
    if (status < 0 || status >= CCF_JOB_STATUS_COUNT) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("job_id", j->id), CCF_KV_INT("status", status));
        return CCF_EIO;
    }
    j->status = (enum ccf_job_status)status;
    j->created_at = sqlite3_column_int64(st, 4);
    j->updated_at = sqlite3_column_int64(st, 5);
    j->started_at = sqlite3_column_int64(st, 6); /* NULL reads as 0 */
    j->completed_at = sqlite3_column_int64(st, 7);
    j->has_exit_code = sqlite3_column_type(st, 8) != SQLITE_NULL;
    j->exit_code = sqlite3_column_int(st, 8);
    j->attempt = sqlite3_column_int(st, 11);
    j->next_attempt_at = sqlite3_column_int64(st, 12);
    j->trigger = (enum ccf_job_trigger)sqlite3_column_int(st, 15); /* NULL reads as NONE */
    if (own) {
        j->environment = store__col_dup(st, 3);
        j->failure_reason = store__col_dup(st, 9);
        j->executor_id = store__col_dup(st, 10);
        j->attempts = store__col_dup(st, 13);
        j->spec = store__col_dup(st, 14);
        j->status_reason = store__col_dup(st, 16);
    } else {
        j->environment = (char *)sqlite3_column_text(st, 3);
        j->failure_reason = (char *)sqlite3_column_text(st, 9);
        j->executor_id = (char *)sqlite3_column_text(st, 10);
        j->attempts = (char *)sqlite3_column_text(st, 13);
        j->spec = (char *)sqlite3_column_text(st, 14);
        j->status_reason = (char *)sqlite3_column_text(st, 16);
    }
    return 0;
}

/* A job id no row has; under the write lock it stays free until COMMIT. */
static int fresh_job_id(struct store__conn *c, char id[CCF_JOB_ID_LEN + 1], const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b;

    if ((rc = store__stmt(c, STORE__Q_JOB_ID_TAKEN, "SELECT 1 FROM jobs WHERE id = ?1", &st, op)) <
        0)
        return rc;
    for (int i = 0; i < ID_TRIES; i++) {
        b = SQLITE_OK;
        if ((rc = ccf_job_id_new(id)) < 0)
            return rc;
        store__bind_text(st, 1, id, &b);
        if ((rc = store__bind_check(c, b, op)) == 0 && (rc = sqlite3_step(st)) != SQLITE_ROW)
            rc = rc == SQLITE_DONE ? 0 : store__fail(c, rc, "store.step_failed", op);
        store__reset(st);
        if (rc != SQLITE_ROW)
            return rc;
        CCF_LOG_WARN("store.id_collision", CCF_KV_STR("job_id", id));
    }
    return CCF_EIO;
}

/* AVAILABLE -> IN_USE for job_id; CCF_ECONFLICT if IN_USE already. */
static int claim_connector(struct store__conn *c, const char *tk, const char *connector_id,
                           const char *job_id, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_JOB_CLAIM,
                          "UPDATE connectors SET status = 1, active_job_id = ?3, "
                          "version = version + 1 "
                          "WHERE id = ?1 AND tenant = ?2 AND status = 0 AND paused = 0",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, connector_id, &b);
    store__bind_text(st, 2, tk, &b);
    store__bind_text(st, 3, job_id, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    if ((rc = store__step_done(c, st, op)) < 0 || store__changes(c) == 1)
        return rc;
    rc = store__connector_status(c, tk, connector_id, op);
    return rc >= 0 ? CCF_ECONFLICT : rc;
}

static int insert_job(struct store__conn *c, const char *tk, const struct ccf_job *j,
                      const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc =
             store__stmt(c, STORE__Q_JOB_INSERT,
                         "INSERT INTO jobs (id, connector_id, tenant, status, environment, "
                         "created_at, updated_at, trigger) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
                         &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, j->id, &b);
    store__bind_text(st, 2, j->connector_id, &b);
    store__bind_text(st, 3, tk, &b);
    store__bind_int(st, 4, j->status, &b);
    store__bind_text(st, 5, j->environment, &b);
    store__bind_int(st, 6, j->created_at, &b);
    store__bind_int(st, 7, j->trigger, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    return store__step_done(c, st, op);
}

struct start_job {
    const char *tk;
    struct ccf_job *j;
};

int store__start_job(struct store__conn *c, const char *tk, struct ccf_job *j, const char *op)
{
    int rc;

    j->created_at = j->updated_at = ccf_now_us();
    if ((rc = fresh_job_id(c, j->id, op)) < 0 ||
        (rc = claim_connector(c, tk, j->connector_id, j->id, op)) < 0 ||
        (rc = insert_job(c, tk, j, op)) < 0 || (rc = store__change_insert(c, tk, j, -1, op)) < 0)
        return rc;
    return 0;
}

static int start_job_tx(struct store__conn *c, void *arg)
{
    const struct start_job *a = arg;

    return store__start_job(c, a->tk, a->j, "start_job");
}

int store_sqlite__start_job(struct store *s, const struct ccf_tenant *t, struct ccf_job *j)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct start_job a = {.tk = tk, .j = j};

    store__tenant_key(t, tk);
    return store__write(s, start_job_tx, &a, "start_job");
}

/* Reads the job into *out (owned strings). */
static int load_job(struct store__conn *c, const char *tk, const char *connector_id,
                    const char *job_id, struct ccf_job *out, const char *op)
{
    struct ccf_job tmp;
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_JOB_GET,
                          "SELECT " JOB_COLS " FROM jobs "
                          "WHERE id = ?1 AND connector_id = ?2 AND tenant = ?3",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, job_id, &b);
    store__bind_text(st, 2, connector_id, &b);
    store__bind_text(st, 3, tk, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    if ((rc = store__step_row(c, st, op)) < 0)
        goto out;
    if ((rc = row_job(st, &tmp, true)) < 0) {
        ccf_job_clear(&tmp);
    } else {
        store__reset(st); /* before the stats' own statement */
        if ((rc = store__job_stats_fill(c, &tmp, op)) == 0)
            *out = tmp;
        else
            ccf_job_clear(&tmp);
    }
out:
    store__reset(st);
    return rc;
}

int store_sqlite__get_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                          const char *job_id, struct ccf_job *out)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct store__conn *c;
    int rc;

    store__tenant_key(t, tk);
    if ((rc = store__conn(s, &c)) < 0)
        return rc;
    return load_job(c, tk, connector_id, job_id, out, "get_job");
}

/* The cached statement for a mask: one status can use the status index. */
static int list_stmt(struct store__conn *c, unsigned mask, sqlite3_stmt **st, const char *op)
{
#define LIST_HEAD "SELECT " JOB_COLS " FROM jobs WHERE connector_id = ?1 AND "
#define LIST_TAIL "(created_at, id) < (?2, ?3) ORDER BY created_at DESC, id DESC LIMIT ?4"

    if (mask == STORE__ALL_STATUSES)
        return store__stmt(c, STORE__Q_JOB_LIST_ALL, LIST_HEAD LIST_TAIL, st, op);
    if ((mask & (mask - 1)) == 0)
        return store__stmt(c, STORE__Q_JOB_LIST_ONE, LIST_HEAD "status = ?5 AND " LIST_TAIL, st,
                           op);
    return store__stmt(c, STORE__Q_JOB_LIST_MASK,
                       LIST_HEAD "((?5 >> status) & 1) = 1 AND " LIST_TAIL, st, op);
#undef LIST_HEAD
#undef LIST_TAIL
}

static int status_of_mask(unsigned mask)
{
    int i = 0;

    while (!(mask & (1u << i)))
        i++;
    return i;
}

static int visit_jobs(struct store__conn *c, sqlite3_stmt *st, size_t limit, store_job_fn visit,
                      void *ctx, char **last)
{
    struct ccf_job item;
    size_t n = 0;
    int rc;

    memset(&item, 0, sizeof(item));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            *last = store__key_format(item.created_at, item.id);
            return *last ? 0 : CCF_EIO;
        }
        if ((rc = row_job(st, &item, false)) < 0 ||
            (rc = store__job_stats_fill(c, &item, "list_jobs")) < 0 || (rc = visit(ctx, &item)) < 0)
            return rc;
        n++;
    }
    return rc == SQLITE_DONE ? 0 : store__fail(c, rc, "store.step_failed", "list_jobs");
}

int store_sqlite__list_jobs(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                            const struct store__job_page *q, store_job_fn visit, void *ctx,
                            char **next)
{
    const char *op = "list_jobs";
    char tk[STORE__TENANT_KEY_MAX];
    unsigned mask = q->mask;
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    char *last = NULL;
    int rc, b = SQLITE_OK;

    store__tenant_key(t, tk);
    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__connector_status(c, tk, connector_id, op)) < 0 ||
        (rc = list_stmt(c, mask, &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, connector_id, &b);
    store__bind_int(st, 2, q->k.after_at, &b);
    store__bind_text(st, 3, q->k.after_id, &b);
    store__bind_int(st, 4, (int64_t)q->k.limit + 1, &b);
    if (mask != STORE__ALL_STATUSES && (mask & (mask - 1)) == 0)
        store__bind_int(st, 5, status_of_mask(mask), &b);
    else if (mask != STORE__ALL_STATUSES)
        store__bind_int(st, 5, mask, &b);
    if ((rc = store__bind_check(c, b, op)) < 0 ||
        (rc = visit_jobs(c, st, q->k.limit, visit, ctx, &last)) < 0)
        goto out;
    if (next)
        *next = last;
    else
        free(last);
out:
    store__reset(st);
    return rc;
}

static int update_job(struct store__conn *c, const struct ccf_job *j, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_JOB_UPDATE,
                          "UPDATE jobs SET status = ?2, updated_at = ?3, started_at = ?4, "
                          "completed_at = ?5, exit_code = ?6, failure_reason = ?7, "
                          "executor_id = ?8, attempt = ?9, next_attempt_at = ?10, "
                          "attempts = ?11, spec = ?12, status_reason = ?13 WHERE id = ?1",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, j->id, &b);
    store__bind_int(st, 2, j->status, &b);
    store__bind_int(st, 3, j->updated_at, &b);
    store__bind_time(st, 4, j->started_at, &b);
    store__bind_time(st, 5, j->completed_at, &b);
    if (j->has_exit_code)
        store__bind_int(st, 6, j->exit_code, &b);
    store__bind_text(st, 7, j->failure_reason, &b);
    store__bind_text(st, 8, j->executor_id, &b);
    store__bind_int(st, 9, j->attempt, &b);
    store__bind_time(st, 10, j->next_attempt_at, &b);
    store__bind_text(st, 11, j->attempts, &b);
    store__bind_text(st, 12, j->spec, &b);
    store__bind_text(st, 13, j->status_reason, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    return store__step_done(c, st, op);
}

/* IN_USE -> AVAILABLE, only while the connector still runs this job. */
static int release_connector(struct store__conn *c, const char *tk, const struct ccf_job *j,
                             const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_JOB_RELEASE,
                          "UPDATE connectors SET status = 0, active_job_id = NULL, "
                          "version = version + 1 "
                          "WHERE id = ?1 AND tenant = ?2 AND active_job_id = ?3",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, j->connector_id, &b);
    store__bind_text(st, 2, tk, &b);
    store__bind_text(st, 3, j->id, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    return store__step_done(c, st, op);
}

/* Inside the transaction: 1 moved, 0 already there, or an error. */
static int transition_locked(struct store__conn *c, const char *tk, struct ccf_job *j,
                             const struct store_transition *tr, const char *op)
{
    enum ccf_job_status from = j->status;
    int rc;

    if (from == tr->to)
        return 0;
    /* Nothing leaves a terminal status, whatever from_mask says. */
    if (ccf_job_status_terminal(from) || !(tr->from_mask & (1u << from)))
        return CCF_ECONFLICT;
    store__apply_transition(j, tr, ccf_now_us());
    if ((rc = update_job(c, j, op)) < 0 ||
        (ccf_job_status_terminal(tr->to) && (rc = release_connector(c, tk, j, op)) < 0) ||
        (rc = store__change_insert(c, tk, j, (int)from, op)) < 0)
        return rc;
    return 1;
}

struct transition {
    const char *tk, *connector_id, *job_id;
    const struct store_transition *tr;
    struct ccf_job *j;
};

static int transition_tx(struct store__conn *c, void *arg)
{
    const struct transition *a = arg;
    const char *op = "transition_job";
    int rc;

    if ((rc = load_job(c, a->tk, a->connector_id, a->job_id, a->j, op)) < 0)
        return rc;
    return transition_locked(c, a->tk, a->j, a->tr, op);
}

int store_sqlite__transition_job(struct store *s, const struct ccf_tenant *t,
                                 const char *connector_id, const char *job_id,
                                 const struct store_transition *tr, struct ccf_job *out)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct ccf_job j;
    struct transition a = {
        .tk = tk, .connector_id = connector_id, .job_id = job_id, .tr = tr, .j = &j};
    int rc;

    store__tenant_key(t, tk);
    memset(&j, 0, sizeof(j));
    rc = store__write(s, transition_tx, &a, "transition_job");
    if (rc >= 0 && out) {
        *out = j;
        return rc;
    }
    ccf_job_clear(&j);
    return rc;
}

int store_sqlite__count_unfinished_jobs(struct store *s, int64_t out[CCF_JOB_STATUS_COUNT])
{
    const char *op = "count_unfinished_jobs";
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    int rc;

    for (int i = 0; i < CCF_JOB_STATUS_COUNT; i++)
        out[i] = 0;
    /* status is jobs_by_status's first column: three short index ranges. */
    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(c, STORE__Q_JOBS_UNFINISHED,
                          "SELECT status, count(*) FROM jobs WHERE status IN (0, 1, 2) "
                          "GROUP BY status",
                          &st, op)) < 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int status = sqlite3_column_int(st, 0);

        if (status >= 0 && status < CCF_JOB_STATUS_COUNT)
            out[status] = sqlite3_column_int64(st, 1);
    }
    rc = rc == SQLITE_DONE ? 0 : store__fail(c, rc, "store.step_failed", op);
    store__reset(st);
    return rc;
}

struct status_reason {
    const char *tk, *connector_id, *job_id, *reason;
};

static int status_reason_tx(struct store__conn *c, void *arg)
{
    const struct status_reason *a = arg;
    const char *op = "set_job_status_reason";
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    /* IS NOT: nothing written (updated_at kept) when the reason is already
     * this one, so a queue that does not move costs no write. */
    if ((rc = store__stmt(c, STORE__Q_JOB_STATUS_REASON,
                          "UPDATE jobs SET status_reason = ?4, updated_at = ?5 "
                          "WHERE id = ?1 AND connector_id = ?2 AND tenant = ?3 AND status = ?6 "
                          "AND status_reason IS NOT ?4",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, a->job_id, &b);
    store__bind_text(st, 2, a->connector_id, &b);
    store__bind_text(st, 3, a->tk, &b);
    store__bind_text(st, 4, a->reason, &b);
    store__bind_int(st, 5, ccf_now_us(), &b);
    store__bind_int(st, 6, CCF_JOB_STARTED, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    if ((rc = store__step_done(c, st, op)) < 0)
        return rc;
    return store__changes(c) == 1;
}

int store_sqlite__set_job_status_reason(struct store *s, const struct ccf_tenant *t,
                                        const char *connector_id, const char *job_id,
                                        const char *reason)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct status_reason a = {
        .tk = tk, .connector_id = connector_id, .job_id = job_id, .reason = reason};

    store__tenant_key(t, tk);
    return store__write(s, status_reason_tx, &a, "set_job_status_reason");
}
