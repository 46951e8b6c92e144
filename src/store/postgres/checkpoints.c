/* checkpoints.c: connector checkpoints in the PostgreSQL backend: an opaque
 * blob (bytea, sent and read in binary) per connector with a version.
 * checkpoints holds the current version, checkpoint_versions the older
 * ones still kept; a put moves the current one there, conditionally
 * (If-Match), trims what falls out of the history and writes its event, in
 * one transaction. Two puts on one connector take turns on its row (FOR NO
 * KEY UPDATE), so that each sees the other's version; job changes only
 * wait for them, they never conflict. */
#include "store/postgres/pg_int.h"

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

/* The current version (0 when there is no checkpoint), or CCF_ENOTFOUND
 * when the connector is not this tenant's. lock: first take the
 * connector's row until the end of the transaction, then read the version
 * in a statement of its own: under READ COMMITTED a statement that waited
 * for the lock still reads from the snapshot it began with, and would miss
 * the version the other put just committed (a checkpoint put does not
 * change the connector's row, so no re-check would see it either). */
static int current_version(struct pg__conn *c, const char *tk, const char *connector_id, bool lock,
                           int64_t *out, const char *op)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, connector_id);
    pg__p_text(&p, tk);
    if (lock) {
        if ((rc = pg__run(c, PG__Q_CP_LOCK,
                          "SELECT 1 FROM connectors WHERE id = $1 AND tenant = $2 "
                          "FOR NO KEY UPDATE",
                          &p, &r, op)) < 0)
            return rc;
        rc = PQntuples(r) == 1 ? 0 : CCF_ENOTFOUND;
        PQclear(r);
        if (rc < 0)
            return rc;
    }
    if ((rc = pg__run(c, PG__Q_CP_CURRENT,
                      "SELECT k.version FROM connectors c LEFT JOIN checkpoints k "
                      "ON k.connector_id = c.id WHERE c.id = $1 AND c.tenant = $2",
                      &p, &r, op)) < 0)
        return rc;
    rc = PQntuples(r) == 1 ? 0 : CCF_ENOTFOUND;
    if (rc == 0)
        *out = pg__int(r, 0, 0); /* NULL (no checkpoint) reads as 0 */
    PQclear(r);
    return rc;
}

static bool condition_holds(int64_t expect, int64_t current)
{
    if (expect == STORE_CP_ANY)
        return true;
    if (expect == STORE_CP_EXISTS)
        return current > 0;
    return expect == current;
}

static int put_checkpoint_tx(struct pg__conn *c, void *arg)
{
    struct put_checkpoint *a = arg;
    const char *op = "put_checkpoint";
    struct pg__params p = {0};
    int64_t cur = 0;
    int rc;

    /* The connector's 404 comes before the condition's 412. */
    if ((rc = current_version(c, a->tk, a->connector_id, true, &cur, op)) < 0)
        return rc;
    if (!condition_holds(a->expect, cur))
        return CCF_EPRECOND;
    pg__p_text(&p, a->connector_id);
    pg__p_int(&p, cur);
    if (cur > 0 && a->history > 1 &&
        (rc = pg__run(c, PG__Q_CP_KEEP,
                      "INSERT INTO checkpoint_versions "
                      "(connector_id, version, data, size, created_at) "
                      "SELECT connector_id, version, data, size, updated_at FROM checkpoints "
                      "WHERE connector_id = $1 AND version = $2 "
                      "ON CONFLICT (connector_id, version) DO UPDATE SET data = excluded.data, "
                      "size = excluded.size, created_at = excluded.created_at",
                      &p, NULL, op)) < 0)
        return rc;
    memset(&p, 0, sizeof(p));
    pg__p_text(&p, a->connector_id);
    pg__p_bytes(&p, a->data, a->len);
    pg__p_int(&p, ccf_now_us());
    pg__p_int(&p, cur + 1);
    pg__p_int(&p, (int64_t)a->len);
    if ((rc = pg__run(c, PG__Q_CP_PUT,
                      "INSERT INTO checkpoints (connector_id, data, created_at, updated_at, "
                      "version, size) VALUES ($1, $2, $3, $3, $4, $5) "
                      "ON CONFLICT (connector_id) DO UPDATE SET data = excluded.data, "
                      "updated_at = excluded.updated_at, version = excluded.version, "
                      "size = excluded.size",
                      &p, NULL, op)) < 0)
        return rc;
    /* Kept: versions cur + 1 - history + 1 .. cur + 1, the new one included. */
    memset(&p, 0, sizeof(p));
    pg__p_text(&p, a->connector_id);
    pg__p_int(&p, cur + 1 - a->history);
    if ((rc = pg__run(c, PG__Q_CP_TRIM,
                      "DELETE FROM checkpoint_versions WHERE connector_id = $1 AND version <= $2",
                      &p, NULL, op)) < 0)
        return rc;
    /* Counted only once written: a put refused by its condition did nothing. */
    if (a->job_id) {
        struct pg__counts n = {.checkpoint_puts = 1};
        int64_t seq;

        if ((rc = pg__job_seq(c, a->job_id, &seq, op)) < 0 ||
            (rc = pg__job_count(c, seq, &n, op)) < 0)
            return rc;
    }
    a->version = cur + 1;
    return pg__event_insert(c, a->tk, "checkpoint.updated", a->connector_id, NULL,
                            json_pack("{s:I}", "version", (json_int_t)a->version), op);
}

