/* schedules.c: the scheduler's side of the SQLite backend: pause and
 * resume, the queue of due runs (the partial index connectors_by_next_run,
 * ordered by next_run_at), and the transaction that handles one due run:
 * next_run_at moved on and, unless skipped, a SCHEDULE job started. */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/validate.h"

struct set_paused {
    const char *tk;
    const struct ccf_connector *c;
    int64_t expected_version;
};

static int set_paused_tx(struct store__conn *conn, void *arg)
{
    const struct set_paused *a = arg;
    const char *op = "set_paused";
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(conn, STORE__Q_SCHED_PAUSE,
                          "UPDATE connectors SET paused = ?3, next_run_at = ?4, updated_at = ?5, "
                          "version = version + 1 WHERE id = ?1 AND tenant = ?2 AND version = ?6",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, a->c->id, &b);
    store__bind_text(st, 2, a->tk, &b);
    store__bind_int(st, 3, a->c->paused ? 1 : 0, &b);
    store__bind_time(st, 4, a->c->next_run_at, &b);
    store__bind_int(st, 5, a->c->updated_at, &b);
    store__bind_int(st, 6, a->expected_version, &b);
    if ((rc = store__bind_check(conn, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    if ((rc = store__step_done(conn, st, op)) < 0)
        return rc;
    if (store__changes(conn) == 0) {
        rc = store__connector_status(conn, a->tk, a->c->id, op);
        return rc >= 0 ? CCF_ECONFLICT : rc;
    }
    return store__event_connector(conn, a->tk,
                                  a->c->paused ? "connector.paused" : "connector.resumed", a->c,
                                  a->c->updated_at, op);
}

int store_sqlite__set_paused(struct store *s, const struct ccf_tenant *t,
                             const struct ccf_connector *c, int64_t expected_version)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct set_paused a = {.tk = tk, .c = c, .expected_version = expected_version};

    store__tenant_key(t, tk);
    return store__write(s, set_paused_tx, &a, "set_paused");
}

int store_sqlite__schedule_head(struct store *s, int64_t *out)
{
    const char *op = "schedule_head";
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    int rc;

    /* min() over an indexed column is one seek to the index's first entry. */
    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(c, STORE__Q_SCHED_NEXT,
                          "SELECT min(next_run_at) FROM connectors WHERE next_run_at IS NOT NULL",
                          &st, op)) < 0)
        return rc;
    /* min() always yields a row; NULL (no row matched) reads as 0. */
    return (rc = store__step_int64(c, st, 0, out, op)) < 0 ? rc : 0;
}

/* Fills *d from a row of the due query; CCF_EIO for a row no write made. */
static int row_due(sqlite3_stmt *st, struct store_due *d)
{
    memset(d, 0, sizeof(*d));
    if (store__col_copy(st, 0, d->connector_id, sizeof(d->connector_id)) < 0 ||
        store__tenant_parse((const char *)sqlite3_column_text(st, 1), &d->tenant) < 0 ||
        sqlite3_column_type(st, 4) == SQLITE_NULL) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("connector_id", d->connector_id),
                      CCF_KV_STR("column", "schedule"));
        return CCF_EIO;
    }
    d->next_run_at = sqlite3_column_int64(st, 2);
    d->schedule_anchor = sqlite3_column_int64(st, 3);
    d->schedule = store__col_dup(st, 4);
    return 0;
}

int store_sqlite__due_schedules(struct store *s, int64_t until, struct store_due *out, size_t max)
{
    const char *op = "due_schedules";
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    int rc, b = SQLITE_OK;

    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(c, STORE__Q_SCHED_DUE,
                          "SELECT id, tenant, next_run_at, schedule_anchor, schedule "
                          "FROM connectors WHERE next_run_at IS NOT NULL AND next_run_at <= ?1 "
                          "ORDER BY next_run_at LIMIT ?2",
                          &st, op)) < 0)
        return rc;
    store__bind_int(st, 1, until, &b);
    store__bind_int(st, 2, (int64_t)max, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = row_due(st, &out[n])) < 0)
            goto out;
        n++;
    }
    rc = n == max || rc == SQLITE_DONE ? (int)n : store__fail(c, rc, "store.step_failed", op);
out:
    if (rc < 0)
        store_due_clear(out, n);
    store__reset(st);
    return rc;
}

struct fire {
    char tk[STORE__TENANT_KEY_MAX];
    const struct store_fire *f;
    struct ccf_job *job;
    bool started;
};

/* next_run_at due -> next, only if the connector is as the caller read it.
 * The version moves too, so that an update computed from an older read
 * (and its next_run_at) is refused and merged again. */
static int advance(struct store__conn *c, const char *tk, const struct store_fire *f,
                   const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_SCHED_ADVANCE,
                          "UPDATE connectors SET next_run_at = ?3, version = version + 1 "
                          "WHERE id = ?1 AND tenant = ?2 AND next_run_at = ?4 AND schedule = ?5",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, f->connector_id, &b);
    store__bind_text(st, 2, tk, &b);
    store__bind_time(st, 3, f->next, &b);
    store__bind_int(st, 4, f->due, &b);
    store__bind_text(st, 5, f->schedule, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    if ((rc = store__step_done(c, st, op)) < 0)
        return rc;
    if (store__changes(c) == 0) {
        rc = store__connector_status(c, tk, f->connector_id, op);
        return rc >= 0 ? CCF_ECONFLICT : rc;
    }
    return 0;
}

/* {due_at, job_id?, reason?} */
static int fire_event(struct store__conn *c, const struct fire *a, const char *type,
                      const char *reason)
{
    const char *job_id = a->started ? a->job->id : NULL;
    json_t *d = store__fire_data(a->f, job_id, reason);

    if (!d)
        return CCF_ENOMEM;
    return store__event_insert(c, a->tk, type, a->f->connector_id, job_id, d, "fire_schedule");
}

static int fire_tx(struct store__conn *c, void *arg)
{
    struct fire *a = arg;
    const char *op = "fire_schedule";
    int rc;

    a->started = false;
    if ((rc = advance(c, a->tk, a->f, op)) < 0)
        return rc;
    if (!a->f->start)
        return fire_event(c, a, "schedule.skipped", "not started: missed while ccfd was down");
    rc = store__start_job(c, a->tk, a->job, op);
    if (rc == CCF_ECONFLICT) /* IN_USE or paused: skipped; next_run_at has moved on all the same */
        return fire_event(c, a, "schedule.skipped", "the connector is IN_USE");
    if (rc < 0)
        return rc;
    a->started = true;
    return fire_event(c, a, "schedule.fired", NULL);
}

int store_sqlite__fire_schedule(struct store *s, const struct store_fire *f, struct ccf_job *j)
{
    struct fire a = {.f = f, .job = j};
    int rc;

    store__tenant_key(f->tenant, a.tk);
    if ((rc = store__write(s, fire_tx, &a, "fire_schedule")) < 0)
        return rc;
    return a.started;
}
