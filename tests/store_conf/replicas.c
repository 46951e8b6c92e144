/* replicas.c: cases of the replicas and each job's runner (store.h,
 * "Replicas"). On a shared store (PostgreSQL) the leader assigns jobs to
 * live replicas with slots, runners read their own, and a silent
 * replica's jobs are lost; on a store of one process (SQLite) there is
 * one replica: heartbeat, assign and unassign do nothing, every
 * unfinished job is the runner's, and none is ever lost. */
#include "conf.h"

#include <stdlib.h>
#include <string.h>

#define A  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define C  "cccccccccccccccccccccccccccccccc"
#define US 30000000LL /* live within 30 s */

static void beat(struct conf *f, const char *id, int slots)
{
    struct store_replica r = {.pid = 1, .slots = slots};

    memcpy(r.id, id, STORE_REPLICA_ID_LEN + 1);
    memcpy(r.host, "test", 5);
    assert_int_equal(store_replica_heartbeat(f->s, &r), 0);
}

static size_t count(struct conf *f, const char *runner)
{
    struct store_job_ref *refs;
    size_t n;

    assert_int_equal(store_runner_jobs(f->s, runner, &refs, &n), 0);
    for (size_t i = 0; store_shared(f->s) && i < n; i++)
        assert_string_equal(refs[i].runner, runner);
    free(refs);
    return n;
}

static void three_jobs(struct conf *f, char jid[3][CCF_JOB_ID_LEN + 1])
{
    char cid[CCF_CONNECTOR_ID_LEN + 1];

    for (int i = 0; i < 3; i++) {
        mk_connector(f, &f->t1, "r", cid);
        start(f, cid, jid[i]);
    }
}

static void test_replicas_assign_by_free_slots(void **state)
{
    struct conf *f = *state;
    char jid[3][CCF_JOB_ID_LEN + 1];

    three_jobs(f, jid);
    beat(f, A, 1);
    beat(f, B, 2);
    beat(f, C, 0); /* executor = none: never a runner */
    if (!store_shared(f->s)) {
        assert_int_equal(store_assign_jobs(f->s, US, 64), 0);
        assert_int_equal(count(f, A), 3); /* the one replica runs every job */
        return;
    }
    assert_int_equal(store_assign_jobs(f->s, US, 64), 3);
    assert_int_equal(store_assign_jobs(f->s, US, 64), 0); /* each once */
    assert_int_equal(count(f, A), 1);
    assert_int_equal(count(f, B), 2);
    assert_int_equal(count(f, C), 0);
}

static void test_replicas_none_live_leaves_jobs_unassigned(void **state)
{
    struct conf *f = *state;
    char jid[3][CCF_JOB_ID_LEN + 1];

    three_jobs(f, jid);
    beat(f, C, 0);
    assert_int_equal(store_assign_jobs(f->s, US, 64), 0);
    if (!store_shared(f->s))
        return;
    beat(f, A, 1);
    /* Every job goes to the one live replica, over its slots: its runner
     * queues what does not fit. */
    assert_int_equal(store_assign_jobs(f->s, US, 2), 2);
    assert_int_equal(store_assign_jobs(f->s, US, 2), 1);
    assert_int_equal(count(f, A), 3);
}

static void test_replicas_silent_one_loses_its_jobs(void **state)
{
    struct conf *f = *state;
    char jid[3][CCF_JOB_ID_LEN + 1];
    struct store_job_ref *refs;
    size_t n;

    three_jobs(f, jid);
    beat(f, A, 5);
    assert_int_equal(store_assign_jobs(f->s, US, 64), store_shared(f->s) ? 3 : 0);
    assert_int_equal(store_lost_jobs(f->s, US, &refs, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_unassign_job(f->s, jid[0], A), store_shared(f->s) ? 1 : 0);
    if (!store_shared(f->s))
        return;
    assert_int_equal(store_unassign_job(f->s, jid[0], A), 0); /* once */
    assert_int_equal(count(f, A), 2);
    /* A's heartbeat an hour old (the database's clock decides). */
    conf_exec(f, NULL, "UPDATE replicas SET heartbeat_at = heartbeat_at - interval '1 hour'");
    assert_int_equal(store_lost_jobs(f->s, US, &refs, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(refs[0].runner, A);
    assert_int_equal(refs[0].status, CCF_JOB_STARTED);
    free(refs);
    beat(f, A, 5); /* it came back first: nothing lost */
    assert_int_equal(store_lost_jobs(f->s, US, &refs, &n), 0);
    assert_int_equal(n, 0);
}

const struct CMUnitTest conf_replicas[] = {
    cmocka_unit_test_setup_teardown(test_replicas_assign_by_free_slots, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_replicas_none_live_leaves_jobs_unassigned, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_replicas_silent_one_loses_its_jobs, conf_setup,
                                    conf_teardown),
};
const size_t conf_replicas_n = sizeof(conf_replicas) / sizeof(conf_replicas[0]);
