/* test_orchestrator.c: unit tests of the job orchestrator and the job status
 * handler (src/orchestrator) against a real store in a temp dir and a fake
 * executor (tests/orch_fake.h): submit, stop, outcomes, capacity and the
 * status reason of a waiting job, recovery. The tests deliver outcomes with
 * orchestrator_on_event and turn the loop by hand with orch__step, as the
 * thread would. Retries are in test_orchestrator_retry.c. */
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

/* ---- helpers ---- */

/* Properties as validation leaves them: every default filled in. */
static char *props(const char *cmd, double cpu, int memory)
{
    static char buf[4][256];
    static int n;
    char *p = buf[n++ % 4];

    snprintf(p, 256,
             "{\"command\":[\"%s\",\"arg\"],\"resource_requirements\":{\"cpu\":%g,\"memory\":%d},"
             "\"timeout\":60,\"environment\":[{\"name\":\"K\",\"value\":\"v\"}]}",
             cmd, cpu, memory);
    return p;
}

static void assert_reason(struct fx *f, const char *cid, const char *jid, const char *part)
{
    struct ccf_job j = job_of(f, cid, jid);

    assert_non_null(j.failure_reason);
    if (!strstr(j.failure_reason, part))
        fail_msg("failure_reason \"%s\" lacks \"%s\"", j.failure_reason, part);
    ccf_job_clear(&j);
}

/* ---- tests ---- */

/* A job runs its connector's command with the exact environment, moves to
 * RUNNING and SUCCEEDED, frees its connector and ends its credentials. */
static void test_job_runs_to_success(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1], want[64];
    struct ccf_job j;

    launch_one(f, props("/bin/echo", 1, 2048), cid, jid);
    assert_int_equal(f->ex.nsubmits, 1);
    assert_string_equal(f->ex.submits[0].job_id, jid);
    assert_string_equal(f->ex.submits[0].argv[0], "/bin/echo");
    assert_string_equal(f->ex.submits[0].argv[1], "arg");
    assert_true(f->ex.submits[0].cpu == 1);
    assert_int_equal(f->ex.submits[0].memory_mib, 2048);
    assert_int_equal(f->ex.submits[0].timeout_s, 60);
    snprintf(want, sizeof(want), "CUSTOM_CONNECTOR_JOB_ID=%s\n", jid);
    assert_non_null(strstr(f->ex.submits[0].env, want));
    assert_non_null(strstr(f->ex.submits[0].env, "AWS_SESSION_TOKEN=token\n"));
    assert_non_null(strstr(f->ex.submits[0].env, "\nK=v\n"));
    assert_int_equal(f->issued, 1);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_STARTED);

    deliver(f, jid, EXECUTOR_RUNNING, false, 0);
    j = job_of(f, cid, jid);
    assert_int_equal(j.status, CCF_JOB_RUNNING);
    assert_string_equal(j.executor_id, jid);
    ccf_job_clear(&j);
    deliver(f, jid, EXECUTOR_EXITED, true, 0);
    j = job_of(f, cid, jid);
    assert_int_equal(j.status, CCF_JOB_SUCCEEDED);
    assert_true(j.has_exit_code && j.exit_code == 0);
    assert_null(j.failure_reason);
    ccf_job_clear(&j);
    assert_int_equal(connector_status(f, cid), CCF_CONNECTOR_AVAILABLE);
    assert_int_equal(f->revoked, 1);
    assert_string_equal(f->last_revoked, jid);
    assert_int_equal(f->o->running.n, 0);
    assert_true(f->o->pools[0].cpu_used == 0 && f->o->pools[0].memory_used == 0);
}

