/* test_store.c: unit tests of what is the SQLite backend's own (src/store/
 * sqlite/): its file (schema version, WAL, migrations of older files,
 * refusals at open), a batch undone by SQLite itself, and closing with live
 * threads. store.h's behaviour on every backend is the conformance suite's
 * (test_store_conf.c). Each test runs in its own temp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "store/store.h"
#include "store_downgrade.h"
#include "store_fixture.h"

#define BIT(s)   (1u << (s))
#define PROPS    "{\"command\":[\"/bin/true\"]}"
#define NO_ID_C  "cc-000000000000"
#define NO_ID_J  "ccj-000000000000"
#define SENTINEL ((char *)"sentinel")

struct fx {
    char dir[STORE_FX_DIR_MAX];
    char path[STORE_FX_PATH_MAX];
    struct store *s;
    struct ccf_tenant t1, t2, t3; /* t3: t1's account in another region */
};

/* ---- fixture ---- */

static int fx_open(struct fx *f, const char *sync)
{
    return store_fx_open(&f->s, f->path, sync, 0);
}

static int setup_with(void **state, const char *sync)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    store_fx_mkdtemp("store", f->dir, f->path);
    assert_int_equal(ccf_tenant_init(&f->t1, "us-east-1", "111111111111"), 0);
    assert_int_equal(ccf_tenant_init(&f->t2, "us-east-1", "222222222222"), 0);
    assert_int_equal(ccf_tenant_init(&f->t3, "eu-west-1", "111111111111"), 0);
    assert_int_equal(fx_open(f, sync), 0);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, NULL); /* FULL, the default */
}

static int teardown(void **state)
{
    struct fx *f = *state;

    store_fx_remove(f->s, f->dir);
    free(f);
    return 0;
}

static void reopen(struct fx *f)
{
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(fx_open(f, NULL), 0);
}

/* SQL on a separate connection, to set up what the API cannot. */
static void raw_exec(struct fx *f, const char *sql)
{
    store_fx_exec(f->path, sql);
}

static int64_t raw_int(struct fx *f, const char *sql)
{
    return store_fx_int(f->path, sql);
}

/* ---- helpers ---- */

static void mk_connector(struct fx *f, const struct ccf_tenant *t, const char *name,
                         char id[CCF_CONNECTOR_ID_LEN + 1])
{
    struct ccf_connector c = {.name = (char *)name, .properties = (char *)PROPS};

    assert_int_equal(store_create_connector(f->s, t, &c), 0);
    memcpy(id, c.id, CCF_CONNECTOR_ID_LEN + 1);
}

static void start(struct fx *f, const char *cid, char jid[CCF_JOB_ID_LEN + 1])
{
    struct ccf_job j;

    assert_int_equal(store_start_job(f->s, &f->t1, cid, NULL, &j), 0);
    memcpy(jid, j.id, CCF_JOB_ID_LEN + 1);
    ccf_job_clear(&j);
}

static int move(struct fx *f, const char *cid, const char *jid, unsigned from,
                enum ccf_job_status to)
{
    struct store_transition tr = {.from_mask = from, .to = to};
    return store_transition_job(f->s, &f->t1, cid, jid, &tr, NULL);
}

static void test_documents_all_or_nothing(void **state)
{
    struct fx *f = *state;
    char x[CCF_CONNECTOR_ID_LEN + 1];
    const char *sum = "33333333333333333333333333333333";
    struct ccf_document d[] = {{.id = "c", .checksum = sum},
                               {.id = "boom", .checksum = sum},
                               {.id = "a", .checksum = sum}};

    mk_connector(f, &f->t1, "conn-x", x);
    raw_exec(f, "CREATE TRIGGER boom BEFORE INSERT ON documents WHEN NEW.document_id = 'boom' "
                "BEGIN SELECT RAISE(ABORT, 'boom'); END");
    assert_int_equal(store_put_documents(f->s, &f->t1, x, d, 3), CCF_EIO);
    /* "a" was written before "boom", and rolled back */
    assert_int_equal(raw_int(f, "SELECT count(*) FROM documents"), 0);
    raw_exec(f, "DROP TRIGGER boom");
    assert_int_equal(store_put_documents(f->s, &f->t1, x, d, 3), 0);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM documents"), 3);
}

/* ---- open, close, the file ---- */

/* What is kept across a reopen is the conformance suite's
 * (test_data_survives_reopen); the file itself is SQLite's: at the current
 * schema version, in WAL mode. */
