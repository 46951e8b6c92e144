/* docstats.c: what deletion detection costs (`make bench-docstats`).
 * (1) BatchPut before and after, same run: 1000-document transactions
 *     (sorted ids) of the schema and statements ccfd used before
 *     (documents without last_job, plain upsert) and of today's (the
 *     last_job column and its index, the checksum read that classifies each
 *     put, the stats update), on fresh files, synchronous=NORMAL, so that
 *     the number is CPU and page writes, not fsync;
 * (2) through the store: one connector with N documents (default
 *     1,000,000), job A puts all, then jobs B1, B50, B99 put all but 1 %,
 *     50 % and 99 % of them; time per page of 1000 documents not seen by
 *     each, and of the plain listing.
 * Prints one JSON object. Usage: docstats DIR [N] */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"

#define BATCH 1000
#define PAGES 20

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "docstats: %s failed (%d)\n", what, rc);
    exit(1);
}

static void exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "sqlite: %s\n", err ? err : "?");
        exit(1);
    }
}

static void doc_id(char *out, size_t size, long i)
{
    snprintf(out, size, "docs/file-%08ld.txt", i); /* sorted, as ccfd sorts a batch */
}

/* docs/s of `batches` transactions of BATCH upserts (ids sorted), each doc
 * put twice (an add, then an unchanged put), with the old or the new SQL. */
