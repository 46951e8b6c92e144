/* documents.c: documents in the PostgreSQL backend: batch upsert and
 * delete, each one statement over arrays (one round trip whatever the
 * batch's size) in one transaction, and listing by document_id (COLLATE
 * "C": bytewise); a write with a job's credentials counts in its
 * statistics and marks the documents its job saw (docstats.c). */
#include "store/postgres/pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* A PostgreSQL text-array literal of v[0..n): every element quoted, '"'
 * and '\' escaped, so that any id (commas, braces, quotes) stays one
 * element. Ids are validated UTF-8 without controls; NUL cannot occur. */
static char *array_literal(const char *const *v, size_t n)
{
    size_t len = 3, k = 0;
    char *out;

    for (size_t i = 0; i < n; i++) {
        size_t add = 3; /* quotes and comma */

        for (const char *p = v[i]; *p; p++)
            add += (*p == '"' || *p == '\\') ? 2 : 1;
        if (!ccf_size_add(len, add, &len))
            return NULL;
    }
    out = ccf_xmalloc(len);
    out[k++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            out[k++] = ',';
        out[k++] = '"';
        for (const char *p = v[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                out[k++] = '\\';
            out[k++] = *p;
        }
        out[k++] = '"';
    }
    out[k++] = '}';
    out[k] = '\0';
    return out;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Document writes of one connector take turns (a transaction-level lock
 * on the connector's id), so that a batch's counts (added, updated,
 * unchanged) are read against what it then overwrites, as under SQLite's
 * one writer. Other connectors' writes do not wait. */
static int lock_documents(struct pg__conn *c, const char *connector_id, const char *op)
{
    struct pg__params p = {0};

    pg__p_text(&p, connector_id);
    return pg__run(c, PG__Q_DOC_LOCK, "SELECT pg_advisory_xact_lock(hashtextextended($1, 6513923))",
                   &p, NULL, op);
}

struct put_docs {
    const char *tk, *connector_id;
    const char *job_id;     /* NULL: an operator's key */
    const char *ids, *sums; /* array literals */
    int64_t now;
};

/* The batch's added, updated and unchanged against the stored checksums. */
static int classify(struct pg__conn *c, const struct put_docs *a, struct pg__counts *n,
                    const char *op)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, a->connector_id);
    pg__p_text(&p, a->ids);
    pg__p_text(&p, a->sums);
    if ((rc = pg__run(c, PG__Q_DOC_COUNT,
                      "SELECT count(*) FILTER (WHERE d.document_id IS NULL), "
                      "count(*) FILTER (WHERE d.checksum <> i.s), "
                      "count(*) FILTER (WHERE d.checksum = i.s) "
                      "FROM unnest($2::text[], $3::text[]) AS i(id, s) LEFT JOIN documents d "
                      "ON d.connector_id = $1 AND d.document_id = i.id",
                      &p, &r, op)) < 0)
        return rc;
    n->added = pg__int(r, 0, 0);
    n->updated = pg__int(r, 0, 1);
    n->unchanged = pg__int(r, 0, 2);
    PQclear(r);
    return 0;
}

static int put_docs_tx(struct pg__conn *c, void *arg)
{
    const struct put_docs *a = arg;
    const char *op = "put_documents";
    struct pg__counts n = {0};
    struct pg__params p = {0};
    int64_t seq = 0;
    int rc;

    if ((rc = pg__connector_status(c, a->tk, a->connector_id, op)) < 0 ||
        (rc = lock_documents(c, a->connector_id, op)) < 0 ||
        (a->job_id &&
         ((rc = pg__job_seq(c, a->job_id, &seq, op)) < 0 || (rc = classify(c, a, &n, op)) < 0)))
        return rc;
    pg__p_text(&p, a->connector_id);
    pg__p_text(&p, a->ids);
    pg__p_text(&p, a->sums);
    pg__p_int(&p, a->now);
    pg__p_time(&p, seq); /* an operator's put was seen by no job: NULL */
    /* Sorted by id: rows are locked in one order. */
    if ((rc = pg__run(c, PG__Q_DOC_PUT,
                      "INSERT INTO documents (connector_id, document_id, checksum, created_at, "
                      "updated_at, last_job) "
                      "SELECT $1, d, s, $4, $4, $5 FROM unnest($2::text[], $3::text[]) AS t(d, s) "
                      "ORDER BY d COLLATE \"C\" "
                      "ON CONFLICT (connector_id, document_id) DO UPDATE SET "
                      "checksum = excluded.checksum, updated_at = excluded.updated_at, "
                      "last_job = excluded.last_job",
                      &p, NULL, op)) < 0)
        return rc;
    /* An operator's put counts nowhere. */
    return a->job_id ? pg__job_count(c, seq, &n, op) : 0;
}

int store_pg__put_documents_by(struct store *s, const struct ccf_tenant *t,
                               const char *connector_id, const char *job_id,
                               const struct ccf_document *docs, size_t n)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct put_docs a = {
        .tk = tk, .connector_id = connector_id, .job_id = job_id, .now = ccf_now_us()};
    const char **ids = NULL, **sums = NULL;
    char *id_lit = NULL, *sum_lit = NULL;
    int rc = CCF_EINVAL;

    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    if (job_id && !ccf_job_id_valid(job_id))
        return CCF_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!docs[i].id || !docs[i].checksum)
            return CCF_EINVAL;
    }
    store__tenant_key(t, tk);
    ids = ccf_xcalloc(n ? n : 1, sizeof(*ids));
    sums = ccf_xcalloc(n ? n : 1, sizeof(*sums));
    for (size_t i = 0; i < n; i++)
        ids[i] = docs[i].id;
    /* The API refuses duplicates; an upsert of two rows with one key in
     * one statement would fail, and the counts rely on their absence. */
    qsort(ids, n, sizeof(*ids), cmp_str);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(ids[i - 1], ids[i]) == 0)
            goto out;
    }
    for (size_t i = 0; i < n; i++) {
        ids[i] = docs[i].id;
        sums[i] = docs[i].checksum;
    }
    if (!(id_lit = array_literal(ids, n)) || !(sum_lit = array_literal(sums, n)))
        goto out;
    a.ids = id_lit;
    a.sums = sum_lit;
    rc = pg__write(s, put_docs_tx, &a, "put_documents");
