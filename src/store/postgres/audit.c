/* audit.c: the audit log of the PostgreSQL backend: a record written in the
 * transaction of the request it describes (store_audited_write runs the
 * request's writes as one transaction body: pg.c nests them), records of
 * refused requests written in batches, the tenant's reads in seq order
 * with an expiry mark as for events, and pruning by age. Records take the
 * outbox's lock before drawing their seq (changes.c), so that seq order is
 * commit order here too. */
#include "store/postgres/pg_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define PRUNED_KEY "audit_pruned_upto"

/* A field as PostgreSQL takes it: every byte past ASCII becomes '?'. The
 * fields are ids, addresses and names in ASCII when well formed, but some
 * come from a refused request as it was sent (an access key id), and text
 * that is not UTF-8 would fail the insert, and with it the write it
 * records. */
static const char *ascii(const char *in, char *out, size_t n)
{
    size_t i = 0;

    for (; in[i] && i + 1 < n; i++)
        out[i] = (unsigned char)in[i] < 0x80 ? in[i] : '?';
    out[i] = '\0';
    return out;
}

static int insert_one(struct pg__conn *c, const struct store_audit *r, const char *op)
{
    char tk[STORE__TENANT_KEY_MAX], req[sizeof(r->request_id)], oper[sizeof(r->operation)];
    char key[sizeof(r->access_key_id)], pj[sizeof(r->principal_job)], ip[sizeof(r->source_ip)];
    char cid[sizeof(r->connector_id)], jid[sizeof(r->job_id)], err[sizeof(r->error_type)];
    struct pg__params p = {0};
    int rc;

    if ((rc = pg__outbox_lock(c, op)) < 0)
        return rc;
    store__tenant_key(&r->tenant, tk);
    pg__p_text(&p, tk);
    pg__p_int(&p, r->at ? r->at : ccf_now_us());
    pg__p_text(&p, ascii(r->request_id, req, sizeof(req)));
    pg__p_text(&p, ascii(r->operation, oper, sizeof(oper)));
    pg__p_text(&p, ascii(r->access_key_id, key, sizeof(key)));
    pg__p_text(&p, r->principal_job[0] ? ascii(r->principal_job, pj, sizeof(pj)) : NULL);
    pg__p_text(&p, ascii(r->source_ip, ip, sizeof(ip)));
    pg__p_text(&p, r->connector_id[0] ? ascii(r->connector_id, cid, sizeof(cid)) : NULL);
    pg__p_text(&p, r->job_id[0] ? ascii(r->job_id, jid, sizeof(jid)) : NULL);
    pg__p_int(&p, r->status);
    pg__p_text(&p, r->error_type[0] ? ascii(r->error_type, err, sizeof(err)) : NULL);
    return pg__run(c, PG__Q_AUDIT_INSERT,
                   "INSERT INTO audit_events (tenant, at, request_id, operation, access_key_id, "
                   "principal_job, source_ip, connector_id, job_id, status, error_type) "
                   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                   &p, NULL, op);
}

struct audited {
    int (*fn)(void *ctx, struct store_audit *rec);
    void *ctx;
    struct store_audit *rec;
};

/* fn's own writes and reads run in this body's transaction (pg.c), so the
 * record and the effect commit together. */
static int audited_tx(struct pg__conn *c, void *arg)
{
    struct audited *a = arg;
    int rc, fn_rc;

    a->rec->status = 0;
    if ((fn_rc = a->fn(a->ctx, a->rec)) < 0)
        return fn_rc;
    if (a->rec->status != 0 && (rc = insert_one(c, a->rec, "audit")) < 0)
        return rc;
    return fn_rc;
}

int store_pg__audited_write(struct store *s, int (*fn)(void *ctx, struct store_audit *rec),
                            void *ctx, struct store_audit *rec)
{
    struct audited a = {.fn = fn, .ctx = ctx, .rec = rec};

    return pg__write(s, audited_tx, &a, "audited_write");
}

struct append {
    const struct store_audit *recs;
    size_t n;
};

static int append_tx(struct pg__conn *c, void *arg)
{
    const struct append *a = arg;
    int rc;

    for (size_t i = 0; i < a->n; i++) {
        if ((rc = insert_one(c, &a->recs[i], "audit_append")) < 0)
            return rc;
    }
    return 0;
}

int store_pg__audit_append(struct store *s, const struct store_audit *recs, size_t n)
{
    struct append a = {.recs = recs, .n = n};

    if (n == 0)
        return 0;
    return pg__write(s, append_tx, &a, "audit_append");
}

static void copy_col(PGresult *r, int i, int col, char *out, size_t size)
{
    const char *v = pg__str(r, i, col);
    size_t n = v ? strlen(v) : 0;

    if (n >= size)
        n = size - 1; /* cannot happen: every field was bounded when written */
    memcpy(out, v ? v : "", n);
    out[n] = '\0';
}

