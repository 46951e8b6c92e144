/* checkpoints.c: connector checkpoints in the SQLite backend: an opaque
 * blob per connector with a version, upserted without touching the
 * connector row, so that a checkpoint write never conflicts with a job
 * change. checkpoints holds the current version, checkpoint_versions the
 * older ones still kept; a put moves the current one there, conditionally
 * (If-Match), trims what falls out of the history and counts itself in its
 * job's checkpoint_puts, in one transaction. */
#include "store/sqlite/sqlite_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct put_checkpoint {
    const char *tk, *connector_id, *data;
    size_t len;
    const char *job_id; /* counted in its checkpoint_puts; NULL: none */
    int64_t expect, history, version;
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

/* The current version (0 when there is no checkpoint), or CCF_ENOTFOUND
 * when the connector is not this tenant's. */
static int current_version(struct store__conn *c, const char *tk, const char *connector_id,
                           int64_t *out, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_CP_CURRENT,
                          "SELECT k.version FROM connectors c LEFT JOIN checkpoints k "
                          "ON k.connector_id = c.id WHERE c.id = ?1 AND c.tenant = ?2",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, connector_id, &b);
    store__bind_text(st, 2, tk, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    /* A NULL version (no checkpoint) reads as 0; no row: no such connector. */
    rc = store__step_int64(c, st, 0, out, op);
    return rc == 0 ? CCF_ENOTFOUND : rc < 0 ? rc : 0;
}

static bool condition_holds(int64_t expect, int64_t current)
{
    if (expect == STORE_CP_ANY)
        return true;
    if (expect == STORE_CP_EXISTS)
        return current > 0;
    return expect == current;
}

/* Runs a cached statement with ?1 = connector id and ?2 = n. */
static int exec_id_int(struct store__conn *c, enum store__q q, const char *sql,
                       const char *connector_id, int64_t n, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, q, sql, &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, connector_id, &b);
    store__bind_int(st, 2, n, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    return store__step_done(c, st, op);
}

static int write_current(struct store__conn *c, const struct put_checkpoint *a, int64_t version,
                         const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_CP_PUT_V,
                          "INSERT INTO checkpoints (connector_id, data, created_at, updated_at, "
                          "version, size) VALUES (?1, ?2, ?3, ?3, ?4, ?5) "
                          "ON CONFLICT (connector_id) DO UPDATE SET data = excluded.data, "
                          "updated_at = excluded.updated_at, version = excluded.version, "
                          "size = excluded.size",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, a->connector_id, &b);
    store__bind_blob(st, 2, a->data, a->len, &b);
    store__bind_int(st, 3, ccf_now_us(), &b);
    store__bind_int(st, 4, version, &b);
    store__bind_int(st, 5, (int64_t)a->len, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    return store__step_done(c, st, op);
}

static int put_checkpoint_tx(struct store__conn *c, void *arg)
{
    struct put_checkpoint *a = arg;
    const char *op = "put_checkpoint";
    int64_t cur = 0;
    int rc;

    /* The connector's 404 comes before the condition's 412. */
    if ((rc = current_version(c, a->tk, a->connector_id, &cur, op)) < 0)
        return rc;
    if (!condition_holds(a->expect, cur))
        return CCF_EPRECOND;
    if (cur > 0 && a->history > 1 &&
        (rc = exec_id_int(c, STORE__Q_CP_KEEP,
                          "INSERT OR REPLACE INTO checkpoint_versions "
                          "(connector_id, version, data, size, created_at) "
                          "SELECT connector_id, version, data, size, updated_at FROM checkpoints "
                          "WHERE connector_id = ?1 AND version = ?2",
                          a->connector_id, cur, op)) < 0)
        return rc;
    if ((rc = write_current(c, a, cur + 1, op)) < 0)
        return rc;
    /* Kept: versions cur + 1 - history + 1 .. cur + 1, the new one included. */
    if ((rc = exec_id_int(
             c, STORE__Q_CP_TRIM,
             "DELETE FROM checkpoint_versions WHERE connector_id = ?1 AND version <= ?2",
             a->connector_id, cur + 1 - a->history, op)) < 0)
        return rc;
    /* Counted only once written: a put refused by its condition did nothing. */
    if (a->job_id && (rc = count_checkpoint_put(c, a->job_id, op)) < 0)
        return rc;
    a->version = cur + 1;
    return store__event_insert(c, a->tk, "checkpoint.updated", a->connector_id, NULL,
                               json_pack("{s:I}", "version", (json_int_t)a->version), op);
}

int store_sqlite__put_checkpoint_if(struct store *s, const struct ccf_tenant *t,
                                    const char *connector_id, const char *job_id, const char *data,
                                    size_t len, int64_t expect, int64_t *version)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct put_checkpoint a = {.tk = tk,
                               .connector_id = connector_id,
                               .data = data,
                               .len = len,
                               .job_id = job_id,
                               .expect = expect,
                               .history = store__cp_history(s)};
    int rc;

    store__tenant_key(t, tk);
    if ((rc = store__write(s, put_checkpoint_tx, &a, "put_checkpoint")) < 0)
        return rc;
    if (version)
        *version = a.version;
    return 0;
}

/* Columns: data, created_at, updated_at, version. */
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
    out->version = sqlite3_column_int64(st, 3);
    return 0;
}

