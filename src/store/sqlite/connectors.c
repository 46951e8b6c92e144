/* connectors.c: connectors in the SQLite backend: create, get, keyset
 * listing, conditional update and delete (cascading to jobs, documents and
 * the checkpoint through foreign keys). */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define CONN_COLS                                                                                  \
    "id, name, description, properties, status, active_job_id, created_at, updated_at, version, "  \
    "schedule, schedule_anchor, next_run_at, paused"

/* Ids come from a CSPRNG: a collision is rare, a run of them means a bug. */
#define ID_TRIES 8

/* Fills *c from a row of CONN_COLS. own: copy the strings; otherwise they
 * point into the statement and last until its next step or reset. */
static int row_connector(sqlite3_stmt *st, struct ccf_connector *c, bool own)
{
    int status = sqlite3_column_int(st, 4);

    memset(c, 0, sizeof(*c));
    if (store__col_copy(st, 0, c->id, sizeof(c->id)) < 0 ||
        store__col_copy(st, 5, c->active_job_id, sizeof(c->active_job_id)) < 0)
        return CCF_EIO;
    if (status != CCF_CONNECTOR_AVAILABLE && status != CCF_CONNECTOR_IN_USE) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("connector_id", c->id),
                      CCF_KV_INT("status", status));
        return CCF_EIO;
    }
    c->status = (enum ccf_connector_status)status;
    c->created_at = sqlite3_column_int64(st, 6);
    c->updated_at = sqlite3_column_int64(st, 7);
    c->version = sqlite3_column_int64(st, 8);
    c->schedule_anchor = sqlite3_column_int64(st, 10);
    c->next_run_at = sqlite3_column_int64(st, 11); /* NULL reads as 0 */
    c->paused = sqlite3_column_int(st, 12) != 0;
    if (own) {
        c->name = store__col_dup(st, 1);
        c->description = store__col_dup(st, 2);
        c->properties = store__col_dup(st, 3);
        c->schedule = store__col_dup(st, 9);
    } else {
        c->name = (char *)sqlite3_column_text(st, 1);
        c->description = (char *)sqlite3_column_text(st, 2);
        c->properties = (char *)sqlite3_column_text(st, 3);
        c->schedule = (char *)sqlite3_column_text(st, 9);
    }
    return 0;
}

int store__connector_status(struct store__conn *c, const char *tenant_key, const char *id,
                            const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_CONN_STATUS,
                          "SELECT status FROM connectors WHERE id = ?1 AND tenant = ?2", &st, op)) <
        0)
        return rc;
    store__bind_text(st, 1, id, &b);
    store__bind_text(st, 2, tenant_key, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    if ((rc = store__step_row(c, st, op)) == 0)
        rc = sqlite3_column_int(st, 0);
out:
    store__reset(st);
    return rc;
}

/* One attempt with a fresh id: 0 when inserted, 1 when the id was taken. */
static int insert_connector(struct store__conn *c, sqlite3_stmt *st, const char *tk,
                            const struct ccf_connector *in, const char *id, int64_t now)
{
    const char *op = "create_connector";
    int rc, b = SQLITE_OK;

    store__bind_text(st, 1, id, &b);
    store__bind_text(st, 2, tk, &b);
    store__bind_text(st, 3, in->name, &b);
    store__bind_text(st, 4, in->description, &b);
    store__bind_text(st, 5, in->properties, &b);
    store__bind_int(st, 6, now, &b);
    store__bind_text(st, 7, in->schedule, &b);
    store__bind_int(st, 8, in->schedule_anchor, &b);
    store__bind_time(st, 9, in->next_run_at, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        rc = 0;
    else if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        rc = 1;
    else
        rc = store__fail(c, rc, "store.step_failed", op);
out:
    store__reset(st);
    return rc;
}

/* The connector as store_create_connector returns it (a shallow copy). */
static int created_event(struct store__conn *c, const struct store__create *a)
{
    struct ccf_connector tmp = *a->in;

    store__connector_made(&tmp, a->id, a->now);
    return store__event_connector(c, a->tk, "connector.created", &tmp, a->now, "create_connector");
}

int store__create_connector_tx(struct store__conn *c, void *arg)
{
    struct store__create *a = arg;
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = store__stmt(c, STORE__Q_CONN_INSERT,
                          "INSERT INTO connectors (" CONN_COLS ", tenant) "
                          "VALUES (?1, ?3, ?4, ?5, 0, NULL, ?6, ?6, 1, ?7, ?8, ?9, 0, ?2)",
                          &st, "create_connector")) < 0)
        return rc;
    for (int i = 0; i < ID_TRIES; i++) {
        if ((rc = ccf_connector_id_new(a->id)) < 0 ||
            (rc = insert_connector(c, st, a->tk, a->in, a->id, a->now)) < 0)
            return rc;
        if (rc == 0)
            return created_event(c, a);
        CCF_LOG_WARN("store.id_collision", CCF_KV_STR("connector_id", a->id));
    }
    return CCF_EIO;
}