/* Failures and their reasons (CONTRACT.md, "How a job ends"). */
static void test_failures_and_reasons(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct executor_event ev = {.state = EXECUTOR_EXITED, .has_exit_code = true};
    struct ccf_job j;

    launch_one(f, props("/bin/false", 1, 1024), cid, jid);
    deliver(f, jid, EXECUTOR_EXITED, true, 137);
    j = job_of(f, cid, jid);
    assert_int_equal(j.status, CCF_JOB_FAILED);
    assert_int_equal(j.exit_code, 137);
    assert_string_equal(j.failure_reason, "exited with code 137 (killed by signal 9)");
    ccf_job_clear(&j);

    start(f, cid, jid);
    orch__step(f->o);
    snprintf(ev.job_id, sizeof(ev.job_id), "%s", jid);
    ev.exit_code = 143;
    ev.timed_out = true;
    orchestrator_on_event(f->o, &ev);
    orch__step(f->o);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_FAILED);
    assert_reason(f, cid, jid, "timed out after 60 s");

    start(f, cid, jid);
    orch__step(f->o);
    deliver(f, jid, EXECUTOR_LOST, false, 0);
    j = job_of(f, cid, jid);
    assert_int_equal(j.status, CCF_JOB_FAILED);
    assert_false(j.has_exit_code);
    assert_string_equal(j.failure_reason, "the job's supervisor was lost");
    ccf_job_clear(&j);
    assert_int_equal(connector_status(f, cid), CCF_CONNECTOR_AVAILABLE);
    assert_int_equal(f->revoked, 3);
}

/* Changes are delivered at least once: the same changes again (a lost
 * ack) submit nothing twice and change nothing. */
static void test_redelivered_changes_are_harmless(void **state)
{
    struct fx *f = *state;
    char cid[2][CCF_CONNECTOR_ID_LEN + 1], jid[2][CCF_JOB_ID_LEN + 1];

    launch(f, (const char *const[]){props("/bin/true", 1, 1024), props("/bin/true", 2, 1024), NULL},
           2, cid, jid);
    /* Submitted but not RUNNING yet, and queued behind it: both still STARTED. */
    f->o->cursor = 0;
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 1);
    assert_int_equal(f->o->running.n, 1);
    assert_int_equal(f->o->pending.n, 1);
    assert_true(f->o->pools[0].cpu_used == 1 && f->o->pools[0].memory_used == 1024);
    deliver(f, jid[0], EXECUTOR_RUNNING, false, 0);
    f->o->cursor = 0; /* everything again */
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 1);
    assert_int_equal(f->o->running.n, 1);
    assert_true(f->o->pools[0].cpu_used == 1);
    assert_int_equal(status_of(f, cid[0], jid[0]), CCF_JOB_RUNNING);

    deliver(f, jid[0], EXECUTOR_EXITED, true, 0);
    assert_int_equal(f->ex.nsubmits, 2); /* the big one (1), now that it fits */
    deliver(f, jid[1], EXECUTOR_EXITED, true, 0);
    f->o->cursor = 0;
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 2);
    assert_int_equal(f->o->running.n + f->o->pending.n, 0);
    assert_int_equal(status_of(f, cid[0], jid[0]), CCF_JOB_SUCCEEDED);
    assert_int_equal(f->ex.ncancels, 0);
}

/* Outcomes may come twice (a watcher and a recover): the second changes
 * nothing and gives no capacity back twice. RUNNING after the end is
 * ignored too. */
static void test_outcome_twice(void **state)
{
    struct fx *f = *state;
    char cid[2][CCF_CONNECTOR_ID_LEN + 1], jid[2][CCF_JOB_ID_LEN + 1];
    struct ccf_job j;

    launch(f, (const char *const[]){props("/bin/true", 1, 1024), props("/bin/true", 1, 1024), NULL},
           2, cid, jid);
    deliver(f, jid[0], EXECUTOR_EXITED, true, 3);
    deliver(f, jid[0], EXECUTOR_EXITED, true, 0);
    deliver(f, jid[0], EXECUTOR_RUNNING, false, 0);
    j = job_of(f, cid[0], jid[0]);
    assert_int_equal(j.status, CCF_JOB_FAILED);
    assert_int_equal(j.exit_code, 3);
    assert_null(j.executor_id);
    ccf_job_clear(&j);
    assert_int_equal(f->revoked, 1);
    assert_int_equal(f->o->running.n, 1); /* the other job still holds its share */
    assert_true(f->o->pools[0].cpu_used == 1 && f->o->pools[0].memory_used == 1024);
    assert_int_equal(status_of(f, cid[1], jid[1]), CCF_JOB_STARTED);
}

/* A job stopped before it ran never runs: stopped while queued, and stopped
 * before the orchestrator ever saw it. */