static void row_audit(PGresult *r, int i, const struct ccf_tenant *t, struct store_audit *a)
{
    memset(a, 0, sizeof(*a));
    a->tenant = *t;
    a->seq = pg__int(r, i, 0);
    a->at = pg__int(r, i, 1);
    copy_col(r, i, 2, a->request_id, sizeof(a->request_id));
    copy_col(r, i, 3, a->operation, sizeof(a->operation));
    copy_col(r, i, 4, a->access_key_id, sizeof(a->access_key_id));
    copy_col(r, i, 5, a->principal_job, sizeof(a->principal_job));
    copy_col(r, i, 6, a->source_ip, sizeof(a->source_ip));
    copy_col(r, i, 7, a->connector_id, sizeof(a->connector_id));
    copy_col(r, i, 8, a->job_id, sizeof(a->job_id));
    a->status = (int)pg__int(r, i, 9);
    copy_col(r, i, 10, a->error_type, sizeof(a->error_type));
}

int store_pg__read_audit(struct store *s, const struct ccf_tenant *t, int64_t after, size_t max,
                         struct store_audit *out, int64_t *next)
{
    const char *op = "read_audit";
    char tk[STORE__TENANT_KEY_MAX];
    struct pg__params p = {0};
    struct pg__conn *c;
    int64_t pruned, last;
    PGresult *r;
    int rc, n = 0;

    if (max == 0 || max > INT_MAX || !out || after < -1)
        return CCF_EINVAL;
    store__tenant_key(t, tk);
    pg__p_text(&p, tk);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    /* The tenant's end first, as for events: a record committed after it
     * is for the next call, so that next never skips one. */
    if ((rc = pg__run(c, PG__Q_AUDIT_LAST,
                      "SELECT COALESCE((SELECT convert_from(value, 'UTF8')::bigint FROM meta "
                      "WHERE key = '" PRUNED_KEY "'), 0), "
                      "COALESCE((SELECT max(seq) FROM audit_events WHERE tenant = $1), 0)",
                      &p, &r, op)) < 0)
        goto out;
    pruned = pg__int(r, 0, 0);
    last = pg__int(r, 0, 1);
    PQclear(r);
    if (after >= 0 && after < pruned) {
        rc = CCF_EEXPIRED;
        goto out;
    }
    if (after < pruned)
        after = pruned;
    pg__p_int(&p, after);
    pg__p_int(&p, last);
    pg__p_int(&p, (int64_t)max);
    if ((rc = pg__run(c, PG__Q_AUDIT_READ,
                      "SELECT seq, at, request_id, operation, access_key_id, principal_job, "
                      "source_ip, connector_id, job_id, status, error_type FROM audit_events "
                      "WHERE tenant = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
                      &p, &r, op)) < 0)
        goto out;
    n = PQntuples(r);
    for (int i = 0; i < n && (size_t)i < max; i++)
        row_audit(r, i, t, &out[i]);
    PQclear(r);
    *next = (size_t)n == max ? out[n - 1].seq : (last > after ? last : after);
    rc = n;
out:
    pg__put(s, c);
    return rc;
}

/* Records are cut at the first one still young (at follows seq closely),
 * and the highest seq cut becomes the expiry mark; one statement. An
 * identity never goes back, so nothing needs to stay behind. */
static int prune_tx(struct pg__conn *c, void *arg)
{
    const int64_t *before = arg;
    struct pg__params p = {0};

    pg__p_int(&p, *before);
    return pg__run(
        c, PG__Q_AUDIT_PRUNE,
        "WITH cut AS (SELECT COALESCE((SELECT seq FROM audit_events WHERE at >= $1 "
        "  ORDER BY seq LIMIT 1), (SELECT max(seq) + 1 FROM audit_events), 0) - 1 AS seq), "
        "gone AS (DELETE FROM audit_events WHERE seq <= (SELECT seq FROM cut) RETURNING seq) "
        "INSERT INTO meta (key, value) SELECT '" PRUNED_KEY "', "
        "  convert_to((SELECT seq FROM cut)::text, 'UTF8') WHERE EXISTS (SELECT 1 FROM gone) "
        "ON CONFLICT (key) DO UPDATE SET value = convert_to(GREATEST("
        "  convert_from(meta.value, 'UTF8')::bigint, "
        "  convert_from(excluded.value, 'UTF8')::bigint)::text, 'UTF8')",
        &p, NULL, "prune_audit");
}

int store_pg__prune_audit(struct store *s, int64_t before)
{
    return pg__write(s, prune_tx, &before, "prune_audit");
}
