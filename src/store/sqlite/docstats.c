/* docstats.c: per-job document statistics and deletion detection in the
 * SQLite backend: the job_stats row of each job that wrote with its own
 * credentials (its counts, and the seq documents.last_job names it by), and
 * the listing of a connector's documents whose latest put another job (or
 * an operator) made.
 *
 * The listing: "last_job IS NOT J" is not one range of any index ordered by
 * document_id, and walking the primary key skipping J's documents reads
 * every seen row (99 % of a full-scan connector) per page. The index
 * (connector_id, last_job, document_id) holds one range per last_job value,
 * each ordered by document_id; a page is a k-way merge of the ranges of the
 * values other than J (NULL included), each read from `after` on. A page
 * costs about (k + page) index seeks, whatever the share of unseen
 * documents; k, the number of jobs that were last to put some document, is
 * small when connectors delete what they did not see (DECISIONS.md). */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#define BATCH_MAX 256 /* rows read from one range at once */

int store__job_seq(struct store__conn *c, const char *job_id, int64_t *seq, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    /* Read first: the row exists after the job's first write, every later
     * batch only reads it. */
    if ((rc = store__stmt(c, STORE__Q_STATS_SEQ, "SELECT seq FROM job_stats WHERE job_id = ?1", &st,
                          op)) < 0)
        return rc;
    store__bind_text(st, 1, job_id, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        rc = 0;
        goto out;
    }
    if (rc != SQLITE_DONE) {
        rc = store__fail(c, rc, "store.step_failed", op);
        goto out;
    }
    store__reset(st);
    /* The foreign key refuses a job that does not exist. */
    if ((rc = store__stmt(c, STORE__Q_STATS_NEW,
                          "INSERT INTO job_stats (job_id) VALUES (?1) RETURNING seq", &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, job_id, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        rc = store__fail(c, rc, "store.step_failed", op);
        goto out;
    }
    *seq = sqlite3_column_int64(st, 0);
    /* RETURNING: the insert is only complete once stepped to the end. */
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store__fail(c, rc, "store.step_failed", op);
out:
    store__reset(st);
    return rc;
}

int store__job_count(struct store__conn *c, int64_t seq, const struct store__counts *n,
                     const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_STATS_ADD,
                          "UPDATE job_stats SET documents_added = documents_added + ?2, "
                          "documents_updated = documents_updated + ?3, "
                          "documents_unchanged = documents_unchanged + ?4, "
                          "documents_deleted = documents_deleted + ?5, "
                          "checkpoint_puts = checkpoint_puts + ?6 WHERE seq = ?1",
                          &st, op)) < 0)
        return rc;
    store__bind_int(st, 1, seq, &b);
    store__bind_int(st, 2, n->added, &b);
    store__bind_int(st, 3, n->updated, &b);
    store__bind_int(st, 4, n->unchanged, &b);
    store__bind_int(st, 5, n->deleted, &b);
    store__bind_int(st, 6, n->checkpoint_puts, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    return store__step_done(c, st, op);
}

int store__job_stats_fill(struct store__conn *c, struct ccf_job *j, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    memset(&j->stats, 0, sizeof(j->stats));
    j->has_stats = j->started_at != 0; /* set when it reached RUNNING */
    if (!j->has_stats)
        return 0;
    if ((rc = store__stmt(c, STORE__Q_STATS_GET,
                          "SELECT documents_added, documents_updated, documents_unchanged, "
                          "documents_deleted, checkpoint_puts FROM job_stats WHERE job_id = ?1",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, j->id, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        j->stats.documents_added = sqlite3_column_int64(st, 0);
        j->stats.documents_updated = sqlite3_column_int64(st, 1);
        j->stats.documents_unchanged = sqlite3_column_int64(st, 2);
        j->stats.documents_deleted = sqlite3_column_int64(st, 3);
        j->stats.checkpoint_puts = sqlite3_column_int64(st, 4);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? 0 : store__fail(c, rc, "store.step_failed", op);
    }
out:
    store__reset(st);
    return rc;
}

/* ---- the documents not seen by a job ---- */

struct row {
    char *id, *checksum;
    int64_t created_at, updated_at;
};

/* One last_job value's range of the index, read in batches. */
struct range {
    int64_t value; /* a job's seq; 0 with is_null */
    bool is_null;
    bool done; /* no rows beyond those in buf */
    struct row *buf;
    size_t n, pos, batch;
};

struct merge {
    struct store__conn *c;
    const char *connector_id;
    int64_t seen; /* the job's seq: its range is skipped */
    struct range *r;
    size_t nr, cap;
    size_t *heap; /* indexes of ranges with a current row, by that row's id */
    size_t nheap;
};

static void range_drop_rows(struct range *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->buf[i].id);
        free(g->buf[i].checksum);
    }
    free(g->buf);
    g->buf = NULL;
    g->n = g->pos = 0;
}