static void test_stop_before_run(void **state)
{
    struct fx *f = *state;
    char cid[3][CCF_CONNECTOR_ID_LEN + 1], jid[3][CCF_JOB_ID_LEN + 1];

    launch(f,
           (const char *const[]){props("/bin/sleep", 2, 1024), props("/bin/true", 1, 1024),
                                 props("/bin/true", 1, 1024), NULL},
           2, cid, jid);
    assert_int_equal(f->ex.nsubmits, 1); /* the big one (0) fills the budget */
    assert_int_equal(f->o->pending.n, 1);
    request_stop(f, cid[1], jid[1]);
    orch__step(f->o);
    assert_int_equal(status_of(f, cid[1], jid[1]), CCF_JOB_STOPPED);
    assert_reason(f, cid[1], jid[1], "stopped on request");
    assert_int_equal(f->o->pending.n, 0);
    assert_int_equal(connector_status(f, cid[1]), CCF_CONNECTOR_AVAILABLE);

    start(f, cid[2], jid[2]);
    request_stop(f, cid[2], jid[2]); /* both changes arrive in one step */
    orch__step(f->o);
    assert_int_equal(status_of(f, cid[2], jid[2]), CCF_JOB_STOPPED);

    deliver(f, jid[0], EXECUTOR_EXITED, true, 0); /* room now: still nothing to run */
    assert_int_equal(f->ex.nsubmits, 1);
    assert_false(submitted(f, jid[1]) || submitted(f, jid[2]));
    assert_int_equal(f->ex.ncancels, 0);
}

/* Stop while running: cancel, and the job ends STOPPED whatever its exit
 * (0 included), with the exit code it had. A stop of an ended job does
 * nothing. */
static void test_stop_while_running(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_job j;

    launch_one(f, props("/bin/sleep", 1, 1024), cid, jid);
    deliver(f, jid, EXECUTOR_RUNNING, false, 0);
    request_stop(f, cid, jid);
    orch__step(f->o);
    assert_int_equal(f->ex.ncancels, 1);
    assert_string_equal(f->ex.cancels[0], jid);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_STOPPING);
    deliver(f, jid, EXECUTOR_EXITED, true, 0); /* it exited 0 on SIGTERM */
    j = job_of(f, cid, jid);
    assert_int_equal(j.status, CCF_JOB_STOPPED);
    assert_true(j.has_exit_code && j.exit_code == 0);
    assert_string_equal(j.failure_reason, "stopped on request");
    ccf_job_clear(&j);
    assert_int_equal(connector_status(f, cid), CCF_CONNECTOR_AVAILABLE);
    f->o->cursor = 0; /* the STOPPING change again, after the end */
    orch__step(f->o);
    assert_int_equal(f->ex.ncancels, 1);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_STOPPED);
}

/* Jobs beyond the budget wait in STARTED and start in order as room frees. */
static void test_capacity_queues_in_order(void **state)
{
    struct fx *f = *state;
    char cid[4][CCF_CONNECTOR_ID_LEN + 1], jid[4][CCF_JOB_ID_LEN + 1];
    const char *p;

    fake_cap.max_jobs = 3;
    p = props("/bin/true", 1, 3000);
    launch(f, (const char *const[]){p, p, p, p, NULL}, 4, cid, jid);
    /* cpu 2 allows two; memory (8192) too. */
    assert_int_equal(f->ex.nsubmits, 2);
    assert_string_equal(f->ex.submits[0].job_id, jid[0]);
    assert_string_equal(f->ex.submits[1].job_id, jid[1]);
    assert_int_equal(f->o->pending.n, 2);
    assert_int_equal(status_of(f, cid[2], jid[2]), CCF_JOB_STARTED);
    deliver(f, jid[1], EXECUTOR_EXITED, true, 0);
    assert_int_equal(f->ex.nsubmits, 3);
    assert_string_equal(f->ex.submits[2].job_id, jid[2]);
    deliver(f, jid[0], EXECUTOR_EXITED, true, 0);
    assert_int_equal(f->ex.nsubmits, 4);
    assert_string_equal(f->ex.submits[3].job_id, jid[3]);
    assert_true(f->o->pools[0].cpu_used == 2 && f->o->pools[0].memory_used == 6000);
}

