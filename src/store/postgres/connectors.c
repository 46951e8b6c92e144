/* connectors.c: connectors in the PostgreSQL backend: create, get, keyset
 * listing, conditional update and delete (cascading to jobs, documents and
 * the checkpoint through foreign keys), each with its event. */
#include "store/postgres/pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define CONN_COLS                                                                                  \
    "id, name, description, properties, status, active_job_id, created_at, updated_at, version, "  \
    "schedule, schedule_anchor, next_run_at, paused"

/* Ids come from a CSPRNG: a collision is rare, a run of them means a bug. */
#define ID_TRIES 8

/* Fills *c from row i of r (CONN_COLS), with owned strings. */
static int row_connector(PGresult *r, int i, struct ccf_connector *c)
{
    int64_t status = pg__int(r, i, 4);

    memset(c, 0, sizeof(*c));
    if (pg__copy(r, i, 0, c->id, sizeof(c->id)) < 0 ||
        pg__copy(r, i, 5, c->active_job_id, sizeof(c->active_job_id)) < 0)
        return CCF_EIO;
    if (status != CCF_CONNECTOR_AVAILABLE && status != CCF_CONNECTOR_IN_USE) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("connector_id", c->id),
                      CCF_KV_INT("status", status));
        return CCF_EIO;
    }
    c->status = (enum ccf_connector_status)status;
    c->created_at = pg__int(r, i, 6);
    c->updated_at = pg__int(r, i, 7);
    c->version = pg__int(r, i, 8);
    c->schedule_anchor = pg__int(r, i, 10);
    c->next_run_at = pg__int(r, i, 11);
    c->paused = pg__int(r, i, 12) != 0;
    c->name = pg__dup(r, i, 1);
    c->description = pg__dup(r, i, 2);
    c->properties = pg__dup(r, i, 3);
    c->schedule = pg__dup(r, i, 9);
    return 0;
}

int pg__connector_status(struct pg__conn *c, const char *tk, const char *id, const char *op)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, id);
    pg__p_text(&p, tk);
    if ((rc = pg__run(c, PG__Q_CONN_STATUS,
                      "SELECT status FROM connectors WHERE id = $1 AND tenant = $2", &p, &r, op)) <
        0)
        return rc;
    rc = PQntuples(r) == 1 ? (int)pg__int(r, 0, 0) : CCF_ENOTFOUND;
    PQclear(r);
    return rc;
}

/* One attempt with a fresh id: 0 when inserted, 1 when the id was taken. */
static int insert_connector(struct pg__conn *c, const struct pg__create *a)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, a->id);
    pg__p_text(&p, a->tk);
    pg__p_text(&p, a->in->name);
    pg__p_text(&p, a->in->description);
    pg__p_text(&p, a->in->properties);
    pg__p_int(&p, a->now);
    pg__p_text(&p, a->in->schedule);
    pg__p_int(&p, a->in->schedule_anchor);
    pg__p_time(&p, a->in->next_run_at);
    if ((rc = pg__run(c, PG__Q_CONN_INSERT,
                      "INSERT INTO connectors (" CONN_COLS ", tenant) "
                      "VALUES ($1, $3, $4, $5, 0, NULL, $6, $6, 1, $7, $8, $9, 0, $2) "
                      "ON CONFLICT (id) DO NOTHING",
                      &p, &r, "create_connector")) < 0)
        return rc;
    rc = pg__changed(r) == 1 ? 0 : 1;
    PQclear(r);
    return rc;
}

int pg__create_connector_tx(struct pg__conn *c, void *arg)
{
    struct pg__create *a = arg;
    struct ccf_connector tmp;
    int rc;

    for (int i = 0; i < ID_TRIES; i++) {
        if ((rc = ccf_connector_id_new(a->id)) < 0 || (rc = insert_connector(c, a)) < 0)
            return rc;
        if (rc == 1) {
            CCF_LOG_WARN("store.id_collision", CCF_KV_STR("connector_id", a->id));
            continue;
        }
        tmp = *a->in;
        store__connector_made(&tmp, a->id, a->now);
        return pg__event_connector(c, a->tk, "connector.created", &tmp, a->now, "create_connector");
    }
    return CCF_EIO;
}

int store_pg__create_connector(struct store *s, const struct ccf_tenant *t, struct ccf_connector *c)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct pg__create a = {.tk = tk, .in = c, .now = ccf_now_us()};
    int rc;

    store__tenant_key(t, tk);
    if ((rc = pg__write(s, pg__create_connector_tx, &a, "create_connector")) < 0)
        return rc;
    store__connector_made(c, a.id, a.now);
    return 0;
}

static int load_connector(struct pg__conn *c, const char *tk, const char *id,
                          struct ccf_connector *out, const char *op)
{
    struct pg__params p = {0};
    struct ccf_connector tmp;
    PGresult *r;
    int rc;

    pg__p_text(&p, id);
    pg__p_text(&p, tk);
    if ((rc = pg__run(c, PG__Q_CONN_GET,
                      "SELECT " CONN_COLS " FROM connectors WHERE id = $1 AND tenant = $2", &p, &r,
                      op)) < 0)
        return rc;
    if (PQntuples(r) != 1)
        rc = CCF_ENOTFOUND;
    else if ((rc = row_connector(r, 0, &tmp)) == 0)
        *out = tmp;
    else
        ccf_connector_clear(&tmp);
    PQclear(r);
    return rc;
}

