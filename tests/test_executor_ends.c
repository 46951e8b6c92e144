/* test_executor_ends.c: unit tests of the local executor (src/executor):
 * how a job ends (exit, signal, cancel, timeout), and the latency of a
 * start and a stop, printed. The fixture is tests/executor_fixture.h. */
#include "executor_fixture.h"

/* ---- how a job ends ---- */

static void test_exit_zero(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"/bin/true", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    struct executor_event ev;

    new_id(id);
    ev = run_to_end(f, id, argv);
    assert_true(ev.has_exit_code);
    assert_int_equal(ev.exit_code, 0);
    assert_false(ev.stopped);
    assert_false(ev.timed_out);
    assert_string_equal(ev.reason, "");
    sleep_ms(100);
    assert_int_equal(count_events(f, id, EXECUTOR_RUNNING), 1);
    assert_int_equal(count_events(f, id, EXECUTOR_EXITED), 1);
    assert_int_equal(count_events(f, id, EXECUTOR_LOST), 0);
}

static void test_exit_code(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"/bin/sh", "-c", "exit 3", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    struct executor_event ev;

    new_id(id);
    ev = run_to_end(f, id, argv);
    assert_true(ev.has_exit_code);
    assert_int_equal(ev.exit_code, 3);
    assert_false(ev.stopped);
}

/* Events carry the times the supervisor recorded: when the command started
 * and when it ended (ccfd may read them long after, after a restart). */
static void test_event_times(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"/bin/sh", "-c", "sleep 0.3", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    const struct rec *r, *x;
    int64_t before = ccf_now_us(), after;

    new_id(id);
    assert_int_equal(submit(f, id, argv, 0), 0);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    after = ccf_now_us();
    r = wait_for(f, id, EXECUTOR_RUNNING, 0);
    assert_non_null(r);
    assert_true(r->ev.at_us >= before && r->ev.at_us <= x->ev.at_us);
    assert_true(x->ev.at_us - r->ev.at_us >= 250000);
    assert_true(x->ev.at_us <= after);
}

static void test_killed_by_signal(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    struct executor_event ev;

    new_id(id);
    ev = run_to_end(f, id, argv);
    assert_true(ev.has_exit_code);
    assert_int_equal(ev.exit_code, 137);
}

/* The group member that ignores SIGTERM proves the final SIGKILL to the group. */
static void test_cancel(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"/bin/sh", "-c", "(trap '' TERM; sleep 100) & exec sleep 100", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    const struct rec *x;
    int64_t t0;
    pid_t pgid;

    new_id(id);
    assert_int_equal(submit(f, id, argv, 0), 0);
    assert_non_null(wait_for(f, id, EXECUTOR_RUNNING, WAIT_MS));
    pgid = read_job_pid(f, id, "running", "pgid");
    sleep_ms(100); /* let the background member start */
    assert_false(group_gone(pgid));
    t0 = now_ns();
    assert_int_equal(executor_cancel(f->e, id), 0);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    assert_true(x->at_ns - t0 < 1500000000LL); /* well within the 2 s grace */
    assert_true(x->ev.stopped);
    assert_false(x->ev.timed_out);
    assert_true(x->ev.has_exit_code);
    assert_int_equal(x->ev.exit_code, 128 + SIGTERM);
    assert_true(group_gone(pgid));
    /* Cancelling what ended, or what never was, is nothing to do. */
    assert_int_equal(executor_cancel(f->e, id), 0);
    new_id(id);
    assert_int_equal(executor_cancel(f->e, id), 0);
    assert_int_equal(executor_cancel(f->e, "../etc"), CCF_EINVAL);
}

