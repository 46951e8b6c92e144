/* changes.c: the PostgreSQL backend's transactional outbox (job_changes):
 * the rows every change writes in its own transaction (the orchestrator's
 * job changes and the tenant's events), read in seq order, the consumers'
 * cursors, and the jobs recovery looks at.
 *
 * seq order must be commit order, or a reader that saw seq 11 commit
 * before seq 10 would move its cursor past 10 and never see it. SQLite has
 * one writer at a time; here every writer of the outbox first takes one
 * transaction-level advisory lock, held until its commit, and only then
 * draws its seq: writes that make events are serialized at that point (the
 * rest of their transaction runs concurrently). */
#include "store/postgres/pg_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/validate.h"

/* pg_advisory_xact_lock's key for the outbox: "ccf" and 2. */
#define OUTBOX_LOCK "6513922"
#define PRUNED_KEY  "events_pruned_upto"

int pg__outbox_lock(struct pg__conn *c, const char *op)
{
    return pg__run(c, PG__Q_OUTBOX_LOCK, "SELECT pg_advisory_xact_lock(" OUTBOX_LOCK ")", NULL,
                   NULL, op);
}

static int insert_row(struct pg__conn *c, const char *tk, const char *connector_id,
                      const char *job_id, int old_status, int new_status, int64_t at,
                      const char *type, const char *detail, const char *op)
{
    struct pg__params p = {0};
    int rc;

    if ((rc = pg__outbox_lock(c, op)) < 0)
        return rc;
    pg__p_text(&p, tk);
    pg__p_text(&p, connector_id);
    pg__p_text(&p, job_id ? job_id : "");
    pg__p_int(&p, old_status);
    pg__p_int(&p, new_status);
    pg__p_int(&p, at);
    pg__p_text(&p, type);
    pg__p_text(&p, detail);
    if ((rc = pg__run(c, PG__Q_CHANGE_INSERT,
                      "INSERT INTO job_changes (tenant, connector_id, job_id, old_status, "
                      "new_status, at, type, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                      &p, NULL, op)) < 0)
        return rc;
    /* Once per transaction: delivered to the leader (leader.c) at commit,
     * so that a write on any replica wakes its orchestrator and scheduler. */
    if (!c->events_pending && (rc = pg__exec(c, "NOTIFY " PG__CHANNEL, op)) < 0)
        return rc;
    c->events_pending = true;
    return 0;
}

/* Dumps detail (the reference is taken) and writes the row. */
static int insert_json(struct pg__conn *c, const char *tk, const char *connector_id,
                       const char *job_id, int old_status, int new_status, int64_t at,
                       const char *type, json_t *detail, const char *op)
{
    char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    int rc;

    json_decref(detail);
    if (!text) {
        CCF_LOG_ERROR("store.event_encode_failed", CCF_KV_STR("type", type));
        return CCF_EIO;
    }
    rc = insert_row(c, tk, connector_id, job_id, old_status, new_status, at, type, text, op);
    free(text);
    return rc;
}

int pg__change_insert(struct pg__conn *c, const char *tk, const struct ccf_job *j, int old_status,
                      const char *op)
{
    int rc = insert_json(c, tk, j->connector_id, j->id, old_status, (int)j->status, j->updated_at,
                         store__job_event_type(old_status, j->status), ccf_job_json(j), op);

    if (rc == 0)
        c->changes_pending = true;
    return rc;
}

int pg__event_connector(struct pg__conn *c, const char *tk, const char *type,
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

int pg__event_insert(struct pg__conn *c, const char *tk, const char *type, const char *connector_id,
                     const char *job_id, json_t *detail, const char *op)
{
    return insert_json(c, tk, connector_id, job_id, -1, -1, ccf_now_us(), type, detail, op);
}

static int row_change(PGresult *r, int i, struct store_change *out)
{
    const char *tenant = pg__str(r, i, 1);
    int64_t old_status = pg__int(r, i, 4), new_status = pg__int(r, i, 5);

    memset(out, 0, sizeof(*out));
    out->seq = pg__int(r, i, 0);
    if (!tenant || store__tenant_parse(tenant, &out->tenant) < 0 ||
        pg__copy(r, i, 2, out->connector_id, sizeof(out->connector_id)) < 0 ||
        pg__copy(r, i, 3, out->job_id, sizeof(out->job_id)) < 0 || old_status < -1 ||
        old_status >= CCF_JOB_STATUS_COUNT || new_status < 0 ||
        new_status >= CCF_JOB_STATUS_COUNT) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("table", "job_changes"),
                      CCF_KV_INT("seq", out->seq));
        return CCF_EIO;
    }
    out->old_status = (int)old_status;
    out->new_status = (enum ccf_job_status)new_status;
    out->at = pg__int(r, i, 6);
    return 0;
}

int store_pg__read_changes(struct store *s, int64_t after_seq, struct store_change *out, size_t max)
{
    const char *op = "read_changes";
    struct pg__params p = {0};
    struct pg__conn *c;
    PGresult *r;
    int rc, n;

    if (max == 0)
        return 0;
    if (!out)
        return CCF_EINVAL;
    if (max > INT_MAX) /* the count is returned as an int */
        max = INT_MAX;
    pg__p_int(&p, after_seq);
    pg__p_int(&p, (int64_t)max);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = pg__run(c, PG__Q_CHANGE_READ,
                 "SELECT seq, tenant, connector_id, job_id, old_status, new_status, at "
                 "FROM job_changes WHERE seq > $1 AND new_status >= 0 ORDER BY seq LIMIT $2",
                 &p, &r, op);
    pg__put(s, c);
    if (rc < 0)
        return rc;
    n = PQntuples(r);
    for (int i = 0; i < n && rc == 0; i++)
        rc = row_change(r, i, &out[i]);
    PQclear(r);
    return rc < 0 ? rc : n;
}

/* The end first, then the rows up to it (as the SQLite backend). */
int store_pg__read_connector_changes(struct store *s, int64_t after_seq,
                                     struct store_connector_change *out, size_t max, int64_t *upto)
{
    const char *op = "read_connector_changes";
    struct pg__params p = {0}, none = {0};
    struct pg__conn *c;
    PGresult *r;
    int64_t end;
    int rc, n;

    if (max == 0 || !out)
        return max == 0 ? 0 : CCF_EINVAL;
    if (max > INT_MAX)
        max = INT_MAX;
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = pg__run(c, PG__Q_CHANGE_END, "SELECT coalesce(max(seq), 0) FROM job_changes", &none, &r,
                 op);
    if (rc < 0) {
        pg__put(s, c);
        return rc;
    }
    end = pg__int(r, 0, 0);
    PQclear(r);
    pg__p_int(&p, after_seq);
    pg__p_int(&p, end);
    pg__p_int(&p, (int64_t)max);
    rc = pg__run(c, PG__Q_CONNECTOR_CHANGE_READ,
                 "SELECT seq, tenant, connector_id FROM job_changes WHERE seq > $1 AND seq <= $2 "
                 "AND type IN ('connector.created', 'connector.updated') ORDER BY seq LIMIT $3",
                 &p, &r, op);
    pg__put(s, c);
    if (rc < 0)
        return rc;
    n = PQntuples(r);
    for (int i = 0; i < n && rc == 0; i++) {
        const char *tenant = pg__str(r, i, 1);
        memset(&out[i], 0, sizeof(out[i]));
        out[i].seq = pg__int(r, i, 0);
        if (!tenant || store__tenant_parse(tenant, &out[i].tenant) < 0 ||
            pg__copy(r, i, 2, out[i].connector_id, sizeof(out[i].connector_id)) < 0) {
            CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("table", "job_changes"),
                          CCF_KV_INT("seq", out[i].seq));
            rc = CCF_EIO;
        }
    }
    PQclear(r);
    if (rc == 0)
        *upto = (size_t)n == max ? out[n - 1].seq : (end > after_seq ? end : after_seq);
    return rc < 0 ? rc : n;
}

int store_pg__cursor_get(struct store *s, const char *consumer, int64_t *seq)
{
    struct pg__params p = {0};
    struct pg__conn *c;
    PGresult *r;
    int rc;

    if (!consumer || !*consumer)
        return CCF_EINVAL;
    pg__p_text(&p, consumer);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = pg__run(c, PG__Q_CURSOR_GET, "SELECT seq FROM stream_cursors WHERE consumer = $1", &p, &r,
                 "cursor_get");
    pg__put(s, c);
    if (rc < 0)
        return rc;
    *seq = PQntuples(r) == 1 ? pg__int(r, 0, 0) : 0; /* no row: before the first ack */
    PQclear(r);
    return 0;
}

int store_pg__cursor_set(struct store *s, const char *consumer, int64_t seq)
{
    struct pg__params p = {0};
    struct pg__conn *c;
    int rc;

    if (!consumer || !*consumer || seq < 0)
        return CCF_EINVAL;
    pg__p_text(&p, consumer);
    pg__p_int(&p, seq);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = pg__run(c, PG__Q_CURSOR_SET,
                 "INSERT INTO stream_cursors (consumer, seq) VALUES ($1, $2) "
                 "ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq",
                 &p, NULL, "cursor_set");
    pg__put(s, c);
    return rc;
}

/* Columns: tenant, connector_id, id, status. */
int pg__row_ref(PGresult *r, int i, struct store_job_ref *ref)
{
    const char *tenant = pg__str(r, i, 0);
    int64_t status = pg__int(r, i, 3);

    memset(ref, 0, sizeof(*ref));
    if (!tenant || store__tenant_parse(tenant, &ref->tenant) < 0 ||
        pg__copy(r, i, 1, ref->connector_id, sizeof(ref->connector_id)) < 0 ||
        pg__copy(r, i, 2, ref->job_id, sizeof(ref->job_id)) < 0 || status < 0 ||
        status >= CCF_JOB_STATUS_COUNT) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("table", "jobs"));
        return CCF_EIO;
    }
    ref->status = (enum ccf_job_status)status;
    /* The runner, where the query has it (replicas.c). */
    if (PQnfields(r) > 4 && pg__copy(r, i, 4, ref->runner, sizeof(ref->runner)) < 0)
        return CCF_EIO;
    return 0;
}