out:
    free(id_lit);
    free(sum_lit);
    free(ids);
    free(sums);
    return rc;
}

int store_pg__put_documents(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                            const struct ccf_document *docs, size_t n)
{
    return store_pg__put_documents_by(s, t, connector_id, NULL, docs, n);
}

struct delete_docs {
    const char *tk, *connector_id, *job_id, *ids;
};

static int delete_docs_tx(struct pg__conn *c, void *arg)
{
    const struct delete_docs *a = arg;
    const char *op = "delete_documents";
    struct pg__counts n = {0};
    struct pg__params p = {0};
    PGresult *r;
    int64_t seq;
    int rc;

    if ((rc = pg__connector_status(c, a->tk, a->connector_id, op)) < 0 ||
        (rc = lock_documents(c, a->connector_id, op)) < 0)
        return rc;
    pg__p_text(&p, a->connector_id);
    pg__p_text(&p, a->ids);
    if ((rc = pg__run(c, PG__Q_DOC_DELETE,
                      "DELETE FROM documents WHERE connector_id = $1 "
                      "AND document_id = ANY ($2::text[])",
                      &p, &r, op)) < 0)
        return rc;
    n.deleted = pg__changed(r); /* only ids that existed */
    PQclear(r);
    if (!a->job_id)
        return 0;
    if ((rc = pg__job_seq(c, a->job_id, &seq, op)) < 0)
        return rc;
    return pg__job_count(c, seq, &n, op);
}

int store_pg__delete_documents_by(struct store *s, const struct ccf_tenant *t,
                                  const char *connector_id, const char *job_id,
                                  const char *const *ids, size_t n)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct delete_docs a = {.tk = tk, .connector_id = connector_id, .job_id = job_id};
    char *lit;
    int rc;

    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    if (job_id && !ccf_job_id_valid(job_id))
        return CCF_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!ids[i])
            return CCF_EINVAL;
    }
    store__tenant_key(t, tk);
    if (!(lit = array_literal(ids, n)))
        return CCF_EINVAL;
    a.ids = lit;
    rc = pg__write(s, delete_docs_tx, &a, "delete_documents");
    free(lit);
    return rc;
}

int store_pg__delete_documents(struct store *s, const struct ccf_tenant *t,
                               const char *connector_id, const char *const *ids, size_t n)
{
    return store_pg__delete_documents_by(s, t, connector_id, NULL, ids, n);
}

int store_pg__list_documents(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                             const struct store_page *p, store_document_fn visit, void *ctx,
                             char **next)
{
    const char *op = "list_documents";
    char tk[STORE__TENANT_KEY_MAX];
    struct pg__params q = {0};
    struct ccf_document item;
    struct pg__conn *c;
    PGresult *r;
    int rc, n;

    if (store__page_check(p) < 0 || (p->after && !store__doc_key_valid(p->after)))
        return CCF_EINVAL;
    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    store__tenant_key(t, tk);
    pg__p_text(&q, connector_id);
    pg__p_text(&q, p->after ? p->after : ""); /* every id sorts after "" */
    pg__p_int(&q, (int64_t)p->limit + 1);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    if ((rc = pg__connector_status(c, tk, connector_id, op)) >= 0)
        rc = pg__run(c, PG__Q_DOC_LIST,
                     "SELECT document_id, checksum, created_at, updated_at FROM documents "
                     "WHERE connector_id = $1 AND document_id > $2 "
                     "ORDER BY document_id LIMIT $3",
                     &q, &r, op);
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