/* max_jobs limits on its own. */
static void test_max_jobs(void **state)
{
    struct fx *f = *state;
    char cid[2][CCF_CONNECTOR_ID_LEN + 1], jid[2][CCF_JOB_ID_LEN + 1];
    const char *p;

    fake_cap.max_jobs = 1;
    p = props("/bin/true", 0.25, 1024);
    launch(f, (const char *const[]){p, p, NULL}, 2, cid, jid);
    assert_int_equal(f->ex.nsubmits, 1);
    deliver(f, jid[0], EXECUTOR_EXITED, true, 0);
    assert_int_equal(f->ex.nsubmits, 2);
}

static void assert_status_reason(struct fx *f, const char *cid, const char *jid, const char *want)
{
    struct ccf_job j = job_of(f, cid, jid);

    if (!want)
        assert_null(j.status_reason);
    else if (!j.status_reason || strcmp(j.status_reason, want) != 0)
        fail_msg("status_reason \"%s\", want \"%s\"", j.status_reason ? j.status_reason : "(null)",
                 want);
    ccf_job_clear(&j);
}

/* A job that waits for capacity says why (what its pool lacks, or that
 * earlier jobs wait first); the reason goes once it is submitted, and
 * comes back after a restart only if it still waits. */
static void test_status_reason_while_waiting(void **state)
{
    struct fx *f = *state;
    char cid[4][CCF_CONNECTOR_ID_LEN + 1], jid[4][CCF_JOB_ID_LEN + 1];
    struct ccf_job j;

    launch(f,
           (const char *const[]){props("/bin/true", 1, 1024), props("/bin/true", 1.5, 1024),
                                 props("/bin/true", 0.5, 1024), props("/bin/true", 0.5, 7500),
                                 NULL},
           3, cid, jid);
    assert_int_equal(f->ex.nsubmits, 1);
    assert_status_reason(f, cid[0], jid[0], NULL);
    assert_status_reason(f, cid[1], jid[1],
                         "waiting for capacity: 1 of 2 vCPUs in use, the job needs 1.5 "
                         "(pool machine)");
    /* It would fit, but jobs start in order. */
    assert_status_reason(f, cid[2], jid[2],
                         "waiting for capacity: earlier jobs wait first (pool machine)");
    /* Shown in the job's JSON, and gone from it once it runs. */
    j = job_of(f, cid[1], jid[1]);
    {
        json_t *o = ccf_job_json(&j);
        assert_non_null(json_object_get(o, "status_reason"));
        json_decref(o);
    }
    ccf_job_clear(&j);
    deliver(f, jid[0], EXECUTOR_EXITED, true, 0);
    assert_int_equal(f->ex.nsubmits, 3);
    assert_status_reason(f, cid[1], jid[1], NULL);
    assert_status_reason(f, cid[2], jid[2], NULL);
    deliver(f, jid[1], EXECUTOR_RUNNING, false, 0);
    assert_status_reason(f, cid[1], jid[1], NULL);
    j = job_of(f, cid[1], jid[1]);
    {
        json_t *o = ccf_job_json(&j);
        assert_null(json_object_get(o, "status_reason"));
        json_decref(o);
    }
    ccf_job_clear(&j);
    /* Memory: 1024 of 8192 held once job 2 ends; 7500 more do not fit. */
    deliver(f, jid[2], EXECUTOR_EXITED, true, 0);
    start(f, cid[3], jid[3]);
    orch__step(f->o);
    assert_status_reason(f, cid[3], jid[3],
                         "waiting for capacity: 1024 of 8192 MiB of memory in use, the job needs "
                         "7500 (pool machine)");
    /* A restart that finds job 1 still running: job 3 still waits, and
     * says so. */
    adopt(&f->ex, jid[1]);
    orch_new(f);
    orch__step(f->o);
    assert_int_equal(f->o->pending.n, 1);
    assert_status_reason(f, cid[3], jid[3],
                         "waiting for capacity: 1024 of 8192 MiB of memory in use, the job needs "
                         "7500 (pool machine)");
}