int store_sqlite__create_connector(struct store *s, const struct ccf_tenant *t,
                                   struct ccf_connector *c)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct store__create a = {.tk = tk, .in = c, .now = ccf_now_us()};
    int rc;

    store__tenant_key(t, tk);
    if ((rc = store__write(s, store__create_connector_tx, &a, "create_connector")) < 0)
        return rc;
    store__connector_made(c, a.id, a.now);
    return 0;
}

static int load_connector(struct store__conn *c, const char *tk, const char *id,
                          struct ccf_connector *out, const char *op)
{
    struct ccf_connector tmp;
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_CONN_GET,
                          "SELECT " CONN_COLS " FROM connectors WHERE id = ?1 AND tenant = ?2", &st,
                          op)) < 0)
        return rc;
    store__bind_text(st, 1, id, &b);
    store__bind_text(st, 2, tk, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    if ((rc = store__step_row(c, st, op)) < 0)
        goto out;
    if ((rc = row_connector(st, &tmp, true)) == 0)
        *out = tmp;
    else
        ccf_connector_clear(&tmp);
out:
    store__reset(st);
    return rc;
}

int store_sqlite__get_connector(struct store *s, const struct ccf_tenant *t, const char *id,
                                struct ccf_connector *out)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct store__conn *c;
    int rc;

    store__tenant_key(t, tk);
    if ((rc = store__conn(s, &c)) < 0)
        return rc;
    return load_connector(c, tk, id, out, "get_connector");
}

/* Visits up to p->limit rows of st; *more when row limit + 1 exists, and
 * then *last holds the key of the last row visited. */
static int visit_connectors(struct store__conn *c, sqlite3_stmt *st, size_t limit,
                            store_connector_fn visit, void *ctx, char **last)
{
    struct ccf_connector item;
    size_t n = 0;
    int rc;

    memset(&item, 0, sizeof(item));

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            *last = store__key_format(item.created_at, item.id);
            return *last ? 0 : CCF_EIO;
        }
        if ((rc = row_connector(st, &item, false)) < 0 || (rc = visit(ctx, &item)) < 0)
            return rc;
        n++;
    }
    return rc == SQLITE_DONE ? 0 : store__fail(c, rc, "store.step_failed", "list_connectors");
}

int store_sqlite__list_connectors(struct store *s, const struct ccf_tenant *t,
                                  const struct store__keyset *p, store_connector_fn visit,
                                  void *ctx, char **next)
{
    const char *op = "list_connectors";
    char tk[STORE__TENANT_KEY_MAX];
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    char *last = NULL;
    int rc, b = SQLITE_OK;

    store__tenant_key(t, tk);
    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(c, STORE__Q_CONN_LIST,
                          "SELECT " CONN_COLS " FROM connectors WHERE tenant = ?1 "
                          "AND (created_at, id) > (?2, ?3) ORDER BY created_at, id LIMIT ?4",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, tk, &b);
    store__bind_int(st, 2, p->after_at, &b);
    store__bind_text(st, 3, p->after_id, &b);
    store__bind_int(st, 4, (int64_t)p->limit + 1, &b);
    if ((rc = store__bind_check(c, b, op)) < 0 ||
        (rc = visit_connectors(c, st, p->limit, visit, ctx, &last)) < 0)
        goto out;
    if (next)
        *next = last;
    else
        free(last);
out:
    store__reset(st);
    return rc;
}

