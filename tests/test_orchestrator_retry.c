/* test_orchestrator_retry.c: unit tests of the orchestrator's retries
 * (CONTRACT-OPS.md "Retries"): the decision on an attempt's exit code, the
 * backoff wait, stops during the wait and the launch, redelivery, and a
 * restart between attempts; same fixture and fake executor as
 * test_orchestrator.c (tests/orch_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"
#include "core/validate.h"
#include "orch_fixture.h"

/* ---- retries (CONTRACT-OPS.md "Retries") ---- */

static double no_jitter(void *ctx)
{
    (void)ctx;
    return 0.5;
}

/* Properties with a retry strategy: 75 retried, any other code ends it. */
static char *retry_props(const char *cmd, int attempts, int initial_s)
{
    static char buf[2][512];
    static int n;
    char *p = buf[n++ % 2];

    snprintf(p, 512,
             "{\"command\":[\"%s\"],\"resource_requirements\":{\"cpu\":1,\"memory\":1024},"
             "\"timeout\":60,\"retry_strategy\":{\"attempts\":%d,\"evaluate_on_exit\":["
             "{\"on_exit_code\":\"75\",\"action\":\"RETRY\"},"
             "{\"on_exit_code\":\"*\",\"action\":\"EXIT\"}],"
             "\"backoff\":{\"initial_seconds\":%d,\"multiplier\":2,\"max_seconds\":3600}}}",
             cmd, attempts, initial_s);
    return p;
}

static void retry_setup(struct fx *f, const char *props_json, char *cid, char *jid)
{
    f->cfg.random_unit = no_jitter;
    launch_one(f, props_json, cid, jid);
}

/* Runs the job's current attempt to exit code `code`. */
static void run_attempt(struct fx *f, const char *jid, int code)
{
    deliver(f, jid, EXECUTOR_RUNNING, false, 0);
    deliver(f, jid, EXECUTOR_EXITED, true, code);
}

static void assert_attempts(struct fx *f, const char *cid, const char *jid, int attempt,
                            const char *json_part)
{
    struct ccf_job j = job_of(f, cid, jid);

    assert_int_equal(j.attempt, attempt);
    assert_non_null(j.attempts);
    if (!strstr(j.attempts, json_part))
        fail_msg("attempts %s lack %s", j.attempts, json_part);
    ccf_job_clear(&j);
}

/* A retried failure goes back to STARTED, due after the backoff, with the
 * connector still IN_USE and the credentials ended; the next attempt is a
 * new submit of the same job; an EXIT rule ends it at once. */
static void test_retry_decision(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_job j;
    int64_t before = ccf_now_us();

    retry_setup(f, retry_props("/bin/x", 3, 0), cid, jid);
    assert_int_equal(f->ex.submits[0].attempt, 1);
    deliver(f, jid, EXECUTOR_RUNNING, false, 0);
    assert_int_equal(f->ex.nsubmits, 1);
    deliver(f, jid, EXECUTOR_EXITED, true, 75); /* due at once (0 s): runs again in the step */
    j = job_of(f, cid, jid);
    assert_int_equal(j.status, CCF_JOB_STARTED);
    assert_false(j.has_exit_code); /* the attempt's, not yet the job's */
    assert_null(j.failure_reason);
    assert_true(j.next_attempt_at >= before);
    ccf_job_clear(&j);
    assert_attempts(f, cid, jid, 1, "\"exit_code\":75,\"reason\":\"exited with code 75\"");
    assert_int_equal(connector_status(f, cid), CCF_CONNECTOR_IN_USE);
    assert_int_equal(f->revoked, 1);
    assert_int_equal(f->ex.nsubmits, 2);
    assert_int_equal(f->ex.submits[1].attempt, 2);
    assert_string_equal(f->ex.submits[1].job_id, jid);
    run_attempt(f, jid, 3);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_FAILED);
    assert_attempts(f, cid, jid, 2, "{\"attempt\":2,");
    j = job_of(f, cid, jid);
    assert_true(j.has_exit_code && j.exit_code == 3);
    assert_int_equal(j.next_attempt_at, 0);
    ccf_job_clear(&j);
    assert_int_equal(connector_status(f, cid), CCF_CONNECTOR_AVAILABLE);
}

/* Attempts run out: the last failure is the job's. A success ends it. */
static void test_retry_attempts_run_out(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];

    retry_setup(f, retry_props("/bin/x", 2, 0), cid, jid);
    run_attempt(f, jid, 75);
    run_attempt(f, jid, 75);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_FAILED);
    assert_int_equal(f->ex.nsubmits, 2);
    assert_attempts(f, cid, jid, 2, "{\"attempt\":2,");
}

/* The wait is honoured: nothing starts before next_attempt_at, the
 * thread's next wake-up is that time, and the attempt starts once due. */
static void test_retry_backoff_wait(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_job j;
    int64_t due_in;

    retry_setup(f, retry_props("/bin/x", 3, 1), cid, jid);
    run_attempt(f, jid, 75);
    j = job_of(f, cid, jid);
    due_in = j.next_attempt_at - ccf_now_us();
    ccf_job_clear(&j);
    assert_true(due_in > 800000 && due_in <= 1000000); /* 1 s, no jitter */
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 1);
    due_in = orch__wake_due(f->o);
    assert_true(due_in > 700000 && due_in <= 1000000);
    usleep((useconds_t)due_in + 20000);
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 2);
    assert_int_equal(orch__wake_due(f->o), INT64_MAX);
}