/* max-jobs names itself, and a stop of a waiting job clears the reason. */
static void test_status_reason_max_jobs_and_stop(void **state)
{
    struct fx *f = *state;
    char cid[2][CCF_CONNECTOR_ID_LEN + 1], jid[2][CCF_JOB_ID_LEN + 1];
    const char *p;

    fake_cap.max_jobs = 1;
    p = props("/bin/true", 0.25, 1024);
    launch(f, (const char *const[]){p, p, NULL}, 2, cid, jid);
    assert_status_reason(f, cid[1], jid[1],
                         "waiting for capacity: 1 of 1 jobs running (pool machine)");
    request_stop(f, cid[1], jid[1]);
    orch__step(f->o);
    assert_int_equal(status_of(f, cid[1], jid[1]), CCF_JOB_STOPPED);
    assert_status_reason(f, cid[1], jid[1], NULL);
    assert_int_equal(f->ex.nsubmits, 1);
}

/* A job that can never fit fails at once with a reason, and does not block
 * the queue behind it; one whose connector has no command too. */
static void test_cannot_run_fails_at_once(void **state)
{
    struct fx *f = *state;
    char cid[3][CCF_CONNECTOR_ID_LEN + 1], jid[3][CCF_JOB_ID_LEN + 1];

    launch(f,
           (const char *const[]){
               props("/bin/true", 4, 1024),
               "{\"image_uri\":\"123456789012.dkr.ecr.us-east-1.amazonaws.com/x\","
               "\"resource_requirements\":{\"cpu\":1,\"memory\":1024},\"timeout\":60}",
               props("/bin/true", 1, 1024), NULL},
           3, cid, jid);
    assert_int_equal(status_of(f, cid[0], jid[0]), CCF_JOB_FAILED);
    assert_reason(f, cid[0], jid[0], "more than the executor's whole capacity");
    assert_int_equal(connector_status(f, cid[0]), CCF_CONNECTOR_AVAILABLE);
    assert_int_equal(status_of(f, cid[1], jid[1]), CCF_JOB_FAILED);
    assert_reason(f, cid[1], jid[1], "no command");
    assert_int_equal(f->ex.nsubmits, 1);
    assert_string_equal(f->ex.submits[0].job_id, jid[2]);
    assert_int_equal(f->issued, 1);
}

/* An executor that cannot start the job: FAILED, capacity and credentials
 * given back. */
static void test_submit_failure(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];

    f->ex.submit_rc = CCF_EIO;
    launch_one(f, props("/bin/true", 1, 1024), cid, jid);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_FAILED);
    assert_reason(f, cid, jid, "the executor could not start the job");
    assert_int_equal(f->o->running.n + f->o->pending.n, 0);
    assert_true(f->o->pools[0].cpu_used == 0 && f->o->pools[0].memory_used == 0);
    assert_int_equal(f->revoked, 1);
    assert_int_equal(connector_status(f, cid), CCF_CONNECTOR_AVAILABLE);
}

/* After a restart: a running job is re-adopted (its events still apply), a
 * job never submitted is submitted, a STOPPING job never submitted ends
 * STOPPED, and the cursor resumes where it was. */
static void test_recovery(void **state)
{
    struct fx *f = *state;
    char cid[3][CCF_CONNECTOR_ID_LEN + 1], jid[3][CCF_JOB_ID_LEN + 1];

    launch(f,
           (const char *const[]){props("/bin/sleep", 1, 1024), props("/bin/true", 1, 1024),
                                 props("/bin/true", 1, 1024), NULL},
           1, cid, jid);
    deliver(f, jid[0], EXECUTOR_RUNNING, false, 0);
    store_cursor_set(f->s, "orchestrator", f->o->cursor);
    start(f, cid[1], jid[1]);
    start(f, cid[2], jid[2]);
    request_stop(f, cid[2], jid[2]);
    /* Down before it saw jobs 1 and 2; job 0's supervisor still runs. */
    forget_submits(f);
    adopt(&f->ex, jid[0]);
    orch_new(f);
    assert_int_equal(f->ex.nrecovers, 3);
    assert_int_equal(f->ex.nsubmits, 0);
    assert_int_equal(status_of(f, cid[2], jid[2]), CCF_JOB_STOPPED);
    orch__step(f->o);
    assert_true(submitted(f, jid[1]));
    assert_false(submitted(f, jid[0]) || submitted(f, jid[2]));
    assert_int_equal(f->o->running.n, 2);
    deliver(f, jid[1], EXECUTOR_EXITED, true, 0);
    assert_int_equal(status_of(f, cid[1], jid[1]), CCF_JOB_SUCCEEDED);
    deliver(f, jid[0], EXECUTOR_EXITED, true, 0);
    assert_int_equal(status_of(f, cid[0], jid[0]), CCF_JOB_SUCCEEDED);
    assert_int_equal(f->ex.nsubmits, 1);
}

