/* jobs.c: conformance cases of jobs: the atomic start (one winner of a
 * race), concurrent writers of every kind, conditional transitions and what
 * they write (times, exit codes, reasons), status_reason, and the release
 * of the connector only by its active job. */
#include "conf.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RACERS  20
#define WRITERS 8

struct race {
    struct store *s;
    const struct ccf_tenant *t;
    const char *cid;
    pthread_barrier_t *bar;
    int rc;
    char jid[CCF_JOB_ID_LEN + 1];
};

static void *race_start(void *arg)
{
    struct race *r = arg;
    struct ccf_job j;

    pthread_barrier_wait(r->bar);
    r->rc = store_start_job(r->s, r->t, r->cid, "[]", &j);
    if (r->rc == 0) {
        memcpy(r->jid, j.id, sizeof(r->jid));
        ccf_job_clear(&j);
    }
    return NULL; /* the thread's connection closes at exit */
}

static void test_start_job_race(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1];
    pthread_t th[RACERS];
    struct race r[RACERS];
    pthread_barrier_t bar;
    struct ccf_connector g;
    struct coll l = {0};
    struct lister li = {.f = f, .t = &f->t1, .kind = K_JOBS, .cid = cid};

    mk_connector(f, &f->t1, "conn-x", cid);
    for (int round = 0; round < 3; round++) {
        int won = -1, conflicts = 0;
        pthread_barrier_init(&bar, NULL, RACERS);
        for (int i = 0; i < RACERS; i++) {
            r[i] = (struct race){.s = f->s, .t = &f->t1, .cid = cid, .bar = &bar, .rc = 1};
            assert_int_equal(pthread_create(&th[i], NULL, race_start, &r[i]), 0);
        }
        for (int i = 0; i < RACERS; i++) {
            pthread_join(th[i], NULL);
            if (r[i].rc == 0) {
                assert_int_equal(won, -1);
                won = i;
            } else {
                assert_int_equal(r[i].rc, CCF_ECONFLICT);
                conflicts++;
            }
        }
        pthread_barrier_destroy(&bar);
        assert_true(won >= 0);
        assert_int_equal(conflicts, RACERS - 1);
        get_conn(f, cid, &g);
        assert_int_equal(g.status, CCF_CONNECTOR_IN_USE);
        assert_string_equal(g.active_job_id, r[won].jid);
        ccf_connector_clear(&g);
        assert_int_equal(move(f, cid, r[won].jid, BIT(CCF_JOB_STARTED), CCF_JOB_FAILED), 1);
    }
    list_all(&li, 100, &l);
    assert_int_equal(l.n, 3);
    coll_free(&l);
    assert_int_equal(conf_int(f, "SELECT count(*) FROM job_changes WHERE new_status >= 0"), 6);
}

/* Autocommit writes and BEGIN IMMEDIATE transactions from many threads at
 * once: busy_timeout absorbs the contention, nobody sees CCF_EUNAVAIL. */
struct writer {
    struct store *s;
    const struct ccf_tenant *t;
    int rc, step;
};

static int write_round(struct writer *w)
{
    struct ccf_connector c = {.name = "conn-w", .properties = PROPS};
    struct ccf_document d = {.id = "doc", .checksum = "66666666666666666666666666666666"};
    struct store_transition tr = {.from_mask = BIT(CCF_JOB_STARTED), .to = CCF_JOB_FAILED};
    struct ccf_job j;
    int rc;

    if ((rc = store_create_connector(w->s, w->t, &c)) < 0 ||
        (rc = store_update_connector(w->s, w->t, &c, 1)) < 0 ||
        (rc = store_put_documents(w->s, w->t, c.id, &d, 1)) < 0 ||
        (rc = store_put_checkpoint(w->s, w->t, c.id, "cp", 2)) < 0 ||
        (rc = store_start_job(w->s, w->t, c.id, NULL, &j)) < 0)
        return rc;
    rc = store_transition_job(w->s, w->t, c.id, j.id, &tr, NULL);
    ccf_job_clear(&j);
    return rc == 1 ? 0 : rc < 0 ? rc : CCF_EIO;
}

