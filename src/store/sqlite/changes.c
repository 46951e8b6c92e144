/* changes.c: the job-change stream of the SQLite backend, a transactional
 * outbox: the job rows of job_changes (events.c writes them), read in seq
 * order, and the consumers' persisted cursors. */
#include "store/sqlite/sqlite_int.h"

#include <limits.h>
#include <string.h>

#include "core/log.h"

static int row_change(sqlite3_stmt *st, struct store_change *out)
{
    const char *tenant = (const char *)sqlite3_column_text(st, 1);
    int old_status = sqlite3_column_int(st, 4);
    int new_status = sqlite3_column_int(st, 5);

    memset(out, 0, sizeof(*out));
    out->seq = sqlite3_column_int64(st, 0);
    if (!tenant || store__tenant_parse(tenant, &out->tenant) < 0 ||
        store__col_copy(st, 2, out->connector_id, sizeof(out->connector_id)) < 0 ||
        store__col_copy(st, 3, out->job_id, sizeof(out->job_id)) < 0 || old_status < -1 ||
        old_status >= CCF_JOB_STATUS_COUNT || new_status < 0 ||
        new_status >= CCF_JOB_STATUS_COUNT) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("table", "job_changes"),
                      CCF_KV_INT("seq", out->seq));
        return CCF_EIO;
    }
    out->old_status = old_status;
    out->new_status = (enum ccf_job_status)new_status;
    out->at = sqlite3_column_int64(st, 6);
    return 0;
}

int store_sqlite__read_changes(struct store *s, int64_t after_seq, struct store_change *out,
                               size_t max)
{
    const char *op = "read_changes";
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    int rc, b = SQLITE_OK;

    if (max == 0)
        return 0;
    if (!out)
        return CCF_EINVAL;
    if (max > INT_MAX) /* the count is returned as an int */
        max = INT_MAX;
    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(
             c, STORE__Q_CHANGE_READ,
             "SELECT seq, tenant, connector_id, job_id, old_status, new_status, at "
             "FROM job_changes WHERE seq > ?1 AND new_status >= 0 ORDER BY seq LIMIT ?2",
             &st, op)) < 0)
        return rc;
    store__bind_int(st, 1, after_seq, &b);
    store__bind_int(st, 2, (int64_t)max, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
        if ((rc = row_change(st, &out[n])) < 0)
            goto out;
        n++;
    }
    rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? (int)n
                                               : store__fail(c, rc, "store.step_failed", op);
out:
    store__reset(st);
    return rc;
}

/* The end first, then the rows up to it: a row committed in between is
 * past the end and read the next time. */
int store_sqlite__read_connector_changes(struct store *s, int64_t after_seq,
                                         struct store_connector_change *out, size_t max,
                                         int64_t *upto)
{
    const char *op = "read_connector_changes";
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    int64_t end = 0;
    size_t n = 0;
    int rc, b = SQLITE_OK;

    if (max == 0 || !out)
        return max == 0 ? 0 : CCF_EINVAL;
    if (max > INT_MAX)
        max = INT_MAX;
    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(c, STORE__Q_CHANGE_END, "SELECT max(seq) FROM job_changes", &st, op)) <
            0 ||
        (rc = store__step_int64(c, st, 0, &end, op)) < 0)
        return rc;
    if ((rc = store__stmt(c, STORE__Q_CONNECTOR_CHANGE_READ,
                          "SELECT seq, tenant, connector_id FROM job_changes WHERE seq > ?1 AND "
                          "seq <= ?2 AND type IN ('connector.created', 'connector.updated') "
                          "ORDER BY seq LIMIT ?3",
                          &st, op)) < 0)
        return rc;
    store__bind_int(st, 1, after_seq, &b);
    store__bind_int(st, 2, end, &b);
    store__bind_int(st, 3, (int64_t)max, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
        const char *tenant = (const char *)sqlite3_column_text(st, 1);
        memset(&out[n], 0, sizeof(out[n]));
        out[n].seq = sqlite3_column_int64(st, 0);
        if (!tenant || store__tenant_parse(tenant, &out[n].tenant) < 0 ||
            store__col_copy(st, 2, out[n].connector_id, sizeof(out[n].connector_id)) < 0) {
            CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("table", "job_changes"),
                          CCF_KV_INT("seq", out[n].seq));
            rc = CCF_EIO;
            goto out;
        }
        n++;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        rc = store__fail(c, rc, "store.step_failed", op);
        goto out;
    }
    *upto = n == max ? out[n - 1].seq : (end > after_seq ? end : after_seq);
    rc = (int)n;
out:
    store__reset(st);
    return rc;
}

int store_sqlite__cursor_get(struct store *s, const char *consumer, int64_t *seq)
{
    const char *op = "cursor_get";
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if (!consumer || !*consumer)
        return CCF_EINVAL;
    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(c, STORE__Q_CURSOR_GET,
                          "SELECT seq FROM stream_cursors WHERE consumer = ?1", &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, consumer, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    /* No row: before the first ack. */
    return (rc = store__step_int64(c, st, 0, seq, op)) < 0 ? rc : 0;
}

int store_sqlite__cursor_set(struct store *s, const char *consumer, int64_t seq)
{
    const char *op = "cursor_set";
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if (!consumer || !*consumer || seq < 0)
        return CCF_EINVAL;
    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(c, STORE__Q_CURSOR_SET,
                          "INSERT INTO stream_cursors (consumer, seq) VALUES (?1, ?2) "
                          "ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, consumer, &b);
    store__bind_int(st, 2, seq, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    return store__step_done(c, st, op);
}
