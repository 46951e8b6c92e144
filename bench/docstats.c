/* docstats.c: what deletion detection costs (`make bench-docstats`).
 * (1) BatchPut before and after, same run: 1000-document transactions
 *     (sorted ids) of the schema and statements ccfd used before
 *     (documents without last_job, plain upsert), of the first version of
 *     deletion detection (the last_job column and its index, a checksum
 *     read per document to classify it, the stats update) and of today's
 *     (one range read per batch classifies it and finds the documents
 *     whose last_job stays, which an UPDATE of checksum and updated_at
 *     writes without touching the index), on fresh files,
 *     synchronous=NORMAL, so that the number is CPU and page writes, not
 *     fsync; the three alternate, RAW_ROUNDS times, and the best of each
 *     is printed (the machine is shared);
 * (2) through the store: one connector with N documents (default
 *     1,000,000): job A puts all (added), job B puts all (unchanged, each
 *     moves from A to B in the index), then again (unchanged, kept), the
 *     operator puts all twice (moved to none, then kept); docs/s of each;
 *     then jobs B1, B50, B99 put all but 1 %, 50 % and 99 % of them; time
 *     per page of 1000 documents not seen by each, and of the plain
 *     listing.
 * Prints one JSON object. Usage: docstats DIR [N] */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"

#define BATCH      1000
#define PAGES      20
#define RAW_ROUNDS 3

enum raw_mode { RAW_BEFORE, RAW_POINT, RAW_RANGE };

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

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        die("prepare", sqlite3_errcode(db));
    return st;
}

/* The classifying reads of one batch: a point read per id, or one range
 * read merged with the sorted ids that also finds the ids whose last_job
 * stays (same[i]), as store/documents.c does. */
static void raw_classify(sqlite3_stmt *sum, sqlite3_stmt *range, int b, bool same[BATCH])
{
    char id[64], last[64];
    int i = 0;

    if (sum) {
        for (i = 0; i < BATCH; i++) {
            doc_id(id, sizeof(id), (long)b * BATCH + i);
            sqlite3_bind_text(sum, 1, "cc-0123456789ab", -1, SQLITE_STATIC);
            sqlite3_bind_text(sum, 2, id, -1, SQLITE_TRANSIENT);
            sqlite3_step(sum);
            sqlite3_reset(sum);
        }
    }
    if (range) {
        doc_id(id, sizeof(id), (long)b * BATCH);
        doc_id(last, sizeof(last), (long)b * BATCH + BATCH - 1);
        sqlite3_bind_text(range, 1, "cc-0123456789ab", -1, SQLITE_STATIC);
        sqlite3_bind_text(range, 2, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(range, 3, last, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(range, 4, 4 * BATCH + 64);
        memset(same, 0, BATCH * sizeof(*same));
        while (sqlite3_step(range) == SQLITE_ROW) {
            const char *got = (const char *)sqlite3_column_text(range, 0);

            for (; i < BATCH; i++) {
                doc_id(id, sizeof(id), (long)b * BATCH + i);
                if (strcmp(id, got) >= 0)
                    break;
            }
            if (i < BATCH && strcmp(id, got) == 0)
                same[i] = sqlite3_column_int64(range, 2) == 1;
        }
        sqlite3_reset(range);
    }
}

/* docs/s of `batches` transactions of BATCH upserts (ids sorted), each doc
 * put twice (an add, then an unchanged put), with the SQL of `mode`. */
static double raw_puts(const char *path, enum raw_mode mode, int batches)
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
    sqlite3_stmt *up, *sum = NULL, *range = NULL, *keep = NULL, *stats = NULL;
    bool same[BATCH] = {false};
    char id[64];
    double t0, dt;

    remove(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("open", 0);
    exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
    exec(db, mode == RAW_BEFORE ? old_schema : new_schema);
    up = prepare(db, mode != RAW_BEFORE
                         ? "INSERT INTO documents VALUES (?1, ?2, ?3, ?4, ?4, 1) ON CONFLICT "
                           "(connector_id, document_id) DO UPDATE SET checksum = "
                           "excluded.checksum, updated_at = excluded.updated_at, last_job = "
                           "excluded.last_job"
                         : "INSERT INTO documents VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT "
                           "(connector_id, document_id) DO UPDATE SET checksum = "
                           "excluded.checksum, updated_at = excluded.updated_at");
    if (mode == RAW_POINT)
        sum = prepare(db, "SELECT checksum FROM documents WHERE connector_id = ?1 AND "
                          "document_id = ?2");
    if (mode == RAW_RANGE) {
        range = prepare(db, "SELECT document_id, checksum, last_job FROM documents "
                            "WHERE connector_id = ?1 AND document_id >= ?2 AND document_id <= ?3 "
                            "ORDER BY document_id LIMIT ?4");
        keep = prepare(db, "UPDATE documents SET checksum = ?3, updated_at = ?4 "
                           "WHERE connector_id = ?1 AND document_id = ?2 AND last_job IS 1");
    }
    if (mode != RAW_BEFORE)
        stats = prepare(db, "UPDATE job_stats SET documents_added = documents_added + ?1 "
                            "WHERE seq = 1");
    t0 = now_s();
    for (int pass = 0; pass < 2; pass++) {
        for (int b = 0; b < batches; b++) {
            exec(db, "BEGIN IMMEDIATE");
            raw_classify(sum, range, b, same);
            for (int i = 0; i < BATCH; i++) {
                sqlite3_stmt *st = same[i] ? keep : up;

                doc_id(id, sizeof(id), (long)b * BATCH + i);
                sqlite3_bind_text(st, 1, "cc-0123456789ab", -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 3, "0123456789abcdef0123456789abcdef", -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 4, 1700000000000000LL);
                if (sqlite3_step(st) != SQLITE_DONE)
                    die("upsert", sqlite3_errcode(db));
                sqlite3_reset(st);
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
    sqlite3_finalize(range);
    sqlite3_finalize(keep);
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
    double raw[3] = {0, 0, 0}, load, avg, max;
    int rc;

    if (argc < 2 || f.n < BATCH) {
        fprintf(stderr, "usage: docstats DIR [N >= 1000]\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/raw.db", argv[1]);
    for (int r = 0; r < RAW_ROUNDS; r++) {
        for (int m = RAW_BEFORE; m <= RAW_RANGE; m++) {
            double v = raw_puts(path, (enum raw_mode)m, 200);

            raw[m] = v > raw[m] ? v : raw[m];
        }
    }
    remove(path);
    printf("{\"batch_put_docs_per_s\": {\"before\": %.0f, \"point_reads\": %.0f, "
           "\"range_read\": %.0f},\n",
           raw[RAW_BEFORE], raw[RAW_POINT], raw[RAW_RANGE]);

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
    printf(" \"documents\": %ld, \"store_put_docs_per_s\": {\"job_added\": %.0f", f.n, load);
    run_job(&f, b);
    printf(", \"job_unchanged_moved\": %.0f", put_all_but(&f, b, 0));
    printf(", \"job_unchanged_kept\": %.0f", put_all_but(&f, b, 0));
    printf(", \"operator_moved\": %.0f", put_all_but(&f, NULL, 0));
    printf(", \"operator_kept\": %.0f},\n", put_all_but(&f, NULL, 0));
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
