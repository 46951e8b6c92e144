/* schedules.c: the scheduler's side of the PostgreSQL backend: pause and
 * resume, the queue of due runs (the partial index connectors_by_next_run),
 * and the transaction that handles one due run: next_run_at moved on and,
 * unless skipped, a SCHEDULE job started, as SQLite's schedules.c. */
#include "store/postgres/pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/validate.h"

struct set_paused {
    const char *tk;
    const struct ccf_connector *c;
    int64_t expected_version;
};

static int set_paused_tx(struct pg__conn *conn, void *arg)
{
    const struct set_paused *a = arg;
    const char *op = "set_paused";
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, a->c->id);
    pg__p_text(&p, a->tk);
    pg__p_int(&p, a->c->paused ? 1 : 0);
    pg__p_time(&p, a->c->next_run_at);
    pg__p_int(&p, a->c->updated_at);
    pg__p_int(&p, a->expected_version);
    if ((rc = pg__run(conn, PG__Q_SCHED_PAUSE,
                      "UPDATE connectors SET paused = $3, next_run_at = $4, updated_at = $5, "
                      "version = version + 1 WHERE id = $1 AND tenant = $2 AND version = $6",
                      &p, &r, op)) < 0)
        return rc;
    rc = pg__changed(r) == 1;
    PQclear(r);
    if (!rc) {
        rc = pg__connector_status(conn, a->tk, a->c->id, op);
        return rc >= 0 ? CCF_ECONFLICT : rc;
    }
    return pg__event_connector(conn, a->tk, a->c->paused ? "connector.paused" : "connector.resumed",
                               a->c, a->c->updated_at, op);
}

int store_pg__set_paused(struct store *s, const struct ccf_tenant *t, const struct ccf_connector *c,
                         int64_t expected_version)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct set_paused a = {.tk = tk, .c = c, .expected_version = expected_version};

    store__tenant_key(t, tk);
    return pg__write(s, set_paused_tx, &a, "set_paused");
}

int store_pg__schedule_head(struct store *s, int64_t *out)
{
    struct pg__conn *c;
    PGresult *r;
    int rc;

    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    /* min() over an indexed column: one seek to the partial index's first entry. */
    rc = pg__run(c, PG__Q_SCHED_NEXT,
                 "SELECT min(next_run_at) FROM connectors WHERE next_run_at IS NOT NULL", NULL, &r,
                 "schedule_head");
    pg__put(s, c);
    if (rc < 0)
        return rc;
    *out = pg__int(r, 0, 0); /* NULL (none due ever) reads as 0 */
    PQclear(r);
    return 0;
}

/* Fills *d from row i of the due query; CCF_EIO for a row no write made. */
static int row_due(PGresult *r, int i, struct store_due *d)
{
    const char *tenant = pg__str(r, i, 1);

    memset(d, 0, sizeof(*d));
    if (pg__copy(r, i, 0, d->connector_id, sizeof(d->connector_id)) < 0 || !tenant ||
        store__tenant_parse(tenant, &d->tenant) < 0 || pg__null(r, i, 4)) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("connector_id", d->connector_id),
                      CCF_KV_STR("column", "schedule"));
        return CCF_EIO;
    }
    d->next_run_at = pg__int(r, i, 2);
    d->schedule_anchor = pg__int(r, i, 3);
    d->schedule = pg__dup(r, i, 4);
    return 0;
}

int store_pg__due_schedules(struct store *s, int64_t until, struct store_due *out, size_t max)
{
    struct pg__params p = {0};
    struct pg__conn *c;
    PGresult *r;
    int rc, n;

    pg__p_int(&p, until);
    pg__p_int(&p, (int64_t)max);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = pg__run(c, PG__Q_SCHED_DUE,
                 "SELECT id, tenant, next_run_at, schedule_anchor, schedule FROM connectors "
                 "WHERE next_run_at IS NOT NULL AND next_run_at <= $1 "
                 "ORDER BY next_run_at LIMIT $2",
                 &p, &r, "due_schedules");
    pg__put(s, c);
    if (rc < 0)
        return rc;
    n = PQntuples(r);
    for (int i = 0; i < n && (size_t)i < max; i++) {
        if ((rc = row_due(r, i, &out[i])) < 0) {
            store_due_clear(out, (size_t)i);
            PQclear(r);
            return rc;
        }
    }
    PQclear(r);
    return n;
}

struct fire {
    char tk[STORE__TENANT_KEY_MAX];
    const struct store_fire *f;
    struct ccf_job *job;
    bool started;
};

/* next_run_at due -> next, only if the connector is as the caller read it;
 * the version moves too, so that an update computed from an older read is
 * refused and merged again. */
static int advance(struct pg__conn *c, const char *tk, const struct store_fire *f, const char *op)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, f->connector_id);
    pg__p_text(&p, tk);
    pg__p_time(&p, f->next);
    pg__p_int(&p, f->due);
    pg__p_text(&p, f->schedule);
    if ((rc = pg__run(c, PG__Q_SCHED_ADVANCE,
                      "UPDATE connectors SET next_run_at = $3, version = version + 1 "
                      "WHERE id = $1 AND tenant = $2 AND next_run_at = $4 AND schedule = $5",
                      &p, &r, op)) < 0)
        return rc;
    rc = pg__changed(r) == 1;
    PQclear(r);
    if (rc)
        return 0;
    rc = pg__connector_status(c, tk, f->connector_id, op);
    return rc >= 0 ? CCF_ECONFLICT : rc;
}

/* {due_at, job_id?, reason?} */
static int fire_event(struct pg__conn *c, const struct fire *a, const char *type,
                      const char *reason)
{
    const char *job_id = a->started ? a->job->id : NULL;
    json_t *d = store__fire_data(a->f, job_id, reason);

    if (!d)
        return CCF_ENOMEM;
    return pg__event_insert(c, a->tk, type, a->f->connector_id, job_id, d, "fire_schedule");
}

static int fire_tx(struct pg__conn *c, void *arg)
{
    struct fire *a = arg;
    const char *op = "fire_schedule";
    int rc;

    a->started = false;
    if ((rc = advance(c, a->tk, a->f, op)) < 0)
        return rc;
    if (!a->f->start)
        return fire_event(c, a, "schedule.skipped", "not started: missed while ccfd was down");
    rc = pg__start_job(c, a->tk, a->job, op);
    if (rc == CCF_ECONFLICT) /* IN_USE or paused: skipped; next_run_at has moved on all the same */
        return fire_event(c, a, "schedule.skipped", "the connector is IN_USE");
    if (rc < 0)
        return rc;
    a->started = true;
    return fire_event(c, a, "schedule.fired", NULL);
}

int store_pg__fire_schedule(struct store *s, const struct store_fire *f, struct ccf_job *j)
{
    struct fire a = {.f = f, .job = j};
    int rc;

    store__tenant_key(f->tenant, a.tk);
    if ((rc = pg__write(s, fire_tx, &a, "fire_schedule")) < 0)
        return rc;
    return a.started;
}