static int copy_row(sqlite3_stmt *st, struct row *out)
{
    const char *id = (const char *)sqlite3_column_text(st, 0);
    const char *sum = (const char *)sqlite3_column_text(st, 1);

    if (!id || !sum)
        return CCF_EIO;
    out->id = ccf_xstrdup(id);
    out->checksum = ccf_xstrdup(sum);
    out->created_at = sqlite3_column_int64(st, 2);
    out->updated_at = sqlite3_column_int64(st, 3);
    return 0;
}

/* Replaces g's rows with up to g->batch rows of its range after `after`.
 * after is borrowed and may point into the rows being replaced. */
static int range_fetch(struct merge *m, struct range *g, const char *after, const char *op)
{
    sqlite3_stmt *st = NULL;
    char *from = ccf_xstrdup(after);
    int rc, b = SQLITE_OK;

    range_drop_rows(g);
    if ((rc = store__stmt(m->c, STORE__Q_UNSEEN_GROUP, STORE__SQL_UNSEEN_RANGE, &st, op)) < 0)
        goto out;
    store__bind_text(st, 1, m->connector_id, &b);
    if (g->is_null)
        store__bind_text(st, 2, NULL, &b);
    else
        store__bind_int(st, 2, g->value, &b);
    store__bind_text(st, 3, from, &b);
    store__bind_int(st, 4, (int64_t)g->batch, &b);
    if ((rc = store__bind_check(m->c, b, op)) < 0)
        goto out;
    g->buf = ccf_xcalloc(g->batch, sizeof(*g->buf));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (copy_row(st, &g->buf[g->n]) < 0) {
            rc = store__fail(m->c, SQLITE_NOMEM, "store.step_failed", op);
            goto out;
        }
        g->n++;
    }
    g->done = g->n < g->batch;
    rc = rc == SQLITE_DONE ? 0 : store__fail(m->c, rc, "store.step_failed", op);
out:
    store__reset(st);
    free(from);
    return rc;
}

static const char *head_id(const struct merge *m, size_t h)
{
    const struct range *g = &m->r[m->heap[h]];

    return g->buf[g->pos].id;
}

static void heap_down(struct merge *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i, t;

        if (l < m->nheap && strcmp(head_id(m, l), head_id(m, min)) < 0)
            min = l;
        if (r < m->nheap && strcmp(head_id(m, r), head_id(m, min)) < 0)
            min = r;
        if (min == i)
            return;
        t = m->heap[i];
        m->heap[i] = m->heap[min];
        m->heap[min] = t;
        i = min;
    }
}

static void add_range(struct merge *m, bool is_null, int64_t value)
{
    if (m->nr == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 8;
        m->r = realloc(m->r, m->cap * sizeof(*m->r));
        if (!m->r)
            abort(); /* as ccf_xmalloc */
    }
    memset(&m->r[m->nr], 0, sizeof(m->r[m->nr]));
    m->r[m->nr].is_null = is_null;
    m->r[m->nr].value = value;
    m->r[m->nr].batch = 1; /* grows for a range that gives many rows */
    m->nr++;
}

/* The NULL range and one range per distinct last_job other than m->seen,
 * found by skipping from value to value in the index. */
static int find_ranges(struct merge *m, const char *op)
{
    sqlite3_stmt *st = NULL;
    int64_t v = 0; /* seqs start at 1 */
    int rc, b;

    add_range(m, true, 0);
    if ((rc = store__stmt(m->c, STORE__Q_UNSEEN_VALUE, STORE__SQL_UNSEEN_VALUE, &st, op)) < 0)
        return rc;
    for (;;) {
        b = SQLITE_OK;
        store__bind_text(st, 1, m->connector_id, &b);
        store__bind_int(st, 2, v, &b);
        if ((rc = store__bind_check(m->c, b, op)) < 0)
            break;
        if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
            rc = rc == SQLITE_DONE ? 0 : store__fail(m->c, rc, "store.step_failed", op);
            break;
        }
        v = sqlite3_column_int64(st, 0);
        store__reset(st);
        if (v != m->seen)
            add_range(m, false, v);
    }
    store__reset(st);
    return rc;
}

/* Fills the heap with the ranges that have a row after `after`. */
static int merge_start(struct merge *m, const char *after, const char *op)
{
    int rc;

    if ((rc = find_ranges(m, op)) < 0)
        return rc;
    m->heap = ccf_xcalloc(m->nr, sizeof(*m->heap));
    for (size_t i = 0; i < m->nr; i++) {
        if ((rc = range_fetch(m, &m->r[i], after, op)) < 0)
            return rc;
        if (m->r[i].n > 0)
            m->heap[m->nheap++] = i;
    }
    for (size_t i = m->nheap / 2; i-- > 0;)
        heap_down(m, i);
    return 0;
}