static void test_cancel_term_ignored(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"/bin/sh", "-c", "trap '' TERM; echo ready; sleep 100", NULL};
    char id[CCF_JOB_ID_LEN + 1], buf[16];
    const struct rec *x;
    int64_t t0, took, size, dropped;
    pid_t pgid;
    int n = 0;

    executor_close(f->e);
    assert_int_equal(fx_open(f, 1, 0), 0);
    new_id(id);
    assert_int_equal(submit(f, id, argv, 0), 0);
    assert_non_null(wait_for(f, id, EXECUTOR_RUNNING, WAIT_MS));
    /* Cancel only once the shell ignores TERM: before its trap, TERM kills it. */
    for (int i = 0; i < WAIT_MS / 10 && n < 6; i++) {
        n = executor_read_log(f->e, id, 0, buf, sizeof(buf), &size, &dropped);
        if (n < 6)
            usleep(10000);
    }
    assert_int_equal(n, 6);
    assert_memory_equal(buf, "ready\n", 6);
    pgid = read_job_pid(f, id, "running", "pgid");
    t0 = now_ns();
    assert_int_equal(executor_cancel(f->e, id), 0);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    took = x->at_ns - t0;
    assert_true(took >= 900000000LL && took < 3000000000LL);
    assert_true(x->ev.stopped);
    assert_int_equal(x->ev.exit_code, 128 + SIGKILL);
    assert_true(group_gone(pgid));
}

/* A stop that arrives while the supervisor is still starting is not lost. */
static void test_cancel_at_once(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"sleep", "100", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    const struct rec *x;

    for (int i = 0; i < 5; i++) {
        new_id(id);
        assert_int_equal(submit(f, id, argv, 0), 0);
        assert_int_equal(executor_cancel(f->e, id), 0);
        x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
        assert_non_null(x);
        assert_true(x->ev.stopped);
    }
}

static void test_timeout(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"sleep", "30", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    const struct rec *r, *x;
    int64_t took;

    new_id(id);
    assert_int_equal(submit(f, id, argv, 1), 0);
    r = wait_for(f, id, EXECUTOR_RUNNING, WAIT_MS);
    assert_non_null(r);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    took = x->at_ns - r->at_ns;
    assert_true(took >= 900000000LL && took < 2500000000LL);
    assert_true(x->ev.timed_out);
    assert_false(x->ev.stopped);
    assert_int_equal(x->ev.exit_code, 128 + SIGTERM);
}

static void test_not_found(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"no-such-command-ccf", "x", NULL};
    const char *abs_argv[] = {"/nonexistent/tool", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    const struct rec *x;

    new_id(id);
    assert_int_equal(submit(f, id, argv, 0), 0);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    assert_true(x->ev.has_exit_code);
    assert_int_equal(x->ev.exit_code, 127);
    assert_string_equal(x->ev.reason, "cannot run no-such-command-ccf: No such file or directory");
    assert_int_equal(count_events(f, id, EXECUTOR_RUNNING), 0);

    new_id(id);
    assert_int_equal(submit(f, id, abs_argv, 0), 0);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    assert_int_equal(x->ev.exit_code, 127);
    assert_non_null(strstr(x->ev.reason, "cannot run /nonexistent/tool"));
}

/* ---- latency (printed, not asserted) ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_latency(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"sleep", "100", NULL};
    int64_t start[20], stop[20];
    char id[CCF_JOB_ID_LEN + 1];
    const struct rec *r;

    for (int i = 0; i < 20; i++) {
        int64_t t0;
        new_id(id);
        t0 = now_ns();
        assert_int_equal(submit(f, id, argv, 0), 0);
        r = wait_for(f, id, EXECUTOR_RUNNING, WAIT_MS);
        assert_non_null(r);
        start[i] = r->at_ns - t0;
        t0 = now_ns();
        assert_int_equal(executor_cancel(f->e, id), 0);
        r = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
        assert_non_null(r);
        stop[i] = r->at_ns - t0;
    }
    qsort(start, 20, sizeof(start[0]), cmp_i64);
    qsort(stop, 20, sizeof(stop[0]), cmp_i64);
    printf("executor latency (median of 20): submit->RUNNING %.2f ms, cancel->EXITED %.2f ms\n",
           (double)(start[9] + start[10]) / 2e6, (double)(stop[9] + stop[10]) / 2e6);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exit_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_by_signal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_term_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latency, setup, teardown),
    };
    int rc;

    if (exec_fx_main(argc, argv, &rc))
        return rc;
    return cmocka_run_group_tests_name("executor-ends", tests, NULL, NULL);
}