int store_pg__unfinished_jobs(struct store *s, struct store_job_ref **out, size_t *n)
{
    struct store_job_ref *refs = NULL;
    struct pg__conn *c;
    PGresult *r;
    int rc, rows;

    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = pg__run(c, PG__Q_JOB_UNFINISHED,
                 "SELECT tenant, connector_id, id, status FROM jobs WHERE status IN (0, 1, 2) "
                 "ORDER BY created_at, id",
                 NULL, &r, "unfinished_jobs");
    pg__put(s, c);
    if (rc < 0)
        return rc;
    rows = PQntuples(r);
    if (rows > 0)
        refs = ccf_xcalloc((size_t)rows, sizeof(*refs));
    for (int i = 0; i < rows && rc == 0; i++)
        rc = pg__row_ref(r, i, &refs[i]);
    PQclear(r);
    if (rc < 0) {
        free(refs);
        return rc;
    }
    *out = refs;
    *n = (size_t)rows;
    return 0;
}

static int row_event(PGresult *r, int i, struct store_event *e)
{
    const char *type = pg__str(r, i, 2);

    memset(e, 0, sizeof(*e));
    e->seq = pg__int(r, i, 0);
    e->at = pg__int(r, i, 1);
    if (!type || strlen(type) >= sizeof(e->type) ||
        pg__copy(r, i, 3, e->connector_id, sizeof(e->connector_id)) < 0 ||
        pg__copy(r, i, 4, e->job_id, sizeof(e->job_id)) < 0) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("table", "job_changes"),
                      CCF_KV_INT("seq", e->seq));
        return CCF_EIO;
    }
    memcpy(e->type, type, strlen(type) + 1);
    e->detail = pg__dup(r, i, 5);
    if (!e->detail)
        e->detail = ccf_xstrdup("{}");
    return 0;
}

