/* events.c: the tenant's event stream of the SQLite backend. Events are rows
 * of the job-change outbox (job_changes) with a type and a detail: job rows
 * as the orchestrator reads them, plus rows of other kinds (connector,
 * schedule, checkpoint) that it skips (new_status -1). One log, written in
 * the transaction of the change it describes, read per tenant in seq order,
 * which is commit order: SQLite has one writer at a time. */
#include "store/sqlite/sqlite_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/validate.h"

#define PRUNED_KEY "events_pruned_upto"

/* How rows written before types were stored read: store__job_event_type's
 * rule, in SQL. */
#define TYPE_SQL                                                                                   \
    "COALESCE(type, CASE WHEN old_status < 0 THEN 'job.started' WHEN new_status = 0 "              \
    "THEN 'job.retrying' WHEN new_status = 1 THEN 'job.running' WHEN new_status = 2 "              \
    "THEN 'job.stopping' WHEN new_status = 3 THEN 'job.succeeded' WHEN new_status = 4 "            \
    "THEN 'job.failed' ELSE 'job.stopped' END)"

static int insert_row(struct store__conn *c, const char *tk, const char *connector_id,
                      const char *job_id, int old_status, int new_status, int64_t at,
                      const char *type, const char *detail, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_CHANGE_INSERT,
                          "INSERT INTO job_changes (tenant, connector_id, job_id, old_status, "
                          "new_status, at, type, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, tk, &b);
    store__bind_text(st, 2, connector_id, &b);
    store__bind_text(st, 3, job_id ? job_id : "", &b);
    store__bind_int(st, 4, old_status, &b);
    store__bind_int(st, 5, new_status, &b);
    store__bind_int(st, 6, at, &b);
    store__bind_text(st, 7, type, &b);
    store__bind_text(st, 8, detail, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    if ((rc = store__step_done(c, st, op)) == 0)
        c->events_pending = true;
    return rc;
}

/* Dumps detail (the reference is taken) and writes the row. */
static int insert_json(struct store__conn *c, const char *tk, const char *connector_id,
                       const char *job_id, int old_status, int new_status, int64_t at,
                       const char *type, json_t *detail, const char *op)
{
    char *text;
    int rc;

#ifdef CCF_BENCH_NO_EVENTS
    /* bench/events_cost.py's "before events" build: job rows as they were
     * written before migration 7 (no type, no detail), no other events. */
    json_decref(detail);
    return new_status < 0 ? 0
                          : insert_row(c, tk, connector_id, job_id, old_status, new_status, at,
                                       NULL, NULL, op);
#endif
    text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;

    json_decref(detail);
    if (!text) {
        CCF_LOG_ERROR("store.event_encode_failed", CCF_KV_STR("type", type));
        return CCF_EIO;
    }
    rc = insert_row(c, tk, connector_id, job_id, old_status, new_status, at, type, text, op);
    free(text);
    return rc;
}

int store__change_insert(struct store__conn *c, const char *tk, const struct ccf_job *j,
                         int old_status, const char *op)
{
    int rc = insert_json(c, tk, j->connector_id, j->id, old_status, (int)j->status, j->updated_at,
                         store__job_event_type(old_status, j->status), ccf_job_json(j), op);

    if (rc == 0)
        c->changes_pending = true;
    return rc;
}

int store__event_connector(struct store__conn *c, const char *tk, const char *type,
                           const struct ccf_connector *conn, int64_t at, const char *op)
{
    struct ccf_tenant t;

    if (store__tenant_parse(tk, &t) < 0)
        return CCF_EIO;
    /* The orchestrator reads these too (store_read_connector_changes). */
    if (strcmp(type, "connector.created") == 0 || strcmp(type, "connector.updated") == 0)
        c->changes_pending = true;
    return insert_json(c, tk, conn->id, NULL, -1, -1, at, type,
                       ccf_connector_summary_json(&t, conn), op);
}

int store__event_insert(struct store__conn *c, const char *tk, const char *type,
                        const char *connector_id, const char *job_id, json_t *detail,
                        const char *op)
{
    return insert_json(c, tk, connector_id, job_id, -1, -1, ccf_now_us(), type, detail, op);
}

/* The highest seq pruned so far (0: none). */
static int pruned_upto(struct store__conn *c, int64_t *out, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = store__stmt(c, STORE__Q_EVENT_PRUNED,
                          "SELECT value FROM meta WHERE key = '" PRUNED_KEY "'", &st, op)) < 0)
        return rc;
    return (rc = store__step_int64(c, st, 0, out, op)) < 0 ? rc : 0;
}