/* A re-adopted job's events reach it without a new submit. */
static void test_recovery_adopts_running_job(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];

    launch_one(f, props("/bin/sleep", 1, 1024), cid, jid);
    deliver(f, jid, EXECUTOR_RUNNING, false, 0);
    store_cursor_set(f->s, "orchestrator", f->o->cursor);
    forget_submits(f);
    adopt(&f->ex, jid);
    orch_new(f);
    assert_int_equal(f->o->running.n, 1);
    assert_true(f->o->pools[0].cpu_used == 1);
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 0);
    request_stop(f, cid, jid);
    orch__step(f->o);
    assert_int_equal(f->ex.ncancels, 1);
    deliver(f, jid, EXECUTOR_EXITED, true, 143);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_STOPPED);
    assert_int_equal(f->o->running.n, 0);
}

/* Issue 15: a runner (a replica id) that starts again stops each attempt
 * its executor still runs that the store does not give it at that attempt
 * (strays.c): one whose job has ended is stopped and forgotten, nothing
 * written; one of its own jobs at another attempt is stopped, forgotten,
 * then recovered and run at the store's attempt; its own job at the
 * store's attempt is re-adopted as before. */
static void test_runner_start_stops_stray_attempts(void **state)
{
    static const char replica[] = "0123456789abcdef0123456789abcdef";
    struct fx *f = *state;
    char cid[3][CCF_CONNECTOR_ID_LEN + 1], jid[3][CCF_JOB_ID_LEN + 1];

    launch(f,
           (const char *const[]){props("/bin/sleep", 1, 1024), props("/bin/true", 1, 1024),
                                 props("/bin/true", 1, 1024), NULL},
           3, cid, jid);
    deliver(f, jid[0], EXECUTOR_RUNNING, false, 0);
    deliver(f, jid[1], EXECUTOR_RUNNING, false, 0);
    deliver(f, jid[1], EXECUTOR_EXITED, true, 0);
    assert_int_equal(status_of(f, cid[1], jid[1]), CCF_JOB_SUCCEEDED);
    forget_submits(f);
    adopt(&f->ex, jid[0]);            /* RUNNING, attempt 1: its own */
    adopt(&f->ex, jid[1]);            /* ended in the store: a stray */
    adopt_attempt(&f->ex, jid[2], 2); /* STARTED, attempt 1 next: a stray of its own job */
    orchestrator_destroy(f->o);
    assert_int_equal(orchestrator_create(&f->o, &f->cfg), 0);
    orchestrator_set_replica(f->o, replica);
    assert_int_equal(orch__recover(f->o, &f->ex), 0);
    assert_int_equal(f->ex.ncancels, 2);
    assert_true((strcmp(f->ex.cancels[0], jid[1]) == 0 && strcmp(f->ex.cancels[1], jid[2]) == 0) ||
                (strcmp(f->ex.cancels[0], jid[2]) == 0 && strcmp(f->ex.cancels[1], jid[1]) == 0));
    assert_int_equal(f->ex.nforgets, 2);
    assert_int_equal(f->o->nstrays, 0);
    assert_int_equal(f->o->running.n, 1); /* job 0, re-adopted */
    orch__step(f->o);
    assert_true(submitted(f, jid[2]));
    assert_false(submitted(f, jid[0]) || submitted(f, jid[1]));
    /* The stray's end, should it be reported, writes nothing. */
    deliver(f, jid[1], EXECUTOR_EXITED, true, 143);
    assert_int_equal(status_of(f, cid[1], jid[1]), CCF_JOB_SUCCEEDED);
    deliver(f, jid[0], EXECUTOR_EXITED, true, 0);
    assert_int_equal(status_of(f, cid[0], jid[0]), CCF_JOB_SUCCEEDED);
}

