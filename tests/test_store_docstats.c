/* test_store_docstats.c: what is the SQLite backend's own about per-job
 * document statistics and deletion detection (src/store/sqlite/docstats.c):
 * a batch SQLite itself undoes counts nothing, the not-seen listing's query
 * plans, and the migration of a database that already holds documents.
 * Their behaviour on every backend is the conformance suite's
 * (tests/store_conf/docstats.c). Each test runs in its own temp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "docstats_fixture.h"
#include "store/sqlite/sqlite_int.h" /* the listing's SQL, for its query plans */
#include "store/store.h"
#include "store_downgrade.h"
#include "store_fixture.h"

#define PROPS   "{\"command\":[\"/bin/true\"]}"
#define S1      "11111111111111111111111111111111"
#define S2      "22222222222222222222222222222222"
#define NO_ID_J "ccj-000000000000"

struct fx {
    char dir[STORE_FX_DIR_MAX];
    char path[STORE_FX_PATH_MAX];
    struct store *s;
    struct ccf_tenant t;
    char cid[CCF_CONNECTOR_ID_LEN + 1];
};

static int fx_open(struct fx *f)
{
    return store_fx_open(&f->s, f->path, "NORMAL", 0);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct ccf_connector c = {.name = (char *)"c", .properties = (char *)PROPS};

    assert_non_null(f);
    store_fx_mkdtemp("docstats", f->dir, f->path);
    assert_int_equal(ccf_tenant_init(&f->t, "us-east-1", "111111111111"), 0);
    assert_int_equal(fx_open(f), 0);
    assert_int_equal(store_create_connector(f->s, &f->t, &c), 0);
    memcpy(f->cid, c.id, sizeof(f->cid));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    store_fx_remove(f->s, f->dir);
    free(f);
    return 0;
}

static void raw_exec(struct fx *f, const char *sql)
{
    store_fx_exec(f->path, sql);
}

/* What docs_fx_* act on: f's store, tenant and connector. */
#define AT(f) (&(struct docs_fx_at){(f)->s, &(f)->t, (f)->cid})

struct sums {
    char text[8][40]; /* "id=checksum's first char" per document, in order */
    size_t n;
};

static void test_failed_batch_counts_nothing(void **state)
{
    struct fx *f = *state;
    char j[CCF_JOB_ID_LEN + 1];
    struct ccf_document batch[] = {{.id = "a", .checksum = S1}, {.id = "boom", .checksum = S1}};
    struct ccf_job_stats st;
    struct docs_fx_ids l = {0};

    docs_fx_run_job(AT(f), j, false);
    docs_fx_put(AT(f), j, "first", S1);
    /* Fails on the batch's last row, after "a" was counted and written. */
    raw_exec(f, "CREATE TRIGGER boom BEFORE INSERT ON documents WHEN NEW.document_id = 'boom' "
                "BEGIN SELECT RAISE(ABORT, 'boom'); END;");
    assert_true(store_put_documents_by(f->s, &f->t, f->cid, j, batch, 2) < 0);
    raw_exec(f, "DROP TRIGGER boom;");
    st = docs_fx_stats(AT(f), j);
    assert_int_equal(st.documents_added, 1);
    docs_fx_put(AT(f), NULL, "other", S1);
    docs_fx_unseen_all(AT(f), j, 10, &l); /* "a" was not written either */
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0], "other");
    docs_fx_ids_free(&l);
}

/* Neither read of the listing scans: each is a search of the index. */
static void test_unseen_query_plans(void **state)
{
    struct fx *f = *state;
    const char *sqls[] = {STORE__SQL_UNSEEN_RANGE, STORE__SQL_UNSEEN_VALUE};
    sqlite3 *db;
    char sql[1024];

    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    for (size_t i = 0; i < 2; i++) {
        sqlite3_stmt *st;
        bool searched = false;

        snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", sqls[i]);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *detail = (const char *)sqlite3_column_text(st, 3);
            print_message("plan %zu: %s\n", i, detail);
            assert_null(strstr(detail, "SCAN"));
            assert_null(strstr(detail, "TEMP B-TREE"));
            if (strstr(detail, "SEARCH documents USING") &&
                strstr(detail, "documents_by_last_job (connector_id=? AND last_job"))
                searched = true;
        }
        sqlite3_finalize(st);
        assert_true(searched);
    }
    sqlite3_close(db);
}

/* A database of the previous version, with documents, migrates: they
 * remember no job, so every job sees them as not seen. */
static void test_migrates_old_documents(void **state)
{
    struct fx *f = *state;
    char j[CCF_JOB_ID_LEN + 1];
    struct docs_fx_ids l = {0};
    struct store_page p = {.limit = 10};

    docs_fx_put(AT(f), NULL, "old-a", S1);
    docs_fx_put(AT(f), NULL, "old-b", S1);
    store_close(f->s);
    f->s = NULL;
    store_downgrade(f->path, 2);
    assert_int_equal(fx_open(f), 0);
    docs_fx_run_job(AT(f), j, false);
    docs_fx_put(AT(f), j, "old-a", S1);
    assert_int_equal(
        store_list_documents_not_seen(f->s, &f->t, f->cid, j, &p, docs_fx_on_doc, &l, NULL), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0], "old-b");
    docs_fx_ids_free(&l);
    assert_int_equal(docs_fx_stats(AT(f), j).documents_unchanged, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_failed_batch_counts_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unseen_query_plans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrates_old_documents, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