/* The highest seq pruned so far (0: none) and the tenant's last seq (0:
 * none yet), in one round trip. */
static int bounds(struct pg__conn *c, const char *tk, int64_t *pruned, int64_t *last,
                  const char *op)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, tk);
    if ((rc = pg__run(c, PG__Q_EVENT_LAST,
                      "SELECT COALESCE((SELECT convert_from(value, 'UTF8')::bigint FROM meta "
                      "WHERE key = '" PRUNED_KEY "'), 0), "
                      "COALESCE((SELECT max(seq) FROM job_changes WHERE tenant = $1), 0)",
                      &p, &r, op)) < 0)
        return rc;
    *pruned = pg__int(r, 0, 0);
    *last = pg__int(r, 0, 1);
    PQclear(r);
    return 0;
}

static int read_rows(struct pg__conn *c, const char *tk, const struct store_event_query *q,
                     int64_t upto, struct store_event *out, size_t *n, const char *op)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc, rows;

    pg__p_text(&p, tk);
    pg__p_int(&p, q->after);
    pg__p_int(&p, upto);
    pg__p_text(&p, q->connector_id);
    pg__p_text(&p, q->types);
    pg__p_int(&p, (int64_t)q->max);
    if ((rc = pg__run(c, PG__Q_EVENT_READ,
                      "SELECT seq, at, type, connector_id, job_id, detail FROM job_changes "
                      "WHERE tenant = $1 AND seq > $2 AND seq <= $3 "
                      "AND ($4::text IS NULL OR connector_id = $4) "
                      "AND ($5::text IS NULL OR strpos($5, ',' || type || ',') > 0) "
                      "ORDER BY seq LIMIT $6",
                      &p, &r, op)) < 0)
        return rc;
    rows = PQntuples(r);
    for (int i = 0; i < rows && (size_t)i < q->max && rc == 0; i++) {
        if ((rc = row_event(r, i, &out[i])) == 0)
            (*n)++;
    }
    PQclear(r);
    return rc;
}