int store_pg__put_checkpoint_if(struct store *s, const struct ccf_tenant *t,
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
                               .history = pg__cp_history(s)};
    int rc;

    store__tenant_key(t, tk);
    if ((rc = pg__write(s, put_checkpoint_tx, &a, "put_checkpoint")) < 0)
        return rc;
    if (version)
        *version = a.version;
    return 0;
}

int store_pg__get_checkpoint_version(struct store *s, const struct ccf_tenant *t,
                                     const char *connector_id, int64_t version,
                                     struct ccf_checkpoint *out)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct pg__params p = {0};
    struct pg__conn *c;
    PGresult *r;
    int rc;

    store__tenant_key(t, tk);
    pg__p_text(&p, connector_id);
    pg__p_text(&p, tk);
    pg__p_int(&p, version);
    pg__p_int(&p, pg__cp_history(s));
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    /* One statement, so one snapshot: a put between two reads cannot move
     * version N from the current row to the history unseen. Numbers as
     * text so that the binary result needs no byte order. */
    rc = pg__run(c, PG__Q_CP_GET_V,
                 "SELECT k.data, k.created_at::text, k.updated_at::text, k.version::text "
                 "FROM checkpoints k JOIN connectors c ON c.id = k.connector_id "
                 "WHERE k.connector_id = $1 AND c.tenant = $2 AND ($3 = 0 OR k.version = $3) "
                 "UNION ALL "
                 "SELECT h.data, k.created_at::text, h.created_at::text, h.version::text "
                 "FROM checkpoint_versions h JOIN checkpoints k "
                 "ON k.connector_id = h.connector_id "
                 "JOIN connectors c ON c.id = k.connector_id "
                 "WHERE h.connector_id = $1 AND c.tenant = $2 AND h.version = $3 "
                 "AND h.version < k.version AND h.version > k.version - $4",
                 &p, &r, "get_checkpoint");
    pg__put(s, c);
    if (rc < 0)
        return rc;
    if (PQntuples(r) < 1) {
        PQclear(r);
        return CCF_ENOTFOUND;
    }
    /* bytea comes as text ("\x..." hex): decoded by libpq. */
    {
        size_t len = 0;
        unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &len);

        if (!raw) {
            PQclear(r);
            return CCF_ENOMEM;
        }
        memset(out, 0, sizeof(*out));
        memcpy(out->connector_id, connector_id, CCF_CONNECTOR_ID_LEN + 1);
        out->data_len = len;
        out->data = ccf_xmalloc(len + 1); /* NUL-terminated for convenience */
        if (len)
            memcpy(out->data, raw, len);
        out->data[len] = '\0';
        PQfreemem(raw);
    }
    out->created_at = pg__int(r, 0, 1);
    out->updated_at = pg__int(r, 0, 2);
    out->version = pg__int(r, 0, 3);
    PQclear(r);
    return 0;
}

