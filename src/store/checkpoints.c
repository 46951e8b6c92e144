/* checkpoints.c: connector checkpoints in the SQLite backend: an opaque
 * blob per connector, upserted without touching the connector row, so that
 * a checkpoint write never conflicts with a job change. */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

struct put_checkpoint {
    const char *tk, *connector_id, *data;
    size_t len;
    const char *job_id; /* counted in its checkpoint_puts; NULL: none */
};

static int count_checkpoint_put(struct store__conn *c, const char *job_id, const char *op)
{
    struct store__counts n = {.checkpoint_puts = 1};
    int64_t seq;
    int rc;

    if ((rc = store__job_seq(c, job_id, &seq, op)) < 0)
        return rc;
    return store__job_count(c, seq, &n, op);
}

static int put_checkpoint_tx(struct store__conn *c, void *arg)
{
    const struct put_checkpoint *a = arg;
    const char *op = "put_checkpoint";
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    /* One statement checks the tenant and upserts; WHERE also settles the
     * parser's ON ambiguity of INSERT ... SELECT ... ON CONFLICT. */
    if ((rc = store__stmt(c, STORE__Q_CP_PUT,
                          "INSERT INTO checkpoints (connector_id, data, created_at, updated_at) "
                          "SELECT id, ?3, ?4, ?4 FROM connectors WHERE id = ?1 AND tenant = ?2 "
                          "ON CONFLICT (connector_id) DO UPDATE SET "
                          "data = excluded.data, updated_at = excluded.updated_at",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, a->connector_id, &b);
    store__bind_text(st, 2, a->tk, &b);
    store__bind_blob(st, 3, a->data, a->len, &b);
    store__bind_int(st, 4, ccf_now_us(), &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    if ((rc = store__step_done(c, st, op)) < 0)
        return rc;
    if (store__changes(c) != 1)
        return CCF_ENOTFOUND;
    return a->job_id ? count_checkpoint_put(c, a->job_id, op) : 0;
}

int store_put_checkpoint(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                         const char *data, size_t len)
{
    return store_put_checkpoint_by(s, t, connector_id, NULL, data, len);
}

int store_put_checkpoint_by(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                            const char *job_id, const char *data, size_t len)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct put_checkpoint a = {
        .tk = tk, .connector_id = connector_id, .data = data, .len = len, .job_id = job_id};

    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    if (job_id && !ccf_job_id_valid(job_id))
        return CCF_EINVAL;
    store__tenant_key(t, tk);
    return store__write(s, put_checkpoint_tx, &a, "put_checkpoint");
}

static int row_checkpoint(sqlite3_stmt *st, const char *connector_id, struct ccf_checkpoint *out)
{
    const void *data = sqlite3_column_blob(st, 0);
    int len = sqlite3_column_bytes(st, 0);

    if (len < 0 || (len > 0 && !data))
        return CCF_EIO;
    memset(out, 0, sizeof(*out));
    memcpy(out->connector_id, connector_id, CCF_CONNECTOR_ID_LEN + 1);
    out->data_len = (size_t)len;
    out->data = ccf_xmalloc(out->data_len + 1); /* NUL-terminated for convenience */
    if (len > 0)
        memcpy(out->data, data, out->data_len);
    out->data[out->data_len] = '\0';
    out->created_at = sqlite3_column_int64(st, 1);
    out->updated_at = sqlite3_column_int64(st, 2);
    return 0;
}

int store_get_checkpoint(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                         struct ccf_checkpoint *out)
{
    const char *op = "get_checkpoint";
    char tk[STORE__TENANT_KEY_MAX];
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    store__tenant_key(t, tk);
    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(c, STORE__Q_CP_GET,
                          "SELECT k.data, k.created_at, k.updated_at FROM checkpoints k "
                          "JOIN connectors c ON c.id = k.connector_id "
                          "WHERE k.connector_id = ?1 AND c.tenant = ?2",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, connector_id, &b);
    store__bind_text(st, 2, tk, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rc = row_checkpoint(st, connector_id, out);
    else if (rc == SQLITE_DONE)
        rc = CCF_ENOTFOUND;
    else
        rc = store__fail(c, rc, "store.step_failed", op);
out:
    store__reset(st);
    return rc;
}

struct delete_checkpoint {
    const char *tk, *connector_id;
};

static int delete_checkpoint_tx(struct store__conn *c, void *arg)
{
    const struct delete_checkpoint *a = arg;
    const char *op = "delete_checkpoint";
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_CP_DELETE,
                          "DELETE FROM checkpoints WHERE connector_id = "
                          "(SELECT id FROM connectors WHERE id = ?1 AND tenant = ?2)",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, a->connector_id, &b);
    store__bind_text(st, 2, a->tk, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    if ((rc = store__step_done(c, st, op)) < 0)
        return rc;
    return store__changes(c) == 1 ? 0 : CCF_ENOTFOUND;
}

int store_delete_checkpoint(struct store *s, const struct ccf_tenant *t, const char *connector_id)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct delete_checkpoint a = {.tk = tk, .connector_id = connector_id};

    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    store__tenant_key(t, tk);
    return store__write(s, delete_checkpoint_tx, &a, "delete_checkpoint");
}