struct update_connector {
    const char *tk;
    const struct ccf_connector *c; /* as written */
    int64_t expected_version;
};

static int update_connector_tx(struct store__conn *conn, void *arg)
{
    const struct update_connector *a = arg;
    const struct ccf_connector *c = a->c;
    const char *op = "update_connector";
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(conn, STORE__Q_CONN_UPDATE,
                          "UPDATE connectors SET name = ?3, description = ?4, properties = ?5, "
                          "updated_at = ?6, version = version + 1, schedule = ?8, "
                          "schedule_anchor = ?9, next_run_at = ?10 "
                          "WHERE id = ?1 AND tenant = ?2 AND version = ?7",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, c->id, &b);
    store__bind_text(st, 2, a->tk, &b);
    store__bind_text(st, 3, c->name, &b);
    store__bind_text(st, 4, c->description, &b);
    store__bind_text(st, 5, c->properties, &b);
    store__bind_int(st, 6, c->updated_at, &b);
    store__bind_int(st, 7, a->expected_version, &b);
    store__bind_text(st, 8, c->schedule, &b);
    store__bind_int(st, 9, c->schedule_anchor, &b);
    store__bind_time(st, 10, c->next_run_at, &b);
    if ((rc = store__bind_check(conn, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    if ((rc = store__step_done(conn, st, op)) < 0)
        return rc;
    /* One statement did the write; this read only tells the caller why not. */
    if (store__changes(conn) == 0) {
        rc = store__connector_status(conn, a->tk, c->id, op);
        return rc >= 0 ? CCF_ECONFLICT : rc;
    }
    return store__event_connector(conn, a->tk, "connector.updated", c, c->updated_at, op);
}

int store_sqlite__update_connector(struct store *s, const struct ccf_tenant *t,
                                   const struct ccf_connector *c, int64_t expected_version)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct update_connector a = {.tk = tk, .c = c, .expected_version = expected_version};

    store__tenant_key(t, tk);
    return store__write(s, update_connector_tx, &a, "update_connector");
}

struct delete_connector {
    const char *tk, *id;
};

static int delete_row(struct store__conn *c, const struct delete_connector *a, const char *op);

static int delete_connector_tx(struct store__conn *c, void *arg)
{
    const struct delete_connector *a = arg;
    const char *op = "delete_connector";
    struct ccf_connector gone;
    int rc;

    /* The event's detail is the connector as it was; reading it first costs
     * a delete one indexed lookup. */
    if ((rc = load_connector(c, a->tk, a->id, &gone, op)) < 0)
        return rc;
    rc = delete_row(c, a, op);
    if (rc == 0)
        rc = store__event_connector(c, a->tk, "connector.deleted", &gone, ccf_now_us(), op);
    ccf_connector_clear(&gone);
    return rc;
}

static int delete_row(struct store__conn *c, const struct delete_connector *a, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_CONN_DELETE,
                          "DELETE FROM connectors WHERE id = ?1 AND tenant = ?2 AND status = 0",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, a->id, &b);
    store__bind_text(st, 2, a->tk, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    /* Foreign keys cascade to jobs, documents and the checkpoint in the same
     * statement, hence the same transaction. */
    if ((rc = store__step_done(c, st, op)) < 0)
        return rc;
    if (store__changes(c) == 0) {
        rc = store__connector_status(c, a->tk, a->id, op);
        return rc >= 0 ? CCF_ECONFLICT : rc;
    }
    return 0;
}

int store_sqlite__delete_connector(struct store *s, const struct ccf_tenant *t, const char *id)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct delete_connector a = {.tk = tk, .id = id};

    store__tenant_key(t, tk);
    return store__write(s, delete_connector_tx, &a, "delete_connector");
}