/* Moves the top range past its current row, reading on when its batch is
 * used up; want is how many more rows the page can take. */
static int merge_advance(struct merge *m, size_t want, const char *op)
{
    struct range *g = &m->r[m->heap[0]];
    int rc;

    if (++g->pos == g->n) {
        if (g->done) {
            range_drop_rows(g);
        } else {
            g->batch = g->batch * 2 < BATCH_MAX ? g->batch * 2 : BATCH_MAX;
            if (g->batch > want)
                g->batch = want > 0 ? want : 1;
            if ((rc = range_fetch(m, g, g->buf[g->pos - 1].id, op)) < 0)
                return rc;
        }
    }
    if (g->pos == g->n)
        m->heap[0] = m->heap[--m->nheap];
    if (m->nheap > 0)
        heap_down(m, 0);
    return 0;
}

static void merge_free(struct merge *m)
{
    for (size_t i = 0; i < m->nr; i++)
        range_drop_rows(&m->r[i]);
    free(m->r);
    free(m->heap);
}

/* Row text dies when its range reads on, so the page's last id is copied. */
static int merge_page(struct merge *m, const struct store_page *p, store_document_fn visit,
                      void *ctx, char **next, const char *op)
{
    struct ccf_document item;
    char *last = NULL;
    size_t n = 0;
    int rc;

    if ((rc = merge_start(m, p->after ? p->after : "", op)) < 0)
        return rc;
    while (m->nheap > 0) {
        const struct range *g = &m->r[m->heap[0]];
        const struct row *r = &g->buf[g->pos];

        if (n == p->limit) { /* one more exists: the page ends here */
            *next = last;
            return 0;
        }
        item = (struct ccf_document){r->id, r->checksum, r->created_at, r->updated_at};
        if ((rc = visit(ctx, &item)) < 0)
            goto out;
        if (++n == p->limit)
            last = ccf_xstrdup(r->id);
        if ((rc = merge_advance(m, p->limit + 1 - n, op)) < 0)
            goto out;
    }
out:
    free(last);
    return rc;
}

/* 0 and *seq (0: the job never wrote) if job_id is one of the connector's
 * jobs, CCF_ENOTFOUND if not. */
static int unseen_job(struct store__conn *c, const char *tk, const char *connector_id,
                      const char *job_id, int64_t *seq, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_UNSEEN_JOB,
                          "SELECT s.seq FROM jobs j LEFT JOIN job_stats s ON s.job_id = j.id "
                          "WHERE j.id = ?1 AND j.connector_id = ?2 AND j.tenant = ?3",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, job_id, &b);
    store__bind_text(st, 2, connector_id, &b);
    store__bind_text(st, 3, tk, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    if ((rc = store__step_row(c, st, op)) == 0)
        *seq = sqlite3_column_int64(st, 0); /* NULL reads as 0 */
out:
    store__reset(st);
    return rc;
}

/* One read transaction for the page: a document whose last_job changes
 * while the ranges are read is then seen in one range only. */
static int list_unseen(struct store__conn *c, const char *tk, const char *connector_id,
                       const char *job_id, const struct store_page *p, store_document_fn visit,
                       void *ctx, char **next)
{
    const char *op = "list_documents";
    struct merge m = {.c = c, .connector_id = connector_id};
    int rc;

    if ((rc = sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
        return store__fail(c, rc, "store.begin_failed", op);
    if ((rc = store__connector_status(c, tk, connector_id, op)) >= 0 &&
        (rc = unseen_job(c, tk, connector_id, job_id, &m.seen, op)) >= 0)
        rc = merge_page(&m, p, visit, ctx, next, op);
    merge_free(&m);
    /* Nothing was written: COMMIT and ROLLBACK only end the snapshot. */
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int store_sqlite__list_documents_not_seen(struct store *s, const struct ccf_tenant *t,
                                          const char *connector_id, const char *job_id,
                                          const struct store_page *p, store_document_fn visit,
                                          void *ctx, char **next)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct store__conn *c;
    char *last = NULL;
    int rc;

    if (store__page_check(p) < 0 || (p->after && !store__doc_key_valid(p->after)))
        return CCF_EINVAL;
    if (!ccf_connector_id_valid(connector_id) || !ccf_job_id_valid(job_id))
        return CCF_ENOTFOUND;
    store__tenant_key(t, tk);
    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = list_unseen(c, tk, connector_id, job_id, p, visit, ctx, &last)) < 0)
        return rc;
    if (next)
        *next = last;
    else
        free(last);
    return 0;
}
