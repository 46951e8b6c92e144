/* audit.c: the audit log of the SQLite backend: a record written in the
 * transaction of the request it describes (store_audited_write wraps the
 * request's writes in one transaction body), records of refused requests
 * written in batches, the tenant's reads in seq order with an expiry mark
 * as for events, and pruning by age. */
#include "store/sqlite/sqlite_int.h"

#include <limits.h>
#include <string.h>

#include "core/log.h"

#define PRUNED_KEY "audit_pruned_upto"

static int insert_one(struct store__conn *c, const struct store_audit *r, const char *op)
{
    char tk[STORE__TENANT_KEY_MAX];
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_AUDIT_INSERT,
                          "INSERT INTO audit_events (tenant, at, request_id, operation, "
                          "access_key_id, principal_job, source_ip, connector_id, job_id, status, "
                          "error_type) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                          &st, op)) < 0)
        return rc;
    store__tenant_key(&r->tenant, tk);
    store__bind_text(st, 1, tk, &b);
    store__bind_int(st, 2, r->at ? r->at : ccf_now_us(), &b);
    store__bind_text(st, 3, r->request_id, &b);
    store__bind_text(st, 4, r->operation, &b);
    store__bind_text(st, 5, r->access_key_id, &b);
    store__bind_text(st, 6, r->principal_job[0] ? r->principal_job : NULL, &b);
    store__bind_text(st, 7, r->source_ip, &b);
    store__bind_text(st, 8, r->connector_id[0] ? r->connector_id : NULL, &b);
    store__bind_text(st, 9, r->job_id[0] ? r->job_id : NULL, &b);
    store__bind_int(st, 10, r->status, &b);
    store__bind_text(st, 11, r->error_type[0] ? r->error_type : NULL, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    return store__step_done(c, st, op);
}

struct audited {
    int (*fn)(void *ctx, struct store_audit *rec);
    void *ctx;
    struct store_audit *rec;
    int fn_rc;
};

/* fn's own writes nest in this body (group.c runs a write from inside a
 * body in its transaction), so the record and the effect commit together. */
static int audited_tx(struct store__conn *c, void *arg)
{
    struct audited *a = arg;
    int rc;

    a->rec->status = 0;
    if ((a->fn_rc = a->fn(a->ctx, a->rec)) < 0)
        return a->fn_rc;
    if (a->rec->status != 0 && (rc = insert_one(c, a->rec, "audit")) < 0)
        return rc;
    return a->fn_rc;
}

int store_sqlite__audited_write(struct store *s, int (*fn)(void *ctx, struct store_audit *rec),
                                void *ctx, struct store_audit *rec)
{
    struct audited a = {.fn = fn, .ctx = ctx, .rec = rec};

    return store__write(s, audited_tx, &a, "audited_write");
}

struct append {
    const struct store_audit *recs;
    size_t n;
};

static int append_tx(struct store__conn *c, void *arg)
{
    const struct append *a = arg;
    int rc;

    for (size_t i = 0; i < a->n; i++) {
        if ((rc = insert_one(c, &a->recs[i], "audit_append")) < 0)
            return rc;
    }
    return 0;
}

int store_sqlite__audit_append(struct store *s, const struct store_audit *recs, size_t n)
{
    struct append a = {.recs = recs, .n = n};

    if (n == 0)
        return 0;
    return store__write(s, append_tx, &a, "audit_append");
}

/* One integer from a statement with at most one parameter, ?1: tk if set, else v. */
static int query_int(struct store__conn *c, enum store__q q, const char *sql, const char *tk,
                     int64_t v, int64_t *out, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, q, sql, &st, op)) < 0)
        return rc;
    if (sqlite3_bind_parameter_count(st) == 0)
        ; /* a constant query */
    else if (tk)
        store__bind_text(st, 1, tk, &b);
    else
        store__bind_int(st, 1, v, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    return (rc = store__step_int64(c, st, 0, out, op)) < 0 ? rc : 0;
}

static void copy_col(sqlite3_stmt *st, int i, char *out, size_t size)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    size_t n = v ? strlen((const char *)v) : 0;

    if (n >= size)
        n = size - 1; /* cannot happen: every field was bounded when written */
    memcpy(out, v ? (const char *)v : "", n);
    out[n] = '\0';
}

static void row_audit(sqlite3_stmt *st, const struct ccf_tenant *t, struct store_audit *r)
{
    memset(r, 0, sizeof(*r));
    r->tenant = *t;
    r->seq = sqlite3_column_int64(st, 0);
    r->at = sqlite3_column_int64(st, 1);
    copy_col(st, 2, r->request_id, sizeof(r->request_id));
    copy_col(st, 3, r->operation, sizeof(r->operation));
    copy_col(st, 4, r->access_key_id, sizeof(r->access_key_id));
    copy_col(st, 5, r->principal_job, sizeof(r->principal_job));
    copy_col(st, 6, r->source_ip, sizeof(r->source_ip));
    copy_col(st, 7, r->connector_id, sizeof(r->connector_id));
    copy_col(st, 8, r->job_id, sizeof(r->job_id));
    r->status = sqlite3_column_int(st, 9);
    copy_col(st, 10, r->error_type, sizeof(r->error_type));
}