static void *writer_run(void *arg)
{
    struct writer *w = arg;

    for (w->step = 0; w->step < 25; w->step++) {
        if ((w->rc = write_round(w)) < 0)
            break;
    }
    return NULL;
}

static void test_concurrent_writers(void **state)
{
    struct conf *f = *state;
    pthread_t th[WRITERS];
    struct writer w[WRITERS];
    struct coll l = {0};
    struct lister li = {.f = f, .t = &f->t1, .kind = K_CONNECTORS};

    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){.s = f->s, .t = &f->t1};
        assert_int_equal(pthread_create(&th[i], NULL, writer_run, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].rc, 0);
        assert_int_equal(w[i].step, 25);
    }
    list_all(&li, 100, &l);
    assert_int_equal(l.n, WRITERS * 25);
    for (size_t i = 0; i < l.n; i++)
        assert_int_equal(l.v[i].status, CCF_CONNECTOR_AVAILABLE);
    coll_free(&l);
    assert_int_equal(conf_int(f, "SELECT count(*) FROM job_changes WHERE new_status >= 0"),
                     2 * WRITERS * 25);
}

static void test_start_job(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1];
    struct ccf_job j, g;

    mk_connector(f, &f->t1, "conn-x", cid);
    assert_int_equal(store_start_job(f->s, &f->t1, cid, "[{\"name\":\"A\",\"value\":\"1\"}]", &j),
                     0);
    assert_true(ccf_job_id_valid(j.id));
    assert_string_equal(j.connector_id, cid);
    assert_int_equal(j.status, CCF_JOB_STARTED);
    assert_true(j.created_at > 0 && j.updated_at == j.created_at);
    assert_int_equal(j.started_at, 0);
    assert_false(j.has_exit_code);
    assert_string_equal(j.environment, "[{\"name\":\"A\",\"value\":\"1\"}]");
    assert_int_equal(store_get_job(f->s, &f->t1, cid, j.id, &g), 0);
    assert_string_equal(g.id, j.id);
    assert_int_equal(g.status, CCF_JOB_STARTED);
    assert_int_equal(g.created_at, j.created_at);
    assert_int_equal(g.started_at, 0);
    assert_int_equal(g.completed_at, 0);
    assert_string_equal(g.environment, j.environment);
    assert_null(g.executor_id);
    assert_null(g.failure_reason);
    ccf_job_clear(&g);

    assert_int_equal(store_start_job(f->s, &f->t1, cid, NULL, &g), CCF_ECONFLICT);
    assert_int_equal(store_start_job(f->s, &f->t1, NO_ID_C, NULL, &g), CCF_ENOTFOUND);
    assert_int_equal(store_start_job(f->s, &f->t1, "bogus", NULL, &g), CCF_ENOTFOUND);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, NO_ID_J, &g), CCF_ENOTFOUND);
    assert_int_equal(store_get_job(f->s, &f->t1, NO_ID_C, j.id, &g), CCF_ENOTFOUND);
    ccf_job_clear(&j);
}