/* The tenant's last seq (0: none yet). */
static int tenant_last(struct store__conn *c, const char *tk, int64_t *out, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_EVENT_LAST,
                          "SELECT max(seq) FROM job_changes WHERE tenant = ?1", &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, tk, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        rc = store__fail(c, rc, "store.step_failed", op);
        goto out;
    }
    *out = sqlite3_column_int64(st, 0); /* NULL reads as 0 */
    rc = 0;
out:
    store__reset(st);
    return rc;
}

static int row_event(sqlite3_stmt *st, struct store_event *e)
{
    const char *type = (const char *)sqlite3_column_text(st, 2);
    const char *detail = (const char *)sqlite3_column_text(st, 5);

    memset(e, 0, sizeof(*e));
    e->seq = sqlite3_column_int64(st, 0);
    e->at = sqlite3_column_int64(st, 1);
    if (!type || strlen(type) >= sizeof(e->type) ||
        store__col_copy(st, 3, e->connector_id, sizeof(e->connector_id)) < 0 ||
        store__col_copy(st, 4, e->job_id, sizeof(e->job_id)) < 0) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("table", "job_changes"),
                      CCF_KV_INT("seq", e->seq));
        return CCF_EIO;
    }
    memcpy(e->type, type, strlen(type) + 1);
    /* Rows written before events had details: an empty one. */
    e->detail = ccf_xstrdup(detail ? detail : "{}");
    return 0;
}

static int read_rows(struct store__conn *c, const char *tk, const struct store_event_query *q,
                     int64_t upto, struct store_event *out, size_t *n, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK, step = SQLITE_DONE;

    if ((rc = store__stmt(c, STORE__Q_EVENT_READ,
                          "SELECT seq, at, " TYPE_SQL ", connector_id, job_id, detail "
                          "FROM job_changes WHERE tenant = ?1 AND seq > ?2 AND seq <= ?3 "
                          "AND (?4 IS NULL OR connector_id = ?4) "
                          "AND (?5 IS NULL OR instr(?5, ',' || " TYPE_SQL " || ',') > 0) "
                          "ORDER BY seq LIMIT ?6",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, tk, &b);
    store__bind_int(st, 2, q->after, &b);
    store__bind_int(st, 3, upto, &b);
    store__bind_text(st, 4, q->connector_id, &b);
    store__bind_text(st, 5, q->types, &b);
    store__bind_int(st, 6, (int64_t)q->max, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    while (*n < q->max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = row_event(st, &out[*n])) < 0)
            goto out;
        (*n)++;
    }
    rc = step == SQLITE_DONE || step == SQLITE_ROW ? 0
                                                   : store__fail(c, step, "store.step_failed", op);
out:
    store__reset(st);
    return rc;
}

int store_sqlite__read_events(struct store *s, const struct ccf_tenant *t,
                              const struct store_event_query *q, struct store_event *out,
                              int64_t *next)
{
    const char *op = "read_events";
    char tk[STORE__TENANT_KEY_MAX];
    struct store__conn *c;
    int64_t pruned = 0, last = 0, after = q->after;
    struct store_event_query qq = *q;
    size_t n = 0;
    int rc;

    if (q->max == 0 || q->max > INT_MAX || !out || after < -1)
        return CCF_EINVAL;
    store__tenant_key(t, tk);
    if ((rc = store__conn(s, &c)) < 0 || (rc = pruned_upto(c, &pruned, op)) < 0)
        return rc;
    if (after >= 0 && after < pruned)
        return CCF_EEXPIRED;
    qq.after = after < pruned ? pruned : after;
    /* The tenant's end first: rows committed after it are for the next call,
     * so that next never skips one (seq order is commit order). */
    if ((rc = tenant_last(c, tk, &last, op)) < 0 ||
        (rc = read_rows(c, tk, &qq, last, out, &n, op)) < 0) {
        store_events_clear(out, n);
        return rc;
    }
    *next = n == q->max ? out[n - 1].seq : (last > qq.after ? last : qq.after);
    return (int)n;
}

struct prune {
    int64_t upto, before;
    int64_t cut;
};

static int exec_int(struct store__conn *c, enum store__q q, const char *sql, int64_t v,
                    int64_t *out, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, q, sql, &st, op)) < 0)
        return rc;
    store__bind_int(st, 1, v, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && out) {
        *out = sqlite3_column_int64(st, 0);
        rc = 0;
    } else if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
        rc = 0;
    } else {
        rc = store__fail(c, rc, "store.step_failed", op);
    }