int store_sqlite__get_checkpoint_version(struct store *s, const struct ccf_tenant *t,
                                         const char *connector_id, int64_t version,
                                         struct ccf_checkpoint *out)
{
    const char *op = "get_checkpoint";
    char tk[STORE__TENANT_KEY_MAX];
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    store__tenant_key(t, tk);
    /* One statement, so one snapshot: a put between two reads cannot move
     * version N from the current row to the history unseen. */
    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(
             c, STORE__Q_CP_GET_V,
             "SELECT k.data, k.created_at, k.updated_at, k.version "
             "FROM checkpoints k JOIN connectors c ON c.id = k.connector_id "
             "WHERE k.connector_id = ?1 AND c.tenant = ?2 AND (?3 = 0 OR k.version = ?3) "
             "UNION ALL "
             "SELECT h.data, k.created_at, h.created_at, h.version "
             "FROM checkpoint_versions h JOIN checkpoints k "
             "ON k.connector_id = h.connector_id "
             "JOIN connectors c ON c.id = k.connector_id "
             "WHERE h.connector_id = ?1 AND c.tenant = ?2 AND h.version = ?3 "
             "AND h.version < k.version AND h.version > k.version - ?4",
             &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, connector_id, &b);
    store__bind_text(st, 2, tk, &b);
    store__bind_int(st, 3, version, &b);
    store__bind_int(st, 4, store__cp_history(s), &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    if ((rc = store__step_row(c, st, op)) == 0)
        rc = row_checkpoint(st, connector_id, out);
out:
    store__reset(st);
    return rc;
}

static int visit_versions(struct store__conn *c, sqlite3_stmt *st, size_t limit,
                          store_cp_version_fn visit, void *ctx, char **next, size_t *count)
{
    struct store_cp_version v = {0};
    char key[24];
    int rc;

    *count = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*count == limit) { /* one more exists: go on after the page's last */
            snprintf(key, sizeof(key), "%" PRId64, v.version);
            *next = ccf_xstrdup(key);
            return 0;
        }
        v.version = sqlite3_column_int64(st, 0);
        v.size = sqlite3_column_int64(st, 1);
        v.created_at = sqlite3_column_int64(st, 2);
        if ((rc = visit(ctx, &v)) < 0)
            return rc;
        (*count)++;
    }
    return rc == SQLITE_DONE ? 0 : store__fail(c, rc, "store.step_failed", "list_versions");
}

int store_sqlite__list_checkpoint_versions(struct store *s, const struct ccf_tenant *t,
                                           const char *connector_id,
                                           const struct store__version_page *p,
                                           store_cp_version_fn visit, void *ctx, char **next)
{
    const char *op = "list_versions";
    char tk[STORE__TENANT_KEY_MAX], *more = NULL;
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    int64_t cur = 0;
    size_t n = 0;
    int rc, b = SQLITE_OK;

    store__tenant_key(t, tk);
    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(c, STORE__Q_CP_LIST_V,
                          "SELECT k.version, k.size, k.updated_at "
                          "FROM checkpoints k "
                          "JOIN connectors c ON c.id = k.connector_id "
                          "WHERE k.connector_id = ?1 AND c.tenant = ?2 AND k.version < ?3 "
                          "UNION ALL "
                          "SELECT h.version, h.size, h.created_at "
                          "FROM checkpoint_versions h JOIN checkpoints k "
                          "ON k.connector_id = h.connector_id "
                          "JOIN connectors c ON c.id = k.connector_id "
                          "WHERE h.connector_id = ?1 AND c.tenant = ?2 AND h.version < ?3 "
                          "AND h.version < k.version AND h.version > k.version - ?4 "
                          "ORDER BY 1 DESC LIMIT ?5",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, connector_id, &b);
    store__bind_text(st, 2, tk, &b);
    store__bind_int(st, 3, p->before, &b);
    store__bind_int(st, 4, store__cp_history(s), &b);
    store__bind_int(st, 5, (int64_t)p->limit + 1, &b);
    if ((rc = store__bind_check(c, b, op)) < 0 ||
        (rc = visit_versions(c, st, p->limit, visit, ctx, &more, &n)) < 0)
        goto out;
    store__reset(st);
    /* An empty page: tell a missing checkpoint (404) from a page past the end. */
    if (n == 0 && ((rc = current_version(c, tk, connector_id, &cur, op)) < 0 || cur == 0)) {
        rc = rc < 0 ? rc : CCF_ENOTFOUND;
        goto out;
    }
    if (next) {
        *next = more;
        more = NULL;
    }
out:
    free(more);
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
    if (store__changes(c) != 1)
        return CCF_ENOTFOUND;
    /* The history goes with it: the next put is version 1 again. */
    return exec_id_int(c, STORE__Q_CP_DELETE_V,
                       "DELETE FROM checkpoint_versions WHERE connector_id = ?1 AND ?2 = ?2",
                       a->connector_id, 0, op);
}

int store_sqlite__delete_checkpoint(struct store *s, const struct ccf_tenant *t,
                                    const char *connector_id)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct delete_checkpoint a = {.tk = tk, .connector_id = connector_id};

    store__tenant_key(t, tk);
    return store__write(s, delete_checkpoint_tx, &a, "delete_checkpoint");
}
