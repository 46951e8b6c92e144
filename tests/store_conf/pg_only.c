/* pg_only.c: cases of what only the PostgreSQL backend has: a lost
 * connection (a server restart, a failover, an administrator's kill) is
 * CCF_EUNAVAIL (503 with Retry-After), never CCF_EIO (500), and the store
 * reconnects by itself; a server that does not answer is CCF_EUNAVAIL at
 * open. Run in the PostgreSQL group only. */
#include "conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"

/* Ends every session of the case's database but the test's own: what a
 * restart or a failover does to ccfd's pool. */
static void kill_sessions(struct conf *f)
{
    char sql[256];

    snprintf(sql, sizeof(sql),
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE datname = '%s' AND pid <> pg_backend_pid()",
             strrchr(f->url, '/') + 1);
    assert_true(conf_int(f, sql) >= 1);
}

static void test_lost_connection_is_unavailable_then_recovers(void **state)
{
    struct conf *f = *state;
    char id[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_connector c;
    int rc, unavailable = 0;

    mk_connector(f, &f->t1, "before", id);
    kill_sessions(f);
    /* A read on a dead pooled connection: 503, or already reconnected. */
    for (int i = 0; i < 3; i++) {
        rc = store_get_connector(f->s, &f->t1, id, &c);
        assert_true(rc == 0 || rc == CCF_EUNAVAIL);
        if (rc == 0)
            ccf_connector_clear(&c);
        else
            unavailable++;
    }
    assert_int_equal(store_get_connector(f->s, &f->t1, id, &c), 0);
    ccf_connector_clear(&c);
    /* A write begins again on a fresh connection: nothing had run. */
    kill_sessions(f);
    mk_connector(f, &f->t1, "after", id);
    start(f, id, jid);
    assert_int_equal(move(f, id, jid, BIT(CCF_JOB_STARTED), CCF_JOB_RUNNING), 1);
    assert_int_equal(store_ping(f->s), 0);
    assert_true(unavailable <= 1); /* one pooled connection was in use */
}

static void test_unreachable_server_is_unavailable(void **state)
{
    struct conf *f = *state;
    struct store_config cfg = {.url = "postgresql://postgres@127.0.0.1:1/none",
                               .busy_timeout_ms = 200};
    struct store *s = (struct store *)SENTINEL;

    (void)f;
    assert_int_equal(store_open(&s, &cfg), CCF_EUNAVAIL);
    assert_ptr_equal(s, SENTINEL);
    cfg.url = "postgresql://postgres@127.0.0.1:1/none";
    cfg.pool_size = 65; /* more than POOL_MAX */
    assert_int_equal(store_open(&s, &cfg), CCF_EINVAL);
    cfg.url = "mysql://x";
    cfg.pool_size = 0;
    assert_int_equal(store_open(&s, &cfg), CCF_EINVAL);
}

/* A second handle on the case's database: another replica. */
static struct store *replica(struct conf *f)
{
    struct store_config cfg = {.url = f->url, .pool_size = 2};
    struct store *s = NULL;

    assert_int_equal(store_open(&s, &cfg), 0);
    return s;
}

/* Polls until the answer is want (or fails after about 10 s). */
static void poll_until(struct store *s, int want)
{
    bool woken;
    int rc = -1;

    for (int i = 0; i < 100 && rc != want; i++)
        rc = store_leader_poll(s, 100, &woken);
    assert_int_equal(rc, want);
}

static void test_one_leader_then_another_when_it_goes(void **state)
{
    struct conf *f = *state;
    struct store *other = replica(f);
    bool woken;

    assert_true(store_shared(f->s));
    poll_until(other, 1);
    assert_int_equal(store_leader_poll(f->s, 10, &woken), 0);
    assert_int_equal(store_leader_poll(other, 10, &woken), 1); /* it stays the leader */
    assert_int_equal(store_leader_poll(f->s, 10, &woken), 0);
    store_close(other); /* its session ends: the lock is free */
    poll_until(f->s, 1);
}

static void count_wake(void *ctx)
{
    (*(int *)ctx)++;
}

static void test_a_write_on_another_replica_wakes_the_leader(void **state)
{
    struct conf *f = *state;
    struct store *other = replica(f);
    struct store *saved = f->s;
    char id[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    bool woken = false;
    int wakes = 0, rc = 0;

    store_set_change_hook(f->s, count_wake, &wakes);
    poll_until(f->s, 1);
    /* Nothing written: a poll waits its time out, unwoken. */
    assert_int_equal(store_leader_poll(f->s, 50, &woken), 1);
    assert_false(woken);
    f->s = other; /* the helpers write through the other replica */
    mk_connector(f, &f->t1, "elsewhere", id);
    start(f, id, jid);
    f->s = saved;
    for (int i = 0; i < 20 && !woken; i++)
        rc = store_leader_poll(f->s, 500, &woken);
    assert_int_equal(rc, 1);
    assert_true(woken);
    assert_true(wakes >= 1); /* the change hook ran, as after a local commit */
    store_close(other);
}

/* A database at version 4 (replicas and runners, before the shared job
 * logs and pings) migrates to 5 at the next open and keeps its rows: the
 * schema of version 4 is today's less what migration 5 adds. */
static void test_version_4_migrates_to_5(void **state)
{
    struct conf *f = *state;
    char id[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1], buf[8];
    int64_t size, dropped;

    assert_int_equal(conf_int(f, "SELECT max(version) FROM ccf_schema"), 5);
    mk_connector(f, &f->t1, "before", id);
    start(f, id, jid);
    store_close(f->s);
    f->s = NULL;
    conf_exec(f,
              "DROP TABLE job_log_chunks; DROP TABLE webhook_pings;"
              "DELETE FROM ccf_schema; INSERT INTO ccf_schema VALUES (4)",
              NULL);
    assert_int_equal(conf_int(f, "SELECT count(*) FROM pg_tables WHERE tablename IN "
                                 "('job_log_chunks', 'webhook_pings')"),
                     0);
    conf_reopen(f);
    assert_int_equal(conf_int(f, "SELECT max(version) FROM ccf_schema"), 5);
    assert_int_equal(conf_int(f, "SELECT count(*) FROM ccf_schema"), 1);
    assert_int_equal(store_append_job_log(f->s, jid, 1, 0, "ok", 2, 16), 1);
    assert_int_equal(store_read_job_log(f->s, jid, 1, 0, buf, sizeof(buf), &size, &dropped), 2);
    assert_memory_equal(buf, "ok", 2);
    assert_int_equal(conf_int(f, "SELECT count(*) FROM jobs WHERE runner IS NULL"), 1);
}

const struct CMUnitTest conf_pg_only[] = {
    cmocka_unit_test_setup_teardown(test_one_leader_then_another_when_it_goes, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_a_write_on_another_replica_wakes_the_leader, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_lost_connection_is_unavailable_then_recovers, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_unreachable_server_is_unavailable, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_version_4_migrates_to_5, conf_setup, conf_teardown),
};
const size_t conf_pg_only_n = sizeof(conf_pg_only) / sizeof(conf_pg_only[0]);
