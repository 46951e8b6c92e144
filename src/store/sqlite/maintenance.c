/* maintenance.c: what spans tenants: finding unfinished jobs at start-up,
 * purging ended jobs after their retention, pruning the change stream. */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* Columns: tenant, connector_id, id, status. */
static int row_ref(sqlite3_stmt *st, struct store_job_ref *r)
{
    const char *tenant = (const char *)sqlite3_column_text(st, 0);
    int status = sqlite3_column_int(st, 3);

    memset(r, 0, sizeof(*r));
    if (!tenant || store__tenant_parse(tenant, &r->tenant) < 0 ||
        store__col_copy(st, 1, r->connector_id, sizeof(r->connector_id)) < 0 ||
        store__col_copy(st, 2, r->job_id, sizeof(r->job_id)) < 0 || status < 0 ||
        status >= CCF_JOB_STATUS_COUNT) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("table", "jobs"));
        return CCF_EIO;
    }
    r->status = (enum ccf_job_status)status;
    return 0;
}

int store_sqlite__unfinished_jobs(struct store *s, struct store_job_ref **out, size_t *n)
{
    static const char op[] = "unfinished_jobs";
    struct store__conn *c;
    struct store_job_ref *refs = NULL;
    size_t count = 0, cap = 0;
    sqlite3_stmt *st = NULL;
    int rc, step;

    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(c, STORE__Q_JOB_UNFINISHED,
                          "SELECT tenant, connector_id, id, status FROM jobs "
                          "WHERE status IN (0, 1, 2) ORDER BY created_at, id",
                          &st, op)) < 0)
        return rc;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            refs = ccf_xrealloc(refs, cap * sizeof(*refs));
        }
        if ((rc = row_ref(st, &refs[count])) < 0)
            goto fail;
        count++;
    }
    if (step != SQLITE_DONE) {
        rc = store__fail(c, step, "store.step_failed", op);
        goto fail;
    }
    store__reset(st);
    *out = refs;
    *n = count;
    return 0;
fail:
    store__reset(st);
    free(refs);
    return rc;
}

static int purge_pick(struct store__conn *c, int64_t before, struct store_job_ref *out, size_t max,
                      size_t *n)
{
    static const char op[] = "purge_jobs";
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK, step = SQLITE_DONE;

    *n = 0;
    if ((rc = store__stmt(c, STORE__Q_JOB_PURGE_PICK,
                          "SELECT tenant, connector_id, id, status FROM jobs "
                          "WHERE status IN (3, 4, 5) AND completed_at < ?1 "
                          "ORDER BY completed_at, id LIMIT ?2",
                          &st, op)) < 0)
        return rc;
    store__bind_int(st, 1, before, &b);
    store__bind_int(st, 2, (int64_t)max, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    while (*n < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = row_ref(st, &out[*n])) < 0)
            goto out;
        (*n)++;
    }
    if (*n < max && step != SQLITE_DONE)
        rc = store__fail(c, step, "store.step_failed", op);
out:
    store__reset(st);
    return rc;
}

int store_sqlite__purge_jobs(struct store *s, int64_t ended_before, struct store_job_ref *out,
                             size_t max)
{
    static const char op[] = "purge_jobs";
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    int rc, b = SQLITE_OK;

    if ((rc = store__conn(s, &c)) < 0 || (rc = store__begin(c, op)) < 0)
        return rc;
    if ((rc = purge_pick(c, ended_before, out, max, &n)) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if ((rc = store__stmt(c, STORE__Q_JOB_PURGE, "DELETE FROM jobs WHERE id = ?1", &st, op)) <
            0)
            goto fail;
        store__bind_text(st, 1, out[i].job_id, &b);
        if ((rc = store__bind_check(c, b, op)) < 0) {
            store__reset(st);
            goto fail;
        }
        if ((rc = store__step_done(c, st, op)) < 0)
            goto fail;
    }
    if ((rc = store__commit(c, op)) < 0)
        return rc;
    return (int)n;
fail:
    store__rollback(c, op);
    return rc;
}