int store_pg__get_connector(struct store *s, const struct ccf_tenant *t, const char *id,
                            struct ccf_connector *out)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct pg__conn *c;
    int rc;

    store__tenant_key(t, tk);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = load_connector(c, tk, id, out, "get_connector");
    pg__put(s, c);
    return rc;
}

/* Visits up to limit rows of r; when a row past them exists, *last gets
 * the key of the last one visited. */
static int visit_connectors(PGresult *r, size_t limit, store_connector_fn visit, void *ctx,
                            char **last)
{
    struct ccf_connector item;
    int n = PQntuples(r), rc;

    for (int i = 0; i < n; i++) {
        if ((size_t)i == limit) {
            *last = store__key_format(item.created_at, item.id);
            ccf_connector_clear(&item);
            return *last ? 0 : CCF_EIO;
        }
        if (i > 0)
            ccf_connector_clear(&item);
        if ((rc = row_connector(r, i, &item)) < 0 || (rc = visit(ctx, &item)) < 0) {
            ccf_connector_clear(&item);
            return rc;
        }
    }
    if (n > 0)
        ccf_connector_clear(&item);
    return 0;
}

int store_pg__list_connectors(struct store *s, const struct ccf_tenant *t,
                              const struct store__keyset *p, store_connector_fn visit, void *ctx,
                              char **next)
{
    const char *op = "list_connectors";
    char tk[STORE__TENANT_KEY_MAX];
    struct pg__params q = {0};
    struct pg__conn *c;
    PGresult *r;
    char *last = NULL;
    int rc;

    store__tenant_key(t, tk);
    pg__p_text(&q, tk);
    pg__p_int(&q, p->after_at);
    pg__p_text(&q, p->after_id);
    pg__p_int(&q, (int64_t)p->limit + 1);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = pg__run(c, PG__Q_CONN_LIST,
                 "SELECT " CONN_COLS " FROM connectors WHERE tenant = $1 "
                 "AND (created_at, id) > ($2, $3) ORDER BY created_at, id LIMIT $4",
                 &q, &r, op);
    pg__put(s, c); /* the visitor runs on the result, not the connection */
    if (rc < 0)
        return rc;
    rc = visit_connectors(r, p->limit, visit, ctx, &last);
    PQclear(r);
    if (rc < 0)
        free(last);
    else if (next)
        *next = last;
    else
        free(last);
    return rc;
}

struct update {
    const char *tk;
    const struct ccf_connector *c; /* as written */
    int64_t expected_version;
};

static int update_tx(struct pg__conn *conn, void *arg)
{
    const struct update *a = arg;
    const struct ccf_connector *c = a->c;
    const char *op = "update_connector";
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, c->id);
    pg__p_text(&p, a->tk);
    pg__p_text(&p, c->name);
    pg__p_text(&p, c->description);
    pg__p_text(&p, c->properties);
    pg__p_int(&p, c->updated_at);
    pg__p_int(&p, a->expected_version);
    pg__p_text(&p, c->schedule);
    pg__p_int(&p, c->schedule_anchor);
    pg__p_time(&p, c->next_run_at);
    if ((rc = pg__run(conn, PG__Q_CONN_UPDATE,
                      "UPDATE connectors SET name = $3, description = $4, properties = $5, "
                      "updated_at = $6, version = version + 1, schedule = $8, "
                      "schedule_anchor = $9, next_run_at = $10 "
                      "WHERE id = $1 AND tenant = $2 AND version = $7",
                      &p, &r, op)) < 0)
        return rc;
    rc = pg__changed(r) == 1;
    PQclear(r);
    if (!rc) {
        rc = pg__connector_status(conn, a->tk, c->id, op);
        return rc >= 0 ? CCF_ECONFLICT : rc;
    }
    return pg__event_connector(conn, a->tk, "connector.updated", c, c->updated_at, op);
}

int store_pg__update_connector(struct store *s, const struct ccf_tenant *t,
                               const struct ccf_connector *c, int64_t expected_version)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct update a = {.tk = tk, .c = c, .expected_version = expected_version};

    store__tenant_key(t, tk);
    return pg__write(s, update_tx, &a, "update_connector");
}

struct delete
{
    const char *tk, *id;
};

static int delete_tx(struct pg__conn *c, void *arg)
{
    const struct delete *a = arg;
    const char *op = "delete_connector";
    struct pg__params p = {0};
    struct ccf_connector gone;
    PGresult *r;
    int rc;

    /* The event's detail is the connector as it was. */
    if ((rc = load_connector(c, a->tk, a->id, &gone, op)) < 0)
        return rc;
    pg__p_text(&p, a->id);
    pg__p_text(&p, a->tk);
    /* Foreign keys cascade to jobs, documents and the checkpoint in the
     * same statement, hence the same transaction. */
    if ((rc = pg__run(c, PG__Q_CONN_DELETE,
                      "DELETE FROM connectors WHERE id = $1 AND tenant = $2 AND status = 0", &p, &r,
                      op)) < 0)
        goto out;
    rc = pg__changed(r) == 1;
    PQclear(r);
    if (!rc) {
        rc = pg__connector_status(c, a->tk, a->id, op);
        rc = rc >= 0 ? CCF_ECONFLICT : rc;
        goto out;
    }
    rc = pg__event_connector(c, a->tk, "connector.deleted", &gone, ccf_now_us(), op);
out:
    ccf_connector_clear(&gone);
    return rc;
}

int store_pg__delete_connector(struct store *s, const struct ccf_tenant *t, const char *id)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct delete a = {.tk = tk, .id = id};

    store__tenant_key(t, tk);
    return pg__write(s, delete_tx, &a, "delete_connector");
}
