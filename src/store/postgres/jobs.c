/* jobs.c: jobs in the PostgreSQL backend: the atomic start (connector
 * AVAILABLE -> IN_USE plus the job and its outbox row), get, newest-first
 * keyset listing with a status filter, and conditional transitions (the
 * job's row locked FOR UPDATE, so that two of them on one job take turns)
 * that release the connector when the active job ends. What a transition
 * does to the job is store__apply_transition's, as for SQLite. */
#include "store/postgres/pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/validate.h"

/* The job's columns and its statistics (NULL until it counted any). */
#define JOB_COLS                                                                                   \
    "j.id, j.connector_id, j.status, j.environment, j.created_at, j.updated_at, j.started_at, "    \
    "j.completed_at, j.exit_code, j.failure_reason, j.executor_id, j.attempt, "                    \
    "j.next_attempt_at, j.attempts, j.spec, j.trigger, j.status_reason, s.documents_added, "       \
    "s.documents_updated, s.documents_unchanged, s.documents_deleted, s.checkpoint_puts"
#define JOB_FROM "jobs j LEFT JOIN job_stats s ON s.job_id = j.id"
#define ID_TRIES 8

/* Fills *j from row i of r (JOB_COLS), with owned strings. */
static int row_job(PGresult *r, int i, struct ccf_job *j)
{
    int64_t status = pg__int(r, i, 2);

    memset(j, 0, sizeof(*j));
    if (pg__copy(r, i, 0, j->id, sizeof(j->id)) < 0 ||
        pg__copy(r, i, 1, j->connector_id, sizeof(j->connector_id)) < 0)
        return CCF_EIO;
    if (status < 0 || status >= CCF_JOB_STATUS_COUNT) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("job_id", j->id), CCF_KV_INT("status", status));
        return CCF_EIO;
    }
    j->status = (enum ccf_job_status)status;
    j->created_at = pg__int(r, i, 4);
    j->updated_at = pg__int(r, i, 5);
    j->started_at = pg__int(r, i, 6);
    j->completed_at = pg__int(r, i, 7);
    j->has_exit_code = !pg__null(r, i, 8);
    j->exit_code = (int)pg__int(r, i, 8);
    j->attempt = (int)pg__int(r, i, 11);
    j->next_attempt_at = pg__int(r, i, 12);
    j->trigger = (enum ccf_job_trigger)pg__int(r, i, 15); /* NULL reads as NONE */
    j->environment = pg__dup(r, i, 3);
    j->failure_reason = pg__dup(r, i, 9);
    j->executor_id = pg__dup(r, i, 10);
    j->attempts = pg__dup(r, i, 13);
    j->spec = pg__dup(r, i, 14);
    j->status_reason = pg__dup(r, i, 16);
    /* Statistics once it reached RUNNING (zeros when it did nothing). */
    j->has_stats = j->started_at != 0;
    if (j->has_stats) {
        j->stats.documents_added = pg__int(r, i, 17);
        j->stats.documents_updated = pg__int(r, i, 18);
        j->stats.documents_unchanged = pg__int(r, i, 19);
        j->stats.documents_deleted = pg__int(r, i, 20);
        j->stats.checkpoint_puts = pg__int(r, i, 21);
    }
    return 0;
}

int pg__job_stats_fill(struct pg__conn *c, struct ccf_job *j, const char *op)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    memset(&j->stats, 0, sizeof(j->stats));
    j->has_stats = j->started_at != 0;
    if (!j->has_stats)
        return 0;
    pg__p_text(&p, j->id);
    if ((rc = pg__run(c, PG__Q_STATS_GET,
                      "SELECT documents_added, documents_updated, documents_unchanged, "
                      "documents_deleted, checkpoint_puts FROM job_stats WHERE job_id = $1",
                      &p, &r, op)) < 0)
        return rc;
    if (PQntuples(r) == 1) {
        j->stats.documents_added = pg__int(r, 0, 0);
        j->stats.documents_updated = pg__int(r, 0, 1);
        j->stats.documents_unchanged = pg__int(r, 0, 2);
        j->stats.documents_deleted = pg__int(r, 0, 3);
        j->stats.checkpoint_puts = pg__int(r, 0, 4);
    }
    PQclear(r);
    return 0;
}

/* AVAILABLE -> IN_USE for job_id; CCF_ECONFLICT if IN_USE or paused. A
 * concurrent start waits on the row and then finds it IN_USE. */
