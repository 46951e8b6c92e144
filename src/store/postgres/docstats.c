/* docstats.c: per-job document statistics and deletion detection in the
 * PostgreSQL backend: the job_stats row of each job that wrote with its own
 * credentials (its counts, and the seq documents.last_job names it by), and
 * the listing of a connector's documents whose latest put another job (or
 * an operator) made.
 *
 * The listing here is one statement that walks the connector's primary
 * key from `after` and skips the job's own documents: right, but a page
 * reads every seen row before it, where SQLite's merges one index range
 * per last_job value (sqlite/docstats.c). A connector that saw nearly all
 * its documents pays for that; the merge is the next step
 * (docs/DECISIONS.md). */
#include "store/postgres/pg_int.h"

#include <stdlib.h>
#include <string.h>

int pg__job_seq(struct pg__conn *c, const char *job_id, int64_t *seq, const char *op)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, job_id);
    /* The row exists after the job's first write; the foreign key refuses
     * a job that does not exist (CCF_EIO, as SQLite's). Two writers of
     * one job are serialized by the connector's document lock. */
    if ((rc = pg__run(c, PG__Q_STATS_SEQ,
                      "WITH made AS (INSERT INTO job_stats (job_id) VALUES ($1) "
                      "ON CONFLICT (job_id) DO NOTHING RETURNING seq) "
                      "SELECT seq FROM made UNION ALL "
                      "SELECT seq FROM job_stats WHERE job_id = $1",
                      &p, &r, op)) < 0)
        return rc;
    rc = PQntuples(r) >= 1 ? 0 : 1;
    if (rc == 0)
        *seq = pg__int(r, 0, 0);
    PQclear(r);
    if (rc == 0)
        return 0;
    /* Another transaction made the row while the insert waited for it: the
     * statement's snapshot is older than that commit; a new one sees it. */
    if ((rc = pg__run(c, PG__Q_STATS_SEQ2, "SELECT seq FROM job_stats WHERE job_id = $1", &p, &r,
                      op)) < 0)
        return rc;
    rc = PQntuples(r) == 1 ? 0 : CCF_EIO;
    if (rc == 0)
        *seq = pg__int(r, 0, 0);
    PQclear(r);
    return rc;
}

int pg__job_count(struct pg__conn *c, int64_t seq, const struct pg__counts *n, const char *op)
{
    struct pg__params p = {0};

    pg__p_int(&p, seq);
    pg__p_int(&p, n->added);
    pg__p_int(&p, n->updated);
    pg__p_int(&p, n->unchanged);
    pg__p_int(&p, n->deleted);
    pg__p_int(&p, n->checkpoint_puts);
    return pg__run(c, PG__Q_STATS_ADD,
                   "UPDATE job_stats SET documents_added = documents_added + $2, "
                   "documents_updated = documents_updated + $3, "
                   "documents_unchanged = documents_unchanged + $4, "
                   "documents_deleted = documents_deleted + $5, "
                   "checkpoint_puts = checkpoint_puts + $6 WHERE seq = $1",
                   &p, NULL, op);
}

/* The seq that names job_id in documents.last_job (0: it never wrote), or
 * CCF_ENOTFOUND if it is not one of this connector's jobs. */
static int unseen_job(struct pg__conn *c, const char *tk, const char *connector_id,
                      const char *job_id, int64_t *seq, const char *op)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, job_id);
    pg__p_text(&p, connector_id);
    pg__p_text(&p, tk);
    if ((rc = pg__run(c, PG__Q_UNSEEN_JOB,
                      "SELECT s.seq FROM jobs j LEFT JOIN job_stats s ON s.job_id = j.id "
                      "WHERE j.id = $1 AND j.connector_id = $2 AND j.tenant = $3",
                      &p, &r, op)) < 0)
        return rc;
    rc = PQntuples(r) == 1 ? 0 : CCF_ENOTFOUND;
    if (rc == 0)
        *seq = pg__int(r, 0, 0);
    PQclear(r);
    return rc;
}

int store_pg__list_documents_not_seen(struct store *s, const struct ccf_tenant *t,
                                      const char *connector_id, const char *job_id,
                                      const struct store_page *p, store_document_fn visit,
                                      void *ctx, char **next)
{
    const char *op = "list_documents";
    char tk[STORE__TENANT_KEY_MAX];
    struct pg__params q = {0};
    struct ccf_document item;
    struct pg__conn *c;
    int64_t seq = 0;
    PGresult *r;
    int rc, n;

    if (store__page_check(p) < 0 || (p->after && !store__doc_key_valid(p->after)))
        return CCF_EINVAL;
    if (!ccf_connector_id_valid(connector_id) || !ccf_job_id_valid(job_id))
        return CCF_ENOTFOUND;
    store__tenant_key(t, tk);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    if ((rc = pg__connector_status(c, tk, connector_id, op)) >= 0 &&
        (rc = unseen_job(c, tk, connector_id, job_id, &seq, op)) >= 0) {
        pg__p_text(&q, connector_id);
        pg__p_int(&q, seq);
        pg__p_text(&q, p->after ? p->after : ""); /* every id sorts after "" */
        pg__p_int(&q, (int64_t)p->limit + 1);
        rc = pg__run(c, PG__Q_UNSEEN_LIST,
                     "SELECT document_id, checksum, created_at, updated_at FROM documents "
                     "WHERE connector_id = $1 AND last_job IS DISTINCT FROM $2 "
                     "AND document_id > $3 ORDER BY document_id LIMIT $4",
                     &q, &r, op);
    }
    pg__put(s, c);
    if (rc < 0)
        return rc;
    n = PQntuples(r);
    rc = 0;
    for (int i = 0; i < n && (size_t)i < p->limit && rc >= 0; i++) {
        item.id = pg__str(r, i, 0);
        item.checksum = pg__str(r, i, 1);
        item.created_at = pg__int(r, i, 2);
        item.updated_at = pg__int(r, i, 3);
        rc = visit(ctx, &item);
    }
    if (rc >= 0 && next)
        *next = (size_t)n > p->limit ? pg__dup(r, (int)p->limit - 1, 0) : NULL;
    PQclear(r);
    return rc < 0 ? rc : 0;
}