static double raw_puts(const char *path, bool with_last_job, int batches)
{
    static const char *const old_schema =
        "CREATE TABLE documents (connector_id TEXT NOT NULL, document_id TEXT NOT NULL,"
        " checksum TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
        " PRIMARY KEY (connector_id, document_id)) WITHOUT ROWID;";
    static const char *const new_schema =
        "CREATE TABLE documents (connector_id TEXT NOT NULL, document_id TEXT NOT NULL,"
        " checksum TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
        " last_job INTEGER, PRIMARY KEY (connector_id, document_id)) WITHOUT ROWID;"
        "CREATE INDEX documents_by_last_job ON documents (connector_id, last_job, document_id);"
        "CREATE TABLE job_stats (seq INTEGER PRIMARY KEY, documents_added INTEGER DEFAULT 0,"
        " documents_unchanged INTEGER DEFAULT 0);"
        "INSERT INTO job_stats (seq) VALUES (1);";
    sqlite3 *db;
    sqlite3_stmt *up, *sum = NULL, *stats = NULL;
    char id[64];
    double t0, dt;

    remove(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("open", 0);
    exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
    exec(db, with_last_job ? new_schema : old_schema);
    sqlite3_prepare_v2(db,
                       with_last_job
                           ? "INSERT INTO documents VALUES (?1, ?2, ?3, ?4, ?4, 1) ON CONFLICT "
                             "(connector_id, document_id) DO UPDATE SET checksum = "
                             "excluded.checksum, updated_at = excluded.updated_at, last_job = "
                             "excluded.last_job"
                           : "INSERT INTO documents VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT "
                             "(connector_id, document_id) DO UPDATE SET checksum = "
                             "excluded.checksum, updated_at = excluded.updated_at",
                       -1, &up, NULL);
    if (with_last_job) {
        sqlite3_prepare_v2(db,
                           "SELECT checksum FROM documents WHERE connector_id = ?1 AND "
                           "document_id = ?2",
                           -1, &sum, NULL);
        sqlite3_prepare_v2(db,
                           "UPDATE job_stats SET documents_added = documents_added + ?1 "
                           "WHERE seq = 1",
                           -1, &stats, NULL);
    }
    t0 = now_s();
    for (int pass = 0; pass < 2; pass++) {
        for (int b = 0; b < batches; b++) {
            exec(db, "BEGIN IMMEDIATE");
            for (int i = 0; i < BATCH; i++) {
                doc_id(id, sizeof(id), (long)b * BATCH + i);
                if (sum) {
                    sqlite3_bind_text(sum, 1, "cc-0123456789ab", -1, SQLITE_STATIC);
                    sqlite3_bind_text(sum, 2, id, -1, SQLITE_STATIC);
                    sqlite3_step(sum);
                    sqlite3_reset(sum);
                }
                sqlite3_bind_text(up, 1, "cc-0123456789ab", -1, SQLITE_STATIC);
                sqlite3_bind_text(up, 2, id, -1, SQLITE_STATIC);
                sqlite3_bind_text(up, 3, "0123456789abcdef0123456789abcdef", -1, SQLITE_STATIC);
                sqlite3_bind_int64(up, 4, 1700000000000000LL);
                if (sqlite3_step(up) != SQLITE_DONE)
                    die("upsert", sqlite3_errcode(db));
                sqlite3_reset(up);
            }
            if (stats) {
                sqlite3_bind_int(stats, 1, BATCH);
                sqlite3_step(stats);
                sqlite3_reset(stats);
            }
            exec(db, "COMMIT");
        }
    }
    dt = now_s() - t0;
    sqlite3_finalize(up);
    sqlite3_finalize(sum);
    sqlite3_finalize(stats);
    sqlite3_close(db);
    return 2.0 * batches * BATCH / dt;
}

struct fx {
    struct store *s;
    struct ccf_tenant t;
    char cid[CCF_CONNECTOR_ID_LEN + 1];
    char (*ids)[64];
    long n;
};

static void run_job(struct fx *f, char jid[CCF_JOB_ID_LEN + 1])
{
    struct store_transition run = {.from_mask = 1u << CCF_JOB_STARTED, .to = CCF_JOB_RUNNING};
    struct store_transition end = {.from_mask = 1u << CCF_JOB_RUNNING, .to = CCF_JOB_SUCCEEDED};
    struct ccf_job j;
    int rc;

    if ((rc = store_start_job(f->s, &f->t, f->cid, NULL, &j)) < 0)
        die("start_job", rc);
    memcpy(jid, j.id, CCF_JOB_ID_LEN + 1);
    ccf_job_clear(&j);
    store_transition_job(f->s, &f->t, f->cid, jid, &run, NULL);
    store_transition_job(f->s, &f->t, f->cid, jid, &end, NULL);
}

/* Job jid puts every document i with i % 100 >= skip; returns docs/s. */
static double put_all_but(struct fx *f, const char *jid, int skip)
{
    struct ccf_document d[BATCH];
    double t0 = now_s();
    long total = 0;
    int n = 0, rc;

    for (long i = 0; i < f->n; i++) {
        if (i % 100 < skip)
            continue;
        d[n++] = (struct ccf_document){.id = f->ids[i],
                                       .checksum = "0123456789abcdef0123456789ab"
                                                   "cdef"};
        if (n == BATCH || i == f->n - 1) {
            if ((rc = store_put_documents_by(f->s, &f->t, f->cid, jid, d, (size_t)n)) < 0)
                die("put", rc);
            total += n;
            n = 0;
        }
    }
    if (n && (rc = store_put_documents_by(f->s, &f->t, f->cid, jid, d, (size_t)n)) < 0)
        die("put", rc);
    return (double)(total + n) / (now_s() - t0);
}

static int count(void *ctx, const struct ccf_document *d)
{
    (void)d;
    (*(long *)ctx)++;
    return 0;
}

/* ms per page of BATCH over PAGES pages from the start (jid NULL: plain). */
static void page_times(struct fx *f, const char *jid, double *avg, double *max)
{
    char *after = NULL, *next = NULL;
    double sum = 0;
    long seen = 0;
    int rc;

    *max = 0;
    for (int p = 0; p < PAGES; p++) {
        struct store_page pg = {.after = after, .limit = BATCH};
        double t0 = now_s(), dt;

        rc = jid ? store_list_documents_not_seen(f->s, &f->t, f->cid, jid, &pg, count, &seen, &next)
                 : store_list_documents(f->s, &f->t, f->cid, &pg, count, &seen, &next);
        if (rc < 0)
            die("list", rc);
        dt = (now_s() - t0) * 1000;
        sum += dt;
        if (dt > *max)
            *max = dt;
        free(after);
        after = next;
        if (!after)
            break;
    }
    free(after);
    *avg = sum / PAGES;
}

int main(int argc, char **argv)
{
    struct fx f = {.n = argc > 2 ? atol(argv[2]) : 1000000};
    struct ccf_connector c = {.name = (char *)"bench",
                              .properties = (char *)"{\"command\":[\"x\"]}"};
    char path[512], a[CCF_JOB_ID_LEN + 1], b[CCF_JOB_ID_LEN + 1];
    const int skips[] = {1, 50, 99};
    double before, after, load, avg, max;
    int rc;

    if (argc < 2 || f.n < BATCH) {
        fprintf(stderr, "usage: docstats DIR [N >= 1000]\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/raw.db", argv[1]);
    before = raw_puts(path, false, 200);
    after = raw_puts(path, true, 200);
    remove(path);
    printf("{\"batch_put_docs_per_s\": {\"before\": %.0f, \"after\": %.0f},\n", before, after);

    snprintf(path, sizeof(path), "%s/ccf.db", argv[1]);
    remove(path);
    struct store_config cfg = {.path = path, .synchronous = "NORMAL"};
    if ((rc = store_open(&f.s, &cfg)) < 0 ||
        (rc = ccf_tenant_init(&f.t, "us-east-1", "111111111111")) < 0 ||
        (rc = store_create_connector(f.s, &f.t, &c)) < 0)
        die("setup", rc);
    memcpy(f.cid, c.id, sizeof(f.cid));
    f.ids = calloc((size_t)f.n, sizeof(*f.ids));
    for (long i = 0; i < f.n; i++)
        doc_id(f.ids[i], sizeof(f.ids[i]), i);
    run_job(&f, a);
    load = put_all_but(&f, a, 0);
    printf(" \"documents\": %ld, \"store_put_docs_per_s\": %.0f,\n", f.n, load);
    page_times(&f, NULL, &avg, &max);
    printf(" \"plain_page_ms\": {\"avg\": %.2f, \"max\": %.2f},\n", avg, max);
    printf(" \"not_seen_page_ms\": {");
    for (size_t k = 0; k < 3; k++) {
        run_job(&f, b);
        put_all_but(&f, b, skips[k]);
        page_times(&f, b, &avg, &max);
        printf("%s\"%d%%\": {\"avg\": %.2f, \"max\": %.2f}", k ? ", " : "", skips[k], avg, max);
    }
    printf("}}\n");
    free(f.ids);
    store_close(f.s);
    return 0;
}