static int claim_connector(struct pg__conn *c, const char *tk, const char *connector_id,
                           const char *job_id, const char *op)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, connector_id);
    pg__p_text(&p, tk);
    pg__p_text(&p, job_id);
    if ((rc = pg__run(c, PG__Q_JOB_CLAIM,
                      "UPDATE connectors SET status = 1, active_job_id = $3, "
                      "version = version + 1 "
                      "WHERE id = $1 AND tenant = $2 AND status = 0 AND paused = 0",
                      &p, &r, op)) < 0)
        return rc;
    rc = pg__changed(r) == 1;
    PQclear(r);
    if (rc)
        return 0;
    rc = pg__connector_status(c, tk, connector_id, op);
    return rc >= 0 ? CCF_ECONFLICT : rc;
}

/* A job id no row has. Ids come from a CSPRNG: a collision is rare, and
 * one with a concurrent start rarer still (its insert then fails). */
static int fresh_job_id(struct pg__conn *c, char id[CCF_JOB_ID_LEN + 1], const char *op)
{
    struct pg__params p;
    PGresult *r;
    int rc, taken;

    for (int i = 0; i < ID_TRIES; i++) {
        if ((rc = ccf_job_id_new(id)) < 0)
            return rc;
        memset(&p, 0, sizeof(p));
        pg__p_text(&p, id);
        if ((rc = pg__run(c, PG__Q_JOB_ID_TAKEN, "SELECT 1 FROM jobs WHERE id = $1", &p, &r, op)) <
            0)
            return rc;
        taken = PQntuples(r) > 0;
        PQclear(r);
        if (!taken)
            return 0;
        CCF_LOG_WARN("store.id_collision", CCF_KV_STR("job_id", id));
    }
    return CCF_EIO;
}

static int insert_job(struct pg__conn *c, const char *tk, const struct ccf_job *j, const char *op)
{
    struct pg__params p = {0};

    pg__p_text(&p, j->id);
    pg__p_text(&p, j->connector_id);
    pg__p_text(&p, tk);
    pg__p_int(&p, j->status);
    pg__p_text(&p, j->environment);
    pg__p_int(&p, j->created_at);
    pg__p_int(&p, j->trigger);
    return pg__run(c, PG__Q_JOB_INSERT,
                   "INSERT INTO jobs (id, connector_id, tenant, status, environment, "
                   "created_at, updated_at, trigger) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
                   &p, NULL, op);
}

struct start {
    const char *tk;
    struct ccf_job *j;
};

int pg__start_job(struct pg__conn *c, const char *tk, struct ccf_job *j, const char *op)
{
    int rc;

    j->created_at = j->updated_at = ccf_now_us();
    if ((rc = fresh_job_id(c, j->id, op)) < 0 ||
        (rc = claim_connector(c, tk, j->connector_id, j->id, op)) < 0 ||
        (rc = insert_job(c, tk, j, op)) < 0)
        return rc;
    return pg__change_insert(c, tk, j, -1, op);
}

static int start_tx(struct pg__conn *c, void *arg)
{
    const struct start *a = arg;

    return pg__start_job(c, a->tk, a->j, "start_job");
}

int store_pg__start_job(struct store *s, const struct ccf_tenant *t, struct ccf_job *j)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct start a = {.tk = tk, .j = j};

    store__tenant_key(t, tk);
    return pg__write(s, start_tx, &a, "start_job");
}

/* Reads the job into *out; lock: FOR UPDATE of the job's row. */
static int load_job(struct pg__conn *c, const char *tk, const char *connector_id,
                    const char *job_id, bool lock, struct ccf_job *out, const char *op)
{
    struct pg__params p = {0};
    struct ccf_job tmp;
    PGresult *r;
    int rc;

    pg__p_text(&p, job_id);
    pg__p_text(&p, connector_id);
    pg__p_text(&p, tk);
    rc = lock ? pg__run(c, PG__Q_JOB_GET_LOCK,
                        "SELECT " JOB_COLS " FROM " JOB_FROM
                        " WHERE j.id = $1 AND j.connector_id = $2 AND j.tenant = $3 "
                        "FOR UPDATE OF j",
                        &p, &r, op)
              : pg__run(c, PG__Q_JOB_GET,
                        "SELECT " JOB_COLS " FROM " JOB_FROM
                        " WHERE j.id = $1 AND j.connector_id = $2 AND j.tenant = $3",
                        &p, &r, op);
    if (rc < 0)
        return rc;
    if (PQntuples(r) != 1)
        rc = CCF_ENOTFOUND;
    else if ((rc = row_job(r, 0, &tmp)) == 0)
        *out = tmp;
    else
        ccf_job_clear(&tmp);
    PQclear(r);
    return rc;
}