/* A stop during the wait ends the job STOPPED at once, with the last
 * attempt's exit code, and frees the connector. */
static void test_retry_stop_during_wait(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_job j;

    retry_setup(f, retry_props("/bin/x", 3, 600), cid, jid);
    run_attempt(f, jid, 75);
    request_stop(f, cid, jid);
    orch__step(f->o);
    j = job_of(f, cid, jid);
    assert_int_equal(j.status, CCF_JOB_STOPPED);
    assert_true(j.has_exit_code && j.exit_code == 75);
    assert_string_equal(j.failure_reason, "stopped on request");
    assert_int_equal(j.next_attempt_at, 0);
    assert_int_equal(j.attempt, 1);
    ccf_job_clear(&j);
    assert_int_equal(connector_status(f, cid), CCF_CONNECTOR_AVAILABLE);
    assert_int_equal(f->ex.ncancels, 0); /* nothing ran to cancel */
    assert_int_equal(orch__wake_due(f->o), INT64_MAX);
}

/* A stop that lands after the next attempt was submitted but before it
 * reported RUNNING: the executor kills it (143) and RUNNING is refused, so
 * that attempt never started as far as the job says: it ends as a stop in
 * the wait does, with the last recorded attempt's exit code. */
static void test_retry_stop_during_launch(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_job j;

    retry_setup(f, retry_props("/bin/x", 3, 0), cid, jid);
    run_attempt(f, jid, 75); /* due at once: attempt 2 is submitted in the step */
    assert_int_equal(f->ex.nsubmits, 2);
    request_stop(f, cid, jid);
    orch__step(f->o);
    assert_int_equal(f->ex.ncancels, 1);
    deliver(f, jid, EXECUTOR_RUNNING, false, 0); /* refused: STOPPING */
    deliver(f, jid, EXECUTOR_EXITED, true, 143);
    j = job_of(f, cid, jid);
    assert_int_equal(j.status, CCF_JOB_STOPPED);
    assert_int_equal(j.attempt, 1);
    assert_true(j.has_exit_code && j.exit_code == 75);
    assert_string_equal(j.failure_reason, "stopped on request");
    ccf_job_clear(&j);
    assert_int_equal(connector_status(f, cid), CCF_CONNECTOR_AVAILABLE);
}

/* Redelivered events and changes change nothing: a second exit of an
 * attempt already retried, a second RUNNING, the retry's change again. */
static void test_retry_redelivery(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct store_change ch = {.old_status = CCF_JOB_RUNNING, .new_status = CCF_JOB_STARTED};

    retry_setup(f, retry_props("/bin/x", 3, 600), cid, jid);
    run_attempt(f, jid, 75);
    deliver(f, jid, EXECUTOR_EXITED, true, 75);
    deliver(f, jid, EXECUTOR_RUNNING, false, 0);
    ch.tenant = f->t;
    memcpy(ch.connector_id, cid, sizeof(ch.connector_id));
    memcpy(ch.job_id, jid, sizeof(ch.job_id));
    assert_int_equal(orch__on_change(f->o, &ch), 0);
    orch__step(f->o);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_STARTED);
    assert_int_equal(f->ex.nsubmits, 1);
    assert_attempts(f, cid, jid, 1, "\"exit_code\":75");
    assert_attempts(f, cid, jid, 1, "[{\"attempt\":1,");
}

/* A restart during the wait keeps waiting for the stored time (the
 * executor's earlier attempt is not collected again); a restart during
 * attempt 2 re-adopts it. The command is the one the job started with,
 * whatever the connector says now. */
static void test_retry_restart(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_connector c;

    retry_setup(f, retry_props("/bin/first", 3, 1), cid, jid);
    run_attempt(f, jid, 75);
    assert_int_equal(store_get_connector(f->s, &f->t, cid, &c), 0);
    free(c.properties);
    c.properties = ccf_xstrdup(retry_props("/bin/second", 1, 0));
    assert_int_equal(store_update_connector(f->s, &f->t, &c, c.version), 0);
    ccf_connector_clear(&c);
    adopt_attempt(&f->ex, jid, 1); /* its directory holds attempt 1 */
    orch_new(f);
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 1);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_STARTED);
    usleep((useconds_t)orch__wake_due(f->o) + 20000);
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 2);
    assert_string_equal(f->ex.submits[1].argv[0], "/bin/first");
    deliver(f, jid, EXECUTOR_RUNNING, false, 0);
    f->ex.adopted_attempt[0] = 2;
    orch_new(f); /* during attempt 2: re-adopted, then its outcome decides */
    assert_int_equal(f->ex.nsubmits, 2);
    deliver(f, jid, EXECUTOR_EXITED, true, 75);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_STARTED); /* 3 attempts, frozen */
    assert_attempts(f, cid, jid, 2, "{\"attempt\":2,");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retry_decision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_attempts_run_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_backoff_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_stop_during_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_stop_during_launch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_redelivery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_restart, setup, teardown),
    };
    ccf_log_setup(CCF_LOG_WARN, CCF_LOG_LOGFMT); /* one line per expected warning, no more */
    return cmocka_run_group_tests_name("orchestrator_retry", tests, NULL, NULL);
}