int store_pg__list_checkpoint_versions(struct store *s, const struct ccf_tenant *t,
                                       const char *connector_id,
                                       const struct store__version_page *p,
                                       store_cp_version_fn visit, void *ctx, char **next)
{
    const char *op = "list_versions";
    char tk[STORE__TENANT_KEY_MAX], key[24];
    struct pg__params q = {0};
    struct store_cp_version v = {0};
    struct pg__conn *c;
    int64_t cur = 0;
    PGresult *r;
    int rc, n;

    store__tenant_key(t, tk);
    pg__p_text(&q, connector_id);
    pg__p_text(&q, tk);
    pg__p_int(&q, p->before);
    pg__p_int(&q, pg__cp_history(s));
    pg__p_int(&q, (int64_t)p->limit + 1);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = pg__run(c, PG__Q_CP_LIST_V,
                 "SELECT k.version, k.size, k.updated_at FROM checkpoints k "
                 "JOIN connectors c ON c.id = k.connector_id "
                 "WHERE k.connector_id = $1 AND c.tenant = $2 AND k.version < $3 "
                 "UNION ALL "
                 "SELECT h.version, h.size, h.created_at FROM checkpoint_versions h "
                 "JOIN checkpoints k ON k.connector_id = h.connector_id "
                 "JOIN connectors c ON c.id = k.connector_id "
                 "WHERE h.connector_id = $1 AND c.tenant = $2 AND h.version < $3 "
                 "AND h.version < k.version AND h.version > k.version - $4 "
                 "ORDER BY 1 DESC LIMIT $5",
                 &q, &r, op);
    /* An empty page: tell a missing checkpoint (404) from a page past the end. */
    if (rc == 0 && PQntuples(r) == 0 &&
        ((rc = current_version(c, tk, connector_id, false, &cur, op)) < 0 || cur == 0)) {
        rc = rc < 0 ? rc : CCF_ENOTFOUND;
        PQclear(r);
    }
    pg__put(s, c);
    if (rc < 0)
        return rc;
    n = PQntuples(r);
    for (int i = 0; i < n && (size_t)i < p->limit && rc >= 0; i++) {
        v.version = pg__int(r, i, 0);
        v.size = pg__int(r, i, 1);
        v.created_at = pg__int(r, i, 2);
        rc = visit(ctx, &v);
    }
    PQclear(r);
    if (rc < 0)
        return rc;
    if (next) {
        *next = NULL;
        if ((size_t)n > p->limit) {
            snprintf(key, sizeof(key), "%" PRId64, v.version);
            *next = ccf_xstrdup(key);
        }
    }
    return 0;
}

struct delete_checkpoint {
    const char *tk, *connector_id;
};

static int delete_checkpoint_tx(struct pg__conn *c, void *arg)
{
    const struct delete_checkpoint *a = arg;
    const char *op = "delete_checkpoint";
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, a->connector_id);
    pg__p_text(&p, a->tk);
    if ((rc = pg__run(c, PG__Q_CP_DELETE,
                      "DELETE FROM checkpoints WHERE connector_id = "
                      "(SELECT id FROM connectors WHERE id = $1 AND tenant = $2)",
                      &p, &r, op)) < 0)
        return rc;
    rc = pg__changed(r) == 1 ? 0 : CCF_ENOTFOUND;
    PQclear(r);
    if (rc < 0)
        return rc;
    /* The history goes with it: the next put is version 1 again. */
    memset(&p, 0, sizeof(p));
    pg__p_text(&p, a->connector_id);
    return pg__run(c, PG__Q_CP_DELETE_V, "DELETE FROM checkpoint_versions WHERE connector_id = $1",
                   &p, NULL, op);
}

int store_pg__delete_checkpoint(struct store *s, const struct ccf_tenant *t,
                                const char *connector_id)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct delete_checkpoint a = {.tk = tk, .connector_id = connector_id};

    store__tenant_key(t, tk);
    return pg__write(s, delete_checkpoint_tx, &a, "delete_checkpoint");
}