int store_pg__get_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                      const char *job_id, struct ccf_job *out)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct pg__conn *c;
    int rc;

    store__tenant_key(t, tk);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = load_job(c, tk, connector_id, job_id, false, out, "get_job");
    pg__put(s, c);
    return rc;
}

static int visit_jobs(PGresult *r, size_t limit, store_job_fn visit, void *ctx, char **last)
{
    struct ccf_job item;
    int n = PQntuples(r), rc = 0;

    memset(&item, 0, sizeof(item));
    for (int i = 0; i < n; i++) {
        if ((size_t)i == limit) {
            *last = store__key_format(item.created_at, item.id);
            rc = *last ? 0 : CCF_EIO;
            break;
        }
        ccf_job_clear(&item);
        if ((rc = row_job(r, i, &item)) < 0 || (rc = visit(ctx, &item)) < 0)
            break;
    }
    ccf_job_clear(&item);
    return rc;
}

int store_pg__list_jobs(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                        const struct store__job_page *page, store_job_fn visit, void *ctx,
                        char **next)
{
    const char *op = "list_jobs";
    char tk[STORE__TENANT_KEY_MAX];
    struct pg__params q = {0};
    struct pg__conn *c;
    PGresult *r;
    char *last = NULL;
    int rc;

    store__tenant_key(t, tk);
    pg__p_text(&q, connector_id);
    pg__p_int(&q, page->k.after_at);
    pg__p_text(&q, page->k.after_id);
    pg__p_int(&q, (int64_t)page->k.limit + 1);
    pg__p_int(&q, page->mask);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    if ((rc = pg__connector_status(c, tk, connector_id, op)) >= 0)
        rc = pg__run(c, PG__Q_JOB_LIST,
                     "SELECT " JOB_COLS " FROM " JOB_FROM " WHERE j.connector_id = $1 "
                     "AND (j.created_at, j.id) < ($2, $3) "
                     "AND ($5::int & (1 << j.status)) <> 0 "
                     "ORDER BY j.created_at DESC, j.id DESC LIMIT $4",
                     &q, &r, op);
    pg__put(s, c);
    if (rc < 0)
        return rc;
    rc = visit_jobs(r, page->k.limit, visit, ctx, &last);
    PQclear(r);
    if (rc >= 0 && next)
        *next = last;
    else
        free(last);
    return rc < 0 ? rc : 0;
}

static int update_job(struct pg__conn *c, const struct ccf_job *j, const char *op)
{
    struct pg__params p = {0};

    pg__p_text(&p, j->id);
    pg__p_int(&p, j->status);
    pg__p_int(&p, j->updated_at);
    pg__p_time(&p, j->started_at);
    pg__p_time(&p, j->completed_at);
    if (j->has_exit_code)
        pg__p_int(&p, j->exit_code);
    else
        pg__p_text(&p, NULL);
    pg__p_text(&p, j->failure_reason);
    pg__p_text(&p, j->executor_id);
    pg__p_int(&p, j->attempt);
    pg__p_time(&p, j->next_attempt_at);
    pg__p_text(&p, j->attempts);
    pg__p_text(&p, j->spec);
    pg__p_text(&p, j->status_reason);
    return pg__run(c, PG__Q_JOB_UPDATE,
                   "UPDATE jobs SET status = $2, updated_at = $3, started_at = $4, "
                   "completed_at = $5, exit_code = $6, failure_reason = $7, "
                   "executor_id = $8, attempt = $9, next_attempt_at = $10, "
                   "attempts = $11, spec = $12, status_reason = $13 WHERE id = $1",
                   &p, NULL, op);
}