static void test_file_version_and_wal(void **state)
{
    struct fx *f = *state;
    char x[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];

    mk_connector(f, &f->t1, "conn-x", x);
    start(f, x, jid);
    reopen(f);
    assert_int_equal(store_ping(f->s), 0);
    assert_int_equal(raw_int(f, "PRAGMA user_version"), STORE_TEST_SCHEMA_VERSION);
    assert_int_equal(
        raw_int(f, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM jobs"), 1);
}

static void test_open_refuses(void **state)
{
    struct fx *f = *state;
    struct store *s = (struct store *)SENTINEL;
    struct store_config cfg = {.path = f->path};

    store_close(f->s);
    f->s = NULL;
    raw_exec(f, "PRAGMA user_version = 99");
    assert_int_equal(store_open(&s, &cfg), CCF_EIO); /* newer than this build */
    assert_ptr_equal(s, SENTINEL);
    cfg.path = "/nonexistent-ccf-dir/sub/ccf.db";
    assert_int_equal(store_open(&s, &cfg), CCF_EUNAVAIL);
    cfg.path = f->path;
    cfg.synchronous = "FAST";
    assert_int_equal(store_open(&s, &cfg), CCF_EINVAL);
    assert_ptr_equal(s, SENTINEL);
    /* A version 1 database is migrated to the current version at open. */
    store_downgrade(f->path, 1);
    cfg.synchronous = "off";
    assert_int_equal(store_open(&f->s, &cfg), 0);
    assert_int_equal(store_ping(f->s), 0);
    assert_int_equal(raw_int(f, "PRAGMA user_version"), STORE_TEST_SCHEMA_VERSION);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM sqlite_master WHERE name = 'jobs_by_status'"),
                     1);
}

/* Migration 4 (retries) on a version 3 file that holds a running job: the
 * job reads as one that has not started an attempt here, and its next
 * transitions record attempts as for any job. */
static void test_migrate_attempts(void **state)
{
    struct fx *f = *state;
    struct store_config cfg = {.path = f->path, .synchronous = "off"};
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct store_transition end = {.from_mask = 1u << CCF_JOB_RUNNING,
                                   .to = CCF_JOB_FAILED,
                                   .set_exit_code = true,
                                   .exit_code = 3,
                                   .failure_reason = "exited with code 3"};
    struct ccf_job j;

    mk_connector(f, &f->t1, "old", cid);
    start(f, cid, jid);
    assert_int_equal(move(f, cid, jid, 1u << CCF_JOB_STARTED, CCF_JOB_RUNNING), 1);
    store_close(f->s);
    f->s = NULL;
    raw_exec(f, "UPDATE jobs SET attempt = 0, attempts = NULL"); /* as a v3 file has it */
    store_downgrade(f->path, 3);
    assert_int_equal(store_open(&f->s, &cfg), 0);
    assert_int_equal(raw_int(f, "PRAGMA user_version"), STORE_TEST_SCHEMA_VERSION);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    assert_int_equal(j.status, CCF_JOB_RUNNING);
    assert_int_equal(j.attempt, 0);
    assert_null(j.attempts);
    assert_int_equal(j.next_attempt_at, 0);
    ccf_job_clear(&j);
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, jid, &end, &j), 1);
    assert_true(j.has_exit_code && j.exit_code == 3);
    assert_int_equal(j.attempt, 0); /* no attempt was open: nothing invented */
    ccf_job_clear(&j);
}

/* Migration 10 drops the outbox's AUTOINCREMENT: a file whose sequence is
 * past its newest row (that row was pruned) keeps it, as a placeholder row
 * that no tenant reads, so the next seq is past every one handed out. */
static void test_migration_keeps_the_sequence(void **state)
{
    struct fx *f = *state;
    struct store_event ev[8];
    struct store_event_query q = {.after = -1, .max = 8};
    char c1[CCF_CONNECTOR_ID_LEN + 1], c2[CCF_CONNECTOR_ID_LEN + 1], c3[CCF_CONNECTOR_ID_LEN + 1];
    int64_t next;
    sqlite3 *db;

    mk_connector(f, &f->t1, "n", c1);
    mk_connector(f, &f->t1, "n", c2);
    store_close(f->s);
    f->s = NULL;
    store_downgrade(f->path, 9);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DELETE FROM job_changes WHERE seq = 2", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_fx_open(&f->s, f->path, "OFF", 0), 0);
    mk_connector(f, &f->t1, "n", c3);
    assert_int_equal(store_read_events(f->s, &f->t1, &q, ev, &next), 2);
    assert_string_equal(ev[0].connector_id, c1);
    assert_int_equal(ev[0].seq, 1);
    assert_string_equal(ev[1].connector_id, c3);
    assert_int_equal(ev[1].seq, 3);
    store_events_clear(ev, 2);
}

/* A thread that used the store is still alive (idle) when store_close runs:
 * store_close closes its connection, and its exit must not close it again. */
struct idler {
    struct store *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stage;
    int rc;
};

static void *idle_thread(void *arg)
{
    struct idler *d = arg;

    d->rc = store_ping(d->s);
    pthread_mutex_lock(&d->mu);
    d->stage = 1;
    pthread_cond_broadcast(&d->cv);
    while (d->stage != 2)
        pthread_cond_wait(&d->cv, &d->mu);
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

static void test_close_with_live_threads(void **state)
{
    struct fx *f = *state;
    struct idler d = {.s = f->s, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    pthread_t th;

    assert_int_equal(pthread_create(&th, NULL, idle_thread, &d), 0);
    pthread_mutex_lock(&d.mu);
    while (d.stage != 1)
        pthread_cond_wait(&d.cv, &d.mu);
    pthread_mutex_unlock(&d.mu);
    store_close(f->s);
    f->s = NULL;
    pthread_mutex_lock(&d.mu);
    d.stage = 2;
    pthread_cond_broadcast(&d.cv);
    pthread_mutex_unlock(&d.mu);
    pthread_join(th, NULL);
    assert_int_equal(d.rc, 0);
    assert_int_equal(fx_open(f, NULL), 0); /* and the file is fine */
    assert_int_equal(store_ping(f->s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_documents_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_version_and_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_keeps_the_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_live_threads, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