/* Issue 12: what a queued job runs is what its connector said when the job
 * was admitted. An update while it waits applies to the next job: both its
 * command and its limits, never the new command under the old limits. */
static void test_connector_updated_while_queued(void **state)
{
    struct fx *f = *state;
    char cid[2][CCF_CONNECTOR_ID_LEN + 1], jid[2][CCF_JOB_ID_LEN + 1];
    char jnext[CCF_JOB_ID_LEN + 1];
    struct ccf_connector c;

    launch(f, (const char *const[]){props("/bin/sleep", 2, 1024), props("/bin/old", 1, 1024), NULL},
           2, cid, jid);
    assert_int_equal(f->o->pending.n, 1);
    assert_int_equal(store_get_connector(f->s, &f->t, cid[1], &c), 0);
    free(c.properties);
    c.properties = ccf_xstrdup(props("/bin/new", 0.5, 4096));
    assert_int_equal(store_update_connector(f->s, &f->t, &c, c.version), 0);
    ccf_connector_clear(&c);
    deliver(f, jid[0], EXECUTOR_EXITED, true, 0);
    assert_int_equal(f->ex.nsubmits, 2);
    assert_string_equal(f->ex.submits[1].job_id, jid[1]);
    assert_string_equal(f->ex.submits[1].argv[0], "/bin/old");
    assert_true(f->ex.submits[1].cpu == 1);
    assert_int_equal(f->ex.submits[1].memory_mib, 1024);
    assert_true(f->o->pools[0].cpu_used == 1 && f->o->pools[0].memory_used == 1024);
    deliver(f, jid[1], EXECUTOR_EXITED, true, 0);
    start(f, cid[1], jnext);
    orch__step(f->o);
    assert_string_equal(f->ex.submits[2].argv[0], "/bin/new");
    assert_int_equal(f->ex.submits[2].memory_mib, 4096);
}

/* The spec decoder (core) refuses what validation never stores. */
static void test_job_spec_decode(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"timeout\":60,\"resource_requirements\":{\"memory\":1024}}",
        "{\"timeout\":60,\"resource_requirements\":{\"cpu\":1}}",
        "{\"resource_requirements\":{\"cpu\":1,\"memory\":1024}}",
        "{\"timeout\":60,\"resource_requirements\":{\"cpu\":1,\"memory\":1024},"
        "\"command\":[]}",
        "{\"timeout\":60,\"resource_requirements\":{\"cpu\":1,\"memory\":1024},"
        "\"command\":[\"/bin/true\",7]}",
        "{\"timeout\":60,\"resource_requirements\":{\"cpu\":1,\"memory\":1024},"
        "\"command\":[\"/bin/true\"],\"environment\":[{\"name\":\"A\"}]}",
    };
    struct ccf_job_spec spec = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ccf_job_spec_decode(bad[i], &spec) != CCF_EINVAL)
            fail_msg("accepted %s", bad[i]);
    }
    assert_int_equal(ccf_job_spec_decode(NULL, &spec), CCF_EINVAL);
    assert_int_equal(ccf_job_spec_decode(props("/bin/x", 1.5, 2048), &spec), 0);
    assert_string_equal(spec.command[0], "/bin/x");
    assert_string_equal(spec.command[1], "arg");
    assert_null(spec.command[2]);
    assert_int_equal(spec.nenv, 1);
    assert_string_equal(spec.env[0].name, "K");
    assert_string_equal(spec.env[0].value, "v");
    assert_true(spec.cpu == 1.5);
    assert_int_equal(spec.memory_mib, 2048);
    assert_int_equal(spec.timeout_s, 60);
    ccf_job_spec_clear(&spec);
    assert_null(spec.command);
    ccf_job_spec_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_spec_decode),
        cmocka_unit_test_setup_teardown(test_job_runs_to_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures_and_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redelivered_changes_are_harmless, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcome_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_before_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capacity_queues_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_reason_while_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_reason_max_jobs_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cannot_run_fails_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_adopts_running_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connector_updated_while_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runner_start_stops_stray_attempts, setup, teardown),
    };
    ccf_log_setup(CCF_LOG_WARN, CCF_LOG_LOGFMT); /* one line per expected warning, no more */
    return cmocka_run_group_tests_name("orchestrator", tests, NULL, NULL);
}
