/* documents.c: documents in the SQLite backend: batch upsert and delete,
 * each all or nothing (one transaction body, group.c), counted in the
 * writing job's stats in that same body, and listing by document_id. */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

/* Batches are written in key order: a WITHOUT ROWID table takes sorted keys
 * ~15x faster than random ones (DESIGN.md). strcmp orders bytewise, as
 * SQLite's BINARY collation does. */
static int cmp_doc(const void *a, const void *b)
{
    const struct ccf_document *x = *(const struct ccf_document *const *)a;
    const struct ccf_document *y = *(const struct ccf_document *const *)b;

    return strcmp(x->id, y->id);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct put_docs {
    const char *tk, *connector_id;
    const char *job_id;            /* NULL: an operator's key */
    const struct ccf_document **v; /* sorted by id */
    size_t n;
    int64_t now;
    int64_t seq; /* job_id's, once known */
    bool *same;  /* v[i] is stored with the last_job this put writes */
};

static int put_one(struct store__conn *c, sqlite3_stmt *st, const struct put_docs *a,
                   const struct ccf_document *d, const char *op)
{
    int rc, b = SQLITE_OK;

    store__bind_text(st, 1, a->connector_id, &b);
    store__bind_text(st, 2, d->id, &b);
    store__bind_text(st, 3, d->checksum, &b);
    store__bind_int(st, 4, a->now, &b);
    if (a->job_id)
        store__bind_int(st, 5, a->seq, &b);
    else
        store__bind_text(st, 5, NULL, &b); /* an operator's put: no job saw it */
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    return store__step_done(c, st, op);
}

/* Counts d as added, updated or unchanged against the stored checksum by
 * a point read: for the documents a range scan did not reach. */
static int classify_one(struct store__conn *c, sqlite3_stmt *st, const char *connector_id,
                        const struct ccf_document *d, struct store__counts *n, const char *op)
{
    const unsigned char *old;
    int rc, b = SQLITE_OK;

    store__bind_text(st, 1, connector_id, &b);
    store__bind_text(st, 2, d->id, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        n->added++;
        rc = 0;
    } else if (rc != SQLITE_ROW) {
        rc = store__fail(c, rc, "store.step_failed", op);
    } else if ((old = sqlite3_column_text(st, 0)) && strcmp((const char *)old, d->checksum) == 0) {
        n->unchanged++;
        rc = 0;
    } else {
        n->updated++;
        rc = 0;
    }
out:
    store__reset(st);
    return rc;
}

/* Rows a range scan may read per document of the batch (plus a constant)
 * before it gives way to point reads: a batch of ids spread thinly over a
 * large connector must not read every row between its first and last. */
#define SCAN_PER_DOC 4
#define SCAN_EXTRA   64

/* Whether the stored last_job (column col of st) is the one a puts. */
static bool same_writer(sqlite3_stmt *st, int col, const struct put_docs *a)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return !a->job_id;
    return a->job_id && sqlite3_column_int64(st, col) == a->seq;
}

/* Merges the stored rows from the batch's first id to its last (sorted, as
 * the batch is) with the batch: one seek and a sequential read instead of a
 * seek per document, ~25 % of a job's BatchPut (PERFORMANCE.md); it also
 * finds the documents whose last_job stays as it is (a->same). Sets *done
 * to the number of documents classified; the rest lie beyond the rows the
 * scan was allowed to read. */
static int classify_range(struct store__conn *c, struct put_docs *a, struct store__counts *n,
                          size_t *done, const char *op)
{
    sqlite3_stmt *st = NULL;
    size_t i = 0, rows = 0, limit = a->n * SCAN_PER_DOC + SCAN_EXTRA;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_DOC_RANGE,
                          "SELECT document_id, checksum, last_job FROM documents "
                          "WHERE connector_id = ?1 "
                          "AND document_id >= ?2 AND document_id <= ?3 "
                          "ORDER BY document_id LIMIT ?4",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, a->connector_id, &b);
    store__bind_text(st, 2, a->v[0]->id, &b);
    store__bind_text(st, 3, a->v[a->n - 1]->id, &b);
    store__bind_int(st, 4, (int64_t)limit, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *sum = (const char *)sqlite3_column_text(st, 1);
        int cmp = -1;

        if (!id || !sum) {
            rc = store__fail(c, SQLITE_NOMEM, "store.step_failed", op);
            goto out;
        }
        rows++;
        /* Batch ids before this row are not stored: added. */
        while (i < a->n && (cmp = strcmp(a->v[i]->id, id)) < 0) {
            n->added++;
            i++;
        }
        if (i < a->n && cmp == 0) {
            a->same[i] = same_writer(st, 2, a);
            if (strcmp(sum, a->v[i]->checksum) == 0)
                n->unchanged++;
            else
                n->updated++;
            i++;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = store__fail(c, rc, "store.step_failed", op);
        goto out;
    }
    if (rows < limit) { /* the scan reached the last id: the rest are new */
        n->added += a->n - i;
        i = a->n;
    }
    *done = i;
    rc = 0;
out:
    store__reset(st);
    return rc;
}