static void test_transitions(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct store_transition tr = {
        .from_mask = BIT(CCF_JOB_STARTED), .to = CCF_JOB_RUNNING, .executor_id = "exec-1"};
    struct ccf_job j;
    struct ccf_connector g;
    int64_t started;

    mk_connector(f, &f->t1, "conn-x", cid);
    start(f, cid, jid);
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, jid, &tr, &j), 1);
    assert_int_equal(j.status, CCF_JOB_RUNNING);
    assert_true(j.started_at > 0);
    assert_int_equal(j.completed_at, 0);
    assert_string_equal(j.executor_id, "exec-1");
    started = j.started_at;
    ccf_job_clear(&j);

    /* Redelivery: already there, nothing written. */
    tr.executor_id = "exec-2";
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, jid, &tr, &j), 0);
    assert_int_equal(j.status, CCF_JOB_RUNNING);
    assert_string_equal(j.executor_id, "exec-1");
    assert_int_equal(j.started_at, started);
    ccf_job_clear(&j);

    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), CCF_JOB_SUCCEEDED), CCF_ECONFLICT);
    assert_int_equal(
        move(f, cid, jid, BIT(CCF_JOB_STARTED) | BIT(CCF_JOB_RUNNING), CCF_JOB_STOPPING), 1);
    tr = (struct store_transition){.from_mask = BIT(CCF_JOB_STOPPING),
                                   .to = CCF_JOB_STOPPED,
                                   .set_exit_code = true,
                                   .exit_code = 143,
                                   .failure_reason = "stopped on request"};
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, jid, &tr, &j), 1);
    assert_int_equal(j.status, CCF_JOB_STOPPED);
    assert_true(j.completed_at >= j.started_at && j.started_at == started);
    assert_true(j.has_exit_code);
    assert_int_equal(j.exit_code, 143);
    assert_string_equal(j.failure_reason, "stopped on request");
    ccf_job_clear(&j);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    assert_int_equal(j.exit_code, 143);
    assert_true(j.has_exit_code && j.completed_at > 0);
    assert_string_equal(j.failure_reason, "stopped on request");
    assert_string_equal(j.executor_id, "exec-1");
    ccf_job_clear(&j);
    get_conn(f, cid, &g);
    assert_int_equal(g.status, CCF_CONNECTOR_AVAILABLE);
    assert_string_equal(g.active_job_id, "");
    ccf_connector_clear(&g);

    /* Terminal is final, whatever from_mask says; the same terminal is a no-op. */
    assert_int_equal(move(f, cid, jid, ~0u, CCF_JOB_STOPPED), 0);
    assert_int_equal(move(f, cid, jid, ~0u, CCF_JOB_RUNNING), CCF_ECONFLICT);
    assert_int_equal(move(f, cid, jid, ~0u, CCF_JOB_FAILED), CCF_ECONFLICT);
    assert_int_equal(move(f, cid, NO_ID_J, ~0u, CCF_JOB_FAILED), CCF_ENOTFOUND);
    assert_int_equal(move(f, NO_ID_C, jid, ~0u, CCF_JOB_FAILED), CCF_ENOTFOUND);
    assert_int_equal(move(f, cid, jid, ~0u, (enum ccf_job_status)42), CCF_EINVAL);
}

static void test_transition_truncates_reason(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    char reason[1500 * 2 + 1];
    struct store_transition tr = {
        .from_mask = BIT(CCF_JOB_STARTED), .to = CCF_JOB_FAILED, .failure_reason = reason};
    struct ccf_job j;

    for (size_t i = 0; i < 1500; i++)
        memcpy(reason + 2 * i, "é", 2);
    reason[3000] = '\0';
    mk_connector(f, &f->t1, "conn-x", cid);
    start(f, cid, jid);
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, jid, &tr, NULL), 1);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    assert_int_equal(strlen(j.failure_reason), 2 * CCF_FAILURE_REASON_MAX);
    assert_memory_equal(j.failure_reason, reason, 2 * CCF_FAILURE_REASON_MAX);
    ccf_job_clear(&j);
}

/* status_reason: set only on a STARTED job, written only when it
 * differs, no outbox row, truncated, another tenant's job untouched, and
 * cleared by the next transition. */