/* IN_USE -> AVAILABLE, only while the connector still runs this job. */
static int release_connector(struct pg__conn *c, const char *tk, const struct ccf_job *j,
                             const char *op)
{
    struct pg__params p = {0};

    pg__p_text(&p, j->connector_id);
    pg__p_text(&p, tk);
    pg__p_text(&p, j->id);
    return pg__run(c, PG__Q_JOB_RELEASE,
                   "UPDATE connectors SET status = 0, active_job_id = NULL, "
                   "version = version + 1 "
                   "WHERE id = $1 AND tenant = $2 AND active_job_id = $3",
                   &p, NULL, op);
}

struct transition {
    const char *tk, *connector_id, *job_id;
    const struct store_transition *tr;
    struct ccf_job *j;
};

/* 1 moved, 0 already there, or an error. */
static int transition_tx(struct pg__conn *c, void *arg)
{
    const struct transition *a = arg;
    const char *op = "transition_job";
    enum ccf_job_status from;
    int rc;

    if ((rc = load_job(c, a->tk, a->connector_id, a->job_id, true, a->j, op)) < 0)
        return rc;
    from = a->j->status;
    if (from == a->tr->to)
        return 0;
    /* Nothing leaves a terminal status, whatever from_mask says. */
    if (ccf_job_status_terminal(from) || !(a->tr->from_mask & (1u << from)))
        return CCF_ECONFLICT;
    store__apply_transition(a->j, a->tr, ccf_now_us());
    if ((rc = update_job(c, a->j, op)) < 0 ||
        (ccf_job_status_terminal(a->tr->to) && (rc = release_connector(c, a->tk, a->j, op)) < 0) ||
        (rc = pg__change_insert(c, a->tk, a->j, (int)from, op)) < 0)
        return rc;
    return 1;
}

int store_pg__transition_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                             const char *job_id, const struct store_transition *tr,
                             struct ccf_job *out)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct ccf_job j;
    struct transition a = {
        .tk = tk, .connector_id = connector_id, .job_id = job_id, .tr = tr, .j = &j};
    int rc;

    store__tenant_key(t, tk);
    memset(&j, 0, sizeof(j));
    rc = pg__write(s, transition_tx, &a, "transition_job");
    if (rc >= 0 && out) {
        *out = j;
        return rc;
    }
    ccf_job_clear(&j);
    return rc;
}

int store_pg__count_unfinished_jobs(struct store *s, int64_t out[CCF_JOB_STATUS_COUNT])
{
    struct pg__conn *c;
    PGresult *r;
    int rc;

    for (int i = 0; i < CCF_JOB_STATUS_COUNT; i++)
        out[i] = 0;
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = pg__run(c, PG__Q_JOBS_UNFINISHED,
                 "SELECT status, count(*) FROM jobs WHERE status IN (0, 1, 2) GROUP BY status",
                 NULL, &r, "count_unfinished_jobs");
    pg__put(s, c);
    if (rc < 0)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t status = pg__int(r, i, 0);

        if (status >= 0 && status < CCF_JOB_STATUS_COUNT)
            out[status] = pg__int(r, i, 1);
    }
    PQclear(r);
    return 0;
}

struct status_reason {
    const char *tk, *connector_id, *job_id, *reason;
};

static int status_reason_tx(struct pg__conn *c, void *arg)
{
    const struct status_reason *a = arg;
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, a->job_id);
    pg__p_text(&p, a->connector_id);
    pg__p_text(&p, a->tk);
    pg__p_text(&p, a->reason);
    pg__p_int(&p, ccf_now_us());
    pg__p_int(&p, CCF_JOB_STARTED);
    /* IS DISTINCT FROM: nothing written (updated_at kept) when the reason
     * is already this one, so a queue that does not move costs no write. */
    if ((rc = pg__run(c, PG__Q_JOB_STATUS_REASON,
                      "UPDATE jobs SET status_reason = $4, updated_at = $5 "
                      "WHERE id = $1 AND connector_id = $2 AND tenant = $3 AND status = $6 "
                      "AND status_reason IS DISTINCT FROM $4",
                      &p, &r, "set_job_status_reason")) < 0)
        return rc;
    rc = pg__changed(r) == 1;
    PQclear(r);
    return rc;
}

int store_pg__set_job_status_reason(struct store *s, const struct ccf_tenant *t,
                                    const char *connector_id, const char *job_id,
                                    const char *reason)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct status_reason a = {
        .tk = tk, .connector_id = connector_id, .job_id = job_id, .reason = reason};

    store__tenant_key(t, tk);
    return pg__write(s, status_reason_tx, &a, "set_job_status_reason");
}