/* Classifies the batch against the stored checksums before it is written
 * (an operator's put only needs a->same: its counts go nowhere). Relies on
 * a->v being sorted and free of duplicates. */
static int classify(struct store__conn *c, struct put_docs *a, struct store__counts *n,
                    const char *op)
{
    sqlite3_stmt *sum = NULL;
    size_t done = 0;
    int rc;

    if (a->n == 0)
        return 0;
    if ((rc = classify_range(c, a, n, &done, op)) < 0 || done == a->n || !a->job_id)
        return rc;
    if ((rc = store__stmt(c, STORE__Q_DOC_CHECKSUM,
                          "SELECT checksum FROM documents "
                          "WHERE connector_id = ?1 AND document_id = ?2",
                          &sum, op)) < 0)
        return rc;
    for (size_t i = done; i < a->n; i++) {
        if ((rc = classify_one(c, sum, a->connector_id, a->v[i], n, op)) < 0)
            return rc;
    }
    return 0;
}

/* Writes d: a document stored with the last_job this put writes keeps its
 * index entry (an UPDATE that sets no indexed column leaves the index
 * alone), any other goes through the upsert, which moves it in the index.
 * The UPDATE's WHERE re-checks last_job, so a wrong flag costs a statement,
 * never a wrong row. */
static int write_one(struct store__conn *c, const struct put_docs *a, size_t i, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (a->same[i]) {
        if ((rc = store__stmt(c, STORE__Q_DOC_KEEP,
                              "UPDATE documents SET checksum = ?3, updated_at = ?4 "
                              "WHERE connector_id = ?1 AND document_id = ?2 AND last_job IS ?5",
                              &st, op)) < 0 ||
            (rc = put_one(c, st, a, a->v[i], op)) < 0)
            return rc;
        if (store__changes(c) == 1)
            return 0;
    }
    if ((rc = store__stmt(c, STORE__Q_DOC_PUT,
                          "INSERT INTO documents (connector_id, document_id, checksum, "
                          "created_at, updated_at, last_job) VALUES (?1, ?2, ?3, ?4, ?4, ?5) "
                          "ON CONFLICT (connector_id, document_id) DO UPDATE SET "
                          "checksum = excluded.checksum, updated_at = excluded.updated_at, "
                          "last_job = excluded.last_job",
                          &st, op)) < 0)
        return rc;
    return put_one(c, st, a, a->v[i], op);
}

/* The counts come from the rows as they were before the batch: classify
 * reads them all first, then the batch is written. */
static int put_docs_tx(struct store__conn *c, void *arg)
{
    const char *op = "put_documents";
    struct put_docs *a = arg;
    struct store__counts n = {0};
    int rc;

    memset(a->same, 0, a->n * sizeof(*a->same)); /* a retried body starts afresh */
    if ((rc = store__connector_status(c, a->tk, a->connector_id, op)) < 0 ||
        (a->job_id && (rc = store__job_seq(c, a->job_id, &a->seq, op)) < 0) ||
        (rc = classify(c, a, &n, op)) < 0)
        return rc;
    for (size_t i = 0; i < a->n; i++) {
        if ((rc = write_one(c, a, i, op)) < 0)
            return rc;
    }
    /* An operator's put counts nowhere. */
    return a->job_id ? store__job_count(c, a->seq, &n, op) : 0;
}

int store_sqlite__put_documents(struct store *s, const struct ccf_tenant *t,
                                const char *connector_id, const struct ccf_document *docs, size_t n)
{
    return store_put_documents_by(s, t, connector_id, NULL, docs, n);
}

int store_sqlite__put_documents_by(struct store *s, const struct ccf_tenant *t,
                                   const char *connector_id, const char *job_id,
                                   const struct ccf_document *docs, size_t n)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct put_docs a = {
        .tk = tk, .connector_id = connector_id, .job_id = job_id, .n = n, .now = ccf_now_us()};
    int rc;

    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    if (job_id && !ccf_job_id_valid(job_id))
        return CCF_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!docs[i].id || !docs[i].checksum)
            return CCF_EINVAL;
    }
    store__tenant_key(t, tk);
    /* Sorted here, outside the batch that other writers wait for. */
    a.v = ccf_xcalloc(n ? n : 1, sizeof(*a.v));
    a.same = ccf_xcalloc(n ? n : 1, sizeof(*a.same));
    for (size_t i = 0; i < n; i++)
        a.v[i] = &docs[i];
    qsort(a.v, n, sizeof(*a.v), cmp_doc);
    /* The API refuses duplicates; the counts rely on their absence. */
    for (size_t i = 1; i < n; i++) {
        if (strcmp(a.v[i - 1]->id, a.v[i]->id) == 0) {
            rc = CCF_EINVAL;
            goto out;
        }
    }
    rc = store__write(s, put_docs_tx, &a, "put_documents");
