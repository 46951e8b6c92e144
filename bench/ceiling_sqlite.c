/* ceiling_sqlite.c: the storage ceilings for `make bench`, with no HTTP:
 * (1) upserts of 1000-document transactions (ids sorted, as ccfd sorts each
 *     batch) into ccfd's own schema, at synchronous=FULL;
 * (2) one-row write transactions (a connector insert), at FULL, the rate a
 *     durable one-write-per-request service cannot beat without group commit;
 * (3) jansson parse + walk of a 1000-document batch body.
 * Prints one JSON object. Usage: ceiling_sqlite DIR */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);

    if (rc != SQLITE_OK)
        fprintf(stderr, "sqlite: %s\n", err ? err : "?");
    sqlite3_free(err);
    return rc;
}

static double doc_upserts(sqlite3 *db, const char *cid, int batches)
{
    sqlite3_stmt *st;
    char id[64];
    double t0;
    long n = 0;

    sqlite3_prepare_v2(db,
                       "INSERT INTO documents (connector_id, document_id, checksum, created_at, "
                       "updated_at) VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (connector_id, "
                       "document_id) DO UPDATE SET checksum = excluded.checksum, updated_at = "
                       "excluded.updated_at",
                       -1, &st, NULL);
    t0 = now_s();
    for (int b = 0; b < batches; b++) {
        exec(db, "BEGIN IMMEDIATE");
        for (int i = 0; i < 1000; i++) {
            snprintf(id, sizeof(id), "doc-%06d-%04d", b, i);
            sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 3,
                              "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                              -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 4, (sqlite3_int64)b);
            sqlite3_step(st);
            sqlite3_reset(st);
            n++;
        }
        exec(db, "COMMIT");
    }
    sqlite3_finalize(st);
    return (double)n / (now_s() - t0);
}

static double single_writes(sqlite3 *db, int count)
{
    sqlite3_stmt *st;
    char id[32];
    double t0;

    sqlite3_prepare_v2(db,
                       "INSERT INTO connectors (id, tenant, name, description, properties, status, "
                       "active_job_id, created_at, updated_at, version) VALUES (?1, "
                       "'us-east-1:123456789012', 'bench', NULL, '{}', 0, NULL, 1, 1, 1)",
                       -1, &st, NULL);
    t0 = now_s();
    for (int i = 0; i < count; i++) {
        snprintf(id, sizeof(id), "cc-%012x", i + 1);
        exec(db, "BEGIN IMMEDIATE");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_step(st);
        sqlite3_reset(st);
        exec(db, "COMMIT");
    }
    sqlite3_finalize(st);
    return count / (now_s() - t0);
}

static double json_parses(int rounds)
{
    size_t cap = 200 * 1000, len = 0;
    char *body = malloc(cap);
    double t0;

    len += (size_t)snprintf(body, cap, "{\"documents\":[");
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(
            body + len, cap - len,
            "%s{\"document_id\":\"dir/file-%06d.txt\",\"checksum\":"
            "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
            i ? "," : "", i);
    len += (size_t)snprintf(body + len, cap - len, "]}");
    t0 = now_s();
    for (int r = 0; r < rounds; r++) {
        json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(v, "documents"), i, d)
        {
            (void)json_string_value(json_object_get(d, "document_id"));
        }
        json_decref(v);
    }
    free(body);
    return rounds * 1000.0 / (now_s() - t0);
}

int main(int argc, char **argv)
{
    char path[4096];
    struct store *s;
    struct store_config cfg = {.path = path, .synchronous = "FULL"};
    sqlite3 *db;
    double docs, writes, parse;

    if (argc != 2)
        return 2;
    snprintf(path, sizeof(path), "%s/ceiling.db", argv[1]);
    if (store_open(&s, &cfg) < 0) /* ccfd's own schema, migrations and all */
        return 1;
    store_close(s);
    sqlite3_open(path, &db);
    exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;");
    exec(db, "INSERT INTO connectors (id, tenant, name, properties, status, created_at, "
             "updated_at, version) VALUES ('cc-000000000000', 't', 'n', '{}', 0, 1, 1, 1)");
    docs = doc_upserts(db, "cc-000000000000", 100);
    writes = single_writes(db, 2000);
    parse = json_parses(200);
    sqlite3_close(db);
    printf("{\"sqlite_upsert_docs_per_s\": %.0f, \"sqlite_single_tx_per_s\": %.0f, "
           "\"jansson_docs_per_s\": %.0f}\n",
           docs, writes, parse);
    return 0;
}