static int read_rows(struct store__conn *c, const struct ccf_tenant *t, const char *tk,
                     int64_t after, int64_t upto, size_t max, struct store_audit *out, size_t *n)
{
    const char *op = "read_audit";
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK, step = SQLITE_DONE;

    if ((rc = store__stmt(c, STORE__Q_AUDIT_READ,
                          "SELECT seq, at, request_id, operation, access_key_id, principal_job, "
                          "source_ip, connector_id, job_id, status, error_type FROM audit_events "
                          "WHERE tenant = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq LIMIT ?4",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, tk, &b);
    store__bind_int(st, 2, after, &b);
    store__bind_int(st, 3, upto, &b);
    store__bind_int(st, 4, (int64_t)max, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    while (*n < max && (step = sqlite3_step(st)) == SQLITE_ROW)
        row_audit(st, t, &out[(*n)++]);
    rc = step == SQLITE_DONE || step == SQLITE_ROW ? 0
                                                   : store__fail(c, step, "store.step_failed", op);
out:
    store__reset(st);
    return rc;
}

int store_sqlite__read_audit(struct store *s, const struct ccf_tenant *t, int64_t after, size_t max,
                             struct store_audit *out, int64_t *next)
{
    const char *op = "read_audit";
    char tk[STORE__TENANT_KEY_MAX];
    struct store__conn *c;
    int64_t pruned = 0, last = 0;
    size_t n = 0;
    int rc;

    if (max == 0 || max > INT_MAX || !out || after < -1)
        return CCF_EINVAL;
    store__tenant_key(t, tk);
    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = query_int(c, STORE__Q_AUDIT_PRUNED,
                        "SELECT value FROM meta WHERE key = '" PRUNED_KEY "'", NULL, 0, &pruned,
                        op)) < 0)
        return rc;
    if (after >= 0 && after < pruned)
        return CCF_EEXPIRED;
    if (after < pruned)
        after = pruned;
    /* The tenant's end first, as for events: a record committed after it is
     * for the next call, so that next never skips one. */
    if ((rc = query_int(c, STORE__Q_AUDIT_LAST,
                        "SELECT max(seq) FROM audit_events WHERE tenant = ?1", tk, 0, &last, op)) <
            0 ||
        (rc = read_rows(c, t, tk, after, last, max, out, &n)) < 0)
        return rc;
    *next = n == max ? out[n - 1].seq : (last > after ? last : after);
    return (int)n;
}

/* Records are cut at the first one still young (at follows seq closely),
 * and the highest seq cut becomes the expiry mark. The newest record is
 * blanked rather than deleted (a placeholder of no tenant): the next seq is
 * max(seq) + 1 (no AUTOINCREMENT, whose sqlite_sequence update would cost
 * every record) and must never go back. */
static int prune_tx(struct store__conn *c, void *arg)
{
    const int64_t *before = arg;
    const char *op = "prune_audit";
    sqlite3_stmt *st = NULL;
    int64_t first_young = 0, gone = 0;
    int rc, b = SQLITE_OK;

    if ((rc = query_int(c, STORE__Q_AUDIT_YOUNG,
                        "SELECT COALESCE((SELECT seq FROM audit_events WHERE at >= ?1 "
                        "ORDER BY seq LIMIT 1), (SELECT max(seq) + 1 FROM audit_events), 0)",
                        NULL, *before, &first_young, op)) < 0)
        return rc;
    if (first_young <= 1)
        return 0;
    if ((rc = query_int(c, STORE__Q_AUDIT_BLANK,
                        "UPDATE audit_events SET tenant = '', request_id = '', operation = '', "
                        "access_key_id = '', principal_job = NULL, source_ip = '', "
                        "connector_id = NULL, job_id = NULL, error_type = NULL "
                        "WHERE seq = ?1 - 1 AND seq = (SELECT max(seq) FROM audit_events)",
                        NULL, first_young, &gone, op)) < 0)
        return rc;
    gone = store__changes(c);
    if ((rc = store__stmt(c, STORE__Q_AUDIT_PRUNE,
                          "DELETE FROM audit_events WHERE seq < ?1 "
                          "AND seq < (SELECT max(seq) FROM audit_events)",
                          &st, op)) < 0)
        return rc;
    store__bind_int(st, 1, first_young, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    if ((rc = store__step_done(c, st, op)) < 0 || gone + store__changes(c) == 0)
        return rc;
    return query_int(c, STORE__Q_AUDIT_MARK,
                     "INSERT INTO meta (key, value) VALUES ('" PRUNED_KEY "', ?1) "
                     "ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
                     NULL, first_young - 1, &first_young, op);
}

int store_sqlite__prune_audit(struct store *s, int64_t before)
{
    return store__write(s, prune_tx, &before, "prune_audit");
}