out:
    free(a.v);
    free(a.same);
    return rc;
}

struct delete_docs {
    const char *tk, *connector_id;
    const char *job_id; /* NULL: an operator's key */
    const char **v;     /* sorted */
    size_t n;
};

static int delete_docs_tx(struct store__conn *c, void *arg)
{
    const struct delete_docs *a = arg;
    const char *op = "delete_documents";
    struct store__counts cnt = {0};
    sqlite3_stmt *st = NULL;
    int64_t seq;
    int rc, b;

    if ((rc = store__stmt(c, STORE__Q_DOC_DELETE,
                          "DELETE FROM documents WHERE connector_id = ?1 AND document_id = ?2", &st,
                          op)) < 0 ||
        (rc = store__connector_status(c, a->tk, a->connector_id, op)) < 0)
        return rc;
    for (size_t i = 0; i < a->n; i++) {
        b = SQLITE_OK;
        store__bind_text(st, 1, a->connector_id, &b);
        store__bind_text(st, 2, a->v[i], &b);
        if ((rc = store__bind_check(c, b, op)) < 0) {
            store__reset(st);
            return rc;
        }
        if ((rc = store__step_done(c, st, op)) < 0)
            return rc;
        cnt.deleted += store__changes(c); /* only ids that existed */
    }
    if (!a->job_id)
        return 0;
    if ((rc = store__job_seq(c, a->job_id, &seq, op)) < 0)
        return rc;
    return store__job_count(c, seq, &cnt, op);
}

int store_sqlite__delete_documents(struct store *s, const struct ccf_tenant *t,
                                   const char *connector_id, const char *const *ids, size_t n)
{
    return store_delete_documents_by(s, t, connector_id, NULL, ids, n);
}

int store_sqlite__delete_documents_by(struct store *s, const struct ccf_tenant *t,
                                      const char *connector_id, const char *job_id,
                                      const char *const *ids, size_t n)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct delete_docs a = {.tk = tk, .connector_id = connector_id, .job_id = job_id, .n = n};
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
    a.v = ccf_xcalloc(n ? n : 1, sizeof(*a.v));
    if (n)
        memcpy(a.v, ids, n * sizeof(*a.v));
    qsort(a.v, n, sizeof(*a.v), cmp_str);
    rc = store__write(s, delete_docs_tx, &a, "delete_documents");
    free(a.v);
    return rc;
}

/* Row text dies at the next step, so the page's last id is copied before. */
static int visit_documents(struct store__conn *c, sqlite3_stmt *st, size_t limit,
                           store_document_fn visit, void *ctx, char **last)
{
    struct ccf_document item;
    char *last_id = NULL;
    size_t n = 0;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            *last = last_id;
            return 0;
        }
        item.id = (const char *)sqlite3_column_text(st, 0);
        item.checksum = (const char *)sqlite3_column_text(st, 1);
        item.created_at = sqlite3_column_int64(st, 2);
        item.updated_at = sqlite3_column_int64(st, 3);
        if (!item.id || !item.checksum) {
            rc = store__fail(c, SQLITE_NOMEM, "store.step_failed", "list_documents");
            goto fail;
        }
        if ((rc = visit(ctx, &item)) < 0)
            goto fail;
        if (++n == limit)
            last_id = ccf_xstrdup(item.id);
    }
    free(last_id);
    return rc == SQLITE_DONE ? 0 : store__fail(c, rc, "store.step_failed", "list_documents");
fail:
    free(last_id);
    return rc;
}

int store_sqlite__list_documents(struct store *s, const struct ccf_tenant *t,
                                 const char *connector_id, const struct store_page *p,
                                 store_document_fn visit, void *ctx, char **next)
{
    const char *op = "list_documents";
    char tk[STORE__TENANT_KEY_MAX];
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    char *last = NULL;
    int rc, b = SQLITE_OK;

    if (store__page_check(p) < 0 || (p->after && !store__doc_key_valid(p->after)))
        return CCF_EINVAL;
    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    store__tenant_key(t, tk);
    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__connector_status(c, tk, connector_id, op)) < 0 ||
        (rc = store__stmt(c, STORE__Q_DOC_LIST,
                          "SELECT document_id, checksum, created_at, updated_at FROM documents "
                          "WHERE connector_id = ?1 AND document_id > ?2 "
                          "ORDER BY document_id LIMIT ?3",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, connector_id, &b);
    store__bind_text(st, 2, p->after ? p->after : "", &b); /* every id sorts after "" */
    store__bind_int(st, 3, (int64_t)p->limit + 1, &b);
    if ((rc = store__bind_check(c, b, op)) < 0 ||
        (rc = visit_documents(c, st, p->limit, visit, ctx, &last)) < 0)
        goto out;
    if (next)
        *next = last;
    else
        free(last);
out:
    store__reset(st);
    return rc;
}