out:
    store__reset(st);
    return rc;
}

static int exec2(struct store__conn *c, enum store__q q, const char *sql, int64_t v1, int64_t v2,
                 const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, q, sql, &st, op)) < 0)
        return rc;
    store__bind_int(st, 1, v1, &b);
    store__bind_int(st, 2, v2, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    return store__step_done(c, st, op);
}

/* A job row the orchestrator has not acked stays, whatever its age: it is
 * still work to do; and the expiry mark stays below it, so that no reader
 * is told it missed a row still there. The newest row is blanked instead
 * of deleted (a placeholder no tenant and no orchestrator reads): the next
 * seq is max(seq) + 1 (no AUTOINCREMENT since migration 10) and must never
 * go back. Returns the rows deleted or blanked. */
static int delete_upto(struct store__conn *c, int64_t cut, int64_t acked, int64_t *gone,
                       const char *op)
{
    int rc;

    if ((rc = exec2(c, STORE__Q_CHANGE_BLANK,
                    "UPDATE job_changes SET tenant = '', connector_id = '', job_id = '', "
                    "new_status = -1, type = '', detail = NULL WHERE seq <= ?1 "
                    "AND seq = (SELECT max(seq) FROM job_changes) AND tenant != '' "
                    "AND (new_status < 0 OR seq <= ?2)",
                    cut, acked, op)) < 0)
        return rc;
    *gone = store__changes(c);
    if ((rc = exec2(c, STORE__Q_CHANGE_PRUNE,
                    "DELETE FROM job_changes WHERE seq <= ?1 "
                    "AND seq < (SELECT max(seq) FROM job_changes) "
                    "AND (new_status < 0 OR seq <= ?2)",
                    cut, acked, op)) < 0)
        return rc;
    *gone += store__changes(c);
    return 0;
}

/* Rows are cut at the first one still young (at is close to seq order), and
 * the job rows never past what the orchestrator has acked. */
static int prune_tx(struct store__conn *c, void *arg)
{
    struct prune *a = arg;
    const char *op = "prune_changes";
    int64_t first_young = -1, mark = 0, gone = 0;
    int rc;

    if ((rc = exec_int(c, STORE__Q_EVENT_YOUNG,
                       "SELECT COALESCE((SELECT seq FROM job_changes WHERE at >= ?1 "
                       "ORDER BY seq LIMIT 1), (SELECT max(seq) + 1 FROM job_changes), 0)",
                       a->before, &first_young, op)) < 0)
        return rc;
    a->cut = first_young - 1;
    if (a->cut <= 0)
        return 0;
    if ((rc = delete_upto(c, a->cut, a->upto, &gone, op)) < 0 || gone == 0)
        return rc;
    if ((rc = store__webhook_prune(c, a->cut, op)) < 0)
        return rc;
    /* The mark: just below the first row left, if one was kept. */
    if ((rc = exec_int(c, STORE__Q_EVENT_KEPT,
                       "SELECT COALESCE(min(seq) - 1, ?1) FROM job_changes "
                       "WHERE seq <= ?1 AND tenant != ''",
                       a->cut, &mark, op)) < 0)
        return rc;
    return exec_int(c, STORE__Q_EVENT_MARK,
                    "INSERT INTO meta (key, value) VALUES ('" PRUNED_KEY "', ?1) "
                    "ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
                    mark, NULL, op);
}

int store_sqlite__prune_changes(struct store *s, int64_t upto, int64_t before)
{
    struct prune a = {.upto = upto, .before = before};

    return store__write(s, prune_tx, &a, "prune_changes");
}