static void test_job_status_reason(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    char reason[1500 * 2 + 1];
    struct ccf_job j;
    int64_t changes;

    for (size_t i = 0; i < 1500; i++)
        memcpy(reason + 2 * i, "é", 2);
    reason[3000] = '\0';
    mk_connector(f, &f->t1, "conn-x", cid);
    start(f, cid, jid);
    changes = conf_int(f, "SELECT count(*) FROM job_changes");
    assert_int_equal(store_set_job_status_reason(f->s, &f->t1, cid, jid, "waiting"), 1);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t1, cid, jid, "waiting"), 0);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t2, cid, jid, "other"), 0);
    assert_int_equal(conf_int(f, "SELECT count(*) FROM job_changes"), changes);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    assert_string_equal(j.status_reason, "waiting");
    assert_int_equal(j.status, CCF_JOB_STARTED);
    ccf_job_clear(&j);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t1, cid, jid, reason), 1);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    assert_int_equal(strlen(j.status_reason), 2 * CCF_FAILURE_REASON_MAX);
    ccf_job_clear(&j);
    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), CCF_JOB_RUNNING), 1);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    assert_null(j.status_reason);
    ccf_job_clear(&j);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t1, cid, jid, "late"), 0);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t1, cid, "ccj-000000000000", "x"), 0);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t1, cid, "bad", "x"), CCF_ENOTFOUND);
}

/* A transition's `at` (the executor's record of a job that ended while
 * ccfd was down) becomes started_at / completed_at, kept in order with the
 * job's earlier times; updated_at is the write's own time. */
static void test_transition_at(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct store_transition tr = {.from_mask = BIT(CCF_JOB_STARTED), .to = CCF_JOB_RUNNING};
    struct ccf_job j;
    int64_t created, before;

    mk_connector(f, &f->t1, "conn-x", cid);
    start(f, cid, jid);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    created = j.created_at;
    ccf_job_clear(&j);
    usleep(30000);
    tr.at = created + 10000; /* started 10 ms after it was created, 20 ms ago */
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, jid, &tr, &j), 1);
    assert_int_equal(j.started_at, created + 10000);
    assert_true(j.updated_at >= created + 30000);
    ccf_job_clear(&j);

    /* An end before the start (a clock stepped back) is the start. */
    tr = (struct store_transition){
        .from_mask = BIT(CCF_JOB_RUNNING), .to = CCF_JOB_FAILED, .at = created - 5000000};
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, jid, &tr, &j), 1);
    assert_int_equal(j.completed_at, created + 10000);
    ccf_job_clear(&j);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    assert_int_equal(j.completed_at, created + 10000);
    ccf_job_clear(&j);

    /* A time in the future is now; none is now. */
    start(f, cid, jid);
    before = ccf_now_us();
    tr = (struct store_transition){
        .from_mask = BIT(CCF_JOB_STARTED), .to = CCF_JOB_SUCCEEDED, .at = before + 3600000000LL};
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, jid, &tr, &j), 1);
    assert_true(j.completed_at >= before && j.completed_at <= ccf_now_us());
    assert_int_equal(j.completed_at, j.updated_at);
    ccf_job_clear(&j);
}

static void test_release_only_active_job(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_connector g;

    mk_connector(f, &f->t1, "conn-x", cid);
    start(f, cid, jid);
    /* The connector now runs another job (as after a lost update). */
    conf_exec(f, "UPDATE connectors SET active_job_id = '" NO_ID_J "'", NULL);
    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), CCF_JOB_FAILED), 1);
    get_conn(f, cid, &g);
    assert_int_equal(g.status, CCF_CONNECTOR_IN_USE);
    assert_string_equal(g.active_job_id, NO_ID_J);
    ccf_connector_clear(&g);
}

const struct CMUnitTest conf_jobs[] = {
    cmocka_unit_test_setup_teardown(test_start_job_race, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_concurrent_writers, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_start_job, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_transitions, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_transition_truncates_reason, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_job_status_reason, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_transition_at, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_release_only_active_job, conf_setup, conf_teardown),
};
const size_t conf_jobs_n = sizeof(conf_jobs) / sizeof(conf_jobs[0]);