int store_pg__read_events(struct store *s, const struct ccf_tenant *t,
                          const struct store_event_query *q, struct store_event *out, int64_t *next)
{
    const char *op = "read_events";
    char tk[STORE__TENANT_KEY_MAX];
    struct store_event_query qq = *q;
    struct pg__conn *c;
    int64_t pruned = 0, last = 0, after = q->after;
    size_t n = 0;
    int rc;

    if (q->max == 0 || q->max > INT_MAX || !out || after < -1)
        return CCF_EINVAL;
    store__tenant_key(t, tk);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    /* The tenant's end first: rows committed after it are for the next
     * call, so that next never skips one (seq order is commit order). */
    if ((rc = bounds(c, tk, &pruned, &last, op)) < 0)
        goto out;
    if (after >= 0 && after < pruned) {
        rc = CCF_EEXPIRED;
        goto out;
    }
    qq.after = after < pruned ? pruned : after;
    if ((rc = read_rows(c, tk, &qq, last, out, &n, op)) < 0) {
        store_events_clear(out, n);
        goto out;
    }
    *next = n == q->max ? out[n - 1].seq : (last > qq.after ? last : qq.after);
    rc = (int)n;
out:
    pg__put(s, c);
    return rc;
}

/* Up to max ended jobs completed before `before`, oldest first, deleted
 * in one statement (their documents' last_job, stats and change rows are
 * not theirs to keep: the foreign keys cascade to stats). */
struct purge {
    int64_t before;
    struct store_job_ref *out;
    size_t max, n;
};

static int purge_tx(struct pg__conn *c, void *arg)
{
    struct purge *a = arg;
    struct pg__params p = {0};
    PGresult *r;
    int rc, rows;

    pg__p_int(&p, a->before);
    pg__p_int(&p, (int64_t)a->max);
    if ((rc = pg__run(c, PG__Q_JOB_PURGE,
                      "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs "
                      "WHERE status IN (3, 4, 5) AND completed_at < $1 "
                      "ORDER BY completed_at, id LIMIT $2 FOR UPDATE) "
                      "RETURNING tenant, connector_id, id, status",
                      &p, &r, "purge_jobs")) < 0)
        return rc;
    rows = PQntuples(r);
    a->n = 0;
    for (int i = 0; i < rows && (size_t)i < a->max && rc == 0; i++) {
        if ((rc = pg__row_ref(r, i, &a->out[i])) == 0)
            a->n++;
    }
    PQclear(r);
    return rc;
}

int store_pg__purge_jobs(struct store *s, int64_t ended_before, struct store_job_ref *out,
                         size_t max)
{
    struct purge a = {.before = ended_before, .out = out, .max = max};
    int rc;

    if (max == 0)
        return 0;
    if (max > INT_MAX)
        max = a.max = INT_MAX;
    if ((rc = pg__write(s, purge_tx, &a, "purge_jobs")) < 0)
        return rc;
    return (int)a.n;
}

struct prune {
    int64_t upto, before;
};

/* Rows are cut at the first one still young (at is close to seq order),
 * and job rows never past what the orchestrator has acked (still work to
 * do); the webhooks' attempts at the rows cut go with them; the expiry mark stays just below the
 * first row left, so that no reader is told it missed a row still there. One statement. */
static int prune_tx(struct pg__conn *c, void *arg)
{
    const struct prune *a = arg;
    struct pg__params p = {0};

    pg__p_int(&p, a->before);
    pg__p_int(&p, a->upto);
    return pg__run(
        c, PG__Q_CHANGE_PRUNE,
        "WITH cut AS (SELECT COALESCE((SELECT seq FROM job_changes WHERE at >= $1 "
        "  ORDER BY seq LIMIT 1), (SELECT max(seq) + 1 FROM job_changes), 0) - 1 AS seq), "
        "gone AS (DELETE FROM job_changes WHERE seq <= (SELECT seq FROM cut) "
        "  AND (new_status < 0 OR seq <= $2) RETURNING seq), "
        "wh AS (DELETE FROM webhook_deliveries WHERE seq IN (SELECT seq FROM gone)), "
        "kept AS (SELECT min(seq) AS seq FROM job_changes WHERE seq <= (SELECT seq FROM cut) "
        "  AND NOT (seq IN (SELECT seq FROM gone))) "
        "INSERT INTO meta (key, value) SELECT '" PRUNED_KEY "', convert_to("
        "  (COALESCE((SELECT seq FROM kept) - 1, (SELECT seq FROM cut)))::text, 'UTF8') "
        "  WHERE (SELECT seq FROM cut) > 0 AND EXISTS (SELECT 1 FROM gone) "
        "ON CONFLICT (key) DO UPDATE SET value = convert_to(GREATEST("
        "  convert_from(meta.value, 'UTF8')::bigint, "
        "  convert_from(excluded.value, 'UTF8')::bigint)::text, 'UTF8')",
        &p, NULL, "prune_changes");
}

int store_pg__prune_changes(struct store *s, int64_t upto, int64_t before)
{
    struct prune a = {.upto = upto, .before = before};

    return pg__write(s, prune_tx, &a, "prune_changes");
}
